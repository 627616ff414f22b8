//! Statements and blocks, written out in one of the layouts real files use: braces on the
//! keyword's line, glued to it or on the next line, one-line blocks, indentation by tabs or
//! spaces or none, comments (`#`, `!`, trailing), blank lines, CRLF line ends.

use super::rng::Rng;

#[derive(Clone, Debug)]
pub enum Node {
    /// A statement line (keyword and values).
    Line(String),
    /// A line the preprocessor reads (`$NAME=`, `~SEQ`, `@id`, `include`): never given a
    /// trailing comment, never put in a one-line block.
    Raw(String),
    Block {
        head: String,
        body: Vec<Node>,
    },
}

impl Node {
    pub fn line(text: impl Into<String>) -> Self {
        Self::Line(text.into())
    }

    pub fn block(head: impl Into<String>, body: Vec<Node>) -> Self {
        Self::Block {
            head: head.into(),
            body,
        }
    }
}

/// How a whole file is written.
#[derive(Clone, Debug)]
pub struct Layout {
    indent: &'static str,
    crlf: bool,
    /// Percent chance of a comment line before a statement, of a trailing comment, of a blank
    /// line.
    comments: u64,
    trailing: u64,
    blanks: u64,
    /// Percent chances of the brace styles other than "head {".
    glued: u64,
    next_line: u64,
    one_line: u64,
}

impl Layout {
    pub fn random(rng: &mut Rng) -> Self {
        Self {
            indent: *rng.pick(&["    ", "  ", "\t", "", "   "]),
            crlf: rng.chance(8),
            comments: *rng.pick(&[0, 5, 15]),
            trailing: *rng.pick(&[0, 0, 5, 10]),
            blanks: *rng.pick(&[0, 5, 10]),
            glued: *rng.pick(&[0, 0, 20, 50]),
            next_line: *rng.pick(&[0, 0, 10, 30]),
            one_line: *rng.pick(&[0, 20, 50]),
        }
    }

    pub fn render(&self, rng: &mut Rng, nodes: &[Node]) -> String {
        let mut out = String::new();
        self.nodes(rng, nodes, 0, &mut out);
        if self.crlf {
            out = out.replace('\n', "\r\n");
        }
        out
    }

    fn nodes(&self, rng: &mut Rng, nodes: &[Node], depth: usize, out: &mut String) {
        for node in nodes {
            let pad = self.indent.repeat(depth);
            if rng.chance(self.blanks) {
                out.push('\n');
            }
            if rng.chance(self.comments) {
                let mark = rng.pick(&["#", "!", "# ---", "!!"]);
                out.push_str(&format!("{pad}{mark} generated comment\n"));
            }
            match node {
                Node::Raw(text) => out.push_str(&format!("{pad}{text}\n")),
                Node::Line(text) => {
                    let trailing = if rng.chance(self.trailing) && !text.contains('"') {
                        *rng.pick(&["  # note", " ! note", "\t#"])
                    } else {
                        ""
                    };
                    out.push_str(&format!("{pad}{text}{trailing}\n"));
                }
                Node::Block { head, body } => {
                    let simple = body.len() == 1 && matches!(body[0], Node::Line(_));
                    if simple && rng.chance(self.one_line) {
                        let Node::Line(item) = &body[0] else {
                            unreachable!("checked above")
                        };
                        out.push_str(&format!("{pad}{head} {{ {item} }}\n"));
                        continue;
                    }
                    if rng.chance(self.next_line) {
                        out.push_str(&format!("{pad}{head}\n{pad}{{\n"));
                    } else if rng.chance(self.glued) {
                        out.push_str(&format!("{pad}{head}{{\n"));
                    } else {
                        out.push_str(&format!("{pad}{head} {{\n"));
                    }
                    self.nodes(rng, body, depth + 1, out);
                    out.push_str(&format!("{pad}}}\n"));
                }
            }
        }
    }
}
