//! Output formats of `xvrrpd monitor`.

use std::fmt::Write as _;

use serde_json::json;

use super::Snapshot;

/// One JSON object per line: `{"type":"router",...}` per router, then
/// `{"type":"interface",...}` per interface.
pub fn render_json(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    for router in &snapshot.routers {
        let mut value = serde_json::to_value(router).expect("rows serialize");
        value["type"] = json!("router");
        writeln!(out, "{value}").expect("writing to a String");
    }
    for iface in &snapshot.interfaces {
        let mut value = serde_json::to_value(iface).expect("rows serialize");
        value["type"] = json!("interface");
        writeln!(out, "{value}").expect("writing to a String");
    }
    out
}

fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn errors_cell(errors: &std::collections::BTreeMap<&'static str, u64>) -> String {
    if errors.is_empty() {
        return "-".to_owned();
    }
    errors
        .iter()
        .map(|(name, count)| format!("{name}={count}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A fixed-width table, one line per router, then a line per interface with drops.
pub fn render_table(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "{:<12} {:>4} {:>3} {:<6} {:<16} {:<28} {:>4} {:>9} {:>7} {:>10} {:>9}  ERRORS",
        "IFACE",
        "VRID",
        "VER",
        "FAMILY",
        "DST",
        "MASTER",
        "PRIO",
        "INTERVAL",
        "ADV/S",
        "LAST SEEN",
        "RECEIVED"
    )
    .expect("writing to a String");
    for r in &snapshot.routers {
        writeln!(
            out,
            "{:<12} {:>4} {:>3} {:<6} {:<16} {:<28} {:>4} {:>9} {:>7} {:>10} {:>9}  {}",
            r.iface,
            r.vrid,
            or_dash(r.version),
            r.family.name(),
            r.dst,
            or_dash(r.master.map(|m| if r.contended {
                format!("{m} (contended)")
            } else {
                m.to_string()
            })),
            or_dash(r.priority),
            or_dash(r.advert_interval_ms.map(|ms| format!("{ms}ms"))),
            or_dash(r.adverts_per_sec.map(|rate| format!("{rate:.2}"))),
            or_dash(
                r.last_seen_ms
                    .map(|ms| format!("{:.1}s ago", ms as f64 / 1000.0))
            ),
            r.received,
            errors_cell(&r.errors),
        )
        .expect("writing to a String");
    }
    if snapshot.routers.is_empty() {
        writeln!(out, "(no VRRP adverts heard yet)").expect("writing to a String");
    }
    for iface in &snapshot.interfaces {
        if !iface.drops.is_empty() {
            writeln!(out, "{}: {}", iface.iface, errors_cell(&iface.drops))
                .expect("writing to a String");
        }
        if !iface.program.is_empty() {
            writeln!(out, "program: {}", errors_cell(&iface.program)).expect("writing to a String");
        }
    }
    writeln!(
        out,
        "ADV/S: adverts per second from the current master, over its own first-to-last span"
    )
    .expect("writing to a String");
    out
}
