//! `include` and its variants against real files in a private temporary directory.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use netlab::TempDir;
use xvrrpd::config::{self, LoadOptions, Loaded, Severity};

fn load(path: &Path, all_config: bool) -> Loaded {
    let options = LoadOptions {
        config_id: "node1".to_string(),
        all_config,
    };
    config::load_file(path, &options)
}

fn problems(loaded: &Loaded) -> Vec<String> {
    loaded
        .diagnostics
        .iter()
        .map(|d| format!("{:?}: {}", d.severity, d.message))
        .collect()
}

fn instance(name: &str, vrid: u8) -> String {
    format!(
        "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n virtual_ipaddress {{\n  10.0.0.{vrid}\n }}\n}}\n"
    )
}

#[test]
fn relative_globs_braces_in_sorted_order() {
    let dir = TempDir::new("glob").expect("temp dir");
    dir.write("conf.d/20-b.conf", &instance("VI_B", 2));
    dir.write("conf.d/10-a.conf", &instance("VI_A", 1));
    dir.write("conf.d/skip.txt", &instance("VI_X", 9));
    dir.write("extra/one.conf", &instance("VI_C", 3));
    // Paths are relative to the including file, also from inside an included file.
    dir.write("extra/two.conf", "include ../more/three.conf\n");
    dir.write("more/three.conf", &instance("VI_D", 4));
    let main = dir.write(
        "keepalived.conf",
        "include conf.d/*.conf\ninclude extra/{one,two}.conf\n",
    );
    let loaded = load(&main, false);
    assert!(loaded.diagnostics.is_empty(), "{:#?}", problems(&loaded));
    let names: Vec<&str> = loaded
        .config
        .instances
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(names, ["VI_A", "VI_B", "VI_C", "VI_D"]);
    // Diagnostics name the included file.
    dir.write(
        "conf.d/30-bad.conf",
        "vrrp_instance VI_E {\n interface eth0\n}\n",
    );
    let loaded = load(&main, false);
    let span = loaded.diagnostics[0].span.as_ref().unwrap();
    assert!(
        span.file.ends_with("conf.d/30-bad.conf") && span.line == 1,
        "{span:?}"
    );
}

#[test]
fn include_loops_are_reported_not_followed() {
    let dir = TempDir::new("loop").expect("temp dir");
    dir.write("a.conf", "include b.conf\n");
    dir.write("b.conf", "include a.conf\n");
    let loaded = load(&dir.path().join("a.conf"), false);
    let problems = problems(&loaded);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].starts_with("Error: include loop: ")
            && problems[0].contains("a.conf -> ")
            && problems[0].ends_with("a.conf"),
        "{problems:?}"
    );
}

#[test]
fn missing_files_by_variant() {
    let dir = TempDir::new("missing").expect("temp dir");
    let main = dir.write("k.conf", "include nothere.conf\ninclude none/*.conf\n");
    // Plain include: keepalived is silent; we warn for a named file, not for an empty wildcard.
    let loaded = load(&main, false);
    assert_eq!(problems(&loaded).len(), 1, "{:#?}", problems(&loaded));
    assert_eq!(loaded.diagnostics[0].severity, Severity::Warning);
    assert!(
        loaded.diagnostics[0]
            .message
            .starts_with("include 'nothere.conf' matches no file")
    );
    // -e/--all-config: both are errors.
    let loaded = load(&main, true);
    assert_eq!(loaded.count(Severity::Error), 2, "{:#?}", problems(&loaded));
    // includem: a missing named file is an error, an empty wildcard is not.
    dir.write("k.conf", "includem nothere.conf\nincludem none/*.conf\n");
    assert_eq!(load(&main, false).count(Severity::Error), 1);
    // includew and include_check: the empty wildcard is an error too.
    dir.write("k.conf", "includew none/*.conf\n");
    assert_eq!(load(&main, false).count(Severity::Error), 1);
    dir.write(
        "k.conf",
        "include_check wildcard_match\ninclude none/*.conf\n",
    );
    assert_eq!(load(&main, false).count(Severity::Error), 1);
    dir.write("k.conf", "includeb {a,b}.conf\n");
    dir.write("a.conf", "");
    let loaded = load(&main, false);
    assert_eq!(loaded.count(Severity::Error), 1, "{:#?}", problems(&loaded));
    assert!(
        loaded.diagnostics[0]
            .message
            .starts_with("include 'b.conf' matches no file")
    );
}

#[test]
fn executable_and_non_regular_files_are_skipped() {
    let dir = TempDir::new("exec").expect("temp dir");
    let script = dir.write("conf.d/run.conf", &instance("VI_X", 1));
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(dir.path().join("conf.d/sub.conf")).unwrap();
    let main = dir.write("k.conf", "include conf.d/*.conf\n");
    let loaded = load(&main, false);
    assert!(loaded.config.instances.is_empty());
    let problems = problems(&loaded);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems.iter().any(|p| p.contains("executable")));
    assert!(problems.iter().any(|p| p.contains("not a regular file")));
}

#[test]
fn a_missing_main_file_is_fatal() {
    let loaded = load(Path::new("/nonexistent/xvrrpd/keepalived.conf"), false);
    assert_eq!(loaded.exit_code(false), config::exit_code::FATAL);
    assert!(
        loaded.diagnostics[0]
            .message
            .starts_with("cannot read configuration file /nonexistent/xvrrpd/keepalived.conf")
    );
}

#[test]
fn include_depth_is_limited() {
    let dir = TempDir::new("depth").expect("temp dir");
    for level in 0..40 {
        dir.write(
            &format!("l{level}.conf"),
            &format!("include l{}.conf\n", level + 1),
        );
    }
    dir.write("l40.conf", &instance("VI_DEEP", 1));
    let loaded = load(&dir.path().join("l0.conf"), false);
    assert_eq!(
        problems(&loaded),
        ["Error: includes nested deeper than 32 files"]
    );
    assert!(loaded.config.instances.is_empty());
}
