//! Any bytes as keepalived.conf: preprocessor, lexer, statement tree, parser, validation and
//! both dump formats.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use xvrrpd::config::{self, LoadOptions, dump};

fuzz_target!(|bytes: &[u8]| {
    let text = String::from_utf8_lossy(bytes);
    let options = LoadOptions {
        config_id: "node1".to_string(),
        all_config: false,
    };
    // A directory that does not exist, so `include` lines cannot reach real files.
    let loaded = config::load_text(Path::new("/nonexistent/xvrrpd-fuzz/k.conf"), &text, &options);
    let _ = dump::to_text(&loaded.config);
    let _ = dump::to_json(&loaded.config);
});
