//! The REPL in a real terminal (tmux: send-keys to type, capture-pane to read the screen): variables,
//! multi-line blocks, completion, :run, Ctrl-C, errors, history, and the journal of what was done by hand.

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::Project;

const SCRIPT: &str = "let greeting = config(\"greeting\");\nstep \"one\" { local::run(\"echo one >> log\"); }\nstep \"two\" { local::run(\"echo two >> log\"); }\n";

/// One REPL in its own tmux session, killed when dropped.
struct Screen {
    name: String,
}

impl Screen {
    fn start(project: &Project, tag: &str) -> Screen {
        Screen::start_with(project, tag, "ops.rhai")
    }

    fn start_with(project: &Project, tag: &str, script: &str) -> Screen {
        let name = format!("golive-test-{}-{tag}", std::process::id());
        let command = format!(
            "cd {} && NO_COLOR=1 {} repl {script}; sleep 60",
            project.path().display(),
            env!("CARGO_BIN_EXE_golive")
        );
        let ok = Command::new("tmux")
            .args(["new-session", "-d", "-s", &name, "-x", "150", "-y", "50", &command])
            .status()
            .unwrap();
        assert!(ok.success(), "tmux could not start");
        let screen = Screen { name };
        screen.wait_for("golive>", Duration::from_secs(15));
        screen
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.name];
        args.extend(keys);
        assert!(Command::new("tmux").args(&args).status().unwrap().success());
    }

    fn line(&self, text: &str) {
        self.keys(&["-l", text]);
        self.keys(&["Enter"]);
    }

    fn text(&self) -> String {
        let out = Command::new("tmux").args(["capture-pane", "-p", "-S", "-200", "-t", &self.name]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until `needle` is on the screen `count` times; returns how long that took.
    fn wait_for_n(&self, needle: &str, count: usize, limit: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if self.text().matches(needle).count() >= count {
                return started.elapsed();
            }
            assert!(started.elapsed() < limit, "{needle:?} (x{count}) never showed:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_for(&self, needle: &str, limit: Duration) -> Duration {
        self.wait_for_n(needle, 1, limit)
    }

    fn quit(&self) {
        self.line(":quit");
        std::thread::sleep(Duration::from_millis(300));
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.name]).status();
    }
}

fn project() -> Project {
    let project = Project::new();
    project.write("ops.rhai", SCRIPT);
    project
}

const T: Duration = Duration::from_secs(15);

#[test]
fn variables_blocks_and_the_scripts_setup_persist_and_errors_keep_it_alive() {
    let project = project();
    let s = Screen::start(&project, "vars");
    s.line("let x = 40;");
    s.line("x + 2");
    s.wait_for("= 42", T);
    s.line("fn twice(a) {");
    s.line("  a * 2");
    s.line("}");
    s.line("twice(x) + greeting.len()");
    s.wait_for("= 85", T);
    s.line("nosuch_function(1)");
    s.wait_for("error:", T);
    s.line("1 + 1");
    s.wait_for("= 2\n", T);
    s.quit();
}

/// Lines typed (or pasted) while an input runs wait their turn: the line editor keeps what it read
/// ahead from one prompt to the next instead of dropping all but the first.
#[test]
fn lines_typed_while_an_input_runs_are_all_evaluated_in_order() {
    let project = project();
    let s = Screen::start(&project, "ahead");
    s.line("local::run(\"sleep 1\").code");
    s.line("10 + 1");
    s.line("20 + 2");
    s.line("30 + 3");
    s.wait_for("= 33", T);
    let text = s.text();
    let results: Vec<&str> = text.lines().filter(|l| l.starts_with("= ")).collect();
    assert_eq!(results, ["= 0", "= 11", "= 22", "= 33"], "{text}");
    s.quit();
}

#[test]
fn tab_completes_module_functions() {
    let project = project();
    let s = Screen::start(&project, "tab");
    s.keys(&["-l", "docker::comp"]);
    s.keys(&["Tab"]);
    s.wait_for("golive> docker::compose", T);
    s.keys(&["C-u"]);
    s.quit();
}

#[test]
fn run_reruns_one_step_of_the_script_and_effects_are_journaled() {
    let project = project();
    let s = Screen::start(&project, "run");
    s.line(":run two");
    s.wait_for("done in", T);
    assert_eq!(project.read("log"), "two\n");
    s.line("local::run(\"echo by-hand >> log\").code");
    s.wait_for("= 0", T);
    s.quit();
    assert_eq!(project.read("log"), "two\nby-hand\n");
    let journals = project.state_files();
    assert!(journals.contains("\"mode\":\"repl\""), "{journals}");
    assert!(journals.contains("repl 1: local::run(\\\"echo by-hand >> log\\\").code"), "{journals}");
    assert!(journals.contains("local$ echo by-hand >> log"), "{journals}");
    assert!(journals.contains("\"mode\":\"only\""), "{journals}");
}

#[test]
fn ctrl_c_during_a_sleep_returns_to_the_prompt_within_a_second() {
    let project = project();
    let s = Screen::start(&project, "ctrlc");
    s.line("sleep(\"60s\")");
    std::thread::sleep(Duration::from_millis(400));
    s.keys(&["C-c"]);
    let took = s.wait_for("cancelled (Ctrl-C)", T);
    assert!(took < Duration::from_secs(1), "Ctrl-C took {took:?}");
    s.wait_for_n("golive>", 2, T);
    s.line("3 * 3");
    s.wait_for("= 9", T);
    s.quit();
}

#[test]
fn history_survives_a_restart() {
    let project = project();
    {
        let s = Screen::start(&project, "hist1");
        s.line("6 * 7");
        s.wait_for("= 42", T);
        s.quit();
    }
    let s = Screen::start(&project, "hist2");
    s.keys(&["Up"]);
    s.wait_for("golive> :quit", T);
    s.keys(&["Up"]);
    s.wait_for("golive> 6 * 7", T);
    s.keys(&["Enter"]);
    s.wait_for("= 42", T);
    s.quit();
}

#[test]
fn a_secret_typed_or_read_in_the_repl_never_reaches_its_history() {
    let project = project();
    project.write(".env", "REPL_TOKEN=repl-canary-9f3k\n");
    {
        let s = Screen::start(&project, "secret");
        s.line("let t = secret(\"REPL_TOKEN\"); t.len()");
        s.wait_for("= 16", T);
        // The operator pastes the value itself into a command.
        s.line("\"repl-canary-9f3k\".len()");
        s.wait_for_n("= 16", 2, T);
        assert!(!s.text().contains("= repl-canary-9f3k"), "{}", s.text());
        s.quit();
    }
    let history = project.read(".golive/repl_history");
    assert!(!history.contains("repl-canary-9f3k"), "{history}");
    assert!(history.contains("\"<secret:REPL_TOKEN>\".len()"), "the line is kept, masked: {history}");
    assert!(!project.state_files().contains("repl-canary-9f3k"));
}

#[test]
fn run_of_one_rollback_step_against_the_test_bed() {
    let _bed = common::testbed::lock();
    common::testbed::reset();
    let project = common::testbed::project();
    let s = Screen::start_with(&project, "rollback", "scripts/rollback_quick.rhai");
    s.line(":steps");
    s.wait_for("swap image tags", T);
    s.line(":plan \"stop the stack\"");
    s.wait_for("write  rehearsal$ docker-compose down", T);
    s.line(":run \"maintenance on\"");
    s.wait_for("done in", T);
    s.quit();
    assert_eq!(
        common::testbed::state("drush.log"),
        "drush state:set system.maintenance_mode 1 --input-format=integer\n"
    );
    assert_eq!(common::testbed::http_status(common::testbed::SITE), "503");
    common::testbed::reset();
}

#[test]
fn repl_inputs_take_the_targets_lock_and_a_bare_resume_never_picks_a_repl_session() {
    let project = project();
    project.write(
        "hold.rhai",
        "step \"hold\" { local::run(\"touch holding; sleep 4; echo held > failed-later; exit 3\"); }\n",
    );
    let s = Screen::start(&project, "lock");
    let mut holder = project.command(&["hold.rhai"]).spawn().unwrap();
    let deadline = Instant::now() + T;
    while !project.file("holding").exists() {
        assert!(Instant::now() < deadline, "the runbook never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    s.line("local::run(\"touch by-hand\").code");
    s.wait_for("target `local` is in use", T);
    assert!(!project.file("by-hand").exists(), "the REPL acted beside a runbook holding the target");
    holder.wait().unwrap();
    s.line("local::run(\"touch by-hand\").code");
    s.wait_for("= 0", T);
    assert!(project.file("by-hand").exists());
    s.quit();
    // The REPL's session is newer than the failed runbook's run; a bare resume still means the runbook.
    let resumed = project.golive(&["resume"]);
    assert!(resumed.stderr.contains("resuming hold.rhai"), "{}", resumed.all());
}

/// After `:run`, the REPL's own connection to the target still works, and Ctrl-C still stops a remote
/// command on the target (a `:run` closing its connector once closed the REPL's masters too).
#[test]
fn after_run_the_repl_keeps_its_connections_and_ctrl_c_stops_remote_work() {
    let _bed = common::testbed::lock();
    common::testbed::reset();
    let project = common::testbed::project();
    let late = format!("{}/project/repl-late-{}", common::testbed::ROOT, std::process::id());
    let _ = std::fs::remove_file(&late);
    let s = Screen::start_with(&project, "keeps", "scripts/rollback_quick.rhai");
    s.line("ssh::run(target(), \"echo before-run\", #{ read_only: true }).stdout");
    s.wait_for("before-run", T);
    s.line(":run \"maintenance on\"");
    s.wait_for("done in", T);
    s.line("ssh::run(target(), \"echo after-run\", #{ read_only: true }).stdout");
    s.wait_for("\"after-run\\n\"", T);
    assert!(!s.text().contains("was lost"), "{}", s.text());
    s.line(&format!("ssh::run(target(), \"sleep 4; echo late > {late}\")"));
    std::thread::sleep(Duration::from_millis(1500));
    s.keys(&["C-c"]);
    s.wait_for("cancelled (Ctrl-C)", T);
    std::thread::sleep(Duration::from_secs(5));
    assert!(!std::path::Path::new(&late).exists(), "the remote command went on after Ctrl-C:\n{}", s.text());
    s.quit();
    common::testbed::reset();
}
