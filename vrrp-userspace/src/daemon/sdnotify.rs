//! systemd's `Type=notify` protocol (sd_notify(3)): READY after the first configuration is
//! running, RELOADING/READY around a reload, STOPPING on the way out, and WATCHDOG pings at
//! half of `WatchdogSec` when the unit sets one. Without `$NOTIFY_SOCKET` it does nothing.

use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use tracing::debug;

pub struct Notifier {
    socket: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET` (a path or `@abstract`) and `$WATCHDOG_USEC`.
    pub fn from_env() -> Self {
        let socket = std::env::var("NOTIFY_SOCKET").ok().and_then(|target| {
            let address = match target.strip_prefix('@') {
                Some(name) => SocketAddr::from_abstract_name(name).ok()?,
                None => SocketAddr::from_pathname(&target).ok()?,
            };
            Some((UnixDatagram::unbound().ok()?, address))
        });
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|usec| usec.parse::<u64>().ok())
            .filter(|usec| *usec > 0)
            .map(|usec| Duration::from_micros(usec / 2));
        Self { socket, watchdog }
    }

    /// How often to send WATCHDOG=1, if systemd watches.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.socket.as_ref().and(self.watchdog)
    }

    pub fn send(&self, message: &str) {
        if let Some((socket, address)) = &self.socket
            && let Err(e) = socket.send_to_addr(message.as_bytes(), address)
        {
            debug!(error = %e, message, "sd_notify failed");
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!(
            "READY=1\nSTATUS={status}\nMAINPID={}",
            std::process::id()
        ));
    }

    /// A reload starts; [`Self::ready`] ends it. systemd wants the monotonic time with it
    /// (sd_notify(3), `Type=notify-reload`).
    pub fn reloading(&self) {
        let usec = super::timer::now().as_nanos() / 1_000;
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }
}
