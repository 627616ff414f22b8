//! `garp_group` and `interface_up_down_delays`.

use std::time::Duration;

use super::Cx;
use super::keyword::Keyword;
use crate::config::dump::Writer;
use crate::config::model::{GarpGroup, InterfaceDelays};
use crate::config::tree::Statement;
use crate::config::values::format_seconds;

impl Cx<'_> {
    pub(crate) fn garp_group(&mut self, s: &Statement) {
        let mut group = GarpGroup {
            garp_interval: None,
            gna_interval: None,
            interfaces: Vec::new(),
        };
        for item in self.block(s) {
            self.dispatch(GARP_GROUP, &mut group, item, "in garp_group");
        }
        if group.interfaces.is_empty() {
            self.diagnostics.error(
                &s.keyword_span(),
                "garp_group names no interface; it is ignored",
            );
            return;
        }
        self.config.garp_groups.push(group);
    }

    pub(crate) fn interface_up_down_delays(&mut self, s: &Statement) {
        for item in self.block(s) {
            let Some(interface) = self.interface_name(item.keyword_span(), item.name()) else {
                continue;
            };
            if item.args.is_empty() || item.args.len() > 2 {
                self.diagnostics.error(
                    &item.line.whole(),
                    "expected: INTERFACE DOWN_DELAY [UP_DELAY]",
                );
                continue;
            }
            let max = Duration::from_secs(255);
            let Some(down_delay) = self.seconds(item, 0, Duration::ZERO, max) else {
                continue;
            };
            let up_delay = match item.arg(1) {
                Some(_) => match self.seconds(item, 1, Duration::ZERO, max) {
                    Some(up) => up,
                    None => continue,
                },
                None => down_delay,
            };
            self.config.interface_up_down_delays.push(InterfaceDelays {
                interface,
                down_delay,
                up_delay,
            });
        }
    }
}

/// `garp_group { }`.
pub(crate) const GARP_GROUP: &[Keyword<GarpGroup, GarpGroup>] = &[
    Keyword::new(
        "garp_interval",
        |cx, g, s| g.garp_interval = cx.packet_gap(s).or(g.garp_interval),
        |out, g| {
            if let Some(gap) = g.garp_interval {
                out.line(format!("garp_interval {}", format_seconds(gap)));
            }
        },
    ),
    Keyword::new(
        "gna_interval",
        |cx, g, s| g.gna_interval = cx.packet_gap(s).or(g.gna_interval),
        |out, g| {
            if let Some(gap) = g.gna_interval {
                out.line(format!("gna_interval {}", format_seconds(gap)));
            }
        },
    ),
    Keyword::new(
        "interface",
        |cx, g, s| {
            let Some(name) = cx.value(s, 0) else {
                return;
            };
            if let Some(name) = cx.existing_interface(s.arg_span(0), name, "garp_group interface") {
                g.interfaces.push(name);
            }
        },
        |out, g| {
            out.open("interfaces");
            for interface in &g.interfaces {
                out.line(interface.to_string());
            }
            out.close();
        },
    ),
    Keyword::read_only("interfaces", |cx, g, s| {
        for line in cx.block(s) {
            for word in std::iter::once(&line.keyword).chain(&line.args) {
                if let Some(name) = cx.existing_interface(
                    line.line.span(word.start, word.end),
                    &word.text,
                    "garp_group interface",
                ) {
                    g.interfaces.push(name);
                }
            }
        }
    }),
];

/// Writes every garp_group.
pub(crate) fn dump_garp_groups(out: &mut Writer, groups: &[GarpGroup]) {
    for group in groups {
        out.open("garp_group");
        super::keyword::dump_table(out, GARP_GROUP, group);
        out.close();
    }
}
