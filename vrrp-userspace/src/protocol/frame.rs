//! Whole Ethernet frames carrying VRRP: decoding what a capture or a raw socket gives us, and
//! building frames to send or to test the XDP program with.

use std::net::IpAddr;

use vrrp_common::proto::{
    ETH_HEADER_LEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ, ETHERTYPE_VLAN, IPPROTO_VRRP,
    IPV4_MIN_HEADER_LEN, IPV6_DEST_OPTS, IPV6_HEADER_LEN, IPV6_HOP_BY_HOP, IPV6_MAX_EXT_HEADERS,
    MAX_VLAN_TAGS, VLAN_TAG_LEN, VRRP_TTL,
};

use super::{Advert, ChecksumMode, DecodeError, Family, IpContext, Vrid, checksum};

/// A valid advert with the IP facts around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedAdvert {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub advert: Advert,
}

/// What a frame turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    NotVrrp,
    Advert(ReceivedAdvert),
    /// VRRP that failed validation; `vrid` is known when the fixed header was present, `dst`
    /// when the IP header was.
    Rejected {
        family: Family,
        vrid: Option<Vrid>,
        dst: Option<IpAddr>,
        error: DecodeError,
    },
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

/// Decodes an Ethernet frame (up to two VLAN tags) with the checks of the XDP program in
/// observe mode: frame and IP parsing, multicast TTL 255, then [`Advert::decode`].
pub fn decode_frame(frame: &[u8]) -> Frame {
    let Some(mut ethertype) = be16(frame, 12) else {
        return Frame::NotVrrp;
    };
    let mut offset = ETH_HEADER_LEN;
    for _ in 0..MAX_VLAN_TAGS {
        if ethertype != ETHERTYPE_VLAN && ethertype != ETHERTYPE_QINQ {
            break;
        }
        let Some(inner) = be16(frame, offset + 2) else {
            return Frame::NotVrrp;
        };
        ethertype = inner;
        offset += VLAN_TAG_LEN;
    }
    match ethertype {
        ETHERTYPE_IPV4 => decode_ipv4(&frame[offset..]),
        ETHERTYPE_IPV6 => decode_ipv6(&frame[offset..]),
        _ => Frame::NotVrrp,
    }
}

fn decode_ipv4(packet: &[u8]) -> Frame {
    if packet.len() < IPV4_MIN_HEADER_LEN || packet[9] != IPPROTO_VRRP || packet[0] >> 4 != 4 {
        return Frame::NotVrrp;
    }
    let header_len = (packet[0] & 0x0f) as usize * 4;
    if header_len < IPV4_MIN_HEADER_LEN {
        return Frame::NotVrrp;
    }
    let total_len = u16::from_be_bytes([packet[2], packet[3]]) as usize;
    let fragmented = u16::from_be_bytes([packet[6], packet[7]]) & 0x3fff != 0;
    if fragmented || total_len < header_len || packet.len() < header_len {
        let error = DecodeError::Truncated {
            needed: header_len,
            got: total_len,
        };
        return Frame::Rejected {
            family: Family::Ipv4,
            vrid: None,
            dst: None,
            error,
        };
    }
    let ip = IpContext {
        family: Family::Ipv4,
        src: Family::Ipv4.addr_from(&packet[12..16]),
        dst: Family::Ipv4.addr_from(&packet[16..20]),
    };
    let payload = &packet[header_len..];
    decode_vrrp(payload, total_len - header_len, packet[8], ip)
}

fn decode_ipv6(packet: &[u8]) -> Frame {
    if packet.len() < IPV6_HEADER_LEN {
        return Frame::NotVrrp;
    }
    // Hop-by-hop and destination options may stand before the advert (RFC 8200 section 4),
    // as the XDP program parses them; other extension headers are not followed.
    let mut next_header = packet[6];
    let mut offset = IPV6_HEADER_LEN;
    for _ in 0..IPV6_MAX_EXT_HEADERS {
        if next_header != IPV6_HOP_BY_HOP && next_header != IPV6_DEST_OPTS {
            break;
        }
        let (Some(&next), Some(&len)) = (packet.get(offset), packet.get(offset + 1)) else {
            return Frame::NotVrrp;
        };
        next_header = next;
        offset += (len as usize + 1) * 8;
    }
    if next_header != IPPROTO_VRRP || packet.len() < offset {
        return Frame::NotVrrp;
    }
    let ip = IpContext {
        family: Family::Ipv6,
        src: Family::Ipv6.addr_from(&packet[8..24]),
        dst: Family::Ipv6.addr_from(&packet[24..40]),
    };
    let payload_len = u16::from_be_bytes([packet[4], packet[5]]) as usize;
    let vrrp_len = payload_len.saturating_sub(offset - IPV6_HEADER_LEN);
    decode_vrrp(&packet[offset..], vrrp_len, packet[7], ip)
}

/// `vrrp_len` is what the IP header claims; the frame may hold less (truncated) or more
/// (Ethernet padding of short frames).
fn decode_vrrp(payload: &[u8], vrrp_len: usize, ttl: u8, ip: IpContext) -> Frame {
    let vrid = payload.get(1).map(|&v| Vrid(v));
    let reject = |error| Frame::Rejected {
        family: ip.family,
        vrid,
        dst: Some(ip.dst),
        error,
    };
    if payload.len() < vrrp_len {
        return reject(DecodeError::Truncated {
            needed: vrrp_len,
            got: payload.len(),
        });
    }
    let message = &payload[..vrrp_len];
    // A frame with several faults may land in another counter than in the XDP program, which
    // checks the TTL before type, auth, interval and checksum; a frame with one fault does not.
    let multicast = match ip.dst {
        IpAddr::V4(a) => a.is_multicast(),
        IpAddr::V6(a) => a.is_multicast(),
    };
    match Advert::decode(message, &ip) {
        Ok(_) if multicast && ttl != VRRP_TTL => reject(DecodeError::Ttl { ttl }),
        Ok(advert) => Frame::Advert(ReceivedAdvert {
            src: ip.src,
            dst: ip.dst,
            ttl,
            advert,
        }),
        Err(error) => reject(error),
    }
}

/// Everything needed to build one advert frame.
#[derive(Clone, Debug)]
pub struct FrameSpec {
    pub src_mac: [u8; 6],
    /// Defaults to the multicast MAC of `dst` (RFC 1112 / RFC 2464), or broadcast.
    pub dst_mac: Option<[u8; 6]>,
    /// 802.1Q tags, outermost first.
    pub vlan_ids: Vec<u16>,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    /// Extra bytes of IPv4 options (a multiple of 4, at most 40), to exercise IHL handling.
    pub ipv4_options_len: usize,
    pub checksum: ChecksumMode,
    pub advert: Advert,
}

impl FrameSpec {
    /// An advert to the VRRP multicast group with TTL 255 from the virtual MAC.
    pub fn multicast(src: IpAddr, advert: Advert) -> Self {
        let (dst, family_byte) = match src {
            IpAddr::V4(_) => (IpAddr::from(vrrp_common::proto::MCAST_GROUP_V4), 1),
            IpAddr::V6(_) => (IpAddr::from(vrrp_common::proto::MCAST_GROUP_V6), 2),
        };
        Self {
            src_mac: [0x00, 0x00, 0x5e, 0x00, family_byte, advert.vrid.0],
            dst_mac: None,
            vlan_ids: Vec::new(),
            src,
            dst,
            ttl: VRRP_TTL,
            ipv4_options_len: 0,
            checksum: ChecksumMode::Rfc,
            advert,
        }
    }
}

fn multicast_mac(dst: IpAddr) -> [u8; 6] {
    match dst {
        IpAddr::V4(a) if a.is_multicast() => {
            let o = a.octets();
            [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
        }
        IpAddr::V6(a) if a.is_multicast() => {
            let o = a.octets();
            [0x33, 0x33, o[12], o[13], o[14], o[15]]
        }
        _ => [0xff; 6],
    }
}

/// [`build_frame`] was given a source and destination of different families.
#[derive(Debug, thiserror::Error)]
#[error("advert frame source {src} and destination {dst} are of different address families")]
pub struct MixedFamilies {
    pub src: IpAddr,
    pub dst: IpAddr,
}

/// Builds Ethernet (+ VLAN tags) + IP + VRRP.
pub fn build_frame(spec: &FrameSpec) -> Result<Vec<u8>, MixedFamilies> {
    let ip = IpContext {
        family: Family::of(&spec.src),
        src: spec.src,
        dst: spec.dst,
    };
    let vrrp = spec.advert.encode(&ip, spec.checksum);

    let mut frame = Vec::with_capacity(64 + vrrp.len());
    frame.extend_from_slice(&spec.dst_mac.unwrap_or_else(|| multicast_mac(spec.dst)));
    frame.extend_from_slice(&spec.src_mac);
    for vlan in &spec.vlan_ids {
        frame.extend_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        frame.extend_from_slice(&(vlan & 0x0fff).to_be_bytes());
    }
    match (spec.src, spec.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            frame.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
            let header_len = IPV4_MIN_HEADER_LEN + spec.ipv4_options_len;
            let mut header = vec![0u8; header_len];
            header[0] = 0x40 | (header_len / 4) as u8;
            header[1] = 0xc0; // DSCP CS6 (network control), as keepalived sends
            header[2..4].copy_from_slice(&((header_len + vrrp.len()) as u16).to_be_bytes());
            header[8] = spec.ttl;
            header[9] = IPPROTO_VRRP;
            header[12..16].copy_from_slice(&src.octets());
            header[16..20].copy_from_slice(&dst.octets());
            // Options: NOPs, which every stack skips.
            header[IPV4_MIN_HEADER_LEN..].fill(1);
            let sum = checksum::compute(&header, 0);
            header[10..12].copy_from_slice(&sum.to_be_bytes());
            frame.extend_from_slice(&header);
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            frame.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
            // Traffic class CS6 (network control) as keepalived sends; flow label 0.
            frame.extend_from_slice(&[0x6c, 0, 0, 0]);
            frame.extend_from_slice(&(vrrp.len() as u16).to_be_bytes());
            frame.push(IPPROTO_VRRP);
            frame.push(spec.ttl);
            frame.extend_from_slice(&src.octets());
            frame.extend_from_slice(&dst.octets());
        }
        (src, dst) => return Err(MixedFamilies { src, dst }),
    }
    frame.extend_from_slice(&vrrp);
    Ok(frame)
}
