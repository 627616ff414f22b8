//! keepalived's lexical rules (keepalived-compat.md section 1): comments, double quotes, braces
//! that split tokens anywhere, and the shell-like splitting of script command lines.

/// keepalived's blanks (`WHITE_SPACE_STR`): a non-ASCII space such as U+00A0 is part of a
/// word, as it is for keepalived.
pub const BLANK: [char; 6] = [' ', '\t', '\x0c', '\n', '\r', '\x0b'];

fn blank(byte: u8) -> bool {
    byte.is_ascii_whitespace() || byte == 0x0b
}

/// Returns `line` up to its comment: `#` or `!` outside double quotes (single quotes do not
/// protect them, as in keepalived). `\#` and `\!` are kept for [`tokenize`] to unescape.
pub fn strip_comment(line: &str) -> &str {
    let mut in_quotes = false;
    let mut escaped = false;
    for (index, byte) in line.bytes().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => in_quotes = !in_quotes,
            b'#' | b'!' if !in_quotes => return &line[..index],
            _ => {}
        }
    }
    line
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Word,
    Open,
    Close,
}

/// One token of a line with its byte range there, so diagnostics can point at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    /// The text with double quotes removed and `\#`, `\!` unescaped.
    pub text: String,
    pub start: u32,
    pub end: u32,
    /// Whether any part was double-quoted (a quoted `"{"` is a word, not a brace).
    pub quoted: bool,
}

/// Splits a comment-free line into words and braces, the way keepalived's `alloc_strvec`
/// does after `read_line` has cut the line at braces: whitespace and braces outside double
/// quotes end a word; a word that starts with a double quote runs to the next double quote
/// (quotes removed, braces and blanks kept); a double quote inside a word ends that word and
/// starts a quoted one (`abc"d e"` is `abc` and `d e`). An unterminated quote runs to the end
/// of the line (keepalived reports it and drops the rest: see [`unmatched_quote`]).
pub fn tokenize(line: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let bytes = line.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if blank(byte) {
            index += 1;
            continue;
        }
        if byte == b'{' || byte == b'}' {
            tokens.push(Token {
                kind: if byte == b'{' {
                    TokenKind::Open
                } else {
                    TokenKind::Close
                },
                text: (byte as char).to_string(),
                start: index as u32,
                end: index as u32 + 1,
                quoted: false,
            });
            index += 1;
            continue;
        }
        let start = index;
        if byte == b'"' {
            let close = line[index + 1..].find('"').map(|i| index + 1 + i);
            let end = close.unwrap_or(line.len());
            tokens.push(Token {
                kind: TokenKind::Word,
                text: line[index + 1..end].to_string(),
                start: start as u32,
                end: close.map_or(end, |c| c + 1) as u32,
                quoted: true,
            });
            index = close.map_or(end, |c| c + 1);
            continue;
        }
        let mut text = String::new();
        let mut piece_start = index;
        while index < bytes.len() {
            let byte = bytes[index];
            if blank(byte) || byte == b'{' || byte == b'}' || byte == b'"' {
                break;
            }
            if byte == b'\\' && matches!(bytes.get(index + 1), Some(b'#' | b'!')) {
                text.push_str(&line[piece_start..index]);
                index += 1;
                piece_start = index;
            }
            index += 1;
        }
        text.push_str(&line[piece_start..index]);
        tokens.push(Token {
            kind: TokenKind::Word,
            text,
            start: start as u32,
            end: index as u32,
            quoted: false,
        });
    }
    tokens
}

/// Where an unterminated double quote starts in a comment-free line, if any.
pub fn unmatched_quote(line: &str) -> Option<usize> {
    let mut open = None;
    for (index, byte) in line.bytes().enumerate() {
        if byte == b'"' {
            open = match open {
                Some(_) => None,
                None => Some(index),
            };
        }
    }
    open
}

/// Splits a script command line like a shell: whitespace separates words, `'...'` is literal,
/// `"..."` allows escapes, a backslash escapes outside single quotes, adjacent pieces join. The
/// escapes are keepalived's: `\a \b \E \f \n \r \t \v \nnn` (octal) `\xXX` `\cC`; any other
/// `\C` is C itself.
pub fn shell_split(text: &str) -> Result<Vec<String>, ShellSplitError> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(words);
        }
        let mut word = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
            match c {
                '\'' => loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(ShellSplitError::UnterminatedSingleQuote),
                    }
                },
                '"' => loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => push_escape(&mut chars, &mut word),
                        Some(c) => word.push(c),
                        None => return Err(ShellSplitError::UnterminatedDoubleQuote),
                    }
                },
                '\\' => push_escape(&mut chars, &mut word),
                c => word.push(c),
            }
        }
        words.push(word);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShellSplitError {
    #[error("unterminated single quote in the command line")]
    UnterminatedSingleQuote,
    #[error("unterminated double quote in the command line")]
    UnterminatedDoubleQuote,
}

fn push_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, word: &mut String) {
    let Some(c) = chars.next() else {
        word.push('\\');
        return;
    };
    let simple = match c {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'E' => Some('\x1b'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        _ => None,
    };
    if let Some(simple) = simple {
        word.push(simple);
        return;
    }
    match c {
        '0'..='7' => {
            let mut value = c.to_digit(8).unwrap_or(0);
            for _ in 0..2 {
                match chars.next_if(|d| d.is_digit(8)) {
                    Some(d) => value = value * 8 + d.to_digit(8).unwrap_or(0),
                    None => break,
                }
            }
            word.push(char::from_u32(value & 0xff).unwrap_or('?'));
        }
        'x' => {
            let mut value: u32 = 0;
            let mut digits = 0;
            while let Some(d) = chars.next_if(|d| d.is_ascii_hexdigit()) {
                value = (value << 4 | d.to_digit(16).unwrap_or(0)) & 0xff;
                digits += 1;
            }
            if digits == 0 {
                word.push('x');
            } else {
                word.push(char::from_u32(value).unwrap_or('?'));
            }
        }
        'c' => match chars.next() {
            Some(control) => word.push(
                char::from_u32(u32::from(control.to_ascii_uppercase()) ^ 0x40).unwrap_or('?'),
            ),
            None => word.push('c'),
        },
        other => word.push(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        tokenize(strip_comment(line))
            .into_iter()
            .map(|t| t.text)
            .collect()
    }

    #[test]
    fn comments_end_the_line_outside_double_quotes_only() {
        assert_eq!(words("priority 100 # main"), ["priority", "100"]);
        assert_eq!(words("priority 100 ! main"), ["priority", "100"]);
        assert_eq!(words(r#"script "echo #1""#), ["script", "echo #1"]);
        // keepalived: single quotes do not protect a comment character.
        assert_eq!(words("script 'echo #1'"), ["script", "'echo"]);
        assert_eq!(words(r"auth_pass a\#b"), ["auth_pass", "a#b"]);
    }

    #[test]
    fn braces_split_anywhere_outside_quotes() {
        assert_eq!(words("vrrp_instance VI_1{"), ["vrrp_instance", "VI_1", "{"]);
        assert_eq!(words("}}"), ["}", "}"]);
        assert_eq!(
            words("virtual_ipaddress { 10.0.0.1 }"),
            ["virtual_ipaddress", "{", "10.0.0.1", "}"]
        );
        let quoted = tokenize(r#"script "a{b}""#);
        assert_eq!(quoted.len(), 2);
        assert_eq!(quoted[1].text, "a{b}");
    }

    #[test]
    fn a_quote_starts_a_new_word_and_columns_are_kept() {
        // keepalived's alloc_strvec: `abcd` ends at the quote, `" efg h "` is one word.
        let tokens = tokenize(r#"  x abcd" efg h "mnop"#);
        let texts: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["x", "abcd", " efg h ", "mnop"]);
        assert_eq!(
            (tokens[0].start, tokens[1].start, tokens[2].start),
            (2, 4, 8)
        );
        assert!(tokens[2].quoted && !tokens[1].quoted);
        assert_eq!(unmatched_quote(r#"a "b" "c"#), Some(6));
        assert_eq!(unmatched_quote(r#"a "b""#), None);
    }

    #[test]
    fn shell_split_handles_quotes_escapes_and_joins() {
        assert_eq!(
            shell_split(r#"bash -c '</dev/tcp/127.0.0.1/80'"#).unwrap(),
            ["bash", "-c", "</dev/tcp/127.0.0.1/80"]
        );
        assert_eq!(
            shell_split(r#"a'b c'"d e" f\ g"#).unwrap(),
            ["ab cd e", "f g"]
        );
        assert_eq!(shell_split(r"\x41\101\t\cA").unwrap(), ["AA\t\x01"]);
        assert_eq!(
            shell_split("'open").unwrap_err(),
            ShellSplitError::UnterminatedSingleQuote
        );
        assert!(shell_split("   ").unwrap().is_empty());
    }
}
