//! The loop that only moves events in and actions out: kernel adverts, deadlines, link and
//! address changes and script results become engine events; the engine's actions become
//! frames, netlink requests and log lines.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::host::HostFacts;
use super::netlink::Netlink;
use super::receive::{Heard, Receive};
use super::resolve::{LinkRef, Resolved, SourceRule, TrackedObject};
use super::scripts::{ScriptResult, Scripts};
use super::sockets::{FrameSender, LinkSocket};
use super::timer::{self, DeadlineTimer};
use crate::engine::{
    Action, AdvertPacket, AnnounceFrame, Event, InstanceId, Reason, RoutedAction, Router, State,
    Timestamp, TrackerId,
};
use crate::protocol::Family;

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
    scripts: Scripts,
    /// Announcement bursts still being sent, per instance.
    bursts: Vec<Vec<JoinHandle<()>>>,
    /// Instances whose addresses are on the host now.
    holding: Vec<bool>,
    /// What each instance was last told about its own link: (up, source address).
    link_view: Vec<(bool, Option<IpAddr>)>,
    /// What each tracked interface was last reported as.
    tracked_up: BTreeMap<TrackerId, bool>,
    /// (instance, what failed) pairs already logged at warn level: later ones go to debug.
    reported: BTreeSet<(usize, String)>,
    /// The load balancer, told which virtual addresses are held (issue 12).
    vip_hook: Option<super::lvs::VipHook>,
}

impl Runtime {
    pub fn new(
        resolved: Resolved,
        host: HostFacts,
        netlink: Netlink,
        receive: Receive,
    ) -> anyhow::Result<Self> {
        let configs = resolved
            .instances
            .iter()
            .map(|i| i.engine.clone())
            .collect();
        let router = Router::new(configs, resolved.sync_groups.clone())?;
        let mut link_sockets = BTreeMap::new();
        for instance in &resolved.instances {
            let ipv6 = instance.receive.family == Family::Ipv6;
            let key = (instance.link.name.clone(), ipv6);
            if !link_sockets.contains_key(&key) {
                let socket = LinkSocket::new(instance.link.ifindex, ipv6, &instance.link.name)?;
                link_sockets.insert(key.clone(), socket);
            }
            if let super::resolve::ReceiveMode::Multicast { group } = instance.receive.mode {
                let socket = link_sockets.get_mut(&key).expect("inserted above");
                if let Err(e) = socket.join(group) {
                    warn!(instance = %instance.name, iface = %instance.link.name, %group, error = %e, "cannot join the VRRP multicast group");
                }
            }
        }
        let count = resolved.instances.len();
        let scripts = Scripts::start(&resolved)?;
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
            scripts,
            bursts: (0..count).map(|_| Vec::new()).collect(),
            holding: vec![false; count],
            link_view: vec![(true, None); count],
            tracked_up: BTreeMap::new(),
            reported: BTreeSet::new(),
            vip_hook: None,
            resolved,
        })
    }

    /// The load balancer serves a virtual address only while it is held: told before a
    /// master's addresses are added and after they are removed.
    pub fn set_vip_hook(&mut self, hook: super::lvs::VipHook) {
        self.vip_hook = Some(hook);
    }

    /// Starts every instance and runs until SIGTERM or SIGINT, then stops them cleanly.
    pub async fn run(mut self) -> anyhow::Result<()> {
        let mut sigterm = signal(SignalKind::terminate())?;
        let mut sigint = signal(SignalKind::interrupt())?;
        let mut sighup = signal(SignalKind::hangup())?;
        let mut changes = Netlink::subscribe()?;

        let now = timer::now();
        // The engine learns the state of links and tracked interfaces before it starts, so
        // that an instance whose interface is down starts in FAULT.
        self.refresh_links(now, false).await;
        let actions = self.router.broadcast(now, &Event::Startup);
        self.perform(actions).await;

        loop {
            self.timer.set(self.router.next_deadline())?;
            tokio::select! {
                _ = sigterm.recv() => break,
                _ = sigint.recv() => break,
                _ = sighup.recv() => {
                    warn!("SIGHUP: reloading the configuration is not supported yet; nothing changed");
                }
                fired = self.timer.fired() => {
                    fired?;
                    self.deadlines().await;
                }
                heard = self.receive.next() => {
                    for Heard { id, at, event } in heard? {
                        let actions = self.router.handle(at, id, event);
                        self.perform(actions).await;
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
                    self.refresh_links(timer::now(), true).await;
                }
                Some(result) = self.scripts.next() => {
                    self.script_result(result).await;
                }
            }
        }
        self.shutdown().await;
        Ok(())
    }

    /// A deadline passed: first ask the kernel whether the masters of backups whose
    /// master-down timer is due spoke since, then let the engine act.
    async fn deadlines(&mut self) {
        let now = timer::now();
        let due: Vec<InstanceId> = self
            .router
            .instances()
            .filter(|(_, i)| {
                i.state() == State::Backup && i.next_deadline().is_some_and(|d| d <= now)
            })
            .map(|(id, _)| id)
            .collect();
        for id in due {
            if let Some(Heard { id, at, event }) = self.receive.alive(id) {
                let actions = self.router.handle(at, id, event);
                self.perform(actions).await;
            }
        }
        let actions = self.router.handle_timers(now);
        self.perform(actions).await;
    }

    async fn script_result(&mut self, result: ScriptResult) {
        let event = Event::ScriptResult {
            tracker: result.tracker,
            success: result.success,
        };
        let actions = self.router.tracker_event(timer::now(), &event);
        self.perform(actions).await;
    }

    /// Re-reads the host and tells the engine what changed for each instance's own link,
    /// its advert source and the tracked interfaces. `known`: false at startup, when every
    /// current state is reported.
    async fn refresh_links(&mut self, now: Timestamp, known: bool) {
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
            let (was_up, was_source) = self.link_view[index];
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
            self.link_view[index] = (up, source);
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

    async fn perform(&mut self, actions: Vec<RoutedAction>) {
        let mut touched = BTreeSet::new();
        for (id, action) in actions {
            touched.insert(id);
            match action {
                Action::SendAdvert { packets, priority } => {
                    for packet in packets.iter() {
                        self.send_advert(id, packet);
                    }
                    debug!(instance = %self.resolved.instances[id.0].name, priority = priority.0, "advert sent");
                }
                Action::AddAddresses => self.addresses(id, true).await,
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
                } => self.log_transition(id, from, to, priority.0, &reason),
                Action::MasterRxLowerPriority { from, priority } => {
                    info!(instance = %self.resolved.instances[id.0].name, %from, priority = priority.0, "master heard a lower priority advert; answered it");
                }
                Action::PriorityChanged { state, priority } => {
                    info!(instance = %self.resolved.instances[id.0].name, state = state.name(), priority = priority.0, "effective priority changed");
                }
                Action::Anomaly(anomaly) => {
                    warn!(instance = %self.resolved.instances[id.0].name, ?anomaly, "unexpected advert");
                }
            }
        }
        let now = timer::now();
        for id in touched {
            let policy = self.router.instance(id).receive_policy(now);
            let source = self.link_view[id.0].1;
            self.receive.set_policy(id, &policy, source);
        }
    }

    fn send_advert(&mut self, id: InstanceId, packet: &AdvertPacket) {
        let link = self.resolved.instances[id.0].link.clone();
        let ipv6 = self.resolved.instances[id.0].receive.family == Family::Ipv6;
        let result = match packet {
            AdvertPacket::Multicast { frame } => {
                self.frames.send(self.current_ifindex(link.ifindex), frame)
            }
            AdvertPacket::Unicast { peer, packet } => {
                match self.link_sockets.get(&(link.name.clone(), ipv6)) {
                    Some(socket) => socket.send(*peer, packet),
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

    /// Adds or removes the instance's addresses, routes and rules. Failures are logged and
    /// the rest goes on (keepalived does the same).
    async fn addresses(&mut self, id: InstanceId, add: bool) {
        if self.holding[id.0] == add {
            return;
        }
        self.holding[id.0] = add;
        let instance = self.resolved.instances[id.0].clone();
        let vips: Vec<IpAddr> = instance.addresses.iter().map(|a| a.prefix.addr).collect();
        if add && let Some(hook) = &mut self.vip_hook {
            hook(&vips, true);
        }
        for address in &instance.addresses {
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
            for route in &instance.routes {
                if let Err(e) = self.netlink.route(route, &host, true).await {
                    self.report(id, "adding a route", &e);
                }
            }
            for rule in &instance.rules {
                if let Err(e) = self.netlink.rule(rule, true).await {
                    self.report(id, "adding a rule", &e);
                }
            }
        } else {
            for rule in &instance.rules {
                if let Err(e) = self.netlink.rule(rule, false).await {
                    self.report(id, "removing a rule", &e);
                }
            }
            for route in &instance.routes {
                if let Err(e) = self.netlink.route(route, &host, false).await {
                    self.report(id, "removing a route", &e);
                }
            }
            if let Some(hook) = &mut self.vip_hook {
                hook(&vips, false);
            }
        }
    }

    fn log_transition(
        &self,
        id: InstanceId,
        from: State,
        to: State,
        priority: u8,
        reason: &Reason,
    ) {
        let instance = &self.resolved.instances[id.0];
        let why = match reason {
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
        };
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
        let actions = self.router.broadcast(timer::now(), &Event::Shutdown);
        self.perform(actions).await;
        for bursts in &mut self.bursts {
            for burst in bursts.drain(..) {
                burst.abort();
            }
        }
        self.scripts.stop().await;
        for instance in &self.resolved.instances {
            if let Some(vmac) = &instance.vmac
                && let Some(iface) = self.host.interface(&vmac.name)
                && let Err(e) = self.netlink.delete_link(&vmac.name, iface.ifindex).await
            {
                warn!(iface = %vmac.name, error = %e, "cannot remove the VMAC interface");
            }
        }
        self.receive.shutdown();
    }
}
