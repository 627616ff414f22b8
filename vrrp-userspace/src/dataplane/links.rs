//! XDP attachments as bpf links pinned per interface index, managed with raw bpf(2) calls:
//! aya 0.14 neither reports a link's interface nor updates a link without unpinning it first.
//!
//! A pinned link keeps the program attached while no xvrrpd runs. Adopting one checks that it
//! is an XDP link on this interface running a program named like ours, then swaps our program
//! in with `BPF_LINK_UPDATE`; the pin is never touched before the update succeeded, so a failed
//! update leaves the old program attached.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd as _, BorrowedFd, FromRawFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

const BPF_OBJ_PIN: libc::c_long = 6;
const BPF_OBJ_GET: libc::c_long = 7;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_LINK_UPDATE: libc::c_long = 29;
const BPF_LINK_DETACH: libc::c_long = 34;
/// `enum bpf_attach_type`: BPF_XDP.
const BPF_XDP: u32 = 37;
/// `enum bpf_link_type`: BPF_LINK_TYPE_XDP.
const BPF_LINK_TYPE_XDP: u32 = 6;
const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// Where the program runs on an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpFlavour {
    /// In the driver (XDP_FLAGS_DRV_MODE).
    Native,
    /// In the generic network stack (XDP_FLAGS_SKB_MODE).
    Generic,
}

impl XdpFlavour {
    fn flags(self) -> u32 {
        match self {
            Self::Native => XDP_FLAGS_DRV_MODE,
            Self::Generic => XDP_FLAGS_SKB_MODE,
        }
    }
}

/// Calls bpf(2) with `attr`, returning its non-negative result.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: attr is a correctly laid out prefix of `union bpf_attr` for `cmd`, and every
    // pointer inside it refers to memory that outlives the call.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>()) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(rc)
}

fn fd_result(rc: libc::c_long) -> OwnedFd {
    // SAFETY: the kernel just returned this new descriptor to us.
    unsafe { OwnedFd::from_raw_fd(rc as i32) }
}

#[repr(C)]
struct ObjAttr {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
}

fn path_attr(path: &Path, fd: u32, keep: &mut Option<CString>) -> std::io::Result<ObjAttr> {
    let path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let attr = ObjAttr {
        pathname: path.as_ptr() as u64,
        bpf_fd: fd,
        file_flags: 0,
    };
    *keep = Some(path);
    Ok(attr)
}

/// Opens the object pinned at `path`.
pub fn obj_get(path: &Path) -> std::io::Result<OwnedFd> {
    let mut keep = None;
    let mut attr = path_attr(path, 0, &mut keep)?;
    bpf(BPF_OBJ_GET, &mut attr).map(fd_result)
}

/// Pins `fd` at `path`.
pub fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> std::io::Result<()> {
    let mut keep = None;
    let mut attr = path_attr(path, fd.as_raw_fd() as u32, &mut keep)?;
    bpf(BPF_OBJ_PIN, &mut attr).map(drop)
}

#[repr(C)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// Fills `info` (a prefix of the kernel's info struct for the object) from `fd`.
fn obj_info<const N: usize>(fd: BorrowedFd<'_>) -> std::io::Result<[u8; N]> {
    let mut info = [0u8; N];
    let mut attr = InfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: N as u32,
        info: info.as_mut_ptr() as u64,
    };
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    Ok(info)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(bytes[at..at + 4].try_into().expect("four bytes"))
}

/// What `struct bpf_link_info` says about an XDP link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub xdp: bool,
    pub program_id: u32,
    /// 0 once the interface is gone (the link is defunct).
    pub ifindex: u32,
}

pub fn link_info(fd: BorrowedFd<'_>) -> std::io::Result<LinkInfo> {
    // type u32, id u32, prog_id u32, then a union aligned to 8 whose xdp member is the ifindex.
    let info = obj_info::<64>(fd)?;
    Ok(LinkInfo {
        xdp: u32_at(&info, 0) == BPF_LINK_TYPE_XDP,
        program_id: u32_at(&info, 8),
        ifindex: u32_at(&info, 16),
    })
}

/// The name of the program with `id` (as `struct bpf_prog_info` has it, at most 15 bytes).
pub fn program_name(id: u32) -> std::io::Result<String> {
    #[repr(C)]
    struct GetById {
        id: u32,
        next_id: u32,
        open_flags: u32,
    }
    let mut attr = GetById {
        id,
        next_id: 0,
        open_flags: 0,
    };
    let fd = bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).map(fd_result)?;
    let info = obj_info::<80>(fd.as_fd())?;
    let name = &info[64..80];
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Ok(String::from_utf8_lossy(&name[..end]).into_owned())
}

/// Attaches `program` to `ifindex` through a new bpf link.
pub fn link_create(
    program: BorrowedFd<'_>,
    ifindex: u32,
    flavour: XdpFlavour,
) -> std::io::Result<OwnedFd> {
    #[repr(C)]
    struct LinkCreate {
        prog_fd: u32,
        target_ifindex: u32,
        attach_type: u32,
        flags: u32,
        _rest: [u64; 4],
    }
    let mut attr = LinkCreate {
        prog_fd: program.as_raw_fd() as u32,
        target_ifindex: ifindex,
        attach_type: BPF_XDP,
        flags: flavour.flags(),
        _rest: [0; 4],
    };
    bpf(BPF_LINK_CREATE, &mut attr).map(fd_result)
}

/// Makes `link` run `program` instead of what it runs now, atomically.
pub fn link_update(link: BorrowedFd<'_>, program: BorrowedFd<'_>) -> std::io::Result<()> {
    #[repr(C)]
    struct LinkUpdate {
        link_fd: u32,
        new_prog_fd: u32,
        flags: u32,
        old_prog_fd: u32,
    }
    let mut attr = LinkUpdate {
        link_fd: link.as_raw_fd() as u32,
        new_prog_fd: program.as_raw_fd() as u32,
        flags: 0,
        old_prog_fd: 0,
    };
    bpf(BPF_LINK_UPDATE, &mut attr).map(drop)
}

/// Detaches `link` now, whoever else holds it.
pub fn link_detach(link: BorrowedFd<'_>) -> std::io::Result<()> {
    #[repr(C)]
    struct LinkDetach {
        link_fd: u32,
    }
    let mut attr = LinkDetach {
        link_fd: link.as_raw_fd() as u32,
    };
    bpf(BPF_LINK_DETACH, &mut attr).map(drop)
}
