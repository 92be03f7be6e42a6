//! SIGKILL at random moments of a multi-step run, then resume: every step's effect happens exactly once, or
//! the step in doubt is reported and the operator's decision keeps it at once; the journal never corrupts.
//! Once with local commands, once with commands on the test bed's sshd (which may outlive the killed golive:
//! resume asks the target, and waits for them).

use std::time::{Duration, Instant};

use crate::common::{Project, testbed};
use rand::{Rng, SeedableRng};

const KILLS: usize = 50;

/// The step a non-interactive resume refused to settle: `step "s7" is in doubt`.
fn in_doubt_step(stderr: &str) -> Option<String> {
    let end = stderr.find("\" is in doubt")?;
    let start = stderr[..end].rfind("step \"")? + "step \"".len();
    Some(stderr[start..end].to_string())
}

fn count(lines: &str, step: &str) -> usize {
    lines.lines().filter(|l| *l == step).count()
}

/// Runs the project's crash.rhai (steps s1..=steps, each appending its name to `lines`) `KILLS` times,
/// SIGKILLs it at a random moment, and resumes until it finished. Four operators at once (each kill has
/// its own project), so the remote variant stays quick.
fn kill_and_resume(
    make_project: &(dyn Fn() -> Project + Sync),
    lines: &(dyn Fn(&Project) -> String + Sync),
    steps: usize,
) {
    const WORKERS: usize = 4;
    let seed: u64 = std::env::var("GOLIVE_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("crash test seed {seed} (set GOLIVE_CRASH_SEED to replay)");

    let calibration = make_project();
    let started = Instant::now();
    calibration.golive(&["crash.rhai"]).assert_code(0);
    let full_run = started.elapsed();

    let totals: Vec<(usize, usize)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|worker| {
                scope.spawn(move || {
                    let mut rng = rand::rngs::StdRng::seed_from_u64(seed.wrapping_add(worker as u64));
                    let kills = (worker..KILLS).step_by(WORKERS);
                    kills
                        .map(|kill| kill_once(kill, &mut rng, full_run, make_project, lines, steps))
                        .fold((0, 0), |(d, w), (d1, w1)| (d + d1, w + w1))
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let (reported_in_doubt, waited) = totals.iter().fold((0, 0), |(d, w), (d1, w1)| (d + d1, w + w1));
    eprintln!(
        "{KILLS} kills (seed {seed}); a step in doubt was reported {reported_in_doubt} time(s), waited for {waited} time(s)"
    );
}

/// One kill and the resumes that settle it: (in-doubt reports, waits).
fn kill_once(
    kill: usize,
    rng: &mut rand::rngs::StdRng,
    full_run: Duration,
    make_project: &(dyn Fn() -> Project + Sync),
    lines: &(dyn Fn(&Project) -> String + Sync),
    steps: usize,
) -> (usize, usize) {
    let mut reported_in_doubt = 0;
    let mut waited = 0;
    {
        let project = make_project();
        let delay = Duration::from_micros(rng.random_range(0..(full_run.as_micros() as u64 * 12 / 10).max(1)));
        let mut child = project
            .command(&["crash.rhai"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        child.wait().unwrap();

        let mut args = vec!["resume", "--non-interactive"];
        for _ in 0..steps + 10 {
            let run = project.golive(&args);
            match run.code {
                0 => break,
                // Killed before its journal began: there is no run to resume.
                2 if run.stderr.contains("error: no runs ") => {
                    project.golive(&["crash.rhai"]).assert_code(0);
                    break;
                }
                2 if run.stderr.contains("already finished") => break,
                1 if run.stderr.contains("STILL RUNNING") => {
                    // Never offered a re-run beside it: the operator waits for it.
                    assert!(!run.stderr.contains("--in-doubt rerun"), "kill {kill}: {}", run.stderr);
                    waited += 1;
                    args = vec!["resume", "--non-interactive", "--in-doubt", "wait"];
                }
                1 => {
                    let step = in_doubt_step(&run.stderr).unwrap_or_else(|| {
                        panic!("kill {kill} after {delay:?}: exit 1 without an in-doubt step:\n{}", run.stderr)
                    });
                    reported_in_doubt += 1;
                    // The operator looks at the world and decides.
                    args = match count(&lines(&project), &step) {
                        0 => vec!["resume", "--non-interactive", "--in-doubt", "rerun"],
                        1 => vec!["resume", "--non-interactive", "--in-doubt", "mark-done"],
                        n => panic!("kill {kill}: {step} ran {n} times before resume settled it"),
                    };
                }
                _ => panic!("kill {kill} after {delay:?}: unexpected exit {}:\n{}", run.code, run.all()),
            }
        }
        // A command still finishing would write after this point: give it the time it takes.
        std::thread::sleep(Duration::from_millis(100));
        let written = lines(&project);
        for i in 1..=steps {
            assert_eq!(count(&written, &format!("s{i}")), 1, "kill {kill} after {delay:?}: step s{i}\n{written}");
        }
        for journal in project.journals() {
            let text = std::fs::read_to_string(&journal).unwrap();
            for (n, line) in text.lines().enumerate() {
                serde_json::from_str::<serde_json::Value>(line)
                    .unwrap_or_else(|e| panic!("kill {kill}: {}:{}: {e}", journal.display(), n + 1));
            }
            assert!(text.ends_with('\n'), "kill {kill}: the journal ends torn after resume");
        }
    }
    (reported_in_doubt, waited)
}

#[test]
fn resume_after_sigkill_never_runs_a_step_twice() {
    const STEPS: usize = 30;
    let script: String =
        (1..=STEPS).map(|i| format!("step \"s{i}\" {{ local::run(\"echo s{i} >> lines\"); }}\n")).collect();
    let make = || {
        let project = Project::new();
        project.write("crash.rhai", &script);
        project
    };
    kill_and_resume(&make, &|p: &Project| p.read("lines"), STEPS);
}

/// The same on the PostgreSQL store: the journal is rows, the lock an advisory lock that dies with the
/// killed process's connection.
#[test]
fn resume_after_sigkill_never_runs_a_step_twice_on_postgres() {
    const STEPS: usize = 30;
    let script: String =
        (1..=STEPS).map(|i| format!("step \"s{i}\" {{ local::run(\"echo s{i} >> lines\"); }}\n")).collect();
    let make = || {
        let project = Project::on_postgres(crate::common::BASE_CONFIG);
        project.write("crash.rhai", &script);
        project
    };
    kill_and_resume(&make, &|p: &Project| p.read("lines"), STEPS);
}

#[test]
fn resume_after_sigkill_never_runs_a_remote_step_twice() {
    const STEPS: usize = 20;
    let _bed = testbed::lock();
    // The remote user writes where the test reads: one file per project, named after its folder.
    let file = |p: &Project| format!("/tmp/golive-crash-{}", p.path().file_name().unwrap().to_string_lossy());
    let make = || {
        let project = testbed::project();
        let file = file(&project);
        let script: String = (1..=STEPS)
            .map(|i| {
                // Every fourth step long enough to be still running when resume looks.
                let pause = if i % 4 == 0 { "0.4" } else { "0.02" };
                format!("step \"s{i}\" {{ ssh::run(target(), \"sleep {pause}; echo s{i} >> {file}\"); }}\n")
            })
            .collect();
        project.write("crash.rhai", &script);
        project
    };
    let lines = |p: &Project| std::fs::read_to_string(file(p)).unwrap_or_default();
    kill_and_resume(&make, &lines, STEPS);
    for entry in std::fs::read_dir("/tmp").unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with("golive-crash-") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A step killed after its write's command ended: the journal holds that end (exit 0), and resume states
/// it as fact instead of saying golive did not see how the command ended; the write is not run again.
#[test]
fn resume_states_a_command_end_the_journal_holds_and_does_not_run_the_write_again() {
    let project = Project::new();
    project.write(
        "w.rhai",
        "step \"w\" {\n    local::run(\"echo w >> F\");\n    local::run(\"sleep 1\", #{ read_only: true });\n}\n",
    );
    let mut run = project.command(&["w.rhai"]).spawn().unwrap();
    // The write ended (its end journaled); the read is under way.
    while !project.read("F").contains('w') {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    run.kill().unwrap();
    run.wait().unwrap();
    // Until the read's sleep is over where it ran.
    std::thread::sleep(Duration::from_millis(1200));
    let resumed = project.golive(&["resume"]);
    resumed.assert_code(1);
    // The write's end is stated; only the read, whose end the journal lacks, is what golive did not see.
    assert!(resumed.stderr.contains("\n  Ended (journaled): `local$ echo w >> F`: exit 0\n"), "{}", resumed.all());
    assert!(resumed.stderr.contains("Its commands without a journaled end are no longer running"), "{}", resumed.all());
    assert_eq!(project.read("F"), "w\n");
}
