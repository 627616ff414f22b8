//! Golden replay tests of the VRRP engine: `tests/golden/<case>.events.jsonl` drives a
//! [`Router`] on a virtual clock and the actions it takes must equal
//! `tests/golden/<case>.actions.jsonl`. After a reviewed change, regenerate with
//! `UPDATE_GOLDEN=1 cargo test --test engine_golden`.
//!
//! Events file, one JSON object per line:
//! - first line: `{"instances": [overrides...], "sync_groups": [{"name", "members"}]}`; each
//!   instance starts from keepalived's defaults ([`InstanceSettings::new`]: `VI_<n>`, VRID 51,
//!   source 192.0.2.<n>, MAC 02:00:00:00:00:0<n>) with the given fields replaced, and must pass
//!   [`InstanceConfig::new`]; trackers and tracker events name trackers by number; an
//!   `announced` address may be a plain string (interface 0, the advert MAC);
//! - `{"at_ms": T, "instance": "VI_1", "event": {...}}`: an event for one instance;
//! - `{"at_ms": T, "broadcast": {...}}`: an event for every instance;
//! - `{"at_ms": T}`: only let time pass.
//!
//! Before each line, every timer due by then fires at its own deadline.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use xvrrpd::engine::{
    Event, InstanceConfig, InstanceId, InstanceSettings, MacAddr, Router, SyncGroupConfig,
    Timestamp,
};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
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

fn instance_config(index: usize, overrides: &Value) -> InstanceConfig {
    let n = index as u8 + 1;
    let defaults = InstanceSettings::new(
        &format!("VI_{n}"),
        51,
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)),
        MacAddr([2, 0, 0, 0, 0, n]),
    );
    let mut value = serde_json::to_value(defaults).expect("settings serialize");
    merge(&mut value, overrides);
    // Shorthand: an announced address given as a string goes out of interface 0 from the
    // advert MAC.
    let mac = value["advert_mac"].clone();
    if let Some(announced) = value["announced"].as_array_mut() {
        for entry in announced.iter_mut().filter(|e| e.is_string()) {
            *entry = json!({"addr": entry.clone(), "ifindex": 0, "mac": mac.clone()});
        }
    }
    let settings: InstanceSettings =
        serde_json::from_value(value).unwrap_or_else(|e| panic!("instance {n} overrides: {e}"));
    InstanceConfig::new(settings).unwrap_or_else(|e| panic!("instance {n}: {e}"))
}

fn at(ms: f64) -> Timestamp {
    Timestamp::from_nanos((ms * 1e6).round() as u64)
}

fn ms(t: Timestamp) -> f64 {
    t.as_nanos() as f64 / 1e6
}

/// Replays one events file and returns the actions as JSON lines.
fn replay(events: &str) -> String {
    let mut lines = events.lines().filter(|l| !l.trim().is_empty());
    let setup: Value =
        serde_json::from_str(lines.next().expect("setup line")).expect("setup line is JSON");
    let instances = setup["instances"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| vec![json!({})]);
    let configs: Vec<InstanceConfig> = instances
        .iter()
        .enumerate()
        .map(|(i, o)| instance_config(i, o))
        .collect();
    let id_of = |name: &str| {
        configs
            .iter()
            .position(|c| c.name() == name)
            .map(InstanceId)
            .unwrap_or_else(|| panic!("sync group member {name} is not an instance"))
    };
    let groups = setup["sync_groups"]
        .as_array()
        .map(|groups| {
            groups
                .iter()
                .map(|g| SyncGroupConfig {
                    name: g["name"].as_str().expect("group name").to_owned(),
                    members: g["members"]
                        .as_array()
                        .expect("members")
                        .iter()
                        .map(|m| id_of(m.as_str().expect("member name")))
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut router = Router::new(configs, groups).expect("valid setup");

    let mut out = String::new();
    let names: Vec<String> = router
        .instances()
        .map(|(_, i)| i.name().to_owned())
        .collect();
    let mut record = |now: Timestamp, actions: Vec<xvrrpd::engine::RoutedAction>| {
        for (id, action) in actions {
            let line = json!({"at_ms": ms(now), "instance": names[id.0], "action": action});
            out.push_str(&line.to_string());
            out.push('\n');
        }
    };
    for line in lines {
        let line: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad events line {line}: {e}"));
        let now = at(line["at_ms"].as_f64().expect("at_ms"));
        while let Some(deadline) = router.next_deadline().filter(|d| *d <= now) {
            record(deadline, router.handle_timers(deadline));
        }
        if let Some(event) = line.get("event") {
            let event: Event = serde_json::from_value(event.clone()).expect("event");
            let name = line["instance"].as_str().unwrap_or("VI_1");
            let id: InstanceId = router
                .find(name)
                .unwrap_or_else(|| panic!("no instance {name}"));
            record(now, router.handle(now, id, event));
        }
        if let Some(event) = line.get("broadcast") {
            let event: Event = serde_json::from_value(event.clone()).expect("event");
            let actions = match event {
                Event::Tracker { .. } | Event::TrackerValue { .. } | Event::ScriptResult { .. } => {
                    router.tracker_event(now, &event)
                }
                _ => router.broadcast(now, &event),
            };
            record(now, actions);
        }
    }
    out
}

#[test]
fn golden_replays() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("tests/golden exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".events.jsonl"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 20,
        "expected a golden case per rule, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for events_path in cases {
        let name = events_path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches(".events.jsonl")
            .to_owned();
        let actions_path = golden_dir().join(format!("{name}.actions.jsonl"));
        let actual = replay(&std::fs::read_to_string(&events_path).unwrap());
        if update {
            std::fs::write(&actions_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&actions_path).unwrap_or_default();
        if actual != expected {
            let line = actual
                .lines()
                .zip(expected.lines())
                .position(|(a, e)| a != e);
            let shown =
                line.unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
            failures.push(format!(
                "{name}: actions differ at line {}\n  actual:   {}\n  expected: {}",
                shown + 1,
                actual.lines().nth(shown).unwrap_or("<end>"),
                expected.lines().nth(shown).unwrap_or("<end>")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(regenerate after review: UPDATE_GOLDEN=1)",
        failures.join("\n")
    );
}
