//! `--dump-conf`: the effective configuration, every default filled in and every include,
//! conditional and definition expanded, written back in keepalived.conf syntax (so it can be
//! read again) or as JSON. One file per part of the configuration.

mod checker;
mod global;
mod network;
mod vrrp;

use super::model::{Config, ScriptCommand, Section};

pub fn to_json(config: &Config) -> String {
    serde_json::to_string_pretty(config).expect("the model serializes to JSON")
}

pub fn to_text(config: &Config) -> String {
    let mut out = Writer::default();
    global::global(&mut out, config);
    if let Some(ns) = &config.net_namespace {
        out.line(format!("net_namespace {}", word(ns)));
    }
    network::statics(&mut out, config);
    vrrp::trackers(&mut out, config);
    for instance in &config.instances {
        vrrp::instance(&mut out, instance);
    }
    vrrp::sync_groups(&mut out, config);
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

pub(super) fn flag(out: &mut Writer, name: &str, on: bool) {
    if on {
        out.line(name);
    }
}

pub(super) fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

pub(super) fn word(text: &str) -> String {
    if !text.is_empty()
        && !text.contains(|c: char| c.is_whitespace() || matches!(c, '{' | '}' | '#' | '!' | '"'))
    {
        text.to_string()
    } else {
        format!("\"{text}\"")
    }
}

pub(super) fn command(argv: &[String]) -> String {
    format!(
        "\"{}\"",
        argv.iter()
            .map(|w| shell_word(w))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

pub(super) fn script_line(script: &ScriptCommand) -> String {
    let mut text = command(&script.argv);
    for part in [&script.user, &script.group].into_iter().flatten() {
        text.push(' ');
        text.push_str(&word(part));
    }
    text
}

pub(super) fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@%^".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[derive(Default)]
pub(super) struct Writer {
    text: String,
    depth: usize,
}

impl Writer {
    pub(super) fn line(&mut self, text: impl AsRef<str>) {
        for _ in 0..self.depth {
            self.text.push_str("    ");
        }
        self.text.push_str(text.as_ref());
        self.text.push('\n');
    }

    pub(super) fn open(&mut self, head: &str) {
        self.line(format!("{head} {{"));
        self.depth += 1;
    }

    pub(super) fn close(&mut self) {
        self.depth -= 1;
        self.line("}");
    }
}
