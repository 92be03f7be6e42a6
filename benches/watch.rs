//! The cost of a long watch: `cargo bench --bench watch` (the test bed up: tests/testbed/testbed.sh up).
//!
//! Runs the release binary on a watch of monitor.rhai's six rules (five PromQL queries against the test
//! bed's Prometheus, failed payments against the Stripe double) every 1 s for GOLIVE_BENCH_WATCH_SECS
//! (default 600), then reads the process's CPU time and peak RSS from wait4. The target is a 24-hour
//! watch at 15 s: under 1 % of one core on average and under 30 MB resident. Its CPU share is
//! extrapolated per evaluation: 5,760 evaluations x (CPU per evaluation) / 86,400 s.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

const SCRIPT: &str = r#"
step "watch" {
    let s = metrics::watch(#{
        every: "1s", "for": `${config("bench_seconds")}s`,
        rules: [
            #{ name: "Error Rate", query: config("monitor.error_rate_query"), warn: 1.0, crit: 5.0 },
            #{ name: "Response Time p95", query: config("monitor.p95_query"), warn: 1.0, crit: 3.0 },
            #{ name: "CPU Usage", query: config("monitor.cpu_query"), warn: 70.0, crit: 90.0 },
            #{ name: "Memory Usage", query: config("monitor.memory_query"), warn: 80.0, crit: 95.0 },
            #{ name: "Disk Usage", query: config("monitor.disk_query"), warn: 80.0, crit: 95.0 },
            #{ name: "Failed Payments", value: || 100.0 * stripe::failed_payment_rate(timestamp() - 3600).rate, warn: 2.0, crit: 10.0 },
        ],
    });
    print(`evaluations=${s.evaluations}`);
}
"#;

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        Path::new("/tmp/golive-testbed/rehearsal.env").exists(),
        "start the test bed first: tests/testbed/testbed.sh up"
    );
    let seconds: u64 = std::env::var("GOLIVE_BENCH_WATCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    let dir = tempfile::tempdir().unwrap();
    let mut config = std::fs::read_to_string(repo.join("golive.toml")).unwrap();
    config = config.replacen("[vars]\n", &format!("[vars]\nbench_seconds = {seconds}\n"), 1);
    std::fs::write(dir.path().join("golive.toml"), config).unwrap();
    std::fs::write(dir.path().join("watch.rhai"), SCRIPT).unwrap();

    let started = Instant::now();
    // Reaped by wait4 below, which also gives the process's CPU time and peak RSS.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(env!("CARGO_BIN_EXE_golive"))
        .args(["watch.rhai", "--yes"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("golive runs");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; status and usage are valid for writes.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    let wall = started.elapsed().as_secs_f64();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.unwrap(), &mut out).unwrap();
    let evaluations: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("evaluations="))
        .unwrap_or_else(|| panic!("the watch did not finish:\n{out}"))
        .trim()
        .parse()
        .unwrap();
    let cpu = usage.ru_utime.tv_sec as f64
        + usage.ru_utime.tv_usec as f64 / 1e6
        + usage.ru_stime.tv_sec as f64
        + usage.ru_stime.tv_usec as f64 / 1e6;
    let per_evaluation_ms = 1000.0 * cpu / evaluations;
    let day_share = 100.0 * (86_400.0 / 15.0) * (per_evaluation_ms / 1000.0) / 86_400.0;
    println!("watch of 6 rules every 1 s for {seconds} s: {evaluations} evaluations in {wall:.1} s wall");
    println!(
        "CPU {cpu:.2} s = {:.2} % of one core at 1 s; {per_evaluation_ms:.2} ms per evaluation",
        100.0 * cpu / wall
    );
    println!("extrapolated 24 h at 15 s: {day_share:.3} % of one core (target < 1 %)");
    println!("peak RSS {:.1} MB (target < 30 MB)", usage.ru_maxrss as f64 / 1024.0);
}
