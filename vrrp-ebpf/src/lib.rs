//! Empty library target: lets vrrp-userspace name this crate as a build-dependency, so cargo
//! rebuilds the daemon when the XDP program changes. The program itself is the `vrrp-ebpf` binary.
#![no_std]
