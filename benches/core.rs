//! The runtime core's figures (README "Performance"): `cargo bench --bench core`.
//!
//! - `golive plan` of a generated 500-step runbook: wall time of a cold process (target < 50 ms)
//! - its peak resident memory (target < 30 MB)
//! - journal overhead per step, both boundary lines fsynced (target < 2 ms median)
//! - `golive --version` (target < 10 ms)

use std::process::Command;
use std::time::{Duration, Instant};

use golive::run::journal::{Entry, Journal, StepStatus};
use golive::secrets::Redactor;

const STEPS: usize = 500;
const RUNS: usize = 30;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("golive.toml"), "default_target = \"local\"\n").unwrap();
    let mut script = String::new();
    for phase in 0..10 {
        script
            .push_str(&format!("phase \"phase {phase}\" with #{{ window: \"06:00-12:00\", owner: \"DevOps\" }} {{\n"));
        for step in 0..STEPS / 10 {
            let n = phase * (STEPS / 10) + step;
            script.push_str(&format!(
                "    step \"step {n}\" with #{{ timeout: \"5m\" }} {{ local::run(\"echo {n} >> /tmp/never\"); }}\n"
            ));
        }
        script.push_str("}\n");
    }
    std::fs::write(dir.path().join("big.rhai"), &script).unwrap();
    let binary = env!("CARGO_BIN_EXE_golive");

    let mut plan_times = Vec::new();
    let mut peak_kb = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let mut child = Command::new(binary)
            .args(["plan", "big.rhai"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let (status, rss) = wait_with_rss(&mut child);
        plan_times.push(started.elapsed());
        assert!(status, "the plan failed");
        peak_kb = peak_kb.max(rss);
    }
    let mut version_times = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let out = Command::new(binary).arg("--version").output().unwrap();
        version_times.push(started.elapsed());
        assert!(out.status.success());
    }
    let journal_path = dir.path().join("journal.jsonl");
    let first =
        Entry::RunResumed { by: "bench".into(), pid: std::process::id(), at: golive::run::identity::now_stamp() };
    let mut journal = Journal::create(&journal_path, Redactor::new(), &first).unwrap();
    let mut step_times = Vec::new();
    for n in 0..STEPS {
        let started = Instant::now();
        let step = format!("step {n}");
        let begin = Entry::StepStarted {
            step: step.clone(),
            kind: "step".into(),
            phase: Some("phase".into()),
            attempt: 1,
            source_sha256: "0".repeat(64),
            at: golive::run::identity::now_stamp(),
            section: None,
        };
        journal.append(&begin, true).unwrap();
        let end = Entry::StepFinished {
            step,
            status: StepStatus::Done,
            duration_ms: 1,
            value: serde_json::json!({"code": 0, "stdout": "ok"}),
            error: None,
            check: None,
            at: golive::run::identity::now_stamp(),
        };
        journal.append(&end, true).unwrap();
        step_times.push(started.elapsed());
    }

    println!("golive core benchmark ({STEPS}-step runbook, {RUNS} runs each, release build)");
    report("plan of 500 steps, cold process", &mut plan_times, "< 50 ms");
    println!("  {:<44} {:>8.1} MB   (target < 30 MB)", "peak RSS of that plan", peak_kb as f64 / 1024.0);
    report("journal per step (2 lines, fsync each)", &mut step_times, "< 2 ms");
    report("golive --version", &mut version_times, "< 10 ms");
}

fn report(what: &str, times: &mut [Duration], target: &str) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(times[times.len() / 2]);
    let p90 = ms(times[times.len() * 9 / 10]);
    println!("  {what:<44} {median:>8.2} ms median, p90 {p90:.2} ms   (target {target})");
}

/// Waits for the child and returns (success, its peak resident set in KiB).
fn wait_with_rss(child: &mut std::process::Child) -> (bool, i64) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 fills the given status and rusage for our own child.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::wait4(pid, &mut status, 0, &mut usage);
        usage
    };
    (libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, usage.ru_maxrss)
}
