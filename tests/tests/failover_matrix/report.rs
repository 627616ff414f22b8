//! The table a case prints, and the files it leaves under target/tmp/failover-matrix/.

use std::fmt::Write as _;
use std::path::PathBuf;

use netlab::ping::PingReport;

use super::judge::LATE_MS;

/// What one failure of one case measured.
pub struct Row {
    pub failure: &'static str,
    /// `Master_Down` or `Skew_Time`: what the takeover is timed against.
    pub reference: &'static str,
    pub expected_ms: f64,
    /// The gap between r1's last (or priority-0) advert and r2's first, minus `expected_ms`.
    pub overshoot_ms: Option<f64>,
    /// From r2's first advert to its first gratuitous ARP / unsolicited NA.
    pub announce_ms: Option<f64>,
    pub failover_ping: PingReport,
    /// From the recovery (link up, restart) to r1's first advert.
    pub preempt_ms: Option<f64>,
    pub preempt_announce_ms: Option<f64>,
    pub preempt_ping: PingReport,
    /// From SIGTERM to r1's exit.
    pub stop_ms: Option<f64>,
}

pub fn table(title: &str, rows: &[Row]) -> String {
    let mut out = format!("== {title}\n");
    let _ = writeln!(
        out,
        "{:<10} {:>20} {:>10} {:>8} {:>11} | {:>9} {:>8} {:>11} | {:>7}",
        "failure",
        "takeover vs (ms)",
        "overshoot",
        "GARP/NA",
        "lost pings",
        "preempt",
        "GARP/NA",
        "lost pings",
        "stop"
    );
    let announce = |value: Option<f64>| value.map_or("none".to_owned(), |v| format!("{v:+.2}"));
    let pings = |report: &PingReport| format!("{}/{}", report.lost(), report.transmitted);
    for row in rows {
        let _ = writeln!(
            out,
            "{:<10} {:>20} {:>10} {:>8} {:>11} | {:>9} {:>8} {:>11} | {:>7}",
            row.failure,
            format!("{} {:.3}", row.reference, row.expected_ms),
            row.overshoot_ms.map_or("?".to_owned(), |v| format!(
                "{}{v:+.3}",
                if v > LATE_MS { "!" } else { "" }
            )),
            announce(row.announce_ms),
            pings(&row.failover_ping),
            row.preempt_ms.map_or("?".to_owned(), |v| format!("{v:.1}")),
            announce(row.preempt_announce_ms),
            pings(&row.preempt_ping),
            row.stop_ms.map_or("-".to_owned(), |v| format!("{v:.0}")),
        );
    }
    if rows.is_empty() {
        out += "(no failure completed)\n";
    }
    out += "times in ms; overshoot = r2's first advert - (r1's last advert + Master_Down_Interval)\n\
            or - (r1's priority-0 advert + Skew_Time), ! = over the issue's +5 ms; GARP/NA = delay\n\
            after the new master's first advert; preempt = recovery (link up / restart) to r1's\n\
            first advert; lost pings = lost/sent at 10 ms; stop = SIGTERM to exit\n";
    out
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("failover-matrix")
}

/// `target/tmp/failover-matrix/<test>.<suffix>`
pub fn path(test: &str, suffix: &str) -> PathBuf {
    dir().join(format!("{test}.{suffix}"))
}

/// Removes what an earlier run of `test` left.
pub fn clear(test: &str) {
    let prefix = format!("{test}.");
    for entry in std::fs::read_dir(dir()).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

pub fn save(test: &str, suffix: &str, contents: &[u8]) {
    let _ = std::fs::create_dir_all(dir());
    let _ = std::fs::write(path(test, suffix), contents);
}
