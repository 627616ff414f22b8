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
use crate::config::model::{Route, Rule};
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

    /// Adds (`add`) or removes a `virtual_rules` entry.
    pub async fn rule(&self, rule: &Rule, add: bool) -> Result<(), NetlinkError> {
        let what = format!("{} rule {rule:?}", if add { "adding" } else { "removing" });
        let mut request = self.handle.rule().add();
        let message = request.message_mut();
        let family = rule
            .from
            .or(rule.to)
            .map_or(AddressFamily::Inet, |p| family_of(p.addr));
        message.header.family = family;
        if let Some(from) = rule.from {
            message.header.src_len = from.prefix_len;
            message
                .attributes
                .push(rtnetlink::packet_route::rule::RuleAttribute::Source(
                    from.addr,
                ));
        }
        if let Some(to) = rule.to {
            message.header.dst_len = to.prefix_len;
            message
                .attributes
                .push(rtnetlink::packet_route::rule::RuleAttribute::Destination(
                    to.addr,
                ));
        }
        if let Some(preference) = rule.preference {
            message
                .attributes
                .push(rtnetlink::packet_route::rule::RuleAttribute::Priority(
                    preference,
                ));
        }
        let table = match rule.table.as_deref() {
            Some(name) => table_number(name).ok_or_else(|| NetlinkError::Unusable {
                what: what.clone(),
                reason: format!("unknown routing table '{name}'"),
            })?,
            None => 254,
        };
        message.header.action = match rule.action.as_deref() {
            None | Some("table" | "lookup") => RuleAction::ToTable,
            Some("blackhole") => RuleAction::Blackhole,
            Some("unreachable") => RuleAction::Unreachable,
            Some("prohibit") => RuleAction::Prohibit,
            Some("nop") => RuleAction::Nop,
            Some(other) => {
                return Err(NetlinkError::Unusable {
                    what,
                    reason: format!("rule action '{other}' is not supported"),
                });
            }
        };
        if message.header.action == RuleAction::ToTable {
            if table < 256 {
                message.header.table = table as u8;
            } else {
                message.header.table = 252; // RT_TABLE_COMPAT: the real id is in the attribute
            }
            message
                .attributes
                .push(rtnetlink::packet_route::rule::RuleAttribute::Table(table));
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

/// `ip route`'s table names (iproute2's rt_tables defaults) or a number.
fn table_number(name: &str) -> Option<u32> {
    match name {
        "main" => Some(254),
        "local" => Some(255),
        "default" => Some(253),
        number => number.parse().ok(),
    }
}

fn route_message(
    route: &Route,
    host: &HostFacts,
) -> Result<rtnetlink::packet_route::route::RouteMessage, String> {
    let kind = match route.route_type.as_deref() {
        None | Some("unicast") => RouteType::Unicast,
        Some("blackhole") => RouteType::BlackHole,
        Some("unreachable") => RouteType::Unreachable,
        Some("prohibit") => RouteType::Prohibit,
        Some("throw") => RouteType::Throw,
        Some(other) => return Err(format!("route type '{other}' is not supported")),
    };
    let mut builder = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(route.destination.addr, route.destination.prefix_len)
        .map_err(|e| e.to_string())?
        .kind(kind);
    if let Some(via) = route.via {
        builder = builder.gateway(via).map_err(|e| e.to_string())?;
    }
    if let Some(src) = route.src {
        builder = builder.pref_source(src).map_err(|e| e.to_string())?;
    }
    if let Some(dev) = &route.dev {
        let on = host
            .interface(dev.as_str())
            .ok_or_else(|| format!("interface {dev} does not exist"))?;
        builder = builder.output_interface(on.ifindex);
    }
    if let Some(table) = &route.table {
        builder = builder.table_id(
            table_number(table).ok_or_else(|| format!("unknown routing table '{table}'"))?,
        );
    }
    if let Some(metric) = route.metric {
        builder = builder.priority(metric);
    }
    let scope = match route.scope.as_deref() {
        Some(scope) => RouteScope::from(super::resolve::scope_number(scope)),
        None if kind == RouteType::Unicast && route.via.is_none() && route.dev.is_some() => {
            RouteScope::Link
        }
        None => RouteScope::Universe,
    };
    Ok(builder.scope(scope).build())
}

fn read_sysctl(path: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/sys/{path}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}
