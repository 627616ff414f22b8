//! All instances of one daemon and their sync groups (keepalived's `vrrp_sync_group`): any
//! member in FAULT puts the whole group in FAULT, the group becomes MASTER only when every
//! member wants to, and one member going BACKUP takes the others along.

use std::collections::{BTreeMap, BTreeSet};

use super::config::{InstanceConfig, TrackerId};
use super::events::{Action, Event, Reason, State};
use super::instance::Instance;
use super::journal::{Input, JournalEntry};
use super::time::Timestamp;

/// Index of an instance in a [`Router`], in the order the configurations were given.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct InstanceId(pub usize);

/// A sync group: its name (for logs and notify scripts) and its members.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncGroupConfig {
    pub name: String,
    pub members: Vec<InstanceId>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RouterError {
    #[error("sync group {group} names instance #{}, but there are only {count} instances", instance.0)]
    UnknownMember {
        group: String,
        instance: InstanceId,
        count: usize,
    },
    #[error(
        "instance {instance} is in sync groups {first} and {second}; an instance may be in one group only"
    )]
    TwoGroups {
        instance: String,
        first: String,
        second: String,
    },
    #[error("instance {instance} would continue running instance #{}, which does not exist or another instance continues", old.0)]
    Carry { instance: String, old: InstanceId },
    #[error("{carry} carried instances given for {instances} instances")]
    CarryLength { carry: usize, instances: usize },
}

/// An action and the instance it belongs to.
pub type RoutedAction = (InstanceId, Action);

struct Group {
    name: String,
    members: Vec<usize>,
    /// The group's own state, for its notify scripts; `None` until it has one (keepalived's
    /// INIT: before startup, or while a member waits for its scripts' first results).
    state: Option<State>,
}

pub struct Router {
    instances: Vec<Instance>,
    groups: Vec<Group>,
    group_of: Vec<Option<usize>>,
    /// Inputs kept for the flight recorder while it runs.
    journal: Option<Vec<JournalEntry>>,
    /// One instance's actions while it handles an event, reused (no allocation per event).
    scratch: Vec<Action>,
    /// Instances an event may have changed since [`Router::take_changed`] last ran, once each:
    /// their deadlines and receive policies are what the IO shell re-reads.
    changed: Vec<InstanceId>,
    is_changed: Vec<bool>,
}

impl Router {
    pub fn new(
        configs: Vec<InstanceConfig>,
        sync_groups: Vec<SyncGroupConfig>,
    ) -> Result<Self, RouterError> {
        let names: Vec<&str> = configs.iter().map(|c| c.name()).collect();
        let group_of = memberships(&names, &sync_groups)?;
        let count = configs.len();
        let mut router = Self {
            instances: configs.into_iter().map(Instance::new).collect(),
            groups: Vec::new(),
            group_of,
            journal: None,
            scratch: Vec::new(),
            changed: Vec::with_capacity(count),
            is_changed: vec![false; count],
        };
        router.join_groups(sync_groups);
        Ok(router)
    }

    /// Whether `sync_groups` fit `configs` (what [`Router::new`] and [`Router::reconfigure`]
    /// refuse), to check a reload before anything changes.
    pub fn check_groups(
        configs: &[InstanceConfig],
        sync_groups: &[SyncGroupConfig],
    ) -> Result<(), RouterError> {
        let names: Vec<&str> = configs.iter().map(|c| c.name()).collect();
        memberships(&names, sync_groups).map(|_| ())
    }

    /// Sets up the sync groups, whose memberships [`memberships`] checked.
    fn join_groups(&mut self, sync_groups: Vec<SyncGroupConfig>) {
        self.groups.clear();
        for group in sync_groups {
            let members: Vec<usize> = group.members.iter().map(|m| m.0).collect();
            // keepalived decides how a group starts from all its members' wishes.
            let wishes: Vec<_> = members
                .iter()
                .map(|&m| self.instances[m].start_wish())
                .collect();
            let group_start = wishes.iter().all(|&(state, _, owner)| {
                state == Some(super::config::InitialState::Master) && owner
            });
            let keep_wish = !(wishes.iter().any(|&(_, wish, _)| wish)
                && wishes.iter().any(|&(_, wish, owner)| !wish || !owner));
            for &m in &members {
                self.instances[m].join_group(&group.name, group_start, keep_wish);
            }
            self.groups.push(Group {
                name: group.name,
                members,
                state: None,
            });
        }
    }

    /// A reload: the instances become `configs`, in that order. `carry[i]` names the running
    /// instance the new instance `i` continues (the same VRID, family and link), which keeps
    /// its state and timers (see [`Instance::reconfigure`]); the others are new and wait for
    /// [`Event::Startup`], knowing what the kept trackers they share last said. Running
    /// instances not carried are dropped: the caller stops them first ([`Event::Shutdown`]).
    /// `trackers` maps the old ids of trackers still in use to their new ids. On an error
    /// nothing changed.
    pub fn reconfigure(
        &mut self,
        now: Timestamp,
        configs: Vec<InstanceConfig>,
        sync_groups: Vec<SyncGroupConfig>,
        carry: Vec<Option<InstanceId>>,
        trackers: BTreeMap<TrackerId, TrackerId>,
    ) -> Result<Vec<RoutedAction>, RouterError> {
        let names: Vec<&str> = configs.iter().map(|c| c.name()).collect();
        let group_of = memberships(&names, &sync_groups)?;
        let mut seen = BTreeSet::new();
        for (index, old) in carry.iter().enumerate() {
            if let Some(old) = old
                && (old.0 >= self.instances.len() || !seen.insert(*old))
            {
                return Err(RouterError::Carry {
                    instance: names.get(index).copied().unwrap_or_default().to_owned(),
                    old: *old,
                });
            }
        }
        if carry.len() != configs.len() {
            return Err(RouterError::CarryLength {
                carry: carry.len(),
                instances: configs.len(),
            });
        }
        self.note(now, || Input::Reconfigure {
            instances: configs.iter().map(|c| c.settings().clone()).collect(),
            sync_groups: sync_groups.clone(),
            carry: carry.clone(),
            trackers: trackers.clone(),
        });

        // What the kept trackers last said, under their new ids, for new instances tracking
        // them (keepalived keeps one result per script, whoever tracks it).
        let mut known = BTreeMap::new();
        for instance in &self.instances {
            for tracker in instance.trackers() {
                if let Some(new_id) = trackers.get(&tracker.id()) {
                    known.entry(*new_id).or_insert_with(|| tracker.clone());
                }
            }
        }
        let mut running: Vec<Option<Instance>> = std::mem::take(&mut self.instances)
            .into_iter()
            .map(Some)
            .collect();
        let mut out = Vec::new();
        for (index, (config, old)) in configs.into_iter().zip(carry).enumerate() {
            let instance = match old.and_then(|old| running[old.0].take()) {
                Some(mut instance) => {
                    let mut actions = Vec::new();
                    instance.reconfigure(now, config, &trackers, &mut actions);
                    out.extend(actions.into_iter().map(|a| (InstanceId(index), a)));
                    instance
                }
                None => Instance::with_known_trackers(config, &known),
            };
            self.instances.push(instance);
        }
        self.group_of = group_of;
        // A group that keeps its name keeps its state: its notifies fire on its next change,
        // not again for the state it is in.
        let states: BTreeMap<String, Option<State>> = self
            .groups
            .iter()
            .map(|g| (g.name.clone(), g.state))
            .collect();
        self.join_groups(sync_groups);
        for group in &mut self.groups {
            group.state = states.get(&group.name).copied().flatten();
        }
        // Every instance may have new deadlines and a new receive policy, under a new id.
        self.changed.clear();
        self.is_changed = vec![false; self.instances.len()];
        for index in 0..self.instances.len() {
            self.mark_changed(index);
        }
        // Group faults as the new groups have them (a new member in FAULT, a member gone).
        for index in 0..self.instances.len() {
            let fault = self.group_of[index].is_some_and(|group| {
                self.groups[group]
                    .members
                    .iter()
                    .any(|&m| self.instances[m].own_fault())
            });
            let mut actions = Vec::new();
            self.instances[index].set_group_fault(now, fault, &mut actions);
            out.extend(actions.into_iter().map(|a| (InstanceId(index), a)));
        }
        Ok(out)
    }

    fn mark_changed(&mut self, index: usize) {
        if !self.is_changed[index] {
            self.is_changed[index] = true;
            self.changed.push(InstanceId(index));
        }
    }

    /// Moves the instances that handled an event since the last call into `out` (which is
    /// cleared first), each once: everything else kept its deadlines and receive policy.
    pub fn take_changed(&mut self, out: &mut Vec<InstanceId>) {
        out.clear();
        for id in &self.changed {
            self.is_changed[id.0] = false;
        }
        out.append(&mut self.changed);
    }

    pub fn instances(&self) -> impl Iterator<Item = (InstanceId, &Instance)> {
        self.instances
            .iter()
            .enumerate()
            .map(|(i, instance)| (InstanceId(i), instance))
    }

    pub fn instance(&self, id: InstanceId) -> &Instance {
        &self.instances[id.0]
    }

    pub fn len(&self) -> usize {
        self.instances.len()
    }

    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    pub fn find(&self, name: &str) -> Option<InstanceId> {
        self.instances
            .iter()
            .position(|i| i.name() == name)
            .map(InstanceId)
    }

    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.instances
            .iter()
            .filter_map(Instance::next_deadline)
            .min()
    }

    /// Starts (or stops) keeping every input for [`Router::take_journal`].
    pub fn keep_journal(&mut self, on: bool) {
        self.journal = on.then(Vec::new);
    }

    /// The inputs kept since the last call (empty when the journal is off).
    pub fn take_journal(&mut self) -> Vec<JournalEntry> {
        self.journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn note(&mut self, at: Timestamp, input: impl FnOnce() -> Input) {
        if let Some(journal) = &mut self.journal {
            journal.push(JournalEntry { at, input: input() });
        }
    }

    /// One event for one instance, then whatever its sync group does about it.
    pub fn handle(&mut self, now: Timestamp, id: InstanceId, event: Event) -> Vec<RoutedAction> {
        let mut out = Vec::new();
        self.handle_into(now, id, event, &mut out);
        out
    }

    /// [`Router::handle`] appending to `out`: with `out` reused, an event that sends an
    /// advert allocates nothing.
    pub fn handle_into(
        &mut self,
        now: Timestamp,
        id: InstanceId,
        event: Event,
        out: &mut Vec<RoutedAction>,
    ) {
        self.note(now, || Input::Event {
            instance: id,
            event: event.clone(),
        });
        self.dispatch(now, id, event, out);
    }

    /// [`Router::handle_into`] without the journal (for events it noted otherwise).
    fn dispatch(
        &mut self,
        now: Timestamp,
        id: InstanceId,
        event: Event,
        out: &mut Vec<RoutedAction>,
    ) {
        let from = out.len();
        self.handle_member(now, id, event, out);
        if let Some(group) = self.group_of[id.0] {
            self.follow_group(group, id, from, out);
        }
    }

    /// The instance's own actions and its sync group's response, without the group's state.
    fn handle_member(
        &mut self,
        now: Timestamp,
        id: InstanceId,
        event: Event,
        out: &mut Vec<RoutedAction>,
    ) {
        self.mark_changed(id.0);
        let mut actions = std::mem::take(&mut self.scratch);
        let transition = self.instances[id.0].handle(now, event, &mut actions);
        let heard_lower = actions
            .iter()
            .any(|a| matches!(a, Action::MasterRxLowerPriority { .. }));
        out.extend(actions.drain(..).map(|action| (id, action)));
        self.scratch = actions;
        let left_master = transition
            .as_ref()
            .is_some_and(|t| t.from == State::Master && t.to == State::Backup);
        self.coordinate(now, id.0, left_master, heard_lower, out);
    }

    /// An event for every instance (startup, shutdown).
    pub fn broadcast(&mut self, now: Timestamp, event: &Event) -> Vec<RoutedAction> {
        self.note(now, || Input::Broadcast(event.clone()));
        let mut out = Vec::new();
        if *event == Event::Startup {
            // keepalived (vrrp_complete_init) puts every member of a group with a faulty member
            // in FAULT before any of them leaves INIT: none passes through BACKUP first.
            for group in 0..self.groups.len() {
                let members = self.groups[group].members.clone();
                let fault = members.iter().any(|&m| self.instances[m].own_fault());
                for m in members {
                    let mut actions = Vec::new();
                    self.instances[m].set_group_fault(now, fault, &mut actions);
                    out.extend(actions.into_iter().map(|a| (InstanceId(m), a)));
                }
            }
        }
        let whole_daemon = matches!(event, Event::Startup | Event::Shutdown);
        for index in 0..self.instances.len() {
            if whole_daemon {
                // The groups' states follow once every instance has moved.
                self.handle_member(now, InstanceId(index), event.clone(), &mut out);
            } else {
                self.dispatch(now, InstanceId(index), event.clone(), &mut out);
            }
        }
        match event {
            Event::Startup => {
                // keepalived (vrrp_init_state) sends the groups' notifies before any
                // instance's.
                let mut first = Vec::new();
                for group in 0..self.groups.len() {
                    first.extend(self.initial_group_state(group));
                }
                out.splice(0..0, first);
            }
            Event::Shutdown => {
                // keepalived (notify_shutdown): every instance's STOP, then every group's.
                for group in &mut self.groups {
                    if group.state != Some(State::Stopped) {
                        group.state = Some(State::Stopped);
                        out.push((
                            InstanceId(group.members[0]),
                            Action::SyncGroupState {
                                group: group.name.clone(),
                                state: State::Stopped,
                            },
                        ));
                    }
                }
            }
            _ => {}
        }
        out
    }

    /// The group's state once its members have started: FAULT if one is in FAULT, MASTER if
    /// all are masters (a group of owners), BACKUP otherwise; none while a member waits for
    /// its scripts' first results (keepalived's INIT, which sends nothing).
    fn initial_group_state(&mut self, group: usize) -> Option<RoutedAction> {
        let Group {
            name,
            members,
            state,
        } = &mut self.groups[group];
        let states: Vec<State> = members.iter().map(|&m| self.instances[m].state()).collect();
        let waiting = members
            .iter()
            .any(|&m| self.instances[m].waits_for_first_results());
        let initial = if members.iter().any(|&m| self.instances[m].own_fault()) {
            State::Fault
        } else if waiting {
            return None;
        } else if states.iter().all(|&s| s == State::Master) {
            State::Master
        } else {
            State::Backup
        };
        *state = Some(initial);
        Some((
            InstanceId(members[0]),
            Action::SyncGroupState {
                group: name.clone(),
                state: initial,
            },
        ))
    }

    /// After `changed` and its group moved (the actions from `from` on): keepalived's group
    /// state follows the members (vrrp_sync_fault, vrrp_sync_master, vrrp_sync_backup), once
    /// per change. A member held in FAULT only until its scripts report moves nothing.
    fn follow_group(
        &mut self,
        group: usize,
        changed: InstanceId,
        from: usize,
        out: &mut Vec<RoutedAction>,
    ) {
        let members = &self.groups[group].members;
        let mut entered = (false, false, false); // (FAULT, MASTER, BACKUP)
        for (id, action) in &out[from..] {
            if let Action::StateChanged { to, reason, .. } = action
                && members.contains(&id.0)
            {
                match to {
                    State::Fault if !matches!(reason, Reason::TrackerPending { .. }) => {
                        entered.0 = true
                    }
                    State::Master => entered.1 = true,
                    State::Backup => entered.2 = true,
                    _ => {}
                }
            }
        }
        let next = match entered {
            (true, _, _) => State::Fault,
            (_, true, _) => State::Master,
            (_, _, true) => State::Backup,
            _ => return,
        };
        let group = &mut self.groups[group];
        if group.state != Some(next) {
            group.state = Some(next);
            out.push((
                changed,
                Action::SyncGroupState {
                    group: group.name.clone(),
                    state: next,
                },
            ));
        }
    }

    /// A tracker's report for every instance that tracks it.
    pub fn tracker_event(&mut self, now: Timestamp, event: &Event) -> Vec<RoutedAction> {
        let tracker = match event {
            Event::Tracker { tracker, .. }
            | Event::TrackerValue { tracker, .. }
            | Event::ScriptResult { tracker, .. } => *tracker,
            _ => return self.broadcast(now, event),
        };
        self.note(now, || Input::Tracker(event.clone()));
        let mut out = Vec::new();
        for index in 0..self.instances.len() {
            if self.instances[index].tracks(tracker) {
                self.dispatch(now, InstanceId(index), event.clone(), &mut out);
            }
        }
        out
    }

    /// Instances that track `tracker`.
    pub fn trackers_of(&self, tracker: TrackerId) -> impl Iterator<Item = InstanceId> + '_ {
        self.instances()
            .filter(move |(_, i)| i.tracks(tracker))
            .map(|(id, _)| id)
    }

    /// [`Event::Timer`] for every instance whose deadline has come.
    pub fn handle_timers(&mut self, now: Timestamp) -> Vec<RoutedAction> {
        self.note(now, || Input::Timers);
        let mut out = Vec::new();
        for index in 0..self.instances.len() {
            if self.instances[index]
                .next_deadline()
                .is_some_and(|at| at <= now)
            {
                self.dispatch(now, InstanceId(index), Event::Timer, &mut out);
            }
        }
        out
    }

    fn coordinate(
        &mut self,
        now: Timestamp,
        changed: usize,
        left_master: bool,
        heard_lower: bool,
        out: &mut Vec<RoutedAction>,
    ) {
        let Some(group) = self.group_of[changed] else {
            return;
        };
        for index in 0..self.groups[group].members.len() {
            self.mark_changed(self.groups[group].members[index]);
        }
        let Group { name, members, .. } = &self.groups[group];
        let mut actions = Vec::new();
        let mut flush = |member: usize, actions: &mut Vec<Action>| {
            out.extend(actions.drain(..).map(|a| (InstanceId(member), a)));
        };

        // keepalived moves the member that changed first, then the others in group order
        // (vrrp_sync_fault, vrrp_sync_backup after try_up_instance, vrrp_sync_master).
        let changed_first: Vec<usize> = std::iter::once(changed)
            .chain(members.iter().copied().filter(|&m| m != changed))
            .collect();

        let group_fault = members.iter().any(|&m| self.instances[m].own_fault());
        for &member in &changed_first {
            self.instances[member].set_group_fault(now, group_fault, &mut actions);
            flush(member, &mut actions);
        }

        if left_master {
            for &member in members.iter().filter(|&&m| m != changed) {
                self.instances[member].demote(now, name, &mut actions);
                flush(member, &mut actions);
            }
        }

        // keepalived (vrrp_state_master_rx): a master hearing a lower priority also has the
        // group's other masters refresh their addresses.
        if heard_lower {
            for &member in members.iter().filter(|&&m| m != changed) {
                self.instances[member].lower_priority_announce(now, &mut actions);
                flush(member, &mut actions);
            }
        }

        // keepalived (vrrp_sync_can_goto_master): a member whose timer fired takes the group to
        // MASTER when every other member wants MASTER too; otherwise it waits for the last.
        let all_want = members.iter().all(|&m| {
            let instance = &self.instances[m];
            instance.state() == State::Master || instance.wants_master()
        });
        // The changed member's request, or one raised while the group moved (an owner that
        // recovered with its group); every request is answered now or dropped.
        let mut requested = false;
        for &member in members {
            requested |= self.instances[member].take_promotion_request();
        }
        if requested && all_want {
            for &member in &changed_first {
                self.instances[member].promote(now, name, &mut actions);
                flush(member, &mut actions);
            }
        }
    }
}

/// Which group each instance is in, checking that every member exists and is in one group.
fn memberships(
    names: &[&str],
    sync_groups: &[SyncGroupConfig],
) -> Result<Vec<Option<usize>>, RouterError> {
    let mut group_of: Vec<Option<usize>> = vec![None; names.len()];
    for (index, group) in sync_groups.iter().enumerate() {
        for id in &group.members {
            if id.0 >= names.len() {
                return Err(RouterError::UnknownMember {
                    group: group.name.clone(),
                    instance: *id,
                    count: names.len(),
                });
            }
            if let Some(first) = group_of[id.0] {
                return Err(RouterError::TwoGroups {
                    instance: names[id.0].to_owned(),
                    first: sync_groups[first].name.clone(),
                    second: group.name.clone(),
                });
            }
            group_of[id.0] = Some(index);
        }
    }
    Ok(group_of)
}
