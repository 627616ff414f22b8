//! Names of routing tables, protocols, scopes, DS fields and realms, as keepalived's
//! lib/rttables.c finds them: a number (decimal, `0x` hex or `0` octal) up to the limit, or a
//! name from /etc/iproute2/<file>, or one of keepalived's built-in names. The files are read
//! once per process.

use std::collections::HashMap;
use std::sync::OnceLock;

const IPROUTE2_DIR: &str = "/etc/iproute2";

/// One of iproute2's name files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Names {
    Tables,
    Protocols,
    Scopes,
    DsFields,
    Realms,
}

impl Names {
    fn file(self) -> &'static str {
        match self {
            Self::Tables => "rt_tables",
            Self::Protocols => "rt_protos",
            Self::Scopes => "rt_scopes",
            Self::DsFields => "rt_dsfield",
            Self::Realms => "rt_realms",
        }
    }

    fn max(self) -> u64 {
        match self {
            Self::Tables => u64::from(u32::MAX),
            _ => 255,
        }
    }

    /// keepalived's built-in names, used when the file does not name the number.
    fn defaults(self) -> &'static [(u32, &'static str)] {
        match self {
            Self::Tables => &[(253, "default"), (254, "main"), (255, "local")],
            Self::Protocols => &[
                (0, "none"),
                (1, "redirect"),
                (2, "kernel"),
                (3, "boot"),
                (4, "static"),
                (8, "gated"),
                (9, "ra"),
                (10, "mrt"),
                (11, "zebra"),
                (12, "bird"),
                (42, "babel"),
                (13, "dnrouted"),
                (14, "xorp"),
                (15, "ntk"),
                (16, "dhcp"),
            ],
            Self::Scopes => &[
                (0, "global"),
                (255, "nowhere"),
                (254, "host"),
                (253, "link"),
                (200, "site"),
            ],
            Self::DsFields | Self::Realms => &[],
        }
    }
}

/// C's `strtoul(text, &end, 0)` over the whole text.
fn strtoul_whole(text: &str) -> Option<u64> {
    let (digits, radix) =
        if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            (hex, 16)
        } else if text.len() > 1 && text.starts_with('0') {
            (&text[1..], 8)
        } else {
            (text, 10)
        };
    if digits.is_empty() || text.starts_with(['-', '+']) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

fn table(names: Names) -> &'static HashMap<String, u32> {
    static TABLES: OnceLock<HashMap<Names, HashMap<String, u32>>> = OnceLock::new();
    let all = TABLES.get_or_init(|| {
        [
            Names::Tables,
            Names::Protocols,
            Names::Scopes,
            Names::DsFields,
            Names::Realms,
        ]
        .into_iter()
        .map(|names| {
            let mut map: HashMap<String, u32> = HashMap::new();
            let mut ids = Vec::new();
            let path = format!("{IPROUTE2_DIR}/{}", names.file());
            for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
                let line = line.split('#').next().unwrap_or_default();
                let mut words = line.split_whitespace();
                let (Some(number), Some(name)) = (words.next(), words.next()) else {
                    continue;
                };
                let Some(id) = strtoul_whole(number).filter(|id| *id <= names.max()) else {
                    continue;
                };
                ids.push(id as u32);
                map.entry(name.to_string()).or_insert(id as u32);
            }
            // A default is added only when the file does not name its number.
            for (id, name) in names.defaults() {
                if !ids.contains(id) {
                    map.entry((*name).to_string()).or_insert(*id);
                }
            }
            (names, map)
        })
        .collect()
    });
    &all[&names]
}

/// keepalived's `find_entry`: a number up to the limit, or a known name.
pub fn find(names: Names, text: &str) -> Option<u32> {
    if let Some(id) = strtoul_whole(text) {
        return (id <= names.max()).then_some(id as u32);
    }
    table(names).get(text).copied()
}

/// The name keepalived prints for a number, or the number.
pub fn name(names: Names, id: u32) -> String {
    table(names)
        .iter()
        .filter(|(_, value)| **value == id)
        .map(|(name, _)| name.clone())
        .min()
        .unwrap_or_else(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names() {
        assert_eq!(find(Names::Tables, "main"), Some(254));
        assert_eq!(find(Names::Tables, "100"), Some(100));
        assert_eq!(find(Names::Tables, "0x10"), Some(16));
        assert_eq!(find(Names::Scopes, "link"), Some(253));
        assert_eq!(find(Names::Scopes, "256"), None);
        assert_eq!(find(Names::Protocols, "static"), Some(4));
        assert_eq!(find(Names::Tables, "nosuchtable"), None);
    }
}
