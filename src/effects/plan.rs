//! The plan world: writes are recorded, never performed; reads are answered by a scenario, by the live
//! world (`--live-reads`, read-only effects only), or by a neutral default that the plan calls assumed.

use super::live::LiveWorld;
use super::scenario::Scenario;
use super::{Access, Budget, Effect, EffectError, ExecOutput, Outcome, Provenance, World};

pub struct PlanWorld {
    pub scenario: Option<Scenario>,
    pub live_reads: Option<LiveWorld>,
}

impl World for PlanWorld {
    fn perform(&self, effect: &Effect, budget: &Budget) -> Result<(Outcome, Provenance), EffectError> {
        if let Some((outcome, rule)) = self.scenario.as_ref().and_then(|s| s.answer(effect)) {
            return Ok((outcome, Provenance::Scenario(rule)));
        }
        if let (Some(live), Access::Read, Effect::Exec(_)) = (&self.live_reads, effect.access(), effect) {
            return live.perform(effect, budget);
        }
        Ok(match effect {
            Effect::Exec(exec) => {
                let outcome =
                    Outcome::Exec(ExecOutput { code: 0, stdout: String::new(), stderr: String::new(), duration_ms: 0 });
                match exec.access {
                    Access::Write => (outcome, Provenance::Recorded),
                    Access::Read => (outcome, Provenance::Assumed("exit 0, no output".into())),
                }
            }
            Effect::Sleep { .. } => (Outcome::Slept, Provenance::Recorded),
            Effect::Upload { .. } => (Outcome::Transferred { bytes: 0 }, Provenance::Recorded),
            Effect::Download { .. } => {
                (Outcome::Transferred { bytes: 0 }, Provenance::Assumed("nothing downloaded in a plan".into()))
            }
            Effect::Prompt(prompt) => {
                let answer = prompt.choices.first().cloned().unwrap_or_default();
                let note = format!("answer \"{answer}\"");
                (Outcome::Answer(answer), Provenance::Assumed(note))
            }
        })
    }

    fn is_dry(&self) -> bool {
        true
    }
}
