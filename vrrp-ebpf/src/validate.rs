//! keepalived's receive checks (`vrrp.c: vrrp_check_packet`), in its order and with its
//! counters, then the hand-over to the state update. RFC 5798 section 7.1 and RFC 3768
//! section 7.1 ask for the same checks; where keepalived differs (the order, what it counts)
//! keepalived wins, because users compare our counters with its stats file.

use aya_ebpf::{bindings::xdp_action, programs::XdpContext};
use vrrp_common::{
    CONFIG_CHECK_UNICAST_SRC, CONFIG_OLD_UNICAST_CHECKSUM, CONFIG_SKIP_CHECK_ADV_ADDR,
    CONFIG_UNICAST, CONFIG_UNICAST_CHECKSUM_AUTO, CONFIG_V3_CHECKSUM_AS_V2, DROP_FOREIGN_PASSED,
    DROP_NO_INSTANCE, FAMILY_IPV4, IFACE_FOREIGN_PASS, IfaceConfig, InstanceConfig, InstanceKey,
    POLICY_BACKUP, POLICY_MASTER, RX_ADDRESS_LIST, RX_AUTH_FAILURE, RX_AUTH_INVALID_TYPE,
    RX_AUTH_TYPE_MISMATCH, RX_CHECKSUM, RX_IGNORED_DOWN, RX_INTERVAL_MISMATCH, RX_INVALID_TYPE,
    RX_LENGTH, RX_NOT_A_PEER, RX_PRIORITY_ZERO, RX_RECEIVED, RX_TTL, RX_VERSION, ReceivePolicy,
    RxKey, STATE_OLD_UNICAST_CHECKSUM,
    proto::{
        AUTH_AH, AUTH_PASS, MCAST_GROUP_V4, V3_INTERVAL_MASK, VRRP_HEADER_LEN, VRRP_TTL,
        VRRP_TYPE_ADVERTISEMENT, VRRP_V2_AUTH_LEN,
    },
};

use crate::{
    checksum::{self, is_valid},
    config, count_instance, drop_before_instance, drop_verdict,
    headers::{VrrpHeader, header_at},
    ip::IpInfo,
    kernel_timers, observe_all, policy,
    record::{self, Heard},
    slot, timers, vips,
};

/// Validates the VRRP message `ip` points at and returns the XDP verdict.
#[inline(always)]
pub fn advert(ctx: &XdpContext, ifindex: u32, iface: Option<&IfaceConfig>, ip: &IpInfo) -> u32 {
    let observe = observe_all();
    // ip::check made sure the frame holds at least the VRRP header.
    let Some(header) = header_at::<VrrpHeader>(ctx, ip.vrrp_offset) else {
        return xdp_action::XDP_PASS;
    };
    let header = unsafe { &*header };
    let mut key = InstanceKey::new(ifindex, ip.family, header.vrid, ip.dst);
    // Unicast instances that share all of that are told apart by the advert's source, as
    // keepalived does for VRRP_FLAG_UNICAST_DUPLICATE_VRID.
    if !ip.multicast {
        key.slot = slot(&RxKey::peer(key, ip.src));
    }
    let (config, from_peer) = if observe {
        (observer_config(header, ip), false)
    } else {
        match lookup(&key, ip) {
            Some(found) => found,
            None => return unknown_instance(ifindex, iface),
        }
    };
    let policy = if observe { None } else { policy(&key) };
    // keepalived reads no adverts in INIT or FAULT (`vrrp_dispatcher_read`): its counters stay
    // still, so ours do too; the state map is still kept.
    let counting = policy.is_none_or(|p| p.state == POLICY_BACKUP || p.state == POLICY_MASTER);
    let count = |kind| {
        if counting {
            count_instance(&key, kind);
        }
    };
    if !counting {
        count_instance(&key, RX_IGNORED_DOWN);
    }
    let checked = match packet_checks(ctx, ip, header, &config, &key, policy, observe) {
        Ok(checked) => checked,
        Err(kind) => {
            count(kind);
            return drop_verdict();
        }
    };
    // "Correct type, version, and length. Count as VRRP advertisement": before the address
    // list, the unicast source and the peer's TTL window are checked.
    count(RX_RECEIVED);
    if checked.check_addresses
        && let Err(kind) = address_checks(ctx, ip, header, &config, &key, from_peer)
    {
        count(kind);
        return drop_verdict();
    }
    if header.priority == 0 {
        count(RX_PRIORITY_ZERO);
    }
    let now = unsafe { aya_ebpf::helpers::bpf_ktime_get_ns() };
    let timer_armed = match policy {
        Some(p) if p.state == POLICY_BACKUP && kernel_timers() => {
            timers::on_advert(&key, p, header.priority, checked.interval_cs, now)
        }
        _ => false,
    };
    record::record(
        ctx,
        &key,
        &Heard {
            src: ip.src,
            priority: header.priority,
            version: header.version_type >> 4,
            addr_count: header.addr_count,
            interval_cs: checked.interval_cs,
            learned_old_checksum: checked.learned_old_checksum,
            timer_armed,
        },
        policy,
        now,
    );
    xdp_action::XDP_PASS
}

/// The entry for this source (unicast peers with `check_unicast_src`), else the any-source
/// entry; the flag says which matched. Multicast instances only have the latter.
#[inline(always)]
fn lookup(key: &InstanceKey, ip: &IpInfo) -> Option<(InstanceConfig, bool)> {
    if !ip.multicast
        && let Some(config) = config(&RxKey::peer(*key, ip.src))
    {
        return Some((config, true));
    }
    config(&RxKey::any_source(*key)).map(|config| (config, false))
}

/// No instance for this VRID and destination: another speaker's, or nobody's.
#[inline(always)]
fn unknown_instance(ifindex: u32, iface: Option<&IfaceConfig>) -> u32 {
    if iface.is_some_and(|iface| iface.flags & IFACE_FOREIGN_PASS != 0) {
        crate::count_iface(ifindex, DROP_FOREIGN_PASSED);
        return xdp_action::XDP_PASS;
    }
    drop_before_instance(ifindex, DROP_NO_INSTANCE)
}

/// What `xvrrpd monitor` checks an advert against when nothing is configured: the version it
/// claims (2 only over IPv4), any authentication, any interval, TTL 255 when multicast.
#[inline(always)]
fn observer_config(header: &VrrpHeader, ip: &IpInfo) -> InstanceConfig {
    let version = header.version_type >> 4;
    let valid_version = version == 3 || (version == 2 && ip.family == FAMILY_IPV4);
    InstanceConfig {
        version: if valid_version { version } else { 0 },
        flags: if ip.multicast { 0 } else { CONFIG_UNICAST },
        ..InstanceConfig::default()
    }
}

struct Checked {
    interval_cs: u16,
    check_addresses: bool,
    learned_old_checksum: bool,
}

/// Everything keepalived checks before it counts an advert as received, in its order.
#[inline(always)]
fn packet_checks(
    ctx: &XdpContext,
    ip: &IpInfo,
    header: &VrrpHeader,
    config: &InstanceConfig,
    key: &InstanceKey,
    policy: Option<&ReceivePolicy>,
    observe: bool,
) -> Result<Checked, usize> {
    let v4 = ip.family == FAMILY_IPV4;
    let version = header.version_type >> 4;
    // The kernel checks IPv6 checksums before the socket sees the packet (keepalived sets
    // IPV6_CHECKSUM), over whatever length the packet has.
    let sum = checksum::sum_packet(ctx, ip.vrrp_offset, ip.vrrp_len, 0).ok_or(RX_LENGTH)?;
    if !v4 && !is_valid(sum + ip.pseudo_base + ip.dst_sum) {
        return Err(RX_CHECKSUM);
    }

    // The whole message and nothing more: header, addresses, v2 authentication (by the
    // version the packet claims, as keepalived's expected_vrrp_pkt_len does).
    let addr_len = if v4 { 4 } else { 16 };
    let mut expected = VRRP_HEADER_LEN + header.addr_count as usize * addr_len;
    if v4 && version == 2 {
        expected += VRRP_V2_AUTH_LEN;
    }
    if ip.vrrp_len != expected {
        return Err(RX_LENGTH);
    }

    // RFC 5798 section 7.1: multicast adverts must arrive with TTL / hop limit 255. Unicast
    // instances check their peer's window later, and only with check_unicast_src.
    if config.flags & CONFIG_UNICAST == 0 && ip.ttl != VRRP_TTL {
        return Err(RX_TTL);
    }
    if version != config.version {
        return Err(RX_VERSION);
    }

    let interval_cs = if version == 2 {
        let auth_type = header.word1_hi;
        if auth_type > AUTH_AH {
            return Err(RX_AUTH_INVALID_TYPE);
        }
        if !observe {
            if auth_type != config.auth_type {
                return Err(RX_AUTH_TYPE_MISMATCH);
            }
            if auth_type == AUTH_PASS {
                let at = ip.vrrp_offset + expected - VRRP_V2_AUTH_LEN;
                let received =
                    u64::from_ne_bytes(checksum::load::<8>(ctx.ctx, at).ok_or(RX_LENGTH)?);
                if received != u64::from_ne_bytes(config.auth_pass) {
                    return Err(RX_AUTH_FAILURE);
                }
            }
        }
        let interval_cs = header.word1_lo as u16 * 100;
        // RFC 3768 section 7.1; keepalived drops it without counting (VRRP_PACKET_DROP).
        if !observe && interval_cs != config.advert_interval_cs {
            return Err(RX_INTERVAL_MISMATCH);
        }
        interval_cs
    } else {
        u16::from_be_bytes([header.word1_hi, header.word1_lo]) & V3_INTERVAL_MASK
    };

    if header.version_type & 0x0f != VRRP_TYPE_ADVERTISEMENT {
        return Err(RX_INVALID_TYPE);
    }

    let check_addresses = !observe && !skips_address_check(config, key, policy, &ip.src);
    if check_addresses && header.addr_count != config.vip_count {
        return Err(RX_ADDRESS_LIST);
    }

    let mut learned_old_checksum = false;
    if v4
        && !ipv4_checksum_ok(
            sum,
            ip,
            config,
            key,
            version,
            observe,
            &mut learned_old_checksum,
        )
    {
        return Err(RX_CHECKSUM);
    }
    Ok(Checked {
        interval_cs,
        check_addresses,
        learned_old_checksum,
    })
}

/// keepalived's `skip_check_adv_addr`: in BACKUP, an advert from the master it last accepted
/// skips the address checks (`vrrp_state_backup`); a master always checks.
#[inline(always)]
fn skips_address_check(
    config: &InstanceConfig,
    key: &InstanceKey,
    policy: Option<&ReceivePolicy>,
    src: &[u8; 16],
) -> bool {
    if config.flags & CONFIG_SKIP_CHECK_ADV_ADDR == 0
        || policy.is_some_and(|p| p.state == POLICY_MASTER)
    {
        return false;
    }
    record::skip_check_src(key).is_some_and(|master| record::same_addr(&master, src))
}

/// v2 sums the message alone; v3 adds the pseudo-header (RFC 5798 section 5.2.8), unless
/// `v3_checksum_as_v2`; unicast v3 may use keepalived's old form with the multicast group as
/// destination (`old_unicast_checksum`, or learnt automatically by default).
#[inline(always)]
fn ipv4_checksum_ok(
    sum: u32,
    ip: &IpInfo,
    config: &InstanceConfig,
    key: &InstanceKey,
    version: u8,
    observe: bool,
    learned_old: &mut bool,
) -> bool {
    if version == 2 || config.flags & CONFIG_V3_CHECKSUM_AS_V2 != 0 {
        return is_valid(sum);
    }
    let real = is_valid(sum + ip.pseudo_base + ip.dst_sum);
    let group = if observe {
        MCAST_GROUP_V4
    } else {
        config.mcast_group4
    };
    let old = is_valid(sum + ip.pseudo_base + checksum::sum_words(&group));
    if observe {
        // The observer cannot know a peer's setting: any form keepalived could send passes.
        return real || old || is_valid(sum);
    }
    if config.flags & CONFIG_OLD_UNICAST_CHECKSUM != 0 {
        return old;
    }
    if config.flags & CONFIG_UNICAST_CHECKSUM_AUTO == 0 {
        return real;
    }
    // Once switched, keepalived accepts only the old form (CHKSUM_COMPATIBILITY_AUTO).
    if record::state_flags(key) & STATE_OLD_UNICAST_CHECKSUM != 0 {
        return old;
    }
    if real {
        return true;
    }
    *learned_old = old;
    old
}

/// keepalived's address checks, done after counting the advert as received: every configured
/// VIP present, the source a peer, the TTL inside that peer's window.
#[inline(always)]
fn address_checks(
    ctx: &XdpContext,
    ip: &IpInfo,
    header: &VrrpHeader,
    config: &InstanceConfig,
    key: &InstanceKey,
    from_peer: bool,
) -> Result<(), usize> {
    if !vips::all_present(ctx, ip, header.addr_count, key) {
        return Err(RX_ADDRESS_LIST);
    }
    if config.flags & CONFIG_UNICAST != 0 && config.flags & CONFIG_CHECK_UNICAST_SRC != 0 {
        if !from_peer {
            return Err(RX_NOT_A_PEER);
        }
        if ip.ttl < config.min_ttl || ip.ttl > config.max_ttl {
            return Err(RX_TTL);
        }
    }
    Ok(())
}
