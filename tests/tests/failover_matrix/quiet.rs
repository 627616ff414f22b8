//! Cases run in parallel on a 2-core machine, and a takeover is timed to the millisecond: the
//! CPU-heavy steps of one case (tshark decoding a capture, daemons starting) must not run
//! while another case is timing a takeover. Timed windows share a read lock; heavy steps
//! take the write lock, so they wait for the timed windows in progress and hold off new ones.

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

static LOCK: RwLock<()> = RwLock::new(());

/// How long a started daemon is given to load (config, sockets, BPF programs) before the
/// heavy window ends.
pub const STARTUP: Duration = Duration::from_millis(500);

/// Held while a failure, the takeover or the preemption is being captured.
pub fn timed() -> RwLockReadGuard<'static, ()> {
    LOCK.read().unwrap_or_else(PoisonError::into_inner)
}

/// Held while tshark runs or a daemon starts.
pub fn heavy() -> RwLockWriteGuard<'static, ()> {
    LOCK.write().unwrap_or_else(PoisonError::into_inner)
}
