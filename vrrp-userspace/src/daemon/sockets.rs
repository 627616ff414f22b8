//! The send path: whole Ethernet frames (multicast adverts, gratuitous ARPs, unsolicited NAs)
//! through one AF_PACKET socket, unicast adverts through raw IP sockets so the kernel routes
//! them and resolves the peer's MAC. None of these sockets receives anything: adverts arrive
//! through the XDP program, and every socket that could see protocol 112 drops it in the
//! kernel with a socket filter. One such socket must exist per family, or the kernel answers
//! unicast adverts with ICMP "protocol unreachable"; it also holds the multicast memberships
//! that make NICs with multicast filtering deliver the VRRP group to XDP at all.

use std::collections::BTreeSet;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd as _, OwnedFd};

use vrrp_common::proto::IPPROTO_VRRP;

/// `IPV6_HDRINCL` (include/uapi/linux/in6.h), not in the libc crate.
const IPV6_HDRINCL: libc::c_int = 36;

fn socket(domain: libc::c_int, kind: libc::c_int, protocol: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) returns a new descriptor or -1.
    let raw = unsafe { libc::socket(domain, kind | libc::SOCK_CLOEXEC, protocol) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is ours from here on.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points at a live T of the size we pass.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A classic BPF program of one instruction, "return 0": the socket receives nothing.
fn attach_drop_all_filter(fd: &OwnedFd) -> io::Result<()> {
    let mut drop_all = [libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: 0,
    }];
    let program = libc::sock_fprog {
        len: 1,
        filter: drop_all.as_mut_ptr(),
    };
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &program)
}

/// Where a whole frame goes: out of `ifindex`, to the frame's own destination MAC.
fn link_address(ifindex: u32, frame: &[u8]) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain data; all zeros is valid.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_ifindex = ifindex as i32;
    addr.sll_halen = 6;
    if frame.len() >= 6 {
        addr.sll_addr[..6].copy_from_slice(&frame[..6]);
    }
    addr
}

/// A send buffer that holds a thousand adverts sent at once (root may exceed wmem_max).
const FRAME_SEND_BUFFER: libc::c_int = 4 << 20;

/// Sends whole frames on any interface: AF_PACKET with protocol 0 never receives.
pub struct FrameSender {
    fd: OwnedFd,
}

impl FrameSender {
    pub fn new() -> io::Result<Self> {
        let fd = socket(libc::AF_PACKET, libc::SOCK_RAW, 0)?;
        // Best effort: the default buffer is enough for one instance's frames.
        let _ = setsockopt(
            &fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUFFORCE,
            &FRAME_SEND_BUFFER,
        );
        Ok(Self { fd })
    }

    /// Sends `frame` (Ethernet header included) out of `ifindex`.
    pub fn send(&self, ifindex: u32, frame: &[u8]) -> io::Result<()> {
        let addr = link_address(ifindex, frame);
        // SAFETY: a valid descriptor, buffer and sockaddr_ll.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                libc::MSG_DONTWAIT,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// `sendmmsg` takes at most this many messages per call (UIO_MAXIOV).
const MAX_BATCH: usize = 1024;

/// Adverts due at the same moment, sent with one `sendmmsg` per 1,024 frames. The frames are
/// the engine's, built once per priority (`Bytes` clones share them); every buffer here is
/// reused, so a steady stream of adverts allocates nothing.
#[derive(Default)]
pub struct AdvertBatch {
    /// (interface index, frame, tag) in the order they were pushed; the tag comes back with a
    /// send error (the instance, for the log line).
    frames: Vec<(u32, bytes::Bytes, usize)>,
    addrs: Vec<libc::sockaddr_ll>,
    iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
}

impl AdvertBatch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, ifindex: u32, frame: &bytes::Bytes, tag: usize) {
        self.frames.push((ifindex, frame.clone(), tag));
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Sends every frame pushed since the last flush; a frame the kernel refuses is reported
    /// with its tag and the rest still go. Returns how many were sent.
    pub fn flush(
        &mut self,
        sender: &FrameSender,
        mut failed: impl FnMut(usize, io::Error),
    ) -> usize {
        let mut sent = 0;
        let mut start = 0;
        while start < self.frames.len() {
            let end = (start + MAX_BATCH).min(self.frames.len());
            let chunk = &self.frames[start..end];
            self.addrs.clear();
            self.addrs.extend(
                chunk
                    .iter()
                    .map(|(ifindex, frame, _)| link_address(*ifindex, frame)),
            );
            self.iovecs.clear();
            self.iovecs
                .extend(chunk.iter().map(|(_, frame, _)| libc::iovec {
                    iov_base: frame.as_ptr().cast_mut().cast(),
                    iov_len: frame.len(),
                }));
            self.headers.clear();
            for i in 0..chunk.len() {
                // SAFETY: msghdr is plain data; all zeros is valid.
                let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
                header.msg_name = (&raw mut self.addrs[i]).cast();
                header.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
                header.msg_iov = &raw mut self.iovecs[i];
                header.msg_iovlen = 1;
                self.headers.push(libc::mmsghdr {
                    msg_hdr: header,
                    msg_len: 0,
                });
            }
            let mut offset = 0;
            while offset < chunk.len() {
                // SAFETY: the headers point at addresses, iovecs and frames that live until
                // this call returns.
                let n = unsafe {
                    libc::sendmmsg(
                        sender.fd.as_raw_fd(),
                        self.headers[offset..].as_mut_ptr(),
                        (chunk.len() - offset) as libc::c_uint,
                        libc::MSG_DONTWAIT,
                    )
                };
                if n <= 0 {
                    // The first message failed: report it and go on with the next.
                    let error = if n < 0 {
                        io::Error::last_os_error()
                    } else {
                        io::Error::from(io::ErrorKind::WriteZero)
                    };
                    failed(chunk[offset].2, error);
                    offset += 1;
                } else {
                    sent += n as usize;
                    offset += n as usize;
                }
            }
            start = end;
        }
        self.frames.clear();
        sent
    }
}

/// A raw protocol-112 socket of one family on one interface: sends unicast adverts (IP header
/// included) and holds the interface's multicast memberships; receives nothing.
pub struct LinkSocket {
    fd: OwnedFd,
    ipv6: bool,
    ifindex: u32,
    groups: BTreeSet<IpAddr>,
}

impl LinkSocket {
    pub fn new(ifindex: u32, ipv6: bool, ifname: &str) -> io::Result<Self> {
        let domain = if ipv6 { libc::AF_INET6 } else { libc::AF_INET };
        let fd = socket(domain, libc::SOCK_RAW, IPPROTO_VRRP as libc::c_int)?;
        attach_drop_all_filter(&fd)?;
        let on: libc::c_int = 1;
        if ipv6 {
            setsockopt(&fd, libc::IPPROTO_IPV6, IPV6_HDRINCL, &on)?;
        } else {
            setsockopt(&fd, libc::IPPROTO_IP, libc::IP_HDRINCL, &on)?;
        }
        // Unicast adverts leave through the instance's interface, as keepalived binds its
        // sockets to it.
        let name = std::ffi::CString::new(ifname).map_err(io::Error::other)?;
        // SAFETY: SO_BINDTODEVICE takes the interface name and its length.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_BINDTODEVICE,
                name.as_ptr().cast(),
                name.as_bytes().len() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            fd,
            ipv6,
            ifindex,
            groups: BTreeSet::new(),
        })
    }

    /// The interface the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Joins `group` on the socket's interface (idempotent).
    pub fn join(&mut self, group: IpAddr) -> io::Result<()> {
        if self.groups.contains(&group) {
            return Ok(());
        }
        match group {
            IpAddr::V4(group) if !self.ipv6 => {
                let request = libc::ip_mreqn {
                    imr_multiaddr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(group.octets()),
                    },
                    imr_address: libc::in_addr { s_addr: 0 },
                    imr_ifindex: self.ifindex as i32,
                };
                setsockopt(
                    &self.fd,
                    libc::IPPROTO_IP,
                    libc::IP_ADD_MEMBERSHIP,
                    &request,
                )?;
            }
            IpAddr::V6(group) if self.ipv6 => {
                let request = libc::ipv6_mreq {
                    ipv6mr_multiaddr: libc::in6_addr {
                        s6_addr: group.octets(),
                    },
                    ipv6mr_interface: self.ifindex,
                };
                setsockopt(
                    &self.fd,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_ADD_MEMBERSHIP,
                    &request,
                )?;
            }
            _ => return Err(io::Error::other("group of the other address family")),
        }
        self.groups.insert(group);
        Ok(())
    }

    /// Sends an IP packet (header included) to `peer`; the kernel picks the next hop.
    pub fn send(&self, peer: IpAddr, packet: &[u8]) -> io::Result<()> {
        let sent = match peer {
            IpAddr::V4(peer) => {
                let addr = libc::sockaddr_in {
                    sin_family: libc::AF_INET as u16,
                    sin_port: 0,
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(peer.octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: a valid descriptor, buffer and sockaddr_in.
                unsafe {
                    libc::sendto(
                        self.fd.as_raw_fd(),
                        packet.as_ptr().cast(),
                        packet.len(),
                        libc::MSG_DONTWAIT,
                        (&addr as *const libc::sockaddr_in).cast(),
                        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    )
                }
            }
            IpAddr::V6(peer) => {
                let addr = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as u16,
                    sin6_port: 0,
                    sin6_flowinfo: 0,
                    sin6_addr: libc::in6_addr {
                        s6_addr: peer.octets(),
                    },
                    sin6_scope_id: self.ifindex,
                };
                // SAFETY: a valid descriptor, buffer and sockaddr_in6.
                unsafe {
                    libc::sendto(
                        self.fd.as_raw_fd(),
                        packet.as_ptr().cast(),
                        packet.len(),
                        libc::MSG_DONTWAIT,
                        (&addr as *const libc::sockaddr_in6).cast(),
                        std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    )
                }
            }
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Other processes' raw sockets for protocol 112 (keepalived, another VRRP daemon), from
/// /proc/net/raw and /proc/net/raw6: `(family, socket inode)`. Ours are left out.
pub fn foreign_vrrp_sockets() -> Vec<(&'static str, u64)> {
    let ours: BTreeSet<u64> = std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect();
    let mut found = Vec::new();
    for (family, path) in [("ipv4", "/proc/net/raw"), ("ipv6", "/proc/net/raw6")] {
        let table = std::fs::read_to_string(path).unwrap_or_default();
        for line in table.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // "local_address" is ADDR:PROTOCOL in hex for raw sockets; the inode is field 9.
            let protocol = fields
                .get(1)
                .and_then(|local| local.rsplit(':').next())
                .and_then(|p| u32::from_str_radix(p, 16).ok());
            let inode = fields.get(9).and_then(|i| i.parse::<u64>().ok());
            if let (Some(112), Some(inode)) = (protocol, inode)
                && !ours.contains(&inode)
            {
                found.push((family, inode));
            }
        }
    }
    found
}
