//! Frames that move a virtual address to the new master's MAC: gratuitous ARP for IPv4
//! (RFC 5798 section 6.4.1: "broadcast a gratuitous ARP request") and unsolicited Neighbor
//! Advertisements for IPv6 (RFC 4861 section 7.2.6).

use std::net::{Ipv4Addr, Ipv6Addr};

use vrrp_common::proto::{ETHERTYPE_ARP, ETHERTYPE_IPV6, VRRP_TTL};

use super::checksum;

const BROADCAST_MAC: [u8; 6] = [0xff; 6];
const ICMPV6: u8 = 58;
const NEIGHBOR_ADVERTISEMENT: u8 = 136;
/// NA flags (RFC 4861 section 4.4).
const NA_ROUTER: u8 = 0x80;
const NA_OVERRIDE: u8 = 0x20;
/// NDP option: target link-layer address.
const OPTION_TARGET_LINK_LAYER: u8 = 2;
/// ff02::1, all nodes.
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// An ARP request announcing `address` at `mac`: sender and target protocol address are both the
/// virtual address, target hardware address and Ethernet destination are broadcast (keepalived
/// sends this form; hosts update their cache from the sender fields).
pub fn gratuitous_arp(mac: [u8; 6], address: Ipv4Addr) -> Vec<u8> {
    let mut frame = Vec::with_capacity(42);
    frame.extend_from_slice(&BROADCAST_MAC);
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    frame.extend_from_slice(&[0x00, 0x01]); // hardware type: Ethernet
    frame.extend_from_slice(&0x0800u16.to_be_bytes()); // protocol type: IPv4
    frame.extend_from_slice(&[6, 4]); // address lengths
    frame.extend_from_slice(&[0x00, 0x01]); // operation: request
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&address.octets());
    frame.extend_from_slice(&BROADCAST_MAC);
    frame.extend_from_slice(&address.octets());
    frame
}

/// An unsolicited Neighbor Advertisement for `target` to all nodes, hop limit 255, Override
/// set, Router set when the host forwards. Like keepalived, the virtual address is also the
/// source (it is assigned to the interface, as RFC 4861 section 7.2.6 asks).
pub fn unsolicited_na(mac: [u8; 6], target: Ipv6Addr, router: bool) -> Vec<u8> {
    let source = target;
    let mut icmp = Vec::with_capacity(32);
    icmp.extend_from_slice(&[NEIGHBOR_ADVERTISEMENT, 0, 0, 0]);
    icmp.push(NA_OVERRIDE | if router { NA_ROUTER } else { 0 });
    icmp.extend_from_slice(&[0, 0, 0]);
    icmp.extend_from_slice(&target.octets());
    icmp.extend_from_slice(&[OPTION_TARGET_LINK_LAYER, 1]); // length in units of 8 bytes
    icmp.extend_from_slice(&mac);
    // RFC 4443 section 2.3: the checksum covers an IPv6 pseudo-header.
    let pseudo = checksum::sum_words(&source.octets())
        + checksum::sum_words(&ALL_NODES.octets())
        + icmp.len() as u32
        + ICMPV6 as u32;
    let sum = checksum::compute(&icmp, pseudo);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());

    let all_nodes = ALL_NODES.octets();
    let mut frame = Vec::with_capacity(14 + 40 + icmp.len());
    frame.extend_from_slice(&[
        0x33,
        0x33,
        all_nodes[12],
        all_nodes[13],
        all_nodes[14],
        all_nodes[15],
    ]);
    frame.extend_from_slice(&mac);
    frame.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
    frame.extend_from_slice(&[0x60, 0, 0, 0]);
    frame.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    frame.push(ICMPV6);
    frame.push(VRRP_TTL);
    frame.extend_from_slice(&source.octets());
    frame.extend_from_slice(&all_nodes);
    frame.extend_from_slice(&icmp);
    frame
}
