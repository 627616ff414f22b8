//! `vrrp_script`, `track_file`, `vrrp_track_process`, `vrrp_sync_group` and the `track_*`
//! blocks of instances and sync groups, each with its keyword table. keepalived resolves a
//! `track_script` (file, process) reference when it reads it, so a reference to something
//! defined further down the file is reported and dropped, as keepalived does.

use std::time::Duration;

use super::Cx;
use super::keyword::{Keyword, dump_table};
use crate::config::dump::{Writer, flag_line, on_off, shell_word, word};
use crate::config::lexer::Token;
use crate::config::model::{
    Notify, ScriptCommand, SyncGroup, TrackFile, TrackProcess, TrackRef, Tracking, VrrpScript,
};
use crate::config::tree::Statement;
use crate::config::values::format_seconds;

/// A vrrp_script as it is read.
pub(crate) struct ScriptDraft {
    pub script: Option<ScriptCommand>,
    pub interval: Duration,
    pub timeout: Option<Duration>,
    pub weight: i32,
    pub reverse: bool,
    pub rise: u32,
    pub fall: u32,
    pub init_fail: bool,
    /// `user U [G]`, applied over the command's.
    pub user: Option<(String, Option<String>)>,
}

impl Cx<'_> {
    /// The block's name: exactly one word (keepalived: "must have a name" otherwise, and the
    /// block is skipped).
    fn block_name(&mut self, s: &Statement) -> Option<String> {
        self.skip_block();
        match s.args.as_slice() {
            [name] => Some(name.text.clone()),
            [] => {
                self.missing(s, 0);
                None
            }
            _ => {
                self.diagnostics
                    .error(
                        &s.arg_span(1),
                        format!("{} takes one name; the block is skipped", s.name()),
                    )
                    .hint(format!("{} NAME {{ ... }}", s.name()));
                None
            }
        }
    }

    pub(crate) fn vrrp_script(&mut self, s: &Statement) {
        let Some(name) = s.arg(0).map(str::to_string) else {
            self.missing(s, 0);
            return;
        };
        let mut draft = ScriptDraft {
            script: None,
            interval: Duration::from_secs(1),
            timeout: None,
            weight: 0,
            reverse: false,
            rise: 1,
            fall: 1,
            init_fail: false,
            user: None,
        };
        let context = format!("in vrrp_script {name}");
        for item in self.block(s) {
            self.dispatch(SCRIPT, &mut draft, item, &context);
        }
        let Some(mut script) = draft.script else {
            self.diagnostics
                .error(
                    &s.keyword_span(),
                    format!("vrrp_script {name} has no script; it is removed"),
                )
                .hint("add: script \"/path/to/check arguments\"");
            return;
        };
        if let Some((user, group)) = draft.user {
            script.user = Some(user);
            script.group = group;
        }
        if self.config.scripts.iter().any(|other| other.name == name) {
            // keepalived keeps both; references find the first.
            self.diagnostics.warning(
                &s.arg_span(0),
                format!("vrrp_script {name} is defined twice; tracking uses the first"),
            );
            return;
        }
        self.config.scripts.push(VrrpScript {
            name,
            defined_at: s.keyword_span().position(),
            script,
            interval: draft.interval,
            timeout: draft.timeout.unwrap_or(draft.interval),
            weight: draft.weight,
            reverse: draft.reverse,
            rise: draft.rise,
            fall: draft.fall,
            init_fail: draft.init_fail,
        });
    }

    pub(crate) fn track_file(&mut self, s: &Statement) {
        let Some(name) = self.block_name(s) else {
            return;
        };
        if s.name() == "vrrp_track_file" {
            self.diagnostics
                .warning(&s.keyword_span(), "vrrp_track_file is deprecated")
                .hint("write track_file");
        }
        let mut file = TrackFile {
            name: name.clone(),
            file: String::new(),
            weight: 1,
            reverse: false,
            init_file: None,
        };
        let context = format!("in track_file {name}");
        for item in self.block(s) {
            self.dispatch(TRACK_FILE, &mut file, item, &context);
        }
        if file.file.is_empty() {
            self.diagnostics
                .error(
                    &s.keyword_span(),
                    format!("track_file {name} has no file; it is ignored"),
                )
                .hint("add: file /path/to/file");
            return;
        }
        self.config.track_files.push(file);
    }

    pub(crate) fn track_process(&mut self, s: &Statement) {
        let Some(name) = s.arg(0).map(str::to_string) else {
            self.missing(s, 0);
            return;
        };
        let mut process = TrackProcess {
            name: name.clone(),
            process: Vec::new(),
            param_match: None,
            weight: 0,
            reverse: false,
            quorum: 1,
            quorum_max: None,
            delay: None,
            fork_delay: None,
            terminate_delay: None,
            full_command: false,
        };
        let context = format!("in vrrp_track_process {name}");
        for item in self.block(s) {
            self.dispatch(TRACK_PROCESS, &mut process, item, &context);
        }
        if process.process.is_empty() {
            self.diagnostics
                .error(
                    &s.keyword_span(),
                    format!("vrrp_track_process {name} has no process; it is ignored"),
                )
                .hint("add: process NAME [ARGS]");
            return;
        }
        self.config.track_processes.push(process);
    }

    /// `weight N [reverse]` as keepalived's object handlers read it: an invalid number is
    /// reported and `fallback` used.
    fn own_weight(
        &mut self,
        s: &Statement,
        limit: i64,
        fallback: i32,
        reverse_words: bool,
    ) -> (i32, Option<bool>) {
        let weight = match self.int(s, 0, -limit, limit) {
            Ok(weight) => weight as i32,
            Err(super::number::NumberError::OutOfRange { value }) => {
                // keepalived keeps the number it read even when it reports the range.
                value.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
            }
            Err(_) => {
                if s.arg(0) == Some("-")
                    && s.arg(1).is_some_and(|n| n.parse::<u32>().is_ok())
                    && let Some(last) = self.diagnostics.last_mut()
                {
                    last.hint(format!(
                        "keepalived reads 'weight - {0}' as weight {fallback}: write 'weight -{0}'",
                        s.args[1].text
                    ));
                }
                fallback
            }
        };
        let reverse = match s.arg(1) {
            None => None,
            Some("reverse") => Some(true),
            Some("noreverse") if reverse_words => Some(false),
            Some(other) => {
                self.diagnostics
                    .error(&s.arg_span(1), format!("unknown weight option '{other}'"))
                    .hint("weight N [reverse]");
                None
            }
        };
        (weight, reverse)
    }

    /// A `track_interface|track_script|track_file|track_process|track_bfd { NAME [weight N
    /// [reverse]] }` block of an instance or a sync group (`owner` names it in messages).
    pub(crate) fn track_refs(&mut self, s: &Statement, tracking: &mut Tracking, owner: &str) {
        let kind = s.name();
        for item in self.block(s) {
            let name = item.name().to_string();
            let at = Some(item.keyword_span());
            // The tracked object: its own weight is the default (0 for interfaces).
            let own = match kind {
                "track_interface" => {
                    if self
                        .existing_interface(item.keyword_span(), &name, "track_interface")
                        .is_none()
                    {
                        continue;
                    }
                    Some((0, false))
                }
                "track_script" => self
                    .config
                    .scripts
                    .iter()
                    .find(|script| script.name == name)
                    .map(|script| (script.weight, script.reverse)),
                "track_file" => self
                    .config
                    .track_files
                    .iter()
                    .find(|file| file.name == name)
                    .map(|file| (file.weight, file.reverse)),
                "track_process" => self
                    .config
                    .track_processes
                    .iter()
                    .find(|process| process.name == name)
                    .map(|process| (process.weight, process.reverse)),
                _ => Some((0, false)),
            };
            let Some((own_weight, own_reverse)) = own else {
                let defined = match kind {
                    "track_script" => "vrrp_script",
                    "track_file" => "track_file",
                    _ => "vrrp_track_process",
                };
                self.diagnostics
                    .error(
                        &item.keyword_span(),
                        format!("{owner}: {kind} {name} is not defined (above this line); ignored"),
                    )
                    .hint(format!(
                        "define '{defined} {name} {{ ... }}' before the block that tracks it (keepalived resolves names as it reads)"
                    ));
                continue;
            };
            let list = match kind {
                "track_interface" => &mut tracking.interfaces,
                "track_script" => &mut tracking.scripts,
                "track_file" => &mut tracking.files,
                "track_process" => &mut tracking.processes,
                _ => &mut tracking.bfd,
            };
            if list.iter().any(|r| r.name == name) {
                self.diagnostics.error(
                    &item.keyword_span(),
                    format!("{owner}: duplicate {kind} {name}; ignored"),
                );
                continue;
            }
            let limit = if kind == "track_interface" || kind == "track_script" {
                253
            } else {
                254
            };
            let mut weight = None;
            let reverse;
            if let Some(option) = item.arg(0) {
                if option != "weight" {
                    self.diagnostics.error(
                        &item.arg_span(0),
                        format!("{owner}: unknown {kind} option '{option}'; {name} is ignored"),
                    );
                    continue;
                }
                let Some(text) = item.arg(1) else {
                    self.diagnostics.error(
                        &item.arg_span(1),
                        format!("{owner}: weight without a value for {name}; it is ignored"),
                    );
                    continue;
                };
                // keepalived reads -254..254 and makes ±254 into ±253 for interfaces and
                // scripts.
                match super::number::int(text, -254, 254) {
                    Ok(value) if value.abs() == 254 && limit == 253 => {
                        self.diagnostics.error(
                            &item.arg_span(1),
                            format!("{owner}: weight {value} for {name} is used as ±253"),
                        );
                        weight = Some(value.signum() as i32 * 253);
                    }
                    Ok(value) => weight = Some(value as i32),
                    Err(_) => {
                        let hint = if text == "-"
                            && item.arg(2).is_some_and(|n| n.parse::<u32>().is_ok())
                        {
                            format!(
                                "keepalived ignores 'weight - {}': write 'weight -{}'",
                                item.args[2].text, item.args[2].text
                            )
                        } else {
                            "a negative weight lowers the priority while the check fails, a positive one raises it while it succeeds".to_string()
                        };
                        self.diagnostics
                            .error(
                                &item.arg_span(1),
                                format!("{owner}: weight '{text}' for {name} must be in -{limit}..={limit}; ignored"),
                            )
                            .hint(hint);
                        // keepalived: 0 for an interface, the object's own weight otherwise.
                        weight = None;
                    }
                }
                match item.arg(2) {
                    None => reverse = own_reverse && kind != "track_interface",
                    Some("reverse") => reverse = true,
                    Some("noreverse") if kind != "track_interface" => reverse = false,
                    Some(other) => {
                        self.diagnostics.error(
                            &item.arg_span(2),
                            format!("{owner}: unknown weight option '{other}' for {name}"),
                        );
                        if kind == "track_file" {
                            continue;
                        }
                        reverse = own_reverse && kind != "track_interface";
                    }
                }
            } else {
                reverse = own_reverse && kind != "track_interface";
            }
            let _ = own_weight;
            list.push(TrackRef {
                name,
                weight,
                reverse,
                at,
            });
        }
    }

    pub(crate) fn sync_group(&mut self, s: &Statement) {
        let Some(name) = self.block_name(s) else {
            return;
        };
        if self.config.sync_groups.iter().any(|g| g.name == name) {
            self.diagnostics.error(
                &s.arg_span(0),
                format!("vrrp_sync_group {name} is already defined; the block is skipped"),
            );
            self.skip_block();
            return;
        }
        let mut group = SyncGroup {
            name: name.clone(),
            defined_at: s.keyword_span().position(),
            members: Vec::new(),
            track: Tracking::default(),
            notify: Notify::default(),
            notify_priority_changes: false,
            smtp_alert: None,
            global_tracking: false,
            sync_group_tracking_weight: false,
        };
        let context = format!("in vrrp_sync_group {name}");
        for item in self.block(s) {
            if item.args.is_empty()
                && item.block.is_none()
                && !SYNC_GROUP.iter().any(|k| k.name == item.name())
            {
                self.unknown(item, &context, &[]);
                if let Some(last) = self.diagnostics.last_mut() {
                    last.hint("instance names go inside 'group { ... }'");
                }
                continue;
            }
            self.dispatch(SYNC_GROUP, &mut group, item, &context);
        }
        self.config.sync_groups.push(group);
    }
}

fn script_keyword(cx: &mut Cx, d: &mut ScriptDraft, s: &Statement) {
    // keepalived reads only the first word (quoted, it holds the arguments): further words
    // are ignored.
    let mut command = cx.script_command_or(s, false);
    if let Some(command) = &mut command {
        if command.user.is_some() {
            cx.diagnostics
                .warning(
                    &s.args_span(),
                    format!(
                        "'script' reads one word: '{}' is ignored",
                        s.args[1..]
                            .iter()
                            .map(|t: &Token| t.text.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                )
                .hint("quote a command with arguments: script \"/path/check arg\"");
        }
        command.user = None;
        command.group = None;
    }
    if command.is_some() {
        d.script = command;
    }
}

/// A `vrrp_script`'s `interval` or `timeout`: whole seconds as keepalived 2.2.7 reads them (0
/// is an error, then 1). A fraction of a second is xvrrpd's own: accepted with a warning, since
/// keepalived 2.2.7 rejects it (sub-second checks are what fast failover on a failed service
/// needs).
fn script_seconds(cx: &mut Cx, s: &Statement, what: &str) -> Option<Duration> {
    const MAX: Duration = Duration::from_secs(u32::MAX as u64 / 1_000_000);
    if let Some(text) = cx.value(s, 0)
        && text.contains('.')
        && let Ok(seconds) = super::number::decimal_seconds(text, Duration::ZERO, MAX)
        && !seconds.is_zero()
        && seconds.subsec_nanos() != 0
    {
        let keepalived = seconds.as_secs().max(1);
        cx.diagnostics.warning(
            &s.arg_span(0),
            format!(
                "{what} {text}: xvrrpd runs checks at fractions of a second; keepalived 2.2.7 \
                 reads whole seconds only (its -t reports this value, and it would use \
                 {keepalived} s)"
            ),
        );
        return Some(seconds);
    }
    // Not a number: reported, and what keepalived's running daemon reads (strtoul's prefix,
    // `5s` is 5) is used, as keepalived does (read_unsigned_strvec with ignore_error).
    let seconds = cx.unsigned_as_run(s, 0, 0, MAX.as_secs())?;
    if seconds == 0 {
        cx.diagnostics.error(
            &s.arg_span(0),
            format!("{what} must be greater than 0; using 1"),
        );
    }
    Some(Duration::from_secs(seconds.max(1)))
}

/// `vrrp_script NAME { }`.
pub(crate) const SCRIPT: &[Keyword<ScriptDraft, VrrpScript>] = &[
    Keyword::new("script", script_keyword, |out, s| {
        out.line(format!(
            "script {}",
            crate::config::dump::command(&s.script.argv)
        ))
    }),
    Keyword::new(
        "interval",
        |cx, d, s| {
            if let Some(interval) = script_seconds(cx, s, "interval") {
                d.interval = interval;
            }
        },
        |out, s| out.line(format!("interval {}", format_seconds(s.interval))),
    ),
    Keyword::new(
        "timeout",
        |cx, d, s| {
            if let Some(timeout) = script_seconds(cx, s, "timeout") {
                d.timeout = Some(timeout);
            }
        },
        |out, s| out.line(format!("timeout {}", format_seconds(s.timeout))),
    ),
    Keyword::new(
        "weight",
        |cx, d, s| {
            // keepalived keeps what it read, 0 when it read no number.
            let (weight, reverse) = cx.own_weight(s, 253, 0, false);
            d.weight = weight;
            if let Some(reverse) = reverse {
                d.reverse = reverse;
            }
        },
        |out, s| {
            out.line(format!(
                "weight {}{}",
                s.weight,
                if s.reverse { " reverse" } else { "" }
            ))
        },
    ),
    Keyword::new(
        "rise",
        |cx, d, s| {
            d.rise = cx
                .unsigned(s, 0, 1, i32::MAX as u64)
                .map_or(1, |n| n as u32)
        },
        |out, s| out.line(format!("rise {}", s.rise)),
    ),
    Keyword::new(
        "fall",
        |cx, d, s| {
            d.fall = cx
                .unsigned(s, 0, 1, i32::MAX as u64)
                .map_or(1, |n| n as u32)
        },
        |out, s| out.line(format!("fall {}", s.fall)),
    ),
    Keyword::new(
        "user",
        |cx, d, s| {
            if let Some(user) = cx.value(s, 0) {
                d.user = Some((user.to_string(), s.arg(1).map(str::to_string)));
            }
        },
        |out, s| {
            if let Some(user) = &s.script.user {
                out.line(format!(
                    "user {}{}",
                    word(user),
                    s.script
                        .group
                        .as_deref()
                        .map(|g| format!(" {}", word(g)))
                        .unwrap_or_default()
                ));
            }
        },
    ),
    Keyword::new(
        "init_fail",
        |_, d, _| d.init_fail = true,
        |out, s| flag_line(out, "init_fail", s.init_fail),
    ),
];

/// `track_file NAME { }`.
pub(crate) const TRACK_FILE: &[Keyword<TrackFile, TrackFile>] = &[
    Keyword::new(
        "file",
        |cx, f, s| {
            let Some(path) = s.arg(0) else {
                cx.diagnostics
                    .error(&s.arg_span(0), "track_file needs a file name");
                return;
            };
            if !f.file.is_empty() {
                cx.diagnostics.error(
                    &s.arg_span(0),
                    format!("track_file {}: the file is already set; ignored", f.name),
                );
                return;
            }
            f.file = path.to_string();
        },
        |out, f| out.line(format!("file {}", word(&f.file))),
    ),
    Keyword::new(
        "weight",
        |cx, f, s| {
            if s.args.is_empty() {
                cx.diagnostics
                    .error(&s.arg_span(0), "weight needs a value; ignored");
                return;
            }
            if f.weight != 1 {
                cx.diagnostics.error(
                    &s.arg_span(0),
                    format!("track_file {}: the weight is already set; ignored", f.name),
                );
                return;
            }
            let (weight, reverse) = cx.own_weight(s, 254, 1, false);
            f.weight = weight;
            if let Some(reverse) = reverse {
                f.reverse = reverse;
            }
        },
        |out, f| {
            out.line(format!(
                "weight {}{}",
                f.weight,
                if f.reverse { " reverse" } else { "" }
            ))
        },
    ),
    Keyword::new(
        "init_file",
        |cx, f, s| {
            let mut value = 0;
            let mut overwrite = false;
            for (index, arg) in s.args.iter().enumerate() {
                let text = arg.text.trim_start();
                if text.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
                    match super::number::int(text, i64::from(i32::MIN), i64::from(i32::MAX)) {
                        Ok(number) => {
                            if !(-254..=254).contains(&number) {
                                cx.diagnostics.error(
                                    &s.arg_span(index),
                                    format!("init_file value {number} is outside -254..=254"),
                                );
                            }
                            value = number;
                        }
                        Err(_) => {
                            cx.diagnostics.error(
                                &s.arg_span(index),
                                format!("init_file value '{text}' is not a number"),
                            );
                            value = 0;
                        }
                    }
                } else if text == "overwrite" {
                    overwrite = true;
                } else {
                    cx.diagnostics.error(
                        &s.arg_span(index),
                        format!("unknown init_file option '{text}'"),
                    );
                }
            }
            f.init_file = Some((value, overwrite));
        },
        |out, f| {
            if let Some((value, overwrite)) = f.init_file {
                out.line(format!(
                    "init_file {value}{}",
                    if overwrite { " overwrite" } else { "" }
                ));
            }
        },
    ),
];

/// `vrrp_track_process NAME { }`.
pub(crate) const TRACK_PROCESS: &[Keyword<TrackProcess, TrackProcess>] = &[
    Keyword::new(
        "process",
        |cx, p, s| {
            if !p.process.is_empty() {
                cx.diagnostics.error(
                    &s.keyword_span(),
                    format!(
                        "vrrp_track_process {}: the process is already set; ignored",
                        p.name
                    ),
                );
                return;
            }
            let Some(first) = cx.value(s, 0) else {
                return;
            };
            p.process = std::iter::once(first.to_string())
                .chain(s.args[1..].iter().map(|a| a.text.clone()))
                .collect();
            if p.process.len() > 1 {
                p.full_command = true;
                p.param_match.get_or_insert_with(|| "exact".to_string());
            }
        },
        |out, p| {
            out.line(format!(
                "process {}",
                p.process
                    .iter()
                    .map(|w| shell_word(w))
                    .collect::<Vec<_>>()
                    .join(" ")
            ))
        },
    ),
    Keyword::new(
        "param_match",
        |cx, p, s| match s.arg(0) {
            None => {
                p.param_match = Some("exact".to_string());
                p.full_command = true;
            }
            Some(mode @ ("initial" | "partial")) => {
                p.param_match = Some(mode.to_string());
                p.full_command = true;
            }
            Some(other) => {
                cx.diagnostics
                    .error(
                        &s.arg_span(0),
                        format!("unknown param_match '{other}'; ignored"),
                    )
                    .hint("param_match [initial|partial]");
            }
        },
        |out, p| match p.param_match.as_deref() {
            Some("exact") | None => {}
            Some(mode) => out.line(format!("param_match {mode}")),
        },
    ),
    Keyword::new(
        "weight",
        |cx, p, s| {
            let (weight, reverse) = cx.own_weight(s, 254, p.weight, false);
            p.weight = weight;
            if let Some(reverse) = reverse {
                p.reverse = reverse;
            }
        },
        |out, p| {
            out.line(format!(
                "weight {}{}",
                p.weight,
                if p.reverse { " reverse" } else { "" }
            ))
        },
    ),
    Keyword::new(
        "quorum",
        |cx, p, s| {
            if let Some(n) = cx.unsigned_as_run(s, 0, 1, 65535) {
                p.quorum = n as u32;
            }
        },
        |out, p| out.line(format!("quorum {}", p.quorum)),
    ),
    Keyword::new(
        "quorum_max",
        |cx, p, s| p.quorum_max = cx.unsigned_as_run(s, 0, 1, 65535).map(|n| n as u32),
        |out, p| {
            if let Some(max) = p.quorum_max {
                out.line(format!("quorum_max {max}"));
            }
        },
    ),
    Keyword::new(
        "delay",
        |cx, p, s| {
            p.delay = cx.seconds(
                s,
                0,
                Duration::ZERO,
                Duration::from_secs(u64::from(u32::MAX)),
            )
        },
        |out, p| {
            if let Some(delay) = p.delay {
                out.line(format!("delay {}", format_seconds(delay)));
            }
        },
    ),
    Keyword::new(
        "terminate_delay",
        |cx, p, s| {
            p.terminate_delay = cx.seconds(
                s,
                0,
                Duration::ZERO,
                Duration::from_secs(u64::from(u32::MAX)),
            )
        },
        |out, p| {
            if let Some(delay) = p.terminate_delay {
                out.line(format!("terminate_delay {}", format_seconds(delay)));
            }
        },
    ),
    Keyword::new(
        "fork_delay",
        |cx, p, s| {
            p.fork_delay = cx.seconds(
                s,
                0,
                Duration::ZERO,
                Duration::from_secs(u64::from(u32::MAX)),
            )
        },
        |out, p| {
            if let Some(delay) = p.fork_delay {
                out.line(format!("fork_delay {}", format_seconds(delay)));
            }
        },
    ),
    Keyword::new(
        "full_command",
        // keepalived sets it whatever follows.
        |cx, p, s| p.full_command = cx.switch(s),
        // Arguments and param_match imply it.
        |out, p| {
            flag_line(
                out,
                "full_command",
                p.full_command && p.process.len() <= 1 && p.param_match.is_none(),
            )
        },
    ),
];

fn group_notify(
    cx: &mut Cx,
    g: &mut SyncGroup,
    s: &Statement,
    slot: fn(&mut Notify) -> &mut Option<ScriptCommand>,
) {
    if slot(&mut g.notify).is_some() {
        cx.diagnostics.error(
            &s.keyword_span(),
            format!(
                "vrrp_sync_group {}: {} is already set; this one is ignored",
                g.name,
                s.name()
            ),
        );
        return;
    }
    *slot(&mut g.notify) = cx.script_command(s);
}

/// `vrrp_sync_group NAME { }`.
pub(crate) const SYNC_GROUP: &[Keyword<SyncGroup, SyncGroup>] = &[
    Keyword::new(
        "group",
        |cx, g, s| {
            if !g.members.is_empty() {
                cx.diagnostics.error(
                    &s.keyword_span(),
                    format!(
                        "vrrp_sync_group {}: the group list is already given; skipped",
                        g.name
                    ),
                );
                cx.skip_block();
                return;
            }
            // keepalived reads every word of the block: one name per line or several.
            for member in cx.block(s) {
                for word in std::iter::once(&member.keyword).chain(&member.args) {
                    g.members.push(TrackRef {
                        name: word.text.clone(),
                        weight: None,
                        reverse: false,
                        at: Some(member.line.span(word.start, word.end)),
                    });
                }
            }
            if g.members.is_empty() {
                cx.diagnostics.error(
                    &s.keyword_span(),
                    format!("vrrp_sync_group {}: the group block is empty", g.name),
                );
            }
        },
        |out, g| {
            out.open("group");
            for member in &g.members {
                out.line(word(&member.name));
            }
            out.close();
        },
    ),
    Keyword::new(
        "track_interface",
        |cx, g, s| {
            let owner = format!("vrrp_sync_group {}", g.name);
            cx.track_refs(s, &mut g.track, &owner)
        },
        |out, g| crate::config::dump::tracking(out, &g.track),
    ),
    Keyword::read_only("track_script", |cx, g, s| {
        let owner = format!("vrrp_sync_group {}", g.name);
        cx.track_refs(s, &mut g.track, &owner)
    }),
    Keyword::read_only("track_file", |cx, g, s| {
        let owner = format!("vrrp_sync_group {}", g.name);
        cx.track_refs(s, &mut g.track, &owner)
    }),
    Keyword::read_only("track_process", |cx, g, s| {
        let owner = format!("vrrp_sync_group {}", g.name);
        cx.track_refs(s, &mut g.track, &owner)
    }),
    Keyword::read_only("track_bfd", |cx, g, s| {
        let owner = format!("vrrp_sync_group {}", g.name);
        cx.track_refs(s, &mut g.track, &owner)
    }),
    Keyword::new(
        "notify_master",
        |cx, g, s| group_notify(cx, g, s, |n| &mut n.master),
        |out, g| super::instance::notify_lines(out, &g.notify),
    ),
    Keyword::read_only("notify_backup", |cx, g, s| {
        group_notify(cx, g, s, |n| &mut n.backup)
    }),
    Keyword::read_only("notify_fault", |cx, g, s| {
        group_notify(cx, g, s, |n| &mut n.fault)
    }),
    Keyword::read_only("notify_stop", |cx, g, s| {
        group_notify(cx, g, s, |n| &mut n.stop)
    }),
    Keyword::read_only("notify", |cx, g, s| group_notify(cx, g, s, |n| &mut n.any)),
    Keyword::new(
        "notify_priority_changes",
        |cx, g, s| {
            if let Some(value) = cx.flag(s) {
                g.notify_priority_changes = value;
            }
        },
        |out, g| {
            out.line(format!(
                "notify_priority_changes {}",
                on_off(g.notify_priority_changes)
            ))
        },
    ),
    Keyword::new(
        "smtp_alert",
        |cx, g, s| {
            if let Some(value) = cx.flag(s) {
                g.smtp_alert = Some(value);
            }
        },
        |out, g| {
            if let Some(alert) = g.smtp_alert {
                out.line(format!("smtp_alert {}", on_off(alert)));
            }
        },
    ),
    Keyword::new(
        "global_tracking",
        |cx, g, s| {
            cx.diagnostics
                .error(&s.keyword_span(), "global_tracking is deprecated")
                .hint("put track_interface/track_script/track_file in the vrrp_sync_group instead");
            g.global_tracking = true;
            g.sync_group_tracking_weight = true;
        },
        |out, g| flag_line(out, "global_tracking", g.global_tracking),
    ),
    Keyword::new(
        "sync_group_tracking_weight",
        |_, g, _| g.sync_group_tracking_weight = true,
        |out, g| {
            flag_line(
                out,
                "sync_group_tracking_weight",
                g.sync_group_tracking_weight && !g.global_tracking,
            )
        },
    ),
];

/// Writes every tracked-object block: scripts, files and processes.
pub(crate) fn dump_trackers(out: &mut Writer, config: &crate::config::model::Config) {
    for script in &config.scripts {
        out.open(&format!("vrrp_script {}", word(&script.name)));
        dump_table(out, SCRIPT, script);
        out.close();
    }
    for file in &config.track_files {
        out.open(&format!("track_file {}", word(&file.name)));
        dump_table(out, TRACK_FILE, file);
        out.close();
    }
    for process in &config.track_processes {
        out.open(&format!("vrrp_track_process {}", word(&process.name)));
        dump_table(out, TRACK_PROCESS, process);
        out.close();
    }
}

/// Writes every sync group.
pub(crate) fn dump_sync_groups(out: &mut Writer, config: &crate::config::model::Config) {
    for group in &config.sync_groups {
        out.open(&format!("vrrp_sync_group {}", word(&group.name)));
        dump_table(out, SYNC_GROUP, group);
        out.close();
    }
}
