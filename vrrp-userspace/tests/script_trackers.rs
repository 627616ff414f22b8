//! The tracker arithmetic through real script processes: the daemon's check runner runs shell
//! scripts whose exit status follows a plan (exit 0, exit 1, or hang past the timeout), and
//! every result goes into the engine; the instance's priority and state after each result
//! must follow keepalived's rise/fall/timeout/init_fail rules.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use xvrrpd::daemon::checks::{CheckSpec, Checks};
use xvrrpd::daemon::child::Launch;
use xvrrpd::engine::{
    Event, InstanceConfig, InstanceSettings, MacAddr, Router, State, Timestamp, TrackerConfig,
    TrackerId, TrackerKind,
};

/// A script that exits as the plan's next line says: `0`, `1`, or `hang` (sleeps past any
/// timeout, in a child it waits for, so the whole group must be killed).
fn planned_script(dir: &Path, plan: &[&str]) -> PathBuf {
    std::fs::write(dir.join("plan"), plan.join("\n") + "\n").unwrap();
    std::fs::write(dir.join("count"), "0\n").unwrap();
    let script = dir.join("check.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             n=$(($(cat {d}/count) + 1)); echo $n > {d}/count\n\
             step=$(sed -n ${{n}}p {d}/plan)\n\
             echo \"run $n: $step\"\n\
             case $step in hang) sleep 30 & wait ;; '') exit 0 ;; *) exit $step ;; esac\n",
            d = dir.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn router(weight: i32, rise: u32, fall: u32, init_fail: bool) -> Router {
    let mut settings = InstanceSettings::new(
        "VI_1",
        51,
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        MacAddr([2, 0, 0, 0, 0, 1]),
    );
    settings.trackers = vec![TrackerConfig {
        id: TrackerId(0),
        kind: TrackerKind::Script {
            rise,
            fall,
            init_fail,
        },
        weight,
        reverse: false,
    }];
    let config = InstanceConfig::new(settings).unwrap();
    Router::new(vec![config], Vec::new()).unwrap()
}

/// Runs the plan through the check runner and the engine; returns (state, priority) after
/// each result.
fn replay(tag: &str, plan: &[&str], mut router: Router) -> Vec<(State, u8)> {
    let dir = std::env::temp_dir().join(format!("xvrrpd-plan-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let script = planned_script(&dir, plan);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let seen = runtime.block_on(async {
        let spec = CheckSpec {
            tracker: TrackerId(0),
            name: "chk".into(),
            launch: Launch {
                program: script.clone(),
                args: Vec::new(),
                shell_line: false,
                // SAFETY: no preconditions.
                uid: unsafe { libc::geteuid() },
                gid: unsafe { libc::getegid() },
                display: script.display().to_string(),
            },
            interval: Duration::from_millis(20),
            timeout: Duration::from_millis(200),
        };
        let mut checks = Checks::start(vec![spec], 4);
        let now = Timestamp::from_nanos(1);
        router.broadcast(now, &Event::Startup);
        let mut seen = Vec::new();
        for _ in plan {
            let result = checks.next().await.expect("a result");
            router.tracker_event(
                now,
                &Event::ScriptResult {
                    tracker: result.tracker,
                    success: result.success,
                },
            );
            let (_, instance) = router.instances().next().unwrap();
            seen.push((instance.state(), instance.priority().0));
        }
        checks.stop().await;
        seen
    });
    std::fs::remove_dir_all(&dir).unwrap();
    seen
}

const B: State = State::Backup;
const F: State = State::Fault;

#[test]
fn fall_and_rise_count_consecutive_results_and_a_timeout_is_a_failure() {
    // weight -30, rise 2, fall 3: the first result counts at once; then three failures in a row
    // to lose the weight (a success in between starts over), two successes to get it back; a
    // run killed at its timeout counts as a failure.
    let plan = [
        "0", "1", "1", "0", "1", "1", "hang", "0", "1", "0", "0", "hang", "hang", "hang",
    ];
    let seen = replay("fall", &plan, router(-30, 2, 3, false));
    let priorities: Vec<u8> = seen.iter().map(|(_, p)| *p).collect();
    assert_eq!(
        priorities,
        [
            100, 100, 100, 100, 100, 100, 70, 70, 70, 70, 100, 100, 100, 70
        ],
        "{seen:?}"
    );
    assert!(seen.iter().all(|(s, _)| *s == B));
}

#[test]
fn a_first_failure_counts_at_once_and_positive_weights_add_while_ok() {
    let seen = replay("first", &["1", "0", "0", "1"], router(20, 2, 1, false));
    assert_eq!(
        seen.iter().map(|(_, p)| *p).collect::<Vec<_>>(),
        [100, 100, 120, 100],
        "{seen:?}"
    );
}

#[test]
fn init_fail_with_weight_0_holds_fault_until_rise_successes() {
    // Weight 0: FAULT while failed. init_fail: failed from the start, rise 3 to come up; a
    // timeout on the way starts the count again.
    let seen = replay(
        "init",
        &["0", "0", "hang", "0", "0", "0", "1"],
        router(0, 3, 1, true),
    );
    let states: Vec<State> = seen.iter().map(|(s, _)| *s).collect();
    assert_eq!(states, [F, F, F, F, F, B, F], "{seen:?}");
}

/// The parallel cap: with one slot, two checks never run at the same time.
#[test]
fn checks_beyond_the_parallel_cap_wait_for_a_slot() {
    let dir = std::env::temp_dir().join(format!("xvrrpd-cap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("log");
    let spec = |n: u32| {
        let script = dir.join(format!("check{n}.sh"));
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho start >> {log}\nsleep 0.05\necho end >> {log}\n",
                log = log.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        CheckSpec {
            tracker: TrackerId(n),
            name: format!("check{n}"),
            launch: Launch {
                program: script.clone(),
                args: Vec::new(),
                shell_line: false,
                // SAFETY: no preconditions.
                uid: unsafe { libc::geteuid() },
                gid: unsafe { libc::getegid() },
                display: script.display().to_string(),
            },
            interval: Duration::from_millis(10),
            timeout: Duration::from_secs(1),
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut checks = Checks::start(vec![spec(0), spec(1), spec(2)], 1);
        for _ in 0..12 {
            checks.next().await.expect("a result");
        }
        checks.stop().await;
    });
    let lines = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<&str> = lines.lines().collect();
    // The run in progress when the checks were stopped was killed before its "end".
    if lines.len() % 2 == 1 {
        lines.pop();
    }
    assert!(lines.len() >= 24, "{lines:?}");
    for pair in lines.chunks(2) {
        assert_eq!(pair, ["start", "end"], "two checks overlapped: {lines:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
