//! The interop matrix of issue 8: two routers (r1, priority 150, and r2, priority 100) and a
//! client on one switch, for each variant (VRRPv2 with PASS over IPv4, v3 IPv4, v3 IPv6,
//! unicast v3 IPv4) and each pairing of daemons in {xvrrpd, keepalived}².
//!
//! Per case: r1 must win the election; then for each failure of r1 (link down, kill -9,
//! SIGTERM) r2 must take over within Master_Down_Interval + 5 ms of r1's last advert (SIGTERM:
//! within Skew_Time + 5 ms of r1's priority-0 advert), announce the VIP (gratuitous ARP /
//! unsolicited NA), and hand it back when r1 recovers (link up / restart) and preempts. The
//! client pings the VIP every 10 ms throughout and captures the wire; tshark must find no
//! malformed frame. keepalived-keepalived is the baseline printed in the same run.
//!
//! xvrrpd runs its backups' master-down timers in the kernel; the `_userspace_timers` cases run
//! a representative subset (every variant with xvrrpd as the backup) on the fallback,
//! `--no-kernel-timers`, and `XVRRPD_ARGS=--no-kernel-timers` runs the whole matrix on it.
//!
//! Each case is its own #[test] with its own lab, so cases run in parallel; the three failures
//! of a case reuse one lab. Tables go to stdout (`-- --show-output`) and to
//! `target/tmp/failover-matrix/`, with the captures and logs of failing cases.

mod failover_matrix {
    pub mod case;
    pub mod judge;
    pub mod quiet;
    pub mod report;
}

use std::time::Duration;

use failover_matrix::case::{Variant, run_case, run_case_with};
use netlab::router::Daemon::{Keepalived, Xvrrpd};
use netlab::timing::VrrpVersion;

const V2_PASS_IPV4: Variant = Variant {
    name: "v2 PASS IPv4",
    version: VrrpVersion::V2,
    ipv6: false,
    unicast: false,
    auth_pass: Some("xvrrpd1"),
    advert_int: Duration::from_secs(1),
    vrid: 21,
};

const V3_IPV4: Variant = Variant {
    name: "v3 IPv4",
    version: VrrpVersion::V3,
    ipv6: false,
    unicast: false,
    auth_pass: None,
    advert_int: Duration::from_millis(100),
    vrid: 31,
};

const V3_IPV6: Variant = Variant {
    name: "v3 IPv6",
    version: VrrpVersion::V3,
    ipv6: true,
    unicast: false,
    auth_pass: None,
    advert_int: Duration::from_millis(100),
    vrid: 36,
};

const V3_UNICAST_IPV4: Variant = Variant {
    name: "v3 unicast IPv4",
    version: VrrpVersion::V3,
    ipv6: false,
    unicast: true,
    auth_pass: None,
    advert_int: Duration::from_millis(100),
    vrid: 41,
};

/// One #[test] per variant and pairing: `<variant>_master_<daemon>_backup_<daemon>`.
macro_rules! matrix {
    ($($name:ident: $variant:ident, $master:ident, $backup:ident;)*) => {
        $(
            #[test]
            fn $name() {
                run_case(stringify!($name), &$variant, $master, $backup);
            }
        )*
    };
}

matrix! {
    v2_pass_ipv4_master_keepalived_backup_keepalived: V2_PASS_IPV4, Keepalived, Keepalived;
    v2_pass_ipv4_master_xvrrpd_backup_keepalived: V2_PASS_IPV4, Xvrrpd, Keepalived;
    v2_pass_ipv4_master_keepalived_backup_xvrrpd: V2_PASS_IPV4, Keepalived, Xvrrpd;
    v2_pass_ipv4_master_xvrrpd_backup_xvrrpd: V2_PASS_IPV4, Xvrrpd, Xvrrpd;

    v3_ipv4_master_keepalived_backup_keepalived: V3_IPV4, Keepalived, Keepalived;
    v3_ipv4_master_xvrrpd_backup_keepalived: V3_IPV4, Xvrrpd, Keepalived;
    v3_ipv4_master_keepalived_backup_xvrrpd: V3_IPV4, Keepalived, Xvrrpd;
    v3_ipv4_master_xvrrpd_backup_xvrrpd: V3_IPV4, Xvrrpd, Xvrrpd;

    v3_ipv6_master_keepalived_backup_keepalived: V3_IPV6, Keepalived, Keepalived;
    v3_ipv6_master_xvrrpd_backup_keepalived: V3_IPV6, Xvrrpd, Keepalived;
    v3_ipv6_master_keepalived_backup_xvrrpd: V3_IPV6, Keepalived, Xvrrpd;
    v3_ipv6_master_xvrrpd_backup_xvrrpd: V3_IPV6, Xvrrpd, Xvrrpd;

    v3_unicast_ipv4_master_keepalived_backup_keepalived: V3_UNICAST_IPV4, Keepalived, Keepalived;
    v3_unicast_ipv4_master_xvrrpd_backup_keepalived: V3_UNICAST_IPV4, Xvrrpd, Keepalived;
    v3_unicast_ipv4_master_keepalived_backup_xvrrpd: V3_UNICAST_IPV4, Keepalived, Xvrrpd;
    v3_unicast_ipv4_master_xvrrpd_backup_xvrrpd: V3_UNICAST_IPV4, Xvrrpd, Xvrrpd;
}

/// The same pairings with xvrrpd's master-down timers in userspace (`--no-kernel-timers`).
macro_rules! userspace_timers {
    ($($name:ident: $variant:ident, $master:ident, $backup:ident;)*) => {
        $(
            #[test]
            fn $name() {
                run_case_with(
                    stringify!($name),
                    &$variant,
                    $master,
                    $backup,
                    &["--no-kernel-timers"],
                );
            }
        )*
    };
}

userspace_timers! {
    v2_pass_ipv4_master_keepalived_backup_xvrrpd_userspace_timers: V2_PASS_IPV4, Keepalived, Xvrrpd;
    v3_ipv4_master_xvrrpd_backup_xvrrpd_userspace_timers: V3_IPV4, Xvrrpd, Xvrrpd;
    v3_ipv6_master_keepalived_backup_xvrrpd_userspace_timers: V3_IPV6, Keepalived, Xvrrpd;
    v3_unicast_ipv4_master_xvrrpd_backup_xvrrpd_userspace_timers: V3_UNICAST_IPV4, Xvrrpd, Xvrrpd;
}
