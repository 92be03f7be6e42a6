//! Effects for the step running now: journaled before they happen, bounded by the step's timeout, answered
//! by the World (a plan marks the step when a read was assumed, and keeps a clock for its sleeps).

use super::*;

impl Controller {
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
        let (step, deadline) = match self.state.borrow().step() {
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
            // No write to a target another run holds: its lock is this run's before the first write there.
            for target in effects.iter().filter_map(Effect::written_target) {
                self.lock_for_write(target, pos)?;
            }
            // One sync for a fan-out's lines, after the last write's: every write's line is on disk before
            // any of them runs.
            let last_write = effects.iter().rposition(|e| e.access() == Access::Write);
            for (n, (effect, what)) in effects.iter().zip(&whats).enumerate() {
                let access = effect.access();
                let entry = Entry::Effect {
                    step: step.clone(),
                    kind: effect.kind().into(),
                    access,
                    what: what.clone(),
                    at: now_stamp(),
                };
                // A write's line is on disk before the write happens: after a power cut the step is in
                // doubt rather than re-run without asking (about 0.1-0.2 ms a write).
                self.journal(entry, Some(n) == last_write)?;
                if access == Access::Write
                    && let Some(frame) = self.state.borrow_mut().step_mut()
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
        // Where each command runs is journaled the moment it is known, and a remote write starts only once its
        // line is durable (`Budget::durable`: the commands of a fan-out share one sync). A local command dies
        // with this machine, so after a power cut there is nothing to look for: its line is not synced by
        // itself (a killed golive's lines are in the page cache all the same).
        let journal_failed = std::cell::Cell::new(None);
        let record_started = |started: Started| {
            let entry = Entry::EffectRunning {
                step: step.clone(),
                target: started.target,
                process_group: started.process_group,
                at: now_stamp(),
            };
            match self.journal(entry, false) {
                Ok(()) => Some(self.journal_lines()),
                Err(e) => {
                    journal_failed.set(Some(e));
                    None
                }
            }
        };
        let sync_upto = |line: u64| match self.journal_sync_upto(line) {
            Ok(()) => true,
            Err(e) => {
                journal_failed.set(Some(e));
                false
            }
        };
        let started_log = StartedLog { record: &record_started, sync_upto: &sync_upto };
        // A streamed command's lines reach the operator as they arrive, each masked and made printable by
        // the terminal; lines matching its patterns are flagged with their names.
        let flags = match effects.as_slice() {
            [Effect::Exec(exec)] => exec.stream.clone(),
            _ => None,
        };
        let hits_of = |line: &str| -> Vec<String> {
            flags.iter().flatten().filter(|(_, re)| re.is_match(line)).map(|(name, _)| name.clone()).collect()
        };
        // Flagged lines are evidence: the step's verdict fails with them (every line, as it arrives; a
        // plan's answer is scanned whole below).
        let flagged_lines = RefCell::new(Vec::new());
        let show_line = |line: &str| {
            let hits = hits_of(line);
            if hits.is_empty() {
                self.terminal.line(&format!("  | {line}"));
            } else {
                let flagged = format!("  ! {line}    <- FLAGGED: {}", hits.join(", "));
                self.terminal.line(&self.terminal.paint(&flagged, Tone::Bad));
                flagged_lines.borrow_mut().push(format!("{line} ({})", hits.join(", ")));
            }
        };
        // `-v`: each command before it runs, its output as it arrives, and how it ended.
        let verbose = self.terminal.verbosity() == Verbosity::Verbose && !self.is_dry();
        if verbose {
            for what in &whats {
                self.terminal.line(&format!("  $ {what}"));
            }
        }
        let budget = Budget {
            timeout,
            cancel: self.interrupts.token(),
            started: if self.is_dry() { None } else { Some(&started_log) },
            lines: if (flags.is_some() || verbose) && !self.is_dry() { Some(&show_line) } else { None },
            item: Some(&step),
        };
        let started = Instant::now();
        let results = if effects.len() == 1 {
            vec![self.world.perform(&effects[0], &budget)]
        } else {
            self.world.perform_all(&effects, &budget)
        };
        if let Some(failed) = journal_failed.take() {
            return Err(failed);
        }
        let mut flagged = flagged_lines.into_inner();
        if self.is_dry()
            && flags.is_some()
            && let Some(Ok((Outcome::Exec(out), _))) = results.first()
        {
            for line in out.stdout.lines() {
                let hits = hits_of(line);
                if !hits.is_empty() {
                    flagged.push(format!("{line} ({})", hits.join(", ")));
                }
            }
        }
        let stopped = results
            .iter()
            .any(|r| matches!(r, Err(e) if matches!(e.cause(), EffectError::TimedOut(_) | EffectError::Cancelled)));
        if let Some(frame) = self.state.borrow_mut().step_mut() {
            frame.flagged.extend(flagged.into_iter().map(|l| self.terminal.redactor().redact(&l).into_owned()));
            frame.stopped |= stopped;
        }
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let mut outcomes = Vec::with_capacity(results.len());
        for ((effect, what), result) in effects.iter().zip(whats).zip(results) {
            if self.is_dry() {
                if let Some(frame) = self.state.borrow_mut().step_mut() {
                    let answer = match &result {
                        Ok((_, provenance)) => provenance.clone(),
                        Err(e) => Provenance::Assumed(format!("error: {e}")),
                    };
                    if matches!(result, Ok((_, Provenance::Assumed(_)))) {
                        frame.assumed = true;
                    }
                    // A write the plan did not perform: its "accepted" is the plan's own word (weighed
                    // when the step ends, `Controller::plan_step`).
                    if effect.access() == Access::Write && matches!(result, Ok((_, Provenance::Recorded))) {
                        frame.unperformed_write = true;
                        frame.unperformed_answer |= matches!(effect, Effect::Http(_));
                    }
                    frame.effects.push(PlannedEffect {
                        access: effect.access(),
                        what: what.clone(),
                        answer,
                        fault_kind: crate::effects::fault::kind(effect),
                    });
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
                    Ok((Outcome::Browser(b), _)) => b.summary(),
                    Ok((Outcome::Members(m), _)) if m.is_empty() => "gone".into(),
                    Ok((Outcome::Members(m), _)) => format!("running: {}", m.join("; ")),
                    Ok((Outcome::Stopped(s), _)) => format!("{s:?}"),
                    Err(e) => e.to_string(),
                };
                // Each host of a fan-out took its own time; only effects that do not report one get the total.
                let duration_ms = match &result {
                    Ok((Outcome::Exec(out), _)) => out.duration_ms,
                    _ => elapsed_ms,
                };
                if verbose {
                    let took = duration::short(Duration::from_millis(duration_ms));
                    self.terminal.line(&format!("  = {} ({took})", detail.trim_end()));
                }
                let entry = Entry::EffectFinished {
                    step: step.clone(),
                    ok: result.is_ok(),
                    detail: redact(detail),
                    duration_ms,
                };
                self.journal(entry, false)?;
            }
            outcomes.push(match result {
                Ok((outcome, _)) => Ok(outcome),
                Err(e) if step_limited && matches!(e.cause(), EffectError::TimedOut(_)) => {
                    let (_, total) = deadline.expect("step_limited implies a deadline");
                    let stopped = match &e {
                        EffectError::Stopped { how, .. } => format!("; {how}"),
                        _ => String::new(),
                    };
                    Err(runtime(
                        format!(
                            "{what}: timed out (the step's timeout of {} ran out){stopped}",
                            duration::short(total)
                        ),
                        pos,
                    ))
                }
                Err(e) if matches!(e.cause(), EffectError::Cancelled) => {
                    Err(EvalAltResult::ErrorTerminated(INTERRUPT_TOKEN.into(), pos).into())
                }
                Err(e) => Err(runtime(format!("{what}: {e}"), pos)),
            });
        }
        Ok(outcomes)
    }

    /// A plan performs no sleep, so a poll over reads that never change would spin for ever: the plan keeps
    /// the time its sleeps would take and stops the step where the run's timeout would.
    pub(super) fn advance_plan_clock(&self, effects: &[Effect], pos: Position) -> Result<(), Box<EvalAltResult>> {
        const MAX_PLANNED_EFFECTS: usize = 10_000;
        let mut state = self.state.borrow_mut();
        let Some(frame) = state.step_mut() else { return Ok(()) };
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
}
