//! A VRRP router process in a namespace, keepalived or xvrrpd behind one interface: start with a
//! keepalived.conf text, stop with SIGTERM, crash with kill -9, start again with the same
//! configuration, read the logs of every run.

use std::fmt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::{Keepalived, Netns, PinDir, Process, TempDir, xvrrpd_bin};

/// Which daemon runs a router.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Daemon {
    /// Debian's keepalived, through netlab's keepalived command line.
    Keepalived,
    /// `xvrrpd -n -l -D -P -f CONF -p PIDFILE --bpffs PINDIR`, entered with `nsenter --net` so
    /// that it keeps the host's bpffs. `$XVRRPD_ARGS` (split on whitespace) is added to every
    /// xvrrpd started, e.g. `XVRRPD_ARGS=--no-kernel-timers` to run a suite on the fallback.
    Xvrrpd,
}

impl Daemon {
    pub fn name(self) -> &'static str {
        match self {
            Self::Keepalived => "keepalived",
            Self::Xvrrpd => "xvrrpd",
        }
    }
}

impl fmt::Display for Daemon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `$XVRRPD_ARGS`, split on whitespace.
pub fn xvrrpd_env_args() -> Vec<String> {
    std::env::var("XVRRPD_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// How a process ended after SIGTERM.
#[derive(Clone, Copy, Debug)]
pub struct Exit {
    pub status: ExitStatus,
    /// From the signal to the exit being seen (polled every 20 ms).
    pub after: Duration,
}

/// A running (or stopped) router. Its process is stopped on drop; its files (configuration,
/// pid files, logs) and pin directory are removed after that.
pub struct Router {
    // Dropped first: the process stops before its directories go.
    process: Option<Process>,
    daemon: Daemon,
    netns: Arc<Netns>,
    dir: TempDir,
    pins: PinDir,
    runs: u32,
    /// Arguments added to xvrrpd's command line.
    extra_args: Vec<String>,
}

impl Router {
    /// Starts `daemon` in `netns` with `config` as its keepalived.conf.
    pub fn start(daemon: Daemon, netns: &Arc<Netns>, config: &str) -> anyhow::Result<Self> {
        Self::start_with(daemon, netns, config, &[])
    }

    /// [`Router::start`] with `extra_args` after xvrrpd's usual ones (keepalived takes none).
    pub fn start_with(
        daemon: Daemon,
        netns: &Arc<Netns>,
        config: &str,
        extra_args: &[&str],
    ) -> anyhow::Result<Self> {
        let dir = TempDir::new(daemon.name())?;
        dir.write("keepalived.conf", config);
        let mut router = Self {
            process: None,
            daemon,
            netns: Arc::clone(netns),
            dir,
            pins: PinDir::new("router"),
            runs: 0,
            extra_args: extra_args.iter().map(|a| (*a).to_owned()).collect(),
        };
        router.spawn()?;
        Ok(router)
    }

    pub fn daemon(&self) -> Daemon {
        self.daemon
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        self.runs += 1;
        let log = std::fs::File::create(self.log_path(self.runs))?;
        let conf = self.dir.path().join("keepalived.conf");
        let mut command = match self.daemon {
            Daemon::Keepalived => Keepalived::command(&self.netns, &conf, self.dir.path()),
            Daemon::Xvrrpd => {
                let mut command = self.netns.enter(xvrrpd_bin());
                command
                    .args(["-n", "-l", "-D", "-P", "-f"])
                    .arg(&conf)
                    .arg("-p")
                    .arg(self.dir.path().join("xvrrpd.pid"))
                    .arg("--bpffs")
                    .arg(self.pins.path())
                    .args(&self.extra_args)
                    .args(xvrrpd_env_args());
                command
            }
        };
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let what = format!("{} in {}", self.daemon, self.netns.name());
        self.process = Some(Process::spawn_group(&what, &mut command)?);
        Ok(())
    }

    /// Starts the daemon again with the same configuration, pid file and pin directory (what a
    /// service manager does after a crash or a stop).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        if self.is_running() {
            bail!("{} is still running", self.daemon);
        }
        self.process = None;
        self.spawn()
    }

    /// SIGTERM to the daemon's main process (as `kill $(cat pidfile)` would), then waits up to
    /// `timeout` for it to exit; kills its process group and fails if it does not.
    pub fn terminate(&mut self, timeout: Duration) -> anyhow::Result<Exit> {
        let process = self.process.as_mut().context("not running")?;
        let start = Instant::now();
        process.signal(libc::SIGTERM);
        match process.wait_timeout(timeout) {
            Ok(output) => Ok(Exit {
                status: output.status,
                after: start.elapsed(),
            }),
            Err(error) => {
                let _ = process.kill_group();
                Err(error.context(format!("{} ignored SIGTERM", self.daemon)))
            }
        }
    }

    /// kill -9 of the daemon and every process it forked (keepalived's VRRP child would
    /// otherwise see its parent die and stop cleanly, sending priority 0: not a crash).
    pub fn kill(&mut self) -> anyhow::Result<ExitStatus> {
        let process = self.process.as_mut().context("not running")?;
        Ok(process.kill_group()?.status)
    }

    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(Process::is_running)
    }

    /// Fails, with the end of the log, when the daemon has exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if self.is_running() {
            return Ok(());
        }
        bail!(
            "{} in {} exited; its log ends with:\n{}",
            self.daemon,
            self.netns.name(),
            self.log_tail(30)
        )
    }

    /// The daemon's pid (xvrrpd is exec'd by nsenter, so it is the process started).
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Process::pid)
    }

    /// The pin directory (xvrrpd's `--bpffs`).
    pub fn pin_dir(&self) -> &std::path::Path {
        self.pins.path()
    }

    /// The pid file xvrrpd is started with.
    pub fn pid_file(&self) -> PathBuf {
        self.dir.path().join("xvrrpd.pid")
    }

    /// The configuration file.
    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("keepalived.conf")
    }

    fn log_path(&self, run: u32) -> PathBuf {
        self.dir.path().join(format!("run{run}.log"))
    }

    /// The logs (stdout and stderr) of every run so far, each after a `--- run N ---` line.
    pub fn log(&self) -> String {
        (1..=self.runs)
            .map(|run| {
                let text = std::fs::read_to_string(self.log_path(run)).unwrap_or_default();
                format!("--- run {run} ---\n{text}")
            })
            .collect()
    }

    /// The last `lines` lines of [`Router::log`].
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}
