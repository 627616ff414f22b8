//! `xvrrpd monitor`: every VRRP router on a link, live from the XDP program's maps or offline
//! from a capture, as a table or JSON lines.

mod live;
mod offline;
mod render;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

pub use live::{LiveOptions, run_live};
pub use offline::snapshot_from_pcap;
pub use render::{render_json, render_table};
use serde::Serialize;
use vrrp_common::{InstanceKey, InstanceState, RxErrors};

use crate::protocol::Family;

/// One virtual router as heard on one link.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouterRow {
    pub iface: String,
    pub vrid: u8,
    pub family: Family,
    /// `None` until a valid advert was heard (only errors so far).
    pub version: Option<u8>,
    pub master: Option<IpAddr>,
    pub priority: Option<u8>,
    pub advert_interval_ms: Option<u64>,
    pub adverts_per_sec: f64,
    /// Milliseconds since the last valid advert.
    pub last_seen_ms: Option<u64>,
    pub received: u64,
    pub priority_zero_received: u64,
    /// Non-zero error counters by name.
    pub errors: BTreeMap<&'static str, u64>,
}

/// Dropped packets counted against an interface (also those no router row can show).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InterfaceRow {
    pub iface: String,
    pub errors: BTreeMap<&'static str, u64>,
}

/// Everything one refresh shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Snapshot {
    pub routers: Vec<RouterRow>,
    pub interfaces: Vec<InterfaceRow>,
}

fn nonzero_errors(errors: &RxErrors) -> BTreeMap<&'static str, u64> {
    errors
        .named()
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .collect()
}

/// Builds a row from what the XDP program (or the offline observer, which keeps the same
/// struct) recorded. `now_ns` is on the same clock as `state.last_seen_ns`; `adverts` is the
/// number of adverts received over `window`, for the rate.
pub fn router_row(
    iface: &str,
    key: &InstanceKey,
    state: &InstanceState,
    now_ns: u64,
    adverts: u64,
    window: Duration,
) -> Option<RouterRow> {
    let family = Family::from_map_value(key.family)?;
    let heard = state.last_seen_ns != 0;
    let rate = if window.is_zero() {
        0.0
    } else {
        adverts as f64 / window.as_secs_f64()
    };
    Some(RouterRow {
        iface: iface.to_owned(),
        vrid: key.vrid,
        family,
        version: heard.then_some(state.version),
        master: heard.then(|| family.addr_from(&state.master_addr)),
        priority: heard.then_some(state.master_priority),
        advert_interval_ms: heard.then_some(state.advert_interval_cs as u64 * 10),
        adverts_per_sec: (rate * 100.0).round() / 100.0,
        last_seen_ms: heard.then(|| now_ns.saturating_sub(state.last_seen_ns) / 1_000_000),
        received: state.received,
        priority_zero_received: state.priority_zero_received,
        errors: nonzero_errors(&state.errors),
    })
}

pub fn interface_row(iface: &str, errors: &RxErrors) -> InterfaceRow {
    InterfaceRow {
        iface: iface.to_owned(),
        errors: nonzero_errors(errors),
    }
}
