//! Types shared by the XDP program (`vrrp-ebpf`) and the daemon (`vrrp-userspace`).
//!
//! Every map key and value is `#[repr(C)]`, made only of fixed-width integers with explicit
//! padding, and has its size asserted at compile time: both sides read the same bytes, and the
//! kernel's BTF describes them so `bpftool map dump` prints named fields. No enums: a value read
//! back from a map that is not a valid discriminant would be undefined behaviour, so kinds are
//! plain integers with named constants.
#![no_std]

pub mod proto;

/// Map names, as the XDP program declares them and as they are pinned under the bpffs directory.
pub mod map_names {
    /// [`crate::InstanceKey`] -> [`crate::InstanceConfig`]: the instances this host runs.
    pub const CONFIG: &str = "vrrp_config";
    /// [`crate::InstanceKey`] -> [`crate::InstanceState`]: what was last heard from each master.
    pub const STATE: &str = "vrrp_state";
    /// Interface index (`u32`) -> [`crate::RxErrors`], per CPU: every advert dropped on an interface.
    pub const IFACE_ERRORS: &str = "vrrp_if_errors";
    /// Ring buffer of [`crate::VrrpEvent`]: only what userspace must act on.
    pub const EVENTS: &str = "vrrp_events";
}

/// Name of the XDP program inside the object file.
pub const PROGRAM_NAME: &str = "vrrp_rx";

/// Name of the read-only global that turns the program into a pure observer (see [`OBSERVE_ALL`]).
pub const OBSERVE_ALL_GLOBAL: &str = "OBSERVE_ALL";
/// Value of [`OBSERVE_ALL_GLOBAL`] for `xvrrpd monitor`: record every VRID, drop nothing.
pub const OBSERVE_ALL: u8 = 1;

/// Address family as stored in [`InstanceKey::family`]: the IP version number, readable in bpftool.
pub const FAMILY_IPV4: u8 = 4;
/// See [`FAMILY_IPV4`].
pub const FAMILY_IPV6: u8 = 6;

/// Identifies one virtual router on one link: keepalived allows the same VRID once per interface
/// and address family (RFC 5798 section 5.2.3).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceKey {
    pub ifindex: u32,
    /// [`FAMILY_IPV4`] or [`FAMILY_IPV6`].
    pub family: u8,
    pub vrid: u8,
    pub _pad: [u8; 2],
}
const _: () = assert!(core::mem::size_of::<InstanceKey>() == 8);

impl InstanceKey {
    pub const fn new(ifindex: u32, family: u8, vrid: u8) -> Self {
        Self {
            ifindex,
            family,
            vrid,
            _pad: [0; 2],
        }
    }
}

/// [`InstanceConfig::flags`]: a v3 IPv4 checksum leaves out the pseudo-header (keepalived's
/// `v3_checksum_as_v2`, for peers that compute it that way).
pub const CONFIG_V3_CHECKSUM_AS_V2: u8 = 1 << 0;
/// [`InstanceConfig::flags`]: the instance runs unicast (`unicast_peer`), so adverts must arrive
/// to a unicast address and their TTL is checked against `min_ttl..=max_ttl`.
pub const CONFIG_UNICAST: u8 = 1 << 1;

/// How the XDP program validates adverts for one configured instance.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstanceConfig {
    /// VRRP version the instance speaks: 2 or 3.
    pub version: u8,
    /// `CONFIG_*` bits.
    pub flags: u8,
    /// [`proto::AUTH_NONE`] or [`proto::AUTH_PASS`] (v2 only).
    pub auth_type: u8,
    /// Unicast TTL window; multicast adverts always need TTL 255 (RFC 5798 section 7.1).
    pub min_ttl: u8,
    pub max_ttl: u8,
    pub _pad: [u8; 1],
    /// Configured advert interval in centiseconds: a v2 advert must carry the same number of
    /// seconds (RFC 3768 section 7.1), a v3 advert may differ and is adopted.
    pub advert_interval_cs: u16,
    /// `auth_pass`, zero padded (RFC 3768 section 5.3.10).
    pub auth_pass: [u8; 8],
}
const _: () = assert!(core::mem::size_of::<InstanceConfig>() == 16);

/// Counters of dropped or rejected adverts, by reason. The names follow keepalived's stats file
/// ("Packet Errors", "Authentication Errors") plus the checks keepalived does not count.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxErrors {
    /// Truncated packet, or shorter than its address count requires.
    pub length: u64,
    /// TTL / hop limit not 255 on multicast, or outside the unicast window.
    pub ttl: u64,
    /// Version not the configured one (or v2 over IPv6).
    pub version: u64,
    /// Type is not 1 (ADVERTISEMENT).
    pub invalid_type: u64,
    pub checksum: u64,
    /// Authentication type not one of 0, 1, 2.
    pub auth_invalid_type: u64,
    /// Authentication type differs from the configured one.
    pub auth_type_mismatch: u64,
    /// Wrong password.
    pub auth_failure: u64,
    /// v2 advert interval differs from the configured one.
    pub advert_interval: u64,
    /// Multicast advert for a unicast instance or the other way round.
    pub mode_mismatch: u64,
    /// Advert for a VRID this host does not run on that interface and family.
    pub unknown_vrid: u64,
    /// IPv6 packets with an extension header: passed to the stack unparsed, counted here.
    pub ipv6_ext_header_passed: u64,
}
const _: () = assert!(core::mem::size_of::<RxErrors>() == RX_ERROR_KINDS * 8);

/// One counter of [`RxErrors`], as a plain integer so it can travel through maps and events.
pub type RxErrorKind = u8;
pub const ERR_LENGTH: RxErrorKind = 0;
pub const ERR_TTL: RxErrorKind = 1;
pub const ERR_VERSION: RxErrorKind = 2;
pub const ERR_INVALID_TYPE: RxErrorKind = 3;
pub const ERR_CHECKSUM: RxErrorKind = 4;
pub const ERR_AUTH_INVALID_TYPE: RxErrorKind = 5;
pub const ERR_AUTH_TYPE_MISMATCH: RxErrorKind = 6;
pub const ERR_AUTH_FAILURE: RxErrorKind = 7;
pub const ERR_ADVERT_INTERVAL: RxErrorKind = 8;
pub const ERR_MODE_MISMATCH: RxErrorKind = 9;
pub const ERR_UNKNOWN_VRID: RxErrorKind = 10;
/// Not an error: see [`RxErrors::ipv6_ext_header_passed`].
pub const COUNT_IPV6_EXT_HEADER_PASSED: RxErrorKind = 11;
/// Number of counters in [`RxErrors`].
pub const RX_ERROR_KINDS: usize = 12;

impl RxErrors {
    /// Adds one to the counter for `kind`; unknown kinds are ignored. Indexes the counters as an
    /// array instead of matching on the kind, so the XDP program gets no branch chain.
    #[inline(always)]
    pub fn count(&mut self, kind: RxErrorKind) {
        // SAFETY: a repr(C) struct of RX_ERROR_KINDS u64 fields has the layout of the array.
        let counters = unsafe { &mut *(self as *mut Self).cast::<[u64; RX_ERROR_KINDS]>() };
        if let Some(counter) = counters.get_mut(kind as usize) {
            *counter += 1;
        }
    }

    /// Field-wise sum, for adding up per-CPU values.
    pub fn add(&mut self, other: &Self) {
        self.length += other.length;
        self.ttl += other.ttl;
        self.version += other.version;
        self.invalid_type += other.invalid_type;
        self.checksum += other.checksum;
        self.auth_invalid_type += other.auth_invalid_type;
        self.auth_type_mismatch += other.auth_type_mismatch;
        self.auth_failure += other.auth_failure;
        self.advert_interval += other.advert_interval;
        self.mode_mismatch += other.mode_mismatch;
        self.unknown_vrid += other.unknown_vrid;
        self.ipv6_ext_header_passed += other.ipv6_ext_header_passed;
    }

    /// Every counter with its name, in declaration order.
    pub fn named(&self) -> [(&'static str, u64); RX_ERROR_KINDS] {
        [
            ("length", self.length),
            ("ttl", self.ttl),
            ("version", self.version),
            ("invalid_type", self.invalid_type),
            ("checksum", self.checksum),
            ("auth_invalid_type", self.auth_invalid_type),
            ("auth_type_mismatch", self.auth_type_mismatch),
            ("auth_failure", self.auth_failure),
            ("advert_interval", self.advert_interval),
            ("mode_mismatch", self.mode_mismatch),
            ("unknown_vrid", self.unknown_vrid),
            ("ipv6_ext_header_passed", self.ipv6_ext_header_passed),
        ]
    }

    pub fn total(&self) -> u64 {
        self.named().iter().map(|(_, n)| n).sum()
    }
}

/// What the XDP program last heard for one instance. Written only by the program; userspace
/// reads it. Counter updates may race between CPUs and lose an increment; liveness never does.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstanceState {
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) of the last valid advert; 0 = none yet.
    pub last_seen_ns: u64,
    /// Valid adverts received.
    pub received: u64,
    /// Valid adverts with priority 0 (master leaving, RFC 5798 section 6.4.2).
    pub priority_zero_received: u64,
    /// Source address of the last valid advert; IPv4 uses the first four bytes.
    pub master_addr: [u8; 16],
    /// Priority of the last valid advert.
    pub master_priority: u8,
    /// Version of the last valid advert.
    pub version: u8,
    /// Advertised interval of the last valid advert, in centiseconds (v2 seconds x 100).
    pub advert_interval_cs: u16,
    /// Number of addresses in the last valid advert.
    pub addr_count: u8,
    pub _pad: [u8; 3],
    /// Adverts for this instance that failed validation.
    pub errors: RxErrors,
}
const _: () = assert!(core::mem::size_of::<InstanceState>() == 8 * 3 + 16 + 8 + 12 * 8);

/// [`VrrpEvent::kinds`] bits. One event may carry several.
pub const EVENT_NEW_MASTER: u32 = 1 << 0;
pub const EVENT_PRIORITY_CHANGE: u32 = 1 << 1;
pub const EVENT_PRIORITY_ZERO: u32 = 1 << 2;
pub const EVENT_INTERVAL_CHANGE: u32 = 1 << 3;
/// First advert ever, or the first after more than [`SILENCE_ADVERTS`] intervals of silence.
pub const EVENT_AFTER_SILENCE: u32 = 1 << 4;

/// A gap longer than this many advertised intervals counts as silence. Three is the number of
/// missed adverts after which a backup declares the master down (RFC 5798 section 6.1).
pub const SILENCE_ADVERTS: u64 = 3;

/// A change userspace must act on, sent through the ring buffer. Steady-state adverts send none.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VrrpEvent {
    pub key: InstanceKey,
    /// `EVENT_*` bits.
    pub kinds: u32,
    pub priority: u8,
    pub previous_priority: u8,
    pub advert_interval_cs: u16,
    pub timestamp_ns: u64,
    pub master_addr: [u8; 16],
}
const _: () = assert!(core::mem::size_of::<VrrpEvent>() == 8 + 4 + 4 + 8 + 16);

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all of these are repr(C), made of integers and byte arrays with explicit padding,
    // so every bit pattern is a valid value.
    unsafe impl aya::Pod for super::InstanceKey {}
    unsafe impl aya::Pod for super::InstanceConfig {}
    unsafe impl aya::Pod for super::InstanceState {}
    unsafe impl aya::Pod for super::RxErrors {}
    unsafe impl aya::Pod for super::VrrpEvent {}
}
