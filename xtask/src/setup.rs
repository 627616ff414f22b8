//! `cargo xtask setup`: installs what is missing, skips what is there, says which.

use std::process::Command;

use anyhow::{Context as _, bail};

use crate::run;

/// Debian packages: LLVM 22 for bpf-linker, the tools the tests and the demo drive.
const APT_PACKAGES: &[&str] = &[
    "llvm-22-dev",
    "libpolly-22-dev",
    "zlib1g-dev",
    "libzstd-dev",
    "bpftool",
    "tcpdump",
    "tshark",
    "iputils-ping",
    "iproute2",
    "keepalived",
    // The benches: CPU load for the failover bench, the font of its picture.
    "stress-ng",
    "fonts-dejavu-core",
    // The user's deployments as tests (issue 10): each runs in the tests' namespaces with its
    // own configuration, never as the system service.
    "nginx",
    "haproxy",
    "redis-server",
    "curl",
    // The LVS tests: certificates for SSL_GET, veth offloads; `cargo xtask bench lb`'s load
    // generator.
    "openssl",
    "ethtool",
    "wrk",
];

const BPF_LINKER_VERSION: &str = "0.13.0";

pub fn install_prerequisites() -> anyhow::Result<()> {
    apt_packages()?;
    nightly_rust_src()?;
    bpf_linker()?;
    eprintln!("setup: all prerequisites present");
    Ok(())
}

fn output(command: &mut Command) -> Option<String> {
    let out = command.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn apt_packages() -> anyhow::Result<()> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|package| {
            let status = output(Command::new("dpkg-query").args(["-W", "-f=${Status}", package]));
            status.as_deref() != Some("install ok installed")
        })
        .collect();
    if missing.is_empty() {
        eprintln!("setup: apt packages present ({})", APT_PACKAGES.join(" "));
        return Ok(());
    }
    eprintln!("setup: installing apt packages: {}", missing.join(" "));
    run(Command::new("apt-get")
        .arg("update")
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    // nginx, haproxy, redis-server and keepalived would start as system services on install;
    // the tests run their own copies in namespaces. Debian's policy-rc.d hook stops the
    // maintainer scripts from starting them (only while installing, unless one is there).
    let _no_services = NoServiceStarts::install();
    run(Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// /usr/sbin/policy-rc.d answering "not allowed" (exit 101) while it lives, if there was none.
struct NoServiceStarts {
    created: bool,
}

impl NoServiceStarts {
    const PATH: &str = "/usr/sbin/policy-rc.d";

    fn install() -> Self {
        use std::os::unix::fs::PermissionsExt as _;
        if std::path::Path::new(Self::PATH).exists() {
            return Self { created: false };
        }
        let created = std::fs::write(Self::PATH, "#!/bin/sh\nexit 101\n").is_ok()
            && std::fs::set_permissions(Self::PATH, std::fs::Permissions::from_mode(0o755)).is_ok();
        Self { created }
    }
}

impl Drop for NoServiceStarts {
    fn drop(&mut self) {
        if self.created {
            let _ = std::fs::remove_file(Self::PATH);
        }
    }
}

fn nightly_rust_src() -> anyhow::Result<()> {
    let toolchains = output(Command::new("rustup").args(["toolchain", "list"]))
        .context("rustup is not installed")?;
    if !toolchains.lines().any(|line| line.starts_with("nightly")) {
        eprintln!("setup: installing the nightly toolchain");
        run(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))?;
    }
    let components = output(Command::new("rustup").args([
        "component",
        "list",
        "--toolchain",
        "nightly",
        "--installed",
    ]))
    .unwrap_or_default();
    if components.lines().any(|line| line.starts_with("rust-src")) {
        eprintln!("setup: nightly rust-src present");
        return Ok(());
    }
    eprintln!("setup: installing nightly rust-src");
    run(Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", "nightly"]))
}

fn bpf_linker() -> anyhow::Result<()> {
    let version = output(Command::new("bpf-linker").arg("--version")).unwrap_or_default();
    if version.contains(BPF_LINKER_VERSION) {
        eprintln!("setup: bpf-linker {BPF_LINKER_VERSION} present");
        return Ok(());
    }
    eprintln!("setup: building bpf-linker {BPF_LINKER_VERSION} against LLVM 22 (about a minute)");
    // /usr/bin/llvm-config is LLVM 14 on Debian 12: point the build at LLVM 22 explicitly.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    run(Command::new(cargo)
        .args([
            "install",
            "--locked",
            &format!("bpf-linker@{BPF_LINKER_VERSION}"),
        ])
        .args(["--no-default-features", "--features", "llvm-22"])
        .env("LLVM_PREFIX", "/usr/lib/llvm-22"))?;
    let version = output(Command::new("bpf-linker").arg("--version")).unwrap_or_default();
    if !version.contains(BPF_LINKER_VERSION) {
        bail!("bpf-linker was installed but is not on PATH; add ~/.cargo/bin to PATH");
    }
    Ok(())
}
