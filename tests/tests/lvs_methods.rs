//! DR, NAT and TUN end to end (issue 12), each in its own lab and in parallel: a director
//! running xvrrpd (VI_4 holding 10.9.x.50, VI_6 holding fd00:9::50 or the NAT lab's client
//! side), two real servers answering TCP (HTTP) and UDP with their names, a client. For DR
//! and NAT every combination of TCP/UDP and IPv4/IPv6 is answered through the VIP by both
//! servers in turn (rr). This kernel has no IP-in-IP (CONFIG_NET_IPIP and CONFIG_IPV6_TUNNEL
//! are off), so a TUN real server cannot take the packets out of the tunnel here: the TUN lab
//! checks on the servers' wire that every request arrives encapsulated towards them, outer
//! and inner headers valid by tshark.

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use netlab::{Netns, Process, TempDir, run, veth, wait_until, xvrrpd_bin};

/// A name-telling TCP (HTTP) and UDP server in a namespace, on threads that entered it.
struct Responder {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Responder {
    fn start(netns: &Netns, name: &'static str, tcp_port: u16, udp: Vec<SocketAddr>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let path = format!("/run/netns/{}", netns.name());
        let mut threads = Vec::new();
        let enter = move |path: &str| {
            let file = std::fs::File::open(path).unwrap();
            // SAFETY: setns on a namespace file; only this thread moves.
            assert_eq!(
                unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) },
                0
            );
        };
        {
            let (stop, path) = (stop.clone(), path.clone());
            threads.push(std::thread::spawn(move || {
                enter(&path);
                let listener = TcpListener::bind(("::", tcp_port)).unwrap();
                listener.set_nonblocking(true).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            std::thread::spawn(move || {
                                stream.set_nonblocking(false).unwrap();
                                stream
                                    .set_read_timeout(Some(Duration::from_millis(500)))
                                    .unwrap();
                                let mut buf = [0u8; 1024];
                                if matches!(stream.read(&mut buf), Ok(n) if n > 0) {
                                    let _ = stream.write_all(
                                        format!(
                                            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{name}",
                                            name.len()
                                        )
                                        .as_bytes(),
                                    );
                                }
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            }));
        }
        for bind in udp {
            let (stop, path) = (stop.clone(), path.clone());
            threads.push(std::thread::spawn(move || {
                enter(&path);
                let socket = UdpSocket::bind(bind).unwrap();
                socket
                    .set_read_timeout(Some(Duration::from_millis(50)))
                    .unwrap();
                let mut buf = [0u8; 1500];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((_, from)) = socket.recv_from(&mut buf) {
                        let _ = socket.send_to(name.as_bytes(), from);
                    }
                }
            }));
        }
        Self { stop, threads }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn tcp_get(target: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(text.split("\r\n\r\n").nth(1)?.to_string())
}

fn udp_get(target: SocketAddr) -> Option<String> {
    let local: SocketAddr = if target.is_ipv6() {
        "[::]:0".parse().unwrap()
    } else {
        "0.0.0.0:0".parse().unwrap()
    };
    let socket = UdpSocket::bind(local).ok()?;
    socket.connect(target).ok()?;
    socket.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    socket.send(b"who").ok()?;
    let mut buf = [0u8; 64];
    let n = socket.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

struct Plan {
    kind: &'static str,
    /// (client, director, servers, VIP) per family, prefix lengths included where assigned.
    v4: (&'static str, &'static str, [&'static str; 2], &'static str),
    v6: (&'static str, &'static str, [&'static str; 2], &'static str),
    /// NAT: the director's address on the servers' side (their gateway) per family.
    gateway: Option<(&'static str, &'static str)>,
    tcp_port: u16,
    udp_port: u16,
}

fn config(plan: &Plan) -> String {
    let mut conf = String::new();
    // The IPv6 VIP is deprecated at once (preferred_lft 0): otherwise the kernel may pick it
    // as the source of the director's own connections, and a real server that carries the
    // VIP itself (DR, TUN) drops a SYN "from" its own address: the checkers would fail.
    for (name, vrid, vip) in [
        ("VI_4", 41, plan.v4.3.to_string()),
        ("VI_6", 61, format!("{}/128 preferred_lft 0", plan.v6.3)),
    ] {
        conf += &format!(
            "vrrp_instance {name} {{\n  state MASTER\n  interface eth0\n  virtual_router_id {vrid}\n  priority 150\n  advert_int 1\n  virtual_ipaddress {{\n    {vip}\n  }}\n}}\n"
        );
    }
    for (vip, servers) in [(plan.v4.3, plan.v4.2), (plan.v6.3, plan.v6.2)] {
        for (proto, port) in [("TCP", 80), ("UDP", 53)] {
            let rport = if proto == "TCP" {
                plan.tcp_port
            } else {
                plan.udp_port
            };
            conf += &format!(
                "virtual_server {vip} {port} {{\n  delay_loop 2\n  lb_algo rr\n  lb_kind {}\n  protocol {proto}\n",
                plan.kind
            );
            for server in servers {
                let check = if proto == "TCP" {
                    "    TCP_CHECK {\n      connect_timeout 1\n    }\n"
                } else {
                    ""
                };
                conf += &format!("  real_server {server} {rport} {{\n    weight 1\n{check}  }}\n");
            }
            conf += "}\n";
        }
    }
    conf
}

fn run_lab(plan: Plan) {
    let dir = TempDir::new(plan.kind).unwrap();
    let tag = plan.kind.to_ascii_lowercase();
    let switch = Netns::new(&format!("m{tag}sw")).unwrap();
    switch
        .ip(&["link", "add", "br0", "type", "bridge"])
        .unwrap();
    switch.ip(&["link", "set", "br0", "up"]).unwrap();
    let names = ["d", "r1", "r2", "c"];
    let hosts: Vec<Netns> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let netns = Netns::new(&format!("m{tag}{name}")).unwrap();
            let port = format!("p{i}");
            veth(&netns, "eth0", &switch, &port).unwrap();
            switch.ip(&["link", "set", &port, "master", "br0"]).unwrap();
            // Locally sent checksums are finished by offload on veth; frames the director
            // rewrites or forwards in XDP must carry finished ones.
            run(netns.exec("ethtool").args(["-K", "eth0", "tx", "off"])).unwrap();
            netns
        })
        .collect();
    let (director, servers, client) = (&hosts[0], &hosts[1..3], &hosts[3]);
    client.addr("eth0", plan.v4.0).unwrap();
    client.addr("eth0", plan.v6.0).unwrap();
    director.addr("eth0", plan.v4.1).unwrap();
    director.addr("eth0", plan.v6.1).unwrap();
    if let Some((gw4, gw6)) = plan.gateway {
        director.addr("eth0", gw4).unwrap();
        director.addr("eth0", gw6).unwrap();
    }
    for (server, (a4, a6)) in servers.iter().zip(plan.v4.2.iter().zip(plan.v6.2)) {
        let plen4 = plan.v4.0.split('/').nth(1).unwrap();
        let plen6 = plan.v6.0.split('/').nth(1).unwrap();
        server.addr("eth0", &format!("{a4}/{plen4}")).unwrap();
        server.addr("eth0", &format!("{a6}/{plen6}")).unwrap();
        match plan.gateway {
            Some((gw4, gw6)) => {
                server
                    .ip(&[
                        "route",
                        "add",
                        "default",
                        "via",
                        gw4.split('/').next().unwrap(),
                    ])
                    .unwrap();
                server
                    .ip(&[
                        "-6",
                        "route",
                        "add",
                        "default",
                        "via",
                        gw6.split('/').next().unwrap(),
                    ])
                    .unwrap();
            }
            None => {
                server.addr("lo", &format!("{}/32", plan.v4.3)).unwrap();
                server.addr("lo", &format!("{}/128", plan.v6.3)).unwrap();
                for (key, value) in [
                    ("net.ipv4.conf.all.arp_ignore", "1"),
                    ("net.ipv4.conf.all.arp_announce", "2"),
                    ("net.ipv4.conf.all.rp_filter", "0"),
                ] {
                    server.sysctl(key, value).unwrap();
                }
            }
        }
    }
    // XDP_TX on a veth reaches a peer that runs an XDP program: the observe-only recorder.
    let recorder_pins = format!("/sys/fs/bpf/xvrrpd-methods-{}", switch.name());
    let mut command = switch.enter(xvrrpd_bin());
    command
        .args([
            "monitor",
            "-i",
            "p0",
            "--json",
            "--duration",
            "3600",
            "--bpffs",
            &recorder_pins,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let recorder = Process::spawn("recorder", &mut command).unwrap();

    let udp_binds = |v4: &str, v6: &str| -> Vec<SocketAddr> {
        vec![
            SocketAddr::new(v4.parse().unwrap(), plan.udp_port),
            SocketAddr::new(v6.parse().unwrap(), plan.udp_port),
        ]
    };
    let responders: Vec<Responder> = servers
        .iter()
        .zip(["rs1", "rs2"])
        .enumerate()
        .map(|(i, (netns, name))| {
            let binds = if plan.gateway.is_some() {
                udp_binds(plan.v4.2[i], plan.v6.2[i])
            } else {
                // DR: the reply must come from the VIP.
                udp_binds(plan.v4.3, plan.v6.3)
            };
            Responder::start(netns, name, plan.tcp_port, binds)
        })
        .collect();

    dir.write("keepalived.conf", &config(&plan));
    let pins = format!("/sys/fs/bpf/xvrrpd-methods-{}", director.name());
    let mut command = director.enter(xvrrpd_bin());
    command
        .args(["-n", "-l", "-f"])
        .arg(dir.path().join("keepalived.conf"))
        .arg("-p")
        .arg(dir.path().join("pid"))
        .args(["--bpffs", &pins])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("err")).unwrap());
    let mut daemon = Process::spawn("xvrrpd", &mut command).unwrap();
    let log = || {
        let lvs = director
            .enter(xvrrpd_bin())
            .args(["lvs", "--stats", "--json", "--bpffs", &pins])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        format!(
            "{lvs}\n{}",
            std::fs::read_to_string(dir.path().join("err")).unwrap_or_default()
        )
    };

    let targets: Vec<(&str, SocketAddr, bool)> = [plan.v4.3, plan.v6.3]
        .into_iter()
        .flat_map(|vip| {
            let vip: IpAddr = vip.parse().unwrap();
            [
                ("TCP", SocketAddr::new(vip, 80), true),
                ("UDP", SocketAddr::new(vip, 53), false),
            ]
        })
        .collect();
    let ask = |target: SocketAddr, tcp: bool| {
        client
            .run_in(move || {
                if tcp {
                    tcp_get(target)
                } else {
                    udp_get(target)
                }
            })
            .unwrap()
    };
    if plan.kind == "TUN" {
        tun_on_the_wire(&plan, &switch, &targets, ask, &log);
    } else {
        for (proto, target, tcp) in &targets {
            assert!(
                wait_until(Duration::from_secs(30), || ask(*target, *tcp).is_some()),
                "{} {proto} {target} answered through the director:\n{}",
                plan.kind,
                log()
            );
            let answers: Vec<Option<String>> = (0..8).map(|_| ask(*target, *tcp)).collect();
            assert!(
                answers.iter().all(Option::is_some),
                "{} {proto} {target}: every request answered: {answers:?}",
                plan.kind
            );
            for server in ["rs1", "rs2"] {
                assert!(
                    answers.iter().any(|a| a.as_deref() == Some(server)),
                    "{} {proto} {target}: rr reaches {server}: {answers:?}",
                    plan.kind
                );
            }
        }
    }
    let _ = daemon.stop();
    drop(recorder);
    drop(responders);
    let _ = std::fs::remove_dir_all(&pins);
    let _ = std::fs::remove_dir_all(&recorder_pins);
}

/// TUN: the requests leave the director encapsulated towards the servers (captured where
/// the director's frames enter the switch; tshark checks the outer and inner headers).
fn tun_on_the_wire(
    plan: &Plan,
    switch: &Netns,
    targets: &[(&str, SocketAddr, bool)],
    ask: impl Fn(SocketAddr, bool) -> Option<String>,
    log: &dyn Fn() -> String,
) {
    let capture_dir = TempDir::new("tunpcap").unwrap();
    let pcap = capture_dir.path().join("tun.pcap");
    // Checkers bring the servers in within a few delay_loops; capture until every family and
    // protocol has been seen leaving encapsulated.
    let wanted = [
        ("IPv4 TCP", [plan.v4.3, "|80|"]),
        ("IPv4 UDP", [plan.v4.3, "|53"]),
        ("IPv6 TCP", [plan.v6.3, "|80|"]),
        ("IPv6 UDP", [plan.v6.3, "|53"]),
    ];
    let mut last = String::new();
    let complete = wait_until(Duration::from_secs(40), || {
        let mut command = switch.exec("tcpdump");
        command
            .args(["-i", "p0", "-U", "-w"])
            .arg(&pcap)
            .args(["ip proto 4 or ip6"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let Ok(mut capture) = Process::spawn("tcpdump", &mut command) else {
            return false;
        };
        std::thread::sleep(Duration::from_millis(500));
        for (_, target, tcp) in targets {
            for _ in 0..4 {
                let _ = ask(*target, *tcp);
            }
        }
        std::thread::sleep(Duration::from_millis(300));
        let _ = capture.stop();
        last = tshark_fields(&pcap);
        wanted
            .iter()
            .all(|(_, has)| last.lines().any(|l| has.iter().all(|h| l.contains(h))))
    });
    assert!(
        complete,
        "every kind through the tunnel:\n{last}\n{}",
        log()
    );
    for line in last.lines() {
        let statuses: Vec<&str> = line
            .split('|')
            .skip(2)
            .take(3)
            .flat_map(|f| f.split(','))
            .filter(|s| !s.is_empty())
            .collect();
        assert!(
            statuses.iter().all(|s| *s == "1"),
            "checksums valid: {line}"
        );
    }
}

/// Encapsulated frames of a capture: outer and inner destinations, checksum statuses, ports.
fn tshark_fields(pcap: &std::path::Path) -> String {
    let output = std::process::Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args([
            "-n",
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-Y",
            "ip.proto == 4 || ipv6.nxt == 41",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "ip.dst",
            "-e",
            "ipv6.dst",
            "-e",
            "ip.checksum.status",
            "-e",
            "tcp.checksum.status",
            "-e",
            "udp.checksum.status",
            "-e",
            "tcp.dstport",
            "-e",
            "udp.dstport",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn dr_tcp_and_udp_over_ipv4_and_ipv6() {
    run_lab(Plan {
        kind: "DR",
        v4: (
            "10.9.0.100/24",
            "10.9.0.1/24",
            ["10.9.0.11", "10.9.0.12"],
            "10.9.0.50",
        ),
        v6: (
            "fd00:9::100/64",
            "fd00:9::1/64",
            ["fd00:9::11", "fd00:9::12"],
            "fd00:9::50",
        ),
        gateway: None,
        tcp_port: 80,
        udp_port: 53,
    });
}

#[test]
fn nat_tcp_and_udp_over_ipv4_and_ipv6_with_port_rewrite() {
    run_lab(Plan {
        kind: "NAT",
        v4: (
            "10.8.0.100/24",
            "10.8.0.1/24",
            ["10.9.0.11", "10.9.0.12"],
            "10.8.0.50",
        ),
        v6: (
            "fd00:8::100/64",
            "fd00:8::1/64",
            ["fd00:9::11", "fd00:9::12"],
            "fd00:8::50",
        ),
        gateway: Some(("10.9.0.1/24", "fd00:9::1/64")),
        tcp_port: 8080,
        udp_port: 8053,
    });
}

#[test]
fn tun_encapsulates_tcp_and_udp_over_ipv4_and_ipv6() {
    run_lab(Plan {
        kind: "TUN",
        v4: (
            "10.7.0.100/24",
            "10.7.0.1/24",
            ["10.7.0.11", "10.7.0.12"],
            "10.7.0.50",
        ),
        v6: (
            "fd00:7::100/64",
            "fd00:7::1/64",
            ["fd00:7::11", "fd00:7::12"],
            "fd00:7::50",
        ),
        gateway: None,
        tcp_port: 80,
        udp_port: 53,
    });
}
