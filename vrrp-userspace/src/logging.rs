//! Where log lines go, as keepalived decides it: to the console with `-l` (`--log-console`),
//! otherwise to syslog through `/dev/log` (which journald serves under systemd) with facility
//! DAEMON, or LOCAL0..LOCAL7 with `-S` (`--log-facility`). Commands other than the daemon
//! always write to stderr.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// keepalived's default syslog socket.
pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";

/// Where the log goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// stderr (a terminal gets colours).
    Console,
    /// Datagrams to a syslog socket; `local` is keepalived's `-S N` (LOCALN), `None` is
    /// DAEMON.
    Syslog { socket: PathBuf, local: Option<u8> },
}

/// Installs the global subscriber. Falls back to stderr, saying why, when the syslog socket
/// cannot be reached (a container without a syslog daemon).
pub fn init(destination: &Destination, filter: EnvFilter) {
    let console = || {
        tracing_subscriber::fmt()
            .with_env_filter(filter.clone())
            .with_writer(io::stderr)
            .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
            .init();
    };
    match destination {
        Destination::Console => console(),
        Destination::Syslog { socket, local } => match Syslog::connect(socket, *local) {
            Ok(syslog) => tracing_subscriber::fmt()
                .with_env_filter(filter.clone())
                .with_writer(syslog)
                .with_ansi(false)
                .without_time()
                .with_target(false)
                .with_level(false)
                .init(),
            Err(e) => {
                console();
                tracing::warn!(socket = %socket.display(), error = %e, "no syslog; logging to stderr (use -l to ask for that)");
            }
        },
    }
}

/// RFC 3164 facility codes.
const FACILITY_DAEMON: u8 = 3;
const FACILITY_LOCAL0: u8 = 16;

/// A syslog socket: each log event becomes one datagram `<PRI>xvrrpd[PID]: message`.
struct Syslog {
    socket: UnixDatagram,
    facility: u8,
    pid: u32,
}

impl Syslog {
    fn connect(path: &Path, local: Option<u8>) -> io::Result<Self> {
        let socket = UnixDatagram::unbound()?;
        socket.connect(path)?;
        socket.set_nonblocking(true)?;
        Ok(Self {
            socket,
            facility: local.map_or(FACILITY_DAEMON, |n| FACILITY_LOCAL0 + n.min(7)),
            pid: std::process::id(),
        })
    }

    fn record(&self, level: &Level) -> SyslogRecord<'_> {
        // RFC 5424 severities: error 3, warning 4, informational 6, debug 7.
        let severity = match *level {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            _ => 7,
        };
        let mut line = format!(
            "<{}>xvrrpd[{}]: ",
            u16::from(self.facility) * 8 + severity,
            self.pid
        )
        .into_bytes();
        line.reserve(160);
        SyslogRecord { syslog: self, line }
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogRecord<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        self.record(&Level::INFO)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        self.record(meta.level())
    }
}

/// One event being formatted; sent when dropped.
struct SyslogRecord<'a> {
    syslog: &'a Syslog,
    line: Vec<u8>,
}

impl io::Write for SyslogRecord<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogRecord<'_> {
    fn drop(&mut self) {
        while self.line.last() == Some(&b'\n') {
            self.line.pop();
        }
        // A full syslog socket loses the line rather than stall the protocol loop.
        let _ = self.syslog.socket.send(&self.line);
    }
}
