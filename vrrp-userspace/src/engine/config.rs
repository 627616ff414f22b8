//! What one VRRP instance needs to know to run: the engine's own view of a `vrrp_instance`
//! block, with keepalived's defaults, plus the facts the IO shell learns about the interface.
//!
//! [`InstanceSettings`] is the plain description (what the daemon's resolve step and the tests
//! fill in); [`InstanceConfig::new`] checks it once - families, authentication, that every
//! advert can be built - so a running instance never meets an inconsistent configuration.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::protocol::{Auth, ChecksumMode, Family, Priority, Version, Vrid};

/// VRRP version and address family together: RFC 3768 (v2) exists for IPv4 only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavor {
    V2Ipv4,
    V3Ipv4,
    V3Ipv6,
}

impl Flavor {
    /// The flavor for a version and family; `None` for VRRPv2 over IPv6.
    pub fn new(version: Version, family: Family) -> Option<Self> {
        match (version, family) {
            (Version::V2, Family::Ipv4) => Some(Self::V2Ipv4),
            (Version::V3, Family::Ipv4) => Some(Self::V3Ipv4),
            (Version::V3, Family::Ipv6) => Some(Self::V3Ipv6),
            (Version::V2, Family::Ipv6) => None,
        }
    }

    pub fn version(self) -> Version {
        match self {
            Self::V2Ipv4 => Version::V2,
            Self::V3Ipv4 | Self::V3Ipv6 => Version::V3,
        }
    }

    pub fn family(self) -> Family {
        match self {
            Self::V2Ipv4 | Self::V3Ipv4 => Family::Ipv4,
            Self::V3Ipv6 => Family::Ipv6,
        }
    }
}

/// An Ethernet address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// RFC 5798 section 7.3: 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6.
    pub fn virtual_router(family: Family, vrid: Vrid) -> Self {
        let family_byte = match family {
            Family::Ipv4 => 1,
            Family::Ipv6 => 2,
        };
        Self([0x00, 0x00, 0x5e, 0x00, family_byte, vrid.0])
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// Gratuitous ARP / unsolicited NA schedule (keepalived's `garp_*` keywords).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GarpConfig {
    /// Copies of each announcement sent on becoming master (`garp_master_repeat`, 5).
    pub master_repeat: u32,
    /// Delay of the second burst after becoming master; `None` = no second burst
    /// (`garp_master_delay`, 5 s; 0 disables).
    #[serde(with = "super::serde_formats::millis_option")]
    pub master_delay: Option<Duration>,
    /// Period of refresh bursts while master; `None` = off (`garp_master_refresh`, 0).
    #[serde(with = "super::serde_formats::millis_option")]
    pub master_refresh: Option<Duration>,
    /// Copies per refresh (`garp_master_refresh_repeat`, 1).
    pub master_refresh_repeat: u32,
    /// Copies sent at once when a master hears a lower-priority advert
    /// (`garp_lower_prio_repeat`, default `garp_master_repeat`).
    pub lower_prio_repeat: u32,
    /// Delay of the second burst after a lower-priority advert (`garp_lower_prio_delay`,
    /// default `garp_master_delay`); `None` = no second burst.
    #[serde(with = "super::serde_formats::millis_option")]
    pub lower_prio_delay: Option<Duration>,
    /// Gap between packets of a burst (`garp_interval` / `gna_interval`, 0).
    #[serde(with = "super::serde_formats::millis")]
    pub interval: Duration,
}

impl Default for GarpConfig {
    fn default() -> Self {
        Self {
            master_repeat: 5,
            master_delay: Some(Duration::from_secs(5)),
            master_refresh: None,
            master_refresh_repeat: 1,
            lower_prio_repeat: 5,
            lower_prio_delay: Some(Duration::from_secs(5)),
            interval: Duration::ZERO,
        }
    }
}

/// Identifies a tracked object (a `vrrp_script`, an interface, a `track_file`, a process) across
/// every instance that tracks it; the daemon's resolve step hands them out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrackerId(pub u32);

/// What a tracker watches; scripts count consecutive results (`rise`, `fall`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackerKind {
    Interface,
    Script {
        rise: u32,
        fall: u32,
        init_fail: bool,
    },
    File,
    Process,
}

/// One `track_*` entry of an instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerConfig {
    pub id: TrackerId,
    pub kind: TrackerKind,
    /// -253..=253; 0 means "FAULT while failed".
    pub weight: i32,
    /// keepalived's `reverse`: with a weight, the weight is negated; with weight 0, FAULT while
    /// the tracked object is up instead of down.
    pub reverse: bool,
}

/// One address to announce, on the link it lives on, from that link's MAC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announced {
    pub addr: IpAddr,
    /// The interface index the announcement goes out of (an opaque number to the engine).
    pub ifindex: u32,
    pub mac: MacAddr,
}

/// An interface as the engine knows it: an opaque index and its MAC address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkAddr {
    pub ifindex: u32,
    pub mac: MacAddr,
}

/// Where adverts go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Destination {
    /// The VRRP group (224.0.0.18, ff02::12, or `mcast_dst_ip`), TTL / hop limit 255.
    Multicast { group: IpAddr },
    /// One copy to each `unicast_peer`, with `unicast_ttl` (keepalived: 255).
    Unicast { peers: Vec<IpAddr>, ttl: u8 },
}

/// keepalived's `state` keyword: what the router wishes at startup, not a state it enters
/// (every instance starts as BACKUP unless it owns the addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InitialState {
    Master,
    Backup,
}

/// One VRRP instance as the daemon's resolve step (or a test) describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSettings {
    pub name: String,
    pub vrid: Vrid,
    pub flavor: Flavor,
    /// Configured priority; 255 = address owner, never adjusted by trackers.
    pub priority: Priority,
    /// keepalived's `state`; `None` when the keyword is missing, and keepalived then derives
    /// the wish from the priority: MASTER for an address owner (vrrp_complete_instance). Only
    /// an owner that wishes MASTER becomes master at once; `state BACKUP` makes even an owner
    /// wait Master_Down_Interval, and `state MASTER` alone changes nothing for others.
    #[serde(default)]
    pub initial_state: Option<InitialState>,
    #[serde(with = "super::serde_formats::millis")]
    pub advert_interval: Duration,
    pub preempt: bool,
    /// Lower-priority masters are tolerated this long after the first is heard.
    #[serde(with = "super::serde_formats::millis")]
    pub preempt_delay: Duration,
    /// The addresses adverts carry (`virtual_ipaddress` of the instance's family).
    pub advertised: Vec<IpAddr>,
    /// The addresses announced by gratuitous ARP / unsolicited NA on becoming master: every
    /// virtual address, excluded ones included (keepalived announces both lists).
    pub announced: Vec<Announced>,
    /// Advert source: `unicast_src_ip` / `mcast_src_ip`, else the interface's primary address
    /// (IPv6: its link-local address); `None` while the interface has none (FAULT).
    pub source: Option<IpAddr>,
    pub destination: Destination,
    /// The MAC multicast adverts are sent from: the interface's own, or the virtual router MAC
    /// with `use_vmac` (keepalived sends from the interface MAC otherwise).
    pub advert_mac: MacAddr,
    /// The instance's interface (the one under the VMAC with `use_vmac`): a unicast instance
    /// announces its source address there when it leaves FAULT. `None`: no announcement.
    #[serde(default)]
    pub base_link: Option<LinkAddr>,
    pub auth: Auth,
    pub checksum: ChecksumMode,
    /// Missed adverts before the master is declared down (`down_timer_adverts`, 3).
    pub down_timer_adverts: u32,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    /// Set the Router flag in unsolicited NAs (the host forwards IPv6).
    pub ipv6_forwarding: bool,
    pub garp: GarpConfig,
    pub trackers: Vec<TrackerConfig>,
    /// Report priority changes (`notify_priority_changes`).
    pub notify_priority_changes: bool,
}

impl InstanceSettings {
    /// An IPv4 multicast instance with keepalived's defaults: VRRPv2, preempt, no
    /// authentication, adverts every second, priority 100, to 224.0.0.18.
    pub fn new(name: &str, vrid: u8, source: IpAddr, advert_mac: MacAddr) -> Self {
        let family = Family::of(&source);
        let (flavor, group) = match family {
            Family::Ipv4 => (
                Flavor::V2Ipv4,
                IpAddr::from(vrrp_common::proto::MCAST_GROUP_V4),
            ),
            Family::Ipv6 => (
                Flavor::V3Ipv6,
                IpAddr::from(vrrp_common::proto::MCAST_GROUP_V6),
            ),
        };
        Self {
            name: name.to_owned(),
            vrid: Vrid(vrid),
            flavor,
            priority: Priority(100),
            initial_state: None,
            advert_interval: Duration::from_secs(1),
            preempt: true,
            preempt_delay: Duration::ZERO,
            advertised: Vec::new(),
            announced: Vec::new(),
            source: Some(source),
            destination: Destination::Multicast { group },
            advert_mac,
            base_link: None,
            auth: Auth::None,
            checksum: ChecksumMode::Rfc,
            down_timer_adverts: 3,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            ipv6_forwarding: false,
            garp: GarpConfig::default(),
            trackers: Vec::new(),
            notify_priority_changes: false,
        }
    }
}

/// Why [`InstanceConfig::new`] refused a description. Each names the field to change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InstanceConfigError {
    #[error("advert source {src} is not an {} address, as a {flavor:?} instance needs", flavor.family().name())]
    SourceFamily { src: IpAddr, flavor: Flavor },
    #[error("{what} {addr} is not an {} address, as a {flavor:?} instance needs", flavor.family().name())]
    MixedFamilies {
        what: &'static str,
        addr: IpAddr,
        flavor: Flavor,
    },
    #[error("unicast instance without unicast peers: it could not send a single advert")]
    NoPeers,
    #[error("VRRPv3 has no authentication (RFC 5798 removed it); remove the authentication block")]
    AuthenticationWithV3,
    #[error("advert_int {interval:?} cannot be carried by VRRP{version} (v2: 1..255 s, v3: 10 ms..40.95 s)", version = flavor.version().number())]
    Interval { interval: Duration, flavor: Flavor },
    #[error("{count} virtual addresses do not fit one advert (at most 255)")]
    TooManyAddresses { count: usize },
    #[error("down_timer_adverts must be at least 1")]
    DownTimerAdverts,
}

/// A checked [`InstanceSettings`]: every advert this instance will ever send can be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceConfig {
    settings: InstanceSettings,
}

impl InstanceConfig {
    pub fn new(settings: InstanceSettings) -> Result<Self, InstanceConfigError> {
        let flavor = settings.flavor;
        if let Some(source) = settings.source {
            check_source(source, flavor)?;
        }
        let same_family = |what: &'static str, addr: &IpAddr| {
            if Family::of(addr) == flavor.family() {
                Ok(())
            } else {
                Err(InstanceConfigError::MixedFamilies {
                    what,
                    addr: *addr,
                    flavor,
                })
            }
        };
        for addr in &settings.advertised {
            same_family("virtual address", addr)?;
        }
        match &settings.destination {
            Destination::Multicast { group } => same_family("multicast group", group)?,
            Destination::Unicast { peers, .. } => {
                if peers.is_empty() {
                    return Err(InstanceConfigError::NoPeers);
                }
                for peer in peers {
                    same_family("unicast peer", peer)?;
                }
            }
        }
        if flavor.version() == Version::V3 && settings.auth != Auth::None {
            return Err(InstanceConfigError::AuthenticationWithV3);
        }
        let interval = settings.advert_interval;
        let encodable = match flavor.version() {
            Version::V2 => interval.subsec_nanos() == 0 && (1..=255).contains(&interval.as_secs()),
            Version::V3 => {
                interval.as_nanos().is_multiple_of(10_000_000)
                    && (10_000_000..=40_950_000_000).contains(&interval.as_nanos())
            }
        };
        if !encodable {
            return Err(InstanceConfigError::Interval { interval, flavor });
        }
        if settings.advertised.len() > 255 {
            return Err(InstanceConfigError::TooManyAddresses {
                count: settings.advertised.len(),
            });
        }
        if settings.down_timer_adverts == 0 {
            return Err(InstanceConfigError::DownTimerAdverts);
        }
        Ok(Self { settings })
    }

    pub fn settings(&self) -> &InstanceSettings {
        &self.settings
    }

    pub fn name(&self) -> &str {
        &self.settings.name
    }

    pub fn version(&self) -> Version {
        self.settings.flavor.version()
    }

    pub fn family(&self) -> Family {
        self.settings.flavor.family()
    }

    /// RFC 5798 section 5.2.4: priority 255 is reserved for the router that owns the addresses.
    pub fn is_owner(&self) -> bool {
        self.settings.priority.0 == 255
    }

    /// keepalived's initial `wantstate == MASTER`: `state MASTER`, or no `state` keyword and
    /// priority 255 (vrrp_complete_instance).
    pub fn wishes_master(&self) -> bool {
        match self.settings.initial_state {
            Some(InitialState::Master) => true,
            Some(InitialState::Backup) => false,
            None => self.is_owner(),
        }
    }
}

/// An advert source must have the instance's family (checked again when the interface's
/// address changes at run time).
pub fn check_source(source: IpAddr, flavor: Flavor) -> Result<(), InstanceConfigError> {
    if Family::of(&source) == flavor.family() {
        Ok(())
    } else {
        Err(InstanceConfigError::SourceFamily {
            src: source,
            flavor,
        })
    }
}

impl std::ops::Deref for InstanceConfig {
    type Target = InstanceSettings;

    fn deref(&self) -> &InstanceSettings {
        &self.settings
    }
}
