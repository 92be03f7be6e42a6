//! The step controller: decides whether each step runs, records it in the journal, performs its effects
//! through the World, and turns failures and interrupts into the operator's choices.
//!
//! One concern a file: `steps.rs` (phases and steps: run, resume, plan, retries, in doubt), `effects.rs`
//! (performing and journaling effects, the plan's clock), `asking.rs` (the one answer chain). What resume
//! restores lives in `prior.rs`, how verdicts are judged in `verdicts.rs`.

mod asking;
mod effects;
mod script_run;
mod steps;

pub use crate::modules::run_api::{After, Answered, AskKind, PhaseOptions, StepOptions, StepOutput, StepSpec};

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::{Dynamic, EvalAltResult, Position};

use super::interrupt::Interrupts;
use super::journal::{CheckRecord, Entry, Journal, StepStatus};
use super::plan::{Plan, PlanItem, PlannedEffect};
use super::prior::{Action, DoneStep, Prior};
use super::verdicts::Verdicts;
use crate::duration;
use crate::effects::{
    Access, Budget, Effect, EffectError, Group, Outcome, Prompt, Provenance, Started, StartedLog, World,
};
use crate::engine::outline::Outline;
use crate::error::Failure;
use crate::lifecycle::{InDoubtChoice, ItemKind};
use crate::run::identity::now_stamp;
use crate::script_error::terminated_by;
use crate::script_error::{DEADLINE_TOKEN, INTERRUPT_TOKEN, STOP_TOKEN, runtime};
use crate::terminal::{Terminal, Tone, Verbosity};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Run,
    /// Skip steps the journal has as done; settle the step in doubt.
    Resume,
    /// Run only these steps; the others yield their last stored value.
    Only(BTreeSet<String>),
    Plan,
}

/// What resume does with a step that started and never finished, and made writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InDoubtPolicy {
    /// Ask the operator (a non-interactive run stops with exit 1 and names the step).
    Ask,
    /// Run it again (refused while its command may still run where it ran).
    Rerun,
    MarkDone,
    Abort,
    /// Wait until its command, still running where it ran, has ended; then ask again.
    Wait,
    /// Stop its command where it still runs (TERM, then KILL); then ask again.
    Stop,
}

impl InDoubtPolicy {
    /// The choice this policy makes for every step in doubt; None: ask.
    pub fn choice(self) -> Option<InDoubtChoice> {
        match self {
            InDoubtPolicy::Ask => None,
            InDoubtPolicy::Rerun => Some(InDoubtChoice::Rerun),
            InDoubtPolicy::MarkDone => Some(InDoubtChoice::MarkDone),
            InDoubtPolicy::Abort => Some(InDoubtChoice::Abort),
            InDoubtPolicy::Wait => Some(InDoubtChoice::Wait),
            InDoubtPolicy::Stop => Some(InDoubtChoice::Stop),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `--yes`: confirmations are accepted (never a gate).
    pub yes: bool,
    pub in_doubt: InDoubtPolicy,
    pub identity: String,
    /// `--answers FILE`.
    pub answers: Option<std::sync::Arc<super::answers::Answers>>,
    /// golive.toml's team: a failed step names who to call for its phase's owner.
    pub team: Vec<crate::config::TeamMember>,
    /// How long one command may take in a step without a timeout (golive.toml `command_timeout`).
    pub command_timeout: Duration,
    /// How long script code may run outside any step, and a whole plan (golive.toml `script_budget`).
    pub script_budget: Duration,
}

/// Why the run is stopping; the runner turns it into an exit code after the engine unwinds.
#[derive(Debug)]
pub enum Stop {
    Failure(Failure),
    /// A mistake in the script found while running a step (unknown function, wrong type...): exit 2.
    ScriptError(Box<EvalAltResult>),
}

struct Frame {
    name: String,
    kind: ItemKind,
    started: Instant,
    deadline: Option<(Instant, Duration)>,
    wrote: bool,
    /// A plan answered one of its reads with an assumption: its verdict is unknown.
    assumed: bool,
    /// A plan's clock inside the step: what its sleeps would have taken, against the step's timeout.
    planned: Duration,
    effects: Vec<PlannedEffect>,
    /// In a plan without live reads: the secrets whose placeholders (`<secret:NAME>`) it was given.
    secret_placeholders: BTreeSet<String>,
    /// Lines of its streamed commands that matched their error patterns: the step's evidence fails.
    flagged: Vec<String>,
    /// An effect of it was stopped before it ended (a timeout, Ctrl-C, a signal): what it did is not known.
    stopped: bool,
    /// A verdict recorded beside its own (a watch's, a checklist item's) did not pass.
    verdict_failed: bool,
    /// In a plan: it wrote, and the write was recorded, not performed; `unperformed_answer` when the write
    /// has an answer a verdict judges (an HTTP response: "delivered", "accepted").
    unperformed_write: bool,
    unperformed_answer: bool,
}

impl Frame {
    fn new(name: &str, kind: ItemKind, timeout: Option<Duration>) -> Frame {
        Frame {
            name: name.into(),
            kind,
            started: Instant::now(),
            deadline: timeout.map(|t| (Instant::now() + t, t)),
            wrote: false,
            assumed: false,
            planned: Duration::ZERO,
            effects: Vec::new(),
            secret_placeholders: BTreeSet::new(),
            flagged: Vec::new(),
            stopped: false,
            verdict_failed: false,
            unperformed_write: false,
            unperformed_answer: false,
        }
    }
}

#[derive(Default)]
struct State {
    phase: Option<String>,
    owner: Option<String>,
    /// The phase's runbook section, its steps' default.
    section: Option<String>,
    /// The step running in each strand (`None`: the script's own line of steps); the items of a repeated
    /// step may run together, each its own step.
    steps: HashMap<Option<usize>, Frame>,
    seen: HashSet<String>,
    stop: Option<Stop>,
    /// When the script began, and when it was last outside every step: what `script_budget` is counted from.
    began: Option<Instant>,
    outside_since: Option<Instant>,
}

impl State {
    fn step(&self) -> Option<&Frame> {
        self.steps.get(&crate::strand::current())
    }

    fn step_mut(&mut self) -> Option<&mut Frame> {
        self.steps.get_mut(&crate::strand::current())
    }

    fn start_step(&mut self, frame: Frame) {
        self.steps.insert(crate::strand::current(), frame);
    }

    fn take_step(&mut self) -> Option<Frame> {
        let frame = self.steps.remove(&crate::strand::current());
        if self.steps.is_empty() {
            self.outside_since = Some(Instant::now());
        }
        frame
    }
}

pub struct Controller {
    mode: RefCell<Mode>,
    world: Box<dyn World>,
    journal: RefCell<Option<Journal>>,
    prior: RefCell<Prior>,
    outline: RefCell<Outline>,
    terminal: Arc<Terminal>,
    interrupts: Arc<Interrupts>,
    settings: Settings,
    state: RefCell<State>,
    verdicts: RefCell<Verdicts>,
    plan: RefCell<Plan>,
    /// The targets whose locks this run holds, and how it takes another's before its first write there.
    target_locks: RefCell<Option<TargetLocks>>,
    /// In a plan: the unknowns it went on past (`stop_unless_unknown`), each with why.
    plan_conditions: RefCell<Vec<(String, String)>>,
    /// In a plan: the variables holding a step's value that rested on assumed reads, each with that step.
    assumed_values: RefCell<BTreeMap<String, String>>,
}

/// Takes a target's lock for this run: the lock (kept until the run ends), None where the run may write
/// there without one (`--force`, a runbook started by the run that holds it), or who holds it (exit 3).
pub type TakeLock = Box<dyn Fn(&str) -> Result<Option<super::lock::RunLock>, Failure>>;

/// The targets a run has locked: its own at the start, each other one before its first write there.
pub struct TargetLocks {
    held: BTreeSet<String>,
    take: TakeLock,
    kept: Vec<super::lock::RunLock>,
}

impl Controller {
    /// A controller in plan mode with nothing known yet; `begin` sets it up once the script compiled.
    pub fn new(
        world: Box<dyn World>,
        terminal: Arc<Terminal>,
        interrupts: Arc<Interrupts>,
        settings: Settings,
    ) -> Controller {
        Controller {
            mode: RefCell::new(Mode::Plan),
            world,
            journal: RefCell::new(None),
            prior: RefCell::new(Prior::default()),
            outline: RefCell::new(Outline::default()),
            terminal,
            interrupts,
            settings,
            state: RefCell::new(State::default()),
            verdicts: RefCell::new(Verdicts::default()),
            plan: RefCell::new(Plan::default()),
            plan_conditions: RefCell::new(Vec::new()),
            assumed_values: RefCell::new(BTreeMap::new()),
            target_locks: RefCell::new(None),
        }
    }

    /// A run that holds `target`'s lock takes any other target's with `take` before it first writes there.
    pub fn lock_targets_as_written(&self, target: &str, take: TakeLock) {
        let held = BTreeSet::from([target.to_string()]);
        *self.target_locks.borrow_mut() = Some(TargetLocks { held, take, kept: Vec::new() });
    }

    /// Before a write to `target`: its lock, taken now if this run does not hold it yet.
    fn lock_for_write(&self, target: &str, pos: Position) -> Result<(), Box<EvalAltResult>> {
        let mut locks = self.target_locks.borrow_mut();
        let Some(locks) = locks.as_mut() else { return Ok(()) };
        if locks.held.contains(target) {
            return Ok(());
        }
        match (locks.take)(target) {
            Ok(lock) => {
                locks.held.insert(target.to_string());
                locks.kept.extend(lock);
                Ok(())
            }
            Err(failure) => Err(self.stop(Stop::Failure(failure), pos)),
        }
    }

    pub fn begin(&self, mode: Mode, journal: Option<Journal>, prior: Prior, outline: Outline) {
        self.script_begins();
        *self.mode.borrow_mut() = mode;
        *self.journal.borrow_mut() = journal;
        *self.prior.borrow_mut() = prior;
        *self.outline.borrow_mut() = outline;
    }

    /// What a plan's gate sees of an earlier runbook it includes: the scenario's statement, else one unknown
    /// criterion (a plan never reads this machine's journals, so it is the same everywhere).
    pub fn planned_include(&self, script: &str) -> Vec<CheckRecord> {
        match self.world.included_checks(script) {
            Some(checks) => {
                checks.into_iter().map(|(name, ok)| CheckRecord::new(&name, ok, String::new(), String::new())).collect()
            }
            None => vec![CheckRecord {
                unknown: true,
                ..CheckRecord::new(
                    "its newest run",
                    false,
                    "not read in a plan; state it in the scenario's [[include]]".into(),
                    String::new(),
                )
            }],
        }
    }

    /// How long the step running now has taken: real time in a run, the time its sleeps would take in a plan
    /// (so a poll with a deadline ends in a plan as it would in the run).
    pub fn step_clock(&self) -> Duration {
        match self.state.borrow().step() {
            Some(frame) if self.is_dry() => frame.planned,
            Some(frame) => frame.started.elapsed(),
            None => Duration::ZERO,
        }
    }

    /// When this run first started, in seconds since the epoch (the same across its resumes; the plan's
    /// instant in plans).
    pub fn run_started(&self) -> i64 {
        if self.is_dry() {
            return crate::clock::PLAN_TIMESTAMP;
        }
        let prior = self.prior.borrow();
        let started = prior.started.as_deref().and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok());
        started.map(|at| at.timestamp()).unwrap_or_else(|| chrono::Utc::now().timestamp())
    }

    /// The id of the run this controller journals, if it journals one.
    pub fn run_id(&self) -> Option<String> {
        Some(self.journal.borrow().as_ref()?.run_id().to_string())
    }

    /// Whether the step running now is a check (its reads' failures are evidence for its verdict).
    pub fn in_check(&self) -> bool {
        self.state.borrow().step().is_some_and(|f| f.kind == ItemKind::Check)
    }

    pub fn outline_step_uses_value(&self, name: &str) -> bool {
        self.outline.borrow().step(name).is_none_or(|s| s.value_used)
    }

    /// When a decision was taken: now, or the fixed time plans use so they stay deterministic.
    pub fn now_stamp(&self) -> String {
        if self.is_dry() { crate::clock::PLAN_NOW.to_string() } else { now_stamp() }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn is_dry(&self) -> bool {
        self.world.is_dry()
    }

    pub fn performs_reads(&self) -> bool {
        self.world.performs_reads()
    }

    pub fn terminal(&self) -> &Arc<Terminal> {
        &self.terminal
    }

    pub fn interrupts(&self) -> &Arc<Interrupts> {
        &self.interrupts
    }

    pub fn take_stop(&self) -> Option<Stop> {
        self.state.borrow_mut().stop.take()
    }

    pub fn take_plan(&self) -> Plan {
        std::mem::take(&mut self.plan.borrow_mut())
    }

    pub fn checks(&self) -> Vec<CheckRecord> {
        self.verdicts.borrow().all().to_vec()
    }

    /// Script output from `print`: on the terminal, or in the plan.
    pub fn output(&self, text: &str) {
        if self.is_dry() {
            let text = self.terminal.redactor().redact(text).into_owned();
            self.plan.borrow_mut().items.push(PlanItem::Output { text });
        } else {
            self.terminal.out(text);
        }
    }

    pub fn journal(&self, entry: Entry, durable: bool) -> Result<(), Box<EvalAltResult>> {
        // In a strand, a durable line is synced once the other strands that can go on have run: those that
        // reach a boundary of their own meanwhile share the sync (a hundred hosts' steps, not a sync each).
        // The strand itself goes on only once its line is on disk.
        let together = durable && crate::strand::current().is_some();
        let appended = match self.journal.borrow_mut().as_mut() {
            None => return Ok(()),
            Some(journal) => journal.append(&entry, durable && !together).map(|()| journal.appended()),
        };
        let line = appended.map_err(|f| self.stop(Stop::Failure(f), Position::NONE))?;
        if together {
            crate::strand::pass();
            self.journal_sync_upto(line)?;
        }
        Ok(())
    }

    /// The number of the journal's last line (0 with no journal).
    pub fn journal_lines(&self) -> u64 {
        self.journal.borrow().as_ref().map_or(0, Journal::appended)
    }

    /// Makes the journal durable up to `line`: one sync for every line appended before it.
    pub fn journal_sync_upto(&self, line: u64) -> Result<(), Box<EvalAltResult>> {
        let synced = match self.journal.borrow_mut().as_mut() {
            None => return Ok(()),
            Some(journal) => journal.sync_upto(line),
        };
        synced.map_err(|f| self.stop(Stop::Failure(f), Position::NONE))
    }

    /// Runs `work` as an ad-hoc step (the REPL's inputs): journaled with its effects, no retries or
    /// questions on failure, and an interrupt only cancels it.
    pub fn adhoc(
        &self,
        name: &str,
        work: &mut dyn FnMut() -> Result<Dynamic, Box<EvalAltResult>>,
    ) -> Result<Dynamic, Box<EvalAltResult>> {
        // An input is named by its text, which may hold a secret the operator typed; the journal never
        // masks step names (resume matches by them), and a REPL input is never resumed: masked here.
        let masked = self.terminal.redactor().redact(name).into_owned();
        let name = masked.as_str();
        let phase = self.state.borrow().phase.clone();
        let entry = Entry::StepStarted {
            step: name.into(),
            kind: ItemKind::Repl,
            phase,
            attempt: 1,
            source_sha256: String::new(),
            at: now_stamp(),
            section: None,
        };
        self.journal(entry, true)?;
        self.state.borrow_mut().start_step(Frame::new(name, ItemKind::Repl, None));
        let started = Instant::now();
        let result = work();
        self.state.borrow_mut().take_step();
        let duration_ms = started.elapsed().as_millis() as u64;
        let (status, value, error) = match &result {
            Ok(v) => (StepStatus::Done, to_json(v), None),
            Err(_) if self.interrupts.fired() => {
                (StepStatus::Interrupted, serde_json::Value::Null, Some("interrupted".into()))
            }
            Err(e) => (StepStatus::Failed, serde_json::Value::Null, Some(crate::diagnostic::one_line(e))),
        };
        self.finished(name, status, duration_ms, value, error, None)?;
        result
    }

    /// Records why the run stops and returns the uncatchable error that unwinds the script.
    /// Where a run would stop, a plan that cannot tell whether it would (an unknown verdict, a decision no
    /// scenario gives) goes on as if the run went on, and every later step is shown as happening only if
    /// `condition` holds; the plan's outcome stays unknown. Anything else stops as it would.
    pub fn stop_unless_unknown(&self, failure: Failure, condition: &str, pos: Position) -> Option<Box<EvalAltResult>> {
        match failure {
            Failure::Unknown(why) if self.is_dry() => {
                self.plan_conditions.borrow_mut().push((condition.to_string(), why));
                None
            }
            failure => Some(self.stop(Stop::Failure(failure), pos)),
        }
    }

    /// In a plan: a step that reads a value resting on assumed reads rests on them too. The variable it
    /// reads, and the step whose assumed reads that value came from; None when it reads none.
    pub(super) fn rests_on_assumed_value(&self, step: &str) -> Option<(String, String)> {
        let assumed = self.assumed_values.borrow();
        if assumed.is_empty() {
            return None;
        }
        let outline = self.outline.borrow();
        let reads = &outline.step(step)?.reads;
        // Carried through the values computed from them outside steps (`let y = x.value * 2`).
        let tainted = outline.carried(assumed.clone());
        reads.iter().find_map(|r| tainted.get(r).map(|origin| (r.clone(), origin.clone())))
    }

    /// In a plan without live reads: the secrets whose placeholders `step` reads through variables given
    /// them outside steps (`let key = secret("X")`), and values computed from those.
    pub(super) fn secret_placeholders_read(&self, step: &str) -> Vec<String> {
        if self.world.performs_reads() {
            return Vec::new();
        }
        let outline = self.outline.borrow();
        let Some(reads) = outline.step(step).map(|s| &s.reads) else { return Vec::new() };
        let holding = outline.carried(outline.secret_values.clone());
        reads.iter().filter_map(|r| holding.get(r).cloned()).collect()
    }

    /// In a plan: the script stopped with `err` outside any step on a line that reads a value resting on
    /// assumed reads. The value, and the step it came from ("check \"x\""); None when the line reads none.
    pub fn line_rests_on_assumed_value(
        &self,
        err: &EvalAltResult,
        script: &str,
        ast: &rhai::AST,
    ) -> Option<(String, String)> {
        if !self.is_dry() {
            return None;
        }
        let line = script.lines().nth(err.position().line()?.checked_sub(1)?)?;
        let assumed = self.assumed_values.borrow().clone();
        let outline = self.outline.borrow();
        let carried = outline.carried(assumed);
        // What the line reads, and what decided that it runs (the `if` around a `throw`).
        let mut read: BTreeSet<String> =
            line.split(|c: char| !(c.is_alphanumeric() || c == '_')).map(str::to_string).collect();
        read.extend(crate::engine::outline::deciding_variables(ast, err.position()));
        carried.into_iter().find(|(name, _)| read.contains(name)).map(|(name, step)| {
            let kind = outline.step(&step).map_or("step", |s| s.kind.as_str());
            (name, format!("{kind} \"{step}\""))
        })
    }

    /// In a plan: `step`'s value rested on assumed reads, and the variable it went to carries that on.
    pub(super) fn value_rests_on_assumed_reads(&self, step: &str) {
        let outline = self.outline.borrow();
        if let Some(name) = outline.step(step).and_then(|s| s.binds.clone()) {
            self.assumed_values.borrow_mut().insert(name, step.to_string());
        }
    }

    /// The unknowns a plan went on past so far: what the rest of it rests on ("required check \"x\"
    /// passes, gate \"y\" lets the run go on"), and why the first is unknown. None before the first.
    pub fn plan_condition(&self) -> Option<(String, String)> {
        let conditions = self.plan_conditions.borrow();
        let why = conditions.first()?.1.clone();
        Some((conditions.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(", "), why))
    }

    pub fn stop(&self, why: Stop, pos: Position) -> Box<EvalAltResult> {
        let mut state = self.state.borrow_mut();
        if state.stop.is_none() {
            state.stop = Some(why);
        }
        EvalAltResult::ErrorTerminated(STOP_TOKEN.into(), pos).into()
    }

    fn stopping(&self) -> bool {
        self.state.borrow().stop.is_some()
    }

    /// Checked by the engine between operations: Ctrl-C and step deadlines stop even busy script code.
    pub fn poll(&self) -> Option<Dynamic> {
        if self.interrupts.fired() {
            return Some(INTERRUPT_TOKEN.into());
        }
        if let Some(why) = self.over_budget() {
            let mut state = self.state.borrow_mut();
            if state.stop.is_none() {
                state.stop = Some(Stop::ScriptError(runtime(why, Position::NONE)));
            }
            return Some(STOP_TOKEN.into());
        }
        match self.state.borrow().step().and_then(|f| f.deadline) {
            Some((deadline, _)) if Instant::now() >= deadline => Some(DEADLINE_TOKEN.into()),
            _ => None,
        }
    }

    /// Script code starts running now (a run, a plan, a REPL input): `script_budget` counts from here.
    pub fn script_begins(&self) {
        let now = Instant::now();
        let mut state = self.state.borrow_mut();
        (state.began, state.outside_since) = (Some(now), Some(now));
    }

    /// Script code that has run longer than `script_budget` outside any step of a run, or in a plan at
    /// all, is a loop that never ends: golive stops it (exit 2) rather than hang. Inside a run's step the
    /// step's own timeout bounds it.
    fn over_budget(&self) -> Option<String> {
        let budget = self.settings.script_budget;
        let state = self.state.borrow();
        let shown = duration::short(budget);
        // A plan with live reads waits on real targets: only its code outside steps counts, as in a run.
        if self.is_dry() && !self.world.performs_reads() {
            return state.began.filter(|b| b.elapsed() > budget).map(|_| {
                format!(
                    "the plan's script code ran for more than {shown} (golive.toml `script_budget`): a loop that \
                     never ends? a plan computes, it never waits"
                )
            });
        }
        if !state.steps.is_empty() {
            return None;
        }
        state.outside_since.filter(|o| o.elapsed() > budget).map(|_| {
            format!(
                "script code outside any step ran for more than {shown} (golive.toml `script_budget`): a loop \
                 that never ends? Work that takes long belongs in a step with a `timeout`"
            )
        })
    }

    /// The operator's Ctrl-C was handled by the code that saw it (a watch stops cleanly): the next one is new.
    pub fn interrupt_handled(&self) {
        self.interrupts.settle();
    }

    /// Ends the journal: how the run finished.
    pub fn finish(&self, exit_code: i32, message: &str) {
        let _ = self.journal(Entry::RunFinished { exit_code, message: message.into(), at: now_stamp() }, true);
    }
}

enum Choice {
    Retry,
    Skip,
    Abort,
}

fn evidence(check: &CheckRecord) -> String {
    match (check.actual.is_empty(), check.target.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(" (actual {})", check.actual),
        (true, false) => format!(" (target {})", check.target),
        (false, false) => format!(" (actual {}, target {})", check.actual, check.target),
    }
}

fn excerpt(stderr: &str, stdout: &str) -> String {
    let text = if stderr.trim().is_empty() { stdout } else { stderr };
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let cut: String = text.chars().take(400).collect();
    format!(": {cut}")
}

/// How deep a journaled value may nest: serde_json reads back at most 128 levels, and a journal line that
/// cannot be read back would make the whole journal unreadable.
const JOURNAL_DEPTH: usize = 64;

/// A value as the journal keeps it; one nested deeper than `JOURNAL_DEPTH` (an untrusted JSON answer can
/// be) is kept as its text, so every line reads back.
pub fn to_json(value: &Dynamic) -> serde_json::Value {
    let json = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    if depth(&json) > JOURNAL_DEPTH { serde_json::Value::String(value.to_string()) } else { json }
}

fn depth(value: &serde_json::Value) -> usize {
    // Iterative: the value's own depth must not be the stack's.
    let mut deepest = 0;
    let mut stack = vec![(value, 1)];
    while let Some((value, at)) = stack.pop() {
        deepest = deepest.max(at);
        match value {
            serde_json::Value::Array(items) => stack.extend(items.iter().map(|v| (v, at + 1))),
            serde_json::Value::Object(fields) => stack.extend(fields.values().map(|v| (v, at + 1))),
            _ => {}
        }
    }
    deepest
}

pub fn from_json(value: &serde_json::Value) -> Dynamic {
    rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT)
}
