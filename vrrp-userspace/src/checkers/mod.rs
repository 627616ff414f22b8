//! keepalived's real-server checkers: what each one checks (`CheckSpec`, settled from the
//! configuration by `lvs::settings`), when it checks again ([`Schedule`], keepalived's
//! retry/delay rules, pure), and the probes themselves (`probe`, `http`: async, never
//! blocking the VRRP loop).

pub mod http;
pub mod probe;

use std::net::IpAddr;
use std::time::Duration;

use crate::config::model::ScriptCommand;

/// What a checker does, per kind.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum CheckKind {
    /// `TCP_CHECK`: the connection is accepted.
    Tcp,
    /// `HTTP_GET` / `SSL_GET`.
    Http(HttpSpec),
    /// `MISC_CHECK`: a script's exit code.
    Misc(MiscSpec),
    /// `PING_CHECK`: an ICMP echo is answered.
    Ping,
    /// `UDP_CHECK`: no ICMP error (and with `require_reply`, a matching reply).
    Udp(UdpSpec),
    /// `DNS_CHECK`: an answer with rcode 0.
    Dns { query_type: String, name: String },
    /// `SMTP_CHECK`: 220 greeting, 250 to HELO.
    Smtp { helo_name: String },
}

impl CheckKind {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Tcp => "TCP_CHECK",
            Self::Http(spec) if spec.tls => "SSL_GET",
            Self::Http(_) => "HTTP_GET",
            Self::Misc(_) => "MISC_CHECK",
            Self::Ping => "PING_CHECK",
            Self::Udp(_) => "UDP_CHECK",
            Self::Dns { .. } => "DNS_CHECK",
            Self::Smtp { .. } => "SMTP_CHECK",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HttpSpec {
    pub tls: bool,
    pub urls: Vec<UrlSpec>,
    pub virtualhost: Option<String>,
    /// `http_protocol 1.1` (else 1.0).
    pub http_1_1: bool,
    /// `Connection: close` (1.1 and 1.0C).
    pub connection_close: bool,
    pub sni: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UrlSpec {
    pub path: String,
    /// Accepted status code ranges (default 200-299).
    pub status: Vec<(u16, u16)>,
    /// MD5 of the body, lower-case hex.
    pub digest: Option<String>,
    pub virtualhost: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MiscSpec {
    pub command: ScriptCommand,
    /// `misc_timeout` (default: the virtual server's `delay_loop`).
    pub timeout: Option<Duration>,
    /// `misc_dynamic`: exit codes 2..255 set the weight to code - 2.
    pub dynamic: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UdpSpec {
    pub payload: Option<Vec<u8>>,
    pub require_reply: bool,
    pub reply: Option<Vec<u8>>,
    pub min_reply: usize,
    pub max_reply: usize,
}

/// One checker with every default settled.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckSpec {
    pub kind: CheckKind,
    /// `connect_ip`/`connect_port`, else the real server.
    pub target: (IpAddr, u16),
    pub bindto: Option<IpAddr>,
    pub connect_timeout: Duration,
    pub delay_loop: Duration,
    pub retry: u32,
    pub delay_before_retry: Duration,
    /// The first check comes after a random delay up to this (keepalived's `warmup`,
    /// default `delay_loop`).
    pub warmup: Duration,
    /// The server counts as down until this checker succeeded once.
    pub alpha: bool,
}

/// What one probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Up {
        /// `misc_dynamic`: the weight the script asked for.
        weight: Option<u32>,
    },
    Down {
        reason: String,
    },
}

/// A checker's verdict changed (or, for `misc_dynamic`, the weight it asks for did).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Up,
    Down,
    Weight(u32),
}

/// keepalived's schedule of one checker (`tcp_epilog`, `http` epilog, `misc_check_child`):
/// a success checks again after `delay_loop`; a failure is retried `retry` times, each after
/// `delay_before_retry`, and only the failure after the last retry puts the checker down. At
/// start one failure is enough (`retry_it = retry`); an `alpha` checker starts down.
#[derive(Clone, Debug)]
pub struct Schedule {
    retry: u32,
    delay_loop: Duration,
    delay_before_retry: Duration,
    retries_done: u32,
    up: bool,
    has_run: bool,
    weight: Option<u32>,
}

impl Schedule {
    pub fn new(spec: &CheckSpec) -> Self {
        Self {
            retry: spec.retry,
            delay_loop: spec.delay_loop,
            delay_before_retry: spec.delay_before_retry,
            retries_done: spec.retry,
            up: !spec.alpha,
            has_run: false,
            weight: None,
        }
    }

    /// The schedule of a checker restarted by a reload. One that continues a running
    /// checker (`has_run`) resumes with its verdict and needs its retries again before it
    /// fails (keepalived's `migrate_checkers`); a new one starts as at startup, with the
    /// verdict the pool gave it (a new `alpha` checker of a failing server starts down).
    pub fn resume(spec: &CheckSpec, up: bool, has_run: bool) -> Self {
        Self {
            up,
            has_run,
            retries_done: if has_run { 0 } else { spec.retry },
            ..Self::new(spec)
        }
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Takes a probe's outcome: returns when to probe again and what changed.
    pub fn record(&mut self, outcome: &Outcome) -> (Duration, Vec<Change>) {
        let mut changes = Vec::new();
        let delay = match outcome {
            Outcome::Up { weight } => {
                self.retries_done = 0;
                if !self.up {
                    self.up = true;
                    changes.push(Change::Up);
                }
                if *weight != self.weight {
                    self.weight = *weight;
                    if let Some(weight) = weight {
                        changes.push(Change::Weight(*weight));
                    }
                }
                self.delay_loop
            }
            Outcome::Down { .. } if self.retries_done < self.retry => {
                self.retries_done += 1;
                self.delay_before_retry
            }
            Outcome::Down { .. } => {
                self.retries_done = 0;
                if self.up || !self.has_run {
                    if self.up {
                        changes.push(Change::Down);
                    }
                    self.up = false;
                }
                self.delay_loop
            }
        };
        self.has_run = true;
        (delay, changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(retry: u32, alpha: bool) -> CheckSpec {
        CheckSpec {
            kind: CheckKind::Tcp,
            target: ("192.0.2.1".parse().unwrap(), 80),
            bindto: None,
            connect_timeout: Duration::from_secs(3),
            delay_loop: Duration::from_secs(6),
            retry,
            delay_before_retry: Duration::from_secs(3),
            warmup: Duration::ZERO,
            alpha,
        }
    }

    const UP: Outcome = Outcome::Up { weight: None };

    fn down() -> Outcome {
        Outcome::Down {
            reason: "refused".into(),
        }
    }

    #[test]
    fn seed_001_timing_goes_down_after_three_retries() {
        // delay_loop 6, nb_get_retry 3, delay_before_retry 3 (the user's seed 001).
        let mut s = Schedule::new(&spec(3, false));
        assert_eq!(s.record(&UP), (Duration::from_secs(6), vec![]));
        for _ in 0..3 {
            assert_eq!(s.record(&down()), (Duration::from_secs(3), vec![]));
            assert!(s.is_up());
        }
        assert_eq!(
            s.record(&down()),
            (Duration::from_secs(6), vec![Change::Down])
        );
        assert_eq!(s.record(&down()).1, vec![]);
        assert_eq!(s.record(&UP), (Duration::from_secs(6), vec![Change::Up]));
    }

    #[test]
    fn one_failure_is_enough_at_start_and_alpha_starts_down() {
        let mut s = Schedule::new(&spec(3, false));
        assert_eq!(s.record(&down()).1, vec![Change::Down]);
        let mut alpha = Schedule::new(&spec(3, true));
        assert!(!alpha.is_up());
        assert_eq!(alpha.record(&UP).1, vec![Change::Up]);
    }

    #[test]
    fn a_resumed_checker_needs_its_retries_a_new_one_fails_at_once() {
        let mut resumed = Schedule::resume(&spec(2, false), true, true);
        assert_eq!(resumed.record(&down()).1, vec![]);
        assert_eq!(resumed.record(&down()).1, vec![]);
        assert_eq!(resumed.record(&down()).1, vec![Change::Down]);
        let mut down_before = Schedule::resume(&spec(2, false), false, true);
        assert_eq!(down_before.record(&down()).1, vec![]);
        assert_eq!(down_before.record(&UP).1, vec![Change::Up]);
        let mut fresh = Schedule::resume(&spec(2, false), true, false);
        assert_eq!(fresh.record(&down()).1, vec![Change::Down]);
    }

    #[test]
    fn misc_dynamic_weight_changes_are_reported() {
        let mut s = Schedule::new(&spec(0, false));
        assert_eq!(
            s.record(&Outcome::Up { weight: Some(5) }).1,
            vec![Change::Weight(5)]
        );
        assert_eq!(s.record(&Outcome::Up { weight: Some(5) }).1, vec![]);
    }
}
