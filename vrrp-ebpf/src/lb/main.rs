//! The load balancer of xvrrpd: keepalived's `virtual_server` without IPVS.
//!
//! Reached from `vrrp_rx` by a tail call for every frame that is not VRRP (or attached on its
//! own where no VRRP instance runs). A TCP or UDP packet to a virtual address this director
//! holds is forwarded to a real server in the kernel:
//!
//! 1. An established flow finds its entry in `lb_conns` (LRU) and goes to the destination it
//!    was given, as long as that destination is still in its service (weight 0 included:
//!    `inhibit_on_failure` keeps flows, as IPVS does). A removed destination's flows are
//!    scheduled again.
//! 2. A new flow finds its service by address, port and protocol (then port 0), sticks to its
//!    persistence template if it has one, else is scheduled (`sched.rs`), and gets an entry.
//! 3. The frame leaves by DR, TUN or NAT (`forward.rs`), with XDP_TX on the interface it came
//!    in on, or a redirect to another.
//!
//! NAT replies (from a real server back to a client) are found by their reverse entry and
//! rewritten back. Anything else passes to the stack untouched: other traffic, a virtual
//! address not held now, a port without a service. Userspace fills the maps and reads the
//! counters (README, "LVS").
#![no_std]
#![no_main]
// atomic-cas is off for bpfel, which hides AtomicU64::fetch_add; BPF's atomic add is there.
#![feature(core_intrinsics)]
#![allow(internal_features)]

mod csum;
mod forward;
mod packet;
mod sched;

use core::intrinsics::{AtomicOrdering, atomic_xadd};

use aya_ebpf::{
    bindings::xdp_action,
    btf_maps::{Array, HashMap, LruHashMap, PerCpuArray},
    helpers::generated::bpf_ktime_get_coarse_ns,
    macros::{btf_map, xdp},
    programs::XdpContext,
};
use vrrp_common::{
    CONN_CLOSING, CONN_ESTABLISHED, CONN_SYN, CONN_UDP, DEST_LIVE, DIR_IN, DIR_REPLY, LB_CONN_FULL,
    LB_MAX_CONNS, LB_MAX_DESTS, LB_MAX_PERSIST, LB_MAX_SERVICES, LB_MAX_VIPS, LB_MIDSTREAM,
    LB_NO_DEST, LB_NO_SERVICE, LB_NOT_HELD, LB_PROTO_TCP, LB_SETTING_NAT, LB_SLOTS, LB_UNPARSED,
    LbConn, LbConnKey, LbDest, LbDestConns, LbGlobalStats, LbPersist, LbPersistKey, LbService,
    LbServiceKey, LbSettings, LbStats, LbVip, LbVipKey, SVC_ONE_PACKET, SVC_PERSISTENT, VIP_HELD,
    VIP_WILDCARD_TCP, VIP_WILDCARD_UDP,
};

use crate::packet::{Flow, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN};

/// `BPF_F_MMAPABLE`: the daemon maps the connection counts and updates them atomically too.
const BPF_F_MMAPABLE: usize = 1 << 10;
const BPF_ANY: u64 = 0;

#[btf_map(name = "lb_vips")]
static VIPS: HashMap<LbVipKey, LbVip, { LB_MAX_VIPS as usize }> = HashMap::new();

#[btf_map(name = "lb_services")]
static SERVICES: HashMap<LbServiceKey, LbService, { LB_MAX_SERVICES as usize }> = HashMap::new();

#[btf_map(name = "lb_slots")]
static SLOTS: Array<u32, { LB_SLOTS as usize }> = Array::new();

#[btf_map(name = "lb_dests")]
static DESTS: Array<LbDest, { LB_MAX_DESTS as usize }> = Array::new();

#[btf_map(name = "lb_dest_conns")]
static DEST_CONNS: Array<LbDestConns, { LB_MAX_DESTS as usize }, BPF_F_MMAPABLE> = Array::new();

#[btf_map(name = "lb_conns")]
static CONNS: LruHashMap<LbConnKey, LbConn, { LB_MAX_CONNS as usize }> = LruHashMap::new();

#[btf_map(name = "lb_persist")]
static PERSIST: LruHashMap<LbPersistKey, LbPersist, { LB_MAX_PERSIST as usize }> =
    LruHashMap::new();

#[btf_map(name = "lb_dest_stats")]
static DEST_STATS: PerCpuArray<LbStats, { LB_MAX_DESTS as usize }> = PerCpuArray::new();

#[btf_map(name = "lb_svc_stats")]
static SVC_STATS: PerCpuArray<LbStats, { LB_MAX_SERVICES as usize }> = PerCpuArray::new();

#[btf_map(name = "lb_cursors")]
static CURSORS: PerCpuArray<u32, { LB_MAX_SERVICES as usize }> = PerCpuArray::new();

#[btf_map(name = "lb_global")]
static GLOBAL: PerCpuArray<LbGlobalStats, 1> = PerCpuArray::new();

#[btf_map(name = "lb_work")]
static WORK: PerCpuArray<Work, 1> = PerCpuArray::new();

/// Where a new connection's entry is put together: a per-CPU slot instead of stack (the
/// program has 512 bytes for everything live at once).
#[btf_map(name = "lb_scratch")]
static SCRATCH: PerCpuArray<LbConn, 2> = PerCpuArray::new();

/// Set at load time ([`vrrp_common::LB_SETTINGS_GLOBAL`]); read-only, so the verifier drops
/// the branches it rules out.
#[unsafe(no_mangle)]
static LB_SETTINGS: LbSettings = LbSettings { flags: 0, _pad: 0 };

#[xdp]
pub fn xvrrpd_lb(ctx: XdpContext) -> u32 {
    try_lb(&ctx).unwrap_or(xdp_action::XDP_PASS)
}

#[inline(always)]
fn settings() -> u32 {
    unsafe { core::ptr::read_volatile(&LB_SETTINGS.flags) }
}

#[inline(always)]
fn try_lb(ctx: &XdpContext) -> Option<u32> {
    let work = unsafe { &mut *WORK.get_ptr_mut(0)? };
    packet::parse(ctx, &mut work.flow)?;
    let flow = &work.flow;
    work.vip.addr = flow.dst;
    work.vip.family = flow.family;
    let Some(vip) = VIPS.get_ptr(&work.vip) else {
        if settings() & LB_SETTING_NAT != 0 && flow.fragment == 0 {
            return Some(forward::nat_reply(ctx, flow));
        }
        return None;
    };
    let vip_flags = unsafe { (*vip).flags };
    if vip_flags & VIP_HELD == 0 {
        count(LB_NOT_HELD);
        return None;
    }
    if flow.fragment != 0 {
        count(LB_UNPARSED);
        return None;
    }
    inbound(ctx, work, vip_flags)
}

/// Per-CPU working memory of one packet (the stack is too small to hold it all).
#[repr(C)]
pub struct Work {
    flow: Flow,
    key: LbConnKey,
    vip: LbVipKey,
    extra: NewFlow,
}

/// A packet from a client to a held virtual address.
#[inline(always)]
fn inbound(ctx: &XdpContext, work: &mut Work, vip_flags: u32) -> Option<u32> {
    let flow = &work.flow;
    work.key = conn_key(flow, DIR_IN);
    let key = &work.key;
    let now = unsafe { bpf_ktime_get_coarse_ns() };
    let extra = &mut work.extra;
    extra.now = now;
    extra.vip_flags = vip_flags;
    extra.stale = 0;
    if let Some(conn) = CONNS.get_ptr_mut(key) {
        let conn = unsafe { &mut *conn };
        if let Some(dest) = live_dest(conn.dest, conn.generation) {
            conn.last_seen_ns = now;
            let state = next_state(conn.state, flow);
            if state != conn.state {
                move_count(conn.dest, conn.state, state);
                conn.state = state;
            }
            if conn.persist_touch_ns != 0 && now - conn.persist_touch_ns > 1_000_000_000 {
                touch_template(conn, now);
            }
            add_stats(conn.dest, conn.svc, flow.ip_len, false);
            return Some(forward::send(
                ctx,
                flow,
                conn.dest,
                dest,
                forward::NO_NEW_CONN,
            ));
        }
        // Its destination left the service: the flow is scheduled again.
        extra.stale = 1;
        extra.stale_dest = conn.dest;
        extra.stale_generation = conn.generation;
        extra.stale_state = conn.state as u32;
    }
    let id = new_flow(flow, key, extra);
    if id == PASS {
        return None;
    }
    let dest = DESTS.get_ptr(id)?;
    Some(forward::send(ctx, flow, id, dest, extra.new_conn))
}

/// [`new_flow`]'s answer when the packet passes to the stack.
const PASS: u32 = u32::MAX;

/// What a new flow carries from the lookup (BPF functions take at most five arguments).
#[repr(C)]
struct NewFlow {
    now: u64,
    vip_flags: u32,
    /// 1: the flow had an entry whose destination left (`stale_*`).
    stale: u32,
    stale_dest: u32,
    stale_generation: u32,
    stale_state: u32,
    /// Set by [`new_flow`]: the service of the connection it recorded, or
    /// [`forward::NO_NEW_CONN`].
    new_conn: u32,
}

/// A flow without a usable entry: find its service, choose its destination, record it;
/// returns the destination id, or [`PASS`]. Not inlined: its stack is its own, not added to
/// the established path's (the verifier allows 512 bytes along any chain of calls).
#[inline(never)]
fn new_flow(flow: &Flow, key: &LbConnKey, extra: &mut NewFlow) -> u32 {
    extra.new_conn = forward::NO_NEW_CONN;
    schedule_new(flow, key, extra).unwrap_or(PASS)
}

#[inline(always)]
fn schedule_new(flow: &Flow, key: &LbConnKey, extra: &mut NewFlow) -> Option<u32> {
    let now = extra.now;
    // An RST for a flow we do not know goes to the stack, which drops it.
    if flow.proto == LB_PROTO_TCP && flow.tcp_flags & TCP_RST != 0 {
        return None;
    }
    let service = unsafe { &*service(flow, extra.vip_flags)? };
    if flow.proto == LB_PROTO_TCP && flow.tcp_flags & TCP_SYN == 0 {
        count(LB_MIDSTREAM);
    }
    let Some((dest_id, dest)) = sched::choose(service, flow, now) else {
        count(LB_NO_DEST);
        return None;
    };
    let dest = unsafe { &*dest };
    let one_packet = service.flags & SVC_ONE_PACKET != 0;
    if !one_packet {
        let conn = unsafe { &mut *SCRATCH.get_ptr_mut(0)? };
        let state = next_state(0, flow);
        conn.dest = dest_id;
        conn.generation = dest.generation;
        conn.svc = service.id;
        conn.state = state;
        conn.family = flow.family;
        conn.last_seen_ns = now;
        conn.persist_touch_ns = if service.flags & SVC_PERSISTENT != 0 {
            now
        } else {
            0
        };
        conn.addr = sched::template_client(service, flow);
        conn.port = 0;
        conn.client_mac = [0; 6];
        conn.local_mac = [0; 6];
        conn.client_ifindex = 0;
        if CONNS.insert(key, &*conn, BPF_ANY).is_err() {
            count(LB_CONN_FULL);
        } else {
            add_count(dest_id, state, 1);
            // The entry replaced counted for the destination that left, if that one has not
            // been given to another server since.
            if extra.stale != 0
                && let Some(d) = DESTS.get_ptr(extra.stale_dest)
                && unsafe { (*d).generation } == extra.stale_generation
            {
                add_count(extra.stale_dest, extra.stale_state as u8, -1);
            }
        }
    }
    add_stats(dest_id, service.id, flow.ip_len, true);
    if !one_packet {
        extra.new_conn = service.id;
    }
    Some(dest_id)
}

/// The service of a new flow: by address, port and protocol, then the address's every-port
/// service.
#[inline(always)]
fn service(flow: &Flow, vip_flags: u32) -> Option<*const LbService> {
    let mut key = LbServiceKey {
        addr: flow.dst,
        port: flow.dport,
        proto: flow.proto,
        family: flow.family,
    };
    if let Some(service) = SERVICES.get_ptr(&key) {
        return Some(service);
    }
    let wildcard = if flow.proto == LB_PROTO_TCP {
        VIP_WILDCARD_TCP
    } else {
        VIP_WILDCARD_UDP
    };
    if vip_flags & wildcard != 0 {
        key.port = 0;
        if let Some(service) = SERVICES.get_ptr(&key) {
            return Some(service);
        }
    }
    count(LB_NO_SERVICE);
    None
}

#[inline(always)]
pub fn conn_key(flow: &Flow, dir: u8) -> LbConnKey {
    LbConnKey {
        src: flow.src,
        dst: flow.dst,
        sport: flow.sport,
        dport: flow.dport,
        proto: flow.proto,
        family: flow.family,
        dir,
        _pad: 0,
    }
}

/// The destination `id` if it still is the one of generation `generation_` and in its service.
#[inline(always)]
pub fn live_dest(id: u32, generation_: u32) -> Option<*const LbDest> {
    let dest = DESTS.get_ptr(id)?;
    let d = unsafe { &*dest };
    (d.generation == generation_ && d.flags & DEST_LIVE != 0).then_some(dest)
}

pub fn dest(id: u32) -> Option<*const LbDest> {
    DESTS.get_ptr(id)
}

pub fn slot(index: u32) -> Option<u32> {
    SLOTS.get(index).copied()
}

pub fn dest_conns(id: u32) -> Option<*const LbDestConns> {
    DEST_CONNS.get_ptr(id)
}

pub fn cursor(svc: u32) -> Option<*mut u32> {
    CURSORS.get_ptr_mut(svc)
}

pub fn template(key: &LbPersistKey) -> Option<*mut LbPersist> {
    PERSIST.get_ptr_mut(key)
}

pub fn set_template(key: &LbPersistKey, value: &LbPersist) {
    let _ = PERSIST.insert(key, value, BPF_ANY);
}

/// Keeps a persistence template alive while a connection it placed is in use (IPVS does not
/// expire a template that still controls connections).
#[inline(always)]
fn touch_template(conn: &mut LbConn, now: u64) {
    conn.persist_touch_ns = now;
    let key = LbPersistKey {
        svc: conn.svc,
        family: conn.family,
        _pad: [0; 3],
        client: conn.addr,
    };
    if let Some(template) = PERSIST.get_ptr_mut(&key) {
        let template = unsafe { &mut *template };
        if template.dest == conn.dest {
            template.last_used_ns = now;
        }
    }
}

/// The state after this packet, from what the client's side shows.
#[inline(always)]
fn next_state(state: u8, flow: &Flow) -> u8 {
    if flow.proto != LB_PROTO_TCP {
        return CONN_UDP;
    }
    let flags = flow.tcp_flags;
    if flags & (TCP_FIN | TCP_RST) != 0 {
        CONN_CLOSING
    } else if flags & TCP_SYN != 0 {
        CONN_SYN
    } else if flags & TCP_ACK != 0 && state != CONN_CLOSING {
        CONN_ESTABLISHED
    } else if state == 0 {
        CONN_SYN
    } else {
        state
    }
}

/// Adds `delta` (1 or -1) to the destination's active or inactive count.
#[inline(always)]
pub fn add_count(dest: u32, state: u8, delta: i64) {
    let Some(conns) = DEST_CONNS.get_ptr_mut(dest) else {
        return;
    };
    let counter = if state == CONN_ESTABLISHED {
        unsafe { &raw mut (*conns).active }
    } else {
        unsafe { &raw mut (*conns).inactive }
    };
    // SAFETY: an aligned u64 inside a map value; the program and the daemon only ever change
    // it atomically (BPF_ATOMIC add; the old value is not used, so no fetch is needed).
    unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(counter, delta as u64) };
}

#[inline(always)]
fn move_count(dest: u32, from: u8, to: u8) {
    if (from == CONN_ESTABLISHED) != (to == CONN_ESTABLISHED) {
        add_count(dest, from, -1);
        add_count(dest, to, 1);
    }
}

#[inline(always)]
pub fn add_stats(dest: u32, svc: u32, bytes: u32, new_conn: bool) {
    if let Some(stats) = DEST_STATS.get_ptr_mut(dest) {
        let stats = unsafe { &mut *stats };
        stats.in_pkts += 1;
        stats.in_bytes += bytes as u64;
        if new_conn {
            stats.conns += 1;
        }
    }
    if let Some(stats) = SVC_STATS.get_ptr_mut(svc) {
        let stats = unsafe { &mut *stats };
        stats.in_pkts += 1;
        stats.in_bytes += bytes as u64;
        if new_conn {
            stats.conns += 1;
        }
    }
}

#[inline(always)]
pub fn add_out_stats(dest: u32, svc: u32, bytes: u32) {
    if let Some(stats) = DEST_STATS.get_ptr_mut(dest) {
        let stats = unsafe { &mut *stats };
        stats.out_pkts += 1;
        stats.out_bytes += bytes as u64;
    }
    if let Some(stats) = SVC_STATS.get_ptr_mut(svc) {
        let stats = unsafe { &mut *stats };
        stats.out_pkts += 1;
        stats.out_bytes += bytes as u64;
    }
}

#[inline(always)]
pub fn count(kind: usize) {
    if let Some(stats) = GLOBAL.get_ptr_mut(0) {
        unsafe { (*stats).count(kind) };
    }
}

pub fn scratch(index: u32) -> Option<*mut LbConn> {
    SCRATCH.get_ptr_mut(index)
}

pub fn conns() -> &'static LruHashMap<LbConnKey, LbConn, { LB_MAX_CONNS as usize }> {
    &CONNS
}

pub const REPLY: u8 = DIR_REPLY;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
