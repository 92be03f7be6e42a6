//! metrics, watch and notify through the binary against real components: Prometheus (Debian's package) over
//! backfilled data queried at explicit times, a webhook receiver (tests/servers/doubles.py), an SMTP sink
//! (aiosmtpd) and, for host readings, the test bed's loopback sshd.

use crate::common;

use crate::common::doubles::{doubles, lock};
use crate::common::prometheus::{error_ratio, prometheus, smtp_sink};
use crate::common::{Project, Run};

fn project(prometheus_url: &str, smtp_port: u16) -> Project {
    Project::with_config(&format!(
        "default_target = \"local\"\n[targets.local]\nkind = \"local\"\n\
         [vars.prometheus]\nurl = \"{prometheus_url}\"\n\
         [vars.smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nfrom = \"golive@jarabaimpact.test\"\nsecurity = \"none\"\n\
         [vars.notify]\nretry_ms = 20\n"
    ))
}

fn run(project: &Project, body: &str) -> Run {
    project.write("t.rhai", &format!("step \"metrics\" {{\n{body}\n}}"));
    project.golive(&["t.rhai", "--yes"])
}

fn hooks() -> Vec<serde_json::Value> {
    let out = std::process::Command::new("curl")
        .arg("-fsS")
        .arg(format!("{}/_golive/hooks", doubles().vendors_api()))
        .output()
        .unwrap();
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

#[test]
fn queries_at_an_explicit_time_read_values_nan_and_infinity() {
    let p = prometheus();
    let project = project(&p.url, 1);
    let at = p.t0 + 15 * 60;
    let run = run(
        &project,
        &format!(
            r#"let v = metrics::query("golive_error_ratio", #{{ at: {at}.0 }});
            print(`value=${{v[0].value}} service=${{v[0].metric.service}} at=${{v[0].at}}`);
            let s = metrics::query("golive_special", #{{ at: {at}.0 }});
            for x in s {{ print(`${{x.metric.kind}}=${{x.value}} nan=${{x.value.is_nan()}}`); }}
            let r = metrics::range("golive_error_ratio", {from}, {to}, "60s");
            print(`points=${{r[0].values.len()}} first=${{r[0].values[0][1]}} last=${{r[0].values[4][1]}}`);
            print(`empty=${{metrics::query("no_such_metric", #{{ at: {at}.0 }}).len()}}`);"#,
            from = p.t0 + 8 * 60,
            to = p.t0 + 12 * 60
        ),
    );
    run.assert_code(0);
    assert!(run.stdout.contains(&format!("value={:?} service=drupal at={at}.0", error_ratio(15))), "{}", run.all());
    assert!(run.stdout.contains("nan=NaN nan=true"), "{}", run.all());
    assert!(run.stdout.contains("inf=inf nan=false"), "{}", run.all());
    assert!(
        run.stdout.contains(&format!("points=5 first={:?} last={:?}", error_ratio(8), error_ratio(12))),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("empty=0"), "{}", run.all());
}

#[test]
fn a_promql_syntax_error_shows_prometheus_own_message() {
    let project = project(&prometheus().url, 1);
    let run = run(&project, r#"metrics::query("sum(rate(x[5m])");"#);
    run.assert_code(1);
    assert!(run.stderr.contains("Prometheus answered 400: bad_data: invalid parameter \"query\": 1:"), "{}", run.all());
    assert!(run.stderr.contains("parse error"), "{}", run.all());
}

#[test]
fn a_watch_acts_once_per_transition_and_notifies_webhook_and_smtp() {
    let _g = lock();
    doubles().vendor_state("{}");
    let p = prometheus();
    let sink = smtp_sink();
    let project = project(&p.url, sink.port);
    let hook = format!("{}/hooks/slack", doubles().vendors_api());
    let run = run(
        &project,
        &format!(
            r#"let summary = metrics::watch(#{{
                every: "20ms", "for": "1m",
                replay: #{{ from: {from}, to: {to}, step: "60s" }},
                rules: [#{{ name: "Error rate", query: "golive_error_ratio", unit: "%", warn: 1.0, crit: 5.0 }}],
                on_change: |e| {{
                    notify::slack("{hook}", `${{e.rule}}: ${{e.from}} -> ${{e.to}} (${{e.value}}%)`);
                    notify::email("devops@jarabaimpact.test", `[golive] ${{e.rule}} ${{e.to}}`, `${{e.rule}} went from ${{e.from}} to ${{e.to}} at ${{e.at}}`);
                }},
            }});
            print(`evaluations=${{summary.evaluations}} stopped=${{summary.stopped}} transitions=${{summary.transitions.map(|t| t.to)}}`);"#,
            from = p.t0,
            to = p.t0 + 40 * 60
        ),
    );
    run.assert_code(0);
    assert!(
        run.stdout.contains("evaluations=41 stopped=replay done transitions=[\"warn\", \"crit\", \"ok\"]"),
        "{}",
        run.all()
    );
    let received = hooks();
    let texts: Vec<String> = received.iter().map(|h| h["body"].as_str().unwrap().to_string()).collect();
    assert_eq!(texts.len(), 3, "one webhook per transition: {texts:?}");
    assert!(
        texts[0].contains("ok -> warn (2.0%)")
            && texts[1].contains("warn -> crit (7.0%)")
            && texts[2].contains("crit -> ok (0.3%)"),
        "{texts:?}"
    );
    let mails = sink.messages();
    assert_eq!(mails.len(), 3, "one email per transition");
    // The operator is told each alert went out.
    assert!(
        run.stderr.contains("sent: the email \"[golive] Error rate crit\" to devops@jarabaimpact.test")
            && run.stderr.matches("sent: the Slack message").count() == 3,
        "{}",
        run.stderr
    );
    assert!(
        mails[1].contains("Subject: [golive] Error rate crit")
            && mails[1].contains("X-RcptTo: devops@jarabaimpact.test"),
        "{}",
        mails[1]
    );
}

#[test]
fn prometheus_down_or_slow_is_no_data_and_the_watch_goes_on() {
    let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // Accepts connections (the kernel's backlog) and never answers: a Prometheus that hangs.
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    for (url, why) in [
        (format!("http://127.0.0.1:{refused}"), "connection refused"),
        (format!("http://{}", hanging.local_addr().unwrap()), "timed out"),
    ] {
        let project = project(&url, 1);
        let run = run(
            &project,
            r#"let s = metrics::watch(#{ every: "100ms", "for": "1s", timeout: "200ms",
                rules: [#{ name: "Error rate", query: "golive_error_ratio", warn: 1.0, crit: 5.0 }] });
            print(`evaluations=${s.evaluations} state=${s.states["Error rate"]} stopped=${s.stopped}`);"#,
        );
        run.assert_code(0);
        assert!(run.stdout.contains("state=nodata stopped=time"), "{}", run.all());
        let evaluations: u32 =
            run.stdout.split("evaluations=").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
        assert!(evaluations >= 3, "the watch went on: {}", run.all());
        assert!(run.stdout.contains("Error rate ok -> nodata") && run.stdout.contains(why), "{why}: {}", run.all());
    }
    drop(hanging);
}

#[test]
fn failed_notifications_are_retried_reported_and_never_fail_the_step() {
    let project = project("http://127.0.0.1:1", 1);
    let fail = format!("{}/hooks/fail", doubles().vendors_api());
    let run = run(
        &project,
        &format!(
            r#"let r = notify::slack("{fail}", "rollback started");
            print(`ok=${{r.ok}} attempts=${{r.attempts}}`);
            let m = notify::email(["a@x.test", "b@x.test"], "s", "b");
            print(`mail=${{m.ok}} ${{m.error}}`);"#
        ),
    );
    run.assert_code(0);
    assert!(run.stdout.contains("ok=false attempts=3"), "{}", run.all());
    assert!(run.stdout.contains("the Slack message was not delivered after 3 attempts: answered 500"), "{}", run.all());
    assert!(run.stdout.contains("answered 500"), "{}", run.all());
    assert!(
        run.stdout.contains("mail=false") && run.stdout.contains("SMTP 127.0.0.1:1: Connection error"),
        "{}",
        run.all()
    );
}

#[test]
fn host_usage_over_the_loopback_sshd_is_plausible() {
    let _bed = common::testbed::lock();
    let project = common::testbed::project();
    project.write("t.rhai", "step \"host\" { let h = metrics::host(target()); print(`cpu=${h.cpu_pct} mem=${h.mem_pct} disk=${h.disk_pct}`); }");
    let run = project.golive(&["t.rhai"]);
    run.assert_code(0);
    let line = run.stdout.lines().find(|l| l.starts_with("cpu=")).unwrap();
    for part in line.split_whitespace() {
        let value: f64 = part.split('=').nth(1).unwrap().parse().unwrap();
        assert!((0.0..=100.0).contains(&value), "{line}");
    }
    let mem: f64 = line.split("mem=").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!(mem > 0.0, "{line}");
}

#[test]
fn a_resumed_watch_runs_to_its_original_end() {
    let project = project("http://127.0.0.1:1", 1);
    project.write(
        "w.rhai",
        "step \"watch\" { let s = metrics::watch(#{ every: \"100ms\", \"for\": \"3s\", timeout: \"50ms\", rules: [#{ name: \"E\", query: \"up\", warn: 1.0, crit: 5.0 }] }); local::run(\"test -e go\"); s }\n",
    );
    let first = project.golive(&["w.rhai"]);
    first.assert_code(1);
    let journal = std::fs::read_to_string(&project.journals()[0]).unwrap();
    assert!(journal.contains("metrics::watch ends at (unix ms)"), "{journal}");
    std::fs::write(project.file("go"), "").unwrap();
    // The first watch used up its 3 s: the resumed one finds its end already passed and stops at once.
    let started = std::time::Instant::now();
    let resumed = project.golive(&["resume"]);
    resumed.assert_code(0);
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2500),
        "the resumed watch started a new 3 s: {}",
        resumed.all()
    );
}

#[test]
fn sms_and_pagerduty_from_the_stdlib_reach_their_doubles() {
    let _g = lock();
    doubles().vendor_state("{}");
    let v = doubles().vendors_api();
    let project = Project::with_config(&format!(
        "default_target = \"local\"\n[targets.local]\nkind = \"local\"\n\
         [vars.sms]\napi = \"{v}/twilio/2010-04-01\"\naccount_sid = \"AC00000000000000000000000000golive\"\nfrom = \"+34900000000\"\n\
         [vars.pagerduty]\nurl = \"{v}/hooks/pagerduty\"\n[vars.notify]\nretry_ms = 20\n"
    ));
    project.write(".env", "TWILIO_AUTH_TOKEN=twilio-token-golive-01\nPAGERDUTY_ROUTING_KEY=pd-routing-golive-0001\n");
    project.write(
        "t.rhai",
        "step \"alert\" {\n print(sms::send(\"+34600000000\", \"CRITICAL Error Rate 7%\"));\n print(pagerduty::trigger(\"CRITICAL Error Rate 7%\", \"critical\", \"golive-error-rate\"));\n}\n",
    );
    let run = project.golive(&["t.rhai"]);
    run.assert_code(0);
    assert!(!run.all().contains("twilio-token-golive-01") && !run.all().contains("pd-routing-golive-0001"));
    let received = hooks();
    assert_eq!(received.len(), 2, "{received:?}");
    assert!(received[0]["body"].as_str().unwrap().contains("\"To\": \"+34600000000\""), "{received:?}");
    let page: serde_json::Value = serde_json::from_str(received[1]["body"].as_str().unwrap()).unwrap();
    assert_eq!(page["event_action"], "trigger");
    assert_eq!(page["routing_key"], "pd-routing-golive-0001");
    assert_eq!(page["payload"]["severity"], "critical");

    doubles().vendor_state(r#"{"twilio_token": "another-token-0002"}"#);
    let denied = project.golive(&["t.rhai"]);
    denied.assert_code(0);
    assert!(
        denied.stdout.contains("sms: not delivered to +34600000000 after 3 attempts: answered 401"),
        "{}",
        denied.all()
    );
}
