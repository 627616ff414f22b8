//! The differential test of xvrrpd's keepalived.conf reader against keepalived 2.2.7: generated
//! files ([`generate`]) and real-world ones are run through `keepalived -t` and `xvrrpd -t` in
//! the same network namespace ([`world`]), and for files keepalived accepts, through both
//! programs' dumps ([`summary`]). The rules ([`judge`]):
//!
//! - keepalived exits 0: xvrrpd exits 0 (warnings allowed) and means the same thing;
//! - keepalived fails on the configuration (4, 5, 6): xvrrpd fails with the same code, except
//!   where keepalived's complaint is one xvrrpd deliberately reports as a warning
//!   ([`WARNED_INSTEAD`], listed in the README), and then xvrrpd must have warned;
//! - keepalived -t killed by SIGTERM (143: its script check as another user signals itself
//!   in -t mode, a keepalived bug): the exit code says nothing, the dump is still compared;
//! - keepalived -t on a file with a `net_namespace` that does not exist exits 0 without
//!   checking anything: that 0 says nothing either.

pub mod files;
pub mod generate;
mod layout;
mod rng;
pub mod summary;
mod values;
pub mod world;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use generate::{Case, generate};
use summary::Summary;
pub use world::{Outcome, run_case};

/// keepalived complaints (exit 5) that xvrrpd reports as warnings, with the reason. A file
/// whose every keepalived error is one of these may pass xvrrpd with exit 0, provided xvrrpd
/// warned.
pub const WARNED_INSTEAD: &[(&str, &str)] = &[
    (
        "unknown state",
        "keepalived runs such an instance as BACKUP; so does xvrrpd, with a warning",
    ),
    (
        "Unknown keyword 'garp_interval'",
        "xvrrpd's per-instance gap between gratuitous ARPs, read with a warning",
    ),
    (
        "Unknown keyword 'gna_interval'",
        "xvrrpd's per-instance gap between neighbour advertisements, read with a warning",
    ),
    (
        "Unknown keyword 'no_virtual_ipaddress'",
        "newer keepalived's instance without addresses, read with a warning",
    ),
    (
        "Unknown keyword 'lvs_id'",
        "keepalived 1.x's router_id, read with a warning",
    ),
    (
        "Unknown keyword 'state_dump_file'",
        "newer keepalived's dump file names, read with a warning",
    ),
    (
        "Unknown keyword 'stats_dump_file'",
        "newer keepalived's dump file names, read with a warning",
    ),
    (
        "Unknown keyword 'json_dump_file'",
        "newer keepalived's dump file names, read with a warning",
    ),
    (
        "Unknown keyword 'v3_checksum_as_v2'",
        "xvrrpd's VRRPv3 checksum switch, read with a warning",
    ),
];

/// One disagreement between the two programs about one file.
#[derive(Clone, Debug)]
pub struct Divergence {
    pub seed: u64,
    /// `exit` or `meaning`.
    pub kind: &'static str,
    pub detail: String,
}

/// Compares what both programs said about one file.
pub fn judge(seed: u64, outcome: &Outcome) -> Vec<Divergence> {
    let mut found = Vec::new();
    let k = outcome.keepalived_code;
    let x = outcome.xvrrpd_code;
    let divergence = |detail: String| Divergence {
        seed,
        kind: "exit",
        detail,
    };
    // keepalived -t with a net_namespace it cannot enter exits 0 before checking anything
    // ("Unable to set network namespace", logged only): its 0 says nothing.
    let unchecked = k == 0
        && outcome.keepalived_stderr.trim().is_empty()
        && outcome
            .text
            .lines()
            .any(|l| l.split_whitespace().any(|w| w == "net_namespace"));
    match k {
        143 => {}
        0 if unchecked => {}
        0 if x != 0 => found.push(divergence(format!(
            "keepalived exits 0, xvrrpd {x}:\n{}",
            first_errors(&outcome.xvrrpd_stderr)
        ))),
        4..=6 if x != k => {
            let errors: Vec<&str> = outcome
                .keepalived_stderr
                .lines()
                .filter(|l| !l.trim().is_empty())
                .collect();
            let all_warned_instead = !errors.is_empty()
                && errors.iter().all(|line| {
                    WARNED_INSTEAD
                        .iter()
                        .any(|(pattern, _)| line.contains(pattern))
                });
            let warned = outcome.xvrrpd_stderr.contains(": warning: ");
            if !(x == 0 && all_warned_instead && warned) {
                found.push(divergence(format!(
                    "keepalived exits {k}:\n{}\nxvrrpd exits {x}:\n{}",
                    outcome.keepalived_stderr.trim_end(),
                    first_errors(&outcome.xvrrpd_stderr)
                )));
            }
        }
        _ => {}
    }
    if let (Some(dump), Some(json)) = (&outcome.keepalived_dump, &outcome.xvrrpd_json) {
        let theirs = Summary::from_keepalived(dump);
        let ours = Summary::from_xvrrpd(json);
        for detail in meaning_differences(&theirs, &ours) {
            found.push(Divergence {
                seed,
                kind: "meaning",
                detail,
            });
        }
    }
    found
}

fn first_errors(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| l.contains(": error: ") || l.contains(": fatal: ") || l.starts_with("error"))
        .take(6)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Field by field, instance by instance: what keepalived's dump and xvrrpd's model disagree on.
pub fn meaning_differences(theirs: &Summary, ours: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    let names = |s: &Summary| s.instances.keys().cloned().collect::<Vec<_>>();
    if names(theirs) != names(ours) {
        out.push(format!(
            "instances: keepalived {:?}, xvrrpd {:?}",
            names(theirs),
            names(ours)
        ));
    }
    for (name, fields) in &theirs.instances {
        let Some(our_fields) = ours.instances.get(name) else {
            continue;
        };
        let keys: std::collections::BTreeSet<&String> =
            fields.keys().chain(our_fields.keys()).collect();
        for key in keys {
            let (a, b) = (fields.get(key), our_fields.get(key));
            if a != b {
                out.push(format!(
                    "{name} {key}: keepalived {:?}, xvrrpd {:?}",
                    a.map(String::as_str).unwrap_or("-"),
                    b.map(String::as_str).unwrap_or("-")
                ));
            }
        }
    }
    for (name, fields) in &theirs.scripts {
        let Some(our_fields) = ours.scripts.get(name) else {
            out.push(format!("vrrp_script {name}: only keepalived has it"));
            continue;
        };
        for (key, value) in fields {
            if our_fields.get(key) != Some(value) {
                out.push(format!(
                    "vrrp_script {name} {key}: keepalived {value:?}, xvrrpd {:?}",
                    our_fields.get(key).map(String::as_str).unwrap_or("-")
                ));
            }
        }
    }
    if theirs.sync_groups != ours.sync_groups {
        out.push(format!(
            "sync groups: keepalived {:?}, xvrrpd {:?}",
            theirs.sync_groups, ours.sync_groups
        ));
    }
    out
}

/// The result of a batch.
#[derive(Debug, Default)]
pub struct Report {
    pub files: usize,
    /// Files keepalived accepted (exit 0).
    pub accepted: usize,
    /// Files whose dumps were compared.
    pub dumps: usize,
    pub divergences: Vec<Divergence>,
    /// Cases that could not be run (namespace or process trouble), with the reason.
    pub errors: Vec<(u64, String)>,
    /// Cases where keepalived -t ended other than with 0, 4, 5, 6 or SIGTERM (a crash), with
    /// its exit code: its verdict on the file is unknown.
    pub keepalived_crashes: Vec<(u64, i32)>,
    /// (keepalived's exit code, xvrrpd's) -> files.
    pub codes: std::collections::BTreeMap<(i32, i32), usize>,
    /// keepalived's complaints, without file, line and numbers -> files.
    pub complaints: std::collections::BTreeMap<String, usize>,
    /// Real-world files: case number -> file name.
    pub names: std::collections::BTreeMap<u64, String>,
}

impl Report {
    pub fn summary(&self) -> String {
        format!(
            "{} files ({} accepted by keepalived, {} dumps compared), {} divergences in {} files, {} not run",
            self.files,
            self.accepted,
            self.dumps,
            self.divergences.len(),
            {
                let mut seeds: Vec<u64> = self.divergences.iter().map(|d| d.seed).collect();
                seeds.dedup();
                seeds.len()
            },
            self.errors.len()
        )
    }
}

/// Runs generated cases for `seeds` on `threads` threads. Every diverging case is written to
/// `keep` (configuration, both outputs, the differences), when given.
pub fn run_batch(
    seeds: impl Iterator<Item = u64> + Send,
    xvrrpd: &Path,
    threads: usize,
    dump: bool,
    keep: Option<&Path>,
) -> Report {
    let seeds = Mutex::new(seeds);
    let report = Mutex::new(Report::default());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let Some(seed) = seeds.lock().expect("seed lock").next() else {
                        break;
                    };
                    let case = generate(seed);
                    let outcome = match run_case(&case, xvrrpd, dump) {
                        Ok(outcome) => outcome,
                        Err(err) => {
                            report
                                .lock()
                                .expect("report lock")
                                .errors
                                .push((seed, format!("{err:#}")));
                            continue;
                        }
                    };
                    record(&report, &case, &outcome, keep);
                }
            });
        }
    });
    let mut report = report.into_inner().expect("report lock");
    report.divergences.sort_by_key(|d| d.seed);
    report
}

/// Judges one case and adds it to the report (keeping it in `keep` when it diverges).
pub(crate) fn record(report: &Mutex<Report>, case: &Case, outcome: &Outcome, keep: Option<&Path>) {
    let seed = case.seed;
    let found = judge(seed, outcome);
    if !found.is_empty()
        && let Some(keep) = keep
    {
        let _ = save(keep, case, outcome, &found);
    }
    let mut report = report.lock().expect("report lock");
    if !matches!(outcome.keepalived_code, 0 | 4..=6 | 143) {
        report
            .keepalived_crashes
            .push((seed, outcome.keepalived_code));
        if let Some(keep) = keep {
            let _ = save(keep, case, outcome, &[]);
        }
    }
    report.files += 1;
    report.accepted += usize::from(outcome.keepalived_code == 0);
    report.dumps += usize::from(outcome.keepalived_dump.is_some());
    report.divergences.extend(found);
    *report
        .codes
        .entry((outcome.keepalived_code, outcome.xvrrpd_code))
        .or_default() += 1;
    for line in outcome.keepalived_stderr.lines() {
        *report.complaints.entry(complaint(line)).or_default() += 1;
    }
}

/// A keepalived complaint without its position and numbers, to count alike ones together.
fn complaint(line: &str) -> String {
    let text = match line.split_once(") ") {
        Some((position, rest)) if position.starts_with('(') && position.contains("Line ") => rest,
        _ => line,
    };
    text.split_whitespace()
        .map(|word| {
            if word.chars().any(|c| c.is_ascii_digit()) {
                "N"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes a diverging case where a human (or a regression test) can pick it up.
pub fn save(
    keep: &Path,
    case: &Case,
    outcome: &Outcome,
    found: &[Divergence],
) -> anyhow::Result<PathBuf> {
    let dir = keep.join(format!("seed-{}", case.seed));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("keepalived.conf"), &outcome.text)?;
    for (name, text) in &case.includes {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    std::fs::write(
        dir.join("outputs.txt"),
        format!(
            "config id: {}\nkeepalived -t: {}\n{}\nxvrrpd -t: {}\n{}\n",
            case.config_id,
            outcome.keepalived_code,
            outcome.keepalived_stderr,
            outcome.xvrrpd_code,
            outcome.xvrrpd_stderr
        ),
    )?;
    let differences: Vec<String> = found
        .iter()
        .map(|d| format!("[{}] {}", d.kind, d.detail))
        .collect();
    std::fs::write(dir.join("divergences.txt"), differences.join("\n\n"))?;
    if let Some(dump) = &outcome.keepalived_dump {
        std::fs::write(dir.join("keepalived.dump"), dump.join("\n"))?;
    }
    if let Some(json) = &outcome.xvrrpd_json {
        std::fs::write(dir.join("xvrrpd.json"), serde_json::to_string_pretty(json)?)?;
    }
    Ok(dir)
}
