//! The kernel half: loading the XDP program, pinning its maps, attaching it to interfaces and
//! reading what it recorded.

mod bpffs;
mod test_run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aya::maps::{HashMap, MapData, PerCpuHashMap, RingBuf};
use aya::programs::links::{FdLink, PinnedLink};
use aya::programs::xdp::XdpLink;
use aya::programs::{ProgramError, Xdp, XdpMode};
use aya::{Ebpf, EbpfLoader};
pub use bpffs::{DEFAULT_PIN_DIR, PinDir};
pub use test_run::{TestRun, test_run};
use tracing::{info, warn};
use vrrp_common::{InstanceConfig, InstanceKey, InstanceState, RxErrors, VrrpEvent, map_names};

use crate::XDP_OBJECT;

#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    #[error("cannot mount bpffs on /sys/fs/bpf (are you root, with CAP_SYS_ADMIN?)")]
    MountBpffs { source: std::io::Error },
    #[error("cannot use pin directory {}", path.display())]
    PinDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("pin directory {} is in use by another running xvrrpd; stop it first or pass another --bpffs directory", path.display())]
    PinDirBusy { path: PathBuf },
    #[error(
        "loading the XDP program into the kernel failed (needs root and a kernel with BPF and BTF)"
    )]
    Load(#[source] Box<aya::EbpfError>),
    #[error("the XDP object has no {what} named {name}; the build is broken")]
    Missing {
        what: &'static str,
        name: &'static str,
    },
    #[error("the kernel rejected the XDP program")]
    Verifier(#[source] Box<ProgramError>),
    #[error("map {name}")]
    Map {
        name: &'static str,
        source: Box<aya::maps::MapError>,
    },
    #[error("pinning {} failed", path.display())]
    Pin {
        path: PathBuf,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("interface {iface} does not exist in this network namespace")]
    UnknownInterface { iface: String },
    #[error(
        "cannot attach XDP to {iface}: native mode failed ({native}), generic mode failed ({generic}); \
         if another XDP program is attached, remove it with `ip link set dev {iface} xdp off`"
    )]
    Attach {
        iface: String,
        native: Box<ProgramError>,
        generic: Box<ProgramError>,
    },
}

/// How the program runs on an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachMode {
    /// In the driver (XDP_FLAGS_DRV_MODE).
    Native,
    /// In the generic network stack (XDP_FLAGS_SKB_MODE), when the driver has no XDP support.
    Generic,
    /// An xvrrpd program left attached by an earlier run was atomically replaced.
    Replaced,
}

/// The loaded program, its pinned maps and links.
pub struct Dataplane {
    ebpf: Ebpf,
    pins: PinDir,
    /// Interface name -> the pinned link that keeps the program attached there.
    links: BTreeMap<String, PinnedLink>,
    config: HashMap<MapData, InstanceKey, InstanceConfig>,
    state: HashMap<MapData, InstanceKey, InstanceState>,
    iface_errors: PerCpuHashMap<MapData, u32, RxErrors>,
    events: Option<RingBuf<MapData>>,
}

/// How to load the program.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Record every VRID with default checks and drop nothing (`xvrrpd monitor`).
    pub observe_all: bool,
    pub pin_dir: PathBuf,
}

impl Dataplane {
    /// Loads the program and pins its maps under `options.pin_dir`, replacing stale pins that a
    /// killed earlier run left behind.
    pub fn load(options: &LoadOptions) -> Result<Self, DataplaneError> {
        let pins = PinDir::acquire(&options.pin_dir)?;
        let observe_all: u8 = if options.observe_all {
            vrrp_common::OBSERVE_ALL
        } else {
            0
        };
        let mut ebpf = EbpfLoader::new()
            .override_global(vrrp_common::OBSERVE_ALL_GLOBAL, &observe_all, true)
            .load(XDP_OBJECT)
            .map_err(|e| DataplaneError::Load(Box::new(e)))?;
        let program: &mut Xdp = ebpf
            .program_mut(vrrp_common::PROGRAM_NAME)
            .ok_or(DataplaneError::Missing {
                what: "program",
                name: vrrp_common::PROGRAM_NAME,
            })?
            .try_into()
            .map_err(|e| DataplaneError::Verifier(Box::new(e)))?;
        program
            .load()
            .map_err(|e| DataplaneError::Verifier(Box::new(e)))?;

        for name in [
            map_names::CONFIG,
            map_names::STATE,
            map_names::IFACE_ERRORS,
            map_names::EVENTS,
        ] {
            let path = pins.map(name);
            // A pin left by a run that was killed points at that run's maps: replace it.
            let _ = std::fs::remove_file(&path);
            let map = ebpf
                .map(name)
                .ok_or(DataplaneError::Missing { what: "map", name })?;
            map.pin(&path).map_err(|e| DataplaneError::Pin {
                path,
                source: Box::new(e),
            })?;
        }
        let config = take_map(&mut ebpf, map_names::CONFIG)?;
        let state = take_map(&mut ebpf, map_names::STATE)?;
        let iface_errors = take_map(&mut ebpf, map_names::IFACE_ERRORS)?;
        let events = Some(take_map(&mut ebpf, map_names::EVENTS)?);
        Ok(Self {
            ebpf,
            pins,
            links: BTreeMap::new(),
            config,
            state,
            iface_errors,
            events,
        })
    }

    pub fn pin_dir(&self) -> &Path {
        self.pins.path()
    }

    pub fn program(&self) -> &Xdp {
        self.ebpf
            .program(vrrp_common::PROGRAM_NAME)
            .and_then(|p| <&Xdp>::try_from(p).ok())
            .expect("load() checked the program exists and is XDP")
    }

    fn program_mut(&mut self) -> &mut Xdp {
        self.ebpf
            .program_mut(vrrp_common::PROGRAM_NAME)
            .and_then(|p| <&mut Xdp>::try_from(p).ok())
            .expect("load() checked the program exists and is XDP")
    }

    /// Attaches to `iface`: replaces a program an earlier run left pinned there atomically,
    /// otherwise attaches in native mode, falling back to generic mode. The link is pinned so
    /// the program keeps recording while the daemon restarts.
    pub fn attach(&mut self, iface: &str) -> Result<AttachMode, DataplaneError> {
        let link_path = self.pins.link(iface);
        if let Some(mode) = self.replace_pinned(iface, &link_path) {
            return Ok(mode);
        }
        let program = self.program_mut();
        let (link_id, mode) = match program.attach(iface, XdpMode::Driver) {
            Ok(id) => (id, AttachMode::Native),
            Err(ProgramError::UnknownInterface { .. }) => {
                return Err(DataplaneError::UnknownInterface {
                    iface: iface.to_owned(),
                });
            }
            Err(native) => match program.attach(iface, XdpMode::Skb) {
                Ok(id) => {
                    warn!(iface, error = %native, "native XDP unavailable, running in generic mode");
                    (id, AttachMode::Generic)
                }
                Err(generic) => {
                    return Err(DataplaneError::Attach {
                        iface: iface.to_owned(),
                        native: Box::new(native),
                        generic: Box::new(generic),
                    });
                }
            },
        };
        let link = program
            .take_link(link_id)
            .map_err(|e| DataplaneError::Verifier(Box::new(e)))?;
        match FdLink::try_from(link) {
            Ok(fd_link) => {
                let pinned = fd_link.pin(&link_path).map_err(|e| DataplaneError::Pin {
                    path: link_path,
                    source: Box::new(e),
                })?;
                self.links.insert(iface.to_owned(), pinned);
            }
            Err(e) => {
                // Kernels without bpf_link for XDP attach over netlink; such an attachment
                // cannot be pinned and ends with the process.
                warn!(iface, error = %e, "XDP attached without a bpf link; it will not survive a restart");
            }
        }
        info!(iface, ?mode, "XDP program attached");
        Ok(mode)
    }

    /// Swaps our program into a link an earlier run pinned for `iface`. `None` when there is no
    /// usable pinned link (then a fresh attach follows).
    fn replace_pinned(&mut self, iface: &str, link_path: &Path) -> Option<AttachMode> {
        let pinned = PinnedLink::from_pin(link_path).ok()?;
        let fd_link = match pinned.unpin() {
            Ok(fd_link) => fd_link,
            Err(e) => {
                warn!(iface, error = %e, "cannot unpin the stale link");
                return None;
            }
        };
        let xdp_link = XdpLink::try_from(fd_link).ok()?;
        let program = self.program_mut();
        let link_id = match program.attach_to_link(xdp_link) {
            Ok(id) => id,
            Err(e) => {
                // The interface was deleted and recreated, or the link is defunct.
                warn!(iface, error = %e, "cannot reuse the pinned link; attaching afresh");
                return None;
            }
        };
        let fd_link = FdLink::try_from(program.take_link(link_id).ok()?).ok()?;
        match fd_link.pin(link_path) {
            Ok(pinned) => {
                self.links.insert(iface.to_owned(), pinned);
                info!(iface, "replaced the XDP program left by an earlier run");
                Some(AttachMode::Replaced)
            }
            Err(e) => {
                warn!(iface, error = %e, "cannot pin the replaced link");
                None
            }
        }
    }

    /// Detaches from every interface and removes the pins: a clean shutdown leaves nothing.
    pub fn shutdown(mut self) {
        for (iface, pinned) in std::mem::take(&mut self.links) {
            match pinned.unpin() {
                // Dropping the last reference to the link detaches the program.
                Ok(link) => drop(link),
                Err(e) => warn!(iface, error = %e, "cannot unpin link"),
            }
        }
        for name in [
            map_names::CONFIG,
            map_names::STATE,
            map_names::IFACE_ERRORS,
            map_names::EVENTS,
        ] {
            let _ = std::fs::remove_file(self.pins.map(name));
        }
        self.pins.remove_if_empty();
    }

    pub fn set_config(
        &mut self,
        key: InstanceKey,
        config: InstanceConfig,
    ) -> Result<(), DataplaneError> {
        self.config
            .insert(key, config, 0)
            .map_err(|e| DataplaneError::Map {
                name: map_names::CONFIG,
                source: Box::new(e),
            })
    }

    /// Every instance the program has recorded, in key order.
    pub fn states(&self) -> Vec<(InstanceKey, InstanceState)> {
        let mut states: Vec<_> = self.state.iter().filter_map(Result::ok).collect();
        states.sort_by_key(|(key, _)| *key);
        states
    }

    /// Dropped-packet counters of one interface, summed over CPUs.
    pub fn iface_errors(&self, ifindex: u32) -> RxErrors {
        let mut total = RxErrors::default();
        if let Ok(per_cpu) = self.iface_errors.get(&ifindex, 0) {
            per_cpu.iter().for_each(|cpu| total.add(cpu));
        }
        total
    }

    /// The event ring buffer, once: the caller owns reading it.
    pub fn take_events(&mut self) -> Option<RingBuf<MapData>> {
        self.events.take()
    }
}

/// Decodes one ring buffer record; `None` for a record of the wrong size.
pub fn parse_event(bytes: &[u8]) -> Option<VrrpEvent> {
    if bytes.len() != std::mem::size_of::<VrrpEvent>() {
        return None;
    }
    // SAFETY: VrrpEvent is Pod (repr(C), integers only) and the length matches.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<VrrpEvent>()) })
}

fn take_map<T>(ebpf: &mut Ebpf, name: &'static str) -> Result<T, DataplaneError>
where
    T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf
        .take_map(name)
        .ok_or(DataplaneError::Missing { what: "map", name })?;
    T::try_from(map).map_err(|e| DataplaneError::Map {
        name,
        source: Box::new(e),
    })
}

/// The kernel's interface index for `iface` in this network namespace.
pub fn ifindex(iface: &str) -> Result<u32, DataplaneError> {
    let name = std::ffi::CString::new(iface).map_err(|_| DataplaneError::UnknownInterface {
        iface: iface.to_owned(),
    })?;
    // SAFETY: if_nametoindex reads a NUL-terminated string.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => Err(DataplaneError::UnknownInterface {
            iface: iface.to_owned(),
        }),
        index => Ok(index),
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock `bpf_ktime_get_ns` reads.
pub fn monotonic_now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
