//! Which configured scripts run, and how: every `vrrp_script`, notify script and FIFO script
//! is checked once at startup ([`super::security`]). Like keepalived
//! (check_vrrp_script_security), a refused `vrrp_script` is removed from every instance and
//! group that tracks it, and a refused notify script is not run; the reasons are logged.

use std::collections::{BTreeMap, BTreeSet};

use super::child::Launch;
use super::security::{self, ScriptPolicy};
use crate::config::model::{Config, Notify, ScriptCommand};

/// A finding of the startup check, to log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    Warning(String),
    Error(String),
}

type Key = (Vec<String>, Option<String>, Option<String>);

fn key(command: &ScriptCommand) -> Key {
    (
        command.argv.clone(),
        command.user.clone(),
        command.group.clone(),
    )
}

/// Every command that may run, ready to launch.
#[derive(Clone, Debug, Default)]
pub struct Vetted {
    launches: BTreeMap<Key, Launch>,
}

impl Vetted {
    /// The launch for a configured command that passed the checks.
    pub fn launch(&self, command: &ScriptCommand) -> Option<&Launch> {
        self.launches.get(&key(command))
    }

    /// A notify slot's launch, if it has a command that passed.
    pub fn slot(&self, slot: &Option<ScriptCommand>) -> Option<Launch> {
        slot.as_ref().and_then(|c| self.launch(c)).cloned()
    }
}

/// Checks every script of `config`, removes what may not run from it, and says why.
pub fn vet(config: &mut Config) -> (Vetted, Vec<Finding>) {
    let global = &config.global;
    let (policy, warnings) = ScriptPolicy::new(
        global.enable_script_security,
        global.script_user.as_deref(),
        global.script_group.as_deref(),
    );
    let mut findings: Vec<Finding> = warnings.into_iter().map(Finding::Warning).collect();
    let mut vetted = Vetted::default();
    let mut insecure = Vec::new();
    let mut count = 0;
    let mut check = |command: &ScriptCommand, what: &str, findings: &mut Vec<Finding>| -> bool {
        count += 1;
        match security::prepare(command, &policy) {
            Ok(prepared) => {
                for warning in prepared.warnings {
                    findings.push(Finding::Warning(format!("{what}: {warning}")));
                }
                if let Some(component) = prepared.insecure {
                    insecure.push(format!("{what} ({component})"));
                }
                vetted.launches.insert(key(command), prepared.launch);
                true
            }
            Err(refused) => {
                findings.push(Finding::Error(format!("{what} is not run: {refused}")));
                false
            }
        }
    };

    let mut disabled = BTreeSet::new();
    for script in &config.scripts {
        if !check(
            &script.script,
            &format!("vrrp_script {}", script.name),
            &mut findings,
        ) {
            disabled.insert(script.name.clone());
        }
    }
    for instance in &mut config.instances {
        vet_notify(
            &mut instance.notify,
            &format!("vrrp_instance {}", instance.name),
            &mut |c, w, f| check(c, w, f),
            &mut findings,
        );
    }
    for group in &mut config.sync_groups {
        vet_notify(
            &mut group.notify,
            &format!("vrrp_sync_group {}", group.name),
            &mut |c, w, f| check(c, w, f),
            &mut findings,
        );
    }
    for (fifo, name) in [
        (&mut config.global.notify_fifo, "notify_fifo_script"),
        (
            &mut config.global.vrrp_notify_fifo,
            "vrrp_notify_fifo_script",
        ),
    ] {
        if let Some(fifo) = fifo
            && let Some(script) = &fifo.script
            && !check(script, name, &mut findings)
        {
            fifo.script = None;
        }
    }

    if !disabled.is_empty() {
        // keepalived removes the script from every instance and group that tracks it.
        config.scripts.retain(|s| !disabled.contains(&s.name));
        let tracks = config
            .instances
            .iter_mut()
            .map(|i| &mut i.track.scripts)
            .chain(config.sync_groups.iter_mut().map(|g| &mut g.track.scripts));
        for scripts in tracks {
            scripts.retain(|t| !disabled.contains(&t.name));
        }
    }
    // The configuration check already says that scripts run without enable_script_security;
    // what only this check knows is which of them a non-root user could change.
    if count > 0 && !config.global.enable_script_security && !insecure.is_empty() {
        findings.push(Finding::Warning(format!(
            "scripts a non-root user could modify run as root (enable_script_security would refuse them): {}",
            insecure.join(", ")
        )));
    }
    (vetted, findings)
}

fn vet_notify(
    notify: &mut Notify,
    owner: &str,
    check: &mut dyn FnMut(&ScriptCommand, &str, &mut Vec<Finding>) -> bool,
    findings: &mut Vec<Finding>,
) {
    let slots: [(&mut Option<ScriptCommand>, &str); 6] = [
        (&mut notify.master, "notify_master"),
        (&mut notify.backup, "notify_backup"),
        (&mut notify.fault, "notify_fault"),
        (&mut notify.stop, "notify_stop"),
        (&mut notify.any, "notify"),
        (
            &mut notify.master_rx_lower_pri,
            "notify_master_rx_lower_pri",
        ),
    ];
    for (slot, kind) in slots {
        if let Some(command) = slot
            && !check(command, &format!("{owner} {kind}"), findings)
        {
            *slot = None;
        }
    }
    if let Some(Some(command)) = &notify.deleted
        && !check(command, &format!("{owner} notify_deleted"), findings)
    {
        notify.deleted = Some(None);
    }
}
