//! What the daemon needs to know about this host's interfaces, as plain data: gathered over
//! netlink by [`super::netlink`], consumed by [`super::resolve`] (which stays pure and testable).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::engine::MacAddr;

/// One network interface of this network namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostInterface {
    pub name: String,
    pub ifindex: u32,
    pub mac: MacAddr,
    /// Administratively up and with carrier (`IFF_UP` and `IFF_RUNNING`).
    pub up: bool,
    pub loopback: bool,
    /// IPv4 addresses, primary ones first, in the kernel's order (keepalived uses the first).
    pub ipv4: Vec<Ipv4Addr>,
    /// The first link-local IPv6 address (fe80::/10): VRRPv3 over IPv6 sends from it.
    pub ipv6_link_local: Option<Ipv6Addr>,
    /// Other IPv6 addresses.
    pub ipv6: Vec<Ipv6Addr>,
    /// `net.ipv6.conf.<if>.forwarding`: unsolicited NAs then carry the Router flag.
    pub ipv6_forwarding: bool,
    /// `net.ipv6.conf.<if>.hop_limit` (64 by default): the hop limit of IPv6 unicast adverts
    /// when `unicast_ttl` is not set, as keepalived leaves it to the kernel.
    pub ipv6_hop_limit: u8,
}

impl HostInterface {
    /// The address keepalived sends adverts from when none is configured: the interface's
    /// primary IPv4 address, or its link-local IPv6 address.
    pub fn source_address(&self, ipv6: bool) -> Option<IpAddr> {
        if ipv6 {
            self.ipv6_link_local.map(IpAddr::V6)
        } else {
            self.ipv4.first().copied().map(IpAddr::V4)
        }
    }

    /// Whether `addr` is one of this interface's addresses.
    pub fn has_address(&self, addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => self.ipv4.contains(&a),
            IpAddr::V6(a) => self.ipv6_link_local == Some(a) || self.ipv6.contains(&a),
        }
    }
}

/// Every interface of the namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostFacts {
    pub interfaces: Vec<HostInterface>,
}

impl HostFacts {
    pub fn interface(&self, name: &str) -> Option<&HostInterface> {
        self.interfaces.iter().find(|i| i.name == name)
    }

    pub fn by_index(&self, ifindex: u32) -> Option<&HostInterface> {
        self.interfaces.iter().find(|i| i.ifindex == ifindex)
    }
}
