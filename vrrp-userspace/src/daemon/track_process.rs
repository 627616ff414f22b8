//! `vrrp_track_process`: how many processes match a name (and parameters), against `quorum`
//! and `quorum_max`, as keepalived 2.2.7 counts them (core/track_process.c): by `comm`, or by
//! the command line with `full_command` / parameters / `param_match exact|partial|initial`;
//! children forked by a counted process count at once; `delay` (or `fork_delay`,
//! `terminate_delay`) holds a quorum change caused by a fork or an exit for that long.
//!
//! Events come from the kernel's process connector (fork, exec, comm change, exit), as in
//! keepalived. The connector only exists in the host's network namespace and only answers
//! processes in the host's pid namespace: a daemon in another network namespace opens its
//! socket there (through /proc/1/ns/net); where that is not possible (a container) it rescans
//! /proc every [`SCAN_PERIOD`] instead, and says so.

mod connector;

use std::collections::BTreeMap;
use std::io;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

pub use self::connector::{Connector, ProcEvent};
use crate::config::model::TrackProcess;
use crate::engine::TrackerId;

/// How often /proc is read when the process connector cannot be used.
pub const SCAN_PERIOD: Duration = Duration::from_millis(100);

/// keepalived's param_match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamMatch {
    /// No parameters given: the name alone.
    None,
    /// Exactly the given parameters (the default when parameters are given).
    Exact,
    /// The given parameters first, any after.
    Partial,
    /// Like partial, and the last given parameter may be the start of the real one.
    Initial,
}

/// One tracked process description.
#[derive(Clone, Debug)]
pub struct ProcessSpec {
    pub tracker: TrackerId,
    pub name: String,
    pub path: Vec<u8>,
    /// The parameters, each followed by a NUL (as in /proc/PID/cmdline).
    pub params: Vec<u8>,
    pub param_match: ParamMatch,
    /// Match the command line's first word instead of `comm`.
    pub full_command: bool,
    pub quorum: u32,
    pub quorum_max: u32,
    pub fork_delay: Option<Duration>,
    pub terminate_delay: Option<Duration>,
}

impl ProcessSpec {
    pub fn new(tracker: TrackerId, config: &TrackProcess) -> Self {
        let path = config.process.first().cloned().unwrap_or_default();
        let mut params = Vec::new();
        for word in config.process.iter().skip(1) {
            params.extend_from_slice(word.as_bytes());
            params.push(0);
        }
        let mut param_match = match config.param_match.as_deref() {
            Some("initial") => ParamMatch::Initial,
            Some("partial") => ParamMatch::Partial,
            _ => ParamMatch::None,
        };
        if config.process.len() > 1 && param_match == ParamMatch::None {
            param_match = ParamMatch::Exact;
        }
        Self {
            tracker,
            name: config.name.clone(),
            path: path.into_bytes(),
            params,
            param_match,
            full_command: config.full_command || param_match != ParamMatch::None,
            quorum: config.quorum,
            quorum_max: config.quorum_max.unwrap_or(u32::MAX),
            fork_delay: config.fork_delay.or(config.delay),
            terminate_delay: config.terminate_delay.or(config.delay),
        }
    }

    /// Whether a process with this `comm` and command line is one of ours.
    pub fn matches(&self, process: &Identity) -> bool {
        let name: &[u8] = if self.full_command {
            process
                .cmdline
                .split(|&b| b == 0)
                .next()
                .unwrap_or_default()
        } else {
            &process.comm
        };
        if name != self.path.as_slice() {
            return false;
        }
        if self.param_match == ParamMatch::None {
            return true;
        }
        let rest = process.cmdline.get(name.len() + 1..).unwrap_or_default();
        // keepalived's check_params.
        match self.param_match {
            ParamMatch::None => true,
            ParamMatch::Exact => rest == self.params.as_slice(),
            ParamMatch::Partial => rest.starts_with(&self.params),
            ParamMatch::Initial => {
                self.params.is_empty() || rest.starts_with(&self.params[..self.params.len() - 1])
            }
        }
    }

    fn have_quorum(&self, count: u32) -> bool {
        (self.quorum..=self.quorum_max).contains(&count)
    }
}

/// What identifies a process: its `comm` and its command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    pub comm: Vec<u8>,
    pub cmdline: Vec<u8>,
}

impl Identity {
    /// Reads /proc/PID; `None` for a process that is gone or a zombie.
    pub fn read(pid: u32) -> Option<Self> {
        let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) S ...": the state after the last ')'.
        let close = stat.iter().rposition(|&b| b == b')')?;
        if stat.get(close + 2) == Some(&b'Z') {
            return None;
        }
        let open = stat.iter().position(|&b| b == b'(')?;
        let comm = stat[open + 1..close].to_vec();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        Some(Self { comm, cmdline })
    }
}

/// Why a count changed: keepalived delays only changes caused by forks and exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cause {
    Fork,
    Exit,
    Other,
}

/// A tracked process description's quorum became true or false.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuorumChange {
    pub tracker: TrackerId,
    pub up: bool,
}

/// The counted processes and each description's quorum (pure: fed with process events and
/// the clock).
pub struct ProcessTable {
    specs: Vec<ProcessSpec>,
    /// Which descriptions each counted pid matches.
    pids: BTreeMap<u32, Vec<usize>>,
    counts: Vec<u32>,
    reported: Vec<bool>,
    pending: Vec<Option<Instant>>,
}

impl ProcessTable {
    /// Counts the processes running now; the initial quorums are what the engine starts with.
    pub fn new(specs: Vec<ProcessSpec>, running: &[(u32, Identity)]) -> (Self, Vec<QuorumChange>) {
        let n = specs.len();
        let mut table = Self {
            specs,
            pids: BTreeMap::new(),
            counts: vec![0; n],
            reported: vec![false; n],
            pending: vec![None; n],
        };
        for (pid, identity) in running {
            table.count(*pid, identity);
        }
        let initial = (0..n)
            .map(|i| {
                table.reported[i] = table.specs[i].have_quorum(table.counts[i]);
                QuorumChange {
                    tracker: table.specs[i].tracker,
                    up: table.reported[i],
                }
            })
            .collect();
        (table, initial)
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    fn count(&mut self, pid: u32, identity: &Identity) -> Vec<usize> {
        let matched: Vec<usize> = (0..self.specs.len())
            .filter(|&i| self.specs[i].matches(identity))
            .collect();
        for &i in &matched {
            self.counts[i] += 1;
        }
        if !matched.is_empty() {
            self.pids.insert(pid, matched.clone());
        }
        matched
    }

    fn uncount(&mut self, pid: u32) -> Vec<usize> {
        let matched = self.pids.remove(&pid).unwrap_or_default();
        for &i in &matched {
            self.counts[i] -= 1;
        }
        matched
    }

    /// A process forked: a child of a counted process is counted the same way at once.
    pub fn fork(&mut self, parent: u32, child: u32, now: Instant) -> Vec<QuorumChange> {
        let Some(matched) = self.pids.get(&parent).cloned() else {
            return Vec::new();
        };
        for &i in &matched {
            self.counts[i] += 1;
        }
        self.pids.insert(child, matched.clone());
        self.settle(&matched, Cause::Fork, now)
    }

    /// A process exec'd or changed its name: counted again from what it is now.
    pub fn changed(
        &mut self,
        pid: u32,
        identity: Option<&Identity>,
        now: Instant,
    ) -> Vec<QuorumChange> {
        let before = self.counts.clone();
        self.uncount(pid);
        if let Some(identity) = identity {
            self.count(pid, identity);
        }
        // Only a count that moved can change a quorum (a comm change after an exec, or an exec
        // keeping the name, leaves a pending delay alone).
        let moved: Vec<usize> = (0..self.specs.len())
            .filter(|&i| self.counts[i] != before[i])
            .collect();
        self.settle(&moved, Cause::Other, now)
    }

    /// A process exited.
    pub fn exit(&mut self, pid: u32, now: Instant) -> Vec<QuorumChange> {
        let affected = self.uncount(pid);
        self.settle(&affected, Cause::Exit, now)
    }

    /// Everything read again (after lost events, or each scan without the connector).
    pub fn rescan(&mut self, running: &[(u32, Identity)], now: Instant) -> Vec<QuorumChange> {
        let before = std::mem::replace(&mut self.counts, vec![0; self.specs.len()]);
        self.pids.clear();
        for (pid, identity) in running {
            self.count(*pid, identity);
        }
        // What a scan finds more of was started, what it finds less of exited: the delays
        // apply as if the events had been seen.
        let mut out = Vec::new();
        for (i, before) in before.into_iter().enumerate() {
            let cause = match self.counts[i].cmp(&before) {
                std::cmp::Ordering::Greater => Cause::Fork,
                std::cmp::Ordering::Less => Cause::Exit,
                std::cmp::Ordering::Equal => continue,
            };
            out.extend(self.settle(&[i], cause, now));
        }
        out
    }

    /// When a delayed quorum change is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.iter().flatten().min().copied()
    }

    /// Delayed changes whose time has come.
    pub fn due(&mut self, now: Instant) -> Vec<QuorumChange> {
        let mut out = Vec::new();
        for i in 0..self.specs.len() {
            if self.pending[i].is_some_and(|at| at <= now) {
                self.pending[i] = None;
                out.extend(self.report(i));
            }
        }
        out
    }

    fn report(&mut self, i: usize) -> Option<QuorumChange> {
        let have = self.specs[i].have_quorum(self.counts[i]);
        (have != self.reported[i]).then(|| {
            self.reported[i] = have;
            QuorumChange {
                tracker: self.specs[i].tracker,
                up: have,
            }
        })
    }

    fn settle(&mut self, affected: &[usize], cause: Cause, now: Instant) -> Vec<QuorumChange> {
        let mut out = Vec::new();
        for &i in affected {
            let have = self.specs[i].have_quorum(self.counts[i]);
            if have == self.reported[i] {
                // Back where it was before a delay ran out: nothing happened.
                self.pending[i] = None;
                continue;
            }
            // keepalived delays whatever a fork or an exit changes, either way.
            let delay = match cause {
                Cause::Fork => self.specs[i].fork_delay,
                Cause::Exit => self.specs[i].terminate_delay,
                Cause::Other => None,
            };
            match delay {
                Some(delay) if !delay.is_zero() => {
                    self.pending[i].get_or_insert(now + delay);
                }
                _ => {
                    self.pending[i] = None;
                    out.extend(self.report(i));
                }
            }
        }
        out
    }
}

/// Every process in /proc with its identity (threads are not processes here).
pub fn running_processes() -> Vec<(u32, Identity)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, Identity::read(pid)?)))
        .collect()
}

/// Where process events come from.
enum Source {
    Connector(Connector),
    /// Reading /proc: the next scan is due then (an absolute time, because the loop drops
    /// and recreates [`ProcessWatch::next`] whenever another event comes first).
    Scan {
        next: Instant,
    },
}

/// The tracked processes, kept current.
pub struct ProcessWatch {
    table: ProcessTable,
    source: Source,
}

impl ProcessWatch {
    /// Counts what runs now and subscribes to process events; returns the initial quorums.
    pub fn start(specs: Vec<ProcessSpec>) -> (Self, Vec<QuorumChange>) {
        if specs.is_empty() {
            let (table, _) = ProcessTable::new(specs, &[]);
            return (
                Self {
                    table,
                    source: Source::Scan {
                        next: Instant::now(),
                    },
                },
                Vec::new(),
            );
        }
        // Subscribe first, so that nothing between the scan and the subscription is missed.
        let source = match Connector::open() {
            Ok(connector) => Source::Connector(connector),
            Err(e) => {
                warn!(error = %e, period_ms = SCAN_PERIOD.as_millis() as u64, "the kernel's process connector is not available (another pid namespace?); tracked processes are found by reading /proc periodically");
                Source::Scan {
                    next: Instant::now() + SCAN_PERIOD,
                }
            }
        };
        let (table, initial) = ProcessTable::new(specs, &running_processes());
        for (index, change) in initial.iter().enumerate() {
            info!(track_process = %table.specs[index].name, count = table.counts[index], quorum = change.up, "tracking processes");
        }
        (Self { table, source }, initial)
    }

    /// The next quorum changes.
    pub async fn next(&mut self) -> io::Result<Vec<QuorumChange>> {
        if self.table.is_empty() {
            return std::future::pending().await;
        }
        loop {
            let deadline = self.table.next_deadline();
            let delayed = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let changes = match &mut self.source {
                Source::Connector(connector) => {
                    tokio::select! {
                        events = connector.next() => {
                            let now = Instant::now();
                            let mut changes = Vec::new();
                            for event in events? {
                                changes.extend(self.apply(event, now));
                            }
                            changes
                        }
                        () = delayed => self.table.due(Instant::now()),
                    }
                }
                Source::Scan { next } => {
                    let scan_at = *next;
                    tokio::select! {
                        () = tokio::time::sleep_until(scan_at) => {
                            let now = Instant::now();
                            *next = now + SCAN_PERIOD;
                            let mut changes = self.table.rescan(&running_processes(), now);
                            changes.extend(self.table.due(now));
                            changes
                        }
                        () = delayed => self.table.due(Instant::now()),
                    }
                }
            };
            if !changes.is_empty() {
                for change in &changes {
                    info!(
                        tracker = change.tracker.0,
                        quorum = change.up,
                        "tracked process quorum changed"
                    );
                }
                return Ok(changes);
            }
        }
    }

    fn apply(&mut self, event: ProcEvent, now: Instant) -> Vec<QuorumChange> {
        let counted = |pid: &u32| self.table.pids.contains_key(pid);
        let relevant = match &event {
            ProcEvent::Fork { parent, .. } => counted(parent),
            ProcEvent::Exit { pid } => counted(pid),
            ProcEvent::Exec { .. } | ProcEvent::Comm { .. } | ProcEvent::Lost => true,
        };
        if relevant {
            tracing::trace!(?event, "process event");
        }
        match event {
            ProcEvent::Fork { parent, child } => self.table.fork(parent, child, now),
            ProcEvent::Exec { pid } | ProcEvent::Comm { pid } => {
                self.table.changed(pid, Identity::read(pid).as_ref(), now)
            }
            ProcEvent::Exit { pid } => self.table.exit(pid, now),
            ProcEvent::Lost => {
                warn!("process events were lost; reading /proc again");
                self.table.rescan(&running_processes(), now)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(process: &[&str], param_match: Option<&str>) -> ProcessSpec {
        ProcessSpec::new(
            TrackerId(0),
            &TrackProcess {
                name: "p".into(),
                process: process.iter().map(|s| (*s).to_owned()).collect(),
                param_match: param_match.map(str::to_owned),
                weight: 0,
                reverse: false,
                quorum: 2,
                quorum_max: Some(3),
                delay: Some(Duration::from_millis(500)),
                fork_delay: None,
                terminate_delay: None,
                full_command: false,
            },
        )
    }

    fn identity(comm: &str, cmdline: &[&str]) -> Identity {
        let mut line = Vec::new();
        for word in cmdline {
            line.extend_from_slice(word.as_bytes());
            line.push(0);
        }
        Identity {
            comm: comm.as_bytes().to_vec(),
            cmdline: line,
        }
    }

    #[test]
    fn names_and_parameters_match_like_keepalived() {
        let by_comm = spec(&["nginx"], None);
        assert!(by_comm.matches(&identity("nginx", &["nginx: master process"])));
        assert!(!by_comm.matches(&identity("nginx-debug", &["nginx"])));
        let exact = spec(&["/usr/bin/redis-server", "a", "b"], None);
        assert!(exact.full_command);
        assert!(exact.matches(&identity("x", &["/usr/bin/redis-server", "a", "b"])));
        assert!(!exact.matches(&identity("x", &["/usr/bin/redis-server", "a", "b", "c"])));
        assert!(!exact.matches(&identity("x", &["/usr/bin/redis-server", "a"])));
        let partial = spec(&["sleep", "100"], Some("partial"));
        assert!(partial.matches(&identity("sleep", &["sleep", "100", "extra"])));
        assert!(!partial.matches(&identity("sleep", &["sleep", "1000"])));
        let initial = spec(&["sleep", "10"], Some("initial"));
        assert!(initial.matches(&identity("sleep", &["sleep", "1000"])));
        assert!(!initial.matches(&identity("sleep", &["sleep", "200"])));
    }

    #[test]
    fn quorum_with_delays_for_forks_and_exits() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let running = [(10, identity("nginx", &["nginx"]))];
        let (mut table, initial) = ProcessTable::new(vec![spec(&["nginx"], None)], &running);
        assert!(!initial[0].up, "1 of quorum 2");
        // A worker forked by the counted master: quorum after the fork delay.
        assert!(table.fork(10, 11, ms(0)).is_empty());
        assert_eq!(table.next_deadline(), Some(ms(500)));
        assert!(table.due(ms(499)).is_empty());
        assert_eq!(
            table.due(ms(500)),
            [QuorumChange {
                tracker: TrackerId(0),
                up: true
            }]
        );
        // A fourth process is over quorum_max 3 (exec'd, so at once).
        assert!(
            table
                .changed(12, Some(&identity("nginx", &["nginx"])), ms(600))
                .is_empty()
        );
        assert!(!table.changed(13, Some(&identity("nginx", &[])), ms(700))[0].up);
        // An exit back to 3 is delayed, an exit and a start within the delay cancel out.
        assert!(table.exit(13, ms(800)).is_empty());
        assert!(table.due(ms(1300))[0].up);
        assert!(table.exit(12, ms(1400)).is_empty());
        assert!(table.exit(11, ms(1500)).is_empty(), "down to 1: delayed");
        assert!(
            table.fork(10, 14, ms(1600)).is_empty(),
            "back to 2 before the delay"
        );
        assert!(table.due(ms(2100)).is_empty(), "nothing to report");
        // A process renamed away is uncounted at once.
        assert!(!table.changed(14, Some(&identity("other", &[])), ms(2200))[0].up);
    }

    #[test]
    fn a_pending_delay_survives_events_and_scans_that_change_no_count() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let running: Vec<(u32, Identity)> = (10..14)
            .map(|pid| (pid, identity("nginx", &["nginx"])))
            .collect();
        let (mut table, initial) = ProcessTable::new(vec![spec(&["nginx"], None)], &running);
        assert!(!initial[0].up, "4 is over quorum_max 3");
        assert!(table.exit(13, ms(0)).is_empty(), "delayed");
        // The same name again (a comm event after an exec), and a scan finding the same.
        assert!(
            table
                .changed(12, Some(&identity("nginx", &[])), ms(100))
                .is_empty()
        );
        assert!(table.rescan(&running[..3], ms(200)).is_empty());
        assert!(table.due(ms(499)).is_empty());
        assert!(table.due(ms(500))[0].up);
        // A scan that finds fewer applies the exit delay too.
        assert!(table.rescan(&running[..1], ms(600)).is_empty());
        assert!(!table.due(ms(1100))[0].up);
    }
}
