//! `--dump-conf`: the effective configuration, every default filled in and every include,
//! conditional and definition expanded, written back in keepalived.conf syntax (so it can be
//! read again, by xvrrpd or by keepalived) or as JSON. Each block is written by its keyword
//! table (config/parse/*), the top level here.

mod checker;
mod network;

pub(crate) use network::{addresses_block, routes_block, rules_block};

use super::model::{Config, ScriptCommand, Section, Tracking};
use super::parse::{global, instance, network as network_blocks, tracking as trackers};

pub fn to_json(config: &Config) -> String {
    serde_json::to_string_pretty(config).expect("the model serializes to JSON")
}

pub fn to_text(config: &Config) -> String {
    let mut out = Writer::default();
    let garp = &config.global.instance_defaults.garp;
    out.packet_gaps = (garp.garp_interval, garp.gna_interval);
    global::dump_global(&mut out, &config.global);
    if let Some(ns) = &config.net_namespace {
        out.line(format!("net_namespace {}", word(ns)));
    }
    network::statics(&mut out, config);
    network_blocks::dump_garp_groups(&mut out, &config.garp_groups);
    network::delays(&mut out, config);
    trackers::dump_trackers(&mut out, config);
    for instance in &config.instances {
        instance::dump_instance(&mut out, instance);
    }
    trackers::dump_sync_groups(&mut out, config);
    checker::checkers(&mut out, config);
    out.text
}

pub(super) fn section(out: &mut Writer, section: &Section) {
    let head = std::iter::once(section.keyword.as_str())
        .chain(section.args.iter().map(String::as_str))
        .map(word)
        .collect::<Vec<_>>()
        .join(" ");
    if section.children.is_empty() {
        out.line(head);
        return;
    }
    out.open(&head);
    for child in &section.children {
        self::section(out, child);
    }
    out.close();
}

/// The keyword alone when `on`, nothing otherwise (keepalived's flags take no value).
pub(crate) fn flag_line(out: &mut Writer, name: &str, on: bool) {
    if on {
        out.line(name);
    }
}

pub(crate) fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

pub(crate) fn word(text: &str) -> String {
    if !text.is_empty()
        && !text.contains(|c: char| c.is_whitespace() || matches!(c, '{' | '}' | '#' | '!' | '"'))
    {
        text.to_string()
    } else {
        format!("\"{text}\"")
    }
}

/// A command as one double-quoted word whose contents keepalived splits again.
pub(crate) fn command(argv: &[String]) -> String {
    format!(
        "\"{}\"",
        argv.iter()
            .map(|w| shell_word(w))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

pub(crate) fn script_line(script: &ScriptCommand) -> String {
    let mut text = command(&script.argv);
    for part in [&script.user, &script.group].into_iter().flatten() {
        text.push(' ');
        text.push_str(&word(part));
    }
    text
}

/// A word for keepalived's script splitter: plain, or single-quoted with `'`, `"` and `\`
/// escaped (keepalived processes backslashes inside single quotes too).
pub(crate) fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@%^".contains(c))
    {
        text.to_string()
    } else {
        let mut quoted = String::from("'");
        for c in text.chars() {
            match c {
                '\'' | '\\' => {
                    quoted.push('\\');
                    quoted.push(c);
                }
                '"' => quoted.push_str("\\x22"),
                '\t' => quoted.push_str("\\t"),
                '\n' => quoted.push_str("\\n"),
                c if c.is_control() => quoted.push_str(&format!("\\x{:02x}", c as u32)),
                c => quoted.push(c),
            }
        }
        quoted.push('\'');
        quoted
    }
}

/// The `track_*` blocks of an instance or a sync group.
pub(crate) fn tracking(out: &mut Writer, track: &Tracking) {
    use std::fmt::Write as _;
    for (name, refs) in [
        ("track_interface", &track.interfaces),
        ("track_script", &track.scripts),
        ("track_file", &track.files),
        ("track_process", &track.processes),
        ("track_bfd", &track.bfd),
    ] {
        if refs.is_empty() {
            continue;
        }
        out.open(name);
        for reference in refs {
            let mut text = word(&reference.name);
            if let Some(weight) = reference.weight {
                let _ = write!(text, " weight {weight}");
                if reference.reverse {
                    text.push_str(" reverse");
                }
            }
            out.line(text);
        }
        out.close();
    }
}

#[derive(Default)]
pub(crate) struct Writer {
    text: String,
    depth: usize,
    /// global_defs' GARP/NA gaps: an instance writes its own only where it differs.
    pub(crate) packet_gaps: (std::time::Duration, std::time::Duration),
}

impl Writer {
    pub(crate) fn line(&mut self, text: impl AsRef<str>) {
        for _ in 0..self.depth {
            self.text.push_str("    ");
        }
        self.text.push_str(text.as_ref());
        self.text.push('\n');
    }

    pub(crate) fn open(&mut self, head: &str) {
        self.line(format!("{head} {{"));
        self.depth += 1;
    }

    pub(crate) fn close(&mut self) {
        self.depth -= 1;
        self.line("}");
    }
}
