//! One run of a script as a child process, never blocking the protocol loop: its own process
//! group, the user and group it runs as, stdout and stderr captured (truncated) for the debug
//! log, a timeout that sends SIGTERM and then SIGKILL to the whole group, and the child always
//! reaped.
//!
//! The child is watched through a pidfd rather than tokio's SIGCHLD reaper: a pidfd becomes
//! readable when the process exits but before it is reaped, so its process group can still be
//! signalled without any risk of reaching a recycled group id, and `waitid(P_PIDFD)` reaps
//! exactly this child.

use std::io;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd, RawFd};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::sync::watch;
use tokio::time::Instant;

/// What to execute: a program with its arguments, as a user and group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    /// An absolute path (or `/bin/sh` when the line needs a shell).
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Arguments added at run time (generic `notify`'s four, a FIFO script's path) go through
    /// `/bin/sh -c` quoting when the command is a shell line.
    pub shell_line: bool,
    pub uid: u32,
    pub gid: u32,
    /// The command as configured, for logs.
    pub display: String,
}

impl Launch {
    /// The program and arguments with `extra` appended.
    pub fn argv(&self, extra: &[String]) -> (PathBuf, Vec<String>) {
        if self.shell_line {
            // keepalived's cmd_str: every word in single quotes, except a first word that is a
            // redirection (`</dev/tcp/...`), then `sh -c`.
            let mut words = self.args.clone();
            words.extend(extra.iter().cloned());
            let line = words
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    if i == 0 && (w.starts_with('<') || w.starts_with('>')) {
                        w.clone()
                    } else {
                        format!("'{}'", w.replace('\'', r"'\''"))
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
            (self.program.clone(), vec!["-c".to_owned(), line])
        } else {
            let mut args = self.args.clone();
            args.extend(extra.iter().cloned());
            (self.program.clone(), args)
        }
    }
}

/// How a run is bounded.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Then SIGTERM to the process group, and SIGKILL `grace` later.
    pub timeout: Option<Duration>,
    pub grace: Duration,
    /// Kill whatever the script left running in its process group when it exits (check
    /// scripts: a run leaves nothing behind). Notify scripts may start services and keep
    /// theirs.
    pub reap_group: bool,
    /// Bytes of output kept for the log; the rest is read and counted.
    pub output_limit: usize,
}

/// How the child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Status(i32),
    Signal(i32),
    /// The timeout passed; the group was terminated.
    TimedOut,
    /// Stopped from outside (shutdown); the group was terminated.
    Stopped,
}

impl Exit {
    pub fn success(self) -> bool {
        self == Self::Status(0)
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status(code) => write!(f, "exit status {code}"),
            Self::Signal(signal) => write!(f, "killed by signal {signal}"),
            Self::TimedOut => f.write_str("timed out"),
            Self::Stopped => f.write_str("stopped"),
        }
    }
}

/// A finished run.
#[derive(Clone, Debug)]
pub struct Finished {
    pub pid: u32,
    pub exit: Exit,
    /// The first `output_limit` bytes of stdout and stderr (interleaved as written).
    pub output: Vec<u8>,
    /// Bytes read beyond the limit.
    pub dropped: usize,
}

impl Finished {
    /// The captured output for a log line: lossy UTF-8, trimmed, with the truncation noted.
    pub fn output_text(&self) -> String {
        let text = String::from_utf8_lossy(&self.output);
        let text = text.trim_end();
        if self.dropped > 0 {
            format!("{text}... ({} more bytes)", self.dropped)
        } else {
            text.to_owned()
        }
    }
}

/// A stop request shared by every run of one owner: `Some(at)` stops runs at that time.
pub type StopSignal = watch::Receiver<Option<Instant>>;

/// Runs `launch` (with `extra` arguments) to the end and reaps it.
pub async fn run(
    launch: &Launch,
    extra: &[String],
    limits: &Limits,
    stop: Option<StopSignal>,
) -> io::Result<Finished> {
    let mut child = Spawned::start(launch, extra)?;
    let result = child.wait(limits, stop).await;
    // A failure here leaves the guard to kill and reap the group.
    let (exit, output, dropped) = result?;
    Ok(Finished {
        pid: child.pid as u32,
        exit,
        output,
        dropped,
    })
}

/// A running child, killed with its group and reaped when dropped before it was reaped.
struct Spawned {
    pid: libc::pid_t,
    pidfd: AsyncFd<OwnedFd>,
    output: AsyncFd<OwnedFd>,
    reaped: bool,
}

impl Spawned {
    fn start(launch: &Launch, extra: &[String]) -> io::Result<Self> {
        let (program, args) = launch.argv(extra);
        let (read, write) = pipe()?;
        let write_err = write.try_clone()?;
        let mut command = std::process::Command::new(&program);
        command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(write))
            .stderr(Stdio::from(write_err))
            // Its own group, so that a timeout kills whatever it started too.
            .process_group(0);
        // SAFETY: geteuid/getegid have no preconditions.
        let (our_uid, our_gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        if launch.gid != our_gid {
            command.gid(launch.gid);
        }
        if launch.uid != our_uid {
            // std also drops the supplementary groups when it changes the uid.
            command.uid(launch.uid);
        }
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // keepalived: if the daemon dies, its scripts get SIGTERM.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0);
                if libc::getppid() != parent {
                    // The daemon died between fork and prctl.
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        // Closes the parent's copies of the pipe's write end.
        drop(command);
        let pid = child.id() as libc::pid_t;
        // The std handle is never waited on: the pidfd reaps the child.
        drop(child);
        let pidfd = match pidfd_open(pid) {
            Ok(fd) => fd,
            Err(e) => {
                // Cannot watch it: kill and reap it at once rather than leak it.
                // SAFETY: signalling and reaping the child we just started.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
                return Err(e);
            }
        };
        set_nonblocking(read.as_raw_fd())?;
        let spawned = Self {
            pid,
            pidfd: readable(pidfd)?,
            output: readable(read)?,
            reaped: false,
        };
        Ok(spawned)
    }

    fn signal_group(&self, signal: libc::c_int) {
        if !self.reaped {
            // SAFETY: the group is led by our unreaped child, so its id cannot be reused.
            unsafe { libc::kill(-self.pid, signal) };
        }
    }

    async fn wait(
        &mut self,
        limits: &Limits,
        mut stop: Option<StopSignal>,
    ) -> io::Result<(Exit, Vec<u8>, usize)> {
        let mut output = Vec::new();
        let mut dropped = 0;
        let mut eof = false;
        let mut timeout_at = limits.timeout.map(|t| Instant::now() + t);
        // Set once the group was told to terminate: why, and when SIGKILL follows.
        let mut terminating: Option<(Exit, Instant)> = None;
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        loop {
            let stop_at = stop.as_ref().and_then(|s| *s.borrow());
            let deadline = match terminating {
                Some((_, kill_at)) => kill_at,
                None => [timeout_at, stop_at]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap_or(far),
            };
            tokio::select! {
                biased;
                ready = self.pidfd.readable() => {
                    ready?.retain_ready();
                    break;
                }
                ready = self.output.readable(), if !eof => {
                    let mut guard = ready?;
                    match guard.try_io(|fd| read_some(fd.get_ref().as_raw_fd(), &mut output, &mut dropped, limits.output_limit)) {
                        Ok(Ok(0)) => eof = true,
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return Err(e),
                        Err(_would_block) => {}
                    }
                }
                changed = async {
                    match stop.as_mut() {
                        Some(stop) => stop.changed().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if changed.is_err() {
                        // The owner went away: nothing more will stop this run.
                        stop = None;
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    match terminating {
                        None => {
                            let why = if stop_at.is_some_and(|at| at <= Instant::now()) {
                                Exit::Stopped
                            } else {
                                Exit::TimedOut
                            };
                            self.signal_group(libc::SIGTERM);
                            terminating = Some((why, Instant::now() + limits.grace));
                            timeout_at = None;
                        }
                        Some((why, _)) => {
                            self.signal_group(libc::SIGKILL);
                            // Keep waiting for the exit; a process stuck in the kernel may
                            // take a while, but it cannot ignore SIGKILL.
                            terminating = Some((why, far));
                        }
                    }
                }
            }
        }
        // The leader exited and is not reaped yet, so the group id is still ours: clear out
        // what it left behind (a timed-out script's children, a check's background jobs).
        if limits.reap_group || terminating.is_some() {
            self.signal_group(libc::SIGKILL);
        }
        let status = self.reap()?;
        // What is already in the pipe; a background process that keeps it open is not
        // waited for.
        while !eof {
            match read_some(
                self.output.get_ref().as_raw_fd(),
                &mut output,
                &mut dropped,
                limits.output_limit,
            ) {
                Ok(0) => eof = true,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let exit = match terminating {
            Some((why, _)) => why,
            None => status,
        };
        Ok((exit, output, dropped))
    }

    /// waitid(P_PIDFD): reaps this child and no other.
    fn reap(&mut self) -> io::Result<Exit> {
        // SAFETY: siginfo_t is plain data; waitid fills it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: waitid on our own child's pidfd.
            let rc = unsafe {
                libc::waitid(
                    libc::P_PIDFD,
                    self.pidfd.get_ref().as_raw_fd() as libc::id_t,
                    &mut info,
                    libc::WEXITED,
                )
            };
            if rc == 0 {
                break;
            }
            let error = io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::EINTR) {
                return Err(error);
            }
        }
        self.reaped = true;
        // SAFETY: waitid succeeded, so the status fields are set.
        let status = unsafe { info.si_status() };
        Ok(if info.si_code == libc::CLD_EXITED {
            Exit::Status(status)
        } else {
            Exit::Signal(status)
        })
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        // Dropped mid-run (its task was cancelled): kill the group and reap the leader.
        self.signal_group(libc::SIGKILL);
        // SAFETY: duplicating a descriptor we own.
        let fd = unsafe { libc::dup(self.pidfd.get_ref().as_raw_fd()) };
        if fd < 0 {
            return;
        }
        // SAFETY: dup returned a new descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let reap = move || {
            // SAFETY: siginfo_t is plain data; waitid on our child's pidfd.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            unsafe {
                libc::waitid(
                    libc::P_PIDFD,
                    fd.as_raw_fd() as libc::id_t,
                    &mut info,
                    libc::WEXITED,
                )
            };
        };
        // SIGKILL ends it within microseconds; a process stuck in the kernel is reaped by a
        // thread instead of blocking the loop.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above, without blocking.
        let rc = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                self.pidfd.get_ref().as_raw_fd() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG,
            )
        };
        // WNOHANG returns 0 with si_pid 0 when the child has not exited yet.
        // SAFETY: si_pid reads the field waitid set (or the zeroed one).
        if rc != 0 || unsafe { info.si_pid() } == 0 {
            std::thread::spawn(reap);
        }
    }
}

/// Registers a descriptor we own with the runtime, for readiness to read.
pub fn readable(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the descriptor is owned by the AsyncFd from now on and closed only with it.
    Ok(unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }?)
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are new descriptors owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open(2) with no flags; the result is a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new descriptor we own (pidfds are close-on-exec).
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// One read from the output pipe: kept up to `limit`, counted beyond.
fn read_some(
    fd: RawFd,
    kept: &mut Vec<u8>,
    dropped: &mut usize,
    limit: usize,
) -> io::Result<usize> {
    let mut buffer = [0u8; 4096];
    // SAFETY: reading into a buffer we own, within its length.
    let n = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    let room = limit.saturating_sub(kept.len()).min(n);
    kept.extend_from_slice(&buffer[..room]);
    *dropped += n - room;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sh(script: &str) -> Launch {
        Launch {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            shell_line: false,
            // SAFETY: no preconditions.
            uid: unsafe { libc::geteuid() },
            gid: unsafe { libc::getegid() },
            display: script.into(),
        }
    }

    fn limits(timeout_ms: Option<u64>) -> Limits {
        Limits {
            timeout: timeout_ms.map(Duration::from_millis),
            grace: Duration::from_millis(100),
            reap_group: true,
            output_limit: 16,
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// A `sleep` no other process runs: its duration is unique to this test process and tag.
    fn sleeper(tag: u32) -> String {
        format!("600.{}{tag}", std::process::id())
    }

    fn sleeping(duration: &str) -> bool {
        let wanted = format!("sleep\0{duration}\0");
        std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
            std::fs::read(entry.path().join("cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline) == wanted)
        })
    }

    #[test]
    fn exit_status_output_and_truncation() {
        runtime().block_on(async {
            let done = run(
                &sh("echo hello; echo oops >&2; exit 3"),
                &[],
                &limits(None),
                None,
            )
            .await
            .unwrap();
            assert_eq!(done.exit, Exit::Status(3));
            assert_eq!(done.output_text(), "hello\noops");
            let long = run(&sh("printf '%040d' 0"), &[], &limits(None), None)
                .await
                .unwrap();
            assert_eq!(long.output.len(), 16);
            assert_eq!(long.dropped, 24);
            assert!(long.output_text().ends_with("(24 more bytes)"));
        });
    }

    #[test]
    fn a_timeout_kills_the_whole_group_including_what_it_forked() {
        runtime().block_on(async {
            let duration = sleeper(1);
            // The script forks a sleeper and waits for it; both must go at the timeout.
            let done = run(
                &sh(&format!("sleep {duration} & wait")),
                &[],
                &limits(Some(100)),
                None,
            )
            .await
            .unwrap();
            assert_eq!(done.exit, Exit::TimedOut);
            std::thread::sleep(Duration::from_millis(50));
            assert!(
                !sleeping(&duration),
                "the forked sleeper survived the timeout"
            );
        });
    }

    #[test]
    fn a_check_leaves_nothing_running_in_its_group() {
        runtime().block_on(async {
            let duration = sleeper(2);
            let done = run(
                &sh(&format!("sleep {duration} & exit 0")),
                &[],
                &limits(None),
                None,
            )
            .await
            .unwrap();
            assert_eq!(done.exit, Exit::Status(0));
            std::thread::sleep(Duration::from_millis(50));
            assert!(!sleeping(&duration), "a background job outlived its check");
        });
    }

    #[test]
    fn a_script_ignoring_sigterm_is_killed_after_the_grace() {
        runtime().block_on(async {
            let started = std::time::Instant::now();
            let done = run(
                &sh("trap '' TERM; sleep 5 & wait; sleep 5"),
                &[],
                &limits(Some(50)),
                None,
            )
            .await
            .unwrap();
            assert_eq!(done.exit, Exit::TimedOut);
            assert!(started.elapsed() < Duration::from_secs(3));
        });
    }

    #[test]
    fn a_stop_request_terminates_a_run() {
        runtime().block_on(async {
            let (tell, stop) = watch::channel(None);
            let task =
                tokio::spawn(
                    async move { run(&sh("sleep 30"), &[], &limits(None), Some(stop)).await },
                );
            tokio::time::sleep(Duration::from_millis(50)).await;
            tell.send(Some(Instant::now())).unwrap();
            let done = task.await.unwrap().unwrap();
            assert_eq!(done.exit, Exit::Stopped);
        });
    }

    #[test]
    fn shell_lines_quote_every_word_but_a_leading_redirection() {
        let launch = Launch {
            program: "/bin/sh".into(),
            args: vec!["</dev/null".into(), "it's".into()],
            shell_line: true,
            uid: 0,
            gid: 0,
            display: String::new(),
        };
        let (_, args) = launch.argv(&["X".into()]);
        assert_eq!(args, ["-c", r"</dev/null 'it'\''s' 'X'"]);
    }
}
