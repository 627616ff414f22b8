//! What operators see of the running loop: the book kept beside the engine, the status report,
//! control-socket commands, keepalived's dump files on its signals, the flight recorder, the
//! metrics endpoint and systemd notifications. Kept apart from the loop's protocol work.

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::{broadcast, mpsc};
use tracing::{info, warn};

use super::Runtime;
use crate::daemon::control::{self, Command, Reply, Request, SocketAddress};
use crate::daemon::dumps::{self, Dump, DumpPaths};
use crate::daemon::recorder::Recorder;
use crate::daemon::resolve::{ReceiveMode, TrackedObject};
use crate::daemon::sdnotify::Notifier;
use crate::daemon::status::{
    AddressReport, Book, CountersReport, InstanceDetails, InstanceReport, InterfaceReport,
    MasterReport, Report, ScriptReport, TrackerReport, TransitionEvent,
};
use crate::daemon::{metrics, timer};
use crate::engine::{Action, Destination, InstanceId, TrackerKind};
use crate::protocol::{Auth, Family};

/// How operators reach the daemon (from the command line).
#[derive(Clone, Debug)]
pub struct OperationsOptions {
    pub config_file: PathBuf,
    pub socket: SocketAddress,
    pub metrics_listen: Option<SocketAddr>,
    pub record_events: Option<PathBuf>,
    /// keepalived's `net_namespace`, which names its data dump.
    pub net_namespace: Option<String>,
    /// How the configuration is read again on a reload.
    pub load: crate::config::LoadOptions,
    /// `--strict-config`: a reload with warnings is refused too.
    pub strict_config: bool,
}

/// keepalived's dump signals: SIGUSR1 data, SIGUSR2 stats, SIGRTMIN+2 JSON (SIGJSON).
pub struct DumpSignals {
    usr1: Signal,
    usr2: Signal,
    json: Signal,
}

impl DumpSignals {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            usr1: signal(SignalKind::user_defined1())?,
            usr2: signal(SignalKind::user_defined2())?,
            json: signal(SignalKind::from_raw(libc::SIGRTMIN() + 2))?,
        })
    }

    pub async fn next(&mut self) -> Dump {
        tokio::select! {
            _ = self.usr1.recv() => Dump::Data,
            _ = self.usr2.recv() => Dump::Stats,
            _ = self.json.recv() => Dump::Json,
        }
    }
}

pub struct Operations {
    pub(super) book: Book,
    transitions: broadcast::Sender<TransitionEvent>,
    pub commands: mpsc::Receiver<Command>,
    pub signals: DumpSignals,
    recorder: Option<Recorder>,
    dumps: DumpPaths,
    pub notifier: Notifier,
    pub(super) config_file: PathBuf,
    pub(super) load: crate::config::LoadOptions,
    pub(super) strict_config: bool,
}

impl Operations {
    /// Binds the control socket (and the metrics endpoint), opens the recording.
    pub async fn start(options: &OperationsOptions, count: usize) -> anyhow::Result<Self> {
        let (transitions, _) = broadcast::channel(256);
        let (commands_tx, commands) = mpsc::channel(16);
        match control::serve(&options.socket, transitions.clone(), commands_tx.clone()) {
            Ok(()) => info!(socket = %options.socket, "control socket ready"),
            Err(e) => {
                warn!(socket = %options.socket, error = %e, "no control socket: `xvrrpd status` will not reach this daemon (another daemon of the same configuration file in this namespace?)")
            }
        }
        if let Some(listen) = options.metrics_listen {
            metrics::serve(listen, commands_tx).await?;
            info!(%listen, "Prometheus metrics on /metrics");
        }
        Ok(Self {
            book: Book::new(count, timer::now()),
            transitions,
            commands,
            signals: DumpSignals::new()?,
            recorder: None,
            dumps: DumpPaths::new(options.net_namespace.clone()),
            notifier: Notifier::from_env(),
            config_file: options.config_file.clone(),
            load: options.load.clone(),
            strict_config: options.strict_config,
        })
    }
}

impl Runtime {
    /// Notes an action in the book; a transition also goes to `watch` clients.
    pub(super) fn note(&mut self, id: InstanceId, action: &Action) {
        let now = timer::now();
        let why = match action {
            Action::StateChanged { reason, .. } => self.describe(id, reason),
            _ => String::new(),
        };
        let record = self.ops.book.record(id, action, now, why);
        if let (Some(transition), Action::StateChanged { priority, .. }) = (record, action) {
            let _ = self.ops.transitions.send(TransitionEvent {
                instance: self.resolved.instances[id.0].name.clone(),
                priority: priority.0,
                transition,
            });
        }
    }

    /// Starts the flight recorder (the router keeps a journal from now on).
    pub(super) fn start_recording(&mut self, file: &std::path::Path) -> std::io::Result<()> {
        let configs: Vec<_> = self
            .resolved
            .instances
            .iter()
            .map(|i| i.engine.clone())
            .collect();
        self.ops.recorder = Some(Recorder::start(file, &configs, &self.resolved.sync_groups)?);
        self.router.keep_journal(true);
        info!(file = %file.display(), "recording every engine input");
        Ok(())
    }

    /// Writes what the router was given since the last call.
    pub(super) fn flush_journal(&mut self) {
        let entries = self.router.take_journal();
        if let Some(recorder) = &mut self.ops.recorder
            && let Err(e) = recorder.write(&entries)
        {
            warn!(file = %recorder.path().display(), error = %e, "the flight recorder stopped");
            self.ops.recorder = None;
            self.router.keep_journal(false);
        }
    }

    pub(super) async fn command(&mut self, command: Command) {
        let reply = match command.request {
            Request::Status => Reply::Status(Box::new(self.status_report())),
            Request::RecordStart { file } => match self.start_recording(&file) {
                Ok(()) => Reply::Done {
                    message: format!("recording to {}", file.display()),
                },
                Err(e) => Reply::Failed {
                    message: format!("cannot record to {}: {e}", file.display()),
                },
            },
            Request::RecordStop => {
                self.flush_journal();
                self.router.keep_journal(false);
                match self.ops.recorder.take() {
                    Some(recorder) => Reply::Done {
                        message: format!("recording in {} stopped", recorder.path().display()),
                    },
                    None => Reply::Failed {
                        message: "nothing was being recorded".into(),
                    },
                }
            }
            Request::Reload => return self.request_reload(Some(command.reply)),
            Request::Watch => Reply::Failed {
                message: "watch is served by the socket itself".into(),
            },
        };
        let _ = command.reply.send(reply);
    }

    /// Writes one of keepalived's dump files.
    pub(super) fn dump(&self, which: Dump) {
        match dumps::write(&self.ops.dumps, which, &self.status_report()) {
            Ok(path) => info!(file = %path.display(), "dump written"),
            Err(e) => warn!(dump = ?which, error = %e, "cannot write the dump"),
        }
    }

    /// Everything `xvrrpd status` shows, from the book, the engine, the host and the kernel.
    pub(super) fn status_report(&self) -> Report {
        let now = timer::now();
        let kernel_now = now.as_nanos();
        let instances = self
            .router
            .instances()
            .map(|(id, engine)| {
                let resolved = &self.resolved.instances[id.0];
                let config = engine.config();
                let (state, rx) = self.receive.kernel_view(id);
                let master = state.filter(|s| s.last_seen_ns != 0).map(|s| MasterReport {
                    address: resolved.receive.family.addr_from(&s.master_addr),
                    priority: s.master_priority,
                    advert_interval_ms: u64::from(s.master_interval_cs) * 10,
                    last_heard_ms_ago: kernel_now.saturating_sub(s.last_seen_ns) / 1_000_000,
                });
                let trackers = engine
                    .trackers()
                    .iter()
                    .map(|t| {
                        let object = &self.resolved.trackers[t.id().0 as usize];
                        TrackerReport {
                            name: self.resolved.tracker_name(t.id()).to_owned(),
                            kind: match object {
                                TrackedObject::Interface(_) => "interface",
                                TrackedObject::Script(_) => "script",
                                TrackedObject::File(_) => "file",
                                TrackedObject::Process(_) => "process",
                            }
                            .to_owned(),
                            weight: t.config().weight,
                            reverse: t.config().reverse,
                            up: t.is_up(),
                            contribution: t.adjustment(),
                        }
                    })
                    .collect();
                let addresses = resolved
                    .addresses
                    .iter()
                    .map(|a| AddressReport {
                        address: format!(
                            "{} dev {} scope {}{}",
                            a.prefix,
                            a.link.name,
                            match a.scope {
                                253 => "link",
                                254 => "host",
                                200 => "site",
                                _ => "global",
                            },
                            a.label
                                .as_ref()
                                .map_or(String::new(), |l| format!(" label {l}"))
                        ),
                        excluded: a.excluded,
                        present: self
                            .host
                            .interface(&a.link.name)
                            .is_some_and(|i| i.has_address(a.prefix.addr)),
                    })
                    .collect();
                let counters = self.ops.book.counters(id);
                let mut other = std::collections::BTreeMap::new();
                for (name, value) in [
                    ("version", rx.version),
                    ("checksum", rx.checksum),
                    ("interval_mismatch", rx.interval_mismatch),
                    ("not_a_peer", rx.not_a_peer),
                    ("ignored_down", rx.ignored_down),
                ] {
                    other.insert(name.to_owned(), value);
                }
                let garp = &config.garp;
                let details = InstanceDetails {
                    auth_type: match config.auth {
                        Auth::None => 0,
                        Auth::Pass(_) => 1,
                        Auth::Ah => 2,
                    },
                    auth_pass: match config.auth {
                        Auth::Pass(pass) => String::from_utf8_lossy(&pass)
                            .trim_end_matches('\0')
                            .to_owned(),
                        _ => String::new(),
                    },
                    multicast_group: match &config.destination {
                        Destination::Multicast { group } => Some(*group),
                        Destination::Unicast { .. } => None,
                    },
                    unicast_peers: match &resolved.receive.mode {
                        ReceiveMode::Unicast { peers, .. } => {
                            peers.iter().map(|p| p.addr).collect()
                        }
                        ReceiveMode::Multicast { .. } => Vec::new(),
                    },
                    garp_delay_s: garp.master_delay.map_or(0.0, |d| d.as_secs_f64()),
                    garp_repeat: garp.master_repeat,
                    garp_refresh_s: garp.master_refresh.map_or(0.0, |d| d.as_secs_f64()),
                    garp_refresh_repeat: garp.master_refresh_repeat,
                    garp_lower_prio_delay_s: garp.lower_prio_delay.map_or(0.0, |d| d.as_secs_f64()),
                    garp_lower_prio_repeat: garp.lower_prio_repeat,
                    down_timer_adverts: config.down_timer_adverts,
                    lower_prio_no_advert: config.lower_prio_no_advert,
                    higher_prio_send_advert: config.higher_prio_send_advert,
                    vmac: resolved.vmac.as_ref().map(|v| v.name.clone()),
                    track_link: resolved.track_link,
                };
                let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
                InstanceReport {
                    name: resolved.name.clone(),
                    interface: resolved.link.name.clone(),
                    vrid: config.vrid.0,
                    family: match resolved.receive.family {
                        Family::Ipv4 => "IPv4",
                        Family::Ipv6 => "IPv6",
                    }
                    .to_owned(),
                    version: config.version().number(),
                    state: engine.state().name().to_owned(),
                    since_unix: self.ops.book.since_unix(id),
                    in_state_s: self.ops.book.in_state_for(id, now).as_secs_f64(),
                    base_priority: engine.base_priority().0,
                    effective_priority: engine.priority().0,
                    trackers,
                    master,
                    advert_interval_ms: ms(config.advert_interval),
                    master_adver_interval_ms: ms(engine.master_adver_interval()),
                    master_down_interval_ms: ms(engine.master_down_interval()),
                    preempt: config.preempt,
                    preempt_delay_ms: ms(config.preempt_delay),
                    source: self.source_of(id),
                    addresses,
                    last_transition: self.ops.book.last_transition(id).cloned(),
                    transitions: self.ops.book.transitions(id),
                    failovers: self.ops.book.failovers(id).clone(),
                    counters: CountersReport {
                        adverts_received: rx.received,
                        adverts_sent: counters.adverts_sent,
                        became_master: counters.became_master,
                        released_master: counters.released_master,
                        packet_length_errors: rx.length,
                        ttl_errors: rx.ttl,
                        invalid_type: rx.invalid_type,
                        // keepalived never counts it (it drops a v2 interval mismatch
                        // silently); ours is in `other`.
                        advert_interval_errors: 0,
                        address_list_errors: rx.address_list,
                        auth_invalid_type: rx.auth_invalid_type,
                        auth_type_mismatch: rx.auth_type_mismatch,
                        auth_failure: rx.auth_failure,
                        priority_zero_received: rx.priority_zero_received,
                        priority_zero_sent: counters.priority_zero_sent,
                        other,
                    },
                    details,
                }
            })
            .collect();
        let interfaces = self
            .receive
            .interfaces()
            .into_iter()
            .map(|(attached, drops)| {
                let host = self.host.by_index(attached.ifindex);
                InterfaceReport {
                    name: host.map_or_else(|| attached.ifindex.to_string(), |h| h.name.clone()),
                    ifindex: attached.ifindex,
                    xdp_mode: format!("{:?}", attached.mode),
                    up: host.is_some_and(|h| h.up),
                    drops: drops
                        .named()
                        .into_iter()
                        .map(|(n, v)| (n.to_owned(), v))
                        .collect(),
                }
            })
            .collect();
        let scripts = self
            .resolved
            .trackers
            .iter()
            .enumerate()
            .filter_map(|(number, object)| {
                let TrackedObject::Script(spec) = object else {
                    return None;
                };
                let id = crate::engine::TrackerId(number as u32);
                let ok = self.router.instances().find_map(|(_, i)| {
                    i.trackers()
                        .iter()
                        .find(|t| {
                            t.id() == id && matches!(t.config().kind, TrackerKind::Script { .. })
                        })
                        .and_then(|t| t.is_up())
                });
                Some(ScriptReport {
                    name: spec.name.clone(),
                    command: spec.argv.join(" "),
                    interval_s: spec.interval.as_secs_f64(),
                    timeout_s: spec.timeout.as_secs_f64(),
                    ok,
                    runs: self.trackers.runs(id),
                })
            })
            .collect();
        Report {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            started_unix: self.ops.book.started_unix(),
            config_file: self.ops.config_file.display().to_string(),
            pin_dir: self.receive.pin_dir().display().to_string(),
            instances,
            interfaces,
            scripts,
            kernel: self
                .receive
                .global()
                .named()
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v))
                .collect(),
        }
    }
}
