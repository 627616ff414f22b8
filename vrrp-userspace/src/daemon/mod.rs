//! The daemon: the IO shell around the pure engine, and the only place that knows every other
//! module. One file per edge (netlink, send sockets, precise timers, kernel events, scripts,
//! the process); [`resolve`] turns the configuration and the host into what the runtime
//! needs; [`runtime`] moves events in and actions out.

pub mod checks;
pub mod child;
pub mod control;
pub mod dumps;
pub mod host;
pub mod lvs;
mod metrics;
pub mod netlink;
pub mod notify;
mod policy;
pub mod process;
pub mod receive;
mod recorder;
pub mod resolve;
mod runtime;
pub mod schedule;
pub mod scripts;
mod sdnotify;
pub mod security;
pub mod sockets;
pub mod status;
pub mod timer;
pub mod track_file;
pub mod track_process;
mod trackers;
mod tracking;
pub mod vmac;

pub use runtime::OperationsOptions;

use std::path::PathBuf;

use tracing::{error, info, warn};

use crate::config::{self, Severity};
use crate::dataplane;

/// keepalived's exit codes (lib/scheduler.h), which service managers already know.
pub mod exit_code {
    pub const CLEAN: i32 = 0;
    /// Anything that stopped the daemon at run time, or another daemon holding the pid file.
    pub const FATAL: i32 = 1;
    /// The configuration cannot run on this host (or has errors, with `--strict-config`).
    pub const CONFIG: i32 = 2;
    /// Not root, or capabilities missing.
    pub const MISSING_PERMISSION: i32 = 4;
    /// The configuration file cannot be read, or holds no instance to run.
    pub const NO_CONFIG: i32 = 6;
}

/// The daemon's command line, keepalived's flags where they make sense.
#[derive(Clone, Debug)]
pub struct DaemonOptions {
    pub config_file: PathBuf,
    pub load: config::LoadOptions,
    pub strict_config: bool,
    /// Default: [`process::default_pid_file`].
    pub pid_file: Option<PathBuf>,
    /// Default: a directory per network namespace under /sys/fs/bpf/xvrrpd.
    pub pin_dir: Option<PathBuf>,
    /// Adverts for VRIDs this daemon does not run pass to the stack (another VRRP speaker on
    /// this host owns them) instead of being dropped in the kernel.
    pub foreign_pass: bool,
    /// The control socket (default: `@xvrrpd:<config file>`).
    pub socket: Option<PathBuf>,
    /// `--metrics-listen ADDR:PORT`.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `--record-events FILE`.
    pub record_events: Option<PathBuf>,
    /// Backups' master-down timers run in the kernel (`bpf_timer`) when it allows; false
    /// (`--no-kernel-timers`) keeps them in userspace.
    pub kernel_timers: bool,
    /// Run the `virtual_server`s (keepalived's checker process); off with `-P/--vrrp`.
    pub lvs: bool,
}

/// Runs the daemon until SIGTERM/SIGINT; returns the process exit code.
pub fn run(options: &DaemonOptions) -> i32 {
    if let Err(e) = process::check_capabilities() {
        error!("{e}");
        return exit_code::MISSING_PERMISSION;
    }
    let loaded = config::load_file(&options.config_file, &options.load);
    for diagnostic in &loaded.diagnostics {
        match diagnostic.severity {
            Severity::Warning => warn!("{diagnostic}"),
            _ => error!("{diagnostic}"),
        }
    }
    if loaded
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Fatal)
    {
        error!(file = %options.config_file.display(), "cannot read the configuration");
        return exit_code::NO_CONFIG;
    }
    if options.strict_config && loaded.exit_code(true) != config::exit_code::CLEAN {
        error!("--strict-config: the configuration has errors or warnings; not starting");
        return exit_code::CONFIG;
    }
    let pid_path = options
        .pid_file
        .clone()
        .unwrap_or_else(process::default_pid_file);
    let pid_file = match process::PidFile::acquire(&pid_path) {
        Ok(pid_file) => pid_file,
        Err(e) => {
            error!("{e}");
            return exit_code::FATAL;
        }
    };
    process::minimize_timer_slack();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_start(process::ordinary_thread)
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            error!(error = %e, "cannot start the async runtime");
            pid_file.remove();
            return exit_code::FATAL;
        }
    };
    // Which scripts may run, checked once, as keepalived does before it starts.
    let mut config = loaded.config.clone();
    let (vetted, findings) = scripts::vet(&mut config);
    for finding in findings {
        match finding {
            scripts::Finding::Warning(message) => warn!("{message}"),
            scripts::Finding::Error(message) => error!("{message}"),
        }
    }
    // A LocalSet: the load balancer's loop shares its director with the VRRP runtime's hook.
    let local = tokio::task::LocalSet::new();
    let code = runtime.block_on(local.run_until(start_and_run(&config, &vetted, options)));
    pid_file.remove();
    code
}

async fn start_and_run(
    config: &config::Config,
    vetted: &scripts::Vetted,
    options: &DaemonOptions,
) -> i32 {
    let netlink = match netlink::Netlink::connect() {
        Ok(netlink) => netlink,
        Err(e) => {
            error!("{e}");
            return exit_code::FATAL;
        }
    };
    let host = match prepare_host(config, &netlink).await {
        Ok(host) => host,
        Err(e) => {
            error!("{e:#}");
            return exit_code::FATAL;
        }
    };
    let resolved = match resolve::resolve(config, &host) {
        Ok(resolved) => resolved,
        Err(e @ resolve::ResolveError::NothingToRun) => {
            error!("{e}");
            return exit_code::NO_CONFIG;
        }
        Err(e) => {
            error!("{e}");
            return exit_code::CONFIG;
        }
    };
    for warning in &resolved.warnings {
        warn!("{warning}");
    }
    remove_stale_addresses(&resolved, &host, &netlink).await;
    let foreign = sockets::foreign_vrrp_sockets();
    if !foreign.is_empty() && !options.foreign_pass {
        warn!(
            sockets = foreign.len(),
            "another process in this network namespace has a VRRP socket open (keepalived?); adverts for VRIDs xvrrpd does not run are dropped in the kernel on xvrrpd's interfaces: start xvrrpd with --foreign-adverts pass to let them through"
        );
    }
    let pin_dir = match &options.pin_dir {
        Some(dir) => dir.clone(),
        None => match dataplane::pin_dir_for(
            std::path::Path::new(dataplane::DEFAULT_BPFFS_ROOT),
            dataplane::Role::Daemon,
        ) {
            Ok(dir) => dir,
            Err(e) => {
                error!("{e}");
                return exit_code::FATAL;
            }
        },
    };
    let receive = match receive::Receive::start(
        &resolved,
        &pin_dir,
        options.foreign_pass,
        options.kernel_timers,
    ) {
        Ok(receive) => receive,
        Err(e) => {
            error!("{:#}", anyhow::Error::from(e));
            return exit_code::FATAL;
        }
    };
    // After the program is loaded: the verifier's long system call must not count against a
    // real-time CPU limit.
    for problem in process::set_scheduling(&config.global.tuning) {
        warn!("{problem}");
    }
    info!(
        instances = resolved.instances.len(),
        pins = %pin_dir.display(),
        "xvrrpd running"
    );
    let vrrp_ifindexes = resolved.instances.iter().map(|i| i.link.ifindex).collect();
    let ops_options = OperationsOptions {
        config_file: options.config_file.clone(),
        socket: match &options.socket {
            Some(path) => control::SocketAddress::Path(path.clone()),
            None => control::SocketAddress::for_config(&options.config_file),
        },
        metrics_listen: options.metrics_listen,
        record_events: options.record_events.clone(),
        net_namespace: config.net_namespace.clone(),
        load: options.load.clone(),
        strict_config: options.strict_config,
    };
    let ops = match runtime::Operations::start(&ops_options, resolved.instances.len()).await {
        Ok(ops) => ops,
        Err(e) => {
            error!("{e:#}");
            receive.shutdown();
            return exit_code::FATAL;
        }
    };
    let trackers = match trackers::Trackers::start(config, &resolved, vetted) {
        Ok(trackers) => trackers,
        Err(e) => {
            error!(error = %e, "cannot start the trackers");
            receive.shutdown();
            return exit_code::FATAL;
        }
    };
    let names: Vec<String> = resolved.instances.iter().map(|i| i.name.clone()).collect();
    let notifier = notify::Notifier::start(config, &names, vetted);
    // The runtime owns the LVS side: it tells it which addresses are held, hands it every
    // reloaded configuration and stops it last.
    let lvs = lvs::LvsSide::start(
        options.lvs,
        config,
        &pin_dir,
        netlink.clone(),
        &vrrp_ifindexes,
    )
    .await;
    let companions = runtime::Companions {
        trackers,
        notifier,
        lvs,
    };
    let runtime = match runtime::Runtime::new(resolved, host, netlink, receive, ops, companions) {
        Ok(runtime) => runtime,
        Err(e) => {
            error!("{e:#}");
            return exit_code::FATAL;
        }
    };
    let result = runtime.run(options.record_events.as_deref()).await;
    match result {
        Ok(()) => {
            info!("stopped");
            exit_code::CLEAN
        }
        Err(e) => {
            error!("{e:#}");
            exit_code::FATAL
        }
    }
}

/// Reads the host and creates the VMAC interfaces `use_vmac` asks for, then reads it again.
async fn prepare_host(
    config: &config::Config,
    netlink: &netlink::Netlink,
) -> anyhow::Result<host::HostFacts> {
    let mut host = netlink.host_facts().await?;
    let mut created = false;
    let names = vmac::names(config, &host);
    for (instance, name) in config.instances.iter().zip(names) {
        let (Some(name), Some(base_name)) = (name, &instance.interface) else {
            continue;
        };
        if host.interface(&name).is_some() {
            continue;
        }
        let Some(base) = host.interface(base_name.as_str()) else {
            continue;
        };
        let plan = resolve::VmacPlan {
            name,
            base: resolve::LinkRef {
                name: base.name.clone(),
                ifindex: base.ifindex,
            },
            mac: vmac::mac(instance),
            xmit_base: instance.vmac.as_ref().is_some_and(|v| v.xmit_base),
        };
        netlink.create_vmac(&plan).await?;
        info!(iface = %plan.name, base = %plan.base.name, mac = %plan.mac, "VMAC interface created");
        created = true;
    }
    if created {
        host = netlink.host_facts().await?;
    }
    Ok(host)
}

/// A configured virtual address already on the host at startup was left by a predecessor
/// (kill -9): it belongs to its instance, which starts as BACKUP, so it goes.
async fn remove_stale_addresses(
    resolved: &resolve::Resolved,
    host: &host::HostFacts,
    netlink: &netlink::Netlink,
) {
    for instance in &resolved.instances {
        for address in &instance.addresses {
            let present = host
                .by_index(address.link.ifindex)
                .is_some_and(|i| i.has_address(address.prefix.addr));
            if !present {
                continue;
            }
            warn!(instance = %instance.name, address = %address.prefix, iface = %address.link.name, "virtual address already present at startup (left by an earlier run?); removing it until the instance is master");
            if let Err(e) = netlink.remove_address(address).await {
                warn!(instance = %instance.name, error = %e, "cannot remove the stale address");
            }
        }
    }
}
