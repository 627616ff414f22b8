//! Typed access to the load balancer's maps, from the loaded program (the daemon) or from the
//! pins (`xvrrpd lvs`, which reads them like ipvsadm reads the kernel).

use std::net::IpAddr;
use std::os::fd::{AsFd as _, AsRawFd as _, OwnedFd};
use std::path::Path;

use aya::Ebpf;
use aya::maps::{Array, HashMap, Map, MapData, PerCpuArray};
use vrrp_common::{
    FAMILY_IPV4, FAMILY_IPV6, LbConn, LbConnKey, LbDest, LbGlobalStats, LbService, LbServiceKey,
    LbStats, LbVip, LbVipKey, VIP_HELD, lb_map_names as names,
};

use super::batch;
use super::counts::ConnCounts;
use crate::dataplane::DataplaneError;

/// (family, address as 16 bytes with IPv4 in the first four) of `addr`.
pub fn addr_key(addr: &IpAddr) -> (u8, [u8; 16]) {
    let mut bytes = [0u8; 16];
    match addr {
        IpAddr::V4(a) => {
            bytes[..4].copy_from_slice(&a.octets());
            (FAMILY_IPV4, bytes)
        }
        IpAddr::V6(a) => (FAMILY_IPV6, a.octets()),
    }
}

/// The address back from a map's 16 bytes.
pub fn addr_of(family: u8, bytes: &[u8; 16]) -> IpAddr {
    if family == FAMILY_IPV4 {
        IpAddr::from([bytes[0], bytes[1], bytes[2], bytes[3]])
    } else {
        IpAddr::from(*bytes)
    }
}

/// One service's statistics, summed over CPUs.
pub type ServiceStats = LbStats;

pub struct LbMaps {
    vips: HashMap<MapData, LbVipKey, LbVip>,
    services: HashMap<MapData, LbServiceKey, LbService>,
    slots: Array<MapData, u32>,
    dests: Array<MapData, LbDest>,
    counts: ConnCounts,
    conns: HashMap<MapData, LbConnKey, LbConn>,
    /// The same map's descriptor, for the batch reads aya 0.14 does not offer.
    conns_fd: OwnedFd,
    persist: MapData,
    dest_stats: PerCpuArray<MapData, LbStats>,
    svc_stats: PerCpuArray<MapData, LbStats>,
    global: PerCpuArray<MapData, LbGlobalStats>,
}

fn take<T>(ebpf: &mut Ebpf, name: &'static str) -> Result<T, DataplaneError>
where
    T: TryFrom<Map, Error = aya::maps::MapError>,
{
    let map = ebpf
        .take_map(name)
        .ok_or(DataplaneError::Missing { what: "map", name })?;
    T::try_from(map).map_err(DataplaneError::map(name, "opening"))
}

fn pinned<T>(dir: &Path, name: &'static str) -> Result<T, DataplaneError>
where
    T: TryFrom<Map, Error = aya::maps::MapError>,
{
    let data = MapData::from_pin(dir.join(name)).map_err(DataplaneError::map(name, "opening"))?;
    let map = Map::from_map_data(data).map_err(DataplaneError::map(name, "opening"))?;
    T::try_from(map).map_err(DataplaneError::map(name, "opening"))
}

fn per_cpu_zeros() -> Result<aya::maps::PerCpuValues<LbStats>, DataplaneError> {
    let cpus = aya::util::nr_cpus().map_err(|(_, e)| DataplaneError::Io {
        what: "counting CPUs",
        source: e,
    })?;
    aya::maps::PerCpuValues::try_from(vec![LbStats::default(); cpus]).map_err(|e| {
        DataplaneError::Io {
            what: "building per-CPU zeros",
            source: e,
        }
    })
}

fn missing_ok(result: Result<(), aya::maps::MapError>) -> Result<(), aya::maps::MapError> {
    match result {
        Err(aya::maps::MapError::KeyNotFound) => Ok(()),
        Err(aya::maps::MapError::SyscallError(e))
            if e.io_error.raw_os_error() == Some(libc::ENOENT) =>
        {
            Ok(())
        }
        other => other,
    }
}

impl LbMaps {
    /// The maps of a program just loaded.
    pub fn take(ebpf: &mut Ebpf) -> Result<Self, DataplaneError> {
        let counts_fd = array_fd(ebpf.map(names::DEST_CONNS), names::DEST_CONNS)?;
        Ok(Self {
            vips: take(ebpf, names::VIPS)?,
            services: take(ebpf, names::SERVICES)?,
            slots: take(ebpf, names::SLOTS)?,
            dests: take(ebpf, names::DESTS)?,
            counts: ConnCounts::map(counts_fd)?,
            conns_fd: lru_fd(ebpf.map(names::CONNS), names::CONNS)?,
            conns: take(ebpf, names::CONNS)?,
            persist: {
                let map = ebpf
                    .take_map(names::PERSIST)
                    .ok_or(DataplaneError::Missing {
                        what: "map",
                        name: names::PERSIST,
                    })?;
                match map {
                    Map::LruHashMap(data) => data,
                    _ => {
                        return Err(DataplaneError::Missing {
                            what: "LRU map",
                            name: names::PERSIST,
                        });
                    }
                }
            },
            dest_stats: take(ebpf, names::DEST_STATS)?,
            svc_stats: take(ebpf, names::SVC_STATS)?,
            global: take(ebpf, names::GLOBAL)?,
        })
    }

    /// The maps a running daemon pinned under `dir` (`<pin dir>/lb`).
    pub fn open(dir: &Path) -> Result<Self, DataplaneError> {
        let counts_fd = {
            let data = MapData::from_pin(dir.join(names::DEST_CONNS))
                .map_err(DataplaneError::map(names::DEST_CONNS, "opening"))?;
            dup(&data)?
        };
        Ok(Self {
            vips: pinned(dir, names::VIPS)?,
            services: pinned(dir, names::SERVICES)?,
            slots: pinned(dir, names::SLOTS)?,
            dests: pinned(dir, names::DESTS)?,
            counts: ConnCounts::map(counts_fd)?,
            conns_fd: {
                let data = MapData::from_pin(dir.join(names::CONNS))
                    .map_err(DataplaneError::map(names::CONNS, "opening"))?;
                dup(&data)?
            },
            conns: pinned(dir, names::CONNS)?,
            persist: MapData::from_pin(dir.join(names::PERSIST))
                .map_err(DataplaneError::map(names::PERSIST, "opening"))?,
            dest_stats: pinned(dir, names::DEST_STATS)?,
            svc_stats: pinned(dir, names::SVC_STATS)?,
            global: pinned(dir, names::GLOBAL)?,
        })
    }

    pub fn set_vip(&mut self, addr: &IpAddr, flags: u32) -> Result<(), DataplaneError> {
        let (family, addr) = addr_key(addr);
        let key = LbVipKey {
            addr,
            family,
            _pad: [0; 3],
        };
        self.vips
            .insert(key, LbVip { flags }, 0)
            .map_err(DataplaneError::map(names::VIPS, "insert"))
    }

    /// A virtual address no service uses any more (a reload removed its last one).
    pub fn remove_vip(&mut self, addr: &IpAddr) -> Result<(), DataplaneError> {
        let (family, addr) = addr_key(addr);
        let key = LbVipKey {
            addr,
            family,
            _pad: [0; 3],
        };
        missing_ok(self.vips.remove(&key)).map_err(DataplaneError::map(names::VIPS, "remove"))
    }

    /// Sets or clears [`VIP_HELD`] of a virtual address that has an entry.
    pub fn set_held(&mut self, addr: &IpAddr, held: bool) -> Result<(), DataplaneError> {
        let (family, bytes) = addr_key(addr);
        let key = LbVipKey {
            addr: bytes,
            family,
            _pad: [0; 3],
        };
        let Ok(mut vip) = self.vips.get(&key, 0) else {
            return Ok(());
        };
        let flags = if held {
            vip.flags | VIP_HELD
        } else {
            vip.flags & !VIP_HELD
        };
        if flags == vip.flags {
            return Ok(());
        }
        vip.flags = flags;
        self.vips
            .insert(key, vip, 0)
            .map_err(DataplaneError::map(names::VIPS, "insert"))
    }

    /// Every virtual address with its `VIP_*` flags.
    pub fn vips(&self) -> Vec<(IpAddr, u32)> {
        let mut vips: Vec<(IpAddr, u32)> = self
            .vips
            .iter()
            .filter_map(Result::ok)
            .map(|(key, vip)| (addr_of(key.family, &key.addr), vip.flags))
            .collect();
        vips.sort();
        vips
    }

    pub fn set_service(
        &mut self,
        key: &LbServiceKey,
        service: &LbService,
    ) -> Result<(), DataplaneError> {
        self.services
            .insert(key, service, 0)
            .map_err(DataplaneError::map(names::SERVICES, "insert"))
    }

    pub fn remove_service(&mut self, key: &LbServiceKey) -> Result<(), DataplaneError> {
        missing_ok(self.services.remove(key))
            .map_err(DataplaneError::map(names::SERVICES, "remove"))
    }

    /// Every service, in key order.
    pub fn services(&self) -> Vec<(LbServiceKey, LbService)> {
        let mut services: Vec<_> = self.services.iter().filter_map(Result::ok).collect();
        services.sort_by_key(|(key, _)| *key);
        services
    }

    /// Writes `slots` from `base` on.
    pub fn write_slots(&mut self, base: u32, slots: &[u32]) -> Result<(), DataplaneError> {
        for (i, dest) in slots.iter().enumerate() {
            self.slots
                .set(base + i as u32, dest, 0)
                .map_err(DataplaneError::map(names::SLOTS, "set"))?;
        }
        Ok(())
    }

    pub fn slot(&self, index: u32) -> Option<u32> {
        self.slots.get(&index, 0).ok()
    }

    pub fn set_dest(&mut self, id: u32, dest: &LbDest) -> Result<(), DataplaneError> {
        self.dests
            .set(id, dest, 0)
            .map_err(DataplaneError::map(names::DESTS, "set"))
    }

    pub fn dest(&self, id: u32) -> Option<LbDest> {
        self.dests.get(&id, 0).ok()
    }

    /// Every destination entry in use (a service id and a generation), by id.
    pub fn dests(&self) -> Vec<(u32, LbDest)> {
        self.dests
            .iter()
            .enumerate()
            .filter_map(|(id, dest)| Some((id as u32, dest.ok()?)))
            .filter(|(_, dest)| dest.generation != 0)
            .collect()
    }

    pub fn counts(&self) -> &ConnCounts {
        &self.counts
    }

    /// Statistics of destination `id`, summed over CPUs.
    pub fn dest_stats(&self, id: u32) -> LbStats {
        let mut total = LbStats::default();
        if let Ok(per_cpu) = self.dest_stats.get(&id, 0) {
            per_cpu.iter().for_each(|cpu| total.add(cpu));
        }
        total
    }

    /// Clears a destination's statistics (its id is given to another server).
    pub fn clear_dest_stats(&mut self, id: u32) -> Result<(), DataplaneError> {
        self.dest_stats
            .set(id, per_cpu_zeros()?, 0)
            .map_err(DataplaneError::map(names::DEST_STATS, "set"))
    }

    /// Clears a service's statistics (a reload gives its id to another service).
    pub fn clear_service_stats(&mut self, id: u32) -> Result<(), DataplaneError> {
        self.svc_stats
            .set(id, per_cpu_zeros()?, 0)
            .map_err(DataplaneError::map(names::SVC_STATS, "set"))
    }

    pub fn service_stats(&self, id: u32) -> ServiceStats {
        let mut total = LbStats::default();
        if let Ok(per_cpu) = self.svc_stats.get(&id, 0) {
            per_cpu.iter().for_each(|cpu| total.add(cpu));
        }
        total
    }

    pub fn global_stats(&self) -> LbGlobalStats {
        let mut total = LbGlobalStats::default();
        if let Ok(per_cpu) = self.global.get(&0, 0) {
            per_cpu.iter().for_each(|cpu| total.add(cpu));
        }
        total
    }

    /// Every connection entry (both directions), read in batches.
    pub fn conns(&self) -> Result<Vec<(LbConnKey, LbConn)>, DataplaneError> {
        batch::lookup_all(self.conns_fd.as_raw_fd()).map_err(|source| DataplaneError::Io {
            what: "reading lb_conns",
            source,
        })
    }

    pub fn conn(&self, key: &LbConnKey) -> Option<LbConn> {
        self.conns.get(key, 0).ok()
    }

    pub fn remove_conn(&mut self, key: &LbConnKey) -> Result<(), DataplaneError> {
        missing_ok(self.conns.remove(key)).map_err(DataplaneError::map(names::CONNS, "remove"))
    }

    /// Number of persistence templates (for the listing).
    pub fn templates(&self) -> usize {
        batch::lookup_all::<vrrp_common::LbPersistKey, vrrp_common::LbPersist>(raw(&self.persist))
            .map(|all| all.len())
            .unwrap_or(0)
    }
}

fn raw(data: &MapData) -> std::os::fd::RawFd {
    data.fd().as_fd().as_raw_fd()
}

fn dup(data: &MapData) -> Result<OwnedFd, DataplaneError> {
    data.fd()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|source| DataplaneError::Io {
            what: "duplicating a map descriptor",
            source,
        })
}

fn lru_fd(map: Option<&Map>, name: &'static str) -> Result<OwnedFd, DataplaneError> {
    match map {
        Some(Map::LruHashMap(data)) => dup(data),
        _ => Err(DataplaneError::Missing {
            what: "LRU map",
            name,
        }),
    }
}

fn array_fd(map: Option<&Map>, name: &'static str) -> Result<OwnedFd, DataplaneError> {
    match map {
        Some(Map::Array(data)) => dup(data),
        _ => Err(DataplaneError::Missing {
            what: "array",
            name,
        }),
    }
}
