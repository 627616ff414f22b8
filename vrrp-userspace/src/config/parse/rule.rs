//! Rule lines (`virtual_rules`, `static_rules`) the way keepalived 2.2.7's `alloc_rule` reads
//! them (vrrp_iprule.c): every word it accepts, the same refusals and the same quirks.

use super::Cx;
use crate::config::diagnostic::Span;
use crate::config::model::{Rule, RuleAction};
use crate::config::rttables::{self, Names};
use crate::config::tree::Statement;
use crate::config::values::IpPrefix;
use crate::protocol::Family;

/// A rule line that is dropped (already reported).
struct Dropped;

/// `from`/`to` as keepalived's `parse_route` reads them: `all`/`any`/`default` have no family.
enum Selector {
    All,
    Prefix(IpPrefix),
}

/// `N-M` as keepalived reads it: `sscanf("%hu-%hu")` must read both numbers (a single port
/// is refused, though the code means to take it as N-N).
fn port_range(text: &str) -> Option<(u16, u16)> {
    let (start, end) = text.split_once('-')?;
    let start: u16 = start.trim_start().parse().ok()?;
    let end: u16 = end.trim_start().parse().ok()?;
    Some((start, end))
}

/// keepalived's `inet_proto_a2n`: a number up to 127, or a name from /etc/protocols.
fn ip_protocol(text: &str) -> Option<u8> {
    let text = text.trim_start();
    if text.is_empty() || text.starts_with('-') {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u8>().ok().filter(|n| *n <= 127);
    }
    let protocols = std::fs::read_to_string("/etc/protocols").unwrap_or_default();
    protocols.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let name = words.next()?;
        let number: u8 = words.next()?.parse().ok()?;
        (name == text || words.any(|alias| alias == text)).then_some(number)
    })
}

fn set_family(
    cx: &mut Cx,
    family: &mut Option<Family>,
    new: Option<Family>,
    at: &Span,
) -> Result<(), Dropped> {
    if *family == new {
        return Ok(());
    }
    match family {
        None => {
            *family = new;
            Ok(())
        }
        Some(_) => Err(cx.rule_error(at, "the rule mixes IPv4 and IPv6 (or 'all' with a family)")),
    }
}

fn set_action(cx: &mut Cx, rule: &Rule, at: &Span) -> Result<(), Dropped> {
    if rule.action.is_some() || rule.table.is_some() || rule.l3mdev {
        return Err(cx.rule_error(
            at,
            "only one of table, goto, nop, blackhole, prohibit, unreachable, l3mdev can be given",
        ));
    }
    Ok(())
}

impl Cx<'_> {
    pub(crate) fn rules(&mut self, s: &Statement, static_rule: bool) -> Vec<Rule> {
        let mut rules = Vec::new();
        for line in self.block(s) {
            if let Ok(rule) = self.rule_line(line, static_rule) {
                rules.push(rule);
            }
        }
        rules
    }

    fn rule_error(&mut self, span: &Span, message: impl Into<String>) -> Dropped {
        self.diagnostics
            .error(span, format!("{}; the rule is ignored", message.into()));
        Dropped
    }

    fn rule_line(&mut self, s: &Statement, static_rule: bool) -> Result<Rule, Dropped> {
        let words: Vec<(&str, Span)> = std::iter::once(&s.keyword)
            .chain(&s.args)
            .map(|t| (t.text.as_str(), s.line.span(t.start, t.end)))
            .collect();
        let text = |i: usize| words.get(i).map(|(w, _)| *w);
        let span = |i: usize| match words.get(i) {
            Some((_, span)) => span.clone(),
            None => s.line.span(s.args_end, s.args_end + 1),
        };
        let mut rule = Rule {
            family: Family::Ipv4,
            invert: false,
            from: None,
            to: None,
            table: None,
            preference: None,
            action: None,
            tos: None,
            fwmark: None,
            fwmask: None,
            realms: None,
            suppress_prefixlength: None,
            suppress_ifgroup: None,
            iif: None,
            oif: None,
            tunnel_id: None,
            uidrange: None,
            l3mdev: false,
            protocol: None,
            ip_proto: None,
            sport: None,
            dport: None,
            track_group: None,
            no_track: false,
        };
        // keepalived's AF_UNSPEC: `from all` leaves the family unset if it is, and clashes
        // with one already set.
        let mut family: Option<Family> = None;
        let mut table_option = false;
        let mut index = 0;
        macro_rules! value {
            ($i:expr) => {
                match text($i) {
                    Some(value) => value,
                    None => {
                        self.missing(s, $i - 1);
                        return Err(Dropped);
                    }
                }
            };
        }
        while index < words.len() {
            let word = words[index].0;
            let at = span(index);
            match word {
                "inet6" | "inet" => {
                    let new = if word == "inet6" {
                        Family::Ipv6
                    } else {
                        Family::Ipv4
                    };
                    set_family(self, &mut family, Some(new), &at)?;
                    // keepalived 2.2.7 steps over the word after inet/inet6 (alloc_rule
                    // advances twice).
                    if let Some(skipped) = text(index + 1) {
                        self.diagnostics
                            .warning(&span(index + 1), format!("keepalived 2.2.7 skips the word after '{word}': '{skipped}' is not read"))
                            .hint(format!("put '{word}' last, or write the family through an address"));
                    }
                    index += 1;
                }
                "from" | "to" => {
                    index += 1;
                    let value = value!(index);
                    let selector = match value {
                        "all" | "any" | "default" => Selector::All,
                        _ => match self.prefix_with_length(&span(index), value) {
                            Some(prefix) => Selector::Prefix(prefix),
                            None => {
                                return Err(self.rule_error(
                                    &span(index),
                                    format!("invalid rule {word} address '{value}'"),
                                ));
                            }
                        },
                    };
                    let (prefix, selector_family) = match selector {
                        Selector::All => (None, None),
                        Selector::Prefix(prefix) => (Some(prefix), Some(Family::of(&prefix.addr))),
                    };
                    set_family(self, &mut family, selector_family, &span(index))?;
                    // A /0 prefix selects everything: kept as no selector (the family stays).
                    let prefix = prefix.filter(|p| p.prefix_len > 0);
                    if word == "from" {
                        rule.from = prefix;
                    } else {
                        rule.to = prefix;
                    }
                }
                "table" | "lookup" => {
                    index += 1;
                    let value = value!(index);
                    let Some(table) = rttables::find(Names::Tables, value) else {
                        return Err(self.rule_error(
                            &span(index),
                            format!("routing table '{value}' is not known"),
                        ));
                    };
                    if table == 0 {
                        return Err(self.rule_error(&span(index), "table 0 is not valid"));
                    }
                    set_action(self, &rule, &at)?;
                    rule.table = Some(table);
                }
                "not" => rule.invert = true,
                "preference" | "order" | "priority" => {
                    index += 1;
                    let value = value!(index);
                    let (number, rest) = super::number::strtol_prefix(value);
                    if !rest.is_empty() || value.starts_with('-') || number > i64::from(u32::MAX) {
                        return Err(self.rule_error(
                            &span(index),
                            format!("invalid rule preference '{value}'"),
                        ));
                    }
                    rule.preference = Some(number as u32);
                }
                "tos" | "dsfield" => {
                    index += 1;
                    let value = value!(index);
                    let Some(tos) = rttables::find(Names::DsFields, value) else {
                        return Err(self
                            .rule_error(&span(index), format!("TOS value '{value}' is invalid")));
                    };
                    rule.tos = Some(tos as u8);
                }
                "fwmark" => {
                    index += 1;
                    let value = value!(index);
                    let (mark, mask) = match value.split_once('/') {
                        Some((mark, mask)) => (mark, Some(mask)),
                        None => (value, None),
                    };
                    let number = |text: &str| {
                        let (n, rest) = super::number::strtol_prefix(text);
                        (rest.is_empty()
                            && !text.trim_start().starts_with('-')
                            && (0..=i64::from(u32::MAX)).contains(&n))
                        .then_some(n as u32)
                    };
                    match (number(mark), mask.map(number)) {
                        (Some(mark), None) => rule.fwmark = Some(mark),
                        (Some(mark), Some(Some(mask))) => {
                            rule.fwmark = Some(mark);
                            rule.fwmask = Some(mask);
                        }
                        _ => {
                            return Err(self.rule_error(
                                &span(index),
                                format!("invalid rule fwmark '{value}'"),
                            ));
                        }
                    }
                }
                "realms" => {
                    index += 1;
                    let value = value!(index);
                    let Some(realms) = super::realms(value) else {
                        return Err(
                            self.rule_error(&span(index), format!("invalid realms '{value}'"))
                        );
                    };
                    rule.realms = Some(realms);
                    table_option = true;
                    match family {
                        None => family = Some(Family::Ipv4),
                        Some(Family::Ipv4) => {}
                        Some(_) => {
                            return Err(self.rule_error(&at, "realms are only valid for IPv4"));
                        }
                    }
                }
                "suppress_prefixlength" | "sup_pl" => {
                    index += 1;
                    let value = value!(index);
                    match super::number::unsigned(value, 0, i32::MAX as u64) {
                        Ok(length) => rule.suppress_prefixlength = Some(length as i32),
                        Err(_) => {
                            return Err(self.rule_error(
                                &span(index),
                                format!("invalid suppress_prefixlength '{value}'"),
                            ));
                        }
                    }
                    table_option = true;
                }
                "suppress_ifgroup" | "sup_group" => {
                    index += 1;
                    let value = value!(index);
                    let (group, rest) = super::number::strtol_prefix(value);
                    if !rest.is_empty() || !(0..=i64::from(i32::MAX)).contains(&group) {
                        return Err(self.rule_error(
                            &span(index),
                            format!("suppress_ifgroup '{value}' is invalid"),
                        ));
                    }
                    rule.suppress_ifgroup = Some(group as u32);
                    table_option = true;
                }
                "dev" | "iif" | "oif" => {
                    index += 1;
                    let value = value!(index);
                    let name = self
                        .existing_interface(span(index), value, "interface of a rule")
                        .ok_or(Dropped)?;
                    if word == "oif" {
                        rule.oif = Some(name);
                    } else {
                        rule.iif = Some(name);
                    }
                }
                "tunnel-id" => {
                    index += 1;
                    let value = value!(index);
                    match super::number::unsigned(value, 0, u64::MAX) {
                        Ok(id) => rule.tunnel_id = Some(id),
                        Err(_) => {
                            return Err(self
                                .rule_error(&span(index), format!("invalid tunnel-id '{value}'")));
                        }
                    }
                }
                "uidrange" => {
                    index += 1;
                    let value = value!(index);
                    let range = value.split_once('-').and_then(|(a, b)| {
                        Some((
                            a.trim_start().parse::<u32>().ok()?,
                            b.trim_start().parse::<u32>().ok()?,
                        ))
                    });
                    match range {
                        Some(range) => rule.uidrange = Some(range),
                        None => {
                            return Err(self.rule_error(
                                &span(index),
                                format!("invalid uidrange '{value}' (START-END)"),
                            ));
                        }
                    }
                }
                "l3mdev" => {
                    set_action(self, &rule, &at)?;
                    rule.l3mdev = true;
                }
                "protocol" => {
                    index += 1;
                    let value = value!(index);
                    match super::number::unsigned(value, 0, 255) {
                        Ok(protocol) => rule.protocol = Some(protocol as u8),
                        Err(_) => {
                            self.diagnostics.error(
                                &span(index),
                                format!("invalid rule protocol '{value}'; ignored"),
                            );
                        }
                    }
                }
                "ipproto" => {
                    index += 1;
                    let value = value!(index);
                    match ip_protocol(value) {
                        Some(protocol) => rule.ip_proto = Some(protocol),
                        None => {
                            self.diagnostics
                                .error(&span(index), format!("invalid ipproto '{value}'; ignored"));
                        }
                    }
                }
                "sport" | "dport" => {
                    index += 1;
                    let value = value!(index);
                    match port_range(value) {
                        Some(range) if word == "sport" => rule.sport = Some(range),
                        Some(range) => rule.dport = Some(range),
                        None => {
                            self.diagnostics
                                .error(&span(index), format!("invalid {word} range '{value}'; ignored"))
                                .hint(format!("keepalived 2.2.7 only reads START-END: write '{word} {value}-{value}'"));
                        }
                    }
                }
                "no_track" => rule.no_track = true,
                "track_group" if static_rule => {
                    index += 1;
                    rule.track_group = Some(value!(index).to_string());
                }
                other => {
                    let mut action_word = other;
                    if other == "type" {
                        index += 1;
                        action_word = value!(index);
                    }
                    let action = match action_word {
                        "goto" => {
                            index += 1;
                            let value = value!(index);
                            match super::number::unsigned(value, 0, u64::from(u32::MAX)) {
                                Ok(target) => RuleAction::Goto(target as u32),
                                Err(_) => {
                                    return Err(self.rule_error(
                                        &span(index),
                                        format!("invalid goto target '{value}'"),
                                    ));
                                }
                            }
                        }
                        "nop" => RuleAction::Nop,
                        "blackhole" | "unreachable" | "prohibit" => {
                            RuleAction::Type(action_word.to_string())
                        }
                        _ if super::route::ROUTE_TYPES
                            .iter()
                            .any(|(name, _)| *name == action_word) =>
                        {
                            return Err(self.rule_error(
                                &span(index),
                                format!("invalid rule action '{action_word}'"),
                            ));
                        }
                        _ => {
                            return Err(self.rule_error(
                                &span(index),
                                format!("unknown rule option '{action_word}'"),
                            ));
                        }
                    };
                    set_action(self, &rule, &span(index))?;
                    rule.action = Some(action);
                }
            }
            index += 1;
        }
        let whole = s.line.whole();
        if let Some(RuleAction::Goto(target)) = rule.action {
            match rule.preference {
                Some(preference) if preference >= target => {
                    return Err(self.rule_error(
                        &whole,
                        format!("preference {preference} is not below the goto target {target}"),
                    ));
                }
                None => {
                    return Err(self.rule_error(
                        &whole,
                        format!("a goto target ({target}) needs a preference"),
                    ));
                }
                _ => {}
            }
        }
        let looks_up_table = rule.table.is_some() || rule.l3mdev;
        if rule.action.is_none() && !looks_up_table {
            return Err(self.rule_error(
                &whole,
                "the rule has no action (table, goto, nop, blackhole, ...)",
            ));
        }
        if !looks_up_table && table_option {
            return Err(
                self.rule_error(&whole, "realms or a suppressor only go with a table lookup")
            );
        }
        if rule.table.is_some() && rule.l3mdev {
            return Err(self.rule_error(&whole, "l3mdev rules take no table"));
        }
        if !rule.no_track {
            if rule.protocol.is_some_and(|p| p != 18) {
                self.diagnostics
                    .error(
                        &whole,
                        "a tracked rule's protocol must be keepalived (18); it is reset",
                    )
                    .hint("add no_track to keep another protocol");
            }
            rule.protocol = Some(18);
        }
        if rule.track_group.is_some() && rule.iif.is_none() {
            self.diagnostics.error(
                &whole,
                "a static rule without dev/iif cannot have a track_group",
            );
            rule.track_group = None;
        }
        rule.family = family.unwrap_or(Family::Ipv4);
        if rule.preference.is_none() {
            // keepalived numbers such rules downwards from 16384, per family, in file order,
            // and reports it.
            let next = match rule.family {
                Family::Ipv4 => &mut self.next_rule_preference.0,
                Family::Ipv6 => &mut self.next_rule_preference.1,
            };
            rule.preference = Some(*next);
            self.diagnostics
                .error(
                    &whole,
                    format!("the rule has no preference; keepalived sets {}", *next),
                )
                .hint("add 'preference N' so the order of rules is yours");
            *next = next.saturating_sub(1);
        }
        Ok(rule)
    }
}
