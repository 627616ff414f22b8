//! The kernel half, and the only code that touches BPF: loading the XDP program, pinning its
//! maps, attaching it to interfaces, filling the maps the program checks adverts against and
//! reading what it recorded.
//!
//! - [`Dataplane::load`] in observe mode (`xvrrpd monitor`: every VRID, nothing dropped) or
//!   enforcing mode (the daemon: only configured instances, invalid adverts dropped).
//! - [`Dataplane::attach`], [`Dataplane::detach`], [`Dataplane::set_interfaces`]: pinned links.
//! - Maps in (written here): config entries, VIP sets, receive policy, interface settings.
//! - Maps out (written by the program): state, counters, drops, global stats, events.

mod attach;
mod bpffs;
mod error;
pub mod lb;
mod links;
mod maps;
mod test_run;

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub use attach::{AttachMode, Attached};
use aya::maps::{HashMap, MapData, PerCpuArray, PerCpuHashMap, RingBuf};
use aya::programs::Xdp;
use aya::{Ebpf, EbpfLoader};
pub use bpffs::{DEFAULT_BPFFS_ROOT, PinDir, Role, pin_dir_for};
pub use error::DataplaneError;
pub use test_run::{TestRun, test_run};
use tracing::warn;
use vrrp_common::{
    GlobalStats, IfaceConfig, IfaceDrops, InstanceConfig, InstanceKey, InstanceState,
    MasterDownTimer, ReceivePolicy, RxCounters, RxKey, VipEntry, VipKey, VrrpEvent, map_names,
};

use crate::XDP_OBJECT;

/// What the program does with what it checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `xvrrpd monitor`: every VRID on every attached interface is recorded with default
    /// checks; nothing is ever dropped (invalid frames are counted and passed).
    Observe,
    /// The daemon: only instances in `vrrp_config` are recorded; invalid adverts, adverts for
    /// unknown instances (unless foreign-pass) and frames the kernel would drop are dropped.
    Enforce,
}

/// How to load the program.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub mode: Mode,
    /// The exact pin directory (see [`pin_dir_for`] for the per-namespace default).
    pub pin_dir: PathBuf,
    /// [`vrrp_common::IFACE_FOREIGN_PASS`] for interfaces [`Dataplane::attach`] configures:
    /// adverts for instances we do not run pass to the stack (another VRRP speaker here).
    pub foreign_pass: bool,
    /// Run backups' master-down timers in the kernel (`vrrp_timers`, `vrrp_timer_sync`). When
    /// the kernel refuses them, the program is loaded without (see [`Dataplane::kernel_timers`]).
    pub kernel_timers: bool,
}

/// Whether the program runs master-down timers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelTimers {
    /// Timers run in the kernel; the master-down event wakes the daemon.
    On,
    /// Not asked for (`--no-kernel-timers`, the monitor, tests).
    Off,
    /// Asked for, but the kernel refused the program with them: why. The program runs without.
    Unavailable(String),
}

/// The loaded program, its pinned maps and links.
pub struct Dataplane {
    ebpf: Ebpf,
    options: LoadOptions,
    pins: PinDir,
    /// Interface index -> the link keeping the program attached there (also pinned).
    links: BTreeMap<u32, (OwnedFd, AttachMode)>,
    config: HashMap<MapData, RxKey, InstanceConfig>,
    vips: HashMap<MapData, VipKey, VipEntry>,
    policy: HashMap<MapData, InstanceKey, ReceivePolicy>,
    state: HashMap<MapData, InstanceKey, InstanceState>,
    counters: PerCpuHashMap<MapData, InstanceKey, RxCounters>,
    iface_drops: PerCpuHashMap<MapData, u32, IfaceDrops>,
    ifaces: HashMap<MapData, u32, IfaceConfig>,
    global: PerCpuArray<MapData, GlobalStats>,
    events: Option<RingBuf<MapData>>,
    timers: HashMap<MapData, InstanceKey, MasterDownTimer>,
    slots: HashMap<MapData, RxKey, u8>,
    kernel_timers: KernelTimers,
    logger: Option<ProgramLog>,
}

/// The program's rare diagnostics (aya-log, debug level: ring full, unexpected frames). Poll
/// its descriptor and call `flush`: records go to the `log` crate, which tracing receives.
pub type ProgramLog = aya_log::EbpfLogger<&'static dyn log::Log>;

impl Dataplane {
    /// Loads the program and pins its maps under `options.pin_dir`, replacing map pins that a
    /// killed earlier run left behind (its links are adopted by [`Dataplane::attach`]).
    pub fn load(options: &LoadOptions) -> Result<Self, DataplaneError> {
        let pins = PinDir::acquire(&options.pin_dir)?;
        let path = pins.path().to_owned();
        Self::load_with(pins, options).inspect_err(|_| {
            // Nothing of a failed load stays behind: map pins made so far, then the directory.
            for name in map_names::ALL {
                let _ = std::fs::remove_file(path.join(name));
            }
            let _ = std::fs::remove_dir(path.join("links"));
            let _ = std::fs::remove_dir(&path);
        })
    }

    fn load_with(pins: PinDir, options: &LoadOptions) -> Result<Self, DataplaneError> {
        let (ebpf, kernel_timers) = if options.kernel_timers {
            match load_programs(options.mode, true) {
                Ok(ebpf) => (ebpf, KernelTimers::On),
                // The timer code is behind a read-only switch the verifier folds away: the
                // same object loads without it.
                Err(e @ (DataplaneError::Verifier(_) | DataplaneError::Load(_))) => {
                    let why = format!("{:#}", anyhow::Error::from(e));
                    (
                        load_programs(options.mode, false)?,
                        KernelTimers::Unavailable(why),
                    )
                }
                Err(e) => return Err(e),
            }
        } else {
            (load_programs(options.mode, false)?, KernelTimers::Off)
        };
        let mut ebpf = ebpf;

        for name in map_names::ALL {
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
        let logger = aya_log::EbpfLogger::init(&mut ebpf)
            .inspect_err(|e| warn!(error = %e, "the XDP program's diagnostics will not be shown"))
            .ok();
        Ok(Self {
            logger,
            config: take_map(&mut ebpf, map_names::CONFIG)?,
            vips: take_map(&mut ebpf, map_names::VIPS)?,
            policy: take_map(&mut ebpf, map_names::POLICY)?,
            state: take_map(&mut ebpf, map_names::STATE)?,
            counters: take_map(&mut ebpf, map_names::COUNTERS)?,
            iface_drops: take_map(&mut ebpf, map_names::IFACE_DROPS)?,
            ifaces: take_map(&mut ebpf, map_names::IFACES)?,
            global: take_map(&mut ebpf, map_names::GLOBAL)?,
            events: Some(take_map(&mut ebpf, map_names::EVENTS)?),
            timers: take_map(&mut ebpf, map_names::TIMERS)?,
            slots: take_map(&mut ebpf, map_names::SLOTS)?,
            kernel_timers,
            ebpf,
            options: options.clone(),
            pins,
            links: BTreeMap::new(),
        })
    }

    pub fn pin_dir(&self) -> &Path {
        self.pins.path()
    }

    pub fn mode(&self) -> Mode {
        self.options.mode
    }

    /// Whether backups' master-down timers run in the kernel.
    pub fn kernel_timers(&self) -> &KernelTimers {
        &self.kernel_timers
    }

    /// The loaded program (for BPF_PROG_TEST_RUN).
    pub fn program(&self) -> &Xdp {
        self.ebpf
            .program(vrrp_common::PROGRAM_NAME)
            .and_then(|p| <&Xdp>::try_from(p).ok())
            .expect("load() checked the program exists and is XDP")
    }

    /// Detaches from every interface and removes the pins: a clean shutdown leaves nothing.
    pub fn shutdown(mut self) {
        for ifindex in self.links.keys().copied().collect::<Vec<_>>() {
            if let Err(e) = self.detach(ifindex) {
                warn!(ifindex, error = %e, "cannot detach");
            }
        }
        for name in map_names::ALL {
            let _ = std::fs::remove_file(self.pins.map(name));
        }
        self.pins.remove_if_empty();
    }

    /// The event ring buffer, once: the caller owns reading it. Records decode with
    /// [`parse_event`].
    pub fn take_events(&mut self) -> Option<RingBuf<MapData>> {
        self.events.take()
    }

    /// The program's diagnostics, once: the caller polls and flushes it.
    pub fn take_logger(&mut self) -> Option<ProgramLog> {
        self.logger.take()
    }
}

/// Loads the object with master-down timers on or off and verifies its programs: `vrrp_rx`,
/// and `vrrp_timer_sync` when timers are on.
fn load_programs(mode: Mode, kernel_timers: bool) -> Result<Ebpf, DataplaneError> {
    let observe_all: u8 = match mode {
        Mode::Observe => vrrp_common::OBSERVE_ALL,
        Mode::Enforce => 0,
    };
    let timers: u8 = if kernel_timers {
        vrrp_common::KERNEL_TIMERS
    } else {
        0
    };
    let mut ebpf = EbpfLoader::new()
        .override_global(vrrp_common::OBSERVE_ALL_GLOBAL, &observe_all, true)
        .override_global(vrrp_common::KERNEL_TIMERS_GLOBAL, &timers, true)
        .load(XDP_OBJECT)
        .map_err(|e| DataplaneError::Load(Box::new(e)))?;
    let mut names = vec![vrrp_common::PROGRAM_NAME];
    if kernel_timers {
        names.push(vrrp_common::TIMER_SYNC_PROGRAM_NAME);
    }
    for name in names {
        let program: &mut Xdp = ebpf
            .program_mut(name)
            .ok_or(DataplaneError::Missing {
                what: "program",
                name,
            })?
            .try_into()
            .map_err(|e| DataplaneError::Verifier(Box::new(e)))?;
        program
            .load()
            .map_err(|e| DataplaneError::Verifier(Box::new(e)))?;
    }
    Ok(ebpf)
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
    T::try_from(map).map_err(DataplaneError::map(name, "opening"))
}

/// The kernel's interface index for `iface` in this thread's network namespace.
pub fn ifindex(iface: &str) -> Result<u32, DataplaneError> {
    let unknown = || DataplaneError::UnknownInterface {
        iface: iface.to_owned(),
    };
    let name = std::ffi::CString::new(iface).map_err(|_| unknown())?;
    // SAFETY: if_nametoindex reads a NUL-terminated string.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => Err(unknown()),
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
