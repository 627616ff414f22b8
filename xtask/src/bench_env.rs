//! What every bench shares: the release build of xvrrpd for netlab's routers, and a line
//! describing the machine and its load, printed with every table.

use anyhow::Context as _;

/// Builds the optimised xvrrpd and makes netlab's routers run it (`XVRRPD_BIN`).
pub fn use_release_xvrrpd() -> anyhow::Result<()> {
    let xvrrpd = crate::build_release_xvrrpd()?;
    // SAFETY: set before the bench starts any thread; only netlab reads it.
    unsafe { std::env::set_var("XVRRPD_BIN", &xvrrpd) };
    let version = std::process::Command::new("keepalived")
        .arg("--version")
        .output()
        .context("keepalived is not installed (cargo xtask setup installs it)")?;
    let text = String::from_utf8_lossy(&version.stderr).into_owned()
        + &String::from_utf8_lossy(&version.stdout);
    eprintln!(
        "bench: {} and {}",
        text.lines().next().unwrap_or("keepalived").trim(),
        xvrrpd.display()
    );
    Ok(())
}

/// `kernel 6.18.0, 2 x Intel(R) ..., load average 1.02 0.80 0.60 at start`.
pub fn machine() -> String {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim())
        })
        .unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "machine: kernel {}, {cores} x {model}, load average {} when this table was printed",
        kernel.trim(),
        load.join(" ")
    )
}
