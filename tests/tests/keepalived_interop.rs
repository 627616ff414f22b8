//! The XDP recorder against a real keepalived (Debian's 2.2.7) on the other end of a veth:
//! VRRPv2 with PASS authentication, VRRPv3 over IPv4 and over IPv6. The pinned state map (read
//! with bpftool, by field name), `xvrrpd monitor --json --once` and `xvrrpd monitor --pcap` on a
//! tcpdump capture must all show keepalived's VRID, priority and interval.

use std::process::Stdio;
use std::time::Duration;

use netlab::{
    Keepalived, Netns, PinDir, Process, TempDir, json_lines, veth, wait_until, xvrrpd_bin,
};
use serde_json::Value;

const PEER_CONFIG: &str = r#"
global_defs {
    router_id interop-peer
}
vrrp_instance V2_PASS {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret
    }
    virtual_ipaddress {
        192.0.2.100/24
    }
}
vrrp_instance V3_IPV4 {
    state MASTER
    interface eth0
    version 3
    virtual_router_id 52
    priority 120
    advert_int 0.1
    virtual_ipaddress {
        192.0.2.101/24
    }
}
vrrp_instance V3_IPV6 {
    state MASTER
    interface eth0
    virtual_router_id 53
    priority 110
    advert_int 0.1
    virtual_ipaddress {
        2001:db8::100/64
    }
}
"#;

/// (vrid, version, family, priority, interval in ms) of each keepalived instance.
const EXPECTED: [(u64, u64, &str, u64, u64); 3] = [
    (51, 2, "ipv4", 150, 1000),
    (52, 3, "ipv4", 120, 100),
    (53, 3, "ipv6", 110, 100),
];

fn router(rows: &[Value], vrid: u64) -> Option<&Value> {
    rows.iter()
        .find(|row| row["type"] == "router" && row["vrid"] == vrid)
}

fn assert_routers(rows: &[Value], source: &str) {
    for (vrid, version, family, priority, interval_ms) in EXPECTED {
        let row = router(rows, vrid)
            .unwrap_or_else(|| panic!("{source}: no router row for VRID {vrid} in {rows:#?}"));
        assert_eq!(row["version"], version, "{source}: VRID {vrid} version");
        assert_eq!(row["family"], family, "{source}: VRID {vrid} family");
        assert_eq!(row["priority"], priority, "{source}: VRID {vrid} priority");
        assert_eq!(
            row["advert_interval_ms"], interval_ms,
            "{source}: VRID {vrid} interval"
        );
        assert!(
            row["received"].as_u64().unwrap_or(0) >= 1,
            "{source}: VRID {vrid} received nothing"
        );
        assert_eq!(
            row["errors"],
            serde_json::json!({}),
            "{source}: VRID {vrid} has errors"
        );
        let master = row["master"].as_str().unwrap_or_default();
        if family == "ipv4" {
            assert_eq!(master, "192.0.2.1", "{source}: VRID {vrid} master");
        } else {
            // keepalived sends IPv6 adverts from the interface's link-local address.
            assert!(
                master.starts_with("fe80::"),
                "{source}: VRID {vrid} master {master}"
            );
        }
    }
}

/// The pinned state map as an operator sees it: plain `bpftool map dump` prints BTF-typed maps
/// as JSON with named fields (`-j` would print raw bytes plus a "formatted" copy).
fn bpftool_state(pins: &PinDir, netns: &Netns) -> Vec<Value> {
    let inode = netns.inode().expect("namespace inode");
    let output = std::process::Command::new("bpftool")
        .args(["map", "dump", "pinned"])
        .arg(pins.path().join(format!("monitor-net-{inode}/vrrp_state")))
        .output();
    match output {
        Ok(out) if out.status.success() => serde_json::from_slice(&out.stdout).unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[test]
fn recorder_reports_keepalived_v2_pass_v3_ipv4_and_v3_ipv6() -> anyhow::Result<()> {
    let peer = Netns::new("peer")?;
    let recorder = Netns::new("rec")?;
    veth(&peer, "eth0", &recorder, "eth0")?;
    peer.addr("eth0", "192.0.2.1/24")?;
    peer.addr("eth0", "2001:db8::1/64")?;
    recorder.addr("eth0", "192.0.2.2/24")?;
    recorder.addr("eth0", "2001:db8::2/64")?;

    let scratch = TempDir::new("interop")?;
    let capture = scratch.path().join("adverts.pcap");
    let mut tcpdump = Process::spawn(
        "tcpdump",
        recorder
            .exec("tcpdump")
            .args(["-i", "eth0", "-U", "-n", "-w"])
            .arg(&capture)
            .args(["ip proto 112 or ip6 proto 112"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    let mut keepalived = Keepalived::start(&peer, PEER_CONFIG)?;

    // A long-running monitor: its pinned map must name every field for bpftool.
    let pins = PinDir::new("interop");
    let mut monitor = Process::spawn(
        "xvrrpd monitor",
        recorder
            .enter(xvrrpd_bin())
            .args(["monitor", "--interface", "eth0", "--json", "--bpffs"])
            .arg(pins.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )?;
    let all_heard = wait_until(Duration::from_secs(20), || {
        let entries = bpftool_state(&pins, &recorder);
        EXPECTED.iter().all(|(vrid, ..)| {
            entries.iter().any(|e| {
                e["key"]["vrid"] == *vrid && e["value"]["master_adverts"].as_u64().unwrap_or(0) >= 2
            })
        })
    });
    if !all_heard {
        let monitor_output = monitor.stop()?;
        panic!(
            "the state map never showed all three instances: {:#?}\nmonitor stderr:\n{}\nkeepalived log:\n{}",
            bpftool_state(&pins, &recorder),
            String::from_utf8_lossy(&monitor_output.stderr),
            keepalived.log()
        );
    }
    for entry in bpftool_state(&pins, &recorder) {
        let vrid = entry["key"]["vrid"].as_u64().unwrap();
        let (_, version, family, priority, interval_ms) = EXPECTED
            .iter()
            .find(|e| e.0 == vrid)
            .copied()
            .expect("only keepalived's VRIDs");
        assert_eq!(entry["key"]["family"], if family == "ipv4" { 4 } else { 6 });
        assert_eq!(
            entry["value"]["master_priority"], priority,
            "map: VRID {vrid}"
        );
        assert_eq!(
            entry["value"]["master_version"], version,
            "map: VRID {vrid}"
        );
        assert_eq!(
            entry["value"]["master_interval_cs"],
            interval_ms / 10,
            "map: VRID {vrid}"
        );
    }
    let output = monitor.stop()?;
    assert!(
        output.status.success(),
        "monitor failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let inode = recorder.inode()?;
    assert!(
        !pins.path().join(format!("monitor-net-{inode}")).exists(),
        "a clean stop must remove the pins"
    );
    let lines = json_lines(&String::from_utf8_lossy(&output.stdout));
    for (vrid, ..) in EXPECTED {
        let announced = lines.iter().any(|l| {
            l["type"] == "event"
                && l["vrid"] == vrid
                && l["events"]
                    .as_array()
                    .is_some_and(|e| e.contains(&"new_master".into()))
        });
        assert!(
            announced,
            "no new_master event for VRID {vrid} through the ring buffer"
        );
    }

    // `--once`: one snapshot after listening.
    let once = netlab::run(
        recorder
            .enter(xvrrpd_bin())
            .args([
                "monitor",
                "-i",
                "eth0",
                "--json",
                "--once",
                "--duration",
                "2.5",
                "--bpffs",
            ])
            .arg(pins.path()),
    )?;
    assert_routers(
        &json_lines(&String::from_utf8_lossy(&once.stdout)),
        "monitor --once",
    );

    // Offline: the same facts from tcpdump's capture through the userspace codec.
    tcpdump.stop()?;
    let offline = netlab::run(
        std::process::Command::new(xvrrpd_bin())
            .args(["monitor", "--json", "--pcap"])
            .arg(&capture),
    )?;
    assert_routers(
        &json_lines(&String::from_utf8_lossy(&offline.stdout)),
        "monitor --pcap",
    );

    keepalived.process().stop()?;
    Ok(())
}
