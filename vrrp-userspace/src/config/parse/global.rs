//! `global_defs`: the keyword table and its handlers (keepalived 2.2.7's global_parser.c).

use std::net::IpAddr;
use std::time::Duration;

use super::keyword::{Keyword, dump_table};
use super::{BoolArg, Cx};
use crate::config::dump::{Writer, flag_line, on_off, script_line, word};
use crate::config::model::{GarpSettings, GlobalDefs, NotifyFifo, SmtpServer};
use crate::config::tree::Statement;
use crate::config::values::format_seconds;
use crate::protocol::Version;

impl Cx<'_> {
    pub(crate) fn global_defs(&mut self, s: &Statement) {
        let defaults_before = self.config.global.instance_defaults.clone();
        let mut global = std::mem::take(&mut self.config.global);
        for item in self.block(s) {
            self.dispatch(GLOBAL, &mut global, item, "in global_defs");
        }
        self.config.global = global;
        // keepalived copies these defaults into an instance when it parses it (section 3).
        if self.config.global.instance_defaults != defaults_before
            && let Some(first) = self.drafts.first()
        {
            self.diagnostics
                .warning(
                    &s.keyword_span(),
                    format!(
                        "global_defs after vrrp_instance {}: its GARP and timer defaults do not apply to instances above it",
                        first.instance.name
                    ),
                )
                .hint("keepalived applies these defaults in file order; move global_defs to the top");
        }
    }

    /// The gap between gratuitous ARPs or NAs: decimal seconds. `vrrp_garp_interval` and
    /// `vrrp_gna_interval` take 0.000001 and up (keepalived reports 0 as invalid and keeps the
    /// value it had, by default no gap); `garp_group`'s take 0.
    pub(crate) fn packet_gap(&mut self, s: &Statement) -> Option<Duration> {
        let zero_is_invalid = s.name().starts_with("vrrp_");
        let gap = self.seconds(
            s,
            0,
            Duration::ZERO,
            Duration::from_secs(u64::from(u32::MAX)),
        )?;
        if gap.is_zero() && zero_is_invalid {
            self.diagnostics
                .error(
                    &s.arg_span(0),
                    format!("'{}' must be at least 0.000001 seconds; ignored", s.name()),
                )
                .hint("keepalived 2.2.7 reports 0 as invalid and keeps its default (no gap); remove the line");
            return None;
        } else if gap >= Duration::from_secs(1) {
            self.diagnostics.warning(
                &s.arg_span(0),
                format!(
                    "{} of {} seconds is very large",
                    s.name(),
                    format_seconds(gap)
                ),
            );
        }
        Some(gap)
    }
}

fn string_value(cx: &mut Cx, s: &Statement, what: &str) -> Option<String> {
    match s.arg(0) {
        Some(value) => Some(value.to_string()),
        None => {
            cx.diagnostics.error(
                &s.arg_span(0),
                format!("{} needs {what}; ignored", s.name()),
            );
            None
        }
    }
}

fn mcast_group(cx: &mut Cx, g: &mut GlobalDefs, s: &Statement) {
    let Some(text) = cx.value(s, 0) else {
        return;
    };
    let Some(addr) = crate::config::values::sockaddr(text) else {
        cx.diagnostics.error(
            &s.arg_span(0),
            format!("{} '{text}' is not an address; ignored", s.name()),
        );
        return;
    };
    match (s.name(), addr) {
        ("vrrp_mcast_group4", IpAddr::V4(v4)) if v4.is_multicast() => g.vrrp_mcast_group4 = v4,
        ("vrrp_mcast_group6", IpAddr::V6(v6)) if v6.is_multicast() => {
            if v6.segments()[0] & 0xff0f != 0xff02 {
                // keepalived reports it (CONFIG_WARNING, which -t counts) and uses it.
                cx.diagnostics.error(
                    &s.arg_span(0),
                    format!("vrrp_mcast_group6 {v6} should be a link-local multicast address"),
                );
            }
            g.vrrp_mcast_group6 = v6;
        }
        _ => {
            cx.diagnostics.error(
                &s.arg_span(0),
                format!(
                    "{} {addr} is not an IPv{} multicast address; ignored",
                    s.name(),
                    if s.name().ends_with('4') { 4 } else { 6 }
                ),
            );
        }
    }
}

fn repeat(cx: &mut Cx, s: &Statement) -> Option<u32> {
    let value = cx.unsigned(s, 0, 0, u64::from(u32::MAX))?;
    if value == 0 {
        cx.diagnostics.error(
            &s.arg_span(0),
            format!("'{}' must be greater than 0; using 1", s.name()),
        );
        return Some(1);
    }
    Some(value as u32)
}

fn whole_seconds(cx: &mut Cx, s: &Statement) -> Option<Duration> {
    cx.unsigned(s, 0, 0, u64::from(u32::MAX) / 1_000_000)
        .map(Duration::from_secs)
}

fn fifo(cx: &mut Cx, slot: &mut Option<NotifyFifo>, s: &Statement) {
    let Some(path) = s.arg(0) else {
        cx.diagnostics.error(
            &s.arg_span(0),
            format!("{} needs a FIFO name; ignored", s.name()),
        );
        return;
    };
    if slot.as_ref().is_some_and(|fifo| !fifo.path.is_empty()) {
        cx.diagnostics.error(
            &s.arg_span(0),
            format!("{} is already set; ignored", s.name()),
        );
        return;
    }
    let script = slot.take().and_then(|fifo| fifo.script);
    *slot = Some(NotifyFifo {
        path: path.to_string(),
        script,
    });
}

fn fifo_script(cx: &mut Cx, slot: &mut Option<NotifyFifo>, s: &Statement) {
    if s.args.is_empty() {
        cx.diagnostics.error(
            &s.arg_span(0),
            format!("{} needs a script; ignored", s.name()),
        );
        return;
    }
    if slot.as_ref().is_some_and(|fifo| fifo.script.is_some()) {
        cx.diagnostics.error(
            &s.arg_span(0),
            format!("{} is already set; ignored", s.name()),
        );
        return;
    }
    // keepalived keeps the script even before (or without) the FIFO itself.
    let script = cx.script_command(s);
    let fifo = slot.get_or_insert_with(|| NotifyFifo {
        path: String::new(),
        script: None,
    });
    fifo.script = script;
}

fn dump_fifo(out: &mut Writer, name: &str, fifo: &Option<NotifyFifo>) {
    if let Some(fifo) = fifo {
        if !fifo.path.is_empty() {
            out.line(format!("{name} {}", word(&fifo.path)));
        }
        if let Some(script) = &fifo.script {
            out.line(format!("{name}_script {}", script_line(script)));
        }
    }
}

/// A flag whose keepalived handler ignores its argument.
fn switch(cx: &mut Cx, s: &Statement) -> bool {
    cx.switch(s)
}

fn boolean_into(cx: &mut Cx, s: &Statement, target: &mut bool) {
    match cx.bool_arg(s) {
        BoolArg::Absent => *target = true,
        BoolArg::Value(value) => *target = value,
        BoolArg::Invalid => {}
    }
}

/// A keepalived keyword with no meaning for xvrrpd (checker, BFD, SNMP, DBus, nftables, LVS
/// sync, process names, netlink buffer sizes...): accepted and listed in `--dump-conf`.
fn ignore(cx: &mut Cx, _: &mut GlobalDefs, s: &Statement) {
    cx.ignore(s);
}

/// The global_defs keywords, in the order `--dump-conf` writes them: those xvrrpd uses, then
/// those it accepts and ignores.
pub(crate) const GLOBAL: &[Keyword<GlobalDefs, GlobalDefs>] = &[
    Keyword::new(
        "router_id",
        |cx, g, s| {
            if let Some(id) = string_value(cx, s, "a name") {
                g.router_id = Some(id);
            }
        },
        |out, g| {
            if let Some(id) = &g.router_id {
                out.line(format!("router_id {}", word(id)));
            }
        },
    ),
    Keyword::read_only("lvs_id", |cx, g, s| {
        cx.newer_keyword(s, "keepalived 1.x's name of router_id");
        if let Some(id) = string_value(cx, s, "a name") {
            g.router_id = Some(id);
        }
    }),
    Keyword::new(
        "notification_email",
        |cx, g, s| {
            let emails: Vec<String> = cx
                .block(s)
                .iter()
                .flat_map(|e| std::iter::once(&e.keyword).chain(&e.args))
                .map(|t| t.text.clone())
                .collect();
            if emails.is_empty() {
                cx.diagnostics
                    .error(&s.keyword_span(), "the notification_email block is empty");
            }
            g.notification_email.extend(emails);
        },
        |out, g| {
            if !g.notification_email.is_empty() {
                out.open("notification_email");
                for email in &g.notification_email {
                    out.line(word(email));
                }
                out.close();
            }
        },
    ),
    Keyword::new(
        "notification_email_from",
        |cx, g, s| {
            if let Some(from) = string_value(cx, s, "an address") {
                g.notification_email_from = Some(from);
            }
        },
        |out, g| {
            if let Some(from) = &g.notification_email_from {
                out.line(format!("notification_email_from {}", word(from)));
            }
        },
    ),
    Keyword::new(
        "smtp_server",
        |cx, g, s| {
            let Some(host) = cx.value(s, 0) else {
                return;
            };
            let port = match s.arg(1) {
                Some(text) => match super::number::unsigned(text, 1, 65535) {
                    Ok(port) => port as u16,
                    Err(_) => {
                        cx.diagnostics.error(
                            &s.arg_span(1),
                            format!("smtp_server port '{text}' must be 1..=65535; ignored"),
                        );
                        return;
                    }
                },
                None => 25,
            };
            g.smtp_server = Some(SmtpServer {
                host: host.to_string(),
                port,
            });
        },
        |out, g| {
            if let Some(server) = &g.smtp_server {
                out.line(format!(
                    "smtp_server {} {}",
                    word(&server.host),
                    server.port
                ));
            }
        },
    ),
    Keyword::new(
        "smtp_helo_name",
        |_, g, s| {
            if let Some(helo) = s.arg(0) {
                g.smtp_helo_name = Some(helo.to_string());
            }
        },
        |out, g| {
            if let Some(helo) = &g.smtp_helo_name {
                out.line(format!("smtp_helo_name {}", word(helo)));
            }
        },
    ),
    Keyword::new(
        "smtp_connect_timeout",
        |cx, g, s| {
            if let Some(seconds) = cx.unsigned(s, 0, 0, u64::from(u32::MAX) / 1_000_000) {
                if seconds == 0 {
                    cx.diagnostics.error(
                        &s.arg_span(0),
                        "smtp_connect_timeout must be greater than 0; using 1",
                    );
                }
                g.smtp_connect_timeout = Duration::from_secs(seconds.max(1));
            }
        },
        |out, g| {
            out.line(format!(
                "smtp_connect_timeout {}",
                g.smtp_connect_timeout.as_secs()
            ))
        },
    ),
    Keyword::new(
        "smtp_alert",
        |cx, g, s| {
            if let Some(value) = cx.flag(s) {
                g.smtp_alert = Some(value);
            }
        },
        |out, g| {
            if let Some(alert) = g.smtp_alert {
                out.line(format!("smtp_alert {}", on_off(alert)));
            }
        },
    ),
    Keyword::new(
        "smtp_alert_vrrp",
        |cx, g, s| {
            if let Some(value) = cx.flag(s) {
                g.smtp_alert_vrrp = Some(value);
            }
        },
        |out, g| {
            if let Some(alert) = g.smtp_alert_vrrp {
                out.line(format!("smtp_alert_vrrp {}", on_off(alert)));
            }
        },
    ),
    Keyword::new(
        "vrrp_version",
        |cx, g, s| {
            if let Ok(version) = cx.int(s, 0, 2, 3) {
                g.vrrp_version = if version == 2 {
                    Version::V2
                } else {
                    Version::V3
                };
            }
        },
        |out, g| {
            out.line(format!(
                "vrrp_version {}",
                if g.vrrp_version == Version::V2 { 2 } else { 3 }
            ))
        },
    ),
    Keyword::new("vrrp_mcast_group4", mcast_group, |out, g| {
        out.line(format!("vrrp_mcast_group4 {}", g.vrrp_mcast_group4))
    }),
    Keyword::new("vrrp_mcast_group6", mcast_group, |out, g| {
        out.line(format!("vrrp_mcast_group6 {}", g.vrrp_mcast_group6))
    }),
    Keyword::new(
        "vrrp_strict",
        |cx, g, s| g.vrrp_strict = switch(cx, s),
        |out, g| flag_line(out, "vrrp_strict", g.vrrp_strict),
    ),
    Keyword::new(
        "v3_checksum_as_v2",
        |cx, g, s| {
            // Not a keepalived 2.2.7 keyword: xvrrpd's own, kept for files written for it.
            cx.newer_keyword(s, "the VRRPv3 IPv4 checksum without the pseudo-header");
            boolean_into(cx, s, &mut g.v3_checksum_as_v2);
        },
        |out, g| flag_line(out, "v3_checksum_as_v2", g.v3_checksum_as_v2),
    ),
    Keyword::new(
        "vrrp_skip_check_adv_addr",
        |cx, g, s| g.vrrp_skip_check_adv_addr = switch(cx, s),
        |out, g| flag_line(out, "vrrp_skip_check_adv_addr", g.vrrp_skip_check_adv_addr),
    ),
    Keyword::new(
        "vrrp_check_unicast_src",
        |cx, g, s| g.vrrp_check_unicast_src = switch(cx, s),
        |out, g| flag_line(out, "vrrp_check_unicast_src", g.vrrp_check_unicast_src),
    ),
    Keyword::new(
        "vrrp_notify_priority_changes",
        |cx, g, s| {
            if let Some(value) = cx.flag(s) {
                g.vrrp_notify_priority_changes = value;
            }
        },
        |out, g| {
            out.line(format!(
                "vrrp_notify_priority_changes {}",
                on_off(g.vrrp_notify_priority_changes)
            ))
        },
    ),
    Keyword::new(
        "vrrp_down_timer_adverts",
        |cx, g, s| {
            if let Some(n) = cx.unsigned(s, 0, 1, 100) {
                g.instance_defaults.down_timer_adverts = n as u32;
            }
        },
        |out, g| {
            out.line(format!(
                "vrrp_down_timer_adverts {}",
                g.instance_defaults.down_timer_adverts
            ))
        },
    ),
    Keyword::new(
        "vrrp_lower_prio_no_advert",
        |cx, g, s| boolean_into(cx, s, &mut g.instance_defaults.lower_prio_no_advert),
        |out, g| {
            out.line(format!(
                "vrrp_lower_prio_no_advert {}",
                on_off(g.instance_defaults.lower_prio_no_advert)
            ))
        },
    ),
    Keyword::new(
        "vrrp_higher_prio_send_advert",
        |cx, g, s| boolean_into(cx, s, &mut g.instance_defaults.higher_prio_send_advert),
        |out, g| {
            out.line(format!(
                "vrrp_higher_prio_send_advert {}",
                on_off(g.instance_defaults.higher_prio_send_advert)
            ))
        },
    ),
    Keyword::new(
        "vrrp_garp_master_delay",
        |cx, g, s| {
            if let Some(delay) = whole_seconds(cx, s) {
                g.instance_defaults.garp.master_delay = delay;
            }
        },
        |out, g| garp(out, &g.instance_defaults.garp),
    ),
    Keyword::read_only("vrrp_garp_master_repeat", |cx, g, s| {
        if let Some(n) = repeat(cx, s) {
            g.instance_defaults.garp.master_repeat = n;
        }
    }),
    Keyword::read_only("vrrp_garp_master_refresh", |cx, g, s| {
        g.instance_defaults.garp.master_refresh = cx
            .unsigned(s, 0, 0, u64::from(u32::MAX))
            .map_or(Duration::ZERO, Duration::from_secs);
    }),
    Keyword::read_only("vrrp_garp_master_refresh_repeat", |cx, g, s| {
        if let Some(n) = repeat(cx, s) {
            g.instance_defaults.garp.master_refresh_repeat = n;
        }
    }),
    Keyword::read_only("vrrp_garp_lower_prio_delay", |cx, g, s| {
        if let Some(delay) = whole_seconds(cx, s) {
            g.instance_defaults.garp.lower_prio_delay = Some(delay);
        }
    }),
    Keyword::read_only("vrrp_garp_lower_prio_repeat", |cx, g, s| {
        if let Some(n) = cx.unsigned(s, 0, 0, i32::MAX as u64) {
            g.instance_defaults.garp.lower_prio_repeat = Some(n as u32);
        }
    }),
    Keyword::read_only("vrrp_garp_interval", |cx, g, s| {
        if let Some(gap) = cx.packet_gap(s) {
            g.instance_defaults.garp.garp_interval = gap;
        }
    }),
    Keyword::read_only("vrrp_gna_interval", |cx, g, s| {
        if let Some(gap) = cx.packet_gap(s) {
            g.instance_defaults.garp.gna_interval = gap;
        }
    }),
    Keyword::read_only("vrrp_min_garp", |cx, g, s| {
        let on = match cx.bool_arg(s) {
            BoolArg::Absent | BoolArg::Value(true) => true,
            BoolArg::Value(false) | BoolArg::Invalid => false,
        };
        if on {
            // keepalived (vrrp_min_garp_handler): one GARP on becoming master, no second
            // burst, no refresh - but only where the setting still has its default value;
            // settings given before it stay.
            let defaults = GarpSettings::default();
            let garp = &mut g.instance_defaults.garp;
            garp.min_garp = true;
            if garp.master_repeat == defaults.master_repeat {
                garp.master_repeat = 1;
            }
            if garp.master_delay == defaults.master_delay {
                garp.master_delay = Duration::ZERO;
            }
            if garp.master_refresh_repeat == defaults.master_refresh_repeat {
                garp.master_refresh_repeat = 0;
            }
        }
    }),
    Keyword::new(
        "script_user",
        |cx, g, s| {
            let Some(user) = s.arg(0) else {
                cx.diagnostics
                    .error(&s.arg_span(0), "script_user needs a user name; ignored");
                return;
            };
            // Whether the user exists is checked with the scripts (a host question).
            g.script_user = Some(user.to_string());
            g.script_group = s.arg(1).map(str::to_string);
        },
        |out, g| {
            if let Some(user) = &g.script_user {
                out.line(format!(
                    "script_user {}{}",
                    word(user),
                    g.script_group
                        .as_deref()
                        .map(|group| format!(" {}", word(group)))
                        .unwrap_or_default()
                ));
            }
        },
    ),
    Keyword::new(
        "enable_script_security",
        |cx, g, s| g.enable_script_security = switch(cx, s),
        |out, g| flag_line(out, "enable_script_security", g.enable_script_security),
    ),
    Keyword::new(
        "notify_fifo",
        |cx, g, s| fifo(cx, &mut g.notify_fifo, s),
        |out, g| dump_fifo(out, "notify_fifo", &g.notify_fifo),
    ),
    Keyword::read_only("notify_fifo_script", |cx, g, s| {
        fifo_script(cx, &mut g.notify_fifo, s)
    }),
    Keyword::new(
        "vrrp_notify_fifo",
        |cx, g, s| fifo(cx, &mut g.vrrp_notify_fifo, s),
        |out, g| dump_fifo(out, "vrrp_notify_fifo", &g.vrrp_notify_fifo),
    ),
    Keyword::read_only("vrrp_notify_fifo_script", |cx, g, s| {
        fifo_script(cx, &mut g.vrrp_notify_fifo, s)
    }),
    Keyword::new(
        "dynamic_interfaces",
        |cx, g, s| {
            g.dynamic_interfaces = true;
            if let Some(option) = s.arg(0)
                && option != "allow_if_changes"
            {
                cx.diagnostics
                    .error(
                        &s.arg_span(0),
                        format!("unknown dynamic_interfaces option '{option}'"),
                    )
                    .hint("dynamic_interfaces [allow_if_changes]");
            }
        },
        |out, g| flag_line(out, "dynamic_interfaces", g.dynamic_interfaces),
    ),
    Keyword::new(
        "default_interface",
        |cx, g, s| {
            let Some(name) = s.arg(0) else {
                cx.diagnostics
                    .error(&s.arg_span(0), "default_interface needs an interface name");
                return;
            };
            if let Some(name) = cx.interface_name(s.arg_span(0), name) {
                g.default_interface = Some(name);
            }
        },
        |out, g| {
            if let Some(interface) = &g.default_interface {
                out.line(format!("default_interface {interface}"));
            }
        },
    ),
    Keyword::new(
        "vrrp_startup_delay",
        |cx, g, s| {
            if let Some(delay) = cx.seconds(
                s,
                0,
                Duration::from_millis(1),
                Duration::from_secs(u64::from(u32::MAX) / 1_000_000),
            ) {
                g.vrrp_startup_delay = Some(delay);
            }
        },
        |out, g| {
            if let Some(delay) = g.vrrp_startup_delay {
                out.line(format!("vrrp_startup_delay {}", format_seconds(delay)));
            }
        },
    ),
    Keyword::new(
        "vmac_prefix",
        |cx, g, s| {
            let Some(prefix) = cx.value(s, 0) else {
                return;
            };
            if g.vmac_prefix.is_some() {
                cx.diagnostics
                    .error(&s.arg_span(0), "vmac_prefix is already set; ignored");
                return;
            }
            g.vmac_prefix = Some(prefix.to_string());
        },
        |out, g| {
            if let Some(prefix) = &g.vmac_prefix {
                out.line(format!("vmac_prefix {}", word(prefix)));
            }
        },
    ),
    Keyword::new(
        "vmac_addr_prefix",
        |cx, g, s| {
            let Some(prefix) = cx.value(s, 0) else {
                return;
            };
            if g.vmac_addr_prefix.is_some() {
                cx.diagnostics
                    .error(&s.arg_span(0), "vmac_addr_prefix is already set; ignored");
                return;
            }
            g.vmac_addr_prefix = Some(prefix.to_string());
        },
        |out, g| {
            if let Some(prefix) = &g.vmac_addr_prefix {
                out.line(format!("vmac_addr_prefix {}", word(prefix)));
            }
        },
    ),
    Keyword::new(
        "state_dump_file",
        |cx, g, s| {
            cx.newer_keyword(s, "where SIGUSR1 writes the state");
            g.state_dump_file = string_value(cx, s, "a file name");
        },
        |out, g| {
            if let Some(file) = &g.state_dump_file {
                out.line(format!("state_dump_file {}", word(file)));
            }
        },
    ),
    Keyword::new(
        "stats_dump_file",
        |cx, g, s| {
            cx.newer_keyword(s, "where SIGUSR2 writes the statistics");
            g.stats_dump_file = string_value(cx, s, "a file name");
        },
        |out, g| {
            if let Some(file) = &g.stats_dump_file {
                out.line(format!("stats_dump_file {}", word(file)));
            }
        },
    ),
    Keyword::new(
        "json_dump_file",
        |cx, g, s| {
            cx.newer_keyword(s, "where the JSON state is written");
            g.json_dump_file = string_value(cx, s, "a file name");
        },
        |out, g| {
            if let Some(file) = &g.json_dump_file {
                out.line(format!("json_dump_file {}", word(file)));
            }
        },
    ),
    Keyword::new(
        "max_auto_priority",
        |cx, g, s| {
            g.tuning.max_auto_priority = match s.arg(0) {
                None => Some(99),
                Some(_) => cx.int(s, 0, -1, 99).ok().map(|p| p as i32),
            }
        },
        |out, g| {
            if let Some(priority) = g.tuning.max_auto_priority {
                out.line(format!("max_auto_priority {priority}"));
            }
        },
    ),
    Keyword::new(
        "vrrp_priority",
        |cx, g, s| {
            if s.arg(0).is_none() {
                cx.diagnostics
                    .error(&s.arg_span(0), "vrrp_priority needs a value");
                return;
            }
            g.tuning.vrrp_priority = cx.int(s, 0, -20, 19).ok().map(|p| p as i32)
        },
        |out, g| {
            if let Some(priority) = g.tuning.vrrp_priority {
                out.line(format!("vrrp_priority {priority}"));
            }
        },
    ),
    Keyword::new(
        "vrrp_rt_priority",
        |cx, g, s| {
            if s.arg(0).is_none() {
                cx.diagnostics
                    .error(&s.arg_span(0), "vrrp_rt_priority needs a value");
                return;
            }
            if let Ok(priority) = cx.int(s, 0, i64::from(i32::MIN), i64::from(i32::MAX)) {
                let clamped = priority.clamp(1, 99);
                if clamped != priority {
                    cx.diagnostics.error(
                        &s.arg_span(0),
                        format!("vrrp_rt_priority {priority} is outside 1..=99; using {clamped}"),
                    );
                }
                g.tuning.vrrp_rt_priority = Some(clamped as i32);
            }
        },
        |out, g| {
            if let Some(priority) = g.tuning.vrrp_rt_priority {
                out.line(format!("vrrp_rt_priority {priority}"));
            }
        },
    ),
    Keyword::new(
        "vrrp_no_swap",
        |cx, g, s| g.tuning.vrrp_no_swap = switch(cx, s),
        |out, g| flag_line(out, "vrrp_no_swap", g.tuning.vrrp_no_swap),
    ),
    Keyword::new(
        "vrrp_cpu_affinity",
        |cx, g, s| {
            let mut cpus = Vec::new();
            for index in 0..s.args.len() {
                if let Some(cpu) = cx.unsigned(s, index, 0, 4095) {
                    cpus.push(cpu as u32);
                }
            }
            g.tuning.vrrp_cpu_affinity = cpus;
        },
        |out, g| {
            if !g.tuning.vrrp_cpu_affinity.is_empty() {
                out.line(format!(
                    "vrrp_cpu_affinity {}",
                    g.tuning
                        .vrrp_cpu_affinity
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
        },
    ),
    Keyword::new(
        "vrrp_rlimit_rttime",
        |cx, g, s| g.tuning.vrrp_rlimit_rttime = cx.unsigned(s, 0, 1, u64::from(u32::MAX)),
        |out, g| {
            if let Some(rttime) = g.tuning.vrrp_rlimit_rttime {
                out.line(format!("vrrp_rlimit_rttime {rttime}"));
            }
        },
    ),
    Keyword::read_only("vrrp_rlimit_rtime", |cx, g, s| {
        g.tuning.vrrp_rlimit_rttime = cx.unsigned(s, 0, 1, u64::from(u32::MAX))
    }),
    // Read by the preprocessor.
    Keyword::read_only("include_check", |_, _, _| {}),
    Keyword::read_only("tmp_config_directory", ignore),
    Keyword::read_only("config_save_dir", ignore),
    Keyword::read_only("process_names", ignore),
    Keyword::read_only("process_name", ignore),
    Keyword::read_only("vrrp_process_name", ignore),
    Keyword::read_only("checker_process_name", ignore),
    Keyword::read_only("lvs_process_name", ignore),
    Keyword::read_only("bfd_process_name", ignore),
    Keyword::read_only("startup_script", ignore),
    Keyword::read_only("startup_script_timeout", ignore),
    Keyword::read_only("shutdown_script", ignore),
    Keyword::read_only("shutdown_script_timeout", ignore),
    Keyword::read_only("smtp_alert_checker", ignore),
    Keyword::read_only("checker_log_all_failures", ignore),
    Keyword::read_only("no_email_faults", ignore),
    Keyword::read_only("lvs_sync_daemon", ignore),
    Keyword::read_only("lvs_timeouts", ignore),
    Keyword::read_only("lvs_flush", ignore),
    Keyword::read_only("lvs_flush_on_stop", ignore),
    Keyword::read_only("lvs_flush_onstop", ignore),
    Keyword::read_only("vrrp_garp_extra_if", ignore),
    Keyword::read_only("vrrp_vmac_garp_intvl", ignore),
    Keyword::read_only("nftables", ignore),
    Keyword::read_only("nftables_priority", ignore),
    Keyword::read_only("nftables_counters", ignore),
    Keyword::read_only("nftables_ifindex", ignore),
    Keyword::read_only("nftables_ipvs", ignore),
    Keyword::read_only("nftables_ipvs_priority", ignore),
    Keyword::read_only("nftables_ipvs_start_fwmark", ignore),
    Keyword::read_only("vrrp_iptables", ignore),
    Keyword::read_only("vrrp_ipsets", ignore),
    Keyword::read_only("disable_local_igmp", ignore),
    Keyword::read_only("min_auto_priority_delay", ignore),
    Keyword::read_only("checker_priority", ignore),
    Keyword::read_only("bfd_priority", ignore),
    Keyword::read_only("checker_no_swap", ignore),
    Keyword::read_only("bfd_no_swap", ignore),
    Keyword::read_only("checker_cpu_affinity", ignore),
    Keyword::read_only("bfd_cpu_affinity", ignore),
    Keyword::read_only("checker_rt_priority", ignore),
    Keyword::read_only("bfd_rt_priority", ignore),
    Keyword::read_only("checker_rlimit_rttime", ignore),
    Keyword::read_only("checker_rlimit_rtime", ignore),
    Keyword::read_only("bfd_rlimit_rttime", ignore),
    Keyword::read_only("bfd_rlimit_rtime", ignore),
    Keyword::read_only("snmp_socket", ignore),
    Keyword::read_only("enable_snmp_vrrp", ignore),
    Keyword::read_only("enable_snmp_keepalived", ignore),
    Keyword::read_only("enable_snmp_checker", ignore),
    Keyword::read_only("enable_snmp_rfc", ignore),
    Keyword::read_only("enable_snmp_rfcv2", ignore),
    Keyword::read_only("enable_snmp_rfcv3", ignore),
    Keyword::read_only("enable_traps", ignore),
    Keyword::read_only("enable_dbus", ignore),
    Keyword::read_only("dbus_service_name", ignore),
    Keyword::read_only("lvs_notify_fifo", ignore),
    Keyword::read_only("lvs_notify_fifo_script", ignore),
    Keyword::read_only("fifo_write_vrrp_states_on_reload", ignore),
    Keyword::read_only("vrrp_netlink_cmd_rcv_bufs", ignore),
    Keyword::read_only("vrrp_netlink_cmd_rcv_bufs_force", ignore),
    Keyword::read_only("vrrp_netlink_monitor_rcv_bufs", ignore),
    Keyword::read_only("vrrp_netlink_monitor_rcv_bufs_force", ignore),
    Keyword::read_only("lvs_netlink_cmd_rcv_bufs", ignore),
    Keyword::read_only("lvs_netlink_cmd_rcv_bufs_force", ignore),
    Keyword::read_only("lvs_netlink_monitor_rcv_bufs", ignore),
    Keyword::read_only("lvs_netlink_monitor_rcv_bufs_force", ignore),
    Keyword::read_only("process_monitor_rcv_bufs", ignore),
    Keyword::read_only("process_monitor_rcv_bufs_force", ignore),
    Keyword::read_only("vrrp_rx_bufs_policy", ignore),
    Keyword::read_only("vrrp_rx_bufs_multiplier", ignore),
    Keyword::read_only("rs_init_notifies", ignore),
    Keyword::read_only("no_checker_emails", ignore),
    Keyword::read_only("umask", ignore),
    Keyword::read_only("log_unknown_vrids", ignore),
    Keyword::read_only("random_seed", ignore),
    Keyword::read_only("reload_check_config", ignore),
    Keyword::read_only("reload_time_file", ignore),
    Keyword::read_only("reload_repeat", ignore),
    Keyword::read_only("reload_file", ignore),
    Keyword::read_only("data_use_instance", ignore),
    Keyword::read_only("linkbeat_use_polling", ignore),
];

/// The GARP defaults of global_defs.
fn garp(out: &mut Writer, garp: &GarpSettings) {
    out.line(format!(
        "vrrp_garp_master_delay {}",
        garp.master_delay.as_secs()
    ));
    out.line(format!("vrrp_garp_master_repeat {}", garp.master_repeat));
    out.line(format!(
        "vrrp_garp_master_refresh {}",
        garp.master_refresh.as_secs()
    ));
    if garp.master_refresh_repeat > 0 {
        out.line(format!(
            "vrrp_garp_master_refresh_repeat {}",
            garp.master_refresh_repeat
        ));
    }
    if let Some(delay) = garp.lower_prio_delay {
        out.line(format!("vrrp_garp_lower_prio_delay {}", delay.as_secs()));
    }
    if let Some(repeat) = garp.lower_prio_repeat {
        out.line(format!("vrrp_garp_lower_prio_repeat {repeat}"));
    }
    // Zero gaps are the default and not written: keepalived refuses `0`.
    for (name, gap) in [
        ("vrrp_garp_interval", garp.garp_interval),
        ("vrrp_gna_interval", garp.gna_interval),
    ] {
        if !gap.is_zero() {
            out.line(format!("{name} {}", format_seconds(gap)));
        }
    }
    if garp.min_garp {
        out.line("vrrp_min_garp");
    }
}

/// Writes global_defs.
pub(crate) fn dump_global(out: &mut Writer, global: &GlobalDefs) {
    out.open("global_defs");
    dump_table(out, GLOBAL, global);
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
