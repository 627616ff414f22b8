//! The state update after a valid advert, and the event rule. Both happen under the entry's
//! `bpf_spin_lock`, so the master/priority in the map and the `seq` an event carries always
//! agree, whatever CPUs the adverts arrive on. No helper may run while the lock is held: the
//! decision is pure code over the entry and the stack, the ring buffer write comes after.
//!
//! The event rule (README, "Events"): changes only (new master, priority, priority 0,
//! interval, first advert after silence); in MASTER also every advert from another router
//! (higher: we must step down; lower: keepalived answers it). A flapping master becomes one
//! "contended" state. Per instance at most [`EVENT_BURST`] events at once and one per
//! [`EVENT_SPACING_NS`] on average; what is held back stays pending and rides on the next
//! event. Priority 0 passes the limit unless a priority-0 event was sent within the spacing.

use aya_ebpf::{
    helpers::generated::{bpf_spin_lock, bpf_spin_unlock},
    programs::XdpContext,
};
use aya_log_ebpf::debug;
use vrrp_common::{
    CONTENTION_FLIPS, EVENT_AFTER_SILENCE, EVENT_BURST, EVENT_CONTENDED, EVENT_CONTENTION_OVER,
    EVENT_HIGHER, EVENT_INTERVAL_CHANGE, EVENT_LOWER, EVENT_MASTER_KINDS, EVENT_NEW_MASTER,
    EVENT_OLD_CHECKSUM, EVENT_PRIORITY_CHANGE, EVENT_PRIORITY_ZERO, EVENT_SPACING_NS,
    EVENT_TIMER_ARMED, GLOBAL_EVENTS_SENT, GLOBAL_EVENTS_SUPPRESSED, GLOBAL_RING_FULL, InstanceKey,
    InstanceState, MIN_INTERVAL_NS, POLICY_BACKUP, POLICY_INIT, POLICY_MASTER, ReceivePolicy,
    SILENCE_ADVERTS, STATE_CONTENDED, STATE_OLD_UNICAST_CHECKSUM, VrrpEvent,
};

use crate::{EVENT_SCRATCH, EVENTS, STATE, count_global, state_entry};

/// A valid advert, as far as the state cares.
pub struct Heard {
    pub src: [u8; 16],
    pub priority: u8,
    pub version: u8,
    pub addr_count: u8,
    pub interval_cs: u16,
    /// The advert switched the instance to keepalived's old unicast checksum.
    pub learned_old_checksum: bool,
    /// The advert armed the master-down timer, which was not running.
    pub timer_armed: bool,
}

enum Outcome {
    Quiet,
    Suppressed,
    Emit,
}

fn lock_of(state: *mut InstanceState) -> *mut aya_ebpf::bindings::bpf_spin_lock {
    // SAFETY: vrrp_common::bpf_spin_lock has the kernel struct's layout and BTF name.
    unsafe { (&raw mut (*state).lock).cast() }
}

/// Records a valid advert and sends the event the rule asks for.
#[inline(always)]
pub fn record(
    ctx: &XdpContext,
    key: &InstanceKey,
    heard: &Heard,
    policy: Option<&ReceivePolicy>,
    now: u64,
) {
    let Some(state) = state_entry(key) else {
        return;
    };
    let Some(event) = EVENT_SCRATCH.get_ptr_mut(0) else {
        return;
    };
    let event = unsafe { &mut *event };
    let lock = lock_of(state);
    unsafe { bpf_spin_lock(lock) };
    let outcome = update(unsafe { &mut *state }, key, heard, policy, now, event);
    unsafe { bpf_spin_unlock(lock) };
    match outcome {
        Outcome::Quiet => {}
        Outcome::Suppressed => count_global(GLOBAL_EVENTS_SUPPRESSED),
        Outcome::Emit => {
            if EVENTS.output(&*event, 0).is_ok() {
                count_global(GLOBAL_EVENTS_SENT);
                return;
            }
            // A full ring loses the event, never its news: the kinds go back to pending (and a
            // priority 0 may pass again at once), the reader sees ring_full and re-reads.
            count_global(GLOBAL_RING_FULL);
            debug!(
                ctx,
                "event ring buffer full: VRID {} on interface {} kept pending",
                key.vrid,
                key.ifindex
            );
            unsafe { bpf_spin_lock(lock) };
            let state = unsafe { &mut *state };
            state.pending_kinds |= event.kinds;
            if event.kinds & EVENT_PRIORITY_ZERO != 0 {
                state.last_priority_zero_event_ns = 0;
            }
            unsafe { bpf_spin_unlock(lock) };
        }
    }
}

/// keepalived's `master_saddr` for `skip_check_adv_addr`, read under the lock.
#[inline(always)]
pub fn skip_check_src(key: &InstanceKey) -> Option<[u8; 16]> {
    let state = STATE.get_ptr_mut(key)?;
    let lock = lock_of(state);
    unsafe { bpf_spin_lock(lock) };
    let src = unsafe { (*state).skip_check_src };
    unsafe { bpf_spin_unlock(lock) };
    Some(src)
}

/// The entry's `STATE_*` flags (a single byte: no lock needed).
#[inline(always)]
pub fn state_flags(key: &InstanceKey) -> u8 {
    STATE.get_ptr(key).map_or(0, |state| unsafe {
        core::ptr::read_volatile(&(*state).flags)
    })
}

#[inline(always)]
pub fn same_addr(a: &[u8; 16], b: &[u8; 16]) -> bool {
    words(a) == words(b)
}

/// An address as two big-endian words: equality without `memcmp` (which BPF lacks) and the
/// numeric order RFC 5798 section 6.4.3 compares primary addresses in.
#[inline(always)]
fn words(addr: &[u8; 16]) -> (u64, u64) {
    let ptr = addr.as_ptr();
    unsafe {
        (
            u64::from_be(core::ptr::read_unaligned(ptr.cast::<u64>())),
            u64::from_be(core::ptr::read_unaligned(ptr.add(8).cast::<u64>())),
        )
    }
}

/// The decision, under the lock: no helper calls in here.
#[inline(always)]
fn update(
    s: &mut InstanceState,
    key: &InstanceKey,
    h: &Heard,
    policy: Option<&ReceivePolicy>,
    now: u64,
    event: &mut VrrpEvent,
) -> Outcome {
    let first = s.last_seen_ns == 0;
    let interval_ns = (s.master_interval_cs as u64 * 10_000_000).max(MIN_INTERVAL_NS);
    let horizon = SILENCE_ADVERTS * interval_ns;
    let new_source = first || !same_addr(&s.master_addr, &h.src);
    let mut kinds = 0;
    if first {
        kinds |= EVENT_NEW_MASTER | EVENT_AFTER_SILENCE;
    } else {
        if now.saturating_sub(s.last_seen_ns) > horizon {
            kinds |= EVENT_AFTER_SILENCE;
        }
        if new_source {
            kinds |= EVENT_NEW_MASTER;
        }
        if s.master_priority != h.priority {
            kinds |= EVENT_PRIORITY_CHANGE;
        }
        if s.master_interval_cs != h.interval_cs {
            kinds |= EVENT_INTERVAL_CHANGE;
        }
    }

    // Contention: quick source changes in a row. Over when one source has been alone for the
    // silence horizon; the winner is then announced as the new master.
    if s.flags & STATE_CONTENDED != 0 {
        if new_source {
            s.contended_changes += 1;
        } else if now.saturating_sub(s.master_since_ns) >= horizon {
            s.flags &= !STATE_CONTENDED;
            s.flips = 0;
            kinds |= EVENT_CONTENTION_OVER | EVENT_NEW_MASTER;
        }
    }
    if new_source {
        let quick = !first && now.saturating_sub(s.master_since_ns) < horizon;
        s.flips = if quick { s.flips + 1 } else { 1 };
        s.master_since_ns = now;
        s.master_adverts = 0;
        if s.flags & STATE_CONTENDED == 0 && s.flips >= CONTENTION_FLIPS {
            s.flags |= STATE_CONTENDED;
            kinds |= EVENT_CONTENDED;
        }
    }
    if s.flags & STATE_CONTENDED != 0 {
        kinds &= !EVENT_MASTER_KINDS;
    }
    s.master_adverts += 1;

    if h.priority == 0 {
        // RFC 5798 section 6.4.2: the master is leaving; backups act on it at once.
        kinds |= EVENT_PRIORITY_ZERO;
        s.last_priority_zero_ns = now;
    }
    let state = policy.map_or(POLICY_INIT, |p| p.state);
    if let Some(p) = policy
        && p.state == POLICY_MASTER
        && h.priority != 0
        && !same_addr(&h.src, &p.local_addr)
    {
        let wins = h.priority > p.priority
            || (h.priority == p.priority && words(&h.src) > words(&p.local_addr));
        kinds |= if wins { EVENT_HIGHER } else { EVENT_LOWER };
    }
    let alive = h.priority != 0
        && policy.is_none_or(|p| {
            p.state == POLICY_INIT || h.priority >= p.priority || p.accepts_lower(now)
        });
    if alive {
        s.last_alive_ns = now;
        s.alive_addr = h.src;
        s.alive_priority = h.priority;
        s.alive_interval_cs = h.interval_cs;
    }
    // keepalived sets master_saddr in BACKUP for accepted and for discarded lower adverts,
    // not for priority 0 (`vrrp_state_backup`).
    if h.priority != 0 && (policy.is_none() || state == POLICY_BACKUP) {
        s.skip_check_src = h.src;
    }
    if h.learned_old_checksum && s.flags & STATE_OLD_UNICAST_CHECKSUM == 0 {
        s.flags |= STATE_OLD_UNICAST_CHECKSUM;
        kinds |= EVENT_OLD_CHECKSUM;
    }
    if h.timer_armed {
        kinds |= EVENT_TIMER_ARMED;
    }

    let previous_priority = s.master_priority;
    s.master_addr = h.src;
    s.master_priority = h.priority;
    s.master_version = h.version;
    s.master_addr_count = h.addr_count;
    s.master_interval_cs = h.interval_cs;
    s.last_seen_ns = now;
    if kinds != 0 {
        s.seq += 1;
    }

    let all = kinds | s.pending_kinds;
    if all == 0 {
        return Outcome::Quiet;
    }
    // GCRA: the event may go if the next theoretical slot is within the burst allowance.
    let tat = s.event_tat_ns.max(now);
    let within_limit = tat - now <= (EVENT_BURST - 1) * EVENT_SPACING_NS;
    let priority_zero_through = kinds & EVENT_PRIORITY_ZERO != 0
        && (s.last_priority_zero_event_ns == 0
            || now.saturating_sub(s.last_priority_zero_event_ns) >= EVENT_SPACING_NS);
    if !within_limit && !priority_zero_through {
        s.pending_kinds = all;
        if kinds == 0 {
            return Outcome::Quiet;
        }
        s.suppressed += 1;
        return Outcome::Suppressed;
    }
    s.event_tat_ns = tat + EVENT_SPACING_NS;
    if all & EVENT_PRIORITY_ZERO != 0 {
        s.last_priority_zero_event_ns = now;
    }
    s.pending_kinds = 0;
    s.last_event_ns = now;

    event.key = *key;
    event.seq = s.seq;
    event.timestamp_ns = now;
    event.kinds = all;
    event.suppressed = s.suppressed;
    event.master_addr = h.src;
    event.priority = h.priority;
    event.previous_priority = previous_priority;
    event.version = h.version;
    event.addr_count = h.addr_count;
    event.advert_interval_cs = h.interval_cs;
    event.policy_state = state;
    event.state_flags = s.flags;
    event.contended_changes = s.contended_changes;
    event.policy_generation = policy.map_or(0, |p| p.generation);
    Outcome::Emit
}
