//! Attaching the program to interfaces through links pinned as `links/if-<ifindex>`.

use std::collections::BTreeSet;
use std::os::fd::{AsFd as _, OwnedFd};
use std::path::Path;

use tracing::{info, warn};
use vrrp_common::{IFACE_FOREIGN_PASS, IfaceConfig};

use super::links::{self, XdpFlavour};
use super::{Dataplane, DataplaneError, Mode, ifindex};

/// How the program runs on an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachMode {
    /// In the driver (XDP_FLAGS_DRV_MODE).
    Native,
    /// In the generic network stack (XDP_FLAGS_SKB_MODE), when the driver has no XDP support.
    Generic,
    /// A link an earlier run pinned for this interface now runs this program (atomically
    /// replaced: the interface was never without one).
    Adopted,
}

/// One interface the program is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attached {
    pub ifindex: u32,
    pub mode: AttachMode,
}

impl Dataplane {
    /// Every interface the program is attached to now.
    pub fn attached(&self) -> Vec<Attached> {
        self.links
            .iter()
            .map(|(&ifindex, (_, mode))| Attached {
                ifindex,
                mode: *mode,
            })
            .collect()
    }

    /// Attaches to the interface named `iface` in this thread's network namespace.
    pub fn attach(&mut self, iface: &str) -> Result<Attached, DataplaneError> {
        self.attach_index(ifindex(iface)?)
    }

    /// Attaches to interface `ifindex`: adopts the link an earlier run pinned for it if that
    /// link is XDP, on this interface and runs xvrrpd's program; removes the pin of a link
    /// whose interface is gone; otherwise attaches in native mode, falling back to generic.
    /// In enforcing mode the interface's MAC goes into `vrrp_ifaces` unless an entry exists.
    pub fn attach_index(&mut self, ifindex: u32) -> Result<Attached, DataplaneError> {
        if let Some((_, mode)) = self.links.get(&ifindex) {
            return Ok(Attached {
                ifindex,
                mode: *mode,
            });
        }
        let path = self.pins.link(ifindex);
        let (link, mode) = match self.adopt(ifindex, &path)? {
            Some(link) => (link, AttachMode::Adopted),
            None => self.attach_fresh(ifindex, &path)?,
        };
        if self.options.mode == Mode::Enforce && self.ifaces.get(&ifindex, 0).is_err() {
            self.set_iface_config(
                ifindex,
                &IfaceConfig {
                    mac: iface_mac(ifindex).unwrap_or_default(),
                    flags: if self.options.foreign_pass {
                        IFACE_FOREIGN_PASS
                    } else {
                        0
                    },
                    _pad: 0,
                },
            )?;
        }
        info!(ifindex, ?mode, "XDP program attached");
        self.links.insert(ifindex, (link, mode));
        Ok(Attached { ifindex, mode })
    }

    /// The pinned link for `ifindex`, now running our program; `None` when there is none (or
    /// only a defunct one, whose pin is removed).
    fn adopt(&mut self, ifindex: u32, path: &Path) -> Result<Option<OwnedFd>, DataplaneError> {
        if !path.exists() {
            return Ok(None);
        }
        let stale = |action, source| DataplaneError::StaleLink {
            path: path.to_owned(),
            action,
            source,
        };
        let link = links::obj_get(path).map_err(|e| stale("opened", e))?;
        let target = links::link_info(link.as_fd()).map_err(|e| stale("inspected", e))?;
        if target.xdp && target.ifindex == 0 {
            // Its interface was deleted (maybe re-created with this index): nothing to keep.
            info!(ifindex, path = %path.display(), "removing the pin of a link whose interface is gone");
            std::fs::remove_file(path).map_err(|e| stale("removed", e))?;
            return Ok(None);
        }
        let program = links::program_name(target.program_id).unwrap_or_default();
        if !target.xdp || target.ifindex != ifindex || program != vrrp_common::PROGRAM_NAME {
            return Err(DataplaneError::ForeignLink {
                path: path.to_owned(),
                ifindex: target.ifindex,
                program,
            });
        }
        // Update first; the pin stays as it is, so a failure leaves the old program running.
        let fd = self.program_fd()?;
        links::link_update(link.as_fd(), fd.as_fd()).map_err(|e| stale("updated", e))?;
        info!(ifindex, "replaced the XDP program left by an earlier run");
        Ok(Some(link))
    }

    fn attach_fresh(
        &mut self,
        ifindex: u32,
        path: &Path,
    ) -> Result<(OwnedFd, AttachMode), DataplaneError> {
        let fd = self.program_fd()?;
        let (link, mode) = match links::link_create(fd.as_fd(), ifindex, XdpFlavour::Native) {
            Ok(link) => (link, AttachMode::Native),
            Err(native) if native.raw_os_error() == Some(libc::ENODEV) => {
                return Err(DataplaneError::UnknownInterface {
                    iface: format!("#{ifindex}"),
                });
            }
            Err(native) => match links::link_create(fd.as_fd(), ifindex, XdpFlavour::Generic) {
                Ok(link) => {
                    warn!(ifindex, error = %native, "native XDP unavailable, running in generic mode");
                    (link, AttachMode::Generic)
                }
                Err(generic) => {
                    return Err(DataplaneError::Attach {
                        ifindex,
                        native,
                        generic,
                    });
                }
            },
        };
        links::obj_pin(link.as_fd(), path).map_err(|e| DataplaneError::Pin {
            path: path.to_owned(),
            source: Box::new(e),
        })?;
        Ok((link, mode))
    }

    /// Detaches from `ifindex` and removes its pin; also a link an earlier run left pinned.
    pub fn detach(&mut self, ifindex: u32) -> Result<(), DataplaneError> {
        let path = self.pins.link(ifindex);
        let link = match self.links.remove(&ifindex) {
            Some((link, _)) => Some(link),
            None => links::obj_get(&path).ok(),
        };
        if let Some(link) = link {
            // Explicit: whoever else holds the link, the program leaves the interface now.
            if let Err(e) = links::link_detach(link.as_fd()) {
                warn!(ifindex, error = %e, "cannot detach the link");
            }
        }
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(DataplaneError::StaleLink {
                path,
                action: "removed",
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Makes the attachments exactly `desired`: attaches where missing, and detaches every
    /// other link of this pin directory, those an earlier run left for interfaces no longer
    /// configured or deleted included.
    pub fn set_interfaces(&mut self, desired: &[u32]) -> Result<Vec<Attached>, DataplaneError> {
        let wanted: BTreeSet<u32> = desired.iter().copied().collect();
        let mut present: BTreeSet<u32> = self.links.keys().copied().collect();
        present.extend(self.pins.pinned_links());
        for ifindex in present.difference(&wanted) {
            info!(
                ifindex,
                "detaching from an interface that is no longer wanted"
            );
            self.detach(*ifindex)?;
        }
        wanted
            .into_iter()
            .map(|ifindex| self.attach_index(ifindex))
            .collect()
    }

    fn program_fd(&self) -> Result<OwnedFd, DataplaneError> {
        let fd = self
            .program()
            .fd()
            .map_err(|e| DataplaneError::Verifier(Box::new(e)))?;
        fd.as_fd()
            .try_clone_to_owned()
            .map_err(|e| DataplaneError::Verifier(Box::new(e.into())))
    }
}

/// The MAC of interface `ifindex` (SIOCGIFHWADDR on a socket of this thread's namespace:
/// sysfs may show another namespace under `nsenter`).
fn iface_mac(ifindex: u32) -> Option<[u8; 6]> {
    let mut name = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: if_indextoname writes at most IF_NAMESIZE bytes into `name`.
    if unsafe { libc::if_indextoname(ifindex, name.as_mut_ptr()) }.is_null() {
        return None;
    }
    // SAFETY: a datagram socket only for the ioctl, closed by OwnedFd.
    let socket = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if socket < 0 {
        return None;
    }
    // SAFETY: socket() returned a new descriptor we own.
    let socket = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(socket) };
    // SAFETY: ifreq is plain data; zeroes are a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    request.ifr_name = name;
    // SAFETY: SIOCGIFHWADDR fills ifr_hwaddr of the ifreq we pass.
    let rc = unsafe {
        libc::ioctl(
            std::os::fd::AsRawFd::as_raw_fd(&socket),
            libc::SIOCGIFHWADDR,
            &mut request,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: SIOCGIFHWADDR set the hwaddr member of the union.
    let data = unsafe { request.ifr_ifru.ifru_hwaddr.sa_data };
    Some(std::array::from_fn(|i| data[i] as u8))
}
