//! Any bytes as a capture file, and every frame in it through the decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|file: &[u8]| {
    if let Ok(packets) = xvrrpd::pcap::parse(file) {
        for packet in packets {
            let _ = xvrrpd::protocol::decode_frame(&packet.ethernet);
        }
    }
});
