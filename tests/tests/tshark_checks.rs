//! The failover matrix trusts tshark to find malformed frames and bad checksums; this checks
//! that netlab's reading of tshark does find them, on a crafted capture (a good VRRPv3 advert,
//! one with a wrong checksum, one cut short, a gratuitous ARP) with nanosecond timestamps.

use netlab::TempDir;
use netlab::capture::{FrameKind, Timestamp, read_frames};

fn ones_complement_sum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

const SOURCE: [u8; 4] = [192, 0, 2, 1];
const GROUP: [u8; 4] = [224, 0, 0, 18];
const VIP: [u8; 4] = [192, 0, 2, 100];

/// Ethernet + IPv4 + VRRPv3 (VRID 51, priority 150, 100 ms, one address). `claimed` is the
/// address count written in the header; `checksum_delta` spoils the checksum.
fn advert(claimed: u8, checksum_delta: u16) -> Vec<u8> {
    let mut vrrp = vec![0x31, 51, 150, claimed, 0x00, 10, 0, 0];
    vrrp.extend(VIP);
    let mut pseudo = Vec::new();
    pseudo.extend(SOURCE);
    pseudo.extend(GROUP);
    pseudo.extend([0, 112, 0, vrrp.len() as u8]);
    pseudo.extend(&vrrp);
    let checksum = ones_complement_sum(&pseudo).wrapping_add(checksum_delta);
    vrrp[6..8].copy_from_slice(&checksum.to_be_bytes());

    let total = (20 + vrrp.len()) as u16;
    let mut ip = vec![0x45, 0xc0];
    ip.extend(total.to_be_bytes());
    ip.extend([0, 0, 0, 0, 255, 112, 0, 0]);
    ip.extend(SOURCE);
    ip.extend(GROUP);
    let ip_checksum = ones_complement_sum(&ip);
    ip[10..12].copy_from_slice(&ip_checksum.to_be_bytes());

    let mut frame = vec![
        0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00,
    ];
    frame.extend(ip);
    frame.extend(vrrp);
    frame
}

fn gratuitous_arp() -> Vec<u8> {
    let mac = [0x02, 0, 0, 0, 0, 2];
    let mut frame = vec![0xff; 6];
    frame.extend(mac);
    frame.extend([0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    frame.extend(mac);
    frame.extend(VIP);
    frame.extend([0xff; 6]);
    frame.extend(VIP);
    frame
}

/// A classic pcap file with nanosecond timestamps (magic a1b23c4d), Ethernet link type.
fn pcap(frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut file = Vec::new();
    file.extend(0xa1b2_3c4d_u32.to_le_bytes());
    file.extend(2u16.to_le_bytes());
    file.extend(4u16.to_le_bytes());
    file.extend([0; 8]);
    file.extend(65535u32.to_le_bytes());
    file.extend(1u32.to_le_bytes());
    for (nanos, frame) in frames {
        file.extend(((nanos / 1_000_000_000) as u32).to_le_bytes());
        file.extend(((nanos % 1_000_000_000) as u32).to_le_bytes());
        file.extend((frame.len() as u32).to_le_bytes());
        file.extend((frame.len() as u32).to_le_bytes());
        file.extend(frame);
    }
    file
}

#[test]
fn tshark_flags_bad_checksums_and_truncated_adverts_only() {
    let base = 1_795_697_670_643_127_783;
    let dir = TempDir::new("tshark").unwrap();
    let path = dir.path().join("crafted.pcap");
    std::fs::write(
        &path,
        pcap(&[
            (base, advert(1, 0)),
            (base + 1, advert(1, 1)),
            (base + 2, advert(3, 0)),
            (base + 1_000, gratuitous_arp()),
        ]),
    )
    .unwrap();
    let frames = read_frames(&path).unwrap();
    assert_eq!(frames.len(), 4);

    assert_eq!(frames[0].time, Timestamp(base), "nanoseconds kept");
    assert_eq!(frames[1].time, Timestamp(base + 1));
    let advert = frames[0].advert().expect("an advert");
    assert_eq!((advert.version, advert.vrid, advert.priority), (3, 51, 150));
    assert!(frames[0].problems.is_empty(), "{:?}", frames[0].problems);

    assert!(
        frames[1]
            .problems
            .iter()
            .any(|p| p == "vrrp.checksum.status: bad"),
        "a wrong checksum: {:?}",
        frames[1].problems
    );
    assert!(
        frames[2]
            .problems
            .iter()
            .any(|p| p == "tshark: malformed packet"),
        "three addresses announced, one present: {:?}",
        frames[2]
    );

    assert!(matches!(frames[3].kind, FrameKind::Arp { .. }));
    assert!(frames[3].announces(VIP.into()));
    assert_eq!(frames[3].mac, "02:00:00:00:00:02");
    assert!(frames[3].problems.is_empty(), "{:?}", frames[3].problems);
}
