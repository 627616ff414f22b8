//! What a reload keeps of the running virtual servers, recognised as keepalived 2.2.7's
//! `check/ipwrapper.c` recognises them:
//!
//! - a virtual service by what it serves (`vs_iseq`): a `virtual_server_group` by the group's
//!   name, an address service by its address, port and protocol. Its name says exactly that
//!   (`[10.0.0.1]:tcp:80`, `[group G]`), whatever else in the block changed;
//! - a real server by its address and port (`rs_iseq`), within its service;
//! - a checker by its kind and every setting (keepalived's per-checker `compare`), within its
//!   real server: only an unchanged checker hands its state on (`migrate_checkers`).

use super::settings::{RealService, VirtualService};
use crate::checkers::CheckSpec;

/// How the old list maps onto the new one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pairing {
    /// For each new entry, the old entry it continues.
    pub carry: Vec<Option<usize>>,
    /// Old entries nothing continues.
    pub removed: Vec<usize>,
}

impl Pairing {
    /// New entries that continue nothing.
    pub fn added(&self) -> impl Iterator<Item = usize> + '_ {
        self.carry
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_none())
            .map(|(i, _)| i)
    }

    pub fn kept(&self) -> usize {
        self.carry.iter().flatten().count()
    }
}

/// Pairs each new entry with the first old entry `same` recognises that is not taken yet.
fn pair<T>(old: &[T], new: &[T], same: impl Fn(&T, &T) -> bool) -> Pairing {
    let mut taken = vec![false; old.len()];
    let carry = new
        .iter()
        .map(|n| {
            let found = (0..old.len()).find(|&o| !taken[o] && same(&old[o], n))?;
            taken[found] = true;
            Some(found)
        })
        .collect();
    let removed = (0..old.len()).filter(|&o| !taken[o]).collect();
    Pairing { carry, removed }
}

/// keepalived's `vs_exist`.
pub fn services(old: &[VirtualService], new: &[VirtualService]) -> Pairing {
    pair(old, new, |a, b| a.name == b.name)
}

/// keepalived's `rs_exist`: the same address and port.
pub fn reals(old: &[RealService], new: &[RealService]) -> Pairing {
    pair(old, new, same_real)
}

pub fn same_real(a: &RealService, b: &RealService) -> bool {
    a.addr == b.addr && a.port == b.port
}

/// keepalived's `migrate_checkers`: an old checker hands its state to a new one of the same
/// kind and settings.
pub fn checkers(old: &[CheckSpec], new: &[CheckSpec]) -> Pairing {
    pair(old, new, |a, b| a == b)
}

/// For each checker of the new services (service, real server, checker): whether it
/// continues a running one, so that it resumes where that one was (keepalived transfers
/// `has_run` and the verdict) instead of starting as at startup.
pub fn migrated_checkers(old: &[VirtualService], new: &[VirtualService]) -> Vec<Vec<Vec<bool>>> {
    let services = services(old, new);
    new.iter()
        .zip(&services.carry)
        .map(|(service, carried)| {
            let previous = carried.map(|o| &old[o]);
            let reals = previous.map(|p| reals(&p.reals, &service.reals));
            service
                .reals
                .iter()
                .enumerate()
                .map(|(r, real)| {
                    let old_real = previous
                        .zip(reals.as_ref())
                        .and_then(|(p, pairing)| pairing.carry[r].map(|o| &p.reals[o]));
                    match old_real {
                        Some(old_real) => checkers(&old_real.checks, &real.checks)
                            .carry
                            .iter()
                            .map(Option::is_some)
                            .collect(),
                        None => vec![false; real.checks.len()],
                    }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{LoadOptions, load_text};
    use crate::lvs::settings::{LvsConfig, lvs_config};

    pub(crate) fn lvs(text: &str) -> LvsConfig {
        let loaded = load_text(Path::new("test.conf"), text, &LoadOptions::default());
        lvs_config(&loaded.config)
    }

    const OLD: &str = "
virtual_server_group G {
    10.0.0.5 80
}
virtual_server 10.0.0.1 80 {
    protocol TCP
    lb_kind DR
    real_server 10.1.0.1 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server 10.1.0.2 80 {
        weight 1
    }
}
virtual_server 10.0.0.2 53 {
    protocol UDP
    lb_kind DR
    real_server 10.1.0.1 53 {
    }
}
virtual_server group G {
    protocol TCP
    lb_kind NAT
    real_server 10.1.0.9 8080 {
    }
}
";

    const NEW: &str = "
virtual_server_group G {
    10.0.0.6 80
}
virtual_server group G {
    protocol TCP
    lb_kind NAT
    lb_algo rr
    real_server 10.1.0.9 8080 {
    }
}
virtual_server 10.0.0.2 53 {
    protocol TCP
    lb_kind DR
    real_server 10.1.0.1 53 {
    }
}
virtual_server 10.0.0.1 80 {
    protocol TCP
    lb_kind DR
    lb_algo mh
    real_server 10.1.0.2 80 {
        weight 5
    }
    real_server 10.1.0.3 80 {
        weight 1
    }
}
";

    #[test]
    fn services_are_recognised_by_address_port_and_protocol_or_group_name() {
        let old = lvs(OLD);
        let new = lvs(NEW);
        assert_eq!(old.services.len(), 3);
        let pairing = services(&old.services, &new.services);
        // The group continues (its entries and scheduler changed); 10.0.0.2:53 is now TCP,
        // another service; 10.0.0.1:80 continues with another scheduler.
        assert_eq!(pairing.carry, vec![Some(2), None, Some(0)]);
        assert_eq!(pairing.removed, vec![1]);
        assert_eq!(pairing.added().collect::<Vec<_>>(), vec![1]);
        let reals = reals(&old.services[0].reals, &new.services[2].reals);
        assert_eq!(reals.carry, vec![Some(1), None]);
        assert_eq!(reals.removed, vec![0]);
    }

    #[test]
    fn only_an_unchanged_checker_hands_its_state_on() {
        let old = lvs(OLD);
        let new = lvs(&OLD.replace("connect_timeout 1", "connect_timeout 2"));
        let spec = |c: &LvsConfig| c.services[0].reals[0].checks.clone();
        assert_eq!(checkers(&spec(&old), &spec(&old)).carry, vec![Some(0)]);
        let changed = checkers(&spec(&old), &spec(&new));
        assert_eq!(changed.carry, vec![None]);
        assert_eq!(changed.removed, vec![0]);
        assert_eq!(
            migrated_checkers(&old.services, &new.services),
            vec![vec![vec![false], vec![]], vec![vec![]], vec![vec![]]]
        );
        assert_eq!(
            migrated_checkers(&old.services, &old.services)[0],
            vec![vec![true], vec![]]
        );
    }
}
