//! One VRRP instance as a pure state machine: `handle(now, event) -> actions`, with no IO and
//! no clock (RFC 5798 section 6, keepalived's behaviour where it differs).

use std::net::IpAddr;
use std::time::Duration;

use vrrp_common::proto::{MCAST_GROUP_V4, MCAST_GROUP_V6};

use super::config::InstanceConfig;
use super::events::{Action, Event, Reason, State};
use super::time::Timestamp;
use super::timers::{master_down_interval, skew_time};
use super::tracking::{Tracker, effective_priority};
use crate::protocol::{Advert, Auth, Family, FrameSpec, Priority, Version, announce, build_frame};

/// A running instance.
#[derive(Debug)]
pub struct Instance {
    config: InstanceConfig,
    state: State,
    priority: Priority,
    trackers: Vec<Tracker>,
    interface_up: bool,
    /// A member of this instance's sync group is in FAULT.
    group_fault: bool,
    /// In a sync group, the master-down timer only raises `wants_master`; the group promotes.
    gated: bool,
    wants_master: bool,
    /// RFC 5798 section 6.1: the master's advertised interval (v3 adopts it; v2 keeps ours).
    master_adver_interval: Duration,
    last_advert_heard: Option<Timestamp>,
    entered_backup: Timestamp,
    master_down_at: Option<Timestamp>,
    advert_at: Option<Timestamp>,
    second_garp_at: Option<Timestamp>,
    garp_refresh_at: Option<Timestamp>,
    /// End of the `preempt_delay` window, started by the first lower-priority advert.
    preempt_until: Option<Timestamp>,
}

impl Instance {
    pub fn new(config: InstanceConfig) -> Self {
        let trackers: Vec<Tracker> = config.trackers.iter().cloned().map(Tracker::new).collect();
        let priority = effective_priority(config.priority, &trackers);
        let master_adver_interval = config.advert_interval;
        Self {
            config,
            state: State::Initialize,
            priority,
            trackers,
            interface_up: true,
            group_fault: false,
            gated: false,
            wants_master: false,
            master_adver_interval,
            last_advert_heard: None,
            entered_backup: Timestamp::ZERO,
            master_down_at: None,
            advert_at: None,
            second_garp_at: None,
            garp_refresh_at: None,
            preempt_until: None,
        }
    }

    pub fn config(&self) -> &InstanceConfig {
        &self.config
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Priority after tracking (what adverts carry and elections compare).
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// The earliest timer; the shell delivers [`Event::Timer`] then.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        [
            self.master_down_at,
            self.advert_at,
            self.second_garp_at,
            self.garp_refresh_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn handle(&mut self, now: Timestamp, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Startup => self.startup(now, &mut out),
            Event::Advert {
                src,
                priority,
                interval,
            } => self.advert(now, src, priority, interval, &mut out),
            Event::Timer => self.timers(now, &mut out),
            Event::InterfaceUp | Event::InterfaceDown => {
                self.interface_up = event == Event::InterfaceUp;
                self.reevaluate(now, &mut out);
            }
            Event::Tracker { name, up } => {
                for tracker in self.trackers.iter_mut().filter(|t| t.name() == name) {
                    tracker.set_up(up);
                }
                self.reevaluate(now, &mut out);
            }
            Event::ScriptResult { name, success } => {
                for tracker in self.trackers.iter_mut().filter(|t| t.name() == name) {
                    tracker.script_result(success);
                }
                self.reevaluate(now, &mut out);
            }
            Event::Shutdown => self.shutdown(&mut out),
        }
        out
    }

    // RFC 5798 section 6.4.1: the owner becomes master at once, others wait as backup.
    fn startup(&mut self, now: Timestamp, out: &mut Vec<Action>) {
        if self.state != State::Initialize {
            return;
        }
        if let Some(reason) = self.fault_reason() {
            self.change_state(State::Fault, reason, out);
        } else if self.config.is_owner() {
            self.become_master(now, Reason::Startup, out);
        } else {
            self.enter_backup(now, Reason::Startup, out);
        }
    }

    fn master_down_interval(&self) -> Duration {
        master_down_interval(
            self.config.version,
            self.priority,
            self.master_adver_interval,
            self.config.down_timer_adverts,
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

    // RFC 5798 section 6.4.2.
    fn backup_hears(&mut self, now: Timestamp, priority: Priority, interval: Duration) {
        if priority.0 == 0 {
            self.last_advert_heard = Some(now);
            // The master is leaving: take over after Skew_Time instead of the full interval.
            self.wants_master = false;
            self.master_down_at = Some(
                now + skew_time(
                    self.config.version,
                    self.priority,
                    self.master_adver_interval,
                ),
            );
            return;
        }
        let lower = priority < self.priority;
        if lower && self.config.preempt && !self.preempt_window_open(now) {
            // A lower-priority master while we may preempt: ignore it and take over when
            // the down timer runs out.
            return;
        }
        if !lower {
            self.preempt_until = None;
        }
        self.last_advert_heard = Some(now);
        if self.config.version == Version::V3 {
            self.master_adver_interval = interval;
        }
        self.wants_master = false;
        self.master_down_at = Some(now + self.master_down_interval());
    }

    /// keepalived's `preempt_delay`: the window opens with the first lower-priority advert.
    fn preempt_window_open(&mut self, now: Timestamp) -> bool {
        if self.config.preempt_delay.is_zero() {
            return false;
        }
        let until = *self
            .preempt_until
            .get_or_insert(now + self.config.preempt_delay);
        now < until
    }

    // RFC 5798 section 6.4.3 with keepalived's additions.
    fn master_hears(
        &mut self,
        now: Timestamp,
        src: IpAddr,
        priority: Priority,
        interval: Duration,
        out: &mut Vec<Action>,
    ) {
        if priority.0 == 0 {
            // Another master is leaving: advertise at once so backups do not take over.
            self.send_advert(now, self.priority, out);
            return;
        }
        let higher = priority > self.priority
            || (priority == self.priority && ip_greater(src, self.config.primary_address));
        if higher {
            if self.config.higher_prio_send_advert {
                self.send_advert(now, self.priority, out);
            }
            if self.config.version == Version::V3 {
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
        // lower_prio_no_advert) so it backs off at once, and may repeat its announcements.
        if !self.config.lower_prio_no_advert {
            self.send_advert(now, self.priority, out);
        }
        if self.config.garp.lower_prio_repeat > 0 {
            self.announce(self.config.garp.lower_prio_repeat, out);
        }
        out.push(Action::MasterRxLowerPriority {
            instance: self.config.name.clone(),
            from: src,
            priority,
        });
    }

    fn timers(&mut self, now: Timestamp, out: &mut Vec<Action>) {
        if self.master_down_at.is_some_and(|at| at <= now) {
            self.master_down_at = None;
            if self.state == State::Backup {
                let silent_for = now.since(self.last_advert_heard.unwrap_or(self.entered_backup));
                if self.gated {
                    self.wants_master = true;
                } else {
                    self.become_master(now, Reason::MasterDown { silent_for }, out);
                }
            }
        }
        if self.advert_at.is_some_and(|at| at <= now) {
            self.send_advert(now, self.priority, out);
        }
        if self.second_garp_at.is_some_and(|at| at <= now) {
            self.second_garp_at = None;
            self.announce(self.config.garp.master_repeat, out);
        }
        if let Some(at) = self.garp_refresh_at.filter(|at| *at <= now) {
            let period = self.config.garp.master_refresh.unwrap_or(Duration::MAX);
            self.garp_refresh_at = Some(at + period);
            self.announce(self.config.garp.master_refresh_repeat, out);
        }
    }

    /// Why the instance must be in FAULT now, if it must.
    fn fault_reason(&self) -> Option<Reason> {
        if !self.interface_up {
            return Some(Reason::InterfaceDown);
        }
        if let Some(tracker) = self.trackers.iter().find(|t| t.causes_fault()) {
            return Some(Reason::TrackerFailed {
                name: tracker.name().to_owned(),
            });
        }
        if self.group_fault {
            return Some(Reason::SyncGroup {
                group: String::new(),
            });
        }
        None
    }

    /// After anything that may change the fault condition or the priority.
    fn reevaluate(&mut self, now: Timestamp, out: &mut Vec<Action>) {
        let priority = effective_priority(self.config.priority, &self.trackers);
        if priority != self.priority {
            self.priority = priority;
            if self.state == State::Backup {
                // keepalived re-arms the down timer with the new skew.
                self.master_down_at = Some(now + self.master_down_interval());
            }
            if self.config.notify_priority_changes
                && matches!(self.state, State::Master | State::Backup)
            {
                out.push(Action::PriorityChanged {
                    instance: self.config.name.clone(),
                    state: self.state,
                    priority,
                });
            }
        }
        let fault = self.fault_reason();
        match (self.state, fault) {
            (State::Initialize | State::Stopped | State::Fault, Some(_)) => {}
            (State::Backup | State::Master, Some(reason)) => self.enter_fault(reason, out),
            (State::Fault, None) => {
                if self.config.is_owner() {
                    self.become_master(now, Reason::Recovered, out);
                } else {
                    self.enter_backup(now, Reason::Recovered, out);
                }
            }
            (_, None) => {}
        }
    }

    fn change_state(&mut self, to: State, reason: Reason, out: &mut Vec<Action>) {
        let from = std::mem::replace(&mut self.state, to);
        out.push(Action::StateChanged {
            instance: self.config.name.clone(),
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
        self.garp_refresh_at = None;
        self.preempt_until = None;
        self.wants_master = false;
    }

    fn enter_backup(&mut self, now: Timestamp, reason: Reason, out: &mut Vec<Action>) {
        self.clear_timers();
        self.master_adver_interval = self.config.advert_interval;
        self.entered_backup = now;
        self.last_advert_heard = None;
        self.master_down_at = Some(now + self.master_down_interval());
        self.change_state(State::Backup, reason, out);
    }

    // RFC 5798 section 6.4.1 / 6.4.2 "transition to Master": advertise first, then take the
    // addresses, then announce them (keepalived's order).
    fn become_master(&mut self, now: Timestamp, reason: Reason, out: &mut Vec<Action>) {
        self.clear_timers();
        self.send_advert(now, self.priority, out);
        out.push(Action::AddAddresses {
            iface: self.config.iface.clone(),
            addresses: self.config.virtual_addresses.clone(),
        });
        self.announce(self.config.garp.master_repeat, out);
        self.second_garp_at = self.config.garp.master_delay.map(|delay| now + delay);
        self.garp_refresh_at = self.config.garp.master_refresh.map(|period| now + period);
        self.change_state(State::Master, reason, out);
    }

    /// MASTER -> BACKUP (a better master, or the sync group).
    fn leave_master(&mut self, now: Timestamp, reason: Reason, out: &mut Vec<Action>) {
        self.clear_timers();
        out.push(Action::RemoveAddresses {
            iface: self.config.iface.clone(),
            addresses: self.config.virtual_addresses.clone(),
        });
        self.entered_backup = now;
        self.master_down_at = Some(now + self.master_down_interval());
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
            out.push(self.advert_action(Priority(0)));
            out.push(Action::RemoveAddresses {
                iface: self.config.iface.clone(),
                addresses: self.config.virtual_addresses.clone(),
            });
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

    fn send_advert(&mut self, now: Timestamp, priority: Priority, out: &mut Vec<Action>) {
        out.push(self.advert_action(priority));
        self.advert_at = Some(now + self.config.advert_interval);
    }

    /// The advert frames for `priority`: to the multicast group, or one per unicast peer.
    fn advert_action(&self, priority: Priority) -> Action {
        let config = &self.config;
        let advert = Advert {
            version: config.version,
            vrid: config.vrid,
            priority,
            interval: config.advert_interval,
            auth: if config.version == Version::V2 {
                config.auth
            } else {
                Auth::None
            },
            addresses: config
                .virtual_addresses
                .iter()
                .map(|v| v.addr)
                .filter(|addr| Family::of(addr) == config.family)
                .collect(),
        };
        let group = match config.family {
            Family::Ipv4 => IpAddr::from(MCAST_GROUP_V4),
            Family::Ipv6 => IpAddr::from(MCAST_GROUP_V6),
        };
        let destinations = if config.unicast_peers.is_empty() {
            vec![group]
        } else {
            config.unicast_peers.clone()
        };
        let frames = destinations
            .into_iter()
            .filter_map(|dst| {
                let mut spec = FrameSpec::multicast(config.primary_address, advert.clone());
                spec.src_mac = config.source_mac();
                spec.dst = dst;
                spec.checksum = config.checksum;
                build_frame(&spec).ok()
            })
            .collect();
        Action::SendAdvert {
            iface: config.iface.clone(),
            priority,
            frames,
        }
    }

    /// Gratuitous ARPs / unsolicited NAs for every virtual address, `repeat` times each.
    fn announce(&self, repeat: u32, out: &mut Vec<Action>) {
        if repeat == 0 || self.config.virtual_addresses.is_empty() {
            return;
        }
        let mac = self.config.source_mac();
        let frames = self
            .config
            .virtual_addresses
            .iter()
            .map(|v| match v.addr {
                IpAddr::V4(addr) => announce::gratuitous_arp(mac, addr),
                IpAddr::V6(addr) => {
                    announce::unsolicited_na(mac, addr, self.config.ipv6_forwarding)
                }
            })
            .collect();
        out.push(Action::Announce {
            iface: self.config.iface.clone(),
            frames,
            repeat,
            interval: self.config.garp.interval,
        });
    }

    // Sync group hooks (see `super::router`).

    pub(crate) fn set_gated(&mut self, gated: bool) {
        self.gated = gated;
    }

    pub(crate) fn wants_master(&self) -> bool {
        self.wants_master
    }

    /// In FAULT for a reason of its own (not because of its group).
    pub(crate) fn own_fault(&self) -> bool {
        !self.interface_up || self.trackers.iter().any(Tracker::causes_fault)
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

    pub(crate) fn demote(&mut self, now: Timestamp, group: &str, out: &mut Vec<Action>) {
        match self.state {
            State::Master => self.leave_master(
                now,
                Reason::SyncGroup {
                    group: group.to_owned(),
                },
                out,
            ),
            State::Backup if self.wants_master => {
                self.wants_master = false;
                self.master_down_at = Some(now + self.master_down_interval());
            }
            _ => {}
        }
    }

    pub(crate) fn set_group_fault(
        &mut self,
        now: Timestamp,
        fault: bool,
        group: &str,
        out: &mut Vec<Action>,
    ) {
        if self.group_fault == fault {
            return;
        }
        self.group_fault = fault;
        let before = out.len();
        self.reevaluate(now, out);
        // Name the group in the reason the generic path could not know.
        for action in &mut out[before..] {
            if let Action::StateChanged {
                reason: Reason::SyncGroup { group: name },
                ..
            } = action
            {
                *name = group.to_owned();
            }
        }
    }
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
