//! `global_defs`.

use super::{Writer, flag, on_off, script_line, word};
use crate::config::model::{Config, GarpSettings};
use crate::config::values::format_seconds;
use crate::protocol::Version;

pub(super) fn global(out: &mut Writer, config: &Config) {
    let global = &config.global;
    out.open("global_defs");
    if let Some(id) = &global.router_id {
        out.line(format!("router_id {}", word(id)));
    }
    if !global.notification_email.is_empty() {
        out.open("notification_email");
        for email in &global.notification_email {
            out.line(word(email));
        }
        out.close();
    }
    if let Some(from) = &global.notification_email_from {
        out.line(format!("notification_email_from {}", word(from)));
    }
    if let Some(server) = &global.smtp_server {
        out.line(format!(
            "smtp_server {} {}",
            word(&server.host),
            server.port
        ));
    }
    if let Some(helo) = &global.smtp_helo_name {
        out.line(format!("smtp_helo_name {}", word(helo)));
    }
    out.line(format!(
        "smtp_connect_timeout {}",
        global.smtp_connect_timeout.as_secs()
    ));
    if let Some(alert) = global.smtp_alert {
        out.line(format!("smtp_alert {}", on_off(alert)));
    }
    if let Some(alert) = global.smtp_alert_vrrp {
        out.line(format!("smtp_alert_vrrp {}", on_off(alert)));
    }
    out.line(format!(
        "vrrp_version {}",
        if global.vrrp_version == Version::V2 {
            2
        } else {
            3
        }
    ));
    out.line(format!("vrrp_mcast_group4 {}", global.vrrp_mcast_group4));
    out.line(format!("vrrp_mcast_group6 {}", global.vrrp_mcast_group6));
    out.line(format!("vrrp_strict {}", on_off(global.vrrp_strict)));
    out.line(format!(
        "v3_checksum_as_v2 {}",
        on_off(global.v3_checksum_as_v2)
    ));
    out.line(format!(
        "vrrp_skip_check_adv_addr {}",
        on_off(global.vrrp_skip_check_adv_addr)
    ));
    out.line(format!(
        "vrrp_check_unicast_src {}",
        on_off(global.vrrp_check_unicast_src)
    ));
    out.line(format!(
        "vrrp_notify_priority_changes {}",
        on_off(global.vrrp_notify_priority_changes)
    ));
    let defaults = &global.instance_defaults;
    out.line(format!(
        "vrrp_down_timer_adverts {}",
        defaults.down_timer_adverts
    ));
    out.line(format!(
        "vrrp_lower_prio_no_advert {}",
        on_off(defaults.lower_prio_no_advert)
    ));
    out.line(format!(
        "vrrp_higher_prio_send_advert {}",
        on_off(defaults.higher_prio_send_advert)
    ));
    garp(out, "vrrp_", &defaults.garp);
    if let Some(user) = &global.script_user {
        out.line(format!(
            "script_user {}{}",
            word(user),
            global
                .script_group
                .as_deref()
                .map(|g| format!(" {}", word(g)))
                .unwrap_or_default()
        ));
    }
    out.line(format!(
        "enable_script_security {}",
        on_off(global.enable_script_security)
    ));
    for (name, fifo) in [
        ("notify_fifo", &global.notify_fifo),
        ("vrrp_notify_fifo", &global.vrrp_notify_fifo),
    ] {
        if let Some(fifo) = fifo {
            out.line(format!("{name} {}", word(&fifo.path)));
            if let Some(script) = &fifo.script {
                out.line(format!("{name}_script {}", script_line(script)));
            }
        }
    }
    if global.dynamic_interfaces {
        out.line("dynamic_interfaces");
    }
    if let Some(interface) = &global.default_interface {
        out.line(format!("default_interface {interface}"));
    }
    if let Some(delay) = global.vrrp_startup_delay {
        out.line(format!("vrrp_startup_delay {}", format_seconds(delay)));
    }
    for (name, value) in [
        ("vmac_prefix", &global.vmac_prefix),
        ("vmac_addr_prefix", &global.vmac_addr_prefix),
        ("state_dump_file", &global.state_dump_file),
        ("stats_dump_file", &global.stats_dump_file),
        ("json_dump_file", &global.json_dump_file),
    ] {
        if let Some(value) = value {
            out.line(format!("{name} {}", word(value)));
        }
    }
    let tuning = &global.tuning;
    for (name, value) in [
        ("max_auto_priority", tuning.max_auto_priority),
        ("vrrp_priority", tuning.vrrp_priority),
        ("vrrp_rt_priority", tuning.vrrp_rt_priority),
    ] {
        if let Some(value) = value {
            out.line(format!("{name} {value}"));
        }
    }
    flag(out, "vrrp_no_swap", tuning.vrrp_no_swap);
    if !tuning.vrrp_cpu_affinity.is_empty() {
        out.line(format!(
            "vrrp_cpu_affinity {}",
            tuning
                .vrrp_cpu_affinity
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    if let Some(rttime) = tuning.vrrp_rlimit_rttime {
        out.line(format!("vrrp_rlimit_rttime {rttime}"));
    }
    for ignored in &global.ignored {
        let words: Vec<&str> = std::iter::once(ignored.keyword.as_str())
            .chain(ignored.args.iter().map(String::as_str))
            .collect();
        out.line(format!(
            "# accepted, not used by xvrrpd: {} ({})",
            words.join(" "),
            ignored.at
        ));
    }
    out.close();
}

pub(super) fn garp(out: &mut Writer, prefix: &str, garp: &GarpSettings) {
    out.line(format!(
        "{prefix}garp_master_delay {}",
        format_seconds(garp.master_delay)
    ));
    out.line(format!("{prefix}garp_master_repeat {}", garp.master_repeat));
    out.line(format!(
        "{prefix}garp_master_refresh {}",
        format_seconds(garp.master_refresh)
    ));
    out.line(format!(
        "{prefix}garp_master_refresh_repeat {}",
        garp.master_refresh_repeat
    ));
    if let Some(delay) = garp.lower_prio_delay {
        out.line(format!(
            "{prefix}garp_lower_prio_delay {}",
            format_seconds(delay)
        ));
    }
    if let Some(repeat) = garp.lower_prio_repeat {
        out.line(format!("{prefix}garp_lower_prio_repeat {repeat}"));
    }
    // Zero gaps are the default and not written: `garp_interval 0` draws a warning.
    let gaps = [
        ("garp_interval", garp.garp_interval),
        ("gna_interval", garp.gna_interval),
    ];
    for (name, gap) in gaps.into_iter().filter(|(_, gap)| !gap.is_zero()) {
        out.line(format!("{prefix}{name} {}", format_seconds(gap)));
    }
    // `vrrp_min_garp` only exists globally; instances carry its effect in the values above.
    if garp.min_garp && !prefix.is_empty() {
        out.line("vrrp_min_garp");
    }
}
