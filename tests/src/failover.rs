//! What a capture says about one change of master: when the old master was last heard (or said
//! goodbye with priority 0), when the new one first advertised, how long after that it
//! announced the VIP (gratuitous ARP / unsolicited NA), and whether anyone else kept
//! advertising.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::capture::{Frame, Timestamp};

/// How a router appears on the wire: the source address of its adverts and the MAC its
/// gratuitous ARPs / neighbour adverts come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Speaker {
    pub name: &'static str,
    pub advert_source: IpAddr,
    pub mac: String,
}

/// One change of master, read off a capture.
#[derive(Clone, Debug, PartialEq)]
pub struct Handover {
    /// The old master's last advert with a non-zero priority before the new master's first.
    pub old_last_advert: Option<Timestamp>,
    /// The old master's first priority-0 advert (it stopped cleanly), before the new master's
    /// first advert.
    pub old_priority_zero: Option<Timestamp>,
    /// The new master's first advert after the event that caused the change.
    pub new_first_advert: Timestamp,
    /// The priority in that advert.
    pub new_priority: u8,
    /// The new master's first gratuitous ARP / unsolicited NA for the VIP at or after its
    /// first advert.
    pub first_announce: Option<Timestamp>,
    /// The old master's last advert (any priority) after the new master's first: a master
    /// that kept advertising once the other took over (two masters) shows here.
    pub old_advert_after: Option<Timestamp>,
}

impl Handover {
    /// Reads the change from `old` to `new` in `frames` for `vrid`, looking only at frames
    /// from `event` (the failure or the recovery) to `until`.
    pub fn find(
        frames: &[Frame],
        vrid: u8,
        old: &Speaker,
        new: &Speaker,
        vip: IpAddr,
        event: Timestamp,
        until: Timestamp,
    ) -> anyhow::Result<Self> {
        let adverts = |speaker: &Speaker| adverts_from(frames, vrid, speaker.advert_source);
        let first = adverts(new)
            .find(|f| f.time >= event && f.time < until && priority(f) > 0)
            .with_context(|| {
                format!(
                    "no advert from {} ({}) between the event and the end of the window",
                    new.name, new.advert_source
                )
            })?;
        let old_last_advert = adverts(old)
            .filter(|f| f.time <= first.time && priority(f) > 0)
            .map(|f| f.time)
            .next_back();
        let old_priority_zero = adverts(old)
            .find(|f| f.time >= event && f.time <= first.time && priority(f) == 0)
            .map(|f| f.time);
        let first_announce = frames
            .iter()
            .find(|f| {
                f.time >= first.time && f.time < until && f.mac == new.mac && f.announces(vip)
            })
            .map(|f| f.time);
        let old_advert_after = adverts(old)
            .filter(|f| f.time > first.time && f.time < until)
            .map(|f| f.time)
            .next_back();
        Ok(Self {
            old_last_advert,
            old_priority_zero,
            new_first_advert: first.time,
            new_priority: priority(first),
            first_announce,
            old_advert_after,
        })
    }

    /// From the old master's last advert to the new master's first, minus
    /// `master_down_interval`: how late the backup declared the master down.
    pub fn down_overshoot_ms(&self, master_down_interval: Duration) -> anyhow::Result<f64> {
        let last = self
            .old_last_advert
            .context("the old master's last advert is not in the capture")?;
        Ok(self.new_first_advert.ms_since(last) - ms(master_down_interval))
    }

    /// From the old master's priority-0 advert to the new master's first, minus `skew_time`.
    pub fn skew_overshoot_ms(&self, skew_time: Duration) -> anyhow::Result<f64> {
        let zero = self
            .old_priority_zero
            .context("the old master sent no priority-0 advert")?;
        Ok(self.new_first_advert.ms_since(zero) - ms(skew_time))
    }

    /// From the new master's first advert to its first gratuitous ARP / unsolicited NA.
    pub fn announce_delay_ms(&self) -> Option<f64> {
        Some(self.first_announce?.ms_since(self.new_first_advert))
    }
}

fn adverts_from(
    frames: &[Frame],
    vrid: u8,
    source: IpAddr,
) -> impl DoubleEndedIterator<Item = &Frame> {
    frames.iter().filter(move |f| {
        f.advert()
            .is_some_and(|a| a.vrid == vrid && a.source == source)
    })
}

fn priority(frame: &Frame) -> u8 {
    frame.advert().map_or(0, |a| a.priority)
}

pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Every problem tshark found, one line per frame: `frame N: problem, problem`.
pub fn problems(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| !f.problems.is_empty())
        .map(|f| format!("frame {}: {}", f.number, f.problems.join(", ")))
        .collect()
}

/// Fails unless only `speaker` advertised `vrid` in the last `span` of the frames before
/// `until`, and it did advertise there.
pub fn sole_advertiser(
    frames: &[Frame],
    vrid: u8,
    speaker: &Speaker,
    until: Timestamp,
    span: Duration,
) -> anyhow::Result<()> {
    let from = Timestamp(until.0.saturating_sub(span.as_nanos() as u64));
    let mut seen = false;
    for frame in frames.iter().filter(|f| f.time >= from && f.time < until) {
        let Some(advert) = frame.advert() else {
            continue;
        };
        if advert.vrid != vrid {
            continue;
        }
        if advert.source != speaker.advert_source {
            bail!(
                "{} advertised (frame {}, priority {}) in the last {span:?} where only {} should",
                advert.source,
                frame.number,
                advert.priority,
                speaker.name
            );
        }
        seen = true;
    }
    if !seen {
        bail!("{} sent no advert in the last {span:?}", speaker.name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Advert, FrameKind};

    fn speaker(name: &'static str, last: u8) -> Speaker {
        Speaker {
            name,
            advert_source: IpAddr::from([192, 0, 2, last]),
            mac: format!("02:00:00:00:00:0{last}"),
        }
    }

    fn at(ms: f64) -> Timestamp {
        Timestamp(1_000_000_000_000 + (ms * 1e6) as u64)
    }

    fn advert(number: u64, time_ms: f64, from: u8, priority: u8) -> Frame {
        Frame {
            number,
            time: at(time_ms),
            mac: format!("02:00:00:00:00:0{from}"),
            kind: FrameKind::Advert(Advert {
                source: IpAddr::from([192, 0, 2, from]),
                version: 3,
                kind: 1,
                vrid: 51,
                priority,
            }),
            problems: Vec::new(),
        }
    }

    fn garp(number: u64, time_ms: f64, from: u8) -> Frame {
        Frame {
            number,
            time: at(time_ms),
            mac: format!("02:00:00:00:00:0{from}"),
            kind: FrameKind::Arp {
                opcode: 1,
                sender: [192, 0, 2, 100].into(),
                target: [192, 0, 2, 100].into(),
            },
            problems: Vec::new(),
        }
    }

    const VIP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 100));

    #[test]
    fn a_crash_is_timed_from_the_last_advert() {
        let frames = [
            advert(1, 0.0, 1, 150),
            garp(2, 10.0, 1),
            advert(3, 100.0, 1, 150),
            // r1 dies after 150 ms; r2 (priority 100) waits 360.9375 ms after its last advert.
            advert(4, 462.0, 2, 100),
            garp(5, 465.5, 2),
            advert(6, 562.0, 2, 100),
        ];
        let handover = Handover::find(
            &frames,
            51,
            &speaker("r1", 1),
            &speaker("r2", 2),
            VIP,
            at(150.0),
            at(1e4),
        )
        .unwrap();
        assert_eq!(handover.old_last_advert, Some(at(100.0)));
        assert_eq!(handover.new_first_advert, at(462.0));
        assert_eq!(handover.new_priority, 100);
        assert_eq!(handover.old_priority_zero, None);
        assert_eq!(handover.old_advert_after, None);
        let overshoot = handover
            .down_overshoot_ms(Duration::from_nanos(360_937_500))
            .unwrap();
        assert!((overshoot - 1.0625).abs() < 1e-6, "{overshoot}");
        assert!((handover.announce_delay_ms().unwrap() - 3.5).abs() < 1e-6);
        assert!(handover.skew_overshoot_ms(Duration::ZERO).is_err());
    }

    #[test]
    fn a_clean_stop_is_timed_from_the_priority_zero_advert() {
        let frames = [
            advert(1, 0.0, 1, 150),
            advert(2, 50.0, 1, 0),
            advert(3, 111.5, 2, 100),
            garp(4, 112.0, 2),
        ];
        let handover = Handover::find(
            &frames,
            51,
            &speaker("r1", 1),
            &speaker("r2", 2),
            VIP,
            at(40.0),
            at(1e4),
        )
        .unwrap();
        assert_eq!(handover.old_priority_zero, Some(at(50.0)));
        assert_eq!(handover.old_last_advert, Some(at(0.0)));
        let overshoot = handover
            .skew_overshoot_ms(Duration::from_nanos(60_937_500))
            .unwrap();
        assert!((overshoot - 0.5625).abs() < 1e-6, "{overshoot}");
    }

    #[test]
    fn adverts_before_the_event_and_garps_from_others_do_not_count() {
        let frames = [
            // A stray advert from r2 before the failure is not its takeover.
            advert(1, 0.0, 2, 100),
            advert(2, 10.0, 1, 150),
            advert(3, 400.0, 2, 100),
            // r1's late GARP is not r2's.
            garp(4, 401.0, 1),
            advert(5, 402.0, 1, 150),
        ];
        let handover = Handover::find(
            &frames,
            51,
            &speaker("r1", 1),
            &speaker("r2", 2),
            VIP,
            at(5.0),
            at(1e4),
        )
        .unwrap();
        assert_eq!(handover.new_first_advert, at(400.0));
        assert_eq!(handover.first_announce, None);
        assert_eq!(handover.old_advert_after, Some(at(402.0)));
    }

    #[test]
    fn no_takeover_is_an_error() {
        let frames = [advert(1, 0.0, 1, 150)];
        assert!(
            Handover::find(
                &frames,
                51,
                &speaker("r1", 1),
                &speaker("r2", 2),
                VIP,
                at(0.0),
                at(1e4)
            )
            .is_err()
        );
    }

    #[test]
    fn a_second_advertiser_at_the_end_is_reported() {
        let frames = [
            advert(1, 0.0, 1, 150),
            advert(2, 100.0, 1, 150),
            advert(3, 150.0, 2, 100),
            advert(4, 200.0, 1, 150),
        ];
        let r1 = speaker("r1", 1);
        assert!(sole_advertiser(&frames, 51, &r1, at(250.0), Duration::from_millis(200)).is_err());
        assert!(sole_advertiser(&frames, 51, &r1, at(250.0), Duration::from_millis(90)).is_ok());
        assert!(
            sole_advertiser(&frames, 51, &r1, at(400.0), Duration::from_millis(100)).is_err(),
            "silence is not a sole advertiser"
        );
    }
}
