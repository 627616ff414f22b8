//! The engine's receive policy as the XDP program reads it (`vrrp_policy`): what counts as a
//! live master, and the inputs of a backup's master-down timer, which the program computes
//! with the engine's formula (RFC 5798 section 6.1, keepalived's v2 skew).

use std::net::IpAddr;
use std::time::Duration;

use vrrp_common::{POLICY_ACCEPT_LOWER, POLICY_BACKUP, POLICY_FAULT, POLICY_INIT, POLICY_MASTER};

use crate::engine::{ReceivePolicy, State, Timestamp};
use crate::protocol::Family;

pub(super) fn kernel_state(state: State) -> u8 {
    match state {
        State::Initialize | State::Stopped => POLICY_INIT,
        State::Backup => POLICY_BACKUP,
        State::Master => POLICY_MASTER,
        State::Fault => POLICY_FAULT,
    }
}

/// An interval as the map's centiseconds (VRRP's unit; v2 seconds are whole centiseconds).
fn to_centiseconds(interval: Duration) -> u16 {
    (interval.as_millis() / 10).min(u128::from(u16::MAX)) as u16
}

/// The engine's receive policy as the program reads it.
pub fn kernel_policy(
    policy: &ReceivePolicy,
    source: Option<IpAddr>,
    generation: u32,
) -> vrrp_common::ReceivePolicy {
    vrrp_common::ReceivePolicy {
        state: kernel_state(policy.state),
        priority: policy.priority.0,
        flags: if policy.accept_lower {
            POLICY_ACCEPT_LOWER
        } else {
            0
        },
        version: policy.version.number(),
        local_addr: source.map_or([0; 16], |s| Family::map_bytes(&s)),
        down_timer_adverts: policy.down_timer_adverts.min(255) as u8,
        _pad: 0,
        advert_interval_cs: to_centiseconds(policy.advert_interval),
        master_adver_interval_cs: to_centiseconds(policy.master_adver_interval),
        _pad2: 0,
        generation,
        preempt_until_ns: policy.accept_lower_until.map_or(0, Timestamp::as_nanos),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::timers::{master_down_interval, skew_time};
    use crate::protocol::{Priority, Version};

    fn policy(version: Version, priority: u8, interval: Duration, adverts: u32) -> ReceivePolicy {
        ReceivePolicy {
            state: State::Backup,
            priority: Priority(priority),
            accept_lower: false,
            accept_lower_until: None,
            version,
            down_timer_adverts: adverts,
            advert_interval: interval,
            master_adver_interval: interval,
        }
    }

    /// The kernel's master-down timer and the engine's deadline are one formula, to the
    /// nanosecond: every priority, both versions, intervals from 10 ms to 40.95 s.
    #[test]
    fn the_kernel_computes_master_down_as_the_engine_does() {
        for version in [Version::V2, Version::V3] {
            for cs in [1u16, 2, 7, 10, 33, 100, 300, 4095] {
                let interval = Duration::from_millis(u64::from(cs) * 10);
                for adverts in [1, 3, 7] {
                    for priority in 1..=255u8 {
                        let engine = policy(version, priority, interval, adverts);
                        let kernel = kernel_policy(&engine, None, 1);
                        assert_eq!(kernel.master_adver_interval_cs, cs);
                        assert_eq!(
                            u128::from(kernel.master_down_interval_ns(cs)),
                            master_down_interval(version, Priority(priority), interval, adverts)
                                .as_nanos(),
                            "{version:?} priority {priority} interval {cs} cs x{adverts}"
                        );
                        assert_eq!(
                            u128::from(kernel.skew_time_ns(cs)),
                            skew_time(version, Priority(priority), interval).as_nanos()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_policy_carries_the_preempt_window_and_the_generation() {
        let mut engine = policy(Version::V3, 100, Duration::from_millis(100), 3);
        engine.accept_lower = true;
        engine.accept_lower_until = Some(Timestamp::from_nanos(5_000_000_000));
        let kernel = kernel_policy(&engine, Some("192.0.2.2".parse().unwrap()), 7);
        assert_eq!(kernel.flags, POLICY_ACCEPT_LOWER);
        assert_eq!(kernel.preempt_until_ns, 5_000_000_000);
        assert!(kernel.accepts_lower(4_999_999_999));
        assert!(!kernel.accepts_lower(5_000_000_000));
        assert_eq!(kernel.generation, 7);
        assert_eq!(kernel.version, 3);
        assert_eq!(&kernel.local_addr[..4], &[192, 0, 2, 2]);
    }
}
