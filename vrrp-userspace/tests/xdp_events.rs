//! The event rule and the state map under the policy (BPF_PROG_TEST_RUN): steady state is
//! silent, a master hears every other router, a flapping master is one contended state,
//! events are rate-limited per instance, priority 0 always gets through, and counters stay
//! exact with two CPUs running the program at once. Needs root.

mod xdp_lab;

use std::net::IpAddr;

use vrrp_common::*;
use xdp_lab::*;
use xvrrpd::dataplane::{Dataplane, test_run};
use xvrrpd::protocol::{FrameSpec, Version};

fn from(src: IpAddr, priority: u8) -> Vec<u8> {
    frame(&FrameSpec::multicast(
        src,
        advert(Version::V3, 52, priority, vec![v4(101)]),
    ))
}

fn k52() -> InstanceKey {
    key(52, group4())
}

#[test]
fn backup_is_silent_in_steady_state() {
    let mut lab = configured_lab();
    lab.policy(&k52(), POLICY_BACKUP, 100, 0);
    assert_eq!(lab.run(&from(v4(1), 150)), XDP_PASS);
    let events = lab.drain_events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].kinds, EVENT_NEW_MASTER | EVENT_AFTER_SILENCE);
    assert_eq!(events[0].policy_state, POLICY_BACKUP);
    assert_eq!(events[0].seq, lab.state(&k52()).seq);
    for _ in 0..50 {
        lab.run(&from(v4(1), 150));
    }
    assert!(
        lab.drain_events().is_empty(),
        "steady adverts raise nothing"
    );
    let state = lab.state(&k52());
    assert_eq!(state.seq, 1, "no change, no new seq");
    assert_eq!(state.master_adverts, 51);
    assert_eq!(lab.counters(&k52()).received, 51);

    // A priority change and a leaving master are news.
    lab.run(&from(v4(1), 160));
    lab.run(&from(v4(1), 0));
    let kinds: Vec<u32> = lab.drain_events().iter().map(|e| e.kinds).collect();
    assert_eq!(
        kinds,
        [
            EVENT_PRIORITY_CHANGE,
            EVENT_PRIORITY_CHANGE | EVENT_PRIORITY_ZERO
        ]
    );
    let state = lab.state(&k52());
    assert_ne!(state.last_priority_zero_ns, 0);
    assert_eq!(lab.counters(&k52()).priority_zero_received, 1);
}

#[test]
fn alive_follows_the_policy() {
    let mut lab = configured_lab();
    lab.policy(&k52(), POLICY_BACKUP, 100, 0);
    lab.run(&from(v4(1), 50));
    let state = lab.state(&k52());
    assert_eq!(
        state.last_alive_ns, 0,
        "lower priority is not 'master alive'"
    );
    assert_ne!(state.last_seen_ns, 0, "but it is seen");
    lab.policy(&k52(), POLICY_BACKUP, 100, POLICY_ACCEPT_LOWER);
    lab.run(&from(v4(1), 50));
    let state = lab.state(&k52());
    assert_eq!(
        state.last_alive_ns, state.last_seen_ns,
        "nopreempt accepts lower"
    );
    assert_eq!(state.alive_priority, 50);
    lab.run(&from(v4(1), 0));
    assert_ne!(
        lab.state(&k52()).last_alive_ns,
        lab.state(&k52()).last_seen_ns
    );
}

#[test]
fn master_hears_higher_and_lower_routers() {
    let mut lab = configured_lab();
    lab.policy(&k52(), POLICY_MASTER, 100, 0);
    for (src, priority, kind) in [
        (v4(1), 150, EVENT_HIGHER),
        (v4(1), 50, EVENT_LOWER),
        // Equal priority: the higher primary address wins (RFC 5798 section 6.4.3); ours is .2.
        (v4(1), 100, EVENT_LOWER),
        (v4(9), 100, EVENT_HIGHER),
    ] {
        lab.run(&from(src, priority));
        let events = lab.drain_events();
        assert_eq!(events.len(), 1, "{src} {priority}: {events:?}");
        assert_ne!(events[0].kinds & kind, 0, "{src} {priority}");
        assert_eq!(events[0].policy_state, POLICY_MASTER);
    }
    // Even the same lower router every time: a master answers each (rate-limited) advert.
    lab.run(&from(v4(9), 50));
    lab.drain_events();
    lab.run(&from(v4(9), 50));
    let events = lab.drain_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kinds, EVENT_LOWER);
}

#[test]
fn alternating_sources_are_one_contended_state_with_bounded_events() {
    let mut lab = configured_lab();
    let (a, b) = (from(v4(1), 150), from(v4(7), 140));
    for i in 0..2000 {
        let frame = if i % 2 == 0 { &a } else { &b };
        assert_eq!(lab.run(frame), XDP_PASS);
    }
    let events = lab.drain_events();
    eprintln!("2,000 alternating adverts: {} events", events.len());
    // The first advert, a source change or two, then "contended": never one per packet.
    assert!(
        events.len() <= EVENT_BURST as usize,
        "{} events",
        events.len()
    );
    assert!(
        events.iter().any(|e| e.kinds & EVENT_CONTENDED != 0),
        "{events:?}"
    );
    let state = lab.state(&k52());
    assert_ne!(state.flags & STATE_CONTENDED, 0);
    assert!(
        state.contended_changes >= 1990,
        "{}",
        state.contended_changes
    );
    assert_eq!(
        &state.master_addr[..4],
        &[192, 0, 2, 7],
        "the last advert's source"
    );
    let last = events.last().expect("events");
    assert!(last.seq <= state.seq);
    assert_eq!(lab.counters(&k52()).received, 2000, "every advert counted");
    let global = lab.dp().global_stats();
    assert_eq!(global.events_sent, events.len() as u64);
    assert_eq!(global.ring_full, 0);
}

#[test]
fn rate_limit_keeps_news_pending_and_priority_zero_passes() {
    let mut lab = configured_lab();
    lab.policy(&k52(), POLICY_MASTER, 100, 0);
    // A master answering a flood of lower adverts: each is news, the limit holds them back.
    for _ in 0..200 {
        lab.run(&from(v4(9), 50));
    }
    let sent = lab.drain_events().len();
    assert!(sent <= EVENT_BURST as usize + 1, "{sent} events");
    let state = lab.state(&k52());
    assert_ne!(state.pending_kinds & EVENT_LOWER, 0, "held back, not lost");
    assert!(state.suppressed >= 190, "{}", state.suppressed);
    assert!(lab.dp().global_stats().events_suppressed >= 190);
    // The master leaving gets through at once, carrying what was pending.
    lab.run(&from(v4(9), 0));
    let events = lab.drain_events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_ne!(events[0].kinds & EVENT_PRIORITY_ZERO, 0);
    assert_ne!(events[0].kinds & EVENT_LOWER, 0, "pending kinds ride along");
    assert_eq!(events[0].suppressed, lab.state(&k52()).suppressed);
    // A second priority 0 right after is held back, and visible in the state map.
    lab.run(&from(v4(9), 0));
    assert!(lab.drain_events().is_empty());
    let state = lab.state(&k52());
    assert_ne!(state.pending_kinds & EVENT_PRIORITY_ZERO, 0);
    assert_eq!(state.last_priority_zero_ns, state.last_seen_ns);
}

#[test]
fn fault_and_init_move_no_keepalived_counter() {
    let mut lab = configured_lab();
    lab.policy(&k52(), POLICY_FAULT, 100, 0);
    lab.run(&from(v4(1), 150));
    lab.run(&corrupt(v3_ipv4(52), |f| f[VRRP_V4] = 0x32));
    let counters = lab.counters(&k52());
    assert_eq!(counters.received + counters.errors(), 0, "{counters:?}");
    assert_eq!(counters.ignored_down, 2);
    assert_ne!(
        lab.state(&k52()).last_seen_ns,
        0,
        "the state map is still kept"
    );
}

/// Pins the calling thread to `cpu`.
fn pin_to(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET and sched_setaffinity on it are sound.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

#[test]
fn counters_are_exact_and_state_consistent_with_two_cpus() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(cpus >= 2, "this proof needs two CPUs, found {cpus}");
    let mut lab = configured_lab();
    const RUNS: u32 = 200_000;
    let (a, b) = (from(v4(1), 150), from(v4(7), 140));
    let dp: &Dataplane = lab.dp();
    // BPF_PROG_TEST_RUN runs the program on the calling CPU: two threads on two CPUs run it
    // at the same time, as two NIC queues would.
    std::thread::scope(|scope| {
        for (cpu, frame) in [(0, &a), (1, &b)] {
            scope.spawn(move || {
                pin_to(cpu);
                let run = test_run(dp.program(), frame, IFINDEX, RUNS).expect("test run");
                assert_eq!(run.verdict, XDP_PASS);
            });
        }
    });
    let per_cpu = lab.dp().counters_per_cpu(&k52());
    let busy = per_cpu.iter().filter(|c| c.received > 0).count();
    assert!(busy >= 2, "both CPUs ran the program: {per_cpu:?}");
    assert_eq!(
        lab.counters(&k52()).received,
        2 * RUNS as u64,
        "no lost increment"
    );
    let state = lab.state(&k52());
    let master = &state.master_addr[..4];
    assert!(master == [192, 0, 2, 1] || master == [192, 0, 2, 7]);
    let expected_priority = if master[3] == 1 { 150 } else { 140 };
    assert_eq!(
        state.master_priority, expected_priority,
        "address and priority agree"
    );
    let events = lab.drain_events();
    eprintln!("{} adverts on two CPUs: {} events", 2 * RUNS, events.len());
    assert!(events.iter().all(|e| e.seq <= state.seq));
    assert!(
        events.len() < 100,
        "{} events for {} adverts",
        events.len(),
        2 * RUNS
    );
}
