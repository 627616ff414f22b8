//! `global_defs`.

use std::net::IpAddr;
use std::time::Duration;

use super::Cx;
use crate::config::model::{GarpSettings, NotifyFifo, SmtpServer};
use crate::config::tree::Statement;
use crate::protocol::Version;

const KNOWN: &[&str] = &[
    "router_id",
    "lvs_id",
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_helo_name",
    "smtp_connect_timeout",
    "smtp_alert",
    "smtp_alert_vrrp",
    "vrrp_version",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_strict",
    "v3_checksum_as_v2",
    "vrrp_skip_check_adv_addr",
    "vrrp_check_unicast_src",
    "vrrp_notify_priority_changes",
    "vrrp_down_timer_adverts",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
    "vrrp_garp_master_refresh",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_min_garp",
    "script_user",
    "enable_script_security",
    "notify_fifo",
    "notify_fifo_script",
    "vrrp_notify_fifo",
    "vrrp_notify_fifo_script",
    "dynamic_interfaces",
    "default_interface",
    "vrrp_startup_delay",
    "vmac_prefix",
    "vmac_addr_prefix",
    "state_dump_file",
    "stats_dump_file",
    "json_dump_file",
    "max_auto_priority",
    "vrrp_priority",
    "vrrp_rt_priority",
    "vrrp_no_swap",
    "vrrp_cpu_affinity",
    "vrrp_rlimit_rttime",
    "include_check",
];

/// keepalived keywords with no meaning for xvrrpd (checker, BFD, SNMP, DBus, nftables, LVS
/// sync, process names, netlink buffer sizes...): accepted and listed in `--dump-conf`.
const IGNORED: &[&str] = &[
    "tmp_config_directory",
    "config_save_dir",
    "process_names",
    "process_name",
    "vrrp_process_name",
    "checker_process_name",
    "bfd_process_name",
    "startup_script",
    "startup_script_timeout",
    "shutdown_script",
    "shutdown_script_timeout",
    "smtp_alert_checker",
    "checker_log_all_failures",
    "no_email_faults",
    "lvs_sync_daemon",
    "lvs_timeouts",
    "lvs_flush",
    "lvs_flush_on_stop",
    "vrrp_garp_extra_if",
    "nftables",
    "nftables_priority",
    "nftables_counters",
    "nftables_ifindex",
    "nftables_ipvs",
    "nftables_ipvs_priority",
    "nftables_ipvs_start_fwmark",
    "vrrp_iptables",
    "vrrp_ipsets",
    "disable_local_igmp",
    "min_auto_priority_delay",
    "checker_priority",
    "bfd_priority",
    "checker_no_swap",
    "bfd_no_swap",
    "checker_cpu_affinity",
    "bfd_cpu_affinity",
    "checker_rt_priority",
    "bfd_rt_priority",
    "checker_rlimit_rttime",
    "bfd_rlimit_rttime",
    "snmp_socket",
    "enable_snmp_vrrp",
    "enable_snmp_keepalived",
    "enable_snmp_checker",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_traps",
    "enable_dbus",
    "dbus_service_name",
    "lvs_notify_fifo",
    "lvs_notify_fifo_script",
    "fifo_write_vrrp_states_on_reload",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "rs_init_notifies",
    "no_checker_emails",
    "umask",
    "log_unknown_vrids",
    "random_seed",
    "reload_check_config",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "data_use_instance",
    "linkbeat_use_polling",
    "vrrp_delay_after_boot",
    "lvs_sync_daemon_interface",
];

impl Cx<'_> {
    pub(super) fn global_defs(&mut self, s: &Statement) {
        let defaults_before = self.config.global.instance_defaults.clone();
        for item in self.block(s) {
            self.global_keyword(item);
        }
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

    fn global_keyword(&mut self, s: &Statement) {
        let name = s.name();
        match name {
            "router_id" | "lvs_id" => self.config.global.router_id = self.string(s),
            "notification_email" => {
                let emails: Vec<String> =
                    self.block(s).iter().map(|e| e.name().to_string()).collect();
                self.config.global.notification_email.extend(emails);
            }
            "notification_email_from" => {
                self.config.global.notification_email_from = self.string(s)
            }
            "smtp_server" => {
                if self.arity(s, 1, 2) {
                    let port = match s.arg(1) {
                        Some(_) => self.uint_at(s, 1, 1, 65535).map(|p| p as u16),
                        None => Some(25),
                    };
                    if let Some(port) = port {
                        self.config.global.smtp_server = Some(SmtpServer {
                            host: s.args[0].text.clone(),
                            port,
                        });
                    }
                }
            }
            "smtp_helo_name" => self.config.global.smtp_helo_name = self.string(s),
            "smtp_connect_timeout" => {
                if let Some(timeout) = self.uint(s, 1, 3600) {
                    self.config.global.smtp_connect_timeout = Duration::from_secs(timeout);
                }
            }
            "smtp_alert" => self.config.global.smtp_alert = self.flag(s),
            "smtp_alert_vrrp" => self.config.global.smtp_alert_vrrp = self.flag(s),
            "vrrp_version" => {
                if let Some(version) = self.uint(s, 2, 3) {
                    self.config.global.vrrp_version = if version == 2 {
                        Version::V2
                    } else {
                        Version::V3
                    };
                }
            }
            "vrrp_mcast_group4" => {
                if let Some(addr) = self.ip(s) {
                    match addr {
                        IpAddr::V4(v4) if v4.is_multicast() => {
                            self.config.global.vrrp_mcast_group4 = v4
                        }
                        _ => {
                            self.diagnostics.error(
                                &s.arg_span(0),
                                format!("{addr} is not an IPv4 multicast address"),
                            );
                        }
                    }
                }
            }
            "vrrp_mcast_group6" => {
                if let Some(addr) = self.ip(s) {
                    match addr {
                        IpAddr::V6(v6) if v6.is_multicast() => {
                            self.config.global.vrrp_mcast_group6 = v6
                        }
                        _ => {
                            self.diagnostics.error(
                                &s.arg_span(0),
                                format!("{addr} is not an IPv6 multicast address"),
                            );
                        }
                    }
                }
            }
            "vrrp_strict" => {
                if let Some(value) = self.flag(s) {
                    self.config.global.vrrp_strict = value;
                }
            }
            "v3_checksum_as_v2" => {
                if let Some(value) = self.flag(s) {
                    self.config.global.v3_checksum_as_v2 = value;
                }
            }
            "vrrp_skip_check_adv_addr" => {
                if let Some(value) = self.flag(s) {
                    self.config.global.vrrp_skip_check_adv_addr = value;
                }
            }
            "vrrp_check_unicast_src" => {
                if let Some(value) = self.flag(s) {
                    self.config.global.vrrp_check_unicast_src = value;
                }
            }
            "vrrp_notify_priority_changes" => {
                if let Some(value) = self.flag(s) {
                    self.config.global.vrrp_notify_priority_changes = value;
                }
            }
            "vrrp_down_timer_adverts" => {
                if let Some(n) = self.uint(s, 1, 100) {
                    self.config.global.instance_defaults.down_timer_adverts = n as u32;
                }
            }
            "vrrp_lower_prio_no_advert" => {
                if let Some(value) = self.flag(s) {
                    self.config.global.instance_defaults.lower_prio_no_advert = value;
                }
            }
            "vrrp_higher_prio_send_advert" => {
                if let Some(value) = self.flag(s) {
                    self.config.global.instance_defaults.higher_prio_send_advert = value;
                }
            }
            "vrrp_garp_master_delay" => {
                if let Some(delay) = self.timer_max(s, Duration::from_secs(86_400)) {
                    self.config.global.instance_defaults.garp.master_delay = delay;
                }
            }
            "vrrp_garp_master_repeat" => {
                if let Some(n) = self.uint(s, 1, 255) {
                    self.config.global.instance_defaults.garp.master_repeat = n as u32;
                }
            }
            "vrrp_garp_master_refresh" => {
                if let Some(period) = self.timer(s) {
                    self.config.global.instance_defaults.garp.master_refresh = period;
                }
            }
            "vrrp_garp_master_refresh_repeat" => {
                if let Some(n) = self.uint(s, 1, 255) {
                    self.config
                        .global
                        .instance_defaults
                        .garp
                        .master_refresh_repeat = n as u32;
                }
            }
            "vrrp_garp_lower_prio_delay" => {
                if let Some(delay) = self.timer(s) {
                    self.config.global.instance_defaults.garp.lower_prio_delay = Some(delay);
                }
            }
            "vrrp_garp_lower_prio_repeat" => {
                if let Some(n) = self.uint(s, 0, 255) {
                    self.config.global.instance_defaults.garp.lower_prio_repeat = Some(n as u32);
                }
            }
            "vrrp_garp_interval" | "vrrp_gna_interval" => {
                if let Some(gap) = self.packet_gap(s) {
                    let garp = &mut self.config.global.instance_defaults.garp;
                    if name == "vrrp_garp_interval" {
                        garp.garp_interval = gap;
                    } else {
                        garp.gna_interval = gap;
                    }
                }
            }
            "vrrp_min_garp" => {
                if self.flag(s) == Some(true) {
                    // keepalived (vrrp_min_garp_handler): one GARP on becoming master, no
                    // second burst, no refresh - but only where the setting still has its
                    // default value; settings given before it stay.
                    let defaults = GarpSettings::default();
                    let garp = &mut self.config.global.instance_defaults.garp;
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
            }
            "script_user" => {
                if self.arity(s, 1, 2) {
                    self.config.global.script_user = Some(s.args[0].text.clone());
                    self.config.global.script_group = s.arg(1).map(str::to_string);
                }
            }
            "enable_script_security" => {
                if let Some(value) = self.flag(s) {
                    self.config.global.enable_script_security = value;
                }
            }
            "notify_fifo" | "vrrp_notify_fifo" => {
                if self.arity(s, 1, 3) {
                    let fifo = NotifyFifo {
                        path: s.args[0].text.clone(),
                        script: None,
                    };
                    let slot = self.fifo_slot(name);
                    let script = slot.take().and_then(|f| f.script);
                    *slot = Some(NotifyFifo { script, ..fifo });
                }
            }
            "notify_fifo_script" | "vrrp_notify_fifo_script" => {
                if let Some(script) = self.script_command(s, false) {
                    let slot = self.fifo_slot(name);
                    match slot {
                        Some(fifo) => fifo.script = Some(script),
                        None => {
                            self.diagnostics
                                .error(&s.keyword_span(), format!("'{name}' without a FIFO"))
                                .hint(format!("set '{}' first", name.trim_end_matches("_script")));
                        }
                    }
                }
            }
            "dynamic_interfaces" => {
                if self.arity(s, 0, 1) {
                    match s.arg(0) {
                        None | Some("allow_if_changes") => {
                            self.config.global.dynamic_interfaces = true
                        }
                        Some(other) => {
                            self.diagnostics
                                .error(&s.arg_span(0), format!("unexpected '{other}'"))
                                .hint("dynamic_interfaces [allow_if_changes]");
                        }
                    }
                }
            }
            "default_interface" => self.config.global.default_interface = self.interface(s),
            "vrrp_startup_delay" => {
                self.config.global.vrrp_startup_delay = self.timer_max(s, Duration::from_secs(180))
            }
            "vmac_prefix" => self.config.global.vmac_prefix = self.string(s),
            "vmac_addr_prefix" => self.config.global.vmac_addr_prefix = self.string(s),
            "state_dump_file" => self.config.global.state_dump_file = self.string(s),
            "stats_dump_file" => self.config.global.stats_dump_file = self.string(s),
            "json_dump_file" => self.config.global.json_dump_file = self.string(s),
            "max_auto_priority" => {
                self.config.global.tuning.max_auto_priority = match s.arg(0) {
                    None => Some(99),
                    Some(_) => self
                        .arity(s, 0, 1)
                        .then(|| self.int_at(s, 0, -1, 99))
                        .flatten()
                        .map(|p| p as i32),
                }
            }
            "vrrp_priority" => {
                self.config.global.tuning.vrrp_priority = self
                    .arity(s, 1, 1)
                    .then(|| self.int_at(s, 0, -20, 19))
                    .flatten()
                    .map(|p| p as i32)
            }
            "vrrp_rt_priority" => {
                self.config.global.tuning.vrrp_rt_priority = self
                    .arity(s, 1, 1)
                    .then(|| self.int_at(s, 0, 1, 99))
                    .flatten()
                    .map(|p| p as i32)
            }
            "vrrp_no_swap" => {
                if let Some(value) = self.flag(s) {
                    self.config.global.tuning.vrrp_no_swap = value;
                }
            }
            "vrrp_cpu_affinity" => {
                let mut cpus = Vec::new();
                for index in 0..s.args.len() {
                    if let Some(cpu) = self.uint_at(s, index, 0, 4095) {
                        cpus.push(cpu as u32);
                    }
                }
                self.config.global.tuning.vrrp_cpu_affinity = cpus;
            }
            "vrrp_rlimit_rttime" => {
                self.config.global.tuning.vrrp_rlimit_rttime = self.uint(s, 1, u64::from(u32::MAX))
            }
            "include_check" => {}
            _ if IGNORED.contains(&name) => self.ignore(s),
            _ => self.unknown(s, "in global_defs", KNOWN),
        }
    }

    fn fifo_slot(&mut self, name: &str) -> &mut Option<NotifyFifo> {
        if name.starts_with("vrrp_") {
            &mut self.config.global.vrrp_notify_fifo
        } else {
            &mut self.config.global.notify_fifo
        }
    }

    /// The gap between gratuitous ARPs or NAs: at most one second.
    pub(super) fn packet_gap(&mut self, s: &Statement) -> Option<Duration> {
        let gap = self.timer_max(s, Duration::from_secs(1))?;
        if gap.is_zero() {
            self.diagnostics
                .warning(
                    &s.arg_span(0),
                    format!("'{} 0' means no gap between packets", s.name()),
                )
                .hint("keepalived 2.2 rejects 0 and keeps its default; xvrrpd sends back to back");
        }
        Some(gap)
    }
}
