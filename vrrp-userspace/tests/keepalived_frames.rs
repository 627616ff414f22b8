//! Byte-exact comparison with frames captured from real keepalived 2.2.7 (tests/data: the
//! capture and the configuration that produced it, on a veth whose MAC was set to
//! 02:00:00:00:00:01 and address 192.0.2.1 / fe80::ff:fe00:1), and tshark's verdict on what
//! the engine builds.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use xvrrpd::config;
use xvrrpd::daemon::host::{HostFacts, HostInterface};
use xvrrpd::daemon::resolve::resolve;
use xvrrpd::engine::{Action, Event, InstanceConfig, MacAddr, Router, Timestamp};
use xvrrpd::pcap;
use xvrrpd::protocol::{ChecksumMode, Frame, IpContext, announce, decode_frame};

const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn captured() -> Vec<Vec<u8>> {
    pcap::read_file(&data("keepalived-2.2.7.pcap"))
        .expect("capture")
        .into_iter()
        .map(|p| p.ethernet)
        .collect()
}

/// The instances of tests/data/keepalived-2.2.7.conf as the daemon resolves them on the host
/// the capture was taken on.
fn instances() -> Vec<InstanceConfig> {
    let loaded = config::load_file(
        &data("keepalived-2.2.7.conf"),
        &config::LoadOptions::default(),
    );
    assert_eq!(loaded.exit_code(false), 0, "{:?}", loaded.diagnostics);
    let host = HostFacts {
        interfaces: vec![HostInterface {
            name: "eth0".into(),
            ifindex: 2,
            mac: MacAddr(MAC),
            up: true,
            loopback: false,
            ipv4: vec![Ipv4Addr::new(192, 0, 2, 1)],
            ipv6_link_local: Some("fe80::ff:fe00:1".parse::<Ipv6Addr>().unwrap()),
            ipv6: Vec::new(),
            ipv6_forwarding: false,
            ipv6_hop_limit: 64,
        }],
    };
    resolve(&loaded.config, &host)
        .expect("the capture's configuration resolves")
        .instances
        .into_iter()
        .map(|i| i.engine)
        .collect()
}

/// Runs the engine until every instance is master and returns the frames it sent.
fn engine_frames() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut router = Router::new(instances(), Vec::new()).unwrap();
    let mut actions = router.broadcast(Timestamp::ZERO, &Event::Startup);
    let end = Timestamp::ZERO + Duration::from_secs(5);
    while let Some(deadline) = router.next_deadline().filter(|d| *d <= end) {
        actions.extend(router.handle_timers(deadline));
    }
    let (mut adverts, mut announcements) = (Vec::new(), Vec::new());
    for (_, action) in actions {
        match action {
            Action::SendAdvert { packets, .. } => {
                for packet in packets.iter() {
                    match packet {
                        xvrrpd::engine::AdvertPacket::Multicast { frame } => {
                            adverts.push(frame.to_vec())
                        }
                        other => panic!("multicast instances sent {other:?}"),
                    }
                }
            }
            Action::Announce { frames, .. } => {
                announcements.extend(frames.iter().map(|f| f.frame.to_vec()))
            }
            _ => {}
        }
    }
    assert!(
        router
            .instances()
            .all(|(_, i)| i.state() == xvrrpd::engine::State::Master)
    );
    (adverts, announcements)
}

/// The IPv4 identification and header checksum, and the IPv6 flow label, are chosen by the
/// sender's kernel, not by VRRP.
fn comparable(frame: &[u8]) -> Vec<u8> {
    let mut frame = frame.to_vec();
    if frame.len() > 34 && frame[12..14] == [0x08, 0x00] {
        frame[18..20].fill(0);
        frame[24..26].fill(0);
    }
    if frame.len() > 54 && frame[12..14] == [0x86, 0xdd] {
        frame[15] &= 0xf0;
        frame[16..18].fill(0);
    }
    frame
}

#[test]
fn vrrp_messages_re_encode_byte_for_byte() {
    let mut checked = 0;
    for frame in captured() {
        let Frame::Advert(received) = decode_frame(&frame) else {
            continue;
        };
        let family = xvrrpd::protocol::Family::of(&received.src);
        let ip = IpContext {
            family,
            src: received.src,
            dst: received.dst,
        };
        let encoded = received.advert.encode(&ip, ChecksumMode::Rfc);
        assert_eq!(
            &frame[frame.len() - encoded.len()..],
            &encoded[..],
            "VRID {:?}",
            received.advert.vrid
        );
        checked += 1;
    }
    assert!(checked >= 10, "the capture holds {checked} adverts");
}

#[test]
fn engine_adverts_match_keepalived_frames() {
    let captured: Vec<Vec<u8>> = captured().iter().map(|f| comparable(f)).collect();
    let (adverts, _) = engine_frames();
    for vrid in [51u8, 52, 53] {
        let ours = adverts
            .iter()
            .find(|f| matches!(decode_frame(f), Frame::Advert(r) if r.advert.vrid.0 == vrid))
            .unwrap_or_else(|| panic!("the engine sent no advert for VRID {vrid}"));
        assert!(
            captured.contains(&comparable(ours)),
            "VRID {vrid}: the engine's frame\n{}\nis not among keepalived's",
            hex(ours)
        );
    }
}

#[test]
fn gratuitous_arp_and_unsolicited_na_match_keepalived() {
    let captured = captured();
    let arps: Vec<&Vec<u8>> = captured
        .iter()
        .filter(|f| f[12..14] == [0x08, 0x06])
        .collect();
    let nas: Vec<&Vec<u8>> = captured
        .iter()
        .filter(|f| f[12..14] == [0x86, 0xdd] && f[20] == 58)
        .collect();
    assert_eq!(arps.len(), 15, "5 per IPv4 VIP");
    assert_eq!(nas.len(), 5);
    for last in [100u8, 101, 102] {
        let ours = announce::gratuitous_arp(MAC, Ipv4Addr::new(192, 0, 2, last));
        assert!(
            arps.iter().any(|f| **f == ours),
            "GARP for 192.0.2.{last}: {}",
            hex(&ours)
        );
    }
    let ours = announce::unsolicited_na(MAC, "2001:db8::100".parse().unwrap(), false);
    assert!(nas.iter().all(|f| **f == ours), "NA: {}", hex(&ours));
    let (_, announcements) = engine_frames();
    assert_eq!(
        announcements.len(),
        4,
        "one frame per VIP; the shell repeats them"
    );
}

fn hex(frame: &[u8]) -> String {
    frame.iter().map(|b| format!("{b:02x}")).collect()
}

/// A classic pcap file of Ethernet frames.
fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, frame) in frames.iter().enumerate() {
        out.extend_from_slice(&(i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(frame);
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn tshark_finds_nothing_wrong_with_engine_frames() {
    let (adverts, announcements) = engine_frames();
    let mut frames = adverts;
    frames.extend(announcements);
    let path = std::env::temp_dir().join(format!("xvrrpd-tshark-{}.pcap", std::process::id()));
    write_pcap(&path, &frames);
    let output = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args([
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "frame.number",
            "-e",
            "_ws.col.Protocol",
        ])
        .args([
            "-e",
            "vrrp.checksum.status",
            "-e",
            "icmpv6.checksum.status",
            "-e",
            "_ws.expert.message",
        ])
        .output()
        .expect("tshark is installed by cargo xtask setup");
    let _ = std::fs::remove_file(&path);
    assert!(
        output.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), frames.len());
    for row in &rows {
        let (protocol, vrrp_sum, icmp_sum, expert) = (row[1], row[2], row[3], row[4]);
        assert!(
            expert.is_empty(),
            "tshark complains about frame {}: {expert}",
            row[0]
        );
        match protocol {
            "VRRP" => assert_eq!(vrrp_sum, "1", "frame {}: VRRP checksum status", row[0]),
            "ICMPv6" => assert_eq!(icmp_sum, "1", "frame {}: ICMPv6 checksum status", row[0]),
            "ARP" => {}
            other => panic!("frame {} dissected as {other}", row[0]),
        }
    }
}
