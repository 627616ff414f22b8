//! The Internet checksum (RFC 1071) over a VRRP message or an IPv4 header in the packet, plus
//! the pseudo-header VRRPv3 adds (RFC 5798 section 5.2.8).
//!
//! The bytes are copied 16 at a time by `bpf_xdp_load_bytes` inside a `bpf_loop` callback. The
//! verifier checks the callback once instead of walking a loop over a variable length
//! iteration by iteration (which ran past its one-million-instruction limit), and the helper
//! does the bounds check, which the verifier cannot follow for offsets derived this way. The
//! sum reads 16-bit words in host byte order and so does the pseudo-header sum; a
//! ones-complement sum is valid when it folds to all ones in either byte order.

use core::ffi::c_void;

use aya_ebpf::{
    bindings::xdp_md,
    helpers::{bpf_loop, generated::bpf_xdp_load_bytes},
    programs::XdpContext,
};
use vrrp_common::proto::{IPPROTO_VRRP, VRRP_MAX_LEN};

const CHUNK: usize = 16;

/// What the loop callback reads and accumulates, on the caller's stack.
#[repr(C)]
struct SumState {
    ctx: *mut xdp_md,
    offset: u64,
    sum: u64,
    truncated: u64,
}

/// Copies `N` bytes at `offset` out of the packet; `None` past its end.
#[inline(always)]
pub fn load<const N: usize>(ctx: *mut xdp_md, offset: usize) -> Option<[u8; N]> {
    let mut bytes = [0u8; N];
    let copied =
        unsafe { bpf_xdp_load_bytes(ctx, offset as u32, bytes.as_mut_ptr().cast(), N as u32) };
    (copied == 0).then_some(bytes)
}

/// Sum of 16-bit words in host byte order, like the kernel's.
#[inline(always)]
pub fn sum_words<const N: usize>(bytes: &[u8; N]) -> u32 {
    let mut sum = 0u32;
    let mut i = 0;
    while i + 1 < N {
        sum += u16::from_ne_bytes([bytes[i], bytes[i + 1]]) as u32;
        i += 2;
    }
    sum
}

/// Adds the `index`-th 16-byte chunk of the message; 1 stops the loop.
extern "C" fn add_chunk(index: u64, state: *mut c_void) -> i64 {
    let state = unsafe { &mut *state.cast::<SumState>() };
    match load::<CHUNK>(state.ctx, (state.offset + index * CHUNK as u64) as usize) {
        Some(chunk) => {
            state.sum += sum_words(&chunk) as u64;
            0
        }
        None => {
            state.truncated = 1;
            1
        }
    }
}

/// Ones-complement sum of the `len` bytes at `offset`, starting from `seed`, folded to 32 bits.
/// Any length works (the IPv6 checksum is checked before the length, as the kernel's
/// `IPV6_CHECKSUM` check is, so the length may be anything). `None` when the frame holds
/// fewer than `len` bytes there (a truncated packet) or `len` is beyond any VRRP message.
// Not inlined: its buffers then live in its own stack frame, not in the program's (512 bytes
// for everything that is live at once).
#[inline(never)]
pub fn sum_packet(ctx: &XdpContext, offset: usize, len: usize, seed: u32) -> Option<u32> {
    if len > VRRP_MAX_LEN || offset + len < CHUNK {
        return None;
    }
    let mut state = SumState {
        ctx: ctx.ctx,
        offset: offset as u64,
        sum: seed as u64,
        truncated: 0,
    };
    let chunks = (len / CHUNK) as u32;
    let callback = add_chunk as *mut c_void;
    unsafe { bpf_loop(chunks, callback, (&mut state as *mut SumState).cast(), 0) };
    if state.truncated != 0 {
        return None;
    }
    // The last 1 to 15 bytes: the 16-byte window ending with the message (the headers before
    // it make that window exist), of which only those bytes count. A byte at an even position
    // of the message is the high byte of its 16-bit word, an odd last byte zero-padded.
    let rest = len % CHUNK;
    if rest != 0 {
        let window = load::<CHUNK>(ctx.ctx, offset + len - CHUNK)?;
        for (j, byte) in window.into_iter().enumerate() {
            if j + rest < CHUNK {
                continue;
            }
            let high = (j + rest - CHUNK) % 2 == 0;
            let word = if high { [byte, 0] } else { [0, byte] };
            state.sum += u16::from_ne_bytes(word) as u64;
        }
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

/// The pseudo-header (RFC 5798 section 5.2.8) without its destination: source, protocol and
/// VRRP length. IPv4 and IPv6 sum the same way for a VRRP message: IPv6 has protocol and length
/// as 32-bit fields (RFC 8200 section 8.1) whose upper halves are zero.
#[inline(always)]
pub fn pseudo_header_base<const N: usize>(src: &[u8; N], vrrp_len: usize) -> u32 {
    sum_words(src) + sum_words(&[0, IPPROTO_VRRP]) + sum_words(&(vrrp_len as u16).to_be_bytes())
}
