//! http, tls and dns modules through the real binary, against the project's own servers on loopback
//! (tests/servers/doubles.py over HTTP and HTTPS with a generated CA, dnsmasq). No mocks: every request
//! crosses a real socket.

use crate::common::doubles::doubles;
use crate::common::{Project, Run};

fn run(script: &str) -> Run {
    let project = Project::new();
    project.write("t.rhai", script);
    project.golive(&["t.rhai", "--yes"])
}

fn ca() -> String {
    doubles().ca_file.display().to_string()
}

#[test]
fn get_gives_status_body_headers_and_curl_like_timings() {
    let d = doubles();
    let run = run(&format!(
        r#"step "get" {{
            let r = http::get("http://localhost:{}/json");
            print(`status=${{r.status}} ok=${{r.ok}} type=${{r.header("content-type")}} name=${{r.json().name}}`);
            print(`dns=${{r.dns_ms > 0.0}} connect=${{r.connect_ms > 0.0}} tls=${{r.tls_ms}} order=${{r.ttfb_ms >= r.dns_ms + r.connect_ms && r.total_ms >= r.ttfb_ms}}`);
            let again = http::get("https://localhost:{}/", #{{ ca_file: "{}" }});
            print(`https=${{again.status}} tls=${{again.tls_ms > 0.0}} ttfb=${{again.ttfb_ms >= again.connect_ms + again.tls_ms}}`);
        }}"#,
        d.site_http,
        d.site_https,
        ca()
    ));
    run.assert_code(0);
    assert!(run.stdout.contains("status=200 ok=true type=application/json name=jaraba"), "{}", run.all());
    assert!(run.stdout.contains("dns=true connect=true tls=0.0 order=true"), "{}", run.all());
    assert!(run.stdout.contains("https=200 tls=true ttfb=true"), "{}", run.all());
}

#[test]
fn options_reach_the_server_and_secrets_stay_out_of_every_output() {
    let d = doubles();
    let project = Project::new();
    project.write(".env", "SITE_TOKEN=tok-very-secret-4242\n");
    project.write(
        "t.rhai",
        &format!(
            r#"step "echo" {{
                let r = http::post("{}/echo", #{{ query: #{{ page: 2, q: "a b" }}, json: #{{ plan: "starter" }}, bearer: secret("SITE_TOKEN"), headers: #{{ "X-Runbook": "golive" }} }});
                let e = r.json();
                print(`method=${{e.method}} page=${{e.query.page}} q=${{e.query.q}} body=${{e.body}} runbook=${{e.headers["x-runbook"]}}`);
                print(`auth=${{e.headers.authorization}}`);
                let f = http::put("{}/echo", #{{ form: #{{ name: "admin" }}, basic: #{{ user: "ops", password: "pw" }} }}).json();
                print(`form=${{f.body}} basic=${{f.headers.authorization}}`);
            }}"#,
            d.site(),
            d.site()
        ),
    );
    let run = project.golive(&["t.rhai"]);
    run.assert_code(0);
    assert!(run.stdout.contains(r#"method=POST page=2 q=a b body={"plan":"starter"} runbook=golive"#), "{}", run.all());
    assert!(run.stdout.contains("auth=Bearer <secret:SITE_TOKEN>"), "{}", run.all());
    assert!(run.stdout.contains("form=name=admin basic=Basic b3BzOnB3"), "{}", run.all());
    assert!(!run.all().contains("tok-very-secret-4242"));
    assert!(!project.state_files().contains("tok-very-secret-4242"), "the secret reached .golive/");
}

#[test]
fn redirects_are_followed_unless_the_script_says_not_to() {
    let d = doubles();
    let run = run(&format!(
        r#"step "redirects" {{
            let kept = http::get("{0}/redirect", #{{ follow_redirects: false }});
            print(`kept=${{kept.status}} location=${{kept.header("location")}}`);
            let followed = http::get("{0}/redirect");
            print(`followed=${{followed.status}} url=${{followed.url}}`);
        }}"#,
        d.site()
    ));
    run.assert_code(0);
    assert!(run.stdout.contains("kept=301 location=/"), "{}", run.all());
    assert!(run.stdout.contains(&format!("followed=200 url={}/", d.site())), "{}", run.all());
}

#[test]
fn a_session_keeps_its_cookies_from_login_to_dashboard() {
    let d = doubles();
    let run = run(&format!(
        r#"step "login" {{
            let anonymous = http::get("{0}/dashboard", #{{ follow_redirects: false }});
            print(`anonymous=${{anonymous.status}} to ${{anonymous.header("location")}}`);
            let bad = http::session();
            let refused = bad.post("{0}/user/login", #{{ form: #{{ name: "admin", pass: "wrong" }} }});
            print(`wrong=${{refused.status}} ${{refused.body.contains("Unrecognized")}}`);
            let s = http::session(#{{ follow_redirects: false }});
            let login = s.post("{0}/user/login", #{{ form: #{{ name: "admin", pass: "correct-horse-battery" }} }});
            print(`login=${{login.status}} to ${{login.header("location")}}`);
            let dash = s.get("{0}/dashboard");
            print(`dashboard=${{dash.status}} ${{dash.body}}`);
            // A later request's own options hold, with the same cookies: this one follows the redirect.
            let out = s.post("{0}/user/login", #{{ form: #{{ name: "admin", pass: "correct-horse-battery" }}, follow_redirects: true }});
            print(`followed=${{out.status}} ${{out.url.ends_with("/dashboard")}}`);
        }}"#,
        d.site()
    ));
    run.assert_code(0);
    assert!(run.stdout.contains("anonymous=302 to /user/login"), "{}", run.all());
    assert!(run.stdout.contains("wrong=200 true"), "{}", run.all());
    assert!(run.stdout.contains("login=303 to /dashboard"), "{}", run.all());
    assert!(
        run.stdout.contains("dashboard=200 <title>Dashboard</title><h1 class=dashboard>Dashboard</h1>"),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("followed=200 true"), "a session kept its first request's options:\n{}", run.all());
}

#[test]
fn expect_fails_the_step_with_status_url_and_body_excerpt() {
    let d = doubles();
    let run = run(&format!(r#"step "home" {{ http::expect("{}/status/500", 200); }}"#, d.site()));
    run.assert_code(1);
    let expected = format!("GET {}/status/500 answered 500, expected 200: status 500 from the test site", d.site());
    assert!(run.stderr.contains(&expected), "{}", run.all());
    let ok = self::run(&format!(r#"step "home" {{ print(http::expect("{}/status/204", 204).status); }}"#, d.site()));
    ok.assert_code(0);
    assert!(ok.stdout.contains("204"), "{}", ok.all());
}

#[test]
fn refused_connections_and_timeouts_say_so() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let refused = run(&format!(r#"step "down" {{ http::get("http://127.0.0.1:{free}/"); }}"#));
    refused.assert_code(1);
    assert!(refused.stderr.contains("connection refused"), "{}", refused.all());
    assert!(refused.stderr.contains("(line 1:"), "no position: {}", refused.all());

    let slow =
        run(&format!(r#"step "slow" {{ http::get("{}/slow?ms=3000", #{{ timeout: "300ms" }}); }}"#, doubles().site()));
    slow.assert_code(1);
    assert!(slow.stderr.contains("timed out after 300ms"), "{}", slow.all());
}

#[test]
fn bad_tls_is_named_for_what_it_is() {
    let d = doubles();
    let untrusted = run(&format!(r#"step "s" {{ http::get("https://localhost:{}/"); }}"#, d.site_https));
    untrusted.assert_code(1);
    assert!(untrusted.stderr.contains("TLS: the certificate is not trusted (unknown issuer"), "{}", untrusted.all());
    let expired = run(&format!(
        r#"step "s" {{ http::get("https://localhost:{}/", #{{ ca_file: "{}" }}); }}"#,
        d.expired_https,
        ca()
    ));
    expired.assert_code(1);
    assert!(expired.stderr.contains("TLS: the certificate has expired"), "{}", expired.all());
}

#[test]
fn malformed_json_names_the_url_and_the_script_position() {
    let d = doubles();
    let run = run(&format!("step \"s\" {{\n    let r = http::get(\"{}/malformed\");\n    r.json();\n}}", d.site()));
    run.assert_code(1);
    assert!(
        run.stderr.contains(&format!("GET {}/malformed answered 200 with a body that is not JSON", d.site())),
        "{}",
        run.all()
    );
    assert!(run.stderr.contains("(line 3:"), "{}", run.all());
}

#[test]
fn bad_options_and_urls_are_script_errors_with_positions() {
    let run = run("step \"s\" {\n    http::get(\"http://127.0.0.1:1/\", #{ folow_redirects: false });\n}");
    run.assert_code(1);
    assert!(run.stderr.contains("unknown field `folow_redirects`") && run.stderr.contains("(line 2:"), "{}", run.all());
    let url = self::run("step \"s\" {\n    http::get(\"ftp://example.com/\");\n}");
    assert!(url.stderr.contains("is not an http:// or https:// URL"), "{}", url.all());
}

#[test]
fn all_sends_requests_at_once_and_reports_each() {
    let d = doubles();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let run = run(&format!(
        r#"step "smoke" {{
            let started = timestamp();
            let rs = http::all([
                #{{ url: "{0}/slow?ms=700" }}, #{{ url: "{0}/slow?ms=700" }}, #{{ url: "{0}/slow?ms=700" }},
                #{{ url: "{0}/status/503" }}, #{{ url: "http://127.0.0.1:{1}/" }}, #{{ url: "{0}/echo", method: "POST", form: #{{ a: 1 }} }},
            ]);
            for r in rs {{ print(`${{r.status}}|${{r.error}}`); }}
        }}"#,
        d.site(),
        free
    ));
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().filter(|l| l.contains('|')).collect();
    assert_eq!(lines.len(), 6, "{}", run.all());
    assert_eq!(&lines[..4], ["200|", "200|", "200|", "503|"]);
    assert!(lines[4].starts_with("0|") && lines[4].contains("connection refused"), "{}", lines[4]);
    assert_eq!(lines[5], "200|");
}

#[test]
fn probe_reports_percentiles_errors_and_an_open_loop_rate() {
    let d = doubles();
    let run = run(&format!(
        r#"step "probe" {{
            let p = http::probe("{0}/json", #{{ requests: 200, concurrency: 8 }});
            print(`ok=${{p.ok}} succeeded=${{p.succeeded}} errors=${{p.errors}} ordered=${{p.p50_ms > 0.0 && p.p50_ms <= p.p95_ms && p.p95_ms <= p.p99_ms && p.p99_ms <= p.max_ms}} rps=${{p.throughput_rps > 0.0}}`);
            let bad = http::probe("{0}/status/500", #{{ requests: 10, concurrency: 2 }});
            print(`bad_ok=${{bad.ok}} bad_succeeded=${{bad.succeeded}} bad_errors=${{bad.errors}} first=${{bad.first_error}}`);
            let paced = http::probe("{0}/json", #{{ requests: 20, concurrency: 2, rate: 100.0 }});
            print(`paced=${{paced.duration_ms >= 185.0}} ok=${{paced.succeeded}}`);
        }}"#,
        d.site()
    ));
    run.assert_code(0);
    assert!(run.stdout.contains("ok=true succeeded=200 errors=0 ordered=true rps=true"), "{}", run.all());
    assert!(
        run.stdout.contains("bad_ok=false bad_succeeded=0 bad_errors=10 first=answered 500 Internal Server Error"),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("paced=true ok=20"), "{}", run.all());
}

#[test]
fn tls_cert_reads_names_dates_and_trust_even_when_bad() {
    let d = doubles();
    let run = run(&format!(
        r#"step "certs" {{
            let ok = tls::cert("127.0.0.1:{0}", #{{ server_name: "localhost", ca_file: "{ca}" }});
            print(`valid days=${{ok.days_left}} trusted=${{ok.trusted}} problem=[${{ok.problem}}] sans=${{ok.sans}} subject=${{ok.subject}} issuer=${{ok.issuer}}`);
            let soon = tls::cert("localhost:{1}", #{{ ca_file: "{ca}" }});
            print(`soon days=${{soon.days_left}} problem=[${{soon.problem}}]`);
            let old = tls::cert("localhost:{2}", #{{ ca_file: "{ca}" }});
            print(`old days=${{old.days_left}} problem=${{old.problem}}`);
            let stranger = tls::cert("localhost:{3}", #{{ ca_file: "{ca}" }});
            print(`stranger trusted=${{stranger.trusted}} problem=${{stranger.problem}}`);
        }}"#,
        d.site_https,
        d.expiring_https,
        d.expired_https,
        d.untrusted_https,
        ca = ca()
    ));
    run.assert_code(0);
    let out = &run.stdout;
    assert!(out.contains("valid days=89 trusted=true problem=[] sans=[\"localhost\", \"127.0.0.1\"] subject=CN=localhost issuer=CN=golive test CA"), "{out}");
    assert!(out.contains("soon days=9 problem=[]"), "{out}");
    assert!(
        out.contains("old days=-1801 problem=expired on") || out.contains("old days=-1800 problem=expired on"),
        "{out}"
    );
    assert!(out.contains("stranger trusted=false problem=the certificate is not trusted"), "{out}");
}

#[test]
fn tls_cert_of_a_closed_port_says_refused() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let run = run(&format!(r#"step "c" {{ tls::cert("127.0.0.1:{free}"); }}"#));
    run.assert_code(1);
    assert!(run.stderr.contains(&format!("127.0.0.1:{free}: connection refused")), "{}", run.all());
}

#[test]
fn dns_resolve_reads_records_from_a_real_server() {
    let d = doubles();
    let run = run(&format!(
        r#"step "dns" {{
            let ns = #{{ nameserver: "{}" }};
            print(`a=${{dns::resolve("app.golive.test", "A", ns)}}`);
            print(`mx=${{dns::resolve("golive.test", "mx", ns)}}`);
            print(`txt=${{dns::resolve("golive.test", "TXT", ns)}}`);
            print(`cname=${{dns::resolve("www.golive.test", "CNAME", ns)}}`);
            print(`none=${{dns::resolve("nothing.golive.test", "A", ns)}}`);
        }}"#,
        d.dns
    ));
    run.assert_code(0);
    assert!(run.stdout.contains(r#"a=["127.0.0.1"]"#), "{}", run.all());
    assert!(run.stdout.contains(r#"mx=["10 mail.golive.test."]"#), "{}", run.all());
    assert!(run.stdout.contains(r#"txt=["v=spf1 -all"]"#), "{}", run.all());
    assert!(run.stdout.contains(r#"cname=["app.golive.test."]"#), "{}", run.all());
    assert!(run.stdout.contains("none=[]"), "{}", run.all());
    let bad = self::run(r#"step "dns" { dns::resolve("golive.test", "QQ"); }"#);
    bad.assert_code(1);
    assert!(bad.stderr.contains("`QQ` is not a DNS record type"), "{}", bad.all());
}

/// A server of the test's own that answers each request after 300 ms and counts what reaches it.
fn counting_slow_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = std::sync::Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let seen = std::sync::Arc::clone(&seen);
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if line.starts_with("GET ") {
                        seen.fetch_add(1, Ordering::SeqCst);
                    }
                    if line == "\r\n" {
                        std::thread::sleep(std::time::Duration::from_millis(300));
                        if writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (port, count)
}

#[test]
fn a_probe_stops_sending_at_its_timeout_and_reports_what_it_measured() {
    let (port, count) = counting_slow_server();
    let run = run(&format!(
        r#"step "probe" {{
            let p = http::probe("http://127.0.0.1:{port}/", #{{ requests: 100, concurrency: 2, timeout: "1s" }});
            print(`ok=${{p.ok}} succeeded=${{p.succeeded}} note=${{p.first_error}}`);
        }}"#
    ));
    run.assert_code(0);
    let at_report = count.load(std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), at_report, "the probe kept sending after it reported");
    assert!(at_report <= 10, "{at_report} requests in 1 s at 300 ms each over 2 connections");
    assert!(run.stdout.contains("ok=false"), "{}", run.all());
    assert!(run.stdout.contains("the probe did not finish within 1.0s"), "{}", run.all());
    assert!(run.stdout.contains("of 100 requests answered, the rest not sent"), "{}", run.all());
}
