//! `xvrrpd monitor --pcap`: the same view from a capture, decoded by the userspace codec with
//! the checks the XDP program applies in observe mode.

use std::collections::BTreeMap;
use std::path::Path;

use vrrp_common::{GlobalStats, IfaceDrops, InstanceKey, InstanceState, RxCounters};

use super::{Snapshot, interface_row, router_row};
use crate::pcap::{self, PcapError};
use crate::protocol::{Family, Frame, decode_frame};

/// Replays a capture through the decoder and summarises it as of its last packet. Each
/// router's rate is its own: adverts from its current master over that master's span.
pub fn snapshot_from_pcap(path: &Path) -> Result<Snapshot, PcapError> {
    let packets = pcap::read_file(path)?;
    let iface = path
        .file_name()
        .map_or_else(|| "pcap".to_owned(), |n| n.to_string_lossy().into_owned());
    let mut observer = Observer::default();
    for packet in &packets {
        observer.frame(packet.timestamp.as_nanos() as u64, &packet.ethernet);
    }
    let now_ns = packets.last().map_or(0, |p| p.timestamp.as_nanos() as u64);
    let routers = observer
        .states
        .iter()
        .filter_map(|(key, (state, counters))| router_row(&iface, key, state, counters, now_ns))
        .collect();
    Ok(Snapshot {
        routers,
        interfaces: vec![interface_row(
            &iface,
            &observer.drops,
            &GlobalStats::default(),
        )],
    })
}

/// Keeps the same records the XDP program keeps in its maps.
#[derive(Default)]
struct Observer {
    states: BTreeMap<InstanceKey, (InstanceState, RxCounters)>,
    drops: IfaceDrops,
}

impl Observer {
    fn frame(&mut self, timestamp_ns: u64, frame: &[u8]) {
        match decode_frame(frame) {
            Frame::NotVrrp => {}
            Frame::Rejected {
                family,
                vrid: Some(vrid),
                dst: Some(dst),
                error,
            } => {
                let key = InstanceKey::new(0, family.map_value(), vrid.0, Family::map_bytes(&dst));
                self.states.entry(key).or_default().1.count(error.counter());
            }
            // Too short for a VRRP header, or a fragment: before any instance.
            Frame::Rejected { .. } => self.drops.count(vrrp_common::DROP_SHORT),
            Frame::Advert(received) => {
                let family = Family::of(&received.src);
                let advert = &received.advert;
                let key = InstanceKey::new(
                    0,
                    family.map_value(),
                    advert.vrid.0,
                    Family::map_bytes(&received.dst),
                );
                let (state, counters) = self.states.entry(key).or_default();
                counters.count(vrrp_common::RX_RECEIVED);
                if advert.priority.0 == 0 {
                    counters.count(vrrp_common::RX_PRIORITY_ZERO);
                }
                let src = Family::map_bytes(&received.src);
                // The same "current master" as the program's: a new source starts a new span.
                if state.last_seen_ns == 0 || state.master_addr != src {
                    state.master_since_ns = timestamp_ns;
                    state.master_adverts = 0;
                }
                state.master_adverts += 1;
                state.last_seen_ns = timestamp_ns;
                state.master_addr = src;
                state.master_priority = advert.priority.0;
                state.master_version = advert.version.number();
                state.master_interval_cs = (advert.interval.as_millis() / 10) as u16;
                state.master_addr_count = advert.addresses.len() as u8;
            }
        }
    }
}
