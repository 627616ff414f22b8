//! `cargo xtask matrix [FILTER]`: the failover interop matrix of issue 8 (tests/tests/
//! failover_matrix.rs), then every case's table in one place, keepalived's baseline first.
//! `XVRRPD_BIN=/path/to/xvrrpd` tries a build from elsewhere.

use std::process::Command;
use std::time::Instant;

use anyhow::bail;

use crate::{cargo, workspace_root};

const VARIANTS: [&str; 4] = ["v2_pass_ipv4", "v3_ipv4", "v3_ipv6", "v3_unicast_ipv4"];
const PAIRINGS: [&str; 6] = [
    "master_keepalived_backup_keepalived",
    "master_xvrrpd_backup_keepalived",
    "master_keepalived_backup_xvrrpd",
    "master_xvrrpd_backup_xvrrpd",
    // The subset that runs xvrrpd's master-down timers in userspace (--no-kernel-timers).
    "master_keepalived_backup_xvrrpd_userspace_timers",
    "master_xvrrpd_backup_xvrrpd_userspace_timers",
];

pub fn run(filter: Option<&str>) -> anyhow::Result<()> {
    if std::env::var_os("XVRRPD_BIN").is_none() {
        cargo(&["build", "--package", "vrrp-userspace", "--bin", "xvrrpd"])?;
    }
    let reports = workspace_root().join("target/tmp/failover-matrix");
    let _ = std::fs::remove_dir_all(&reports);

    let start = Instant::now();
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo_bin);
    command
        .args([
            "test",
            "--package",
            "xvrrpd-tests",
            "--test",
            "failover_matrix",
        ])
        .current_dir(workspace_root());
    if let Some(filter) = filter {
        command.arg(filter);
    }
    eprintln!("+ {command:?}");
    let status = command.status()?;
    let took = start.elapsed();

    println!("\n== Failover matrix: every case's table");
    let mut printed = 0;
    let mut legend = String::new();
    for variant in VARIANTS {
        for pairing in PAIRINGS {
            let Ok(table) =
                std::fs::read_to_string(reports.join(format!("{variant}_{pairing}.txt")))
            else {
                continue;
            };
            // The legend is the same for every case: printed once, at the end.
            let (body, rest) = table.split_at(table.find("times in ms").unwrap_or(table.len()));
            print!("{body}");
            legend = rest.to_owned();
            printed += 1;
        }
    }
    print!("{legend}");
    println!(
        "{printed} cases reported in {:.0} s; captures and logs of failed cases: {}",
        took.as_secs_f64(),
        reports.display()
    );
    if !status.success() {
        bail!("the failover matrix failed (see above)");
    }
    Ok(())
}
