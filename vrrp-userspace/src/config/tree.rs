//! Turns lines into a tree of statements by braces alone, before any keyword is known. A
//! statement is a keyword, its arguments and maybe a `{}` block; braces split statements
//! anywhere (`VI_1{`, `}}`, one-line blocks) and `{` may open on the next line. Knowing the
//! block structure first is what lets an unknown keyword skip its whole block.

use super::diagnostic::{Diagnostics, Span};
use super::lexer::{Token, TokenKind, tokenize};
use super::preprocess::Line;

#[derive(Clone, Debug)]
pub struct Statement {
    pub line: Line,
    pub keyword: Token,
    pub args: Vec<Token>,
    /// Where the arguments end in `line.text` (before a brace or at the end of the line), for
    /// keywords that take the raw rest of the line (scripts).
    pub args_end: u32,
    pub block: Option<Vec<Statement>>,
}

impl Statement {
    pub fn keyword_span(&self) -> Span {
        self.line.span(self.keyword.start, self.keyword.end)
    }

    pub fn arg_span(&self, index: usize) -> Span {
        match self.args.get(index) {
            Some(token) => self.line.span(token.start, token.end),
            // Point just past the statement when an argument is missing.
            None => self.line.span(self.args_end, self.args_end + 1),
        }
    }

    /// Span from the first argument to the last.
    pub fn args_span(&self) -> Span {
        match (self.args.first(), self.args.last()) {
            (Some(first), Some(last)) => self.line.span(first.start, last.end),
            _ => self.arg_span(0),
        }
    }

    pub fn name(&self) -> &str {
        &self.keyword.text
    }

    pub fn arg(&self, index: usize) -> Option<&str> {
        self.args.get(index).map(|t| t.text.as_str())
    }

    /// The text after the keyword up to the end of the statement, quotes intact.
    pub fn raw_args(&self) -> &str {
        let text = self.line.text.as_ref();
        text.get(self.keyword.end as usize..self.args_end as usize)
            .unwrap_or_default()
            .trim_matches(crate::config::lexer::BLANK)
    }
}

/// Builds the statement tree; unbalanced braces are reported and repaired (a stray `}` is
/// ignored, unclosed blocks are closed at the end of input).
pub fn build(lines: &[Line], diagnostics: &mut Diagnostics) -> Vec<Statement> {
    // `levels[0]` is the top level; each deeper entry is an open block and the span of its `{`.
    let mut levels: Vec<(Vec<Statement>, Option<Span>)> = vec![(Vec::new(), None)];
    for line in lines {
        let tokens = tokenize(&line.text);
        let mut segment: Vec<Token> = Vec::new();
        for token in tokens {
            if !token.quoted
                && let Some(space) = token.text.chars().find(|c| c.is_whitespace())
            {
                diagnostics
                    .warning(
                        &line.span(token.start, token.end),
                        format!(
                            "'{}' contains U+{:04X}, a space keepalived does not know: it is part of the word",
                            token.text.escape_default(),
                            u32::from(space)
                        ),
                    )
                    .hint("replace it with an ordinary space");
            }
            match token.kind {
                TokenKind::Word => segment.push(token),
                TokenKind::Open => {
                    let open_span = line.span(token.start, token.end);
                    let level = levels.last_mut().expect("top level is never popped");
                    if !segment.is_empty() {
                        level
                            .0
                            .push(statement(line, std::mem::take(&mut segment), token.start));
                    } else if level.0.last().is_none_or(|s| s.block.is_some()) {
                        diagnostics
                            .error(&open_span, "'{' does not follow a keyword")
                            .hint("a block opens after its keyword, as in 'virtual_ipaddress {'");
                        // Still track it, so its '}' does not close the enclosing block.
                        level.0.push(Statement {
                            line: line.clone(),
                            keyword: token.clone(),
                            args: Vec::new(),
                            args_end: token.end,
                            block: None,
                        });
                    }
                    levels.push((Vec::new(), Some(open_span)));
                }
                TokenKind::Close => {
                    if !segment.is_empty() {
                        let level = levels.last_mut().expect("top level is never popped");
                        level
                            .0
                            .push(statement(line, std::mem::take(&mut segment), token.start));
                    }
                    if levels.len() == 1 {
                        diagnostics
                            .error(&line.span(token.start, token.end), "'}' closes no block")
                            .hint("remove it, or look for a '{' missing above");
                        continue;
                    }
                    close_block(&mut levels);
                }
            }
        }
        if !segment.is_empty() {
            let end = line.text.len() as u32;
            levels
                .last_mut()
                .expect("top level is never popped")
                .0
                .push(statement(line, segment, end));
        }
    }
    while levels.len() > 1 {
        if let Some(open) = &levels.last().expect("checked").1 {
            diagnostics
                .error(open, "this '{' is never closed")
                .hint("add the missing '}' at the end of the block");
        }
        close_block(&mut levels);
    }
    levels
        .pop()
        .map(|(statements, _)| statements)
        .unwrap_or_default()
}

fn statement(line: &Line, mut tokens: Vec<Token>, args_end: u32) -> Statement {
    let keyword = tokens.remove(0);
    Statement {
        line: line.clone(),
        keyword,
        args: tokens,
        args_end,
        block: None,
    }
}

fn close_block(levels: &mut Vec<(Vec<Statement>, Option<Span>)>) {
    let (children, _) = levels.pop().expect("caller checked depth");
    let parent = levels.last_mut().expect("caller checked depth");
    if let Some(owner) = parent.0.last_mut() {
        owner.block = Some(children);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;

    fn parse(text: &str) -> (Vec<Statement>, Vec<String>) {
        let file: Arc<Path> = Arc::from(Path::new("t.conf"));
        let lines: Vec<Line> = text
            .lines()
            .enumerate()
            .map(|(i, l)| Line {
                file: file.clone(),
                number: i as u32 + 1,
                text: Arc::from(l.trim()),
            })
            .collect();
        let mut diagnostics = Diagnostics::default();
        let tree = build(&lines, &mut diagnostics);
        (
            tree,
            diagnostics.items().iter().map(|d| d.to_string()).collect(),
        )
    }

    fn shape(statements: &[Statement]) -> String {
        statements
            .iter()
            .map(|s| {
                let mut text = std::iter::once(s.name())
                    .chain(s.args.iter().map(|a| a.text.as_str()))
                    .collect::<Vec<_>>()
                    .join(" ");
                if let Some(block) = &s.block {
                    text.push_str(&format!("{{{}}}", shape(block)));
                }
                text
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    #[test]
    fn braces_anywhere_build_the_same_tree() {
        let expected = "vrrp_instance VI_1{state MASTER;virtual_ipaddress{10.0.0.1}}";
        for text in [
            "vrrp_instance VI_1 {\nstate MASTER\nvirtual_ipaddress {\n10.0.0.1\n}\n}",
            "vrrp_instance VI_1{\nstate MASTER\nvirtual_ipaddress { 10.0.0.1 }}",
            "vrrp_instance VI_1\n{\nstate MASTER\nvirtual_ipaddress\n{\n10.0.0.1 }\n}",
        ] {
            let (tree, diagnostics) = parse(text);
            assert_eq!(shape(&tree), expected, "{text}");
            assert!(diagnostics.is_empty());
        }
    }

    #[test]
    fn unbalanced_braces_are_reported_with_a_caret() {
        let (tree, diagnostics) = parse("a {\nb\n}\n}");
        assert_eq!(shape(&tree), "a{b}");
        assert_eq!(
            diagnostics[0],
            "t.conf:4:1: error: '}' closes no block\n  |\n4 | }\n  | ^\n  = hint: remove it, or look for a '{' missing above"
        );
        let (_, diagnostics) = parse("a {\nb {\n");
        assert_eq!(diagnostics.len(), 2);
        assert!(diagnostics[0].starts_with("t.conf:2:3: error: this '{' is never closed"));
    }

    #[test]
    fn raw_args_keep_quotes() {
        let (tree, _) = parse(r#"notify_master "/bin/x 'a b'" root"#);
        assert_eq!(tree[0].raw_args(), r#""/bin/x 'a b'" root"#);
        assert_eq!(tree[0].args[0].text, "/bin/x 'a b'");
    }
}
