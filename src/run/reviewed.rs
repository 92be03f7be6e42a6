//! Reviewed plans: `golive plan -o FILE` keeps the plan with what it was made from (the script, the stdlib,
//! golive.toml, the target), and `golive run SCRIPT --plan FILE` starts only while all of them are still
//! what the reviewer saw: the approved plan is the contract, as Terraform's saved plans are.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Options, ScriptFile, script_target};
use crate::error::{Failure, Result, io_failure};

/// What a plan was made from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Basis {
    /// The script, relative to golive.toml.
    pub script: String,
    pub script_sha256: String,
    /// Every stdlib module's name and text, in order.
    pub stdlib_sha256: String,
    pub config_sha256: String,
    pub target: String,
    pub golive_version: String,
    /// `--var key=value` the plan was made with: part of what was reviewed.
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, String>,
}

/// The file `golive plan -o` writes.
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    schema: u32,
    basis: Basis,
    /// The plan as the reviewer read it.
    plan_text: String,
    plan: serde_json::Value,
}

/// What the script would be planned or run from now.
pub fn basis(script: &Path, options: &Options) -> Result<Basis> {
    let file = ScriptFile::read(script)?;
    let target = script_target(&file, options)?;
    let stdlib = crate::engine::stdlib::locate(options.stdlib.as_deref(), &file.config.root)?;
    let mut modules = String::new();
    for module in &stdlib.modules {
        modules.push_str(&module.name);
        modules.push('\0');
        modules.push_str(&module.text);
        modules.push('\0');
    }
    let config = std::fs::read(&file.config.path).map_err(|e| io_failure("read", &file.config.path, e))?;
    Ok(Basis {
        script: file.name.clone(),
        script_sha256: file.sha256(),
        stdlib_sha256: crate::digest::sha256_hex(modules.as_bytes()),
        config_sha256: crate::digest::sha256_hex(&config),
        target,
        golive_version: env!("CARGO_PKG_VERSION").into(),
        vars: file.config.overrides(),
    })
}

/// Writes the reviewed plan, whole or not at all.
pub fn save(path: &Path, basis: Basis, plan: &super::plan::Plan) -> Result<()> {
    let saved = Saved {
        schema: super::journal::SCHEMA,
        basis,
        plan_text: plan.render_text(),
        plan: serde_json::from_str(&plan.json()).unwrap_or_default(),
    };
    let text = serde_json::to_string_pretty(&saved).expect("a saved plan serialises");
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text).map_err(|e| io_failure("write", &partial, e))?;
    std::fs::rename(&partial, path).map_err(|e| io_failure("write", path, e))
}

/// Refuses the run when anything the reviewed plan was made from has changed since; names each change.
pub fn check(path: &Path, script: &Path, options: &Options) -> Result<()> {
    let text = std::fs::read_to_string(path).map_err(|e| io_failure("read plan", path, e))?;
    let saved: Saved = serde_json::from_str(&text).map_err(|e| {
        Failure::Usage(format!("error: {} is not a plan saved by `golive plan -o`: {e}", path.display()))
    })?;
    let now = basis(script, options)?;
    let was = &saved.basis;
    let mut changed = Vec::new();
    if was.script != now.script {
        changed.push(format!("it is a plan of {}, not of {}", was.script, now.script));
    } else if was.script_sha256 != now.script_sha256 {
        changed.push(format!("{} changed", now.script));
    }
    if was.stdlib_sha256 != now.stdlib_sha256 {
        changed.push("the stdlib changed".into());
    }
    if was.config_sha256 != now.config_sha256 {
        changed.push("golive.toml changed".into());
    }
    if was.target != now.target {
        changed.push(format!("it was planned for target `{}`, this run is on `{}`", was.target, now.target));
    }
    if was.golive_version != now.golive_version {
        changed.push(format!("it was planned by golive {}, this is {}", was.golive_version, now.golive_version));
    }
    let keys: std::collections::BTreeSet<&String> = was.vars.keys().chain(now.vars.keys()).collect();
    for key in keys {
        match (was.vars.get(key), now.vars.get(key)) {
            (Some(a), Some(b)) if a != b => {
                changed.push(format!("it was planned with --var {key}={a}, this run has {key}={b}"))
            }
            (Some(a), None) => changed.push(format!("it was planned with --var {key}={a}, this run has none")),
            (None, Some(b)) => changed.push(format!("this run has --var {key}={b}, the plan had none")),
            _ => {}
        }
    }
    if changed.is_empty() {
        return Ok(());
    }
    Err(Failure::Usage(format!(
        "error: the reviewed plan {} no longer describes this run: {}; nothing was run\n  hint: plan again \
         (`golive plan {} -o {}`) and have the new plan reviewed",
        path.display(),
        changed.join("; "),
        script.display(),
        path.display()
    )))
}
