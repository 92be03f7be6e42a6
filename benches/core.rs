//! The runtime core's figures (README "Performance"): `cargo bench --bench core`.
//!
//! - `golive plan` of a generated 500-step runbook: wall time of a cold process (target < 50 ms)
//! - its peak resident memory (target < 30 MB)
//! - journal overhead per step, both boundary lines fsynced (target < 2 ms median)
//! - `golive --version` (target < 10 ms)
//! - `golive check` of a generated 20,000-step script (target < 1 s: loading is linear)
//! - `golive report --format html` of a 500-step run that ran, cold process (target < 200 ms)
//! - peak memory of `golive serve` following that run: the page and its event stream (target < 30 MB)

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
            kind: golive::lifecycle::ItemKind::Step,
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

    // Loading is linear: a 20,000-step script is checked (compiled, outlined, linted) in well under a second.
    let mut huge = String::from("phase \"P\" {\n");
    for n in 0..20_000 {
        huge.push_str(&format!("    step \"s{n}\" {{ local::run(\"echo {n}\"); }}\n"));
    }
    huge.push_str("}\n");
    std::fs::write(dir.path().join("huge.rhai"), &huge).unwrap();
    let mut check_times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let out = Command::new(binary).args(["check", "huge.rhai"]).current_dir(dir.path()).output().unwrap();
        check_times.push(started.elapsed());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    // A 500-step run for real (each step one local command), then its report and its live page.
    std::fs::write(dir.path().join("ran.rhai"), script.replace("echo {n} >> /tmp/never", "true")).unwrap();
    let ran = Command::new(binary).arg("ran.rhai").current_dir(dir.path()).output().unwrap();
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    let mut report_times = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let out = Command::new(binary)
            .args(["report", "ran", "--format", "html", "--out", "report"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        report_times.push(started.elapsed());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let html_kb = std::fs::metadata(dir.path().join("report/report.html")).unwrap().len() / 1024;
    let serve_kb = serve_peak_kb(binary, dir.path());

    println!("golive core benchmark ({STEPS}-step runbook, {RUNS} runs each, release build)");
    report("plan of 500 steps, cold process", &mut plan_times, "< 50 ms");
    println!("  {:<44} {:>8.1} MB   (target < 30 MB)", "peak RSS of that plan", peak_kb as f64 / 1024.0);
    report("journal per step (2 lines, fsync each)", &mut step_times, "< 2 ms");
    report("golive --version", &mut version_times, "< 10 ms");
    report("golive check of a 20,000-step script", &mut check_times, "< 1 s");
    report(&format!("report of the 500-step run (HTML, {html_kb} KB)"), &mut report_times, "< 200 ms");
    println!(
        "  {:<44} {:>8.1} MB   (target < 30 MB)",
        "peak RSS of golive serve following it",
        serve_kb as f64 / 1024.0
    );
}

/// `golive serve` on the run: the page fetched five times and its event stream followed for 3 s, then its
/// peak resident memory (VmHWM) read before it is stopped.
fn serve_peak_kb(binary: &str, dir: &std::path::Path) -> u64 {
    use std::io::BufRead;
    let mut serve = Command::new(binary)
        .args(["serve", "ran", "--bind", "127.0.0.1:0"])
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(serve.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_string();
    for _ in 0..5 {
        assert!(Command::new("curl").args(["-sf", "-o", "/dev/null", &url]).status().unwrap().success());
    }
    let _ = Command::new("curl").args(["-s", "-o", "/dev/null", "--max-time", "3", &format!("{url}events")]).status();
    let status = std::fs::read_to_string(format!("/proc/{}/status", serve.id())).unwrap();
    let _ = serve.kill();
    let _ = serve.wait();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
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
