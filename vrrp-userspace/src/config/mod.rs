//! keepalived.conf: read it the way keepalived does and turn it into a typed [`Config`].
//!
//! The stages, each in its own module: [`preprocess`] (includes, `@id` lines, `$NAME`
//! definitions, `~SEQ`), [`lexer`] (comments, quotes, braces), [`tree`] (statements and
//! blocks), `parse` (keywords into the [`model`]), `validate` (defaults that depend on the
//! whole file and cross-checks), [`dump`] (the effective configuration back as text or JSON).
//! Problems are collected as [`Diagnostic`]s, never printed or fatal to a running daemon.

pub mod diagnostic;
pub mod dump;
pub mod lexer;
pub mod model;
mod parse;
pub mod preprocess;
pub mod rttables;
pub mod scripts;
pub mod tree;
mod validate;
pub mod values;

use std::path::Path;

pub use diagnostic::{Diagnostic, Severity};
pub use model::Config;
use preprocess::{IncludeChecks, PreprocessOptions};
pub use validate::{HostFindings, HostLink, check_host_interfaces, multicast_group};

/// keepalived's default configuration file.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/keepalived/keepalived.conf";

/// How to read a configuration (the command line's part).
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// `-i/--config-id`; default: the hostname up to the first dot.
    pub config_id: String,
    /// `-e/--all-config`: a missing include file is an error.
    pub all_config: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            config_id: default_config_id(),
            all_config: false,
        }
    }
}

/// The result of reading a configuration: the model (with defaults wherever something was
/// wrong) and everything worth telling the user.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub diagnostics: Vec<Diagnostic>,
    /// Lines after preprocessing, for statistics.
    pub lines: usize,
}

/// keepalived's `-t` exit codes.
pub mod exit_code {
    pub const CLEAN: i32 = 0;
    pub const FATAL: i32 = 4;
    pub const ERRORS: i32 = 5;
    pub const SCRIPT_SECURITY: i32 = 6;
}

impl Loaded {
    /// The `-t` exit code, with keepalived's precedence (its `config_test_exit` keeps the
    /// numerically highest error class): 6 for scripts without script security, else 5 for
    /// errors (or warnings with `strict`), else 4 if the file could not be read at all, else 0.
    pub fn exit_code(&self, strict: bool) -> i32 {
        let has = |severity| self.diagnostics.iter().any(|d| d.severity == severity);
        if has(Severity::ScriptSecurity) {
            exit_code::SCRIPT_SECURITY
        } else if has(Severity::Error) || (strict && has(Severity::Warning)) {
            exit_code::ERRORS
        } else if has(Severity::Fatal) {
            exit_code::FATAL
        } else {
            exit_code::CLEAN
        }
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }
}

/// Reads `path` and everything it includes, and checks its scripts on this host the way
/// keepalived does at startup ([`scripts`]): a script keepalived would not run is removed.
pub fn load_file(path: &Path, options: &LoadOptions) -> Loaded {
    let mut diagnostics = diagnostic::Diagnostics::default();
    let lines = preprocess::preprocess(path, &preprocess_options(options), &mut diagnostics);
    let mut loaded = finish(&lines, diagnostics, Some(&scripts::RealHost));
    scripts::check_scripts(&mut loaded, &scripts::RealHost);
    loaded
}

/// Reads configuration text; `name` is used in diagnostics and to resolve relative includes.
/// Nothing on the host is looked at beyond included files: scripts are not checked (see
/// [`scripts::check_scripts`]).
pub fn load_text(name: &Path, text: &str, options: &LoadOptions) -> Loaded {
    let mut diagnostics = diagnostic::Diagnostics::default();
    let lines =
        preprocess::preprocess_text(name, text, &preprocess_options(options), &mut diagnostics);
    finish(&lines, diagnostics, None)
}

fn preprocess_options(options: &LoadOptions) -> PreprocessOptions {
    PreprocessOptions {
        config_id: options.config_id.clone(),
        include_checks: if options.all_config {
            IncludeChecks::ALL
        } else {
            IncludeChecks::default()
        },
    }
}

fn finish(
    lines: &[preprocess::Line],
    mut diagnostics: diagnostic::Diagnostics,
    accounts: Option<&dyn scripts::ScriptHost>,
) -> Loaded {
    let statements = tree::build(lines, &mut diagnostics);
    let (mut config, drafts) = parse::parse(&statements, &mut diagnostics, accounts);
    validate::finalize(&mut config, drafts, &mut diagnostics);
    Loaded {
        config,
        diagnostics: diagnostics.into_vec(),
        lines: lines.len(),
    }
}

/// keepalived's default config id: the hostname up to the first dot.
pub fn default_config_id() -> String {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    hostname
        .trim()
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string()
}
