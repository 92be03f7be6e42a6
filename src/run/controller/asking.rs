//! The one answer chain every question goes through: journal (completed steps), --answers, --yes (plain
//! confirmations only), the terminal -- or, in a plan, the scenario or a stated assumption.

use super::*;

/// What a run nobody watches says when a question has no answer: the question, and what may answer it.
fn unanswered(question: &str, choices: &[&str], kind: AskKind) -> String {
    let example = choices.first().copied().unwrap_or("...");
    // The key as TOML writes it, so the hint can be pasted even when the question holds quotes.
    let key = toml::Value::String(question.to_string()).to_string();
    let mut why = format!(
        "no answer for \"{question}\": this run is not interactive\n  hint: answer it in an --answers file: {key} = \"{example}\""
    );
    match kind {
        AskKind::Confirm => why.push_str(", or pass --yes to accept confirmations"),
        AskKind::Attest => why.push_str(" (a person must confirm it: --yes never answers it)"),
        AskKind::Choice => why.push_str(" (--yes never chooses)"),
        AskKind::Text | AskKind::Defaulted => {}
        AskKind::Secret => {
            why = format!(
                "no answer for \"{question}\": this run is not interactive, and a secret is typed by a person\n  hint: run it on a terminal"
            )
        }
    }
    why
}

impl Controller {
    /// Asks a question of the step running now through the answer chain; with nobody to answer it (no
    /// terminal, nothing in the answers file), the run stops and names the question and what may answer it.
    pub fn ask(
        &self,
        question: &str,
        choices: &[&str],
        kind: AskKind,
        pos: Position,
    ) -> Result<Answered, Box<EvalAltResult>> {
        let step = self.state.borrow().step().map(|f| f.name.clone()).unwrap_or_default();
        match self.answer_chain(&step, &[question, &step], question, choices, kind, pos)? {
            Some(answered) => Ok(answered),
            None => Err(self.stop(Stop::Failure(Failure::Runbook(unanswered(question, choices, kind))), pos)),
        }
    }

    /// The one answer chain every question goes through: an earlier attempt of a step that completed with
    /// it, then `--answers` (under the first of `keys` it has), then `--yes` (plain confirmations only), then the
    /// terminal -- or, in a plan, the scenario or a stated assumption. The answer is journaled with who gave
    /// it. `None` when nobody can answer (a run without a terminal).
    pub(super) fn answer_chain(
        &self,
        step: &str,
        keys: &[&str],
        question: &str,
        choices: &[&str],
        kind: AskKind,
        pos: Position,
    ) -> Result<Option<Answered>, Box<EvalAltResult>> {
        if kind != AskKind::Secret {
            let earlier = self.prior.borrow().answers.get(&(step.to_string(), question.to_string())).cloned();
            if let Some(answer) = earlier {
                self.terminal.line(&format!("        {question} -> {answer} (answered earlier)"));
                return Ok(Some(Answered {
                    answer,
                    by: "an earlier attempt".into(),
                    note: None,
                    assumed: false,
                    prewritten: false,
                }));
            }
        }
        // A plan takes `--answers` and `--yes` as a run does (`golive plan --answers FILE`): it shows the path
        // those answers take; what they leave open, the scenario or a stated assumption answers.
        let given = self.settings.answers.as_ref().and_then(|a| a.first(keys));
        let yes = self.settings.yes;
        // Plans are the same on every machine: they name no operator.
        let identity = if self.is_dry() { "the operator".to_string() } else { self.settings.identity.clone() };
        let answered = if let Some(mut given) = given {
            let file = self.settings.answers.as_ref().map(|a| a.path.display().to_string()).unwrap_or_default();
            // The words a terminal takes, the same way: whole words, either language (`sí` is yes).
            let offered: Vec<String> = choices.iter().map(|c| c.to_string()).collect();
            let matched = crate::terminal::match_choice(&given.answer, &offered);
            if let Some(choice) = matched.clone() {
                given.answer = choice;
            }
            if !choices.is_empty() && matched.is_none() {
                return Err(runtime(
                    format!(
                        "{file}: the answer to \"{question}\" is \"{}\", but it must be one of: {}",
                        given.answer,
                        choices.join(", ")
                    ),
                    pos,
                ));
            }
            let by = format!("{} (answers file)", given.by.unwrap_or_else(|| identity.clone()));
            Answered { answer: given.answer, by, note: given.note, assumed: false, prewritten: true }
        } else if kind == AskKind::Confirm && yes {
            Answered {
                answer: "yes".into(),
                by: format!("{identity} (--yes)"),
                note: None,
                assumed: false,
                prewritten: true,
            }
        } else if kind == AskKind::Defaulted && yes {
            let by = format!("{identity} (--yes, the default)");
            Answered { answer: String::new(), by, note: None, assumed: false, prewritten: true }
        } else if !self.is_dry() && !self.terminal.is_interactive() {
            return Ok(None);
        } else {
            let prompt = Prompt {
                question: question.into(),
                choices: choices.iter().map(|c| c.to_string()).collect(),
                secret: kind == AskKind::Secret,
            };
            let in_step = self.state.borrow().step().is_some();
            let answer = if in_step {
                // Inside a step the question is an effect: journaled, and answered by a plan's scenario.
                match self.perform(Effect::Prompt(prompt), "prompt", pos)? {
                    Outcome::Answer(a) => a,
                    other => return Err(runtime(format!("a prompt got {other:?} instead of an answer"), pos)),
                }
            } else {
                // Between steps (a step in doubt, retry / skip / abort): the terminal; Ctrl-C leaves it unanswered.
                self.terminal.line(&format!("        {question}"));
                match self.terminal.ask(&prompt, &self.interrupts.token()) {
                    Ok(a) => a,
                    Err(_) => return Ok(None),
                }
            };
            let assumed = self.is_dry()
                && self
                    .state
                    .borrow()
                    .step()
                    .and_then(|f| f.effects.last())
                    .is_some_and(|e| matches!(e.answer, Provenance::Assumed(_)));
            let by = identity;
            // A plan's scenario stands for an answers file: written before the evidence, as it is.
            Answered { answer, by, note: None, assumed, prewritten: self.is_dry() }
        };
        let kept = if kind == AskKind::Secret {
            self.terminal.redactor().add(question, &answered.answer);
            "(secret, not kept)".to_string()
        } else {
            answered.answer.clone()
        };
        let entry = Entry::Answer {
            step: step.into(),
            question: question.into(),
            answer: kept,
            by: answered.by.clone(),
            at: now_stamp(),
        };
        self.journal(entry, true)?;
        Ok(Some(answered))
    }

    /// A value fixed the first time the current step computes it and kept across resumes (a watch's end
    /// time), whatever became of the step.
    pub fn remembered(&self, key: &str, compute: &dyn Fn() -> String) -> Result<String, Box<EvalAltResult>> {
        let step = self.state.borrow().step().map(|f| f.name.clone()).unwrap_or_default();
        if let Some(earlier) = self.prior.borrow().remembered.get(&(step.clone(), key.to_string())).cloned() {
            return Ok(earlier);
        }
        let value = compute();
        if !self.is_dry() {
            let entry = Entry::Remembered { step, key: key.into(), value: value.clone(), at: now_stamp() };
            self.journal(entry, true)?;
        }
        Ok(value)
    }
}
