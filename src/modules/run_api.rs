//! What a script may ask of the run it belongs to: the interface the engine and the modules call, which
//! the run's Controller implements. The engine defines it, so the layers read top to bottom: main -> repl
//! -> run -> engine -> modules -> effects, and nothing below the run names the run.

use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, EvalAltResult, Position};
use serde::Deserialize;

use crate::config::Config;
use crate::effects::{Effect, Outcome};
use crate::error::Failure;
use crate::terminal::Terminal;
pub use crate::verdict::CheckRecord;

/// What kind of question: it decides what `--yes` may answer and what is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskKind {
    /// yes/no: `--yes` answers it.
    Confirm,
    /// What a person must see or vouch for (manual items, checklist items, dangerous confirmations): a
    /// person or an answers file answers it, never `--yes`.
    Attest,
    /// One of the choices; `--yes` never answers it (gates are choices).
    Choice,
    /// Free text.
    Text,
    /// Free text with a stated default: `--yes` takes the default (answers empty).
    Defaulted,
    /// Free text never echoed, journaled or reused: masked everywhere, asked again on resume.
    Secret,
}

/// `with #{ ... }` on a step.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepOptions {
    pub timeout: Option<String>,
    #[serde(default)]
    pub retries: u32,
    pub retry_delay: Option<String>,
    #[serde(default)]
    pub idempotent: bool,
    /// On a check: a failed verdict stops the run before anything else is written.
    #[serde(default)]
    pub required: bool,
    /// The runbook section it fills in ("3.2"); default: its phase's. The report places it there.
    pub section: Option<String>,
    /// Why a fault of its reads may leave its verdict passing (`golive test --faults`); read from the outline.
    pub survives: Option<String>,
    /// `step "x" for host in hosts`: how many items run first, alone; a failure among them stops the rest.
    #[serde(default)]
    pub canary: usize,
    /// `step "x" for host in hosts`: how many items may fail before the rest are not started (default 0:
    /// a failure asks retry / skip / abort, as any step's).
    #[serde(default)]
    pub max_fail: usize,
    /// `step "x" for host in hosts`: past the canary, items go in batches of this many, run together (at
    /// most `forks` at once); failures are counted where a batch ends, so a batch's other items still run
    /// (default 1: one item after another).
    #[serde(default)]
    pub serial: usize,
}

/// What an options map holds that its type alone does not judge: durations written as text. A step's
/// options are judged by this as the step starts, and by `golive check` where they are written as literals.
pub trait OptionValues {
    /// The first key whose value cannot be used, and why.
    fn invalid(&self) -> Option<(&'static str, String)>;
}

fn invalid_duration(fields: &[(&'static str, &Option<String>)]) -> Option<(&'static str, String)> {
    fields.iter().find_map(|(key, value)| {
        value.as_deref().and_then(|text| crate::duration::parse(text).err()).map(|e| (*key, e))
    })
}

impl OptionValues for StepOptions {
    fn invalid(&self) -> Option<(&'static str, String)> {
        invalid_duration(&[("timeout", &self.timeout), ("retry_delay", &self.retry_delay)])
    }
}

impl OptionValues for PhaseOptions {
    fn invalid(&self) -> Option<(&'static str, String)> {
        invalid_duration(&[("budget", &self.budget)])
    }
}

/// `with #{ ... }` on a phase.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseOptions {
    /// Planned local time window, "06:00-12:00".
    pub window: Option<String>,
    pub owner: Option<String>,
    /// How long the phase may take ("5m" for the quick rollback); the run reports the time against it.
    pub budget: Option<String>,
    /// The runbook section the phase fills in ("2.1", "7.1"); its steps' default.
    pub section: Option<String>,
}

pub struct StepSpec {
    pub kind: crate::lifecycle::ItemKind,
    pub name: String,
    pub options: StepOptions,
    pub pos: Position,
    /// One item of a step repeated per item that may fail without stopping the others (`max_fail`, a
    /// canary): once its retries are spent, a failure is journaled and weighed as a failed verdict, and
    /// the step gives `ToleratedFailure` instead of asking retry / skip / abort.
    pub tolerate: bool,
}

/// What a tolerated step gives when it failed (see `StepSpec::tolerate`).
#[derive(Debug, Clone, Copy)]
pub struct ToleratedFailure;

pub struct StepOutput {
    pub value: Dynamic,
    pub check: Option<CheckRecord>,
    pub after: After,
}

impl StepOutput {
    pub fn value(value: Dynamic) -> StepOutput {
        StepOutput { value, check: None, after: After::GoOn }
    }
}

/// How an item that returned ended, and what the run does next.
pub enum After {
    /// It is done; the script goes on.
    GoOn,
    /// It is done, and the run ends with it: a gate said NO-GO and the script does not look at the verdict.
    Stop(Failure),
    /// It could not end: no decision was applied (a GO written before the board, a plan with none). It is
    /// journaled as failed, never done, so resume asks again; the run ends.
    Unsettled(Failure),
}

impl After {
    /// The run ends after the item: why.
    pub fn ends_run(self) -> Option<Failure> {
        match self {
            After::GoOn => None,
            After::Stop(failure) | After::Unsettled(failure) => Some(failure),
        }
    }
}

/// An answer and who gave it (a person, the answers file, --yes, an earlier attempt, a plan's assumption).
#[derive(Debug, Clone)]
pub struct Answered {
    pub answer: String,
    pub by: String,
    pub note: Option<String>,
    /// A plan took it as an assumption: nobody answered it.
    pub assumed: bool,
    /// Written before the question was shown (an answers file, --yes, a plan's scenario): it never saw the
    /// evidence the question came with.
    pub prewritten: bool,
}

/// A gate's decision, as the run records it.
#[derive(Debug, Clone)]
pub struct GateDecision {
    pub gate: String,
    pub verdict: crate::lifecycle::GateVerdict,
    pub by: String,
    pub at: String,
    pub note: Option<String>,
    pub recommended: crate::lifecycle::GateVerdict,
    /// The gate was a statement: its NO-GO ends the run.
    pub stops_run: bool,
    pub on_nogo: Option<String>,
}

/// The run a script belongs to, as the engine and the modules see it.
pub trait ScriptRun {
    /// A plan: writes are recorded, reads answered by a scenario or assumed.
    fn is_dry(&self) -> bool;
    /// The item runs in this session: false only for one `--only` did not select. Its options are then
    /// never judged (they may rest on values of steps that did not run either).
    fn selected(&self, name: &str) -> bool;
    /// Reads reach the real world (a run, or a plan with live reads).
    fn performs_reads(&self) -> bool;
    fn terminal(&self) -> &Arc<Terminal>;
    /// Who runs it (user@host).
    fn identity(&self) -> &str;
    /// Script output (`print`): on the terminal, or in the plan.
    fn output(&self, text: &str);
    /// Checked between operations: Ctrl-C and step deadlines stop even busy script code.
    fn poll(&self) -> Option<Dynamic>;
    /// Now, or the plan's one instant.
    fn now_stamp(&self) -> String;
    /// How long the step running now has taken (a plan's own clock in a plan).
    fn step_clock(&self) -> Duration;
    fn in_check(&self) -> bool;
    /// The name of the step running now, if any.
    fn step_name(&self) -> Option<String>;
    /// In a plan: a read of the step running now was assumed, so what it computed is not known.
    fn rests_on_assumed_reads(&self) -> bool;
    /// In a plan without live reads: the step running now was given secret `name`'s placeholder.
    fn secret_placeholder_given(&self, name: &str);
    /// In a plan: what the step running now computes rests on a value the plan does not know (a secret's
    /// fingerprint): its verdict is unknown.
    fn rests_on_unknown_value(&self);
    fn run_id(&self) -> Option<String>;
    /// When the run first started, seconds since the epoch (the plan's instant in plans).
    fn run_started(&self) -> i64;
    fn phase(
        &self,
        name: &str,
        options: &PhaseOptions,
        pos: Position,
        body: &mut dyn FnMut() -> Result<Dynamic, Box<EvalAltResult>>,
    ) -> Result<Dynamic, Box<EvalAltResult>>;
    fn step(
        &self,
        spec: &StepSpec,
        work: &mut dyn FnMut() -> Result<StepOutput, Box<EvalAltResult>>,
    ) -> Result<Dynamic, Box<EvalAltResult>>;
    fn perform(&self, effect: Effect, caller: &str, pos: Position) -> Result<Outcome, Box<EvalAltResult>>;
    #[allow(clippy::type_complexity)]
    fn perform_all(
        &self,
        effects: Vec<Effect>,
        caller: &str,
        pos: Position,
    ) -> Result<Vec<Result<Outcome, Box<EvalAltResult>>>, Box<EvalAltResult>>;
    fn ask(
        &self,
        question: &str,
        choices: &[&str],
        kind: AskKind,
        pos: Position,
    ) -> Result<Answered, Box<EvalAltResult>>;
    /// A value fixed the first time the step computes it, kept across resumes.
    fn remembered(&self, key: &str, compute: &dyn Fn() -> String) -> Result<String, Box<EvalAltResult>>;
    fn interrupt_handled(&self);
    /// A verdict besides the step's own (a checklist item), journaled so resume restores it.
    fn record_verdict(&self, check: CheckRecord) -> Result<(), Box<EvalAltResult>>;
    /// The verdicts so far, the newest per name.
    fn checks(&self) -> Vec<CheckRecord>;
    fn verdicts_weighed(&self, gate: &str);
    /// The checks of the newest run of `script` on `target`, for a gate's `include` (a plan's come from
    /// its scenario, never from this machine's journals).
    fn included_checks(&self, script: &str, config: &Config, target: &str) -> Result<Vec<CheckRecord>, String>;
    /// The newest run of `script` on `target`, finished or not (a plan's comes from its scenario, never from
    /// this machine's journals); None when there is none.
    fn last_run(&self, script: &str, config: &Config, target: &str) -> Result<Option<crate::verdict::LastRun>, String>;
    /// Whether the script uses this step's value (`let v = gate ...`).
    fn step_uses_value(&self, name: &str) -> bool;
    /// Records a gate's decision.
    fn decided(&self, decision: GateDecision) -> Result<(), Box<EvalAltResult>>;
    /// Ends the run with this failure (between steps: a canary or a repeated step's max_fail).
    /// Stops the run for `failure`; a plan goes on past an unknown one (None), as if the run went on.
    fn stop_run(&self, failure: Failure, condition: &str, pos: Position) -> Option<Box<EvalAltResult>>;
}
