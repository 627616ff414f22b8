//! The VRRP wire protocol: typed values, the message codec and whole-frame decode/build.
//! Pure functions over bytes; no IO.

mod advert;
pub mod announce;
pub mod checksum;
mod frame;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use advert::{Advert, Auth, IpContext, pseudo_header_sum};
pub use checksum::ChecksumMode;
pub use frame::{Frame, FrameSpec, MixedFamilies, ReceivedAdvert, build_frame, decode_frame};
use serde::{Deserialize, Serialize};
use vrrp_common::{FAMILY_IPV4, FAMILY_IPV6};

/// Virtual router identifier, 1..=255 on the wire (0 is reserved but decoded as received).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Vrid(pub u8);

/// Router priority: 255 owns the addresses, 0 means "master leaving" (RFC 5798 section 5.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Priority(pub u8);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Version {
    V2,
    V3,
}

impl Version {
    pub fn number(self) -> u8 {
        match self {
            Self::V2 => 2,
            Self::V3 => 3,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn addr_len(self) -> usize {
        match self {
            Self::Ipv4 => 4,
            Self::Ipv6 => 16,
        }
    }

    /// The value used in map keys ([`vrrp_common::InstanceKey::family`]).
    pub fn map_value(self) -> u8 {
        match self {
            Self::Ipv4 => FAMILY_IPV4,
            Self::Ipv6 => FAMILY_IPV6,
        }
    }

    pub fn from_map_value(value: u8) -> Option<Self> {
        match value {
            FAMILY_IPV4 => Some(Self::Ipv4),
            FAMILY_IPV6 => Some(Self::Ipv6),
            _ => None,
        }
    }

    /// Reads an address of this family from exactly `addr_len()` bytes (or the first of 16).
    pub fn addr_from(self, bytes: &[u8]) -> IpAddr {
        match self {
            Self::Ipv4 => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
            Self::Ipv6 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&bytes[..16]);
                IpAddr::V6(Ipv6Addr::from(octets))
            }
        }
    }

    pub fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Self::Ipv4,
            IpAddr::V6(_) => Self::Ipv6,
        }
    }

    /// An address as the 16 bytes the maps store (IPv4 in the first four).
    pub fn map_bytes(addr: &IpAddr) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        match addr {
            IpAddr::V4(a) => bytes[..4].copy_from_slice(&a.octets()),
            IpAddr::V6(a) => bytes.copy_from_slice(&a.octets()),
        }
        bytes
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
        }
    }
}

/// Why a received VRRP message was rejected. Each maps onto one of keepalived's counters (and
/// the XDP program's), see [`DecodeError::counter`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated VRRP message: {needed} bytes needed, {got} present")]
    Truncated { needed: usize, got: usize },
    #[error("VRRP message of {len} bytes is longer than the {max} bytes accepted", max = vrrp_common::proto::VRRP_MAX_LEN)]
    TooLong { len: usize },
    #[error("VRRP message length {len} is not a multiple of four bytes, as every VRRP message is")]
    UnalignedLength { len: usize },
    #[error("VRRP version field {version} is not valid for {}", family.name())]
    Version { version: u8, family: Family },
    #[error("VRRP type field {packet_type} is not 1 (ADVERTISEMENT)")]
    Type { packet_type: u8 },
    #[error("VRRP auth type field {auth_type} is not 0, 1 or 2")]
    AuthType { auth_type: u8 },
    #[error("VRRP advert interval field is zero")]
    ZeroInterval,
    #[error("VRRP checksum field {received:#06x} is wrong (expected {expected:#06x})")]
    Checksum { received: u16, expected: u16 },
    #[error("TTL/hop limit {ttl} on a multicast advert (must be 255)")]
    Ttl { ttl: u8 },
}

impl DecodeError {
    /// The receive counter ([`vrrp_common::RxCounters`] index) this error increments.
    pub fn counter(&self) -> usize {
        match self {
            Self::Truncated { .. } | Self::TooLong { .. } | Self::UnalignedLength { .. } => {
                vrrp_common::RX_LENGTH
            }
            Self::Version { .. } => vrrp_common::RX_VERSION,
            Self::Type { .. } => vrrp_common::RX_INVALID_TYPE,
            Self::AuthType { .. } => vrrp_common::RX_AUTH_INVALID_TYPE,
            Self::ZeroInterval => vrrp_common::RX_INTERVAL_MISMATCH,
            Self::Checksum { .. } => vrrp_common::RX_CHECKSUM,
            Self::Ttl { .. } => vrrp_common::RX_TTL,
        }
    }
}

#[cfg(test)]
mod tests;
