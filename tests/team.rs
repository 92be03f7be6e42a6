//! A team on several machines sharing one launch's state on a real PostgreSQL (the test bed's): two
//! operators (own project checkout, HOME, user and, as root, host name in a UTS namespace of their own), the
//! lock between them, resume of a killed operator's run from the other machine, fencing when the store's
//! connection is cut, and following a run live from elsewhere.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Project, Run, state_db::StateDb};

/// One operator: a checkout of the runbook repository of their own, pointing at the shared store.
struct Operator {
    project: Project,
    user: &'static str,
    host: &'static str,
    home: tempfile::TempDir,
}

/// The `local` target stands for a host both operators reach: the deploy's `sleep` is not one a dying
/// golive's guard stops (its mark removed), as a command on a remote target would not be.
const SCRIPT: &str = r#"step "prepare" { local::run("echo prepare >> " + config("log")); }
step "deploy" { local::run("echo deploy-start >> " + config("log") + "; env -u GOLIVE_LOCAL sleep " + config("pause") + "; echo deploy-end >> " + config("log")); }
step "verify" { local::run("echo verify >> " + config("log")); }
"#;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

impl Operator {
    fn new(db: &StateDb, user: &'static str, host: &'static str, log: &Path, pause: &str) -> Operator {
        let config = format!(
            "default_target = \"local\"\n[vars]\nlog = \"{}\"\npause = \"{pause}\"\n[targets.local]\nkind = \"local\"\n\
             [state]\nurl = \"{}\"\n",
            log.display(),
            db.url()
        );
        let project = Project::with_config(&config);
        project.write(".env", &format!("GOLIVE_STATE_PASSWORD={}\n", crate::common::state_db::PASSWORD));
        project.write("deploy.rhai", SCRIPT);
        Operator { project, user, host, home: tempfile::tempdir().unwrap() }
    }

    /// golive as this operator: their user and HOME, and (as root) their machine's host name.
    fn command(&self, args: &[&str]) -> Command {
        let golive = env!("CARGO_BIN_EXE_golive");
        let mut cmd = if is_root() {
            let mut cmd = Command::new("unshare");
            cmd.args(["--uts", "sh", "-c", "hostname \"$0\" && exec \"$@\"", self.host, golive]);
            cmd
        } else {
            Command::new(golive)
        };
        cmd.args(args)
            .current_dir(self.project.path())
            .env("NO_COLOR", "1")
            .env("USER", self.user)
            .env("HOME", self.home.path())
            .env_remove("GOLIVE_STDLIB")
            .env_remove("GOLIVE_STATE_URL")
            .stdin(Stdio::null());
        cmd
    }

    fn golive(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().unwrap())
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }

    fn who(&self) -> String {
        match is_root() {
            true => format!("{}@{}", self.user, self.host),
            false => format!("{}@", self.user),
        }
    }
}

fn wait_for_line(log: &Path, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(log).unwrap_or_default().lines().any(|l| l == line) {
        assert!(Instant::now() < deadline, "{line:?} never reached {}", log.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(log: &Path, line: &str) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().lines().filter(|l| *l == line).count()
}

fn output(child: Child) -> Run {
    Run::from(child.wait_with_output().unwrap())
}

#[test]
fn an_operator_killed_mid_deploy_is_resumed_by_another_machine_which_the_lock_refused_while_the_first_lived() {
    let db = StateDb::new();
    let shared = tempfile::tempdir().unwrap();
    let log = shared.path().join("target.log");
    let alice = Operator::new(&db, "alice", "laptop-a", &log, "30");
    let bea = Operator::new(&db, "bea", "laptop-b", &log, "0.1");

    let mut first = alice.spawn(&["deploy.rhai"]);
    wait_for_line(&log, "deploy-start");

    // Bea's machine sees Alice's run and its step under way.
    let status = bea.golive(&["status"]);
    status.assert_code(0);
    assert!(status.stdout.contains(&format!("by {}", alice.who())), "{}", status.stdout);
    assert!(status.stdout.contains("running (in doubt if the run died)"), "{}", status.stdout);
    assert!(status.stdout.contains(&format!("not finished: running now, {} (pid ", alice.who())), "{}", status.stdout);
    let run_id = status.stdout.lines().next().unwrap().trim_start_matches("run ").to_string();

    // While Alice's golive lives, the target is hers.
    let refused = bea.golive(&["resume", &run_id, "--non-interactive"]);
    refused.assert_code(3);
    assert!(refused.stderr.contains("target `local` is in use: "), "{}", refused.stderr);
    assert!(refused.stderr.contains(&alice.who()), "{}", refused.stderr);
    assert!(refused.stderr.contains(&format!("run {run_id}")), "{}", refused.stderr);

    // Alice's machine is lost.
    first.kill().unwrap();
    first.wait().unwrap();

    // Bea's status says no golive runs it any more (once the server has seen Alice's connection end).
    let deadline = Instant::now() + Duration::from_secs(10);
    let dead = loop {
        let status = bea.golive(&["status", &run_id]);
        if !status.stdout.contains("running now") || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        dead.stdout.contains(&format!("no golive runs it (killed, or its machine lost): `golive resume {run_id}`")),
        "{}",
        dead.stdout
    );

    // The lock went with her connection; the step she was in is in doubt and says what is known.
    let deadline = Instant::now() + Duration::from_secs(10);
    let in_doubt = loop {
        let run = bea.golive(&["resume", &run_id, "--non-interactive"]);
        if run.code != 3 || Instant::now() > deadline {
            break run;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    in_doubt.assert_code(1);
    assert!(in_doubt.stderr.contains("step \"deploy\" is in doubt"), "{}", in_doubt.all());
    // Alice's command outlived her golive: Bea is told, and offered no re-run beside it.
    assert!(in_doubt.stderr.contains("STILL RUNNING on `local`"), "{}", in_doubt.all());
    assert!(in_doubt.stderr.contains("sleep 30"), "{}", in_doubt.all());

    // Bea stops it, then runs the deploy again, and the run completes.
    let stopped = bea.golive(&["resume", &run_id, "--non-interactive", "--in-doubt", "stop"]);
    stopped.assert_code(1);
    assert!(stopped.stderr.contains("stopped on `local` (process group"), "{}", stopped.all());
    assert_eq!(count(&log, "deploy-end"), 0, "the killed deploy must not have finished");
    let resumed = bea.golive(&["resume", &run_id, "--non-interactive", "--in-doubt", "rerun"]);
    resumed.assert_code(0);
    assert_eq!(count(&log, "prepare"), 1, "{}", resumed.all());
    assert_eq!(count(&log, "deploy-start"), 2);
    assert_eq!(count(&log, "deploy-end"), 1);
    assert_eq!(count(&log, "verify"), 1);

    // Both machines read the same record: Alice started it, Bea resumed and finished it.
    let seen_by_alice = alice.golive(&["status", &run_id]);
    assert!(seen_by_alice.stdout.contains("exit 0 (done)"), "{}", seen_by_alice.stdout);
    let journal = db.sql(&format!("SELECT entry::text FROM golive_entries WHERE run_id = '{run_id}' ORDER BY seq"));
    assert!(journal.contains(&format!("\"event\":\"run_resumed\",\"by\":\"{}", bea.who())), "{journal}");
    let runs = bea.golive(&["runs"]);
    assert_eq!(runs.stdout.matches(&run_id).count(), 1, "{}", runs.stdout);
    // No holder is left behind.
    assert_eq!(db.sql("SELECT count(*) FROM golive_locks"), "0");
}

#[test]
fn a_run_whose_store_connection_is_cut_finishes_its_effect_writes_nothing_more_and_stops() {
    let db = StateDb::new();
    let shared = tempfile::tempdir().unwrap();
    let log = shared.path().join("target.log");
    let alice = Operator::new(&db, "alice", "laptop-a", &log, "2");
    let bea = Operator::new(&db, "bea", "laptop-b", &log, "0");

    let first = alice.spawn(&["deploy.rhai"]);
    wait_for_line(&log, "deploy-start");
    let cut = db.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'golive'");
    assert_eq!(cut, "1", "Alice's golive holds one connection");

    let stopped = output(first);
    stopped.assert_code(1);
    assert!(
        stopped.stderr.contains("cannot write the journal to postgres://golive@127.0.0.1:15432/"),
        "{}",
        stopped.all()
    );
    assert!(stopped.stderr.contains("lost the state store"), "{}", stopped.all());
    assert!(stopped.stderr.contains("writes nothing more"), "{}", stopped.all());
    assert!(!stopped.all().contains(crate::common::state_db::PASSWORD));
    // The effect under way was let finish; nothing after it ran.
    assert_eq!(count(&log, "deploy-end"), 1);
    assert_eq!(count(&log, "verify"), 0);
    // The store has nothing the run did not manage to write: the deploy is not done there.
    let status = bea.golive(&["status"]);
    assert!(status.stdout.contains("running (in doubt if the run died)"), "{}", status.stdout);
    assert!(!status.stdout.contains("exit 0"), "{}", status.stdout);

    // Another machine takes over: the deploy's end is in the log, so it is marked done, and verify runs once.
    let resumed = bea.golive(&["resume", "--non-interactive", "--in-doubt", "mark-done"]);
    resumed.assert_code(0);
    assert_eq!(count(&log, "deploy-start"), 1, "{}", resumed.all());
    assert_eq!(count(&log, "verify"), 1);
}

#[test]
fn status_follow_on_another_machine_prints_each_step_as_it_happens_until_the_run_ends() {
    let db = StateDb::new();
    let shared = tempfile::tempdir().unwrap();
    let log = shared.path().join("target.log");
    let alice = Operator::new(&db, "alice", "laptop-a", &log, "1");
    let bea = Operator::new(&db, "bea", "laptop-b", &log, "0");

    let run = alice.spawn(&["deploy.rhai"]);
    wait_for_line(&log, "prepare");
    let started = Instant::now();
    let follow = bea.golive(&["status", "--follow"]);
    let followed_for = started.elapsed();
    output(run).assert_code(0);
    follow.assert_code(0);
    let lines: Vec<&str> = follow.stdout.lines().filter(|l| l.get(8..9) == Some(" ")).map(|l| &l[9..]).collect();
    let deploy =
        lines.iter().position(|l| l.starts_with("ok   step \"deploy\"")).unwrap_or_else(|| panic!("{}", follow.stdout));
    let verify =
        lines.iter().position(|l| l.starts_with("ok   step \"verify\"")).unwrap_or_else(|| panic!("{}", follow.stdout));
    assert!(deploy < verify, "{}", follow.stdout);
    assert!(lines.last().unwrap().starts_with("run finished: exit 0 (done)"), "{}", follow.stdout);
    // It waited for the run rather than printing a snapshot.
    assert!(followed_for > Duration::from_millis(500), "{followed_for:?}\n{}", follow.stdout);
}

#[test]
fn status_follow_says_when_the_run_it_follows_died() {
    let db = StateDb::new();
    let shared = tempfile::tempdir().unwrap();
    let log = shared.path().join("target.log");
    let alice = Operator::new(&db, "alice", "laptop-a", &log, "30");
    let bea = Operator::new(&db, "bea", "laptop-b", &log, "0");

    let mut run = alice.spawn(&["deploy.rhai"]);
    wait_for_line(&log, "deploy-start");
    let follow = bea.spawn(&["status", "--follow"]);
    std::thread::sleep(Duration::from_millis(500));
    run.kill().unwrap();
    run.wait().unwrap();
    let follow = output(follow);
    follow.assert_code(0);
    assert!(follow.stdout.contains("stopped without finishing: no process holds target `local`"), "{}", follow.stdout);
}

#[test]
fn a_repl_and_the_report_work_on_the_shared_store() {
    let project = Project::on_postgres(crate::common::BASE_CONFIG);
    project.write("ops.rhai", "step \"ship the release\" { local::run(\"echo one >> log\"); }\n");
    project.golive(&["ops.rhai"]).assert_code(0);
    let mut repl = project.command(&["repl", "ops.rhai"]);
    repl.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = repl.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"local::run(\"echo by-hand >> log\").code\n").unwrap();
    let repl = output(child);
    repl.assert_code(0);
    assert_eq!(project.read("log"), "one\nby-hand\n");
    let db = project.state.as_ref().unwrap();
    assert_eq!(db.sql("SELECT count(*) FROM golive_runs"), "2");
    assert!(db.sql("SELECT entry::text FROM golive_entries").contains("local$ echo by-hand >> log"));
    assert!(!project.file(".golive/runs").exists(), "nothing is journaled on this machine's disk");

    let report = project.golive(&["report", "ops", "--format", "md", "--out", "out"]);
    report.assert_code(0);
    let markdown = project.read("out/report.md");
    assert!(
        markdown.contains("ship the release") && markdown.contains("echo one >> log"),
        "{markdown}\n{}",
        report.all()
    );
}

#[test]
fn a_state_url_with_a_password_or_an_unreachable_store_is_refused_with_what_to_do() {
    let project = Project::with_config(&format!(
        "{}\n[state]\nurl = \"postgres://golive:hunter2@127.0.0.1:15432/golive\"\n",
        crate::common::BASE_CONFIG
    ));
    project.write("ops.rhai", "step \"one\" { }\n");
    let run = project.golive(&["ops.rhai"]);
    run.assert_code(2);
    assert!(run.stderr.contains("golive.toml:"), "{}", run.stderr);
    assert!(run.stderr.contains("key `state.url` holds a password"), "{}", run.stderr);
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);

    // Nothing listens on port 1: the run does not start, and says where the store was looked for.
    let project = Project::new();
    project.write("ops.rhai", "step \"one\" { }\n");
    let unreachable = project
        .command(&["ops.rhai"])
        .env("GOLIVE_STATE_URL", "postgres://golive@127.0.0.1:1/golive")
        .output()
        .unwrap();
    let unreachable = Run::from(unreachable);
    unreachable.assert_code(1);
    assert!(
        unreachable.stderr.contains("cannot reach the state store postgres://golive@127.0.0.1:1/golive"),
        "{}",
        unreachable.stderr
    );
    assert!(unreachable.stderr.contains("nothing was run"), "{}", unreachable.stderr);
    assert!(!project.file(".golive/runs").exists());
}

#[test]
fn serve_on_another_machine_pushes_the_run_as_the_store_records_it() {
    use std::io::BufRead;
    let db = StateDb::new();
    let shared = tempfile::tempdir().unwrap();
    let log = shared.path().join("target.log");
    let alice = Operator::new(&db, "alice", "laptop-a", &log, "1.5");
    let bea = Operator::new(&db, "bea", "laptop-b", &log, "0");

    let run = alice.spawn(&["deploy.rhai"]);
    wait_for_line(&log, "deploy-start");
    let mut serve = bea
        .command(&["serve", "deploy", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(serve.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let url = first.split_whitespace().find(|w| w.starts_with("http://127.0.0.1:")).unwrap_or_default().to_string();
    assert!(!url.is_empty(), "serve said: {first}");
    let events = Command::new("curl").args(["-sN", "--max-time", "6", &format!("{url}events")]).output().unwrap();
    let _ = serve.kill();
    let _ = serve.wait();
    output(run).assert_code(0);
    let events = String::from_utf8_lossy(&events.stdout);
    let reports: Vec<&str> = events.split("event: report").skip(1).collect();
    assert!(reports.len() >= 2, "one report while the deploy ran, another when it ended:\n{events}");
    assert!(
        reports[0].contains("data-item='deploy'][data-state='running']")
            || reports[0].contains("data-state=\"running\""),
        "{}",
        reports[0]
    );
    assert!(reports.last().unwrap().contains("verify"), "{events}");
}

#[test]
fn the_store_is_migrated_once_even_by_golives_starting_together_and_a_newer_schema_is_refused() {
    let project = Project::on_postgres(crate::common::BASE_CONFIG);
    project.write("ops.rhai", "step \"one\" { }\n");
    // Four operators' first commands on a new database at the same instant.
    let children: Vec<Child> = (0..4)
        .map(|_| project.command(&["runs"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    for child in children {
        let run = output(child);
        run.assert_code(0);
        assert_eq!(run.stdout, "no runs\n", "{}", run.all());
    }
    let db = project.state.as_ref().unwrap();
    assert_eq!(db.sql("SELECT string_agg(version::text, ',') FROM golive_migrations"), "1");
    project.golive(&["ops.rhai"]).assert_code(0);
    assert_eq!(db.sql("SELECT count(*) FROM golive_migrations"), "1");

    db.sql("INSERT INTO golive_migrations (version) VALUES (99)");
    let refused = project.golive(&["ops.rhai"]);
    refused.assert_code(1);
    assert!(refused.stderr.contains("holds schema version 99, newer than this golive knows (1)"), "{}", refused.stderr);
    assert!(refused.stderr.contains("nothing was run"), "{}", refused.stderr);
    assert_eq!(db.sql("SELECT count(*) FROM golive_runs"), "1");
}

/// Packets of one connection dropped on the loopback in both directions (no FIN, no RST: a silent network
/// cut), until dropped.
struct SilentCut {
    port: String,
}

impl SilentCut {
    fn new(port: &str) -> SilentCut {
        for side in ["--sport", "--dport"] {
            let status = Command::new("iptables")
                .args(["-I", "INPUT", "-i", "lo", "-p", "tcp", side, port, "-j", "DROP"])
                .status();
            assert!(status.is_ok_and(|s| s.success()), "iptables could not drop the connection's packets");
        }
        SilentCut { port: port.to_string() }
    }
}

impl Drop for SilentCut {
    fn drop(&mut self) {
        for side in ["--sport", "--dport"] {
            let _ = Command::new("iptables")
                .args(["-D", "INPUT", "-i", "lo", "-p", "tcp", side, &self.port, "-j", "DROP"])
                .status();
        }
    }
}

/// The run lock is a lease: a silent cut between Alice's golive and the store (her machine's network gone,
/// her golive alive) frees the target for Bea within the lease's minute or two, without `--force`, and
/// Alice's run, once its step ends, writes nothing more: no later step of hers runs.
#[test]
fn a_silent_network_cut_frees_the_lock_within_the_lease_and_the_cut_run_writes_nothing_more() {
    assert!(is_root(), "dropping packets needs root (iptables)");
    let db = StateDb::new();
    let shared = tempfile::tempdir().unwrap();
    let (log, bea_log) = (shared.path().join("target.log"), shared.path().join("bea.log"));
    let alice = Operator::new(&db, "alice", "laptop-a", &log, "90");
    let bea = Operator::new(&db, "bea", "laptop-b", &bea_log, "0");

    let first = alice.spawn(&["deploy.rhai"]);
    wait_for_line(&log, "deploy-start");
    let port = db.sql(
        "SELECT client_port FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'golive'",
    );
    assert!(port.parse::<u16>().is_ok(), "one golive connection: {port:?}");
    let cut = SilentCut::new(&port);
    let at = Instant::now();
    let refused = bea.golive(&["deploy.rhai"]);
    refused.assert_code(3);
    assert!(refused.stderr.contains("target `local` is in use: "), "{}", refused.stderr);
    // The server gives up on the idle session after 20 s and 4 unanswered probes 10 s apart.
    let taken = loop {
        std::thread::sleep(Duration::from_secs(5));
        let run = bea.golive(&["deploy.rhai"]);
        if run.code != 3 {
            break run;
        }
        assert!(at.elapsed() < Duration::from_secs(150), "the lock was still held {:?} after the cut", at.elapsed());
    };
    taken.assert_code(0);
    eprintln!("the lock was free {:.0} s after the cut", at.elapsed().as_secs_f64());
    assert_eq!(count(&bea_log, "verify"), 1);

    // Alice's deploy ends on her machine; her golive has lost the store and stops there.
    let stopped = output(first);
    drop(cut);
    stopped.assert_code(1);
    assert!(stopped.stderr.contains("lost the state store"), "{}", stopped.all());
    assert_eq!(count(&log, "deploy-end"), 1);
    assert_eq!(count(&log, "verify"), 0, "a step ran after the store was lost");
}
