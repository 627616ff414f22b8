//! Counters, kept per CPU so that every increment is exact: the program adds to its own CPU's
//! copy and userspace sums them. Each struct is an array of `u64` in disguise; a counter is
//! addressed by its index constant so the XDP program needs no branch chain to pick one.

/// Defines a counter struct, one index constant per field, and the helpers both sides use.
macro_rules! counter_set {
    (
        $(#[$meta:meta])*
        $name:ident, $kinds:ident {
            $($(#[$fmeta:meta])* $field:ident = $index:ident,)*
        }
    ) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: u64,)*
        }

        counter_set!(@consts 0usize, $($index,)*);

        /// Number of counters in the struct.
        pub const $kinds: usize = [$(stringify!($field)),*].len();
        const _: () = assert!(core::mem::size_of::<$name>() == $kinds * 8);

        impl $name {
            /// Adds one to the counter at `index`; other indexes are ignored.
            #[inline(always)]
            pub fn count(&mut self, index: usize) {
                // SAFETY: a repr(C) struct of N u64 fields has the layout of [u64; N].
                let counters = unsafe { &mut *(self as *mut Self).cast::<[u64; $kinds]>() };
                if let Some(counter) = counters.get_mut(index) {
                    *counter += 1;
                }
            }

            /// Field-wise sum, for adding up per-CPU values.
            pub fn add(&mut self, other: &Self) {
                $(self.$field += other.$field;)*
            }

            /// Every counter with its name, in declaration order.
            pub fn named(&self) -> [(&'static str, u64); $kinds] {
                [$((stringify!($field), self.$field)),*]
            }
        }
    };
    (@consts $n:expr, $index:ident, $($rest:ident,)*) => {
        pub const $index: usize = $n;
        counter_set!(@consts $n + 1usize, $($rest,)*);
    };
    (@consts $n:expr,) => {};
}

counter_set! {
    /// Per instance ([`crate::InstanceKey`]), the counters of keepalived's stats file
    /// (`/tmp/keepalived.stats`, `vrrp_print.c`) with keepalived's check order and rules
    /// (`vrrp.c: vrrp_check_packet`), then the SNMP-only ones, then xvrrpd's own.
    RxCounters, RX_COUNTER_KINDS {
        /// "Advertisements: Received": passed type, version, length, auth and checksum checks
        /// (counted before the address list and unicast source checks, as keepalived does).
        received = RX_RECEIVED,
        /// "Priority Zero: Received": valid adverts with priority 0.
        priority_zero_received = RX_PRIORITY_ZERO,
        /// "Packet Errors: Length": the VRRP length is not exactly header + addresses (+ v2
        /// authentication): too short or too long.
        length = RX_LENGTH,
        /// "Packet Errors: TTL": not 255 on a multicast instance; outside the peer's window with
        /// `check_unicast_src`.
        ttl = RX_TTL,
        /// "Packet Errors: Invalid Type": type is not 1.
        invalid_type = RX_INVALID_TYPE,
        /// "Packet Errors: Address List": address count or a configured VIP missing.
        address_list = RX_ADDRESS_LIST,
        /// "Authentication Errors: Invalid Type": v2 auth type not 0, 1 or 2.
        auth_invalid_type = RX_AUTH_INVALID_TYPE,
        /// "Authentication Errors: Type Mismatch".
        auth_type_mismatch = RX_AUTH_TYPE_MISMATCH,
        /// "Authentication Errors: Failure": wrong password.
        auth_failure = RX_AUTH_FAILURE,
        /// SNMP only (`vers_err`): version differs from the instance's.
        version = RX_VERSION,
        /// SNMP only (`chk_err`): bad checksum. For IPv6 keepalived never sees these (the
        /// kernel drops them, `IPV6_CHECKSUM`); they are counted here all the same.
        checksum = RX_CHECKSUM,
        /// Not counted by keepalived, which drops it silently: v2 interval differs from ours
        /// (RFC 3768 section 7.1). keepalived's "Advertisement Interval" line is always 0.
        interval_mismatch = RX_INTERVAL_MISMATCH,
        /// Not counted by keepalived: a unicast source that is not a peer, with
        /// `check_unicast_src` (already counted as received, as keepalived does).
        not_a_peer = RX_NOT_A_PEER,
        /// Adverts while the policy says INIT or FAULT, when keepalived reads nothing: no
        /// other counter moves, but the state map is still kept.
        ignored_down = RX_IGNORED_DOWN,
    }
}

counter_set! {
    /// Per interface, frames carrying VRRP that were dropped (or passed, where said) before an
    /// instance was found. keepalived never sees these: the kernel drops them first, or no
    /// socket of keepalived's is bound to the destination.
    IfaceDrops, IFACE_DROP_KINDS {
        /// Destination MAC neither ours nor a group address (the kernel's PACKET_OTHERHOST).
        other_host = DROP_OTHER_HOST,
        /// IPv4 version/IHL/total length or IPv6 version nibble invalid.
        ip_header = DROP_IP_HEADER,
        /// IPv4 header checksum wrong.
        ip_checksum = DROP_IP_CHECKSUM,
        /// The frame holds less than the IP header says.
        truncated = DROP_TRUNCATED,
        /// A fragment: cannot be validated on its own (VRRP never needs fragmenting).
        fragment = DROP_FRAGMENT,
        /// Shorter than the 8-byte VRRP header (keepalived: "VRRP packet too short").
        short = DROP_SHORT,
        /// No instance for this VRID and destination: dropped.
        no_instance = DROP_NO_INSTANCE,
        /// No instance, passed untouched because of [`crate::IFACE_FOREIGN_PASS`].
        foreign_passed = DROP_FOREIGN_PASSED,
        /// VRRP behind an IPv6 extension header other than hop-by-hop and destination options:
        /// passed unvalidated.
        ipv6_ext_passed = DROP_IPV6_EXT_PASSED,
    }
}

counter_set! {
    /// Program-wide, one per CPU at index 0 of `vrrp_global`.
    GlobalStats, GLOBAL_STAT_KINDS {
        /// Events written to the ring buffer.
        events_sent = GLOBAL_EVENTS_SENT,
        /// Events held back by the per-instance rate limit (their kinds stay pending).
        events_suppressed = GLOBAL_EVENTS_SUPPRESSED,
        /// Events lost because the ring buffer was full (their kinds stay pending; re-read
        /// the state map).
        ring_full = GLOBAL_RING_FULL,
        /// State or counter entries that could not be created (map full).
        map_full = GLOBAL_MAP_FULL,
        /// Master-down timers the kernel would not set up or start (since 6.18 it allocates
        /// them with kmalloc_nolock, which fails under contention); userspace keeps the
        /// instance's deadline and the next advert tries again.
        timer_setup_failed = GLOBAL_TIMER_SETUP_FAILED,
    }
}

impl RxCounters {
    /// Everything keepalived would have counted as an error (stats file and SNMP).
    pub fn errors(&self) -> u64 {
        self.length
            + self.ttl
            + self.invalid_type
            + self.address_list
            + self.auth_invalid_type
            + self.auth_type_mismatch
            + self.auth_failure
            + self.version
            + self.checksum
    }
}
