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
