//! Kernel events: what the XDP program tells the daemon. The receive path is configured from
//! the resolved instances, adverts reach the engine from the ring buffer (changes only) and
//! from the state map (read when a master-down deadline is due), and the engine's receive
//! policy goes back into the kernel. `dataplane` stays the only code that touches BPF.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use aya::maps::{MapData, RingBuf};
use tokio::io::unix::AsyncFd;
use tracing::info;
use vrrp_common::{CONFIG_UNICAST, CONFIG_V3_CHECKSUM_AS_V2, InstanceKey};

use super::resolve::{LinkRef, ReceiveMode, ReceiveSpec, Resolved};
use crate::dataplane::{Dataplane, DataplaneError, LoadOptions, parse_event};
use crate::engine::{Event, InstanceId, ReceivePolicy, Timestamp};
use crate::protocol::{Auth, ChecksumMode, Family, Priority};

/// An advert the engine should hear, at the time the kernel stamped it.
#[derive(Clone, Debug, PartialEq)]
pub struct Heard {
    pub id: InstanceId,
    pub at: Timestamp,
    pub event: Event,
}

/// The receive path of the running daemon.
pub struct Receive {
    dataplane: Dataplane,
    events: AsyncFd<RingBuf<MapData>>,
    specs: Vec<ReceiveSpec>,
    ids: HashMap<InstanceKey, InstanceId>,
    policies: Vec<Option<ReceivePolicy>>,
    /// The newest advert time handed to the engine per instance: nothing older follows it.
    delivered: Vec<Timestamp>,
}

impl Receive {
    /// Loads the XDP program (enforcing: unknown and invalid adverts are dropped in the
    /// kernel), attaches it to every interface carrying an instance and fills its maps.
    pub fn start(resolved: &Resolved, pin_dir: &Path) -> Result<Self, DataplaneError> {
        let mut dataplane = Dataplane::load(&LoadOptions {
            observe_all: false,
            pin_dir: pin_dir.to_owned(),
        })?;
        for link in resolved.links() {
            let mode = dataplane.attach(&link.name)?;
            info!(iface = %link.name, ?mode, "receive path attached");
        }
        let specs: Vec<ReceiveSpec> = resolved
            .instances
            .iter()
            .map(|i| i.receive.clone())
            .collect();
        let mut ids = HashMap::new();
        for (index, spec) in specs.iter().enumerate() {
            let key = key_of(spec);
            dataplane.set_config(key, config_of(spec))?;
            ids.insert(key, InstanceId(index));
        }
        let ring = dataplane
            .take_events()
            .expect("a fresh dataplane has its ring buffer");
        // SAFETY: the ring buffer owns its descriptor and moves into the AsyncFd, which drops
        // its registration before the descriptor closes.
        let events = unsafe { AsyncFd::register(ring) }.map_err(|e| DataplaneError::PinDir {
            path: pin_dir.to_owned(),
            source: e.into(),
        })?;
        let count = specs.len();
        Ok(Self {
            dataplane,
            events,
            specs,
            ids,
            policies: vec![None; count],
            delivered: vec![Timestamp::ZERO; count],
        })
    }

    /// The adverts the kernel reported since the last call (waits for at least one batch).
    pub async fn next(&mut self) -> std::io::Result<Vec<Heard>> {
        let mut guard = self.events.readable_mut().await?;
        let mut raw = Vec::new();
        while let Some(item) = guard.get_inner_mut().next() {
            raw.extend(parse_event(&item));
        }
        guard.clear_ready();
        drop(guard);
        let mut heard = Vec::new();
        for event in raw {
            let Some(&id) = self.ids.get(&event.key) else {
                continue;
            };
            let Some(family) = Family::from_map_value(event.key.family) else {
                continue;
            };
            let at = Timestamp::from_nanos(event.timestamp_ns);
            if at < self.delivered[id.0] {
                continue;
            }
            self.delivered[id.0] = at;
            heard.push(Heard {
                id,
                at,
                event: Event::Advert {
                    src: family.addr_from(&event.master_addr),
                    priority: Priority(event.priority),
                    interval: Duration::from_millis(u64::from(event.advert_interval_cs) * 10),
                },
            });
        }
        Ok(heard)
    }

    /// The last advert that keeps the instance's master alive, if the engine has not heard
    /// it yet: read from the state map when the master-down deadline is due.
    pub fn alive(&mut self, id: InstanceId) -> Option<Heard> {
        let key = key_of(&self.specs[id.0]);
        let state = self
            .dataplane
            .states()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, state)| state)?;
        let at = Timestamp::from_nanos(state.last_seen_ns);
        if state.last_seen_ns == 0 || at <= self.delivered[id.0] {
            return None;
        }
        let policy = self.policies[id.0]?;
        let accepted = state.master_priority != 0
            && (state.master_priority >= policy.priority.0 || policy.accept_lower);
        if !accepted {
            return None;
        }
        let family = Family::from_map_value(key.family)?;
        self.delivered[id.0] = at;
        Some(Heard {
            id,
            at,
            event: Event::Advert {
                src: family.addr_from(&state.master_addr),
                priority: Priority(state.master_priority),
                interval: Duration::from_millis(u64::from(state.advert_interval_cs) * 10),
            },
        })
    }

    /// Tells the kernel what the engine now accepts as a live master.
    pub fn set_policy(&mut self, id: InstanceId, policy: &ReceivePolicy) {
        if self.policies[id.0].as_ref() != Some(policy) {
            self.policies[id.0] = Some(*policy);
        }
    }

    /// The instance's advert source changed: unicast adverts are addressed to it.
    pub fn set_source(&mut self, id: InstanceId, source: Option<IpAddr>) {
        let _ = (id, source);
    }

    /// An interface was re-created under the same name with another index.
    pub fn relink(&mut self, old: &LinkRef, new: &LinkRef) -> Result<(), DataplaneError> {
        self.dataplane.attach(&new.name)?;
        let mut moved = Vec::new();
        for (index, spec) in self.specs.iter_mut().enumerate() {
            if spec.ifindex == old.ifindex {
                self.ids.remove(&key_of(spec));
                spec.ifindex = new.ifindex;
                moved.push(index);
            }
        }
        for index in moved {
            let spec = &self.specs[index];
            self.dataplane.set_config(key_of(spec), config_of(spec))?;
            self.ids.insert(key_of(spec), InstanceId(index));
        }
        Ok(())
    }

    /// Detaches from every interface and removes the pins.
    pub fn shutdown(self) {
        drop(self.events);
        self.dataplane.shutdown();
    }
}

fn key_of(spec: &ReceiveSpec) -> InstanceKey {
    InstanceKey::new(spec.ifindex, spec.family.map_value(), spec.vrid.0)
}

fn config_of(spec: &ReceiveSpec) -> vrrp_common::InstanceConfig {
    let mut flags = 0;
    if spec.checksum == ChecksumMode::AsV2 {
        flags |= CONFIG_V3_CHECKSUM_AS_V2;
    }
    let (min_ttl, max_ttl) = match &spec.mode {
        ReceiveMode::Multicast { .. } => (255, 255),
        ReceiveMode::Unicast { peers, .. } => {
            flags |= CONFIG_UNICAST;
            (
                peers.iter().map(|p| p.min_ttl).min().unwrap_or(0),
                peers.iter().map(|p| p.max_ttl).max().unwrap_or(255),
            )
        }
    };
    let (auth_type, auth_pass) = match spec.auth {
        Auth::None => (vrrp_common::proto::AUTH_NONE, [0; 8]),
        Auth::Pass(pass) => (vrrp_common::proto::AUTH_PASS, pass),
        Auth::Ah => (vrrp_common::proto::AUTH_AH, [0; 8]),
    };
    vrrp_common::InstanceConfig {
        version: spec.version.number(),
        flags,
        auth_type,
        min_ttl,
        max_ttl,
        _pad: [0],
        advert_interval_cs: (spec.advert_interval.as_millis() / 10) as u16,
        auth_pass,
    }
}
