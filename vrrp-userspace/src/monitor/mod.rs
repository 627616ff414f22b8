//! `xvrrpd monitor`: every VRRP router on a link, live from the XDP program's maps or offline
//! from a capture, as a table or JSON lines.

mod live;
mod offline;
mod render;

use std::collections::BTreeMap;
use std::net::IpAddr;

pub use live::{LiveOptions, run_live};
pub use offline::snapshot_from_pcap;
pub use render::{render_json, render_table};
use serde::Serialize;
use vrrp_common::{GlobalStats, IfaceDrops, InstanceKey, InstanceState, RxCounters};

use crate::protocol::Family;

/// One virtual router (VRID and destination group or address) as heard on one link.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouterRow {
    pub iface: String,
    pub vrid: u8,
    pub family: Family,
    /// The multicast group or unicast address the adverts were sent to.
    pub dst: IpAddr,
    /// `None` until a valid advert was heard (only errors so far).
    pub version: Option<u8>,
    pub master: Option<IpAddr>,
    pub priority: Option<u8>,
    pub advert_interval_ms: Option<u64>,
    /// Adverts per second from the current master, over its own span: from its first advert
    /// as master to its last one (`None` until it sent two).
    pub adverts_per_sec: Option<f64>,
    /// Milliseconds since the last valid advert.
    pub last_seen_ms: Option<u64>,
    /// Two or more sources keep taking turns (see README, "Events").
    pub contended: bool,
    /// Valid adverts from any source (keepalived's "Advertisements: Received").
    pub received: u64,
    pub priority_zero_received: u64,
    /// Non-zero error counters by name.
    pub errors: BTreeMap<&'static str, u64>,
}

/// Frames dropped (or passed, where said) before an instance was found, plus the program's
/// own counters, for one interface.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InterfaceRow {
    pub iface: String,
    pub drops: BTreeMap<&'static str, u64>,
    /// `events_sent`, `events_suppressed`, `ring_full`, `map_full`, `timer_setup_failed` (program-wide).
    pub program: BTreeMap<&'static str, u64>,
}

/// Everything one refresh shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Snapshot {
    pub routers: Vec<RouterRow>,
    pub interfaces: Vec<InterfaceRow>,
}

fn nonzero<const N: usize>(named: [(&'static str, u64); N]) -> BTreeMap<&'static str, u64> {
    named.into_iter().filter(|(_, count)| *count > 0).collect()
}

/// The current master's own advert rate: `master_adverts - 1` intervals over its span.
pub fn master_rate(state: &InstanceState) -> Option<f64> {
    let span_ns = state.last_seen_ns.saturating_sub(state.master_since_ns);
    if state.master_adverts < 2 || span_ns == 0 {
        return None;
    }
    let rate = (state.master_adverts - 1) as f64 / (span_ns as f64 / 1e9);
    Some((rate * 100.0).round() / 100.0)
}

/// Builds a row from what the XDP program (or the offline observer, which keeps the same
/// structs) recorded. `now_ns` is on the same clock as `state.last_seen_ns`.
pub fn router_row(
    iface: &str,
    key: &InstanceKey,
    state: &InstanceState,
    counters: &RxCounters,
    now_ns: u64,
) -> Option<RouterRow> {
    let family = Family::from_map_value(key.family)?;
    let heard = state.last_seen_ns != 0;
    let errors = nonzero(counters.named());
    Some(RouterRow {
        iface: iface.to_owned(),
        vrid: key.vrid,
        family,
        dst: family.addr_from(&key.dst),
        version: heard.then_some(state.master_version),
        master: heard.then(|| family.addr_from(&state.master_addr)),
        priority: heard.then_some(state.master_priority),
        advert_interval_ms: heard.then_some(state.master_interval_cs as u64 * 10),
        adverts_per_sec: master_rate(state),
        last_seen_ms: heard.then(|| now_ns.saturating_sub(state.last_seen_ns) / 1_000_000),
        contended: state.flags & vrrp_common::STATE_CONTENDED != 0,
        received: counters.received,
        priority_zero_received: counters.priority_zero_received,
        errors: errors
            .into_iter()
            .filter(|(name, _)| !matches!(*name, "received" | "priority_zero_received"))
            .collect(),
    })
}

pub fn interface_row(iface: &str, drops: &IfaceDrops, program: &GlobalStats) -> InterfaceRow {
    InterfaceRow {
        iface: iface.to_owned(),
        drops: nonzero(drops.named()),
        program: nonzero(program.named()),
    }
}
