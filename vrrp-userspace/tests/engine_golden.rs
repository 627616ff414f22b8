//! Golden replay tests of the VRRP engine: `tests/golden/<case>.events.jsonl` drives a
//! [`Router`] on a virtual clock and the actions it takes must equal
//! `tests/golden/<case>.actions.jsonl`. After a reviewed change, regenerate with
//! `UPDATE_GOLDEN=1 cargo test --test engine_golden`.
//!
//! The events format is [`xvrrpd::engine::replay`]'s: the same as the daemon's flight
//! recordings (`--record-events`), so a recorded incident can become a case here.

use std::path::{Path, PathBuf};

use xvrrpd::engine::replay::replay;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Replays one events file and returns the actions as JSON lines.
fn actions_of(events: &str) -> String {
    replay(events)
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|a| format!("{}\n", a.to_json()))
        .collect()
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
        let actual = actions_of(&std::fs::read_to_string(&events_path).unwrap());
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
