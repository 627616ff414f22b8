//! What the program writes: the state of each instance as heard on the wire (`vrrp_state`) and
//! the events that tell userspace about changes (`vrrp_events`).

/// The kernel's `struct bpf_spin_lock`. The BTF name must be exactly this for the verifier to
/// accept `bpf_spin_lock()` on the field; userspace reads the map with `BPF_F_LOCK` so it never
/// sees a half-written entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct bpf_spin_lock {
    pub val: u32,
}

/// [`InstanceState::flags`]: two or more sources keep taking turns as master (see
/// [`CONTENTION_FLIPS`]); new-master and priority events are coalesced while it lasts.
pub const STATE_CONTENDED: u8 = 1 << 0;
/// [`InstanceState::flags`]: a unicast peer was heard with the pre-1.3.6 checksum
/// (keepalived's `CHKSUM_COMPATIBILITY_AUTO`): send that way too, and only that form is
/// accepted from now on.
pub const STATE_OLD_UNICAST_CHECKSUM: u8 = 1 << 1;

/// What the XDP program heard for one instance. Written only by the program, every update
/// under `lock`; `seq` grows with every change worth an event.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstanceState {
    pub lock: bpf_spin_lock,
    /// `STATE_*` bits.
    pub flags: u8,
    /// The current master: the source of the last valid advert, with what it said.
    pub master_priority: u8,
    pub master_version: u8,
    pub master_addr_count: u8,
    /// Incremented on every recorded change (each change that makes an event, sent or not).
    pub seq: u64,
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) of the last valid advert; 0 = never.
    pub last_seen_ns: u64,
    /// The last advert the engine would take as "master alive" under the policy: priority
    /// not 0 and at least ours, or `POLICY_ACCEPT_LOWER`, or no policy, or INIT.
    pub last_alive_ns: u64,
    pub last_priority_zero_ns: u64,
    /// When the current master's first advert arrived (it became the current master).
    pub master_since_ns: u64,
    /// Adverts from the current master since `master_since_ns`.
    pub master_adverts: u64,
    /// Rate limit (GCRA): the theoretical arrival time of the next event.
    pub event_tat_ns: u64,
    pub last_event_ns: u64,
    pub last_priority_zero_event_ns: u64,
    pub master_addr: [u8; 16],
    pub alive_addr: [u8; 16],
    /// keepalived's `master_saddr`: the last source accepted (or discarded as lower) while in
    /// BACKUP, for `skip_check_adv_addr`.
    pub skip_check_src: [u8; 16],
    pub master_interval_cs: u16,
    pub alive_interval_cs: u16,
    pub alive_priority: u8,
    pub _pad: [u8; 3],
    /// `EVENT_*` kinds held back by the rate limit or a full ring, sent with the next event.
    pub pending_kinds: u32,
    /// Events held back by the rate limit, ever.
    pub suppressed: u32,
    /// Quick source changes in a row; [`CONTENTION_FLIPS`] of them make the instance contended.
    pub flips: u32,
    /// Source changes coalesced while contended, ever.
    pub contended_changes: u32,
}
const _: () = assert!(core::mem::size_of::<InstanceState>() == 8 + 8 * 9 + 48 + 8 + 16);

/// [`VrrpEvent::kinds`] bits. One event may carry several.
pub const EVENT_NEW_MASTER: u32 = 1 << 0;
pub const EVENT_PRIORITY_CHANGE: u32 = 1 << 1;
/// The master is leaving (RFC 5798 section 6.4.2); never dropped, see the README.
pub const EVENT_PRIORITY_ZERO: u32 = 1 << 2;
pub const EVENT_INTERVAL_CHANGE: u32 = 1 << 3;
/// First advert ever, or the first after more than [`SILENCE_ADVERTS`] intervals of silence.
pub const EVENT_AFTER_SILENCE: u32 = 1 << 4;
/// The instance became contended ([`STATE_CONTENDED`]).
pub const EVENT_CONTENDED: u32 = 1 << 5;
/// Contention is over: one source for [`SILENCE_ADVERTS`] intervals; it is the master.
pub const EVENT_CONTENTION_OVER: u32 = 1 << 6;
/// In MASTER: an advert that wins against ours (higher priority, or equal with a higher
/// address): we must step down (RFC 5798 section 6.4.3).
pub const EVENT_HIGHER: u32 = 1 << 7;
/// In MASTER: an advert that loses against ours; keepalived answers with an advert.
pub const EVENT_LOWER: u32 = 1 << 8;
/// [`STATE_OLD_UNICAST_CHECKSUM`] was just set.
pub const EVENT_OLD_CHECKSUM: u32 = 1 << 9;
/// This advert armed the instance's master-down timer, which was not running: from now on the
/// kernel watches the master (until the timer fires or the policy's generation changes).
pub const EVENT_TIMER_ARMED: u32 = 1 << 10;
/// The master-down timer fired: no advert that keeps the master alive for
/// Master_Down_Interval (Skew_Time after priority 0). Sent by the timer callback with
/// `BPF_RB_FORCE_WAKEUP`; `timestamp_ns` is when it fired, `seq` is 0 (it changes no state
/// the adverts' order is about), `advert_interval_cs` the interval the timer ran with.
pub const EVENT_MASTER_DOWN: u32 = 1 << 11;

/// Kinds that describe the master, coalesced while contended.
pub const EVENT_MASTER_KINDS: u32 =
    EVENT_NEW_MASTER | EVENT_PRIORITY_CHANGE | EVENT_INTERVAL_CHANGE;

/// A gap longer than this many advertised intervals counts as silence. Three is the number of
/// missed adverts after which a backup declares the master down (RFC 5798 section 6.1).
pub const SILENCE_ADVERTS: u64 = 3;
/// Source changes in a row, each within [`SILENCE_ADVERTS`] intervals of the previous one,
/// that make an instance contended. A preemption shows at most three (old, new, one advert
/// of the old still in flight, new).
pub const CONTENTION_FLIPS: u32 = 4;
/// Floor of the interval used for silence and contention, so that a crafted interval of 0
/// cannot make every advert "after silence".
pub const MIN_INTERVAL_NS: u64 = 10_000_000;
/// Rate limit per instance: one event per this on average ...
pub const EVENT_SPACING_NS: u64 = 10_000_000;
/// ... with bursts of up to this many.
pub const EVENT_BURST: u64 = 8;

/// A change userspace must act on, sent through the ring buffer. Steady state sends none.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VrrpEvent {
    pub key: crate::InstanceKey,
    /// [`InstanceState::seq`] after the change: order events by it, ignore older ones.
    pub seq: u64,
    pub timestamp_ns: u64,
    /// `EVENT_*` bits, including kinds held back since the previous event.
    pub kinds: u32,
    /// [`InstanceState::suppressed`] at the time.
    pub suppressed: u32,
    /// The advert that made the event.
    pub master_addr: [u8; 16],
    pub priority: u8,
    pub previous_priority: u8,
    pub version: u8,
    pub addr_count: u8,
    pub advert_interval_cs: u16,
    /// The `POLICY_*` state the program saw (`POLICY_INIT` without a policy).
    pub policy_state: u8,
    /// [`InstanceState::flags`] after the change.
    pub state_flags: u8,
    /// [`InstanceState::contended_changes`] after the change.
    pub contended_changes: u32,
    /// The [`crate::ReceivePolicy::generation`] the program saw (the one a master-down timer
    /// was armed or fired under).
    pub policy_generation: u32,
}
const _: () = assert!(core::mem::size_of::<VrrpEvent>() == 24 + 16 + 8 + 16 + 8 + 8);

/// The kernel's `struct bpf_timer`: opaque, 16 bytes, 8-aligned. The BTF name must be exactly
/// this for the verifier to find the timer in a map value.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct bpf_timer {
    pub opaque: [u64; 2],
}

/// [`MasterDownTimer::flags`]: the timer is running (armed by an advert, not fired or
/// cancelled since).
pub const TIMER_ARMED: u8 = 1 << 0;
/// [`MasterDownTimer::flags`]: `bpf_timer_init` and `bpf_timer_set_callback` are done
/// (cleared by a cancel, which drops the callback).
pub const TIMER_INITIALISED: u8 = 1 << 1;
/// [`MasterDownTimer::flags`]: the last firing could not write its event (ring full) and is
/// retried [`TIMER_RETRY_NS`] later.
pub const TIMER_RETRYING: u8 = 1 << 2;
/// How soon a firing whose event found the ring full tries again.
pub const TIMER_RETRY_NS: u64 = 1_000_000;

/// One backup's master-down timer (`vrrp_timers`), owned by the program: userspace never writes
/// an entry (a write would cancel the timer), it only reads it or deletes it with its instance.
/// Every field but `timer` is written under `lock`; the timer helpers run after unlocking.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MasterDownTimer {
    pub timer: bpf_timer,
    pub lock: bpf_spin_lock,
    /// `TIMER_*` bits.
    pub flags: u8,
    /// The local priority the running timer was computed with (a policy change shifts it).
    pub priority: u8,
    /// Master_Adver_Interval the timer uses (v3: the last accepted advert's), centiseconds.
    pub interval_cs: u16,
    /// The [`crate::ReceivePolicy::generation`] of the backup period the timer belongs to.
    pub generation: u32,
    pub _pad: u32,
    /// When the running timer expires (CLOCK_MONOTONIC ns; absolute).
    pub expires_ns: u64,
    /// keepalived's `ms_down_timer`: the length the timer was last set to (a lower advert
    /// ignored under preemption leaves the deadline and sets this to the time remaining).
    pub down_ns: u64,
    /// When it was last armed by an advert.
    pub armed_ns: u64,
    /// When it last fired.
    pub fired_ns: u64,
    /// Adverts that armed or re-armed it, ever.
    pub arms: u64,
    /// Times it fired, ever.
    pub fires: u32,
    /// Priority changes that moved a running timer, ever.
    pub shifts: u32,
}
const _: () = assert!(core::mem::size_of::<MasterDownTimer>() == 16 + 16 + 8 * 5 + 8);
