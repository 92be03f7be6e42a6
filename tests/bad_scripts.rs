//! Bad input gets exit 2 and a message that names the file, line and column: never a panic, never a run.

use crate::common;

use crate::common::Project;

/// Runs `script` non-interactively and returns stderr, asserting exit 2 and the position.
fn rejected(script: &str, location: &str) -> String {
    let project = Project::new();
    project.write("bad.rhai", script);
    let run = project.golive(&["bad.rhai", "--non-interactive"]);
    run.assert_code(2);
    assert!(run.stderr.contains(&format!("bad.rhai:{location}")), "expected bad.rhai:{location} in:\n{}", run.stderr);
    assert!(run.stderr.contains('^') || run.stderr.contains('|'), "no caret:\n{}", run.stderr);
    let check = project.golive(&["check", "bad.rhai"]);
    assert_eq!(check.code, 2, "golive check must reject it too:\n{}", check.all());
    run.stderr
}

#[test]
fn syntax_error() {
    let err = rejected("step \"a\" {\n  let x = ;\n}\n", "2:11");
    assert!(err.contains("Unexpected ';'"), "{err}");
}

#[test]
fn unknown_function_suggests_the_close_one() {
    let err = rejected("step \"a\" {\n  local::rnu(\"ls\");\n}\n", "2:10");
    assert!(err.contains("no function `local::rnu` exists; did you mean `run`?"), "{err}");
}

#[test]
fn unknown_global_function_suggests_the_close_one() {
    let err = rejected("step \"a\" {\n  sleeep(\"1s\");\n}\n", "2:3");
    assert!(err.contains("no function `sleeep` exists; did you mean `sleep`?"), "{err}");
}

#[test]
fn unknown_module_suggests_the_close_one() {
    let err = rejected("let a = 1;\nstep \"a\" {\n  lokal::run(\"ls\");\n}\n", "3:3");
    assert!(err.contains("no module `lokal` exists; did you mean `local`?"), "{err}");
}

/// A run compiles only the stdlib modules its script names; a misspelt one is still matched against them all.
#[test]
fn a_misspelt_stdlib_module_or_function_suggests_the_close_one() {
    let err = rejected("step \"a\" {\n  verdikt::below(1, 2, \"ms\");\n}\n", "2:3");
    assert!(err.contains("no module `verdikt` exists; did you mean `verdict`?"), "{err}");
    let err = rejected("step \"a\" {\n  verdict::belw(1, 2, \"ms\");\n}\n", "2:12");
    assert!(err.contains("did you mean `below`?"), "{err}");
}

#[test]
fn unknown_method_suggests_the_close_one() {
    let err = rejected("step \"a\" { \"x\".contians(\"y\") }\n", "1:16");
    assert!(err.contains("did you mean `contains`?"), "{err}");
}

#[test]
fn wrong_argument_count() {
    let err = rejected("step \"a\" {\n  local::run(\"ls\", #{}, 2);\n}\n", "2:10");
    assert!(err.contains("`local::run` takes 1 or 2 argument(s), but is given 3"), "{err}");
}

#[test]
fn wrong_argument_type_lists_the_signatures() {
    let project = Project::new();
    project.write("bad.rhai", "step \"a\" {\n  local::run(42);\n}\n");
    let run = project.golive(&["bad.rhai"]);
    run.assert_code(2);
    assert!(run.stderr.contains("bad.rhai:2:10"), "{}", run.stderr);
    assert!(
        run.stderr.contains("no function `local::run` takes these arguments: `local::run (int)`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("it takes: local::run(cmd: string[, options: map]) -> map\n"), "{}", run.stderr);
}

#[test]
fn effect_outside_a_step_is_caught_before_anything_runs() {
    let project = Project::new();
    project.write("bad.rhai", "step \"first\" { local::run(\"touch first\"); }\nlocal::run(\"touch outside\");\n");
    let run = project.golive(&["bad.rhai"]);
    run.assert_code(2);
    assert!(run.stderr.contains("bad.rhai:2:8"), "{}", run.stderr);
    assert!(run.stderr.contains("`local::run` acts on the world, so it must run inside a step"), "{}", run.stderr);
    assert!(!project.file("first").exists() && !project.file("outside").exists(), "nothing may run");
}

#[test]
fn effect_outside_a_step_through_a_function_is_caught_at_the_call() {
    let project = Project::new();
    project.write("bad.rhai", "fn helper() { local::run(\"touch f\") }\nhelper();\n");
    let run = project.golive(&["bad.rhai"]);
    run.assert_code(2);
    assert!(run.stderr.contains("bad.rhai:1:22"), "{}", run.stderr);
    assert!(run.stderr.contains("in call to `helper` at bad.rhai:2:1"), "{}", run.stderr);
    assert!(!project.file("f").exists());
}

#[test]
fn sleep_outside_a_step() {
    let err = rejected("let a = 1;\nsleep(\"1s\");\n", "2:1");
    assert!(err.contains("`sleep` acts on the world"), "{err}");
}

#[test]
fn duplicate_step_names() {
    let err = rejected("step \"a\" { }\nphase \"p\" {\n  check \"a\" { true }\n}\n", "3:3");
    assert!(err.contains("a step named \"a\" already exists at line 1"), "{err}");
}

#[test]
fn nested_steps() {
    let err = rejected("step \"a\" {\n  step \"b\" { }\n}\n", "2:3");
    assert!(err.contains("step \"b\" is inside step \"a\"; steps cannot nest"), "{err}");
}

#[test]
fn steps_inside_functions() {
    let err = rejected("fn f() {\n  step \"b\" { }\n}\n", "2:3");
    assert!(err.contains("inside function `f`"), "{err}");
}

#[test]
fn a_step_name_must_be_a_literal_string() {
    let err = rejected("let n = \"x\";\nstep n { }\n", "2:6");
    assert!(err.to_lowercase().contains("string"), "{err}");
}

#[test]
fn unknown_step_option() {
    let project = Project::new();
    project.write("bad.rhai", "step \"a\" with #{ timout: \"1m\" } { local::run(\"touch ran\"); }\n");
    let run = project.golive(&["bad.rhai"]);
    run.assert_code(2);
    assert!(run.stderr.contains("bad.rhai:1:18"), "{}", run.stderr);
    assert!(run.stderr.contains("step \"a\": no option `timout`; did you mean `timeout`?"), "{}", run.stderr);
    assert!(!project.file("ran").exists());
}

#[test]
fn unknown_target_in_a_script() {
    let project = Project::new();
    project.write("bad.rhai", "let t = target(\"prd\");\n");
    let run = project.golive(&["bad.rhai"]);
    run.assert_code(2);
    assert!(run.stderr.contains("bad.rhai:1:9"), "{}", run.stderr);
    assert!(run.stderr.contains("unknown target `prd`"), "{}", run.stderr);
    assert!(run.stderr.contains("defines: local, prod; did you mean `prod`?"), "{}", run.stderr);
}

#[test]
fn unknown_target_on_the_command_line() {
    let project = Project::new();
    project.write("ok.rhai", "let a = 1;\n");
    let run = project.golive(&["ok.rhai", "--target", "staging"]);
    run.assert_code(2);
    assert!(run.stderr.contains("--target: unknown target `staging`"), "{}", run.stderr);
}

#[test]
fn unknown_config_key_suggests_the_close_one() {
    let project = Project::new();
    project.write("bad.rhai", "let g = config(\"greting\");\n");
    let run = project.golive(&["bad.rhai"]);
    run.assert_code(2);
    assert!(run.stderr.contains("bad.rhai:1:9"), "{}", run.stderr);
    assert!(
        run.stderr.contains("has no `greting` in [vars] or [targets.local.vars]; did you mean `greeting`?"),
        "{}",
        run.stderr
    );
}

#[test]
fn malformed_config_names_file_line_and_key() {
    let project = Project::with_config("default_target = \"local\"\n\n[targets.prod]\nhots = \"x\"\n");
    project.write("ok.rhai", "let a = 1;\n");
    let run = project.golive(&["ok.rhai"]);
    run.assert_code(2);
    assert!(run.stderr.contains("golive.toml"), "{}", run.stderr);
    assert!(run.stderr.contains("line 4"), "{}", run.stderr);
    assert!(run.stderr.contains("unknown field `hots`"), "{}", run.stderr);
}

#[test]
fn missing_config_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.rhai"), "let a = 1;\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_golive"))
        .arg("x.rhai")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no golive.toml in") && err.contains("or any folder above it"), "{err}");
}

#[test]
fn missing_script_is_a_clear_error() {
    let project = Project::new();
    let run = project.golive(&["nope.rhai"]);
    run.assert_code(2);
    assert!(run.stderr.contains("cannot read script nope.rhai"), "{}", run.stderr);
}

/// A run compiles the stdlib modules its script reaches: a broken one it never names does not stop it, one it
/// names does, and `check` reports a broken module whoever calls it.
#[test]
fn errors_inside_stdlib_modules_name_the_stdlib_file() {
    let project = Project::new();
    project.write("stdlib/broken.rhai", "fn ok() { 1 }\nfn bad( { }\n");
    project.write("stdlib/caller.rhai", "fn call() { broken::ok() }\n");
    project.write("ok.rhai", "let a = 1;\n");
    project.golive(&["ok.rhai"]).assert_code(0);
    let check = project.golive(&["check", "ok.rhai"]);
    check.assert_code(2);
    assert!(check.stderr.contains("stdlib/broken.rhai:2:"), "{}", check.stderr);
    // A mistake in the script is named as the script's, not hidden behind the module it never calls.
    project.write("typo.rhai", "step \"s\" {\n  lokal::run(\"true\");\n}\n");
    let run = project.golive(&["typo.rhai"]);
    run.assert_code(2);
    assert!(run.stderr.contains("no module `lokal` exists") && run.stderr.contains("typo.rhai:2:3"), "{}", run.stderr);
    for script in ["step \"s\" { broken::ok(); }\n", "step \"s\" { caller::call(); }\n"] {
        project.write("uses.rhai", script);
        let run = project.golive(&["uses.rhai"]);
        run.assert_code(2);
        assert!(run.stderr.contains("stdlib/broken.rhai:2:"), "{script}: {}", run.stderr);
    }

    project.write("stdlib/broken.rhai", "fn explode() { throw \"boom from stdlib\"; }\n");
    project.write("ok.rhai", "step \"s\" { broken::explode(); }\n");
    let run = project.golive(&["ok.rhai"]);
    run.assert_code(1);
    assert!(run.stderr.contains("boom from stdlib"), "{}", run.stderr);
    assert!(run.stderr.contains("stdlib/broken.rhai:1:16"), "{}", run.stderr);
}

#[test]
fn a_stdlib_function_with_effects_called_outside_a_step_is_caught_by_check() {
    let err = rejected("let code = site::status(\"http://127.0.0.1:9\");\n", "1:18");
    assert!(err.contains("`site::status` acts on the world, so it must run inside a step"), "{err}");
}

#[test]
fn a_byte_order_mark_is_accepted_and_bytes_that_are_not_utf8_are_named_with_their_position() {
    let project = Project::new();
    project.write("bom.rhai", "\u{feff}step \"a\" { print(\"bom ok\"); }\n");
    let run = project.golive(&["bom.rhai"]);
    run.assert_code(0);
    assert!(run.stdout.contains("bom ok"), "{}", run.all());
    std::fs::write(project.file("latin1.rhai"), b"step \"a\" {\n  print(\"caf\xe9\");\n}\n").unwrap();
    let run = project.golive(&["latin1.rhai"]);
    run.assert_code(2);
    assert!(run.stderr.contains("latin1.rhai:2:13: byte 0xe9 is not UTF-8"), "{}", run.stderr);
}

#[test]
fn a_golive_toml_that_is_a_folder_is_an_error_not_a_parent_config() {
    let project = Project::new();
    std::fs::create_dir_all(project.file("team/golive.toml")).unwrap();
    project.write("team/x.rhai", "step \"a\" { }\n");
    let run = project.golive(&["team/x.rhai"]);
    run.assert_code(2);
    assert!(run.stderr.contains("golive.toml is not a file"), "{}", run.stderr);
}

#[test]
fn an_unknown_key_in_an_answers_entry_is_an_error_naming_the_question() {
    let project = Project::new();
    project.write("g.rhai", "gate \"Go/No-Go\";\n");
    project.write("a.toml", "\"Go/No-Go\" = { answer = \"GO\", notes = \"typo for note\" }\n");
    let run = project.golive(&["g.rhai", "--answers", "a.toml"]);
    run.assert_code(2);
    assert!(run.stderr.contains("\"Go/No-Go\": unknown field `notes`"), "{}", run.stderr);
}

#[test]
fn a_mistyped_watch_rule_option_is_an_error_not_a_silent_no_op() {
    let project = Project::new();
    project.write(
        "w.rhai",
        "step \"w\" { metrics::watch(#{ every: \"1s\", \"for\": \"1s\", rules: [#{ name: \"errors\", value: || 1.0, warn: 1.0, crit: 5.0, on_crti: |e| 1 }] }); }\n",
    );
    let run = project.golive(&["w.rhai"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("rule \"errors\": `on_crti` is not a rule option; did you mean `on_crit`?"),
        "{}",
        run.stderr
    );
}

#[test]
fn plan_and_check_name_a_setting_the_target_lacks_with_its_line() {
    let project = Project::new();
    project.write(
        "s.rhai",
        "let dir = config(\"files_dir\");\nlet g = config(\"greeting\");\nstep \"a\" { print(dir); }\n",
    );
    let plan = project.golive(&["plan", "s.rhai"]);
    plan.assert_code(2);
    assert!(
        plan.stderr.contains("s.rhai:1:11: config(\"files_dir\") has no value for target `local`"),
        "{}",
        plan.stderr
    );
    assert!(!plan.stderr.contains("greeting"), "{}", plan.stderr);
    let check = project.golive(&["check", "s.rhai"]);
    check.assert_code(2);
    assert!(check.stderr.contains("config(\"files_dir\") has no value for target `local`"), "{}", check.stderr);
    let all = project.golive(&["check", "--all-targets", "s.rhai"]);
    assert!(all.stderr.contains("for target `prod`"), "{}", all.stderr);
}

#[test]
fn check_with_no_path_checks_the_project_from_any_folder_inside_it() {
    let project = Project::new();
    project.write("scripts/a.rhai", "step \"a\" { print(\"a\"); }\n");
    project.write("scripts/deep/x.txt", "");
    let run = project.command(&["check"]).current_dir(project.file("scripts/deep")).output().unwrap();
    let run = common::Run::from(run);
    run.assert_code(0);
    assert!(run.stdout.contains("1 script(s)"), "{}", run.stdout);
    let empty = Project::new();
    empty.golive(&["check"]).assert_code(2);
}
