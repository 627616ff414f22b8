//! Master-down timers in the kernel (RFC 5798 section 6.4.2): each backup instance has a
//! `bpf_timer` in `vrrp_timers`, re-armed by every advert the engine would take as "master
//! alive" under the receive policy, to Master_Down_Interval computed exactly as the engine
//! computes it (Skew_Time after a priority-0 advert). When it fires, its callback writes a
//! `EVENT_MASTER_DOWN` event with `BPF_RB_FORCE_WAKEUP`: the daemon takes over at once and never
//! wakes up while the master speaks.
//!
//! The decision happens under the entry's `bpf_spin_lock` (the fields only); the timer helpers
//! run after it is released, as the verifier requires. Userspace never writes an entry (a
//! write would cancel the timer): it writes the policy and runs `vrrp_timer_sync` ([`sync`])
//! through BPF_PROG_TEST_RUN, which moves a running timer to a new priority (keepalived moves
//! the deadline by the change of Skew_Time) or cancels it when the instance leaves BACKUP.

use core::ffi::c_void;

use aya_ebpf::{
    bindings::{BPF_F_TIMER_ABS, BPF_NOEXIST, BPF_RB_FORCE_WAKEUP},
    helpers::{
        bpf_ktime_get_ns,
        generated::{
            bpf_spin_lock, bpf_spin_unlock, bpf_timer_cancel, bpf_timer_init,
            bpf_timer_set_callback, bpf_timer_start,
        },
    },
};
use vrrp_common::{
    EVENT_MASTER_DOWN, GLOBAL_EVENTS_SENT, GLOBAL_RING_FULL, GLOBAL_TIMER_SETUP_FAILED,
    InstanceKey, MasterDownTimer, POLICY_BACKUP, ReceivePolicy, TIMER_ARMED, TIMER_INITIALISED,
    TIMER_RETRY_NS, TIMER_RETRYING, TIMER_SYNC_ARMED, TIMER_SYNC_IDLE, VrrpEvent,
};

use crate::{EVENTS, TIMERS, count_global, policy};

/// `CLOCK_MONOTONIC`: the clock `bpf_ktime_get_ns` reads and the daemon's timerfd uses.
const CLOCK_MONOTONIC: u64 = 1;

static ZERO_TIMER: MasterDownTimer = zeroed_timer();

const fn zeroed_timer() -> MasterDownTimer {
    // SAFETY: plain integers, an unlocked spin lock and an uninitialised timer; all zeros.
    unsafe { core::mem::zeroed() }
}

fn lock_of(entry: *mut MasterDownTimer) -> *mut aya_ebpf::bindings::bpf_spin_lock {
    // SAFETY: vrrp_common::bpf_spin_lock has the kernel struct's layout and BTF name.
    unsafe { (&raw mut (*entry).lock).cast() }
}

fn timer_of(entry: *mut MasterDownTimer) -> *mut aya_ebpf::bindings::bpf_timer {
    // SAFETY: vrrp_common::bpf_timer has the kernel struct's layout and BTF name.
    unsafe { (&raw mut (*entry).timer).cast() }
}

/// `-EBUSY`: `bpf_timer_init` on a timer initialised before.
const EBUSY: i64 = -16;

/// The instance's entry, created with its timer initialised on first use; `None` when the
/// kernel could not set the timer up (it is tried again with the next advert).
#[inline(always)]
fn entry(key: &InstanceKey) -> Option<*mut MasterDownTimer> {
    let entry = match TIMERS.get_ptr_mut(key) {
        Some(entry) => entry,
        None => {
            let _ = TIMERS.insert(key, &ZERO_TIMER, BPF_NOEXIST as u64);
            TIMERS.get_ptr_mut(key)?
        }
    };
    // SAFETY: a byte of a live map value; a stale read only costs a redundant set-up below.
    let flags = unsafe { core::ptr::read_volatile(&(*entry).flags) };
    if flags & TIMER_INITIALISED == 0 {
        let map = (&raw const TIMERS).cast_mut().cast::<c_void>();
        // -EBUSY once initialised, which is fine. Anything else is a timer that never fires:
        // since 6.18 the kernel allocates it with kmalloc_nolock, which fails under
        // contention (-ENOMEM; seen with 50 instances armed within 9 ms under load). The
        // callback is set again after every `bpf_timer_cancel`, which drops it (and the
        // program reference it holds); a timer started without one fails with -EINVAL.
        let init = unsafe { bpf_timer_init(timer_of(entry), map, CLOCK_MONOTONIC) };
        if init != 0 && init != EBUSY {
            count_global(GLOBAL_TIMER_SETUP_FAILED);
            return None;
        }
        let callback =
            unsafe { bpf_timer_set_callback(timer_of(entry), master_down_fired as *mut c_void) };
        if callback != 0 {
            count_global(GLOBAL_TIMER_SETUP_FAILED);
            return None;
        }
        let lock = lock_of(entry);
        unsafe { bpf_spin_lock(lock) };
        unsafe { (*entry).flags |= TIMER_INITIALISED };
        unsafe { bpf_spin_unlock(lock) };
    }
    Some(entry)
}

/// Starts the timer for the absolute time `expires`; whether it runs. Kernels before 6.7
/// refuse `BPF_F_TIMER_ABS`; there the same expiry is started as a relative time.
#[inline(always)]
fn start(entry: *mut MasterDownTimer, expires: u64) -> bool {
    let timer = timer_of(entry);
    if unsafe { bpf_timer_start(timer, expires, BPF_F_TIMER_ABS as u64) } == 0 {
        return true;
    }
    let now = unsafe { bpf_ktime_get_ns() };
    unsafe { bpf_timer_start(timer, expires.saturating_sub(now), 0) == 0 }
}

/// A timer that would not start is not armed: the next advert sets it up again, and until
/// then userspace keeps its own deadline. Returns false for the caller to pass on.
#[inline(always)]
fn not_started(entry: *mut MasterDownTimer, expires: u64) -> bool {
    count_global(GLOBAL_TIMER_SETUP_FAILED);
    let lock = lock_of(entry);
    unsafe { bpf_spin_lock(lock) };
    let e = unsafe { &mut *entry };
    if e.expires_ns == expires {
        e.flags &= !(TIMER_ARMED | TIMER_INITIALISED | TIMER_RETRYING);
    }
    unsafe { bpf_spin_unlock(lock) };
    false
}

/// A new backup period (the policy's generation moved on): the interval starts from the
/// engine's, and a timer of the old period no longer counts. Under the lock.
#[inline(always)]
fn enter_generation(e: &mut MasterDownTimer, p: &ReceivePolicy) -> bool {
    if e.generation == p.generation {
        return false;
    }
    let was_armed = e.flags & TIMER_ARMED != 0;
    e.generation = p.generation;
    e.interval_cs = p.master_adver_interval_cs;
    e.flags &= !(TIMER_ARMED | TIMER_RETRYING);
    was_armed
}

/// A valid advert for an instance whose policy is BACKUP, heard at `now`. Returns whether it
/// armed a timer that was not running (the kernel now watches the master). A function of its
/// own: its locals live in its frame, not in the receive path's.
#[inline(never)]
pub fn on_advert(
    key: &InstanceKey,
    p: &ReceivePolicy,
    priority: u8,
    advertised_cs: u16,
    now: u64,
) -> bool {
    let Some(entry) = entry(key) else {
        return false;
    };
    let lock = lock_of(entry);
    unsafe { bpf_spin_lock(lock) };
    let e = unsafe { &mut *entry };
    enter_generation(e, p);
    let length = if priority == 0 {
        // RFC 5798 section 6.4.2: the master is leaving; Skew_Time from the interval in use.
        Some(p.skew_time_ns(e.interval_cs))
    } else if priority >= p.priority || p.accepts_lower(now) {
        e.interval_cs = p.adopted_interval_cs(advertised_cs);
        Some(p.master_down_interval_ns(e.interval_cs))
    } else {
        // A lower master while we may preempt: ignored, the deadline stays; keepalived keeps
        // the time remaining as its down timer (what a priority change then moves).
        if e.flags & TIMER_ARMED != 0 {
            e.down_ns = e.expires_ns.saturating_sub(now);
        }
        None
    };
    let mut first = false;
    let mut expires = 0;
    if let Some(length) = length {
        first = e.flags & TIMER_ARMED == 0;
        e.flags = (e.flags | TIMER_ARMED) & !TIMER_RETRYING;
        e.expires_ns = now + length;
        e.down_ns = length;
        e.priority = p.priority;
        e.armed_ns = now;
        e.arms += 1;
        expires = e.expires_ns;
    }
    unsafe { bpf_spin_unlock(lock) };
    if length.is_some() && !start(entry, expires) {
        return not_started(entry, expires);
    }
    first
}

/// `vrrp_timer_sync`: the policy of `key` was just written. Leaving BACKUP (or a new backup
/// period) cancels the timer; a new priority moves a running one by the change in its length,
/// as the engine moves its deadline. Returns [`TIMER_SYNC_ARMED`] or [`TIMER_SYNC_IDLE`].
#[inline(always)]
pub fn sync(key: &InstanceKey) -> u32 {
    let Some(entry) = TIMERS.get_ptr_mut(key) else {
        return TIMER_SYNC_IDLE;
    };
    let policy = policy(key);
    let lock = lock_of(entry);
    unsafe { bpf_spin_lock(lock) };
    let e = unsafe { &mut *entry };
    let cancel;
    let mut expires = 0;
    let armed = match policy {
        Some(p) if p.state == POLICY_BACKUP => {
            cancel = enter_generation(e, p);
            if e.flags & TIMER_ARMED != 0 && e.priority != p.priority {
                let length = p.master_down_interval_ns(e.interval_cs);
                // keepalived (vrrp_set_effective_priority): the deadline moves by the change
                // of the timer's length; one moved into the past fires at once.
                e.expires_ns = (e.expires_ns + length).saturating_sub(e.down_ns);
                e.down_ns = length;
                e.priority = p.priority;
                e.shifts += 1;
                expires = e.expires_ns;
            }
            e.flags & TIMER_ARMED != 0
        }
        _ => {
            cancel = e.flags & TIMER_ARMED != 0;
            e.flags &= !(TIMER_ARMED | TIMER_RETRYING);
            false
        }
    };
    if cancel {
        // bpf_timer_cancel drops the callback: the next advert sets it again.
        e.flags &= !TIMER_INITIALISED;
    }
    unsafe { bpf_spin_unlock(lock) };
    if cancel {
        unsafe { bpf_timer_cancel(timer_of(entry)) };
    }
    if expires != 0 && !start(entry, expires) {
        not_started(entry, expires);
        return TIMER_SYNC_IDLE;
    }
    if armed {
        TIMER_SYNC_ARMED
    } else {
        TIMER_SYNC_IDLE
    }
}

/// The timer callback: the master is down. Static linkage and `i32` 0 as the verifier wants.
#[inline(never)]
extern "C" fn master_down_fired(
    _map: *mut c_void,
    key: *mut InstanceKey,
    entry: *mut MasterDownTimer,
) -> i32 {
    let now = unsafe { bpf_ktime_get_ns() };
    let key = unsafe { *key };
    let lock = lock_of(entry);
    unsafe { bpf_spin_lock(lock) };
    let e = unsafe { &mut *entry };
    if e.flags & TIMER_ARMED == 0 {
        // Cancelled while this callback was on its way.
        unsafe { bpf_spin_unlock(lock) };
        return 0;
    }
    if e.expires_ns > now {
        // Re-armed by an advert while this callback was on its way (that advert started the
        // timer again), or the hrtimer ran before bpf_ktime_get_ns, the fast clock, reached
        // its expiry. The second must not lose the takeover: start it again for the same
        // expiry, which the first makes harmless.
        let expires = e.expires_ns;
        unsafe { bpf_spin_unlock(lock) };
        // If it cannot start, it stays armed and overdue: the daemon's check finds it.
        start(entry, expires);
        return 0;
    }
    e.flags &= !TIMER_ARMED;
    e.fires += 1;
    e.fired_ns = now;
    let generation = e.generation;
    let interval_cs = e.interval_cs;
    let priority = e.priority;
    unsafe { bpf_spin_unlock(lock) };

    // Only a backup of the period the timer belongs to takes over.
    match policy(&key) {
        Some(p) if p.state == POLICY_BACKUP && p.generation == generation => {}
        _ => return 0,
    }
    let event = VrrpEvent {
        key,
        timestamp_ns: now,
        kinds: EVENT_MASTER_DOWN,
        priority,
        advert_interval_cs: interval_cs,
        policy_state: POLICY_BACKUP,
        policy_generation: generation,
        ..VrrpEvent::default()
    };
    if EVENTS.output(&event, BPF_RB_FORCE_WAKEUP as u64).is_ok() {
        count_global(GLOBAL_EVENTS_SENT);
        return 0;
    }
    // A full ring must not lose a takeover: try again shortly, the timer stays armed.
    count_global(GLOBAL_RING_FULL);
    unsafe { bpf_spin_lock(lock) };
    let e = unsafe { &mut *entry };
    let retry = e.flags & TIMER_ARMED == 0;
    if retry {
        e.flags |= TIMER_ARMED | TIMER_RETRYING;
        e.expires_ns = now + TIMER_RETRY_NS;
    }
    unsafe { bpf_spin_unlock(lock) };
    if retry {
        unsafe { bpf_timer_start(timer_of(entry), TIMER_RETRY_NS, 0) };
    }
    0
}
