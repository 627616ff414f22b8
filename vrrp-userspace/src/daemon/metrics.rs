//! Prometheus metrics on `--metrics-listen ADDR:PORT` (off by default), named as the existing
//! keepalived exporters name them (labels `iname`, `intf`, `vrid`), so dashboards port, plus
//! what only xvrrpd knows (priorities, transitions, the kernel's receive errors and drops,
//! failover times).

use std::fmt::Write as _;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use super::control::{Command, Reply, Request};
use super::dumps::state_number;
use super::status::{FAILOVER_BUCKETS, Histogram, InstanceReport, Report, SCRIPT_BUCKETS};

/// Serves `GET /metrics` on `listen`; every scrape asks the runtime for a fresh report.
pub async fn serve(listen: SocketAddr, commands: mpsc::Sender<Command>) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let commands = commands.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 1024];
                let n = stream.read(&mut request).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&request[..n]);
                let response = if head.starts_with("GET /metrics") {
                    let (reply, answer) = oneshot::channel();
                    let body = match commands
                        .send(Command {
                            request: Request::Status,
                            reply,
                        })
                        .await
                    {
                        Ok(()) => match answer.await {
                            Ok(Reply::Status(report)) => render(&report),
                            _ => String::new(),
                        },
                        Err(_) => String::new(),
                    };
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_owned()
                };
                if let Err(e) = stream.write_all(response.as_bytes()).await {
                    debug!(error = %e, "metrics client");
                }
            });
        }
    });
    Ok(())
}

/// Writes one metric family: `# HELP`, `# TYPE`, then every sample.
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

/// A value of one instance.
type Sample = fn(&InstanceReport) -> f64;

fn labels(i: &InstanceReport) -> String {
    format!(
        "iname=\"{}\",intf=\"{}\",vrid=\"{}\"",
        i.name, i.interface, i.vrid
    )
}

/// The report in Prometheus' text exposition format.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "keepalived_up",
        "gauge",
        "Status of the VRRP daemon.",
        &[(String::new(), 1.0)],
    );
    let per = |f: Sample| -> Vec<(String, f64)> {
        report.instances.iter().map(|i| (labels(i), f(i))).collect()
    };
    let mut states = Vec::new();
    for i in &report.instances {
        let state = f64::from(state_number(&i.state));
        let vips: Vec<_> = i.addresses.iter().filter(|a| !a.excluded).collect();
        if vips.is_empty() {
            states.push((format!("{},ip_address=\"\"", labels(i)), state));
        }
        for a in vips {
            let ip = a.address.split(' ').next().unwrap_or_default();
            states.push((format!("{},ip_address=\"{ip}\"", labels(i)), state));
        }
    }
    family(
        &mut out,
        "keepalived_vrrp_state",
        "gauge",
        "State of vrrp (0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT).",
        &states,
    );
    let counters: [(&str, &str, Sample); 15] = [
        (
            "keepalived_gratuitous_arp_delay_total",
            "Gratuitous ARP delay",
            |i| i.details.garp_delay_s,
        ),
        (
            "keepalived_advertisements_received_total",
            "Advertisements received",
            |i| i.counters.adverts_received as f64,
        ),
        (
            "keepalived_advertisements_sent_total",
            "Advertisements sent",
            |i| i.counters.adverts_sent as f64,
        ),
        ("keepalived_become_master_total", "Became master", |i| {
            i.counters.became_master as f64
        }),
        ("keepalived_release_master_total", "Released master", |i| {
            i.counters.released_master as f64
        }),
        (
            "keepalived_packet_length_errors_total",
            "Packet length errors",
            |i| i.counters.packet_length_errors as f64,
        ),
        (
            "keepalived_advertisements_interval_errors_total",
            "Advertisement interval errors",
            |i| i.counters.advert_interval_errors as f64,
        ),
        ("keepalived_ip_ttl_errors_total", "TTL errors", |i| {
            i.counters.ttl_errors as f64
        }),
        (
            "keepalived_invalid_type_received_total",
            "Invalid type errors",
            |i| i.counters.invalid_type as f64,
        ),
        (
            "keepalived_address_list_errors_total",
            "Address list errors",
            |i| i.counters.address_list_errors as f64,
        ),
        (
            "keepalived_authentication_invalid_total",
            "Authentication invalid",
            |i| i.counters.auth_invalid_type as f64,
        ),
        (
            "keepalived_authentication_mismatch_total",
            "Authentication mismatch",
            |i| i.counters.auth_type_mismatch as f64,
        ),
        (
            "keepalived_authentication_failure_total",
            "Authentication failure",
            |i| i.counters.auth_failure as f64,
        ),
        (
            "keepalived_priority_zero_received_total",
            "Priority zero received",
            |i| i.counters.priority_zero_received as f64,
        ),
        (
            "keepalived_priority_zero_sent_total",
            "Priority zero sent",
            |i| i.counters.priority_zero_sent as f64,
        ),
    ];
    for (name, help, value) in counters {
        let kind = if name.ends_with("_total") && name != "keepalived_gratuitous_arp_delay_total" {
            "counter"
        } else {
            "gauge"
        };
        family(&mut out, name, kind, help, &per(value));
    }
    let scripts: Vec<(String, f64)> = report
        .scripts
        .iter()
        .map(|s| {
            (
                format!("name=\"{}\"", s.name),
                if s.ok == Some(true) { 1.0 } else { 0.0 },
            )
        })
        .collect();
    family(
        &mut out,
        "keepalived_script_status",
        "gauge",
        "Check script status (1 GOOD, 0 BAD or no result yet).",
        &scripts,
    );
    family(
        &mut out,
        "xvrrpd_effective_priority",
        "gauge",
        "Priority after tracking.",
        &per(|i| f64::from(i.effective_priority)),
    );
    family(
        &mut out,
        "xvrrpd_base_priority",
        "gauge",
        "Configured priority.",
        &per(|i| f64::from(i.base_priority)),
    );
    family(
        &mut out,
        "xvrrpd_transitions_total",
        "counter",
        "State changes.",
        &per(|i| i.transitions as f64),
    );
    family(
        &mut out,
        "xvrrpd_master_down_interval_seconds",
        "gauge",
        "Master_Down_Interval now.",
        &per(|i| i.master_down_interval_ms / 1e3),
    );
    let mut errors = Vec::new();
    for i in &report.instances {
        for (kind, value) in &i.counters.other {
            errors.push((format!("{},kind=\"{kind}\"", labels(i)), *value as f64));
        }
    }
    family(
        &mut out,
        "xvrrpd_receive_errors_total",
        "counter",
        "Adverts the XDP program rejected beyond keepalived's counters, by reason.",
        &errors,
    );
    let mut drops = Vec::new();
    for iface in &report.interfaces {
        for (reason, value) in &iface.drops {
            drops.push((
                format!("intf=\"{}\",reason=\"{reason}\"", iface.name),
                *value as f64,
            ));
        }
    }
    family(
        &mut out,
        "xvrrpd_interface_drops_total",
        "counter",
        "VRRP frames dropped (or passed) by the XDP program before an instance was found.",
        &drops,
    );
    let kernel: Vec<(String, f64)> = report
        .kernel
        .iter()
        .map(|(k, v)| (format!("kind=\"{k}\""), *v as f64))
        .collect();
    family(
        &mut out,
        "xvrrpd_kernel_events_total",
        "counter",
        "The XDP program's event accounting.",
        &kernel,
    );
    let failovers: Vec<(String, &Histogram)> = report
        .instances
        .iter()
        .map(|i| (labels(i), &i.failovers))
        .collect();
    histogram(
        &mut out,
        "xvrrpd_failover_seconds",
        "Time without a master before a takeover by Master_Down_Interval.",
        &FAILOVER_BUCKETS,
        &failovers,
    );
    let runs: Vec<(String, &Histogram)> = report
        .scripts
        .iter()
        .map(|s| (format!("name=\"{}\"", s.name), &s.runs))
        .collect();
    histogram(
        &mut out,
        "xvrrpd_script_duration_seconds",
        "How long check script runs took (a timed-out run counts its timeout).",
        &SCRIPT_BUCKETS,
        &runs,
    );
    out
}

/// One histogram family: a series per label set.
fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    bounds: &[f64],
    series: &[(String, &Histogram)],
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (labels, h) in series {
        let mut cumulative = 0;
        for (slot, le) in bounds.iter().enumerate() {
            cumulative += h.buckets.get(slot).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum_s);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
    }
}
