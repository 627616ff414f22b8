//! From the configuration's `virtual_server` blocks to the services the load balancer runs,
//! with keepalived 2.2.7's defaults and corrections (`check_data.c: validate_check_config`,
//! `check_api.c`): protocol UDP when none is set, NAT when no `lb_kind`, `wlc` when no
//! scheduler, a port-0 service made persistent (360 s), real-server ports forced to the
//! virtual port except for NAT, quorum capped at the total weight, hysteresis below quorum,
//! and every checker timer inherited virtual server -> real server -> checker.

use std::net::IpAddr;
use std::time::Duration;

use crate::checkers::{CheckKind, CheckSpec, HttpSpec, MiscSpec, UdpSpec, UrlSpec};
use crate::config::lexer::shell_split;
use crate::config::model::{
    Config, RealServer, ScriptCommand, Section, VirtualServer, VirtualServerAddress,
};
use crate::config::values::{parse_bool, parse_timer};

/// keepalived's default `delay_loop` (KEEPALIVED_DEFAULT_DELAY).
pub const DEFAULT_DELAY_LOOP: Duration = Duration::from_secs(60);
/// keepalived's default connect timeout of a virtual server.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// IPVS_SVC_PERSISTENT_TIMEOUT: `persistence_timeout` without a value, or a port-0 service.
pub const DEFAULT_PERSISTENCE: u32 = 360;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn number(self) -> u8 {
        match self {
            Self::Tcp => vrrp_common::LB_PROTO_TCP,
            Self::Udp => vrrp_common::LB_PROTO_UDP,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
        }
    }
}

/// IPVS forwarding methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Method {
    Dr,
    Tun,
    Nat,
}

impl Method {
    pub fn code(self) -> u8 {
        match self {
            Self::Dr => vrrp_common::FWD_DR,
            Self::Tun => vrrp_common::FWD_TUN,
            Self::Nat => vrrp_common::FWD_NAT,
        }
    }

    /// ipvsadm's column: Route, Tunnel, Masq.
    pub fn ipvsadm(self) -> &'static str {
        match self {
            Self::Dr => "Route",
            Self::Tun => "Tunnel",
            Self::Nat => "Masq",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "DR" => Some(Self::Dr),
            "TUN" => Some(Self::Tun),
            "NAT" => Some(Self::Nat),
            _ => None,
        }
    }
}

/// The schedulers the data path runs; others fall back to `wlc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Scheduler {
    Rr,
    Wrr,
    Sh,
    Mh,
    Lc,
    Wlc,
}

impl Scheduler {
    pub fn name(self) -> &'static str {
        match self {
            Self::Rr => "rr",
            Self::Wrr => "wrr",
            Self::Sh => "sh",
            Self::Mh => "mh",
            Self::Lc => "lc",
            Self::Wlc => "wlc",
        }
    }

    pub fn code(self) -> u32 {
        use vrrp_common::*;
        match self {
            Self::Rr => SCHED_RR,
            Self::Wrr => SCHED_WRR,
            Self::Sh => SCHED_SH,
            Self::Mh => SCHED_MH,
            Self::Lc => SCHED_LC,
            Self::Wlc => SCHED_WLC,
        }
    }

    pub fn from_code(code: u32) -> Option<Self> {
        [Self::Rr, Self::Wrr, Self::Sh, Self::Mh, Self::Lc, Self::Wlc]
            .into_iter()
            .find(|s| s.code() == code)
    }
}

/// keepalived's list of valid `lb_algo` names (check_parser.c).
const KEEPALIVED_SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos",
];

/// A virtual service: one `virtual_server` block, on one or more (address, port) keys (a
/// `virtual_server_group` expands to several).
#[derive(Clone, Debug, serde::Serialize)]
pub struct VirtualService {
    /// keepalived's way of naming it in logs: `[172.17.250.11]:tcp:80` or `[group G]`.
    pub name: String,
    pub keys: Vec<(IpAddr, u16)>,
    pub protocol: Protocol,
    pub scheduler: Scheduler,
    /// `sh-port` / `mh-port`.
    pub hash_port: bool,
    /// `ops` (UDP only).
    pub one_packet: bool,
    /// `persistence_timeout` in seconds.
    pub persistence: Option<u32>,
    /// `persistence_granularity` as a mask over 16 bytes (IPv4 in the first four).
    pub granularity: [u8; 16],
    pub quorum: u32,
    pub hysteresis: u32,
    pub quorum_up: Option<ScriptCommand>,
    pub quorum_down: Option<ScriptCommand>,
    pub omega: bool,
    pub sorry: Option<RealService>,
    pub reals: Vec<RealService>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct RealService {
    pub addr: IpAddr,
    pub port: u16,
    pub method: Method,
    /// The configured weight (keepalived's `iweight`).
    pub weight: u32,
    pub inhibit: bool,
    pub alpha: bool,
    pub notify_up: Option<ScriptCommand>,
    pub notify_down: Option<ScriptCommand>,
    pub checks: Vec<CheckSpec>,
}

impl RealService {
    /// keepalived's FMT_RS: `[172.17.0.66]:tcp:80`.
    pub fn name(&self, protocol: Protocol) -> String {
        format!(
            "[{}]:{}:{}",
            self.addr,
            protocol.name().to_ascii_lowercase(),
            self.port
        )
    }
}

/// Everything the configuration asks the load balancer to run.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LvsConfig {
    pub services: Vec<VirtualService>,
    /// What keepalived would report, and what xvrrpd cannot do (fwmark services,
    /// schedulers it falls back from, checkers left parse-only).
    pub warnings: Vec<String>,
}

impl LvsConfig {
    pub fn uses_nat(&self) -> bool {
        self.services
            .iter()
            .flat_map(|s| s.reals.iter().chain(s.sorry.iter()))
            .any(|r| r.method == Method::Nat)
    }
}

/// The `virtual_server`s of `config`, resolved.
pub fn lvs_config(config: &Config) -> LvsConfig {
    let mut out = LvsConfig::default();
    for server in &config.virtual_servers {
        if let Some(service) = virtual_service(config, server, &mut out.warnings) {
            out.services.push(service);
        }
    }
    out
}

/// Settings read from a block's keywords, with the keyword's arguments.
fn find<'s>(settings: &'s [Section], keyword: &str) -> Option<&'s Section> {
    settings.iter().rev().find(|s| s.keyword == keyword)
}

fn flag(settings: &[Section], keyword: &str) -> Option<bool> {
    find(settings, keyword).map(|s| s.args.first().and_then(|a| parse_bool(a)).unwrap_or(true))
}

fn timer(settings: &[Section], keyword: &str, warnings: &mut Vec<String>) -> Option<Duration> {
    let section = find(settings, keyword)?;
    match section.args.first().map(|a| parse_timer(a)) {
        Some(Ok(value)) => Some(value),
        _ => {
            warnings.push(format!(
                "{keyword} {:?} is not a time - ignored",
                section.args
            ));
            None
        }
    }
}

fn number(settings: &[Section], keyword: &str) -> Option<u64> {
    find(settings, keyword)?.args.first()?.parse().ok()
}

fn script(settings: &[Section], keyword: &str) -> Option<ScriptCommand> {
    let section = find(settings, keyword)?;
    let (command, rest) = section.args.split_first()?;
    Some(ScriptCommand {
        argv: shell_split(command).ok()?,
        user: rest.first().cloned(),
        group: rest.get(1).cloned(),
    })
}

/// Timers and counts a checker inherits: virtual server, then real server, then its own.
#[derive(Clone, Copy, Default)]
struct Inherited {
    connect_timeout: Option<Duration>,
    retry: Option<u32>,
    delay_before_retry: Option<Duration>,
    warmup: Option<Duration>,
    delay_loop: Option<Duration>,
    alpha: Option<bool>,
}

impl Inherited {
    fn over(self, settings: &[Section], warnings: &mut Vec<String>) -> Self {
        Self {
            connect_timeout: timer(settings, "connect_timeout", warnings).or(self.connect_timeout),
            retry: number(settings, "retry")
                .or_else(|| number(settings, "nb_get_retry"))
                .map(|r| r as u32)
                .or(self.retry),
            delay_before_retry: timer(settings, "delay_before_retry", warnings)
                .or(self.delay_before_retry),
            warmup: timer(settings, "warmup", warnings).or(self.warmup),
            delay_loop: timer(settings, "delay_loop", warnings).or(self.delay_loop),
            alpha: flag(settings, "alpha").or(self.alpha),
        }
    }
}

fn virtual_service(
    config: &Config,
    server: &VirtualServer,
    warnings: &mut Vec<String>,
) -> Option<VirtualService> {
    let settings = &server.settings;
    let (keys, name_base) = match &server.address {
        VirtualServerAddress::Ip { address, port } => {
            (vec![(*address, *port)], format!("[{address}]"))
        }
        VirtualServerAddress::Fwmark(mark) => {
            warnings.push(format!(
                "virtual_server fwmark {mark}: firewall marks are set by netfilter after XDP has \
                 run, so the XDP load balancer cannot see them; this virtual server is not served \
                 (use virtual_server IP PORT or a virtual_server_group of addresses)"
            ));
            return None;
        }
        VirtualServerAddress::Group(name) => {
            let Some(group) = config
                .virtual_server_groups
                .iter()
                .find(|g| &g.name == name)
            else {
                warnings.push(format!(
                    "virtual_server group {name}: no virtual_server_group of that name - ignored"
                ));
                return None;
            };
            let mut keys = Vec::new();
            for member in &group.members {
                match group_member(member) {
                    Ok(Some(mut expanded)) => keys.append(&mut expanded),
                    Ok(None) => warnings.push(format!(
                        "virtual_server_group {name}: fwmark entries cannot be seen by the XDP \
                         load balancer - skipped"
                    )),
                    Err(e) => warnings.push(format!("virtual_server_group {name}: {e} - skipped")),
                }
            }
            if keys.is_empty() {
                warnings.push(format!(
                    "virtual_server_group {name} has no address entries - ignored"
                ));
                return None;
            }
            (keys, format!("[group {name}]"))
        }
    };
    let protocol = match server
        .protocol
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("TCP") => Protocol::Tcp,
        Some("UDP") => Protocol::Udp,
        Some(other) => {
            warnings.push(format!(
                "virtual server {name_base}: protocol {other} is not served by the XDP load \
                 balancer (TCP and UDP are)"
            ));
            return None;
        }
        None => {
            warnings.push(format!(
                "virtual server {name_base}: no protocol set - defaulting to UDP (as keepalived)"
            ));
            Protocol::Udp
        }
    };
    let name = if let VirtualServerAddress::Ip { port, .. } = &server.address {
        format!(
            "{name_base}:{}:{port}",
            protocol.name().to_ascii_lowercase()
        )
    } else {
        name_base.clone()
    };
    let algo = server.lb_algo.as_deref().unwrap_or("wlc");
    let scheduler = match algo {
        "rr" => Scheduler::Rr,
        "wrr" => Scheduler::Wrr,
        "sh" => Scheduler::Sh,
        "mh" => Scheduler::Mh,
        "lc" => Scheduler::Lc,
        "wlc" => Scheduler::Wlc,
        other if KEEPALIVED_SCHEDULERS.contains(&other) => {
            warnings.push(format!(
                "virtual server {name}: scheduler {other} is not implemented in the XDP load \
                 balancer - using wlc"
            ));
            Scheduler::Wlc
        }
        other => {
            warnings.push(format!(
                "virtual server {name}: invalid lb_algo {other} - using wlc (as keepalived)"
            ));
            Scheduler::Wlc
        }
    };
    let has = |keyword: &str| settings.iter().any(|s| s.keyword == keyword);
    let hash_port = matches!(scheduler, Scheduler::Sh) && has("sh-port")
        || matches!(scheduler, Scheduler::Mh) && has("mh-port");
    let mut one_packet = has("ops");
    if one_packet && protocol != Protocol::Udp {
        warnings.push(format!(
            "virtual server {name}: one packet scheduling requires UDP - resetting (as keepalived)"
        ));
        one_packet = false;
    }
    let vs_method = match server.lb_kind.as_deref() {
        Some(kind) => Method::parse(kind),
        None => None,
    };
    if let Some(kind) = server.lb_kind.as_deref() {
        let tunnel_options = find(settings, "lb_kind")
            .or_else(|| find(settings, "lvs_method"))
            .map(|s| s.args.len() > 1)
            .unwrap_or(false);
        if kind == "TUN" && tunnel_options {
            warnings.push(format!(
                "virtual server {name}: only ipip tunnels are implemented; tunnel options ignored"
            ));
        }
    }
    let mut persistence = server
        .persistence_timeout
        .map(|t| if t == 0 { DEFAULT_PERSISTENCE } else { t });
    if persistence.is_none() && keys.iter().any(|(_, port)| *port == 0) {
        warnings.push(format!(
            "virtual server {name}: zero port only valid for persistent services - setting \
             persistence_timeout {DEFAULT_PERSISTENCE} (as keepalived)"
        ));
        persistence = Some(DEFAULT_PERSISTENCE);
    }
    let ipv6 = keys.first().is_some_and(|(a, _)| a.is_ipv6());
    let mut granularity = if ipv6 { [0xff; 16] } else { [0; 16] };
    if !ipv6 {
        granularity[..4].copy_from_slice(&[0xff; 4]);
    }
    if let Some(g) = find(settings, "persistence_granularity").and_then(|s| s.args.first()) {
        match granularity_mask(g, ipv6) {
            Some(mask) => granularity = mask,
            None => warnings.push(format!(
                "virtual server {name}: invalid persistence_granularity {g} - ignored"
            )),
        }
    }
    for parse_only in [
        "persistence_engine",
        "ha_suspend",
        "smtp_alert",
        "snmp_name",
    ] {
        if has(parse_only) {
            warnings.push(format!(
                "virtual server {name}: {parse_only} is accepted but has no effect in xvrrpd"
            ));
        }
    }
    let vs_inherited = Inherited {
        connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
        delay_loop: Some(server.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP)),
        alpha: Some(has("alpha")),
        ..Inherited::default()
    }
    .over(
        &settings
            .iter()
            .filter(|s| s.keyword != "delay_loop" && s.keyword != "alpha")
            .cloned()
            .collect::<Vec<_>>(),
        warnings,
    );
    let vs_weight = number(settings, "weight").unwrap_or(1) as u32;
    let vs_inhibit = has("inhibit_on_failure");
    let vs_port = keys[0].1;
    let is_group = matches!(server.address, VirtualServerAddress::Group(_));
    let mut method_defaulted = false;
    let mut default_method = || {
        vs_method.unwrap_or_else(|| {
            method_defaulted = true;
            Method::Nat
        })
    };
    let mut reals: Vec<RealService> = Vec::new();
    for real in &server.real_servers {
        let method = find(&real.settings, "lvs_method")
            .and_then(|s| s.args.first())
            .and_then(|m| Method::parse(m))
            .unwrap_or_else(&mut default_method);
        if method != Method::Tun && real.address.is_ipv6() != ipv6 {
            warnings.push(format!(
                "virtual server {name}: address family of real server {} does not match - \
                 skipping real server (as keepalived)",
                real.address
            ));
            continue;
        }
        let port = match (method, real.port) {
            (Method::Nat, Some(port)) if port != 0 => port,
            (_, Some(port)) if port != 0 && port != vs_port && !is_group => {
                warnings.push(format!(
                    "virtual server {name} and real server {} ports don't match - resetting \
                     (as keepalived)",
                    real.address
                ));
                vs_port
            }
            (_, Some(port)) if port != 0 => port,
            _ => vs_port,
        };
        if reals
            .iter()
            .any(|r| r.addr == real.address && r.port == port)
        {
            warnings.push(format!(
                "virtual server {name}: real server {}:{port} is duplicated - removing second rs",
                real.address
            ));
            continue;
        }
        reals.push(real_service(
            &name,
            real,
            port,
            method,
            vs_weight,
            vs_inhibit,
            vs_inherited,
            warnings,
        ));
    }
    if method_defaulted {
        warnings.push(format!(
            "virtual server {name}: no forwarding method set, setting default NAT (as keepalived)"
        ));
    }
    if reals.is_empty() {
        warnings.push(format!(
            "virtual server {name} has no real servers - ignoring (as keepalived)"
        ));
        return None;
    }
    let sorry = server.sorry_server.as_ref().and_then(|words| {
        let addr: IpAddr = words.first()?.parse().ok()?;
        let port = words
            .get(1)
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p != 0)
            .unwrap_or(vs_port);
        let method = find(settings, "sorry_server_lvs_method")
            .and_then(|s| s.args.first())
            .and_then(|m| Method::parse(m))
            .unwrap_or(vs_method.unwrap_or(Method::Nat));
        Some(RealService {
            addr,
            port: if method == Method::Nat { port } else { vs_port },
            method,
            weight: 1,
            inhibit: has("sorry_server_inhibit"),
            alpha: false,
            notify_up: None,
            notify_down: None,
            checks: Vec::new(),
        })
    });
    let weight_sum: u32 = reals.iter().map(|r| r.weight).sum();
    let mut quorum = server.quorum.unwrap_or(1).max(1);
    if quorum > weight_sum {
        warnings.push(format!(
            "quorum {quorum} for {name} exceeds total weight of real servers {weight_sum}, \
             reducing quorum to {weight_sum} (as keepalived)"
        ));
        quorum = weight_sum;
    }
    let mut hysteresis = number(settings, "hysteresis").unwrap_or(0) as u32;
    if quorum > 0 && hysteresis >= quorum {
        warnings.push(format!(
            "virtual server {name}: hysteresis {hysteresis} >= quorum {quorum}; setting \
             hysteresis to {} (as keepalived)",
            quorum - 1
        ));
        hysteresis = quorum - 1;
    }
    Some(VirtualService {
        name,
        keys,
        protocol,
        scheduler,
        hash_port,
        one_packet,
        persistence,
        granularity,
        quorum,
        hysteresis,
        quorum_up: script(settings, "quorum_up"),
        quorum_down: script(settings, "quorum_down"),
        omega: has("omega"),
        sorry,
        reals,
    })
}

#[expect(
    clippy::too_many_arguments,
    reason = "the inheritance chain of keepalived's defaults"
)]
fn real_service(
    vs_name: &str,
    real: &RealServer,
    port: u16,
    method: Method,
    vs_weight: u32,
    vs_inhibit: bool,
    vs_inherited: Inherited,
    warnings: &mut Vec<String>,
) -> RealService {
    let settings = &real.settings;
    let inherited = vs_inherited.over(settings, warnings);
    let alpha = inherited.alpha.unwrap_or(false);
    let mut checks = Vec::new();
    for checker in &real.checkers {
        let mut section = checker.settings.clone();
        if let Some(t) = checker.connect_timeout {
            section.push(timer_section("connect_timeout", t));
        }
        if let Some(r) = checker.retry {
            section.push(Section {
                keyword: "retry".into(),
                args: vec![r.to_string()],
                children: Vec::new(),
            });
        }
        if let Some(d) = checker.delay_before_retry {
            section.push(timer_section("delay_before_retry", d));
        }
        let own = inherited.over(&section, warnings);
        let target = (real.address, port);
        match check_spec(&checker.kind, &section, own, target, warnings) {
            Some(spec) => checks.push(spec),
            None => warnings.push(format!(
                "virtual server {vs_name}: {} of real server {}:{port} is accepted but not run \
                 by xvrrpd (it counts as always up)",
                checker.kind, real.address
            )),
        }
    }
    RealService {
        addr: real.address,
        port,
        method,
        weight: real.weight.map(|w| w.max(0) as u32).unwrap_or(vs_weight),
        inhibit: flag(settings, "inhibit_on_failure").unwrap_or(vs_inhibit),
        alpha,
        notify_up: script(settings, "notify_up"),
        notify_down: script(settings, "notify_down"),
        checks,
    }
}

fn timer_section(keyword: &str, value: Duration) -> Section {
    Section {
        keyword: keyword.into(),
        args: vec![crate::config::values::format_seconds(value)],
        children: Vec::new(),
    }
}

/// A checker's specification with every default settled (check_api.c, validate_check_config).
fn check_spec(
    kind: &str,
    settings: &[Section],
    inherited: Inherited,
    rs: (IpAddr, u16),
    warnings: &mut Vec<String>,
) -> Option<CheckSpec> {
    let (default_retry, default_delay_before_retry) = match kind {
        "MISC_CHECK" => (0, Some(Duration::from_secs(1))),
        "DNS_CHECK" => (3, None),
        "HTTP_GET" | "SSL_GET" => (1, Some(Duration::from_secs(3))),
        _ => (1, Some(Duration::from_secs(1))),
    };
    let delay_loop = inherited.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP);
    let connect_ip = find(settings, "connect_ip")
        .and_then(|s| s.args.first())
        .and_then(|a| a.parse().ok());
    let connect_port = number(settings, "connect_port").map(|p| p as u16);
    let bindto = find(settings, "bindto")
        .and_then(|s| s.args.first())
        .and_then(|a| a.parse().ok());
    let details = match kind {
        "TCP_CHECK" => CheckKind::Tcp,
        "PING_CHECK" => CheckKind::Ping,
        "HTTP_GET" | "SSL_GET" => {
            let mut urls = Vec::new();
            for url in settings.iter().filter(|s| s.keyword == "url") {
                let get = |k: &str| find(&url.children, k).and_then(|s| s.args.first()).cloned();
                let Some(path) = get("path") else {
                    warnings.push(format!("{kind} url has no path - ignoring (as keepalived)"));
                    continue;
                };
                let mut status = Vec::new();
                for code in find(&url.children, "status_code")
                    .map(|s| s.args.clone())
                    .unwrap_or_default()
                {
                    let (min, max) = code.split_once('-').unwrap_or((&code, &code));
                    match (min.parse::<u16>(), max.parse::<u16>()) {
                        (Ok(a), Ok(b)) if (100..=599).contains(&a) && a <= b && b <= 599 => {
                            status.push((a, b))
                        }
                        _ => warnings.push(format!("invalid HTTP_GET status code '{code}'")),
                    }
                }
                if status.is_empty() {
                    status.push((200, 299));
                }
                let digest = get("digest").and_then(|d| {
                    let ok = d.len() == 32 && d.chars().all(|c| c.is_ascii_hexdigit());
                    if !ok {
                        warnings.push(format!("digest '{d}' is not 32 hex digits - ignored"));
                    }
                    ok.then(|| d.to_ascii_lowercase())
                });
                for regex in ["regex", "regex_no_match", "regex_options"] {
                    if find(&url.children, regex).is_some() {
                        warnings.push(format!(
                            "{kind} url {path}: {regex} is accepted but not checked by xvrrpd"
                        ));
                    }
                }
                urls.push(UrlSpec {
                    path,
                    status,
                    digest,
                    virtualhost: get("virtualhost"),
                });
            }
            if urls.is_empty() {
                warnings.push(format!(
                    "{kind} checker has no urls specified - ignoring (as keepalived)"
                ));
                return None;
            }
            CheckKind::Http(HttpSpec {
                tls: kind == "SSL_GET",
                urls,
                virtualhost: find(settings, "virtualhost").and_then(|s| s.args.first().cloned()),
                http_1_1: find(settings, "http_protocol")
                    .and_then(|s| s.args.first())
                    .is_some_and(|v| v == "1.1"),
                connection_close: find(settings, "http_protocol")
                    .and_then(|s| s.args.first())
                    .is_some_and(|v| v == "1.1" || v.eq_ignore_ascii_case("1.0c")),
                sni: flag(settings, "enable_sni").unwrap_or(false),
            })
        }
        "MISC_CHECK" => {
            let Some(command) = script(settings, "misc_path") else {
                warnings.push(
                    "No script path has been specified for MISC_CHECKER - skipping (as keepalived)"
                        .into(),
                );
                return None;
            };
            CheckKind::Misc(MiscSpec {
                command,
                timeout: number(settings, "misc_timeout").map(Duration::from_secs),
                dynamic: settings.iter().any(|s| s.keyword == "misc_dynamic"),
            })
        }
        "UDP_CHECK" => {
            let hex = |k: &str| {
                find(settings, k).map(|s| hex_bytes(&s.args.concat()).unwrap_or_default())
            };
            CheckKind::Udp(UdpSpec {
                payload: hex("payload"),
                require_reply: find(settings, "require_reply").is_some(),
                reply: hex("require_reply").filter(|r| !r.is_empty()),
                min_reply: number(settings, "min_reply_length").unwrap_or(0) as usize,
                max_reply: number(settings, "max_reply_length").unwrap_or(255) as usize,
            })
        }
        "DNS_CHECK" => CheckKind::Dns {
            query_type: find(settings, "type")
                .and_then(|s| s.args.first().cloned())
                .unwrap_or_else(|| "SOA".into()),
            name: find(settings, "name")
                .and_then(|s| s.args.first().cloned())
                .unwrap_or_default(),
        },
        "SMTP_CHECK" => {
            if find(settings, "host").is_some() {
                warnings.push(
                    "SMTP_CHECK host blocks (deprecated) are not run by xvrrpd; define more \
                     checkers instead"
                        .into(),
                );
            }
            CheckKind::Smtp {
                helo_name: find(settings, "helo_name")
                    .and_then(|s| s.args.first().cloned())
                    .unwrap_or_else(|| "smtpchecker.keepalived.org".into()),
            }
        }
        // FILE_CHECK and BFD_CHECK are accepted and not run (README).
        _ => return None,
    };
    let dst_port = connect_port.unwrap_or(match details {
        CheckKind::Dns { .. } if connect_port.is_none() => 53,
        _ => rs.1,
    });
    Some(CheckSpec {
        kind: details,
        target: (connect_ip.unwrap_or(rs.0), dst_port),
        bindto,
        connect_timeout: inherited.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        delay_loop,
        retry: inherited.retry.unwrap_or(default_retry),
        delay_before_retry: inherited
            .delay_before_retry
            .or(default_delay_before_retry)
            .unwrap_or(delay_loop),
        warmup: inherited.warmup.unwrap_or(delay_loop),
        alpha: inherited.alpha.unwrap_or(false),
    })
}

/// keepalived's `read_hex_str`: hex digits, spaces ignored.
fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// `persistence_granularity`: an IPv4 netmask (dotted) or an IPv6 prefix length.
fn granularity_mask(text: &str, ipv6: bool) -> Option<[u8; 16]> {
    let mut mask = [0u8; 16];
    if ipv6 {
        let len: u32 = text.parse().ok().filter(|l| (1..=128).contains(l))?;
        for (i, byte) in mask.iter_mut().enumerate() {
            let bits = len.saturating_sub(i as u32 * 8).min(8);
            *byte = (0xff00u16 >> bits) as u8;
        }
    } else {
        let addr: std::net::Ipv4Addr = text.parse().ok()?;
        mask[..4].copy_from_slice(&addr.octets());
    }
    Some(mask)
}

/// One `virtual_server_group` line: `IP[-LAST | /LEN] [PORT]`, or `fwmark N` (`None`).
fn group_member(words: &[String]) -> Result<Option<Vec<(IpAddr, u16)>>, String> {
    let Some(first) = words.first() else {
        return Ok(Some(Vec::new()));
    };
    if first == "fwmark" {
        return Ok(None);
    }
    let port: u16 = match words.get(1) {
        Some(p) => p.parse().map_err(|_| format!("bad port {p}"))?,
        None => 0,
    };
    let (start, end) = if let Some((addr, len)) = first.split_once('/') {
        let addr: IpAddr = addr.parse().map_err(|_| format!("bad address {first}"))?;
        let len: u32 = len.parse().map_err(|_| format!("bad prefix {first}"))?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        if len == 0 || len > bits || bits - len > 12 {
            return Err(format!("prefix {first} is empty or too large to expand"));
        }
        let count = 1u128 << (bits - len);
        (addr, add_to(addr, count - 1))
    } else if let Some((addr, last)) = first.split_once('-') {
        let addr: IpAddr = addr.parse().map_err(|_| format!("bad address {first}"))?;
        let end = if let Ok(full) = last.parse::<IpAddr>() {
            full
        } else {
            // keepalived's short form: the last byte (IPv4) or last 16 bits (IPv6).
            let n: u128 = if addr.is_ipv4() {
                last.parse().map_err(|_| format!("bad range {first}"))?
            } else {
                u128::from_str_radix(last, 16).map_err(|_| format!("bad range {first}"))?
            };
            match addr {
                IpAddr::V4(a) => {
                    let mut o = a.octets();
                    o[3] = n as u8;
                    IpAddr::from(o)
                }
                IpAddr::V6(a) => {
                    let v = (u128::from(a) & !0xffff) | (n & 0xffff);
                    IpAddr::from(v.to_be_bytes())
                }
            }
        };
        (addr, end)
    } else {
        let addr: IpAddr = first.parse().map_err(|_| format!("bad address {first}"))?;
        (addr, addr)
    };
    let (a, b) = (as_u128(start), as_u128(end));
    if b < a || b - a > 4096 {
        return Err(format!("range {first} is reversed or too large"));
    }
    Ok(Some(
        (0..=(b - a)).map(|i| (add_to(start, i), port)).collect(),
    ))
}

fn as_u128(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

fn add_to(addr: IpAddr, n: u128) -> IpAddr {
    match addr {
        IpAddr::V4(a) => IpAddr::from(((u32::from(a) as u128 + n) as u32).to_be_bytes()),
        IpAddr::V6(a) => IpAddr::from((u128::from(a) + n).to_be_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_members_expand() {
        let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(
            group_member(&words("10.0.0.1-3 80"))
                .unwrap()
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            group_member(&words("10.0.0.0/30 80"))
                .unwrap()
                .unwrap()
                .len(),
            4
        );
        assert!(group_member(&words("fwmark 1")).unwrap().is_none());
    }

    #[test]
    fn granularity_masks() {
        let v4 = granularity_mask("255.255.255.0", false).unwrap();
        assert_eq!(&v4[..4], &[255, 255, 255, 0]);
        let v6 = granularity_mask("60", true).unwrap();
        assert_eq!(v6[7], 0xf0);
        assert_eq!(v6[8], 0);
    }
}
