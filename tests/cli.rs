//! The real binary end to end: the example runbook, bad scripts, secrets, --only, and journal repair.

use crate::common;

use crate::common::Project;

/// The shipped example, pointed at a folder of this test's own.
fn example_project() -> Project {
    let project = Project::new();
    let work = project.file("work");
    let config = common::BASE_CONFIG.replace("[vars]\n", &format!("[vars]\nwork_dir = \"{}\"\n", work.display()));
    std::fs::write(project.file("golive.toml"), config).unwrap();
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/three_phases.rhai")).unwrap();
    project.write("three_phases.rhai", &example);
    project
}

#[test]
fn the_example_runs_and_its_effects_happen() {
    let project = example_project();
    project.write("looked.toml", "\"Someone looked at the site\" = \"yes\"\n");
    let run = project.golive(&["three_phases.rhai", "--answers", "looked.toml"]);
    run.assert_code(0);
    assert!(run.stderr.contains("ok    check \"disk has room\""), "{}", run.stderr);
    assert!(run.stderr.contains("planned 06:00-06:30 (30m00s), actual"), "{}", run.stderr);
    // The window judged (on time / late / early, within it or past its end): the wording is unit-tested.
    assert!(run.stderr.contains("phase \"Prepare\" schedule: started "), "{}", run.stderr);
    assert!(project.read("work/history").starts_with("released 20"), "{}", project.read("work/history"));
    let status = project.golive(&["status"]);
    status.assert_code(0);
    assert!(status.stdout.contains("exit 0 (done)"), "{}", status.stdout);
    assert_eq!(status.stdout.matches("done").count(), 7, "{}", status.stdout);
}

#[test]
fn the_example_lists_its_steps_statically() {
    let project = example_project();
    let run = project.golive(&["steps", "three_phases.rhai"]);
    run.assert_code(0);
    let expected = [
        "phase \"Prepare\"",
        "  step   \"make work folder\"  (line 9)",
        "  check  \"disk has room\"  (line 12)",
        "phase \"Change\"",
        "  step   \"write release marker\"  (line 20)",
        "  step   \"record release\"  (line 27)",
        "phase \"Verify\"",
        "  check  \"release recorded\"  (line 33)",
        "  manual \"Someone looked at the site\"  (line 37)",
    ];
    assert_eq!(run.stdout.lines().collect::<Vec<_>>(), expected);
    assert!(!project.file(".golive").exists(), "listing steps must not create run state");
}

#[test]
fn the_example_plans_without_touching_anything() {
    let project = example_project();
    let run = project.golive(&["plan", "three_phases.rhai"]);
    // Its checks read the disk and the history, which a plan only assumes: the outcome is unknown (exit 1).
    run.assert_code(1);
    assert!(run.stdout.contains("write  local$ mkdir -p"), "{}", run.stdout);
    assert!(run.stdout.contains("= UNKNOWN (assumed)"), "{}", run.stdout);
    // The release marker reads empty in a plan (an assumed read): the step fails on it, so the plan goes
    // on as if it succeeded and says so.
    assert!(run.stdout.contains("outcome: unknown: step \"write release marker\" failed"), "{}", run.stdout);
    assert!(run.stdout.contains("3 check(s) rest on assumed reads"), "{}", run.stdout);
    assert!(!project.file("work").exists(), "a plan must not perform writes");
    assert!(!project.file(".golive").exists(), "a plan keeps no journal");
    let json = project.golive(&["plan", "three_phases.rhai", "--format", "json"]);
    json.assert_code(1);
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(plan["items"].as_array().unwrap().len(), 3 + 6);
}

#[test]
fn the_example_resumes_after_an_unanswered_question() {
    let project = example_project();
    let first = project.golive(&["three_phases.rhai"]);
    first.assert_code(1);
    assert!(first.stderr.contains("no answer for \"Someone looked at the site\""), "{}", first.stderr);
    let history = project.read("work/history");
    project.write("looked.toml", "\"Someone looked at the site\" = \"yes\"\n");
    let resumed = project.golive(&["resume", "--answers", "looked.toml"]);
    resumed.assert_code(0);
    assert_eq!(resumed.stderr.matches("done in an earlier attempt").count(), 5, "{}", resumed.stderr);
    assert!(resumed.stderr.contains("ok    manual \"Someone looked at the site\""), "{}", resumed.stderr);
    assert_eq!(project.read("work/history"), history, "a resumed run must not redo done steps");
    project.golive(&["resume"]).assert_code(2);
}

#[test]
fn only_runs_the_named_steps_and_others_yield_their_stored_values() {
    let project = Project::new();
    project.write(
        "only.rhai",
        r#"
        let a = step "produce" { local::run("echo produced >> log").code; 41 };
        step "consume" { local::run(`echo got ${a + 1} >> log`); }
        "#,
    );
    project.golive(&["only.rhai"]).assert_code(0);
    let run = project.golive(&["run", "only.rhai", "--only", "consume"]);
    run.assert_code(0);
    assert_eq!(project.read("log"), "produced\ngot 42\ngot 42\n");
    assert!(run.stderr.contains("skip  step \"produce\"  not selected"), "{}", run.stderr);
}

/// An item `--only` leaves out is skipped with its options unjudged: they may rest on values of steps that did
/// not run either (a gate's No-Go triggers, a step's timeout from config), and the selected item still runs.
#[test]
fn only_skips_the_other_items_without_judging_their_options() {
    let project = Project::new();
    project.write(
        "only.rhai",
        r#"
        let triggers = step "triggers" { #{ "smoke failing": false } };
        let limit = step "limit" { "5s" };
        step "slow" with #{ timeout: limit } { local::run("echo slow >> log"); }
        step "each" for h in ["a", "b"] with #{ timeout: limit } { local::run("echo each >> log"); }
        gate "Go/No-Go" with #{ nogo: triggers };
        check "selected" { local::run("echo selected >> log").code == 0 }
        "#,
    );
    let run = project.golive(&["run", "only.rhai", "--only", "selected"]);
    run.assert_code(0);
    assert_eq!(project.read("log"), "selected\n");
    assert!(run.stderr.contains("skip  gate \"Go/No-Go\"  not selected"), "{}", run.stderr);
    assert!(run.stderr.contains("skip  step \"slow\"  not selected"), "{}", run.stderr);
    assert!(run.stderr.contains("skip  step \"each [b]\"  not selected"), "{}", run.stderr);
}

#[test]
fn a_torn_journal_tail_is_reported_ignored_and_repaired() {
    let project = Project::new();
    project.write(
        "torn.rhai",
        "step \"one\" { local::run(\"echo one >> log\"); }\nstep \"two\" { local::run(\"exit 3\"); }\n",
    );
    project.golive(&["torn.rhai"]).assert_code(1);
    let journal = project.journals().pop().unwrap();
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text.push_str("{\"event\":\"step_star");
    std::fs::write(&journal, &text).unwrap();
    project.write(
        "torn.rhai",
        "step \"one\" { local::run(\"echo one >> log\"); }\nstep \"two\" { local::run(\"true\"); }\n",
    );
    let run = project.golive(&["resume"]);
    run.assert_code(0);
    assert!(run.stderr.contains("the last line is incomplete"), "{}", run.stderr);
    assert_eq!(project.read("log"), "one\n");
    let text = std::fs::read_to_string(&journal).unwrap();
    for (n, line) in text.lines().enumerate() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("line {}: {e}: {line}", n + 1));
    }
}

#[test]
fn a_failing_step_exits_1_and_names_the_step_and_the_command() {
    let project = Project::new();
    project.write("fail.rhai", "phase \"P\" {\n  step \"migrate\" { local::run(\"echo boom >&2; exit 4\"); }\n  step \"after\" { local::run(\"touch after\"); }\n}\n");
    let run = project.golive(&["fail.rhai"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("step \"migrate\" failed: `local$ echo boom >&2; exit 4` exited with 4:\n    boom"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("resume:  golive resume"), "{}", run.stderr);
    assert!(!project.file("after").exists());
}

#[test]
fn retries_rerun_a_failing_step() {
    let project = Project::new();
    project.write(
        "retry.rhai",
        "step \"flaky\" with #{ retries: 2, retry_delay: \"10ms\" } { local::run(\"echo x >> tries; test $(wc -l < tries) -ge 3\"); }\n",
    );
    project.golive(&["retry.rhai"]).assert_code(0);
    assert_eq!(project.read("tries").lines().count(), 3);
}

#[test]
fn a_step_timeout_stops_a_hanging_command() {
    let project = Project::new();
    project.write("hang.rhai", "step \"hang\" with #{ timeout: \"300ms\" } { local::run(\"sleep 30\"); }\n");
    let started = std::time::Instant::now();
    let run = project.golive(&["hang.rhai"]);
    run.assert_code(1);
    assert!(started.elapsed().as_secs() < 10, "the timeout did not stop the command");
    assert!(run.stderr.contains("timed out (the step's timeout of 300ms ran out)"), "{}", run.stderr);
}

#[test]
fn a_planted_secret_never_reaches_any_output_or_file() {
    let project = Project::new();
    project.write(".env", "DB_PASSWORD=from-dotenv-s3cret\n");
    project.write(
        "secret.rhai",
        r#"
        let canary = secret("CANARY");
        let db = secret("DB_PASSWORD");
        print(`printing ${canary}`);
        step "use it" {
            local::run(`echo ${canary} ${db}; echo ${canary} >&2`);
            canary + " as value"
        }
        check "evidence" { #{ ok: true, actual: canary, target: db } }
        step "fail with it" { local::run(`echo ${canary} >&2; exit 1`); }
        "#,
    );
    let canary = "CANARY-7f3a9c-do-not-leak";
    let run = project.command(&["secret.rhai"]).env("CANARY", canary).output().unwrap();
    let run = common::Run::from(run);
    run.assert_code(1);
    assert!(run.stdout.contains("printing <secret:CANARY>"), "{}", run.stdout);
    let everything = format!("{}{}", run.all(), project.state_files());
    assert!(everything.contains("<secret:DB_PASSWORD>"), "the .env secret was used and masked");
    assert!(!everything.contains(canary), "the canary leaked:\n{everything}");
    assert!(!everything.contains("from-dotenv-s3cret"), "the .env secret leaked:\n{everything}");
    let plan = project.command(&["plan", "secret.rhai"]).env("CANARY", canary).output().unwrap();
    let plan = common::Run::from(plan);
    assert!(plan.stdout.contains("local$ echo <secret:CANARY> <secret:DB_PASSWORD>"), "{}", plan.stdout);
    assert!(!plan.all().contains(canary));
}

#[test]
fn a_missing_secret_is_an_error_that_says_where_to_put_it() {
    let project = Project::new();
    project.write("s.rhai", "step \"x\" { let k = secret(\"NOPE_KEY\"); }\n");
    let run = project.golive(&["s.rhai"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("secret `NOPE_KEY` is not set; export NOPE_KEY=... or add it to .env"),
        "{}",
        run.stderr
    );
}

#[test]
fn version_and_help_work_without_a_project() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_golive"))
        .arg("--version")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("golive {}", env!("CARGO_PKG_VERSION")));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_golive")).current_dir(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn docs_list_module_functions_and_reject_unknown_modules() {
    let project = Project::new();
    let run = project.golive(&["docs", "local"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("local::run(cmd: string[, options: map]) -> map  [effect: only inside a step]"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("local::run(").count(), 1, "one entry for both forms: {}", run.stdout);
    let all = project.golive(&["docs"]);
    assert!(all.stdout.contains("verdict::below(actual, limit, unit)"), "{}", all.stdout);
    // Stdlib docs: a run of `///` lines reads as one text, and closures are not functions to call.
    assert!(
        all.stdout.contains("waiting up to `within` (seconds, default 60): #{ subject, from, to, date, text, links }"),
        "{}",
        all.stdout
    );
    assert!(!all.stdout.contains("///") && !all.stdout.contains("anon$"), "{}", all.stdout);
    let bad = project.golive(&["docs", "lokal"]);
    bad.assert_code(2);
    assert!(bad.stderr.contains("did you mean `local`?"), "{}", bad.stderr);
}

/// A step that kills its own golive (the shell's parent) the first time: a deterministic run death mid-step.
const DIES_ONCE: &str = "local::run(\"echo ran >> log; test -e died || { touch died; kill -9 $PPID; exec sleep 5; }\")";

#[test]
fn an_idempotent_step_in_doubt_is_rerun_by_itself() {
    // Its first attempt kills golive and leaves a child running in its process group, one that ignores the
    // TERM golive's guard sends when golive dies (the guard's KILL comes after its grace).
    const DIES_LEAVING_A_CHILD: &str = "local::run(\"echo ran >> log; test -e died || { touch died; (trap '' TERM; sleep 2) & kill -9 $PPID; wait; }\")";
    let project = Project::new();
    project.write("doubt.rhai", &format!("step \"first\" {{ local::run(\"echo first >> log\"); }}\nstep \"deploy\" with #{{ idempotent: true }} {{ {DIES_LEAVING_A_CHILD}; }}\n"));
    let first = project.golive(&["doubt.rhai"]);
    assert_eq!(first.code, -1, "golive should have been killed: {}", first.all());
    let resumed = project.golive(&["resume", "--non-interactive"]);
    resumed.assert_code(0);
    // Its earlier attempt outlived golive (the `sleep`): it is waited for, never run beside.
    assert!(resumed.stderr.contains("ended where it ran while resume waited"), "{}", resumed.stderr);
    assert!(
        resumed.stderr.contains("step \"deploy\" was in doubt; re-running it because it is idempotent"),
        "{}",
        resumed.stderr
    );
    assert_eq!(project.read("log"), "first\nran\nran\n");
}

#[test]
fn a_step_in_doubt_that_wrote_stops_a_non_interactive_resume_and_names_the_step() {
    let project = Project::new();
    project.write("doubt.rhai", &format!("step \"first\" {{ local::run(\"echo first >> log\"); }}\nstep \"migrate\" {{ {DIES_ONCE}; }}\nstep \"last\" {{ local::run(\"echo last >> log\"); }}\n"));
    project.golive(&["doubt.rhai"]);
    let refused = project.golive(&["resume", "--non-interactive"]);
    refused.assert_code(1);
    assert!(refused.stderr.contains("step \"migrate\" is in doubt"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("--in-doubt rerun") && refused.stderr.contains("--in-doubt mark-done"),
        "{}",
        refused.stderr
    );
    assert_eq!(project.read("log"), "first\nran\n", "nothing may run while the step is in doubt");
    let done = project.golive(&["resume", "--non-interactive", "--in-doubt", "mark-done"]);
    done.assert_code(0);
    assert_eq!(project.read("log"), "first\nran\nlast\n");
    let status = project.golive(&["status"]);
    assert!(status.stdout.contains("marked done by"), "{}", status.stdout);
}

#[test]
fn resuming_over_an_edited_completed_step_warns() {
    let project = Project::new();
    project.write(
        "edit.rhai",
        "step \"one\" { local::run(\"echo one >> log\"); }\nstep \"two\" { local::run(\"exit 1\"); }\n",
    );
    project.golive(&["edit.rhai"]).assert_code(1);
    project.write(
        "edit.rhai",
        "step \"one\" { local::run(\"echo ONE >> log\"); }\nstep \"two\" { local::run(\"true\"); }\n",
    );
    let run = project.golive(&["resume"]);
    run.assert_code(0);
    assert!(run.stderr.contains("edit.rhai changed since the run started"), "{}", run.stderr);
    assert!(
        run.stderr.contains("skip  step \"one\"  done in an earlier attempt; warning: its source changed since it ran"),
        "{}",
        run.stderr
    );
    assert_eq!(project.read("log"), "one\n");
}

#[test]
fn a_closed_pipe_ends_a_listing_quietly_and_never_stops_a_run() {
    let project = Project::new();
    let mut docs = project
        .command(&["docs"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(docs.stdout.take()); // the reader leaves at once, like `golive docs | head -0`
    let out = docs.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");

    let prints: String = (0..200).map(|i| format!("print(\"line {i}\");\n")).collect();
    project.write("talky.rhai", &format!("{prints}step \"work\" {{ local::run(\"echo done >> log\"); }}\n{prints}"));
    let mut run = project
        .command(&["talky.rhai"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(run.stdout.take());
    drop(run.stderr.take());
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a run whose output reader left must still finish");
    assert_eq!(project.read("log"), "done\n");
}

/// The README's tour quotes examples/three_phases.rhai: it must be that file, not an older version of it.
#[test]
fn the_readmes_runbook_snippet_is_the_example_file() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let intro = "A runbook looks like this (`examples/three_phases.rhai`):\n\n```rhai\n";
    let start = readme.find(intro).expect("the README quotes the example") + intro.len();
    let end = start + readme[start..].find("```").unwrap();
    let example = std::fs::read_to_string(root.join("examples/three_phases.rhai")).unwrap();
    assert_eq!(&readme[start..end], example, "README.md's snippet differs from examples/three_phases.rhai");
}

/// `golive status` judges each phase's planned window as the run did (runbook 1.1): a phase that ended by
/// its start and length; one the run never finished, up to the run's end.
#[test]
fn status_judges_each_phase_against_its_window() {
    let project = Project::new();
    let now = chrono::Local::now();
    let hhmm = |t: chrono::DateTime<chrono::Local>| t.format("%H:%M").to_string();
    let on_time = format!("{}-{}", hhmm(now), hhmm(now + chrono::Duration::hours(1)));
    let earlier = format!("{}-{}", hhmm(now - chrono::Duration::hours(3)), hhmm(now - chrono::Duration::hours(2)));
    project.write(
        "w.rhai",
        &format!(
            "phase \"deploy\" with #{{ window: \"{on_time}\" }} {{ step \"a\" {{ local::run(\"true\"); }} }}\n\
             phase \"validation\" with #{{ window: \"{earlier}\" }} {{ step \"b\" {{ local::run(\"false\"); }} }}\n"
        ),
    );
    project.golive(&["w.rhai"]).assert_code(1);
    let status = project.golive(&["status"]);
    status.assert_code(0);
    let line = |phase: &str| {
        status.stdout.lines().find(|l| l.starts_with(&format!("  phase \"{phase}\": planned"))).unwrap_or_default()
    };
    assert!(status.stdout.contains("schedule (runbook 1.1)\n"), "{}", status.stdout);
    let deploy = line("deploy");
    assert!(
        deploy.starts_with(&format!("  phase \"deploy\": planned {on_time}, started "))
            && deploy.ends_with(": started on time, within the window"),
        "{}",
        status.stdout
    );
    let validation = line("validation");
    assert!(
        validation.contains(": stopped before its end; started 3h") && validation.contains("late, ended 2h"),
        "{}",
        status.stdout
    );
}

/// A streamed command's lines reach the operator as they arrive (runbook 6.1, logs in real time), not when
/// it ends; lines matching the log patterns (the defaults and the script's) are flagged at once, and a
/// secret in them is masked like everywhere else.
#[test]
fn a_streamed_commands_lines_arrive_while_it_runs_flagged_and_masked() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};
    let project = Project::new();
    project.write(".env", "API_TOKEN=tok-streamed-secret-0001\n");
    project.write(
        "s.rhai",
        "step \"follow\" {\n    let t = secret(\"API_TOKEN\");\n    \
         local::run(`echo first line; sleep 3; echo \"PHP Fatal error: boom ${t}\"; echo DB down`, #{ stream: #{ \"Database\": \"DB down\" } });\n}\n",
    );
    let mut child = project.command(&["s.rhai"]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let started = Instant::now();
    let reader = std::thread::spawn(move || {
        BufReader::new(stderr).lines().map_while(Result::ok).map(|l| (started.elapsed(), l)).collect::<Vec<_>>()
    });
    // The flagged lines fail the step that watched them.
    assert_eq!(child.wait().unwrap().code(), Some(1));
    let ended = started.elapsed();
    let lines = reader.join().unwrap();
    let shown = lines.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join("\n");
    let (first_at, _) = lines.iter().find(|(_, l)| l == "  | first line").unwrap_or_else(|| panic!("{shown}"));
    assert!(ended.saturating_sub(*first_at) >= Duration::from_millis(2500), "the first line came at the end:\n{shown}");
    assert!(shown.contains("  ! PHP Fatal error: boom <secret:API_TOKEN>    <- FLAGGED: PHP fatal error"), "{shown}");
    assert!(shown.contains("  ! DB down    <- FLAGGED: Database"), "{shown}");
    assert!(shown.contains("(actual 2 flagged line(s): PHP Fatal error: boom <secret:API_TOKEN>"), "{shown}");
    assert!(!shown.contains("tok-streamed-secret-0001"), "{shown}");
}

/// `golive runs` lists the project's runs newest first, with how each ended, filtered by script and by
/// outcome; its JSON carries a schema version.
#[test]
fn runs_lists_every_run_newest_first_with_how_it_ended() {
    let project = Project::new();
    project.write("ok.rhai", "step \"a\" { local::run(\"true\"); }\n");
    project.write("bad.rhai", "step \"a\" { local::run(\"false\"); }\n");
    project.golive(&["ok.rhai"]).assert_code(0);
    project.golive(&["bad.rhai"]).assert_code(1);
    let runs = project.golive(&["runs"]);
    runs.assert_code(0);
    let (bad, ok) = (runs.stdout.find("bad.rhai"), runs.stdout.find("ok.rhai"));
    assert!(bad.is_some() && ok.is_some() && bad < ok, "newest first:\n{}", runs.stdout);
    assert!(runs.stdout.contains("failed (exit 1)") && runs.stdout.contains(" done "), "{}", runs.stdout);
    let failed = project.golive(&["runs", "--outcome", "failed"]);
    assert!(failed.stdout.contains("bad.rhai") && !failed.stdout.contains("ok.rhai"), "{}", failed.stdout);
    let json = project.golive(&["runs", "--format", "json", "--script", "ok"]);
    json.assert_code(0);
    let listing: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(listing["schema"], 1);
    let listed = listing["runs"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{}", json.stdout);
    assert_eq!(listed[0]["outcome"], "done");
    assert_eq!(listed[0]["exit_code"], 0);
    assert!(listed[0]["duration_s"].as_f64().is_some_and(|s| s >= 0.0), "{}", json.stdout);
    assert!(listed[0]["run_id"].as_str().is_some_and(|id| id.ends_with("-ok-local")), "{}", json.stdout);
    let none = project.golive(&["runs", "--script", "friday"]);
    assert_eq!(none.stdout, "no runs\n");
}

/// How `golive runs` says a run ended comes from its journal: NO-GO only where a journaled decision ended
/// it (a step quoting the words, and a gate whose GO was refused, are failures), and SIGTERM is an
/// interruption (exit 143), not a failure.
#[test]
fn runs_outcome_is_the_journaled_decision_and_a_signal_is_an_interruption() {
    let project = Project::new();
    project.write("nogo.rhai", "check \"c\" { false }\ngate \"Go/No-Go\";\n");
    project.write("words.rhai", "step \"s\" { throw \"gate \\\"x\\\" said NO-GO (Lead)\"; }\n");
    project.write("go.toml", "\"Go/No-Go\" = { answer = \"GO\", by = \"Lead\" }\n");
    project.write("nogo.toml", "\"Go/No-Go\" = { answer = \"NO-GO\", by = \"Lead\" }\n");
    project.write("slow.rhai", "step \"w\" { local::run(\"sleep 5\"); }\n");
    project.golive(&["run", "nogo.rhai", "--answers", "nogo.toml"]).assert_code(1);
    project.golive(&["words.rhai"]).assert_code(1);
    // The GO was written before the board that recommends NO-GO: refused, nobody decided.
    project.golive(&["run", "nogo.rhai", "--answers", "go.toml"]).assert_code(1);
    let mut slow = project.command(&["slow.rhai"]).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    // SAFETY: a plain kill(2) of the child this test started.
    unsafe { libc::kill(slow.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(slow.wait().unwrap().code(), Some(143));
    let json = project.golive(&["runs", "--format", "json"]);
    let listing: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let outcomes: Vec<(String, String)> = listing["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let script = r["script"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_string();
            (script, r["outcome"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    let expected: Vec<(String, String)> =
        [("slow.rhai", "interrupted"), ("nogo.rhai", "failed"), ("words.rhai", "failed"), ("nogo.rhai", "NO-GO")]
            .map(|(s, o)| (s.to_string(), o.to_string()))
            .to_vec();
    assert_eq!(outcomes, expected, "{}", json.stdout);
    // The refused gate is journaled failed, not done: status says so.
    let refused = listing["runs"][1]["run_id"].as_str().unwrap().to_string();
    let status = project.golive(&["status", &refused, "--format", "json"]);
    let parsed: serde_json::Value = serde_json::from_str(&status.stdout).expect("JSON");
    let gate = parsed["steps"].as_array().unwrap().iter().find(|s| s["step"] == "Go/No-Go").cloned().unwrap();
    assert_eq!(gate["status"], "FAILED", "{}", status.stdout);
}

/// `golive status --format json`: the run as `golive runs` gives it, its steps and its schedule, with the
/// schema version; text a target printed (an escape sequence, a bidi override) stays escaped and the JSON
/// stays valid with the same value.
#[test]
fn status_as_json_gives_the_run_its_steps_and_escapes_what_targets_printed() {
    let project = Project::new();
    project.write(
        "j.rhai",
        "phase \"p\" with #{ window: \"00:00-23:59\" } {\n    check \"evil\" { #{ ok: false, actual: \"\\x1b[2J\\u202egnp.exe\", target: \"t\" } };\n}\n",
    );
    project.golive(&["j.rhai"]).assert_code(1);
    let status = project.golive(&["status", "--format", "json"]);
    status.assert_code(0);
    assert!(!status.stdout.contains('\u{1b}') && !status.stdout.contains('\u{202e}'), "{}", status.stdout);
    let parsed: serde_json::Value = serde_json::from_str(&status.stdout).expect("valid JSON");
    assert_eq!(parsed["schema"], 1);
    assert_eq!(parsed["run"]["outcome"], "failed");
    let steps = parsed["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0]["step"], "evil");
    assert_eq!(steps[0]["status"], "done: FAIL");
    assert_eq!(steps[0]["note"], "actual \u{1b}[2J\u{202e}gnp.exe");
    assert!(
        parsed["schedule"][0].as_str().is_some_and(|l| l.starts_with("phase \"p\": planned 00:00-23:59")),
        "{}",
        status.stdout
    );
}

/// Without a terminal (a pipe, a CI log, `| tee`) a step says when it starts, at once, and a long one says
/// every 30 seconds that it is still running, as Terraform's "Still modifying...".
#[test]
fn a_piped_run_prints_a_steps_start_at_once_and_heartbeats_while_it_runs() {
    use std::io::BufRead;
    use std::time::{Duration, Instant};
    let project = Project::new();
    project.write("slow.rhai", "step \"database updates\" { local::run(\"sleep 70\"); }\n");
    let mut child = project.command(&["slow.rhai"]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let lines: Vec<(Duration, String)> = stderr.lines().map(|l| (started.elapsed(), l.unwrap())).collect();
    assert!(child.wait().unwrap().success());
    let shown = lines.iter().map(|(at, l)| format!("{:>5.1}s {l}", at.as_secs_f64())).collect::<Vec<_>>().join("\n");
    let start = lines.iter().find(|(_, l)| l == "  ...   step \"database updates\"");
    assert!(start.is_some_and(|(at, _)| *at < Duration::from_secs(5)), "no start line at once:\n{shown}");
    let beats: Vec<&(Duration, String)> =
        lines.iter().filter(|(_, l)| l.starts_with("  ...   still running step \"database updates\", ")).collect();
    assert!(beats.len() >= 2, "fewer than two heartbeats:\n{shown}");
    assert!(beats[0].1.ends_with(", 30s") && beats[1].1.ends_with(", 1m00s"), "{shown}");
    assert!(beats[0].0 >= Duration::from_secs(29) && beats[0].0 < Duration::from_secs(40), "{shown}");
    assert!(lines.last().is_some_and(|(_, l)| l.contains("done in 1m1")), "{shown}");
}

/// `-q` is for cron: a run that goes well prints nothing but the script's own output; a failure is still
/// said. `-v` shows each command before it runs, its output as it arrives, and how it ended.
#[test]
fn quiet_says_only_what_went_wrong_and_verbose_shows_each_command_and_its_output() {
    let project = Project::new();
    project.write("good.rhai", "phase \"P\" { step \"greet\" { local::run(\"echo hello-from-the-target\"); } }\n");
    project.write("bad.rhai", "check \"disk\" { #{ ok: false, actual: \"97%\" } }\n");
    let quiet = project.golive(&["-q", "good.rhai"]);
    quiet.assert_code(0);
    assert_eq!((quiet.stdout.as_str(), quiet.stderr.as_str()), ("", ""), "-q printed on success");
    let failed = project.golive(&["-q", "bad.rhai"]);
    failed.assert_code(1);
    assert!(
        failed.stderr.contains("FAIL  check \"disk\"") && !failed.stderr.contains("running bad.rhai"),
        "{}",
        failed.stderr
    );

    let verbose = project.golive(&["-v", "good.rhai"]);
    verbose.assert_code(0);
    let lines: Vec<&str> = verbose.stderr.lines().collect();
    let at = |prefix: &str| lines.iter().position(|l| l.starts_with(prefix));
    let (command, output, ended, ok) = (
        at("  $ local$ echo hello-from-the-target"),
        at("  | hello-from-the-target"),
        at("  = exit 0"),
        at("  ok    step \"greet\""),
    );
    assert!(command.is_some() && command < output && output < ended && ended < ok, "{}", verbose.stderr);
    let normal = project.golive(&["good.rhai"]);
    assert!(!normal.stderr.contains("  $ ") && !normal.stderr.contains("hello-from-the-target"), "{}", normal.stderr);
}

/// A project with three local targets, web1 to web3, and a rolling restart over them: each host its own
/// step ("restart [web2]"), the first alone as a canary. Each restart appends to restarts.log; `broken`
/// names a host whose restart fails; `slow` one whose restart takes 30 s.
fn rolling_project(options: &str, vars: &str) -> Project {
    let mut config = common::BASE_CONFIG.replace("[vars]\n", &format!("[vars]\n{vars}"));
    for host in ["web1", "web2", "web3"] {
        config.push_str(&format!("\n[targets.{host}]\nkind = \"local\"\n"));
    }
    let project = Project::with_config(&config);
    project.write(
        "roll.rhai",
        &format!(
            r#"let hosts = ["web1", "web2", "web3"];
phase "Rolling restart" {{
    step "restart" for host in hosts with #{{ {options} }} {{
        let pause = if host == config("slow", "none") {{ 30 }} else {{ 0 }};
        ssh::run(target(host), `echo start ${{host}} >> restarts.log; sleep ${{pause}}; test ${{host}} != ${{config("broken", "none")}} && echo end ${{host}} >> restarts.log`);
    }}
}}
"#
        ),
    );
    project
}

#[test]
fn a_failed_canary_stops_the_rolling_restart_before_the_other_hosts_and_max_fail_tolerates_what_it_says() {
    let project = rolling_project("canary: 1", "web_hosts = [\"web1\", \"web3\"]\nbroken = \"web1\"\n");
    let steps = project.golive(&["steps", "roll.rhai"]);
    assert!(steps.stdout.contains("step   \"restart\" for host in hosts"), "{}", steps.stdout);
    assert!(
        steps.stdout.contains("  \"restart [web1]\"\n      \"restart [web2]\"\n      \"restart [web3]\""),
        "{}",
        steps.stdout
    );
    // A list from golive.toml is listed for the target too.
    project.write("from_config.rhai", "step \"deploy\" for h in config(\"web_hosts\") { local::run(`echo ${h}`); }\n");
    let listed = project.golive(&["steps", "from_config.rhai"]);
    assert!(listed.stdout.contains("\"deploy [web1]\"\n    \"deploy [web3]\""), "{}", listed.stdout);
    let run = project.golive(&["roll.rhai"]);
    run.assert_code(1);
    assert_eq!(project.read("restarts.log"), "start web1\n", "only the canary was touched");
    assert!(
        run.stderr.contains("the canary step \"restart [web1]\" failed: restart was not started for the other items"),
        "{}",
        run.stderr
    );

    // Past the canary, max_fail 1 lets one host fail, names it at the end, and exits 1.
    let project = rolling_project("canary: 1, max_fail: 1", "broken = \"web2\"\n");
    let run = project.golive(&["roll.rhai"]);
    run.assert_code(1);
    assert_eq!(project.read("restarts.log"), "start web1\nend web1\nstart web2\nstart web3\nend web3\n");
    assert!(run.stderr.contains("restart [web2]"), "{}", run.stderr);
}

/// `serial: 2`: hosts go two at a time and failures are counted where a batch ends, so web1's failure lets
/// web2 (its batch) finish and leaves web3 unstarted.
#[test]
fn serial_batches_finish_the_batch_a_host_failed_in_and_start_no_further_batch() {
    let project = rolling_project("serial: 2", "broken = \"web1\"\n");
    let run = project.golive(&["roll.rhai"]);
    run.assert_code(1);
    // web1 and web2 ran together: their lines come in either order.
    assert_eq!(sorted_lines(&project.read("restarts.log")), ["end web2", "start web1", "start web2"], "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "step \"restart\" failed for 1 items (web1), more than max_fail 0: restart was not started for the other items"
        ),
        "{}",
        run.stderr
    );
    // With room for one failure the second batch runs too.
    let project = rolling_project("serial: 2, max_fail: 1", "broken = \"web1\"\n");
    let run = project.golive(&["roll.rhai"]);
    run.assert_code(1);
    let log = project.read("restarts.log");
    let (first, second) = log.split_at(log.find("start web3").unwrap_or(0));
    assert_eq!(sorted_lines(first), ["end web2", "start web1", "start web2"], "{log}");
    assert_eq!(second, "start web3\nend web3\n", "the second batch starts after the first ended");
    // The step's end sums up what became of each host, and names the one that failed.
    assert!(
        run.stderr
            .contains("step \"restart\" over 3 items: 2 ok, 1 failed, 0 stopped, 0 not started\n  FAIL         web1"),
        "{}",
        run.stderr
    );
}

fn sorted_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    lines
}

/// `serial: 3` over six hosts: each batch's items run together, at most golive.toml's `forks` at once, and
/// what items assign to the script's variables is what the rest of the script sees.
#[test]
fn a_batchs_items_run_together_at_most_forks_at_once_and_keep_what_they_assign() {
    let batch = |forks: &str| {
        let mut config = format!("{forks}\n{}", common::BASE_CONFIG);
        for n in 1..=6 {
            config.push_str(&format!("\n[targets.h{n}]\nkind = \"local\"\n"));
        }
        let project = Project::with_config(&config);
        project.write(
            "batch.rhai",
            "let seen = [];\n\
             let names = step \"up\" for h in [\"h1\", \"h2\", \"h3\", \"h4\", \"h5\", \"h6\"] with #{ serial: 3 } {\n\
                 ssh::run(target(h), \"mkdir -p r; touch r/$$; ls r | wc -l >> peaks; sleep 0.5; rm r/$$\");\n\
                 seen.push(h);\n\
                 h\n\
             };\n\
             seen.sort();\n\
             print(`seen ${seen} names ${names}`);\n",
        );
        let run = project.golive(&["batch.rhai"]);
        run.assert_code(0);
        let peak = project.read("peaks").lines().map(|l| l.trim().parse::<usize>().unwrap()).max().unwrap();
        (peak, run)
    };
    let (peak, run) = batch("");
    assert_eq!(peak, 3, "a batch of three runs together");
    let six = r#"["h1", "h2", "h3", "h4", "h5", "h6"]"#;
    assert!(run.stdout.contains(&format!("seen {six} names {six}")), "{}", run.stdout);
    assert!(run.stderr.contains("step \"up\" over 6 items: 6 ok, 0 failed"), "{}", run.stderr);
    let (peak, _) = batch("forks = 2");
    assert_eq!(peak, 2, "forks bounds the batch");
}

/// Three items running together when golive is SIGKILLed are each in doubt; resume settles each (idempotent:
/// run again, their commands having died with golive) and the items that had finished are not run again.
#[test]
fn sigkill_while_a_batch_runs_together_leaves_each_item_in_doubt_and_resume_settles_every_one() {
    let mut config = common::BASE_CONFIG.to_string();
    for host in ["web1", "web2", "web3", "web4"] {
        config.push_str(&format!("\n[targets.{host}]\nkind = \"local\"\n"));
    }
    let project = Project::with_config(&config);
    project.write(
        "roll.rhai",
        r#"step "restart" for host in ["web1", "web2", "web3", "web4"] with #{ canary: 1, serial: 3, idempotent: true } {
    ssh::run(target(host), `echo start ${host} >> restarts.log; test -f fast || test ${host} = web1 || sleep 30; echo end ${host} >> restarts.log`);
}
"#,
    );
    let mut child = project.command(&["roll.rhai"]).stderr(std::process::Stdio::null()).spawn().unwrap();
    let started = std::time::Instant::now();
    while project.read("restarts.log").matches("start").count() < 4 {
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "the batch never started whole");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let status = project.golive(&["status"]);
    for host in ["web2", "web3", "web4"] {
        assert!(status.stdout.contains(&format!("restart [{host}]")), "{}", status.stdout);
    }
    project.write("fast", "");
    let resumed = project.golive(&["resume", "--non-interactive"]);
    resumed.assert_code(0);
    let log = project.read("restarts.log");
    let count = |line: &str| log.lines().filter(|l| *l == line).count();
    assert_eq!((count("start web1"), count("end web1")), (1, 1), "the canary is done and not run again: {log}");
    for host in ["web2", "web3", "web4"] {
        let (starts, ends) = (count(&format!("start {host}")), count(&format!("end {host}")));
        assert_eq!((starts, ends), (2, 1), "{host} in doubt, run again once: {log}\n{}", resumed.stderr);
    }
}

#[test]
fn sigkill_in_the_middle_of_a_rolling_restart_then_resume_goes_on_from_the_host_it_stopped_at() {
    let project = rolling_project("canary: 1, idempotent: true", "slow = \"web2\"\n");
    let mut child = project.command(&["roll.rhai"]).stderr(std::process::Stdio::null()).spawn().unwrap();
    let started = std::time::Instant::now();
    while !project.read("restarts.log").contains("start web2") {
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "web2's restart never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::write(project.file("golive.toml"), project.read("golive.toml").replace("slow = \"web2\"\n", "")).unwrap();
    let resumed = project.golive(&["resume"]);
    resumed.assert_code(0);
    // web1 is done and not touched again; web2 was in doubt (idempotent: run again); then web3.
    assert_eq!(
        project.read("restarts.log"),
        "start web1\nend web1\nstart web2\nstart web2\nend web2\nstart web3\nend web3\n"
    );
    let status = project.golive(&["status"]);
    for host in ["web1", "web2", "web3"] {
        assert!(status.stdout.contains(&format!("restart [{host}]")), "{}", status.stdout);
    }
}

#[test]
fn a_step_inside_a_loop_is_refused_before_anything_runs_and_the_message_shows_the_repeated_form() {
    let project = Project::new();
    project.write(
        "loop.rhai",
        "let hosts = [\"a\", \"b\"];\nfor h in hosts {\n    step \"restart\" { local::run(\"touch ran\"); }\n}\n",
    );
    for args in [&["check", "loop.rhai"][..], &["loop.rhai"][..]] {
        let run = project.golive(args);
        run.assert_code(2);
        assert!(
            run.stderr.contains("step \"restart\" is inside a loop")
                && run.stderr.contains("step \"restart\" for host in hosts { ... }"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("loop.rhai:3:5"), "{}", run.stderr);
    }
    assert!(!project.file("ran").exists());
}

/// `wait_until` polls a condition: each poll's reads and each wait between polls are journaled; past the
/// timeout the step fails with the last evidence, and the plan of it says the same without waiting.
#[test]
fn wait_until_polls_until_the_condition_holds_and_fails_with_the_last_evidence_past_its_timeout() {
    let project = Project::new();
    project.write(
        "wait.rhai",
        r#"step "site back" {
    local::run("(sleep 1; touch ready) > /dev/null 2>&1 &");
    let r = wait_until(#{ every: "300ms", timeout: "10s" }, || local::run("test -f ready", #{ allow_fail: true }).code == 0);
    print(`polls=${r.polls}`);
}
check "never" {
    wait_until(#{ every: "200ms", timeout: "1s" }, || { let out = local::run("echo still 503").stdout; out.trim(); #{ ok: false, actual: out } })
}
"#,
    );
    let run = project.golive(&["wait.rhai"]);
    run.assert_code(1);
    let polls: u32 = run.stdout.trim().strip_prefix("polls=").and_then(|p| p.parse().ok()).unwrap_or(0);
    assert!(polls >= 2, "{}", run.all());
    let never = run.check_line("never");
    assert!(
        never.starts_with("  FAIL")
            && never.contains("wait_until: not true after")
            && never.contains("last: still 503"),
        "{}",
        run.stderr
    );
    let journal = project.state_files();
    assert!(journal.matches("\"what\":\"sleep 300ms\"").count() >= 1 && journal.contains("test -f ready"), "{journal}");
}

#[test]
fn a_mistyped_command_gets_did_you_mean_and_a_keyword_used_as_a_name_is_named() {
    let project = Project::new();
    let run = project.golive(&["stauts"]);
    run.assert_code(2);
    assert!(run.stderr.contains("no command `stauts`; did you mean `golive status`?"), "{}", run.stderr);
    project.write("kw.rhai", "let steps = [1];\nfor step in steps { print(step); }\n");
    let run = project.golive(&["check", "kw.rhai"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("`step` is one of golive's words (phase, step, check, manual, gate)")
            && run.stderr.contains("kw.rhai:2:"),
        "{}",
        run.stderr
    );
}

/// `golive test` in a runbook repository: a new case fails until `--accept` stores it; a changed command
/// fails with a diff naming the old and the new line; `[test] exit_code` is held against the plan; a rule
/// that never matched is reported; the JUnit report is well-formed XML.
#[test]
fn golive_test_snapshots_plans_per_scenario_accepts_reports_diffs_and_writes_junit() {
    let project = Project::new();
    project.write("scripts/deploy.rhai", "step \"pull\" { local::run(\"docker pull app:1.0\"); }\ncheck \"up\" { local::run(\"curl -sf localhost\").code == 0 }\n");
    project.write(
        "tests/scenarios/deploy.happy.toml",
        "[test]\nexit_code = 0\n\n[[exec]]\nmatch = \"curl\"\n\n[[exec]]\nmatch = \"never-run\"\n",
    );
    let first = project.golive(&["test"]);
    first.assert_code(1);
    assert!(
        first.stdout.contains("FAIL  deploy.happy: no snapshot yet (`golive test --accept` writes it)"),
        "{}",
        first.all()
    );
    let accepted = project.golive(&["test", "--accept"]);
    accepted.assert_code(0);
    assert!(accepted.stdout.contains("2 cases: 0 passed, 0 failed, 2 accepted"), "{}", accepted.all());
    assert!(project.read("tests/snapshots/plans__deploy.happy.snap").starts_with("---\nsource: golive test\n"));
    let again = project.golive(&["test"]);
    again.assert_code(0);
    assert!(
        again.stdout.contains("warning: scenario [[exec]] rule 2 \"never-run\" never matched an effect"),
        "{}",
        again.all()
    );

    project.write("scripts/deploy.rhai", &project.read("scripts/deploy.rhai").replace("app:1.0", "app:2.0"));
    let junit = project.file("junit.xml");
    let changed = project.golive(&["test", "--junit", junit.to_str().unwrap()]);
    changed.assert_code(1);
    assert!(changed.stdout.contains("FAIL  deploy.happy: the plan differs from its snapshot"), "{}", changed.all());
    assert!(
        changed.stdout.lines().any(|l| l.contains(" -") && l.contains("docker pull app:1.0"))
            && changed.stdout.lines().any(|l| l.contains(" +") && l.contains("docker pull app:2.0")),
        "{}",
        changed.all()
    );
    let parsed = std::process::Command::new("python3")
        .args(["-c", "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); s = r.find('testsuite'); print(s.get('tests'), s.get('failures'), len(s.findall('testcase/failure')))"])
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&parsed.stdout).trim(), "2 2 2", "{}", String::from_utf8_lossy(&parsed.stderr));

    project.golive(&["test", "--accept"]).assert_code(0);
    project.write(
        "tests/scenarios/deploy.happy.toml",
        &project.read("tests/scenarios/deploy.happy.toml").replace("exit_code = 0", "exit_code = 1"),
    );
    let wrong = project.golive(&["test"]);
    wrong.assert_code(1);
    assert!(
        wrong.stdout.contains("deploy.happy: the plan predicts exit 0; [test] exit_code says 1"),
        "{}",
        wrong.all()
    );
}

/// A reviewed plan is the contract: `golive run --plan FILE` starts only while the script, the stdlib,
/// golive.toml and the target are what `golive plan -o FILE` saw, and names what changed otherwise.
#[test]
fn a_run_refuses_a_reviewed_plan_whose_script_or_config_changed_since() {
    let project = Project::new();
    project.write("deploy.rhai", "step \"mark\" { local::run(\"echo v1 >> marks\"); }\n");
    let planned = project.golive(&["plan", "deploy.rhai", "-o", "reviewed.json"]);
    planned.assert_code(0);
    let saved: serde_json::Value = serde_json::from_str(&project.read("reviewed.json")).unwrap();
    assert_eq!(saved["basis"]["target"], "local");
    assert!(saved["plan_text"].as_str().unwrap_or_default().contains("echo v1 >> marks"), "{saved}");
    project.golive(&["run", "deploy.rhai", "--plan", "reviewed.json"]).assert_code(0);
    assert_eq!(project.read("marks"), "v1\n");

    project.write("deploy.rhai", "step \"mark\" { local::run(\"echo v2 >> marks\"); }\n");
    let refused = project.golive(&["run", "deploy.rhai", "--plan", "reviewed.json"]);
    refused.assert_code(2);
    assert!(
        refused.stderr.contains("no longer describes this run: deploy.rhai changed; nothing was run"),
        "{}",
        refused.stderr
    );
    let other_target = project.golive(&["run", "deploy.rhai", "--plan", "reviewed.json", "--target", "prod"]);
    other_target.assert_code(2);
    assert!(
        other_target.stderr.contains("it was planned for target `local`, this run is on `prod`"),
        "{}",
        other_target.stderr
    );
    std::fs::write(project.file("golive.toml"), project.read("golive.toml") + "\n# edited\n").unwrap();
    project.write("deploy.rhai", "step \"mark\" { local::run(\"echo v1 >> marks\"); }\n");
    let config = project.golive(&["run", "deploy.rhai", "--plan", "reviewed.json"]);
    config.assert_code(2);
    assert!(
        config.stderr.contains("golive.toml changed") && !config.stderr.contains("deploy.rhai changed"),
        "{}",
        config.stderr
    );
    assert_eq!(project.read("marks"), "v1\n", "a refused run touched nothing");
}

/// `golive init` makes a repository whose `golive check` and `golive test` pass as they are; editing a
/// command makes `golive test` fail with a readable diff, and `--accept` makes it pass again. Nothing is
/// written over an existing repository.
#[test]
fn golive_init_makes_a_repository_whose_check_and_test_pass_and_catch_an_edit() {
    let dir = tempfile::tempdir().unwrap();
    let golive = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_golive"))
            .args(args)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env_remove("GOLIVE_STDLIB")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        common::Run::from(out)
    };
    golive(&["init"]).assert_code(0);
    for file in [
        "golive.toml",
        "scripts/release.rhai",
        "tests/scenarios/release.healthy.toml",
        ".gitignore",
        "ci.sh",
        "tests/snapshots/plans__release.healthy.snap",
    ] {
        assert!(dir.path().join(file).is_file(), "init wrote no {file}");
    }
    golive(&["check"]).assert_code(0);
    golive(&["test"]).assert_code(0);
    let again = golive(&["init"]);
    again.assert_code(2);
    assert!(again.stderr.contains("golive.toml exists"), "{}", again.stderr);

    let script = dir.path().join("scripts/release.rhai");
    let text = std::fs::read_to_string(&script).unwrap();
    std::fs::write(&script, text.replace("> release.txt", "> RELEASE")).unwrap();
    let changed = golive(&["test", "--junit", "junit.xml"]);
    changed.assert_code(1);
    assert!(changed.stdout.contains("FAIL  release.healthy: the plan differs from its snapshot"), "{}", changed.all());
    assert!(changed.stdout.contains("-    write  local$ echo 1.0.0 > release.txt"), "{}", changed.all());
    assert!(changed.stdout.contains("+    write  local$ echo 1.0.0 > RELEASE"), "{}", changed.all());
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(
        junit.starts_with("<?xml") && junit.contains("<failure message=\"the plan differs from its snapshot\">"),
        "{junit}"
    );
    golive(&["test", "--accept"]).assert_code(0);
    golive(&["test"]).assert_code(0);
}

/// Outside any project (no golive.toml above): `golive docs` lists each module once, `docs --definitions`
/// writes Rhai definition files holding every documented function, and `steps` / `check FILE` read a script.
#[test]
fn docs_definitions_steps_and_check_work_outside_a_project_and_cover_every_function() {
    let dir = tempfile::tempdir().unwrap();
    assert!(!dir.path().ancestors().any(|d| d.join("golive.toml").exists()), "a golive.toml above the temp folder");
    let golive = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_golive"))
            .args(args)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env_remove("GOLIVE_STDLIB")
            .output()
            .unwrap();
        common::Run::from(out)
    };
    let docs = golive(&["docs"]);
    docs.assert_code(0);
    let headings: Vec<&str> = docs.stdout.lines().filter(|l| l.starts_with("## ")).collect();
    let mut unique = headings.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(headings.len(), unique.len(), "a module listed twice: {headings:?}");
    assert!(!docs.stdout.contains("anon$"), "closures' helpers are listed");
    for documented in
        ["Response (http::get", ".ttfb_ms", "watch event", "[test] exit_code", "Target (target()", ".name"]
    {
        assert!(docs.stdout.contains(documented), "golive docs does not document {documented}");
    }

    golive(&["docs", "--definitions", "defs"]).assert_code(0);
    let mut functions = 0;
    for line in docs.stdout.lines() {
        let Some((name, _)) = line.split_once('(') else { continue };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let (file, function) = match name.rsplit_once("::") {
            Some((module, function)) => (format!("{module}.d.rhai"), function),
            None => ("__static__.d.rhai".to_string(), name),
        };
        let text = std::fs::read_to_string(dir.path().join("defs").join(&file)).unwrap_or_default();
        assert!(text.contains(&format!("fn {function}(")), "{name} is not in defs/{file}");
        functions += 1;
    }
    assert!(functions > 100, "only {functions} functions documented");

    std::fs::write(
        dir.path().join("roll.rhai"),
        "let hosts = [\"a\"];\nstep \"restart\" for host in hosts { local::run(`echo ${host}`); }\n",
    )
    .unwrap();
    let steps = golive(&["steps", "roll.rhai"]);
    steps.assert_code(0);
    assert!(steps.stdout.contains("step   \"restart\" for host in hosts"), "{}", steps.all());
    golive(&["check", "roll.rhai"]).assert_code(0);
    let run = golive(&["roll.rhai"]);
    run.assert_code(2);
    assert!(run.stderr.contains("no golive.toml"), "running still needs a project: {}", run.stderr);
}

/// A definition file's declarations: each with the `///` lines above it.
fn declarations(text: &str) -> Vec<(Vec<&str>, &str)> {
    let mut found = Vec::new();
    let mut comments = Vec::new();
    for line in text.lines() {
        if line.starts_with("///") {
            comments.push(line);
        } else if line.starts_with("fn ") || line.starts_with("op ") {
            found.push((std::mem::take(&mut comments), line));
        } else {
            assert!(line.is_empty() || line.starts_with("module "), "not a declaration: {line:?}");
            comments.clear();
        }
    }
    found
}

/// Stands for one of golive's types (Response, Target, ...) when a declaration is registered again.
struct Declared<const N: usize>;

/// Registers a declaration into a module as a function of that name, parameters, types and documentation.
fn register_declared(module: &mut rhai::Module, namespace: rhai::FnNamespace, comments: &[&str], line: &str) {
    use std::any::TypeId;
    let declaration = &line[3..];
    let (head, rest) = declaration.split_once('(').unwrap_or_else(|| panic!("{line:?}"));
    let (params, returns) = rest.rsplit_once(") -> ").unwrap_or_else(|| panic!("{line:?}"));
    let name = match head.split_once(' ') {
        Some(("get", property)) => format!("get${property}"),
        Some(("set", property)) => format!("set${property}"),
        _ => head.to_string(),
    };
    let mut info: Vec<String> = match params {
        "" => Vec::new(),
        _ if line.starts_with("op ") => params.split(", ").map(|t| format!("_: {t}")).collect(),
        _ => params.split(", ").map(str::to_string).collect(),
    };
    // Overloads differ by their parameters' types: the types Rhai knows keep them apart.
    let types: Vec<TypeId> = info
        .iter()
        .map(|p| match p.rsplit(": ").next().unwrap_or_default() {
            "int" => TypeId::of::<rhai::INT>(),
            "float" => TypeId::of::<rhai::FLOAT>(),
            "string" => TypeId::of::<rhai::ImmutableString>(),
            "bool" => TypeId::of::<bool>(),
            "char" => TypeId::of::<char>(),
            "array" => TypeId::of::<rhai::Array>(),
            "map" => TypeId::of::<rhai::Map>(),
            "Fn" => TypeId::of::<rhai::FnPtr>(),
            "Response" => TypeId::of::<Declared<0>>(),
            "Target" => TypeId::of::<Declared<1>>(),
            "Session" => TypeId::of::<Declared<2>>(),
            "Compose" => TypeId::of::<Declared<3>>(),
            _ => TypeId::of::<rhai::Dynamic>(),
        })
        .collect();
    info.push(returns.trim_end_matches(';').to_string());
    let mut registration = rhai::FuncRegistration::new(name).with_params_info(info).with_namespace(namespace);
    if !comments.is_empty() {
        registration = registration.with_comments([comments.join("\n")]);
    }
    let func = rhai::RhaiFunc::Pure {
        func: std::rc::Rc::new(|_, _| Ok(rhai::Dynamic::UNIT)),
        has_context: false,
        is_pure: true,
        is_volatile: false,
    };
    registration.set_into_module_raw(module, types, func);
}

/// The definition files golive writes are declarations a stock Rhai engine takes: each is read back, every
/// function registered by its declared name, parameters, types and documentation into a stock engine (no
/// golive), and that engine writes the same files again, byte for byte. (That every documented function is
/// in them: `docs_definitions_steps_and_check_work_outside_a_project_and_cover_every_function`.)
#[test]
fn definition_files_round_trip_through_a_stock_rhai_engine() {
    use rhai::{Engine, FnNamespace, Module};
    let project = Project::new();
    project.golive(&["docs", "--definitions", "defs"]).assert_code(0);
    let defs = project.file("defs");
    let mut engine = Engine::new();
    // The stock engine writes Rhai's own functions into __static__ itself: golive's are the others.
    let stock_static = Engine::new().definitions().static_module();
    let stock: std::collections::HashSet<_> = declarations(&stock_static).into_iter().collect();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&defs).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        // Rhai's built-in operators and functions: fixed text in Rhai, not written from anything registered.
        if file.starts_with("__builtin") {
            continue;
        }
        let text = std::fs::read_to_string(defs.join(&file)).unwrap();
        let mut module = Module::new();
        let name = file.strip_suffix(".d.rhai").unwrap();
        let namespace = if name == "__static__" { FnNamespace::Global } else { FnNamespace::Internal };
        let mut own = 0;
        for (comments, line) in declarations(&text) {
            if name == "__static__" && stock.contains(&(comments.clone(), line)) {
                continue;
            }
            register_declared(&mut module, namespace, &comments, line);
            own += 1;
        }
        assert!(own > 0, "{file} declares nothing of golive's");
        match name {
            "__static__" => engine.register_global_module(module.into()),
            name => engine.register_static_module(name, module.into()),
        };
        files.push((file, text));
    }
    assert!(files.len() > 20, "{files:?}");
    let again = project.file("again");
    engine.definitions().write_to_dir(&again).unwrap();
    for (file, text) in &files {
        let written = std::fs::read_to_string(again.join(file)).unwrap_or_default();
        // A registered global module comes after the engine's own global namespace, empty here, whose
        // place Rhai still separates with a blank line.
        let written = written.replacen("module static;\n\n\n\n", "module static;\n\n", 1);
        assert!(
            written == *text,
            "{file} differs after the round trip:\n{}",
            similar::TextDiff::from_lines(text, &written).unified_diff().header("golive", "stock Rhai")
        );
    }
}

/// A mistyped option names its step, before anything runs; one the engine meets only at run time (a map
/// built by the script) names it too.
#[test]
fn a_bad_step_option_names_the_step_before_anything_runs() {
    let project = Project::new();
    project.write("bad.rhai", "step \"deploy\" with #{ timeot: \"1m\" } { local::run(\"touch ran\"); }\n");
    let run = project.golive(&["bad.rhai"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("step \"deploy\": no option `timeot`; did you mean `timeout`?")
            && run.stderr.contains("bad.rhai:1:"),
        "{}",
        run.stderr
    );
    assert!(!project.file("ran").exists() && !project.file(".golive/runs").exists(), "the bad script ran");
    project.write("built.rhai", "let o = #{ timeot: \"1m\" };\nstep \"deploy\" with o { 1 }\n");
    let run = project.golive(&["built.rhai"]);
    assert!(run.stderr.contains("bad options for step \"deploy\": unknown field `timeot`"), "{}", run.stderr);
}

#[test]
fn a_watch_action_with_the_wrong_arity_names_the_rule_and_the_option() {
    let project = Project::new();
    project.write(
        "w.rhai",
        "step \"watch\" {\n    metrics::watch(#{ every: \"1s\", \"for\": \"2s\", rules: [#{ name: \"Disk\", value: || 99.0, warn: 80.0, crit: 90.0, on_crit: || print(\"x\") }] })\n}\n",
    );
    let run = project.golive(&["w.rhai"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("rule \"Disk\": `on_crit` is called with one argument, the event: write it as |e| { ... }")
            && !run.stderr.contains("anon$"),
        "{}",
        run.stderr
    );
}

/// The command line's conventions: `--var` gives a one-off value, `-C` runs in another folder, `--color`
/// decides colour over NO_COLOR, and completions, a man page and the exit codes in `--help` exist.
#[test]
fn var_directory_color_completions_man_and_exit_codes_in_help() {
    let project = Project::new();
    project.write("v.rhai", "print(`release ${config(\"release\", \"none\")} greeting ${config(\"greeting\")} n ${config(\"n\", 0) + 1}`);\nstep \"s\" { true }\n");
    let run = project.golive(&["v.rhai", "--var", "release=1.4.2", "--var", "n=41"]);
    run.assert_code(0);
    assert_eq!(run.stdout, "release 1.4.2 greeting hello n 42\n", "{}", run.all());
    let bad = project.golive(&["v.rhai", "--var", "nokey"]);
    bad.assert_code(2);
    assert!(bad.stderr.contains("`nokey` is not key=value"), "{}", bad.stderr);

    let elsewhere = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_golive"))
        .args(["-C", project.path().to_str().unwrap(), "v.rhai"])
        .current_dir(elsewhere.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("release none"));

    let plain = project.golive(&["v.rhai"]);
    assert!(!plain.stderr.contains('\x1b'), "NO_COLOR and no terminal: no colour");
    let forced = project.golive(&["v.rhai", "--color", "always"]);
    assert!(forced.stderr.contains("\x1b[32m"), "--color always: {:?}", forced.stderr);

    let help = project.golive(&["--help"]);
    assert!(
        help.stdout.contains("Exit codes:") && help.stdout.contains("3    another run holds the target's lock"),
        "{}",
        help.stdout
    );
    let bash = project.golive(&["completions", "bash"]);
    bash.assert_code(0);
    assert!(bash.stdout.contains("_golive()") && bash.stdout.contains("report"), "{}", bash.stdout);
    let man = project.golive(&["man"]);
    man.assert_code(0);
    assert!(man.stdout.contains(".TH golive 1") && man.stdout.contains("report"), "{}", man.stdout);
}

/// Piped into the REPL, inputs are a script: `:load FILE` runs a file of inputs, the setup of the script it
/// was started with prints nothing, and a failed input makes it exit 1.
#[test]
fn a_piped_repl_loads_files_starts_quietly_and_exits_1_when_an_input_failed() {
    use std::io::Write;
    let project = Project::new();
    project.write("book.rhai", "phase \"P\" { step \"restart\" { local::run(\"touch restarted\"); } }\n");
    project.write("defs.rhai", "let x = 41;\nfn twice(n) { n * 2 }\n");
    let repl = |input: &str| {
        let mut child = project
            .command(&["repl", "book.rhai"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        common::Run::from(child.wait_with_output().unwrap())
    };
    let good = repl(":load defs.rhai\nprint(twice(x + 1))\n:quit\n");
    good.assert_code(0);
    assert!(good.stdout.contains("84"), "{}", good.all());
    assert!(
        !good.stderr.contains("not selected") && !good.stderr.contains("phase \"P\""),
        "setup printed: {}",
        good.stderr
    );
    assert!(!project.file("restarted").exists());
    let bad = repl("nosuch::f()\nprint(1)\n:quit\n");
    bad.assert_code(1);
    assert!(
        bad.stderr.contains("no module `nosuch` exists") && bad.stderr.contains("1 input(s) failed"),
        "{}",
        bad.all()
    );
}

#[test]
fn a_repeated_steps_item_used_outside_its_step_is_refused_before_anything_runs() {
    let project = Project::new();
    project.write(
        "out.rhai",
        "let hosts = [\"a\"];\nstep \"restart\" for host in hosts { local::run(`touch ${host}`); }\nprint(host);\n",
    );
    let run = project.golive(&["out.rhai"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("`host` is the item of a repeated step") && run.stderr.contains("out.rhai:3:7"),
        "{}",
        run.stderr
    );
    assert!(!project.file("a").exists(), "the script ran");
}

#[test]
fn options_may_come_before_the_command_and_config_names_another_golive_toml() {
    let project = Project::new();
    project.write("s.rhai", "print(config(\"greeting\"));\nstep \"s\" { true }\n");
    let before = project.golive(&["--yes", "-q", "run", "s.rhai"]);
    before.assert_code(0);
    assert_eq!(before.stdout, "hello\n", "{}", before.all());
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("other.toml"), common::BASE_CONFIG.replace("hello", "hola")).unwrap();
    let config = other.path().join("other.toml");
    let chosen = project.golive(&["--config", config.to_str().unwrap(), "s.rhai"]);
    chosen.assert_code(0);
    assert_eq!(chosen.stdout, "hola\n", "{}", chosen.all());

    // Each command's help lists the options that mean something to it, and no other.
    let options_of = |command: &str| {
        let help = project.golive(&[command, "--help"]);
        help.assert_code(0);
        let mut options: Vec<String> = help
            .stdout
            .split_whitespace()
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .map(|w| w.trim_end_matches([',', '.', ')', '`']).to_string())
            .collect();
        options.sort();
        options.dedup();
        options.join(" ")
    };
    assert_eq!(options_of("status"), "--color --config --follow --format --help --target");
    assert_eq!(options_of("docs"), "--color --config --definitions --help --stdlib");
    assert_eq!(options_of("contacts"), "--color --config --help");
    let run = options_of("run");
    for option in ["--yes", "--answers", "--target", "--var", "--stdlib", "--force", "--quiet", "--plan"] {
        assert!(run.contains(option), "run --help lacks {option}: {run}");
    }
    // A run's option written before another command is refused, not ignored.
    let misplaced = project.golive(&["--yes", "status"]);
    misplaced.assert_code(2);
    assert!(misplaced.stderr.contains("error: --yes before the command is for a run"), "{}", misplaced.stderr);
    project.golive(&["status", "--yes"]).assert_code(2);
}

/// `golive test --review` shows each difference on a terminal and stores only what the person accepts;
/// without a terminal it says to use --accept.
#[test]
fn golive_test_review_asks_on_a_terminal_for_each_difference() {
    use rexpect::session::spawn_command;
    let project = Project::new();
    project.write("scripts/a.rhai", "step \"pull\" { local::run(\"docker pull app:1.0\"); }\n");
    project.write("scripts/b.rhai", "step \"pull\" { local::run(\"docker pull db:1.0\"); }\n");
    project.golive(&["test", "--accept"]).assert_code(0);
    project.write("scripts/a.rhai", "step \"pull\" { local::run(\"docker pull app:2.0\"); }\n");
    project.write("scripts/b.rhai", "step \"pull\" { local::run(\"docker pull db:2.0\"); }\n");
    let piped = project.golive(&["test", "--review"]);
    piped.assert_code(2);
    assert!(piped.stderr.contains("--review asks on a terminal"), "{}", piped.stderr);

    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_golive"));
    cmd.args(["test", "--review"]).current_dir(project.path()).env("NO_COLOR", "1");
    let mut session = spawn_command(cmd, Some(15_000)).expect("spawn golive on a pty");
    session.exp_string("docker pull app:2.0").unwrap();
    session.exp_string("store the plan now as a's snapshot? [y/n/q]").unwrap();
    session.send_line("y").unwrap();
    session.exp_string("store the plan now as b's snapshot? [y/n/q]").unwrap();
    session.send_line("n").unwrap();
    let rest = session.exp_eof().unwrap();
    assert!(rest.contains("1 accepted") && rest.contains("FAIL  b"), "{rest}");
    assert!(project.read("tests/snapshots/plans__a.snap").contains("app:2.0"));
    assert!(project.read("tests/snapshots/plans__b.snap").contains("db:1.0"), "b was refused, and kept");
}

/// A repeated check's canary is judged by its verdict: a FAIL stops the other items in the run, and the
/// plan predicts the same; in a plan whose canary rests on an assumed read, the outcome is unknown, never
/// a predicted stop.
#[test]
fn a_repeated_checks_failed_canary_verdict_stops_the_rest_and_the_plan_agrees() {
    let project = Project::new();
    project.write(
        "health.rhai",
        "let hosts = [\"web1\", \"web2\", \"web3\"];\ncheck \"healthy\" for host in hosts with #{ canary: 1 } {\n    local::run(`echo ${host} >> checked.log`);\n    host != \"web1\"\n}\n",
    );
    let run = project.golive(&["health.rhai"]);
    run.assert_code(1);
    assert_eq!(project.read("checked.log"), "web1\n", "the other hosts were checked after a failed canary");
    assert!(run.stderr.contains("the canary check \"healthy [web1]\" failed"), "{}", run.stderr);
    let plan = project.golive(&["plan", "health.rhai"]);
    plan.assert_code(1);
    assert!(
        plan.stdout.contains("outcome: the run would stop (exit 1): the canary check \"healthy [web1]\" failed"),
        "{}",
        plan.stdout
    );

    project.write(
        "assumed.rhai",
        "let hosts = [\"web1\", \"web2\"];\ncheck \"up\" for host in hosts with #{ canary: 1 } {\n    local::run(`test -e ${host}.up`, #{ read_only: true, allow_fail: true }).code == 0\n}\n",
    );
    let plan = project.golive(&["plan", "assumed.rhai"]);
    plan.assert_code(1);
    assert!(plan.stdout.contains("outcome: unknown:"), "{}", plan.stdout);
}

/// `forks` bounds a fan-out over all its hosts: six local hosts, each command counting how many run beside
/// it, never more than `forks` at once (and more than that when forks allows it).
#[test]
fn forks_bounds_how_many_hosts_of_a_fan_out_run_at_once() {
    let peak = |forks: &str| {
        let mut config = format!("{forks}\n{}", common::BASE_CONFIG);
        for n in 1..=6 {
            config.push_str(&format!("\n[targets.h{n}]\nkind = \"local\"\n"));
        }
        let project = Project::with_config(&config);
        project.write(
            "fan.rhai",
            "let hosts = [\"h1\", \"h2\", \"h3\", \"h4\", \"h5\", \"h6\"].map(|h| target(h));\n\
             step \"all\" { ssh::run_each(hosts, \"mkdir -p r; touch r/$$; ls r | wc -l >> peaks; sleep 0.3; rm r/$$\"); }\n",
        );
        project.golive(&["fan.rhai"]).assert_code(0);
        project.read("peaks").lines().map(|l| l.trim().parse::<usize>().unwrap()).max().unwrap()
    };
    assert_eq!(peak("forks = 2"), 2);
    assert!(peak("") > 2, "the default (20) lets six hosts run together");
}
