//! The `xvrrpd` command.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use xvrrpd::dataplane::DEFAULT_PIN_DIR;
use xvrrpd::monitor::{self, LiveOptions};

#[derive(Parser)]
#[command(
    name = "xvrrpd",
    version,
    about = "keepalived-compatible VRRP with an XDP receive path"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show every VRRP router on a link (live, through the XDP recorder) or in a capture.
    Monitor(MonitorArgs),
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
    /// bpffs directory for the pinned maps and links.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_PIN_DIR)]
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
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Command::Monitor(args) => monitor_command(args),
    }
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
        pin_dir: args.bpffs,
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(monitor::run_live(options))
}
