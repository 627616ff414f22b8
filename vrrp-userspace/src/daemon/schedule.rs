//! Every instance's next deadline in one indexed min-heap: the loop arms its one timerfd for
//! the earliest, takes out every instance that is due when it fires, and puts back each
//! instance's new deadline after the engine handled it. O(log n) per change and no allocation
//! after construction, so a thousand masters advertising every 10 ms cost no more than their
//! adverts; instances whose deadlines coincide (those that became master together keep one
//! schedule: the engine schedules from the previous deadline) are handled in one wakeup and
//! their adverts go out in one `sendmmsg`.

use crate::engine::{InstanceId, Timestamp};

const ABSENT: u32 = u32::MAX;

/// Deadlines by instance, earliest first (ties by instance, so the order is deterministic).
#[derive(Debug)]
pub struct DeadlineQueue {
    /// Instances with a deadline, as a binary heap on `(at, instance)`.
    heap: Vec<u32>,
    /// Where each instance sits in `heap`, or [`ABSENT`].
    slot: Vec<u32>,
    at: Vec<Timestamp>,
}

impl DeadlineQueue {
    pub fn new(instances: usize) -> Self {
        Self {
            heap: Vec::with_capacity(instances),
            slot: vec![ABSENT; instances],
            at: vec![Timestamp::ZERO; instances],
        }
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Timestamp> {
        self.heap.first().map(|&i| self.at[i as usize])
    }

    /// Sets (or clears) an instance's deadline.
    pub fn set(&mut self, id: InstanceId, at: Option<Timestamp>) {
        let index = id.0;
        let slot = self.slot[index];
        match (at, slot) {
            (None, ABSENT) => {}
            (None, slot) => self.remove_at(slot as usize),
            (Some(at), ABSENT) => {
                self.at[index] = at;
                self.heap.push(index as u32);
                let last = self.heap.len() - 1;
                self.slot[index] = last as u32;
                self.sift_up(last);
            }
            (Some(at), slot) => {
                let earlier = at < self.at[index];
                self.at[index] = at;
                if earlier {
                    self.sift_up(slot as usize);
                } else {
                    self.sift_down(slot as usize);
                }
            }
        }
    }

    /// The instance's deadline, if it has one.
    pub fn get(&self, id: InstanceId) -> Option<Timestamp> {
        (self.slot[id.0] != ABSENT).then(|| self.at[id.0])
    }

    /// Takes every instance whose deadline is at or before `now` out of the queue, earliest
    /// first, with its deadline, into `out` (cleared first).
    pub fn pop_due(&mut self, now: Timestamp, out: &mut Vec<(InstanceId, Timestamp)>) {
        out.clear();
        while let Some(&first) = self.heap.first() {
            let at = self.at[first as usize];
            if at > now {
                break;
            }
            out.push((InstanceId(first as usize), at));
            self.remove_at(0);
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    fn key(&self, position: usize) -> (Timestamp, u32) {
        let index = self.heap[position];
        (self.at[index as usize], index)
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.slot[self.heap[a] as usize] = a as u32;
        self.slot[self.heap[b] as usize] = b as u32;
    }

    fn remove_at(&mut self, position: usize) {
        let last = self.heap.len() - 1;
        self.swap(position, last);
        let removed = self.heap.pop().expect("not empty");
        self.slot[removed as usize] = ABSENT;
        if position < self.heap.len() {
            self.sift_down(position);
            self.sift_up(position);
        }
    }

    fn sift_up(&mut self, mut position: usize) {
        while position > 0 {
            let parent = (position - 1) / 2;
            if self.key(position) >= self.key(parent) {
                break;
            }
            self.swap(position, parent);
            position = parent;
        }
    }

    fn sift_down(&mut self, mut position: usize) {
        loop {
            let left = 2 * position + 1;
            if left >= self.heap.len() {
                break;
            }
            let right = left + 1;
            let child = if right < self.heap.len() && self.key(right) < self.key(left) {
                right
            } else {
                left
            };
            if self.key(child) >= self.key(position) {
                break;
            }
            self.swap(position, child);
            position = child;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn earliest_first_ties_by_instance_and_updates_move_entries() {
        let mut queue = DeadlineQueue::new(6);
        for (id, ms) in [(0, 50), (1, 10), (2, 30), (3, 10), (4, 70), (5, 20)] {
            queue.set(InstanceId(id), Some(at(ms)));
        }
        queue.set(InstanceId(4), Some(at(5)));
        queue.set(InstanceId(0), None);
        queue.set(InstanceId(2), Some(at(40)));
        assert_eq!(queue.next(), Some(at(5)));
        assert_eq!(queue.get(InstanceId(0)), None);
        let mut due = Vec::new();
        queue.pop_due(at(20), &mut due);
        assert_eq!(
            due,
            [
                (InstanceId(4), at(5)),
                (InstanceId(1), at(10)),
                (InstanceId(3), at(10)),
                (InstanceId(5), at(20))
            ]
        );
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.next(), Some(at(40)));
        queue.pop_due(at(100), &mut due);
        assert_eq!(due, [(InstanceId(2), at(40))]);
        assert!(queue.is_empty());
    }

    #[test]
    fn agrees_with_a_sorted_list_under_random_changes() {
        // A small deterministic generator: no dependency for one test.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let count = 64;
        let mut queue = DeadlineQueue::new(count);
        let mut model: Vec<Option<Timestamp>> = vec![None; count];
        let mut due = Vec::new();
        for round in 0..5_000u64 {
            let id = (next() % count as u64) as usize;
            let value = (next() % 4 != 0).then(|| at(round + next() % 100));
            queue.set(InstanceId(id), value);
            model[id] = value;
            if round % 50 == 0 {
                let now = at(round);
                queue.pop_due(now, &mut due);
                let mut expected: Vec<(Timestamp, usize)> = model
                    .iter()
                    .enumerate()
                    .filter_map(|(i, a)| a.filter(|a| *a <= now).map(|a| (a, i)))
                    .collect();
                expected.sort();
                let expected: Vec<(InstanceId, Timestamp)> = expected
                    .into_iter()
                    .map(|(a, i)| (InstanceId(i), a))
                    .collect();
                assert_eq!(due, expected, "round {round}");
                for (id, _) in &due {
                    model[id.0] = None;
                }
            }
            let earliest = model.iter().flatten().min().copied();
            assert_eq!(queue.next(), earliest, "round {round}");
        }
    }
}
