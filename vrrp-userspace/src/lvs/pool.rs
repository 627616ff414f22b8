//! Which real servers a virtual service forwards to, and with what weight, from what the
//! checkers say: keepalived 2.2.7's `ipwrapper.c` as a pure state machine.
//!
//! - A real server is alive while none of its checkers is down (an `alpha` checker starts
//!   down); a server without checkers is always alive.
//! - Alive: in the pool with its effective weight (`misc_dynamic` may change it). Not alive:
//!   out of the pool, or kept with weight 0 when `inhibit_on_failure`.
//! - Quorum: the alive servers' weights must add up to `quorum` (plus `hysteresis` to regain
//!   it, minus `hysteresis` to lose it). Without quorum a `sorry_server` replaces the pool
//!   (servers with `inhibit_on_failure` stay at weight 0); `quorum_up`/`quorum_down` run.

use super::diff::{self, Pairing};
use super::settings::VirtualService;

/// A pool member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Member {
    Real(usize),
    Sorry,
}

/// What changed, for notify scripts and the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolEvent {
    RealUp(usize),
    RealDown(usize),
    Weight { real: usize, from: u32, to: u32 },
    QuorumUp { weight_sum: u64, threshold: i64 },
    QuorumDown { weight_sum: u64, threshold: i64 },
}

#[derive(Clone, Debug)]
struct Real {
    /// Checkers down now.
    failed: Vec<bool>,
    weight: u32,
    inhibit: bool,
}

impl Real {
    fn alive(&self) -> bool {
        !self.failed.iter().any(|f| *f)
    }
}

#[derive(Clone, Debug)]
pub struct Pool {
    quorum: u32,
    hysteresis: u32,
    quorum_up: bool,
    reals: Vec<Real>,
    sorry: Option<bool>,
}

/// IPVS's weight limit (keepalived's `real_weight`).
const WEIGHT_MAX: u32 = 65535;

impl Pool {
    /// The pool at start: servers without failed (alpha) checkers are alive; the quorum is
    /// evaluated as keepalived's `init_service_vs` does (gained or lost at once).
    pub fn new(service: &VirtualService) -> (Self, Vec<PoolEvent>) {
        let mut pool = Self {
            quorum: service.quorum,
            hysteresis: service.hysteresis,
            quorum_up: false,
            reals: service
                .reals
                .iter()
                .map(|r| Real {
                    failed: r.checks.iter().map(|c| c.alpha).collect(),
                    weight: r.weight.min(WEIGHT_MAX),
                    inhibit: r.inhibit,
                })
                .collect(),
            sorry: service.sorry.as_ref().map(|s| s.inhibit),
        };
        let mut events = Vec::new();
        pool.update_quorum(&mut events);
        (pool, events)
    }

    /// The pool of a service that continues after a reload (keepalived's `clear_diff_rs`,
    /// `migrate_checkers` and `init_service_vs`): `reals` pairs the new real servers with the
    /// old ones. A kept server keeps what its unchanged checkers said (a new `alpha` checker
    /// counts as down while another checker is down or the server was not alive), and its
    /// weight, unless the configured weight changed: then the new one applies (keepalived
    /// keeps the running weight; see the README). A new server starts as at startup. The
    /// quorum state continues and is evaluated again. Events carry the new indices; the
    /// second list holds the removed servers that were alive (old indices): their
    /// `notify_down` runs, as keepalived's `clear_service_rs`.
    pub fn reload(
        &self,
        old: &VirtualService,
        new: &VirtualService,
        reals: &Pairing,
    ) -> (Self, Vec<PoolEvent>, Vec<usize>) {
        let (mut pool, _) = Self::new(new);
        pool.quorum_up = self.quorum_up;
        let mut events = Vec::new();
        for (index, carried) in reals.carry.iter().enumerate() {
            let Some(o) = *carried else { continue };
            let before = &self.reals[o];
            let checkers = diff::checkers(&old.reals[o].checks, &new.reals[index].checks);
            let migrated_failed = checkers.carry.iter().flatten().any(|&c| before.failed[c]);
            let real = &mut pool.reals[index];
            for (c, carried) in checkers.carry.iter().enumerate() {
                real.failed[c] = match carried {
                    Some(old_checker) => before.failed[*old_checker],
                    None => {
                        new.reals[index].checks[c].alpha && (migrated_failed || !before.alive())
                    }
                };
            }
            if old.reals[o].weight == new.reals[index].weight {
                real.weight = before.weight;
            }
            match (before.alive(), real.alive()) {
                (false, true) => events.push(PoolEvent::RealUp(index)),
                (true, false) => events.push(PoolEvent::RealDown(index)),
                (true, true) if before.weight != real.weight => events.push(PoolEvent::Weight {
                    real: index,
                    from: before.weight,
                    to: real.weight,
                }),
                _ => {}
            }
        }
        let gone = reals
            .removed
            .iter()
            .copied()
            .filter(|&o| self.reals[o].alive())
            .collect();
        pool.update_quorum(&mut events);
        (pool, events, gone)
    }

    /// Which checkers of `real` are up now (for the checker tasks started after a reload).
    pub fn checkers_up(&self, real: usize) -> Vec<bool> {
        self.reals
            .get(real)
            .map(|r| r.failed.iter().map(|f| !f).collect())
            .unwrap_or_default()
    }

    pub fn quorum_up(&self) -> bool {
        self.quorum_up
    }

    pub fn alive(&self, real: usize) -> bool {
        self.reals.get(real).is_some_and(Real::alive)
    }

    pub fn weight(&self, real: usize) -> u32 {
        self.reals.get(real).map_or(0, |r| r.weight)
    }

    fn weight_sum(&self) -> u64 {
        self.reals
            .iter()
            .filter(|r| r.alive())
            .map(|r| r.weight as u64)
            .sum()
    }

    /// keepalived's `update_quorum_state`.
    fn update_quorum(&mut self, events: &mut Vec<PoolEvent>) {
        let weight_sum = self.weight_sum();
        let hysteresis = self.hysteresis as i64;
        let threshold = self.quorum as i64
            + if self.quorum_up {
                -hysteresis
            } else {
                hysteresis
            };
        if !self.quorum_up && weight_sum as i64 >= threshold {
            self.quorum_up = true;
            events.push(PoolEvent::QuorumUp {
                weight_sum,
                threshold,
            });
        } else if self.quorum_up && (weight_sum == 0 || (weight_sum as i64) < threshold) {
            self.quorum_up = false;
            events.push(PoolEvent::QuorumDown {
                weight_sum,
                threshold,
            });
        } else if events.is_empty() && !self.quorum_up && self.sorry.is_some() {
            // keepalived starts "with quorum down" and the sorry server in the pool.
        }
    }

    /// A checker of `real` went up or down.
    pub fn checker(&mut self, real: usize, checker: usize, up: bool) -> Vec<PoolEvent> {
        let mut events = Vec::new();
        let Some(r) = self.reals.get_mut(real) else {
            return events;
        };
        let was = r.alive();
        if let Some(failed) = r.failed.get_mut(checker) {
            *failed = !up;
        }
        let now = r.alive();
        if was != now {
            events.push(if now {
                PoolEvent::RealUp(real)
            } else {
                PoolEvent::RealDown(real)
            });
            self.update_quorum(&mut events);
        }
        events
    }

    /// `misc_dynamic` asked for another weight.
    pub fn set_weight(&mut self, real: usize, weight: u32) -> Vec<PoolEvent> {
        let mut events = Vec::new();
        let Some(r) = self.reals.get_mut(real) else {
            return events;
        };
        let weight = weight.min(WEIGHT_MAX);
        if r.weight != weight {
            events.push(PoolEvent::Weight {
                real,
                from: r.weight,
                to: weight,
            });
            r.weight = weight;
            self.update_quorum(&mut events);
        }
        events
    }

    /// The members the data path should have now, with their weights (0: kept for its
    /// flows, no new ones).
    pub fn members(&self) -> Vec<(Member, u32)> {
        let sorry_active = !self.quorum_up && self.sorry.is_some();
        let mut members = Vec::new();
        for (i, real) in self.reals.iter().enumerate() {
            if sorry_active {
                if real.inhibit {
                    members.push((Member::Real(i), 0));
                }
            } else if real.alive() {
                members.push((Member::Real(i), real.weight));
            } else if real.inhibit {
                members.push((Member::Real(i), 0));
            }
        }
        match self.sorry {
            Some(_) if sorry_active => members.push((Member::Sorry, 1)),
            Some(true) => members.push((Member::Sorry, 0)),
            _ => {}
        }
        members
    }

    /// Alive real servers (for omega's notifies at shutdown).
    pub fn alive_reals(&self) -> Vec<usize> {
        (0..self.reals.len()).filter(|&i| self.alive(i)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lvs::settings::{Method, Protocol, RealService, Scheduler};

    fn service(weights: &[u32], quorum: u32, hysteresis: u32, sorry: bool) -> VirtualService {
        let real = |w: u32, i: usize| RealService {
            addr: std::net::IpAddr::from([10, 0, 0, i as u8 + 1]),
            port: 80,
            method: Method::Dr,
            weight: w,
            inhibit: i == 0,
            alpha: false,
            notify_up: None,
            notify_down: None,
            checks: vec![crate::checkers::CheckSpec {
                kind: crate::checkers::CheckKind::Tcp,
                target: (std::net::IpAddr::from([10, 0, 0, 1]), 80),
                bindto: None,
                connect_timeout: std::time::Duration::from_secs(1),
                delay_loop: std::time::Duration::from_secs(1),
                retry: 0,
                delay_before_retry: std::time::Duration::from_secs(1),
                warmup: std::time::Duration::ZERO,
                alpha: false,
            }],
        };
        VirtualService {
            name: "test".into(),
            keys: vec![],
            protocol: Protocol::Tcp,
            scheduler: Scheduler::Wrr,
            hash_port: false,
            one_packet: false,
            persistence: None,
            granularity: [0xff; 16],
            quorum,
            hysteresis,
            quorum_up: None,
            quorum_down: None,
            omega: false,
            sorry: sorry.then(|| {
                let mut s = real(1, 9);
                s.inhibit = false;
                s
            }),
            reals: weights
                .iter()
                .enumerate()
                .map(|(i, &w)| real(w, i))
                .collect(),
        }
    }

    #[test]
    fn inhibit_keeps_weight_zero_others_leave() {
        let (mut pool, events) = Pool::new(&service(&[3, 1], 1, 0, false));
        assert!(matches!(events[..], [PoolEvent::QuorumUp { .. }]));
        assert_eq!(
            pool.members(),
            vec![(Member::Real(0), 3), (Member::Real(1), 1)]
        );
        assert_eq!(pool.checker(0, 0, false), vec![PoolEvent::RealDown(0)]);
        assert_eq!(pool.checker(1, 0, false)[0], PoolEvent::RealDown(1));
        assert_eq!(pool.members(), vec![(Member::Real(0), 0)]);
        assert!(!pool.quorum_up());
    }

    #[test]
    fn sorry_server_replaces_the_pool_without_quorum_and_hysteresis_delays_regaining() {
        let (mut pool, _) = Pool::new(&service(&[2, 2], 3, 1, true));
        assert!(pool.quorum_up());
        // 4 -> 2 < 3 - 1? no: lost only below quorum - hysteresis = 2.
        assert!(
            pool.checker(1, 0, false)
                .iter()
                .all(|e| !matches!(e, PoolEvent::QuorumDown { .. }))
        );
        let events = pool.checker(0, 0, false);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, PoolEvent::QuorumDown { .. }))
        );
        assert_eq!(
            pool.members(),
            vec![(Member::Real(0), 0), (Member::Sorry, 1)]
        );
        // Regaining needs quorum + hysteresis = 4: one server back (2) is not enough.
        assert!(
            pool.checker(0, 0, true)
                .iter()
                .all(|e| !matches!(e, PoolEvent::QuorumUp { .. }))
        );
        assert!(
            pool.checker(1, 0, true)
                .iter()
                .any(|e| matches!(e, PoolEvent::QuorumUp { .. }))
        );
        assert_eq!(
            pool.members(),
            vec![(Member::Real(0), 2), (Member::Real(1), 2)]
        );
    }

    #[test]
    fn reload_keeps_states_applies_weights_and_starts_new_servers() {
        let old = service(&[3, 1, 2], 1, 0, false);
        let (mut pool, _) = Pool::new(&old);
        pool.checker(0, 0, false);
        pool.set_weight(2, 7);
        // Server 1 (10.0.0.2) leaves while alive; 0 stays down; 2 keeps its running weight
        // (its configured weight did not change); a new server 10.0.0.9 comes.
        let mut new = service(&[3, 2], 1, 0, false);
        new.reals[1] = old.reals[2].clone();
        let mut added = old.reals[0].clone();
        added.addr = std::net::IpAddr::from([10, 0, 0, 9]);
        added.weight = 4;
        new.reals.push(added);
        let pairing = diff::reals(&old.reals, &new.reals);
        assert_eq!(pairing.carry, vec![Some(0), Some(2), None]);
        let (reloaded, events, gone) = pool.reload(&old, &new, &pairing);
        assert_eq!(gone, vec![1]);
        assert!(events.is_empty(), "{events:?}");
        assert!(!reloaded.alive(0));
        assert_eq!(reloaded.weight(1), 7);
        assert!(reloaded.alive(2));
        assert_eq!(
            reloaded.members(),
            vec![
                (Member::Real(0), 0),
                (Member::Real(1), 7),
                (Member::Real(2), 4)
            ]
        );
        // A changed configured weight applies.
        let mut heavier = new.clone();
        heavier.reals[1].weight = 9;
        let same = diff::reals(&new.reals, &heavier.reals);
        let (reweighted, events, _) = reloaded.reload(&new, &heavier, &same);
        assert_eq!(
            events,
            vec![PoolEvent::Weight {
                real: 1,
                from: 7,
                to: 9
            }]
        );
        assert_eq!(reweighted.weight(1), 9);
    }

    #[test]
    fn reload_migrates_only_unchanged_checkers_and_new_alpha_checkers_wait() {
        let old = service(&[1], 1, 0, false);
        let (mut pool, _) = Pool::new(&old);
        pool.checker(0, 0, false);
        // The same checker plus a new alpha one: the server stays down, the new checker
        // counts as down until it succeeded once.
        let mut new = old.clone();
        let mut alpha = new.reals[0].checks[0].clone();
        alpha.alpha = true;
        alpha.target.1 = 8080;
        new.reals[0].checks.push(alpha);
        let pairing = diff::reals(&old.reals, &new.reals);
        let (reloaded, events, _) = pool.reload(&old, &new, &pairing);
        assert!(events.is_empty());
        assert_eq!(reloaded.checkers_up(0), vec![false, false]);
        // A changed checker starts afresh (up, as at startup): the server comes back.
        let mut changed = old.clone();
        changed.reals[0].checks[0].connect_timeout = std::time::Duration::from_secs(9);
        let (reloaded, events, _) = pool.reload(&old, &changed, &pairing);
        assert_eq!(events[0], PoolEvent::RealUp(0));
        assert_eq!(reloaded.checkers_up(0), vec![true]);
    }
}
