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
    /// What a watch saw, when this is a watch's verdict: later runbooks read it (Monday reads the monitor's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<WatchRecord>,
}

/// A watch's evidence (`metrics::watch`): how long it watched of what it was asked, the alerts it raised,
/// and the rules still alerting when it ended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WatchRecord {
    /// The step that watched (`step` is one of golive's words: a script cannot read it as a property).
    pub name: String,
    /// The length it was asked to watch, as written ("24h").
    pub planned: String,
    pub planned_s: f64,
    /// From this attempt's first evaluation to its end: a resumed watch counts only what it saw itself.
    pub watched_s: f64,
    /// It ran to its end (time, or a replay's last sample); not stopped by an action or the operator.
    pub complete: bool,
    #[serde(default)]
    pub stopped: String,
    #[serde(default)]
    pub evaluations: u64,
    /// Critical levels reached, and silences longer than `nodata_alert`, in order.
    #[serde(default)]
    pub alerts: Vec<Alert>,
    /// Rules critical, or silent past `nodata_alert`, at the end.
    #[serde(default)]
    pub unresolved: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Alert {
    pub rule: String,
    /// "crit" or "nodata".
    pub level: String,
    pub at: String,
    pub shown: String,
}

impl CheckRecord {
    pub fn new(name: &str, ok: bool, actual: String, target: String) -> CheckRecord {
        CheckRecord { name: name.into(), ok, actual, target, unknown: false, watch: None }
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
    /// Each gate's decision still standing (a reopened gate's is gone), by gate name.
    #[serde(default)]
    pub decisions: std::collections::BTreeMap<String, GateDecided>,
    /// What its watches saw, in the order they ended.
    #[serde(default)]
    pub watches: Vec<WatchRecord>,
    /// The newest verdict of each of its checks, manual items and gates (what a later runbook weighs:
    /// Saturday deploys only onto a Friday whose every item passed).
    #[serde(default)]
    pub checks: Vec<CheckRecord>,
    /// It ran every item, not only some (`--only`): only a whole run's verdicts stand for the runbook.
    #[serde(default = "whole_run")]
    pub whole: bool,
}

fn whole_run() -> bool {
    true
}

/// A decision a gate applied, as a later runbook reads it ("Saturday ended with GO").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GateDecided {
    pub verdict: crate::lifecycle::GateVerdict,
    pub by: String,
    #[serde(default)]
    pub at: String,
}
