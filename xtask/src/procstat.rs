//! CPU time and wakeups of a daemon, from /proc: every thread of the process and of its
//! children (keepalived's VRRP work happens in a child it forks). CPU time is the scheduler's
//! own nanosecond count (`/proc/PID/task/TID/schedstat`), not the 10 ms ticks of `stat`;
//! a wakeup is a voluntary context switch (the thread slept and something woke it).

use std::time::{Duration, Instant};

/// What a process tree had used at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    pub cpu: Duration,
    pub wakeups: u64,
}

/// The process `pid` and its descendants.
pub fn tree(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // The command is in parentheses and may hold spaces: fields start after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            parents.push((child, ppid));
        }
    }
    let mut found = vec![pid];
    let mut index = 0;
    while index < found.len() {
        let parent = found[index];
        found.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(child, _)| *child),
        );
        index += 1;
    }
    found
}

/// CPU time and wakeups of `pid`'s tree so far.
pub fn usage(pid: u32) -> Usage {
    let mut usage = Usage::default();
    for process in tree(pid) {
        for task in std::fs::read_dir(format!("/proc/{process}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = task.path();
            if let Some(ns) = std::fs::read_to_string(path.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            {
                usage.cpu += Duration::from_nanos(ns);
            }
            if let Some(switches) =
                std::fs::read_to_string(path.join("status"))
                    .ok()
                    .and_then(|status| {
                        status.lines().find_map(|l| {
                            l.strip_prefix("voluntary_ctxt_switches:")?
                                .trim()
                                .parse::<u64>()
                                .ok()
                        })
                    })
            {
                usage.wakeups += switches;
            }
        }
    }
    usage
}

/// Share of one core and wakeups per second of each tree over `window`.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Rates {
    pub cpu_percent: f64,
    pub wakeups_per_s: f64,
}

/// Samples `pids` at the start and the end of `window`.
pub fn measure(pids: &[u32], window: Duration) -> Vec<Rates> {
    let start = Instant::now();
    let before: Vec<Usage> = pids.iter().map(|&p| usage(p)).collect();
    std::thread::sleep(window);
    let elapsed = start.elapsed().as_secs_f64();
    pids.iter()
        .zip(before)
        .map(|(&pid, before)| {
            let after = usage(pid);
            Rates {
                cpu_percent: (after.cpu.saturating_sub(before.cpu)).as_secs_f64() / elapsed * 100.0,
                wakeups_per_s: after.wakeups.saturating_sub(before.wakeups) as f64 / elapsed,
            }
        })
        .collect()
}
