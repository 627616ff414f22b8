//! The XDP receive path of xvrrpd.
//!
//! Every frame is looked at just long enough to tell whether it is VRRP (IP protocol 112); other
//! traffic passes after a handful of instructions. VRRP adverts are validated the way RFC 5798
//! section 7.1 and keepalived do it, against the instance configuration userspace put in
//! `vrrp_config`. Invalid adverts and adverts for VRIDs this host does not run are dropped and
//! counted, so a flood of them never wakes userspace. Valid adverts update `vrrp_state` (master
//! liveness and priority) and pass on to the stack; only changes userspace must act on go out
//! through the `vrrp_events` ring buffer.
#![no_std]
#![no_main]

mod checksum;
mod headers;
mod validate;

use aya_ebpf::{
    bindings::{BPF_NOEXIST, xdp_action},
    btf_maps::{HashMap, PerCpuHashMap, RingBuf},
    macros::{btf_map, xdp},
    programs::XdpContext,
};
use vrrp_common::{
    FAMILY_IPV4, FAMILY_IPV6, InstanceConfig, InstanceKey, InstanceState, RxErrorKind, RxErrors,
    VrrpEvent,
    proto::{
        ETH_HEADER_LEN, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ, ETHERTYPE_VLAN,
        IPPROTO_VRRP, MAX_VLAN_TAGS, VLAN_TAG_LEN,
    },
};

use crate::headers::{EthHeader, Ipv4Header, Ipv6Header, VlanTag, be16, header_at};

/// Instances configured on this host (written by userspace).
#[btf_map(name = "vrrp_config")]
static CONFIG: HashMap<InstanceKey, InstanceConfig, 4096> = HashMap::new();

/// What was last heard from each instance's master.
#[btf_map(name = "vrrp_state")]
static STATE: HashMap<InstanceKey, InstanceState, 4096> = HashMap::new();

/// Dropped adverts per interface index, per CPU so the counters never race.
#[btf_map(name = "vrrp_if_errors")]
static IFACE_ERRORS: PerCpuHashMap<u32, RxErrors, 1024> = PerCpuHashMap::new();

/// Changes userspace must act on. 256 KiB holds about 5,400 events (40 bytes + 8 of header).
#[btf_map(name = "vrrp_events")]
static EVENTS: RingBuf<VrrpEvent, { 256 * 1024 }> = RingBuf::new();

/// Set to [`vrrp_common::OBSERVE_ALL`] at load time by `xvrrpd monitor`: record every VRID on
/// every interface with default checks and drop nothing. A read-only global, so the verifier
/// removes the branch that is not taken.
#[unsafe(no_mangle)]
static OBSERVE_ALL: u8 = 0;

#[xdp]
pub fn vrrp_rx(ctx: XdpContext) -> u32 {
    try_vrrp_rx(&ctx).unwrap_or(xdp_action::XDP_PASS)
}

/// What the IP layer says about a VRRP packet, for the checks that follow.
pub struct IpInfo {
    pub family: u8,
    /// Source address; IPv4 in the first four bytes.
    pub src: [u8; 16],
    pub ttl: u8,
    pub multicast: bool,
    pub vrrp_offset: usize,
    /// VRRP message length according to the IP header.
    pub vrrp_len: usize,
    /// Pseudo-header sum for the v3 checksum (RFC 5798 section 5.2.8).
    pub pseudo_header_sum: u32,
}

#[inline(always)]
fn try_vrrp_rx(ctx: &XdpContext) -> Option<u32> {
    let eth = header_at::<EthHeader>(ctx, 0)?;
    let mut ethertype = be16(unsafe { (*eth).ethertype });
    let mut offset = ETH_HEADER_LEN;
    if ethertype != ETHERTYPE_IPV4 && ethertype != ETHERTYPE_IPV6 {
        for _ in 0..MAX_VLAN_TAGS {
            if ethertype != ETHERTYPE_VLAN && ethertype != ETHERTYPE_QINQ {
                break;
            }
            let tag = header_at::<VlanTag>(ctx, offset)?;
            ethertype = be16(unsafe { (*tag).ethertype });
            offset += VLAN_TAG_LEN;
        }
    }
    let ifindex = ctx.ingress_ifindex() as u32;
    let classified = match ethertype {
        ETHERTYPE_IPV4 => parse_ipv4(ctx, ifindex, offset)?,
        ETHERTYPE_IPV6 => parse_ipv6(ctx, ifindex, offset)?,
        _ => return Some(xdp_action::XDP_PASS),
    };
    Some(match classified {
        Classified::NotVrrp => xdp_action::XDP_PASS,
        Classified::Malformed => xdp_action::XDP_DROP,
        Classified::Vrrp(ip) => validate::advert(ctx, ifindex, &ip),
    })
}

/// What the IP parsers make of a frame that is long enough to hold the IP header.
enum Classified {
    NotVrrp,
    /// VRRP that cannot be an advert (fragmented, lengths that do not add up); already counted.
    Malformed,
    Vrrp(IpInfo),
}

/// `None` when the frame is too short for an IPv4 header (not ours to judge: pass).
#[inline(always)]
fn parse_ipv4(ctx: &XdpContext, ifindex: u32, offset: usize) -> Option<Classified> {
    let ip = unsafe { &*header_at::<Ipv4Header>(ctx, offset)? };
    if ip.protocol != IPPROTO_VRRP {
        return Some(Classified::NotVrrp);
    }
    let header_len = ((ip.version_ihl & 0x0f) as usize) * 4;
    if ip.version_ihl >> 4 != 4 || header_len < vrrp_common::proto::IPV4_MIN_HEADER_LEN {
        return Some(Classified::NotVrrp);
    }
    let total_len = be16(ip.total_len) as usize;
    // More-fragments flag or a fragment offset: a VRRP message never needs fragmenting, and
    // a fragment cannot be validated on its own.
    let fragmented = be16(ip.flags_fragment_offset) & 0x3fff != 0;
    if fragmented || total_len < header_len {
        count_iface(ifindex, vrrp_common::ERR_LENGTH);
        return Some(Classified::Malformed);
    }
    let mut src = [0u8; 16];
    src[..4].copy_from_slice(&ip.src);
    let vrrp_len = total_len - header_len;
    Some(Classified::Vrrp(IpInfo {
        family: FAMILY_IPV4,
        src,
        ttl: ip.ttl,
        multicast: ip.dst[0] & 0xf0 == 0xe0,
        vrrp_offset: offset + header_len,
        vrrp_len,
        pseudo_header_sum: checksum::pseudo_header_v4(&ip.src, &ip.dst, vrrp_len),
    }))
}

#[inline(always)]
fn parse_ipv6(ctx: &XdpContext, ifindex: u32, offset: usize) -> Option<Classified> {
    let ip = unsafe { &*header_at::<Ipv6Header>(ctx, offset)? };
    if ip.next_header != IPPROTO_VRRP {
        // Hop-by-hop (0), routing (43), fragment (44), ESP (50), AH (51), destination options
        // (60), mobility (135), HIP (139), shim6 (140): a VRRP advert never carries them, and
        // walking the chain is not worth the instructions. Pass, but count, so an operator can
        // see adverts that would hide behind one.
        if matches!(ip.next_header, 0 | 43 | 44 | 50 | 51 | 60 | 135 | 139 | 140) {
            count_iface(ifindex, vrrp_common::COUNT_IPV6_EXT_HEADER_PASSED);
        }
        return Some(Classified::NotVrrp);
    }
    let vrrp_len = be16(ip.payload_len) as usize;
    Some(Classified::Vrrp(IpInfo {
        family: FAMILY_IPV6,
        src: ip.src,
        ttl: ip.hop_limit,
        multicast: ip.dst[0] == 0xff,
        vrrp_offset: offset + vrrp_common::proto::IPV6_HEADER_LEN,
        vrrp_len,
        pseudo_header_sum: checksum::pseudo_header_v6(&ip.src, &ip.dst, vrrp_len),
    }))
}

/// Counts one dropped packet (or passed IPv6 extension header) against the interface.
#[inline(always)]
pub fn count_iface(ifindex: u32, kind: RxErrorKind) {
    match IFACE_ERRORS.get_ptr_mut(ifindex) {
        Some(counters) => unsafe { (*counters).count(kind) },
        None => {
            let mut counters = RxErrors::default();
            counters.count(kind);
            // Another CPU may have inserted the entry meanwhile; then this one count is lost,
            // which is harmless for a statistic.
            let _ = IFACE_ERRORS.insert(ifindex, counters, BPF_NOEXIST as u64);
        }
    }
}

pub fn config(key: &InstanceKey) -> Option<InstanceConfig> {
    CONFIG.get_ptr(key).map(|config| unsafe { *config })
}

pub fn observe_all() -> bool {
    let observe = unsafe { core::ptr::read_volatile(&OBSERVE_ALL) };
    observe == vrrp_common::OBSERVE_ALL
}

/// The instance's state entry, created empty (never heard) on first use.
#[inline(always)]
pub fn state_entry(key: &InstanceKey) -> Option<*mut InstanceState> {
    if let Some(state) = STATE.get_ptr_mut(key) {
        return Some(state);
    }
    let _ = STATE.insert(key, InstanceState::default(), BPF_NOEXIST as u64);
    STATE.get_ptr_mut(key)
}

pub fn emit(event: &VrrpEvent) {
    // A full ring buffer loses the event, never the packet; userspace still reads the state map.
    let _ = EVENTS.output(event, 0);
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
