//! The XDP load balancer under BPF_PROG_TEST_RUN (issue 12): every forwarding method's frame
//! byte for byte (IPv4 and IPv6, TCP and UDP) and checked by tshark; NAT's way back; what
//! passes untouched; `mh` moving only a removed server's share over 10,000 flows; flows that
//! survive a new server; inhibit (weight 0) keeping flows; persistence; `wlc`.

mod lb_lab;

use std::net::IpAddr;

use lb_lab::*;

const TCP_SYN: u8 = 0x02;
const TCP_ACK: u8 = 0x10;

fn service(
    vip: &str,
    port: u16,
    proto: &str,
    kind: &str,
    algo: &str,
    reals: &[(&str, u16)],
) -> String {
    let mut conf = format!(
        "virtual_server {vip} {port} {{\n  lb_algo {algo}\n  lb_kind {kind}\n  protocol {proto}\n"
    );
    for (addr, rport) in reals {
        conf += &format!("  real_server {addr} {rport} {{\n    weight 1\n  }}\n");
    }
    conf + "}\n"
}

fn addr(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// What the server must receive, built from scratch.
fn expected(
    method: &str,
    client: IpAddr,
    vip: IpAddr,
    rs: IpAddr,
    rport: u16,
    tcp: bool,
) -> Vec<u8> {
    let flags = tcp.then_some(TCP_SYN);
    let proto = if tcp { 6 } else { 17 };
    let payload = b"GET / HTTP/1.0\r\n\r\n";
    match method {
        "DR" => {
            let segment = transport(client, vip, 40000, 80, flags, payload);
            eth(
                server_mac(rs),
                DIRECTOR_MAC,
                vip.is_ipv6(),
                &ip(client, vip, proto, &segment),
            )
        }
        "NAT" => {
            let segment = transport(client, rs, 40000, rport, flags, payload);
            eth(
                server_mac(rs),
                DIRECTOR_MAC,
                vip.is_ipv6(),
                &ip(client, rs, proto, &segment),
            )
        }
        "TUN" => {
            let inner = ip(
                client,
                vip,
                proto,
                &transport(client, vip, 40000, 80, flags, payload),
            );
            let outer = if rs.is_ipv4() {
                let mut header = vec![0x45, 0x28];
                header.extend(((20 + inner.len()) as u16).to_be_bytes());
                header.extend([0, 0, 0x40, 0, 64, 4, 0, 0]);
                header.extend([203, 0, 113, 1]);
                header.extend(match rs {
                    IpAddr::V4(a) => a.octets(),
                    _ => unreachable!(),
                });
                let sum = checksum(&header);
                header[10..12].copy_from_slice(&sum.to_be_bytes());
                header
            } else {
                let mut header = vec![0x62, 0x80, 0, 0];
                header.extend((inner.len() as u16).to_be_bytes());
                header.extend([41, 64]);
                header.extend(
                    "2001:db8:ffff::1"
                        .parse::<std::net::Ipv6Addr>()
                        .unwrap()
                        .octets(),
                );
                header.extend(match rs {
                    IpAddr::V6(a) => a.octets(),
                    _ => unreachable!(),
                });
                header
            };
            let mut packet = outer;
            packet.extend(inner);
            eth(server_mac(rs), DIRECTOR_MAC, rs.is_ipv6(), &packet)
        }
        _ => unreachable!(),
    }
}

#[test]
fn each_method_rewrites_the_frame_byte_for_byte_and_tshark_finds_every_checksum_valid() {
    let mut outputs = Vec::new();
    for method in ["DR", "TUN", "NAT"] {
        for (vip, client, rs) in [
            ("192.0.2.100", "198.51.100.7", "10.1.0.11"),
            ("2001:db8::100", "2001:db8:c::7", "2001:db8:1::11"),
        ] {
            for proto in ["TCP", "UDP"] {
                let rport = if method == "NAT" { 8080 } else { 80 };
                let lab = Lab::new(&service(vip, 80, proto, method, "rr", &[(rs, rport)]));
                let (vip, client, rs) = (addr(vip), addr(client), addr(rs));
                let tcp = proto == "TCP";
                let frame = client_frame(client, vip, 40000, 80, tcp.then_some(TCP_SYN));
                let run = lab.run(&frame);
                let want = expected(method, client, vip, rs, rport, tcp);
                assert_eq!(run.verdict, XDP_TX, "{method} {vip} {proto}");
                assert_eq!(
                    run.frame, want,
                    "{method} {vip} {proto}: the rewritten frame differs"
                );
                outputs.push(run.frame.clone());
                // The flow's next packet goes the same way.
                let again = lab.run(&client_frame(
                    client,
                    vip,
                    40000,
                    80,
                    tcp.then_some(TCP_ACK),
                ));
                assert_eq!(again.verdict, XDP_TX);
                assert_eq!(dst_mac(&again.frame), server_mac(rs));
                if method == "NAT" {
                    // The server's answer leaves with the virtual address, to the client's hop.
                    let flags = tcp.then_some(TCP_SYN | TCP_ACK);
                    let segment =
                        transport(rs, client, rport, 40000, flags, b"HTTP/1.0 200 OK\r\n");
                    let proto_number = if tcp { 6 } else { 17 };
                    let reply = eth(
                        DIRECTOR_MAC,
                        server_mac(rs),
                        vip.is_ipv6(),
                        &ip(rs, client, proto_number, &segment),
                    );
                    let back = lab.run(&reply);
                    let segment = transport(vip, client, 80, 40000, flags, b"HTTP/1.0 200 OK\r\n");
                    let want = eth(
                        CLIENT_MAC,
                        DIRECTOR_MAC,
                        vip.is_ipv6(),
                        &ip(vip, client, proto_number, &segment),
                    );
                    assert_eq!(back.verdict, XDP_TX, "NAT reply {vip} {proto}");
                    assert_eq!(back.frame, want, "NAT reply {vip} {proto}");
                    outputs.push(back.frame);
                }
            }
        }
    }
    // tshark validates every IP, TCP and UDP checksum (inner and outer for tunnels).
    let dir = std::env::temp_dir().join(format!("xvrrpd-lb-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("forwarded.pcap");
    std::fs::write(&path, pcap(&outputs)).unwrap();
    let output = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args([
            "-n",
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "frame.number",
            "-e",
            "ip.checksum.status",
            "-e",
            "tcp.checksum.status",
            "-e",
            "udp.checksum.status",
            "-e",
            "_ws.malformed",
        ])
        .output()
        .expect("tshark");
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        outputs.len(),
        "tshark read every frame:\n{text}"
    );
    for line in lines {
        let fields: Vec<&str> = line.split('|').collect();
        assert!(fields[4].is_empty(), "malformed: {line}");
        let statuses: Vec<&str> = fields[1..4]
            .iter()
            .flat_map(|f| f.split(','))
            .filter(|s| !s.is_empty())
            .collect();
        assert!(!statuses.is_empty(), "no checksum verified: {line}");
        assert!(
            statuses.iter().all(|s| *s == "1"),
            "a checksum is not good: {line}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn frames_without_a_service_or_not_held_pass_untouched() {
    let mut lab = Lab::new(&service(
        "192.0.2.100",
        80,
        "TCP",
        "DR",
        "rr",
        &[("10.1.0.11", 80)],
    ));
    let (vip, client) = (addr("192.0.2.100"), addr("198.51.100.7"));
    for frame in [
        client_frame(client, vip, 40000, 443, Some(TCP_SYN)),
        client_frame(client, vip, 40000, 80, None),
        client_frame(client, addr("192.0.2.101"), 40000, 80, Some(TCP_SYN)),
    ] {
        let run = lab.run(&frame);
        assert_eq!((run.verdict, &run.frame), (XDP_PASS, &frame));
    }
    lab.director.set_held(vip, false).unwrap();
    let frame = client_frame(client, vip, 40000, 80, Some(TCP_SYN));
    let run = lab.run(&frame);
    assert_eq!(
        (run.verdict, &run.frame),
        (XDP_PASS, &frame),
        "not held: to the stack"
    );
    let stats = lab.director.load_balancer().maps_ref().global_stats();
    assert_eq!((stats.no_service, stats.not_held), (2, 1));
}

fn flows_to(lab: &Lab, vip: IpAddr, n: u32, sport: u16, flags: u8) -> Vec<[u8; 6]> {
    (0..n)
        .map(|i| {
            let client = IpAddr::from([100, 64 + (i >> 16) as u8, (i >> 8) as u8, i as u8]);
            let run = lab.run(&client_frame(client, vip, sport, 80, Some(flags)));
            assert_eq!(run.verdict, XDP_TX);
            dst_mac(&run.frame)
        })
        .collect()
}

#[test]
fn mh_moves_only_the_removed_servers_share_over_10000_flows() {
    let reals = [
        ("10.1.0.11", 80),
        ("10.1.0.12", 80),
        ("10.1.0.13", 80),
        ("10.1.0.14", 80),
    ];
    let mut conf = service("192.0.2.100", 80, "TCP", "DR", "mh", &reals);
    // A checker per server so that one can fail (MISC_CHECK, never run here).
    conf = conf.replace(
        "weight 1\n",
        "weight 1\n    MISC_CHECK {\n      misc_path /bin/true\n    }\n",
    );
    let mut lab = Lab::new(&conf);
    let vip = addr("192.0.2.100");
    let before = flows_to(&lab, vip, 10_000, 1000, TCP_SYN);
    let removed = server_mac(addr("10.1.0.13"));
    lab.director.checker(0, 2, 0, false).unwrap();
    // New connections of the same clients (another source port: no connection entry).
    let after = flows_to(&lab, vip, 10_000, 2000, TCP_SYN);
    let mut moved_others = 0;
    let mut on_removed = 0;
    for (b, a) in before.iter().zip(&after) {
        if *b == removed {
            on_removed += 1;
            assert_ne!(*a, removed);
        } else if a != b {
            moved_others += 1;
        }
    }
    println!(
        "mh: {on_removed} of 10000 flows were on the removed server and moved; {moved_others} others moved"
    );
    assert!(
        (2000..3000).contains(&on_removed),
        "a fair share: {on_removed}"
    );
    assert_eq!(moved_others, 0, "only the removed server's share moves");
}

#[test]
fn established_flows_survive_a_new_server_and_inhibit_keeps_flows() {
    let reals = [("10.1.0.11", 80), ("10.1.0.12", 80), ("10.1.0.13", 80)];
    let mut conf = service("192.0.2.100", 80, "TCP", "DR", "rr", &reals);
    conf = conf.replace(
        "weight 1\n",
        "weight 1\n    inhibit_on_failure\n    MISC_CHECK {\n      misc_path /bin/true\n    }\n",
    );
    let mut lab = Lab::new(&conf);
    let vip = addr("192.0.2.100");
    // Server 3 starts down (as if its checker failed): flows go to 1 and 2.
    lab.director.checker(0, 2, 0, false).unwrap();
    let first = flows_to(&lab, vip, 300, 1000, TCP_SYN);
    assert!(!first.contains(&server_mac(addr("10.1.0.13"))));
    // Server 3 comes up: every established flow stays where it was...
    lab.director.checker(0, 2, 0, true).unwrap();
    let again = flows_to(&lab, vip, 300, 1000, TCP_ACK);
    assert_eq!(first, again, "established flows stay on their servers");
    // ...and new flows reach it too.
    let new = flows_to(&lab, vip, 300, 3000, TCP_SYN);
    assert!(new.contains(&server_mac(addr("10.1.0.13"))));
    // Server 1 fails with inhibit_on_failure: weight 0 keeps its flows, takes no new ones.
    lab.director.checker(0, 0, 0, false).unwrap();
    let kept = flows_to(&lab, vip, 300, 1000, TCP_ACK);
    assert_eq!(first, kept, "weight 0 keeps established flows");
    let fresh = flows_to(&lab, vip, 300, 4000, TCP_SYN);
    assert!(
        !fresh.contains(&server_mac(addr("10.1.0.11"))),
        "no new flow to weight 0"
    );
}

#[test]
fn a_removed_servers_flows_move() {
    let reals = [("10.1.0.11", 80), ("10.1.0.12", 80)];
    let mut conf = service("192.0.2.100", 80, "TCP", "DR", "rr", &reals);
    conf = conf.replace(
        "weight 1\n",
        "weight 1\n    MISC_CHECK {\n      misc_path /bin/true\n    }\n",
    );
    let mut lab = Lab::new(&conf);
    let vip = addr("192.0.2.100");
    let first = flows_to(&lab, vip, 100, 1000, TCP_SYN);
    lab.director.checker(0, 0, 0, false).unwrap();
    let moved = flows_to(&lab, vip, 100, 1000, TCP_ACK);
    assert!(moved.iter().all(|m| *m == server_mac(addr("10.1.0.12"))));
    assert!(first.contains(&server_mac(addr("10.1.0.11"))));
}

#[test]
fn persistence_pins_each_client_and_wrr_keeps_the_ratio_across_clients() {
    let mut conf = service(
        "192.0.2.100",
        80,
        "TCP",
        "DR",
        "wrr",
        &[("10.1.0.11", 80), ("10.1.0.12", 80)],
    );
    conf = conf.replace(
        "protocol TCP\n",
        "protocol TCP\n  persistence_timeout 120\n",
    );
    conf = conf.replacen("weight 1", "weight 3", 1);
    let lab = Lab::new(&conf);
    let vip = addr("192.0.2.100");
    let first = flows_to(&lab, vip, 400, 1000, TCP_SYN);
    for sport in [2000, 3000] {
        assert_eq!(
            first,
            flows_to(&lab, vip, 400, sport, TCP_SYN),
            "each client sticks"
        );
    }
    let heavy = first
        .iter()
        .filter(|m| **m == server_mac(addr("10.1.0.11")))
        .count();
    assert!(
        (280..=320).contains(&heavy),
        "wrr 3:1 over clients: {heavy} of 400"
    );
}

#[test]
fn wlc_sends_new_flows_to_the_least_loaded() {
    let conf = service(
        "192.0.2.100",
        80,
        "TCP",
        "DR",
        "wlc",
        &[("10.1.0.11", 80), ("10.1.0.12", 80)],
    );
    let lab = Lab::new(&conf);
    let vip = addr("192.0.2.100");
    // 50 established connections, alternating as the counts stay level.
    let first = flows_to(&lab, vip, 50, 1000, TCP_SYN);
    flows_to(&lab, vip, 50, 1000, TCP_ACK);
    let on_first = first
        .iter()
        .filter(|m| **m == server_mac(addr("10.1.0.11")))
        .count();
    assert!((24..=26).contains(&on_first), "level: {on_first}");
    let counts = lab.director.load_balancer().maps_ref().counts();
    let total: u64 = (1..=2).map(|id| counts.get(id).0).sum();
    assert_eq!(total, 50, "50 active connections counted");
}
