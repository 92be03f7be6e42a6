//! The interpreter costs what stock Rhai costs (README "Performance"): `cargo bench --bench interpreter`.
//!
//! Rhai's own primes.rhai, speed_test.rhai and fibonacci.rhai, each run by golive (release) and by the
//! `rhai-run` binary of the same Rhai version built from the crate registry with Rhai's release profile:
//! wall time of the whole process (golive's start included), median of 7, alternating; and, where valgrind
//! is installed, the instructions each whole process executes (callgrind: the same count run after run,
//! whatever else the machine does, where wall times on a shared machine vary by a tenth). Target: golive
//! within 1.1x.

#[path = "../tests/common/stock_rhai.rs"]
mod stock_rhai;

use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 7;

fn main() {
    let rhai_run = stock_rhai::rhai_run();
    let scripts = stock_rhai::scripts();
    let golive = env!("CARGO_BIN_EXE_golive");
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("golive.toml"), "default_target = \"local\"\n").unwrap();
    println!("Rhai {} (rhai-run) against golive, median of {RUNS} whole runs:", stock_rhai::version());
    for name in ["primes.rhai", "speed_test.rhai", "fibonacci.rhai"] {
        std::fs::copy(scripts.join(name), project.path().join(name)).unwrap();
        let (mut stock, mut ours) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            stock.push(timed(Command::new(&rhai_run).arg(name).current_dir(&scripts)));
            ours.push(timed(Command::new(golive).args(["-q", name]).current_dir(project.path())));
        }
        let (stock, ours) = (median(&mut stock), median(&mut ours));
        println!(
            "  {name:<16} wall:         rhai-run {:>7.3} s   golive {:>7.3} s   {:.2}x (target <= 1.10x)",
            stock.as_secs_f64(),
            ours.as_secs_f64(),
            ours.as_secs_f64() / stock.as_secs_f64()
        );
        let stock = instructions(Command::new(&rhai_run).arg(name).current_dir(&scripts));
        let ours = instructions(Command::new(golive).args(["-q", name]).current_dir(project.path()));
        if let (Some(stock), Some(ours)) = (stock, ours) {
            println!(
                "  {name:<16} instructions: rhai-run {:>7.1} M   golive {:>7.1} M   {:.2}x (target <= 1.10x)",
                stock as f64 / 1e6,
                ours as f64 / 1e6,
                ours as f64 / stock as f64
            );
        }
    }
}

/// The instructions a whole process executes, counted by callgrind (None without valgrind).
fn instructions(command: &Command) -> Option<u64> {
    let out_file = tempfile::NamedTempFile::new().unwrap();
    let mut valgrind = Command::new("valgrind");
    valgrind
        .args(["--tool=callgrind", "--trace-children=no"])
        .arg(format!("--callgrind-out-file={}", out_file.path().display()));
    valgrind.arg(command.get_program()).args(command.get_args());
    if let Some(dir) = command.get_current_dir() {
        valgrind.current_dir(dir);
    }
    let out = valgrind.output().ok()?;
    assert!(out.status.success(), "{valgrind:?}: {}", String::from_utf8_lossy(&out.stderr));
    let profile = std::fs::read_to_string(out_file.path()).unwrap();
    profile.lines().find_map(|l| l.strip_prefix("totals: ")).and_then(|t| t.trim().parse().ok())
}

fn timed(command: &mut Command) -> Duration {
    let started = Instant::now();
    let out = command.output().unwrap();
    let elapsed = started.elapsed();
    assert!(out.status.success(), "{command:?}: {}", String::from_utf8_lossy(&out.stderr));
    elapsed
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}
