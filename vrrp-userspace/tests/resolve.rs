//! The resolve step: keepalived.conf text + made-up host facts -> what the daemon runs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

use xvrrpd::config;
use xvrrpd::daemon::host::{HostFacts, HostInterface};
use xvrrpd::daemon::resolve::{
    ReceiveMode, ResolveError, Resolved, SourceRule, TrackedObject, UnicastChecksum, resolve,
};
use xvrrpd::engine::{Destination, Flavor, MacAddr, TrackerKind};
use xvrrpd::protocol::{Auth, Priority};

const ETH0_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);

fn interface(name: &str, ifindex: u32, last: u8) -> HostInterface {
    HostInterface {
        name: name.into(),
        ifindex,
        mac: MacAddr([2, 0, 0, 0, 0, last]),
        up: true,
        loopback: false,
        ipv4: vec![
            Ipv4Addr::new(192, 0, 2, last),
            Ipv4Addr::new(198, 51, 100, last),
        ],
        ipv6_link_local: Some(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, u16::from(last))),
        ipv6: vec![Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(last))],
        ipv6_forwarding: false,
    }
}

fn host() -> HostFacts {
    let mut lo = interface("lo", 1, 0);
    lo.loopback = true;
    HostFacts {
        interfaces: vec![lo, interface("eth0", 2, 1), interface("eth1", 3, 2)],
    }
}

fn try_resolve(text: &str, host: &HostFacts) -> Result<Resolved, ResolveError> {
    let loaded = config::load_text(
        Path::new("test.conf"),
        text,
        &config::LoadOptions::default(),
    );
    resolve(&loaded.config, host)
}

fn resolved(text: &str) -> Resolved {
    try_resolve(text, &host()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn multicast_v2_instance_sends_from_the_primary_address_and_interface_mac() {
    let r = resolved(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 150\n \
         authentication {\n auth_type PASS\n auth_pass secret\n }\n \
         virtual_ipaddress {\n 192.0.2.100/24\n }\n}\n",
    );
    let i = &r.instances[0];
    assert_eq!(i.link.ifindex, 2);
    assert_eq!(i.source, SourceRule::Interface);
    assert_eq!(i.engine.source, Some(IpAddr::from([192, 0, 2, 1])));
    assert_eq!(i.engine.flavor, Flavor::V2Ipv4);
    assert_eq!(i.engine.priority, Priority(150));
    assert_eq!(i.engine.advert_mac, ETH0_MAC);
    assert_eq!(i.engine.auth, Auth::pass("secret"));
    assert_eq!(
        i.engine.destination,
        Destination::Multicast {
            group: IpAddr::from([224, 0, 0, 18])
        }
    );
    assert_eq!(i.engine.advertised, vec![IpAddr::from([192, 0, 2, 100])]);
    assert_eq!(i.engine.announced.len(), 1);
    assert_eq!(i.engine.announced[0].mac, ETH0_MAC);
    assert_eq!(i.receive.vips, i.engine.advertised);
    assert_eq!(
        i.receive.mode,
        ReceiveMode::Multicast {
            group: IpAddr::from([224, 0, 0, 18])
        }
    );
    assert_eq!(i.addresses[0].prefix.prefix_len, 24);
    assert!(i.track_link);
    assert_eq!(r.links().len(), 1);
}

#[test]
fn unicast_instance_uses_its_peers_their_ttl_windows_and_the_configured_source() {
    let r = resolved(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n version 3\n \
         unicast_src_ip 192.0.2.1\n check_unicast_src\n unicast_ttl 64\n \
         unicast_peer {\n 192.0.2.7 min_ttl 250 max_ttl 255\n 192.0.2.8\n }\n \
         virtual_ipaddress {\n 192.0.2.100/24\n }\n}\n",
    );
    let i = &r.instances[0];
    assert_eq!(
        i.source,
        SourceRule::Configured(IpAddr::from([192, 0, 2, 1]))
    );
    assert_eq!(
        i.engine.destination,
        Destination::Unicast {
            peers: vec![IpAddr::from([192, 0, 2, 7]), IpAddr::from([192, 0, 2, 8])],
            ttl: 64
        }
    );
    let ReceiveMode::Unicast {
        peers,
        check_source,
        checksum,
    } = &i.receive.mode
    else {
        panic!("unicast instance resolved as {:?}", i.receive.mode);
    };
    assert!(*check_source);
    assert_eq!(*checksum, UnicastChecksum::Auto, "keepalived's default");
    assert_eq!((peers[0].min_ttl, peers[0].max_ttl), (250, 255));
    assert_eq!((peers[1].min_ttl, peers[1].max_ttl), (0, 255));
}

#[test]
fn ipv6_instance_sends_from_the_link_local_address_to_ff02_12() {
    let r = resolved(
        "vrrp_instance VI_6 {\n interface eth1\n virtual_router_id 60\n advert_int 0.5\n \
         virtual_ipaddress {\n 2001:db8::100/64\n }\n}\n",
    );
    let i = &r.instances[0];
    assert_eq!(i.engine.flavor, Flavor::V3Ipv6);
    assert_eq!(i.engine.source, Some("fe80::2".parse().unwrap()));
    assert_eq!(
        i.engine.destination,
        Destination::Multicast {
            group: "ff02::12".parse().unwrap()
        }
    );
    assert_eq!(i.engine.advert_interval, Duration::from_millis(500));
}

#[test]
fn an_interface_that_does_not_exist_refuses_like_keepalived() {
    let error = try_resolve(
        "vrrp_instance VI_1 {\n interface eth9\n virtual_router_id 51\n}\n",
        &host(),
    )
    .unwrap_err();
    assert!(
        matches!(&error, ResolveError::UnknownInterface { iface, .. } if iface == "eth9"),
        "{error}"
    );
    assert!(error.to_string().contains("Non-existent interface"));
}

#[test]
fn a_loopback_interface_is_refused() {
    let error = try_resolve(
        "vrrp_instance VI_1 {\n interface lo\n virtual_router_id 51\n}\n",
        &host(),
    )
    .unwrap_err();
    assert!(matches!(error, ResolveError::Loopback { .. }), "{error}");
}

#[test]
fn ah_authentication_is_refused_with_a_hint() {
    let error = try_resolve(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n \
         authentication {\n auth_type AH\n auth_pass secret\n }\n}\n",
        &host(),
    )
    .unwrap_err();
    assert!(matches!(error, ResolveError::Unsupported { .. }), "{error}");
    assert!(error.to_string().contains("auth_type PASS"));
}

#[test]
fn nothing_to_run_is_refused() {
    let error = try_resolve("global_defs {\n router_id x\n}\n", &host()).unwrap_err();
    assert!(matches!(error, ResolveError::NothingToRun), "{error}");
}

#[test]
fn garp_zero_means_off_and_lower_priority_bursts_default_to_the_master_ones() {
    let r = resolved(
        "global_defs {\n vrrp_garp_master_delay 0\n vrrp_garp_master_refresh 0\n \
         vrrp_garp_master_repeat 3\n}\n\
         vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n}\n",
    );
    let garp = &r.instances[0].engine.garp;
    assert_eq!(garp.master_delay, None);
    assert_eq!(garp.master_refresh, None);
    assert_eq!(garp.master_repeat, 3);
    assert_eq!(garp.lower_prio_repeat, 3);
    assert_eq!(garp.lower_prio_delay, None);

    let r = resolved("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n}\n");
    let garp = &r.instances[0].engine.garp;
    assert_eq!(garp.master_delay, Some(Duration::from_secs(5)));
    assert_eq!(garp.lower_prio_delay, Some(Duration::from_secs(5)));
    assert_eq!(garp.lower_prio_repeat, 5);
}

#[test]
fn addresses_go_to_their_dev_and_a_missing_dev_leaves_the_address_out() {
    let r = resolved(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n \
         virtual_ipaddress {\n 192.0.2.100/24\n 198.51.100.100/24 dev eth1 label eth1:vip\n \
         203.0.113.1/24 dev eth7\n }\n \
         virtual_ipaddress_excluded {\n 2001:db8::100/64\n }\n}\n",
    );
    let i = &r.instances[0];
    let links: Vec<(&str, bool)> = i
        .addresses
        .iter()
        .map(|a| (a.link.name.as_str(), a.excluded))
        .collect();
    assert_eq!(links, [("eth0", false), ("eth1", false), ("eth0", true)]);
    assert_eq!(i.addresses[1].label.as_deref(), Some("eth1:vip"));
    assert_eq!(
        i.engine.advertised.len(),
        2,
        "excluded addresses are not advertised"
    );
    assert_eq!(i.engine.announced.len(), 3, "but they are announced");
    assert_eq!(i.engine.announced[1].ifindex, 3);
    assert!(
        r.warnings.iter().any(|w| w.contains("eth7")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn use_vmac_sends_from_the_virtual_mac_and_puts_the_addresses_on_the_macvlan() {
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n use_vmac\n \
                virtual_ipaddress {\n 192.0.2.100/24\n }\n}\n";
    let error = try_resolve(text, &host()).unwrap_err();
    assert!(matches!(error, ResolveError::MissingVmac { ref iface, .. } if iface == "vrrp.51"));
    let mut host = host();
    let mut vmac = interface("vrrp.51", 9, 9);
    vmac.mac = MacAddr([0, 0, 0x5e, 0, 1, 51]);
    host.interfaces.push(vmac);
    let r = try_resolve(text, &host).unwrap();
    let i = &r.instances[0];
    assert_eq!(i.engine.advert_mac, MacAddr([0, 0, 0x5e, 0, 1, 51]));
    assert_eq!(i.addresses[0].link.name, "vrrp.51");
    assert_eq!(i.engine.announced[0].mac, MacAddr([0, 0, 0x5e, 0, 1, 51]));
    assert_eq!(
        i.link.name, "eth0",
        "adverts still come in on the base interface"
    );
}

#[test]
fn an_interface_without_an_address_starts_without_a_source() {
    let mut host = host();
    host.interfaces[1].ipv4.clear();
    let r = try_resolve(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n}\n",
        &host,
    )
    .unwrap();
    assert_eq!(r.instances[0].engine.source, None);
    assert!(r.warnings.iter().any(|w| w.contains("no IPv4 address")));
}

#[test]
fn a_script_tracked_by_two_instances_is_one_tracker_and_sync_groups_use_ids() {
    let r = resolved(
        "vrrp_script chk {\n script \"/bin/true\"\n interval 2\n weight -20\n fall 3\n}\n\
         vrrp_sync_group G {\n group {\n VI_1\n VI_2\n }\n}\n\
         vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n \
         track_script {\n chk\n }\n track_interface {\n eth1 weight 10\n }\n}\n\
         vrrp_instance VI_2 {\n interface eth1\n virtual_router_id 52\n \
         track_script {\n chk weight 0\n }\n}\n",
    );
    let one = &r.instances[0].engine.trackers;
    let two = &r.instances[1].engine.trackers;
    let script = one
        .iter()
        .find(|t| matches!(t.kind, TrackerKind::Script { .. }))
        .unwrap();
    assert_eq!(script.weight, -20);
    assert_eq!(two[0].id, script.id, "one script, one tracker id");
    assert_eq!(
        two[0].weight, 0,
        "the instance's weight overrides the script's"
    );
    let TrackedObject::Script(spec) = &r.trackers[script.id.0 as usize] else {
        panic!("tracker {:?} is not the script", script.id);
    };
    assert_eq!(spec.argv, ["/bin/true"]);
    assert_eq!(spec.interval, Duration::from_secs(2));
    assert_eq!(r.sync_groups[0].members.len(), 2);
    assert_eq!(r.tracker_name(script.id), "chk");
}
