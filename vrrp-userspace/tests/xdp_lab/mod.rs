//! Shared by the BPF_PROG_TEST_RUN tests: a loaded program with its own pin directory, frame
//! builders and the instances the tables run against. Needs root.

#![allow(dead_code, reason = "each test binary uses its own part of the lab")]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aya::maps::{MapData, RingBuf};
use vrrp_common::proto::AUTH_PASS;
use vrrp_common::*;
use xvrrpd::dataplane::{Dataplane, LoadOptions, Mode, parse_event, test_run};
use xvrrpd::protocol::{
    Advert, Auth, ChecksumMode, FrameSpec, Priority, Version, Vrid, build_frame, checksum,
};

pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;
/// Test runs happen "on" loopback, which exists in every namespace.
pub const IFINDEX: u32 = 1;
/// The MAC the lab gives loopback in `vrrp_ifaces`.
pub const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// Offset of the VRRP message in an untagged IPv4 frame without options.
pub const VRRP_V4: usize = 14 + 20;

static LABS: AtomicU32 = AtomicU32::new(0);

/// A loaded program with its own pin directory, shut down on drop.
pub struct Lab {
    dataplane: Option<Dataplane>,
    events: RingBuf<MapData>,
}

impl Lab {
    pub fn new(mode: Mode) -> Self {
        Self::load(mode, false)
    }

    /// An enforcing lab whose backups run master-down timers in the kernel.
    pub fn with_timers() -> Self {
        let lab = Self::load(Mode::Enforce, true);
        assert_eq!(
            lab.dp().kernel_timers(),
            &xvrrpd::dataplane::KernelTimers::On,
            "this kernel runs bpf_timer"
        );
        lab
    }

    fn load(mode: Mode, kernel_timers: bool) -> Self {
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        let pin_dir = PathBuf::from(format!(
            "/sys/fs/bpf/xvrrpd-verdicts-{}-{n}",
            std::process::id()
        ));
        let mut dataplane = Dataplane::load(&LoadOptions {
            mode,
            pin_dir,
            foreign_pass: false,
            kernel_timers,
        })
        .expect("load the XDP program (root?)");
        let events = dataplane.take_events().expect("ring buffer");
        Self {
            dataplane: Some(dataplane),
            events,
        }
    }

    pub fn dp(&self) -> &Dataplane {
        self.dataplane.as_ref().expect("alive until drop")
    }

    pub fn dp_mut(&mut self) -> &mut Dataplane {
        self.dataplane.as_mut().expect("alive until drop")
    }

    pub fn run(&self, frame: &[u8]) -> u32 {
        test_run(self.dp().program(), frame, IFINDEX, 1)
            .expect("BPF_PROG_TEST_RUN")
            .verdict
    }

    pub fn state(&self, key: &InstanceKey) -> InstanceState {
        self.dp().state(key).expect("state map").unwrap_or_default()
    }

    pub fn counters(&self, key: &InstanceKey) -> RxCounters {
        self.dp().counters(key)
    }

    pub fn drops(&self) -> IfaceDrops {
        self.dp().iface_drops(IFINDEX)
    }

    pub fn drain_events(&mut self) -> Vec<VrrpEvent> {
        let mut events = Vec::new();
        while let Some(item) = self.events.next() {
            events.extend(parse_event(&item));
        }
        events
    }

    pub fn set_iface_flags(&mut self, flags: u8) {
        self.dp_mut()
            .set_iface_config(
                IFINDEX,
                &IfaceConfig {
                    mac: OUR_MAC,
                    flags,
                    _pad: 0,
                },
            )
            .expect("iface map");
    }

    pub fn policy(&mut self, key: &InstanceKey, state: u8, priority: u8, flags: u8) {
        self.dp_mut()
            .set_policy(
                key,
                &ReceivePolicy {
                    state,
                    priority,
                    flags,
                    local_addr: bytes(v4(2)),
                    ..ReceivePolicy::default()
                },
            )
            .expect("policy map");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(dataplane) = self.dataplane.take() {
            dataplane.shutdown();
        }
    }
}

pub fn v4(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

pub fn v6(last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, last))
}

pub fn bytes(addr: IpAddr) -> [u8; 16] {
    xvrrpd::protocol::Family::map_bytes(&addr)
}

pub const GROUP4: [u8; 4] = [224, 0, 0, 18];

pub fn group4() -> IpAddr {
    IpAddr::from(GROUP4)
}

pub fn group6() -> IpAddr {
    IpAddr::from(proto::MCAST_GROUP_V6)
}

/// An instance key on loopback.
pub fn key(vrid: u8, dst: IpAddr) -> InstanceKey {
    let family = if dst.is_ipv4() {
        FAMILY_IPV4
    } else {
        FAMILY_IPV6
    };
    InstanceKey::new(IFINDEX, family, vrid, bytes(dst))
}

pub fn advert(version: Version, vrid: u8, priority: u8, addresses: Vec<IpAddr>) -> Advert {
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

pub fn frame(spec: &FrameSpec) -> Vec<u8> {
    build_frame(spec).expect("same-family addresses")
}

pub fn corrupt(spec: FrameSpec, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut bytes = frame(&spec);
    edit(&mut bytes);
    bytes
}

/// Recomputes the IPv4 header checksum of an untagged frame after an edit.
pub fn fix_ip_checksum(frame: &mut [u8]) {
    let header_len = (frame[14] & 0x0f) as usize * 4;
    frame[24..26].fill(0);
    let sum = checksum::compute(&frame[14..14 + header_len], 0);
    frame[24..26].copy_from_slice(&sum.to_be_bytes());
}

/// v2, PASS "secret", VRID 51, 1 s, VIP 192.0.2.100.
pub fn v2_pass(priority: u8) -> FrameSpec {
    FrameSpec::multicast(v4(1), advert(Version::V2, 51, priority, vec![v4(100)]))
}

/// v3 over IPv4 to 224.0.0.18, VIP 192.0.2.101.
pub fn v3_ipv4(vrid: u8) -> FrameSpec {
    FrameSpec::multicast(v4(1), advert(Version::V3, vrid, 120, vec![v4(101)]))
}

/// v3 over IPv6 to ff02::12, VRID 53, VIP fe80::100.
pub fn v3_ipv6() -> FrameSpec {
    FrameSpec::multicast(v6(1), advert(Version::V3, 53, 110, vec![v6(0x100)]))
}

/// A v3 IPv4 advert unicast to `dst` from `src`.
pub fn unicast(vrid: u8, src: IpAddr, dst: IpAddr, ttl: u8, vip: IpAddr) -> FrameSpec {
    FrameSpec {
        dst,
        ttl,
        dst_mac: Some(OUR_MAC),
        ..FrameSpec::multicast(src, advert(Version::V3, vrid, 120, vec![vip]))
    }
}

/// A unicast v3 advert whose checksum uses the multicast group, as keepalived up to 1.3.6
/// (and `old_unicast_checksum`) computes it.
pub fn old_unicast_checksum(vrid: u8, src: IpAddr, dst: IpAddr, vip: IpAddr) -> Vec<u8> {
    let mut bytes = frame(&FrameSpec {
        dst: group4(),
        ..unicast(vrid, src, dst, 255, vip)
    });
    if let IpAddr::V4(dst) = dst {
        bytes[30..34].copy_from_slice(&dst.octets());
    }
    fix_ip_checksum(&mut bytes);
    bytes
}

pub fn password(text: &str) -> [u8; 8] {
    match Auth::pass(text) {
        Auth::Pass(data) => data,
        _ => unreachable!("Auth::pass builds Pass"),
    }
}

fn config(version: u8, flags: u16, interval_cs: u16) -> InstanceConfig {
    InstanceConfig {
        version,
        flags,
        vip_count: 1,
        max_ttl: 255,
        advert_interval_cs: interval_cs,
        mcast_group4: GROUP4,
        ..InstanceConfig::default()
    }
}

/// Installs one instance: its config entry (any source) and its single VIP.
pub fn install(lab: &mut Lab, key: InstanceKey, config: InstanceConfig, vip: IpAddr) {
    let dp = lab.dp_mut();
    dp.insert_config(&RxKey::any_source(key), &config)
        .expect("config map");
    dp.set_vips(&key, &[vip]).expect("vip map");
}

/// The instances the tables run against, on loopback with [`OUR_MAC`]:
/// - 51 v2 PASS "secret" 1 s, 52 v3, 54 v3 `v3_checksum_as_v2`: 224.0.0.18
/// - 53 v3 IPv6 ff02::12
/// - 52 again on group 224.0.0.19 (VIP .152) and unicast to 192.0.2.2 (VIP .153)
/// - 55 unicast to 192.0.2.2 with `check_unicast_src`, peer 192.0.2.1 (TTL 10..=64)
/// - 56 unicast to 192.0.2.2 without the check (keepalived's automatic old checksum)
pub fn configured_lab() -> Lab {
    configure(Lab::new(Mode::Enforce))
}

/// [`configured_lab`] with master-down timers in the kernel.
pub fn configured_lab_with_timers() -> Lab {
    configure(Lab::with_timers())
}

fn configure(mut lab: Lab) -> Lab {
    lab.set_iface_flags(0);
    let pass = InstanceConfig {
        auth_type: AUTH_PASS,
        auth_pass: password("secret"),
        ..config(2, 0, 100)
    };
    install(&mut lab, key(51, group4()), pass, v4(100));
    install(&mut lab, key(52, group4()), config(3, 0, 10), v4(101));
    install(&mut lab, key(53, group6()), config(3, 0, 10), v6(0x100));
    install(
        &mut lab,
        key(54, group4()),
        config(3, CONFIG_V3_CHECKSUM_AS_V2, 10),
        v4(101),
    );
    let group19 = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 19));
    install(&mut lab, key(52, group19), config(3, 0, 10), v4(152));
    let unicast_auto = config(3, CONFIG_UNICAST | CONFIG_UNICAST_CHECKSUM_AUTO, 10);
    install(&mut lab, key(52, v4(2)), unicast_auto, v4(153));
    install(&mut lab, key(56, v4(2)), unicast_auto, v4(101));
    // check_unicast_src: the peer's own entry with its TTL window, and the any-source entry
    // that only lets non-peers be counted before they are rejected.
    let checked = config(3, CONFIG_UNICAST | CONFIG_CHECK_UNICAST_SRC, 10);
    install(&mut lab, key(55, v4(2)), checked, v4(101));
    lab.dp_mut()
        .insert_config(
            &RxKey::peer(key(55, v4(2)), bytes(v4(1))),
            &InstanceConfig {
                min_ttl: 10,
                max_ttl: 64,
                ..checked
            },
        )
        .expect("config map");
    lab
}

pub fn rfc_checksum() -> ChecksumMode {
    ChecksumMode::Rfc
}
