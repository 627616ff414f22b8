//! How an advert finds its instance. keepalived keys its receive sockets by address family,
//! interface and either the multicast group (multicast instances) or the local unicast source
//! address (unicast instances), then looks the VRID up within the socket
//! (`vrrp_scheduler.c: already_exist_sock`). The program builds the same identity from the
//! packet: ingress interface, family, VRID and the packet's destination address. An advert to a
//! group or an address no instance uses finds nothing, as in keepalived, whose sockets are bound
//! to exactly those addresses.

/// One instance on one link. `dst` is the multicast group the instance listens to (224.0.0.18,
/// ff02::12 or its `mcast_dst_ip`) or, for unicast instances, the local address peers send to
/// (`unicast_src_ip`, else the interface's primary address). IPv4 uses the first four bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceKey {
    pub ifindex: u32,
    /// [`crate::FAMILY_IPV4`] or [`crate::FAMILY_IPV6`].
    pub family: u8,
    pub vrid: u8,
    /// Tells apart unicast instances that share interface, VRID and local address and differ
    /// only in their peers (keepalived's `VRRP_FLAG_UNICAST_DUPLICATE_VRID`, which finds the
    /// instance by the advert's source): 0 for the first such instance (and every other
    /// instance), 1, 2... for the next. The program reads it from the slots map by the
    /// advert's source (see `map_names::SLOTS`).
    pub slot: u8,
    pub _pad: u8,
    pub dst: [u8; 16],
}
const _: () = assert!(core::mem::size_of::<InstanceKey>() == 24);

impl InstanceKey {
    pub const fn new(ifindex: u32, family: u8, vrid: u8, dst: [u8; 16]) -> Self {
        Self {
            ifindex,
            family,
            vrid,
            slot: 0,
            _pad: 0,
            dst,
        }
    }

    /// The same instance identity in another slot.
    pub const fn with_slot(self, slot: u8) -> Self {
        Self { slot, ..self }
    }
}

/// Key of `vrrp_config`: an instance and the advert's source. Multicast instances, and unicast
/// instances without `check_unicast_src`, have one entry with `src` all zeros (any source).
/// Unicast instances with the check have one entry per peer (with that peer's TTL window) plus
/// the zero-source entry, which only lets adverts from non-peers be counted as keepalived counts
/// them before it rejects them. The program looks up the exact source first (unicast only), then
/// the zero source.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RxKey {
    pub instance: InstanceKey,
    pub src: [u8; 16],
}
const _: () = assert!(core::mem::size_of::<RxKey>() == 40);

impl RxKey {
    /// The zero-source entry of `instance`.
    pub const fn any_source(instance: InstanceKey) -> Self {
        Self {
            instance,
            src: [0; 16],
        }
    }

    pub const fn peer(instance: InstanceKey, src: [u8; 16]) -> Self {
        Self { instance, src }
    }
}

/// Key of `vrrp_vips`: one virtual address of an instance (IPv4 in the first four bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VipKey {
    pub instance: InstanceKey,
    pub addr: [u8; 16],
}
const _: () = assert!(core::mem::size_of::<VipKey>() == 40);

/// Value of `vrrp_vips`. keepalived accepts an advert only if its address count equals the
/// number of configured VIPs and every configured VIP is among its addresses
/// (`vrrp.c: vrrp_check_packet`, `vrrp_in_chk_vips`). The program marks `index` for every
/// advertised address found here and requires all `distinct` indexes marked.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VipEntry {
    /// 0..distinct, one per distinct configured address.
    pub index: u8,
    /// Number of distinct configured addresses (the same in every entry of the instance).
    pub distinct: u8,
    pub _pad: [u8; 2],
}
const _: () = assert!(core::mem::size_of::<VipEntry>() == 4);
