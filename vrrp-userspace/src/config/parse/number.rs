//! keepalived's number readers (lib/parser.c `read_unsigned_func`, `read_int_func`,
//! `read_decimal_unsigned_long_func`): what they accept decides whether a file passes
//! `keepalived -t`, so xvrrpd reads numbers exactly the same way. Each reader returns the
//! value or keepalived's reason for refusing it.

use std::time::Duration;

/// Why a number was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NumberError {
    Negative,
    Invalid,
    /// Parsed, but outside `min..=max` (the value is given: some handlers use it anyway).
    OutOfRange {
        value: i128,
    },
    TooManyDecimals,
}

impl NumberError {
    pub fn describe(&self, text: &str, min: &str, max: &str) -> String {
        match self {
            Self::Negative => format!("'{text}' is negative"),
            Self::Invalid => format!("'{text}' is not a number"),
            Self::OutOfRange { .. } => format!("{text} is outside {min}..={max}"),
            Self::TooManyDecimals => format!("'{text}' has more than 6 decimal places"),
        }
    }
}

/// C's strtoul/strtol digits: optional leading blanks, an optional sign (`-` only when
/// `signed`), decimal digits, nothing after.
fn digits(text: &str, signed: bool) -> Result<i128, NumberError> {
    let text = text.trim_start_matches([' ', '\t']);
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') if signed => (true, &text[1..]),
        Some(b'-') => return Err(NumberError::Negative),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NumberError::Invalid);
    }
    // Longer than any u64: out of range, which is all that matters here.
    let value: i128 = rest.parse().unwrap_or(i128::MAX / 2);
    Ok(if negative { -value } else { value })
}

/// `read_unsigned`: base 10, no sign but `+`.
pub fn unsigned(text: &str, min: u64, max: u64) -> Result<u64, NumberError> {
    let value = digits(text, false)?;
    if value < i128::from(min) || value > i128::from(max) {
        return Err(NumberError::OutOfRange { value });
    }
    Ok(value as u64)
}

/// What C's `strtoul(text, &end, 10)` returns, whatever follows the digits: leading blanks,
/// an optional sign, the digits (none: 0). `None` where it would wrap or overflow (a minus
/// before anything but zeros, more than `u64`).
pub fn strtoul_prefix(text: &str) -> Option<u64> {
    let text = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let digits = &rest[..rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len())];
    let value = if digits.is_empty() {
        0
    } else {
        digits.parse::<u64>().ok()?
    };
    (!negative || value == 0).then_some(value)
}

/// `read_int`: base 10, signed.
pub fn int(text: &str, min: i64, max: i64) -> Result<i64, NumberError> {
    let value = digits(text, true)?;
    if value < i128::from(min) || value > i128::from(max) {
        return Err(NumberError::OutOfRange { value });
    }
    Ok(value as i64)
}

/// `read_decimal_unsigned` with 6 decimal places: seconds with microsecond resolution.
/// keepalived reports more than 6 decimals (and rounds), a sign, or anything but digits
/// and one point.
pub fn decimal_seconds(text: &str, min: Duration, max: Duration) -> Result<Duration, NumberError> {
    if text.starts_with('-') {
        return Err(NumberError::Negative);
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 6 {
        return Err(NumberError::TooManyDecimals);
    }
    let joined = format!("{whole}{fraction:0<6}");
    let digits = joined.trim_start_matches(['+']);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || joined.len() - digits.len() > 1
    {
        return Err(NumberError::Invalid);
    }
    let micros: u128 = digits.parse().map_err(|_| NumberError::Invalid)?;
    let value = Duration::from_micros(u64::try_from(micros).map_err(|_| NumberError::Invalid)?);
    if value < min || value > max {
        return Err(NumberError::OutOfRange {
            value: micros as i128,
        });
    }
    Ok(value)
}

/// keepalived's `check_true_false`: exactly these six words.
pub fn boolean(text: &str) -> Option<bool> {
    match text {
        "true" | "on" | "yes" => Some(true),
        "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

/// C's `strtol(text, &end, 0)` as keepalived's `~SEQ` uses it: leading blanks, a sign, then
/// `0x` hex, `0` octal or decimal, stopping at the first character that does not fit.
/// Returns the value and the rest of the text; no digits reads as 0 with nothing consumed.
pub fn strtol_prefix(text: &str) -> (i64, &str) {
    let trimmed = text.trim_start_matches([' ', '\t']);
    let (negative, body) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let (radix, digits_start) = if (body.starts_with("0x") || body.starts_with("0X"))
        && body[2..].starts_with(|c: char| c.is_ascii_hexdigit())
    {
        (16, 2)
    } else if body.starts_with('0') {
        (8, 0)
    } else {
        (10, 0)
    };
    let digits = &body[digits_start..];
    let length = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    if length == 0 {
        return (0, text);
    }
    let value = i64::from_str_radix(&digits[..length], radix).unwrap_or(i64::MAX);
    (if negative { -value } else { value }, &digits[length..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_reads_like_strtoul() {
        assert_eq!(unsigned("100", 1, 255), Ok(100));
        assert_eq!(unsigned("+7", 1, 255), Ok(7));
        assert_eq!(unsigned("-5", 1, 255), Err(NumberError::Negative));
        assert_eq!(unsigned("100.5", 1, 255), Err(NumberError::Invalid));
        assert_eq!(unsigned("abc", 1, 255), Err(NumberError::Invalid));
        assert_eq!(
            unsigned("256", 1, 255),
            Err(NumberError::OutOfRange { value: 256 })
        );
    }

    #[test]
    fn strtoul_reads_the_digits_it_finds() {
        assert_eq!(strtoul_prefix("x"), Some(0));
        assert_eq!(strtoul_prefix(" 5s"), Some(5));
        assert_eq!(strtoul_prefix("+7"), Some(7));
        assert_eq!(strtoul_prefix("-0"), Some(0));
        assert_eq!(strtoul_prefix("-3"), None);
        assert_eq!(strtoul_prefix("99999999999999999999999"), None);
    }

    #[test]
    fn decimals_have_six_places_at_most() {
        assert_eq!(
            decimal_seconds("0.5", Duration::ZERO, Duration::from_secs(9)),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(
            decimal_seconds(".25", Duration::ZERO, Duration::from_secs(9)),
            Ok(Duration::from_millis(250))
        );
        assert_eq!(
            decimal_seconds("1.", Duration::ZERO, Duration::from_secs(9)),
            Ok(Duration::from_secs(1))
        );
        assert_eq!(
            decimal_seconds("0.0000001", Duration::ZERO, Duration::from_secs(9)),
            Err(NumberError::TooManyDecimals)
        );
        assert!(decimal_seconds("1.2.3", Duration::ZERO, Duration::from_secs(9)).is_err());
        assert!(decimal_seconds("x", Duration::ZERO, Duration::from_secs(9)).is_err());
    }

    #[test]
    fn strtol_takes_hex_octal_and_stops_at_garbage() {
        assert_eq!(strtol_prefix(" 0x10)"), (16, ")"));
        assert_eq!(strtol_prefix("010,"), (8, ","));
        assert_eq!(strtol_prefix("-3)"), (-3, ")"));
        assert_eq!(strtol_prefix(",3"), (0, ",3"));
        assert_eq!(strtol_prefix("5abc"), (5, "abc"));
    }
}
