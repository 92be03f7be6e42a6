//! golive's words in Rhai: `phase`, `step`, `check`, `manual` and `gate`.
//!
//! ```rhai
//! phase "Deploy & Migration" with #{ window: "06:00-12:00", owner: "DevOps" } {
//!     step "backup" with #{ timeout: "30m", retries: 1, idempotent: false } { ... }
//!     check "homepage < 3 s" { #{ ok: ms < 3000, actual: `${ms} ms`, target: "< 3000 ms" } }
//!     manual "Support team notified";
//!     let verdict = gate "Go/No-Go";
//! }
//! ```

use std::rc::Rc;

use rhai::{Dynamic, Engine, EvalAltResult, EvalContext, Expression, ImmutableString, Map, Position};
use serde::de::DeserializeOwned;

use super::Host;
use crate::run::controller::{AskKind, PhaseOptions, StepOptions, StepOutput, StepSpec, runtime};
use crate::run::journal::CheckRecord;

/// Registers every keyword; `has_block` says whether a `{ }` body follows the name and options.
pub fn register(engine: &mut Engine, host: &Rc<Host>) {
    for (keyword, has_block) in [("phase", true), ("step", true), ("check", true), ("manual", false), ("gate", false)] {
        let host = Rc::clone(host);
        engine.register_custom_syntax_with_state_raw(
            keyword,
            move |symbols, look_ahead, _state| parse(symbols, look_ahead, has_block),
            false,
            move |ctx, inputs, _state| dispatch(&host, keyword, ctx, inputs),
        );
    }
}

/// `KEYWORD "name" [with EXPR] [BLOCK]`
fn parse(
    symbols: &[ImmutableString],
    look_ahead: &str,
    has_block: bool,
) -> Result<Option<ImmutableString>, rhai::ParseError> {
    let with = symbols.get(2).is_some_and(|s| s == "with");
    let next = match symbols.len() {
        1 => Some("$string$"),
        2 if look_ahead == "with" => Some("with"),
        2 if has_block => Some("$block$"),
        3 if with => Some("$expr$"),
        4 if with && has_block => Some("$block$"),
        _ => None,
    };
    Ok(next.map(ImmutableString::from))
}

fn dispatch(
    host: &Rc<Host>,
    keyword: &'static str,
    ctx: &mut EvalContext,
    inputs: &[Expression],
) -> Result<Dynamic, Box<EvalAltResult>> {
    let name = inputs[0].get_string_value().unwrap_or_default().to_string();
    let pos = inputs[0].position();
    let has_block = matches!(keyword, "phase" | "step" | "check");
    let options = match (inputs.len(), has_block) {
        (3, true) | (2, false) => Some(&inputs[1]),
        _ => None,
    };
    let options = match options {
        Some(expr) => Some((ctx.eval_expression_tree(expr)?, expr.position())),
        None => None,
    };
    let controller = &host.controller;
    match keyword {
        "phase" => {
            let options: PhaseOptions = decode_options(options, "phase")?;
            let body = inputs.last().expect("phase has a block");
            controller.phase(&name, &options, pos, &mut || ctx.eval_expression_tree(body))
        }
        _ => {
            // A gate's options say what it weighs; every other step's say how it runs.
            let (step_options, gate_options) = if keyword == "gate" {
                (StepOptions::default(), decode_options::<GateOptions>(options, keyword)?)
            } else {
                (decode_options::<StepOptions>(options, keyword)?, GateOptions::default())
            };
            let spec = StepSpec { kind: keyword, name: name.clone(), options: step_options, pos };
            match keyword {
                "step" => {
                    let body = inputs.last().expect("step has a block");
                    controller.step(&spec, &mut || Ok(StepOutput::value(ctx.eval_expression_tree(body)?)))
                }
                "check" => {
                    let body = inputs.last().expect("check has a block");
                    controller.step(&spec, &mut || check(&name, ctx.eval_expression_tree(body), body.position()))
                }
                "manual" => controller.step(&spec, &mut || {
                    let (answer, by) = controller.ask(&name, &["yes", "no", "skip"], AskKind::Confirm, pos)?;
                    let at = controller.now_stamp();
                    let actual = format!("{answer} by {by} at {at}");
                    let check = CheckRecord { name: name.clone(), ok: answer == "yes", actual, target: "done".into() };
                    Ok(StepOutput { value: answer.into(), check: Some(check), stop_after: None })
                }),
                _ => controller.step(&spec, &mut || gate(host, &name, &gate_options, pos)),
            }
        }
    }
}

fn decode_options<T: DeserializeOwned + Default>(
    options: Option<(Dynamic, Position)>,
    keyword: &str,
) -> Result<T, Box<EvalAltResult>> {
    let Some((value, pos)) = options else { return Ok(T::default()) };
    if !value.is_map() {
        return Err(runtime(
            format!("`{keyword} \"...\" with` takes a map like #{{ timeout: \"10m\" }}, not {}", value.type_name()),
            pos,
        ));
    }
    crate::modules::exec::decode(value, &format!("{keyword} \"...\""), pos)
}

/// A check's body gives `true`/`false` or `#{ ok, actual, target, ... }`, and the check yields it as given (extra
/// keys, like a measured `value`, stay for the script). An error in the body is a failed check with the error
/// as evidence, yielding `#{ ok: false, actual: <the error>, target: "" }`; only script mistakes and interrupts
/// go further.
fn check(
    name: &str,
    result: Result<Dynamic, Box<EvalAltResult>>,
    pos: Position,
) -> Result<StepOutput, Box<EvalAltResult>> {
    let value = match result {
        Ok(value) => value,
        Err(err) if !err.is_catchable() || crate::engine::diagnostics::is_script_mistake(&err) => return Err(err),
        Err(err) => {
            let actual = crate::engine::diagnostics::one_line(&err);
            let mut evidence = Map::new();
            evidence.insert("ok".into(), false.into());
            evidence.insert("actual".into(), actual.clone().into());
            evidence.insert("target".into(), "".into());
            let record = CheckRecord { name: name.into(), ok: false, actual, target: String::new() };
            return Ok(StepOutput { value: Dynamic::from_map(evidence), check: Some(record), stop_after: None });
        }
    };
    let record = if let Some(ok) = value.clone().try_cast::<bool>() {
        CheckRecord { name: name.into(), ok, actual: String::new(), target: String::new() }
    } else if let Some(map) = value.clone().try_cast::<Map>() {
        let text = |key: &str| map.get(key).map(|v| one_line(&v.to_string())).unwrap_or_default();
        let ok = map
            .get("ok")
            .and_then(|v| v.as_bool().ok())
            .ok_or_else(|| runtime(format!("check \"{name}\" gave a map without a true/false `ok`"), pos))?;
        CheckRecord { name: name.into(), ok, actual: text("actual"), target: text("target") }
    } else {
        return Err(runtime(
            format!("check \"{name}\" must give true/false or #{{ ok, actual, target }}, not {}", value.type_name()),
            pos,
        ));
    };
    Ok(StepOutput { value, check: Some(record), stop_after: None })
}

/// Evidence is shown in tables and one-line reports: whitespace runs become single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `gate "name" with #{ required: [...], include: ["friday"], nogo: #{ "trigger": bool } }`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateOptions {
    /// Checks that must pass for GO (default: every check recorded).
    pub required: Option<Vec<String>>,
    /// Earlier runbooks (by script name, e.g. "friday") whose newest run's checks count too.
    #[serde(default)]
    pub include: Vec<String>,
    /// The runbook's No-Go triggers, each true when it fired.
    #[serde(default)]
    pub nogo: std::collections::BTreeMap<String, bool>,
}

/// Shows every check so far (and those of the runs it includes), the No-Go triggers and a recommendation,
/// asks the decider GO or NO-GO and who they are, and records the decision.
fn gate(host: &Rc<Host>, name: &str, options: &GateOptions, pos: Position) -> Result<StepOutput, Box<EvalAltResult>> {
    let controller = &host.controller;
    let mut checks = Vec::new();
    for script in &options.include {
        let earlier = crate::run::latest_checks(&host.config, script, &host.run_target).map_err(|e| runtime(e, pos))?;
        checks.extend(earlier.into_iter().map(|mut c| {
            c.name = format!("{script}: {}", c.name);
            c
        }));
    }
    checks.extend(controller.checks());
    let board = crate::run::report::GateBoard::new(&checks, options.required.as_deref(), &options.nogo);
    if !controller.is_dry() {
        controller.terminal().line(&board.render(controller.terminal()));
    }
    let (verdict, by) = controller.ask(name, &["GO", "NO-GO"], AskKind::Choice, pos)?;
    let by = if by == controller.settings().identity && controller.terminal().is_interactive() {
        controller.ask(&format!("{name}: who takes this decision (name and role)?"), &[], AskKind::Text, pos)?.0
    } else {
        by
    };
    let at = controller.now_stamp();
    let record = CheckRecord {
        name: name.into(),
        ok: verdict == "GO",
        actual: format!("{verdict} by {by} at {at} (recommended {})", board.recommendation()),
        target: "GO".into(),
    };
    controller.verdicts_weighed(name);
    let stop_after = (verdict != "GO" && !controller.outline_step_uses_value(name))
        .then(|| format!("gate \"{name}\" said {verdict} ({by})"));
    Ok(StepOutput { value: verdict.into(), check: Some(record), stop_after })
}
