//! The load balancer's maps (`xvrrpd_lb`, keepalived's `virtual_server` without IPVS).
//!
//! Userspace writes the virtual addresses, services, scheduling slots and destinations; the
//! program writes connections, persistence templates, connection counts and statistics.
//! Addresses are 16 bytes, IPv4 in the first four; ports are in host byte order (readable in
//! bpftool). As everywhere in this crate: `#[repr(C)]`, fixed-width integers, explicit padding,
//! sizes asserted, kinds as integer constants.

/// Name of the load balancer's XDP program inside its object file.
pub const LB_PROGRAM_NAME: &str = "xvrrpd_lb";

/// Name of the read-only global holding [`LbSettings`] (set at load time).
pub const LB_SETTINGS_GLOBAL: &str = "LB_SETTINGS";

/// Map names, as the program declares them and as they are pinned (under `<pin dir>/lb`).
pub mod lb_map_names {
    /// [`crate::LbVipKey`] -> [`crate::LbVip`].
    pub const VIPS: &str = "lb_vips";
    /// [`crate::LbServiceKey`] -> [`crate::LbService`].
    pub const SERVICES: &str = "lb_services";
    /// Slot index (`u32`) -> destination id (`u32`), per service region.
    pub const SLOTS: &str = "lb_slots";
    /// Destination id (`u32`) -> [`crate::LbDest`].
    pub const DESTS: &str = "lb_dests";
    /// Destination id (`u32`) -> [`crate::LbDestConns`], updated atomically (mmapable).
    pub const DEST_CONNS: &str = "lb_dest_conns";
    /// [`crate::LbConnKey`] -> [`crate::LbConn`] (LRU).
    pub const CONNS: &str = "lb_conns";
    /// [`crate::LbPersistKey`] -> [`crate::LbPersist`] (LRU).
    pub const PERSIST: &str = "lb_persist";
    /// Destination id -> [`crate::LbStats`], per CPU.
    pub const DEST_STATS: &str = "lb_dest_stats";
    /// Service id -> [`crate::LbStats`], per CPU.
    pub const SVC_STATS: &str = "lb_svc_stats";
    /// Service id -> round-robin cursor (`u32`), per CPU.
    pub const CURSORS: &str = "lb_cursors";
    /// One [`crate::LbGlobalStats`] per CPU.
    pub const GLOBAL: &str = "lb_global";

    /// Every map, in a fixed order.
    pub const ALL: [&str; 11] = [
        VIPS, SERVICES, SLOTS, DESTS, DEST_CONNS, CONNS, PERSIST, DEST_STATS, SVC_STATS, CURSORS,
        GLOBAL,
    ];
}

/// Capacity of the maps, shared by both sides.
pub const LB_MAX_VIPS: u32 = 1024;
pub const LB_MAX_SERVICES: u32 = 1024;
pub const LB_MAX_DESTS: u32 = 8192;
pub const LB_MAX_CONNS: u32 = 1 << 18;
pub const LB_MAX_PERSIST: u32 = 1 << 16;
/// Slots of one service region. Every service has two regions (userspace fills the one not in
/// use, then switches [`LbService::slot_base`]): a scheduler never sees a half-written table.
pub const LB_REGION_SLOTS: u32 = 4096;
pub const LB_SLOTS: u32 = LB_MAX_SERVICES * 2 * LB_REGION_SLOTS;
/// IPVS `mh`'s default lookup table size (CONFIG_IP_VS_MH_TAB_INDEX 12): a prime.
pub const LB_MH_TABLE_SIZE: u32 = 4093;
/// IPVS `sh`'s table size (IP_VS_SH_TAB_SIZE).
pub const LB_SH_TABLE_SIZE: u32 = 256;
/// A slot without a destination.
pub const LB_EMPTY_SLOT: u32 = u32::MAX;

/// [`LbVip::flags`]: this director holds the address now (VRRP master, or a static local
/// address): new and established flows to it are served. Without it everything passes.
pub const VIP_HELD: u32 = 1 << 0;
/// A `virtual_server IP 0` (every port) TCP service exists on this address.
pub const VIP_WILDCARD_TCP: u32 = 1 << 1;
/// The same for UDP.
pub const VIP_WILDCARD_UDP: u32 = 1 << 2;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LbVipKey {
    pub addr: [u8; 16],
    /// [`crate::FAMILY_IPV4`] or [`crate::FAMILY_IPV6`].
    pub family: u8,
    pub _pad: [u8; 3],
}
const _: () = assert!(core::mem::size_of::<LbVipKey>() == 20);

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LbVip {
    /// `VIP_*` bits.
    pub flags: u32,
}
const _: () = assert!(core::mem::size_of::<LbVip>() == 4);

/// IP protocol numbers the services use.
pub const LB_PROTO_TCP: u8 = 6;
pub const LB_PROTO_UDP: u8 = 17;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LbServiceKey {
    pub addr: [u8; 16],
    /// 0 for a service on every port (persistent by definition, as in IPVS).
    pub port: u16,
    /// [`LB_PROTO_TCP`] or [`LB_PROTO_UDP`].
    pub proto: u8,
    pub family: u8,
}
const _: () = assert!(core::mem::size_of::<LbServiceKey>() == 20);

/// [`LbService::sched`]: round robin (`rr`; also `wrr`, whose slots repeat destinations).
pub const SCHED_RR: u32 = 1;
/// `wrr`: the slots hold IPVS's interleaved weighted sequence.
pub const SCHED_WRR: u32 = 2;
/// `sh`: source hashing over [`LB_SH_TABLE_SIZE`] buckets.
pub const SCHED_SH: u32 = 3;
/// `mh`: Maglev hashing over [`LB_MH_TABLE_SIZE`] slots.
pub const SCHED_MH: u32 = 4;
/// `lc`: least connections (active x 256 + inactive, IPVS's overhead).
pub const SCHED_LC: u32 = 5;
/// `wlc`: least connections relative to weight.
pub const SCHED_WLC: u32 = 6;

/// [`LbService::flags`]: `persistence_timeout` is set: a client sticks to its server.
pub const SVC_PERSISTENT: u32 = 1 << 0;
/// `sh-port` / `mh-port`: the source port is hashed too.
pub const SVC_HASH_PORT: u32 = 1 << 1;
/// `ops`: one-packet scheduling (UDP): every datagram is scheduled, no connection is kept.
pub const SVC_ONE_PACKET: u32 = 1 << 2;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LbService {
    /// Index of the per-service arrays (cursors, statistics).
    pub id: u32,
    /// `SVC_*` bits.
    pub flags: u32,
    /// `SCHED_*`.
    pub sched: u32,
    /// First slot of the region in use.
    pub slot_base: u32,
    /// Slots in use (0: no destination can take a new connection).
    pub slot_count: u32,
    /// `persistence_timeout` in seconds.
    pub persist_timeout_s: u32,
    /// `persistence_granularity` as a mask over the client address (all ones by default).
    pub granularity: [u8; 16],
}
const _: () = assert!(core::mem::size_of::<LbService>() == 40);

/// [`LbDest::method`]: `lb_kind DR`: the frame goes to the server's MAC unchanged.
pub const FWD_DR: u8 = 1;
/// `lb_kind TUN`: IP-in-IP (IPv4) or IPv6-in-IPv6 towards the server.
pub const FWD_TUN: u8 = 2;
/// `lb_kind NAT`: destination rewritten to the server, replies rewritten back.
pub const FWD_NAT: u8 = 3;

/// [`LbDest::flags`]: the destination belongs to its service now. Flows of a destination
/// without it (removed by a checker) are scheduled again; a live destination of weight 0
/// (`inhibit_on_failure`) keeps its flows and gets no new ones.
pub const DEST_LIVE: u32 = 1 << 0;
/// `ifindex`, `mac` and `src_mac` are known (from the kernel's routes and neighbours).
pub const DEST_RESOLVED: u32 = 1 << 1;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LbDest {
    pub addr: [u8; 16],
    /// TUN: the outer source address (the director's own address towards the server).
    pub tun_src: [u8; 16],
    pub port: u16,
    /// `FWD_*`.
    pub method: u8,
    pub family: u8,
    /// IPVS weight (0..65535); 0 takes no new connections.
    pub weight: u32,
    /// `DEST_*` bits.
    pub flags: u32,
    /// Incremented whenever the id is given to another destination: connections and
    /// templates that carry an older generation are stale.
    pub generation: u32,
    /// The service it belongs to.
    pub svc: u32,
    /// Egress interface and the next hop's MAC (the server, or its gateway for TUN).
    pub ifindex: u32,
    pub mac: [u8; 6],
    pub src_mac: [u8; 6],
    /// MTU of the egress interface (TUN: an encapsulated frame larger than this is dropped).
    pub mtu: u32,
}
const _: () = assert!(core::mem::size_of::<LbDest>() == 72);

/// Connections per destination, as IPVS counts them (`ActiveConn`: established TCP,
/// `InActConn`: everything else). The program adds and subtracts atomically; the daemon
/// subtracts for the connections it expires (through the map's memory, also atomically).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LbDestConns {
    pub active: u64,
    pub inactive: u64,
}
const _: () = assert!(core::mem::size_of::<LbDestConns>() == 16);

/// [`LbConnKey::dir`]: client to virtual service.
pub const DIR_IN: u8 = 0;
/// NAT: real server back to the client (source is the server).
pub const DIR_REPLY: u8 = 1;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LbConnKey {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub family: u8,
    /// `DIR_*`.
    pub dir: u8,
    pub _pad: u8,
}
const _: () = assert!(core::mem::size_of::<LbConnKey>() == 40);

/// [`LbConn::state`], from what the director sees of the client's side (IPVS's input-only
/// table for DR and TUN): a SYN, then any ACK, then FIN or RST.
pub const CONN_SYN: u8 = 1;
pub const CONN_ESTABLISHED: u8 = 2;
pub const CONN_CLOSING: u8 = 3;
pub const CONN_UDP: u8 = 4;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LbConn {
    pub dest: u32,
    /// [`LbDest::gen`] when the connection was scheduled.
    pub generation: u32,
    pub svc: u32,
    /// `CONN_*`.
    pub state: u8,
    /// Family of `addr`.
    pub family: u8,
    pub _pad: [u8; 2],
    /// CLOCK_MONOTONIC (coarse) of the last packet.
    pub last_seen_ns: u64,
    /// When the persistence template was last refreshed by this connection (0: the service
    /// is not persistent).
    pub persist_touch_ns: u64,
    /// [`DIR_IN`]: the client as its persistence template knows it (masked by
    /// `persistence_granularity`). [`DIR_REPLY`]: the virtual address to put back as source.
    pub addr: [u8; 16],
    /// [`DIR_REPLY`]: the virtual port to put back.
    pub port: u16,
    /// [`DIR_REPLY`]: where the client's packets came from (the next hop back to it) and the
    /// director's MAC they came to.
    pub client_mac: [u8; 6],
    pub local_mac: [u8; 6],
    pub _pad2: [u8; 2],
    pub client_ifindex: u32,
}
const _: () = assert!(core::mem::size_of::<LbConn>() == 72);

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LbPersistKey {
    pub svc: u32,
    pub family: u8,
    pub _pad: [u8; 3],
    /// The client address masked by `persistence_granularity`.
    pub client: [u8; 16],
}
const _: () = assert!(core::mem::size_of::<LbPersistKey>() == 24);

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LbPersist {
    pub dest: u32,
    pub generation: u32,
    pub last_used_ns: u64,
}
const _: () = assert!(core::mem::size_of::<LbPersist>() == 16);

/// Per destination and per service, per CPU: ipvsadm's `--stats` columns.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LbStats {
    pub conns: u64,
    pub in_pkts: u64,
    pub in_bytes: u64,
    pub out_pkts: u64,
    pub out_bytes: u64,
}
const _: () = assert!(core::mem::size_of::<LbStats>() == 40);

impl LbStats {
    pub fn add(&mut self, other: &Self) {
        self.conns += other.conns;
        self.in_pkts += other.in_pkts;
        self.in_bytes += other.in_bytes;
        self.out_pkts += other.out_pkts;
        self.out_bytes += other.out_bytes;
    }
}

/// What the load balancer passed or dropped instead of forwarding, per CPU. Indexed by the
/// `LB_*` constants below (the program adds one with [`LbGlobalStats::count`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LbGlobalStats {
    /// A frame for a virtual address this director does not hold now: passed.
    pub not_held: u64,
    /// For a held address but no service (port, protocol): passed to the stack.
    pub no_service: u64,
    /// A new flow and no destination with weight above 0: passed (the stack answers).
    pub no_dest: u64,
    /// The destination's next hop is not resolved yet: dropped.
    pub unresolved: u64,
    /// TUN: the encapsulated frame would exceed the egress MTU: dropped.
    pub too_big: u64,
    /// IPv4 fragments and IPv6 extension headers to a virtual address: passed.
    pub unparsed: u64,
    /// The connection table refused an entry (the flow is still forwarded).
    pub conn_full: u64,
    /// A TCP packet without SYN for an unknown flow, scheduled anyway (another director had
    /// it, or its entry expired).
    pub midstream: u64,
    /// NAT replies rewritten back to the virtual address.
    pub nat_replies: u64,
}

pub const LB_NOT_HELD: usize = 0;
pub const LB_NO_SERVICE: usize = 1;
pub const LB_NO_DEST: usize = 2;
pub const LB_UNRESOLVED: usize = 3;
pub const LB_TOO_BIG: usize = 4;
pub const LB_UNPARSED: usize = 5;
pub const LB_CONN_FULL: usize = 6;
pub const LB_MIDSTREAM: usize = 7;
pub const LB_NAT_REPLIES: usize = 8;
/// Number of counters in [`LbGlobalStats`].
pub const LB_GLOBAL_KINDS: usize = 9;
const _: () = assert!(core::mem::size_of::<LbGlobalStats>() == LB_GLOBAL_KINDS * 8);

impl LbGlobalStats {
    /// Adds one to the counter at `index`; other indexes are ignored.
    #[inline(always)]
    pub fn count(&mut self, index: usize) {
        // SAFETY: a repr(C) struct of N u64 fields has the layout of [u64; N].
        let counters = unsafe { &mut *(self as *mut Self).cast::<[u64; LB_GLOBAL_KINDS]>() };
        if let Some(counter) = counters.get_mut(index) {
            *counter += 1;
        }
    }

    pub fn add(&mut self, other: &Self) {
        // SAFETY: as in `count`.
        let mine = unsafe { &mut *(self as *mut Self).cast::<[u64; LB_GLOBAL_KINDS]>() };
        let theirs = unsafe { &*(other as *const Self).cast::<[u64; LB_GLOBAL_KINDS]>() };
        for (a, b) in mine.iter_mut().zip(theirs) {
            *a += b;
        }
    }

    pub fn named(&self) -> [(&'static str, u64); LB_GLOBAL_KINDS] {
        [
            ("not_held", self.not_held),
            ("no_service", self.no_service),
            ("no_dest", self.no_dest),
            ("unresolved", self.unresolved),
            ("too_big", self.too_big),
            ("unparsed", self.unparsed),
            ("conn_full", self.conn_full),
            ("midstream", self.midstream),
            ("nat_replies", self.nat_replies),
        ]
    }
}

/// Load-time settings of the program ([`LB_SETTINGS_GLOBAL`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LbSettings {
    /// `LB_SETTING_*` bits.
    pub flags: u32,
    pub _pad: u32,
}
const _: () = assert!(core::mem::size_of::<LbSettings>() == 8);

/// Some service forwards by NAT: frames that are no virtual address's are looked up as
/// replies (the only cost the load balancer adds to other traffic then).
pub const LB_SETTING_NAT: u32 = 1 << 0;

/// The hash `sh` and `mh` place a client by (its address, and its port with `sh-port` /
/// `mh-port`): both sides use this one, so tests can tell where a client must land.
#[inline(always)]
pub fn lb_flow_hash(addr: &[u8; 16], port: Option<u16>) -> u32 {
    let mut hash = 0x9e37_79b9u32;
    let mut i = 0;
    while i < 16 {
        let word = u32::from_be_bytes([addr[i], addr[i + 1], addr[i + 2], addr[i + 3]]);
        hash = lb_mix(hash ^ word);
        i += 4;
    }
    if let Some(port) = port {
        hash = lb_mix(hash ^ port as u32);
    }
    hash
}

/// A 32-bit finaliser (lowbias32): every input bit moves every output bit.
#[inline(always)]
pub fn lb_mix(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}
