//! Ctrl-C through a real pseudo-terminal: the first cancels the running effect and offers
//! retry/skip/abort (journaled); a second aborts with exit 130. A non-interactive run stops with 130.

use std::time::{Duration, Instant};

use crate::common::Project;
use rexpect::process::WaitStatus;
use rexpect::session::{PtySession, spawn_command};

const SCRIPT: &str = "step \"wait\" { sleep(\"60s\"); }\nstep \"after\" { local::run(\"touch after\"); }\n";

fn spawn(project: &Project, args: &[&str]) -> PtySession {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_golive"));
    cmd.args(args).current_dir(project.path()).env("NO_COLOR", "1").env("TERM", "dumb");
    spawn_command(cmd, Some(15_000)).expect("spawn golive on a pty")
}

fn exit_code(session: &PtySession) -> i32 {
    match session.process.wait().expect("golive exits") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("golive did not exit normally: {other:?}"),
    }
}

#[test]
fn first_ctrl_c_cancels_the_effect_and_offers_retry_skip_abort() {
    let project = Project::new();
    project.write("wait.rhai", SCRIPT);
    let mut p = spawn(&project, &["wait.rhai"]);
    p.exp_string("as run").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let interrupted = Instant::now();
    p.send_control('c').unwrap();
    p.exp_string("was interrupted").unwrap();
    p.exp_string("[retry/skip/abort]").unwrap();
    assert!(interrupted.elapsed() < Duration::from_secs(5), "the 60 s sleep was not cancelled");
    p.send_line("skip").unwrap();
    p.exp_string("done in").unwrap();
    assert_eq!(exit_code(&p), 0);
    assert!(project.file("after").exists(), "the run goes on after skip");
    let journal = std::fs::read_to_string(&project.journals()[0]).unwrap();
    assert!(journal.contains("\"status\":\"interrupted\""), "{journal}");
    assert!(journal.contains("\"answer\":\"skip\""), "{journal}");
    assert!(journal.contains("\"status\":\"skipped\""), "{journal}");
}

#[test]
fn retry_after_ctrl_c_runs_the_step_again() {
    let project = Project::new();
    project.write(
        "retry.rhai",
        "step \"count\" { local::run(\"echo x >> tries; test $(wc -l < tries) -ge 2 || sleep 60\"); }\n",
    );
    let mut p = spawn(&project, &["retry.rhai"]);
    p.exp_string("as run").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    p.send_control('c').unwrap();
    p.exp_string("[retry/skip/abort]").unwrap();
    // Whole words only: "r" is refused and asked again; the Spanish word is taken.
    p.send_line("r").unwrap();
    p.exp_string("please answer one of: retry, skip, abort").unwrap();
    p.send_line("reintentar").unwrap();
    p.exp_string("done in").unwrap();
    assert_eq!(exit_code(&p), 0);
    assert_eq!(project.read("tries").lines().count(), 2);
}

#[test]
fn second_ctrl_c_aborts_with_130() {
    let project = Project::new();
    project.write("wait.rhai", SCRIPT);
    let mut p = spawn(&project, &["wait.rhai"]);
    p.exp_string("as run").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    p.send_control('c').unwrap();
    p.exp_string("[retry/skip/abort]").unwrap();
    // At the question, the second Ctrl-C aborts cleanly: the journal still gets its last line.
    p.send_control('c').unwrap();
    p.exp_string("interrupted by the operator (Ctrl-C)").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 130);
    assert!(!project.file("after").exists());
    let journal = std::fs::read_to_string(&project.journals()[0]).unwrap();
    assert!(journal.contains("\"status\":\"interrupted\""), "{journal}");
    assert!(journal.contains("\"exit_code\":130"), "{journal}");
}

#[test]
fn ctrl_c_in_a_non_interactive_run_stops_it_with_130_and_journals_it() {
    let project = Project::new();
    project.write("wait.rhai", SCRIPT);
    let child = project.command(&["wait.rhai"]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !project.state_files().contains("\"step\":\"wait\"") {
        assert!(Instant::now() < deadline, "the run never reached the step");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: sends SIGINT to a child this test spawned.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("step \"wait\" failed: interrupted by the operator (Ctrl-C)"), "{stderr}");
    let journal = std::fs::read_to_string(&project.journals()[0]).unwrap();
    assert!(journal.contains("\"status\":\"interrupted\""), "{journal}");
    assert!(journal.contains("\"exit_code\":130"), "{journal}");
}

/// Ctrl-C while three items of a batch run together stops every one of them (each command, and what it
/// started, before golive reports), journals each as interrupted, and ends the run with 130.
#[test]
fn ctrl_c_during_a_batch_stops_every_item_running_together() {
    let mut config = crate::common::BASE_CONFIG.to_string();
    for host in ["web1", "web2", "web3"] {
        config.push_str(&format!("\n[targets.{host}]\nkind = \"local\"\n"));
    }
    let project = Project::with_config(&config);
    project.write(
        "batch.rhai",
        "step \"restart\" for host in [\"web1\", \"web2\", \"web3\"] with #{ serial: 3 } {\n\
             ssh::run(target(host), `touch started-${host}; sleep 4; touch late-${host}`);\n\
         }\n",
    );
    let child = project.command(&["batch.rhai"]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !["web1", "web2", "web3"].iter().all(|h| project.file(&format!("started-{h}")).exists()) {
        assert!(Instant::now() < deadline, "the batch never started whole");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: sends SIGINT to a child this test spawned.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    std::thread::sleep(Duration::from_secs(5));
    for host in ["web1", "web2", "web3"] {
        assert!(!project.file(&format!("late-{host}")).exists(), "{host}'s command went on after Ctrl-C: {stderr}");
    }
    let journal = std::fs::read_to_string(&project.journals()[0]).unwrap();
    let ended = journal.lines().filter(|l| l.contains("\"event\":\"step_finished\"")).count();
    assert_eq!(ended, 3, "each item's end is journaled: {journal}");
    assert!(journal.contains("\"status\":\"interrupted\""), "{journal}");
}

#[test]
fn ctrl_c_stops_a_watch_cleanly_and_the_run_goes_on() {
    let project = Project::with_config(
        "default_target = \"local\"\n[targets.local]\nkind = \"local\"\n[vars.prometheus]\nurl = \"http://127.0.0.1:1\"\n",
    );
    project.write(
        "watch.rhai",
        "let s = step \"watch\" { metrics::watch(#{ every: \"200ms\", \"for\": \"1h\", timeout: \"100ms\", rules: [#{ name: \"Errors\", query: \"up\", warn: 1.0, crit: 5.0 }] }) };\nstep \"after\" { local::run(`echo ${s.stopped} ${s.evaluations > 0} > after`); }\n",
    );
    let mut p = spawn(&project, &["watch.rhai"]);
    p.exp_string("as run").unwrap();
    std::thread::sleep(Duration::from_millis(800));
    p.send_control('c').unwrap();
    p.exp_string("watch: stopped by the operator (Ctrl-C)").unwrap();
    p.exp_string("done in").unwrap();
    assert_eq!(exit_code(&p), 0);
    assert_eq!(project.read("after"), "operator true\n");
    let journal = std::fs::read_to_string(&project.journals()[0]).unwrap();
    assert!(journal.contains("\"stopped\":\"operator\""), "the watch's result is journaled: {journal}");
}

/// Starts `script` in the project, waits until `ready` holds, sends `signal`, and returns golive's exit code.
fn signalled(project: &Project, script: &str, ready: &str, signal: &str) -> i32 {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_golive"))
        .arg(script)
        .current_dir(project.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !project.file(ready).exists() {
        assert!(Instant::now() < deadline, "the run never got to {ready}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let waited = Instant::now();
    let code = child.wait().unwrap().code().unwrap_or(-1);
    assert!(waited.elapsed() < Duration::from_secs(10), "golive took {:?} to stop", waited.elapsed());
    code
}

const LOCAL_WRITE: &str = "step \"write later\" { local::run(\"touch started; sleep 3; echo x >> late\"); }\nstep \"after\" { local::run(\"touch after\"); }\n";

#[test]
fn sigterm_and_sighup_stop_the_local_command_close_the_journal_and_exit_143_and_129() {
    for (signal, code) in [("-TERM", 143), ("-HUP", 129)] {
        let project = Project::new();
        project.write("w.rhai", LOCAL_WRITE);
        assert_eq!(signalled(&project, "w.rhai", "started", signal), code, "{signal}");
        std::thread::sleep(Duration::from_secs(4));
        assert!(!project.file("late").exists(), "{signal}: the local command wrote after golive stopped");
        assert!(!project.file("after").exists(), "{signal}: the run went on");
        let journal = std::fs::read_to_string(&project.journals()[0]).unwrap();
        let last = journal.lines().last().unwrap_or_default();
        assert!(
            last.contains("\"event\":\"run_finished\"") && last.contains(&format!("\"exit_code\":{code}")),
            "{journal}"
        );
        assert!(journal.contains("\"status\":\"interrupted\""), "{journal}");
    }
}

#[test]
fn a_local_command_dies_with_golive_even_when_golive_is_sigkilled() {
    let project = Project::new();
    project.write("w.rhai", LOCAL_WRITE);
    assert_eq!(signalled(&project, "w.rhai", "started", "-KILL"), -1);
    std::thread::sleep(Duration::from_secs(4));
    assert!(!project.file("late").exists(), "the local command outlived a SIGKILLed golive and wrote");
}

/// Not only the command: what it started dies with a SIGKILLed golive too (its children carry its mark),
/// while what an earlier, finished command left running on purpose is not touched.
#[test]
fn what_a_running_local_command_started_dies_with_a_sigkilled_golive_and_what_a_finished_one_left_lives_on() {
    let project = Project::new();
    project.write(
        "w.rhai",
        "step \"daemon\" { local::run(\"(sleep 4; touch daemon-lived) > /dev/null 2>&1 &\"); }\n\
         step \"write later\" { local::run(\"(sleep 3; echo x >> late-child) & touch started; wait\"); }\n",
    );
    assert_eq!(signalled(&project, "w.rhai", "started", "-KILL"), -1);
    std::thread::sleep(Duration::from_secs(5));
    assert!(!project.file("late-child").exists(), "a process the running command started outlived golive and wrote");
    assert!(project.file("daemon-lived").exists(), "what a finished step left running on purpose was stopped");
}

/// Issue 32.2: a Spanish speaker's "s" (sí) was taken as the unique prefix of "skip" and the manual item
/// failed; "sí" was refused. Answers are whole words, in either language.
#[test]
fn a_manual_item_refuses_a_bare_letter_and_takes_si_as_yes() {
    let project = Project::new();
    project.write("m.rhai", "manual \"Equipo de soporte notificado\";\n");
    let mut p = spawn(&project, &["m.rhai"]);
    p.exp_string("[yes/no/skip]").unwrap();
    p.send_line("s").unwrap();
    p.exp_string("please answer one of: yes, no, skip").unwrap();
    p.send_line("sí").unwrap();
    p.exp_string("done in").unwrap();
    assert_eq!(exit_code(&p), 0);
    let journal = std::fs::read_to_string(&project.journals()[0]).unwrap();
    assert!(journal.contains("\"answer\":\"yes\""), "{journal}");
    // An answers file takes the same words, and refuses the letter, naming the file and the question.
    project.write("si.toml", "\"Equipo de soporte notificado\" = { answer = \"Sí\", by = \"Ana\" }\n");
    project.golive(&["run", "m.rhai", "--answers", "si.toml"]).assert_code(0);
    project.write("s.toml", "\"Equipo de soporte notificado\" = { answer = \"s\", by = \"Ana\" }\n");
    let refused = project.golive(&["run", "m.rhai", "--answers", "s.toml"]);
    refused.assert_code(1);
    assert!(
        refused.stderr.contains("s.toml: the answer to \"Equipo de soporte notificado\" is \"s\""),
        "{}",
        refused.stderr
    );
}
