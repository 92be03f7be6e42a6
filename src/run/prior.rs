//! What an earlier journal says about a runbook's steps: what is done (and its value), what was answered,
//! and which step was in doubt (started, never finished) when the run died.

use std::collections::HashMap;

use super::journal::{CheckRecord, Entry, StepStatus};
use crate::effects::Access;

#[derive(Debug, Clone)]
pub struct DoneStep {
    pub value: serde_json::Value,
    pub source_sha256: String,
    pub status: StepStatus,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InDoubt {
    pub step: String,
    /// Did it begin a write effect before the run died?
    pub wrote: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Prior {
    pub done: HashMap<String, DoneStep>,
    pub answers: HashMap<(String, String), String>,
    pub checks: Vec<CheckRecord>,
    pub in_doubt: Option<InDoubt>,
    /// The run had finished cleanly: there is nothing to resume.
    pub finished: Option<i32>,
}

impl Prior {
    pub fn from_entries(entries: &[Entry]) -> Prior {
        let mut prior = Prior::default();
        let mut open: Option<(String, String, bool)> = None;
        for entry in entries {
            match entry {
                Entry::StepStarted { step, source_sha256, .. } => {
                    open = Some((step.clone(), source_sha256.clone(), false));
                }
                Entry::Effect { step, access: Access::Write, .. } => {
                    if let Some((open_step, _, wrote)) = open.as_mut()
                        && open_step == step
                    {
                        *wrote = true;
                    }
                }
                Entry::Answer { step, question, answer, .. } => {
                    prior.answers.insert((step.clone(), question.clone()), answer.clone());
                }
                Entry::StepFinished { step, status, value, check, .. } => {
                    let sha = match open.take() {
                        Some((s, sha, _)) if s == *step => sha,
                        _ => String::new(),
                    };
                    if let Some(check) = check {
                        prior.checks.retain(|c| c.name != check.name);
                        prior.checks.push(check.clone());
                    }
                    if matches!(status, StepStatus::Done | StepStatus::Skipped) {
                        prior.done.insert(
                            step.clone(),
                            DoneStep { value: value.clone(), source_sha256: sha, status: *status },
                        );
                    }
                }
                // A resumed run that died before settling the step in doubt leaves it in doubt.
                Entry::RunStarted { .. } | Entry::RunResumed { .. } => prior.finished = None,
                Entry::RunFinished { exit_code, .. } => prior.finished = Some(*exit_code),
                _ => {}
            }
        }
        prior.in_doubt = open.map(|(step, _, wrote)| InDoubt { step, wrote });
        prior
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(step: &str) -> Entry {
        Entry::StepStarted {
            step: step.into(),
            kind: "step".into(),
            phase: None,
            attempt: 1,
            source_sha256: format!("sha-{step}"),
            at: String::new(),
        }
    }

    fn finished(step: &str, status: StepStatus) -> Entry {
        Entry::StepFinished {
            step: step.into(),
            status,
            duration_ms: 1,
            value: serde_json::json!(step),
            error: None,
            check: None,
            at: String::new(),
        }
    }

    fn write(step: &str) -> Entry {
        Entry::Effect {
            step: step.into(),
            kind: "exec".into(),
            access: Access::Write,
            what: "x".into(),
            at: String::new(),
        }
    }

    #[test]
    fn finds_done_steps_and_the_step_in_doubt() {
        let prior = Prior::from_entries(&[
            started("a"),
            finished("a", StepStatus::Done),
            started("b"),
            finished("b", StepStatus::Failed),
            started("b"),
            write("b"),
        ]);
        assert_eq!(prior.done["a"].value, serde_json::json!("a"));
        assert_eq!(prior.done["a"].source_sha256, "sha-a");
        assert!(!prior.done.contains_key("b"));
        assert_eq!(prior.in_doubt, Some(InDoubt { step: "b".into(), wrote: true }));
    }

    #[test]
    fn a_step_with_only_reads_is_in_doubt_without_writes() {
        let prior = Prior::from_entries(&[started("a")]);
        assert_eq!(prior.in_doubt, Some(InDoubt { step: "a".into(), wrote: false }));
    }
}
