//! The one step from a configuration to everything the running daemon needs: config model +
//! host facts -> engine instance configs (checked once), the receive path's expectations,
//! the addresses to manage, and id tables (instances, trackers, interfaces). Pure: the daemon
//! gathers [`HostFacts`] first, tests make them up.

use std::net::IpAddr;
use std::time::Duration;

use super::host::{HostFacts, HostInterface};
use super::tracking::{InstanceTracking, TrackerTable, rule_interfaces};
use super::vmac;
use crate::config::model::{self, Authentication, Broadcast, Config, VrrpInstance};
use crate::config::values::IpPrefix;
use crate::engine::{
    Announced, Destination, Flavor, GarpConfig, InitialState, InstanceConfig, InstanceConfigError,
    InstanceId, InstanceSettings, LinkAddr, MacAddr, SyncGroupConfig, TrackerId,
};
use crate::protocol::{Auth, ChecksumMode, Family, Version, Vrid};

/// Why a configuration cannot run on this host. Each names the instance and what to change.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("nothing to run: the configuration has no valid vrrp_instance")]
    NothingToRun,
    #[error("{reason}: keepalived refuses to start with this configuration, and so does xvrrpd")]
    KeepalivedRefuses { reason: String },
    #[error(
        "{instance}: interface {iface} does not exist in this network namespace (keepalived refuses to start too: \"Non-existent interface specified in configuration\")"
    )]
    UnknownInterface { instance: String, iface: String },
    #[error("{instance}: no interface; set `interface` (or `default_interface` in global_defs)")]
    NoInterface { instance: String },
    #[error("{instance}: {iface} is a loopback interface, which cannot carry VRRP")]
    Loopback { instance: String, iface: String },
    #[error("{instance}: {what} is not supported by xvrrpd; {hint}")]
    Unsupported {
        instance: String,
        what: &'static str,
        hint: &'static str,
    },
    #[error(
        "{instance}: the VMAC interface {iface} was not created; it must exist before resolving"
    )]
    MissingVmac { instance: String, iface: String },
    #[error("{instance}: {source}")]
    Engine {
        instance: String,
        #[source]
        source: InstanceConfigError,
    },
    #[error("{instance}: {kind} {name} is not defined")]
    UnknownTracker {
        instance: String,
        kind: &'static str,
        name: String,
    },
    #[error("sync group {group}: member {member} is not a configured instance")]
    UnknownMember { group: String, member: String },
}

/// An interface by name and index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LinkRef {
    pub name: String,
    pub ifindex: u32,
}

/// Where adverts come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceRule {
    /// `unicast_src_ip` / `mcast_src_ip`.
    Configured(IpAddr),
    /// The interface's primary IPv4 or link-local IPv6 address, followed as it changes.
    Interface,
}

/// A unicast peer and the TTL window its adverts must arrive with (keepalived's per-peer
/// `min_ttl`/`max_ttl`, 0..=255 by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerWindow {
    pub addr: IpAddr,
    pub min_ttl: u8,
    pub max_ttl: u8,
}

/// How adverts for an instance arrive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiveMode {
    /// To this group on the instance's interface.
    Multicast { group: IpAddr },
    /// To our own unicast address (the advert source), from these peers.
    Unicast {
        peers: Vec<PeerWindow>,
        /// `check_unicast_src` / `vrrp_check_unicast_src`: drop adverts from other sources.
        check_source: bool,
        checksum: UnicastChecksum,
    },
}

/// Which VRRPv3 IPv4 checksum unicast peers may use (keepalived's `old_unicast_checksum`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnicastChecksum {
    /// keepalived's default: the RFC form, or the pre-1.3.6 form (the multicast group in the
    /// pseudo-header) once a peer is heard using it.
    Auto,
    /// `old_unicast_checksum`: the pre-1.3.6 form.
    Old,
    /// `old_unicast_checksum never`: the RFC form only.
    Never,
}

/// What the receive path must check adverts for this instance against (keepalived's
/// `vrrp_check_packet`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiveSpec {
    pub ifindex: u32,
    pub family: Family,
    pub vrid: Vrid,
    pub version: Version,
    pub mode: ReceiveMode,
    pub auth: Auth,
    /// v2 adverts must carry exactly this interval.
    pub advert_interval: Duration,
    pub checksum: ChecksumMode,
    /// The addresses a valid advert carries (checked unless `skip_check_adv_addr` and the
    /// advert comes from the current master).
    pub vips: Vec<IpAddr>,
    pub skip_check_adv_addr: bool,
    /// The global `vrrp_mcast_group4`, which the pre-1.3.6 unicast checksum puts in the
    /// pseudo-header.
    pub mcast_group4: std::net::Ipv4Addr,
}

/// One address the instance adds while master, with its `ip addr` options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedAddress {
    pub prefix: IpPrefix,
    pub link: LinkRef,
    pub broadcast: Option<IpAddr>,
    /// `RT_SCOPE_*` number (0 universe, 200 site, 253 link, 254 host).
    pub scope: u8,
    pub label: Option<String>,
    pub peer: Option<IpPrefix>,
    pub home: bool,
    pub nodad: bool,
    pub mngtmpaddr: bool,
    pub noprefixroute: bool,
    pub autojoin: bool,
    /// Seconds; `None` = forever.
    pub preferred_lft: Option<u32>,
    /// From `virtual_ipaddress_excluded`: managed and announced, not advertised.
    pub excluded: bool,
}

/// The macvlan keepalived's `use_vmac` creates: the virtual router MAC on top of the
/// instance's interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmacPlan {
    pub name: String,
    pub base: LinkRef,
    pub mac: MacAddr,
    /// `vmac_xmit_base`: adverts leave from the base interface and its MAC.
    pub xmit_base: bool,
}

/// Everything about one instance.
#[derive(Clone, Debug)]
pub struct ResolvedInstance {
    pub name: String,
    pub engine: InstanceConfig,
    /// The instance's own interface: adverts go out and come in here.
    pub link: LinkRef,
    pub source: SourceRule,
    pub receive: ReceiveSpec,
    pub addresses: Vec<PlannedAddress>,
    pub routes: Vec<model::Route>,
    pub rules: Vec<model::Rule>,
    pub vmac: Option<VmacPlan>,
    /// FAULT while the interface is down (keepalived's default; `dont_track_primary` turns it
    /// off).
    pub track_link: bool,
}

/// A `vrrp_script` to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptSpec {
    pub name: String,
    pub argv: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
}

/// Something an instance tracks, shared by every instance tracking it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackedObject {
    Interface(LinkRef),
    Script(ScriptSpec),
    File(String),
    Process(String),
}

impl TrackedObject {
    /// The interface, script, file or process name the configuration gives it.
    pub fn name(&self) -> &str {
        match self {
            TrackedObject::Interface(link) => &link.name,
            TrackedObject::Script(script) => &script.name,
            TrackedObject::File(name) | TrackedObject::Process(name) => name,
        }
    }

    /// The same object in two configurations (a reload carries what it said).
    pub fn same_object(&self, other: &TrackedObject) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other) && self.name() == other.name()
    }
}

/// The running configuration: indexes are [`InstanceId`]s and [`TrackerId`]s.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub instances: Vec<ResolvedInstance>,
    pub sync_groups: Vec<SyncGroupConfig>,
    pub trackers: Vec<TrackedObject>,
    /// Problems that do not stop the daemon, to log at startup.
    pub warnings: Vec<String>,
}

impl Resolved {
    /// Every interface carrying an instance (where the XDP program goes), each once.
    pub fn links(&self) -> Vec<LinkRef> {
        let mut links: Vec<LinkRef> = self.instances.iter().map(|i| i.link.clone()).collect();
        links.sort();
        links.dedup();
        links
    }

    pub fn instance(&self, id: InstanceId) -> &ResolvedInstance {
        &self.instances[id.0]
    }

    /// The name of a tracked object, for logs.
    pub fn tracker_name(&self, id: TrackerId) -> &str {
        self.trackers[id.0 as usize].name()
    }
}

/// Resolves every instance of `config` against `host`.
pub fn resolve(config: &Config, host: &HostFacts) -> Result<Resolved, ResolveError> {
    if let Some(reason) = config.refusals.first() {
        return Err(ResolveError::KeepalivedRefuses {
            reason: reason.clone(),
        });
    }
    if config.instances.is_empty() {
        return Err(ResolveError::NothingToRun);
    }
    let mut trackers = TrackerTable::default();
    let mut warnings = Vec::new();
    let vmac_names = vmac::names(config, host);
    let instances = config
        .instances
        .iter()
        .zip(vmac_names)
        .map(|(instance, vmac_name)| {
            resolve_instance(
                config,
                host,
                instance,
                vmac_name,
                &mut trackers,
                &mut warnings,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sync_groups = config
        .sync_groups
        .iter()
        .map(|group| {
            let members = group
                .members
                .iter()
                .map(|member| {
                    instances
                        .iter()
                        .position(|i| i.name == member.name)
                        .map(InstanceId)
                        .ok_or_else(|| ResolveError::UnknownMember {
                            group: group.name.clone(),
                            member: member.name.clone(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(SyncGroupConfig {
                name: group.name.clone(),
                members,
            })
        })
        .collect::<Result<Vec<_>, ResolveError>>()?;
    Ok(Resolved {
        instances,
        sync_groups,
        trackers: trackers.objects,
        warnings,
    })
}

fn resolve_instance(
    config: &Config,
    host: &HostFacts,
    instance: &VrrpInstance,
    vmac_name: Option<String>,
    trackers: &mut TrackerTable,
    warnings: &mut Vec<String>,
) -> Result<ResolvedInstance, ResolveError> {
    let name = instance.name.clone();
    let iface_name = instance
        .interface
        .as_ref()
        .or(config.global.default_interface.as_ref())
        .ok_or_else(|| ResolveError::NoInterface {
            instance: name.clone(),
        })?;
    let iface = host_interface(host, &name, iface_name.as_str())?;
    let link = LinkRef {
        name: iface.name.clone(),
        ifindex: iface.ifindex,
    };
    let family = instance.family;
    let flavor = Flavor::new(instance.version, family).unwrap_or(Flavor::V3Ipv6);
    let ipv6 = family == Family::Ipv6;

    let auth = match (&instance.authentication, flavor.version()) {
        (Some(Authentication::Ah(_)), _) => {
            return Err(ResolveError::Unsupported {
                instance: name,
                what: "auth_type AH (IPsec Authentication Header)",
                hint: "use auth_type PASS or no authentication (RFC 5798 removed both)",
            });
        }
        (Some(Authentication::Pass(password)), Version::V2) => Auth::pass(password),
        (Some(_), Version::V3) => {
            warnings.push(format!(
                "{name}: VRRPv3 has no authentication; the authentication block is ignored"
            ));
            Auth::None
        }
        (None, _) => Auth::None,
    };

    let configured_source = instance.unicast.src_ip.or(instance.mcast_src_ip);
    let source = match configured_source {
        Some(addr) => SourceRule::Configured(addr),
        None => SourceRule::Interface,
    };
    let source_now = configured_source.or_else(|| iface.source_address(ipv6));
    if source_now.is_none() {
        warnings.push(format!(
            "{name}: {} has no {} address to send adverts from; FAULT until it gets one",
            iface.name,
            if ipv6 { "link-local IPv6" } else { "IPv4" }
        ));
    }

    let unicast = !instance.unicast.peers.is_empty();
    if unicast && instance.unicast.old_checksum == Some(true) {
        warnings.push(format!(
            "{name}: old_unicast_checksum (keepalived <= 1.3.6's VRRPv3 unicast checksum) is not supported; adverts carry the RFC 5798 checksum"
        ));
    }
    let destination = if unicast {
        Destination::Unicast {
            peers: instance.unicast.peers.iter().map(|p| p.address).collect(),
            // keepalived sets the IPv4 TTL to 255, but leaves IPv6's hop limit to the kernel
            // (the interface's hop_limit, 64 by default) unless unicast_ttl is given.
            ttl: instance
                .unicast
                .ttl
                .unwrap_or(if ipv6 { iface.ipv6_hop_limit } else { 255 }),
        }
    } else {
        let group = instance.mcast_dst_ip.unwrap_or(if ipv6 {
            IpAddr::V6(config.global.vrrp_mcast_group6)
        } else {
            IpAddr::V4(config.global.vrrp_mcast_group4)
        });
        Destination::Multicast { group }
    };

    let vmac = match (&instance.vmac, vmac_name) {
        (Some(settings), Some(vmac_iface)) => {
            let Some(created) = host.interface(&vmac_iface) else {
                return Err(ResolveError::MissingVmac {
                    instance: name,
                    iface: vmac_iface,
                });
            };
            Some((
                VmacPlan {
                    name: vmac_iface,
                    base: link.clone(),
                    mac: vmac::mac(instance),
                    xmit_base: settings.xmit_base,
                },
                created,
            ))
        }
        _ => None,
    };
    let advert_mac = match &vmac {
        Some((plan, _)) if !plan.xmit_base => plan.mac,
        _ => iface.mac,
    };

    let addresses = plan_addresses(host, instance, iface, vmac.as_ref().map(|(_, i)| *i))?;
    let advertised: Vec<IpAddr> = addresses
        .iter()
        .filter(|a| !a.excluded && Family::of(&a.prefix.addr) == family)
        .map(|a| a.prefix.addr)
        .collect();
    let announced = addresses
        .iter()
        .filter_map(|a| {
            let on = host.by_index(a.link.ifindex)?;
            let mac = match &vmac {
                Some((plan, created)) if created.ifindex == on.ifindex => plan.mac,
                _ => on.mac,
            };
            Some(Announced {
                addr: a.prefix.addr,
                ifindex: on.ifindex,
                mac,
            })
        })
        .collect();

    let checksum = if flavor == Flavor::V3Ipv4 && config.global.v3_checksum_as_v2 {
        ChecksumMode::AsV2
    } else {
        ChecksumMode::Rfc
    };
    let strict = instance.strict_mode;
    let mut garp = garp_config(&instance.garp, &config.global.instance_defaults.garp, ipv6);
    let mut lower_prio_no_advert = instance.lower_prio_no_advert;
    if strict {
        // keepalived's strict mode: no repeated announcements, no answer to a lower master.
        garp.lower_prio_repeat = 0;
        garp.lower_prio_delay = None;
        lower_prio_no_advert = true;
    }

    // keepalived refuses to start when a route or rule names an interface that does not
    // exist ("Non-existent interface specified in configuration"), no_track or not.
    for dev in instance
        .virtual_routes
        .iter()
        .filter_map(|r| r.dev.as_ref().map(|d| d.as_str()))
        .chain(instance.virtual_rules.iter().flat_map(rule_interfaces))
    {
        host_interface(host, &name, dev)?;
    }
    let own: Vec<&str> = std::iter::once(iface.name.as_str())
        .chain(vmac.as_ref().map(|(plan, _)| plan.name.as_str()))
        .collect();
    let tracker_configs = InstanceTracking {
        config,
        host,
        instance,
        own: &own,
    }
    .resolve(trackers, warnings)?;

    let settings = InstanceSettings {
        name: name.clone(),
        vrid: instance.vrid,
        flavor,
        priority: instance.priority,
        initial_state: instance.state.map(|state| match state {
            model::InitialState::Master => InitialState::Master,
            model::InitialState::Backup => InitialState::Backup,
        }),
        advert_interval: instance.advert_int,
        preempt: instance.preempt,
        preempt_delay: instance.preempt_delay,
        advertised: advertised.clone(),
        announced,
        source: source_now,
        destination,
        advert_mac,
        base_link: Some(LinkAddr {
            ifindex: iface.ifindex,
            mac: iface.mac,
        }),
        auth,
        checksum,
        down_timer_adverts: instance.down_timer_adverts,
        lower_prio_no_advert,
        higher_prio_send_advert: instance.higher_prio_send_advert,
        ipv6_forwarding: iface.ipv6_forwarding,
        garp,
        trackers: tracker_configs,
        notify_priority_changes: instance.notify_priority_changes,
    };
    let engine = InstanceConfig::new(settings).map_err(|source| ResolveError::Engine {
        instance: name.clone(),
        source,
    })?;

    let mode = if unicast {
        ReceiveMode::Unicast {
            peers: instance
                .unicast
                .peers
                .iter()
                .map(|p| PeerWindow {
                    addr: p.address,
                    min_ttl: p.min_ttl.unwrap_or(0),
                    max_ttl: p.max_ttl.unwrap_or(255),
                })
                .collect(),
            check_source: instance.unicast.check_unicast_src
                || config.global.vrrp_check_unicast_src,
            checksum: match instance.unicast.old_checksum {
                None => UnicastChecksum::Auto,
                Some(true) => UnicastChecksum::Old,
                Some(false) => UnicastChecksum::Never,
            },
        }
    } else {
        let Destination::Multicast { group } = engine.destination else {
            unreachable!("multicast destination set above")
        };
        ReceiveMode::Multicast { group }
    };
    let receive = ReceiveSpec {
        ifindex: link.ifindex,
        family,
        vrid: instance.vrid,
        version: flavor.version(),
        mode,
        auth,
        advert_interval: instance.advert_int,
        checksum,
        vips: advertised,
        skip_check_adv_addr: instance.skip_check_adv_addr || config.global.vrrp_skip_check_adv_addr,
        mcast_group4: config.global.vrrp_mcast_group4,
    };

    Ok(ResolvedInstance {
        name,
        engine,
        link,
        source,
        receive,
        addresses,
        routes: instance.virtual_routes.clone(),
        rules: instance.virtual_rules.clone(),
        vmac: vmac.map(|(plan, _)| plan),
        track_link: !instance.dont_track_primary,
    })
}

pub(super) fn host_interface<'h>(
    host: &'h HostFacts,
    instance: &str,
    name: &str,
) -> Result<&'h HostInterface, ResolveError> {
    let iface = host
        .interface(name)
        .ok_or_else(|| ResolveError::UnknownInterface {
            instance: instance.to_owned(),
            iface: name.to_owned(),
        })?;
    if iface.loopback {
        return Err(ResolveError::Loopback {
            instance: instance.to_owned(),
            iface: name.to_owned(),
        });
    }
    Ok(iface)
}

/// keepalived's GARP settings as the engine takes them: zero means "off" for the delays and
/// the refresh. The lower-priority burst and its delay default to the *global*
/// `vrrp_garp_lower_prio_*`, and those to the global `vrrp_garp_master_repeat`/`_delay`
/// (vrrp_complete_init), not to the instance's own `garp_master_*` (seen with 2.2.7: an
/// instance with `garp_master_repeat 2` and `garp_master_delay 2` answers a lower priority
/// with 5 GARPs now and 5 more 5 s later).
fn garp_config(
    settings: &model::GarpSettings,
    global: &model::GarpSettings,
    ipv6: bool,
) -> GarpConfig {
    let nonzero = |d: Duration| (!d.is_zero()).then_some(d);
    GarpConfig {
        master_repeat: settings.master_repeat,
        master_delay: nonzero(settings.master_delay),
        master_refresh: nonzero(settings.master_refresh),
        master_refresh_repeat: settings.master_refresh_repeat,
        lower_prio_repeat: settings
            .lower_prio_repeat
            .or(global.lower_prio_repeat)
            .unwrap_or(global.master_repeat),
        lower_prio_delay: nonzero(
            settings
                .lower_prio_delay
                .or(global.lower_prio_delay)
                .unwrap_or(global.master_delay),
        ),
        interval: if ipv6 {
            settings.gna_interval
        } else {
            settings.garp_interval
        },
    }
}

/// The addresses an instance manages, on the interfaces keepalived would put them on: `dev`
/// if given, else the VMAC interface (same family) or the instance's interface.
fn plan_addresses(
    host: &HostFacts,
    instance: &VrrpInstance,
    iface: &HostInterface,
    vmac: Option<&HostInterface>,
) -> Result<Vec<PlannedAddress>, ResolveError> {
    let lists = [
        (&instance.virtual_ipaddress, false),
        (&instance.virtual_ipaddress_excluded, true),
    ];
    let mut planned = Vec::new();
    for (list, excluded) in lists {
        for address in list {
            let on = match &address.dev {
                // keepalived refuses to start: "Non-existent interface specified in
                // configuration" (verified with 2.2.7).
                Some(dev) if dev.as_str() != iface.name => {
                    host_interface(host, &instance.name, dev.as_str())?
                }
                _ => match vmac {
                    Some(vmac) if Family::of(&address.address.addr) == instance.family => vmac,
                    _ => iface,
                },
            };
            planned.push(PlannedAddress {
                prefix: address.address,
                link: LinkRef {
                    name: on.name.clone(),
                    ifindex: on.ifindex,
                },
                broadcast: broadcast_of(address),
                scope: address.scope.as_deref().map_or(0, scope_number),
                label: address.label.clone(),
                peer: address.peer,
                home: address.home,
                nodad: address.nodad,
                mngtmpaddr: address.mngtmpaddr,
                noprefixroute: address.noprefixroute,
                autojoin: address.autojoin,
                preferred_lft: address.preferred_lft,
                excluded,
            });
        }
    }
    Ok(planned)
}

fn broadcast_of(address: &model::VirtualAddress) -> Option<IpAddr> {
    match (&address.broadcast, address.address.addr) {
        (Some(Broadcast::Address(addr)), _) => Some(*addr),
        (Some(Broadcast::Derived), IpAddr::V4(addr)) => {
            let host_bits = 32 - u32::from(address.address.prefix_len);
            let mask = if host_bits >= 32 {
                u32::MAX
            } else {
                (1u32 << host_bits) - 1
            };
            Some(IpAddr::V4((u32::from(addr) | mask).into()))
        }
        _ => None,
    }
}

/// `ip addr`'s scope names (iproute2's rt_scopes).
pub fn scope_number(scope: &str) -> u8 {
    match scope {
        "global" | "universe" => 0,
        "site" => 200,
        "link" => 253,
        "host" => 254,
        "nowhere" => 255,
        number => number.parse().unwrap_or(0),
    }
}
