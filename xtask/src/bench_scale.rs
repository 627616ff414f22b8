//! `cargo xtask bench scale`: keepalived 2.2.7 and xvrrpd (release build) with many instances
//! on netlab's lab, the same keepalived.conf for both, in one run:
//!
//! - 100 instances at 10 ms (VRRPv3): CPU of the backup and of the master (share of one core,
//!   from the scheduler's own counters) and the backup's wakeups per second, over 10 s;
//! - 1,000 instances at 10 ms on four links (250 VRIDs each, each link its own bridge):
//!   100,000 adverts/s from the master. Send jitter on the wire (a capture of link 0 on the
//!   switch, every interval between two adverts of one VRID minus 10 ms), who holds the VIPs,
//!   any takeover by the backup over the watch (60 s), CPU of both;
//! - flood: 10 instances at 100 ms, then ~60,000 adverts/s for VRIDs nobody runs from the
//!   client: the backup's CPU before and during.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use netlab::lab::{Host, IFACE, Lab};
use netlab::router::{Daemon, Router};
use netlab::{PacketSocket, Process, TempDir};
use serde::Serialize;

use crate::procstat::{self, Rates};
use crate::stats::Summary;

const INTERVAL: Duration = Duration::from_millis(10);

pub struct Options {
    /// How long the 1,000-instance bench watches for false takeovers.
    pub watch: Duration,
    /// How long CPU and wakeups are measured.
    pub window: Duration,
}

#[derive(Debug, Serialize)]
struct Hundred {
    daemon: &'static str,
    master: Rates,
    backup: Rates,
    master_vips: usize,
    backup_vips: usize,
}

#[derive(Debug, Serialize)]
struct Thousand {
    daemon: &'static str,
    /// From starting both daemons until the master held every VIP and the backup none.
    converged_after_s: Option<f64>,
    master_vips_end: usize,
    backup_vips_end: usize,
    master_vips_min: usize,
    backup_vips_max: usize,
    /// The backup's transitions to MASTER during the watch (from its log).
    backup_takeovers: usize,
    jitter: Jitter,
    master: Rates,
    backup: Rates,
}

#[derive(Debug, Default, Serialize)]
struct Jitter {
    adverts: usize,
    vrids: usize,
    /// |interval - 10 ms| in ms.
    deviation: Summary,
    /// Intervals longer than 1.5 advert intervals (an advert late or missing).
    late: usize,
    kernel_drops: u64,
}

#[derive(Debug, Serialize)]
struct Flood {
    daemon: &'static str,
    before: Rates,
    during: Rates,
    flood_pps: f64,
}

#[derive(Debug, Default, Serialize)]
struct Report {
    hundred: Vec<Hundred>,
    thousand: Vec<Thousand>,
    flood: Vec<Flood>,
}

pub fn run(options: &Options) -> anyhow::Result<()> {
    crate::bench_env::use_release_xvrrpd()?;
    let mut report = Report::default();
    // A part that fails is reported and the others still run.
    let mut failed = Vec::new();
    for daemon in [Daemon::Keepalived, Daemon::Xvrrpd] {
        eprintln!("bench scale: 100 instances at 10 ms, {daemon}");
        match hundred(daemon, options) {
            Ok(result) => report.hundred.push(result),
            Err(e) => failed.push(format!("100 instances, {daemon}: {e:#}")),
        }
    }
    for daemon in [Daemon::Keepalived, Daemon::Xvrrpd] {
        eprintln!("bench scale: 1,000 instances at 10 ms on four links, {daemon}");
        match thousand(daemon, options) {
            Ok(result) => report.thousand.push(result),
            Err(e) => failed.push(format!("1,000 instances, {daemon}: {e:#}")),
        }
    }
    for daemon in [Daemon::Keepalived, Daemon::Xvrrpd] {
        eprintln!("bench scale: flood of adverts for unconfigured VRIDs, {daemon}");
        match flood(daemon, options) {
            Ok(result) => report.flood.push(result),
            Err(e) => failed.push(format!("flood, {daemon}: {e:#}")),
        }
    }
    let table = table(&report, options);
    println!("{table}");
    let dir = crate::workspace_root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("scale.txt"), &table)?;
    std::fs::write(
        dir.join("scale.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    println!(
        "\n{} and {}",
        dir.join("scale.txt").display(),
        dir.join("scale.json").display()
    );
    anyhow::ensure!(failed.is_empty(), "parts failed:\n{}", failed.join("\n"));
    Ok(())
}

/// `count` instances on `iface`, VRIDs from 1, VIPs 198.18.`net`.VRID, VRRPv3.
fn instances(iface: &str, net: u8, count: u8, priority: u8, interval: Duration) -> String {
    let state = if priority > 100 { "MASTER" } else { "BACKUP" };
    (1..=count)
        .map(|vrid| {
            format!(
                "vrrp_instance {iface}_{vrid} {{\n state {state}\n interface {iface}\n \
                 virtual_router_id {vrid}\n priority {priority}\n version 3\n advert_int {}\n \
                 virtual_ipaddress {{\n  198.18.{net}.{vrid}/32\n }}\n}}\n",
                interval.as_secs_f64()
            )
        })
        .collect()
}

/// The VIPs (198.18.x.y) on every interface of `host`.
fn vips(host: &Host) -> usize {
    let Ok(output) = host.netns().ip(&["-j", "-4", "addr", "show"]) else {
        return 0;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    text.matches("\"local\":\"198.18.").count()
}

fn start_pair(
    lab: &Lab,
    daemon: Daemon,
    config: impl Fn(u8) -> String,
) -> anyhow::Result<(Router, Router)> {
    let r1 = Router::start(daemon, lab.r1.netns(), &config(150))?;
    let r2 = Router::start(daemon, lab.r2.netns(), &config(100))?;
    Ok((r1, r2))
}

/// Waits until r1 holds `count` VIPs and r2 none; how long it took.
fn converge(lab: &Lab, count: usize, timeout: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if vips(&lab.r1) == count && vips(&lab.r2) == 0 {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    None
}

fn pids(r1: &Router, r2: &Router) -> anyhow::Result<[u32; 2]> {
    Ok([
        r1.pid().context("r1 is not running")?,
        r2.pid().context("r2 is not running")?,
    ])
}

fn hundred(daemon: Daemon, options: &Options) -> anyhow::Result<Hundred> {
    let lab = Lab::new("s100")?;
    let (mut r1, mut r2) = start_pair(&lab, daemon, |p| instances(IFACE, 0, 100, p, INTERVAL))?;
    if converge(&lab, 100, Duration::from_secs(30)).is_none() {
        eprintln!(
            "  not converged after 30 s: r1 holds {}, r2 {} VIPs",
            vips(&lab.r1),
            vips(&lab.r2)
        );
    }
    std::thread::sleep(Duration::from_secs(3));
    let rates = procstat::measure(&pids(&r1, &r2)?, options.window);
    r1.check_running()?;
    r2.check_running()?;
    Ok(Hundred {
        daemon: daemon.name(),
        master: rates[0],
        backup: rates[1],
        master_vips: vips(&lab.r1),
        backup_vips: vips(&lab.r2),
    })
}

fn thousand(daemon: Daemon, options: &Options) -> anyhow::Result<Thousand> {
    let lab = Lab::new("s1k")?;
    let mut links = vec![IFACE.to_owned()];
    for index in 1..=3 {
        links.push(lab.add_link(index)?);
    }
    let config = |priority: u8| -> String {
        links
            .iter()
            .enumerate()
            .map(|(net, iface)| instances(iface, net as u8, 250, priority, INTERVAL))
            .collect()
    };
    let started = Instant::now();
    let (mut r1, mut r2) = start_pair(&lab, daemon, config)?;
    let converged =
        converge(&lab, 1000, Duration::from_secs(60)).map(|_| started.elapsed().as_secs_f64());
    if converged.is_none() {
        eprintln!(
            "  not converged after 60 s: r1 holds {}, r2 {} VIPs",
            vips(&lab.r1),
            vips(&lab.r2)
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    let master_word = match daemon {
        Daemon::Keepalived => "Entering MASTER STATE",
        Daemon::Xvrrpd => "BACKUP -> MASTER",
    };
    let takeovers_before = r2.log().matches(master_word).count();
    let [p1, p2] = pids(&r1, &r2)?;
    let (u1, u2) = (procstat::usage(p1), procstat::usage(p2));
    let watch_start = Instant::now();

    // Send jitter on link 0, captured on the switch's port of r1 for the first 10 s.
    let capture = JitterCapture::start(&lab)?;
    let mut master_min = usize::MAX;
    let mut backup_max = 0;
    let mut jitter = None;
    let mut capture = Some(capture);
    while watch_start.elapsed() < options.watch {
        if watch_start.elapsed() > Duration::from_secs(10)
            && let Some(capture) = capture.take()
        {
            jitter = Some(capture.finish()?);
        }
        master_min = master_min.min(vips(&lab.r1));
        backup_max = backup_max.max(vips(&lab.r2));
        std::thread::sleep(Duration::from_secs(1));
    }
    if let Some(capture) = capture.take() {
        jitter = Some(capture.finish()?);
    }
    let elapsed = watch_start.elapsed().as_secs_f64();
    let rate = |before: procstat::Usage, pid: u32| {
        let after = procstat::usage(pid);
        Rates {
            cpu_percent: after.cpu.saturating_sub(before.cpu).as_secs_f64() / elapsed * 100.0,
            wakeups_per_s: after.wakeups.saturating_sub(before.wakeups) as f64 / elapsed,
        }
    };
    let (master, backup) = (rate(u1, p1), rate(u2, p2));
    r1.check_running()?;
    r2.check_running()?;
    Ok(Thousand {
        daemon: daemon.name(),
        converged_after_s: converged,
        master_vips_end: vips(&lab.r1),
        backup_vips_end: vips(&lab.r2),
        master_vips_min: master_min,
        backup_vips_max: backup_max,
        backup_takeovers: r2.log().matches(master_word).count() - takeovers_before,
        jitter: jitter.unwrap_or_default(),
        master,
        backup,
    })
}

/// tcpdump on the switch's port towards r1 on link 0: VRRP only, headers only.
struct JitterCapture {
    process: Process,
    dir: TempDir,
    master: Ipv4Addr,
}

impl JitterCapture {
    fn start(lab: &Lab) -> anyhow::Result<Self> {
        let dir = TempDir::new("jitter")?;
        let log = std::fs::File::create(dir.path().join("tcpdump.log"))?;
        let process = Process::spawn(
            "tcpdump",
            lab.switch()
                .exec("tcpdump")
                .args(["-Z", "root", "-i", lab.r1.port(), "-n", "-s", "64"])
                .args(["-B", "16384", "--time-stamp-precision=nano", "-w"])
                .arg(dir.path().join("vrrp.pcap"))
                .arg("ip proto 112")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log),
        )?;
        std::thread::sleep(Duration::from_millis(500));
        Ok(Self {
            process,
            dir,
            master: lab.r1.ipv4(),
        })
    }

    fn finish(mut self) -> anyhow::Result<Jitter> {
        self.process.signal(libc::SIGINT);
        if self.process.wait_timeout(Duration::from_secs(30)).is_err() {
            // Whatever it wrote is still a capture (tcpdump writes whole records).
            eprintln!("  tcpdump did not stop within 30 s; reading what it wrote");
            let _ = self.process.kill_group();
        }
        let log = std::fs::read_to_string(self.dir.path().join("tcpdump.log"))?;
        let kernel_drops = log
            .lines()
            .find_map(|l| l.strip_suffix(" packets dropped by kernel"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        let mut jitter = jitter(&self.dir.path().join("vrrp.pcap"), self.master)?;
        jitter.kernel_drops = kernel_drops;
        Ok(jitter)
    }
}

/// Every interval between two adverts of one VRID from `master` in a nanosecond pcap.
fn jitter(path: &Path, master: Ipv4Addr) -> anyhow::Result<Jitter> {
    let data = std::fs::read(path).with_context(|| path.display().to_string())?;
    anyhow::ensure!(
        data.len() >= 24 && data[..4] == 0xa1b2_3c4du32.to_le_bytes(),
        "not a little-endian nanosecond pcap"
    );
    let mut times: BTreeMap<u8, Vec<u64>> = BTreeMap::new();
    let mut at = 24;
    while at + 16 <= data.len() {
        let word = |o: usize| u32::from_le_bytes(data[at + o..at + o + 4].try_into().unwrap());
        let (seconds, nanos, caplen) = (word(0), word(4), word(8) as usize);
        let frame = &data[at + 16..(at + 16 + caplen).min(data.len())];
        at += 16 + caplen;
        if frame.len() < 14 + 20 + 2 || frame[12..14] != [0x08, 0x00] || frame[23] != 112 {
            continue;
        }
        let ihl = usize::from(frame[14] & 0x0f) * 4;
        if frame[26..30] != master.octets() || frame.len() < 14 + ihl + 2 {
            continue;
        }
        let vrid = frame[14 + ihl + 1];
        times
            .entry(vrid)
            .or_default()
            .push(u64::from(seconds) * 1_000_000_000 + u64::from(nanos));
    }
    let interval = INTERVAL.as_nanos() as f64;
    let mut deviations = Vec::new();
    let mut late = 0;
    for stamps in times.values() {
        for pair in stamps.windows(2) {
            let gap = pair[1].saturating_sub(pair[0]) as f64;
            if gap > 1.5 * interval {
                late += 1;
            }
            deviations.push((gap - interval).abs() / 1e6);
        }
    }
    Ok(Jitter {
        adverts: times.values().map(Vec::len).sum(),
        vrids: times.len(),
        deviation: Summary::of(deviations.into_iter()),
        late,
        kernel_drops: 0,
    })
}

fn flood(daemon: Daemon, options: &Options) -> anyhow::Result<Flood> {
    let lab = Lab::new("sfl")?;
    let interval = Duration::from_millis(100);
    let (mut r1, mut r2) = start_pair(&lab, daemon, |p| instances(IFACE, 0, 10, p, interval))?;
    if converge(&lab, 10, Duration::from_secs(30)).is_none() {
        eprintln!("  not converged after 30 s");
    }
    std::thread::sleep(Duration::from_secs(2));
    let backup = r2.pid().context("r2 is not running")?;
    let before = procstat::measure(&[backup], options.window)[0];

    let frames: Vec<Vec<u8>> = (100..=199u8)
        .map(|vrid| advert_frame(&lab.client, vrid))
        .collect::<anyhow::Result<_>>()?;
    let socket = PacketSocket::open(lab.client.netns(), IFACE)?;
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (during, sent, took) = std::thread::scope(|scope| {
        let flooder = scope.spawn(|| {
            // 600 frames every 10 ms: ~60,000 a second.
            let start = Instant::now();
            let mut sent = 0u64;
            let mut tick = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for _ in 0..600 {
                    if socket.send(&frames[sent as usize % frames.len()]).is_ok() {
                        sent += 1;
                    }
                }
                tick += 1;
                let next = Duration::from_millis(10) * tick;
                if let Some(wait) = next.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            (sent, start.elapsed())
        });
        std::thread::sleep(Duration::from_secs(1));
        let during = procstat::measure(&[backup], options.window)[0];
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (sent, took) = flooder.join().expect("flooder");
        (during, sent, took)
    });
    r1.check_running()?;
    r2.check_running()?;
    Ok(Flood {
        daemon: daemon.name(),
        before,
        during,
        flood_pps: sent as f64 / took.as_secs_f64(),
    })
}

/// A valid VRRPv3 advert (checksum with the pseudo-header) for `vrid` from `host` to
/// 224.0.0.18, for a VRID no router runs.
fn advert_frame(host: &Host, vrid: u8) -> anyhow::Result<Vec<u8>> {
    let mac: Vec<u8> = host
        .mac()
        .split(':')
        .map(|b| u8::from_str_radix(b, 16))
        .collect::<Result<_, _>>()?;
    let src = host.ipv4().octets();
    let dst = [224, 0, 0, 18];
    let mut frame = vec![0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
    frame.extend(&mac);
    frame.extend([0x08, 0x00]);
    let vrrp = [0x31, vrid, 100, 1, 0x00, 10, 0, 0, 198, 18, 9, vrid];
    let total = (20 + vrrp.len()) as u16;
    let mut ip = vec![0x45, 0xc0];
    ip.extend(total.to_be_bytes());
    ip.extend([0, 0, 0, 0, 255, 112, 0, 0]);
    ip.extend(src);
    ip.extend(dst);
    let sum = checksum(&ip, 0);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut pseudo = 0u32;
    for pair in src.chunks(2).chain(dst.chunks(2)) {
        pseudo += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    pseudo += 112 + vrrp.len() as u32;
    let mut vrrp = vrrp.to_vec();
    let sum = checksum(&vrrp, pseudo);
    vrrp[6..8].copy_from_slice(&sum.to_be_bytes());
    frame.extend(ip);
    frame.extend(vrrp);
    Ok(frame)
}

/// The Internet checksum of `bytes` plus an already summed `start`.
fn checksum(bytes: &[u8], start: u32) -> u16 {
    let mut sum = start;
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn table(report: &Report, options: &Options) -> String {
    let mut out = format!(
        "\n== Scale: keepalived 2.2.7 and xvrrpd on the same bench\n{}\n",
        crate::bench_env::machine()
    );
    out += &format!(
        "\n100 instances at 10 ms (VRRPv3), over {:.0} s: CPU in % of one core, wakeups/s\n",
        options.window.as_secs_f64()
    );
    out += &format!(
        "{:<11} {:>11} {:>15} {:>11} {:>15} {:>11}\n",
        "daemon", "backup CPU", "backup wakeups", "master CPU", "master wakeups", "VIPs m/b"
    );
    for h in &report.hundred {
        out += &format!(
            "{:<11} {:>10.2}% {:>15.1} {:>10.2}% {:>15.1} {:>7}/{}\n",
            h.daemon,
            h.backup.cpu_percent,
            h.backup.wakeups_per_s,
            h.master.cpu_percent,
            h.master.wakeups_per_s,
            h.master_vips,
            h.backup_vips
        );
    }
    out += &format!(
        "\n1,000 instances at 10 ms on four links (250 VRIDs each), watched {:.0} s: VIPs held by \
         master/backup at the end (master's min, backup's max during the watch), backup \
         takeovers, send jitter |interval - 10 ms| on link 0 in ms (median / p99 / max, late = \
         interval > 15 ms), CPU\n",
        options.watch.as_secs_f64()
    );
    out += &format!(
        "{:<11} {:>10} {:>12} {:>9} {:>10} {:>26} {:>9} {:>11} {:>11}\n",
        "daemon",
        "converged",
        "VIPs m/b",
        "min/max",
        "takeovers",
        "jitter med / p99 / max",
        "late",
        "master CPU",
        "backup CPU"
    );
    for t in &report.thousand {
        out += &format!(
            "{:<11} {:>10} {:>7}/{:<4} {:>4}/{:<4} {:>10} {:>8.3} / {:>6.3} / {:>6.2} {:>9} {:>10.1}% {:>10.1}%\n",
            t.daemon,
            t.converged_after_s
                .map_or("never".to_owned(), |s| format!("{s:.1} s")),
            t.master_vips_end,
            t.backup_vips_end,
            t.master_vips_min,
            t.backup_vips_max,
            t.backup_takeovers,
            t.jitter.deviation.median,
            t.jitter.deviation.p99,
            t.jitter.deviation.max,
            t.jitter.late,
            t.master.cpu_percent,
            t.backup.cpu_percent,
        );
        out += &format!(
            "{:<11} ({} adverts of {} VRIDs captured, {} dropped by the capture)\n",
            "", t.jitter.adverts, t.jitter.vrids, t.jitter.kernel_drops
        );
    }
    out += &format!(
        "\nFlood: 10 instances at 100 ms, then adverts for 100 VRIDs nobody runs from the client; \
         backup CPU over {:.0} s\n",
        options.window.as_secs_f64()
    );
    out += &format!(
        "{:<11} {:>12} {:>12} {:>12}\n",
        "daemon", "before", "during", "flood pps"
    );
    for f in &report.flood {
        out += &format!(
            "{:<11} {:>11.2}% {:>11.2}% {:>12.0}\n",
            f.daemon, f.before.cpu_percent, f.during.cpu_percent, f.flood_pps
        );
    }
    out
}
