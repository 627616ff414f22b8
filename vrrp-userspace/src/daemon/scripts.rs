//! `vrrp_script` checks: each runs every `interval`, is killed with its whole process group
//! after `timeout` (a failure, as in keepalived), and its exit status (0 = OK) goes to the
//! engine as a [`crate::engine::Event::ScriptResult`]. Never on the protocol loop: each script
//! has its own task, and children are always reaped.

use std::os::unix::process::CommandExt as _;
use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt as _;
use futures::channel::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::resolve::{Resolved, ScriptSpec, TrackedObject};
use crate::engine::TrackerId;

/// How long a timed-out script gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_millis(100);

/// One finished run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScriptResult {
    pub tracker: TrackerId,
    pub success: bool,
}

/// The running checks.
pub struct Scripts {
    results: mpsc::UnboundedReceiver<ScriptResult>,
    tasks: Vec<JoinHandle<()>>,
}

impl Scripts {
    pub fn start(resolved: &Resolved) -> std::io::Result<Self> {
        let (sender, results) = mpsc::unbounded();
        let tasks = resolved
            .trackers
            .iter()
            .enumerate()
            .filter_map(|(number, object)| match object {
                TrackedObject::Script(spec) => Some((TrackerId(number as u32), spec.clone())),
                _ => None,
            })
            .map(|(tracker, spec)| {
                let sender = sender.clone();
                tokio::spawn(async move {
                    let mut next = tokio::time::Instant::now();
                    loop {
                        let success = run_once(&spec).await;
                        if sender
                            .unbounded_send(ScriptResult { tracker, success })
                            .is_err()
                        {
                            return;
                        }
                        // The next run starts one interval after the previous one started.
                        next += spec.interval;
                        tokio::time::sleep_until(next.max(tokio::time::Instant::now())).await;
                    }
                })
            })
            .collect();
        Ok(Self { results, tasks })
    }

    /// The next result of any script.
    pub async fn next(&mut self) -> Option<ScriptResult> {
        if self.tasks.is_empty() {
            return std::future::pending().await;
        }
        self.results.next().await
    }

    /// Stops every check (a run in progress is killed with its group by the drop of its task).
    pub async fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Runs the script once; `true` when it exited with status 0 within its timeout.
async fn run_once(spec: &ScriptSpec) -> bool {
    let Some((program, args)) = spec.argv.split_first() else {
        return false;
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    // Its own process group, so that a timeout kills whatever it started too.
    command.as_std_mut().process_group(0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            warn!(script = %spec.name, program, error = %e, "cannot run the check script");
            return false;
        }
    };
    let group = child.id().map(|pid| pid as libc::pid_t);
    match tokio::time::timeout(spec.timeout, child.wait()).await {
        Ok(Ok(status)) => {
            debug!(script = %spec.name, %status, "check script finished");
            status.success()
        }
        Ok(Err(e)) => {
            warn!(script = %spec.name, error = %e, "waiting for the check script failed");
            false
        }
        Err(_) => {
            warn!(script = %spec.name, timeout = ?spec.timeout, "check script timed out; killing its process group");
            if let Some(group) = group {
                // SAFETY: signalling the process group we created for this child.
                unsafe { libc::kill(-group, libc::SIGTERM) };
                if tokio::time::timeout(KILL_GRACE, child.wait())
                    .await
                    .is_err()
                {
                    unsafe { libc::kill(-group, libc::SIGKILL) };
                }
            }
            let _ = child.wait().await;
            false
        }
    }
}
