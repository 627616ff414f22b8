//! Next hops towards real servers, from the kernel: the route to the server (interface,
//! gateway, preferred source) and the neighbour entry of the next hop. A missing neighbour is
//! asked for (a datagram to the discard port makes the kernel resolve it); the next round
//! finds it.

use std::net::{IpAddr, SocketAddr};

use futures::TryStreamExt as _;
use rtnetlink::packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourState};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
use rtnetlink::{Handle, RouteMessageBuilder};

use super::director::NextHop;
use crate::daemon::host::HostFacts;

/// The kernel's way to `addr`: (interface, next hop address, our source address).
async fn route(handle: &Handle, addr: IpAddr) -> Option<(u32, IpAddr, Option<IpAddr>)> {
    let message = match addr {
        IpAddr::V4(a) => RouteMessageBuilder::<std::net::Ipv4Addr>::new()
            .destination_prefix(a, 32)
            .build(),
        IpAddr::V6(a) => RouteMessageBuilder::<std::net::Ipv6Addr>::new()
            .destination_prefix(a, 128)
            .build(),
    };
    let routes: Vec<_> = handle
        .route()
        .get(message)
        .execute()
        .try_collect()
        .await
        .ok()?;
    let route = routes.into_iter().next()?;
    let mut oif = None;
    let mut gateway = None;
    let mut source = None;
    let ip = |a: &RouteAddress| match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    };
    for attribute in &route.attributes {
        match attribute {
            RouteAttribute::Oif(index) => oif = Some(*index),
            RouteAttribute::Gateway(a) => gateway = ip(a),
            RouteAttribute::PrefSource(a) => source = ip(a),
            _ => {}
        }
    }
    Some((oif?, gateway.unwrap_or(addr), source))
}

async fn neighbour(handle: &Handle, ifindex: u32, addr: IpAddr) -> Option<[u8; 6]> {
    let neighbours: Vec<_> = handle
        .neighbours()
        .get()
        .execute()
        .try_collect()
        .await
        .ok()?;
    neighbours.into_iter().find_map(|n| {
        if n.header.ifindex != ifindex
            || matches!(
                n.header.state,
                NeighbourState::Failed | NeighbourState::Incomplete | NeighbourState::None
            )
        {
            return None;
        }
        let mut destination = None;
        let mut lladdr = None;
        for attribute in &n.attributes {
            match attribute {
                NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => {
                    destination = Some(IpAddr::V4(*a))
                }
                NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => {
                    destination = Some(IpAddr::V6(*a))
                }
                NeighbourAttribute::LinkLayerAddress(mac) if mac.len() == 6 => {
                    lladdr = Some([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]])
                }
                _ => {}
            }
        }
        (destination == Some(addr)).then_some(lladdr)?
    })
}

/// The MTU of interface `ifindex` (SIOCGIFMTU in this thread's namespace).
fn mtu(name: &str) -> Option<u32> {
    use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
    // SAFETY: a datagram socket only for the ioctl, owned at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: a descriptor we just created.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: zeroes are a valid ifreq.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in request.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    // SAFETY: SIOCGIFMTU fills ifr_mtu of the request.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFMTU, &mut request) } != 0 {
        return None;
    }
    // SAFETY: SIOCGIFMTU set the mtu member.
    Some(unsafe { request.ifr_ifru.ifru_mtu } as u32)
}

/// The next hop towards `addr`, or `None` while the kernel has not resolved it (it is then
/// asked to).
pub async fn resolve(handle: &Handle, host: &HostFacts, addr: IpAddr) -> Option<NextHop> {
    let (ifindex, via, source) = route(handle, addr).await?;
    let iface = host.by_index(ifindex)?;
    let Some(mac) = neighbour(handle, ifindex, via).await else {
        poke(via, addr);
        return None;
    };
    let src = source
        .or_else(|| iface.source_address(addr.is_ipv6()))
        .unwrap_or(addr);
    Some(NextHop {
        ifindex,
        mac,
        src_mac: iface.mac.0,
        src,
        mtu: mtu(&iface.name).unwrap_or(1500),
    })
}

/// Makes the kernel resolve the next hop: an empty datagram to the server's discard port.
fn poke(via: IpAddr, addr: IpAddr) {
    let local: SocketAddr = if addr.is_ipv6() {
        "[::]:0".parse().expect("valid")
    } else {
        "0.0.0.0:0".parse().expect("valid")
    };
    if let Ok(socket) = std::net::UdpSocket::bind(local) {
        let _ = socket.send_to(&[], SocketAddr::new(addr, 9));
    }
    let _ = via;
}
