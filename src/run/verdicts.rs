//! The verdicts a run has given so far, and how its end is judged: checks, manual items, checklist items
//! and gate decisions, the newest per name; which of them failed with no gate after them. The same rules
//! judge a run, its resume (which replays verdicts into this) and its plan.

use std::collections::BTreeSet;

use super::journal::CheckRecord;
use crate::error::Failure;

#[derive(Debug, Default)]
pub struct Verdicts {
    all: Vec<CheckRecord>,
    /// Verdicts that did not pass and that no gate has weighed yet.
    unweighed: Vec<CheckRecord>,
    gates: BTreeSet<String>,
}

impl Verdicts {
    /// Adds a verdict; the newest per name wins. A gate's own NO-GO is its decision, not a failure left open.
    pub fn weigh(&mut self, check: CheckRecord) {
        self.unweighed.retain(|c| c.name != check.name);
        if (!check.ok || check.unknown) && !self.gates.contains(&check.name) {
            self.unweighed.push(check.clone());
        }
        self.all.retain(|c| c.name != check.name);
        self.all.push(check);
    }

    /// The gate `name` weighed every verdict so far: a decision was taken on them.
    pub fn weighed_by(&mut self, gate: &str) {
        self.unweighed.clear();
        self.gates.insert(gate.to_string());
    }

    pub fn all(&self) -> &[CheckRecord] {
        &self.all
    }

    /// A run ends green only if its evidence is green (DESIGN 12): any verdict whose last word did not pass
    /// is exit 1, whether or not a gate went on past it (a GO is a decision, not a passed check); in a plan,
    /// verdicts that rest on assumed reads make its outcome unknown.
    pub fn at_end(&self) -> Result<(), Failure> {
        let names = |unknown: bool| -> Vec<String> {
            self.unweighed.iter().filter(|c| c.unknown == unknown).map(|c| format!("\"{}\"", c.name)).collect()
        };
        let (failed, unknown) = (names(false), names(true));
        if !failed.is_empty() {
            return Err(Failure::Runbook(format!(
                "{} check(s) failed and no gate weighed them: {}",
                failed.len(),
                failed.join(", ")
            )));
        }
        let gone_past: Vec<String> = self
            .all
            .iter()
            .filter(|c| !c.ok && !c.unknown && !self.gates.contains(&c.name))
            .map(|c| format!("\"{}\"", c.name))
            .collect();
        if !gone_past.is_empty() {
            return Err(Failure::Runbook(format!(
                "{} check(s) failed ({}); a gate's decision went on past them, but the run's evidence is not green",
                gone_past.len(),
                gone_past.join(", ")
            )));
        }
        if !unknown.is_empty() {
            return Err(Failure::Unknown(format!(
                "{} check(s) rest on assumed reads and no gate weighed them: {}",
                unknown.len(),
                unknown.join(", ")
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(name: &str, ok: bool) -> CheckRecord {
        CheckRecord::new(name, ok, String::new(), String::new())
    }

    #[test]
    fn a_failure_no_gate_weighed_fails_the_end_and_a_later_pass_of_the_same_name_clears_it() {
        let mut v = Verdicts::default();
        v.weigh(verdict("tls", true));
        v.weigh(verdict("waf", false));
        assert!(v.at_end().unwrap_err().message().contains("1 check(s) failed and no gate weighed them: \"waf\""));
        v.weigh(verdict("waf", true));
        assert!(v.at_end().is_ok());
        assert_eq!(v.all().len(), 2);
    }

    #[test]
    fn a_gate_weighs_what_came_before_it_its_own_no_go_is_a_decision_and_a_failure_it_went_past_is_not_green() {
        let mut v = Verdicts::default();
        v.weigh(verdict("tls", true));
        v.weighed_by("Go/No-Go");
        v.weigh(verdict("Go/No-Go", false));
        assert!(v.at_end().is_ok(), "the gate's own NO-GO is its decision, not a failed check");
        v.weigh(verdict("after the gate", false));
        assert!(v.at_end().unwrap_err().message().contains("no gate weighed them: \"after the gate\""));

        let mut v = Verdicts::default();
        v.weigh(verdict("waf", false));
        v.weighed_by("Go/No-Go");
        v.weigh(verdict("Go/No-Go", true));
        let end = v.at_end().unwrap_err();
        assert_eq!(
            end.message(),
            "1 check(s) failed (\"waf\"); a gate's decision went on past them, but the run's evidence is not green"
        );
    }

    #[test]
    fn unknown_verdicts_make_the_end_unknown_unless_something_failed() {
        let mut v = Verdicts::default();
        v.weigh(CheckRecord { unknown: true, ..verdict("drupal", false) });
        assert!(matches!(v.at_end(), Err(Failure::Unknown(_))));
        v.weigh(verdict("waf", false));
        assert!(matches!(v.at_end(), Err(Failure::Runbook(_))));
    }
}
