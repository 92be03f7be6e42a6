//! ssh, docker and drush against the real sshd and the real Docker engine (the test bed), through the binary.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::testbed::{self, SITE};

/// The stand-in drush's calls of a Saturday run to its gate: the deploy phase in the runbook's order (section
/// 3), then validation's one read.
const DEPLOY_CALLS: &[&str] = &[
    "drush state:set system.maintenance_mode 1 --input-format=integer",
    "drush sql:dump --result-file=/state/backup-pre-golive-RUN.sql --gzip",
    "drush updatedb -y",
    "drush config:import -y",
    "drush cache:rebuild",
    "drush status --format=json",
    "drush image:flush --all",
    "drush config:set system.site name Jaraba Impact Platform -y",
    "drush config:set system.site mail noreply@jarabaimpact.com -y",
    "drush cache:rebuild",
    "drush search-api:index",
    "drush state:set system.maintenance_mode 0 --input-format=integer",
    // Validation's one drush read: the webhook smoke test looks for its event in Drupal's log.
    "drush watchdog:show --type=stripe --count=100 --format=json",
];

/// The stand-in drush's calls, with the run id in the backup's label written as RUN.
/// The full rollback as an operator runs it on the test bed (its database password from the environment).
fn rollback_full(project: &common::Project) -> common::Run {
    let output = project
        .command(&["scripts/rollback_full.rhai", "--yes"])
        .env("MYSQL_ROOT_PASSWORD", "rehearsal-root-pw")
        .output()
        .unwrap();
    common::Run::from(output)
}

fn drush_calls() -> Vec<String> {
    let label = regex::Regex::new(r"backup-pre-golive-[0-9]{8}-[0-9]{6}-[a-z_]+-[a-z]+(-[0-9]+)?\.sql").unwrap();
    testbed::state("drush.log")
        .lines()
        .map(|l| label.replace_all(l, "backup-pre-golive-RUN.sql").into_owned())
        .collect()
}

#[test]
fn the_deploy_phase_runs_against_the_test_bed_in_the_runbooks_order() {
    let _bed = testbed::lock();
    testbed::reset();
    let project = testbed::project_after_friday();
    let answers = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/answers/saturday-go.toml");
    let run = project.golive(&["scripts/saturday.rhai", "--answers", answers]);
    run.assert_code(0);
    assert!(run.stderr.contains("recommendation: GO"), "{}", run.stderr);
    assert!(run.stderr.contains("ok    manual \"Recoger feedback inicial\""), "{}", run.stderr);
    // The step itself checked the 503 during maintenance; the site is back at 200 with the new settings.
    assert!(run.stderr.contains("ok    step \"maintenance on\""), "{}", run.stderr);
    assert_eq!(testbed::http_status(SITE), "200");
    let page = std::process::Command::new("curl").args(["-s", SITE]).output().unwrap();
    assert!(String::from_utf8_lossy(&page.stdout).contains("<title>Jaraba Impact Platform</title>"));
    assert_eq!(drush_calls(), DEPLOY_CALLS);
    assert!(std::path::Path::new(testbed::ROOT).join("project/files/img/logo.png").exists(), "rsync copied the files");
    let backups = testbed::backups();
    assert!(
        backups.len() == 1 && backups[0].starts_with("pre-golive-20") && backups[0].ends_with("-saturday-rehearsal"),
        "{backups:?}"
    );
    // Section 4 against the release the deploy started (nginx in front of the stack) and the Stripe double:
    // measured, and printed as 4.3's table.
    assert!(
        run.stderr.contains("ok    check \"API: release desplegada y base de datos conectada\"")
            && run.stderr.contains("actual release new, db connected"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("ok    check \"Login funciona (redirect a dashboard)\"  "), "{}", run.stderr);
    assert!(run.stderr.contains("ok    check \"AI Chat: el copilot responde\""), "{}", run.stderr);
    // The e-mails the application sent, read back over IMAP from dovecot; Drupal's one-time login link
    // followed (its form, then its login), which activated the new account in the real database.
    assert!(
        run.stderr.contains("ok    check \"Registro nuevo usuario: email de verificación recibido\"")
            && run.stderr.contains("\"Verifica tu cuenta en Jaraba Impact\" to qa+")
            && run.stderr.contains("; the one-time link logged the new user in"),
        "{}",
        run.stderr
    );
    assert_eq!(testbed::sql("SELECT status FROM users WHERE mail LIKE 'qa+%' ORDER BY uid DESC LIMIT 1"), "1");
    assert!(
        run.stderr.contains("ok    check \"Email transaccional: email de prueba recibido\"  ")
            && run.stderr.contains("\"Hemos recibido tu mensaje\" from noreply@jarabaimpact.com"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("│ Cualquier smoke test crítico fallando ┆ no "), "{}", run.stderr);
    assert!(run.stderr.contains("ok    check \"Errores 500 y fatales en logs desde el deploy\""), "{}", run.stderr);
    assert!(run.stderr.contains("│ Errores 500 recurrentes en logs       ┆ no "), "{}", run.stderr);
    assert!(run.stderr.contains("ok    check \"AgroConecta: split de pago (Stripe Connect)\""), "{}", run.stderr);
    let table = run
        .stdout
        .split("4.3 Verificación de Performance")
        .nth(1)
        .unwrap_or_else(|| panic!("no table:\n{}", run.stdout));
    let ttfb_row = table.lines().find(|l| l.contains("TTFB")).unwrap();
    assert!(ttfb_row.contains(" ms") && ttfb_row.contains("OK"), "{ttfb_row}");
    // The seed's FID (< 100 ms) measured and judged, INP beside it.
    assert!(table.contains("INP (Interaction to Next Paint)"), "{table}");
    let fid_row = table.lines().find(|l| l.contains("FID (First Input Delay)")).unwrap_or_else(|| panic!("{table}"));
    assert!(fid_row.contains("< 100ms") && fid_row.contains("ms (/") && fid_row.contains("OK"), "{fid_row}");
    assert!(table.lines().any(|l| l.contains("API Response Time (p95)") && l.contains("0 errors")), "{table}");
}

/// The fault knobs (`testbed.sh fault NAME`), each a way production can be broken on Friday, against a
/// whole Friday run on the test bed: each turns exactly the items it breaks red and no other (a knob that
/// turns nothing red is a check that cannot fail; one that turns others red, a check that measures more
/// than its item). A clean bed is green.
#[test]
fn each_fault_knob_turns_exactly_its_fridays_items_red() {
    let _bed = testbed::lock();
    let project = testbed::project();
    let matrix: [(&str, &[&str]); 10] = [
        ("waf-off", &["Cloudflare WAF active"]),
        ("dns-record-gone", &["Cloudflare DNS record"]),
        ("lists-gone", &["ActiveCampaign lists"]),
        ("claude-key-revoked", &["Claude API key"]),
        ("qdrant-down", &["Qdrant ready"]),
        ("staging-backup-truncated", &["staging backup verified"]),
        ("app-test-key", &["credentials in .env", "the application runs with the keys checked"]),
        ("demo-data", &["Datos de demo/test eliminados"]),
        ("admin-role-gone", &["Usuarios admin de producción creados"]),
        ("content-short", &["Contenido inicial (KB, skills) verificado"]),
    ];
    let friday = |knob: Option<&str>| {
        testbed::reset();
        if let Some(knob) = knob {
            testbed::fault(knob);
        }
        let run = project.golive(&["scripts/friday.rhai", "--yes", "--answers", FRIDAY_ANSWERS]);
        let red: Vec<String> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("  FAIL"))
            .filter_map(|l| l.split('"').nth(1).map(str::to_string))
            .collect();
        (run.code, red)
    };
    assert_eq!(friday(None), (0, Vec::new()), "a clean bed is green");
    let mut wrong = Vec::new();
    for (knob, items) in matrix {
        let (code, red) = friday(Some(knob));
        if code != 1 || red != items {
            wrong.push(format!("{knob}: exit {code}, red {red:?}; wanted {items:?}"));
        }
    }
    testbed::reset();
    assert!(wrong.is_empty(), "knobs that did not turn exactly their items red:\n{}", wrong.join("\n"));
}

#[test]
fn friday_is_green_on_the_test_bed_and_red_when_the_waf_is_off() {
    let _bed = testbed::lock();
    testbed::reset();
    let project = testbed::project();
    let run = project.golive(&["scripts/friday.rhai", "--yes", "--answers", FRIDAY_ANSWERS]);
    run.assert_code(0);
    for check in
        ["TLS certificate valid > 30 days", "DNS resolves to the server", "Stripe in live mode", "credentials in .env"]
    {
        assert!(run.stderr.contains(&format!("ok    check \"{check}\"")), "{check}:\n{}", run.stderr);
    }
    assert!(!run.all().contains("sk_live_golive_rehearsal_0001"), "the Stripe key reached the output");
    testbed::set_vendor_state(r#"{"waf_enabled": false}"#);
    let red = project.golive(&["scripts/friday.rhai", "--yes", "--answers", FRIDAY_ANSWERS]);
    red.assert_code(1);
    assert!(red.stderr.contains("FAIL  check \"Cloudflare WAF active\""), "{}", red.stderr);
    assert!(
        red.stderr.contains("1 check(s) failed and no gate weighed them: \"Cloudflare WAF active\""),
        "{}",
        red.stderr
    );
    // Resumed before the fix: the failed check is evaluated again and stays red.
    let still_red = project.golive(&["resume", "scripts/friday.rhai", "--answers", FRIDAY_ANSWERS]);
    still_red.assert_code(1);
    assert!(still_red.stderr.contains("FAIL  check \"Cloudflare WAF active\""), "{}", still_red.stderr);
    assert!(
        still_red.stderr.contains("skip  check \"TLS certificate valid > 30 days\"  done in an earlier attempt: pass"),
        "{}",
        still_red.stderr
    );
    // Resumed after the fix: green, honestly.
    testbed::reset();
    let green = project.golive(&["resume", "scripts/friday.rhai", "--answers", FRIDAY_ANSWERS]);
    green.assert_code(0);
    assert!(green.stderr.contains("ok    check \"Cloudflare WAF active\""), "{}", green.stderr);
    let saturday = project.golive(&["run", "scripts/saturday.rhai", "--only", "Pre-Go-Live (Friday) passed"]);
    saturday.assert_code(0);
    // The application's own .env with Stripe's test key and a placeholder token, golive's keys still live:
    // the vendor checks pass on golive's keys, and the application's are judged apart (no value printed).
    let env = std::path::Path::new(testbed::ROOT).join("project/.env");
    let original = std::fs::read_to_string(&env).unwrap();
    let test_mode = regex::Regex::new(r"(?m)^STRIPE_SECRET_KEY=.*$")
        .unwrap()
        .replace(&original, "STRIPE_SECRET_KEY=sk_test_application_0001")
        .replace("ACTIVECAMPAIGN_API_TOKEN=ac-token-golive-0001", "ACTIVECAMPAIGN_API_TOKEN=x");
    std::fs::write(&env, &test_mode).unwrap();
    let app_keys = project.golive(&["scripts/friday.rhai", "--yes", "--answers", FRIDAY_ANSWERS]);
    std::fs::write(&env, &original).unwrap();
    app_keys.assert_code(1);
    assert!(app_keys.check_line("Stripe in live mode").starts_with("  ok"), "{}", app_keys.stderr);
    let shapes = app_keys.check_line("credentials in .env");
    assert!(
        shapes.starts_with("  FAIL")
            && shapes.contains("STRIPE_SECRET_KEY malformed")
            && shapes.contains("ACTIVECAMPAIGN_API_TOKEN malformed"),
        "{}",
        app_keys.stderr
    );
    let same = app_keys.check_line("the application runs with the keys checked");
    assert!(
        same.starts_with("  FAIL")
            && same.contains("STRIPE_SECRET_KEY in /tmp/golive-testbed/project/.env differs")
            && same.contains("ACTIVECAMPAIGN_API_TOKEN in /tmp/golive-testbed/project/.env differs")
            && !same.contains("ANTHROPIC_API_KEY"),
        "{}",
        app_keys.stderr
    );
    assert!(
        !app_keys.all().contains("sk_test_application_0001") && !app_keys.all().contains("sk_live_golive_rehearsal")
    );
    project.golive(&["resume", "scripts/friday.rhai", "--answers", FRIDAY_ANSWERS]).assert_code(0);
    // A 2.3 box answered "no" by the person who checked: Friday is red, and Saturday's first (required)
    // check names the box.
    let said_no = std::fs::read_to_string(FRIDAY_ANSWERS).unwrap().replace(
        "\"Scripts de migración probados\" = { answer = \"yes\"",
        "\"Scripts de migración probados\" = { answer = \"no\"",
    );
    project.write("said-no.toml", &said_no);
    project.golive(&["scripts/friday.rhai", "--yes", "--answers", "said-no.toml"]).assert_code(1);
    let saturday = project.golive(&["run", "scripts/saturday.rhai", "--only", "Pre-Go-Live (Friday) passed"]);
    saturday.assert_code(1);
    let friday = saturday.check_line("Pre-Go-Live (Friday) passed");
    assert!(friday.starts_with("  FAIL") && friday.contains("Scripts de migración probados"), "{}", saturday.stderr);
    // A run of one green item (--only) after that red Friday is the newest, and it does not stand for Friday.
    project.golive(&["run", "scripts/friday.rhai", "--only", "server reachable"]).assert_code(0);
    let saturday = project.golive(&["run", "scripts/saturday.rhai", "--only", "Pre-Go-Live (Friday) passed"]);
    saturday.assert_code(1);
    let friday = saturday.check_line("Pre-Go-Live (Friday) passed");
    assert!(friday.starts_with("  FAIL") && friday.contains("ran only some items (--only)"), "{}", saturday.stderr);
}

const FRIDAY_ANSWERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/answers/friday.toml");
const GO_ANSWERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/answers/saturday-go.toml");
const NO_GO_ANSWERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/answers/saturday-no-go.toml");
const MONDAY_ANSWERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/answers/monday.toml");

#[test]
fn the_no_go_rehearsal_stops_resume_refuses_and_a_reopened_gate_goes_on() {
    let _bed = testbed::lock();
    testbed::reset();
    let project = testbed::project_after_friday();
    let run = project.golive(&["scripts/saturday.rhai", "--answers", NO_GO_ANSWERS]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("gate \"Go/No-Go\" said NO-GO (Rehearsal (Go-Live Lead) (answers file)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("the way back: golive scripts/rollback_quick.rhai"), "{}", run.stderr);
    assert!(!run.stderr.contains("resume:  golive resume"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("Invitar a 10-20 beta testers"),
        "the soft launch began after a NO-GO:\n{}",
        run.stderr
    );
    let calls = drush_calls();
    assert_eq!(calls, DEPLOY_CALLS);
    // The deploy left the new release serving; the NO-GO is the decision to roll it back.
    assert_eq!(testbed::http_status(SITE), "200");

    let refused = project.golive(&["resume", "--answers", GO_ANSWERS]);
    refused.assert_code(1);
    assert!(refused.stderr.contains("ended with a decision; resume does not walk past it"), "{}", refused.stderr);
    assert!(refused.stderr.contains("notes: support team not ready in the rehearsal"), "{}", refused.stderr);
    assert!(refused.stderr.contains("the way back: golive scripts/rollback_quick.rhai"), "{}", refused.stderr);
    assert_eq!(drush_calls(), calls, "a refused resume touched the target");
    let status = project.golive(&["status", "scripts/saturday.rhai"]);
    let finished: Vec<&str> = status.stdout.lines().filter(|l| l.trim_start().starts_with("finished ")).collect();
    assert!(finished.len() == 1 && finished[0].contains(": exit 1 ("), "{}", status.stdout);

    let reopened = project.golive(&["resume", "--reopen-gate", "Go/No-Go", "--answers", GO_ANSWERS]);
    reopened.assert_code(0);
    assert!(reopened.stderr.contains("ok    manual \"Recoger feedback inicial\""), "{}", reopened.stderr);
    assert!(
        reopened.stderr.contains("skip  step \"database updates\"  done in an earlier attempt"),
        "{}",
        reopened.stderr
    );
    assert_eq!(drush_calls(), calls, "the reopened run redid no deploy step");
    assert_eq!(testbed::http_status(SITE), "200");
}

/// The rehearsal can fail: the release the deploy started is what validation measures. A release that
/// serves its home page but answers 500 elsewhere passes the deploy phase, fails the smoke tests, fires the
/// computed trigger, and the gate recommends NO-GO; the answers file's GO, written before that evidence, is
/// not applied. With the NO-GO answers, the decision is recorded and the way back is named.
#[test]
fn a_broken_release_fails_validation_and_the_gate_recommends_no_go_whatever_the_answers_file_said() {
    let _bed = testbed::lock();
    testbed::reset();
    // (First: the first project of a process rehearses Friday and the rollback, then resets the bed.)
    let project = testbed::project_after_friday();
    testbed::next_release("broken");
    let run = project.golive(&["scripts/saturday.rhai", "--answers", GO_ANSWERS]);
    run.assert_code(1);
    assert!(run.stderr.contains("ok    step \"maintenance off\""), "the home page still answers:\n{}", run.stderr);
    for check in [
        "API: release desplegada y base de datos conectada",
        "Login funciona (redirect a dashboard)",
        "AI Chat: el copilot responde",
        "Búsqueda funciona",
    ] {
        assert!(run.stderr.contains(&format!("FAIL  check \"{check}\"")), "{check}:\n{}", run.stderr);
    }
    assert!(run.stderr.contains("│ Cualquier smoke test crítico fallando ┆ FIRED"), "{}", run.stderr);
    // nginx's access log and the container's log, scanned since the release took traffic.
    let logs = run.check_line("Errores 500 y fatales en logs desde el deploy");
    assert!(
        logs.contains("FAIL") && logs.contains("HTTP 5xx x") && logs.contains("PHP fatal error x"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("log lines matching error patterns:\n127.0.0.1 - - ["), "{}", run.stdout);
    assert!(run.stderr.contains("│ Errores 500 recurrentes en logs       ┆ FIRED"), "{}", run.stderr);
    assert!(run.stderr.contains("recommendation: NO-GO"), "{}", run.stderr);
    assert!(
        run.stderr.contains("error: gate \"Go/No-Go\" recommends NO-GO (\"API: release desplegada y base de datos conectada\" failed,")
            && run.stderr.contains("and the GO given by Rehearsal (Go-Live Lead) (answers file) was written before this evidence: it is not applied"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Invitar a 10-20 beta testers"), "the soft launch began:\n{}", run.stderr);

    testbed::reset();
    testbed::next_release("broken");
    let decided = project.golive(&["scripts/saturday.rhai", "--answers", NO_GO_ANSWERS]);
    decided.assert_code(1);
    assert!(decided.stderr.contains("recommendation: NO-GO"), "{}", decided.stderr);
    assert!(decided.stderr.contains("gate \"Go/No-Go\" said NO-GO"), "{}", decided.stderr);
    assert!(decided.stderr.contains("the way back: golive scripts/rollback_quick.rhai"), "{}", decided.stderr);
}

/// A release that works but feels bad in a browser (its banner lands late without a size; its menu button
/// blocks for 350 ms): headless Chromium measures CLS and INP over target on the home page, the
/// performance trigger fires and the gate recommends NO-GO. The same Saturday on the clean release passes
/// them (the whole weekend's test).
#[test]
fn a_janky_release_fails_the_browser_vitals_and_the_gate_recommends_no_go() {
    let _bed = testbed::lock();
    testbed::reset();
    // (First: the first project of a process rehearses Friday and the rollback, then resets the bed.)
    let project = testbed::project_after_friday();
    testbed::next_release("janky");
    let run = project.golive(&["scripts/saturday.rhai", "--answers", GO_ANSWERS]);
    run.assert_code(1);
    let home = run.stdout.lines().find(|l| l.starts_with("/: LCP ")).unwrap_or_default();
    let value = |name: &str| -> f64 {
        let after = home.split(&format!("{name} ")).nth(1).unwrap_or_default();
        after.split([' ', ',']).next().unwrap_or_default().parse().unwrap_or(f64::NAN)
    };
    assert!(value("CLS") > 0.1 && value("INP") > 200.0, "home page vitals: {home}\n{}", run.stdout);
    let login = run.stdout.lines().find(|l| l.starts_with("/user/login: LCP ")).unwrap_or_default();
    assert!(login.contains("CLS 0.0,"), "the login page has no banner: {login}");
    let vitals = run.check_line("Core Web Vitals en navegador (LCP, INP, CLS)");
    assert!(vitals.starts_with("  FAIL") && vitals.contains("(/, median of 5)"), "{}", run.stderr);
    assert!(run.stderr.contains("│ Performance > 2x de targets           ┆ FIRED"), "{}", run.stderr);
    assert!(run.stderr.contains("recommendation: NO-GO"), "{}", run.stderr);
    assert!(run.stderr.contains("\"Core Web Vitals en navegador (LCP, INP, CLS)\" failed"), "{}", run.stderr);
    // The login and registration smoke tests walked in the same browser still pass on this release.
    assert!(run.check_line("Login funciona (redirect a dashboard)").starts_with("  ok"), "{}", run.stderr);
    assert!(
        run.check_line("Registro nuevo usuario: email de verificación recibido").starts_with("  ok"),
        "{}",
        run.stderr
    );
    let evidence = project.path().join(".golive/evidence");
    let shots: Vec<_> = std::fs::read_dir(&evidence).map(|d| d.flatten().collect()).unwrap_or_default();
    assert_eq!(shots.len(), 1, "one run's evidence folder under {}", evidence.display());
    let png = std::fs::read(shots[0].path().join("login.png")).expect("the login screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
}

/// s3::list against the test bed's S3 (moto's server: the S3 API, signed requests): the dump backup.sh put
/// there, its size the local one's and minutes old; a bucket that does not exist is S3's own error, never
/// an empty listing; the keys reach no output.
#[test]
fn s3_list_reads_what_the_backup_put_off_site_and_a_missing_bucket_fails() {
    let _bed = testbed::lock();
    testbed::reset();
    let project = testbed::project();
    project.write(
        "s3.rhai",
        "step \"backup\" { ssh::run(target(), \"./scripts/backup.sh --full --label s3-test\", #{ dir: target().project_dir }); }\n\
         step \"list\" { for o in s3::list(\"s3://jaraba-backups/s3-test/\") { print(`listed ${o.key} ${o.size} ${o.age_hours}`); } }\n\
         step \"missing\" { s3::list(\"s3://no-such-bucket/s3-test/\"); }\n",
    );
    let run = project.golive(&["s3.rhai"]);
    run.assert_code(1);
    let local =
        std::fs::metadata(format!("{}/project/backups/s3-test/db.sql", testbed::ROOT)).expect("the local dump").len();
    assert!(run.stdout.contains(&format!("listed s3-test/db.sql {local} 0.0\n")), "{}", run.all());
    assert!(run.stderr.contains("listing s3://no-such-bucket/s3-test/: S3 answered NoSuchBucket"), "{}", run.all());
    let secret = "golive-rehearsal-s3-secret-0001";
    assert!(!run.all().contains(secret) && !project.state_files().contains(secret), "the S3 key reached an output");
}

/// A plan under a scenario predicts what a real run with the same answers does: same exit code, same end.
#[test]
fn plans_predict_the_runs_outcome_on_the_test_bed() {
    let _bed = testbed::lock();
    let project = testbed::project();
    let plan = |script: &str, scenario: &str| {
        project.golive(&[
            "plan",
            script,
            "--scenario",
            &format!("{}/tests/scenarios/{scenario}.toml", env!("CARGO_MANIFEST_DIR")),
        ])
    };
    let outcome = |text: &str| text.lines().find(|l| l.starts_with("outcome:")).unwrap_or_default().to_string();

    testbed::reset();
    let run = project.golive(&["scripts/friday.rhai", "--answers", FRIDAY_ANSWERS]);
    let planned = plan("scripts/friday.rhai", "friday.happy");
    assert_eq!((run.code, planned.code), (0, 0), "{}\n{}", run.stderr, planned.stdout);

    let red_plan = plan("scripts/friday.rhai", "friday.red");
    assert_eq!(red_plan.code, 1, "{}", red_plan.stdout);
    assert!(outcome(&red_plan.stdout).contains("check(s) failed and no gate weighed them"), "{}", red_plan.stdout);
    testbed::set_vendor_state(r#"{"waf_enabled": false}"#);
    let red = project.golive(&["scripts/friday.rhai", "--answers", FRIDAY_ANSWERS]);
    testbed::reset();
    assert_eq!(red.code, red_plan.code, "{}", red.stderr);
    assert!(red.stderr.contains("check(s) failed and no gate weighed them"), "{}", red.stderr);

    // Saturday onto that red Friday stops at its first check, before anything is touched, as the plan says.
    let run = project.golive(&["scripts/saturday.rhai", "--answers", GO_ANSWERS]);
    let planned = plan("scripts/saturday.rhai", "saturday.friday-red");
    assert_eq!((run.code, planned.code), (1, 1), "{}\n{}", run.stderr, planned.stdout);
    let friday = run.check_line("Pre-Go-Live (Friday) passed");
    assert!(friday.starts_with("  FAIL") && friday.contains("not passed: [\"Cloudflare WAF active"), "{}", run.stderr);
    assert!(planned.stdout.contains("not passed: [\"Stripe in live mode\"]"), "{}", planned.stdout);
    assert_eq!(drush_calls(), Vec::<String>::new(), "Saturday touched the stack after a red Friday");
    assert_eq!(testbed::http_status(SITE), "200");
    // Friday resumed after the fix: green, the rollback rehearsed, and Saturday goes.
    project.golive(&["resume", "scripts/friday.rhai", "--answers", FRIDAY_ANSWERS]).assert_code(0);
    testbed::rehearse_quick_rollback(&project);

    let run = project.golive(&["scripts/saturday.rhai", "--answers", GO_ANSWERS]);
    let planned = plan("scripts/saturday.rhai", "saturday.happy");
    assert_eq!((run.code, planned.code), (0, 0), "{}\n{}", run.stderr, planned.stdout);

    testbed::reset();
    let run = project.golive(&["scripts/saturday.rhai", "--answers", NO_GO_ANSWERS]);
    let planned = plan("scripts/saturday.rhai", "saturday.no-go");
    assert_eq!((run.code, planned.code), (1, 1), "{}\n{}", run.stderr, planned.stdout);
    assert!(outcome(&planned.stdout).contains("gate \"Go/No-Go\" said NO-GO"), "{}", planned.stdout);

    testbed::reset();
    testbed::set_fault("fault-updatedb");
    let run = project.golive(&["scripts/saturday.rhai", "--answers", GO_ANSWERS]);
    testbed::reset();
    let planned = plan("scripts/saturday.rhai", "saturday.updb-fails");
    assert_eq!((run.code, planned.code), (1, 1), "{}\n{}", run.stderr, planned.stdout);
    assert!(run.stderr.contains("step \"database updates\" failed"), "{}", run.stderr);
    assert!(outcome(&planned.stdout).contains("step \"database updates\" failed"), "{}", planned.stdout);

    // monitor.critical: the error rate is critical at once (a constant query stands in for a burst of
    // 5xx), the operator takes the quick rollback from an answers file, and the watch stops.
    let config = critical_error_rate(&project);
    project.write("rollback.toml", "\"watch table 8.1\" = { answer = \"yes\", by = \"Rehearsal (DevOps Lead)\" }\n");
    let backup = testbed::image_id("jaraba/drupal:11-prod-backup");
    let run = project.golive(&["scripts/monitor.rhai", "--answers", "rollback.toml"]);
    let rolled_back = testbed::image_id("jaraba/drupal:11-prod") == backup;
    // The critical alert's e-mail, as the test bed's SMTP sink kept it: the action on a line of its own.
    // Maildir: new/ until an IMAP client has seen the message, cur/ after.
    let mails: Vec<String> = ["mail/new", "mail/cur"]
        .iter()
        .flat_map(|d| std::fs::read_dir(std::path::Path::new(testbed::ROOT).join(d)).into_iter().flatten().flatten())
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    let alert = mails.iter().find(|m| m.contains("Subject: [golive] CRITICAL")).cloned().unwrap_or_default();
    assert!(alert.contains("\nAcci"), "no critical alert e-mail with the action on its own line:\n{alert}");
    assert!(!alert.contains("\\nAcci"), "the e-mail body holds a literal \\n:\n{alert}");
    std::fs::write(project.file("golive.toml"), config).unwrap();
    testbed::reset();
    let planned = plan("scripts/monitor.rhai", "monitor.critical");
    // The watch stopped with the error rate still critical: the monitor's run is red, and its plan says so.
    assert_eq!((run.code, planned.code), (1, 1), "{}\n{}", run.all(), planned.stdout);
    assert!(run.stderr.contains("\"watch table 8.1: no alert left open\""), "{}", run.stderr);
    assert!(rolled_back, "the quick rollback did not run:\n{}", run.all());
    assert!(run.stdout.contains("stopped by action") && planned.stdout.contains("stopped by action"), "{}", run.stdout);
}

/// Makes the rehearsal's error rate critical at once (a constant query stands in for a burst of 5xx);
/// gives the golive.toml to put back.
fn critical_error_rate(project: &common::Project) -> String {
    let config = project.read("golive.toml");
    let critical = config.replace(
        "error_rate_query = '100 * (sum(rate(prometheus_http_requests_total{code=~\"5..\"}[1m])) or vector(0)) / sum(rate(prometheus_http_requests_total[1m]))'",
        "error_rate_query = 'vector(7.5)'",
    );
    assert_ne!(config, critical, "the rehearsal's error-rate query moved");
    std::fs::write(project.file("golive.toml"), critical).unwrap();
    config
}

#[test]
fn killed_mid_deploy_then_resumed_runs_no_step_twice() {
    let _bed = testbed::lock();
    testbed::reset();
    let project = testbed::project_after_friday();
    let mut child = project
        .command(&[
            "scripts/saturday.rhai",
            "--yes",
            "--answers",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/answers/saturday-go.toml"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !testbed::state("drush.log").contains("drush updatedb -y") {
        assert!(Instant::now() < deadline, "the deploy never reached the database updates");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(1500)); // a command already sent finishes on the target
    let answers = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/answers/saturday-go.toml");
    let mut args = vec!["resume", "--non-interactive", "--yes", "--answers", answers];
    for _ in 0..4 {
        let run = project.golive(&args);
        if run.code == 0 {
            break;
        }
        run.assert_code(1);
        let end = run.stderr.find("\" is in doubt").unwrap_or_else(|| panic!("no step in doubt:\n{}", run.stderr));
        let step = run.stderr[..end].rsplit("step \"").next().unwrap_or_default().to_string();
        assert!(run.stderr.contains("is in doubt"), "{}", run.stderr);
        // The operator checks the drush log for the in-doubt step's command, then decides.
        let done = match step.as_str() {
            "database updates" => drush_calls().iter().any(|c| c == "drush updatedb -y"),
            "config import" => drush_calls().iter().any(|c| c == "drush config:import -y"),
            other => panic!("unexpected step in doubt: {other}"),
        };
        args = vec![
            "resume",
            "--non-interactive",
            "--yes",
            "--answers",
            answers,
            "--in-doubt",
            if done { "mark-done" } else { "rerun" },
        ];
    }
    assert_eq!(drush_calls(), DEPLOY_CALLS, "every drush call exactly once, in order");
    assert_eq!(testbed::http_status(SITE), "200");
}

/// A quick rollback to an image that is the release it rolls back from (production's -backup tag named the
/// same image: nothing to go back to) is no rollback: "running the backup image" fails, where comparing
/// the two tags right after pointing one at the other always passed.
#[test]
fn quick_rollback_onto_the_same_release_fails_running_the_backup_image() {
    let _bed = testbed::lock();
    testbed::reset();
    testbed::next_release("backup");
    assert_eq!(testbed::image_id("jaraba/drupal:11-prod"), testbed::image_id("jaraba/drupal:11-prod-backup"));
    let project = testbed::project();
    let run = project.golive(&["scripts/rollback_quick.rhai", "--yes"]);
    run.assert_code(1);
    let line = run.check_line("running the backup image");
    assert!(line.starts_with("  FAIL") && line.contains(": the release rolled back from"), "{}", run.stderr);
    testbed::reset();
}

/// Saturday takes nothing down before it knows the quick rollback's `-backup` image is on the server.
#[test]
fn saturday_requires_the_rollback_image_before_the_deploy() {
    let _bed = testbed::lock();
    testbed::reset();
    let project = testbed::project();
    let kept = project.golive(&["run", "scripts/saturday.rhai", "--only", "rollback image kept (7.1)"]);
    kept.assert_code(0);
    assert!(kept.check_line("rollback image kept (7.1)").contains("(actual sha256:"), "{}", kept.stderr);
    let removed = std::process::Command::new("docker").args(["rmi", "jaraba/drupal:11-prod-backup"]).output().unwrap();
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    let missing = project.golive(&["run", "scripts/saturday.rhai", "--only", "rollback image kept (7.1)"]);
    missing.assert_code(1);
    assert!(missing.check_line("rollback image kept (7.1)").starts_with("  FAIL"), "{}", missing.stderr);
    assert!(missing.stderr.contains("required check \"rollback image kept (7.1)\" failed"), "{}", missing.stderr);
    testbed::reset();
    assert_ne!(testbed::image_id("jaraba/drupal:11-prod-backup"), "", "reset tags the backup image again");
}

#[test]
fn quick_rollback_swaps_the_image_tags_for_real_within_its_budget() {
    let _bed = testbed::lock();
    testbed::reset();
    let new = testbed::image_id("jaraba/drupal:11-prod");
    let backup = testbed::image_id("jaraba/drupal:11-prod-backup");
    assert_ne!(new, backup);
    let project = testbed::project();
    let run = project.golive(&["scripts/rollback_quick.rhai", "--yes"]);
    run.assert_code(0);
    assert_eq!(testbed::image_id("jaraba/drupal:11-prod"), backup, "11-prod is now the backup image");
    assert_eq!(testbed::image_id("jaraba/drupal:11-prod-failed"), new, "the failed release is kept as -failed");
    assert!(run.stderr.contains("ok    check \"running the backup image\""), "{}", run.stderr);
    let budget = run.check_line("Quick rollback: within its 5m budget");
    assert!(budget.starts_with("  ok") && budget.contains("target < 5m00s"), "{}", run.stderr);
    assert_eq!(testbed::http_status(SITE), "503", "maintenance stays on after the quick rollback");

    // The full rollback restores the pre-golive backup and reopens the site.
    let deploy_backup =
        std::path::Path::new(testbed::ROOT).join("project/backups/pre-golive-99991231-000000-saturday-rehearsal");
    std::fs::create_dir_all(deploy_backup.join("files")).unwrap();
    // A dump of a real size: the full rollback refuses one below backup_min_bytes (1 KiB), as an empty
    // dump would restore an empty site.
    let padding = "-- pre-golive dump of the rehearsal database\n".repeat(30);
    std::fs::write(
        deploy_backup.join("db.sql"),
        format!("{padding}CREATE TABLE restored_marker (id int);\nINSERT INTO restored_marker VALUES (42);\n"),
    )
    .unwrap();
    std::fs::write(deploy_backup.join("files/restored.txt"), "restored\n").unwrap();
    let child = project
        .command(&["scripts/rollback_full.rhai", "--yes"])
        .env("MYSQL_ROOT_PASSWORD", "rehearsal-root-pw")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // While it restores, no process on the target shows the password.
    let mut seen = Vec::new();
    let watching = Instant::now();
    while watching.elapsed() < Duration::from_secs(4) {
        let ps = std::process::Command::new("ps").args(["-eo", "args"]).output().unwrap();
        let ps = String::from_utf8_lossy(&ps.stdout).into_owned();
        if ps.contains("rehearsal-root-pw") {
            seen.push(ps);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let full = common::Run::from(child.wait_with_output().unwrap());
    full.assert_code(0);
    assert!(seen.is_empty(), "the password was in the process list:\n{}", seen[0]);
    assert!(
        testbed::state("mysql.log").contains("mysql -u root jaraba\npassword from the environment: 17 characters"),
        "{}",
        testbed::state("mysql.log")
    );
    assert_eq!(testbed::sql("SELECT id FROM restored_marker"), "42", "the dump was restored into the real database");
    let files = std::path::Path::new(testbed::ROOT).join("project/files");
    assert!(files.join("restored.txt").exists() && !files.join("old.txt").exists(), "files restored with --delete");
    assert_eq!(testbed::http_status(SITE), "200");
    assert!(
        !full.all().contains("rehearsal-root-pw") && !project.state_files().contains("rehearsal-root-pw"),
        "the password leaked"
    );
}

#[test]
fn hostile_arguments_arrive_byte_for_byte_and_create_no_file() {
    let _bed = testbed::lock();
    let project = testbed::project();
    let canary = format!("/tmp/golive-pwned-{}", std::process::id());
    let hostile = [
        "two words".to_string(),
        "it's".into(),
        "say \"hi\"".into(),
        format!("a; touch {canary}-semicolon"),
        format!("$(touch {canary}-subst)"),
        format!("`touch {canary}-backtick`"),
        "$HOME".into(),
        "*".into(),
        "~".into(),
        "new\nline".into(),
        "tab\there".into(),
        "back\\slash".into(),
        "héllo ünïcode ✓".into(),
        "--dash".into(),
        "".into(),
        format!("| touch {canary}-pipe"),
    ];
    let array = hostile.iter().map(|h| format!("{h:?}")).collect::<Vec<_>>().join(", ");
    project.write(
        "hostile.rhai",
        &format!(
            r#"
            let t = target();
            let words = [{array}];
            step "ssh" {{ ssh::exec(t, ["printf", "<%s>\n"] + words).stdout }}
            step "compose" {{ docker::compose(t).exec("drupal", ["printf", "<%s>\n"] + words).stdout }}
            step "drush" {{ drush::run(t, ["echo-args"] + words).stdout }}
            "#
        ),
    );
    project.golive(&["hostile.rhai"]).assert_code(0);
    let expected: String = hostile.iter().map(|h| format!("<{h}>\n")).collect();
    let journal = std::fs::read_to_string(&project.journals()[0]).unwrap();
    let values: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "step_finished")
        .collect();
    assert_eq!(values.len(), 3);
    for value in values {
        assert_eq!(value["value"].as_str().unwrap(), expected, "step {}", value["step"]);
    }
    for suffix in ["-semicolon", "-subst", "-backtick", "-pipe"] {
        assert!(!std::path::Path::new(&format!("{canary}{suffix}")).exists(), "{suffix} ran as code");
    }
}

fn fails_with(script: &str, target: &str, expect: &[&str]) -> Duration {
    let project = testbed::project();
    project.write("f.rhai", script);
    let started = Instant::now();
    let run = project.golive(&["f.rhai", "--target", target]);
    let took = started.elapsed();
    run.assert_code(1);
    for e in expect {
        assert!(run.stderr.contains(e), "expected {e:?} in:\n{}", run.stderr);
    }
    took
}

#[test]
fn connection_problems_fail_the_step_with_what_to_do() {
    let _bed = testbed::lock();
    let script = "step \"hello\" { ssh::run(target(), \"true\"); }\n";
    fails_with(script, "unknown_key", &["host key of 127.0.0.1:2201 is not in", "ssh-keyscan -p 2201 127.0.0.1 >>"]);
    fails_with(script, "changed_key", &["host key of 127.0.0.1:2201 has CHANGED", "ssh-keygen -R '[127.0.0.1]:2201'"]);
    fails_with(
        script,
        "wrong_user",
        &["refused to log in user `no-such-user`", "check `user` and `identity_file` for [targets.wrong_user]"],
    );
    fails_with(script, "refused", &["127.0.0.1:2299 refused the connection; is sshd running there"]);
}

#[test]
fn remote_failures_fail_the_step_with_what_to_do_within_the_timeout() {
    let _bed = testbed::lock();
    testbed::reset();
    let missing = "step \"x\" { ssh::run(target(), \"no-such-tool --flag\"); }\n";
    fails_with(missing, "rehearsal", &["command not found: `no-such-tool` (exit 127)"]);

    testbed::set_fault("fault-updatedb");
    let updb = "step \"database updates\" { drush::updb(target()); }\n";
    fails_with(updb, "rehearsal", &["drush updatedb -y", "exited with 1", "[error] updatedb failed"]);

    testbed::reset();
    testbed::set_fault("hang-cache-rebuild");
    let hang = "step \"cache rebuild\" with #{ timeout: \"3s\" } { drush::cr(target()); }\n";
    let took = fails_with(hang, "rehearsal", &["timed out (the step's timeout of 3.0s ran out)"]);
    assert!(took < Duration::from_secs(15), "the hang was not cut at the timeout: {took:?}");

    testbed::reset();
    testbed::set_fault("fault-health");
    // As in a deploy: the stack restarts, and its healthcheck then fails.
    let unhealthy = "let s = docker::compose(target());\nstep \"restart\" { s.down(); s.up(); }\nstep \"healthy\" { s.wait_healthy(\"8s\"); }\n";
    let project = testbed::project();
    project.write("f.rhai", unhealthy);
    let run = project.golive(&["f.rhai", "--target", "rehearsal"]);
    run.assert_code(1);
    for e in
        ["step \"healthy\" failed", "was not healthy after 8.0s: drupal is running (unhealthy)", "docker-compose logs"]
    {
        assert!(run.stderr.contains(e), "expected {e:?} in:\n{}", run.stderr);
    }
    // A deadline, not a count of polls: the wait ends at 8 s, not after 8 sleeps plus every `ps`.
    let journal = std::fs::read_to_string(project.journals().pop().unwrap()).unwrap();
    let waited = journal
        .lines()
        .filter(|l| l.contains("\"event\":\"step_finished\"") && l.contains("\"step\":\"healthy\""))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["duration_ms"].as_u64().unwrap())
        .next()
        .unwrap_or_else(|| panic!("{journal}"));
    assert!((8000..9500).contains(&waited), "wait_healthy(\"8s\") took {waited} ms");

    testbed::reset();
    testbed::set_fault("fault-db");
    let status = "step \"status\" { drush::status(target()); }\n";
    fails_with(status, "rehearsal", &["drush status: Drupal did not bootstrap", "the database is not connected"]);
    testbed::reset();
}

#[test]
fn a_lost_connection_fails_the_step_and_the_next_step_reconnects() {
    let _bed = testbed::lock();
    let project = testbed::project();
    // Kill this session's own sshd child (its parent), mid-step: the connection drops under the command.
    project.write(
        "lost.rhai",
        "let t = target();\n\
         step \"before\" { ssh::run(t, \"true\"); }\n\
         step \"drop\" { ssh::run(t, \"kill -9 $PPID; sleep 5\"); }\n",
    );
    let run = project.golive(&["lost.rhai"]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("the connection to 127.0.0.1:2201 was lost while running a command; the next step reconnects"),
        "{}",
        run.stderr
    );
    project.write(
        "lost.rhai",
        "let t = target();\n\
         step \"before\" { ssh::run(t, \"true\"); }\n\
         step \"drop\" { ssh::run(t, \"echo reconnected\").stdout }\n",
    );
    let resumed = project.golive(&["resume", "--in-doubt", "rerun"]);
    resumed.assert_code(0);
    let journal = std::fs::read_to_string(project.journals().last().unwrap()).unwrap();
    assert!(journal.contains("\"value\":\"reconnected\\n\""), "{journal}");
}

#[test]
fn files_go_up_and_come_back_whole() {
    let _bed = testbed::lock();
    let project = testbed::project();
    let payload: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    std::fs::write(project.file("payload.bin"), &payload).unwrap();
    let remote = format!("{}/ssh/home/payload-{}.bin", testbed::ROOT, std::process::id());
    project.write(
        "files.rhai",
        &format!(
            "let t = target();\n\
             step \"up\" {{ ssh::upload(t, \"payload.bin\", \"{remote}\") }}\n\
             step \"down\" {{ ssh::download(t, \"{remote}\", \"back.bin\") }}\n\
             step \"missing\" {{ ssh::download(t, \"{remote}.nope\", \"nope.bin\") }}\n"
        ),
    );
    let run = project.golive(&["files.rhai"]);
    run.assert_code(1);
    assert_eq!(std::fs::read(project.file("back.bin")).unwrap(), payload, "the file came back changed");
    assert!(run.stderr.contains("download of") && run.stderr.contains(".nope failed (exit 1)"), "{}", run.stderr);
    assert!(
        !project.file("nope.bin").exists() && !project.file("nope.bin.golive-partial").exists(),
        "a failed download left a file"
    );
    let _ = std::fs::remove_file(remote);
}

#[test]
fn fan_out_reports_each_hosts_result_and_names_every_failure() {
    let _bed = testbed::lock();
    let project = testbed::project();
    project.write(
        "each.rhai",
        "let hosts = [target(\"rehearsal\"), target(\"local\"), target(\"refused\")];\n\
         step \"all\" { ssh::run_each(hosts, \"echo hi from $(id -un)\") }\n",
    );
    let run = project.golive(&["each.rhai"]);
    run.assert_code(1);
    assert!(run.stderr.contains("1 of 3 targets failed"), "{}", run.stderr);
    assert!(run.stderr.contains("refused: ") && run.stderr.contains("2299 refused the connection"), "{}", run.stderr);
    let journal = std::fs::read_to_string(&project.journals()[0]).unwrap();
    assert!(
        journal.contains("rehearsal$ echo hi from $(id -un)") && journal.contains("local$ echo hi from $(id -un)"),
        "{journal}"
    );
    assert_eq!(journal.matches("\"event\":\"effect_finished\"").count(), 3, "{journal}");
    project.write("each.rhai", "let hosts = [target(\"rehearsal\"), target(\"local\")];\nstep \"all\" { let r = ssh::run_each(hosts, \"id -un\"); r.rehearsal.stdout + r.local.stdout }\n");
    let run = project.golive(&["each.rhai"]);
    run.assert_code(0);
    let journal = std::fs::read_to_string(project.journals().last().unwrap()).unwrap();
    assert!(journal.contains("\"value\":\"golive\\nroot\\n\""), "{journal}");
}

/// A step's timeout bounds its remote commands beyond the per-command default (shortened here to 1 s so
/// the test need not wait 11 minutes): a 2 s remote command completes under a 12 s step timeout.
#[test]
fn a_steps_timeout_bounds_its_remote_commands_beyond_the_per_command_default() {
    let _bed = testbed::lock();
    let project = testbed::project();
    let config = project
        .read("golive.toml")
        .replace("default_target = \"rehearsal\"", "default_target = \"rehearsal\"\ncommand_timeout = \"1s\"");
    std::fs::write(project.file("golive.toml"), config).unwrap();
    project.write(
        "long.rhai",
        "step \"backup\" with #{ timeout: \"12s\" } { ssh::run(target(), \"sleep 2; echo backed-up\").stdout }\n",
    );
    let run = project.golive(&["long.rhai"]);
    run.assert_code(0);
    project.write("short.rhai", "step \"backup\" { ssh::run(target(), \"sleep 2; echo backed-up\").stdout }\n");
    let run = project.golive(&["short.rhai"]);
    run.assert_code(1);
    assert!(run.stderr.contains("timed out after 1.0s"), "{}", run.stderr);
}

/// Ten names for the test bed's sshd: each is a target of its own, with its own master.
fn many_targets(project: &common::Project) {
    let ssh = format!("{}/ssh", testbed::ROOT);
    let mut config = project.read("golive.toml");
    for i in 1..=10 {
        config.push_str(&format!(
            "\n[targets.web{i}]\nhost = \"127.0.0.1\"\nport = 2201\nuser = \"golive\"\nidentity_file = \"{ssh}/client_ed25519\"\nknown_hosts = \"{ssh}/known_hosts\"\n"
        ));
    }
    std::fs::write(project.file("golive.toml"), config).unwrap();
}

#[test]
fn a_runbook_moving_between_three_targets_and_fanning_out_to_ten_twice_works() {
    let _bed = testbed::lock();
    let project = testbed::project();
    many_targets(&project);
    let mut script = String::new();
    for i in 0..30 {
        let web = ["web1", "web2", "web3"][i % 3];
        script
            .push_str(&format!("step \"step {i} on {web}\" {{ ssh::run(target(\"{web}\"), \"echo {i}\").stdout }}\n"));
    }
    let names: Vec<String> = (1..=10).map(|i| format!("target(\"web{i}\")")).collect();
    script.push_str(&format!(
        "step \"fan out\" {{ ssh::run_each([{0}], \"hostname\").len() }}\nstep \"fan out again\" {{ ssh::run_each([{0}], \"hostname\").len() }}\n",
        names.join(", ")
    ));
    // One host of ten (the first to make the folder) takes a second: each is journaled with its own time.
    let gate = format!("/tmp/golive-uneven-{}", std::process::id());
    script.push_str(&format!(
        "step \"uneven fan out\" {{ ssh::run_each([{}], \"mkdir {gate} 2>/dev/null && sleep 1; rmdir {gate} 2>/dev/null; true\").len() }}\n",
        names.join(", ")
    ));
    project.write("hosts.rhai", &script);
    let run = project.golive(&["hosts.rhai"]);
    run.assert_code(0);
    assert_eq!(run.stderr.matches("ok    step").count(), 33, "{}", run.stderr);
    let journal = std::fs::read_to_string(project.journals().pop().unwrap()).unwrap();
    let durations: Vec<u64> = journal
        .lines()
        .filter(|l| l.contains("\"event\":\"effect_finished\"") && l.contains("\"step\":\"uneven fan out\""))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["duration_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(durations.len(), 10, "{journal}");
    assert!(durations.iter().filter(|d| **d >= 1000).count() >= 1, "{durations:?}");
    assert!(durations.iter().filter(|d| **d < 900).count() >= 5, "every host got the fan-out's total: {durations:?}");
}

/// `golive script` in the project, its writes and syncs traced (strace): the trace.
fn traced_run(project: &common::Project, script: &str) -> String {
    let trace = project.file("trace");
    let traced = std::process::Command::new("strace")
        .args(["-f", "-qq", "-s", "300", "-e", "trace=write,fdatasync", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_golive"))
        .arg(script)
        .current_dir(project.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("strace runs (the Debian package strace)");
    common::Run::from(traced).assert_code(0);
    std::fs::read_to_string(trace).unwrap()
}

/// Walks golive's main thread in a trace and checks that each write `acts` picks out (by its fd and data)
/// comes after a sync of the journal covering at least as many `event` lines as such writes so far. The
/// calls: `PID write(FD, "...", N` as it starts, and `PID fdatasync(FD) = 0`, or `PID fdatasync(FD
/// <unfinished ...>` then `PID <... fdatasync resumed>) = 0` when another thread's call came in between: a
/// sync covers the lines written before it began. Returns the counts: event lines, acts, syncs.
fn acts_after_their_lines_are_synced(trace: &str, event: &str, acts: impl Fn(&str, &str) -> bool) -> [usize; 3] {
    let event = format!("{{\\\"event\\\":\\\"{event}\\\"");
    let main_pid =
        trace.lines().find(|l| l.contains(&event)).and_then(|l| l.split_whitespace().next()).unwrap_or_default();
    let (mut journal_fd, mut lines, mut synced, mut done, mut syncs) = (None::<&str>, 0, 0, 0, 0);
    let mut sync_began = None;
    for line in trace.lines() {
        let Some(call) = line.strip_prefix(main_pid).map(str::trim_start) else { continue };
        if let Some(rest) = call.strip_prefix("write(") {
            let (fd, data) = rest.split_once(", \"").unwrap_or_default();
            if data.starts_with(&event) {
                journal_fd = Some(fd);
                lines += 1;
            } else if acts(fd, data) {
                done += 1;
                assert!(synced >= done, "write {done} ({data}) with {synced} {event} lines synced:\n{trace}");
            }
        } else if let Some(rest) = call.strip_prefix("fdatasync(") {
            let fd = rest.split(|c: char| !c.is_ascii_digit()).next().unwrap_or_default();
            if journal_fd != Some(fd) {
                continue;
            }
            if rest.ends_with("<unfinished ...>") {
                sync_began = Some(lines);
            } else if rest.ends_with("= 0") {
                (synced, syncs) = (lines, syncs + 1);
            }
        } else if call.starts_with("<... fdatasync resumed>")
            && call.ends_with("= 0")
            && let Some(covered) = sync_began.take()
        {
            (synced, syncs) = (covered, syncs + 1);
        }
    }
    [lines, done, syncs]
}

/// A fan-out of writes over ten hosts, traced: each go-ahead golive sends a host comes after a sync of the
/// journal that covers as many `effect_running` lines as go-aheads sent by then, so no write starts before
/// where it runs is on disk; the hosts' lines share syncs.
#[test]
fn each_fanned_out_write_starts_only_once_its_running_line_is_synced() {
    let _bed = testbed::lock();
    let project = testbed::project();
    many_targets(&project);
    let names: Vec<String> = (1..=10).map(|i| format!("target(\"web{i}\")")).collect();
    let steps: String = (0..5)
        .map(|i| format!("step \"fan out {i}\" {{ ssh::run_each([{}], \"true\"); }}\n", names.join(", ")))
        .collect();
    project.write("fan.rhai", &steps);
    let trace = traced_run(&project, "fan.rhai");
    let go_ahead = |_: &str, data: &str| data.starts_with("go\\n\"");
    let [lines, go_aheads, syncs] = acts_after_their_lines_are_synced(&trace, "effect_running", go_ahead);
    assert_eq!(go_aheads, 50, "one go-ahead per host and step:\n{trace}");
    assert_eq!(lines, 50, "one running line per host and step:\n{trace}");
    eprintln!("{syncs} journal syncs for 5 steps of 10 writes");
}

/// Per-host steps over ten hosts run together as strands, traced: each step's end is reported to the
/// operator only after a sync that covers as many `step_finished` lines as ends reported by then (the
/// strands that end together share a sync, none goes on before its own line is on disk).
#[test]
fn per_host_steps_end_only_once_their_closing_lines_are_synced() {
    let _bed = testbed::lock();
    let project = testbed::project();
    many_targets(&project);
    let hosts: Vec<String> = (1..=10).map(|i| format!("\"web{i}\"")).collect();
    let steps: String = (0..3)
        .map(|i| {
            format!("step \"s{i}\" for host in hosts with #{{ serial: 10 }} {{ ssh::run(target(host), \"true\"); }}\n")
        })
        .collect();
    project.write("per_host.rhai", &format!("let hosts = [{}];\n{steps}", hosts.join(", ")));
    let trace = traced_run(&project, "per_host.rhai");
    let reported = |fd: &str, data: &str| fd == "2" && data.starts_with("  ok    step");
    let [lines, ends, syncs] = acts_after_their_lines_are_synced(&trace, "step_finished", reported);
    assert_eq!((lines, ends), (30, 30), "one closing line and one report per host and step:\n{trace}");
    eprintln!("{syncs} journal syncs for 3 per-host steps over 10 hosts");
}

/// How many `effect_finished` lines of a journal hold `needle`.
fn effects_finished(journal: &str, needle: &str) -> usize {
    journal.lines().filter(|l| l.contains("\"event\":\"effect_finished\"") && l.contains(needle)).count()
}

/// Processes of the test user whose command line holds `needle`.
fn remote_processes(needle: &str) -> String {
    let out = std::process::Command::new("pgrep")
        .args(["-a", "-u", "golive,golive-bash,golive-ash", "-f", needle])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_step_timeout_stops_the_remote_command_and_a_retry_never_runs_beside_it() {
    let _bed = testbed::lock();
    // A login shell of /bin/sh (the shared loop in bash, each command its job's exec of /bin/sh), of bash
    // (each in a job-control subshell) and busybox's sh on a host without bash (each under setsid).
    for name in ["rehearsal", "bash_login", "busybox_login"] {
        let project = testbed::project();
        let file = format!("/tmp/golive-cancel-{}-{name}", std::process::id());
        let _ = std::fs::remove_file(&file);
        project.write(
            "slow.rhai",
            &format!("step \"slow write\" with #{{ timeout: \"2s\", retries: 2, retry_delay: \"100ms\" }} {{ ssh::run(target(\"{name}\"), \"(sleep 5; echo x >> {file}) & sleep 5; echo x >> {file}\"); }}\n"),
        );
        let run = project.golive(&["slow.rhai"]);
        run.assert_code(1);
        let stopped = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("  FAIL") && l.contains(&format!("stopped on `{name}` (process group")))
            .count();
        assert_eq!(stopped, 3, "{}", run.stderr);
        assert_eq!(remote_processes(&file), "", "{name}: the remote command or its job outlived the step");
        std::thread::sleep(Duration::from_secs(6));
        assert!(!std::path::Path::new(&file).exists(), "{name}: a timed-out remote command wrote later");
        let journal = std::fs::read_to_string(project.journals().pop().unwrap()).unwrap();
        let journaled = effects_finished(&journal, "TERM, gone");
        assert_eq!(journaled, 3, "{name}: each attempt's stop is journaled:\n{journal}");
    }
}

#[test]
fn sigterm_and_sighup_stop_the_remote_command_before_golive_exits() {
    let _bed = testbed::lock();
    for (signal, code) in [("-TERM", 143), ("-HUP", 129)] {
        let project = testbed::project();
        let tag = format!("/tmp/golive-signal-{}-{}", std::process::id(), code);
        let _ = std::fs::remove_file(format!("{tag}.late"));
        project.write(
            "w.rhai",
            &format!("step \"remote write\" {{ ssh::run(target(), \"touch {tag}.started; sleep 3; echo x >> {tag}.late\"); }}\n"),
        );
        let mut child = project.command(&["w.rhai"]).stderr(std::process::Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !std::path::Path::new(&format!("{tag}.started")).exists() {
            assert!(Instant::now() < deadline, "the remote command never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::process::Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(code), "{signal}");
        assert_eq!(remote_processes(&format!("{tag}.late")), "", "{signal}: the remote command outlived golive");
        std::thread::sleep(Duration::from_secs(4));
        assert!(!std::path::Path::new(&format!("{tag}.late")).exists(), "{signal}: the remote command wrote later");
        let journal = std::fs::read_to_string(project.journals().pop().unwrap()).unwrap();
        assert!(journal.contains("stopped on `rehearsal` (process group"), "{journal}");
        let _ = std::fs::remove_file(format!("{tag}.started"));
    }
}

#[test]
fn a_command_line_too_large_for_ssh_fails_saying_what_to_do() {
    let _bed = testbed::lock();
    let project = testbed::project();
    project.write("big.rhai", "step \"big argument\" { let big = \"x\"; for i in 0..20 { big += big; } ssh::exec(target(), [\"echo\", big]); }\n");
    let run = project.golive(&["big.rhai"]);
    run.assert_code(1);
    assert!(run.stderr.contains("more than ssh can carry as one command"), "{}", run.stderr);
    assert!(run.stderr.contains("ssh::upload"), "{}", run.stderr);
}

#[test]
fn remote_output_is_capped_too() {
    let _bed = testbed::lock();
    let project = testbed::project();
    let config = project
        .read("golive.toml")
        .replace("default_target = \"rehearsal\"", "default_target = \"rehearsal\"\noutput_cap = 100000");
    std::fs::write(project.file("golive.toml"), config).unwrap();
    project.write("big.rhai", "step \"chatty\" { let out = ssh::run(target(), \"echo first; head -c 3000000 /dev/zero | tr '\\\\0' x; echo; echo last\").stdout; print(`${out.len()} ${out.contains(\"first\")} ${out.contains(\"last\")} ${out.contains(\"bytes dropped here\")}`); }\n");
    let run = project.golive(&["big.rhai"]);
    run.assert_code(0);
    let line = run.stdout.lines().find(|l| l.ends_with("true true true")).unwrap_or_else(|| panic!("{}", run.all()));
    let kept: usize = line.split(' ').next().unwrap().parse().unwrap();
    assert!(kept < 100_200, "{kept} bytes kept with output_cap 100000");
}

#[test]
fn plain_commands_share_one_remote_shell_whose_end_no_output_forges_and_a_job_left_behind_is_read_to_its_end() {
    let _bed = testbed::lock();
    // The shell's pid, as a command sees it: its parent when the command's shell is exec'd (/bin/sh, whose
    // loop runs in bash) or started under setsid (busybox), `$$` in bash's subshells.
    for (name, shell_pid) in [("rehearsal", "$PPID"), ("bash_login", "$$"), ("busybox_login", "$PPID")] {
        one_shared_shell(name, shell_pid);
    }
}

fn one_shared_shell(name: &str, shell_pid: &str) {
    let project = testbed::project();
    project.write(
        "shell.rhai",
        &r#"
let t = target("NAME");
step "first" { let r = ssh::run(t, "echo $PPID"); print("first " + r.stdout); }
step "second" { let r = ssh::run(t, "echo $PPID"); print("second " + r.stdout); }
step "forged" {
    let r = ssh::run(t, "printf 'out\\036deadbeefdeadbeefdeadbeefdeadbeef 0 0\\nstill out\\n'; printf '\\036golive-pgid 1\\n' >&2; exit 3", #{ allow_fail: true });
    print(`forged ${r.code} ${r.stdout.contains("still out")} ${r.stderr.contains("golive-pgid 1")}`);
}
step "left behind" { let r = ssh::run(t, "(sleep 1; echo late) & echo $PPID"); print("left " + r.stdout); }
step "after" { let r = ssh::run(t, "echo $PPID"); print("after " + r.stdout); }
"#
        .replace("NAME", name)
        .replace("$PPID", shell_pid),
    );
    let started = Instant::now();
    let run = project.golive(&["shell.rhai"]);
    run.assert_code(0);
    let took = started.elapsed();
    let word = |prefix: &str| -> String {
        let line = run.stdout.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("{}", run.all()));
        line[prefix.len()..].trim().to_string()
    };
    let first = word("first ");
    assert!(first.parse::<u32>().is_ok(), "{}", run.all());
    assert_eq!(word("second "), first, "the second command ran in the first one's shell\n{}", run.all());
    assert_eq!(word("forged "), "3 true true", "a forged end mark ended nothing\n{}", run.all());
    // What the job left behind wrote after its command ended is read, as a session of its own would be.
    let left = run.stdout.split("left ").nth(1).unwrap_or_else(|| panic!("{}", run.all()));
    assert!(left.starts_with(&first) && left.contains("late"), "{}", run.all());
    assert!(took >= Duration::from_secs(1), "the step waited for the job's output: {took:?}");
    let after = word("after ");
    assert!(
        after.parse::<u32>().is_ok() && after != first,
        "a shell whose job outlived its command runs nothing else\n{}",
        run.all()
    );
}

#[test]
fn a_plain_command_runs_in_the_login_shell_as_one_with_stdin_does_in_a_session_of_its_own() {
    let _bed = testbed::lock();
    let project = testbed::project();
    // `[[ ]]` is bash's (and busybox's): under the /bin/sh user both forms fail alike, under the others both
    // pass. The environment and the signals ignored are a session's too: /bin/sh's commands are started by
    // a loop in bash (bash is on the host), busybox's under setsid (no bash on its PATH).
    project.write(
        "login_shell.rhai",
        r#"
fn both(name) {
    let t = target(name);
    let in_shell = ssh::run(t, "[[ -n x ]] && echo bash-syntax", #{ allow_fail: true });
    let own = ssh::run(t, "[[ -n x ]] && echo bash-syntax", #{ allow_fail: true, stdin: "" });
    print(`${name} shared ${in_shell.code} ${in_shell.stdout}`);
    print(`${name} own ${own.code} ${own.stdout}`);
    let env = "env | sort; grep -E '^Sig(Ign|Blk)' /proc/self/status";
    let shared_env = ssh::run(t, env);
    let own_env = ssh::run(t, env, #{ stdin: "" });
    print(`${name} env shared: ${shared_env.stdout.split("\n")}`);
    print(`${name} env own: ${own_env.stdout.split("\n")}`);
    // Two plain commands in one shell (its pid as the command sees it: see one_shared_shell). Under /bin/sh,
    // the command's parent is the shared shell, where a session of its own would have sshd.
    let pid = if name == "bash_login" { "echo $$" } else { "echo $PPID $(cat /proc/$PPID/comm)" };
    let first = ssh::run(t, pid);
    let second = ssh::run(t, pid);
    print(`${name} one shell ${first.stdout == second.stdout} ${first.stdout}`);
}
step "sh" { both("rehearsal"); }
step "bash" { both("bash_login"); }
step "busybox" { both("busybox_login"); }
"#,
    );
    let run = project.golive(&["login_shell.rhai"]);
    run.assert_code(0);
    let said = |prefix: &str| -> String {
        let line = run.stdout.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("{}", run.all()));
        line[prefix.len()..].trim().to_string()
    };
    assert_eq!(said("bash_login own "), "0 bash-syntax", "{}", run.all());
    assert_eq!(said("bash_login shared "), "0 bash-syntax", "the login shell ran the plain command\n{}", run.all());
    assert_eq!(said("rehearsal shared "), said("rehearsal own "), "{}", run.all());
    assert!(said("rehearsal own ").starts_with("127"), "/bin/sh knows no [[: {}", run.all());
    assert_eq!(said("busybox_login shared "), said("busybox_login own "), "{}", run.all());
    for name in ["rehearsal", "bash_login"] {
        assert_eq!(said(&format!("{name} env shared:")), said(&format!("{name} env own:")), "{}", run.all());
    }
    // Without job control, busybox's sh starts a background command with INT and QUIT ignored (setsid
    // inherits that), and the command's sh counts one more SHLVL: the rest of its environment is a
    // session's.
    let without_signals = |text: String| {
        text.split(", ").filter(|l| !l.contains("Sig") && !l.contains("SHLVL")).collect::<Vec<_>>().join(", ")
    };
    assert_eq!(
        without_signals(said("busybox_login env shared:")),
        without_signals(said("busybox_login env own:")),
        "{}",
        run.all()
    );
    assert!(said("busybox_login env own:").contains("PATH=/tmp/golive-testbed/ssh/busybox"), "{}", run.all());
    assert!(said("bash_login one shell ").starts_with("true "), "{}", run.all());
    let rehearsal = said("rehearsal one shell ");
    assert!(rehearsal.starts_with("true ") && rehearsal.ends_with(" bash"), "the shared loop ran both: {}", run.all());
    let busybox = said("busybox_login one shell ");
    assert!(busybox.starts_with("true ") && busybox.ends_with(" sh"), "the shared sh ran both: {}", run.all());
}

/// A remote step that marks its start, sleeps 3 s and then appends a line: what the tests that cancel or
/// kill golive mid-command watch. Its files are removed when it is dropped.
struct SlowRemoteWrite {
    tag: String,
    lines: String,
}

impl SlowRemoteWrite {
    /// Writes `w.rhai` into the project.
    fn new(project: &common::Project, name: &str) -> SlowRemoteWrite {
        let tag = format!("/tmp/golive-{name}-{}", std::process::id());
        let lines = format!("{tag}.lines");
        let _ = std::fs::remove_file(&lines);
        let _ = std::fs::remove_file(format!("{tag}.started"));
        project.write(
            "w.rhai",
            &format!(
                "step \"remote write\" {{ ssh::run(target(), \"touch {tag}.started; sleep 3; echo x >> {lines}\"); }}\n"
            ),
        );
        SlowRemoteWrite { tag, lines }
    }

    fn wait_until_started(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !std::path::Path::new(&format!("{}.started", self.tag)).exists() {
            assert!(Instant::now() < deadline, "the remote command never started");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn lines(&self) -> usize {
        std::fs::read_to_string(&self.lines).unwrap_or_default().lines().count()
    }
}

impl Drop for SlowRemoteWrite {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.lines);
        let _ = std::fs::remove_file(format!("{}.started", self.tag));
    }
}

/// Starts `w.rhai` and SIGKILLs golive once the remote command has started.
fn sigkill_once_started(project: &common::Project, write: &SlowRemoteWrite) {
    let mut child = project
        .command(&["w.rhai"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    write.wait_until_started();
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn after_sigkill_resume_asks_the_target_whether_the_command_still_runs_and_waiting_gives_one_line() {
    let _bed = testbed::lock();
    let project = testbed::project();
    let write = SlowRemoteWrite::new(&project, "killed");
    sigkill_once_started(&project, &write);

    // The target is asked: the command still runs, so "rerun" is not offered and is refused.
    let asked = project.golive(&["resume", "--non-interactive"]);
    asked.assert_code(1);
    assert!(asked.stderr.contains("STILL RUNNING on `rehearsal` (process group"), "{}", asked.stderr);
    assert!(asked.stderr.contains("sleep 3"), "the question shows what runs: {}", asked.stderr);
    assert!(asked.stderr.contains("--in-doubt wait"), "{}", asked.stderr);
    let refused = project.golive(&["resume", "--non-interactive", "--in-doubt", "rerun"]);
    refused.assert_code(1);
    assert!(refused.stderr.contains("`rerun` cannot settle it now"), "{}", refused.stderr);

    // Wait: golive waits until it has ended there, then asks again, now offering rerun or done.
    let waited = project.golive(&["resume", "--non-interactive", "--in-doubt", "wait"]);
    waited.assert_code(1);
    assert!(waited.stderr.contains("while resume waited"), "{}", waited.stderr);
    assert!(waited.stderr.contains("no longer running"), "{}", waited.stderr);
    assert!(waited.stderr.contains("`--in-doubt rerun` or `--in-doubt mark-done`"), "{}", waited.stderr);
    assert_eq!(write.lines(), 1, "the command ran to its end exactly once");
    project.golive(&["resume", "--non-interactive", "--in-doubt", "mark-done"]).assert_code(0);
    assert_eq!(write.lines(), 1);
    let journal = std::fs::read_to_string(project.journals().pop().unwrap()).unwrap();
    assert!(journal.contains("\"event\":\"effect_running\""), "{journal}");
}

#[test]
fn after_sigkill_resume_can_stop_the_command_still_running_then_run_the_step_again() {
    let _bed = testbed::lock();
    let project = testbed::project();
    let write = SlowRemoteWrite::new(&project, "killed-stop");
    sigkill_once_started(&project, &write);
    let stopped = project.golive(&["resume", "--non-interactive", "--in-doubt", "stop"]);
    stopped.assert_code(1);
    assert!(stopped.stderr.contains("stopped on `rehearsal` (process group"), "{}", stopped.stderr);
    assert_eq!(remote_processes(&write.lines), "", "the command still runs after stop");
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(write.lines(), 0, "a stopped command wrote later");
    project.golive(&["resume", "--non-interactive", "--in-doubt", "rerun"]).assert_code(0);
    assert_eq!(write.lines(), 1);
}

#[test]
fn a_sigkilled_run_leaves_no_ssh_master_and_no_control_folder_behind() {
    let _bed = testbed::lock();
    let project = testbed::project();
    let tag = format!("/tmp/golive-master-{}", std::process::id());
    let _ = std::fs::remove_file(format!("{tag}.started"));
    project.write("w.rhai", &format!("step \"remote\" {{ ssh::run(target(), \"touch {tag}.started; sleep 30\"); }}\n"));
    let mut child = project
        .command(&["w.rhai"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::path::Path::new(&format!("{tag}.started")).exists() {
        assert!(Instant::now() < deadline, "the remote command never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // One folder per connector: golive-ssh-PID-N.
    let prefix = format!("golive-ssh-{}-", child.id());
    let folder = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)))
        .unwrap_or_else(|| panic!("golive's control folder is not where this test looks: {prefix}*"));
    child.kill().unwrap();
    child.wait().unwrap();
    let masters = || {
        let out =
            std::process::Command::new("pgrep").args(["-a", "-f", &folder.display().to_string()]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while (!masters().is_empty() || folder.exists()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(masters(), "", "an ssh master outlived the killed run");
    assert!(!folder.exists(), "the killed run left {} behind", folder.display());
    // The command itself is the in-doubt step's business: resume stops it.
    project.golive(&["resume", "--non-interactive", "--in-doubt", "stop"]).assert_code(1);
    let _ = std::fs::remove_file(format!("{tag}.started"));
}

/// SIGKILL while masters to ten targets are being opened (some still connecting, some up, some running their
/// command): no master outlives the run, and no connection half-made when golive died comes up after.
#[test]
fn a_run_killed_while_its_masters_connect_leaves_none_behind() {
    let _bed = testbed::lock();
    let project = testbed::project();
    many_targets(&project);
    let names: Vec<String> = (1..=10).map(|i| format!("target(\"web{i}\")")).collect();
    project.write("fan.rhai", &format!("step \"fan out\" {{ ssh::run_each([{}], \"sleep 3\"); }}\n", names.join(", ")));
    let mut outlived = Vec::new();
    for delay in (2..40u64).map(|i| i * 10) {
        let mut child = project
            .command(&["fan.rhai"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap();
        child.wait().unwrap();
        let pattern = format!("golive-ssh-{}-", child.id());
        let alive = || {
            let out = std::process::Command::new("pgrep").args(["-a", "-f", &pattern]).output().unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        // A master left behind lives 60 s (ControlPersist): 5 s tells it from one closing.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !alive().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let left = alive();
        if !left.is_empty() {
            outlived.push(format!("killed at {delay} ms:\n{left}"));
            let _ = std::process::Command::new("pkill").args(["-f", &pattern]).status();
        }
    }
    assert!(outlived.is_empty(), "ssh masters outlived the killed run:\n{}", outlived.join("\n"));
}

/// Ten hosts of a batch running together, stopped by SIGTERM or SIGHUP (a dropped session to the jump host):
/// every host is shown stopped, none FAILED, and golive names the signal it got, never Ctrl-C.
#[test]
fn a_batch_stopped_by_a_signal_shows_every_host_stopped_and_names_the_signal() {
    let _bed = testbed::lock();
    let project = testbed::project();
    many_targets(&project);
    let hosts: Vec<String> = (1..=10).map(|i| format!("\"web{i}\"")).collect();
    project.write(
        "batch.rhai",
        &format!(
            "let hosts = [{}];\nstep \"upgrade\" for host in hosts with #{{ serial: 10 }} {{ ssh::run(target(host), \"sleep 6\"); }}\n",
            hosts.join(", ")
        ),
    );
    for (signal, name, code) in [(libc::SIGTERM, "SIGTERM", 143), (libc::SIGHUP, "SIGHUP", 129)] {
        let child = project
            .command(&["batch.rhai"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(2500));
        // SAFETY: a plain kill(2) of the child this test started.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{name}: {stderr}");
        assert!(
            stderr.contains("step \"upgrade\" over 10 items: 0 ok, 0 failed, 10 stopped, 0 not started"),
            "{name}: {stderr}"
        );
        assert!(stderr.contains(name), "{name}: {stderr}");
        assert!(!stderr.contains("Ctrl-C"), "{name}: {stderr}");
    }
}

/// Runbook 4.1 "Búsqueda funciona" against the stand-in that follows Drupal 11's node search
/// (`/search/node?keys=`, result items from the search index): before the index is built the page only
/// echoes the term and the check fails; once Saturday's 3.6 step has indexed the content, it passes.
#[test]
fn search_passes_on_result_items_never_on_a_page_echoing_the_term() {
    let _bed = testbed::lock();
    testbed::reset();
    let project = testbed::project();
    let before = project.golive(&["run", "scripts/saturday.rhai", "--only", "Búsqueda funciona"]);
    before.assert_code(1);
    let line = before.check_line("Búsqueda funciona");
    assert!(
        line.starts_with("  FAIL") && line.contains("(actual 200, 0 result(s) for \"producto\""),
        "{}",
        before.stderr
    );
    let echoed = std::process::Command::new("curl")
        .args(["-sk", "https://localhost:18443/search/node?keys=producto"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&echoed.stdout).contains("value=\"producto\""), "the page echoes the term");
    project.golive(&["run", "scripts/saturday.rhai", "--only", "search index"]).assert_code(0);
    let after = project.golive(&["run", "scripts/saturday.rhai", "--only", "Búsqueda funciona"]);
    after.assert_code(0);
    let line = after.check_line("Búsqueda funciona");
    assert!(
        line.starts_with("  ok") && line.contains("(actual 200, 10 result(s) for \"producto\""),
        "{}",
        after.stderr
    );
}

#[test]
fn advice_for_a_target_in_ssh_config_quotes_the_resolved_settings_and_key_files_are_named() {
    let _bed = testbed::lock();
    let project = testbed::project();
    let ssh = format!("{}/ssh", testbed::ROOT);
    // A Host alias whose real address, port, user, key and known_hosts live only in ssh_config.
    let empty = project.file("known_hosts_of_alias");
    std::fs::write(&empty, "").unwrap();
    let config_file = project.file("ssh_config");
    std::fs::write(
        &config_file,
        format!(
            "Host bedalias\n  HostName 127.0.0.1\n  Port 2201\n  User golive\n  IdentityFile {ssh}/client_ed25519\n  UserKnownHostsFile {}\n",
            empty.display()
        ),
    )
    .unwrap();
    // Keys ssh will not use: one readable by others, one missing.
    let open_key = project.file("open_key");
    std::fs::copy(format!("{ssh}/client_ed25519"), &open_key).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&open_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut config = project.read("golive.toml");
    config.push_str(&format!(
        "\n[targets.alias]\nhost = \"bedalias\"\nssh_config = \"{}\"\n\
         \n[targets.open_key]\nhost = \"127.0.0.1\"\nport = 2201\nuser = \"golive\"\nidentity_file = \"{}\"\nknown_hosts = \"{ssh}/known_hosts\"\n\
         \n[targets.missing_key]\nhost = \"127.0.0.1\"\nport = 2201\nuser = \"golive\"\nidentity_file = \"{ssh}/no_such_key\"\nknown_hosts = \"{ssh}/known_hosts\"\n",
        config_file.display(),
        open_key.display()
    ));
    std::fs::write(project.file("golive.toml"), config).unwrap();
    project.write("f.rhai", "step \"hello\" { ssh::run(target(), \"true\"); }\n");

    let run = project.golive(&["f.rhai", "--target", "alias"]);
    run.assert_code(1);
    let known = empty.display().to_string();
    for expected in [
        format!("host key of 127.0.0.1:2201 (`bedalias` in ssh_config) is not in {known}"),
        format!("ssh-keyscan -p 2201 127.0.0.1 >> {known}"),
    ] {
        assert!(run.stderr.contains(&expected), "expected {expected:?} in:\n{}", run.stderr);
    }
    assert!(!run.stderr.contains("~/.ssh/known_hosts"), "{}", run.stderr);
    assert!(!run.stderr.contains("bedalias:22"), "{}", run.stderr);

    let run = project.golive(&["f.rhai", "--target", "open_key"]);
    run.assert_code(1);
    assert!(run.stderr.contains("is readable by others (mode 644)"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("chmod 600 {}", open_key.display())), "{}", run.stderr);

    let run = project.golive(&["f.rhai", "--target", "missing_key"]);
    run.assert_code(1);
    assert!(run.stderr.contains(&format!("cannot read identity_file {ssh}/no_such_key")), "{}", run.stderr);
    assert!(!run.stderr.contains("refused to log in"), "{}", run.stderr);
}

#[test]
fn twelve_commands_at_once_on_one_target_fit_sshds_default_max_sessions_and_all_stop_on_timeout() {
    let _bed = testbed::lock();
    let project = testbed::project();
    let twelve = ["target()"; 12].join(", ");
    // sshd allows 10 sessions per connection by default; golive keeps to 8 unless told otherwise.
    project.write(
        "many.rhai",
        &format!("step \"twelve at once\" {{ ssh::run_each([{twelve}], \"sleep 0.3; echo ok\").len() }}\n"),
    );
    let run = project.golive(&["many.rhai"]);
    run.assert_code(0);
    let journal = std::fs::read_to_string(project.journals().pop().unwrap()).unwrap();
    let ok = effects_finished(&journal, "\"ok\":true");
    assert_eq!(ok, 12, "{journal}");

    // A timeout stops every one of them, each confirmed gone, within sshd's limit.
    let file = format!("/tmp/golive-twelve-{}", std::process::id());
    let _ = std::fs::remove_file(&file);
    project.write(
        "slow.rhai",
        &format!("step \"twelve slow\" with #{{ timeout: \"1s\" }} {{ ssh::run_each([{twelve}], \"sleep 5; echo x >> {file}\"); }}\n"),
    );
    let run = project.golive(&["slow.rhai"]);
    run.assert_code(1);
    let journal = std::fs::read_to_string(project.journals().pop().unwrap()).unwrap();
    let stopped = effects_finished(&journal, "gone)");
    let started = effects_finished(&journal, "had not started");
    assert_eq!(stopped + started, 12, "{journal}");
    assert!(!journal.contains("NOT confirmed"), "{journal}");
    assert_eq!(remote_processes(&file), "");
    std::thread::sleep(Duration::from_secs(5));
    assert!(!std::path::Path::new(&file).exists(), "a stopped command wrote later");
}

#[test]
fn a_timeout_stops_a_compose_exec_and_drush_inside_the_container_too() {
    let _bed = testbed::lock();
    testbed::reset();
    let project = testbed::project();
    let late = "golive-inside-late";
    let _ = std::fs::remove_file(std::path::Path::new(testbed::ROOT).join("project/state").join(late));
    project.write(
        "inside.rhai",
        &format!(
            "step \"compose exec\" with #{{ timeout: \"1500ms\" }} {{ docker::compose(target()).exec(\"mariadb\", [\"sh\", \"-c\", \"sleep 4; echo late >> /state/{late}\"]); }}\n"
        ),
    );
    let run = project.golive(&["inside.rhai"]);
    run.assert_code(1);
    assert!(run.stderr.contains("inside `mariadb`: TERM, gone"), "{}", run.stderr);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(testbed::state(late), "", "the command inside the container went on after golive reported");

    // drush (updatedb hanging in the stand-in: `sleep 600`) the same way.
    testbed::set_fault("hang-updatedb");
    project.write("updb.rhai", "step \"updb\" with #{ timeout: \"2s\" } { drush::updb(target()); }\n");
    let run = project.golive(&["updb.rhai"]);
    run.assert_code(1);
    assert!(run.stderr.contains("inside `drupal`: TERM, gone"), "{}", run.stderr);
    let left = std::process::Command::new("pgrep").args(["-af", "sleep 600"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&left.stdout), "", "drush still runs in the container");
    testbed::reset();
}

#[test]
fn ctrl_c_through_a_pty_stops_the_remote_command_and_retry_never_runs_beside_it() {
    use rexpect::session::spawn_command;
    let _bed = testbed::lock();
    let project = testbed::project();
    let write = SlowRemoteWrite::new(&project, "ctrlc");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_golive"));
    cmd.arg("w.rhai").current_dir(project.path()).env("NO_COLOR", "1").env("TERM", "dumb");
    let mut p = spawn_command(cmd, Some(30_000)).expect("spawn golive on a pty");
    write.wait_until_started();
    p.send_control('c').unwrap();
    p.exp_string("[retry/skip/abort]").unwrap();
    // When the question shows, the first attempt is gone on the target.
    assert_eq!(remote_processes(&write.lines), "", "the remote command outlived Ctrl-C");
    p.send_line("retry").unwrap();
    p.exp_string("done in").unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(write.lines(), 1, "exactly one attempt wrote");
    let journal = std::fs::read_to_string(project.journals().pop().unwrap()).unwrap();
    assert!(journal.contains("stopped on `rehearsal` (process group"), "{journal}");
}

/// A docker-compose v2 binary installed under the v1 name (Docker documents this symlink) answers
/// `version --short` like v2 and prints v2's `ps` table, which the v1 parser read as no containers at all.
/// The double here is exactly that for `version` and `ps`, and the real docker-compose for the rest; the
/// containers are read by id and described by the real engine, so both running ones are found.
#[test]
fn a_v2_binary_named_docker_compose_still_finds_the_running_containers() {
    let _bed = testbed::lock();
    testbed::reset();
    let project = common::Project::new();
    let double = project.write(
        "bin/docker-compose",
        "#!/bin/sh\ncase \"$*\" in\n  'version --short') echo 2.29.7 ;;\n  ps) printf 'NAME                  IMAGE                   COMMAND                  SERVICE   CREATED         STATUS                   PORTS\\ngolivebed-drupal-1    jaraba/drupal:11-prod   \"/bin/httpd -f -p 12...\"   drupal    2 minutes ago   Up 2 minutes (healthy)\\ngolivebed-mariadb-1   jaraba/drupal:11-prod   \"/bin/sleep 21474836...\"   mariadb   2 minutes ago   Up 2 minutes\\n' ;;\n  *) exec /usr/bin/docker-compose \"$@\" ;;\nesac\n",
    );
    std::fs::set_permissions(&double, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    project.write(
        "golive.toml",
        &format!("[targets.bed]\nkind = \"local\"\nproject_dir = \"{}/project\"\n", testbed::ROOT),
    );
    project.write(
        "ps.rhai",
        "step \"ps\" { let ps = docker::compose(target(\"bed\")).ps(); print(`found: ${ps.map(|c| `${c.service} ${c.state} ${c.health}`)}`); }\n",
    );
    let path = format!("{}:{}", project.file("bin").display(), std::env::var("PATH").unwrap_or_default());
    let run = common::Run::from(project.command(&["ps.rhai", "--target", "bed"]).env("PATH", path).output().unwrap());
    run.assert_code(0);
    assert!(run.stdout.contains("found: [\"drupal running healthy\", \"mariadb running none\"]"), "{}", run.stdout);
}

/// The whole weekend rehearsed on the test bed, in one project: Friday green; Saturday with no rollback in
/// the journals yet is a NO-GO board ("Rollback probado" failed: nobody's word stands for a rehearsal) that
/// refuses a GO written before it; the quick rollback rehearsed, Saturday GO, the monitor's watch, the quick
/// and the full rollback; then a Saturday deploying a broken release: the gate recommends NO-GO because
/// validation failed, while the answers say GO.
#[test]
fn the_whole_weekend_rehearsed_then_a_broken_release_gets_no_go_from_validation() {
    let _bed = testbed::lock();
    testbed::reset();
    let project = testbed::project();
    let started = Instant::now();
    project.golive(&["scripts/friday.rhai", "--yes", "--answers", FRIDAY_ANSWERS]).assert_code(0);

    // (In a project of its own: this weekend's report holds the whole runs only.)
    let unrehearsed = testbed::project().golive(&["run", "scripts/saturday.rhai", "--only", "Rollback probado"]);
    unrehearsed.assert_code(1);
    let rollback = unrehearsed.check_line("Rollback probado");
    assert!(rollback.starts_with("  FAIL") && rollback.contains("no rollback_quick run"), "{}", unrehearsed.stderr);
    testbed::rehearse_quick_rollback(&project);

    let saturday = project.golive(&["scripts/saturday.rhai", "--answers", GO_ANSWERS]);
    saturday.assert_code(0);
    assert!(saturday.stderr.contains("recommendation: GO"), "{}", saturday.stderr);
    let vitals = saturday.check_line("Core Web Vitals en navegador (LCP, INP, CLS)");
    assert!(vitals.starts_with("  ok") && vitals.contains("(/, median of 5)"), "{}", saturday.stderr);
    let rehearsed = saturday.check_line("Rollback probado");
    assert!(rehearsed.starts_with("  ok") && rehearsed.contains("rollback_quick run 20"), "{}", saturday.stderr);
    assert!(saturday.check_line("Checkout Stripe: suscripción activa").starts_with("  ok"), "{}", saturday.stderr);
    // The soft launch streamed the application's log over ssh line by line, before its step ended.
    let line_of = |wanted: &dyn Fn(&str) -> bool| saturday.stderr.lines().position(wanted);
    let streamed = line_of(&|l| l.starts_with("  | ") && l.contains("Stripe webhook evt_"));
    let ended = line_of(&|l| l.contains("ok    step \"application logs, live for a while\""));
    assert!(streamed.is_some() && streamed < ended, "no streamed log line before the step ended:\n{}", saturday.stderr);
    project.golive(&["scripts/monitor.rhai", "--yes"]).assert_code(0);
    // Monday opens the doors on this weekend: Saturday's GO, the watch after it, no rollback since.
    let monday = project.golive(&["scripts/monday.rhai", "--answers", MONDAY_ANSWERS]);
    monday.assert_code(0);
    assert!(monday.stderr.contains("recommendation: GO"), "{}", monday.stderr);
    project.golive(&["scripts/rollback_quick.rhai", "--yes"]).assert_code(0);
    let backups = testbed::backups();
    assert_eq!(backups.len(), 1, "Saturday's backup is what the full rollback restores: {backups:?}");
    let full = rollback_full(&project);
    full.assert_code(0);
    assert_eq!(testbed::http_status(SITE), "200", "the full rollback reopened the site");
    weekend_report(&project);
    // A watch that went critical (the error rate, a constant query standing in for a burst of 5xx) and
    // stayed so: the operator declined the rollback, the alerts went out, the monitor's run is red; Monday
    // reads the alert from its journal and stays closed.
    let config = critical_error_rate(&project);
    project.write("no-rollback.toml", "\"watch table 8.1\" = { answer = \"no\", by = \"Rehearsal (DevOps Lead)\" }\n");
    let watched = project.golive(&["scripts/monitor.rhai", "--answers", "no-rollback.toml"]);
    std::fs::write(project.file("golive.toml"), config).unwrap();
    watched.assert_code(1);
    let refused = project.golive(&["scripts/monday.rhai", "--answers", MONDAY_ANSWERS]);
    refused.assert_code(1);
    let watch = refused.check_line("24 h monitoring ended without a critical alert");
    assert!(watch.starts_with("  FAIL") && watch.contains("Error Rate crit (7.50%)"), "{}", refused.stderr);
    // After a rollback, even with a quiet watch again, Monday does not open them.
    project.golive(&["scripts/monitor.rhai", "--yes"]).assert_code(0);
    let refused = project.golive(&["scripts/monday.rhai", "--answers", MONDAY_ANSWERS]);
    refused.assert_code(1);
    let since = refused.check_line("No rollback since Saturday");
    assert!(since.starts_with("  FAIL") && since.contains("rollback_full-rehearsal"), "{}", refused.stderr);
    // A Saturday that ran only some of its steps ended 0 with nobody's decision: Monday stays closed.
    project.golive(&["run", "scripts/saturday.rhai", "--only", "containers healthy"]).assert_code(0);
    let undecided = project.golive(&["scripts/monday.rhai", "--answers", MONDAY_ANSWERS]);
    undecided.assert_code(1);
    let saturday = undecided.check_line("Saturday ended with GO");
    assert!(saturday.starts_with("  FAIL") && saturday.contains("no decision at \"Go/No-Go\""), "{}", undecided.stderr);

    testbed::reset();
    testbed::next_release("broken");
    let broken = project.golive(&["scripts/saturday.rhai", "--answers", GO_ANSWERS]);
    broken.assert_code(1);
    let rollback = broken.check_line("Rollback probado");
    assert!(
        rollback.starts_with("  ok ") && rollback.contains("rollback_quick run 20") && rollback.contains("exit 0 in"),
        "{}",
        broken.stderr
    );
    let full = rollback.split("; rollback_full run ").nth(1).unwrap_or_default();
    assert!(full.starts_with("20") && full.contains(": exit 0 in"), "{rollback}");
    assert!(
        broken.stderr.contains("FAIL  check \"API: release desplegada y base de datos conectada\""),
        "{}",
        broken.stderr
    );
    assert!(broken.stderr.contains("recommendation: NO-GO"), "{}", broken.stderr);
    assert!(broken.stderr.contains("was written before this evidence: it is not applied"), "{}", broken.stderr);
    eprintln!("the whole weekend and the broken Saturday took {:.1} s", started.elapsed().as_secs_f64());
}

/// The weekend's one report (`golive report --since friday`): the seed runbook's every section in its order,
/// every journaled item with its journal's state, the 4.3 table's actual values, the decision box filled in,
/// and a PDF whose chapters each start a page and whose first page has ink; without Chromium, the HTML and
/// Markdown are still written.
fn weekend_report(project: &common::Project) {
    use common::report;
    let run = project.golive(&["report", "--since", "friday"]);
    run.assert_code(0);
    let file = |name: &str| {
        let line = run.stdout.lines().find(|l| l.ends_with(name));
        std::path::PathBuf::from(line.unwrap_or_else(|| panic!("no {name} in:\n{}", run.all())))
    };
    let html = report::read_html(&file("report.html"));
    let headings = report::seed_headings();
    assert!(headings.len() > 30, "{headings:?}");
    let mut at = 0;
    for (number, title) in &headings {
        let wanted = format!("{number} {title}");
        let found = html.headings.iter().skip(at).position(|h| *h == wanted);
        assert!(found.is_some(), "section {wanted:?} missing or out of order in {:?}", html.headings);
        at += found.unwrap_or_default() + 1;
    }
    assert_eq!(html.items, report::journal_states(project.path()), "the report's items against the journals");
    assert!(html.items.values().all(|s| s == "done"), "a green weekend: {:?}", html.items);
    let ttfb = &html.cells["TTFB < 200 ms"];
    assert!(ttfb[2].contains("200") && ttfb[3].contains("ms") && ttfb[0] == "☑", "4.3's TTFB row: {ttfb:?}");
    assert!(html.decisions.contains(&("Go/No-Go".into(), "GO".into())), "{:?}", html.decisions);
    assert!(html.svgs >= 2, "the timeline: {} pictures", html.svgs);
    let markdown = std::fs::read_to_string(file("report.md")).unwrap();
    assert!(markdown.contains("### 5.3 Decisión") && markdown.contains("**Go/No-Go**: [x] GO [ ] NO-GO"), "{markdown}");

    let pdf = file("report.pdf");
    let pages = report::pdf_text_pages(&pdf);
    let count = report::pdf_pages(&pdf);
    assert_eq!(count, pages.iter().filter(|p| !p.trim().is_empty()).count(), "every page has text");
    let mut previous = 0;
    for (number, title) in headings.iter().filter(|(n, _)| !n.contains('.')) {
        let heading = format!("{number} {title}");
        let page = pages.iter().position(|p| p.trim_start().starts_with(&heading));
        let page = page.unwrap_or_else(|| panic!("chapter {heading:?} starts no page of {count}"));
        assert!(page > previous || number == "1", "chapter {heading:?} on page {page}, after {previous}");
        previous = page;
    }
    assert!(count > 10, "the front page and ten chapters, each from a new page: {count} pages");
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let ink = report::first_page_ink(&pdf, &artifacts.join("report-page-1.png"));
    assert!(ink > 0.01, "the first page is blank: {:.4} of it is ink", ink);

    let out = project.file("no-browser");
    let out = out.to_str().unwrap();
    let without = project
        .command(&["report", "--since", "friday", "--out", out])
        .env("GOLIVE_CHROMIUM", "/nonexistent/chromium")
        .output()
        .unwrap();
    let without = common::Run::from(without);
    without.assert_code(0);
    assert!(without.stderr.contains("warning: no PDF") && without.stderr.contains("complete"), "{}", without.stderr);
    assert!(project.file("no-browser/report.html").is_file() && project.file("no-browser/report.md").is_file());
    assert!(!project.file("no-browser/report.pdf").exists() && !project.file("no-browser/report.pdf.partial").exists());
}

/// Data loss is measured on the real database: a migration that deletes rows fails "Sin pérdida de datos tras
/// las migraciones" (row counts and CHECKSUM TABLE before and after), fires the trigger, and the full
/// rollback restores the rows from Saturday's real backup.
#[test]
fn a_migration_that_loses_rows_fires_the_data_loss_trigger_and_the_full_rollback_restores_them() {
    let _bed = testbed::lock();
    testbed::reset();
    let project = testbed::project_after_friday();
    // A first Saturday (its migration keeps the data), then a second whose migration deletes rows: each keeps
    // its own backup, labelled with its run id.
    project.golive(&["scripts/saturday.rhai", "--answers", NO_GO_ANSWERS]).assert_code(1);
    testbed::set_fault("updb-loses-orders");
    let run = project.golive(&["scripts/saturday.rhai", "--answers", NO_GO_ANSWERS]);
    let backups = testbed::backups();
    assert_eq!(backups.len(), 2, "the second Saturday overwrote the first's backup: {backups:?}");
    run.assert_code(1);
    let check = run.check_line("Sin pérdida de datos tras las migraciones");
    assert!(
        check.starts_with("  FAIL")
            && check.contains("commerce_order lost 12 rows")
            && check.contains("commerce_order 60 -> 48"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("│ Pérdida de datos detectada            ┆ FIRED"), "{}", run.stderr);
    assert!(run.stderr.contains("recommendation: NO-GO"), "{}", run.stderr);
    assert_eq!(testbed::sql("SELECT COUNT(*) FROM commerce_order"), "48");

    project.golive(&["scripts/rollback_quick.rhai", "--yes"]).assert_code(0);
    let full = rollback_full(&project);
    full.assert_code(0);
    assert!(
        full.stdout.contains(&format!("restoring {}/project/backups/{}", testbed::ROOT, backups[1])),
        "{}",
        full.all()
    );
    assert_eq!(testbed::sql("SELECT COUNT(*) FROM commerce_order"), "60", "the backup restored the lost orders");
}

/// An application that accepts the registration but sends no e-mail fails both mail checks after waiting
/// for the message in the real IMAP mailbox, and the critical smoke-test trigger fires.
#[test]
fn an_application_that_sends_no_mail_fails_the_mail_checks_read_over_imap() {
    let _bed = testbed::lock();
    testbed::reset();
    let project = testbed::project_after_friday();
    testbed::set_fault("fault-mail");
    let run = project.golive(&["scripts/saturday.rhai", "--answers", NO_GO_ANSWERS]);
    run.assert_code(1);
    let registration = run.check_line("Registro nuevo usuario: email de verificación recibido");
    assert!(
        registration.starts_with("  FAIL")
            && registration.contains("with \"Verifica tu cuenta\" in its subject arrived within 10 s"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("FAIL  check \"Email transaccional: email de prueba recibido\""), "{}", run.stderr);
    assert!(run.stderr.contains("│ Cualquier smoke test crítico fallando ┆ FIRED"), "{}", run.stderr);
}

/// The webhook smoke test sends a test event signed as Stripe signs them to the deployed application, which
/// checks the signature (HMAC-SHA256, as Drupal's Stripe module does) and logs the event as processed; signed
/// with another secret, the application refuses it and the check fails.
#[test]
fn a_signed_test_event_reaches_the_webhook_endpoint_and_a_wrong_secret_is_refused() {
    let _bed = testbed::lock();
    testbed::reset();
    let project = testbed::project_after_friday();
    let run = project.golive(&["scripts/saturday.rhai", "--answers", GO_ANSWERS]);
    run.assert_code(0);
    let webhook = run.check_line("Webhook Stripe procesado");
    assert!(webhook.starts_with("  ok") && webhook.contains(": 200 processed (in Drupal's log)"), "{}", run.stderr);
    // Where Drupal keeps it: the dblog table of the real database, which drush watchdog:show read.
    let id = webhook.split("test event ").nth(1).and_then(|r| r.split(':').next()).unwrap_or_default();
    assert!(id.starts_with("evt_golive_"), "{webhook}");
    assert_eq!(
        testbed::sql(&format!("SELECT COUNT(*) FROM watchdog WHERE type = 'stripe' AND message LIKE '%{id}%'")),
        "1"
    );

    testbed::reset();
    let wrong = common::Run::from(
        project
            .command(&["scripts/saturday.rhai", "--answers", NO_GO_ANSWERS])
            .env("STRIPE_WEBHOOK_SECRET", "whsec_not_the_endpoints")
            .output()
            .unwrap(),
    );
    wrong.assert_code(1);
    let webhook = wrong.check_line("Webhook Stripe procesado");
    assert!(
        webhook.starts_with("  FAIL") && webhook.contains("400 {\"error\": \"signature verification failed\"}"),
        "{}",
        wrong.stderr
    );
    assert!(wrong.stderr.contains("│ Cualquier smoke test crítico fallando ┆ FIRED"), "{}", wrong.stderr);
}

/// nginx's own error log, read from a mark as Saturday reads it: clean while the application answers; with
/// its container stopped, nginx logs "connect() failed ... while connecting to upstream" at [error] and the
/// scan flags that line.
#[test]
fn nginx_error_log_lines_since_the_mark_are_flagged() {
    let _bed = testbed::lock();
    testbed::reset();
    let project = testbed::project();
    project.write(
        "errlog.rhai",
        r#"let t = target();
let file = config("error_log");
let mark = step "mark" { let n = ssh::run(t, `wc -c < ${file}`, #{ read_only: true }).stdout; n.trim(); n.parse_int() };
step "a visitor arrives" { local::run(`curl -s -o /dev/null --cacert ${config("ca_file")} ${config("app_url")}/`); }
check "error log clean" {
    let scan = logs::scan(ssh::run(t, `tail -c +${mark + 1} ${file}`, #{ read_only: true }).stdout);
    #{ ok: scan.matched == 0, actual: `${scan.matched} lines: ${scan.first}`, target: "no error-level line" }
}
"#,
    );
    project.golive(&["errlog.rhai"]).assert_code(0);
    let stopped =
        std::process::Command::new("docker").args(["stop", "-t", "1", "golivebed_drupal_1"]).output().unwrap();
    assert!(stopped.status.success(), "{}", String::from_utf8_lossy(&stopped.stderr));
    let run = project.golive(&["errlog.rhai"]);
    testbed::reset();
    run.assert_code(1);
    let check = run.check_line("error log clean");
    assert!(
        check.starts_with("  FAIL") && check.contains("[error]") && check.contains("connect() failed"),
        "{}",
        run.stderr
    );
}

/// After `sudo tests/testbed/testbed.sh up`, a developer who is not root resets the test bed (the helper `up`
/// started for them runs the reset as root) and runs golive against it with its key: a step that reaches the
/// stack over ssh and lists its containers. Run as root (CI), the test makes that developer: an account in
/// the docker group that brings the test bed up with sudo's SUDO_USER.
#[test]
fn a_developer_who_is_not_root_resets_the_test_bed_and_runs_golive_against_it() {
    let _bed = testbed::lock();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // SAFETY: getuid has no preconditions.
    let developer = (unsafe { libc::getuid() } == 0).then_some("golive-dev");
    if let Some(user) = developer {
        let exists = std::process::Command::new("id").arg(user).output().unwrap().status.success();
        if !exists {
            let made = std::process::Command::new("useradd").args(["-m", "-G", "docker", user]).status().unwrap();
            assert!(made.success(), "useradd {user}");
        }
        let up = std::process::Command::new(repo.join("tests/testbed/testbed.sh"))
            .arg("up")
            .env("SUDO_USER", user)
            .output()
            .unwrap();
        assert!(up.status.success(), "testbed.sh up: {}", String::from_utf8_lossy(&up.stderr));
    }
    let as_developer = |program: &std::path::Path, args: &[&str], dir: &std::path::Path| {
        let mut command = match developer {
            Some(user) => {
                let mut c = std::process::Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => std::process::Command::new(program),
        };
        let out = command.args(args).current_dir(dir).env("NO_COLOR", "1").output().unwrap();
        common::Run::from(out)
    };
    // rehearse.sh asks this first: root's sshd must look alive to the developer too.
    let status = as_developer(&repo.join("tests/testbed/testbed.sh"), &["status"], repo);
    assert!(status.stdout.starts_with("sshd up"), "{}", status.all());
    let reset = as_developer(&repo.join("tests/testbed/testbed.sh"), &["reset"], repo);
    reset.assert_code(0);

    let project = testbed::project();
    project.write(
        "whoami.rhai",
        "step \"on the bed\" { ssh::run(target(), \"id -un; docker ps --format '{{.Names}}'\") }\n",
    );
    if let Some(user) = developer {
        let owned = std::process::Command::new("chown").args(["-R", user]).arg(project.path()).status().unwrap();
        assert!(owned.success());
    }
    let run = as_developer(std::path::Path::new(env!("CARGO_BIN_EXE_golive")), &["-v", "whoami.rhai"], project.path());
    run.assert_code(0);
    // -v shows the command's output line by line: the target's user, then the stack's containers.
    assert!(
        run.stderr.contains("  | golive\n") && run.stderr.contains("  | golivebed_drupal_1\n"),
        "the step did not reach the stack: {}",
        run.all()
    );
    // The refusal a developer without the helper meets names what to do.
    let down = as_developer(&repo.join("tests/testbed/testbed.sh"), &["down"], repo);
    down.assert_code(2);
    assert!(down.stderr.contains("testbed.sh down needs root: sudo"), "{}", down.stderr);
}

/// A rolling upgrade over a hundred ssh hosts (the test bed's fleet: 127.0.0.2 to 127.0.0.101, each its own
/// address, connection and ssh master), 25 at a time (at most `forks`, 20, at once), one host failing: the
/// others finish under `max_fail`, the failure is named by host in the step's summary, and resume runs the
/// failed host's step alone.
#[test]
fn a_hundred_host_rolling_upgrade_with_one_host_failing_names_it_and_resume_runs_that_host_alone() {
    testbed::up();
    let ssh = format!("{}/ssh", testbed::ROOT);
    let hosts: Vec<String> = (2..=101).map(|n| format!("web{n:03}")).collect();
    let tag = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    );
    let log = format!("/tmp/golive-fleet-{tag}.log");
    let broken = format!("/tmp/golive-fleet-{tag}-broken-web057");
    let (running, peaks) = (format!("/tmp/golive-fleet-{tag}-running"), format!("/tmp/golive-fleet-{tag}.peaks"));
    let list = hosts.iter().map(|h| format!("\"{h}\"")).collect::<Vec<_>>().join(", ");
    let mut config =
        format!("default_target = \"local\"\n[vars]\nweb_hosts = [{list}]\n[targets.local]\nkind = \"local\"\n");
    for (n, host) in (2..=101).zip(&hosts) {
        config.push_str(&format!(
            "\n[targets.{host}]\nrehearsal = true\nhost = \"127.0.0.{n}\"\nport = 2202\nuser = \"golive\"\nidentity_file = \"{ssh}/client_ed25519\"\nknown_hosts = \"{ssh}/known_hosts_fleet\"\n"
        ));
    }
    let project = crate::common::Project::with_config(&config);
    project.write(
        "upgrade.rhai",
        &format!(
            "step \"upgrade\" for host in config(\"web_hosts\") with #{{ max_fail: 1, serial: 25 }} {{\n    \
             ssh::run(target(host), `mkdir -p {running}; touch {running}/${{host}}; ls {running} | wc -l >> {peaks}; sleep 0.2; rm {running}/${{host}}`);\n    \
             ssh::run(target(host), `test ! -e /tmp/golive-fleet-{tag}-broken-${{host}} && echo \"$(echo $SSH_CONNECTION | cut -d' ' -f3) ${{host}}\" >> {log}`);\n}}\n"
        ),
    );
    std::fs::write(&broken, "").unwrap();
    let run = project.golive(&["upgrade.rhai"]);
    run.assert_code(1);
    let upgraded = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(upgraded.lines().count(), 99, "{upgraded}\n{}", run.stderr);
    assert!(!upgraded.contains("web057"), "{upgraded}");
    // Each host was reached at its own address: the server side saw 127.0.0.N for webN.
    for line in upgraded.lines() {
        let (address, host) = line.split_once(' ').unwrap();
        let octet: u32 = address.strip_prefix("127.0.0.").and_then(|n| n.parse().ok()).unwrap_or(0);
        assert_eq!(format!("web{octet:03}"), host, "{line}");
    }
    assert!(run.stderr.contains("FAIL  step \"upgrade [web057]\""), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "step \"upgrade\" over 100 items: 99 ok, 1 failed, 0 stopped, 0 not started\n  FAIL         web057"
        ),
        "{}",
        run.stderr
    );
    // Batches of 25 under the default forks (20): hosts ran together, never more than 20 at once.
    let peak = std::fs::read_to_string(&peaks).unwrap().lines().map(|l| l.trim().parse::<usize>().unwrap()).max();
    assert!(peak.is_some_and(|p| p > 1 && p <= 20), "{peak:?}");

    // The host is mended; resume runs its step, and only its step.
    std::fs::remove_file(&broken).unwrap();
    let resumed = project.golive(&["resume", "--non-interactive"]);
    resumed.assert_code(0);
    let upgraded = std::fs::read_to_string(&log).unwrap();
    assert_eq!(upgraded.lines().count(), 100, "{upgraded}");
    assert!(upgraded.ends_with(" web057\n"), "{upgraded}");
    let ran: Vec<&str> = resumed.stderr.lines().filter(|l| l.trim_start().starts_with("ok    step")).collect();
    assert_eq!(ran.len(), 1, "{}", resumed.stderr);
    assert!(ran[0].contains("upgrade [web057]"), "{}", resumed.stderr);
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_file(&peaks);
    let _ = std::fs::remove_dir_all(&running);
}

/// The stand-in follows Drupal 11's contracts where Saturday's smoke tests depend on them (a faithful double
/// of core's Form API and user_pass_reset, from their published behaviour): a form posted without the
/// form_build_id its page handed out is only rebuilt, never submitted, and an unknown or used one-time login
/// link sends the visitor to request a new password.
#[test]
fn the_drupal_double_rebuilds_a_form_posted_without_its_build_id_and_refuses_an_unknown_one_time_link() {
    const APP: &str = "https://localhost:18443/";
    let _bed = testbed::lock();
    testbed::reset();
    let curl = |args: &[&str]| {
        // The application as visitors reach it (nginx in front of the stand-in); its TLS is not under test here.
        let out = std::process::Command::new("curl").args(["-s", "-k", "--max-time", "5"]).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let bare = curl(&["--data", "mail=qa%40jarabaimpact.com&message=hola", &format!("{APP}contacto")]);
    assert!(bare.contains("name=form_build_id") && !bare.contains("messages--status"), "{bare}");
    let form = curl(&[&format!("{APP}contacto")]);
    let build = form.split("name=form_build_id value=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default();
    assert!(build.starts_with("form-"), "{form}");
    let sent = curl(&[
        "--data",
        &format!("form_build_id={build}&mail=qa%40jarabaimpact.com&message=hola"),
        &format!("{APP}contacto"),
    ]);
    assert!(sent.contains("messages--status"), "{sent}");
    let replayed = curl(&[
        "--data",
        &format!("form_build_id={build}&mail=qa%40jarabaimpact.com&message=hola"),
        &format!("{APP}contacto"),
    ]);
    assert!(!replayed.contains("messages--status"), "a form build id was accepted twice: {replayed}");
    let unknown = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        &format!("{APP}user/reset/1/946684800/deadbeef"),
    ]);
    assert!(unknown.starts_with("302 ") && unknown.ends_with("/user/password"), "{unknown}");
}
