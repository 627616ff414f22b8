//! Types shared by the XDP program (`vrrp-ebpf`) and the daemon (`vrrp-userspace`).
//!
//! Every map key and value is `#[repr(C)]`, made only of fixed-width integers with explicit
//! padding, and has its size asserted at compile time: both sides read the same bytes, and the
//! kernel's BTF describes them so `bpftool map dump` prints named fields. No enums: a value read
//! back from a map that is not a valid discriminant would be undefined behaviour, so kinds are
//! plain integers with named constants.
//!
//! - [`keys`]: how an advert finds its instance (keepalived's socket identity).
//! - [`config`]: what userspace writes: instance checks, receive policy, interfaces.
//! - [`state`]: what the program writes: the master heard, and the events it sends.
//! - [`counters`]: per-CPU counters, named after keepalived's stats file.
#![no_std]

pub mod config;
pub mod counters;
pub mod keys;
pub mod lb;
pub mod proto;
pub mod state;

pub use config::*;
pub use counters::*;
pub use keys::*;
pub use lb::*;
pub use state::*;

/// Map names, as the XDP program declares them and as they are pinned under the bpffs directory.
pub mod map_names {
    /// [`crate::RxKey`] -> [`crate::InstanceConfig`]: how adverts for an instance are checked.
    pub const CONFIG: &str = "vrrp_config";
    /// [`crate::VipKey`] -> [`crate::VipEntry`]: each instance's virtual addresses.
    pub const VIPS: &str = "vrrp_vips";
    /// [`crate::InstanceKey`] -> [`crate::ReceivePolicy`]: the engine's view (state, priority).
    pub const POLICY: &str = "vrrp_policy";
    /// [`crate::InstanceKey`] -> [`crate::InstanceState`]: what was heard; written by the program.
    pub const STATE: &str = "vrrp_state";
    /// [`crate::InstanceKey`] -> [`crate::RxCounters`], per CPU.
    pub const COUNTERS: &str = "vrrp_counters";
    /// Interface index (`u32`) -> [`crate::IfaceDrops`], per CPU: drops before an instance is found.
    pub const IFACE_DROPS: &str = "vrrp_if_drops";
    /// Interface index (`u32`) -> [`crate::IfaceConfig`].
    pub const IFACES: &str = "vrrp_ifaces";
    /// One [`crate::GlobalStats`] per CPU (index 0).
    pub const GLOBAL: &str = "vrrp_global";
    /// Ring buffer of [`crate::VrrpEvent`].
    pub const EVENTS: &str = "vrrp_events";
    /// [`crate::InstanceKey`] -> [`crate::MasterDownTimer`]: each backup's master-down timer;
    /// written only by the program.
    pub const TIMERS: &str = "vrrp_timers";
    /// Program array, slot [`crate::NEXT_PROGRAM_SLOT`]: where frames that are not VRRP go
    /// next (the load balancer, when `virtual_server`s run); empty, they pass to the stack.
    pub const NEXT: &str = "vrrp_next";
    /// [`crate::RxKey`] (the instance key with slot 0, a unicast peer) -> `u8` slot: which of
    /// the unicast instances sharing interface, VRID and local address an advert from that
    /// peer is for. No entry: slot 0. Written by userspace.
    pub const SLOTS: &str = "vrrp_slots";

    /// Every map the daemon pins, in a fixed order.
    pub const ALL: [&str; 12] = [
        CONFIG,
        VIPS,
        POLICY,
        STATE,
        COUNTERS,
        IFACE_DROPS,
        IFACES,
        GLOBAL,
        EVENTS,
        TIMERS,
        NEXT,
        SLOTS,
    ];
}

/// Name of the XDP program inside the object file.
pub const PROGRAM_NAME: &str = "vrrp_rx";

/// The program that keeps master-down timers in step with a new receive policy. It is never
/// attached: the daemon runs it with BPF_PROG_TEST_RUN on a [`TimerSync`] after every policy
/// write, so a priority change moves a running timer and leaving BACKUP cancels it at once.
pub const TIMER_SYNC_PROGRAM_NAME: &str = "vrrp_timer_sync";

/// Name of the read-only global that turns master-down timers on (see [`KERNEL_TIMERS`]).
pub const KERNEL_TIMERS_GLOBAL: &str = "KERNEL_TIMERS";
/// Value of [`KERNEL_TIMERS_GLOBAL`] that arms timers; any other leaves the timer code
/// unreachable (the verifier never sees it), for kernels without `bpf_timer`.
pub const KERNEL_TIMERS: u8 = 1;

/// What [`TIMER_SYNC_PROGRAM_NAME`] runs on: the instance whose policy was just written.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerSync {
    pub key: InstanceKey,
    pub _pad: [u8; 8],
}
const _: () = assert!(core::mem::size_of::<TimerSync>() == 32);

/// [`TIMER_SYNC_PROGRAM_NAME`]'s return value: the timer is running.
pub const TIMER_SYNC_ARMED: u32 = 2;
/// [`TIMER_SYNC_PROGRAM_NAME`]'s return value: no timer is running (none yet, or cancelled).
pub const TIMER_SYNC_IDLE: u32 = 1;
/// The slot of [`map_names::NEXT`] that `vrrp_rx` tail-calls for frames that are not VRRP.
pub const NEXT_PROGRAM_SLOT: u32 = 0;

/// Name of the read-only global that turns the program into a pure observer (see [`OBSERVE_ALL`]).
pub const OBSERVE_ALL_GLOBAL: &str = "OBSERVE_ALL";
/// Value of [`OBSERVE_ALL_GLOBAL`] for `xvrrpd monitor`: record every VRID, drop nothing.
pub const OBSERVE_ALL: u8 = 1;

/// Address family as stored in [`InstanceKey::family`]: the IP version number, readable in bpftool.
pub const FAMILY_IPV4: u8 = 4;
/// See [`FAMILY_IPV4`].
pub const FAMILY_IPV6: u8 = 6;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all of these are repr(C), made of integers and byte arrays with explicit padding,
    // so every bit pattern is a valid value.
    unsafe impl aya::Pod for super::InstanceKey {}
    unsafe impl aya::Pod for super::RxKey {}
    unsafe impl aya::Pod for super::VipKey {}
    unsafe impl aya::Pod for super::VipEntry {}
    unsafe impl aya::Pod for super::InstanceConfig {}
    unsafe impl aya::Pod for super::ReceivePolicy {}
    unsafe impl aya::Pod for super::IfaceConfig {}
    unsafe impl aya::Pod for super::InstanceState {}
    unsafe impl aya::Pod for super::RxCounters {}
    unsafe impl aya::Pod for super::IfaceDrops {}
    unsafe impl aya::Pod for super::GlobalStats {}
    unsafe impl aya::Pod for super::VrrpEvent {}
    unsafe impl aya::Pod for super::MasterDownTimer {}
    unsafe impl aya::Pod for super::LbVipKey {}
    unsafe impl aya::Pod for super::LbVip {}
    unsafe impl aya::Pod for super::LbServiceKey {}
    unsafe impl aya::Pod for super::LbService {}
    unsafe impl aya::Pod for super::LbDest {}
    unsafe impl aya::Pod for super::LbDestConns {}
    unsafe impl aya::Pod for super::LbConnKey {}
    unsafe impl aya::Pod for super::LbConn {}
    unsafe impl aya::Pod for super::LbPersistKey {}
    unsafe impl aya::Pod for super::LbPersist {}
    unsafe impl aya::Pod for super::LbStats {}
    unsafe impl aya::Pod for super::LbGlobalStats {}
    unsafe impl aya::Pod for super::LbSettings {}
}
