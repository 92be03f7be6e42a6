//! Scripts mean what they say: a per-host step's body sees the values the script gave its variables, in
//! runs and plans, one item at a time or many together, and a handle its items share works.

use crate::common::{BASE_CONFIG, Project, plan_prints};

#[test]
fn outer_variables_keep_their_values_inside_per_host_steps_in_runs_and_plans() {
    let project = Project::new();
    project.write(
        "outer.rhai",
        r#"let db_target = "local";
let wrong = "redis1";
let ports = #{ a: 5432, b: 6379 };
let hosts = ["a", "b"];
step "act" for h in hosts { print(`act ${h} on ${db_target} port ${ports[h]}`); }
step "batch" for h in hosts with #{ serial: 2 } { print(`batch ${h} on ${db_target}`); }
check "each" for h in hosts { print(`check ${h} sees ${wrong}`); true }
phase "restore" {
    let source = "backup-1";
    let other = "backup-2";
    step "restore" for h in hosts { let mine = `${h}-own`; print(`restore ${source} on ${h} (${mine})`); }
}
"#,
    );
    let expected = "act a on local port 5432\nact b on local port 6379\nbatch a on local\nbatch b on local\n\
                    check a sees redis1\ncheck b sees redis1\nrestore backup-1 on a (a-own)\nrestore backup-1 on b (b-own)\n";
    let run = project.golive(&["-q", "outer.rhai"]);
    run.assert_code(0);
    assert_eq!(run.stdout, expected);
    let plan = project.golive(&["plan", "outer.rhai"]);
    plan.assert_code(0);
    assert_eq!(plan_prints(&plan.stdout), expected);
}

/// The Docker engine and docker-compose (v1) on this machine: `ps` of a project with no containers.
#[test]
fn a_compose_handle_shared_by_items_running_together_works() {
    let project =
        Project::with_config(&BASE_CONFIG.replace("kind = \"local\"\n", "kind = \"local\"\nproject_dir = \"app\"\n"));
    project.write("app/docker-compose.yml", "version: \"3\"\nservices:\n  web:\n    image: golive-none:absent\n");
    project.write(
        "rolling.rhai",
        r#"let app = docker::compose(target());
let seen = [];
step "rolling" for h in ["a", "b", "c"] with #{ serial: 3 } { let n = app.ps().len(); seen.push(`${h}:${n}`); }
// The items end in any order.
seen.sort();
print(seen);
"#,
    );
    let run = project.golive(&["-q", "rolling.rhai"]);
    run.assert_code(0);
    assert_eq!(run.stdout, "[\"a:0\", \"b:0\", \"c:0\"]\n");
}

/// A value the items change and call an effect on at once cannot be shared safely: the error says what to do.
#[test]
fn a_value_items_running_together_both_change_and_wait_in_is_refused_with_the_way_out() {
    let project =
        Project::with_config(&BASE_CONFIG.replace("kind = \"local\"\n", "kind = \"local\"\nproject_dir = \"app\"\n"));
    project.write("app/docker-compose.yml", "version: \"3\"\nservices:\n  web:\n    image: golive-none:absent\n");
    project.write(
        "both.rhai",
        r#"let ctx = #{ app: docker::compose(target()), seen: [] };
step "rolling" for h in ["a", "b"] with #{ serial: 2 } { ctx.seen.push(ctx.app.ps().len()); }
"#,
    );
    let run = project.golive(&["-q", "both.rhai"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("copy it in the body (`let v = v;`) or run the items one at a time (serial: 1)"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Data race"), "{}", run.stderr);
    project.write(
        "copied.rhai",
        r#"let ctx = #{ app: docker::compose(target()), seen: [] };
step "rolling" for h in ["a", "b"] with #{ serial: 2 } { let app = ctx.app; ctx.seen.push(app.ps().len()); }
print(ctx.seen);
"#,
    );
    let run = project.golive(&["-q", "copied.rhai"]);
    run.assert_code(0);
    assert_eq!(run.stdout, "[0, 0]\n");
}

/// `--live-reads` performs read-only effects for real: they get the real secret, and nothing shows it.
#[test]
fn live_reads_send_the_real_secret_and_every_output_masks_it() {
    let project = Project::new();
    project.write(".env", "TOKEN=hunter2-secret-value\n");
    project.write(
        "auth.rhai",
        r#"check "token accepted" {
    let r = local::exec(["sh", "-c", "printf %s \"$1\" | wc -c; printf '%s\n' \"$1\"", "sh", secret("TOKEN")], #{ read_only: true });
    print(r.stdout);
    #{ ok: r.stdout.starts_with("20"), actual: r.stdout, target: "20 characters" }
}
"#,
    );
    let plan = project.golive(&["plan", "auth.rhai", "--live-reads"]);
    plan.assert_code(0);
    assert!(plan.stdout.contains("| 20\n") && plan.stdout.contains("<secret:TOKEN>"), "{}", plan.stdout);
    assert!(!plan.all().contains("hunter2"), "{}", plan.all());
    // Without live reads the read is assumed, never sent with a placeholder.
    let assumed = project.golive(&["plan", "auth.rhai"]);
    assert!(!assumed.all().contains("hunter2"), "{}", assumed.all());
}

/// The author's words are checked before anything runs: a gate's required names, and option values.
#[test]
fn golive_check_refuses_required_names_that_name_no_check_and_option_values_a_step_cannot_use() {
    let project = Project::new();
    project.write(
        "words.rhai",
        r#"check "disk" for h in ["a", "b"] { true }
check "memory" { true }
step "slow" with #{ timeout: "ten minutes" } { }
phase "x" with #{ budget: "soon" } { }
gate "Go/No-Go" with #{ required: ["disk", "disk [a]", "memroy", "later"] };
check "later" { true }
"#,
    );
    let check = project.golive(&["check", "words.rhai"]);
    check.assert_code(2);
    let all = check.all();
    let errors: Vec<&str> = all.lines().filter(|l| l.starts_with("Error: ")).collect();
    assert_eq!(
        errors,
        [
            "Error: step \"slow\": `timeout`: `ten minutes` is not a duration (expected number at 0); write it like \"500ms\", \"30s\", \"10m\" or \"1h 30m\"",
            "Error: phase \"x\": `budget`: `soon` is not a duration (expected number at 0); write it like \"500ms\", \"30s\", \"10m\" or \"1h 30m\"",
            "Error: gate \"Go/No-Go\" requires \"memroy\", which names no check, manual item or step before it; did you mean `memory`?",
            "Error: gate \"Go/No-Go\" requires \"later\", which names no check, manual item or step before it (it comes after the gate: a gate weighs only what ran before it)",
        ],
        "{}",
        check.all()
    );
    assert!(check.all().contains("words.rhai:3:30"), "{}", check.all());
    // A value computed at run time is judged when the step starts, before its body runs.
    project.write(
        "late.rhai",
        "let t = \"ten minutes\";\nstep \"slow\" with #{ timeout: t } { local::run(\"touch ran\"); }\n",
    );
    let run = project.golive(&["-q", "late.rhai"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("bad options for step \"slow\": timeout: `ten minutes` is not a duration"),
        "{}",
        run.stderr
    );
    assert!(!project.file("ran").exists());
}

/// A per-host check is required by its name: all its items.
#[test]
fn a_gate_requires_a_per_host_check_by_its_name_meaning_all_its_items() {
    let project = Project::new();
    project.write("go.toml", "\"Go/No-Go\" = { answer = \"GO\", by = \"Lead\" }\n");
    project.write(
        "gate.rhai",
        r#"check "disk" for h in ["a", "b"] with #{ max_fail: 2 } { h != config("broken", "none") }
gate "Go/No-Go" with #{ required: ["disk"] };
step "open" { local::run("touch opened"); }
"#,
    );
    let run = project.golive(&["gate.rhai", "--answers", "go.toml"]);
    run.assert_code(0);
    assert!(project.file("opened").exists());
    assert!(!run.all().contains("not checked"), "{}", run.all());
    // One item failing is the required check failing: the board recommends NO-GO and the GO is not applied.
    let run = project.golive(&["gate.rhai", "--answers", "go.toml", "--var", "broken=b"]);
    run.assert_code(1);
    assert!(run.all().contains("recommends NO-GO (\"disk [b]\" failed)"), "{}", run.all());
}

/// `--var` values are part of what a run means: a key nothing reads is refused, the values are journaled,
/// a reviewed plan binds them, and a resume goes on with those the run started with.
#[test]
fn var_values_are_checked_journaled_bound_by_a_reviewed_plan_and_kept_by_resume() {
    let project = Project::new();
    project.write(
        "deploy.rhai",
        r#"step "deploy" { local::run(`echo ${config("release", "1.0.0")} >> deployed`); }
step "verify" { local::run("test -e verified"); }
step "announce" { local::run(`echo ${config("release", "1.0.0")} >> announced`); }
"#,
    );
    let typo = project.golive(&["deploy.rhai", "--var", "relase=2.0.0"]);
    typo.assert_code(2);
    assert_eq!(
        typo.stderr.trim(),
        "error: --var relase: no script or stdlib module reads `relase` and golive.toml does not define it; did you mean `release`?"
    );
    assert!(!project.file("deployed").exists());

    // A reviewed plan binds the values it was made with.
    project.golive(&["plan", "deploy.rhai", "-o", "reviewed.json"]).assert_code(0);
    let other = project.golive(&["run", "deploy.rhai", "--plan", "reviewed.json", "--var", "release=2.0.0"]);
    other.assert_code(2);
    assert!(other.stderr.contains("this run has --var release=\"2.0.0\", the plan had none"), "{}", other.stderr);
    assert!(!project.file("deployed").exists());

    // Journaled with the run, and kept by its resume.
    let first = project.golive(&["deploy.rhai", "--var", "release=2.0.0"]);
    first.assert_code(1);
    let journal = std::fs::read_to_string(&project.journals()[0]).unwrap();
    let started: serde_json::Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    assert_eq!(started["vars"], serde_json::json!({ "release": "\"2.0.0\"" }), "{journal}");
    project.write("verified", "");
    let refused = project.golive(&["resume", "--var", "release=3.0.0"]);
    refused.assert_code(2);
    assert!(refused.stderr.contains("started with --var release=\"2.0.0\""), "{}", refused.stderr);
    project.golive(&["resume"]).assert_code(0);
    assert_eq!(project.read("deployed"), "2.0.0\n");
    assert_eq!(project.read("announced"), "2.0.0\n");
}

/// Reviewing what production will get is what a plan is for: it goes on past unknown required checks and
/// the undecided gate, every later step marked as conditional, and its outcome stays unknown.
#[test]
fn the_plan_of_saturday_on_production_lists_every_step_to_the_soft_launch_with_its_conditions() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_golive"))
        .args(["plan", "scripts/saturday.rhai", "--target", "prod"])
        .current_dir(root)
        .env("NO_COLOR", "1")
        .env_remove("GOLIVE_STDLIB")
        .output()
        .unwrap();
    let plan = crate::common::Run::from(out);
    plan.assert_code(1);
    let steps: Vec<&str> = plan
        .stdout
        .lines()
        .filter(|l| l.starts_with("phase ") || l.starts_with("  step ") || l.starts_with("  gate "))
        .collect();
    let at = |needle: &str| {
        steps.iter().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle} missing:\n{}", plan.stdout))
    };
    let order = [
        "step \"maintenance on\"",
        "step \"deploy code\"",
        "step \"maintenance off\"",
        "phase \"Validation\"",
        "gate \"Go/No-Go\"",
        "phase \"Soft Launch\"",
        "step \"application logs, live for a while\"",
    ];
    let places: Vec<usize> = order.iter().map(|n| at(n)).collect();
    assert!(places.windows(2).all(|w| w[0] < w[1]), "out of order: {places:?}\n{}", plan.stdout);
    // Nothing is touched unless Friday's journal says it passed: a plan cannot read it, so it is a condition.
    assert!(
        steps[at("step \"maintenance on\"")]
            .ends_with("(only if required check \"Pre-Go-Live (Friday) passed\" passes)"),
        "{}",
        plan.stdout
    );
    assert!(
        steps[at("step \"deploy code\"")].contains(
            "(only if required check \"Pre-Go-Live (Friday) passed\" passes, required check \"backup verified\" passes, required check \"rollback image kept (7.1)\" passes, step \"data snapshot before the deploy\" succeeds)"
        ),
        "{}",
        plan.stdout
    );
    assert!(steps[at("application logs")].contains("gate \"Go/No-Go\" lets the run go on)"), "{}", plan.stdout);
    let outcome = plan.stdout.lines().find(|l| l.starts_with("outcome: ")).unwrap();
    assert!(
        outcome.starts_with("outcome: unknown: required check \"Pre-Go-Live (Friday) passed\" rests on assumed reads"),
        "{outcome}"
    );
}

/// A run locks every target it writes to before its first write there, not only the one it was started on.
#[test]
fn a_run_locks_every_target_it_writes_to_before_its_first_write_there() {
    let project = Project::with_config(&format!("{BASE_CONFIG}\n[targets.db1]\nkind = \"local\"\n"));
    project.write("restore.rhai", "step \"restore\" { ssh::run(target(), \"echo A >> db1.log; sleep 4\"); }\n");
    project.write(
        "other.rhai",
        "step \"prepare\" { local::run(\"echo prepared >> local.log\"); }\nstep \"touch db1\" { ssh::run(target(\"db1\"), \"echo B >> db1.log\"); }\n",
    );
    let mut holder = project.command(&["-q", "restore.rhai", "--target", "db1"]).spawn().unwrap();
    let started = std::time::Instant::now();
    while project.read("db1.log").is_empty() && started.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let other = project.golive(&["-q", "other.rhai", "--target", "local"]);
    other.assert_code(3);
    assert!(other.stderr.contains("target `db1` is in use"), "{}", other.stderr);
    assert_eq!(project.read("local.log"), "prepared\n");
    assert_eq!(project.read("db1.log"), "A\n", "the second run wrote to a target another run holds");
    assert!(holder.wait().unwrap().success());
    // Once the holder is done, the same run takes db1's lock and writes.
    let again = project.golive(&["-q", "other.rhai", "--target", "local"]);
    again.assert_code(0);
    assert_eq!(project.read("db1.log"), "A\nB\n");
}

/// A runbook bound to a target: `//! target: db1` makes run, plan and check act on db1; a scenario can name
/// the target its case is for; `target("db1").vars` gives db1's variables.
#[test]
fn a_runbook_bound_to_a_target_is_run_planned_and_checked_on_it() {
    let project = Project::with_config(&format!(
        "{BASE_CONFIG}\n[targets.db1]\nkind = \"local\"\n[targets.db1.vars]\ndump = \"db1.sql\"\n"
    ));
    project.write(
        "restore.rhai",
        "//! Restores the database.\n//! target: db1\nstep \"restore\" { local::run(`echo ${target().name} ${config(\"dump\")} >> restored`); }\n",
    );
    let check = project.golive(&["check", "restore.rhai"]);
    check.assert_code(0);
    let plan = project.golive(&["plan", "restore.rhai"]);
    plan.assert_code(0);
    assert!(plan.stdout.starts_with("plan for restore.rhai on target `db1`"), "{}", plan.stdout);
    project.golive(&["-q", "restore.rhai"]).assert_code(0);
    assert_eq!(project.read("restored"), "db1 db1.sql\n");
    // --target still wins, and then the setting is missing for that target.
    let local = project.golive(&["check", "restore.rhai", "--target", "local"]);
    local.assert_code(2);
    assert!(local.stderr.contains("config(\"dump\") has no value for target `local`"), "{}", local.stderr);

    project.write("vars.rhai", "print(target(\"db1\").vars.dump);\nprint(target(\"db1\").vars.greeting);\n");
    let vars = project.golive(&["-q", "vars.rhai"]);
    vars.assert_code(0);
    assert_eq!(vars.stdout, "db1.sql\nhello\n");

    project.write("plain.rhai", "step \"where\" { local::run(`echo ${target().name}`); }\n");
    project.write("on-db1.toml", "[test]\ntarget = \"db1\"\n");
    let scenario = project.golive(&["plan", "plain.rhai", "--scenario", "on-db1.toml"]);
    scenario.assert_code(0);
    assert!(scenario.stdout.contains("on target `db1`"), "{}", scenario.stdout);
    project.write("bad.rhai", "//! target: db2\nstep \"x\" { }\n");
    let bad = project.golive(&["plan", "bad.rhai"]);
    bad.assert_code(2);
    assert!(bad.stderr.contains("bad.rhai:1: `//! target: db2`: unknown target `db2`"), "{}", bad.stderr);
}

/// A value computed from a read a plan assumed is unknown wherever it is judged: in a later check, through
/// values derived from it outside steps, passed to a function or read by a per-host check. Checks that read
/// none of it keep their verdicts, and a scenario that answers the read gives a definite one.
#[test]
fn a_plan_carries_an_assumed_read_through_the_values_computed_from_it() {
    let project = Project::new();
    project.write(
        "taint.rhai",
        r#"fn is_release(v, wanted) { v.trim(); v == wanted }
let version = step "read version" { local::run("cat version", #{ read_only: true }).stdout };
let shown = `release ${version}`;
check "release is 2.0" { shown == "release 2.0\n" }
check "release by function" { is_release(version, "2.0") }
check "each host runs it" for h in ["a", "b"] { version != "" }
check "arithmetic holds" { 1 + 1 == 2 }
"#,
    );
    let plan = project.golive(&["plan", "taint.rhai"]);
    let verdict = |name: &str| {
        let at = plan.stdout.find(&format!("check \"{name}")).unwrap_or_else(|| panic!("{name}: {}", plan.stdout));
        plan.stdout[at..].lines().find(|l| l.trim_start().starts_with("= ")).unwrap_or_default().to_string()
    };
    for name in ["release is 2.0", "release by function", "each host runs it [a]", "each host runs it [b]"] {
        assert!(verdict(name).contains("UNKNOWN (assumed)"), "{name}: {}", plan.stdout);
    }
    assert!(verdict("release is 2.0").contains("reads `shown`, which rests on step \"read version\"'s assumed reads"));
    assert!(verdict("arithmetic holds").contains("= pass"), "{}", plan.stdout);
    assert_eq!(plan.code, 1, "an unknown outcome: {}", plan.stdout);
    assert!(plan.stdout.contains("outcome: unknown"), "{}", plan.stdout);
    // Answered by a scenario, the same plan knows.
    project.write("v2.toml", "[[exec]]\nmatch = \"cat version\"\nstdout = \"2.0\\n\"\n");
    let known = project.golive(&["plan", "taint.rhai", "--scenario", "v2.toml"]);
    known.assert_code(0);
    assert!(!known.stdout.contains("UNKNOWN"), "{}", known.stdout);
}

/// A plan without live reads gives scripts a secret's placeholder (`<secret:NAME>`): a check that computes
/// on it, directly or through a variable given it outside steps, is UNKNOWN, never a pass or a fail on
/// the placeholder's text. A check that sends the secret in a read to authenticate it rests on the read's
/// answer, as before.
#[test]
fn a_check_computed_on_a_secrets_placeholder_is_unknown_in_a_plan() {
    let project = Project::new();
    project.write(".env", "STRIPE_SECRET_KEY=sk_test_123\n");
    project.write(
        "secret.rhai",
        r#"let key = secret("STRIPE_SECRET_KEY");
let live = key.starts_with("sk_live_");
check "Stripe key is live (direct)" { secret("STRIPE_SECRET_KEY").starts_with("sk_live_") }
check "Stripe key is not a test key" { !key.contains("test") }
check "Stripe in live mode (derived)" { live }
check "the key authenticates" { local::run("cat answer", #{ read_only: true, stdin: key }).stdout.contains("ok") }
"#,
    );
    project.write("answer.toml", "[[exec]]\nmatch = \"cat answer\"\nstdout = \"ok\\n\"\n");
    let plan = project.golive(&["plan", "secret.rhai", "--scenario", "answer.toml"]);
    let verdict = |name: &str| {
        let at = plan.stdout.find(&format!("check \"{name}\"")).unwrap_or_else(|| panic!("{name}: {}", plan.stdout));
        plan.stdout[at..].lines().find(|l| l.trim_start().starts_with("= ")).unwrap_or_default().to_string()
    };
    for name in ["Stripe key is live (direct)", "Stripe key is not a test key", "Stripe in live mode (derived)"] {
        let v = verdict(name);
        assert!(
            v.contains("UNKNOWN (assumed)") && v.contains("placeholder of secret `STRIPE_SECRET_KEY`"),
            "{name}: {}",
            plan.stdout
        );
    }
    assert!(verdict("the key authenticates").contains("= pass"), "{}", plan.stdout);
    assert!(plan.stdout.contains("outcome: unknown"), "{}", plan.stdout);
    // The run knows the secret: a test key, so the live-mode checks fail there.
    let run = project.golive(&["secret.rhai"]);
    assert!(run.check_line("Stripe key is not a test key").starts_with("  FAIL"), "{}", run.stderr);
}

/// A plan's script that branches on an UNKNOWN check and throws (`if !c.ok { throw ... }`) tells nothing
/// of the run: its outcome is unknown naming the value, exit 1, whether the throw is on the condition's
/// line or below it. A mistake on a line that reads no assumed value is still a script error (exit 2), and
/// a scenario that answers the read makes the plan predict the run's stop.
#[test]
fn a_plan_that_branches_on_an_unknown_check_has_an_unknown_outcome() {
    let project = Project::new();
    let script = |throw_below: bool| {
        let throw = if throw_below { "{\n    throw \"x is not ok\";\n}" } else { "{ throw \"x is not ok\"; }" };
        format!(
            "let c = check \"x\" {{ local::run(\"cat f\", #{{ read_only: true }}).stdout == \"ok\" }};\nif !c.ok {throw}\nstep \"after\" {{ local::run(\"touch after\"); }}\n"
        )
    };
    for below in [false, true] {
        project.write("branch.rhai", &script(below));
        let plan = project.golive(&["plan", "branch.rhai"]);
        assert_eq!(plan.code, 1, "{}", plan.all());
        assert!(
            plan.stdout.contains("outcome: unknown: the script stops at line")
                && plan.stdout.contains("reads `c`, which rests on check \"x\"'s assumed reads"),
            "{}",
            plan.stdout
        );
    }
    project.write("fails.toml", "[[exec]]\nmatch = \"cat f\"\nstdout = \"broken\"\n");
    let known = project.golive(&["plan", "branch.rhai", "--scenario", "fails.toml"]);
    assert_eq!(known.code, 2, "the run would stop on the throw: {}", known.all());
    // A mistake that reads no assumed value is the script's own.
    project.write(
        "mistake.rhai",
        "let c = check \"x\" { local::run(\"cat f\", #{ read_only: true }).stdout == \"ok\" };\nlet n = 1;\nif n > 0 { throw \"always\"; }\n",
    );
    project.golive(&["plan", "mistake.rhai"]).assert_code(2);
}
