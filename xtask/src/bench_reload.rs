//! `cargo xtask bench reload`: the reload that keepalived users fear, measured on
//! both daemons in the same run. Two routers (priority 150 and 100, VRRPv3 at `advert_int
//! 0.01`, Master_Down_Interval 36 ms) and a client pinging the virtual address every 5 ms; the
//! master is sent SIGHUP 100 times, 200 ms apart, with its configuration unchanged. Counted: how
//! often the backup took over, how often the master left MASTER, lost pings and the longest
//! time the client went without an answer; and, as a control, how often the backup took over
//! in as long a time just before, without reloads (a loaded machine delays adverts too).

use std::net::IpAddr;
use std::time::Duration;

use anyhow::Context as _;
use netlab::lab::{IFACE, Lab};
use netlab::ping::Ping;
use netlab::router::{Daemon, Router};

use crate::build_release_xvrrpd;

const VIP: &str = "192.0.2.100";
const BETWEEN_RELOADS: Duration = Duration::from_millis(200);
const RELOADS: usize = 100;

fn config(priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n interface {IFACE}\n virtual_router_id 51\n priority {priority}\n \
         version 3\n advert_int 0.01\n virtual_ipaddress {{\n  {VIP}/24\n }}\n}}\n"
    )
}

/// What one daemon did under the reloads.
struct Outcome {
    /// Takeovers in the control period without reloads.
    control: usize,
    backup_took_over: usize,
    master_left: usize,
    sent: u32,
    lost: u32,
    longest_silence: Duration,
}

pub fn run() -> anyhow::Result<()> {
    let reloads = RELOADS;
    let xvrrpd = build_release_xvrrpd()?;
    // SAFETY: set before any thread is started; the test library's routers run this binary.
    unsafe { std::env::set_var("XVRRPD_BIN", &xvrrpd) };
    let keepalived = measure(Daemon::Keepalived, reloads)?;
    let ours = measure(Daemon::Xvrrpd, reloads)?;
    println!(
        "\n== {reloads} reloads (SIGHUP, configuration unchanged, {} ms apart) of the master at advert_int 0.01,\n   \
         client pinging the virtual address every 5 ms; takeovers by the backup in as long a time\n   \
         without reloads (control), then during the reloads",
        BETWEEN_RELOADS.as_millis()
    );
    println!(
        "   {:<18} {:>16} {:>18} {:>18} {:>8} {:>6} {:>16}",
        "daemon",
        "control: backup",
        "reloads: backup",
        "master left MASTER",
        "pings",
        "lost",
        "longest silence"
    );
    for (name, outcome) in [("keepalived 2.2.7", keepalived), ("xvrrpd", ours)] {
        println!(
            "   {:<18} {:>16} {:>18} {:>18} {:>8} {:>6} {:>13.1} ms",
            name,
            outcome.control,
            outcome.backup_took_over,
            outcome.master_left,
            outcome.sent,
            outcome.lost,
            outcome.longest_silence.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

fn measure(daemon: Daemon, reloads: usize) -> anyhow::Result<Outcome> {
    println!("\n== {daemon}: starting two routers");
    let lab = Lab::new("rlbench")?;
    let vip: IpAddr = VIP.parse()?;
    let mut r1 = Router::start(daemon, lab.r1.netns(), &config(150))?;
    let mut r2 = Router::start(daemon, lab.r2.netns(), &config(100))?;
    lab.wait_for_holders(vip, &["r1"], Duration::from_secs(15), || r1.check_running())
        .context("r1 never became master")?;
    std::thread::sleep(Duration::from_secs(1));
    let control_start = entered(&r2, "MASTER");
    std::thread::sleep(BETWEEN_RELOADS * reloads as u32);
    let control = entered(&r2, "MASTER") - control_start;
    let (masters_before, backups_before) = (entered(&r2, "MASTER"), entered(&r1, "BACKUP"));

    let ping = Ping::start(lab.client.netns(), vip, Duration::from_millis(5))?;
    std::thread::sleep(Duration::from_millis(200));
    let pid = r1.pid().context("r1 is not running")? as i32;
    for round in 0..reloads {
        // SAFETY: a signal to the daemon this bench started.
        if unsafe { libc::kill(pid, libc::SIGHUP) } != 0 {
            anyhow::bail!("SIGHUP to {daemon} failed at reload {round}");
        }
        std::thread::sleep(BETWEEN_RELOADS);
    }
    std::thread::sleep(Duration::from_secs(1));
    let report = ping.finish()?;
    r1.check_running()?;
    r2.check_running()?;
    println!("   {reloads} reloads sent");
    let outcome = Outcome {
        control,
        backup_took_over: entered(&r2, "MASTER") - masters_before,
        master_left: entered(&r1, "BACKUP") - backups_before,
        sent: report.transmitted,
        lost: report.lost(),
        longest_silence: report.longest_silence(),
    };
    if outcome.backup_took_over > 0 {
        // What the backup said when it took over, to tell a starved master from a slow reload.
        for line in r2.log().lines().filter(|l| l.contains("MASTER")) {
            println!("   r2: {line}");
        }
    }
    Ok(outcome)
}

/// How many times the router's log says it entered `state`: keepalived's "Entering MASTER
/// STATE", xvrrpd's "VI_1 BACKUP -> MASTER".
fn entered(router: &Router, state: &str) -> usize {
    let log = router.log();
    match router.daemon() {
        Daemon::Keepalived => log.matches(&format!("Entering {state} STATE")).count(),
        Daemon::Xvrrpd => log
            .lines()
            .filter(|l| l.contains(&format!("-> {state} (")))
            .count(),
    }
}
