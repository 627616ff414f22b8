//! The daemon's life cycle on a LAN of namespaces (netlab's lab: a switch, r1, r2, a client):
//! kill -9 and restart in either role, a virtual address left by a predecessor, interface down,
//! address removal, an interface deleted and created again, refusals that touch nothing, a
//! second daemon on the same pid file, 50 instances, VMAC interfaces, virtual routes and
//! rules. VRRPv3 at 100 ms keeps every wait short.

use std::net::IpAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use netlab::lab::{Host, IFACE, Lab};
use netlab::router::{Daemon, Router};
use netlab::{PinDir, Process, TempDir, run, xvrrpd_bin};
use serde_json::Value;

const VIP: &str = "192.0.2.100";
/// Generous against Master_Down_Interval (~0.36 s) and a debug build's start-up.
const SETTLE: Duration = Duration::from_secs(5);

fn vip() -> IpAddr {
    VIP.parse().unwrap()
}

fn instance(name: &str, vrid: u8, priority: u8, vips: &str, extra: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n interface {IFACE}\n virtual_router_id {vrid}\n \
         priority {priority}\n version 3\n advert_int 0.1\n{extra}\n \
         virtual_ipaddress {{\n{vips}\n }}\n}}\n"
    )
}

fn config(priority: u8) -> String {
    instance("VI_1", 51, priority, &format!("  {VIP}/24"), "")
}

fn xvrrpd(host: &Host, config: &str) -> Router {
    xvrrpd_with(host, config, &[])
}

fn xvrrpd_with(host: &Host, config: &str, args: &[&str]) -> Router {
    Router::start_with(Daemon::Xvrrpd, host.netns(), config, args).expect("xvrrpd starts")
}

/// The fallback: master-down timers in userspace.
const USERSPACE_TIMERS: &[&str] = &["--no-kernel-timers"];

/// The daemon ran its backups' master-down timers where `args` asked.
fn assert_timers(router: &Router, args: &[&str]) {
    let log = router.log();
    let expected = if args.contains(&"--no-kernel-timers") {
        "kernel master-down timers off"
    } else {
        "master-down timers run in the kernel"
    };
    assert!(log.contains(expected), "expected {expected:?} in:\n{log}");
}

/// Both routers' logs, for failure messages.
fn logs(routers: &[&Router]) -> String {
    routers
        .iter()
        .map(|r| r.log_tail(40))
        .collect::<Vec<_>>()
        .join("\n=====\n")
}

/// XDP programs attached to `host`'s interface, as `ip -j link` reports them.
fn xdp_programs(host: &Host) -> usize {
    let output = host
        .netns()
        .ip(&["-j", "-d", "link", "show", "dev", IFACE])
        .expect("ip link");
    let link: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    match &link[0]["xdp"] {
        Value::Null => 0,
        xdp if xdp["prog"].is_object() => 1,
        xdp => xdp["attached"].as_array().map_or(0, Vec::len),
    }
}

#[test]
fn kill_9_and_restart_as_master_and_as_backup() {
    kill_9_and_restart(&[]);
}

#[test]
fn kill_9_and_restart_on_userspace_timers() {
    kill_9_and_restart(USERSPACE_TIMERS);
}

fn kill_9_and_restart(args: &[&str]) {
    let lab = Lab::new("kill").unwrap();
    let mut r1 = xvrrpd_with(&lab.r1, &config(150), args);
    let mut r2 = xvrrpd_with(&lab.r2, &config(100), args);
    lab.wait_for_holders(vip(), &["r1"], SETTLE, || Ok(()))
        .unwrap_or_else(|e| panic!("{e:#}\n{}", logs(&[&r1, &r2])));

    // The master dies: its VIP stays on its interface (nothing is left to remove it) and the
    // backup takes over.
    r1.kill().unwrap();
    lab.wait_for_holder(vip(), "r2", SETTLE, || Ok(())).unwrap();
    assert_eq!(
        xdp_programs(&lab.r1),
        1,
        "the pinned link keeps the program"
    );

    // It comes back: the stale VIP goes at once, the program is swapped into the same link
    // (not stacked), and it preempts after Master_Down_Interval.
    r1.restart().unwrap();
    lab.wait_for_holders(vip(), &["r1"], SETTLE, || r1.check_running())
        .unwrap_or_else(|e| panic!("{e:#}\n{}", logs(&[&r1, &r2])));
    assert_eq!(xdp_programs(&lab.r1), 1, "one program, not two");
    let log = r1.log();
    assert!(
        log.contains("already present at startup"),
        "the stale VIP is removed and logged:\n{log}"
    );
    let links: Vec<_> = std::fs::read_dir(r1.pin_dir().join("links"))
        .unwrap()
        .collect();
    assert_eq!(links.len(), 1, "one link pin, no stale one");

    // The backup dies and comes back: it stays backup, the master never moves.
    r2.kill().unwrap();
    r2.restart().unwrap();
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_millis(1500) {
        assert_eq!(lab.holders(vip()).unwrap(), ["r1"], "{}", logs(&[&r1, &r2]));
        std::thread::sleep(Duration::from_millis(50));
    }
    r2.check_running().unwrap();
    let master_log = r1.log();
    let second_run = master_log.split("--- run 2 ---").nth(1).unwrap();
    assert!(
        !second_run.contains("MASTER -> BACKUP"),
        "the master must not flap while the backup restarts:\n{second_run}"
    );
    assert_timers(&r2, args);
}

#[test]
fn a_virtual_address_left_by_a_predecessor_is_removed_at_startup() {
    let lab = Lab::new("stale").unwrap();
    let r2 = xvrrpd(&lab.r2, &config(150));
    lab.wait_for_holders(vip(), &["r2"], SETTLE, || Ok(()))
        .unwrap();
    lab.r1.netns().addr(IFACE, &format!("{VIP}/24")).unwrap();
    let mut r1 = xvrrpd(&lab.r1, &config(100));
    lab.wait_for_holders(vip(), &["r2"], SETTLE, || r1.check_running())
        .unwrap_or_else(|e| panic!("{e:#}\n{}", logs(&[&r1, &r2])));
    assert!(r1.log().contains("already present at startup"));
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        lab.holders(vip()).unwrap(),
        ["r2"],
        "the backup stays backup"
    );
}

#[test]
fn interface_down_address_removed_and_interface_recreated() {
    let lab = Lab::new("iface").unwrap();
    let mut r1 = xvrrpd(&lab.r1, &config(150));
    let r2 = xvrrpd(&lab.r2, &config(100));
    let settle = |lab: &Lab, who: &str, r1: &mut Router, r2: &Router| {
        lab.wait_for_holders(vip(), &[who], SETTLE, || r1.check_running())
            .unwrap_or_else(|e| panic!("{e:#}\n{}", logs(&[r1, r2])));
    };
    settle(&lab, "r1", &mut r1, &r2);

    // Link down: FAULT, the VIP goes to r2; link up: BACKUP, then preemption.
    lab.link_down(&lab.r1).unwrap();
    settle(&lab, "r2", &mut r1, &r2);
    lab.link_up(&lab.r1).unwrap();
    settle(&lab, "r1", &mut r1, &r2);

    // The address adverts are sent from disappears: FAULT (nothing to send from); it comes
    // back: recovery.
    let own = format!("{}/24", lab.r1.ipv4());
    lab.r1
        .netns()
        .ip(&["addr", "del", &own, "dev", IFACE])
        .unwrap();
    settle(&lab, "r2", &mut r1, &r2);
    lab.r1.netns().addr(IFACE, &own).unwrap();
    settle(&lab, "r1", &mut r1, &r2);

    // The interface is deleted and created again (new index): FAULT, then the receive path
    // is attached to the new interface and r1 preempts again.
    lab.replug(&lab.r1).unwrap();
    settle(&lab, "r1", &mut r1, &r2);
    assert_eq!(xdp_programs(&lab.r1), 1, "attached to the new interface");

    let log = r1.log();
    for line in [
        "MASTER -> FAULT (eth0 is down",
        "FAULT -> BACKUP",
        "has no address to send from",
        "interface re-created",
    ] {
        assert!(log.contains(line), "r1's log lacks {line:?}:\n{log}");
    }
}

/// Runs xvrrpd on `config` in `host`'s namespace and waits for it to exit by itself.
fn refused(host: &Host, config: &str) -> (i32, String) {
    let dir = TempDir::new("refuse").unwrap();
    let conf = dir.write("keepalived.conf", config);
    let pins = PinDir::new("refuse");
    let mut process = Process::spawn(
        "xvrrpd",
        host.netns()
            .enter(xvrrpd_bin())
            .args(["-n", "-l", "-f"])
            .arg(&conf)
            .arg("-p")
            .arg(dir.path().join("x.pid"))
            .arg("--bpffs")
            .arg(pins.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .unwrap();
    let output = process
        .wait_timeout(Duration::from_secs(10))
        .expect("xvrrpd must exit by itself");
    assert!(!pins.path().exists(), "nothing pinned");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn configurations_that_cannot_run_are_refused_without_touching_the_network() {
    let lab = Lab::new("refuse").unwrap();
    let before = lab.r1.addresses().unwrap();

    let (code, log) = refused(
        &lab.r1,
        "vrrp_instance VI_1 {\n interface eth9\n virtual_router_id 51\n \
         virtual_ipaddress {\n 192.0.2.100/24\n }\n}\n",
    );
    assert_eq!(code, 2, "keepalived's EXIT_CONFIG:\n{log}");
    assert!(log.contains("eth9"), "{log}");

    let (code, log) = refused(&lab.r1, "global_defs {\n router_id nothing\n}\n");
    assert_eq!(
        code, 6,
        "nothing to run is keepalived's EXIT_NO_CONFIG:\n{log}"
    );

    let (code, log) = refused(
        &lab.r1,
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n \
         authentication {\n auth_type AH\n auth_pass x\n }\n \
         virtual_ipaddress {\n 192.0.2.100/24\n }\n}\n",
    );
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("AH"), "{log}");

    assert_eq!(xdp_programs(&lab.r1), 0, "no program attached");
    assert_eq!(lab.r1.addresses().unwrap(), before, "no address touched");
}

#[test]
fn a_second_daemon_on_the_same_pid_file_is_refused() {
    let lab = Lab::new("pid").unwrap();
    let mut first = xvrrpd(&lab.r1, &config(150));
    lab.wait_for_holders(vip(), &["r1"], SETTLE, || first.check_running())
        .unwrap();
    let pins = PinDir::new("second");
    let output = run_to_exit(
        lab.r1
            .netns()
            .enter(xvrrpd_bin())
            .args(["-n", "-l", "-f"])
            .arg(first.config_file())
            .arg("-p")
            .arg(first.pid_file())
            .arg("--bpffs")
            .arg(pins.path()),
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("another xvrrpd"), "{stderr}");
    first.check_running().unwrap();
    assert_eq!(lab.holders(vip()).unwrap(), ["r1"]);
}

fn run_to_exit(command: &mut std::process::Command) -> std::process::Output {
    let mut process = Process::spawn(
        "xvrrpd",
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .unwrap();
    process
        .wait_timeout(Duration::from_secs(10))
        .expect("exits by itself")
}

#[test]
fn fifty_instances_elect_and_fail_over_together() {
    fifty_instances(&[]);
}

#[test]
fn fifty_instances_on_userspace_timers() {
    fifty_instances(USERSPACE_TIMERS);
}

fn fifty_instances(args: &[&str]) {
    let lab = Lab::new("fifty").unwrap();
    let many = |priority: u8| {
        (1..=50u8)
            .map(|vrid| {
                instance(
                    &format!("VI_{vrid}"),
                    vrid,
                    priority,
                    &format!("  10.50.0.{vrid}/32"),
                    "",
                )
            })
            .collect::<String>()
    };
    let vips: Vec<IpAddr> = (1..=50u8)
        .map(|vrid| IpAddr::from([10, 50, 0, vrid]))
        .collect();
    let mut r1 = xvrrpd_with(&lab.r1, &many(150), args);
    let r2 = xvrrpd_with(&lab.r2, &many(100), args);
    let all_on = |host: &Host, others: &Host| {
        let mine = host.addresses().unwrap();
        let theirs = others.addresses().unwrap();
        vips.iter().all(|v| mine.contains(v) && !theirs.contains(v))
    };
    let wait = |what: &str, done: &dyn Fn() -> bool, r1: &mut Router| {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < SETTLE, "{what}\n{}", logs(&[r1, &r2]));
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait(
        "r1 holds all 50 VIPs",
        &|| all_on(&lab.r1, &lab.r2),
        &mut r1,
    );
    lab.link_down(&lab.r1).unwrap();
    wait(
        "r2 holds all 50 VIPs after r1's link went down",
        &|| {
            lab.r2
                .addresses()
                .unwrap()
                .iter()
                .filter(|a| vips.contains(a))
                .count()
                == 50
        },
        &mut r1,
    );
    lab.link_up(&lab.r1).unwrap();
    wait(
        "r1 takes all 50 back",
        &|| all_on(&lab.r1, &lab.r2),
        &mut r1,
    );
    r1.check_running().unwrap();
    assert_timers(&r2, args);
}

#[test]
fn use_vmac_creates_the_macvlan_and_removes_it_on_stop() {
    let lab = Lab::new("vmac").unwrap();
    let config = instance("VI_1", 51, 150, &format!("  {VIP}/24"), " use_vmac");
    let mut r1 = xvrrpd(&lab.r1, &config);
    let vmac_holds = || {
        lab.r1
            .netns()
            .ip(&["-br", "addr", "show", "dev", "vrrp.51"])
            .map(|o| String::from_utf8_lossy(&o.stdout).contains(VIP))
            .unwrap_or(false)
    };
    let start = Instant::now();
    while !vmac_holds() {
        assert!(start.elapsed() < SETTLE, "{}", r1.log_tail(40));
        std::thread::sleep(Duration::from_millis(50));
    }
    let link = run(lab
        .r1
        .netns()
        .exec("ip")
        .args(["-j", "-d", "link", "show", "dev", "vrrp.51"]))
    .unwrap();
    let link: Value = serde_json::from_slice(&link.stdout).unwrap();
    assert_eq!(
        link[0]["address"], "00:00:5e:00:01:33",
        "the VRRP MAC of VRID 51"
    );
    assert_eq!(link[0]["linkinfo"]["info_kind"], "macvlan");
    let exit = r1.terminate(Duration::from_secs(2)).unwrap();
    assert!(exit.status.success());
    assert!(
        lab.r1
            .netns()
            .ip(&["link", "show", "dev", "vrrp.51"])
            .is_err(),
        "the macvlan is removed on stop"
    );
}

#[test]
fn virtual_routes_and_rules_follow_the_master() {
    let lab = Lab::new("routes").unwrap();
    let extra = " virtual_routes {\n  203.0.113.0/24 via 192.0.2.10\n }\n \
                 virtual_rules {\n  from 192.0.2.100 table 100\n }";
    let config = |priority| instance("VI_1", 51, priority, &format!("  {VIP}/24"), extra);
    let mut r1 = xvrrpd(&lab.r1, &config(150));
    let mut r2 = xvrrpd(&lab.r2, &config(100));
    let has = |host: &Host| {
        let routes = run(host.netns().exec("ip").args(["route", "show"])).unwrap();
        let rules = run(host.netns().exec("ip").args(["rule", "show"])).unwrap();
        (
            String::from_utf8_lossy(&routes.stdout).contains("203.0.113.0/24 via 192.0.2.10"),
            String::from_utf8_lossy(&rules.stdout).contains("from 192.0.2.100 lookup 100"),
        )
    };
    lab.wait_for_holders(vip(), &["r1"], SETTLE, || r1.check_running())
        .unwrap();
    assert_eq!(has(&lab.r1), (true, true), "{}", r1.log_tail(30));
    assert_eq!(has(&lab.r2), (false, false));
    let exit = r1.terminate(Duration::from_secs(2)).unwrap();
    assert!(
        exit.status.success() && exit.after < Duration::from_secs(1),
        "{exit:?}"
    );
    assert_eq!(xdp_programs(&lab.r1), 0, "detached on stop");
    assert!(!r1.pin_dir().exists(), "pins removed on stop");
    lab.wait_for_holders(vip(), &["r2"], SETTLE, || r2.check_running())
        .unwrap();
    assert_eq!(has(&lab.r2), (true, true), "{}", r2.log_tail(30));
    assert_eq!(has(&lab.r1), (false, false), "removed on stop");
}

#[test]
fn missing_capabilities_are_named() {
    let lab = Lab::new("caps").unwrap();
    let dir = TempDir::new("caps").unwrap();
    let conf = dir.write("keepalived.conf", &config(150));
    // Root without CAP_NET_RAW and CAP_BPF/CAP_SYS_ADMIN in its bounding set: they are not in
    // the effective set after exec.
    let output = run_to_exit(
        lab.r1
            .netns()
            .enter("setpriv")
            .args(["--bounding-set", "-net_raw,-bpf,-sys_admin", "--"])
            .arg(xvrrpd_bin())
            .args(["-n", "-l", "-f"])
            .arg(&conf)
            .arg("-p")
            .arg(dir.path().join("x.pid")),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("CAP_NET_RAW") && stderr.contains("CAP_BPF"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("CAP_NET_ADMIN"),
        "it has that one: {stderr}"
    );
    assert_eq!(xdp_programs(&lab.r1), 0);
}

/// `chrt -p` of the daemon's main thread: (policy line, priority line).
fn scheduling(router: &Router) -> String {
    let output = run(std::process::Command::new("chrt")
        .arg("-p")
        .arg(router.pid().unwrap().to_string()))
    .unwrap();
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_protocol_loop_runs_at_real_time_priority_unless_configured_otherwise() {
    let lab = Lab::new("sched").unwrap();
    let mut r1 = xvrrpd(&lab.r1, &config(150));
    lab.wait_for_holders(vip(), &["r1"], SETTLE, || r1.check_running())
        .unwrap();
    let default = scheduling(&r1);
    assert!(
        default.contains("SCHED_RR|SCHED_RESET_ON_FORK"),
        "{default}"
    );
    assert!(default.contains("priority: 1\n"), "{default}");
    // Scripts and the reload's file reader run as ordinary threads and processes.
    let threads: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", r1.pid().unwrap()))
        .unwrap()
        .map(|t| t.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|tid| *tid != r1.pid().unwrap().to_string())
        .collect();
    for tid in threads {
        let output = run(std::process::Command::new("chrt").args(["-p", &tid])).unwrap();
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(text.contains("SCHED_OTHER"), "thread {tid}: {text}");
    }
    r1.terminate(Duration::from_secs(5)).unwrap();

    // keepalived's keywords: vrrp_rt_priority, or vrrp_priority (nice) alone.
    let with = |globals: &str| format!("global_defs {{\n {globals}\n}}\n{}", config(150));
    let r1 = xvrrpd(&lab.r1, &with("vrrp_rt_priority 10"));
    lab.wait_for_holders(vip(), &["r1"], SETTLE, || Ok(()))
        .unwrap();
    let rt = scheduling(&r1);
    assert!(
        rt.contains("SCHED_RR") && rt.contains("priority: 10\n"),
        "{rt}"
    );
    drop(r1);
    let r1 = xvrrpd(&lab.r1, &with("vrrp_priority -5"));
    lab.wait_for_holders(vip(), &["r1"], SETTLE, || Ok(()))
        .unwrap();
    let nice = scheduling(&r1);
    assert!(nice.contains("SCHED_OTHER"), "{nice}");
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", r1.pid().unwrap())).unwrap();
    // Field 19 of /proc/PID/stat is the nice value (after the command in parentheses).
    let after_command = stat.rsplit(')').next().unwrap();
    let nice_value: i32 = after_command
        .split_whitespace()
        .nth(16)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(nice_value, -5, "{stat}");
}
