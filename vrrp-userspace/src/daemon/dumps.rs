//! keepalived's dump files, in its formats, where it writes them, so exporters and scripts that
//! read them keep working: SIGUSR1 writes `keepalived.data`, SIGUSR2 `keepalived.stats`,
//! keepalived's JSON signal (SIGRTMIN+2) `keepalived.json` (vrrp_print.c, vrrp_json.c,
//! vrrp_data.c of keepalived 2.2.7; real dumps are in tests/data/keepalived-2.2.7-dumps).
//!
//! Paths follow keepalived: `$TMPDIR` if it is absolute, else /tmp; the data file carries the
//! `net_namespace` name as keepalived's `open_dump_file` does. A daemon running in a network
//! namespace other than its PID 1's (`nsenter --net`, sharing /tmp with the host) adds
//! `net-<inode>` to all three, so that daemons of different namespaces never overwrite each
//! other's files; inside a container (its own PID 1) the names are keepalived's.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::json;

use super::status::{InstanceReport, Report};

/// Which dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dump {
    Data,
    Stats,
    Json,
}

impl Dump {
    fn extension(self) -> &'static str {
        match self {
            Self::Data => "data",
            Self::Stats => "stats",
            Self::Json => "json",
        }
    }
}

/// Where the dumps go.
#[derive(Clone, Debug)]
pub struct DumpPaths {
    dir: PathBuf,
    /// keepalived's `net_namespace` (data file only).
    net_namespace: Option<String>,
    /// `net-<inode>` outside PID 1's network namespace (every file).
    ours: Option<String>,
}

impl DumpPaths {
    pub fn new(net_namespace: Option<String>) -> Self {
        let dir = std::env::var_os("TMPDIR")
            .map(PathBuf::from)
            .filter(|d| d.is_absolute())
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        let ours = (!super::process::in_initial_netns())
            .then(super::process::netns_inode)
            .flatten()
            .map(|inode| format!("net-{inode}"));
        Self {
            dir,
            net_namespace,
            ours,
        }
    }

    pub fn path(&self, dump: Dump) -> PathBuf {
        let mut suffix: Vec<&str> = Vec::new();
        if dump == Dump::Data
            && let Some(ns) = &self.net_namespace
        {
            suffix.push(ns);
        }
        if let Some(ours) = &self.ours {
            suffix.push(ours);
        }
        let name = if suffix.is_empty() {
            format!("keepalived.{}", dump.extension())
        } else {
            format!("keepalived.{}.{}", suffix.join("_"), dump.extension())
        };
        self.dir.join(name)
    }
}

/// Writes one dump of `report` (mode 0644, replaced atomically).
pub fn write(paths: &DumpPaths, dump: Dump, report: &Report) -> std::io::Result<PathBuf> {
    let path = paths.path(dump);
    let text = match dump {
        Dump::Data => data(report),
        Dump::Stats => stats(report),
        Dump::Json => json(report),
    };
    let temporary = path.with_extension(format!("{}.tmp", dump.extension()));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, &path)?;
    Ok(path)
}

/// keepalived's state numbers (VRRP_STATE_*), which its JSON and exporters use.
pub fn state_number(state: &str) -> u8 {
    match state {
        "BACKUP" => 1,
        "MASTER" => 2,
        "FAULT" => 3,
        _ => 0,
    }
}

/// `keepalived.stats`, exactly vrrp_print.c's layout.
pub fn stats(report: &Report) -> String {
    let mut out = String::new();
    for i in &report.instances {
        let c = &i.counters;
        let _ = write!(
            out,
            "VRRP Instance: {}\n  Advertisements:\n    Received: {}\n    Sent: {}\n  \
             Became master: {}\n  Released master: {}\n  Packet Errors:\n    Length: {}\n    \
             TTL: {}\n    Invalid Type: {}\n    Advertisement Interval: {}\n    \
             Address List: {}\n  Authentication Errors:\n    Invalid Type: {}\n    \
             Type Mismatch: {}\n    Failure: {}\n  Priority Zero:\n    Received: {}\n    \
             Sent: {}\n",
            i.name,
            c.adverts_received,
            c.adverts_sent,
            c.became_master,
            c.released_master,
            c.packet_length_errors,
            c.ttl_errors,
            c.invalid_type,
            c.advert_interval_errors,
            c.address_list_errors,
            c.auth_invalid_type,
            c.auth_type_mismatch,
            c.auth_failure,
            c.priority_zero_received,
            c.priority_zero_sent,
        );
    }
    out
}

fn yes(on: bool) -> &'static str {
    if on { "true" } else { "false" }
}

fn seconds(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{s}")
    } else {
        format!("{s:.6}")
    }
}

fn instance_data(out: &mut String, i: &InstanceReport) {
    let d = &i.details;
    let _ = writeln!(out, " VRRP Instance = {}", i.name);
    let _ = writeln!(out, "   VRRP Version = {}", i.version);
    let _ = writeln!(out, "   State = {}", i.state);
    let _ = writeln!(out, "   Flags: none");
    let _ = writeln!(out, "   Wantstate = {}", i.state);
    let _ = writeln!(
        out,
        "   Last transition = {:.6}",
        i.last_transition
            .as_ref()
            .map_or(i.since_unix, |t| t.at_unix)
    );
    let _ = writeln!(
        out,
        "   Master down timer = {} usecs",
        (i.master_down_interval_ms * 1000.0).round() as u64
    );
    let _ = writeln!(out, "   Interface = {}", i.interface);
    if let Some(vmac) = &d.vmac {
        let _ = writeln!(out, "   Use VMAC, i/f {vmac}");
    }
    if let Some(source) = i.source {
        let _ = writeln!(out, "   Using src_ip = {source}");
    }
    match d.multicast_group {
        Some(group) => {
            let _ = writeln!(out, "   Multicast address {group}");
        }
        None => {
            let _ = writeln!(out, "   Unicast Peer :");
            for peer in &d.unicast_peers {
                let _ = writeln!(out, "     {peer}");
            }
        }
    }
    let _ = writeln!(out, "   Gratuitous ARP delay = {}", seconds(d.garp_delay_s));
    let _ = writeln!(out, "   Gratuitous ARP repeat = {}", d.garp_repeat);
    let _ = writeln!(
        out,
        "   Gratuitous ARP refresh = {}",
        seconds(d.garp_refresh_s)
    );
    let _ = writeln!(
        out,
        "   Gratuitous ARP refresh repeat = {}",
        d.garp_refresh_repeat
    );
    let _ = writeln!(
        out,
        "   Gratuitous ARP lower priority delay = {}",
        seconds(d.garp_lower_prio_delay_s)
    );
    let _ = writeln!(
        out,
        "   Gratuitous ARP lower priority repeat = {}",
        d.garp_lower_prio_repeat
    );
    let _ = writeln!(out, "   Down timer adverts = {}", d.down_timer_adverts);
    let _ = writeln!(
        out,
        "   Send advert after receive lower priority advert = {}",
        yes(!d.lower_prio_no_advert)
    );
    let _ = writeln!(
        out,
        "   Send advert after receive higher priority advert = {}",
        yes(d.higher_prio_send_advert)
    );
    let _ = writeln!(out, "   Virtual Router ID = {}", i.vrid);
    let _ = writeln!(out, "   Priority = {}", i.base_priority);
    let _ = writeln!(out, "   Effective priority = {}", i.effective_priority);
    let _ = writeln!(
        out,
        "   Advert interval = {}",
        if i.advert_interval_ms % 1000.0 == 0.0 {
            format!("{} sec", i.advert_interval_ms / 1000.0)
        } else {
            format!("{} milli-sec", i.advert_interval_ms)
        }
    );
    let _ = writeln!(out, "   Accept = enabled");
    let _ = writeln!(
        out,
        "   Preempt = {}",
        if i.preempt { "enabled" } else { "disabled" }
    );
    if i.preempt_delay_ms > 0.0 {
        let _ = writeln!(
            out,
            "   Preempt delay = {} secs",
            i.preempt_delay_ms / 1000.0
        );
    }
    if d.auth_type == 1 {
        let _ = writeln!(out, "   Authentication type = SIMPLE_PASSWORD");
        let _ = writeln!(out, "   Password = {}", d.auth_pass);
    }
    let vips: Vec<&_> = i.addresses.iter().filter(|a| !a.excluded).collect();
    let excluded: Vec<&_> = i.addresses.iter().filter(|a| a.excluded).collect();
    if !vips.is_empty() {
        let _ = writeln!(out, "   Virtual IP ({}):", vips.len());
        for a in vips {
            let _ = writeln!(
                out,
                "     {}{}",
                a.address,
                if a.present { " set" } else { "" }
            );
        }
    }
    if !excluded.is_empty() {
        let _ = writeln!(out, "   Virtual IP Excluded :");
        for a in excluded {
            let _ = writeln!(
                out,
                "     {}{}",
                a.address,
                if a.present { " set" } else { "" }
            );
        }
    }
    let scripts: Vec<_> = i.trackers.iter().filter(|t| t.kind == "script").collect();
    if !scripts.is_empty() {
        let _ = writeln!(out, "   Tracked scripts :");
        for t in scripts {
            let _ = writeln!(
                out,
                "     {} weight {}{}",
                t.name,
                t.weight,
                if t.reverse { " reverse" } else { "" }
            );
        }
    }
    let interfaces: Vec<_> = i
        .trackers
        .iter()
        .filter(|t| t.kind == "interface")
        .collect();
    if !interfaces.is_empty() {
        let _ = writeln!(out, "   Tracked interfaces :");
        for t in interfaces {
            let _ = writeln!(
                out,
                "     {} weight {}{}",
                t.name,
                t.weight,
                if t.reverse { " reverse" } else { "" }
            );
        }
    }
}

/// `keepalived.data`: the parts of vrrp_data.c's dump that describe the running state, in its
/// layout (the keepalived exporter reads `VRRP Instance`, `State`, `Wantstate`, `Interface`,
/// `Gratuitous ARP delay`, `Virtual Router ID`, the `Virtual IP` lines and the scripts'
/// `Status`/`State`).
pub fn data(report: &Report) -> String {
    let mut out = String::new();
    out.push_str("------< Global definitions >------\n");
    let _ = writeln!(
        out,
        " xvrrpd {} (keepalived-compatible dump)",
        report.version
    );
    let _ = writeln!(out, " Configuration file = {}", report.config_file);
    out.push_str("------< VRRP Topology >------\n");
    for i in &report.instances {
        instance_data(&mut out, i);
    }
    if !report.scripts.is_empty() {
        out.push_str("------< VRRP Scripts >------\n");
        for s in &report.scripts {
            let _ = writeln!(out, " VRRP Script = {}", s.name);
            let _ = writeln!(out, "   Command = '{}'", s.command);
            let _ = writeln!(out, "   Interval = {} sec", seconds(s.interval_s));
            let _ = writeln!(out, "   Timeout = {} sec", seconds(s.timeout_s));
            let _ = writeln!(
                out,
                "   Status = {}",
                match s.ok {
                    Some(true) => "GOOD",
                    Some(false) => "BAD",
                    None => "INIT",
                }
            );
            let _ = writeln!(out, "   State = idle");
        }
    }
    out.push_str("------< Interfaces >------\n");
    for iface in &report.interfaces {
        let _ = writeln!(out, " Name = {}", iface.name);
        let _ = writeln!(out, "   index = {}", iface.ifindex);
        let _ = writeln!(
            out,
            "   State = {}",
            if iface.up {
                "UP, RUNNING"
            } else {
                "not UP, not RUNNING"
            }
        );
    }
    out
}

/// `keepalived.json`: vrrp_json.c's array of `{data, stats}` per instance.
pub fn json(report: &Report) -> String {
    let instances: Vec<_> = report
        .instances
        .iter()
        .map(|i| {
            let d = &i.details;
            let c = &i.counters;
            let vips: Vec<&str> = i
                .addresses
                .iter()
                .filter(|a| !a.excluded)
                .map(|a| a.address.as_str())
                .collect();
            let evips: Vec<&str> = i
                .addresses
                .iter()
                .filter(|a| a.excluded)
                .map(|a| a.address.as_str())
                .collect();
            let state = state_number(&i.state);
            json!({
                "data": {
                    "iname": i.name,
                    "dont_track_primary": u8::from(!d.track_link),
                    "vmac_ifname": d.vmac.clone().unwrap_or_default(),
                    "ifp_ifname": i.interface,
                    "master_priority": i.master.as_ref().map_or(0, |m| m.priority),
                    "last_transition": i.last_transition.as_ref().map_or(i.since_unix, |t| t.at_unix),
                    "garp_delay": d.garp_delay_s,
                    "garp_refresh": d.garp_refresh_s as u64,
                    "garp_rep": d.garp_repeat,
                    "garp_refresh_rep": d.garp_refresh_repeat,
                    "garp_lower_prio_delay": d.garp_lower_prio_delay_s as u64,
                    "garp_lower_prio_rep": d.garp_lower_prio_repeat,
                    "lower_prio_no_advert": u8::from(d.lower_prio_no_advert),
                    "higher_prio_send_advert": u8::from(d.higher_prio_send_advert),
                    "vrid": i.vrid,
                    "base_priority": i.base_priority,
                    "effective_priority": i.effective_priority,
                    "vipset": state == 2,
                    "adver_int": i.advert_interval_ms / 1000.0,
                    "master_adver_int": i.master_adver_interval_ms / 1000.0,
                    "accept": 1,
                    "nopreempt": !i.preempt,
                    "preempt_delay": (i.preempt_delay_ms / 1000.0) as u64,
                    "state": state,
                    "wantstate": state,
                    "version": i.version,
                    "vips": vips,
                    "evips": evips,
                    "track_script": i.trackers.iter().filter(|t| t.kind == "script").map(|t| t.name.clone()).collect::<Vec<_>>(),
                    "auth_type": d.auth_type,
                    "auth_data": d.auth_pass,
                },
                "stats": {
                    "advert_rcvd": c.adverts_received,
                    "advert_sent": c.adverts_sent,
                    "become_master": c.became_master,
                    "release_master": c.released_master,
                    "packet_len_err": c.packet_length_errors,
                    "advert_interval_err": c.advert_interval_errors,
                    "ip_ttl_err": c.ttl_errors,
                    "invalid_type_rcvd": c.invalid_type,
                    "addr_list_err": c.address_list_errors,
                    "invalid_authtype": c.auth_invalid_type,
                    "authtype_mismatch": c.auth_type_mismatch,
                    "auth_failure": c.auth_failure,
                    "pri_zero_rcvd": c.priority_zero_received,
                    "pri_zero_sent": c.priority_zero_sent,
                },
            })
        })
        .collect();
    serde_json::Value::Array(instances).to_string()
}
