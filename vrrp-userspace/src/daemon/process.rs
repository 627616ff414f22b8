//! The process itself: privileges, the pid file that makes one daemon per file, default paths
//! that differ per network namespace, and timer slack.

use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};

/// What the daemon cannot start without, said so the user knows what to change.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(
        "missing capabilities: {missing}; run xvrrpd as root, or grant them (systemd: AmbientCapabilities={missing})"
    )]
    Capabilities { missing: String },
    #[error(
        "another xvrrpd (pid {pid}) is running with pid file {}; stop it first, or give this one another -p/--pid file", path.display()
    )]
    AlreadyRunning { path: PathBuf, pid: String },
    #[error("cannot use pid file {}", path.display())]
    PidFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Linux capability numbers (include/uapi/linux/capability.h).
const CAP_NET_ADMIN: u32 = 12;
const CAP_NET_RAW: u32 = 13;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Checks the effective capabilities the daemon needs: NET_ADMIN (addresses, links, XDP),
/// NET_RAW (raw and packet sockets), BPF and PERFMON (or SYS_ADMIN, which covers both) to load
/// the XDP program (measured: the verifier refuses it without PERFMON).
pub fn check_capabilities() -> Result<(), ProcessError> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let effective = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0);
    let has = |cap: u32| effective & (1 << cap) != 0;
    let mut missing = Vec::new();
    if !has(CAP_NET_ADMIN) {
        missing.push("CAP_NET_ADMIN");
    }
    if !has(CAP_NET_RAW) {
        missing.push("CAP_NET_RAW");
    }
    if !has(CAP_BPF) && !has(CAP_SYS_ADMIN) {
        missing.push("CAP_BPF");
    }
    if !has(CAP_PERFMON) && !has(CAP_SYS_ADMIN) {
        missing.push("CAP_PERFMON");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ProcessError::Capabilities {
            missing: missing.join(" "),
        })
    }
}

/// The inode of this process's network namespace: what tells two namespaces apart.
pub fn netns_inode() -> Option<u64> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self/ns/net").ok().map(|m| m.ino())
}

/// Whether this process runs in the host's (PID 1's) network namespace.
pub fn in_initial_netns() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let init = std::fs::metadata("/proc/1/ns/net").ok().map(|m| m.ino());
    init.is_some() && init == netns_inode()
}

/// The default pid file: `/run/xvrrpd.pid` in the host's namespace, and one per namespace
/// elsewhere, so daemons in different namespaces never collide.
pub fn default_pid_file() -> PathBuf {
    match netns_inode() {
        Some(inode) if !in_initial_netns() => PathBuf::from(format!("/run/xvrrpd.net-{inode}.pid")),
        _ => PathBuf::from("/run/xvrrpd.pid"),
    }
}

/// A pid file locked for the life of the process (an flock, so it is released even by
/// `kill -9`) and removed on a clean exit.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    file: File,
}

impl PidFile {
    pub fn acquire(path: &Path) -> Result<Self, ProcessError> {
        let error = |source| ProcessError::PidFile {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(error)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(error)?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let pid = std::fs::read_to_string(path).unwrap_or_default();
            return Err(ProcessError::AlreadyRunning {
                path: path.to_owned(),
                pid: pid.trim().to_owned(),
            });
        }
        file.set_len(0).map_err(error)?;
        writeln!(file, "{}", std::process::id()).map_err(error)?;
        Ok(Self {
            path: path.to_owned(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the file (the lock goes with the descriptor).
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

/// Asks the kernel to fire our timers on time: the default 50 us of timer slack would be
/// added to every protocol deadline.
pub fn minimize_timer_slack() {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1u64, 0u64, 0u64, 0u64) };
}

/// The real-time priority xvrrpd runs at when the configuration sets neither
/// `vrrp_rt_priority` nor `vrrp_priority`. keepalived runs as an ordinary process unless told,
/// and its users see false failovers when a busy host delays its adverts; the lowest SCHED_RR
/// priority puts the daemon ahead of every ordinary process and behind any real-time one.
pub const DEFAULT_RT_PRIORITY: i32 = 1;

/// keepalived's default `vrrp_rlimit_rttime` (microseconds), when `vrrp_rt_priority` is set.
const KEEPALIVED_RLIMIT_RTTIME_US: u64 = 10_000;

/// Linux's SCHED_RESET_ON_FORK: scripts the daemon starts run as ordinary processes.
const SCHED_RESET_ON_FORK: libc::c_int = 0x4000_0000;
/// Linux's MCL_ONFAULT: lock pages as they are touched, not the whole address space at once.
const MCL_ONFAULT: libc::c_int = 4;

/// keepalived's process tuning (`vrrp_rt_priority`, `vrrp_priority`, `vrrp_rlimit_rttime`,
/// `vrrp_no_swap`) for this thread, the protocol loop; returns what could not be done, for the
/// log. Without either priority keyword the loop runs at [`DEFAULT_RT_PRIORITY`], with no
/// RTTIME limit (the kernel's real-time throttling still bounds it). Threads started later
/// inherit the policy: [`ordinary_thread`] puts them back.
pub fn set_scheduling(tuning: &crate::config::model::Tuning) -> Vec<String> {
    let mut problems = Vec::new();
    let (rt_priority, rlimit_us) = match (tuning.vrrp_rt_priority, tuning.vrrp_priority) {
        (Some(priority), _) => (
            Some(priority),
            Some(
                tuning
                    .vrrp_rlimit_rttime
                    .unwrap_or(KEEPALIVED_RLIMIT_RTTIME_US),
            ),
        ),
        (None, Some(_)) => (None, None),
        (None, None) => (Some(DEFAULT_RT_PRIORITY), None),
    };
    if let Some(priority) = rt_priority {
        let param = libc::sched_param {
            sched_priority: priority,
        };
        // SAFETY: sched_setscheduler on the calling thread with a valid parameter.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_RR | SCHED_RESET_ON_FORK, &param) } != 0
        {
            problems.push(format!(
                "cannot run at real-time priority {priority} (SCHED_RR; needs CAP_SYS_NICE): {}; \
                 a busy host may delay adverts",
                std::io::Error::last_os_error()
            ));
        } else if let Some(limit) = rlimit_us {
            // keepalived warns at half the limit and is killed at the limit; SIGXCPU's default
            // would kill at the soft limit already, so only the hard limit is set.
            let rlimit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            // SAFETY: setrlimit with a valid structure.
            if unsafe { libc::setrlimit(libc::RLIMIT_RTTIME, &rlimit) } != 0 {
                problems.push(format!(
                    "cannot set vrrp_rlimit_rttime {limit}: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
    } else if let Some(nice) = tuning.vrrp_priority {
        // SAFETY: setpriority on this process.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) } != 0 {
            problems.push(format!(
                "cannot set vrrp_priority {nice}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    if tuning.vrrp_no_swap {
        // SAFETY: mlockall with flags only.
        if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE | MCL_ONFAULT) } != 0 {
            problems.push(format!(
                "vrrp_no_swap: cannot lock the daemon in memory: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    problems
}

/// Puts the calling thread back to ordinary scheduling: the runtime's blocking threads (a
/// configuration being read for a reload) must not compete with the protocol loop.
pub fn ordinary_thread() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler on the calling thread with a valid parameter.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_daemon_with_the_same_pid_file_is_refused() {
        let path = std::env::temp_dir().join(format!("xvrrpd-pid-test-{}", std::process::id()));
        let first = PidFile::acquire(&path).expect("first");
        let second = PidFile::acquire(&path).expect_err("second must be refused");
        assert!(
            matches!(&second, ProcessError::AlreadyRunning { pid, .. } if *pid == std::process::id().to_string()),
            "{second}"
        );
        first.remove();
        assert!(!path.exists());
    }
}
