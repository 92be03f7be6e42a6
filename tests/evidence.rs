//! Verdicts from evidence, not from exit codes: a watch that ends with an unresolved critical alert, or a
//! rule silent for longer than its `nodata_alert`, makes its run red (and the silence is an alert that is
//! sent); a later runbook reads an earlier one's journaled decisions and watches (`runbook::last_run`).

use crate::common::Project;

/// A watch of value functions (no Prometheus needed): `rules` is the Rhai array of rules.
fn watch_script(rules: &str, extra: &str) -> String {
    format!(
        r#"step "watch" with #{{ idempotent: true }} {{
    let alert = |e| print(`ALERT ${{e.rule}} ${{e.to}} (${{e.shown}})`);
    let s = metrics::watch(#{{ every: "1s", "for": "2s", {extra} rules: {rules} }});
    print(`stopped by ${{s.stopped}}`);
}}
"#
    )
}

#[test]
fn a_watch_that_ends_critical_makes_its_run_red_in_run_and_plan() {
    let project = Project::new();
    let rules = r#"[#{ name: "CPU Usage", value: || 95.0, unit: "%", warn: 70.0, crit: 90.0, on_crit: alert }]"#;
    project.write("w.rhai", &watch_script(rules, ""));
    let run = project.golive(&["w.rhai"]);
    run.assert_code(1);
    assert!(run.stdout.contains("ALERT CPU Usage crit (95.00%)"), "{}", run.all());
    assert!(run.all().contains("CPU Usage: crit (95.00%) at the end"), "{}", run.all());
    let plan = project.golive(&["plan", "w.rhai"]);
    assert_eq!(plan.code, 1, "{}", plan.all());
    assert!(plan.stdout.contains("CPU Usage: crit (95.00%) at the end"), "{}", plan.stdout);
}

#[test]
fn a_watch_that_only_warned_or_recovered_ends_green() {
    let project = Project::new();
    // The first evaluation is critical, every later one back to normal: resolved before the end.
    let rules = r#"[
        #{ name: "Memory Usage", value: || 75.0, unit: "%", warn: 70.0, crit: 90.0, on_warn: alert },
        #{ name: "CPU Usage", value: || { n += 1; if n == 1 { 95.0 } else { 10.0 } }, unit: "%", warn: 70.0, crit: 90.0, on_crit: alert },
    ]"#;
    project.write("w.rhai", &format!("let n = 0;\n{}", watch_script(rules, "")));
    let run = project.golive(&["w.rhai"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("ALERT Memory Usage warn") && run.stdout.contains("ALERT CPU Usage crit"),
        "{}",
        run.all()
    );
}

#[test]
fn a_rule_without_data_for_longer_than_nodata_alert_is_an_alert_that_is_sent_and_a_red_run() {
    let project = Project::new();
    // No on_nodata action: the critical one is what tells people.
    let rules = r#"[#{ name: "Error Rate", value: || "no samples", unit: "%", warn: 1.0, crit: 5.0, on_crit: alert }]"#;
    project.write("w.rhai", &watch_script(rules, r#"nodata_alert: "1s","#));
    let run = project.golive(&["w.rhai"]);
    run.assert_code(1);
    assert!(run.stdout.contains("ALERT Error Rate nodata"), "{}", run.all());
    assert!(run.all().contains("Error Rate: no data for longer"), "{}", run.all());
    // Silent for less than nodata_alert: told on screen, no alert, not red.
    project.write("short.rhai", &watch_script(rules, r#"nodata_alert: "1h","#));
    let run = project.golive(&["short.rhai"]);
    run.assert_code(0);
    assert!(!run.stdout.contains("ALERT"), "{}", run.all());
}

/// A Saturday-like runbook: a gate decided by an answers file, or no gate at all; a monitor-like watch.
#[test]
fn last_run_gives_the_journaled_decisions_and_watches_not_only_the_exit_code() {
    let project = Project::new();
    project.write("saturday.rhai", "check \"ready\" { true }\ngate \"Go/No-Go\";\n");
    project.write("go.toml", "\"Go/No-Go\" = { answer = \"GO\", by = \"Lead\" }\n");
    project.write(
        "monitor.rhai",
        &watch_script(r#"[#{ name: "CPU Usage", value: || 95.0, unit: "%", warn: 70.0, crit: 90.0 }]"#, ""),
    );
    project.write(
        "read.rhai",
        r#"let s = runbook::last_run("saturday", "local");
let d = s.decisions.get("Go/No-Go");
print(`saturday exit ${s.exit_code}: ${if d == () { "no decision" } else { `${d.verdict} by ${d.by}` }}`);
let m = runbook::last_run("monitor", "local");
for w in m.watches {
    print(`watch ${w.name}: ${w.planned_s}s planned, complete ${w.complete}, alerts ${w.alerts.map(|a| `${a.rule} ${a.level}`)}, unresolved ${w.unresolved}`);
}
"#,
    );
    project.golive(&["saturday.rhai", "--answers", "go.toml"]).assert_code(0);
    project.golive(&["monitor.rhai"]).assert_code(1);
    let read = project.golive(&["-q", "read.rhai"]);
    read.assert_code(0);
    assert_eq!(
        read.stdout,
        "saturday exit 0: GO by Lead (answers file)\nwatch watch: 2.0s planned, complete true, alerts [\"CPU Usage crit\"], unresolved [\"CPU Usage\"]\n"
    );
    // A Saturday that ended 0 with nobody's decision (no gate in it) has none to show.
    project.write("saturday.rhai", "check \"ready\" { true }\n");
    project.golive(&["saturday.rhai"]).assert_code(0);
    let read = project.golive(&["-q", "read.rhai"]);
    assert!(read.stdout.starts_with("saturday exit 0: no decision\n"), "{}", read.all());
}
