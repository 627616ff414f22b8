//! The IP layer of a VRRP frame, checked the way the kernel checks it before a socket would
//! see the packet (`ip_rcv_core`, `ipv6_rcv`): what the kernel drops never reaches keepalived,
//! so it is counted against the interface, not an instance.

use aya_ebpf::{bindings::xdp_action, programs::XdpContext};
use aya_log_ebpf::debug;
use vrrp_common::{
    DROP_FRAGMENT, DROP_IP_CHECKSUM, DROP_IP_HEADER, DROP_IPV6_EXT_PASSED, DROP_SHORT,
    DROP_TRUNCATED, FAMILY_IPV4, FAMILY_IPV6,
    proto::{
        IPPROTO_VRRP, IPV4_MIN_HEADER_LEN, IPV6_AH, IPV6_DEST_OPTS, IPV6_FRAGMENT, IPV6_HEADER_LEN,
        IPV6_HIP, IPV6_HOP_BY_HOP, IPV6_MAX_EXT_HEADERS, IPV6_MOBILITY, IPV6_ROUTING, IPV6_SHIM6,
        VRRP_HEADER_LEN,
    },
};

use crate::{
    checksum, count_iface, drop_before_instance,
    headers::{Ipv4Header, Ipv6ExtHeader, Ipv6FragmentHeader, Ipv6Header, be16, header_at},
};

/// A frame that carries IP protocol 112, before its IP header is checked. A struct whose
/// every field is always set, not an enum with a variant per family: LLVM moved the unset
/// fields of the IPv4 variant around as undefined registers, which the verifier refuses
/// ("R9 !read_ok") once vrrp_rx also tail-calls the load balancer.
pub struct Vrrp {
    pub ipv6: bool,
    /// Offset of the IP header.
    pub offset: usize,
    /// IPv6: where the VRRP message starts (IPv4: unused, 0).
    pub vrrp_offset: usize,
    /// IPv6: what stands between the IP header and VRRP (IPv4: `Parsed`).
    pub behind: Behind,
}

/// What stands between an IPv6 header and the VRRP message.
#[derive(PartialEq, Eq)]
pub enum Behind {
    /// Nothing, or hop-by-hop / destination options only: the advert is validated.
    Parsed,
    /// A fragment header: the advert cannot be validated on its own.
    Fragment,
    /// Routing, AH, mobility, HIP or shim6: passed unvalidated, counted.
    Unsupported,
}

/// What the IP layer says about a VRRP packet, for the checks that follow.
pub struct IpInfo {
    pub family: u8,
    /// Addresses; IPv4 in the first four bytes.
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub ttl: u8,
    pub multicast: bool,
    pub vrrp_offset: usize,
    /// VRRP message length according to the IP header (at least [`VRRP_HEADER_LEN`]).
    pub vrrp_len: usize,
    /// Pseudo-header sum without the destination (RFC 5798 section 5.2.8), and the
    /// destination's own sum: keepalived's unicast checksum variants swap the destination.
    pub pseudo_base: u32,
    pub dst_sum: u32,
}

/// `Some` when the IPv4 packet is VRRP; everything else passes (`None`).
#[inline(always)]
pub fn ipv4(ctx: &XdpContext, offset: usize) -> Option<Vrrp> {
    let ip = unsafe { &*header_at::<Ipv4Header>(ctx, offset)? };
    (ip.protocol == IPPROTO_VRRP).then_some(Vrrp {
        ipv6: false,
        offset,
        vrrp_offset: 0,
        behind: Behind::Parsed,
    })
}

/// `Some` when the IPv6 packet is VRRP, directly or behind up to [`IPV6_MAX_EXT_HEADERS`]
/// extension headers (RFC 8200 section 4); everything else passes (`None`).
#[inline(always)]
pub fn ipv6(ctx: &XdpContext, offset: usize) -> Option<Vrrp> {
    let ip = unsafe { &*header_at::<Ipv6Header>(ctx, offset)? };
    let mut next = ip.next_header;
    let mut at = offset + IPV6_HEADER_LEN;
    if next == IPPROTO_VRRP {
        return Some(Vrrp {
            ipv6: true,
            offset,
            vrrp_offset: at,
            behind: Behind::Parsed,
        });
    }
    let mut behind = Behind::Parsed;
    for _ in 0..IPV6_MAX_EXT_HEADERS {
        match next {
            IPV6_FRAGMENT => {
                let fragment = unsafe { &*header_at::<Ipv6FragmentHeader>(ctx, at)? };
                return (fragment.next_header == IPPROTO_VRRP).then_some(Vrrp {
                    ipv6: true,
                    offset,
                    vrrp_offset: at,
                    behind: Behind::Fragment,
                });
            }
            IPV6_HOP_BY_HOP | IPV6_DEST_OPTS | IPV6_ROUTING | IPV6_MOBILITY | IPV6_HIP
            | IPV6_SHIM6 | IPV6_AH => {
                let header = unsafe { &*header_at::<Ipv6ExtHeader>(ctx, at)? };
                let len = if next == IPV6_AH {
                    (header.len as usize + 2) * 4
                } else {
                    (header.len as usize + 1) * 8
                };
                if next != IPV6_HOP_BY_HOP && next != IPV6_DEST_OPTS {
                    behind = Behind::Unsupported;
                }
                next = header.next_header;
                at += len;
            }
            // Anything else (ESP, no next header, an upper layer) hides or is not VRRP.
            _ => return None,
        }
        // Bounded for the verifier: four headers of at most 2,048 bytes each.
        if at > 9000 {
            return None;
        }
        if next == IPPROTO_VRRP {
            return Some(Vrrp {
                ipv6: true,
                offset,
                vrrp_offset: at,
                behind,
            });
        }
    }
    None
}

/// The kernel's checks of the IP header; `Err` is the verdict of a frame already counted.
#[inline(always)]
pub fn check(ctx: &XdpContext, ifindex: u32, vrrp: Vrrp) -> Result<IpInfo, u32> {
    let frame_len = ctx.data_end() - ctx.data();
    let drop = |kind| Err(drop_before_instance(ifindex, kind));
    let Vrrp {
        ipv6,
        offset,
        vrrp_offset,
        behind,
    } = vrrp;
    match ipv6 {
        false => {
            let ip = unsafe { &*header_at::<Ipv4Header>(ctx, offset).ok_or(xdp_action::XDP_PASS)? };
            let header_len = ((ip.version_ihl & 0x0f) as usize) * 4;
            if ip.version_ihl >> 4 != 4 || header_len < IPV4_MIN_HEADER_LEN {
                return drop(DROP_IP_HEADER);
            }
            // The usual 20 bytes are already bounds-checked: sum them in place.
            let sum = if header_len == IPV4_MIN_HEADER_LEN {
                checksum::sum_words(unsafe { &*(ip as *const Ipv4Header).cast::<[u8; 20]>() })
            } else {
                match checksum::sum_packet(ctx, offset, header_len, 0) {
                    Some(sum) => sum,
                    None => return drop(DROP_TRUNCATED),
                }
            };
            if !checksum::is_valid(sum) {
                return drop(DROP_IP_CHECKSUM);
            }
            let total_len = be16(ip.total_len) as usize;
            if frame_len < offset + total_len {
                return drop(DROP_TRUNCATED);
            }
            if total_len < header_len {
                return drop(DROP_IP_HEADER);
            }
            // More-fragments flag or an offset: the kernel would reassemble it; a fragment
            // cannot be validated here, and VRRP never needs fragmenting.
            if be16(ip.flags_fragment_offset) & 0x3fff != 0 {
                return drop(DROP_FRAGMENT);
            }
            let vrrp_len = total_len - header_len;
            if vrrp_len < VRRP_HEADER_LEN {
                return drop(DROP_SHORT);
            }
            let mut src = [0u8; 16];
            src[..4].copy_from_slice(&ip.src);
            let mut dst = [0u8; 16];
            dst[..4].copy_from_slice(&ip.dst);
            Ok(IpInfo {
                family: FAMILY_IPV4,
                src,
                dst,
                ttl: ip.ttl,
                multicast: ip.dst[0] & 0xf0 == 0xe0,
                vrrp_offset: offset + header_len,
                vrrp_len,
                pseudo_base: checksum::pseudo_header_base(&ip.src, vrrp_len),
                dst_sum: checksum::sum_words(&ip.dst),
            })
        }
        true => {
            let ip = unsafe { &*header_at::<Ipv6Header>(ctx, offset).ok_or(xdp_action::XDP_PASS)? };
            if ip.version_class_flow[0] >> 4 != 6 {
                return drop(DROP_IP_HEADER);
            }
            let payload_end = offset + IPV6_HEADER_LEN + be16(ip.payload_len) as usize;
            if frame_len < payload_end {
                return drop(DROP_TRUNCATED);
            }
            if behind == Behind::Fragment {
                return drop(DROP_FRAGMENT);
            }
            if behind == Behind::Unsupported {
                count_iface(ifindex, DROP_IPV6_EXT_PASSED);
                debug!(
                    ctx,
                    "VRRP behind an IPv6 extension header other than hop-by-hop or destination \
                     options on interface {}: passed unvalidated",
                    ifindex
                );
                return Err(xdp_action::XDP_PASS);
            }
            if payload_end < vrrp_offset {
                return drop(DROP_IP_HEADER);
            }
            let vrrp_len = payload_end - vrrp_offset;
            if vrrp_len < VRRP_HEADER_LEN {
                return drop(DROP_SHORT);
            }
            Ok(IpInfo {
                family: FAMILY_IPV6,
                src: ip.src,
                dst: ip.dst,
                ttl: ip.hop_limit,
                multicast: ip.dst[0] == 0xff,
                vrrp_offset,
                vrrp_len,
                pseudo_base: checksum::pseudo_header_base(&ip.src, vrrp_len),
                dst_sum: checksum::sum_words(&ip.dst),
            })
        }
    }
}
