//! What each instance tracks, with the weights keepalived 2.2.7 really uses
//! (vrrp_complete_instance, sync_group_tracking_init, add_vrrp_to_interface): its own
//! `track_*` blocks, its sync group's, and the interfaces its addresses, routes and rules live
//! on. One [`TrackerId`] per tracked object, shared by every instance tracking it.

use std::collections::BTreeMap;

use super::host::HostFacts;
use super::resolve::{LinkRef, ResolveError, ScriptSpec, TrackedObject, host_interface};
use crate::config::model::{Config, SyncGroup, TrackRef, VrrpInstance};
use crate::engine::{TrackerConfig, TrackerId, TrackerKind};
use crate::protocol::Priority;

/// Hands out one [`TrackerId`] per tracked object.
#[derive(Default)]
pub(super) struct TrackerTable {
    pub(super) objects: Vec<TrackedObject>,
    ids: BTreeMap<(u8, String), TrackerId>,
}

impl TrackerTable {
    fn id(&mut self, object: TrackedObject) -> TrackerId {
        let key = match &object {
            TrackedObject::Interface(link) => (0, link.name.clone()),
            TrackedObject::Script(script) => (1, script.name.clone()),
            TrackedObject::File(name) => (2, name.clone()),
            TrackedObject::Process(name) => (3, name.clone()),
        };
        *self.ids.entry(key).or_insert_with(|| {
            self.objects.push(object);
            TrackerId(self.objects.len() as u32 - 1)
        })
    }
}

/// The trackers of one instance.
pub(super) struct InstanceTracking<'a> {
    pub config: &'a Config,
    pub host: &'a HostFacts,
    pub instance: &'a VrrpInstance,
    /// The instance's own interfaces (its interface, and its VMAC): keepalived ignores a
    /// `track_interface` naming them, and the daemon reports their state as
    /// `InterfaceUp`/`InterfaceDown` anyway.
    pub own: &'a [&'a str],
}

impl InstanceTracking<'_> {
    pub(super) fn resolve(
        &self,
        table: &mut TrackerTable,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<TrackerConfig>, ResolveError> {
        let name = &self.instance.name;
        let group = self.group();
        let owner = self.instance.priority == Priority(255);
        // keepalived drops weighted scripts (and most weighted files) of an address owner, and
        // of a sync group member unless the group says sync_group_tracking_weight.
        let no_weights =
            owner || group.is_some_and(|g| !(g.sync_group_tracking_weight || g.global_tracking));
        let why = if owner {
            "the address owner (priority 255)"
        } else {
            "a sync group member without sync_group_tracking_weight"
        };
        let mut out = Vec::new();

        let mut seen = Vec::new();
        for track in &self.instance.track.interfaces {
            if self.own.contains(&track.name.as_str()) {
                warnings.push(format!(
                    "{name}: track_interface {} is the instance's own interface; ignored (keepalived does the same)",
                    track.name
                ));
                continue;
            }
            if seen.contains(&&track.name) {
                continue;
            }
            seen.push(&track.name);
            let weight = track.weight.unwrap_or(0);
            if weight != 0 && no_weights && !owner {
                // vrrp_complete_instance zeroes the weight after it has been copied into the
                // interface's tracking list, so keepalived 2.2.7 logs that it ignores it and
                // applies it all the same (seen in a namespace). xvrrpd applies it too.
                warnings.push(format!(
                    "{name}: keepalived says it ignores the weight of track_interface {} in a sync group without sync_group_tracking_weight, but applies it; so does xvrrpd",
                    track.name
                ));
            }
            let tracker = self.interface(table, &track.name, weight, track.reverse)?;
            out.push(tracker);
        }

        let mut seen = Vec::new();
        for track in &self.instance.track.scripts {
            if seen.contains(&&track.name) {
                continue;
            }
            seen.push(&track.name);
            let tracker = self.script(table, track)?;
            if tracker.weight != 0 && no_weights {
                warnings.push(format!(
                    "{name}: track_script {} has a weight, which keepalived ignores for {why}; the script is not tracked",
                    track.name
                ));
                continue;
            }
            out.push(tracker);
        }

        for track in &self.instance.track.files {
            let mut tracker = self.file(table, track)?;
            if tracker.weight != 0 && no_weights {
                if tracker.weight == 1 {
                    warnings.push(format!(
                        "{name}: track_file {} loses its default weight 1 for {why}: a non-zero value means FAULT",
                        track.name
                    ));
                    tracker.weight = 0;
                } else {
                    warnings.push(format!(
                        "{name}: track_file {} has a weight, which keepalived ignores for {why}; the file is not tracked",
                        track.name
                    ));
                    continue;
                }
            }
            out.push(tracker);
        }

        for track in &self.instance.track.processes {
            out.push(self.process(table, track)?);
        }

        // keepalived tracks (weight 0: FAULT while down) every interface the instance's
        // addresses, routes and rules are on, unless they say no_track.
        for address in self
            .instance
            .virtual_ipaddress
            .iter()
            .chain(&self.instance.virtual_ipaddress_excluded)
            .filter(|a| !a.no_track)
        {
            if let Some(dev) = &address.dev {
                self.merge_interface(table, dev.as_str(), &mut out)?;
            }
        }
        for route in self.instance.virtual_routes.iter().filter(|r| !r.no_track) {
            if let Some(dev) = &route.dev {
                self.merge_interface(table, dev.as_str(), &mut out)?;
            }
        }
        for rule in self.instance.virtual_rules.iter().filter(|r| !r.no_track) {
            for dev in rule_interfaces(rule) {
                self.merge_interface(table, dev, &mut out)?;
            }
        }

        // After the instance's own (sync_group_tracking_init runs last).
        if let Some(group) = group {
            self.group_trackers(group, table, &mut out, warnings)?;
        }
        Ok(out)
    }

    fn group(&self) -> Option<&SyncGroup> {
        self.config.sync_groups.iter().find(|g| {
            g.members
                .iter()
                .any(|member| member.name == self.instance.name)
        })
    }

    /// keepalived (sync_group_tracking_init): the group's own `track_*` apply to every member
    /// with their weights, even without sync_group_tracking_weight, but weight 0 when a member
    /// owns its addresses. An object tracked by the instance too keeps the group's weight
    /// unless the instance's entry is unweighted.
    fn group_trackers(
        &self,
        group: &SyncGroup,
        table: &mut TrackerTable,
        out: &mut Vec<TrackerConfig>,
        warnings: &mut Vec<String>,
    ) -> Result<(), ResolveError> {
        let has_owner = group.members.iter().any(|member| {
            self.config
                .instances
                .iter()
                .any(|i| i.name == member.name && i.priority == Priority(255))
        });
        let mut trackers = Vec::new();
        for track in &group.track.interfaces {
            trackers.push(self.interface(
                table,
                &track.name,
                track.weight.unwrap_or(0),
                track.reverse,
            )?);
        }
        for track in &group.track.scripts {
            trackers.push(self.script(table, track)?);
        }
        for track in &group.track.files {
            trackers.push(self.file(table, track)?);
        }
        for track in &group.track.processes {
            trackers.push(self.process(table, track)?);
        }
        for mut tracker in trackers {
            if has_owner && tracker.weight != 0 {
                warnings.push(format!(
                    "sync group {}: a member owns its addresses (priority 255), so its trackers have weight 0 (FAULT while failed)",
                    group.name
                ));
                tracker.weight = 0;
            }
            merge(out, tracker);
        }
        Ok(())
    }

    fn interface(
        &self,
        table: &mut TrackerTable,
        iface: &str,
        weight: i32,
        reverse: bool,
    ) -> Result<TrackerConfig, ResolveError> {
        let on = host_interface(self.host, &self.instance.name, iface)?;
        let id = table.id(TrackedObject::Interface(LinkRef {
            name: on.name.clone(),
            ifindex: on.ifindex,
        }));
        Ok(TrackerConfig {
            id,
            kind: TrackerKind::Interface,
            weight,
            reverse,
        })
    }

    /// An interface an address, route or rule lives on: weight 0 (keepalived's
    /// add_vrrp_to_interface), merged into an existing entry for it.
    fn merge_interface(
        &self,
        table: &mut TrackerTable,
        iface: &str,
        out: &mut Vec<TrackerConfig>,
    ) -> Result<(), ResolveError> {
        if !self.own.contains(&iface) {
            let tracker = self.interface(table, iface, 0, false)?;
            merge(out, tracker);
        }
        Ok(())
    }

    fn script(
        &self,
        table: &mut TrackerTable,
        track: &TrackRef,
    ) -> Result<TrackerConfig, ResolveError> {
        let script = self
            .config
            .scripts
            .iter()
            .find(|s| s.name == track.name)
            .ok_or_else(|| self.unknown("vrrp_script", &track.name))?;
        let id = table.id(TrackedObject::Script(ScriptSpec {
            name: script.name.clone(),
            argv: script.script.argv.clone(),
            interval: script.interval,
            timeout: script.timeout,
        }));
        // alloc_track_script: the weight defaults to the script's, `reverse` to the script's
        // whether or not the line gives a weight.
        Ok(TrackerConfig {
            id,
            kind: TrackerKind::Script {
                rise: script.rise,
                fall: script.fall,
                init_fail: script.init_fail,
            },
            weight: track.weight.unwrap_or(script.weight),
            reverse: track.reverse || script.reverse,
        })
    }

    fn file(
        &self,
        table: &mut TrackerTable,
        track: &TrackRef,
    ) -> Result<TrackerConfig, ResolveError> {
        let file = self
            .config
            .track_files
            .iter()
            .find(|f| f.name == track.name)
            .ok_or_else(|| self.unknown("track_file", &track.name))?;
        let id = table.id(TrackedObject::File(file.name.clone()));
        Ok(TrackerConfig {
            id,
            kind: TrackerKind::File,
            weight: track.weight.unwrap_or(file.weight),
            reverse: track.reverse || file.reverse,
        })
    }

    fn process(
        &self,
        table: &mut TrackerTable,
        track: &TrackRef,
    ) -> Result<TrackerConfig, ResolveError> {
        let process = self
            .config
            .track_processes
            .iter()
            .find(|p| p.name == track.name)
            .ok_or_else(|| self.unknown("vrrp_track_process", &track.name))?;
        let id = table.id(TrackedObject::Process(process.name.clone()));
        Ok(TrackerConfig {
            id,
            kind: TrackerKind::Process,
            weight: track.weight.unwrap_or(process.weight),
            reverse: track.reverse || process.reverse,
        })
    }

    fn unknown(&self, kind: &'static str, name: &str) -> ResolveError {
        ResolveError::UnknownTracker {
            instance: self.instance.name.clone(),
            kind,
            name: name.to_owned(),
        }
    }
}

/// keepalived's rule for an object tracked twice by one instance (add_vrrp_to_interface,
/// add_vrrp_to_track_script, add_obj_to_track_file): one entry, and the later weight wins
/// unless the earlier entry is unweighted.
fn merge(out: &mut Vec<TrackerConfig>, tracker: TrackerConfig) {
    match out.iter_mut().find(|t| t.id == tracker.id) {
        Some(existing) => {
            if existing.weight != 0 {
                existing.weight = tracker.weight;
                existing.reverse = tracker.reverse;
            }
        }
        None => out.push(tracker),
    }
}

/// The interfaces a `virtual_rules` line names (`iif`/`dev`, `oif`).
pub(super) fn rule_interfaces(rule: &crate::config::model::Rule) -> impl Iterator<Item = &str> {
    rule.iif
        .iter()
        .chain(&rule.oif)
        .map(crate::config::values::InterfaceName::as_str)
}
