//! The load balancer's half of the kernel (`xvrrpd_lb`): loading it, pinning its maps under
//! `<pin dir>/lb`, chaining it behind `vrrp_rx` (slot 0 of the pinned `vrrp_next` program
//! array), attaching it on its own where no VRRP instance runs, and the maps (`maps.rs`).
//!
//! The program is a separate object, loaded only when the configuration has virtual servers:
//! a VRRP-only daemon and `xvrrpd monitor` never create its (large) maps.

mod batch;
mod counts;
mod maps;

use std::collections::BTreeMap;
use std::os::fd::{AsFd as _, OwnedFd};
use std::path::{Path, PathBuf};

pub use super::test_run::{LbTestRun, test_run_frame};
use aya::maps::{Map, MapData, ProgramArray};
use aya::programs::Xdp;
use aya::{Ebpf, EbpfLoader};
pub use counts::ConnCounts;
pub use maps::{LbMaps, ServiceStats, addr_key, addr_of};
use tracing::{info, warn};
use vrrp_common::{LB_PROGRAM_NAME, LB_SETTINGS_GLOBAL, LbSettings, lb_map_names, map_names};

use super::links::{self, XdpFlavour};
use super::{AttachMode, DataplaneError};

/// The compiled load balancer, built by build.rs next to the VRRP program.
pub static LB_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/xvrrpd-lb"));

/// Where the load balancer pins, inside a daemon's pin directory.
pub fn lb_pin_dir(daemon_pin_dir: &Path) -> PathBuf {
    daemon_pin_dir.join("lb")
}

/// How to load the load balancer.
#[derive(Clone, Debug)]
pub struct LbOptions {
    /// `<daemon pin dir>/lb`: maps and the links of interfaces without VRRP.
    pub pin_dir: PathBuf,
    /// Some service forwards by NAT (replies are then looked up).
    pub nat: bool,
}

/// The loaded program, its pinned maps and its own links.
pub struct LoadBalancer {
    ebpf: Ebpf,
    pin_dir: PathBuf,
    maps: LbMaps,
    /// Interfaces where the load balancer runs on its own (no VRRP instance there).
    links: BTreeMap<u32, OwnedFd>,
    /// The `vrrp_next` program array it was put in.
    chained: Option<PathBuf>,
}

impl LoadBalancer {
    /// Loads the program and pins its maps, replacing pins a killed earlier run left. A
    /// failed load leaves no pin behind.
    pub fn load(options: &LbOptions) -> Result<Self, DataplaneError> {
        Self::load_pinned(options).inspect_err(|_| {
            for name in lb_map_names::ALL {
                let _ = std::fs::remove_file(options.pin_dir.join(name));
            }
            let _ = std::fs::remove_dir(options.pin_dir.join("links"));
            let _ = std::fs::remove_dir(&options.pin_dir);
            if let Some(parent) = options.pin_dir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        })
    }

    fn load_pinned(options: &LbOptions) -> Result<Self, DataplaneError> {
        let pin_dir_error = |source| DataplaneError::PinDir {
            path: options.pin_dir.clone(),
            source,
        };
        std::fs::create_dir_all(options.pin_dir.join("links")).map_err(pin_dir_error)?;
        let settings = LbSettings {
            flags: if options.nat {
                vrrp_common::LB_SETTING_NAT
            } else {
                0
            },
            _pad: 0,
        };
        let mut ebpf = EbpfLoader::new()
            .override_global(LB_SETTINGS_GLOBAL, &settings, true)
            .load(LB_OBJECT)
            .map_err(|e| DataplaneError::Load(Box::new(e)))?;
        let program: &mut Xdp = ebpf
            .program_mut(LB_PROGRAM_NAME)
            .ok_or(DataplaneError::Missing {
                what: "program",
                name: LB_PROGRAM_NAME,
            })?
            .try_into()
            .map_err(|e| DataplaneError::Verifier(Box::new(e)))?;
        program
            .load()
            .map_err(|e| DataplaneError::Verifier(Box::new(e)))?;
        for name in lb_map_names::ALL {
            let path = options.pin_dir.join(name);
            let _ = std::fs::remove_file(&path);
            let map = ebpf
                .map(name)
                .ok_or(DataplaneError::Missing { what: "map", name })?;
            map.pin(&path).map_err(|e| DataplaneError::Pin {
                path,
                source: Box::new(e),
            })?;
        }
        let maps = LbMaps::take(&mut ebpf)?;
        Ok(Self {
            ebpf,
            pin_dir: options.pin_dir.clone(),
            maps,
            links: BTreeMap::new(),
            chained: None,
        })
    }

    pub fn maps(&mut self) -> &mut LbMaps {
        &mut self.maps
    }

    pub fn maps_ref(&self) -> &LbMaps {
        &self.maps
    }

    pub fn pin_dir(&self) -> &Path {
        &self.pin_dir
    }

    /// The loaded program (for BPF_PROG_TEST_RUN).
    pub fn program(&self) -> &Xdp {
        self.ebpf
            .program(LB_PROGRAM_NAME)
            .and_then(|p| <&Xdp>::try_from(p).ok())
            .expect("load() checked the program exists and is XDP")
    }

    /// Puts the program behind `vrrp_rx` of the daemon whose pin directory is
    /// `daemon_pin_dir`: every frame that is not VRRP comes here next.
    pub fn chain(&mut self, daemon_pin_dir: &Path) -> Result<(), DataplaneError> {
        let path = daemon_pin_dir.join(map_names::NEXT);
        let mut next = open_program_array(&path)?;
        let fd = self
            .program()
            .fd()
            .map_err(|e| DataplaneError::Verifier(Box::new(e)))?;
        next.set(vrrp_common::NEXT_PROGRAM_SLOT, fd, 0)
            .map_err(DataplaneError::map(map_names::NEXT, "set"))?;
        info!(array = %path.display(), "load balancer chained behind vrrp_rx");
        self.chained = Some(path);
        Ok(())
    }

    /// Takes the program out of `vrrp_next` again: frames that are not VRRP pass.
    pub fn unchain(&mut self) {
        let Some(path) = self.chained.take() else {
            return;
        };
        if !path.exists() {
            // The VRRP side removed its pins first: the array went with them.
            return;
        }
        match open_program_array(&path) {
            Ok(mut next) => {
                if let Err(e) = next.clear_index(&vrrp_common::NEXT_PROGRAM_SLOT) {
                    warn!(error = %e, "cannot take the load balancer out of vrrp_next");
                }
            }
            Err(e) => warn!(error = %e, "cannot open vrrp_next"),
        }
    }

    /// Attaches the program on its own to `ifindex` (an interface without VRRP instance that
    /// carries virtual addresses or NAT replies), adopting a link an earlier run pinned.
    pub fn attach(&mut self, ifindex: u32) -> Result<AttachMode, DataplaneError> {
        if self.links.contains_key(&ifindex) {
            return Ok(AttachMode::Adopted);
        }
        let path = self.pin_dir.join("links").join(format!("if-{ifindex}"));
        let fd = self
            .program()
            .fd()
            .map_err(|e| DataplaneError::Verifier(Box::new(e)))?
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| DataplaneError::Verifier(Box::new(e.into())))?;
        let stale = |action, source| DataplaneError::StaleLink {
            path: path.clone(),
            action,
            source,
        };
        if path.exists() {
            let link = links::obj_get(&path).map_err(|e| stale("opened", e))?;
            let target = links::link_info(link.as_fd()).map_err(|e| stale("inspected", e))?;
            if target.xdp && target.ifindex == ifindex {
                links::link_update(link.as_fd(), fd.as_fd()).map_err(|e| stale("updated", e))?;
                self.links.insert(ifindex, link);
                return Ok(AttachMode::Adopted);
            }
            std::fs::remove_file(&path).map_err(|e| stale("removed", e))?;
        }
        let (link, mode) = match links::link_create(fd.as_fd(), ifindex, XdpFlavour::Native) {
            Ok(link) => (link, AttachMode::Native),
            Err(native) => match links::link_create(fd.as_fd(), ifindex, XdpFlavour::Generic) {
                Ok(link) => (link, AttachMode::Generic),
                Err(generic) => {
                    return Err(DataplaneError::Attach {
                        ifindex,
                        native,
                        generic,
                    });
                }
            },
        };
        links::obj_pin(link.as_fd(), &path).map_err(|e| DataplaneError::Pin {
            path: path.clone(),
            source: Box::new(e),
        })?;
        info!(ifindex, ?mode, "load balancer attached on its own");
        self.links.insert(ifindex, link);
        Ok(mode)
    }

    /// Takes the program out of `vrrp_next`, detaches its own links and removes every pin.
    pub fn shutdown(mut self) {
        self.unchain();
        for (ifindex, link) in std::mem::take(&mut self.links) {
            if let Err(e) = links::link_detach(link.as_fd()) {
                warn!(ifindex, error = %e, "cannot detach the load balancer");
            }
            let _ = std::fs::remove_file(self.pin_dir.join("links").join(format!("if-{ifindex}")));
        }
        for name in lb_map_names::ALL {
            let _ = std::fs::remove_file(self.pin_dir.join(name));
        }
        let _ = std::fs::remove_dir(self.pin_dir.join("links"));
        let _ = std::fs::remove_dir(&self.pin_dir);
        // The daemon's directory may be waiting for this one to go.
        if let Some(parent) = self.pin_dir.parent() {
            let _ = std::fs::remove_dir(parent.join("links"));
            let _ = std::fs::remove_dir(parent);
        }
    }
}

fn open_program_array(path: &Path) -> Result<ProgramArray<MapData>, DataplaneError> {
    let data = MapData::from_pin(path).map_err(DataplaneError::map(map_names::NEXT, "opening"))?;
    let map = Map::from_map_data(data).map_err(DataplaneError::map(map_names::NEXT, "opening"))?;
    ProgramArray::try_from(map).map_err(DataplaneError::map(map_names::NEXT, "opening"))
}
