//! A client pinging a VIP at a short fixed interval through a failover, and what it lost.

use std::net::IpAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::{Netns, Process, TempDir};

/// `ping -D -n -i INTERVAL TARGET` running in a namespace, its output in a file.
pub struct Ping {
    process: Process,
    dir: TempDir,
    interval: Duration,
}

/// What one ping run saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingReport {
    pub transmitted: u32,
    pub received: u32,
    /// Sequence numbers that got an echo reply, in order of arrival.
    pub replied: Vec<u32>,
    /// When each reply arrived (`-D`: seconds since the epoch), in order of arrival.
    pub reply_times: Vec<Duration>,
    pub interval: Duration,
}

impl Ping {
    pub fn start(netns: &Netns, target: IpAddr, interval: Duration) -> anyhow::Result<Self> {
        let dir = TempDir::new("ping")?;
        let output = std::fs::File::create(dir.path().join("ping.txt"))?;
        let process = Process::spawn(
            "ping",
            netns
                .exec("ping")
                .args(["-D", "-n", "-i"])
                .arg(format!("{}", interval.as_secs_f64()))
                .arg(target.to_string())
                .stdin(Stdio::null())
                .stdout(output.try_clone()?)
                .stderr(output),
        )?;
        Ok(Self {
            process,
            dir,
            interval,
        })
    }

    /// SIGINT (ping prints its statistics on SIGINT, not on SIGTERM), then the report.
    pub fn finish(mut self) -> anyhow::Result<PingReport> {
        self.process.signal(libc::SIGINT);
        self.process.wait_timeout(Duration::from_secs(5))?;
        let text = std::fs::read_to_string(self.dir.path().join("ping.txt"))?;
        PingReport::parse(&text, self.interval)
    }
}

impl PingReport {
    /// Parses iputils ping's output: `64 bytes from ...: icmp_seq=N ...` lines and the
    /// `X packets transmitted, Y received, ...` summary.
    pub fn parse(text: &str, interval: Duration) -> anyhow::Result<Self> {
        let replied = text
            .lines()
            .filter(|line| line.contains(" bytes from "))
            .filter_map(|line| {
                let seq = line.split("icmp_seq=").nth(1)?;
                seq.split_whitespace().next()?.parse().ok()
            })
            .collect();
        let reply_times = text
            .lines()
            .filter(|line| line.contains(" bytes from "))
            .filter_map(|line| {
                let stamp = line.strip_prefix('[')?.split(']').next()?;
                Some(Duration::from_secs_f64(stamp.parse().ok()?))
            })
            .collect();
        let summary = text
            .lines()
            .find(|line| line.contains(" packets transmitted, "))
            .with_context(|| format!("no ping statistics in:\n{text}"))?;
        let mut counts = summary.split(", ");
        let mut number = |suffix: &str| -> anyhow::Result<u32> {
            let part = counts.next().context("short ping statistics")?;
            let Some(value) = part.strip_suffix(suffix) else {
                bail!("unexpected ping statistics: {summary}");
            };
            Ok(value.trim().parse()?)
        };
        Ok(Self {
            transmitted: number(" packets transmitted")?,
            received: number(" received")?,
            replied,
            reply_times,
            interval,
        })
    }

    pub fn lost(&self) -> u32 {
        self.transmitted.saturating_sub(self.received)
    }

    /// Whether the target answered again at the end of the run: one of the last three
    /// requests sent got a reply (the very last one may still have been in flight).
    pub fn answered_at_end(&self) -> bool {
        self.replied
            .iter()
            .any(|&seq| seq + 3 > self.transmitted && seq <= self.transmitted)
    }

    /// The longest time between two consecutive replies, less one interval: how long the
    /// client went without an answer it should have had. (ping sends more slowly while
    /// requests go unanswered, so counting lost requests understates an outage.)
    pub fn longest_silence(&self) -> Duration {
        self.reply_times
            .windows(2)
            .map(|pair| pair[1].saturating_sub(pair[0]))
            .max()
            .unwrap_or_default()
            .saturating_sub(self.interval)
    }

    /// The longest run of consecutive requests without a reply, as a time at the ping interval.
    pub fn longest_outage(&self) -> Duration {
        let mut replied = self.replied.clone();
        replied.sort_unstable();
        replied.dedup();
        let mut previous = 0;
        let mut longest = 0;
        for &seq in replied
            .iter()
            .chain(std::iter::once(&(self.transmitted + 1)))
        {
            longest = longest.max(seq.saturating_sub(previous + 1));
            previous = seq;
        }
        self.interval * longest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\
PING 192.0.2.100 (192.0.2.100) 56(84) bytes of data.
[1700000000.000100] 64 bytes from 192.0.2.100: icmp_seq=1 ttl=64 time=0.051 ms
[1700000000.010100] 64 bytes from 192.0.2.100: icmp_seq=2 ttl=64 time=0.049 ms
[1700000000.050100] From 192.0.2.10 icmp_seq=3 Destination Host Unreachable
[1700000000.060100] 64 bytes from 192.0.2.100: icmp_seq=6 ttl=64 time=0.040 ms
[1700000000.070100] 64 bytes from 192.0.2.100: icmp_seq=7 ttl=64 time=0.040 ms

--- 192.0.2.100 ping statistics ---
8 packets transmitted, 4 received, +1 errors, 50% packet loss, time 70ms
rtt min/avg/max/mdev = 0.040/0.045/0.051/0.005 ms
";

    #[test]
    fn parses_replies_and_statistics() {
        let report = PingReport::parse(OUTPUT, Duration::from_millis(10)).unwrap();
        assert_eq!(report.transmitted, 8);
        assert_eq!(report.received, 4);
        assert_eq!(report.replied, vec![1, 2, 6, 7]);
        assert_eq!(report.lost(), 4);
        assert!(report.answered_at_end());
        assert_eq!(report.longest_outage(), Duration::from_millis(30));
        // Replies at 10.1 and 60.1 ms: 50 ms apart, 40 ms more than the interval.
        let silence = report.longest_silence().as_secs_f64() * 1e3;
        assert!((silence - 40.0).abs() < 0.01, "{silence}");
    }

    #[test]
    fn a_target_that_never_came_back_is_not_answering_at_the_end() {
        let report = PingReport {
            transmitted: 100,
            received: 10,
            replied: (1..=10).collect(),
            reply_times: Vec::new(),
            interval: Duration::from_millis(10),
        };
        assert!(!report.answered_at_end());
        assert_eq!(report.longest_outage(), Duration::from_millis(900));
    }

    #[test]
    fn missing_statistics_is_an_error() {
        assert!(PingReport::parse("PING x\n", Duration::from_millis(10)).is_err());
    }
}
