//! Things an instance can track (`vrrp_script`, `track_file`, `vrrp_track_process`), the
//! `track_*` blocks that refer to them, and `vrrp_sync_group`.

use std::time::Duration;

use super::Cx;
use crate::config::model::{
    Notify, SyncGroup, TrackFile, TrackProcess, TrackRef, Tracking, VrrpScript,
};
use crate::config::tree::Statement;

impl Cx<'_> {
    /// The block's name argument, or an error naming what needs one.
    fn block_name(&mut self, s: &Statement) -> Option<String> {
        match s.arg(0) {
            Some(name) => Some(name.to_string()),
            None => {
                self.diagnostics
                    .error(&s.keyword_span(), format!("{} needs a name", s.name()))
                    .hint(format!("{} NAME {{ ... }}", s.name()));
                None
            }
        }
    }

    pub(super) fn vrrp_script(&mut self, s: &Statement) {
        let Some(name) = self.block_name(s) else {
            return;
        };
        let mut script = None;
        let mut interval = Duration::from_secs(1);
        let mut timeout = None;
        let mut weight = 0;
        let mut reverse = false;
        let mut rise = 1;
        let mut fall = 1;
        let mut init_fail = false;
        let mut user = None;
        for item in self.block(s) {
            match item.name() {
                "script" => script = self.script_command(item, true),
                "interval" => {
                    if let Some(value) = self.timer(item) {
                        if value.is_zero() {
                            self.diagnostics
                                .error(&item.arg_span(0), "interval must be greater than 0");
                        } else {
                            interval = value;
                        }
                    }
                }
                "timeout" => timeout = self.timer(item).or(timeout),
                "weight" => {
                    let (value, is_reverse) = self.weight_keyword(item, 253);
                    weight = value.unwrap_or(weight);
                    reverse = is_reverse;
                }
                "rise" => rise = self.uint(item, 1, 1_000_000).map_or(rise, |n| n as u32),
                "fall" => fall = self.uint(item, 1, 1_000_000).map_or(fall, |n| n as u32),
                "user" => {
                    if self.arity(item, 1, 2) {
                        user = Some((item.args[0].text.clone(), item.arg(1).map(str::to_string)));
                    }
                }
                "init_fail" => {
                    if self.arity(item, 0, 0) {
                        init_fail = true;
                    }
                }
                _ => self.unknown(
                    item,
                    &format!("in vrrp_script {name}"),
                    &[
                        "script",
                        "interval",
                        "timeout",
                        "weight",
                        "rise",
                        "fall",
                        "user",
                        "init_fail",
                    ],
                ),
            }
        }
        let Some(mut script) = script else {
            self.diagnostics
                .error(
                    &s.keyword_span(),
                    format!("vrrp_script {name} has no script; it is ignored"),
                )
                .hint("add: script \"/path/to/check arguments\"");
            return;
        };
        if let Some((user, group)) = user {
            script.user = Some(user);
            script.group = group;
        }
        if !self.script_names.insert(name.clone()) {
            self.diagnostics.error(
                &s.arg_span(0),
                format!("vrrp_script {name} is defined twice; the later one is ignored"),
            );
            return;
        }
        self.config.scripts.push(VrrpScript {
            name,
            defined_at: s.keyword_span().position(),
            script,
            interval,
            timeout: timeout.unwrap_or(interval),
            weight,
            reverse,
            rise,
            fall,
            init_fail,
        });
    }

    pub(super) fn track_file(&mut self, s: &Statement) {
        let Some(name) = self.block_name(s) else {
            return;
        };
        let mut file = None;
        let mut weight = 1;
        let mut reverse = false;
        let mut init_file = None;
        for item in self.block(s) {
            match item.name() {
                "file" => file = self.string(item),
                "weight" => {
                    let (value, is_reverse) = self.weight_keyword(item, 254);
                    weight = value.unwrap_or(weight);
                    reverse = is_reverse;
                }
                "init_file" => {
                    if self.arity(item, 0, 2) {
                        let overwrite = item.args.iter().any(|a| a.text == "overwrite");
                        let value = match item.args.iter().position(|a| a.text != "overwrite") {
                            Some(index) => self
                                .int_at(item, index, i64::from(i32::MIN), i64::from(i32::MAX))
                                .unwrap_or(0),
                            None => 0,
                        };
                        init_file = Some((value, overwrite));
                    }
                }
                _ => self.unknown(
                    item,
                    &format!("in track_file {name}"),
                    &["file", "weight", "init_file"],
                ),
            }
        }
        let Some(file) = file else {
            self.diagnostics
                .error(
                    &s.keyword_span(),
                    format!("track_file {name} has no file; it is ignored"),
                )
                .hint("add: file /path/to/file");
            return;
        };
        self.config.track_files.push(TrackFile {
            name,
            file,
            weight,
            reverse,
            init_file,
        });
    }

    pub(super) fn track_process(&mut self, s: &Statement) {
        let Some(name) = self.block_name(s) else {
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
        for item in self.block(s) {
            match item.name() {
                "process" => match super::super::lexer::shell_split(item.raw_args()) {
                    Ok(words) if words.first().is_some_and(|w| !w.is_empty()) => {
                        process.process = words
                    }
                    _ => {
                        self.diagnostics
                            .error(&item.args_span(), "process needs a process name");
                    }
                },
                "param_match" => {
                    if let Some(mode) = self.string(item) {
                        if matches!(mode.as_str(), "initial" | "partial") {
                            process.param_match = Some(mode);
                        } else {
                            self.diagnostics
                                .error(&item.arg_span(0), format!("unknown param_match '{mode}'"))
                                .hint("param_match initial|partial");
                        }
                    }
                }
                "weight" => {
                    let (value, is_reverse) = self.weight_keyword(item, 254);
                    process.weight = value.unwrap_or(process.weight);
                    process.reverse = is_reverse;
                }
                "quorum" => {
                    process.quorum = self
                        .uint(item, 1, 65535)
                        .map_or(process.quorum, |n| n as u32)
                }
                "quorum_max" => process.quorum_max = self.uint(item, 1, 65535).map(|n| n as u32),
                "delay" => process.delay = self.timer(item),
                "fork_delay" => process.fork_delay = self.timer(item),
                "terminate_delay" => process.terminate_delay = self.timer(item),
                "full_command" => {
                    process.full_command = self.flag(item).unwrap_or(process.full_command)
                }
                _ => self.unknown(
                    item,
                    &format!("in vrrp_track_process {name}"),
                    &[
                        "process",
                        "param_match",
                        "weight",
                        "quorum",
                        "quorum_max",
                        "delay",
                        "fork_delay",
                        "terminate_delay",
                        "full_command",
                    ],
                ),
            }
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

    /// `track_interface|track_script|track_file|track_process|track_bfd { NAME [weight N [reverse]] }`.
    pub(super) fn track_block(&mut self, s: &Statement, tracking: &mut Tracking) {
        let limit = if matches!(s.name(), "track_file" | "track_process") {
            254
        } else {
            253
        };
        let mut refs = Vec::new();
        for item in self.block(s) {
            if s.name() == "track_interface"
                && self
                    .interface_name(item.keyword_span(), item.name())
                    .is_none()
            {
                continue;
            }
            let (weight, reverse) = self.weight_words(item, &item.args, limit);
            refs.push(TrackRef {
                name: item.name().to_string(),
                weight,
                reverse,
                at: Some(item.keyword_span()),
            });
        }
        let list = match s.name() {
            "track_interface" => &mut tracking.interfaces,
            "track_script" => &mut tracking.scripts,
            "track_file" => &mut tracking.files,
            "track_process" => &mut tracking.processes,
            _ => &mut tracking.bfd,
        };
        list.extend(refs);
    }

    pub(super) fn sync_group(&mut self, s: &Statement) {
        let Some(name) = self.block_name(s) else {
            return;
        };
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
        for item in self.block(s) {
            match item.name() {
                "group" => {
                    // keepalived reads every word of the block: one name per line or several.
                    for member in self.block(item) {
                        for word in std::iter::once(&member.keyword).chain(&member.args) {
                            group.members.push(TrackRef {
                                name: word.text.clone(),
                                weight: None,
                                reverse: false,
                                at: Some(member.line.span(word.start, word.end)),
                            });
                        }
                    }
                }
                "track_interface" | "track_script" | "track_file" | "track_process"
                | "track_bfd" => {
                    self.track_block(item, &mut group.track);
                }
                "notify_master" => group.notify.master = self.script_command(item, false),
                "notify_backup" => group.notify.backup = self.script_command(item, false),
                "notify_fault" => group.notify.fault = self.script_command(item, false),
                "notify_stop" => group.notify.stop = self.script_command(item, false),
                "notify" => group.notify.any = self.script_command(item, false),
                "notify_deleted" => {
                    group.notify.deleted = Some(if item.args.is_empty() {
                        None
                    } else {
                        self.script_command(item, false)
                    });
                }
                "notify_priority_changes" => {
                    group.notify_priority_changes = self.flag(item).unwrap_or(false)
                }
                "smtp_alert" => group.smtp_alert = self.flag(item),
                "global_tracking" => {
                    self.diagnostics
                        .warning(&item.keyword_span(), "global_tracking is deprecated")
                        .hint("put track_interface/track_script/track_file in the vrrp_sync_group instead");
                    group.global_tracking = true;
                }
                "sync_group_tracking_weight" => {
                    group.sync_group_tracking_weight = self.flag(item).unwrap_or(true)
                }
                _ if item.args.is_empty() && item.block.is_none() => {
                    self.unknown(item, &format!("in vrrp_sync_group {name}"), &[]);
                    if let Some(last) = self.diagnostics.last_mut() {
                        last.hint("instance names go inside 'group { ... }'");
                    }
                }
                _ => self.unknown(
                    item,
                    &format!("in vrrp_sync_group {name}"),
                    &[
                        "group",
                        "track_interface",
                        "track_script",
                        "track_file",
                        "track_process",
                        "track_bfd",
                        "notify_master",
                        "notify_backup",
                        "notify_fault",
                        "notify_stop",
                        "notify",
                        "notify_deleted",
                        "notify_priority_changes",
                        "smtp_alert",
                        "global_tracking",
                        "sync_group_tracking_weight",
                    ],
                ),
            }
        }
        if group.members.is_empty() {
            self.diagnostics
                .error(
                    &s.keyword_span(),
                    format!("vrrp_sync_group {name} has no members; it is ignored"),
                )
                .hint("add: group { VI_1 VI_2 } with one instance name per line");
            return;
        }
        self.config.sync_groups.push(group);
    }
}
