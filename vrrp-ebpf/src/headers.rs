//! Wire headers as byte-aligned structs, each bounds-checked once as a whole before any field is
//! read: the verifier rejects single-byte reads at a variable offset that were not covered by a
//! check of the whole header (IPv4 IHL and VLAN tags make every offset after Ethernet variable).

use aya_ebpf::programs::XdpContext;

#[repr(C)]
pub struct EthHeader {
    pub dst: [u8; 6],
    pub src: [u8; 6],
    pub ethertype: [u8; 2],
}

#[repr(C)]
pub struct Ipv4Header {
    pub version_ihl: u8,
    pub tos: u8,
    pub total_len: [u8; 2],
    pub id: [u8; 2],
    pub flags_fragment_offset: [u8; 2],
    pub ttl: u8,
    pub protocol: u8,
    pub checksum: [u8; 2],
    pub src: [u8; 4],
    pub dst: [u8; 4],
}

#[repr(C)]
pub struct Ipv6Header {
    pub version_class_flow: [u8; 4],
    pub payload_len: [u8; 2],
    pub next_header: u8,
    pub hop_limit: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
}

/// The fixed eight bytes of a VRRP header; bytes 4 and 5 are auth type and interval (seconds) in
/// v2 (RFC 3768 section 5.1), reserved bits and a 12-bit centisecond interval in v3 (RFC 5798
/// section 5.1).
#[repr(C)]
pub struct VrrpHeader {
    pub version_type: u8,
    pub vrid: u8,
    pub priority: u8,
    pub addr_count: u8,
    pub word1_hi: u8,
    pub word1_lo: u8,
    pub checksum: [u8; 2],
}

/// Returns a pointer to a `T` at `offset` from the start of the frame, or `None` when the frame
/// is too short to hold all of it.
#[inline(always)]
pub fn header_at<T>(ctx: &XdpContext, offset: usize) -> Option<*const T> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + offset + core::mem::size_of::<T>() > end {
        return None;
    }
    Some((start + offset) as *const T)
}

#[inline(always)]
pub fn be16(bytes: [u8; 2]) -> u16 {
    u16::from_be_bytes(bytes)
}

/// The first two bytes shared by hop-by-hop, routing, destination options and AH headers.
#[repr(C)]
pub struct Ipv6ExtHeader {
    pub next_header: u8,
    /// Length in 8-byte units not counting the first 8 (in 4-byte units minus 2 for AH).
    pub len: u8,
}

/// RFC 8200 section 4.5.
#[repr(C)]
pub struct Ipv6FragmentHeader {
    pub next_header: u8,
    pub reserved: u8,
    pub offset_flags: [u8; 2],
    pub id: [u8; 4],
}
