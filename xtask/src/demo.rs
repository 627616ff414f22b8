//! `cargo xtask demo`: xvrrpd at work, for someone who has never seen VRRP. Two xvrrpd routers
//! and a keepalived router share one virtual address on a LAN of network namespaces, and a
//! client pings that address every 10 ms the whole time. Each step does to the master what
//! happens in production (its link goes down, it crashes, it is stopped, it is reloaded) and
//! prints who took the address over, how long the client went without answers and how many
//! pings it lost, with `xvrrpd status` tables in between. Everything is removed at the end.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use netlab::lab::{Host, IFACE, Lab};
use netlab::ping::Ping;
use netlab::router::{Daemon, Router};

use crate::build_release_xvrrpd;

const VIP: &str = "192.0.2.100";
const PING_INTERVAL: Duration = Duration::from_millis(10);

fn config(name: &str, priority: u8) -> String {
    format!(
        "global_defs {{\n    router_id {name}\n}}\n\
         vrrp_instance VI_1 {{\n    interface {IFACE}\n    version 3\n    virtual_router_id 51\n    \
         priority {priority}\n    advert_int 0.1\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )
}

/// RFC 5798 section 6.1: how long a backup waits without adverts before it takes over.
fn master_down_ms(priority: u8) -> f64 {
    3.0 * 100.0 + (256.0 - f64::from(priority)) * 100.0 / 256.0
}

struct Demo {
    lab: Lab,
    r3: Host,
    r1: Router,
    r2: Router,
    r3_daemon: Router,
    results: Vec<(String, &'static str, Duration, u32)>,
}

pub fn run() -> anyhow::Result<()> {
    let xvrrpd = build_release_xvrrpd()?;
    // SAFETY: set before any thread is started; the test library's routers run this binary.
    unsafe { std::env::set_var("XVRRPD_BIN", &xvrrpd) };

    println!(
        "\n== VRRP in one paragraph\n\
         Routers on a LAN share a virtual IP address (here {VIP}). One of them, the MASTER, holds\n\
         it and multicasts an advert every 100 ms; the others are BACKUPs and listen. When the\n\
         adverts stop, the backup with the highest priority takes the address over after its\n\
         Master_Down_Interval (3 intervals plus a skew: {:.0} ms for priority 100) and tells\n\
         the LAN with gratuitous ARPs. A client using the address sees a short pause, not an\n\
         outage. xvrrpd does this with the receive path in the kernel (XDP).",
        master_down_ms(100)
    );

    println!(
        "\n== The LAN: r1 and r2 run xvrrpd (priorities 150 and 100), r3 runs keepalived 2.2.7\n   \
         (priority 50), and a client pings {VIP} every {} ms throughout",
        PING_INTERVAL.as_millis()
    );
    let lab = Lab::new("demo")?;
    let r3 = lab.add_host("r3", "r3", 3)?;
    let r1 = Router::start(Daemon::Xvrrpd, lab.r1.netns(), &config("r1", 150))?;
    let r2 = Router::start(Daemon::Xvrrpd, lab.r2.netns(), &config("r2", 100))?;
    let r3_daemon = Router::start(Daemon::Keepalived, r3.netns(), &config("r3", 50))?;
    let mut demo = Demo {
        lab,
        r3,
        r1,
        r2,
        r3_daemon,
        results: Vec::new(),
    };
    let started = Instant::now();
    demo.wait_for("r1", Duration::from_secs(10))
        .context("r1 never became master")?;
    println!(
        "   r1 holds {VIP} {:.1} s after the three daemons started (every router starts as\n   \
         BACKUP and waits one Master_Down_Interval; r1's ends first)",
        started.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_millis(500));
    demo.status("r1")?;
    demo.status("r2")?;

    demo.step(
        "r1's link goes down",
        "r2 stops hearing adverts and takes over after its Master_Down_Interval",
        "r2",
        |d| d.lab.link_down(&d.lab.r1),
    )?;
    demo.status("r2")?;
    demo.step(
        "r1's link comes back",
        "r1 hears r2's lower priority and preempts at once",
        "r1",
        |d| d.lab.link_up(&d.lab.r1),
    )?;
    demo.step_with(
        "kill -9 r1 (a crash: no goodbye)",
        "r2 takes over after Master_Down_Interval. r1's host is still up and still answers for\n   \
         the address a dead daemon left on it, so the client notices nothing; r2's gratuitous\n   \
         ARPs point the LAN to r2",
        "r2",
        false,
        |d| d.r1.kill().map(drop),
    )?;
    demo.step(
        "r1 starts again (systemd's Restart=)",
        "it removes the address its crash left behind, waits as BACKUP, then preempts",
        "r1",
        |d| d.r1.restart(),
    )?;
    demo.step(
        "SIGTERM r1 (systemctl stop)",
        "r1 sends priority 0 on its way out: r2 takes over after only its skew time",
        "r2",
        |d| d.r1.terminate(Duration::from_secs(5)).map(drop),
    )?;
    demo.step("r1 starts again", "r1 preempts", "r1", |d| d.r1.restart())?;
    demo.step(
        "reload r1 100 times with its configuration unchanged (xvrrpd reload)",
        "nothing moves: keepalived's reloads can make a backup take over at this advert_int",
        "r1",
        |d| {
            for _ in 0..100 {
                d.reload_r1()?;
            }
            Ok(())
        },
    )?;
    demo.step(
        "reload r1 with priority 90 in its configuration",
        "r1 keeps running and advertises 90; r2 (100) preempts it",
        "r2",
        |d| {
            std::fs::write(d.r1.config_file(), config("r1", 90))?;
            d.reload_r1()
        },
    )?;
    demo.step(
        "reload r1 with priority 150 again",
        "r1 preempts",
        "r1",
        |d| {
            std::fs::write(d.r1.config_file(), config("r1", 150))?;
            d.reload_r1()
        },
    )?;
    demo.status("r1")?;
    demo.step(
        "stop both xvrrpd routers",
        "the keepalived router, which heard them all along, takes over: the same protocol",
        "r3",
        |d| {
            d.r1.terminate(Duration::from_secs(5))?;
            d.r2.terminate(Duration::from_secs(5))?;
            Ok(())
        },
    )?;
    demo.r3_daemon.check_running()?;

    println!(
        "\n== Summary (outage: the longest time the client went without an answer, beyond the\n   \
         {} ms between pings)",
        PING_INTERVAL.as_millis()
    );
    println!(
        "   {:<72} {:>6} {:>10} {:>6}",
        "step", "master", "outage", "lost"
    );
    for (step, master, outage, lost) in &demo.results {
        // Without a lost ping the longest gap is ping's own jitter, not an outage.
        let outage = if *lost == 0 {
            "none".to_owned()
        } else {
            format!("{} ms", outage.as_millis())
        };
        println!("   {step:<72} {master:>6} {outage:>10} {lost:>6}");
    }
    println!("\n== Demo done: namespaces, processes and pins are cleaned up");
    Ok(())
}

impl Demo {
    fn host(&self, name: &str) -> &Host {
        match name {
            "r1" => &self.lab.r1,
            "r2" => &self.lab.r2,
            _ => &self.r3,
        }
    }

    /// Waits until `name` is the only router holding the address.
    fn wait_for(&mut self, name: &str, timeout: Duration) -> anyhow::Result<Duration> {
        self.wait_until(name, true, timeout)
    }

    /// Waits until `name` holds the address (`alone`: and no other router does; a router
    /// killed with -9 keeps the address on its interface, and answers nothing for it).
    fn wait_until(
        &mut self,
        name: &str,
        alone: bool,
        timeout: Duration,
    ) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let vip: IpAddr = VIP.parse()?;
        loop {
            let mut holders = Vec::new();
            for router in ["r1", "r2", "r3"] {
                if self.host(router).holds(vip)? {
                    holders.push(router);
                }
            }
            if holders == [name] || (!alone && holders.contains(&name)) {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                bail!("{VIP} is held by {holders:?}, not {name}, after {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One step under the client's ping: what is done, what should happen, who ends up master.
    fn step(
        &mut self,
        what: &str,
        expect: &str,
        master: &'static str,
        action: impl FnOnce(&mut Self) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        self.step_with(what, expect, master, true, action)
    }

    fn step_with(
        &mut self,
        what: &str,
        expect: &str,
        master: &'static str,
        alone: bool,
        action: impl FnOnce(&mut Self) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        println!("\n== {what}\n   expected: {expect}");
        let ping = Ping::start(self.lab.client.netns(), VIP.parse()?, PING_INTERVAL)?;
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        action(self).with_context(|| what.to_owned())?;
        let acted = start.elapsed();
        self.wait_until(master, alone, Duration::from_secs(10))
            .with_context(|| format!("after: {what}"))?;
        let holder_after = start.elapsed();
        // Ping the new master a little longer, so the outage is over when the count ends.
        std::thread::sleep(Duration::from_millis(500));
        let report = ping.finish()?;
        println!(
            "   {master} holds {VIP} {:.0} ms after the step began{}; the client sent {} pings, \
             lost {}, and went {:.0} ms without an answer",
            holder_after.as_secs_f64() * 1e3,
            if acted > Duration::from_millis(100) {
                format!(
                    " (the step itself took {:.0} ms)",
                    acted.as_secs_f64() * 1e3
                )
            } else {
                String::new()
            },
            report.transmitted,
            report.lost(),
            report.longest_silence().as_secs_f64() * 1e3
        );
        self.results.push((
            what.to_owned(),
            master,
            report.longest_silence(),
            report.lost(),
        ));
        Ok(())
    }

    fn reload_r1(&self) -> anyhow::Result<()> {
        let output = self
            .lab
            .r1
            .netns()
            .enter(netlab::xvrrpd_bin())
            .args(["reload", "-f"])
            .arg(self.r1.config_file())
            .output()?;
        if !output.status.success() {
            bail!(
                "xvrrpd reload failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    /// `xvrrpd status` of one xvrrpd router, indented.
    fn status(&self, name: &str) -> anyhow::Result<()> {
        let router = if name == "r1" { &self.r1 } else { &self.r2 };
        let output = self
            .host(name)
            .netns()
            .enter(netlab::xvrrpd_bin())
            .args(["status", "-f"])
            .arg(router.config_file())
            .output()?;
        println!("\n   $ ip netns exec {name} xvrrpd status");
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            println!("   | {line}");
        }
        Ok(())
    }
}
