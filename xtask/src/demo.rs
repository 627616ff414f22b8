//! `cargo xtask demo`: two keepalived routers and an observer on a bridged LAN of network
//! namespaces. `xvrrpd monitor` on the observer records adverts in XDP; the master's link goes
//! down, the backup takes over, the link comes back and the master preempts: each step is read
//! off the recorder's ring-buffer events and timed.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use netlab::{Keepalived, Netns, PinDir, Process, veth};
use serde_json::Value;

use crate::build_release_xvrrpd;

const ADVERT_INTERVAL_MS: f64 = 100.0;

fn router_config(name: &str, state: &str, priority: u8) -> String {
    format!(
        r#"global_defs {{
    router_id {name}
}}
vrrp_instance VI_1 {{
    state {state}
    interface eth0
    version 3
    virtual_router_id 51
    priority {priority}
    advert_int 0.1
    virtual_ipaddress {{
        192.0.2.100/24
    }}
}}
"#
    )
}

/// RFC 5798 section 6.1: 3 x interval + (256 - priority) x interval / 256.
fn master_down_ms(priority: u8) -> f64 {
    3.0 * ADVERT_INTERVAL_MS + (256.0 - priority as f64) * ADVERT_INTERVAL_MS / 256.0
}

pub fn run() -> anyhow::Result<()> {
    let xvrrpd = build_release_xvrrpd()?;

    println!(
        "\n== Building the LAN: r1 (priority 150), r2 (priority 100) and an observer on one bridge"
    );
    let lan = Netns::new("lan")?;
    lan.ip(&["link", "add", "br0", "type", "bridge"])?;
    lan.ip(&["link", "set", "br0", "up"])?;
    let r1 = Netns::new("r1")?;
    let r2 = Netns::new("r2")?;
    let observer = Netns::new("obs")?;
    for (netns, port, address) in [
        (&r1, "r1", "192.0.2.1/24"),
        (&r2, "r2", "192.0.2.2/24"),
        (&observer, "obs", "192.0.2.3/24"),
    ] {
        veth(netns, "eth0", &lan, port)?;
        lan.ip(&["link", "set", port, "master", "br0"])?;
        netns.addr("eth0", address)?;
    }

    let pins = PinDir::new("demo");
    let mut monitor = Process::spawn(
        "xvrrpd monitor",
        observer
            .enter(&xvrrpd)
            .args(["monitor", "-i", "eth0", "--json", "--bpffs"])
            .arg(pins.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    )?;
    let events = forward_lines(&mut monitor)?;
    std::thread::sleep(Duration::from_millis(500));

    let _keepalived_r1 = Keepalived::start(&r1, &router_config("r1", "MASTER", 150))?;
    let _keepalived_r2 = Keepalived::start(&r2, &router_config("r2", "BACKUP", 100))?;
    println!("== keepalived started on r1 and r2 (VRRPv3, advert_int 0.1 s, VIP 192.0.2.100)");
    wait_for_master(&events, "192.0.2.1", Duration::from_secs(10))
        .context("r1 never became master")?;
    println!("   the recorder sees r1 (192.0.2.1) as master with priority 150");
    show_routers(&events, Duration::from_millis(1200));

    println!("\n== Failover: r1's link goes down");
    let down = Instant::now();
    r1.ip(&["link", "set", "eth0", "down"])?;
    wait_for_master(&events, "192.0.2.2", Duration::from_secs(5)).context("r2 never took over")?;
    println!(
        "   r2 (192.0.2.2) took over {:.1} ms after the link went down (its Master_Down_Interval, {:.1} ms, \
         runs from the last advert it heard, up to 100 ms before that)",
        down.elapsed().as_secs_f64() * 1000.0,
        master_down_ms(100)
    );
    show_routers(&events, Duration::from_millis(1200));

    println!("\n== Recovery: r1's link comes back; with priority 150 it preempts");
    let up = Instant::now();
    r1.ip(&["link", "set", "eth0", "up"])?;
    wait_for_master(&events, "192.0.2.1", Duration::from_secs(10)).context("r1 never preempted")?;
    println!(
        "   r1 is master again {:.1} ms after its link came up",
        up.elapsed().as_secs_f64() * 1000.0
    );
    show_routers(&events, Duration::from_millis(1200));

    monitor.stop()?;
    println!("\n== Demo done: namespaces, processes and pins are cleaned up");
    Ok(())
}

/// Sends every JSON line the monitor prints to a channel.
fn forward_lines(monitor: &mut Process) -> anyhow::Result<mpsc::Receiver<Value>> {
    let stdout = monitor
        .take_stdout()
        .context("monitor stdout is not piped")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(value) = serde_json::from_str::<Value>(&line)
                && tx.send(value).is_err()
            {
                break;
            }
        }
    });
    Ok(rx)
}

/// Waits for a ring-buffer event naming `master` as the new master of VRID 51.
fn wait_for_master(
    events: &mpsc::Receiver<Value>,
    master: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = events.recv_timeout(left) else {
            break;
        };
        let new_master = line["events"]
            .as_array()
            .is_some_and(|e| e.contains(&"new_master".into()));
        if line["type"] == "event" && new_master && line["master"] == master {
            return Ok(());
        }
    }
    bail!("no new_master event for {master} within {timeout:?}")
}

/// Prints the router rows of the monitor's refreshes for a while.
fn show_routers(events: &mpsc::Receiver<Value>, period: Duration) {
    let deadline = Instant::now() + period;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = events.recv_timeout(left) else {
            break;
        };
        if line["type"] == "router" {
            println!(
                "   vrid {} v{} master {} priority {} interval {} ms, {} adverts/s, last seen {} ms ago",
                line["vrid"],
                line["version"],
                line["master"],
                line["priority"],
                line["advert_interval_ms"],
                line["adverts_per_sec"],
                line["last_seen_ms"]
            );
        }
    }
}
