//! One case of the matrix: a variant, a pairing, one lab, three failures.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use anyhow::{Context as _, bail};
use netlab::capture::{Capture, Pcap, Timestamp};
use netlab::failover::{Speaker, ms};
use netlab::lab::{Host, IFACE, Lab};
use netlab::ping::Ping;
use netlab::router::{Daemon, Router};
use netlab::timing::{VrrpVersion, master_down_interval};

use super::judge::{Observed, Roles, judge};
use super::quiet;
use super::report::{self, Row};

/// A VRRP flavour the two routers run.
pub struct Variant {
    pub name: &'static str,
    pub version: VrrpVersion,
    pub ipv6: bool,
    pub unicast: bool,
    /// `authentication { auth_type PASS; auth_pass ... }` (VRRPv2 only).
    pub auth_pass: Option<&'static str>,
    pub advert_int: Duration,
    pub vrid: u8,
}

impl Variant {
    pub fn vip(&self) -> IpAddr {
        if self.ipv6 {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100))
        } else {
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))
        }
    }

    /// keepalived.conf for `me`, peering with `peer` in unicast variants.
    pub fn config(&self, me: &Host, peer: &Host, priority: u8, state: &str) -> String {
        let version = match self.version {
            VrrpVersion::V2 => 2,
            VrrpVersion::V3 => 3,
        };
        let mut extra = String::new();
        if let Some(pass) = self.auth_pass {
            extra += &format!(
                "    authentication {{\n        auth_type PASS\n        auth_pass {pass}\n    }}\n"
            );
        }
        if self.unicast {
            extra += &format!(
                "    unicast_src_ip {}\n    unicast_peer {{\n        {}\n    }}\n",
                me.ipv4(),
                peer.ipv4()
            );
        }
        let prefix = if self.ipv6 { 64 } else { 24 };
        format!(
            "global_defs {{\n    router_id {name}\n}}\n\
             vrrp_instance VI_1 {{\n    state {state}\n    interface {IFACE}\n    \
             version {version}\n    virtual_router_id {vrid}\n    priority {priority}\n    \
             advert_int {interval}\n{extra}    virtual_ipaddress {{\n        {vip}/{prefix}\n    \
             }}\n}}\n",
            name = me.name(),
            vrid = self.vrid,
            interval = self.advert_int.as_secs_f64(),
            vip = self.vip(),
        )
    }

    pub fn master_down(&self, priority: u8) -> Duration {
        master_down_interval(self.version, priority, self.advert_int)
    }
}

pub const MASTER_PRIORITY: u8 = 150;
pub const BACKUP_PRIORITY: u8 = 100;
const PING_INTERVAL: Duration = Duration::from_millis(10);
/// issue 8: SIGTERM makes xvrrpd exit within 1 s.
const XVRRPD_STOP_BOUND: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// The lab, the two routers and what the checks found so far.
struct Case<'a> {
    // Fields drop in order: the routers stop (a master sends priority 0) while the LAN is
    // still there, then the namespaces go.
    r1: Router,
    r2: Router,
    lab: Lab,
    variant: &'a Variant,
    failures: Vec<String>,
    pcaps: Vec<(Failure, Pcap)>,
}

/// Runs every failure of one case, prints its table, and panics with every failed check (with
/// the routers' logs; captures and logs are kept under target/tmp/failover-matrix/).
pub fn run_case(test: &str, variant: &Variant, master: Daemon, backup: Daemon) {
    run_case_with(test, variant, master, backup, &[]);
}

/// [`run_case`] with `xvrrpd_args` added to every xvrrpd's command line (`--no-kernel-timers`
/// for the cases that run on the fallback).
pub fn run_case_with(
    test: &str,
    variant: &Variant,
    master: Daemon,
    backup: Daemon,
    xvrrpd_args: &[&str],
) {
    let mut title = format!(
        "{} (advert_int {} s), master {master}, backup {backup}",
        variant.name,
        variant.advert_int.as_secs_f64()
    );
    if !xvrrpd_args.is_empty() {
        title += &format!(", xvrrpd {}", xvrrpd_args.join(" "));
    }
    report::clear(test);
    let mut case = match Case::start(variant, master, backup, xvrrpd_args) {
        Ok(case) => case,
        Err(error) => panic!("{title}: {error:#}"),
    };
    let mut rows = Vec::new();
    for failure in Failure::ALL {
        match case.exercise(failure) {
            Ok(row) => rows.push(row),
            Err(error) => {
                case.failures.push(format!("{}: {error:#}", failure.name()));
                break;
            }
        }
    }
    let table = report::table(&title, &rows);
    println!("{table}");
    report::save(test, "txt", table.as_bytes());
    if case.failures.is_empty() {
        return;
    }
    for (failure, pcap) in &case.pcaps {
        let name = failure.name().replace([' ', '-'], "_");
        let _ = pcap.save(&report::path(test, &format!("{name}.pcap")));
    }
    report::save(test, "r1.log", case.r1.log().as_bytes());
    report::save(test, "r2.log", case.r2.log().as_bytes());
    panic!(
        "{title}:\n  {}\n\n{}\n\ncaptures and logs: {}*",
        case.failures.join("\n  "),
        case.logs(),
        report::path(test, "").display()
    );
}

impl<'a> Case<'a> {
    /// Builds the lab, starts both routers and waits for r1 to win the election.
    fn start(
        variant: &'a Variant,
        master: Daemon,
        backup: Daemon,
        xvrrpd_args: &[&str],
    ) -> anyhow::Result<Self> {
        let lab = Lab::new("fm")?;
        let r1_config = variant.config(&lab.r1, &lab.r2, MASTER_PRIORITY, "MASTER");
        let r2_config = variant.config(&lab.r2, &lab.r1, BACKUP_PRIORITY, "BACKUP");
        let heavy = quiet::heavy();
        let r1 = Router::start_with(master, lab.r1.netns(), &r1_config, xvrrpd_args)?;
        let r2 = Router::start_with(backup, lab.r2.netns(), &r2_config, xvrrpd_args)?;
        std::thread::sleep(quiet::STARTUP);
        drop(heavy);
        let mut case = Self {
            variant,
            lab,
            r1,
            r2,
            failures: Vec::new(),
            pcaps: Vec::new(),
        };
        if let Err(error) = case.elect() {
            // The routers go with the case: keep what they said.
            bail!("{error:#}\n\n{}", case.logs());
        }
        Ok(case)
    }

    /// r1 (priority 150) must end up holding the VIP, r2 must not.
    fn elect(&mut self) -> anyhow::Result<()> {
        let variant = self.variant;
        // Startup, then r2 waits a Master_Down_Interval before it may claim the VIP.
        let timeout = variant.master_down(BACKUP_PRIORITY) * 2 + Duration::from_secs(5);
        let (lab, r1, r2) = (&self.lab, &mut self.r1, &mut self.r2);
        lab.wait_for_holders(variant.vip(), &["r1"], timeout, || {
            r1.check_running()?;
            r2.check_running()
        })
        .context("election: r1 (priority 150) must hold the VIP, r2 must not")?;
        // A backup that also claims the VIP shows up a little later.
        std::thread::sleep(variant.advert_int.max(Duration::from_millis(300)));
        let holders = self.lab.holders(variant.vip())?;
        if holders != ["r1"] {
            bail!("election: the VIP is held by {holders:?} after settling, expected [\"r1\"]");
        }
        // r1 may win alone: the backup must be up too.
        self.r1.check_running().context("election")?;
        self.r2.check_running().context("election")
    }

    /// The end of both routers' logs.
    fn logs(&self) -> String {
        format!(
            "r1 ({}) log:\n{}\n\nr2 ({}) log:\n{}",
            self.r1.daemon(),
            self.r1.log_tail(40),
            self.r2.daemon(),
            self.r2.log_tail(40)
        )
    }

    fn speaker(&self, host: &Host) -> Speaker {
        Speaker {
            name: host.name(),
            advert_source: host.advert_source(self.variant.ipv6),
            mac: host.mac().to_owned(),
        }
    }

    fn check(&mut self, failure: Failure, result: anyhow::Result<()>) {
        if let Err(error) = result {
            self.failures.push(format!("{}: {error:#}", failure.name()));
        }
    }

    /// One failure of r1, r2's takeover, r1's recovery and preemption; the capture and the
    /// pings span all of it.
    fn exercise(&mut self, failure: Failure) -> anyhow::Result<Row> {
        let variant = self.variant;
        let vip = variant.vip();
        let timed = quiet::timed();
        let capture = Capture::start(self.lab.client.netns(), IFACE)?;
        let ping = Ping::start(self.lab.client.netns(), vip, PING_INTERVAL)?;
        // r1's last advert before the failure must be in the capture.
        std::thread::sleep(variant.advert_int * 3 / 2 + Duration::from_millis(100));

        let event = Timestamp::now();
        let mut stopped = None;
        match failure {
            Failure::LinkDown => self.lab.link_down(&self.lab.r1)?,
            Failure::Kill => {
                self.r1.kill()?;
            }
            Failure::Terminate => stopped = Some(self.r1.terminate(Duration::from_secs(5))?),
        }
        let takeover_timeout = variant.master_down(BACKUP_PRIORITY) + Duration::from_secs(2);
        let (lab, r2) = (&self.lab, &mut self.r2);
        lab.wait_for_holder(vip, "r2", takeover_timeout, || r2.check_running())
            .context("r2 did not take the VIP over")?;
        // The takeover's GARP/NA burst and the pings' recovery.
        std::thread::sleep(Duration::from_millis(500));
        let failover_ping = ping.finish()?;
        drop(timed);
        let r1_after = self.lab.r1.holds(vip)?;
        match (failure, stopped) {
            (Failure::LinkDown, _) => self.check(
                failure,
                if r1_after {
                    Err(anyhow::anyhow!(
                        "r1 kept the VIP with its link down (keepalived removes it in FAULT)"
                    ))
                } else {
                    Ok(())
                },
            ),
            (Failure::Terminate, Some(exit)) => {
                let mut problems = Vec::new();
                if !exit.status.success() {
                    problems.push(format!("r1 exited with {} after SIGTERM", exit.status));
                }
                if r1_after {
                    problems.push("r1 left the VIP on its interface after SIGTERM".to_owned());
                }
                if self.r1.daemon() == Daemon::Xvrrpd && exit.after > XVRRPD_STOP_BOUND {
                    problems.push(format!(
                        "xvrrpd took {:.0} ms to exit after SIGTERM (bound {XVRRPD_STOP_BOUND:?})",
                        ms(exit.after)
                    ));
                }
                for problem in problems {
                    self.failures.push(format!("{}: {problem}", failure.name()));
                }
            }
            _ => {}
        }

        let ping = Ping::start(self.lab.client.netns(), vip, PING_INTERVAL)?;
        std::thread::sleep(Duration::from_millis(100));
        let recovery;
        let timed = match failure {
            Failure::LinkDown => {
                let timed = quiet::timed();
                recovery = Timestamp::now();
                self.lab.link_up(&self.lab.r1)?;
                timed
            }
            Failure::Kill | Failure::Terminate => {
                let heavy = quiet::heavy();
                recovery = Timestamp::now();
                self.r1.restart()?;
                std::thread::sleep(quiet::STARTUP);
                drop(heavy);
                quiet::timed()
            }
        };
        let preempt_timeout = variant.master_down(MASTER_PRIORITY) + Duration::from_secs(5);
        let (lab, r1, r2) = (&self.lab, &mut self.r1, &mut self.r2);
        lab.wait_for_holders(vip, &["r1"], preempt_timeout, || {
            r1.check_running()?;
            r2.check_running()
        })
        .context("r1 did not preempt back (r1 alone must hold the VIP)")?;
        // Long enough to see r2 keep advertising if it did not step down.
        std::thread::sleep((variant.advert_int * 3 / 2).max(Duration::from_millis(500)));
        let preempt_ping = ping.finish()?;
        let end = Timestamp::now();
        let pcap = capture.stop()?;
        drop(timed);
        let frames = {
            let _heavy = quiet::heavy();
            pcap.frames()?
        };
        let roles = Roles {
            variant,
            r1: self.speaker(&self.lab.r1),
            r2: self.speaker(&self.lab.r2),
            backup: self.r2.daemon(),
        };
        let seen = Observed {
            failure,
            frames: &frames,
            event,
            recovery,
            end,
            failover_ping,
            preempt_ping,
            stop_time: stopped.map(|exit| exit.after),
            kernel_drops: pcap.kernel_drops,
        };
        let mut failed = Vec::new();
        let row = judge(&roles, seen, &mut failed);
        for problem in failed {
            self.failures.push(format!("{}: {problem}", failure.name()));
        }
        self.pcaps.push((failure, pcap));
        Ok(row)
    }
}
