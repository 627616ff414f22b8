//! Typed configuration values and their parsers from keepalived's textual forms.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use serde::{Serialize, Serializer};

/// An address with a prefix length: `10.0.0.1/24`, `fe80::1/64`; a bare address is a host route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpPrefix {
    pub addr: IpAddr,
    pub prefix_len: u8,
}

impl IpPrefix {
    pub fn host(addr: IpAddr) -> Self {
        Self {
            addr,
            prefix_len: if addr.is_ipv4() { 32 } else { 128 },
        }
    }
}

impl FromStr for IpPrefix {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (addr_text, len_text) = match text.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| format!("'{addr_text}' is not an IPv4 or IPv6 address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match len_text {
            None => max,
            Some(len) => match len.parse::<u8>() {
                Ok(len) if len <= max => len,
                _ => {
                    // keepalived also takes a dotted netmask after the slash.
                    match (addr, len.parse::<std::net::Ipv4Addr>()) {
                        (IpAddr::V4(_), Ok(mask))
                            if u32::from(mask).leading_ones() == u32::from(mask).count_ones() =>
                        {
                            u32::from(mask).count_ones() as u8
                        }
                        _ => return Err(format!("prefix length '/{len}' must be 0..={max}")),
                    }
                }
            },
        };
        Ok(Self { addr, prefix_len })
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl Serialize for IpPrefix {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// An address as keepalived's `inet_stosockaddr` reads one: the family from a `:`, anything
/// from the first `-` or `/` on ignored (a range or a prefix length: `10.0.0.1/24` is
/// 10.0.0.1).
pub fn sockaddr(text: &str) -> Option<IpAddr> {
    let address = text.split(['-', '/']).next().unwrap_or(text);
    if text.contains(':') {
        address.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        address.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
    }
}

/// keepalived's `<TIMER>`: decimal seconds with microsecond resolution (`2.71828`, `3`, `.5`).
pub fn parse_timer(text: &str) -> Result<Duration, String> {
    let invalid = || format!("'{text}' is not a time in seconds (like 1, 0.5 or 2.71828)");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(invalid());
    }
    let seconds: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| invalid())?
    };
    // Round to the microsecond, as keepalived does.
    let mut micros: u64 = 0;
    for (index, digit) in fraction.bytes().enumerate() {
        let digit = u64::from(digit - b'0');
        match index {
            0..6 => micros = micros * 10 + digit,
            6 => {
                if digit >= 5 {
                    micros += 1;
                }
            }
            _ => break,
        }
    }
    for _ in fraction.len()..6 {
        micros *= 10;
    }
    Duration::from_secs(seconds)
        .checked_add(Duration::from_micros(micros))
        .ok_or_else(invalid)
}

/// A duration the way keepalived.conf writes it: decimal seconds, no trailing zeros.
pub fn format_seconds(duration: Duration) -> String {
    let micros = duration.subsec_micros();
    if micros == 0 {
        return duration.as_secs().to_string();
    }
    let fraction = format!("{micros:06}");
    format!("{}.{}", duration.as_secs(), fraction.trim_end_matches('0'))
}

/// Serializes a `Duration` as decimal seconds in JSON.
pub fn serialize_seconds<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

pub fn serialize_optional_seconds<S: Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => serializer.serialize_f64(duration.as_secs_f64()),
        None => serializer.serialize_none(),
    }
}

/// keepalived's `<BOOL>`.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "on" | "true" | "yes" => Some(true),
        "off" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// A network interface name the kernel would accept: 1..=15 bytes (IFNAMSIZ - 1), no '/' or
/// blanks, not `.` or `..`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InterfaceName(String);

impl InterfaceName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for InterfaceName {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        if name.is_empty() || name.len() > 15 {
            return Err(format!(
                "interface name '{name}' must be 1 to 15 characters long"
            ));
        }
        if name == "." || name == ".." || name.contains(['/', ' ', '\t']) {
            return Err(format!("'{name}' is not a valid interface name"));
        }
        Ok(Self(name.to_string()))
    }
}

impl fmt::Display for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for InterfaceName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_are_decimal_seconds_rounded_to_microseconds() {
        assert_eq!(parse_timer("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_timer("0.01"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_timer(".5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timer("2.71828"), Ok(Duration::from_micros(2_718_280)));
        assert_eq!(parse_timer("0.0000015"), Ok(Duration::from_micros(2)));
        for bad in ["", ".", "-1", "1s", "1e3", "1.2.3"] {
            assert!(parse_timer(bad).is_err(), "{bad}");
        }
        assert_eq!(format_seconds(Duration::from_millis(10)), "0.01");
        assert_eq!(format_seconds(Duration::from_secs(5)), "5");
    }

    #[test]
    fn prefixes_take_lengths_and_netmasks() {
        assert_eq!(
            "10.0.0.1".parse::<IpPrefix>().unwrap().to_string(),
            "10.0.0.1/32"
        );
        assert_eq!(
            "10.0.0.1/255.255.255.0"
                .parse::<IpPrefix>()
                .unwrap()
                .prefix_len,
            24
        );
        assert_eq!(
            "fe80::1/64".parse::<IpPrefix>().unwrap().to_string(),
            "fe80::1/64"
        );
        assert!("10.0.0.1/33".parse::<IpPrefix>().is_err());
        assert!("192.168.100./24".parse::<IpPrefix>().is_err());
    }
}
