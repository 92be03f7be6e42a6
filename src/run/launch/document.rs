//! The report as blocks, in the runbook document's order: what goes in each section is decided here once,
//! and Markdown and HTML only lay the blocks out.

use std::path::Path;
use std::time::Duration;

use super::{Command, DecisionRecord, Launch, RunRecord, State, StepRecord, timeline};
use crate::lifecycle::ItemKind;
use crate::run::schedule::{Window, minute_of_day};

#[derive(Debug, Clone)]
pub enum Block {
    /// A numbered section of the runbook (level 1 starts a new page in print).
    Section {
        number: String,
        title: String,
        level: usize,
    },
    Para(String),
    /// Something the reader must not miss (a failure, a retry, an interruption).
    Warning(String),
    Table {
        class: &'static str,
        header: Vec<&'static str>,
        rows: Vec<Row>,
    },
    Svg(String),
    Decision(DecisionRecord),
}

#[derive(Debug, Clone)]
pub struct Item {
    pub run_id: String,
    pub name: String,
    pub state: State,
}

#[derive(Debug, Clone, Default)]
pub struct Row {
    pub cells: Vec<String>,
    /// An item row: its run, name and state, for the ticked box (and for tools reading the HTML).
    pub item: Option<Item>,
    /// Lines under the row: its commands, checklist items, the watch's transitions.
    pub details: Vec<String>,
}

fn short(ms: u64) -> String {
    crate::duration::short(Duration::from_millis(ms))
}

fn clock(at: &str) -> String {
    super::parse_time(at).map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| at.to_string())
}

fn stem(script: &str) -> String {
    Path::new(script).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Builds the report.
pub fn build(launch: &Launch) -> Vec<Block> {
    let mut blocks = Vec::new();
    blocks.push(Block::Para(format!(
        "Launch record as of {}, from {} run(s).",
        clock(&launch.as_of),
        launch.runs.len()
    )));
    blocks.push(runs_table(launch));
    for warning in attention(launch) {
        blocks.push(Block::Warning(warning));
    }
    let placed_here = |number: &str| -> Vec<(&RunRecord, &StepRecord)> {
        launch.steps().filter(|(_, s)| s.section.as_deref() == Some(number)).collect()
    };
    let known: Vec<&str> = launch.headings.iter().map(|h| h.number.as_str()).collect();
    if launch.settings.schedule_section.as_deref().is_none_or(|s| !known.contains(&s)) {
        schedule(launch, &mut blocks);
    }
    for heading in &launch.headings {
        let number = heading.number.as_str();
        blocks.push(Block::Section { number: number.into(), title: heading.title.clone(), level: heading.level() });
        let mut filled = false;
        if launch.settings.schedule_section.as_deref() == Some(number) {
            schedule(launch, &mut blocks);
            filled = true;
        }
        if launch.settings.team_section.as_deref() == Some(number) && !launch.team.is_empty() {
            let rows = launch
                .team
                .iter()
                .map(|m| Row {
                    cells: vec![m.role.clone(), m.name.clone(), m.phone.clone(), m.duty.clone()],
                    ..Row::default()
                })
                .collect();
            blocks.push(Block::Table { class: "team", header: vec!["Role", "Person", "Contact", "Duty"], rows });
            filled = true;
        }
        if launch.settings.contacts_section.as_deref() == Some(number) && !launch.contacts.is_empty() {
            let rows = launch
                .contacts
                .iter()
                .map(|c| Row {
                    cells: vec![c.service.clone(), c.contact.clone(), c.sla.clone(), c.escalation.clone()],
                    ..Row::default()
                })
                .collect();
            blocks.push(Block::Table {
                class: "contacts",
                header: vec!["Service", "Contact", "SLA", "Escalation"],
                rows,
            });
            filled = true;
        }
        let items = placed_here(number);
        if !items.is_empty() {
            blocks.push(items_table(&items));
            filled = true;
        }
        for decision in launch.decisions().filter(|d| d.section.as_deref() == Some(number)) {
            blocks.push(Block::Decision(decision.clone()));
            filled = true;
        }
        let has_children = launch.headings.iter().any(|h| h.level() > heading.level() && h.chapter() == number);
        if !filled && !has_children {
            blocks.push(Block::Para("Not filled in by the runs of this record.".into()));
        }
    }
    // Items whose section is not one of the document's (or that name none): never dropped.
    let others: Vec<(&RunRecord, &StepRecord)> =
        launch.steps().filter(|(_, s)| s.section.as_deref().is_none_or(|n| !known.contains(&n))).collect();
    let undecided: Vec<&DecisionRecord> =
        launch.decisions().filter(|d| d.section.as_deref().is_none_or(|n| !known.contains(&n))).collect();
    if !others.is_empty() || !undecided.is_empty() {
        let title = if launch.headings.is_empty() { "Steps" } else { "Not in the runbook's sections" };
        blocks.push(Block::Section { number: String::new(), title: title.into(), level: 1 });
        let mut phases: Vec<(String, Option<String>)> = Vec::new();
        for (run, step) in &others {
            let key = (run.summary.run_id.clone(), step.phase.clone());
            if !phases.contains(&key) {
                phases.push(key);
            }
        }
        for (run_id, phase) in phases {
            let items: Vec<(&RunRecord, &StepRecord)> =
                others.iter().filter(|(r, s)| r.summary.run_id == run_id && s.phase == phase).copied().collect();
            let script = items.first().map(|(r, _)| stem(&r.summary.script)).unwrap_or_default();
            let title = format!("{script}: {}", phase.as_deref().unwrap_or("(no phase)"));
            blocks.push(Block::Section { number: String::new(), title, level: 2 });
            blocks.push(items_table(&items));
        }
        for decision in undecided {
            blocks.push(Block::Decision(decision.clone()));
        }
    }
    blocks
}

fn runs_table(launch: &Launch) -> Block {
    let rows = launch
        .runs
        .iter()
        .map(|run| {
            let s = &run.summary;
            let outcome = match s.exit_code {
                Some(code) if code != 0 => format!("{} (exit {code})", s.outcome),
                _ => s.outcome.to_string(),
            };
            let mut details: Vec<String> = run
                .sessions
                .iter()
                .map(|session| {
                    let how = if session.resumed { "resumed" } else { "started" };
                    let ended = match &session.ended {
                        Some((code, message, at)) => {
                            format!("; ended {} with exit {code}: {}", clock(at), message.lines().next().unwrap_or(""))
                        }
                        None => "; has not ended".into(),
                    };
                    format!("{how} {} by {}{ended}", clock(&session.at), session.by)
                })
                .collect();
            details.extend(run.lock_forced.iter().cloned());
            Row {
                cells: vec![
                    s.run_id.clone(),
                    stem(&s.script),
                    s.target.clone(),
                    s.by.clone(),
                    clock(&s.started),
                    s.duration_s.map(|d| crate::duration::short(Duration::from_secs_f64(d))).unwrap_or_default(),
                    outcome,
                ],
                item: None,
                details,
            }
        })
        .collect();
    Block::Table {
        class: "runs",
        header: vec!["Run", "Script", "Target", "Operator", "Started", "Duration", "Outcome"],
        rows,
    }
}

/// What a reader must see first: failures, retries, steps in doubt, interruptions, torn journals.
fn attention(launch: &Launch) -> Vec<String> {
    let mut out = Vec::new();
    for run in &launch.runs {
        let script = stem(&run.summary.script);
        if let Some(torn) = &run.torn_tail {
            out.push(format!("{script}: {torn}"));
        }
        for session in &run.sessions {
            if let Some((code, message, at)) = &session.ended
                && matches!(code, 129 | 130 | 143)
            {
                out.push(format!("{script}: interrupted at {} (exit {code}): {}", clock(at), first_line(message)));
            }
        }
        for step in &run.steps {
            let name = format!("{script}: {} \"{}\"", step.kind, step.name);
            match step.verdict_state() {
                State::Failed => out.push(format!(
                    "{name} failed{}",
                    step.error.as_deref().map(|e| format!(": {}", first_line(e))).unwrap_or_default()
                )),
                State::InDoubt => out.push(format!("{name} is in doubt: it started and its run ended before it did")),
                State::Interrupted => out.push(format!("{name} was interrupted")),
                State::Skipped => out.push(format!("{name} was skipped")),
                _ => {}
            }
            if step.attempts > 1 {
                out.push(format!("{name} took {} attempts", step.attempts));
            }
        }
    }
    out
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

fn schedule(launch: &Launch, blocks: &mut Vec<Block>) {
    let mut rows = Vec::new();
    for run in &launch.runs {
        for phase in &run.phases {
            let Some(started) = phase.started else { continue };
            let elapsed = Duration::from_millis(phase.duration_ms.unwrap_or_default());
            let actual = match phase.ended {
                Some(end) => format!(
                    "{}-{} ({})",
                    started.format("%a %H:%M"),
                    end.format("%H:%M"),
                    short(elapsed.as_millis() as u64)
                ),
                None => format!("{}- (did not end)", started.format("%a %H:%M")),
            };
            let judged = match phase.window.as_deref().map(Window::parse) {
                Some(Ok(window)) => window.judge(minute_of_day(&started), elapsed).0,
                _ => String::new(),
            };
            rows.push(Row {
                cells: vec![
                    stem(&run.summary.script),
                    phase.name.clone(),
                    phase.window.clone().unwrap_or_default(),
                    actual,
                    judged,
                    phase.owner.clone().unwrap_or_default(),
                ],
                ..Row::default()
            });
        }
    }
    if rows.is_empty() {
        return;
    }
    blocks.push(Block::Table {
        class: "schedule",
        header: vec!["Script", "Phase", "Planned", "Actual", "Schedule", "Owner"],
        rows,
    });
    if let Some(svg) = timeline::schedule(launch) {
        blocks.push(Block::Svg(svg));
    }
    for run in &launch.runs {
        if let Some(svg) = timeline::steps(run) {
            blocks.push(Block::Svg(svg));
        }
    }
}

fn items_table(items: &[(&RunRecord, &StepRecord)]) -> Block {
    let rows = items.iter().map(|(run, step)| item_row(run, step)).collect();
    Block::Table {
        class: "items",
        header: vec!["", "Item", "Target", "Actual / answer", "By", "When", "Took", "Notes"],
        rows,
    }
}

fn item_row(run: &RunRecord, step: &StepRecord) -> Row {
    let state = step.verdict_state();
    let (target, actual) = match (&step.check, step.answers.last()) {
        (Some(check), _) if step.kind != ItemKind::Manual => (check.target.clone(), check.actual.clone()),
        (_, Some(answer)) => (String::new(), answer.answer.clone()),
        (Some(check), None) => (check.target.clone(), check.actual.clone()),
        (None, None) => (String::new(), String::new()),
    };
    let mut notes = vec![stem(&run.summary.script)];
    if step.attempts > 1 {
        notes.push(format!("{} attempts", step.attempts));
    }
    for earlier in &step.earlier {
        notes.push(format!(
            "{} at {}{}",
            earlier.state.word(),
            clock(&earlier.at),
            earlier.error.as_deref().map(|e| format!(": {}", first_line(e))).unwrap_or_default()
        ));
    }
    if let Some(error) = &step.error {
        notes.push(first_line(error).to_string());
    }
    if state == State::InDoubt {
        notes.push("in doubt: started, never finished".into());
    }
    let when = step.ended.or(step.started).map(|t| t.format("%a %H:%M:%S").to_string()).unwrap_or_default();
    let mut details: Vec<String> = step.commands.iter().map(|c| command_line(c, state)).collect();
    for verdict in &step.verdicts {
        let mark = if verdict.ok { State::Done.mark() } else { State::Failed.mark() };
        let actual = if verdict.actual.is_empty() { String::new() } else { format!(": {}", verdict.actual) };
        details.push(format!("{mark} {}{actual}", verdict.name));
    }
    for (at, text, recovery) in timeline::transitions(&step.value) {
        details.push(format!("{} {at} {text}", if recovery { "recovered:" } else { "alert:" }));
    }
    Row {
        cells: vec![
            state.mark().into(),
            format!("{} {}", step.kind, step.name),
            target,
            actual,
            step.who().to_string(),
            when,
            short(step.duration_ms),
            notes.join("; "),
        ],
        item: Some(Item { run_id: run.summary.run_id.clone(), name: step.name.clone(), state }),
        details,
    }
}

fn command_line(command: &Command, step: State) -> String {
    let mark = if command.write { "write" } else { "read" };
    let result = match (command.ok, command.exit_code()) {
        (None, _) if step == State::Running => "running".to_string(),
        (None, _) => "no result journaled (the run ended while it ran)".to_string(),
        (Some(_), Some(code)) => format!("exit {code}"),
        (Some(_), None) => first_line(&command.detail).chars().take(120).collect(),
    };
    format!("{mark} {}: {} -> {result}, {}", command.kind, command.what, short(command.duration_ms))
}
