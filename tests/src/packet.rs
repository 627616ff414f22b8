//! Entering a namespace from a thread, and an AF_PACKET socket there that sends crafted
//! frames as they are (the tests' advert sender).

use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};

use anyhow::{Context as _, bail};

use crate::Netns;

impl Netns {
    /// Runs `f` on a new thread whose network namespace is this one (mounts stay the host's,
    /// as with [`Netns::enter`]). Sockets and BPF links made there belong to the namespace.
    pub fn run_in<T: Send>(&self, f: impl FnOnce() -> T + Send) -> anyhow::Result<T> {
        let path = format!("/run/netns/{}", self.name());
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let file = std::fs::File::open(&path).with_context(|| path.clone())?;
                    // SAFETY: setns on a namespace file we opened; only this thread moves.
                    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                        bail!("setns {path}: {}", std::io::Error::last_os_error());
                    }
                    Ok(f())
                })
                .join()
                .map_err(|_| anyhow::anyhow!("thread in {} panicked", self.name()))?
        })
    }

    /// The namespace's identity: the inode xvrrpd names its default pin directory after.
    pub fn inode(&self) -> anyhow::Result<u64> {
        use std::os::unix::fs::MetadataExt as _;
        Ok(std::fs::metadata(format!("/run/netns/{}", self.name()))?.ino())
    }
}

/// A raw socket bound to one interface of a namespace: frames go out exactly as given.
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

impl PacketSocket {
    pub fn open(netns: &Netns, iface: &str) -> anyhow::Result<Self> {
        let iface = std::ffi::CString::new(iface)?;
        netns.run_in(move || {
            // SAFETY: plain socket(2); the descriptor is owned right after.
            let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
            if fd < 0 {
                bail!("AF_PACKET socket: {}", std::io::Error::last_os_error());
            }
            // SAFETY: socket() returned a new descriptor we own.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            // SAFETY: if_nametoindex reads a NUL-terminated string.
            let ifindex = unsafe { libc::if_nametoindex(iface.as_ptr()) } as i32;
            if ifindex == 0 {
                bail!("no interface {iface:?}");
            }
            Ok(Self { fd, ifindex })
        })?
    }

    pub fn send(&self, frame: &[u8]) -> anyhow::Result<()> {
        // SAFETY: sockaddr_ll is plain data; zeroes are valid.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = self.ifindex;
        addr.sll_halen = 6;
        addr.sll_addr[..6].copy_from_slice(&frame[..6]);
        // SAFETY: the frame and the address outlive the call.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if sent < 0 {
            bail!("sendto: {}", std::io::Error::last_os_error());
        }
        Ok(())
    }
}
