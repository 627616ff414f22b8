//! Route lines (`virtual_routes`, `static_routes`) the way keepalived 2.2.7's `alloc_route` and
//! `parse_nexthops` read them (vrrp_iproute.c): every word it accepts, with its meaning; the
//! same words refused, the same family rules (`default` takes the family of the rest of the
//! line; an IPv4 destination and an IPv6 gateway do not mix in 2.2.7).

use std::net::IpAddr;

use super::Cx;
use crate::config::diagnostic::Span;
use crate::config::model::{Nexthop, Route, RouteInstall, RouteMetric, RouteMetrics};
use crate::config::rttables::{self, Names};
use crate::config::tree::Statement;
use crate::config::values::IpPrefix;
use crate::protocol::Family;

/// keepalived's route types (rttables.c `rtntypes`), with their kernel numbers.
pub(crate) const ROUTE_TYPES: &[(&str, u8)] = &[
    ("local", 2),
    ("nat", 10),
    ("broadcast", 3),
    ("brd", 3),
    ("anycast", 4),
    ("multicast", 5),
    ("prohibit", 8),
    ("unreachable", 7),
    ("blackhole", 6),
    ("xresolve", 11),
    ("unicast", 1),
    ("throw", 9),
];

/// The canonical name of a route type number.
pub(crate) fn route_type_name(number: u8) -> String {
    ROUTE_TYPES
        .iter()
        .find(|(name, n)| *n == number && *name != "brd")
        .map_or_else(|| number.to_string(), |(name, _)| (*name).to_string())
}

/// `find_rttables_rtntype`: a type name or a number up to 255.
fn route_type(text: &str) -> Option<u8> {
    if let Some((_, number)) = ROUTE_TYPES.iter().find(|(name, _)| *name == text) {
        return Some(*number);
    }
    if text.starts_with('-') {
        return None;
    }
    let (value, rest) = super::number::strtol_prefix(text);
    (rest.is_empty() && (0..=255).contains(&value)).then_some(value as u8)
}

/// A route destination as keepalived's `parse_route` reads it: `default`/`any`/`all` (no
/// family yet), `default6`, or an address with an optional prefix length.
fn destination(cx: &mut Cx, span: &Span, text: &str) -> Option<(Option<IpPrefix>, Option<Family>)> {
    match text {
        "default" | "any" | "all" => return Some((None, None)),
        "default6" => {
            cx.diagnostics
                .warning(span, "'default6' is deprecated")
                .hint("write 'inet6 default'");
            return Some((None, Some(Family::Ipv6)));
        }
        _ => {}
    }
    let prefix = cx.prefix_with_length(span, text)?;
    Some((Some(prefix), Some(Family::of(&prefix.addr))))
}

/// A line being read: its words and their spans.
struct Words<'s> {
    s: &'s Statement,
    words: Vec<(&'s str, Span)>,
}

impl<'s> Words<'s> {
    fn new(s: &'s Statement) -> Self {
        let words = std::iter::once(&s.keyword)
            .chain(&s.args)
            .map(|t| (t.text.as_str(), s.line.span(t.start, t.end)))
            .collect();
        Self { s, words }
    }

    fn get(&self, index: usize) -> Option<&'s str> {
        self.words.get(index).map(|(w, _)| *w)
    }

    fn span(&self, index: usize) -> Span {
        match self.words.get(index) {
            Some((_, span)) => span.clone(),
            None => self.s.line.span(self.s.args_end, self.s.args_end + 1),
        }
    }
}

/// Why a route line is dropped (already reported).
struct Dropped;

impl Cx<'_> {
    pub(crate) fn routes(&mut self, s: &Statement, static_route: bool) -> Vec<Route> {
        let mut routes = Vec::new();
        for line in self.block(s) {
            if let Ok(route) = self.route_line(line, static_route) {
                routes.push(route);
            }
        }
        routes
    }

    /// The value after word `index`; a missing one stops keepalived reading the file.
    fn route_value<'w>(&mut self, w: &Words<'w>, index: usize) -> Result<&'w str, Dropped> {
        match w.get(index) {
            Some(value) => Ok(value),
            None => {
                self.route_missing(w, index);
                Err(Dropped)
            }
        }
    }

    fn route_missing(&mut self, w: &Words, index: usize) {
        // `missing` counts arguments after the keyword; the route's first word is the
        // statement's keyword.
        self.missing(w.s, index.saturating_sub(1));
    }

    fn route_error(&mut self, span: &Span, message: impl Into<String>) -> Dropped {
        self.diagnostics
            .error(span, format!("{}; the route is ignored", message.into()));
        Dropped
    }

    fn set_family(
        &mut self,
        family: &mut Option<Family>,
        new: Family,
        span: &Span,
    ) -> Result<(), Dropped> {
        match family {
            None => {
                *family = Some(new);
                Ok(())
            }
            Some(existing) if *existing == new => Ok(()),
            Some(_) => Err(self.route_error(
                span,
                "IPv4 and IPv6 addresses do not mix in one route (keepalived 2.2.7 has no IPv4 route through an IPv6 gateway)",
            )),
        }
    }

    /// A whole-number value read like keepalived's `get_u32`/`get_u8`.
    fn route_number(
        &mut self,
        w: &Words,
        index: usize,
        max: u64,
        what: &str,
    ) -> Result<u64, Dropped> {
        let text = self.route_value(w, index)?;
        super::number::unsigned(text, 0, max).map_err(|_| {
            self.route_error(
                &w.span(index),
                format!("{what} '{text}' must be a number in 0..={max}"),
            )
        })
    }

    /// `[lock] N` for the metrics that take a lock.
    fn locked_metric(
        &mut self,
        w: &Words,
        index: &mut usize,
        what: &str,
    ) -> Result<RouteMetric, Dropped> {
        let mut lock = false;
        if w.get(*index) == Some("lock") {
            lock = true;
            *index += 1;
        }
        let value = self.route_number(w, *index, u64::from(u32::MAX), what)? as u32;
        Ok(RouteMetric { value, lock })
    }

    /// `[lock] TIME` for rtt, rttvar, rto_min (keepalived's `get_time_rtt`): a plain number is
    /// in the kernel's unit, `Ns`/`Nms` are converted; bounded to 0.2..120 s.
    fn rtt_metric(
        &mut self,
        w: &Words,
        index: &mut usize,
        unit: u64,
        what: &str,
    ) -> Result<RouteMetric, Dropped> {
        let mut lock = false;
        if w.get(*index) == Some("lock") {
            lock = true;
            *index += 1;
        }
        let text = self.route_value(w, *index)?;
        let invalid =
            |cx: &mut Self| cx.route_error(&w.span(*index), format!("invalid {what} '{text}'"));
        let lower = text.to_ascii_lowercase();
        let (number, millis_per_unit) = if let Some(ms) = lower.strip_suffix("ms") {
            (ms, Some(1))
        } else if let Some(seconds) = ["secs", "sec", "s"]
            .iter()
            .find_map(|s| lower.strip_suffix(s))
        {
            (seconds, Some(1000))
        } else {
            (lower.as_str(), None)
        };
        if number.is_empty() || number.contains(['e']) {
            return Err(invalid(self));
        }
        let value = match millis_per_unit {
            None => {
                super::number::unsigned(number, 0, 120_000 * unit).map_err(|_| invalid(self))?
            }
            Some(factor) => {
                let micros = super::number::decimal_seconds(
                    number,
                    std::time::Duration::ZERO,
                    std::time::Duration::from_secs(u64::from(u32::MAX)),
                )
                .map_err(|_| invalid(self))?
                .as_micros() as u64;
                // decimal_seconds reads 6 decimals: micros is value * 10^6.
                micros * factor * unit / 1_000_000
            }
        };
        let value = value.clamp(200 * unit, 120_000 * unit) as u32;
        Ok(RouteMetric { value, lock })
    }

    fn route_line(&mut self, s: &Statement, static_route: bool) -> Result<Route, Dropped> {
        let w = Words::new(s);
        let mut route = Route {
            route_type: None,
            family: Family::Ipv4,
            destination: IpPrefix::host(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            from: None,
            src: None,
            via: None,
            dev: None,
            table: None,
            metric: None,
            scope: None,
            protocol: None,
            tos: None,
            onlink: false,
            realms: None,
            metrics: RouteMetrics::default(),
            expires: None,
            pref: None,
            ttl_propagate: None,
            encap: None,
            nexthops: Vec::new(),
            install: RouteInstall::Prepend,
            vrf: None,
            track_group: None,
            no_track: false,
        };
        let mut family: Option<Family> = None;
        let mut destination_seen: Option<(Option<IpPrefix>, String)> = None;
        let mut nexthop_at = None;
        let mut index = 0;
        while index < w.words.len() {
            let word = w.get(index).unwrap_or_default();
            let span = w.span(index);
            match word {
                "inet6" | "inet" => {
                    let new = if word == "inet6" {
                        Family::Ipv6
                    } else {
                        Family::Ipv4
                    };
                    if family.is_some_and(|f| f != new) {
                        return Err(self.route_error(
                            &span,
                            format!("'{word}' does not match the route's other addresses"),
                        ));
                    }
                    family = Some(new);
                    // keepalived 2.2.7 steps over the word after inet/inet6 (alloc_route
                    // advances twice): `inet6 2001:db8::/48` has no destination.
                    if let Some(skipped) = w.get(index + 1) {
                        self.diagnostics
                            .warning(&w.span(index + 1), format!("keepalived 2.2.7 skips the word after '{word}': '{skipped}' is not read"))
                            .hint(format!("put '{word}' last, or write the family through an address"));
                    }
                    index += 1;
                }
                "src" => {
                    index += 1;
                    let text = self.route_value(&w, index)?;
                    let Some(addr) = super::plain_address(text) else {
                        return Err(self.route_error(&w.span(index), format!("invalid route src address '{text}' (an address without a prefix length)")));
                    };
                    self.set_family(&mut family, Family::of(&addr), &w.span(index))?;
                    route.src = Some(addr);
                }
                "as" => {
                    index += 1;
                    if self.route_value(&w, index)? == "to" {
                        index += 1;
                    }
                    self.diagnostics
                        .error(&span, "'as [to]' (MPLS) is not supported; ignored");
                }
                "via" | "gw" => {
                    if word == "gw" {
                        self.diagnostics
                            .error(
                                &span,
                                "'gw' is deprecated in routes; keepalived reads it as 'via'",
                            )
                            .hint("write 'via'");
                    }
                    index += 1;
                    let mut text = self.route_value(&w, index)?;
                    let named = match text {
                        "inet" => Some(Family::Ipv4),
                        "inet6" => Some(Family::Ipv6),
                        _ => None,
                    };
                    if let Some(named) = named {
                        self.set_family(&mut family, named, &w.span(index))?;
                        index += 1;
                        text = self.route_value(&w, index)?;
                    }
                    let Some(addr) = super::plain_address(text) else {
                        return Err(self.route_error(
                            &w.span(index),
                            format!("invalid route via address '{text}'"),
                        ));
                    };
                    self.set_family(&mut family, Family::of(&addr), &w.span(index))?;
                    route.via = Some(addr);
                }
                "from" => {
                    index += 1;
                    let text = self.route_value(&w, index)?;
                    match destination(self, &w.span(index), text) {
                        Some((Some(prefix), Some(Family::Ipv6))) => {
                            self.set_family(&mut family, Family::Ipv6, &w.span(index))?;
                            route.from = Some(prefix);
                        }
                        Some(_) => {
                            return Err(self.route_error(
                                &w.span(index),
                                format!(
                                    "route 'from {text}' is only supported with an IPv6 prefix"
                                ),
                            ));
                        }
                        None => {
                            return Err(self.route_error(
                                &w.span(index),
                                format!("invalid route from address '{text}'"),
                            ));
                        }
                    }
                }
                "tos" | "dsfield" => {
                    index += 1;
                    let text = self.route_value(&w, index)?;
                    route.tos = Some(rttables::find(Names::DsFields, text).ok_or_else(|| {
                        self.route_error(&w.span(index), format!("TOS value '{text}' is invalid"))
                    })? as u8);
                }
                "table" => {
                    index += 1;
                    let text = self.route_value(&w, index)?;
                    route.table = Some(rttables::find(Names::Tables, text).ok_or_else(|| {
                        self.route_error(&w.span(index), format!("routing table '{text}' is not known (a number, or a name in /etc/iproute2/rt_tables)"))
                    })?);
                }
                "protocol" => {
                    index += 1;
                    let text = self.route_value(&w, index)?;
                    route.protocol = Some(rttables::find(Names::Protocols, text).ok_or_else(|| {
                        self.route_error(&w.span(index), format!("protocol '{text}' is not known (a number, or a name in /etc/iproute2/rt_protos)"))
                    })? as u8);
                }
                "scope" => {
                    index += 1;
                    let text = self.route_value(&w, index)?;
                    route.scope = Some(rttables::find(Names::Scopes, text).ok_or_else(|| {
                        self.route_error(&w.span(index), format!("scope '{text}' is not known"))
                    })? as u8);
                }
                "metric" | "priority" | "preference" => {
                    index += 1;
                    route.metric =
                        Some(self.route_number(&w, index, u64::from(u32::MAX), "metric")? as u32);
                }
                "dev" | "oif" => {
                    index += 1;
                    let text = self.route_value(&w, index)?;
                    // Existence is checked with the host's interfaces.
                    route.dev = Some(
                        self.existing_interface(w.span(index), text, "dev of a route")
                            .ok_or(Dropped)?,
                    );
                }
                "onlink" => route.onlink = true,
                "encap" => {
                    index += 1;
                    route.encap = Some(self.encap(&w, &mut index)?);
                    continue;
                }
                "expires" => {
                    index += 1;
                    if family == Some(Family::Ipv4) {
                        return Err(self.route_error(&span, "'expires' is only valid for IPv6"));
                    }
                    family = Some(Family::Ipv6);
                    route.expires =
                        Some(self.route_number(&w, index, u64::from(u32::MAX), "expires")? as u32);
                }
                "mtu" => {
                    index += 1;
                    route.metrics.mtu = Some(self.locked_metric(&w, &mut index, "mtu")?);
                }
                "advmss" => {
                    index += 1;
                    route.metrics.advmss = Some(self.locked_metric(&w, &mut index, "advmss")?);
                }
                "reordering" => {
                    index += 1;
                    route.metrics.reordering =
                        Some(self.locked_metric(&w, &mut index, "reordering")?);
                }
                "cwnd" => {
                    index += 1;
                    route.metrics.cwnd = Some(self.locked_metric(&w, &mut index, "cwnd")?);
                }
                "ssthresh" => {
                    index += 1;
                    route.metrics.ssthresh = Some(self.locked_metric(&w, &mut index, "ssthresh")?);
                }
                "window" => {
                    index += 1;
                    route.metrics.window =
                        Some(self.route_number(&w, index, u64::from(u32::MAX), "window")? as u32);
                }
                "initcwnd" => {
                    index += 1;
                    route.metrics.initcwnd =
                        Some(self.route_number(&w, index, u64::from(u32::MAX), "initcwnd")? as u32);
                }
                "initrwnd" => {
                    index += 1;
                    route.metrics.initrwnd =
                        Some(self.route_number(&w, index, u64::from(u32::MAX), "initrwnd")? as u32);
                }
                "hoplimit" => {
                    index += 1;
                    route.metrics.hoplimit =
                        Some(self.route_number(&w, index, 255, "hoplimit")? as u8);
                }
                "rtt" => {
                    index += 1;
                    route.metrics.rtt = Some(self.rtt_metric(&w, &mut index, 8, "rtt")?);
                }
                "rttvar" => {
                    index += 1;
                    route.metrics.rttvar = Some(self.rtt_metric(&w, &mut index, 4, "rttvar")?);
                }
                "rto_min" => {
                    index += 1;
                    route.metrics.rto_min = Some(self.rtt_metric(&w, &mut index, 1, "rto_min")?);
                }
                "realms" => {
                    index += 1;
                    let text = self.route_value(&w, index)?;
                    let realms = super::realms(text).ok_or_else(|| {
                        self.route_error(&w.span(index), format!("invalid realms '{text}'"))
                    })?;
                    if family == Some(Family::Ipv6) {
                        return Err(self.route_error(&span, "realms are only valid for IPv4"));
                    }
                    family = Some(Family::Ipv4);
                    route.realms = Some(realms);
                }
                "features" => {
                    index += 1;
                    let text = self.route_value(&w, index)?;
                    if text == "ecn" {
                        route.metrics.features_ecn = true;
                    } else {
                        self.diagnostics.error(
                            &w.span(index),
                            format!("route feature '{text}' is not supported; ignored"),
                        );
                    }
                }
                "quickack" => {
                    index += 1;
                    route.metrics.quickack =
                        Some(self.route_number(&w, index, 1, "quickack")? == 1);
                }
                "fastopen_no_cookie" => {
                    index += 1;
                    route.metrics.fastopen_no_cookie =
                        Some(self.route_number(&w, index, 1, "fastopen_no_cookie")? == 1);
                }
                "congctl" => {
                    index += 1;
                    let mut lock = false;
                    if w.get(index) == Some("lock") {
                        lock = true;
                        index += 1;
                    }
                    let name = self.route_value(&w, index)?;
                    route.metrics.congctl = Some((name.to_string(), lock));
                }
                "pref" => {
                    index += 1;
                    if family == Some(Family::Ipv4) {
                        return Err(self.route_error(&span, "'pref' is only valid for IPv6"));
                    }
                    family = Some(Family::Ipv6);
                    let text = self.route_value(&w, index)?;
                    route.pref = Some(match text {
                        // ICMPV6_ROUTER_PREF_*
                        "low" => 3,
                        "medium" => 0,
                        "high" => 1,
                        _ => self.route_number(&w, index, 255, "pref")? as u8,
                    });
                }
                "ttl-propagate" => {
                    index += 1;
                    match self.route_value(&w, index)? {
                        "enabled" => route.ttl_propagate = Some(true),
                        "disabled" => route.ttl_propagate = Some(false),
                        other => {
                            self.diagnostics.error(
                                &w.span(index),
                                format!("ttl-propagate '{other}' is not enabled|disabled; ignored"),
                            );
                        }
                    }
                }
                "add" => route.install = RouteInstall::Add,
                "prepend" => route.install = RouteInstall::Prepend,
                "append" => route.install = RouteInstall::Append,
                "or" => {
                    self.diagnostics
                        .error(
                            &span,
                            "'or' in routes is deprecated; keepalived reads it as two nexthops",
                        )
                        .hint("write 'nexthop via A nexthop via B'");
                    if !route.nexthops.is_empty() {
                        self.diagnostics.error(&span, "a second 'or' is ignored");
                        index += 2;
                        continue;
                    }
                    index += 1;
                    let text = self.route_value(&w, index)?;
                    let Some(addr) = super::plain_address(text) else {
                        return Err(self.route_error(
                            &w.span(index),
                            format!("invalid 'or' address '{text}'"),
                        ));
                    };
                    route.nexthops.push(Nexthop {
                        via: route.via.take(),
                        ..Nexthop::default()
                    });
                    route.nexthops.push(Nexthop {
                        via: Some(addr),
                        ..Nexthop::default()
                    });
                }
                "nexthop" => {
                    if !route.nexthops.is_empty() {
                        self.diagnostics
                            .error(&span, "nexthops cannot follow an 'or' route");
                        return Err(self.route_error(&span, "trailing words after the nexthops"));
                    }
                    nexthop_at = Some(index);
                    break;
                }
                "no_track" => route.no_track = true,
                "track_group" if static_route => {
                    index += 1;
                    let group = self.route_value(&w, index)?;
                    route.track_group = Some(group.to_string());
                }
                "vrf" => {
                    index += 1;
                    let text = self.route_value(&w, index)?;
                    route.vrf = Some(self.interface_name(w.span(index), text).ok_or(Dropped)?);
                }
                other => {
                    // `[to] [TYPE] DESTINATION`: keepalived checks the type on the word itself
                    // (so `to` is never followed by a type).
                    if other == "to" {
                        index += 1;
                    } else if let Some(kind) = route_type(other) {
                        route.route_type = Some(route_type_name(kind));
                        index += 1;
                    }
                    let text = self.route_value(&w, index)?;
                    let Some((prefix, dest_family)) = destination(self, &w.span(index), text)
                    else {
                        return Err(self.route_error(
                            &w.span(index),
                            format!("unknown route keyword '{text}'"),
                        ));
                    };
                    match dest_family {
                        Some(dest_family) => {
                            self.set_family(&mut family, dest_family, &w.span(index))?
                        }
                        // `default` has no family of its own and matches only a route whose
                        // family is not set yet (keepalived compares AF_UNSPEC).
                        None if family.is_some() => {
                            return Err(self.route_error(&w.span(index), format!("'{text}' after the route's family is set: keepalived cannot mix it")));
                        }
                        None => {}
                    }
                    destination_seen = Some((prefix, text.to_string()));
                }
            }
            index += 1;
        }
        if let Some(at) = nexthop_at {
            self.nexthops(&w, at, &mut route, &mut family)?;
        }
        let Some((prefix, dest_text)) = destination_seen else {
            return Err(self.route_error(&s.line.whole(), "the route has no destination"));
        };
        let family = family.unwrap_or(Family::Ipv4);
        route.family = family;
        route.destination = prefix.unwrap_or(IpPrefix {
            addr: match family {
                Family::Ipv4 => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                Family::Ipv6 => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
            },
            prefix_len: 0,
        });
        if !route.no_track {
            if route.protocol.is_some_and(|p| p != 18) {
                self.diagnostics
                    .error(
                        &s.line.whole(),
                        "a tracked route's protocol must be keepalived (18); it is reset",
                    )
                    .hint("add no_track to keep another protocol");
            }
            route.protocol = Some(18);
            if route.dev.is_none() {
                self.diagnostics
                    .error(
                        &s.line.whole(),
                        format!(
                            "route {dest_text} has no interface and cannot be tracked; it is not"
                        ),
                    )
                    .hint("add 'dev IF' or 'no_track' (keepalived reports it the same way)");
                route.no_track = true;
            }
        }
        if route.track_group.is_some() && route.dev.is_none() {
            self.diagnostics.error(
                &s.line.whole(),
                "a static route without an interface cannot have a track_group",
            );
            route.track_group = None;
        }
        Ok(route)
    }

    /// `nexthop [via [inet|inet6] ADDR] [dev IF] [weight N] [onlink] [encap ...] [realms R]`...
    fn nexthops(
        &mut self,
        w: &Words,
        mut index: usize,
        route: &mut Route,
        family: &mut Option<Family>,
    ) -> Result<(), Dropped> {
        while w.get(index) == Some("nexthop") {
            index += 1;
            let mut hop = Nexthop::default();
            while let Some(word) = w.get(index) {
                let span = w.span(index);
                match word {
                    "via" => {
                        index += 1;
                        let mut text = self.route_value(w, index)?;
                        if let Some(named) = match text {
                            "inet" => Some(Family::Ipv4),
                            "inet6" => Some(Family::Ipv6),
                            _ => None,
                        } {
                            if family.is_some_and(|f| f != named) {
                                return Err(self.route_error(&span, "IPv4/6 mismatch for nexthop"));
                            }
                            *family = Some(named);
                            index += 1;
                            text = self.route_value(w, index)?;
                        }
                        let Some(addr) = super::plain_address(text) else {
                            return Err(self.route_error(
                                &w.span(index),
                                format!("invalid nexthop address '{text}'"),
                            ));
                        };
                        if family.is_some_and(|f| f != Family::of(&addr)) {
                            return Err(self.route_error(
                                &w.span(index),
                                "address family mismatch for next hop",
                            ));
                        }
                        *family = Some(Family::of(&addr));
                        hop.via = Some(addr);
                    }
                    "dev" => {
                        index += 1;
                        let text = self.route_value(w, index)?;
                        hop.dev = Some(
                            self.existing_interface(w.span(index), text, "dev of a nexthop")
                                .ok_or(Dropped)?,
                        );
                    }
                    "weight" => {
                        index += 1;
                        let weight = self.route_number(w, index, 256, "nexthop weight")?;
                        if weight == 0 {
                            return Err(
                                self.route_error(&w.span(index), "nexthop weight 0 is invalid")
                            );
                        }
                        hop.weight = Some(weight as u16);
                    }
                    "onlink" => hop.onlink = true,
                    "encap" => {
                        index += 1;
                        hop.encap = Some(self.encap(w, &mut index)?);
                        continue;
                    }
                    "realms" => {
                        index += 1;
                        let text = self.route_value(w, index)?;
                        hop.realms = Some(super::realms(text).ok_or_else(|| {
                            self.route_error(&w.span(index), format!("invalid realms '{text}'"))
                        })?);
                        if family.is_some_and(|f| f != Family::Ipv4) {
                            return Err(
                                self.route_error(&span, "realms are only supported for IPv4")
                            );
                        }
                        *family = Some(Family::Ipv4);
                    }
                    "as" => {
                        return Err(self.route_error(&span, "'as [to]' (nat) is not supported"));
                    }
                    _ => break,
                }
                index += 1;
            }
            route.nexthops.push(hop);
        }
        if index < w.words.len() {
            return Err(self.route_error(
                &w.span(index),
                format!(
                    "trailing '{}' after the nexthops",
                    w.get(index).unwrap_or_default()
                ),
            ));
        }
        Ok(())
    }

    /// `encap ip|ip6|mpls|ila ...`: the words as written (the type and its parameters).
    fn encap(&mut self, w: &Words, index: &mut usize) -> Result<Vec<String>, Dropped> {
        let Some(kind) = w.get(*index) else {
            return Err(self.route_error(&w.span(*index), "missing encap type"));
        };
        let mut words = vec![kind.to_string()];
        *index += 1;
        let keys: &[&str] = match kind {
            "ip" => &["id", "dst", "src", "tos", "ttl", "flags"],
            "ip6" => &["id", "dst", "src", "tc", "hoplimit", "flags"],
            "mpls" | "ila" => {
                let value = self.route_value(w, *index)?;
                words.push(value.to_string());
                *index += 1;
                if kind == "mpls" {
                    &["ttl"]
                } else {
                    &["csum-mode", "ident-type", "hook-type"]
                }
            }
            other => {
                return Err(
                    self.route_error(&w.span(*index - 1), format!("unknown encap type '{other}'"))
                );
            }
        };
        while let (Some(key), Some(value)) = (w.get(*index), w.get(*index + 1)) {
            if !keys.contains(&key) {
                break;
            }
            words.push(key.to_string());
            words.push(value.to_string());
            *index += 2;
        }
        Ok(words)
    }
}
