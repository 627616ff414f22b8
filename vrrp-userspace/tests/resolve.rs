//! The resolve step: keepalived.conf text + made-up host facts -> what the daemon runs, against
//! keepalived 2.2.7's rules (vrrp_complete_instance, vrrp_complete_init,
//! sync_group_tracking_init, create_vmac_name), one test per rule. Where keepalived's behaviour
//! was checked in a network namespace the test says so.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

use xvrrpd::config::{self, LoadOptions};
use xvrrpd::daemon::host::{HostFacts, HostInterface};
use xvrrpd::daemon::resolve::{
    ReceiveMode, ResolveError, Resolved, SourceRule, TrackedObject, UnicastChecksum, resolve,
};
use xvrrpd::daemon::vmac;
use xvrrpd::engine::{Destination, Flavor, InitialState, MacAddr, TrackerConfig, TrackerKind};
use xvrrpd::protocol::{Auth, Priority};

fn interface(name: &str, ifindex: u32, last: u8) -> HostInterface {
    HostInterface {
        name: name.into(),
        ifindex,
        mac: MacAddr([2, 0, 0, 0, 0, last]),
        up: true,
        loopback: false,
        ipv4: vec![Ipv4Addr::new(192, 0, 2, last)],
        ipv6_link_local: Some(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, u16::from(last))),
        ipv6: vec![Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(last))],
        ipv6_forwarding: false,
        ipv6_hop_limit: 64,
    }
}

fn host() -> HostFacts {
    let mut lo = interface("lo", 1, 0);
    lo.loopback = true;
    HostFacts {
        interfaces: vec![
            lo,
            interface("eth0", 2, 1),
            interface("eth1", 3, 2),
            interface("trk0", 4, 3),
        ],
    }
}

fn load(text: &str) -> config::model::Config {
    let options = LoadOptions {
        config_id: "node1".to_string(),
        all_config: false,
    };
    config::load_text(Path::new("k.conf"), text, &options).config
}

fn try_resolve(text: &str, host: &HostFacts) -> Result<Resolved, ResolveError> {
    resolve(&load(text), host)
}

fn resolved(text: &str) -> Resolved {
    try_resolve(text, &host()).unwrap_or_else(|e| panic!("{e}"))
}

const ETH0_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);

/// An instance's trackers as `(object name, weight, reverse)`.
fn trackers(resolved: &Resolved, instance: usize) -> Vec<(String, i32, bool)> {
    resolved.instances[instance]
        .engine
        .trackers
        .iter()
        .map(|t: &TrackerConfig| (resolved.tracker_name(t.id).to_owned(), t.weight, t.reverse))
        .collect()
}

const SCRIPTS: &str = "vrrp_script chk {\n script /bin/true\n weight -20\n}\n\
                       vrrp_script other {\n script /bin/true\n}\n";

#[test]
fn sync_group_trackers_apply_to_every_member_and_member_weights_mostly_do_not() {
    // Checked with keepalived 2.2.7: the group's weighted track_script lowers both members to
    // 80; a member's own weighted track_script is ignored; a member's weighted
    // track_interface is logged as ignored but still applies (100 -> 70 when it went down).
    let resolved = resolved(&format!(
        "{SCRIPTS}\
         vrrp_sync_group G {{\n group {{\n  VI_1\n  VI_2\n }}\n track_script {{\n  chk\n }}\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n\
         track_script {{\n  other weight -10\n }}\n track_interface {{\n  eth1 weight -30\n }}\n}}\n\
         vrrp_instance VI_2 {{\n interface eth0\n virtual_router_id 2\n}}\n"
    ));
    assert_eq!(
        trackers(&resolved, 0),
        [("eth1".into(), -30, false), ("chk".into(), -20, false)]
    );
    assert_eq!(trackers(&resolved, 1), [("chk".into(), -20, false)]);
}

#[test]
fn sync_group_tracking_weight_keeps_member_weights() {
    let resolved = resolved(&format!(
        "{SCRIPTS}\
         vrrp_sync_group G {{\n group {{\n  VI_1\n  VI_2\n }}\n sync_group_tracking_weight\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n\
         track_script {{\n  other weight -10\n }}\n}}\n\
         vrrp_instance VI_2 {{\n interface eth0\n virtual_router_id 2\n}}\n"
    ));
    assert_eq!(trackers(&resolved, 0), [("other".into(), -10, false)]);
}

#[test]
fn a_group_with_an_owner_tracks_without_weights() {
    let resolved = resolved(&format!(
        "{SCRIPTS}\
         vrrp_sync_group G {{\n group {{\n  VI_1\n  VI_2\n }}\n track_script {{\n  chk\n }}\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n priority 255\n}}\n\
         vrrp_instance VI_2 {{\n interface eth0\n virtual_router_id 2\n}}\n"
    ));
    assert_eq!(trackers(&resolved, 0), [("chk".into(), 0, false)]);
    assert_eq!(trackers(&resolved, 1), [("chk".into(), 0, false)]);
}

#[test]
fn an_owner_drops_weighted_scripts() {
    let resolved = resolved(&format!(
        "{SCRIPTS}vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n priority 255\n\
         track_script {{\n  chk\n  other\n }}\n}}\n"
    ));
    assert_eq!(trackers(&resolved, 0), [("other".into(), 0, false)]);
}

#[test]
fn a_script_line_with_a_weight_keeps_the_scripts_reverse() {
    let resolved = resolved(
        "vrrp_script chk {\n script /bin/true\n weight 10 reverse\n}\n\
         vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n\
         track_script {\n  chk weight 20\n }\n}\n",
    );
    assert_eq!(trackers(&resolved, 0), [("chk".into(), 20, true)]);
}

#[test]
fn addresses_routes_and_rules_track_the_interfaces_they_live_on() {
    // Checked with keepalived 2.2.7: a master whose VIP lives on another interface goes FAULT
    // when that interface goes down.
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n\
         virtual_ipaddress {\n  10.0.0.1/32\n  10.0.0.2/32 dev eth1\n  10.0.0.3/32 dev trk0 no_track\n }\n\
         virtual_routes {\n  10.9.0.0/24 dev trk0\n }\n\
         track_interface {\n  eth1 weight -10\n  eth0\n }\n}\n";
    let resolved = resolved(text);
    // eth1's weight becomes 0 (an address lives on it: add_vrrp_to_interface), eth0 is the
    // instance's own interface (InterfaceUp/Down), 10.0.0.3 says no_track, the route does not.
    assert_eq!(
        trackers(&resolved, 0),
        [("eth1".into(), 0, false), ("trk0".into(), 0, false)]
    );
    // keepalived reports tracking the own interface as a configuration error; the reader
    // drops it and says so.
    let loaded = config::load_text(
        Path::new("k.conf"),
        text,
        &LoadOptions {
            config_id: "node1".to_string(),
            all_config: false,
        },
    );
    assert!(
        loaded.diagnostics.iter().any(|d| d
            .message
            .contains("track_interface eth0 is its own interface")),
        "{:#?}",
        loaded.diagnostics
    );
    assert!(
        resolved
            .trackers
            .iter()
            .all(|t| !matches!(t, TrackedObject::Interface(l) if l.name == "eth0"))
    );
}

#[test]
fn a_missing_interface_anywhere_refuses_to_start() {
    // Checked with keepalived 2.2.7: "Non-existent interface specified in configuration" for
    // a VIP's dev and a route's dev alike, and it exits.
    for body in [
        " virtual_ipaddress {\n  10.0.0.2/32 dev nosuch0\n }",
        " virtual_routes {\n  10.9.0.0/24 dev nosuch0 no_track\n }",
        " virtual_rules {\n  from 10.9.0.0/24 table 10 iif nosuch0\n }",
        " track_interface {\n  nosuch0\n }",
    ] {
        let text =
            format!("vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n{body}\n}}\n");
        let result = resolve(&load(&text), &host());
        assert!(
            matches!(&result, Err(ResolveError::UnknownInterface { iface, .. }) if iface == "nosuch0"),
            "{body}: {result:?}"
        );
    }
}

#[test]
fn lower_priority_garps_default_to_the_global_master_settings() {
    // Checked with keepalived 2.2.7: an instance with garp_master_repeat 2 and
    // garp_master_delay 2 answers a lower priority with 5 GARPs at once and 5 more 5 s later.
    let resolved = resolved(
        "global_defs {\n vrrp_garp_master_repeat 3\n}\n\
         vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n\
         garp_master_repeat 2\n garp_master_delay 2\n}\n",
    );
    let garp = &resolved.instances[0].engine.garp;
    assert_eq!(garp.master_repeat, 2);
    assert_eq!(garp.master_delay, Some(Duration::from_secs(2)));
    assert_eq!(garp.lower_prio_repeat, 3);
    assert_eq!(garp.lower_prio_delay, Some(Duration::from_secs(5)));
}

#[test]
fn ipv6_unicast_adverts_get_the_kernels_hop_limit() {
    // Checked with keepalived 2.2.7: IPv6 unicast adverts leave with hop limit 64 (the
    // interface's hop_limit), 200 with unicast_ttl 200; IPv4 unicast with TTL 255.
    let resolved = resolved(
        "vrrp_instance VI_6 {\n interface eth0\n virtual_router_id 1\n\
         unicast_peer {\n  2001:db8::2\n }\n virtual_ipaddress {\n  2001:db8::100/128\n }\n}\n\
         vrrp_instance VI_7 {\n interface eth0\n virtual_router_id 2\n unicast_ttl 200\n\
         unicast_peer {\n  2001:db8::2\n }\n virtual_ipaddress {\n  2001:db8::101/128\n }\n}\n\
         vrrp_instance VI_4 {\n interface eth0\n virtual_router_id 3\n\
         unicast_peer {\n  192.0.2.2\n }\n}\n",
    );
    let ttls: Vec<u8> = resolved
        .instances
        .iter()
        .map(|i| match &i.engine.destination {
            Destination::Unicast { ttl, .. } => *ttl,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ttls, [64, 200, 255]);
}

#[test]
fn the_state_keyword_reaches_the_engine_as_a_wish() {
    let resolved = resolved(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n state MASTER\n}\n\
         vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 2\n priority 255\n}\n\
         vrrp_instance VI_3 {\n interface eth0\n virtual_router_id 3\n state BACKUP\n priority 255\n}\n",
    );
    let states: Vec<_> = resolved
        .instances
        .iter()
        .map(|i| (i.engine.priority.0, i.engine.initial_state))
        .collect();
    assert_eq!(
        states,
        [
            (255, Some(InitialState::Master)),
            // keepalived's vrrp_complete_instance: the address owner wishes MASTER.
            (255, Some(InitialState::Master)),
            (255, Some(InitialState::Backup))
        ]
    );
}

#[test]
fn vmac_names_follow_keepalived() {
    let config = load(
        "vrrp_instance V4 {\n interface eth0\n virtual_router_id 51\n use_vmac\n}\n\
         vrrp_instance V6 {\n interface eth0\n virtual_router_id 51\n use_vmac\n\
         virtual_ipaddress {\n  fe80::51/64\n }\n}\n\
         vrrp_instance TAKEN {\n interface eth0\n virtual_router_id 52\n use_vmac\n}\n\
         vrrp_instance NAMED {\n interface eth0\n virtual_router_id 53\n use_vmac vmac53\n}\n",
    );
    let mut host = host();
    // An unrelated interface already has the name keepalived would try first.
    host.interfaces.push(interface("vrrp.52", 9, 9));
    assert_eq!(
        vmac::names(&config, &host),
        [
            Some("vrrp.51".to_string()),
            Some("vrrp6.51".to_string()),
            Some("vrrp1.52".to_string()),
            Some("vmac53".to_string())
        ]
    );
    // Its own VMAC (the virtual router MAC) keeps the first name.
    let mut own = interface("vrrp.52", 9, 9);
    own.mac = MacAddr([0, 0, 0x5e, 0, 1, 52]);
    let mut host = self::host();
    host.interfaces.push(own);
    assert_eq!(vmac::names(&config, &host)[2].as_deref(), Some("vrrp.52"));
}

#[test]
fn a_configured_vmac_mac_is_used_unless_keepalived_would_refuse_it() {
    let config = load(
        "vrrp_instance A {\n interface eth0\n virtual_router_id 51\n use_vmac 02:11:22:33:44:55\n}\n\
         vrrp_instance B {\n interface eth0\n virtual_router_id 52\n use_vmac 02:11:22:33:44\n}\n\
         vrrp_instance C {\n interface eth0\n virtual_router_id 53\n use_vmac 03:11:22:33:44:55\n}\n",
    );
    let macs: Vec<MacAddr> = config.instances.iter().map(vmac::mac).collect();
    assert_eq!(
        macs,
        [
            MacAddr([2, 0x11, 0x22, 0x33, 0x44, 0x55]),
            MacAddr([2, 0x11, 0x22, 0x33, 0x44, 52]),
            // Multicast: keepalived ignores it.
            MacAddr([0, 0, 0x5e, 0, 1, 53]),
        ]
    );
}

#[test]
fn the_instance_interface_is_its_base_link() {
    let resolved = resolved("vrrp_instance VI_1 {\n interface eth1\n virtual_router_id 1\n}\n");
    let link = resolved.instances[0].engine.base_link.expect("set");
    assert_eq!(link.ifindex, 3);
    assert_eq!(
        resolved.instances[0].engine.source,
        Some(IpAddr::from([192, 0, 2, 2]))
    );
}

#[test]
fn what_keepalived_refuses_to_start_with_is_refused() {
    // Checked with keepalived 2.2.7: a VRRPv3 instance without virtual_ipaddress stops the
    // whole daemon, the other instances included.
    let config = load(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n version 3\n}\n\
         vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 2\n}\n",
    );
    assert!(matches!(
        resolve(&config, &host()),
        Err(ResolveError::KeepalivedRefuses { reason }) if reason.contains("VI_1")
    ));
}

#[test]
fn vrrp_min_garp_only_replaces_defaults() {
    // keepalived's vrrp_min_garp_handler: "don't overwrite any parameters already set".
    let resolved = resolved(
        "global_defs {\n vrrp_garp_master_repeat 3\n vrrp_min_garp\n}\n\
         vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n}\n",
    );
    let garp = &resolved.instances[0].engine.garp;
    assert_eq!(garp.master_repeat, 3);
    assert_eq!(garp.master_delay, None);
    assert_eq!(garp.master_refresh_repeat, 0);
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
fn addresses_go_to_their_dev_and_excluded_ones_are_announced_not_advertised() {
    let r = resolved(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n \
         virtual_ipaddress {\n 192.0.2.100/24\n 198.51.100.100/24 dev eth1 label eth1:vip\n }\n \
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
fn a_script_tracked_by_two_instances_is_one_tracker() {
    let r = resolved(
        "vrrp_script chk {\n script \"/bin/true\"\n interval 2\n weight -20\n fall 3\n}\n\
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
    assert_eq!(r.tracker_name(script.id), "chk");
}
