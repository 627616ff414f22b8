//! `xvrrpd monitor --pcap`: the same view from a capture, decoded by the userspace codec with
//! the checks the XDP program applies in observe mode.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use vrrp_common::{COUNT_IPV6_EXT_HEADER_PASSED, InstanceKey, InstanceState, RxErrors};

use super::{Snapshot, interface_row, router_row};
use crate::pcap::{self, PcapError};
use crate::protocol::{Family, Frame, decode_frame};

/// Replays a capture through the decoder and summarises it as of its last packet.
pub fn snapshot_from_pcap(path: &Path) -> Result<Snapshot, PcapError> {
    let packets = pcap::read_file(path)?;
    let iface = path
        .file_name()
        .map_or_else(|| "pcap".to_owned(), |n| n.to_string_lossy().into_owned());
    let mut observer = Observer::default();
    for packet in &packets {
        observer.frame(packet.timestamp.as_nanos() as u64, &packet.ethernet);
    }
    let (first, last) = match (packets.first(), packets.last()) {
        (Some(first), Some(last)) => (first.timestamp, last.timestamp),
        _ => (Duration::ZERO, Duration::ZERO),
    };
    let window = last.saturating_sub(first);
    let now_ns = last.as_nanos() as u64;
    let routers = observer
        .states
        .iter()
        .filter_map(|(key, state)| router_row(&iface, key, state, now_ns, state.received, window))
        .collect();
    Ok(Snapshot {
        routers,
        interfaces: vec![interface_row(&iface, &observer.iface_errors)],
    })
}

/// Keeps the same records the XDP program keeps in its maps.
#[derive(Default)]
struct Observer {
    states: BTreeMap<InstanceKey, InstanceState>,
    iface_errors: RxErrors,
}

impl Observer {
    fn frame(&mut self, timestamp_ns: u64, frame: &[u8]) {
        match decode_frame(frame) {
            Frame::NotVrrp => {}
            Frame::Ipv6ExtensionHeader => self.iface_errors.count(COUNT_IPV6_EXT_HEADER_PASSED),
            Frame::Rejected {
                family,
                vrid,
                error,
            } => {
                self.iface_errors.count(error.counter());
                if let Some(vrid) = vrid {
                    let key = InstanceKey::new(0, family.map_value(), vrid.0);
                    self.states
                        .entry(key)
                        .or_default()
                        .errors
                        .count(error.counter());
                }
            }
            Frame::Advert(received) => {
                let family = Family::of(&received.src);
                let advert = &received.advert;
                let key = InstanceKey::new(0, family.map_value(), advert.vrid.0);
                let state = self.states.entry(key).or_default();
                state.last_seen_ns = timestamp_ns;
                state.received += 1;
                if advert.priority.0 == 0 {
                    state.priority_zero_received += 1;
                }
                state.master_addr = Family::map_bytes(&received.src);
                state.master_priority = advert.priority.0;
                state.version = advert.version.number();
                state.advert_interval_cs = (advert.interval.as_millis() / 10) as u16;
                state.addr_count = advert.addresses.len() as u8;
            }
        }
    }
}
