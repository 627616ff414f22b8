//! What the daemon's receive path promises on the wire and in the process: the kernel answers
//! unicast adverts with no ICMP "protocol unreachable" (a drop-all raw socket exists), adverts
//! wake no one (a backup's wakeups do not follow the advert rate), and a keepalived kept on
//! the same host for other VRIDs keeps working with `--foreign-adverts pass` (and is starved,
//! with a warning, without it).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use netlab::lab::{IFACE, Lab};
use netlab::router::{Daemon, Router};
use netlab::{PacketSocket, Process, TempDir};
use xvrrpd::protocol::{Advert, Auth, FrameSpec, Priority, Version, Vrid, build_frame};

/// Master_Down_Interval at advert_int 1 (3.6 s) and a debug build's start-up, with room.
const SETTLE: Duration = Duration::from_secs(8);

fn unicast(priority: u8, src: &str, peer: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n interface {IFACE}\n virtual_router_id 41\n priority {priority}\n \
         version 3\n advert_int 1\n unicast_src_ip {src}\n unicast_peer {{\n  {peer}\n }}\n \
         virtual_ipaddress {{\n  192.0.2.141/24\n }}\n}}\n"
    )
}

/// Voluntary context switches of a process so far: how often it went to sleep and was woken.
fn wakeups(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("voluntary_ctxt_switches")
}

fn mac_bytes(text: &str) -> [u8; 6] {
    let bytes: Vec<u8> = text
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

#[test]
fn unicast_adverts_draw_no_icmp_and_wake_no_one() {
    let lab = Lab::new("wake").unwrap();
    let (a, b) = (lab.r1.ipv4().to_string(), lab.r2.ipv4().to_string());
    let mut r1 = Router::start(Daemon::Xvrrpd, lab.r1.netns(), &unicast(150, &a, &b)).unwrap();
    let mut r2 = Router::start(Daemon::Xvrrpd, lab.r2.netns(), &unicast(100, &b, &a)).unwrap();
    let vip: IpAddr = "192.0.2.141".parse().unwrap();
    lab.wait_for_holders(vip, &["r1"], SETTLE, || r2.check_running())
        .unwrap_or_else(|e| panic!("{e:#}\n{}\n{}", r1.log_tail(30), r2.log_tail(30)));

    // ICMP on the wire while unicast adverts flow both ways (the master's, and the backup's
    // start-up ones): none.
    let dir = TempDir::new("icmp").unwrap();
    let pcap = dir.path().join("icmp.pcap");
    let mut tcpdump = Process::spawn(
        "tcpdump",
        lab.client
            .netns()
            .exec("tcpdump")
            .args(["-i", IFACE, "-n", "-U", "-w"])
            .arg(&pcap)
            // Any ICMPv4, and ICMPv6 destination unreachable (type 1): not the hosts' own
            // router solicitations, which come whenever IPv6 feels like it.
            .arg("icmp or (icmp6 and ip6[40] == 1)"),
    )
    .unwrap();

    // Wakeups of the backup with the master's one advert a second...
    let pid = r2.pid().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let window = Duration::from_secs(3);
    let before = wakeups(pid);
    std::thread::sleep(window);
    let quiet = wakeups(pid) - before;

    // ... and with a thousand more a second: copies of the master's advert from the client.
    let advert = Advert {
        version: Version::V3,
        vrid: Vrid(41),
        priority: Priority(150),
        interval: Duration::from_secs(1),
        auth: Auth::None,
        addresses: vec![vip],
    };
    let mut spec = FrameSpec::multicast(lab.r1.ipv4().into(), advert);
    spec.dst = lab.r2.ipv4().into();
    spec.dst_mac = Some(mac_bytes(lab.r2.mac()));
    spec.src_mac = mac_bytes(lab.client.mac());
    let frame = build_frame(&spec).unwrap();
    let socket = PacketSocket::open(lab.client.netns(), IFACE).unwrap();
    let before = wakeups(pid);
    let start = Instant::now();
    let mut sent = 0u32;
    while start.elapsed() < window {
        socket.send(&frame).unwrap();
        sent += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
    let flooded = wakeups(pid) - before;
    tcpdump.signal(libc::SIGINT);
    tcpdump.wait_timeout(Duration::from_secs(5)).unwrap();
    println!(
        "backup wakeups over {window:?}: {quiet} at 1 advert/s, {flooded} with {sent} more adverts"
    );
    assert!(sent > 1000, "the flood really flowed ({sent})");
    assert!(
        flooded <= quiet + 10,
        "the backup woke {flooded} times under {sent} adverts, {quiet} without: it wakes per advert"
    );
    assert_eq!(lab.holders(vip).unwrap(), ["r1"], "nothing changed");

    let capture = std::fs::read(&pcap).unwrap();
    // A pcap file holds a 24-byte header and then one record per packet.
    let decoded = std::process::Command::new("tcpdump")
        .args(["-n", "-v", "-r"])
        .arg(&pcap)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert_eq!(
        capture.len(),
        24,
        "ICMP was seen on the link: {} bytes of capture:\n{decoded}",
        capture.len()
    );
    r1.check_running().unwrap();
}

fn multicast(vrid: u8, priority: u8) -> String {
    format!(
        "vrrp_instance VI_{vrid} {{\n interface {IFACE}\n virtual_router_id {vrid}\n \
         priority {priority}\n version 3\n advert_int 0.1\n \
         virtual_ipaddress {{\n  192.0.2.{vrid}/24\n }}\n}}\n"
    )
}

#[test]
fn a_keepalived_kept_for_other_vrids_keeps_working_with_foreign_adverts_pass() {
    let lab = Lab::new("coex").unwrap();
    let pass = ["--foreign-adverts", "pass"];
    let _k1 = Router::start(Daemon::Keepalived, lab.r1.netns(), &multicast(60, 150)).unwrap();
    let _k2 = Router::start(Daemon::Keepalived, lab.r2.netns(), &multicast(60, 100)).unwrap();
    let mut x1 =
        Router::start_with(Daemon::Xvrrpd, lab.r1.netns(), &multicast(61, 150), &pass).unwrap();
    let mut x2 =
        Router::start_with(Daemon::Xvrrpd, lab.r2.netns(), &multicast(61, 100), &pass).unwrap();
    let (keepalived_vip, xvrrpd_vip): (IpAddr, IpAddr) =
        ("192.0.2.60".parse().unwrap(), "192.0.2.61".parse().unwrap());
    for vip in [keepalived_vip, xvrrpd_vip] {
        lab.wait_for_holders(vip, &["r1"], SETTLE, || x2.check_running())
            .unwrap_or_else(|e| panic!("{e:#}\n{}", x2.log_tail(30)));
    }
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(lab.holders(keepalived_vip).unwrap(), ["r1"]);
    assert_eq!(lab.holders(xvrrpd_vip).unwrap(), ["r1"]);
    x1.check_running().unwrap();

    // Without the setting, xvrrpd owns VRRP on its interface: it says so at start, and the
    // keepalived next to it no longer hears its master (it takes over: two masters of VRID 60).
    x2.terminate(Duration::from_secs(2)).unwrap();
    let x2 = Router::start(Daemon::Xvrrpd, lab.r2.netns(), &multicast(61, 100)).unwrap();
    lab.wait_for_holders(keepalived_vip, &["r1", "r2"], SETTLE, || Ok(()))
        .unwrap();
    assert!(
        x2.log().contains("--foreign-adverts pass"),
        "the warning names the setting:\n{}",
        x2.log_tail(20)
    );
}

/// One unicast instance as a config block.
fn unicast_instance(name: &str, priority: u8, src: &str, peer: &str, vip: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n interface {IFACE}\n virtual_router_id 41\n priority {priority}\n \
         version 3\n advert_int 1\n unicast_src_ip {src}\n unicast_peer {{\n  {peer}\n }}\n \
         virtual_ipaddress {{\n  {vip}/24\n }}\n}}\n"
    )
}

/// Two unicast instances on r1 with one VRID, interface and local address, each with its own
/// peer (keepalived tells them apart by the advert's source; so does the XDP program, with
/// InstanceKey::slot): VI_A against r2, which wins it, and VI_B against the client, which
/// wins that one. Were VI_B deaf to the client's adverts, r1 would hold .142 too; were VI_A
/// deaf to r2's, r1 would hold .141. When r2 stops, VI_A alone takes over.
#[test]
fn unicast_instances_sharing_a_vrid_each_hear_their_own_peer() {
    let lab = Lab::new("slot").unwrap();
    let (r1, r2, client) = (
        lab.r1.ipv4().to_string(),
        lab.r2.ipv4().to_string(),
        lab.client.ipv4().to_string(),
    );
    let (vip_a, vip_b) = ("192.0.2.141", "192.0.2.142");
    let both = format!(
        "{}{}",
        unicast_instance("VI_A", 100, &r1, &r2, vip_a),
        unicast_instance("VI_B", 100, &r1, &client, vip_b)
    );
    let mut on_r1 = Router::start(Daemon::Xvrrpd, lab.r1.netns(), &both).unwrap();
    let mut on_r2 = Router::start(
        Daemon::Xvrrpd,
        lab.r2.netns(),
        &unicast_instance("VI_A", 150, &r2, &r1, vip_a),
    )
    .unwrap();
    let mut on_client = Router::start(
        Daemon::Xvrrpd,
        lab.client.netns(),
        &unicast_instance("VI_B", 150, &client, &r1, vip_b),
    )
    .unwrap();
    let (vip_a, vip_b): (IpAddr, IpAddr) = (vip_a.parse().unwrap(), vip_b.parse().unwrap());
    let logs = |r1: &Router, r2: &Router, client: &Router| {
        format!(
            "r1:\n{}\nr2:\n{}\nclient:\n{}",
            r1.log_tail(30),
            r2.log_tail(30),
            client.log_tail(30)
        )
    };
    // Both backups on r1 hear their masters: r1 holds neither address, and keeps not holding
    // them past a master-down interval.
    lab.wait_for_holders(vip_a, &["r2"], SETTLE, || on_r1.check_running())
        .unwrap_or_else(|e| panic!("{e:#}\n{}", logs(&on_r1, &on_r2, &on_client)));
    let deadline = Instant::now() + SETTLE;
    while !lab.client.holds(vip_b).unwrap() {
        assert!(
            Instant::now() < deadline,
            "the client never took {vip_b}\n{}",
            logs(&on_r1, &on_r2, &on_client)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(lab.holders(vip_a).unwrap(), ["r2"]);
    assert_eq!(
        lab.holders(vip_b).unwrap(),
        Vec::<&str>::new(),
        "r1's VI_B did not hear the client\n{}",
        logs(&on_r1, &on_r2, &on_client)
    );
    assert!(lab.client.holds(vip_b).unwrap());

    // r2 stops: VI_A takes its address, VI_B still hears the client.
    on_r2.terminate(Duration::from_secs(5)).unwrap();
    lab.wait_for_holders(vip_a, &["r1"], SETTLE, || on_r1.check_running())
        .unwrap_or_else(|e| panic!("{e:#}\n{}", logs(&on_r1, &on_r2, &on_client)));
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(lab.holders(vip_b).unwrap(), Vec::<&str>::new());
    assert!(lab.client.holds(vip_b).unwrap());
    on_client.check_running().unwrap();
}
