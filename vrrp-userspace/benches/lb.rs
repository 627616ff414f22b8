//! `cargo xtask bench lb`: nanoseconds per packet of the XDP load balancer through
//! BPF_PROG_TEST_RUN, per forwarding method:
//!
//! - established flow, repeated: one frame run 1,000,000 times (5 rounds, median). Only DR
//!   leaves the frame as it found it; TUN and NAT rewrite it, so their repeats would measure
//!   something else, and are not shown.
//! - established flow, single runs: 20,000 runs of one frame (median of the kernel's timing
//!   of one run, which includes the clock's own overhead: compare with DR's repeated number).
//! - new flow: 20,000 distinct clients, one run each (the same timing).

#[path = "../tests/lb_lab/mod.rs"]
#[allow(unused_imports)]
mod lb_lab;

use std::net::IpAddr;

use lb_lab::*;
use xvrrpd::dataplane::lb::test_run_frame;

fn conf(kind: &str) -> String {
    format!(
        "virtual_server 192.0.2.100 80 {{\n  lb_algo wrr\n  lb_kind {kind}\n  protocol TCP\n  real_server 10.1.0.11 80 {{\n    weight 1\n  }}\n  real_server 10.1.0.12 80 {{\n    weight 1\n  }}\n}}\n"
    )
}

fn median(mut values: Vec<u32>) -> u32 {
    values.sort_unstable();
    values[values.len() / 2]
}

fn main() {
    let vip: IpAddr = "192.0.2.100".parse().unwrap();
    println!(
        "| method | established, repeated (ns/packet) | established, single runs | new flow, single runs |"
    );
    println!("|---|---|---|---|");
    for kind in ["DR", "TUN", "NAT"] {
        let lab = Lab::new(&conf(kind));
        let program = lab.director.load_balancer().program();
        let client: IpAddr = "198.51.100.7".parse().unwrap();
        let syn = client_frame(client, vip, 40000, 80, Some(0x02));
        test_run_frame(program, &syn, INGRESS, 1).unwrap();
        let ack = client_frame(client, vip, 40000, 80, Some(0x10));
        let repeated = if kind == "DR" {
            median(
                (0..5)
                    .map(|_| {
                        test_run_frame(program, &ack, INGRESS, 1_000_000)
                            .unwrap()
                            .duration_ns
                    })
                    .collect(),
            )
            .to_string()
        } else {
            "-".to_string()
        };
        let single = median(
            (0..20_000)
                .map(|_| {
                    test_run_frame(program, &ack, INGRESS, 1)
                        .unwrap()
                        .duration_ns
                })
                .collect(),
        );
        let new = median(
            (0..20_000u32)
                .map(|i| {
                    let client = IpAddr::from([100, 64 + (i >> 16) as u8, (i >> 8) as u8, i as u8]);
                    let frame = client_frame(client, vip, 1000, 80, Some(0x02));
                    test_run_frame(program, &frame, INGRESS, 1)
                        .unwrap()
                        .duration_ns
                })
                .collect(),
        );
        println!("| {kind} | {repeated} | {single} | {new} |");
    }
}
