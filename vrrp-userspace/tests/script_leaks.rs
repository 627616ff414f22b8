//! 1,000 script runs leave nothing behind: no process (what the scripts forked included), no
//! open descriptor, no unreaped child. Alone in its test binary, so that /proc/self shows only
//! what these runs did.

use std::time::Duration;

use xvrrpd::daemon::child::{self, Exit, Launch, Limits};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Processes whose command line is exactly `sleep <duration>`.
fn sleeping(duration: &str) -> usize {
    let wanted = format!("sleep\0{duration}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|entry| {
            std::fs::read(entry.path().join("cmdline"))
                .is_ok_and(|cmdline| cmdline == wanted.as_bytes())
        })
        .count()
}

#[test]
fn a_thousand_runs_leave_no_process_no_fd_and_no_zombie() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let duration = format!("700.{}", std::process::id());
    let shell = |script: String| Launch {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.clone()],
        shell_line: false,
        // SAFETY: no preconditions.
        uid: unsafe { libc::geteuid() },
        gid: unsafe { libc::getegid() },
        display: script,
    };
    // A check that prints, forks a background sleeper and exits; and one that forks and hangs
    // until its timeout.
    let quick = shell(format!("echo output; sleep {duration} & exit 0"));
    let hangs = shell(format!("sleep {duration} & wait"));
    // The hanging check times out after 20 ms; the quick one has time to start even on a
    // loaded machine (a shell took over 20 ms to exit there).
    let limits = Limits {
        timeout: Some(Duration::from_secs(2)),
        grace: Duration::from_millis(20),
        reap_group: true,
        output_limit: 64,
    };
    let hang_limits = Limits {
        timeout: Some(Duration::from_millis(20)),
        ..limits
    };
    runtime.block_on(async {
        // Warm up the runtime's own descriptors first.
        child::run(&quick, &[], &limits, None).await.unwrap();
        let fds = open_fds();
        for run in 0..1000 {
            let (launch, limits) = if run % 10 == 9 {
                (&hangs, &hang_limits)
            } else {
                (&quick, &limits)
            };
            let done = child::run(launch, &[], limits, None).await.unwrap();
            let expected = if run % 10 == 9 {
                Exit::TimedOut
            } else {
                Exit::Status(0)
            };
            assert_eq!(done.exit, expected, "run {run}: {}", done.output_text());
        }
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            sleeping(&duration),
            0,
            "forked sleepers survived their runs"
        );
        assert_eq!(open_fds(), fds, "descriptors leaked");
        // SAFETY: waitpid with WNOHANG on any child: none may be left.
        let rc = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
        let error = std::io::Error::last_os_error();
        assert_eq!(
            (rc, error.raw_os_error()),
            (-1, Some(libc::ECHILD)),
            "a child is left unreaped"
        );
    });
}
