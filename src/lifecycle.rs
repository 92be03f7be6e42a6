//! The run's lifecycle as types: what kind of item a journal line is about, what a gate decided, what a
//! person chose for a step in doubt, and how a run ended. Below every layer (the engine builds items, the
//! controller journals them, resume and `golive runs` read them back); pure, no I/O.
//!
//! Each type is spelled in journals as the words the previous version wrote ("check", "NO-GO", "done"), so
//! journals stay readable both ways; a word golive does not know is an error where it is read, never a
//! silent default.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a journaled item is: the script's words, and the REPL's inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    Step,
    /// A read with a verdict: resume evaluates it again when its verdict failed.
    Check,
    /// A person confirms something golive cannot see.
    Manual,
    /// A person decides GO or NO-GO on a board of verdicts.
    Gate,
    /// An input typed at the REPL (never resumed).
    Repl,
}

impl ItemKind {
    /// The script's keywords, in the order golive documents them.
    pub const KEYWORDS: [ItemKind; 4] = [ItemKind::Step, ItemKind::Check, ItemKind::Manual, ItemKind::Gate];

    pub fn word(self) -> &'static str {
        match self {
            ItemKind::Step => "step",
            ItemKind::Check => "check",
            ItemKind::Manual => "manual",
            ItemKind::Gate => "gate",
            ItemKind::Repl => "repl",
        }
    }

    /// The item a script keyword introduces (`repl` is no keyword).
    pub fn from_keyword(word: &str) -> Option<ItemKind> {
        ItemKind::KEYWORDS.into_iter().find(|kind| kind.word() == word)
    }

    /// Its outcome is a verdict a person or a read gives: it never computes a value alone.
    pub fn gives_verdict(self) -> bool {
        matches!(self, ItemKind::Check | ItemKind::Manual | ItemKind::Gate)
    }
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// What a gate's decider said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GateVerdict {
    #[serde(rename = "GO")]
    Go,
    #[serde(rename = "NO-GO")]
    NoGo,
}

impl GateVerdict {
    /// The two answers a gate accepts, as it asks them.
    pub const ANSWERS: [&'static str; 2] = ["GO", "NO-GO"];

    pub fn word(self) -> &'static str {
        match self {
            GateVerdict::Go => "GO",
            GateVerdict::NoGo => "NO-GO",
        }
    }

    /// An answer to the gate's question (already matched against `ANSWERS`).
    pub fn from_answer(answer: &str) -> Option<GateVerdict> {
        match answer {
            "GO" => Some(GateVerdict::Go),
            "NO-GO" => Some(GateVerdict::NoGo),
            _ => None,
        }
    }
}

impl fmt::Display for GateVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// What a person (or `--in-doubt`, or an answers file) chose for a step that started and never finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InDoubtChoice {
    /// Wait until its command, still running where it ran, has ended; then look again.
    Wait,
    /// Stop its command where it still runs (TERM, then KILL); then look again.
    Stop,
    /// Run it again.
    Rerun,
    /// It took effect: journal it done without running it.
    MarkDone,
    /// End the resume here.
    Abort,
}

impl InDoubtChoice {
    /// The word a person types (and an answers file holds).
    pub fn word(self) -> &'static str {
        match self {
            InDoubtChoice::Wait => "wait",
            InDoubtChoice::Stop => "stop",
            InDoubtChoice::Rerun => "rerun",
            InDoubtChoice::MarkDone => "done",
            InDoubtChoice::Abort => "abort",
        }
    }

    /// The `--in-doubt` value that gives it.
    pub fn flag(self) -> &'static str {
        match self {
            InDoubtChoice::MarkDone => "mark-done",
            other => other.word(),
        }
    }

    pub fn from_word(word: &str) -> Option<InDoubtChoice> {
        [InDoubtChoice::Wait, InDoubtChoice::Stop, InDoubtChoice::Rerun, InDoubtChoice::MarkDone, InDoubtChoice::Abort]
            .into_iter()
            .find(|choice| choice.word() == word)
    }
}

/// How a run ended, as `golive runs` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunOutcome {
    #[serde(rename = "done")]
    Done,
    #[serde(rename = "failed")]
    Failed,
    /// A gate's NO-GO ended it (journaled as a decision that stops the run, not reopened since).
    #[serde(rename = "NO-GO")]
    NoGo,
    /// Ctrl-C, SIGTERM or SIGHUP (exit 130 or 143 or 129).
    #[serde(rename = "interrupted")]
    Interrupted,
    /// Still running, or died without a closing line.
    #[serde(rename = "unfinished")]
    Unfinished,
}

impl RunOutcome {
    /// From the newest session's exit code and whether a journaled NO-GO still ends the run.
    pub fn of(exit_code: Option<i32>, ended_by_no_go: bool) -> RunOutcome {
        match exit_code {
            None => RunOutcome::Unfinished,
            Some(0) => RunOutcome::Done,
            Some(129 | 130 | 143) => RunOutcome::Interrupted,
            Some(_) if ended_by_no_go => RunOutcome::NoGo,
            Some(_) => RunOutcome::Failed,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            RunOutcome::Done => "done",
            RunOutcome::Failed => "failed",
            RunOutcome::NoGo => "NO-GO",
            RunOutcome::Interrupted => "interrupted",
            RunOutcome::Unfinished => "unfinished",
        }
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_words_are_the_previous_versions() {
        assert_eq!(serde_json::to_string(&ItemKind::Check).unwrap(), "\"check\"");
        assert_eq!(serde_json::from_str::<ItemKind>("\"repl\"").unwrap(), ItemKind::Repl);
        assert_eq!(serde_json::to_string(&GateVerdict::NoGo).unwrap(), "\"NO-GO\"");
        assert_eq!(serde_json::from_str::<GateVerdict>("\"GO\"").unwrap(), GateVerdict::Go);
        assert!(serde_json::from_str::<GateVerdict>("\"go\"").is_err());
        assert!(serde_json::from_str::<ItemKind>("\"watch\"").is_err());
    }

    #[test]
    fn words_round_trip() {
        for kind in ItemKind::KEYWORDS {
            assert_eq!(ItemKind::from_keyword(kind.word()), Some(kind));
        }
        assert_eq!(ItemKind::from_keyword("repl"), None);
        for answer in GateVerdict::ANSWERS {
            assert_eq!(GateVerdict::from_answer(answer).map(GateVerdict::word), Some(answer));
        }
        for word in ["wait", "stop", "rerun", "done", "abort"] {
            assert_eq!(InDoubtChoice::from_word(word).map(InDoubtChoice::word), Some(word));
        }
        assert_eq!(InDoubtChoice::MarkDone.flag(), "mark-done");
    }

    #[test]
    fn an_outcome_is_no_go_only_by_a_decision_that_still_stands() {
        assert_eq!(RunOutcome::of(Some(1), true), RunOutcome::NoGo);
        assert_eq!(RunOutcome::of(Some(1), false), RunOutcome::Failed);
        assert_eq!(RunOutcome::of(Some(0), true), RunOutcome::Done);
        assert_eq!(RunOutcome::of(Some(143), false), RunOutcome::Interrupted);
        assert_eq!(RunOutcome::of(None, false), RunOutcome::Unfinished);
    }
}
