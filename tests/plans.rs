//! golive's own plan snapshots, through `golive test` as a runbook repository runs them: every
//! `scripts/*.rhai` and `examples/*.rhai` with no scenario and under each `tests/scenarios/<script>.<case>.toml`,
//! each case its own line (one difference never hides the rest), against `tests/snapshots/plans__<case>.snap`.
//! After an intended change: `golive test --accept`, then review the diff in git.

use crate::common;

use std::process::Command;

#[test]
fn every_script_plans_as_its_snapshots_say_under_every_scenario() {
    let root = env!("CARGO_MANIFEST_DIR");
    let junit = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("plans-junit.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_golive"))
        .args(["test", "--junit"])
        .arg(&junit)
        .current_dir(root)
        .env("NO_COLOR", "1")
        .env_remove("GOLIVE_STDLIB")
        .output()
        .unwrap();
    let run = common::Run::from(out);
    let cases = run.stdout.lines().filter(|l| l.starts_with("  ok") || l.starts_with("  FAIL")).count();
    assert!(cases >= 20, "expected every script and scenario, got {cases}:\n{}", run.all());
    run.assert_code(0);
    assert!(run.stdout.contains(&format!("{cases} cases: {cases} passed, 0 failed")), "{}", run.all());
    let report = std::fs::read_to_string(&junit).unwrap();
    assert!(report.contains(&format!("tests=\"{cases}\" failures=\"0\"")), "{report}");
}

/// The shipped runbooks under `golive test --faults`: every check fails when one of its reads answers
/// adversarially, or states why it survives (`survives`); a new vacuous or weak check fails this test.
#[test]
fn the_shipped_runbooks_have_no_vacuous_check_and_no_unexplained_survivor() {
    let out = Command::new(env!("CARGO_BIN_EXE_golive"))
        .args(["test", "--faults"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("GOLIVE_STDLIB")
        .output()
        .unwrap();
    let run = common::Run::from(out);
    run.assert_code(0);
    let summary = run.stdout.lines().last().unwrap_or_default().to_string();
    assert!(summary.ends_with("0 vacuous; 0 error(s)") && summary.contains(" checks, "), "{}", run.all());
}

/// docs/coverage.md is `golive coverage`'s output, never written by hand: a script item renamed, a check
/// weakened (a fault it now survives) or a `partial` reason added changes the table, and this test says so.
#[test]
fn the_coverage_table_is_what_golive_coverage_computes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_golive"))
        .arg("coverage")
        .current_dir(root)
        .env("NO_COLOR", "1")
        .env_remove("GOLIVE_STDLIB")
        .output()
        .unwrap();
    let run = common::Run::from(out);
    run.assert_code(0);
    let written = std::fs::read_to_string(root.join("docs/coverage.md")).unwrap();
    assert!(
        run.stdout == written,
        "docs/coverage.md differs from `golive coverage` (run `golive coverage > docs/coverage.md`):\n{}",
        common::diff(&written, &run.stdout)
    );
}
