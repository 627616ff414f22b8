//! Parsing a frame into the flow the load balancer looks at: Ethernet, IPv4 (any IHL) or IPv6
//! (no extension headers), then the TCP or UDP ports. Every header is bounds-checked once as a
//! whole before a field is read (the verifier follows nothing else at variable offsets).

use aya_ebpf::programs::XdpContext;
use vrrp_common::{FAMILY_IPV4, FAMILY_IPV6, LB_PROTO_TCP, LB_PROTO_UDP};

pub const ETH_LEN: usize = 14;
pub const IPV4_LEN: usize = 20;
pub const IPV6_LEN: usize = 40;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

#[repr(C)]
pub struct EthHeader {
    pub dst: [u8; 6],
    pub src: [u8; 6],
    pub ethertype: [u8; 2],
}

#[repr(C)]
pub struct Ipv4Header {
    pub version_ihl: u8,
    pub tos: u8,
    pub total_len: [u8; 2],
    pub id: [u8; 2],
    pub flags_fragment_offset: [u8; 2],
    pub ttl: u8,
    pub protocol: u8,
    pub checksum: [u8; 2],
    pub src: [u8; 4],
    pub dst: [u8; 4],
}

#[repr(C)]
pub struct Ipv6Header {
    pub version_class_flow: [u8; 4],
    pub payload_len: [u8; 2],
    pub next_header: u8,
    pub hop_limit: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
}

#[repr(C)]
pub struct TcpHeader {
    pub sport: [u8; 2],
    pub dport: [u8; 2],
    pub seq: [u8; 4],
    pub ack: [u8; 4],
    pub offset: u8,
    pub flags: u8,
    pub window: [u8; 2],
    pub checksum: [u8; 2],
    pub urgent: [u8; 2],
}

#[repr(C)]
pub struct UdpHeader {
    pub sport: [u8; 2],
    pub dport: [u8; 2],
    pub len: [u8; 2],
    pub checksum: [u8; 2],
}

/// A pointer to a `T` at `offset`, or `None` when the frame is too short to hold all of it.
#[inline(always)]
pub fn at<T>(ctx: &XdpContext, offset: usize) -> Option<*mut T> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + offset + core::mem::size_of::<T>() > end {
        return None;
    }
    Some((start + offset) as *mut T)
}

/// What the load balancer needs of a TCP or UDP packet. It lives in a per-CPU map slot, not
/// on the stack (512 bytes for every function along a chain of calls).
#[repr(C)]
pub struct Flow {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub family: u8,
    pub proto: u8,
    /// TCP flags (0 for UDP).
    pub tcp_flags: u8,
    /// 1: an IPv4 fragment or IPv6 with extension headers: only the addresses are valid.
    pub fragment: u8,
    pub sport: u16,
    pub dport: u16,
    /// Offset of the TCP or UDP header.
    pub l4: u32,
    /// IP length as the header says (ipvsadm's byte counters count it).
    pub ip_len: u32,
}

impl Flow {
    /// The transport header's offset, bounded for the verifier (it was read back from map
    /// memory, so the verifier knows nothing of it): at most 14 + 60.
    #[inline(always)]
    pub fn l4_offset(&self) -> usize {
        (self.l4 & 0x7f) as usize
    }
}

/// Fills `flow` from an untagged IPv4 or IPv6 frame carrying TCP or UDP; `None` for
/// anything else (which the load balancer passes). IPv6 with extension headers comes back as
/// a fragment: its addresses are known, its ports are not.
#[inline(always)]
pub fn parse(ctx: &XdpContext, flow: &mut Flow) -> Option<()> {
    let eth = unsafe { &*at::<EthHeader>(ctx, 0)? };
    match u16::from_be_bytes(eth.ethertype) {
        ETHERTYPE_IPV4 => ipv4(ctx, flow),
        ETHERTYPE_IPV6 => ipv6(ctx, flow),
        _ => None,
    }
}

#[inline(always)]
fn ipv4(ctx: &XdpContext, flow: &mut Flow) -> Option<()> {
    let ip = unsafe { &*at::<Ipv4Header>(ctx, ETH_LEN)? };
    if ip.version_ihl >> 4 != 4 || (ip.protocol != LB_PROTO_TCP && ip.protocol != LB_PROTO_UDP) {
        return None;
    }
    let header_len = ((ip.version_ihl & 0x0f) as usize) * 4;
    if header_len < IPV4_LEN {
        return None;
    }
    flow.src = [0; 16];
    flow.src[..4].copy_from_slice(&ip.src);
    flow.dst = [0; 16];
    flow.dst[..4].copy_from_slice(&ip.dst);
    flow.family = FAMILY_IPV4;
    flow.proto = ip.protocol;
    flow.l4 = (ETH_LEN + header_len) as u32;
    flow.sport = 0;
    flow.dport = 0;
    flow.tcp_flags = 0;
    flow.fragment = (u16::from_be_bytes(ip.flags_fragment_offset) & 0x3fff != 0) as u8;
    flow.ip_len = u16::from_be_bytes(ip.total_len) as u32;
    if flow.fragment != 0 {
        return Some(());
    }
    ports(ctx, flow)
}

#[inline(always)]
fn ipv6(ctx: &XdpContext, flow: &mut Flow) -> Option<()> {
    let ip = unsafe { &*at::<Ipv6Header>(ctx, ETH_LEN)? };
    if ip.version_class_flow[0] >> 4 != 6 {
        return None;
    }
    flow.family = FAMILY_IPV6;
    flow.proto = ip.next_header;
    flow.l4 = (ETH_LEN + IPV6_LEN) as u32;
    flow.src = ip.src;
    flow.dst = ip.dst;
    flow.sport = 0;
    flow.dport = 0;
    flow.tcp_flags = 0;
    flow.fragment = 0;
    flow.ip_len = u16::from_be_bytes(ip.payload_len) as u32 + IPV6_LEN as u32;
    match ip.next_header {
        LB_PROTO_TCP | LB_PROTO_UDP => {}
        // Hop-by-hop, routing, fragment, destination options: the transport header is
        // further in; the addresses say whether it is ours (it then passes, counted).
        0 | 43 | 44 | 60 => {
            flow.fragment = 1;
            return Some(());
        }
        _ => return None,
    }
    ports(ctx, flow)
}

#[inline(always)]
fn ports(ctx: &XdpContext, flow: &mut Flow) -> Option<()> {
    if flow.proto == LB_PROTO_TCP {
        let tcp = unsafe { &*at::<TcpHeader>(ctx, flow.l4_offset())? };
        flow.sport = u16::from_be_bytes(tcp.sport);
        flow.dport = u16::from_be_bytes(tcp.dport);
        flow.tcp_flags = tcp.flags;
    } else {
        let udp = unsafe { &*at::<UdpHeader>(ctx, flow.l4_offset())? };
        flow.sport = u16::from_be_bytes(udp.sport);
        flow.dport = u16::from_be_bytes(udp.dport);
    }
    Some(())
}
