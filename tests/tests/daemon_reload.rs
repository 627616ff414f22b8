//! Reloading the configuration (SIGHUP and `xvrrpd reload`): hundreds of reloads under a
//! client's ping change nothing at advert_int 0.01 (keepalived 2.2.7 falsely failed over once
//! in 10 reloads here); a configuration with errors is refused with its diagnostics and the
//! daemon runs on; a changed VIP list touches only the addresses that changed, a removed
//! instance stops with priority 0, a new one starts.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use netlab::capture::Capture;
use netlab::lab::{Host, IFACE, Lab};
use netlab::ping::Ping;
use netlab::router::{Daemon, Router};
use netlab::{Process, TempDir, xvrrpd_bin};
use serde_json::Value;

const SETTLE: Duration = Duration::from_secs(10);

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// One instance block.
fn instance(name: &str, vrid: u8, priority: u8, advert_int: &str, vips: &[&str]) -> String {
    let vips: String = vips.iter().map(|v| format!("  {v}/24\n")).collect();
    format!(
        "vrrp_instance {name} {{\n interface {IFACE}\n virtual_router_id {vrid}\n priority {priority}\n \
         version 3\n advert_int {advert_int}\n virtual_ipaddress {{\n{vips} }}\n}}\n"
    )
}

/// `xvrrpd ARGS -f CONF` in `host`'s namespace, to completion.
fn cli(host: &Host, router: &Router, args: &[&str]) -> std::process::Output {
    host.netns()
        .enter(xvrrpd_bin())
        .args(args)
        .arg("-f")
        .arg(router.config_file())
        .output()
        .unwrap_or_else(|e| panic!("xvrrpd {args:?}: {e:#}"))
}

fn status(host: &Host, router: &Router) -> Value {
    let output = cli(host, router, &["status", "--json"]);
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Per instance: (name, state, transitions, priority 0 sent, priority 0 received).
fn summary(host: &Host, router: &Router) -> Vec<(String, String, u64, u64, u64)> {
    status(host, router)["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_owned(),
                i["state"].as_str().unwrap().to_owned(),
                i["transitions"].as_u64().unwrap(),
                i["counters"]["priority_zero_sent"].as_u64().unwrap(),
                i["counters"]["priority_zero_received"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn reload(host: &Host, router: &Router) -> String {
    let output = cli(host, router, &["reload"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "reload failed: {text}");
    text
}

#[test]
fn five_hundred_reloads_under_ping_change_nothing() {
    let lab = Lab::new("reload").unwrap();
    let vip = ip("192.0.2.100");
    let config = |priority| instance("VI_1", 51, priority, "0.01", &["192.0.2.100"]);
    let mut r1 = Router::start(Daemon::Xvrrpd, lab.r1.netns(), &config(150)).unwrap();
    let mut r2 = Router::start(Daemon::Xvrrpd, lab.r2.netns(), &config(100)).unwrap();
    lab.wait_for_holders(vip, &["r1"], SETTLE, || r1.check_running())
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let before = (summary(&lab.r1, &r1), summary(&lab.r2, &r2));

    let ping = Ping::start(lab.client.netns(), vip, Duration::from_millis(5)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for round in 0..500 {
        // Both routers, through the socket; every 50th round by SIGHUP, as systemd does.
        let (host, router) = if round % 2 == 0 {
            (&lab.r1, &r1)
        } else {
            (&lab.r2, &r2)
        };
        let one = Instant::now();
        if round % 50 == 49 {
            let pid = router.pid().unwrap() as i32;
            // SAFETY: a signal to the daemon this test started.
            assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
        } else {
            let reply = reload(host, router);
            assert!(
                reply.contains("1 instances kept (0 changed), 0 added, 0 removed"),
                "{reply}"
            );
        }
        slowest = slowest.max(one.elapsed());
    }
    let took = started.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    let report = ping.finish().unwrap();
    r1.check_running().unwrap();
    r2.check_running().unwrap();
    let after = (summary(&lab.r1, &r1), summary(&lab.r2, &r2));
    println!(
        "500 reloads in {:.1} s (slowest round trip {:.1} ms); ping: {} sent, {} lost",
        took.as_secs_f64(),
        slowest.as_secs_f64() * 1e3,
        report.transmitted,
        report.lost()
    );
    assert_eq!(
        before,
        after,
        "no state change, no priority 0 (r1 log:\n{}\nr2 log:\n{})",
        r1.log_tail(30),
        r2.log_tail(30)
    );
    assert_eq!(after.0[0].1, "MASTER");
    assert_eq!(after.1[0].1, "BACKUP");
    assert!(report.transmitted > 500, "{report:?}");
    assert_eq!(report.lost(), 0, "{report:?}");
    assert_eq!(lab.holders(vip).unwrap(), ["r1"]);
    let log = r1.log();
    assert_eq!(log.matches("configuration reloaded").count(), 250, "{log}");
}

#[test]
fn a_configuration_with_errors_is_refused_and_the_daemon_runs_on() {
    let lab = Lab::new("reloadbad").unwrap();
    let vip = ip("192.0.2.100");
    let good = instance("VI_1", 51, 150, "0.1", &["192.0.2.100"]);
    let mut r1 = Router::start(Daemon::Xvrrpd, lab.r1.netns(), &good).unwrap();
    lab.wait_for_holders(vip, &["r1"], SETTLE, || r1.check_running())
        .unwrap();
    let before = summary(&lab.r1, &r1);

    // Line 3: a VRID out of range.
    let bad = good.replace("virtual_router_id 51", "virtual_router_id 300")
        + &instance("VI_2", 52, 100, "0.1", &["192.0.2.102"]);
    std::fs::write(r1.config_file(), &bad).unwrap();
    let output = cli(&lab.r1, &r1, &["reload"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "{text}");
    let file = r1.config_file().display().to_string();
    assert!(
        text.contains(&format!("{file}:3:")),
        "names the line: {text}"
    );
    assert!(text.contains("virtual_router_id"), "{text}");
    assert!(text.contains("the running configuration is kept"), "{text}");

    // The same by SIGHUP: logged, and nothing changes.
    // SAFETY: a signal to the daemon this test started.
    assert_eq!(
        unsafe { libc::kill(r1.pid().unwrap() as i32, libc::SIGHUP) },
        0
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !r1.log().contains("reload refused") {
        assert!(Instant::now() < deadline, "{}", r1.log_tail(20));
        std::thread::sleep(Duration::from_millis(50));
    }
    r1.check_running().unwrap();
    assert_eq!(summary(&lab.r1, &r1), before);
    assert_eq!(lab.holders(vip).unwrap(), ["r1"]);
    assert!(!lab.r1.holds(ip("192.0.2.102")).unwrap());

    // An interface that does not exist is refused too (keepalived would not start with it).
    std::fs::write(r1.config_file(), good.replace(IFACE, "nosuch0")).unwrap();
    let output = cli(&lab.r1, &r1, &["reload"]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("nosuch0"),
        "{output:?}"
    );

    // Fixed: accepted, and the instance is still the same master.
    std::fs::write(r1.config_file(), &good).unwrap();
    let reply = reload(&lab.r1, &r1);
    assert!(reply.contains("1 instances kept (0 changed)"), "{reply}");
    assert_eq!(summary(&lab.r1, &r1), before);

    // A script without enable_script_security is keepalived's run-time warning, not a
    // refusal: the reload goes through and says so.
    let with_script = "vrrp_script chk {\n script \"/bin/true\"\n interval 1\n weight -20\n}\n"
        .to_owned()
        + &good.replace(
            " virtual_ipaddress",
            " track_script {\n  chk\n }\n virtual_ipaddress",
        );
    std::fs::write(r1.config_file(), &with_script).unwrap();
    let reply = reload(&lab.r1, &r1);
    assert!(reply.contains("1 instances kept (1 changed)"), "{reply}");
    assert!(reply.contains("enable_script_security"), "{reply}");
    assert_eq!(summary(&lab.r1, &r1)[0].1, "MASTER");
}

#[test]
fn a_reload_touches_only_what_changed() {
    let lab = Lab::new("reloaddiff").unwrap();
    // advert_int 1: the two routers are reloaded one after the other, and in between the
    // backup drops the master's adverts, whose address list differs (keepalived does too).
    let before = instance("VI_1", 51, 150, "1", &["192.0.2.100", "192.0.2.101"])
        + &instance("VI_2", 52, 150, "1", &["192.0.2.102"]);
    let backup = instance("VI_1", 51, 100, "1", &["192.0.2.100", "192.0.2.101"])
        + &instance("VI_2", 52, 100, "1", &["192.0.2.102"]);
    let mut r1 = Router::start(Daemon::Xvrrpd, lab.r1.netns(), &before).unwrap();
    let mut r2 = Router::start(Daemon::Xvrrpd, lab.r2.netns(), &backup).unwrap();
    for vip in ["192.0.2.100", "192.0.2.101", "192.0.2.102"] {
        lab.wait_for_holders(ip(vip), &["r1"], 2 * SETTLE, || r1.check_running())
            .unwrap();
    }
    // The second burst of gratuitous ARPs (garp_master_delay 5 s) is long gone by the capture.
    std::thread::sleep(Duration::from_millis(5500));
    let transitions_before = summary(&lab.r1, &r1)[0].2;

    // Every address change on r1, as `ip monitor` prints it.
    let dir = TempDir::new("monitor").unwrap();
    let monitor_out = std::fs::File::create(dir.path().join("monitor.txt")).unwrap();
    let monitor = Process::spawn(
        "ip monitor",
        lab.r1
            .netns()
            .exec("ip")
            .args(["-o", "monitor", "address"])
            .stdout(monitor_out),
    )
    .unwrap();
    let capture = Capture::start(lab.client.netns(), IFACE).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    // VI_1 drops .100 and gains .103 on both; on r1 VI_2 goes and VI_3 arrives.
    let after = instance("VI_1", 51, 150, "1", &["192.0.2.101", "192.0.2.103"])
        + &instance("VI_3", 53, 150, "1", &["192.0.2.104"]);
    let backup_after = instance("VI_1", 51, 100, "1", &["192.0.2.101", "192.0.2.103"])
        + &instance("VI_2", 52, 100, "1", &["192.0.2.102"]);
    std::fs::write(r2.config_file(), &backup_after).unwrap();
    let reply = reload(&lab.r2, &r2);
    assert!(
        reply.contains("2 instances kept (1 changed), 0 added, 0 removed; virtual addresses +0 -0"),
        "{reply}"
    );
    std::fs::write(r1.config_file(), &after).unwrap();
    let reply = reload(&lab.r1, &r1);
    assert!(
        reply.contains("1 instances kept (1 changed), 1 added, 1 removed; virtual addresses +1 -1"),
        "{reply}"
    );
    // VI_2's backup takes over after Skew_Time (priority 0); VI_3 has no peer and becomes
    // master after Master_Down_Interval.
    lab.wait_for_holders(ip("192.0.2.102"), &["r2"], SETTLE, || r2.check_running())
        .unwrap();
    lab.wait_for_holders(ip("192.0.2.104"), &["r1"], SETTLE, || r1.check_running())
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let frames = capture.stop().unwrap().frames().unwrap();
    drop(monitor);
    let monitored = std::fs::read_to_string(dir.path().join("monitor.txt")).unwrap();

    assert!(lab.r1.holds(ip("192.0.2.101")).unwrap());
    assert!(lab.r1.holds(ip("192.0.2.103")).unwrap());
    assert!(!lab.r1.holds(ip("192.0.2.100")).unwrap());
    assert!(!lab.r1.holds(ip("192.0.2.102")).unwrap());
    assert!(lab.holders(ip("192.0.2.100")).unwrap().is_empty());
    let vi1 = &summary(&lab.r1, &r1)[0];
    assert_eq!(
        (vi1.0.as_str(), vi1.1.as_str(), vi1.2, vi1.3),
        ("VI_1", "MASTER", transitions_before, 0),
        "VI_1 stayed master without a transition or a priority 0"
    );

    // Only the changed addresses moved on r1.
    for line in monitored.lines() {
        assert!(
            !line.contains("192.0.2.101/"),
            "the kept address was touched: {monitored}"
        );
    }
    assert!(
        monitored
            .lines()
            .any(|l| l.starts_with("Deleted") && l.contains("192.0.2.100/")),
        "{monitored}"
    );
    assert!(
        monitored
            .lines()
            .any(|l| !l.starts_with("Deleted") && l.contains("192.0.2.103/")),
        "{monitored}"
    );

    // On the wire: gratuitous ARPs for the new address only, no priority 0 for VRID 51, one
    // for VRID 52 from r1.
    let r1_source = IpAddr::V4(lab.r1.ipv4());
    assert!(frames.iter().any(|f| f.announces(ip("192.0.2.103"))));
    assert!(
        !frames.iter().any(|f| f.announces(ip("192.0.2.101"))),
        "the kept address was announced again"
    );
    let zero_from_r1 = |vrid| {
        frames.iter().any(|f| {
            f.advert()
                .is_some_and(|a| a.source == r1_source && a.vrid == vrid && a.priority == 0)
        })
    };
    assert!(!zero_from_r1(51));
    assert!(zero_from_r1(52));
    r1.check_running().unwrap();
}

#[test]
fn a_renamed_instance_and_a_new_version_continue_as_in_keepalived() {
    // keepalived 2.2.7 (vrrp.c vrrp_exist) recognises an instance by VRID, family and
    // interface, not by name or version: a master renamed, or moved from VRRPv3 to v2, stays
    // master with no priority 0 and its addresses untouched.
    let lab = Lab::new("reloadname").unwrap();
    let vip = ip("192.0.2.100");
    // No second burst of gratuitous ARPs, which would land in the capture.
    let config = |name: &str, version: &str, priority| {
        "global_defs {\n vrrp_garp_master_delay 0\n}\n".to_owned()
            + &instance("VI_1", 51, priority, "1", &["192.0.2.100"])
                .replace("vrrp_instance VI_1", &format!("vrrp_instance {name}"))
                .replace("version 3", &format!("version {version}"))
    };
    let mut r1 = Router::start(Daemon::Xvrrpd, lab.r1.netns(), &config("VI_1", "3", 150)).unwrap();
    let mut r2 = Router::start(Daemon::Xvrrpd, lab.r2.netns(), &config("VI_1", "3", 100)).unwrap();
    lab.wait_for_holders(vip, &["r1"], 2 * SETTLE, || r1.check_running())
        .unwrap();
    let transitions = summary(&lab.r1, &r1)[0].2;
    let capture = Capture::start(lab.client.netns(), IFACE).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    std::fs::write(r1.config_file(), config("web", "3", 150)).unwrap();
    let reply = reload(&lab.r1, &r1);
    assert!(
        reply.contains("1 instances kept (1 changed), 0 added, 0 removed"),
        "{reply}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        summary(&lab.r1, &r1)[0],
        ("web".to_owned(), "MASTER".to_owned(), transitions, 0, 0)
    );

    // Both routers move to VRRPv2, the backup first (it drops the master's v3 adverts until
    // the master follows, well within its Master_Down_Interval).
    std::fs::write(r2.config_file(), config("VI_1", "2", 100)).unwrap();
    reload(&lab.r2, &r2);
    std::fs::write(r1.config_file(), config("web", "2", 150)).unwrap();
    let reply = reload(&lab.r1, &r1);
    assert!(
        reply.contains("1 instances kept (1 changed), 0 added, 0 removed"),
        "{reply}"
    );
    std::thread::sleep(Duration::from_millis(4500));
    let frames = capture.stop().unwrap().frames().unwrap();

    assert_eq!(
        summary(&lab.r1, &r1)[0],
        ("web".to_owned(), "MASTER".to_owned(), transitions, 0, 0)
    );
    assert_eq!(summary(&lab.r2, &r2)[0].1, "BACKUP");
    assert_eq!(lab.holders(vip).unwrap(), ["r1"]);
    let r1_source = IpAddr::V4(lab.r1.ipv4());
    let from_r1: Vec<_> = frames
        .iter()
        .filter_map(|f| f.advert())
        .filter(|a| a.source == r1_source)
        .collect();
    assert!(from_r1.iter().all(|a| a.priority == 150), "{from_r1:?}");
    assert!(from_r1.iter().any(|a| a.version == 2), "{from_r1:?}");
    assert!(
        !frames.iter().any(|f| f.announces(vip)),
        "the kept address was announced again"
    );
    r1.check_running().unwrap();
    r2.check_running().unwrap();
}

#[test]
fn a_slow_configuration_read_does_not_stop_the_adverts() {
    // keepalived stops everything while it reads its files (it sends one advert first), so a
    // large configuration at a short advert_int lets the backups take over. xvrrpd reads on
    // a thread of its own while the loop goes on advertising; only the apply step stops it.
    let lab = Lab::new("reloadslow").unwrap();
    let vip = ip("192.0.2.100");
    // A million comment lines (20 MB): reading takes over 100 ms even in a release build.
    let filler: String = (0..1_000_000).map(|i| format!("! filler {i}\n")).collect();
    // advert_int 0.02: the backup's Master_Down_Interval is 72 ms, shorter than reading.
    let master = instance("VI_1", 51, 150, "0.02", &["192.0.2.100"]) + &filler;
    let mut r1 = Router::start(Daemon::Xvrrpd, lab.r1.netns(), &master).unwrap();
    let mut r2 = Router::start(
        Daemon::Xvrrpd,
        lab.r2.netns(),
        &instance("VI_1", 51, 100, "0.02", &["192.0.2.100"]),
    )
    .unwrap();
    lab.wait_for_holders(vip, &["r1"], 2 * SETTLE, || r1.check_running())
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let transitions = |host, router| summary(host, router)[0].2;
    let (r1_before, r2_before) = (transitions(&lab.r1, &r1), transitions(&lab.r2, &r2));

    const RELOADS: u64 = 10;
    let mut fastest = Duration::MAX;
    for _ in 0..RELOADS {
        let started = Instant::now();
        let reply = reload(&lab.r1, &r1);
        fastest = fastest.min(started.elapsed());
        assert!(reply.contains("1 instances kept (0 changed)"), "{reply}");
    }
    std::thread::sleep(Duration::from_millis(200));
    let takeovers = (transitions(&lab.r2, &r2) - r2_before) / 2;
    println!(
        "{RELOADS} reloads, fastest round trip {:.1} ms; backup takeovers: {takeovers}",
        fastest.as_secs_f64() * 1e3
    );
    // The property means something only if one read outlasts Master_Down_Interval: reading
    // on the loop, the backup took over at every one of the reloads (10 of 10, every run).
    assert!(fastest > Duration::from_millis(80), "{fastest:?}");
    // None is expected. On a starved machine (load 9 on 2 cores) the backup's own timer was
    // seen firing 150 ms late without any reload involved: one stray takeover is tolerated.
    assert!(
        takeovers <= 1,
        "{takeovers} takeovers in {RELOADS} reloads (r2 log:\n{})",
        r2.log_tail(20)
    );
    assert_eq!(transitions(&lab.r1, &r1) - r1_before, 2 * takeovers);
    assert_eq!(summary(&lab.r1, &r1)[0].1, "MASTER");
    assert_eq!(lab.holders(vip).unwrap(), ["r1"]);
    r1.check_running().unwrap();
    r2.check_running().unwrap();
}
