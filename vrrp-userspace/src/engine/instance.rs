//! One VRRP instance as a pure state machine: `handle(now, event) -> actions`, with no IO and
//! no clock (RFC 5798 section 6, keepalived's behaviour where it differs).

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::config::{Destination, InstanceConfig, TrackerId, check_source};
use super::events::{
    Action, AdvertPacket, AnnounceFrame, Anomaly, Event, Reason, State, Transition,
};
use super::time::Timestamp;
use super::timers::{master_down_interval, skew_time};
use super::tracking::{Tracker, effective_priority};
use crate::protocol::{Advert, FrameSpec, Priority, Version, announce, build_frame};

/// How a re-evaluation treats a change of the effective priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PriorityUpdate {
    /// Apply it and report it (`notify_priority_changes`).
    Report,
    /// Apply it without a report.
    Silent,
    /// Leave the effective priority as it is.
    Keep,
}

/// What the XDP program needs to know to tell a live master from noise (and what to wake the
/// daemon for), and to run a backup's master-down timer exactly as [`Instance`] runs its own:
/// the state, the effective priority, whether a lower-priority master is currently accepted
/// (`nopreempt`, or a `preempt_delay` window, with the time it closes once it started), and
/// the timer's inputs (RFC 5798 section 6.1 with keepalived's `down_timer_adverts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceivePolicy {
    pub state: State,
    pub priority: Priority,
    pub accept_lower: bool,
    /// With `accept_lower` from a running `preempt_delay` window: when it closes.
    pub accept_lower_until: Option<Timestamp>,
    pub version: Version,
    pub down_timer_adverts: u32,
    /// The configured interval (a v2 backup's Master_Adver_Interval).
    pub advert_interval: Duration,
    /// Master_Adver_Interval now: the configured one, or the master's (v3).
    pub master_adver_interval: Duration,
}

/// A running instance.
#[derive(Debug)]
pub struct Instance {
    config: InstanceConfig,
    state: State,
    /// Configured priority; keepalived lowers it to 254 when another owner shows up.
    base_priority: Priority,
    /// Priority after tracking (what adverts carry and elections compare).
    priority: Priority,
    trackers: Vec<Tracker>,
    interface_up: bool,
    /// The advert source now: configured, or the interface's address as the shell last saw it.
    source: Option<IpAddr>,
    /// While the event that removed the source address is handled: that address, for the
    /// priority-0 advert a master still sends from it.
    lost_source: Option<IpAddr>,
    /// A member of this instance's sync group is in FAULT.
    group_fault: bool,
    /// The sync group this instance is in: then the master-down timer only raises
    /// `wants_master` and the group promotes (keepalived's vrrp_sync_can_goto_master).
    group: Option<String>,
    /// keepalived's `wantstate == MASTER` while BACKUP: the master-down timer fired (or the
    /// instance starts wishing MASTER in a group of owners) and it waits for its group.
    wants_master: bool,
    /// Set with `wants_master` when this instance asks its group to go MASTER now (its
    /// master-down timer fired); the router takes it.
    promotion_requested: bool,
    /// keepalived's initial wish (`state`, or MASTER for an owner without it). Any fault other
    /// than a script that has not reported yet clears it (down_instance sets `wantstate`
    /// FAULT), so an owner coming back from a fault waits Master_Down_Interval as BACKUP.
    wish_master: bool,
    /// Leave INIT as MASTER at once: an owner wishing MASTER (keepalived's vrrp_init_state),
    /// in a sync group only when every member is one.
    start_as_master: bool,
    /// RFC 5798 section 6.1: the master's advertised interval (v3 adopts it; v2 keeps ours).
    master_adver_interval: Duration,
    /// keepalived's `ms_down_timer`: the length the running master-down timer was set to.
    down_timer: Duration,
    last_advert_heard: Option<Timestamp>,
    /// The priority of the master a backup last accepted.
    master_priority: Option<Priority>,
    entered_backup: Timestamp,
    master_down_at: Option<Timestamp>,
    advert_at: Option<Timestamp>,
    second_garp_at: Option<Timestamp>,
    /// Second bursts after lower-priority adverts, oldest first: keepalived starts a timer
    /// per advert (vrrp_state_master_rx), so each one gets its own burst.
    lower_prio_garps_at: VecDeque<Timestamp>,
    /// Refreshes go out with the first periodic advert after this time (keepalived checks at
    /// each advert it sends).
    garp_refresh_at: Option<Timestamp>,
    /// End of the `preempt_delay` window, started by the first lower-priority advert. It stays
    /// set after it passed (keepalived's `preempt_time`), so the window does not reopen until
    /// an advert of our priority or higher clears it.
    preempt_until: Option<Timestamp>,
    /// A wakeup when the window closes: the receive policy changes then.
    preempt_window_closes_at: Option<Timestamp>,
    /// Adverts for the current priority, built when the priority changes, not per advert.
    adverts: (Priority, Arc<[AdvertPacket]>),
    /// Gratuitous ARPs / unsolicited NAs for every virtual address.
    announcements: Arc<[AnnounceFrame]>,
}

impl Instance {
    pub fn new(config: InstanceConfig) -> Self {
        Self::with_known_trackers(config, &BTreeMap::new())
    }

    /// A new instance whose trackers in `known` already reported (a reload: keepalived keeps
    /// one state per tracked script, which an instance added by the reload reads at once);
    /// the others start as at startup.
    pub(crate) fn with_known_trackers(
        config: InstanceConfig,
        known: &BTreeMap<TrackerId, Tracker>,
    ) -> Self {
        let trackers: Vec<Tracker> = config
            .trackers
            .iter()
            .map(|t| {
                known
                    .get(&t.id)
                    .map_or_else(|| Tracker::new(t.clone()), |k| k.reconfigured(t.clone()))
            })
            .collect();
        let base_priority = config.priority;
        let priority = effective_priority(base_priority, &trackers);
        let master_adver_interval = config.advert_interval;
        let source = config.source;
        let adverts = (priority, build_adverts(&config, source, priority));
        let announcements = build_announcements(&config);
        let wish_master = config.wishes_master();
        let start_as_master = wish_master && config.is_owner();
        let mut instance = Self {
            config,
            state: State::Initialize,
            base_priority,
            priority,
            trackers,
            interface_up: true,
            source,
            lost_source: None,
            group_fault: false,
            group: None,
            wants_master: false,
            promotion_requested: false,
            wish_master,
            start_as_master,
            master_adver_interval,
            down_timer: Duration::ZERO,
            last_advert_heard: None,
            entered_backup: Timestamp::ZERO,
            master_down_at: None,
            advert_at: None,
            second_garp_at: None,
            lower_prio_garps_at: VecDeque::new(),
            garp_refresh_at: None,
            preempt_until: None,
            master_priority: None,
            preempt_window_closes_at: None,
            adverts,
            announcements,
        };
        instance.down_timer = instance.master_down_interval();
        instance
    }

    pub fn config(&self) -> &InstanceConfig {
        &self.config
    }

    pub fn name(&self) -> &str {
        self.config.name()
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Priority after tracking (what adverts carry and elections compare).
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// The configured priority (keepalived lowers it to 254 when another owner shows up).
    pub fn base_priority(&self) -> Priority {
        self.base_priority
    }

    /// The trackers and what each says now.
    pub fn trackers(&self) -> &[Tracker] {
        &self.trackers
    }

    /// The master's advertised interval as this instance currently uses it.
    pub fn master_adver_interval(&self) -> Duration {
        self.master_adver_interval
    }

    /// What the receive path should know about this instance now.
    pub fn receive_policy(&self, now: Timestamp) -> ReceivePolicy {
        let window_open = !self.config.preempt_delay.is_zero()
            && self.preempt_until.is_none_or(|until| now < until);
        ReceivePolicy {
            state: self.state,
            priority: self.priority,
            accept_lower: !self.config.preempt || window_open,
            accept_lower_until: if self.config.preempt && window_open {
                self.preempt_until
            } else {
                None
            },
            version: self.config.version(),
            down_timer_adverts: self.config.down_timer_adverts,
            advert_interval: self.config.advert_interval,
            master_adver_interval: self.master_adver_interval,
        }
    }

    /// When the master-down timer expires, if it runs (a backup waiting for its master). The
    /// IO shell may let the kernel watch it instead (see `daemon::receive`), and deliver
    /// [`Event::Timer`] only when the kernel says the master is down.
    pub fn master_down_deadline(&self) -> Option<Timestamp> {
        self.master_down_at
    }

    /// [`Self::next_deadline`] without the master-down timer.
    pub fn next_deadline_except_master_down(&self) -> Option<Timestamp> {
        [
            self.advert_at,
            self.second_garp_at,
            self.lower_prio_garps_at.front().copied(),
            self.preempt_window_closes_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The earliest timer; the shell delivers [`Event::Timer`] then.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        match (self.master_down_at, self.next_deadline_except_master_down()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Handles one event, appending what to do to `out`; returns the state change it caused.
    pub fn handle(
        &mut self,
        now: Timestamp,
        event: Event,
        out: &mut Vec<Action>,
    ) -> Option<Transition> {
        let before = out.len();
        match event {
            Event::Startup => self.startup(now, out),
            Event::Advert {
                src,
                priority,
                interval,
            } => self.advert(now, src, priority, interval, out),
            Event::Timer => self.timers(now, out),
            Event::InterfaceUp | Event::InterfaceDown => {
                self.interface_up = event == Event::InterfaceUp;
                self.reevaluate(now, out);
            }
            Event::Tracker { tracker, up } => {
                for t in self.trackers.iter_mut().filter(|t| t.id() == tracker) {
                    t.set_up(up);
                }
                self.reevaluate(now, out);
            }
            Event::TrackerValue { tracker, value } => {
                let mut crossed = None;
                for t in self.trackers.iter_mut().filter(|t| t.id() == tracker) {
                    let before = t.causes_fault();
                    t.set_value(value);
                    if t.is_weighted() && before != t.causes_fault() {
                        crossed = Some(t.causes_fault());
                    }
                }
                // keepalived (process_update_vrrp_track_file_status): a weighted file reaching
                // -254 takes its share off the total without recomputing the effective
                // priority (the FAULT line keeps the old one), and coming back sets the
                // priority without a priority notification.
                let update = match crossed {
                    Some(true) => PriorityUpdate::Keep,
                    Some(false) => PriorityUpdate::Silent,
                    None => PriorityUpdate::Report,
                };
                self.reevaluate_with(now, out, update);
            }
            Event::ScriptResult { tracker, success } => {
                for t in self.trackers.iter_mut().filter(|t| t.id() == tracker) {
                    t.script_result(success);
                }
                self.reevaluate(now, out);
            }
            Event::SourceAddress { addr } => {
                // Only an address of the instance's family can be a source; the shell checks.
                if addr != self.source
                    && addr.is_none_or(|a| check_source(a, self.config.flavor).is_ok())
                {
                    // keepalived forgets a deleted address only after down_instance has sent
                    // priority 0 from it (netlink_if_address_filter).
                    self.lost_source = if addr.is_none() { self.source } else { None };
                    self.source = addr;
                    self.adverts = (
                        self.priority,
                        build_adverts(&self.config, addr, self.priority),
                    );
                }
                self.reevaluate(now, out);
                self.lost_source = None;
            }
            Event::Shutdown => self.shutdown(out),
        }
        out[before..].iter().rev().find_map(|action| match action {
            Action::StateChanged {
                from, to, reason, ..
            } => Some(Transition {
                from: *from,
                to: *to,
                reason: reason.clone(),
            }),
            _ => None,
        })
    }

    /// A reload gave this running instance a new configuration (keepalived matches instances
    /// by name and keeps their state). Nothing about the election restarts: the state, the
    /// running timers, the master heard and what each kept tracker said stay, so an unchanged
    /// instance produces no action at all. `trackers` maps the old ids of trackers that are
    /// still tracked to their new ids; a tracker new to the instance waits for its first
    /// report without holding the instance in FAULT ([`Tracker::added_on_reload`]). What changed takes effect as keepalived's reload
    /// leaves it: a new priority or tracker weight like a tracker report, a new
    /// Master_Down_Interval by moving the running deadline, and a master announces only the
    /// virtual addresses it did not have (the shell adds and removes only the difference).
    pub(crate) fn reconfigure(
        &mut self,
        now: Timestamp,
        config: InstanceConfig,
        trackers: &BTreeMap<TrackerId, TrackerId>,
        out: &mut Vec<Action>,
    ) {
        let down_interval_before = self.master_down_interval();
        let old = std::mem::replace(&mut self.config, config);
        self.trackers = self
            .config
            .trackers
            .iter()
            .map(|new| {
                self.trackers
                    .iter()
                    .find(|kept| trackers.get(&kept.id()) == Some(&new.id))
                    .map_or_else(
                        || Tracker::added_on_reload(new.clone()),
                        |kept| kept.reconfigured(new.clone()),
                    )
            })
            .collect();
        // The owner's step-down to 254 was a reaction to another owner on the wire; the
        // configured priority is the new truth (keepalived re-reads it).
        self.base_priority = self.config.priority;
        // A wish cleared by a fault stays cleared; a new `state BACKUP` clears it too.
        self.wish_master &= self.config.wishes_master();
        self.start_as_master = self.wish_master && self.config.is_owner();
        self.group = None;

        let interval = self.config.advert_interval;
        // A backup keeps the interval it learned from a v3 master (RFC 5798 6.4.2).
        let learned = self.state == State::Backup
            && self.config.version() == Version::V3
            && self.last_advert_heard.is_some();
        if !learned {
            self.master_adver_interval = interval;
        }
        if self.state == State::Master && interval != old.advert_interval {
            self.advert_at = self.advert_at.map(|at| at.min(now + interval));
        }
        self.garp_refresh_at = match (self.state, self.config.garp.master_refresh) {
            (State::Master, Some(period)) => self.garp_refresh_at.or(Some(now + period)),
            _ => None,
        };
        self.adverts = (
            self.priority,
            build_adverts(&self.config, self.source, self.priority),
        );
        self.announcements = build_announcements(&self.config);
        if self.state == State::Master {
            let added: Arc<[AnnounceFrame]> = self
                .config
                .announced
                .iter()
                .zip(self.announcements.iter())
                .filter(|(announced, _)| !old.announced.contains(announced))
                .map(|(_, frame)| frame.clone())
                .collect();
            if !added.is_empty() && self.config.garp.master_repeat > 0 {
                out.push(Action::Announce {
                    frames: added,
                    repeat: self.config.garp.master_repeat,
                    interval: self.config.garp.interval,
                });
            }
        }

        // A new interval or down_timer_adverts moves the running master-down deadline by the
        // difference, as a priority change does.
        let down_interval_after = self.master_down_interval();
        if down_interval_after != down_interval_before {
            self.shift_down_timer(down_interval_before, down_interval_after);
        }
        self.reevaluate(now, out);
    }

    // RFC 5798 section 6.4.1: the owner becomes master at once, others wait as backup; in
    // keepalived's vrrp_init_state only an owner that wishes MASTER (no `state BACKUP`) skips
    // the wait, and a sync group member wishing MASTER in a BACKUP group waits one interval
    // plus the smallest skew.
    fn startup(&mut self, now: Timestamp, out: &mut Vec<Action>) {
        if self.state != State::Initialize {
            return;
        }
        if let Some(reason) = self.fault_reason() {
            self.change_state(State::Fault, reason, out);
        } else if self.start_as_master {
            self.become_master(now, Reason::Startup, out);
        } else {
            self.enter_backup(now, Reason::Startup, out);
            if self.group.is_some() && self.wish_master {
                self.wants_master = true;
                let smallest_skew = skew_time(
                    self.config.version(),
                    Priority(255),
                    self.master_adver_interval,
                );
                self.arm_down_timer(now, self.master_adver_interval + smallest_skew);
            }
        }
    }

    /// The address owner (priority 255), unless keepalived stepped it down to 254 because
    /// another owner showed up.
    fn is_owner(&self) -> bool {
        self.base_priority.0 == 255
    }

    /// Master_Down_Interval with the current priority and master interval (RFC 5798 6.1).
    pub fn master_down_interval(&self) -> Duration {
        master_down_interval(
            self.config.version(),
            self.priority,
            self.master_adver_interval,
            self.config.down_timer_adverts,
        )
    }

    fn skew_time(&self) -> Duration {
        skew_time(
            self.config.version(),
            self.priority,
            self.master_adver_interval,
        )
    }

    fn advert(
        &mut self,
        now: Timestamp,
        src: IpAddr,
        priority: Priority,
        interval: Duration,
        out: &mut Vec<Action>,
    ) {
        match self.state {
            State::Backup => self.backup_hears(now, priority, interval),
            State::Master => self.master_hears(now, src, priority, interval, out),
            State::Initialize | State::Fault | State::Stopped => {}
        }
    }

    /// Arms the master-down timer for `length` from `now` (keepalived's `ms_down_timer`).
    fn arm_down_timer(&mut self, now: Timestamp, length: Duration) {
        self.down_timer = length;
        self.master_down_at = Some(now + length);
    }

    // RFC 5798 section 6.4.2, with keepalived's nopreempt and preempt_delay.
    fn backup_hears(&mut self, now: Timestamp, priority: Priority, interval: Duration) {
        if priority.0 == 0 {
            self.last_advert_heard = Some(now);
            // The master is leaving: take over after Skew_Time instead of the full interval.
            // keepalived leaves `wantstate` alone here: a member waiting for its group still
            // wants MASTER.
            self.arm_down_timer(now, self.skew_time());
            return;
        }
        let lower = priority < self.priority;
        if lower && self.config.preempt && !self.preempt_window_open(now) {
            // A lower-priority master while we may preempt: ignore it and take over when the
            // running down timer ends. keepalived keeps the remaining time as its down timer.
            if let Some(at) = self.master_down_at {
                self.down_timer = at.since(now);
            }
            return;
        }
        if !lower {
            self.preempt_until = None;
            self.preempt_window_closes_at = None;
        }
        self.master_priority = Some(priority);
        self.last_advert_heard = Some(now);
        if self.config.version() == Version::V3 {
            self.master_adver_interval = interval;
        }
        self.wants_master = false;
        self.promotion_requested = false;
        self.arm_down_timer(now, self.master_down_interval());
    }

    /// keepalived's `preempt_delay`: the window opens with the first lower-priority advert.
    fn preempt_window_open(&mut self, now: Timestamp) -> bool {
        if self.config.preempt_delay.is_zero() {
            return false;
        }
        let until = match self.preempt_until {
            Some(until) => until,
            None => {
                let until = now + self.config.preempt_delay;
                self.preempt_until = Some(until);
                self.preempt_window_closes_at = Some(until);
                until
            }
        };
        now < until
    }

    // RFC 5798 section 6.4.3 in keepalived's order (vrrp_state_master_rx).
    fn master_hears(
        &mut self,
        now: Timestamp,
        src: IpAddr,
        priority: Priority,
        interval: Duration,
        out: &mut Vec<Action>,
    ) {
        let Some(ours) = self.source else {
            return;
        };
        let higher = |me: &Self| {
            priority > me.priority || (priority == me.priority && ip_greater(src, ours))
        };
        if priority.0 == 0 || (self.config.higher_prio_send_advert && higher(self)) {
            // Another master is leaving: advertise at once so backups do not take over.
            self.send_advert(self.priority, out);
            if priority.0 == 0 {
                self.restart_advert_timer(now);
                return;
            }
        }
        if priority == self.priority {
            if src == ours {
                // Our own advert coming back: keepalived only logs it.
                out.push(Action::Anomaly(Anomaly::OwnAdvertEchoed { priority }));
                return;
            }
            if self.priority.0 == 255 {
                // Two owners: keepalived steps its own priority down so one of them yields.
                out.push(Action::Anomaly(Anomaly::OwnerConflict { other: src }));
                self.base_priority = Priority(254);
                self.priority = Priority(254);
            }
        }
        if higher(self) {
            if self.config.version() == Version::V3 {
                self.master_adver_interval = interval;
            }
            self.last_advert_heard = Some(now);
            self.leave_master(
                now,
                Reason::HigherPriority {
                    master: src,
                    priority,
                },
                out,
            );
            return;
        }
        // A lower-priority master: keepalived answers with an advert (unless
        // lower_prio_no_advert) so it backs off at once, and refreshes the ARP caches.
        if !self.config.lower_prio_no_advert {
            self.send_advert(self.priority, out);
        }
        self.lower_priority_announce(now, out);
        out.push(Action::MasterRxLowerPriority {
            from: src,
            priority,
        });
        self.restart_advert_timer(now);
    }

    /// keepalived (vrrp_dispatcher_read) re-arms a master's advert timer one interval after
    /// every advert it has processed, "if we have sent an advert" - but it tests only
    /// `lower_prio_no_advert`, so with that set not even the answer to a priority-0 advert
    /// moves the schedule. Its own echo never gets here in keepalived (the kernel drops IPv4
    /// packets from a local source address before the socket), so that one moves nothing.
    fn restart_advert_timer(&mut self, now: Timestamp) {
        if !self.config.lower_prio_no_advert {
            self.advert_at = Some(now + self.config.advert_interval);
        }
    }

    /// keepalived's `garp_lower_prio_repeat` burst now and another after
    /// `garp_lower_prio_delay`; the sync group asks its other masters for the same.
    pub(crate) fn lower_priority_announce(&mut self, now: Timestamp, out: &mut Vec<Action>) {
        if self.state != State::Master || self.config.garp.lower_prio_repeat == 0 {
            return;
        }
        self.announce(self.config.garp.lower_prio_repeat, out);
        if let Some(delay) = self.config.garp.lower_prio_delay {
            self.lower_prio_garps_at.push_back(now + delay);
        }
    }

    fn timers(&mut self, now: Timestamp, out: &mut Vec<Action>) {
        if self.master_down_at.is_some_and(|at| at <= now) {
            self.master_down_at = None;
            if self.state == State::Backup {
                let silent_for = now.since(self.last_advert_heard.unwrap_or(self.entered_backup));
                if self.group.is_some() {
                    self.wants_master = true;
                    self.promotion_requested = true;
                } else {
                    self.become_master(now, Reason::MasterDown { silent_for }, out);
                }
            }
        }
        if let Some(at) = self.advert_at.filter(|at| *at <= now) {
            self.periodic_advert(now, at, out);
        }
        if self.second_garp_at.is_some_and(|at| at <= now) {
            self.second_garp_at = None;
            self.announce(self.config.garp.master_repeat, out);
        }
        while self
            .lower_prio_garps_at
            .front()
            .is_some_and(|at| *at <= now)
        {
            self.lower_prio_garps_at.pop_front();
            self.announce(self.config.garp.lower_prio_repeat, out);
        }
        if self.preempt_window_closes_at.is_some_and(|at| at <= now) {
            // The preempt_delay window closed: lower masters no longer count as alive. Nothing
            // to send; the caller reads the new receive policy.
            self.preempt_window_closes_at = None;
        }
    }

    /// The scheduled advert (RFC 5798 section 6.4.3): the next one is due one interval after
    /// this deadline, not after `now`, so a late wakeup does not shift the schedule.
    fn periodic_advert(&mut self, now: Timestamp, due: Timestamp, out: &mut Vec<Action>) {
        self.send_advert(self.priority, out);
        let interval = self.config.advert_interval;
        let next = due + interval;
        // After a stall longer than an interval, resume from now rather than catching up.
        self.advert_at = Some(if next <= now { now + interval } else { next });
        if let (Some(at), Some(period)) = (self.garp_refresh_at, self.config.garp.master_refresh)
            && now > at
        {
            self.announce(self.config.garp.master_refresh_repeat, out);
            self.garp_refresh_at = Some(now + period);
        }
    }

    /// Why the instance must be in FAULT now, if it must.
    fn fault_reason(&self) -> Option<Reason> {
        if !self.interface_up {
            return Some(Reason::InterfaceDown);
        }
        if self.source.is_none() {
            return Some(Reason::NoSourceAddress);
        }
        if let Some(tracker) = self.trackers.iter().find(|t| t.causes_fault()) {
            return Some(Reason::TrackerFailed {
                tracker: tracker.id(),
            });
        }
        if self.group_fault {
            return Some(Reason::SyncGroup {
                group: self.group.clone().unwrap_or_default(),
            });
        }
        if let Some(tracker) = self.trackers.iter().find(|t| t.pending()) {
            return Some(Reason::TrackerPending {
                tracker: tracker.id(),
            });
        }
        None
    }

    /// After anything that may change the fault condition or the priority.
    fn reevaluate(&mut self, now: Timestamp, out: &mut Vec<Action>) {
        self.reevaluate_with(now, out, PriorityUpdate::Report);
    }

    fn reevaluate_with(&mut self, now: Timestamp, out: &mut Vec<Action>, update: PriorityUpdate) {
        let priority = effective_priority(self.base_priority, &self.trackers);
        if priority != self.priority && update != PriorityUpdate::Keep {
            self.priority = priority;
            // keepalived recomputes the down timer with the new skew and moves the running
            // deadline by the difference; it does not restart it (vrrp_set_effective_priority).
            self.shift_down_timer(self.down_timer, self.master_down_interval());
            // Risen above the master it hears: keepalived's preempt_delay window opens with
            // the master's next advert, now lower than us. It opens now: the engine hears only
            // changes, and a master whose adverts do not change sends none.
            if self.state == State::Backup
                && self.config.preempt
                && self.preempt_until.is_none()
                && self.master_priority.is_some_and(|master| master < priority)
            {
                self.preempt_window_open(now);
            }
            // keepalived (vrrp_set_effective_priority) reports every change, whatever the
            // state: MASTER_PRIORITY while master, BACKUP_PRIORITY otherwise.
            if self.config.notify_priority_changes
                && self.state != State::Stopped
                && update == PriorityUpdate::Report
            {
                out.push(Action::PriorityChanged {
                    state: self.state,
                    priority,
                });
            }
        }
        let fault = self.fault_reason();
        if fault
            .as_ref()
            .is_some_and(|reason| !matches!(reason, Reason::TrackerPending { .. }))
        {
            // keepalived's down_instance / vrrp_sync_fault: `wantstate` becomes FAULT.
            self.wish_master = false;
        }
        match (self.state, fault) {
            (State::Initialize | State::Stopped | State::Fault, Some(_)) => {}
            (State::Backup | State::Master, Some(reason)) => self.enter_fault(reason, out),
            (State::Fault, None) => self.recover(now, out),
            (_, None) => {}
        }
    }

    /// Moves the down timer's length, and a backup's running deadline, by `to - from`.
    fn shift_down_timer(&mut self, from: Duration, to: Duration) {
        let moved = |t: Duration| {
            if to >= from {
                t + (to - from)
            } else {
                t.saturating_sub(from - to)
            }
        };
        self.down_timer = moved(self.down_timer);
        if self.state == State::Backup
            && let Some(at) = self.master_down_at
        {
            self.master_down_at = Some(Timestamp::from_nanos(
                moved(Duration::from_nanos(at.as_nanos())).as_nanos() as u64,
            ));
        }
    }

    /// FAULT is over (keepalived's try_up_instance): an owner that still wishes MASTER (it was
    /// only waiting for its scripts' first results) becomes master at once - in a sync group
    /// when the group can; anything else goes BACKUP and waits Master_Down_Interval, the owner
    /// after a real fault included.
    fn recover(&mut self, now: Timestamp, out: &mut Vec<Action>) {
        let owner_wishing = self.is_owner() && self.wish_master;
        if owner_wishing && self.group.is_none() {
            self.become_master(now, Reason::Recovered, out);
        } else {
            self.enter_backup(now, Reason::Recovered, out);
            if owner_wishing {
                self.wants_master = true;
                self.promotion_requested = true;
            }
        }
        self.announce_unicast_source(out);
    }

    /// keepalived (try_up_instance): a unicast instance leaving FAULT announces its own source
    /// address once on its base interface, so that the master, which may have lost us from
    /// its neighbour cache, can send adverts to us at once instead of timing out on ARP.
    fn announce_unicast_source(&self, out: &mut Vec<Action>) {
        let (Destination::Unicast { .. }, Some(link), Some(source)) =
            (&self.config.destination, self.config.base_link, self.source)
        else {
            return;
        };
        let frame = match source {
            IpAddr::V4(addr) => announce::gratuitous_arp(link.mac.0, addr),
            IpAddr::V6(addr) => {
                announce::unsolicited_na(link.mac.0, addr, self.config.ipv6_forwarding)
            }
        };
        out.push(Action::Announce {
            frames: [AnnounceFrame {
                ifindex: link.ifindex,
                frame: Bytes::from(frame),
            }]
            .into(),
            repeat: 1,
            interval: Duration::ZERO,
        });
    }

    fn change_state(&mut self, to: State, reason: Reason, out: &mut Vec<Action>) {
        let from = std::mem::replace(&mut self.state, to);
        out.push(Action::StateChanged {
            from,
            to,
            priority: self.priority,
            reason,
        });
    }

    fn clear_timers(&mut self) {
        self.master_down_at = None;
        self.advert_at = None;
        self.second_garp_at = None;
        self.lower_prio_garps_at.clear();
        self.garp_refresh_at = None;
        self.preempt_until = None;
        self.preempt_window_closes_at = None;
        self.wants_master = false;
        self.promotion_requested = false;
    }

    fn enter_backup(&mut self, now: Timestamp, reason: Reason, out: &mut Vec<Action>) {
        self.clear_timers();
        self.master_adver_interval = self.config.advert_interval;
        self.entered_backup = now;
        self.last_advert_heard = None;
        self.arm_down_timer(now, self.master_down_interval());
        self.change_state(State::Backup, reason, out);
    }

    // RFC 5798 section 6.4.1 / 6.4.2 "transition to Master": advertise first, then take the
    // addresses, then announce them (keepalived's order).
    fn become_master(&mut self, now: Timestamp, reason: Reason, out: &mut Vec<Action>) {
        self.clear_timers();
        // RFC 5798 section 6.4.3: a master always sends at its own interval.
        self.master_adver_interval = self.config.advert_interval;
        self.send_advert(self.priority, out);
        self.advert_at = Some(now + self.config.advert_interval);
        out.push(Action::AddAddresses);
        self.announce(self.config.garp.master_repeat, out);
        self.second_garp_at = self.config.garp.master_delay.map(|delay| now + delay);
        self.garp_refresh_at = self.config.garp.master_refresh.map(|period| now + period);
        self.change_state(State::Master, reason, out);
    }

    /// MASTER -> BACKUP (a better master, or the sync group).
    fn leave_master(&mut self, now: Timestamp, reason: Reason, out: &mut Vec<Action>) {
        self.clear_timers();
        out.push(Action::CancelAnnouncements);
        out.push(Action::RemoveAddresses);
        self.entered_backup = now;
        self.arm_down_timer(now, self.master_down_interval());
        self.change_state(State::Backup, reason, out);
    }

    fn enter_fault(&mut self, reason: Reason, out: &mut Vec<Action>) {
        self.release_master(out);
        self.clear_timers();
        self.change_state(State::Fault, reason, out);
    }

    // A master that stops or fails sends priority 0 so backups take over after Skew_Time
    // (RFC 5798 section 6.4.3), then gives the addresses up.
    fn release_master(&mut self, out: &mut Vec<Action>) {
        if self.state == State::Master {
            match self.lost_source {
                Some(lost) if self.source.is_none() => out.push(Action::SendAdvert {
                    priority: Priority(0),
                    packets: build_adverts(&self.config, Some(lost), Priority(0)),
                }),
                _ => self.send_advert(Priority(0), out),
            }
            out.push(Action::CancelAnnouncements);
            out.push(Action::RemoveAddresses);
        }
    }

    fn shutdown(&mut self, out: &mut Vec<Action>) {
        if self.state == State::Stopped {
            return;
        }
        self.release_master(out);
        self.clear_timers();
        self.change_state(State::Stopped, Reason::Shutdown, out);
    }

    fn send_advert(&mut self, priority: Priority, out: &mut Vec<Action>) {
        if self.adverts.0 != priority {
            self.adverts = (priority, build_adverts(&self.config, self.source, priority));
        }
        out.push(Action::SendAdvert {
            priority,
            packets: Arc::clone(&self.adverts.1),
        });
    }

    /// Gratuitous ARPs / unsolicited NAs for every virtual address, `repeat` times each.
    fn announce(&self, repeat: u32, out: &mut Vec<Action>) {
        if repeat == 0 || self.announcements.is_empty() {
            return;
        }
        out.push(Action::Announce {
            frames: Arc::clone(&self.announcements),
            repeat,
            interval: self.config.garp.interval,
        });
    }

    // Sync group hooks (see `super::router`).

    /// Joins a sync group. keepalived (vrrp_sync_set_group, vrrp_complete_init) starts the
    /// members as MASTER at once only if every one of them says `state MASTER` and owns its
    /// addresses, and clears every member's wish for MASTER if any member is not such an
    /// owner; `group_start` and `keep_wish` are those verdicts.
    pub(crate) fn join_group(&mut self, name: &str, group_start: bool, keep_wish: bool) {
        self.group = Some(name.to_owned());
        self.start_as_master = group_start;
        self.wish_master &= keep_wish;
    }

    /// The instance's own wish and whether it owns the addresses, for [`Self::join_group`].
    pub(crate) fn start_wish(&self) -> (Option<super::config::InitialState>, bool, bool) {
        (
            self.config.initial_state,
            self.wish_master,
            self.config.is_owner(),
        )
    }

    pub(crate) fn wants_master(&self) -> bool {
        self.wants_master
    }

    /// Whether this instance just asked its group to go MASTER (once).
    pub(crate) fn take_promotion_request(&mut self) -> bool {
        std::mem::take(&mut self.promotion_requested)
    }

    /// In FAULT for a reason of its own (not because of its group).
    pub(crate) fn own_fault(&self) -> bool {
        !self.interface_up
            || self.source.is_none()
            || self.trackers.iter().any(Tracker::causes_fault)
    }

    /// Held in FAULT only because a weight-0 script has not reported yet.
    pub(crate) fn waits_for_first_results(&self) -> bool {
        self.state == State::Fault
            && matches!(self.fault_reason(), Some(Reason::TrackerPending { .. }))
    }

    pub(crate) fn tracks(&self, tracker: TrackerId) -> bool {
        self.trackers.iter().any(|t| t.id() == tracker)
    }

    pub(crate) fn promote(&mut self, now: Timestamp, group: &str, out: &mut Vec<Action>) {
        if self.state == State::Backup {
            self.become_master(
                now,
                Reason::SyncGroup {
                    group: group.to_owned(),
                },
                out,
            );
        }
    }

    /// keepalived's vrrp_sync_backup: the group's masters follow a member to BACKUP; a member
    /// already in BACKUP is left alone, its timer and its wish included.
    pub(crate) fn demote(&mut self, now: Timestamp, group: &str, out: &mut Vec<Action>) {
        if self.state == State::Master {
            self.leave_master(
                now,
                Reason::SyncGroup {
                    group: group.to_owned(),
                },
                out,
            );
        }
    }

    pub(crate) fn set_group_fault(&mut self, now: Timestamp, fault: bool, out: &mut Vec<Action>) {
        if self.group_fault == fault {
            return;
        }
        self.group_fault = fault;
        self.reevaluate(now, out);
    }
}

/// The advert packets for `priority` from `source`: one frame to the multicast group, or one
/// IP packet per unicast peer. [`InstanceConfig::new`] checked that every address has the
/// instance's family; without a source there is nothing to send (the instance is in FAULT).
fn build_adverts(
    config: &InstanceConfig,
    source: Option<IpAddr>,
    priority: Priority,
) -> Arc<[AdvertPacket]> {
    let Some(source) = source else {
        return Arc::new([]);
    };
    let advert = Advert {
        version: config.version(),
        vrid: config.vrid,
        priority,
        interval: config.advert_interval,
        auth: config.auth,
        addresses: config.advertised.clone(),
    };
    let frame = |dst: IpAddr, ttl: u8| {
        let mut spec = FrameSpec::multicast(source, advert.clone());
        spec.src_mac = config.advert_mac.0;
        spec.dst = dst;
        spec.ttl = ttl;
        spec.checksum = config.checksum;
        build_frame(&spec).expect("InstanceConfig::new checked the address families")
    };
    match &config.destination {
        Destination::Multicast { group } => [AdvertPacket::Multicast {
            frame: Bytes::from(frame(*group, vrrp_common::proto::VRRP_TTL)),
        }]
        .into(),
        Destination::Unicast { peers, ttl } => peers
            .iter()
            .map(|peer| {
                let frame = Bytes::from(frame(*peer, *ttl));
                AdvertPacket::Unicast {
                    peer: *peer,
                    packet: frame.slice(vrrp_common::proto::ETH_HEADER_LEN..),
                }
            })
            .collect(),
    }
}

fn build_announcements(config: &InstanceConfig) -> Arc<[AnnounceFrame]> {
    config
        .announced
        .iter()
        .map(|announced| AnnounceFrame {
            ifindex: announced.ifindex,
            frame: Bytes::from(match announced.addr {
                IpAddr::V4(addr) => announce::gratuitous_arp(announced.mac.0, addr),
                IpAddr::V6(addr) => {
                    announce::unsolicited_na(announced.mac.0, addr, config.ipv6_forwarding)
                }
            }),
        })
        .collect()
}

/// RFC 5798 section 6.4.3: on equal priority the higher primary address wins, compared as
/// unsigned integers.
fn ip_greater(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => u32::from(a) > u32::from(b),
        (IpAddr::V6(a), IpAddr::V6(b)) => u128::from(a) > u128::from(b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::config::{InstanceSettings, MacAddr};
    use crate::protocol::Family;

    #[test]
    fn unicast_adverts_are_ip_packets_one_per_peer() {
        let mut settings = InstanceSettings::new(
            "VI_1",
            51,
            "192.0.2.1".parse().unwrap(),
            MacAddr([2, 0, 0, 0, 0, 1]),
        );
        settings.destination = Destination::Unicast {
            peers: vec!["192.0.2.2".parse().unwrap(), "192.0.2.3".parse().unwrap()],
            ttl: 255,
        };
        let config = InstanceConfig::new(settings).unwrap();
        let packets = build_adverts(&config, config.source, Priority(100));
        assert_eq!(packets.len(), 2);
        for (packet, last) in packets.iter().zip([2u8, 3]) {
            let AdvertPacket::Unicast { peer, packet } = packet else {
                panic!("unicast instance built {packet:?}");
            };
            assert_eq!(*peer, IpAddr::from([192, 0, 2, last]));
            assert_eq!(
                packet[0] >> 4,
                4,
                "starts with the IPv4 header, no Ethernet"
            );
            assert_eq!(&packet[16..20], &[192, 0, 2, last]);
        }
    }

    #[test]
    fn a_family_mismatch_is_refused_once_at_construction() {
        let mut settings = InstanceSettings::new(
            "VI_1",
            51,
            "192.0.2.1".parse().unwrap(),
            MacAddr([2, 0, 0, 0, 0, 1]),
        );
        settings.destination = Destination::Unicast {
            peers: vec!["2001:db8::2".parse().unwrap()],
            ttl: 255,
        };
        assert!(matches!(
            InstanceConfig::new(settings),
            Err(crate::engine::InstanceConfigError::MixedFamilies { .. })
        ));
    }

    #[test]
    fn family_of_the_source_decides_the_multicast_group() {
        let settings = InstanceSettings::new(
            "VI_6",
            51,
            "fe80::1".parse().unwrap(),
            MacAddr([2, 0, 0, 0, 0, 1]),
        );
        assert_eq!(settings.flavor.family(), Family::Ipv6);
    }
}
