//! Pins across network namespaces: bpffs is shared by the whole host, interface names and
//! indexes are not. A monitor killed in namespace B leaves its program attached and its pins
//! in B's own directory; a monitor started in namespace C on an interface with the same name
//! (and index) gets a directory and a program of its own and never touches B's. Links are
//! pinned by interface index: a renamed interface is adopted, a deleted and re-created one is
//! attached afresh with the defunct pin removed. `ip netns exec` is detected and explained.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use netlab::{Netns, PinDir, Process, veth, wait_until, xvrrpd_bin};
use serde_json::Value;

/// Ids of the XDP programs attached to `iface` in `netns`.
fn attached(netns: &Netns, iface: &str) -> Vec<u64> {
    let output = netns
        .enter("bpftool")
        .args(["-j", "net", "show", "dev", iface])
        .output();
    let net: Value = match output {
        Ok(out) if out.status.success() => serde_json::from_slice(&out.stdout).unwrap_or_default(),
        _ => Value::Null,
    };
    net[0]["xdp"]
        .as_array()
        .map(|progs| progs.iter().filter_map(|p| p["id"].as_u64()).collect())
        .unwrap_or_default()
}

fn monitor(netns: &Netns, iface: &str, root: &PinDir) -> anyhow::Result<Process> {
    Process::spawn(
        "xvrrpd monitor",
        netns
            .enter(xvrrpd_bin())
            .args(["monitor", "-i", iface, "--json", "--bpffs"])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}

fn dir_of(root: &PinDir, netns: &Netns) -> PathBuf {
    let inode = netns.inode().expect("namespace inode");
    root.path().join(format!("monitor-net-{inode}"))
}

fn ifindex(netns: &Netns, iface: &str) -> u64 {
    let out = netns
        .ip(&["-j", "link", "show", iface])
        .expect("ip link show");
    let links: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    links[0]["ifindex"].as_u64().expect("ifindex")
}

fn link_pins(dir: &std::path::Path) -> Vec<String> {
    let mut pins: Vec<String> = std::fs::read_dir(dir.join("links"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    pins.sort();
    pins
}

#[test]
fn a_killed_monitor_in_one_namespace_is_never_adopted_from_another() -> anyhow::Result<()> {
    let b = Netns::new("pinb")?;
    let c = Netns::new("pinc")?;
    let peer_b = Netns::new("pinpb")?;
    let peer_c = Netns::new("pinpc")?;
    veth(&b, "eth0", &peer_b, "eth0")?;
    veth(&c, "eth0", &peer_c, "eth0")?;
    let root = PinDir::new("netns");

    let mut in_b = monitor(&b, "eth0", &root)?;
    assert!(wait_until(Duration::from_secs(10), || attached(&b, "eth0")
        .len()
        == 1));
    let program_b = attached(&b, "eth0")[0];
    in_b.signal(libc::SIGKILL);
    in_b.wait_timeout(Duration::from_secs(5))?;
    assert_eq!(
        attached(&b, "eth0"),
        vec![program_b],
        "kill -9 keeps B recording"
    );

    let mut in_c = monitor(&c, "eth0", &root)?;
    assert!(wait_until(Duration::from_secs(10), || attached(&c, "eth0")
        .len()
        == 1));
    let program_c = attached(&c, "eth0")[0];
    assert_ne!(program_c, program_b, "C runs a program of its own");
    assert_eq!(
        attached(&b, "eth0"),
        vec![program_b],
        "B's program untouched"
    );
    assert_ne!(dir_of(&root, &b), dir_of(&root, &c));
    assert!(
        dir_of(&root, &b).join("links").exists(),
        "B's pins are still there"
    );

    let out = in_c.stop()?;
    assert!(out.status.success(), "a clean stop exits 0");
    assert!(attached(&c, "eth0").is_empty(), "C detached on exit");
    assert_eq!(attached(&b, "eth0"), vec![program_b], "and left B alone");
    Ok(())
}

#[test]
fn renamed_and_recreated_interfaces_after_kill_9() -> anyhow::Result<()> {
    let host = Netns::new("pinr")?;
    let peer = Netns::new("pinrp")?;
    veth(&host, "eth0", &peer, "eth0")?;
    let root = PinDir::new("rename");
    let dir = dir_of(&root, &host);

    // Renamed: the pin is keyed by index, so the next run adopts the link (one program, ours).
    let mut first = monitor(&host, "eth0", &root)?;
    assert!(wait_until(Duration::from_secs(10), || attached(
        &host, "eth0"
    )
    .len()
        == 1));
    let old_program = attached(&host, "eth0")[0];
    first.signal(libc::SIGKILL);
    first.wait_timeout(Duration::from_secs(5))?;
    host.ip(&["link", "set", "eth0", "down"])?;
    host.ip(&["link", "set", "eth0", "name", "lan0"])?;
    host.ip(&["link", "set", "lan0", "up"])?;
    let mut second = monitor(&host, "lan0", &root)?;
    assert!(
        wait_until(Duration::from_secs(10), || {
            let programs = attached(&host, "lan0");
            programs.len() == 1 && programs[0] != old_program
        }),
        "the renamed interface's link was not adopted: {:?}",
        attached(&host, "lan0")
    );

    // Deleted and re-created: a new index; the defunct pin goes, a fresh attach follows.
    second.signal(libc::SIGKILL);
    second.wait_timeout(Duration::from_secs(5))?;
    let old_index = ifindex(&host, "lan0");
    host.ip(&["link", "del", "lan0"])?;
    veth(&host, "lan0", &peer, "eth1")?;
    let new_index = ifindex(&host, "lan0");
    assert_ne!(old_index, new_index);
    let mut third = monitor(&host, "lan0", &root)?;
    assert!(wait_until(Duration::from_secs(10), || attached(
        &host, "lan0"
    )
    .len()
        == 1));
    assert!(
        wait_until(Duration::from_secs(5), || link_pins(&dir)
            == vec![format!("if-{new_index}")]),
        "stale link pins left: {:?}",
        link_pins(&dir)
    );
    let out = third.stop()?;
    assert!(out.status.success());
    assert!(attached(&host, "lan0").is_empty());
    assert!(!dir.exists(), "a clean stop removes the pins");
    Ok(())
}

#[test]
fn ip_netns_exec_is_detected_and_explained() -> anyhow::Result<()> {
    let host = Netns::new("pinx")?;
    let peer = Netns::new("pinxp")?;
    veth(&host, "eth0", &peer, "eth0")?;
    let root = PinDir::new("exec");
    let out = Command::new("ip")
        .args(["netns", "exec", host.name()])
        .arg(xvrrpd_bin())
        .args([
            "monitor",
            "-i",
            "eth0",
            "--once",
            "--duration",
            "0.2",
            "--bpffs",
        ])
        .arg(root.path())
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("nsenter --net=/run/netns/{}", host.name())),
        "no hint in: {stderr}"
    );
    Ok(())
}
