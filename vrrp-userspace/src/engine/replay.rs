//! Replaying a file of engine inputs: the golden tests' events files and the daemon's flight
//! recordings are the same format, so a field incident becomes a test case.
//!
//! One JSON object per line:
//! - first line: `{"instances": [settings...], "sync_groups": [{"name", "members"}],
//!   "explicit_timers": bool}`; each instance starts from keepalived's defaults
//!   ([`InstanceSettings::new`]: `VI_<n>`, VRID 51, source 192.0.2.<n>, MAC
//!   02:00:00:00:00:0<n>) with the given fields replaced (a recording gives every field), and
//!   must pass [`InstanceConfig::new`]; an `announced` address may be a plain string
//!   (interface 0, the advert MAC);
//! - `{"at_ms": T | "at_ns": T, "instance": "VI_1", "event": {...}}`: an event for one instance;
//! - `{... "broadcast": {...}}`: an event for every instance;
//! - `{... "trackers": {...}}`: a tracker's report for the instances tracking it;
//! - `{... "timers": true}`: the deadlines due by then fire (recordings);
//! - `{... "reconfigure": {"instances", "sync_groups", "carry": [old name or null per
//!   instance], "trackers": {old id: new id}}}`: a reload ([`Router::reconfigure`]);
//! - `{"at_ms": T}`: only let time pass.
//!
//! Without `explicit_timers` (hand-written goldens), before each line every timer due by then
//! fires at its own deadline; a recording says when the daemon really let them fire.

use std::net::{IpAddr, Ipv4Addr};

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::config::{InstanceConfig, InstanceSettings, MacAddr, TrackerId};
use super::events::{Action, Event};
use super::journal::{Input, JournalEntry};
use super::router::{InstanceId, Router, SyncGroupConfig};
use super::time::Timestamp;

/// What is wrong with a replay file, and on which line.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("the file is empty: the first line must be the setup")]
    Empty,
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
}

/// An action the replayed router took.
#[derive(Clone, Debug)]
pub struct Replayed {
    pub at: Timestamp,
    pub instance: String,
    pub action: Action,
}

impl Replayed {
    /// As the golden files write it.
    pub fn to_json(&self) -> Value {
        json!({
            "at_ms": self.at.as_nanos() as f64 / 1e6,
            "instance": self.instance,
            "action": self.action,
        })
    }
}

fn merge(base: &mut Value, overrides: &Value) {
    match (base, overrides) {
        (Value::Object(base), Value::Object(overrides)) => {
            for (key, value) in overrides {
                merge(base.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (base, overrides) => *base = overrides.clone(),
    }
}

fn instance_config(index: usize, overrides: &Value) -> Result<InstanceConfig, String> {
    let n = (index + 1).min(255) as u8;
    let defaults = InstanceSettings::new(
        &format!("VI_{n}"),
        51,
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)),
        MacAddr([2, 0, 0, 0, 0, n]),
    );
    let mut value = serde_json::to_value(defaults).map_err(|e| e.to_string())?;
    merge(&mut value, overrides);
    let mac = value["advert_mac"].clone();
    if let Some(announced) = value["announced"].as_array_mut() {
        for entry in announced.iter_mut().filter(|e| e.is_string()) {
            *entry = json!({"addr": entry.clone(), "ifindex": 0, "mac": mac.clone()});
        }
    }
    let settings: InstanceSettings =
        serde_json::from_value(value).map_err(|e| format!("instance {n}: {e}"))?;
    InstanceConfig::new(settings).map_err(|e| format!("instance {n}: {e}"))
}

/// The setup line of a recording of `router`'s instances.
pub fn setup_line(configs: &[InstanceConfig], sync_groups: &[SyncGroupConfig]) -> Value {
    let mut setup = configuration(configs, sync_groups);
    setup["explicit_timers"] = json!(true);
    setup
}

/// Instances and sync groups (members by name), as the setup and reconfigure lines hold them.
fn configuration(configs: &[InstanceConfig], sync_groups: &[SyncGroupConfig]) -> Value {
    json!({
        "instances": configs.iter().map(|c| c.settings()).collect::<Vec<_>>(),
        "sync_groups": groups_by_name(sync_groups, |m| configs[m.0].name()),
    })
}

fn groups_by_name<'a>(
    sync_groups: &[SyncGroupConfig],
    name: impl Fn(InstanceId) -> &'a str,
) -> Vec<Value> {
    sync_groups
        .iter()
        .map(|g| {
            json!({
                "name": g.name,
                "members": g.members.iter().map(|m| name(*m)).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// A journal entry as a replay line, naming instances; `names` are the instances' names when
/// the entry was taken, and follow a reconfiguration.
pub fn entry_line(entry: &JournalEntry, names: &mut Vec<String>) -> Value {
    let at = entry.at.as_nanos();
    match &entry.input {
        Input::Event { instance, event } => {
            json!({"at_ns": at, "instance": names[instance.0], "event": event})
        }
        Input::Broadcast(event) => json!({"at_ns": at, "broadcast": event}),
        Input::Tracker(event) => json!({"at_ns": at, "trackers": event}),
        Input::Timers => json!({"at_ns": at, "timers": true}),
        Input::Reconfigure {
            instances,
            sync_groups,
            carry,
            trackers,
        } => {
            let new_names: Vec<String> = instances.iter().map(|i| i.name.clone()).collect();
            let line = json!({"at_ns": at, "reconfigure": {
                "instances": instances,
                "sync_groups": groups_by_name(sync_groups, |m| new_names[m.0].as_str()),
                "carry": carry.iter().map(|c| c.map(|old| names[old.0].clone())).collect::<Vec<_>>(),
                "trackers": trackers,
            }});
            *names = new_names;
            line
        }
    }
}

/// What a setup or reconfigure line holds: the instances, their sync groups, their names.
struct Configuration {
    configs: Vec<InstanceConfig>,
    groups: Vec<SyncGroupConfig>,
    names: Vec<String>,
}

/// Instances and sync groups from a setup or reconfigure line.
fn read_configuration(value: &Value) -> Result<Configuration, String> {
    let instances = value["instances"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| vec![json!({})]);
    let configs = instances
        .iter()
        .enumerate()
        .map(|(i, o)| instance_config(i, o))
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = configs.iter().map(|c| c.name().to_owned()).collect();
    let mut groups = Vec::new();
    for group in value["sync_groups"].as_array().into_iter().flatten() {
        let members = group["members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| id_of(&names, m.as_str().unwrap_or_default()))
            .collect::<Result<Vec<_>, _>>()?;
        groups.push(SyncGroupConfig {
            name: group["name"].as_str().unwrap_or_default().to_owned(),
            members,
        });
    }
    Ok(Configuration {
        configs,
        groups,
        names,
    })
}

fn id_of(names: &[String], name: &str) -> Result<InstanceId, String> {
    names
        .iter()
        .position(|n| n == name)
        .map(InstanceId)
        .ok_or_else(|| format!("no instance named {name}"))
}

/// A reconfigure line: the new configuration, which running instance each continues, and
/// the trackers kept.
fn reconfigure(
    router: &mut Router,
    now: Timestamp,
    value: &Value,
    names: &mut Vec<String>,
) -> Result<Vec<(InstanceId, Action)>, String> {
    let Configuration {
        configs,
        groups,
        names: new_names,
    } = read_configuration(value)?;
    let carry = value["carry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|old| old.as_str().map(|old| id_of(names, old)).transpose())
        .collect::<Result<Vec<_>, _>>()?;
    let trackers: BTreeMap<TrackerId, TrackerId> = match value.get("trackers") {
        Some(trackers) => serde_json::from_value(trackers.clone()).map_err(|e| e.to_string())?,
        None => BTreeMap::new(),
    };
    let actions = router
        .reconfigure(now, configs, groups, carry, trackers)
        .map_err(|e| e.to_string())?;
    *names = new_names;
    Ok(actions)
}

/// Replays `text` and returns every action, in order.
pub fn replay(text: &str) -> Result<Vec<Replayed>, ReplayError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (setup_number, setup) = lines.next().ok_or(ReplayError::Empty)?;
    let fail = |line: usize, reason: String| ReplayError::Line {
        line: line + 1,
        reason,
    };
    let setup: Value =
        serde_json::from_str(setup).map_err(|e| fail(setup_number, e.to_string()))?;
    let Configuration {
        configs,
        groups,
        mut names,
    } = read_configuration(&setup).map_err(|e| fail(setup_number, e))?;
    let explicit_timers = setup["explicit_timers"].as_bool().unwrap_or(false);
    let mut router = Router::new(configs, groups).map_err(|e| fail(setup_number, e.to_string()))?;

    let mut out = Vec::new();
    let record = |out: &mut Vec<Replayed>,
                  names: &[String],
                  at: Timestamp,
                  actions: Vec<(InstanceId, Action)>| {
        out.extend(actions.into_iter().map(|(id, action)| Replayed {
            at,
            instance: names[id.0].clone(),
            action,
        }));
    };
    for (number, line) in lines {
        let line: Value = serde_json::from_str(line).map_err(|e| fail(number, e.to_string()))?;
        let now = match (line["at_ns"].as_u64(), line["at_ms"].as_f64()) {
            (Some(ns), _) => Timestamp::from_nanos(ns),
            (None, Some(ms)) => Timestamp::from_nanos((ms * 1e6).round() as u64),
            (None, None) => return Err(fail(number, "no at_ms or at_ns".into())),
        };
        let event = |key: &str| -> Result<Option<Event>, ReplayError> {
            line.get(key)
                .map(|e| serde_json::from_value(e.clone()).map_err(|e| fail(number, e.to_string())))
                .transpose()
        };
        if !explicit_timers {
            while let Some(deadline) = router.next_deadline().filter(|d| *d <= now) {
                record(&mut out, &names, deadline, router.handle_timers(deadline));
            }
        }
        if let Some(event) = event("event")? {
            let name = line["instance"].as_str().unwrap_or("VI_1");
            let id = id_of(&names, name).map_err(|e| fail(number, e))?;
            record(&mut out, &names, now, router.handle(now, id, event));
        }
        if let Some(event) = event("broadcast")? {
            // Hand-written goldens broadcast tracker reports; they reach the trackers' instances.
            let actions = match event {
                Event::Tracker { .. } | Event::TrackerValue { .. } | Event::ScriptResult { .. } => {
                    router.tracker_event(now, &event)
                }
                _ => router.broadcast(now, &event),
            };
            record(&mut out, &names, now, actions);
        }
        if let Some(event) = event("trackers")? {
            record(&mut out, &names, now, router.tracker_event(now, &event));
        }
        if let Some(value) = line.get("reconfigure") {
            let actions =
                reconfigure(&mut router, now, value, &mut names).map_err(|e| fail(number, e))?;
            record(&mut out, &names, now, actions);
        }
        if line["timers"].as_bool() == Some(true) {
            record(&mut out, &names, now, router.handle_timers(now));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::protocol::Priority;

    /// A recorded run replays to the same actions: what `xvrrpd replay` relies on.
    #[test]
    fn a_journal_replays_to_the_same_actions() {
        let mut settings = InstanceSettings::new(
            "VI_1",
            51,
            "192.0.2.1".parse().unwrap(),
            MacAddr([2, 0, 0, 0, 0, 1]),
        );
        settings.advertised = vec!["192.0.2.100".parse().unwrap()];
        let configs = vec![InstanceConfig::new(settings).unwrap()];
        let mut router = Router::new(configs.clone(), Vec::new()).unwrap();
        router.keep_journal(true);
        let mut live = Vec::new();
        let t = |ms: u64| Timestamp::from_nanos(1_000_000_000 + ms * 1_000_000);
        live.extend(router.broadcast(t(0), &Event::Startup));
        live.extend(router.handle(
            t(500),
            InstanceId(0),
            Event::Advert {
                src: "192.0.2.9".parse().unwrap(),
                priority: Priority(150),
                interval: Duration::from_secs(1),
            },
        ));
        // The daemon lets timers fire a little late; the recording keeps the real times.
        while let Some(deadline) = router.next_deadline().filter(|d| *d < t(6000)) {
            live.extend(router.handle_timers(deadline + Duration::from_micros(40)));
        }
        let journal = router.take_journal();
        let mut names = vec!["VI_1".to_owned()];
        let mut text = setup_line(&configs, &[]).to_string();
        for entry in &journal {
            text.push('\n');
            text.push_str(&entry_line(entry, &mut names).to_string());
        }
        let replayed: Vec<Action> = replay(&text)
            .unwrap()
            .into_iter()
            .map(|r| r.action)
            .collect();
        let live: Vec<Action> = live.into_iter().map(|(_, a)| a).collect();
        assert!(
            live.iter().any(|a| matches!(a, Action::AddAddresses)),
            "it became master"
        );
        assert_eq!(replayed, live);
    }

    /// A reload in the middle of a recording replays too, and the names after it follow the
    /// new configuration.
    #[test]
    fn a_journal_with_a_reload_replays_to_the_same_actions() {
        let settings = |name: &str, vrid: u8, vip: &str| {
            let mut settings = InstanceSettings::new(
                name,
                vrid,
                "192.0.2.1".parse().unwrap(),
                MacAddr([2, 0, 0, 0, 0, 1]),
            );
            settings.priority = Priority(255);
            settings.advertised = vec![vip.parse().unwrap()];
            InstanceConfig::new(settings).unwrap()
        };
        let before = vec![
            settings("A", 1, "192.0.2.100"),
            settings("B", 2, "192.0.2.101"),
        ];
        let after = vec![
            settings("C", 3, "192.0.2.102"),
            settings("A", 1, "192.0.2.103"),
        ];
        let mut router = Router::new(before.clone(), Vec::new()).unwrap();
        router.keep_journal(true);
        let t = |ms: u64| Timestamp::from_nanos(1_000_000_000 + ms * 1_000_000);
        let mut live = router.broadcast(t(0), &Event::Startup);
        live.extend(router.handle(t(1500), InstanceId(1), Event::Shutdown));
        live.extend(
            router
                .reconfigure(
                    t(1500),
                    after,
                    Vec::new(),
                    vec![None, Some(InstanceId(0))],
                    BTreeMap::new(),
                )
                .unwrap(),
        );
        live.extend(router.handle(t(1500), InstanceId(0), Event::Startup));
        live.extend(router.handle_timers(t(2000)));
        let mut names = vec!["A".to_owned(), "B".to_owned()];
        let mut text = setup_line(&before, &[]).to_string();
        for entry in &router.take_journal() {
            text.push('\n');
            text.push_str(&entry_line(entry, &mut names).to_string());
        }
        assert_eq!(names, ["C", "A"]);
        let replayed = replay(&text).unwrap();
        let actions: Vec<&Action> = replayed.iter().map(|r| &r.action).collect();
        let live: Vec<&Action> = live.iter().map(|(_, a)| a).collect();
        assert_eq!(actions, live);
        let replayed: Vec<(String, Action)> = replayed
            .into_iter()
            .map(|r| (r.instance, r.action))
            .collect();
        assert!(replayed.iter().any(|(name, action)| name == "B"
            && matches!(
                action,
                Action::StateChanged {
                    to: crate::engine::State::Stopped,
                    ..
                }
            )));
        assert!(replayed.iter().any(|(name, _)| name == "C"));
    }
}
