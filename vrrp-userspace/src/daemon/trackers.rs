//! Every tracker that is not an interface, as one event source for the loop: `vrrp_script`
//! checks ([`super::checks`]), `track_file` ([`super::track_file`]) and `vrrp_track_process`
//! ([`super::track_process`]). Interfaces come with the netlink link events the loop already
//! follows. `track_bfd` is read from the configuration but not acted on.

use std::collections::BTreeMap;

use tracing::warn;

use super::checks::{CheckSpec, Checks, MAX_PARALLEL};
use super::resolve::{Resolved, TrackedObject};
use super::scripts::Vetted;
use super::status::{Histogram, SCRIPT_BUCKETS};
use super::track_file::{FileSpec, FileWatch};
use super::track_process::{ProcessSpec, ProcessWatch};
use crate::config::model::Config;
use crate::engine::{Event, TrackerId};

/// The tracker sources of one daemon.
pub struct Trackers {
    checks: Checks,
    files: FileWatch,
    processes: ProcessWatch,
    /// How long each check script's runs took, for the metrics.
    runs: BTreeMap<TrackerId, Histogram>,
}

impl Trackers {
    /// Starts every source; returns the events that give the engine the trackers' states
    /// before the instances start (file values, process quorums).
    pub fn start(
        config: &Config,
        resolved: &Resolved,
        vetted: &Vetted,
    ) -> std::io::Result<(Self, Vec<Event>)> {
        let mut checks = Vec::new();
        let mut files = Vec::new();
        let mut processes = Vec::new();
        for (number, object) in resolved.trackers.iter().enumerate() {
            let tracker = TrackerId(number as u32);
            match object {
                TrackedObject::Interface(_) => {}
                TrackedObject::Script(spec) => {
                    let launch = config
                        .scripts
                        .iter()
                        .find(|s| s.name == spec.name)
                        .and_then(|s| vetted.launch(&s.script));
                    match launch {
                        Some(launch) => checks.push(CheckSpec {
                            tracker,
                            name: spec.name.clone(),
                            launch: launch.clone(),
                            interval: spec.interval,
                            timeout: spec.timeout,
                        }),
                        None => {
                            warn!(script = %spec.name, "vrrp_script has no command that may run")
                        }
                    }
                }
                TrackedObject::File(name) => {
                    if let Some(file) = config.track_files.iter().find(|f| &f.name == name) {
                        files.push(FileSpec::new(tracker, file));
                    }
                }
                TrackedObject::Process(name) => {
                    if let Some(process) = config.track_processes.iter().find(|p| &p.name == name) {
                        processes.push(ProcessSpec::new(tracker, process));
                    }
                }
            }
        }
        let (files, file_values) = FileWatch::start(files)?;
        let (processes, quorums) = ProcessWatch::start(processes);
        let mut initial: Vec<Event> = file_values
            .into_iter()
            .map(|v| Event::TrackerValue {
                tracker: v.tracker,
                value: v.value,
            })
            .collect();
        initial.extend(quorums.into_iter().map(|q| Event::Tracker {
            tracker: q.tracker,
            up: q.up,
        }));
        Ok((
            Self {
                checks: Checks::start(checks, MAX_PARALLEL),
                files,
                processes,
                runs: BTreeMap::new(),
            },
            initial,
        ))
    }

    /// The next tracker reports, as engine events.
    pub async fn next(&mut self) -> Vec<Event> {
        tokio::select! {
            Some(result) = self.checks.next() => {
                self.runs
                    .entry(result.tracker)
                    .or_default()
                    .observe(&SCRIPT_BUCKETS, result.took.as_secs_f64());
                vec![Event::ScriptResult {
                    tracker: result.tracker,
                    success: result.success,
                }]
            }
            changes = self.files.next() => match changes {
                Ok(changes) => changes
                    .into_iter()
                    .map(|v| Event::TrackerValue { tracker: v.tracker, value: v.value })
                    .collect(),
                Err(e) => {
                    warn!(error = %e, "reading file changes failed");
                    Vec::new()
                }
            },
            changes = self.processes.next() => match changes {
                Ok(changes) => changes
                    .into_iter()
                    .map(|q| Event::Tracker { tracker: q.tracker, up: q.up })
                    .collect(),
                Err(e) => {
                    warn!(error = %e, "reading process events failed");
                    Vec::new()
                }
            },
        }
    }

    /// How long the check script `tracker`'s runs took so far.
    pub fn runs(&self, tracker: TrackerId) -> Histogram {
        self.runs.get(&tracker).cloned().unwrap_or_default()
    }

    /// Stops the checks (running ones are terminated with their process groups).
    pub async fn stop(&mut self) {
        self.checks.stop().await;
    }
}
