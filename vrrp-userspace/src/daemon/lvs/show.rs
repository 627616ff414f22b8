//! `xvrrpd lvs [--stats|--rate] [--json]`: the running load balancer as `ipvsadm -Ln` shows
//! IPVS, read from the pinned maps (services, destinations, connection counts, statistics).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::json;
use vrrp_common::{DEST_LIVE, LbStats, SVC_PERSISTENT, VIP_HELD};

use crate::dataplane::lb::{LbMaps, addr_of};
use crate::lvs::settings::{Method, Scheduler};

/// What to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Connections,
    Stats,
    Rate,
}

struct Row {
    vip: IpAddr,
    port: u16,
    proto: &'static str,
    scheduler: &'static str,
    persistent: Option<u32>,
    held: bool,
    stats: LbStats,
    dests: Vec<DestRow>,
}

struct DestRow {
    addr: IpAddr,
    port: u16,
    method: &'static str,
    weight: u32,
    active: u64,
    inactive: u64,
    stats: LbStats,
}

fn snapshot(maps: &LbMaps) -> Vec<Row> {
    let held: Vec<(IpAddr, u32)> = maps.vips();
    let dests = maps.dests();
    let mut rows = Vec::new();
    for (key, service) in maps.services() {
        let vip = addr_of(key.family, &key.addr);
        let mut dest_rows: Vec<DestRow> = dests
            .iter()
            .filter(|(_, d)| d.svc == service.id && d.flags & DEST_LIVE != 0)
            .map(|(id, d)| {
                let (active, inactive) = maps.counts().get(*id);
                DestRow {
                    addr: addr_of(d.family, &d.addr),
                    port: d.port,
                    method: [Method::Dr, Method::Tun, Method::Nat]
                        .into_iter()
                        .find(|m| m.code() == d.method)
                        .map_or("?", Method::ipvsadm),
                    weight: d.weight,
                    active,
                    inactive,
                    stats: maps.dest_stats(*id),
                }
            })
            .collect();
        dest_rows.sort_by_key(|d| (d.addr, d.port));
        rows.push(Row {
            vip,
            port: key.port,
            proto: if key.proto == vrrp_common::LB_PROTO_TCP {
                "TCP"
            } else {
                "UDP"
            },
            scheduler: Scheduler::from_code(service.sched).map_or("?", Scheduler::name),
            persistent: (service.flags & SVC_PERSISTENT != 0).then_some(service.persist_timeout_s),
            held: held
                .iter()
                .any(|(addr, flags)| *addr == vip && flags & VIP_HELD != 0),
            stats: maps.service_stats(service.id),
            dests: dest_rows,
        });
    }
    rows.sort_by_key(|r| (r.proto, r.vip, r.port));
    rows
}

fn endpoint(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

fn rate(now: &LbStats, before: &LbStats, seconds: f64) -> [f64; 5] {
    let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / seconds;
    [
        per(now.conns, before.conns),
        per(now.in_pkts, before.in_pkts),
        per(now.out_pkts, before.out_pkts),
        per(now.in_bytes, before.in_bytes),
        per(now.out_bytes, before.out_bytes),
    ]
}

/// Renders the load balancer of the daemon pinned at `lb_pin_dir`.
pub fn show(lb_pin_dir: &Path, view: View, json_out: bool) -> anyhow::Result<String> {
    let maps = LbMaps::open(lb_pin_dir).map_err(|e| {
        anyhow::anyhow!(
            "no load balancer pinned at {} ({e}); is xvrrpd running with virtual servers?",
            lb_pin_dir.display()
        )
    })?;
    let rows = snapshot(&maps);
    let interval = Duration::from_secs(1);
    let rates = if view == View::Rate {
        std::thread::sleep(interval);
        let later = snapshot(&maps);
        Some(later)
    } else {
        None
    };
    let seconds = interval.as_secs_f64();
    if json_out {
        let services: Vec<_> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let later = rates.as_ref().map(|l| &l[i]);
                json!({
                    "protocol": r.proto,
                    "address": r.vip.to_string(),
                    "port": r.port,
                    "scheduler": r.scheduler,
                    "persistent": r.persistent,
                    "held": r.held,
                    "stats": stats_json(&r.stats),
                    "rate": later.map(|l| rate_json(rate(&l.stats, &r.stats, seconds))),
                    "real_servers": r.dests.iter().enumerate().map(|(j, d)| json!({
                        "address": d.addr.to_string(),
                        "port": d.port,
                        "forward": d.method,
                        "weight": d.weight,
                        "active_conns": d.active,
                        "inactive_conns": d.inactive,
                        "stats": stats_json(&d.stats),
                        "rate": later.and_then(|l| l.dests.get(j)).map(|l| rate_json(rate(&l.stats, &d.stats, seconds))),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let global = maps.global_stats();
        let global: serde_json::Map<String, serde_json::Value> = global
            .named()
            .iter()
            .map(|(k, v)| ((*k).to_string(), json!(v)))
            .collect();
        return Ok(serde_json::to_string_pretty(
            &json!({ "services": services, "passed": global }),
        )? + "\n");
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "IP Virtual Server (xvrrpd XDP) (size={})",
        vrrp_common::LB_MAX_CONNS
    );
    match view {
        View::Connections => {
            let _ = writeln!(out, "Prot LocalAddress:Port Scheduler Flags");
            let _ = writeln!(
                out,
                "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"
            );
        }
        View::Stats => {
            let _ = writeln!(
                out,
                "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes"
            );
            let _ = writeln!(out, "  -> RemoteAddress:Port");
        }
        View::Rate => {
            let _ = writeln!(
                out,
                "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS"
            );
            let _ = writeln!(out, "  -> RemoteAddress:Port");
        }
    }
    for (i, row) in rows.iter().enumerate() {
        let service = endpoint(row.vip, row.port);
        let held = if row.held { "" } else { " (not held)" };
        match view {
            View::Connections => {
                let persistent = row
                    .persistent
                    .map(|t| format!(" persistent {t}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{:<4} {service} {}{persistent}{held}",
                    row.proto, row.scheduler
                );
                for d in &row.dests {
                    let _ = writeln!(
                        out,
                        "  -> {:<28} {:<7} {:<6} {:<10} {}",
                        endpoint(d.addr, d.port),
                        d.method,
                        d.weight,
                        d.active,
                        d.inactive
                    );
                }
            }
            View::Stats => {
                let s = &row.stats;
                let _ = writeln!(
                    out,
                    "{:<4} {service:<28} {:>8} {:>8} {:>8} {:>8} {:>8}{held}",
                    row.proto, s.conns, s.in_pkts, s.out_pkts, s.in_bytes, s.out_bytes
                );
                for d in &row.dests {
                    let s = &d.stats;
                    let _ = writeln!(
                        out,
                        "  -> {:<28} {:>8} {:>8} {:>8} {:>8} {:>8}",
                        endpoint(d.addr, d.port),
                        s.conns,
                        s.in_pkts,
                        s.out_pkts,
                        s.in_bytes,
                        s.out_bytes
                    );
                }
            }
            View::Rate => {
                let later = &rates.as_ref().expect("sampled")[i];
                let r = rate(&later.stats, &row.stats, seconds);
                let _ = writeln!(
                    out,
                    "{:<4} {service:<28} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>8.0}{held}",
                    row.proto, r[0], r[1], r[2], r[3], r[4]
                );
                for (j, d) in row.dests.iter().enumerate() {
                    let Some(l) = later.dests.get(j) else {
                        continue;
                    };
                    let r = rate(&l.stats, &d.stats, seconds);
                    let _ = writeln!(
                        out,
                        "  -> {:<28} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>8.0}",
                        endpoint(d.addr, d.port),
                        r[0],
                        r[1],
                        r[2],
                        r[3],
                        r[4]
                    );
                }
            }
        }
    }
    Ok(out)
}

fn stats_json(s: &LbStats) -> serde_json::Value {
    json!({"conns": s.conns, "in_pkts": s.in_pkts, "out_pkts": s.out_pkts, "in_bytes": s.in_bytes, "out_bytes": s.out_bytes})
}

fn rate_json(r: [f64; 5]) -> serde_json::Value {
    json!({"cps": r[0], "in_pps": r[1], "out_pps": r[2], "in_bps": r[3], "out_bps": r[4]})
}
