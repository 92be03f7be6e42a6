//! The browser module through the real binary and a real headless Chromium (Debian's `chromium`), against
//! the project's own site double over HTTPS with the test CA: vitals of pages with known faults, scripted
//! flows, what plans say of them, and Ctrl-C stopping the browser.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::doubles::doubles;
use crate::common::{Project, Run};

fn site() -> String {
    doubles().https()
}

fn ca() -> String {
    doubles().ca_file.display().to_string()
}

/// The number printed after `key=` on the output line that starts with `page `.
fn figure(run: &Run, page: &str, key: &str) -> f64 {
    let line = run.stdout.lines().find(|l| l.starts_with(&format!("{page} "))).unwrap_or_default();
    let value = line.split_whitespace().find_map(|word| word.strip_prefix(&format!("{key}=")));
    value.and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no {page} {key} in:\n{}", run.all()))
}

const GO_ANSWERS: &str = "\"Go/No-Go\" = { answer = \"GO\", by = \"test\" }\n";

#[test]
fn a_page_with_a_layout_shift_and_a_slow_handler_fails_cls_and_inp_and_the_gate_recommends_no_go() {
    let project = Project::new();
    project.write("answers.toml", GO_ANSWERS);
    let page = |name: &str| {
        format!(
            r##"check "{name} page: CLS < 0.1, INP <= 200 ms" {{
                let v = browser::vitals("{site}/vitals/{name}", #{{ interactions: [#{{ click: "#menu" }}], runs: 3, ca_file: "{ca}" }});
                print(`{name} cls=${{v.cls}} inp=${{v.inp_ms}} fid=${{v.fid_ms}} lcp=${{v.lcp_ms}} fcp=${{v.fcp_ms}} status=${{v.status}} runs=${{v.runs}}`);
                #{{ ok: v.cls < 0.1 && v.inp_ms <= 200.0, actual: `CLS ${{v.cls}}, INP ${{v.inp_ms}} ms`, target: "CLS < 0.1, INP <= 200 ms" }}
            }};
            "##,
            site = site(),
            ca = ca()
        )
    };
    project.write("vitals.rhai", &format!("{}{}gate \"Go/No-Go\";\n", page("janky"), page("clean")));
    let run = project.golive(&["vitals.rhai", "--answers", "answers.toml"]);
    run.assert_code(1);
    assert!(figure(&run, "janky", "cls") > 0.1, "{}", run.all());
    assert!(figure(&run, "janky", "inp") > 200.0, "{}", run.all());
    assert!(figure(&run, "clean", "cls") < 0.1, "{}", run.all());
    assert!(figure(&run, "clean", "inp") < 200.0, "{}", run.all());
    for name in ["janky", "clean"] {
        assert!(figure(&run, name, "lcp") > 0.0, "{}", run.all());
        // The first input's delay is measured (the seed's FID), apart from its handler's time (INP's).
        let fid = figure(&run, name, "fid");
        assert!((0.0..100.0).contains(&fid), "{name}: FID {fid}\n{}", run.all());
        assert!(
            run.stdout.contains(&format!("{name} cls=")) && run.stdout.contains("status=200 runs=3"),
            "{}",
            run.all()
        );
    }
    assert!(run.check_line("janky page: CLS < 0.1, INP <= 200 ms").starts_with("  FAIL"), "{}", run.all());
    assert!(run.check_line("clean page: CLS < 0.1, INP <= 200 ms").starts_with("  ok"), "{}", run.all());
    assert!(run.stderr.contains("recommendation: NO-GO"), "{}", run.all());
    assert!(run.stderr.contains("error: gate \"Go/No-Go\" recommends NO-GO (\"janky page"), "{}", run.all());
}

#[test]
fn a_flow_logs_in_keeps_its_screenshot_and_never_shows_what_it_typed() {
    let project = Project::new();
    let script = format!(
        r##"step "login" {{
            let f = browser::flow([
                #{{ visit: "{site}/user/login" }},
                #{{ fill: "#edit-name", text: "admin" }},
                #{{ fill: "#edit-pass", text: "correct-horse-battery" }},
                #{{ click: "#edit-submit" }},
                #{{ wait_for: ".dashboard" }},
                #{{ screenshot: "evidence/login.png" }},
            ], #{{ ca_file: "{ca}" }});
            print(`ok=${{f.ok}} title=${{f.title}} url=${{f.url}} shots=${{f.screenshots}} error=${{f.error}}`);
            print(f.done);
        }}"##,
        site = site(),
        ca = ca()
    );
    project.write("flow.rhai", &script);
    let run = project.golive(&["flow.rhai"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains(&format!(
            "ok=true title=Dashboard url={}/dashboard shots=[\"evidence/login.png\"] error=",
            site()
        )),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("fill #edit-pass: "), "{}", run.all());
    let png = std::fs::read(project.file("evidence/login.png")).expect("the screenshot is kept");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000, "not a PNG: {} bytes", png.len());
    let journal = std::fs::read_to_string(&project.journals()[0]).unwrap();
    assert!(journal.contains("browser flow: visit"), "{journal}");
    assert!(!run.all().contains("correct-horse-battery") && !journal.contains("correct-horse-battery"), "{journal}");
}

#[test]
fn a_flow_stops_at_the_first_action_that_fails_and_names_it() {
    let project = Project::new();
    let script = format!(
        r##"step "login" {{
            let f = browser::flow([
                #{{ visit: "{site}/user/login" }},
                #{{ fill: "#edit-name", text: "admin" }},
                #{{ fill: "#edit-pass", text: "wrong" }},
                #{{ click: "#edit-submit" }},
                #{{ wait_for: ".dashboard", within: "2s" }},
                #{{ screenshot: "never.png" }},
            ], #{{ ca_file: "{ca}" }});
            print(`ok=${{f.ok}} done=${{f.done.len()}} error=${{f.error}}`);
        }}"##,
        site = site(),
        ca = ca()
    );
    project.write("flow.rhai", &script);
    let run = project.golive(&["flow.rhai"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("ok=false done=4 error=wait_for .dashboard: no element matches `.dashboard` after 2.0s"),
        "{}",
        run.all()
    );
    assert!(!project.file("never.png").exists(), "the flow went on after its failure");
}

#[test]
fn a_plan_measures_nothing_so_a_vitals_check_is_unknown_and_a_scenario_answers_it() {
    let project = Project::new();
    project.write(
        "vitals.rhai",
        "check \"vitals\" { let v = browser::vitals(\"https://app.example/\", #{ interactions: [#{ click: \"#menu\" }] }); \
         #{ ok: v.lcp_ms < 2500.0 && v.cls < 0.1 && v.inp_ms <= 200.0, actual: `${v.lcp_ms} ${v.cls} ${v.inp_ms}`, target: \"good\" } };\n",
    );
    let plan = project.golive(&["plan", "vitals.rhai"]);
    plan.assert_code(1);
    assert!(
        plan.stdout.contains(
            "read   browser vitals of https://app.example/ x5 (click #menu)  <- assumed no browser in a plan"
        ),
        "{}",
        plan.all()
    );
    assert!(plan.stdout.contains("UNKNOWN (assumed)"), "{}", plan.all());
    project.write(
        "fast.toml",
        "[[browser]]\nmatch = \"browser vitals of https://app.example/\"\nlcp_ms = 1200.0\ncls = 0.01\ninp_ms = 80.0\n",
    );
    let answered = project.golive(&["plan", "vitals.rhai", "--scenario", "fast.toml"]);
    answered.assert_code(0);
    assert!(answered.stdout.contains("= pass (actual 1200.0 0.01 80.0, target good)"), "{}", answered.all());
    project.write(
        "slow.toml",
        "[[browser]]\nmatch = \"browser vitals of https://app.example/\"\nlcp_ms = 1200.0\ncls = 0.3\n",
    );
    let slow = project.golive(&["plan", "vitals.rhai", "--scenario", "slow.toml"]);
    slow.assert_code(1);
    assert!(slow.stdout.contains("= FAIL (actual 1200.0 0.3"), "{}", slow.all());
}

#[test]
fn bad_actions_are_refused_with_the_position_and_the_shapes_allowed() {
    let project = Project::new();
    project.write(
        "bad.rhai",
        "step \"s\" {\n    browser::flow([#{ visit: \"https://a.example/\" }, #{ fill: \"#q\" }]);\n}\n",
    );
    let run = project.golive(&["bad.rhai"]);
    run.assert_code(1);
    assert!(run.stderr.contains("(line 2:14)"), "{}", run.all());
    assert!(
        run.stderr.contains("action 2: give one of #{ visit: url }, #{ fill: selector, text: ... }"),
        "{}",
        run.all()
    );
    project.write("first.rhai", "step \"s\" { browser::flow([#{ click: \"#go\" }]); }\n");
    let run = project.golive(&["first.rhai"]);
    assert!(run.stderr.contains("a flow starts with #{ visit: url }"), "{}", run.all());
}

/// Processes whose command line holds `needle`, read from /proc.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let line = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if line.contains(needle) {
            found.push(format!("{}: {line}", entry.file_name().to_string_lossy()));
        }
    }
    found
}

#[test]
fn ctrl_c_while_the_browser_waits_on_a_page_stops_the_browser_with_the_step() {
    let project = Project::new();
    project.write(
        "slow.rhai",
        &format!(
            "step \"measure\" {{ browser::vitals(\"{}/slow?ms=60000\", #{{ runs: 1, ca_file: \"{}\" }}); }}\n",
            site(),
            ca()
        ),
    );
    let mut child = project.command(&["slow.rhai"]).spawn().unwrap();
    let needle = format!("golive-chromium-{}-", child.id());
    let until = Instant::now() + Duration::from_secs(20);
    while processes_with(&needle).is_empty() {
        assert!(Instant::now() < until, "the browser never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let interrupted = Instant::now();
    // SAFETY: kill(2) on the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(interrupted.elapsed() < Duration::from_secs(10), "the 60 s page load was not cancelled");
    let until = Instant::now() + Duration::from_secs(5);
    // Zombies are gone from /proc's cmdline (it reads empty), so what is listed is still running.
    while !processes_with(&needle).is_empty() {
        assert!(Instant::now() < until, "the browser outlived its step: {:?}", processes_with(&needle));
        std::thread::sleep(Duration::from_millis(100));
    }
    let journal = std::fs::read_to_string(&project.journals()[0]).unwrap();
    assert!(journal.contains("\"status\":\"interrupted\""), "{journal}");
}

/// A flow that lands on an error page (the server answered 5xx) stops there at once and says so, instead of
/// waiting for elements an error page does not have.
#[test]
fn a_flow_stops_at_once_on_a_page_the_server_answered_with_an_error() {
    let project = Project::new();
    project.write(
        "err.rhai",
        &format!(
            "step \"s\" {{ let f = browser::flow([#{{ visit: \"{}/status/500\" }}, #{{ wait_for: \"#never\" }}], #{{ ca_file: \"{}\" }}); print(`ok=${{f.ok}} error=${{f.error}}`); }}\n",
            site(),
            ca()
        ),
    );
    let started = Instant::now();
    let run = project.golive(&["err.rhai"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains(&format!("ok=false error=visit {}/status/500: the page answered HTTP 500", site())),
        "{}",
        run.all()
    );
    assert!(started.elapsed() < Duration::from_secs(8), "it waited for the element: {:?}", started.elapsed());
}

/// `golive serve` followed by a real headless Chromium: the page, loaded once, shows a step running, then
/// done, as the run's journal grows (server-sent events); the screenshots are kept as test artifacts.
#[test]
fn serve_shows_a_step_running_then_done_in_the_browser_while_the_run_goes_on() {
    use std::io::BufRead;
    let project = Project::with_config(&format!("{}\n[targets.viewer]\nkind = \"local\"\n", common::BASE_CONFIG));
    project.write("deploy.rhai", "phase \"Deploy\" { step \"slow step\" { local::run(\"sleep 10\"); } }\n");
    let mut deploy = project.command(&["deploy.rhai"]).stderr(std::process::Stdio::null()).spawn().unwrap();
    let journal_says = |needle: &str| {
        let runs = std::fs::read_dir(project.file(".golive/runs")).into_iter().flatten().flatten();
        runs.map(|d| d.path())
            .find(|d| std::fs::read_to_string(d.join("journal.jsonl")).is_ok_and(|j| j.contains(needle)))
    };
    let started = Instant::now();
    let run_dir = loop {
        if let Some(dir) = journal_says("\"step\":\"slow step\"") {
            break dir;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the run never started its step");
        std::thread::sleep(Duration::from_millis(50));
    };
    let run_id = run_dir.file_name().unwrap().to_string_lossy().into_owned();
    let mut serve = project
        .command(&["serve", &run_id, "--bind", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(serve.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let url = first.split_whitespace().find(|w| w.starts_with("http://127.0.0.1:")).unwrap_or_default().to_string();
    assert!(!url.is_empty(), "serve said: {first}");
    // The page is loaded once: its rows change under it, as its update count (kept by the page's script,
    // which a reload would start again at 1) shows.
    let row = |state: &str| {
        let updated = if state == "done" { "main[data-updates]:not([data-updates='1']) " } else { "" };
        format!("{updated}tr[data-item='slow step'][data-state='{state}']")
    };
    let shots = project.file("shots");
    std::fs::create_dir_all(&shots).unwrap();
    project.write(
        "watch.rhai",
        &format!(
            r#"check "the status page follows the run" {{
                let r = browser::flow([#{{ visit: "{url}" }}, #{{ wait_for: "{running}", within: "8s" }},
                    #{{ screenshot: "{shots}/serve-running.png" }}, #{{ wait_for: "{done}", within: "30s" }},
                    #{{ screenshot: "{shots}/serve-done.png" }}], #{{ read_only: true }});
                #{{ ok: r.ok, actual: `${{r.error}} done=${{r.done}}` }}
            }}
            "#,
            running = row("running"),
            done = row("done"),
            shots = shots.display()
        ),
    );
    // The page forbids itself everything but its own script and events: journal text can never run there.
    let page = std::process::Command::new("curl").args(["-s", "-D", "-", &url]).output().unwrap();
    let page = String::from_utf8_lossy(&page.stdout).to_lowercase();
    assert!(page.contains("content-security-policy: default-src 'none'") && page.contains("src=\"live.js\""), "{page}");
    let watch = project.golive(&["watch.rhai", "--target", "viewer"]);
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(deploy.wait().unwrap().success());
    watch.assert_code(0);
    // Kept for a person to look at: the page while the step ran, and after.
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let evidence: Vec<std::path::PathBuf> = std::fs::read_dir(&shots).unwrap().flatten().map(|f| f.path()).collect();
    for name in ["serve-running.png", "serve-done.png"] {
        let shot = evidence.iter().find(|p| p.ends_with(name)).unwrap_or_else(|| panic!("no {name}: {evidence:?}"));
        assert!(std::fs::metadata(shot).unwrap().len() > 1000, "{name} is empty");
        std::fs::copy(shot, artifacts.join(name)).unwrap();
    }
}
