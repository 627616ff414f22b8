//! The director: keeps the load balancer's maps equal to what the configuration and the
//! checkers say. One service entry per (address, port) of a virtual service, one
//! destination per service entry and pool member; scheduling tables rebuilt into the
//! service's spare region and switched in one write.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;

use tracing::{info, warn};
use vrrp_common::{
    CONN_CLOSING, CONN_ESTABLISHED, CONN_SYN, DEST_LIVE, DEST_RESOLVED, DIR_IN, LB_REGION_SLOTS,
    LbDest, LbService, LbServiceKey, SVC_HASH_PORT, SVC_ONE_PACKET, SVC_PERSISTENT, VIP_HELD,
    VIP_WILDCARD_TCP, VIP_WILDCARD_UDP,
};

use crate::config::model::ScriptCommand;
use crate::dataplane::DataplaneError;
use crate::dataplane::lb::{LoadBalancer, addr_key, addr_of};
use crate::lvs::diff::{self, Pairing};
use crate::lvs::pool::{Member, Pool, PoolEvent};
use crate::lvs::settings::{LvsConfig, Protocol, RealService, VirtualService};
use crate::lvs::tables::{self, TableDest};

/// Where frames for a real server leave: resolved from the kernel's routes and neighbours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextHop {
    pub ifindex: u32,
    pub mac: [u8; 6],
    pub src_mac: [u8; 6],
    /// The director's own address towards the server (TUN's outer source).
    pub src: IpAddr,
    pub mtu: u32,
}

#[derive(Clone, Debug)]
struct Key {
    key: LbServiceKey,
    svc_id: u32,
    /// Which of the service's two slot regions is in use.
    region: u32,
    dests: BTreeMap<Member, u32>,
    table: Vec<u32>,
    table_dests: Vec<TableDest>,
}

struct Service {
    config: VirtualService,
    pool: Pool,
    keys: Vec<Key>,
}

/// Connection timeouts (IPVS's defaults: `ipvsadm --set 900 120 300`, and SYN_RECV 60 s).
pub const TIMEOUT_ESTABLISHED_S: u64 = 900;
pub const TIMEOUT_CLOSING_S: u64 = 120;
pub const TIMEOUT_SYN_S: u64 = 60;
pub const TIMEOUT_UDP_S: u64 = 300;

pub struct Director {
    lb: LoadBalancer,
    services: Vec<Service>,
    next_hops: BTreeMap<IpAddr, NextHop>,
    held: BTreeMap<IpAddr, bool>,
    /// `VIP_WILDCARD_*` bits of each virtual address, as written.
    vip_flags: BTreeMap<IpAddr, u32>,
    svc_ids: Ids,
    dest_ids: Ids,
    /// The generation each destination id was last given out with.
    generations: BTreeMap<u32, u32>,
}

/// Ids of map entries (services, destinations), given out again once freed: the oldest
/// freed first, so a reload does not hand a server that just left to a new one at once.
#[derive(Debug)]
struct Ids {
    next: u32,
    limit: u32,
    free: VecDeque<u32>,
}

impl Ids {
    fn new(first: u32, limit: u32) -> Self {
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
    /// Writes every virtual address, service, destination and table of `config`. Returns
    /// the pools' start events (quorum gained or lost) per service.
    pub fn new(
        lb: LoadBalancer,
        config: &LvsConfig,
    ) -> Result<(Self, Vec<(usize, PoolEvent)>), DataplaneError> {
        let mut director = Self {
            lb,
            services: Vec::new(),
            next_hops: BTreeMap::new(),
            held: BTreeMap::new(),
            vip_flags: BTreeMap::new(),
            svc_ids: Ids::new(0, vrrp_common::LB_MAX_SERVICES),
            dest_ids: Ids::new(1, vrrp_common::LB_MAX_DESTS),
            generations: BTreeMap::new(),
        };
        let reloaded = director.reload(config)?;
        Ok((director, reloaded.events))
    }

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
            let svc_id = svc_id.or_else(|| self.svc_ids.take());
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

    pub fn load_balancer(&self) -> &LoadBalancer {
        &self.lb
    }

    pub fn load_balancer_mut(&mut self) -> &mut LoadBalancer {
        &mut self.lb
    }

    pub fn service(&self, index: usize) -> &VirtualService {
        &self.services[index].config
    }

    pub fn services(&self) -> usize {
        self.services.len()
    }

    pub fn pool(&self, index: usize) -> &Pool {
        &self.services[index].pool
    }

    /// Every virtual address the services use.
    pub fn vips(&self) -> Vec<IpAddr> {
        self.held.keys().copied().collect()
    }

    /// Every real and sorry server address (to resolve).
    pub fn server_addresses(&self) -> Vec<IpAddr> {
        let mut addrs: Vec<IpAddr> = self
            .services
            .iter()
            .flat_map(|s| s.config.reals.iter().chain(s.config.sorry.iter()))
            .map(|r| r.addr)
            .collect();
        addrs.sort();
        addrs.dedup();
        addrs
    }

    /// Real and sorry servers without a known next hop.
    pub fn unresolved(&self) -> usize {
        self.server_addresses()
            .iter()
            .filter(|addr| !self.next_hops.contains_key(addr))
            .count()
    }

    /// The director holds `addr` now (VRRP master, or a local address) or no longer.
    pub fn set_held(&mut self, addr: IpAddr, held: bool) -> Result<(), DataplaneError> {
        if let Some(state) = self.held.get_mut(&addr)
            && *state != held
        {
            *state = held;
            info!(vip = %addr, held, "virtual address served by the load balancer");
            self.lb.maps().set_held(&addr, held)?;
        }
        Ok(())
    }

    pub fn is_held(&self, addr: &IpAddr) -> bool {
        self.held.get(addr).copied().unwrap_or(false)
    }

    /// The next hop towards `addr` changed (or became unknown).
    pub fn set_next_hop(
        &mut self,
        addr: IpAddr,
        hop: Option<NextHop>,
    ) -> Result<(), DataplaneError> {
        let changed = match hop {
            Some(hop) => self.next_hops.insert(addr, hop) != Some(hop),
            None => self.next_hops.remove(&addr).is_some(),
        };
        if changed {
            for index in 0..self.services.len() {
                if self.services[index]
                    .config
                    .reals
                    .iter()
                    .chain(self.services[index].config.sorry.iter())
                    .any(|r| r.addr == addr)
                {
                    self.apply(index)?;
                }
            }
        }
        Ok(())
    }

    /// A checker changed its verdict.
    pub fn checker(
        &mut self,
        service: usize,
        real: usize,
        checker: usize,
        up: bool,
    ) -> Result<Vec<PoolEvent>, DataplaneError> {
        let events = self.services[service].pool.checker(real, checker, up);
        if !events.is_empty() {
            self.apply(service)?;
        }
        Ok(events)
    }

    /// `misc_dynamic` asked for another weight.
    pub fn set_weight(
        &mut self,
        service: usize,
        real: usize,
        weight: u32,
    ) -> Result<Vec<PoolEvent>, DataplaneError> {
        let events = self.services[service].pool.set_weight(real, weight);
        if !events.is_empty() {
            self.apply(service)?;
        }
        Ok(events)
    }

    fn member(service: &VirtualService, member: Member) -> &RealService {
        match member {
            Member::Real(i) => &service.reals[i],
            Member::Sorry => service.sorry.as_ref().expect("a sorry member has a server"),
        }
    }

    /// Makes the maps of service `index` what its pool says now.
    fn apply(&mut self, index: usize) -> Result<(), DataplaneError> {
        let service = &mut self.services[index];
        let members: BTreeMap<Member, u32> = service.pool.members().into_iter().collect();
        let config = &service.config;
        for key in &mut service.keys {
            let mut table_dests = Vec::new();
            for (&member, &id) in &key.dests {
                let real = Self::member(config, member);
                let weight = members.get(&member).copied();
                let (family, addr) = addr_key(&real.addr);
                let hop = self.next_hops.get(&real.addr);
                let mut dest = LbDest {
                    addr,
                    port: real.port,
                    method: real.method.code(),
                    family,
                    weight: weight.unwrap_or(0),
                    flags: if weight.is_some() { DEST_LIVE } else { 0 },
                    generation: self.generations.get(&id).copied().unwrap_or(1),
                    svc: key.svc_id,
                    ..LbDest::default()
                };
                if let Some(hop) = hop {
                    dest.flags |= DEST_RESOLVED;
                    dest.ifindex = hop.ifindex;
                    dest.mac = hop.mac;
                    dest.src_mac = hop.src_mac;
                    dest.tun_src = addr_key(&hop.src).1;
                    dest.mtu = hop.mtu;
                }
                self.lb.maps().set_dest(id, &dest)?;
                if let Some(weight) = weight {
                    table_dests.push(TableDest {
                        id,
                        addr: real.addr,
                        port: real.port,
                        weight,
                    });
                }
            }
            let previous = (!key.table.is_empty())
                .then_some((key.table.as_slice(), key.table_dests.as_slice()));
            let table = tables::build(config.scheduler, &table_dests, previous);
            let region = 1 - key.region;
            let base = (key.svc_id * 2 + region) * LB_REGION_SLOTS;
            self.lb.maps().write_slots(base, &table)?;
            let mut flags = 0;
            if config.persistence.is_some() {
                flags |= SVC_PERSISTENT;
            }
            if config.hash_port {
                flags |= SVC_HASH_PORT;
            }
            if config.one_packet {
                flags |= SVC_ONE_PACKET;
            }
            self.lb.maps().set_service(
                &key.key,
                &LbService {
                    id: key.svc_id,
                    flags,
                    sched: config.scheduler.code(),
                    slot_base: base,
                    slot_count: table.len() as u32,
                    persist_timeout_s: config.persistence.unwrap_or(0),
                    granularity: config.granularity,
                },
            )?;
            key.region = region;
            key.table = table;
            key.table_dests = table_dests;
        }
        Ok(())
    }

    /// Removes connections idle past IPVS's timeouts and gives their destinations' counts
    /// back; returns how many went. `now_ns` is CLOCK_MONOTONIC_COARSE, the program's clock.
    pub fn expire(&mut self, now_ns: u64) -> Result<usize, DataplaneError> {
        let conns = self.lb.maps_ref().conns()?;
        let mut removed = 0;
        for (key, conn) in conns {
            let timeout_s = match conn.state {
                CONN_ESTABLISHED => TIMEOUT_ESTABLISHED_S,
                CONN_CLOSING => TIMEOUT_CLOSING_S,
                CONN_SYN => TIMEOUT_SYN_S,
                _ if key.dir != DIR_IN => TIMEOUT_ESTABLISHED_S,
                _ => TIMEOUT_UDP_S,
            };
            if now_ns.saturating_sub(conn.last_seen_ns) < timeout_s * 1_000_000_000 {
                continue;
            }
            self.lb.maps().remove_conn(&key)?;
            removed += 1;
            if key.dir == DIR_IN
                && self
                    .lb
                    .maps_ref()
                    .dest(conn.dest)
                    .is_some_and(|d| d.generation == conn.generation)
            {
                self.lb.maps_ref().counts().remove(conn.dest, conn.state);
            }
        }
        Ok(removed)
    }

    pub fn shutdown(self) {
        self.lb.shutdown();
    }
}
