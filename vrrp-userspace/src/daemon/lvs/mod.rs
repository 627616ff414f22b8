//! The daemon's LVS edge: the XDP load balancer behind `vrrp_rx`, kept in step with the
//! checkers, the kernel's next hops and the virtual addresses this director holds.
//!
//! - [`Lvs::start`] loads the load balancer, chains it behind `vrrp_rx` (attaching it on its
//!   own where no instance runs), writes every service ([`director`]) and starts one task per
//!   checker; [`Lvs::stop`] undoes all of it (with `omega`, the down notifies run).
//! - The VRRP runtime owns it as [`LvsSide`]: a reload hands it the new configuration
//!   ([`LvsSide::reload`], keepalived's check process reload), which starts, moves or stops
//!   the load balancer.
//! - A VIP is served only while it is a local address: the runtime calls
//!   [`LvsSide::set_held`] before it adds a master's addresses and after it removed them;
//!   netlink address changes keep the rest (static VIPs, addresses removed by hand) right.
//! - Checker results become pool changes, map writes and `notify_up`/`notify_down`/
//!   `quorum_up`/`quorum_down` scripts; idle connections expire with IPVS's timeouts.

pub mod director;
mod neigh;
pub mod show;
mod side;

pub use self::side::LvsSide;

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use futures::StreamExt as _;
use futures::channel::mpsc;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use self::director::{Director, ReloadSummary};
use super::netlink::Netlink;
use crate::checkers::{self, Change, Schedule};
use crate::config::model::ScriptCommand;
use crate::dataplane::lb::{LbOptions, LoadBalancer, lb_pin_dir};
use crate::lvs::diff;
use crate::lvs::pool::PoolEvent;
use crate::lvs::settings::{LvsConfig, VirtualService};

/// What a checker task reports.
struct CheckerReport {
    /// The checkers' epoch it came from: a reload starts a new one and drops older reports.
    epoch: u64,
    service: usize,
    real: usize,
    checker: usize,
    change: Change,
    reason: String,
}

/// What the LVS loop shares with [`Lvs`]: where `vrrp_rx` runs, and a wakeup to resolve the
/// servers and read the held addresses at once (after a reload).
struct Shared {
    vrrp_ifindexes: RefCell<BTreeSet<u32>>,
    refresh: Notify,
    /// The checkers' epoch now.
    epoch: Cell<u64>,
}

/// The running LVS side.
pub struct Lvs {
    director: Rc<RefCell<Director>>,
    checkers: Vec<JoinHandle<()>>,
    main: Option<tokio::task::JoinHandle<()>>,
    reports: mpsc::UnboundedSender<CheckerReport>,
    shared: Rc<Shared>,
    /// The program was loaded with NAT's reply lookups.
    nat: bool,
}

impl Lvs {
    /// Starts the LVS side when the configuration has virtual servers (`None` otherwise).
    /// `vrrp_ifindexes`: where `vrrp_rx` is attached (it chains to the load balancer there).
    pub async fn start(
        lvs: &LvsConfig,
        daemon_pin_dir: &Path,
        netlink: &Netlink,
        vrrp_ifindexes: &BTreeSet<u32>,
    ) -> anyhow::Result<Option<Self>> {
        if lvs.services.is_empty() {
            return Ok(None);
        }
        let nat = lvs.uses_nat();
        let mut lb = LoadBalancer::load(&LbOptions {
            pin_dir: lb_pin_dir(daemon_pin_dir),
            nat,
        })?;
        lb.chain(daemon_pin_dir)?;
        let (director, events) = Director::new(lb, lvs)?;
        let director = Rc::new(RefCell::new(director));
        for (service, event) in events {
            react(&director.borrow(), service, event);
        }
        info!(
            services = lvs.services.len(),
            vips = director.borrow().vips().len(),
            "load balancer running"
        );
        let shared = Rc::new(Shared {
            vrrp_ifindexes: RefCell::new(vrrp_ifindexes.clone()),
            refresh: Notify::new(),
            epoch: Cell::new(0),
        });
        let (reports, receiver) = mpsc::unbounded();
        let checkers = start_checkers(lvs, &reports, 0, |_, _, _| None);
        let main = tokio::task::spawn_local(run(
            director.clone(),
            receiver,
            netlink.clone(),
            shared.clone(),
        ));
        Ok(Some(Self {
            director,
            checkers,
            main: Some(main),
            reports,
            shared,
            nat,
        }))
    }

    /// The VRRP side is about to hold these virtual addresses (`true`, before adding them) or
    /// has given them up (`false`, after removing them).
    pub fn set_held(&self, addrs: &[IpAddr], held: bool) {
        let Ok(mut director) = self.director.try_borrow_mut() else {
            return;
        };
        for addr in addrs {
            if let Err(e) = director.set_held(*addr, held) {
                warn!(vip = %addr, error = %e, "cannot update the load balancer");
            }
        }
    }

    /// Moves the running load balancer to `lvs` (keepalived's check process reload,
    /// `clear_diff_services`): the maps follow [`Director::reload`]; every checker is
    /// restarted (as keepalived restarts them), an unchanged one resuming its verdict; the
    /// removed real servers that were alive run their `notify_down`. Reports of the old
    /// checkers still queued are dropped.
    fn reload(
        &mut self,
        lvs: &LvsConfig,
        vrrp_ifindexes: &BTreeSet<u32>,
    ) -> anyhow::Result<ReloadSummary> {
        let old: Vec<VirtualService> = {
            let director = self.director.borrow();
            (0..director.services())
                .map(|i| director.service(i).clone())
                .collect()
        };
        for checker in self.checkers.drain(..) {
            checker.abort();
        }
        let epoch = self.shared.epoch.get() + 1;
        self.shared.epoch.set(epoch);
        let reloaded = self.director.borrow_mut().reload(lvs)?;
        for gone in &reloaded.gone {
            info!(service = %gone.service, real = %gone.real, "service {} no longer exist", gone.real);
            if gone.alive {
                info!(service = %gone.service, real = %gone.real, "Removing service {} from VS {}", gone.real, gone.service);
                run_script(gone.notify_down.as_ref());
            }
        }
        {
            let director = self.director.borrow();
            for (service, event) in reloaded.events {
                react(&director, service, event);
            }
        }
        let migrated = diff::migrated_checkers(&old, &lvs.services);
        let director = self.director.borrow();
        self.checkers = start_checkers(lvs, &self.reports, epoch, |s, r, c| {
            let up = director.pool(s).checkers_up(r).get(c).copied()?;
            Some((up, migrated[s][r][c]))
        });
        drop(director);
        *self.shared.vrrp_ifindexes.borrow_mut() = vrrp_ifindexes.clone();
        self.shared.refresh.notify_one();
        Ok(reloaded.summary)
    }

    /// Stops the checkers, runs omega's notifies and removes the load balancer.
    pub async fn stop(mut self) {
        for checker in &self.checkers {
            checker.abort();
        }
        if let Some(main) = self.main.take() {
            main.abort();
            let _ = main.await;
        }
        {
            let director = self.director.borrow();
            for index in 0..director.services() {
                let service = director.service(index);
                if !service.omega {
                    continue;
                }
                for real in director.pool(index).alive_reals() {
                    run_script(service.reals[real].notify_down.as_ref());
                }
                run_script(service.quorum_down.as_ref());
            }
        }
        match Rc::try_unwrap(self.director) {
            Ok(director) => director.into_inner().shutdown(),
            Err(_) => warn!("the load balancer is still in use; its pins stay"),
        }
    }
}

/// One task per checker. `resume` gives a checker restarted by a reload its verdict and
/// whether it continues a running one (`None`: as at startup).
fn start_checkers(
    lvs: &LvsConfig,
    reports: &mpsc::UnboundedSender<CheckerReport>,
    epoch: u64,
    resume: impl Fn(usize, usize, usize) -> Option<(bool, bool)>,
) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    for (s, service) in lvs.services.iter().enumerate() {
        let delay_loop = service
            .reals
            .iter()
            .flat_map(|r| r.checks.iter())
            .map(|c| c.delay_loop)
            .next()
            .unwrap_or(crate::lvs::settings::DEFAULT_DELAY_LOOP);
        for (r, real) in service.reals.iter().enumerate() {
            for (c, spec) in real.checks.iter().enumerate() {
                let spec = spec.clone();
                let reports = reports.clone();
                let name = format!("{} of {}", spec.kind.name(), real.name(service.protocol));
                let mut schedule = match resume(s, r, c) {
                    Some((up, has_run)) => Schedule::resume(&spec, up, has_run),
                    None => Schedule::new(&spec),
                };
                tasks.push(tokio::spawn(async move {
                    // keepalived: the first check after BOOTSTRAP_DELAY (1 s) and a random
                    // share of `warmup`, so checks of many servers do not coincide.
                    let warmup = spec.warmup.mul_f64(random_fraction());
                    tokio::time::sleep(Duration::from_secs(1) + warmup).await;
                    loop {
                        let outcome = checkers::probe::run(&spec, delay_loop).await;
                        let (delay, changes) = schedule.record(&outcome);
                        debug!(checker = %name, ?outcome, "checked");
                        let reason = match &outcome {
                            checkers::Outcome::Down { reason } => reason.clone(),
                            checkers::Outcome::Up { .. } => "success".into(),
                        };
                        for change in changes {
                            let report = CheckerReport {
                                epoch,
                                service: s,
                                real: r,
                                checker: c,
                                change,
                                reason: reason.clone(),
                            };
                            if reports.unbounded_send(report).is_err() {
                                return;
                            }
                        }
                        tokio::time::sleep(delay).await;
                    }
                }));
            }
        }
    }
    tasks
}

fn random_fraction() -> f64 {
    let mut bytes = [0u8; 4];
    // SAFETY: getrandom into a 4-byte buffer.
    unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), 4, 0) };
    u32::from_ne_bytes(bytes) as f64 / u32::MAX as f64
}

/// The LVS loop: checker reports, next hops every second, connection expiry, held VIPs.
async fn run(
    director: Rc<RefCell<Director>>,
    mut reports: mpsc::UnboundedReceiver<CheckerReport>,
    netlink: Netlink,
    shared: Rc<Shared>,
) {
    let mut changes = match Netlink::subscribe() {
        Ok(changes) => Some(changes),
        Err(e) => {
            warn!(error = %e, "cannot follow address changes; VIPs follow the VRRP state only");
            None
        }
    };
    let handle = match rtnetlink::new_connection() {
        Ok((connection, handle, _)) => {
            tokio::spawn(connection);
            handle
        }
        Err(e) => {
            warn!(error = %e, "cannot open netlink: real servers cannot be resolved");
            return;
        }
    };
    let mut resolve_tick = tokio::time::interval(Duration::from_secs(1));
    let mut expire_tick = tokio::time::interval(Duration::from_secs(2));
    let mut attached: BTreeSet<u32> = BTreeSet::new();
    refresh_held(&director, &netlink).await;
    loop {
        tokio::select! {
            Some(report) = reports.next() => {
                if report.epoch != shared.epoch.get() {
                    // A checker of the configuration before the last reload.
                    continue;
                }
                let mut d = director.borrow_mut();
                let service = d.service(report.service).clone();
                let real = service.reals[report.real].name(service.protocol);
                let result = match report.change {
                    Change::Up => {
                        info!(service = %service.name, real = %real, "checker succeeded: server up");
                        d.checker(report.service, report.real, report.checker, true)
                    }
                    Change::Down => {
                        info!(service = %service.name, real = %real, reason = %report.reason, "checker failed: server down");
                        d.checker(report.service, report.real, report.checker, false)
                    }
                    Change::Weight(weight) => d.set_weight(report.service, report.real, weight),
                };
                match result {
                    Ok(events) => {
                        for event in events {
                            react(&d, report.service, event);
                        }
                    }
                    Err(e) => warn!(error = %e, "cannot update the load balancer"),
                }
            }
            _ = resolve_tick.tick() => {
                let vrrp_ifindexes = shared.vrrp_ifindexes.borrow().clone();
                resolve_all(&director, &netlink, &handle, &vrrp_ifindexes, &mut attached).await;
            }
            _ = shared.refresh.notified() => {
                // A reload: new addresses' held states are read and new servers resolved now,
                // not at the next tick; a server the kernel has no neighbour entry for yet is
                // asked again shortly (its frames are dropped until then), for half a second.
                refresh_held(&director, &netlink).await;
                let vrrp_ifindexes = shared.vrrp_ifindexes.borrow().clone();
                for _ in 0..20 {
                    resolve_all(&director, &netlink, &handle, &vrrp_ifindexes, &mut attached).await;
                    if director.borrow().unresolved() == 0 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            }
            _ = expire_tick.tick() => {
                let now = coarse_now_ns();
                if let Err(e) = director.borrow_mut().expire(now) {
                    debug!(error = %e, "expiring connections failed");
                }
            }
            Some(_) = async {
                match &mut changes {
                    Some(changes) => changes.next().await,
                    None => std::future::pending().await,
                }
            } => {
                if let Some(changes) = &mut changes {
                    while changes.try_recv().is_ok() {}
                }
                refresh_held(&director, &netlink).await;
            }
        }
    }
}

/// A VIP is held while it is a local address of this host.
async fn refresh_held(director: &Rc<RefCell<Director>>, netlink: &Netlink) {
    let Ok(host) = netlink.host_facts().await else {
        return;
    };
    let mut d = director.borrow_mut();
    for vip in d.vips() {
        let local = host.interfaces.iter().any(|i| i.has_address(vip));
        if let Err(e) = d.set_held(vip, local) {
            warn!(vip = %vip, error = %e, "cannot update the load balancer");
        }
    }
}

async fn resolve_all(
    director: &Rc<RefCell<Director>>,
    netlink: &Netlink,
    handle: &rtnetlink::Handle,
    vrrp_ifindexes: &BTreeSet<u32>,
    attached: &mut BTreeSet<u32>,
) {
    let Ok(host) = netlink.host_facts().await else {
        return;
    };
    let addrs = director.borrow().server_addresses();
    let mut wanted: BTreeSet<u32> = BTreeSet::new();
    for addr in addrs {
        let hop = neigh::resolve(handle, &host, addr).await;
        if let Some(hop) = &hop {
            wanted.insert(hop.ifindex);
        }
        if let Err(e) = director.borrow_mut().set_next_hop(addr, hop) {
            warn!(server = %addr, error = %e, "cannot update the load balancer");
        }
    }
    // Where virtual addresses live, and where servers answer (NAT replies), the program
    // must run: behind vrrp_rx there, or on its own.
    for vip in director.borrow().vips() {
        for iface in host.interfaces.iter().filter(|i| i.has_address(vip)) {
            if !iface.loopback {
                wanted.insert(iface.ifindex);
            }
        }
    }
    for ifindex in wanted.difference(vrrp_ifindexes) {
        if attached.contains(ifindex) {
            continue;
        }
        match director.borrow_mut().load_balancer_mut().attach(*ifindex) {
            Ok(_) => {
                attached.insert(*ifindex);
            }
            Err(e) => warn!(ifindex, error = %e, "cannot attach the load balancer"),
        }
    }
}

/// CLOCK_MONOTONIC_COARSE, the clock the program stamps connections with.
fn coarse_now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Logs a pool change and runs its notify script.
fn react(director: &Director, index: usize, event: PoolEvent) {
    let service = director.service(index);
    match event {
        PoolEvent::RealUp(real) => {
            let r = &service.reals[real];
            info!(service = %service.name, real = %r.name(service.protocol), "{} service {} to VS {}", if r.inhibit { "Enabling" } else { "Adding" }, r.name(service.protocol), service.name);
            run_script(r.notify_up.as_ref());
        }
        PoolEvent::RealDown(real) => {
            let r = &service.reals[real];
            info!(service = %service.name, real = %r.name(service.protocol), "{} service {} from VS {}", if r.inhibit { "Disabling" } else { "Removing" }, r.name(service.protocol), service.name);
            run_script(r.notify_down.as_ref());
        }
        PoolEvent::Weight { real, from, to } => {
            info!(service = %service.name, real = %service.reals[real].name(service.protocol), from, to, "Changing weight from {from} to {to}");
        }
        PoolEvent::QuorumUp {
            weight_sum,
            threshold,
        } => {
            info!(service = %service.name, weight_sum, threshold, "Gained quorum for VS {}", service.name);
            run_script(service.quorum_up.as_ref());
        }
        PoolEvent::QuorumDown {
            weight_sum,
            threshold,
        } => {
            info!(service = %service.name, weight_sum, threshold, "Lost quorum for VS {}", service.name);
            run_script(service.quorum_down.as_ref());
        }
    }
}

/// Fire and forget, as keepalived's notify_exec; the child is reaped by its task.
fn run_script(script: Option<&ScriptCommand>) {
    let Some(script) = script else {
        return;
    };
    let Some((program, args)) = script.argv.split_first() else {
        return;
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(false);
    match command.spawn() {
        Ok(mut child) => {
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
        Err(e) => warn!(script = %program, error = %e, "cannot run the notify script"),
    }
}
