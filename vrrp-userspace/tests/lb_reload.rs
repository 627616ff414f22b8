//! The director's reload under BPF_PROG_TEST_RUN: what keepalived's reload does to IPVS
//! (`clear_diff_services`), checked flow by flow in the connection table. 10,000 flows on an
//! `mh` service of four servers; the reload removes one, adds a fifth, and replaces another
//! virtual server by a new one.

mod lb_lab;

use std::net::IpAddr;

use lb_lab::*;
use xvrrpd::daemon::lvs::director::ReloadSummary;

const TCP_SYN: u8 = 0x02;
const TCP_ACK: u8 = 0x10;

fn service(vip: &str, algo: &str, reals: &[(&str, u32)]) -> String {
    let mut conf =
        format!("virtual_server {vip} 80 {{\n  lb_algo {algo}\n  lb_kind DR\n  protocol TCP\n");
    for (addr, weight) in reals {
        conf += &format!("  real_server {addr} 80 {{\n    weight {weight}\n  }}\n");
    }
    conf + "}\n"
}

fn addr(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Where each of `n` clients' flows goes (`None`: passed to the stack).
fn flows_to(lab: &Lab, vip: IpAddr, n: u32, sport: u16, flags: u8) -> Vec<Option<[u8; 6]>> {
    (0..n)
        .map(|i| {
            let client = IpAddr::from([100, 64 + (i >> 16) as u8, (i >> 8) as u8, i as u8]);
            let run = lab.run(&client_frame(client, vip, sport, 80, Some(flags)));
            (run.verdict == XDP_TX).then(|| dst_mac(&run.frame))
        })
        .collect()
}

#[test]
fn reload_keeps_established_flows_moves_a_removed_servers_and_swaps_services() {
    let four = [
        ("10.1.0.11", 1),
        ("10.1.0.12", 1),
        ("10.1.0.13", 1),
        ("10.1.0.14", 1),
    ];
    let old = service("192.0.2.100", "mh", &four) + &service("192.0.2.101", "rr", &four[..1]);
    let mut lab = Lab::new(&old);
    let (vip, other, added_vip) = (
        addr("192.0.2.100"),
        addr("192.0.2.101"),
        addr("192.0.2.102"),
    );
    let before = flows_to(&lab, vip, 10_000, 1000, TCP_SYN);
    assert!(before.iter().all(Option::is_some));
    assert!(
        flows_to(&lab, other, 10, 1000, TCP_SYN)
            .iter()
            .all(Option::is_some)
    );

    // The same configuration again: nothing moves, for established or new flows.
    let same = lab.reload(&old);
    assert_eq!(
        same.summary,
        ReloadSummary {
            services_kept: 2,
            ..ReloadSummary::default()
        }
    );
    assert_eq!(flows_to(&lab, vip, 10_000, 1000, TCP_ACK), before);
    assert_eq!(flows_to(&lab, vip, 10_000, 5000, TCP_SYN), before);

    // .13 leaves, .15 comes, .11 weighs 2; 192.0.2.101 is replaced by 192.0.2.102.
    let new = service(
        "192.0.2.100",
        "mh",
        &[
            ("10.1.0.11", 2),
            ("10.1.0.12", 1),
            ("10.1.0.14", 1),
            ("10.1.0.15", 1),
        ],
    ) + &service("192.0.2.102", "rr", &four[1..2]);
    let reloaded = lab.reload(&new);
    assert_eq!(
        reloaded.summary,
        ReloadSummary {
            services_kept: 1,
            services_added: 1,
            services_removed: 1,
            reals_added: 2,
            reals_removed: 2,
        }
    );
    let gone: Vec<&str> = reloaded.gone.iter().map(|g| g.real.as_str()).collect();
    assert_eq!(gone, ["[10.1.0.11]:tcp:80", "[10.1.0.13]:tcp:80"]);
    assert!(reloaded.gone.iter().all(|g| g.alive));

    let removed = server_mac(addr("10.1.0.13"));
    let established = flows_to(&lab, vip, 10_000, 1000, TCP_ACK);
    let mut moved = 0;
    for (b, a) in before.iter().zip(&established) {
        if *b == Some(removed) {
            moved += 1;
            assert!(
                a.is_some() && *a != Some(removed),
                "a removed server's flow moves"
            );
        } else {
            assert_eq!(a, b, "an established flow on a kept server stays");
        }
    }
    println!("reload: {moved} of 10000 established flows were on the removed server and moved");
    assert!((2000..3000).contains(&moved), "a fair share: {moved}");
    // New flows reach the new server, never the removed one; .11 takes about twice .12.
    let fresh = flows_to(&lab, vip, 10_000, 2000, TCP_SYN);
    let share = |a: &str| {
        fresh
            .iter()
            .filter(|m| **m == Some(server_mac(addr(a))))
            .count()
    };
    assert_eq!(share("10.1.0.13"), 0);
    assert!(
        share("10.1.0.15") > 1500,
        "the new server: {}",
        share("10.1.0.15")
    );
    let (heavy, light) = (share("10.1.0.11"), share("10.1.0.12"));
    assert!(
        heavy > light * 3 / 2,
        "weight 2 against 1: {heavy} and {light}"
    );
    // The removed virtual server passes to the stack; the new one is served.
    assert!(
        flows_to(&lab, other, 10, 3000, TCP_SYN)
            .iter()
            .all(Option::is_none)
    );
    assert_eq!(
        flows_to(&lab, added_vip, 10, 3000, TCP_SYN),
        vec![Some(server_mac(addr("10.1.0.12"))); 10]
    );
}
