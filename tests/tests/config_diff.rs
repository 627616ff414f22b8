//! The differential test of xvrrpd's keepalived.conf reader against keepalived 2.2.7
//! (netlab::config_diff): a short seeded batch of generated files and the real-world files,
//! each run through `keepalived -t` and `xvrrpd -t` in a namespace with the interfaces it
//! names, and through both programs' dumps where keepalived accepts it. Deterministic: the
//! same seeds every run. `cargo xtask fuzz config-diff --count N` runs it long, and
//! `cargo xtask fuzz config-diff --real-world --files DIR` on more files.

use std::path::Path;

use netlab::config_diff::{self, Report, files};
use netlab::xvrrpd_bin;

/// Seeds of the batch: with the real-world files, ~60 s on two busy cores.
const SEEDS: std::ops::Range<u64> = 0..200;

fn explain(report: &Report) -> String {
    let mut text = String::new();
    for d in &report.divergences {
        let name = report
            .names
            .get(&d.seed)
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        text.push_str(&format!(
            "seed {}{name} [{}] {}\n\n",
            d.seed, d.kind, d.detail
        ));
    }
    for (seed, error) in &report.errors {
        text.push_str(&format!("seed {seed}: not run: {error}\n"));
    }
    text
}

#[test]
fn generated_files_are_read_as_keepalived_reads_them() {
    let report = config_diff::run_batch(SEEDS, &xvrrpd_bin(), 2, true, None);
    assert!(
        report.divergences.is_empty() && report.errors.is_empty(),
        "{}\n{}\nrerun one with: cargo xtask fuzz config-diff --first-seed N --count 1 (kept in target/config-diff)",
        report.summary(),
        explain(&report)
    );
    assert_eq!(report.files, SEEDS.count());
    // The batch must exercise both verdicts and the dump comparison.
    assert!(report.accepted >= 40, "{}", report.summary());
    assert!(report.dumps >= 40, "{}", report.summary());
}

/// Seeds beyond the batch that once diverged, each for its own reason: 216, 434 and 812
/// (keepalived checks script security before it refuses an instance or a VRID conflict: exit
/// 6), 609 (a notify whose group does not exist leaves the slot to the next line), 247
/// (`reverse` kept on a sync group member's interface of weight 0), 831 (an invalid
/// `garp_lower_prio_delay` is read by the running keepalived as strtoul does: 0), 1000509 (a
/// sync group's weighted track_script with a priority-255 member: weight cleared, reported),
/// 1000646 (a bare-name notify script run as another user than root: keepalived 2.2.7's PATH
/// search fails).
const FIXED_SEEDS: [u64; 8] = [216, 247, 434, 609, 812, 831, 1_000_509, 1_000_646];

#[test]
fn former_divergences_stay_fixed() {
    let report = config_diff::run_batch(FIXED_SEEDS.into_iter(), &xvrrpd_bin(), 2, true, None);
    assert!(
        report.divergences.is_empty() && report.errors.is_empty(),
        "{}\n{}",
        report.summary(),
        explain(&report)
    );
    assert_eq!(report.files, FIXED_SEEDS.len());
}

#[test]
fn real_world_files_are_read_as_keepalived_reads_them() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let all = files::real_world(workspace, &[]).expect("real-world files");
    assert!(all.len() >= 30, "only {} real-world files", all.len());
    let report = files::run_files(&all, &xvrrpd_bin(), 2, "high", None);
    assert!(
        report.divergences.is_empty() && report.errors.is_empty(),
        "{}\n{}",
        report.summary(),
        explain(&report)
    );
    assert_eq!(report.files, all.len());
}
