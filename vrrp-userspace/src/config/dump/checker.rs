//! BFD instances and the LVS checker side.

use super::{Writer, section, word};
use crate::config::model::{Config, VirtualServerAddress};
use crate::config::values::format_seconds;

pub(super) fn checkers(out: &mut Writer, config: &Config) {
    for bfd in &config.bfd_instances {
        section(out, bfd);
    }
    for group in &config.virtual_server_groups {
        out.open(&format!("virtual_server_group {}", word(&group.name)));
        for member in &group.members {
            out.line(member.iter().map(|w| word(w)).collect::<Vec<_>>().join(" "));
        }
        out.close();
    }
    for server in &config.virtual_servers {
        let address = match &server.address {
            VirtualServerAddress::Ip { address, port } => format!("{address} {port}"),
            VirtualServerAddress::Fwmark(mark) => format!("fwmark {mark}"),
            VirtualServerAddress::Group(name) => format!("group {}", word(name)),
        };
        out.open(&format!("virtual_server {address}"));
        if let Some(delay) = server.delay_loop {
            out.line(format!("delay_loop {}", format_seconds(delay)));
        }
        for (name, value) in [
            ("lb_algo", &server.lb_algo),
            ("lb_kind", &server.lb_kind),
            ("protocol", &server.protocol),
        ] {
            if let Some(value) = value {
                out.line(format!("{name} {value}"));
            }
        }
        if let Some(timeout) = server.persistence_timeout {
            out.line(format!("persistence_timeout {timeout}"));
        }
        if let Some(quorum) = server.quorum {
            out.line(format!("quorum {quorum}"));
        }
        if let Some(sorry) = &server.sorry_server {
            out.line(format!("sorry_server {}", sorry.join(" ")));
        }
        for setting in &server.settings {
            section(out, setting);
        }
        for real in &server.real_servers {
            let port = real.port.map(|p| format!(" {p}")).unwrap_or_default();
            out.open(&format!("real_server {}{port}", real.address));
            if let Some(weight) = real.weight {
                out.line(format!("weight {weight}"));
            }
            for setting in &real.settings {
                section(out, setting);
            }
            for checker in &real.checkers {
                out.open(&checker.kind);
                if let Some(timeout) = checker.connect_timeout {
                    out.line(format!("connect_timeout {}", format_seconds(timeout)));
                }
                if let Some(retry) = checker.retry {
                    out.line(format!("retry {retry}"));
                }
                if let Some(delay) = checker.delay_before_retry {
                    out.line(format!("delay_before_retry {}", format_seconds(delay)));
                }
                for setting in &checker.settings {
                    section(out, setting);
                }
                out.close();
            }
            out.close();
        }
        out.close();
    }
}
