//! What userspace writes: how adverts are checked (`vrrp_config`, `vrrp_vips`), the engine's
//! receive policy (`vrrp_policy`) and per-interface settings (`vrrp_ifaces`).

/// [`InstanceConfig::flags`]: the instance runs unicast (`unicast_peer`): no TTL 255 rule, and
/// the per-peer TTL window applies when [`CONFIG_CHECK_UNICAST_SRC`] is set.
pub const CONFIG_UNICAST: u16 = 1 << 0;
/// keepalived's `check_unicast_src` (or the global `vrrp_check_unicast_src`): adverts from
/// sources that are not peers are rejected, and the peer's `min_ttl`/`max_ttl` is checked.
/// keepalived checks both only when it checks the address list (see
/// [`CONFIG_SKIP_CHECK_ADV_ADDR`]).
pub const CONFIG_CHECK_UNICAST_SRC: u16 = 1 << 1;
/// keepalived's `skip_check_adv_addr`: in BACKUP, adverts from the master last accepted skip
/// the address-list check (and with it the unicast source and TTL-window checks).
pub const CONFIG_SKIP_CHECK_ADV_ADDR: u16 = 1 << 2;
/// A v3 IPv4 checksum leaves out the pseudo-header (`v3_checksum_as_v2`, for peers that compute
/// it that way; keepalived 2.2.7 does not have this option).
pub const CONFIG_V3_CHECKSUM_AS_V2: u16 = 1 << 3;
/// `old_unicast_checksum`: unicast v3 IPv4 checksums use the multicast group
/// ([`InstanceConfig::mcast_group4`]) in the pseudo-header, as keepalived up to 1.3.6 did.
pub const CONFIG_OLD_UNICAST_CHECKSUM: u16 = 1 << 4;
/// keepalived's default for unicast (no `old_unicast_checksum`): a v3 IPv4 checksum that fails
/// with the real destination is tried with the multicast group; if that matches, the instance
/// switches to the old form for good (`CHKSUM_COMPATIBILITY_AUTO`), recorded as
/// [`crate::STATE_OLD_UNICAST_CHECKSUM`] with an [`crate::EVENT_OLD_CHECKSUM`] event.
/// `old_unicast_checksum never` sets neither this nor [`CONFIG_OLD_UNICAST_CHECKSUM`].
pub const CONFIG_UNICAST_CHECKSUM_AUTO: u16 = 1 << 5;

/// How the program validates adverts for one instance (one entry per [`crate::RxKey`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstanceConfig {
    /// VRRP version the instance speaks: 2 or 3.
    pub version: u8,
    /// [`crate::proto::AUTH_NONE`] or [`crate::proto::AUTH_PASS`] (v2 only). AH is not handled
    /// by the XDP receive path: userspace refuses such instances.
    pub auth_type: u8,
    /// `CONFIG_*` bits.
    pub flags: u16,
    /// Number of configured virtual addresses (keepalived's `vip_cnt`, duplicates included):
    /// an advert must carry exactly this many.
    pub vip_count: u8,
    /// TTL window of this entry's peer; checked only with [`CONFIG_CHECK_UNICAST_SRC`].
    pub min_ttl: u8,
    pub max_ttl: u8,
    pub _pad: u8,
    /// Configured advert interval in centiseconds: a v2 advert must carry the same number of
    /// seconds (RFC 3768 section 7.1); a v3 advert may differ and is adopted.
    pub advert_interval_cs: u16,
    pub _pad2: [u8; 2],
    /// `auth_pass`, zero padded (RFC 3768 section 5.3.10).
    pub auth_pass: [u8; 8],
    /// keepalived's global `vrrp_mcast_group4` (224.0.0.18 by default), which the old unicast
    /// checksum puts in the pseudo-header.
    pub mcast_group4: [u8; 4],
}
const _: () = assert!(core::mem::size_of::<InstanceConfig>() == 24);

/// [`ReceivePolicy::state`]: the instance is starting; adverts count as "master alive".
pub const POLICY_INIT: u8 = 0;
pub const POLICY_BACKUP: u8 = 1;
pub const POLICY_MASTER: u8 = 2;
/// keepalived reads no adverts in FAULT (nor INIT): keepalived's counters stay still then.
pub const POLICY_FAULT: u8 = 3;

/// [`ReceivePolicy::flags`]: a lower priority advert still counts as "master alive" (`nopreempt`,
/// or a `preempt_delay` window that is open; see [`ReceivePolicy::preempt_until_ns`]).
pub const POLICY_ACCEPT_LOWER: u8 = 1 << 0;

/// The engine's view of one instance, written by the daemon whenever it changes. The program
/// uses it to decide which adverts mean "master alive", which are worth an event, and how long
/// the master-down timer of a backup runs (RFC 5798 section 6.1, computed as the engine does).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceivePolicy {
    /// `POLICY_*` state.
    pub state: u8,
    /// Effective priority (after tracking).
    pub priority: u8,
    /// `POLICY_*` flag bits.
    pub flags: u8,
    /// VRRP version (2 or 3): a v2 Skew_Time does not scale with the interval, and a v2 backup
    /// keeps its configured interval.
    pub version: u8,
    /// Our advert source address, for the equal-priority tie-break (RFC 5798 section 6.4.3).
    pub local_addr: [u8; 16],
    /// keepalived's `down_timer_adverts` (3 by default): Master_Down_Interval is this many
    /// intervals plus Skew_Time.
    pub down_timer_adverts: u8,
    pub _pad: u8,
    /// The configured `advert_int` in centiseconds (a v2 backup's Master_Adver_Interval).
    pub advert_interval_cs: u16,
    /// The engine's Master_Adver_Interval now (a v3 backup adopts the master's), in
    /// centiseconds: the interval a priority-0 advert's Skew_Time is computed from until an
    /// accepted advert says otherwise.
    pub master_adver_interval_cs: u16,
    pub _pad2: u16,
    /// Incremented by the daemon whenever it writes another `state`: a master-down timer armed
    /// under an older generation belongs to a state the instance has left.
    pub generation: u32,
    /// With [`POLICY_ACCEPT_LOWER`] set by a `preempt_delay` window: when the window closes
    /// (CLOCK_MONOTONIC ns); lower adverts stop counting then. 0: no end.
    pub preempt_until_ns: u64,
}
const _: () = assert!(core::mem::size_of::<ReceivePolicy>() == 40);

impl ReceivePolicy {
    /// Whether an advert of lower priority than ours counts as "master alive" at `now`.
    #[inline(always)]
    pub fn accepts_lower(&self, now: u64) -> bool {
        self.flags & POLICY_ACCEPT_LOWER != 0
            && (self.preempt_until_ns == 0 || now < self.preempt_until_ns)
    }

    /// Master_Adver_Interval in nanoseconds for an accepted advert that says `advertised_cs`:
    /// v3 adopts the master's interval, v2 keeps the configured one (RFC 5798 section 6.4.2).
    #[inline(always)]
    pub fn adopted_interval_cs(&self, advertised_cs: u16) -> u16 {
        if self.version == 3 {
            advertised_cs
        } else {
            self.advert_interval_cs
        }
    }

    /// Skew_Time for our priority: v3 `(256 - prio) x interval / 256`; v2 `(256 - prio) / 256`
    /// s whatever the interval, as keepalived keeps it (nanoseconds, never truncated to
    /// centiseconds).
    #[inline(always)]
    pub fn skew_time_ns(&self, interval_cs: u16) -> u64 {
        let weight = 256 - self.priority as u64;
        if self.version == 3 {
            weight * interval_cs as u64 * CENTISECOND_NS / 256
        } else {
            weight * 1_000_000_000 / 256
        }
    }

    /// Master_Down_Interval: `down_timer_adverts x interval + Skew_Time`.
    #[inline(always)]
    pub fn master_down_interval_ns(&self, interval_cs: u16) -> u64 {
        self.down_timer_adverts as u64 * interval_cs as u64 * CENTISECOND_NS
            + self.skew_time_ns(interval_cs)
    }
}

/// Nanoseconds in a centisecond, the unit of VRRPv3 intervals.
pub const CENTISECOND_NS: u64 = 10_000_000;

/// [`IfaceConfig::flags`]: adverts for instances this host does not run (unknown VRID or
/// destination) pass to the stack untouched, for another VRRP speaker on this host.
pub const IFACE_FOREIGN_PASS: u8 = 1 << 0;
/// Frames to another host's MAC pass untouched instead of being dropped (a bridge port, or an
/// interface in promiscuous mode that forwards).
pub const IFACE_OTHER_HOST_PASS: u8 = 1 << 1;

/// Per-interface settings. Without an entry the destination MAC is not checked and adverts
/// for unknown instances are dropped.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfaceConfig {
    /// The interface's MAC: a VRRP frame must be sent to it or to a group address.
    pub mac: [u8; 6],
    /// `IFACE_*` bits.
    pub flags: u8,
    pub _pad: u8,
}
const _: () = assert!(core::mem::size_of::<IfaceConfig>() == 8);
