//! `vrrp_script` checks: each runs every `interval` (sub-second intervals included), is killed
//! with its whole process group after `timeout` (SIGTERM, then SIGKILL; counted as a failure,
//! as in keepalived), leaves nothing running behind, and its exit status (0 = OK) goes to the
//! engine as a [`crate::engine::Event::ScriptResult`], which counts `rise` and `fall`. Never on
//! the protocol loop: each script has its own task, at most [`MAX_PARALLEL`] run at once, and
//! every child is reaped.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use futures::channel::mpsc;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::child::{self, Exit, Launch, Limits};
use crate::engine::TrackerId;

/// Check scripts running at the same time, at most; a run waits for a slot beyond that (and
/// a warning says so once).
pub const MAX_PARALLEL: usize = 32;
/// Output kept per run for the debug log.
pub const OUTPUT_LIMIT: usize = 512;

/// One `vrrp_script` to run.
#[derive(Clone, Debug)]
pub struct CheckSpec {
    pub tracker: TrackerId,
    pub name: String,
    pub launch: Launch,
    pub interval: Duration,
    pub timeout: Duration,
}

/// One finished run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScriptResult {
    pub tracker: TrackerId,
    pub success: bool,
    /// From the start of the run to its end (or to the failure to start it).
    pub took: Duration,
}

/// The running checks.
pub struct Checks {
    results: mpsc::UnboundedReceiver<ScriptResult>,
    tasks: Vec<JoinHandle<()>>,
    stop: watch::Sender<Option<Instant>>,
}

impl Checks {
    pub fn start(specs: Vec<CheckSpec>, max_parallel: usize) -> Self {
        let (sender, results) = mpsc::unbounded();
        let (stop, stopped) = watch::channel(None);
        let slots = Arc::new(Semaphore::new(max_parallel.max(1)));
        let tasks = specs
            .into_iter()
            .map(|spec| {
                tokio::spawn(check_loop(
                    spec,
                    sender.clone(),
                    Arc::clone(&slots),
                    stopped.clone(),
                ))
            })
            .collect();
        Self {
            results,
            tasks,
            stop,
        }
    }

    /// The next result of any script.
    pub async fn next(&mut self) -> Option<ScriptResult> {
        if self.tasks.is_empty() {
            return std::future::pending().await;
        }
        self.results.next().await
    }

    /// Stops every check: a run in progress gets SIGTERM with its group, SIGKILL 100 ms later.
    pub async fn stop(&mut self) {
        let _ = self.stop.send(Some(Instant::now()));
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

/// keepalived gives a timed-out script 2 s between SIGTERM and SIGKILL; a sub-second check
/// gets at most its interval.
fn grace(spec: &CheckSpec) -> Duration {
    spec.interval
        .clamp(Duration::from_millis(10), Duration::from_secs(2))
}

async fn check_loop(
    spec: CheckSpec,
    results: mpsc::UnboundedSender<ScriptResult>,
    slots: Arc<Semaphore>,
    stop: watch::Receiver<Option<Instant>>,
) {
    let limits = Limits {
        timeout: Some(spec.timeout),
        grace: grace(&spec),
        reap_group: true,
        output_limit: OUTPUT_LIMIT,
    };
    let mut next = Instant::now();
    let mut last_exit: Option<Exit> = None;
    let mut waited_for_slot = false;
    loop {
        if stop.borrow().is_some() {
            return;
        }
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if !waited_for_slot {
                    warn!(script = %spec.name, limit = MAX_PARALLEL, "too many check scripts running at once; this one waits for a slot");
                    waited_for_slot = true;
                }
                match Arc::clone(&slots).acquire_owned().await {
                    Ok(permit) => permit,
                    Err(_) => return,
                }
            }
        };
        if stop.borrow().is_some() {
            // Stopped while this check waited for its slot: no new run.
            return;
        }
        let started = Instant::now();
        let outcome = child::run(&spec.launch, &[], &limits, Some(stop.clone())).await;
        drop(permit);
        let success = match outcome {
            Ok(done) => {
                if done.exit == Exit::Stopped {
                    return;
                }
                debug!(script = %spec.name, pid = done.pid, exit = %done.exit, took_ms = started.elapsed().as_millis() as u64, output = %done.output_text(), "check script finished");
                if last_exit != Some(done.exit) {
                    // keepalived: "Script `x` now returning N", once per change.
                    match done.exit {
                        Exit::TimedOut => {
                            warn!(script = %spec.name, timeout = ?spec.timeout, "check script timed out; its process group was killed")
                        }
                        exit => info!(script = %spec.name, %exit, "check script now returns"),
                    }
                    last_exit = Some(done.exit);
                }
                done.exit.success()
            }
            Err(e) => {
                if last_exit.is_some() || next == started {
                    warn!(script = %spec.name, program = %spec.launch.program.display(), error = %e, "cannot run the check script");
                }
                last_exit = None;
                false
            }
        };
        if results
            .unbounded_send(ScriptResult {
                tracker: spec.tracker,
                success,
                took: started.elapsed(),
            })
            .is_err()
        {
            return;
        }
        // The next run starts one interval after the previous one started; one that ran
        // longer than its interval is followed at once (runs never overlap).
        next += spec.interval;
        let now = Instant::now();
        if next < now {
            next = now;
        }
        let mut stop = stop.clone();
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            _ = stop.wait_for(Option::is_some) => return,
        }
    }
}
