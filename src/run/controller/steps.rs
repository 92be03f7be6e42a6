//! Phases and steps: whether each runs (run, resume, only, plan), its journal lines, retries and readiness
//! polls, required checks, the step in doubt, and the retry / skip / abort question.

use super::*;
use crate::run::schedule::{self, Window};

impl Controller {
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
            if let Some(step) = state.step() {
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
            state.section = options.section.clone();
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
            self.terminal.progress(&self.terminal.paint(&format!("\n{heading}"), Tone::Heading));
            let entry = Entry::PhaseStarted {
                phase: name.into(),
                at: now_stamp(),
                window: options.window.clone(),
                section: options.section.clone(),
                owner: options.owner.clone(),
                budget: options.budget.clone(),
            };
            self.journal(entry, false)?;
        }
        let result = body();
        {
            let mut state = self.state.borrow_mut();
            state.phase = None;
            state.owner = None;
            state.section = None;
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
            self.terminal.progress(&self.terminal.paint(&line, Tone::Dim));
            if let Some(w) = &window {
                let (judged, bad) = w.judge(schedule::minute_of_day(&started_clock), elapsed);
                let line = format!("phase \"{name}\" schedule: {judged}");
                match bad {
                    true => self.terminal.line(&self.terminal.paint(&line, Tone::Bad)),
                    false => self.terminal.progress(&self.terminal.paint(&line, Tone::Good)),
                }
            }
        }
        // The budget the runbook states ("7.1 Quick rollback < 5 min") is a verdict of its own, judged where
        // the phase ends (not when it stopped the run: that is a failure already).
        if let (Some(budget), Ok(_)) = (budget, &result)
            && !self.stopping()
        {
            self.judge_budget(name, options, budget, started_clock.with_timezone(&chrono::Utc), pos)?;
        }
        result
    }

    /// `PHASE: within its BUDGET budget`, a check item: from the phase's first start in this run (resumes
    /// included: a rollback stopped and resumed took the whole time) to its first normal end. A plan cannot
    /// know how long commands take: there the verdict is unknown.
    fn judge_budget(
        &self,
        name: &str,
        options: &PhaseOptions,
        budget: Duration,
        started_now: chrono::DateTime<chrono::Utc>,
        pos: Position,
    ) -> Result<(), Box<EvalAltResult>> {
        let spec = StepSpec {
            kind: ItemKind::Check,
            name: format!("{name}: within its {} budget", options.budget.as_deref().unwrap_or_default()),
            options: StepOptions { section: options.section.clone(), ..StepOptions::default() },
            pos,
            tolerate: false,
        };
        let first = self.prior.borrow().phases.get(name).cloned();
        let parse = |at: &str| chrono::DateTime::parse_from_rfc3339(at).ok().map(|t| t.with_timezone(&chrono::Utc));
        let target = format!("< {}", duration::short(budget));
        let judged = self.step(&spec, &mut || {
            if self.is_dry() {
                let what = format!("clock: how long phase \"{name}\" takes");
                let stated = self.world.planned_phase_seconds(name).map(|seconds| {
                    match self.planned_read(&what, "phase", format!("[[phase]] \"{name}\"")) {
                        Some(operator) => crate::effects::fault::phase_seconds(operator, seconds),
                        None => Some(seconds),
                    }
                });
                if stated.is_none() {
                    self.planned_assumption(&what, "not stated");
                }
                let record = match stated.flatten() {
                    Some(seconds) => {
                        let took = Duration::from_secs_f64(seconds.max(0.0));
                        let actual = format!("takes {} (scenario)", duration::short(took));
                        CheckRecord::new(&spec.name, took <= budget, actual, target.clone())
                    }
                    None => {
                        if let Some(frame) = self.state.borrow_mut().step_mut() {
                            frame.assumed = true;
                        }
                        let actual = "not known before the run (a scenario's [[phase]] states it)".into();
                        CheckRecord::new(&spec.name, false, actual, target.clone())
                    }
                };
                return Ok(StepOutput { value: Dynamic::UNIT, check: Some(record), after: After::GoOn });
            }
            let started = first.as_ref().and_then(|(at, _)| parse(at)).unwrap_or(started_now);
            let ended =
                first.as_ref().and_then(|(_, at)| at.as_deref().and_then(parse)).unwrap_or_else(chrono::Utc::now);
            let took = (ended - started).to_std().unwrap_or_default();
            let resumed = if first.is_some() { " since its first start" } else { "" };
            let actual = format!("took {}{resumed}", duration::short(took));
            let record = CheckRecord::new(&spec.name, took <= budget, actual, target.clone());
            Ok(StepOutput { value: Dynamic::UNIT, check: Some(record), after: After::GoOn })
        });
        judged.map(|_| ())
    }

    // ----- steps -----

    pub fn step(
        &self,
        spec: &StepSpec,
        work: &mut dyn FnMut() -> Result<StepOutput, Box<EvalAltResult>>,
    ) -> Result<Dynamic, Box<EvalAltResult>> {
        self.enter(spec)?;
        if spec.options.required && spec.kind != ItemKind::Check {
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
        let section = spec.options.section.clone().or_else(|| self.state.borrow().section.clone());
        let source_sha256 = self.outline.borrow().step(&spec.name).map(|s| s.source_sha256.clone()).unwrap_or_default();
        let label = format!("{} \"{}\"", spec.kind, spec.name);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.journal(
                Entry::StepStarted {
                    step: spec.name.clone(),
                    kind: spec.kind,
                    phase: phase.clone(),
                    attempt,
                    source_sha256: source_sha256.clone(),
                    at: now_stamp(),
                    section: section.clone(),
                },
                // Not synced on its own: a step that writes syncs its effect line (and this one with it)
                // before the write; one that never writes is run again if this line is lost, harmlessly.
                false,
            )?;
            self.state.borrow_mut().start_step(Frame::new(&spec.name, spec.kind, timeout));
            self.terminal.start_spinner(&label);
            let started = Instant::now();
            let result = work();
            self.terminal.stop_spinner();
            let (flagged, effect_stopped) =
                self.state.borrow_mut().take_step().map(|f| (f.flagged, f.stopped)).unwrap_or_default();
            let elapsed = started.elapsed();
            let duration_ms = elapsed.as_millis() as u64;

            let err = match result {
                Ok(mut output) => {
                    fail_on_flagged_lines(&spec.name, &mut output, &flagged);
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
                    // An item that could not end (no decision applied) is journaled failed: resume asks again.
                    if let After::Unsettled(failure) = output.after {
                        // The journal keeps the reason's first line (its hints are for the terminal).
                        let why = failure.message().lines().next().unwrap_or_default().to_string();
                        self.finished(
                            &spec.name,
                            StepStatus::Failed,
                            duration_ms,
                            serde_json::Value::Null,
                            Some(why),
                            output.check.clone(),
                        )?;
                        let shown = output.check.as_ref().map(evidence).unwrap_or_default();
                        self.report("FAIL", Tone::Bad, &label, &format!("{}{shown}", duration::short(elapsed)));
                        if let Some(check) = output.check {
                            self.weigh(check);
                        }
                        return Err(self.stop(Stop::Failure(failure), spec.pos));
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
                    if let Some(stop) = output.after.ends_run() {
                        return Err(self.stop(Stop::Failure(stop), spec.pos));
                    }
                    return Ok(output.value);
                }
                Err(err) => err,
            };
            if self.stopping() {
                // The step ends with the run: its closing line says why, so resume knows it did not finish
                // (and that its work was stopped before it ended: a write is then in doubt).
                let why = self.stop_message().unwrap_or_else(|| "the run stopped".into());
                let _ = self.finished(
                    &spec.name,
                    StepStatus::Interrupted,
                    duration_ms,
                    serde_json::Value::Null,
                    Some(why),
                    None,
                );
                return Err(err);
            }
            let interrupted = self.interrupts.fired();
            // SIGTERM, SIGHUP or a second Ctrl-C: the effect was stopped; the run ends now, asking nothing.
            if let Some(code) = self.interrupts.aborting() {
                let why = format!("{} \"{}\" was stopped: the run is aborting (exit {code})", spec.kind, spec.name);
                self.finished(
                    &spec.name,
                    StepStatus::Interrupted,
                    duration_ms,
                    serde_json::Value::Null,
                    Some(why.clone()),
                    None,
                )?;
                self.report("INTR", Tone::Bad, &format!("{} \"{}\"", spec.kind, spec.name), &why);
                return Err(self.stop(Stop::Failure(Failure::Interrupted { code, message: why }), spec.pos));
            }
            let message = match terminated_by(&err) {
                Some(DEADLINE_TOKEN) => {
                    format!("timed out after {} (step timeout)", duration::short(timeout.unwrap_or_default()))
                }
                Some(INTERRUPT_TOKEN) => "interrupted by the operator (Ctrl-C)".to_string(),
                _ => crate::diagnostic::one_line(&err),
            };
            // A timeout (the step's or a command's own) stopped its work before it ended, as an interrupt does.
            let timed_out = effect_stopped || terminated_by(&err) == Some(DEADLINE_TOKEN);
            let status = if interrupted || timed_out { StepStatus::Interrupted } else { StepStatus::Failed };
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
            if spec.tolerate && !interrupted {
                // The loop decides (max_fail, canary); the failure stays a verdict the run's end weighs.
                self.weigh(CheckRecord::new(&spec.name, false, message.clone(), "done".into()));
                return Ok(Dynamic::from(crate::modules::run_api::ToleratedFailure));
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
                    let why =
                        format!("{} \"{}\" failed: {}", spec.kind, spec.name, crate::terminal::printable(&message));
                    let failure = if interrupted {
                        Failure::Interrupted { code: self.interrupts.aborting().unwrap_or(130), message: why }
                    } else {
                        Failure::Runbook(why)
                    };
                    return Err(self.stop(Stop::Failure(failure), spec.pos));
                }
            }
        }
    }

    pub(super) fn announce_retry(&self, delay: Duration, attempt: u32, retries: u32) {
        self.terminal.line(&format!(
            "        retrying in {} (attempt {} of {})",
            duration::short(delay),
            attempt + 1,
            retries + 1
        ));
    }

    pub(super) fn stop_message(&self) -> Option<String> {
        match &self.state.borrow().stop {
            Some(Stop::Failure(f)) => Some(f.message().lines().next().unwrap_or_default().to_string()),
            Some(Stop::ScriptError(e)) => Some(crate::diagnostic::one_line(e)),
            None => None,
        }
    }

    /// The step's closing journal line, fsynced: it is what resume trusts.
    pub(super) fn finished(
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

    pub(super) fn enter(&self, spec: &StepSpec) -> Result<(), Box<EvalAltResult>> {
        let mut state = self.state.borrow_mut();
        if let Some(outer) = state.step() {
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

    /// The item runs in this session: every item but those `--only` left out.
    pub(super) fn selects(&self, name: &str) -> bool {
        !matches!(&*self.mode.borrow(), Mode::Only(selected) if !selected.contains(name))
    }

    /// `Some(value)` when the step is not to run now, with the value it yields instead.
    pub(super) fn skip_decision(&self, spec: &StepSpec) -> Result<Option<Dynamic>, Box<EvalAltResult>> {
        let label = format!("{} \"{}\"", spec.kind, spec.name);
        let mode = self.mode.borrow().clone();
        match &mode {
            Mode::Run | Mode::Plan => Ok(None),
            Mode::Only(_) if self.selects(&spec.name) => Ok(None),
            Mode::Only(_) => {
                self.report("skip", Tone::Dim, &label, "not selected");
                let prior = self.prior.borrow();
                Ok(Some(prior.done.get(&spec.name).map(|d| from_json(&d.value)).unwrap_or(Dynamic::UNIT)))
            }
            Mode::Resume => {
                let action = self.prior.borrow().action(&spec.name);
                match action {
                    Action::Run => Ok(None),
                    Action::Settle { wrote, running, ended } => self.settle_in_doubt(spec, wrote, running, &ended),
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
                        // Its value was journaled with masks in place of secrets: they resolve again here.
                        let mut value = done.value.clone();
                        if let Err(name) = unmask_json(self.terminal.redactor(), &mut value) {
                            let why = format!(
                                "{label}'s stored value holds the secret `{name}`, which this run cannot load: set \
                                 {name}, then resume (golive never replays a mask in place of a secret)"
                            );
                            return Err(self.stop(Stop::Failure(Failure::Runbook(why)), spec.pos));
                        }
                        Ok(Some(from_json(&value)))
                    }
                }
            }
        }
    }

    /// A done step's verdicts count again, in script order, as in one uninterrupted run.
    pub(super) fn replay(&self, name: &str, done: &DoneStep) {
        if done.kind == Some(ItemKind::Gate) {
            self.verdicts_weighed(name);
        }
        for verdict in &done.verdicts {
            self.weigh(verdict.clone());
        }
    }

    pub(super) fn settle_in_doubt(
        &self,
        spec: &StepSpec,
        wrote: bool,
        running: Vec<Started>,
        ended: &[String],
    ) -> Result<Option<Dynamic>, Box<EvalAltResult>> {
        let label = format!("{} \"{}\"", spec.kind, spec.name);
        let mut policy = self.settings.in_doubt;
        let mut settled_by_itself = false;
        loop {
            // Before anything may run again: ask each target whether the command is still running there.
            let state = self.look_for_commands(&running);
            let rerunnable = !wrote || spec.options.idempotent;
            if matches!(state, Whereabouts::Gone | Whereabouts::NotRecorded) && rerunnable {
                let why = if wrote { "it is idempotent" } else { "it made no writes" };
                self.terminal.line(&format!("        {label} was in doubt; re-running it because {why}"));
                return Ok(None);
            }
            // Never beside its earlier attempt: a read is stopped, an idempotent write is waited for.
            if matches!(state, Whereabouts::Running(_)) && rerunnable && !settled_by_itself {
                settled_by_itself = true;
                if wrote {
                    self.wait_for_commands(spec, &running);
                } else {
                    self.stop_commands(spec, &running)?;
                }
                continue;
            }
            let choices: &[InDoubtChoice] = match state {
                Whereabouts::Running(_) => {
                    &[InDoubtChoice::Wait, InDoubtChoice::Stop, InDoubtChoice::MarkDone, InDoubtChoice::Abort]
                }
                Whereabouts::Unknown(_) => &[InDoubtChoice::MarkDone, InDoubtChoice::Abort],
                Whereabouts::Gone | Whereabouts::NotRecorded => {
                    &[InDoubtChoice::Rerun, InDoubtChoice::MarkDone, InDoubtChoice::Abort]
                }
            };
            let words: Vec<&str> = choices.iter().map(|c| c.word()).collect();
            // What the journal holds is stated as fact; only what it does not hold is asked of the targets.
            let journaled: String =
                ended.iter().map(|e| format!("\n  Ended (journaled): {}", crate::terminal::printable(e))).collect();
            let facts = format!("{journaled}{}", state.describe());
            let question = format!(
                "{label} started but never finished, and it may have changed things.{facts}\n  {}?",
                match state {
                    Whereabouts::Running(_) => "Wait for it, stop it, mark it done, or abort",
                    Whereabouts::Unknown(_) => "Mark it done, or abort",
                    _ => "Re-run it, mark it done, or abort",
                }
            );
            // --in-doubt, else the answer chain (the answers file by this question or the step's name, the terminal).
            let chosen = match policy.choice() {
                None => {
                    let key = format!("in doubt: {}", spec.name);
                    self.answer_chain(&spec.name, &[&question, &key], &question, &words, AskKind::Choice, spec.pos)?
                        .and_then(|a| InDoubtChoice::from_word(&a.answer))
                }
                given => given,
            };
            policy = InDoubtPolicy::Ask;
            match chosen {
                Some(choice) if !choices.contains(&choice) => {
                    let why = format!(
                        "{label} is in doubt and `{}` cannot settle it now:{facts}\n  \
                         hint: resume with one of: {}",
                        choice.word(),
                        choices.iter().map(|c| format!("--in-doubt {}", c.flag())).collect::<Vec<_>>().join(", ")
                    );
                    return Err(self.stop(Stop::Failure(Failure::Runbook(why)), spec.pos));
                }
                Some(InDoubtChoice::Wait) => self.wait_for_commands(spec, &running),
                Some(InDoubtChoice::Stop) => self.stop_commands(spec, &running)?,
                Some(InDoubtChoice::Rerun) => {
                    self.terminal.line(&format!("        {label} was in doubt; re-running it as the operator chose"));
                    return Ok(None);
                }
                Some(InDoubtChoice::MarkDone) => {
                    self.finished(
                        &spec.name,
                        StepStatus::Done,
                        0,
                        serde_json::Value::Null,
                        Some(format!("marked done by {} after the run died in it", self.settings.identity)),
                        None,
                    )?;
                    self.report("skip", Tone::Dim, &label, "in doubt; marked done by the operator");
                    return Ok(Some(Dynamic::UNIT));
                }
                Some(InDoubtChoice::Abort) | None => {
                    let how = match state {
                        Whereabouts::NotRecorded if !ended.is_empty() => {
                            "Its commands ended as the journal holds; check what the rest of the step did".to_string()
                        }
                        Whereabouts::NotRecorded => "Check by hand whether it took effect".to_string(),
                        _ => "Check what it did".to_string(),
                    };
                    let why = format!(
                        "{label} is in doubt: the run died while it was running, after it started changing things.{facts}\n  \
                         {how}, then resume with {}{}",
                        choices
                            .iter()
                            .filter(|c| **c != InDoubtChoice::Abort)
                            .map(|c| format!("`--in-doubt {}`", c.flag()))
                            .collect::<Vec<_>>()
                            .join(" or "),
                        self.others_in_doubt(&spec.name)
                    );
                    return Err(self.stop(Stop::Failure(Failure::Runbook(why)), spec.pos));
                }
            }
        }
    }

    /// The other steps in doubt this resume has not reached yet, named, and how each is settled on its own: `--in-doubt`
    /// applies to every one of them.
    fn others_in_doubt(&self, step: &str) -> String {
        let prior = self.prior.borrow();
        // Those this resume has reached are settled, or being settled beside this one (items run together).
        let reached = &self.state.borrow().seen;
        let others: Vec<String> = prior
            .in_doubt
            .iter()
            .filter(|d| d.step != step && !reached.contains(&d.step))
            .map(|d| format!("step \"{}\"", d.step))
            .collect();
        if others.is_empty() {
            return String::new();
        }
        format!(
            "\n  also in doubt: {} (`--in-doubt` settles every one of them alike; an answers file settles each by \
             its name: \"in doubt: {step}\" = {{ answer = \"done\", by = \"...\" }})",
            others.join(", ")
        )
    }

    /// Asks each target whether the in-doubt step's commands still run there.
    fn look_for_commands(&self, running: &[Started]) -> Whereabouts {
        if running.is_empty() {
            return Whereabouts::NotRecorded;
        }
        let mut alive = Vec::new();
        let mut unknown = Vec::new();
        for command in running {
            let look = Effect::Group(Group {
                target: command.target.clone(),
                process_group: command.process_group,
                stop: false,
            });
            let budget = Budget::new(Some(Duration::from_secs(30)), CancellationToken::new());
            match self.world.perform(&look, &budget) {
                Ok((Outcome::Members(members), _)) if members.is_empty() => {}
                Ok((Outcome::Members(members), _)) => alive.push((command.clone(), members)),
                Ok((other, _)) => unknown.push((command.clone(), format!("unexpected answer {other:?}"))),
                Err(e) => unknown.push((command.clone(), e.to_string())),
            }
        }
        if !unknown.is_empty() {
            Whereabouts::Unknown(unknown)
        } else if !alive.is_empty() {
            Whereabouts::Running(alive)
        } else {
            Whereabouts::Gone
        }
    }

    /// Waits until none of the step's commands runs any more (Ctrl-C stops waiting and asks again).
    fn wait_for_commands(&self, spec: &StepSpec, running: &[Started]) {
        self.terminal.line(&format!(
            "        waiting for {} \"{}\" to end where it runs (Ctrl-C stops waiting)",
            spec.kind, spec.name
        ));
        let cancel = self.interrupts.token();
        let started = Instant::now();
        loop {
            match self.look_for_commands(running) {
                Whereabouts::Running(_) => {}
                Whereabouts::Gone => {
                    let detail = format!(
                        "ended where it ran while resume waited ({}); its exit status was not seen",
                        duration::short(started.elapsed())
                    );
                    let entry = Entry::EffectFinished {
                        step: spec.name.clone(),
                        ok: true,
                        detail: detail.clone(),
                        duration_ms: started.elapsed().as_millis() as u64,
                    };
                    if self.journal(entry, true).is_ok() {
                        self.terminal.line(&format!("        {detail}"));
                    }
                    return;
                }
                // Unknown: the next question says so.
                _ => return,
            }
            let pause = Budget::new(None, cancel.clone());
            if self.world.perform(&Effect::Sleep { duration: Duration::from_secs(1) }, &pause).is_err() {
                self.interrupts.settle();
                return;
            }
        }
    }

    /// Stops the step's commands where they still run (TERM, then KILL), journaled as a write.
    fn stop_commands(&self, spec: &StepSpec, running: &[Started]) -> Result<(), Box<EvalAltResult>> {
        let mut hows = Vec::new();
        for command in running {
            let effect = Effect::Group(Group {
                target: command.target.clone(),
                process_group: command.process_group,
                stop: true,
            });
            let entry = Entry::Effect {
                step: spec.name.clone(),
                kind: effect.kind().into(),
                access: Access::Write,
                what: effect.describe(),
                at: now_stamp(),
            };
            self.journal(entry, true)?;
            let budget = Budget::new(Some(Duration::from_secs(30)), CancellationToken::new());
            let how = match self.world.perform(&effect, &budget) {
                Ok((Outcome::Stopped(stopped), _)) => stopped.describe(&command.target, command.process_group),
                Ok((other, _)) => format!("unexpected answer {other:?}"),
                Err(e) => format!("NOT confirmed stopped on `{}`: {e}", command.target),
            };
            self.terminal.line(&format!("        {how}"));
            hows.push(how);
        }
        let entry =
            Entry::EffectFinished { step: spec.name.clone(), ok: true, detail: hows.join("; "), duration_ms: 0 };
        self.journal(entry, true)
    }

    /// A step in a plan: its effects are recorded, its verdict is what the scenario's answers give, and
    /// unknown when any read it used was assumed.
    pub(super) fn plan_step(
        &self,
        spec: &StepSpec,
        timeout: Option<Duration>,
        work: &mut dyn FnMut() -> Result<StepOutput, Box<EvalAltResult>>,
    ) -> Result<Dynamic, Box<EvalAltResult>> {
        // What this step waits on is what came before it: not what it says of itself.
        let conditional_on = self.plan_condition().map(|c| c.0);
        let mut frame = Frame::new(&spec.name, spec.kind, timeout);
        // A value that rested on assumed reads makes whatever is computed from it rest on them too.
        let rests_on = self.rests_on_assumed_value(&spec.name);
        frame.assumed = rests_on.is_some();
        self.state.borrow_mut().start_step(frame);
        let result = work();
        let mut frame = self.state.borrow_mut().take_step().expect("the plan step's frame");
        // A check cannot pass on a write the plan did not perform (its "accepted" is the plan's own word),
        // nor be judged on such a write's answer (a webhook's response): unknown, as on an assumed read. A
        // check that fails beside a write whose answer it does not judge (a log line appended) stands.
        let passed = matches!(&result, Ok(o) if o.check.as_ref().is_some_and(|c| c.ok));
        if spec.kind == ItemKind::Check && (frame.unperformed_answer || (frame.unperformed_write && passed)) {
            frame.assumed = true;
        }
        // A step that performed nothing but was given a secret's placeholder computed on the placeholder
        // (`secret("KEY").starts_with("sk_live_")`): a plan does not know what the secret holds. One that
        // sent it in an effect used it to authenticate: its verdict rests on the effect's answer.
        frame.secret_placeholders.extend(self.secret_placeholders_read(&spec.name));
        let on_placeholder = frame.effects.is_empty() && !frame.secret_placeholders.is_empty();
        let rests_on = match (rests_on, on_placeholder) {
            (None, true) => {
                let names: Vec<String> = frame.secret_placeholders.iter().map(|n| format!("`{n}`")).collect();
                frame.assumed = true;
                Some(format!(
                    " (computed on the placeholder of secret {}: a plan does not know its value)",
                    names.join(", ")
                ))
            }
            (rests_on, _) => rests_on
                .map(|(value, origin)| format!(" (reads `{value}`, which rests on step \"{origin}\"'s assumed reads)")),
        };
        if frame.assumed {
            self.value_rests_on_assumed_reads(&spec.name);
        }
        let rests_on = rests_on.unwrap_or_default();
        let redact = |s: String| self.terminal.redactor().redact(&s).into_owned();
        let (result_text, outcome) = match result {
            Ok(mut output) => {
                fail_on_flagged_lines(&spec.name, &mut output, &frame.flagged);
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
                    Some(c) => format!("{}{}{rests_on}", c.mark(), evidence(c)),
                    // Command results are already listed as effects: only plain values are worth showing.
                    None if output.value.is_unit() || output.value.is_map() => format!("done{assumed}"),
                    None => format!("done{assumed} -> {}", redact(to_json(&output.value).to_string())),
                };
                let failed = output.check.as_ref().filter(|c| !c.ok).cloned();
                if let Some(check) = output.check.clone() {
                    self.weigh(check);
                }
                let stop = match (failed, output.after.ends_run()) {
                    (Some(check), _) if spec.options.required => {
                        let failure = if check.unknown {
                            Failure::Unknown(format!(
                                "required check \"{}\" rests on assumed reads{}",
                                spec.name,
                                evidence(&check)
                            ))
                        } else {
                            Failure::Runbook(format!(
                                "required check \"{}\" failed{}; nothing after it runs",
                                spec.name,
                                evidence(&check)
                            ))
                        };
                        self.stop_unless_unknown(failure, &format!("required check \"{}\" passes", spec.name), spec.pos)
                    }
                    (_, Some(stop)) => self.stop_unless_unknown(
                        stop,
                        &format!("{} \"{}\" lets the run go on", spec.kind, spec.name),
                        spec.pos,
                    ),
                    _ => None,
                };
                (text, stop.map_or(Ok(output.value), Err))
            }
            Err(err) if self.stopping() => ("stops the run".to_string(), Err(err)),
            Err(err) if crate::engine::diagnostics::is_script_mistake(&err) && self.plan_condition().is_none() => {
                ("script error".to_string(), Err(self.stop(Stop::ScriptError(err), spec.pos)))
            }
            Err(err) if crate::engine::diagnostics::is_script_mistake(&err) => {
                // Past an unknown the plan works on values no read gave (a step that failed on assumed reads
                // gave unit): what cannot be evaluated is unknown, and the plan goes on.
                let message = crate::diagnostic::one_line(&err);
                let mut check = CheckRecord::new(&spec.name, false, format!("not evaluated: {message}"), String::new());
                check.unknown = true;
                if spec.kind.gives_verdict() {
                    self.weigh(check);
                }
                (format!("UNKNOWN: not evaluated past the unknown: {}", redact(message)), Ok(Dynamic::UNIT))
            }
            Err(err) if spec.tolerate => {
                // As in a run: the loop goes on (max_fail, canary) and the failure is a verdict at the end.
                let message = crate::diagnostic::one_line(&err);
                let shown = if frame.assumed { "FAILS on assumed reads" } else { "FAILS" };
                let mut check = CheckRecord::new(&spec.name, false, message.clone(), "done".into());
                check.unknown = frame.assumed;
                self.weigh(check);
                (format!("{shown}: {}", redact(message)), Ok(Dynamic::from(crate::modules::run_api::ToleratedFailure)))
            }
            Err(err) => {
                let message = crate::diagnostic::one_line(&err);
                let why = format!("{} \"{}\" failed: {}", spec.kind, spec.name, crate::terminal::printable(&message));
                // A failure that follows from an assumption is not a prediction: the plan goes on as if the
                // step succeeded, its value unknown (unit).
                let failure = if frame.assumed { Failure::Unknown(why) } else { Failure::Runbook(why) };
                let shown = if frame.assumed { "FAILS on assumed reads" } else { "FAILS" };
                let condition = format!("{} \"{}\" succeeds", spec.kind, spec.name);
                let outcome = match self.stop_unless_unknown(failure, &condition, spec.pos) {
                    Some(stop) => Err(stop),
                    None => Ok(Dynamic::UNIT),
                };
                (format!("{shown}: {}", redact(message)), outcome)
            }
        };
        let (line, survives) = {
            let outline = self.outline.borrow();
            let step = outline.step(&spec.name);
            // An item golive makes (a phase's budget) is where the script asks for it.
            let line = step.map_or(spec.pos.line().unwrap_or(0), |s| s.line);
            (line, step.and_then(|s| s.survives.clone()))
        };
        self.plan.borrow_mut().items.push(PlanItem::Step {
            kind: spec.kind,
            name: spec.name.clone(),
            effects: frame.effects,
            result: result_text,
            conditional_on,
            line,
            survives,
            verdict_failed: frame.verdict_failed,
        });
        outcome
    }

    /// Retry, skip or abort, through the answer chain (the file's key: "on failure: STEP"). An answers
    /// file may skip or abort, not retry: a
    /// bounded retry is the step's `retries` option, and a file that said "retry" would loop for ever.
    pub(super) fn after_failure(
        &self,
        spec: &StepSpec,
        interrupted: bool,
        message: &str,
    ) -> Result<Choice, Box<EvalAltResult>> {
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

    /// A step's closing line; with `-q` only those that went wrong.
    pub(super) fn report(&self, mark: &str, tone: Tone, label: &str, detail: &str) {
        let bad = matches!(tone, Tone::Bad);
        let mark = self.terminal.paint(&format!("{mark:<4}"), tone);
        let line = format!("  {mark}  {label}  {}", self.terminal.paint(detail, Tone::Dim));
        match bad {
            true => self.terminal.line(&line),
            false => self.terminal.progress(&line),
        }
    }

    /// Who owns the failing step's phase, and how to reach them (golive.toml [[team]]).
    pub(super) fn call_the_owner(&self) {
        let Some(owner) = self.state.borrow().owner.clone() else { return };
        let team = crate::config::members_for(&self.settings.team, &owner);
        for member in team {
            self.terminal.line(&format!("        call {}: {} {}", member.role, member.name, member.phone));
        }
    }

    /// A verdict recorded inside a step besides the step's own (a checklist item): weighed by gates, and
    /// journaled so that resume restores it with the step.
    /// In a plan: a read the controller answers itself (a journal's, a phase's time), shown beside the
    /// step's effects as a scenario answered it; gives the fault that turns it under `golive test --faults`.
    pub(super) fn planned_read(
        &self,
        what: &str,
        kind: &'static str,
        rule: String,
    ) -> Option<crate::effects::fault::Operator> {
        let mut state = self.state.borrow_mut();
        let frame = state.step_mut()?;
        let fault = self.world.fault_for(what, Some(&frame.name));
        let answer = match fault {
            Some(operator) => Provenance::Scenario(format!("{rule}, turned into {}", operator.describe())),
            None => Provenance::Scenario(rule),
        };
        frame.effects.push(PlannedEffect { access: Access::Read, what: what.into(), answer, fault_kind: Some(kind) });
        fault
    }

    /// In a plan: such a read that nothing answered (the step's verdict is then unknown).
    pub(super) fn planned_assumption(&self, what: &str, assumed: &str) {
        if let Some(frame) = self.state.borrow_mut().step_mut() {
            frame.assumed = true;
            let answer = Provenance::Assumed(assumed.into());
            frame.effects.push(PlannedEffect { access: Access::Read, what: what.into(), answer, fault_kind: None });
        }
    }

    pub fn record_verdict(&self, mut check: CheckRecord) -> Result<(), Box<EvalAltResult>> {
        let (step, assumed) = self.state.borrow().step().map(|f| (f.name.clone(), f.assumed)).unwrap_or_default();
        // In a plan, a verdict beside the step's own (a checklist item) that rests on an assumed read (an
        // answer nobody gave) is unknown, as the step's own would be: never a pass on nothing.
        check.unknown |= self.is_dry() && assumed;
        if let Some(frame) = self.state.borrow_mut().step_mut() {
            frame.verdict_failed |= !check.ok || check.unknown;
        }
        if !self.is_dry() {
            self.journal(Entry::Verdict { step, check: check.clone() }, false)?;
        }
        self.weigh(check);
        Ok(())
    }

    pub(super) fn weigh(&self, check: CheckRecord) {
        self.verdicts.borrow_mut().weigh(check);
    }

    /// The gate `name` has weighed every verdict so far.
    pub fn verdicts_weighed(&self, gate: &str) {
        self.verdicts.borrow_mut().weighed_by(gate);
    }

    /// How the script's end is judged, by a run and its plan alike (see `Verdicts::at_end`).
    pub fn verdict_at_end(&self) -> Result<(), Failure> {
        self.verdicts.borrow().at_end()
    }

    pub(super) fn pause(&self, delay: Duration) {
        let cancel = self.interrupts.token();
        let deadline = Instant::now() + delay;
        while Instant::now() < deadline && !cancel.is_cancelled() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Lines a step's streamed commands flagged (error patterns in a log it watched) fail its verdict, with the
/// lines as evidence: a step gets a failed verdict of its own, a check's verdict fails.
fn fail_on_flagged_lines(step: &str, output: &mut StepOutput, flagged: &[String]) {
    if flagged.is_empty() {
        return;
    }
    let shown: Vec<&str> = flagged.iter().take(3).map(String::as_str).collect();
    let more = if flagged.len() > 3 { format!(" and {} more", flagged.len() - 3) } else { String::new() };
    let evidence = format!("{} flagged line(s): {}{more}", flagged.len(), shown.join(" | "));
    match output.check.as_mut() {
        Some(check) => {
            check.ok = false;
            check.actual = format!("{}; {evidence}", check.actual);
            // The script reads the same verdict the board shows.
            if let Some(mut map) = output.value.clone().try_cast::<rhai::Map>() {
                map.insert("ok".into(), false.into());
                map.insert("actual".into(), check.actual.clone().into());
                output.value = Dynamic::from_map(map);
            }
        }
        None => {
            output.check =
                Some(CheckRecord::new(step, false, evidence, "no line matching the watched error patterns".into()))
        }
    }
}

/// Puts secrets back in place of their masks, in every string of a stored value; the first unknown name.
fn unmask_json(redactor: &crate::secrets::Redactor, value: &mut serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    match value {
        Value::String(text) if text.contains("<secret:") => *text = redactor.unmask(text)?,
        Value::Array(items) => items.iter_mut().try_for_each(|v| unmask_json(redactor, v))?,
        Value::Object(fields) => fields.values_mut().try_for_each(|v| unmask_json(redactor, v))?,
        _ => {}
    }
    Ok(())
}

/// Where an in-doubt step's commands are, as the targets answered.
enum Whereabouts {
    /// The journal names no command of it (a run killed before its command reported where it ran).
    NotRecorded,
    /// Every command it started has ended.
    Gone,
    /// Some still run: each with its live processes.
    Running(Vec<(Started, Vec<String>)>),
    /// A target could not be asked.
    Unknown(Vec<(Started, String)>),
}

impl Whereabouts {
    /// Lines for the question, one per target, each starting on a new line.
    fn describe(&self) -> String {
        match self {
            Whereabouts::NotRecorded => String::new(),
            Whereabouts::Gone => {
                "\n  Its commands without a journaled end are no longer running (each ended, or was stopped; golive \
                 did not see how)."
                    .to_string()
            }
            Whereabouts::Running(alive) => alive
                .iter()
                .map(|(c, members)| {
                    format!(
                        "\n  STILL RUNNING on `{}` (process group {}): {}",
                        c.target,
                        c.process_group,
                        crate::terminal::printable(&members.join("; "))
                    )
                })
                .collect(),
            Whereabouts::Unknown(unknown) => unknown
                .iter()
                .map(|(c, e)| {
                    format!(
                        "\n  Cannot tell whether it still runs on `{}` (process group {}): {}",
                        c.target,
                        c.process_group,
                        crate::terminal::printable(e)
                    )
                })
                .collect(),
        }
    }
}
