//! Trackers in the running daemon, on netlab's LAN (VRRPv3 at 100 ms): `track_interface`
//! weights and FAULT, `vrrp_track_process` quorum, delay and param_match (process connector),
//! script security refusing and naming what a non-root user could change, and 1,000 check runs
//! (forking, hanging, printing) leaving no process, descriptor or zombie behind.

use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use netlab::lab::{IFACE, Lab};
use netlab::router::{Daemon, Router};
use netlab::{
    FifoReader, Process, TempDir, children_of, lines_of, open_fds, processes_running, wait_until,
    write_script,
};

const SETTLE: Duration = Duration::from_secs(8);

fn vip() -> IpAddr {
    "192.0.2.100".parse().unwrap()
}

fn instance(priority: u8, extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n interface {IFACE}\n virtual_router_id 51\n priority {priority}\n \
         version 3\n advert_int 0.1\n virtual_ipaddress {{\n  192.0.2.100/24\n }}\n{extra}\n}}\n"
    )
}

fn fifo_globals(dir: &TempDir) -> String {
    format!(
        "global_defs {{\n enable_script_security\n script_user root\n notify_fifo {}/fifo\n \
         vrrp_notify_priority_changes\n}}\n",
        dir.path().display()
    )
}

/// Waits for the FIFO's `n`th line to be `line` (without its newline); fails with all lines.
fn expect_line(fifo: &FifoReader, n: usize, line: &str, router: &Router) -> Instant {
    let ok = wait_until(SETTLE, || fifo.lines().len() > n);
    let lines = fifo.lines();
    assert!(
        ok && lines[n].trim_end() == line,
        "line {n} should be {line:?}: {lines:#?}\n{}",
        router.log_tail(40)
    );
    Instant::now()
}

/// A weighted tracked interface moves the priority (and the VIP, against a backup of 100); a
/// weight-0 one puts the instance in FAULT.
#[test]
fn track_interface_weights_and_fault() {
    let lab = Lab::new("trif").unwrap();
    // This kernel has no dummy interfaces: veth pairs whose far ends stay up.
    for name in ["trk0", "trk1"] {
        let peer = format!("{name}p");
        lab.r1
            .netns()
            .ip(&["link", "add", name, "type", "veth", "peer", "name", &peer])
            .unwrap();
        lab.r1.netns().ip(&["link", "set", &peer, "up"]).unwrap();
        lab.r1.netns().ip(&["link", "set", name, "up"]).unwrap();
    }
    let dir = TempDir::new("trif").unwrap();
    let fifo = FifoReader::create(&dir.path().join("fifo")).unwrap();
    let config =
        fifo_globals(&dir) + &instance(150, " track_interface {\n  trk0 weight -60\n  trk1\n }");
    let mut r1 = Router::start(Daemon::Xvrrpd, lab.r1.netns(), &config).unwrap();
    lab.wait_for_holders(vip(), &["r1"], SETTLE, || r1.check_running())
        .unwrap_or_else(|e| panic!("{e:#}\n{}", r1.log_tail(40)));
    let r2 = Router::start(Daemon::Xvrrpd, lab.r2.netns(), &instance(100, "")).unwrap();
    let holders = |who: &str, r1: &mut Router| {
        lab.wait_for_holders(vip(), &[who], SETTLE, || r1.check_running())
            .unwrap_or_else(|e| panic!("{e:#}\n{}\n{}", r1.log_tail(40), r2.log_tail(20)));
    };
    expect_line(&fifo, 0, "INSTANCE \"VI_1\" BACKUP 150", &r1);
    expect_line(&fifo, 1, "INSTANCE \"VI_1\" MASTER 150", &r1);

    lab.r1.netns().ip(&["link", "set", "trk0", "down"]).unwrap();
    expect_line(&fifo, 2, "INSTANCE \"VI_1\" MASTER_PRIORITY 90", &r1);
    holders("r2", &mut r1);
    lab.r1.netns().ip(&["link", "set", "trk0", "up"]).unwrap();
    holders("r1", &mut r1);

    lab.r1.netns().ip(&["link", "set", "trk1", "down"]).unwrap();
    holders("r2", &mut r1);
    lab.r1.netns().ip(&["link", "set", "trk1", "up"]).unwrap();
    holders("r1", &mut r1);
    let lines: Vec<String> = fifo
        .lines()
        .iter()
        .map(|l| l.trim_end().to_owned())
        .collect();
    assert_eq!(
        lines,
        [
            "INSTANCE \"VI_1\" BACKUP 150",
            "INSTANCE \"VI_1\" MASTER 150",
            "INSTANCE \"VI_1\" MASTER_PRIORITY 90",
            "INSTANCE \"VI_1\" BACKUP 90",
            "INSTANCE \"VI_1\" BACKUP_PRIORITY 150",
            "INSTANCE \"VI_1\" MASTER 150",
            "INSTANCE \"VI_1\" FAULT 150",
            "INSTANCE \"VI_1\" BACKUP 150",
            "INSTANCE \"VI_1\" MASTER 150",
        ],
        "{}",
        r1.log_tail(40)
    );
}

fn sleeper(duration: &str) -> Process {
    Process::spawn(
        "sleep",
        Command::new("sleep")
            .arg(duration)
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    )
    .unwrap()
}

/// `vrrp_track_process` with weight 0: FAULT without a quorum of 2 to 3 matching processes,
/// `param_match initial`, and `delay` holding changes caused by exits.
#[test]
fn track_process_quorum_delay_and_param_match() {
    let lab = Lab::new("trpr").unwrap();
    let dir = TempDir::new("trpr").unwrap();
    let fifo = FifoReader::create(&dir.path().join("fifo")).unwrap();
    let tag = std::process::id();
    let config = fifo_globals(&dir)
        + &format!(
            "vrrp_track_process sleepers {{\n process sleep 800.{tag}\n param_match initial\n \
             quorum 2\n quorum_max 3\n delay 0.5\n}}\n"
        )
        + &instance(100, " track_process {\n  sleepers\n }");
    let r1 = Router::start(Daemon::Xvrrpd, lab.r1.netns(), &config).unwrap();
    expect_line(&fifo, 0, "INSTANCE \"VI_1\" FAULT 100", &r1);

    // Two matching processes (exec'd, so counted at once): quorum.
    let mut matching = vec![
        sleeper(&format!("800.{tag}1")),
        sleeper(&format!("800.{tag}2")),
    ];
    expect_line(&fifo, 1, "INSTANCE \"VI_1\" BACKUP 100", &r1);
    expect_line(&fifo, 2, "INSTANCE \"VI_1\" MASTER 100", &r1);
    // Another name and other parameters do not count; a third match is within quorum_max.
    let _others = [sleeper(&format!("900.{tag}")), sleeper("800")];
    matching.push(sleeper(&format!("800.{tag}3")));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fifo.lines().len(), 3, "{:#?}", fifo.lines());
    // A fourth is one too many.
    matching.push(sleeper(&format!("800.{tag}4")));
    expect_line(&fifo, 3, "INSTANCE \"VI_1\" FAULT 100", &r1);
    // Back to three by an exit: the change waits for the delay.
    let killed = Instant::now();
    matching.pop().unwrap().kill_group().unwrap();
    let back = expect_line(&fifo, 4, "INSTANCE \"VI_1\" BACKUP 100", &r1);
    println!(
        "quorum regained {:?} after the exit (delay 0.5 s)",
        back - killed
    );
    assert!(
        back - killed >= Duration::from_millis(500),
        "{:?}\n{}",
        back - killed,
        r1.log_tail(60)
    );
    expect_line(&fifo, 5, "INSTANCE \"VI_1\" MASTER 100", &r1);
    // Down to one: FAULT, after the delay too.
    let killed = Instant::now();
    matching.pop().unwrap().kill_group().unwrap();
    matching.pop().unwrap().kill_group().unwrap();
    let fault = expect_line(&fifo, 6, "INSTANCE \"VI_1\" FAULT 100", &r1);
    assert!(
        fault - killed >= Duration::from_millis(500),
        "{:?}",
        fault - killed
    );
    assert!(
        r1.log().contains("tracking processes"),
        "{}",
        r1.log_tail(40)
    );
}

/// enable_script_security refuses scripts a non-root user could change, naming the directory
/// at fault (a refused vrrp_script is not tracked, as in keepalived); without it they run,
/// with a warning naming the same directory.
#[test]
fn script_security_refuses_and_names_the_component() {
    use std::os::unix::fs::PermissionsExt as _;
    let lab = Lab::new("secu").unwrap();
    let dir = TempDir::new("secu").unwrap();
    let d = dir.path().display().to_string();
    write_script(&dir, "open/check.sh", "exit 1\n");
    write_script(
        &dir,
        "open/notify.sh",
        &format!("echo ran >> {d}/notify.log\n"),
    );
    let open = dir.path().join("open");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let config = |security: bool| {
        let globals = if security {
            "global_defs {\n enable_script_security\n script_user root\n}\n"
        } else {
            ""
        };
        format!(
            "{globals}vrrp_script chk {{\n script {d}/open/check.sh\n interval 0.2\n}}\n{}",
            instance(
                100,
                &format!(" track_script {{\n  chk\n }}\n notify_master {d}/open/notify.sh")
            )
        )
    };
    let mut r1 = Router::start(Daemon::Xvrrpd, lab.r1.netns(), &config(true)).unwrap();
    // The failing check is not tracked: the instance becomes master.
    lab.wait_for_holders(vip(), &["r1"], SETTLE, || r1.check_running())
        .unwrap_or_else(|e| panic!("{e:#}\n{}", r1.log_tail(40)));
    let log = r1.log();
    // The check of the configuration (the one `-t` makes) refuses them, naming the directory.
    assert!(
        log.contains(&format!(
            "vrrp_script chk is disabled: {d}/open is not secure: anyone can write to it"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "vrrp_instance VI_1 notify_master is not run: {d}/open is not secure"
        )),
        "{log}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        lines_of(&dir.path().join("notify.log")).is_empty(),
        "a refused script ran"
    );
    r1.terminate(Duration::from_secs(5)).unwrap();

    // Without enable_script_security the same scripts run (the check fails: FAULT), and the
    // warning names the directory.
    let mut r1 = Router::start(Daemon::Xvrrpd, lab.r1.netns(), &config(false)).unwrap();
    assert!(
        wait_until(SETTLE, || r1
            .log()
            .contains("check script now returns script=chk exit=exit status 1")),
        "{}",
        r1.log_tail(40)
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        lab.holders(vip()).unwrap().is_empty(),
        "the failing weight-0 check must hold FAULT"
    );
    let log = r1.log();
    assert!(
        log.contains("enable_script_security would refuse them")
            && log.contains(&format!("vrrp_script chk ({d}/open)")),
        "{log}"
    );
    r1.terminate(Duration::from_secs(5)).unwrap();
}

/// 1,000 runs of a check that prints and leaves a background job, and a check that forks and
/// hangs until its timeout, every 10 ms and 50 ms: the daemon's descriptors do not grow, no
/// zombie child is left, and no forked sleeper survives.
#[test]
fn a_thousand_check_runs_leave_no_process_fd_or_zombie() {
    let lab = Lab::new("leak").unwrap();
    let dir = TempDir::new("leak").unwrap();
    let d = dir.path().display().to_string();
    let tag = std::process::id();
    let quick_nap = format!("700.{tag}");
    let hang_nap = format!("701.{tag}");
    write_script(
        &dir,
        "quick.sh",
        &format!("echo run >> {d}/runs\necho some output\nsleep {quick_nap} &\nexit 0\n"),
    );
    write_script(&dir, "hang.sh", &format!("sleep {hang_nap} &\nwait\n"));
    let config = format!(
        "global_defs {{\n enable_script_security\n script_user root\n}}\n\
         vrrp_script quick {{\n script {d}/quick.sh\n interval 0.01\n timeout 1\n}}\n\
         vrrp_script hang {{\n script {d}/hang.sh\n interval 0.05\n timeout 0.02\n weight -10\n}}\n"
    ) + &instance(100, " track_script {\n  quick\n  hang\n }");
    let mut r1 = Router::start(Daemon::Xvrrpd, lab.r1.netns(), &config).unwrap();
    let pid = r1.pid().unwrap();
    let runs = || lines_of(&dir.path().join("runs")).len();
    assert!(wait_until(SETTLE, || runs() >= 100), "{}", r1.log_tail(40));
    // Descriptors of the scripts running at the moment come and go: compare the fewest seen
    // over a few samples, and what stays open for good.
    let settled_fds = || {
        (0..40)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(3));
                open_fds(pid)
            })
            .min_by_key(Vec::len)
            .unwrap()
    };
    let lasting = |fds: &[String]| -> Vec<String> {
        let mut kept: Vec<String> = fds
            .iter()
            .filter(|f| !f.starts_with("pipe:") && *f != "anon_inode:[pidfd]")
            .cloned()
            .collect();
        kept.sort();
        kept
    };
    let fds_early = settled_fds();
    let started = Instant::now();
    assert!(
        wait_until(Duration::from_secs(120), || runs() >= 1000),
        "only {} runs\n{}",
        runs(),
        r1.log_tail(40)
    );
    println!("900 runs in {:?}", started.elapsed());
    r1.check_running().unwrap();
    let fds_late = settled_fds();
    assert_eq!(
        (fds_late.len(), lasting(&fds_late)),
        (fds_early.len(), lasting(&fds_early)),
        "descriptors grew:\nbefore {fds_early:#?}\nafter {fds_late:#?}"
    );
    let zombies: Vec<_> = children_of(pid)
        .into_iter()
        .filter(|(_, state)| *state == 'Z')
        .collect();
    assert!(zombies.is_empty(), "unreaped children: {zombies:?}");
    r1.terminate(Duration::from_secs(5)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        processes_running(&["sleep", &quick_nap]),
        0,
        "background jobs survived"
    );
    assert_eq!(
        processes_running(&["sleep", &hang_nap]),
        0,
        "hung scripts' children survived"
    );
    assert!(
        r1.log()
            .contains("check script timed out; its process group was killed"),
        "{}",
        r1.log_tail(20)
    );
}
