//! The failover lab itself, without any VRRP daemon: hosts reach each other over IPv4 and
//! IPv6, the switch floods unicast between the routers to the client's capture, link down/up
//! keeps the hosts' own addresses, VIP holders are found, and everything is gone after drop.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use netlab::capture::Capture;
use netlab::lab::{Host, IFACE, Lab};
use netlab::router::{Daemon, Router};
use netlab::run;

fn ping_once(from: &Host, to: IpAddr) -> anyhow::Result<()> {
    run(from
        .netns()
        .exec("ping")
        .args(["-c", "1", "-W", "2", "-n", &to.to_string()]))?;
    Ok(())
}

#[test]
fn hosts_talk_the_client_sees_unicast_between_routers_and_links_recover() -> anyhow::Result<()> {
    let lab = Lab::new("lab")?;
    let names: Vec<String> = [&lab.r1, &lab.r2, &lab.client]
        .iter()
        .map(|host| host.netns().name().to_owned())
        .chain([lab.switch().name().to_owned()])
        .collect();
    assert!(lab.r1.link_local().is_unicast_link_local());
    assert_ne!(lab.r1.mac(), lab.r2.mac());

    // Unicast between the routers reaches the client's capture.
    let capture = Capture::start(lab.client.netns(), IFACE)?;
    ping_once(&lab.r1, lab.r2.ipv4().into())?;
    ping_once(&lab.r2, lab.r1.ipv6().into())?;
    let frames = capture.stop()?.frames()?;
    let unicast_arp_reply = frames.iter().any(|f| {
        f.mac == lab.r2.mac() && matches!(f.kind, netlab::capture::FrameKind::Arp { opcode: 2, .. })
    });
    assert!(
        unicast_arp_reply,
        "r2's unicast ARP reply to r1 must reach the client: {frames:#?}"
    );
    assert!(
        lab.learned_addresses()?.is_empty(),
        "the switch learns nothing"
    );

    // Holders, and link down/up on the router's side.
    let vip: IpAddr = "2001:db8::100".parse()?;
    assert!(lab.holders(vip)?.is_empty());
    lab.r2.netns().addr(IFACE, "2001:db8::100/64")?;
    assert_eq!(lab.holders(vip)?, ["r2"]);
    lab.wait_for_holders(vip, &["r2"], Duration::from_secs(1), || Ok(()))?;
    lab.link_down(&lab.r2)?;
    assert!(
        !lab.r2.holds(lab.r2.ipv6().into())?,
        "the kernel flushes IPv6 addresses on link down"
    );
    lab.link_up(&lab.r2)?;
    assert!(lab.r2.holds(lab.r2.ipv6().into())?, "link_up restores them");
    assert!(lab.r2.holds(lab.r2.ipv4().into())?);
    assert!(
        lab.holders(vip)?.is_empty(),
        "a VIP is the daemon's to restore"
    );
    ping_once(&lab.client, lab.r2.ipv6().into())?;

    drop(lab);
    for name in names {
        assert!(
            !Path::new("/run/netns").join(&name).exists(),
            "{name} is left behind"
        );
    }
    Ok(())
}

#[test]
fn a_router_restarts_after_kill_9_with_its_config_and_logs_every_run() -> anyhow::Result<()> {
    let lab = Lab::new("rtr")?;
    let config = format!(
        "vrrp_instance VI_1 {{\n state BACKUP\n interface {IFACE}\n virtual_router_id 7\n \
         priority 100\n advert_int 1\n virtual_ipaddress {{\n 192.0.2.77/24\n }}\n}}\n"
    );
    let mut router = Router::start(Daemon::Keepalived, lab.r1.netns(), &config)?;
    // Alone on the link, it becomes master after Master_Down_Interval (about 3.6 s).
    lab.wait_for_holders(
        "192.0.2.77".parse()?,
        &["r1"],
        Duration::from_secs(10),
        || router.check_running(),
    )?;
    router.kill()?;
    assert!(!router.is_running());
    // keepalived's VRRP child went with it: a restart is not refused as "already running".
    router.restart()?;
    std::thread::sleep(Duration::from_millis(500));
    router.check_running()?;
    let exit = router.terminate(Duration::from_secs(5))?;
    assert!(exit.status.success(), "{:?}", exit.status);
    let log = router.log();
    assert!(
        log.contains("--- run 1 ---") && log.contains("--- run 2 ---"),
        "{log}"
    );
    assert!(
        !lab.r1.holds("192.0.2.77".parse()?)?,
        "a clean stop removes the VIP"
    );
    Ok(())
}
