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

/// One read of a check, as the unchanged plan performed it (a read repeated, a poll, is one read).
#[derive(Debug, Clone)]
pub struct Read {
    pub kind: &'static str,
    /// What it reads (`Effect::describe`): the fault answers every read of it.
    pub what: String,
}

/// A fault the check's verdict did not notice.
#[derive(Debug, Clone)]
pub struct Survivor {
    pub read: Read,
    pub operator: Operator,
}

#[derive(Debug, Clone)]
pub struct CheckFaults {
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

#[derive(Debug)]
pub struct CaseFaults {
    pub case: Case,
    pub checks: Vec<CheckFaults>,
    /// Why the case could not be fault-tested (its plan failed).
    pub error: Option<String>,
    pub seconds: f64,
}

/// Fault-tests every case that has a scenario (a plan without one answers no read to turn).
pub fn test(cases: &[Case], options: &Options, runtime: &tokio::runtime::Handle) -> Result<Vec<CaseFaults>> {
    let mut results = Vec::new();
    for case in cases.iter().filter(|c| c.scenario.is_some()) {
        let started = std::time::Instant::now();
        let plan = |faults: BTreeMap<String, Operator>| {
            let request = PlanRequest { scenario: case.scenario.clone(), faults, ..PlanRequest::default() };
            super::plan(&case.script, options, &request, runtime)
        };
        let baseline = match plan(BTreeMap::new()) {
            Ok(plan) => plan,
            Err(failure) => {
                let error = Some(failure.message().trim_end().to_string());
                results.push(CaseFaults { case: case.clone(), checks: Vec::new(), error, seconds: 0.0 });
                continue;
            }
        };
        let mut checks = Vec::new();
        for (name, line, survives, reads) in passing_checks(&baseline) {
            let passes = |faults: BTreeMap<String, Operator>| plan(faults).map(|p| passed(&p, &name)).unwrap_or(false);
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
            let vacuous = passes(reads.iter().map(|r| (r.what.clone(), Operator::Nothing)).collect());
            checks.push(CheckFaults { name, line, reads, tried, survivors, vacuous, survives });
        }
        results.push(CaseFaults { case: case.clone(), checks, error: None, seconds: started.elapsed().as_secs_f64() });
    }
    Ok(results)
}

/// The checks that pass in `plan`, each with the reads its scenario answered.
fn passing_checks(plan: &Plan) -> Vec<(String, usize, Option<String>, Vec<Read>)> {
    let mut checks = Vec::new();
    for item in &plan.items {
        let PlanItem::Step { kind, name, effects, result, line, survives, .. } = item else { continue };
        let mut reads: Vec<Read> = Vec::new();
        for effect in effects {
            let Some(fault_kind) = effect.fault_kind else { continue };
            if matches!(effect.answer, Provenance::Scenario(_)) && !reads.iter().any(|r| r.what == effect.what) {
                reads.push(Read { kind: fault_kind, what: effect.what.clone() });
            }
        }
        if *kind == crate::lifecycle::ItemKind::Check && result.starts_with("pass") && !reads.is_empty() {
            checks.push((name.clone(), *line, survives.clone(), reads));
        }
    }
    checks
}

fn passed(plan: &Plan, check: &str) -> bool {
    plan.items
        .iter()
        .any(|item| matches!(item, PlanItem::Step { name, result, .. } if name == check && result.starts_with("pass")))
}

/// Like a mutation tester's report: per case, each check's caught and survived faults, the survivors named
/// (the read and what it was turned into, script:line), vacuous checks first.
pub fn render(results: &[CaseFaults], root: &std::path::Path) -> String {
    let mut out = String::new();
    let (mut checks, mut tried, mut survived, mut errors, mut vacuous) = (0, 0, 0, 0, 0);
    for case in results {
        let _ = writeln!(out, "{}", case.case.name);
        if let Some(error) = &case.error {
            errors += 1;
            let _ = writeln!(out, "  ERROR  the plan failed: {error}");
            continue;
        }
        for check in &case.checks {
            checks += 1;
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
                "  {mark:<7} check \"{}\" ({script}:{})  {caught} of {} faults caught",
                check.name, check.line, check.tried
            );
            if check.vacuous {
                let _ = writeln!(out, "          passes when every read answers nothing");
            }
            for s in &check.survivors {
                let _ = writeln!(
                    out,
                    "          survived: {} read `{}` answered {}",
                    s.read.kind,
                    s.read.what,
                    s.operator.describe()
                );
            }
            if let (Some(why), false) = (&check.survives, check.survivors.is_empty()) {
                let _ = writeln!(out, "          explained: {why}");
            }
        }
    }
    let _ = writeln!(
        out,
        "{checks} checks, {tried} faults: {} caught, {survived} survived; {vacuous} vacuous; {errors} error(s)",
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
    for case in results {
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
            let name = format!("check \"{}\" ({script}:{})", check.name, check.line);
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
                .map(|s| xml(&format!("{} read `{}` answered {}", s.read.kind, s.read.what, s.operator.describe())))
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
