//! `xvrrpd monitor -i IFACE`: attach the recorder in observe mode and show what it records.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{info, warn};
use vrrp_common::{
    EVENT_AFTER_SILENCE, EVENT_CONTENDED, EVENT_CONTENTION_OVER, EVENT_HIGHER,
    EVENT_INTERVAL_CHANGE, EVENT_LOWER, EVENT_NEW_MASTER, EVENT_OLD_CHECKSUM,
    EVENT_PRIORITY_CHANGE, EVENT_PRIORITY_ZERO, InstanceKey, InstanceState, VrrpEvent,
};

use super::{Snapshot, interface_row, render_json, render_table, router_row};
use crate::dataplane::{
    Dataplane, LoadOptions, Mode, ProgramLog, ifindex, monotonic_now_ns, parse_event,
};
use crate::protocol::Family;

/// How often the live table refreshes.
const REFRESH: Duration = Duration::from_secs(1);
/// How long `--once` listens when no `--duration` is given: enough for three adverts at
/// keepalived's default one-second interval.
const ONCE_DEFAULT_WINDOW: Duration = Duration::from_secs(3);

#[derive(Clone, Debug)]
pub struct LiveOptions {
    pub iface: String,
    pub json: bool,
    pub once: bool,
    pub duration: Option<Duration>,
    pub pin_dir: PathBuf,
}

/// Attaches, shows the routers until the duration ends or a signal arrives, then detaches and
/// removes the pins.
pub async fn run_live(options: LiveOptions) -> anyhow::Result<()> {
    let ifindex = ifindex(&options.iface)?;
    let mut dataplane = Dataplane::load(&LoadOptions {
        mode: Mode::Observe,
        pin_dir: options.pin_dir.clone(),
        foreign_pass: false,
        kernel_timers: false,
    })?;
    let result = watch(&mut dataplane, ifindex, &options).await;
    dataplane.shutdown();
    result
}

async fn watch(
    dataplane: &mut Dataplane,
    ifindex: u32,
    options: &LiveOptions,
) -> anyhow::Result<()> {
    // Exactly this interface: links a killed monitor left on others in this namespace go.
    let attached = dataplane.set_interfaces(&[ifindex])?;
    info!(iface = %options.iface, mode = ?attached.first().map(|a| a.mode), pins = %dataplane.pin_dir().display(), "monitoring VRRP adverts");
    let ring = dataplane
        .take_events()
        .context("event ring buffer already taken")?;
    // SAFETY: the ring buffer owns its descriptor and moves into the AsyncFd, which drops its
    // registration before the descriptor closes.
    let mut events = unsafe { AsyncFd::register(ring) }
        .map_err(|e| anyhow::anyhow!("polling the event ring buffer: {}", e))?;
    let mut program_log = match dataplane.take_logger() {
        // SAFETY: as for the ring buffer above.
        Some(logger) => Some(
            unsafe { AsyncFd::register(logger) }
                .map_err(|e| anyhow::anyhow!("polling the program's log: {}", e))?,
        ),
        None => None,
    };
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;

    let window = if options.once {
        Some(options.duration.unwrap_or(ONCE_DEFAULT_WINDOW))
    } else {
        options.duration
    };
    let deadline = window.map(|w| tokio::time::Instant::now() + w);
    let mut refresh = tokio::time::interval(REFRESH);
    let mut reader = EventReader::default();
    loop {
        tokio::select! {
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
            _ = sleep_until(deadline) => break,
            guard = events.readable_mut() => {
                let mut guard = guard?;
                // Cleared before reading: an event written after the last read keeps the
                // ring ready (cleared after, it would wait for the next one).
                guard.clear_ready();
                while let Some(item) = guard.get_inner_mut().next() {
                    if let Some(event) = parse_event(&item)
                        && reader.fresh(&event)
                    {
                        report_event(&options.iface, &event, options.json && !options.once);
                    }
                }
            }
            guard = readable(&mut program_log) => {
                let mut guard = guard?;
                guard.clear_ready();
                guard.get_inner_mut().flush();
            }
            _ = refresh.tick(), if !options.once => {
                reader.check_ring(dataplane);
                print(&snapshot(dataplane, &options.iface, ifindex), options.json, true)?;
            }
        }
    }
    if options.once {
        print(
            &snapshot(dataplane, &options.iface, ifindex),
            options.json,
            false,
        )?;
    }
    Ok(())
}

/// Waits until the program's log has records (forever when there is no log).
async fn readable(
    log: &mut Option<AsyncFd<ProgramLog>>,
) -> std::io::Result<tokio::io::unix::AsyncFdReadyMutGuard<'_, ProgramLog>> {
    match log {
        Some(log) => log.readable_mut().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Orders events by their `seq` and notices lost ones: an event older than what was already
/// seen for its instance is stale (two CPUs may write the ring out of order); a grown
/// `ring_full` means events were lost, and the state map (re-read every refresh) is the truth.
#[derive(Default)]
struct EventReader {
    seq: BTreeMap<InstanceKey, u64>,
    ring_full: u64,
}

impl EventReader {
    fn fresh(&mut self, event: &VrrpEvent) -> bool {
        let seen = self.seq.entry(event.key).or_default();
        if event.seq < *seen {
            return false;
        }
        *seen = event.seq;
        true
    }

    fn check_ring(&mut self, dataplane: &Dataplane) {
        let ring_full = dataplane.global_stats().ring_full;
        if ring_full > self.ring_full {
            warn!(
                lost = ring_full - self.ring_full,
                "event ring buffer was full: events lost, their changes are pending in the state map"
            );
            self.ring_full = ring_full;
        }
    }
}

fn snapshot(dataplane: &Dataplane, iface: &str, ifindex: u32) -> Snapshot {
    let now_ns = monotonic_now_ns();
    let counters = dataplane.all_counters();
    let mut routers = Vec::new();
    let mut keys: Vec<InstanceKey> = counters.keys().copied().collect();
    let states: BTreeMap<InstanceKey, InstanceState> = dataplane.states().into_iter().collect();
    keys.extend(states.keys().copied());
    keys.sort_unstable();
    keys.dedup();
    for key in keys.into_iter().filter(|key| key.ifindex == ifindex) {
        let state = states.get(&key).copied().unwrap_or_default();
        let counters = counters.get(&key).copied().unwrap_or_default();
        routers.extend(router_row(iface, &key, &state, &counters, now_ns));
    }
    Snapshot {
        routers,
        interfaces: vec![interface_row(
            iface,
            &dataplane.iface_drops(ifindex),
            &dataplane.global_stats(),
        )],
    }
}

fn print(snapshot: &Snapshot, json: bool, refreshing: bool) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        stdout.write_all(render_json(snapshot).as_bytes())?;
    } else {
        if refreshing && std::io::stdout().is_terminal() {
            // Home the cursor and clear the screen: the table refreshes in place.
            stdout.write_all(b"\x1b[H\x1b[2J")?;
        }
        stdout.write_all(render_table(snapshot).as_bytes())?;
        if refreshing && !std::io::stdout().is_terminal() {
            stdout.write_all(b"\n")?;
        }
    }
    stdout.flush()?;
    Ok(())
}

fn event_names(kinds: u32) -> Vec<&'static str> {
    [
        (EVENT_NEW_MASTER, "new_master"),
        (EVENT_PRIORITY_CHANGE, "priority_change"),
        (EVENT_PRIORITY_ZERO, "priority_zero"),
        (EVENT_INTERVAL_CHANGE, "interval_change"),
        (EVENT_AFTER_SILENCE, "after_silence"),
        (EVENT_CONTENDED, "contended"),
        (EVENT_CONTENTION_OVER, "contention_over"),
        (EVENT_HIGHER, "higher"),
        (EVENT_LOWER, "lower"),
        (EVENT_OLD_CHECKSUM, "old_checksum"),
    ]
    .into_iter()
    .filter(|(bit, _)| kinds & bit != 0)
    .map(|(_, name)| name)
    .collect()
}

fn report_event(iface: &str, event: &VrrpEvent, as_json: bool) {
    let Some(family) = Family::from_map_value(event.key.family) else {
        warn!(
            family = event.key.family,
            "event with an unknown address family"
        );
        return;
    };
    let master = family.addr_from(&event.master_addr);
    let names = event_names(event.kinds);
    if as_json {
        let line = json!({
            "type": "event",
            "iface": iface,
            "vrid": event.key.vrid,
            "family": family,
            "dst": family.addr_from(&event.key.dst),
            "seq": event.seq,
            "suppressed": event.suppressed,
            "contended_changes": event.contended_changes,
            "events": names,
            "master": master,
            "priority": event.priority,
            "previous_priority": event.previous_priority,
            "advert_interval_ms": event.advert_interval_cs as u64 * 10,
        });
        println!("{line}");
    } else {
        info!(
            iface,
            vrid = event.key.vrid,
            family = family.name(),
            %master,
            priority = event.priority,
            events = %names.join(","),
            "router changed"
        );
    }
}
