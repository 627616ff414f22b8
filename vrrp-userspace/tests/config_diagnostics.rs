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

/// A minimal valid instance to wrap test lines in.
fn instance(name: &str, vrid: u8, body: &str) -> String {
    format!("vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n{body}\n}}\n")
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
        "k.conf:4:2: warning: unknown keyword 'prority' in vrrp_instance VI_1\n  |\n4 |  prority 100\n  |  ^^^^^^^\n  = hint: did you mean 'priority'?"
    );
}

#[test]
fn unknown_keyword_skips_its_whole_block() {
    let text = instance("VI_1", 1, " vmac_settings {\n  mode x\n }\n priority 42");
    let loaded = expect(
        &text,
        Severity::Warning,
        "4:2: unknown keyword 'vmac_settings' in vrrp_instance VI_1 (its { } block is skipped)",
    );
    // The `}` of the unknown block did not end the instance: priority still belongs to it.
    assert_eq!(loaded.config.instances[0].priority.0, 42);
    assert_eq!(loaded.exit_code(false), 0);
    assert_eq!(
        loaded.exit_code(true),
        5,
        "--strict-config makes warnings errors"
    );
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
        "4:20: 'virtual_router_id' value '256' must be a whole number in 1..=255",
    );
    expect(
        &instance("VI_1", 1, " priority 0"),
        Severity::Error,
        "4:11: priority '0' must be 1..=255",
    );
    expect(
        "vrrp_instance VI_1 {\n virtual_router_id 1\n}\n",
        Severity::Error,
        "1:15: VI_1 has no interface",
    );
    let twice = format!("{}{}", instance("VI_1", 1, ""), instance("VI_1", 2, ""));
    expect(
        &twice,
        Severity::Error,
        "6:15: vrrp_instance VI_1 is already defined at k.conf:1",
    );
    expect(
        "vrrp_instance {\n}\n",
        Severity::Error,
        "1:1: vrrp_instance needs a name",
    );
}

#[test]
fn what_keepalived_refuses_to_start_with_is_recorded() {
    // Checked with keepalived 2.2.7: it exits ("permanent error CONFIG") for an instance
    // without virtual_router_id, and for a VRRPv3 instance without virtual_ipaddress; a
    // VRRPv2 one without addresses runs.
    let loaded = load(&format!(
        "vrrp_instance VI_0 {{\n interface eth0\n}}\n{}",
        instance("VI_1", 1, "")
    ));
    assert_eq!(
        loaded.config.refusals,
        ["vrrp_instance VI_0 has no virtual_router_id"]
    );
    let loaded = expect(
        &instance("VI_1", 1, " version 3"),
        Severity::Error,
        "1:15: VI_1 has no virtual_ipaddress, which VRRPv3 requires",
    );
    assert_eq!(loaded.config.refusals.len(), 1);
    assert!(load(&instance("VI_1", 1, "")).config.refusals.is_empty());
}

#[test]
fn duplicate_vrid_and_family_on_an_interface() {
    let text = format!("{}{}", instance("VI_1", 7, ""), instance("VI_2", 7, ""));
    expect(
        &text,
        Severity::Error,
        "6:15: VRID 7 (IPv4) on eth0 is already used by VI_1 at k.conf:1",
    );
    // The same VRID for IPv6 is a different router (RFC 5798 7.3 keys by family too).
    let v6 = format!(
        "{}{}",
        instance("VI_1", 7, ""),
        instance(
            "VI_2",
            7,
            " native_ipv6\n virtual_ipaddress {\n  fe80::7\n }"
        )
    );
    assert!(
        load(&v6)
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Warning || d.severity < Severity::Error)
    );
}

#[test]
fn a_virtual_address_in_two_instances() {
    let vip = " virtual_ipaddress {\n  10.0.0.1/24\n }";
    let text = format!("{}{}", instance("VI_1", 1, vip), instance("VI_2", 2, vip));
    expect(
        &text,
        Severity::Error,
        "8:15: virtual address 10.0.0.1 is also in VI_1 at k.conf:1",
    );
}

#[test]
fn sync_groups_name_known_instances_once() {
    let base = instance("VI_1", 1, "") + &instance("VI_2", 2, "");
    expect(
        &format!("{base}vrrp_sync_group G {{\n group {{\n  VI_1 VI_3\n }}\n}}\n"),
        Severity::Error,
        "13:8: vrrp_sync_group G names unknown instance VI_3",
    );
    expect(
        &format!(
            "{base}vrrp_sync_group G {{\n group {{\n  VI_1 VI_2\n }}\n}}\nvrrp_sync_group H {{\n group {{\n VI_2\n }}\n}}\n"
        ),
        Severity::Error,
        "18:2: VI_2 is already in vrrp_sync_group G",
    );
    expect(
        &format!("{base}vrrp_sync_group G {{\n group {{\n  VI_1\n }}\n}}\n"),
        Severity::Warning,
        "vrrp_sync_group G (k.conf:11) has a single member",
    );
    expect(
        "vrrp_sync_group G {\n VI_1\n}\n",
        Severity::Error,
        "1:1: vrrp_sync_group G has no members",
    );
}

#[test]
fn tracking_names_known_scripts_files_and_processes() {
    let text = instance("VI_1", 1, " track_script {\n  chk_missing weight -10\n }");
    expect(
        &text,
        Severity::Error,
        "5:3: vrrp_instance VI_1 tracks unknown vrrp_script chk_missing",
    );
    let text = instance("VI_1", 1, " track_file {\n  nofile\n }");
    expect(
        &text,
        Severity::Error,
        "5:3: vrrp_instance VI_1 tracks unknown track_file nofile",
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
        "1:1: vrrp_script chk has no script",
    );
    let text = "vrrp_script chk {\n script /bin/true\n}\n".to_string()
        + &instance("VI_1", 1, " track_script {\n  chk weight 300\n }");
    expect(
        &text,
        Severity::Error,
        "8:14: weight '300' must be a whole number in -253..=253",
    );
}

#[test]
fn advert_int_per_version() {
    let loaded = expect(
        &instance("VI_1", 1, " advert_int 1.4"),
        Severity::Warning,
        "4:13: VI_1: VRRPv2 advertises whole seconds; advert_int 1.4 rounded to 1",
    );
    assert_eq!(loaded.config.instances[0].advert_int.as_secs(), 1);
    expect(
        &instance("VI_1", 1, " advert_int 300"),
        Severity::Error,
        "4:13: advert_int 300 is out of range for VRRPv2 (1..255 s)",
    );
    let loaded = expect(
        &instance("VI_1", 1, " version 3\n advert_int 0.015"),
        Severity::Warning,
        "5:13: VI_1: VRRPv3 advertises in 10 ms steps; advert_int 0.015 rounded to 0.02",
    );
    assert_eq!(loaded.config.instances[0].advert_int.as_millis(), 20);
    expect(
        &instance(
            "VI_1",
            1,
            " version 3\n advert_int 41\n virtual_ipaddress {\n  10.0.0.1\n }",
        ),
        Severity::Error,
        "5:13: advert_int 41 is out of range for VRRPv3 (0.01..40.95 s)",
    );
    expect(
        &instance("VI_1", 1, " advert_int 0"),
        Severity::Error,
        "4:13: advert_int must be greater than 0",
    );
    expect(
        &instance("VI_1", 1, " advert_int 1s"),
        Severity::Error,
        "4:13: 'advert_int': '1s' is not a time in seconds",
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
        Severity::Warning,
        "6:13: auth_pass is 9 characters; only the first 8 are used",
    );
    assert_eq!(
        loaded.config.instances[0].authentication,
        Some(config::model::Authentication::Pass("12345678".into()))
    );
    expect(
        &auth("  auth_type MD5"),
        Severity::Error,
        "5:13: unknown auth_type 'MD5'",
    );
    expect(
        &auth("  auth_type PASS"),
        Severity::Error,
        "4:2: auth_type PASS without auth_pass",
    );
    let v3 = instance(
        "VI_1",
        1,
        " version 3\n authentication {\n  auth_type PASS\n  auth_pass x\n }",
    );
    let loaded = expect(
        &v3,
        Severity::Warning,
        "5:2: authentication is ignored: VI_1 uses VRRPv3",
    );
    assert!(loaded.config.instances[0].authentication.is_none());
    expect(
        &(instance(
            "VI_1",
            1,
            " state MASTER\n priority 100\n authentication {\n  auth_type AH\n }",
        )),
        Severity::Warning,
        "4:8: VI_1 starts as BACKUP: initial state MASTER does not work with AH",
    );
}

#[test]
fn state_and_preemption() {
    let loaded = expect(
        &instance("VI_1", 1, " state backup"),
        Severity::Warning,
        "4:8: state 'backup' read as BACKUP",
    );
    assert_eq!(
        loaded.config.instances[0].state,
        Some(config::model::InitialState::Backup)
    );
    expect(
        &instance("VI_1", 1, " state STANDBY"),
        Severity::Error,
        "4:8: unknown state 'STANDBY'; using BACKUP",
    );
    let loaded = expect(
        &instance("VI_1", 1, " state MASTER\n priority 100\n nopreempt"),
        Severity::Warning,
        "6:2: nopreempt does not work with initial state MASTER",
    );
    assert!(loaded.config.instances[0].preempt);
    let loaded = expect(
        &instance("VI_1", 1, " state BACKUP\n priority 255\n nopreempt"),
        Severity::Warning,
        "6:2: nopreempt does not work with priority 255",
    );
    assert!(loaded.config.instances[0].preempt);
    // keepalived (vrrp_complete_instance) clears preempt_delay for an instance that wishes
    // MASTER, and an owner without `state` wishes MASTER.
    let loaded = expect(
        &instance("VI_1", 1, " priority 255\n preempt_delay 10"),
        Severity::Warning,
        "5:16: preempt_delay does not work with initial state MASTER",
    );
    assert!(loaded.config.instances[0].preempt_delay.is_zero());
    expect(
        &instance("VI_1", 1, " nopreempt\n preempt_delay 10"),
        Severity::Warning,
        "5:16: preempt_delay has no effect with nopreempt",
    );
    expect(
        &instance("VI_1", 1, " preempt_delay 1001"),
        Severity::Error,
        "4:16: 'preempt_delay' must be at most 1000 seconds",
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
    expect(
        &vips("  10.0.0.1/40"),
        Severity::Error,
        "5:3: prefix length '/40' must be 0..=32",
    );
    expect(
        &vips("  10.0.0.1 device eth0"),
        Severity::Error,
        "5:12: unknown address option 'device'",
    );
    expect(
        &vips("  10.0.0.1 dev"),
        Severity::Error,
        "5:15: 'dev' needs a value",
    );
    expect(
        &vips("  10.0.0.1\n  fd00::1"),
        Severity::Error,
        "6:3: fd00::1 is not an IPv4 address like the rest of VI_1",
    );
    let loaded = load(&vips("  fd00::1/64"));
    assert_eq!(
        loaded.config.instances[0].version,
        xvrrpd::protocol::Version::V3,
        "IPv6 is always VRRPv3"
    );
    expect(
        &instance("VI_1", 1, " version 2\n virtual_ipaddress {\n fd00::1\n }"),
        Severity::Error,
        "4:10: VI_1 is IPv6, which VRRPv2 does not carry",
    );
    expect(
        &instance("VI_1", 1, " unicast_peer {\n  10.0.0.2 ttl 3\n }"),
        Severity::Error,
        "5:12: unexpected 'ttl' after a unicast peer",
    );
    let strict = "global_defs {\n vrrp_strict\n}\n".to_string()
        + &instance(
            "VI_1",
            1,
            " unicast_peer {\n  10.0.0.2\n }\n virtual_ipaddress {\n  10.0.0.1\n }",
        );
    expect(
        &strict,
        Severity::Error,
        "7:2: strict mode forbids unicast peers in VI_1",
    );
}

#[test]
fn routes_and_rules() {
    let routes = |line: &str| instance("VI_1", 1, &format!(" virtual_routes {{\n  {line}\n }}"));
    expect(
        &routes("10.1.0.0/16 via 10.0.0.1 colour blue"),
        Severity::Error,
        "5:28: unknown route option 'colour'",
    );
    expect(
        &routes("10.1.0.0/16 via fd00::1"),
        Severity::Error,
        "5:3: gateway fd00::1 and destination 10.1.0.0/16 are of different families",
    );
    expect(
        &routes("via 10.0.0.1"),
        Severity::Error,
        "5:3: the route has no destination",
    );
    let rules = |line: &str| instance("VI_1", 1, &format!(" virtual_rules {{\n  {line}\n }}"));
    expect(
        &rules("from 10.0.0.0/8 table 5"),
        Severity::Warning,
        "5:3: rule has no preference",
    );
    expect(
        &rules("from 10.0.0.0/8 table 5 preference 1 sometimes"),
        Severity::Error,
        "5:40: unknown rule option 'sometimes'",
    );
}

#[test]
fn values() {
    expect(
        "global_defs {\n vrrp_strict maybe\n}\n",
        Severity::Error,
        "2:14: 'maybe' is not a boolean",
    );
    expect(
        "global_defs {\n vrrp_mcast_group4 10.0.0.1\n}\n",
        Severity::Error,
        "2:20: 10.0.0.1 is not an IPv4 multicast address",
    );
    expect(
        "global_defs {\n vrrp_garp_interval 0\n}\n",
        Severity::Warning,
        "2:21: 'vrrp_garp_interval 0' means no gap between packets",
    );
    expect(
        "global_defs {\n vrrp_garp_interval 2\n}\n",
        Severity::Error,
        "2:21: 'vrrp_garp_interval' must be at most 1 seconds",
    );
    expect(
        "global_defs {\n router_id\n}\n",
        Severity::Error,
        "2:11: 'router_id' needs a value",
    );
    expect(
        "global_defs {\n router_id a b\n}\n",
        Severity::Warning,
        "2:14: 'router_id' takes at most 1 value(s)",
    );
    expect(
        "global_defs {\n default_interface averyveryverylongname\n}\n",
        Severity::Error,
        "2:20: interface name 'averyveryverylongname' must be 1 to 15 characters long",
    );
    let text = "vrrp_script s {\n script /bin/true\n weight - 20\n}\n".to_string()
        + &instance("VI_1", 1, " track_script {\n  s\n }");
    let loaded = expect(&text, Severity::Warning, "3:9: '- 20' read as -20");
    assert_eq!(loaded.config.scripts[0].weight, -20);
    expect(
        &instance("VI_1", 1, " notify_master \"/bin/x 'open\""),
        Severity::Error,
        "4:16: unterminated single quote",
    );
}

#[test]
fn ordering_quirk_of_global_defaults_is_reported() {
    let text = instance("VI_1", 1, "") + "global_defs {\n vrrp_garp_master_repeat 2\n}\n";
    let loaded = expect(
        &text,
        Severity::Warning,
        "6:1: global_defs after vrrp_instance VI_1: its GARP and timer defaults do not apply",
    );
    assert_eq!(
        loaded.config.instances[0].garp.master_repeat, 5,
        "keepalived copies defaults at parse time"
    );
}

#[test]
fn scripts_without_script_security_exit_6() {
    let text = instance("VI_1", 1, " notify_master /bin/true");
    let loaded = expect(
        &text,
        Severity::ScriptSecurity,
        "scripts are configured but enable_script_security is not set",
    );
    assert_eq!(loaded.exit_code(false), 6);
    let secure = "global_defs {\n enable_script_security\n}\n".to_string() + &text;
    assert_eq!(load(&secure).exit_code(false), 0);
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
        "1:1: ~SEQ step 0 never reaches 3 from 1",
    );
    expect(
        "~SEQ(1i,1,3) x\n",
        Severity::Error,
        "1:1: ~SEQ variable name '1i' is not a valid name",
    );
    expect("~FOO(i,1) x\n", Severity::Error, "1:1: unknown repetition");
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

/// Every other diagnostic, one line each: (configuration, severity, `line:col: message` prefix).
#[test]
fn every_other_diagnostic() {
    let i = |body: &str| instance("VI_1", 1, body);
    let e = Severity::Error;
    let w = Severity::Warning;
    let cases: Vec<(String, Severity, &str)> = vec![
        // Blocks and arguments.
        (
            "global_defs\n".into(),
            e,
            "1:1: 'global_defs' needs a { } block",
        ),
        (
            i(" priority 50 {\n }"),
            w,
            "4:2: 'priority' takes no { } block; the block is ignored",
        ),
        (
            "global_defs {\n smtp_server\n}\n".into(),
            e,
            "2:13: 'smtp_server' needs a value",
        ),
        (
            "global_defs {\n vrrp_version 2 3 4\n}\n".into(),
            w,
            "2:17: 'vrrp_version' takes at most 1 value(s)",
        ),
        (
            "vrrp_instance VI_1 VI_2 {\n interface eth0\n virtual_router_id 1\n}\n".into(),
            w,
            "1:20: vrrp_instance takes one name",
        ),
        (
            "vrrp_script {\n script x\n}\n".into(),
            e,
            "1:1: vrrp_script needs a name",
        ),
        (
            "virtual_server {\n}\n".into(),
            e,
            "1:1: virtual_server needs an address",
        ),
        (
            "virtual_server_group {\n}\n".into(),
            e,
            "1:1: virtual_server_group needs a name",
        ),
        // global_defs values.
        (
            "global_defs {\n smtp_server 10.0.0.1 99999\n}\n".into(),
            e,
            "2:23: 'smtp_server' value '99999' must be a whole number in 1..=65535",
        ),
        (
            "global_defs {\n vrrp_mcast_group6 ff02::1x\n}\n".into(),
            e,
            "2:20: 'ff02::1x' is not an IPv4 or IPv6 address",
        ),
        (
            "global_defs {\n vrrp_mcast_group6 fe80::1\n}\n".into(),
            e,
            "2:20: fe80::1 is not an IPv6 multicast address",
        ),
        (
            "global_defs {\n vrrp_notify_fifo_script /bin/x\n}\n".into(),
            e,
            "2:2: 'vrrp_notify_fifo_script' without a FIFO",
        ),
        (
            "global_defs {\n dynamic_interfaces sometimes\n}\n".into(),
            e,
            "2:21: unexpected 'sometimes'",
        ),
        // Instance values.
        (
            i(" mcast_dst_ip 10.0.0.1"),
            e,
            "4:15: 10.0.0.1 is not a multicast address",
        ),
        (
            i(" old_unicast_checksum always"),
            e,
            "4:23: unexpected 'always'",
        ),
        (
            i(" unicast_peer {\n  10.0.0.2 min_ttl\n }"),
            e,
            "5:19: 'min_ttl' needs a value",
        ),
        (
            i(" virtual_ipaddress {\n  10.0.0.1\n }\n unicast_peer {\n  fd00::2\n }"),
            e,
            "7:2: unicast peer fd00::2 is not IPv4 like VI_1",
        ),
        (
            i(" authentication {\n }"),
            e,
            "4:2: authentication without auth_type",
        ),
        (
            "global_defs {\n vrrp_strict\n}\n".to_string() + &i(" state MASTER\n priority 100"),
            w,
            "7:8: strict mode: VI_1 starts as BACKUP",
        ),
        (
            i(" version 2\n lvs_sync_daemon_interface eth1"),
            w,
            "5:2: lvs_sync_daemon_interface in a vrrp_instance is deprecated",
        ),
        // Addresses, routes, rules.
        (
            i(" virtual_ipaddress {\n  10.0.0.1 scope universe\n }"),
            e,
            "5:18: unknown scope 'universe'",
        ),
        (
            i(" virtual_ipaddress {\n  10.0.0.1 label eth0:a_very_long_label\n }"),
            e,
            "5:18: label 'eth0:a_very_long_label' is longer than 15 characters",
        ),
        (
            i(" virtual_ipaddress {\n  10.0.0.1 preferred_lft soon\n }"),
            e,
            "5:26: preferred_lft 'soon' is not a number of seconds or 'forever'",
        ),
        (
            i(" virtual_ipaddress {\n  10.0.0.1/24 brd fd00::ff\n }"),
            e,
            "5:3: broadcast fd00::ff and address 10.0.0.1 are of different families",
        ),
        (
            i(" virtual_routes {\n  10.1.0.0/16 via\n }"),
            e,
            "5:15: 'via' needs a value",
        ),
        (
            i(" virtual_routes {\n  10.1.0.0/16 metric low\n }"),
            e,
            "5:22: metric 'low' is not a number",
        ),
        (
            i(" virtual_rules {\n  from 10.0.0.0/8 preference first\n }"),
            e,
            "5:30: preference 'first' is not a number",
        ),
        (
            i(" virtual_rules {\n  l3mdev\n }"),
            w,
            "5:3: rule has no preference",
        ),
        (
            i(" virtual_rules {\n  table\n }"),
            e,
            "5:3: 'table' needs a value",
        ),
        (
            "garp_group {\n garp_interval 0.1\n}\n".into(),
            e,
            "1:1: garp_group names no interface",
        ),
        (
            "interface_up_down_delays {\n eth0\n}\n".into(),
            e,
            "2:2: expected: INTERFACE DOWN_DELAY [UP_DELAY]",
        ),
        (
            "interface_up_down_delays {\n eth0 300\n}\n".into(),
            e,
            "2:2: interface delays are at most 255 seconds",
        ),
        // Scripts and tracking.
        (
            "vrrp_script s {\n script /bin/x\n interval 0\n}\n".into(),
            e,
            "3:11: interval must be greater than 0",
        ),
        (
            i(" notify_master"),
            e,
            "4:15: 'notify_master' needs a command",
        ),
        (i(" notify_master \"\""), e, "4:16: the command is empty"),
        (
            i(" notify_master /bin/x user group extra"),
            e,
            "4:34: too many words after the command",
        ),
        (
            "vrrp_script s {\n script /bin/x\n}\nvrrp_script s {\n script /bin/y\n}\n".into(),
            e,
            "4:13: vrrp_script s is defined twice",
        ),
        (
            "track_file f {\n weight 2\n}\n".into(),
            e,
            "1:1: track_file f has no file",
        ),
        (
            "vrrp_track_process p {\n quorum 2\n}\n".into(),
            e,
            "1:1: vrrp_track_process p has no process",
        ),
        (
            "vrrp_track_process p {\n process\n}\n".into(),
            e,
            "2:9: process needs a process name",
        ),
        (
            "vrrp_track_process p {\n process x\n param_match exact\n}\n".into(),
            e,
            "3:14: unknown param_match 'exact'",
        ),
        (
            i(" track_interface {\n  eth1 weight\n }"),
            e,
            "5:14: 'weight' needs a value",
        ),
        (
            i(" track_interface {\n  eth1 heavy\n }"),
            e,
            "5:8: unexpected 'heavy'",
        ),
        (
            i("")
                + &instance("VI_2", 2, "")
                + "vrrp_sync_group G {\n group {\n  VI_1 VI_1 VI_2\n }\n}\n",
            e,
            "13:8: VI_1 is listed twice",
        ),
        (
            i("")
                + &instance("VI_2", 2, "")
                + "vrrp_sync_group G {\n group {\n  VI_1 VI_2\n }\n global_tracking\n}\n",
            w,
            "15:2: global_tracking is deprecated",
        ),
        // Checker side.
        (
            "virtual_server fwmark x {\n}\n".into(),
            e,
            "1:23: fwmark 'x' is not a number",
        ),
        (
            "virtual_server 10.0.0.1 80 {\n lb_kind FULLNAT\n}\n".into(),
            e,
            "2:10: unknown lb_kind 'FULLNAT'",
        ),
        (
            "virtual_server 10.0.0.1 80 {\n protocol ICMP\n}\n".into(),
            e,
            "2:11: unknown protocol 'ICMP'",
        ),
        (
            "virtual_server 10.0.0.1 80 {\n real_server {\n }\n}\n".into(),
            e,
            "2:2: real_server needs an address",
        ),
        // Preprocessor.
        (
            "~SEQ(i,a,b) x\n".into(),
            e,
            "1:1: ~SEQ bounds must be integers",
        ),
        (
            "~SEQ(i,1,2,3,4) x\n".into(),
            e,
            "1:1: ~SEQ takes a variable and one to three numbers",
        ),
        ("~LST(i,a,b x\n".into(), e, "1:1: ~LST( has no closing ')'"),
        (
            "~SEQ(i,1,200000) x\n".into(),
            e,
            "1:1: ~SEQ would repeat 200000 times (limit 100000)",
        ),
        (
            "include /nonexistent/[\n".into(),
            e,
            "1:9: bad include pattern",
        ),
    ];
    let mut failures = Vec::new();
    for (text, severity, expected) in &cases {
        let found = found(&load(text), *severity);
        // Some problems are followed by their consequence ("... has no process; it is ignored").
        if !found.iter().any(|f| f.starts_with(expected)) {
            failures.push(format!("{expected:?} in\n{text}\ngot {found:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
