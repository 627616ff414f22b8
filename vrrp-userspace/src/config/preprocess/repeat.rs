//! `~SEQ(var, [start,] [step,] end) text`, `~SEQx(...)` and `~LST(var|{v1,v2}, values...) text`,
//! the way keepalived 2.2.7's `add_seq` and `add_lst` read them (lib/parser.c): the bounds of a
//! `~SEQ` go through definitions (`$N`, `${N}`) and C's `strtol` (so `0x10` and `010` are hex
//! and octal); one bound means 1..end (or -1..end, counting down when end < 1); the variable
//! is a definition that keeps its last value afterwards; `~LST` takes value sets for several
//! variables, missing values being empty. The text is expanded anew for every value.

use std::sync::Arc;

use super::{IncludeChecks, Line, MAX_OUTPUT_LINES, MAX_SEQUENCE_LINES, State};
use crate::config::lexer::BLANK;
use crate::config::parse::number::strtol_prefix;

/// What a `~SEQ`/`~LST` line asks for.
struct Repetition {
    /// The variables and, for each repetition, their values.
    variables: Vec<String>,
    values: Vec<Vec<String>>,
    /// Where the repeated text starts in the line.
    text_start: usize,
}

fn skip_blanks(text: &str) -> &str {
    text.trim_start_matches([' ', '\t'])
}

impl State<'_> {
    /// `~SEQ` bounds: `a[,b[,c]])` after definitions are expanded.
    fn sequence(&self, line: &Line, body: &str, hex: bool) -> Result<(Repetition, usize), String> {
        let invalid = || {
            format!(
                "invalid ~SEQ definition '{}'",
                line.text.trim_matches(BLANK)
            )
        };
        let after_open = skip_blanks(body.strip_prefix('(').ok_or_else(invalid)?);
        let var_len = after_open
            .find([' ', '\t', ',', ')'])
            .unwrap_or(after_open.len());
        let variable = &after_open[..var_len];
        let rest = skip_blanks(&after_open[var_len..]);
        if variable.is_empty() || !rest.starts_with(',') {
            return Err(invalid());
        }
        let rest = &rest[1..];
        let close = rest.find(')').ok_or_else(invalid)?;
        let parameters = self
            .expand(&rest[..=close], &line.file, 0)
            .map_err(|_| invalid())?;
        if parameters.contains('\n') {
            return Err(format!(
                "~SEQ parameter is a multi-line definition '{}'",
                line.text.trim_matches(BLANK)
            ));
        }
        let mut numbers = Vec::new();
        let mut cursor = parameters.as_str();
        loop {
            let (value, after) = strtol_prefix(cursor);
            numbers.push(value);
            let after = skip_blanks(after);
            if let Some(after) = after.strip_prefix(',') {
                if numbers.len() == 3 {
                    return Err(invalid());
                }
                cursor = after;
                continue;
            }
            if after.starts_with(')') {
                break;
            }
            return Err(invalid());
        }
        let (start, step, end) = match numbers[..] {
            [end] => (
                if end < 0 { -1 } else { 1 },
                if end < 1 { -1 } else { 1 },
                end,
            ),
            [start, end] => (start, if start <= end { 1 } else { -1 }, end),
            [start, step, end] => {
                if step == 0 || (start < end && step < 0) || (start > end && step > 0) {
                    return Err(format!(
                        "invalid ~SEQ values '{}'",
                        line.text.trim_matches(BLANK)
                    ));
                }
                (start, step, end)
            }
            _ => return Err(invalid()),
        };
        if hex && (start < 0 || end < 0) {
            return Err(format!(
                "~SEQx is only valid for positive numbers '{}'",
                line.text.trim_matches(BLANK)
            ));
        }
        let count = (end - start).unsigned_abs() / step.unsigned_abs() + 1;
        if count > MAX_SEQUENCE_LINES {
            return Err(format!(
                "~SEQ would repeat {count} times (limit {MAX_SEQUENCE_LINES})"
            ));
        }
        let values = (0..count as i64)
            .map(|i| start + i * step)
            .map(|n| {
                vec![if hex {
                    format!("{:x}", n as u64)
                } else {
                    n.to_string()
                }]
            })
            .collect();
        let text_start = line.text.len() - rest[close + 1..].len();
        Ok((
            Repetition {
                variables: vec![variable.to_string()],
                values,
                text_start,
            },
            0,
        ))
    }

    /// `~LST(var, v1, v2)` or `~LST({a,b}, {1,2}, {3,4})`.
    fn list(&self, line: &Line, body: &str) -> Result<Repetition, String> {
        let invalid = || {
            format!(
                "invalid ~LST specification '{}'",
                line.text.trim_matches(BLANK)
            )
        };
        let mut rest = skip_blanks(body.strip_prefix('(').ok_or_else(invalid)?);
        let braced = rest.starts_with('{');
        if braced {
            rest = skip_blanks(&rest[1..]);
        }
        let end_char = if braced { '}' } else { ',' };
        let mut variables = Vec::new();
        loop {
            let len = rest.find([' ', '\t', ',', '}']).unwrap_or(rest.len());
            variables.push(rest[..len].to_string());
            rest = skip_blanks(&rest[len..]);
            if rest.starts_with(end_char) {
                break;
            }
            rest = skip_blanks(rest.strip_prefix(',').ok_or_else(invalid)?);
        }
        if braced {
            rest = skip_blanks(&rest[1..]);
        }
        rest = skip_blanks(rest.strip_prefix(',').ok_or_else(invalid)?);
        let mut values = Vec::new();
        loop {
            let braced = rest.starts_with('{');
            if braced {
                rest = skip_blanks(&rest[1..]);
            }
            let end_char = if braced { '}' } else { ',' };
            let mut set = Vec::new();
            loop {
                let len = rest.find([' ', '\t', ',', '}', ')']).unwrap_or(rest.len());
                set.push(rest[..len].to_string());
                rest = skip_blanks(&rest[len..]);
                if rest.starts_with(end_char) || (rest.starts_with(')') && !braced) {
                    break;
                }
                rest = skip_blanks(rest.strip_prefix(',').ok_or_else(invalid)?);
                if set.len() >= variables.len() {
                    return Err(format!(
                        "~LST specification has too many values '{}'",
                        line.text.trim_matches(BLANK)
                    ));
                }
            }
            // Missing values are empty.
            set.resize(variables.len(), String::new());
            values.push(set);
            if braced && rest.starts_with('}') {
                rest = skip_blanks(&rest[1..]);
            }
            if rest.starts_with(')') {
                rest = &rest[1..];
                break;
            }
            rest = skip_blanks(rest.strip_prefix(',').ok_or_else(invalid)?);
        }
        let rest = skip_blanks(rest);
        Ok(Repetition {
            variables,
            values,
            text_start: line.text.len() - rest.len(),
        })
    }

    /// Repeats `line` (which starts with `~`) for every value; each generated line is read as
    /// a new line (definitions, conditions, includes, nested repetitions).
    pub(super) fn repeat(&mut self, line: &Line, checks: &mut IncludeChecks, depth: usize) {
        let text = line.text.trim_start_matches(BLANK);
        let result = if let Some(body) = text.strip_prefix("~SEQx") {
            self.sequence(line, skip_blanks(body), true).map(|(r, _)| r)
        } else if let Some(body) = text.strip_prefix("~SEQ") {
            self.sequence(line, skip_blanks(body), false)
                .map(|(r, _)| r)
        } else if let Some(body) = text.strip_prefix("~LST") {
            self.list(line, skip_blanks(body))
        } else {
            // keepalived reads it as a keyword, which the parser then reports as unknown.
            self.out.push(line.clone());
            return;
        };
        let repetition = match result {
            Ok(repetition) => repetition,
            Err(message) => {
                self.diagnostics
                    .error(&line.whole(), message)
                    .hint("~SEQ(var,start,step,end) text  or  ~LST(var,a,b,c) text");
                return;
            }
        };
        for set in repetition.values {
            if self.out.len() >= MAX_OUTPUT_LINES {
                if !self.over_budget {
                    self.over_budget = true;
                    self.diagnostics
                        .error(
                            &line.whole(),
                            format!(
                                "repetition makes the configuration longer than {MAX_OUTPUT_LINES} lines; the rest of it is ignored"
                            ),
                        )
                        .hint("look for nested ~SEQ with large ranges");
                }
                break;
            }
            // keepalived sets each variable as a definition, and it keeps its last value.
            for (variable, value) in repetition.variables.iter().zip(set) {
                self.definitions.insert(variable.clone(), value);
            }
            // Blank out the `~SEQ(...)` part so the repeated text keeps its columns.
            let generated = Line {
                text: Arc::from(format!(
                    "{}{}",
                    " ".repeat(repetition.text_start),
                    line.text[repetition.text_start..].trim_end_matches(BLANK)
                )),
                ..line.clone()
            };
            if depth < super::MAX_EXPANSION_DEPTH {
                self.emit(generated, checks, depth + 1);
            }
        }
    }
}
