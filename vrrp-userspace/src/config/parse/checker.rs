//! The LVS checker side: `virtual_server`, `virtual_server_group`, `real_server` and its
//! checkers. This kernel has no IPVS, so xvrrpd parses and checks these blocks (configs shared
//! with keepalived must load) and acts on them in a later phase.

use std::net::IpAddr;

use super::{Cx, section};
use crate::config::model::{
    Checker, RealServer, VirtualServer, VirtualServerAddress, VirtualServerGroup,
};
use crate::config::tree::Statement;

/// keepalived 2.2.7's virtual_server keywords (check_parser.c init_check_keywords).
const VIRTUAL_SERVER: &[&str] = &[
    "ip_family",
    "retry",
    "delay_before_retry",
    "warmup",
    "connect_timeout",
    "delay_loop",
    "inhibit_on_failure",
    "lb_algo",
    "lvs_sched",
    "hashed",
    "ops",
    "flag-1",
    "flag-2",
    "flag-3",
    "sh-port",
    "sh-fallback",
    "mh-port",
    "mh-fallback",
    "lb_kind",
    "lvs_method",
    "persistence_engine",
    "persistence_timeout",
    "persistence_granularity",
    "protocol",
    "ha_suspend",
    "smtp_alert",
    "virtualhost",
    "snmp_name",
    "alpha",
    "omega",
    "quorum_up",
    "quorum_down",
    "quorum",
    "hysteresis",
    "weight",
    "sorry_server",
    "sorry_server_inhibit",
    "sorry_server_lvs_method",
    "real_server",
];
/// keepalived 2.2.7's real_server keywords, checkers aside.
const REAL_SERVER: &[&str] = &[
    "weight",
    "lvs_method",
    "uthreshold",
    "lthreshold",
    "inhibit_on_failure",
    "notify_up",
    "notify_down",
    "alpha",
    "retry",
    "delay_before_retry",
    "warmup",
    "connect_timeout",
    "delay_loop",
    "smtp_alert",
    "virtualhost",
    "snmp_name",
];
const CHECKERS: &[&str] = &[
    "HTTP_GET",
    "SSL_GET",
    "TCP_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "MISC_CHECK",
    "BFD_CHECK",
    "PING_CHECK",
    "UDP_CHECK",
    "FILE_CHECK",
];
/// Every checker's keywords in keepalived 2.2.7 (check_api.c install_checker_common_keywords).
const CHECKER: &[&str] = &[
    "connect_ip",
    "connect_port",
    "bindto",
    "bind_port",
    "bind_if",
    "connect_timeout",
    "fwmark",
    "retry",
    "delay_before_retry",
    "warmup",
    "delay_loop",
    "alpha",
    "log_all_failures",
];

/// What each checker adds to [`CHECKER`] (check_http.c, check_smtp.c, ...; `url` is a block
/// kept as written).
fn checker_keywords(kind: &str) -> &'static [&'static str] {
    match kind {
        "HTTP_GET" | "SSL_GET" => &[
            "nb_get_retry",
            "virtualhost",
            "http_protocol",
            "enable_sni",
            "fast_recovery",
            "url",
        ],
        "SMTP_CHECK" => &["helo_name", "host"],
        "DNS_CHECK" => &["type", "name"],
        "MISC_CHECK" => &["misc_path", "misc_timeout", "misc_dynamic", "user"],
        "BFD_CHECK" => &["name"],
        "UDP_CHECK" => &[
            "payload",
            "require_reply",
            "min_reply_length",
            "max_reply_length",
        ],
        "FILE_CHECK" => &["track_file", "weight"],
        _ => &[],
    }
}

impl Cx<'_> {
    pub(super) fn virtual_server_group(&mut self, s: &Statement) {
        let Some(name) = s.arg(0).map(str::to_string) else {
            self.diagnostics
                .error(&s.keyword_span(), "virtual_server_group needs a name");
            return;
        };
        let members = self
            .block(s)
            .iter()
            .map(|m| {
                std::iter::once(m.name())
                    .chain(m.args.iter().map(|a| a.text.as_str()))
                    .map(str::to_string)
                    .collect()
            })
            .collect();
        self.config
            .virtual_server_groups
            .push(VirtualServerGroup { name, members });
    }

    pub(super) fn virtual_server(&mut self, s: &Statement) {
        let address = match (s.arg(0), s.arg(1)) {
            (Some("fwmark"), Some(mark)) => match mark.parse() {
                Ok(mark) => VirtualServerAddress::Fwmark(mark),
                Err(_) => {
                    self.diagnostics
                        .error(&s.arg_span(1), format!("fwmark '{mark}' is not a number"));
                    return;
                }
            },
            (Some("group"), Some(name)) => VirtualServerAddress::Group(name.to_string()),
            (Some(ip), port) => {
                let Some(address) = self.sockaddr(s.arg_span(0), ip, "virtual_server address")
                else {
                    return;
                };
                let port = match port {
                    Some(_) => match self.unsigned(s, 1, 0, 65535) {
                        Some(port) => port as u16,
                        None => return,
                    },
                    None => 0,
                };
                VirtualServerAddress::Ip { address, port }
            }
            (None, _) => {
                self.diagnostics
                    .error(&s.keyword_span(), "virtual_server needs an address")
                    .hint("virtual_server IP PORT | fwmark N | group NAME { ... }");
                return;
            }
        };
        let mut server = VirtualServer {
            address,
            defined_at: s.keyword_span().position(),
            delay_loop: None,
            lb_algo: None,
            lb_kind: None,
            protocol: None,
            persistence_timeout: None,
            quorum: None,
            sorry_server: None,
            real_servers: Vec::new(),
            settings: Vec::new(),
        };
        for item in self.block(s) {
            match item.name() {
                "delay_loop" => {
                    server.delay_loop = self.seconds(
                        item,
                        0,
                        std::time::Duration::ZERO,
                        std::time::Duration::from_secs(u64::from(u32::MAX)),
                    )
                }
                "lb_algo" | "lvs_sched" => server.lb_algo = self.value(item, 0).map(str::to_string),
                "lb_kind" | "lvs_method" => {
                    if let Some(kind) = self.value(item, 0).map(str::to_string) {
                        if matches!(kind.as_str(), "NAT" | "DR" | "TUN") {
                            server.lb_kind = Some(kind);
                        } else {
                            self.diagnostics
                                .error(
                                    &item.arg_span(0),
                                    format!("unknown {} '{kind}'", item.name()),
                                )
                                .hint("NAT, DR or TUN");
                        }
                    }
                }
                "protocol" => {
                    // keepalived compares without case (strcasecmp).
                    if let Some(protocol) = self.value(item, 0) {
                        let upper = protocol.to_ascii_uppercase();
                        if matches!(upper.as_str(), "TCP" | "UDP" | "SCTP") {
                            server.protocol = Some(upper);
                        } else {
                            self.diagnostics
                                .error(
                                    &item.arg_span(0),
                                    format!("unknown protocol '{protocol}'; ignored"),
                                )
                                .hint("TCP, UDP or SCTP");
                        }
                    }
                }
                "persistence_timeout" => {
                    // No value: keepalived's default, 6 minutes (IPVS_SVC_PERSISTENT_TIMEOUT).
                    server.persistence_timeout = match item.arg(0) {
                        None => Some(360),
                        Some(_) => self.unsigned(item, 0, 1, 2_678_400).map(|t| t as u32),
                    }
                }
                "quorum" => {
                    server.quorum = self
                        .unsigned(item, 0, 0, u64::from(u32::MAX))
                        .map(|q| q as u32)
                }
                "sorry_server" => {
                    if !item.args.is_empty() {
                        server.sorry_server =
                            Some(item.args.iter().map(|a| a.text.clone()).collect());
                    }
                }
                "real_server" => {
                    if let Some(real) = self.real_server(item) {
                        server.real_servers.push(real);
                    }
                }
                name if VIRTUAL_SERVER.contains(&name) => server.settings.push(section(item)),
                _ => self.unknown(item, "in virtual_server", VIRTUAL_SERVER),
            }
        }
        // keepalived (check_data.c validate_check_config): "protocol specified for fwmark -
        // protocol will be ignored", reported as a configuration error (-t exits 5).
        if server.protocol.is_some()
            && let Some(line) = self.block(s).iter().find(|i| i.name() == "protocol")
        {
            match &server.address {
                VirtualServerAddress::Fwmark(_) => {
                    self.diagnostics.error(
                        &line.keyword_span(),
                        "a fwmark virtual_server ignores its protocol",
                    );
                }
                // Known only once every group is read.
                VirtualServerAddress::Group(name) => self
                    .group_protocols
                    .push((line.keyword_span(), name.clone())),
                VirtualServerAddress::Ip { .. } => {}
            }
        }
        self.config.virtual_servers.push(server);
    }

    /// keepalived's fwmark check for `virtual_server group NAME`: the protocol is ignored (and
    /// reported) when the group has fwmark entries and no address ranges.
    pub(super) fn check_group_protocols(&mut self) {
        for (span, name) in std::mem::take(&mut self.group_protocols) {
            let Some(group) = self
                .config
                .virtual_server_groups
                .iter()
                .find(|g| g.name == name)
            else {
                continue;
            };
            let fwmark = |m: &Vec<String>| m.first().is_some_and(|w| w == "fwmark");
            if group.members.iter().any(fwmark) && group.members.iter().all(fwmark) {
                self.diagnostics.error(
                    &span,
                    format!(
                        "virtual_server group {name} holds only fwmarks; its protocol is ignored"
                    ),
                );
            }
        }
    }

    fn real_server(&mut self, s: &Statement) -> Option<RealServer> {
        if !(1..=2).contains(&s.args.len()) {
            self.diagnostics
                .error(
                    &s.keyword_span(),
                    "real_server needs an address and optionally a port",
                )
                .hint("real_server IP [PORT] { ... }");
            return None;
        }
        let address: IpAddr =
            self.sockaddr(s.arg_span(0), &s.args[0].text, "real_server address")?;
        let port = match s.arg(1) {
            Some(_) => Some(self.unsigned(s, 1, 0, 65535)? as u16),
            None => None,
        };
        let mut real = RealServer {
            address,
            port,
            weight: None,
            checkers: Vec::new(),
            settings: Vec::new(),
        };
        for item in s.block.iter().flatten() {
            match item.name() {
                "weight" => real.weight = self.int(item, 0, 0, 65535).ok().map(|w| w as i32),
                name if CHECKERS.contains(&name) => real.checkers.push(self.checker(item)),
                name if REAL_SERVER.contains(&name) => real.settings.push(section(item)),
                _ => self.unknown(item, "in real_server", &[REAL_SERVER, CHECKERS].concat()),
            }
        }
        Some(real)
    }

    fn checker(&mut self, s: &Statement) -> Checker {
        let mut checker = Checker {
            kind: s.name().to_string(),
            connect_timeout: None,
            retry: None,
            delay_before_retry: None,
            settings: Vec::new(),
        };
        for item in s.block.iter().flatten() {
            match item.name() {
                "connect_timeout" => {
                    checker.connect_timeout = self.seconds(
                        item,
                        0,
                        std::time::Duration::ZERO,
                        std::time::Duration::from_secs(u64::from(u32::MAX)),
                    )
                }
                // `nb_get_retry` is the old name of `retry`.
                "retry" | "nb_get_retry"
                    if item.name() == "retry" || matches!(s.name(), "HTTP_GET" | "SSL_GET") =>
                {
                    if item.name() == "nb_get_retry" {
                        self.diagnostics
                            .error(&item.keyword_span(), "nb_get_retry is deprecated")
                            .hint("write 'retry' (keepalived reports it the same way)");
                    }
                    checker.retry = self
                        .unsigned(item, 0, 0, u64::from(u32::MAX))
                        .map(|r| r as u32)
                }
                "delay_before_retry" => {
                    checker.delay_before_retry = self.seconds(
                        item,
                        0,
                        std::time::Duration::ZERO,
                        std::time::Duration::from_secs(u64::from(u32::MAX)),
                    )
                }
                name if CHECKER.contains(&name) || checker_keywords(s.name()).contains(&name) => {
                    checker.settings.push(section(item))
                }
                _ => self.unknown(
                    item,
                    &format!("in {}", s.name()),
                    &[CHECKER, checker_keywords(s.name())].concat(),
                ),
            }
        }
        checker
    }
}
