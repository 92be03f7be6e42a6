//! What keeping a run's state costs (README "Performance"): `cargo bench --bench state`, the test bed up
//! (`sudo tests/testbed/testbed.sh up`) for its PostgreSQL on 127.0.0.1:15432.
//!
//! - journal cost per step (its two boundary entries, each durable: fsynced on files, a committed row on
//!   PostgreSQL), median of 500 steps (target on PostgreSQL < 2 ms on loopback)
//! - a 50-step local run (one `true` per step), whole process, median of 15: golive on files, golive on
//!   PostgreSQL, and a shell loop running the same 50 commands (target on files: within 2x of the loop)

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use golive::run::journal::{Entry, StepStatus};
use golive::secrets::Redactor;

const STEPS: usize = 500;
const RUNS: usize = 15;
const PASSWORD: &str = "state-rehearsal-pw";
const URL: &str = "postgres://golive@127.0.0.1:15432";

fn psql(sql: &str) -> bool {
    Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", "15432", "-U", "golive", "-d", "golive", "-X", "-q", "-c", sql])
        .env("PGPASSWORD", PASSWORD)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn project(state: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut config = String::from("default_target = \"local\"\n[targets.local]\nkind = \"local\"\n");
    if let Some(db) = state {
        config.push_str(&format!("[state]\nurl = \"{URL}/{db}\"\n"));
        std::fs::write(dir.path().join(".env"), format!("GOLIVE_STATE_PASSWORD={PASSWORD}\n")).unwrap();
    }
    std::fs::write(dir.path().join("golive.toml"), config).unwrap();
    let script: String = (0..50).map(|n| format!("step \"s{n}\" {{ local::run(\"true\"); }}\n")).collect();
    std::fs::write(dir.path().join("fifty.rhai"), script).unwrap();
    dir
}

/// Per step: its started and finished entries, appended durably through the project's store.
fn journal_per_step(dir: &std::path::Path) -> Vec<Duration> {
    let config = Arc::new(golive::config::Config::load(&dir.join("golive.toml")).unwrap());
    // The store reads GOLIVE_STATE_PASSWORD from the project's .env.
    let store = golive::run::store::of(&config).unwrap();
    let id = store.reserve(std::path::Path::new("bench"), "local").unwrap();
    let first =
        Entry::RunResumed { by: "bench".into(), pid: std::process::id(), at: golive::run::identity::now_stamp() };
    let mut journal = store.create_journal(&id, Redactor::new(), &first).unwrap();
    let mut times = Vec::new();
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
        times.push(started.elapsed());
    }
    times
}

fn whole(command: &mut Command) -> Duration {
    let started = Instant::now();
    let out = command.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    started.elapsed()
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn p90(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() * 9 / 10]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let golive = env!("CARGO_BIN_EXE_golive");
    let db = format!("golive_bench_{}", std::process::id());
    let on_postgres = psql(&format!("CREATE DATABASE {db}"));
    println!("golive state benchmark (release build)");

    let files = project(None);
    let mut per_step = journal_per_step(files.path());
    println!(
        "  journal per step, files (2 entries, fsync each)        {:>7.2} ms   p90 {:>6.2} ms",
        ms(median(&mut per_step)),
        ms(p90(&mut per_step))
    );
    let postgres = on_postgres.then(|| project(Some(&db)));
    match &postgres {
        Some(dir) => {
            let mut per_step = journal_per_step(dir.path());
            println!(
                "  journal per step, PostgreSQL (2 committed rows)        {:>7.2} ms   p90 {:>6.2} ms   (target < 2 ms)",
                ms(median(&mut per_step)),
                ms(p90(&mut per_step))
            );
        }
        None => {
            println!("  journal per step, PostgreSQL: NOT MEASURED (no PostgreSQL at {URL}; bring the test bed up)")
        }
    }

    let loop_script = "for i in $(seq 50); do sh -c true; done";
    let (mut shell, mut on_files, mut on_pg) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        shell.push(whole(Command::new("sh").args(["-c", loop_script])));
        on_files.push(whole(Command::new(golive).args(["-q", "fifty.rhai"]).current_dir(files.path())));
        if let Some(dir) = &postgres {
            on_pg.push(whole(Command::new(golive).args(["-q", "fifty.rhai"]).current_dir(dir.path())));
        }
    }
    let shell = median(&mut shell);
    let files_run = median(&mut on_files);
    println!("  50-step local run, median of {RUNS} whole processes:");
    println!("    shell loop of the same 50 commands                   {:>7.1} ms", ms(shell));
    println!(
        "    golive, files                                        {:>7.1} ms   {:.2}x the loop (target <= 2x)",
        ms(files_run),
        files_run.as_secs_f64() / shell.as_secs_f64()
    );
    if !on_pg.is_empty() {
        let pg_run = median(&mut on_pg);
        println!(
            "    golive, PostgreSQL                                   {:>7.1} ms   {:.2}x the loop",
            ms(pg_run),
            pg_run.as_secs_f64() / shell.as_secs_f64()
        );
    }
    if on_postgres {
        psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    }
}
