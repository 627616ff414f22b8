//! Address lines (`virtual_ipaddress`, `virtual_ipaddress_excluded`, `static_ipaddress`) the
//! way keepalived's `alloc_ipaddress` reads them, and `unicast_peer` entries
//! (`alloc_vrrp_unicast_peer`).

use std::net::IpAddr;

use super::Cx;
use super::instance::InstanceDraft;
use crate::config::diagnostic::Span;
use crate::config::model::{Broadcast, UnicastPeer, VirtualAddress};
use crate::config::tree::Statement;

/// Which list an address line belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// `virtual_ipaddress`: fixes or must match the instance's family.
    Virtual,
    /// `virtual_ipaddress_excluded`: any family.
    Excluded,
    /// `static_ipaddress`: takes `track_group`, not `use_vmac`.
    Static,
}

impl Cx<'_> {
    /// Every line of an address block, each with the span of its address.
    pub(crate) fn addresses(&mut self, s: &Statement, role: Role) -> Vec<(VirtualAddress, Span)> {
        let mut out = Vec::new();
        for line in self.block(s) {
            if let Some(address) = self.address_line(line, role) {
                out.push((address, line.keyword_span()));
            }
        }
        out
    }

    /// `virtual_ipaddress` / `virtual_ipaddress_excluded` of an instance: a virtual address
    /// of the other family than the instance's is dropped (keepalived: "address family must
    /// match VRRP instance").
    pub(crate) fn instance_addresses(&mut self, d: &mut InstanceDraft, s: &Statement, role: Role) {
        for (address, span) in self.addresses(s, role) {
            if role == Role::Excluded {
                d.instance.virtual_ipaddress_excluded.push(address);
                continue;
            }
            if !self.instance_family(d, &address.address.addr) {
                self.diagnostics
                    .error(
                        &span,
                        format!(
                            "{}: {} is not of the instance's address family; it is ignored",
                            d.instance.name, address.address.addr
                        ),
                    )
                    .hint("an instance advertises one family; put other addresses in virtual_ipaddress_excluded or a second instance");
                continue;
            }
            d.instance.virtual_ipaddress.push(address);
            d.vip_spans.push(span);
        }
    }

    /// `ADDR[/LEN] [dev IF] [scope S] [brd IP|+|-] [label L] [peer IP] [home] [-nodad]
    /// [mngtmpaddr] [noprefixroute] [autojoin] [no_track] [preferred_lft N|forever]
    /// [use_vmac | track_group G]`.
    fn address_line(&mut self, s: &Statement, role: Role) -> Option<VirtualAddress> {
        let first = s.keyword_span();
        let mut prefix = self.prefix_with_length(&first, s.name())?;
        let mut vip = VirtualAddress {
            address: prefix,
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
        let ipv6 = prefix.addr.is_ipv6();
        let mut preferred_set = false;
        let mut index = 0;
        while index < s.args.len() {
            let option = s.args[index].text.as_str();
            let takes_value = matches!(
                option,
                "dev" | "scope" | "brd" | "broadcast" | "label" | "peer" | "preferred_lft"
            ) || (option == "track_group" && role == Role::Static);
            let value = s.arg(index + 1).unwrap_or_default().to_string();
            let value_span = s.arg_span(index + 1);
            if takes_value && s.arg(index + 1).is_none() {
                self.diagnostics.error(
                    &s.arg_span(index),
                    format!(
                        "'{option}' needs a value; the address {} is ignored",
                        s.name()
                    ),
                );
                return None;
            }
            match option {
                "dev" => {
                    if vip.dev.is_some() {
                        self.diagnostics.error(
                            &s.arg_span(index),
                            format!(
                                "dev is given twice for {}; the address is ignored",
                                s.name()
                            ),
                        );
                        return None;
                    }
                    // Existence is a host question, checked with the other interfaces.
                    vip.dev =
                        Some(self.existing_interface(value_span, &value, "dev of an address")?);
                }
                "scope" => match scope_value(&value) {
                    Some(_) => vip.scope = Some(value),
                    None => {
                        self.diagnostics
                            .error(&value_span, format!("unknown scope '{value}'; ignored"))
                            .hint("scope host|link|site|global|nowhere|NUMBER");
                    }
                },
                "brd" | "broadcast" => {
                    if ipv6 {
                        self.diagnostics.error(
                            &s.arg_span(index),
                            format!(
                                "an IPv6 address has no broadcast address; {} is ignored",
                                s.name()
                            ),
                        );
                        return None;
                    }
                    vip.broadcast = Some(match value.as_str() {
                        "+" => Broadcast::Derived,
                        "-" => Broadcast::None,
                        text => match text.parse::<std::net::Ipv4Addr>() {
                            Ok(addr) => Broadcast::Address(IpAddr::V4(addr)),
                            Err(_) => {
                                self.diagnostics.error(
                                    &value_span,
                                    format!("broadcast '{text}' is not an IPv4 address; the address is ignored"),
                                );
                                return None;
                            }
                        },
                    });
                }
                "label" => {
                    if value.len() > 15 {
                        self.diagnostics.error(
                            &value_span,
                            format!("label '{value}' is longer than 15 characters; the address is ignored"),
                        );
                        return None;
                    }
                    vip.label = Some(value);
                }
                "peer" => {
                    if vip.peer.is_some() {
                        self.diagnostics
                            .error(&value_span, "a peer is already given; this one is ignored");
                    } else {
                        // keepalived reads the peer without a prefix length (so `/24` makes it
                        // invalid), and the address then takes the full length.
                        match super::plain_address(&value) {
                            None => {
                                self.diagnostics
                                    .error(&value_span, format!("invalid peer address '{value}' (an address without a prefix length); ignored"));
                            }
                            Some(peer) if peer.is_ipv4() != prefix.addr.is_ipv4() => {
                                self.diagnostics.error(
                                    &value_span,
                                    format!("peer {peer} is not of the address's family; ignored"),
                                );
                            }
                            Some(peer) => {
                                let full = if ipv6 { 128 } else { 32 };
                                if prefix.prefix_len != full {
                                    self.diagnostics.error(
                                        &first,
                                        "a prefix length on an address with a peer is ignored",
                                    );
                                }
                                prefix.prefix_len = full;
                                vip.peer = Some(crate::config::values::IpPrefix::host(peer));
                            }
                        }
                    }
                }
                "home" => vip.home = true,
                "-nodad" => vip.nodad = true,
                "mngtmpaddr" => vip.mngtmpaddr = true,
                "noprefixroute" => vip.noprefixroute = true,
                "autojoin" => vip.autojoin = true,
                "no_track" => vip.no_track = true,
                "preferred_lft" => {
                    if value == "forever" {
                        vip.preferred_lft = None;
                        preferred_set = true;
                    } else {
                        match super::number::unsigned(&value, 0, u64::from(u32::MAX)) {
                            Ok(seconds) => {
                                vip.preferred_lft = Some(seconds as u32);
                                preferred_set = true;
                            }
                            Err(_) => {
                                self.diagnostics.error(
                                    &value_span,
                                    format!("preferred_lft '{value}' is not a number of seconds or 'forever'; ignored"),
                                );
                            }
                        }
                    }
                }
                "track_group" if role == Role::Static => vip.track_group = Some(value),
                "use_vmac" if role != Role::Static => vip.use_vmac = true,
                other => {
                    // keepalived reports it and keeps the address.
                    self.diagnostics
                        .error(
                            &s.arg_span(index),
                            format!("unknown address option '{other}'; ignored"),
                        )
                        .hint("options: dev scope brd label peer home -nodad mngtmpaddr noprefixroute autojoin no_track preferred_lft");
                }
            }
            index += if takes_value { 2 } else { 1 };
        }
        vip.address = prefix;
        if vip.broadcast.is_some() && vip.peer.is_some() {
            self.diagnostics.error(
                &first,
                "a broadcast address and a peer: the broadcast is ignored",
            );
            vip.broadcast = None;
        } else if matches!(vip.broadcast, Some(Broadcast::Derived | Broadcast::None))
            && prefix.prefix_len > 30
        {
            self.diagnostics.error(
                &first,
                format!(
                    "a /{} address has no broadcast address to derive; 'brd' is ignored",
                    prefix.prefix_len
                ),
            );
            vip.broadcast = None;
        }
        if ipv6 {
            if vip.scope.take().is_some() {
                self.diagnostics
                    .error(&first, "an IPv6 address takes no scope; it is ignored");
            }
            if vip.label.take().is_some() {
                self.diagnostics
                    .error(&first, "an IPv6 address takes no label; it is ignored");
            }
            if !preferred_set {
                // keepalived's old defaults: a /128 is deprecated at once, others live forever.
                vip.preferred_lft = (prefix.prefix_len == 128).then_some(0);
            }
        }
        Some(vip)
    }

    /// `unicast_peer { IP [min_ttl N] [max_ttl N] ... }`.
    pub(crate) fn unicast_peers(&mut self, d: &mut InstanceDraft, s: &Statement) {
        d.unicast_keyword.get_or_insert_with(|| s.keyword_span());
        d.unicast_peer = Some(s.keyword_span());
        for line in self.block(s) {
            let Some(address) = self.sockaddr(line.keyword_span(), line.name(), "unicast peer")
            else {
                continue;
            };
            if !self.instance_family(d, &address) {
                self.diagnostics.error(
                    &line.keyword_span(),
                    format!(
                        "{}: unicast peer {address} is not of the instance's address family; ignored",
                        d.instance.name
                    ),
                );
                continue;
            }
            let mut peer = UnicastPeer {
                address,
                min_ttl: None,
                max_ttl: None,
            };
            let mut index = 0;
            while index < line.args.len() {
                let option = line.args[index].text.as_str();
                let Some(value) = line.arg(index + 1) else {
                    self.diagnostics
                        .error(&line.arg_span(index), format!("'{option}' needs a value"));
                    break;
                };
                match super::number::unsigned(value, 0, 255) {
                    Ok(ttl) => match option {
                        "min_ttl" => peer.min_ttl = Some(ttl as u8),
                        "max_ttl" => peer.max_ttl = Some(ttl as u8),
                        other => {
                            self.diagnostics
                                .error(
                                    &line.arg_span(index),
                                    format!("unknown unicast_peer option '{other}'"),
                                )
                                .hint("IPADDR [min_ttl N] [max_ttl N]");
                            break;
                        }
                    },
                    Err(err) => self.number_error(line, index + 1, &err, "0", "255"),
                }
                // keepalived checks the source of adverts once a peer has a TTL window.
                if matches!(option, "min_ttl" | "max_ttl") {
                    d.instance.unicast.check_unicast_src = true;
                }
                index += 2;
            }
            if peer.min_ttl.unwrap_or(0) > peer.max_ttl.unwrap_or(255) {
                self.diagnostics.error(
                    &line.keyword_span(),
                    format!("{address}: min_ttl above max_ttl: every advert will be dropped"),
                );
            }
            d.instance.unicast.peers.push(peer);
        }
    }
}

/// keepalived's `find_rttables_scope`: a name of /etc/iproute2/rt_scopes or a number.
pub(crate) fn scope_value(text: &str) -> Option<u8> {
    match text {
        "global" | "universe" => Some(0),
        "site" => Some(200),
        "link" => Some(253),
        "host" => Some(254),
        "nowhere" => Some(255),
        number => super::number::unsigned(number, 0, 255)
            .ok()
            .map(|n| n as u8),
    }
}
