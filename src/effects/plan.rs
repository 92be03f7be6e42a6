//! The plan world: writes are recorded, never performed; reads are answered by a scenario, by the live
//! world (`--live-reads`, read-only effects only), or by a neutral default that the plan calls assumed.

use super::browser::{BrowserOutcome, FlowReport, Task, VitalsReport};
use super::fault::Operator;
use super::http::{HttpResponse, Timings};
use super::live::LiveWorld;
use super::probe::ProbeReport;
use super::scenario::Scenario;
use super::tls::CertInfo;
use super::{Access, Budget, Effect, EffectError, ExecOutput, Outcome, Provenance, World};

#[derive(Default)]
pub struct PlanWorld {
    /// Shared with the plan's caller, which asks it afterwards which rules never matched.
    pub scenario: Option<std::rc::Rc<Scenario>>,
    pub live_reads: Option<LiveWorld>,
    /// `golive test --faults`: reads answered adversarially, by what they read (`Effect::describe`): every
    /// time the plan reads it, as a world broken that way would answer a poll again and again.
    pub faults: std::collections::BTreeMap<String, Operator>,
    /// The one item whose reads the faults turn: the same read made by an earlier item is answered as the
    /// scenario says, so a fault is caught only by the verdict under test, never by an earlier step failing.
    pub fault_item: Option<String>,
}

impl World for PlanWorld {
    fn perform(&self, effect: &Effect, budget: &Budget<'_>) -> Result<(Outcome, Provenance), EffectError> {
        if let Some((answer, rule)) = self.scenario.as_ref().and_then(|s| s.answer(effect)) {
            // Only a scenario's answer is turned: an assumed one makes its checks unknown already.
            let for_item = self.fault_item.as_deref().is_none_or(|item| budget.item == Some(item));
            let fault = match (self.faults.is_empty() || !for_item, super::fault::kind(effect)) {
                (false, Some(_)) => self.faults.get(&effect.describe()),
                _ => None,
            };
            return match (answer, fault) {
                (Ok(outcome), Some(op)) => Ok((
                    super::fault::apply(*op, effect, outcome),
                    Provenance::Scenario(format!("{rule}, turned into {}", op.describe())),
                )),
                (Ok(outcome), None) => Ok((outcome, Provenance::Scenario(rule))),
                (Err(error), _) => Err(EffectError::Failed(format!("{error} (scenario {rule})"))),
            };
        }
        let live_able =
            matches!(effect, Effect::Exec(_) | Effect::Http(_) | Effect::Cert(_) | Effect::Dns(_) | Effect::Browser(_));
        if let (Some(live), Access::Read, true) = (&self.live_reads, effect.access(), live_able) {
            return live.perform(effect, budget);
        }
        Ok(match effect {
            Effect::Exec(exec) => {
                let stdout = match exec.access {
                    Access::Read => exec.assumed.clone().unwrap_or_default(),
                    Access::Write => String::new(),
                };
                let outcome = Outcome::Exec(ExecOutput { code: 0, stdout, stderr: String::new(), duration_ms: 0 });
                match (exec.access, &exec.assumed) {
                    (Access::Write, _) => (outcome, Provenance::Recorded),
                    (Access::Read, None) => (outcome, Provenance::Assumed("exit 0, no output".into())),
                    (Access::Read, Some(_)) => {
                        (outcome, Provenance::Assumed("exit 0, the read's stated assumption".into()))
                    }
                }
            }
            Effect::Sleep { .. } => (Outcome::Slept, Provenance::Recorded),
            Effect::Upload { .. } => (Outcome::Transferred { bytes: 0 }, Provenance::Recorded),
            Effect::Download { .. } => {
                (Outcome::Transferred { bytes: 0 }, Provenance::Assumed("nothing downloaded in a plan".into()))
            }
            Effect::Http(request) => {
                // A read nobody answered has no status (0, as curl prints), no body and no times, so no check
                // passes on it; a write is recorded as accepted, so the plan goes on as the run would.
                let read = request.access == Access::Read;
                let response = HttpResponse {
                    status: if read { 0 } else { 200 },
                    url: request.full_url(),
                    headers: Vec::new(),
                    body: String::new(),
                    // NaN fails every comparison.
                    timings: Timings {
                        dns_ms: f64::NAN,
                        connect_ms: f64::NAN,
                        tls_ms: f64::NAN,
                        ttfb_ms: f64::NAN,
                        total_ms: f64::NAN,
                    },
                    assumed: read,
                };
                match request.access {
                    Access::Write => (Outcome::Http(response), Provenance::Recorded),
                    Access::Read => (Outcome::Http(response), Provenance::Assumed("no answer".into())),
                }
            }
            Effect::Probe(probe) => {
                let report = ProbeReport::unmeasured(probe.requests);
                (Outcome::Probe(report), Provenance::Assumed("no measurement in a plan".into()))
            }
            Effect::Cert(_) => {
                let info = CertInfo {
                    subject: String::new(),
                    issuer: String::new(),
                    sans: Vec::new(),
                    not_before: String::new(),
                    not_after: String::new(),
                    days_left: 0,
                    trusted: false,
                    problem: "not checked in a plan".into(),
                };
                (Outcome::Cert(info), Provenance::Assumed("no certificate read".into()))
            }
            Effect::Dns(_) => (Outcome::Dns(Vec::new()), Provenance::Assumed("no records".into())),
            Effect::Email(_) => (Outcome::Sent, Provenance::Recorded),
            // No vital is measured and no flow passes in a plan: checks on them are unknown.
            Effect::Browser(request) => {
                let outcome = match &request.task {
                    Task::Vitals { url, .. } => {
                        BrowserOutcome::Vitals(VitalsReport { url: url.clone(), ..VitalsReport::default() })
                    }
                    Task::Flow { .. } => BrowserOutcome::Flow(FlowReport {
                        error: "not performed in a plan".into(),
                        ..FlowReport::default()
                    }),
                };
                (Outcome::Browser(outcome), Provenance::Assumed("no browser in a plan".into()))
            }
            // Only a resume after a crash looks for a process group, and plans never resume.
            Effect::Group(group) if group.stop => (
                Outcome::Stopped(super::process_group::Stopped::StillRunning),
                Provenance::Assumed("not stopped in a plan".into()),
            ),
            Effect::Group(_) => {
                (Outcome::Members(vec!["? (not looked at in a plan)".into()]), Provenance::Assumed("unknown".into()))
            }
            Effect::Prompt(prompt) => {
                let answer = prompt.choices.first().cloned().unwrap_or_default();
                let note = format!("answer \"{answer}\"");
                (Outcome::Answer(answer), Provenance::Assumed(note))
            }
        })
    }

    fn included_checks(&self, script: &str) -> Option<Vec<(String, bool)>> {
        self.scenario.as_ref().and_then(|s| s.included(script))
    }

    fn planned_last_run(&self, script: &str) -> Option<Option<crate::verdict::LastRun>> {
        self.scenario.as_ref().and_then(|s| s.last_run(script))
    }

    fn fault_for(&self, what: &str, item: Option<&str>) -> Option<Operator> {
        let for_item = self.fault_item.as_deref().is_none_or(|wanted| item == Some(wanted));
        self.faults.get(what).copied().filter(|_| for_item)
    }

    fn planned_phase_seconds(&self, phase: &str) -> Option<f64> {
        self.scenario.as_ref().and_then(|s| s.phase_seconds(phase))
    }

    fn is_dry(&self) -> bool {
        true
    }

    fn performs_reads(&self) -> bool {
        self.live_reads.is_some()
    }
}
