//! Typed access to the maps: what userspace writes (config, VIPs, policy, interfaces) and what
//! the program writes (state, counters, drops, global stats).

use std::collections::BTreeMap;
use std::net::IpAddr;

use aya::programs::Xdp;
use vrrp_common::{
    GlobalStats, IfaceConfig, IfaceDrops, InstanceConfig, InstanceKey, InstanceState,
    MasterDownTimer, ReceivePolicy, RxCounters, RxKey, TIMER_SYNC_ARMED, TimerSync, VipEntry,
    VipKey, map_names,
    proto::{AUTH_AH, AUTH_PASS},
};

use super::{Dataplane, DataplaneError, KernelTimers, test_run};
use crate::protocol::Family;

/// `BPF_F_LOCK`: read a value that holds a `bpf_spin_lock` under that lock.
const BPF_F_LOCK: u64 = 4;

/// A lookup reports a missing key as `KeyNotFound`, a delete as the syscall's ENOENT.
fn is_missing(error: &aya::maps::MapError) -> bool {
    match error {
        aya::maps::MapError::KeyNotFound => true,
        aya::maps::MapError::SyscallError(e) => e.io_error.raw_os_error() == Some(libc::ENOENT),
        _ => false,
    }
}

impl Dataplane {
    /// Adds or replaces one `vrrp_config` entry (see [`RxKey`] for the entries an instance
    /// needs). AH authentication is refused: the program only reads protocol 112.
    pub fn insert_config(
        &mut self,
        key: &RxKey,
        config: &InstanceConfig,
    ) -> Result<(), DataplaneError> {
        if config.auth_type == AUTH_AH {
            return Err(DataplaneError::Unsupported {
                what: "auth_type AH",
                hint: "use auth_type PASS or no authentication",
            });
        }
        if !(config.version == 2 || config.version == 3)
            || (config.version == 3 && config.auth_type == AUTH_PASS)
        {
            return Err(DataplaneError::Unsupported {
                what: "this version/authentication combination",
                hint: "VRRPv2 (with or without PASS) or VRRPv3 without authentication",
            });
        }
        self.config
            .insert(key, config, 0)
            .map_err(DataplaneError::map(map_names::CONFIG, "insert"))
    }

    /// Removes one `vrrp_config` entry; a missing one is not an error.
    pub fn remove_config(&mut self, key: &RxKey) -> Result<(), DataplaneError> {
        match self.config.remove(key) {
            Err(e) if !is_missing(&e) => Err(DataplaneError::map(map_names::CONFIG, "remove")(e)),
            _ => Ok(()),
        }
    }

    /// Replaces the virtual addresses of `instance` (every `vrrp_vips` entry it had goes).
    /// Its config entries must carry `vip_count = vips.len()`, duplicates included, as
    /// keepalived's `vip_cnt` does.
    pub fn set_vips(
        &mut self,
        instance: &InstanceKey,
        vips: &[IpAddr],
    ) -> Result<(), DataplaneError> {
        self.remove_vips(instance)?;
        let mut distinct: Vec<[u8; 16]> = Vec::new();
        for vip in vips {
            let bytes = Family::map_bytes(vip);
            if !distinct.contains(&bytes) {
                distinct.push(bytes);
            }
        }
        if distinct.len() > 255 {
            return Err(DataplaneError::Unsupported {
                what: "more than 255 virtual addresses",
                hint: "an advert carries at most 255 (RFC 5798 section 5.2.5)",
            });
        }
        for (index, addr) in distinct.iter().enumerate() {
            let key = VipKey {
                instance: *instance,
                addr: *addr,
            };
            let entry = VipEntry {
                index: index as u8,
                distinct: distinct.len() as u8,
                _pad: [0; 2],
            };
            self.vips
                .insert(key, entry, 0)
                .map_err(DataplaneError::map(map_names::VIPS, "insert"))?;
        }
        Ok(())
    }

    /// Removes every virtual address of `instance`.
    pub fn remove_vips(&mut self, instance: &InstanceKey) -> Result<(), DataplaneError> {
        let keys: Vec<VipKey> = self
            .vips
            .keys()
            .filter_map(Result::ok)
            .filter(|key| key.instance == *instance)
            .collect();
        for key in keys {
            match self.vips.remove(&key) {
                Err(e) if !is_missing(&e) => {
                    return Err(DataplaneError::map(map_names::VIPS, "remove")(e));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Sets the engine's view of an instance; write it whenever the state or the effective
    /// priority changes, or a preempt delay window opens or closes.
    pub fn set_policy(
        &mut self,
        key: &InstanceKey,
        policy: &ReceivePolicy,
    ) -> Result<(), DataplaneError> {
        self.policy
            .insert(key, policy, 0)
            .map_err(DataplaneError::map(map_names::POLICY, "insert"))
    }

    pub fn remove_policy(&mut self, key: &InstanceKey) -> Result<(), DataplaneError> {
        match self.policy.remove(key) {
            Err(e) if !is_missing(&e) => Err(DataplaneError::map(map_names::POLICY, "remove")(e)),
            _ => Ok(()),
        }
    }

    /// Sends adverts from `peer` (a [`RxKey`] of the slot-0 instance key) to the instance of
    /// `slot` among the unicast instances sharing that key ([`InstanceKey::slot`]).
    pub fn set_slot(&mut self, peer: &RxKey, slot: u8) -> Result<(), DataplaneError> {
        self.slots
            .insert(peer, slot, 0)
            .map_err(DataplaneError::map(map_names::SLOTS, "insert"))
    }

    /// Removes one peer's slot entry; a missing one is not an error.
    pub fn remove_slot(&mut self, peer: &RxKey) -> Result<(), DataplaneError> {
        match self.slots.remove(peer) {
            Err(e) if !is_missing(&e) => Err(DataplaneError::map(map_names::SLOTS, "remove")(e)),
            _ => Ok(()),
        }
    }

    /// Removes everything of an instance: every config entry (all peers), its peers' slot
    /// entries, VIPs, policy, and what the program recorded (state, counters), as keepalived
    /// forgets a removed instance.
    pub fn remove_instance(&mut self, instance: &InstanceKey) -> Result<(), DataplaneError> {
        if instance.slot != 0 {
            let base = instance.with_slot(0);
            let peers: Vec<RxKey> = self
                .slots
                .iter()
                .filter_map(Result::ok)
                .filter(|(key, slot)| key.instance == base && *slot == instance.slot)
                .map(|(key, _)| key)
                .collect();
            for peer in &peers {
                self.remove_slot(peer)?;
            }
        }
        let entries: Vec<RxKey> = self
            .config
            .keys()
            .filter_map(Result::ok)
            .filter(|key| key.instance == *instance)
            .collect();
        for key in &entries {
            self.remove_config(key)?;
        }
        self.remove_vips(instance)?;
        self.remove_policy(instance)?;
        let _ = self.state.remove(instance);
        let _ = self.counters.remove(instance);
        // Deleting the entry stops its timer.
        let _ = self.timers.remove(instance);
        Ok(())
    }

    /// Runs `vrrp_timer_sync` for `key` right after its policy was written: a running
    /// master-down timer follows a new priority, and leaving BACKUP cancels it. Returns whether
    /// a timer of the policy's generation is running. Always `false` without kernel timers.
    pub fn sync_timer(&self, key: &InstanceKey) -> Result<bool, DataplaneError> {
        if self.kernel_timers != KernelTimers::On {
            return Ok(false);
        }
        let program: &Xdp = self
            .ebpf
            .program(vrrp_common::TIMER_SYNC_PROGRAM_NAME)
            .and_then(|p| <&Xdp>::try_from(p).ok())
            .expect("load() verified the sync program when timers are on");
        let command = TimerSync {
            key: *key,
            _pad: [0; 8],
        };
        // SAFETY: TimerSync is repr(C) plain data; its bytes are what the program reads.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&command as *const TimerSync).cast::<u8>(),
                std::mem::size_of::<TimerSync>(),
            )
        };
        let run = test_run(program, bytes, 1, 1).map_err(|source| DataplaneError::Io {
            what: "running vrrp_timer_sync",
            source,
        })?;
        Ok(run.verdict == TIMER_SYNC_ARMED)
    }

    /// One instance's master-down timer as the program left it (read under its lock);
    /// `None` before its first advert in BACKUP.
    pub fn timer(&self, key: &InstanceKey) -> Result<Option<MasterDownTimer>, DataplaneError> {
        match self.timers.get(key, BPF_F_LOCK) {
            Ok(timer) => Ok(Some(timer)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(DataplaneError::map(map_names::TIMERS, "lookup")(e)),
        }
    }

    /// Sets an interface's MAC and `IFACE_*` flags.
    pub fn set_iface_config(
        &mut self,
        ifindex: u32,
        config: &IfaceConfig,
    ) -> Result<(), DataplaneError> {
        self.ifaces
            .insert(ifindex, config, 0)
            .map_err(DataplaneError::map(map_names::IFACES, "insert"))
    }

    /// One instance's state, read under its lock; `None` until something was heard.
    pub fn state(&self, key: &InstanceKey) -> Result<Option<InstanceState>, DataplaneError> {
        match self.state.get(key, BPF_F_LOCK) {
            Ok(state) => Ok(Some(state)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(DataplaneError::map(map_names::STATE, "lookup")(e)),
        }
    }

    /// Every instance the program has recorded, in key order, each read under its lock.
    pub fn states(&self) -> Vec<(InstanceKey, InstanceState)> {
        let keys: Vec<InstanceKey> = self.state.keys().filter_map(Result::ok).collect();
        let mut states: Vec<_> = keys
            .into_iter()
            .filter_map(|key| Some((key, self.state(&key).ok()??)))
            .collect();
        states.sort_by_key(|(key, _)| *key);
        states
    }

    /// One instance's counters, summed over CPUs (zero when nothing was counted).
    pub fn counters(&self, key: &InstanceKey) -> RxCounters {
        let mut total = RxCounters::default();
        if let Ok(per_cpu) = self.counters.get(key, 0) {
            per_cpu.iter().for_each(|cpu| total.add(cpu));
        }
        total
    }

    /// The counters of every instance, summed over CPUs.
    pub fn all_counters(&self) -> BTreeMap<InstanceKey, RxCounters> {
        let keys: Vec<InstanceKey> = self.counters.keys().filter_map(Result::ok).collect();
        keys.into_iter()
            .map(|key| (key, self.counters(&key)))
            .collect()
    }

    /// One instance's counters as each CPU counted them.
    pub fn counters_per_cpu(&self, key: &InstanceKey) -> Vec<RxCounters> {
        self.counters
            .get(key, 0)
            .map(|per_cpu| per_cpu.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Drops of one interface before an instance was found, summed over CPUs.
    pub fn iface_drops(&self, ifindex: u32) -> IfaceDrops {
        let mut total = IfaceDrops::default();
        if let Ok(per_cpu) = self.iface_drops.get(&ifindex, 0) {
            per_cpu.iter().for_each(|cpu| total.add(cpu));
        }
        total
    }

    /// Program-wide counters (events sent, suppressed, ring full), summed over CPUs.
    pub fn global_stats(&self) -> GlobalStats {
        let mut total = GlobalStats::default();
        if let Ok(per_cpu) = self.global.get(&0, 0) {
            per_cpu.iter().for_each(|cpu| total.add(cpu));
        }
        total
    }
}
