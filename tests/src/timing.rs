//! The VRRP timers a backup runs on, as RFC 3768/5798 section 6.1 and keepalived compute them:
//! the oracle the failover measurements are compared with. Written independently of the
//! daemon's engine on purpose, so that a shared mistake cannot make both agree.

use std::time::Duration;

/// The VRRP version an instance speaks; it decides how Skew_Time scales.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VrrpVersion {
    V2,
    V3,
}

/// How many advert intervals a backup waits before declaring the master down (keepalived's
/// `down_timer_adverts`, 3 by default and in the RFCs).
pub const DOWN_TIMER_ADVERTS: u32 = 3;

/// Skew_Time of a backup with `priority` whose master advertises every `master_adver_interval`.
///
/// - v3 (RFC 5798 6.1): `(256 - Priority) * Master_Adver_Interval / 256`, so it scales with the
///   interval. keepalived computes it in microseconds; computed here in nanoseconds (the RFC's
///   centisecond arithmetic would truncate 6.09 ms to 0 at a 10 ms interval).
/// - v2 (RFC 3768 6.1): `(256 - Priority) / 256` seconds, whatever the interval (keepalived
///   keeps this: a v2 skew does not scale).
pub fn skew_time(version: VrrpVersion, priority: u8, master_adver_interval: Duration) -> Duration {
    let weight = 256 - u128::from(priority);
    let nanos = match version {
        VrrpVersion::V2 => weight * 1_000_000_000 / 256,
        VrrpVersion::V3 => weight * master_adver_interval.as_nanos() / 256,
    };
    Duration::from_nanos(u64::try_from(nanos).expect("a skew fits in u64 nanoseconds"))
}

/// Master_Down_Interval: `3 * Master_Adver_Interval + Skew_Time` (RFC 5798 6.1).
pub fn master_down_interval(
    version: VrrpVersion,
    priority: u8,
    master_adver_interval: Duration,
) -> Duration {
    master_adver_interval * DOWN_TIMER_ADVERTS + skew_time(version, priority, master_adver_interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(value: f64) -> Duration {
        Duration::from_nanos((value * 1e6).round() as u64)
    }

    #[test]
    fn v2_skew_is_in_seconds_and_does_not_scale() {
        assert_eq!(
            skew_time(VrrpVersion::V2, 100, Duration::from_secs(1)),
            ms(609.375)
        );
        assert_eq!(
            skew_time(VrrpVersion::V2, 100, Duration::from_secs(3)),
            ms(609.375)
        );
        assert_eq!(
            skew_time(VrrpVersion::V2, 255, Duration::from_secs(1)),
            ms(3.90625)
        );
    }

    #[test]
    fn v2_master_down_at_one_second() {
        // 3 x 1 s + 156/256 s
        assert_eq!(
            master_down_interval(VrrpVersion::V2, 100, Duration::from_secs(1)),
            ms(3609.375)
        );
        // The preempting side, priority 150: 3 s + 106/256 s
        assert_eq!(
            master_down_interval(VrrpVersion::V2, 150, Duration::from_secs(1)),
            ms(3414.0625)
        );
    }

    #[test]
    fn v3_skew_scales_with_the_interval() {
        assert_eq!(
            skew_time(VrrpVersion::V3, 100, Duration::from_millis(100)),
            ms(60.9375)
        );
        assert_eq!(
            skew_time(VrrpVersion::V3, 100, Duration::from_millis(10)),
            ms(6.09375)
        );
        assert_eq!(
            skew_time(VrrpVersion::V3, 1, Duration::from_millis(100)),
            ms(99.609375)
        );
    }

    #[test]
    fn v3_master_down_matches_the_rfc_and_keepalived() {
        // 3 x 100 ms + 156 x 100 ms / 256
        assert_eq!(
            master_down_interval(VrrpVersion::V3, 100, Duration::from_millis(100)),
            ms(360.9375)
        );
        // The measured anchor in keepalived-compat.md section 7: 36.09 ms at 10 ms.
        assert_eq!(
            master_down_interval(VrrpVersion::V3, 100, Duration::from_millis(10)),
            ms(36.09375)
        );
    }
}
