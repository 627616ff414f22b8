//! xvrrpd: a keepalived-compatible VRRP daemon whose receive path runs in XDP.
//!
//! - [`config`]: keepalived.conf, read the way keepalived reads it, into a typed model.
//! - [`protocol`]: the VRRP wire format, pure and IO-free.
//! - [`engine`]: the VRRP state machine, pure and driven by events on a fake-able clock.
//! - [`dataplane`]: the XDP program, its maps and attachments.
//! - [`lvs`], [`checkers`]: keepalived's `virtual_server` and real-server checkers, served by
//!   an XDP load balancer.
//! - [`monitor`]: `xvrrpd monitor`, the view of every router on a link.
//! - [`pcap`]: capture files for offline decoding.

pub mod checkers;
pub mod config;
pub mod daemon;
pub mod dataplane;
pub mod engine;
pub mod logging;
pub mod lvs;
pub mod monitor;
pub mod pcap;
pub mod protocol;

/// The compiled XDP program, built by build.rs.
pub static XDP_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vrrp-ebpf"));
