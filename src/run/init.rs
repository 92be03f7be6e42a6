//! `golive init`: a runbook repository to start from: golive.toml with a local and an ssh target, a first
//! runbook, a scenario with its snapshot, .gitignore and a CI script running `golive check` and `golive
//! test`. It writes nothing over an existing file.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::{Failure, Result, io_failure};

const CONFIG: &str = r#"# golive.toml: the targets runbooks act on and the values they read with config("key").
default_target = "local"

[vars]
app_url = "http://127.0.0.1:8080"
release = "1.0.0"

# This machine: for trying runbooks out.
[targets.local]
kind = "local"

# A server over ssh (golive uses your ssh config, keys and known_hosts).
[targets.web]
host = "web.example.com"
user = "deploy"
"#;

const SCRIPT: &str = r#"//! A first runbook: check, do, verify. Plan it with `golive plan scripts/release.rhai`, test its plans with
//! `golive test`, run it with `golive scripts/release.rhai`.

let release = config("release");

phase "Pre-flight" {
    check "disk has room" {
        // A read (a plan assumes it prints " 95%" when no scenario answers); replace and trim change the
        // string in place.
        let used = local::run("df --output=pcent / | tail -1", #{ read_only: true, assume: " 95%" }).stdout;
        used.replace("%", "");
        used.trim();
        let pct = parse_int(used);
        #{ ok: pct < 90, actual: `${pct}%`, target: "< 90%" }
    }
}

phase "Release" {
    step "record the release" {
        local::run(`echo ${release} > release.txt`);
    }
    manual "Release notes sent to the team";
}
"#;

const SCENARIO: &str = r#"# What the plan's reads answer and who says yes, for `golive test` (and `golive plan --scenario`).
description = "a healthy machine, the release recorded, the notes sent"

[test]
exit_code = 0

[[exec]]
match = "df --output=pcent"
stdout = " 42%\n"

[[prompt]]
match = "Release notes sent"
answer = "yes"
"#;

const GITIGNORE: &str = ".golive/\n*.partial\n";

const CI: &str = r#"#!/bin/sh
# CI for the runbooks: every script compiles and passes the lints, and every plan matches its snapshot.
# Any CI system: put the golive binary on PATH, then run this; golive-junit.xml is the JUnit report.
set -eu
golive check
golive test --junit golive-junit.xml
"#;

/// Creates the repository in `dir` and stores the first snapshots; returns the files written.
pub fn init(dir: &Path, runtime: &tokio::runtime::Handle) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| io_failure("create", dir, e))?;
    let files: [(&str, &str); 5] = [
        ("golive.toml", CONFIG),
        ("scripts/release.rhai", SCRIPT),
        ("tests/scenarios/release.healthy.toml", SCENARIO),
        (".gitignore", GITIGNORE),
        ("ci.sh", CI),
    ];
    if let Some((name, _)) = files.iter().find(|(name, _)| dir.join(name).exists()) {
        return Err(Failure::Usage(format!(
            "error: {} exists; golive init writes only into a folder without its files",
            dir.join(name).display()
        )));
    }
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_failure("create", parent, e))?;
        }
        std::fs::write(&path, text).map_err(|e| io_failure("write", &path, e))?;
        written.push(path);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let ci = dir.join("ci.sh");
        std::fs::set_permissions(&ci, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| io_failure("write", &ci, e))?;
    }
    // The snapshots come from this golive, so the new repository's `golive test` passes as it is.
    let config = Config::load(&dir.join("golive.toml"))?;
    let cases = super::snapshots::cases(&config, &[])?;
    let options = super::Options::default();
    for tested in super::snapshots::test(&config, &cases, &options, super::snapshots::Update::All, runtime)? {
        if !tested.passed() {
            return Err(Failure::Runbook(format!("error: golive init: {}: {}", tested.case.name, tested.why())));
        }
        written.push(config.root.join("tests/snapshots").join(format!("plans__{}.snap", tested.case.name)));
    }
    Ok(written)
}
