//! Advert validation (RFC 5798 section 7.1, RFC 3768 section 7.1, keepalived's receive checks)
//! and the state update that follows a valid advert.

use aya_ebpf::{bindings::xdp_action, helpers::bpf_ktime_get_ns, programs::XdpContext};
use vrrp_common::{
    CONFIG_UNICAST, CONFIG_V3_CHECKSUM_AS_V2, ERR_ADVERT_INTERVAL, ERR_AUTH_FAILURE,
    ERR_AUTH_INVALID_TYPE, ERR_AUTH_TYPE_MISMATCH, ERR_CHECKSUM, ERR_INVALID_TYPE, ERR_LENGTH,
    ERR_MODE_MISMATCH, ERR_TTL, ERR_UNKNOWN_VRID, ERR_VERSION, EVENT_AFTER_SILENCE,
    EVENT_INTERVAL_CHANGE, EVENT_NEW_MASTER, EVENT_PRIORITY_CHANGE, EVENT_PRIORITY_ZERO,
    FAMILY_IPV4, InstanceConfig, InstanceKey, RxErrorKind, SILENCE_ADVERTS, VrrpEvent,
    proto::{
        AUTH_AH, AUTH_PASS, V3_INTERVAL_MASK, VRRP_HEADER_LEN, VRRP_MAX_LEN, VRRP_TTL,
        VRRP_TYPE_ADVERTISEMENT, VRRP_V2_AUTH_LEN,
    },
};

use crate::{
    IpInfo, checksum, config, count_iface, emit,
    headers::{VrrpHeader, header_at},
    observe_all, state_entry,
};

/// Validates the VRRP message `ip` points at and returns the XDP verdict.
#[inline(always)]
pub fn advert(ctx: &XdpContext, ifindex: u32, ip: &IpInfo) -> u32 {
    let observe = observe_all();
    let header = match header_at::<VrrpHeader>(ctx, ip.vrrp_offset) {
        Some(header) if ip.vrrp_len >= VRRP_HEADER_LEN => unsafe { &*header },
        _ => return reject(ifindex, None, ERR_LENGTH, observe),
    };
    let key = InstanceKey::new(ifindex, ip.family, header.vrid);
    let config = if observe {
        observer_config(header)
    } else {
        match config(&key) {
            Some(config) => config,
            None => return reject(ifindex, None, ERR_UNKNOWN_VRID, observe),
        }
    };
    match check(ctx, ip, header, &config, observe) {
        Ok(interval_cs) => {
            record(&key, ip, header, interval_cs);
            xdp_action::XDP_PASS
        }
        Err(kind) => reject(ifindex, Some(&key), kind, observe),
    }
}

/// What `xvrrpd monitor` checks an advert against when nothing is configured: the version it
/// claims, no authentication or interval expectations, multicast TTL rules.
#[inline(always)]
fn observer_config(header: &VrrpHeader) -> InstanceConfig {
    InstanceConfig {
        version: header.version_type >> 4,
        min_ttl: 0,
        max_ttl: VRRP_TTL,
        ..InstanceConfig::default()
    }
}

#[inline(always)]
fn reject(ifindex: u32, key: Option<&InstanceKey>, kind: RxErrorKind, observe: bool) -> u32 {
    count_iface(ifindex, kind);
    if let Some(state) = key.and_then(state_entry) {
        unsafe { (*state).errors.count(kind) };
    }
    if observe {
        xdp_action::XDP_PASS
    } else {
        xdp_action::XDP_DROP
    }
}

/// The receive checks in keepalived's order; returns the advertised interval in centiseconds.
#[inline(always)]
fn check(
    ctx: &XdpContext,
    ip: &IpInfo,
    header: &VrrpHeader,
    config: &InstanceConfig,
    observe: bool,
) -> Result<u16, RxErrorKind> {
    let version = header.version_type >> 4;
    let v4 = ip.family == FAMILY_IPV4;
    // RFC 3768 defines v2 for IPv4 only.
    if version != config.version || !(version == 3 || (version == 2 && v4)) {
        return Err(ERR_VERSION);
    }

    // RFC 5798 section 7.1: the packet must hold the fixed fields and every address.
    let addr_len = if v4 { 4 } else { 16 };
    let addrs_end = VRRP_HEADER_LEN + header.addr_count as usize * addr_len;
    let expected_len = if version == 2 {
        addrs_end + VRRP_V2_AUTH_LEN
    } else {
        addrs_end
    };
    // Every VRRP message is a multiple of four bytes long; other lengths cannot be one.
    if ip.vrrp_len < expected_len || ip.vrrp_len > VRRP_MAX_LEN || ip.vrrp_len % 4 != 0 {
        return Err(ERR_LENGTH);
    }

    // RFC 5798 section 7.1: multicast adverts must arrive with TTL / hop limit 255, proof that
    // they were not forwarded. Unicast peers may sit behind routers: keepalived's min/max_ttl.
    let ttl_ok = if ip.multicast {
        ip.ttl == VRRP_TTL
    } else {
        ip.ttl >= config.min_ttl && ip.ttl <= config.max_ttl
    };
    if !ttl_ok {
        return Err(ERR_TTL);
    }

    if header.version_type & 0x0f != VRRP_TYPE_ADVERTISEMENT {
        return Err(ERR_INVALID_TYPE);
    }

    let interval_cs = if version == 2 {
        check_v2_auth(ctx, ip, header, config, observe, addrs_end)?;
        let interval_cs = header.word1_lo as u16 * 100;
        // RFC 3768 section 7.1: a v2 advert with another interval is discarded.
        if !observe && interval_cs != config.advert_interval_cs {
            return Err(ERR_ADVERT_INTERVAL);
        }
        interval_cs
    } else {
        u16::from_be_bytes([header.word1_hi, header.word1_lo]) & V3_INTERVAL_MASK
    };
    // An interval of zero would make every timer derived from it zero.
    if interval_cs == 0 {
        return Err(ERR_ADVERT_INTERVAL);
    }

    let sum = checksum::sum_packet(ctx, ip.vrrp_offset, ip.vrrp_len, 0).ok_or(ERR_LENGTH)?;
    // v2 sums the VRRP message alone; v3 adds the pseudo-header (RFC 5798 section 5.2.8)
    // unless keepalived's v3_checksum_as_v2 says the peers leave it out for IPv4.
    let as_v2 = version == 2 || (v4 && config.flags & CONFIG_V3_CHECKSUM_AS_V2 != 0);
    let valid = if as_v2 {
        checksum::is_valid(sum)
    } else {
        // The observer cannot know a peer's setting, so it accepts either form for v3 IPv4.
        checksum::is_valid(sum + ip.pseudo_header_sum) || (observe && v4 && checksum::is_valid(sum))
    };
    if !valid {
        return Err(ERR_CHECKSUM);
    }

    if !observe && (config.flags & CONFIG_UNICAST != 0) == ip.multicast {
        return Err(ERR_MODE_MISMATCH);
    }
    Ok(interval_cs)
}

/// RFC 3768 section 5.3.6 and 7.1: the type must be one we know and match ours; a simple text
/// password must match the eight bytes after the addresses.
#[inline(always)]
fn check_v2_auth(
    ctx: &XdpContext,
    ip: &IpInfo,
    header: &VrrpHeader,
    config: &InstanceConfig,
    observe: bool,
    addrs_end: usize,
) -> Result<(), RxErrorKind> {
    let auth_type = header.word1_hi;
    if auth_type > AUTH_AH {
        return Err(ERR_AUTH_INVALID_TYPE);
    }
    if observe {
        return Ok(());
    }
    if auth_type != config.auth_type {
        return Err(ERR_AUTH_TYPE_MISMATCH);
    }
    if auth_type == AUTH_PASS {
        let password = header_at::<[u8; 8]>(ctx, ip.vrrp_offset + addrs_end).ok_or(ERR_LENGTH)?;
        let received = u64::from_ne_bytes(unsafe { *password });
        if received != u64::from_ne_bytes(config.auth_pass) {
            return Err(ERR_AUTH_FAILURE);
        }
    }
    Ok(())
}

/// Records a valid advert and emits an event when it tells userspace something new.
#[inline(always)]
fn record(key: &InstanceKey, ip: &IpInfo, header: &VrrpHeader, interval_cs: u16) {
    let Some(state) = state_entry(key) else {
        return;
    };
    let state = unsafe { &mut *state };
    let now = unsafe { bpf_ktime_get_ns() };
    let priority = header.priority;

    let mut kinds = 0;
    if state.last_seen_ns == 0 {
        kinds |= EVENT_AFTER_SILENCE | EVENT_NEW_MASTER;
    } else {
        let silence_ns = SILENCE_ADVERTS * state.advert_interval_cs as u64 * 10_000_000;
        if now.saturating_sub(state.last_seen_ns) > silence_ns {
            kinds |= EVENT_AFTER_SILENCE;
        }
        if addr_words(&state.master_addr) != addr_words(&ip.src) {
            kinds |= EVENT_NEW_MASTER;
        }
        if state.master_priority != priority {
            kinds |= EVENT_PRIORITY_CHANGE;
        }
        if state.advert_interval_cs != interval_cs {
            kinds |= EVENT_INTERVAL_CHANGE;
        }
    }
    if priority == 0 {
        // RFC 5798 section 6.4.2: the master is leaving; backups act on it at once.
        kinds |= EVENT_PRIORITY_ZERO;
        state.priority_zero_received += 1;
    }

    let previous_priority = state.master_priority;
    state.last_seen_ns = now;
    state.received += 1;
    state.master_addr = ip.src;
    state.master_priority = priority;
    state.version = header.version_type >> 4;
    state.advert_interval_cs = interval_cs;
    state.addr_count = header.addr_count;

    if kinds != 0 {
        emit(&VrrpEvent {
            key: *key,
            kinds,
            priority,
            previous_priority,
            advert_interval_cs: interval_cs,
            timestamp_ns: now,
            master_addr: ip.src,
        });
    }
}

/// An address as two words, so comparing it does not need `memcmp` (which BPF lacks).
#[inline(always)]
fn addr_words(addr: &[u8; 16]) -> (u64, u64) {
    let ptr = addr.as_ptr();
    unsafe {
        (
            core::ptr::read_unaligned(ptr.cast::<u64>()),
            core::ptr::read_unaligned(ptr.add(8).cast::<u64>()),
        )
    }
}
