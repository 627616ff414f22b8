//! `cargo xtask fuzz config-diff --count N`: the differential test of the keepalived.conf
//! reader against keepalived 2.2.7 on N generated files (netlab::config_diff), as long as
//! wanted. Diverging cases are kept under target/config-diff/seed-N for a regression test.
//! `--real-world [--files DIR]...`: the same comparison on real-world files (keepalived's
//! samples as Debian installs them, the seeds in the test data, and any directory given),
//! kept under target/config-diff/files.

use std::path::{Path, PathBuf};

use anyhow::bail;
use netlab::config_diff::{Report, files};

use crate::{cargo, workspace_root};

fn xvrrpd() -> anyhow::Result<PathBuf> {
    cargo(&["build", "--package", "vrrp-userspace", "--bin", "xvrrpd"])?;
    Ok(workspace_root().join("target/debug/xvrrpd"))
}

pub fn run(first_seed: u64, count: u64, threads: usize) -> anyhow::Result<()> {
    let xvrrpd = xvrrpd()?;
    let keep = workspace_root().join("target/config-diff");
    let started = std::time::Instant::now();
    let report = netlab::config_diff::run_batch(
        first_seed..first_seed + count,
        &xvrrpd,
        threads,
        true,
        Some(&keep),
    );
    print(&report, &keep);
    println!(
        "{} in {:.1} s (seeds {first_seed}..{})",
        report.summary(),
        started.elapsed().as_secs_f64(),
        first_seed + count,
    );
    verdict(&report)
}

pub fn run_files(dirs: &[PathBuf], threads: usize) -> anyhow::Result<()> {
    let xvrrpd = xvrrpd()?;
    let keep = workspace_root().join("target/config-diff/files");
    let all = files::real_world(&workspace_root(), dirs)?;
    let started = std::time::Instant::now();
    let report = files::run_files(&all, &xvrrpd, threads, "high", Some(&keep));
    print(&report, &keep);
    println!(
        "{} in {:.1} s (real-world files; names in {})",
        report.summary(),
        started.elapsed().as_secs_f64(),
        keep.join("names.txt").display()
    );
    verdict(&report)
}

fn print(report: &Report, keep: &Path) {
    for divergence in &report.divergences {
        let name = report
            .names
            .get(&divergence.seed)
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        println!(
            "seed {}{name} [{}] {}\n",
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
    println!("diverging cases kept in {}", keep.display());
}

fn verdict(report: &Report) -> anyhow::Result<()> {
    if !report.divergences.is_empty() || !report.errors.is_empty() {
        bail!("the differential test found divergences");
    }
    Ok(())
}
