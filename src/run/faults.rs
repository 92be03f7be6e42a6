//! `golive test --faults`: which checks can fail. For every check that passes in a scenario's plan, each of
//! its reads the scenario answers is answered adversarially in turn (`effects::fault`), and the plan made
//! again: a check that still passes *survived* that fault (weak, unless the script says why with `survives:
//! "..."`); one that passes when all its reads answer nothing is *vacuous*. Like a mutation tester, but the
//! mutants are the world's answers, not the code.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::plan::{Plan, PlanItem};
use super::snapshots::Case;
use super::{Options, PlanRequest};
use crate::effects::Provenance;
use crate::effects::fault::Operator;
use crate::error::Result;
use crate::lifecycle::ItemKind;

/// One read of a check, as the unchanged plan performed it (a read repeated, a poll, is one read).
#[derive(Debug, Clone)]
pub struct Read {
    pub kind: &'static str,
    /// What it reads (`Effect::describe`): the fault answers every read of it.
    pub what: String,
    /// The answer to a write (a POST whose answer the verdict rests on), not a read.
    pub write: bool,
}

impl Read {
    /// "http read `GET ...`", "http write `POST ...`".
    pub fn shown(&self) -> String {
        format!("{} {} `{}`", self.kind, if self.write { "write" } else { "read" }, self.what)
    }
}

/// A fault the check's verdict did not notice.
#[derive(Debug, Clone)]
pub struct Survivor {
    pub read: Read,
    pub operator: Operator,
}

#[derive(Debug, Clone)]
pub struct CheckFaults {
    /// A check, or a step whose success rests on what it read (`site::expect` after a write).
    pub kind: ItemKind,
    pub name: String,
    pub line: usize,
    pub reads: Vec<Read>,
    pub tried: usize,
    pub survivors: Vec<Survivor>,
    /// It passes with every read answering nothing.
    pub vacuous: bool,
    /// The script's reason survivors are expected (`survives: "..."`).
    pub survives: Option<String>,
}

impl CheckFaults {
    /// A vacuous check, or a survivor nobody explained.
    pub fn is_error(&self) -> bool {
        self.vacuous || (!self.survivors.is_empty() && self.survives.is_none())
    }
}

/// An item of the unchanged plan, as `golive coverage` weighs it: what kind of evidence it rests on.
#[derive(Debug, Clone)]
pub struct Observed {
    pub kind: ItemKind,
    pub name: String,
    /// Reads of the world a fault can answer (scenario-answered or not).
    pub reads: usize,
    pub writes: bool,
    /// A person answered (a manual item, a checklist, a typed value).
    pub asks: bool,
    /// Its verdict passed (`pass`, `done`).
    pub passed: bool,
    /// What it did and gave, as the plan says it (questions asked, its value): where a checklist's entry or
    /// a computed map's key shows.
    pub said: String,
}

#[derive(Debug)]
pub struct CaseFaults {
    pub case: Case,
    pub checks: Vec<CheckFaults>,
    /// Every item of the case's unchanged plan.
    pub observed: Vec<Observed>,
    /// Why the case could not be fault-tested (its plan failed).
    pub error: Option<String>,
    pub seconds: f64,
}

/// Fault-tests every case that has a scenario (a plan without one answers no read to turn: its items are
/// only observed, for `golive coverage`).
pub fn test(cases: &[Case], options: &Options, runtime: &tokio::runtime::Handle) -> Result<Vec<CaseFaults>> {
    let mut results = Vec::new();
    for case in cases {
        let started = std::time::Instant::now();
        let plan = |faults: BTreeMap<String, Operator>, item: Option<&str>| {
            let fault_item = item.map(str::to_string);
            let request = PlanRequest { scenario: case.scenario.clone(), faults, fault_item, ..PlanRequest::default() };
            super::plan(&case.script, options, &request, runtime)
        };
        let baseline = match plan(BTreeMap::new(), None) {
            Ok(plan) => plan,
            Err(failure) => {
                let error = Some(failure.message().trim_end().to_string());
                let (checks, observed) = (Vec::new(), Vec::new());
                results.push(CaseFaults { case: case.clone(), checks, observed, error, seconds: 0.0 });
                continue;
            }
        };
        let mut checks = Vec::new();
        let verdicts = if case.scenario.is_some() { passing_verdicts(&baseline) } else { Vec::new() };
        for Tested { kind, name, line, survives, reads } in verdicts {
            let passes = |faults: BTreeMap<String, Operator>| {
                plan(faults, Some(&name)).map(|p| passed(&p, &name)).unwrap_or(false)
            };
            let mut tried = 0;
            let mut survivors = Vec::new();
            for read in &reads {
                for &operator in Operator::for_kind(read.kind) {
                    tried += 1;
                    if passes(BTreeMap::from([(read.what.clone(), operator)])) {
                        survivors.push(Survivor { read: read.clone(), operator });
                    }
                }
            }
            let vacuous = passes(reads.iter().map(|r| (r.what.clone(), Operator::silence(r.kind))).collect());
            checks.push(CheckFaults { kind, name, line, reads, tried, survivors, vacuous, survives });
        }
        let observed = observed(&baseline);
        let seconds = started.elapsed().as_secs_f64();
        results.push(CaseFaults { case: case.clone(), checks, observed, error: None, seconds });
    }
    Ok(results)
}

/// A passing verdict to fault-test, with the reads its scenario answered.
struct Tested {
    kind: ItemKind,
    name: String,
    line: usize,
    survives: Option<String>,
    reads: Vec<Read>,
}

/// The verdicts that pass in `plan`, each with the reads its scenario answered: checks, and steps that read
/// the world (a step whose success rests on a read, as "maintenance on" on the site's 503, gives a verdict
/// too).
fn passing_verdicts(plan: &Plan) -> Vec<Tested> {
    let mut verdicts = Vec::new();
    for item in &plan.items {
        let PlanItem::Step { kind, name, effects, result, line, survives, verdict_failed, .. } = item else { continue };
        let mut reads: Vec<Read> = Vec::new();
        for effect in effects {
            let Some(fault_kind) = effect.fault_kind else { continue };
            if matches!(effect.answer, Provenance::Scenario(_)) && !reads.iter().any(|r| r.what == effect.what) {
                let write = effect.access == crate::effects::Access::Write;
                reads.push(Read { kind: fault_kind, what: effect.what.clone(), write });
            }
        }
        if matches!(kind, ItemKind::Check | ItemKind::Step) && passes(result, *verdict_failed) && !reads.is_empty() {
            verdicts.push(Tested { kind: *kind, name: name.clone(), line: *line, survives: survives.clone(), reads });
        }
    }
    verdicts
}

/// A verdict that passed, with every verdict recorded beside it (a watch's alerts).
fn passes(result: &str, verdict_failed: bool) -> bool {
    !verdict_failed && (result.starts_with("pass") || result.starts_with("done"))
}

fn passed(plan: &Plan, item: &str) -> bool {
    plan.items.iter().any(
        |i| matches!(i, PlanItem::Step { name, result, verdict_failed, .. } if name == item && passes(result, *verdict_failed)),
    )
}

fn observed(plan: &Plan) -> Vec<Observed> {
    let mut items = Vec::new();
    for item in &plan.items {
        let PlanItem::Step { kind, name, effects, result, verdict_failed, .. } = item else { continue };
        let asks = effects.iter().any(|e| e.what.starts_with("ask:"));
        let reads = effects.iter().filter(|e| e.fault_kind.is_some()).count();
        let writes = effects.iter().any(|e| e.access == crate::effects::Access::Write);
        let said = effects.iter().map(|e| e.what.as_str()).chain([result.as_str()]).collect::<Vec<_>>().join("\n");
        let passed = passes(result, *verdict_failed);
        items.push(Observed { kind: *kind, name: name.clone(), reads, writes, asks, passed, said });
    }
    items
}

/// Like a mutation tester's report: per case, each check's caught and survived faults, the survivors named
/// (the read and what it was turned into, script:line), vacuous checks first.
pub fn render(results: &[CaseFaults], root: &std::path::Path) -> String {
    let mut out = String::new();
    let (mut checks, mut steps, mut tried, mut survived, mut errors, mut vacuous) = (0, 0, 0, 0, 0, 0);
    for case in results.iter().filter(|c| c.case.scenario.is_some()) {
        let _ = writeln!(out, "{}", case.case.name);
        if let Some(error) = &case.error {
            errors += 1;
            let _ = writeln!(out, "  ERROR  the plan failed: {error}");
            continue;
        }
        for check in &case.checks {
            match check.kind {
                ItemKind::Step => steps += 1,
                _ => checks += 1,
            }
            tried += check.tried;
            survived += check.survivors.len();
            let caught = check.tried - check.survivors.len();
            let script = case.case.script.strip_prefix(root).unwrap_or(&case.case.script).display();
            let mark = match (check.vacuous, check.survivors.is_empty(), &check.survives) {
                (true, _, _) => "VACUOUS",
                (false, true, _) => "ok",
                (false, false, Some(_)) => "weak*",
                (false, false, None) => "WEAK",
            };
            if check.is_error() {
                errors += 1;
            }
            vacuous += usize::from(check.vacuous);
            let _ = writeln!(
                out,
                "  {mark:<7} {} \"{}\" ({script}:{})  {caught} of {} faults caught",
                check.kind, check.name, check.line, check.tried
            );
            if check.vacuous {
                let _ = writeln!(out, "          passes when every read answers nothing");
            }
            for s in &check.survivors {
                let _ = writeln!(out, "          survived: {} answered {}", s.read.shown(), s.operator.describe());
            }
            if let (Some(why), false) = (&check.survives, check.survivors.is_empty()) {
                let _ = writeln!(out, "          explained: {why}");
            }
        }
    }
    let _ = writeln!(
        out,
        "{checks} checks, {steps} steps, {tried} faults: {} caught, {survived} survived; {vacuous} vacuous; {errors} error(s)",
        tried - survived
    );
    out
}

/// Every case without errors: no vacuous check, no unexplained survivor, every plan made.
pub fn passed_all(results: &[CaseFaults]) -> bool {
    results.iter().all(|c| c.error.is_none() && c.checks.iter().all(|k| !k.is_error()))
}

/// A JUnit XML report: one testsuite per case, one testcase per check (named with its script:line), failed
/// when it is vacuous or a fault it survives is unexplained; a case whose plan failed is one error.
pub fn junit(results: &[CaseFaults], root: &std::path::Path) -> String {
    use super::snapshots::xml;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for case in results.iter().filter(|c| c.case.scenario.is_some()) {
        let failures = case.checks.iter().filter(|c| c.is_error()).count();
        let errors = usize::from(case.error.is_some());
        let _ = writeln!(
            out,
            "<testsuite name=\"golive test --faults: {}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">",
            xml(&case.case.name),
            case.checks.len() + errors,
            case.seconds
        );
        if let Some(error) = &case.error {
            let _ = writeln!(
                out,
                "  <testcase classname=\"faults\" name=\"plan\">\n    <error message=\"the plan failed\">{}</error>\n  </testcase>",
                xml(error)
            );
        }
        let script = case.case.script.strip_prefix(root).unwrap_or(&case.case.script).display().to_string();
        for check in &case.checks {
            let name = format!("{} \"{}\" ({script}:{})", check.kind, check.name, check.line);
            let _ = write!(out, "  <testcase classname=\"faults\" name=\"{}\"", xml(&name));
            if !check.is_error() {
                out.push_str("/>\n");
                continue;
            }
            let message = match check.vacuous {
                true => "passes when every read answers nothing".to_string(),
                false => format!("{} of {} faults survived, unexplained", check.survivors.len(), check.tried),
            };
            let detail: Vec<String> = check
                .survivors
                .iter()
                .map(|s| xml(&format!("{} answered {}", s.read.shown(), s.operator.describe())))
                .collect();
            let _ = writeln!(
                out,
                ">\n    <failure message=\"{}\">{}</failure>\n  </testcase>",
                xml(&message),
                detail.join("\n")
            );
        }
        out.push_str("</testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
