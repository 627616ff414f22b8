//! Script command lines (`script`, `notify_*`, `*_fifo_script`), split the way keepalived
//! splits them (lib/parser.c `alloc_strvec_quoted_escaped`, lib/notify.c
//! `set_script_params_array`): the statement is split into words with `'` and `"` quoting and
//! C escapes (inside both kinds of quotes), then its first word after the keyword is split the
//! same way again into the program and its arguments; the next two words are the user and the
//! group; any further word is ignored.

use super::Cx;
use crate::config::model::ScriptCommand;
use crate::config::tree::Statement;

/// Why a command line could not be split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("missing terminating {0} quote")]
    Unterminated(char),
    #[error("a backslash at the end of the line escapes nothing")]
    TrailingBackslash,
}

/// keepalived's `alloc_strvec_quoted_escaped`.
pub fn split(text: &str) -> Result<Vec<String>, SplitError> {
    let bytes = text.as_bytes();
    let mut words = Vec::new();
    let mut index = 0;
    loop {
        while index < bytes.len() && matches!(bytes[index], b' ' | b'\t' | b'\n' | b'\r') {
            index += 1;
        }
        if index >= bytes.len() {
            return Ok(words);
        }
        let mut word: Vec<u8> = Vec::new();
        let mut quote: Option<u8> = None;
        while index < bytes.len() {
            let byte = bytes[index];
            match (quote, byte) {
                (_, b'\\') => {
                    index += 1;
                    let Some(&escaped) = bytes.get(index) else {
                        return Err(SplitError::TrailingBackslash);
                    };
                    index += 1;
                    word.push(match escaped {
                        b'x' if bytes.get(index).is_some_and(u8::is_ascii_hexdigit) => {
                            let mut value: u8 = 0;
                            while let Some(digit) =
                                bytes.get(index).and_then(|b| (*b as char).to_digit(16))
                            {
                                value = value.wrapping_shl(4) | digit as u8;
                                index += 1;
                            }
                            value
                        }
                        b'c' if index < bytes.len() => {
                            index += 1;
                            bytes[index - 1] & 0x1f
                        }
                        b'0'..=b'7' => {
                            let mut value = escaped - b'0';
                            for _ in 0..2 {
                                match bytes.get(index) {
                                    Some(digit @ b'0'..=b'7') => {
                                        value = value.wrapping_shl(3).wrapping_add(digit - b'0');
                                        index += 1;
                                    }
                                    _ => break,
                                }
                            }
                            value
                        }
                        b'a' => 0x07,
                        b'b' => 0x08,
                        b'E' => 0x1b,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'v' => 0x0b,
                        other => other,
                    });
                }
                (Some(open), byte) if byte == open => {
                    quote = None;
                    index += 1;
                }
                (Some(_), byte) => {
                    word.push(byte);
                    index += 1;
                }
                (None, b'"' | b'\'') => {
                    quote = Some(byte);
                    index += 1;
                }
                (None, b' ' | b'\t' | b'\n' | b'\r') => break,
                (None, byte) => {
                    word.push(byte);
                    index += 1;
                }
            }
        }
        if let Some(open) = quote {
            return Err(SplitError::Unterminated(open as char));
        }
        words.push(String::from_utf8_lossy(&word).into_owned());
    }
}

impl Cx<'_> {
    /// A script keyword's command and its `[user [group]]`. `None` (reported) when keepalived
    /// would not set the script; words after the group are ignored, as keepalived does.
    ///
    /// keepalived (`notify_script_init`) looks the user and group up as it reads: a script
    /// whose user or group does not exist is dropped there, only logged ("Invalid user/group
    /// for notify script ... - ignoring"), and the slot stays free for a later line of the
    /// same keyword.
    pub(crate) fn script_command(&mut self, s: &Statement) -> Option<ScriptCommand> {
        let command = self.script_command_or(s, true)?;
        if let Some(accounts) = self.accounts {
            let missing = match (&command.user, &command.group) {
                (Some(user), _) if accounts.user(user).is_none() => {
                    Some(format!("user {user} does not exist"))
                }
                (_, Some(group)) if accounts.group(group).is_none() => {
                    Some(format!("group {group} does not exist"))
                }
                _ => None,
            };
            if let Some(missing) = missing {
                self.diagnostics
                    .warning(
                        &s.args_span(),
                        format!("'{}' {}: {missing}; the script is ignored", s.name(), command.argv[0]),
                    )
                    .hint("keepalived drops it the same way (it only logs it), and takes a later line of the same keyword");
                return None;
            }
        }
        Some(command)
    }

    /// [`Cx::script_command`]; `missing_stops`: a missing command stops keepalived reading the
    /// file (notify scripts), or leaves the script unset (`script` in vrrp_script).
    pub(crate) fn script_command_or(
        &mut self,
        s: &Statement,
        missing_stops: bool,
    ) -> Option<ScriptCommand> {
        let raw = s
            .line
            .text
            .get(s.keyword.start as usize..s.args_end as usize)
            .unwrap_or_default();
        let words = match split(raw) {
            Ok(words) => words,
            Err(err) => {
                self.diagnostics.error(
                    &s.args_span(),
                    format!("'{}': {err}; the script is ignored", s.name()),
                );
                return None;
            }
        };
        let Some(command) = words.get(1) else {
            if missing_stops {
                self.missing(s, 0);
            }
            return None;
        };
        let argv = match split(command) {
            Ok(argv) if !argv.is_empty() => argv,
            Ok(_) => {
                self.diagnostics.error(
                    &s.arg_span(0),
                    format!("'{}': the command is empty", s.name()),
                );
                return None;
            }
            Err(err) => {
                self.diagnostics.error(
                    &s.arg_span(0),
                    format!("'{}': {err}; the script is ignored", s.name()),
                );
                return None;
            }
        };
        if words.len() > 4 {
            self.diagnostics
                .warning(
                    &s.args_span(),
                    format!(
                        "'{}': only the command, a user and a group are read; '{}' is ignored",
                        s.name(),
                        words[4..].join(" ")
                    ),
                )
                .hint("quote a command that has arguments: notify_master \"/path/script arg\" [user [group]]");
        }
        Some(ScriptCommand {
            argv,
            user: words.get(2).cloned(),
            group: words.get(3).cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_escapes_are_keepalived_s() {
        assert_eq!(
            split(r#"notify "/bin/x 'a b'" root"#).unwrap(),
            ["notify", "/bin/x 'a b'", "root"]
        );
        assert_eq!(split("/bin/x 'a b'").unwrap(), ["/bin/x", "a b"]);
        // Escapes work inside single quotes too (unlike a shell).
        assert_eq!(split(r"'a\tb' c\ d").unwrap(), ["a\tb", "c d"]);
        assert_eq!(split(r#"a'b c'"d e""#).unwrap(), ["ab cd e"]);
        assert_eq!(split(r"\x41\101\cA").unwrap(), ["AA\u{1}"]);
        assert_eq!(split("'open"), Err(SplitError::Unterminated('\'')));
        assert!(split("   ").unwrap().is_empty());
    }
}
