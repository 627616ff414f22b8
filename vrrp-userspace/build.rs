//! Builds the XDP program (vrrp-ebpf) for bpfel-unknown-none with the nightly toolchain and
//! bpf-linker, so that `cargo build` alone produces a daemon with its kernel half embedded.

use std::path::PathBuf;

use anyhow::{Context as _, anyhow};

fn main() -> anyhow::Result<()> {
    build_info();
    let manifest_dir =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR")?);
    let ebpf_dir = manifest_dir
        .parent()
        .ok_or_else(|| anyhow!("no workspace root"))?
        .join("vrrp-ebpf");
    let ebpf_dir = ebpf_dir
        .to_str()
        .ok_or_else(|| anyhow!("workspace path is not UTF-8"))?;
    // Toolchain::Nightly is `nightly` by name, never a dated one: rustup cannot download
    // toolchains here, and `cargo xtask setup` installs rust-src into exactly this one.
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "vrrp-ebpf",
            root_dir: ebpf_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::Nightly,
    )
    .context(
        "building the XDP program (run `cargo xtask setup` if bpf-linker or rust-src is missing)",
    )
}

/// What `xvrrpd --version` says about the build.
fn build_info() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = std::process::Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "an unknown rustc".to_owned(), |v| v.trim().to_owned());
    println!("cargo:rustc-env=XVRRPD_RUSTC={version}");
    for (name, variable) in [("XVRRPD_TARGET", "TARGET"), ("XVRRPD_PROFILE", "PROFILE")] {
        let value = std::env::var(variable).unwrap_or_default();
        println!("cargo:rustc-env={name}={value}");
    }
}
