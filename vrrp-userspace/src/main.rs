//! The `xvrrpd` command.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use xvrrpd::config::{self, DEFAULT_CONFIG_FILE};
use xvrrpd::daemon;
use xvrrpd::dataplane::{DEFAULT_BPFFS_ROOT, Role, pin_dir_for};
use xvrrpd::logging;
use xvrrpd::monitor::{self, LiveOptions};

mod operations;

/// `--version`: what was built, from what, how.
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nbuilt by ",
    env!("XVRRPD_RUSTC"),
    "\nfor ",
    env!("XVRRPD_TARGET"),
    ", ",
    env!("XVRRPD_PROFILE"),
    " profile; the XDP program (vrrp-ebpf) is built with it and embedded",
    "\nreads keepalived.conf as keepalived 2.2.7 does; speaks VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798)",
);

#[derive(Parser)]
#[command(
    name = "xvrrpd",
    version,
    long_version = LONG_VERSION,
    about = "keepalived-compatible VRRP with an XDP receive path",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    keepalived: KeepalivedArgs,
}

/// The keepalived command line, so that service files and containers need no change.
#[derive(Args)]
struct KeepalivedArgs {
    /// Configuration file.
    #[arg(short = 'f', long = "use-file", value_name = "FILE", default_value = DEFAULT_CONFIG_FILE)]
    config_file: PathBuf,
    /// Check the configuration and exit: 0 clean, 4 unreadable, 5 errors, 6 scripts without
    /// enable_script_security. Diagnostics go to LOGFILE if given, else to stderr.
    #[arg(short = 't', long = "config-test", value_name = "LOGFILE", num_args = 0..=1, require_equals = true)]
    config_test: Option<Option<PathBuf>>,
    /// Print the effective configuration (includes, conditionals and definitions expanded,
    /// defaults filled in) and exit with the --config-test code.
    #[arg(short = 'd', long = "dump-conf")]
    dump_conf: bool,
    /// With --dump-conf: JSON instead of keepalived.conf syntax.
    #[arg(long, requires = "dump_conf")]
    json: bool,
    /// Config id for `@ID` conditional lines (default: the hostname up to the first dot).
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    config_id: Option<String>,
    /// Every include problem is an error (missing files, unmatched patterns).
    #[arg(short = 'e', long = "all-config")]
    all_config: bool,
    /// Treat every configuration warning as an error.
    #[arg(long = "strict-config")]
    strict_config: bool,
    /// Stay in the foreground (xvrrpd never forks; accepted for keepalived compatibility).
    #[arg(short = 'n', long = "dont-fork")]
    dont_fork: bool,
    /// Log to the console (stderr) instead of syslog.
    #[arg(short = 'l', long = "log-console")]
    log_console: bool,
    /// Syslog facility LOCAL0..LOCAL7 instead of DAEMON.
    #[arg(short = 'S', long = "log-facility", value_name = "0-7", value_parser = clap::value_parser!(u8).range(0..=7))]
    log_facility: Option<u8>,
    /// The syslog socket to log to without --log-console.
    #[arg(long, value_name = "PATH", default_value = xvrrpd::logging::DEFAULT_SYSLOG_SOCKET)]
    syslog_socket: PathBuf,
    /// Detailed log messages.
    #[arg(short = 'D', long = "log-detail")]
    log_detail: bool,
    /// Only run the VRRP subsystem: no virtual servers, no checkers (keepalived's -P).
    #[arg(short = 'P', long = "vrrp")]
    vrrp_only: bool,
    /// Pid file, locked while the daemon runs (default: /run/xvrrpd.pid, or one per network
    /// namespace outside the host's).
    #[arg(short = 'p', long = "pid", value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// bpffs directory for the receive path's pinned maps and links (default: one per network
    /// namespace under /sys/fs/bpf/xvrrpd).
    #[arg(long, value_name = "DIR")]
    bpffs: Option<PathBuf>,
    /// The control socket `xvrrpd status` talks to (default: an abstract socket named after
    /// the configuration file, private to this network namespace).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Serve Prometheus metrics on this address (off by default), e.g. 127.0.0.1:9650.
    #[arg(long, value_name = "ADDR:PORT")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Record every engine input to FILE (JSON lines for `xvrrpd replay`).
    #[arg(long, value_name = "FILE")]
    record_events: Option<PathBuf>,
    /// Adverts for VRIDs this daemon does not run: `drop` them in the kernel (xvrrpd owns VRRP
    /// on its interfaces) or `pass` them to the stack (another VRRP speaker, such as a
    /// keepalived kept for other VRIDs, runs on this host).
    #[arg(long, value_name = "POLICY", default_value = "drop", value_parser = ["drop", "pass"])]
    foreign_adverts: String,
    /// Keep backups' master-down timers in userspace (a precise timerfd deadline that reads
    /// when the master was last heard) instead of the kernel's bpf_timer.
    #[arg(long = "no-kernel-timers")]
    no_kernel_timers: bool,
    /// VRRP child pid file (xvrrpd has no child; accepted for keepalived compatibility).
    #[arg(short = 'r', long = "vrrp_pid", value_name = "FILE")]
    vrrp_pid_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Show every VRRP router on a link (live, through the XDP recorder) or in a capture.
    Monitor(MonitorArgs),
    /// Show the running daemon's instances, priorities, masters, addresses and counters.
    Status(operations::StatusArgs),
    /// Print the running daemon's state changes as they happen.
    Watch(operations::DaemonArgs),
    /// Make the running daemon read its configuration again (as SIGHUP does).
    Reload(operations::DaemonArgs),
    /// Start or stop the running daemon's flight recorder.
    Record(operations::RecordArgs),
    /// Re-run a flight recording (or a golden events file) through the engine and print
    /// every action as JSON lines.
    Replay(operations::ReplayArgs),
    /// List the virtual servers the running daemon's load balancer serves, like `ipvsadm -Ln`.
    Lvs(LvsArgs),
    /// Print the MD5 digest of a page, for HTTP_GET/SSL_GET's `digest` (keepalived's genhash).
    Genhash(GenhashArgs),
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("view").args(["stats", "rate"]))]
struct LvsArgs {
    /// Connections, packets and bytes per service and real server (`ipvsadm -Ln --stats`).
    #[arg(long)]
    stats: bool,
    /// Per second over one second (`ipvsadm -Ln --rate`).
    #[arg(long)]
    rate: bool,
    #[arg(long)]
    json: bool,
    /// The daemon's pin directory (its `--bpffs`; default: this namespace's).
    #[arg(long, value_name = "DIR")]
    bpffs: Option<PathBuf>,
}

#[derive(Args)]
struct GenhashArgs {
    /// http://HOST[:PORT]/PATH or https://... (SSL_GET).
    url: String,
    /// The Host header (and TLS server name), like the checker's `virtualhost`.
    #[arg(short = 'V', long)]
    virtualhost: Option<String>,
    /// HTTP/1.1 with `Connection: close` instead of keepalived's default HTTP/1.0.
    #[arg(long)]
    http11: bool,
    /// Also print the status line and headers.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Seconds to wait for each step.
    #[arg(long, default_value = "5", value_parser = parse_seconds)]
    timeout: Duration,
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["iface", "pcap"]))]
struct MonitorArgs {
    /// Interface to attach the recorder to (observe-only: every VRID, nothing dropped).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    iface: Option<String>,
    /// Decode a pcap capture offline instead.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["once", "duration"])]
    pcap: Option<PathBuf>,
    /// JSON lines instead of a table.
    #[arg(long)]
    json: bool,
    /// Listen for --duration (default 3 s), print one snapshot and exit.
    #[arg(long)]
    once: bool,
    /// Stop after this many seconds (decimals allowed).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    duration: Option<Duration>,
    /// bpffs directory under which each network namespace gets its own pin directory
    /// (`monitor-net-<inode>`; a daemon's is `daemon-net-<inode>`).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_BPFFS_ROOT)]
    bpffs: PathBuf,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("'{text}' is not a positive number of seconds"))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // -D (keepalived's detailed log) shows the daemon's debug lines too.
    let default_level = if cli.keepalived.log_detail {
        "info,xvrrpd=debug"
    } else {
        "info"
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let runs_daemon =
        cli.command.is_none() && cli.keepalived.config_test.is_none() && !cli.keepalived.dump_conf;
    let destination = if runs_daemon && !cli.keepalived.log_console {
        logging::Destination::Syslog {
            socket: cli.keepalived.syslog_socket.clone(),
            local: cli.keepalived.log_facility,
        }
    } else {
        logging::Destination::Console
    };
    logging::init(&destination, filter);
    if !runs_daemon {
        // Commands end quietly when their reader goes away (`xvrrpd status --json | head`);
        // the daemon keeps Rust's SIGPIPE-ignored default and sees EPIPE on its sockets.
        // SAFETY: restoring a signal's default disposition before any thread is started.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    match cli.command {
        Some(Command::Monitor(args)) => monitor_command(args),
        Some(Command::Status(args)) => operations::status(&args),
        Some(Command::Watch(args)) => operations::watch(&args),
        Some(Command::Reload(args)) => operations::reload(&args),
        Some(Command::Record(args)) => operations::record(&args),
        Some(Command::Replay(args)) => operations::replay(&args),
        Some(Command::Lvs(args)) => lvs_command(args),
        Some(Command::Genhash(args)) => genhash_command(args),
        None if cli.keepalived.config_test.is_some() || cli.keepalived.dump_conf => {
            keepalived_command(&cli.keepalived)
        }
        None => daemon_command(&cli.keepalived),
    }
}

fn lvs_command(args: LvsArgs) -> anyhow::Result<()> {
    let pin_dir = match args.bpffs {
        Some(dir) => dir,
        None => pin_dir_for(std::path::Path::new(DEFAULT_BPFFS_ROOT), Role::Daemon)?,
    };
    let view = if args.stats {
        daemon::lvs::show::View::Stats
    } else if args.rate {
        daemon::lvs::show::View::Rate
    } else {
        daemon::lvs::show::View::Connections
    };
    let text = daemon::lvs::show::show(
        &xvrrpd::dataplane::lb::lb_pin_dir(&pin_dir),
        view,
        args.json,
    )?;
    print!("{text}");
    Ok(())
}

fn genhash_command(args: GenhashArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let response = runtime
        .block_on(xvrrpd::checkers::http::genhash(
            &args.url,
            args.virtualhost.as_deref(),
            args.http11,
            args.timeout,
        ))
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.url))?;
    if args.verbose {
        eprint!("{}", response.headers);
        eprintln!("({} bytes of body)", response.body_len);
    }
    println!("{}", response.digest);
    Ok(())
}

/// `-t`, `-d` and the daemon itself.
fn keepalived_command(args: &KeepalivedArgs) -> anyhow::Result<()> {
    let options = config::LoadOptions {
        config_id: args
            .config_id
            .clone()
            .unwrap_or_else(config::default_config_id),
        all_config: args.all_config,
    };
    let mut loaded = config::load_file(&args.config_file, &options);
    let host = config::check_host_interfaces(&loaded.config, &host_interfaces());
    if !host.missing_interfaces.is_empty() {
        // keepalived stops at a missing interface before it looks at scripts: its -t exits 5,
        // not 6. The script finding stays, as a warning. (A VRID conflict is found after the
        // script check, which still counts: exit 6.)
        for diagnostic in &mut loaded.diagnostics {
            if diagnostic.severity == config::Severity::ScriptSecurity {
                diagnostic.severity = config::Severity::Warning;
            }
        }
    }
    loaded.diagnostics.extend(host.missing_interfaces);
    loaded.diagnostics.extend(host.vrid_conflicts);
    let report = config_report(&args.config_file, &loaded);
    match &args.config_test {
        Some(Some(log_file)) => std::fs::write(log_file, &report)
            .with_context(|| format!("writing the config test log {}", log_file.display()))?,
        _ => eprint!("{report}"),
    }
    let code = loaded.exit_code(args.strict_config);
    if args.dump_conf && code != config::exit_code::FATAL {
        let text = if args.json {
            config::dump::to_json(&loaded.config)
        } else {
            config::dump::to_text(&loaded.config)
        };
        print!("{text}");
        if args.json {
            println!();
        }
    }
    std::process::exit(code);
}

/// The daemon: keepalived's `-n -P` are accepted (it never forks and has only the VRRP
/// subsystem).
fn daemon_command(args: &KeepalivedArgs) -> ! {
    let options = daemon::DaemonOptions {
        config_file: args.config_file.clone(),
        load: config::LoadOptions {
            config_id: args
                .config_id
                .clone()
                .unwrap_or_else(config::default_config_id),
            all_config: args.all_config,
        },
        strict_config: args.strict_config,
        pid_file: args.pid_file.clone(),
        pin_dir: args.bpffs.clone(),
        foreign_pass: args.foreign_adverts == "pass",
        socket: args.socket.clone(),
        metrics_listen: args.metrics_listen,
        record_events: args.record_events.clone(),
        kernel_timers: !args.no_kernel_timers,
        // keepalived's -P runs the VRRP process only: no virtual servers, no checkers.
        lvs: !args.vrrp_only,
    };
    std::process::exit(daemon::run(&options))
}

/// Every diagnostic, then one summary line.
fn config_report(path: &std::path::Path, loaded: &config::Loaded) -> String {
    use std::fmt::Write as _;
    let mut report = String::new();
    for diagnostic in &loaded.diagnostics {
        let _ = writeln!(report, "{diagnostic}\n");
    }
    let errors = loaded.count(config::Severity::Error)
        + loaded.count(config::Severity::Fatal)
        + loaded.count(config::Severity::ScriptSecurity);
    let _ = writeln!(
        report,
        "{}: {} lines, {} vrrp_instance, {} vrrp_script, {} vrrp_sync_group, {} virtual_server; {} error(s), {} warning(s)",
        path.display(),
        loaded.lines,
        loaded.config.instances.len(),
        loaded.config.scripts.len(),
        loaded.config.sync_groups.len(),
        loaded.config.virtual_servers.len(),
        errors,
        loaded.count(config::Severity::Warning),
    );
    report
}

/// The interfaces of this process's network namespace with their primary IPv4 and
/// link-local IPv6 addresses (getifaddrs follows the namespace the process is in, `nsenter
/// --net` included; /sys/class/net shows the namespace sysfs was mounted from).
fn host_interfaces() -> Vec<config::HostLink> {
    use std::net::{Ipv4Addr, Ipv6Addr};
    let mut links: Vec<config::HostLink> = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we free below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return links;
    }
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: `entry` is a node of the list getifaddrs returned, not yet freed.
        let current = unsafe { &*entry };
        entry = current.ifa_next;
        if current.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { std::ffi::CStr::from_ptr(current.ifa_name) }
            .to_string_lossy()
            .into_owned();
        let index = match links.iter().position(|l| l.name == name) {
            Some(index) => index,
            None => {
                links.push(config::HostLink {
                    name,
                    ..Default::default()
                });
                links.len() - 1
            }
        };
        if current.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_addr points to a sockaddr whose family says which type it is.
        let family = i32::from(unsafe { (*current.ifa_addr).sa_family });
        let link = &mut links[index];
        if family == libc::AF_INET && link.ipv4.is_none() {
            // SAFETY: an AF_INET address is a sockaddr_in.
            let addr = unsafe { &*(current.ifa_addr as *const libc::sockaddr_in) };
            link.ipv4 = Some(Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr)));
        } else if family == libc::AF_INET6 {
            // SAFETY: an AF_INET6 address is a sockaddr_in6.
            let addr = unsafe { &*(current.ifa_addr as *const libc::sockaddr_in6) };
            let v6 = Ipv6Addr::from(addr.sin6_addr.s6_addr);
            if link.ipv6.is_none() && v6.segments()[0] & 0xffc0 == 0xfe80 {
                link.ipv6 = Some(v6);
            }
        }
    }
    // SAFETY: the list getifaddrs allocated, freed once.
    unsafe { libc::freeifaddrs(list) };
    links
}

fn monitor_command(args: MonitorArgs) -> anyhow::Result<()> {
    if let Some(path) = args.pcap {
        let snapshot = monitor::snapshot_from_pcap(&path)?;
        let text = if args.json {
            monitor::render_json(&snapshot)
        } else {
            monitor::render_table(&snapshot)
        };
        print!("{text}");
        return Ok(());
    }
    let iface = args.iface.context("--interface or --pcap is required")?;
    let options = LiveOptions {
        iface,
        json: args.json,
        once: args.once,
        duration: args.duration,
        pin_dir: pin_dir_for(&args.bpffs, Role::Monitor)?,
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(monitor::run_live(options))
}
