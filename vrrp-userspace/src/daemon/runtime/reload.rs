//! Reloading the configuration (SIGHUP, `xvrrpd reload`) the way keepalived users expect it,
//! without its glitches. A configuration with errors is refused and nothing changes.
//! A running instance continues when the new configuration has the same virtual router: the
//! same VRID, family, interface and kind of destination (keepalived's vrrp_exist, which does
//! not look at the name or the version); one of the same name is preferred. It keeps its state
//! and timers, so a master stays master and sends no priority 0 and no extra gratuitous ARP;
//! of its addresses, routes and rules only the added and removed ones are touched. Removed
//! instances stop as on SIGTERM (priority 0 if master), new ones start. The XDP program stays
//! attached; its maps change in place. The virtual servers follow last (`LvsSide::reload`).

use std::collections::BTreeMap;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::{Owned, Runtime, open_link_sockets};
use crate::config::{self, Severity};
use crate::daemon::control::Reply;
use crate::daemon::resolve::{self, Resolved, ResolvedInstance};
use crate::daemon::schedule::DeadlineQueue;
use crate::daemon::scripts::{self, Finding, Vetted};
use crate::daemon::trackers::Trackers;
use crate::daemon::{prepare_host, timer};
use crate::engine::{Destination, Event, InstanceId, Router, TrackerId};

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error(
        "{file}: the configuration has {what}; the running configuration is kept\n{diagnostics}"
    )]
    Diagnostics {
        file: String,
        what: &'static str,
        diagnostics: String,
    },
    #[error("cannot prepare the host for the new configuration: {0:#}")]
    Host(anyhow::Error),
    #[error(
        "the new configuration cannot run on this host ({0}); the running configuration is kept"
    )]
    Resolve(resolve::ResolveError),
    #[error(
        "the new sync groups do not fit the instances ({0}); the running configuration is kept"
    )]
    Groups(crate::engine::RouterError),
}

/// How the running instances map onto the new ones.
struct Plan {
    /// For each new instance, the running instance it continues.
    carry: Vec<Option<InstanceId>>,
    /// Old tracker id -> new tracker id, for objects tracked before and after.
    trackers: BTreeMap<TrackerId, TrackerId>,
    /// Running instances that stop.
    removed: Vec<InstanceId>,
}

/// A new configuration that passed the checks.
struct Checked {
    resolved: Resolved,
    /// The configuration with its insecure scripts removed, for the trackers and notifies.
    config: config::Config,
    vetted: Vetted,
    warnings: Vec<String>,
}

impl Plan {
    fn new(old: &Resolved, new: &Resolved) -> Self {
        // keepalived (vrrp.c vrrp_exist) recognises a running instance by the virtual router
        // it is, whatever its name: a renamed instance continues. The same name goes first,
        // so that instances are not paired crosswise when only their names moved.
        let mut carry: Vec<Option<InstanceId>> = vec![None; new.instances.len()];
        let mut taken = vec![false; old.instances.len()];
        for same_name in [true, false] {
            for (index, n) in new.instances.iter().enumerate() {
                if carry[index].is_some() {
                    continue;
                }
                let found = old.instances.iter().enumerate().position(|(o, old)| {
                    !taken[o] && (!same_name || old.name == n.name) && same_identity(old, n)
                });
                if let Some(o) = found {
                    taken[o] = true;
                    carry[index] = Some(InstanceId(o));
                }
            }
        }
        let trackers = old
            .trackers
            .iter()
            .enumerate()
            .filter_map(|(o, object)| {
                let n = new.trackers.iter().position(|n| n.same_object(object))?;
                Some((TrackerId(o as u32), TrackerId(n as u32)))
            })
            .collect();
        let removed = (0..old.instances.len())
            .map(InstanceId)
            .filter(|id| !carry.contains(&Some(*id)))
            .collect();
        Self {
            carry,
            trackers,
            removed,
        }
    }

    fn added(&self) -> impl Iterator<Item = InstanceId> + '_ {
        self.carry
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_none())
            .map(|(i, _)| InstanceId(i))
    }
}

/// Whether a new instance continues a running one: the same virtual router (VRID and family)
/// on the same interface, reached the same way (multicast or unicast), as keepalived's
/// vrrp_exist decides. Like keepalived, a new `version` continues the instance (its adverts
/// change format, a master stays master). Unlike keepalived, a new unicast source address or
/// multicast group continues it too: the instance is the same on the wire to its peers, and
/// keepalived's stop and restart would only send a priority 0 and give the addresses up.
fn same_identity(old: &ResolvedInstance, new: &ResolvedInstance) -> bool {
    let multicast = |i: &ResolvedInstance| {
        matches!(
            i.engine.settings().destination,
            Destination::Multicast { .. }
        )
    };
    old.engine.settings().vrid == new.engine.settings().vrid
        && old.engine.settings().flavor.family() == new.engine.settings().flavor.family()
        && old.link.name == new.link.name
        && multicast(old) == multicast(new)
}

/// What the new list has that the old one does not.
fn missing_from<T: PartialEq + Clone>(list: &[T], other: &[T]) -> Vec<T> {
    list.iter()
        .filter(|x| !other.contains(x))
        .cloned()
        .collect()
}

/// Numbers for the reply and the log.
#[derive(Default)]
struct Summary {
    kept: usize,
    changed: usize,
    added: usize,
    removed: usize,
    addresses_added: usize,
    addresses_removed: usize,
    /// What the load balancer did, for the reply.
    lvs: String,
}

/// A reload whose configuration file is being read on a blocking thread (a 20,000-line file
/// takes tens of milliseconds, longer than a Master_Down_Interval at `advert_int 0.01`: the
/// loop keeps advertising meanwhile), and who waits for its outcome.
pub(in crate::daemon) struct PendingReload {
    reading: JoinHandle<config::Loaded>,
    waiting: Vec<oneshot::Sender<Reply>>,
    /// Requests that came while the file was read: the file may have changed since, so they
    /// get a read of their own afterwards.
    again: Option<Vec<oneshot::Sender<Reply>>>,
    started: std::time::Instant,
}

/// The file read of the pending reload, when it is done (never, without one).
pub(super) async fn read(pending: &mut Option<PendingReload>) -> config::Loaded {
    match pending {
        Some(pending) => match (&mut pending.reading).await {
            Ok(loaded) => loaded,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        },
        None => std::future::pending().await,
    }
}

impl Runtime {
    /// SIGHUP or `xvrrpd reload`: starts reading the configuration file, unless a read is
    /// running (then another follows it). `waiter` gets the outcome.
    pub(super) fn request_reload(&mut self, waiter: Option<oneshot::Sender<Reply>>) {
        match &mut self.reload {
            Some(pending) => pending.again.get_or_insert_with(Vec::new).extend(waiter),
            None => self.start_reading(waiter.into_iter().collect()),
        }
    }

    fn start_reading(&mut self, waiting: Vec<oneshot::Sender<Reply>>) {
        self.ops.notifier.reloading();
        let (file, options) = (self.ops.config_file.clone(), self.ops.load.clone());
        self.reload = Some(PendingReload {
            reading: tokio::task::spawn_blocking(move || config::load_file(&file, &options)),
            waiting,
            again: None,
            started: std::time::Instant::now(),
        });
    }

    /// The file is read: checks and applies it, answers whoever waits, and starts the next
    /// read if one was asked for meanwhile.
    pub(super) async fn finish_reload(&mut self, loaded: config::Loaded) {
        let Some(pending) = self.reload.take() else {
            return;
        };
        let reply = self.reload_with(loaded, pending.started).await;
        if let Reply::Failed { message } = &reply {
            warn!("reload refused: {message}");
        }
        self.ops
            .notifier
            .ready(&format!("{} VRRP instances", self.resolved.instances.len()));
        for waiter in pending.waiting {
            let _ = waiter.send(reply.clone());
        }
        if let Some(waiting) = pending.again {
            self.start_reading(waiting);
        }
    }

    /// Checks the configuration and applies it; the reply says what changed or why nothing
    /// did (with the diagnostics).
    async fn reload_with(&mut self, loaded: config::Loaded, started: std::time::Instant) -> Reply {
        let file = self.ops.config_file.display().to_string();
        match self.check_new_configuration(loaded).await {
            Err(refused) => Reply::Failed {
                message: refused.to_string(),
            },
            Ok(checked) => {
                let warnings = checked.warnings.clone();
                let summary = self.apply(checked).await;
                let took = started.elapsed();
                info!(
                    file,
                    kept = summary.kept,
                    changed = summary.changed,
                    added = summary.added,
                    removed = summary.removed,
                    ms = took.as_secs_f64() * 1e3,
                    "configuration reloaded"
                );
                Reply::Done {
                    message: format!(
                        "reloaded {file} in {:.1} ms: {} instances kept ({} changed), {} added, {} removed; virtual addresses +{} -{}{}{}",
                        took.as_secs_f64() * 1e3,
                        summary.kept,
                        summary.changed,
                        summary.added,
                        summary.removed,
                        summary.addresses_added,
                        summary.addresses_removed,
                        summary.lvs,
                        warnings
                            .iter()
                            .map(|w| format!("\n{w}"))
                            .collect::<String>()
                    ),
                }
            }
        }
    }

    /// Checks and resolves the configuration read again; nothing running changes (except
    /// VMAC interfaces a new instance needs, which exist before it resolves).
    async fn check_new_configuration(
        &mut self,
        loaded: config::Loaded,
    ) -> Result<Checked, Refused> {
        // What the reader dropped (errors) would stop running instances; the script security
        // notice is keepalived's warning at run time (it starts and reloads with it), a
        // refusal only with --strict-config, as warnings are.
        let strict = self.ops.strict_config;
        let refusing = |severity: Severity| match severity {
            Severity::Error | Severity::Fatal => true,
            Severity::Warning | Severity::ScriptSecurity => strict,
        };
        let lines: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
        if loaded.diagnostics.iter().any(|d| refusing(d.severity)) {
            let errors = loaded
                .diagnostics
                .iter()
                .any(|d| matches!(d.severity, Severity::Error | Severity::Fatal));
            return Err(Refused::Diagnostics {
                file: self.ops.config_file.display().to_string(),
                what: if errors {
                    "errors"
                } else {
                    "warnings (--strict-config)"
                },
                diagnostics: lines.join("\n"),
            });
        }
        // Scripts are vetted again, as at startup: an insecure one is not run (keepalived
        // disables it and goes on); with --strict-config the reload is refused.
        let mut config = loaded.config;
        let (vetted, findings) = scripts::vet(&mut config);
        let findings: Vec<String> = findings
            .into_iter()
            .map(|f| match f {
                Finding::Warning(message) | Finding::Error(message) => message,
            })
            .collect();
        if strict && !findings.is_empty() {
            return Err(Refused::Diagnostics {
                file: self.ops.config_file.display().to_string(),
                what: "scripts that cannot run safely (--strict-config)",
                diagnostics: findings.join("\n"),
            });
        }
        let host = prepare_host(&config, &self.netlink)
            .await
            .map_err(Refused::Host)?;
        let new = resolve::resolve(&config, &host).map_err(Refused::Resolve)?;
        let configs: Vec<_> = new.instances.iter().map(|i| i.engine.clone()).collect();
        Router::check_groups(&configs, &new.sync_groups).map_err(Refused::Groups)?;
        self.host = host;
        let mut warnings = lines;
        warnings.extend(findings);
        warnings.extend(new.warnings.iter().cloned());
        for warning in &warnings {
            warn!("{warning}");
        }
        Ok(Checked {
            resolved: new,
            config,
            vetted,
            warnings,
        })
    }

    /// Moves the running daemon to the new configuration.
    async fn apply(&mut self, checked: Checked) -> Summary {
        let Checked {
            resolved: new,
            config,
            vetted,
            ..
        } = checked;
        let plan = Plan::new(&self.resolved, &new);
        let mut summary = Summary {
            kept: plan.carry.iter().flatten().count(),
            added: plan.added().count(),
            removed: plan.removed.len(),
            ..Summary::default()
        };

        // Removed instances stop first, under their old ids: a master sends priority 0 and
        // gives its addresses up, as on SIGTERM; notify scripts hear DELETED (or FAULT).
        let now = timer::now();
        for &id in &plan.removed {
            let instance = self.router.instance(id);
            self.notifier
                .instance_deleted(id, instance.state(), instance.priority());
            let actions = self.router.handle(now, id, Event::Shutdown);
            self.perform(actions).await;
            for burst in self.bursts[id.0].drain(..) {
                burst.abort();
            }
        }
        self.remove_unused_vmacs(&new).await;

        // Kept masters: only what changed on the host. Every removal before any addition, so
        // an address moving between two instances ends up present.
        let mut diffs = Vec::new();
        for (index, carried) in plan.carry.iter().enumerate() {
            let Some(old_id) = *carried else { continue };
            let (old, new) = (&self.resolved.instances[old_id.0], &new.instances[index]);
            if old.engine != new.engine
                || old.addresses != new.addresses
                || old.routes != new.routes
                || old.rules != new.rules
            {
                summary.changed += 1;
            }
            if !self.holding[old_id.0] {
                continue;
            }
            let gone = Owned {
                addresses: missing_from(&old.addresses, &new.addresses),
                routes: missing_from(&old.routes, &new.routes),
                rules: missing_from(&old.rules, &new.rules),
            };
            let added = Owned {
                addresses: missing_from(&new.addresses, &old.addresses),
                routes: missing_from(&new.routes, &old.routes),
                rules: missing_from(&new.rules, &old.rules),
            };
            summary.addresses_removed += gone.addresses.len();
            summary.addresses_added += added.addresses.len();
            diffs.push((old_id, gone, added));
        }
        for (id, gone, _) in &diffs {
            if !gone.is_empty() {
                self.change_addresses(*id, gone, false).await;
            }
        }
        for (id, _, added) in &diffs {
            if !added.is_empty() {
                self.change_addresses(*id, added, true).await;
            }
        }

        // Timers that came due meanwhile (a master's next advert) fire before the switch.
        self.deadlines().await;

        // The engine continues the kept instances; its actions use the new ids.
        let now = timer::now();
        let configs = new.instances.iter().map(|i| i.engine.clone()).collect();
        let actions = match self.router.reconfigure(
            now,
            configs,
            new.sync_groups.clone(),
            plan.carry.clone(),
            plan.trackers.clone(),
        ) {
            Ok(actions) => actions,
            Err(e) => {
                // check_groups accepted these groups, so this is a bug; the old instances run.
                error!(error = %e, "the engine refused the new configuration");
                return summary;
            }
        };
        self.resolved = new;
        self.bursts = carry_over(std::mem::take(&mut self.bursts), &plan.carry, Vec::new);
        self.holding = carry_over(std::mem::take(&mut self.holding), &plan.carry, || false);
        self.link_view = carry_over(std::mem::take(&mut self.link_view), &plan.carry, || None);
        // The engine marked every instance changed: their deadlines come back with the new
        // ids when its actions are performed.
        self.schedule = DeadlineQueue::new(self.resolved.instances.len());
        self.reported.clear();
        // Every tracked interface is reported again: an instance may track one it did not.
        self.tracked_up.clear();
        self.ops.book.reconfigure(&plan.carry, now);
        self.names_at_start = self
            .host
            .interfaces
            .iter()
            .map(|i| (i.ifindex, i.name.clone()))
            .collect();

        if let Err(e) = self.receive.reconfigure(&self.resolved, &plan.carry) {
            error!(error = %e, "cannot update the receive path; adverts for changed instances may be dropped until the next reload");
        }
        self.link_sockets =
            open_link_sockets(&self.resolved, std::mem::take(&mut self.link_sockets));
        // Checks, files and processes are watched anew (running checks are stopped, as
        // keepalived's reload does); the engine kept what they last said.
        let initial = match Trackers::start(&config, &self.resolved, &vetted) {
            Ok((trackers, initial)) => {
                std::mem::replace(&mut self.trackers, trackers).stop().await;
                initial
            }
            Err(e) => {
                warn!(error = %e, "cannot restart the trackers; the old ones keep running");
                Vec::new()
            }
        };
        let names: Vec<String> = self
            .resolved
            .instances
            .iter()
            .map(|i| i.name.clone())
            .collect();
        self.notifier.reload(&config, &names, &vetted);
        self.perform(actions).await;
        for event in initial {
            let actions = self.router.tracker_event(timer::now(), &event);
            self.perform(actions).await;
        }
        self.refresh_links(timer::now()).await;
        let added: Vec<InstanceId> = plan.added().collect();
        for id in added {
            let actions = self.router.handle(timer::now(), id, Event::Startup);
            self.perform(actions).await;
        }
        // The virtual servers follow (keepalived's check process reloads with the same file):
        // after the addresses moved, so that the load balancer reads the held ones as they are.
        let vrrp_ifindexes = self
            .resolved
            .instances
            .iter()
            .map(|i| i.link.ifindex)
            .collect();
        summary.lvs = self.lvs.reload(&config, &vrrp_ifindexes).await;
        summary
    }

    /// VMAC interfaces of removed instances that the new configuration does not use.
    async fn remove_unused_vmacs(&mut self, new: &Resolved) {
        let wanted: Vec<&str> = new
            .instances
            .iter()
            .filter_map(|i| i.vmac.as_ref().map(|v| v.name.as_str()))
            .collect();
        let unused: Vec<String> = self
            .resolved
            .instances
            .iter()
            .filter_map(|i| i.vmac.as_ref().map(|v| v.name.clone()))
            .filter(|name| !wanted.contains(&name.as_str()))
            .collect();
        for name in unused {
            if let Some(iface) = self.host.interface(&name)
                && let Err(e) = self.netlink.delete_link(&name, iface.ifindex).await
            {
                warn!(iface = %name, error = %e, "cannot remove the VMAC interface");
            }
        }
    }
}

/// A per-instance vector re-indexed for the new instances: carried ones keep their value.
fn carry_over<T>(old: Vec<T>, carry: &[Option<InstanceId>], fresh: impl Fn() -> T) -> Vec<T> {
    let mut old: Vec<Option<T>> = old.into_iter().map(Some).collect();
    carry
        .iter()
        .map(|c| {
            c.and_then(|id| old.get_mut(id.0).and_then(Option::take))
                .unwrap_or_else(&fresh)
        })
        .collect()
}
