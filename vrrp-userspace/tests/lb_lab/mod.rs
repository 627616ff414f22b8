//! The load balancer under BPF_PROG_TEST_RUN: a director built from a keepalived.conf
//! snippet (the daemon's own code), next hops set by hand, and frames built from scratch
//! (with checksums computed whole, so an incremental update that is off shows).

#![allow(dead_code)]

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use xvrrpd::config;
use xvrrpd::daemon::lvs::director::{Director, NextHop, Reloaded};
use xvrrpd::dataplane::lb::{LbOptions, LbTestRun, LoadBalancer, test_run_frame};
use xvrrpd::lvs::settings::lvs_config;

pub const XDP_PASS: u32 = 2;
pub const XDP_TX: u32 = 3;
pub const XDP_REDIRECT: u32 = 4;
pub const XDP_DROP: u32 = 1;

/// The ingress interface of every test run: lo exists in every namespace.
pub const INGRESS: u32 = 1;
pub const DIRECTOR_MAC: [u8; 6] = [0x02, 0xd1, 0, 0, 0, 1];
pub const CLIENT_MAC: [u8; 6] = [0x02, 0xc1, 0, 0, 0, 1];

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The MAC the test gives real server `addr` (its last byte).
pub fn server_mac(addr: IpAddr) -> [u8; 6] {
    let last = match addr {
        IpAddr::V4(a) => a.octets()[3],
        IpAddr::V6(a) => a.octets()[15],
    };
    [0x02, 0x5e, 0, 0, 0, last]
}

pub struct Lab {
    pub director: Director,
    dir: std::path::PathBuf,
    /// `/sys/fs/bpf/xvrrpd-test-lb-<pid>-<n>`, removed on drop.
    pin_root: std::path::PathBuf,
}

impl Lab {
    /// A director for `conf` (virtual_server blocks), every VIP held, every server resolved
    /// on the ingress interface (XDP_TX) with [`server_mac`].
    pub fn new(conf: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("xvrrpd-lb-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("keepalived.conf");
        std::fs::write(&file, conf).unwrap();
        let loaded = config::load_file(
            &file,
            &config::LoadOptions {
                config_id: "test".into(),
                all_config: false,
            },
        );
        let lvs = lvs_config(&loaded.config);
        assert!(
            !lvs.services.is_empty(),
            "no service in {conf}: {:?}",
            lvs.warnings
        );
        let pins = std::path::PathBuf::from(format!(
            "/sys/fs/bpf/xvrrpd-test-lb-{}-{n}/lb",
            std::process::id()
        ));
        let lb = LoadBalancer::load(&LbOptions {
            pin_dir: pins.clone(),
            nat: lvs.uses_nat(),
        })
        .expect("load the load balancer (root?)");
        let (director, _) = Director::new(lb, &lvs).unwrap();
        let mut lab = Self {
            director,
            dir,
            pin_root: pins.parent().expect("lb under the pin root").to_owned(),
        };
        lab.hold_and_resolve();
        lab
    }

    /// The director reloaded with `conf` ([`Director::reload`]); new VIPs held and new
    /// servers resolved as in [`Lab::new`].
    pub fn reload(&mut self, conf: &str) -> Reloaded {
        let file = self.dir.join("keepalived.conf");
        std::fs::write(&file, conf).unwrap();
        let loaded = config::load_file(
            &file,
            &config::LoadOptions {
                config_id: "test".into(),
                all_config: false,
            },
        );
        let reloaded = self.director.reload(&lvs_config(&loaded.config)).unwrap();
        self.hold_and_resolve();
        reloaded
    }

    fn hold_and_resolve(&mut self) {
        let director = &mut self.director;
        for vip in director.vips() {
            director.set_held(vip, true).unwrap();
        }
        for addr in director.server_addresses() {
            director
                .set_next_hop(
                    addr,
                    Some(NextHop {
                        ifindex: INGRESS,
                        mac: server_mac(addr),
                        src_mac: DIRECTOR_MAC,
                        src: if addr.is_ipv4() {
                            "203.0.113.1".parse().unwrap()
                        } else {
                            "2001:db8:ffff::1".parse().unwrap()
                        },
                        mtu: 1500,
                    }),
                )
                .unwrap();
        }
    }

    pub fn run(&self, frame: &[u8]) -> LbTestRun {
        test_run_frame(self.director.load_balancer().program(), frame, INGRESS, 1).unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        // The pins hold the maps (over 100 MB of kernel memory per lab): without this, every
        // run of the suite left them behind until the machine ran out of memory.
        let _ = std::fs::remove_dir_all(&self.pin_root);
    }
}

pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32)
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn addr_bytes(addr: IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// TCP (flags) or UDP (`tcp_flags: None`) segment with its checksum over the pseudo-header.
pub fn transport(
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    tcp_flags: Option<u8>,
    payload: &[u8],
) -> Vec<u8> {
    let mut segment = Vec::new();
    segment.extend(sport.to_be_bytes());
    segment.extend(dport.to_be_bytes());
    let proto = match tcp_flags {
        Some(flags) => {
            segment.extend(1000u32.to_be_bytes());
            segment.extend(if flags & 0x10 != 0 { 1u32 } else { 0 }.to_be_bytes());
            segment.extend([0x50, flags]);
            segment.extend(64240u16.to_be_bytes());
            segment.extend([0, 0, 0, 0]);
            6u8
        }
        None => {
            segment.extend(((8 + payload.len()) as u16).to_be_bytes());
            segment.extend([0, 0]);
            17u8
        }
    };
    segment.extend(payload);
    let mut pseudo = addr_bytes(src);
    pseudo.extend(addr_bytes(dst));
    if src.is_ipv4() {
        pseudo.extend([0, proto]);
        pseudo.extend((segment.len() as u16).to_be_bytes());
    } else {
        pseudo.extend((segment.len() as u32).to_be_bytes());
        pseudo.extend([0, 0, 0, proto]);
    }
    pseudo.extend(&segment);
    let mut sum = checksum(&pseudo);
    if proto == 17 && sum == 0 {
        sum = 0xffff;
    }
    let at = if proto == 6 { 16 } else { 6 };
    segment[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    segment
}

/// An IP packet around `payload` (TTL 64, DF, DSCP 0x28).
pub fn ip(src: IpAddr, dst: IpAddr, proto: u8, payload: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut header = vec![0x45, 0x28];
            header.extend(((20 + payload.len()) as u16).to_be_bytes());
            header.extend([0x12, 0x34, 0x40, 0x00, 64, proto, 0, 0]);
            header.extend(s.octets());
            header.extend(d.octets());
            let sum = checksum(&header);
            header[10..12].copy_from_slice(&sum.to_be_bytes());
            header.extend(payload);
            header
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut header = vec![0x62, 0x80, 0, 0];
            header.extend((payload.len() as u16).to_be_bytes());
            header.extend([proto, 64]);
            header.extend(s.octets());
            header.extend(d.octets());
            header.extend(payload);
            header
        }
        _ => panic!("mixed families"),
    }
}

pub fn eth(dst: [u8; 6], src: [u8; 6], ipv6: bool, packet: &[u8]) -> Vec<u8> {
    let mut frame = dst.to_vec();
    frame.extend(src);
    frame.extend(if ipv6 { [0x86, 0xdd] } else { [0x08, 0x00] });
    frame.extend(packet);
    frame
}

/// A client's frame to the director.
pub fn client_frame(
    client: IpAddr,
    vip: IpAddr,
    sport: u16,
    dport: u16,
    tcp_flags: Option<u8>,
) -> Vec<u8> {
    let segment = transport(
        client,
        vip,
        sport,
        dport,
        tcp_flags,
        b"GET / HTTP/1.0\r\n\r\n",
    );
    let proto = if tcp_flags.is_some() { 6 } else { 17 };
    eth(
        DIRECTOR_MAC,
        CLIENT_MAC,
        client.is_ipv6(),
        &ip(client, vip, proto, &segment),
    )
}

/// The destination MAC of a frame the program sent.
pub fn dst_mac(frame: &[u8]) -> [u8; 6] {
    frame[..6].try_into().unwrap()
}

/// A classic pcap (Ethernet) of `frames`.
pub fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut file = Vec::new();
    file.extend(0xa1b2_c3d4_u32.to_le_bytes());
    file.extend(2u16.to_le_bytes());
    file.extend(4u16.to_le_bytes());
    file.extend([0; 8]);
    file.extend(65535u32.to_le_bytes());
    file.extend(1u32.to_le_bytes());
    for (i, frame) in frames.iter().enumerate() {
        file.extend((i as u32).to_le_bytes());
        file.extend(0u32.to_le_bytes());
        file.extend((frame.len() as u32).to_le_bytes());
        file.extend((frame.len() as u32).to_le_bytes());
        file.extend(frame);
    }
    file
}
