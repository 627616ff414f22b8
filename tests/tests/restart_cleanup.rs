//! Attach, `kill -9` the userspace, start again: the pinned link keeps the interface covered
//! while nothing runs, the new run swaps its program in atomically (one program, never two),
//! re-pins its own maps, and a clean stop leaves neither a program nor a pin behind.

use std::process::{Command, Stdio};
use std::time::Duration;

use netlab::{Netns, PinDir, Process, veth, wait_until, xvrrpd_bin};
use serde_json::Value;

fn json(command: &mut Command) -> Value {
    match command.output() {
        Ok(out) if out.status.success() => {
            serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
        }
        _ => Value::Null,
    }
}

/// Ids of the XDP programs attached to `eth0` in `netns`.
fn attached_programs(netns: &Netns) -> Vec<u64> {
    let net = json(
        netns
            .enter("bpftool")
            .args(["-j", "net", "show", "dev", "eth0"]),
    );
    net[0]["xdp"]
        .as_array()
        .map(|progs| progs.iter().filter_map(|p| p["id"].as_u64()).collect())
        .unwrap_or_default()
}

/// The monitor's own pin directory under the test's `--bpffs` root.
fn monitor_dir(pins: &PinDir, netns: &Netns) -> std::path::PathBuf {
    let inode = netns.inode().expect("namespace inode");
    pins.path().join(format!("monitor-net-{inode}"))
}

fn pinned_state_map_id(pins: &PinDir, netns: &Netns) -> Option<u64> {
    json(
        Command::new("bpftool")
            .args(["-j", "map", "show", "pinned"])
            .arg(monitor_dir(pins, netns).join("vrrp_state")),
    )["id"]
        .as_u64()
}

fn program_map_ids(program: u64) -> Vec<u64> {
    let info =
        json(Command::new("bpftool").args(["-j", "prog", "show", "id", &program.to_string()]));
    info["map_ids"]
        .as_array()
        .map(|ids| ids.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

fn start_monitor(netns: &Netns, pins: &PinDir) -> anyhow::Result<Process> {
    Process::spawn(
        "xvrrpd monitor",
        netns
            .enter(xvrrpd_bin())
            .args(["monitor", "-i", "eth0", "--json", "--bpffs"])
            .arg(pins.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}

#[test]
fn kill_9_then_restart_replaces_the_program_and_the_pins() -> anyhow::Result<()> {
    let host = Netns::new("host")?;
    let peer = Netns::new("peer")?;
    veth(&host, "eth0", &peer, "eth0")?;
    let pins = PinDir::new("restart");

    let mut first = start_monitor(&host, &pins)?;
    assert!(
        wait_until(Duration::from_secs(10), || attached_programs(&host).len()
            == 1
            && pinned_state_map_id(&pins, &host).is_some()),
        "the first run never attached"
    );
    let first_program = attached_programs(&host)[0];
    let first_map = pinned_state_map_id(&pins, &host).expect("checked above");

    first.signal(libc::SIGKILL);
    first.wait_timeout(Duration::from_secs(5))?;
    // The link is pinned: the program keeps running while no userspace does.
    assert_eq!(
        attached_programs(&host),
        vec![first_program],
        "kill -9 must leave exactly the old program"
    );

    let mut second = start_monitor(&host, &pins)?;
    assert!(
        wait_until(Duration::from_secs(10), || {
            let programs = attached_programs(&host);
            programs.len() == 1
                && programs[0] != first_program
                && pinned_state_map_id(&pins, &host) != Some(first_map)
        }),
        "the restart did not swap in its program and maps: programs {:?}",
        attached_programs(&host)
    );
    let second_program = attached_programs(&host)[0];
    let second_map = pinned_state_map_id(&pins, &host).expect("checked above");
    assert!(
        program_map_ids(second_program).contains(&second_map),
        "the pinned state map must be the one the attached program writes"
    );

    let output = second.stop()?;
    assert!(output.status.success(), "a clean stop exits 0");
    assert!(attached_programs(&host).is_empty(), "a clean stop detaches");
    assert!(
        !monitor_dir(&pins, &host).exists(),
        "a clean stop removes the pins"
    );
    Ok(())
}
