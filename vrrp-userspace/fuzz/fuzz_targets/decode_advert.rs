//! Any bytes as a VRRP message of either family; a decoded advert must re-encode to bytes that
//! decode to the same advert.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use xvrrpd::protocol::{Advert, ChecksumMode, Family, IpContext};

fuzz_target!(|message: &[u8]| {
    let contexts = [
        IpContext {
            family: Family::Ipv4,
            src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
        },
        IpContext {
            family: Family::Ipv6,
            src: IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
            dst: IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12)),
        },
    ];
    for ip in contexts {
        if let Ok(advert) = Advert::decode(message, &ip) {
            let again = Advert::decode(&advert.encode(&ip, ChecksumMode::Rfc), &ip);
            assert_eq!(again.as_ref(), Ok(&advert));
        }
    }
});
