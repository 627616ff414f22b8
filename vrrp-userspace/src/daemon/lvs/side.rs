//! The LVS side as the VRRP runtime owns it: started with the daemon, handed every reloaded
//! configuration, stopped last.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use tracing::{error, info, warn};

use super::Lvs;
use crate::config::model::Config;
use crate::daemon::netlink::Netlink;
use crate::lvs::settings::{LvsConfig, lvs_config};

/// The LVS side as the VRRP runtime owns it: running while the configuration has virtual
/// servers (and `-P` was not given), and following every reload.
pub struct LvsSide {
    /// Off with `-P/--vrrp`.
    enabled: bool,
    pin_dir: PathBuf,
    netlink: Netlink,
    running: Option<Lvs>,
}

impl LvsSide {
    /// Starts the load balancer when `enabled` and the configuration has virtual servers. A
    /// load balancer that cannot start is logged; VRRP runs without it.
    pub async fn start(
        enabled: bool,
        config: &Config,
        pin_dir: &Path,
        netlink: Netlink,
        vrrp_ifindexes: &BTreeSet<u32>,
    ) -> Self {
        let mut side = Self {
            enabled,
            pin_dir: pin_dir.to_path_buf(),
            netlink,
            running: None,
        };
        if enabled {
            let lvs = lvs_config(config);
            for warning in &lvs.warnings {
                warn!("{warning}");
            }
            side.running = side.start_lvs(&lvs, vrrp_ifindexes).await;
        }
        side
    }

    async fn start_lvs(&self, lvs: &LvsConfig, vrrp_ifindexes: &BTreeSet<u32>) -> Option<Lvs> {
        match Lvs::start(lvs, &self.pin_dir, &self.netlink, vrrp_ifindexes).await {
            Ok(lvs) => lvs,
            Err(e) => {
                error!("cannot start the load balancer: {e:#}");
                None
            }
        }
    }

    /// The runtime calls this before it adds a master's addresses and after it removed them.
    pub fn set_held(&self, addrs: &[IpAddr], held: bool) {
        if let Some(lvs) = &self.running {
            lvs.set_held(addrs, held);
        }
    }

    /// A reload with a configuration that passed every check: the first virtual server
    /// starts the load balancer, the last one's removal stops it, otherwise it moves in
    /// place ([`Lvs::reload`]). Only a configuration that newly needs NAT restarts it (the
    /// program is loaded with or without NAT's reply lookups; connections are then lost).
    /// Returns a line for `xvrrpd reload`'s reply.
    pub async fn reload(&mut self, config: &Config, vrrp_ifindexes: &BTreeSet<u32>) -> String {
        if !self.enabled {
            return String::new();
        }
        let lvs = lvs_config(config);
        for warning in &lvs.warnings {
            warn!("{warning}");
        }
        if lvs.services.is_empty() {
            if let Some(running) = self.running.take() {
                info!("no virtual server left: stopping the load balancer");
                running.stop().await;
                return "; load balancer stopped".into();
            }
            return String::new();
        }
        let restart = self
            .running
            .as_ref()
            .is_some_and(|running| lvs.uses_nat() && !running.nat);
        if restart {
            warn!(
                "the new configuration forwards by NAT: restarting the load balancer with NAT (its connections are lost)"
            );
            if let Some(running) = self.running.take() {
                running.stop().await;
            }
        }
        let Some(running) = &mut self.running else {
            self.running = self.start_lvs(&lvs, vrrp_ifindexes).await;
            return match &self.running {
                Some(_) => format!(
                    "; load balancer started: {} virtual servers",
                    lvs.services.len()
                ),
                None => "; the load balancer cannot start (see the log)".into(),
            };
        };
        match running.reload(&lvs, vrrp_ifindexes) {
            Ok(summary) => {
                info!(
                    kept = summary.services_kept,
                    added = summary.services_added,
                    removed = summary.services_removed,
                    reals_added = summary.reals_added,
                    reals_removed = summary.reals_removed,
                    "virtual servers reloaded"
                );
                format!(
                    "; virtual servers: {} kept, {} added, {} removed; real servers +{} -{}",
                    summary.services_kept,
                    summary.services_added,
                    summary.services_removed,
                    summary.reals_added,
                    summary.reals_removed
                )
            }
            Err(e) => {
                // A map write failed half-way: the maps no longer match any configuration,
                // so the load balancer starts afresh from the new one (connections are lost).
                error!("cannot update the load balancer: {e:#}; restarting it");
                if let Some(running) = self.running.take() {
                    running.stop().await;
                }
                self.running = self.start_lvs(&lvs, vrrp_ifindexes).await;
                format!(
                    "; the load balancer could not be updated in place ({e:#}) and was restarted"
                )
            }
        }
    }

    /// Stops the load balancer (at shutdown).
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }
}
