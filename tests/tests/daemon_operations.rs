//! Operating the daemon: `xvrrpd status` and `watch` over the control socket (root only, one
//! per namespace), Prometheus metrics, keepalived's stats/data/JSON dumps read the way the
//! keepalived exporter reads them (with known traffic), the flight recorder replayed, systemd
//! notifications through a fake NOTIFY_SOCKET, and the unit file.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::net::IpAddr;
use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::time::{Duration, Instant};

use netlab::lab::{Host, IFACE, Lab};
use netlab::router::{Daemon, Router};
use netlab::{PacketSocket, Process, TempDir, run, xvrrpd_bin};
use serde_json::Value;
use xvrrpd::protocol::{Advert, Auth, FrameSpec, Priority, Version, Vrid, build_frame};

const VIP: &str = "192.0.2.100";
const SETTLE: Duration = Duration::from_secs(5);

fn config(priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n interface {IFACE}\n virtual_router_id 51\n priority {priority}\n \
         version 3\n advert_int 0.1\n virtual_ipaddress {{\n  {VIP}/24\n }}\n}}\n"
    )
}

fn vip() -> IpAddr {
    VIP.parse().unwrap()
}

/// `xvrrpd ARGS -f CONF` in `host`'s namespace, to completion.
fn cli(host: &Host, router: &Router, args: &[&str]) -> std::process::Output {
    run(host
        .netns()
        .enter(xvrrpd_bin())
        .args(args)
        .arg("-f")
        .arg(router.config_file()))
    .unwrap_or_else(|e| panic!("xvrrpd {args:?}: {e:#}"))
}

fn status(host: &Host, router: &Router) -> Value {
    let output = cli(host, router, &["status", "--json"]);
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn status_watch_and_metrics_describe_the_running_daemon() {
    let lab = Lab::new("status").unwrap();
    // The master runs a check script, whose results and run times the metrics show.
    let checked = format!(
        "vrrp_script chk {{\n script /bin/true\n interval 0.1\n}}\n{}",
        config(150).replace(
            " advert_int 0.1\n",
            " advert_int 0.1\n track_script {\n  chk\n }\n"
        )
    );
    let mut r1 = Router::start_with(
        Daemon::Xvrrpd,
        lab.r1.netns(),
        &checked,
        &["--metrics-listen", "127.0.0.1:9650"],
    )
    .unwrap();
    let r2 = Router::start(Daemon::Xvrrpd, lab.r2.netns(), &config(100)).unwrap();
    lab.wait_for_holders(vip(), &["r1"], SETTLE, || r1.check_running())
        .unwrap();
    // The backup has heard a few adverts by now.
    std::thread::sleep(Duration::from_millis(300));

    let master = status(&lab.r1, &r1);
    let instance = &master["instances"][0];
    assert_eq!(instance["state"], "MASTER", "{master:#}");
    assert_eq!(instance["effective_priority"], 150);
    assert_eq!(instance["addresses"][0]["present"], true);
    assert!(instance["counters"]["adverts_sent"].as_u64().unwrap() > 0);
    assert_eq!(master["interfaces"][0]["name"], IFACE);
    let backup = status(&lab.r2, &r2);
    let instance = &backup["instances"][0];
    assert_eq!(instance["state"], "BACKUP");
    assert_eq!(instance["master"]["address"], lab.r1.ipv4().to_string());
    assert_eq!(instance["master"]["priority"], 150);
    assert!(instance["counters"]["adverts_received"].as_u64().unwrap() > 0);
    assert_eq!(instance["addresses"][0]["present"], false);
    let table = String::from_utf8(cli(&lab.r2, &r2, &["status"]).stdout).unwrap();
    assert!(
        table.contains("VI_1 (eth0 VRID 51 IPv4 v3): BACKUP"),
        "{table}"
    );

    // Someone who is not root is turned away.
    let denied = lab
        .r2
        .netns()
        .enter("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "--",
        ])
        .arg(xvrrpd_bin())
        .args(["status", "-f"])
        .arg(r2.config_file())
        .output()
        .unwrap();
    assert!(!denied.status.success());
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("root only"),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );

    // The master's metrics, named as the keepalived exporter names them, after a few runs of
    // its check at 100 ms.
    std::thread::sleep(Duration::from_millis(500));
    let metrics = run(lab
        .r1
        .netns()
        .exec("curl")
        .args(["-s", "http://127.0.0.1:9650/metrics"]))
    .unwrap();
    let metrics = String::from_utf8(metrics.stdout).unwrap();
    for line in [
        "keepalived_up 1",
        "keepalived_vrrp_state{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\",ip_address=\"192.0.2.100/24\"} 2",
        "keepalived_become_master_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 1",
        "xvrrpd_effective_priority{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 150",
        "# TYPE xvrrpd_failover_seconds histogram",
        "keepalived_script_status{name=\"chk\"} 1",
        "# TYPE xvrrpd_script_duration_seconds histogram",
    ] {
        assert!(metrics.contains(line), "metrics lack {line:?}:\n{metrics}");
    }
    // Every run of /bin/true counted, each well under the 5 s bucket.
    let value = |prefix: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {prefix}:\n{metrics}"))
    };
    let runs = value("xvrrpd_script_duration_seconds_count{name=\"chk\"}");
    assert!(runs >= 3.0, "{runs} runs:\n{metrics}");
    assert_eq!(
        value("xvrrpd_script_duration_seconds_bucket{name=\"chk\",le=\"5\"}"),
        runs
    );

    // `watch` on the backup prints its takeover when the master's link goes down.
    let mut watch = Process::spawn(
        "xvrrpd watch",
        lab.r2
            .netns()
            .enter(xvrrpd_bin())
            .args(["watch", "-f"])
            .arg(r2.config_file())
            .stdout(Stdio::piped()),
    )
    .unwrap();
    let lines = BufReader::new(watch.take_stdout().unwrap()).lines();
    std::thread::sleep(Duration::from_millis(200));
    lab.link_down(&lab.r1).unwrap();
    let seen: Vec<String> = lines
        .map_while(Result::ok)
        .take_while(|l| !l.contains("BACKUP -> MASTER"))
        .chain(std::iter::once("BACKUP -> MASTER".to_owned()))
        .collect();
    assert!(
        seen.last().unwrap().contains("BACKUP -> MASTER"),
        "{seen:?}"
    );
    let backup = status(&lab.r2, &r2);
    assert_eq!(backup["instances"][0]["last_transition"]["to"], "MASTER");
    assert!(
        backup["instances"][0]["last_transition"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("master down after"),
        "{backup:#}"
    );
}

/// The stats file as mehdy/keepalived-exporter's `ParseStats` reads it: `VRRP Instance:`
/// starts an instance, two-space lines ending in `:` open a section, four-space `key: value`
/// lines hold numbers, two-space `key: value` lines (Became/Released master) close sections.
fn parse_stats(text: &str) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut stats: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let (mut instance, mut section) = (String::new(), String::new());
    for line in text.lines() {
        if line.starts_with("VRRP Instance") && line.contains(':') {
            instance = line.split(':').nth(1).unwrap().trim().to_owned();
            stats.entry(instance.clone()).or_default();
        } else if line.starts_with("  ") && line.ends_with(':') {
            section = line.trim().trim_end_matches(':').to_owned();
        } else if line.starts_with("    ") && !section.is_empty() {
            let (key, value) = line.trim().split_once(':').unwrap();
            let value: u64 = value
                .trim()
                .parse()
                .expect("a number, as the exporter needs");
            stats
                .get_mut(&instance)
                .unwrap()
                .insert(format!("{section}/{}", key.trim()), value);
        } else if line.starts_with("  ") {
            let (key, value) = line.trim().split_once(':').unwrap();
            section.clear();
            let value: u64 = value
                .trim()
                .parse()
                .expect("a number, as the exporter needs");
            stats
                .get_mut(&instance)
                .unwrap()
                .insert(key.trim().to_owned(), value);
        }
    }
    stats
}

fn mac_bytes(text: &str) -> [u8; 6] {
    let bytes: Vec<u8> = text
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

#[test]
fn keepalived_dumps_count_known_traffic_as_the_exporter_reads_them() {
    let lab = Lab::new("dumps").unwrap();
    // A v2 backup with a password, alone: every advert it gets comes from the client.
    let backup = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n \
                  advert_int 1\n authentication {\n  auth_type PASS\n  auth_pass secret\n }\n \
                  virtual_ipaddress {\n  192.0.2.100/24\n }\n}\n";
    let r2 = Router::start(Daemon::Xvrrpd, lab.r2.netns(), backup).unwrap();
    let advert = |auth: Auth, priority: u8| Advert {
        version: Version::V2,
        vrid: Vrid(51),
        priority: Priority(priority),
        interval: Duration::from_secs(1),
        auth,
        addresses: vec![vip()],
    };
    let frame = |advert: Advert, ttl: u8| {
        let mut spec = FrameSpec::multicast(lab.r1.ipv4().into(), advert);
        spec.src_mac = mac_bytes(lab.client.mac());
        spec.ttl = ttl;
        build_frame(&spec).unwrap()
    };
    let socket = PacketSocket::open(lab.client.netns(), IFACE).unwrap();
    // Let the daemon come up (it starts in BACKUP and counts from then on).
    let answers = || {
        lab.r2
            .netns()
            .enter(xvrrpd_bin())
            .args(["status", "-f"])
            .arg(r2.config_file())
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let start = Instant::now();
    while !answers() {
        assert!(start.elapsed() < SETTLE, "{}", r2.log_tail(20));
        std::thread::sleep(Duration::from_millis(100));
    }
    let sends: [(Vec<u8>, u32); 4] = [
        (frame(advert(Auth::pass("secret"), 150), 255), 7),
        (frame(advert(Auth::pass("secret"), 150), 254), 2),
        (frame(advert(Auth::pass("wrong"), 150), 255), 3),
        (frame(advert(Auth::None, 150), 255), 1),
    ];
    for (frame, count) in &sends {
        for _ in 0..*count {
            socket.send(frame).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let pid = r2.pid().unwrap();
    let inode = lab.r2.netns().inode().unwrap();
    let path = |ext: &str| std::path::PathBuf::from(format!("/tmp/keepalived.net-{inode}.{ext}"));
    for (signal, ext) in [
        (libc::SIGUSR2, "stats"),
        (libc::SIGUSR1, "data"),
        (libc::SIGRTMIN() + 2, "json"),
    ] {
        let _ = std::fs::remove_file(path(ext));
        // SAFETY: a signal to the daemon this test started.
        unsafe { libc::kill(pid as i32, signal) };
    }
    let start = Instant::now();
    while !["stats", "data", "json"].iter().all(|e| path(e).exists()) {
        assert!(start.elapsed() < SETTLE, "{}", r2.log_tail(20));
        std::thread::sleep(Duration::from_millis(50));
    }
    let stats = parse_stats(&std::fs::read_to_string(path("stats")).unwrap());
    let vi = &stats["VI_1"];
    // keepalived counts an advert as received only once it passed the TTL and authentication
    // checks (vrrp_check_packet): the 7 good ones.
    let expected = [
        ("Advertisements/Received", 7),
        ("Advertisements/Sent", 0),
        ("Became master", 0),
        ("Released master", 0),
        ("Packet Errors/TTL", 2),
        ("Packet Errors/Length", 0),
        ("Authentication Errors/Type Mismatch", 1),
        ("Authentication Errors/Failure", 3),
        ("Priority Zero/Received", 0),
    ];
    for (key, value) in expected {
        assert_eq!(vi.get(key), Some(&value), "{key} in {vi:#?}");
    }

    // The data file as the exporter's ParseVRRPData reads it.
    let data = std::fs::read_to_string(path("data")).unwrap();
    for line in [
        " VRRP Instance = VI_1",
        "   State = BACKUP",
        "   Interface = eth0",
        "   Virtual Router ID = 51",
        "   Gratuitous ARP delay = 5",
        "   Virtual IP (1):",
        "     192.0.2.100/24 dev eth0 scope global",
    ] {
        assert!(data.contains(line), "data dump lacks {line:?}:\n{data}");
    }
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(path("json")).unwrap()).unwrap();
    assert_eq!(json[0]["data"]["iname"], "VI_1");
    assert_eq!(json[0]["data"]["state"], 1);
    assert_eq!(json[0]["stats"]["advert_rcvd"], 7);
    assert_eq!(json[0]["stats"]["auth_failure"], 3);
    assert_eq!(json[0]["stats"]["ip_ttl_err"], 2);
    for ext in ["stats", "data", "json"] {
        let _ = std::fs::remove_file(path(ext));
    }
}

#[test]
fn a_flight_recording_replays_to_the_same_transitions() {
    let lab = Lab::new("record").unwrap();
    let dir = TempDir::new("record").unwrap();
    let recording = dir.path().join("events.jsonl");
    let mut r1 = Router::start(Daemon::Xvrrpd, lab.r1.netns(), &config(150)).unwrap();
    let mut r2 = Router::start_with(
        Daemon::Xvrrpd,
        lab.r2.netns(),
        &config(100),
        &["--record-events", recording.to_str().unwrap()],
    )
    .unwrap();
    lab.wait_for_holders(vip(), &["r1"], SETTLE, || r1.check_running())
        .unwrap();
    lab.link_down(&lab.r1).unwrap();
    lab.wait_for_holders(vip(), &["r2"], SETTLE, || r2.check_running())
        .unwrap();
    lab.link_up(&lab.r1).unwrap();
    lab.wait_for_holders(vip(), &["r1"], SETTLE, || r2.check_running())
        .unwrap();
    r2.terminate(Duration::from_secs(2)).unwrap();
    let logged: Vec<String> = r2
        .log()
        .lines()
        .filter_map(|l| {
            let at = l.find("VI_1 ")?;
            let rest = &l[at + 5..];
            let (from, rest) = rest.split_once(" -> ")?;
            Some(format!("{from} -> {}", rest.split(' ').next()?))
        })
        .collect();
    let replayed = run(std::process::Command::new(xvrrpd_bin())
        .arg("replay")
        .arg(&recording))
    .unwrap();
    let replayed: Vec<String> = String::from_utf8(replayed.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["action"]["action"] == "state_changed")
        .map(|v| {
            let name = |s: &Value| match s.as_str().unwrap() {
                "INITIALIZE" => "INIT".to_owned(),
                "STOPPED" => "STOP".to_owned(),
                other => other.to_owned(),
            };
            format!(
                "{} -> {}",
                name(&v["action"]["from"]),
                name(&v["action"]["to"])
            )
        })
        .collect();
    assert!(logged.len() >= 4, "{logged:?}");
    assert_eq!(
        replayed, logged,
        "the replay takes the daemon's transitions"
    );
}

#[test]
fn systemd_hears_ready_watchdog_and_stopping() {
    let lab = Lab::new("notify").unwrap();
    let dir = TempDir::new("notify").unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let conf = dir.write("keepalived.conf", &config(150));
    let pins = netlab::PinDir::new("notify");
    let mut daemon = Process::spawn(
        "xvrrpd",
        lab.r1
            .netns()
            .enter(xvrrpd_bin())
            .args(["-n", "-l", "-f"])
            .arg(&conf)
            .arg("-p")
            .arg(dir.path().join("x.pid"))
            .arg("--bpffs")
            .arg(pins.path())
            .env("NOTIFY_SOCKET", &socket_path)
            .env("WATCHDOG_USEC", "200000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 512];
    while received
        .iter()
        .filter(|m: &&String| m.contains("WATCHDOG=1"))
        .count()
        < 2
    {
        let n = socket.recv(&mut buffer).expect("a notification");
        received.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
    }
    assert!(received[0].starts_with("READY=1"), "{received:?}");
    assert!(received[0].contains(&format!("MAINPID={}", daemon.pid())));
    daemon.signal(libc::SIGTERM);
    loop {
        let n = socket.recv(&mut buffer).expect("STOPPING=1 before exit");
        if String::from_utf8_lossy(&buffer[..n]).contains("STOPPING=1") {
            break;
        }
    }
    assert!(
        daemon
            .wait_timeout(Duration::from_secs(2))
            .unwrap()
            .status
            .success()
    );
}

#[test]
fn the_unit_file_passes_systemd_analyze() {
    let dir = TempDir::new("unit").unwrap();
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/xvrrpd.service"),
    )
    .unwrap();
    // Verify it against the binary under test instead of an installed one.
    let unit = unit.replace("/usr/local/bin/xvrrpd", xvrrpd_bin().to_str().unwrap());
    let path = dir.write("xvrrpd.service", &unit);
    let output = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian's systemd)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && !stderr.contains("xvrrpd.service:"),
        "{stderr}"
    );
}

#[test]
fn without_log_console_the_daemon_logs_to_syslog_with_its_facility() {
    let lab = Lab::new("syslog").unwrap();
    let dir = TempDir::new("syslog").unwrap();
    let socket_path = dir.path().join("log.sock");
    let syslog = UnixDatagram::bind(&socket_path).unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let conf = dir.write("keepalived.conf", &config(150));
    let pins = netlab::PinDir::new("syslog");
    let mut process = Process::spawn(
        "xvrrpd",
        lab.r1
            .netns()
            .enter(xvrrpd_bin())
            .args(["-n", "-S", "3", "--syslog-socket"])
            .arg(&socket_path)
            .arg("-f")
            .arg(&conf)
            .arg("-p")
            .arg(dir.path().join("x.pid"))
            .arg("--bpffs")
            .arg(pins.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped()),
    )
    .unwrap();
    // LOCAL3 is facility 19: informational lines are <158>, warnings <156>.
    let info = format!("<158>xvrrpd[{}]: ", process.pid());
    let mut lines = Vec::new();
    let mut buffer = vec![0u8; 8192];
    while !lines
        .iter()
        .any(|l: &String| l.starts_with(&info) && l.contains("VI_1 BACKUP -> MASTER"))
    {
        let n = syslog
            .recv(&mut buffer)
            .unwrap_or_else(|e| panic!("{e}; lines so far: {lines:#?}"));
        lines.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
    }
    process.signal(libc::SIGTERM);
    let output = process.wait_timeout(Duration::from_secs(5)).unwrap();
    assert!(output.status.success());
    assert!(
        output.stderr.is_empty(),
        "nothing on stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in &lines {
        assert!(line.starts_with('<') && !line.ends_with('\n'), "{line:?}");
        assert!(!line.contains('\x1b'), "no colours in syslog: {line:?}");
    }
}
