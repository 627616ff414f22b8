//! Settles each instance once the whole configuration is known, the way keepalived 2.2.7's
//! `vrrp_complete_instance` does (version, family, priority and initial state, strict mode,
//! authentication, intervals, GARP defaults), and checks what spans instances: VRID conflicts
//! (keepalived's `check_vrid_conflicts`), shared virtual addresses, sync groups
//! (`vrrp_sync_set_group`). What keepalived refuses to start with is recorded in
//! `Config::refusals`, so the daemon refuses it too.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use super::diagnostic::{Diagnostics, Severity, Span};
use super::model::{Authentication, Config, InitialState, TrackRef, VrrpInstance};
use super::parse::InstanceDraft;
use super::parse::instance::AuthKind;
use super::values::{InterfaceName, format_seconds};
use crate::protocol::{Family, Priority, Version};

const CENTISECOND: Duration = Duration::from_millis(10);

pub(super) fn finalize(
    config: &mut Config,
    drafts: Vec<InstanceDraft>,
    diagnostics: &mut Diagnostics,
) {
    let mut refusals = Vec::new();
    // What the parser read (keepalived sets its sync groups up before it completes the
    // instances): the `state` wish and whether `priority 255` was written.
    let wishes: HashMap<String, (Option<InitialState>, bool)> = drafts
        .iter()
        .map(|d| {
            (
                d.instance.name.clone(),
                (
                    d.instance.state,
                    d.priority.as_ref().is_some_and(|(p, _)| *p == 255),
                ),
            )
        })
        .collect();
    for draft in drafts {
        let (name, notify) = (draft.instance.name.clone(), draft.instance.notify.clone());
        match settle_instance(config, draft, diagnostics, &mut refusals) {
            Some(instance) => config.instances.push(instance),
            None => config.refused_notify.push((name, notify)),
        }
    }
    config.refusals.extend(refusals);
    check_vrid_conflicts(config, diagnostics);
    check_shared_addresses(config, diagnostics);
    check_sync_groups(config, diagnostics, &wishes);
    settle_tracking(config, diagnostics);
    settle_group_owner_weights(config, diagnostics);
    settle_sync_group_states(config);
    check_unused_scripts(config, diagnostics);
}

/// keepalived's tracking set-up (vrrp_complete_init): the instance's own interface is not
/// tracked; an address owner, and a sync group member without sync_group_tracking_weight,
/// drop weighted scripts and files (a file with the default weight 1 gets weight 0); an
/// owner drops weighted interfaces. (A sync group member keeps its interface weights: seen
/// with 2.2.7, whatever its message says; the daemon's resolve step applies them.) Each is
/// reported, as keepalived does.
fn settle_tracking(config: &mut Config, diagnostics: &mut Diagnostics) {
    let groups: HashMap<String, bool> = config
        .sync_groups
        .iter()
        .flat_map(|g| {
            let weighted = g.sync_group_tracking_weight || g.global_tracking;
            g.members.iter().map(move |m| (m.name.clone(), weighted))
        })
        .collect();
    let scripts: HashMap<String, i32> = config
        .scripts
        .iter()
        .map(|s| (s.name.clone(), s.weight))
        .collect();
    let files: HashMap<String, i32> = config
        .track_files
        .iter()
        .map(|f| (f.name.clone(), f.weight))
        .collect();
    for instance in &mut config.instances {
        let name = instance.name.clone();
        let span = instance.name_span.clone();
        if let Some(own) = instance.interface.clone() {
            let before = instance.track.interfaces.len();
            instance.track.interfaces.retain(|t| t.name != own.as_str());
            if instance.track.interfaces.len() != before {
                diagnostics
                    .error(&span, format!("{name}: track_interface {own} is its own interface; ignored"))
                    .hint("an instance always tracks its interface (keepalived reports this the same way)");
            }
        }
        if instance.promote_secondaries && instance.vmac.is_some() {
            diagnostics.error(
                &span,
                format!(
                    "{name}: promote_secondaries is set for VMACs anyway; the keyword is ignored"
                ),
            );
        }
        let owner = instance.priority == Priority(255);
        let unweighted_group = groups.get(&name).is_some_and(|weighted| !weighted);
        if !owner && !unweighted_group {
            continue;
        }
        let why = if unweighted_group {
            "it is in a sync group without sync_group_tracking_weight"
        } else {
            "it owns its addresses (priority 255)"
        };
        if unweighted_group {
            // keepalived (vrrp_complete_instance): "ignoring X tracked interface weight due
            // to SYNC group". It zeroes the weight only after copying it into the interface's
            // tracking list, so it applies it all the same; the model keeps the weight and
            // the daemon applies it too (daemon/tracking.rs).
            for tracked in &instance.track.interfaces {
                if tracked.weight.unwrap_or(0) != 0 {
                    diagnostics
                        .error(
                            &span,
                            format!(
                                "{name}: the weight of tracked interface {} is ignored: {why}",
                                tracked.name
                            ),
                        )
                        .hint("remove the weight, or add sync_group_tracking_weight to the group (keepalived reports it the same way)");
                }
            }
        }
        if owner && !unweighted_group {
            let mut dropped = Vec::new();
            instance.track.interfaces.retain(|t| {
                let keep = t.weight.unwrap_or(0) == 0;
                if !keep {
                    dropped.push(t.name.clone());
                }
                keep
            });
            for interface in dropped {
                diagnostics.error(
                    &span,
                    format!("{name}: tracked interface {interface} is ignored: {why}"),
                );
            }
        }
        let mut dropped = Vec::new();
        instance.track.scripts.retain(|t| {
            let weight = t
                .weight
                .unwrap_or_else(|| scripts.get(&t.name).copied().unwrap_or(0));
            if weight != 0 {
                dropped.push(t.name.clone());
            }
            weight == 0
        });
        for script in dropped {
            diagnostics
                .error(&span, format!("{name}: tracked script {script} has a weight and is ignored: {why}"))
                .hint("give it weight 0 (FAULT while failed), or add sync_group_tracking_weight to the group");
        }
        let mut dropped = Vec::new();
        instance.track.files.retain_mut(|t| {
            let weight = t
                .weight
                .unwrap_or_else(|| files.get(&t.name).copied().unwrap_or(1));
            // keepalived: weight 1 (the default, whether written or not) becomes 0 and the
            // file stays tracked; any other weight drops the file.
            if weight == 1 {
                t.weight = Some(0);
                dropped.push((t.name.clone(), false));
                return true;
            }
            if weight != 0 {
                dropped.push((t.name.clone(), true));
            }
            weight == 0
        });
        for (file, removed) in dropped {
            let what = if removed {
                "is ignored"
            } else {
                "is tracked with weight 0"
            };
            diagnostics.error(&span, format!("{name}: tracked file {file} {what}: {why}"));
        }
    }
}

/// keepalived: in a sync group where some member wants MASTER and some member is not an
/// address owner wanting MASTER, every member starts as BACKUP (no message).
/// keepalived's vrrp_complete_init: a sync group with a member that owns its addresses
/// (priority 255) cannot weigh what the group tracks: "Cannot have weighted track script ...
/// with member having priority 255 - clearing weight" (and the same for files, processes and
/// interfaces). The weight becomes 0: a failure still takes the group to FAULT.
fn settle_group_owner_weights(config: &mut Config, diagnostics: &mut Diagnostics) {
    let owners: Vec<&str> = config
        .instances
        .iter()
        .filter(|i| i.priority == Priority(255))
        .map(|i| i.name.as_str())
        .collect();
    let weight_of = |kind: &str, name: &str| -> i32 {
        match kind {
            "script" => config
                .scripts
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.weight),
            "file" => config
                .track_files
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.weight),
            "process" => config
                .track_processes
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.weight),
            _ => None,
        }
        .unwrap_or(0)
    };
    let mut cleared: Vec<(usize, &'static str, usize, String)> = Vec::new();
    for (index, group) in config.sync_groups.iter().enumerate() {
        if !group
            .members
            .iter()
            .any(|m| owners.contains(&m.name.as_str()))
        {
            continue;
        }
        for (kind, refs) in [
            ("script", &group.track.scripts),
            ("file", &group.track.files),
            ("process", &group.track.processes),
            ("interface", &group.track.interfaces),
        ] {
            for (position, tracked) in refs.iter().enumerate() {
                if tracked
                    .weight
                    .unwrap_or_else(|| weight_of(kind, &tracked.name))
                    != 0
                {
                    cleared.push((index, kind, position, tracked.name.clone()));
                }
            }
        }
    }
    for (index, kind, position, name) in cleared {
        let group = &mut config.sync_groups[index];
        let refs = match kind {
            "script" => &mut group.track.scripts,
            "file" => &mut group.track.files,
            "process" => &mut group.track.processes,
            _ => &mut group.track.interfaces,
        };
        refs[position].weight = Some(0);
        diagnostics
            .push(
                Severity::Error,
                None,
                format!(
                    "vrrp_sync_group {}: tracked {kind} {name} cannot have a weight when a member has priority 255; its weight is cleared",
                    group.name
                ),
            )
            .hint("remove the weight, or give the member a priority below 255 (keepalived reports it the same way)");
    }
}

fn settle_sync_group_states(config: &mut Config) {
    for group in &config.sync_groups {
        let members: Vec<&VrrpInstance> = group
            .members
            .iter()
            .filter_map(|m| config.instances.iter().find(|i| i.name == m.name))
            .collect();
        let has_master = members
            .iter()
            .any(|i| i.state == Some(InitialState::Master));
        let has_backup = members
            .iter()
            .any(|i| i.state == Some(InitialState::Backup) || i.priority != Priority(255));
        if !(has_master && has_backup) {
            continue;
        }
        let names: Vec<String> = members.iter().map(|i| i.name.clone()).collect();
        for instance in &mut config.instances {
            if names.contains(&instance.name) && instance.state == Some(InitialState::Master) {
                instance.state = Some(InitialState::Backup);
            }
        }
    }
}

fn settle_instance(
    config: &Config,
    draft: InstanceDraft,
    diagnostics: &mut Diagnostics,
    refusals: &mut Vec<String>,
) -> Option<VrrpInstance> {
    let mut instance = draft.instance;
    let name_span = draft.name_span;
    let name = instance.name.clone();
    let global = &config.global;

    // keepalived's chk_min_cfg: both stop it ("the virtual router id must be set", "Unknown
    // interface!"); default_interface does not apply to instances.
    if draft.vrid.is_none() {
        diagnostics
            .error(
                &name_span,
                format!(
                    "vrrp_instance {name} has no virtual_router_id; keepalived refuses to start"
                ),
            )
            .hint("add virtual_router_id 1..255, the same on every router of this group");
        refusals.push(format!("vrrp_instance {name} has no virtual_router_id"));
        return None;
    }
    if instance.interface.is_none() {
        diagnostics
            .error(
                &name_span,
                format!("{name} has no interface; keepalived refuses to start"),
            )
            .hint("add 'interface IFNAME' (keepalived 2.2.7 needs it even for unicast instances, and default_interface does not apply)");
        refusals.push(format!("vrrp_instance {name} has no interface"));
        return None;
    }

    let strict = draft.strict_mode.unwrap_or(global.vrrp_strict);
    instance.strict_mode = strict;
    let family = draft.family.unwrap_or(Family::Ipv4);
    instance.family = family;

    // RFC 5798 has no VRRPv2 for IPv6: keepalived makes it v3 in strict mode or when no
    // version is given, and keeps an explicit v2 otherwise.
    let mut version = draft.version.as_ref().map(|(v, _)| *v);
    if family == Family::Ipv6 {
        match (version, strict) {
            (Some(Version::V2), true) => {
                diagnostics.error(
                    &draft
                        .version
                        .as_ref()
                        .map_or(name_span.clone(), |(_, s)| s.clone()),
                    format!("{name}: IPv6 cannot use VRRP version 2; using version 3"),
                );
                version = Some(Version::V3);
            }
            (Some(Version::V2), false) => {
                diagnostics
                    .warning(
                        &draft.version.as_ref().map_or(name_span.clone(), |(_, s)| s.clone()),
                        format!("{name}: keepalived sends VRRPv2 over IPv6 here, which no RFC defines; xvrrpd uses VRRPv3"),
                    )
                    .hint("write 'version 3' (RFC 5798) so every router agrees");
            }
            (None, _) => version = Some(Version::V3),
            _ => {}
        }
    }
    instance.version = version.unwrap_or(global.vrrp_version);

    if instance.virtual_ipaddress.is_empty() && !instance.no_virtual_ipaddress {
        if instance.version == Version::V3 || strict {
            let why = if strict { "strict mode" } else { "VRRPv3" };
            diagnostics
                .error(
                    &name_span,
                    format!("{name} has no virtual_ipaddress, which {why} requires; keepalived refuses to start"),
                )
                .hint("add the virtual_ipaddress block the adverts carry");
            refusals.push(format!(
                "vrrp_instance {name} has no virtual_ipaddress ({why})"
            ));
        } else {
            diagnostics
                .error(&name_span, format!("{name} has no virtual_ipaddress"))
                .hint("keepalived reports it too (\"at least one is sensible\")");
        }
    }

    // keepalived: an IPv6 multicast instance's first address should be link-local; strict
    // mode reports it (and only logs it otherwise).
    if family == Family::Ipv6
        && strict
        && instance.unicast.peers.is_empty()
        && let Some(first) = instance.virtual_ipaddress.first()
        && !matches!(first.address.addr, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
    {
        diagnostics
            .error(
                draft.vip_spans.first().unwrap_or(&name_span),
                format!("{name}: in strict mode the first IPv6 virtual address must be link-local"),
            )
            .hint("RFC 5798 7.4: list the link-local (fe80::/10) address first");
    }

    // The priority: as given (100 when invalid), else 255 for `state MASTER`, else 100.
    instance.priority = match draft.priority {
        Some((priority, _)) => Priority(priority),
        None if instance.state == Some(InitialState::Master) => Priority(255),
        None => Priority(100),
    };
    let owner = instance.priority == Priority(255);
    // The initial state: as given, else MASTER for an address owner; strict mode makes it
    // match ownership.
    match instance.state {
        None => {
            instance.state = Some(if owner {
                InitialState::Master
            } else {
                InitialState::Backup
            });
        }
        Some(state) if strict && (state == InitialState::Master) != owner => {
            diagnostics
                .error(
                    draft.state.as_ref().unwrap_or(&name_span),
                    format!("{name}: in strict mode the initial state MASTER must go with priority 255"),
                )
                .hint("RFC 5798 6.4.1: only the address owner starts as master; keepalived resets it the same way");
            instance.state = Some(if owner {
                InitialState::Master
            } else {
                InitialState::Backup
            });
        }
        Some(_) => {}
    }

    // Authentication (keepalived checks in this order).
    let auth_span = draft.authentication.clone().unwrap_or(name_span.clone());
    instance.authentication = match draft.auth_type {
        None => None,
        Some(_) if strict => {
            diagnostics.error(
                &auth_span,
                format!("{name}: strict mode has no authentication; it is ignored"),
            );
            None
        }
        Some(_) if instance.version == Version::V3 => {
            diagnostics
                .error(
                    &auth_span,
                    format!("{name}: VRRPv3 has no authentication (RFC 5798 9); it is ignored"),
                )
                .hint("remove the authentication block or use version 2");
            None
        }
        Some(_) if draft.auth_pass.as_deref().is_none_or(str::is_empty) => {
            diagnostics.error(
                &auth_span,
                format!("{name}: authentication without auth_pass is ignored"),
            );
            None
        }
        Some(AuthKind::Ah) if family == Family::Ipv6 => {
            diagnostics.error(
                &auth_span,
                format!("{name}: AH authentication does not work with IPv6; it is ignored"),
            );
            None
        }
        Some(AuthKind::Ah) => {
            if instance.state == Some(InitialState::Master) && !owner {
                diagnostics
                    .error(
                        draft.state.as_ref().unwrap_or(&name_span),
                        format!("{name} starts as BACKUP: initial state MASTER does not work with AH authentication"),
                    )
                    .hint("keepalived clears the MASTER state the same way; use state BACKUP");
                instance.state = Some(InitialState::Backup);
            }
            Some(Authentication::Ah(draft.auth_pass.unwrap_or_default()))
        }
        Some(AuthKind::Pass) => Some(Authentication::Pass(draft.auth_pass.unwrap_or_default())),
    };

    // A unicast keyword without peers: keepalived uses multicast (and reports it), unless
    // unicast_fault_no_peer keeps the instance in FAULT.
    if instance.unicast.peers.is_empty()
        && let Some(span) = &draft.unicast_keyword
        && !instance.unicast.fault_no_peer
    {
        diagnostics
            .error(
                span,
                format!("{name}: a unicast keyword without unicast peers; the instance uses multicast"),
            )
            .hint("add the unicast_peer block, or remove the unicast keywords (keepalived reports it the same way)");
    }
    if !instance.unicast.peers.is_empty()
        && let Some(span) = &draft.mcast_dst_ip
    {
        diagnostics.error(
            span,
            format!("{name}: mcast_dst_ip with unicast peers is ignored"),
        );
        instance.mcast_dst_ip = None;
    }
    // keepalived: unicast with use_vmac needs vmac_xmit_base, which it sets.
    if (draft.unicast_keyword.is_some() || !instance.unicast.peers.is_empty())
        && let Some(vmac) = &mut instance.vmac
        && !vmac.xmit_base
        && !draft.vmac_xmit_base
    {
        diagnostics.error(
            &name_span,
            format!("{name}: unicast with use_vmac sends from the base interface (vmac_xmit_base is set)"),
        );
        vmac.xmit_base = true;
    }
    match &mut instance.vmac {
        Some(vmac) => {
            vmac.xmit_base |= draft.vmac_xmit_base;
            vmac.use_vmac_addr |= draft.use_vmac_addr;
        }
        None if draft.vmac_xmit_base => {
            diagnostics.error(
                &name_span,
                format!("{name}: vmac_xmit_base is only valid with use_vmac; ignored"),
            );
        }
        None => {}
    }
    if owner && !instance.preempt {
        diagnostics
            .error(
                draft.nopreempt.as_ref().unwrap_or(&name_span),
                format!("{name}: nopreempt does not work with priority 255; it is cleared"),
            )
            .hint("keepalived clears it the same way");
        instance.preempt = true;
    }
    if instance.state == Some(InitialState::Master) {
        if !instance.preempt {
            diagnostics
                .error(
                    draft.nopreempt.as_ref().unwrap_or(&name_span),
                    format!("{name}: nopreempt does not work with initial state MASTER; it is cleared"),
                )
                .hint("nopreempt needs 'state BACKUP' on every router (keepalived clears it the same way)");
            instance.preempt = true;
        }
        if !instance.preempt_delay.is_zero() {
            diagnostics.error(
                draft.preempt_delay.as_ref().unwrap_or(&name_span),
                format!(
                    "{name}: preempt_delay does not work with initial state MASTER; it is cleared"
                ),
            );
            instance.preempt_delay = Duration::ZERO;
        }
    }
    if !instance.preempt_delay.is_zero() {
        if strict {
            diagnostics.error(
                draft.preempt_delay.as_ref().unwrap_or(&name_span),
                format!("{name}: preempt_delay does not work in strict mode; it is cleared"),
            );
            instance.preempt_delay = Duration::ZERO;
        } else if !instance.preempt {
            diagnostics.error(
                draft.preempt_delay.as_ref().unwrap_or(&name_span),
                format!("{name}: preempt_delay does not work with nopreempt; it is cleared"),
            );
            instance.preempt_delay = Duration::ZERO;
        }
    }
    if instance.down_timer_adverts != 3 && strict {
        diagnostics
            .error(
                &name_span,
                format!("{name}: strict mode uses down_timer_adverts 3 (RFC 5798 6.1)"),
            )
            .hint("keepalived resets it the same way in strict mode");
        instance.down_timer_adverts = 3;
    }

    // accept: keepalived's default is on, off in strict mode unless the address owner; an
    // explicit accept is cleared for a VRRPv2 non-owner in strict mode.
    instance.accept = draft.accept;
    if draft.accept == Some(true) && !owner && strict && instance.version == Version::V2 {
        diagnostics.error(
            &name_span,
            format!("{name}: accept mode with VRRPv2 does not comply with RFC 3768 in strict mode; it is cleared"),
        );
        instance.accept = Some(false);
    }

    // Defaults keepalived takes from global_defs when the instance is completed.
    let garp_defaults = &global.instance_defaults.garp;
    instance.garp.lower_prio_repeat = match (draft.garp_lower_prio_repeat, strict) {
        (None, true) => Some(0),
        (None, false) => garp_defaults
            .lower_prio_repeat
            .or(Some(garp_defaults.master_repeat)),
        (Some(repeat), true) if repeat > 0 => {
            diagnostics.error(
                &name_span,
                format!(
                    "{name}: strict mode sends no repeated GARPs; garp_lower_prio_repeat is reset"
                ),
            );
            Some(0)
        }
        (Some(repeat), _) => Some(repeat),
    };
    instance.garp.lower_prio_delay = match (draft.garp_lower_prio_delay, strict) {
        (None, true) => Some(Duration::ZERO),
        (None, false) => garp_defaults
            .lower_prio_delay
            .or(Some(garp_defaults.master_delay)),
        (Some(delay), true) if !delay.is_zero() => {
            diagnostics.error(
                &name_span,
                format!(
                    "{name}: strict mode sends no repeated GARPs; garp_lower_prio_delay is reset"
                ),
            );
            Some(Duration::ZERO)
        }
        (Some(delay), _) => Some(delay),
    };
    instance.lower_prio_no_advert = match (draft.lower_prio_no_advert, strict) {
        (None, true) => true,
        (None, false) => global.instance_defaults.lower_prio_no_advert,
        (Some(false), true) => {
            diagnostics.error(
                &name_span,
                format!("{name}: strict mode needs lower_prio_no_advert; it is set"),
            );
            true
        }
        (Some(value), _) => value,
    };
    instance.higher_prio_send_advert = match (draft.higher_prio_send_advert, strict) {
        (None, true) => false,
        (None, false) => global.instance_defaults.higher_prio_send_advert,
        (Some(true), true) => {
            diagnostics.error(
                &name_span,
                format!("{name}: strict mode needs higher_prio_send_advert off; it is cleared"),
            );
            false
        }
        (Some(value), _) => value,
    };
    instance.skip_check_adv_addr = instance.skip_check_adv_addr || draft.skip_check_adv_addr;
    if instance.smtp_alert.is_none() {
        instance.smtp_alert = global.smtp_alert_vrrp.or(global.smtp_alert);
    }
    if !instance.notify_priority_changes {
        instance.notify_priority_changes = global.vrrp_notify_priority_changes;
    }

    instance.advert_int = settle_advert_int(&name, instance.version, draft.advert_int, diagnostics);
    Some(instance)
}

/// keepalived's interval checks: VRRPv2 carries whole seconds below 256 (else 255), VRRPv3
/// centiseconds below 40.96 s (else 40.95); other values are rounded. Each is reported.
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
            if interval >= Duration::from_secs(256) {
                diagnostics.error(
                    &span,
                    format!("{name}: a VRRPv2 advert_int must be below 256 s; using 255"),
                );
                return Duration::from_secs(255);
            }
            if interval.subsec_micros() != 0 {
                let rounded = Duration::from_secs(
                    ((interval.as_micros() + 500_000) / 1_000_000).max(1) as u64,
                );
                diagnostics
                    .error(
                        &span,
                        format!(
                            "{name}: VRRPv2 advertises whole seconds; advert_int {} is rounded to {}",
                            format_seconds(interval),
                            format_seconds(rounded)
                        ),
                    )
                    .hint("use 'version 3' for sub-second intervals (keepalived rounds the same way)");
                return rounded;
            }
            interval
        }
        Version::V3 => {
            if interval >= Duration::from_millis(40_960) {
                diagnostics.error(
                    &span,
                    format!("{name}: a VRRPv3 advert_int must be below 40.96 s; using 40.95"),
                );
                return Duration::from_millis(40_950);
            }
            if interval.as_micros() % 10_000 != 0 {
                let centis = ((interval.as_micros() + 5_000) / 10_000).max(1) as u32;
                let rounded = CENTISECOND * centis;
                diagnostics.error(
                    &span,
                    format!(
                        "{name}: VRRPv3 advertises in 10 ms steps; advert_int {} is rounded to {}",
                        format_seconds(interval),
                        format_seconds(rounded)
                    ),
                );
                return rounded;
            }
            interval
        }
    }
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::Ipv4 => "IPv4",
        Family::Ipv6 => "IPv6",
    }
}

/// The group an instance's adverts go to: its `mcast_dst_ip` or the global group.
pub fn multicast_group(config: &Config, instance: &VrrpInstance) -> IpAddr {
    instance.mcast_dst_ip.unwrap_or(match instance.family {
        Family::Ipv4 => IpAddr::V4(config.global.vrrp_mcast_group4),
        Family::Ipv6 => IpAddr::V6(config.global.vrrp_mcast_group6),
    })
}

/// keepalived's `check_vrid_conflicts`: two instances with one VRID and family on one
/// interface conflict only when they would share a receive socket and could not be told
/// apart: both multicast to the same group, or both unicast from the same local address with
/// a peer in common. Multicast and unicast are separate VRID spaces; unicast instances that
/// differ in their peers are told apart by the advert's source.
fn check_vrid_conflicts(config: &mut Config, diagnostics: &mut Diagnostics) {
    let instances = &config.instances;
    let mut refusals = Vec::new();
    for (index, first) in instances.iter().enumerate() {
        for second in &instances[index + 1..] {
            if first.family != second.family || first.vrid != second.vrid {
                continue;
            }
            let (a_unicast, b_unicast) = (
                !first.unicast.peers.is_empty(),
                !second.unicast.peers.is_empty(),
            );
            if a_unicast != b_unicast || first.interface != second.interface {
                continue;
            }
            let interface = first.interface.as_ref().map_or("", InterfaceName::as_str);
            if a_unicast {
                // Where a source is not configured, it is the interface's address: a host
                // question, answered by `check_host_interfaces`.
                let source = |i: &VrrpInstance| i.unicast.src_ip.or(i.mcast_src_ip);
                // Both on the interface's own address share it too.
                if source(first).is_some() != source(second).is_some()
                    || source(first) != source(second)
                {
                    continue;
                }
                let shared = first
                    .unicast
                    .peers
                    .iter()
                    .find(|p| second.unicast.peers.iter().any(|q| q.address == p.address));
                let Some(shared) = shared else {
                    // keepalived tells them apart by the advert's source address
                    // (VRRP_FLAG_UNICAST_DUPLICATE_VRID); so does the XDP receive path
                    // (InstanceKey::slot, found by the source in the slots map).
                    continue;
                };
                diagnostics
                    .error(
                        &second.name_span,
                        format!(
                            "{} and {} (at {}) both use VRID {} on {interface} from the same address with peer {}; keepalived refuses to start",
                            second.name, first.name, first.defined_at, second.vrid.0, shared.address
                        ),
                    )
                    .hint("unicast instances sharing a VRID and a local address need disjoint peers");
                refusals.push(format!(
                    "{} and {} use VRID {} with a common unicast peer",
                    first.name, second.name, second.vrid.0
                ));
                continue;
            }
            if multicast_group(config, first) != multicast_group(config, second) {
                continue;
            }
            diagnostics
                .error(
                    &second.name_span,
                    format!(
                        "{} and {} (at {}) both use VRID {} with {} on {interface}; keepalived refuses to start",
                        second.name,
                        first.name,
                        first.defined_at,
                        second.vrid.0,
                        family_name(second.family)
                    ),
                )
                .hint("give one of them another virtual_router_id, or another mcast_dst_ip");
            refusals.push(format!(
                "{} and {} both use VRID {} on {interface}",
                first.name, second.name, second.vrid.0
            ));
        }
    }
    config.refusals.extend(refusals);
}

/// A virtual address in two instances: both masters would add it. keepalived accepts it, so
/// this is a warning.
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
                        .warning(
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

/// keepalived's `vrrp_sync_set_group`: unknown members and members of a second group are
/// reported and left out, a group left without members is removed, a group of one member is
/// reported.
fn check_sync_groups(
    config: &mut Config,
    diagnostics: &mut Diagnostics,
    wishes: &HashMap<String, (Option<InitialState>, bool)>,
) {
    let names: Vec<String> = config.instances.iter().map(|i| i.name.clone()).collect();
    let mut membership: HashMap<String, String> = HashMap::new();
    for group in &mut config.sync_groups {
        let mut kept: Vec<TrackRef> = Vec::new();
        for member in group.members.drain(..) {
            let report =
                |diagnostics: &mut Diagnostics, message: String, hint: &str| match &member.at {
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
                        "vrrp_sync_group {} names unknown instance {}; ignored",
                        group.name, member.name
                    ),
                    "sync groups list vrrp_instance names; check the spelling",
                );
            } else if let Some(other) = membership.get(&member.name) {
                report(
                    diagnostics,
                    format!(
                        "{} is already in vrrp_sync_group {other}; not added to {}",
                        member.name, group.name
                    ),
                    "an instance can belong to one sync group only",
                );
            } else {
                membership.insert(member.name.clone(), group.name.clone());
                kept.push(member);
            }
        }
        group.members = kept;
        // keepalived's vrrp_sync_set_group: once a member that owns its addresses and wants
        // MASTER has set the group's state to MASTER, a later member wanting BACKUP is
        // reported ("This won't work").
        let mut state = None;
        let mut reported = false;
        for member in &group.members {
            let (wish, owner) = wishes.get(&member.name).copied().unwrap_or((None, false));
            if state == Some(InitialState::Master)
                && wish == Some(InitialState::Backup)
                && !reported
            {
                reported = true;
                let message = format!(
                    "vrrp_sync_group {}: some members own their addresses and some do not; every member starts as BACKUP",
                    group.name
                );
                let hint = "a sync group starts as MASTER only when every member has priority 255 and state MASTER (keepalived reports this the same way)";
                match &member.at {
                    Some(span) => {
                        diagnostics.error(span, message).hint(hint);
                    }
                    None => {
                        diagnostics.push(Severity::Error, None, message).hint(hint);
                    }
                }
            }
            if state != Some(InitialState::Backup) {
                state = Some(if wish == Some(InitialState::Master) && owner {
                    InitialState::Master
                } else {
                    InitialState::Backup
                });
            }
        }
    }
    let mut removed = Vec::new();
    config.sync_groups.retain(|group| {
        if group.members.is_empty() {
            removed.push((group.name.clone(), group.defined_at.clone()));
        }
        !group.members.is_empty()
    });
    for (name, at) in removed {
        diagnostics.push(
            Severity::Error,
            None,
            format!("vrrp_sync_group {name} ({at}) has no members; it is removed"),
        );
    }
    for group in &config.sync_groups {
        if group.members.len() == 1 {
            diagnostics.push(
                Severity::Error,
                None,
                format!(
                    "vrrp_sync_group {} ({}) has a single member; it synchronises nothing",
                    group.name, group.defined_at
                ),
            );
        }
    }
}

fn check_unused_scripts(config: &Config, diagnostics: &mut Diagnostics) {
    let tracked = |name: &str| {
        config
            .instances
            .iter()
            .map(|i| &i.track)
            .chain(config.sync_groups.iter().map(|g| &g.track))
            .any(|track| track.scripts.iter().any(|r| r.name == name))
    };
    for script in &config.scripts {
        if !tracked(&script.name) {
            diagnostics.push(
                Severity::Warning,
                None,
                format!(
                    "vrrp_script {} ({}) is not tracked by any instance or sync group; it will not run",
                    script.name, script.defined_at
                ),
            );
        }
    }
}

/// An interface of the host, with the addresses keepalived would send from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostLink {
    pub name: String,
    /// The primary IPv4 address.
    pub ipv4: Option<std::net::Ipv4Addr>,
    /// The link-local IPv6 address.
    pub ipv6: Option<std::net::Ipv6Addr>,
}

/// What depends on the host, in two parts because keepalived meets them at different times.
#[derive(Debug, Default)]
pub struct HostFindings {
    /// Interfaces named by the configuration that this host does not have: keepalived refuses
    /// to start with any of them ("Non-existent interface specified in configuration", unless
    /// `dynamic_interfaces`), right after reading, before it looks at scripts.
    pub missing_interfaces: Vec<super::Diagnostic>,
    /// Unicast instances with one VRID whose sources are the same interface address and that
    /// share a peer: keepalived refuses those too, but in `check_vrid_conflicts`, after its
    /// script security check.
    pub vrid_conflicts: Vec<super::Diagnostic>,
}

/// Checks the configuration against the host's interfaces ([`HostFindings`]).
pub fn check_host_interfaces(config: &Config, host: &[HostLink]) -> HostFindings {
    let mut diagnostics = Diagnostics::default();
    if !config.global.dynamic_interfaces {
        for (name, role, span) in &config.named_interfaces {
            if !host.iter().any(|h| h.name == name.as_str()) {
                diagnostics
                    .error(span, format!("{name} ({role}) does not exist on this host; keepalived refuses to start"))
                    .hint("create the interface, fix the name, or set dynamic_interfaces in global_defs");
            }
        }
    }
    let missing_interfaces = diagnostics.into_vec();
    let mut diagnostics = Diagnostics::default();
    let source = |i: &VrrpInstance| -> Option<IpAddr> {
        i.unicast.src_ip.or(i.mcast_src_ip).or_else(|| {
            let link = host.iter().find(|h| {
                Some(h.name.as_str()) == i.interface.as_ref().map(InterfaceName::as_str)
            })?;
            match i.family {
                Family::Ipv4 => link.ipv4.map(IpAddr::V4),
                Family::Ipv6 => link.ipv6.map(IpAddr::V6),
            }
        })
    };
    let instances = &config.instances;
    for (index, first) in instances.iter().enumerate() {
        for second in &instances[index + 1..] {
            let configured = |i: &VrrpInstance| i.unicast.src_ip.or(i.mcast_src_ip).is_some();
            if first.family != second.family
                || first.vrid != second.vrid
                || first.interface != second.interface
                || first.unicast.peers.is_empty()
                || second.unicast.peers.is_empty()
                || (configured(first) && configured(second))
            {
                continue;
            }
            let (Some(a), Some(b)) = (source(first), source(second)) else {
                continue;
            };
            if a != b {
                continue;
            }
            if let Some(shared) = first
                .unicast
                .peers
                .iter()
                .find(|p| second.unicast.peers.iter().any(|q| q.address == p.address))
            {
                diagnostics
                    .error(
                        &second.name_span,
                        format!(
                            "{} and {} (at {}) both use VRID {} from {a} with peer {}; keepalived refuses to start",
                            second.name, first.name, first.defined_at, second.vrid.0, shared.address
                        ),
                    )
                    .hint("unicast instances sharing a VRID and a local address need disjoint peers");
            }
        }
    }
    HostFindings {
        missing_interfaces,
        vrid_conflicts: diagnostics.into_vec(),
    }
}
