//! `golive runs`: the project's runs, newest first, read from their journals: script, target, operator,
//! start, duration and how each ended; filtered by script, target and outcome; as a table or as JSON.

use std::path::Path;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use super::journal::{self, Entry};
use crate::config::Config;
use crate::error::Result;

pub use super::journal::SCHEMA;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunSummary {
    pub run_id: String,
    pub script: String,
    pub target: String,
    /// run, only (single steps) or repl.
    pub mode: String,
    pub by: String,
    pub started: String,
    /// When its newest session ended; None while it runs, or when it died.
    pub finished: Option<String>,
    pub duration_s: Option<f64>,
    pub exit_code: Option<i32>,
    /// done, failed, NO-GO, interrupted or unfinished.
    pub outcome: String,
    /// The first line of how it ended.
    pub message: String,
}

/// Which runs to list.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// A script's file name, with or without .rhai (`saturday`).
    pub script: Option<String>,
    pub target: Option<String>,
    /// An outcome as `RunSummary::outcome` names it.
    pub outcome: Option<String>,
}

impl Filter {
    fn keeps(&self, run: &RunSummary) -> bool {
        let stem = Path::new(&run.script).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        self.script.as_ref().is_none_or(|s| s.trim_end_matches(".rhai") == stem)
            && self.target.as_ref().is_none_or(|t| *t == run.target)
            && self.outcome.as_ref().is_none_or(|o| o.eq_ignore_ascii_case(&run.outcome))
    }
}

/// How a run ended, by its exit code and message (130: interrupted; a gate's NO-GO names itself).
fn outcome(exit_code: Option<i32>, message: &str) -> String {
    match exit_code {
        None => "unfinished".into(),
        Some(0) => "done".into(),
        Some(130) => "interrupted".into(),
        Some(_) if message.contains("said NO-GO") || message.contains("recommends NO-GO") => "NO-GO".into(),
        Some(_) => "failed".into(),
    }
}

/// One run as its journal tells it; None for a journal without a run_started line.
pub fn summarize(record: &journal::Record) -> Option<RunSummary> {
    let Some(Entry::RunStarted { run_id, script, target, mode, by, at, .. }) = record.entries.first() else {
        return None;
    };
    let mut summary = RunSummary {
        run_id: run_id.clone(),
        script: script.display().to_string(),
        target: target.clone(),
        mode: mode.clone(),
        by: by.clone(),
        started: at.clone(),
        finished: None,
        duration_s: None,
        exit_code: None,
        outcome: String::new(),
        message: String::new(),
    };
    for entry in &record.entries {
        match entry {
            // A resumed run is open again until its new session ends.
            Entry::RunResumed { .. } => {
                summary.finished = None;
                summary.exit_code = None;
                summary.message.clear();
            }
            Entry::RunFinished { exit_code, message, at } => {
                summary.finished = Some(at.clone());
                summary.exit_code = Some(*exit_code);
                summary.message = message.lines().next().unwrap_or_default().to_string();
            }
            _ => {}
        }
    }
    let parse = |at: &str| chrono::DateTime::parse_from_rfc3339(at).ok();
    if let (Some(start), Some(end)) = (parse(&summary.started), summary.finished.as_deref().and_then(parse)) {
        summary.duration_s = Some(((end - start).num_milliseconds() as f64 / 100.0).round() / 10.0);
    }
    summary.outcome = outcome(summary.exit_code, &summary.message);
    Some(summary)
}

/// The runs the filter keeps, newest first. A journal that cannot be read is an error naming it.
pub fn list(config: &Config, filter: &Filter) -> Result<Vec<RunSummary>> {
    let mut runs = Vec::new();
    for (_, record) in super::newest_first(config)? {
        if let Some(run) = summarize(&record)
            && filter.keeps(&run)
        {
            runs.push(run);
        }
    }
    Ok(runs)
}

pub fn table(runs: &[RunSummary]) -> String {
    if runs.is_empty() {
        return "no runs\n".into();
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec!["Run", "Script", "Target", "By", "Started", "Duration", "Outcome"]);
    for run in runs {
        let script = Path::new(&run.script).file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let duration =
            run.duration_s.map(|s| crate::duration::short(std::time::Duration::from_secs_f64(s))).unwrap_or_default();
        let outcome = match run.exit_code {
            Some(code) if code != 0 => format!("{} (exit {code})", run.outcome),
            _ => run.outcome.clone(),
        };
        table.add_row(vec![
            run.run_id.clone(),
            script,
            run.target.clone(),
            run.by.clone(),
            run.started.chars().take(19).collect::<String>().replace('T', " "),
            duration,
            outcome,
        ]);
    }
    format!("{table}\n")
}

pub fn json(runs: &[RunSummary]) -> String {
    #[derive(Serialize)]
    struct Listing<'a> {
        schema: u32,
        runs: &'a [RunSummary],
    }
    let mut text = serde_json::to_string_pretty(&Listing { schema: SCHEMA, runs }).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::outcome;

    #[test]
    fn a_runs_outcome_follows_its_exit_code_and_how_it_ended() {
        assert_eq!(outcome(None, ""), "unfinished");
        assert_eq!(outcome(Some(0), "done"), "done");
        assert_eq!(outcome(Some(130), "interrupted by the operator (Ctrl-C)"), "interrupted");
        assert_eq!(outcome(Some(1), "error: gate \"Go/No-Go\" said NO-GO (Lead)"), "NO-GO");
        assert_eq!(outcome(Some(1), "error: step \"backup\" failed"), "failed");
    }
}
