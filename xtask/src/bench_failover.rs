//! `cargo xtask bench failover`: keepalived 2.2.7 and xvrrpd (release build) on the same
//! namespace bench (netlab's lab: a switch, routers r1 at priority 150 and r2 at 100, a client
//! that captures and pings the VIP every 10 ms), with the same keepalived.conf, in one run.
//!
//! For VRRPv3 at 10 ms and VRRPv2 at 1 s, each daemon's master fails `trials` times each way -
//! link down, kill -9, SIGTERM - and the capture tells how late the backup took over:
//! its first advert minus (the old master's last advert + Master_Down_Interval), or for
//! SIGTERM minus (the priority-0 advert + Skew_Time); then how long after that first advert it
//! announced the VIP (gratuitous ARP), and how many pings were lost. Then all of it again
//! with `stress-ng --cpu 4` running. Prints both daemons side by side, writes
//! target/bench/failover.json, draws target/bench/failover.png and keeps every trial's capture
//! in target/bench/captures/.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use anyhow::Context as _;
use netlab::Process;
use netlab::capture::{Capture, Timestamp};
use netlab::failover::{Handover, Speaker};
use netlab::lab::{Host, IFACE, Lab};
use netlab::ping::Ping;
use netlab::router::{Daemon, Router};
use netlab::timing::{VrrpVersion, master_down_interval, skew_time};
use serde::Serialize;

use crate::bench_plot;
use crate::stats::Summary;

const MASTER_PRIORITY: u8 = 150;
const BACKUP_PRIORITY: u8 = 100;
const PING_INTERVAL: Duration = Duration::from_millis(10);

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Variant {
    pub name: &'static str,
    #[serde(skip)]
    pub version: VrrpVersion,
    pub advert_int_ms: u64,
    pub vrid: u8,
}

impl Variant {
    fn advert_int(&self) -> Duration {
        Duration::from_millis(self.advert_int_ms)
    }

    fn config(&self, me: &Host, priority: u8, state: &str) -> String {
        let version = match self.version {
            VrrpVersion::V2 => 2,
            VrrpVersion::V3 => 3,
        };
        format!(
            "global_defs {{\n    router_id {name}\n}}\n\
             vrrp_instance VI_1 {{\n    state {state}\n    interface {IFACE}\n    \
             version {version}\n    virtual_router_id {vrid}\n    priority {priority}\n    \
             advert_int {interval}\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n",
            name = me.name(),
            vrid = self.vrid,
            interval = self.advert_int().as_secs_f64(),
        )
    }
}

pub const VARIANTS: [Variant; 2] = [
    Variant {
        name: "v3 10 ms",
        version: VrrpVersion::V3,
        advert_int_ms: 10,
        vrid: 31,
    },
    Variant {
        name: "v2 1 s",
        version: VrrpVersion::V2,
        advert_int_ms: 1000,
        vrid: 21,
    },
];

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Failure {
    LinkDown,
    Kill,
    Terminate,
}

impl Failure {
    pub const ALL: [Self; 3] = [Self::LinkDown, Self::Kill, Self::Terminate];

    pub fn name(self) -> &'static str {
        match self {
            Self::LinkDown => "link down",
            Self::Kill => "kill -9",
            Self::Terminate => "SIGTERM",
        }
    }
}

/// One takeover, read off the capture.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Sample {
    pub overshoot_ms: f64,
    pub garp_ms: Option<f64>,
    pub lost_pings: u32,
    pub sent_pings: u32,
}

/// Every trial of one daemon, variant, failure and load.
#[derive(Debug, Serialize)]
pub struct Series {
    pub load: &'static str,
    pub variant: Variant,
    pub daemon: &'static str,
    pub failure: Failure,
    pub samples: Vec<Sample>,
    /// Trials that went wrong (no takeover seen, a daemon that died), with why.
    pub errors: Vec<String>,
}

pub struct Options {
    pub trials: usize,
    pub stress: bool,
    /// Only these variants (by index in [`VARIANTS`]).
    pub variants: Vec<usize>,
}

pub fn run(options: &Options) -> anyhow::Result<()> {
    crate::bench_env::use_release_xvrrpd()?;
    let mut all = Vec::new();
    let loads: &[&'static str] = if options.stress {
        &["idle", "stress-ng --cpu 4"]
    } else {
        &["idle"]
    };
    for &load in loads {
        let _stress = if load == "idle" {
            None
        } else {
            Some(stress()?)
        };
        for &index in &options.variants {
            let variant = VARIANTS[index];
            for daemon in [Daemon::Keepalived, Daemon::Xvrrpd] {
                eprintln!(
                    "bench failover: {} {daemon}, {load}, {} trials of each failure",
                    variant.name, options.trials
                );
                all.extend(run_daemon(load, variant, daemon, options.trials)?);
            }
        }
    }
    let table = table(&all);
    println!("{table}");
    let dir = crate::workspace_root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("failover.txt"), &table)?;
    std::fs::write(
        dir.join("failover.json"),
        serde_json::to_string_pretty(&all)?,
    )?;
    let png = dir.join("failover.png");
    bench_plot::failover(&all, &png)?;
    println!(
        "\n{}, {} and {}",
        dir.join("failover.txt").display(),
        dir.join("failover.json").display(),
        png.display()
    );
    Ok(())
}

/// `stress-ng --cpu 4`, stopped when dropped.
pub fn stress() -> anyhow::Result<Process> {
    Process::spawn(
        "stress-ng",
        std::process::Command::new("stress-ng")
            .args(["--cpu", "4", "--quiet"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    )
}

struct Bench {
    // Dropped in this order: the routers stop while the LAN is still there.
    r1: Router,
    r2: Router,
    lab: Lab,
    variant: Variant,
}

fn run_daemon(
    load: &'static str,
    variant: Variant,
    daemon: Daemon,
    trials: usize,
) -> anyhow::Result<Vec<Series>> {
    let lab = Lab::new("fb")?;
    let r1 = Router::start(
        daemon,
        lab.r1.netns(),
        &variant.config(&lab.r1, MASTER_PRIORITY, "MASTER"),
    )?;
    let r2 = Router::start(
        daemon,
        lab.r2.netns(),
        &variant.config(&lab.r2, BACKUP_PRIORITY, "BACKUP"),
    )?;
    let mut bench = Bench {
        r1,
        r2,
        lab,
        variant,
    };
    let settle = master_down(&variant, BACKUP_PRIORITY) * 2 + Duration::from_secs(5);
    bench
        .lab
        .wait_for_holders(VIP, &["r1"], settle, || Ok(()))
        .with_context(|| format!("election\n{}", bench.r1.log_tail(20)))?;
    std::thread::sleep(Duration::from_millis(500));
    let mut series: Vec<Series> = Failure::ALL
        .iter()
        .map(|&failure| Series {
            load,
            variant,
            daemon: daemon.name(),
            failure,
            samples: Vec::new(),
            errors: Vec::new(),
        })
        .collect();
    let captures = crate::workspace_root().join("target/bench/captures");
    std::fs::create_dir_all(&captures)?;
    for trial in 0..trials {
        for (index, failure) in Failure::ALL.into_iter().enumerate() {
            let save = captures.join(
                format!(
                    "{}-{}-{}-{load}-{trial}.pcap",
                    daemon.name(),
                    variant.name.replace(' ', ""),
                    failure.name().replace([' ', '-'], ""),
                )
                .replace(' ', "_"),
            );
            match bench.trial(failure, &save) {
                Ok(sample) => series[index].samples.push(sample),
                Err(error) => {
                    eprintln!("  trial {trial} {}: {error:#}", failure.name());
                    series[index].errors.push(format!("{error:#}"));
                    bench.recover()?;
                }
            }
        }
        eprintln!("  trial {} of {trials} done", trial + 1);
    }
    Ok(series)
}

fn master_down(variant: &Variant, priority: u8) -> Duration {
    master_down_interval(variant.version, priority, variant.advert_int())
}

impl Bench {
    fn speaker(host: &Host) -> Speaker {
        Speaker {
            name: host.name(),
            advert_source: IpAddr::V4(host.ipv4()),
            mac: host.mac().to_owned(),
        }
    }

    /// After a failed trial: r1 running with its link up, holding the VIP again.
    fn recover(&mut self) -> anyhow::Result<()> {
        let _ = self.lab.link_up(&self.lab.r1);
        if !self.r1.is_running() {
            self.r1.restart()?;
        }
        let timeout = master_down(&self.variant, MASTER_PRIORITY) + Duration::from_secs(10);
        self.lab
            .wait_for_holders(VIP, &["r1"], timeout, || Ok(()))
            .map(|_| ())
    }

    /// One failure and recovery; the capture is saved to `save`.
    fn trial(&mut self, failure: Failure, save: &std::path::Path) -> anyhow::Result<Sample> {
        let variant = self.variant;
        let client = self.lab.client.netns().clone();
        let capture = Capture::start(&client, IFACE)?;
        let ping = Ping::start(&client, VIP, PING_INTERVAL)?;
        // r1's last advert before the failure must be in the capture.
        std::thread::sleep(variant.advert_int() * 3 / 2 + Duration::from_millis(100));
        let event = Timestamp::now();
        match failure {
            Failure::LinkDown => self.lab.link_down(&self.lab.r1)?,
            Failure::Kill => {
                self.r1.kill()?;
            }
            Failure::Terminate => {
                self.r1.terminate(Duration::from_secs(5))?;
            }
        }
        let takeover = master_down(&variant, BACKUP_PRIORITY) + Duration::from_secs(3);
        let (lab, r2) = (&self.lab, &mut self.r2);
        lab.wait_for_holder(VIP, "r2", takeover, || r2.check_running())
            .context("r2 did not take over")?;
        std::thread::sleep(Duration::from_millis(300));
        let ping = ping.finish()?;
        let recovery = Timestamp::now();
        match failure {
            Failure::LinkDown => self.lab.link_up(&self.lab.r1)?,
            Failure::Kill | Failure::Terminate => self.r1.restart()?,
        }
        let preempt = master_down(&variant, MASTER_PRIORITY) + Duration::from_secs(10);
        let (lab, r1) = (&self.lab, &mut self.r1);
        lab.wait_for_holders(VIP, &["r1"], preempt, || r1.check_running())
            .context("r1 did not preempt back")?;
        std::thread::sleep(variant.advert_int().max(Duration::from_millis(200)));
        let pcap = capture.stop()?;
        pcap.save(save)?;
        let frames = pcap.frames()?;
        let handover = Handover::find(
            &frames,
            variant.vrid,
            &Self::speaker(&self.lab.r1),
            &Self::speaker(&self.lab.r2),
            VIP,
            event,
            recovery,
        )?;
        let overshoot_ms = match failure {
            Failure::Terminate => handover.skew_overshoot_ms(skew_time(
                variant.version,
                BACKUP_PRIORITY,
                variant.advert_int(),
            ))?,
            _ => handover.down_overshoot_ms(master_down(&variant, BACKUP_PRIORITY))?,
        };
        Ok(Sample {
            overshoot_ms,
            garp_ms: handover.announce_delay_ms(),
            lost_pings: ping.lost(),
            sent_pings: ping.transmitted,
        })
    }
}

/// Both daemons side by side, one row per load, variant and failure.
pub fn table(all: &[Series]) -> String {
    let mut out = String::new();
    out += &format!(
        "\n== Failover: takeover overshoot in ms, median / p99 / max over the trials; GARP = first \
         gratuitous ARP after the new master's first advert, median (max) in ms; lost = pings lost \
         at 10 ms, median (max)\n{}\n",
        crate::bench_env::machine()
    );
    out += &format!(
        "{:<18} {:<9} {:<10} | {:>26} {:>17} {:>11} | {:>26} {:>17} {:>11}\n",
        "load",
        "variant",
        "failure",
        "keepalived overshoot",
        "GARP",
        "lost",
        "xvrrpd overshoot",
        "GARP",
        "lost"
    );
    let mut keys: Vec<(&str, &str, Failure)> = Vec::new();
    for s in all {
        let key = (s.load, s.variant.name, s.failure);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for (load, variant, failure) in keys {
        let mut line = format!("{load:<18} {variant:<9} {:<10}", failure.name());
        for daemon in ["keepalived", "xvrrpd"] {
            let Some(series) = all.iter().find(|s| {
                s.load == load
                    && s.variant.name == variant
                    && s.failure == failure
                    && s.daemon == daemon
            }) else {
                line += &format!(" | {:>56}", "-");
                continue;
            };
            let overshoot = Summary::of(series.samples.iter().map(|s| s.overshoot_ms));
            let garp = Summary::of(series.samples.iter().filter_map(|s| s.garp_ms));
            let lost = Summary::of(series.samples.iter().map(|s| f64::from(s.lost_pings)));
            line += &format!(
                " | {:>+8.2} / {:>+7.2} / {:>+7.2} {:>8.2} ({:>6.2}) {:>5.0} ({:>3.0})",
                overshoot.median,
                overshoot.p99,
                overshoot.max,
                garp.median,
                garp.max,
                lost.median,
                lost.max
            );
            if !series.errors.is_empty() {
                line += &format!(" [{} failed]", series.errors.len());
            }
        }
        out += &line;
        out.push('\n');
    }
    let trials = all.iter().map(|s| s.samples.len()).max().unwrap_or(0);
    out += &format!("({trials} trials per cell)\n");
    out
}
