//! `cargo xtask fuzz config-diff --count N`: the differential test of the keepalived.conf
//! reader against keepalived 2.2.7 on N generated files (netlab::config_diff), as long as
//! wanted. Diverging cases are kept under target/config-diff/seed-N for a regression test.

use anyhow::bail;

use crate::{cargo, workspace_root};

pub fn run(first_seed: u64, count: u64, threads: usize) -> anyhow::Result<()> {
    cargo(&["build", "--package", "vrrp-userspace", "--bin", "xvrrpd"])?;
    let xvrrpd = workspace_root().join("target/debug/xvrrpd");
    let keep = workspace_root().join("target/config-diff");
    let started = std::time::Instant::now();
    let report = netlab::config_diff::run_batch(
        first_seed..first_seed + count,
        &xvrrpd,
        threads,
        true,
        Some(&keep),
    );
    for divergence in &report.divergences {
        println!(
            "seed {} [{}] {}\n",
            divergence.seed, divergence.kind, divergence.detail
        );
    }
    println!(
        "keepalived -t crashed (seed, code): {:?}",
        report.keepalived_crashes
    );
    println!(
        "exit codes (keepalived, xvrrpd) -> files: {:?}",
        report.codes
    );
    let mut complaints: Vec<_> = report.complaints.iter().collect();
    complaints.sort_by(|a, b| b.1.cmp(a.1));
    for (complaint, count) in complaints {
        println!("{count:5}  {complaint}");
    }
    for (seed, error) in &report.errors {
        println!("seed {seed}: not run: {error}");
    }
    println!(
        "{} in {:.1} s (seeds {first_seed}..{}); diverging cases kept in {}",
        report.summary(),
        started.elapsed().as_secs_f64(),
        first_seed + count,
        keep.display()
    );
    if !report.divergences.is_empty() || !report.errors.is_empty() {
        bail!("the differential test found divergences");
    }
    Ok(())
}
