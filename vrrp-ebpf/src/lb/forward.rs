//! Sending a packet to its real server, as IPVS's three forwarding methods do, and NAT's way
//! back. Out the interface it came in on is XDP_TX, any other a redirect.
//!
//! - DR: only the Ethernet header changes (the server has the virtual address itself).
//! - TUN: an outer IPv4 (IP-in-IP, protocol 4 or 41) or IPv6 header towards the server,
//!   IPVS's `ipip` tunnel type; TTL 64, DSCP/ECN and DF copied from the inner header.
//! - NAT: destination address and port rewritten, IPv4 header and TCP/UDP checksums updated
//!   incrementally; replies are found by their reverse entry and rewritten back.

use aya_ebpf::{
    bindings::xdp_action,
    helpers::generated::{bpf_ktime_get_coarse_ns, bpf_redirect, bpf_xdp_adjust_head},
    programs::XdpContext,
};
use vrrp_common::{
    DEST_RESOLVED, FAMILY_IPV4, FWD_NAT, FWD_TUN, LB_NAT_REPLIES, LB_PROTO_TCP, LB_TOO_BIG,
    LB_UNRESOLVED, LbDest,
};

use crate::csum;
use crate::packet::{
    ETH_LEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6, EthHeader, Flow, IPV4_LEN, IPV6_LEN, Ipv4Header,
    Ipv6Header, TcpHeader, UdpHeader, at,
};
use crate::{REPLY, add_out_stats, conn_key, conns, count, scratch};

const IPPROTO_IPIP: u8 = 4;
const IPPROTO_IPV6: u8 = 41;
const TUNNEL_TTL: u8 = 64;

/// `send`'s `new_conn` when the packet created no connection.
pub const NO_NEW_CONN: u32 = u32::MAX;

/// Sends `flow` to destination `id`. `new_conn` is the service of a connection this packet
/// created (NAT then records the way back), else [`NO_NEW_CONN`]. Not inlined, and each
/// method in a function of its own: the verifier allows 512 bytes of stack along any chain
/// of calls, and inlined paths add up.
#[inline(never)]
pub fn send(ctx: &XdpContext, flow: &Flow, id: u32, dest: *const LbDest, new_conn: u32) -> u32 {
    let dest = unsafe { &*dest };
    if dest.flags & DEST_RESOLVED == 0 {
        count(LB_UNRESOLVED);
        return xdp_action::XDP_DROP;
    }
    let sent = match dest.method {
        FWD_NAT => nat_in(ctx, flow, id, dest, new_conn),
        FWD_TUN => tunnel(ctx, flow, dest),
        _ => set_eth(ctx, &dest.mac, &dest.src_mac),
    };
    match sent {
        Some(()) => out(ctx, dest.ifindex),
        None => xdp_action::XDP_DROP,
    }
}

#[inline(always)]
fn out(ctx: &XdpContext, ifindex: u32) -> u32 {
    if ifindex == ctx.ingress_ifindex() as u32 {
        xdp_action::XDP_TX
    } else {
        unsafe { bpf_redirect(ifindex, 0) as u32 }
    }
}

#[inline(always)]
fn set_eth(ctx: &XdpContext, dst: &[u8; 6], src: &[u8; 6]) -> Option<()> {
    let eth = unsafe { &mut *at::<EthHeader>(ctx, 0)? };
    eth.dst = *dst;
    eth.src = *src;
    Some(())
}

/// NAT towards the server; a new connection also gets its reply entry.
#[inline(never)]
fn nat_in(ctx: &XdpContext, flow: &Flow, id: u32, dest: &LbDest, new_conn: u32) -> Option<()> {
    let port = if dest.port == 0 {
        flow.dport
    } else {
        dest.port
    };
    if new_conn != NO_NEW_CONN {
        let svc = new_conn;
        let eth = unsafe { &*at::<EthHeader>(ctx, 0)? };
        let key = vrrp_common::LbConnKey {
            src: dest.addr,
            dst: flow.src,
            sport: port,
            dport: flow.sport,
            proto: flow.proto,
            family: flow.family,
            dir: REPLY,
            _pad: 0,
        };
        let reply = unsafe { &mut *scratch(1)? };
        reply.dest = id;
        reply.generation = dest.generation;
        reply.svc = svc;
        reply.state = 0;
        reply.family = flow.family;
        reply.last_seen_ns = unsafe { bpf_ktime_get_coarse_ns() };
        reply.persist_touch_ns = 0;
        reply.addr = flow.dst;
        reply.port = flow.dport;
        reply.client_mac = eth.src;
        reply.local_mac = eth.dst;
        reply.client_ifindex = ctx.ingress_ifindex() as u32;
        let _ = conns().insert(&key, &*reply, 0);
    }
    rewrite(ctx, flow, true, &dest.addr, port)?;
    set_eth(ctx, &dest.mac, &dest.src_mac)
}

/// A packet from a NAT real server: if it answers a connection, it leaves with the virtual
/// address and port as its source, towards the client's next hop.
#[inline(never)]
pub fn nat_reply(ctx: &XdpContext, flow: &Flow) -> u32 {
    reply(ctx, flow).unwrap_or(xdp_action::XDP_PASS)
}

#[inline(always)]
fn reply(ctx: &XdpContext, flow: &Flow) -> Option<u32> {
    let key = conn_key(flow, REPLY);
    let conn = unsafe { &mut *conns().get_ptr_mut(&key)? };
    conn.last_seen_ns = unsafe { bpf_ktime_get_coarse_ns() };
    let (addr, port) = (conn.addr, conn.port);
    let (client_mac, local_mac, ifindex) = (conn.client_mac, conn.local_mac, conn.client_ifindex);
    add_out_stats(conn.dest, conn.svc, flow.ip_len);
    count(LB_NAT_REPLIES);
    rewrite(ctx, flow, false, &addr, port)?;
    set_eth(ctx, &client_mac, &local_mac)?;
    Some(out(ctx, ifindex))
}

/// Replaces the destination (`to_server`) or source address and port, updating the
/// checksums that cover them.
#[inline(always)]
fn rewrite(
    ctx: &XdpContext,
    flow: &Flow,
    to_server: bool,
    addr: &[u8; 16],
    port: u16,
) -> Option<()> {
    let ipv4 = flow.family == FAMILY_IPV4;
    let addr_delta = if ipv4 {
        let ip = unsafe { &mut *at::<Ipv4Header>(ctx, ETH_LEN)? };
        let field = if to_server { &mut ip.dst } else { &mut ip.src };
        let new = [addr[0], addr[1], addr[2], addr[3]];
        let delta = csum::delta(field, &new);
        *field = new;
        csum::apply(&mut ip.checksum, delta);
        delta
    } else {
        let ip = unsafe { &mut *at::<Ipv6Header>(ctx, ETH_LEN)? };
        let field = if to_server { &mut ip.dst } else { &mut ip.src };
        let delta = csum::delta(field, addr);
        *field = *addr;
        delta
    };
    let old_port = if to_server { flow.dport } else { flow.sport };
    let delta = addr_delta + csum::delta16(old_port, port);
    if flow.proto == LB_PROTO_TCP {
        let tcp = unsafe { &mut *at::<TcpHeader>(ctx, flow.l4_offset())? };
        if to_server {
            tcp.dport = port.to_be_bytes();
        } else {
            tcp.sport = port.to_be_bytes();
        }
        csum::apply(&mut tcp.checksum, delta);
    } else {
        let udp = unsafe { &mut *at::<UdpHeader>(ctx, flow.l4_offset())? };
        if to_server {
            udp.dport = port.to_be_bytes();
        } else {
            udp.sport = port.to_be_bytes();
        }
        csum::apply_udp(&mut udp.checksum, delta, ipv4);
    }
    Some(())
}

/// Puts an outer IP header in front of the packet (IPVS `ipip`).
#[inline(never)]
fn tunnel(ctx: &XdpContext, flow: &Flow, dest: &LbDest) -> Option<()> {
    let outer_v4 = dest.family == FAMILY_IPV4;
    let outer_len = if outer_v4 { IPV4_LEN } else { IPV6_LEN };
    if flow.ip_len as usize + outer_len > dest.mtu as usize {
        count(LB_TOO_BIG);
        return None;
    }
    // What the outer header copies from the inner one.
    let (tos, df, inner_proto) = if flow.family == FAMILY_IPV4 {
        let ip = unsafe { &*at::<Ipv4Header>(ctx, ETH_LEN)? };
        (ip.tos, ip.flags_fragment_offset[0] & 0x40, IPPROTO_IPIP)
    } else {
        let ip = unsafe { &*at::<Ipv6Header>(ctx, ETH_LEN)? };
        let class = (ip.version_class_flow[0] << 4) | (ip.version_class_flow[1] >> 4);
        (class, 0, IPPROTO_IPV6)
    };
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, -(outer_len as i32)) } != 0 {
        return None;
    }
    let eth = unsafe { &mut *at::<EthHeader>(ctx, 0)? };
    eth.dst = dest.mac;
    eth.src = dest.src_mac;
    let inner_len = flow.ip_len as u16;
    if outer_v4 {
        eth.ethertype = ETHERTYPE_IPV4.to_be_bytes();
        let ip = unsafe { &mut *at::<[u8; IPV4_LEN]>(ctx, ETH_LEN)? };
        let total = (inner_len + IPV4_LEN as u16).to_be_bytes();
        *ip = [
            0x45,
            tos,
            total[0],
            total[1],
            0,
            0,
            df,
            0,
            TUNNEL_TTL,
            inner_proto,
            0,
            0,
            dest.tun_src[0],
            dest.tun_src[1],
            dest.tun_src[2],
            dest.tun_src[3],
            dest.addr[0],
            dest.addr[1],
            dest.addr[2],
            dest.addr[3],
        ];
        let checksum = csum::ipv4_header(ip);
        ip[10] = checksum[0];
        ip[11] = checksum[1];
    } else {
        eth.ethertype = ETHERTYPE_IPV6.to_be_bytes();
        let ip = unsafe { &mut *at::<Ipv6Header>(ctx, ETH_LEN)? };
        ip.version_class_flow = [0x60 | (tos >> 4), tos << 4, 0, 0];
        ip.payload_len = inner_len.to_be_bytes();
        ip.next_header = inner_proto;
        ip.hop_limit = TUNNEL_TTL;
        ip.src = dest.tun_src;
        ip.dst = dest.addr;
    }
    Some(())
}
