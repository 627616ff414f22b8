//! Real configuration files: the user's deployments (tests/data/configs/seeds), keepalived's
//! own sample configs (shipped by Debian's keepalived package, which `cargo xtask setup`
//! installs) and the `--dump-conf` goldens. `UPDATE_GOLDEN=1` rewrites the goldens.

use std::path::{Path, PathBuf};

use xvrrpd::config::model::{Authentication, InitialState};
use xvrrpd::config::scripts::{FileInfo, ScriptHost};
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

/// A host where the seeds' scripts are installed as their authors meant: root-owned, mode
/// 0755, in root-owned directories.
struct Installed;

impl ScriptHost for Installed {
    fn lstat(&self, path: &Path) -> Option<FileInfo> {
        let mode = if path.extension().is_some() {
            0o100_755
        } else {
            0o040_755
        };
        Some(FileInfo {
            uid: 0,
            gid: 0,
            mode,
        })
    }
    fn stat(&self, path: &Path) -> Option<FileInfo> {
        self.lstat(path)
    }
    fn realpath(&self, path: &Path) -> Option<PathBuf> {
        Some(path.to_path_buf())
    }
    fn user(&self, name: &str) -> Option<(u32, u32)> {
        (name == "root").then_some((0, 0))
    }
    fn group(&self, name: &str) -> Option<u32> {
        (name == "root").then_some(0)
    }
    fn search_path(&self) -> String {
        "/usr/bin:/bin".to_string()
    }
}

// keepalived 1.x words in LVS blocks: 2.2.7 reports `nat_mask` as unknown and `nb_get_retry`
// as deprecated.
const LVS_DR: &[&str] = &[
    "21:1: unknown keyword 'nat_mask' in virtual_server",
    "33:1: nb_get_retry is deprecated",
    "44:1: nb_get_retry is deprecated",
    "69:1: unknown keyword 'nat_mask' in virtual_server",
    "81:1: nb_get_retry is deprecated",
    "92:1: nb_get_retry is deprecated",
];
// `weight - 20`: keepalived reads '-' as an invalid number and 20 as an unknown option.
const REDIS_ERRORS: &[&str] = &[
    "6:8: 'weight': '-' is not a number",
    "6:10: unknown weight option '20'",
];
// Both are errors for keepalived (exit 5); its daemon reads on, and so does xvrrpd, saying so.
const REDIS_WARNINGS: &[&str] = &[
    "2:1: 'lvs_id' is not a keepalived 2.2.7 keyword; xvrrpd reads it: keepalived 1.x's name of router_id",
    "10:7: VI_1: unknown state 'backup'; using BACKUP",
];
// `priority 98` followed by U+00A0 (a no-break space from a web page): keepalived's blanks are
// ASCII only, so it reads "invalid number '98 '" and uses priority 100, as xvrrpd does.
const LVS_NBSP_ERRORS: &[&str] = &[
    "5:10: priority '98\u{a0}' must be 1..=255; using 100",
    "19:10: priority '100\u{a0}' must be 1..=255; using 100",
];
const LVS_NBSP_WARNINGS: &[&str] = &[
    "5:10: '98\\u{a0}' contains U+00A0, a space keepalived does not know: it is part of the word",
    "5:14: '\\u{a0}' contains U+00A0, a space keepalived does not know: it is part of the word",
    "19:10: '100\\u{a0}' contains U+00A0, a space keepalived does not know: it is part of the word",
    "19:15: '\\u{a0}' contains U+00A0, a space keepalived does not know: it is part of the word",
];
const NGINX: &[&str] = &[
    "15:23: 'vrrp_garp_interval' must be at least 0.000001 seconds; ignored",
    "16:22: 'vrrp_gna_interval' must be at least 0.000001 seconds; ignored",
];

#[test]
fn seed_configs_load_with_keepalived_s_reports() {
    // (file, what keepalived 2.2.7 reports as errors, xvrrpd's warnings, `-t` exit code with
    // the scripts installed)
    type Case = (
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
        i32,
    );
    let cases: &[Case] = &[
        (
            "nfs-master.conf",
            &["18:19: auth_pass is 10 characters; only the first 8 are used"],
            &[],
            5,
        ),
        ("lvs-dr-master.conf", LVS_DR, &[], 5),
        (
            "lvs-dr-backup-instances.conf",
            LVS_NBSP_ERRORS,
            LVS_NBSP_WARNINGS,
            5,
        ),
        ("haproxy-master.conf", &[], &[], 6),
        ("haproxy-backup.conf", &[], &[], 6),
        ("redis-master.conf", REDIS_ERRORS, REDIS_WARNINGS, 6),
        ("redis-backup.conf", REDIS_ERRORS, REDIS_WARNINGS, 6),
        ("nginx-master.conf", NGINX, &[], 6),
        ("nginx-backup.conf", NGINX, &[], 6),
    ];
    let mut wrong = Vec::new();
    for (file, errors, warnings, code) in cases {
        let mut loaded = load(&data(&format!("seeds/{file}")), "seed");
        config::scripts::check_scripts(&mut loaded, &Installed);
        let found = (
            messages(&loaded, Severity::Error),
            messages(&loaded, Severity::Warning),
            loaded.exit_code(false),
        );
        let expected = (
            errors.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            warnings.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            *code,
        );
        if found != expected {
            wrong.push(format!("{file}: {found:#?}"));
        }
        assert!(!loaded.config.instances.is_empty(), "{file}");
        assert!(loaded.config.refusals.is_empty(), "{file}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
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
    // The author meant -20; keepalived reads `weight - 20` as no weight (and reports it).
    assert_eq!(redis.scripts[0].weight, 0);
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
    // Each checked against `keepalived -t` 2.2.7 (which reports the same, in its words).
    let expected_errors: &[(&str, &[&str])] = &[
        // keepalived: "protocol specified for fwmark - protocol will be ignored" (exit 5).
        (
            "keepalived.conf.fwmark",
            &["12:3: a fwmark virtual_server ignores its protocol"],
        ),
        (
            "keepalived.conf.SSL_GET",
            &[
                "14:11: VI_1 starts as BACKUP: initial state MASTER does not work with AH authentication",
            ],
        ),
        // Without `-i high|low` the `@high`/`@low` script lines vanish.
        (
            "keepalived.conf.conditional_conf",
            &[
                "6:1: vrrp_script check_VI_0 has no script; it is removed",
                "25:3: VI_0: track_script check_VI_0 is not defined (above this line); ignored",
            ],
        ),
        (
            "keepalived.conf.track_interface",
            &["31:9: route 192.168.112.0/24 has no interface and cannot be tracked; it is not"],
        ),
        // The sample lists instances without `group { }`.
        (
            "keepalived.conf.vrrp.lvs_syncd",
            &[
                "4:3: unknown keyword 'VI_2' in vrrp_sync_group VG1",
                "5:3: unknown keyword 'VI_3' in vrrp_sync_group VG1",
                "11:5: lvs_sync_daemon_interface in a vrrp_instance is deprecated and ignored",
                "vrrp_sync_group VG1 (keepalived.conf.vrrp.lvs_syncd:3) has no members; it is removed",
            ],
        ),
        (
            "keepalived.conf.vrrp.routes",
            &[
                "29:9: route 192.168.112.0/24 has no interface and cannot be tracked; it is not",
                "30:46: 'or' in routes is deprecated; keepalived reads it as two nexthops",
                "30:9: route 192.168.113.0/24 has no interface and cannot be tracked; it is not",
                "31:2: route 192.168.113.1/32 has no interface and cannot be tracked; it is not",
                "32:19: 'gw' is deprecated in routes; keepalived reads it as 'via'",
                "32:9: route 0.0.0.0/0 has no interface and cannot be tracked; it is not",
            ],
        ),
        // The sample really has `to 192.168.100./24`.
        (
            "keepalived.conf.vrrp.rules",
            &[
                "10:5: the rule has no preference; keepalived sets 16384",
                "11:8: '192.168.100./24' is not an IPv4 or IPv6 address",
                "11:8: invalid rule to address '192.168.100./24'; the rule is ignored",
                "25:9: the rule has no preference; keepalived sets 16383",
                "26:12: '192.168.200./24' is not an IPv4 or IPv6 address",
                "26:12: invalid rule to address '192.168.200./24'; the rule is ignored",
            ],
        ),
        (
            "keepalived.conf.vrrp.static_ipaddress",
            &["25:9: route 192.168.112.0/24 has no interface and cannot be tracked; it is not"],
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
    let mut wrong = Vec::new();
    for sample in &samples {
        let name = sample.file_name().unwrap().to_string_lossy().into_owned();
        let loaded = load(sample, "none");
        let expected: &[&str] = expected_errors
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(&[], |(_, e)| e);
        let errors = messages(&loaded, Severity::Error);
        if errors != expected {
            wrong.push(format!("{name}: {errors:#?}"));
        }
        assert!(messages(&loaded, Severity::Fatal).is_empty(), "{name}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
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
        // The dump may repeat a problem that belongs to the configuration itself (a rule
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
            .filter(|d| !original.contains(&d.message.as_str()))
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
