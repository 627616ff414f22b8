//! The same crafted traffic to keepalived (Debian's 2.2.7) and to the XDP program configured
//! like it: the program's counters must equal keepalived's stats file (`kill -USR2`,
//! /tmp/keepalived.stats) line by line, because users compare them.
//!
//! The sender has two links, one to keepalived's namespace and one to the program's, and sends
//! every frame on both (unicast frames to each receiver's own address).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use netlab::{Keepalived, Netns, PacketSocket, PinDir, veth, wait_until};
use vrrp_common::proto::{AUTH_PASS, MCAST_GROUP_V4};
use vrrp_common::{
    CONFIG_CHECK_UNICAST_SRC, CONFIG_UNICAST, CONFIG_UNICAST_CHECKSUM_AUTO, FAMILY_IPV4,
    InstanceConfig, InstanceKey, POLICY_BACKUP, ReceivePolicy, RxCounters, RxKey,
};
use xvrrpd::dataplane::{Dataplane, LoadOptions, Mode};
use xvrrpd::protocol::{Advert, Auth, Family, FrameSpec, Priority, Version, Vrid, build_frame};

const KEEPALIVED: &str = r#"
global_defs {
    router_id counters
}
vrrp_instance V2_PASS {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 50
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret
    }
    virtual_ipaddress {
        192.0.2.100/24
    }
}
vrrp_instance V3 {
    state BACKUP
    interface eth0
    version 3
    virtual_router_id 52
    priority 50
    advert_int 1
    virtual_ipaddress {
        192.0.2.101/24
    }
}
vrrp_instance V3_UNICAST {
    state BACKUP
    interface eth0
    version 3
    virtual_router_id 55
    priority 50
    advert_int 1
    unicast_src_ip RECEIVER
    unicast_peer {
        192.0.2.1 min_ttl 10 max_ttl 64
    }
    check_unicast_src
    virtual_ipaddress {
        192.0.2.102/24
    }
}
"#;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

fn bytes(addr: IpAddr) -> [u8; 16] {
    Family::map_bytes(&addr)
}

const GROUP: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));

/// One kind of frame and how many times it is sent.
struct Traffic {
    vrid: u8,
    version: Version,
    src: IpAddr,
    unicast: bool,
    ttl: u8,
    priority: u8,
    auth: Auth,
    interval: Duration,
    vips: Vec<IpAddr>,
    /// Byte edits after building (offset in the frame, value), then IP length grown by this.
    edit: Option<(usize, u8)>,
    extra_len: usize,
    times: usize,
}

fn traffic() -> Vec<Traffic> {
    let v2 = |times| Traffic {
        vrid: 51,
        version: Version::V2,
        src: ip(1),
        unicast: false,
        ttl: 255,
        priority: 200,
        auth: Auth::pass("secret"),
        interval: Duration::from_secs(1),
        vips: vec![ip(100)],
        edit: None,
        extra_len: 0,
        times,
    };
    let v3 = |times| Traffic {
        vrid: 52,
        version: Version::V3,
        auth: Auth::None,
        vips: vec![ip(101)],
        ..v2(times)
    };
    let unicast = |times, src, ttl| Traffic {
        vrid: 55,
        unicast: true,
        src,
        ttl,
        vips: vec![ip(102)],
        ..v3(times)
    };
    vec![
        v2(5),
        Traffic {
            auth: Auth::pass("guess"),
            ..v2(3)
        },
        Traffic {
            auth: Auth::None,
            ..v2(2)
        },
        Traffic {
            edit: Some((14 + 20 + 4, 9)), // auth type 9
            ..v2(1)
        },
        Traffic {
            interval: Duration::from_secs(3),
            ..v2(4)
        },
        Traffic { ttl: 64, ..v2(2) },
        Traffic {
            extra_len: 4,
            ..v2(2)
        },
        Traffic {
            vips: vec![ip(99)],
            ..v2(2)
        },
        v3(5),
        Traffic {
            edit: Some((14 + 20, 0x32)), // type 2
            ..v3(1)
        },
        Traffic {
            vips: vec![ip(101), ip(103)],
            ..v3(1)
        },
        Traffic {
            edit: Some((14 + 20 + 7, 0x55)), // checksum: only SNMP counts it
            ..v3(2)
        },
        unicast(3, ip(1), 32),
        unicast(2, ip(1), 100),
        unicast(2, ip(9), 32),
        Traffic {
            priority: 0,
            ..v3(1)
        },
    ]
}

fn frame(t: &Traffic, receiver: IpAddr) -> Vec<u8> {
    let advert = Advert {
        version: t.version,
        vrid: Vrid(t.vrid),
        priority: Priority(t.priority),
        interval: t.interval,
        auth: t.auth,
        addresses: t.vips.clone(),
    };
    let spec = FrameSpec {
        dst: if t.unicast { receiver } else { GROUP },
        dst_mac: Some([0xff; 6]),
        ttl: t.ttl,
        ..FrameSpec::multicast(t.src, advert)
    };
    let mut frame = build_frame(&spec).expect("one family");
    if let Some((at, value)) = t.edit {
        frame[at] = value;
    }
    if t.extra_len > 0 {
        frame.extend(std::iter::repeat_n(0, t.extra_len));
        let len = (frame.len() - 14) as u16;
        frame[16..18].copy_from_slice(&len.to_be_bytes());
        frame[24..26].fill(0);
        let sum = xvrrpd::protocol::checksum::compute(&frame[14..34], 0);
        frame[24..26].copy_from_slice(&sum.to_be_bytes());
    }
    frame
}

/// Our side, configured as keepalived is.
fn configure(dataplane: &mut Dataplane, ifindex: u32, receiver: IpAddr) -> anyhow::Result<()> {
    let base = InstanceConfig {
        version: 3,
        vip_count: 1,
        max_ttl: 255,
        advert_interval_cs: 100,
        mcast_group4: MCAST_GROUP_V4,
        ..InstanceConfig::default()
    };
    let mut password = [0u8; 8];
    password[..6].copy_from_slice(b"secret");
    let instances = [
        (
            InstanceKey::new(ifindex, FAMILY_IPV4, 51, bytes(GROUP)),
            InstanceConfig {
                version: 2,
                auth_type: AUTH_PASS,
                auth_pass: password,
                ..base
            },
            ip(100),
        ),
        (
            InstanceKey::new(ifindex, FAMILY_IPV4, 52, bytes(GROUP)),
            base,
            ip(101),
        ),
        (
            InstanceKey::new(ifindex, FAMILY_IPV4, 55, bytes(receiver)),
            InstanceConfig {
                flags: CONFIG_UNICAST | CONFIG_CHECK_UNICAST_SRC | CONFIG_UNICAST_CHECKSUM_AUTO,
                ..base
            },
            ip(102),
        ),
    ];
    for (key, config, vip) in instances {
        dataplane.insert_config(&RxKey::any_source(key), &config)?;
        dataplane.set_vips(&key, &[vip])?;
        dataplane.set_policy(
            &key,
            &ReceivePolicy {
                state: POLICY_BACKUP,
                priority: 50,
                flags: 0,
                local_addr: bytes(receiver),
                ..ReceivePolicy::default()
            },
        )?;
        if config.flags & CONFIG_CHECK_UNICAST_SRC != 0 {
            let peer = InstanceConfig {
                min_ttl: 10,
                max_ttl: 64,
                ..config
            };
            dataplane.insert_config(&RxKey::peer(key, bytes(ip(1))), &peer)?;
        }
    }
    Ok(())
}

/// The stats file's lines per instance, named as in the file.
fn parse_stats(text: &str) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut instances = BTreeMap::new();
    let (mut name, mut section) = (String::new(), String::new());
    for line in text.lines() {
        if let Some(instance) = line.strip_prefix("VRRP Instance: ") {
            name = instance.trim().to_owned();
            continue;
        }
        let trimmed = line.trim();
        match trimmed.split_once(':') {
            Some((label, "")) => section = label.to_owned(),
            Some((label, value)) => {
                let label = if line.starts_with("    ") {
                    format!("{section}: {label}")
                } else {
                    label.to_owned()
                };
                if let Ok(value) = value.trim().parse() {
                    instances
                        .entry(name.clone())
                        .or_insert_with(BTreeMap::new)
                        .insert(label, value);
                }
            }
            None => {}
        }
    }
    instances
}

/// Our counters under the stats file's names (the receive side of it).
fn as_stats(c: &RxCounters) -> BTreeMap<String, u64> {
    [
        ("Advertisements: Received", c.received),
        ("Packet Errors: Length", c.length),
        ("Packet Errors: TTL", c.ttl),
        ("Packet Errors: Invalid Type", c.invalid_type),
        // keepalived 2.2.7 never increments advert_interval_err.
        ("Packet Errors: Advertisement Interval", 0),
        ("Packet Errors: Address List", c.address_list),
        ("Authentication Errors: Invalid Type", c.auth_invalid_type),
        ("Authentication Errors: Type Mismatch", c.auth_type_mismatch),
        ("Authentication Errors: Failure", c.auth_failure),
        ("Priority Zero: Received", c.priority_zero_received),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

#[test]
fn counters_equal_keepalived_stats_for_the_same_traffic() -> anyhow::Result<()> {
    let sender = Netns::new("kcs")?;
    let keepalived_ns = Netns::new("kck")?;
    let xdp_ns = Netns::new("kcx")?;
    veth(&sender, "k0", &keepalived_ns, "eth0")?;
    veth(&sender, "x0", &xdp_ns, "eth0")?;
    keepalived_ns.addr("eth0", "192.0.2.2/24")?;
    xdp_ns.addr("eth0", "192.0.2.3/24")?;
    sender.addr("k0", "192.0.2.1/24")?;

    let mut keepalived = Keepalived::start_private_tmp(
        &keepalived_ns,
        &KEEPALIVED.replace("RECEIVER", "192.0.2.2"),
    )?;
    let root = PinDir::new("counters");
    let pin_dir = root.path().to_owned();
    let dataplane = xdp_ns.run_in(move || -> anyhow::Result<Dataplane> {
        let mut dataplane = Dataplane::load(&LoadOptions {
            mode: Mode::Enforce,
            pin_dir,
            foreign_pass: false,
            kernel_timers: false,
        })?;
        let attached = dataplane.attach("eth0")?;
        configure(&mut dataplane, attached.ifindex, ip(3))?;
        Ok(dataplane)
    })??;
    assert!(
        wait_until(Duration::from_secs(10), || keepalived
            .log()
            .matches("Entering BACKUP STATE")
            .count()
            >= 3),
        "keepalived never reached BACKUP:\n{}",
        keepalived.log()
    );

    let to_keepalived = PacketSocket::open(&sender, "k0")?;
    let to_xdp = PacketSocket::open(&sender, "x0")?;
    for t in traffic() {
        for _ in 0..t.times {
            to_keepalived.send(&frame(&t, ip(2)))?;
            to_xdp.send(&frame(&t, ip(3)))?;
            // keepalived reads one advert per VRID per wake-up; do not outrun its socket.
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    keepalived.process().signal(libc::SIGUSR2);
    let stats_file = keepalived.stats_file();
    assert!(
        wait_until(Duration::from_secs(5), || parse_stats(
            &std::fs::read_to_string(&stats_file).unwrap_or_default()
        )
        .len()
            == 3),
        "no stats file from keepalived:\n{}",
        keepalived.log()
    );
    let stats = parse_stats(&std::fs::read_to_string(&stats_file)?);
    let ifindex = dataplane
        .states()
        .first()
        .map(|(k, _)| k.ifindex)
        .unwrap_or(0);
    for (name, vrid, dst) in [
        ("V2_PASS", 51, GROUP),
        ("V3", 52, GROUP),
        ("V3_UNICAST", 55, ip(3)),
    ] {
        let key = InstanceKey::new(ifindex, FAMILY_IPV4, vrid, bytes(dst));
        let ours = as_stats(&dataplane.counters(&key));
        let theirs: BTreeMap<String, u64> = stats[name]
            .iter()
            .filter(|(label, _)| ours.contains_key(*label))
            .map(|(label, value)| (label.clone(), *value))
            .collect();
        eprintln!("{name}: keepalived {theirs:?}");
        assert_eq!(
            ours, theirs,
            "{name}: ours (left) vs keepalived's stats file"
        );
    }
    // What the counters cannot show, keepalived's log does: the wrong address list is
    // rejected (not accepted with a warning), the v2 interval mismatch dropped uncounted.
    let log = keepalived.log();
    assert!(log.contains("not present in MASTER advert"), "{log}");
    assert!(log.contains("advertisement interval mismatch"), "{log}");
    dataplane.shutdown();
    keepalived.process().stop()?;
    Ok(())
}
