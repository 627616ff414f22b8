//! keepalived's address-list check (`vrrp.c: vrrp_check_packet` with `vrrp_in_chk_vips`):
//! every configured virtual address must be among the advertised ones. The count was compared
//! before; here each advertised address is looked up in `vrrp_vips` and the index of the
//! distinct address it matches is marked. All `distinct` marked means every configured address
//! is present, duplicates in the configuration or the advert included.

use core::ffi::c_void;

use aya_ebpf::{bindings::xdp_md, helpers::bpf_loop, programs::XdpContext};
use vrrp_common::{FAMILY_IPV4, InstanceKey, VipKey, proto::VRRP_HEADER_LEN};

use crate::{VIP_WORK, VIPS, checksum::load, ip::IpInfo};

/// The scan's working state, in a per-CPU slot: the program's stack is too small for it.
#[repr(C)]
pub struct VipWork {
    key: VipKey,
    /// One bit per distinct configured address (at most 255).
    marked: [u64; 4],
    matched: u64,
    distinct: u64,
}

/// What the loop callback needs from the caller's stack.
#[repr(C)]
struct VipScan {
    ctx: *mut xdp_md,
    /// Offset of the first address in the frame.
    offset: u64,
    addr_len: u64,
}

/// Looks up the `index`-th advertised address; 1 stops the loop.
extern "C" fn mark_address(index: u64, scan: *mut c_void) -> i64 {
    let scan = unsafe { &*scan.cast::<VipScan>() };
    let Some(work) = VIP_WORK.get_ptr_mut(0) else {
        return 1;
    };
    let work = unsafe { &mut *work };
    let at = (scan.offset + index * scan.addr_len) as usize;
    if scan.addr_len == 4 {
        let Some(addr) = load::<4>(scan.ctx, at) else {
            return 1;
        };
        work.key.addr[..4].copy_from_slice(&addr);
    } else {
        let Some(addr) = load::<16>(scan.ctx, at) else {
            return 1;
        };
        work.key.addr = addr;
    }
    if let Some(entry) = VIPS.get_ptr(&work.key) {
        let entry = unsafe { *entry };
        let bit = 1u64 << (entry.index & 63);
        let word = &mut work.marked[(entry.index >> 6) as usize & 3];
        if *word & bit == 0 {
            *word |= bit;
            work.matched += 1;
        }
        work.distinct = entry.distinct as u64;
    }
    0
}

/// Whether the `count` advertised addresses cover every configured one of `key`. Not inlined,
/// so that its locals live in a frame of their own.
#[inline(never)]
pub fn all_present(ctx: &XdpContext, ip: &IpInfo, count: u8, key: &InstanceKey) -> bool {
    if count == 0 {
        // The count already matched the configured one: nothing configured, nothing to find.
        return true;
    }
    let Some(work) = VIP_WORK.get_ptr_mut(0) else {
        return false;
    };
    let work = unsafe { &mut *work };
    work.key.instance = *key;
    work.key.addr = [0; 16];
    work.marked = [0; 4];
    work.matched = 0;
    work.distinct = 0;
    let mut scan = VipScan {
        ctx: ctx.ctx,
        offset: (ip.vrrp_offset + VRRP_HEADER_LEN) as u64,
        addr_len: if ip.family == FAMILY_IPV4 { 4 } else { 16 },
    };
    let callback = mark_address as *mut c_void;
    unsafe {
        bpf_loop(
            count as u32,
            callback,
            (&mut scan as *mut VipScan).cast(),
            0,
        )
    };
    work.distinct != 0 && work.matched == work.distinct
}
