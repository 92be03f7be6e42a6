//! `golive status [RUN]`: a run's steps as a table, read from its journal.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use super::journal::{self, Entry, StepStatus};
use super::schedule::{Window, minute_of_day};
use crate::error::Result;
use crate::lifecycle::ItemKind;

/// A phase as the journal tells it: when it started, its planned window, and how long it took if it ended.
struct Phase {
    name: String,
    at: String,
    window: Option<String>,
    duration_ms: Option<u64>,
}

/// Each phase with a window, judged as the run judged it when the phase ended; a phase that never ended is
/// judged up to the run's end, or up to now while the run is open (running, or died).
fn schedule(phases: &[Phase], run_ended: Option<&str>) -> Vec<String> {
    let parse = |at: &str| chrono::DateTime::parse_from_rfc3339(at).ok();
    let mut out = Vec::new();
    for phase in phases {
        let (Some(text), Some(started)) = (&phase.window, parse(&phase.at)) else { continue };
        let Ok(window) = Window::parse(text) else { continue };
        let (elapsed, state) = match phase.duration_ms {
            Some(ms) => (std::time::Duration::from_millis(ms), String::new()),
            None => {
                let end =
                    run_ended.and_then(parse).map(|e| e.with_timezone(&chrono::Utc)).unwrap_or_else(chrono::Utc::now);
                let ran = (end - started.with_timezone(&chrono::Utc)).to_std().unwrap_or_default();
                let state =
                    if run_ended.is_some() { "stopped before its end" } else { "not ended (running, or the run died)" };
                (ran, format!("{state}; "))
            }
        };
        let (judged, _) = window.judge(minute_of_day(&started), elapsed);
        out.push(format!(
            "phase \"{}\": planned {text}, started {} for {}: {state}{judged}",
            phase.name,
            started.format("%H:%M"),
            crate::duration::short(elapsed)
        ));
    }
    out
}

#[derive(Debug, serde::Serialize)]
struct Row {
    step: String,
    kind: ItemKind,
    phase: String,
    status: String,
    attempts: u32,
    duration_ms: u64,
    note: String,
}

/// A run as its journal tells it: the heading lines, each step's row, each phase, and how it ended.
struct Read {
    heading: String,
    rows: Vec<Row>,
    phases: Vec<Phase>,
    finished: Option<String>,
    ended_at: Option<String>,
}

/// The run as a heading, its schedule and its steps; `live` says of an unfinished run whether a golive
/// still runs it (`liveness`).
pub fn render(record: &journal::Record, live: Option<&str>) -> Result<String> {
    let Read { heading: mut out, rows, phases, finished, ended_at } = read(record)?;
    out.push_str(finished.as_deref().or(live).unwrap_or("  not finished (resume it with `golive resume`)\n"));
    let judged = schedule(&phases, ended_at.as_deref());
    if !judged.is_empty() {
        out.push_str("schedule (runbook 1.1)\n");
        for line in judged {
            out.push_str(&format!("  {line}\n"));
        }
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec!["Phase", "Step", "Kind", "Status", "Tries", "Duration", "Note"]);
    for row in &rows {
        table.add_row(vec![
            row.phase.clone(),
            row.step.clone(),
            row.kind.to_string(),
            row.status.clone(),
            row.attempts.to_string(),
            crate::duration::short(std::time::Duration::from_millis(row.duration_ms)),
            row.note.chars().take(60).collect(),
        ]);
    }
    out.push_str(&table.to_string());
    out.push('\n');
    Ok(out)
}

/// `golive status --format json`: the run (as `golive runs` lists it), its steps and its schedule, with the
/// schema version `golive runs` uses.
pub fn json(record: &journal::Record) -> Result<String> {
    #[derive(serde::Serialize)]
    struct Status {
        schema: u32,
        run: Option<super::history::RunSummary>,
        steps: Vec<Row>,
        schedule: Vec<String>,
    }
    let Read { rows, phases, ended_at, .. } = read(record)?;
    let status = Status {
        schema: super::history::SCHEMA,
        run: super::history::summarize(record),
        schedule: schedule(&phases, ended_at.as_deref()),
        steps: rows,
    };
    let mut text = serde_json::to_string_pretty(&status).unwrap_or_default();
    text.push('\n');
    Ok(text)
}

fn read(record: &journal::Record) -> Result<Read> {
    let mut out = String::new();
    if let Some(warning) = &record.torn_tail {
        out.push_str(warning);
        out.push('\n');
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut phases: Vec<Phase> = Vec::new();
    let mut finished = None;
    let mut ended_at = None;
    for entry in &record.entries {
        match entry {
            Entry::RunStarted { run_id, script, target, by, at, .. } => {
                out.push_str(&format!(
                    "run {run_id}\n  script {}\n  target {target}\n  started {at} by {by}\n",
                    script.display()
                ));
            }
            Entry::RunResumed { by, at, .. } => {
                out.push_str(&format!("  resumed {at} by {by}\n"));
                ended_at = None;
            }
            Entry::PhaseStarted { phase, at, window, .. } => {
                phases.retain(|p| p.name != *phase);
                phases.push(Phase { name: phase.clone(), at: at.clone(), window: window.clone(), duration_ms: None });
            }
            Entry::PhaseFinished { phase, duration_ms, .. } => {
                if let Some(p) = phases.iter_mut().find(|p| p.name == *phase) {
                    p.duration_ms = Some(*duration_ms);
                }
            }
            Entry::StepStarted { step, kind, phase, attempt, .. } => match rows.iter_mut().find(|r| r.step == *step) {
                Some(row) => {
                    row.attempts = row.attempts.max(*attempt).max(row.attempts + 1);
                    row.status = "running (in doubt if the run died)".into();
                }
                None => rows.push(Row {
                    step: step.clone(),
                    kind: *kind,
                    phase: phase.clone().unwrap_or_default(),
                    status: "running (in doubt if the run died)".into(),
                    attempts: *attempt,
                    duration_ms: 0,
                    note: String::new(),
                }),
            },
            Entry::StepFinished { step, status, duration_ms, error, check, .. } => {
                if let Some(row) = rows.iter_mut().find(|r| r.step == *step) {
                    row.status = match (status, check) {
                        (StepStatus::Done, Some(c)) if !c.ok => "done: FAIL".into(),
                        (StepStatus::Done, Some(_)) => "done: pass".into(),
                        (StepStatus::Done, None) => "done".into(),
                        (StepStatus::Failed, _) => "FAILED".into(),
                        (StepStatus::Skipped, _) => "skipped".into(),
                        (StepStatus::Interrupted, _) => "interrupted".into(),
                    };
                    row.duration_ms += duration_ms;
                    row.note = match (error, check) {
                        (Some(e), _) => e.lines().next().unwrap_or("").to_string(),
                        (None, Some(c)) if !c.actual.is_empty() => format!("actual {}", c.actual),
                        _ => String::new(),
                    };
                }
            }
            Entry::RunFinished { exit_code, message, at } => {
                ended_at = Some(at.clone());
                finished =
                    Some(format!("  finished {at}: exit {exit_code} ({})\n", message.lines().next().unwrap_or("")));
            }
            _ => {}
        }
    }
    Ok(Read { heading: out, rows, phases, finished, ended_at })
}

/// For a run that has not finished: whether a golive runs it now, from who holds its target (on a shared
/// store, whoever's machine that is), or that none does and it can be resumed.
pub fn liveness(store: &super::store::Store, run_id: &str, record: &journal::Record) -> Result<Option<String>> {
    if finished(record) {
        return Ok(None);
    }
    let Some(Entry::RunStarted { target, .. }) = record.entries.first() else { return Ok(None) };
    Ok(Some(match store.holder(target)? {
        Some(h) if h.run_id == run_id => {
            format!("  not finished: running now, {} (pid {}) holds target `{target}` since {}\n", h.by, h.pid, h.since)
        }
        Some(h) => format!(
            "  not finished, and no golive runs it: target `{target}` is held by run {} ({}); resume it when that \
             one ends\n",
            h.run_id, h.by
        ),
        None => format!(
            "  not finished, and no golive runs it (killed, or its machine lost): `golive resume {run_id}` carries on\n"
        ),
    }))
}

fn finished(record: &journal::Record) -> bool {
    matches!(record.entries.last(), Some(Entry::RunFinished { .. }))
}

/// Prints the entries after the first `seen` and counts them as seen.
fn print_new(record: &journal::Record, seen: &mut usize, print: &mut dyn FnMut(&str)) {
    for line in record.entries.iter().skip(*seen).filter_map(follow_line) {
        print(&line);
    }
    *seen = record.entries.len();
}

/// `golive status --follow`: each journal entry written after the first `seen`, as one line, until the run
/// finishes (its last entry is run_finished) or no process holds its target for it any more (it died).
pub fn follow(store: &super::store::Store, run_id: &str, mut seen: usize, print: &mut dyn FnMut(&str)) -> Result<()> {
    loop {
        let record = store.read(run_id)?;
        print_new(&record, &mut seen, print);
        if finished(&record) {
            return Ok(());
        }
        let Some(Entry::RunStarted { target, .. }) = record.entries.first() else { return Ok(()) };
        if store.holder(target)?.is_none_or(|h| h.run_id != run_id) {
            // Read once more: the run may have finished between the read and the look at the lock.
            let record = store.read(run_id)?;
            print_new(&record, &mut seen, print);
            if !finished(&record) {
                print(&format!(
                    "run {run_id} stopped without finishing: no process holds target `{target}` for it (killed, or its \
                     machine lost); `golive resume {run_id}` carries on from any machine sharing this state store"
                ));
            }
            return Ok(());
        }
        store.wait_for_change(std::time::Duration::from_secs(2))?;
    }
}

/// One journal entry as a line of `status --follow`, or None for entries that say nothing new to a reader.
fn follow_line(entry: &Entry) -> Option<String> {
    let time = |at: &str| at.get(11..19).unwrap_or(at).to_string();
    let took = |ms: &u64| crate::duration::short(std::time::Duration::from_millis(*ms));
    Some(match entry {
        Entry::RunStarted { run_id, by, at, .. } => format!("{} run {run_id} started by {by}", time(at)),
        Entry::RunResumed { by, at, .. } => format!("{} resumed by {by}", time(at)),
        Entry::PhaseStarted { phase, at, .. } => format!("{} phase {phase}", time(at)),
        Entry::PhaseFinished { phase, at, duration_ms } => {
            format!("{} phase {phase} ended in {}", time(at), took(duration_ms))
        }
        Entry::StepStarted { step, attempt, at, .. } if *attempt > 1 => {
            format!("{} ...  step \"{step}\" (try {attempt})", time(at))
        }
        Entry::StepStarted { step, at, .. } => format!("{} ...  step \"{step}\"", time(at)),
        Entry::Effect { what, at, .. } => format!("{}        {what}", time(at)),
        Entry::StepFinished { step, status, duration_ms, error, at, .. } => {
            let word = match status {
                StepStatus::Done => "ok  ",
                StepStatus::Failed => "FAIL",
                StepStatus::Skipped => "skip",
                StepStatus::Interrupted => "INT ",
            };
            let why =
                error.as_deref().map(|e| format!(": {}", e.lines().next().unwrap_or_default())).unwrap_or_default();
            format!("{} {word} step \"{step}\" {}{why}", time(at), took(duration_ms))
        }
        Entry::Answer { question, answer, by, at, .. } => {
            format!("{} {by} answered \"{question}\": {answer}", time(at))
        }
        Entry::Decision { gate, verdict, by, at, .. } => format!("{} gate \"{gate}\": {verdict} by {by}", time(at)),
        Entry::RunFinished { exit_code, message, at } => {
            format!("{} run finished: exit {exit_code} ({})", time(at), message.lines().next().unwrap_or_default())
        }
        _ => return None,
    })
}
