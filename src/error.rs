//! The failures golive reports, each tied to its exit code (DESIGN.md, run semantics 9), rendered in one place
//! (main) so nothing classifies a failure by its text.

use std::fmt;

#[derive(Debug)]
pub enum Failure {
    /// Bad command line, bad config, bad script: exit 2. The text is already rendered.
    Usage(String),
    /// The runbook ran and failed (a step failed, a gate said NO-GO, an in-doubt step needs a person): exit 1.
    Runbook(String),
    /// Another run holds the lock: exit 3.
    Locked(String),
    /// The operator interrupted the run: exit 130 (Ctrl-C), 143 (SIGTERM) or 129 (SIGHUP).
    Interrupted { code: i32, message: String },
    /// A gate's NO-GO ended the run: exit 1, and resume refuses to walk past it unless the gate is reopened.
    NoGo { gate: String, message: String },
    /// A plan cannot tell what the run would do (a verdict rests on an assumed read, a gate has no answer):
    /// exit 1, as golive says "unknown" and stops rather than guess.
    Unknown(String),
    /// A command that already printed its result ends with this code (a plan predicting a failed run).
    Predicted(i32),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Runbook(_) | Failure::NoGo { .. } | Failure::Unknown(_) => 1,
            Failure::Locked(_) => 3,
            Failure::Interrupted { code, .. } => *code,
            Failure::Predicted(code) => *code,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Failure::Usage(m)
            | Failure::Runbook(m)
            | Failure::Locked(m)
            | Failure::Interrupted { message: m, .. }
            | Failure::Unknown(m)
            | Failure::NoGo { message: m, .. } => m,
            Failure::Predicted(_) => "",
        }
    }
}

impl Failure {
    /// The same failure with its message rewritten (used to mask secrets before anything prints it).
    pub fn map_message(self, f: impl FnOnce(&str) -> String) -> Failure {
        match self {
            Failure::Usage(m) => Failure::Usage(f(&m)),
            Failure::Runbook(m) => Failure::Runbook(f(&m)),
            Failure::Locked(m) => Failure::Locked(f(&m)),
            Failure::Interrupted { code, message } => Failure::Interrupted { code, message: f(&message) },
            Failure::Unknown(m) => Failure::Unknown(f(&m)),
            Failure::NoGo { gate, message } => Failure::NoGo { gate, message: f(&message) },
            Failure::Predicted(code) => Failure::Predicted(code),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Failure {}

pub type Result<T, E = Failure> = std::result::Result<T, E>;

/// Wraps an I/O error with the path it concerns, as a usage-level failure.
pub fn io_failure(what: &str, path: &std::path::Path, err: std::io::Error) -> Failure {
    Failure::Usage(format!("error: cannot {what} {}: {err}", path.display()))
}
