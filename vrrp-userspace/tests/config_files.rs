//! Real configuration files: the user's deployments (tests/data/configs/seeds), keepalived's
//! own sample configs (shipped by Debian's keepalived package, which `cargo xtask setup`
//! installs) and the `--dump-conf` goldens. `UPDATE_GOLDEN=1` rewrites the goldens.

use std::path::{Path, PathBuf};

use xvrrpd::config::model::{Authentication, InitialState};
use xvrrpd::config::{self, LoadOptions, Loaded, Severity, dump};
use xvrrpd::protocol::{Priority, Version};

const KEEPALIVED_SAMPLES: &str = "/usr/share/doc/keepalived/samples";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/configs")
        .join(name)
}

fn options(config_id: &str) -> LoadOptions {
    LoadOptions {
        config_id: config_id.to_string(),
        all_config: false,
    }
}

/// Loads a file under its bare name, so positions in diagnostics and dumps do not depend on
/// where the repository is checked out.
fn load(path: &Path, config_id: &str) -> Loaded {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.file_name().expect("a file");
    config::load_text(Path::new(name), &text, &options(config_id))
}

fn messages(loaded: &Loaded, severity: Severity) -> Vec<String> {
    loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .map(|d| match &d.span {
            Some(span) => format!("{}:{}: {}", span.line, span.column(), d.message),
            None => d.message.clone(),
        })
        .collect()
}

fn assert_no_errors(name: &str, loaded: &Loaded) {
    let errors = [Severity::Fatal, Severity::Error]
        .iter()
        .flat_map(|s| messages(loaded, *s))
        .collect::<Vec<_>>();
    assert!(errors.is_empty(), "{name}: unexpected errors {errors:#?}");
}

#[test]
fn seed_configs_load_with_only_the_expected_warnings() {
    // (file, warnings expected, scripts present => exit code 6 like keepalived)
    let cases: &[(&str, &[&str], bool)] = &[
        (
            "nfs-master.conf",
            &["18:19: auth_pass is 10 characters; only the first 8 are used"],
            false,
        ),
        ("lvs-dr-master.conf", &[], false),
        ("lvs-dr-backup-instances.conf", &[], false),
        ("haproxy-master.conf", &[], true),
        ("haproxy-backup.conf", &[], true),
        (
            "redis-master.conf",
            &[
                "6:8: '- 20' read as -20",
                "10:7: state 'backup' read as BACKUP",
            ],
            true,
        ),
        (
            "redis-backup.conf",
            &[
                "6:8: '- 20' read as -20",
                "10:7: state 'backup' read as BACKUP",
            ],
            true,
        ),
        (
            "nginx-master.conf",
            &[
                "15:23: 'vrrp_garp_interval 0' means no gap between packets",
                "16:22: 'vrrp_gna_interval 0' means no gap between packets",
            ],
            true,
        ),
        (
            "nginx-backup.conf",
            &[
                "15:23: 'vrrp_garp_interval 0' means no gap between packets",
                "16:22: 'vrrp_gna_interval 0' means no gap between packets",
            ],
            true,
        ),
    ];
    for (file, warnings, scripts) in cases {
        let loaded = load(&data(&format!("seeds/{file}")), "seed");
        assert_no_errors(file, &loaded);
        assert_eq!(messages(&loaded, Severity::Warning), *warnings, "{file}");
        let expected_code = if *scripts {
            config::exit_code::SCRIPT_SECURITY
        } else {
            config::exit_code::CLEAN
        };
        assert_eq!(loaded.exit_code(false), expected_code, "{file}");
        assert!(!loaded.config.instances.is_empty(), "{file}");
    }
}

#[test]
fn seed_configs_mean_what_their_authors_meant() {
    let nfs = load(&data("seeds/nfs-master.conf"), "seed").config;
    let vi = &nfs.instances[0];
    assert_eq!(
        (vi.vrid.0, vi.priority, vi.state),
        (51, Priority(150), Some(InitialState::Master))
    );
    assert_eq!(
        vi.authentication,
        Some(Authentication::Pass("nfsuser1".into()))
    );
    assert_eq!(vi.virtual_ipaddress[0].address.to_string(), "10.0.0.94/32");

    let redis = load(&data("seeds/redis-master.conf"), "seed").config;
    let vi = &redis.instances[0];
    assert_eq!(vi.state, Some(InitialState::Backup));
    assert!(!vi.preempt, "nopreempt");
    assert_eq!(vi.advert_int.as_secs(), 5);
    assert_eq!(redis.scripts[0].weight, -20);
    assert_eq!(redis.global.router_id.as_deref(), Some("LVS_redis"));
    assert_eq!(
        vi.notify.master.as_ref().unwrap().argv,
        ["/etc/keepalived/scripts/redis_master.sh"]
    );

    let lvs = load(&data("seeds/lvs-dr-master.conf"), "seed").config;
    assert_eq!(lvs.instances.len(), 2);
    assert_eq!(lvs.virtual_servers.len(), 2);
    let checker = &lvs.virtual_servers[0].real_servers[0].checkers[0];
    assert_eq!(
        (checker.kind.as_str(), checker.retry),
        ("HTTP_GET", Some(3))
    );

    let nginx = load(&data("seeds/nginx-master.conf"), "seed").config;
    let script = &nginx.scripts[0];
    assert_eq!((script.weight, script.rise, script.fall), (-5, 2, 3));
    assert!(nginx.global.instance_defaults.garp.garp_interval.is_zero());
}

/// keepalived's samples, and the problems keepalived 2.2.7 itself reports for them.
#[test]
fn keepalived_sample_configs_load() {
    let expected_errors: &[(&str, &[&str])] = &[
        // Without `-i high|low` the `@high`/`@low` script lines vanish (keepalived says the same).
        (
            "keepalived.conf.conditional_conf",
            &[
                "6:1: vrrp_script check_VI_0 has no script; it is ignored",
                "25:3: vrrp_instance VI_0 tracks unknown vrrp_script check_VI_0",
            ],
        ),
        // The sample really has `to 192.168.100./24`.
        (
            "keepalived.conf.vrrp.rules",
            &[
                "11:8: '192.168.100.' is not an IPv4 or IPv6 address",
                "26:12: '192.168.200.' is not an IPv4 or IPv6 address",
            ],
        ),
        // The sample lists instances without `group { }`.
        (
            "keepalived.conf.vrrp.lvs_syncd",
            &["3:1: vrrp_sync_group VG1 has no members; it is ignored"],
        ),
    ];
    let mut samples: Vec<PathBuf> = std::fs::read_dir(KEEPALIVED_SAMPLES)
        .unwrap_or_else(|e| {
            panic!("{KEEPALIVED_SAMPLES}: {e} (cargo xtask setup installs keepalived)")
        })
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("keepalived.conf."))
        })
        .collect();
    samples.sort();
    assert!(
        samples.len() >= 20,
        "only {} samples in {KEEPALIVED_SAMPLES}",
        samples.len()
    );
    for sample in &samples {
        let name = sample.file_name().unwrap().to_string_lossy().into_owned();
        let loaded = load(sample, "none");
        let expected: &[&str] = expected_errors
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(&[], |(_, e)| e);
        assert_eq!(messages(&loaded, Severity::Error), expected, "{name}");
        assert!(messages(&loaded, Severity::Fatal).is_empty(), "{name}");
    }
    for (id, priority) in [("high", 170), ("low", 85)] {
        let loaded = load(
            &Path::new(KEEPALIVED_SAMPLES).join("keepalived.conf.conditional_conf"),
            id,
        );
        assert_no_errors(id, &loaded);
        assert_eq!(loaded.config.instances[0].priority, Priority(priority));
        assert_eq!(loaded.config.instances[0].version, Version::V3);
        assert_eq!(
            loaded.config.scripts[0].script.argv,
            [format!("/etc/keepalived/scripts/check_{id}_VI_0.sh")]
        );
    }
}

fn all_inputs() -> Vec<(PathBuf, &'static str)> {
    let mut inputs = vec![(data("golden/every-keyword.conf"), "node1")];
    for dir in [data("seeds"), PathBuf::from(KEEPALIVED_SAMPLES)] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "conf")
                    || p.to_string_lossy().contains("keepalived.conf.")
            })
            .collect();
        files.sort();
        inputs.extend(files.into_iter().map(|f| (f, "high")));
    }
    inputs
}

fn without_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `--dump-conf` output reads back to the same configuration.
#[test]
fn dumped_configs_read_back_identically() {
    for (path, id) in all_inputs() {
        let first = load(&path, id);
        let text = dump::to_text(&first.config);
        let again = config::load_text(Path::new("dump.conf"), &text, &options(id));
        // The dump may repeat a warning that belongs to the configuration itself (a rule
        // without preference), but must not add problems of its own.
        let original: Vec<&str> = first
            .diagnostics
            .iter()
            .map(|d| d.message.as_str())
            .collect();
        let new_problems: Vec<String> = again
            .diagnostics
            .iter()
            .filter(|d| d.severity != Severity::ScriptSecurity)
            .filter(|d| d.severity != Severity::Warning || !original.contains(&d.message.as_str()))
            .map(|d| d.to_string())
            .collect();
        assert!(
            new_problems.is_empty(),
            "{}: the dump does not read back cleanly: {new_problems:#?}\n{text}",
            path.display()
        );
        assert_eq!(
            without_comments(&dump::to_text(&again.config)),
            without_comments(&text),
            "{}",
            path.display()
        );
    }
}

#[test]
fn dump_conf_goldens() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut cases = vec![("golden/every-keyword.conf", "node1")];
    cases.extend(
        [
            "seeds/redis-master.conf",
            "seeds/lvs-dr-master.conf",
            "seeds/nginx-master.conf",
        ]
        .map(|f| (f, "seed")),
    );
    for (file, id) in cases {
        let loaded = load(&data(file), id);
        let stem = Path::new(file)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for (extension, text) in [
            ("dump", dump::to_text(&loaded.config)),
            ("json", dump::to_json(&loaded.config) + "\n"),
        ] {
            let golden = data(&format!("golden/{stem}.{extension}"));
            if update {
                std::fs::write(&golden, &text).unwrap();
                continue;
            }
            let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
                panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", golden.display())
            });
            assert_eq!(
                text,
                expected,
                "{} differs from {}; review, then UPDATE_GOLDEN=1",
                file,
                golden.display()
            );
        }
    }
}
