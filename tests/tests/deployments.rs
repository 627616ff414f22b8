//! The user's deployments (../shared/seeds) as end-to-end scenarios with the real programs from
//! Debian, in netlab's namespaces: each seed's keepalived.conf (from
//! `vrrp-userspace/tests/data/configs/seeds`, with the addresses, interface and paths adapted
//! and the timers shortened, as listed per scenario) runs in xvrrpd on r1 and r2 next to
//! nginx, haproxy or redis-server, and a client uses the service through the VIP. Each scenario
//! breaks what the seed's scripts watch and checks what a user sees: where the VIP is, how long
//! it took, how many client requests failed, that the service comes back (or stays, with
//! `nopreempt`). The numbers are printed and written to
//! `target/tmp/deployments/<scenario>.txt`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use netlab::lab::{Host, Lab};
use netlab::probe::{self, Probe};
use netlab::router::{Daemon, Router};
use netlab::services::{Haproxy, Nginx, PidFileGuard, Redis, nginx_config};
use netlab::{TempDir, lines_of, wait_until, write_script};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const PROBE_EVERY: Duration = Duration::from_millis(50);
/// Added to every bound: the machine is shared and the daemons are debug builds.
const MARGIN: Duration = Duration::from_secs(3);

fn vip() -> IpAddr {
    IpAddr::V4(VIP)
}

/// RFC 3768 Master_Down_Interval at advert_int 1 s (VRRPv2, as in every seed).
fn master_down(priority: u8) -> Duration {
    Duration::from_secs(3) + Duration::from_secs_f64(f64::from(256 - u16::from(priority)) / 256.0)
}

fn seed(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vrrp-userspace/tests/data/configs/seeds")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The seed with each `from` replaced by `to` (every `from` must be there).
fn adapt(text: &str, edits: &[(&str, String)]) -> String {
    let mut text = text.to_owned();
    for (from, to) in edits {
        assert!(text.contains(from), "the seed has no {from:?}");
        text = text.replace(from, to);
    }
    text
}

/// What a scenario measured, printed and kept in target/tmp/deployments.
struct Report {
    scenario: &'static str,
    lines: Vec<String>,
}

impl Report {
    fn new(scenario: &'static str) -> Self {
        Self {
            scenario,
            lines: Vec::new(),
        }
    }

    fn add(&mut self, line: String) {
        println!("{}: {line}", self.scenario);
        self.lines.push(line);
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deployments");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(
            dir.join(format!("{}.txt", self.scenario)),
            self.lines.join("\n") + "\n",
        );
    }
}

fn logs(routers: &[&Router]) -> String {
    routers
        .iter()
        .map(|r| {
            let log = r.log();
            let lines: Vec<&str> = log
                .lines()
                .filter(|l| !l.contains("DEBUG") && !l.contains("advert sent"))
                .collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        })
        .collect::<Vec<_>>()
        .join("\n=====\n")
}

fn start(daemon: Daemon, host: &Host, config: &str) -> Router {
    Router::start(daemon, host.netns(), config).expect("the daemon starts")
}

/// Waits until the daemon runs its instance as BACKUP (a debug build under load takes a few
/// seconds to start: a failure before that would test nothing).
fn wait_backup(router: &Router) {
    assert!(
        wait_until(Duration::from_secs(20), || {
            let log = router.log();
            log.contains("-> BACKUP") || log.contains("Entering BACKUP STATE")
        }),
        "{}",
        logs(&[router])
    );
}

fn wait_holder(lab: &Lab, who: &str, timeout: Duration, routers: &[&Router]) -> Duration {
    lab.wait_for_holder(vip(), who, timeout, || Ok(()))
        .unwrap_or_else(|e| panic!("{e:#}\n{}", logs(routers)))
}

fn wait_only(lab: &Lab, who: &str, timeout: Duration, routers: &[&Router]) -> Duration {
    lab.wait_for_holders(vip(), &[who], timeout, || Ok(()))
        .unwrap_or_else(|e| panic!("{e:#}\n{}", logs(routers)))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Web {
    Nginx,
    Haproxy,
}

enum WebServer {
    Nginx(Nginx),
    Haproxy(Haproxy),
}

impl WebServer {
    fn start(kind: Web, host: &Host, dir: &Path) -> Self {
        let body = format!("served by {}", host.name());
        match kind {
            Web::Nginx => Self::Nginx(Nginx::start(host.netns(), dir, &body).unwrap()),
            Web::Haproxy => Self::Haproxy(Haproxy::start(host.netns(), dir, &body).unwrap()),
        }
    }

    fn stop(&mut self) {
        match self {
            Self::Nginx(n) => n.stop().unwrap(),
            Self::Haproxy(h) => h.stop().unwrap(),
        }
    }

    fn restart(&mut self, host: &Host) {
        match self {
            Self::Nginx(n) => n.restart(host.netns()).unwrap(),
            Self::Haproxy(h) => h.restart(host.netns()).unwrap(),
        }
    }
}

/// A web pair: the service on both routers, each router's configuration, the check script
/// the configurations name, and what must happen.
struct WebScenario {
    name: &'static str,
    /// Short, for namespace names.
    tag: &'static str,
    web: Web,
    daemons: [Daemon; 2],
    /// r1's and r2's configuration; `DIR` stands for the router's directory.
    configs: [String; 2],
    check_script: &'static str,
    check_body: fn(&Path) -> String,
    /// The check's interval and fall count, for the bound on the switch.
    interval: Duration,
    fall: u32,
    rise: u32,
    priorities: [u8; 2],
}

/// The service on the master stops: the VIP moves to the backup within the check's interval
/// times (fall + 1), plus Master_Down_Interval and a margin, and the client is served again;
/// the service comes back: the VIP comes back (both web seeds preempt).
fn run_web(scenario: WebScenario) {
    let mut report = Report::new(scenario.name);
    let lab = Lab::new(scenario.tag).unwrap();
    let dirs = [TempDir::new("web1").unwrap(), TempDir::new("web2").unwrap()];
    let hosts = [&lab.r1, &lab.r2];
    let mut servers: Vec<WebServer> = (0..2)
        .map(|i| WebServer::start(scenario.web, hosts[i], &dirs[i].path().join("web")))
        .collect();
    for dir in &dirs {
        write_script(
            dir,
            scenario.check_script,
            &(scenario.check_body)(dir.path()),
        );
    }
    let config =
        |i: usize| scenario.configs[i].replace("DIR", &dirs[i].path().display().to_string());
    let r1 = start(scenario.daemons[0], &lab.r1, &config(0));
    wait_only(&lab, "r1", Duration::from_secs(20), &[&r1]);
    let r2 = start(scenario.daemons[1], &lab.r2, &config(1));
    wait_backup(&r2);
    let client = Probe::http(lab.client.netns(), SocketAddr::new(vip(), 80), PROBE_EVERY);
    let from = |who: &'static str| move |reply: &str| reply == format!("served by {who}");
    assert!(
        client.wait_for(Instant::now(), Duration::from_secs(10), from("r1")),
        "the client is not served by r1: {:?}",
        client.samples().last()
    );
    // Let r2's daemon settle as backup.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(lab.holders(vip()).unwrap(), ["r1"], "{}", logs(&[&r1, &r2]));

    // The service fails on the master.
    let failure = Instant::now();
    servers[0].stop();
    let moved = wait_only(&lab, "r2", Duration::from_secs(30), &[&r1, &r2]);
    assert!(
        client.wait_for(failure, Duration::from_secs(10), from("r2")),
        "the client is not served by r2 after the switch"
    );
    let bound = scenario.interval * (scenario.fall + 1) + master_down(scenario.priorities[1]);
    let outage = client.outage(failure, from("r2"));
    report.add(format!(
        "service stopped on r1: VIP on r2 after {:.2} s (bound {:.2} s + margin), client errors {} (every {} ms), outage {:.2} s, served by r2 after {:.2} s",
        moved.as_secs_f64(),
        bound.as_secs_f64(),
        outage.errors,
        PROBE_EVERY.as_millis(),
        outage.length.as_secs_f64(),
        outage.served_again_after.unwrap_or_default().as_secs_f64()
    ));
    assert!(
        moved <= bound + MARGIN,
        "{moved:?} > {bound:?}\n{}",
        logs(&[&r1, &r2])
    );

    // It comes back: r1 preempts.
    let recovery = Instant::now();
    servers[0].restart(&lab.r1);
    let back = wait_only(&lab, "r1", Duration::from_secs(30), &[&r1, &r2]);
    assert!(client.wait_for(recovery, Duration::from_secs(10), from("r1")));
    let bound_back = scenario.interval * (scenario.rise + 1) + master_down(scenario.priorities[0]);
    let outage = client.outage(recovery, from("r1"));
    report.add(format!(
        "service back on r1: VIP back on r1 after {:.2} s (bound {:.2} s + margin), client errors {}, outage {:.2} s",
        back.as_secs_f64(),
        bound_back.as_secs_f64(),
        outage.errors,
        outage.length.as_secs_f64()
    ));
    assert!(
        back <= bound_back + MARGIN,
        "{back:?}\n{}",
        logs(&[&r1, &r2])
    );
    drop(client);
    let mut routers = [r1, r2];
    routers[1].terminate(Duration::from_secs(5)).unwrap();
    routers[0].terminate(Duration::from_secs(5)).unwrap();
}

/// Seed 004's check_ng.sh, its curl variant: one `curl -w %{http_code}` of the local page.
fn curl_check(_dir: &Path) -> String {
    "check_code=$(curl --connect-timeout 0.3 -m 0.4 -sL -w '%{http_code}' http://127.0.0.1/ -o /dev/null)\n\
     [ \"$check_code\" = 200 ]\n"
        .to_owned()
}

/// Seed 002's haproxy check as `killall -0 haproxy` would do it, but for this node's haproxy
/// only: the routers share one pid namespace, where killall would find the other's.
fn haproxy_check(dir: &Path) -> String {
    format!("kill -0 \"$(cat {}/web/haproxy.pid)\"\n", dir.display())
}

fn nginx_004_configs(interval: &str) -> [String; 2] {
    let edits = |file: &str| {
        adapt(
            &seed(file),
            &[
                ("enp0s3", "eth0".into()),
                ("192.168.0.200", VIP.to_string()),
                ("/etc/keepalived/check_ng.sh", "DIR/check_ng.sh".into()),
                ("interval 2", format!("interval {interval}")),
            ],
        )
    };
    [edits("nginx-master.conf"), edits("nginx-backup.conf")]
}

/// Seed 004: nginx pair, `chk_nginx` (weight -5, fall 3, rise 2), priorities 101 and 100;
/// adapted: eth0, the VIP, the script's path, `interval 2` -> `interval 0.5`.
#[test]
fn seed_004_nginx_pair() {
    run_web(WebScenario {
        name: "seed004-nginx",
        tag: "n004",
        web: Web::Nginx,
        daemons: [Daemon::Xvrrpd, Daemon::Xvrrpd],
        configs: nginx_004_configs("0.5"),
        check_script: "check_ng.sh",
        check_body: curl_check,
        interval: Duration::from_millis(500),
        fall: 3,
        rise: 2,
        priorities: [101, 100],
    });
}

/// Seed 004 with keepalived 2.2.7 as the master and xvrrpd as the backup, `interval 1`
/// (keepalived 2.2.7 reads script intervals as whole seconds).
#[test]
fn seed_004_nginx_mixed_pair_with_keepalived() {
    run_web(WebScenario {
        name: "seed004-nginx-mixed",
        tag: "mix4",
        web: Web::Nginx,
        daemons: [Daemon::Keepalived, Daemon::Xvrrpd],
        configs: nginx_004_configs("1"),
        check_script: "check_ng.sh",
        check_body: curl_check,
        interval: Duration::from_secs(1),
        fall: 3,
        rise: 2,
        priorities: [101, 100],
    });
}

/// Seed 002's pair (router_id directory1/2, VRID 80, PASS 1111, priorities 100 and 50,
/// `nopreempt` on the backup), with the check named `script` and tracked with weight 0: a
/// failed check is a FAULT. Adapted: ens33 -> eth0, the VIP, the script, `interval 5` -> 0.5.
fn seed_002_configs(check: &str, script: &str) -> [String; 2] {
    let edits = |file: &str| {
        adapt(
            &seed(file),
            &[
                ("ens33", "eth0".into()),
                ("192.168.174.105/24", format!("{VIP}/24")),
                (
                    "/etc/keepalived/check_haproxy_status.sh",
                    format!("DIR/{script}"),
                ),
                ("check_haproxy", check.into()),
                ("interval 5", "interval 0.5".into()),
            ],
        )
    };
    [edits("haproxy-master.conf"), edits("haproxy-backup.conf")]
}

/// Seed 002, nginx part: `check_nginx` (interval 5, no weight: FAULT when it fails).
#[test]
fn seed_002_nginx_pair() {
    run_web(WebScenario {
        name: "seed002-nginx",
        tag: "n002",
        web: Web::Nginx,
        daemons: [Daemon::Xvrrpd, Daemon::Xvrrpd],
        configs: seed_002_configs("check_nginx", "check_nginx_status.sh"),
        check_script: "check_nginx_status.sh",
        check_body: curl_check,
        interval: Duration::from_millis(500),
        fall: 1,
        rise: 1,
        priorities: [100, 50],
    });
}

/// Seed 002, haproxy part: `check_haproxy`, as `killall -0 haproxy`.
#[test]
fn seed_002_haproxy_pair() {
    run_web(WebScenario {
        name: "seed002-haproxy",
        tag: "h002",
        web: Web::Haproxy,
        daemons: [Daemon::Xvrrpd, Daemon::Xvrrpd],
        configs: seed_002_configs("check_haproxy", "check_haproxy_status.sh"),
        check_script: "check_haproxy_status.sh",
        check_body: haproxy_check,
        interval: Duration::from_millis(500),
        fall: 1,
        rise: 1,
        priorities: [100, 50],
    });
}

/// Seed 003's scripts for one node whose peer is `peer`: the check (`redis-cli PING` is
/// `PONG`), notify_master (replicate from the old master for a while, then `REPLICAOF NO
/// ONE`), notify_backup/fault/stop (wait, then `REPLICAOF <peer>`). Adapted: `REPLICAOF` for
/// `SLAVEOF`, waits of 1 s instead of 10 and 15, the log in the test's directory.
fn redis_scripts(dir: &TempDir, peer: Ipv4Addr) {
    let log = format!("{}/redis-state.log", dir.path().display());
    write_script(
        dir,
        "redis_check.sh",
        "ALIVE=`/usr/bin/redis-cli PING`\nif [ \"$ALIVE\" = \"PONG\" ]; then\n echo $ALIVE\n exit 0\nelse\n echo $ALIVE\n exit 1\nfi\n",
    );
    write_script(
        dir,
        "redis_master.sh",
        &format!(
            "REDISCLI=\"redis-cli\"\nLOGFILE=\"{log}\"\npid=$$\n\
             echo \"`date +'%Y-%m-%d:%H:%M:%S'`|$pid|state:[master] Run 'REPLICAOF {peer} 6379'\" >> $LOGFILE\n\
             $REDISCLI REPLICAOF {peer} 6379 >> $LOGFILE 2>&1\n\
             echo \"`date +'%Y-%m-%d:%H:%M:%S'`|$pid|state:[master] wait 1 sec for data sync from old master\" >> $LOGFILE\n\
             sleep 1\n\
             echo \"`date +'%Y-%m-%d:%H:%M:%S'`|$pid|state:[master] Run REPLICAOF NO ONE\" >> $LOGFILE\n\
             $REDISCLI REPLICAOF NO ONE >> $LOGFILE 2>&1\n\
             echo \"`date +'%Y-%m-%d:%H:%M:%S'`|$pid|state:[master] done\" >> $LOGFILE\n"
        ),
    );
    let backup = format!(
        "REDISCLI=\"redis-cli\"\nLOGFILE=\"{log}\"\npid=$$\n\
         echo \"`date +'%Y-%m-%d:%H:%M:%S'`|$pid|state:[backup] wait 1 sec for data sync from old master\" >> $LOGFILE\n\
         sleep 1\n\
         echo \"`date +'%Y-%m-%d:%H:%M:%S'`|$pid|state:[backup] Run 'REPLICAOF {peer} 6379'\" >> $LOGFILE\n\
         $REDISCLI REPLICAOF {peer} 6379 >> $LOGFILE 2>&1\n"
    );
    for name in ["redis_backup.sh", "redis_fault.sh", "redis_stop.sh"] {
        write_script(dir, name, &backup);
    }
}

fn redis_configs(dirs: &[TempDir; 2]) -> [String; 2] {
    let edits = |file: &str, dir: &TempDir| {
        adapt(
            &seed(file),
            &[
                ("10.20.112.29", VIP.to_string()),
                (
                    "/etc/keepalived/scripts/",
                    format!("{}/", dir.path().display()),
                ),
                ("interval 2", "interval 0.5".into()),
                ("advert_int 5", "advert_int 1".into()),
            ],
        )
    };
    [
        edits("redis-master.conf", &dirs[0]),
        edits("redis-backup.conf", &dirs[1]),
    ]
}

fn redis_get(lab: &Lab, key: &str) -> Result<String, String> {
    probe::redis(
        lab.client.netns(),
        SocketAddr::new(vip(), 6379),
        &["GET", key],
    )
}

/// Seed 003: redis master/replica moved by notify scripts. r1 (priority 200, `nopreempt`)
/// and r2 (190), `chk_redis` weight -20 (written `weight - 20` in the seed). Adapted: the VIP,
/// the scripts' directory, `interval 2` -> 0.5, `advert_int 5` -> 1.
///
/// 1. r1's redis is killed: r2 takes the VIP, its notify_master promotes its redis; a key
///    written before is read through the VIP, writes through the VIP resume.
/// 2. r1's redis comes back as r2's replica: with `nopreempt` the VIP stays on r2.
/// 3. The master node (r2) dies (its link goes down): r1 takes over, promotes its redis, the
///    data written on r2 is there, writes resume.
#[test]
fn seed_003_redis_pair() {
    let mut report = Report::new("seed003-redis");
    let lab = Lab::new("redi").unwrap();
    let dirs = [
        TempDir::new("redis1").unwrap(),
        TempDir::new("redis2").unwrap(),
    ];
    redis_scripts(&dirs[0], lab.r2.ipv4());
    redis_scripts(&dirs[1], lab.r1.ipv4());
    let configs = redis_configs(&dirs);
    // Both start as masters with the same (empty) data, as the article prepares them.
    let mut redis1 = Redis::start(lab.r1.netns(), &dirs[0].path().join("data"), None).unwrap();
    let redis2 = Redis::start(lab.r2.netns(), &dirs[1].path().join("data"), None).unwrap();

    let r1 = start(Daemon::Xvrrpd, &lab.r1, &configs[0]);
    wait_only(&lab, "r1", Duration::from_secs(20), &[&r1]);
    let promoted = |redis: &Redis, host: &Host, dir: &TempDir| {
        wait_until(Duration::from_secs(15), || {
            redis.replication(host.netns(), "role").as_deref() == Some("master")
                && lines_of(&dir.path().join("redis-state.log"))
                    .iter()
                    .any(|l| l.ends_with("state:[master] done"))
        })
    };
    assert!(promoted(&redis1, &lab.r1, &dirs[0]), "{}", logs(&[&r1]));
    let r2 = start(Daemon::Xvrrpd, &lab.r2, &configs[1]);
    assert!(
        wait_until(Duration::from_secs(15), || {
            redis2
                .replication(lab.r2.netns(), "master_link_status")
                .as_deref()
                == Some("up")
        }),
        "r2's redis did not become r1's replica\n{}",
        logs(&[&r1, &r2])
    );
    assert_eq!(
        probe::redis(
            lab.client.netns(),
            SocketAddr::new(vip(), 6379),
            &["SET", "before", "kept"]
        ),
        Ok("+OK".into())
    );
    assert_eq!(
        probe::redis(
            lab.client.netns(),
            SocketAddr::new(vip(), 6379),
            &["WAIT", "1", "2000"]
        ),
        Ok(":1".into()),
        "the write reached the replica"
    );
    let writes = Probe::redis_writes(
        lab.client.netns(),
        SocketAddr::new(vip(), 6379),
        PROBE_EVERY,
    );
    assert!(writes.wait_for(Instant::now(), Duration::from_secs(5), |r| r == "+OK"));

    // 1. r1's redis dies; its check fails (200 - 20 = 180 < 190) and r2 preempts.
    let failure = Instant::now();
    redis1.kill().unwrap();
    let moved = wait_only(&lab, "r2", Duration::from_secs(30), &[&r1, &r2]);
    assert!(
        writes.wait_for(failure + moved, Duration::from_secs(15), |r| r == "+OK"),
        "writes through the VIP did not resume\n{}",
        logs(&[&r1, &r2])
    );
    assert_eq!(redis_get(&lab, "before"), Ok("kept".into()));
    assert_eq!(
        redis2.replication(lab.r2.netns(), "role").as_deref(),
        Some("master")
    );
    let outage = writes.outage(failure, |r| r == "+OK");
    let bound = Duration::from_millis(500) * 2 + master_down(190);
    report.add(format!(
        "r1's redis killed: VIP on r2 after {:.2} s (bound {:.2} s + margin), redis master again after {:.2} s (notify_master waits 1 s), failed writes {} (every {} ms), write outage {:.2} s; key written before read back",
        moved.as_secs_f64(),
        bound.as_secs_f64(),
        outage.served_again_after.unwrap_or_default().as_secs_f64(),
        outage.errors,
        PROBE_EVERY.as_millis(),
        outage.length.as_secs_f64()
    ));
    assert!(moved <= bound + MARGIN, "{moved:?}\n{}", logs(&[&r1, &r2]));

    // 2. The operator brings r1's redis back as r2's replica; r1's check passes again
    //    (priority 200 > 190), but nopreempt keeps r2 master.
    redis1.restart(lab.r1.netns(), Some(lab.r2.ipv4())).unwrap();
    assert!(wait_until(Duration::from_secs(15), || {
        redis1
            .replication(lab.r1.netns(), "master_link_status")
            .as_deref()
            == Some("up")
    }));
    let watch = Instant::now();
    while watch.elapsed() < master_down(200) + Duration::from_secs(2) {
        assert_eq!(
            lab.holders(vip()).unwrap(),
            ["r2"],
            "nopreempt: r1 must not take the VIP back\n{}",
            logs(&[&r1, &r2])
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let last_on_r2 = writes
        .samples()
        .iter()
        .enumerate()
        .filter(|(_, s)| s.outcome.as_ref().is_ok_and(|r| r == "+OK"))
        .map(|(n, _)| n)
        .next_back()
        .unwrap();
    report.add("r1's redis back as r2's replica: the VIP stays on r2 (nopreempt)".into());

    // 3. The master node dies.
    let failure = Instant::now();
    lab.link_down(&lab.r2).unwrap();
    let moved = wait_holder(&lab, "r1", Duration::from_secs(30), &[&r1, &r2]);
    assert!(
        writes.wait_for(failure + moved, Duration::from_secs(15), |r| r == "+OK"),
        "writes through the VIP did not resume on r1\n{}",
        logs(&[&r1, &r2])
    );
    assert_eq!(redis_get(&lab, "before"), Ok("kept".into()));
    assert_eq!(
        redis_get(&lab, &format!("probe:{last_on_r2}")),
        Ok(last_on_r2.to_string()),
        "a write made on r2 is on r1"
    );
    let outage = writes.outage(failure, |r| r == "+OK");
    let bound = master_down(200);
    report.add(format!(
        "master node r2 down: VIP on r1 after {:.2} s (bound {:.2} s + margin), writes again after {:.2} s, failed writes {}, write outage {:.2} s; keys from before and from r2 read back",
        moved.as_secs_f64(),
        bound.as_secs_f64(),
        outage.served_again_after.unwrap_or_default().as_secs_f64(),
        outage.errors,
        outage.length.as_secs_f64()
    ));
    assert!(moved <= bound + MARGIN, "{moved:?}\n{}", logs(&[&r1, &r2]));
    drop(writes);
    let mut routers = [r1, r2];
    routers[1].kill().unwrap();
    routers[0].terminate(Duration::from_secs(5)).unwrap();
}

/// Seed 000 (NFS): the kernel NFS server cannot run here (this kernel has no nfsd and loads
/// no modules), so the export is a marker service of the same shape: started by notify_master,
/// stopped by notify_backup/fault/stop, so that only the master serves it. The seed's
/// check_nfs.sh stops keepalived when NFS fails; here the master's daemon is stopped
/// (SIGTERM) and started again (the article: the master takes the VIP back when it returns).
/// Adapted: enp0s3 -> eth0, the VIP, the notify lines added; the backup is the same file with
/// `state BACKUP` and priority 100, as the article says.
#[test]
fn seed_000_nfs_shaped_export() {
    let mut report = Report::new("seed000-nfs-marker");
    let lab = Lab::new("nfsm").unwrap();
    let dirs = [TempDir::new("nfs1").unwrap(), TempDir::new("nfs2").unwrap()];
    let mut guards = Vec::new();
    for (dir, host) in dirs.iter().zip([&lab.r1, &lab.r2]) {
        let d = dir.path().display().to_string();
        let export = dir.path().join("export");
        std::fs::create_dir_all(&export).unwrap();
        std::fs::write(
            export.join("nginx.conf"),
            nginx_config(&export, &format!("export from {}", host.name()), false),
        )
        .unwrap();
        let nginx =
            format!("nginx -p {d}/export -e {d}/export/nginx-error.log -c {d}/export/nginx.conf");
        write_script(
            dir,
            "export.sh",
            &format!(
                "echo \"$(date +%s.%N) $1\" >> {d}/export.log\n\
                 case $1 in\n start) {nginx} ;;\n stop) {nginx} -s stop 2>/dev/null; \
                 while [ -e {d}/export/nginx.pid ]; do sleep 0.05; done ;;\n esac\n"
            ),
        );
        guards.push(PidFileGuard(export.join("nginx.pid")));
    }
    let notify = "    notify_master \"DIR/export.sh start\"\n    notify_backup \"DIR/export.sh stop\"\n    notify_fault \"DIR/export.sh stop\"\n    notify_stop \"DIR/export.sh stop\"\n}";
    let master = seed("nfs-master.conf");
    let master = master.trim_end().strip_suffix('}').unwrap().to_owned() + notify;
    let master = adapt(
        &master,
        &[("enp0s3", "eth0".into()), ("10.0.0.94", VIP.to_string())],
    );
    let backup = adapt(
        &master,
        &[
            ("state MASTER", "state BACKUP".into()),
            ("priority 150", "priority 100".into()),
        ],
    );
    let config = |text: &str, dir: &TempDir| text.replace("DIR", &dir.path().display().to_string());
    let serving = |dir: &TempDir| dir.path().join("export/nginx.pid").exists();

    let mut r1 = start(Daemon::Xvrrpd, &lab.r1, &config(&master, &dirs[0]));
    wait_only(&lab, "r1", Duration::from_secs(20), &[&r1]);
    let r2 = start(Daemon::Xvrrpd, &lab.r2, &config(&backup, &dirs[1]));
    wait_backup(&r2);
    let client = Probe::http(lab.client.netns(), SocketAddr::new(vip(), 80), PROBE_EVERY);
    let from = |who: &'static str| move |reply: &str| reply == format!("export from {who}");
    assert!(
        client.wait_for(Instant::now(), Duration::from_secs(10), from("r1")),
        "{}",
        logs(&[&r1, &r2])
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        serving(&dirs[0]) && !serving(&dirs[1]),
        "only the master serves the export"
    );

    // NFS fails on r1: its check script stops the VRRP daemon.
    let failure = Instant::now();
    let exit = r1.terminate(Duration::from_secs(5)).unwrap();
    assert!(exit.status.success());
    let moved = wait_only(&lab, "r2", Duration::from_secs(20), &[&r1, &r2]);
    assert!(
        client.wait_for(failure, Duration::from_secs(10), from("r2")),
        "{}",
        logs(&[&r1, &r2])
    );
    let outage = client.outage(failure, from("r2"));
    assert!(!serving(&dirs[0]), "notify_stop stopped r1's export");
    assert!(wait_until(Duration::from_secs(5), || serving(&dirs[1])));
    report.add(format!(
        "r1's daemon stopped: notify_stop stopped r1's export, VIP on r2 after {:.2} s, export served from r2 after {:.2} s, client errors {}, outage {:.2} s",
        moved.as_secs_f64(),
        outage.served_again_after.unwrap_or_default().as_secs_f64(),
        outage.errors,
        outage.length.as_secs_f64()
    ));

    // r1 comes back and takes the VIP and the export back.
    let recovery = Instant::now();
    r1.restart().unwrap();
    let back = wait_only(&lab, "r1", Duration::from_secs(20), &[&r1, &r2]);
    assert!(
        client.wait_for(recovery, Duration::from_secs(10), from("r1")),
        "{}",
        logs(&[&r1, &r2])
    );
    assert!(wait_until(Duration::from_secs(5), || serving(&dirs[0])
        && !serving(&dirs[1])));
    let outage = client.outage(recovery, from("r1"));
    report.add(format!(
        "r1's daemon back: VIP on r1 after {:.2} s (start-up + Master_Down_Interval {:.2} s), export moved back, client errors {}, outage {:.2} s",
        back.as_secs_f64(),
        master_down(150).as_secs_f64(),
        outage.errors,
        outage.length.as_secs_f64()
    ));
    drop(client);
    let mut routers = [r1, r2];
    routers[1].terminate(Duration::from_secs(5)).unwrap();
    routers[0].terminate(Duration::from_secs(5)).unwrap();
    assert!(
        !serving(&dirs[0]) && !serving(&dirs[1]),
        "notify_stop stopped the exports"
    );
}
