//! Compiler-style diagnostics: `file:line:col: error: message`, the source line, a caret and a
//! hint. Every problem found while reading a configuration becomes one of these; nothing is
//! printed directly, so the daemon can keep a running configuration when a reload is bad.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

/// How bad a problem is (`Loaded::exit_code` maps them onto keepalived's `-t` codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Error,
    /// Scripts are found but `enable_script_security` is not set (keepalived exit code 6).
    ScriptSecurity,
    /// The configuration cannot be read at all: missing file, include loop (exit code 4).
    Fatal,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Error | Self::ScriptSecurity => "error",
            Self::Fatal => "fatal",
        }
    }
}

/// Where in the (expanded) configuration a problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub file: Arc<Path>,
    /// 1-based line number in `file`.
    pub line: u32,
    /// 0-based byte offset of the first offending character in `text`.
    pub start: u32,
    /// Length in bytes of the offending text (at least 1 when rendered).
    pub len: u32,
    /// The line as the parser saw it, after conditionals and `$NAME` expansion.
    pub text: Arc<str>,
}

impl Span {
    /// 1-based column in characters, as editors count.
    pub fn column(&self) -> usize {
        let start = (self.start as usize).min(self.text.len());
        self.text
            .get(..start)
            .map_or(start, |prefix| prefix.chars().count())
            + 1
    }

    /// `file:line`, for messages that point at another definition.
    pub fn position(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Option<Span>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(span) = &self.span else {
            write!(f, "{}: {}", self.severity.label(), self.message)?;
            if let Some(hint) = &self.hint {
                write!(f, "\n  = hint: {hint}")?;
            }
            return Ok(());
        };
        let column = span.column();
        writeln!(
            f,
            "{}:{}:{}: {}: {}",
            span.file.display(),
            span.line,
            column,
            self.severity.label(),
            self.message
        )?;
        let gutter = span.line.to_string().len();
        let text = span.text.as_ref();
        let width = text
            .get(span.start as usize..)
            .map_or(1, |rest| {
                rest.get(..(span.len as usize).min(rest.len()))
                    .unwrap_or(rest)
                    .chars()
                    .count()
            })
            .max(1);
        writeln!(f, "{:gutter$} |", "")?;
        writeln!(f, "{} | {}", span.line, text)?;
        write!(
            f,
            "{:gutter$} | {}{}",
            "",
            " ".repeat(column - 1),
            "^".repeat(width)
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n{:gutter$} = hint: {hint}", "")?;
        }
        Ok(())
    }
}

/// Collects diagnostics in the order they are found.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(
        &mut self,
        severity: Severity,
        span: Option<Span>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.items.push(Diagnostic {
            severity,
            span,
            message: message.into(),
            hint: None,
        });
        self.items.last_mut().expect("just pushed")
    }

    pub fn error(&mut self, span: &Span, message: impl Into<String>) -> &mut Diagnostic {
        self.push(Severity::Error, Some(span.clone()), message)
    }

    pub fn warning(&mut self, span: &Span, message: impl Into<String>) -> &mut Diagnostic {
        self.push(Severity::Warning, Some(span.clone()), message)
    }

    pub fn fatal(&mut self, span: Option<&Span>, message: impl Into<String>) -> &mut Diagnostic {
        self.push(Severity::Fatal, span.cloned(), message)
    }

    pub fn last_mut(&mut self) -> Option<&mut Diagnostic> {
        self.items.last_mut()
    }

    pub fn items(&self) -> &[Diagnostic] {
        &self.items
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

impl Diagnostic {
    pub fn hint(&mut self, hint: impl Into<String>) -> &mut Self {
        self.hint = Some(hint.into());
        self
    }
}
