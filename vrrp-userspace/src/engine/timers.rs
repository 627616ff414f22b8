//! RFC 5798 section 6.1 timer formulas, with keepalived's VRRPv2 variant.

use std::time::Duration;

use crate::protocol::{Priority, Version};

/// Skew_Time: how much later than a higher-priority backup a lower-priority one declares the
/// master down, so the best backup wins the race.
///
/// - v3 (RFC 5798 section 6.1): `((256 - Priority) * Master_Adver_Interval) / 256`.
/// - v2 (RFC 3768 section 6.1): `(256 - Priority) / 256` seconds, whatever the interval:
///   keepalived keeps this for v2, so a v2 skew does not scale with `advert_int`.
///
/// Computed in nanoseconds: truncating to centiseconds (or to whole units, as some
/// implementations do by an integer cast) would erase the skew at short intervals.
pub fn skew_time(
    version: Version,
    priority: Priority,
    master_adver_interval: Duration,
) -> Duration {
    let weight = 256 - u64::from(priority.0);
    match version {
        Version::V2 => Duration::from_nanos(weight * 1_000_000_000 / 256),
        Version::V3 => Duration::from_nanos(
            (u128::from(weight) * master_adver_interval.as_nanos() / 256) as u64,
        ),
    }
}

/// Master_Down_Interval: `down_timer_adverts * Master_Adver_Interval + Skew_Time` (RFC 5798
/// section 6.1 with keepalived's `down_timer_adverts`, 3 by default).
pub fn master_down_interval(
    version: Version,
    priority: Priority,
    master_adver_interval: Duration,
    down_timer_adverts: u32,
) -> Duration {
    master_adver_interval * down_timer_adverts + skew_time(version, priority, master_adver_interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(value: f64) -> Duration {
        Duration::from_nanos((value * 1_000_000.0).round() as u64)
    }

    #[test]
    fn v3_10ms_priority_100_is_36_09_ms() {
        // 3 x 10 ms + 156 x 10 ms / 256 = 30 ms + 6.09375 ms
        let down = master_down_interval(Version::V3, Priority(100), Duration::from_millis(10), 3);
        assert_eq!(down, ms(36.09375));
    }

    #[test]
    fn v3_skew_scales_with_the_interval() {
        assert_eq!(
            skew_time(Version::V3, Priority(100), Duration::from_secs(1)),
            ms(609.375)
        );
        assert_eq!(
            skew_time(Version::V3, Priority(254), Duration::from_millis(100)),
            ms(0.78125)
        );
        assert_eq!(
            skew_time(Version::V3, Priority(1), Duration::from_millis(100)),
            ms(99.609375)
        );
    }

    #[test]
    fn v2_skew_does_not_scale_with_the_interval() {
        assert_eq!(
            skew_time(Version::V2, Priority(100), Duration::from_secs(1)),
            ms(609.375)
        );
        assert_eq!(
            skew_time(Version::V2, Priority(100), Duration::from_secs(5)),
            ms(609.375)
        );
        // 3 x 1 s + 0.609375 s
        let down = master_down_interval(Version::V2, Priority(100), Duration::from_secs(1), 3);
        assert_eq!(down, ms(3609.375));
    }

    #[test]
    fn priority_255_skews_by_a_256th() {
        assert_eq!(
            skew_time(Version::V2, Priority(255), Duration::from_secs(1)),
            ms(3.90625)
        );
        assert_eq!(
            skew_time(Version::V3, Priority(255), Duration::from_secs(1)),
            ms(3.90625)
        );
    }

    #[test]
    fn down_timer_adverts_multiplies_the_interval() {
        let down = master_down_interval(Version::V3, Priority(200), Duration::from_millis(100), 5);
        // 5 x 100 ms + 56 x 100 ms / 256 = 500 ms + 21.875 ms
        assert_eq!(down, ms(521.875));
    }
}
