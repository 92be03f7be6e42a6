//! The operator's side: prompts, --answers, --yes, the Go/No-Go gate, secrets typed at a prompt.

use crate::common;

use crate::common::Project;

const GATE: &str = r#"
phase "Validation" {
    check "homepage < 3 s" { #{ ok: true, actual: "420 ms", target: "< 3000 ms" } }
    check "Stripe processing payments" { #{ ok: false, actual: "3 of 10 payments failed", target: "all succeed" } }
    check "emails sent" { true }
}
phase "Go/No-Go" {
    // Computed, so only the run can find it never checked (written as a literal, golive check refuses it).
    let never_checked = config("monitoring_check", "monitoring operational");
    gate "Go/No-Go" with #{
        required: ["homepage < 3 s", "Stripe processing payments", never_checked],
        nogo: #{ "Payments not processed correctly": true, "Data loss detected": false },
    };
    step "after the gate" { local::run("touch went-on"); }
}
"#;

#[test]
fn a_gate_shows_failed_required_criteria_first_and_records_no_go_from_an_answers_file() {
    let project = Project::new();
    project.write("gate.rhai", GATE);
    project.write("answers.toml", "\"Go/No-Go\" = { answer = \"NO-GO\", by = \"Ana Ruiz (Go-Live Lead)\" }\n");
    let run = project.golive(&["gate.rhai", "--answers", "answers.toml"]);
    run.assert_code(1);
    let err = &run.stderr[run.stderr.find("Criterion").expect("the gate shows its table")..];
    let stripe = err.find("Stripe processing payments").expect("the failed criterion is shown");
    let homepage = err.find("homepage < 3 s").expect("the passed criterion is shown");
    let monitoring = err.find("monitoring operational").expect("a required criterion never checked is shown");
    let emails = err.find("emails sent").unwrap();
    assert!(
        stripe < homepage && monitoring < homepage && homepage < emails,
        "failed required criteria come first:\n{err}"
    );
    assert!(err.contains("3 of 10 payments failed"), "{err}");
    assert!(err.contains("not checked"), "{err}");
    assert!(err.contains("Payments not processed correctly") && err.contains("FIRED"), "{err}");
    assert!(err.contains("recommendation: NO-GO"), "{err}");
    assert!(err.contains("gate \"Go/No-Go\" said NO-GO (Ana Ruiz (Go-Live Lead) (answers file), at 20"), "{err}");
    assert!(!project.file("went-on").exists(), "a NO-GO stops the run");
    let journal = project.state_files();
    assert!(journal.contains("\"answer\":\"NO-GO\",\"by\":\"Ana Ruiz (Go-Live Lead) (answers file)\""), "{journal}");
    assert!(journal.contains("NO-GO by Ana Ruiz (Go-Live Lead) (answers file) at 20"), "{journal}");
}

#[test]
fn a_go_run_continues_and_yes_never_answers_a_gate() {
    let project = Project::new();
    project.write("gate.rhai", GATE);
    let refused = project.golive(&["gate.rhai", "--yes"]);
    refused.assert_code(1);
    assert!(refused.stderr.contains("no answer for \"Go/No-Go\""), "{}", refused.stderr);
    // The board recommends NO-GO: a GO written in the file beforehand is not applied.
    project.write("answers.toml", "\"Go/No-Go\" = \"GO\"\n");
    let refused = project.golive(&["run", "gate.rhai", "--answers", "answers.toml"]);
    refused.assert_code(1);
    assert!(refused.stderr.contains("was written before this evidence: it is not applied"), "{}", refused.stderr);
    assert!(!project.file("went-on").exists());
    // With the board green, the file's GO is applied and the run goes on.
    let green = GATE.replace("ok: false, actual: \"3 of 10", "ok: true, actual: \"0 of 10").replace(
        "required: [\"homepage < 3 s\", \"Stripe processing payments\", never_checked],\n        nogo: #{ \"Payments not processed correctly\": true,",
        "nogo: #{ \"Payments not processed correctly\": false,",
    );
    project.write("green.rhai", &green);
    let run = project.golive(&["run", "green.rhai", "--answers", "answers.toml"]);
    run.assert_code(0);
    assert!(run.stderr.contains("recommendation: GO"), "{}", run.stderr);
    assert!(project.file("went-on").exists());
}

#[test]
fn a_gate_whose_verdict_the_script_uses_lets_the_script_branch() {
    let project = Project::new();
    project.write(
        "branch.rhai",
        "let verdict = gate \"Go/No-Go\";\nif verdict == \"NO-GO\" { step \"rollback\" { local::run(\"touch rolled-back\"); } }\n",
    );
    project.write("answers.toml", "\"Go/No-Go\" = \"NO-GO\"\n");
    project.golive(&["branch.rhai", "--answers", "answers.toml"]).assert_code(0);
    assert!(project.file("rolled-back").exists());
}

#[test]
fn an_answer_outside_the_choices_names_the_file_and_the_question() {
    let project = Project::new();
    project.write("gate.rhai", "gate \"Go/No-Go\";\n");
    project.write("answers.toml", "\"Go/No-Go\" = \"MAYBE\"\n");
    let run = project.golive(&["gate.rhai", "--answers", "answers.toml"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("answers.toml: the answer to \"Go/No-Go\" is \"MAYBE\", but it must be one of: GO, NO-GO"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unanswered_question_in_a_non_interactive_run_fails_at_once_with_its_text() {
    let project = Project::new();
    project.write(
        "ask.rhai",
        "step \"ask\" { prompt::choose(\"Which vertical first?\", [\"AgroConecta\", \"Empleabilidad\"]) }\n",
    );
    let started = std::time::Instant::now();
    let run = project.golive(&["ask.rhai"]);
    run.assert_code(1);
    assert!(started.elapsed().as_secs() < 10);
    assert!(run.stderr.contains("no answer for \"Which vertical first?\""), "{}", run.stderr);
}

#[test]
fn prompts_take_answers_and_a_resumed_run_does_not_ask_again() {
    let project = Project::new();
    project.write(
        "ask.rhai",
        r#"
        step "questions" {
            let ok = prompt::confirm("Support team notified?");
            let first = prompt::choose("Which vertical first?", ["AgroConecta", "Empleabilidad"]);
            let who = prompt::input("Who is on call?", #{ "default": "nobody", validate: |a| a.len() > 2 });
            local::run(`echo ${ok} ${first} ${who} >> answers.log`);
        }
        step "then fail" { local::run("test -e fixed"); }
        "#,
    );
    project.write("answers.toml", "\"Which vertical first?\" = \"Empleabilidad\"\n\"Who is on call?\" = \"Luis\"\n");
    project.golive(&["ask.rhai", "--yes", "--answers", "answers.toml"]).assert_code(1);
    assert_eq!(project.read("answers.log"), "true Empleabilidad Luis\n");
    std::fs::write(project.file("fixed"), "").unwrap();
    // No answers file and no --yes now: a question asked again would fail the resume.
    let resumed = project.golive(&["resume"]);
    resumed.assert_code(0);
    assert_eq!(project.read("answers.log"), "true Empleabilidad Luis\n");
}

#[test]
fn a_checklist_records_each_item_for_the_gate() {
    let project = Project::new();
    project.write(
        "comms.rhai",
        "step \"comms\" { prompt::checklist(\"Internal\", [\"Email the team\", \"Update status page\"]) }\ngate \"ready\" with #{ required: [\"Internal: Email the team\"] };\n",
    );
    project.write(
        "answers.toml",
        "\"Internal: Email the team\" = \"yes\"\n\"Internal: Update status page\" = \"skip\"\n\"Internal: Update status page: why skip it?\" = \"no status page yet\"\n\"ready\" = \"GO\"\n",
    );
    let run = project.golive(&["comms.rhai", "--answers", "answers.toml"]);
    // The gate went on (GO on its required item), but a skipped item is not green evidence: exit 1.
    run.assert_code(1);
    assert!(
        run.stderr.contains("Internal: Update status page") && run.stderr.contains("no status page yet"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("1 check(s) failed (\"Internal: Update status page\"); a gate's decision went on past them"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_secret_typed_at_a_prompt_is_in_no_file_and_no_output() {
    let project = Project::new();
    project.write(
        "secret.rhai",
        "step \"token\" { let t = prompt::secret_input(\"API token\"); local::run(`echo ${t}`); print(t); }\n",
    );
    let value = "tok-3f9a7c-typed-secret";
    project.write("answers.toml", &format!("\"API token\" = \"{value}\"\n"));
    let run = project.golive(&["secret.rhai", "--answers", "answers.toml"]);
    run.assert_code(0);
    std::fs::remove_file(project.file("answers.toml")).unwrap();
    assert!(run.stdout.contains("<secret:API token>"), "{}", run.stdout);
    assert!(!run.all().contains(value), "{}", run.all());
    assert!(!project.state_files().contains(value), "{}", project.state_files());
}

#[test]
fn contacts_are_listed_and_a_failed_step_names_who_to_call() {
    let config = format!(
        "{}\n[[team]]\nrole = \"DevOps Lead\"\nname = \"Luis Gil\"\nphone = \"+34 600 111 222\"\n\n[[team]]\nrole = \"QA Lead\"\nname = \"Eva Sanz\"\nphone = \"+34 600 333 444\"\n\n[[contacts]]\nservice = \"IONOS Soporte\"\ncontact = \"+49 721 XXX XXXX\"\nsla = \"24/7\"\n",
        common::BASE_CONFIG
    );
    let project = Project::with_config(&config);
    let list = project.golive(&["contacts"]);
    list.assert_code(0);
    assert!(
        list.stdout.contains("Luis Gil") && list.stdout.contains("IONOS Soporte") && list.stdout.contains("24/7"),
        "{}",
        list.stdout
    );
    project.write(
        "fail.rhai",
        "phase \"Deploy\" with #{ owner: \"DevOps\" } { step \"migrate\" { local::run(\"exit 3\"); } }\n",
    );
    let run = project.golive(&["fail.rhai"]);
    run.assert_code(1);
    assert!(run.stderr.contains("call DevOps Lead: Luis Gil +34 600 111 222"), "{}", run.stderr);
    assert!(!run.stderr.contains("Eva Sanz"), "{}", run.stderr);
}

#[test]
fn a_manual_item_records_who_confirmed_it_and_when() {
    let project = Project::new();
    project.write("manual.rhai", "manual \"Equipo de soporte notificado\";\n");
    project.write(
        "answers.toml",
        "\"Equipo de soporte notificado\" = { answer = \"yes\", by = \"Marta (Support Lead)\" }\n",
    );
    project.golive(&["manual.rhai", "--answers", "answers.toml"]).assert_code(0);
    let status = project.golive(&["status"]);
    assert!(status.stdout.contains("actual yes by Marta (Support Lead) (answers file) at 20"), "{}", status.stdout);
}

#[test]
fn the_unattended_hint_is_an_answers_line_that_works_even_for_a_question_with_quotes() {
    let project = Project::new();
    project.write("q.rhai", "manual \"Email a todo el equipo: \\\"Estamos LIVE\\\"\";\n");
    let run = project.golive(&["q.rhai", "--non-interactive"]);
    run.assert_code(1);
    let line = run
        .stderr
        .lines()
        .find_map(|l| l.split_once("answer it in an --answers file: ").map(|(_, rest)| rest.to_string()))
        .unwrap_or_else(|| panic!("no hint:\n{}", run.stderr));
    let entry = line.split(" (a person").next().unwrap();
    project.write("answers.toml", &format!("{entry}\n"));
    project.golive(&["resume", "--non-interactive", "--answers", "answers.toml"]).assert_code(0);
}
