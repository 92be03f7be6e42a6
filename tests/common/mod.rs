//! A throwaway golive project (its own golive.toml and .golive/) and the real binary to run in it.

#![allow(dead_code)]

pub mod doubles;
pub mod prometheus;
pub mod report;
pub mod state_db;
pub mod stock_rhai;
pub mod testbed;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Project {
    pub dir: tempfile::TempDir,
    /// The PostgreSQL database the project's golive.toml names as its state store, dropped with it.
    pub state: Option<state_db::StateDb>,
}

pub const BASE_CONFIG: &str = "default_target = \"local\"\n\n[vars]\ngreeting = \"hello\"\n\n[targets.local]\nkind = \"local\"\n\n[targets.prod]\nhost = \"prod.example\"\n";

impl Project {
    pub fn new() -> Project {
        Project::with_config(BASE_CONFIG)
    }

    pub fn with_config(config: &str) -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("golive.toml"), config).unwrap();
        Project { dir, state: None }
    }

    /// A project whose runs live in a database of its own on the test bed's PostgreSQL.
    pub fn on_postgres(config: &str) -> Project {
        let db = state_db::StateDb::new();
        let project = Project::with_config(&format!("{config}\n[state]\nurl = \"{}\"\n", db.url()));
        project.write(".env", &format!("GOLIVE_STATE_PASSWORD={}\n", state_db::PASSWORD));
        Project { state: Some(db), ..project }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.file(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.file(name)).unwrap_or_default()
    }

    /// The binary, run in the project folder, with no terminal and no colour.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_golive"));
        cmd.args(args).current_dir(self.path()).env("NO_COLOR", "1").env_remove("GOLIVE_STDLIB");
        cmd.stdin(Stdio::null());
        cmd
    }

    pub fn golive(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("golive runs"))
    }

    /// Every file under .golive/, concatenated: for "nothing leaked" assertions.
    pub fn state_files(&self) -> String {
        let mut all = String::new();
        let mut stack = vec![self.file(".golive")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    all.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
                }
            }
        }
        all
    }

    pub fn journals(&self) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(self.file(".golive/runs"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("journal.jsonl"))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found
    }
}

/// What a plan's script printed: its `| ` lines, without the plan's indentation.
pub fn plan_prints(stdout: &str) -> String {
    stdout.lines().filter_map(|l| l.trim_start().strip_prefix("| ")).map(|l| format!("{l}\n")).collect()
}

/// A generated test's fixed seed: the SHA-256 of `$variable`'s text, or of `default` when it is unset.
pub fn seed(variable: &str, default: &str) -> [u8; 32] {
    let text = std::env::var(variable).unwrap_or_else(|_| default.into());
    let digest = golive::digest::sha256_hex(text.as_bytes());
    let mut seed = [0u8; 32];
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digest[2 * i..2 * i + 2], 16).expect("hex");
    }
    seed
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// The progress line of check `name` ("  ok    check \"name\"  ..." or "  FAIL  ..."), empty when absent.
    pub fn check_line(&self, name: &str) -> &str {
        let needle = format!("check \"{name}\"");
        // The line a check ended with, not the one its start printed ("  ...   check ...").
        self.stderr.lines().find(|l| l.contains(&needle) && !l.starts_with("  ... ")).unwrap_or_default()
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        assert!(!self.stderr.contains("panicked"), "golive panicked:\n{}", self.stderr);
        self
    }
}

/// Lines that differ between `old` and `new`, unified (`-` old, `+` new), for a whole-output comparison.
pub fn diff(old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new).unified_diff().context_radius(1).to_string()
}
