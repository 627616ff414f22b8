//! A reload of a running director moves its virtual servers the way keepalived's check
//! process reload moves IPVS (`clear_diff_services`): one DR lab (a director running xvrrpd
//! as master of 10.9.70.50, three real servers carrying the VIP on `lo`, a client), and
//! `xvrrpd reload` from configuration A to B:
//!
//! - A: `VIP:80` (wrr) over rs1 and rs2, each with a TCP_CHECK every second; `VIP:8080` over
//!   rs1.
//! - B: `VIP:80` over rs1 (weight 1 -> 3) and rs3 (new); rs2 removed; `VIP:8080` removed;
//!   `VIP:9090` added over rs3.
//!
//! Checked: two long-lived TCP connections opened under A (one per server) — the one on rs1
//! goes on answering after the reload, the one on rs2 does not reach rs2 again (its flow is
//! scheduled anew, as IPVS drops a removed server's connections); new connections go 3:1 to
//! rs1 and rs3 and never to rs2; rs2's checker stops knocking; 8080 is no longer served and
//! 9090 is. A configuration with an LVS error is refused and changes nothing; a configuration
//! without virtual servers stops the load balancer and B starts it again.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use netlab::{Netns, Process, TempDir, run, veth, wait_until, xvrrpd_bin};

const VIP: &str = "10.9.70.50";
const DIRECTOR: &str = "10.9.70.2";
const SERVERS: [&str; 3] = ["10.9.70.11", "10.9.70.12", "10.9.70.13"];
const NAMES: [&str; 3] = ["rs1", "rs2", "rs3"];
const PORTS: [u16; 3] = [80, 8080, 9090];

/// A server that answers every message on a connection with its name (connections stay
/// open), on every port of [`PORTS`], and counts the connections the director opened (its
/// checker's).
struct Responder {
    stop: Arc<AtomicBool>,
    from_director: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Responder {
    fn start(netns: &Netns, name: &'static str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let from_director = Arc::new(AtomicU64::new(0));
        let path = format!("/run/netns/{}", netns.name());
        let mut threads = Vec::new();
        for port in PORTS {
            let (stop, from_director, path) = (stop.clone(), from_director.clone(), path.clone());
            threads.push(std::thread::spawn(move || {
                let file = std::fs::File::open(&path).unwrap();
                // SAFETY: setns on a namespace file; only this thread moves.
                assert_eq!(
                    unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) },
                    0
                );
                let listener = TcpListener::bind(("0.0.0.0", port)).unwrap();
                listener.set_nonblocking(true).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let Ok((mut stream, peer)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    if peer.ip().to_string() == DIRECTOR {
                        from_director.fetch_add(1, Ordering::Relaxed);
                    }
                    let stop = stop.clone();
                    std::thread::spawn(move || {
                        stream.set_nonblocking(false).unwrap();
                        stream
                            .set_read_timeout(Some(Duration::from_millis(200)))
                            .unwrap();
                        let mut buf = [0u8; 256];
                        while !stop.load(Ordering::Relaxed) {
                            match stream.read(&mut buf) {
                                Ok(0) => return,
                                Ok(_) => {
                                    if stream.write_all(name.as_bytes()).is_err() {
                                        return;
                                    }
                                }
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        std::io::ErrorKind::WouldBlock
                                            | std::io::ErrorKind::TimedOut
                                    ) => {}
                                Err(_) => return,
                            }
                        }
                    });
                }
            }));
        }
        Self {
            stop,
            from_director,
            threads,
        }
    }

    fn checks(&self) -> u64 {
        self.from_director.load(Ordering::Relaxed)
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

/// One request on an open connection: the name that answered.
fn ask(stream: &mut TcpStream) -> Option<String> {
    stream.write_all(b"who\n").ok()?;
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).ok()?;
    (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn vs(port: u16, reals: &[(usize, u32, bool)]) -> String {
    let mut conf = format!(
        "virtual_server {VIP} {port} {{\n  delay_loop 1\n  lb_algo wrr\n  lb_kind DR\n  protocol TCP\n"
    );
    for &(server, weight, check) in reals {
        let check = if check {
            "    TCP_CHECK {\n      connect_timeout 1\n    }\n"
        } else {
            ""
        };
        conf += &format!(
            "  real_server {} {port} {{\n    weight {weight}\n{check}  }}\n",
            SERVERS[server]
        );
    }
    conf + "}\n"
}

fn config(virtual_servers: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n  state MASTER\n  interface eth0\n  virtual_router_id 70\n  priority 150\n  advert_int 1\n  virtual_ipaddress {{\n    {VIP}/24\n  }}\n}}\n{virtual_servers}"
    )
}

#[test]
fn reload_moves_virtual_and_real_servers_and_keeps_established_flows() {
    let dir = TempDir::new("lvsreload").unwrap();
    let switch = Netns::new("lrsw").unwrap();
    switch
        .ip(&["link", "add", "br0", "type", "bridge"])
        .unwrap();
    switch.ip(&["link", "set", "br0", "up"]).unwrap();
    let hosts: Vec<Netns> = ["d", "r1", "r2", "r3", "c"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let netns = Netns::new(&format!("lr{name}")).unwrap();
            let port = format!("p{i}");
            veth(&netns, "eth0", &switch, &port).unwrap();
            switch.ip(&["link", "set", &port, "master", "br0"]).unwrap();
            // Frames the director forwards in XDP must carry finished checksums.
            run(netns.exec("ethtool").args(["-K", "eth0", "tx", "off"])).unwrap();
            netns
        })
        .collect();
    let (director, servers, client) = (&hosts[0], &hosts[1..4], &hosts[4]);
    director.addr("eth0", &format!("{DIRECTOR}/24")).unwrap();
    client.addr("eth0", "10.9.70.100/24").unwrap();
    for (server, addr) in servers.iter().zip(SERVERS) {
        server.addr("eth0", &format!("{addr}/24")).unwrap();
        server.addr("lo", &format!("{VIP}/32")).unwrap();
        for (key, value) in [
            ("net.ipv4.conf.all.arp_ignore", "1"),
            ("net.ipv4.conf.all.arp_announce", "2"),
            ("net.ipv4.conf.all.rp_filter", "0"),
        ] {
            server.sysctl(key, value).unwrap();
        }
    }
    // XDP_TX on a veth reaches a peer that runs an XDP program: the observe-only recorder.
    let recorder_pins = format!("/sys/fs/bpf/xvrrpd-lvsreload-{}", switch.name());
    let mut command = switch.enter(xvrrpd_bin());
    command
        .args(["monitor", "-i", "p0", "--json", "--duration", "3600"])
        .args(["--bpffs", &recorder_pins])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let recorder = Process::spawn("recorder", &mut command).unwrap();
    let responders: Vec<Responder> = servers
        .iter()
        .zip(NAMES)
        .map(|(netns, name)| Responder::start(netns, name))
        .collect();

    let config_a = config(&(vs(80, &[(0, 1, true), (1, 1, true)]) + &vs(8080, &[(0, 1, false)])));
    let config_b = config(&(vs(80, &[(0, 3, true), (2, 1, true)]) + &vs(9090, &[(2, 1, false)])));
    let conf = dir.write("keepalived.conf", &config_a);
    let pins = format!("/sys/fs/bpf/xvrrpd-lvsreload-{}", director.name());
    let mut command = director.enter(xvrrpd_bin());
    command
        .args(["-n", "-l", "-D", "-f"])
        .arg(&conf)
        .arg("-p")
        .arg(dir.path().join("pid"))
        .args(["--bpffs", &pins])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("err")).unwrap());
    let mut daemon = Process::spawn("xvrrpd", &mut command).unwrap();
    let log = || {
        std::fs::read_to_string(dir.path().join("err"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.contains("DEBUG") && !l.contains("checked"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let lvs = || {
        let output = director
            .enter(xvrrpd_bin())
            .args(["lvs", "--json", "--bpffs", &pins])
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap_or_default()
    };
    // (port, [(server, weight)]) per service, from `xvrrpd lvs --json`.
    let table = || -> Vec<(u64, Vec<(String, u64)>)> {
        lvs()["services"]
            .as_array()
            .map(|services| {
                services
                    .iter()
                    .map(|s| {
                        let reals = s["real_servers"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|r| {
                                (
                                    r["address"].as_str().unwrap().to_owned(),
                                    r["weight"].as_u64().unwrap(),
                                )
                            })
                            .collect();
                        (s["port"].as_u64().unwrap(), reals)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let reload = |text: &str| {
        std::fs::write(&conf, text).unwrap();
        director
            .enter(xvrrpd_bin())
            .arg("reload")
            .arg("-f")
            .arg(&conf)
            .output()
            .unwrap()
    };
    let connect = |port: u16| {
        client
            .run_in(move || {
                let target = SocketAddr::new(VIP.parse().unwrap(), port);
                let stream = TcpStream::connect_timeout(&target, Duration::from_secs(1)).ok()?;
                stream
                    .set_read_timeout(Some(Duration::from_secs(1)))
                    .unwrap();
                Some(stream)
            })
            .unwrap()
    };
    let one_request = |port: u16| connect(port).and_then(|mut s| ask(&mut s));

    // Under A: both servers answer on 80 (once the VIP is held), rs1 on 8080.
    assert!(
        wait_until(Duration::from_secs(20), || one_request(80).is_some()),
        "VIP:80 answered under A:\n{}",
        log()
    );
    let mut long_lived: Vec<(TcpStream, String)> = Vec::new();
    for _ in 0..8 {
        let mut stream = connect(80).expect("connected");
        let name = ask(&mut stream).expect("answered");
        if !long_lived.iter().any(|(_, n)| *n == name) {
            long_lived.push((stream, name));
        }
        if long_lived.len() == 2 {
            break;
        }
    }
    long_lived.sort_by(|a, b| a.1.cmp(&b.1));
    let names: Vec<&str> = long_lived.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names, ["rs1", "rs2"], "a connection on each server under A");
    assert_eq!(one_request(8080).as_deref(), Some("rs1"));
    assert_eq!(one_request(9090), None, "9090 is not a service under A");
    assert!(
        wait_until(Duration::from_secs(10), || responders[1].checks() >= 2),
        "rs2's checker knocks under A"
    );
    let before_a = table();

    // An LVS error (lb_kind) is refused: nothing changes.
    let broken = config_b.replace("lb_kind DR", "lb_kind BOGUS");
    let output = reload(&broken);
    assert!(
        !output.status.success(),
        "a configuration with an LVS error is refused: {output:?}"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("BOGUS")
            || String::from_utf8_lossy(&output.stdout).contains("BOGUS"),
        "the reply names the error: {output:?}"
    );
    assert_eq!(table(), before_a, "the refused reload changed nothing");
    for (stream, name) in &mut long_lived {
        assert_eq!(ask(stream).as_deref(), Some(name.as_str()));
    }
    assert_eq!(one_request(8080).as_deref(), Some("rs1"));

    // A -> B.
    let checks_at_reload = responders[1].checks();
    let output = reload(&config_b);
    let reply = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "reload to B: {output:?}\n{}",
        log()
    );
    assert!(
        reply.contains("virtual servers: 1 kept, 1 added, 1 removed; real servers +2 -2"),
        "the reply counts the virtual and real servers: {reply}"
    );
    assert_eq!(
        table(),
        vec![
            (
                80,
                vec![(SERVERS[0].to_owned(), 3), (SERVERS[2].to_owned(), 1)]
            ),
            (9090, vec![(SERVERS[2].to_owned(), 1)]),
        ],
        "the maps hold B:\n{}",
        log()
    );
    // rs3 never spoke to the director: its MAC is learnt from the kernel right after the
    // reload (frames for it are dropped until then, counted `unresolved`).
    std::thread::sleep(Duration::from_millis(300));
    // The established flow on rs1 survives; the one on rs2 never reaches rs2 again.
    let (rs1_stream, rs2_stream) = long_lived.split_at_mut(1);
    assert_eq!(
        ask(&mut rs1_stream[0].0).as_deref(),
        Some("rs1"),
        "the connection on a kept server survives the reload:\n{}",
        log()
    );
    let moved = ask(&mut rs2_stream[0].0);
    assert_ne!(
        moved.as_deref(),
        Some("rs2"),
        "a removed server's flow is not forwarded to it"
    );
    // New connections: wrr 3:1 over rs1 and rs3 (rs3 starts alive, as keepalived adds a
    // new server without alpha at once), never rs2. The wrr cursor is per CPU, so the
    // sequence is IPVS's on each CPU and 3:1 only within a period per CPU overall.
    let answers: Vec<Option<String>> = (0..40).map(|_| one_request(80)).collect();
    let count = |name: &str| {
        answers
            .iter()
            .filter(|a| a.as_deref() == Some(name))
            .count()
    };
    let (rs1, rs2, rs3) = (count("rs1"), count("rs2"), count("rs3"));
    assert!(
        rs1 + rs3 == 40 && rs2 == 0 && (6..=14).contains(&rs3),
        "new flows after the reload: {answers:?}\n{}\n{}",
        lvs(),
        log()
    );
    assert_eq!(one_request(8080), None, "8080 is no longer served");
    assert_eq!(one_request(9090).as_deref(), Some("rs3"), "9090 is served");
    // rs2's checker stopped (one check may have been under way at the reload).
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        responders[1].checks() <= checks_at_reload + 1,
        "rs2's checker stopped: {} checks at the reload, {} now",
        checks_at_reload,
        responders[1].checks()
    );
    assert!(
        responders[2].checks() >= 2,
        "rs3's checker runs:\n{}",
        log()
    );
    assert_eq!(
        ask(&mut rs1_stream[0].0).as_deref(),
        Some("rs1"),
        "the kept connection still runs"
    );

    // No virtual server left: the load balancer stops; the first one starts it again.
    let output = reload(&config(""));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("load balancer stopped"),
        "{output:?}"
    );
    assert!(table().is_empty(), "no load balancer: {:?}", table());
    let output = reload(&config_b);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("load balancer started"),
        "{output:?}"
    );
    assert!(
        wait_until(Duration::from_secs(10), || one_request(9090).as_deref()
            == Some("rs3")),
        "served again after the load balancer restarted:\n{}",
        log()
    );

    let _ = daemon.stop();
    drop(recorder);
    drop(responders);
    let _ = std::fs::remove_dir_all(&pins);
    let _ = std::fs::remove_dir_all(&recorder_pins);
}
