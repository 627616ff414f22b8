//! `$NAME=VALUE` definitions and their expansion, with keepalived's built-ins.

use std::hash::{BuildHasher as _, Hasher as _};
use std::path::Path;

use super::{MAX_EXPANDED_BYTES, MAX_EXPANSION_DEPTH, State};
use crate::config::lexer::BLANK;

impl State<'_> {
    /// Replaces `$NAME`, `${NAME}` and the built-ins, recursively; unknown names stay as written.
    pub(super) fn expand(&self, text: &str, file: &Path, depth: usize) -> Result<String, String> {
        if !text.contains('$') {
            return Ok(text.to_string());
        }
        if depth > MAX_EXPANSION_DEPTH {
            return Err(format!(
                "definitions expand more than {MAX_EXPANSION_DEPTH} levels deep (a definition refers to itself?)"
            ));
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(dollar) = rest.find('$') {
            out.push_str(&rest[..dollar]);
            let after = &rest[dollar + 1..];
            if let Some(braced) = after.strip_prefix('{')
                && let Some(close) = braced.find('}')
            {
                let inner = &braced[..close];
                match self.lookup(inner, file) {
                    Some(value) => out.push_str(&self.expand(&value, file, depth + 1)?),
                    None => {
                        out.push_str("${");
                        out.push_str(inner);
                        out.push('}');
                    }
                }
                rest = &braced[close + 1..];
                if out.len() > MAX_EXPANDED_BYTES {
                    return Err(format!(
                        "definitions expand this line to more than {MAX_EXPANDED_BYTES} bytes"
                    ));
                }
                continue;
            }
            let name_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            let name = &after[..name_len];
            // keepalived's find_definition: `$NAME` ends at a blank, `,`, `)` or the end.
            let followed_by_space = after[name_len..]
                .chars()
                .next()
                .is_none_or(|c| c == ' ' || c == '\t' || c == ',' || c == ')');
            match self.definitions.get(name) {
                Some(value) if is_name(name) && followed_by_space => {
                    out.push_str(&self.expand(value, file, depth + 1)?);
                }
                _ => {
                    out.push('$');
                    out.push_str(name);
                }
            }
            rest = &after[name_len..];
            if out.len() > MAX_EXPANDED_BYTES {
                return Err(format!(
                    "definitions expand this line to more than {MAX_EXPANDED_BYTES} bytes"
                ));
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    fn lookup(&self, inner: &str, file: &Path) -> Option<String> {
        let mut words = inner.split(BLANK).filter(|w| !w.is_empty());
        let name = words.next()?;
        let builtin = match name {
            "_PWD" => Some(
                file.parent()
                    .and_then(|p| std::fs::canonicalize(p).ok())
                    .map_or_else(|| ".".to_string(), |p| p.display().to_string()),
            ),
            "_INSTANCE" => Some(self.options.config_id.clone()),
            "_HASH" => Some("#".to_string()),
            "_BANG" => Some("!".to_string()),
            "_ENV" => Some(
                words
                    .next()
                    .and_then(|v| std::env::var(v).ok())
                    .unwrap_or_default(),
            ),
            "_RANDOM" => {
                let min: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                let max: u64 = words
                    .next()
                    .and_then(|w| w.parse().ok())
                    .unwrap_or(i32::MAX as u64);
                let span = max.saturating_sub(min).saturating_add(1);
                let random = std::collections::hash_map::RandomState::new()
                    .build_hasher()
                    .finish();
                Some((min + random % span).to_string())
            }
            _ => None,
        };
        builtin.or_else(|| self.definitions.get(name).cloned())
    }
}

/// `$NAME=VALUE` (no space before `=`) returns the name and the value.
pub(super) fn definition(text: &str) -> Option<(&str, &str)> {
    let (name, value) = text.strip_prefix('$')?.split_once('=')?;
    is_name(name).then_some((name, value))
}

pub(super) fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
