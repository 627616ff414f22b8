//! The kernel's process connector (NETLINK_CONNECTOR, CN_IDX_PROC): fork, exec, comm and exit
//! events of every process on the host, parsed as keepalived reads them.

use std::io;
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};

use tokio::io::unix::AsyncFd;

use crate::daemon::child::readable;

/// The process connector's events this module uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcEvent {
    Fork {
        parent: u32,
        child: u32,
    },
    Exec {
        pid: u32,
    },
    Comm {
        pid: u32,
    },
    Exit {
        pid: u32,
    },
    /// Events were lost (ENOBUFS): read everything again.
    Lost,
}

const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_EVENT_FORK: u32 = 0x1;
const PROC_EVENT_EXEC: u32 = 0x2;
const PROC_EVENT_COMM: u32 = 0x200;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;
/// nlmsghdr (16) + cn_msg (20).
const EVENT_OFFSET: usize = 36;

/// A process connector socket, subscribed.
pub struct Connector {
    socket: AsyncFd<OwnedFd>,
}

impl Connector {
    /// Opens the connector in this network namespace, else in the host's (on a short-lived
    /// thread: only that thread changes namespace).
    pub fn open() -> io::Result<Self> {
        let fd = match connector_socket() {
            Ok(fd) => fd,
            // Outside the host's network namespace the kernel refuses the subscription
            // (ECONNREFUSED, or EACCES at bind).
            Err(_) => {
                std::thread::spawn(|| {
                    // init's namespace, or kthreadd's (pid 2 in the host's pid namespace, always
                    // in the host's network namespace) where init's cannot be opened.
                    let netns = std::fs::File::open("/proc/1/ns/net")
                        .or_else(|_| std::fs::File::open("/proc/2/ns/net"))?;
                    // SAFETY: setns on a namespace file we opened; only this thread moves.
                    if unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    connector_socket()
                })
                .join()
                .map_err(|_| io::Error::other("the connector thread panicked"))??
            }
        };
        Ok(Self {
            socket: readable(fd)?,
        })
    }

    /// The next batch of events.
    pub async fn next(&mut self) -> io::Result<Vec<ProcEvent>> {
        loop {
            let mut guard = self.socket.readable().await?;
            let mut events = Vec::new();
            let mut buffer = [0u8; 8192];
            loop {
                // SAFETY: reading into a buffer we own, within its length.
                let n = unsafe {
                    libc::recv(
                        self.socket.get_ref().as_raw_fd(),
                        buffer.as_mut_ptr().cast(),
                        buffer.len(),
                        libc::MSG_DONTWAIT,
                    )
                };
                if n < 0 {
                    let e = io::Error::last_os_error();
                    match e.raw_os_error() {
                        Some(libc::EAGAIN) => {
                            guard.clear_ready();
                            break;
                        }
                        Some(libc::EINTR) => continue,
                        Some(libc::ENOBUFS) => {
                            events.push(ProcEvent::Lost);
                            continue;
                        }
                        _ => return Err(e),
                    }
                }
                events.extend(parse_event(&buffer[..n as usize]));
            }
            if !events.is_empty() {
                return Ok(events);
            }
        }
    }
}

fn connector_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the descriptor is owned right after.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            libc::NETLINK_CONNECTOR,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_nl is plain data.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    addr.nl_groups = CN_IDX_PROC;
    // SAFETY: binding our socket to a sockaddr_nl of the right size.
    // Every fork and exit on the host arrives here: a large buffer rides out bursts (root may
    // exceed rmem_max); lost events are recovered by reading /proc.
    let size: libc::c_int = 8 << 20;
    // SAFETY: setsockopt with an int option value.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        );
    }
    if unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    // nlmsghdr + cn_msg + the listen operation.
    let mut message = Vec::with_capacity(40);
    message.extend_from_slice(&40u32.to_ne_bytes()); // nlmsg_len
    message.extend_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
    message.extend_from_slice(&0u16.to_ne_bytes()); // flags
    message.extend_from_slice(&0u32.to_ne_bytes()); // seq
    message.extend_from_slice(&0u32.to_ne_bytes()); // pid
    message.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    message.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes()); // seq
    message.extend_from_slice(&0u32.to_ne_bytes()); // ack
    message.extend_from_slice(&4u16.to_ne_bytes()); // len
    message.extend_from_slice(&0u16.to_ne_bytes()); // flags
    message.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    // SAFETY: sending a buffer we own.
    let sent = unsafe { libc::send(fd.as_raw_fd(), message.as_ptr().cast(), message.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// One connector message: only process (not thread) events are kept, as keepalived does.
fn parse_event(message: &[u8]) -> Option<ProcEvent> {
    let u32_at = |offset: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(
            message.get(offset..offset + 4)?.try_into().ok()?,
        ))
    };
    if u32_at(16)? != CN_IDX_PROC || u32_at(20)? != CN_VAL_PROC {
        return None;
    }
    let what = u32_at(EVENT_OFFSET)?;
    let data = EVENT_OFFSET + 16;
    match what {
        PROC_EVENT_FORK => {
            let (parent_tgid, child_pid, child_tgid) =
                (u32_at(data + 4)?, u32_at(data + 8)?, u32_at(data + 12)?);
            (child_pid == child_tgid).then_some(ProcEvent::Fork {
                parent: parent_tgid,
                child: child_tgid,
            })
        }
        PROC_EVENT_EXEC | PROC_EVENT_COMM | PROC_EVENT_EXIT => {
            let (pid, tgid) = (u32_at(data)?, u32_at(data + 4)?);
            (pid == tgid).then_some(match what {
                PROC_EVENT_EXEC => ProcEvent::Exec { pid },
                PROC_EVENT_COMM => ProcEvent::Comm { pid },
                _ => ProcEvent::Exit { pid },
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_messages_are_parsed() {
        let mut message = vec![0u8; 36 + 16 + 16];
        message[16..20].copy_from_slice(&CN_IDX_PROC.to_ne_bytes());
        message[20..24].copy_from_slice(&CN_VAL_PROC.to_ne_bytes());
        message[36..40].copy_from_slice(&PROC_EVENT_FORK.to_ne_bytes());
        for (offset, value) in [(52, 5u32), (56, 5), (60, 7), (64, 7)] {
            message[offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
        }
        assert_eq!(
            parse_event(&message),
            Some(ProcEvent::Fork {
                parent: 5,
                child: 7
            })
        );
        // A new thread (child pid != tgid) is not a process.
        message[60..64].copy_from_slice(&8u32.to_ne_bytes());
        assert_eq!(parse_event(&message), None);
        message[36..40].copy_from_slice(&PROC_EVENT_EXIT.to_ne_bytes());
        assert_eq!(parse_event(&message), Some(ProcEvent::Exit { pid: 5 }));
    }
}
