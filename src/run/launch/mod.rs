//! A launch as its journals tell it: one run, or the runs of a weekend (`--since friday`), read into phases,
//! steps, commands, answers, verdicts and decisions, and placed in the runbook document's sections. The
//! report (Markdown, HTML with its timeline, PDF) and `golive serve` render this one model.

pub mod document;
pub mod html;
pub mod markdown;
pub mod pdf;
pub mod runbook;
pub mod timeline;

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use super::history::{self, RunSummary};
use super::journal::{self, CheckRecord, Entry, StepStatus};
use crate::config::Config;
use crate::error::{Failure, Result};
use crate::lifecycle::{GateVerdict, ItemKind};

pub use runbook::Heading;

pub type Time = DateTime<FixedOffset>;

fn parse_time(at: &str) -> Option<Time> {
    DateTime::parse_from_rfc3339(at).ok()
}

/// The runs a report covers, oldest first.
#[derive(Debug, Default)]
pub struct Launch {
    pub runs: Vec<RunRecord>,
    /// The runbook document's numbered headings, in its order (empty: the runs' phases stand for them).
    pub headings: Vec<Heading>,
    /// The document's first line (its title), or the project's folder name.
    pub title: String,
    pub team: Vec<crate::config::TeamMember>,
    pub contacts: Vec<crate::config::Contact>,
    pub settings: crate::config::ReportSettings,
    /// When it was read ("as of"): a report of an open run says so.
    pub as_of: String,
}

#[derive(Debug)]
pub struct RunRecord {
    pub summary: RunSummary,
    /// Each session: started or resumed (by, at) and how it ended (exit code, message), if it did.
    pub sessions: Vec<Session>,
    pub phases: Vec<PhaseRecord>,
    pub steps: Vec<StepRecord>,
    pub decisions: Vec<DecisionRecord>,
    /// The journal's last line was torn (the run died while writing it).
    pub torn_tail: Option<String>,
    pub lock_forced: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub by: String,
    pub at: String,
    pub resumed: bool,
    pub ended: Option<(i32, String, String)>,
}

#[derive(Debug, Clone)]
pub struct PhaseRecord {
    pub name: String,
    pub section: Option<String>,
    pub window: Option<String>,
    pub owner: Option<String>,
    pub budget: Option<String>,
    pub started: Option<Time>,
    pub ended: Option<Time>,
    pub duration_ms: Option<u64>,
}

/// How an item ended, as the report ticks its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// A check that passed, a manual item answered yes, a step that did its work.
    Done,
    Failed,
    Skipped,
    Interrupted,
    /// Started, and the run ended (or died) before it finished: it may have changed things.
    InDoubt,
    /// Started in a run that is still open.
    Running,
}

impl State {
    pub fn mark(self) -> &'static str {
        match self {
            State::Done => "☑",
            State::Failed => "☒",
            State::Skipped => "⊘",
            State::Interrupted => "⚠",
            State::InDoubt => "?",
            State::Running => "…",
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            State::Done => "done",
            State::Failed => "FAILED",
            State::Skipped => "skipped",
            State::Interrupted => "interrupted",
            State::InDoubt => "in doubt",
            State::Running => "running",
        }
    }

    pub fn css(self) -> &'static str {
        match self {
            State::Done => "done",
            State::Failed => "failed",
            State::Skipped => "skipped",
            State::Interrupted | State::InDoubt => "doubt",
            State::Running => "running",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Command {
    pub kind: String,
    pub write: bool,
    pub what: String,
    pub at: String,
    /// None: no result was journaled (the run died, or it still runs).
    pub ok: Option<bool>,
    pub detail: String,
    pub duration_ms: u64,
}

impl Command {
    /// A command's exit code, read from its journaled result ("exit 0: ...").
    pub fn exit_code(&self) -> Option<i32> {
        let rest = self.detail.strip_prefix("exit ")?;
        rest.split(|c: char| !(c.is_ascii_digit() || c == '-')).next()?.parse().ok()
    }
}

#[derive(Debug, Clone)]
pub struct Answer {
    pub question: String,
    pub answer: String,
    pub by: String,
    pub at: String,
}

/// An earlier ending of the step (a failure before a retry or a resume).
#[derive(Debug, Clone)]
pub struct Ending {
    pub state: State,
    pub at: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StepRecord {
    pub name: String,
    pub kind: ItemKind,
    pub phase: Option<String>,
    pub section: Option<String>,
    pub state: State,
    pub attempts: u32,
    pub started: Option<Time>,
    pub ended: Option<Time>,
    /// All attempts together.
    pub duration_ms: u64,
    pub check: Option<CheckRecord>,
    pub error: Option<String>,
    pub value: Value,
    pub answers: Vec<Answer>,
    /// Checklist items and other verdicts the step recorded beside its own.
    pub verdicts: Vec<CheckRecord>,
    pub commands: Vec<Command>,
    /// Earlier endings: failures retried, attempts a resume ran again.
    pub earlier: Vec<Ending>,
    pub ran_by: String,
}

impl StepRecord {
    /// A check that failed is "done" as a step and failed as an item: the box shows the verdict.
    pub fn verdict_state(&self) -> State {
        match (&self.check, self.state) {
            (Some(check), State::Done) if !check.ok => State::Failed,
            _ => self.state,
        }
    }

    /// Who answered it, or who ran it.
    pub fn who(&self) -> &str {
        self.answers.last().map(|a| a.by.as_str()).unwrap_or(&self.ran_by)
    }
}

#[derive(Debug, Clone)]
pub struct DecisionRecord {
    pub gate: String,
    pub verdict: GateVerdict,
    pub by: String,
    pub at: String,
    pub note: Option<String>,
    pub recommended: GateVerdict,
    pub section: Option<String>,
    pub run_id: String,
}

/// One run as its journal tells it.
pub fn read_run(record: journal::Record) -> Option<RunRecord> {
    let summary = history::summarize(&record)?;
    let mut run = RunRecord {
        summary,
        sessions: Vec::new(),
        phases: Vec::new(),
        steps: Vec::new(),
        decisions: Vec::new(),
        torn_tail: record.torn_tail.clone(),
        lock_forced: Vec::new(),
    };
    let mut by = String::new();
    // The newest session's process: an open run whose process is gone died.
    let mut pid = 0;
    // The step whose section a verdict or decision inherits: the newest one started.
    let mut current: Option<usize> = None;
    for entry in record.entries {
        match entry {
            Entry::RunStarted { by: who, at, pid: started_pid, .. } => {
                pid = started_pid;
                by = who.clone();
                run.sessions.push(Session { by: who, at, resumed: false, ended: None });
            }
            Entry::RunResumed { by: who, at, pid: resumed_pid } => {
                pid = resumed_pid;
                settle_open_steps(&mut run.steps, State::InDoubt);
                by = who.clone();
                run.sessions.push(Session { by: who, at, resumed: true, ended: None });
            }
            Entry::RunFinished { exit_code, message, at } => {
                let interrupted = exit_code == 130 || exit_code == 143 || exit_code == 129;
                settle_open_steps(&mut run.steps, if interrupted { State::Interrupted } else { State::InDoubt });
                if let Some(session) = run.sessions.last_mut() {
                    session.ended = Some((exit_code, message, at));
                }
            }
            Entry::PhaseStarted { phase, at, window, section, owner, budget } => {
                run.phases.retain(|p| p.name != phase);
                run.phases.push(PhaseRecord {
                    name: phase,
                    section,
                    window,
                    owner,
                    budget,
                    started: parse_time(&at),
                    ended: None,
                    duration_ms: None,
                });
            }
            Entry::PhaseFinished { phase, at, duration_ms } => {
                if let Some(p) = run.phases.iter_mut().find(|p| p.name == phase) {
                    p.ended = parse_time(&at);
                    p.duration_ms = Some(duration_ms);
                }
            }
            Entry::StepStarted { step, kind, phase, attempt, at, section, .. } => {
                let index = match run.steps.iter().position(|s| s.name == step) {
                    Some(index) => {
                        let s = &mut run.steps[index];
                        s.attempts = s.attempts.max(attempt).max(s.attempts + 1);
                        s.state = State::Running;
                        s.ran_by = by.clone();
                        index
                    }
                    None => {
                        run.steps.push(StepRecord {
                            name: step,
                            kind,
                            phase,
                            section,
                            state: State::Running,
                            attempts: attempt,
                            started: parse_time(&at),
                            ended: None,
                            duration_ms: 0,
                            check: None,
                            error: None,
                            value: Value::Null,
                            answers: Vec::new(),
                            verdicts: Vec::new(),
                            commands: Vec::new(),
                            earlier: Vec::new(),
                            ran_by: by.clone(),
                        });
                        run.steps.len() - 1
                    }
                };
                current = Some(index);
            }
            Entry::Effect { step, kind, access, what, at } => {
                if let Some(s) = run.steps.iter_mut().find(|s| s.name == step) {
                    s.commands.push(Command {
                        kind,
                        write: access == crate::effects::Access::Write,
                        what,
                        at,
                        ok: None,
                        detail: String::new(),
                        duration_ms: 0,
                    });
                }
            }
            Entry::EffectFinished { step, ok, detail, duration_ms } => {
                if let Some(s) = run.steps.iter_mut().find(|s| s.name == step)
                    && let Some(c) = s.commands.iter_mut().find(|c| c.ok.is_none())
                {
                    c.ok = Some(ok);
                    c.detail = detail;
                    c.duration_ms = duration_ms;
                }
            }
            Entry::Answer { step, question, answer, by, at } => {
                if let Some(s) = run.steps.iter_mut().find(|s| s.name == step) {
                    s.answers.push(Answer { question, answer, by, at });
                }
            }
            Entry::Verdict { step, check } => {
                if let Some(s) = run.steps.iter_mut().find(|s| s.name == step) {
                    s.verdicts.retain(|v| v.name != check.name);
                    s.verdicts.push(check);
                }
            }
            Entry::Decision { gate, verdict, by, at, note, recommended, .. } => {
                let section = current.and_then(|i| run.steps[i].section.clone());
                run.decisions.push(DecisionRecord {
                    gate,
                    verdict,
                    by,
                    at,
                    note,
                    recommended,
                    section,
                    run_id: run.summary.run_id.clone(),
                });
            }
            Entry::StepFinished { step, status, duration_ms, value, error, check, at } => {
                if let Some(s) = run.steps.iter_mut().find(|s| s.name == step) {
                    let state = match status {
                        StepStatus::Done => State::Done,
                        StepStatus::Failed => State::Failed,
                        StepStatus::Skipped => State::Skipped,
                        StepStatus::Interrupted => State::Interrupted,
                    };
                    // A retry or resume that ends it again keeps the earlier ending as history.
                    if let Some(ended) = s.ended {
                        s.earlier.push(Ending { state: s.state, at: ended.to_rfc3339(), error: s.error.clone() });
                    }
                    s.state = state;
                    s.ended = parse_time(&at);
                    s.duration_ms += duration_ms;
                    s.error = error;
                    if check.is_some() {
                        s.check = check;
                    }
                    if !value.is_null() {
                        s.value = value;
                    }
                }
            }
            Entry::LockForced { by, holder, at } => {
                run.lock_forced.push(format!("{by} ran at {at} although {holder} held the target's lock"))
            }
            Entry::GateReopened { .. } | Entry::EffectRunning { .. } | Entry::Remembered { .. } => {}
        }
    }
    if run.summary.exit_code.is_none() && !process_alive(pid) {
        settle_open_steps(&mut run.steps, State::InDoubt);
    }
    Some(run)
}

/// Steps that started and never finished when their session ended.
fn settle_open_steps(steps: &mut [StepRecord], state: State) {
    for step in steps.iter_mut().filter(|s| s.state == State::Running) {
        step.state = state;
    }
}

/// An open run whose process is gone died: its running step is in doubt, not running.
fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Which runs: ids or prefixes, scripts (their newest run), or everything since one of them.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    pub runs: Vec<String>,
    pub since: Option<String>,
    pub target: Option<String>,
}

/// The runs a selection names (their journals, by id), oldest first.
pub fn select(config: &Config, selection: &Selection) -> Result<Vec<(String, journal::Record)>> {
    let query = |what: Option<String>| super::RunQuery { run_or_script: what, target: selection.target.clone() };
    let store = super::store::of(config)?;
    let mut runs = super::newest_first(config)?;
    runs.reverse();
    let read = |id: String| -> Result<(String, journal::Record)> {
        let record = store.read(&id)?;
        Ok((id, record))
    };
    let resolve = |what: &str| -> Result<(String, journal::Record)> {
        // A script's stem ("friday") means its newest run, as `runbook::last_run` does.
        let stemmed = runs.iter().rev().find(|(_, record)| {
            history::summarize(record).is_some_and(|r| {
                r.mode == "run"
                    && Path::new(&r.script).file_stem().is_some_and(|s| s == what.trim_end_matches(".rhai"))
                    && selection.target.as_ref().is_none_or(|t| *t == r.target)
            })
        });
        match stemmed {
            Some(run) if !what.contains('/') => Ok(run.clone()),
            _ => read(super::find_run(config, &store, &query(Some(what.to_string())))?),
        }
    };
    if let Some(since) = &selection.since {
        let (first, _) = resolve(since)?;
        let start = runs.iter().position(|(id, _)| *id == first).unwrap_or(0);
        let chosen = runs[start..]
            .iter()
            .filter(|(_, record)| {
                history::summarize(record)
                    .is_some_and(|run| run.mode == "run" && selection.target.as_ref().is_none_or(|t| *t == run.target))
            })
            .cloned()
            .collect();
        return Ok(chosen);
    }
    if selection.runs.is_empty() {
        return Ok(vec![read(super::find_run(config, &store, &query(None))?)?]);
    }
    let mut chosen: Vec<(String, journal::Record)> = Vec::new();
    for what in &selection.runs {
        let run = resolve(what)?;
        if !chosen.iter().any(|(id, _)| *id == run.0) {
            chosen.push(run);
        }
    }
    Ok(chosen)
}

/// Reads the selected runs and the runbook document.
pub fn read(config: &Config, selection: &Selection) -> Result<Launch> {
    let mut launch = Launch {
        team: config.team.clone(),
        contacts: config.contacts.clone(),
        settings: config.report.clone(),
        as_of: crate::run::identity::now_stamp(),
        ..Launch::default()
    };
    match &config.report.runbook {
        Some(file) => {
            let path = config.root.join(file);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Failure::Usage(format!(
                    "error: {}: [report] runbook = \"{file}\": cannot read {}: {e}",
                    config.path.display(),
                    path.display()
                ))
            })?;
            launch.title = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_string();
            launch.headings = runbook::headings(&text);
        }
        None => {
            launch.title = config
                .root
                .file_name()
                .map(|n| format!("{} launch", n.to_string_lossy()))
                .unwrap_or_else(|| "launch".into());
        }
    }
    for (_, record) in select(config, selection)? {
        if let Some(run) = read_run(record) {
            launch.runs.push(run);
        }
    }
    Ok(launch)
}

impl Launch {
    /// Every step of every run, with its run.
    pub fn steps(&self) -> impl Iterator<Item = (&RunRecord, &StepRecord)> {
        self.runs.iter().flat_map(|r| r.steps.iter().map(move |s| (r, s)))
    }

    pub fn decisions(&self) -> impl Iterator<Item = &DecisionRecord> {
        self.runs.iter().flat_map(|r| r.decisions.iter())
    }
}

/// What `golive report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
    Pdf,
}

/// What was written, and what could not be (the PDF where no Chromium is installed).
pub struct Written {
    pub files: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

/// Writes the report of the selected runs into `out` (default `.golive/reports/<first run id>/`): each file
/// under a temporary name, then renamed, so a report is whole or absent.
pub fn write_report(
    config: &Config,
    selection: &Selection,
    formats: &[Format],
    out: Option<&Path>,
    runtime: &tokio::runtime::Runtime,
) -> Result<Written> {
    let launch = read(config, selection)?;
    let first = launch.runs.first().map(|r| r.summary.run_id.clone()).unwrap_or_default();
    let dir = match out {
        Some(dir) => dir.to_path_buf(),
        None => config.root.join(super::STATE_DIR).join("reports").join(&first),
    };
    std::fs::create_dir_all(&dir).map_err(|e| crate::error::io_failure("create", &dir, e))?;
    let blocks = document::build(&launch);
    let mut written = Written { files: Vec::new(), warnings: Vec::new() };
    let save = |name: &str, text: &str| -> Result<PathBuf> {
        let path = dir.join(name);
        let partial = dir.join(format!(".{name}.partial"));
        std::fs::write(&partial, text).map_err(|e| crate::error::io_failure("write", &partial, e))?;
        std::fs::rename(&partial, &path).map_err(|e| crate::error::io_failure("write", &path, e))?;
        Ok(path)
    };
    if formats.contains(&Format::Markdown) {
        written.files.push(save("report.md", &markdown::render(&launch, &blocks))?);
    }
    if formats.contains(&Format::Html) || formats.contains(&Format::Pdf) {
        let html = save("report.html", &html::page(&launch, &blocks, ""))?;
        if formats.contains(&Format::Html) {
            written.files.push(html.clone());
        }
        if formats.contains(&Format::Pdf) {
            let pdf = dir.join("report.pdf");
            match runtime.block_on(pdf::print(&html, &pdf)) {
                Ok(()) => written.files.push(pdf),
                Err(why) if formats.len() > 1 => {
                    written.warnings.push(format!("warning: no PDF: {why}; the HTML and Markdown reports are complete"))
                }
                Err(why) => return Err(Failure::Runbook(format!("error: no PDF: {why}"))),
            }
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commands_exit_code_is_read_from_its_result() {
        let command = |detail: &str| Command {
            kind: "exec".into(),
            write: false,
            what: String::new(),
            at: String::new(),
            ok: Some(true),
            detail: detail.into(),
            duration_ms: 0,
        };
        assert_eq!(command("exit 0").exit_code(), Some(0));
        assert_eq!(command("exit 3: boom").exit_code(), Some(3));
        assert_eq!(command("200 in 5 ms").exit_code(), None);
    }
}
