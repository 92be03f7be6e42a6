//! `golive test`: a runbook repository's snapshot tests, without a Rust toolchain. Each script's plan, with
//! no scenario and under each scenario `tests/scenarios/<script>.<case>.toml`, is compared with its stored
//! snapshot `tests/snapshots/plans__<case>.snap` (insta's format: a `---` header, then the text, so `cargo
//! insta review` reads them too). A scenario's `[test] exit_code` is the exit code its plan must predict; a
//! rule no effect matched is reported; `--accept` writes what differs; `--junit FILE` writes a JUnit report.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{Options, PlanRequest};
use crate::config::Config;
use crate::error::{Failure, Result, io_failure};

/// One script planned one way.
#[derive(Debug, Clone)]
pub struct Case {
    /// "saturday" (no scenario) or "saturday.updb-fails".
    pub name: String,
    pub script: PathBuf,
    pub scenario: Option<PathBuf>,
}

#[derive(Debug)]
pub enum Verdict {
    Pass,
    /// The plan differs from the snapshot: the diff, old to new.
    Differs(String),
    /// No snapshot yet.
    New,
    /// The plan predicted another exit code than `[test] exit_code` says.
    WrongExit {
        expected: i32,
        predicted: i32,
    },
    /// Two plans of the same case differ: the plan is not deterministic.
    Unstable(String),
    /// The script or scenario could not be planned.
    Error(String),
}

#[derive(Debug)]
pub struct Tested {
    pub case: Case,
    pub verdict: Verdict,
    /// Scenario rules no effect matched.
    pub unused: Vec<String>,
    pub accepted: bool,
    pub seconds: f64,
}

/// Every case of the scripts given (default: scripts/ and examples/ of the project).
pub fn cases(config: &Config, scripts: &[PathBuf]) -> Result<Vec<Case>> {
    let mut scripts = scripts.to_vec();
    if scripts.is_empty() {
        for dir in ["scripts", "examples"] {
            if let Ok(entries) = std::fs::read_dir(config.root.join(dir)) {
                scripts.extend(
                    entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.extension().is_some_and(|e| e == "rhai")),
                );
            }
        }
        scripts.sort();
    }
    if scripts.is_empty() {
        return Err(Failure::Usage(format!(
            "error: no scripts under {0}/scripts or {0}/examples; name the scripts to test",
            config.root.display()
        )));
    }
    let scenario_dir = config.root.join("tests/scenarios");
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(&scenario_dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    scenarios.sort();
    let mut cases = Vec::new();
    for script in scripts {
        let stem = script.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        cases.push(Case { name: stem.clone(), script: script.clone(), scenario: None });
        for scenario in &scenarios {
            let name = scenario.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            if name.strip_prefix(&stem).is_some_and(|rest| rest.starts_with('.')) {
                cases.push(Case { name, script: script.clone(), scenario: Some(scenario.clone()) });
            }
        }
    }
    Ok(cases)
}

fn snapshot_path(config: &Config, case: &Case) -> PathBuf {
    config.root.join("tests/snapshots").join(format!("plans__{}.snap", case.name))
}

/// The text of an insta snapshot (after its `---` header), or the whole file when it has none.
fn snapshot_body(text: &str) -> &str {
    if let Some(rest) = text.strip_prefix("---\n")
        && let Some(end) = rest.find("\n---\n")
    {
        return &rest[end + 5..];
    }
    text
}

/// A unified diff, old snapshot to new plan, with line numbers as insta shows them.
pub fn diff(old: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut out = String::new();
    for group in diff.grouped_ops(3) {
        for op in group {
            for change in diff.iter_changes(&op) {
                let (sign, number) = match change.tag() {
                    similar::ChangeTag::Delete => ('-', change.old_index().map(|i| i + 1)),
                    similar::ChangeTag::Insert => ('+', change.new_index().map(|i| i + 1)),
                    similar::ChangeTag::Equal => (' ', change.new_index().map(|i| i + 1)),
                };
                let line = crate::terminal::printable(change.value().trim_end_matches('\n')).into_owned();
                let _ = writeln!(out, "{:>5} {sign}{line}", number.unwrap_or(0));
            }
        }
        out.push_str("  ...\n");
    }
    out
}

/// What to do with a plan that differs from its snapshot (or has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// Report it (CI).
    No,
    /// Store it (`--accept`).
    All,
    /// Show its diff and ask a person (`--review`, on a terminal).
    Ask,
}

/// Shows a case's difference and asks whether to store the plan as its snapshot: y, n, or q (stop asking).
fn ask(case: &Case, verdict: &Verdict) -> std::io::Result<Option<bool>> {
    use std::io::{BufRead, Write};
    let mut err = std::io::stderr();
    match verdict {
        Verdict::Differs(diff) => writeln!(err, "\n{}: the plan differs from its snapshot\n{diff}", case.name)?,
        _ => writeln!(err, "\n{}: no snapshot yet", case.name)?,
    }
    loop {
        write!(err, "store the plan now as {}'s snapshot? [y/n/q] ", case.name)?;
        err.flush()?;
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line)? == 0 {
            return Ok(None);
        }
        match line.trim() {
            "y" | "yes" => return Ok(Some(true)),
            "n" | "no" => return Ok(Some(false)),
            "q" | "quit" => return Ok(None),
            _ => writeln!(err, "  y stores it, n leaves it failing, q stops asking")?,
        }
    }
}

/// Plans each case twice (a plan must be deterministic) and holds it against its snapshot.
pub fn test(
    config: &Config,
    cases: &[Case],
    options: &Options,
    update: Update,
    runtime: &tokio::runtime::Handle,
) -> Result<Vec<Tested>> {
    let mut asking = update == Update::Ask;
    let mut results = Vec::new();
    for case in cases {
        let started = std::time::Instant::now();
        let request = PlanRequest { scenario: case.scenario.clone(), ..PlanRequest::default() };
        let planned = super::plan(&case.script, options, &request, runtime);
        let (verdict, unused, text) = match planned {
            Err(failure) => (Verdict::Error(failure.message().trim_end().to_string()), Vec::new(), None),
            Ok(plan) => {
                let text = plan.render_text();
                let again = super::plan(&case.script, options, &request, runtime).map(|p| p.render_text());
                let expected = plan.expected_exit;
                let path = snapshot_path(config, case);
                let stored = std::fs::read_to_string(&path).ok();
                let verdict = match (again, stored, expected) {
                    (Ok(again), _, _) if again != text => Verdict::Unstable(diff(&text, &again)),
                    (Err(e), _, _) => Verdict::Error(e.message().trim_end().to_string()),
                    (_, _, Some(expected)) if expected != plan.exit_code => {
                        Verdict::WrongExit { expected, predicted: plan.exit_code }
                    }
                    (_, None, _) => Verdict::New,
                    (_, Some(stored), _) if snapshot_body(&stored).trim_end() == text.trim_end() => Verdict::Pass,
                    (_, Some(stored), _) => Verdict::Differs(diff(snapshot_body(&stored), &text)),
                };
                (verdict, plan.unused_rules, Some(text))
            }
        };
        let mut accepted = false;
        if matches!(verdict, Verdict::New | Verdict::Differs(_))
            && let Some(text) = text
        {
            let store = match update {
                Update::All => true,
                Update::Ask if asking => {
                    match ask(case, &verdict).map_err(|e| io_failure("ask on", Path::new("stdin"), e))? {
                        Some(answer) => answer,
                        None => {
                            asking = false;
                            false
                        }
                    }
                }
                _ => false,
            };
            if store {
                write_snapshot(&snapshot_path(config, case), &text)?;
                accepted = true;
            }
        }
        results.push(Tested {
            case: case.clone(),
            verdict,
            unused,
            accepted,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(results)
}

/// Written in insta's format, whole or not at all.
fn write_snapshot(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_failure("create", dir, e))?;
    }
    let body = format!("---\nsource: golive test\nexpression: plan\n---\n{}\n", text.trim_end());
    let partial = path.with_extension("snap.partial");
    std::fs::write(&partial, body).map_err(|e| io_failure("write", &partial, e))?;
    std::fs::rename(&partial, path).map_err(|e| io_failure("write", path, e))
}

impl Tested {
    pub fn passed(&self) -> bool {
        matches!(self.verdict, Verdict::Pass) || self.accepted
    }

    /// Why it failed, in a line.
    pub fn why(&self) -> String {
        match &self.verdict {
            Verdict::Pass => String::new(),
            Verdict::Differs(_) => "the plan differs from its snapshot".into(),
            Verdict::New => "no snapshot yet (`golive test --accept` writes it)".into(),
            Verdict::WrongExit { expected, predicted } => {
                format!("the plan predicts exit {predicted}; [test] exit_code says {expected}")
            }
            Verdict::Unstable(_) => "two plans of it differ: the plan is not deterministic".into(),
            Verdict::Error(e) => e.lines().next().unwrap_or_default().to_string(),
        }
    }
}

/// What `golive test` prints: a line per case, the diffs, unused rules, and the count.
pub fn render(results: &[Tested], config: &Config) -> String {
    let mut out = String::new();
    for r in results {
        let mark = match (&r.verdict, r.accepted) {
            (Verdict::Pass, _) => "ok  ",
            (_, true) => "ACCEPTED",
            _ => "FAIL",
        };
        let _ = write!(out, "  {mark}  {}", r.case.name);
        if !r.passed() {
            let _ = write!(out, ": {}", r.why());
        }
        out.push('\n');
        if let (Verdict::Differs(diff) | Verdict::Unstable(diff), false) = (&r.verdict, r.accepted) {
            let path = snapshot_path(config, &r.case);
            let shown = path.strip_prefix(&config.root).unwrap_or(&path).display().to_string();
            let _ = writeln!(out, "        --- {shown} (old snapshot)\n        +++ the plan now");
            for line in diff.lines() {
                let _ = writeln!(out, "        {line}");
            }
        }
        if let Verdict::Error(e) = &r.verdict {
            for line in e.lines().skip(1) {
                let _ = writeln!(out, "        {line}");
            }
        }
        for rule in &r.unused {
            let _ = writeln!(out, "        warning: scenario {rule} never matched an effect");
        }
    }
    let failed = results.iter().filter(|r| !r.passed()).count();
    let accepted = results.iter().filter(|r| r.accepted).count();
    let _ = write!(out, "{} cases: {} passed, {failed} failed", results.len(), results.len() - failed - accepted);
    if accepted > 0 {
        let _ = write!(out, ", {accepted} accepted");
    }
    out.push('\n');
    out
}

/// Text made safe inside XML (and printable first: a target's control characters never reach a report).
pub(crate) fn xml(text: &str) -> String {
    crate::terminal::printable(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A JUnit XML report, one testcase per case, for CI systems.
pub fn junit(results: &[Tested]) -> String {
    let failed = results.iter().filter(|r| !r.passed()).count();
    let seconds: f64 = results.iter().map(|r| r.seconds).sum();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"golive test\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" time=\"{seconds:.3}\">\n",
        results.len()
    );
    for r in results {
        let _ = write!(out, "  <testcase classname=\"plans\" name=\"{}\" time=\"{:.3}\"", xml(&r.case.name), r.seconds);
        if r.passed() {
            out.push_str("/>\n");
            continue;
        }
        let detail = match &r.verdict {
            Verdict::Differs(d) | Verdict::Unstable(d) => d.clone(),
            Verdict::Error(e) => e.clone(),
            _ => String::new(),
        };
        let _ =
            write!(out, ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>\n", xml(&r.why()), xml(&detail));
    }
    out.push_str("</testsuite>\n</testsuites>\n");
    out
}
