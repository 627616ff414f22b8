//! `notify_fifo` / `vrrp_notify_fifo`: keepalived's FIFO lines, and the FIFO's reader script.

use std::ffi::CString;
use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::daemon::child::{self, Launch, Limits};

/// How long the FIFO script gets to read the last lines before it is stopped.
const DRAIN_BOUND: Duration = Duration::from_millis(500);

/// keepalived's line: `INSTANCE "VI_1" MASTER 100` / `GROUP "G" BACKUP 0`, then a newline.
pub fn fifo_line(group: bool, name: &str, word: &str, priority: u8) -> String {
    let kind = if group { "GROUP" } else { "INSTANCE" };
    format!("{kind} \"{name}\" {word} {priority}\n")
}

/// An open notify FIFO and its reader script.
pub struct Fifo {
    path: PathBuf,
    file: std::fs::File,
    created: bool,
    script: Option<(JoinHandle<()>, watch::Sender<Option<Instant>>)>,
    dropped: u64,
}

impl Fifo {
    /// Creates the FIFO (mode 0644) unless something is there already, starts its script with
    /// the FIFO's path as the last argument, and opens it read-write and non-blocking, as
    /// keepalived does (fifo_open): writes never wait for a reader.
    pub fn open(path: &str, script: Option<Launch>) -> Option<Self> {
        let path = PathBuf::from(path);
        let cpath = CString::new(path.as_os_str().as_bytes()).ok()?;
        // SAFETY: mkfifo on a NUL-terminated path.
        let created = unsafe { libc::mkfifo(cpath.as_ptr(), 0o644) } == 0;
        if !created {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EEXIST) {
                warn!(fifo = %path.display(), error = %e, "cannot create the notify FIFO");
                return None;
            }
        }
        let script = script.map(|launch| {
            let (stop, stopped) = watch::channel(None);
            let shown = path.clone();
            let task = tokio::spawn(async move {
                let limits = Limits {
                    timeout: None,
                    grace: Duration::from_millis(200),
                    reap_group: true,
                    output_limit: 512,
                };
                let extra = [shown.display().to_string()];
                match child::run(&launch, &extra, &limits, Some(stopped)).await {
                    Ok(done) => {
                        info!(fifo = %shown.display(), script = %launch.display, exit = %done.exit, output = %done.output_text(), "notify FIFO script ended")
                    }
                    Err(e) => {
                        warn!(fifo = %shown.display(), script = %launch.display, error = %e, "cannot run the notify FIFO script")
                    }
                }
            });
            (task, stop)
        });
        let file = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(file) => file,
            Err(e) => {
                warn!(fifo = %path.display(), error = %e, "cannot open the notify FIFO");
                if created {
                    let _ = std::fs::remove_file(&path);
                }
                return None;
            }
        };
        info!(fifo = %path.display(), created, "notify FIFO open");
        Some(Self {
            path,
            file,
            created,
            script,
            dropped: 0,
        })
    }

    /// Writes one line; a full FIFO (no reader keeping up) loses it, as in keepalived.
    pub fn write(&mut self, line: &str) {
        if let Err(e) = self.file.write_all(line.as_bytes()) {
            self.dropped += 1;
            debug!(fifo = %self.path.display(), error = %e, dropped = self.dropped, "notify FIFO line lost");
        }
    }

    /// Bytes written and not read yet.
    fn pending(&self) -> i32 {
        let mut pending: libc::c_int = 0;
        // SAFETY: FIONREAD stores an int through the pointer.
        if unsafe { libc::ioctl(self.file.as_raw_fd(), libc::FIONREAD, &mut pending) } != 0 {
            return 0;
        }
        pending
    }

    /// Gives the script up to [`DRAIN_BOUND`] to read what is left, stops it, and removes a
    /// FIFO this daemon created (first, so that a script reopening it in a loop cannot).
    pub async fn close(mut self) {
        if let Some((task, stop)) = self.script.take() {
            let until = Instant::now() + DRAIN_BOUND;
            while self.pending() > 0 && Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            // A reader that took the last bytes may not have written them out yet.
            tokio::time::sleep(Duration::from_millis(20)).await;
            if self.created {
                let _ = std::fs::remove_file(&self.path);
            }
            let _ = stop.send(Some(Instant::now()));
            let _ = task.await;
        } else if self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_keepalived_s() {
        assert_eq!(
            fifo_line(false, "VI_1", "MASTER", 100),
            "INSTANCE \"VI_1\" MASTER 100\n"
        );
        assert_eq!(fifo_line(true, "G", "BACKUP", 0), "GROUP \"G\" BACKUP 0\n");
    }
}
