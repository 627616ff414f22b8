//! The loop that only moves events in and actions out: kernel adverts, deadlines, link and
//! address changes and script results become engine events; the engine's actions become
//! frames, netlink requests and log lines.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;
use tracing::{debug, info, trace, warn};

use super::host::HostFacts;
use super::lvs::LvsSide;
use super::netlink::Netlink;
use super::notify::Notifier;
use super::receive::{Heard, News, Receive};
use super::resolve::{LinkRef, Resolved, SourceRule, TrackedObject};
use super::schedule::DeadlineQueue;
use super::sockets::{AdvertBatch, FrameSender, LinkSocket};
use super::timer::{self, DeadlineTimer};
use super::trackers::Trackers;
use crate::engine::{
    Action, AdvertPacket, AnnounceFrame, Event, InstanceId, Reason, RoutedAction, Router, State,
    Timestamp, TrackerId,
};
use crate::protocol::Family;

mod operations;
mod reload;

pub use operations::{Operations, OperationsOptions};

/// What a master puts on the host: its virtual addresses, routes and rules.
#[derive(Debug, Default)]
struct Owned {
    addresses: Vec<super::resolve::PlannedAddress>,
    routes: Vec<crate::config::model::Route>,
    rules: Vec<crate::config::model::Rule>,
}

impl Owned {
    fn is_empty(&self) -> bool {
        self.addresses.is_empty() && self.routes.is_empty() && self.rules.is_empty()
    }
}

/// How often the kernel's master-down timers are checked for one that did not fire, and how
/// late one may be before the userspace deadline takes over.
const KERNEL_TIMER_CHECK: Duration = Duration::from_secs(1);
const KERNEL_TIMER_GRACE: Duration = Duration::from_millis(20);

/// Adverts due this soon after a wakeup go with it (at most this early, never late).
const ADVERT_BATCH_WINDOW: Duration = Duration::from_micros(250);

/// Everything the loop owns.
pub struct Runtime {
    router: Router,
    resolved: Resolved,
    host: HostFacts,
    /// Interface names by the index they had when the configuration was resolved: addresses,
    /// announcements and sends follow the name when an interface is re-created.
    names_at_start: BTreeMap<u32, String>,
    netlink: Netlink,
    frames: FrameSender,
    /// Raw protocol-112 sockets per (interface name, IPv6?).
    link_sockets: BTreeMap<(String, bool), LinkSocket>,
    receive: Receive,
    timer: DeadlineTimer,
    /// Every instance's next deadline; the timerfd is armed for the earliest. A backup whose
    /// master a kernel timer watches has no master-down deadline here.
    schedule: DeadlineQueue,
    /// Multicast adverts of one wakeup, sent together.
    batch: AdvertBatch,
    /// Reused buffers of the deadline path: due instances, instances the engine changed, and
    /// their actions (nothing is allocated per advert).
    due: Vec<(InstanceId, Timestamp)>,
    changed: Vec<InstanceId>,
    timer_actions: Vec<RoutedAction>,
    /// Scripts, files and processes being tracked.
    trackers: Trackers,
    /// Their states before the instances start (file values, process quorums).
    initial_trackers: Vec<Event>,
    notifier: Notifier,
    /// Announcement bursts still being sent, per instance.
    bursts: Vec<Vec<JoinHandle<()>>>,
    /// Instances whose addresses are on the host now.
    holding: Vec<bool>,
    /// What each instance was last told about its own link: (up, source address); `None`
    /// until it was told (at startup, and for instances a reload added).
    link_view: Vec<Option<(bool, Option<IpAddr>)>>,
    /// What each tracked interface was last reported as.
    tracked_up: BTreeMap<TrackerId, bool>,
    /// (instance, what failed) pairs already logged at warn level: later ones go to debug.
    reported: BTreeSet<(usize, String)>,
    /// Status, control socket, dumps, recorder, systemd.
    ops: Operations,
    /// A reload whose configuration file is being read.
    reload: Option<reload::PendingReload>,
    /// The load balancer (issue 12): told which virtual addresses are held, and reloaded
    /// with the rest.
    lvs: LvsSide,
}

/// What the loop drives besides the engine and the network: trackers (with their states
/// before the instances start), notify scripts, and the load balancer.
pub struct Companions {
    pub trackers: (Trackers, Vec<Event>),
    pub notifier: Notifier,
    pub lvs: LvsSide,
}

impl Runtime {
    pub fn new(
        resolved: Resolved,
        host: HostFacts,
        netlink: Netlink,
        receive: Receive,
        ops: Operations,
        companions: Companions,
    ) -> anyhow::Result<Self> {
        let Companions {
            trackers: (trackers, initial_trackers),
            notifier,
            lvs,
        } = companions;
        let configs = resolved
            .instances
            .iter()
            .map(|i| i.engine.clone())
            .collect();
        let router = Router::new(configs, resolved.sync_groups.clone())?;
        let link_sockets = open_link_sockets(&resolved, BTreeMap::new());
        let count = resolved.instances.len();
        let names_at_start = host
            .interfaces
            .iter()
            .map(|i| (i.ifindex, i.name.clone()))
            .collect();
        Ok(Self {
            router,
            names_at_start,
            host,
            netlink,
            frames: FrameSender::new()?,
            link_sockets,
            receive,
            timer: DeadlineTimer::new()?,
            schedule: DeadlineQueue::new(count),
            batch: AdvertBatch::new(),
            due: Vec::with_capacity(count),
            changed: Vec::with_capacity(count),
            timer_actions: Vec::with_capacity(count),
            trackers,
            initial_trackers,
            notifier,
            bursts: (0..count).map(|_| Vec::new()).collect(),
            holding: vec![false; count],
            link_view: vec![None; count],
            tracked_up: BTreeMap::new(),
            reported: BTreeSet::new(),
            ops,
            lvs,
            resolved,
            reload: None,
        })
    }

    /// Starts every instance and runs until SIGTERM or SIGINT, then stops them cleanly.
    pub async fn run(mut self, record_events: Option<&std::path::Path>) -> anyhow::Result<()> {
        if let Some(file) = record_events {
            self.start_recording(file)?;
        }
        let mut sigterm = signal(SignalKind::terminate())?;
        let mut sigint = signal(SignalKind::interrupt())?;
        let mut sighup = signal(SignalKind::hangup())?;
        let mut changes = Netlink::subscribe()?;

        let now = timer::now();
        // The engine learns the state of links and tracked interfaces before it starts, so
        // that an instance whose interface is down starts in FAULT.
        self.refresh_links(now).await;
        for event in std::mem::take(&mut self.initial_trackers) {
            let actions = self.router.tracker_event(now, &event);
            self.perform(actions).await;
        }
        let actions = self.router.broadcast(now, &Event::Startup);
        self.perform(actions).await;
        self.ops
            .notifier
            .ready(&format!("{} VRRP instances", self.resolved.instances.len()));
        let mut watchdog = self
            .ops
            .notifier
            .watchdog_interval()
            .map(tokio::time::interval);
        let mut timer_check = self.receive.kernel_timers().then(|| {
            let mut check = tokio::time::interval(KERNEL_TIMER_CHECK);
            check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            check
        });

        loop {
            self.flush_journal();
            self.timer.set(self.schedule.next())?;
            tokio::select! {
                _ = sigterm.recv() => break,
                _ = sigint.recv() => break,
                _ = sighup.recv() => {
                    info!("SIGHUP: reloading the configuration");
                    self.request_reload(None);
                }
                loaded = reload::read(&mut self.reload) => self.finish_reload(loaded).await,
                Some(command) = self.ops.commands.recv() => self.command(command).await,
                dump = self.ops.signals.next() => self.dump(dump),
                Some(_) = tick(&mut watchdog) => self.ops.notifier.watchdog(),
                Some(_) = tick(&mut timer_check) => self.check_kernel_timers().await,
                fired = self.timer.fired() => {
                    fired?;
                    self.deadlines().await;
                }
                news = self.receive.next() => {
                    for news in news? {
                        self.kernel_news(news).await;
                    }
                    // Events carry the packet's time; anything now due fires at its own time.
                    self.deadlines().await;
                }
                Some(change) = changes.next() => {
                    debug!(?change, "host changed");
                    // Changes come in bursts (our own address additions among them): read the
                    // host once for all that are queued.
                    while let Ok(change) = changes.try_recv() {
                        debug!(?change, "host changed");
                    }
                    self.refresh_links(timer::now()).await;
                }
                events = self.trackers.next() => {
                    for event in events {
                        let actions = self.router.tracker_event(timer::now(), &event);
                        self.perform(actions).await;
                    }
                }
            }
        }
        self.ops.notifier.stopping();
        self.shutdown().await;
        Ok(())
    }

    /// Deadlines passed: first ask the kernel whether the masters of backups whose
    /// master-down timer is due spoke since (the engine hears only changes), then let the
    /// engine act for every due instance. Adverts due together leave in one `sendmmsg`.
    ///
    /// A master whose next advert is due within [`ADVERT_BATCH_WINDOW`] is handled now, at its
    /// own deadline (its schedule does not move): a thousand masters whose schedules drifted
    /// apart still wake the loop at most once per window, not once per advert.
    async fn deadlines(&mut self) {
        let now = timer::now();
        let mut due = std::mem::take(&mut self.due);
        let mut actions = std::mem::take(&mut self.timer_actions);
        self.schedule.pop_due(now + ADVERT_BATCH_WINDOW, &mut due);
        for &(id, at) in &due {
            if at > now {
                if self.router.instance(id).state() == State::Master {
                    self.router.handle_into(at, id, Event::Timer, &mut actions);
                } else {
                    // Only adverts go early; everything else waits for its time.
                    self.schedule.set(id, Some(at));
                }
                continue;
            }
            self.master_alive(id, now, &mut actions);
            self.router.handle_into(now, id, Event::Timer, &mut actions);
        }
        self.perform_all(&mut actions).await;
        self.due = due;
        self.timer_actions = actions;
    }

    /// A backup whose engine deadline for the master is due: the advert that last kept the
    /// master alive, if the engine has not heard it (the kernel records it in the state map).
    fn master_alive(&mut self, id: InstanceId, now: Timestamp, actions: &mut Vec<RoutedAction>) {
        let instance = self.router.instance(id);
        if instance.state() != State::Backup
            || instance.master_down_deadline().is_none_or(|d| d > now)
        {
            return;
        }
        if let Some(Heard { id, at, event }) = self.receive.alive(id) {
            self.router.handle_into(at, id, event, actions);
        }
        self.receive.confirm_watch(id, now);
    }

    /// One piece of news from the kernel: an advert for the engine, or a backup whose
    /// kernel master-down timer fired (the engine takes over unless an advert came since).
    async fn kernel_news(&mut self, news: News) {
        match news {
            News::Heard(Heard { id, at, event }) => {
                let actions = self.router.handle(at, id, event);
                self.perform(actions).await;
            }
            News::MasterDown { id, at } => {
                let now = timer::now();
                let mut actions = Vec::new();
                self.master_alive(id, now, &mut actions);
                self.router.handle_into(now, id, Event::Timer, &mut actions);
                self.perform_all(&mut actions).await;
                // Timers of other instances expiring around this one were seen not to fire:
                // each goes back to its userspace deadline, which watches again if the kernel
                // still has it armed.
                for other in self.receive.unwatch_all() {
                    self.reschedule(other);
                }
                // Logged after the takeover, which it must not delay.
                debug!(instance = %self.resolved.instances[id.0].name, late_us = (now - at).as_secs_f64() * 1e6, "kernel: master down");
            }
        }
    }

    /// After the engine handled events: the changed instances' receive policies go to the
    /// kernel, and their deadlines to the schedule (without the master-down one while a
    /// kernel timer watches the master).
    fn after_engine(&mut self) {
        let now = timer::now();
        let mut changed = std::mem::take(&mut self.changed);
        self.router.take_changed(&mut changed);
        for &id in &changed {
            let policy = self.router.instance(id).receive_policy(now);
            let source = self.source_of(id);
            self.receive.set_policy(id, &policy, source);
            self.reschedule(id);
        }
        self.changed = changed;
    }

    /// Puts the instance's next deadline in the schedule: the master-down one only while no
    /// kernel timer watches its master.
    fn reschedule(&mut self, id: InstanceId) {
        let instance = self.router.instance(id);
        let mut at = instance.next_deadline_except_master_down();
        if !self.receive.watching(id)
            && let Some(down) = instance.master_down_deadline()
        {
            at = Some(at.map_or(down, |at| at.min(down)));
        }
        self.schedule.set(id, at);
    }

    /// The safety net under the kernel's timers: every watched backup whose timer is overdue
    /// goes back to its userspace deadline, which is then served.
    async fn check_kernel_timers(&mut self) {
        for id in self
            .receive
            .unwatch_overdue(timer::now(), KERNEL_TIMER_GRACE)
        {
            self.reschedule(id);
        }
        self.deadlines().await;
    }

    /// Re-reads the host and tells the engine what changed for each instance's own link,
    /// its advert source and the tracked interfaces; an instance told nothing yet hears
    /// everything.
    async fn refresh_links(&mut self, now: Timestamp) {
        match self.netlink.host_facts().await {
            Ok(host) => self.host = host,
            Err(e) => {
                warn!(error = %e, "cannot read the interfaces; keeping the last known state");
                return;
            }
        }
        for index in 0..self.resolved.instances.len() {
            let id = InstanceId(index);
            let instance = &self.resolved.instances[index];
            let current = self.host.interface(&instance.link.name).cloned();
            if let Some(iface) = &current
                && iface.ifindex != instance.link.ifindex
            {
                self.relink(index, iface.ifindex);
            }
            let instance = &self.resolved.instances[index];
            let up = current.as_ref().is_some_and(|i| i.up) || !instance.track_link;
            let source = match instance.source {
                SourceRule::Configured(addr) => Some(addr),
                SourceRule::Interface => current
                    .as_ref()
                    .and_then(|i| i.source_address(instance.receive.family == Family::Ipv6)),
            };
            let known = self.link_view[index];
            let (was_up, was_source) = known.unwrap_or((true, None));
            let known = known.is_some();
            let mut events = Vec::new();
            if !known || up != was_up {
                if current.is_none() {
                    warn!(instance = %instance.name, iface = %instance.link.name, "interface is gone");
                }
                events.push(if up {
                    Event::InterfaceUp
                } else {
                    Event::InterfaceDown
                });
            }
            if !known || source != was_source {
                if known && instance.source == SourceRule::Interface {
                    info!(instance = %instance.name, iface = %instance.link.name, source = ?source, "advert source address changed");
                }
                self.receive.set_source(id, source);
                events.push(Event::SourceAddress { addr: source });
            }
            self.link_view[index] = Some((up, source));
            for event in events {
                let actions = self.router.handle(now, id, event);
                self.perform(actions).await;
            }
        }
        let tracked: Vec<(TrackerId, String)> = self
            .resolved
            .trackers
            .iter()
            .enumerate()
            .filter_map(|(number, object)| match object {
                TrackedObject::Interface(link) => {
                    Some((TrackerId(number as u32), link.name.clone()))
                }
                _ => None,
            })
            .collect();
        for (tracker, name) in tracked {
            let up = self.host.interface(&name).is_some_and(|i| i.up);
            if self.tracked_up.insert(tracker, up) != Some(up) {
                info!(iface = %name, up, "tracked interface changed");
                let actions = self
                    .router
                    .tracker_event(now, &Event::Tracker { tracker, up });
                self.perform(actions).await;
            }
        }
    }

    /// The advert source the instance was last told about.
    fn source_of(&self, id: InstanceId) -> Option<IpAddr> {
        self.link_view[id.0].and_then(|(_, source)| source)
    }

    /// The instance's interface was deleted and created again with another index.
    fn relink(&mut self, index: usize, ifindex: u32) {
        let old = self.resolved.instances[index].link.clone();
        info!(iface = %old.name, old = old.ifindex, new = ifindex, "interface re-created; attaching again");
        let new = LinkRef {
            name: old.name.clone(),
            ifindex,
        };
        if let Err(e) = self.receive.relink(&old, &new) {
            warn!(iface = %old.name, error = %e, "cannot attach the receive path to the re-created interface");
        }
        for instance in &mut self.resolved.instances {
            if instance.link.name == old.name {
                instance.link.ifindex = ifindex;
                instance.receive.ifindex = ifindex;
            }
        }
        for ipv6 in [false, true] {
            let key = (old.name.clone(), ipv6);
            if self.link_sockets.contains_key(&key) {
                match LinkSocket::new(ifindex, ipv6, &old.name) {
                    Ok(mut socket) => {
                        for instance in &self.resolved.instances {
                            if instance.link.name == old.name
                                && (instance.receive.family == Family::Ipv6) == ipv6
                                && let super::resolve::ReceiveMode::Multicast { group } =
                                    instance.receive.mode
                            {
                                let _ = socket.join(group);
                            }
                        }
                        self.link_sockets.insert(key, socket);
                    }
                    Err(e) => {
                        warn!(iface = %old.name, error = %e, "cannot open the send socket again")
                    }
                }
            }
        }
    }

    /// The interface index to send on now for an index resolve saw (interfaces may be
    /// re-created under the same name).
    fn current_ifindex(&self, resolved_ifindex: u32) -> u32 {
        self.names_at_start
            .get(&resolved_ifindex)
            .and_then(|name| self.host.interface(name))
            .map_or(resolved_ifindex, |i| i.ifindex)
    }

    /// Logs a failure once at warn level per instance and kind, later ones at debug.
    fn report(&mut self, id: InstanceId, what: &str, error: &dyn std::fmt::Display) {
        let instance = &self.resolved.instances[id.0].name;
        if self.reported.insert((id.0, what.to_owned())) {
            warn!(%instance, error = %error, "{what} failed (further failures of this kind are logged at debug level)");
        } else {
            debug!(%instance, error = %error, "{what} failed");
        }
    }

    async fn perform(&mut self, mut actions: Vec<RoutedAction>) {
        self.perform_all(&mut actions).await;
    }

    /// Performs and drains `actions`, then brings policies and deadlines up to date.
    async fn perform_all(&mut self, actions: &mut Vec<RoutedAction>) {
        for (id, action) in actions.drain(..) {
            self.note(id, &action);
            match action {
                Action::SendAdvert { packets, priority } => {
                    for packet in packets.iter() {
                        self.send_advert(id, packet);
                    }
                    trace!(instance = %self.resolved.instances[id.0].name, priority = priority.0, "advert queued");
                }
                Action::AddAddresses => {
                    // Advert first, then addresses (RFC 5798 6.4.1, keepalived's order).
                    self.flush_adverts();
                    self.addresses(id, true).await;
                }
                Action::RemoveAddresses => self.addresses(id, false).await,
                Action::Announce {
                    frames,
                    repeat,
                    interval,
                } => self.announce(id, frames, repeat, interval),
                Action::CancelAnnouncements => {
                    for burst in self.bursts[id.0].drain(..) {
                        burst.abort();
                    }
                }
                Action::StateChanged {
                    from,
                    to,
                    priority,
                    reason,
                } => {
                    let why = self.describe(id, &reason);
                    self.log_transition(id, from, to, priority.0, &why);
                    self.notifier.instance_state(id, to, priority, &reason);
                }
                Action::MasterRxLowerPriority { from, priority } => {
                    info!(instance = %self.resolved.instances[id.0].name, %from, priority = priority.0, "master heard a lower priority advert; answered it");
                    let own = self.router.instance(id).priority();
                    self.notifier.master_rx_lower(id, own);
                }
                Action::PriorityChanged { state, priority } => {
                    info!(instance = %self.resolved.instances[id.0].name, state = state.name(), priority = priority.0, "effective priority changed");
                    self.notifier.priority_changed(id, state, priority);
                }
                Action::SyncGroupState { group, state } => {
                    info!(%group, state = state.name(), "sync group changed state");
                    self.notifier.group_state(&group, state);
                }
                Action::Anomaly(anomaly) => {
                    warn!(instance = %self.resolved.instances[id.0].name, ?anomaly, "unexpected advert");
                }
            }
        }
        self.flush_adverts();
        self.after_engine();
    }

    /// Sends the multicast adverts queued so far, in one `sendmmsg` per 1,024.
    fn flush_adverts(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let mut failures = Vec::new();
        self.batch
            .flush(&self.frames, |tag, error| failures.push((tag, error)));
        for (tag, error) in failures {
            self.report(InstanceId(tag), "sending an advert", &error);
        }
    }

    /// Queues a multicast advert for the batch, sends a unicast one at once; allocates
    /// nothing.
    fn send_advert(&mut self, id: InstanceId, packet: &AdvertPacket) {
        let instance = &self.resolved.instances[id.0];
        let ipv6 = instance.receive.family == Family::Ipv6;
        let result = match packet {
            AdvertPacket::Multicast { frame } => {
                let ifindex = self.current_ifindex(instance.link.ifindex);
                self.batch.push(ifindex, frame, id.0);
                Ok(())
            }
            AdvertPacket::Unicast { peer, packet } => {
                let name = &instance.link.name;
                match self
                    .link_sockets
                    .iter()
                    .find(|((iface, v6), _)| iface == name && *v6 == ipv6)
                {
                    Some((_, socket)) => socket.send(*peer, packet),
                    None => Err(std::io::Error::other("no socket for the interface")),
                }
            }
        };
        if let Err(e) = result {
            self.report(id, "sending an advert", &e);
        }
    }

    fn announce(
        &mut self,
        id: InstanceId,
        frames: std::sync::Arc<[AnnounceFrame]>,
        repeat: u32,
        interval: Duration,
    ) {
        let targets: Vec<(u32, bytes::Bytes)> = frames
            .iter()
            .map(|f| (self.current_ifindex(f.ifindex), f.frame.clone()))
            .collect();
        if interval.is_zero() {
            // keepalived sends the whole burst at once when no garp_interval is set.
            for _ in 0..repeat {
                for (ifindex, frame) in &targets {
                    if let Err(e) = self.frames.send(*ifindex, frame) {
                        self.report(id, "sending a gratuitous ARP / NA", &e);
                    }
                }
            }
            return;
        }
        let sender = match FrameSender::new() {
            Ok(sender) => sender,
            Err(e) => return self.report(id, "opening a socket for announcements", &e),
        };
        let name = self.resolved.instances[id.0].name.clone();
        self.bursts[id.0].retain(|b| !b.is_finished());
        self.bursts[id.0].push(tokio::spawn(async move {
            for round in 0..repeat {
                for (ifindex, frame) in &targets {
                    if let Err(e) = sender.send(*ifindex, frame) {
                        debug!(instance = %name, error = %e, "sending a gratuitous ARP / NA failed");
                    }
                    if round + 1 < repeat || targets.len() > 1 {
                        tokio::time::sleep(interval).await;
                    }
                }
            }
        }));
    }

    /// Adds or removes the instance's addresses, routes and rules.
    async fn addresses(&mut self, id: InstanceId, add: bool) {
        if self.holding[id.0] == add {
            return;
        }
        self.holding[id.0] = add;
        let instance = &self.resolved.instances[id.0];
        let owned = Owned {
            addresses: instance.addresses.clone(),
            routes: instance.routes.clone(),
            rules: instance.rules.clone(),
        };
        self.change_addresses(id, &owned, add).await;
    }

    /// Adds or removes addresses, routes and rules on the host for an instance. Failures are
    /// logged and the rest goes on (keepalived does the same).
    async fn change_addresses(&mut self, id: InstanceId, owned: &Owned, add: bool) {
        let vips: Vec<IpAddr> = owned.addresses.iter().map(|a| a.prefix.addr).collect();
        // The load balancer serves a virtual address only while it is held.
        if add {
            self.lvs.set_held(&vips, true);
        }
        for address in &owned.addresses {
            let mut address = address.clone();
            address.link.ifindex = self.current_ifindex(address.link.ifindex);
            let result = if add {
                self.netlink.add_address(&address).await
            } else {
                self.netlink.remove_address(&address).await
            };
            if let Err(e) = result {
                self.report(
                    id,
                    if add {
                        "adding an address"
                    } else {
                        "removing an address"
                    },
                    &e,
                );
            }
        }
        // Routes after addresses (a route may use a virtual address as its source), rules last;
        // removal in the reverse order.
        let host = self.host.clone();
        if add {
            for route in &owned.routes {
                if let Err(e) = self.netlink.route(route, &host, true).await {
                    self.report(id, "adding a route", &e);
                }
            }
            for rule in &owned.rules {
                if let Err(e) = self.netlink.rule(rule, true).await {
                    self.report(id, "adding a rule", &e);
                }
            }
        } else {
            for rule in &owned.rules {
                if let Err(e) = self.netlink.rule(rule, false).await {
                    self.report(id, "removing a rule", &e);
                }
            }
            for route in &owned.routes {
                if let Err(e) = self.netlink.route(route, &host, false).await {
                    self.report(id, "removing a route", &e);
                }
            }
            self.lvs.set_held(&vips, false);
        }
    }

    /// A reason in words, for the log, `xvrrpd status` and `watch`.
    fn describe(&self, id: InstanceId, reason: &Reason) -> String {
        let instance = &self.resolved.instances[id.0];
        match reason {
            Reason::Startup => "startup".to_owned(),
            Reason::MasterDown { silent_for } => {
                format!("master down after {:.1} ms", silent_for.as_secs_f64() * 1e3)
            }
            Reason::HigherPriority { master, priority } => {
                format!("{master} advertises priority {}", priority.0)
            }
            Reason::InterfaceDown => format!("{} is down", instance.link.name),
            Reason::NoSourceAddress => {
                format!("{} has no address to send from", instance.link.name)
            }
            Reason::TrackerFailed { tracker } => {
                format!("{} failed", self.resolved.tracker_name(*tracker))
            }
            Reason::TrackerPending { tracker } => {
                format!(
                    "waiting for the first result of {}",
                    self.resolved.tracker_name(*tracker)
                )
            }
            Reason::Recovered => "fault cleared".to_owned(),
            Reason::SyncGroup { group } => format!("sync group {group}"),
            Reason::Shutdown => "shutting down".to_owned(),
        }
    }

    fn log_transition(&self, id: InstanceId, from: State, to: State, priority: u8, why: &str) {
        let instance = &self.resolved.instances[id.0];
        info!(
            instance = %instance.name,
            iface = %instance.link.name,
            vrid = instance.receive.vrid.0,
            from = from.name(),
            to = to.name(),
            priority,
            "{} {} -> {} ({why}, prio {priority})",
            instance.name,
            from.name(),
            to.name()
        );
    }

    /// SIGTERM: masters send priority 0 and give their addresses up, the receive path is
    /// detached and its pins removed.
    async fn shutdown(mut self) {
        info!("stopping");
        // keepalived terminates running check scripts first (script_killall).
        self.trackers.stop().await;
        let actions = self.router.broadcast(timer::now(), &Event::Shutdown);
        self.perform(actions).await;
        self.flush_journal();
        for bursts in &mut self.bursts {
            for burst in bursts.drain(..) {
                burst.abort();
            }
        }
        // notify_stop (and whatever notifications are still queued) get their bound.
        self.notifier.shutdown().await;
        for instance in &self.resolved.instances {
            if let Some(vmac) = &instance.vmac
                && let Some(iface) = self.host.interface(&vmac.name)
                && let Err(e) = self.netlink.delete_link(&vmac.name, iface.ifindex).await
            {
                warn!(iface = %vmac.name, error = %e, "cannot remove the VMAC interface");
            }
        }
        self.receive.shutdown();
        self.lvs.stop().await;
    }
}

/// The raw protocol-112 sockets the instances send unicast adverts on, one per (interface,
/// family), joined to every multicast group an instance listens on there (so that the
/// interface accepts the group). Sockets in `existing` for the same interface are kept. A
/// socket that cannot be opened is logged; its instances' unicast sends then fail and say so.
fn open_link_sockets(
    resolved: &Resolved,
    mut existing: BTreeMap<(String, bool), LinkSocket>,
) -> BTreeMap<(String, bool), LinkSocket> {
    let mut sockets = BTreeMap::new();
    for instance in &resolved.instances {
        let ipv6 = instance.receive.family == Family::Ipv6;
        let key = (instance.link.name.clone(), ipv6);
        if !sockets.contains_key(&key) {
            let socket = match existing.remove(&key) {
                Some(socket) if socket.ifindex() == instance.link.ifindex => Ok(socket),
                _ => LinkSocket::new(instance.link.ifindex, ipv6, &instance.link.name),
            };
            match socket {
                Ok(socket) => {
                    sockets.insert(key.clone(), socket);
                }
                Err(e) => {
                    warn!(iface = %instance.link.name, error = %e, "cannot open the send socket");
                    continue;
                }
            }
        }
        if let super::resolve::ReceiveMode::Multicast { group } = instance.receive.mode
            && let Some(socket) = sockets.get_mut(&key)
            && let Err(e) = socket.join(group)
        {
            warn!(instance = %instance.name, iface = %instance.link.name, %group, error = %e, "cannot join the VRRP multicast group");
        }
    }
    sockets
}

/// The next tick of an optional interval (never, without one).
async fn tick(interval: &mut Option<tokio::time::Interval>) -> Option<tokio::time::Instant> {
    match interval {
        Some(interval) => Some(interval.tick().await),
        None => std::future::pending().await,
    }
}
