//! The bpffs directory xvrrpd pins its maps and links in, and the lock that makes one process
//! its owner at a time.
//!
//! The default directory is per network namespace and per role (`daemon-net-<inode>`,
//! `monitor-net-<inode>` under `/sys/fs/bpf/xvrrpd`): bpffs is shared by every namespace of
//! the host, interface indexes are not, so a pin of namespace B must never be found by a run in
//! namespace C. A monitor and a daemon never share pins or a lock.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use tracing::warn;

use super::DataplaneError;

/// Where bpffs is normally mounted.
pub const BPFFS_ROOT: &str = "/sys/fs/bpf";
/// The default `--bpffs`: one directory per role and network namespace below it.
pub const DEFAULT_BPFFS_ROOT: &str = "/sys/fs/bpf/xvrrpd";

/// Who owns a pin directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Daemon,
    Monitor,
}

/// `root/<role>-net-<inode of this thread's network namespace>`.
pub fn pin_dir_for(root: &Path, role: Role) -> Result<PathBuf, DataplaneError> {
    let inode = std::fs::metadata("/proc/thread-self/ns/net")
        .map_err(|source| DataplaneError::NetnsIdentity { source })?
        .ino();
    let role = match role {
        Role::Daemon => "daemon",
        Role::Monitor => "monitor",
    };
    Ok(root.join(format!("{role}-net-{inode}")))
}

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
        let pin_dir_error = |source| DataplaneError::PinDir {
            path: path.to_owned(),
            source,
        };
        std::fs::create_dir_all(path.join("links")).map_err(pin_dir_error)?;
        let lock = File::open(path).map_err(pin_dir_error)?;
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

    /// Links are keyed by interface index: a renamed interface keeps its pin.
    pub fn link(&self, ifindex: u32) -> PathBuf {
        self.path.join("links").join(format!("if-{ifindex}"))
    }

    /// Interface indexes of every link pin in the directory.
    pub fn pinned_links(&self) -> Vec<u32> {
        let Ok(entries) = std::fs::read_dir(self.path.join("links")) else {
            return Vec::new();
        };
        let mut indexes: Vec<u32> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.strip_prefix("if-")?.parse().ok())
            .collect();
        indexes.sort_unstable();
        indexes
    }

    /// Removes what is left of the directory once its pins are gone.
    pub fn remove_if_empty(&self) {
        let _ = std::fs::remove_dir(self.path.join("links"));
        let _ = std::fs::remove_dir(&self.path);
    }
}

fn ensure_bpffs_mounted() -> Result<(), DataplaneError> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    if mount_of(&mounts, BPFFS_ROOT).is_some_and(|(_, fstype)| fstype == "bpf") {
        return Ok(());
    }
    if let Some(netns) = ip_netns_exec_name(&mounts) {
        warn!(
            netns,
            "running under `ip netns exec`, which gives this process a /sys of its own: the bpffs \
             mounted now is private, so pins vanish when xvrrpd exits and a killed xvrrpd leaves \
             nothing attached; run it as `nsenter --net=/run/netns/{netns} xvrrpd ...` instead"
        );
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

/// The last mount on `target` in `/proc/self/mounts`: (source, fstype).
fn mount_of<'a>(mounts: &'a str, target: &str) -> Option<(&'a str, &'a str)> {
    mounts.lines().rev().find_map(|line| {
        let mut fields = line.split_whitespace();
        let source = fields.next()?;
        (fields.next()? == target).then_some((source, fields.next()?))
    })
}

/// `ip netns exec NAME` remounts /sys as a sysfs whose source is NAME (iproute2's
/// `netns_switch`); the name of a namespace under /run/netns then identifies it.
pub(crate) fn ip_netns_exec_name(mounts: &str) -> Option<String> {
    let (source, fstype) = mount_of(mounts, "/sys")?;
    (fstype == "sysfs" && source != "sysfs" && Path::new("/run/netns").join(source).exists())
        .then(|| source.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_mount_on_a_target_wins() {
        let mounts = "sysfs /sys sysfs rw 0 0\nbpf /sys/fs/bpf bpf rw 0 0\nns1 /sys sysfs rw 0 0\n";
        assert_eq!(mount_of(mounts, "/sys"), Some(("ns1", "sysfs")));
        assert_eq!(mount_of(mounts, "/sys/fs/bpf"), Some(("bpf", "bpf")));
        assert_eq!(mount_of(mounts, "/proc"), None);
        assert_eq!(ip_netns_exec_name("sysfs /sys sysfs rw 0 0\n"), None);
    }
}
