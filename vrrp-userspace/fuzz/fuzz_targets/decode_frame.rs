//! Any bytes as an Ethernet frame: the decoder returns a verdict, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| {
    let _ = xvrrpd::protocol::decode_frame(frame);
});
