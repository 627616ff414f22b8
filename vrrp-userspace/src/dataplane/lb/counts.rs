//! Connection counts per destination, shared with the program through the map's memory
//! (`BPF_F_MMAPABLE`): the program adds and subtracts with BPF atomics, the daemon subtracts
//! for the connections it expires with the same atomic instructions, so no update is lost.

use std::os::fd::{AsRawFd as _, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use vrrp_common::{CONN_ESTABLISHED, LB_MAX_DESTS, LbDestConns};

use crate::dataplane::DataplaneError;

pub struct ConnCounts {
    base: *mut LbDestConns,
    len: usize,
    _fd: OwnedFd,
}

// SAFETY: the mapping is shared memory that is only accessed through atomics; it lives as
// long as the value (munmap on drop).
unsafe impl Send for ConnCounts {}
// SAFETY: as above: every access is atomic.
unsafe impl Sync for ConnCounts {}

impl ConnCounts {
    /// Maps the `lb_dest_conns` array behind `fd`.
    pub fn map(fd: OwnedFd) -> Result<Self, DataplaneError> {
        let len = (LB_MAX_DESTS as usize * size_of::<LbDestConns>()).next_multiple_of(4096);
        // SAFETY: a shared read-write mapping of an mmapable BPF array of this size.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(DataplaneError::Io {
                what: "mapping lb_dest_conns",
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(Self {
            base: base.cast(),
            len,
            _fd: fd,
        })
    }

    fn counters(&self, id: u32) -> Option<(&AtomicU64, &AtomicU64)> {
        if id >= LB_MAX_DESTS {
            return None;
        }
        // SAFETY: id is inside the mapping; the fields are aligned u64s only accessed
        // atomically (by the program as well).
        unsafe {
            let entry = self.base.add(id as usize);
            Some((
                AtomicU64::from_ptr(&raw mut (*entry).active),
                AtomicU64::from_ptr(&raw mut (*entry).inactive),
            ))
        }
    }

    /// (active, inactive) of destination `id`; a count that dipped below zero for a moment
    /// reads as 0.
    pub fn get(&self, id: u32) -> (u64, u64) {
        self.counters(id).map_or((0, 0), |(active, inactive)| {
            let read = |c: &AtomicU64| (c.load(Ordering::Relaxed) as i64).max(0) as u64;
            (read(active), read(inactive))
        })
    }

    /// One connection in `state` is gone (expired by the daemon).
    pub fn remove(&self, id: u32, state: u8) {
        if let Some((active, inactive)) = self.counters(id) {
            let counter = if state == CONN_ESTABLISHED {
                active
            } else {
                inactive
            };
            counter.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Zero for an id given to another destination.
    pub fn reset(&self, id: u32) {
        if let Some((active, inactive)) = self.counters(id) {
            active.store(0, Ordering::Relaxed);
            inactive.store(0, Ordering::Relaxed);
        }
    }
}

impl Drop for ConnCounts {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, of this length.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}
