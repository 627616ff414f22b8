//! From the statement tree to the typed [`Config`]: one module per kind of block, each with
//! its keyword table ([`keyword`]), sharing the argument readers of [`Cx`]. The readers follow
//! keepalived 2.2.7's handlers: what it accepts is accepted, what it reports is reported (an
//! error where keepalived's `-t` fails, a warning where it does not), and where keepalived
//! stops reading the file altogether (a keyword without its value) the daemon refuses to start.

pub(crate) mod address;
mod checker;
pub(crate) mod global;
pub(crate) mod instance;
pub(crate) mod keyword;
pub(crate) mod network;
pub(crate) mod number;
pub(crate) mod route;
pub(crate) mod rule;
pub(crate) mod script;
pub(crate) mod tracking;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

pub(crate) use instance::InstanceDraft;
use keyword::Keyword;
use number::NumberError;

use super::diagnostic::{Diagnostics, Span};
use super::model::{Config, IgnoredKeyword, Section};
use super::scripts::ScriptHost;
use super::tree::Statement;
use super::values::InterfaceName;

/// Parses the top level. Instances are returned as drafts: their version-dependent values are
/// settled by validation once the whole file (and `global_defs`) is known.
/// `accounts`: the host's users and groups, where keepalived looks them up while reading
/// (a notify script's `[user [group]]`); `None` takes every name as existing.
pub(crate) fn parse(
    statements: &[Statement],
    diagnostics: &mut Diagnostics,
    accounts: Option<&dyn ScriptHost>,
) -> (Config, Vec<InstanceDraft>) {
    let mut cx = Cx {
        diagnostics,
        accounts,
        config: Config::default(),
        drafts: Vec::new(),
        instance_names: HashMap::new(),
        suggestions_left: MAX_SUGGESTIONS,
        next_rule_preference: (16384, 16384),
        block_read: false,
        group_protocols: Vec::new(),
    };
    for statement in statements {
        cx.dispatch(TOP_LEVEL, &mut (), statement, "at the top level");
    }
    cx.check_group_protocols();
    (cx.config, cx.drafts)
}

/// The top level: blocks and the few keywords that stand alone. The dump writes the top
/// level by structure (dump/mod.rs), so these entries have no dump of their own.
const TOP_LEVEL: &[Keyword<(), Config>] = &[
    Keyword::read_only("global_defs", |cx, _, s| cx.global_defs(s)),
    Keyword::read_only("vrrp_instance", |cx, _, s| cx.vrrp_instance(s)),
    Keyword::read_only("vrrp_script", |cx, _, s| cx.vrrp_script(s)),
    Keyword::read_only("vrrp_sync_group", |cx, _, s| cx.sync_group(s)),
    Keyword::read_only("track_file", |cx, _, s| cx.track_file(s)),
    // The old name; keepalived reads it the same way.
    Keyword::read_only("vrrp_track_file", |cx, _, s| cx.track_file(s)),
    Keyword::read_only("vrrp_track_process", |cx, _, s| cx.track_process(s)),
    Keyword::read_only("static_ipaddress", |cx, _, s| {
        let addresses = cx.addresses(s, address::Role::Static);
        cx.config
            .static_addresses
            .extend(addresses.into_iter().map(|(a, _)| a));
    }),
    Keyword::read_only("static_routes", |cx, _, s| {
        let routes = cx.routes(s, true);
        cx.config.static_routes.extend(routes);
    }),
    Keyword::read_only("static_rules", |cx, _, s| {
        let rules = cx.rules(s, true);
        cx.config.static_rules.extend(rules);
    }),
    Keyword::read_only("garp_group", |cx, _, s| cx.garp_group(s)),
    Keyword::read_only("interface_up_down_delays", |cx, _, s| {
        cx.interface_up_down_delays(s)
    }),
    Keyword::read_only("linkbeat_interfaces", |cx, _, s| {
        for item in cx.block(s) {
            for word in std::iter::once(&item.keyword).chain(&item.args) {
                if let Some(name) =
                    cx.interface_name(item.line.span(word.start, word.end), &word.text)
                {
                    cx.config.linkbeat_interfaces.push(name);
                }
            }
        }
    }),
    Keyword::read_only("bfd_instance", |cx, _, s| {
        let section = section(s);
        cx.config.bfd_instances.push(section);
    }),
    Keyword::read_only("virtual_server", |cx, _, s| cx.virtual_server(s)),
    Keyword::read_only("virtual_server_group", |cx, _, s| {
        cx.virtual_server_group(s)
    }),
    Keyword::read_only("net_namespace", |cx, _, s| {
        cx.config.net_namespace = cx.value(s, 0).map(str::to_string)
    }),
    // Read by the preprocessor; listed so that it is not "unknown".
    Keyword::read_only("include_check", |_, _, _| {}),
    // The checker and process side: accepted, not used by xvrrpd.
    Keyword::read_only("SSL", |cx, _, s| cx.ignore(s)),
    Keyword::read_only("net_namespace_ipvs", |cx, _, s| cx.ignore(s)),
    Keyword::read_only("namespace_with_ipsets", |cx, _, s| cx.ignore(s)),
    Keyword::read_only("instance", |cx, _, s| cx.ignore(s)),
    Keyword::read_only("use_pid_dir", |cx, _, s| cx.ignore(s)),
    Keyword::read_only("child_wait_time", |cx, _, s| cx.ignore(s)),
    Keyword::read_only("track_group", |cx, _, s| cx.ignore(s)),
    Keyword::read_only("linkbeat_use_polling", |cx, _, s| cx.ignore(s)),
];

pub(crate) struct Cx<'d> {
    pub diagnostics: &'d mut Diagnostics,
    /// Users and groups of the host, when the file is read for it (see [`parse`]).
    pub accounts: Option<&'d dyn ScriptHost>,
    pub config: Config,
    pub drafts: Vec<InstanceDraft>,
    /// Instance name -> where it was defined, to refuse a second definition.
    pub instance_names: HashMap<String, Span>,
    /// "Did you mean" hints still to give: a file of garbage does not need thousands.
    pub suggestions_left: usize,
    /// The preference keepalived gives the next rule without one (IPv4, IPv6).
    pub next_rule_preference: (u32, u32),
    /// Set when a handler reads its statement's block (see [`Cx::dispatch`]).
    pub block_read: bool,
    /// `protocol` lines of `virtual_server group NAME` blocks, checked once every group is
    /// known (see [`Cx::check_group_protocols`]).
    pub group_protocols: Vec<(Span, String)>,
}

const MAX_SUGGESTIONS: usize = 10;

/// A boolean keyword's argument, as keepalived's handlers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BoolArg {
    /// The keyword alone (keepalived: true).
    Absent,
    Value(bool),
    /// Not one of keepalived's six words (reported).
    Invalid,
}

impl Cx<'_> {
    /// Records a keyword that is valid for keepalived but has no meaning for xvrrpd.
    pub(crate) fn ignore(&mut self, s: &Statement) {
        self.config.global.ignored.push(IgnoredKeyword {
            keyword: s.name().to_string(),
            args: s.args.iter().map(|a| a.text.clone()).collect(),
            at: s.keyword_span().position(),
        });
    }

    /// An unknown keyword is an error for `keepalived -t` (exit 5) but not for its daemon:
    /// reported as an error, and its whole block is skipped so that its `}` cannot close the
    /// enclosing block.
    pub(crate) fn unknown(&mut self, s: &Statement, context: &str, known: &[&str]) {
        let skipped = if s.block.is_some() {
            " (its { } block is skipped)"
        } else {
            ""
        };
        let diagnostic = self.diagnostics.error(
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

    /// A keyword keepalived 2.2.7 does not know, which xvrrpd reads anyway (newer keepalived
    /// versions have it): a warning, and `keepalived -t` would report it.
    pub(crate) fn newer_keyword(&mut self, s: &Statement, why: &str) {
        self.diagnostics
            .warning(
                &s.keyword_span(),
                format!(
                    "'{}' is not a keepalived 2.2.7 keyword; xvrrpd reads it: {why}",
                    s.name()
                ),
            )
            .hint("keepalived 2.2.7 reports it as an unknown keyword");
    }

    /// A block keyword's handler that skips its block (reported by the handler).
    pub(crate) fn skip_block(&mut self) {
        self.block_read = true;
    }

    /// The children of a block keyword; a missing block is a warning (keepalived reads on).
    pub(crate) fn block<'s>(&mut self, s: &'s Statement) -> &'s [Statement] {
        self.block_read = true;
        match &s.block {
            Some(block) => block,
            None => {
                self.diagnostics
                    .warning(
                        &s.keyword_span(),
                        format!("'{}' has no {{ }} block", s.name()),
                    )
                    .hint(format!("{} {{ ... }}", s.name()));
                &[]
            }
        }
    }

    /// keepalived stops reading the file at a keyword whose value is missing (its
    /// `null_strvec` exits): `-t` fails and the daemon does not start. xvrrpd reports it and
    /// refuses to start the same way.
    pub(crate) fn missing(&mut self, s: &Statement, index: usize) {
        let what = if index == 0 {
            format!("'{}' needs a value", s.name())
        } else {
            format!(
                "'{}' needs a value after '{}'",
                s.name(),
                s.arg(index - 1).unwrap_or_default()
            )
        };
        self.diagnostics
            .error(
                &s.arg_span(index),
                format!("{what}; keepalived stops reading the file here"),
            )
            .hint("keepalived 2.2.7 exits when a keyword lacks its value; so does xvrrpd");
        self.config.refusals.push(format!(
            "{} (line {}): {what}",
            s.keyword_span().file.display(),
            s.line.number
        ));
        // Whatever block follows is not read either.
        self.skip_block();
    }

    /// The argument at `index`, or [`Cx::missing`].
    pub(crate) fn value<'s>(&mut self, s: &'s Statement, index: usize) -> Option<&'s str> {
        match s.arg(index) {
            Some(value) => Some(value),
            None => {
                self.missing(s, index);
                None
            }
        }
    }

    /// `read_unsigned_strvec`: a whole number in `min..=max` at `index` (missing: keepalived
    /// stops reading the file).
    pub(crate) fn unsigned(
        &mut self,
        s: &Statement,
        index: usize,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        self.read_unsigned(s, index, min, max, false)
    }

    /// [`Cx::unsigned`] for the handlers that call `read_unsigned_strvec` with `ignore_error`
    /// set: `keepalived -t` reports the value (and so does this), but the running keepalived
    /// takes what `strtoul` read from it when that is in `min..=max` ("x" is 0, "5s" is 5).
    /// The model follows the running daemon.
    pub(crate) fn unsigned_as_run(
        &mut self,
        s: &Statement,
        index: usize,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        self.read_unsigned(s, index, min, max, true)
    }

    fn read_unsigned(
        &mut self,
        s: &Statement,
        index: usize,
        min: u64,
        max: u64,
        as_run: bool,
    ) -> Option<u64> {
        let text = self.value(s, index)?;
        match number::unsigned(text, min, max) {
            Ok(value) => Some(value),
            Err(err) => {
                let run =
                    number::strtoul_prefix(text).filter(|v| as_run && (min..=max).contains(v));
                self.number_error(s, index, &err, &min.to_string(), &max.to_string());
                run
            }
        }
    }

    /// `read_int_strvec`: a signed whole number in `min..=max` at `index`.
    pub(crate) fn int(
        &mut self,
        s: &Statement,
        index: usize,
        min: i64,
        max: i64,
    ) -> Result<i64, NumberError> {
        let Some(text) = self.value(s, index) else {
            return Err(NumberError::Invalid);
        };
        number::int(text, min, max).inspect_err(|err| {
            self.number_error(s, index, err, &min.to_string(), &max.to_string());
        })
    }

    /// `read_decimal_unsigned_strvec` with microseconds: seconds in `min..=max` at `index`.
    pub(crate) fn seconds(
        &mut self,
        s: &Statement,
        index: usize,
        min: Duration,
        max: Duration,
    ) -> Option<Duration> {
        let text = self.value(s, index)?;
        match number::decimal_seconds(text, min, max) {
            Ok(value) => Some(value),
            Err(err) => {
                self.number_error(
                    s,
                    index,
                    &err,
                    &super::values::format_seconds(min),
                    &super::values::format_seconds(max),
                );
                None
            }
        }
    }

    pub(crate) fn number_error(
        &mut self,
        s: &Statement,
        index: usize,
        err: &NumberError,
        min: &str,
        max: &str,
    ) {
        let text = s.arg(index).unwrap_or_default();
        self.diagnostics.error(
            &s.arg_span(index),
            format!("'{}': {}", s.name(), err.describe(text, min, max)),
        );
    }

    /// A boolean keyword's optional argument (keepalived's `check_true_false`: on, off,
    /// true, false, yes, no, lower case only).
    pub(crate) fn bool_arg(&mut self, s: &Statement) -> BoolArg {
        match s.arg(0) {
            None => BoolArg::Absent,
            Some(text) => match number::boolean(text) {
                Some(value) => BoolArg::Value(value),
                None => {
                    let lower = text.to_ascii_lowercase();
                    let diagnostic = self.diagnostics.error(
                        &s.arg_span(0),
                        format!(
                            "'{}': '{text}' is not a boolean; the setting is ignored",
                            s.name()
                        ),
                    );
                    if number::boolean(&lower).is_some() {
                        diagnostic.hint(format!(
                            "keepalived only knows lower case: write '{} {lower}'",
                            s.name()
                        ));
                    } else {
                        diagnostic.hint("on|off|true|false|yes|no");
                    }
                    BoolArg::Invalid
                }
            },
        }
    }

    /// A boolean keyword where keepalived reads the value: absent means true.
    pub(crate) fn flag(&mut self, s: &Statement) -> Option<bool> {
        match self.bool_arg(s) {
            BoolArg::Absent => Some(true),
            BoolArg::Value(value) => Some(value),
            BoolArg::Invalid => None,
        }
    }

    /// A flag whose handler in keepalived ignores its arguments: any value means on. A value
    /// that says "off" is a trap, and worth a warning.
    pub(crate) fn switch(&mut self, s: &Statement) -> bool {
        if let Some(text) = s.arg(0)
            && matches!(number::boolean(&text.to_ascii_lowercase()), Some(false))
        {
            self.diagnostics
                .warning(
                    &s.arg_span(0),
                    format!(
                        "'{} {text}' turns {} on: keepalived ignores the value",
                        s.name(),
                        s.name()
                    ),
                )
                .hint(format!("remove the line to leave {} off", s.name()));
        }
        true
    }

    /// An address the way keepalived's `inet_stosockaddr` reads one: the family from a `:`,
    /// anything from the first `-` or `/` on ignored (a range or a prefix length).
    pub(crate) fn sockaddr(&mut self, span: Span, text: &str, what: &str) -> Option<IpAddr> {
        match super::values::sockaddr(text) {
            Some(addr) => Some(addr),
            None => {
                self.diagnostics.error(
                    &span,
                    format!("{what} '{text}' is not an IPv4 or IPv6 address"),
                );
                None
            }
        }
    }

    /// An interface keepalived looks up as it reads the file (`if_get_by_ifname` with
    /// IF_CREATE_IF_DYNAMIC): it must exist on the host unless `dynamic_interfaces`, or
    /// keepalived does not start. Recorded for `check_host_interfaces`.
    pub(crate) fn existing_interface(
        &mut self,
        span: Span,
        name: &str,
        role: &'static str,
    ) -> Option<InterfaceName> {
        let interface = self.interface_name(span.clone(), name)?;
        self.config
            .named_interfaces
            .push((interface.clone(), role, span));
        Some(interface)
    }

    /// An interface name keepalived keeps (shorter than IFNAMSIZ).
    pub(crate) fn interface_name(&mut self, span: Span, name: &str) -> Option<InterfaceName> {
        match name.parse() {
            Ok(name) => Some(name),
            Err(message) => {
                self.diagnostics.error(&span, message);
                None
            }
        }
    }
}

/// keepalived's `parse_ipaddress` without a prefix length: the whole text must be an
/// address (`10.0.0.1/24` is not).
pub(crate) fn plain_address(text: &str) -> Option<IpAddr> {
    if text.contains(':') {
        text.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        text.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
    }
}

/// `REALM[/REALM]` by number or /etc/iproute2/rt_realms name: (from << 16) | to.
pub(crate) fn realms(text: &str) -> Option<u32> {
    use super::rttables::{Names, find};
    match text.split_once('/') {
        Some((from, to)) => Some(find(Names::Realms, from)? << 16 | find(Names::Realms, to)?),
        None => find(Names::Realms, text),
    }
}

impl Cx<'_> {
    /// keepalived's `parse_ipaddress` with a prefix length allowed: an invalid length is
    /// reported and the full length used; an invalid address is reported and `None`.
    pub(crate) fn prefix_with_length(
        &mut self,
        span: &Span,
        text: &str,
    ) -> Option<super::values::IpPrefix> {
        let (address, length) = match text.split_once('/') {
            Some((address, length)) => (address, Some(length)),
            None => (text, None),
        };
        let Some(addr) =
            plain_address(address).filter(|_| text.contains(':') == address.contains(':'))
        else {
            self.diagnostics
                .error(span, format!("'{text}' is not an IPv4 or IPv6 address"));
            return None;
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match length {
            None => max,
            Some(length) => {
                match number::unsigned(length, 0, u64::from(max)) {
                    Ok(length) => length as u8,
                    Err(_) => {
                        self.diagnostics.error(
                        span,
                        format!("prefix length '/{length}' of {address} must be 0..={max}; using /{max}"),
                    );
                        max
                    }
                }
            }
        };
        Some(super::values::IpPrefix { addr, prefix_len })
    }
}

/// Keeps a block's structure as text (for blocks xvrrpd does not interpret yet).
pub(crate) fn section(s: &Statement) -> Section {
    Section {
        keyword: s.name().to_string(),
        args: s.args.iter().map(|a| a.text.clone()).collect(),
        children: s.block.iter().flatten().map(section).collect(),
    }
}

/// The known keyword closest to `word` by edit distance, if it is close enough to be a typo.
/// Words far longer or shorter than a keyword cannot be within reach and are not measured.
pub(crate) fn closest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
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
