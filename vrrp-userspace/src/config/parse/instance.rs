//! `vrrp_instance NAME { ... }`: the keyword table and its handlers (keepalived 2.2.7's
//! vrrp_parser.c, handler by handler). Values that depend on the whole file (version, family,
//! defaults from `global_defs`, strict mode) are settled by `validate` once it is read, the
//! way keepalived's `vrrp_complete_instance` settles them.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use super::address::Role;
use super::keyword::{Keyword, dump_table};
use super::{BoolArg, Cx};
use crate::config::diagnostic::Span;
use crate::config::dump::{Writer, flag_line, on_off, script_line, word};
use crate::config::model::{
    GarpExtraIf, InitialState, Ipvlan, Notify, Tracking, Unicast, VrrpInstance,
};
use crate::config::tree::Statement;
use crate::config::values::{IpPrefix, format_seconds};
use crate::protocol::{Family, Priority, Version, Vrid};

/// `auth_type` as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthKind {
    Pass,
    Ah,
}

/// An instance as written, before the values that depend on the VRRP version, on
/// `global_defs` and on strict mode are settled (see `validate`).
#[derive(Clone, Debug)]
pub struct InstanceDraft {
    pub instance: VrrpInstance,
    pub name_span: Span,
    pub vrid: Option<Span>,
    /// keepalived sets 100 for an invalid priority, and derives it from the state when none
    /// is given.
    pub priority: Option<(u8, Span)>,
    pub advert_int: Option<(Duration, Span)>,
    pub version: Option<(Version, Span)>,
    /// Fixed by the first keyword that carries an address (keepalived's `vrrp->family`).
    pub family: Option<Family>,
    pub state: Option<Span>,
    pub authentication: Option<Span>,
    pub auth_type: Option<AuthKind>,
    pub auth_pass: Option<String>,
    pub nopreempt: Option<Span>,
    pub preempt_delay: Option<Span>,
    pub unicast_peer: Option<Span>,
    /// Some unicast keyword was given (keepalived's VRRP_FLAG_UNICAST_CONFIGURED).
    pub unicast_keyword: Option<Span>,
    pub unicast_ttl: Option<Span>,
    pub mcast_dst_ip: Option<Span>,
    /// `None`: the global vrrp_strict, read when the file is complete.
    pub strict_mode: Option<bool>,
    pub lower_prio_no_advert: Option<bool>,
    pub higher_prio_send_advert: Option<bool>,
    pub skip_check_adv_addr: bool,
    /// `accept`/`no_accept` as written.
    pub accept: Option<bool>,
    pub garp_lower_prio_delay: Option<Duration>,
    pub garp_lower_prio_repeat: Option<u32>,
    pub native_ipv6: Option<Span>,
    pub vmac_xmit_base: bool,
    pub use_vmac_addr: bool,
    /// Spans of `virtual_ipaddress` entries, index for index.
    pub vip_spans: Vec<Span>,
}

impl Cx<'_> {
    pub(crate) fn vrrp_instance(&mut self, s: &Statement) {
        // keepalived: exactly one name, else "vrrp_instance must have a name" and the block
        // is skipped.
        if s.args.len() != 1 {
            self.diagnostics
                .error(
                    &s.keyword_span(),
                    "vrrp_instance needs exactly one name; the block is skipped",
                )
                .hint("vrrp_instance VI_1 { ... }");
            self.skip_block();
            return;
        }
        let name = s.args[0].text.clone();
        if let Some(previous) = self.instance_names.get(&name) {
            let previous = previous.position();
            self.diagnostics
                .error(
                    &s.arg_span(0),
                    format!("vrrp_instance {name} is already defined at {previous}"),
                )
                .hint("instance names must be unique; this one is skipped");
            self.skip_block();
            return;
        }
        let global = &self.config.global;
        let defaults = global.instance_defaults.clone();
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
                // keepalived copies these from global_defs when it allocates the instance.
                garp: defaults.garp,
                garp_extra_if: None,
                down_timer_adverts: defaults.down_timer_adverts,
                lower_prio_no_advert: false,
                higher_prio_send_advert: false,
                skip_check_adv_addr: global.vrrp_skip_check_adv_addr,
                strict_mode: false,
                notify: Notify::default(),
                notify_priority_changes: false,
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
            family: None,
            state: None,
            authentication: None,
            auth_type: None,
            auth_pass: None,
            nopreempt: None,
            preempt_delay: None,
            unicast_peer: None,
            unicast_keyword: None,
            unicast_ttl: None,
            mcast_dst_ip: None,
            strict_mode: None,
            lower_prio_no_advert: None,
            higher_prio_send_advert: None,
            skip_check_adv_addr: false,
            accept: None,
            garp_lower_prio_delay: None,
            garp_lower_prio_repeat: None,
            native_ipv6: None,
            vmac_xmit_base: false,
            use_vmac_addr: false,
            vip_spans: Vec::new(),
        };
        draft.instance.garp.lower_prio_delay = None;
        draft.instance.garp.lower_prio_repeat = None;
        self.instance_names
            .insert(draft.instance.name.clone(), draft.name_span.clone());
        let context = format!("in vrrp_instance {}", draft.instance.name);
        for item in self.block(s) {
            self.dispatch(INSTANCE, &mut draft, item, &context);
        }
        // keepalived's vrrp_end_handler.
        if draft.instance.unicast.peers.is_empty()
            && let Some(span) = draft.unicast_ttl.take()
        {
            self.diagnostics.error(
                &span,
                format!(
                    "{}: unicast_ttl without unicast peers is ignored",
                    draft.instance.name
                ),
            );
            draft.instance.unicast.ttl = None;
        }
        self.drafts.push(draft);
    }

    /// Fixes the instance's family with the first address keepalived sees, or checks an
    /// address against it; `false` when the address is of the other family.
    pub(crate) fn instance_family(&mut self, draft: &mut InstanceDraft, addr: &IpAddr) -> bool {
        let family = Family::of(addr);
        match draft.family {
            None => {
                draft.family = Some(family);
                true
            }
            Some(existing) => existing == family,
        }
    }

    fn notify_slot(
        &mut self,
        s: &Statement,
        slot: fn(&mut Notify) -> &mut Option<crate::config::model::ScriptCommand>,
        notify: &mut Notify,
        owner: &str,
    ) {
        if slot(notify).is_some() {
            // keepalived keeps the first one.
            self.diagnostics.error(
                &s.keyword_span(),
                format!("{owner}: {} is already set; this one is ignored", s.name()),
            );
            return;
        }
        *slot(notify) = self.script_command(s);
    }
}

fn state(cx: &mut Cx, d: &mut InstanceDraft, s: &Statement) {
    let Some(value) = cx.value(s, 0) else {
        return;
    };
    let name = d.instance.name.clone();
    match value {
        "MASTER" => d.instance.state = Some(InitialState::Master),
        "BACKUP" => {
            if d.instance.state == Some(InitialState::Master) {
                // keepalived: "state previously set as MASTER - ignoring BACKUP".
                cx.diagnostics.error(
                    &s.arg_span(0),
                    format!("{name}: state is already MASTER; BACKUP is ignored"),
                );
                return;
            }
            d.instance.state = Some(InitialState::Backup);
        }
        other => {
            // keepalived reports it and runs the instance as BACKUP.
            let hint = match other.to_ascii_uppercase().as_str() {
                "MASTER" => {
                    "keepalived only knows upper case, so this is BACKUP; write 'state MASTER' if MASTER was meant"
                }
                _ => "state MASTER or state BACKUP",
            };
            cx.diagnostics
                .warning(
                    &s.arg_span(0),
                    format!("{name}: unknown state '{other}'; using BACKUP"),
                )
                .hint(hint);
            d.instance.state = Some(InitialState::Backup);
        }
    }
    d.state = Some(s.arg_span(0));
}

fn interface(cx: &mut Cx, d: &mut InstanceDraft, s: &Statement) {
    let Some(name) = cx.value(s, 0) else {
        return;
    };
    // Existence is a host question: checked by `check_host_interfaces`.
    d.instance.interface = cx.existing_interface(s.arg_span(0), name, "interface");
}

fn src_ip(cx: &mut Cx, d: &mut InstanceDraft, s: &Statement) {
    if s.name() == "unicast_src_ip" {
        d.unicast_keyword.get_or_insert_with(|| s.keyword_span());
    }
    let Some(text) = cx.value(s, 0) else {
        return;
    };
    let Some(addr) = cx.sockaddr(s.arg_span(0), text, s.name()) else {
        return;
    };
    if !cx.instance_family(d, &addr) {
        cx.diagnostics.error(
            &s.arg_span(0),
            format!(
                "{}: {} {addr} is not of the instance's address family; ignored",
                d.instance.name,
                s.name()
            ),
        );
        return;
    }
    // keepalived keeps one source address: the last of mcast_src_ip and unicast_src_ip.
    if s.name() == "unicast_src_ip" {
        d.instance.unicast.src_ip = Some(addr);
        d.instance.mcast_src_ip = None;
    } else {
        d.instance.mcast_src_ip = Some(addr);
        d.instance.unicast.src_ip = None;
    }
}

fn mcast_dst_ip(cx: &mut Cx, d: &mut InstanceDraft, s: &Statement) {
    let Some(text) = cx.value(s, 0) else {
        return;
    };
    let Some(addr) = cx.sockaddr(s.arg_span(0), text, "mcast_dst_ip") else {
        return;
    };
    if !cx.instance_family(d, &addr) {
        cx.diagnostics.error(
            &s.arg_span(0),
            format!(
                "{}: mcast_dst_ip {addr} is not of the instance's address family; ignored",
                d.instance.name
            ),
        );
        return;
    }
    // keepalived: IPv4 multicast, or IPv6 link-local multicast (ff02::/16).
    let valid = match addr {
        IpAddr::V4(v4) => v4.is_multicast(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
    };
    if !valid {
        cx.diagnostics.error(
            &s.arg_span(0),
            format!(
                "{}: mcast_dst_ip {addr} is not {}multicast; ignored",
                d.instance.name,
                if addr.is_ipv6() { "link-local " } else { "" }
            ),
        );
        return;
    }
    d.instance.mcast_dst_ip = Some(addr);
    d.mcast_dst_ip = Some(s.arg_span(0));
}

fn vrid(cx: &mut Cx, d: &mut InstanceDraft, s: &Statement) {
    if let Some(vrid) = cx.unsigned(s, 0, 1, 255) {
        d.instance.vrid = Vrid(vrid as u8);
        d.vrid = Some(s.arg_span(0));
    }
}

fn priority(cx: &mut Cx, d: &mut InstanceDraft, s: &Statement) {
    let Some(text) = cx.value(s, 0) else {
        return;
    };
    match super::number::unsigned(text, 1, 255) {
        Ok(priority) => d.priority = Some((priority as u8, s.arg_span(0))),
        Err(_) => {
            // keepalived: "Priority not valid! must be between 1 & 255. Using default 100".
            cx.diagnostics
                .error(
                    &s.arg_span(0),
                    format!("priority '{text}' must be 1..=255; using 100"),
                )
                .hint("0 is reserved for a master that is leaving (RFC 5798 5.2.4); 255 means address owner");
            d.priority = Some((100, s.arg_span(0)));
        }
    }
}

fn advert_int(cx: &mut Cx, d: &mut InstanceDraft, s: &Statement) {
    if let Some(interval) = cx.seconds(s, 0, Duration::from_millis(10), Duration::from_secs(255)) {
        d.advert_int = Some((interval, s.arg_span(0)));
    }
}

fn version(cx: &mut Cx, d: &mut InstanceDraft, s: &Statement) {
    let Ok(value) = cx.int(s, 0, 2, 3) else {
        return;
    };
    let version = if value == 2 { Version::V2 } else { Version::V3 };
    let conflict = d.version.as_ref().is_some_and(|(v, _)| *v != version)
        || (version == Version::V2 && d.family == Some(Family::Ipv6));
    if conflict {
        cx.diagnostics.error(
            &s.arg_span(0),
            format!(
                "{}: version {value} conflicts with the version already set or deduced; ignored",
                d.instance.name
            ),
        );
        return;
    }
    d.version = Some((version, s.arg_span(0)));
}

fn native_ipv6(cx: &mut Cx, d: &mut InstanceDraft, s: &Statement) {
    if d.family == Some(Family::Ipv4) {
        cx.diagnostics.error(
            &s.keyword_span(),
            format!(
                "{}: native_ipv6 with IPv4 addresses is ignored",
                d.instance.name
            ),
        );
        return;
    }
    d.family = Some(Family::Ipv6);
    d.instance.native_ipv6 = true;
    d.native_ipv6 = Some(s.keyword_span());
    d.version = Some((Version::V3, s.keyword_span()));
}

fn preempt_delay(cx: &mut Cx, d: &mut InstanceDraft, s: &Statement) {
    match cx.seconds(s, 0, Duration::ZERO, Duration::from_secs(1000)) {
        Some(delay) => {
            d.instance.preempt_delay = delay;
            d.preempt_delay = Some(s.arg_span(0));
        }
        // keepalived sets 0 when the value is invalid.
        None => d.instance.preempt_delay = Duration::ZERO,
    }
}

fn debug(cx: &mut Cx, d: &mut InstanceDraft, s: &Statement) {
    d.instance.debug = cx.unsigned_as_run(s, 0, 0, 4).map(|level| level as u32);
}

fn unsigned_seconds(cx: &mut Cx, s: &Statement) -> Option<Duration> {
    cx.unsigned_as_run(s, 0, 0, u64::from(u32::MAX) / 1_000_000)
        .map(Duration::from_secs)
}

/// A repeat count where keepalived reads 0 as 1 ("must be greater than 0, setting to 1").
fn repeat_at_least_one(cx: &mut Cx, s: &Statement) -> Option<u32> {
    let value = cx.unsigned_as_run(s, 0, 0, u64::from(u32::MAX))?;
    if value == 0 {
        cx.diagnostics.error(
            &s.arg_span(0),
            format!("'{}' must be greater than 0; using 1", s.name()),
        );
        return Some(1);
    }
    Some(value as u32)
}

fn garp_extra_if(cx: &mut Cx, d: &mut InstanceDraft, s: &Statement) {
    let mut all = false;
    let mut delay = None;
    for (index, arg) in s.args.iter().enumerate() {
        if arg.text == "all" {
            all = true;
        } else {
            match super::number::unsigned(&arg.text, 0, 86_400) {
                Ok(seconds) => delay = Some(Duration::from_secs(seconds)),
                Err(err) => {
                    cx.number_error(s, index, &err, "0", "86400");
                    return;
                }
            }
        }
    }
    match delay {
        Some(delay) => d.instance.garp_extra_if = Some(GarpExtraIf { all, delay }),
        None => {
            cx.diagnostics.error(
                &s.keyword_span(),
                format!("'{}' without a time is ignored", s.name()),
            );
        }
    }
}

fn use_vmac(cx: &mut Cx, d: &mut InstanceDraft, s: &Statement) {
    // `use_vmac [NAME] [MAC]`, as keepalived's vrrp_vmac_handler reads it: of the first two
    // words, one with a colon is the MAC (interface names cannot have one), the other the
    // name; each may be given once per instance (a second `use_vmac` counts), and what is
    // refused is reported and left out.
    let mut vmac = d.instance.vmac.take().unwrap_or_default();
    for (index, arg) in s.args.iter().enumerate().take(2) {
        let span = s.arg_span(index);
        let text = arg.text.as_str();
        if text.contains(':') {
            if vmac.mac.is_some() {
                cx.diagnostics.error(
                    &span,
                    format!("use_vmac: the VMAC address is already given; '{text}' is ignored"),
                );
                continue;
            }
            match vmac_address(text) {
                Ok(()) => vmac.mac = Some(arg.text.clone()),
                Err(why) => {
                    cx.diagnostics
                        .error(&span, format!("use_vmac: MAC address '{text}' {why}; ignored"))
                        .hint("six octets, or five (the VRID is the sixth), unicast, outside 00:00:5e:00:01:xx and 00:00:5e:00:02:xx");
                }
            }
            continue;
        }
        if vmac.interface.is_some() {
            cx.diagnostics.error(
                &span,
                format!("use_vmac: the VMAC interface name is already given; '{text}' is ignored"),
            );
            continue;
        }
        let Some(name) = cx.interface_name(span.clone(), text) else {
            continue;
        };
        if let Some(other) = cx.drafts.iter().find(|o| {
            o.instance
                .vmac
                .as_ref()
                .and_then(|v| v.interface.as_ref())
                .is_some_and(|n| n.as_str() == text)
        }) {
            cx.diagnostics.error(
                &span,
                format!(
                    "{}: vrrp_instance {} already uses VMAC interface {text}; the name is ignored",
                    d.instance.name, other.instance.name
                ),
            );
            continue;
        }
        vmac.interface = Some(name);
    }
    d.instance.vmac = Some(vmac);
}

/// Why keepalived (vrrp_vmac_handler) refuses a `use_vmac` MAC address, if it does: only hex
/// digits and colons, one- or two-digit octets, five (the VRID is the sixth) or six of them
/// (more are ignored), not multicast, not an RFC 5798 virtual router MAC.
fn vmac_address(text: &str) -> Result<(), &'static str> {
    if !text.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
        return Err("has a character that is neither a hex digit nor a colon");
    }
    let malformed = "is not a MAC address";
    let mut octets = Vec::new();
    let mut rest = text;
    while octets.len() < 6 {
        let end = rest.find(':').unwrap_or(rest.len());
        let octet = &rest[..end];
        if octet.is_empty() || octet.len() > 2 {
            return Err(malformed);
        }
        octets.push(u8::from_str_radix(octet, 16).map_err(|_| malformed)?);
        rest = &rest[end..];
        // Five octets, with or without a trailing colon: the VRID is the sixth.
        if octets.len() == 5 && (rest.is_empty() || rest == ":") {
            break;
        }
        if rest.is_empty() {
            if octets.len() < 6 {
                return Err(malformed);
            }
            break;
        }
        rest = &rest[1..];
        if rest.is_empty() && octets.len() < 6 {
            return Err(malformed);
        }
    }
    if octets[0] & 1 == 1 {
        return Err("is multicast");
    }
    if octets[..4] == [0x00, 0x00, 0x5e, 0x00] && matches!(octets[4], 1 | 2) {
        return Err("is an RFC 5798 virtual router address");
    }
    Ok(())
}

fn use_ipvlan(cx: &mut Cx, d: &mut InstanceDraft, s: &Statement) {
    let mut ipvlan = Ipvlan::default();
    for (index, arg) in s.args.iter().enumerate() {
        match arg.text.as_str() {
            "bridge" | "private" | "vepa" => ipvlan.mode = Some(arg.text.clone()),
            text if text.contains(['.', ':']) => {
                if let Ok(prefix) = text.parse::<IpPrefix>() {
                    ipvlan.address = Some(prefix);
                } else {
                    cx.diagnostics
                        .error(&s.arg_span(index), format!("'{text}' is not an address"));
                }
            }
            text => ipvlan.interface = cx.interface_name(s.arg_span(index), text),
        }
    }
    d.instance.ipvlan = Some(ipvlan);
}

fn old_unicast_checksum(cx: &mut Cx, d: &mut InstanceDraft, s: &Statement) {
    d.unicast_keyword.get_or_insert_with(|| s.keyword_span());
    match s.arg(0) {
        None => d.instance.unicast.old_checksum = Some(true),
        Some("never") => d.instance.unicast.old_checksum = Some(false),
        Some(other) => {
            cx.diagnostics
                .error(
                    &s.arg_span(0),
                    format!("unknown old_unicast_checksum mode '{other}'; ignored"),
                )
                .hint("old_unicast_checksum [never]");
        }
    }
}

fn kernel_rx_buf_size(cx: &mut Cx, d: &mut InstanceDraft, s: &Statement) {
    match s.args.as_slice() {
        [value] if super::number::unsigned(&value.text, 0, u64::from(u32::MAX)).is_ok() => {
            d.instance.kernel_rx_buf_size = value.text.parse().ok();
        }
        _ => {
            cx.diagnostics.error(
                &s.keyword_span(),
                "kernel_rx_buf_size needs one number; ignored",
            );
        }
    }
}

/// The instance keywords, in the order `--dump-conf` writes them.
pub(crate) const INSTANCE: &[Keyword<InstanceDraft, VrrpInstance>] = &[
    Keyword::new("state", state, |out, i| {
        // The wish keepalived derives when `state` is missing: MASTER for an address owner.
        let master = i.wishes_master();
        out.line(format!(
            "state {}",
            if master { "MASTER" } else { "BACKUP" }
        ));
    }),
    Keyword::new("interface", interface, |out, i| {
        if let Some(interface) = &i.interface {
            out.line(format!("interface {interface}"));
        }
    }),
    Keyword::new("virtual_router_id", vrid, |out, i| {
        out.line(format!("virtual_router_id {}", i.vrid.0))
    }),
    Keyword::new("priority", priority, |out, i| {
        out.line(format!("priority {}", i.priority.0))
    }),
    Keyword::new("advert_int", advert_int, |out, i| {
        out.line(format!("advert_int {}", format_seconds(i.advert_int)))
    }),
    Keyword::new("version", version, |out, i| {
        out.line(format!(
            "version {}",
            if i.version == Version::V2 { 2 } else { 3 }
        ))
    }),
    Keyword::new("native_ipv6", native_ipv6, |out, i| {
        flag_line(out, "native_ipv6", i.native_ipv6)
    }),
    Keyword::new(
        "vrf",
        |cx, d, s| {
            if let Some(name) = cx.value(s, 0) {
                d.instance.vrf = cx.existing_interface(s.arg_span(0), name, "vrf");
            }
        },
        |out, i| {
            if let Some(vrf) = &i.vrf {
                out.line(format!("vrf {vrf}"));
            }
        },
    ),
    Keyword::new("use_vmac", use_vmac, |out, i| {
        if let Some(vmac) = &i.vmac {
            let mut text = "use_vmac".to_string();
            let name = vmac.interface.as_ref().map(ToString::to_string);
            for part in [name, vmac.mac.clone()].into_iter().flatten() {
                text.push(' ');
                text.push_str(&part);
            }
            out.line(text);
        }
    }),
    Keyword::new(
        "vmac_xmit_base",
        |_, d, _| d.vmac_xmit_base = true,
        |out, i| {
            flag_line(
                out,
                "vmac_xmit_base",
                i.vmac.as_ref().is_some_and(|v| v.xmit_base),
            )
        },
    ),
    Keyword::new(
        "use_vmac_addr",
        |_, d, _| d.use_vmac_addr = true,
        |out, i| {
            flag_line(
                out,
                "use_vmac_addr",
                i.vmac.as_ref().is_some_and(|v| v.use_vmac_addr),
            )
        },
    ),
    Keyword::new("use_ipvlan", use_ipvlan, |out, i| {
        if let Some(ipvlan) = &i.ipvlan {
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
    }),
    Keyword::new(
        "authentication",
        |cx, d, s| {
            d.authentication = Some(s.keyword_span());
            let context = format!("in the authentication of {}", d.instance.name);
            for item in cx.block(s) {
                cx.dispatch(AUTHENTICATION, d, item, &context);
            }
        },
        |out, i| {
            use crate::config::model::Authentication;
            match &i.authentication {
                Some(Authentication::Pass(password)) => {
                    out.open("authentication");
                    out.line("auth_type PASS");
                    out.line(format!("auth_pass {}", word(password)));
                    out.close();
                }
                Some(Authentication::Ah(password)) => {
                    out.open("authentication");
                    out.line("auth_type AH");
                    out.line(format!("auth_pass {}", word(password)));
                    out.close();
                }
                None => {}
            }
        },
    ),
    Keyword::new(
        "virtual_ipaddress",
        |cx, d, s| cx.instance_addresses(d, s, Role::Virtual),
        |out, i| {
            crate::config::dump::addresses_block(out, "virtual_ipaddress", &i.virtual_ipaddress)
        },
    ),
    Keyword::new(
        "virtual_ipaddress_excluded",
        |cx, d, s| cx.instance_addresses(d, s, Role::Excluded),
        |out, i| {
            crate::config::dump::addresses_block(
                out,
                "virtual_ipaddress_excluded",
                &i.virtual_ipaddress_excluded,
            )
        },
    ),
    Keyword::new(
        "no_virtual_ipaddress",
        |cx, d, s| {
            cx.newer_keyword(s, "an instance that advertises no address");
            d.instance.no_virtual_ipaddress = true;
        },
        |out, i| flag_line(out, "no_virtual_ipaddress", i.no_virtual_ipaddress),
    ),
    Keyword::new(
        "promote_secondaries",
        |_, d, _| d.instance.promote_secondaries = true,
        |out, i| flag_line(out, "promote_secondaries", i.promote_secondaries),
    ),
    Keyword::new(
        "virtual_routes",
        |cx, d, s| {
            let routes = cx.routes(s, false);
            d.instance.virtual_routes.extend(routes);
        },
        |out, i| crate::config::dump::routes_block(out, "virtual_routes", &i.virtual_routes),
    ),
    Keyword::new(
        "virtual_rules",
        |cx, d, s| {
            let rules = cx.rules(s, false);
            d.instance.virtual_rules.extend(rules);
        },
        |out, i| crate::config::dump::rules_block(out, "virtual_rules", &i.virtual_rules),
    ),
    Keyword::new(
        "nopreempt",
        |_, d, s| {
            d.instance.preempt = false;
            d.nopreempt = Some(s.keyword_span());
        },
        |out, i| out.line(if i.preempt { "preempt" } else { "nopreempt" }),
    ),
    Keyword::read_only("preempt", |_, d, _| {
        d.instance.preempt = true;
        d.nopreempt = None;
    }),
    Keyword::new("preempt_delay", preempt_delay, |out, i| {
        if !i.preempt_delay.is_zero() {
            out.line(format!("preempt_delay {}", format_seconds(i.preempt_delay)));
        }
    }),
    Keyword::new(
        "accept",
        |_, d, _| d.accept = Some(true),
        |out, i| match i.accept {
            Some(true) => out.line("accept"),
            Some(false) => out.line("no_accept"),
            None => {}
        },
    ),
    Keyword::read_only("no_accept", |_, d, _| d.accept = Some(false)),
    Keyword::new(
        "track_interface",
        |cx, d, s| cx.track_refs(s, &mut d.instance.track, &d.instance.name.clone()),
        |out, i| crate::config::dump::tracking(out, &i.track),
    ),
    Keyword::read_only("track_script", |cx, d, s| {
        cx.track_refs(s, &mut d.instance.track, &d.instance.name.clone())
    }),
    Keyword::read_only("track_file", |cx, d, s| {
        cx.track_refs(s, &mut d.instance.track, &d.instance.name.clone())
    }),
    Keyword::read_only("track_process", |cx, d, s| {
        cx.track_refs(s, &mut d.instance.track, &d.instance.name.clone())
    }),
    Keyword::read_only("track_bfd", |cx, d, s| {
        cx.track_refs(s, &mut d.instance.track, &d.instance.name.clone())
    }),
    Keyword::new(
        "dont_track_primary",
        |_, d, _| d.instance.dont_track_primary = true,
        |out, i| flag_line(out, "dont_track_primary", i.dont_track_primary),
    ),
    Keyword::new(
        "track_src_ip",
        |_, d, _| d.instance.track_src_ip = true,
        |out, i| flag_line(out, "track_src_ip", i.track_src_ip),
    ),
    Keyword::new("mcast_src_ip", src_ip, |out, i| {
        if let Some(addr) = i.mcast_src_ip {
            out.line(format!("mcast_src_ip {addr}"));
        }
    }),
    Keyword::new("mcast_dst_ip", mcast_dst_ip, |out, i| {
        if let Some(addr) = i.mcast_dst_ip {
            out.line(format!("mcast_dst_ip {addr}"));
        }
    }),
    Keyword::new("unicast_src_ip", src_ip, |out, i| {
        if let Some(addr) = i.unicast.src_ip {
            out.line(format!("unicast_src_ip {addr}"));
        }
    }),
    Keyword::new(
        "unicast_peer",
        |cx, d, s| cx.unicast_peers(d, s),
        |out, i| {
            if i.unicast.peers.is_empty() {
                return;
            }
            out.open("unicast_peer");
            for peer in &i.unicast.peers {
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
        },
    ),
    Keyword::new(
        "unicast_ttl",
        |cx, d, s| {
            if let Some(ttl) = cx.unsigned(s, 0, 0, 255) {
                d.instance.unicast.ttl = Some(ttl as u8);
                d.unicast_ttl = Some(s.keyword_span());
            }
        },
        |out, i| {
            if let Some(ttl) = i.unicast.ttl {
                out.line(format!("unicast_ttl {ttl}"));
            }
        },
    ),
    Keyword::new(
        "unicast_fault_no_peer",
        |_, d, s| {
            d.unicast_keyword.get_or_insert_with(|| s.keyword_span());
            d.instance.unicast.fault_no_peer = true;
        },
        |out, i| flag_line(out, "unicast_fault_no_peer", i.unicast.fault_no_peer),
    ),
    Keyword::new(
        "check_unicast_src",
        |_, d, s| {
            d.unicast_keyword.get_or_insert_with(|| s.keyword_span());
            d.instance.unicast.check_unicast_src = true;
        },
        |out, i| flag_line(out, "check_unicast_src", i.unicast.check_unicast_src),
    ),
    Keyword::new(
        "old_unicast_checksum",
        old_unicast_checksum,
        |out, i| match i.unicast.old_checksum {
            Some(true) => out.line("old_unicast_checksum"),
            Some(false) => out.line("old_unicast_checksum never"),
            None => {}
        },
    ),
    Keyword::new(
        "garp_master_delay",
        |cx, d, s| {
            if let Some(delay) = unsigned_seconds(cx, s) {
                d.instance.garp.master_delay = delay;
            }
        },
        |out, i| {
            out.line(format!(
                "garp_master_delay {}",
                i.garp.master_delay.as_secs()
            ))
        },
    ),
    Keyword::new(
        "garp_master_repeat",
        |cx, d, s| {
            if let Some(n) = repeat_at_least_one(cx, s) {
                d.instance.garp.master_repeat = n;
            }
        },
        |out, i| out.line(format!("garp_master_repeat {}", i.garp.master_repeat)),
    ),
    Keyword::new(
        "garp_master_refresh",
        |cx, d, s| {
            // keepalived: 0 (off) when the value is invalid.
            d.instance.garp.master_refresh = cx
                .unsigned_as_run(s, 0, 0, u64::from(u32::MAX))
                .map_or(Duration::ZERO, Duration::from_secs);
        },
        |out, i| {
            out.line(format!(
                "garp_master_refresh {}",
                i.garp.master_refresh.as_secs()
            ))
        },
    ),
    Keyword::new(
        "garp_master_refresh_repeat",
        |cx, d, s| {
            if let Some(n) = repeat_at_least_one(cx, s) {
                d.instance.garp.master_refresh_repeat = n;
            }
        },
        |out, i| {
            // keepalived's vrrp_min_garp sets 0, which the keyword itself cannot express.
            if i.garp.master_refresh_repeat > 0 {
                out.line(format!(
                    "garp_master_refresh_repeat {}",
                    i.garp.master_refresh_repeat
                ));
            }
        },
    ),
    Keyword::new(
        "garp_lower_prio_delay",
        |cx, d, s| {
            if let Some(delay) = unsigned_seconds(cx, s) {
                d.garp_lower_prio_delay = Some(delay);
            }
        },
        |out, i| {
            if let Some(delay) = i.garp.lower_prio_delay {
                out.line(format!("garp_lower_prio_delay {}", delay.as_secs()));
            }
        },
    ),
    Keyword::new(
        "garp_lower_prio_repeat",
        |cx, d, s| {
            if let Some(n) = cx.unsigned_as_run(s, 0, 0, i32::MAX as u64) {
                d.garp_lower_prio_repeat = Some(n as u32);
            }
        },
        |out, i| {
            if let Some(repeat) = i.garp.lower_prio_repeat {
                out.line(format!("garp_lower_prio_repeat {repeat}"));
            }
        },
    ),
    Keyword::new(
        "garp_interval",
        |cx, d, s| {
            cx.newer_keyword(s, "the gap between this instance's gratuitous ARPs");
            if let Some(gap) = cx.packet_gap(s) {
                d.instance.garp.garp_interval = gap;
            }
        },
        |out, i| {
            if i.garp.garp_interval != out.packet_gaps.0 {
                out.line(format!(
                    "garp_interval {}",
                    format_seconds(i.garp.garp_interval)
                ));
            }
        },
    ),
    Keyword::new(
        "gna_interval",
        |cx, d, s| {
            cx.newer_keyword(
                s,
                "the gap between this instance's unsolicited neighbour advertisements",
            );
            if let Some(gap) = cx.packet_gap(s) {
                d.instance.garp.gna_interval = gap;
            }
        },
        |out, i| {
            if i.garp.gna_interval != out.packet_gaps.1 {
                out.line(format!(
                    "gna_interval {}",
                    format_seconds(i.garp.gna_interval)
                ));
            }
        },
    ),
    Keyword::new("garp_extra_if", garp_extra_if, |out, i| {
        if let Some(extra) = &i.garp_extra_if {
            out.line(format!(
                "garp_extra_if {}{}",
                if extra.all { "all " } else { "" },
                extra.delay.as_secs()
            ));
        }
    }),
    Keyword::read_only("vmac_garp_intvl", |cx, d, s| {
        cx.diagnostics
            .warning(&s.keyword_span(), "vmac_garp_intvl is deprecated")
            .hint("write garp_extra_if");
        garp_extra_if(cx, d, s)
    }),
    Keyword::new(
        "down_timer_adverts",
        |cx, d, s| {
            if let Some(n) = cx.unsigned_as_run(s, 0, 1, 100) {
                d.instance.down_timer_adverts = n as u32;
            }
        },
        |out, i| out.line(format!("down_timer_adverts {}", i.down_timer_adverts)),
    ),
    Keyword::new(
        "lower_prio_no_advert",
        |cx, d, s| {
            if let Some(value) = cx.flag(s) {
                d.lower_prio_no_advert = Some(value);
            }
        },
        |out, i| {
            out.line(format!(
                "lower_prio_no_advert {}",
                on_off(i.lower_prio_no_advert)
            ))
        },
    ),
    Keyword::new(
        "higher_prio_send_advert",
        |cx, d, s| {
            if let Some(value) = cx.flag(s) {
                d.higher_prio_send_advert = Some(value);
            }
        },
        |out, i| {
            out.line(format!(
                "higher_prio_send_advert {}",
                on_off(i.higher_prio_send_advert)
            ))
        },
    ),
    Keyword::new(
        "skip_check_adv_addr",
        |cx, d, s| {
            // keepalived sets it for any valid boolean, `off` included (vrrp_parser.c).
            match cx.bool_arg(s) {
                BoolArg::Absent | BoolArg::Value(true) => d.skip_check_adv_addr = true,
                BoolArg::Value(false) => {
                    cx.diagnostics
                        .warning(
                            &s.arg_span(0),
                            format!("'{} {}' turns the check off all the same: keepalived sets skip_check_adv_addr for any value", s.name(), s.args[0].text),
                        )
                        .hint("remove the line to keep checking advert addresses");
                    d.skip_check_adv_addr = true;
                }
                BoolArg::Invalid => {}
            }
        },
        |out, i| flag_line(out, "skip_check_adv_addr", i.skip_check_adv_addr),
    ),
    Keyword::new(
        "strict_mode",
        |cx, d, s| {
            if let Some(value) = cx.flag(s) {
                d.strict_mode = Some(value);
            }
        },
        |out, i| out.line(format!("strict_mode {}", on_off(i.strict_mode))),
    ),
    Keyword::new("debug", debug, |out, i| {
        if let Some(level) = i.debug {
            out.line(format!("debug {level}"));
        }
    }),
    Keyword::new(
        "notify_master",
        |cx, d, s| {
            let owner = d.instance.name.clone();
            cx.notify_slot(s, |n| &mut n.master, &mut d.instance.notify, &owner)
        },
        |out, i| notify_lines(out, &i.notify),
    ),
    Keyword::read_only("notify_backup", |cx, d, s| {
        let owner = d.instance.name.clone();
        cx.notify_slot(s, |n| &mut n.backup, &mut d.instance.notify, &owner)
    }),
    Keyword::read_only("notify_fault", |cx, d, s| {
        let owner = d.instance.name.clone();
        cx.notify_slot(s, |n| &mut n.fault, &mut d.instance.notify, &owner)
    }),
    Keyword::read_only("notify_stop", |cx, d, s| {
        let owner = d.instance.name.clone();
        cx.notify_slot(s, |n| &mut n.stop, &mut d.instance.notify, &owner)
    }),
    Keyword::read_only("notify", |cx, d, s| {
        let owner = d.instance.name.clone();
        cx.notify_slot(s, |n| &mut n.any, &mut d.instance.notify, &owner)
    }),
    Keyword::read_only("notify_master_rx_lower_pri", |cx, d, s| {
        let owner = d.instance.name.clone();
        cx.notify_slot(
            s,
            |n| &mut n.master_rx_lower_pri,
            &mut d.instance.notify,
            &owner,
        )
    }),
    Keyword::read_only("notify_deleted", |cx, d, s| {
        if d.instance.notify.deleted.is_some() {
            cx.diagnostics.error(
                &s.keyword_span(),
                format!(
                    "{}: notify_deleted is already set; this one is ignored",
                    d.instance.name
                ),
            );
            return;
        }
        d.instance.notify.deleted = Some(if s.args.is_empty() {
            None
        } else {
            cx.script_command(s)
        });
    }),
    Keyword::new(
        "notify_priority_changes",
        |cx, d, s| {
            if let Some(value) = cx.flag(s) {
                d.instance.notify_priority_changes = value;
            }
        },
        |out, i| {
            out.line(format!(
                "notify_priority_changes {}",
                on_off(i.notify_priority_changes)
            ))
        },
    ),
    Keyword::new(
        "smtp_alert",
        |cx, d, s| {
            if let Some(value) = cx.flag(s) {
                d.instance.smtp_alert = Some(value);
            }
        },
        |out, i| {
            if let Some(alert) = i.smtp_alert {
                out.line(format!("smtp_alert {}", on_off(alert)));
            }
        },
    ),
    Keyword::new("kernel_rx_buf_size", kernel_rx_buf_size, |out, i| {
        if let Some(size) = i.kernel_rx_buf_size {
            out.line(format!("kernel_rx_buf_size {size}"));
        }
    }),
    Keyword::new(
        "linkbeat_use_polling",
        |cx, d, s| {
            cx.diagnostics
                .error(
                    &s.keyword_span(),
                    format!("{}: linkbeat_use_polling in a vrrp_instance is deprecated", d.instance.name),
                )
                .hint("use a top-level linkbeat_interfaces block (keepalived reports it the same way)");
            d.instance.linkbeat_use_polling = true;
        },
        |out, i| flag_line(out, "linkbeat_use_polling", i.linkbeat_use_polling),
    ),
    Keyword::read_only("lvs_sync_daemon_interface", |cx, _, s| {
        cx.diagnostics
            .error(
                &s.keyword_span(),
                "lvs_sync_daemon_interface in a vrrp_instance is deprecated and ignored",
            )
            .hint("keepalived reports it the same way; use the global lvs_sync_daemon");
    }),
];

/// The `authentication { }` block.
pub(crate) const AUTHENTICATION: &[Keyword<InstanceDraft, VrrpInstance>] = &[
    Keyword::read_only("auth_type", |cx, d, s| {
        let Some(kind) = cx.value(s, 0) else {
            return;
        };
        match kind {
            "PASS" => d.auth_type = Some(AuthKind::Pass),
            "AH" => d.auth_type = Some(AuthKind::Ah),
            other => {
                cx.diagnostics
                    .error(
                        &s.arg_span(0),
                        format!("{}: unknown auth_type '{other}'", d.instance.name),
                    )
                    .hint("auth_type PASS or auth_type AH (upper case)");
            }
        }
    }),
    Keyword::read_only("auth_pass", |cx, d, s| {
        let Some(password) = cx.value(s, 0) else {
            return;
        };
        let mut password = password.to_string();
        if password.len() > 8 {
            // keepalived reports it ("Truncating auth_pass to 8 characters").
            cx.diagnostics
                .error(
                    &s.arg_span(0),
                    format!(
                        "auth_pass is {} characters; only the first 8 are used",
                        password.len()
                    ),
                )
                .hint("VRRPv2 carries 8 bytes of password (RFC 2338 5.3.6); keepalived truncates the same way");
            let mut cut = 8;
            while !password.is_char_boundary(cut) {
                cut -= 1;
            }
            password.truncate(cut);
        }
        d.auth_pass = Some(password);
    }),
];

/// Every notify script line of a block (instances and sync groups share the format).
pub(crate) fn notify_lines(out: &mut Writer, notify: &Notify) {
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

/// Writes a whole instance block.
pub(crate) fn dump_instance(out: &mut Writer, instance: &VrrpInstance) {
    out.open(&format!("vrrp_instance {}", word(&instance.name)));
    out.line(format!("# defined at {}", instance.defined_at));
    dump_table(out, INSTANCE, instance);
    out.close();
}
