//! What can go wrong in the dataplane, each variant saying what to do about it.

use std::path::PathBuf;

use aya::programs::ProgramError;

#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    #[error("cannot mount bpffs on /sys/fs/bpf (are you root, with CAP_SYS_ADMIN?)")]
    MountBpffs { source: std::io::Error },
    #[error("cannot tell which network namespace this is (reading /proc/thread-self/ns/net)")]
    NetnsIdentity { source: std::io::Error },
    #[error("cannot use pin directory {}", path.display())]
    PinDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "pin directory {} is in use by another running xvrrpd; stop it first or pass another --bpffs directory",
        path.display()
    )]
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
    #[error("map {name}: {action} failed")]
    Map {
        name: &'static str,
        action: &'static str,
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
        "cannot attach XDP to interface {ifindex}: native mode failed ({native}), generic mode failed ({generic}); \
         if another XDP program is attached, remove it with `ip link set dev IFACE xdp off`"
    )]
    Attach {
        ifindex: u32,
        native: std::io::Error,
        generic: std::io::Error,
    },
    #[error(
        "the link pinned at {} could not be {action} ({source}); remove that pin (`rm {}`, \
         which detaches the program it holds) and start again",
        path.display(), path.display()
    )]
    StaleLink {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    #[error(
        "the link pinned at {} attaches another program ({program}) to interface {ifindex}; \
         it is not xvrrpd's: remove the pin or pass another --bpffs directory",
        path.display()
    )]
    ForeignLink {
        path: PathBuf,
        ifindex: u32,
        program: String,
    },
    #[error("{what} is not supported by the XDP receive path: {hint}")]
    Unsupported {
        what: &'static str,
        hint: &'static str,
    },
    #[error("{what} failed")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
}

impl DataplaneError {
    pub(crate) fn map(
        name: &'static str,
        action: &'static str,
    ) -> impl FnOnce(aya::maps::MapError) -> Self {
        move |source| Self::Map {
            name,
            action,
            source: Box::new(source),
        }
    }
}
