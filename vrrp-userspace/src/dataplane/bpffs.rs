//! The bpffs directory xvrrpd pins its maps and links in, and the lock that makes one process
//! its owner at a time.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};

use super::DataplaneError;

/// Where bpffs is normally mounted.
pub const BPFFS_ROOT: &str = "/sys/fs/bpf";
/// Default pin directory: `bpftool map dump pinned /sys/fs/bpf/xvrrpd/vrrp_state`.
pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/xvrrpd";

/// An exclusively locked pin directory. The lock is an flock on the directory itself, so it
/// goes away with the process, even after `kill -9`.
#[derive(Debug)]
pub struct PinDir {
    path: PathBuf,
    _lock: File,
}

impl PinDir {
    /// Mounts bpffs if needed, creates `path` and takes its lock.
    pub fn acquire(path: &Path) -> Result<Self, DataplaneError> {
        ensure_bpffs_mounted()?;
        std::fs::create_dir_all(path.join("links")).map_err(|source| DataplaneError::PinDir {
            path: path.to_owned(),
            source,
        })?;
        let lock = File::open(path).map_err(|source| DataplaneError::PinDir {
            path: path.to_owned(),
            source,
        })?;
        // SAFETY: flock on a file descriptor we own.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(DataplaneError::PinDirBusy {
                path: path.to_owned(),
            });
        }
        Ok(Self {
            path: path.to_owned(),
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn map(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn link(&self, ifname: &str) -> PathBuf {
        self.path.join("links").join(ifname)
    }

    /// Removes what is left of the directory once its pins are gone.
    pub fn remove_if_empty(&self) {
        let _ = std::fs::remove_dir(self.path.join("links"));
        let _ = std::fs::remove_dir(&self.path);
    }
}

fn ensure_bpffs_mounted() -> Result<(), DataplaneError> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mounted = mounts.lines().any(|line| {
        let mut fields = line.split_whitespace();
        let _source = fields.next();
        fields.next() == Some(BPFFS_ROOT) && fields.next() == Some("bpf")
    });
    if mounted {
        return Ok(());
    }
    let target = CString::new(BPFFS_ROOT).expect("constant has no NUL");
    let fstype = CString::new("bpf").expect("constant has no NUL");
    // SAFETY: plain mount(2) with valid C strings and no data.
    let rc = unsafe {
        libc::mount(
            fstype.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(DataplaneError::MountBpffs {
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}
