//! What the daemon can tell about itself: the book it keeps beside the engine (since when each
//! instance is in its state, its last transition, keepalived's counters), and the status report
//! built from the book, the engine and the kernel's maps. `xvrrpd status`, the Prometheus
//! metrics and keepalived's dump files are all views of one [`Report`].

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::engine::{Action, InstanceId, Reason, State, Timestamp};

/// keepalived's own counters of an instance (vrrp_print.c), which the engine's actions tell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineCounters {
    /// Every advert sent, priority 0 included (`advert_sent`).
    pub adverts_sent: u64,
    pub became_master: u64,
    pub released_master: u64,
    pub priority_zero_sent: u64,
}

/// A state change as the book keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransitionRecord {
    pub from: String,
    pub to: String,
    pub reason: String,
    /// Seconds since the Unix epoch.
    pub at_unix: f64,
}

/// Upper bounds of the failover-time histogram buckets, in seconds.
pub const FAILOVER_BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Upper bounds of the check-script run-time histogram buckets, in seconds.
pub const SCRIPT_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0];

/// Durations as a histogram (Prometheus `le` buckets, cumulative at rendering): how long
/// backups went without hearing a master before taking over ([`FAILOVER_BUCKETS`]), how long
/// check scripts ran ([`SCRIPT_BUCKETS`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Counts per bucket of its bounds, then one for +Inf; not cumulative.
    pub buckets: Vec<u64>,
    pub sum_s: f64,
    pub count: u64,
}

impl Histogram {
    pub fn observe(&mut self, bounds: &[f64], seconds: f64) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; bounds.len() + 1];
        }
        let slot = bounds
            .iter()
            .position(|&le| seconds <= le)
            .unwrap_or(bounds.len());
        self.buckets[slot] += 1;
        self.sum_s += seconds;
        self.count += 1;
    }
}

#[derive(Clone, Debug)]
struct InstanceBook {
    state: State,
    since_unix: f64,
    since_mono: Timestamp,
    last: Option<TransitionRecord>,
    counters: EngineCounters,
    transitions: u64,
    failovers: Histogram,
}

impl InstanceBook {
    fn new(since_unix: f64, now: Timestamp) -> Self {
        Self {
            state: State::Initialize,
            since_unix,
            since_mono: now,
            last: None,
            counters: EngineCounters::default(),
            transitions: 0,
            failovers: Histogram::default(),
        }
    }
}

/// A transition as `xvrrpd watch` prints it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransitionEvent {
    pub instance: String,
    pub priority: u8,
    #[serde(flatten)]
    pub transition: TransitionRecord,
}

/// The daemon's book, updated from every action the engine takes.
#[derive(Clone, Debug)]
pub struct Book {
    instances: Vec<InstanceBook>,
    started_unix: f64,
}

pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Book {
    pub fn new(count: usize, now: Timestamp) -> Self {
        let started_unix = unix_now();
        Self {
            instances: (0..count)
                .map(|_| InstanceBook::new(started_unix, now))
                .collect(),
            started_unix,
        }
    }

    /// A reload: carried instances keep their history and counters (`carry[i]`: the old
    /// instance the new instance `i` continues), new ones start a fresh page.
    pub fn reconfigure(&mut self, carry: &[Option<InstanceId>], now: Timestamp) {
        let mut old: Vec<Option<InstanceBook>> = std::mem::take(&mut self.instances)
            .into_iter()
            .map(Some)
            .collect();
        self.instances = carry
            .iter()
            .map(|carried| {
                carried
                    .and_then(|id| old.get_mut(id.0).and_then(Option::take))
                    .unwrap_or_else(|| InstanceBook::new(unix_now(), now))
            })
            .collect();
    }

    /// Notes what an action tells; returns the transition to announce, if it is one. `why` is
    /// a state change's reason in words (the caller knows the names of trackers and links).
    pub fn record(
        &mut self,
        id: InstanceId,
        action: &Action,
        now: Timestamp,
        why: String,
    ) -> Option<TransitionRecord> {
        let book = &mut self.instances[id.0];
        match action {
            Action::SendAdvert { priority, .. } => {
                book.counters.adverts_sent += 1;
                if priority.0 == 0 {
                    book.counters.priority_zero_sent += 1;
                }
                None
            }
            Action::StateChanged {
                from, to, reason, ..
            } => {
                if *to == State::Master {
                    book.counters.became_master += 1;
                }
                if *from == State::Master {
                    book.counters.released_master += 1;
                }
                book.transitions += 1;
                if let Reason::MasterDown { silent_for } = reason {
                    book.failovers
                        .observe(&FAILOVER_BUCKETS, silent_for.as_secs_f64());
                }
                let at_unix = unix_now();
                book.state = *to;
                book.since_unix = at_unix;
                book.since_mono = now;
                let record = TransitionRecord {
                    from: from.name().to_owned(),
                    to: to.name().to_owned(),
                    reason: why,
                    at_unix,
                };
                book.last = Some(record.clone());
                Some(record)
            }
            _ => None,
        }
    }

    pub fn counters(&self, id: InstanceId) -> EngineCounters {
        self.instances[id.0].counters
    }

    pub fn transitions(&self, id: InstanceId) -> u64 {
        self.instances[id.0].transitions
    }

    pub fn failovers(&self, id: InstanceId) -> &Histogram {
        &self.instances[id.0].failovers
    }

    pub fn since_unix(&self, id: InstanceId) -> f64 {
        self.instances[id.0].since_unix
    }

    /// How long the instance has been in its state.
    pub fn in_state_for(&self, id: InstanceId, now: Timestamp) -> Duration {
        now - self.instances[id.0].since_mono
    }

    pub fn last_transition(&self, id: InstanceId) -> Option<&TransitionRecord> {
        self.instances[id.0].last.as_ref()
    }

    pub fn started_unix(&self) -> f64 {
        self.started_unix
    }
}

/// One tracked object's part in an instance's priority.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackerReport {
    pub name: String,
    pub kind: String,
    pub weight: i32,
    pub reverse: bool,
    /// `None` before its first report.
    pub up: Option<bool>,
    /// What it adds to the priority now.
    pub contribution: i32,
}

/// The master as the kernel last heard it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MasterReport {
    pub address: IpAddr,
    pub priority: u8,
    pub advert_interval_ms: u64,
    pub last_heard_ms_ago: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AddressReport {
    /// `192.0.2.100/24 dev eth0 scope global`, as keepalived prints it.
    pub address: String,
    pub excluded: bool,
    /// On its interface now.
    pub present: bool,
}

/// Receive counters with keepalived's stats-file names, and the engine's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountersReport {
    pub adverts_received: u64,
    pub adverts_sent: u64,
    pub became_master: u64,
    pub released_master: u64,
    pub packet_length_errors: u64,
    pub ttl_errors: u64,
    pub invalid_type: u64,
    pub advert_interval_errors: u64,
    pub address_list_errors: u64,
    pub auth_invalid_type: u64,
    pub auth_type_mismatch: u64,
    pub auth_failure: u64,
    pub priority_zero_received: u64,
    pub priority_zero_sent: u64,
    /// The kernel's other counters (version, checksum, interval mismatch, ...).
    pub other: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceReport {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub family: String,
    pub version: u8,
    pub state: String,
    /// Seconds since the Unix epoch.
    pub since_unix: f64,
    pub in_state_s: f64,
    pub base_priority: u8,
    pub effective_priority: u8,
    pub trackers: Vec<TrackerReport>,
    pub master: Option<MasterReport>,
    pub advert_interval_ms: f64,
    pub master_adver_interval_ms: f64,
    pub master_down_interval_ms: f64,
    pub preempt: bool,
    pub preempt_delay_ms: f64,
    pub source: Option<IpAddr>,
    pub addresses: Vec<AddressReport>,
    pub last_transition: Option<TransitionRecord>,
    pub transitions: u64,
    /// Time without a master before each takeover by Master_Down_Interval.
    pub failovers: Histogram,
    pub counters: CountersReport,
    /// keepalived's `-d` details the data dump and JSON dump print.
    pub details: InstanceDetails,
}

/// Configuration details keepalived's dumps print for an instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceDetails {
    pub auth_type: u8,
    pub auth_pass: String,
    pub multicast_group: Option<IpAddr>,
    pub unicast_peers: Vec<IpAddr>,
    pub garp_delay_s: f64,
    pub garp_repeat: u32,
    pub garp_refresh_s: f64,
    pub garp_refresh_repeat: u32,
    pub garp_lower_prio_delay_s: f64,
    pub garp_lower_prio_repeat: u32,
    pub down_timer_adverts: u32,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub vmac: Option<String>,
    pub track_link: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InterfaceReport {
    pub name: String,
    pub ifindex: u32,
    /// Native, Generic or Adopted (an earlier run's link).
    pub xdp_mode: String,
    pub up: bool,
    pub drops: BTreeMap<String, u64>,
}

/// One `vrrp_script` check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScriptReport {
    pub name: String,
    pub command: String,
    pub interval_s: f64,
    pub timeout_s: f64,
    /// `None` before its first result.
    pub ok: Option<bool>,
    /// How long its runs took (since the daemon started or last reloaded).
    #[serde(default)]
    pub runs: Histogram,
}

/// Everything `xvrrpd status` shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub version: String,
    pub pid: u32,
    pub started_unix: f64,
    pub config_file: String,
    pub pin_dir: String,
    pub instances: Vec<InstanceReport>,
    pub interfaces: Vec<InterfaceReport>,
    pub scripts: Vec<ScriptReport>,
    /// The XDP program's global counters (events sent, suppressed, ring full, map full).
    pub kernel: BTreeMap<String, u64>,
}

/// `1h2m3s`, `4.5s`, `120ms`: a duration for people.
pub fn human(seconds: f64) -> String {
    if seconds < 1.0 {
        return format!("{:.0}ms", seconds * 1e3);
    }
    if seconds < 60.0 {
        return format!("{seconds:.1}s");
    }
    let total = seconds as u64;
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else {
        format!("{m}m{s}s")
    }
}

/// The report as the table `xvrrpd status` prints.
pub fn render_table(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let uptime = unix_now() - report.started_unix;
    let _ = writeln!(
        out,
        "xvrrpd {} (pid {}), up {}, config {}, pins {}",
        report.version,
        report.pid,
        human(uptime),
        report.config_file,
        report.pin_dir
    );
    for i in &report.instances {
        let _ = writeln!(
            out,
            "\n{} ({} VRID {} {} v{}): {} for {}, priority {} (base {})",
            i.name,
            i.interface,
            i.vrid,
            i.family,
            i.version,
            i.state,
            human(i.in_state_s),
            i.effective_priority,
            i.base_priority
        );
        for t in &i.trackers {
            let status = match t.up {
                Some(true) => "up",
                Some(false) => "down",
                None => "no result yet",
            };
            let _ = writeln!(
                out,
                "  track {} {} (weight {}{}): {status}, {:+}",
                t.kind,
                t.name,
                t.weight,
                if t.reverse { " reverse" } else { "" },
                t.contribution
            );
        }
        match &i.master {
            Some(m) => {
                let _ = writeln!(
                    out,
                    "  master heard: {} priority {} every {} ms, {} ms ago",
                    m.address, m.priority, m.advert_interval_ms, m.last_heard_ms_ago
                );
            }
            None => {
                let _ = writeln!(out, "  master heard: none");
            }
        }
        let _ = writeln!(
            out,
            "  advert interval {} ms (master's {} ms), Master_Down_Interval {:.3} ms",
            i.advert_interval_ms, i.master_adver_interval_ms, i.master_down_interval_ms
        );
        for a in &i.addresses {
            let _ = writeln!(
                out,
                "  {} {}{}",
                if a.present { "+" } else { "-" },
                a.address,
                if a.excluded { " (excluded)" } else { "" }
            );
        }
        if let Some(t) = &i.last_transition {
            let _ = writeln!(
                out,
                "  last transition: {} -> {} ({}), {} ago",
                t.from,
                t.to,
                t.reason,
                human(unix_now() - t.at_unix)
            );
        }
        let c = &i.counters;
        let _ = writeln!(
            out,
            "  adverts received {} sent {}, became master {} released {}, priority 0 received {} sent {}",
            c.adverts_received,
            c.adverts_sent,
            c.became_master,
            c.released_master,
            c.priority_zero_received,
            c.priority_zero_sent
        );
        let errors: Vec<String> = [
            ("length", c.packet_length_errors),
            ("ttl", c.ttl_errors),
            ("invalid_type", c.invalid_type),
            ("address_list", c.address_list_errors),
            ("auth_invalid_type", c.auth_invalid_type),
            ("auth_type_mismatch", c.auth_type_mismatch),
            ("auth_failure", c.auth_failure),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v))
        .chain(c.other.iter().map(|(n, v)| (n.clone(), *v)))
        .filter(|(_, v)| *v > 0)
        .map(|(n, v)| format!("{n} {v}"))
        .collect();
        if !errors.is_empty() {
            let _ = writeln!(out, "  receive errors: {}", errors.join(", "));
        }
    }
    for iface in &report.interfaces {
        let drops: Vec<String> = iface
            .drops
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(n, v)| format!("{n} {v}"))
            .collect();
        let _ = writeln!(
            out,
            "\ninterface {} (index {}): {}, XDP {}{}",
            iface.name,
            iface.ifindex,
            if iface.up { "up" } else { "down" },
            iface.xdp_mode,
            if drops.is_empty() {
                String::new()
            } else {
                format!(", dropped: {}", drops.join(", "))
            }
        );
    }
    out
}
