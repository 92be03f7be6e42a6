//! What an earlier journal says, and what resume does with each step because of it: the one place where
//! verdicts, answers and decisions are restored, so a resumed run's board and exit code are those of one
//! uninterrupted run.
//!
//! - A step that finished is done and yields its stored value; its verdicts (its own, and the checklist
//!   items it recorded) are replayed in script order, and a gate that said GO weighs them again.
//! - A check that finished with a failed verdict is not done: checks are reads, so resume evaluates it
//!   again (a fixed problem turns green honestly, a broken one stays red).
//! - An answer is replayed only for a step that completed with it; a failed or unfinished step asks again.
//! - A NO-GO that ended the run is terminal until reopened on purpose (`GateReopened`).
//! - A gate is done only with a decision applied in it: a GO refused (written before the board) or a
//!   decision nobody gave is asked again, never walked past.
//! - A step that read, wrote and asked nothing computed its value from the script's values alone: resume
//!   computes it again from theirs, which re-evaluated checks may have changed (No-Go triggers).
//! - A write stopped before it ended (a signal, Ctrl-C, a timeout: `interrupted`) may have acted: it is in
//!   doubt, as after SIGKILL, never run again without asking (unless it is idempotent).

use std::collections::HashMap;

use super::journal::{CheckRecord, Entry, StepStatus};
use crate::effects::{Access, Started};
use crate::lifecycle::{GateVerdict, ItemKind};

#[derive(Debug, Clone)]
pub struct DoneStep {
    pub value: serde_json::Value,
    pub source_sha256: String,
    pub status: StepStatus,
    /// None for a step marked done on resume (its closing line has no opening in this journal).
    pub kind: Option<ItemKind>,
    /// Every verdict the step recorded, its own last, in the order they were recorded.
    pub verdicts: Vec<CheckRecord>,
    /// It read nothing, wrote nothing and asked nothing: its value was computed from the script's values
    /// alone, and resume computes it again from theirs (a No-Go trigger from re-evaluated checks).
    pub computed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InDoubt {
    pub step: String,
    /// Did it begin a write effect before the run died?
    pub wrote: bool,
    /// Commands it had started that never reported an end: they may still run where they ran.
    pub running: Vec<Started>,
    /// The commands whose end the journal holds ("`echo w >> F`: exit 0"): what the store saw is believed,
    /// not asked again.
    pub ended: Vec<String>,
}

/// A gate's NO-GO that ended the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub gate: String,
    pub verdict: GateVerdict,
    pub by: String,
    pub at: String,
    pub note: Option<String>,
    pub on_nogo: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Prior {
    pub done: HashMap<String, DoneStep>,
    /// Answers of steps that completed with them, by (step, question).
    pub answers: HashMap<(String, String), String>,
    /// Values golive fixed once for a step (a watch's end), by (step, key), whatever became of the step.
    pub remembered: HashMap<(String, String), String>,
    /// The newest verdict per name, over every finished step: what a gate that includes this run sees.
    pub checks: Vec<CheckRecord>,
    /// Steps that started and never finished: one in a run of single steps, several when the items of a
    /// repeated step ran together.
    pub in_doubt: Vec<InDoubt>,
    /// How the newest session of the run ended, if it did.
    pub finished: Option<i32>,
    /// The NO-GO that ended the run, unless a later resume reopened that gate.
    pub decision: Option<Decision>,
    /// Every gate's applied decision still standing (a reopened gate's is gone), by gate.
    pub decisions: std::collections::BTreeMap<String, Decision>,
    /// When the run first started (its RunStarted entry): the same across resumes.
    pub started: Option<String>,
    /// Each phase's first start, and its first normal end if it had one, across the run's sessions: what
    /// its budget is judged by after a resume.
    pub phases: HashMap<String, (String, Option<String>)>,
}

/// What resume does with one step.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Not done: run it (again).
    Run,
    /// Done in an earlier attempt: yield its value and replay its verdicts.
    Skip,
    /// Started and never finished: settle it (ask the targets whether its commands still run; re-run when
    /// none does and it made no writes or is idempotent, else ask).
    Settle { wrote: bool, running: Vec<Started>, ended: Vec<String> },
}

struct Open {
    step: String,
    kind: Option<ItemKind>,
    sha: String,
    /// It performed an effect, was answered, recorded a verdict or had a value remembered.
    acted: bool,
    wrote: bool,
    running: Vec<Started>,
    /// Effects begun and not yet ended, by what they do; and those that ended, with how.
    begun: Vec<String>,
    ended: Vec<String>,
    answers: Vec<(String, String)>,
    verdicts: Vec<CheckRecord>,
}

impl Prior {
    pub fn from_entries(entries: &[Entry]) -> Prior {
        let mut prior = Prior::default();
        // Steps started and not finished yet, in the order they started.
        let mut open: Vec<Open> = Vec::new();
        // Writes stopped before they ended, not started again since.
        let mut stopped: Vec<InDoubt> = Vec::new();
        // Gates with a decision applied, since they were last reopened.
        let mut decided: std::collections::HashSet<String> = std::collections::HashSet::new();
        for entry in entries {
            match entry {
                Entry::StepStarted { step, kind, source_sha256, .. } => {
                    open.retain(|o| o.step != *step);
                    stopped.retain(|s| s.step != *step);
                    open.push(Open {
                        step: step.clone(),
                        kind: Some(*kind),
                        sha: source_sha256.clone(),
                        acted: false,
                        wrote: false,
                        running: Vec::new(),
                        begun: Vec::new(),
                        ended: Vec::new(),
                        answers: Vec::new(),
                        verdicts: Vec::new(),
                    });
                }
                Entry::EffectRunning { step, target, process_group, .. } => {
                    if let Some(o) = open.iter_mut().find(|o| o.step == *step) {
                        o.running.push(Started { target: target.clone(), process_group: *process_group });
                    }
                }
                // Effects' ends are journaled together once all of them ended (a fan-out's too).
                Entry::EffectFinished { step, ok, detail, .. } => {
                    if let Some(o) = open.iter_mut().find(|o| o.step == *step) {
                        o.running.clear();
                        // Ends follow their effects in the order those began.
                        let what = if o.begun.is_empty() { String::new() } else { o.begun.remove(0) };
                        let how = if *ok { detail.clone() } else { format!("failed: {detail}") };
                        o.ended.push(format!("`{what}`: {how}"));
                    }
                }
                Entry::Effect { step, access, what, .. } => {
                    if let Some(o) = open.iter_mut().find(|o| o.step == *step) {
                        o.acted = true;
                        o.wrote |= *access == Access::Write;
                        o.begun.push(what.clone());
                    }
                }
                Entry::Answer { step, question, answer, .. } => {
                    if let Some(o) = open.iter_mut().find(|o| o.step == *step) {
                        o.acted = true;
                        o.answers.push((question.clone(), answer.clone()));
                    }
                }
                Entry::Remembered { step, key, value, .. } => {
                    if let Some(o) = open.iter_mut().find(|o| o.step == *step) {
                        o.acted = true;
                    }
                    prior.remembered.insert((step.clone(), key.clone()), value.clone());
                }
                Entry::PhaseStarted { phase, at, .. } => {
                    prior.phases.entry(phase.clone()).or_insert_with(|| (at.clone(), None));
                }
                Entry::PhaseFinished { phase, at, .. } => {
                    if let Some((_, finished)) = prior.phases.get_mut(phase) {
                        finished.get_or_insert_with(|| at.clone());
                    }
                }
                Entry::Verdict { step, check } => {
                    if let Some(o) = open.iter_mut().find(|o| o.step == *step) {
                        o.acted = true;
                        o.verdicts.push(check.clone());
                    }
                }
                Entry::Decision { gate, verdict, by, at, note, stops_run, on_nogo, .. } => {
                    decided.insert(gate.clone());
                    let decision = Decision {
                        gate: gate.clone(),
                        verdict: *verdict,
                        by: by.clone(),
                        at: at.clone(),
                        note: note.clone(),
                        on_nogo: on_nogo.clone(),
                    };
                    prior.decision = (*verdict == GateVerdict::NoGo && *stops_run).then(|| decision.clone());
                    prior.decisions.insert(gate.clone(), decision);
                }
                Entry::GateReopened { gate, .. } => {
                    decided.remove(gate);
                    prior.decisions.remove(gate);
                    prior.reopen(gate)
                }
                Entry::StepFinished { step, status, value, check, .. } => {
                    let finished = match open.iter().position(|o| o.step == *step) {
                        Some(at) => open.remove(at),
                        // A closing line without its opening (an in-doubt step marked done on resume).
                        None => Open {
                            step: step.clone(),
                            kind: None,
                            sha: String::new(),
                            acted: true,
                            wrote: false,
                            running: Vec::new(),
                            begun: Vec::new(),
                            ended: Vec::new(),
                            answers: Vec::new(),
                            verdicts: Vec::new(),
                        },
                    };
                    let Open { kind, sha, answers, mut verdicts, wrote, running, ended, acted, .. } = finished;
                    if *status == StepStatus::Interrupted && wrote {
                        stopped.push(InDoubt { step: step.clone(), wrote, running, ended });
                        continue;
                    }
                    if *status != StepStatus::Done && *status != StepStatus::Skipped {
                        continue;
                    }
                    // No decision applied (a GO refused, none given): the gate is asked again. Such a gate is
                    // journaled failed (`After::Unsettled`); journals of earlier versions closed it as done.
                    if kind == Some(ItemKind::Gate) && *status == StepStatus::Done && !decided.contains(step) {
                        continue;
                    }
                    verdicts.extend(check.iter().cloned());
                    for v in &verdicts {
                        prior.checks.retain(|c| c.name != v.name);
                        prior.checks.push(v.clone());
                    }
                    let failed_check = kind == Some(ItemKind::Check) && check.as_ref().is_some_and(|c| !c.ok);
                    if failed_check {
                        prior.done.remove(step);
                        continue;
                    }
                    for (question, answer) in answers {
                        prior.answers.insert((step.clone(), question), answer);
                    }
                    prior.done.insert(
                        step.clone(),
                        DoneStep {
                            value: value.clone(),
                            source_sha256: sha,
                            status: *status,
                            computed: !acted
                                && matches!(kind, Some(ItemKind::Step | ItemKind::Check))
                                && *status == StepStatus::Done,
                            kind,
                            verdicts,
                        },
                    );
                }
                // A resumed run that died before settling the step in doubt leaves it in doubt.
                Entry::RunStarted { at, .. } => {
                    prior.finished = None;
                    prior.started = Some(at.clone());
                }
                Entry::RunResumed { .. } => prior.finished = None,
                Entry::RunFinished { exit_code, .. } => prior.finished = Some(*exit_code),
                _ => {}
            }
        }
        prior.in_doubt = open
            .into_iter()
            .map(|o| InDoubt { step: o.step, wrote: o.wrote, running: o.running, ended: o.ended })
            .collect();
        prior.in_doubt.extend(stopped);
        prior
    }

    /// The operator reopened `gate` on purpose: it is asked again, and its NO-GO no longer ends the run.
    pub fn reopen(&mut self, gate: &str) {
        if self.decision.as_ref().is_some_and(|d| d.gate == gate) {
            self.decision = None;
        }
        self.done.remove(gate);
        self.answers.retain(|(step, _), _| step != gate);
    }

    /// What resume does with `step`.
    pub fn action(&self, step: &str) -> Action {
        match self.done.get(step) {
            Some(done) if done.computed => return Action::Run,
            Some(_) => return Action::Skip,
            None => {}
        }
        match self.in_doubt.iter().find(|doubt| doubt.step == step) {
            Some(doubt) => {
                Action::Settle { wrote: doubt.wrote, running: doubt.running.clone(), ended: doubt.ended.clone() }
            }
            None => Action::Run,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(step: &str, kind: &str) -> Entry {
        Entry::StepStarted {
            step: step.into(),
            kind: ItemKind::from_keyword(kind).expect("a keyword"),
            phase: None,
            attempt: 1,
            source_sha256: format!("sha-{step}"),
            at: String::new(),
            section: None,
        }
    }

    fn finished(step: &str, status: StepStatus, check: Option<CheckRecord>) -> Entry {
        Entry::StepFinished {
            step: step.into(),
            status,
            duration_ms: 1,
            value: serde_json::json!(step),
            error: None,
            check,
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

    fn read(step: &str) -> Entry {
        Entry::Effect {
            step: step.into(),
            kind: "exec".into(),
            access: Access::Read,
            what: "x".into(),
            at: String::new(),
        }
    }

    fn answer(step: &str, question: &str, answer: &str) -> Entry {
        Entry::Answer {
            step: step.into(),
            question: question.into(),
            answer: answer.into(),
            by: "ana".into(),
            at: String::new(),
        }
    }

    fn verdict(name: &str, ok: bool) -> CheckRecord {
        CheckRecord::new(name, ok, String::new(), String::new())
    }

    fn decision(gate: &str, verdict: &str, stops_run: bool) -> Entry {
        Entry::Decision {
            gate: gate.into(),
            verdict: GateVerdict::from_answer(verdict).expect("GO or NO-GO"),
            by: "Ana".into(),
            at: "t".into(),
            note: Some("payments failing".into()),
            recommended: GateVerdict::NoGo,
            stops_run,
            on_nogo: Some("scripts/rollback_quick.rhai".into()),
        }
    }

    #[test]
    fn finds_done_steps_and_the_step_in_doubt() {
        let prior = Prior::from_entries(&[
            started("a", "step"),
            read("a"),
            finished("a", StepStatus::Done, None),
            started("b", "step"),
            finished("b", StepStatus::Failed, None),
            started("b", "step"),
            write("b"),
        ]);
        assert_eq!(prior.done["a"].value, serde_json::json!("a"));
        assert_eq!(prior.done["a"].source_sha256, "sha-a");
        assert_eq!(prior.action("a"), Action::Skip);
        assert_eq!(prior.action("b"), Action::Settle { wrote: true, running: vec![], ended: vec![] });
        assert_eq!(prior.action("c"), Action::Run);
    }

    #[test]
    fn items_that_ran_together_are_each_done_or_in_doubt_by_their_own_lines() {
        let prior = Prior::from_entries(&[
            started("up [web1]", "step"),
            started("up [web2]", "step"),
            started("up [web3]", "step"),
            write("up [web2]"),
            read("up [web1]"),
            finished("up [web1]", StepStatus::Done, None),
            write("up [web3]"),
            finished("up [web3]", StepStatus::Done, None),
            started("up [web4]", "step"),
        ]);
        assert_eq!(prior.action("up [web1]"), Action::Skip);
        assert_eq!(prior.action("up [web2]"), Action::Settle { wrote: true, running: vec![], ended: vec![] });
        assert_eq!(prior.action("up [web3]"), Action::Skip);
        assert_eq!(prior.action("up [web4]"), Action::Settle { wrote: false, running: vec![], ended: vec![] });
        let names: Vec<&str> = prior.in_doubt.iter().map(|d| d.step.as_str()).collect();
        assert_eq!(names, ["up [web2]", "up [web4]"]);
    }

    #[test]
    fn a_command_that_never_reported_its_end_may_still_run_where_it_ran() {
        let running = |step: &str, pgid| Entry::EffectRunning {
            step: step.into(),
            target: "web1".into(),
            process_group: pgid,
            at: String::new(),
        };
        let ended =
            |step: &str| Entry::EffectFinished { step: step.into(), ok: true, detail: "exit 0".into(), duration_ms: 0 };
        let prior = Prior::from_entries(&[
            started("a", "step"),
            write("a"),
            running("a", 7),
            ended("a"),
            write("a"),
            running("a", 9),
        ]);
        let web1 = |pgid| Started { target: "web1".into(), process_group: pgid };
        // What the journal holds of the first command's end is kept: resume states it, never asks it.
        let first = vec!["`x`: exit 0".to_string()];
        assert_eq!(prior.action("a"), Action::Settle { wrote: true, running: vec![web1(9)], ended: first.clone() });
        let prior = Prior::from_entries(&[started("a", "step"), write("a"), running("a", 7), ended("a")]);
        assert_eq!(prior.action("a"), Action::Settle { wrote: true, running: vec![], ended: first });
    }

    #[test]
    fn a_step_that_read_wrote_and_asked_nothing_is_computed_again() {
        let prior = Prior::from_entries(&[
            started("triggers", "step"),
            finished("triggers", StepStatus::Done, None),
            started("pure check", "check"),
            finished("pure check", StepStatus::Done, Some(verdict("pure check", true))),
            started("asked", "step"),
            answer("asked", "ready?", "yes"),
            finished("asked", StepStatus::Done, None),
            started("skipped", "step"),
            finished("skipped", StepStatus::Skipped, None),
        ]);
        assert_eq!(prior.action("triggers"), Action::Run);
        assert_eq!(prior.action("pure check"), Action::Run);
        assert_eq!(prior.action("asked"), Action::Skip);
        assert_eq!(prior.action("skipped"), Action::Skip, "the operator's skip stands");
    }

    #[test]
    fn a_step_with_only_reads_is_in_doubt_without_writes() {
        let prior = Prior::from_entries(&[started("a", "step")]);
        assert_eq!(prior.action("a"), Action::Settle { wrote: false, running: vec![], ended: vec![] });
    }

    #[test]
    fn a_failed_check_is_evaluated_again_but_a_manual_no_is_kept() {
        let prior = Prior::from_entries(&[
            started("disk", "check"),
            finished("disk", StepStatus::Done, Some(verdict("disk", false))),
            started("support ready", "manual"),
            finished("support ready", StepStatus::Done, Some(verdict("support ready", false))),
            started("tls", "check"),
            read("tls"),
            finished("tls", StepStatus::Done, Some(verdict("tls", true))),
        ]);
        assert_eq!(prior.action("disk"), Action::Run);
        assert_eq!(prior.action("support ready"), Action::Skip);
        assert_eq!(prior.done["support ready"].verdicts, vec![verdict("support ready", false)]);
        assert_eq!(prior.action("tls"), Action::Skip);
        assert_eq!(prior.checks.len(), 3, "a gate including this run sees every verdict, failed ones too");
    }

    #[test]
    fn answers_are_kept_only_for_steps_that_completed_with_them() {
        let prior = Prior::from_entries(&[
            started("charge", "check"),
            answer("charge", "Charge id?", "ch_wrong"),
            finished("charge", StepStatus::Failed, None),
            started("items", "step"),
            answer("items", "Rollback probado", "yes"),
            Entry::Verdict { step: "items".into(), check: verdict("Rollback probado", true) },
            finished("items", StepStatus::Done, None),
            started("typed", "step"),
            answer("typed", "LCP?", "2.1"),
        ]);
        assert!(!prior.answers.contains_key(&("charge".into(), "Charge id?".into())));
        assert!(!prior.answers.contains_key(&("typed".into(), "LCP?".into())));
        assert_eq!(prior.answers[&("items".into(), "Rollback probado".into())], "yes");
        assert_eq!(prior.done["items"].verdicts, vec![verdict("Rollback probado", true)]);
    }

    #[test]
    fn a_no_go_that_ended_the_run_is_terminal_until_reopened() {
        let mut entries = vec![
            started("Go/No-Go", "gate"),
            answer("Go/No-Go", "Go/No-Go", "NO-GO"),
            decision("Go/No-Go", "NO-GO", true),
            finished("Go/No-Go", StepStatus::Done, Some(verdict("Go/No-Go", false))),
        ];
        let prior = Prior::from_entries(&entries);
        let d = prior.decision.clone().expect("the NO-GO is terminal");
        assert_eq!(
            (d.gate.as_str(), d.by.as_str(), d.on_nogo.as_deref()),
            ("Go/No-Go", "Ana", Some("scripts/rollback_quick.rhai"))
        );
        entries.push(Entry::GateReopened { gate: "Go/No-Go".into(), by: "ana".into(), at: "t2".into() });
        let reopened = Prior::from_entries(&entries);
        assert_eq!(reopened.decision, None);
        assert_eq!(reopened.action("Go/No-Go"), Action::Run, "a reopened gate asks again");
        assert!(reopened.answers.is_empty(), "and its old answer is not replayed");
    }

    #[test]
    fn a_no_go_the_script_branches_on_does_not_end_the_run() {
        let prior = Prior::from_entries(&[
            started("Go/No-Go", "gate"),
            decision("Go/No-Go", "NO-GO", false),
            finished("Go/No-Go", StepStatus::Done, Some(verdict("Go/No-Go", false))),
        ]);
        assert_eq!(prior.decision, None);
        assert_eq!(prior.action("Go/No-Go"), Action::Skip);
    }

    #[test]
    fn remembered_values_outlive_the_step_that_fixed_them() {
        let prior = Prior::from_entries(&[
            started("watch", "step"),
            Entry::Remembered { step: "watch".into(), key: "ends".into(), value: "42".into(), at: String::new() },
        ]);
        assert_eq!(prior.remembered[&("watch".into(), "ends".into())], "42");
    }
}
