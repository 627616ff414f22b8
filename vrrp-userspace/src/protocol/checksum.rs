//! The Internet checksum (RFC 1071).

/// Which checksum a v3 IPv4 advert carries (RFC 5798 section 5.2.8, keepalived's
/// `v3_checksum_as_v2`). IPv6 always includes the pseudo-header; v2 never does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecksumMode {
    #[default]
    Rfc,
    AsV2,
}

/// Sum of big-endian 16-bit words, an odd last byte padded with zero.
pub fn sum_words(bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    let mut sum: u32 = chunks
        .by_ref()
        .map(|w| u16::from_be_bytes([w[0], w[1]]) as u32)
        .sum();
    if let [last] = chunks.remainder() {
        sum += (*last as u32) << 8;
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The checksum to put in a message whose checksum field is zero.
pub fn compute(message: &[u8], seed: u32) -> u16 {
    !fold(sum_words(message) + seed)
}

/// True when a message with its checksum field in place sums to all ones.
pub fn verify(message: &[u8], seed: u32) -> bool {
    fold(sum_words(message) + seed) == 0xffff
}
