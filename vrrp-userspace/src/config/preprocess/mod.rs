//! The line-level preprocessor (keepalived-compat.md section 2): includes, `@id` conditional
//! lines, `$NAME` definitions and `~SEQ`/`~LST` repetition. Its output is the flat list of lines
//! the parser reads, each remembering the file and line it came from.

mod definitions;
mod include;
mod repeat;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use definitions::definition;
pub use include::IncludeChecks;
use include::include_check_setting;

use super::diagnostic::{Diagnostics, Span};
use super::lexer::{BLANK, strip_comment};

/// One logical line, comment-free, trimmed, conditionals applied and definitions expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub file: Arc<Path>,
    pub number: u32,
    pub text: Arc<str>,
}

impl Line {
    /// The span of bytes `start..end` of this line.
    pub fn span(&self, start: u32, end: u32) -> Span {
        Span {
            file: self.file.clone(),
            line: self.number,
            start,
            len: end.saturating_sub(start),
            text: self.text.clone(),
        }
    }

    /// The line without its indentation.
    pub fn whole(&self) -> Span {
        let indent = self.text.len() - self.text.trim_start_matches(BLANK).len();
        self.span(indent as u32, self.text.len() as u32)
    }
}

/// Settings that come from the command line.
#[derive(Clone, Debug)]
pub struct PreprocessOptions {
    /// `-i/--config-id`: selects `@ID` lines and is `${_INSTANCE}`.
    pub config_id: String,
    /// `-e/--all-config`: every include problem is an error.
    pub include_checks: IncludeChecks,
}

const MAX_INCLUDE_DEPTH: usize = 32;
const MAX_EXPANSION_DEPTH: usize = 32;
/// A `~SEQ` that would generate more lines than this is refused (a typo, not a config).
const MAX_SEQUENCE_LINES: u64 = 100_000;
/// Repetition stops adding lines once the output has this many, so
/// nested `~SEQ`s cannot make the reader run for hours (a real 1,000-instance file has 22,000).
const MAX_OUTPUT_LINES: usize = 100_000;
/// A line grows to at most this many bytes through definitions (each may refer to others twice).
const MAX_EXPANDED_BYTES: usize = 64 * 1024;

/// Reads `path` and everything it includes.
pub fn preprocess(
    path: &Path,
    options: &PreprocessOptions,
    diagnostics: &mut Diagnostics,
) -> Vec<Line> {
    let mut state = State::new(options, diagnostics);
    match std::fs::read_to_string(path) {
        Ok(text) => state.read_text(path, &text, options.include_checks),
        Err(err) => {
            state
                .diagnostics
                .fatal(
                    None,
                    format!("cannot read configuration file {}: {err}", path.display()),
                )
                .hint("give the file with -f/--use-file (default /etc/keepalived/keepalived.conf)");
        }
    }
    state.out
}

/// Preprocesses text that is not on disk (tests, fuzzing); includes resolve against `name`'s
/// directory.
pub fn preprocess_text(
    name: &Path,
    text: &str,
    options: &PreprocessOptions,
    diagnostics: &mut Diagnostics,
) -> Vec<Line> {
    let mut state = State::new(options, diagnostics);
    state.read_text(name, text, options.include_checks);
    state.out
}

struct State<'a> {
    options: &'a PreprocessOptions,
    definitions: HashMap<String, String>,
    /// Files being read, outermost first, to detect include loops.
    stack: Vec<PathBuf>,
    out: Vec<Line>,
    /// Set once repetition has reached MAX_OUTPUT_LINES (reported once).
    over_budget: bool,
    diagnostics: &'a mut Diagnostics,
}

impl<'a> State<'a> {
    fn new(options: &'a PreprocessOptions, diagnostics: &'a mut Diagnostics) -> Self {
        Self {
            options,
            definitions: HashMap::new(),
            stack: Vec::new(),
            out: Vec::new(),
            over_budget: false,
            diagnostics,
        }
    }

    fn read_text(&mut self, path: &Path, text: &str, mut checks: IncludeChecks) {
        let file: Arc<Path> = Arc::from(path);
        self.stack
            .push(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
        let mut raw_lines = text.split('\n').enumerate();
        while let Some((index, raw)) = raw_lines.next() {
            let number = index as u32 + 1;
            // Leading blanks stay so that columns in diagnostics are the file's columns.
            let Some(text) = self
                .apply_condition(strip_comment(raw.trim_end_matches('\r')).trim_end_matches(BLANK))
            else {
                continue;
            };
            if text.trim_start_matches(BLANK).is_empty() {
                continue;
            }
            let line = Line {
                file: file.clone(),
                number,
                text: Arc::from(text.as_str()),
            };
            if let Some((name, first)) = definition(text.trim_start_matches(BLANK)) {
                // A trailing backslash continues a definition on the next line.
                let mut value = first.to_string();
                while value.ends_with('\\') {
                    value.pop();
                    let Some((_, next)) = raw_lines.next() else {
                        break;
                    };
                    value.push('\n');
                    value.push_str(strip_comment(next.trim_end_matches('\r')).trim_matches(BLANK));
                }
                self.definitions
                    .insert(name.to_string(), value.trim_matches(BLANK).to_string());
                continue;
            }
            self.emit(line, &mut checks, 0);
        }
        self.stack.pop();
    }

    /// `@ID rest` keeps `rest` only for config id ID; `@^ID rest` only for any other id. The
    /// kept line has the condition blanked out, so columns do not move.
    fn apply_condition(&self, text: &str) -> Option<String> {
        let Some(conditional) = text.trim_start_matches(BLANK).strip_prefix('@') else {
            return Some(text.to_string());
        };
        let (negated, conditional) = match conditional.strip_prefix('^') {
            Some(rest) => (true, rest),
            None => (false, conditional),
        };
        let (id, rest) = conditional.split_once(BLANK).unwrap_or((conditional, ""));
        ((id == self.options.config_id) != negated).then(|| {
            let blanked = text.len() - rest.len();
            format!("{}{}", " ".repeat(blanked), rest)
        })
    }

    /// Expands, repeats and includes one line, then appends the result to the output.
    fn emit(&mut self, line: Line, checks: &mut IncludeChecks, depth: usize) {
        // The common case: nothing to expand, repeat or include.
        let first = line.text.trim_start_matches(BLANK).as_bytes().first();
        if !line.text.contains('$') && first != Some(&b'~') && first != Some(&b'i') {
            self.out.push(line);
            return;
        }
        // keepalived recognises a repetition before it expands definitions: the repeated
        // text is expanded anew for every value.
        let trimmed = line.text.trim_start_matches(BLANK);
        if trimmed.starts_with("~SEQ") || trimmed.starts_with("~LST") {
            self.repeat(&line, checks, depth);
            return;
        }
        let expanded = match self.expand(&line.text, &line.file, 0) {
            Ok(expanded) => expanded,
            Err(message) => {
                self.diagnostics.error(&line.whole(), message);
                return;
            }
        };
        // A multi-line definition used on a line yields several lines.
        for (index, piece) in expanded.split('\n').enumerate() {
            // The first piece keeps its indentation (columns); later ones come from a definition.
            let piece = if index == 0 {
                piece.trim_end_matches(BLANK)
            } else {
                piece.trim_matches(BLANK)
            };
            if piece.trim_start_matches(BLANK).is_empty() {
                continue;
            }
            let line = Line {
                text: Arc::from(piece),
                ..line.clone()
            };
            if piece.trim_start_matches(BLANK).starts_with('~') {
                self.repeat(&line, checks, depth);
                continue;
            }
            // Include patterns keep their braces (`{a,b}` is brace expansion, not a block), so
            // the line is split by hand here rather than by the config lexer.
            let trimmed = piece.trim_start_matches(BLANK);
            let (first, rest) = trimmed.split_once(BLANK).unwrap_or((trimmed, ""));
            match first {
                "include_check" => {
                    *checks =
                        include_check_setting(*checks, rest.split(BLANK).filter(|w| !w.is_empty()));
                    self.out.push(line);
                }
                keyword @ ("include" | "includer" | "includem" | "includew" | "includeb"
                | "includea") => {
                    let variant = match keyword {
                        "includer" => IncludeChecks {
                            readable: true,
                            ..Default::default()
                        },
                        "includem" => IncludeChecks {
                            readable: true,
                            matched: true,
                            ..Default::default()
                        },
                        "includew" => IncludeChecks {
                            readable: true,
                            wildcard_match: true,
                            ..Default::default()
                        },
                        "includeb" => IncludeChecks {
                            readable: true,
                            brace_match: true,
                            ..Default::default()
                        },
                        "includea" => IncludeChecks::ALL,
                        _ => IncludeChecks::default(),
                    };
                    let pattern = rest.trim_matches(BLANK);
                    let pattern = pattern
                        .strip_prefix('"')
                        .and_then(|p| p.strip_suffix('"'))
                        .unwrap_or(pattern);
                    if pattern.is_empty()
                        || (!rest.trim_matches(BLANK).starts_with('"') && pattern.contains(BLANK))
                    {
                        self.diagnostics
                            .error(
                                &line.whole(),
                                format!("{keyword} takes exactly one file name or pattern"),
                            )
                            .hint("quote a path that contains spaces");
                        continue;
                    }
                    let start = (piece.len() - rest.trim_start_matches(BLANK).len()) as u32;
                    let span = line.span(start, piece.len() as u32);
                    self.include(
                        pattern,
                        &line.file,
                        &span,
                        checks.union(variant),
                        keyword == "include",
                    );
                }
                _ => self.out.push(line),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, id: &str) -> (Vec<String>, Vec<String>) {
        let mut diagnostics = Diagnostics::default();
        let options = PreprocessOptions {
            config_id: id.to_string(),
            include_checks: IncludeChecks::default(),
        };
        let lines = preprocess_text(
            Path::new("/nonexistent/k.conf"),
            text,
            &options,
            &mut diagnostics,
        );
        (
            lines
                .iter()
                .map(|l| format!("{}:{}", l.number, l.text.trim_matches(BLANK)))
                .collect(),
            diagnostics
                .items()
                .iter()
                .map(|d| d.message.clone())
                .collect(),
        )
    }

    #[test]
    fn conditionals_select_lines_by_config_id() {
        let (lines, _) = run(
            "@high priority 170\n@low priority 85\n@^high x\n@^low y",
            "high",
        );
        assert_eq!(lines, ["1:priority 170", "4:y"]);
    }

    #[test]
    fn definitions_expand_lazily_recursively_and_span_lines() {
        let text = "$IF=eth0\n$VIP=10.0.0.${N}/24\n$N=7\ninterface $IF\n${VIP} dev ${IF}\n$IFX stays\n$BLOCK=a \\\n b\n$BLOCK";
        let (lines, diagnostics) = run(text, "x");
        assert_eq!(
            lines,
            [
                "4:interface eth0",
                "5:10.0.0.7/24 dev eth0",
                "6:$IFX stays",
                "9:a",
                "9:b"
            ]
        );
        assert!(diagnostics.is_empty());
        let (_, diagnostics) = run("$A=$A\nx $A", "x");
        assert!(
            diagnostics[0].contains("more than 32 levels"),
            "{diagnostics:?}"
        );
    }

    #[test]
    fn builtins_hash_bang_instance() {
        let (lines, _) = run("x ${_HASH}1 ${_BANG} ${_INSTANCE}", "node1");
        assert_eq!(lines, ["1:x #1 ! node1"]);
    }

    #[test]
    fn seq_and_lst_repeat_a_line() {
        let (lines, _) = run(
            "~SEQ(i,1,2,5) vip 10.0.0.$i\n~SEQx(n,9,11) v $n\n~LST(f,a,b) file $f",
            "x",
        );
        assert_eq!(
            lines,
            [
                "1:vip 10.0.0.1",
                "1:vip 10.0.0.3",
                "1:vip 10.0.0.5",
                "2:v 9",
                "2:v a",
                "2:v b",
                "3:file a",
                "3:file b"
            ]
        );
        let (_, diagnostics) = run("~SEQ(i,1,0,5) x", "x");
        assert!(
            diagnostics[0].contains("invalid ~SEQ values"),
            "{diagnostics:?}"
        );
    }

    /// keepalived's add_seq: bounds through definitions and strtol (hex, octal), one bound
    /// counting from 1 (or -1, down when the end is below 1), the variable keeping its last
    /// value.
    #[test]
    fn seq_bounds_are_read_like_keepalived() {
        let text = "$FIRST=3\n$LAST=5\n~SEQ(n, $FIRST, ${LAST}) a $n\n~SEQ(n, 0x10, 0x11) b $n\n~SEQ(n, 010, 011) c $n\n~SEQ(n, 0) d $n\n~SEQ(n, -2) e $n\n~SEQ(n,2) f $n\nafter $n";
        let (lines, diagnostics) = run(text, "x");
        let texts: Vec<&str> = lines.iter().map(|l| l.split_once(':').unwrap().1).collect();
        assert_eq!(
            texts,
            [
                "a 3", "a 4", "a 5", "b 16", "b 17", "c 8", "c 9", "d 1", "d 0", "e -1", "e -2",
                "f 1", "f 2", "after 2"
            ]
        );
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
    }

    /// keepalived's add_lst: several variables with value sets, missing values empty, and
    /// `${NAME}` in the repeated text.
    #[test]
    fn lst_takes_value_sets_and_braced_names() {
        let (lines, diagnostics) = run(
            "~LST({a,b}, {10.0.0.1,24}, {10.0.0.2}) ${a}/${b}x\n~LST(v, one, two) [${v}]",
            "x",
        );
        let texts: Vec<&str> = lines.iter().map(|l| l.split_once(':').unwrap().1).collect();
        assert_eq!(texts, ["10.0.0.1/24x", "10.0.0.2/x", "[one]", "[two]"]);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
    }
}
