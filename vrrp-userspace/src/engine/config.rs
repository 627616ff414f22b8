//! What one VRRP instance needs to know to run: the engine's own view of a `vrrp_instance`
//! block, with keepalived's defaults, plus the facts the IO shell learns about the interface.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::protocol::{Auth, ChecksumMode, Family, Priority, Version, Vrid};

/// A virtual address with its prefix length (default /32 or /128).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualAddress {
    pub addr: IpAddr,
    pub prefix_len: u8,
}

/// Gratuitous ARP / unsolicited NA schedule (keepalived's `garp_*` keywords).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GarpConfig {
    /// Copies of each announcement sent on becoming master (`garp_master_repeat`, 5).
    pub master_repeat: u32,
    /// Delay of the second burst after becoming master; `None` = no second burst
    /// (`garp_master_delay`, 5 s; 0 disables).
    #[serde(with = "super::serde_formats::millis_option")]
    pub master_delay: Option<Duration>,
    /// Period of refresh bursts while master; `None` = off (`garp_master_refresh`, 0).
    #[serde(with = "super::serde_formats::millis_option")]
    pub master_refresh: Option<Duration>,
    /// Copies per refresh (`garp_master_refresh_repeat`, 1).
    pub master_refresh_repeat: u32,
    /// Copies sent when a master hears a lower-priority advert (`garp_lower_prio_repeat`).
    pub lower_prio_repeat: u32,
    /// Gap between packets of a burst (`garp_interval` / `gna_interval`, 0).
    #[serde(with = "super::serde_formats::millis")]
    pub interval: Duration,
}

impl Default for GarpConfig {
    fn default() -> Self {
        Self {
            master_repeat: 5,
            master_delay: Some(Duration::from_secs(5)),
            master_refresh: None,
            master_refresh_repeat: 1,
            lower_prio_repeat: 0,
            interval: Duration::ZERO,
        }
    }
}

/// What a tracker watches; scripts count consecutive results (`rise`, `fall`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackerKind {
    Interface,
    Script {
        rise: u32,
        fall: u32,
        init_fail: bool,
    },
    File,
    Process,
}

/// One `track_*` entry of an instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerConfig {
    pub name: String,
    pub kind: TrackerKind,
    /// -253..=253; 0 means "FAULT while failed".
    pub weight: i32,
    /// Swaps which condition counts as failed.
    pub reverse: bool,
}

/// One VRRP instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceConfig {
    pub name: String,
    pub iface: String,
    pub vrid: Vrid,
    pub version: Version,
    pub family: Family,
    /// Configured priority; 255 = address owner, never adjusted by trackers.
    pub priority: Priority,
    #[serde(with = "super::serde_formats::millis")]
    pub advert_interval: Duration,
    pub preempt: bool,
    /// Lower-priority masters are tolerated this long after the first is heard.
    #[serde(with = "super::serde_formats::millis")]
    pub preempt_delay: Duration,
    pub virtual_addresses: Vec<VirtualAddress>,
    /// Advert source: the interface's primary address (IPv6: its link-local address).
    pub primary_address: IpAddr,
    /// The interface's own MAC address.
    pub mac: [u8; 6],
    /// Send from the virtual MAC 00:00:5e:00:01|02:VRID instead (`use_vmac`).
    pub use_vmac: bool,
    /// Unicast peers; empty = multicast.
    pub unicast_peers: Vec<IpAddr>,
    pub auth: Auth,
    pub checksum: ChecksumMode,
    /// Missed adverts before the master is declared down (`down_timer_adverts`, 3).
    pub down_timer_adverts: u32,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    /// Set the Router flag in unsolicited NAs (the host forwards IPv6).
    pub ipv6_forwarding: bool,
    pub garp: GarpConfig,
    pub trackers: Vec<TrackerConfig>,
    /// Report priority changes (`notify_priority_changes`).
    pub notify_priority_changes: bool,
}

impl InstanceConfig {
    /// An instance with keepalived's defaults: multicast, preempt, no authentication, adverts
    /// every second, priority 100.
    pub fn new(name: &str, iface: &str, vrid: u8, primary_address: IpAddr, mac: [u8; 6]) -> Self {
        let family = Family::of(&primary_address);
        Self {
            name: name.to_owned(),
            iface: iface.to_owned(),
            vrid: Vrid(vrid),
            version: if family == Family::Ipv6 {
                Version::V3
            } else {
                Version::V2
            },
            family,
            priority: Priority(100),
            advert_interval: Duration::from_secs(1),
            preempt: true,
            preempt_delay: Duration::ZERO,
            virtual_addresses: Vec::new(),
            primary_address,
            mac,
            use_vmac: false,
            unicast_peers: Vec::new(),
            auth: Auth::None,
            checksum: ChecksumMode::Rfc,
            down_timer_adverts: 3,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            ipv6_forwarding: false,
            garp: GarpConfig::default(),
            trackers: Vec::new(),
            notify_priority_changes: false,
        }
    }

    /// The MAC adverts and announcements are sent from.
    pub fn source_mac(&self) -> [u8; 6] {
        if self.use_vmac {
            let family_byte = if self.family == Family::Ipv6 { 2 } else { 1 };
            [0x00, 0x00, 0x5e, 0x00, family_byte, self.vrid.0]
        } else {
            self.mac
        }
    }

    /// RFC 5798 section 5.2.4: priority 255 is reserved for the router that owns the addresses.
    pub fn is_owner(&self) -> bool {
        self.priority.0 == 255
    }
}
