//! The step controller: decides whether each step runs, records it in the journal, performs its effects
//! through the World, and turns failures and interrupts into the operator's choices.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::{Dynamic, EvalAltResult, Position};
use serde::Deserialize;

use super::interrupt::Interrupts;
use super::journal::{CheckRecord, Entry, Journal, StepStatus};
use super::plan::{Plan, PlanItem, PlannedEffect};
use super::prior::{Action, DoneStep, Prior};
use crate::duration;
use crate::effects::{Access, Budget, Effect, EffectError, Outcome, Prompt, Provenance, World};
use crate::engine::outline::Outline;
use crate::error::Failure;
use crate::run::identity::now_stamp;
use crate::script_error::terminated_by;
use crate::script_error::{DEADLINE_TOKEN, INTERRUPT_TOKEN, STOP_TOKEN, runtime};
use crate::terminal::{Terminal, Tone};

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
    Rerun,
    MarkDone,
    Abort,
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
}

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
}

pub struct StepSpec {
    pub kind: &'static str,
    pub name: String,
    pub options: StepOptions,
    pub pos: Position,
}

pub struct StepOutput {
    pub value: Dynamic,
    pub check: Option<CheckRecord>,
    /// A gate said NO-GO and the script does not look at the verdict: the run stops after recording it.
    pub stop_after: Option<Failure>,
}

impl StepOutput {
    pub fn value(value: Dynamic) -> StepOutput {
        StepOutput { value, check: None, stop_after: None }
    }
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
    kind: &'static str,
    started: Instant,
    deadline: Option<(Instant, Duration)>,
    wrote: bool,
    /// A plan answered one of its reads with an assumption: its verdict is unknown.
    assumed: bool,
    /// A plan's clock inside the step: what its sleeps would have taken, against the step's timeout.
    planned: Duration,
    effects: Vec<PlannedEffect>,
}

impl Frame {
    fn new(name: &str, kind: &'static str, timeout: Option<Duration>) -> Frame {
        Frame {
            name: name.into(),
            kind,
            started: Instant::now(),
            deadline: timeout.map(|t| (Instant::now() + t, t)),
            wrote: false,
            assumed: false,
            planned: Duration::ZERO,
            effects: Vec::new(),
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
}

/// What a run nobody watches says when a question has no answer: the question, and what may answer it.
fn unanswered(question: &str, choices: &[&str], kind: AskKind) -> String {
    let example = choices.first().copied().unwrap_or("...");
    let mut why = format!(
        "no answer for \"{question}\": this run is not interactive\n  hint: answer it in an --answers file: \"{question}\" = \"{example}\""
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

#[derive(Default)]
struct State {
    phase: Option<String>,
    owner: Option<String>,
    step: Option<Frame>,
    seen: HashSet<String>,
    checks: Vec<CheckRecord>,
    /// Verdicts that did not pass and that no gate has weighed yet.
    unweighed: Vec<CheckRecord>,
    gates: std::collections::BTreeSet<String>,
    stop: Option<Stop>,
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
    plan: RefCell<Plan>,
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
            plan: RefCell::new(Plan::default()),
        }
    }

    pub fn begin(&self, mode: Mode, journal: Option<Journal>, prior: Prior, outline: Outline) {
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
        match self.state.borrow().step.as_ref() {
            Some(frame) if self.is_dry() => frame.planned,
            Some(frame) => frame.started.elapsed(),
            None => Duration::ZERO,
        }
    }

    /// The id of the run this controller journals (its folder's name), if it journals one.
    pub fn run_id(&self) -> Option<String> {
        let journal = self.journal.borrow();
        let dir = journal.as_ref()?.path().parent()?;
        Some(dir.file_name()?.to_string_lossy().into_owned())
    }

    /// Whether the step running now is a check (its reads' failures are evidence for its verdict).
    pub fn in_check(&self) -> bool {
        self.state.borrow().step.as_ref().is_some_and(|f| f.kind == "check")
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
        self.state.borrow().checks.clone()
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
        if let Some(journal) = self.journal.borrow_mut().as_mut() {
            journal.append(&entry, durable).map_err(|f| self.stop(Stop::Failure(f), Position::NONE))?;
        }
        Ok(())
    }

    /// Runs `work` as an ad-hoc step (the REPL's inputs): journaled with its effects, no retries or
    /// questions on failure, and an interrupt only cancels it.
    pub fn adhoc(
        &self,
        name: &str,
        work: &mut dyn FnMut() -> Result<Dynamic, Box<EvalAltResult>>,
    ) -> Result<Dynamic, Box<EvalAltResult>> {
        let phase = self.state.borrow().phase.clone();
        let entry = Entry::StepStarted {
            step: name.into(),
            kind: "repl".into(),
            phase,
            attempt: 1,
            source_sha256: String::new(),
            at: now_stamp(),
        };
        self.journal(entry, true)?;
        self.state.borrow_mut().step = Some(Frame::new(name, "repl", None));
        let started = Instant::now();
        let result = work();
        self.state.borrow_mut().step = None;
        let duration_ms = started.elapsed().as_millis() as u64;
        let (status, value, error) = match &result {
            Ok(v) => (StepStatus::Done, to_json(v), None),
            Err(_) if self.interrupts.fired() => {
                (StepStatus::Interrupted, serde_json::Value::Null, Some("interrupted".into()))
            }
            Err(e) => (StepStatus::Failed, serde_json::Value::Null, Some(crate::engine::diagnostics::one_line(e))),
        };
        self.finished(name, status, duration_ms, value, error, None)?;
        result
    }

    /// Records why the run stops and returns the uncatchable error that unwinds the script.
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
        match self.state.borrow().step.as_ref().and_then(|f| f.deadline) {
            Some((deadline, _)) if Instant::now() >= deadline => Some(DEADLINE_TOKEN.into()),
            _ => None,
        }
    }

    // ----- phases -----

    pub fn phase(
        &self,
        name: &str,
        options: &PhaseOptions,
        pos: Position,
        body: &mut dyn FnMut() -> Result<Dynamic, Box<EvalAltResult>>,
    ) -> Result<Dynamic, Box<EvalAltResult>> {
        {
            let state = self.state.borrow();
            if let Some(step) = &state.step {
                return Err(runtime(
                    format!("phase \"{name}\" is inside step \"{}\"; phases hold steps", step.name),
                    pos,
                ));
            }
            if let Some(outer) = &state.phase {
                return Err(runtime(format!("phase \"{name}\" is inside phase \"{outer}\"; phases cannot nest"), pos));
            }
        }
        let window = options.window.as_deref().map(Window::parse).transpose().map_err(|e| runtime(e, pos))?;
        let budget = options.budget.as_deref().map(duration::parse).transpose().map_err(|e| runtime(e, pos))?;
        {
            let mut state = self.state.borrow_mut();
            state.phase = Some(name.to_string());
            state.owner = options.owner.clone();
        }
        let started = Instant::now();
        let started_clock = chrono::Local::now();
        if self.is_dry() {
            self.plan.borrow_mut().items.push(PlanItem::Phase {
                name: name.into(),
                window: options.window.clone(),
                owner: options.owner.clone(),
            });
        } else {
            let mut heading = format!("phase \"{name}\"");
            if let Some(w) = &options.window {
                heading.push_str(&format!("  planned {w}"));
            }
            if let Some(o) = &options.owner {
                heading.push_str(&format!("  owner {o}"));
            }
            self.terminal.line(&self.terminal.paint(&format!("\n{heading}"), Tone::Heading));
            self.journal(Entry::PhaseStarted { phase: name.into(), at: now_stamp() }, false)?;
        }
        let result = body();
        {
            let mut state = self.state.borrow_mut();
            state.phase = None;
            state.owner = None;
        }
        if !self.is_dry() && !self.stopping() {
            let elapsed = started.elapsed();
            self.journal(
                Entry::PhaseFinished { phase: name.into(), at: now_stamp(), duration_ms: elapsed.as_millis() as u64 },
                false,
            )?;
            let actual = format!(
                "{}-{} ({})",
                started_clock.format("%H:%M"),
                chrono::Local::now().format("%H:%M"),
                duration::short(elapsed)
            );
            let line = match &window {
                Some(w) => {
                    format!("phase \"{name}\": planned {} ({}), actual {actual}", w.text, duration::short(w.length))
                }
                None => format!("phase \"{name}\": actual {actual}"),
            };
            self.terminal.line(&self.terminal.paint(&line, Tone::Dim));
            if let Some(budget) = budget {
                let (verdict, tone) = if elapsed <= budget { ("within", Tone::Good) } else { ("OVER", Tone::Bad) };
                let line = format!(
                    "phase \"{name}\" took {} of its {} budget: {verdict}",
                    duration::short(elapsed),
                    duration::short(budget)
                );
                self.terminal.line(&self.terminal.paint(&line, tone));
            }
        }
        result
    }

    // ----- steps -----

    pub fn step(
        &self,
        spec: &StepSpec,
        work: &mut dyn FnMut() -> Result<StepOutput, Box<EvalAltResult>>,
    ) -> Result<Dynamic, Box<EvalAltResult>> {
        self.enter(spec)?;
        if spec.options.required && spec.kind != "check" {
            return Err(runtime(
                format!("`required` is for checks; {} \"{}\" is not a check", spec.kind, spec.name),
                spec.pos,
            ));
        }
        if let Some(value) = self.skip_decision(spec)? {
            return Ok(value);
        }
        let timeout =
            spec.options.timeout.as_deref().map(duration::parse).transpose().map_err(|e| runtime(e, spec.pos))?;
        if self.is_dry() {
            return self.plan_step(spec, timeout, work);
        }
        let retry_delay = spec
            .options
            .retry_delay
            .as_deref()
            .map(duration::parse)
            .transpose()
            .map_err(|e| runtime(e, spec.pos))?
            .unwrap_or(Duration::from_secs(2));
        let phase = self.state.borrow().phase.clone();
        let source_sha256 = self.outline.borrow().step(&spec.name).map(|s| s.source_sha256.clone()).unwrap_or_default();
        let label = format!("{} \"{}\"", spec.kind, spec.name);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.journal(
                Entry::StepStarted {
                    step: spec.name.clone(),
                    kind: spec.kind.into(),
                    phase: phase.clone(),
                    attempt,
                    source_sha256: source_sha256.clone(),
                    at: now_stamp(),
                },
                true,
            )?;
            self.state.borrow_mut().step = Some(Frame::new(&spec.name, spec.kind, timeout));
            self.terminal.start_spinner(&label);
            let started = Instant::now();
            let result = work();
            self.terminal.stop_spinner();
            self.state.borrow_mut().step = None;
            let elapsed = started.elapsed();
            let duration_ms = elapsed.as_millis() as u64;

            let err = match result {
                Ok(output) => {
                    let failed = output.check.as_ref().filter(|c| !c.ok).cloned();
                    // A check with retries is a readiness poll: it is asked again until it passes.
                    if let Some(check) = failed.as_ref().filter(|_| attempt <= spec.options.retries) {
                        let why = format!("not passing yet{}", evidence(check));
                        self.finished(
                            &spec.name,
                            StepStatus::Failed,
                            duration_ms,
                            serde_json::Value::Null,
                            Some(why.clone()),
                            None,
                        )?;
                        self.report("wait", Tone::Dim, &label, &format!("{} - {why}", duration::short(elapsed)));
                        self.announce_retry(retry_delay, attempt, spec.options.retries);
                        self.pause(retry_delay);
                        continue;
                    }
                    let value = to_json(&output.value);
                    self.finished(&spec.name, StepStatus::Done, duration_ms, value, None, output.check.clone())?;
                    let (mark, tone) = if failed.is_some() { ("FAIL", Tone::Bad) } else { ("ok", Tone::Good) };
                    let shown = output.check.as_ref().map(evidence).unwrap_or_default();
                    self.report(mark, tone, &label, &format!("{}{shown}", duration::short(elapsed)));
                    if let Some(check) = output.check {
                        self.weigh(check);
                    }
                    if let Some(check) = failed.filter(|_| spec.options.required) {
                        let why = format!(
                            "required check \"{}\" failed{}; nothing after it runs",
                            spec.name,
                            evidence(&check)
                        );
                        return Err(self.stop(Stop::Failure(Failure::Runbook(why)), spec.pos));
                    }
                    if let Some(stop) = output.stop_after {
                        return Err(self.stop(Stop::Failure(stop), spec.pos));
                    }
                    return Ok(output.value);
                }
                Err(err) => err,
            };
            if self.stopping() {
                // The step ends with the run: its closing line says why, so resume knows it did not finish.
                let why = self.stop_message().unwrap_or_else(|| "the run stopped".into());
                let _ = self.finished(
                    &spec.name,
                    StepStatus::Failed,
                    duration_ms,
                    serde_json::Value::Null,
                    Some(why),
                    None,
                );
                return Err(err);
            }
            let interrupted = self.interrupts.fired();
            let message = match terminated_by(&err) {
                Some(DEADLINE_TOKEN) => {
                    format!("timed out after {} (step timeout)", duration::short(timeout.unwrap_or_default()))
                }
                Some(INTERRUPT_TOKEN) => "interrupted by the operator (Ctrl-C)".to_string(),
                _ => crate::engine::diagnostics::one_line(&err),
            };
            let status = if interrupted { StepStatus::Interrupted } else { StepStatus::Failed };
            self.finished(&spec.name, status, duration_ms, serde_json::Value::Null, Some(message.clone()), None)?;
            if !interrupted && crate::engine::diagnostics::is_script_mistake(&err) {
                self.report("FAIL", Tone::Bad, &label, "the script itself is wrong here");
                return Err(self.stop(Stop::ScriptError(err), spec.pos));
            }
            let mark = if interrupted { "INTR" } else { "FAIL" };
            self.report(mark, Tone::Bad, &label, &format!("{} - {message}", duration::short(elapsed)));
            if !interrupted {
                self.call_the_owner();
            }
            if !interrupted && attempt <= spec.options.retries {
                self.announce_retry(retry_delay, attempt, spec.options.retries);
                self.pause(retry_delay);
                continue;
            }
            match self.after_failure(spec, interrupted, &message)? {
                Choice::Retry => {
                    self.interrupts.settle();
                    continue;
                }
                Choice::Skip => {
                    self.interrupts.settle();
                    self.finished(
                        &spec.name,
                        StepStatus::Skipped,
                        0,
                        serde_json::Value::Null,
                        Some(format!("skipped by {} after: {message}", self.settings.identity)),
                        None,
                    )?;
                    self.report("skip", Tone::Dim, &label, "skipped by the operator");
                    return Ok(Dynamic::UNIT);
                }
                Choice::Abort => {
                    let why = format!("{} \"{}\" failed: {message}", spec.kind, spec.name);
                    let failure = if interrupted { Failure::Interrupted(why) } else { Failure::Runbook(why) };
                    return Err(self.stop(Stop::Failure(failure), spec.pos));
                }
            }
        }
    }

    fn announce_retry(&self, delay: Duration, attempt: u32, retries: u32) {
        self.terminal.line(&format!(
            "        retrying in {} (attempt {} of {})",
            duration::short(delay),
            attempt + 1,
            retries + 1
        ));
    }

    fn stop_message(&self) -> Option<String> {
        match &self.state.borrow().stop {
            Some(Stop::Failure(f)) => Some(f.message().lines().next().unwrap_or_default().to_string()),
            Some(Stop::ScriptError(e)) => Some(crate::engine::diagnostics::one_line(e)),
            None => None,
        }
    }

    /// The step's closing journal line, fsynced: it is what resume trusts.
    fn finished(
        &self,
        step: &str,
        status: StepStatus,
        duration_ms: u64,
        value: serde_json::Value,
        error: Option<String>,
        check: Option<CheckRecord>,
    ) -> Result<(), Box<EvalAltResult>> {
        let entry =
            Entry::StepFinished { step: step.into(), status, duration_ms, value, error, check, at: now_stamp() };
        self.journal(entry, true)
    }

    fn enter(&self, spec: &StepSpec) -> Result<(), Box<EvalAltResult>> {
        let mut state = self.state.borrow_mut();
        if let Some(outer) = &state.step {
            return Err(runtime(
                format!("{} \"{}\" is inside step \"{}\"; steps cannot nest", spec.kind, spec.name, outer.name),
                spec.pos,
            ));
        }
        if !state.seen.insert(spec.name.clone()) {
            return Err(runtime(
                format!(
                    "step \"{}\" runs a second time; step names identify checkpoints, so each must run once",
                    spec.name
                ),
                spec.pos,
            ));
        }
        Ok(())
    }

    /// `Some(value)` when the step is not to run now, with the value it yields instead.
    fn skip_decision(&self, spec: &StepSpec) -> Result<Option<Dynamic>, Box<EvalAltResult>> {
        let label = format!("{} \"{}\"", spec.kind, spec.name);
        let mode = self.mode.borrow().clone();
        match &mode {
            Mode::Run | Mode::Plan => Ok(None),
            Mode::Only(selected) if selected.contains(&spec.name) => Ok(None),
            Mode::Only(_) => {
                self.report("skip", Tone::Dim, &label, "not selected");
                let prior = self.prior.borrow();
                Ok(Some(prior.done.get(&spec.name).map(|d| from_json(&d.value)).unwrap_or(Dynamic::UNIT)))
            }
            Mode::Resume => {
                let action = self.prior.borrow().action(&spec.name);
                match action {
                    Action::Run => Ok(None),
                    Action::Settle { wrote } => self.settle_in_doubt(spec, wrote),
                    Action::Skip => {
                        let done = self.prior.borrow().done[&spec.name].clone();
                        let now_sha =
                            self.outline.borrow().step(&spec.name).map(|s| s.source_sha256.clone()).unwrap_or_default();
                        let edited = if !done.source_sha256.is_empty() && done.source_sha256 != now_sha {
                            "; warning: its source changed since it ran"
                        } else {
                            ""
                        };
                        let how = if done.status == StepStatus::Skipped { "skipped" } else { "done" };
                        let verdict =
                            done.verdicts.last().map(|c| format!(": {}{}", c.mark(), evidence(c))).unwrap_or_default();
                        self.report(
                            "skip",
                            Tone::Dim,
                            &label,
                            &format!("{how} in an earlier attempt{verdict}{edited}"),
                        );
                        self.replay(&spec.name, &done);
                        Ok(Some(from_json(&done.value)))
                    }
                }
            }
        }
    }

    /// A done step's verdicts count again, in script order, as in one uninterrupted run.
    fn replay(&self, name: &str, done: &DoneStep) {
        if done.kind == "gate" {
            self.verdicts_weighed(name);
        }
        for verdict in &done.verdicts {
            self.weigh(verdict.clone());
        }
    }

    fn settle_in_doubt(&self, spec: &StepSpec, wrote: bool) -> Result<Option<Dynamic>, Box<EvalAltResult>> {
        let label = format!("{} \"{}\"", spec.kind, spec.name);
        if !wrote || spec.options.idempotent {
            let why = if wrote { "it is idempotent" } else { "it made no writes" };
            self.terminal.line(&format!("        {label} was in doubt; re-running it because {why}"));
            return Ok(None);
        }
        let question = format!(
            "{label} started but never finished, and it may have changed things. Re-run it, mark it done, or abort?"
        );
        // --in-doubt, else the answer chain (the answers file by this question or the step's name, the terminal).
        let policy = match self.settings.in_doubt {
            InDoubtPolicy::Ask => {
                let choices = ["rerun", "done", "abort"];
                let key = format!("in doubt: {}", spec.name);
                match self.answer_chain(
                    &spec.name,
                    &[&question, &key],
                    &question,
                    &choices,
                    AskKind::Choice,
                    spec.pos,
                )? {
                    Some(a) if a.answer == "rerun" => InDoubtPolicy::Rerun,
                    Some(a) if a.answer == "done" => InDoubtPolicy::MarkDone,
                    Some(_) => InDoubtPolicy::Abort,
                    None => InDoubtPolicy::Ask,
                }
            }
            chosen => chosen,
        };
        match policy {
            InDoubtPolicy::Rerun => {
                self.terminal.line(&format!("        {label} was in doubt; re-running it as the operator chose"));
                Ok(None)
            }
            InDoubtPolicy::MarkDone => {
                self.finished(
                    &spec.name,
                    StepStatus::Done,
                    0,
                    serde_json::Value::Null,
                    Some(format!("marked done by {} after the run died in it", self.settings.identity)),
                    None,
                )?;
                self.report("skip", Tone::Dim, &label, "in doubt; marked done by the operator");
                Ok(Some(Dynamic::UNIT))
            }
            InDoubtPolicy::Ask | InDoubtPolicy::Abort => {
                let why = format!(
                    "{label} is in doubt: the run died while it was running, after it started changing things.\n  \
                     Check by hand whether it took effect, then resume with `--in-doubt rerun` or `--in-doubt mark-done`"
                );
                Err(self.stop(Stop::Failure(Failure::Runbook(why)), spec.pos))
            }
        }
    }

    /// A step in a plan: its effects are recorded, its verdict is what the scenario's answers give, and
    /// unknown when any read it used was assumed.
    fn plan_step(
        &self,
        spec: &StepSpec,
        timeout: Option<Duration>,
        work: &mut dyn FnMut() -> Result<StepOutput, Box<EvalAltResult>>,
    ) -> Result<Dynamic, Box<EvalAltResult>> {
        self.state.borrow_mut().step = Some(Frame::new(&spec.name, spec.kind, timeout));
        let result = work();
        let frame = self.state.borrow_mut().step.take().expect("the plan step's frame");
        let redact = |s: String| self.terminal.redactor().redact(&s).into_owned();
        let (result_text, outcome) = match result {
            Ok(mut output) => {
                if let Some(check) = output.check.as_mut().filter(|_| frame.assumed) {
                    check.ok = false;
                    check.unknown = true;
                    // The script branches as a run would on a verdict that did not pass.
                    if let Some(mut map) = output.value.clone().try_cast::<rhai::Map>() {
                        map.insert("ok".into(), false.into());
                        map.insert("unknown".into(), true.into());
                        output.value = Dynamic::from_map(map);
                    }
                }
                let assumed = if frame.assumed { " (on assumed reads)" } else { "" };
                let text = match &output.check {
                    Some(c) => format!("{}{}", c.mark(), evidence(c)),
                    // Command results are already listed as effects: only plain values are worth showing.
                    None if output.value.is_unit() || output.value.is_map() => format!("done{assumed}"),
                    None => format!("done{assumed} -> {}", redact(to_json(&output.value).to_string())),
                };
                let failed = output.check.as_ref().filter(|c| !c.ok).cloned();
                if let Some(check) = output.check.clone() {
                    self.weigh(check);
                }
                let stop = match (failed, output.stop_after) {
                    (Some(check), _) if spec.options.required => {
                        let why = format!(
                            "required check \"{}\" {}{}; nothing after it runs",
                            spec.name,
                            if check.unknown { "rests on assumed reads" } else { "failed" },
                            evidence(&check)
                        );
                        let failure = if check.unknown { Failure::Unknown(why) } else { Failure::Runbook(why) };
                        Some(self.stop(Stop::Failure(failure), spec.pos))
                    }
                    (_, Some(stop)) => Some(self.stop(Stop::Failure(stop), spec.pos)),
                    _ => None,
                };
                (text, stop.map_or(Ok(output.value), Err))
            }
            Err(err) if self.stopping() => ("stops the run".to_string(), Err(err)),
            Err(err) if crate::engine::diagnostics::is_script_mistake(&err) => {
                ("script error".to_string(), Err(self.stop(Stop::ScriptError(err), spec.pos)))
            }
            Err(err) => {
                let message = crate::engine::diagnostics::one_line(&err);
                let why = format!("{} \"{}\" failed: {message}", spec.kind, spec.name);
                // A failure that follows from an assumption is not a prediction.
                let failure = if frame.assumed { Failure::Unknown(why) } else { Failure::Runbook(why) };
                let shown = if frame.assumed { "FAILS on assumed reads" } else { "FAILS" };
                (format!("{shown}: {}", redact(message)), Err(self.stop(Stop::Failure(failure), spec.pos)))
            }
        };
        self.plan.borrow_mut().items.push(PlanItem::Step {
            kind: spec.kind.into(),
            name: spec.name.clone(),
            effects: frame.effects,
            result: result_text,
        });
        outcome
    }

    /// Retry, skip or abort, through the answer chain (the file's key: "on failure: STEP"). An answers
    /// file may skip or abort, not retry: a
    /// bounded retry is the step's `retries` option, and a file that said "retry" would loop for ever.
    fn after_failure(&self, spec: &StepSpec, interrupted: bool, message: &str) -> Result<Choice, Box<EvalAltResult>> {
        let what = if interrupted { "was interrupted" } else { "failed" };
        let question = format!("{} \"{}\" {what}: {message}. What now?", spec.kind, spec.name);
        let choices: &[&str] =
            if self.terminal.is_interactive() { &["retry", "skip", "abort"] } else { &["skip", "abort"] };
        // The interrupt that brought us here is handled by this question; a new Ctrl-C cancels the question.
        self.interrupts.settle();
        // The file answers it under "on failure: STEP" (the question holds the failure's text).
        let key = format!("on failure: {}", spec.name);
        let answered = self.answer_chain(&spec.name, &[&key], &question, choices, AskKind::Choice, spec.pos)?;
        Ok(match answered.as_ref().map(|a| a.answer.as_str()) {
            Some("retry") => Choice::Retry,
            Some("skip") => Choice::Skip,
            _ => Choice::Abort,
        })
    }

    fn report(&self, mark: &str, tone: Tone, label: &str, detail: &str) {
        let mark = self.terminal.paint(&format!("{mark:<4}"), tone);
        self.terminal.line(&format!("  {mark}  {label}  {}", self.terminal.paint(detail, Tone::Dim)));
    }

    /// Who owns the failing step's phase, and how to reach them (golive.toml [[team]]).
    fn call_the_owner(&self) {
        let Some(owner) = self.state.borrow().owner.clone() else { return };
        let team = crate::config::members_for(&self.settings.team, &owner);
        for member in team {
            self.terminal.line(&format!("        call {}: {} {}", member.role, member.name, member.phone));
        }
    }

    /// A verdict recorded inside a step besides the step's own (a checklist item): weighed by gates, and
    /// journaled so that resume restores it with the step.
    pub fn record_verdict(&self, check: CheckRecord) -> Result<(), Box<EvalAltResult>> {
        let step = self.state.borrow().step.as_ref().map(|f| f.name.clone()).unwrap_or_default();
        if !self.is_dry() {
            self.journal(Entry::Verdict { step, check: check.clone() }, false)?;
        }
        self.weigh(check);
        Ok(())
    }

    /// Adds a verdict for gates to weigh (checks, checklist items, gate decisions); the newest per name wins.
    fn weigh(&self, check: CheckRecord) {
        let mut state = self.state.borrow_mut();
        state.unweighed.retain(|c| c.name != check.name);
        if !check.ok && !state.gates.contains(&check.name) {
            state.unweighed.push(check.clone());
        }
        state.checks.retain(|c| c.name != check.name);
        state.checks.push(check);
    }

    /// The gate `name` has weighed every verdict so far: a decision was taken on them (its own NO-GO is that
    /// decision, not a failure left open).
    pub fn verdicts_weighed(&self, gate: &str) {
        let mut state = self.state.borrow_mut();
        state.unweighed.clear();
        state.gates.insert(gate.to_string());
    }

    /// How the script's end is judged, by a run and its plan alike: verdicts that failed (or, in a plan, rest
    /// on assumed reads) with no gate after them mean the run is not clean.
    pub fn verdict_at_end(&self) -> Result<(), Failure> {
        let open = self.state.borrow().unweighed.clone();
        let names = |unknown: bool| -> Vec<String> {
            open.iter().filter(|c| c.unknown == unknown).map(|c| format!("\"{}\"", c.name)).collect()
        };
        let (failed, unknown) = (names(false), names(true));
        if !failed.is_empty() {
            return Err(Failure::Runbook(format!(
                "{} check(s) failed and no gate weighed them: {}",
                failed.len(),
                failed.join(", ")
            )));
        }
        if !unknown.is_empty() {
            return Err(Failure::Unknown(format!(
                "{} check(s) rest on assumed reads and no gate weighed them: {}",
                unknown.len(),
                unknown.join(", ")
            )));
        }
        Ok(())
    }

    fn pause(&self, delay: Duration) {
        let cancel = self.interrupts.token();
        let deadline = Instant::now() + delay;
        while Instant::now() < deadline && !cancel.is_cancelled() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    // ----- effects -----

    /// Performs an effect for the current step. `caller` names the script function, for errors.
    pub fn perform(&self, effect: Effect, caller: &str, pos: Position) -> Result<Outcome, Box<EvalAltResult>> {
        let mut results = self.perform_all(vec![effect], caller, pos)?;
        results.pop().expect("one effect gives one result")
    }

    /// Performs several effects at once (fan-out): each is journaled, and each gets its own result, so
    /// one host's failure never hides another's. An interrupt stops them all.
    pub fn perform_all(
        &self,
        effects: Vec<Effect>,
        caller: &str,
        pos: Position,
    ) -> Result<Vec<Result<Outcome, Box<EvalAltResult>>>, Box<EvalAltResult>> {
        let (step, deadline) = match self.state.borrow().step.as_ref() {
            Some(frame) => (frame.name.clone(), frame.deadline),
            None => {
                return Err(runtime(
                    format!(
                        "`{caller}` acts on the world, so it must run inside a step; wrap it in `step \"...\" {{ }}`"
                    ),
                    pos,
                ));
            }
        };
        let redact = |text: String| self.terminal.redactor().redact(&text).into_owned();
        let whats: Vec<String> = effects.iter().map(|e| redact(e.describe())).collect();
        if !self.is_dry() {
            for (effect, what) in effects.iter().zip(&whats) {
                let access = effect.access();
                let entry = Entry::Effect {
                    step: step.clone(),
                    kind: effect.kind().into(),
                    access,
                    what: what.clone(),
                    at: now_stamp(),
                };
                self.journal(entry, false)?;
                if access == Access::Write
                    && let Some(frame) = self.state.borrow_mut().step.as_mut()
                {
                    frame.wrote = true;
                }
            }
        }
        // A step's timeout bounds its effects; the per-kind defaults apply only to steps without one.
        let (timeout, step_limited) = match deadline {
            None => (effects.iter().filter_map(|e| e.default_timeout(self.settings.command_timeout)).max(), false),
            Some((at, _)) => {
                let left = at.saturating_duration_since(Instant::now());
                match effects.iter().filter_map(Effect::own_timeout).max() {
                    Some(own) if own < left => (Some(own), false),
                    _ => (Some(left), true),
                }
            }
        };
        if self.is_dry() {
            self.advance_plan_clock(&effects, pos)?;
        }
        let budget = Budget { timeout, cancel: self.interrupts.token() };
        let started = Instant::now();
        let results = if effects.len() == 1 {
            vec![self.world.perform(&effects[0], &budget)]
        } else {
            self.world.perform_all(&effects, &budget)
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let mut outcomes = Vec::with_capacity(results.len());
        for ((effect, what), result) in effects.iter().zip(whats).zip(results) {
            if self.is_dry() {
                if let Some(frame) = self.state.borrow_mut().step.as_mut() {
                    let answer = match &result {
                        Ok((_, provenance)) => provenance.clone(),
                        Err(e) => Provenance::Assumed(format!("error: {e}")),
                    };
                    if matches!(result, Ok((_, Provenance::Assumed(_)))) {
                        frame.assumed = true;
                    }
                    frame.effects.push(PlannedEffect { access: effect.access(), what: what.clone(), answer });
                }
            } else {
                let detail = match &result {
                    Ok((Outcome::Exec(out), _)) => format!("exit {}{}", out.code, excerpt(&out.stderr, &out.stdout)),
                    Ok((Outcome::Answer(_), _)) if matches!(effect, Effect::Prompt(p) if p.secret) => {
                        "answer (secret)".into()
                    }
                    Ok((Outcome::Answer(a), _)) => format!("answer {a}"),
                    Ok((Outcome::Slept, _)) => "slept".into(),
                    Ok((Outcome::Transferred { bytes }, _)) => format!("{bytes} bytes"),
                    Ok((Outcome::Http(r), _)) => format!("{} in {} ms", r.status, r.timings.total_ms),
                    Ok((Outcome::Probe(p), _)) => {
                        format!("p95 {} ms, {} errors of {}", p.p95_ms, p.errors, p.requests)
                    }
                    Ok((Outcome::Cert(c), _)) => format!("{} days left {}", c.days_left, c.problem),
                    Ok((Outcome::Dns(records), _)) => records.join(", "),
                    Ok((Outcome::Sent, _)) => "sent".into(),
                    Err(e) => e.to_string(),
                };
                let entry = Entry::EffectFinished {
                    step: step.clone(),
                    ok: result.is_ok(),
                    detail: redact(detail),
                    duration_ms: elapsed_ms,
                };
                self.journal(entry, false)?;
            }
            outcomes.push(match result {
                Ok((outcome, _)) => Ok(outcome),
                Err(EffectError::TimedOut(_)) if step_limited => {
                    let (_, total) = deadline.expect("step_limited implies a deadline");
                    Err(runtime(
                        format!("{what}: timed out (the step's timeout of {} ran out)", duration::short(total)),
                        pos,
                    ))
                }
                Err(EffectError::Cancelled) => Err(EvalAltResult::ErrorTerminated(INTERRUPT_TOKEN.into(), pos).into()),
                Err(e) => Err(runtime(format!("{what}: {e}"), pos)),
            });
        }
        Ok(outcomes)
    }

    /// A plan performs no sleep, so a poll over reads that never change would spin for ever: the plan keeps
    /// the time its sleeps would take and stops the step where the run's timeout would.
    fn advance_plan_clock(&self, effects: &[Effect], pos: Position) -> Result<(), Box<EvalAltResult>> {
        const MAX_PLANNED_EFFECTS: usize = 10_000;
        let mut state = self.state.borrow_mut();
        let Some(frame) = state.step.as_mut() else { return Ok(()) };
        for effect in effects {
            if let Effect::Sleep { duration } = effect {
                frame.planned += *duration;
            }
        }
        let limit = frame.deadline.map(|(_, total)| total).unwrap_or(self.settings.command_timeout);
        if frame.planned > limit {
            let whose = if frame.deadline.is_some() { "the step's timeout" } else { "the per-command timeout" };
            return Err(runtime(
                format!("timed out: its waits add up to more than {whose} of {}", duration::short(limit)),
                pos,
            ));
        }
        if frame.effects.len() >= MAX_PLANNED_EFFECTS {
            return Err(runtime(
                format!("performs more than {MAX_PLANNED_EFFECTS} effects in the plan: a loop that never ends?"),
                pos,
            ));
        }
        Ok(())
    }

    /// Asks a question of the step running now through the answer chain; with nobody to answer it (no
    /// terminal, nothing in the answers file), the run stops and names the question and what may answer it.
    pub fn ask(
        &self,
        question: &str,
        choices: &[&str],
        kind: AskKind,
        pos: Position,
    ) -> Result<Answered, Box<EvalAltResult>> {
        let step = self.state.borrow().step.as_ref().map(|f| f.name.clone()).unwrap_or_default();
        match self.answer_chain(&step, &[question, &step], question, choices, kind, pos)? {
            Some(answered) => Ok(answered),
            None => Err(self.stop(Stop::Failure(Failure::Runbook(unanswered(question, choices, kind))), pos)),
        }
    }

    /// The one answer chain every question goes through: an earlier attempt of a step that completed with
    /// it, then `--answers` (under the first of `keys` it has), then `--yes` (plain confirmations only), then the
    /// terminal -- or, in a plan, the scenario or a stated assumption. The answer is journaled with who gave
    /// it. `None` when nobody can answer (a run without a terminal).
    fn answer_chain(
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
                return Ok(Some(Answered { answer, by: "an earlier attempt".into(), note: None, assumed: false }));
            }
        }
        let given = if self.is_dry() { None } else { self.settings.answers.as_ref().and_then(|a| a.first(keys)) };
        let yes = self.settings.yes && !self.is_dry();
        let answered = if let Some(given) = given {
            let file = self.settings.answers.as_ref().map(|a| a.path.display().to_string()).unwrap_or_default();
            if !choices.is_empty() && !choices.contains(&given.answer.as_str()) {
                return Err(runtime(
                    format!(
                        "{file}: the answer to \"{question}\" is \"{}\", but it must be one of: {}",
                        given.answer,
                        choices.join(", ")
                    ),
                    pos,
                ));
            }
            let by = format!("{} (answers file)", given.by.unwrap_or_else(|| self.settings.identity.clone()));
            Answered { answer: given.answer, by, note: given.note, assumed: false }
        } else if kind == AskKind::Confirm && yes {
            Answered {
                answer: "yes".into(),
                by: format!("{} (--yes)", self.settings.identity),
                note: None,
                assumed: false,
            }
        } else if kind == AskKind::Defaulted && yes {
            let by = format!("{} (--yes, the default)", self.settings.identity);
            Answered { answer: String::new(), by, note: None, assumed: false }
        } else if !self.is_dry() && !self.terminal.is_interactive() {
            return Ok(None);
        } else {
            let prompt = Prompt {
                question: question.into(),
                choices: choices.iter().map(|c| c.to_string()).collect(),
                secret: kind == AskKind::Secret,
            };
            let in_step = self.state.borrow().step.is_some();
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
                    .step
                    .as_ref()
                    .and_then(|f| f.effects.last())
                    .is_some_and(|e| matches!(e.answer, Provenance::Assumed(_)));
            // Plans are the same on every machine: they name no operator.
            let by = if self.is_dry() { "the operator".to_string() } else { self.settings.identity.clone() };
            Answered { answer, by, note: None, assumed }
        };
        let kept = if kind == AskKind::Secret {
            if answered.answer.len() >= crate::secrets::MIN_SECRET_LEN {
                self.terminal.redactor().add(question, &answered.answer);
            }
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
    pub fn remembered(&self, key: &str, compute: impl FnOnce() -> String) -> Result<String, Box<EvalAltResult>> {
        let step = self.state.borrow().step.as_ref().map(|f| f.name.clone()).unwrap_or_default();
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

/// A planned time window, "06:00-12:00" (may cross midnight).
#[derive(Debug)]
struct Window {
    text: String,
    length: Duration,
}

impl Window {
    fn parse(text: &str) -> Result<Window, String> {
        let bad = || format!("`{text}` is not a time window; write it like \"06:00-12:00\"");
        let (from, to) = text.split_once('-').ok_or_else(bad)?;
        let minutes = |t: &str| -> Result<i64, String> {
            let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
            let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
            if !(0..24).contains(&h) || !(0..60).contains(&m) {
                return Err(bad());
            }
            Ok(h * 60 + m)
        };
        // "18:00-18:00" is the runbook's 24-hour monitoring window, not an empty one.
        let span = match (minutes(to)? - minutes(from)?).rem_euclid(24 * 60) {
            0 => 24 * 60,
            span => span,
        };
        Ok(Window { text: text.into(), length: Duration::from_secs(span as u64 * 60) })
    }
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

pub fn to_json(value: &Dynamic) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

pub fn from_json(value: &serde_json::Value) -> Dynamic {
    rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT)
}

#[cfg(test)]
mod tests {
    use super::Window;

    #[test]
    fn windows_parse_and_may_cross_midnight() {
        assert_eq!(Window::parse("06:00-12:00").unwrap().length.as_secs(), 6 * 3600);
        assert_eq!(Window::parse("18:00-18:00").unwrap().length.as_secs(), 24 * 3600);
        assert_eq!(Window::parse("22:00-02:30").unwrap().length.as_secs(), 4 * 3600 + 1800);
        assert!(Window::parse("6am-noon").unwrap_err().contains("06:00-12:00"));
    }
}
