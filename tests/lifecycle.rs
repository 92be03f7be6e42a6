//! No path from red or undecided to green, and every write at most once: a model-based test of the run's
//! lifecycle. Generated runbooks (checks that pass, fail or flip once a fault is fixed, manual items,
//! gates with and without required lists, writes, idempotent or not, slow enough to be signalled, or
//! slower than their step's timeout until the fault is fixed, writes per host, three hosts running
//! together, checklists whose items are verdicts of their own, and short watches that stay quiet or end
//! critical) meet
//! generated operator sequences (run and resume with an answers file saying GO or NO-GO, `--yes`, no
//! answers at all, `--in-doubt`, `--reopen-gate`, SIGTERM, SIGHUP, SIGINT and SIGKILL at random moments,
//! the fault fixed between attempts), executed by the real binary. After every command an oracle that
//! reads only the journals and what the writes left behind (it shares no code with the controller)
//! checks the invariants DESIGN.md states:
//!
//! - exit 0 only if every check's last verdict passed (checklist items and watches included: no watch
//!   ended with an alert left open), every manual item was confirmed, and every gate holds an applied GO
//!   given by someone;
//! - a write after a gate happened only after a GO decision for that gate was journaled;
//! - a gate is journaled done only with a decision applied in it;
//! - no write was performed twice unless it is idempotent or an operator chose to run it again;
//! - `golive plan --live-reads` with a run's answers predicts its exit code (runs no signal stops, whose
//!   writes end within their timeouts: a plan performs no write).
//!
//! `GOLIVE_LIFECYCLE_SEQUENCES` sets how many sequences (default 2000), `GOLIVE_LIFECYCLE_WORKERS` how many
//! runners share them (default 6, each seeded from the fixed seed and its number); the seed is fixed
//! (`GOLIVE_LIFECYCLE_SEED` picks another). A failure is shrunk and printed with its runbook and commands.

use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde_json::Value;

use crate::common::Project;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Item {
    Pass,
    Fail,
    /// Fails until the operator fixes the fault (a file `fixed` appears).
    Flip,
    Manual,
    /// A gate weighing every check so far, or (`true`) only the first one.
    Gate(bool),
    Write {
        idempotent: bool,
        /// Slower than its step's timeout until the fault is fixed: stopped by the timeout after it wrote.
        slow: bool,
    },
    /// A write per host, the three hosts running together (`step "p" for h in [...] with #{ serial: 3 }`).
    Hosts {
        idempotent: bool,
    },
    /// A step asking a checklist of two items (`prompt::checklist`): each item a verdict of its own.
    Checklist,
    /// A short watch (`metrics::watch`, 150 ms) whose rule stays quiet or goes critical and stays so.
    Watch {
        critical: bool,
    },
}

/// The hosts of an `Item::Hosts`.
const HOSTS: [&str; 3] = ["a", "b", "c"];

/// The items of an `Item::Checklist`: the second is answered "no" by the NO-GO answers.
const CHECKLIST: [&str; 2] = ["x", "y"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Answers {
    /// No answers file, stdin closed: every question is unanswered.
    Nothing,
    /// Manual items yes, gates GO (by "Lead").
    Go,
    /// Manual items yes, gates NO-GO.
    NoGo,
    /// `--yes`: confirmations only.
    Yes,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Signal {
    Term,
    Hup,
    Int,
    Kill,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Run { answers: Answers, signal: Option<(Signal, u16)> },
    Resume { answers: Answers, in_doubt: Option<&'static str>, signal: Option<(Signal, u16)> },
    ReopenGate { answers: Answers },
    Fix,
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        Just(Item::Pass),
        Just(Item::Fail),
        Just(Item::Flip),
        Just(Item::Manual),
        any::<bool>().prop_map(Item::Gate),
        (any::<bool>(), proptest::bool::weighted(0.3)).prop_map(|(idempotent, slow)| Item::Write { idempotent, slow }),
        any::<bool>().prop_map(|idempotent| Item::Hosts { idempotent }),
        Just(Item::Checklist),
        any::<bool>().prop_map(|critical| Item::Watch { critical }),
    ]
}

fn answers() -> impl Strategy<Value = Answers> {
    prop_oneof![Just(Answers::Nothing), Just(Answers::Go), Just(Answers::NoGo), Just(Answers::Yes)]
}

fn signal() -> impl Strategy<Value = Option<(Signal, u16)>> {
    let kind = prop_oneof![Just(Signal::Term), Just(Signal::Hup), Just(Signal::Int), Just(Signal::Kill)];
    proptest::option::weighted(0.4, (kind, 5..300u16))
}

fn op() -> impl Strategy<Value = Op> {
    let in_doubt = proptest::option::of(prop_oneof![Just("rerun"), Just("mark-done"), Just("abort")]);
    // After the run that starts the sequence: its resumes (the invariants hold per run).
    prop_oneof![
        4 => (answers(), in_doubt, signal()).prop_map(|(answers, in_doubt, signal)| Op::Resume { answers, in_doubt, signal }),
        1 => answers().prop_map(|answers| Op::ReopenGate { answers }),
        1 => Just(Op::Fix),
    ]
}

fn name(i: usize, item: &Item) -> String {
    match item {
        Item::Pass | Item::Fail | Item::Flip => format!("c{i}"),
        Item::Manual => format!("m{i}"),
        Item::Gate(_) => format!("g{i}"),
        Item::Write { .. } => format!("w{i}"),
        Item::Hosts { .. } => format!("p{i}"),
        Item::Checklist => format!("l{i}"),
        Item::Watch { .. } => format!("v{i}"),
    }
}

fn script(items: &[Item]) -> String {
    let mut text = String::new();
    let mut first_check: Option<String> = None;
    for (i, item) in items.iter().enumerate() {
        let n = name(i, item);
        let line = match item {
            Item::Pass => format!("check \"{n}\" {{ true }}"),
            Item::Fail => format!("check \"{n}\" {{ false }}"),
            Item::Flip => format!(
                "check \"{n}\" {{ local::run(\"test -e fixed\", #{{ read_only: true, allow_fail: true }}).code == 0 }}"
            ),
            Item::Manual => format!("manual \"{n}\";"),
            Item::Gate(true) if first_check.is_some() => {
                format!("gate \"{n}\" with #{{ required: [\"{}\"] }};", first_check.clone().unwrap_or_default())
            }
            Item::Gate(_) => format!("gate \"{n}\";"),
            Item::Write { idempotent, slow: false } => format!(
                "step \"{n}\" with #{{ idempotent: {idempotent} }} {{ local::run(\"echo {n} >> writes.log; sleep 0.06\"); }}"
            ),
            Item::Watch { critical } => format!(
                "step \"{n}\" {{ metrics::watch(#{{ every: \"50ms\", \"for\": \"150ms\", rules: [#{{ name: \"cpu\", value: || {}, warn: 80.0, crit: 90.0 }}] }}); }}",
                if *critical { "95.0" } else { "10.0" }
            ),
            Item::Checklist => format!(
                "step \"{n}\" {{ prompt::checklist(\"{n}\", [{}]); }}",
                CHECKLIST.map(|c| format!("\"{c}\"")).join(", ")
            ),
            Item::Hosts { idempotent } => format!(
                "step \"{n}\" for h in [{}] with #{{ serial: 3, idempotent: {idempotent} }} {{ local::run(`echo {n}-${{h}} >> writes.log; sleep 0.06`); }}",
                HOSTS.map(|h| format!("\"{h}\"")).join(", ")
            ),
            Item::Write { idempotent, slow: true } => format!(
                "step \"{n}\" with #{{ idempotent: {idempotent}, timeout: \"120ms\" }} {{ local::run(\"echo {n} >> writes.log; if [ -e fixed ]; then sleep 0.02; else sleep 3; fi\"); }}"
            ),
        };
        if matches!(item, Item::Pass | Item::Fail | Item::Flip) && first_check.is_none() {
            first_check = Some(n);
        }
        text.push_str(&line);
        text.push('\n');
    }
    text
}

fn answers_file(items: &[Item], answers: Answers) -> Option<String> {
    let verdict = match answers {
        Answers::Go => "GO",
        Answers::NoGo => "NO-GO",
        Answers::Nothing | Answers::Yes => return None,
    };
    let mut text = String::new();
    for (i, item) in items.iter().enumerate() {
        match item {
            Item::Manual => text.push_str(&format!("\"m{i}\" = {{ answer = \"yes\", by = \"Ops\" }}\n")),
            Item::Checklist => {
                for (k, c) in CHECKLIST.iter().enumerate() {
                    let said = if k == 1 && answers == Answers::NoGo { "no" } else { "yes" };
                    text.push_str(&format!("\"l{i}: {c}\" = {{ answer = \"{said}\", by = \"Ops\" }}\n"));
                }
            }
            Item::Gate(_) => text.push_str(&format!("\"g{i}\" = {{ answer = \"{verdict}\", by = \"Lead\" }}\n")),
            _ => {}
        }
    }
    Some(text)
}

/// Runs one command of the sequence; its exit code (None when a signal ended it, or nothing ran).
fn execute(project: &Project, items: &[Item], op: &Op) -> Option<i32> {
    let (mut args, answers, signal): (Vec<String>, Answers, Option<(Signal, u16)>) = match op {
        Op::Fix => {
            project.write("fixed", "");
            return Some(0);
        }
        Op::Run { answers, signal } => (vec!["run".into(), "runbook.rhai".into()], *answers, *signal),
        Op::Resume { answers, in_doubt, signal } => {
            let mut args = vec!["resume".to_string()];
            if let Some(choice) = in_doubt {
                args.extend(["--in-doubt".to_string(), choice.to_string()]);
            }
            (args, *answers, *signal)
        }
        Op::ReopenGate { answers } => {
            let gate =
                items.iter().enumerate().find(|(_, i)| matches!(i, Item::Gate(_))).map(|(i, item)| name(i, item));
            // No gate to reopen: nothing runs.
            let gate = gate?;
            (vec!["resume".into(), "--reopen-gate".into(), gate], *answers, None)
        }
    };
    give_answers(project, items, answers, &mut args);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = project
        .command(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("golive starts");
    if let Some((signal, after)) = signal {
        std::thread::sleep(Duration::from_millis(after.into()));
        let number = match signal {
            Signal::Term => libc::SIGTERM,
            Signal::Hup => libc::SIGHUP,
            Signal::Int => libc::SIGINT,
            Signal::Kill => libc::SIGKILL,
        };
        // SAFETY: a plain kill(2) of the child this test started.
        unsafe { libc::kill(child.id() as libc::pid_t, number) };
    }
    let status = child.wait().expect("golive ends");
    status.code()
}

/// The options that give a command these answers, the same for a run, a resume and a plan: `--yes`, or an
/// answers file written into the project.
fn give_answers(project: &Project, items: &[Item], answers: Answers, args: &mut Vec<String>) {
    match (answers, answers_file(items, answers)) {
        (Answers::Yes, _) => args.push("--yes".into()),
        (_, Some(text)) => {
            project.write("answers.toml", &text);
            args.extend(["--answers".into(), "answers.toml".into()]);
        }
        _ => {}
    }
}

/// What `golive plan --live-reads` with the run's answers predicts for a run that no signal will stop,
/// before it starts. None when there is nothing to compare: a resume, a signal, or a write slower than its
/// timeout (a plan performs no write, so it cannot see one time out).
fn predicted_code(project: &Project, items: &[Item], op: &Op) -> Option<Option<i32>> {
    let Op::Run { answers, signal: None } = op else { return None };
    if items.iter().any(|i| matches!(i, Item::Write { slow: true, .. })) {
        return None;
    }
    let mut args = vec!["plan".to_string(), "runbook.rhai".into(), "--live-reads".into()];
    give_answers(project, items, *answers, &mut args);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Some(Some(project.golive(&args).code))
}

/// Whether the newest verdict named `name` in a run's entries passed (a step's own, or one beside it).
fn last_verdict(run: &[Value], name: &str) -> Option<bool> {
    run.iter().rev().find_map(|e| {
        let check = e.get("check")?;
        (check.get("name")?.as_str()? == name).then(|| check.get("ok").and_then(Value::as_bool)).flatten()
    })
}

fn journal(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// The invariants, from the journals and writes.log alone. `reran` says an operator chose to run steps in
/// doubt again.
fn violations(project: &Project, items: &[Item], last: (&Op, Option<i32>), reran: bool) -> Vec<String> {
    let mut found = Vec::new();
    let journals = project.journals();
    let entries: Vec<Vec<Value>> = journals.iter().map(|p| journal(p)).collect();
    let writes = project.read("writes.log");
    let field = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    // Whether these entries leave `gate` holding a GO, applied and given by someone.
    let holds_go = |entries: &[Value], gate: &str| {
        let mut go = false;
        for e in entries {
            match field(e, "event").as_str() {
                "decision" if field(e, "gate") == gate => {
                    go = field(e, "verdict") == "GO" && !field(e, "by").is_empty()
                }
                "gate_reopened" if field(e, "gate") == gate => go = false,
                _ => {}
            }
        }
        go
    };
    // ... before `step` first started, in the same run.
    let go_before = |run: &[Value], gate: &str, step: &str| {
        let start = run.iter().position(|e| field(e, "event") == "step_started" && field(e, "step") == step);
        holds_go(&run[..start.unwrap_or(run.len())], gate)
    };
    for (i, item) in items.iter().enumerate() {
        // Each write as writes.log shows it, with the journal's name for the step (or host item) doing it.
        let n = name(i, item);
        let (idempotent, performed): (bool, Vec<(String, String)>) = match item {
            Item::Write { idempotent, .. } => (*idempotent, vec![(n.clone(), n.clone())]),
            Item::Hosts { idempotent } => {
                (*idempotent, HOSTS.iter().map(|h| (format!("{n}-{h}"), format!("{n} [{h}]"))).collect())
            }
            _ => continue,
        };
        for (line, step) in performed {
            let count = writes.lines().filter(|l| *l == line).count();
            if count > 1 && !idempotent && !reran {
                found.push(format!("write \"{line}\" was performed {count} times"));
            }
            if count > 0 {
                for (g, gate) in items[..i].iter().enumerate().filter(|(_, it)| matches!(it, Item::Gate(_))) {
                    let gate = name(g, gate);
                    let decided = entries.iter().any(|run| go_before(run, &gate, &step));
                    if !decided {
                        found.push(format!(
                            "write \"{line}\" happened with no GO journaled for gate \"{gate}\" before it"
                        ));
                    }
                }
            }
        }
    }
    // A gate is journaled done only with a decision applied in it (an undecided one is failed, asked again).
    for run in &entries {
        let mut open_gate: Option<(String, bool)> = None;
        for e in run {
            match field(e, "event").as_str() {
                "step_started" if field(e, "kind") == "gate" => open_gate = Some((field(e, "step"), false)),
                "decision" => {
                    if let Some((gate, decided)) = open_gate.as_mut()
                        && *gate == field(e, "gate")
                    {
                        *decided = true;
                    }
                }
                "step_finished" => {
                    if let Some((gate, decided)) = open_gate.take_if(|(gate, _)| *gate == field(e, "step"))
                        && field(e, "status") == "done"
                        && !decided
                    {
                        found.push(format!("gate \"{gate}\" was journaled done with no decision applied in it"));
                    }
                }
                _ => {}
            }
        }
    }
    if last.1 == Some(0) && !matches!(last.0, Op::Fix) {
        let Some(run) = entries.last() else {
            found.push("exit 0 with no journal".into());
            return found;
        };
        let last_finished = |step: &str| {
            run.iter().rev().find(|e| field(e, "event") == "step_finished" && field(e, "step") == step).cloned()
        };
        for (i, item) in items.iter().enumerate() {
            let n = name(i, item);
            // What the model knows, whatever golive journaled: a check that always fails and a watch that
            // ends critical never let a run end green.
            match item {
                Item::Fail => found.push(format!("exit 0 with \"{n}\", a check that always fails")),
                Item::Watch { critical: true } => found.push(format!("exit 0 with \"{n}\", a watch ending critical")),
                _ => {}
            }
            match item {
                Item::Pass | Item::Fail | Item::Flip | Item::Manual => {
                    let ok = last_finished(&n)
                        .and_then(|e| e.get("check").and_then(|c| c.get("ok")).and_then(Value::as_bool));
                    if ok != Some(true) {
                        found.push(format!("exit 0 but \"{n}\"'s last verdict is {ok:?}"));
                    }
                }
                Item::Gate(_) => {
                    if !holds_go(run, &n) {
                        found.push(format!("exit 0 but gate \"{n}\" holds no applied GO"));
                    }
                }
                Item::Write { .. } => {
                    let done = last_finished(&n).is_some_and(|e| field(&e, "status") == "done");
                    if !done {
                        found.push(format!("exit 0 but write \"{n}\" never finished"));
                    }
                }
                Item::Watch { .. } => {
                    // The watch's own verdict: no alert left open at its end.
                    let name = format!("{n}: no alert left open");
                    let ok = last_verdict(run, &name);
                    if ok != Some(true) {
                        found.push(format!("exit 0 but watch \"{n}\"'s last verdict is {ok:?}"));
                    }
                }
                Item::Checklist => {
                    // Each item's newest verdict, and the step that asked them done.
                    for c in CHECKLIST {
                        let item = format!("{n}: {c}");
                        let ok = last_verdict(run, &item);
                        if ok != Some(true) {
                            found.push(format!("exit 0 but checklist item \"{item}\"'s last verdict is {ok:?}"));
                        }
                    }
                    if last_finished(&n).is_none_or(|e| field(&e, "status") != "done") {
                        found.push(format!("exit 0 but checklist step \"{n}\" never finished"));
                    }
                }
                Item::Hosts { .. } => {
                    for h in HOSTS {
                        let step = format!("{n} [{h}]");
                        if last_finished(&step).is_none_or(|e| field(&e, "status") != "done") {
                            found.push(format!("exit 0 but \"{step}\" never finished"));
                        }
                    }
                }
            }
        }
    }
    found
}

fn check_sequence(items: &[Item], ops: &[Op]) -> Result<(), String> {
    let project = Project::new();
    project.write("runbook.rhai", &script(items));
    let mut reran = false;
    let mut log = Vec::new();
    for op in ops {
        reran |= matches!(op, Op::Resume { in_doubt: Some("rerun"), .. });
        let predicted = predicted_code(&project, items, op);
        let code = execute(&project, items, op);
        log.push(format!("{op:?} -> {code:?}"));
        let mut found = violations(&project, items, (op, code), reran);
        if let Some(predicted) = predicted
            && code.is_some()
            && predicted != code
        {
            found.push(format!(
                "`golive plan` with the same answers predicted exit {predicted:?}, the run gave {code:?}"
            ));
        }
        if !found.is_empty() {
            let journals: Vec<String> =
                project.journals().iter().map(|p| std::fs::read_to_string(p).unwrap_or_default()).collect();
            return Err(format!(
                "{}\nrunbook:\n{}commands:\n  {}\nwrites.log:\n{}\nlast journal:\n{}",
                found.join("\n"),
                script(items),
                log.join("\n  "),
                project.read("writes.log"),
                journals.last().cloned().unwrap_or_default()
            ));
        }
    }
    Ok(())
}

#[test]
fn no_sequence_of_runs_answers_signals_and_resumes_turns_red_or_undecided_green_or_writes_twice() {
    let number = |name: &str, default: u32| std::env::var(name).ok().and_then(|n| n.parse().ok()).unwrap_or(default);
    let sequences = number("GOLIVE_LIFECYCLE_SEQUENCES", 2000);
    // The sequences mostly wait (writes, signals, watches): several runners share the cores, each with a
    // seed of its own derived from the fixed one.
    let workers = number("GOLIVE_LIFECYCLE_WORKERS", 6).max(1);
    let seed = std::env::var("GOLIVE_LIFECYCLE_SEED").unwrap_or_else(|_| "golive lifecycle 1".into());
    // Its runners keep a core busy: never beside a test bed test that measures the host's CPU or a page's
    // timings.
    let _bed = crate::common::testbed::lock();
    let started = std::time::Instant::now();
    let failures: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..workers)
            .map(|worker| {
                let cases = sequences / workers + u32::from(worker < sequences % workers);
                let seed = format!("{seed} / worker {worker}");
                scope.spawn(move || run_sequences(cases, &seed).err().map(|why| format!("seed \"{seed}\": {why}")))
            })
            .collect();
        runs.into_iter().filter_map(|run| run.join().expect("a runner panicked")).collect()
    });
    eprintln!("lifecycle: {sequences} sequences ({workers} runners) in {:.1} s", started.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `cases` generated sequences from `seed` (a text: its SHA-256 seeds the generator); the shrunk failure.
fn run_sequences(cases: u32, seed: &str) -> Result<(), String> {
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 200, ..Config::default() };
    let digest = golive::digest::sha256_hex(seed.as_bytes());
    let bytes: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&digest[2 * i..2 * i + 2], 16).expect("hex")).collect();
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let strategy =
        (vec(item(), 1..6), answers(), signal(), vec(op(), 0..6)).prop_map(|(items, answers, signal, rest)| {
            let mut ops = vec![Op::Run { answers, signal }];
            ops.extend(rest);
            (items, ops)
        });
    match runner.run(&strategy, |(items, ops)| check_sequence(&items, &ops).map_err(TestCaseError::fail)) {
        Ok(()) => Ok(()),
        Err(TestError::Fail(why, (items, ops))) => {
            Err(format!("an invariant broke (shrunk): {why}\nitems {items:?}\nops {ops:?}"))
        }
        Err(TestError::Abort(why)) => Err(format!("aborted: {why}")),
    }
}

/// Found by the plan-versus-run invariant: a plan whose checklist answers were all assumed said "the run
/// would complete (exit 0)" where the run, with nobody to answer, exits 1. Checklist items resting on an
/// assumed answer are unknown, and a plan given the run's answers file follows them.
#[test]
fn a_plan_never_passes_a_checklist_nobody_answered_and_follows_the_runs_answers() {
    for answers in [Answers::Nothing, Answers::Go, Answers::NoGo, Answers::Yes] {
        check_sequence(&[Item::Checklist], &[Op::Run { answers, signal: None }]).unwrap();
    }
    let project = Project::new();
    project.write("runbook.rhai", &script(&[Item::Checklist]));
    let plan = project.golive(&["plan", "runbook.rhai"]);
    assert_eq!(plan.code, 1, "{}", plan.stdout);
    assert!(plan.stdout.contains("outcome: unknown: 2 check(s) rest on assumed reads"), "{}", plan.stdout);
}

/// `golive plan --answers FILE` takes a GO written before the evidence as the run does: not applied.
#[test]
fn a_plan_with_the_runs_answers_refuses_a_go_written_before_a_no_go_board() {
    let items = [Item::Fail, Item::Gate(false), Item::Write { idempotent: false, slow: false }];
    let project = Project::new();
    project.write("runbook.rhai", &script(&items));
    project.write("answers.toml", &answers_file(&items, Answers::Go).unwrap_or_default());
    let plan = project.golive(&["plan", "runbook.rhai", "--answers", "answers.toml"]);
    assert_eq!(plan.code, 1, "{}", plan.stdout);
    assert!(
        plan.stdout.contains("the GO given by Lead (answers file) was written before this evidence: it is not applied"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("step \"w2\""), "the plan went past the gate:\n{}", plan.stdout);
    check_sequence(&items, &[Op::Run { answers: Answers::Go, signal: None }]).unwrap();
}

/// The six-line runbook of the issue: a gate whose board says NO-GO refuses a GO written beforehand, and a
/// resume with nobody to ask stops there instead of opening the doors.
#[test]
fn resume_never_walks_past_a_gate_nobody_decided() {
    let items = [Item::Fail, Item::Gate(false), Item::Write { idempotent: false, slow: false }];
    let ops = [
        Op::Run { answers: Answers::Go, signal: None },
        Op::Resume { answers: Answers::Nothing, in_doubt: None, signal: None },
        Op::Resume { answers: Answers::Go, in_doubt: None, signal: None },
    ];
    check_sequence(&items, &ops).unwrap();
}

/// A write stopped by SIGTERM after its command acted is in doubt on resume, as after SIGKILL.
#[test]
fn a_write_stopped_by_sigterm_is_not_run_again_by_resume_without_asking() {
    for signal in [Signal::Term, Signal::Hup, Signal::Int] {
        let items = [Item::Write { idempotent: false, slow: false }];
        let ops = [
            Op::Run { answers: Answers::Go, signal: Some((signal, 150)) },
            Op::Resume { answers: Answers::Go, in_doubt: None, signal: None },
        ];
        check_sequence(&items, &ops).unwrap_or_else(|e| panic!("{signal:?}: {e}"));
    }
}

/// Lines a watched log flags fail the step that watched it, in the run, its resume and its plan.
#[test]
fn flagged_log_lines_fail_the_step_that_watched_them_in_run_resume_and_plan() {
    let project = Project::new();
    project.write(
        "soft.rhai",
        r#"step "application logs, live for a while" {
    local::run("echo started; echo 'PHP Fatal error: SQLSTATE[HY000] [2002]'; echo served", #{ read_only: true, stream: #{ fatal: "PHP Fatal" } });
}
"#,
    );
    let run = project.golive(&["soft.rhai"]);
    run.assert_code(1);
    assert!(run.stderr.contains("<- FLAGGED: PHP fatal error, fatal"), "{}", run.stderr);
    assert!(
        run.stderr.contains("1 flagged line(s): PHP Fatal error: SQLSTATE[HY000] [2002] (PHP fatal error, fatal)"),
        "{}",
        run.stderr
    );
    let resumed = project.golive(&["resume"]);
    assert_ne!(resumed.code, 0, "resume turned the flagged lines green:\n{}", resumed.all());
    project.write(
        "fatal.toml",
        "[[exec]]\nmatch = \"echo started\"\nstdout = \"started\\nPHP Fatal error: boom\\nserved\\n\"\n",
    );
    let plan = project.golive(&["plan", "soft.rhai", "--scenario", "fatal.toml"]);
    plan.assert_code(1);
    assert!(
        plan.stdout.contains("1 flagged line(s): PHP Fatal error: boom (PHP fatal error, fatal)"),
        "{}",
        plan.stdout
    );
    // A check that watched the lines fails too, and the script reads the same verdict.
    project.write(
        "watched.rhai",
        r#"let c = check "no fatal errors" {
    local::run("echo 'PHP Fatal error: boom'", #{ read_only: true, stream: #{ fatal: "PHP Fatal" } });
    true
};
print(c.ok);
"#,
    );
    let check = project.golive(&["watched.rhai"]);
    check.assert_code(1);
    assert_eq!(check.stdout, "false\n");
    assert!(check.stderr.contains("FAIL  check \"no fatal errors\""), "{}", check.stderr);
}

/// A write whose step timeout stopped it may have acted: resume asks, as after a signal or SIGKILL.
#[test]
fn a_write_stopped_by_its_step_timeout_is_in_doubt_on_resume() {
    let project = Project::new();
    project.write(
        "slow.rhai",
        "step \"w\" with #{ timeout: \"300ms\" } { local::run(\"echo w >> writes.log; sleep 3\"); }\n",
    );
    project.golive(&["slow.rhai"]).assert_code(1);
    assert_eq!(project.read("writes.log"), "w\n");
    let resumed = project.golive(&["resume"]);
    resumed.assert_code(1);
    assert!(resumed.stderr.contains("\"w\" is in doubt"), "{}", resumed.stderr);
    assert_eq!(project.read("writes.log"), "w\n", "resume ran the timed-out write again without asking");
    project.golive(&["resume", "--in-doubt", "mark-done"]).assert_code(0);
    assert_eq!(project.read("writes.log"), "w\n");
}

/// A step value nested deeper than a journal can read back (an untrusted JSON answer can be) is kept as
/// text: the journal stays readable, and status, runs and resume work for this run and every other.
#[test]
fn a_step_value_nested_too_deep_is_journaled_as_text_and_every_journal_reads_back() {
    let project = Project::new();
    project.write(
        "deep.rhai",
        "let deep = step \"answer\" { local::run(\"true\", #{ read_only: true }); let v = []; for i in 0..200 { v = [v]; } v };\nstep \"next\" { local::run(\"test -e ok\"); }\nprint(type_of(deep));\n",
    );
    project.golive(&["-q", "deep.rhai"]).assert_code(1);
    project.golive(&["runs"]).assert_code(0);
    project.golive(&["status"]).assert_code(0);
    project.write("ok", "");
    let resumed = project.golive(&["-q", "resume"]);
    resumed.assert_code(0);
    assert_eq!(resumed.stdout, "string\n", "the stored value comes back as its text");
}

/// An endless loop outside any step, or anywhere in a plan, ends at golive.toml's `script_budget` with an
/// error naming the line (exit 2), in a run, a plan and `golive test`; inside a run's step the step's own
/// timeout bounds it instead.
#[test]
fn an_endless_loop_outside_steps_or_in_a_plan_ends_at_the_script_budget() {
    let project = Project::with_config(&format!("script_budget = \"1s\"\n{}", crate::common::BASE_CONFIG));
    project.write("spin.rhai", "step \"before\" { 1 }\nlet i = 0;\nloop { i += 1; }\n");
    // Killed after 30 s, so a regression fails here instead of hanging the suite.
    let bounded = |args: &[&str]| -> (i32, String) {
        let mut child = project
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > std::time::Duration::from_secs(30) {
                child.kill().unwrap();
                panic!("{args:?} was still running after 30 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + String::from_utf8_lossy(&out.stderr).as_ref();
        (out.status.code().unwrap_or(-1), text)
    };
    for args in [vec!["spin.rhai"], vec!["plan", "spin.rhai"], vec!["test", "spin.rhai"]] {
        let (code, text) = bounded(&args);
        assert!(text.contains("script_budget") && text.contains("spin.rhai:3"), "{args:?}: {text}");
        assert_ne!(code, 0, "{args:?}");
    }
    // In a step of a plan, too (a plan computes, it never waits).
    project.write("inside.rhai", "step \"spin\" { loop { } }\n");
    let (_, text) = bounded(&["plan", "inside.rhai"]);
    assert!(text.contains("script_budget"), "{text}");
    // In a run's step the step's timeout is what ends it, and the run says so.
    project.write("timed.rhai", "step \"spin\" with #{ timeout: \"2s\" } { loop { } }\n");
    let run = project.golive(&["timed.rhai"]);
    run.assert_code(1);
    assert!(run.stderr.contains("timed out after 2.0s") && !run.all().contains("script_budget"), "{}", run.all());
}

/// Several items of a batch in doubt after SIGKILL: the refusal names every one of them, `--in-doubt`
/// names every step it applies to before it acts, and an answers file settles each by its own name.
#[test]
fn every_step_in_doubt_is_named_and_each_can_be_settled_on_its_own() {
    let project = Project::new();
    project.write(
        "w.rhai",
        "step \"w\" for h in [\"a\", \"b\"] with #{ serial: 2 } { local::run(`echo ${h} >> writes.log; sleep 30`); }\n",
    );
    let mut child = project.command(&["w.rhai"]).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while project.read("writes.log").lines().count() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let refused = project.golive(&["resume"]);
    refused.assert_code(1);
    assert!(refused.stderr.contains("also in doubt: step \"w [b]\""), "{}", refused.stderr);
    // One answered in the file by its own name, the other not: only the named one is settled.
    project.write("doubt.toml", "\"in doubt: w [a]\" = { answer = \"done\", by = \"Ana (checked web a)\" }\n");
    let half = project.golive(&["resume", "--answers", "doubt.toml"]);
    half.assert_code(1);
    assert!(half.stderr.contains("step \"w [a]\"  in doubt; marked done"), "{}", half.stderr);
    assert!(half.stderr.contains("step \"w [b]\" is in doubt"), "{}", half.stderr);
    assert!(
        !half.stderr.contains("also in doubt: step \"w [a]\""),
        "a settled step is named as in doubt:\n{}",
        half.stderr
    );
    let all = project.golive(&["resume", "--in-doubt", "mark-done"]);
    all.assert_code(0);
    assert!(
        all.stderr.contains("--in-doubt mark-done applies to every step in doubt: step \"w [b]\""),
        "{}",
        all.stderr
    );
    assert_eq!(project.read("writes.log").lines().count(), 2, "nothing ran twice");
}
