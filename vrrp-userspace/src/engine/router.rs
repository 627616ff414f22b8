//! All instances of one daemon and their sync groups (keepalived's `vrrp_sync_group`): any
//! member in FAULT puts the whole group in FAULT, the group becomes MASTER only when every
//! member wants to, and one member going BACKUP takes the others along.

use super::config::InstanceConfig;
use super::events::{Action, Event, State};
use super::instance::Instance;
use super::time::Timestamp;

/// Index of an instance in a [`Router`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub usize);

/// A sync group by instance names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncGroupConfig {
    pub name: String,
    pub members: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RouterError {
    #[error("sync group {group} names instance {instance}, which is not configured")]
    UnknownMember { group: String, instance: String },
    #[error(
        "instance {instance} is in sync groups {first} and {second}; an instance may be in one group only"
    )]
    TwoGroups {
        instance: String,
        first: String,
        second: String,
    },
}

struct Group {
    name: String,
    members: Vec<usize>,
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
        let mut groups = Vec::new();
        for (index, group) in sync_groups.into_iter().enumerate() {
            let mut members = Vec::new();
            for name in &group.members {
                let member = instances
                    .iter()
                    .position(|i| i.name() == name)
                    .ok_or_else(|| RouterError::UnknownMember {
                        group: group.name.clone(),
                        instance: name.clone(),
                    })?;
                if let Some(first) = group_of[member] {
                    let first: &Group = &groups[first];
                    return Err(RouterError::TwoGroups {
                        instance: name.clone(),
                        first: first.name.clone(),
                        second: group.name.clone(),
                    });
                }
                group_of[member] = Some(index);
                instances[member].set_gated(true);
                members.push(member);
            }
            groups.push(Group {
                name: group.name,
                members,
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
    pub fn handle(&mut self, now: Timestamp, id: InstanceId, event: Event) -> Vec<Action> {
        let mut out = self.instances[id.0].handle(now, event);
        self.coordinate(now, id.0, &mut out);
        out
    }

    /// An event for every instance (startup, shutdown, tracker and script results).
    pub fn broadcast(&mut self, now: Timestamp, event: &Event) -> Vec<Action> {
        let mut out = Vec::new();
        for index in 0..self.instances.len() {
            out.extend(self.handle(now, InstanceId(index), event.clone()));
        }
        out
    }

    /// [`Event::Timer`] for every instance whose deadline has come.
    pub fn handle_timers(&mut self, now: Timestamp) -> Vec<Action> {
        let mut out = Vec::new();
        for index in 0..self.instances.len() {
            if self.instances[index]
                .next_deadline()
                .is_some_and(|at| at <= now)
            {
                out.extend(self.handle(now, InstanceId(index), Event::Timer));
            }
        }
        out
    }

    fn coordinate(&mut self, now: Timestamp, changed: usize, out: &mut Vec<Action>) {
        let Some(group) = self.group_of[changed] else {
            return;
        };
        let Group { name, members } = &self.groups[group];

        let group_fault = members.iter().any(|&m| self.instances[m].own_fault());
        for &member in members {
            self.instances[member].set_group_fault(now, group_fault, name, out);
        }

        let left_master = out.iter().any(|action| {
            matches!(action, Action::StateChanged { instance, from: State::Master, to: State::Backup, .. }
                if instance == self.instances[changed].name())
        });
        if left_master {
            for &member in members.iter().filter(|&&m| m != changed) {
                self.instances[member].demote(now, name, out);
            }
        }

        let all_want = members.iter().all(|&m| {
            let instance = &self.instances[m];
            instance.state() == State::Master || instance.wants_master()
        });
        if all_want && members.iter().any(|&m| self.instances[m].wants_master()) {
            for &member in members {
                self.instances[member].promote(now, name, out);
            }
        }
    }
}
