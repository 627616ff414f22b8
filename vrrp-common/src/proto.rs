//! Wire constants of VRRP (RFC 3768 for v2, RFC 5798 for v3) and the headers around it.

pub const ETH_HEADER_LEN: usize = 14;
pub const VLAN_TAG_LEN: usize = 4;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// 802.1Q customer tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// 802.1ad service tag (QinQ outer tag).
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
/// How many VLAN tags the parsers look through.
pub const MAX_VLAN_TAGS: usize = 2;

pub const IPV4_MIN_HEADER_LEN: usize = 20;
pub const IPV6_HEADER_LEN: usize = 40;

/// IP protocol number of VRRP (RFC 5798 section 5.1.1.3).
pub const IPPROTO_VRRP: u8 = 112;
/// RFC 5798 section 5.1.1.3: sent and required TTL / hop limit.
pub const VRRP_TTL: u8 = 255;
/// 224.0.0.18 (RFC 5798 section 5.1.1.2).
pub const MCAST_GROUP_V4: [u8; 4] = [224, 0, 0, 18];
/// ff02::12 (RFC 5798 section 5.1.2.2).
pub const MCAST_GROUP_V6: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12];

/// Fixed part of the VRRP header, both versions.
pub const VRRP_HEADER_LEN: usize = 8;
/// v2 authentication data that follows the addresses (RFC 3768 section 5.3.10).
pub const VRRP_V2_AUTH_LEN: usize = 8;
/// Largest VRRP message the parsers accept: 255 IPv6 addresses (4,088 bytes), rounded up.
pub const VRRP_MAX_LEN: usize = 4096;
/// Type 1 is the only VRRP packet type (RFC 5798 section 5.2.2).
pub const VRRP_TYPE_ADVERTISEMENT: u8 = 1;

pub const AUTH_NONE: u8 = 0;
pub const AUTH_PASS: u8 = 1;
/// IP Authentication Header (RFC 2402), deprecated by RFC 3768 but still a valid type value.
pub const AUTH_AH: u8 = 2;

/// v3 carries the interval in 12 bits of centiseconds (RFC 5798 section 5.2.7).
pub const V3_INTERVAL_MASK: u16 = 0x0fff;

/// IPv6 extension headers (RFC 8200 section 4): the program walks hop-by-hop and destination
/// options to reach an advert behind them; the others only to count such adverts.
pub const IPV6_HOP_BY_HOP: u8 = 0;
pub const IPV6_ROUTING: u8 = 43;
pub const IPV6_FRAGMENT: u8 = 44;
pub const IPV6_AH: u8 = 51;
pub const IPV6_DEST_OPTS: u8 = 60;
pub const IPV6_MOBILITY: u8 = 135;
pub const IPV6_HIP: u8 = 139;
pub const IPV6_SHIM6: u8 = 140;
/// How many extension headers the program walks before giving up (and passing the packet).
pub const IPV6_MAX_EXT_HEADERS: usize = 4;
