//! The Internet checksum (RFC 1071) over a VRRP message in the packet, plus the pseudo-header
//! VRRPv3 adds (RFC 5798 section 5.2.8).
//!
//! The packet bytes are summed four at a time by a `bpf_loop` callback. The verifier checks the
//! callback body once instead of walking a loop over a variable length iteration by iteration
//! (and every exit of it separately), which ran past its one-million-instruction limit. The
//! sum reads 16-bit words in host byte order and so does the pseudo-header sum; a
//! ones-complement sum is valid when it folds to all ones in either byte order.

use core::ffi::c_void;

use aya_ebpf::{bindings::xdp_md, helpers::bpf_loop, programs::XdpContext};
use vrrp_common::proto::{IPPROTO_VRRP, VRRP_MAX_LEN};

use crate::headers::header_at;

/// What the loop callback reads and accumulates, on the caller's stack.
#[repr(C)]
struct SumState {
    ctx: *mut xdp_md,
    offset: u64,
    len: u64,
    sum: u64,
    truncated: u64,
}

/// Adds the `index`-th 32-bit word of the message; 1 stops the loop.
extern "C" fn add_word(index: u64, state: *mut c_void) -> i64 {
    let state = unsafe { &mut *state.cast::<SumState>() };
    let at = index * 4;
    if at >= state.len || state.len > VRRP_MAX_LEN as u64 || state.offset > 0xffff {
        return 1;
    }
    let ctx = XdpContext::new(state.ctx);
    match header_at::<[u8; 4]>(&ctx, (state.offset + at) as usize) {
        Some(word) => {
            let [a, b, c, d] = unsafe { *word };
            state.sum += u16::from_ne_bytes([a, b]) as u64 + u16::from_ne_bytes([c, d]) as u64;
            0
        }
        None => {
            state.truncated = 1;
            1
        }
    }
}

/// Ones-complement sum of the `len` bytes at `offset`, starting from `seed`, folded to 32 bits.
/// `len` must be a multiple of four (every VRRP message is; the caller rejects others).
/// `None` when the frame holds fewer than `len` bytes there (a truncated packet).
#[inline(always)]
pub fn sum_packet(ctx: &XdpContext, offset: usize, len: usize, seed: u32) -> Option<u32> {
    let mut state = SumState {
        ctx: ctx.ctx,
        offset: offset as u64,
        len: len as u64,
        sum: seed as u64,
        truncated: 0,
    };
    let words = (len / 4) as u32;
    let callback = add_word as *mut c_void;
    unsafe { bpf_loop(words, callback, (&mut state as *mut SumState).cast(), 0) };
    if state.truncated != 0 {
        return None;
    }
    let folded = (state.sum & 0xffff_ffff) + (state.sum >> 32);
    Some(((folded & 0xffff_ffff) + (folded >> 32)) as u32)
}

/// Folds a 32-bit sum and says whether it checks out (all ones).
#[inline(always)]
pub fn is_valid(sum: u32) -> bool {
    let folded = (sum & 0xffff) + (sum >> 16);
    let folded = (folded & 0xffff) + (folded >> 16);
    folded == 0xffff
}

/// Sum of 16-bit words in host byte order, like the kernel's.
#[inline(always)]
fn sum_words<const N: usize>(bytes: &[u8; N]) -> u32 {
    let mut sum = 0u32;
    let mut i = 0;
    while i + 1 < N {
        sum += u16::from_ne_bytes([bytes[i], bytes[i + 1]]) as u32;
        i += 2;
    }
    sum
}

/// The protocol and length words shared by both pseudo-headers. IPv6 has them as 32-bit
/// fields (RFC 8200 section 8.1) whose upper halves are zero for a VRRP message.
#[inline(always)]
fn protocol_and_length(vrrp_len: usize) -> u32 {
    sum_words(&[0, IPPROTO_VRRP]) + sum_words(&(vrrp_len as u16).to_be_bytes())
}

/// IPv4 pseudo-header: source, destination, zero, protocol, VRRP length.
#[inline(always)]
pub fn pseudo_header_v4(src: &[u8; 4], dst: &[u8; 4], vrrp_len: usize) -> u32 {
    sum_words(src) + sum_words(dst) + protocol_and_length(vrrp_len)
}

/// IPv6 pseudo-header: source, destination, upper-layer length, next header.
#[inline(always)]
pub fn pseudo_header_v6(src: &[u8; 16], dst: &[u8; 16], vrrp_len: usize) -> u32 {
    sum_words(src) + sum_words(dst) + protocol_and_length(vrrp_len)
}
