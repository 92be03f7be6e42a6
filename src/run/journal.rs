//! `.golive/runs/<run-id>/journal.jsonl`: the append-only record of a run.
//!
//! Each entry is one JSON line written with a single `write`, so a killed process leaves at most one torn
//! last line; readers detect it and ignore it with a warning, and appenders cut it off before writing.
//! The file is fsynced at every step boundary and every operator answer.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Failure, Result, io_failure};
use crate::secrets::Redactor;
pub use crate::verdict::CheckRecord;

pub const FILE_NAME: &str = "journal.jsonl";

/// The version of golive's records: every journal's run_started line, plan JSON, `golive status` and `golive
/// runs` JSON carry it. Raised when an event or a field changes meaning (docs/journal.md lists them); a new
/// optional field does not raise it. Journals written before it existed read as 1.
pub const SCHEMA: u32 = 1;

fn schema_one() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Done,
    Failed,
    /// Skipped by the operator after a failure or an interrupt.
    Skipped,
    Interrupted,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Entry {
    RunStarted {
        /// `SCHEMA` when it was written.
        #[serde(default = "schema_one")]
        schema: u32,
        run_id: String,
        script: PathBuf,
        /// The script relative to golive.toml's folder: another machine's checkout finds it there (resume
        /// from a shared store). Older journals lack it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        script_in_project: Option<PathBuf>,
        script_sha256: String,
        target: String,
        mode: String,
        by: String,
        pid: u32,
        at: String,
        version: String,
        /// `--var key=value` given to the run, each value as TOML writes it. Older journals lack it.
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        vars: std::collections::BTreeMap<String, String>,
    },
    RunResumed {
        by: String,
        pid: u32,
        at: String,
    },
    PhaseStarted {
        phase: String,
        at: String,
        /// Its planned window ("06:00-12:00"), for `golive status` to judge the schedule by.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window: Option<String>,
        /// The runbook section it fills in, for the report.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        section: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<String>,
        /// How long it may take ("5m"): the report judges it again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget: Option<String>,
    },
    PhaseFinished {
        phase: String,
        at: String,
        duration_ms: u64,
    },
    StepStarted {
        step: String,
        kind: crate::lifecycle::ItemKind,
        phase: Option<String>,
        attempt: u32,
        source_sha256: String,
        at: String,
        /// The runbook section it fills in (its own, else its phase's), for the report.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        section: Option<String>,
    },
    /// Written before the effect is performed, so a run killed mid-effect still knows it may have written.
    Effect {
        step: String,
        kind: String,
        access: crate::effects::Access,
        what: String,
        at: String,
    },
    /// Where a command of the effect above runs (written the moment its process group is known): after a
    /// crash, resume asks the target whether it still runs before it offers to run the step again.
    EffectRunning {
        step: String,
        target: String,
        process_group: u32,
        at: String,
    },
    EffectFinished {
        step: String,
        ok: bool,
        detail: String,
        duration_ms: u64,
    },
    Answer {
        step: String,
        question: String,
        answer: String,
        by: String,
        at: String,
    },
    /// A value golive fixed the first time a step computed it (a watch's end), kept whatever the step's fate.
    Remembered {
        step: String,
        key: String,
        value: String,
        at: String,
    },
    /// A verdict for gates to weigh that is not the step's own (a checklist item); replayed on resume.
    Verdict {
        step: String,
        check: CheckRecord,
    },
    /// A gate's decision, with what it weighed; a NO-GO that stopped the run is terminal for resume.
    Decision {
        gate: String,
        verdict: crate::lifecycle::GateVerdict,
        by: String,
        at: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        recommended: crate::lifecycle::GateVerdict,
        /// The gate was a statement: its NO-GO ended the run.
        stops_run: bool,
        /// The script's way back after a NO-GO (`on_nogo`), e.g. "scripts/rollback_quick.rhai".
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_nogo: Option<String>,
    },
    /// The operator ran although another run held the target (`--force`).
    LockForced {
        by: String,
        holder: String,
        at: String,
    },
    /// The operator reopened a decided gate on purpose (`golive resume --reopen-gate NAME`).
    GateReopened {
        gate: String,
        by: String,
        at: String,
    },
    StepFinished {
        step: String,
        status: StepStatus,
        duration_ms: u64,
        #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
        value: serde_json::Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        check: Option<CheckRecord>,
        at: String,
    },
    RunFinished {
        exit_code: i32,
        message: String,
        at: String,
    },
}

/// A run's journal being written: a file (`.golive/runs/<id>/journal.jsonl`) or rows on PostgreSQL.
pub struct Journal {
    sink: Sink,
    run_id: String,
    redactor: Arc<Redactor>,
    /// Lines appended since it was opened, and how many of them are known durable.
    appended: u64,
    synced: u64,
}

enum Sink {
    File { path: PathBuf, file: File },
    Postgres(crate::run::store::postgres::PgJournal),
}

fn run_id_of(path: &Path) -> String {
    path.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

impl Journal {
    /// Creates the journal with its first entry: written to a temporary file, synced, then renamed into
    /// place, so no journal is ever without its run_started line (a run killed before the rename leaves a
    /// `.tmp` file that nothing reads, and no run to resume).
    pub fn create(path: &Path, redactor: Arc<Redactor>, first: &Entry) -> Result<Journal> {
        let tmp = path.with_extension("jsonl.tmp");
        let file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&tmp)
            .map_err(|e| io_failure("create journal", &tmp, e))?;
        let mut started =
            Journal::with_sink(Sink::File { path: tmp.clone(), file }, run_id_of(path), Arc::clone(&redactor));
        started.append(first, true)?;
        std::fs::rename(&tmp, path).map_err(|e| io_failure("create journal", path, e))?;
        if let Some(dir) = path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_failure("create journal", dir, e))?;
        }
        let file = OpenOptions::new().append(true).open(path).map_err(|e| io_failure("open journal", path, e))?;
        Ok(Journal::with_sink(Sink::File { path: path.to_path_buf(), file }, run_id_of(path), redactor))
    }

    fn with_sink(sink: Sink, run_id: String, redactor: Arc<Redactor>) -> Journal {
        Journal { sink, run_id, redactor, appended: 0, synced: 0 }
    }

    /// Opens an existing journal for appending, first cutting off a torn last line.
    pub fn reopen(path: &Path, redactor: Arc<Redactor>) -> Result<Journal> {
        let mut file =
            OpenOptions::new().read(true).write(true).open(path).map_err(|e| io_failure("open journal", path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| io_failure("read journal", path, e))?;
        let keep = bytes.iter().rposition(|b| *b == b'\n').map(|i| i + 1).unwrap_or(0);
        if keep < bytes.len() {
            file.set_len(keep as u64).map_err(|e| io_failure("repair journal", path, e))?;
            file.sync_all().map_err(|e| io_failure("repair journal", path, e))?;
        }
        file.seek(SeekFrom::End(0)).map_err(|e| io_failure("open journal", path, e))?;
        Ok(Journal::with_sink(Sink::File { path: path.to_path_buf(), file }, run_id_of(path), redactor))
    }

    /// A run's journal on PostgreSQL.
    pub fn on_postgres(sink: crate::run::store::postgres::PgJournal, run_id: &str, redactor: Arc<Redactor>) -> Journal {
        Journal::with_sink(Sink::Postgres(sink), run_id.to_string(), redactor)
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Appends one entry; `durable` also fsyncs (step boundaries and answers). A run that cannot write its
    /// journal stops (exit 1, with the resume hint): going on would make the journal, and so resume, untrue.
    pub fn append(&mut self, entry: &Entry, durable: bool) -> Result<()> {
        // Masked as values, then serialized: a secret can never break the JSON or rewrite golive's own fields.
        let mut value = serde_json::to_value(entry).expect("journal entries serialise");
        self.redactor.redact_json(&mut value);
        let mut line = value.to_string();
        line.push('\n');
        match &mut self.sink {
            Sink::File { path, file } => file.write_all(line.as_bytes()).map_err(|e| unwritable(path, e))?,
            // Every entry is its own committed row: durable whatever `durable` says.
            Sink::Postgres(rows) => {
                line.pop();
                rows.append(line).map_err(|why| {
                    Failure::Runbook(format!(
                        "error: cannot write the journal to {}: {why}\n  hint: the run stops here and writes nothing \
                         more (the effect under way was let finish); the target's lock may already belong to someone \
                         else. `golive status` from any machine shows what the store kept; resume once it answers",
                        rows.location()
                    ))
                })?;
            }
        }
        self.appended += 1;
        if durable { self.sync_upto(self.appended) } else { Ok(()) }
    }

    /// How many lines were appended since the journal was opened: the number of the last one.
    pub fn appended(&self) -> u64 {
        self.appended
    }

    /// Makes the lines up to `line` durable, with every line appended before it; nothing to do when a
    /// later sync already did. Lines appended together are synced once.
    pub fn sync_upto(&mut self, line: u64) -> Result<()> {
        if self.synced >= line {
            return Ok(());
        }
        // PostgreSQL committed each row as it was appended.
        if let Sink::File { path, file } = &mut self.sink {
            file.sync_data().map_err(|e| unwritable(path, e))?;
        }
        self.synced = self.appended;
        Ok(())
    }
}

/// A journal file that cannot be written: the run stops.
fn unwritable(path: &Path, e: std::io::Error) -> Failure {
    Failure::Runbook(format!(
        "error: cannot write the journal {}: {e}\n  hint: the run stops here so that its journal stays true; free \
         space (or mend the folder), then resume it",
        path.display()
    ))
}

/// A journal as read back: its entries and what was wrong with its tail.
#[derive(Debug, Clone)]
pub struct Record {
    pub entries: Vec<Entry>,
    /// Set when the last line was torn (the run died while writing it); the line is ignored.
    pub torn_tail: Option<String>,
}

pub fn read(path: &Path) -> Result<Record> {
    let text = std::fs::read(path).map_err(|e| io_failure("read journal", path, e))?;
    let text = String::from_utf8_lossy(&text);
    let mut entries = Vec::new();
    let mut torn_tail = None;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (index, line) in lines.iter().enumerate() {
        let last = index + 1 == lines.len();
        match (serde_json::from_str::<Entry>(line.trim_end()), last && !line.ends_with('\n')) {
            (Ok(entry), false) => entries.push(entry),
            (_, true) => {
                torn_tail = Some(format!(
                    "warning: {}:{}: the last line is incomplete (the run died while writing it); ignoring it",
                    path.display(),
                    index + 1
                ));
            }
            (Err(e), false) => {
                return Err(Failure::Usage(format!(
                    "error: {}:{}: the journal is corrupted: {e}\n  hint: golive never rewrites journals; \
                     was this file edited by hand?",
                    path.display(),
                    index + 1
                )));
            }
        }
    }
    Ok(Record { entries, torn_tail })
}

/// A journal's entries as the store returned them, one JSON text each (`whence` names it in errors).
pub fn parse_lines(lines: &[String], whence: &str) -> Result<Record> {
    let mut entries = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        let entry = serde_json::from_str::<Entry>(line).map_err(|e| {
            Failure::Usage(format!("error: {whence}, entry {}: the journal is corrupted: {e}", index + 1))
        })?;
        entries.push(entry);
    }
    Ok(Record { entries, torn_tail: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(step: &str) -> Entry {
        Entry::StepStarted {
            step: step.into(),
            kind: crate::lifecycle::ItemKind::Step,
            phase: None,
            attempt: 1,
            source_sha256: "x".into(),
            at: "t".into(),
            section: None,
        }
    }

    #[test]
    fn torn_last_line_is_ignored_with_a_warning_and_cut_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let j = Journal::create(&path, Redactor::new(), &entry("a")).unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"event\":\"step_sta").unwrap();
        let record = read(&path).unwrap();
        assert_eq!(record.entries, vec![entry("a")]);
        assert!(record.torn_tail.unwrap().contains(":2: the last line is incomplete"));

        let mut j = Journal::reopen(&path, Redactor::new()).unwrap();
        j.append(&entry("b"), true).unwrap();
        let record = read(&path).unwrap();
        assert_eq!(record.entries, vec![entry("a"), entry("b")]);
        assert!(record.torn_tail.is_none());
    }

    #[test]
    fn a_bad_line_in_the_middle_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "not json\n{}\n").unwrap();
        let err = read(&path).unwrap_err();
        assert!(err.message().contains(":1: the journal is corrupted"), "{}", err.message());
    }

    #[test]
    fn secrets_never_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let redactor = Redactor::new();
        redactor.add("TOKEN", "hunter2-secret");
        let mut j = Journal::create(&path, redactor, &entry("a")).unwrap();
        let detail = Entry::EffectFinished {
            step: "deploy".into(),
            ok: true,
            detail: "exit 0: token \"hunter2-secret\"".into(),
            duration_ms: 1,
        };
        j.append(&detail, false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("hunter2-secret"));
        assert!(text.contains("<secret:TOKEN>"));
    }
}
