//! `cargo xtask bench config`: the criterion bench of reading and validating a 1,000-instance
//! keepalived.conf, then `keepalived -t` and `xvrrpd -t` timed on the very same file, as whole
//! processes, in a network namespace that has the four interfaces the file names.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use netlab::{Netns, veth};

use crate::{build_release_xvrrpd, cargo, workspace_root};

const RUNS: usize = 7;

pub fn run() -> anyhow::Result<()> {
    cargo(&["bench", "--package", "vrrp-userspace", "--bench", "config"])?;
    let xvrrpd = build_release_xvrrpd()?;
    let file = workspace_root().join("target/tmp/config-bench/keepalived.conf");
    anyhow::ensure!(file.exists(), "the bench did not leave {}", file.display());

    let host = Netns::new("cfgbench")?;
    let peer = Netns::new("cfgpeer")?;
    for index in 0..4 {
        veth(&host, &format!("eth{index}"), &peer, &format!("p{index}"))?;
    }
    let keepalived = time_runs(&host, "keepalived", &["-t", "-l", "-n", "-f"], &file)?;
    let ours = time_runs(
        &host,
        xvrrpd.to_str().context("path is UTF-8")?,
        &["-t", "-f"],
        &file,
    )?;

    let lines = std::fs::read_to_string(&file)?.lines().count();
    println!(
        "\n== Config test of {} ({lines} lines, 1000 instances), median of {RUNS} runs, whole process",
        file.display()
    );
    for (name, (median, code)) in [("keepalived -t (2.2.7)", keepalived), ("xvrrpd -t", ours)] {
        println!(
            "{name:<22} {:>9.1} ms   exit code {code}",
            median.as_secs_f64() * 1e3
        );
    }
    println!(
        "xvrrpd is {:.1}x faster (the criterion figure above is the reader alone, without process start)",
        keepalived.0.as_secs_f64() / ours.0.as_secs_f64()
    );
    Ok(())
}

/// Median wall time of `program args file` in `netns`, and the exit code of the last run.
fn time_runs(
    netns: &Netns,
    program: &str,
    args: &[&str],
    file: &Path,
) -> anyhow::Result<(Duration, i32)> {
    let mut times = Vec::with_capacity(RUNS);
    let mut code = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let output = netns
            .exec(program)
            .args(args)
            .arg(file)
            .output()
            .with_context(|| format!("running {program}"))?;
        times.push(start.elapsed());
        code = output.status.code().unwrap_or(-1);
    }
    times.sort();
    // Keep the command visible in case it failed for a reason worth reading.
    if code != 0 {
        eprintln!("note: {program} -t exited with {code}");
    }
    Ok((times[RUNS / 2], code))
}
