//! From the statement tree to the typed [`Config`]: one module per kind of block, sharing the
//! argument parsers of [`Cx`], which report every problem with its position.

mod checker;
mod global;
mod instance;
mod network;
mod tracking;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use super::diagnostic::Diagnostics;
use super::lexer::{Token, shell_split};
use super::model::{Config, IgnoredKeyword, ScriptCommand, Section};
use super::tree::Statement;
use super::values::{InterfaceName, IpPrefix, parse_bool, parse_timer};

pub(super) use instance::InstanceDraft;

/// Parses the top level. Instances are returned as drafts: their version-dependent values are
/// settled by validation once the whole file (and `global_defs`) is known.
pub(super) fn parse(
    statements: &[Statement],
    diagnostics: &mut Diagnostics,
) -> (Config, Vec<InstanceDraft>) {
    let mut cx = Cx {
        diagnostics,
        config: Config::default(),
        drafts: Vec::new(),
        instance_names: HashMap::new(),
        script_names: HashSet::new(),
        suggestions_left: MAX_SUGGESTIONS,
    };
    for statement in statements {
        cx.top_level(statement);
    }
    (cx.config, cx.drafts)
}

const TOP_LEVEL: &[&str] = &[
    "global_defs",
    "vrrp_instance",
    "vrrp_script",
    "vrrp_sync_group",
    "track_file",
    "vrrp_track_file",
    "vrrp_track_process",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "garp_group",
    "interface_up_down_delays",
    "linkbeat_interfaces",
    "bfd_instance",
    "virtual_server",
    "virtual_server_group",
    "net_namespace",
    "include_check",
];

/// Top-level keywords of the checker and process side that xvrrpd accepts and does not use.
const TOP_LEVEL_IGNORED: &[&str] = &[
    "SSL",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
    "child_wait_time",
];

pub(super) struct Cx<'d> {
    pub diagnostics: &'d mut Diagnostics,
    pub config: Config,
    pub drafts: Vec<InstanceDraft>,
    /// Instance name -> where it was defined, to refuse a second definition.
    pub instance_names: HashMap<String, super::diagnostic::Span>,
    pub script_names: HashSet<String>,
    /// "Did you mean" hints still to give: a file of garbage does not need thousands.
    pub suggestions_left: usize,
}

const MAX_SUGGESTIONS: usize = 10;

impl Cx<'_> {
    fn top_level(&mut self, s: &Statement) {
        match s.name() {
            "global_defs" => self.global_defs(s),
            "vrrp_instance" => self.vrrp_instance(s),
            "vrrp_script" => self.vrrp_script(s),
            "vrrp_sync_group" => self.sync_group(s),
            "track_file" | "vrrp_track_file" => self.track_file(s),
            "vrrp_track_process" => self.track_process(s),
            "static_ipaddress" => {
                let addresses = self.addresses(s);
                self.config.static_addresses.extend(addresses);
            }
            "static_routes" => {
                let routes = self.routes(s);
                self.config.static_routes.extend(routes);
            }
            "static_rules" => {
                let rules = self.rules(s);
                self.config.static_rules.extend(rules);
            }
            "garp_group" => self.garp_group(s),
            "interface_up_down_delays" => self.interface_up_down_delays(s),
            "linkbeat_interfaces" => {
                for item in self.block(s) {
                    if let Some(name) = self.interface_name(item.keyword_span(), item.name()) {
                        self.config.linkbeat_interfaces.push(name);
                    }
                }
            }
            "bfd_instance" => {
                let section = section(s);
                self.config.bfd_instances.push(section);
            }
            "virtual_server" => self.virtual_server(s),
            "virtual_server_group" => self.virtual_server_group(s),
            "net_namespace" => self.config.net_namespace = self.string(s),
            // Handled by the preprocessor; accepted here so it is not "unknown".
            "include_check" => {}
            name if TOP_LEVEL_IGNORED.contains(&name) => self.ignore(s),
            _ => self.unknown(s, "at the top level", TOP_LEVEL),
        }
    }

    /// Records a keyword that is valid for keepalived but has no meaning for xvrrpd.
    fn ignore(&mut self, s: &Statement) {
        self.config.global.ignored.push(IgnoredKeyword {
            keyword: s.name().to_string(),
            args: s.args.iter().map(|a| a.text.clone()).collect(),
            at: s.keyword_span().position(),
        });
    }

    /// An unknown keyword is a warning (keepalived runs anyway); its whole block is skipped so
    /// that its `}` cannot close the enclosing block.
    fn unknown(&mut self, s: &Statement, context: &str, known: &[&str]) {
        let skipped = if s.block.is_some() {
            " (its { } block is skipped)"
        } else {
            ""
        };
        let diagnostic = self.diagnostics.warning(
            &s.keyword_span(),
            format!("unknown keyword '{}' {context}{skipped}", s.name()),
        );
        if self.suggestions_left > 0 {
            self.suggestions_left -= 1;
            if let Some(suggestion) = closest(s.name(), known) {
                diagnostic.hint(format!("did you mean '{suggestion}'?"));
            }
        }
    }

    /// The children of a block keyword; reports a missing block.
    fn block<'s>(&mut self, s: &'s Statement) -> &'s [Statement] {
        match &s.block {
            Some(block) => block,
            None => {
                self.diagnostics
                    .error(
                        &s.keyword_span(),
                        format!("'{}' needs a {{ }} block", s.name()),
                    )
                    .hint(format!("{} {{ ... }}", s.name()));
                &[]
            }
        }
    }

    /// Checks the argument count; too many is a warning (the extra words are ignored).
    fn arity(&mut self, s: &Statement, min: usize, max: usize) -> bool {
        if s.block.is_some() {
            self.diagnostics.warning(
                &s.keyword_span(),
                format!("'{}' takes no {{ }} block; the block is ignored", s.name()),
            );
        }
        if s.args.len() < min {
            let what = if min == 1 {
                "a value".to_string()
            } else {
                format!("{min} values")
            };
            self.diagnostics.error(
                &s.arg_span(s.args.len()),
                format!("'{}' needs {what}", s.name()),
            );
            return false;
        }
        if s.args.len() > max {
            let first_extra = &s.args[max];
            let last = s.args.last().expect("longer than max");
            self.diagnostics.warning(
                &s.line.span(first_extra.start, last.end),
                format!(
                    "'{}' takes at most {max} value(s); the rest is ignored",
                    s.name()
                ),
            );
        }
        true
    }

    fn string(&mut self, s: &Statement) -> Option<String> {
        self.arity(s, 1, 1).then(|| s.args[0].text.clone())
    }

    /// A keyword alone means true; otherwise one `<BOOL>`.
    fn flag(&mut self, s: &Statement) -> Option<bool> {
        if !self.arity(s, 0, 1) {
            return None;
        }
        match s.arg(0) {
            None => Some(true),
            Some(text) => {
                let value = parse_bool(text);
                if value.is_none() {
                    self.diagnostics
                        .error(&s.arg_span(0), format!("'{text}' is not a boolean"))
                        .hint("use on|off|true|false|yes|no");
                }
                value
            }
        }
    }

    /// A whole number in `min..=max` at argument `index`.
    fn number_at<T>(&mut self, s: &Statement, index: usize, min: T, max: T) -> Option<T>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let text = s.arg(index)?;
        match text.parse::<T>() {
            Ok(value) if min <= value && value <= max => Some(value),
            _ => {
                self.diagnostics.error(
                    &s.arg_span(index),
                    format!(
                        "'{}' value '{text}' must be a whole number in {min}..={max}",
                        s.name()
                    ),
                );
                None
            }
        }
    }

    fn uint_at(&mut self, s: &Statement, index: usize, min: u64, max: u64) -> Option<u64> {
        self.number_at(s, index, min, max)
    }

    fn uint(&mut self, s: &Statement, min: u64, max: u64) -> Option<u64> {
        if !self.arity(s, 1, 1) {
            return None;
        }
        self.uint_at(s, 0, min, max)
    }

    fn int_at(&mut self, s: &Statement, index: usize, min: i64, max: i64) -> Option<i64> {
        self.number_at(s, index, min, max)
    }

    fn timer_at(&mut self, s: &Statement, index: usize) -> Option<Duration> {
        let text = s.arg(index)?;
        match parse_timer(text) {
            Ok(duration) => Some(duration),
            Err(message) => {
                self.diagnostics
                    .error(&s.arg_span(index), format!("'{}': {message}", s.name()));
                None
            }
        }
    }

    fn timer(&mut self, s: &Statement) -> Option<Duration> {
        if !self.arity(s, 1, 1) {
            return None;
        }
        self.timer_at(s, 0)
    }

    /// A timer no larger than `max`.
    fn timer_max(&mut self, s: &Statement, max: Duration) -> Option<Duration> {
        let value = self.timer(s)?;
        if value > max {
            self.diagnostics.error(
                &s.arg_span(0),
                format!(
                    "'{}' must be at most {} seconds",
                    s.name(),
                    super::values::format_seconds(max)
                ),
            );
            return None;
        }
        Some(value)
    }

    fn ip_text(&mut self, span: super::diagnostic::Span, text: &str) -> Option<IpAddr> {
        match text.parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.diagnostics
                    .error(&span, format!("'{text}' is not an IPv4 or IPv6 address"));
                None
            }
        }
    }

    fn ip(&mut self, s: &Statement) -> Option<IpAddr> {
        if !self.arity(s, 1, 1) {
            return None;
        }
        self.ip_text(s.arg_span(0), &s.args[0].text)
    }

    fn prefix_text(&mut self, span: super::diagnostic::Span, text: &str) -> Option<IpPrefix> {
        match text.parse() {
            Ok(prefix) => Some(prefix),
            Err(message) => {
                self.diagnostics.error(&span, message);
                None
            }
        }
    }

    fn interface_name(
        &mut self,
        span: super::diagnostic::Span,
        name: &str,
    ) -> Option<InterfaceName> {
        match name.parse() {
            Ok(name) => Some(name),
            Err(message) => {
                self.diagnostics.error(&span, message);
                None
            }
        }
    }

    fn interface(&mut self, s: &Statement) -> Option<InterfaceName> {
        let name = self.string(s)?;
        self.interface_name(s.arg_span(0), &name)
    }

    /// `weight N [reverse|noreverse|no_reverse]` in `words` (tokens of `s`).
    fn weight_words(&mut self, s: &Statement, words: &[Token], limit: i64) -> (Option<i32>, bool) {
        let text = |i: usize| words.get(i).map(|t| t.text.as_str());
        let span = |i: usize| match words.get(i) {
            Some(token) => s.line.span(token.start, token.end),
            None => s.line.span(s.args_end, s.args_end + 1),
        };
        let mut weight = None;
        let mut reverse = false;
        let mut i = 0;
        while i < words.len() {
            match words[i].text.as_str() {
                "weight" => {
                    // `weight - 20` (a space after the sign) appears in real configs; keepalived
                    // rejects it, we take it and say how to write it.
                    if text(i + 1) == Some("-")
                        && text(i + 2).is_some_and(|t| t.parse::<u32>().is_ok())
                    {
                        let magnitude: i64 = text(i + 2).and_then(|t| t.parse().ok()).unwrap_or(0);
                        self.diagnostics
                            .warning(
                                &s.line.span(words[i + 1].start, words[i + 2].end),
                                format!("'- {magnitude}' read as -{magnitude}"),
                            )
                            .hint(format!(
                                "write 'weight -{magnitude}' (keepalived rejects the space)"
                            ));
                        weight = Some((-magnitude).clamp(-limit, limit) as i32);
                        i += 3;
                        continue;
                    }
                    if text(i + 1).is_none() {
                        self.diagnostics
                            .error(&span(i + 1), "'weight' needs a value");
                        return (weight, reverse);
                    }
                    let value_text = words[i + 1].text.as_str();
                    match value_text.parse::<i64>() {
                        Ok(value) if (-limit..=limit).contains(&value) => {
                            weight = Some(value as i32)
                        }
                        _ => {
                            self.diagnostics
                                .error(&span(i + 1), format!("weight '{value_text}' must be a whole number in -{limit}..={limit}"))
                                .hint("a negative weight lowers the priority while the check fails, a positive one raises it while it succeeds");
                        }
                    }
                    i += 2;
                }
                "reverse" => {
                    reverse = true;
                    i += 1;
                }
                "noreverse" | "no_reverse" => {
                    reverse = false;
                    i += 1;
                }
                other => {
                    self.diagnostics
                        .error(&span(i), format!("unexpected '{other}'"))
                        .hint("expected 'weight N' and optionally 'reverse'");
                    i += 1;
                }
            }
        }
        (weight, reverse)
    }

    /// A `weight N [reverse]` line inside vrrp_script, track_file or vrrp_track_process.
    fn weight_keyword(&mut self, s: &Statement, limit: i64) -> (Option<i32>, bool) {
        let words: Vec<Token> = std::iter::once(&s.keyword)
            .chain(&s.args)
            .cloned()
            .collect();
        self.weight_words(s, &words, limit)
    }

    /// A script keyword: the command (a quoted string with arguments, or one word) and an
    /// optional user and group. `script` in `vrrp_script` also takes an unquoted command line.
    fn script_command(&mut self, s: &Statement, whole_line: bool) -> Option<ScriptCommand> {
        if s.args.is_empty() {
            self.diagnostics
                .error(&s.arg_span(0), format!("'{}' needs a command", s.name()));
            return None;
        }
        // Double quotes group words for the config lexer; inside them the command is split
        // like a shell line: `script "bash -c '</dev/tcp/127.0.0.1/80'"` runs bash with two
        // arguments. `script` in vrrp_script also takes an unquoted command line.
        let (command_tokens, rest) = if whole_line {
            (&s.args[..], &[][..])
        } else {
            s.args.split_at(1)
        };
        let mut argv = Vec::new();
        for token in command_tokens {
            match shell_split(&token.text) {
                Ok(words) => argv.extend(words),
                Err(err) => {
                    self.diagnostics
                        .error(&s.line.span(token.start, token.end), err.to_string());
                    return None;
                }
            }
        }
        if argv.is_empty() {
            self.diagnostics
                .error(&s.args_span(), "the command is empty");
            return None;
        }
        if rest.len() > 2 {
            self.diagnostics
                .error(&s.line.span(rest[2].start, rest.last().map_or(0, |t| t.end)), "too many words after the command")
                .hint("quote a command that has arguments: notify_master \"/path/script arg\" [user [group]]");
        }
        Some(ScriptCommand {
            argv,
            user: rest.first().map(|t| t.text.clone()),
            group: rest.get(1).map(|t| t.text.clone()),
        })
    }
}

/// Applies a flag's value unless it was invalid.
fn set(target: &mut bool, value: Option<bool>) {
    if let Some(value) = value {
        *target = value;
    }
}

/// Keeps a block's structure as text (for blocks xvrrpd does not interpret yet).
fn section(s: &Statement) -> Section {
    Section {
        keyword: s.name().to_string(),
        args: s.args.iter().map(|a| a.text.clone()).collect(),
        children: s.block.iter().flatten().map(section).collect(),
    }
}

/// The known keyword closest to `word` by edit distance, if it is close enough to be a typo.
/// Words far longer or shorter than a keyword cannot be within reach and are not measured.
fn closest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    let reach = |k: &str| (k.len() / 3).max(1);
    known
        .iter()
        .filter(|k| k.len().abs_diff(word.len()) <= reach(k))
        .map(|k| (edit_distance(word, k), *k))
        .filter(|(distance, k)| *distance <= reach(k))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

/// Levenshtein distance over bytes, with two stack rows: keywords are short ASCII.
fn edit_distance(a: &str, b: &str) -> usize {
    const MAX: usize = 64;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if b.len() >= MAX {
        return usize::MAX;
    }
    let mut previous = [0usize; MAX];
    let mut current = [0usize; MAX];
    for (j, cell) in previous.iter_mut().enumerate().take(b.len() + 1) {
        *cell = j;
    }
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            current[j + 1] = (previous[j] + cost)
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(
            closest("virtual_ipadress", &["virtual_ipaddress", "virtual_routes"]),
            Some("virtual_ipaddress")
        );
        assert_eq!(
            closest("prority", &["priority", "preempt"]),
            Some("priority")
        );
        assert_eq!(closest("completely_else", &["priority"]), None);
    }
}
