//! Addresses, routes and rules (virtual and static) and interface delays, in the syntax
//! keepalived's `alloc_ipaddress`, `alloc_route` and `alloc_rule` read.

use std::fmt::Write as _;

use super::{Writer, word};
use crate::config::model::{
    Broadcast, Config, Route, RouteInstall, RouteMetric, Rule, RuleAction, VirtualAddress,
};
use crate::config::values::format_seconds;
use crate::protocol::Family;

pub(super) fn statics(out: &mut Writer, config: &Config) {
    addresses_block(out, "static_ipaddress", &config.static_addresses);
    routes_block(out, "static_routes", &config.static_routes);
    rules_block(out, "static_rules", &config.static_rules);
}

pub(super) fn delays(out: &mut Writer, config: &Config) {
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
            out.line(interface.to_string());
        }
        out.close();
    }
}

pub(crate) fn addresses_block(out: &mut Writer, name: &str, addresses: &[VirtualAddress]) {
    if addresses.is_empty() {
        return;
    }
    out.open(name);
    for address in addresses {
        out.line(address_line(address));
    }
    out.close();
}

pub(crate) fn address_line(vip: &VirtualAddress) -> String {
    // With a peer, the prefix length belongs to the peer.
    let mut text = if vip.peer.is_some() {
        vip.address.addr.to_string()
    } else {
        vip.address.to_string()
    };
    match &vip.broadcast {
        Some(Broadcast::Address(addr)) => {
            let _ = write!(text, " brd {addr}");
        }
        Some(Broadcast::Derived) => text.push_str(" brd +"),
        Some(Broadcast::None) => text.push_str(" brd -"),
        None => {}
    }
    if let Some(dev) = &vip.dev {
        let _ = write!(text, " dev {dev}");
    }
    for (name, value) in [
        ("scope", &vip.scope),
        ("label", &vip.label),
        ("track_group", &vip.track_group),
    ] {
        if let Some(value) = value {
            let _ = write!(text, " {name} {}", word(value));
        }
    }
    if let Some(peer) = &vip.peer {
        let _ = write!(text, " peer {}", peer.addr);
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
    if vip.address.addr.is_ipv6() {
        match vip.preferred_lft {
            Some(lifetime) => {
                let _ = write!(text, " preferred_lft {lifetime}");
            }
            None => text.push_str(" preferred_lft forever"),
        }
    } else if let Some(lifetime) = vip.preferred_lft {
        let _ = write!(text, " preferred_lft {lifetime}");
    }
    text
}

fn metric(text: &mut String, name: &str, value: &Option<RouteMetric>) {
    if let Some(metric) = value {
        let _ = write!(
            text,
            " {name} {}{}",
            if metric.lock { "lock " } else { "" },
            metric.value
        );
    }
}

pub(crate) fn route_line(route: &Route) -> String {
    let mut text = String::new();
    if let Some(route_type) = &route.route_type {
        let _ = write!(text, "{route_type} ");
    }
    let _ = write!(text, "{}", route.destination);
    if let Some(from) = &route.from {
        let _ = write!(text, " from {from}");
    }
    if let Some(src) = route.src {
        let _ = write!(text, " src {src}");
    }
    if let Some(tos) = route.tos {
        let _ = write!(text, " tos {tos}");
    }
    if let Some(via) = route.via {
        let family = if via.is_ipv6() { "inet6" } else { "inet" };
        let _ = write!(text, " via {family} {via}");
    }
    if let Some(dev) = &route.dev {
        let _ = write!(text, " dev {dev}");
    }
    if let Some(table) = route.table {
        let _ = write!(text, " table {table}");
    }
    if let Some(protocol) = route.protocol {
        let _ = write!(text, " protocol {protocol}");
    }
    if let Some(scope) = route.scope {
        let _ = write!(text, " scope {scope}");
    }
    if let Some(metric_value) = route.metric {
        let _ = write!(text, " metric {metric_value}");
    }
    if route.onlink {
        text.push_str(" onlink");
    }
    let metrics = &route.metrics;
    metric(&mut text, "mtu", &metrics.mtu);
    metric(&mut text, "advmss", &metrics.advmss);
    metric(&mut text, "rtt", &metrics.rtt);
    metric(&mut text, "rttvar", &metrics.rttvar);
    metric(&mut text, "reordering", &metrics.reordering);
    metric(&mut text, "cwnd", &metrics.cwnd);
    metric(&mut text, "ssthresh", &metrics.ssthresh);
    metric(&mut text, "rto_min", &metrics.rto_min);
    for (name, value) in [
        ("window", metrics.window),
        ("initcwnd", metrics.initcwnd),
        ("initrwnd", metrics.initrwnd),
    ] {
        if let Some(value) = value {
            let _ = write!(text, " {name} {value}");
        }
    }
    if let Some(hoplimit) = metrics.hoplimit {
        let _ = write!(text, " hoplimit {hoplimit}");
    }
    if metrics.features_ecn {
        text.push_str(" features ecn");
    }
    if let Some(quickack) = metrics.quickack {
        let _ = write!(text, " quickack {}", u8::from(quickack));
    }
    if let Some((name, lock)) = &metrics.congctl {
        let _ = write!(
            text,
            " congctl {}{}",
            if *lock { "lock " } else { "" },
            word(name)
        );
    }
    if let Some(cookie) = metrics.fastopen_no_cookie {
        let _ = write!(text, " fastopen_no_cookie {}", u8::from(cookie));
    }
    if let Some(realms) = route.realms {
        let _ = write!(text, " realms {}/{}", realms >> 16, realms & 0xffff);
    }
    if let Some(expires) = route.expires {
        let _ = write!(text, " expires {expires}");
    }
    if let Some(pref) = route.pref {
        let _ = write!(text, " pref {pref}");
    }
    if let Some(propagate) = route.ttl_propagate {
        let _ = write!(
            text,
            " ttl-propagate {}",
            if propagate { "enabled" } else { "disabled" }
        );
    }
    if let Some(encap) = &route.encap {
        let _ = write!(text, " encap {}", encap.join(" "));
    }
    match route.install {
        RouteInstall::Prepend => {}
        RouteInstall::Add => text.push_str(" add"),
        RouteInstall::Append => text.push_str(" append"),
    }
    if let Some(vrf) = &route.vrf {
        let _ = write!(text, " vrf {vrf}");
    }
    if let Some(group) = &route.track_group {
        let _ = write!(text, " track_group {}", word(group));
    }
    if route.no_track {
        text.push_str(" no_track");
    }
    for hop in &route.nexthops {
        text.push_str(" nexthop");
        if let Some(via) = hop.via {
            let _ = write!(text, " via {via}");
        }
        if let Some(dev) = &hop.dev {
            let _ = write!(text, " dev {dev}");
        }
        if let Some(weight) = hop.weight {
            let _ = write!(text, " weight {weight}");
        }
        if hop.onlink {
            text.push_str(" onlink");
        }
        if let Some(realms) = hop.realms {
            let _ = write!(text, " realms {}/{}", realms >> 16, realms & 0xffff);
        }
        if let Some(encap) = &hop.encap {
            let _ = write!(text, " encap {}", encap.join(" "));
        }
    }
    text
}

pub(crate) fn routes_block(out: &mut Writer, name: &str, routes: &[Route]) {
    if routes.is_empty() {
        return;
    }
    out.open(name);
    for route in routes {
        out.line(route_line(route));
    }
    out.close();
}

pub(crate) fn rule_line(rule: &Rule) -> String {
    let mut parts: Vec<String> = Vec::new();
    if rule.invert {
        parts.push("not".into());
    }
    // A rule's family is written through a selector: `inet6` would make keepalived skip the
    // next word.
    if let (None, None, Family::Ipv6) = (&rule.from, &rule.to, rule.family) {
        parts.push("from ::/0".into());
    }
    if let Some(from) = &rule.from {
        parts.push(format!("from {from}"));
    }
    if let Some(to) = &rule.to {
        parts.push(format!("to {to}"));
    }
    if let Some(preference) = rule.preference {
        parts.push(format!("preference {preference}"));
    }
    if let Some(tos) = rule.tos {
        parts.push(format!("tos {tos}"));
    }
    if let Some(mark) = rule.fwmark {
        match rule.fwmask {
            Some(mask) => parts.push(format!("fwmark {mark:#x}/{mask:#x}")),
            None => parts.push(format!("fwmark {mark:#x}")),
        }
    }
    if let Some(iif) = &rule.iif {
        parts.push(format!("iif {iif}"));
    }
    if let Some(oif) = &rule.oif {
        parts.push(format!("oif {oif}"));
    }
    if let Some(realms) = rule.realms {
        parts.push(format!("realms {}/{}", realms >> 16, realms & 0xffff));
    }
    if let Some(length) = rule.suppress_prefixlength {
        parts.push(format!("suppress_prefixlength {length}"));
    }
    if let Some(group) = rule.suppress_ifgroup {
        parts.push(format!("suppress_ifgroup {group}"));
    }
    if let Some(id) = rule.tunnel_id {
        parts.push(format!("tunnel-id {id}"));
    }
    if let Some((start, end)) = rule.uidrange {
        parts.push(format!("uidrange {start}-{end}"));
    }
    if rule.l3mdev {
        parts.push("l3mdev".into());
    }
    if let Some(protocol) = rule.protocol {
        parts.push(format!("protocol {protocol}"));
    }
    if let Some(protocol) = rule.ip_proto {
        parts.push(format!("ipproto {protocol}"));
    }
    for (name, range) in [("sport", rule.sport), ("dport", rule.dport)] {
        if let Some((start, end)) = range {
            parts.push(format!("{name} {start}-{end}"));
        }
    }
    if let Some(table) = rule.table {
        parts.push(format!("table {table}"));
    }
    match &rule.action {
        Some(RuleAction::Goto(target)) => parts.push(format!("goto {target}")),
        Some(RuleAction::Nop) => parts.push("nop".into()),
        Some(RuleAction::Type(kind)) => parts.push(kind.clone()),
        None => {}
    }
    if let Some(group) = &rule.track_group {
        parts.push(format!("track_group {}", word(group)));
    }
    if rule.no_track {
        parts.push("no_track".into());
    }
    parts.join(" ")
}

pub(crate) fn rules_block(out: &mut Writer, name: &str, rules: &[Rule]) {
    if rules.is_empty() {
        return;
    }
    out.open(name);
    for rule in rules {
        out.line(rule_line(rule));
    }
    out.close();
}
