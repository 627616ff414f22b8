//! Priority arithmetic from tracked interfaces, scripts, files and processes (keepalived's
//! `track_*`), and the rise/fall counting of script results.

use crate::protocol::Priority;

use super::config::{TrackerConfig, TrackerId, TrackerKind};

/// A tracked file's status at or below this puts its instances in FAULT (keepalived's -254).
const FILE_FAULT: i64 = -254;
/// The most a tracked file adds to a priority (keepalived caps the status at 253).
const FILE_MAX: i64 = 253;

/// What a tracker currently says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// No result yet: adds no weight; a weight-0 script holds its instance in FAULT.
    Unknown,
    Up,
    Down,
    /// The number a tracked file holds (keepalived's `track_file`): it is multiplied by the
    /// weight instead of switching it on or off.
    Value(i64),
}

/// A tracker's configuration and running status.
#[derive(Clone, Debug)]
pub struct Tracker {
    config: TrackerConfig,
    status: Status,
    /// Consecutive successes (positive) or failures (negative) of a script.
    streak: i64,
    /// Added to a running instance by a reload (keepalived's SCRIPT_INIT_STATE_INIT_RELOAD):
    /// until it reports, it does not hold the instance in FAULT as a new script does at
    /// startup.
    added_on_reload: bool,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Self {
        let status = match config.kind {
            // keepalived's `init_fail`: the script counts as failed until it succeeds `rise` times.
            TrackerKind::Script {
                init_fail: true, ..
            } => Status::Down,
            _ => Status::Unknown,
        };
        Self {
            config,
            status,
            streak: 0,
            added_on_reload: false,
        }
    }

    /// A tracker a reload adds to a running instance. keepalived (vrrp_data.c alloc_vrrp_script,
    /// vrrp_track.c initialise_track_script_state) gives a script first seen on a reload the
    /// state SCRIPT_INIT_STATE_INIT_RELOAD, which does not count in `num_script_init`: the
    /// instance keeps its state (a master stays master) until the script's first result,
    /// which then counts as at startup. `init_fail` still starts it failed.
    pub fn added_on_reload(config: TrackerConfig) -> Self {
        Self {
            added_on_reload: true,
            ..Self::new(config)
        }
    }

    /// The same tracked object under a new configuration (a reload): what it last said is
    /// kept, so a reload neither forgets a failed script nor waits for a passing one again.
    pub fn reconfigured(&self, config: TrackerConfig) -> Self {
        Self {
            config,
            status: self.status,
            streak: self.streak,
            added_on_reload: self.added_on_reload,
        }
    }

    pub fn id(&self) -> TrackerId {
        self.config.id
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// `Some(true)` while the tracked object is up (a script OK, a file whose value does not
    /// fault), `None` before its first report.
    pub fn is_up(&self) -> Option<bool> {
        match self.status {
            Status::Unknown => None,
            Status::Up => Some(true),
            Status::Down => Some(false),
            Status::Value(value) => Some(!self.file_fault(value)),
        }
    }

    /// A tracker whose weight moves the priority (not weight 0, which only faults).
    pub fn is_weighted(&self) -> bool {
        self.config.weight != 0
    }

    /// An up/down report (interfaces, files, processes); returns whether the status changed.
    pub fn set_up(&mut self, up: bool) -> bool {
        let status = if up { Status::Up } else { Status::Down };
        std::mem::replace(&mut self.status, status) != status
    }

    /// The number in a tracked file (0 when the file is missing or holds no number, as
    /// keepalived reads it); returns whether what the tracker contributes changed.
    pub fn set_value(&mut self, value: i64) -> bool {
        let before = (self.adjustment(), self.causes_fault());
        self.status = Status::Value(value);
        before != (self.adjustment(), self.causes_fault())
    }

    /// A script result: the first one counts at once, after that `rise` consecutive successes
    /// turn a failed script OK and `fall` consecutive failures turn an OK one failed.
    pub fn script_result(&mut self, success: bool) -> bool {
        let (rise, fall) = match self.config.kind {
            TrackerKind::Script { rise, fall, .. } => {
                (i64::from(rise.max(1)), i64::from(fall.max(1)))
            }
            _ => (1, 1),
        };
        self.streak = match (success, self.streak) {
            (true, streak) if streak > 0 => streak + 1,
            (true, _) => 1,
            (false, streak) if streak < 0 => streak - 1,
            (false, _) => -1,
        };
        let next = match self.status {
            Status::Unknown => {
                if success {
                    Status::Up
                } else {
                    Status::Down
                }
            }
            Status::Down if self.streak >= rise => Status::Up,
            Status::Up if -self.streak >= fall => Status::Down,
            unchanged => unchanged,
        };
        std::mem::replace(&mut self.status, next) != next
    }

    /// keepalived's weight multiplier: `reverse` negates the weight (vrrp_track.c).
    fn multiplier(&self) -> i32 {
        if self.config.reverse { -1 } else { 1 }
    }

    /// Weight 0 puts the instance in FAULT while the tracked object is down (with `reverse`:
    /// while it is up).
    pub fn causes_fault(&self) -> bool {
        if let Status::Value(value) = self.status {
            return self.file_fault(value);
        }
        self.config.weight == 0
            && match self.status {
                Status::Unknown | Status::Value(_) => false,
                Status::Up => self.config.reverse,
                Status::Down => !self.config.reverse,
            }
    }

    /// keepalived's track_file (update_track_file_status, process_update_vrrp_track_file_status):
    /// with weight 0 a non-zero value is a FAULT (with `reverse`, a zero value); otherwise the
    /// value times the weight (negated by `reverse`) is the status, and -254 or less is a FAULT.
    fn file_fault(&self, value: i64) -> bool {
        if self.config.weight == 0 {
            (value != 0) != self.config.reverse
        } else {
            self.file_status(value) <= FILE_FAULT
        }
    }

    /// value x weight x multiplier, saturated (keepalived computes it in 64 bits, then
    /// clamps it to an int).
    fn file_status(&self, value: i64) -> i64 {
        value
            .saturating_mul(i64::from(self.config.weight))
            .saturating_mul(i64::from(self.multiplier()))
    }

    /// A weight-0 script that has not reported yet (keepalived's `num_script_init`), unless a
    /// reload added it to a running instance.
    pub fn pending(&self) -> bool {
        self.config.weight == 0
            && self.status == Status::Unknown
            && !self.added_on_reload
            && matches!(self.config.kind, TrackerKind::Script { .. })
    }

    /// keepalived's arithmetic: a positive weight (times the multiplier) is added while up, a
    /// negative one while down; nothing before the first report. So `weight 10 reverse` takes
    /// 10 off while up and nothing while down.
    pub fn adjustment(&self) -> i32 {
        let weight = self.config.weight;
        if let Status::Value(value) = self.status {
            // A file adds its status, at most 253; at -254 or below it faults instead and
            // adds nothing (keepalived removes its share when it faults).
            if weight == 0 || self.file_fault(value) {
                return 0;
            }
            return self.file_status(value).min(FILE_MAX) as i32;
        }
        match self.status {
            Status::Up if weight > 0 => weight * self.multiplier(),
            Status::Down if weight < 0 => weight * self.multiplier(),
            _ => 0,
        }
    }
}

/// Effective priority: base plus every tracker's adjustment, clamped to 1..=254; an address
/// owner (255) is never adjusted (keepalived's rules).
pub fn effective_priority(base: Priority, trackers: &[Tracker]) -> Priority {
    if base.0 == 255 {
        return base;
    }
    let total = i32::from(base.0) + trackers.iter().map(Tracker::adjustment).sum::<i32>();
    Priority(total.clamp(1, 254) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(kind: TrackerKind, weight: i32, reverse: bool) -> Tracker {
        Tracker::new(TrackerConfig {
            id: TrackerId(0),
            kind,
            weight,
            reverse,
        })
    }

    fn script(rise: u32, fall: u32, init_fail: bool, weight: i32) -> Tracker {
        tracker(
            TrackerKind::Script {
                rise,
                fall,
                init_fail,
            },
            weight,
            false,
        )
    }

    #[test]
    fn positive_weight_adds_while_ok_negative_while_failed() {
        let mut plus = tracker(TrackerKind::Interface, 20, false);
        let mut minus = tracker(TrackerKind::Interface, -30, false);
        assert_eq!(
            effective_priority(Priority(100), &[plus.clone(), minus.clone()]),
            Priority(100)
        );
        plus.set_up(true);
        minus.set_up(true);
        assert_eq!(
            effective_priority(Priority(100), &[plus.clone(), minus.clone()]),
            Priority(120)
        );
        plus.set_up(false);
        minus.set_up(false);
        assert_eq!(
            effective_priority(Priority(100), &[plus, minus]),
            Priority(70)
        );
    }

    #[test]
    fn reverse_negates_the_weight() {
        // keepalived: weight +10 reverse takes 10 off while up, nothing while down.
        let mut plus = tracker(TrackerKind::File, 10, true);
        plus.set_up(true);
        assert_eq!(
            effective_priority(Priority(100), &[plus.clone()]),
            Priority(90)
        );
        plus.set_up(false);
        assert_eq!(effective_priority(Priority(100), &[plus]), Priority(100));
        // weight -50 reverse adds 50 while down, nothing while up.
        let mut minus = tracker(TrackerKind::File, -50, true);
        minus.set_up(true);
        assert_eq!(
            effective_priority(Priority(100), &[minus.clone()]),
            Priority(100)
        );
        minus.set_up(false);
        assert_eq!(effective_priority(Priority(100), &[minus]), Priority(150));
    }

    #[test]
    fn reverse_with_weight_zero_faults_while_up() {
        let mut link = tracker(TrackerKind::Interface, 0, true);
        link.set_up(false);
        assert!(!link.causes_fault());
        link.set_up(true);
        assert!(link.causes_fault());
    }

    #[test]
    fn weight_zero_script_is_pending_until_its_first_result() {
        let mut check = script(1, 1, false, 0);
        assert!(check.pending());
        assert!(!check.causes_fault());
        check.script_result(true);
        assert!(!check.pending());
        let interface = tracker(TrackerKind::Interface, 0, false);
        assert!(
            !interface.pending(),
            "only scripts hold an instance until they report"
        );
    }

    #[test]
    fn a_weight_zero_script_added_by_a_reload_holds_nothing_until_it_fails() {
        let config = |init_fail| TrackerConfig {
            id: TrackerId(0),
            kind: TrackerKind::Script {
                rise: 1,
                fall: 1,
                init_fail,
            },
            weight: 0,
            reverse: false,
        };
        let mut check = Tracker::added_on_reload(config(false));
        assert!(!check.pending());
        assert!(!check.causes_fault());
        assert!(
            !check.reconfigured(config(false)).pending(),
            "still not pending after another reload"
        );
        check.script_result(false);
        assert!(check.causes_fault());
        assert!(
            Tracker::added_on_reload(config(true)).causes_fault(),
            "init_fail still starts it failed"
        );
    }

    #[test]
    fn clamped_to_1_through_254_and_owner_never_adjusted() {
        let mut big = tracker(TrackerKind::Interface, 253, false);
        big.set_up(true);
        assert_eq!(
            effective_priority(Priority(200), &[big.clone()]),
            Priority(254)
        );
        let mut sink = tracker(TrackerKind::Interface, -253, false);
        sink.set_up(false);
        assert_eq!(
            effective_priority(Priority(100), &[sink.clone()]),
            Priority(1)
        );
        assert_eq!(
            effective_priority(Priority(255), &[big, sink]),
            Priority(255)
        );
    }

    #[test]
    fn weight_zero_faults_only_while_failed() {
        let mut link = tracker(TrackerKind::Interface, 0, false);
        assert!(!link.causes_fault(), "unknown is not a fault");
        link.set_up(false);
        assert!(link.causes_fault());
        link.set_up(true);
        assert!(!link.causes_fault());
    }

    #[test]
    fn script_first_result_counts_at_once_then_rise_and_fall() {
        let mut check = script(3, 2, false, 10);
        assert!(check.script_result(true), "first result applies at once");
        assert_eq!(check.adjustment(), 10);
        assert!(!check.script_result(false), "one failure is below fall=2");
        assert!(check.script_result(false), "second failure reaches fall=2");
        assert_eq!(check.adjustment(), 0);
        assert!(!check.script_result(true));
        assert!(!check.script_result(true));
        assert!(check.script_result(true), "third success reaches rise=3");
        assert_eq!(check.adjustment(), 10);
    }

    fn file(weight: i32, reverse: bool) -> Tracker {
        tracker(TrackerKind::File, weight, reverse)
    }

    #[test]
    fn file_value_times_weight_is_added_capped_at_253() {
        let mut f = file(10, false);
        assert!(f.set_value(3));
        assert_eq!(f.adjustment(), 30);
        assert!(!f.set_value(3), "same value, nothing changes");
        f.set_value(-5);
        assert_eq!(f.adjustment(), -50);
        f.set_value(100);
        assert_eq!(f.adjustment(), 253);
        assert!(!f.causes_fault());
        f.set_value(i64::MAX);
        assert_eq!(f.adjustment(), 253, "saturates instead of overflowing");
    }

    #[test]
    fn file_status_of_minus_254_or_less_faults_and_adds_nothing() {
        let mut f = file(2, false);
        f.set_value(-126);
        assert_eq!(f.adjustment(), -252);
        assert!(!f.causes_fault());
        f.set_value(-127);
        assert!(f.causes_fault());
        assert_eq!(f.adjustment(), 0);
        // reverse negates: a positive value with a positive weight takes priority away.
        let mut r = file(100, true);
        r.set_value(2);
        assert_eq!(r.adjustment(), -200);
        r.set_value(3);
        assert!(r.causes_fault());
    }

    #[test]
    fn file_with_weight_zero_faults_on_non_zero_and_reverse_on_zero() {
        let mut f = file(0, false);
        f.set_value(0);
        assert!(!f.causes_fault());
        f.set_value(7);
        assert!(f.causes_fault());
        assert_eq!(f.adjustment(), 0);
        let mut r = file(0, true);
        r.set_value(0);
        assert!(r.causes_fault());
        r.set_value(-1);
        assert!(!r.causes_fault());
    }

    #[test]
    fn init_fail_starts_failed_and_needs_rise_successes() {
        let mut check = script(2, 1, true, 0);
        assert!(check.causes_fault());
        assert!(!check.script_result(true));
        assert!(check.script_result(true));
        assert!(!check.causes_fault());
    }
}
