//! One test per diagnostic: a small configuration, the severity, position and message it must
//! produce, and (where it matters) what the model makes of it.

use std::path::Path;

use xvrrpd::config::{self, LoadOptions, Loaded, Severity};

fn load(text: &str) -> Loaded {
    let options = LoadOptions {
        config_id: "node1".to_string(),
        all_config: false,
    };
    config::load_text(Path::new("k.conf"), text, &options)
}

/// A minimal valid instance to wrap test lines in (its address after the body, so that lines
/// of the body are counted from 4).
fn instance(name: &str, vrid: u8, body: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n{body}\n virtual_ipaddress {{\n  192.0.2.{vrid}\n }}\n}}\n"
    )
}

/// The diagnostics of one severity as `line:col: message`.
fn found(loaded: &Loaded, severity: Severity) -> Vec<String> {
    loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .map(|d| match &d.span {
            Some(span) => format!("{}:{}: {}", span.line, span.column(), d.message),
            None => d.message.clone(),
        })
        .collect()
}

/// Asserts the configuration yields exactly one diagnostic of `severity` whose
/// `line:col: message` starts with `expected`.
#[track_caller]
fn expect(text: &str, severity: Severity, expected: &str) -> Loaded {
    let loaded = load(text);
    let found = found(&loaded, severity);
    assert!(
        found.len() == 1 && found[0].starts_with(expected),
        "expected one {severity:?} starting with {expected:?}, got {found:#?}\nin:\n{text}"
    );
    loaded
}

#[test]
fn rendering_shows_file_line_column_source_caret_and_hint() {
    let loaded = load(&instance("VI_1", 1, " prority 100"));
    assert_eq!(
        loaded.diagnostics[0].to_string(),
        "k.conf:4:2: error: unknown keyword 'prority' in vrrp_instance VI_1\n  |\n4 |  prority 100\n  |  ^^^^^^^\n  = hint: did you mean 'priority'?"
    );
}

/// keepalived -t reports an unknown keyword (exit 5) and its daemon runs on; xvrrpd skips the
/// keyword's whole block instead of letting its `}` close the enclosing one.
#[test]
fn unknown_keyword_skips_its_whole_block() {
    let text = instance("VI_1", 1, " vmac_settings {\n  mode x\n }\n priority 42");
    let loaded = expect(
        &text,
        Severity::Error,
        "4:2: unknown keyword 'vmac_settings' in vrrp_instance VI_1 (its { } block is skipped)",
    );
    // The `}` of the unknown block did not end the instance: priority still belongs to it.
    assert_eq!(loaded.config.instances[0].priority.0, 42);
    assert_eq!(loaded.exit_code(false), 5);
    assert!(loaded.config.refusals.is_empty(), "the daemon runs it");
}

#[test]
fn a_block_where_none_belongs_is_skipped() {
    let loaded = expect(
        &instance("VI_1", 1, " priority 50 {\n  nonsense\n }"),
        Severity::Error,
        "4:2: 'priority' takes no { } block; the block is skipped",
    );
    assert_eq!(loaded.config.instances[0].priority.0, 50);
    assert_eq!(loaded.config.instances[0].virtual_ipaddress.len(), 1);
}

#[test]
fn unbalanced_braces() {
    expect(
        "global_defs {\n router_id x\n",
        Severity::Error,
        "1:13: this '{' is never closed",
    );
    expect(
        "global_defs {\n}\n}\n",
        Severity::Error,
        "3:1: '}' closes no block",
    );
    expect(
        "{\n}\n",
        Severity::Error,
        "1:1: '{' does not follow a keyword",
    );
}

#[test]
fn instance_identity() {
    expect(
        "vrrp_instance VI_1 {\n interface eth0\n}\n",
        Severity::Error,
        "1:15: vrrp_instance VI_1 has no virtual_router_id",
    );
    expect(
        &instance("VI_1", 1, " virtual_router_id 256"),
        Severity::Error,
        "4:20: 'virtual_router_id': 256 is outside 1..=255",
    );
    // keepalived uses 100 for an invalid priority.
    let loaded = expect(
        &instance("VI_1", 1, " state MASTER\n priority 0"),
        Severity::Error,
        "5:11: priority '0' must be 1..=255; using 100",
    );
    assert_eq!(loaded.config.instances[0].priority.0, 100);
    // keepalived 2.2.7 stops ("Unknown interface!") without an interface, even for unicast
    // instances and with default_interface.
    let loaded = expect(
        "global_defs {\n default_interface eth0\n}\nvrrp_instance VI_1 {\n virtual_router_id 1\n unicast_src_ip 10.0.0.1\n unicast_peer {\n  10.0.0.2\n }\n}\n",
        Severity::Error,
        "4:15: VI_1 has no interface",
    );
    assert_eq!(
        loaded.config.refusals,
        ["vrrp_instance VI_1 has no interface"]
    );
    let twice = format!("{}{}", instance("VI_1", 1, ""), instance("VI_1", 2, ""));
    expect(
        &twice,
        Severity::Error,
        "9:15: vrrp_instance VI_1 is already defined at k.conf:1",
    );
    expect(
        "vrrp_instance {\n}\n",
        Severity::Error,
        "1:1: vrrp_instance needs exactly one name",
    );
}

/// keepalived stops reading the file at a keyword without its value (exit 2): the daemon
/// refuses to start too.
#[test]
fn a_missing_value_stops_keepalived() {
    let loaded = expect(
        &instance("VI_1", 1, " priority"),
        Severity::Error,
        "4:10: 'priority' needs a value; keepalived stops reading the file here",
    );
    assert_eq!(loaded.config.refusals.len(), 1);
    // Where keepalived checks first, a missing value is only reported.
    let loaded = expect(
        "global_defs {\n router_id\n}\n",
        Severity::Error,
        "2:11: router_id needs a name; ignored",
    );
    assert!(loaded.config.refusals.is_empty());
}

#[test]
fn what_keepalived_refuses_to_start_with_is_recorded() {
    // Checked with keepalived 2.2.7: it exits ("permanent error CONFIG") for an instance
    // without virtual_router_id, and for a VRRPv3 instance without virtual_ipaddress; a
    // VRRPv2 one without addresses runs (reported).
    let loaded = load(&format!(
        "vrrp_instance VI_0 {{\n interface eth0\n}}\n{}",
        instance("VI_1", 1, "")
    ));
    assert_eq!(
        loaded.config.refusals,
        ["vrrp_instance VI_0 has no virtual_router_id"]
    );
    let bare = |body: &str| {
        format!("vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n{body}\n}}\n")
    };
    let loaded = expect(
        &bare(" version 3"),
        Severity::Error,
        "1:15: VI_1 has no virtual_ipaddress, which VRRPv3 requires",
    );
    assert_eq!(loaded.config.refusals.len(), 1);
    let loaded = expect(
        &bare(""),
        Severity::Error,
        "1:15: VI_1 has no virtual_ipaddress",
    );
    assert!(loaded.config.refusals.is_empty());
}

/// keepalived's check_vrid_conflicts: the same VRID and family on an interface is refused
/// only for instances that would share a receive socket and could not be told apart.
#[test]
fn same_vrid_on_an_interface_differing_in_destination() {
    let loaded = expect(
        &format!("{}{}", instance("VI_1", 7, ""), instance("VI_2", 7, "")),
        Severity::Error,
        "9:15: VI_2 and VI_1 (at k.conf:1) both use VRID 7 with IPv4 on eth0; keepalived refuses to start",
    );
    assert_eq!(loaded.config.refusals.len(), 1);
    let accepted = |second: &str| {
        let loaded = load(&format!(
            "{}{}",
            instance("VI_1", 7, ""),
            instance("VI_2", 7, second)
        ));
        assert_eq!(
            loaded.exit_code(false),
            0,
            "{second}: {:#?}",
            loaded.diagnostics
        );
        assert!(loaded.config.refusals.is_empty());
    };
    // Another multicast group, unicast against multicast, another family.
    accepted(" mcast_dst_ip 224.0.0.19");
    accepted(" unicast_peer {\n  10.0.0.2\n }");
    let v6 = "vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n  fe80::7\n }\n}\n";
    let loaded = load(&format!("{}{v6}", instance("VI_1", 7, "")));
    assert_eq!(loaded.exit_code(false), 0, "{:#?}", loaded.diagnostics);
    // Unicast instances differ by their peers.
    let unicast = |peer: &str| format!(" unicast_src_ip 10.0.0.1\n unicast_peer {{\n  {peer}\n }}");
    // keepalived accepts them, telling them apart by the advert's source; so does xvrrpd
    // (InstanceKey::slot), without a word about it (the test's shared address is warned of).
    let loaded = load(&format!(
        "{}{}",
        instance("VI_1", 7, &unicast("10.0.0.2")),
        instance("VI_2", 7, &unicast("10.0.0.3"))
    ));
    assert_eq!(loaded.exit_code(false), 0, "{:#?}", loaded.diagnostics);
    assert_eq!(
        found(&loaded, Severity::Warning),
        ["12:15: virtual address 192.0.2.7 is also in VI_1 at k.conf:1"]
    );
    assert!(loaded.config.refusals.is_empty());
    expect(
        &format!(
            "{}{}",
            instance("VI_1", 7, &unicast("10.0.0.2")),
            instance("VI_2", 7, &unicast("10.0.0.2"))
        ),
        Severity::Error,
        "12:15: VI_2 and VI_1 (at k.conf:1) both use VRID 7 on eth0 from the same address with peer 10.0.0.2",
    );
}

/// keepalived accepts it; both masters would add the address, so xvrrpd warns.
#[test]
fn a_virtual_address_in_two_instances() {
    let vip = " virtual_ipaddress {\n  10.0.0.1/24\n }";
    let text = format!("{}{}", instance("VI_1", 1, vip), instance("VI_2", 2, vip));
    let loaded = expect(
        &text,
        Severity::Warning,
        "11:15: virtual address 10.0.0.1 is also in VI_1 at k.conf:1",
    );
    assert_eq!(loaded.exit_code(false), 0);
}

#[test]
fn sync_groups_name_known_instances_once() {
    let base = instance("VI_1", 1, "") + &instance("VI_2", 2, "");
    let loaded = load(&format!(
        "{base}vrrp_sync_group G {{\n group {{\n  VI_1 VI_3 VI_2\n }}\n}}\n"
    ));
    assert_eq!(
        found(&loaded, Severity::Error),
        ["19:8: vrrp_sync_group G names unknown instance VI_3; ignored"]
    );
    let loaded = load(&format!(
        "{base}vrrp_sync_group G {{\n group {{\n  VI_1 VI_2\n }}\n}}\nvrrp_sync_group H {{\n group {{\n VI_2 VI_1\n }}\n}}\n"
    ));
    assert_eq!(
        found(&loaded, Severity::Error),
        [
            "24:2: VI_2 is already in vrrp_sync_group G; not added to H",
            "24:7: VI_1 is already in vrrp_sync_group G; not added to H",
            "vrrp_sync_group H (k.conf:22) has no members; it is removed"
        ]
    );
    // keepalived reports a group of one ("this probably isn't what you want").
    expect(
        &format!("{base}vrrp_sync_group G {{\n group {{\n  VI_1\n }}\n}}\n"),
        Severity::Error,
        "vrrp_sync_group G (k.conf:17) has a single member",
    );
    let loaded = load("vrrp_sync_group G {\n VI_1\n}\n");
    assert!(
        found(&loaded, Severity::Error)
            .iter()
            .any(|f| f.starts_with("2:2: unknown keyword 'VI_1' in vrrp_sync_group G")),
        "{:#?}",
        loaded.diagnostics
    );
    assert!(
        found(&loaded, Severity::Error)
            .iter()
            .any(|f| f.starts_with("vrrp_sync_group G (k.conf:1) has no members; it is removed"))
    );
}

/// keepalived resolves tracked names as it reads them: what is not defined above is dropped.
#[test]
fn tracking_names_known_scripts_files_and_processes() {
    let loaded = expect(
        &instance("VI_1", 1, " track_script {\n  chk_missing weight -10\n }"),
        Severity::Error,
        "5:3: VI_1: track_script chk_missing is not defined (above this line); ignored",
    );
    assert!(loaded.config.instances[0].track.scripts.is_empty());
    expect(
        &instance("VI_1", 1, " track_file {\n  nofile\n }"),
        Severity::Error,
        "5:3: VI_1: track_file nofile is not defined (above this line); ignored",
    );
    // Defined below the instance: keepalived does not find it either.
    expect(
        &(instance("VI_1", 1, " track_script {\n  chk\n }")
            + "vrrp_script chk {\n script /bin/true\n}\n"),
        Severity::Error,
        "5:3: VI_1: track_script chk is not defined (above this line); ignored",
    );
    let text = "vrrp_script chk {\n script /bin/true\n}\n".to_string() + &instance("VI_1", 1, "");
    expect(
        &text,
        Severity::Warning,
        "vrrp_script chk (k.conf:1) is not tracked by any instance",
    );
    expect(
        "vrrp_script chk {\n interval 2\n}\n",
        Severity::Error,
        "1:1: vrrp_script chk has no script; it is removed",
    );
    let text = "vrrp_script chk {\n script /bin/true\n}\n".to_string()
        + &instance("VI_1", 1, " track_script {\n  chk weight 300\n }");
    expect(
        &text,
        Severity::Error,
        "8:14: VI_1: weight '300' for chk must be in -253..=253; ignored",
    );
    // An owner drops weighted scripts, as keepalived does.
    let text = "vrrp_script chk {\n script /bin/true\n weight -10\n}\n".to_string()
        + &instance("VI_1", 1, " priority 255\n track_script {\n  chk\n }");
    let loaded = expect(
        &text,
        Severity::Error,
        "5:15: VI_1: tracked script chk has a weight and is ignored: it owns its addresses",
    );
    assert!(loaded.config.instances[0].track.scripts.is_empty());
}

/// keepalived's vrrp_sync_set_group and vrrp_complete_instance on a sync group without
/// sync_group_tracking_weight (each message checked with keepalived 2.2.7 -t, exit 5).
#[test]
fn sync_group_members_and_their_weights() {
    let owner = instance("VI_1", 1, " state MASTER\n priority 255");
    let text = "track_file tf {\n file /tmp/tf\n}\n".to_string()
        + &owner
        + &instance(
            "VI_2",
            2,
            " state BACKUP\n track_interface {\n  eth1 weight 10\n }\n track_file {\n  tf weight 1\n }",
        )
        + "vrrp_sync_group G {\n group {\n  VI_1 VI_2\n }\n}\n";
    let loaded = load(&text);
    assert_eq!(
        found(&loaded, Severity::Error),
        [
            "29:8: vrrp_sync_group G: some members own their addresses and some do not; every member starts as BACKUP",
            "13:15: VI_2: the weight of tracked interface eth1 is ignored: it is in a sync group without sync_group_tracking_weight",
            "13:15: VI_2: tracked file tf is tracked with weight 0: it is in a sync group without sync_group_tracking_weight",
        ]
    );
    let vi_2 = &loaded.config.instances[1];
    // keepalived logs that it ignores the interface's weight but applies it (the daemon
    // follows); `weight 1`, written or not, becomes 0 and the file stays tracked.
    assert_eq!(vi_2.track.interfaces[0].weight, Some(10));
    assert_eq!(vi_2.track.files[0].weight, Some(0));
    // Every member starts as BACKUP.
    assert!(
        loaded
            .config
            .instances
            .iter()
            .all(|i| i.state == Some(config::model::InitialState::Backup))
    );
    // With the weight allowed, nothing is reported but the mixed states.
    let weighted = text.replace(" group {", " sync_group_tracking_weight\n group {");
    assert_eq!(found(&load(&weighted), Severity::Error).len(), 1);
    // The BACKUP member first: the group is BACKUP from the start, nothing to report.
    let reordered = text.replace("VI_1 VI_2", "VI_2 VI_1");
    assert_eq!(found(&load(&reordered), Severity::Error).len(), 2);
}

/// keepalived's vrrp_vmac_handler (found by the differential test, seed 144): a name and a MAC
/// once per instance, a name no earlier instance uses, a well-formed unicast MAC outside the
/// RFC 5798 range. Every line checked with keepalived 2.2.7 -t, which reports the same ones.
#[test]
fn use_vmac_words_as_keepalived_reads_them() {
    let bodies = [
        " use_vmac vrrp1 02:00:5e:00:01\n use_vmac vrrp1 02:00:5e:00:01",
        " use_vmac vrrp1",
        " use_vmac 01:00:00:00:00:01",
        " use_vmac 00:00:5e:00:01:05",
        " use_vmac 02:zz",
        " use_vmac 02:00:00",
        " use_vmac vrrp7 vrrp8",
        " use_vmac 02:00:00:00:00:01:07",
        " use_vmac 02:00:00:00:01:",
        " use_vmac 02:00:00:00:01::",
        " use_vmac 002:00:00:00:01",
    ];
    let text: String = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| instance(&format!("VI_{}", i + 1), i as u8 + 1, body))
        .collect();
    let loaded = load(&text);
    assert_eq!(
        found(&loaded, Severity::Error),
        [
            "5:11: use_vmac: the VMAC interface name is already given; 'vrrp1' is ignored",
            "5:17: use_vmac: the VMAC address is already given; '02:00:5e:00:01' is ignored",
            "13:11: VI_2: vrrp_instance VI_1 already uses VMAC interface vrrp1; the name is ignored",
            "21:11: use_vmac: MAC address '01:00:00:00:00:01' is multicast; ignored",
            "29:11: use_vmac: MAC address '00:00:5e:00:01:05' is an RFC 5798 virtual router address; ignored",
            "37:11: use_vmac: MAC address '02:zz' has a character that is neither a hex digit nor a colon; ignored",
            "45:11: use_vmac: MAC address '02:00:00' is not a MAC address; ignored",
            "53:17: use_vmac: the VMAC interface name is already given; 'vrrp8' is ignored",
            "77:11: use_vmac: MAC address '02:00:00:00:01::' is not a MAC address; ignored",
            "85:11: use_vmac: MAC address '002:00:00:00:01' is not a MAC address; ignored",
        ]
    );
    let vmac = |index: usize| loaded.config.instances[index].vmac.clone().unwrap();
    assert_eq!(vmac(0).interface.unwrap().as_str(), "vrrp1");
    assert_eq!(vmac(0).mac.as_deref(), Some("02:00:5e:00:01"));
    assert_eq!((vmac(1).interface, vmac(2).mac), (None, None));
    assert_eq!(vmac(6).interface.unwrap().as_str(), "vrrp7");
    // A seventh octet is ignored, a trailing colon after five is allowed.
    assert!(vmac(7).mac.is_some() && vmac(8).mac.is_some());
}

/// keepalived: VRRPv2 intervals are whole seconds below 256, VRRPv3 centiseconds below 40.96 s;
/// others are rounded or capped, and reported.
#[test]
fn advert_int_per_version() {
    let loaded = expect(
        &instance("VI_1", 1, " advert_int 1.4"),
        Severity::Error,
        "4:13: VI_1: VRRPv2 advertises whole seconds; advert_int 1.4 is rounded to 1",
    );
    assert_eq!(loaded.config.instances[0].advert_int.as_secs(), 1);
    let loaded = expect(
        &instance("VI_1", 1, " advert_int 300"),
        Severity::Error,
        "4:13: 'advert_int': 300 is outside 0.01..=255",
    );
    assert_eq!(loaded.config.instances[0].advert_int.as_secs(), 1);
    let loaded = expect(
        &instance("VI_1", 1, " version 3\n advert_int 0.015"),
        Severity::Error,
        "5:13: VI_1: VRRPv3 advertises in 10 ms steps; advert_int 0.015 is rounded to 0.02",
    );
    assert_eq!(loaded.config.instances[0].advert_int.as_millis(), 20);
    let loaded = expect(
        &instance("VI_1", 1, " version 3\n advert_int 41"),
        Severity::Error,
        "5:13: VI_1: a VRRPv3 advert_int must be below 40.96 s; using 40.95",
    );
    assert_eq!(loaded.config.instances[0].advert_int.as_millis(), 40_950);
    expect(
        &instance("VI_1", 1, " advert_int 0"),
        Severity::Error,
        "4:13: 'advert_int': 0 is outside 0.01..=255",
    );
    expect(
        &instance("VI_1", 1, " advert_int 1s"),
        Severity::Error,
        "4:13: 'advert_int': '1s' is not a number",
    );
    // The global default version applies even when global_defs comes later.
    let loaded =
        load(&(instance("VI_1", 1, " advert_int 0.05") + "global_defs {\n vrrp_version 3\n}\n"));
    assert_eq!(loaded.config.instances[0].advert_int.as_millis(), 50);
}

#[test]
fn authentication_rules() {
    let auth = |body: &str| instance("VI_1", 1, &format!(" authentication {{\n{body}\n }}"));
    let loaded = expect(
        &auth("  auth_type PASS\n  auth_pass 123456789"),
        Severity::Error,
        "6:13: auth_pass is 9 characters; only the first 8 are used",
    );
    assert_eq!(
        loaded.config.instances[0].authentication,
        Some(config::model::Authentication::Pass("12345678".into()))
    );
    expect(
        &auth("  auth_type MD5"),
        Severity::Error,
        "5:13: VI_1: unknown auth_type 'MD5'",
    );
    expect(
        &auth("  auth_type PASS"),
        Severity::Error,
        "4:2: VI_1: authentication without auth_pass is ignored",
    );
    let v3 = instance(
        "VI_1",
        1,
        " version 3\n authentication {\n  auth_type PASS\n  auth_pass x\n }",
    );
    let loaded = expect(
        &v3,
        Severity::Error,
        "5:2: VI_1: VRRPv3 has no authentication (RFC 5798 9); it is ignored",
    );
    assert!(loaded.config.instances[0].authentication.is_none());
    expect(
        &(instance(
            "VI_1",
            1,
            " state MASTER\n priority 100\n authentication {\n  auth_type AH\n  auth_pass x\n }",
        )),
        Severity::Error,
        "4:8: VI_1 starts as BACKUP: initial state MASTER does not work with AH",
    );
}

#[test]
fn state_and_preemption() {
    // keepalived only knows upper case; it runs the instance as BACKUP (and -t exits 5):
    // xvrrpd says so with a warning.
    let loaded = expect(
        &instance("VI_1", 1, " state master"),
        Severity::Warning,
        "4:8: VI_1: unknown state 'master'; using BACKUP",
    );
    assert_eq!(
        loaded.config.instances[0].state,
        Some(config::model::InitialState::Backup)
    );
    expect(
        &instance("VI_1", 1, " state SLAVE"),
        Severity::Warning,
        "4:8: VI_1: unknown state 'SLAVE'; using BACKUP",
    );
    let loaded = expect(
        &instance("VI_1", 1, " state MASTER\n priority 100\n nopreempt"),
        Severity::Error,
        "6:2: VI_1: nopreempt does not work with initial state MASTER",
    );
    assert!(loaded.config.instances[0].preempt);
    let loaded = expect(
        &instance("VI_1", 1, " state BACKUP\n priority 255\n nopreempt"),
        Severity::Error,
        "6:2: VI_1: nopreempt does not work with priority 255",
    );
    assert!(loaded.config.instances[0].preempt);
    // keepalived (vrrp_complete_instance) clears preempt_delay for an instance that wishes
    // MASTER, and an owner without `state` wishes MASTER.
    let loaded = expect(
        &instance("VI_1", 1, " priority 255\n preempt_delay 10"),
        Severity::Error,
        "5:16: VI_1: preempt_delay does not work with initial state MASTER",
    );
    assert!(loaded.config.instances[0].preempt_delay.is_zero());
    expect(
        &instance("VI_1", 1, " nopreempt\n preempt_delay 10"),
        Severity::Error,
        "5:16: VI_1: preempt_delay does not work with nopreempt",
    );
    expect(
        &instance("VI_1", 1, " preempt_delay 1001"),
        Severity::Error,
        "4:16: 'preempt_delay': 1001 is outside 0..=1000",
    );
    // keepalived: MASTER without a priority is the address owner.
    assert_eq!(
        load(&instance("VI_1", 1, " state MASTER")).config.instances[0]
            .priority
            .0,
        255
    );
    assert_eq!(
        load(&instance("VI_1", 1, "")).config.instances[0]
            .priority
            .0,
        100
    );
}

#[test]
fn addresses_and_families() {
    let vips = |lines: &str| instance("VI_1", 1, &format!(" virtual_ipaddress {{\n{lines}\n }}"));
    expect(
        &vips("  10.0.0.256"),
        Severity::Error,
        "5:3: '10.0.0.256' is not an IPv4 or IPv6 address",
    );
    // keepalived uses the full length for an invalid one.
    let loaded = expect(
        &vips("  10.0.0.1/40"),
        Severity::Error,
        "5:3: prefix length '/40' of 10.0.0.1 must be 0..=32; using /32",
    );
    assert_eq!(
        loaded.config.instances[0].virtual_ipaddress[0]
            .address
            .prefix_len,
        32
    );
    // keepalived reports each unknown word (its loop moves one word on) and keeps the address.
    let loaded = load(&vips("  10.0.0.1 device eth0"));
    assert_eq!(
        found(&loaded, Severity::Error),
        [
            "5:12: unknown address option 'device'; ignored",
            "5:19: unknown address option 'eth0'; ignored"
        ]
    );
    assert_eq!(loaded.config.instances[0].virtual_ipaddress.len(), 2);
    expect(
        &vips("  10.0.0.1 dev"),
        Severity::Error,
        "5:12: 'dev' needs a value; the address 10.0.0.1 is ignored",
    );
    expect(
        &vips("  10.0.0.1\n  fd00::1"),
        Severity::Error,
        "6:3: VI_1: fd00::1 is not of the instance's address family; it is ignored",
    );
    let loaded = load(&instance(
        "VI_2",
        2,
        " virtual_ipaddress {\n  fd00::1/64\n }",
    ));
    assert_eq!(
        loaded.config.instances[0].version,
        xvrrpd::protocol::Version::V3,
        "IPv6 without a version is VRRPv3"
    );
    // keepalived keeps an explicit version 2 for IPv6 (non-strict); xvrrpd warns.
    expect(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n version 2\n virtual_ipaddress {\n fd00::1\n }\n}\n",
        Severity::Warning,
        "4:10: VI_1: keepalived sends VRRPv2 over IPv6 here",
    );
    expect(
        &instance("VI_1", 1, " unicast_peer {\n  10.0.0.2 ttl 3\n }"),
        Severity::Error,
        "5:12: unknown unicast_peer option 'ttl'",
    );
    // keepalived takes addresses with a prefix where it wants an address.
    let loaded = load(&instance(
        "VI_1",
        1,
        " unicast_src_ip 10.0.0.1/24\n unicast_peer {\n  10.0.0.2/24\n }",
    ));
    assert_eq!(loaded.exit_code(false), 0, "{:#?}", loaded.diagnostics);
    assert_eq!(
        loaded.config.instances[0].unicast.src_ip,
        Some("10.0.0.1".parse().unwrap())
    );
    assert_eq!(
        loaded.config.instances[0].unicast.peers[0].address,
        "10.0.0.2".parse::<std::net::IpAddr>().unwrap()
    );
    // In 2.2.7 the strict-mode check of unicast peers never fires: keepalived runs it.
    let strict = "global_defs {\n vrrp_strict\n}\n".to_string()
        + &instance("VI_1", 1, " priority 255\n unicast_peer {\n  10.0.0.2\n }");
    assert_eq!(
        load(&strict).exit_code(false),
        0,
        "{:#?}",
        load(&strict).diagnostics
    );
}

/// Every word of keepalived's alloc_route / alloc_rule, with keepalived's refusals.
#[test]
fn routes_and_rules() {
    let routes = |line: &str| instance("VI_1", 1, &format!(" virtual_routes {{\n  {line}\n }}"));
    // keepalived tries an unknown word as the destination: two reports.
    let loaded = load(&routes("10.1.0.0/16 via 10.0.0.1 dev eth0 colour blue"));
    assert_eq!(
        found(&loaded, Severity::Error),
        [
            "5:37: 'colour' is not an IPv4 or IPv6 address",
            "5:37: unknown route keyword 'colour'; the route is ignored"
        ]
    );
    // keepalived 2.2.7 refuses an IPv4 route through an IPv6 gateway (no RFC 5549 routes).
    expect(
        &routes("10.1.0.0/16 via fd00::1 dev eth0"),
        Severity::Error,
        "5:19: IPv4 and IPv6 addresses do not mix in one route",
    );
    expect(
        &routes("0.0.0.0/0 via inet6 fe80::1 dev eth0"),
        Severity::Error,
        "5:17: IPv4 and IPv6 addresses do not mix in one route",
    );
    // `default` takes the family of the rest of the line.
    let loaded = load(&routes("default via inet6 fe80::1 dev eth0"));
    assert_eq!(loaded.exit_code(false), 0, "{:#?}", loaded.diagnostics);
    let route = &loaded.config.instances[0].virtual_routes[0];
    assert_eq!(route.destination.to_string(), "::/0");
    assert_eq!(route.via, Some("fe80::1".parse().unwrap()));
    expect(
        &routes("via 10.0.0.1 dev eth0"),
        Severity::Error,
        "5:3: the route has no destination; the route is ignored",
    );
    let loaded = load(&routes(
        "10.1.0.0/16 via 10.0.0.1 dev eth0 table 100 metric 5 scope link src 10.0.0.9 protocol static no_track mtu lock 1400 rtt 10ms initcwnd 10 features ecn congctl cubic onlink tos 0x10 realms 1/2",
    ));
    assert_eq!(loaded.exit_code(false), 0, "{:#?}", loaded.diagnostics);
    let route = &loaded.config.instances[0].virtual_routes[0];
    assert_eq!(
        (route.table, route.metric, route.scope, route.protocol),
        (Some(100), Some(5), Some(253), Some(4))
    );
    assert_eq!(
        route.metrics.mtu,
        Some(config::model::RouteMetric {
            value: 1400,
            lock: true
        })
    );
    // rtt is in 1/8 ms and at least 200 ms (keepalived's get_time_rtt).
    assert_eq!(route.metrics.rtt.map(|m| m.value), Some(200 * 8));
    assert_eq!(route.realms, Some(1 << 16 | 2));
    // A tracked route without an interface is not tracked (keepalived reports it).
    expect(
        &routes("10.1.0.0/16 via 10.0.0.1"),
        Severity::Error,
        "5:3: route 10.1.0.0/16 has no interface and cannot be tracked",
    );
    let rules = |line: &str| instance("VI_1", 1, &format!(" virtual_rules {{\n  {line}\n }}"));
    let loaded = expect(
        &rules("from 10.0.0.0/8 table 5"),
        Severity::Error,
        "5:3: the rule has no preference; keepalived sets 16384",
    );
    assert_eq!(
        loaded.config.instances[0].virtual_rules[0].preference,
        Some(16384)
    );
    expect(
        &rules("from 10.0.0.0/8 table 5 preference 1 sometimes"),
        Severity::Error,
        "5:40: unknown rule option 'sometimes'; the rule is ignored",
    );
    let loaded = load(&rules(
        "not from 10.0.0.0/8 to 10.1.0.0/16 preference 10 fwmark 0x10/0xff iif eth0 uidrange 1-2 ipproto tcp sport 80-81 lookup main",
    ));
    assert_eq!(loaded.exit_code(false), 0, "{:#?}", loaded.diagnostics);
    let rule = &loaded.config.instances[0].virtual_rules[0];
    assert!(rule.invert);
    assert_eq!(
        (rule.fwmark, rule.fwmask, rule.table),
        (Some(16), Some(255), Some(254))
    );
    assert_eq!(
        (rule.uidrange, rule.ip_proto, rule.sport),
        (Some((1, 2)), Some(6), Some((80, 81)))
    );
}

#[test]
fn values() {
    // keepalived reads booleans in lower case only.
    expect(
        &instance("VI_1", 1, " strict_mode True"),
        Severity::Error,
        "4:14: 'strict_mode': 'True' is not a boolean; the setting is ignored",
    );
    // vrrp_strict (like enable_script_security) ignores its value: a trap worth a warning.
    let loaded = expect(
        "global_defs {\n vrrp_strict false\n}\n",
        Severity::Warning,
        "2:14: 'vrrp_strict false' turns vrrp_strict on",
    );
    assert!(loaded.config.global.vrrp_strict);
    expect(
        "global_defs {\n vrrp_mcast_group4 10.0.0.1\n}\n",
        Severity::Error,
        "2:20: vrrp_mcast_group4 10.0.0.1 is not an IPv4 multicast address",
    );
    // keepalived: "vrrp_garp_interval '0' is invalid" (its default, no gap, stays); a
    // garp_group takes 0.
    expect(
        "global_defs {\n vrrp_garp_interval 0\n}\n",
        Severity::Error,
        "2:21: 'vrrp_garp_interval' must be at least 0.000001 seconds; ignored",
    );
    let loaded = load("garp_group {\n garp_interval 0\n interfaces {\n  eth0\n }\n}\n");
    assert_eq!(loaded.exit_code(false), 0, "{:#?}", loaded.diagnostics);
    expect(
        "global_defs {\n default_interface averyveryverylongname\n}\n",
        Severity::Error,
        "2:20: interface name 'averyveryverylongname' must be 1 to 15 characters long",
    );
    // keepalived rejects `weight - 20` and uses weight 0.
    let text = "vrrp_script s {\n script /bin/true\n weight - 20\n}\n".to_string()
        + &instance("VI_1", 1, " track_script {\n  s\n }");
    let loaded = load(&text);
    assert_eq!(loaded.config.scripts[0].weight, 0);
    assert!(
        loaded.diagnostics.iter().any(|d| d
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("write 'weight -20'"))),
        "{:#?}",
        loaded.diagnostics
    );
    expect(
        &instance("VI_1", 1, " notify_master \"/bin/x 'open\""),
        Severity::Error,
        "4:16: 'notify_master': missing terminating ' quote; the script is ignored",
    );
    // keepalived compares the checker protocol without case, and takes
    // persistence_timeout without a value (6 minutes).
    let loaded = load("virtual_server 10.0.0.1 80 {\n protocol tcp\n persistence_timeout\n}\n");
    assert_eq!(loaded.exit_code(false), 0, "{:#?}", loaded.diagnostics);
    assert_eq!(
        loaded.config.virtual_servers[0].protocol.as_deref(),
        Some("TCP")
    );
    assert_eq!(
        loaded.config.virtual_servers[0].persistence_timeout,
        Some(360)
    );
}

#[test]
fn ordering_quirk_of_global_defaults_is_reported() {
    let text = instance("VI_1", 1, "") + "global_defs {\n vrrp_garp_master_repeat 2\n}\n";
    let loaded = expect(
        &text,
        Severity::Warning,
        "9:1: global_defs after vrrp_instance VI_1: its GARP and timer defaults do not apply",
    );
    assert_eq!(
        loaded.config.instances[0].garp.master_repeat, 5,
        "keepalived copies defaults at parse time"
    );
}

/// Script lines are split the way keepalived splits them: the first word is the command
/// (quoted, it carries the arguments), the next two the user and the group, the rest is
/// ignored.
#[test]
fn script_lines() {
    // The line is split twice: `\t` becomes a tab in the first pass, which the second pass
    // splits on; `\\t` survives the first pass and becomes a tab inside a word in the second.
    let loaded = load(&instance(
        "VI_1",
        1,
        " notify_master '/bin/x a\\tb' root root extra\n notify_backup '/bin/y a\\\\tb'",
    ));
    let notify = &loaded.config.instances[0].notify;
    let script = notify.master.as_ref().unwrap();
    assert_eq!(script.argv, ["/bin/x", "a", "b"]);
    assert_eq!(notify.backup.as_ref().unwrap().argv, ["/bin/y", "a\tb"]);
    assert_eq!(
        (script.user.as_deref(), script.group.as_deref()),
        (Some("root"), Some("root"))
    );
    assert_eq!(loaded.exit_code(false), 0);
    // `script` takes one word: an unquoted command line loses its arguments, as in keepalived.
    let loaded = load("vrrp_script s {\n script /bin/check arg1\n}\n");
    assert_eq!(loaded.config.scripts[0].script.argv, ["/bin/check"]);
    // keepalived keeps the first of two notify scripts.
    let loaded = load(&instance(
        "VI_1",
        1,
        " notify_master /bin/a\n notify_master /bin/b",
    ));
    assert_eq!(
        loaded.config.instances[0]
            .notify
            .master
            .as_ref()
            .unwrap()
            .argv,
        ["/bin/a"]
    );
}

#[test]
fn preprocessor_errors() {
    expect(
        "$A=$B\n$B=$A\nrouter_id $A\n",
        Severity::Error,
        "3:1: definitions expand more than 32 levels deep",
    );
    expect(
        "~SEQ(i,1,0,3) x\n",
        Severity::Error,
        "1:1: invalid ~SEQ values '~SEQ(i,1,0,3) x'",
    );
    expect(
        "include\n",
        Severity::Error,
        "1:1: include takes exactly one file name or pattern",
    );
    // Bounded work, whatever the input: nested repetition, definitions that double each time.
    expect(
        "global_defs {\n notification_email {\n  ~SEQ(i,1,1000) ~SEQ(j,1,1000) ${i}.${j}@example.com\n }\n}\n",
        Severity::Error,
        "3:18: repetition makes the configuration longer than 100000 lines",
    );
    let doubling: String = (0..20)
        .map(|n| format!("$D{n}=$D{} $D{}\n", n + 1, n + 1))
        .collect();
    expect(
        &(doubling + "$D20=x\nrouter_id $D0\n"),
        Severity::Error,
        "22:1: definitions expand this line to more than 65536 bytes",
    );
}

/// keepalived -t reports an invalid number its handler reads with `ignore_error`, but the
/// running keepalived takes what strtoul read (seed 831 of the differential test).
#[test]
fn an_invalid_garp_delay_is_reported_and_read_as_strtoul_reads_it() {
    let loaded = load(&instance(
        "VI_1",
        1,
        " garp_lower_prio_delay x\n garp_master_delay 7s",
    ));
    let errors = found(&loaded, Severity::Error);
    assert!(
        errors.len() == 2 && errors[0].contains("'x' is not a number"),
        "{errors:#?}"
    );
    let garp = &loaded.config.instances[0].garp;
    assert_eq!(garp.lower_prio_delay, Some(std::time::Duration::ZERO));
    assert_eq!(garp.master_delay, std::time::Duration::from_secs(7));
}

/// keepalived checks the scripts of every instance it read before it refuses one (seeds 216
/// and 812): the refused instance's notify scripts are kept for that check.
#[test]
fn a_refused_instance_keeps_its_notify_scripts_for_the_security_check() {
    let loaded = load(
        "vrrp_instance VI_1 {\n interface eth0\n notify_master /bin/true\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n",
    );
    assert!(loaded.config.instances.is_empty());
    let (name, notify) = &loaded.config.refused_notify[0];
    assert_eq!(name, "VI_1");
    assert_eq!(notify.master.as_ref().unwrap().argv, ["/bin/true"]);
}

/// keepalived clears the weight of what a sync group tracks when a member owns its addresses,
/// and reports it (seed 1000509 of the differential test).
#[test]
fn a_sync_group_with_an_owner_member_tracks_without_weight() {
    let text = format!(
        "vrrp_script chk {{\n script /bin/true\n weight 10\n}}\n{}{}vrrp_sync_group G1 {{\n group {{\n  VI_1\n  VI_2\n }}\n track_script {{\n  chk\n }}\n}}\n",
        instance("VI_1", 1, " priority 255"),
        instance("VI_2", 2, "")
    );
    let loaded = load(&text);
    let errors = found(&loaded, Severity::Error);
    assert!(
        errors.iter().any(|e| e.starts_with(
            "vrrp_sync_group G1: tracked script chk cannot have a weight when a member has priority 255"
        )),
        "{errors:#?}"
    );
    assert_eq!(
        loaded.config.sync_groups[0].track.scripts[0].weight,
        Some(0)
    );
}
