//! Settles each instance once the whole configuration is known (version, family, rounding,
//! defaults) and checks what keepalived does not: duplicate VRIDs, shared VIPs, references to
//! unknown instances and scripts, script security.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use super::diagnostic::{Diagnostics, Severity, Span};
use super::model::{Config, InitialState, TrackRef, VrrpInstance};
use super::parse::InstanceDraft;
use super::values::{InterfaceName, format_seconds};
use crate::protocol::{Family, Priority, Version};

/// Longest VRRPv2 interval: an 8-bit count of seconds (RFC 3768 5.3.7).
const V2_MAX_ADVERT: Duration = Duration::from_secs(255);
/// Longest VRRPv3 interval: a 12-bit count of centiseconds (RFC 5798 5.2.7).
const V3_MAX_ADVERT: Duration = Duration::from_millis(40_950);
const CENTISECOND: Duration = Duration::from_millis(10);

pub(super) fn finalize(
    config: &mut Config,
    drafts: Vec<InstanceDraft>,
    diagnostics: &mut Diagnostics,
) {
    let mut refusals = Vec::new();
    for draft in drafts {
        if let Some(instance) = settle_instance(config, draft, diagnostics, &mut refusals) {
            config.instances.push(instance);
        }
    }
    config.refusals.extend(refusals);
    check_duplicate_vrids(config, diagnostics);
    check_shared_addresses(config, diagnostics);
    check_sync_groups(config, diagnostics);
    check_tracking_references(config, diagnostics);
    check_script_security(config, diagnostics);
}

fn settle_instance(
    config: &Config,
    draft: InstanceDraft,
    diagnostics: &mut Diagnostics,
    refusals: &mut Vec<String>,
) -> Option<VrrpInstance> {
    let InstanceDraft {
        mut instance,
        name_span,
        ..
    } = draft;
    let name = instance.name.clone();
    if draft.vrid.is_none() {
        diagnostics
            .error(
                &name_span,
                format!(
                    "vrrp_instance {name} has no virtual_router_id; keepalived refuses to start"
                ),
            )
            .hint("add virtual_router_id 1..255, the same on every router of this group");
        // keepalived's chk_min_cfg: "the virtual router id must be set", and it exits.
        refusals.push(format!("vrrp_instance {name} has no virtual_router_id"));
        return None;
    }
    let global = &config.global;

    // The family: IPv6 when asked for, else that of the first VIP, else of the addresses used.
    let first_address = instance
        .virtual_ipaddress
        .first()
        .map(|v| v.address.addr)
        .or(instance.unicast.src_ip)
        .or(instance.mcast_src_ip)
        .or(instance.unicast.peers.first().map(|p| p.address));
    instance.family = if instance.native_ipv6 || first_address.is_some_and(|a| a.is_ipv6()) {
        Family::Ipv6
    } else {
        Family::Ipv4
    };
    let family_of = |addr: &IpAddr| {
        if addr.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        }
    };
    let family = instance.family;
    let mut kept_spans = Vec::new();
    let mut kept = Vec::new();
    for (vip, span) in instance.virtual_ipaddress.drain(..).zip(draft.vip_spans) {
        if family_of(&vip.address.addr) == family {
            kept.push(vip);
            kept_spans.push(span);
        } else {
            diagnostics
                .error(&span, format!("{} is not an {} address like the rest of {name}; it is ignored", vip.address.addr, family_name(family)))
                .hint("an instance advertises one family; put other addresses in virtual_ipaddress_excluded or a second instance");
        }
    }
    instance.virtual_ipaddress = kept;
    for peer in &instance.unicast.peers {
        if family_of(&peer.address) != family {
            diagnostics.error(
                draft.unicast_peer.as_ref().unwrap_or(&name_span),
                format!(
                    "unicast peer {} is not {} like {name}",
                    peer.address,
                    family_name(family)
                ),
            );
        }
    }

    // RFC 5798 has no VRRPv2 for IPv6; keepalived forces version 3.
    instance.version = match (draft.version, family) {
        (Some((Version::V2, span)), Family::Ipv6) => {
            diagnostics
                .error(
                    &span,
                    format!("{name} is IPv6, which VRRPv2 does not carry; using version 3"),
                )
                .hint("RFC 3768 (VRRPv2) is IPv4 only");
            Version::V3
        }
        (_, Family::Ipv6) => Version::V3,
        (Some((version, _)), _) => version,
        (None, Family::Ipv4) => global.vrrp_version,
    };

    // keepalived: `state MASTER` without a priority makes the router the address owner.
    instance.priority = match draft.priority {
        Some((priority, _)) => Priority(priority),
        None if instance.state == Some(InitialState::Master) => Priority(255),
        None => Priority(100),
    };

    instance.advert_int = settle_advert_int(&name, instance.version, draft.advert_int, diagnostics);

    if let Some(span) = &draft.authentication
        && instance.authentication.is_some()
    {
        if instance.version == Version::V3 {
            diagnostics
                .warning(
                    span,
                    format!(
                        "authentication is ignored: {name} uses VRRPv3, which has none (RFC 5798 9)"
                    ),
                )
                .hint("remove the authentication block or use version 2");
            instance.authentication = None;
        } else if instance.strict_mode {
            diagnostics.warning(
                span,
                "authentication is ignored in strict mode (RFC 5798 has none)",
            );
            instance.authentication = None;
        }
    }
    if instance.authentication == Some(super::model::Authentication::Ah)
        && instance.state == Some(InitialState::Master)
        && instance.priority != Priority(255)
    {
        diagnostics
            .warning(draft.state.as_ref().unwrap_or(&name_span), format!("{name} starts as BACKUP: initial state MASTER does not work with AH authentication"))
            .hint("keepalived clears the MASTER state the same way; use state BACKUP");
        instance.state = Some(InitialState::Backup);
    }
    if instance.strict_mode {
        if instance.state == Some(InitialState::Master) && instance.priority != Priority(255) {
            diagnostics
                .warning(
                    draft.state.as_ref().unwrap_or(&name_span),
                    format!("strict mode: {name} starts as BACKUP, MASTER needs priority 255"),
                )
                .hint("RFC 5798 6.4.1: only the address owner starts as master");
            instance.state = Some(InitialState::Backup);
        }
        if instance.state == Some(InitialState::Backup) && instance.priority == Priority(255) {
            diagnostics
                .warning(
                    draft.state.as_ref().unwrap_or(&name_span),
                    format!(
                        "strict mode: {name} owns its addresses (priority 255) and starts as MASTER"
                    ),
                )
                .hint("keepalived's strict mode makes the initial state match the address owner");
            instance.state = Some(InitialState::Master);
        }
        if !instance.unicast.peers.is_empty() {
            diagnostics
                .error(
                    draft.unicast_peer.as_ref().unwrap_or(&name_span),
                    format!("strict mode forbids unicast peers in {name}"),
                )
                .hint("remove vrrp_strict/strict_mode or the unicast_peer block");
        }
    }
    if let Some(span) = &draft.nopreempt
        && (instance.wishes_master() || instance.priority == Priority(255))
    {
        let why = if instance.priority == Priority(255) {
            "priority 255"
        } else {
            "initial state MASTER"
        };
        diagnostics
            .warning(span, format!("nopreempt does not work with {why}; {name} will preempt"))
            .hint("nopreempt needs 'state BACKUP' on every router (keepalived clears it the same way)");
        instance.preempt = true;
    }
    if let Some(span) = &draft.preempt_delay
        && !instance.preempt
    {
        diagnostics.warning(span, "preempt_delay has no effect with nopreempt");
    }
    // keepalived (vrrp_complete_instance) clears preempt_delay for an instance that wishes
    // MASTER at startup and in strict mode, and resets down_timer_adverts in strict mode.
    if let Some(span) = &draft.preempt_delay
        && !instance.preempt_delay.is_zero()
        && (instance.wishes_master() || instance.strict_mode)
    {
        let why = if instance.strict_mode {
            "strict mode"
        } else {
            "initial state MASTER"
        };
        diagnostics
            .warning(
                span,
                format!("preempt_delay does not work with {why}; {name} has none"),
            )
            .hint("keepalived clears it the same way");
        instance.preempt_delay = Duration::ZERO;
    }
    if instance.strict_mode && instance.down_timer_adverts != 3 {
        diagnostics
            .warning(
                &name_span,
                format!("strict mode: {name} uses down_timer_adverts 3 (RFC 5798 6.1)"),
            )
            .hint("keepalived resets it the same way in strict mode");
        instance.down_timer_adverts = 3;
    }
    if instance.interface.is_none() {
        if let Some(default) = &global.default_interface {
            instance.interface = Some(default.clone());
        } else if instance.unicast.peers.is_empty() {
            diagnostics
                .error(
                    &name_span,
                    format!("{name} has no interface; keepalived refuses to start"),
                )
                .hint("add 'interface IFNAME' (only unicast instances may omit it)");
            // keepalived's chk_min_cfg: "Unknown interface!", and it exits.
            refusals.push(format!("vrrp_instance {name} has no interface"));
            return None;
        }
    }
    // keepalived (vrrp_complete_instance): "No VIP specified; at least one is required" for
    // VRRPv3 and strict mode, and it exits (seen with 2.2.7).
    if instance.virtual_ipaddress.is_empty()
        && (instance.version == Version::V3 || instance.strict_mode)
    {
        let why = if instance.strict_mode {
            "strict mode"
        } else {
            "VRRPv3"
        };
        diagnostics
            .error(
                &name_span,
                format!("{name} has no virtual_ipaddress, which {why} requires; keepalived refuses to start"),
            )
            .hint("add the virtual_ipaddress block the adverts carry");
        refusals.push(format!(
            "vrrp_instance {name} has no virtual_ipaddress ({why})"
        ));
    }
    Some(instance)
}

fn settle_advert_int(
    name: &str,
    version: Version,
    configured: Option<(Duration, Span)>,
    diagnostics: &mut Diagnostics,
) -> Duration {
    let Some((interval, span)) = configured else {
        return Duration::from_secs(1);
    };
    match version {
        Version::V2 => {
            if interval > V2_MAX_ADVERT {
                diagnostics
                    .error(
                        &span,
                        format!(
                            "advert_int {} is out of range for VRRPv2 (1..255 s); using 1 second",
                            format_seconds(interval)
                        ),
                    )
                    .hint("VRRPv2 carries whole seconds in 8 bits (RFC 3768 5.3.7)");
                return Duration::from_secs(1);
            }
            let rounded =
                Duration::from_secs(((interval.as_micros() + 500_000) / 1_000_000).max(1) as u64);
            if rounded != interval {
                diagnostics
                    .warning(
                        &span,
                        format!(
                            "{name}: VRRPv2 advertises whole seconds; advert_int {} rounded to {}",
                            format_seconds(interval),
                            format_seconds(rounded)
                        ),
                    )
                    .hint("use 'version 3' for sub-second intervals");
            }
            rounded
        }
        Version::V3 => {
            if interval > V3_MAX_ADVERT {
                diagnostics
                    .error(&span, format!("advert_int {} is out of range for VRRPv3 (0.01..40.95 s); using 1 second", format_seconds(interval)))
                    .hint("VRRPv3 carries centiseconds in 12 bits (RFC 5798 5.2.7)");
                return Duration::from_secs(1);
            }
            let centis = ((interval.as_micros() + 5_000) / 10_000).max(1) as u32;
            let rounded = CENTISECOND * centis;
            if rounded != interval {
                diagnostics.warning(
                    &span,
                    format!(
                        "{name}: VRRPv3 advertises in 10 ms steps; advert_int {} rounded to {}",
                        format_seconds(interval),
                        format_seconds(rounded)
                    ),
                );
            }
            rounded
        }
    }
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::Ipv4 => "IPv4",
        Family::Ipv6 => "IPv6",
    }
}

/// Two instances with the same VRID and family on one interface answer each other's adverts.
fn check_duplicate_vrids(config: &Config, diagnostics: &mut Diagnostics) {
    let mut seen: HashMap<(&str, Family, u8), &VrrpInstance> = HashMap::new();
    for instance in &config.instances {
        let Some(interface) = instance.interface.as_ref().map(InterfaceName::as_str) else {
            continue;
        };
        let key = (interface, instance.family, instance.vrid.0);
        match seen.get(&key) {
            Some(first) => {
                let both_unicast =
                    !first.unicast.peers.is_empty() && !instance.unicast.peers.is_empty();
                let message = format!(
                    "VRID {} ({}) on {interface} is already used by {} at {}",
                    instance.vrid.0,
                    family_name(instance.family),
                    first.name,
                    first.defined_at
                );
                let diagnostic = if both_unicast {
                    diagnostics.warning(&instance.name_span, message)
                } else {
                    diagnostics.error(&instance.name_span, message)
                };
                diagnostic.hint(
                    "each instance on a link needs its own virtual_router_id (per address family)",
                );
            }
            None => {
                seen.insert(key, instance);
            }
        }
    }
}

/// A virtual address in two instances would be added by both masters.
fn check_shared_addresses(config: &Config, diagnostics: &mut Diagnostics) {
    let mut owners: HashMap<IpAddr, &VrrpInstance> = HashMap::new();
    for instance in &config.instances {
        for vip in instance
            .virtual_ipaddress
            .iter()
            .chain(&instance.virtual_ipaddress_excluded)
        {
            match owners.get(&vip.address.addr) {
                Some(owner) if owner.name != instance.name => {
                    diagnostics
                        .error(
                            &instance.name_span,
                            format!(
                                "virtual address {} is also in {} at {}",
                                vip.address.addr, owner.name, owner.defined_at
                            ),
                        )
                        .hint(
                            "two instances owning one address fight over it when both are master",
                        );
                }
                Some(_) => {}
                None => {
                    owners.insert(vip.address.addr, instance);
                }
            }
        }
    }
}

fn check_sync_groups(config: &mut Config, diagnostics: &mut Diagnostics) {
    let names: HashSet<String> = config.instances.iter().map(|i| i.name.clone()).collect();
    let mut membership: HashMap<String, String> = HashMap::new();
    for group in &mut config.sync_groups {
        let mut kept: Vec<TrackRef> = Vec::new();
        for member in group.members.drain(..) {
            let span = member.at.clone();
            let report = |diagnostics: &mut Diagnostics, message: String, hint: &str| match &span {
                Some(span) => {
                    diagnostics.error(span, message).hint(hint);
                }
                None => {
                    diagnostics.push(Severity::Error, None, message).hint(hint);
                }
            };
            if !names.contains(&member.name) {
                report(
                    diagnostics,
                    format!(
                        "vrrp_sync_group {} names unknown instance {}",
                        group.name, member.name
                    ),
                    "sync groups list vrrp_instance names; check the spelling",
                );
            } else if kept.iter().any(|k| k.name == member.name) {
                report(
                    diagnostics,
                    format!("{} is listed twice", member.name),
                    "list each instance once",
                );
            } else if let Some(other) = membership.get(&member.name) {
                report(
                    diagnostics,
                    format!("{} is already in vrrp_sync_group {other}", member.name),
                    "an instance can belong to one sync group only",
                );
            } else {
                membership.insert(member.name.clone(), group.name.clone());
                kept.push(member);
            }
        }
        group.members = kept;
    }
    // A group left without members is gone, as in keepalived.
    config.sync_groups.retain(|group| !group.members.is_empty());
    for group in &config.sync_groups {
        if group.members.len() == 1 {
            diagnostics.push(
                Severity::Warning,
                None,
                format!(
                    "vrrp_sync_group {} ({}) has a single member; it synchronises nothing",
                    group.name, group.defined_at
                ),
            );
        }
    }
}

fn check_tracking_references(config: &Config, diagnostics: &mut Diagnostics) {
    let script_names: HashSet<&str> = config.scripts.iter().map(|s| s.name.as_str()).collect();
    let file_names: HashSet<&str> = config.track_files.iter().map(|f| f.name.as_str()).collect();
    let process_names: HashSet<&str> = config
        .track_processes
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    let mut used_scripts: HashSet<&str> = HashSet::new();
    let trackings = config
        .instances
        .iter()
        .map(|i| (format!("vrrp_instance {}", i.name), &i.track))
        .chain(
            config
                .sync_groups
                .iter()
                .map(|g| (format!("vrrp_sync_group {}", g.name), &g.track)),
        );
    for (owner, track) in trackings {
        for (refs, known, kind) in [
            (&track.scripts, &script_names, "vrrp_script"),
            (&track.files, &file_names, "track_file"),
            (&track.processes, &process_names, "vrrp_track_process"),
        ] {
            for reference in refs {
                if known.contains(&reference.name.as_str()) {
                    used_scripts.insert(&reference.name);
                    continue;
                }
                let message = format!("{owner} tracks unknown {kind} {}", reference.name);
                let hint = format!(
                    "define '{kind} {} {{ ... }}' or fix the name",
                    reference.name
                );
                match &reference.at {
                    Some(span) => diagnostics.error(span, message).hint(hint),
                    None => diagnostics.push(Severity::Error, None, message).hint(hint),
                };
            }
        }
    }
    for script in &config.scripts {
        if !used_scripts.contains(&script.name.as_str()) {
            diagnostics.push(
                Severity::Warning,
                None,
                format!("vrrp_script {} ({}) is not tracked by any instance or sync group; it will not run", script.name, script.defined_at),
            );
        }
    }
}

/// keepalived exits with code 6 when scripts would run without `enable_script_security`.
fn check_script_security(config: &Config, diagnostics: &mut Diagnostics) {
    if config.global.enable_script_security {
        return;
    }
    let has_scripts = !config.scripts.is_empty()
        || config
            .instances
            .iter()
            .any(|i| i.notify.scripts().next().is_some())
        || config
            .sync_groups
            .iter()
            .any(|g| g.notify.scripts().next().is_some())
        || config
            .global
            .notify_fifo
            .as_ref()
            .is_some_and(|f| f.script.is_some())
        || config
            .global
            .vrrp_notify_fifo
            .as_ref()
            .is_some_and(|f| f.script.is_some());
    if has_scripts {
        diagnostics
            .push(Severity::ScriptSecurity, None, "scripts are configured but enable_script_security is not set")
            .hint("add 'enable_script_security' (and 'script_user USER') to global_defs; scripts writable by non-root users then refuse to run as root");
    }
}

/// Interfaces named by the configuration that this host does not have: warnings, as in
/// keepalived, unless `dynamic_interfaces` says they may appear later.
pub fn check_host_interfaces(config: &Config, host: &[String]) -> Vec<super::Diagnostic> {
    let mut diagnostics = Diagnostics::default();
    if config.global.dynamic_interfaces {
        return Vec::new();
    }
    let missing = |name: &str| !host.iter().any(|h| h == name);
    for instance in &config.instances {
        let span = &instance.name_span;
        let used = instance
            .interface
            .iter()
            .map(|i| (i.as_str(), "interface"))
            .chain(
                instance
                    .track
                    .interfaces
                    .iter()
                    .map(|t| (t.name.as_str(), "track_interface")),
            )
            .chain(
                instance
                    .virtual_ipaddress
                    .iter()
                    .chain(&instance.virtual_ipaddress_excluded)
                    .filter_map(|v| v.dev.as_ref().map(InterfaceName::as_str))
                    .map(|d| (d, "dev of a virtual address")),
            );
        for (name, role) in used {
            if missing(name) {
                diagnostics
                    .warning(span, format!("{} uses {name} ({role}), which does not exist on this host", instance.name))
                    .hint("create the interface, fix the name, or set dynamic_interfaces in global_defs");
            }
        }
    }
    diagnostics.into_vec()
}
