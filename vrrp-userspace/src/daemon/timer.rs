//! Protocol deadlines on CLOCK_MONOTONIC with sub-millisecond precision. tokio's own timer
//! rounds to whole milliseconds; a timerfd armed with an absolute CLOCK_MONOTONIC time (the
//! clock the XDP program stamps adverts with) fires within microseconds of the deadline.

use std::os::fd::{AsRawFd, FromRawFd as _, OwnedFd};

use tokio::io::unix::AsyncFd;

use crate::engine::Timestamp;

/// CLOCK_MONOTONIC now, as an engine timestamp.
pub fn now() -> Timestamp {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    Timestamp::from_nanos(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// One timerfd, re-armed for the engine's next deadline.
pub struct DeadlineTimer {
    fd: AsyncFd<OwnedFd>,
    armed: Option<Timestamp>,
}

impl DeadlineTimer {
    pub fn new() -> std::io::Result<Self> {
        // SAFETY: timerfd_create returns a new descriptor or -1.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor we own from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the OwnedFd moves into the AsyncFd, which deregisters before closing it.
        let fd = unsafe { AsyncFd::register(fd) }?;
        Ok(Self { fd, armed: None })
    }

    /// Arms the timer for `deadline` (absolute), or disarms it.
    pub fn set(&mut self, deadline: Option<Timestamp>) -> std::io::Result<()> {
        if deadline == self.armed {
            return Ok(());
        }
        let nanos = deadline.map_or(0, |d| d.as_nanos().max(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (nanos / 1_000_000_000) as libc::time_t,
                tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
            },
        };
        // SAFETY: a valid timerfd and itimerspec; a zero it_value disarms.
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.get_ref().as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        self.armed = deadline;
        Ok(())
    }

    /// Waits until the armed deadline passes (forever when disarmed).
    pub async fn fired(&mut self) -> std::io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            let mut expirations = [0u8; 8];
            // SAFETY: reading 8 bytes from a timerfd into an 8-byte buffer.
            let n = unsafe {
                libc::read(
                    guard.get_inner().as_raw_fd(),
                    expirations.as_mut_ptr().cast(),
                    expirations.len(),
                )
            };
            if n == 8 {
                self.armed = None;
                return Ok(());
            }
            guard.clear_ready();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn fires_after_the_deadline_not_before() {
        crate::daemon::process::minimize_timer_slack();
        let mut timer = DeadlineTimer::new().unwrap();
        let deadline = now() + Duration::from_millis(3);
        timer.set(Some(deadline)).unwrap();
        timer.fired().await.unwrap();
        let late = now() - deadline;
        assert!(now() >= deadline);
        assert!(late < Duration::from_millis(50), "fired {late:?} late");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_deadline_in_the_past_fires_at_once() {
        let mut timer = DeadlineTimer::new().unwrap();
        timer.set(Some(Timestamp::from_nanos(1))).unwrap();
        tokio::time::timeout(Duration::from_secs(1), timer.fired())
            .await
            .expect("fires")
            .unwrap();
    }
}
