//! The XDP program run by the kernel on crafted frames (BPF_PROG_TEST_RUN): each frame's
//! verdict and exactly which counters and state entries it changes, with keepalived's check
//! order and counters (`vrrp.c: vrrp_check_packet`). Needs root.

mod xdp_lab;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use vrrp_common::*;
use xdp_lab::*;
use xvrrpd::dataplane::Mode;
use xvrrpd::protocol::{Advert, Auth, ChecksumMode, FrameSpec, Version};

/// What one frame must do.
struct Case {
    name: &'static str,
    frame: Vec<u8>,
    verdict: u32,
    /// The one interface drop counter that moves, if any.
    drop: Option<usize>,
    /// The instance whose counters move, and exactly which ones.
    instance: Option<(InstanceKey, &'static [usize])>,
    /// Whether the instance's state records the advert.
    records: bool,
}

fn ok(name: &'static str, frame: Vec<u8>, key: InstanceKey) -> Case {
    Case {
        name,
        frame,
        verdict: XDP_PASS,
        drop: None,
        instance: Some((key, &[RX_RECEIVED])),
        records: true,
    }
}

fn rejected(
    name: &'static str,
    frame: Vec<u8>,
    key: InstanceKey,
    counters: &'static [usize],
) -> Case {
    Case {
        name,
        frame,
        verdict: XDP_DROP,
        drop: None,
        instance: Some((key, counters)),
        records: false,
    }
}

fn dropped(name: &'static str, frame: Vec<u8>, drop: usize) -> Case {
    Case {
        name,
        frame,
        verdict: XDP_DROP,
        drop: Some(drop),
        instance: None,
        records: false,
    }
}

fn untouched(name: &'static str, frame: Vec<u8>) -> Case {
    Case {
        name,
        frame,
        verdict: XDP_PASS,
        drop: None,
        instance: None,
        records: false,
    }
}

/// An IPv6 advert for VRID 53 behind one extension header of type `next`.
fn behind_ipv6_header(next: u8) -> Vec<u8> {
    let mut bytes = frame(&v3_ipv6());
    let vrrp = bytes.split_off(14 + 40);
    // Next header VRRP, length 0 (8 bytes), PadN option filling the rest.
    bytes.extend_from_slice(&[112, 0, 1, 4, 0, 0, 0, 0]);
    bytes.extend_from_slice(&vrrp);
    bytes[14 + 6] = next;
    let payload_len = (vrrp.len() + 8) as u16;
    bytes[14 + 4..14 + 6].copy_from_slice(&payload_len.to_be_bytes());
    bytes
}

fn table() -> Vec<Case> {
    let k51 = key(51, group4());
    let k52 = key(52, group4());
    let k53 = key(53, group6());
    let k55 = key(55, v4(2));
    let k56 = key(56, v4(2));
    let group19 = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 19));
    let wrong_group = IpAddr::V4(Ipv4Addr::new(239, 1, 1, 1));
    let v2_with = |edit: fn(&mut Advert)| {
        let mut a = advert(Version::V2, 51, 150, vec![v4(100)]);
        edit(&mut a);
        frame(&FrameSpec::multicast(v4(1), a))
    };
    vec![
        ok("valid v2 PASS", frame(&v2_pass(150)), k51),
        ok("valid v3 IPv4", frame(&v3_ipv4(52)), k52),
        ok("valid v3 IPv6", frame(&v3_ipv6()), k53),
        ok(
            "IPv4 options (IHL 8)",
            frame(&FrameSpec {
                ipv4_options_len: 12,
                ..v2_pass(150)
            }),
            k51,
        ),
        ok(
            "v3_checksum_as_v2 instance",
            frame(&FrameSpec {
                checksum: ChecksumMode::AsV2,
                ..v3_ipv4(54)
            }),
            key(54, group4()),
        ),
        ok(
            "Ethernet padding after the IP packet is not 'too long'",
            corrupt(v3_ipv4(52), |f| f.extend_from_slice(&[0; 8])),
            k52,
        ),
        // The VLAN device has its own attachment; the parent must not record its adverts.
        untouched(
            "802.1Q-tagged advert",
            frame(&FrameSpec {
                vlan_ids: vec![10],
                ..v3_ipv4(52)
            }),
        ),
        untouched(
            "802.1ad/802.1Q double-tagged advert",
            frame(&FrameSpec {
                vlan_ids: vec![10, 20],
                ..v3_ipv4(52)
            }),
        ),
        dropped(
            "bad IPv4 header checksum",
            corrupt(v3_ipv4(52), |f| f[24] ^= 0x55),
            DROP_IP_CHECKSUM,
        ),
        dropped(
            "destination 239.1.1.1",
            frame(&FrameSpec {
                dst: wrong_group,
                ..v3_ipv4(52)
            }),
            DROP_NO_INSTANCE,
        ),
        dropped(
            "unicast to an address that is not ours",
            frame(&unicast(56, v4(1), v4(77), 255, v4(101))),
            DROP_NO_INSTANCE,
        ),
        dropped("unknown VRID", frame(&v3_ipv4(99)), DROP_NO_INSTANCE),
        dropped(
            "destination MAC of another host",
            frame(&FrameSpec {
                dst_mac: Some([0x02, 0, 0, 0, 0, 0x99]),
                ..v3_ipv4(52)
            }),
            DROP_OTHER_HOST,
        ),
        dropped(
            "IPv6 with version nibble 4",
            corrupt(v3_ipv6(), |f| f[14] = 0x4c),
            DROP_IP_HEADER,
        ),
        dropped(
            "frame shorter than the IP length",
            corrupt(v2_pass(150), |f| f.truncate(VRRP_V4 + 10)),
            DROP_TRUNCATED,
        ),
        dropped(
            "IPv4 fragment",
            corrupt(v3_ipv4(52), |f| {
                f[20] = 0x20; // more fragments
                fix_ip_checksum(f);
            }),
            DROP_FRAGMENT,
        ),
        dropped(
            "shorter than a VRRP header",
            corrupt(v3_ipv4(52), |f| {
                f.truncate(VRRP_V4 + 4);
                f[16..18].copy_from_slice(&24u16.to_be_bytes());
                fix_ip_checksum(f);
            }),
            DROP_SHORT,
        ),
        // keepalived's checks, in its order.
        rejected(
            "too long: trailing bytes inside the IP length",
            corrupt(v3_ipv4(52), |f| {
                f.extend_from_slice(&[0; 4]);
                let len = (f.len() - 14) as u16;
                f[16..18].copy_from_slice(&len.to_be_bytes());
                fix_ip_checksum(f);
            }),
            k52,
            &[RX_LENGTH],
        ),
        rejected(
            "shorter than its address count",
            corrupt(v3_ipv4(52), |f| f[VRRP_V4 + 3] = 5),
            k52,
            &[RX_LENGTH],
        ),
        rejected(
            "length is checked before the TTL",
            corrupt(
                FrameSpec {
                    ttl: 64,
                    ..v3_ipv4(52)
                },
                |f| f[VRRP_V4 + 3] = 5,
            ),
            k52,
            &[RX_LENGTH],
        ),
        rejected(
            "multicast TTL 64",
            frame(&FrameSpec {
                ttl: 64,
                ..v2_pass(150)
            }),
            k51,
            &[RX_TTL],
        ),
        rejected(
            "IPv6 hop limit 1",
            frame(&FrameSpec {
                ttl: 1,
                ..v3_ipv6()
            }),
            k53,
            &[RX_TTL],
        ),
        rejected(
            "TTL is checked before the version",
            frame(&FrameSpec {
                ttl: 64,
                ..FrameSpec::multicast(v4(1), advert(Version::V3, 51, 150, vec![v4(100)]))
            }),
            k51,
            &[RX_TTL],
        ),
        rejected(
            "v3 advert for a v2 instance",
            frame(&FrameSpec::multicast(
                v4(1),
                advert(Version::V3, 51, 150, vec![v4(100)]),
            )),
            k51,
            &[RX_VERSION],
        ),
        rejected(
            "auth type 9",
            corrupt(v2_pass(150), |f| f[VRRP_V4 + 4] = 9),
            k51,
            &[RX_AUTH_INVALID_TYPE],
        ),
        rejected(
            "no authentication on a PASS instance",
            v2_with(|a| a.auth = Auth::None),
            k51,
            &[RX_AUTH_TYPE_MISMATCH],
        ),
        rejected(
            "wrong password",
            v2_with(|a| a.auth = Auth::pass("guess")),
            k51,
            &[RX_AUTH_FAILURE],
        ),
        // keepalived drops it without counting: only xvrrpd's own counter moves.
        rejected(
            "v2 interval 3 s on a 1 s instance",
            v2_with(|a| a.interval = Duration::from_secs(3)),
            k51,
            &[RX_INTERVAL_MISMATCH],
        ),
        rejected(
            "type 2",
            corrupt(v3_ipv4(52), |f| f[VRRP_V4] = 0x32),
            k52,
            &[RX_INVALID_TYPE],
        ),
        rejected(
            "type is checked before the checksum",
            corrupt(v3_ipv4(52), |f| {
                f[VRRP_V4] = 0x32;
                f[VRRP_V4 + 7] ^= 0x55;
            }),
            k52,
            &[RX_INVALID_TYPE],
        ),
        rejected(
            "address count differs from the configured VIPs",
            frame(&FrameSpec::multicast(
                v4(1),
                advert(Version::V3, 52, 120, vec![v4(101), v4(102)]),
            )),
            k52,
            &[RX_ADDRESS_LIST],
        ),
        rejected(
            "bad v2 checksum",
            corrupt(v2_pass(150), |f| f[VRRP_V4 + 7] ^= 0x55),
            k51,
            &[RX_CHECKSUM],
        ),
        rejected(
            "v3 IPv4 checksum without pseudo-header on an RFC instance",
            frame(&FrameSpec {
                checksum: ChecksumMode::AsV2,
                ..v3_ipv4(52)
            }),
            k52,
            &[RX_CHECKSUM],
        ),
        rejected(
            "bad IPv6 checksum (the kernel's check, before all others)",
            corrupt(
                FrameSpec {
                    ttl: 1,
                    ..v3_ipv6()
                },
                |f| f[14 + 40 + 7] ^= 0x55,
            ),
            k53,
            &[RX_CHECKSUM],
        ),
        // keepalived counts it as received, then ignores it (addr_list_err).
        rejected(
            "a configured VIP missing from the advert",
            frame(&FrameSpec::multicast(
                v4(1),
                advert(Version::V3, 52, 120, vec![v4(99)]),
            )),
            k52,
            &[RX_RECEIVED, RX_ADDRESS_LIST],
        ),
        ok(
            "unicast peer inside its TTL window",
            frame(&unicast(55, v4(1), v4(2), 32, v4(101))),
            k55,
        ),
        rejected(
            "unicast peer outside its TTL window",
            frame(&unicast(55, v4(1), v4(2), 100, v4(101))),
            k55,
            &[RX_RECEIVED, RX_TTL],
        ),
        rejected(
            "check_unicast_src: not a peer",
            frame(&unicast(55, v4(9), v4(2), 32, v4(101))),
            k55,
            &[RX_RECEIVED, RX_NOT_A_PEER],
        ),
        ok(
            "unicast without check_unicast_src: any source, any TTL",
            frame(&unicast(56, v4(9), v4(2), 3, v4(101))),
            k56,
        ),
        ok(
            "VRID 52 on group 224.0.0.19 is its own instance",
            frame(&FrameSpec {
                dst: group19,
                ..FrameSpec::multicast(v4(1), advert(Version::V3, 52, 120, vec![v4(152)]))
            }),
            key(52, group19),
        ),
        ok(
            "VRID 52 unicast is its own instance",
            frame(&unicast(52, v4(1), v4(2), 255, v4(153))),
            key(52, v4(2)),
        ),
        ok(
            "IPv6 advert behind hop-by-hop options",
            behind_ipv6_header(proto::IPV6_HOP_BY_HOP),
            k53,
        ),
        ok(
            "IPv6 advert behind destination options",
            behind_ipv6_header(proto::IPV6_DEST_OPTS),
            k53,
        ),
        Case {
            drop: Some(DROP_IPV6_EXT_PASSED),
            ..untouched(
                "IPv6 advert behind a routing header: passed, counted",
                behind_ipv6_header(proto::IPV6_ROUTING),
            )
        },
        untouched("MLD report (hop-by-hop, then ICMPv6)", {
            let mut f = behind_ipv6_header(proto::IPV6_HOP_BY_HOP);
            f[14 + 40] = 58;
            f
        }),
    ]
}

fn all_counters(lab: &Lab) -> BTreeMap<InstanceKey, RxCounters> {
    lab.dp().all_counters()
}

#[test]
fn each_frame_gets_its_verdict_and_exactly_its_counters() {
    let lab = configured_lab();
    for case in table() {
        let drops_before = lab.drops();
        let counters_before = all_counters(&lab);
        let state_before = case.instance.map(|(key, _)| lab.state(&key));
        let states_before = lab.dp().states();
        let verdict = lab.run(&case.frame);
        assert_eq!(verdict, case.verdict, "{}: verdict", case.name);

        let mut drops = drops_before;
        if let Some(kind) = case.drop {
            drops.count(kind);
        }
        assert_eq!(lab.drops(), drops, "{}: interface drops", case.name);

        let mut expected = counters_before.clone();
        if let Some((key, kinds)) = case.instance {
            let counters = expected.entry(key).or_default();
            kinds.iter().for_each(|kind| counters.count(*kind));
        }
        assert_eq!(all_counters(&lab), expected, "{}: counters", case.name);

        match (case.instance, state_before) {
            (Some((key, _)), Some(before)) => {
                let after = lab.state(&key);
                assert_eq!(
                    after.last_seen_ns != before.last_seen_ns,
                    case.records,
                    "{}: state recorded",
                    case.name
                );
                if case.records {
                    assert_eq!(after.master_addr_count, 1, "{}", case.name);
                }
            }
            _ => assert_eq!(lab.dp().states(), states_before, "{}: no state", case.name),
        }
    }
}

#[test]
fn non_vrrp_traffic_passes_untouched() {
    let lab = configured_lab();
    let mut udp = frame(&v3_ipv4(52));
    udp[14 + 9] = 17; // IP protocol UDP
    let mut arp = frame(&v3_ipv4(52));
    arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    // The kernel's test run needs at least an Ethernet header; this one claims IPv4 but ends.
    let mut cut_ip = vec![0u8; 18];
    cut_ip[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    for (name, bytes) in [("udp", udp), ("arp", arp), ("IPv4 cut short", cut_ip)] {
        assert_eq!(lab.run(&bytes), XDP_PASS, "{name}");
    }
    assert_eq!(lab.drops(), IfaceDrops::default());
    assert!(lab.dp().states().is_empty(), "nothing recorded");
}

#[test]
fn foreign_pass_hands_unknown_instances_to_the_stack() {
    let mut lab = configured_lab();
    lab.set_iface_flags(IFACE_FOREIGN_PASS);
    assert_eq!(lab.run(&frame(&v3_ipv4(99))), XDP_PASS);
    let to_239 = frame(&FrameSpec {
        dst: IpAddr::V4(Ipv4Addr::new(239, 1, 1, 1)),
        ..v3_ipv4(52)
    });
    assert_eq!(lab.run(&to_239), XDP_PASS);
    assert_eq!(lab.drops().foreign_passed, 2);
    assert_eq!(lab.drops().no_instance, 0);
    assert!(lab.dp().states().is_empty(), "another speaker's adverts");
    // Configured instances are still checked and dropped when invalid.
    assert_eq!(
        lab.run(&corrupt(v3_ipv4(52), |f| f[VRRP_V4] = 0x32)),
        XDP_DROP
    );
}

#[test]
fn other_host_pass_lets_bridged_frames_through() {
    let mut lab = configured_lab();
    lab.set_iface_flags(IFACE_OTHER_HOST_PASS);
    let other_host = frame(&FrameSpec {
        dst_mac: Some([0x02, 0, 0, 0, 0, 0x99]),
        ..v3_ipv4(52)
    });
    assert_eq!(lab.run(&other_host), XDP_PASS);
    assert_eq!(lab.drops().other_host, 0);
}

#[test]
fn unicast_checksum_switches_to_the_old_form_for_good() {
    let mut lab = configured_lab();
    let k56 = key(56, v4(2));
    let old = old_unicast_checksum(56, v4(1), v4(2), v4(101));
    assert_eq!(lab.run(&old), XDP_PASS, "keepalived accepts the old form");
    let state = lab.state(&k56);
    assert_ne!(state.flags & STATE_OLD_UNICAST_CHECKSUM, 0);
    let events = lab.drain_events();
    assert!(events.iter().any(|e| e.kinds & EVENT_OLD_CHECKSUM != 0));
    // CHKSUM_COMPATIBILITY_AUTO: from now on only the old form passes.
    let rfc = frame(&unicast(56, v4(1), v4(2), 255, v4(101)));
    assert_eq!(lab.run(&rfc), XDP_DROP);
    assert_eq!(lab.counters(&k56).checksum, 1);
    assert_eq!(lab.run(&old), XDP_PASS);
}

#[test]
fn skip_check_adv_addr_skips_the_list_for_the_accepted_master() {
    let mut lab = configured_lab();
    let k52 = key(52, group4());
    let mut config = lab
        .dp()
        .all_counters()
        .get(&k52)
        .map(|_| InstanceConfig::default())
        .unwrap_or_default();
    config.version = 3;
    config.flags = CONFIG_SKIP_CHECK_ADV_ADDR;
    config.vip_count = 1;
    config.max_ttl = 255;
    config.mcast_group4 = GROUP4;
    lab.dp_mut()
        .insert_config(&RxKey::any_source(k52), &config)
        .expect("config");
    lab.policy(&k52, POLICY_BACKUP, 100, 0);
    let wrong_vip = |src| {
        frame(&FrameSpec::multicast(
            src,
            advert(Version::V3, 52, 120, vec![v4(99)]),
        ))
    };
    // Unknown master: checked and refused.
    assert_eq!(lab.run(&wrong_vip(v4(1))), XDP_DROP);
    // Accepted once with the right list, the same master skips the check...
    assert_eq!(lab.run(&frame(&v3_ipv4(52))), XDP_PASS);
    assert_eq!(lab.run(&wrong_vip(v4(1))), XDP_PASS);
    // ... another source does not, and neither does a master (policy MASTER).
    assert_eq!(lab.run(&wrong_vip(v4(7))), XDP_DROP);
    lab.policy(&k52, POLICY_MASTER, 100, 0);
    assert_eq!(lab.run(&wrong_vip(v4(1))), XDP_DROP);
    assert_eq!(lab.counters(&k52).address_list, 3);
}

#[test]
fn observe_mode_records_every_vrid_and_drops_nothing() {
    let lab = Lab::new(Mode::Observe);
    for vrid in [1u8, 77, 255] {
        assert_eq!(lab.run(&frame(&v3_ipv4(vrid))), XDP_PASS);
        assert_eq!(
            lab.counters(&key(vrid, group4())).received,
            1,
            "VRID {vrid}"
        );
    }
    assert_eq!(lab.run(&frame(&v3_ipv6())), XDP_PASS);
    assert_eq!(lab.state(&key(53, group6())).master_priority, 110);
    // Any password and interval pass; a v3 IPv4 checksum in either form passes.
    assert_eq!(lab.run(&frame(&v2_pass(150))), XDP_PASS);
    let as_v2 = frame(&FrameSpec {
        checksum: ChecksumMode::AsV2,
        ..v3_ipv4(52)
    });
    assert_eq!(lab.run(&as_v2), XDP_PASS);
    assert_eq!(lab.counters(&key(52, group4())).errors(), 0);
    // Everything that enforcing mode drops is counted, and passed.
    let drops = [
        corrupt(v2_pass(150), |f| f[VRRP_V4 + 7] ^= 0x55),
        corrupt(v3_ipv4(52), |f| f[24] ^= 0x55),
        corrupt(v3_ipv4(52), |f| {
            f[20] = 0x20;
            fix_ip_checksum(f);
        }),
        corrupt(v3_ipv4(52), |f| {
            f.truncate(VRRP_V4 + 4);
            f[16..18].copy_from_slice(&24u16.to_be_bytes());
            fix_ip_checksum(f);
        }),
        corrupt(v2_pass(150), |f| f.truncate(VRRP_V4 + 10)),
    ];
    for bytes in drops {
        assert_eq!(lab.run(&bytes), XDP_PASS);
    }
    assert_eq!(lab.counters(&key(51, group4())).checksum, 1);
    let drops = lab.drops();
    assert_eq!(
        (
            drops.ip_checksum,
            drops.fragment,
            drops.short,
            drops.truncated
        ),
        (1, 1, 1, 1)
    );
}
