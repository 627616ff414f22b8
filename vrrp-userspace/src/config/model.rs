//! The typed keepalived configuration, as xvrrpd understands it after parsing and defaults.
//! Every timer is a `Duration`, every VRRP number a newtype; text that keepalived passes to
//! other programs (scripts, route options) stays text.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::Serialize;

use super::values::{InterfaceName, IpPrefix, serialize_optional_seconds, serialize_seconds};
use crate::protocol::{Family, Priority, Version, Vrid};

#[derive(Clone, Debug, Default, Serialize)]
pub struct Config {
    pub global: GlobalDefs,
    /// `net_namespace NAME` (top level).
    pub net_namespace: Option<String>,
    pub scripts: Vec<VrrpScript>,
    pub track_files: Vec<TrackFile>,
    pub track_processes: Vec<TrackProcess>,
    pub sync_groups: Vec<SyncGroup>,
    pub garp_groups: Vec<GarpGroup>,
    pub instances: Vec<VrrpInstance>,
    pub static_addresses: Vec<VirtualAddress>,
    pub static_routes: Vec<Route>,
    pub static_rules: Vec<Rule>,
    pub interface_up_down_delays: Vec<InterfaceDelays>,
    pub linkbeat_interfaces: Vec<InterfaceName>,
    pub bfd_instances: Vec<Section>,
    pub virtual_server_groups: Vec<VirtualServerGroup>,
    pub virtual_servers: Vec<VirtualServer>,
    /// Why keepalived 2.2.7 would refuse to start with this file at all (it exits after
    /// vrrp_complete_init), where the reader only skipped an instance: the daemon refuses too.
    #[serde(skip)]
    pub refusals: Vec<String>,
    /// The notify scripts of instances refused after reading (no VRID, no interface, ...),
    /// by instance name: keepalived checks the security of every instance's scripts
    /// (`check_vrrp_script_security`) before it refuses any of them, so their scripts decide
    /// its `-t` exit code too (6).
    #[serde(skip)]
    pub refused_notify: Vec<(String, Notify)>,
    /// Every interface the file names where keepalived needs it to exist, with its role and
    /// where it is named (instances dropped while reading included).
    #[serde(skip)]
    pub named_interfaces: Vec<(InterfaceName, &'static str, super::diagnostic::Span)>,
}

/// A command line to run: the program and its arguments, split like a shell would.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScriptCommand {
    pub argv: Vec<String>,
    /// `[username [groupname]]` after the command; `None` means `script_user`.
    pub user: Option<String>,
    pub group: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct GlobalDefs {
    /// Default: the hostname.
    pub router_id: Option<String>,
    pub notification_email: Vec<String>,
    pub notification_email_from: Option<String>,
    pub smtp_server: Option<SmtpServer>,
    pub smtp_helo_name: Option<String>,
    #[serde(serialize_with = "serialize_seconds")]
    pub smtp_connect_timeout: Duration,
    pub smtp_alert: Option<bool>,
    pub smtp_alert_vrrp: Option<bool>,
    pub vrrp_version: Version,
    pub vrrp_mcast_group4: Ipv4Addr,
    pub vrrp_mcast_group6: Ipv6Addr,
    pub vrrp_strict: bool,
    pub v3_checksum_as_v2: bool,
    pub vrrp_skip_check_adv_addr: bool,
    pub vrrp_check_unicast_src: bool,
    pub vrrp_notify_priority_changes: bool,
    /// GARP/NA and timer defaults copied into each instance when it is parsed.
    pub instance_defaults: InstanceDefaults,
    pub script_user: Option<String>,
    pub script_group: Option<String>,
    pub enable_script_security: bool,
    pub notify_fifo: Option<NotifyFifo>,
    pub vrrp_notify_fifo: Option<NotifyFifo>,
    pub dynamic_interfaces: bool,
    pub default_interface: Option<InterfaceName>,
    #[serde(serialize_with = "serialize_optional_seconds")]
    pub vrrp_startup_delay: Option<Duration>,
    pub vmac_prefix: Option<String>,
    pub vmac_addr_prefix: Option<String>,
    pub state_dump_file: Option<String>,
    pub stats_dump_file: Option<String>,
    pub json_dump_file: Option<String>,
    pub tuning: Tuning,
    /// Accepted for compatibility, not used by xvrrpd (SNMP, DBus, nftables, LVS sync, ...).
    pub ignored: Vec<IgnoredKeyword>,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        Self {
            router_id: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_helo_name: None,
            smtp_connect_timeout: Duration::from_secs(30),
            smtp_alert: None,
            smtp_alert_vrrp: None,
            vrrp_version: Version::V2,
            vrrp_mcast_group4: Ipv4Addr::new(224, 0, 0, 18),
            vrrp_mcast_group6: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
            vrrp_strict: false,
            v3_checksum_as_v2: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_check_unicast_src: false,
            vrrp_notify_priority_changes: false,
            instance_defaults: InstanceDefaults::default(),
            script_user: None,
            script_group: None,
            enable_script_security: false,
            notify_fifo: None,
            vrrp_notify_fifo: None,
            dynamic_interfaces: false,
            default_interface: None,
            vrrp_startup_delay: None,
            vmac_prefix: None,
            vmac_addr_prefix: None,
            state_dump_file: None,
            stats_dump_file: None,
            json_dump_file: None,
            tuning: Tuning::default(),
            ignored: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SmtpServer {
    /// An address or a host name.
    pub host: String,
    pub port: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotifyFifo {
    pub path: String,
    pub script: Option<ScriptCommand>,
}

/// Process tuning keywords, kept so they can be mapped onto xvrrpd's runtime.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tuning {
    pub max_auto_priority: Option<i32>,
    pub vrrp_priority: Option<i32>,
    pub vrrp_rt_priority: Option<i32>,
    pub vrrp_no_swap: bool,
    pub vrrp_cpu_affinity: Vec<u32>,
    pub vrrp_rlimit_rttime: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IgnoredKeyword {
    pub keyword: String,
    pub args: Vec<String>,
    pub at: String,
}

/// Values an instance inherits from `global_defs` (as they were when the instance was parsed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstanceDefaults {
    pub garp: GarpSettings,
    pub down_timer_adverts: u32,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
}

impl Default for InstanceDefaults {
    fn default() -> Self {
        Self {
            garp: GarpSettings::default(),
            down_timer_adverts: 3,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GarpSettings {
    /// Second burst after becoming master; zero = none (`garp_master_delay`, 5 s).
    #[serde(serialize_with = "serialize_seconds")]
    pub master_delay: Duration,
    pub master_repeat: u32,
    /// Refresh period while master; zero = off.
    #[serde(serialize_with = "serialize_seconds")]
    pub master_refresh: Duration,
    pub master_refresh_repeat: u32,
    #[serde(serialize_with = "serialize_optional_seconds")]
    pub lower_prio_delay: Option<Duration>,
    pub lower_prio_repeat: Option<u32>,
    /// Gap between gratuitous ARPs / unsolicited NAs.
    #[serde(serialize_with = "serialize_seconds")]
    pub garp_interval: Duration,
    #[serde(serialize_with = "serialize_seconds")]
    pub gna_interval: Duration,
    pub min_garp: bool,
}

impl Default for GarpSettings {
    fn default() -> Self {
        Self {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: Duration::ZERO,
            master_refresh_repeat: 1,
            lower_prio_delay: None,
            lower_prio_repeat: None,
            garp_interval: Duration::ZERO,
            gna_interval: Duration::ZERO,
            min_garp: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InitialState {
    Master,
    Backup,
}

#[derive(Clone, Debug, Serialize)]
pub struct VrrpInstance {
    pub name: String,
    #[serde(skip)]
    pub name_span: super::diagnostic::Span,
    /// `file:line` of the `vrrp_instance` keyword.
    pub defined_at: String,
    /// `state`; `None` when missing, which keepalived reads as MASTER for priority 255 and
    /// BACKUP otherwise (see [`VrrpInstance::wishes_master`]).
    pub state: Option<InitialState>,
    pub interface: Option<InterfaceName>,
    pub vrid: Vrid,
    pub priority: Priority,
    #[serde(serialize_with = "serialize_seconds")]
    pub advert_int: Duration,
    pub version: Version,
    pub family: Family,
    pub native_ipv6: bool,
    pub authentication: Option<Authentication>,
    pub virtual_ipaddress: Vec<VirtualAddress>,
    pub virtual_ipaddress_excluded: Vec<VirtualAddress>,
    pub no_virtual_ipaddress: bool,
    pub promote_secondaries: bool,
    pub virtual_routes: Vec<Route>,
    pub virtual_rules: Vec<Rule>,
    pub preempt: bool,
    #[serde(serialize_with = "serialize_seconds")]
    pub preempt_delay: Duration,
    /// `accept`/`no_accept`; `None` = keepalived's default (accept unless strict).
    pub accept: Option<bool>,
    pub track: Tracking,
    pub dont_track_primary: bool,
    pub track_src_ip: bool,
    pub mcast_src_ip: Option<IpAddr>,
    pub mcast_dst_ip: Option<IpAddr>,
    pub unicast: Unicast,
    pub vmac: Option<Vmac>,
    pub ipvlan: Option<Ipvlan>,
    pub vrf: Option<InterfaceName>,
    pub garp: GarpSettings,
    pub garp_extra_if: Option<GarpExtraIf>,
    pub down_timer_adverts: u32,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub skip_check_adv_addr: bool,
    pub strict_mode: bool,
    pub notify: Notify,
    pub notify_priority_changes: bool,
    pub smtp_alert: Option<bool>,
    pub debug: Option<u32>,
    pub kernel_rx_buf_size: Option<u64>,
    pub linkbeat_use_polling: bool,
}

impl VrrpInstance {
    /// keepalived's initial wish (`wantstate`): `state MASTER`, or no `state` and priority 255
    /// (vrrp_complete_instance).
    pub fn wishes_master(&self) -> bool {
        match self.state {
            Some(state) => state == InitialState::Master,
            None => self.priority == Priority(255),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "password", rename_all = "UPPERCASE")]
pub enum Authentication {
    Pass(String),
    /// IPsec AH with its key (keepalived hashes the auth_pass).
    Ah(String),
}

/// One line of `virtual_ipaddress`, `virtual_ipaddress_excluded` or `static_ipaddress`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VirtualAddress {
    pub address: IpPrefix,
    pub broadcast: Option<Broadcast>,
    pub dev: Option<InterfaceName>,
    pub scope: Option<String>,
    pub label: Option<String>,
    pub peer: Option<IpPrefix>,
    pub home: bool,
    pub nodad: bool,
    pub mngtmpaddr: bool,
    pub noprefixroute: bool,
    pub autojoin: bool,
    pub no_track: bool,
    pub use_vmac: bool,
    /// Seconds; `None` = forever.
    pub preferred_lft: Option<u32>,
    pub track_group: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Broadcast {
    Address(IpAddr),
    /// `brd +`: the prefix's broadcast address.
    Derived,
    /// `brd -`: none.
    None,
}

/// A route in `ip route` syntax, every word keepalived's `alloc_route` accepts kept with its
/// meaning (numbers resolved through /etc/iproute2 as keepalived does).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Route {
    /// `blackhole`, `unreachable`, `prohibit`, `throw`, `local`, `broadcast`, `anycast`,
    /// `multicast`, `nat`, `xresolve`, or none (unicast).
    pub route_type: Option<String>,
    /// The route's family: that of its addresses, or of `inet`/`inet6`; `default` takes it.
    pub family: Family,
    pub destination: IpPrefix,
    /// `from PREFIX`: the source prefix (IPv6 only).
    pub from: Option<IpPrefix>,
    pub src: Option<IpAddr>,
    pub via: Option<IpAddr>,
    pub dev: Option<InterfaceName>,
    /// The table number (`main` is 254); `None` = main.
    pub table: Option<u32>,
    pub metric: Option<u32>,
    /// The scope number (`link` is 253).
    pub scope: Option<u8>,
    /// `proto`/`protocol` as a number; keepalived uses 18 (keepalived) for tracked routes.
    pub protocol: Option<u8>,
    pub tos: Option<u8>,
    pub onlink: bool,
    pub realms: Option<u32>,
    pub metrics: RouteMetrics,
    /// `expires N` (IPv6).
    pub expires: Option<u32>,
    /// `pref low|medium|high|N` (IPv6 router preference, as the number).
    pub pref: Option<u8>,
    pub ttl_propagate: Option<bool>,
    /// `encap ...` words as written.
    pub encap: Option<Vec<String>>,
    pub nexthops: Vec<Nexthop>,
    /// `add`, `append` or `prepend` (keepalived's default, the kernel's NLM_F_CREATE only).
    pub install: RouteInstall,
    pub vrf: Option<InterfaceName>,
    pub track_group: Option<String>,
    pub no_track: bool,
}

/// How a route is added (keepalived: `add`, `append`, `prepend`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteInstall {
    #[default]
    Prepend,
    Add,
    Append,
}

/// One `nexthop` of a multipath route (or an `or` alternative).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Nexthop {
    pub via: Option<IpAddr>,
    pub dev: Option<InterfaceName>,
    /// 1..=256.
    pub weight: Option<u16>,
    pub onlink: bool,
    pub realms: Option<u32>,
    pub encap: Option<Vec<String>>,
}

/// A route metric and whether it is locked (`mtu lock 1400`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RouteMetric {
    pub value: u32,
    pub lock: bool,
}

/// The RTA_METRICS of a route. Times are in the kernel's units: `rtt` in 1/8 ms, `rttvar` in
/// 1/4 ms, `rto_min` in ms (keepalived's `get_time_rtt`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RouteMetrics {
    pub mtu: Option<RouteMetric>,
    pub advmss: Option<RouteMetric>,
    pub rtt: Option<RouteMetric>,
    pub rttvar: Option<RouteMetric>,
    pub reordering: Option<RouteMetric>,
    pub window: Option<u32>,
    pub cwnd: Option<RouteMetric>,
    pub ssthresh: Option<RouteMetric>,
    pub rto_min: Option<RouteMetric>,
    pub initcwnd: Option<u32>,
    pub initrwnd: Option<u32>,
    pub hoplimit: Option<u8>,
    pub features_ecn: bool,
    pub quickack: Option<bool>,
    /// The congestion control algorithm, and whether it is locked.
    pub congctl: Option<(String, bool)>,
    pub fastopen_no_cookie: Option<bool>,
}

/// A policy rule in `ip rule` syntax, every word keepalived's `alloc_rule` accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub family: Family,
    /// `not`.
    pub invert: bool,
    pub from: Option<IpPrefix>,
    pub to: Option<IpPrefix>,
    /// `table`/`lookup` as a number.
    pub table: Option<u32>,
    pub preference: Option<u32>,
    /// `goto N`, `nop`, or a route type (`blackhole`, `prohibit`, `unreachable`, ...).
    pub action: Option<RuleAction>,
    pub tos: Option<u8>,
    pub fwmark: Option<u32>,
    pub fwmask: Option<u32>,
    pub realms: Option<u32>,
    pub suppress_prefixlength: Option<i32>,
    pub suppress_ifgroup: Option<u32>,
    /// `iif`/`dev`.
    pub iif: Option<InterfaceName>,
    pub oif: Option<InterfaceName>,
    pub tunnel_id: Option<u64>,
    pub uidrange: Option<(u32, u32)>,
    pub l3mdev: bool,
    pub protocol: Option<u8>,
    pub ip_proto: Option<u8>,
    pub sport: Option<(u16, u16)>,
    pub dport: Option<(u16, u16)>,
    pub track_group: Option<String>,
    pub no_track: bool,
}

/// What a rule does besides looking up a table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    Goto(u32),
    Nop,
    /// A route type: `blackhole`, `prohibit`, `unreachable`, ...
    Type(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tracking {
    pub interfaces: Vec<TrackRef>,
    pub scripts: Vec<TrackRef>,
    pub files: Vec<TrackRef>,
    pub processes: Vec<TrackRef>,
    pub bfd: Vec<TrackRef>,
}

/// A reference to something tracked, with an optional weight override.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackRef {
    pub name: String,
    /// `None`: the tracked object's own weight (scripts, files) or 0 (interfaces).
    pub weight: Option<i32>,
    pub reverse: bool,
    #[serde(skip)]
    pub at: Option<super::diagnostic::Span>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Unicast {
    pub src_ip: Option<IpAddr>,
    pub peers: Vec<UnicastPeer>,
    pub ttl: Option<u8>,
    pub fault_no_peer: bool,
    pub check_unicast_src: bool,
    /// `old_unicast_checksum [never]`.
    pub old_checksum: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnicastPeer {
    pub address: IpAddr,
    pub min_ttl: Option<u8>,
    pub max_ttl: Option<u8>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Vmac {
    pub interface: Option<InterfaceName>,
    pub mac: Option<String>,
    pub xmit_base: bool,
    pub use_vmac_addr: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Ipvlan {
    pub interface: Option<InterfaceName>,
    pub address: Option<IpPrefix>,
    pub mode: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GarpExtraIf {
    pub all: bool,
    #[serde(serialize_with = "serialize_seconds")]
    pub delay: Duration,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Notify {
    pub master: Option<ScriptCommand>,
    pub backup: Option<ScriptCommand>,
    pub fault: Option<ScriptCommand>,
    pub stop: Option<ScriptCommand>,
    /// `notify_deleted [script]`: send DELETED instead of FAULT when removed on reload.
    pub deleted: Option<Option<ScriptCommand>>,
    pub any: Option<ScriptCommand>,
    pub master_rx_lower_pri: Option<ScriptCommand>,
}

impl Notify {
    pub fn scripts(&self) -> impl Iterator<Item = &ScriptCommand> {
        [
            &self.master,
            &self.backup,
            &self.fault,
            &self.stop,
            &self.any,
            &self.master_rx_lower_pri,
        ]
        .into_iter()
        .flatten()
        .chain(self.deleted.iter().flatten())
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct VrrpScript {
    pub name: String,
    pub defined_at: String,
    pub script: ScriptCommand,
    #[serde(serialize_with = "serialize_seconds")]
    pub interval: Duration,
    /// Default: the interval.
    #[serde(serialize_with = "serialize_seconds")]
    pub timeout: Duration,
    pub weight: i32,
    pub reverse: bool,
    pub rise: u32,
    pub fall: u32,
    pub init_fail: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrackFile {
    pub name: String,
    pub file: String,
    pub weight: i32,
    pub reverse: bool,
    /// `init_file [VALUE] [overwrite]`.
    pub init_file: Option<(i64, bool)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrackProcess {
    pub name: String,
    pub process: Vec<String>,
    pub param_match: Option<String>,
    pub weight: i32,
    pub reverse: bool,
    pub quorum: u32,
    pub quorum_max: Option<u32>,
    #[serde(serialize_with = "serialize_optional_seconds")]
    pub delay: Option<Duration>,
    #[serde(serialize_with = "serialize_optional_seconds")]
    pub fork_delay: Option<Duration>,
    #[serde(serialize_with = "serialize_optional_seconds")]
    pub terminate_delay: Option<Duration>,
    pub full_command: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct SyncGroup {
    pub name: String,
    pub defined_at: String,
    pub members: Vec<TrackRef>,
    pub track: Tracking,
    pub notify: Notify,
    pub notify_priority_changes: bool,
    pub smtp_alert: Option<bool>,
    pub global_tracking: bool,
    pub sync_group_tracking_weight: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct GarpGroup {
    #[serde(serialize_with = "serialize_optional_seconds")]
    pub garp_interval: Option<Duration>,
    #[serde(serialize_with = "serialize_optional_seconds")]
    pub gna_interval: Option<Duration>,
    pub interfaces: Vec<InterfaceName>,
}

#[derive(Clone, Debug, Serialize)]
pub struct InterfaceDelays {
    pub interface: InterfaceName,
    #[serde(serialize_with = "serialize_seconds")]
    pub down_delay: Duration,
    #[serde(serialize_with = "serialize_seconds")]
    pub up_delay: Duration,
}

/// A block xvrrpd keeps structurally but does not interpret yet (BFD, checker details).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Section {
    pub keyword: String,
    pub args: Vec<String>,
    pub children: Vec<Section>,
}

#[derive(Clone, Debug, Serialize)]
pub struct VirtualServerGroup {
    pub name: String,
    /// `IP[-LAST] PORT`, `fwmark N` entries as written.
    pub members: Vec<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VirtualServerAddress {
    Ip { address: IpAddr, port: u16 },
    Fwmark(u32),
    Group(String),
}

#[derive(Clone, Debug, Serialize)]
pub struct VirtualServer {
    pub address: VirtualServerAddress,
    pub defined_at: String,
    #[serde(serialize_with = "serialize_optional_seconds")]
    pub delay_loop: Option<Duration>,
    pub lb_algo: Option<String>,
    pub lb_kind: Option<String>,
    pub protocol: Option<String>,
    pub persistence_timeout: Option<u32>,
    pub quorum: Option<u32>,
    pub sorry_server: Option<Vec<String>>,
    pub real_servers: Vec<RealServer>,
    /// Other keywords of the block (checker-side settings, acted on in a later phase).
    pub settings: Vec<Section>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RealServer {
    pub address: IpAddr,
    pub port: Option<u16>,
    pub weight: Option<i32>,
    pub checkers: Vec<Checker>,
    pub settings: Vec<Section>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Checker {
    /// `HTTP_GET`, `SSL_GET`, `TCP_CHECK`, `MISC_CHECK`, ...
    pub kind: String,
    #[serde(serialize_with = "serialize_optional_seconds")]
    pub connect_timeout: Option<Duration>,
    /// `retry` (old name `nb_get_retry`).
    pub retry: Option<u32>,
    #[serde(serialize_with = "serialize_optional_seconds")]
    pub delay_before_retry: Option<Duration>,
    pub settings: Vec<Section>,
}
