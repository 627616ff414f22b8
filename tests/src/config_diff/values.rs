//! Keyword lists and value generators shared by the blocks: interfaces, booleans, address
//! options, `ip route` and `ip rule` lines, preprocessor repetitions.

use super::rng::Rng;

/// An interface every case's namespace has.
pub struct PoolInterface {
    pub name: &'static str,
    /// The first three octets of its IPv4 /24; the namespace's own address is `.1`.
    pub subnet: &'static str,
}

pub const POOL: &[PoolInterface] = &[
    PoolInterface {
        name: "eth0",
        subnet: "10.10.0",
    },
    PoolInterface {
        name: "eth1",
        subnet: "10.11.0",
    },
    PoolInterface {
        name: "ens3",
        subnet: "10.12.0",
    },
    PoolInterface {
        name: "bond0",
        subnet: "10.13.0",
    },
    PoolInterface {
        name: "br-lan",
        subnet: "10.14.0",
    },
];

/// global_defs keywords the generator uses (keepalived's global_parser.c, plus `lvs_id` and
/// `state_dump_file`, which 2.2.7 does not know).
pub const GLOBAL_KEYWORDS: &[&str] = &[
    "router_id",
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_connect_timeout",
    "vrrp_version",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
    "vrrp_garp_master_refresh",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_down_timer_adverts",
    "vrrp_strict",
    "vrrp_skip_check_adv_addr",
    "vrrp_check_unicast_src",
    "vrrp_min_garp",
    "vrrp_notify_priority_changes",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "enable_script_security",
    "enable_script_security",
    "script_user",
    "script_user",
    "vrrp_no_swap",
    "dynamic_interfaces",
    "dynamic_interfaces",
    "default_interface",
    "vrrp_startup_delay",
    "vmac_prefix",
    "max_auto_priority",
    "vrrp_priority",
    "vrrp_rt_priority",
    "notify_fifo",
    "notify_fifo_script",
    "vrrp_notify_fifo",
    "lvs_id",
    "state_dump_file",
    "smtp_alert",
    "umask",
];

/// vrrp_instance keywords beyond the ones every instance gets (keepalived's vrrp_parser.c,
/// plus `garp_interval`, `gna_interval`, `prority`, which 2.2.7 does not know, and
/// `@conditional` for an `@id` line).
pub const INSTANCE_KEYWORDS: &[&str] = &[
    "virtual_ipaddress_excluded",
    "virtual_routes",
    "virtual_routes",
    "virtual_rules",
    "mcast_src_ip",
    "mcast_dst_ip",
    "unicast_ttl",
    "preempt_delay",
    "authentication",
    "track_interface",
    "track_script",
    "track_script",
    "track_file",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify",
    "notify_deleted",
    "notify_master_rx_lower_pri",
    "garp_master_delay",
    "garp_lower_prio_delay",
    "garp_master_repeat",
    "garp_lower_prio_repeat",
    "garp_master_refresh",
    "garp_master_refresh_repeat",
    "down_timer_adverts",
    "debug",
    "kernel_rx_buf_size",
    "old_unicast_checksum",
    "use_vmac",
    "garp_extra_if",
    "garp_interval",
    "lvs_sync_daemon_interface",
    "prority",
    "vmac_xmit_base",
    "linkbeat_use_polling",
    "no_virtual_ipaddress",
    "@conditional",
];

/// `off` raised by `extra` for values worth trying more often, but only in a noisy case
/// (`off` zero means a clean case: valid values only).
pub fn plus(off: u64, extra: u64) -> u64 {
    if off == 0 { 0 } else { off + extra }
}

/// Instance keywords keepalived 2.2.7 does not know.
pub const NOT_IN_2_2_7: &[&str] = &[
    "garp_interval",
    "gna_interval",
    "prority",
    "no_virtual_ipaddress",
    "lvs_sync_daemon_interface",
    "linkbeat_use_polling",
    "vmac_xmit_base",
];

/// A boolean in one of the spellings keepalived's get_value_bool knows, or not.
pub fn flag_value(rng: &mut Rng, off: u64) -> String {
    rng.value(
        &["on", "off", "true", "false", "yes", "no"],
        &["True", "FALSE", "Yes", "1", "0", "enable", "disabled"],
        plus(off, 10),
    )
}

/// `ip addr` options after a virtual address (`short`: a /31 or /32 has no broadcast address).
pub fn address_options(rng: &mut Rng, ipv6: bool, short: bool, off: u64) -> String {
    let mut out = String::new();
    for _ in 0..rng.below(3) {
        let option = if ipv6 {
            rng.value(
                &[
                    " dev eth0",
                    " dev eth1",
                    " -nodad",
                    " noprefixroute",
                    " no_track",
                    " preferred_lft 0",
                    " preferred_lft forever",
                ],
                &[
                    " dev eth9",
                    " scope global",
                    " label eth0:v6",
                    " brd +",
                    " mngtmpaddr",
                ],
                off,
            )
        } else {
            rng.value(
                &[
                    " dev eth0",
                    " dev eth1",
                    if short { " dev eth0" } else { " brd +" },
                    if short { " no_track" } else { " brd -" },
                    if short {
                        " dev eth0"
                    } else {
                        " broadcast 10.10.0.255"
                    },
                    " scope global",
                    " scope host",
                    " label eth0:1",
                    " label eth0:vip",
                    " no_track",
                    " noprefixroute",
                    " home",
                    " autojoin",
                ],
                &[
                    " dev eth9",
                    " label averyveryverylonglabel",
                    " brd",
                    " scope 300",
                    " peer 10.10.0.9/24",
                    " peer 10.10.0.9",
                    " -nodad",
                    " unknownopt",
                ],
                off,
            )
        };
        if !out.contains(option.split_whitespace().next().unwrap_or_default()) {
            out.push_str(&option);
        }
    }
    out
}

/// A `~SEQ`/`~LST` line inside an address block: the variable forms keepalived's preprocessor
/// reads (bounds from definitions, one to three bounds, hex, `${NAME}`, value sets).
pub fn repetition(rng: &mut Rng, ipv6: bool, defined: bool) -> String {
    if ipv6 {
        return rng
            .value(
                &[
                    "~SEQx(n, 0xa, 0xc) 2001:db8:20::$n",
                    "~SEQx(n,10,12) 2001:db8:20::${n}/128",
                    "~LST(a, 2001:db8:21::1, 2001:db8:21::2) $a",
                ],
                &[],
                0,
            )
            .to_string();
    }
    rng.value(
        &[
            "~SEQ(n, 1, 3) 10.20.0.$n",
            "~SEQ(n,3) 10.20.1.${n}",
            "~SEQ(n, 2, 2, 6) 10.20.2.$n/24",
            "~SEQ(n, 5, 3) 10.20.3.$n",
            if defined {
                "~SEQ(n, $FIRST, $LAST) ${NET}.$n"
            } else {
                "~SEQ(n, 3, 5) 10.20.4.$n"
            },
            if defined {
                "~SEQ(n, ${FIRST}, 7) 10.20.4.$n"
            } else {
                "~SEQ(n,1) 10.20.4.$n"
            },
            "~SEQ(n, 0x10, 0x12) 10.20.5.$n",
            "~SEQ(n, 010, 012) 10.20.6.$n",
            "~SEQ(n, 0) 10.20.7.$n",
            "~SEQ(n, -1) 10.20.8.1$n",
            "~LST(a, 10.20.9.1, 10.20.9.2) $a",
            "~LST(a, 10.20.10.1, 10.20.10.2) ${a}/24",
            "~LST({a,b}, {10.20.11.1,24}, {10.20.11.2,25}) ${a}/${b}",
            "~LST(a,{10.20.12.1},{10.20.12.2}) ${a}",
        ],
        &[],
        0,
    )
    .to_string()
}

/// An `ip route` line the way keepalived's alloc_route reads it.
pub fn route(rng: &mut Rng, ipv6: bool, subnet: &str, off: u64) -> String {
    let mut words: Vec<String> = Vec::new();
    let blackholed = rng.chance(10);
    if blackholed {
        words.push(rng.value(
            &["blackhole", "unreachable", "prohibit", "throw"],
            &["local"],
            off,
        ));
    }
    let destination = if ipv6 {
        rng.value(
            &["2001:db8:50::/48", "::/0", "default", "2001:db8:51::1"],
            &["2001:db8:50::/129"],
            off,
        )
    } else {
        rng.value(
            &[
                "10.50.0.0/16",
                "10.51.0.0/24",
                "default",
                "0.0.0.0/0",
                "192.168.7.7",
            ],
            &["10.50.0.0/33", "10.50.0"],
            off,
        )
    };
    if rng.chance(10) {
        words.push("to".into());
    }
    words.push(destination);
    if !blackholed && rng.chance(70) {
        words.push(rng.value(&["dev eth0", "dev eth1"], &[], 0));
    } else if rng.chance(60) {
        words.push("no_track".into());
    }
    let options = rng.below(4);
    for _ in 0..options {
        let word = route_option(rng, ipv6, subnet, off, blackholed);
        if !word.is_empty() {
            words.push(word);
        }
    }
    if rng.chance(5) && !blackholed {
        let gw = if ipv6 { "fe80::2" } else { "10.10.0.253" };
        words.push(format!(
            "nexthop via {gw} dev eth0 weight 2 nexthop via {} dev eth0",
            if ipv6 { "fe80::3" } else { "10.10.0.252" }
        ));
    }
    words.join(" ")
}

fn route_option(rng: &mut Rng, ipv6: bool, subnet: &str, off: u64, blackholed: bool) -> String {
    let own = if ipv6 {
        "2001:db8:10::1".to_string()
    } else {
        format!("{subnet}.1")
    };
    let gateway = if ipv6 {
        rng.value(
            &["fe80::1", "2001:db8:10::fe", "inet6 fe80::1"],
            &["10.10.0.254"],
            off,
        )
    } else {
        rng.value(
            &[&format!("{subnet}.254"), "10.10.0.254"],
            &["inet6 fe80::1", "2001:db8::1", "inet6 2001:db8::1"],
            plus(off, 3),
        )
    };
    let choice = rng.below(26);
    match choice {
        0..=2 if !blackholed => format!("via {gateway}"),
        3 if !blackholed => format!("gw {gateway}"),
        4 | 5 if !blackholed => {
            rng.value(&["dev eth0", "dev eth1", "oif eth0"], &["dev eth9"], off)
        }
        6 => format!(
            "src {}",
            rng.value(&[own.as_str()], &[&format!("{own}/24")], off)
        ),
        7 => format!(
            "table {}",
            rng.value(
                &["100", "main", "local", "default", "254", "1000"],
                &["nosuchtable", "0"],
                off
            )
        ),
        8 => format!(
            "metric {}",
            rng.value(&["10", "0", "4294967295"], &["x", "-1"], off)
        ),
        9 => format!(
            "{} {}",
            rng.pick(&["priority", "preference"]),
            rng.value(&["20"], &[], 0)
        ),
        10 => format!(
            "scope {}",
            rng.value(
                &["link", "global", "host", "253", "site"],
                &["nowhere2"],
                off
            )
        ),
        11 => format!(
            "proto {}",
            rng.value(
                &["static", "boot", "kernel", "18", "99"],
                &["nosuchproto"],
                off
            )
        ),
        12 => format!("protocol {}", rng.value(&["static", "12"], &[], 0)),
        13 => rng.value(&["onlink", "no_track", "add", "append", "prepend"], &[], 0),
        14 => format!("mtu {}", rng.value(&["1400", "lock 1400"], &["x"], off)),
        15 => format!("advmss {}", rng.value(&["1360", "lock 1360"], &[], 0)),
        16 => format!(
            "{} {}",
            rng.pick(&["rtt", "rttvar", "rto_min"]),
            rng.value(&["10", "10ms", "1s", "lock 5"], &["x"], off)
        ),
        17 => format!(
            "{} {}",
            rng.pick(&[
                "initcwnd",
                "initrwnd",
                "window",
                "cwnd",
                "ssthresh",
                "reordering"
            ]),
            rng.value(&["10", "lock 10"], &[], 0)
        ),
        18 => format!("features {}", rng.value(&["ecn"], &["sack"], off)),
        19 => format!("quickack {}", rng.value(&["1", "0"], &["2"], off)),
        20 => format!("congctl {}", rng.value(&["cubic", "lock reno"], &[], 0)),
        21 => format!("hoplimit {}", rng.value(&["64", "255"], &["256"], off)),
        22 => format!(
            "tos {}",
            rng.value(&["0x10", "16", "lowdelay"], &["0x100"], off)
        ),
        23 if !ipv6 => format!("realms {}", rng.value(&["1", "1/2"], &[], 0)),
        23 => format!(
            "pref {}",
            rng.value(&["low", "medium", "high"], &["x"], off)
        ),
        24 if ipv6 => format!("expires {}", rng.value(&["100"], &[], 0)),
        24 => rng.value(
            &["no_track"],
            &["link", "linkdown", "unknownword"],
            plus(off, 5),
        ),
        25 if ipv6 => "from 2001:db8:99::/64".to_string(),
        25 => format!("fastopen_no_cookie {}", rng.value(&["1"], &[], 0)),
        _ => String::new(),
    }
}

/// An `ip rule` line the way keepalived's alloc_rule reads it.
pub fn rule(rng: &mut Rng, ipv6: bool, off: u64) -> String {
    let mut words: Vec<String> = Vec::new();
    let (from, to) = if ipv6 {
        ("2001:db8:10::/64", "2001:db8:60::/48")
    } else {
        ("10.10.0.0/24", "10.60.0.0/16")
    };
    if rng.chance(70) {
        words.push(format!(
            "from {}",
            rng.value(
                &[from, "all", &from.replace("/64", "").replace("/24", "")],
                &["10.10.0.1/40"],
                off
            )
        ));
    }
    if rng.chance(30) {
        words.push(format!("to {to}"));
    }
    let action = rng.below(10);
    match action {
        0..=5 => words.push(format!(
            "{} {}",
            rng.pick(&["table", "lookup"]),
            rng.value(&["100", "main", "200", "local"], &["0", "nosuchtable"], off)
        )),
        6 => words.push(rng.value(&["blackhole", "prohibit", "unreachable"], &[], 0)),
        7 => words.push(rng.value(&["goto 32000", "nop"], &[], 0)),
        8 => words.push("type unreachable".into()),
        _ => {}
    }
    for _ in 0..rng.below(3) {
        let word = match rng.below(14) {
            0 => format!(
                "{} {}",
                rng.pick(&["preference", "priority", "order", "pref"]),
                rng.value(&["100", "32765"], &["x"], off)
            ),
            1 => format!(
                "fwmark {}",
                rng.value(&["0x10", "16", "0x10/0xff"], &["x"], off)
            ),
            2 => format!(
                "{} {}",
                rng.pick(&["iif", "dev"]),
                rng.value(&["eth0", "eth1"], &["eth9"], off)
            ),
            3 => format!("oif {}", rng.value(&["eth1"], &[], 0)),
            4 => format!("tos {}", rng.value(&["0x10"], &[], 0)),
            5 => format!(
                "{} {}",
                rng.pick(&["suppress_prefixlength", "sup_pl"]),
                rng.value(&["0", "24"], &[], 0)
            ),
            6 => format!("uidrange {}", rng.value(&["1000-2000"], &["x"], off)),
            7 => format!(
                "ipproto {}",
                rng.value(&["tcp", "6", "udp"], &["nosuchproto"], off)
            ),
            8 => format!(
                "{} {}",
                rng.pick(&["sport", "dport"]),
                rng.value(&["80", "1000-2000"], &["x"], off)
            ),
            9 => "no_track".into(),
            10 if !ipv6 => format!("realms {}", rng.value(&["1/2"], &[], 0)),
            11 => format!("protocol {}", rng.value(&["static", "99"], &[], 0)),
            12 => rng.value(&["not", "l3mdev"], &[], 0),
            13 => format!(
                "{} {}",
                rng.pick(&["suppress_ifgroup", "sup_group"]),
                rng.value(&["1"], &[], 0)
            ),
            _ => String::new(),
        };
        if !word.is_empty() {
            words.push(word);
        }
    }
    if rng.chance(80) {
        words.push(format!("preference {}", rng.range(100, 32000)));
    }
    if words.is_empty() {
        words.push("from all table 100".into());
    }
    if ipv6 && rng.chance(20) {
        words.insert(0, "inet6".into());
    }
    words.join(" ")
}
