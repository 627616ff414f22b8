//! Address, route and rule lines (`virtual_ipaddress`, `virtual_routes`, `virtual_rules` and
//! their `static_*` twins, in `ip addr|route|rule` syntax), `garp_group` and
//! `interface_up_down_delays`.

use super::Cx;
use crate::config::diagnostic::Span;
use crate::config::model::{Broadcast, GarpGroup, InterfaceDelays, Route, Rule, VirtualAddress};
use crate::config::tree::Statement;
use crate::config::values::IpPrefix;

/// `ip route` options that take one value, kept as written.
const ROUTE_VALUE_OPTIONS: &[&str] = &[
    "proto",
    "protocol",
    "tos",
    "dsfield",
    "realms",
    "mtu",
    "advmss",
    "rtt",
    "rttvar",
    "reordering",
    "window",
    "cwnd",
    "initcwnd",
    "initrwnd",
    "ssthresh",
    "features",
    "quickack",
    "congctl",
    "rto_min",
    "hoplimit",
    "expires",
    "pref",
    "fastopen_no_cookie",
    "weight",
    "track_group",
];
/// `ip route` options without a value.
const ROUTE_FLAG_OPTIONS: &[&str] = &["onlink", "lock", "pervasive"];
const ROUTE_TYPES: &[&str] = &[
    "unicast",
    "blackhole",
    "unreachable",
    "prohibit",
    "throw",
    "local",
    "broadcast",
    "anycast",
    "multicast",
    "nat",
];

const RULE_VALUE_OPTIONS: &[&str] = &[
    "fwmark",
    "iif",
    "oif",
    "tos",
    "dsfield",
    "uidrange",
    "ip_proto",
    "sport",
    "dport",
    "goto",
    "suppress_prefixlength",
    "suppress_ifgroup",
    "realms",
    "protocol",
    "track_group",
];
const RULE_FLAG_OPTIONS: &[&str] = &["l3mdev", "not"];
const RULE_ACTIONS: &[&str] = &["blackhole", "prohibit", "unreachable", "nop"];

impl Cx<'_> {
    pub(super) fn addresses(&mut self, s: &Statement) -> Vec<VirtualAddress> {
        self.addresses_with_spans(s)
            .into_iter()
            .map(|(address, _)| address)
            .collect()
    }

    pub(super) fn addresses_with_spans(&mut self, s: &Statement) -> Vec<(VirtualAddress, Span)> {
        let mut out = Vec::new();
        for line in self.block(s) {
            if let Some(address) = self.address_line(line) {
                out.push((address, line.keyword_span()));
            }
        }
        out
    }

    /// `ADDR[/LEN] [brd IP|+|-] [dev IF] [scope S] [label L] [peer IP] [home] [-nodad]
    /// [mngtmpaddr] [noprefixroute] [autojoin] [no_track] [use_vmac] [preferred_lft N|forever]`.
    fn address_line(&mut self, s: &Statement) -> Option<VirtualAddress> {
        let address = self.prefix_text(s.keyword_span(), s.name())?;
        let mut vip = VirtualAddress {
            address,
            broadcast: None,
            dev: None,
            scope: None,
            label: None,
            peer: None,
            home: false,
            nodad: false,
            mngtmpaddr: false,
            noprefixroute: false,
            autojoin: false,
            no_track: false,
            use_vmac: false,
            preferred_lft: None,
            track_group: None,
        };
        let mut index = 0;
        while index < s.args.len() {
            let option = s.args[index].text.as_str();
            let takes_value = matches!(
                option,
                "brd"
                    | "broadcast"
                    | "dev"
                    | "scope"
                    | "label"
                    | "peer"
                    | "preferred_lft"
                    | "track_group"
            );
            if takes_value && s.arg(index + 1).is_none() {
                self.diagnostics
                    .error(&s.arg_span(index + 1), format!("'{option}' needs a value"));
                return None;
            }
            let value = s.arg(index + 1).unwrap_or_default().to_string();
            let value_span = s.arg_span(index + 1);
            match option {
                "brd" | "broadcast" => {
                    vip.broadcast = Some(match value.as_str() {
                        "+" => Broadcast::Derived,
                        "-" => Broadcast::None,
                        text => Broadcast::Address(self.ip_text(value_span, text)?),
                    });
                }
                "dev" => {
                    if let Some(dev) = self.interface_name(value_span, &value) {
                        vip.dev = Some(dev);
                    }
                }
                "scope" => {
                    if matches!(
                        value.as_str(),
                        "host" | "link" | "site" | "global" | "nowhere"
                    ) || value.parse::<u8>().is_ok()
                    {
                        vip.scope = Some(value);
                    } else {
                        self.diagnostics
                            .error(&value_span, format!("unknown scope '{value}'"))
                            .hint("scope host|link|site|global|nowhere|NUMBER");
                    }
                }
                "label" => {
                    if value.len() > 15 {
                        self.diagnostics.error(
                            &value_span,
                            format!("label '{value}' is longer than 15 characters"),
                        );
                    } else {
                        vip.label = Some(value);
                    }
                }
                "peer" => vip.peer = Some(self.prefix_text(value_span, &value)?),
                "preferred_lft" => {
                    vip.preferred_lft = match value.as_str() {
                        "forever" => None,
                        text => match text.parse::<u32>() {
                            Ok(seconds) => Some(seconds),
                            Err(_) => {
                                self.diagnostics
                                    .error(&value_span, format!("preferred_lft '{text}' is not a number of seconds or 'forever'"));
                                None
                            }
                        },
                    }
                }
                "track_group" => vip.track_group = Some(value),
                "home" => vip.home = true,
                "-nodad" => vip.nodad = true,
                "mngtmpaddr" => vip.mngtmpaddr = true,
                "noprefixroute" => vip.noprefixroute = true,
                "autojoin" => vip.autojoin = true,
                "no_track" => vip.no_track = true,
                "use_vmac" => vip.use_vmac = true,
                other => {
                    self.diagnostics
                        .error(&s.arg_span(index), format!("unknown address option '{other}'; the address is ignored"))
                        .hint("options: brd dev scope label peer home -nodad mngtmpaddr noprefixroute autojoin no_track preferred_lft");
                    return None;
                }
            }
            index += if takes_value { 2 } else { 1 };
        }
        if let (Some(Broadcast::Address(brd)), addr) = (&vip.broadcast, vip.address.addr)
            && brd.is_ipv4() != addr.is_ipv4()
        {
            self.diagnostics.error(
                &s.line.whole(),
                format!("broadcast {brd} and address {addr} are of different families"),
            );
            return None;
        }
        Some(vip)
    }

    pub(super) fn routes(&mut self, s: &Statement) -> Vec<Route> {
        let mut routes = Vec::new();
        for line in self.block(s) {
            if let Some(route) = self.route_line(line) {
                routes.push(route);
            }
        }
        routes
    }

    fn route_line(&mut self, s: &Statement) -> Option<Route> {
        // The keyword is simply the first word of the line.
        let words: Vec<(String, Span)> = std::iter::once(&s.keyword)
            .chain(&s.args)
            .map(|t| (t.text.clone(), s.line.span(t.start, t.end)))
            .collect();
        let mut route = Route {
            route_type: None,
            destination: IpPrefix::host(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            src: None,
            via: None,
            dev: None,
            table: None,
            metric: None,
            scope: None,
            nexthops: Vec::new(),
            no_track: false,
            options: Vec::new(),
        };
        let mut destination = None;
        let mut index = 0;
        while index < words.len() {
            let (word, span) = (&words[index].0, words[index].1.clone());
            let value = words
                .get(index + 1)
                .map(|(text, span)| (text.clone(), span.clone()));
            let needs_value = |cx: &mut Self| {
                if value.is_none() {
                    cx.diagnostics
                        .error(&span, format!("'{word}' needs a value"));
                }
                value.clone()
            };
            match word.as_str() {
                "src" => {
                    let (text, span) = needs_value(self)?;
                    route.src = Some(self.ip_text(span, &text)?);
                    index += 2;
                }
                "via" | "gw" => {
                    let (mut text, mut span) = needs_value(self)?;
                    // `via inet6 ADDR` names the family first.
                    if matches!(text.as_str(), "inet" | "inet6") {
                        (text, span) = words
                            .get(index + 2)
                            .cloned()
                            .or_else(|| needs_value(self))?;
                        index += 1;
                    }
                    route.via = Some(self.ip_text(span, &text)?);
                    index += 2;
                }
                "or" => {
                    let (text, span) = needs_value(self)?;
                    route.nexthops.push(self.ip_text(span, &text)?);
                    index += 2;
                }
                "nexthop" => {
                    // `nexthop via ADDR [dev IF] [weight N]`: the gateway is what xvrrpd needs.
                    index += 1;
                    while index < words.len() && words[index].0 != "nexthop" {
                        if words[index].0 == "via" && index + 1 < words.len() {
                            let (text, span) = words[index + 1].clone();
                            route.nexthops.push(self.ip_text(span, &text)?);
                            index += 2;
                        } else {
                            route.options.push((words[index].0.clone(), None));
                            index += 1;
                        }
                    }
                }
                "dev" | "oif" => {
                    let (text, span) = needs_value(self)?;
                    route.dev = Some(self.interface_name(span, &text)?);
                    index += 2;
                }
                "table" => {
                    route.table = Some(needs_value(self)?.0);
                    index += 2;
                }
                "metric" | "preference" | "priority" => {
                    let (text, span) = needs_value(self)?;
                    match text.parse() {
                        Ok(metric) => route.metric = Some(metric),
                        Err(_) => {
                            self.diagnostics
                                .error(&span, format!("metric '{text}' is not a number"));
                            return None;
                        }
                    }
                    index += 2;
                }
                "scope" => {
                    route.scope = Some(needs_value(self)?.0);
                    index += 2;
                }
                "to" => {
                    let (text, span) = needs_value(self)?;
                    destination = Some(self.destination(span, &text)?);
                    index += 2;
                }
                "no_track" => {
                    route.no_track = true;
                    index += 1;
                }
                word if ROUTE_TYPES.contains(&word) && index == 0 => {
                    route.route_type = Some(word.to_string());
                    index += 1;
                }
                word if ROUTE_FLAG_OPTIONS.contains(&word) => {
                    route.options.push((word.to_string(), None));
                    index += 1;
                }
                word if ROUTE_VALUE_OPTIONS.contains(&word) => {
                    let (text, _) = needs_value(self)?;
                    route.options.push((word.to_string(), Some(text)));
                    index += 2;
                }
                text if destination.is_none() => {
                    destination = Some(self.destination(span, text)?);
                    index += 1;
                }
                other => {
                    self.diagnostics
                        .error(&span, format!("unknown route option '{other}'; the route is ignored"))
                        .hint("virtual_routes take `ip route` syntax: [type] PREFIX [src IP] [via IP] [dev IF] [table N] [metric N] ...");
                    return None;
                }
            }
        }
        let Some(destination) = destination else {
            self.diagnostics
                .error(&s.line.whole(), "the route has no destination")
                .hint("give a prefix such as 192.168.10.0/24 or default");
            return None;
        };
        route.destination = destination;
        if let Some(via) = route.via
            && via.is_ipv4() != destination.addr.is_ipv4()
        {
            self.diagnostics.error(
                &s.line.whole(),
                format!("gateway {via} and destination {destination} are of different families"),
            );
            return None;
        }
        Some(route)
    }

    fn destination(&mut self, span: Span, text: &str) -> Option<IpPrefix> {
        if text == "default" {
            return Some(IpPrefix {
                addr: std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                prefix_len: 0,
            });
        }
        self.prefix_text(span, text)
    }

    pub(super) fn rules(&mut self, s: &Statement) -> Vec<Rule> {
        let mut rules = Vec::new();
        for line in self.block(s) {
            if let Some(rule) = self.rule_line(line) {
                rules.push(rule);
            }
        }
        rules
    }

    fn rule_line(&mut self, s: &Statement) -> Option<Rule> {
        let words: Vec<(String, Span)> = std::iter::once(&s.keyword)
            .chain(&s.args)
            .map(|t| (t.text.clone(), s.line.span(t.start, t.end)))
            .collect();
        let mut rule = Rule {
            from: None,
            to: None,
            table: None,
            preference: None,
            action: None,
            no_track: false,
            options: Vec::new(),
        };
        let mut index = 0;
        while index < words.len() {
            let (word, span) = (words[index].0.as_str(), words[index].1.clone());
            let takes_value = matches!(
                word,
                "from" | "to" | "table" | "lookup" | "preference" | "priority" | "order" | "pref"
            ) || RULE_VALUE_OPTIONS.contains(&word);
            let known = takes_value
                || word == "no_track"
                || RULE_FLAG_OPTIONS.contains(&word)
                || RULE_ACTIONS.contains(&word);
            if !known {
                self.diagnostics
                    .error(&span, format!("unknown rule option '{word}'; the rule is ignored"))
                    .hint("virtual_rules take `ip rule` syntax: from PREFIX to PREFIX table N preference N ...");
                return None;
            }
            let (text, value_span) = match words.get(index + 1) {
                Some(value) => value.clone(),
                None if !takes_value => (String::new(), span.clone()),
                None => {
                    self.diagnostics
                        .error(&span, format!("'{word}' needs a value"));
                    return None;
                }
            };
            match word {
                "from" | "to" => {
                    let prefix = if text == "all" {
                        None
                    } else {
                        Some(self.prefix_text(value_span, &text)?)
                    };
                    if word == "from" {
                        rule.from = prefix;
                    } else {
                        rule.to = prefix;
                    }
                    index += 2;
                }
                "table" | "lookup" => {
                    rule.table = Some(text);
                    index += 2;
                }
                "preference" | "priority" | "order" | "pref" => {
                    match text.parse() {
                        Ok(preference) => rule.preference = Some(preference),
                        Err(_) => {
                            self.diagnostics
                                .error(&value_span, format!("preference '{text}' is not a number"));
                            return None;
                        }
                    }
                    index += 2;
                }
                "no_track" => {
                    rule.no_track = true;
                    index += 1;
                }
                word if RULE_ACTIONS.contains(&word) => {
                    rule.action = Some(word.to_string());
                    index += 1;
                }
                word if RULE_FLAG_OPTIONS.contains(&word) => {
                    rule.options.push((word.to_string(), None));
                    index += 1;
                }
                word if RULE_VALUE_OPTIONS.contains(&word) => {
                    rule.options.push((word.to_string(), Some(text)));
                    index += 2;
                }
                // Unknown options were reported before the match.
                _ => return None,
            }
        }
        if rule.from.is_none()
            && rule.to.is_none()
            && rule.table.is_none()
            && rule.action.is_none()
            && rule.options.is_empty()
        {
            self.diagnostics
                .error(&s.line.whole(), "the rule selects nothing and does nothing");
            return None;
        }
        if rule.preference.is_none() {
            self.diagnostics
                .warning(
                    &s.line.whole(),
                    "rule has no preference; the kernel picks one below the last rule",
                )
                .hint(
                    "add 'preference N' so the order of rules is yours (keepalived warns the same)",
                );
        }
        Some(rule)
    }

    pub(super) fn garp_group(&mut self, s: &Statement) {
        let mut group = GarpGroup {
            garp_interval: None,
            gna_interval: None,
            interfaces: Vec::new(),
        };
        for item in self.block(s) {
            match item.name() {
                "garp_interval" => group.garp_interval = self.packet_gap(item),
                "gna_interval" => group.gna_interval = self.packet_gap(item),
                "interface" => {
                    if let Some(interface) = self.interface(item) {
                        group.interfaces.push(interface);
                    }
                }
                "interfaces" => {
                    for name in self.block(item) {
                        if let Some(name) = self.interface_name(name.keyword_span(), name.name()) {
                            group.interfaces.push(name);
                        }
                    }
                }
                _ => self.unknown(
                    item,
                    "in garp_group",
                    &["garp_interval", "gna_interval", "interface", "interfaces"],
                ),
            }
        }
        if group.interfaces.is_empty() {
            self.diagnostics.error(
                &s.keyword_span(),
                "garp_group names no interface; it is ignored",
            );
            return;
        }
        self.config.garp_groups.push(group);
    }

    pub(super) fn interface_up_down_delays(&mut self, s: &Statement) {
        for item in self.block(s) {
            let Some(interface) = self.interface_name(item.keyword_span(), item.name()) else {
                continue;
            };
            if item.args.is_empty() || item.args.len() > 2 {
                self.diagnostics.error(
                    &item.line.whole(),
                    "expected: INTERFACE DOWN_DELAY [UP_DELAY]",
                );
                continue;
            }
            let Some(down_delay) = self.timer_at(item, 0) else {
                continue;
            };
            let up_delay = match item.arg(1) {
                Some(_) => match self.timer_at(item, 1) {
                    Some(up) => up,
                    None => continue,
                },
                None => down_delay,
            };
            let max = std::time::Duration::from_secs(255);
            if down_delay > max || up_delay > max {
                self.diagnostics.error(
                    &item.line.whole(),
                    "interface delays are at most 255 seconds",
                );
                continue;
            }
            self.config.interface_up_down_delays.push(InterfaceDelays {
                interface,
                down_delay,
                up_delay,
            });
        }
    }
}
