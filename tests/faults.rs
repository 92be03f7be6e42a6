//! `golive test --faults`: each read of a passing check answered adversarially, one at a time, under each
//! scenario; a check that still passes survived (weak, unless it says why), one that passes on nothing at
//! all is vacuous. Whole outputs compared.

use crate::common::Project;

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
6 checks, 21 faults: 14 caught, 7 survived; 2 vacuous; 3 error(s)
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
        run.stdout.ends_with("6 checks, 21 faults: 20 caught, 1 survived; 0 vacuous; 0 error(s)\n"),
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
