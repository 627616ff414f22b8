//! `cargo xtask <command>`: everything a fresh machine needs, in one place.
//!
//! - `setup`: installs every prerequisite that is missing (idempotent, prints what it does).
//! - `test`: setup, then lint and the whole test suite (unit, BPF_PROG_TEST_RUN, namespaces).
//! - `demo`: setup, then a live failover between two routers in network namespaces.
//! - `fuzz`: the cargo-fuzz targets of every decoder; `fuzz config-diff --count N`: the
//!   differential test of the keepalived.conf reader against keepalived on N generated files;
//!   `fuzz config-diff --real-world [--files DIR]`: the same on real-world files.
//! - `bench xdp`: nanoseconds per packet of the XDP program.
//! - `bench engine`: received adverts per second through the VRRP engine.
//! - `bench config`: reading a 1,000-instance keepalived.conf, against `keepalived -t`.
//! - `bench failover`: takeover overshoot, GARP delay and lost pings of keepalived and xvrrpd on
//!   the same namespace bench (also under `stress-ng --cpu 4`), side by side, and a PNG.
//! - `bench scale`: 100 and 1,000 instances at 10 ms and a flood of foreign adverts, CPU,
//!   wakeups, send jitter and VIP holders of keepalived and xvrrpd side by side.
//! - `bench lb`: ns per packet of the XDP load balancer (BPF_PROG_TEST_RUN), then requests/s
//!   and p99 through a VIP in namespaces, xvrrpd against haproxy in TCP mode.
//! - `matrix`: the failover interop matrix (xvrrpd and keepalived in both roles), as tables.

mod bench_config;
mod bench_env;
mod bench_failover;
mod bench_lb;
mod bench_plot;
mod bench_reload;
mod bench_scale;
mod config_diff;
mod demo;
mod matrix;
mod procstat;
mod setup;
mod stats;

use std::process::Command;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install missing prerequisites: apt packages, nightly rust-src, bpf-linker.
    Setup,
    /// Set up, then run clippy and every test.
    Test,
    /// Set up, then show a live failover between two routers in network namespaces.
    Demo,
    /// Run the cargo-fuzz targets (vrrp-userspace/fuzz) for a while each, or with
    /// `config-diff` the differential test against keepalived on generated files.
    Fuzz {
        /// `config-diff`, or one cargo-fuzz target; every cargo-fuzz target when missing.
        target: Option<String>,
        /// Seconds per cargo-fuzz target.
        #[arg(long, default_value_t = 60)]
        seconds: u32,
        /// config-diff: how many files to generate and compare.
        #[arg(long, default_value_t = 1000)]
        count: u64,
        /// config-diff: the first seed (files are seeds first..first+count).
        #[arg(long, default_value_t = 1_000_000)]
        first_seed: u64,
        /// config-diff: cases run at once.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// config-diff: compare real-world files instead of generated ones: keepalived's
        /// samples, the seeds in vrrp-userspace/tests/data/configs, and every DIR given with
        /// --files.
        #[arg(long)]
        real_world: bool,
        /// config-diff --real-world: another directory of keepalived.conf files (repeatable).
        #[arg(long = "files", value_name = "DIR")]
        files: Vec<std::path::PathBuf>,
    },
    /// Set up, then run the failover interop matrix and print every case's table.
    Matrix {
        /// Only the cases whose test name contains this (e.g. master_keepalived_backup_keepalived).
        filter: Option<String>,
    },
    /// Run a benchmark.
    Bench {
        #[command(subcommand)]
        which: Bench,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// ns per packet of the XDP program (BPF_PROG_TEST_RUN with repeat).
    Xdp,
    /// Received adverts per second through the VRRP engine (criterion).
    Engine,
    /// Reading a 1,000-instance keepalived.conf, compared with `keepalived -t`.
    Config,
    /// 100 reloads of a master at advert_int 0.01 under ping, keepalived and xvrrpd.
    Reload,
    /// Takeover after link down, kill -9 and SIGTERM: keepalived and xvrrpd side by side.
    Failover {
        /// Trials of each failure, per daemon, variant and load.
        #[arg(long, default_value_t = 20)]
        trials: usize,
        /// Skip the second round under `stress-ng --cpu 4`.
        #[arg(long)]
        no_stress: bool,
        /// Only VRRPv3 at 10 ms (`v3`) or VRRPv2 at 1 s (`v2`).
        #[arg(long, value_parser = ["v3", "v2"])]
        only: Option<String>,
    },
    /// 100 and 1,000 instances at 10 ms, and a flood: keepalived and xvrrpd side by side.
    Scale {
        /// Seconds the 1,000-instance bench watches for false takeovers.
        #[arg(long, default_value_t = 60)]
        watch: u64,
        /// Seconds CPU and wakeups are measured over.
        #[arg(long, default_value_t = 10)]
        window: u64,
    },
    /// ns per packet of the XDP load balancer, established and new flows, DR/TUN/NAT.
    Lb,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Task::Setup => setup::install_prerequisites(),
        Task::Test => {
            setup::install_prerequisites()?;
            test()
        }
        Task::Demo => {
            setup::install_prerequisites()?;
            demo::run()
        }
        Task::Matrix { filter } => {
            setup::install_prerequisites()?;
            matrix::run(filter.as_deref())
        }
        Task::Fuzz {
            target,
            seconds,
            count,
            first_seed,
            threads,
            real_world,
            files,
        } => {
            setup::install_prerequisites()?;
            match target.as_deref() {
                Some("config-diff") if real_world => config_diff::run_files(&files, threads),
                Some("config-diff") => config_diff::run(first_seed, count, threads),
                Some(target) => fuzz(&[target], seconds, FuzzMode::Thorough),
                None => fuzz(&FUZZ_TARGETS, seconds, FuzzMode::Thorough),
            }
        }
        Task::Bench { which } => {
            setup::install_prerequisites()?;
            match which {
                Bench::Xdp => cargo(&["bench", "--package", "vrrp-userspace", "--bench", "xdp"]),
                Bench::Engine => {
                    cargo(&["bench", "--package", "vrrp-userspace", "--bench", "engine"])
                }
                Bench::Config => bench_config::run(),
                Bench::Reload => bench_reload::run(),
                Bench::Failover {
                    trials,
                    no_stress,
                    only,
                } => bench_failover::run(&bench_failover::Options {
                    trials,
                    stress: !no_stress,
                    variants: match only.as_deref() {
                        Some("v3") => vec![0],
                        Some("v2") => vec![1],
                        _ => vec![0, 1],
                    },
                }),
                Bench::Scale { watch, window } => bench_scale::run(&bench_scale::Options {
                    watch: std::time::Duration::from_secs(watch),
                    window: std::time::Duration::from_secs(window),
                }),
                Bench::Lb => bench_lb::run_bench(),
            }
        }
    }
}

fn test() -> anyhow::Result<()> {
    cargo(&["clippy", "--all-targets", "--", "-D", "warnings"])?;
    // The namespace tests run the xvrrpd binary, so build it first.
    cargo(&["build", "--package", "vrrp-userspace", "--bin", "xvrrpd"])?;
    cargo(&["test"])?;
    // The configuration reader takes files from users: fuzz it briefly on every run.
    fuzz(&["parse_config"], TEST_FUZZ_SECONDS, FuzzMode::Quick)
}

const FUZZ_TARGETS: [&str; 4] = [
    "decode_frame",
    "decode_advert",
    "parse_pcap",
    "parse_config",
];

/// How long `cargo xtask test` fuzzes the configuration reader.
const TEST_FUZZ_SECONDS: u32 = 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum FuzzMode {
    /// AddressSanitizer and any input length: `cargo xtask fuzz`.
    Thorough,
    /// No sanitizer (the code is safe Rust; it triples the runs per second) and inputs up to
    /// 4 KiB: the brief run of `cargo xtask test`.
    Quick,
}

fn fuzz(targets: &[&str], seconds: u32, mode: FuzzMode) -> anyhow::Result<()> {
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        cargo(&["install", "--locked", "cargo-fuzz@0.13.2"])?;
    }
    let fuzz_dir = workspace_root().join("vrrp-userspace");
    for target in targets {
        // The configuration fuzzer starts from real configs rather than from nothing.
        let seed_dirs: &[&str] = if *target == "parse_config" {
            &["tests/data/configs/seeds", "tests/data/configs/golden"]
        } else {
            &[]
        };
        let corpus = format!("fuzz/corpus/{target}");
        std::fs::create_dir_all(fuzz_dir.join(&corpus))?;
        let quick: &[&str] = if mode == FuzzMode::Quick {
            &["--sanitizer", "none"]
        } else {
            &[]
        };
        let mut limits = vec![format!("-max_total_time={seconds}")];
        if mode == FuzzMode::Quick {
            limits.push("-max_len=4096".to_string());
        }
        run(Command::new("cargo")
            .args(["+nightly", "fuzz", "run"])
            .args(quick)
            .args([*target, corpus.as_str()])
            .args(seed_dirs)
            .arg("--")
            .args(&limits)
            .current_dir(&fuzz_dir))?;
    }
    Ok(())
}

/// Builds the optimised `xvrrpd` binary and returns its path.
pub fn build_release_xvrrpd() -> anyhow::Result<std::path::PathBuf> {
    cargo(&[
        "build",
        "--release",
        "--package",
        "vrrp-userspace",
        "--bin",
        "xvrrpd",
    ])?;
    Ok(workspace_root().join("target/release/xvrrpd"))
}

/// Runs cargo from the workspace root and fails when it does.
pub fn cargo(args: &[&str]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    run(Command::new(cargo).args(args).current_dir(workspace_root()))
}

pub fn run(command: &mut Command) -> anyhow::Result<()> {
    eprintln!("+ {command:?}");
    let status = command
        .status()
        .with_context(|| format!("cannot start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_owned()
}
