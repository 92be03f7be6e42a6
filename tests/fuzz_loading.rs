//! Script loading under generated input: whatever the text, golive compiles, lints and plans it or
//! reports an error; it never panics. Bounded (PROPTEST_CASES, default 300) so CI stays fast.

use golive::error::Failure;
use golive::run::{Options, PlanRequest};
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "step",
    "check",
    "manual",
    "gate",
    "phase",
    "with",
    "\"a\"",
    "\"b\"",
    "\"Go/No-Go\"",
    "{",
    "}",
    "(",
    ")",
    "#{",
    "timeout:",
    "\"10m\"",
    "retries:",
    "2",
    "idempotent:",
    "true",
    "window:",
    "\"06:00-12:00\"",
    ";",
    ",",
    "let x =",
    "x",
    "fn f()",
    "f()",
    "local::run(\"true\")",
    "local::exec([\"true\"])",
    "sleep(\"1ms\")",
    "target()",
    "target(\"nope\")",
    "config(\"greeting\")",
    "secret(\"S\")",
    "verdict::below(1, 2, \"ms\")",
    "if",
    "else",
    "\"",
    "`",
    "::",
    "\n",
    "#{ ok: true }",
    "print(x)",
    "throw \"t\"",
    "try",
    "catch",
    "loop",
    "break",
    "return",
    "Fn(\"f\")",
];

fn script() -> impl Strategy<Value = String> {
    let soup = prop::collection::vec(prop::sample::select(TOKENS), 0..40).prop_map(|t| t.join(" "));
    prop_oneof![soup.clone(), soup, ".{0,200}"]
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("golive.toml"), "default_target = \"local\"\n[vars]\ngreeting = \"hi\"\n").unwrap();
    dir
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(300),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn loading_any_text_gives_a_plan_or_an_error_never_a_panic(text in script()) {
        let dir = project();
        let path = dir.path().join("fuzz.rhai");
        std::fs::write(&path, &text).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        match golive::run::steps(&path, &Options::default()) {
            Ok(_) => {
                let request = PlanRequest::default();
                match golive::run::plan(&path, &Options::default(), &request, runtime.handle()) {
                    Ok(plan) => prop_assert!(plan.render_text().contains("outcome:")),
                    Err(Failure::Usage(message)) => prop_assert!(message.contains("fuzz.rhai"), "unpositioned: {message}"),
                    Err(other) => prop_assert!(false, "a plan failed with {other:?}"),
                }
            }
            Err(Failure::Usage(message)) => prop_assert!(message.contains("fuzz.rhai"), "unpositioned: {message}"),
            Err(other) => prop_assert!(false, "loading failed with {other:?}"),
        }
        prop_assert!(!dir.path().join(".golive").exists(), "loading or planning created run state");
    }
}
