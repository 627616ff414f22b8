//! Addresses, routes and rules (virtual and static), GARP groups and interface delays.

use std::fmt::Write as _;

use super::{Writer, word};
use crate::config::model::{Broadcast, Config, Route, Rule, VirtualAddress};
use crate::config::values::format_seconds;

pub(super) fn statics(out: &mut Writer, config: &Config) {
    if !config.static_addresses.is_empty() {
        out.open("static_ipaddress");
        for address in &config.static_addresses {
            out.line(address_line(address));
        }
        out.close();
    }
    routes_block(out, "static_routes", &config.static_routes);
    rules_block(out, "static_rules", &config.static_rules);
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
            out.line(interface.to_string());
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
            out.line(interface.to_string());
        }
        out.close();
    }
}

pub(super) fn addresses_block(out: &mut Writer, name: &str, addresses: &[VirtualAddress]) {
    if addresses.is_empty() {
        return;
    }
    out.open(name);
    for address in addresses {
        out.line(address_line(address));
    }
    out.close();
}

pub(super) fn address_line(vip: &VirtualAddress) -> String {
    let mut text = vip.address.to_string();
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

pub(super) fn routes_block(out: &mut Writer, name: &str, routes: &[Route]) {
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

pub(super) fn rules_block(out: &mut Writer, name: &str, rules: &[Rule]) {
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

pub(super) fn options(text: &mut String, options: &[(String, Option<String>)]) {
    for (name, value) in options {
        let _ = write!(text, " {name}");
        if let Some(value) = value {
            let _ = write!(text, " {}", word(value));
        }
    }
}
