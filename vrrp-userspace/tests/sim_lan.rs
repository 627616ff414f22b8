//! A simulated LAN of 2 to 5 VRRP engines exchanging adverts through a model network with
//! delay, loss, partitions, crashes/restarts and priority changes, driven by a seeded RNG on
//! virtual time. Adverts travel as the frames the engine built and are decoded by the codec.
//!
//! `SIM_SEEDS=N` sets how many seeds run (default 400); `SIM_SEED=S` replays one seed. A
//! failing seed prints the command that replays it exactly.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use xvrrpd::engine::{
    Action, AdvertPacket, Event, Flavor, InstanceConfig, InstanceId, InstanceSettings, MacAddr,
    RoutedAction, Router, State, Timestamp, TrackerConfig, TrackerId, TrackerKind,
    timers::master_down_interval,
};
use xvrrpd::protocol::{Frame, Priority, Version, decode_frame};

/// The tracked uplink of every router.
const UPLINK: TrackerId = TrackerId(0);

const INTERVAL: Duration = Duration::from_millis(100);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
/// The tracked uplink lowers a router's priority by this much while it is down.
const UPLINK_WEIGHT: i32 = -60;

/// SplitMix64: small, seedable, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Something scheduled on the virtual timeline.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Happening {
    /// An advert frame from `from` arrives at `to`.
    Deliver {
        to: usize,
        from: usize,
        frame: Vec<u8>,
    },
    Crash(usize),
    Restart(usize),
    Partition {
        side: Vec<bool>,
    },
    Heal,
    Uplink {
        router: usize,
        up: bool,
    },
}

struct Node {
    router: Option<Router>,
    config: InstanceConfig,
    holds_vip: bool,
}

#[derive(Debug)]
struct Scenario {
    nodes: usize,
    priorities: Vec<u8>,
    preempt: Vec<bool>,
    max_delay: Duration,
    loss_percent: u64,
    disruptions: Vec<(Timestamp, Happening)>,
    end: Timestamp,
}

fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

fn address(node: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, node as u8 + 1))
}

fn scenario(seed: u64) -> Scenario {
    let mut rng = Rng(seed);
    let nodes = 2 + rng.below(4) as usize;
    // Ties happen on purpose: then the higher address must win.
    let priorities = (0..nodes)
        .map(|_| [50, 100, 100, 150, 200, 254][rng.below(6) as usize])
        .collect();
    let preempt = (0..nodes).map(|_| !rng.chance(10)).collect();
    let max_delay = ms(rng.below(20));
    let loss_percent = if rng.chance(30) { rng.below(6) } else { 0 };
    let mut disruptions = Vec::new();
    let mut t = ms(2_000);
    for _ in 0..rng.below(5) {
        t += ms(500 + rng.below(3_000));
        let at = Timestamp::ZERO + t;
        let router = rng.below(nodes as u64) as usize;
        match rng.below(3) {
            0 => {
                disruptions.push((at, Happening::Crash(router)));
                t += ms(200 + rng.below(3_000));
                disruptions.push((Timestamp::ZERO + t, Happening::Restart(router)));
            }
            1 => {
                let side = (0..nodes).map(|_| rng.chance(50)).collect();
                disruptions.push((at, Happening::Partition { side }));
                t += ms(200 + rng.below(3_000));
                disruptions.push((Timestamp::ZERO + t, Happening::Heal));
            }
            _ => {
                disruptions.push((at, Happening::Uplink { router, up: false }));
                t += ms(200 + rng.below(3_000));
                disruptions.push((Timestamp::ZERO + t, Happening::Uplink { router, up: true }));
            }
        }
    }
    // The quiet period after the last disruption: many times the slowest takeover (priority
    // 50: 3.8 intervals).
    let end = Timestamp::ZERO + t + ms(3_000);
    Scenario {
        nodes,
        priorities,
        preempt,
        max_delay,
        loss_percent,
        disruptions,
        end,
    }
}

fn instance_config(scenario: &Scenario, node: usize) -> InstanceConfig {
    let mut settings = InstanceSettings::new(
        "VI_1",
        51,
        address(node),
        MacAddr([2, 0, 0, 0, 0, node as u8 + 1]),
    );
    settings.flavor = Flavor::V3Ipv4;
    settings.advert_interval = INTERVAL;
    settings.priority = Priority(scenario.priorities[node]);
    settings.preempt = scenario.preempt[node];
    settings.advertised = vec![IpAddr::V4(VIP)];
    settings.trackers = vec![TrackerConfig {
        id: UPLINK,
        kind: TrackerKind::Interface,
        weight: UPLINK_WEIGHT,
        reverse: false,
    }];
    InstanceConfig::new(settings).expect("a valid instance")
}

/// What the run observed, for the properties.
#[derive(Default, Debug)]
struct Trace {
    /// (time, node, state) of every state change.
    changes: Vec<(Timestamp, usize, State)>,
    /// Time of every advert a node sent with a priority other than 0.
    sent: Vec<(Timestamp, usize)>,
    /// (crash time, crashed node) of every crash of a master.
    master_crashes: Vec<(Timestamp, usize)>,
    /// (arrival, sender) of every advert with a priority other than 0.
    deliveries: Vec<(Timestamp, usize)>,
    /// Periods of partition.
    partitions: Vec<(Timestamp, Timestamp)>,
    digest: u64,
    violations: Vec<String>,
}

struct Sim {
    scenario: Scenario,
    rng: Rng,
    nodes: Vec<Node>,
    queue: BinaryHeap<Reverse<(Timestamp, u64, Happening)>>,
    sequence: u64,
    partition: Option<Vec<bool>>,
    uplink_up: Vec<bool>,
    trace: Trace,
}

impl Sim {
    fn new(seed: u64) -> Self {
        let scenario = scenario(seed);
        let nodes = (0..scenario.nodes)
            .map(|node| Node {
                router: None,
                config: instance_config(&scenario, node),
                holds_vip: false,
            })
            .collect();
        let mut sim = Self {
            rng: Rng(seed ^ 0x5eed),
            nodes,
            queue: BinaryHeap::new(),
            sequence: 0,
            partition: None,
            uplink_up: vec![true; scenario.nodes],
            trace: Trace::default(),
            scenario,
        };
        for (at, happening) in sim.scenario.disruptions.clone() {
            sim.schedule(at, happening);
        }
        for node in 0..sim.scenario.nodes {
            // Routers boot a few milliseconds apart.
            let at = Timestamp::ZERO + ms(sim.rng.below(50));
            sim.schedule(at, Happening::Restart(node));
        }
        sim
    }

    fn schedule(&mut self, at: Timestamp, happening: Happening) {
        self.sequence += 1;
        self.queue.push(Reverse((at, self.sequence, happening)));
    }

    fn next_timer(&self) -> Option<(Timestamp, usize)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                n.router
                    .as_ref()
                    .and_then(Router::next_deadline)
                    .map(|t| (t, i))
            })
            .min()
    }

    fn run(mut self) -> Trace {
        // A scenario of about 20 s at 100 ms adverts needs a few thousand steps; far more
        // means the engines are answering each other in a loop.
        for step in 0.. {
            if step == 1_000_000 {
                self.trace
                    .violations
                    .push("livelock: a million steps without reaching the end".into());
                return self.trace;
            }
            let next_event = self.queue.peek().map(|Reverse((t, ..))| *t);
            let next_timer = self.next_timer();
            let now = match (next_event, next_timer) {
                (None, None) => break,
                (Some(e), Some((t, _))) => e.min(t),
                (Some(e), None) => e,
                (None, Some((t, _))) => t,
            };
            if now > self.scenario.end {
                break;
            }
            if let Some((t, node)) =
                next_timer.filter(|(t, _)| *t == now && next_event.is_none_or(|e| *t <= e))
            {
                let actions = self.nodes[node]
                    .router
                    .as_mut()
                    .expect("timer of a live node")
                    .handle_timers(t);
                self.perform(t, node, actions);
                continue;
            }
            let Reverse((now, _, happening)) = self.queue.pop().expect("peeked");
            self.happen(now, happening);
        }
        self.check_end();
        self.trace
    }

    fn happen(&mut self, now: Timestamp, happening: Happening) {
        self.trace.digest = self.trace.digest.rotate_left(5) ^ now.as_nanos();
        match happening {
            Happening::Deliver { to, from, frame } => {
                let Some(router) = self.nodes[to].router.as_mut() else {
                    return;
                };
                let Frame::Advert(received) = decode_frame(&frame) else {
                    self.trace.violations.push(format!(
                        "node {from} sent a frame the codec rejects: {:?}",
                        decode_frame(&frame)
                    ));
                    return;
                };
                if received.advert.priority.0 != 0 {
                    self.trace.deliveries.push((now, from));
                }
                let event = Event::Advert {
                    src: received.src,
                    priority: received.advert.priority,
                    interval: received.advert.interval,
                };
                let actions = router.handle(now, InstanceId(0), event);
                self.perform(now, to, actions);
            }
            Happening::Crash(node) => {
                if let Some(router) = self.nodes[node].router.take()
                    && router.instance(InstanceId(0)).state() == State::Master
                {
                    self.trace.master_crashes.push((now, node));
                }
                // A crashed host loses its addresses with it.
                self.nodes[node].holds_vip = false;
                self.trace.changes.push((now, node, State::Stopped));
            }
            Happening::Restart(node) => {
                let mut router = Router::new(vec![self.nodes[node].config.clone()], Vec::new())
                    .expect("one instance");
                let mut actions = router.handle(
                    now,
                    InstanceId(0),
                    Event::Tracker {
                        tracker: UPLINK,
                        up: self.uplink_up[node],
                    },
                );
                actions.extend(router.handle(now, InstanceId(0), Event::Startup));
                self.nodes[node].router = Some(router);
                self.perform(now, node, actions);
            }
            Happening::Partition { side } => {
                self.partition = Some(side);
                self.trace.partitions.push((now, self.scenario.end));
            }
            Happening::Heal => {
                self.partition = None;
                if let Some(last) = self.trace.partitions.last_mut() {
                    last.1 = now;
                }
            }
            Happening::Uplink { router: node, up } => {
                self.uplink_up[node] = up;
                if let Some(router) = self.nodes[node].router.as_mut() {
                    let actions = router.handle(
                        now,
                        InstanceId(0),
                        Event::Tracker {
                            tracker: UPLINK,
                            up,
                        },
                    );
                    self.perform(now, node, actions);
                }
            }
        }
    }

    fn perform(&mut self, now: Timestamp, node: usize, actions: Vec<RoutedAction>) {
        for (_, action) in actions {
            match action {
                Action::SendAdvert {
                    priority, packets, ..
                } => {
                    if priority.0 != 0 {
                        self.trace.sent.push((now, node));
                    }
                    for to in (0..self.nodes.len()).filter(|&to| to != node) {
                        let cut = self
                            .partition
                            .as_ref()
                            .is_some_and(|side| side[to] != side[node]);
                        if cut || self.rng.chance(self.scenario.loss_percent) {
                            continue;
                        }
                        let delay = Duration::from_micros(
                            self.rng
                                .below(self.scenario.max_delay.as_micros() as u64 + 1),
                        );
                        for packet in packets.iter() {
                            let AdvertPacket::Multicast { frame } = packet else {
                                unreachable!("the simulated routers are multicast instances");
                            };
                            self.schedule(
                                now + delay,
                                Happening::Deliver {
                                    to,
                                    from: node,
                                    frame: frame.to_vec(),
                                },
                            );
                        }
                    }
                }
                Action::AddAddresses => {
                    if std::mem::replace(&mut self.nodes[node].holds_vip, true) {
                        self.trace
                            .violations
                            .push(format!("{now:?}: node {node} added the VIP twice"));
                    }
                }
                Action::RemoveAddresses => {
                    if !std::mem::replace(&mut self.nodes[node].holds_vip, false) {
                        self.trace.violations.push(format!(
                            "{now:?}: node {node} removed a VIP it did not hold"
                        ));
                    }
                }
                Action::StateChanged { to, .. } => {
                    self.trace.digest =
                        self.trace.digest.rotate_left(7) ^ (node as u64 * 31 + to as u64);
                    self.trace.changes.push((now, node, to));
                }
                Action::Announce { .. }
                | Action::CancelAnnouncements
                | Action::MasterRxLowerPriority { .. }
                | Action::PriorityChanged { .. }
                | Action::SyncGroupState { .. }
                | Action::Anomaly(_) => {}
            }
        }
    }

    fn effective_priority(&self, node: usize) -> u8 {
        let base = i32::from(self.scenario.priorities[node]);
        let adjusted = if self.uplink_up[node] {
            base
        } else {
            base + UPLINK_WEIGHT
        };
        if base == 255 {
            255
        } else {
            adjusted.clamp(1, 254) as u8
        }
    }

    fn check_end(&mut self) {
        let masters: Vec<usize> = (0..self.nodes.len())
            .filter(|&n| {
                self.nodes[n]
                    .router
                    .as_ref()
                    .is_some_and(|r| r.instance(InstanceId(0)).state() == State::Master)
            })
            .collect();
        if masters.len() != 1 {
            self.trace.violations.push(format!(
                "after the quiet period there are {} masters: {masters:?}",
                masters.len()
            ));
            return;
        }
        // VIP add/remove balance: a node holds the VIP exactly when it is master.
        for (n, node) in self.nodes.iter().enumerate() {
            let master = masters.contains(&n);
            if node.holds_vip != master {
                self.trace.violations.push(format!(
                    "node {n} holds the VIP: {}, is master: {master}",
                    node.holds_vip
                ));
            }
        }
        // The best router wins, unless a non-preempting one keeps a lower master. Among equal
        // priorities the address breaks the tie only when two contend at once: a backup
        // accepts a master of equal priority (RFC 5798 section 6.4.2), so any of them may stay.
        if self.scenario.preempt.iter().all(|p| *p) {
            let best = (0..self.nodes.len())
                .filter(|&n| self.nodes[n].router.is_some())
                .max_by_key(|&n| (self.effective_priority(n), n))
                .expect("someone is alive");
            if self.effective_priority(masters[0]) != self.effective_priority(best) {
                self.trace.violations.push(format!(
                    "master is node {} (priority {}), the best is node {best} (priority {})",
                    masters[0],
                    self.effective_priority(masters[0]),
                    self.effective_priority(best)
                ));
            }
        }
        self.check_takeovers();
        self.check_dual_masters();
    }

    /// After the master crashed, someone sends its first advert as master within the
    /// slowest live backup's Master_Down_Interval plus the network delay of the last advert.
    fn check_takeovers(&mut self) {
        let slowest = (0..self.nodes.len())
            .map(|n| {
                master_down_interval(
                    Version::V3,
                    Priority(self.effective_priority(n).min(254)),
                    INTERVAL,
                    3,
                )
            })
            .max()
            .unwrap_or_default();
        for &(crash, crashed) in &self.trace.master_crashes {
            // Adverts still in flight when the master crashed count as heard.
            let in_flight_until = crash + self.scenario.max_delay;
            let heard = self
                .trace
                .deliveries
                .iter()
                .filter(|(t, from)| *from == crashed && *t <= in_flight_until);
            let Some(last_heard) = heard.map(|(t, _)| *t).max() else {
                continue;
            };
            // Only clean cases: no loss, no partition, nobody else disrupted meanwhile.
            let deadline =
                last_heard + slowest + self.scenario.max_delay + Duration::from_micros(1);
            let disturbed = self.scenario.loss_percent > 0
                || self
                    .trace
                    .partitions
                    .iter()
                    .any(|(from, to)| *from <= deadline && *to >= last_heard)
                || self.scenario.disruptions.iter().any(|(t, h)| {
                    *t > crash
                        && *t <= deadline
                        && !matches!(h, Happening::Restart(n) if *n == crashed)
                });
            if disturbed {
                continue;
            }
            let took_over = self.trace.changes.iter().any(|(t, n, s)| {
                *s == State::Master && *n != crashed && *t > crash && *t <= deadline
            });
            let already = self
                .trace
                .changes
                .iter()
                .filter(|(t, _, _)| *t <= crash)
                .fold(vec![false; self.nodes.len()], |mut m, (_, n, s)| {
                    m[*n] = *s == State::Master;
                    m
                });
            let other_master = already.iter().enumerate().any(|(n, m)| *m && n != crashed);
            if !took_over && !other_master {
                self.trace.violations.push(format!(
                    "master node {crashed} crashed at {crash:?}; no one took over by {deadline:?} (last advert heard {last_heard:?})"
                ));
            }
        }
    }

    /// Two masters at once only while a partition lasts, or for as long as it takes the
    /// loser to hear the winner (an interval and the delay; longer with packet loss).
    fn check_dual_masters(&mut self) {
        let mut state = vec![State::Initialize; self.nodes.len()];
        let mut dual_since: Option<Timestamp> = None;
        let allowance = if self.scenario.loss_percent > 0 {
            INTERVAL * 6
        } else {
            INTERVAL * 2
        } + self.scenario.max_delay;
        let mut events = self.trace.changes.clone();
        events.push((self.scenario.end, usize::MAX, State::Initialize));
        for (t, node, to) in events {
            if node != usize::MAX {
                state[node] = to;
            }
            let masters = state.iter().filter(|s| **s == State::Master).count();
            match (dual_since, masters >= 2) {
                (None, true) => dual_since = Some(t),
                (Some(since), false) => {
                    dual_since = None;
                    let partitioned = self
                        .trace
                        .partitions
                        .iter()
                        .any(|(from, to)| *from <= t && *to + allowance >= since);
                    if !partitioned && t - since > allowance {
                        self.trace.violations.push(format!(
                            "two masters from {since:?} to {t:?} without a partition"
                        ));
                    }
                }
                _ => {}
            }
        }
    }
}

fn run_seed(seed: u64) -> Trace {
    Sim::new(seed).run()
}

#[test]
fn simulated_lan_properties_hold_for_many_seeds() {
    let seeds: Vec<u64> = match std::env::var("SIM_SEED") {
        Ok(seed) => vec![seed.parse().expect("SIM_SEED is a number")],
        Err(_) => {
            let count = std::env::var("SIM_SEEDS")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(400);
            (0..count).collect()
        }
    };
    let mut failures = Vec::new();
    for &seed in &seeds {
        let trace = run_seed(seed);
        if !trace.violations.is_empty() {
            failures.push(format!(
                "seed {seed} ({:?}):\n  {}\n  replay: SIM_SEED={seed} cargo test -p vrrp-userspace --test sim_lan",
                scenario(seed),
                trace.violations.join("\n  ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} seeds failed:\n{}",
        failures.len(),
        seeds.len(),
        failures.join("\n")
    );
    eprintln!("simulated LAN: {} seeds, all properties held", seeds.len());
}

#[test]
fn a_seed_replays_exactly() {
    for seed in [7, 1234, 99_999] {
        let first = run_seed(seed);
        let second = run_seed(seed);
        assert_eq!(first.digest, second.digest, "seed {seed}");
        assert_eq!(first.changes, second.changes, "seed {seed}");
        assert!(!first.sent.is_empty(), "seed {seed}: someone advertised");
    }
}
