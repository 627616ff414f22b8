//! The operator commands that talk to a running daemon (`status`, `watch`, `reload`,
//! `record`) and `replay`.

use std::path::PathBuf;

use std::io::Write as _;

use anyhow::{Context as _, bail};
use clap::Args;
use xvrrpd::config::DEFAULT_CONFIG_FILE;
use xvrrpd::daemon::control::{self, Reply, Request, SocketAddress};
use xvrrpd::daemon::status::{TransitionEvent, human, render_table, unix_now};

/// Which daemon: the one of a configuration file (its default socket), or a socket path.
#[derive(Args)]
pub struct DaemonArgs {
    /// The daemon's configuration file (it names the daemon's default control socket).
    #[arg(short = 'f', long = "use-file", value_name = "FILE", default_value = DEFAULT_CONFIG_FILE)]
    config_file: PathBuf,
    /// The daemon's `--socket`, if it was started with one.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
}

impl DaemonArgs {
    fn address(&self) -> SocketAddress {
        match &self.socket {
            Some(path) => SocketAddress::Path(path.clone()),
            None => SocketAddress::for_config(&self.config_file),
        }
    }
}

#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    daemon: DaemonArgs,
    /// The whole report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RecordArgs {
    #[command(flatten)]
    daemon: DaemonArgs,
    /// Start recording to FILE (a path on the daemon's host), or `stop`.
    #[arg(value_name = "FILE|stop")]
    target: String,
}

#[derive(Args)]
pub struct ReplayArgs {
    /// A recording (`--record-events`, `xvrrpd record`) or a golden events file.
    file: PathBuf,
}

fn done(reply: Reply) -> anyhow::Result<()> {
    match reply {
        Reply::Done { message } => {
            println!("{message}");
            Ok(())
        }
        Reply::Failed { message } => bail!("{message}"),
        Reply::Status(_) => bail!("unexpected status reply"),
    }
}

pub fn status(args: &StatusArgs) -> anyhow::Result<()> {
    match control::call(&args.daemon.address(), &Request::Status)? {
        Reply::Status(report) if args.json => {
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Reply::Status(report) => {
            print!("{}", render_table(&report));
            Ok(())
        }
        other => done(other),
    }
}

pub fn watch(args: &DaemonArgs) -> anyhow::Result<()> {
    control::request(&args.address(), &Request::Watch, |line| {
        match serde_json::from_str::<TransitionEvent>(line) {
            Ok(event) => {
                let t = &event.transition;
                println!(
                    "{} {} -> {} ({}), priority {}, {} ago",
                    event.instance,
                    t.from,
                    t.to,
                    t.reason,
                    event.priority,
                    human((unix_now() - t.at_unix).max(0.0))
                );
            }
            Err(_) => println!("{line}"),
        }
        true
    })?;
    Ok(())
}

pub fn reload(args: &DaemonArgs) -> anyhow::Result<()> {
    done(control::call(&args.address(), &Request::Reload)?)
}

pub fn record(args: &RecordArgs) -> anyhow::Result<()> {
    let request = if args.target == "stop" {
        Request::RecordStop
    } else {
        Request::RecordStart {
            file: std::path::absolute(&args.target)?,
        }
    };
    done(control::call(&args.daemon.address(), &request)?)
}

pub fn replay(args: &ReplayArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let actions = xvrrpd::engine::replay::replay(&text)
        .with_context(|| format!("replaying {}", args.file.display()))?;
    let mut out = std::io::stdout().lock();
    for action in actions {
        if writeln!(out, "{}", action.to_json()).is_err() {
            // The reader went away (`| head`): not an error.
            break;
        }
    }
    Ok(())
}
