//! Two routers alternating on one VRID, as anyone on a link can make happen (VRRPv3 has no
//! authentication): the recorder must not send one event per advert. A flapping master is one
//! "contended" state, events stay bounded, a real priority 0 still gets through, and a reader
//! too slow for the ring sees `ring_full` counted instead of losing events silently.

use std::io::{BufRead as _, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netlab::{Netns, PacketSocket, PinDir, Process, TempDir, veth, wait_until, xvrrpd_bin};
use serde_json::Value;
use xvrrpd::protocol::{Advert, Auth, FrameSpec, Priority, Version, Vrid, build_frame};

fn advert(src: [u8; 4], dst: IpAddr, vrid: u8, priority: u8) -> Vec<u8> {
    let advert = Advert {
        version: Version::V3,
        vrid: Vrid(vrid),
        priority: Priority(priority),
        interval: Duration::from_millis(100),
        auth: Auth::None,
        addresses: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))],
    };
    let spec = FrameSpec {
        dst,
        ..FrameSpec::multicast(IpAddr::from(src), advert)
    };
    build_frame(&spec).expect("one family")
}

const GROUP: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));

/// Collects the monitor's JSON lines as they come.
fn collect(monitor: &mut Process) -> Arc<Mutex<Vec<Value>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stdout = monitor.take_stdout().expect("piped");
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                sink.lock().expect("lock").push(value);
            }
        }
    });
    lines
}

fn events_for(lines: &Mutex<Vec<Value>>, vrid: u64) -> Vec<Value> {
    lines
        .lock()
        .expect("lock")
        .iter()
        .filter(|l| l["type"] == "event" && l["vrid"] == vrid)
        .cloned()
        .collect()
}

fn has(event: &Value, kind: &str) -> bool {
    event["events"]
        .as_array()
        .is_some_and(|kinds| kinds.contains(&kind.into()))
}

fn attached(netns: &Netns) -> bool {
    netns
        .enter("bpftool")
        .args(["-j", "net", "show", "dev", "eth0"])
        .output()
        .ok()
        .and_then(|out| serde_json::from_slice::<Value>(&out.stdout).ok())
        .is_some_and(|net| net[0]["xdp"].as_array().is_some_and(|p| !p.is_empty()))
}

#[test]
fn alternating_masters_make_bounded_events_and_priority_zero_gets_through() -> anyhow::Result<()> {
    let sender = Netns::new("cts")?;
    let recorder = Netns::new("ctr")?;
    veth(&sender, "eth0", &recorder, "eth0")?;
    let root = PinDir::new("contention");
    let scratch = TempDir::new("contention")?;
    let stderr_path = scratch.path().join("monitor.stderr");
    let mut monitor = Process::spawn(
        "xvrrpd monitor",
        recorder
            .enter(xvrrpd_bin())
            .args(["monitor", "-i", "eth0", "--json", "--bpffs"])
            .arg(root.path())
            // The program's own diagnostics (aya-log) are debug records of its crate.
            .env("RUST_LOG", "info,vrrp_ebpf=debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path)?),
    )?;
    let lines = collect(&mut monitor);
    assert!(wait_until(Duration::from_secs(10), || attached(&recorder)));
    let socket = PacketSocket::open(&sender, "eth0")?;

    let a = advert([192, 0, 2, 1], GROUP, 52, 150);
    let b = advert([192, 0, 2, 7], GROUP, 52, 140);
    for i in 0..2000 {
        socket.send(if i % 2 == 0 { &a } else { &b })?;
    }
    socket.send(&advert([192, 0, 2, 7], GROUP, 52, 0))?;
    assert!(
        wait_until(Duration::from_secs(5), || events_for(&lines, 52)
            .iter()
            .any(|e| has(e, "priority_zero"))),
        "the priority-0 event never arrived: {:#?}",
        events_for(&lines, 52)
    );
    let events = events_for(&lines, 52);
    eprintln!(
        "2,000 alternating adverts through veth: {} events",
        events.len()
    );
    assert!(events.len() <= 12, "{} events: {events:#?}", events.len());
    assert!(events.iter().any(|e| has(e, "contended")), "{events:#?}");

    // A reader that stops reading: 4,000 new routers (one advert to each of 4,000 groups)
    // overflow the 256 KiB ring; the loss is counted and shown once the reader is back.
    monitor.signal(libc::SIGSTOP);
    for i in 0..4000u32 {
        let dst = IpAddr::V4(Ipv4Addr::new(239, 2, (i / 250) as u8, (i % 250) as u8 + 1));
        socket.send(&advert([192, 0, 2, 9], dst, 1, 100))?;
    }
    std::thread::sleep(Duration::from_millis(300));
    monitor.signal(libc::SIGCONT);
    let ring_full = || {
        lines
            .lock()
            .expect("lock")
            .iter()
            .filter(|l| l["type"] == "interface")
            .filter_map(|l| l["program"]["ring_full"].as_u64())
            .max()
            .unwrap_or(0)
    };
    assert!(
        wait_until(Duration::from_secs(10), || ring_full() > 0),
        "ring_full never showed"
    );
    eprintln!(
        "ring_full after 4,000 new routers with the reader stopped: {}",
        ring_full()
    );
    let out = monitor.stop()?;
    assert!(out.status.success());
    Ok(())
}
