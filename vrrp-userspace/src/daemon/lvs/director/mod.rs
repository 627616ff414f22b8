//! The director: keeps the load balancer's maps equal to what the configuration and the
//! checkers say. One service entry per (address, port) of a virtual service, one
//! destination per service entry and pool member; scheduling tables rebuilt into the
//! service's spare region and switched in one write.

mod reload;

use std::collections::BTreeMap;
use std::net::IpAddr;

use tracing::info;
use vrrp_common::{
    CONN_CLOSING, CONN_ESTABLISHED, CONN_SYN, DEST_LIVE, DEST_RESOLVED, DIR_IN, LB_REGION_SLOTS,
    LbDest, LbService, LbServiceKey, SVC_HASH_PORT, SVC_ONE_PACKET, SVC_PERSISTENT,
};

use crate::dataplane::DataplaneError;
use crate::dataplane::lb::{LoadBalancer, addr_key};
use crate::lvs::pool::{Member, Pool, PoolEvent};
use crate::lvs::settings::{LvsConfig, RealService, VirtualService};
use crate::lvs::tables::{self, TableDest};

use self::reload::Ids;
pub use self::reload::{Gone, ReloadSummary, Reloaded};

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
