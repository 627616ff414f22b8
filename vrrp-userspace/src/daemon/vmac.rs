//! The macvlan interfaces of `use_vmac`, named and addressed as keepalived 2.2.7 does
//! (create_vmac_name, vrrp_vmac_handler, vrrp_complete_instance).

use super::host::HostFacts;
use crate::config::model::{Config, VrrpInstance};
use crate::engine::MacAddr;
use crate::protocol::Family;

/// Linux's IFNAMSIZ less the terminating NUL.
const MAX_NAME: usize = 15;

/// The MAC of an instance's VMAC: RFC 5798 section 7.3's virtual router MAC, or the one
/// `use_vmac` names (five octets take the VRID as the sixth). keepalived ignores, with an
/// error, a malformed or multicast MAC and one inside the RFC range, and so do we.
pub fn mac(instance: &VrrpInstance) -> MacAddr {
    let rfc = MacAddr::virtual_router(instance.family, instance.vrid);
    let Some(text) = instance.vmac.as_ref().and_then(|v| v.mac.as_deref()) else {
        return rfc;
    };
    let octets: Option<Vec<u8>> = text
        .trim_end_matches(':')
        .split(':')
        .map(|o| {
            (!o.is_empty() && o.len() <= 2)
                .then(|| u8::from_str_radix(o, 16).ok())
                .flatten()
        })
        .collect();
    let mac = match octets.as_deref() {
        Some([a, b, c, d, e, f]) => [*a, *b, *c, *d, *e, *f],
        Some([a, b, c, d, e]) => [*a, *b, *c, *d, *e, instance.vrid.0],
        _ => return rfc,
    };
    let in_rfc_range = mac[..4] == [0x00, 0x00, 0x5e, 0x00] && matches!(mac[4], 1 | 2);
    if mac[0] & 1 == 1 || in_rfc_range {
        return rfc;
    }
    MacAddr(mac)
}

/// The VMAC interface name of every instance (by index; `None` without `use_vmac`).
///
/// keepalived: the name `use_vmac` gives, else `<prefix>.<VRID>` (prefix `vmac_prefix`,
/// default `vrrp`); when an earlier instance already uses that name, or an interface of that
/// name exists that is not this instance's VMAC, IPv6 tries `<prefix>6.<VRID>` next, then
/// `<prefix>1.<VRID>`, `<prefix>2.<VRID>`..., IPv4 `<prefix>1.<VRID>`, `<prefix>2.<VRID>`...
/// An existing interface counts as this instance's VMAC when it has the VMAC's MAC (the
/// daemon created it, or a killed predecessor left it).
pub fn names(config: &Config, host: &HostFacts) -> Vec<Option<String>> {
    let prefix = config.global.vmac_prefix.as_deref().unwrap_or("vrrp");
    let mut taken: Vec<String> = Vec::new();
    config
        .instances
        .iter()
        .map(|instance| {
            let vmac = instance.vmac.as_ref()?;
            let name = match &vmac.interface {
                Some(name) => name.as_str().to_owned(),
                None => {
                    let mac = mac(instance);
                    let free = |name: &str| {
                        !taken.iter().any(|t| t == name)
                            && host.interface(name).is_none_or(|i| i.mac == mac)
                    };
                    candidates(prefix, instance)
                        .find(|name| free(name))
                        .expect("the candidates never run out")
                }
            };
            taken.push(name.clone());
            Some(name)
        })
        .collect()
}

fn candidates<'a>(
    prefix: &'a str,
    instance: &'a VrrpInstance,
) -> impl Iterator<Item = String> + 'a {
    let vrid = instance.vrid.0;
    let numbers: Box<dyn Iterator<Item = u32>> = match instance.family {
        Family::Ipv4 => Box::new(1..),
        Family::Ipv6 => Box::new(std::iter::once(6).chain((1..).filter(|&n| n != 6))),
    };
    std::iter::once(fit(prefix, &format!(".{vrid}")))
        .chain(numbers.map(move |n| fit(prefix, &format!("{n}.{vrid}"))))
}

/// `<prefix><suffix>`, the prefix shortened to fit an interface name as keepalived does.
fn fit(prefix: &str, suffix: &str) -> String {
    let room = MAX_NAME.saturating_sub(suffix.len());
    let prefix: String = prefix.chars().take(room).collect();
    format!("{prefix}{suffix}")
}
