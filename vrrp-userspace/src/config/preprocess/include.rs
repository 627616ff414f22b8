//! `include` and its variants: globs with brace expansion, paths relative to the including
//! file, loop detection and keepalived's `include_check` rules.

use std::path::{Path, PathBuf};

use super::{MAX_INCLUDE_DEPTH, State};
use crate::config::diagnostic::Span;

/// Which missing-include situations are errors (keepalived's `include_check` and the
/// `includer|m|w|b|a` variants).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IncludeChecks {
    /// A match that is not a readable regular file.
    pub readable: bool,
    /// No file matches a pattern without wildcards.
    pub matched: bool,
    /// No file matches even a wildcard pattern.
    pub wildcard_match: bool,
    /// One alternative of a `{a,b}` brace expression matches nothing.
    pub brace_match: bool,
}

impl IncludeChecks {
    pub const ALL: Self = Self {
        readable: true,
        matched: true,
        wildcard_match: true,
        brace_match: true,
    };

    pub(super) fn union(self, other: Self) -> Self {
        Self {
            readable: self.readable || other.readable,
            matched: self.matched || other.matched,
            wildcard_match: self.wildcard_match || other.wildcard_match,
            brace_match: self.brace_match || other.brace_match,
        }
    }
}

impl State<'_> {
    pub(super) fn include(
        &mut self,
        pattern: &str,
        includer: &Path,
        span: &Span,
        checks: IncludeChecks,
        plain: bool,
    ) {
        let base = includer.parent().unwrap_or(Path::new("."));
        let mut files = Vec::new();
        for alternative in brace_expand(pattern) {
            let full = if Path::new(&alternative).is_absolute() {
                PathBuf::from(&alternative)
            } else {
                base.join(&alternative)
            };
            let has_wildcard = alternative.contains(['*', '?', '[']);
            let matches: Vec<PathBuf> = match glob::glob(&full.to_string_lossy()) {
                Ok(paths) => paths.filter_map(Result::ok).collect(),
                Err(err) => {
                    self.diagnostics
                        .error(span, format!("bad include pattern '{alternative}': {err}"));
                    continue;
                }
            };
            if matches.is_empty() {
                let is_error = checks.wildcard_match
                    || (checks.matched && !has_wildcard)
                    || (checks.brace_match && pattern.contains('{'));
                let message = format!(
                    "include '{alternative}' matches no file (looked in {})",
                    base.display()
                );
                if is_error {
                    self.diagnostics.error(span, message);
                } else if plain && !has_wildcard {
                    // keepalived is silent here; a missing file is worth a word.
                    self.diagnostics
                        .warning(span, message)
                        .hint("use includer/includea (or -e) to make a missing file an error");
                }
            }
            files.extend(matches);
        }
        for file in files {
            self.include_file(&file, span, checks);
        }
    }

    fn include_file(&mut self, file: &Path, span: &Span, checks: IncludeChecks) {
        let canonical = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        if self.stack.contains(&canonical) {
            let chain: Vec<String> = self
                .stack
                .iter()
                .chain(std::iter::once(&canonical))
                .map(|p| p.display().to_string())
                .collect();
            self.diagnostics
                .error(span, format!("include loop: {}", chain.join(" -> ")))
                .hint("remove the include that points back at a file being read");
            return;
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            self.diagnostics.error(
                span,
                format!("includes nested deeper than {MAX_INCLUDE_DEPTH} files"),
            );
            return;
        }
        let metadata = std::fs::metadata(file);
        let problem = match &metadata {
            Err(err) => Some(err.to_string()),
            Ok(m) if !m.is_file() => Some("not a regular file".to_string()),
            Ok(m) if std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0 => {
                Some("it is executable; keepalived skips executable include files".to_string())
            }
            Ok(_) => None,
        };
        if let Some(problem) = problem {
            let message = format!("skipping include of {}: {problem}", file.display());
            if checks.readable || metadata.is_ok() {
                self.diagnostics.error(span, message);
            } else {
                self.diagnostics.warning(span, message);
            }
            return;
        }
        match std::fs::read_to_string(file) {
            Ok(text) => self.read_text(file, &text, checks),
            Err(err) => {
                self.diagnostics.error(
                    span,
                    format!("cannot read included file {}: {err}", file.display()),
                );
            }
        }
    }
}

/// `include_check [OPTIONS]`: no option means all; `+opt` adds, `-opt` removes, a bare option sets.
pub(super) fn include_check_setting<'w>(
    current: IncludeChecks,
    words: impl Iterator<Item = &'w str>,
) -> IncludeChecks {
    let words: Vec<&str> = words.collect();
    if words.is_empty() {
        return IncludeChecks::ALL;
    }
    let mut checks = current;
    for word in words {
        let (on, name) = match word.as_bytes().first() {
            Some(b'-') => (false, &word[1..]),
            Some(b'+') => (true, &word[1..]),
            _ => (true, word),
        };
        match name {
            "readable" => checks.readable = on,
            "match" => checks.matched = on,
            "wildcard_match" => checks.wildcard_match = on,
            "brace_match" => checks.brace_match = on,
            _ => {}
        }
    }
    checks
}

/// csh-style brace expansion: `a{b,c{d,e}}f` -> `abf acdf acef`, alternatives in order.
pub fn brace_expand(pattern: &str) -> Vec<String> {
    let bytes = pattern.as_bytes();
    let Some(open) = pattern.find('{') else {
        return vec![pattern.to_string()];
    };
    let mut depth = 0;
    let mut commas = Vec::new();
    let mut close = None;
    for (index, &byte) in bytes.iter().enumerate().skip(open) {
        match byte {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(index);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(index),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![pattern.to_string()];
    };
    let prefix = &pattern[..open];
    let suffix = &pattern[close + 1..];
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    let mut out = Vec::new();
    for window in bounds.windows(2) {
        let alternative = &pattern[window[0] + 1..window[1]];
        for expanded in brace_expand(&format!("{prefix}{alternative}{suffix}")) {
            out.push(expanded);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brace_expansion_nests_in_order() {
        assert_eq!(brace_expand("a{b,c{d,e}}f"), ["abf", "acdf", "acef"]);
        assert_eq!(
            brace_expand("{foo/{,cat,dog},bar}"),
            ["foo/", "foo/cat", "foo/dog", "bar"]
        );
        assert_eq!(brace_expand("plain"), ["plain"]);
    }

    #[test]
    fn include_check_words() {
        let all = include_check_setting(IncludeChecks::default(), std::iter::empty());
        assert_eq!(all, IncludeChecks::ALL);
        let some = include_check_setting(all, ["-wildcard_match", "+match"].into_iter());
        assert!(!some.wildcard_match && some.matched);
    }
}
