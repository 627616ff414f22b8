//! The control socket: `xvrrpd status`, `watch`, `reload` and the flight recorder's start and
//! stop talk to the running daemon over a unix socket, one JSON request line and JSON lines
//! back. By default the socket is abstract (`@xvrrpd:<config file>`): abstract sockets belong
//! to their network namespace, so `ip netns exec NS xvrrpd status` finds the daemon of that
//! namespace, and daemons of other configuration files do not collide. Only root (or the
//! daemon's own user) may use it: the peer's credentials are checked on every connection.

use std::io::{BufRead as _, Write as _};
use std::os::linux::net::SocketAddrExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, warn};

use super::status::{Report, TransitionEvent};

/// Where the control socket is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocketAddress {
    /// In the abstract namespace of this network namespace.
    Abstract(String),
    /// A file (created with mode 0600).
    Path(PathBuf),
}

impl SocketAddress {
    /// The default for a configuration file: `@xvrrpd:<its absolute path>`.
    pub fn for_config(config_file: &Path) -> Self {
        let absolute = std::path::absolute(config_file).unwrap_or_else(|_| config_file.to_owned());
        Self::Abstract(format!("xvrrpd:{}", absolute.display()))
    }

    fn std_address(&self) -> std::io::Result<std::os::unix::net::SocketAddr> {
        match self {
            Self::Abstract(name) => std::os::unix::net::SocketAddr::from_abstract_name(name),
            Self::Path(path) => std::os::unix::net::SocketAddr::from_pathname(path),
        }
    }
}

impl std::fmt::Display for SocketAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Abstract(name) => write!(f, "@{name}"),
            Self::Path(path) => write!(f, "{}", path.display()),
        }
    }
}

/// What a client asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    Status,
    /// Transitions as they happen, until the client goes.
    Watch,
    Reload,
    /// Start the flight recorder, writing to `file` (on the daemon's host).
    RecordStart {
        file: PathBuf,
    },
    RecordStop,
}

/// The daemon's answer to everything but `watch`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Status(Box<Report>),
    /// Done; the text says what happened.
    Done {
        message: String,
    },
    Failed {
        message: String,
    },
}

/// A request on its way to the runtime, with where the answer goes.
pub struct Command {
    pub request: Request,
    pub reply: oneshot::Sender<Reply>,
}

/// Binds the socket and serves it on a task; requests go to `commands`, `transitions` feeds
/// `watch` clients.
pub fn serve(
    address: &SocketAddress,
    transitions: broadcast::Sender<TransitionEvent>,
    commands: mpsc::Sender<Command>,
) -> std::io::Result<()> {
    if let SocketAddress::Path(path) = address {
        // A socket file left by a killed daemon: nobody answers on it any more.
        if std::os::unix::net::UnixStream::connect(path).is_err() {
            let _ = std::fs::remove_file(path);
        }
    }
    let listener = std::os::unix::net::UnixListener::bind_addr(&address.std_address()?)?;
    if let SocketAddress::Path(path) = address {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    listener.set_nonblocking(true)?;
    let listener = UnixListener::from_std(listener)?;
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    warn!(error = %e, "control socket: accept failed");
                    continue;
                }
            };
            let commands = commands.clone();
            let transitions = transitions.subscribe();
            tokio::spawn(async move {
                if let Err(e) = client(stream, commands, transitions).await {
                    debug!(error = %e, "control socket client");
                }
            });
        }
    });
    Ok(())
}

async fn client(
    stream: UnixStream,
    commands: mpsc::Sender<Command>,
    mut transitions: broadcast::Receiver<TransitionEvent>,
) -> std::io::Result<()> {
    let allowed = stream.peer_cred().is_ok_and(|cred| {
        // SAFETY: geteuid has no preconditions.
        let own = unsafe { libc::geteuid() };
        cred.uid() == 0 || cred.uid() == own
    });
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await?;
    let reply = if !allowed {
        Reply::Failed {
            message: "the control socket is for root only".into(),
        }
    } else {
        match serde_json::from_str::<Request>(&line) {
            Err(e) => Reply::Failed {
                message: format!("bad request {line:?}: {e}"),
            },
            Ok(Request::Watch) => loop {
                let event = match transitions.recv().await {
                    Ok(event) => event,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                };
                let mut text = serde_json::to_string(&event).map_err(std::io::Error::other)?;
                text.push('\n');
                write.write_all(text.as_bytes()).await?;
            },
            Ok(request) => {
                let (reply, answer) = oneshot::channel();
                if commands.send(Command { request, reply }).await.is_err() {
                    return Ok(());
                }
                answer.await.unwrap_or(Reply::Failed {
                    message: "the daemon is stopping".into(),
                })
            }
        }
    };
    let mut text = serde_json::to_string(&reply).map_err(std::io::Error::other)?;
    text.push('\n');
    write.write_all(text.as_bytes()).await
}

/// Why a client could not talk to the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "no xvrrpd answers on {address} ({source}); is it running, in this network namespace, with this configuration file (-f) or --socket?"
    )]
    Connect {
        address: SocketAddress,
        source: std::io::Error,
    },
    #[error("talking to xvrrpd on {address}: {source}")]
    Io {
        address: SocketAddress,
        source: std::io::Error,
    },
    #[error("xvrrpd answered something unreadable: {0}")]
    Protocol(String),
}

/// Connects, sends `request`, and hands every answer line to `each` (one for most requests,
/// a stream for `watch`) until it returns false or the daemon closes.
pub fn request(
    address: &SocketAddress,
    request: &Request,
    mut each: impl FnMut(&str) -> bool,
) -> Result<(), ClientError> {
    let connect = |source| ClientError::Connect {
        address: address.clone(),
        source,
    };
    let io = |source| ClientError::Io {
        address: address.clone(),
        source,
    };
    let mut stream =
        std::os::unix::net::UnixStream::connect_addr(&address.std_address().map_err(connect)?)
            .map_err(connect)?;
    let mut text =
        serde_json::to_string(request).map_err(|e| ClientError::Protocol(e.to_string()))?;
    text.push('\n');
    stream.write_all(text.as_bytes()).map_err(io)?;
    for line in std::io::BufReader::new(stream).lines() {
        if !each(&line.map_err(io)?) {
            break;
        }
    }
    Ok(())
}

/// A request expecting one [`Reply`].
pub fn call(address: &SocketAddress, what: &Request) -> Result<Reply, ClientError> {
    let mut reply = None;
    request(address, what, |line| {
        reply = Some(serde_json::from_str::<Reply>(line).map_err(|e| e.to_string()));
        false
    })?;
    reply
        .ok_or_else(|| ClientError::Protocol("no answer".into()))?
        .map_err(ClientError::Protocol)
}
