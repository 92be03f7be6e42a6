//! `golive test --faults`: each read of a passing check answered adversarially, one at a time, under each
//! scenario; a check that still passes survived (weak, unless it says why), one that passes on nothing at
//! all is vacuous. Whole outputs compared.

use crate::common::{self, Project};

const SCRIPT: &str = r#"check "page answers" { http::get("http://127.0.0.1:1/").status == 200 }
check "search finds the product" { let r = http::get("http://127.0.0.1:1/search", #{ query: #{ keys: "tractor" } }); r.status == 200 && r.body.contains("tractor") }
check "search finds the product's page" { let r = http::get("http://127.0.0.1:1/search", #{ query: #{ keys: "tractor" } }); r.status == 200 && r.body.contains("/product/42") }
check "disk has room" with #{ survives: "df prints 0% on an empty disk: a true reading" } { let used = local::run("df -P / | tail -1", #{ read_only: true }).stdout.split(" ").filter(|w| w.ends_with("%")); used.len() == 1 && parse_int(used[0].sub_string(0, used[0].len() - 1)) < 90 }
check "release file" { local::run("cat release", #{ read_only: true }).stdout.len() >= 0 }
check "inbox has mail" { let got = false; for i in 0..3 { if local::run("cat inbox", #{ read_only: true }).stdout.contains("1 message") { got = true; break; } } got }
"#;

const SCENARIO: &str = r#"[[http]]
match = "GET http://127.0.0.1:1/search"
body = "<a href=\"/product/42\">tractor</a>"
[[http]]
match = "GET http://127.0.0.1:1/"
body = "home"
[[exec]]
match = "df -P"
stdout = "/dev/sda1 100 41 59 41% /\n"
[[exec]]
match = "cat release"
stdout = "2.0\n"
[[exec]]
match = "cat inbox"
stdout = "1 message from ops\n"
"#;

#[test]
fn faults_find_vacuous_and_weak_checks_and_an_explanation_keeps_a_survivor_from_failing() {
    let project = Project::new();
    project.write("scripts/site.rhai", SCRIPT);
    project.write("tests/scenarios/site.up.toml", SCENARIO);
    let run = project.golive(&["test", "--faults"]);
    run.assert_code(1);
    assert_eq!(
        run.stdout,
        r#"site.up
  VACUOUS check "page answers" (scripts/site.rhai:1)  1 of 4 faults caught
          passes when every read answers nothing
          survived: http read `GET http://127.0.0.1:1/` answered nothing (empty)
          survived: http read `GET http://127.0.0.1:1/` answered a 200 page echoing the request
          survived: http read `GET http://127.0.0.1:1/` answered 200 with JSON {}
  WEAK    check "search finds the product" (scripts/site.rhai:2)  3 of 4 faults caught
          survived: http read `GET http://127.0.0.1:1/search?keys=tractor` answered a 200 page echoing the request
  ok      check "search finds the product's page" (scripts/site.rhai:3)  4 of 4 faults caught
  weak*   check "disk has room" (scripts/site.rhai:4)  2 of 3 faults caught
          survived: exec read `local$ df -P / | tail -1` answered every number 0
          explained: df prints 0% on an empty disk: a true reading
  VACUOUS check "release file" (scripts/site.rhai:5)  1 of 3 faults caught
          passes when every read answers nothing
          survived: exec read `local$ cat release` answered nothing (empty)
          survived: exec read `local$ cat release` answered every number 0
  ok      check "inbox has mail" (scripts/site.rhai:6)  3 of 3 faults caught
6 checks, 0 steps, 21 faults: 14 caught, 7 survived; 2 vacuous; 3 error(s)
"#
    );
    // A poll reads the same thing again: a broken world answers every poll alike (the inbox check's
    // fault is caught though its first read alone would have been followed by a good one).
    // Hardened, every check catches every fault of its reads (the explained survivor aside): exit 0.
    let hardened = SCRIPT
        .replace(
            r#"http::get("http://127.0.0.1:1/").status == 200"#,
            r#"let r = http::get("http://127.0.0.1:1/"); r.status == 200 && r.body == "home""#,
        )
        .replace(r#"r.body.contains("tractor") }"#, r#"r.body.contains("/product/42") }"#)
        .replace(r#"check "search finds the product's page""#, r#"check "search links the product""#)
        .replace(r#".stdout.len() >= 0"#, r#".stdout == "2.0\n""#);
    project.write("scripts/site.rhai", &hardened);
    let run = project.golive(&["test", "--faults"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.ends_with("6 checks, 0 steps, 21 faults: 20 caught, 1 survived; 0 vacuous; 0 error(s)\n"),
        "{}",
        run.stdout
    );
}

/// `--junit FILE` with `--faults`: one testsuite per case, one testcase per check named with its
/// script:line, failed when vacuous or weak without a reason, the survivors as the failure's text.
#[test]
fn faults_write_a_junit_report_with_one_testcase_per_check() {
    let project = Project::new();
    project.write("scripts/site.rhai", SCRIPT);
    project.write("tests/scenarios/site.up.toml", SCENARIO);
    project.golive(&["test", "--faults", "--junit", "faults.xml"]).assert_code(1);
    let report = project.read("faults.xml");
    // Times vary from run to run.
    let at = report.find(" time=\"").expect("a time");
    let end = at + 7 + report[at + 7..].find('"').unwrap();
    let report = format!("{}{}", &report[..at], &report[end + 1..]);
    assert_eq!(
        report,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
<testsuite name="golive test --faults: site.up" tests="6" failures="3" errors="0">
  <testcase classname="faults" name="check &quot;page answers&quot; (scripts/site.rhai:1)">
    <failure message="passes when every read answers nothing">http read `GET http://127.0.0.1:1/` answered nothing (empty)
http read `GET http://127.0.0.1:1/` answered a 200 page echoing the request
http read `GET http://127.0.0.1:1/` answered 200 with JSON {}</failure>
  </testcase>
  <testcase classname="faults" name="check &quot;search finds the product&quot; (scripts/site.rhai:2)">
    <failure message="1 of 4 faults survived, unexplained">http read `GET http://127.0.0.1:1/search?keys=tractor` answered a 200 page echoing the request</failure>
  </testcase>
  <testcase classname="faults" name="check &quot;search finds the product's page&quot; (scripts/site.rhai:3)"/>
  <testcase classname="faults" name="check &quot;disk has room&quot; (scripts/site.rhai:4)"/>
  <testcase classname="faults" name="check &quot;release file&quot; (scripts/site.rhai:5)">
    <failure message="passes when every read answers nothing">exec read `local$ cat release` answered nothing (empty)
exec read `local$ cat release` answered every number 0</failure>
  </testcase>
  <testcase classname="faults" name="check &quot;inbox has mail&quot; (scripts/site.rhai:6)"/>
</testsuite>
</testsuites>
"#
    );
}

/// A step whose success rests on what it read gives a verdict, and is fault-tested like a check. A fault
/// turns only the reads of the item under test: the same read made by an earlier step ("on" expects 503
/// where "off" expects 200) keeps its scenario answer, so "off" cannot look caught because "on" failed
/// first. Before: "off" was reported "4 of 4 faults caught" while it passed any 200.
#[test]
fn faults_test_steps_that_read_and_judge_each_item_on_its_own_reads() {
    let project = Project::new();
    let script = r#"step "on" { http::expect("http://127.0.0.1:1/", 503); }
step "off" { http::expect("http://127.0.0.1:1/", 200); }
step "off, the site's page" { http::expect("http://127.0.0.1:1/", 200, #{ page: "<title>Site" }); }
"#;
    let scenario = r#"[[http]]
match = "GET http://127.0.0.1:1/"
status = 503
times = 1
[[http]]
match = "GET http://127.0.0.1:1/"
body = "<title>Site</title>"
"#;
    project.write("scripts/site.rhai", script);
    project.write("tests/scenarios/site.up.toml", scenario);
    let run = project.golive(&["test", "--faults"]);
    run.assert_code(1);
    assert_eq!(
        run.stdout,
        r#"site.up
  ok      step "on" (scripts/site.rhai:1)  4 of 4 faults caught
  VACUOUS step "off" (scripts/site.rhai:2)  1 of 4 faults caught
          passes when every read answers nothing
          survived: http read `GET http://127.0.0.1:1/` answered nothing (empty)
          survived: http read `GET http://127.0.0.1:1/` answered a 200 page echoing the request
          survived: http read `GET http://127.0.0.1:1/` answered 200 with JSON {}
  ok      step "off, the site's page" (scripts/site.rhai:3)  4 of 4 faults caught
0 checks, 3 steps, 12 faults: 9 caught, 3 survived; 1 vacuous; 1 error(s)
"#,
        "{}",
        run.all()
    );
}

/// Journal reads (`runbook::last_run`) and a phase's time are reads like any other: no run, a failed run
/// just now, a year-old run, a run of only some items, an unreadable journal; a phase twice as long. A
/// check that takes any run for a good one survives them; a budget check catches both of its faults.
#[test]
fn faults_turn_journal_reads_and_a_phases_time() {
    let project = Project::new();
    let script = r#"phase "quick" with #{ budget: "5m" } {
    check "friday ran" { runbook::last_run("friday", "rehearsal") != () }
    check "friday passed, whole, this week" { let r = runbook::last_run("friday", "rehearsal"); r != () && r.finished && r.whole && r.exit_code == 0 && r.days_ago <= 3.0 }
}
"#;
    let scenario = r#"[[include]]
script = "friday"
[include.run]
run_id = "20261127-140000-friday-rehearsal"
exit_code = 0
seconds = 600.0
days_ago = 0.5
[[phase]]
name = "quick"
seconds = 200.0
"#;
    project.write("scripts/site.rhai", script);
    project.write("tests/scenarios/site.up.toml", scenario);
    let run = project.golive(&["test", "--faults"]);
    run.assert_code(1);
    assert_eq!(
        run.stdout,
        r#"site.up
  WEAK    check "friday ran" (scripts/site.rhai:2)  1 of 4 faults caught
          survived: journal read `journal: the newest friday run on rehearsal` answered exit 1, no output
          survived: journal read `journal: the newest friday run on rehearsal` answered a year old
          survived: journal read `journal: the newest friday run on rehearsal` answered a run of only some items (--only)
  ok      check "friday passed, whole, this week" (scripts/site.rhai:3)  4 of 4 faults caught
  ok      check "quick: within its 5m budget" (scripts/site.rhai:1)  2 of 2 faults caught
3 checks, 0 steps, 10 faults: 7 caught, 3 survived; 0 vacuous; 1 error(s)
"#,
        "{}",
        run.all()
    );
}

/// `golive coverage` weighs each document item from the scripts' plans and the faults, whatever the file
/// says of it: a check that catches every fault is measured, one that survives a fault is partial (named),
/// a manual item asked, an item nobody carries out missing; `partial = "why"` can only lower an item. A
/// `by` that names no item of the script is an error naming the document item (exit 2).
#[test]
fn coverage_weighs_each_item_from_the_plans_and_the_faults() {
    let project = Project::with_config(&format!("{}\n[report]\ncoverage = \"coverage.toml\"\n", common::BASE_CONFIG));
    project.write("scripts/site.rhai", SCRIPT.lines().take(3).collect::<Vec<_>>().join("\n").as_str());
    project.write("scripts/people.rhai", "manual \"support team told\";\n");
    project.write("tests/scenarios/site.up.toml", SCENARIO);
    let map = r#"[[item]]
section = "4.1"
item = "Search"
how = "result links"
by = ["site: search finds the product's page"]

[[item]]
section = "4.1"
item = "Search, weak"
how = "the term on the page"
by = ["site: search finds the product"]

[[item]]
section = "4.1"
item = "Search on a stand-in"
how = "result links on the double"
by = ["site: search finds the product's page"]
partial = "the double's search page"

[[item]]
section = "2.4"
item = "Support notified"
how = "a person confirms"
by = ["people: support team told"]

[[item]]
section = "6.2"
item = "Grafana"
how = "left out"
"#;
    project.write("coverage.toml", map);
    let run = project.golive(&["coverage"]);
    run.assert_code(0);
    let table: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("| ") || l.starts_with("**Totals")).collect();
    assert_eq!(
        table.join("\n"),
        r#"**Totals: 1 measured, 2 partial, 1 asked, 1 missing (of 5).**
| § | Item | Standing | How | By |
| 4.1 | Search | measured | result links | `site: search finds the product's page` |
| 4.1 | Search, weak | partial: check "search finds the product" survives http a 200 page echoing the request | the term on the page | `site: search finds the product` |
| 4.1 | Search on a stand-in | partial: the double's search page | result links on the double | `site: search finds the product's page` |
| 2.4 | Support notified | asked | a person confirms | `people: support team told` |
| 6.2 | Grafana | missing | left out | - |"#,
        "{}",
        run.all()
    );
    project.write(
        "coverage.toml",
        &map.replace(
            "site: search finds the product's page\"]\n\n[[item]]\nsection = \"4.1\"\nitem = \"Search, weak\"",
            "site: search finds the products page\"]\n\n[[item]]\nsection = \"4.1\"\nitem = \"Search, weak\"",
        ),
    );
    let run = project.golive(&["coverage"]);
    run.assert_code(2);
    assert_eq!(
        run.stderr.trim_end(),
        "error: coverage item 4.1 \"Search\": by \"site: search finds the products page\": site.rhai has no item \"search finds the products page\""
    );
}
