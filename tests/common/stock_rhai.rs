//! Stock Rhai to hold golive against: the `rhai-run` binary of the Rhai version golive links, built from
//! the crate registry, and Rhai's own example scripts.
//!
//! The scripts come from the newest `rhai` package on crates.io that still ships `scripts/` (1.8.0; later
//! packages leave the folder out, and nothing but the registry is reachable here). Since then the
//! repository changed their comments to `//!` and named primes.rhai's answer a constant: the same programs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

const SCRIPTS_VERSION: &str = "1.8.0";
/// crates.io's checksum of rhai-1.8.0.crate (the sparse index's `cksum`).
const SCRIPTS_SHA256: &str = "9f8a1b0ce6aba109eb3628f36db9c1818c1d396bd5a56449d5203e96e4b713a7";

static FETCHING: Mutex<()> = Mutex::new(());

fn target_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    dir.join("stock-rhai")
}

/// The Rhai version in golive's Cargo.lock.
pub fn version() -> String {
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock")).unwrap();
    let lock: toml::Table = toml::from_str(&lock).expect("Cargo.lock is TOML");
    let packages = lock["package"].as_array().expect("Cargo.lock lists packages");
    let rhai = packages.iter().find(|p| p["name"].as_str() == Some("rhai")).expect("rhai in Cargo.lock");
    rhai["version"].as_str().expect("a version").to_string()
}

/// `rhai-run` of golive's Rhai version, built once into target/stock-rhai/ with Rhai's own release profile
/// (a debug build has Rhai's lower debug limits: fibonacci.rhai overflows its call stack there).
pub fn rhai_run() -> PathBuf {
    let _one = FETCHING.lock().unwrap_or_else(|p| p.into_inner());
    let version = version();
    let root = target_dir().join(format!("rhai-run-{version}"));
    let binary = root.join("bin/rhai-run");
    if binary.exists() {
        return binary;
    }
    let mut install = Command::new(env!("CARGO"));
    install.args(["install", "rhai", "--version", &format!("={version}"), "--bin", "rhai-run", "--locked"]);
    install.arg("--root").arg(&root).env_remove("CARGO_TARGET_DIR");
    let out = install.output().expect("cargo install");
    assert!(
        out.status.success() && binary.exists(),
        "cargo install rhai {version} (rhai-run): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    binary
}

/// The folder of Rhai's example scripts (`*.rhai`), fetched from crates.io once and checked against its
/// published checksum.
pub fn scripts() -> PathBuf {
    let _one = FETCHING.lock().unwrap_or_else(|p| p.into_inner());
    let dir = target_dir().join(format!("rhai-{SCRIPTS_VERSION}"));
    let scripts = dir.join("scripts");
    if scripts.join("primes.rhai").exists() {
        return scripts;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let crate_file = target_dir().join(format!("rhai-{SCRIPTS_VERSION}.crate"));
    let url = format!("https://static.crates.io/crates/rhai/rhai-{SCRIPTS_VERSION}.crate");
    let fetched = Command::new("curl").args(["-fsSL", "--retry", "3", "-o"]).arg(&crate_file).arg(&url).status();
    assert!(fetched.is_ok_and(|s| s.success()), "cannot fetch {url}");
    let sum = Command::new("sha256sum").arg(&crate_file).output().unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout);
    assert!(sum.starts_with(SCRIPTS_SHA256), "{url}: checksum {sum}, expected {SCRIPTS_SHA256}");
    let unpacked = Command::new("tar")
        .arg("-xzf")
        .arg(&crate_file)
        .arg("-C")
        .arg(&dir)
        .args(["--strip-components=1", &format!("rhai-{SCRIPTS_VERSION}/scripts")])
        .status()
        .unwrap();
    assert!(unpacked.success() && scripts.join("primes.rhai").exists(), "cannot unpack {}", crate_file.display());
    scripts
}
