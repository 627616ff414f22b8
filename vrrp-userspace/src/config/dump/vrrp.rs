//! Scripts and other tracked objects, instances and sync groups.

use std::fmt::Write as _;

use super::global::garp;
use super::network::{addresses_block, routes_block, rules_block};
use super::{Writer, command, flag, on_off, script_line, shell_word, word};
use crate::config::model::{Authentication, Config, InitialState, Notify, Tracking, VrrpInstance};
use crate::config::values::format_seconds;
use crate::protocol::Version;

pub(super) fn trackers(out: &mut Writer, config: &Config) {
    for script in &config.scripts {
        out.open(&format!("vrrp_script {}", word(&script.name)));
        out.line(format!("script {}", command(&script.script.argv)));
        out.line(format!("interval {}", format_seconds(script.interval)));
        out.line(format!("timeout {}", format_seconds(script.timeout)));
        out.line(format!(
            "weight {}{}",
            script.weight,
            if script.reverse { " reverse" } else { "" }
        ));
        out.line(format!("rise {}", script.rise));
        out.line(format!("fall {}", script.fall));
        if let Some(user) = &script.script.user {
            out.line(format!(
                "user {}{}",
                word(user),
                script
                    .script
                    .group
                    .as_deref()
                    .map(|g| format!(" {}", word(g)))
                    .unwrap_or_default()
            ));
        }
        if script.init_fail {
            out.line("init_fail");
        }
        out.close();
    }
    for file in &config.track_files {
        out.open(&format!("track_file {}", word(&file.name)));
        out.line(format!("file {}", word(&file.file)));
        out.line(format!(
            "weight {}{}",
            file.weight,
            if file.reverse { " reverse" } else { "" }
        ));
        if let Some((value, overwrite)) = file.init_file {
            out.line(format!(
                "init_file {value}{}",
                if overwrite { " overwrite" } else { "" }
            ));
        }
        out.close();
    }
    for process in &config.track_processes {
        out.open(&format!("vrrp_track_process {}", word(&process.name)));
        out.line(format!(
            "process {}",
            process
                .process
                .iter()
                .map(|w| shell_word(w))
                .collect::<Vec<_>>()
                .join(" ")
        ));
        if let Some(mode) = &process.param_match {
            out.line(format!("param_match {mode}"));
        }
        out.line(format!(
            "weight {}{}",
            process.weight,
            if process.reverse { " reverse" } else { "" }
        ));
        out.line(format!("quorum {}", process.quorum));
        if let Some(max) = process.quorum_max {
            out.line(format!("quorum_max {max}"));
        }
        for (name, value) in [
            ("delay", process.delay),
            ("fork_delay", process.fork_delay),
            ("terminate_delay", process.terminate_delay),
        ] {
            if let Some(value) = value {
                out.line(format!("{name} {}", format_seconds(value)));
            }
        }
        if process.full_command {
            out.line("full_command");
        }
        out.close();
    }
}

pub(super) fn instance(out: &mut Writer, instance: &VrrpInstance) {
    out.open(&format!("vrrp_instance {}", word(&instance.name)));
    out.line(format!("# defined at {}", instance.defined_at));
    // The wish keepalived derives when `state` is missing: MASTER for an address owner.
    let wish = instance.state.unwrap_or(if instance.wishes_master() {
        InitialState::Master
    } else {
        InitialState::Backup
    });
    out.line(format!(
        "state {}",
        if wish == InitialState::Master {
            "MASTER"
        } else {
            "BACKUP"
        }
    ));
    if let Some(interface) = &instance.interface {
        out.line(format!("interface {interface}"));
    }
    out.line(format!("virtual_router_id {}", instance.vrid.0));
    out.line(format!("priority {}", instance.priority.0));
    out.line(format!(
        "advert_int {}",
        format_seconds(instance.advert_int)
    ));
    out.line(format!(
        "version {}",
        if instance.version == Version::V2 {
            2
        } else {
            3
        }
    ));
    if instance.native_ipv6 {
        out.line("native_ipv6");
    }
    if let Some(vrf) = &instance.vrf {
        out.line(format!("vrf {vrf}"));
    }
    if let Some(vmac) = &instance.vmac {
        let mut text = "use_vmac".to_string();
        let name = vmac.interface.as_ref().map(ToString::to_string);
        for part in [name, vmac.mac.clone()].into_iter().flatten() {
            text.push(' ');
            text.push_str(&part);
        }
        out.line(text);
        if vmac.xmit_base {
            out.line("vmac_xmit_base");
        }
        if vmac.use_vmac_addr {
            out.line("use_vmac_addr");
        }
    }
    if let Some(ipvlan) = &instance.ipvlan {
        let mut text = "use_ipvlan".to_string();
        for part in [
            ipvlan.interface.as_ref().map(ToString::to_string),
            ipvlan.address.map(|a| a.to_string()),
            ipvlan.mode.clone(),
        ]
        .into_iter()
        .flatten()
        {
            text.push(' ');
            text.push_str(&part);
        }
        out.line(text);
    }
    match &instance.authentication {
        Some(Authentication::Pass(password)) => {
            out.open("authentication");
            out.line("auth_type PASS");
            out.line(format!("auth_pass {}", word(password)));
            out.close();
        }
        Some(Authentication::Ah) => {
            out.open("authentication");
            out.line("auth_type AH");
            out.close();
        }
        None => {}
    }
    addresses_block(out, "virtual_ipaddress", &instance.virtual_ipaddress);
    addresses_block(
        out,
        "virtual_ipaddress_excluded",
        &instance.virtual_ipaddress_excluded,
    );
    flag(out, "no_virtual_ipaddress", instance.no_virtual_ipaddress);
    flag(out, "promote_secondaries", instance.promote_secondaries);
    routes_block(out, "virtual_routes", &instance.virtual_routes);
    rules_block(out, "virtual_rules", &instance.virtual_rules);
    out.line(if instance.preempt {
        "preempt"
    } else {
        "nopreempt"
    });
    if !instance.preempt_delay.is_zero() {
        out.line(format!(
            "preempt_delay {}",
            format_seconds(instance.preempt_delay)
        ));
    }
    match instance.accept {
        Some(true) => out.line("accept"),
        Some(false) => out.line("no_accept"),
        None => {}
    }
    tracking(out, &instance.track);
    flag(out, "dont_track_primary", instance.dont_track_primary);
    flag(out, "track_src_ip", instance.track_src_ip);
    if let Some(addr) = instance.mcast_src_ip {
        out.line(format!("mcast_src_ip {addr}"));
    }
    if let Some(addr) = instance.mcast_dst_ip {
        out.line(format!("mcast_dst_ip {addr}"));
    }
    let unicast = &instance.unicast;
    if let Some(addr) = unicast.src_ip {
        out.line(format!("unicast_src_ip {addr}"));
    }
    if !unicast.peers.is_empty() {
        out.open("unicast_peer");
        for peer in &unicast.peers {
            let mut text = peer.address.to_string();
            if let Some(ttl) = peer.min_ttl {
                let _ = write!(text, " min_ttl {ttl}");
            }
            if let Some(ttl) = peer.max_ttl {
                let _ = write!(text, " max_ttl {ttl}");
            }
            out.line(text);
        }
        out.close();
    }
    if let Some(ttl) = unicast.ttl {
        out.line(format!("unicast_ttl {ttl}"));
    }
    flag(out, "unicast_fault_no_peer", unicast.fault_no_peer);
    flag(out, "check_unicast_src", unicast.check_unicast_src);
    match unicast.old_checksum {
        Some(true) => out.line("old_unicast_checksum"),
        Some(false) => out.line("old_unicast_checksum never"),
        None => {}
    }
    garp(out, "", &instance.garp);
    if let Some(extra) = &instance.garp_extra_if {
        out.line(format!(
            "garp_extra_if {}{}",
            if extra.all { "all " } else { "" },
            format_seconds(extra.delay)
        ));
    }
    out.line(format!(
        "down_timer_adverts {}",
        instance.down_timer_adverts
    ));
    out.line(format!(
        "lower_prio_no_advert {}",
        on_off(instance.lower_prio_no_advert)
    ));
    out.line(format!(
        "higher_prio_send_advert {}",
        on_off(instance.higher_prio_send_advert)
    ));
    out.line(format!(
        "skip_check_adv_addr {}",
        on_off(instance.skip_check_adv_addr)
    ));
    out.line(format!("strict_mode {}", on_off(instance.strict_mode)));
    notify(out, &instance.notify);
    out.line(format!(
        "notify_priority_changes {}",
        on_off(instance.notify_priority_changes)
    ));
    if let Some(alert) = instance.smtp_alert {
        out.line(format!("smtp_alert {}", on_off(alert)));
    }
    if let Some(level) = instance.debug {
        out.line(format!("debug {level}"));
    }
    if let Some(size) = instance.kernel_rx_buf_size {
        out.line(format!("kernel_rx_buf_size {size}"));
    }
    flag(out, "linkbeat_use_polling", instance.linkbeat_use_polling);
    out.close();
}

pub(super) fn sync_groups(out: &mut Writer, config: &Config) {
    for group in &config.sync_groups {
        out.open(&format!("vrrp_sync_group {}", word(&group.name)));
        out.open("group");
        for member in &group.members {
            out.line(word(&member.name));
        }
        out.close();
        tracking(out, &group.track);
        notify(out, &group.notify);
        out.line(format!(
            "notify_priority_changes {}",
            on_off(group.notify_priority_changes)
        ));
        if let Some(alert) = group.smtp_alert {
            out.line(format!("smtp_alert {}", on_off(alert)));
        }
        flag(out, "global_tracking", group.global_tracking);
        flag(
            out,
            "sync_group_tracking_weight",
            group.sync_group_tracking_weight,
        );
        out.close();
    }
}

pub(super) fn tracking(out: &mut Writer, track: &Tracking) {
    for (name, refs) in [
        ("track_interface", &track.interfaces),
        ("track_script", &track.scripts),
        ("track_file", &track.files),
        ("track_process", &track.processes),
        ("track_bfd", &track.bfd),
    ] {
        if refs.is_empty() {
            continue;
        }
        out.open(name);
        for reference in refs {
            let mut text = word(&reference.name);
            if let Some(weight) = reference.weight {
                let _ = write!(text, " weight {weight}");
            }
            if reference.reverse {
                text.push_str(" reverse");
            }
            out.line(text);
        }
        out.close();
    }
}

pub(super) fn notify(out: &mut Writer, notify: &Notify) {
    for (name, script) in [
        ("notify_master", &notify.master),
        ("notify_backup", &notify.backup),
        ("notify_fault", &notify.fault),
        ("notify_stop", &notify.stop),
        ("notify", &notify.any),
        ("notify_master_rx_lower_pri", &notify.master_rx_lower_pri),
    ] {
        if let Some(script) = script {
            out.line(format!("{name} {}", script_line(script)));
        }
    }
    match &notify.deleted {
        Some(Some(script)) => out.line(format!("notify_deleted {}", script_line(script))),
        Some(None) => out.line("notify_deleted"),
        None => {}
    }
}
