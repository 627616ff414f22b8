//! The XDP program run by the kernel on crafted frames (BPF_PROG_TEST_RUN): each frame's verdict
//! and exactly which counters, state fields and ring-buffer events it changes. Needs root.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aya::maps::{MapData, RingBuf};
use vrrp_common::proto::AUTH_PASS;
use vrrp_common::*;
use xvrrpd::dataplane::{Dataplane, LoadOptions, parse_event, test_run};
use xvrrpd::protocol::{
    Advert, Auth, ChecksumMode, FrameSpec, Priority, Version, Vrid, build_frame,
};

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
/// Test runs happen "on" loopback, which exists in every namespace.
const IFINDEX: u32 = 1;

static LABS: AtomicU32 = AtomicU32::new(0);

/// A loaded program with its own pin directory, shut down on drop.
struct Lab {
    dataplane: Option<Dataplane>,
    events: RingBuf<MapData>,
}

impl Lab {
    fn new(observe_all: bool) -> Self {
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        let pin_dir = PathBuf::from(format!(
            "/sys/fs/bpf/xvrrpd-verdicts-{}-{n}",
            std::process::id()
        ));
        let mut dataplane = Dataplane::load(&LoadOptions {
            observe_all,
            pin_dir,
        })
        .expect("load the XDP program (root?)");
        let events = dataplane.take_events().expect("ring buffer");
        Self {
            dataplane: Some(dataplane),
            events,
        }
    }

    fn dp(&self) -> &Dataplane {
        self.dataplane.as_ref().expect("alive until drop")
    }

    fn configure(&mut self, family: u8, vrid: u8, config: InstanceConfig) {
        let dp = self.dataplane.as_mut().expect("alive until drop");
        dp.set_config(InstanceKey::new(IFINDEX, family, vrid), config)
            .expect("config map");
    }

    fn run(&self, frame: &[u8]) -> u32 {
        test_run(self.dp().program(), frame, IFINDEX, 1)
            .expect("BPF_PROG_TEST_RUN")
            .verdict
    }

    fn state(&self, family: u8, vrid: u8) -> InstanceState {
        let key = InstanceKey::new(IFINDEX, family, vrid);
        self.dp()
            .states()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, s)| s)
            .unwrap_or_default()
    }

    fn iface_errors(&self) -> RxErrors {
        self.dp().iface_errors(IFINDEX)
    }

    fn drain_events(&mut self) -> Vec<VrrpEvent> {
        let mut events = Vec::new();
        while let Some(item) = self.events.next() {
            events.extend(parse_event(&item));
        }
        events
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(dataplane) = self.dataplane.take() {
            dataplane.shutdown();
        }
    }
}

fn v4(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

fn v6(last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, last))
}

fn advert(version: Version, vrid: u8, priority: u8, addresses: Vec<IpAddr>) -> Advert {
    Advert {
        version,
        vrid: Vrid(vrid),
        priority: Priority(priority),
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

fn frame(spec: &FrameSpec) -> Vec<u8> {
    build_frame(spec).expect("same-family addresses")
}

fn v2_pass(priority: u8) -> FrameSpec {
    FrameSpec::multicast(v4(1), advert(Version::V2, 51, priority, vec![v4(100)]))
}

fn v3_ipv4(vrid: u8) -> FrameSpec {
    FrameSpec::multicast(v4(1), advert(Version::V3, vrid, 120, vec![v4(101)]))
}

fn v3_ipv6() -> FrameSpec {
    FrameSpec::multicast(v6(1), advert(Version::V3, 53, 110, vec![v6(0x100)]))
}

fn password(text: &str) -> [u8; 8] {
    match Auth::pass(text) {
        Auth::Pass(data) => data,
        _ => unreachable!("Auth::pass builds Pass"),
    }
}

/// The instances the table runs against.
fn configured_lab() -> Lab {
    let mut lab = Lab::new(false);
    let base = InstanceConfig {
        min_ttl: 0,
        max_ttl: 255,
        ..InstanceConfig::default()
    };
    lab.configure(
        FAMILY_IPV4,
        51,
        InstanceConfig {
            version: 2,
            auth_type: AUTH_PASS,
            auth_pass: password("secret"),
            advert_interval_cs: 100,
            ..base
        },
    );
    lab.configure(
        FAMILY_IPV4,
        52,
        InstanceConfig {
            version: 3,
            advert_interval_cs: 10,
            ..base
        },
    );
    lab.configure(
        FAMILY_IPV6,
        53,
        InstanceConfig {
            version: 3,
            advert_interval_cs: 10,
            ..base
        },
    );
    lab.configure(
        FAMILY_IPV4,
        54,
        InstanceConfig {
            version: 3,
            flags: CONFIG_V3_CHECKSUM_AS_V2,
            advert_interval_cs: 10,
            ..base
        },
    );
    lab.configure(
        FAMILY_IPV4,
        55,
        InstanceConfig {
            version: 3,
            flags: CONFIG_UNICAST,
            min_ttl: 10,
            max_ttl: 64,
            advert_interval_cs: 10,
            ..base
        },
    );
    lab
}

/// Offset of the VRRP message in an untagged IPv4 frame without options.
const VRRP_V4: usize = 14 + 20;

/// One row: a frame, the verdict, and the single counter it must bump (if any), checked on the
/// interface and, for adverts of a configured instance, on that instance.
struct Case {
    name: &'static str,
    frame: Vec<u8>,
    verdict: u32,
    counter: Option<RxErrorKind>,
    instance: Option<(u8, u8)>,
}

fn corrupt(spec: FrameSpec, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut bytes = frame(&spec);
    edit(&mut bytes);
    bytes
}

fn table() -> Vec<Case> {
    let mut cases = vec![
        Case {
            name: "valid v2 PASS",
            frame: frame(&v2_pass(150)),
            verdict: XDP_PASS,
            counter: None,
            instance: Some((FAMILY_IPV4, 51)),
        },
        Case {
            name: "valid v3 IPv4",
            frame: frame(&v3_ipv4(52)),
            verdict: XDP_PASS,
            counter: None,
            instance: Some((FAMILY_IPV4, 52)),
        },
        Case {
            name: "valid v3 IPv6",
            frame: frame(&v3_ipv6()),
            verdict: XDP_PASS,
            counter: None,
            instance: Some((FAMILY_IPV6, 53)),
        },
        Case {
            name: "802.1Q tag",
            frame: frame(&FrameSpec {
                vlan_ids: vec![10],
                ..v3_ipv4(52)
            }),
            verdict: XDP_PASS,
            counter: None,
            instance: Some((FAMILY_IPV4, 52)),
        },
        Case {
            name: "two VLAN tags",
            frame: frame(&FrameSpec {
                vlan_ids: vec![10, 20],
                ..v3_ipv4(52)
            }),
            verdict: XDP_PASS,
            counter: None,
            instance: Some((FAMILY_IPV4, 52)),
        },
        Case {
            name: "IPv4 options (IHL 8)",
            frame: frame(&FrameSpec {
                ipv4_options_len: 12,
                ..v2_pass(150)
            }),
            verdict: XDP_PASS,
            counter: None,
            instance: Some((FAMILY_IPV4, 51)),
        },
        Case {
            name: "v3_checksum_as_v2 instance",
            frame: frame(&FrameSpec {
                checksum: ChecksumMode::AsV2,
                ..v3_ipv4(54)
            }),
            verdict: XDP_PASS,
            counter: None,
            instance: Some((FAMILY_IPV4, 54)),
        },
        Case {
            name: "unicast advert inside the TTL window",
            frame: frame(&FrameSpec {
                dst: v4(2),
                ttl: 32,
                ..v3_ipv4(55)
            }),
            verdict: XDP_PASS,
            counter: None,
            instance: Some((FAMILY_IPV4, 55)),
        },
    ];
    let drops = [
        (
            "multicast TTL 64",
            frame(&FrameSpec {
                ttl: 64,
                ..v2_pass(150)
            }),
            ERR_TTL,
            Some((FAMILY_IPV4, 51)),
        ),
        (
            "IPv6 hop limit 1",
            frame(&FrameSpec {
                ttl: 1,
                ..v3_ipv6()
            }),
            ERR_TTL,
            Some((FAMILY_IPV6, 53)),
        ),
        (
            "unicast TTL above max_ttl",
            frame(&FrameSpec {
                dst: v4(2),
                ttl: 100,
                ..v3_ipv4(55)
            }),
            ERR_TTL,
            Some((FAMILY_IPV4, 55)),
        ),
        (
            "bad checksum",
            corrupt(v2_pass(150), |f| f[VRRP_V4 + 7] ^= 0x55),
            ERR_CHECKSUM,
            Some((FAMILY_IPV4, 51)),
        ),
        (
            "v3 IPv4 checksum without pseudo-header on an RFC instance",
            frame(&FrameSpec {
                checksum: ChecksumMode::AsV2,
                ..v3_ipv4(52)
            }),
            ERR_CHECKSUM,
            Some((FAMILY_IPV4, 52)),
        ),
        (
            "v3 advert for a v2 instance",
            frame(&FrameSpec::multicast(
                v4(1),
                advert(Version::V3, 51, 150, vec![v4(100)]),
            )),
            ERR_VERSION,
            Some((FAMILY_IPV4, 51)),
        ),
        (
            "version 4",
            corrupt(v3_ipv4(52), |f| f[VRRP_V4] = 0x41),
            ERR_VERSION,
            Some((FAMILY_IPV4, 52)),
        ),
        (
            "type 2",
            corrupt(v3_ipv4(52), |f| f[VRRP_V4] = 0x32),
            ERR_INVALID_TYPE,
            Some((FAMILY_IPV4, 52)),
        ),
        (
            "truncated after the header",
            corrupt(v2_pass(150), |f| f.truncate(VRRP_V4 + 10)),
            ERR_LENGTH,
            Some((FAMILY_IPV4, 51)),
        ),
        (
            "shorter than its address count",
            corrupt(v3_ipv4(52), |f| f[VRRP_V4 + 3] = 5),
            ERR_LENGTH,
            Some((FAMILY_IPV4, 52)),
        ),
        (
            "shorter than a VRRP header",
            corrupt(v3_ipv4(52), |f| f.truncate(VRRP_V4 + 4)),
            ERR_LENGTH,
            None,
        ),
        (
            "wrong password",
            frame(&FrameSpec::multicast(
                v4(1),
                Advert {
                    auth: Auth::pass("guess"),
                    ..advert(Version::V2, 51, 150, vec![v4(100)])
                },
            )),
            ERR_AUTH_FAILURE,
            Some((FAMILY_IPV4, 51)),
        ),
        (
            "no authentication on a PASS instance",
            frame(&FrameSpec::multicast(
                v4(1),
                Advert {
                    auth: Auth::None,
                    ..advert(Version::V2, 51, 150, vec![v4(100)])
                },
            )),
            ERR_AUTH_TYPE_MISMATCH,
            Some((FAMILY_IPV4, 51)),
        ),
        (
            "auth type 9",
            corrupt(v2_pass(150), |f| f[VRRP_V4 + 4] = 9),
            ERR_AUTH_INVALID_TYPE,
            Some((FAMILY_IPV4, 51)),
        ),
        (
            "v2 interval 3 s on a 1 s instance",
            frame(&FrameSpec::multicast(
                v4(1),
                Advert {
                    interval: Duration::from_secs(3),
                    ..advert(Version::V2, 51, 150, vec![v4(100)])
                },
            )),
            ERR_ADVERT_INTERVAL,
            Some((FAMILY_IPV4, 51)),
        ),
        (
            "multicast advert on a unicast instance",
            frame(&v3_ipv4(55)),
            ERR_MODE_MISMATCH,
            Some((FAMILY_IPV4, 55)),
        ),
        (
            "unicast advert on a multicast instance",
            frame(&FrameSpec {
                dst: v4(2),
                ..v3_ipv4(52)
            }),
            ERR_MODE_MISMATCH,
            Some((FAMILY_IPV4, 52)),
        ),
        ("unknown VRID", frame(&v3_ipv4(99)), ERR_UNKNOWN_VRID, None),
        (
            "unknown VRID for IPv6",
            frame(&FrameSpec::multicast(
                v6(1),
                advert(Version::V3, 52, 110, vec![v6(1)]),
            )),
            ERR_UNKNOWN_VRID,
            None,
        ),
    ];
    for (name, frame, kind, instance) in drops {
        cases.push(Case {
            name,
            frame,
            verdict: XDP_DROP,
            counter: Some(kind),
            instance,
        });
    }
    cases
}

fn expected_delta(before: &RxErrors, kind: Option<RxErrorKind>) -> RxErrors {
    let mut after = *before;
    if let Some(kind) = kind {
        after.count(kind);
    }
    after
}

#[test]
fn each_frame_gets_its_verdict_and_exactly_its_counter() {
    let lab = configured_lab();
    for case in table() {
        let iface_before = lab.iface_errors();
        let instance_before = case.instance.map(|(family, vrid)| lab.state(family, vrid));
        let verdict = lab.run(&case.frame);
        assert_eq!(verdict, case.verdict, "{}: verdict", case.name);
        assert_eq!(
            lab.iface_errors(),
            expected_delta(&iface_before, case.counter),
            "{}: interface counters",
            case.name
        );
        if let (Some((family, vrid)), Some(before)) = (case.instance, instance_before) {
            let after = lab.state(family, vrid);
            assert_eq!(
                after.errors,
                expected_delta(&before.errors, case.counter),
                "{}: instance counters",
                case.name
            );
            let expected_received = before.received + u64::from(case.counter.is_none());
            assert_eq!(after.received, expected_received, "{}: received", case.name);
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
    assert_eq!(lab.iface_errors(), RxErrors::default());
    assert!(
        lab.dp().states().is_empty(),
        "nothing recorded for non-VRRP traffic"
    );
}

#[test]
fn ipv6_extension_headers_pass_and_are_counted() {
    let lab = configured_lab();
    let mut bytes = frame(&v3_ipv6());
    bytes[14 + 6] = 0; // next header: hop-by-hop options
    assert_eq!(lab.run(&bytes), XDP_PASS);
    assert_eq!(lab.iface_errors().ipv6_ext_header_passed, 1);
}

#[test]
fn state_records_the_master_and_events_carry_only_changes() {
    let mut lab = configured_lab();
    assert_eq!(lab.run(&frame(&v2_pass(150))), XDP_PASS);
    let state = lab.state(FAMILY_IPV4, 51);
    assert_eq!(state.received, 1);
    assert_eq!(state.master_priority, 150);
    assert_eq!(state.version, 2);
    assert_eq!(state.advert_interval_cs, 100);
    assert_eq!(state.addr_count, 1);
    assert_eq!(&state.master_addr[..4], &[192, 0, 2, 1]);
    assert_ne!(state.last_seen_ns, 0);
    let events = lab.drain_events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].kinds, EVENT_NEW_MASTER | EVENT_AFTER_SILENCE);
    assert_eq!(events[0].priority, 150);

    // Steady state: the same master again costs userspace nothing.
    for _ in 0..10 {
        assert_eq!(lab.run(&frame(&v2_pass(150))), XDP_PASS);
    }
    assert!(
        lab.drain_events().is_empty(),
        "steady adverts must not raise events"
    );
    assert_eq!(lab.state(FAMILY_IPV4, 51).received, 11);

    assert_eq!(lab.run(&frame(&v2_pass(200))), XDP_PASS);
    let events = lab.drain_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kinds, EVENT_PRIORITY_CHANGE);
    assert_eq!(
        (events[0].previous_priority, events[0].priority),
        (150, 200)
    );

    let other_master = FrameSpec::multicast(v4(7), advert(Version::V2, 51, 200, vec![v4(100)]));
    assert_eq!(lab.run(&frame(&other_master)), XDP_PASS);
    let events = lab.drain_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kinds, EVENT_NEW_MASTER);
    assert_eq!(&events[0].master_addr[..4], &[192, 0, 2, 7]);

    // RFC 5798 section 6.4.2: priority 0, the master is leaving.
    let leaving = FrameSpec::multicast(v4(7), advert(Version::V2, 51, 0, vec![v4(100)]));
    assert_eq!(lab.run(&frame(&leaving)), XDP_PASS);
    let events = lab.drain_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kinds, EVENT_PRIORITY_ZERO | EVENT_PRIORITY_CHANGE);
    assert_eq!(lab.state(FAMILY_IPV4, 51).priority_zero_received, 1);

    // v3 adopts the master's interval: a change is an event.
    assert_eq!(lab.run(&frame(&v3_ipv4(52))), XDP_PASS);
    lab.drain_events();
    let slower = FrameSpec::multicast(
        v4(1),
        Advert {
            interval: Duration::from_millis(250),
            ..advert(Version::V3, 52, 120, vec![v4(101)])
        },
    );
    assert_eq!(lab.run(&frame(&slower)), XDP_PASS);
    let events = lab.drain_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kinds, EVENT_INTERVAL_CHANGE);
    assert_eq!(events[0].advert_interval_cs, 25);
}

#[test]
fn observe_mode_records_every_vrid_and_drops_nothing() {
    let lab = Lab::new(true);
    for vrid in [1u8, 77, 255] {
        assert_eq!(lab.run(&frame(&v3_ipv4(vrid))), XDP_PASS);
        assert_eq!(lab.state(FAMILY_IPV4, vrid).received, 1, "VRID {vrid}");
    }
    assert_eq!(lab.run(&frame(&v3_ipv6())), XDP_PASS);
    assert_eq!(lab.state(FAMILY_IPV6, 53).master_priority, 110);
    // Any password and interval pass; a v3 IPv4 checksum in either form passes.
    assert_eq!(lab.run(&frame(&v2_pass(150))), XDP_PASS);
    assert_eq!(
        lab.run(&frame(&FrameSpec {
            checksum: ChecksumMode::AsV2,
            ..v3_ipv4(52)
        })),
        XDP_PASS
    );
    assert_eq!(lab.state(FAMILY_IPV4, 52).errors, RxErrors::default());
    // Invalid adverts are counted but still passed on.
    assert_eq!(
        lab.run(&corrupt(v2_pass(150), |f| f[VRRP_V4 + 7] ^= 0x55)),
        XDP_PASS
    );
    assert_eq!(lab.state(FAMILY_IPV4, 51).errors.checksum, 1);
    assert_eq!(lab.iface_errors().checksum, 1);
}
