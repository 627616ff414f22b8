//! `vrrp_instance NAME { ... }`.

use std::time::Duration;

use super::{Cx, set};
use crate::config::diagnostic::Span;
use crate::config::model::{
    Authentication, GarpExtraIf, InitialState, Ipvlan, Notify, Tracking, Unicast, UnicastPeer,
    Vmac, VrrpInstance,
};
use crate::config::tree::Statement;
use crate::protocol::{Family, Priority, Version, Vrid};

const KNOWN: &[&str] = &[
    "state",
    "interface",
    "vrf",
    "use_vmac",
    "use_vmac_addr",
    "vmac_xmit_base",
    "use_ipvlan",
    "native_ipv6",
    "dont_track_primary",
    "track_interface",
    "track_script",
    "track_file",
    "track_process",
    "track_bfd",
    "mcast_src_ip",
    "unicast_src_ip",
    "mcast_dst_ip",
    "track_src_ip",
    "version",
    "check_unicast_src",
    "unicast_peer",
    "unicast_fault_no_peer",
    "unicast_ttl",
    "old_unicast_checksum",
    "garp_master_delay",
    "garp_master_repeat",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "garp_master_refresh",
    "garp_master_refresh_repeat",
    "garp_interval",
    "gna_interval",
    "garp_extra_if",
    "down_timer_adverts",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "virtual_router_id",
    "priority",
    "advert_int",
    "authentication",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "no_virtual_ipaddress",
    "promote_secondaries",
    "virtual_routes",
    "virtual_rules",
    "accept",
    "no_accept",
    "nopreempt",
    "preempt",
    "preempt_delay",
    "skip_check_adv_addr",
    "strict_mode",
    "debug",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify_deleted",
    "notify",
    "notify_master_rx_lower_pri",
    "notify_priority_changes",
    "smtp_alert",
    "kernel_rx_buf_size",
    "linkbeat_use_polling",
];

/// An instance as written, before the values that depend on the VRRP version and on
/// `global_defs` are settled (see `validate`).
#[derive(Clone, Debug)]
pub struct InstanceDraft {
    pub instance: VrrpInstance,
    pub name_span: Span,
    pub vrid: Option<Span>,
    pub priority: Option<(u8, Span)>,
    pub advert_int: Option<(Duration, Span)>,
    pub version: Option<(Version, Span)>,
    pub state: Option<Span>,
    pub authentication: Option<Span>,
    pub nopreempt: Option<Span>,
    pub preempt_delay: Option<Span>,
    pub unicast_peer: Option<Span>,
    /// Spans of `virtual_ipaddress` entries, index for index.
    pub vip_spans: Vec<Span>,
}

impl Cx<'_> {
    pub(super) fn vrrp_instance(&mut self, s: &Statement) {
        if !s.args.is_empty() && s.args.len() > 1 {
            self.diagnostics.warning(
                &s.arg_span(1),
                "vrrp_instance takes one name; the rest is ignored",
            );
        }
        let Some(name) = s.arg(0).map(str::to_string) else {
            self.diagnostics
                .error(&s.keyword_span(), "vrrp_instance needs a name")
                .hint("vrrp_instance VI_1 { ... }");
            return;
        };
        if let Some(previous) = self.instance_names.get(&name) {
            let previous = previous.position();
            self.diagnostics
                .error(
                    &s.arg_span(0),
                    format!("vrrp_instance {name} is already defined at {previous}"),
                )
                .hint("instance names must be unique; this one is ignored");
            return;
        }
        let defaults = self.config.global.instance_defaults.clone();
        let mut draft = InstanceDraft {
            instance: VrrpInstance {
                name,
                name_span: s.arg_span(0),
                defined_at: s.keyword_span().position(),
                state: None,
                interface: None,
                vrid: Vrid(0),
                priority: Priority(100),
                advert_int: Duration::from_secs(1),
                version: Version::V2,
                family: Family::Ipv4,
                native_ipv6: false,
                authentication: None,
                virtual_ipaddress: Vec::new(),
                virtual_ipaddress_excluded: Vec::new(),
                no_virtual_ipaddress: false,
                promote_secondaries: false,
                virtual_routes: Vec::new(),
                virtual_rules: Vec::new(),
                preempt: true,
                preempt_delay: Duration::ZERO,
                accept: None,
                track: Tracking::default(),
                dont_track_primary: false,
                track_src_ip: false,
                mcast_src_ip: None,
                mcast_dst_ip: None,
                unicast: Unicast::default(),
                vmac: None,
                ipvlan: None,
                vrf: None,
                garp: defaults.garp,
                garp_extra_if: None,
                down_timer_adverts: defaults.down_timer_adverts,
                lower_prio_no_advert: defaults.lower_prio_no_advert,
                higher_prio_send_advert: defaults.higher_prio_send_advert,
                skip_check_adv_addr: self.config.global.vrrp_skip_check_adv_addr,
                strict_mode: self.config.global.vrrp_strict,
                notify: Notify::default(),
                notify_priority_changes: self.config.global.vrrp_notify_priority_changes,
                smtp_alert: None,
                debug: None,
                kernel_rx_buf_size: None,
                linkbeat_use_polling: false,
            },
            name_span: s.arg_span(0),
            vrid: None,
            priority: None,
            advert_int: None,
            version: None,
            state: None,
            authentication: None,
            nopreempt: None,
            preempt_delay: None,
            unicast_peer: None,
            vip_spans: Vec::new(),
        };
        self.instance_names
            .insert(draft.instance.name.clone(), draft.name_span.clone());
        for item in self.block(s) {
            self.instance_keyword(&mut draft, item);
        }
        self.drafts.push(draft);
    }

    fn instance_keyword(&mut self, draft: &mut InstanceDraft, s: &Statement) {
        let instance = &mut draft.instance;
        match s.name() {
            "state" => {
                if let Some(state) = self.string(s) {
                    draft.state = Some(s.arg_span(0));
                    instance.state = Some(match state.as_str() {
                        "MASTER" => InitialState::Master,
                        "BACKUP" => InitialState::Backup,
                        other => {
                            let upper = other.to_ascii_uppercase();
                            if upper == "MASTER" || upper == "BACKUP" {
                                self.diagnostics
                                    .warning(&s.arg_span(0), format!("state '{other}' read as {upper}"))
                                    .hint(format!("write 'state {upper}': keepalived only knows upper case and would use BACKUP"));
                                if upper == "MASTER" {
                                    InitialState::Master
                                } else {
                                    InitialState::Backup
                                }
                            } else {
                                self.diagnostics
                                    .error(
                                        &s.arg_span(0),
                                        format!("unknown state '{other}'; using BACKUP"),
                                    )
                                    .hint("state MASTER or state BACKUP");
                                InitialState::Backup
                            }
                        }
                    });
                }
            }
            "interface" => instance.interface = self.interface(s),
            "vrf" => instance.vrf = self.interface(s),
            "use_vmac" => {
                if self.arity(s, 0, 2) {
                    // `use_vmac [NAME] [MAC]`: keepalived (vrrp_vmac_handler) takes any word
                    // with a colon for the MAC, as interface names cannot have one; five
                    // octets get the VRID as the sixth.
                    let mut vmac = instance.vmac.take().unwrap_or_default();
                    for (index, arg) in s.args.iter().enumerate() {
                        if arg.text.contains(':') {
                            vmac.mac = Some(arg.text.clone());
                        } else if let Some(name) = self.interface_name(s.arg_span(index), &arg.text)
                        {
                            vmac.interface = Some(name);
                        }
                    }
                    instance.vmac = Some(vmac);
                }
            }
            "use_vmac_addr" => {
                if self.flag(s) == Some(true) {
                    instance
                        .vmac
                        .get_or_insert_with(Vmac::default)
                        .use_vmac_addr = true;
                }
            }
            "vmac_xmit_base" => {
                if self.flag(s) == Some(true) {
                    instance.vmac.get_or_insert_with(Vmac::default).xmit_base = true;
                }
            }
            "use_ipvlan" => {
                if self.arity(s, 0, 3) {
                    let mut ipvlan = Ipvlan::default();
                    for (index, arg) in s.args.iter().enumerate() {
                        match arg.text.as_str() {
                            "bridge" | "private" | "vepa" => ipvlan.mode = Some(arg.text.clone()),
                            text if text.contains(['.', ':']) => {
                                ipvlan.address = self.prefix_text(s.arg_span(index), text);
                            }
                            text => ipvlan.interface = self.interface_name(s.arg_span(index), text),
                        }
                    }
                    instance.ipvlan = Some(ipvlan);
                }
            }
            "native_ipv6" => {
                if self.flag(s) == Some(true) {
                    instance.native_ipv6 = true;
                }
            }
            "dont_track_primary" => set(&mut instance.dont_track_primary, self.flag(s)),
            "track_src_ip" => set(&mut instance.track_src_ip, self.flag(s)),
            "track_interface" | "track_script" | "track_file" | "track_process" | "track_bfd" => {
                self.track_block(s, &mut instance.track);
            }
            "mcast_src_ip" => instance.mcast_src_ip = self.ip(s),
            "unicast_src_ip" => instance.unicast.src_ip = self.ip(s),
            "mcast_dst_ip" => {
                if let Some(addr) = self.ip(s) {
                    if addr.is_multicast() {
                        instance.mcast_dst_ip = Some(addr);
                    } else {
                        self.diagnostics
                            .error(&s.arg_span(0), format!("{addr} is not a multicast address"));
                    }
                }
            }
            "version" => {
                if let Some(version) = self.uint(s, 2, 3) {
                    draft.version = Some((
                        if version == 2 {
                            Version::V2
                        } else {
                            Version::V3
                        },
                        s.arg_span(0),
                    ));
                }
            }
            "check_unicast_src" => set(&mut instance.unicast.check_unicast_src, self.flag(s)),
            "unicast_peer" => {
                draft.unicast_peer = Some(s.keyword_span());
                for peer in self.block(s) {
                    if let Some(peer) = self.unicast_peer(peer) {
                        instance.unicast.peers.push(peer);
                    }
                }
            }
            "unicast_fault_no_peer" => set(&mut instance.unicast.fault_no_peer, self.flag(s)),
            "unicast_ttl" => instance.unicast.ttl = self.uint(s, 1, 255).map(|t| t as u8),
            "old_unicast_checksum" => {
                if self.arity(s, 0, 1) {
                    match s.arg(0) {
                        None => instance.unicast.old_checksum = Some(true),
                        Some("never") => instance.unicast.old_checksum = Some(false),
                        Some(other) => {
                            self.diagnostics
                                .error(&s.arg_span(0), format!("unexpected '{other}'"))
                                .hint("old_unicast_checksum [never]");
                        }
                    }
                }
            }
            "garp_master_delay" => {
                if let Some(delay) = self.timer_max(s, Duration::from_secs(86_400)) {
                    instance.garp.master_delay = delay;
                }
            }
            "garp_master_repeat" => {
                if let Some(n) = self.uint(s, 1, 255) {
                    instance.garp.master_repeat = n as u32;
                }
            }
            "garp_lower_prio_delay" => {
                instance.garp.lower_prio_delay = self.timer(s).or(instance.garp.lower_prio_delay)
            }
            "garp_lower_prio_repeat" => {
                if let Some(n) = self.uint(s, 0, 255) {
                    instance.garp.lower_prio_repeat = Some(n as u32);
                }
            }
            "garp_master_refresh" => {
                if let Some(period) = self.timer(s) {
                    instance.garp.master_refresh = period;
                }
            }
            "garp_master_refresh_repeat" => {
                if let Some(n) = self.uint(s, 1, 255) {
                    instance.garp.master_refresh_repeat = n as u32;
                }
            }
            "garp_interval" => {
                if let Some(gap) = self.packet_gap(s) {
                    instance.garp.garp_interval = gap;
                }
            }
            "gna_interval" => {
                if let Some(gap) = self.packet_gap(s) {
                    instance.garp.gna_interval = gap;
                }
            }
            "garp_extra_if" => {
                if self.arity(s, 1, 2) {
                    let all = s.arg(0) == Some("all");
                    let index = usize::from(all);
                    if let Some(delay) = self.timer_at(s, index) {
                        instance.garp_extra_if = Some(GarpExtraIf { all, delay });
                    }
                }
            }
            "down_timer_adverts" => {
                if let Some(n) = self.uint(s, 1, 100) {
                    instance.down_timer_adverts = n as u32;
                }
            }
            "lower_prio_no_advert" => set(&mut instance.lower_prio_no_advert, self.flag(s)),
            "higher_prio_send_advert" => set(&mut instance.higher_prio_send_advert, self.flag(s)),
            "virtual_router_id" => {
                if let Some(vrid) = self.uint(s, 1, 255) {
                    instance.vrid = Vrid(vrid as u8);
                    draft.vrid = Some(s.arg_span(0));
                }
            }
            "priority" => {
                if self.arity(s, 1, 1) {
                    match s.args[0].text.parse::<u8>() {
                        Ok(priority) if priority >= 1 => {
                            draft.priority = Some((priority, s.arg_span(0)))
                        }
                        _ => {
                            self.diagnostics
                                .error(&s.arg_span(0), format!("priority '{}' must be 1..=255", s.args[0].text))
                                .hint("0 is reserved for a master that is leaving (RFC 5798 5.2.4); 255 means address owner");
                        }
                    }
                }
            }
            "advert_int" => {
                if let Some(interval) = self.timer(s) {
                    if interval.is_zero() {
                        self.diagnostics.error(
                            &s.arg_span(0),
                            "advert_int must be greater than 0; using 1 second",
                        );
                    } else {
                        draft.advert_int = Some((interval, s.arg_span(0)));
                    }
                }
            }
            "authentication" => {
                draft.authentication = Some(s.keyword_span());
                instance.authentication = self.authentication(s);
            }
            "virtual_ipaddress" => {
                for (address, span) in self.addresses_with_spans(s) {
                    instance.virtual_ipaddress.push(address);
                    draft.vip_spans.push(span);
                }
            }
            "virtual_ipaddress_excluded" => {
                let addresses = self.addresses(s);
                instance.virtual_ipaddress_excluded.extend(addresses);
            }
            "no_virtual_ipaddress" => set(&mut instance.no_virtual_ipaddress, self.flag(s)),
            "promote_secondaries" => set(&mut instance.promote_secondaries, self.flag(s)),
            "virtual_routes" => {
                let routes = self.routes(s);
                instance.virtual_routes.extend(routes);
            }
            "virtual_rules" => {
                let rules = self.rules(s);
                instance.virtual_rules.extend(rules);
            }
            "accept" => {
                if self.arity(s, 0, 0) {
                    instance.accept = Some(true);
                }
            }
            "no_accept" => {
                if self.arity(s, 0, 0) {
                    instance.accept = Some(false);
                }
            }
            "nopreempt" => {
                if self.arity(s, 0, 0) {
                    instance.preempt = false;
                    draft.nopreempt = Some(s.keyword_span());
                }
            }
            "preempt" => {
                if self.arity(s, 0, 0) {
                    instance.preempt = true;
                    draft.nopreempt = None;
                }
            }
            "preempt_delay" => {
                if let Some(delay) = self.timer_max(s, Duration::from_secs(1000)) {
                    instance.preempt_delay = delay;
                    draft.preempt_delay = Some(s.arg_span(0));
                }
            }
            "skip_check_adv_addr" => set(&mut instance.skip_check_adv_addr, self.flag(s)),
            "strict_mode" => set(&mut instance.strict_mode, self.flag(s)),
            "debug" => instance.debug = self.uint(s, 0, 4).map(|d| d as u32),
            "notify_master" => instance.notify.master = self.script_command(s, false),
            "notify_backup" => instance.notify.backup = self.script_command(s, false),
            "notify_fault" => instance.notify.fault = self.script_command(s, false),
            "notify_stop" => instance.notify.stop = self.script_command(s, false),
            "notify" => instance.notify.any = self.script_command(s, false),
            "notify_master_rx_lower_pri" => {
                instance.notify.master_rx_lower_pri = self.script_command(s, false)
            }
            "notify_deleted" => {
                instance.notify.deleted = Some(if s.args.is_empty() {
                    None
                } else {
                    self.script_command(s, false)
                });
            }
            "notify_priority_changes" => set(&mut instance.notify_priority_changes, self.flag(s)),
            "smtp_alert" => instance.smtp_alert = self.flag(s),
            "kernel_rx_buf_size" => {
                instance.kernel_rx_buf_size = self.uint(s, 0, u64::from(u32::MAX))
            }
            "linkbeat_use_polling" => set(&mut instance.linkbeat_use_polling, self.flag(s)),
            "lvs_sync_daemon_interface" => {
                self.diagnostics
                    .warning(
                        &s.keyword_span(),
                        "lvs_sync_daemon_interface in a vrrp_instance is deprecated and ignored",
                    )
                    .hint(
                        "keepalived uses the global lvs_sync_daemon; xvrrpd has no LVS sync daemon",
                    );
            }
            _ => self.unknown(s, &format!("in vrrp_instance {}", instance.name), KNOWN),
        }
    }

    fn unicast_peer(&mut self, s: &Statement) -> Option<UnicastPeer> {
        let address = self.ip_text(s.keyword_span(), s.name())?;
        let mut peer = UnicastPeer {
            address,
            min_ttl: None,
            max_ttl: None,
        };
        let mut index = 0;
        while index < s.args.len() {
            match s.args[index].text.as_str() {
                "min_ttl" => peer.min_ttl = self.uint_at(s, index + 1, 0, 255).map(|t| t as u8),
                "max_ttl" => peer.max_ttl = self.uint_at(s, index + 1, 0, 255).map(|t| t as u8),
                other => {
                    self.diagnostics
                        .error(
                            &s.arg_span(index),
                            format!("unexpected '{other}' after a unicast peer"),
                        )
                        .hint("IPADDR [min_ttl N] [max_ttl N]");
                    return None;
                }
            }
            if s.arg(index + 1).is_none() {
                self.diagnostics.error(
                    &s.arg_span(index + 1),
                    format!("'{}' needs a value", s.args[index].text),
                );
            }
            index += 2;
        }
        Some(peer)
    }

    fn authentication(&mut self, s: &Statement) -> Option<Authentication> {
        let mut kind: Option<(String, Span)> = None;
        let mut password: Option<String> = None;
        for item in self.block(s) {
            match item.name() {
                "auth_type" => {
                    if let Some(value) = self.string(item) {
                        kind = Some((value, item.arg_span(0)));
                    }
                }
                "auth_pass" => {
                    if let Some(mut value) = self.string(item) {
                        if value.len() > 8 {
                            self.diagnostics
                                .warning(&item.arg_span(0), format!("auth_pass is {} characters; only the first 8 are used", value.len()))
                                .hint("VRRPv2 carries 8 bytes of password (RFC 2338 5.3.6); keepalived truncates the same way");
                            let mut cut = 8;
                            while !value.is_char_boundary(cut) {
                                cut -= 1;
                            }
                            value.truncate(cut);
                        }
                        password = Some(value);
                    }
                }
                _ => self.unknown(item, "in authentication", &["auth_type", "auth_pass"]),
            }
        }
        match kind {
            Some((kind, _)) if kind == "PASS" => match password {
                Some(password) => Some(Authentication::Pass(password)),
                None => {
                    self.diagnostics.error(
                        &s.keyword_span(),
                        "auth_type PASS without auth_pass; authentication is off",
                    );
                    None
                }
            },
            Some((kind, _)) if kind == "AH" => Some(Authentication::Ah),
            Some((kind, span)) => {
                self.diagnostics
                    .error(
                        &span,
                        format!("unknown auth_type '{kind}'; authentication is off"),
                    )
                    .hint("auth_type PASS or auth_type AH");
                None
            }
            None => {
                self.diagnostics.error(
                    &s.keyword_span(),
                    "authentication without auth_type; authentication is off",
                );
                None
            }
        }
    }
}
