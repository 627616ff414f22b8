//! The VRRP message: RFC 3768 section 5 (v2) and RFC 5798 section 5 (v3), decode and encode.

use std::net::IpAddr;
use std::time::Duration;

use vrrp_common::proto::{
    AUTH_AH, AUTH_NONE, AUTH_PASS, IPPROTO_VRRP, V3_INTERVAL_MASK, VRRP_HEADER_LEN, VRRP_MAX_LEN,
    VRRP_TYPE_ADVERTISEMENT, VRRP_V2_AUTH_LEN,
};

use super::checksum::{self, ChecksumMode};
use super::{DecodeError, Family, Priority, Version, Vrid};

/// v2 authentication (RFC 3768 section 5.3.6). Only meaningful for v2; v3 removed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    None,
    /// Simple text password, zero padded to eight bytes.
    Pass([u8; 8]),
    /// IP Authentication Header; the VRRP auth data is zero.
    Ah,
}

impl Auth {
    /// keepalived truncates passwords longer than eight bytes.
    pub fn pass(password: &str) -> Self {
        let mut data = [0u8; 8];
        for (slot, byte) in data.iter_mut().zip(password.bytes()) {
            *slot = byte;
        }
        Self::Pass(data)
    }

    fn type_byte(self) -> u8 {
        match self {
            Self::None => AUTH_NONE,
            Self::Pass(_) => AUTH_PASS,
            Self::Ah => AUTH_AH,
        }
    }
}

/// A VRRP advertisement, independent of the packet that carried it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    pub version: Version,
    pub vrid: Vrid,
    pub priority: Priority,
    /// v2 carries whole seconds, v3 centiseconds; other values cannot be encoded.
    pub interval: Duration,
    pub auth: Auth,
    pub addresses: Vec<IpAddr>,
}

/// The IP-layer facts an advert's checksum depends on.
#[derive(Clone, Copy, Debug)]
pub struct IpContext {
    pub family: Family,
    pub src: IpAddr,
    pub dst: IpAddr,
}

impl Advert {
    /// Length of the encoded message.
    pub fn encoded_len(&self, family: Family) -> usize {
        let auth = if self.version == Version::V2 {
            VRRP_V2_AUTH_LEN
        } else {
            0
        };
        VRRP_HEADER_LEN + self.addresses.len() * family.addr_len() + auth
    }

    /// Encodes the message with its checksum (RFC 5798 section 5.2.8).
    pub fn encode(&self, ip: &IpContext, mode: ChecksumMode) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len(ip.family));
        let version = match self.version {
            Version::V2 => 2u8,
            Version::V3 => 3u8,
        };
        out.push(version << 4 | VRRP_TYPE_ADVERTISEMENT);
        out.push(self.vrid.0);
        out.push(self.priority.0);
        out.push(self.addresses.len() as u8);
        match self.version {
            Version::V2 => {
                out.push(self.auth.type_byte());
                out.push(self.interval.as_secs().min(255) as u8);
            }
            Version::V3 => {
                let centis = (self.interval.as_millis() / 10).min(V3_INTERVAL_MASK as u128) as u16;
                out.extend_from_slice(&centis.to_be_bytes());
            }
        }
        out.extend_from_slice(&[0, 0]);
        for address in &self.addresses {
            match address {
                IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
            }
        }
        if self.version == Version::V2 {
            let data = match self.auth {
                Auth::Pass(data) => data,
                Auth::None | Auth::Ah => [0; 8],
            };
            out.extend_from_slice(&data);
        }
        let sum = checksum_for(self.version, ip, mode, &out);
        out[6..8].copy_from_slice(&sum.to_be_bytes());
        out
    }

    /// Decodes and validates a VRRP message the way the XDP program does in observe mode:
    /// version, length, type, auth type, interval and checksum (either v3 form for IPv4).
    /// TTL and configuration-dependent checks belong to the caller.
    pub fn decode(bytes: &[u8], ip: &IpContext) -> Result<Self, DecodeError> {
        if bytes.len() < VRRP_HEADER_LEN {
            return Err(DecodeError::Truncated {
                needed: VRRP_HEADER_LEN,
                got: bytes.len(),
            });
        }
        let version = match (bytes[0] >> 4, ip.family) {
            (2, Family::Ipv4) => Version::V2,
            (3, _) => Version::V3,
            (other, family) => {
                return Err(DecodeError::Version {
                    version: other,
                    family,
                });
            }
        };
        let count = bytes[3] as usize;
        let addrs_end = VRRP_HEADER_LEN + count * ip.family.addr_len();
        let needed = if version == Version::V2 {
            addrs_end + VRRP_V2_AUTH_LEN
        } else {
            addrs_end
        };
        if bytes.len() < needed {
            return Err(DecodeError::Truncated {
                needed,
                got: bytes.len(),
            });
        }
        if bytes.len() > VRRP_MAX_LEN {
            return Err(DecodeError::TooLong { len: bytes.len() });
        }
        // Every VRRP message is a multiple of four bytes long (the XDP program relies on it).
        if !bytes.len().is_multiple_of(4) {
            return Err(DecodeError::UnalignedLength { len: bytes.len() });
        }
        let packet_type = bytes[0] & 0x0f;
        if packet_type != VRRP_TYPE_ADVERTISEMENT {
            return Err(DecodeError::Type { packet_type });
        }
        let (auth, interval) = match version {
            Version::V2 => {
                let auth = match bytes[4] {
                    AUTH_NONE => Auth::None,
                    AUTH_PASS => {
                        let mut data = [0u8; 8];
                        data.copy_from_slice(&bytes[addrs_end..addrs_end + 8]);
                        Auth::Pass(data)
                    }
                    AUTH_AH => Auth::Ah,
                    auth_type => return Err(DecodeError::AuthType { auth_type }),
                };
                (auth, Duration::from_secs(bytes[5] as u64))
            }
            Version::V3 => {
                let centis = u16::from_be_bytes([bytes[4], bytes[5]]) & V3_INTERVAL_MASK;
                (Auth::None, Duration::from_millis(centis as u64 * 10))
            }
        };
        if interval.is_zero() {
            return Err(DecodeError::ZeroInterval);
        }
        let received = u16::from_be_bytes([bytes[6], bytes[7]]);
        let valid = match version {
            Version::V2 => checksum::verify(bytes, 0),
            Version::V3 => {
                checksum::verify(bytes, pseudo_header_sum(ip, bytes.len()))
                    || (ip.family == Family::Ipv4 && checksum::verify(bytes, 0))
            }
        };
        if !valid {
            let mode = if version == Version::V2 {
                ChecksumMode::AsV2
            } else {
                ChecksumMode::Rfc
            };
            let expected = checksum_for(version, ip, mode, &zero_checksum(bytes));
            return Err(DecodeError::Checksum { received, expected });
        }
        let addresses = bytes[VRRP_HEADER_LEN..addrs_end]
            .chunks_exact(ip.family.addr_len())
            .map(|chunk| ip.family.addr_from(chunk))
            .collect();
        Ok(Self {
            version,
            vrid: Vrid(bytes[1]),
            priority: Priority(bytes[2]),
            interval,
            auth,
            addresses,
        })
    }
}

fn zero_checksum(bytes: &[u8]) -> Vec<u8> {
    let mut copy = bytes.to_vec();
    copy[6..8].copy_from_slice(&[0, 0]);
    copy
}

fn checksum_for(version: Version, ip: &IpContext, mode: ChecksumMode, message: &[u8]) -> u16 {
    let pseudo = match (version, mode, ip.family) {
        (Version::V2, _, _) | (Version::V3, ChecksumMode::AsV2, Family::Ipv4) => 0,
        _ => pseudo_header_sum(ip, message.len()),
    };
    checksum::compute(message, pseudo)
}

/// Sum of the pseudo-header for the v3 checksum: source, destination, protocol, length.
pub fn pseudo_header_sum(ip: &IpContext, vrrp_len: usize) -> u32 {
    let addr_sum = |addr: &IpAddr| match addr {
        IpAddr::V4(a) => checksum::sum_words(&a.octets()),
        IpAddr::V6(a) => checksum::sum_words(&a.octets()),
    };
    addr_sum(&ip.src) + addr_sum(&ip.dst) + IPPROTO_VRRP as u32 + vrrp_len as u32
}
