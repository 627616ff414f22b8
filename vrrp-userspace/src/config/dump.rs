//! `--dump-conf`: the effective configuration, every default filled in and every include,
//! conditional and definition expanded, written back in keepalived.conf syntax (so it can be
//! read again) or as JSON.

use std::fmt::Write as _;

use super::model::{
    Authentication, Broadcast, Config, GarpSettings, Notify, Route, Rule, ScriptCommand, Section,
    Tracking, VirtualAddress, VirtualServerAddress,
};
use super::values::format_seconds;
use crate::protocol::Version;

pub fn to_json(config: &Config) -> String {
    serde_json::to_string_pretty(config).expect("the model serializes to JSON")
}

pub fn to_text(config: &Config) -> String {
    let mut out = Writer::default();
    global(&mut out, config);
    if let Some(ns) = &config.net_namespace {
        out.line(format!("net_namespace {}", word(ns)));
    }
    if !config.static_addresses.is_empty() {
        out.open("static_ipaddress");
        for address in &config.static_addresses {
            out.line(address_line(address));
        }
        out.close();
    }
    routes_block(&mut out, "static_routes", &config.static_routes);
    rules_block(&mut out, "static_rules", &config.static_rules);
    for group in &config.garp_groups {
        out.open("garp_group");
        if let Some(gap) = group.garp_interval {
            out.line(format!("garp_interval {}", format_seconds(gap)));
        }
        if let Some(gap) = group.gna_interval {
            out.line(format!("gna_interval {}", format_seconds(gap)));
        }
        out.open("interfaces");
        for interface in &group.interfaces {
            out.line(interface.clone());
        }
        out.close();
        out.close();
    }
    if !config.interface_up_down_delays.is_empty() {
        out.open("interface_up_down_delays");
        for delays in &config.interface_up_down_delays {
            out.line(format!(
                "{} {} {}",
                delays.interface,
                format_seconds(delays.down_delay),
                format_seconds(delays.up_delay)
            ));
        }
        out.close();
    }
    if !config.linkbeat_interfaces.is_empty() {
        out.open("linkbeat_interfaces");
        for interface in &config.linkbeat_interfaces {
            out.line(interface.clone());
        }
        out.close();
    }
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
    for instance in &config.instances {
        out.open(&format!("vrrp_instance {}", word(&instance.name)));
        out.line(format!("# defined at {}", instance.defined_at));
        out.line(format!(
            "state {}",
            if instance.state == super::model::InitialState::Master {
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
            for part in [&vmac.interface, &vmac.mac].into_iter().flatten() {
                text.push(' ');
                text.push_str(part);
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
                ipvlan.interface.clone(),
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
        addresses_block(&mut out, "virtual_ipaddress", &instance.virtual_ipaddress);
        addresses_block(
            &mut out,
            "virtual_ipaddress_excluded",
            &instance.virtual_ipaddress_excluded,
        );
        flag(
            &mut out,
            "no_virtual_ipaddress",
            instance.no_virtual_ipaddress,
        );
        flag(
            &mut out,
            "promote_secondaries",
            instance.promote_secondaries,
        );
        routes_block(&mut out, "virtual_routes", &instance.virtual_routes);
        rules_block(&mut out, "virtual_rules", &instance.virtual_rules);
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
        tracking(&mut out, &instance.track);
        flag(&mut out, "dont_track_primary", instance.dont_track_primary);
        flag(&mut out, "track_src_ip", instance.track_src_ip);
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
        flag(&mut out, "unicast_fault_no_peer", unicast.fault_no_peer);
        flag(&mut out, "check_unicast_src", unicast.check_unicast_src);
        match unicast.old_checksum {
            Some(true) => out.line("old_unicast_checksum"),
            Some(false) => out.line("old_unicast_checksum never"),
            None => {}
        }
        garp(&mut out, "", &instance.garp);
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
        notify(&mut out, &instance.notify);
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
        flag(
            &mut out,
            "linkbeat_use_polling",
            instance.linkbeat_use_polling,
        );
        out.close();
    }
    for group in &config.sync_groups {
        out.open(&format!("vrrp_sync_group {}", word(&group.name)));
        out.open("group");
        for member in &group.members {
            out.line(word(&member.name));
        }
        out.close();
        tracking(&mut out, &group.track);
        notify(&mut out, &group.notify);
        out.line(format!(
            "notify_priority_changes {}",
            on_off(group.notify_priority_changes)
        ));
        if let Some(alert) = group.smtp_alert {
            out.line(format!("smtp_alert {}", on_off(alert)));
        }
        flag(&mut out, "global_tracking", group.global_tracking);
        flag(
            &mut out,
            "sync_group_tracking_weight",
            group.sync_group_tracking_weight,
        );
        out.close();
    }
    for bfd in &config.bfd_instances {
        section(&mut out, bfd);
    }
    for group in &config.virtual_server_groups {
        out.open(&format!("virtual_server_group {}", word(&group.name)));
        for member in &group.members {
            out.line(member.iter().map(|w| word(w)).collect::<Vec<_>>().join(" "));
        }
        out.close();
    }
    for server in &config.virtual_servers {
        let address = match &server.address {
            VirtualServerAddress::Ip { address, port } => format!("{address} {port}"),
            VirtualServerAddress::Fwmark(mark) => format!("fwmark {mark}"),
            VirtualServerAddress::Group(name) => format!("group {}", word(name)),
        };
        out.open(&format!("virtual_server {address}"));
        if let Some(delay) = server.delay_loop {
            out.line(format!("delay_loop {}", format_seconds(delay)));
        }
        for (name, value) in [
            ("lb_algo", &server.lb_algo),
            ("lb_kind", &server.lb_kind),
            ("protocol", &server.protocol),
        ] {
            if let Some(value) = value {
                out.line(format!("{name} {value}"));
            }
        }
        if let Some(timeout) = server.persistence_timeout {
            out.line(format!("persistence_timeout {timeout}"));
        }
        if let Some(quorum) = server.quorum {
            out.line(format!("quorum {quorum}"));
        }
        if let Some(sorry) = &server.sorry_server {
            out.line(format!("sorry_server {}", sorry.join(" ")));
        }
        for setting in &server.settings {
            section(&mut out, setting);
        }
        for real in &server.real_servers {
            let port = real.port.map(|p| format!(" {p}")).unwrap_or_default();
            out.open(&format!("real_server {}{port}", real.address));
            if let Some(weight) = real.weight {
                out.line(format!("weight {weight}"));
            }
            for setting in &real.settings {
                section(&mut out, setting);
            }
            for checker in &real.checkers {
                out.open(&checker.kind);
                if let Some(timeout) = checker.connect_timeout {
                    out.line(format!("connect_timeout {}", format_seconds(timeout)));
                }
                if let Some(retry) = checker.retry {
                    out.line(format!("retry {retry}"));
                }
                if let Some(delay) = checker.delay_before_retry {
                    out.line(format!("delay_before_retry {}", format_seconds(delay)));
                }
                for setting in &checker.settings {
                    section(&mut out, setting);
                }
                out.close();
            }
            out.close();
        }
        out.close();
    }
    out.text
}

fn global(out: &mut Writer, config: &Config) {
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

fn garp(out: &mut Writer, prefix: &str, garp: &GarpSettings) {
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

fn tracking(out: &mut Writer, track: &Tracking) {
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

fn notify(out: &mut Writer, notify: &Notify) {
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

fn addresses_block(out: &mut Writer, name: &str, addresses: &[VirtualAddress]) {
    if addresses.is_empty() {
        return;
    }
    out.open(name);
    for address in addresses {
        out.line(address_line(address));
    }
    out.close();
}

fn address_line(vip: &VirtualAddress) -> String {
    let mut text = vip.address.to_string();
    match &vip.broadcast {
        Some(Broadcast::Address(addr)) => {
            let _ = write!(text, " brd {addr}");
        }
        Some(Broadcast::Derived) => text.push_str(" brd +"),
        Some(Broadcast::None) => text.push_str(" brd -"),
        None => {}
    }
    for (name, value) in [
        ("dev", &vip.dev),
        ("scope", &vip.scope),
        ("label", &vip.label),
        ("track_group", &vip.track_group),
    ] {
        if let Some(value) = value {
            let _ = write!(text, " {name} {}", word(value));
        }
    }
    if let Some(peer) = &vip.peer {
        let _ = write!(text, " peer {peer}");
    }
    for (name, on) in [
        ("home", vip.home),
        ("-nodad", vip.nodad),
        ("mngtmpaddr", vip.mngtmpaddr),
        ("noprefixroute", vip.noprefixroute),
        ("autojoin", vip.autojoin),
        ("no_track", vip.no_track),
        ("use_vmac", vip.use_vmac),
    ] {
        if on {
            let _ = write!(text, " {name}");
        }
    }
    if let Some(lifetime) = vip.preferred_lft {
        let _ = write!(text, " preferred_lft {lifetime}");
    }
    text
}

fn routes_block(out: &mut Writer, name: &str, routes: &[Route]) {
    if routes.is_empty() {
        return;
    }
    out.open(name);
    for route in routes {
        let mut text = String::new();
        if let Some(route_type) = &route.route_type {
            let _ = write!(text, "{route_type} ");
        }
        let _ = write!(text, "{}", route.destination);
        if let Some(src) = route.src {
            let _ = write!(text, " src {src}");
        }
        if let Some(via) = route.via {
            let _ = write!(text, " via {via}");
        }
        for nexthop in &route.nexthops {
            let _ = write!(text, " or {nexthop}");
        }
        if let Some(dev) = &route.dev {
            let _ = write!(text, " dev {dev}");
        }
        if let Some(table) = &route.table {
            let _ = write!(text, " table {}", word(table));
        }
        if let Some(metric) = route.metric {
            let _ = write!(text, " metric {metric}");
        }
        if let Some(scope) = &route.scope {
            let _ = write!(text, " scope {}", word(scope));
        }
        options(&mut text, &route.options);
        if route.no_track {
            text.push_str(" no_track");
        }
        out.line(text);
    }
    out.close();
}

fn rules_block(out: &mut Writer, name: &str, rules: &[Rule]) {
    if rules.is_empty() {
        return;
    }
    out.open(name);
    for rule in rules {
        let mut parts = Vec::new();
        if let Some(from) = &rule.from {
            parts.push(format!("from {from}"));
        }
        if let Some(to) = &rule.to {
            parts.push(format!("to {to}"));
        }
        if let Some(table) = &rule.table {
            parts.push(format!("table {}", word(table)));
        }
        if let Some(preference) = rule.preference {
            parts.push(format!("preference {preference}"));
        }
        if let Some(action) = &rule.action {
            parts.push(action.clone());
        }
        let mut text = parts.join(" ");
        options(&mut text, &rule.options);
        if rule.no_track {
            text.push_str(" no_track");
        }
        out.line(text.trim_start());
    }
    out.close();
}

fn options(text: &mut String, options: &[(String, Option<String>)]) {
    for (name, value) in options {
        let _ = write!(text, " {name}");
        if let Some(value) = value {
            let _ = write!(text, " {}", word(value));
        }
    }
}

fn section(out: &mut Writer, section: &Section) {
    let head = std::iter::once(section.keyword.as_str())
        .chain(section.args.iter().map(String::as_str))
        .map(word)
        .collect::<Vec<_>>()
        .join(" ");
    if section.children.is_empty() {
        out.line(head);
        return;
    }
    out.open(&head);
    for child in &section.children {
        self::section(out, child);
    }
    out.close();
}

fn flag(out: &mut Writer, name: &str, on: bool) {
    if on {
        out.line(name);
    }
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// A word as keepalived.conf needs it: double-quoted when it holds blanks, braces or comment
/// characters.
fn word(text: &str) -> String {
    if !text.is_empty()
        && !text.contains(|c: char| c.is_whitespace() || matches!(c, '{' | '}' | '#' | '!' | '"'))
    {
        text.to_string()
    } else {
        format!("\"{text}\"")
    }
}

/// An argument vector as one quoted keepalived string that splits back into the same words.
fn command(argv: &[String]) -> String {
    format!(
        "\"{}\"",
        argv.iter()
            .map(|w| shell_word(w))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

fn script_line(script: &ScriptCommand) -> String {
    let mut text = command(&script.argv);
    for part in [&script.user, &script.group].into_iter().flatten() {
        text.push(' ');
        text.push_str(&word(part));
    }
    text
}

/// A word for the shell-like splitter: single-quoted when it holds anything special.
fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@%^".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[derive(Default)]
struct Writer {
    text: String,
    depth: usize,
}

impl Writer {
    fn line(&mut self, text: impl AsRef<str>) {
        for _ in 0..self.depth {
            self.text.push_str("    ");
        }
        self.text.push_str(text.as_ref());
        self.text.push('\n');
    }

    fn open(&mut self, head: &str) {
        self.line(format!("{head} {{"));
        self.depth += 1;
    }

    fn close(&mut self) {
        self.depth -= 1;
        self.line("}");
    }
}
