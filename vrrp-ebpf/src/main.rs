//! The XDP receive path of xvrrpd.
//!
//! Every frame is looked at just long enough to tell whether it is VRRP (IP protocol 112); other
//! traffic passes after a handful of instructions. VLAN-tagged frames pass untouched: they
//! belong to the VLAN device, which has its own attachment. VRRP is checked the way the kernel
//! checks IP (`ip.rs`) and then the way keepalived checks adverts (`validate.rs`), against the
//! instance configuration userspace put in the maps. What fails is dropped and counted, so a
//! flood never wakes userspace; valid adverts update `vrrp_state` under its lock and pass on to
//! the stack; only changes userspace must act on go out through `vrrp_events`, rate-limited per
//! instance (`record.rs`). A backup's master-down timer lives here too (`timers.rs`): every
//! advert that keeps the master alive re-arms it, and only its expiry wakes the daemon.
#![no_std]
#![no_main]

mod checksum;
mod headers;
mod ip;
mod record;
mod timers;
mod validate;
mod vips;

use aya_ebpf::{
    bindings::{BPF_NOEXIST, xdp_action},
    btf_maps::{HashMap, PerCpuArray, PerCpuHashMap, ProgramArray, RingBuf},
    macros::{btf_map, xdp},
    programs::XdpContext,
};
use vrrp_common::{
    GlobalStats, IfaceConfig, IfaceDrops, InstanceConfig, InstanceKey, InstanceState,
    MasterDownTimer, ReceivePolicy, RxCounters, RxKey, TIMER_SYNC_IDLE, TimerSync, VipEntry,
    VipKey, VrrpEvent,
    proto::{ETH_HEADER_LEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6},
};

use crate::headers::{EthHeader, be16, header_at};

/// How adverts for each instance are checked (written by userspace).
#[btf_map(name = "vrrp_config")]
static CONFIG: HashMap<RxKey, InstanceConfig, 4096> = HashMap::new();

/// Each instance's virtual addresses (written by userspace).
#[btf_map(name = "vrrp_vips")]
static VIPS: HashMap<VipKey, VipEntry, 16384> = HashMap::new();

/// The engine's state and priority per instance (written by userspace).
#[btf_map(name = "vrrp_policy")]
static POLICY: HashMap<InstanceKey, ReceivePolicy, 4096> = HashMap::new();

/// What was heard per instance; written only here, under the entry's spin lock.
#[btf_map(name = "vrrp_state")]
static STATE: HashMap<InstanceKey, InstanceState, 8192> = HashMap::new();

/// keepalived's receive counters per instance, per CPU so every increment is exact.
#[btf_map(name = "vrrp_counters")]
static COUNTERS: PerCpuHashMap<InstanceKey, RxCounters, 8192> = PerCpuHashMap::new();

/// Drops before an instance is found, per interface index and CPU.
#[btf_map(name = "vrrp_if_drops")]
static IFACE_DROPS: PerCpuHashMap<u32, IfaceDrops, 1024> = PerCpuHashMap::new();

/// Interface MAC and flags (written by userspace).
#[btf_map(name = "vrrp_ifaces")]
static IFACES: HashMap<u32, IfaceConfig, 1024> = HashMap::new();

/// Program-wide counters (ring full, events suppressed), per CPU.
#[btf_map(name = "vrrp_global")]
static GLOBAL: PerCpuArray<GlobalStats, 1> = PerCpuArray::new();

/// Where an event is put together before it goes to the ring: a per-CPU slot instead of stack.
#[btf_map(name = "vrrp_scratch")]
static EVENT_SCRATCH: PerCpuArray<VrrpEvent, 1> = PerCpuArray::new();

/// The address-list scan's working state, per CPU (see `vips.rs`).
#[btf_map(name = "vrrp_vip_work")]
static VIP_WORK: PerCpuArray<vips::VipWork, 1> = PerCpuArray::new();

/// Changes userspace must act on. 256 KiB holds about 2,900 events (80 bytes + 8 of header).
#[btf_map(name = "vrrp_events")]
static EVENTS: RingBuf<VrrpEvent, { 256 * 1024 }> = RingBuf::new();

/// Each backup's master-down timer; written only here (a userspace write would cancel it).
#[btf_map(name = "vrrp_timers")]
static TIMERS: HashMap<InstanceKey, MasterDownTimer, 4096> = HashMap::new();

/// Which unicast instance sharing interface, VRID and local address a peer's adverts are for
/// (written by userspace; see `map_names::SLOTS`).
#[btf_map(name = "vrrp_slots")]
static SLOTS: HashMap<RxKey, u8, 4096> = HashMap::new();

/// Set to [`vrrp_common::KERNEL_TIMERS`] at load time to run master-down timers. Otherwise the
/// timer code is unreachable and the verifier never looks at it (the daemon's fallback).
#[unsafe(no_mangle)]
static KERNEL_TIMERS: u8 = 0;
/// Where frames that are not VRRP go next: the load balancer (`xvrrpd_lb`, a program of its
/// own object) when the daemon runs `virtual_server`s; an empty slot passes them to the stack.
#[btf_map(name = "vrrp_next")]
static NEXT: ProgramArray<1> = ProgramArray::new();

/// Set to [`vrrp_common::OBSERVE_ALL`] at load time by `xvrrpd monitor`: record every VRID on
/// every interface with default checks and drop nothing. A read-only global, so the verifier
/// removes the branch that is not taken.
#[unsafe(no_mangle)]
static OBSERVE_ALL: u8 = 0;

#[xdp]
pub fn vrrp_rx(ctx: XdpContext) -> u32 {
    match try_vrrp_rx(&ctx) {
        Some(verdict) => verdict,
        None => next_program(ctx.ctx),
    }
}

/// Not VRRP: on to the load balancer if one is chained (a tail call does not return when it
/// succeeds), else to the stack.
#[inline(always)]
fn next_program(ctx: *mut aya_ebpf::bindings::xdp_md) -> u32 {
    // The map's own pointer is crate-private in aya-ebpf: the static's address is the map.
    let map = (&raw const NEXT).cast_mut().cast();
    unsafe {
        aya_ebpf::helpers::bpf_tail_call(ctx.cast(), map, vrrp_common::NEXT_PROGRAM_SLOT);
    }
    xdp_action::XDP_PASS
}

/// Never attached: the daemon runs it with BPF_PROG_TEST_RUN on a [`TimerSync`] right after
/// it wrote an instance's policy (see `timers::sync`).
#[xdp]
pub fn vrrp_timer_sync(ctx: XdpContext) -> u32 {
    if !kernel_timers() {
        return TIMER_SYNC_IDLE;
    }
    match header_at::<TimerSync>(&ctx, 0) {
        Some(command) => timers::sync(unsafe { &(*command).key }),
        None => TIMER_SYNC_IDLE,
    }
}

#[inline(always)]
fn try_vrrp_rx(ctx: &XdpContext) -> Option<u32> {
    let eth = unsafe { &*header_at::<EthHeader>(ctx, 0)? };
    // A VLAN tag (802.1Q/802.1ad) means another link: its VLAN device sees the frame after the
    // stack untags it (and runs its own attachment), so the ethertype test below passes it.
    let ip = match be16(eth.ethertype) {
        ETHERTYPE_IPV4 => ip::ipv4(ctx, ETH_HEADER_LEN)?,
        ETHERTYPE_IPV6 => ip::ipv6(ctx, ETH_HEADER_LEN)?,
        _ => return None,
    };
    let ifindex = ctx.ingress_ifindex() as u32;
    let iface = IFACES.get_ptr(ifindex).map(|iface| unsafe { *iface });
    // The kernel drops frames to another host's MAC (PACKET_OTHERHOST) before IP sees them.
    if let Some(iface) = &iface
        && !observe_all()
        && iface.flags & vrrp_common::IFACE_OTHER_HOST_PASS == 0
        && eth.dst[0] & 1 == 0
        && !same_mac(&eth.dst, &iface.mac)
    {
        return Some(drop_before_instance(ifindex, vrrp_common::DROP_OTHER_HOST));
    }
    Some(match ip::check(ctx, ifindex, ip) {
        Ok(ip) => validate::advert(ctx, ifindex, iface.as_ref(), &ip),
        Err(verdict) => verdict,
    })
}

#[inline(always)]
fn same_mac(a: &[u8; 6], b: &[u8; 6]) -> bool {
    let word = |m: &[u8; 6]| u32::from_ne_bytes([m[0], m[1], m[2], m[3]]);
    let half = |m: &[u8; 6]| u16::from_ne_bytes([m[4], m[5]]);
    word(a) == word(b) && half(a) == half(b)
}

pub fn observe_all() -> bool {
    let observe = unsafe { core::ptr::read_volatile(&OBSERVE_ALL) };
    observe == vrrp_common::OBSERVE_ALL
}

pub fn kernel_timers() -> bool {
    let enabled = unsafe { core::ptr::read_volatile(&KERNEL_TIMERS) };
    enabled == vrrp_common::KERNEL_TIMERS
}

/// `XDP_DROP`, or `XDP_PASS` in observe mode, which drops nothing at all.
#[inline(always)]
pub fn drop_verdict() -> u32 {
    if observe_all() {
        xdp_action::XDP_PASS
    } else {
        xdp_action::XDP_DROP
    }
}

/// Counts a frame against its interface and drops it (passes it in observe mode).
#[inline(always)]
pub fn drop_before_instance(ifindex: u32, kind: usize) -> u32 {
    count_iface(ifindex, kind);
    drop_verdict()
}

/// Zeroed values that new entries start from: read-only globals, so that creating an entry
/// costs no stack (the program has 512 bytes for everything).
static ZERO_DROPS: IfaceDrops = zeroed_drops();
static ZERO_COUNTERS: RxCounters = zeroed_counters();
static ZERO_STATE: InstanceState = zeroed_state();

const fn zeroed_drops() -> IfaceDrops {
    // SAFETY: plain integers; all zeros is a valid value.
    unsafe { core::mem::zeroed() }
}

const fn zeroed_counters() -> RxCounters {
    // SAFETY: plain integers; all zeros is a valid value.
    unsafe { core::mem::zeroed() }
}

const fn zeroed_state() -> InstanceState {
    // SAFETY: plain integers (and an unlocked spin lock); all zeros is a valid value.
    unsafe { core::mem::zeroed() }
}

#[inline(always)]
pub fn count_iface(ifindex: u32, kind: usize) {
    // A new per-CPU entry is zero on every CPU. If another CPU creates it first, this insert
    // fails and the lookup finds that one: no increment is lost.
    if IFACE_DROPS.get_ptr_mut(ifindex).is_none() {
        let _ = IFACE_DROPS.insert(ifindex, &ZERO_DROPS, BPF_NOEXIST as u64);
    }
    match IFACE_DROPS.get_ptr_mut(ifindex) {
        Some(drops) => unsafe { (*drops).count(kind) },
        None => count_global(vrrp_common::GLOBAL_MAP_FULL),
    }
}

/// Adds one to an instance's counter (see [`count_iface`] for the creation race).
#[inline(always)]
pub fn count_instance(key: &InstanceKey, kind: usize) {
    if COUNTERS.get_ptr_mut(key).is_none() {
        let _ = COUNTERS.insert(key, &ZERO_COUNTERS, BPF_NOEXIST as u64);
    }
    match COUNTERS.get_ptr_mut(key) {
        Some(counters) => unsafe { (*counters).count(kind) },
        None => count_global(vrrp_common::GLOBAL_MAP_FULL),
    }
}

#[inline(always)]
pub fn count_global(kind: usize) {
    if let Some(stats) = GLOBAL.get_ptr_mut(0) {
        unsafe { (*stats).count(kind) };
    }
}

pub fn config(key: &RxKey) -> Option<InstanceConfig> {
    CONFIG.get_ptr(key).map(|config| unsafe { *config })
}

/// The slot of the instance an advert from `key.src` is for (0 when the peer has none).
pub fn slot(key: &RxKey) -> u8 {
    SLOTS.get_ptr(key).map_or(0, |slot| unsafe { *slot })
}

/// The instance's policy in place (a map value stays valid for the whole program run): no
/// copy on the program's 512 bytes of stack.
pub fn policy(key: &InstanceKey) -> Option<&'static ReceivePolicy> {
    POLICY.get_ptr(key).map(|policy| unsafe { &*policy })
}

/// The instance's state entry, created empty (never heard) on first use.
#[inline(always)]
pub fn state_entry(key: &InstanceKey) -> Option<*mut InstanceState> {
    if let Some(state) = STATE.get_ptr_mut(key) {
        return Some(state);
    }
    let _ = STATE.insert(key, &ZERO_STATE, BPF_NOEXIST as u64);
    let state = STATE.get_ptr_mut(key);
    if state.is_none() {
        count_global(vrrp_common::GLOBAL_MAP_FULL);
    }
    state
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
