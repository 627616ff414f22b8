//! The reader never panics, whatever it is given, and what it dumps reads back the same.
//! `PROPTEST_CASES=N` runs more cases than the quick default.

use std::path::Path;

use proptest::prelude::*;
use xvrrpd::config::{self, LoadOptions, dump};

fn load(text: &str) -> config::Loaded {
    let options = LoadOptions {
        config_id: "node1".to_string(),
        all_config: false,
    };
    // The name points nowhere, so `include` lines cannot reach real files.
    config::load_text(
        Path::new("/nonexistent/xvrrpd-proptest/k.conf"),
        text,
        &options,
    )
}

/// Words that make the parser take its interesting paths.
const VOCABULARY: &[&str] = &[
    "global_defs",
    "vrrp_instance",
    "VI_1",
    "VI_2",
    "vrrp_script",
    "chk",
    "vrrp_sync_group",
    "group",
    "track_file",
    "vrrp_track_process",
    "virtual_server",
    "real_server",
    "HTTP_GET",
    "url",
    "path",
    "static_routes",
    "static_rules",
    "garp_group",
    "interface",
    "eth0",
    "virtual_router_id",
    "1",
    "255",
    "256",
    "priority",
    "0",
    "100",
    "advert_int",
    "0.01",
    "1.5",
    "version",
    "2",
    "3",
    "state",
    "MASTER",
    "backup",
    "nopreempt",
    "preempt_delay",
    "authentication",
    "auth_type",
    "PASS",
    "AH",
    "auth_pass",
    "123456789",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "10.0.0.1/24",
    "fd00::1",
    "brd",
    "+",
    "dev",
    "label",
    "virtual_routes",
    "via",
    "10.0.0.254",
    "or",
    "nexthop",
    "table",
    "virtual_rules",
    "from",
    "to",
    "preference",
    "track_script",
    "track_interface",
    "weight",
    "-",
    "20",
    "-300",
    "reverse",
    "unicast_peer",
    "min_ttl",
    "notify_master",
    "\"/bin/x 'a b'\"",
    "script",
    "'",
    "\\",
    "{",
    "}",
    "{",
    "}",
    "\n",
    "\n",
    "\n",
    "#",
    "!",
    "\"",
    "$X=",
    "$X",
    "${X}",
    "${_RANDOM 1 3}",
    "~SEQ(i,1,3)",
    "~LST(v,a,b)",
    "$i",
    "@node1",
    "@^node1",
    "include",
    "*.conf",
    "vrrp_garp_interval",
    "vrrp_version",
    "native_ipv6",
    "enable_script_security",
    "vrrp_strict",
    "no_such_keyword",
    "sync_group_tracking_weight",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCABULARY), 0..200)
        .prop_map(|words| words.join(" "))
}

proptest! {
    // Failures print their minimal input; they are kept as tests below, not in a file.
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let text = String::from_utf8_lossy(&bytes);
        let loaded = load(&text);
        let _ = dump::to_text(&loaded.config);
        let _ = dump::to_json(&loaded.config);
    }

    #[test]
    fn keyword_soup_never_panics_and_its_dump_reads_back(text in soup()) {
        let first = load(&text);
        let dumped = dump::to_text(&first.config);
        let again = load(&dumped);
        let errors: Vec<String> = again
            .diagnostics
            .iter()
            .filter(|d| d.severity >= config::Severity::Error && d.severity != config::Severity::ScriptSecurity)
            .map(|d| d.to_string())
            .collect();
        prop_assert!(errors.is_empty(), "dump of {:?} has errors {:#?}\n{}", text, errors, dumped);
        let strip = |t: &str| t.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
        prop_assert_eq!(strip(&dump::to_text(&again.config)), strip(&dumped));
    }
}

/// Inputs the properties above once failed on.
const FOUND_BY_PROPTEST: &[&str] = &["vrrp_sync_group global_defs { group { global_defs"];

#[test]
fn found_by_proptest() {
    for text in FOUND_BY_PROPTEST {
        let first = load(text);
        let again = load(&dump::to_text(&first.config));
        assert!(
            again
                .diagnostics
                .iter()
                .all(|d| d.severity < config::Severity::Error),
            "{text}: {:#?}",
            again.diagnostics
        );
    }
}
