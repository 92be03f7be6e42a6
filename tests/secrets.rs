//! Secrets and untrusted output, through the binary: a canary secret used every way a runbook uses one
//! never appears in anything golive writes, in any of the encodings golive produces; short secrets never
//! corrupt the journal; text a command prints never drives the operator's terminal (through a pty).

use crate::common;

use crate::common::{Project, doubles};
use base64::Engine;

const CANARY: &str = "Ca\"na\\ry'/+= 42x";
const PIN: &str = "7351";

/// Every form golive could write the canary in.
fn forms() -> Vec<(String, &'static str)> {
    let json = serde_json::to_string(CANARY).unwrap();
    let form: String = url::form_urlencoded::byte_serialize(CANARY.as_bytes()).collect();
    let strict: String = CANARY
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    vec![
        (CANARY.to_string(), "raw"),
        (json[1..json.len() - 1].to_string(), "JSON-escaped"),
        (format!("'{}'", CANARY.replace('\'', "'\\''")), "shell-quoted"),
        (CANARY.replace('\'', "'\\''"), "shell-quoted (inside)"),
        (form, "form-encoded"),
        (strict, "percent-encoded"),
        (base64::engine::general_purpose::STANDARD.encode(format!("ops:{CANARY}")), "basic auth Base64"),
        (format!("pin={PIN}"), "the PIN"),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for (form, name) in forms() {
        assert!(!text.contains(&form), "{what} holds the secret ({name} form {form:?}):\n{text}");
    }
}

#[test]
fn a_canary_secret_used_every_way_appears_in_nothing_golive_writes() {
    let _servers = doubles::lock();
    let site = doubles::doubles().site();
    let project = Project::new();
    project.write(".env", &format!("PIN={PIN}\n"));
    let golive = |args: &[&str]| common::Run::from(project.command(args).env("CANARY", CANARY).output().unwrap());
    let script = format!(
        r#"let s = secret("CANARY");
let pin = secret("PIN");
let replayed = step "argv" {{ local::exec(["printf", "%s", s]).stdout }};
step "shell" {{ local::run(`echo pin=${{pin}}; cat >&2`, #{{ stdin: s }}).stdout }}
step "http" {{
    let r = http::get("{site}/no-such-page", #{{ query: #{{ token: s }}, basic: #{{ user: "ops", password: s }}, headers: #{{ "X-Token": s }} }});
    r.status
}}
step "print" {{ print(s); debug(s); print(`quoted: ${{s}}`); }}
check "evidence" {{ #{{ ok: true, actual: s, target: s }} }}
step "fails" {{ local::run("test -e fixed || {{ cat >&2; exit 1; }}", #{{ stdin: `cannot use ${{s}}` }}); }}
step "replayed" {{ if replayed != s {{ throw "the replayed value is not the secret"; }} }}
"#
    );
    project.write("canary.rhai", &script);
    let first = golive(&["canary.rhai"]);
    first.assert_code(1);
    assert!(first.stderr.contains("cannot use <secret:CANARY>"), "{}", first.stderr);
    project.write("fixed", "");
    let resumed = golive(&["resume", "--non-interactive"]);
    resumed.assert_code(0);
    // The step value that held the secret resolved to it again (it is not the mask on resume).
    let status = project.golive(&["status"]);
    let plan = project.golive(&["plan", "canary.rhai"]);
    let plan_json = project.golive(&["plan", "canary.rhai", "--format", "json"]);
    for (what, run) in
        [("first run", &first), ("resume", &resumed), ("status", &status), ("plan", &plan), ("plan json", &plan_json)]
    {
        assert_clean(what, &run.all());
    }
    assert_clean("the state folder", &project.state_files());
    for journal in project.journals() {
        for (n, line) in std::fs::read_to_string(&journal).unwrap().lines().enumerate() {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("{}:{}: {e}", journal.display(), n + 1));
        }
    }
    assert!(first.stdout.contains("<secret:CANARY>"), "the mask stands where the secret was: {}", first.stdout);
}

#[test]
fn short_secrets_never_corrupt_the_journal_and_resume_works() {
    let project = Project::new();
    project.write(".env", "PIN=4096\nWORD=done\n");
    project.write(
        "short.rhai",
        "let pin = secret(\"PIN\");\nlet word = secret(\"WORD\");\n\
         step \"number\" { 14096 }\nstep \"text\" { \"done\" }\nstep \"uses them\" { `${pin} ${word}` }\n\
         step \"mark done\" { local::run(\"echo once >> marks\"); }\n\
         step \"fails once\" { local::run(\"test -e fixed\"); }\nstep \"after\" { 1 }\n",
    );
    let first = project.golive(&["short.rhai"]);
    first.assert_code(1);
    assert!(first.stderr.contains("shorter than 8 characters"), "{}", first.stderr);
    let journal = std::fs::read_to_string(project.journals().pop().unwrap()).unwrap();
    for line in journal.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    assert!(journal.contains("\"value\":14096"), "a number holding a short secret was rewritten:\n{journal}");
    assert!(journal.contains("\"status\":\"done\""), "golive's own field was masked:\n{journal}");
    assert!(journal.contains("\"value\":\"<secret:WORD>\""), "{journal}");
    project.write("fixed", "");
    let resumed = project.golive(&["resume", "--non-interactive"]);
    resumed.assert_code(0);
    // A step whose name holds the short secret as a word is still known as done: it never runs twice.
    assert_eq!(project.read("marks"), "once\n", "{}", resumed.stderr);
    project.golive(&["status"]).assert_code(0);
}

#[test]
fn text_a_command_prints_never_drives_the_terminal_and_the_journal_keeps_the_bytes() {
    use rexpect::session::spawn_command;
    let project = Project::new();
    // OSC 52 (sets the clipboard), clear screen, a fake green verdict, a right-to-left override.
    let evil = r"printf '\033]52;c;aGVsbG8=\007\033[2J\033[32mall checks passed\033[0m \342\200\256txt.exe'";
    project.write(
        "evil.rhai",
        &format!(
            "step \"evil\" {{ let o = local::run(\"{}\").stdout; print(o); o }}\n\
             check \"evil evidence\" {{ #{{ ok: false, actual: local::run(\"{}\").stdout, target: \"x\" }} }}\n",
            evil.replace('\\', "\\\\").replace('"', "\\\""),
            evil.replace('\\', "\\\\").replace('"', "\\\"")
        ),
    );
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_golive"));
    cmd.arg("evil.rhai").current_dir(project.path()).env("TERM", "xterm-256color");
    let mut session = spawn_command(cmd, Some(15_000)).expect("spawn golive on a pty");
    let captured = session.exp_eof().expect("golive ends");
    for (sequence, name) in
        [("\x1b]52", "OSC 52"), ("\x1b[2J", "clear screen"), ("\x1b[32mall", "fake verdict"), ("\u{202e}", "RLO")]
    {
        assert!(!captured.contains(sequence), "the terminal received {name}:\n{captured:?}");
    }
    assert!(captured.contains("\\x1b]52;c;aGVsbG8="), "shown escaped: {captured:?}");
    let journal = std::fs::read_to_string(project.journals().pop().unwrap()).unwrap();
    assert!(journal.contains("\\u001b]52;c;aGVsbG8="), "the journal keeps the bytes:\n{journal}");
}

#[test]
fn a_secret_read_only_in_a_done_step_is_still_masked_after_resume() {
    let project = Project::new();
    project.write(
        "once.rhai",
        "step \"reads it\" { secret(\"ONLY_HERE\").len() }\nstep \"fails once\" { local::run(\"test -e fixed\"); }\n\
         step \"prints it\" { print(local::run(\"printf 'value=%s' \\\"$ONLY_HERE\\\"\").stdout); }\n",
    );
    let golive =
        |args: &[&str]| common::Run::from(project.command(args).env("ONLY_HERE", "only-here-4k2j9").output().unwrap());
    golive(&["once.rhai"]).assert_code(1);
    project.write("fixed", "");
    let resumed = golive(&["resume", "--non-interactive"]);
    resumed.assert_code(0);
    assert!(resumed.stdout.contains("value=<secret:ONLY_HERE>"), "{}", resumed.all());
    assert!(!resumed.all().contains("only-here-4k2j9") && !project.state_files().contains("only-here-4k2j9"));
}

#[test]
fn a_secret_in_an_http_query_is_masked_in_the_failure_message_in_every_encoding() {
    let project = Project::new();
    // Port 9 (discard) is closed on loopback: the request fails, and the failure names its URL.
    project.write(
        "refused.rhai",
        "step \"call\" { http::get(\"http://127.0.0.1:9/hook\", #{ query: #{ token: secret(\"CANARY\") } }); }\n",
    );
    let run = common::Run::from(project.command(&["refused.rhai"]).env("CANARY", CANARY).output().unwrap());
    run.assert_code(1);
    assert!(run.stderr.contains("token=<secret:CANARY>"), "the failure shows where the secret was:\n{}", run.stderr);
    assert_clean("the failure", &run.all());
    assert_clean("the state folder", &project.state_files());
}
