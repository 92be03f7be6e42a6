//! A verdict as gates, boards and journals show it: a check's, a manual or checklist item's, a gate's
//! decision. Below the engine and the run alike, which both speak of verdicts.

use serde::{Deserialize, Serialize};

/// A check's verdict and evidence, as gates and reports show it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckRecord {
    pub name: String,
    pub ok: bool,
    #[serde(default)]
    pub actual: String,
    #[serde(default)]
    pub target: String,
    /// Rests on a read a plan assumed: neither pass nor fail (never journaled by a run).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unknown: bool,
}

impl CheckRecord {
    pub fn new(name: &str, ok: bool, actual: String, target: String) -> CheckRecord {
        CheckRecord { name: name.into(), ok, actual, target, unknown: false }
    }

    /// How boards and plans show it: pass, FAIL, or UNKNOWN (assumed).
    pub fn mark(&self) -> &'static str {
        match (self.unknown, self.ok) {
            (true, _) => "UNKNOWN (assumed)",
            (false, true) => "pass",
            (false, false) => "FAIL",
        }
    }
}

/// The newest run of a runbook on a target, as a check weighs it ("Rollback probado": a rollback rehearsed,
/// when, how long it took, how it ended). A run that never finished (killed, or still running) is still the
/// newest: an older success never stands in for it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LastRun {
    pub run_id: String,
    /// None: the run has not finished.
    pub exit_code: Option<i32>,
    /// From its start to its end, resumes included (None: not finished).
    pub seconds: Option<f64>,
    /// How long ago it finished, or started when it has not finished.
    pub days_ago: f64,
}
