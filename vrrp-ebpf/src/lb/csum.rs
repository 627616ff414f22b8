//! Internet checksums (RFC 1071) updated incrementally (RFC 1624, eqn. 3:
//! `HC' = ~(~HC + ~m + m')`) when NAT rewrites an address or a port, and computed whole for
//! the outer IPv4 header of a tunnel. Words are big-endian, as on the wire.

/// Sum of the 16-bit big-endian words of `bytes` (an even length).
#[inline(always)]
fn sum_words<const N: usize>(bytes: &[u8; N]) -> u32 {
    let mut sum = 0u32;
    let mut i = 0;
    while i + 1 < N {
        sum += u16::from_be_bytes([bytes[i], bytes[i + 1]]) as u32;
        i += 2;
    }
    sum
}

#[inline(always)]
fn fold(mut sum: u32) -> u16 {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

/// The sum a checksum changes by when `old` becomes `new` (both `N` bytes, N even): add it
/// with [`apply`]. `~m` of every old word is `0xffff - m`.
#[inline(always)]
pub fn delta<const N: usize>(old: &[u8; N], new: &[u8; N]) -> u32 {
    (N as u32 / 2) * 0xffff - sum_words(old) + sum_words(new)
}

/// A 16-bit value replaced by another (a port).
#[inline(always)]
pub fn delta16(old: u16, new: u16) -> u32 {
    0xffff - old as u32 + new as u32
}

/// Applies a [`delta`] to a checksum field.
#[inline(always)]
pub fn apply(field: &mut [u8; 2], delta: u32) {
    let old = u16::from_be_bytes(*field);
    let sum = (!old) as u32 + fold(delta) as u32;
    *field = (!fold(sum)).to_be_bytes();
}

/// The same for a UDP checksum: 0 means "none" over IPv4 and stays 0; a result of 0 is sent
/// as 0xffff (RFC 768).
#[inline(always)]
pub fn apply_udp(field: &mut [u8; 2], delta: u32, ipv4: bool) {
    if ipv4 && *field == [0, 0] {
        return;
    }
    apply(field, delta);
    if *field == [0, 0] {
        *field = [0xff, 0xff];
    }
}

/// The checksum of a whole 20-byte IPv4 header whose checksum field is zero.
#[inline(always)]
pub fn ipv4_header(header: &[u8; 20]) -> [u8; 2] {
    (!fold(sum_words(header))).to_be_bytes()
}
