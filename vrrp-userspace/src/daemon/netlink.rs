//! Addresses, routes, rules and links over rtnetlink: what the host looks like, what the
//! daemon adds and removes as instances become master and leave it, the VMAC macvlans, and the
//! kernel's notifications of link and address changes.

use std::net::{IpAddr, Ipv6Addr};

use futures::{StreamExt as _, TryStreamExt as _};
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope, CacheInfo,
};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkLayerType, MacVlanMode};
use rtnetlink::packet_route::route::{RouteScope, RouteType};
use rtnetlink::packet_route::rule::RuleAction;
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{Handle, LinkMacVlan, LinkUnspec, MulticastGroup, RouteMessageBuilder};

use super::host::{HostFacts, HostInterface};
use super::resolve::{PlannedAddress, VmacPlan};
use crate::config::model::{Route, Rule, RuleAction as ConfigRuleAction};
use crate::engine::MacAddr;

#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("cannot open a netlink socket")]
    Socket(#[source] std::io::Error),
    #[error("{what}: {source}")]
    Request {
        what: String,
        #[source]
        source: rtnetlink::Error,
    },
    #[error("{what}: {reason}")]
    Unusable { what: String, reason: String },
}

/// errno of a netlink error reply, if it is one.
fn errno(error: &rtnetlink::Error) -> Option<i32> {
    match error {
        rtnetlink::Error::NetlinkError(message) => message.code.map(|c| -c.get()),
        _ => None,
    }
}

/// The request side: dumps and changes.
#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
}

/// A change the kernel announced; the daemon re-reads the host when it sees one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostChange {
    Link { ifindex: u32 },
    Address { ifindex: u32 },
}

impl Netlink {
    /// Opens the request connection (its IO runs as a spawned task).
    pub fn connect() -> Result<Self, NetlinkError> {
        let (connection, handle, _) = rtnetlink::new_connection().map_err(NetlinkError::Socket)?;
        tokio::spawn(connection);
        Ok(Self { handle })
    }

    /// Subscribes to link and address changes.
    pub fn subscribe() -> Result<futures::channel::mpsc::UnboundedReceiver<HostChange>, NetlinkError>
    {
        let (connection, _, mut messages) = rtnetlink::new_multicast_connection(&[
            MulticastGroup::Link,
            MulticastGroup::Ipv4Ifaddr,
            MulticastGroup::Ipv6Ifaddr,
        ])
        .map_err(NetlinkError::Socket)?;
        tokio::spawn(connection);
        let (sender, receiver) = futures::channel::mpsc::unbounded();
        tokio::spawn(async move {
            while let Some((message, _)) = messages.next().await {
                let change = match message.payload {
                    NetlinkPayload::InnerMessage(
                        RouteNetlinkMessage::NewLink(link) | RouteNetlinkMessage::DelLink(link),
                    ) => HostChange::Link {
                        ifindex: link.header.index,
                    },
                    NetlinkPayload::InnerMessage(
                        RouteNetlinkMessage::NewAddress(addr)
                        | RouteNetlinkMessage::DelAddress(addr),
                    ) => HostChange::Address {
                        ifindex: addr.header.index,
                    },
                    _ => continue,
                };
                if sender.unbounded_send(change).is_err() {
                    break;
                }
            }
        });
        Ok(receiver)
    }

    /// Every interface with its addresses.
    pub async fn host_facts(&self) -> Result<HostFacts, NetlinkError> {
        let request = |source| NetlinkError::Request {
            what: "listing interfaces".into(),
            source,
        };
        let links: Vec<_> = self
            .handle
            .link()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(request)?;
        let addresses: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .execute()
            .try_collect()
            .await
            .map_err(|source| NetlinkError::Request {
                what: "listing addresses".into(),
                source,
            })?;
        let mut interfaces = Vec::new();
        for link in links {
            let mut name = None;
            let mut mac = MacAddr::default();
            for attribute in &link.attributes {
                match attribute {
                    LinkAttribute::IfName(n) => name = Some(n.clone()),
                    LinkAttribute::Address(bytes) if bytes.len() == 6 => {
                        mac = MacAddr(bytes[..6].try_into().expect("6 bytes"));
                    }
                    _ => {}
                }
            }
            let Some(name) = name else { continue };
            let flags = link.header.flags;
            let ifindex = link.header.index;
            let mut interface = HostInterface {
                ipv6_forwarding: read_sysctl(&format!("net/ipv6/conf/{name}/forwarding"))
                    .is_some_and(|v| v != 0),
                ipv6_hop_limit: read_sysctl(&format!("net/ipv6/conf/{name}/hop_limit"))
                    .and_then(|v| u8::try_from(v).ok())
                    .unwrap_or(64),
                name,
                ifindex,
                mac,
                up: flags.contains(LinkFlags::Up) && flags.contains(LinkFlags::Running),
                loopback: link.header.link_layer_type == LinkLayerType::Loopback,
                ipv4: Vec::new(),
                ipv6_link_local: None,
                ipv6: Vec::new(),
            };
            let mut secondary = Vec::new();
            for message in addresses.iter().filter(|a| a.header.index == ifindex) {
                match address_of(message) {
                    Some(IpAddr::V4(addr)) => {
                        if is_secondary(message) {
                            secondary.push(addr);
                        } else {
                            interface.ipv4.push(addr);
                        }
                    }
                    Some(IpAddr::V6(addr)) if is_link_local(addr) => {
                        interface.ipv6_link_local.get_or_insert(addr);
                    }
                    Some(IpAddr::V6(addr)) => interface.ipv6.push(addr),
                    None => {}
                }
            }
            interface.ipv4.extend(secondary);
            interfaces.push(interface);
        }
        Ok(HostFacts { interfaces })
    }

    /// Adds `address` with its options; an address already there is fine.
    pub async fn add_address(&self, address: &PlannedAddress) -> Result<(), NetlinkError> {
        let mut request = self.handle.address().add(
            address.link.ifindex,
            address.prefix.addr,
            address.prefix.prefix_len,
        );
        fill_address(request.message_mut(), address);
        match request.execute().await {
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
            result => result.map_err(|source| NetlinkError::Request {
                what: format!("adding {} to {}", address.prefix, address.link.name),
                source,
            }),
        }
    }

    /// Removes `address`; one that is already gone is fine.
    pub async fn remove_address(&self, address: &PlannedAddress) -> Result<(), NetlinkError> {
        let mut message = AddressMessage::default();
        message.header.family = family_of(address.prefix.addr);
        message.header.prefix_len = address.prefix.prefix_len;
        message.header.index = address.link.ifindex;
        message
            .attributes
            .push(AddressAttribute::Local(address.prefix.addr));
        match self.handle.address().del(message).execute().await {
            Err(e)
                if matches!(
                    errno(&e),
                    Some(libc::EADDRNOTAVAIL | libc::ENOENT | libc::ENODEV)
                ) =>
            {
                Ok(())
            }
            result => result.map_err(|source| NetlinkError::Request {
                what: format!("removing {} from {}", address.prefix, address.link.name),
                source,
            }),
        }
    }

    /// Adds (`add`) or removes a `virtual_routes` entry.
    pub async fn route(
        &self,
        route: &Route,
        host: &HostFacts,
        add: bool,
    ) -> Result<(), NetlinkError> {
        let what = format!(
            "{} route to {}",
            if add { "adding" } else { "removing" },
            route.destination
        );
        let message = route_message(route, host).map_err(|reason| NetlinkError::Unusable {
            what: what.clone(),
            reason,
        })?;
        let result = if add {
            self.handle.route().add(message).execute().await
        } else {
            self.handle.route().del(message).execute().await
        };
        match result {
            Err(e) if add && errno(&e) == Some(libc::EEXIST) => Ok(()),
            Err(e) if !add && matches!(errno(&e), Some(libc::ESRCH | libc::ENOENT)) => Ok(()),
            result => result.map_err(|source| NetlinkError::Request { what, source }),
        }
    }

    /// Adds (`add`) or removes a `virtual_rules` entry, with every selector and action the
    /// configuration gives.
    pub async fn rule(&self, rule: &Rule, add: bool) -> Result<(), NetlinkError> {
        use rtnetlink::packet_route::rule::{
            RuleAttribute, RuleFlags, RulePortRange, RuleUidRange,
        };
        let what = format!("{} rule {rule:?}", if add { "adding" } else { "removing" });
        let mut request = self.handle.rule().add();
        let message = request.message_mut();
        message.header.family = match rule.family {
            crate::protocol::Family::Ipv4 => AddressFamily::Inet,
            crate::protocol::Family::Ipv6 => AddressFamily::Inet6,
        };
        if rule.invert {
            message.header.flags |= RuleFlags::Invert;
        }
        if let Some(from) = rule.from {
            message.header.src_len = from.prefix_len;
            message.attributes.push(RuleAttribute::Source(from.addr));
        }
        if let Some(to) = rule.to {
            message.header.dst_len = to.prefix_len;
            message.attributes.push(RuleAttribute::Destination(to.addr));
        }
        if let Some(preference) = rule.preference {
            message.attributes.push(RuleAttribute::Priority(preference));
        }
        if let Some(tos) = rule.tos {
            message.header.tos = tos;
        }
        if let Some(mark) = rule.fwmark {
            message.attributes.push(RuleAttribute::FwMark(mark));
            if let Some(mask) = rule.fwmask {
                message.attributes.push(RuleAttribute::FwMask(mask));
            }
        }
        if let Some(realms) = rule.realms {
            message.attributes.push(RuleAttribute::Realm(realm(realms)));
        }
        if let Some(length) = rule.suppress_prefixlength {
            message
                .attributes
                .push(RuleAttribute::SuppressPrefixLen(length as u32));
        }
        if let Some(group) = rule.suppress_ifgroup {
            message
                .attributes
                .push(RuleAttribute::SuppressIfGroup(group));
        }
        if let Some(iif) = &rule.iif {
            message
                .attributes
                .push(RuleAttribute::Iifname(iif.to_string()));
        }
        if let Some(oif) = &rule.oif {
            message
                .attributes
                .push(RuleAttribute::Oifname(oif.to_string()));
        }
        if let Some(id) = rule.tunnel_id {
            message.attributes.push(RuleAttribute::TunId(id));
        }
        if let Some((start, end)) = rule.uidrange {
            message
                .attributes
                .push(RuleAttribute::UidRange(RuleUidRange { start, end }));
        }
        if rule.l3mdev {
            message.attributes.push(RuleAttribute::L3MDev(true));
        }
        if let Some(protocol) = rule.protocol {
            message
                .attributes
                .push(RuleAttribute::Protocol(protocol.into()));
        }
        if let Some(protocol) = rule.ip_proto {
            message
                .attributes
                .push(RuleAttribute::IpProtocol(protocol.into()));
        }
        if let Some((start, end)) = rule.sport {
            message
                .attributes
                .push(RuleAttribute::SourcePortRange(RulePortRange { start, end }));
        }
        if let Some((start, end)) = rule.dport {
            message
                .attributes
                .push(RuleAttribute::DestinationPortRange(RulePortRange {
                    start,
                    end,
                }));
        }
        message.header.action = match &rule.action {
            None => RuleAction::ToTable,
            Some(ConfigRuleAction::Goto(target)) => {
                message.attributes.push(RuleAttribute::Goto(*target));
                RuleAction::Goto
            }
            Some(ConfigRuleAction::Nop) => RuleAction::Nop,
            Some(ConfigRuleAction::Type(kind)) => match kind.as_str() {
                "blackhole" => RuleAction::Blackhole,
                "unreachable" => RuleAction::Unreachable,
                "prohibit" => RuleAction::Prohibit,
                other => {
                    return Err(NetlinkError::Unusable {
                        what,
                        reason: format!("rule action '{other}' is not supported"),
                    });
                }
            },
        };
        if message.header.action == RuleAction::ToTable && !rule.l3mdev {
            let table = rule.table.unwrap_or(254);
            if table < 256 {
                message.header.table = table as u8;
            } else {
                message.header.table = 252; // RT_TABLE_COMPAT: the real id is in the attribute
            }
            message.attributes.push(RuleAttribute::Table(table));
        } else {
            message.header.table = 0;
        }
        let message = message.clone();
        let result = if add {
            request.execute().await
        } else {
            self.handle.rule().del(message).execute().await
        };
        match result {
            Err(e) if add && errno(&e) == Some(libc::EEXIST) => Ok(()),
            Err(e) if !add && matches!(errno(&e), Some(libc::ENOENT | libc::ESRCH)) => Ok(()),
            result => result.map_err(|source| NetlinkError::Request { what, source }),
        }
    }

    /// Creates the VMAC macvlan (keepalived's `use_vmac`), up, in private mode, unless an
    /// interface of that name exists already.
    pub async fn create_vmac(&self, plan: &VmacPlan) -> Result<(), NetlinkError> {
        let message = LinkMacVlan::new(&plan.name, plan.base.ifindex, MacVlanMode::Private)
            .address(plan.mac.0.to_vec())
            .up()
            .build();
        match self.handle.link().add(message).execute().await {
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
            result => result.map_err(|source| NetlinkError::Request {
                what: format!(
                    "creating VMAC interface {} on {}",
                    plan.name, plan.base.name
                ),
                source,
            }),
        }
    }

    /// Deletes an interface we created.
    pub async fn delete_link(&self, name: &str, ifindex: u32) -> Result<(), NetlinkError> {
        match self.handle.link().del(ifindex).execute().await {
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
            result => result.map_err(|source| NetlinkError::Request {
                what: format!("deleting interface {name}"),
                source,
            }),
        }
    }

    /// Brings an interface up (a VMAC whose base came back).
    pub async fn set_up(&self, ifindex: u32) -> Result<(), NetlinkError> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(ifindex).up().build())
            .execute()
            .await
            .map_err(|source| NetlinkError::Request {
                what: format!("bringing interface {ifindex} up"),
                source,
            })
    }
}

fn family_of(addr: IpAddr) -> AddressFamily {
    if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
}

fn is_link_local(addr: Ipv6Addr) -> bool {
    addr.segments()[0] & 0xffc0 == 0xfe80
}

fn is_secondary(message: &AddressMessage) -> bool {
    message.header.flags.contains(AddressHeaderFlags::Secondary)
        || message.attributes.iter().any(
            |a| matches!(a, AddressAttribute::Flags(flags) if flags.contains(AddressFlags::Secondary)),
        )
}

/// The interface's own address of a message: IFA_LOCAL for IPv4 (IFA_ADDRESS is the peer on
/// point-to-point links), IFA_ADDRESS for IPv6.
fn address_of(message: &AddressMessage) -> Option<IpAddr> {
    let local = message.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(addr) => Some(*addr),
        _ => None,
    });
    let address = message.attributes.iter().find_map(|a| match a {
        AddressAttribute::Address(addr) => Some(*addr),
        _ => None,
    });
    local.or(address)
}

fn fill_address(message: &mut AddressMessage, address: &PlannedAddress) {
    message.header.scope = AddressScope::from(address.scope);
    if let Some(peer) = address.peer {
        // `peer`: IFA_ADDRESS is the other end, IFA_LOCAL ours, the prefix the peer's.
        message.header.prefix_len = peer.prefix_len;
        message
            .attributes
            .retain(|a| !matches!(a, AddressAttribute::Address(_)));
        message
            .attributes
            .push(AddressAttribute::Address(peer.addr));
        if !message
            .attributes
            .iter()
            .any(|a| matches!(a, AddressAttribute::Local(_)))
        {
            message
                .attributes
                .push(AddressAttribute::Local(address.prefix.addr));
        }
    }
    if let Some(IpAddr::V4(broadcast)) = address.broadcast {
        message
            .attributes
            .push(AddressAttribute::Broadcast(broadcast));
    }
    if let Some(label) = &address.label {
        message
            .attributes
            .push(AddressAttribute::Label(label.clone()));
    }
    let mut flags = AddressFlags::empty();
    flags.set(AddressFlags::Nodad, address.nodad);
    flags.set(AddressFlags::Homeaddress, address.home);
    flags.set(AddressFlags::Managetempaddr, address.mngtmpaddr);
    flags.set(AddressFlags::Noprefixroute, address.noprefixroute);
    flags.set(AddressFlags::Mcautojoin, address.autojoin);
    if !flags.is_empty() {
        message.attributes.push(AddressAttribute::Flags(flags));
    }
    if let Some(preferred) = address.preferred_lft {
        let mut lifetimes = CacheInfo::default();
        lifetimes.ifa_preferred = preferred;
        lifetimes.ifa_valid = u32::MAX;
        message
            .attributes
            .push(AddressAttribute::CacheInfo(lifetimes));
    }
}

/// A `realms FROM/TO` value (FROM in the upper 16 bits).
fn realm(realms: u32) -> rtnetlink::packet_route::route::RouteRealm {
    rtnetlink::packet_route::route::RouteRealm {
        source: (realms >> 16) as u16,
        destination: (realms & 0xffff) as u16,
    }
}

/// The route as the kernel takes it: every option of the configuration (keepalived's
/// `netlink_route`).
fn route_message(
    route: &Route,
    host: &HostFacts,
) -> Result<rtnetlink::packet_route::route::RouteMessage, String> {
    use rtnetlink::packet_route::route::{
        RouteAttribute, RouteFlags, RouteMetric, RouteNextHop, RouteNextHopFlags,
    };
    let kind = match route.route_type.as_deref() {
        None | Some("unicast") => RouteType::Unicast,
        Some("blackhole") => RouteType::BlackHole,
        Some("unreachable") => RouteType::Unreachable,
        Some("prohibit") => RouteType::Prohibit,
        Some("throw") => RouteType::Throw,
        Some("local") => RouteType::Local,
        Some("broadcast") => RouteType::Broadcast,
        Some("anycast") => RouteType::Anycast,
        Some("multicast") => RouteType::Multicast,
        Some(other) => return Err(format!("route type '{other}' is not supported")),
    };
    let interface = |name: &str| {
        host.interface(name)
            .map(|on| on.ifindex)
            .ok_or_else(|| format!("interface {name} does not exist"))
    };
    let mut builder = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(route.destination.addr, route.destination.prefix_len)
        .map_err(|e| e.to_string())?
        .kind(kind);
    if let Some(from) = route.from {
        builder = builder
            .source_prefix(from.addr, from.prefix_len)
            .map_err(|e| e.to_string())?;
    }
    if let Some(via) = route.via {
        builder = builder.gateway(via).map_err(|e| e.to_string())?;
    }
    if let Some(src) = route.src {
        builder = builder.pref_source(src).map_err(|e| e.to_string())?;
    }
    if let Some(dev) = &route.dev {
        builder = builder.output_interface(interface(dev.as_str())?);
    }
    if let Some(table) = route.table {
        builder = builder.table_id(table);
    }
    if let Some(metric) = route.metric {
        builder = builder.priority(metric);
    }
    if let Some(protocol) = route.protocol {
        builder = builder.protocol(protocol.into());
    }
    if let Some(tos) = route.tos {
        builder = builder.tos(tos);
    }
    if route.onlink {
        builder = builder.onlink();
    }
    if let Some(realms) = route.realms {
        builder = builder.realm(realm(realms));
    }
    if let Some(expires) = route.expires {
        builder = builder.expires(expires);
    }
    if let Some(propagate) = route.ttl_propagate {
        builder = builder.ttl_propagate(propagate);
    }
    let scope = match route.scope {
        Some(scope) => RouteScope::from(scope),
        None if kind == RouteType::Unicast && route.via.is_none() && route.dev.is_some() => {
            RouteScope::Link
        }
        None => RouteScope::Universe,
    };
    let mut message = builder.scope(scope).build();
    if let Some(pref) = route.pref {
        message
            .attributes
            .push(RouteAttribute::Preference(pref.into()));
    }
    let m = &route.metrics;
    let mut metrics = Vec::new();
    let mut lock = 0u32;
    let mut locked = |metric: &Option<crate::config::model::RouteMetric>,
                      bit: u32,
                      make: fn(u32) -> RouteMetric| {
        if let Some(value) = metric {
            if value.lock {
                lock |= 1 << bit;
            }
            metrics.push(make(value.value));
        }
    };
    // RTAX_* numbers: the lock bit of a metric is 1 << its number.
    locked(&m.mtu, 2, RouteMetric::Mtu);
    locked(&m.rtt, 4, RouteMetric::Rtt);
    locked(&m.rttvar, 5, RouteMetric::RttVar);
    locked(&m.ssthresh, 6, RouteMetric::SsThresh);
    locked(&m.cwnd, 7, RouteMetric::Cwnd);
    locked(&m.advmss, 8, RouteMetric::Advmss);
    locked(&m.reordering, 9, RouteMetric::Reordering);
    locked(&m.rto_min, 13, RouteMetric::RtoMin);
    if let Some(window) = m.window {
        metrics.push(RouteMetric::Window(window));
    }
    if let Some(hoplimit) = m.hoplimit {
        metrics.push(RouteMetric::Hoplimit(u32::from(hoplimit)));
    }
    if let Some(initcwnd) = m.initcwnd {
        metrics.push(RouteMetric::InitCwnd(initcwnd));
    }
    if let Some(initrwnd) = m.initrwnd {
        metrics.push(RouteMetric::InitRwnd(initrwnd));
    }
    if m.features_ecn {
        metrics.push(RouteMetric::Features(1)); // RTAX_FEATURE_ECN
    }
    if let Some(quickack) = m.quickack {
        metrics.push(RouteMetric::QuickAck(u32::from(quickack)));
    }
    if let Some((algorithm, locked_cc)) = &m.congctl {
        if *locked_cc {
            lock |= 1 << 16; // RTAX_CC_ALGO
        }
        metrics.push(RouteMetric::CcAlgo(algorithm.clone()));
    }
    if let Some(cookie) = m.fastopen_no_cookie {
        metrics.push(RouteMetric::FastopenNoCookie(u32::from(cookie)));
    }
    if lock != 0 {
        metrics.push(RouteMetric::Lock(lock));
    }
    if !metrics.is_empty() {
        message.attributes.push(RouteAttribute::Metrics(metrics));
    }
    if route.encap.is_some() {
        return Err("encap is not supported by xvrrpd yet".to_string());
    }
    if !route.nexthops.is_empty() {
        let mut hops = Vec::new();
        for hop in &route.nexthops {
            let mut attributes = Vec::new();
            if let Some(via) = hop.via {
                attributes.push(RouteAttribute::Gateway(via.into()));
            }
            if let Some(realms) = hop.realms {
                attributes.push(RouteAttribute::Realm(realm(realms)));
            }
            let mut flags = RouteNextHopFlags::empty();
            if hop.onlink {
                flags |= RouteNextHopFlags::Onlink;
            }
            let mut next = RouteNextHop::default();
            next.flags = flags;
            // keepalived sends weight - 1 (rtnh_hops).
            next.hops = hop.weight.map_or(0, |w| (w - 1) as u8);
            next.interface_index = match &hop.dev {
                Some(dev) => interface(dev.as_str())?,
                None => 0,
            };
            next.attributes = attributes;
            hops.push(next);
        }
        message.attributes.push(RouteAttribute::MultiPath(hops));
    }
    let _ = RouteFlags::empty();
    Ok(message)
}

fn read_sysctl(path: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/sys/{path}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}
