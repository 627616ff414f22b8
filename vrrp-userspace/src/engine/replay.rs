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
//! - `{"at_ms": T}`: only let time pass.
//!
//! Without `explicit_timers` (hand-written goldens), before each line every timer due by then
//! fires at its own deadline; a recording says when the daemon really let them fire.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::{Value, json};

use super::config::{InstanceConfig, InstanceSettings, MacAddr};
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
    json!({
        "instances": configs.iter().map(|c| c.settings()).collect::<Vec<_>>(),
        "sync_groups": sync_groups.iter().map(|g| json!({
            "name": g.name,
            "members": g.members.iter().map(|m| configs[m.0].name()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "explicit_timers": true,
    })
}

/// A journal entry as a replay line, naming instances.
pub fn entry_line(entry: &JournalEntry, names: &[String]) -> Value {
    let at = entry.at.as_nanos();
    match &entry.input {
        Input::Event { instance, event } => {
            json!({"at_ns": at, "instance": names[instance.0], "event": event})
        }
        Input::Broadcast(event) => json!({"at_ns": at, "broadcast": event}),
        Input::Tracker(event) => json!({"at_ns": at, "trackers": event}),
        Input::Timers => json!({"at_ns": at, "timers": true}),
    }
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
    let instances = setup["instances"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| vec![json!({})]);
    let configs = instances
        .iter()
        .enumerate()
        .map(|(i, o)| instance_config(i, o))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(setup_number, e))?;
    let names: Vec<String> = configs.iter().map(|c| c.name().to_owned()).collect();
    let id_of = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .map(InstanceId)
            .ok_or_else(|| format!("no instance named {name}"))
    };
    let mut groups = Vec::new();
    for group in setup["sync_groups"].as_array().into_iter().flatten() {
        let members = group["members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| id_of(m.as_str().unwrap_or_default()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(setup_number, e))?;
        groups.push(SyncGroupConfig {
            name: group["name"].as_str().unwrap_or_default().to_owned(),
            members,
        });
    }
    let explicit_timers = setup["explicit_timers"].as_bool().unwrap_or(false);
    let mut router = Router::new(configs, groups).map_err(|e| fail(setup_number, e.to_string()))?;

    let mut out = Vec::new();
    let mut record = |at: Timestamp, actions: Vec<(InstanceId, Action)>| {
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
                record(deadline, router.handle_timers(deadline));
            }
        }
        if let Some(event) = event("event")? {
            let name = line["instance"].as_str().unwrap_or("VI_1");
            let id = id_of(name).map_err(|e| fail(number, e))?;
            record(now, router.handle(now, id, event));
        }
        if let Some(event) = event("broadcast")? {
            // Hand-written goldens broadcast tracker reports; they reach the trackers' instances.
            let actions = match event {
                Event::Tracker { .. } | Event::ScriptResult { .. } => {
                    router.tracker_event(now, &event)
                }
                _ => router.broadcast(now, &event),
            };
            record(now, actions);
        }
        if let Some(event) = event("trackers")? {
            record(now, router.tracker_event(now, &event));
        }
        if line["timers"].as_bool() == Some(true) {
            record(now, router.handle_timers(now));
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
        let names = vec!["VI_1".to_owned()];
        let mut text = setup_line(&configs, &[]).to_string();
        for entry in &journal {
            text.push('\n');
            text.push_str(&entry_line(entry, &names).to_string());
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
}
