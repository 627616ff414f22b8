//! Notifications from the running daemon, on netlab's LAN (VRRPv3 at 100 ms): every notify
//! kind with its arguments and in order per instance (a slow `notify_master` is not overtaken),
//! `notify_fifo` lines and its reader script, `notify_stop` waited for with a bound, sync groups
//! across two interfaces with their group scripts and trackers, and the FIFO lines of a whole
//! scenario byte-compared with keepalived 2.2.7's.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use netlab::lab::{Host, IFACE, Lab};
use netlab::router::{Daemon, Router};
use netlab::{
    FifoReader, PacketSocket, TempDir, lines_of, processes_running, wait_until, write_script,
};
use xvrrpd::protocol::{Advert, Auth, FrameSpec, Priority, Version, Vrid, build_frame};

/// Generous against Master_Down_Interval (~0.36 s) and a debug build's start-up.
const SETTLE: Duration = Duration::from_secs(8);

fn vip() -> IpAddr {
    "192.0.2.100".parse().unwrap()
}

fn logs(routers: &[&Router]) -> String {
    routers
        .iter()
        .map(|r| {
            let log = r.log();
            let lines: Vec<&str> = log.lines().filter(|l| !l.contains("DEBUG")).collect();
            lines[lines.len().saturating_sub(60)..].join("\n")
        })
        .collect::<Vec<_>>()
        .join("\n=====\n")
}

/// A VRRPv3 advert for `vrid` from the client, as a lower-priority master would send it.
fn lower_advert(lab: &Lab, vrid: u8, vips: &[IpAddr]) -> Vec<u8> {
    let advert = Advert {
        version: Version::V3,
        vrid: Vrid(vrid),
        priority: Priority(50),
        interval: Duration::from_millis(100),
        auth: Auth::None,
        addresses: vips.to_vec(),
    };
    let spec = FrameSpec {
        dst_mac: Some([0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]),
        ..FrameSpec::multicast(IpAddr::V4(lab.client.ipv4()), advert)
    };
    build_frame(&spec).expect("one family")
}

fn wait_for_line(path: &std::path::Path, what: &str, timeout: Duration) -> Vec<String> {
    wait_until(timeout, || lines_of(path).iter().any(|l| l.contains(what)));
    lines_of(path)
}

fn position(lines: &[String], what: &str) -> usize {
    lines
        .iter()
        .position(|l| l == what)
        .unwrap_or_else(|| panic!("no line {what:?} in {lines:#?}"))
}

/// Every notify kind of one instance, with the FIFO and its reader script: BACKUP at start,
/// MASTER, a FAULT from a weight-0 track_file while a slow notify_master still runs (its FAULT
/// scripts must wait for it), BACKUP and MASTER again, a lower-priority advert, SIGTERM.
#[test]
fn every_notify_kind_in_order_with_its_arguments_and_the_fifo() {
    let lab = Lab::new("ntfy").unwrap();
    let dir = TempDir::new("notify").unwrap();
    let d = dir.path().display().to_string();
    write_script(
        &dir,
        "notify.sh",
        &format!(
            "echo \"$*\" >> {d}/notify.log\n\
             if [ \"$1\" = master ] && [ ! -e {d}/slow-done ]; then sleep 1; touch {d}/slow-done; echo 'master done' >> {d}/notify.log; fi\n"
        ),
    );
    write_script(&dir, "reader.sh", "exec cat \"$2\" >> \"$1\"\n");
    std::fs::write(dir.path().join("fault"), "0\n").unwrap();
    let config = format!(
        "global_defs {{\n enable_script_security\n script_user root\n notify_fifo {d}/fifo\n \
         notify_fifo_script \"{d}/reader.sh {d}/fifo.out\"\n}}\n\
         track_file fault {{\n file {d}/fault\n weight 0\n}}\n\
         vrrp_instance VI_1 {{\n interface {IFACE}\n virtual_router_id 51\n priority 100\n \
         version 3\n advert_int 0.1\n virtual_ipaddress {{\n  192.0.2.100/24\n }}\n \
         track_file {{\n  fault\n }}\n \
         notify_master \"{d}/notify.sh master\"\n notify_backup \"{d}/notify.sh backup\"\n \
         notify_fault \"{d}/notify.sh fault\"\n notify_stop \"{d}/notify.sh stop\"\n \
         notify {d}/notify.sh\n notify_master_rx_lower_pri \"{d}/notify.sh rx_lower\"\n}}\n"
    );
    let log = dir.path().join("notify.log");
    let mut r1 = Router::start(Daemon::Xvrrpd, lab.r1.netns(), &config).unwrap();

    // notify_master is still sleeping when the FAULT comes.
    let lines = wait_for_line(&log, "master", SETTLE);
    assert!(
        lines.contains(&"master".to_owned()),
        "{lines:?}\n{}",
        r1.log_tail(40)
    );
    std::fs::write(dir.path().join("fault"), "1\n").unwrap();
    let lines = wait_for_line(&log, "INSTANCE VI_1 FAULT 100", SETTLE);
    assert!(
        position(&lines, "master done") < position(&lines, "fault"),
        "the FAULT scripts started before notify_master finished: {lines:#?}"
    );
    std::fs::write(dir.path().join("fault"), "0\n").unwrap();
    wait_until(SETTLE, || {
        lines_of(&log).iter().filter(|l| *l == "master").count() == 2
    });
    lab.wait_for_holders(vip(), &["r1"], SETTLE, || r1.check_running())
        .unwrap_or_else(|e| panic!("{e:#}\n{}", r1.log_tail(40)));
    let socket = PacketSocket::open(lab.client.netns(), IFACE).unwrap();
    socket.send(&lower_advert(&lab, 51, &[vip()])).unwrap();
    wait_for_line(&log, "rx_lower", SETTLE);
    let exit = r1.terminate(Duration::from_secs(5)).unwrap();
    assert!(exit.status.success(), "{exit:?}");

    let lines = lines_of(&log);
    // Each notification's two scripts (notify_<state> and the generic one) run together; the
    // notifications run one after the other.
    let expected = [
        ("backup", "INSTANCE VI_1 BACKUP 100"),
        ("master", "INSTANCE VI_1 MASTER 100"),
        ("fault", "INSTANCE VI_1 FAULT 100"),
        ("backup", "INSTANCE VI_1 BACKUP 100"),
        ("master", "INSTANCE VI_1 MASTER 100"),
    ];
    let mut from = 0;
    for (specific, generic) in expected {
        let a = from + position(&lines[from..], specific);
        let b = from + position(&lines[from..], generic);
        from = a.max(b) + 1;
    }
    let rx = position(&lines, "rx_lower");
    assert!(rx >= from - 1, "{lines:#?}");
    assert!(position(&lines, "stop") > rx && position(&lines, "INSTANCE VI_1 STOP 100") > rx);
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("INSTANCE")).count(),
        6,
        "the generic script runs once per state change: {lines:#?}"
    );

    // The FIFO script got the FIFO's path as its last argument and read every line, STOP too.
    let fifo = lines_of(&dir.path().join("fifo.out"));
    assert_eq!(
        fifo,
        [
            "INSTANCE \"VI_1\" BACKUP 100",
            "INSTANCE \"VI_1\" MASTER 100",
            "INSTANCE \"VI_1\" FAULT 100",
            "INSTANCE \"VI_1\" BACKUP 100",
            "INSTANCE \"VI_1\" MASTER 100",
            "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 100",
            "INSTANCE \"VI_1\" STOP 100",
        ],
        "{}",
        r1.log_tail(60)
    );
    assert!(
        !dir.path().join("fifo").exists(),
        "the FIFO the daemon created is removed"
    );
}

/// notify_stop is waited for, but not forever: a stop script sleeping 10 minutes is
/// terminated with its group after a second and the daemon exits.
#[test]
fn notify_stop_is_waited_for_with_a_bound() {
    let lab = Lab::new("nstop").unwrap();
    let dir = TempDir::new("nstop").unwrap();
    let d = dir.path().display().to_string();
    let nap = format!("600.{}", std::process::id());
    write_script(
        &dir,
        "stop.sh",
        &format!("echo started >> {d}/stop.log\nsleep {nap}\necho finished >> {d}/stop.log\n"),
    );
    let config = format!(
        "vrrp_instance VI_1 {{\n interface {IFACE}\n virtual_router_id 51\n priority 100\n \
         version 3\n advert_int 0.1\n virtual_ipaddress {{\n  192.0.2.100/24\n }}\n \
         notify_stop {d}/stop.sh\n}}\n"
    );
    let mut r1 = Router::start(Daemon::Xvrrpd, lab.r1.netns(), &config).unwrap();
    lab.wait_for_holders(vip(), &["r1"], SETTLE, || r1.check_running())
        .unwrap_or_else(|e| panic!("{e:#}\n{}", r1.log_tail(40)));
    let exit = r1.terminate(Duration::from_secs(10)).unwrap();
    assert!(exit.status.success());
    println!(
        "exit after SIGTERM with a hanging notify_stop: {:?}",
        exit.after
    );
    assert!(
        exit.after >= Duration::from_millis(900),
        "the stop script was not given its second: {:?}",
        exit.after
    );
    assert!(exit.after < Duration::from_secs(5), "{:?}", exit.after);
    let log = lines_of(&dir.path().join("stop.log"));
    assert_eq!(log, ["started"], "{}", r1.log_tail(30));
    assert_eq!(
        processes_running(&["sleep", &nap]),
        0,
        "the stop script's child survived"
    );
}

/// Addresses on `iface` of a router.
fn holds_on(host: &Host, iface: &str, address: &str) -> bool {
    let output = host
        .netns()
        .ip(&["-j", "addr", "show", "dev", iface])
        .expect("ip addr");
    String::from_utf8_lossy(&output.stdout).contains(&format!("\"{address}\""))
}

/// A sync group whose members live on two interfaces: one interface failing moves both, the
/// group's scripts run with GROUP arguments, and a tracker of the group moves it as a whole.
#[test]
fn sync_group_across_two_interfaces_with_group_notifies_and_trackers() {
    let lab = Lab::new("sync").unwrap();
    lab.add_lan("br1", "eth1", "198.51.100").unwrap();
    let dirs = [
        TempDir::new("sync1").unwrap(),
        TempDir::new("sync2").unwrap(),
    ];
    let config = |dir: &TempDir, priority: u8| {
        let d = dir.path().display().to_string();
        write_script(dir, "group.sh", &format!("echo \"$*\" >> {d}/group.log\n"));
        std::fs::write(dir.path().join("gfile"), "0\n").unwrap();
        format!(
            "track_file gfile {{\n file {d}/gfile\n weight 0\n}}\n\
             vrrp_sync_group G {{\n group {{\n  VI_A\n  VI_B\n }}\n \
             notify_master \"{d}/group.sh master\"\n notify_backup \"{d}/group.sh backup\"\n \
             notify_fault \"{d}/group.sh fault\"\n notify {d}/group.sh\n \
             track_file {{\n  gfile\n }}\n}}\n\
             vrrp_instance VI_A {{\n interface eth0\n virtual_router_id 61\n priority {priority}\n \
             version 3\n advert_int 0.1\n virtual_ipaddress {{\n  192.0.2.100/24\n }}\n}}\n\
             vrrp_instance VI_B {{\n interface eth1\n virtual_router_id 62\n priority {priority}\n \
             version 3\n advert_int 0.1\n virtual_ipaddress {{\n  198.51.100.100/24\n }}\n}}\n"
        )
    };
    // r1 first, so that r2 never is master before r1 is up (a start-up race, not the subject).
    let mut r1 = Router::start(Daemon::Xvrrpd, lab.r1.netns(), &config(&dirs[0], 150)).unwrap();
    lab.wait_for_holders(vip(), &["r1"], SETTLE, || r1.check_running())
        .unwrap_or_else(|e| panic!("{e:#}\n{}", r1.log_tail(40)));
    let mut r2 = Router::start(Daemon::Xvrrpd, lab.r2.netns(), &config(&dirs[1], 100)).unwrap();
    let both_on = |host: &Host| {
        holds_on(host, "eth0", "192.0.2.100") && holds_on(host, "eth1", "198.51.100.100")
    };
    let none_on = |host: &Host| {
        !holds_on(host, "eth0", "192.0.2.100") && !holds_on(host, "eth1", "198.51.100.100")
    };
    let settle = |want: &Host, other: &Host, r1: &mut Router, r2: &mut Router, what: &str| {
        let ok = wait_until(SETTLE, || {
            r1.is_running() && r2.is_running() && both_on(want) && none_on(other)
        });
        assert!(
            ok,
            "{what}: both addresses should be on {}\n{}",
            want.name(),
            logs(&[r1, r2])
        );
    };
    settle(&lab.r1, &lab.r2, &mut r1, &mut r2, "start");

    // eth1 fails on r1: VI_B faults, and its group takes VI_A (on eth0) along.
    lab.r1.netns().ip(&["link", "set", "eth1", "down"]).unwrap();
    settle(&lab.r2, &lab.r1, &mut r1, &mut r2, "eth1 down on r1");
    lab.r1.netns().ip(&["link", "set", "eth1", "up"]).unwrap();
    lab.r1.netns().addr("eth1", "198.51.100.1/24").ok();
    settle(&lab.r1, &lab.r2, &mut r1, &mut r2, "eth1 back");

    // The group's own tracker.
    std::fs::write(dirs[0].path().join("gfile"), "1\n").unwrap();
    settle(
        &lab.r2,
        &lab.r1,
        &mut r1,
        &mut r2,
        "group track_file faulted",
    );
    std::fs::write(dirs[0].path().join("gfile"), "0\n").unwrap();
    settle(
        &lab.r1,
        &lab.r2,
        &mut r1,
        &mut r2,
        "group track_file recovered",
    );
    // The backup first: the master stopping would hand the group to it once more.
    r2.terminate(Duration::from_secs(5)).unwrap();
    r1.terminate(Duration::from_secs(5)).unwrap();

    let r1_log = lines_of(&dirs[0].path().join("group.log"));
    let generic: Vec<&String> = r1_log.iter().filter(|l| l.starts_with("GROUP")).collect();
    assert_eq!(
        generic,
        [
            "GROUP G BACKUP 0",
            "GROUP G MASTER 0",
            "GROUP G FAULT 0",
            "GROUP G BACKUP 0",
            "GROUP G MASTER 0",
            "GROUP G FAULT 0",
            "GROUP G BACKUP 0",
            "GROUP G MASTER 0",
            "GROUP G STOP 0",
        ],
        "{r1_log:#?}\n{}",
        logs(&[&r1, &r2])
    );
    let specific: Vec<&String> = r1_log.iter().filter(|l| !l.starts_with("GROUP")).collect();
    assert_eq!(
        specific,
        [
            "backup", "master", "fault", "backup", "master", "fault", "backup", "master"
        ],
        "notify_<state> runs once per group change (no notify_stop configured): {r1_log:#?}"
    );
    let r2_log = lines_of(&dirs[1].path().join("group.log"));
    assert!(
        r2_log.iter().filter(|l| *l == "GROUP G MASTER 0").count() == 2,
        "r2's group became master twice: {r2_log:#?}\n{}",
        logs(&[&r1, &r2])
    );
}

/// One scenario, run with keepalived 2.2.7 and then with xvrrpd on the same LAN: the FIFO
/// lines must be the same bytes, per instance and group in the same order (lines of different
/// instances changing at the same moment may interleave differently).
#[test]
fn fifo_lines_match_keepalived_byte_for_byte() {
    let lab = Lab::new("fifo").unwrap();
    let mut streams = BTreeMap::new();
    for daemon in [Daemon::Keepalived, Daemon::Xvrrpd] {
        let dir = TempDir::new("fifocmp").unwrap();
        let d = dir.path().display().to_string();
        for file in ["tf", "tfault", "tg"] {
            std::fs::write(dir.path().join(file), "0\n").unwrap();
        }
        let config = format!(
            "global_defs {{\n notify_fifo {d}/fifo\n vrrp_notify_priority_changes\n}}\n\
             track_file tf {{\n file {d}/tf\n weight 10\n}}\n\
             track_file tfault {{\n file {d}/tfault\n weight 0\n}}\n\
             track_file tg {{\n file {d}/tg\n weight 0\n}}\n\
             vrrp_sync_group G {{\n group {{\n  VI_2\n  VI_3\n }}\n track_file {{\n  tg\n }}\n}}\n\
             vrrp_instance VI_1 {{\n interface {IFACE}\n virtual_router_id 51\n priority 100\n \
             version 3\n advert_int 0.1\n virtual_ipaddress {{\n  192.0.2.100/24\n }}\n \
             track_file {{\n  tf\n  tfault\n }}\n}}\n\
             vrrp_instance VI_2 {{\n interface {IFACE}\n virtual_router_id 52\n priority 100\n \
             version 3\n advert_int 0.1\n virtual_ipaddress {{\n  192.0.2.101/24\n }}\n}}\n\
             vrrp_instance VI_3 {{\n interface {IFACE}\n virtual_router_id 53\n priority 100\n \
             version 3\n advert_int 0.1\n virtual_ipaddress {{\n  192.0.2.102/24\n }}\n}}\n"
        );
        let fifo = FifoReader::create(&dir.path().join("fifo")).unwrap();
        let mut router = Router::start(daemon, lab.r1.netns(), &config).unwrap();
        let seen = |text: &str| {
            let text = text.to_owned();
            let fifo = &fifo;
            move || fifo.lines().iter().any(|l| l.contains(&text))
        };
        let count = |text: &str| fifo.lines().iter().filter(|l| l.contains(text)).count();
        let step = |what: &str, ok: bool, router: &Router| {
            assert!(
                ok,
                "{daemon}: {what}\n{:#?}\n{}",
                fifo.lines(),
                router.log_tail(40)
            );
        };
        step(
            "masters",
            wait_until(SETTLE, || count("MASTER ") >= 4),
            &router,
        );
        std::fs::write(dir.path().join("tf"), "3\n").unwrap();
        step(
            "priority",
            wait_until(SETTLE, seen("MASTER_PRIORITY 130")),
            &router,
        );
        let socket = PacketSocket::open(lab.client.netns(), IFACE).unwrap();
        socket
            .send(&lower_advert(&lab, 51, &["192.0.2.100".parse().unwrap()]))
            .unwrap();
        step(
            "lower",
            wait_until(SETTLE, seen("MASTER_RX_LOWER_PRI")),
            &router,
        );
        std::fs::write(dir.path().join("tfault"), "1\n").unwrap();
        step("fault", wait_until(SETTLE, seen("\"VI_1\" FAULT")), &router);
        std::fs::write(dir.path().join("tfault"), "0\n").unwrap();
        step(
            "VI_1 back",
            wait_until(SETTLE, || count("\"VI_1\" MASTER ") == 2),
            &router,
        );
        // A weighted file reaching -254: keepalived keeps the old priority in the FAULT line
        // and sets the new one silently when the file comes back.
        std::fs::write(dir.path().join("tf"), "-30\n").unwrap();
        step(
            "file fault",
            wait_until(SETTLE, || count("\"VI_1\" FAULT") == 2),
            &router,
        );
        std::fs::write(dir.path().join("tf"), "0\n").unwrap();
        step(
            "file back",
            wait_until(SETTLE, || count("\"VI_1\" MASTER ") == 3),
            &router,
        );
        std::fs::write(dir.path().join("tg"), "1\n").unwrap();
        step(
            "group fault",
            wait_until(SETTLE, seen("GROUP \"G\" FAULT")),
            &router,
        );
        std::fs::write(dir.path().join("tg"), "0\n").unwrap();
        step(
            "group back",
            wait_until(SETTLE, || count("GROUP \"G\" MASTER") == 2),
            &router,
        );
        let exit = router.terminate(Duration::from_secs(5)).unwrap();
        assert!(exit.status.success(), "{daemon}: {exit:?}");
        wait_until(Duration::from_secs(2), || count("GROUP \"G\" STOP") == 1);
        streams.insert(daemon.name(), fifo.lines());
    }
    let keepalived = &streams["keepalived"];
    let xvrrpd = &streams["xvrrpd"];
    println!("keepalived's FIFO:\n{}", keepalived.concat());
    println!("xvrrpd's FIFO:\n{}", xvrrpd.concat());
    let by_name = |lines: &Vec<String>| {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in lines {
            let name = line.split('"').nth(1).unwrap_or_default().to_owned();
            map.entry(name).or_default().push(line.clone());
        }
        map
    };
    assert_eq!(
        by_name(xvrrpd),
        by_name(keepalived),
        "per instance and group, xvrrpd's FIFO lines differ from keepalived's"
    );
    let mut a = xvrrpd.clone();
    let mut b = keepalived.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[test]
fn instances_removed_by_a_reload_notify_as_keepalived_does() {
    // keepalived (clear_diff_vrrp): a removed instance reports DELETED with `notify_deleted`,
    // else FAULT (its older way), nothing if it already was in FAULT; never STOP.
    let lab = Lab::new("deleted").unwrap();
    let mut streams = BTreeMap::new();
    for daemon in [Daemon::Keepalived, Daemon::Xvrrpd] {
        let dir = TempDir::new("deleted").unwrap();
        let d = dir.path().display().to_string();
        std::fs::write(dir.path().join("down"), "1\n").unwrap();
        let instance = |name: &str, vrid: u8, extra: &str| {
            format!(
                "vrrp_instance {name} {{\n interface {IFACE}\n virtual_router_id {vrid}\n \
                 priority 100\n version 3\n advert_int 0.1\n virtual_ipaddress {{\n  \
                 192.0.2.{vrid}/24\n }}\n{extra}}}\n"
            )
        };
        let global = format!(
            "global_defs {{\n notify_fifo {d}/fifo\n}}\n\
             track_file down {{\n file {d}/down\n weight 0\n}}\n"
        );
        let before = format!(
            "{global}{}{}{}{}",
            instance("VI_1", 61, " notify_deleted\n"),
            instance("VI_2", 62, ""),
            instance("VI_3", 63, " track_file {\n  down\n }\n"),
            instance("VI_4", 64, ""),
        );
        let after = format!("{global}{}", instance("VI_4", 64, ""));
        let fifo = FifoReader::create(&dir.path().join("fifo")).unwrap();
        let mut router = Router::start(daemon, lab.r1.netns(), &before).unwrap();
        let count = |text: &str| fifo.lines().iter().filter(|l| l.contains(text)).count();
        assert!(
            wait_until(SETTLE, || count("MASTER ") >= 3
                && count("\"VI_3\" FAULT") == 1),
            "{daemon}: {:#?}\n{}",
            fifo.lines(),
            router.log_tail(40)
        );
        std::fs::write(router.config_file(), &after).unwrap();
        let pid = router.pid().expect("running") as i32;
        // SAFETY: a signal to the daemon this test started.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
        assert!(
            wait_until(SETTLE, || count("\"VI_2\" FAULT") == 1
                && count("\"VI_1\" DELETED") == 1),
            "{daemon}: {:#?}\n{}",
            fifo.lines(),
            router.log_tail(40)
        );
        // Whatever else would come has come by now.
        std::thread::sleep(Duration::from_millis(500));
        router.check_running().unwrap();
        streams.insert(daemon.name(), fifo.lines());
        router.terminate(Duration::from_secs(5)).unwrap();
    }
    let keepalived = &streams["keepalived"];
    let xvrrpd = &streams["xvrrpd"];
    println!("keepalived's FIFO:\n{}", keepalived.concat());
    println!("xvrrpd's FIFO:\n{}", xvrrpd.concat());
    // What the reload sent, in order (keepalived orders the start-up lines differently: it
    // reports an instance starting in FAULT first).
    let reload = |lines: &Vec<String>| {
        let first = position(lines, "INSTANCE \"VI_1\" DELETED 100\n")
            .min(position(lines, "INSTANCE \"VI_2\" FAULT 100\n"));
        lines[first..].to_vec()
    };
    assert_eq!(reload(xvrrpd), reload(keepalived));
    let mut a = xvrrpd.clone();
    let mut b = keepalived.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}
