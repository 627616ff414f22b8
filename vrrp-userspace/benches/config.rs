//! `cargo xtask bench config`: read and validate a generated keepalived.conf of 1,000 instances,
//! each with its own vrrp_script, a notify script and 4 VIPs (20,000 lines).
//! Target (issue 3): under 50 ms. The file is left in the target directory so that
//! `cargo xtask bench config` can time `keepalived -t` on the very same file.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use xvrrpd::config::{self, LoadOptions};

const INSTANCES: usize = 1_000;
/// VRIDs are unique per interface, so the instances spread over four interfaces.
const INTERFACES: usize = 4;

fn generate() -> String {
    let mut text = String::from(
        "global_defs {\n    router_id bench\n    enable_script_security\n    script_user root\n    dynamic_interfaces\n}\n\n",
    );
    for i in 0..INSTANCES {
        let _ = write!(
            text,
            "vrrp_script chk_{i} {{\n    script \"/bin/true {i}\"\n    interval 2\n    weight -20\n}}\n"
        );
    }
    for i in 0..INSTANCES {
        let interface = i % INTERFACES;
        let vrid = i / INTERFACES + 1;
        let (high, low) = (i / 250, i % 250 + 1);
        let _ = write!(
            text,
            "vrrp_instance VI_{i} {{\n    state BACKUP\n    interface eth{interface}\n    virtual_router_id {vrid}\n    priority 100\n    advert_int 1\n    virtual_ipaddress {{\n        10.{high}.{low}.1/24\n        10.{high}.{low}.2/24\n        10.{high}.{low}.3/24\n        10.{high}.{low}.4/24 label eth{interface}:{i}\n    }}\n    track_script {{\n        chk_{i}\n    }}\n    notify_master \"/bin/true master {i}\"\n}}\n"
        );
    }
    text
}

/// Where the file goes: `target/tmp/config-bench/keepalived.conf`.
fn bench_file() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("config-bench/keepalived.conf")
}

fn parse_and_validate(c: &mut Criterion) {
    let text = generate();
    let path = bench_file();
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create bench dir");
    std::fs::write(&path, &text).expect("write bench config");
    let options = LoadOptions {
        config_id: "bench".to_string(),
        all_config: false,
    };
    let loaded = config::load_file(&path, &options);
    assert_eq!(loaded.config.instances.len(), INSTANCES);
    assert!(
        loaded.diagnostics.is_empty(),
        "{:?}",
        loaded.diagnostics.first()
    );
    eprintln!(
        "config bench: {} lines, {} bytes in {}",
        text.lines().count(),
        text.len(),
        path.display()
    );

    let mut group = c.benchmark_group("config");
    group.sample_size(30);
    group.bench_function("read + validate 1000 instances (file)", |b| {
        b.iter(|| config::load_file(black_box(&path), &options))
    });
    group.finish();
}

criterion_group!(benches, parse_and_validate);
criterion_main!(benches);
