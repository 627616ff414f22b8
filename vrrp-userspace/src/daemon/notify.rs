//! Notifications, as keepalived 2.2.7 sends them (vrrp/vrrp_notify.c): for an instance or a
//! sync group entering MASTER, BACKUP, FAULT or STOP, its `notify_<state>` script (with only
//! its own arguments) and its generic `notify` script (with `INSTANCE|GROUP NAME STATE
//! PRIORITY` appended; a group's priority is 0), and a line on `notify_fifo` and
//! `vrrp_notify_fifo`; `notify_master_rx_lower_pri` and the FIFO's `MASTER_RX_LOWER_PRI`,
//! `MASTER_PRIORITY` and `BACKUP_PRIORITY` lines.
//!
//! Unlike keepalived, which starts every script at once, one instance's (or group's) scripts
//! run in order: a notification's scripts start when the previous notification's have
//! finished, so a slow `notify_master` never lets a later `notify_backup` finish first. FIFO
//! lines are written at once, in order. At shutdown `notify_stop` gets [`STOP_BOUND`] (what
//! keepalived gives it), then whatever still runs is terminated with its process group.
//! `smtp_alert` is logged, not mailed.

mod fifo;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt as _;
use futures::channel::mpsc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

pub use self::fifo::{Fifo, fifo_line};
use super::child::{self, Launch, Limits};
use super::scripts::Vetted;
use crate::config::model::{Config, Notify, NotifyFifo};
use crate::engine::{InstanceId, Reason, State};
use crate::protocol::Priority;

/// How long notify scripts still have when the daemon stops (keepalived waits 1 s for
/// `notify_stop`).
pub const STOP_BOUND: Duration = Duration::from_secs(1);
/// A notify script running this long gets a warning: later notifications of its instance wait.
const SLOW_SCRIPT: Duration = Duration::from_secs(30);
const OUTPUT_LIMIT: usize = 512;

/// keepalived's name for a state in notify arguments and FIFO lines.
pub fn state_word(state: State) -> Option<&'static str> {
    match state {
        State::Master => Some("MASTER"),
        State::Backup => Some("BACKUP"),
        State::Fault => Some("FAULT"),
        State::Stopped => Some("STOP"),
        State::Initialize => None,
    }
}

/// The scripts of one instance or group, ready to run.
#[derive(Clone, Debug, Default)]
struct Plan {
    master: Option<Launch>,
    backup: Option<Launch>,
    fault: Option<Launch>,
    stop: Option<Launch>,
    any: Option<Launch>,
    master_rx_lower_pri: Option<Launch>,
    /// `notify_deleted` was given (with or without a script): an instance a reload removes
    /// reports DELETED; without it, FAULT (keepalived's older way, still its default).
    notify_deleted: bool,
    deleted: Option<Launch>,
    smtp_alert: bool,
}

impl Plan {
    fn new(notify: &Notify, vetted: &Vetted, smtp_alert: bool) -> Self {
        Self {
            master: vetted.slot(&notify.master),
            backup: vetted.slot(&notify.backup),
            fault: vetted.slot(&notify.fault),
            stop: vetted.slot(&notify.stop),
            any: vetted.slot(&notify.any),
            master_rx_lower_pri: vetted.slot(&notify.master_rx_lower_pri),
            notify_deleted: notify.deleted.is_some(),
            deleted: notify
                .deleted
                .as_ref()
                .and_then(|script| vetted.slot(script)),
            smtp_alert,
        }
    }

    fn has_scripts(&self) -> bool {
        self.master.is_some()
            || self.backup.is_some()
            || self.fault.is_some()
            || self.stop.is_some()
            || self.any.is_some()
            || self.master_rx_lower_pri.is_some()
            || self.deleted.is_some()
    }

    fn for_state(&self, state: State) -> Option<&Launch> {
        match state {
            State::Master => self.master.as_ref(),
            State::Backup => self.backup.as_ref(),
            State::Fault => self.fault.as_ref(),
            State::Stopped => self.stop.as_ref(),
            State::Initialize => None,
        }
    }
}

/// A notification's scripts, run together; the next waits for all of them.
struct Job {
    label: String,
    runs: Vec<(Launch, Vec<String>)>,
}

/// One instance's or group's ordered queue of notifications.
struct Target {
    name: String,
    plan: Plan,
    queue: Option<mpsc::UnboundedSender<Job>>,
    task: Option<JoinHandle<()>>,
    last_mailed: Option<State>,
    /// A reload removed it: its stop is reported as deleted, not as STOP.
    deleted: bool,
}

impl Target {
    fn new(name: String, plan: Plan, stop: &watch::Receiver<Option<Instant>>) -> Self {
        let (queue, task) = if plan.has_scripts() {
            let (sender, jobs) = mpsc::unbounded();
            let task = tokio::spawn(run_queue(name.clone(), jobs, stop.clone()));
            (Some(sender), Some(task))
        } else {
            (None, None)
        };
        Self {
            name,
            plan,
            queue,
            task,
            last_mailed: None,
            deleted: false,
        }
    }

    fn enqueue(&self, label: String, runs: Vec<(Launch, Vec<String>)>) {
        if runs.is_empty() {
            return;
        }
        if let Some(queue) = &self.queue
            && queue.unbounded_send(Job { label, runs }).is_err()
        {
            warn!(owner = %self.name, "notification dropped: the daemon is stopping");
        }
    }
}

/// Every notification the daemon sends.
pub struct Notifier {
    instances: Vec<Target>,
    groups: BTreeMap<String, Target>,
    fifos: Vec<Fifo>,
    /// What the FIFOs were opened from (a reload reopens them only if it changed).
    fifo_settings: Vec<NotifyFifo>,
    stop: watch::Sender<Option<Instant>>,
    stopped: watch::Receiver<Option<Instant>>,
    mail_to: Vec<String>,
}

impl Notifier {
    /// `names`: the running instances in [`InstanceId`] order.
    pub fn start(config: &Config, names: &[String], vetted: &Vetted) -> Self {
        let (stop, stopped) = watch::channel(None);
        let mut notifier = Self {
            instances: Vec::new(),
            groups: BTreeMap::new(),
            fifos: Vec::new(),
            fifo_settings: Vec::new(),
            stop,
            stopped,
            mail_to: Vec::new(),
        };
        notifier.reload(config, names, vetted);
        notifier
    }

    /// A reload: the scripts become the new configuration's. An instance or group that keeps
    /// its name keeps its queue (what it had queued still runs, in order); the FIFOs stay
    /// open unless their settings changed. Queues of instances that are gone finish what they
    /// had queued.
    pub fn reload(&mut self, config: &Config, names: &[String], vetted: &Vetted) {
        let global = &config.global;
        let default_smtp = global
            .smtp_alert_vrrp
            .or(global.smtp_alert)
            .unwrap_or(false);
        let mut old: BTreeMap<String, Target> = std::mem::take(&mut self.instances)
            .into_iter()
            .map(|t| (t.name.clone(), t))
            .collect();
        let stopped = self.stopped.clone();
        let refit = |old: Option<Target>, name: &String, plan: Plan| match old {
            Some(mut target) if target.queue.is_some() || !plan.has_scripts() => {
                target.plan = plan;
                target
            }
            _ => Target::new(name.clone(), plan, &stopped),
        };
        self.instances = names
            .iter()
            .map(|name| {
                let instance = config.instances.iter().find(|i| &i.name == name);
                let plan = instance.map_or_else(Plan::default, |i| {
                    Plan::new(&i.notify, vetted, i.smtp_alert.unwrap_or(default_smtp))
                });
                refit(old.remove(name), name, plan)
            })
            .collect();
        let mut old_groups = std::mem::take(&mut self.groups);
        self.groups = config
            .sync_groups
            .iter()
            .map(|g| {
                let plan = Plan::new(&g.notify, vetted, g.smtp_alert.unwrap_or(default_smtp));
                (
                    g.name.clone(),
                    refit(old_groups.remove(&g.name), &g.name, plan),
                )
            })
            .collect();
        let settings: Vec<NotifyFifo> = [&global.notify_fifo, &global.vrrp_notify_fifo]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        if settings != self.fifo_settings {
            for fifo in std::mem::take(&mut self.fifos) {
                tokio::spawn(fifo.close());
            }
            self.fifos = settings
                .iter()
                .filter_map(|fifo| {
                    let script = fifo.script.as_ref().and_then(|s| vetted.launch(s)).cloned();
                    Fifo::open(&fifo.path, script)
                })
                .collect();
            self.fifo_settings = settings;
        }
        self.mail_to = global.notification_email.clone();
    }

    fn write_line(&mut self, line: &str) {
        for fifo in &mut self.fifos {
            fifo.write(line);
        }
    }

    /// An instance changed state. A FAULT that only waits for scripts' first results is not
    /// notified (keepalived neither).
    pub fn instance_state(
        &mut self,
        id: InstanceId,
        to: State,
        priority: Priority,
        reason: &Reason,
    ) {
        if matches!((to, reason), (State::Fault, Reason::TrackerPending { .. })) {
            return;
        }
        let Some(word) = state_word(to) else {
            return;
        };
        let target = &self.instances[id.0];
        if target.deleted {
            return;
        }
        let name = target.name.clone();
        let mut runs = Vec::new();
        if let Some(launch) = target.plan.for_state(to) {
            runs.push((launch.clone(), Vec::new()));
        }
        if let Some(launch) = &target.plan.any {
            runs.push((
                launch.clone(),
                vec![
                    "INSTANCE".into(),
                    name.clone(),
                    word.into(),
                    priority.0.to_string(),
                ],
            ));
        }
        target.enqueue(format!("{name} {word}"), runs);
        self.write_line(&fifo_line(false, &name, word, priority.0));
        self.mail(false, id.0, to);
    }

    /// A reload removes the instance, which was in `state` at `priority` (keepalived's
    /// clear_diff_vrrp and send_instance_notifies): with `notify_deleted`, its deleted script
    /// and DELETED; without, its fault script and FAULT, unless it already was in FAULT. The
    /// stop that follows is not reported.
    pub fn instance_deleted(&mut self, id: InstanceId, state: State, priority: Priority) {
        let target = &mut self.instances[id.0];
        target.deleted = true;
        let notify_deleted = target.plan.notify_deleted;
        if !notify_deleted && state == State::Fault {
            return;
        }
        let (word, script) = if notify_deleted {
            ("DELETED", target.plan.deleted.clone())
        } else {
            ("FAULT", target.plan.fault.clone())
        };
        let name = target.name.clone();
        let mut runs: Vec<(Launch, Vec<String>)> =
            script.into_iter().map(|l| (l, Vec::new())).collect();
        if let Some(launch) = &target.plan.any {
            runs.push((
                launch.clone(),
                vec![
                    "INSTANCE".into(),
                    name.clone(),
                    word.into(),
                    priority.0.to_string(),
                ],
            ));
        }
        target.enqueue(format!("{name} {word}"), runs);
        self.write_line(&fifo_line(false, &name, word, priority.0));
    }

    /// A sync group changed state.
    pub fn group_state(&mut self, group: &str, to: State) {
        let Some(word) = state_word(to) else {
            return;
        };
        let Some(target) = self.groups.get(group) else {
            return;
        };
        let mut runs = Vec::new();
        if let Some(launch) = target.plan.for_state(to) {
            runs.push((launch.clone(), Vec::new()));
        }
        if let Some(launch) = &target.plan.any {
            runs.push((
                launch.clone(),
                vec!["GROUP".into(), group.to_owned(), word.into(), "0".into()],
            ));
        }
        target.enqueue(format!("group {group} {word}"), runs);
        self.write_line(&fifo_line(true, group, word, 0));
        if let Some(target) = self.groups.get_mut(group)
            && target.plan.smtp_alert
            && target.last_mailed != Some(to)
        {
            target.last_mailed = Some(to);
            info!(group, state = word, to = ?self.mail_to, "smtp_alert: xvrrpd logs alerts instead of mailing them");
        }
    }

    /// A master heard a lower priority advert.
    pub fn master_rx_lower(&mut self, id: InstanceId, priority: Priority) {
        let target = &self.instances[id.0];
        let name = target.name.clone();
        if let Some(launch) = &target.plan.master_rx_lower_pri {
            target.enqueue(
                format!("{name} MASTER_RX_LOWER_PRI"),
                vec![(launch.clone(), Vec::new())],
            );
        }
        self.write_line(&fifo_line(false, &name, "MASTER_RX_LOWER_PRI", priority.0));
    }

    /// The effective priority changed (only reported with `notify_priority_changes`).
    pub fn priority_changed(&mut self, id: InstanceId, state: State, priority: Priority) {
        let word = if state == State::Master {
            "MASTER_PRIORITY"
        } else {
            "BACKUP_PRIORITY"
        };
        let name = self.instances[id.0].name.clone();
        self.write_line(&fifo_line(false, &name, word, priority.0));
    }

    fn mail(&mut self, _group: bool, index: usize, state: State) {
        let target = &mut self.instances[index];
        if target.plan.smtp_alert && target.last_mailed != Some(state) {
            target.last_mailed = Some(state);
            info!(instance = %target.name, state = state_word(state).unwrap_or("?"), to = ?self.mail_to, "smtp_alert: xvrrpd logs alerts instead of mailing them");
        }
    }

    /// Lets the queued notifications (the STOP ones included) run for up to [`STOP_BOUND`],
    /// terminates what still runs after that, then stops the FIFO scripts once they have read
    /// what was written, and removes the FIFOs this daemon created.
    pub async fn shutdown(self) {
        let deadline = Instant::now() + STOP_BOUND;
        let _ = self.stop.send(Some(deadline));
        let mut tasks = Vec::new();
        for mut target in self.instances.into_iter().chain(self.groups.into_values()) {
            target.queue = None;
            tasks.extend(target.task.take());
        }
        for task in tasks {
            let _ = task.await;
        }
        for fifo in self.fifos {
            fifo.close().await;
        }
    }
}

/// Runs one owner's notifications in order until the queue closes.
async fn run_queue(
    owner: String,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    stop: watch::Receiver<Option<Instant>>,
) {
    let limits = Limits {
        timeout: None,
        grace: Duration::from_millis(100),
        reap_group: false,
        output_limit: OUTPUT_LIMIT,
    };
    while let Some(job) = jobs.next().await {
        if stop.borrow().is_some_and(|at| at <= Instant::now()) {
            warn!(%owner, notification = %job.label, "not run: the daemon stopped before its turn");
            continue;
        }
        let runs = job.runs.iter().map(|(launch, extra)| {
            run_one(&owner, &job.label, launch, extra, &limits, stop.clone())
        });
        futures::future::join_all(runs).await;
    }
}

async fn run_one(
    owner: &str,
    label: &str,
    launch: &Launch,
    extra: &[String],
    limits: &Limits,
    stop: watch::Receiver<Option<Instant>>,
) {
    let run = child::run(launch, extra, limits, Some(stop));
    tokio::pin!(run);
    let slow = tokio::time::sleep(SLOW_SCRIPT);
    tokio::pin!(slow);
    let mut warned = false;
    let result = loop {
        tokio::select! {
            result = &mut run => break result,
            () = &mut slow, if !warned => {
                warned = true;
                warn!(%owner, notification = label, script = %launch.display, after = ?SLOW_SCRIPT, "notify script still running; later notifications of this instance wait for it");
            }
        }
    };
    match result {
        Ok(done) if done.exit.success() => {
            debug!(%owner, notification = label, script = %launch.display, pid = done.pid, output = %done.output_text(), "notify script finished");
        }
        Ok(done) => {
            info!(%owner, notification = label, script = %launch.display, exit = %done.exit, output = %done.output_text(), "notify script failed");
        }
        Err(e) => {
            warn!(%owner, notification = label, script = %launch.display, error = %e, "cannot run the notify script");
        }
    }
}
