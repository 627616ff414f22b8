//! The services of the user's deployments, run inside a router's namespace with their own
//! configuration, pid, log and data files in a directory of the test (never the system's), and
//! stopped by pid: nginx, haproxy and redis-server from Debian.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;

use crate::{Netns, Process, wait_until};

/// nginx answering `GET /` with `body` on port 80 (master in the foreground, so the process
/// started is nginx's master).
pub struct Nginx {
    process: Option<Process>,
    netns_name: String,
    conf: PathBuf,
    dir: PathBuf,
}

/// An nginx configuration with every path inside `dir`.
pub fn nginx_config(dir: &Path, body: &str, foreground: bool) -> String {
    let d = dir.display();
    let daemon = if foreground { "daemon off;\n" } else { "" };
    format!(
        "{daemon}worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n access_log off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n \
         fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n \
         server {{\n  listen 80;\n  location / {{ default_type text/plain; return 200 \"{body}\\n\"; }}\n }}\n}}\n"
    )
}

impl Nginx {
    pub fn start(netns: &Netns, dir: &Path, body: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, nginx_config(dir, body, true))?;
        let mut nginx = Self {
            process: None,
            netns_name: netns.name().to_owned(),
            conf,
            dir: dir.to_owned(),
        };
        nginx.spawn(netns)?;
        Ok(nginx)
    }

    fn spawn(&mut self, netns: &Netns) -> anyhow::Result<()> {
        let log = std::fs::File::create(self.dir.join("nginx.out"))?;
        let process = Process::spawn_group(
            "nginx",
            netns
                .exec("nginx")
                .arg("-p")
                .arg(&self.dir)
                .arg("-e")
                .arg(self.dir.join("nginx-error.log"))
                .arg("-c")
                .arg(&self.conf)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log),
        )?;
        self.process = Some(process);
        let port_open = wait_until(Duration::from_secs(10), || {
            std::fs::read_to_string(self.dir.join("nginx.pid")).is_ok()
        });
        anyhow::ensure!(port_open, "nginx in {} did not start", self.netns_name);
        Ok(())
    }

    /// Stops nginx (SIGTERM to its master, as `nginx -s stop` does).
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut process) = self.process.take() {
            process.signal(libc::SIGTERM);
            process.wait_timeout(Duration::from_secs(5))?;
        }
        let _ = std::fs::remove_file(self.dir.join("nginx.pid"));
        Ok(())
    }

    pub fn restart(&mut self, netns: &Netns) -> anyhow::Result<()> {
        self.stop()?;
        self.spawn(netns)
    }
}

/// haproxy in the foreground (`-db`) answering `GET /` with `body` on port 80; its pid is
/// written to `dir/haproxy.pid` for the check script.
pub struct Haproxy {
    process: Option<Process>,
    dir: PathBuf,
    conf: PathBuf,
}

impl Haproxy {
    pub fn start(netns: &Netns, dir: &Path, body: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let conf = dir.join("haproxy.cfg");
        std::fs::write(
            &conf,
            format!(
                "global\n maxconn 256\n\ndefaults\n mode http\n timeout connect 1s\n \
                 timeout client 5s\n timeout server 5s\n\nfrontend web\n bind *:80\n \
                 http-request return status 200 content-type text/plain string \"{body}\"\n"
            ),
        )?;
        let mut haproxy = Self {
            process: None,
            dir: dir.to_owned(),
            conf,
        };
        haproxy.spawn(netns)?;
        Ok(haproxy)
    }

    fn spawn(&mut self, netns: &Netns) -> anyhow::Result<()> {
        let log = std::fs::File::create(self.dir.join("haproxy.out"))?;
        let process = Process::spawn_group(
            "haproxy",
            netns
                .exec("haproxy")
                .arg("-db")
                .arg("-f")
                .arg(&self.conf)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log),
        )?;
        // `ip netns exec` execs haproxy: the process started is haproxy itself.
        std::fs::write(self.dir.join("haproxy.pid"), format!("{}\n", process.pid()))?;
        self.process = Some(process);
        Ok(())
    }

    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut process) = self.process.take() {
            process.signal(libc::SIGTERM);
            process.wait_timeout(Duration::from_secs(5))?;
        }
        Ok(())
    }

    pub fn restart(&mut self, netns: &Netns) -> anyhow::Result<()> {
        self.stop()?;
        self.spawn(netns)
    }
}

/// redis-server on port 6379 of a namespace, with its data and log in `dir`.
pub struct Redis {
    process: Option<Process>,
    dir: PathBuf,
    netns_name: String,
}

impl Redis {
    /// A redis master, or a replica of `replica_of`.
    pub fn start(netns: &Netns, dir: &Path, replica_of: Option<Ipv4Addr>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut redis = Self {
            process: None,
            dir: dir.to_owned(),
            netns_name: netns.name().to_owned(),
        };
        redis.spawn(netns, replica_of)?;
        Ok(redis)
    }

    fn spawn(&mut self, netns: &Netns, replica_of: Option<Ipv4Addr>) -> anyhow::Result<()> {
        let log = std::fs::File::create(self.dir.join("redis.out"))?;
        let mut command = netns.exec("redis-server");
        command
            .args([
                "--port",
                "6379",
                "--bind",
                "0.0.0.0",
                "--protected-mode",
                "no",
            ])
            .args(["--daemonize", "no", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.dir.join("redis.log"));
        if let Some(master) = replica_of {
            command.args(["--replicaof", &master.to_string(), "6379"]);
        }
        let process = Process::spawn_group(
            "redis-server",
            command
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log),
        )?;
        self.process = Some(process);
        let up = wait_until(Duration::from_secs(10), || {
            self.cli(netns, &["PING"]).is_ok_and(|r| r == "PONG")
        });
        anyhow::ensure!(up, "redis in {} did not start", self.netns_name);
        Ok(())
    }

    /// `redis-cli ARGS` against this redis, from its namespace.
    pub fn cli(&self, netns: &Netns, args: &[&str]) -> anyhow::Result<String> {
        let output = netns
            .exec("redis-cli")
            .args(args)
            .output()
            .context("redis-cli")?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// A field of `INFO replication` (`role`, `master_link_status`, ...).
    pub fn replication(&self, netns: &Netns, field: &str) -> Option<String> {
        let info = self.cli(netns, &["INFO", "replication"]).ok()?;
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .map(|v| v.trim().to_owned())
    }

    /// kill -9: the database dies with whatever it had in memory.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut process) = self.process.take() {
            process.kill_group()?;
        }
        Ok(())
    }

    pub fn restart(&mut self, netns: &Netns, replica_of: Option<Ipv4Addr>) -> anyhow::Result<()> {
        self.kill()?;
        self.spawn(netns, replica_of)
    }
}

/// Kills, on drop, the process named in a pid file (a service a notify script started in the
/// background, which no test handle owns).
pub struct PidFileGuard(pub PathBuf);

impl Drop for PidFileGuard {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|t| t.trim().parse::<libc::pid_t>().ok())
            .filter(|pid| *pid > 1)
        {
            // SAFETY: kill(2) of the service the test's scripts started.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
}
