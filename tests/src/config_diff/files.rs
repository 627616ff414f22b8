//! Real-world keepalived.conf files through the same comparison as generated ones: each file
//! is run as it is written, in a namespace that has the interfaces it names. Which those are
//! is learnt from a first run: both programs name the interfaces they miss (keepalived:
//! "interface X for ... doesn't exist", "tracked interface X doesn't exist"; xvrrpd: "X (...)
//! does not exist on this host"), and the file is run again with them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::generate::Case;
use super::values::POOL;
use super::world::{Outcome, run_case_with};
use super::{Report, record};

/// One file to compare.
#[derive(Clone, Debug)]
pub struct RealFile {
    /// How reports name it (its origin and file name).
    pub name: String,
    pub path: PathBuf,
}

/// Every keepalived configuration in `dir` (not recursing): files named `*.conf` or
/// `keepalived.conf.*`, sorted by name; `origin` prefixes their names.
pub fn collect(dir: &Path, origin: &str) -> std::io::Result<Vec<RealFile>> {
    let mut files: Vec<RealFile> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .filter(|path| {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| n.ends_with(".conf") || n.starts_with("keepalived.conf."))
        })
        .map(|path| RealFile {
            name: format!(
                "{origin}/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            ),
            path,
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// Where Debian's keepalived package puts keepalived's sample configurations (the same files
/// as doc/samples in github.com/acassen/keepalived; `cargo xtask setup` installs the package).
pub const KEEPALIVED_SAMPLES: &str = "/usr/share/doc/keepalived/samples";

/// The real-world set: keepalived's samples, then the seeds of the test data (users'
/// deployments, origin in their README), then every directory of `more`.
pub fn real_world(workspace: &Path, more: &[PathBuf]) -> std::io::Result<Vec<RealFile>> {
    let mut all = collect(Path::new(KEEPALIVED_SAMPLES), "keepalived-samples")?;
    all.extend(collect(
        &workspace.join("vrrp-userspace/tests/data/configs/seeds"),
        "seeds",
    )?);
    for dir in more {
        let origin = dir
            .file_name()
            .map_or_else(|| "files".to_string(), |n| n.to_string_lossy().into_owned());
        all.extend(collect(dir, &origin)?);
    }
    Ok(all)
}

/// The interfaces either program says are missing, the pool's aside.
pub fn missing_interfaces(outcome: &Outcome) -> Vec<String> {
    let mut names = Vec::new();
    for line in outcome.keepalived_stderr.lines() {
        if !line.contains("doesn't exist") {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(index) = words.iter().position(|w| *w == "interface")
            && let Some(name) = words.get(index + 1)
        {
            names.push(name.to_string());
        }
    }
    for line in outcome.xvrrpd_stderr.lines() {
        if let Some((_, rest)) = line.split_once(": error: ")
            && rest.contains(") does not exist on this host")
            && let Some((name, role)) = rest.split_once(' ')
            && role.starts_with('(')
        {
            names.push(name.to_string());
        }
    }
    names.retain(|name| {
        (1..=15).contains(&name.len())
            && !name.contains(['/', ':', '\''])
            && name != "lo"
            && !POOL.iter().any(|p| p.name == name)
    });
    names.sort();
    names.dedup();
    names
}

/// Runs one file: once with the pool, again with the interfaces it was missing.
pub fn run_file(
    number: u64,
    file: &RealFile,
    xvrrpd: &Path,
    dump: bool,
    config_id: &str,
) -> anyhow::Result<(Case, Outcome)> {
    let case = Case {
        seed: number,
        main: std::fs::read_to_string(&file.path)?,
        includes: Vec::new(),
        scripts: Vec::new(),
        files: Vec::new(),
        dirs: Vec::new(),
        config_id: config_id.to_string(),
    };
    let mut extra: Vec<String> = Vec::new();
    let mut outcome = run_case_with(&case, xvrrpd, dump, &extra)?;
    // An interface found missing may hide the next (keepalived stops at the first it
    // cannot create); three rounds are plenty for real files.
    for _ in 0..3 {
        let missing: Vec<String> = missing_interfaces(&outcome)
            .into_iter()
            .filter(|name| !extra.contains(name))
            .collect();
        if missing.is_empty() {
            break;
        }
        extra.extend(missing);
        outcome = run_case_with(&case, xvrrpd, dump, &extra)?;
    }
    Ok((case, outcome))
}

/// Runs `files` on `threads` threads; case numbers are the files' indices (`names` maps them
/// back). Diverging files are kept in `keep` as `seed-N`.
pub fn run_files(
    files: &[RealFile],
    xvrrpd: &Path,
    threads: usize,
    config_id: &str,
    keep: Option<&Path>,
) -> Report {
    let next = Mutex::new(files.iter().enumerate());
    let report = Mutex::new(Report::default());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let Some((index, file)) = next.lock().expect("file lock").next() else {
                        break;
                    };
                    let number = index as u64;
                    report
                        .lock()
                        .expect("report lock")
                        .names
                        .insert(number, file.name.clone());
                    match run_file(number, file, xvrrpd, true, config_id) {
                        Ok((case, outcome)) => record(&report, &case, &outcome, keep),
                        Err(err) => report
                            .lock()
                            .expect("report lock")
                            .errors
                            .push((number, format!("{}: {err:#}", file.name))),
                    }
                }
            });
        }
    });
    let mut report = report.into_inner().expect("report lock");
    report.divergences.sort_by_key(|d| d.seed);
    if let Some(keep) = keep {
        let names: Vec<String> = report
            .names
            .iter()
            .map(|(number, name)| format!("seed-{number} {name}"))
            .collect();
        let _ = std::fs::create_dir_all(keep);
        let _ = std::fs::write(keep.join("names.txt"), names.join("\n") + "\n");
    }
    report
}
