//! Runs one case: a directory with the configuration, its includes and scripts (with the
//! chosen owners and permissions), a network namespace with every interface of the pool, then
//! `keepalived -t`, `xvrrpd -t -d --json` and, when keepalived accepts the file, keepalived
//! itself with `-d` long enough to print its dump. Everything is removed afterwards.

use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::generate::Case;
use super::values::POOL;
use crate::{Netns, Process, unique_name};

/// What both programs said about one case.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// keepalived -t's exit code (128 + signal when it was killed by one).
    pub keepalived_code: i32,
    pub keepalived_stderr: String,
    pub xvrrpd_code: i32,
    pub xvrrpd_stderr: String,
    /// `xvrrpd -d --json`.
    pub xvrrpd_json: Option<serde_json::Value>,
    /// keepalived's `-d` dump (lines without the log prefix), when it was taken.
    pub keepalived_dump: Option<Vec<String>>,
    /// The configuration as run (placeholders replaced).
    pub text: String,
}

/// A case directory under /run (root-owned, not writable by others all the way up, so that
/// keepalived's script security can find scripts secure), removed on drop.
struct CaseDir {
    path: PathBuf,
}

impl CaseDir {
    fn new() -> anyhow::Result<Self> {
        let path = Path::new("/run").join(unique_name("xvrrpd-cfgdiff-", 60));
        std::fs::create_dir_all(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        Ok(Self { path })
    }
}

impl Drop for CaseDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn chown(path: &Path, uid: u32, gid: u32) -> anyhow::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .with_context(|| format!("chown {}", path.display()))
}

fn prepare(case: &Case, dir: &Path) -> anyhow::Result<PathBuf> {
    let substitute = |text: &str| text.replace("@DIR@", &dir.display().to_string());
    for (relative, mode) in &case.dirs {
        let path = dir.join(relative);
        std::fs::create_dir_all(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode))?;
    }
    for script in &case.scripts {
        let path = dir.join(&script.path);
        std::fs::write(&path, "#!/bin/sh\nexit 0\n")?;
        // chown first: it clears the set-user-ID bit.
        chown(&path, script.uid, script.gid)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(script.mode))?;
    }
    for (relative, text) in &case.files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)?;
    }
    for (relative, text) in &case.includes {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, substitute(text))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
    }
    let main = dir.join("keepalived.conf");
    std::fs::write(&main, substitute(&case.main))?;
    std::fs::set_permissions(&main, std::fs::Permissions::from_mode(0o644))?;
    Ok(main)
}

/// A namespace with every interface of the pool: a veth each (peer up too, so the link is
/// running), the pool's IPv4 /24 and, on eth0, an IPv6 address.
/// `extra` interfaces (names a real-world file uses) are veths too, up, without addresses.
fn namespace(extra: &[String]) -> anyhow::Result<Netns> {
    let netns = Netns::new("cd")?;
    let mut batch = String::new();
    for (index, interface) in POOL.iter().enumerate() {
        batch.push_str(&format!(
            "link add {} type veth peer name vp{index}\nlink set vp{index} up\nlink set {} up\naddr add {}.1/24 dev {}\n",
            interface.name, interface.name, interface.subnet, interface.name
        ));
    }
    for (index, name) in extra.iter().enumerate() {
        batch.push_str(&format!(
            "link add {name} type veth peer name vx{index}\nlink set vx{index} up\nlink set {name} up\n"
        ));
    }
    batch.push_str("addr add 2001:db8:10::1/64 dev eth0 nodad\n");
    let mut child = Command::new("ip")
        .args(["-n", netns.name(), "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    use std::io::Write as _;
    child
        .stdin
        .take()
        .context("ip's stdin")?
        .write_all(batch.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "creating the interfaces failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(netns)
}

/// Exit code, or 128 + the signal that ended the process (as a shell reports it).
fn code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt as _;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Runs a command with a deadline, killing it (by pid) when it overstays.
fn run_with_timeout(
    command: &mut Command,
    timeout: Duration,
) -> anyhow::Result<(i32, String, String)> {
    let mut process = Process::spawn(
        "config test",
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )?;
    let output = process.wait_timeout(timeout)?;
    Ok((
        code(output.status),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

/// Runs `case` against keepalived and the xvrrpd binary `xvrrpd`.
pub fn run_case(case: &Case, xvrrpd: &Path, dump: bool) -> anyhow::Result<Outcome> {
    run_case_with(case, xvrrpd, dump, &[])
}

/// [`run_case`] with `extra` interfaces beside the pool.
pub fn run_case_with(
    case: &Case,
    xvrrpd: &Path,
    dump: bool,
    extra: &[String],
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let trace = std::env::var_os("CONFIG_DIFF_TRACE").is_some();
    let lap = |what: &str| {
        if trace {
            eprintln!("seed {} {what} at {:?}", case.seed, started.elapsed());
        }
    };
    let dir = CaseDir::new()?;
    let main = prepare(case, &dir.path)?;
    let netns = namespace(extra)?;
    lap("namespace");
    let enter = |program: &str| {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net=/run/netns/{}", netns.name()))
            .arg(program)
            .current_dir(&dir.path);
        command
    };
    let mut keepalived = enter("keepalived");
    keepalived
        .arg("-t")
        .arg("-f")
        .arg(&main)
        .arg("-p")
        .arg(dir.path.join("k.pid"))
        .arg("-r")
        .arg(dir.path.join("v.pid"))
        .args(["-i", &case.config_id]);
    let (keepalived_code, _, keepalived_stderr) =
        run_with_timeout(&mut keepalived, Duration::from_secs(20))?;
    lap("keepalived -t");

    let mut xvrrpd_command = Command::new("nsenter");
    xvrrpd_command
        .arg(format!("--net=/run/netns/{}", netns.name()))
        .arg(xvrrpd)
        .args(["-t", "-d", "--json", "-f"])
        .arg(&main)
        .args(["-i", &case.config_id])
        .current_dir(&dir.path);
    let (xvrrpd_code, stdout, xvrrpd_stderr) =
        run_with_timeout(&mut xvrrpd_command, Duration::from_secs(20))?;
    let xvrrpd_json = serde_json::from_str(&stdout).ok();
    lap("xvrrpd -t");

    // Without VRRP instances keepalived -P starts no VRRP process and prints no dump; there is
    // nothing to compare either.
    let has_instances = xvrrpd_json
        .as_ref()
        .and_then(|json: &serde_json::Value| json["instances"].as_array())
        .is_some_and(|instances| !instances.is_empty());
    // keepalived's daemon runs files it reports errors in (5, 6) unless an error stops it;
    // what it runs is compared too.
    let keepalived_dump = if dump && has_instances && matches!(keepalived_code, 0 | 5 | 6 | 143) {
        some_dump(keepalived_dump(&netns, &dir.path, &main, &case.config_id)?)
    } else {
        None
    };
    lap("dump");
    let text = std::fs::read_to_string(&main)?;
    drop(netns);
    lap("namespace deleted");
    Ok(Outcome {
        keepalived_code,
        keepalived_stderr,
        xvrrpd_code,
        xvrrpd_stderr,
        xvrrpd_json,
        keepalived_dump,
        text,
    })
}

/// keepalived's own dump of the configuration it runs: started for real (VRRP only, in the
/// foreground, logging to the console) and killed, with its VRRP child, once the dump has
/// been printed.
fn keepalived_dump(
    netns: &Netns,
    dir: &Path,
    main: &Path,
    config_id: &str,
) -> anyhow::Result<Vec<String>> {
    let mut command = Command::new("nsenter");
    command
        .arg(format!("--net=/run/netns/{}", netns.name()))
        .args(["keepalived", "-n", "-l", "-d", "-P", "-f"])
        .arg(main)
        .arg("-p")
        .arg(dir.join("kd.pid"))
        .arg("-r")
        .arg(dir.join("vd.pid"))
        .args(["-i", config_id])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // --log-console writes the log, dump included, to stderr.
    let mut process = Process::spawn_group("keepalived -d", &mut command)?;
    let stdout = process.take_stderr().context("keepalived's stderr")?;
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut lines = Vec::new();
    let mut in_dump = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = receiver.recv_timeout(left) else {
            break;
        };
        let text = strip_log_prefix(&line);
        if text.starts_with("------< Global definitions") {
            in_dump = true;
        }
        if text.starts_with("------< Interfaces") {
            break;
        }
        // Every dump line is indented or a `------<` header; the other processes' log lines
        // ("Startup complete", "(VI_1) Entering BACKUP STATE") come unindented and may land
        // in the middle of a list (seen under load: a VIP list cut short).
        if in_dump && (text.starts_with(' ') || text.starts_with("------<")) {
            lines.push(text.to_string());
        }
    }
    let _ = process.kill_group();
    Ok(lines)
}

/// The dump, or `None` when keepalived stopped before printing one.
fn some_dump(lines: Vec<String>) -> Option<Vec<String>> {
    lines
        .iter()
        .any(|l| l.starts_with("------< VRRP Topology"))
        .then_some(lines)
}

/// keepalived's console log lines start with `Thu Nov 26 14:16:32 2026: `.
fn strip_log_prefix(line: &str) -> &str {
    match line.get(24..26) {
        Some(": ") => &line[26..],
        _ => line,
    }
}
