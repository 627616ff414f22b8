//! `cargo xtask bench lb`: the load balancer's ns per packet (BPF_PROG_TEST_RUN, the `lb`
//! bench), then short HTTP requests through a VIP in network namespaces: wrk on a client,
//! two nginx real servers, and on the director either xvrrpd (XDP, DR) or haproxy in TCP mode
//! (IPVS is not available to compare). Requests/s and p99 latency of each, from wrk.

use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use netlab::{Netns, Process, TempDir, run, veth, wait_until};

use crate::{build_release_xvrrpd, cargo};

const VIP: &str = "10.6.0.50";
const SERVERS: [&str; 2] = ["10.6.0.11", "10.6.0.12"];
const SECONDS: u32 = 10;

pub fn run_bench() -> anyhow::Result<()> {
    cargo(&["bench", "--package", "vrrp-userspace", "--bench", "lb"])?;
    let xvrrpd = build_release_xvrrpd()?;
    let dir = TempDir::new("lbbench")?;
    let switch = Netns::new("lbbsw")?;
    switch.ip(&["link", "add", "br0", "type", "bridge"])?;
    switch.ip(&["link", "set", "br0", "up"])?;
    let mut hosts = Vec::new();
    for (i, (name, addr)) in [
        ("lbbd", "10.6.0.1"),
        ("lbbr1", SERVERS[0]),
        ("lbbr2", SERVERS[1]),
        ("lbbc", "10.6.0.100"),
    ]
    .into_iter()
    .enumerate()
    {
        let netns = Netns::new(name)?;
        let port = format!("p{i}");
        veth(&netns, "eth0", &switch, &port)?;
        switch.ip(&["link", "set", &port, "master", "br0"])?;
        run(netns.exec("ethtool").args(["-K", "eth0", "tx", "off"]))?;
        netns.addr("eth0", &format!("{addr}/24"))?;
        hosts.push(netns);
    }
    let (director, servers, client) = (&hosts[0], &hosts[1..3], &hosts[3]);
    // XDP_TX on a veth reaches a peer that runs an XDP program: the observe-only recorder.
    let recorder_pins = format!("/sys/fs/bpf/xvrrpd-lbbench-{}", switch.name());
    let mut recorder = Process::spawn(
        "recorder",
        switch
            .enter(&xvrrpd)
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
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    let mut nginxes = Vec::new();
    for (i, server) in servers.iter().enumerate() {
        server.addr("lo", &format!("{VIP}/32"))?;
        server.sysctl("net.ipv4.conf.all.arp_ignore", "1")?;
        server.sysctl("net.ipv4.conf.all.arp_announce", "2")?;
        let root = dir.path().join(format!("rs{i}"));
        std::fs::create_dir_all(&root)?;
        std::fs::write(
            root.join("nginx.conf"),
            format!(
                "daemon off;\nworker_processes 1;\npid {r}/nginx.pid;\nerror_log {r}/error.log;\nevents {{}}\nhttp {{ access_log off; server {{ listen 80 reuseport; location / {{ return 200 \"rs{i}\\n\"; }} }} }}\n",
                r = root.display()
            ),
        )?;
        nginxes.push(Process::spawn_group(
            "nginx",
            server
                .exec("nginx")
                .arg("-c")
                .arg(root.join("nginx.conf"))
                .arg("-p")
                .arg(&root)
                .stderr(Stdio::null()),
        )?);
    }

    // xvrrpd: the VIP by VRRP, the service by XDP in DR.
    let conf = format!(
        "vrrp_instance VI_1 {{\n  state MASTER\n  interface eth0\n  virtual_router_id 66\n  priority 150\n  advert_int 1\n  virtual_ipaddress {{\n    {VIP}\n  }}\n}}\nvirtual_server {VIP} 80 {{\n  delay_loop 5\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n  real_server {} 80 {{\n    TCP_CHECK {{\n      connect_timeout 1\n    }}\n  }}\n  real_server {} 80 {{\n    TCP_CHECK {{\n      connect_timeout 1\n    }}\n  }}\n}}\n",
        SERVERS[0], SERVERS[1]
    );
    let conf_path = dir.write("keepalived.conf", &conf);
    let pins = format!("/sys/fs/bpf/xvrrpd-lbbench-{}", director.name());
    let mut daemon = Process::spawn(
        "xvrrpd",
        director
            .enter(&xvrrpd)
            .args(["-n", "-l", "-f"])
            .arg(&conf_path)
            .arg("-p")
            .arg(dir.path().join("pid"))
            .args(["--bpffs", &pins])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    let url = format!("http://{VIP}/");
    let answered = || {
        client
            .exec("curl")
            .args(["-s", "--max-time", "1", &url])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    anyhow::ensure!(
        wait_until(Duration::from_secs(30), answered),
        "the VIP does not answer through xvrrpd"
    );
    let xdp = wrk(client, &url)?;
    let _ = daemon.stop();
    let _ = std::fs::remove_dir_all(&pins);

    // haproxy, TCP mode, on the same director, the VIP as a plain address.
    director.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "eth0"])?;
    let haproxy_conf = dir.write(
        "haproxy.cfg",
        &format!(
            "global\n  maxconn 20000\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\nfrontend vip\n  bind {VIP}:80\n  default_backend servers\nbackend servers\n  balance roundrobin\n  server rs1 {}:80\n  server rs2 {}:80\n",
            SERVERS[0], SERVERS[1]
        ),
    );
    let mut haproxy = Process::spawn(
        "haproxy",
        director
            .exec("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&haproxy_conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    anyhow::ensure!(
        wait_until(Duration::from_secs(10), answered),
        "the VIP does not answer through haproxy"
    );
    let proxy = wrk(client, &url)?;
    let _ = haproxy.stop();
    let _ = recorder.stop();
    let _ = std::fs::remove_dir_all(&recorder_pins);
    drop(nginxes);

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "\n== Short HTTP requests through {VIP} (wrk -t2 -c50 -d{SECONDS}s, 2 nginx servers; load average {})",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("| director | requests/s | p99 latency |");
    println!("|---|---|---|");
    for (name, (rps, p99)) in [("xvrrpd XDP (DR)", xdp), ("haproxy (TCP mode)", proxy)] {
        println!("| {name} | {rps:.0} | {p99} |");
    }
    Ok(())
}

/// Requests/s and the 99th percentile latency wrk reports.
fn wrk(client: &Netns, url: &str) -> anyhow::Result<(f64, String)> {
    let output =
        run(client
            .exec("wrk")
            .args(["-t2", "-c50", &format!("-d{SECONDS}s"), "--latency", url]))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(|v| v.trim().to_string())
        .with_context(|| format!("no 99% line in wrk's output:\n{text}"))?;
    Ok((rps, p99))
}
