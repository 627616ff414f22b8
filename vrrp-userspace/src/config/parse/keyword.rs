//! One table per block: every keyword the block knows, how it is read, and how its effective
//! setting is written back by `--dump-conf`. The table drives dispatch, the "did you mean"
//! hints and the dump, so a keyword added for compatibility cannot be forgotten in one of them.

use super::Cx;
use crate::config::dump::Writer;
use crate::config::tree::Statement;

/// Reads one statement into the block being built.
pub(crate) type ParseFn<T> = fn(&mut Cx<'_>, &mut T, &Statement);
/// Writes a keyword's setting from the finished model, in keepalived.conf syntax.
pub(crate) type DumpFn<M> = fn(&mut Writer, &M);

/// One keyword of a block: `T` is what the parser fills, `M` what the dump reads.
pub(crate) struct Keyword<T: 'static, M: 'static> {
    pub name: &'static str,
    pub parse: ParseFn<T>,
    /// `None` for aliases (`lvs_id`) and keywords another entry writes (`preempt` is written
    /// by `nopreempt`'s entry).
    pub dump: Option<DumpFn<M>>,
}

impl<T, M> Keyword<T, M> {
    pub(crate) const fn new(name: &'static str, parse: ParseFn<T>, dump: DumpFn<M>) -> Self {
        Self {
            name,
            parse,
            dump: Some(dump),
        }
    }

    /// A keyword the dump does not write itself.
    pub(crate) const fn read_only(name: &'static str, parse: ParseFn<T>) -> Self {
        Self {
            name,
            parse,
            dump: None,
        }
    }
}

/// The names of a table, for suggestions.
pub(crate) fn names<T, M>(table: &[Keyword<T, M>]) -> Vec<&'static str> {
    table.iter().map(|k| k.name).collect()
}

/// Writes every keyword of `table` that has something to say about `model`, in table order.
pub(crate) fn dump_table<T, M>(out: &mut Writer, table: &[Keyword<T, M>], model: &M) {
    for keyword in table {
        if let Some(dump) = keyword.dump {
            dump(out, model);
        }
    }
}

impl Cx<'_> {
    /// Reads `s` with its table entry, or reports it as unknown in `context` with the closest
    /// known keyword as a hint.
    pub(crate) fn dispatch<T, M>(
        &mut self,
        table: &[Keyword<T, M>],
        target: &mut T,
        s: &Statement,
        context: &str,
    ) {
        // A stray `{` was reported when the tree was built.
        if s.keyword.kind == crate::config::lexer::TokenKind::Open {
            return;
        }
        match table.iter().find(|k| k.name == s.name()) {
            Some(keyword) => {
                // Saved for the enclosing handler, which may be reading its own block.
                let outer = self.block_read;
                self.block_read = false;
                (keyword.parse)(self, target, s);
                if s.block.is_some() && !self.block_read {
                    // keepalived: "Unexpected '{' - ignoring", and the block's `}` then closes
                    // the enclosing block; xvrrpd skips the whole block.
                    self.diagnostics
                        .error(
                            &s.keyword_span(),
                            format!("'{}' takes no {{ }} block; the block is skipped", s.name()),
                        )
                        .hint("keepalived reads the block's lines as the enclosing block's, and its '}' as the end of that block");
                }
                self.block_read = outer;
            }
            None => self.unknown(s, context, &names(table)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Every table, for checks that hold for all of them.
    fn all_tables() -> Vec<(&'static str, Vec<&'static str>)> {
        use crate::config::parse::{global, instance, network, tracking};
        vec![
            ("global_defs", names(global::GLOBAL)),
            ("vrrp_instance", names(instance::INSTANCE)),
            ("authentication", names(instance::AUTHENTICATION)),
            ("vrrp_script", names(tracking::SCRIPT)),
            ("track_file", names(tracking::TRACK_FILE)),
            ("vrrp_track_process", names(tracking::TRACK_PROCESS)),
            ("vrrp_sync_group", names(tracking::SYNC_GROUP)),
            ("garp_group", names(network::GARP_GROUP)),
        ]
    }

    #[test]
    fn keywords_are_unique_in_each_table() {
        for (block, names) in all_tables() {
            let mut seen = HashSet::new();
            for name in names {
                assert!(seen.insert(name), "{block}: '{name}' is in the table twice");
            }
        }
    }
}
