//! `xvrrpd monitor -i IFACE`: attach the recorder in observe mode and show what it records.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{info, warn};
use vrrp_common::{
    EVENT_AFTER_SILENCE, EVENT_INTERVAL_CHANGE, EVENT_NEW_MASTER, EVENT_PRIORITY_CHANGE,
    EVENT_PRIORITY_ZERO, InstanceKey, VrrpEvent,
};

use super::{Snapshot, interface_row, render_json, render_table, router_row};
use crate::dataplane::{Dataplane, LoadOptions, ifindex, monotonic_now_ns, parse_event};
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
        observe_all: true,
        pin_dir: options.pin_dir.clone(),
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
    let mode = dataplane.attach(&options.iface)?;
    info!(iface = %options.iface, ?mode, pins = %dataplane.pin_dir().display(), "monitoring VRRP adverts");
    let ring = dataplane
        .take_events()
        .context("event ring buffer already taken")?;
    // SAFETY: the ring buffer owns its descriptor and moves into the AsyncFd, which drops its
    // registration before the descriptor closes.
    let mut events = unsafe { AsyncFd::register(ring) }
        .map_err(|e| anyhow::anyhow!("polling the event ring buffer: {}", e))?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;

    let started = Instant::now();
    let window = if options.once {
        Some(options.duration.unwrap_or(ONCE_DEFAULT_WINDOW))
    } else {
        options.duration
    };
    let deadline = window.map(|w| tokio::time::Instant::now() + w);
    let mut refresh = tokio::time::interval(REFRESH);
    let mut previous = Rates::default();
    loop {
        tokio::select! {
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
            _ = sleep_until(deadline) => break,
            guard = events.readable_mut() => {
                let mut guard = guard?;
                while let Some(item) = guard.get_inner_mut().next() {
                    if let Some(event) = parse_event(&item) {
                        report_event(&options.iface, &event, options.json && !options.once);
                    }
                }
                guard.clear_ready();
            }
            _ = refresh.tick(), if !options.once => {
                let snapshot = previous.snapshot(dataplane, &options.iface, ifindex);
                print(&snapshot, options.json, true)?;
            }
        }
    }
    if options.once {
        let snapshot = Rates::since_start(started).snapshot(dataplane, &options.iface, ifindex);
        print(&snapshot, options.json, false)?;
    }
    Ok(())
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Advert counts at the previous refresh, to turn totals into adverts per second.
#[derive(Default)]
struct Rates {
    at: Option<Instant>,
    received: BTreeMap<InstanceKey, u64>,
}

impl Rates {
    /// For `--once`: rates over the whole listening window.
    fn since_start(started: Instant) -> Self {
        Self {
            at: Some(started),
            received: BTreeMap::new(),
        }
    }

    fn snapshot(&mut self, dataplane: &Dataplane, iface: &str, ifindex: u32) -> Snapshot {
        let now = Instant::now();
        let window = self.at.map_or(Duration::ZERO, |at| now - at);
        let now_ns = monotonic_now_ns();
        let mut routers = Vec::new();
        let mut received = BTreeMap::new();
        for (key, state) in dataplane
            .states()
            .into_iter()
            .filter(|(key, _)| key.ifindex == ifindex)
        {
            let before = self.received.get(&key).copied().unwrap_or(0);
            let delta = state.received.saturating_sub(before);
            routers.extend(router_row(iface, &key, &state, now_ns, delta, window));
            received.insert(key, state.received);
        }
        *self = Self {
            at: Some(now),
            received,
        };
        Snapshot {
            routers,
            interfaces: vec![interface_row(iface, &dataplane.iface_errors(ifindex))],
        }
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
