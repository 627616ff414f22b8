//! The director's reload: keepalived's `clear_diff_services` on the load balancer's maps.
//! Map entries of kept services and destination ids of kept servers continue (their
//! connections and templates stay valid); freed ids come back later with a new generation.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;

use tracing::{info, warn};
use vrrp_common::{LbDest, LbServiceKey, VIP_HELD, VIP_WILDCARD_TCP, VIP_WILDCARD_UDP};

use super::{Director, Key, Service};
use crate::config::model::ScriptCommand;
use crate::dataplane::DataplaneError;
use crate::dataplane::lb::{addr_key, addr_of};
use crate::lvs::diff::{self, Pairing};
use crate::lvs::pool::{Member, Pool, PoolEvent};
use crate::lvs::settings::{LvsConfig, Protocol, RealService, VirtualService};

/// Ids of map entries (services, destinations), given out again once freed: the oldest
/// freed first, so a reload does not hand a server that just left to a new one at once.
#[derive(Debug)]
pub(super) struct Ids {
    next: u32,
    limit: u32,
    free: VecDeque<u32>,
}

impl Ids {
    pub(super) fn new(first: u32, limit: u32) -> Self {
        Self {
            next: first,
            limit,
            free: VecDeque::new(),
        }
    }

    fn take(&mut self) -> Option<u32> {
        if let Some(id) = self.free.pop_front() {
            return Some(id);
        }
        (self.next < self.limit).then(|| {
            self.next += 1;
            self.next - 1
        })
    }

    fn give_back(&mut self, id: u32) {
        self.free.push_back(id);
    }
}

/// A real server a reload removed, for the log and its `notify_down`.
#[derive(Clone, Debug)]
pub struct Gone {
    /// keepalived's names: `[10.0.0.1]:tcp:80` of the service and of the server.
    pub service: String,
    pub real: String,
    /// It was in its pool (alive): keepalived runs its `notify_down` (`clear_service_rs`).
    pub alive: bool,
    pub notify_down: Option<ScriptCommand>,
}

impl Gone {
    fn of(service: &VirtualService, real: &RealService, alive: bool) -> Self {
        Self {
            service: service.name.clone(),
            real: real.name(service.protocol),
            alive,
            notify_down: real.notify_down.clone(),
        }
    }
}

/// Counts of a reload, for the log and `xvrrpd reload`'s reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    pub services_kept: usize,
    pub services_added: usize,
    pub services_removed: usize,
    pub reals_added: usize,
    pub reals_removed: usize,
}

/// What [`Director::reload`] did.
#[derive(Debug, Default)]
pub struct Reloaded {
    /// Pool events of kept and new services (indices of the new configuration).
    pub events: Vec<(usize, PoolEvent)>,
    /// Real servers of removed services, and removed real servers of kept ones.
    pub gone: Vec<Gone>,
    pub summary: ReloadSummary,
}

impl Director {
    /// Moves the maps to a new configuration the way keepalived's reload moves IPVS
    /// (`clear_diff_services`): a service that continues ([`diff::services`]) keeps its map
    /// entries, slot tables and the destination ids of the servers that stay, so their
    /// connections and persistence templates stay valid; a removed server's destination
    /// leaves its service (its flows are scheduled again, as IPVS removes them); new
    /// services and servers start as at startup. Held states of kept addresses stay.
    pub fn reload(&mut self, config: &LvsConfig) -> Result<Reloaded, DataplaneError> {
        let old = std::mem::take(&mut self.services);
        let old_configs: Vec<VirtualService> = old.iter().map(|s| s.config.clone()).collect();
        let pairing = diff::services(&old_configs, &config.services);
        let mut out = Reloaded {
            summary: ReloadSummary {
                services_kept: pairing.kept(),
                services_added: pairing.added().count(),
                services_removed: pairing.removed.len(),
                ..ReloadSummary::default()
            },
            ..Reloaded::default()
        };
        let mut old: Vec<Option<Service>> = old.into_iter().map(Some).collect();
        // Destinations that leave: written out of their services once the tables that used
        // them are replaced.
        let mut retiring = Vec::new();
        for &o in &pairing.removed {
            let Some(service) = old[o].take() else {
                continue;
            };
            for (r, real) in service.config.reals.iter().enumerate() {
                out.gone
                    .push(Gone::of(&service.config, real, service.pool.alive(r)));
            }
            out.summary.reals_removed += service.config.reals.len();
            for key in service.keys {
                self.lb.maps().remove_service(&key.key)?;
                self.svc_ids.give_back(key.svc_id);
                retiring.extend(key.dests.into_values());
            }
        }
        for (index, new) in config.services.iter().enumerate() {
            let service = match pairing.carry[index].and_then(|o| old[o].take()) {
                None => {
                    let (pool, start) = Pool::new(new);
                    out.events.extend(start.into_iter().map(|e| (index, e)));
                    out.summary.reals_added += new.reals.len();
                    let reals = Pairing {
                        carry: vec![None; new.reals.len()],
                        removed: Vec::new(),
                    };
                    let keys = self.keys(new, Vec::new(), &reals, false, &mut retiring)?;
                    Service {
                        config: new.clone(),
                        pool,
                        keys,
                    }
                }
                Some(previous) => {
                    let reals = diff::reals(&previous.config.reals, &new.reals);
                    out.summary.reals_added += reals.added().count();
                    out.summary.reals_removed += reals.removed.len();
                    let (pool, events, alive) = previous.pool.reload(&previous.config, new, &reals);
                    for &o in &reals.removed {
                        out.gone.push(Gone::of(
                            &previous.config,
                            &previous.config.reals[o],
                            alive.contains(&o),
                        ));
                    }
                    out.events.extend(events.into_iter().map(|e| (index, e)));
                    let sorry_kept = match (&previous.config.sorry, &new.sorry) {
                        (Some(old), Some(new)) => diff::same_real(old, new),
                        _ => false,
                    };
                    let mut keys = previous.keys;
                    if previous.config.scheduler != new.scheduler {
                        // Another scheduler's table is no base for minimal disruption.
                        for key in &mut keys {
                            key.table.clear();
                            key.table_dests.clear();
                        }
                    }
                    let keys = self.keys(new, keys, &reals, sorry_kept, &mut retiring)?;
                    Service {
                        config: new.clone(),
                        pool,
                        keys,
                    }
                }
            };
            self.services.push(service);
        }
        for index in 0..self.services.len() {
            self.apply(index)?;
        }
        for id in retiring {
            self.retire_dest(id)?;
        }
        self.write_vips()?;
        Ok(out)
    }

    /// The map entries of `service`: those of `previous` with the same key continue (with
    /// the destination ids of the servers `reals` carries), the rest are new; previous keys
    /// not used any more are removed.
    fn keys(
        &mut self,
        service: &VirtualService,
        previous: Vec<Key>,
        reals: &Pairing,
        sorry_kept: bool,
        retiring: &mut Vec<u32>,
    ) -> Result<Vec<Key>, DataplaneError> {
        let mut previous: Vec<Option<Key>> = previous.into_iter().map(Some).collect();
        let mut keys = Vec::new();
        for &(addr, port) in &service.keys {
            let (family, bytes) = addr_key(&addr);
            let lb_key = LbServiceKey {
                addr: bytes,
                port,
                proto: service.protocol.number(),
                family,
            };
            let kept = previous
                .iter_mut()
                .find(|k| k.as_ref().is_some_and(|k| k.key == lb_key))
                .and_then(Option::take);
            let (mut old_dests, svc_id, region, table, table_dests) = match kept {
                Some(k) => (k.dests, Some(k.svc_id), k.region, k.table, k.table_dests),
                None => (BTreeMap::new(), None, 0, Vec::new(), Vec::new()),
            };
            let mut wanted: Vec<(Member, Option<u32>)> = (0..service.reals.len())
                .map(|i| {
                    let id = reals.carry[i].and_then(|o| old_dests.remove(&Member::Real(o)));
                    (Member::Real(i), id)
                })
                .collect();
            if service.sorry.is_some() {
                let id = sorry_kept
                    .then(|| old_dests.remove(&Member::Sorry))
                    .flatten();
                wanted.push((Member::Sorry, id));
            }
            retiring.extend(old_dests.into_values());
            let svc_id = svc_id.or_else(|| self.take_service());
            let mut dests = BTreeMap::new();
            let mut full = svc_id.is_none();
            for (member, id) in wanted {
                match id.or_else(|| self.take_dest()) {
                    Some(id) => {
                        dests.insert(member, id);
                    }
                    None => full = true,
                }
            }
            let Some(svc_id) = svc_id.filter(|_| !full) else {
                warn!(
                    service = %service.name,
                    "more services or real servers than the load balancer holds; the rest is not served"
                );
                self.lb.maps().remove_service(&lb_key)?;
                if let Some(id) = svc_id {
                    self.svc_ids.give_back(id);
                }
                retiring.extend(dests.into_values());
                break;
            };
            keys.push(Key {
                key: lb_key,
                svc_id,
                region,
                dests,
                table,
                table_dests,
            });
        }
        for key in previous.into_iter().flatten() {
            self.lb.maps().remove_service(&key.key)?;
            self.svc_ids.give_back(key.svc_id);
            retiring.extend(key.dests.into_values());
        }
        Ok(keys)
    }

    /// A service id for a new service entry, its statistics from zero.
    fn take_service(&mut self) -> Option<u32> {
        let id = self.svc_ids.take()?;
        if let Err(e) = self.lb.maps().clear_service_stats(id) {
            warn!(id, error = %e, "cannot clear a service's statistics");
        }
        Some(id)
    }

    /// A destination id for a new server, with a generation no connection carries yet.
    fn take_dest(&mut self) -> Option<u32> {
        let id = self.dest_ids.take()?;
        let generation = self.generations.entry(id).or_default();
        *generation += 1;
        self.lb.maps_ref().counts().reset(id);
        if let Err(e) = self.lb.maps().clear_dest_stats(id) {
            warn!(id, error = %e, "cannot clear a destination's statistics");
        }
        Some(id)
    }

    /// The destination left its service: its connections and templates are stale (the
    /// data path schedules their flows again) and the id is free.
    fn retire_dest(&mut self, id: u32) -> Result<(), DataplaneError> {
        let dest = LbDest {
            generation: self.generation(id),
            svc: u32::MAX,
            ..LbDest::default()
        };
        self.lb.maps().set_dest(id, &dest)?;
        self.dest_ids.give_back(id);
        Ok(())
    }

    fn generation(&self, id: u32) -> u32 {
        self.generations.get(&id).copied().unwrap_or(1)
    }

    /// Makes `lb_vips` what the services use: new addresses start not held (the netlink
    /// view says otherwise at once), kept ones keep their held state, unused ones go.
    fn write_vips(&mut self) -> Result<(), DataplaneError> {
        let mut wanted: BTreeMap<IpAddr, u32> = BTreeMap::new();
        for service in &self.services {
            for key in &service.keys {
                let addr = addr_of(key.key.family, &key.key.addr);
                let flags = wanted.entry(addr).or_default();
                if key.key.port == 0 {
                    *flags |= match service.config.protocol {
                        Protocol::Tcp => VIP_WILDCARD_TCP,
                        Protocol::Udp => VIP_WILDCARD_UDP,
                    };
                }
            }
        }
        for (addr, flags) in &wanted {
            if self.vip_flags.get(addr) == Some(flags) {
                continue;
            }
            let held = *self.held.entry(*addr).or_insert(false);
            self.lb
                .maps()
                .set_vip(addr, flags | if held { VIP_HELD } else { 0 })?;
        }
        let unused: Vec<IpAddr> = self
            .held
            .keys()
            .filter(|addr| !wanted.contains_key(addr))
            .copied()
            .collect();
        for addr in unused {
            self.lb.maps().remove_vip(&addr)?;
            self.held.remove(&addr);
            info!(vip = %addr, "virtual address no longer served by the load balancer");
        }
        self.vip_flags = wanted;
        Ok(())
    }
}
