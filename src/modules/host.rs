//! What native functions and syntax handlers share for one run: the run (through `run_api::ScriptRun`),
//! golive.toml, the secrets and the run's target.

use std::rc::Rc;
use std::sync::Arc;

use rhai::{EvalAltResult, Position};

use crate::config::Config;
use crate::secrets::Secrets;

/// What native functions and syntax handlers share for one run.
pub struct Host {
    pub controller: Rc<dyn super::run_api::ScriptRun>,
    pub config: Arc<Config>,
    pub secrets: Secrets,
    pub run_target: String,
    /// `v1` or `v2` per target, detected once per run.
    pub compose_versions: std::cell::RefCell<std::collections::HashMap<String, String>>,
}

impl Host {
    /// A variable from golive.toml for the run's target: `[targets.T.vars]` first, then `[vars]`.
    pub fn var(&self, key: &str) -> Option<&toml::Value> {
        self.config.var(&self.run_target, key)
    }

    pub fn var_text(&self, key: &str) -> Option<String> {
        self.var(key).and_then(|v| v.as_str()).map(str::to_string)
    }

    pub fn var_int(&self, key: &str) -> Option<i64> {
        self.var(key).and_then(|v| v.as_integer())
    }

    /// The error for a variable the script or a module needs and golive.toml lacks.
    pub fn missing_var(&self, key: &str, pos: Position) -> Box<EvalAltResult> {
        let names = self.config.var_names(&self.run_target);
        crate::script_error::runtime(
            format!(
                "{} has no `{key}` in [vars] or [targets.{}.vars]{}",
                self.config.path.display(),
                self.run_target,
                crate::suggest::did_you_mean(key, names.iter().map(String::as_str))
            ),
            pos,
        )
    }

    /// A text variable that must be set.
    pub fn require_text(&self, key: &str, pos: Position) -> Result<String, Box<EvalAltResult>> {
        self.var_text(key).ok_or_else(|| self.missing_var(key, pos))
    }

    /// A secret's value; in a plan whose reads are not live only its name, `<secret:NAME>`. Live reads
    /// send it as a run does (and every output masks it as in a run).
    pub fn secret(&self, name: &str, pos: Position) -> Result<String, Box<EvalAltResult>> {
        if !self.controller.performs_reads() {
            self.controller.secret_placeholder_given(name);
            return Ok(crate::secrets::mask(name));
        }
        self.secrets.get(name).map_err(|e| crate::script_error::runtime(e, pos))
    }
}
