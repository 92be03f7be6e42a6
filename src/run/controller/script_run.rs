//! The Controller as the engine and the modules see it (`engine::run_api::ScriptRun`): each method is the
//! controller's own.

use super::*;
use crate::modules::run_api::{GateDecision, ScriptRun};

impl ScriptRun for Controller {
    fn is_dry(&self) -> bool {
        Controller::is_dry(self)
    }
    fn selected(&self, name: &str) -> bool {
        Controller::selects(self, name)
    }
    fn performs_reads(&self) -> bool {
        Controller::performs_reads(self)
    }
    fn terminal(&self) -> &Arc<Terminal> {
        Controller::terminal(self)
    }
    fn identity(&self) -> &str {
        &self.settings.identity
    }
    fn output(&self, text: &str) {
        Controller::output(self, text)
    }
    fn poll(&self) -> Option<Dynamic> {
        Controller::poll(self)
    }
    fn now_stamp(&self) -> String {
        Controller::now_stamp(self)
    }
    fn step_clock(&self) -> Duration {
        Controller::step_clock(self)
    }
    fn in_check(&self) -> bool {
        Controller::in_check(self)
    }
    fn step_name(&self) -> Option<String> {
        self.state.borrow().step().map(|f| f.name.clone())
    }
    fn secret_placeholder_given(&self, name: &str) {
        if let Some(frame) = self.state.borrow_mut().step_mut() {
            frame.secret_placeholders.insert(name.to_string());
        }
    }
    fn rests_on_assumed_reads(&self) -> bool {
        self.is_dry() && self.state.borrow().step().is_some_and(|f| f.assumed)
    }
    fn rests_on_unknown_value(&self) {
        if self.is_dry()
            && let Some(frame) = self.state.borrow_mut().step_mut()
        {
            frame.assumed = true;
        }
    }
    fn run_id(&self) -> Option<String> {
        Controller::run_id(self)
    }
    fn run_started(&self) -> i64 {
        Controller::run_started(self)
    }
    fn phase(
        &self,
        name: &str,
        options: &PhaseOptions,
        pos: Position,
        body: &mut dyn FnMut() -> Result<Dynamic, Box<EvalAltResult>>,
    ) -> Result<Dynamic, Box<EvalAltResult>> {
        Controller::phase(self, name, options, pos, body)
    }
    fn step(
        &self,
        spec: &StepSpec,
        work: &mut dyn FnMut() -> Result<StepOutput, Box<EvalAltResult>>,
    ) -> Result<Dynamic, Box<EvalAltResult>> {
        Controller::step(self, spec, work)
    }
    fn perform(&self, effect: Effect, caller: &str, pos: Position) -> Result<Outcome, Box<EvalAltResult>> {
        Controller::perform(self, effect, caller, pos)
    }
    fn perform_all(
        &self,
        effects: Vec<Effect>,
        caller: &str,
        pos: Position,
    ) -> Result<Vec<Result<Outcome, Box<EvalAltResult>>>, Box<EvalAltResult>> {
        Controller::perform_all(self, effects, caller, pos)
    }
    fn ask(
        &self,
        question: &str,
        choices: &[&str],
        kind: AskKind,
        pos: Position,
    ) -> Result<Answered, Box<EvalAltResult>> {
        Controller::ask(self, question, choices, kind, pos)
    }
    fn remembered(&self, key: &str, compute: &dyn Fn() -> String) -> Result<String, Box<EvalAltResult>> {
        Controller::remembered(self, key, compute)
    }
    fn interrupt_handled(&self) {
        Controller::interrupt_handled(self)
    }
    fn record_verdict(&self, check: CheckRecord) -> Result<(), Box<EvalAltResult>> {
        Controller::record_verdict(self, check)
    }
    fn checks(&self) -> Vec<CheckRecord> {
        Controller::checks(self)
    }
    fn verdicts_weighed(&self, gate: &str) {
        Controller::verdicts_weighed(self, gate)
    }
    fn included_checks(
        &self,
        script: &str,
        config: &crate::config::Config,
        target: &str,
    ) -> Result<Vec<CheckRecord>, String> {
        if Controller::is_dry(self) {
            Ok(self.planned_include(script))
        } else {
            crate::run::latest_checks(config, script, target)
        }
    }
    fn last_run(
        &self,
        script: &str,
        config: &crate::config::Config,
        target: &str,
    ) -> Result<Option<crate::verdict::LastRun>, String> {
        if Controller::is_dry(self) {
            let what = format!("journal: the newest {script} run on {target}");
            match self.world.planned_last_run(script) {
                Some(run) => {
                    let fault = self.planned_read(&what, "journal", format!("last_run \"{script}\""));
                    match fault {
                        Some(operator) => crate::effects::fault::last_run(operator, run),
                        None => Ok(run),
                    }
                }
                None => {
                    // Unstated: "no run" would be an assumption that passes checks like "no rollback since"
                    // (the assumed read makes the item's verdict unknown).
                    self.planned_assumption(&what, "no run stated");
                    Ok(None)
                }
            }
        } else {
            crate::run::latest_run(config, script, target)
        }
    }
    fn step_uses_value(&self, name: &str) -> bool {
        self.outline_step_uses_value(name)
    }
    fn decided(&self, d: GateDecision) -> Result<(), Box<EvalAltResult>> {
        let entry = Entry::Decision {
            gate: d.gate,
            verdict: d.verdict,
            by: d.by,
            at: d.at,
            note: d.note,
            recommended: d.recommended,
            stops_run: d.stops_run,
            on_nogo: d.on_nogo,
        };
        self.journal(entry, true)
    }

    fn stop_run(&self, failure: Failure, condition: &str, pos: Position) -> Option<Box<EvalAltResult>> {
        self.stop_unless_unknown(failure, condition, pos)
    }
}
