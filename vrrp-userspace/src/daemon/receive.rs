//! Kernel events: what the XDP program tells the daemon. The receive path is configured from
//! the resolved instances, adverts reach the engine from the ring buffer (changes only) and
//! from the state map (read when a master-down deadline is due, or after the ring overflowed),
//! and the engine's receive policy goes back into the kernel. `dataplane` stays the only code
//! that touches BPF.
//!
//! Master-down timers: with kernel timers on, a backup's timer runs in the XDP program from
//! the first advert it accepts after the policy said BACKUP (`EVENT_TIMER_ARMED`); from then on
//! the instance is *watched*: the loop drops its userspace master-down deadline, and the
//! kernel's `EVENT_MASTER_DOWN` is what wakes it. Every state the daemon writes starts a new
//! policy generation, so nothing armed for an earlier state counts. Without kernel timers
//! (`--no-kernel-timers`, or a kernel that refuses them) nothing is ever watched and the
//! userspace deadline, checked against `last_alive_ns`, does it all.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use aya::maps::{MapData, RingBuf};
use tokio::io::unix::AsyncFd;
use tracing::{debug, info, warn};
use vrrp_common::{
    CONFIG_CHECK_UNICAST_SRC, CONFIG_OLD_UNICAST_CHECKSUM, CONFIG_SKIP_CHECK_ADV_ADDR,
    CONFIG_UNICAST, CONFIG_UNICAST_CHECKSUM_AUTO, CONFIG_V3_CHECKSUM_AS_V2, EVENT_MASTER_DOWN,
    EVENT_TIMER_ARMED, GlobalStats, IfaceDrops, InstanceKey, InstanceState, POLICY_BACKUP,
    RxCounters, RxKey, TIMER_ARMED, VrrpEvent,
};

pub use super::policy::kernel_policy;
use super::policy::kernel_state;
use super::resolve::{LinkRef, ReceiveMode, ReceiveSpec, Resolved, UnicastChecksum};
use crate::dataplane::{
    Attached, Dataplane, DataplaneError, KernelTimers, LoadOptions, Mode, ProgramLog, parse_event,
};
use crate::engine::{Event, InstanceId, ReceivePolicy, Timestamp};
use crate::protocol::{Auth, ChecksumMode, Family, Priority};

/// An advert the engine should hear, at the time the kernel stamped it.
#[derive(Clone, Debug, PartialEq)]
pub struct Heard {
    pub id: InstanceId,
    pub at: Timestamp,
    pub event: Event,
}

/// What the kernel reported.
#[derive(Clone, Debug, PartialEq)]
pub enum News {
    /// An advert the engine should hear.
    Heard(Heard),
    /// The backup's master-down timer fired at `at` (it is no longer watched).
    MasterDown { id: InstanceId, at: Timestamp },
}

/// One instance as the receive path knows it.
struct Entry {
    spec: ReceiveSpec,
    /// Where adverts for it are addressed; `None` for a unicast instance without a source
    /// address yet (nothing can reach it).
    key: Option<InstanceKey>,
    policy: Option<vrrp_common::ReceivePolicy>,
    /// The newest advert time handed to the engine: nothing older follows it.
    delivered: Timestamp,
    /// The newest state-map sequence number seen in an event.
    seq: u64,
    /// [`vrrp_common::ReceivePolicy::generation`] of the last policy written.
    generation: u32,
    /// A kernel master-down timer of this generation runs: the userspace deadline is not needed.
    watching: bool,
}

impl Entry {
    fn new(spec: ReceiveSpec) -> Self {
        Self {
            spec,
            key: None,
            policy: None,
            delivered: Timestamp::ZERO,
            seq: 0,
            generation: 0,
            watching: false,
        }
    }
}

/// The slots-map keys that send a unicast peer's adverts to the instance of `key`: none for
/// slot 0, which is where an advert without an entry goes.
fn slot_peers(spec: &ReceiveSpec, key: InstanceKey) -> Vec<RxKey> {
    match &spec.mode {
        ReceiveMode::Unicast { peers, .. } if key.slot != 0 => peers
            .iter()
            .map(|peer| RxKey::peer(key.with_slot(0), Family::map_bytes(&peer.addr)))
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether adverts for the two specs reach the same kernel key (the unicast destination is
/// the source address, which the instance keeps).
fn same_address(old: &ReceiveSpec, new: &ReceiveSpec) -> bool {
    let group = |spec: &ReceiveSpec| match spec.mode {
        ReceiveMode::Multicast { group } => Some(group),
        ReceiveMode::Unicast { .. } => None,
    };
    old.ifindex == new.ifindex
        && old.family == new.family
        && old.vrid == new.vrid
        && group(old) == group(new)
}

/// The receive path of the running daemon.
pub struct Receive {
    dataplane: Dataplane,
    events: AsyncFd<RingBuf<MapData>>,
    log: Option<AsyncFd<ProgramLog>>,
    entries: Vec<Entry>,
    ids: HashMap<InstanceKey, InstanceId>,
    /// The program's count of events lost to a full ring, when last read.
    ring_full: u64,
}

impl Receive {
    /// Loads the XDP program in enforcing mode (invalid adverts and adverts for instances we do
    /// not run are dropped in the kernel, unless `foreign_pass`), attaches it to every
    /// interface carrying an instance (detaching it from interfaces an earlier run used and
    /// this configuration does not) and fills its maps.
    pub fn start(
        resolved: &Resolved,
        pin_dir: &Path,
        foreign_pass: bool,
        kernel_timers: bool,
    ) -> Result<Self, DataplaneError> {
        let mut dataplane = Dataplane::load(&LoadOptions {
            mode: Mode::Enforce,
            pin_dir: pin_dir.to_owned(),
            foreign_pass,
            kernel_timers,
        })?;
        match dataplane.kernel_timers() {
            KernelTimers::On => {
                info!(
                    "master-down timers run in the kernel (bpf_timer); a backup wakes only when its master is down"
                )
            }
            KernelTimers::Off => {
                info!(
                    "kernel master-down timers off (--no-kernel-timers): backups use userspace deadlines"
                )
            }
            KernelTimers::Unavailable(why) => warn!(
                reason = %why,
                "the kernel refused master-down timers (bpf_timer); backups use userspace deadlines instead"
            ),
        }
        let links: Vec<u32> = resolved.links().iter().map(|l| l.ifindex).collect();
        for attached in dataplane.set_interfaces(&links)? {
            info!(ifindex = attached.ifindex, mode = ?attached.mode, "receive path attached");
        }
        let ring = dataplane
            .take_events()
            .expect("a fresh dataplane has its ring buffer");
        // SAFETY: the ring buffer and the logger own their descriptors and move into the
        // AsyncFds, which drop their registrations before the descriptors close.
        let events = unsafe { AsyncFd::register(ring) }.map_err(|e| DataplaneError::Io {
            what: "polling the event ring buffer",
            source: e.into(),
        })?;
        let log = dataplane
            .take_logger()
            .and_then(|logger| unsafe { AsyncFd::register(logger) }.ok());
        let mut receive = Self {
            dataplane,
            events,
            log,
            entries: Vec::new(),
            ids: HashMap::new(),
            ring_full: 0,
        };
        for (index, instance) in resolved.instances.iter().enumerate() {
            receive.entries.push(Entry::new(instance.receive.clone()));
            receive.install(InstanceId(index), instance.engine.source)?;
        }
        receive.ring_full = receive.dataplane.global_stats().ring_full;
        Ok(receive)
    }

    /// Puts an instance's entries in the kernel for adverts addressed to `source` (unicast)
    /// or to its group (multicast), replacing what it had.
    fn install(&mut self, id: InstanceId, source: Option<IpAddr>) -> Result<(), DataplaneError> {
        let entry = &mut self.entries[id.0];
        if let Some(old) = entry.key.take() {
            // Its timer goes with its entries.
            entry.watching = false;
            self.ids.remove(&old);
            self.dataplane.remove_instance(&old)?;
        }
        let spec = entry.spec.clone();
        let dst = match &spec.mode {
            ReceiveMode::Multicast { group } => Some(*group),
            ReceiveMode::Unicast { .. } => source,
        };
        let Some(dst) = dst else {
            return Ok(());
        };
        let base = InstanceKey::new(
            spec.ifindex,
            spec.family.map_value(),
            spec.vrid.0,
            Family::map_bytes(&dst),
        );
        // Unicast instances sharing interface, VRID and local address (their peers differ:
        // the configuration refuses a shared one) each get a slot; the program finds it by
        // the advert's source.
        let key = match spec.mode {
            ReceiveMode::Multicast { .. } => base,
            ReceiveMode::Unicast { .. } => {
                let taken = |slot: u8| {
                    self.entries
                        .iter()
                        .any(|other| other.key == Some(base.with_slot(slot)))
                };
                let slot = (0..=u8::MAX).find(|slot| !taken(*slot)).ok_or(
                    DataplaneError::Unsupported {
                        what: "more than 256 unicast instances with one VRID, interface and local address",
                        hint: "give some of them another virtual_router_id",
                    },
                )?;
                base.with_slot(slot)
            }
        };
        for peer in slot_peers(&spec, key) {
            self.dataplane.set_slot(&peer, key.slot)?;
        }
        for (rx_key, config) in config_entries(&spec, key) {
            self.dataplane.insert_config(&rx_key, &config)?;
        }
        self.dataplane.set_vips(&key, &spec.vips)?;
        let entry = &mut self.entries[id.0];
        if let Some(policy) = &entry.policy {
            self.dataplane.set_policy(&key, policy)?;
        }
        entry.key = Some(key);
        self.ids.insert(key, id);
        Ok(())
    }

    /// A reload: the entries follow the new instances (`carry[i]`: the running instance the
    /// new instance `i` continues). A carried instance addressed as before keeps its entry:
    /// what the kernel heard, its counters and its policy stay, and only a changed
    /// configuration or VIP list is rewritten in place. Everything else is installed fresh,
    /// after the keys nobody uses any more are removed (a new instance may reuse one). The
    /// program stays attached; interfaces no longer used are detached, new ones attached.
    pub fn reconfigure(
        &mut self,
        resolved: &Resolved,
        carry: &[Option<InstanceId>],
    ) -> Result<(), DataplaneError> {
        let mut running: Vec<Option<Entry>> = std::mem::take(&mut self.entries)
            .into_iter()
            .map(Some)
            .collect();
        let mut rewrite = Vec::new();
        let mut install = Vec::new();
        for (index, (instance, carried)) in resolved.instances.iter().zip(carry).enumerate() {
            let spec = instance.receive.clone();
            let kept = carried
                .and_then(|old| running.get_mut(old.0).and_then(Option::take))
                .filter(|entry| same_address(&entry.spec, &spec));
            match kept {
                Some(mut entry) => {
                    if entry.spec != spec {
                        rewrite.push((index, std::mem::replace(&mut entry.spec, spec)));
                    }
                    self.entries.push(entry);
                }
                None => {
                    self.entries.push(Entry::new(spec));
                    install.push(index);
                }
            }
        }
        for entry in running.into_iter().flatten() {
            if let Some(key) = entry.key {
                self.ids.remove(&key);
                self.dataplane.remove_instance(&key)?;
            }
        }
        self.ids = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| Some((entry.key?, InstanceId(index))))
            .collect();
        for (index, old_spec) in rewrite {
            self.rewrite(InstanceId(index), &old_spec)?;
        }
        for index in install {
            self.install(InstanceId(index), resolved.instances[index].engine.source)?;
        }
        let links: Vec<u32> = resolved.links().iter().map(|l| l.ifindex).collect();
        for attached in self.dataplane.set_interfaces(&links)? {
            debug!(ifindex = attached.ifindex, mode = ?attached.mode, "receive path attached");
        }
        Ok(())
    }

    /// Rewrites a kept instance's kernel configuration in place: entries that no longer
    /// exist (a peer removed) go, the others are overwritten, the VIPs only if they changed.
    fn rewrite(&mut self, id: InstanceId, old_spec: &ReceiveSpec) -> Result<(), DataplaneError> {
        let entry = &self.entries[id.0];
        let Some(key) = entry.key else {
            return Ok(());
        };
        let peers = slot_peers(&entry.spec, key);
        for peer in slot_peers(old_spec, key) {
            if !peers.contains(&peer) {
                self.dataplane.remove_slot(&peer)?;
            }
        }
        for peer in &peers {
            self.dataplane.set_slot(peer, key.slot)?;
        }
        let wanted = config_entries(&entry.spec, key);
        for (rx_key, _) in config_entries(old_spec, key) {
            if !wanted.iter().any(|(k, _)| *k == rx_key) {
                self.dataplane.remove_config(&rx_key)?;
            }
        }
        for (rx_key, config) in &wanted {
            self.dataplane.insert_config(rx_key, config)?;
        }
        if entry.spec.vips != old_spec.vips {
            let vips = entry.spec.vips.clone();
            self.dataplane.set_vips(&key, &vips)?;
        }
        Ok(())
    }

    /// What the kernel reported since the last call (waits for something).
    pub async fn next(&mut self) -> std::io::Result<Vec<News>> {
        loop {
            tokio::select! {
                guard = self.events.readable_mut() => {
                    let mut guard = guard?;
                    // Readiness is cleared before the ring is read, never after: an event
                    // written between the last read and a later clear would wait, unseen,
                    // for the next one (50 kernel timers firing together lost all but 11).
                    guard.clear_ready();
                    let mut events = Vec::new();
                    while let Some(item) = guard.get_inner_mut().next() {
                        events.extend(parse_event(&item));
                    }
                    drop(guard);
                    let mut news: Vec<News> = events.iter().filter_map(|e| self.news(e)).collect();
                    news.extend(self.after_overflow().into_iter().map(News::Heard));
                    if !news.is_empty() {
                        return Ok(news);
                    }
                }
                guard = readable(&mut self.log) => {
                    let mut guard = guard?;
                    guard.clear_ready();
                    guard.get_inner_mut().flush();
                }
            }
        }
    }

    /// An event as news: a master-down timer that fired, or an advert for the engine (unless
    /// it is older than what the engine heard). A timer armed for the current generation makes
    /// the instance watched; anything of an older generation is stale.
    fn news(&mut self, event: &VrrpEvent) -> Option<News> {
        let id = *self.ids.get(&event.key)?;
        let entry = &mut self.entries[id.0];
        let current = event.policy_generation == entry.generation
            && entry.policy.is_some_and(|p| p.state == POLICY_BACKUP);
        if event.kinds & EVENT_MASTER_DOWN != 0 {
            if !current {
                return None;
            }
            entry.watching = false;
            return Some(News::MasterDown {
                id,
                at: Timestamp::from_nanos(event.timestamp_ns),
            });
        }
        if event.kinds & EVENT_TIMER_ARMED != 0 && current {
            entry.watching = true;
        }
        self.heard(id, event).map(News::Heard)
    }

    /// An event as the engine's advert, unless it is older than what the engine heard.
    fn heard(&mut self, id: InstanceId, event: &VrrpEvent) -> Option<Heard> {
        let entry = &mut self.entries[id.0];
        if event.seq <= entry.seq {
            return None;
        }
        entry.seq = event.seq;
        let at = Timestamp::from_nanos(event.timestamp_ns);
        if at < entry.delivered {
            return None;
        }
        entry.delivered = at;
        let family = Family::from_map_value(event.key.family)?;
        Some(Heard {
            id,
            at,
            event: Event::Advert {
                src: family.addr_from(&event.master_addr),
                priority: Priority(event.priority),
                interval: centiseconds(event.advert_interval_cs),
            },
        })
    }

    /// When the ring was full the program kept the state map right but lost events: read the
    /// state of every instance whose sequence number moved.
    fn after_overflow(&mut self) -> Vec<Heard> {
        let ring_full = self.dataplane.global_stats().ring_full;
        if ring_full == self.ring_full {
            return Vec::new();
        }
        warn!(
            lost = ring_full - self.ring_full,
            "the event ring buffer was full; reading the state map instead"
        );
        self.ring_full = ring_full;
        let mut heard = Vec::new();
        for index in 0..self.entries.len() {
            let Some(key) = self.entries[index].key else {
                continue;
            };
            let Ok(Some(state)) = self.dataplane.state(&key) else {
                continue;
            };
            let entry = &mut self.entries[index];
            if state.seq <= entry.seq || state.last_seen_ns == 0 {
                continue;
            }
            entry.seq = state.seq;
            let at = Timestamp::from_nanos(state.last_seen_ns);
            if at < entry.delivered {
                continue;
            }
            entry.delivered = at;
            heard.push(Heard {
                id: InstanceId(index),
                at,
                event: Event::Advert {
                    src: entry.spec.family.addr_from(&state.master_addr),
                    priority: Priority(state.master_priority),
                    interval: centiseconds(state.master_interval_cs),
                },
            });
        }
        heard
    }

    /// The last advert that kept the instance's master alive, if the engine has not heard it
    /// yet: read from the state map when the master-down deadline is due.
    pub fn alive(&mut self, id: InstanceId) -> Option<Heard> {
        let entry = &self.entries[id.0];
        let state: InstanceState = self.dataplane.state(&entry.key?).ok()??;
        let at = Timestamp::from_nanos(state.last_alive_ns);
        if state.last_alive_ns == 0 || at <= entry.delivered {
            return None;
        }
        let entry = &mut self.entries[id.0];
        entry.delivered = at;
        debug!(
            instance = id.0,
            ms_ago = (super::timer::now() - at).as_secs_f64() * 1e3,
            "master still alive"
        );
        Some(Heard {
            id,
            at,
            event: Event::Advert {
                src: entry.spec.family.addr_from(&state.alive_addr),
                priority: Priority(state.alive_priority),
                interval: centiseconds(state.alive_interval_cs),
            },
        })
    }

    /// Whether backups' master-down timers run in the kernel.
    pub fn kernel_timers(&self) -> bool {
        *self.dataplane.kernel_timers() == KernelTimers::On
    }

    /// Whether a kernel master-down timer stands in for the instance's userspace deadline now.
    pub fn watching(&self, id: InstanceId) -> bool {
        self.entries[id.0].watching
    }

    /// A userspace master-down deadline of an unwatched backup came: if the kernel armed the
    /// timer meanwhile without telling (its event held back by the rate limit or lost to a
    /// full ring) and it is due in the future, the instance is watched from now on.
    pub fn confirm_watch(&mut self, id: InstanceId, now: Timestamp) {
        let entry = &self.entries[id.0];
        if entry.watching || !self.kernel_timers() {
            return;
        }
        let Some(key) = entry.key else {
            return;
        };
        if let Ok(Some(timer)) = self.dataplane.timer(&key)
            && timer.flags & TIMER_ARMED != 0
            && timer.expires_ns > now.as_nanos()
            && timer.generation == entry.generation
            && entry.policy.is_some_and(|p| p.state == POLICY_BACKUP)
        {
            debug!(instance = id.0, "the kernel watches the master");
            self.entries[id.0].watching = true;
        }
    }

    /// Every watched backup goes back to its userspace deadline (which confirms the kernel's
    /// watch again when it comes, see [`Receive::confirm_watch`]); returns them. After a
    /// takeover: kernel timers of other instances expiring at the same moment were seen
    /// never to fire on this kernel (38 of 50), so none is trusted blindly then.
    pub fn unwatch_all(&mut self) -> Vec<InstanceId> {
        let mut unwatched = Vec::new();
        for (index, entry) in self.entries.iter_mut().enumerate() {
            if entry.watching {
                entry.watching = false;
                unwatched.push(InstanceId(index));
            }
        }
        unwatched
    }

    /// Watched backups whose kernel timer is overdue: armed, but its expiry passed more than
    /// `grace` ago without firing. They go back to their userspace deadlines.
    pub fn unwatch_overdue(&mut self, now: Timestamp, grace: Duration) -> Vec<InstanceId> {
        let mut overdue = Vec::new();
        for index in 0..self.entries.len() {
            let entry = &self.entries[index];
            let Some(key) = entry.key.filter(|_| entry.watching) else {
                continue;
            };
            if let Ok(Some(timer)) = self.dataplane.timer(&key)
                && timer.flags & TIMER_ARMED != 0
                && timer.expires_ns.saturating_add(grace.as_nanos() as u64) < now.as_nanos()
            {
                warn!(
                    instance = index,
                    overdue_ms = (now.as_nanos() - timer.expires_ns) as f64 / 1e6,
                    "the kernel's master-down timer did not fire; the userspace deadline takes over"
                );
                self.entries[index].watching = false;
                overdue.push(InstanceId(index));
            }
        }
        overdue
    }

    /// Tells the kernel what the engine now accepts as a live master (what to wake us for, and
    /// how long a backup's master-down timer runs); a new state starts a new generation. The
    /// kernel's timer then follows at once (`vrrp_timer_sync`).
    pub fn set_policy(&mut self, id: InstanceId, policy: &ReceivePolicy, source: Option<IpAddr>) {
        let entry = &mut self.entries[id.0];
        let state = kernel_state(policy.state);
        let generation = match entry.policy {
            Some(previous) if previous.state == state => entry.generation,
            _ => entry.generation.wrapping_add(1),
        };
        let kernel = kernel_policy(policy, source, generation);
        if entry.policy == Some(kernel) {
            return;
        }
        if generation != entry.generation {
            entry.watching = false;
        }
        entry.policy = Some(kernel);
        entry.generation = generation;
        let Some(key) = entry.key else {
            return;
        };
        if let Err(e) = self.dataplane.set_policy(&key, &kernel) {
            warn!(instance = id.0, error = %e, "cannot update the receive policy");
            return;
        }
        match self.dataplane.sync_timer(&key) {
            Ok(armed) => self.entries[id.0].watching = armed,
            Err(e) => {
                warn!(instance = id.0, error = %e, "cannot bring the master-down timer in step with the policy");
                self.entries[id.0].watching = false;
            }
        }
    }

    /// The instance's advert source changed: unicast adverts are addressed to it.
    pub fn set_source(&mut self, id: InstanceId, source: Option<IpAddr>) {
        let entry = &self.entries[id.0];
        let current = entry.key.map(|k| entry.spec.family.addr_from(&k.dst));
        if !matches!(entry.spec.mode, ReceiveMode::Unicast { .. }) || current == source {
            return;
        }
        if let Err(e) = self.install(id, source) {
            warn!(instance = id.0, error = %e, "cannot re-key the unicast instance");
        }
    }

    /// An interface was re-created under the same name with another index.
    pub fn relink(&mut self, old: &LinkRef, new: &LinkRef) -> Result<(), DataplaneError> {
        self.dataplane.attach_index(new.ifindex)?;
        for index in 0..self.entries.len() {
            if self.entries[index].spec.ifindex != old.ifindex {
                continue;
            }
            self.entries[index].spec.ifindex = new.ifindex;
            let source = self.entries[index]
                .key
                .map(|k| self.entries[index].spec.family.addr_from(&k.dst));
            let unicast = matches!(self.entries[index].spec.mode, ReceiveMode::Unicast { .. });
            self.install(InstanceId(index), if unicast { source } else { None })?;
        }
        let links: Vec<u32> = {
            let mut links: Vec<u32> = self.entries.iter().map(|e| e.spec.ifindex).collect();
            links.sort_unstable();
            links.dedup();
            links
        };
        self.dataplane.set_interfaces(&links)?;
        Ok(())
    }

    /// What the kernel recorded for an instance: the master it hears (if any) and the
    /// receive counters.
    pub fn kernel_view(&self, id: InstanceId) -> (Option<InstanceState>, RxCounters) {
        match self.entries[id.0].key {
            Some(key) => (
                self.dataplane.state(&key).ok().flatten(),
                self.dataplane.counters(&key),
            ),
            None => (None, RxCounters::default()),
        }
    }

    /// Every interface the program is attached to, how, and what it dropped there.
    pub fn interfaces(&self) -> Vec<(Attached, IfaceDrops)> {
        self.dataplane
            .attached()
            .into_iter()
            .map(|a| (a, self.dataplane.iface_drops(a.ifindex)))
            .collect()
    }

    /// The program's global counters.
    pub fn global(&self) -> GlobalStats {
        self.dataplane.global_stats()
    }

    /// The pin directory.
    pub fn pin_dir(&self) -> &Path {
        self.dataplane.pin_dir()
    }

    /// Detaches from every interface and removes the pins.
    pub fn shutdown(self) {
        drop(self.events);
        drop(self.log);
        self.dataplane.shutdown();
    }
}

async fn readable(
    log: &mut Option<AsyncFd<ProgramLog>>,
) -> std::io::Result<tokio::io::unix::AsyncFdReadyMutGuard<'_, ProgramLog>> {
    match log {
        Some(log) => log.readable_mut().await,
        None => std::future::pending().await,
    }
}

fn centiseconds(cs: u16) -> Duration {
    Duration::from_millis(u64::from(cs) * 10)
}

/// The `vrrp_config` entries of an instance: one for any source, plus one per peer with its
/// TTL window when unicast sources are checked (keepalived's `check_unicast_src`).
fn config_entries(
    spec: &ReceiveSpec,
    key: InstanceKey,
) -> Vec<(RxKey, vrrp_common::InstanceConfig)> {
    let mut flags = 0;
    if spec.checksum == ChecksumMode::AsV2 {
        flags |= CONFIG_V3_CHECKSUM_AS_V2;
    }
    if spec.skip_check_adv_addr {
        flags |= CONFIG_SKIP_CHECK_ADV_ADDR;
    }
    let (auth_type, auth_pass) = match spec.auth {
        Auth::None => (vrrp_common::proto::AUTH_NONE, [0; 8]),
        Auth::Pass(pass) => (vrrp_common::proto::AUTH_PASS, pass),
        Auth::Ah => (vrrp_common::proto::AUTH_AH, [0; 8]),
    };
    let base = vrrp_common::InstanceConfig {
        version: spec.version.number(),
        auth_type,
        flags,
        vip_count: spec.vips.len().min(255) as u8,
        min_ttl: 0,
        max_ttl: 255,
        _pad: 0,
        advert_interval_cs: (spec.advert_interval.as_millis() / 10) as u16,
        _pad2: [0; 2],
        auth_pass,
        mcast_group4: spec.mcast_group4.octets(),
    };
    match &spec.mode {
        ReceiveMode::Multicast { .. } => vec![(RxKey::any_source(key), base)],
        ReceiveMode::Unicast {
            peers,
            check_source,
            checksum,
        } => {
            let mut config = base;
            config.flags |= CONFIG_UNICAST;
            config.flags |= match checksum {
                UnicastChecksum::Auto => CONFIG_UNICAST_CHECKSUM_AUTO,
                UnicastChecksum::Old => CONFIG_OLD_UNICAST_CHECKSUM,
                UnicastChecksum::Never => 0,
            };
            if *check_source {
                config.flags |= CONFIG_CHECK_UNICAST_SRC;
            }
            let mut entries = vec![(RxKey::any_source(key), config)];
            if *check_source {
                entries.extend(peers.iter().map(|peer| {
                    let mut config = config;
                    config.min_ttl = peer.min_ttl;
                    config.max_ttl = peer.max_ttl;
                    (RxKey::peer(key, Family::map_bytes(&peer.addr)), config)
                }));
            }
            entries
        }
    }
}
