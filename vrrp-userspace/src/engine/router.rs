//! All instances of one daemon and their sync groups (keepalived's `vrrp_sync_group`): any
//! member in FAULT puts the whole group in FAULT, the group becomes MASTER only when every
//! member wants to, and one member going BACKUP takes the others along.

use super::config::{InstanceConfig, TrackerId};
use super::events::{Action, Event, Reason, State};
use super::instance::Instance;
use super::time::Timestamp;

/// Index of an instance in a [`Router`], in the order the configurations were given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct InstanceId(pub usize);

/// A sync group: its name (for logs and notify scripts) and its members.
#[derive(Clone, Debug, PartialEq, Eq)]
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
}

impl Router {
    pub fn new(
        configs: Vec<InstanceConfig>,
        sync_groups: Vec<SyncGroupConfig>,
    ) -> Result<Self, RouterError> {
        let mut instances: Vec<Instance> = configs.into_iter().map(Instance::new).collect();
        let mut group_of = vec![None; instances.len()];
        let mut groups: Vec<Group> = Vec::new();
        for (index, group) in sync_groups.into_iter().enumerate() {
            let mut members = Vec::new();
            for id in &group.members {
                if id.0 >= instances.len() {
                    return Err(RouterError::UnknownMember {
                        group: group.name.clone(),
                        instance: *id,
                        count: instances.len(),
                    });
                }
                if let Some(first) = group_of[id.0] {
                    let first: &Group = &groups[first];
                    return Err(RouterError::TwoGroups {
                        instance: instances[id.0].name().to_owned(),
                        first: first.name.clone(),
                        second: group.name.clone(),
                    });
                }
                group_of[id.0] = Some(index);
                members.push(id.0);
            }
            // keepalived decides how a group starts from all its members' wishes.
            let wishes: Vec<_> = members.iter().map(|&m| instances[m].start_wish()).collect();
            let group_start = wishes.iter().all(|&(state, _, owner)| {
                state == Some(super::config::InitialState::Master) && owner
            });
            let keep_wish = !(wishes.iter().any(|&(_, wish, _)| wish)
                && wishes.iter().any(|&(_, wish, owner)| !wish || !owner));
            for &m in &members {
                instances[m].join_group(&group.name, group_start, keep_wish);
            }
            groups.push(Group {
                name: group.name,
                members,
                state: None,
            });
        }
        Ok(Self {
            instances,
            groups,
            group_of,
        })
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

    /// One event for one instance, then whatever its sync group does about it.
    pub fn handle(&mut self, now: Timestamp, id: InstanceId, event: Event) -> Vec<RoutedAction> {
        let mut out = Vec::new();
        self.handle_into(now, id, event, &mut out);
        out
    }

    fn handle_into(
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
        let mut actions = Vec::new();
        let transition = self.instances[id.0].handle(now, event, &mut actions);
        let heard_lower = actions
            .iter()
            .any(|a| matches!(a, Action::MasterRxLowerPriority { .. }));
        out.extend(actions.into_iter().map(|action| (id, action)));
        let left_master = transition
            .as_ref()
            .is_some_and(|t| t.from == State::Master && t.to == State::Backup);
        self.coordinate(now, id.0, left_master, heard_lower, out);
    }

    /// An event for every instance (startup, shutdown).
    pub fn broadcast(&mut self, now: Timestamp, event: &Event) -> Vec<RoutedAction> {
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
                self.handle_into(now, InstanceId(index), event.clone(), &mut out);
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
        let mut out = Vec::new();
        for index in 0..self.instances.len() {
            if self.instances[index].tracks(tracker) {
                self.handle_into(now, InstanceId(index), event.clone(), &mut out);
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
        let mut out = Vec::new();
        for index in 0..self.instances.len() {
            if self.instances[index]
                .next_deadline()
                .is_some_and(|at| at <= now)
            {
                self.handle_into(now, InstanceId(index), Event::Timer, &mut out);
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
