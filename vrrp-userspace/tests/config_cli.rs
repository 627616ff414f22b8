//! `xvrrpd -t` and `xvrrpd -d` as a user runs them: keepalived's flags and exit codes.

use std::process::{Command, Output};

use netlab::TempDir;

fn xvrrpd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xvrrpd"))
        .args(args)
        .output()
        .expect("run xvrrpd")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited")
}

const CLEAN: &str = "global_defs {\n dynamic_interfaces\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n";

#[test]
fn config_test_exit_codes_match_keepalived() {
    let dir = TempDir::new("codes").expect("temp dir");
    let clean = dir.write("clean.conf", CLEAN);
    let output = xvrrpd(&["-t", "-f", clean.to_str().unwrap()]);
    assert_eq!(
        code(&output),
        0,
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("1 vrrp_instance, 0 vrrp_script, 0 vrrp_sync_group, 0 virtual_server; 0 error(s), 0 warning(s)"));

    assert_eq!(
        code(&xvrrpd(&["-t", "-f", "/nonexistent/keepalived.conf"])),
        4
    );

    let broken = dir.write(
        "broken.conf",
        &CLEAN.replace("virtual_router_id 1", "virtual_router_id 300"),
    );
    let output = xvrrpd(&["--config-test", "--use-file", broken.to_str().unwrap()]);
    assert_eq!(code(&output), 5);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("broken.conf:6:20: error: 'virtual_router_id': 300 is outside 1..=255\n  |\n6 |  virtual_router_id 300\n  |                    ^^^"), "{stderr}");

    let scripts = dir.write(
        "scripts.conf",
        &CLEAN.replace(
            " interface eth0\n",
            " interface eth0\n notify_master /bin/true\n",
        ),
    );
    assert_eq!(code(&xvrrpd(&["-t", "-f", scripts.to_str().unwrap()])), 6);

    // A virtual address in two instances: keepalived says nothing, xvrrpd warns.
    let warned = dir.write(
        "warned.conf",
        &format!(
            "{CLEAN}{}",
            &CLEAN[CLEAN.find("vrrp_instance").unwrap()..]
                .replace("VI_1", "VI_2")
                .replace("virtual_router_id 1", "virtual_router_id 2")
        ),
    );
    assert_eq!(code(&xvrrpd(&["-t", "-f", warned.to_str().unwrap()])), 0);
    assert_eq!(
        code(&xvrrpd(&[
            "-t",
            "--strict-config",
            "-f",
            warned.to_str().unwrap()
        ])),
        5
    );
}

#[test]
fn config_test_log_file_and_config_id() {
    let dir = TempDir::new("log").expect("temp dir");
    let conf = dir.write(
        "k.conf",
        &CLEAN.replace(
            "virtual_router_id 1",
            "@alpha virtual_router_id 7\n@^alpha virtual_router_id 8",
        ),
    );
    let log = dir.path().join("test.log");
    let output = xvrrpd(&[
        &format!("--config-test={}", log.display()),
        "-i",
        "alpha",
        "-f",
        conf.to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 0);
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("0 error(s)")
    );
    let dump = xvrrpd(&["-d", "-i", "alpha", "-f", conf.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&dump.stdout).contains("virtual_router_id 7"));
    let dump = xvrrpd(&["-d", "-i", "beta", "-f", conf.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&dump.stdout).contains("virtual_router_id 8"));
}

#[test]
fn dump_conf_prints_text_or_json() {
    let dir = TempDir::new("dump").expect("temp dir");
    let conf = dir.write("k.conf", CLEAN);
    let text = xvrrpd(&["-d", "-f", conf.to_str().unwrap()]);
    assert_eq!(code(&text), 0);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("vrrp_instance VI_1 {\n") && text.contains("    priority 100\n"),
        "{text}"
    );
    let json = xvrrpd(&["--dump-conf", "--json", "-f", conf.to_str().unwrap()]);
    assert_eq!(code(&json), 0);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    assert_eq!(value["instances"][0]["vrid"], 1);
    assert_eq!(value["instances"][0]["advert_int"], 1.0);
    assert_eq!(
        value["instances"][0]["virtual_ipaddress"][0]["address"],
        "10.0.0.1/32"
    );
}

#[test]
fn keepalived_daemon_flags_are_accepted() {
    let dir = TempDir::new("flags").expect("temp dir");
    let conf = dir.write("k.conf", CLEAN);
    let pid = dir.path().join("pid");
    let output = xvrrpd(&[
        "-n",
        "-l",
        "-D",
        "-P",
        "-p",
        pid.to_str().unwrap(),
        "-t",
        "-f",
        conf.to_str().unwrap(),
    ]);
    assert_eq!(
        code(&output),
        0,
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn config_test_reports_interfaces_this_host_lacks() {
    let dir = TempDir::new("ifaces").expect("temp dir");
    let conf = dir.write(
        "k.conf",
        &CLEAN
            .replace(" dynamic_interfaces\n", "")
            .replace("interface eth0", "interface xvrrpd-none0"),
    );
    let output = xvrrpd(&["-t", "-f", conf.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "k.conf:4:12: error: xvrrpd-none0 (interface) does not exist on this host; keepalived refuses to start"
        ),
        "{stderr}"
    );
    // keepalived 2.2.7 -t: "Non-existent interface specified in configuration", exit 5.
    assert_eq!(code(&output), 5);
    // With dynamic_interfaces keepalived waits for the interface.
    let dynamic = dir.write(
        "dynamic.conf",
        &CLEAN.replace("interface eth0", "interface xvrrpd-none0"),
    );
    let output = xvrrpd(&["-t", "-f", dynamic.to_str().unwrap()]);
    assert_eq!(
        code(&output),
        0,
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
