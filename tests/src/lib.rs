//! A small network lab for tests and the demo: network namespaces, veth links, processes and
//! temporary directories, each removed by its guard on drop (also when a test panics).
//!
//! Every namespace gets a name unique to this process, addresses are only ever assigned inside
//! namespaces, the host's own interfaces are never touched, and only processes started here are
//! signalled, by pid (or the process group such a process leads).
//!
//! The failover lab builds on these: [`lab`] (a switched LAN of two routers and a client),
//! [`router`] (keepalived or xvrrpd in a namespace), [`capture`] (tcpdump and tshark),
//! [`failover`] (a takeover read off a capture), [`ping`] and [`timing`] (the RFC's timers).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

pub mod capture;
pub mod config_diff;
pub mod failover;
pub mod lab;
mod packet;
pub mod ping;
pub mod probe;
pub mod router;
pub mod services;
pub mod timing;

pub use packet::PacketSocket;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name no other lab object of any running process has: `{tag}{pid}x{n}`, cut to `max` chars
/// from the left of the tag.
pub(crate) fn unique_name(tag: &str, max: usize) -> String {
    let suffix = format!(
        "{}x{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let keep = max.saturating_sub(suffix.len()).min(tag.len());
    format!("{}{suffix}", &tag[..keep])
}

/// Runs a command to completion, failing with its stderr when it fails.
pub fn run(command: &mut Command) -> anyhow::Result<Output> {
    let output = command
        .output()
        .with_context(|| format!("cannot start {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output)
}

/// A network namespace, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a namespace named after `tag` with its loopback up.
    pub fn new(tag: &str) -> anyhow::Result<Self> {
        let name = unique_name(&format!("xv{tag}"), 30);
        run(Command::new("ip").args(["netns", "add", &name]))?;
        let netns = Self { name };
        netns.ip(&["link", "set", "lo", "up"])?;
        // Addresses come up at once instead of after duplicate address detection.
        netns.sysctl("net.ipv6.conf.default.accept_dad", "0")?;
        netns.sysctl("net.ipv6.conf.all.accept_dad", "0")?;
        Ok(netns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NS ARGS...`
    pub fn ip(&self, args: &[&str]) -> anyhow::Result<Output> {
        run(Command::new("ip").arg("-n").arg(&self.name).args(args))
    }

    pub fn sysctl(&self, key: &str, value: &str) -> anyhow::Result<()> {
        run(self
            .exec("sysctl")
            .args(["-q", "-w", &format!("{key}={value}")]))?;
        Ok(())
    }

    /// A command run with `ip netns exec` (which also gives it the namespace's /sys).
    pub fn exec(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// A command run in the namespace's network only, keeping the host's mounts: the way to run
    /// anything that pins BPF objects, because `ip netns exec` remounts /sys and hides bpffs.
    pub fn enter(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net=/run/netns/{}", self.name))
            .arg(program);
        command
    }

    /// Adds an address and brings the link up.
    pub fn addr(&self, iface: &str, cidr: &str) -> anyhow::Result<()> {
        let family = if cidr.contains(':') { "-6" } else { "-4" };
        self.ip(&[family, "addr", "add", cidr, "dev", iface, "nodad"])
            .or_else(|_| self.ip(&[family, "addr", "add", cidr, "dev", iface]))?;
        self.ip(&["link", "set", iface, "up"])?;
        Ok(())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Connects `a`'s `a_if` to `b`'s `b_if` with a veth pair created directly in the namespaces.
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> anyhow::Result<()> {
    run(Command::new("ip").args([
        "link",
        "add",
        a_if,
        "netns",
        a.name(),
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ]))?;
    a.ip(&["link", "set", a_if, "up"])?;
    b.ip(&["link", "set", b_if, "up"])?;
    Ok(())
}

/// A child process, stopped on drop: SIGTERM, then SIGKILL after two seconds.
#[derive(Debug)]
pub struct Process {
    child: Option<Child>,
    what: String,
    /// Whether the child leads a process group of its own (see [`Process::spawn_group`]).
    group: bool,
}

impl Process {
    pub fn spawn(what: &str, command: &mut Command) -> anyhow::Result<Self> {
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {what}: {command:?}"))?;
        Ok(Self {
            child: Some(child),
            what: what.to_owned(),
            group: false,
        })
    }

    /// Starts the command as the leader of a new process group, so that [`Process::kill_group`]
    /// reaches the children it forks (keepalived's VRRP child) and nothing else.
    ///
    /// The test process becomes a child subreaper: when the group is killed, the leader's
    /// orphaned children are reparented to it and reaped by `kill_group`, instead of lingering
    /// as zombies until init gets to them (keepalived restarted at once would see its old VRRP
    /// child's pid still taken and refuse: "daemon is already running").
    pub fn spawn_group(what: &str, command: &mut Command) -> anyhow::Result<Self> {
        use std::os::unix::process::CommandExt as _;
        // SAFETY: prctl(2) with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        let mut process = Self::spawn(what, command.process_group(0))?;
        process.group = true;
        Ok(process)
    }

    /// Whether the process is still running (false once it exited, even if not yet waited for).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The child's stdout, when it was piped.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.as_mut()?.stdout.take()
    }

    /// The child's stderr, when it was piped.
    pub fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.as_mut()?.stderr.take()
    }

    pub fn signal(&self, signal: libc::c_int) {
        if let Some(child) = &self.child {
            // SAFETY: kill(2) on the pid of a child we started and have not reaped.
            unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        }
    }

    /// SIGKILL to the whole process group the child leads (to the child alone if it was not
    /// started with [`Process::spawn_group`]), then reaps it. The group id cannot have been
    /// reused: the leader is not reaped before the signal is sent.
    pub fn kill_group(&mut self) -> anyhow::Result<Output> {
        let Some(child) = &self.child else {
            bail!("{} already waited for", self.what);
        };
        let pid = child.id() as libc::pid_t;
        let target = if self.group { -pid } else { pid };
        // SAFETY: kill(2) on the pid (or the group it leads) of a child we started and have
        // not reaped.
        unsafe { libc::kill(target, libc::SIGKILL) };
        let output = self.wait_timeout(Duration::from_secs(5))?;
        if self.group {
            reap_group(pid);
        }
        Ok(output)
    }

    /// Waits for the process to exit by itself, up to `timeout`.
    pub fn wait_timeout(&mut self, timeout: Duration) -> anyhow::Result<Output> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().context("already waited")?;
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                bail!("{} did not exit within {timeout:?}", self.what);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let child = self.child.take().expect("checked above");
        Ok(child.wait_with_output()?)
    }

    /// Stops the process (SIGTERM, SIGKILL after two seconds) and returns its output.
    pub fn stop(&mut self) -> anyhow::Result<Output> {
        self.signal(libc::SIGTERM);
        if let Ok(output) = self.wait_timeout(Duration::from_secs(2)) {
            return Ok(output);
        }
        self.kill_group()
    }
}

/// Reaps the members of process group `pgid` that were reparented to us (see
/// [`Process::spawn_group`]), waiting up to a second for the last to die.
fn reap_group(pgid: libc::pid_t) {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let mut status = 0;
        // SAFETY: waitpid(2) on our own children of a group we created.
        let reaped = unsafe { libc::waitpid(-pgid, &mut status, libc::WNOHANG) };
        if reaped < 0 || Instant::now() > deadline {
            return; // ECHILD: none left
        }
        if reaped == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.stop();
        }
    }
}

/// A directory removed on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(unique_name(&format!("xvrrpd-{tag}-"), 60));
        std::fs::create_dir_all(&path)?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `text` to `name` below the directory (creating subdirectories) and returns the
    /// file's path; panics on failure, as tests want.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the parent directory");
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A pin directory of its own on bpffs, so tests never share the daemon's default one.
/// Removed on drop (with whatever a killed process left in it).
#[derive(Debug)]
pub struct PinDir {
    path: PathBuf,
}

impl PinDir {
    pub fn new(tag: &str) -> Self {
        Self {
            path: Path::new("/sys/fs/bpf").join(unique_name(&format!("xvrrpd-test-{tag}-"), 60)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// keepalived (from Debian) running a configuration inside a namespace.
pub struct Keepalived {
    process: Process,
    dir: TempDir,
}

impl Keepalived {
    pub fn start(netns: &Netns, config: &str) -> anyhow::Result<Self> {
        let dir = TempDir::new("keepalived")?;
        let conf = dir.path().join("keepalived.conf");
        std::fs::write(&conf, config)?;
        let log = std::fs::File::create(dir.path().join("keepalived.log"))?;
        let process = Process::spawn(
            "keepalived",
            Self::command(netns, &conf, dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log),
        )?;
        Ok(Self { process, dir })
    }

    /// keepalived with a /tmp of its own (a private mount namespace with its directory bound
    /// over /tmp): SIGUSR2 makes it write the fixed path /tmp/keepalived.stats, which two tests
    /// must not share. The configuration is read from the same private /tmp.
    pub fn start_private_tmp(netns: &Netns, config: &str) -> anyhow::Result<Self> {
        let dir = TempDir::new("keepalived")?;
        dir.write("keepalived.conf", config);
        let log = std::fs::File::create(dir.path().join("keepalived.log"))?;
        let script = format!(
            "mount --bind {} /tmp && exec keepalived --dont-fork --log-console --log-detail \
             --vrrp --use-file /tmp/keepalived.conf --pid /tmp/keepalived.pid \
             --vrrp_pid /tmp/vrrp.pid",
            dir.path().display()
        );
        let process = Process::spawn(
            "keepalived",
            netns
                .exec("unshare")
                .args(["--mount", "--propagation", "private", "sh", "-c", &script])
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log),
        )?;
        Ok(Self { process, dir })
    }

    /// Where a keepalived started with [`Keepalived::start_private_tmp`] writes its stats.
    pub fn stats_file(&self) -> PathBuf {
        self.dir.path().join("keepalived.stats")
    }

    /// keepalived's command line in `netns`: foreground, VRRP only, logging to the console,
    /// reading `conf`, with its pid files in `dir` (every instance needs its own: keepalived
    /// refuses to start when the pid file names a running process).
    pub fn command(netns: &Netns, conf: &Path, dir: &Path) -> Command {
        let mut command = netns.exec("keepalived");
        command
            .args(["--dont-fork", "--log-console", "--log-detail", "--vrrp"])
            .arg("--use-file")
            .arg(conf)
            .arg("--pid")
            .arg(dir.join("keepalived.pid"))
            .arg("--vrrp_pid")
            .arg(dir.join("vrrp.pid"));
        command
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("keepalived.log")).unwrap_or_default()
    }

    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }
}

/// The xvrrpd binary: `$XVRRPD_BIN` if set (to try a build from another worktree), else the
/// one next to the running test (`target/<profile>/xvrrpd`).
pub fn xvrrpd_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("XVRRPD_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join("xvrrpd");
    assert!(
        bin.exists(),
        "{} is missing: build it first (cargo xtask test does)",
        bin.display()
    );
    bin
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The lines of a text file (none if it does not exist yet).
pub fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Writes an executable shell script (mode 0755) and returns its path.
pub fn write_script(dir: &TempDir, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.write(name, &format!("#!/bin/sh\n{body}"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .expect("chmod the script");
    path
}

/// Reads a FIFO on a thread, collecting its lines, from creation until the last writer is
/// gone (the FIFO is created here, so the daemon finds it and leaves it in place).
pub struct FifoReader {
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FifoReader {
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        use std::io::BufRead as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let cpath = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
        // SAFETY: mkfifo on a NUL-terminated path.
        if unsafe { libc::mkfifo(cpath.as_ptr(), 0o644) } != 0 {
            bail!(
                "mkfifo {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            );
        }
        // Non-blocking open for reading succeeds without a writer; then block for reads.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        // SAFETY: fcntl on the descriptor we just opened.
        unsafe {
            let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
            let flags = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let collected = std::sync::Arc::clone(&lines);
        let thread = std::thread::spawn(move || {
            let mut reader = std::io::BufReader::new(file);
            let mut line = String::new();
            let mut idle = 0;
            // EOF while no writer has opened it yet: wait for one (up to 2 minutes).
            while idle < 2400 {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => {
                        idle += 1;
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    Ok(_) => {
                        idle = 0;
                        collected.lock().expect("lines").push(line.clone());
                    }
                }
            }
        });
        Ok(Self {
            lines,
            thread: Some(thread),
        })
    }

    /// The lines read so far, each with its newline.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }
}

impl Drop for FifoReader {
    fn drop(&mut self) {
        // The thread ends by itself once idle; it is not joined so that a test never waits
        // for it.
        drop(self.thread.take());
    }
}

/// What /proc says about a process: its open descriptors and its children (pid, state).
pub fn open_fds(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.flatten()
                .map(|e| {
                    std::fs::read_link(e.path())
                        .map(|t| t.display().to_string())
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The children of `pid` with their state letter (`Z` for an unreaped zombie).
pub fn children_of(pid: u32) -> Vec<(u32, char)> {
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| {
                    let child: u32 = e.file_name().to_str()?.parse().ok()?;
                    let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
                    let after = &stat[stat.rfind(')')? + 2..];
                    let mut fields = after.split(' ');
                    let state = fields.next()?.chars().next()?;
                    let ppid: u32 = fields.next()?.parse().ok()?;
                    (ppid == pid).then_some((child, state))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Processes whose command line is exactly these words.
pub fn processes_running(words: &[&str]) -> usize {
    let mut wanted = Vec::new();
    for word in words {
        wanted.extend_from_slice(word.as_bytes());
        wanted.push(0);
    }
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == wanted))
                .count()
        })
        .unwrap_or(0)
}

/// Parses JSON lines, skipping lines that are not JSON objects.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v.is_object())
        .collect()
}
