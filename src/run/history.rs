//! `golive runs`: the project's runs, newest first, read from their journals: script, target, operator,
//! start, duration and how each ended; filtered by script, target and outcome; as a table or as JSON.

use std::path::Path;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use super::journal::{self, Entry};
use crate::config::Config;
use crate::error::Result;
use crate::lifecycle::RunOutcome;

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
    pub outcome: RunOutcome,
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
            && self.outcome.as_ref().is_none_or(|o| o.eq_ignore_ascii_case(run.outcome.word()))
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
        outcome: RunOutcome::Unfinished,
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
    // A NO-GO is what the journal decided, not what a message says.
    let ended_by_no_go = super::prior::Prior::from_entries(&record.entries).decision.is_some();
    summary.outcome = RunOutcome::of(summary.exit_code, ended_by_no_go);
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
            _ => run.outcome.to_string(),
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
    use super::*;
    use crate::lifecycle::GateVerdict;

    fn record(exit_code: i32, message: &str, decision: Option<(GateVerdict, bool)>) -> journal::Record {
        let mut entries = vec![Entry::RunStarted {
            schema: SCHEMA,
            run_id: "r".into(),
            script: "s.rhai".into(),
            script_in_project: None,
            script_sha256: String::new(),
            target: "local".into(),
            mode: "run".into(),
            by: "ana".into(),
            pid: 1,
            at: "2026-12-05T14:00:00Z".into(),
            version: String::new(),
            vars: Default::default(),
        }];
        if let Some((verdict, stops_run)) = decision {
            entries.push(Entry::Decision {
                gate: "Go/No-Go".into(),
                verdict,
                by: "Lead".into(),
                at: String::new(),
                note: None,
                recommended: GateVerdict::NoGo,
                stops_run,
                on_nogo: None,
            });
        }
        entries.push(Entry::RunFinished { exit_code, message: message.into(), at: "2026-12-05T14:01:00Z".into() });
        journal::Record { entries, torn_tail: None }
    }

    #[test]
    fn a_no_go_is_the_journaled_decision_not_the_message() {
        let outcome = |r: journal::Record| summarize(&r).map(|s| s.outcome);
        let said = "error: gate \"Go/No-Go\" said NO-GO (Lead)";
        assert_eq!(outcome(record(1, said, Some((GateVerdict::NoGo, true)))), Some(RunOutcome::NoGo));
        // The words without the decision (a step's own message quoting them) are a failure.
        assert_eq!(outcome(record(1, said, None)), Some(RunOutcome::Failed));
        // A NO-GO the script looked at did not end the run.
        assert_eq!(
            outcome(record(1, "error: step failed", Some((GateVerdict::NoGo, false)))),
            Some(RunOutcome::Failed)
        );
        assert_eq!(outcome(record(143, "SIGTERM", None)), Some(RunOutcome::Interrupted));
        assert_eq!(outcome(record(0, "done", None)), Some(RunOutcome::Done));
    }
}
