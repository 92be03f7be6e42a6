//! `golive status [RUN]`: a run's steps as a table, read from its journal.

use std::path::Path;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use super::journal::{self, Entry, StepStatus};
use crate::error::Result;

#[derive(Debug)]
struct Row {
    step: String,
    kind: String,
    phase: String,
    status: String,
    attempts: u32,
    duration_ms: u64,
    note: String,
}

pub fn render(run_dir: &Path) -> Result<String> {
    let record = journal::read(&run_dir.join(journal::FILE_NAME))?;
    let mut out = String::new();
    if let Some(warning) = &record.torn_tail {
        out.push_str(warning);
        out.push('\n');
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut finished = None;
    for entry in &record.entries {
        match entry {
            Entry::RunStarted { run_id, script, target, by, at, .. } => {
                out.push_str(&format!(
                    "run {run_id}\n  script {}\n  target {target}\n  started {at} by {by}\n",
                    script.display()
                ));
            }
            Entry::RunResumed { by, at, .. } => out.push_str(&format!("  resumed {at} by {by}\n")),
            Entry::StepStarted { step, kind, phase, attempt, .. } => match rows.iter_mut().find(|r| r.step == *step) {
                Some(row) => {
                    row.attempts = row.attempts.max(*attempt).max(row.attempts + 1);
                    row.status = "running (in doubt if the run died)".into();
                }
                None => rows.push(Row {
                    step: step.clone(),
                    kind: kind.clone(),
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
                finished =
                    Some(format!("  finished {at}: exit {exit_code} ({})\n", message.lines().next().unwrap_or("")));
            }
            _ => {}
        }
    }
    out.push_str(finished.as_deref().unwrap_or("  not finished (resume it with `golive resume`)\n"));
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec!["Phase", "Step", "Kind", "Status", "Tries", "Duration", "Note"]);
    for row in &rows {
        table.add_row(vec![
            row.phase.clone(),
            row.step.clone(),
            row.kind.clone(),
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
