use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::*;

fn v4(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

fn v6(last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, last))
}

fn advert(version: Version, addresses: Vec<IpAddr>) -> Advert {
    Advert {
        version,
        vrid: Vrid(51),
        priority: Priority(150),
        interval: if version == Version::V2 {
            Duration::from_secs(1)
        } else {
            Duration::from_millis(100)
        },
        auth: if version == Version::V2 {
            Auth::pass("secret")
        } else {
            Auth::None
        },
        addresses,
    }
}

fn decode_ok(frame: &[u8]) -> ReceivedAdvert {
    match decode_frame(frame) {
        Frame::Advert(received) => received,
        other => panic!("expected a valid advert, got {other:?}"),
    }
}

fn rejected(frame: &[u8]) -> DecodeError {
    match decode_frame(frame) {
        Frame::Rejected { error, .. } => error,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn v2_ipv4_round_trips_with_password() {
    let sent = advert(Version::V2, vec![v4(100), v4(101)]);
    let frame = build_frame(&FrameSpec::multicast(v4(1), sent.clone())).unwrap();
    let received = decode_ok(&frame);
    assert_eq!(received.advert, sent);
    assert_eq!(received.src, v4(1));
    assert_eq!(received.ttl, 255);
}

#[test]
fn v3_ipv4_and_ipv6_round_trip() {
    for (src, addrs) in [(v4(1), vec![v4(100)]), (v6(1), vec![v6(0x100), v6(0x101)])] {
        let sent = advert(Version::V3, addrs);
        let received = decode_ok(&build_frame(&FrameSpec::multicast(src, sent.clone())).unwrap());
        assert_eq!(received.advert, sent);
    }
}

#[test]
fn v3_ipv4_accepts_checksum_without_pseudo_header() {
    let mut spec = FrameSpec::multicast(v4(1), advert(Version::V3, vec![v4(100)]));
    spec.checksum = ChecksumMode::AsV2;
    decode_ok(&build_frame(&spec).unwrap());
}

#[test]
fn v2_checksum_matches_hand_computed_value() {
    // 0x21 0x33 0x96 0x01 | 0x00 0x01 | 0x0000 | 192.0.2.100 | 8 zero bytes
    // sum = 0x2133 + 0x9601 + 0x0001 + 0xc000 + 0x0264 = 0x17999 -> 0x799a -> !0x799a = 0x8665
    let message = Advert {
        version: Version::V2,
        vrid: Vrid(0x33),
        priority: Priority(0x96),
        interval: Duration::from_secs(1),
        auth: Auth::None,
        addresses: vec![v4(100)],
    }
    .encode(
        &IpContext {
            family: Family::Ipv4,
            src: v4(1),
            dst: v4(18),
        },
        ChecksumMode::Rfc,
    );
    assert_eq!(&message[6..8], &[0x86, 0x65]);
}

#[test]
fn vlan_tags_and_ipv4_options_are_skipped() {
    let mut spec = FrameSpec::multicast(v4(1), advert(Version::V3, vec![v4(100)]));
    spec.vlan_ids = vec![100, 200];
    spec.ipv4_options_len = 8;
    decode_ok(&build_frame(&spec).unwrap());
}

#[test]
fn each_malformation_is_named() {
    let good = build_frame(&FrameSpec::multicast(
        v4(1),
        advert(Version::V2, vec![v4(100)]),
    ))
    .unwrap();
    let vrrp = 14 + 20; // Ethernet + IPv4 header

    let mut bad_ttl = FrameSpec::multicast(v4(1), advert(Version::V2, vec![v4(100)]));
    bad_ttl.ttl = 64;
    assert_eq!(
        rejected(&build_frame(&bad_ttl).unwrap()),
        DecodeError::Ttl { ttl: 64 }
    );

    let mut bad_checksum = good.clone();
    bad_checksum[vrrp + 7] ^= 0xff;
    assert!(matches!(
        rejected(&bad_checksum),
        DecodeError::Checksum { .. }
    ));

    let mut bad_version = good.clone();
    bad_version[vrrp] = 0x41;
    assert!(matches!(
        rejected(&bad_version),
        DecodeError::Version { version: 4, .. }
    ));

    let mut bad_type = good.clone();
    bad_type[vrrp] = 0x22;
    assert_eq!(rejected(&bad_type), DecodeError::Type { packet_type: 2 });

    let mut bad_auth = good.clone();
    bad_auth[vrrp + 4] = 7;
    assert_eq!(rejected(&bad_auth), DecodeError::AuthType { auth_type: 7 });

    let short = &good[..good.len() - 4];
    assert!(matches!(rejected(short), DecodeError::Truncated { .. }));
}

#[test]
fn non_vrrp_and_garbage_never_panic() {
    assert_eq!(decode_frame(&[]), Frame::NotVrrp);
    assert_eq!(decode_frame(&[0u8; 13]), Frame::NotVrrp);
    let good = build_frame(&FrameSpec::multicast(
        v6(1),
        advert(Version::V3, vec![v6(9)]),
    ))
    .unwrap();
    for len in 0..good.len() {
        let _ = decode_frame(&good[..len]);
    }
}

/// A quick, deterministic stand-in for the fuzz targets (vrrp-userspace/fuzz) that runs in
/// every `cargo test`: mutated valid frames and random bytes never panic the decoders, and a
/// decoded advert re-encodes to itself.
#[test]
fn mutated_and_random_input_never_panics() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds = [
        build_frame(&FrameSpec::multicast(
            v4(1),
            advert(Version::V2, vec![v4(100), v4(101)]),
        ))
        .unwrap(),
        build_frame(&FrameSpec::multicast(
            v4(1),
            advert(Version::V3, vec![v4(100)]),
        ))
        .unwrap(),
        build_frame(&FrameSpec::multicast(
            v6(1),
            advert(Version::V3, vec![v6(9)]),
        ))
        .unwrap(),
    ];
    for round in 0..30_000 {
        let mut frame = seeds[round % seeds.len()].clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % frame.len();
            frame[at] = next() as u8;
        }
        if next() % 4 == 0 {
            frame.truncate((next() as usize) % (frame.len() + 1));
        }
        if let Frame::Advert(received) = decode_frame(&frame) {
            let ip = IpContext {
                family: Family::of(&received.src),
                src: received.src,
                dst: received.dst,
            };
            let again = Advert::decode(&received.advert.encode(&ip, ChecksumMode::Rfc), &ip);
            assert_eq!(again, Ok(received.advert.clone()));
        }
        let random: Vec<u8> = (0..next() % 200).map(|_| next() as u8).collect();
        let _ = decode_frame(&random);
        let _ = crate::pcap::parse(&random);
    }
}
