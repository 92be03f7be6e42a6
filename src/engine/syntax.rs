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

use crate::error::Failure;
use crate::lifecycle::{GateVerdict, ItemKind};
use crate::modules::Host;
use crate::modules::run_api::{
    After, AskKind, CheckRecord, GateDecision, OptionValues, PhaseOptions, ScriptRun, StepOptions, StepOutput, StepSpec,
};
use crate::script_error::runtime;

/// Registers every keyword; `has_block` says whether a `{ }` body follows the name and options.
pub fn register(engine: &mut Engine, host: &Rc<Host>) {
    for (keyword, has_block) in [("phase", true), ("step", true), ("check", true), ("manual", false), ("gate", false)] {
        let host = Rc::clone(host);
        engine.register_custom_syntax_with_state_raw(
            keyword,
            move |symbols, look_ahead, state| {
                let repeatable = matches!(keyword, "step" | "check");
                if repeatable && symbols.len() == 3 && symbols[2] == "for" {
                    *state = Dynamic::TRUE;
                }
                match state.as_bool().unwrap_or(false) {
                    true => parse_each(symbols, look_ahead),
                    false => parse(symbols, look_ahead, has_block, repeatable),
                }
            },
            false,
            move |ctx, inputs, state| match state.as_bool().unwrap_or(false) {
                true => dispatch_each(&host, keyword, ctx, inputs),
                false => dispatch(&host, keyword, ctx, inputs),
            },
        );
    }
}

/// `KEYWORD "name" [with EXPR] [BLOCK]`
fn parse(
    symbols: &[ImmutableString],
    look_ahead: &str,
    has_block: bool,
    repeatable: bool,
) -> Result<Option<ImmutableString>, rhai::ParseError> {
    let with = symbols.get(2).is_some_and(|s| s == "with");
    let next = match symbols.len() {
        1 => Some("$string$"),
        2 if look_ahead == "for" && repeatable => Some("for"),
        2 if look_ahead == "with" => Some("with"),
        2 if has_block => Some("$block$"),
        3 if with => Some("$expr$"),
        4 if with && has_block => Some("$block$"),
        _ => None,
    };
    Ok(next.map(ImmutableString::from))
}

/// `step "name" for ITEM in LIST [with EXPR] BLOCK` (and `check`): the step once per item.
fn parse_each(symbols: &[ImmutableString], look_ahead: &str) -> Result<Option<ImmutableString>, rhai::ParseError> {
    let next = match symbols.len() {
        3 => Some("$ident$"),
        4 => Some("in"),
        5 => Some("$expr$"),
        6 if look_ahead == "with" => Some("with"),
        6 => Some("$block$"),
        7 if symbols[6] == "with" => Some("$expr$"),
        8 => Some("$block$"),
        _ => None,
    };
    Ok(next.map(ImmutableString::from))
}

/// How an item is named in its instance's name: a string as it is, a map by its `name`, else as Rhai prints it.
pub fn item_label(item: &Dynamic) -> String {
    if let Some(map) = item.read_lock::<Map>()
        && let Some(name) = map.get("name")
    {
        return name.to_string();
    }
    item.to_string()
}

/// Each item gets its own step, "upgrade [web2]": its own checkpoint, resumed on its own. The first `canary`
/// items run first and alone: if one fails, the others are not started. Past the canary, items go in batches
/// of `serial` (default 1); a batch's items run together (at most golive.toml's `forks` at once, each as a
/// strand: see `crate::strand`), and where a batch ends, more than `max_fail` failed items so far leave the
/// rest unstarted (each failure is a failed verdict at the end). A plan takes the items one after another,
/// so it reads the same every time.
fn dispatch_each(
    host: &Rc<Host>,
    keyword: &'static str,
    ctx: &mut EvalContext,
    inputs: &[Expression],
) -> Result<Dynamic, Box<EvalAltResult>> {
    let name = inputs[0].get_string_value().unwrap_or_default().to_string();
    let pos = inputs[0].position();
    let variable = inputs[1].get_string_value().unwrap_or_default().to_string();
    let list = ctx.eval_expression_tree(&inputs[2])?;
    let list_pos = inputs[2].position();
    let Some(items) = list.clone().try_cast::<rhai::Array>() else {
        return Err(runtime(
            format!("{keyword} \"{name}\" for {variable} in ...: the list must be an array, not {}", list.type_name()),
            list_pos,
        ));
    };
    let options = match inputs.len() {
        5 => Some((ctx.eval_expression_tree(&inputs[3])?, inputs[3].position())),
        _ => None,
    };
    let controller = &host.controller;
    // Items `--only` left out are skipped with their options unjudged (as a single item's).
    let any_selected = items.iter().any(|item| controller.selected(&format!("{name} [{}]", item_label(item))));
    let options: StepOptions =
        if any_selected { decode_options(options, keyword, &name)? } else { StepOptions::default() };
    let body = inputs.last().expect("a repeated step has a block");
    let serial = options.serial.max(1);
    // Plans take the same path as runs: without a pending effect no strand gives way to another, so a plan
    // reads the same every time.
    let together = serial > 1 && items.len() > 1;
    if together {
        share_written_variables(ctx.scope_mut(), &written_variables(body));
    }
    let mut values = rhai::Array::new();
    let mut failed: Vec<String> = Vec::new();
    let mut unknown = false;
    let mut summary = Summary::default();
    let items: Vec<(String, Dynamic)> = items.into_iter().map(|item| (item_label(&item), item)).collect();
    // Only `step` and `check` repeat (`register`): both are item kinds.
    let kind = ItemKind::from_keyword(keyword).unwrap_or(ItemKind::Step);
    let spec_of = |index: usize, label: &str| StepSpec {
        kind,
        name: format!("{name} [{label}]"),
        options: options.clone(),
        pos,
        tolerate: index < options.canary || options.max_fail > 0 || serial > 1,
    };
    let mut next = 0;
    while next < items.len() {
        // The canary items one by one, then batches of `serial`.
        let size = if next < options.canary { 1 } else { serial };
        let batch = next..(next + size).min(items.len());
        next = batch.end;
        let specs: Vec<StepSpec> = batch.clone().map(|i| spec_of(i, &items[i].0)).collect();
        let results: Vec<Result<Dynamic, Box<EvalAltResult>>> = if together && batch.len() > 1 {
            let (engine, global, scope) = (ctx.engine(), ctx.global_runtime_state(), ctx.scope());
            let tasks = batch
                .clone()
                .zip(&specs)
                .map(|(i, spec)| {
                    let item = items[i].1.clone();
                    let variable = variable.as_str();
                    Box::new(move || {
                        let mut global = global.clone();
                        let mut caches = rhai::Caches::new();
                        let mut scope = scope.clone();
                        let mut apart = EvalContext::new(engine, &mut global, &mut caches, &mut scope, None);
                        in_item_scope(&mut apart, variable, item, |ctx| {
                            run_item(controller.as_ref(), spec, keyword, ctx, body)
                        })
                    }) as Box<dyn FnOnce() -> Result<Dynamic, Box<EvalAltResult>>>
                })
                .collect();
            crate::strand::run_together(host.config.forks, tasks)
        } else {
            let mut results = Vec::new();
            for (i, spec) in batch.clone().zip(&specs) {
                let item = items[i].1.clone();
                let result =
                    in_item_scope(ctx, &variable, item, |ctx| run_item(controller.as_ref(), spec, keyword, ctx, body));
                let stop = result.is_err();
                results.push(result);
                if stop {
                    break;
                }
            }
            results
        };
        let mut canary_failed = None;
        let mut first_error = None;
        let ran = batch.start + results.len();
        for ((i, spec), result) in batch.clone().zip(&specs).zip(results) {
            let label = &items[i].0;
            let value = match result {
                Ok(value) => value,
                Err(e) => {
                    summary.add(label, ItemEnd::Stopped, String::new());
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            // An item failed when its verdict did: a step that failed (tolerated, weighed as failed) or a check
            // whose verdict is a FAIL. A verdict resting on a plan's assumption is unknown, not a failure.
            let verdict = controller.checks().into_iter().find(|c| c.name == spec.name);
            let item_failed = verdict.as_ref().is_some_and(|v| !v.ok);
            if let Some(verdict) = verdict.filter(|v| !v.ok) {
                failed.push(label.clone());
                unknown |= verdict.unknown;
                summary.add(label, ItemEnd::Failed, verdict.actual);
            } else {
                summary.add(label, ItemEnd::Ok, String::new());
            }
            if item_failed && i < options.canary {
                canary_failed = Some(label.clone());
            }
            let tolerated = value.is::<crate::modules::run_api::ToleratedFailure>();
            values.push(if tolerated { Dynamic::UNIT } else { value });
        }
        if let Some(error) = first_error {
            summary.not_started(&items[ran..]);
            summary.show(keyword, &name, controller.as_ref());
            return Err(error);
        }
        // Failures are counted where a batch ends: after each canary item, then every `serial` items.
        let others = format!("{name} was not started for the other items");
        let why = if let Some(label) = canary_failed {
            Some(format!("the canary {keyword} \"{name} [{label}]\" failed: {others}"))
        } else if failed.len() > options.max_fail {
            Some(format!(
                "{keyword} \"{name}\" failed for {} items ({}), more than max_fail {}: {others}",
                failed.len(),
                failed.join(", "),
                options.max_fail
            ))
        } else {
            None
        };
        if let Some(why) = why {
            let failure = if unknown { Failure::Unknown(why) } else { Failure::Runbook(why) };
            let condition = format!("{keyword} \"{name}\" passes for its items");
            if let Some(stop) = controller.stop_run(failure, &condition, pos) {
                summary.not_started(&items[next..]);
                summary.show(keyword, &name, controller.as_ref());
                return Err(stop);
            }
        }
    }
    summary.show(keyword, &name, controller.as_ref());
    Ok(values.into())
}

/// One item's step: its body evaluated in `ctx`, a check's map turned into its verdict.
fn run_item(
    controller: &dyn ScriptRun,
    spec: &StepSpec,
    keyword: &str,
    ctx: &mut EvalContext,
    body: &Expression,
) -> Result<Dynamic, Box<EvalAltResult>> {
    controller.step(spec, &mut || match keyword {
        "check" => check(&spec.name, ctx.eval_expression_tree(body), body.position()),
        _ => Ok(StepOutput::value(ctx.eval_expression_tree(body)?)),
    })
}

/// Evaluates one item's body with the item bound where the parser expects it. The parser worked out the
/// body's variables as offsets from the top of the scope as it stood before the step, without the item (a
/// custom syntax cannot declare a variable to the parser, and the barrier Rhai offers for that makes every
/// outer name undefined under strict variables; looking every name up by name instead is not honoured by
/// the statement that shares a closure's captured variables). So the item never goes on top, where it
/// would shift every offset onto the variable declared after the one meant: it takes the place of the
/// variable of its name that the parser saw (the body's `h` was resolved to that one), or, when there is
/// none, goes under everything (the body looks it up by name, and no other variable has that name).
fn in_item_scope<T>(
    ctx: &mut EvalContext,
    variable: &str,
    item: Dynamic,
    body: impl FnOnce(&mut EvalContext) -> T,
) -> T {
    let mut entries = scope_entries(ctx.scope());
    let outer = entries.iter().rposition(|(name, ..)| name == variable);
    let replaced = match outer {
        Some(at) => Some(std::mem::replace(&mut entries[at], (variable.to_string(), false, item))),
        None => {
            entries.insert(0, (variable.to_string(), false, item));
            None
        }
    };
    refill(ctx.scope_mut(), &entries);
    let result = body(ctx);
    let mut entries = scope_entries(ctx.scope());
    match (outer, replaced) {
        (Some(at), Some(original)) => entries[at] = original,
        // The item, under everything.
        _ => drop(entries.remove(0)),
    }
    refill(ctx.scope_mut(), &entries);
    result
}

/// A scope's variables, oldest first: name, whether it is a constant, value (a shared value stays shared).
fn scope_entries(scope: &rhai::Scope) -> Vec<(String, bool, Dynamic)> {
    // iter_raw goes from the newest entry back.
    let mut entries: Vec<(String, bool, Dynamic)> =
        scope.iter_raw().map(|(name, constant, value)| (name.to_string(), constant, value.clone())).collect();
    entries.reverse();
    entries
}

fn refill(scope: &mut rhai::Scope, entries: &[(String, bool, Dynamic)]) {
    scope.clear();
    for (name, constant, value) in entries {
        match constant {
            true => scope.push_constant_dynamic(name.clone(), value.clone()),
            false => scope.push_dynamic(name.clone(), value.clone()),
        };
    }
}

/// The outer variables a body may change: assigned (`x = ...`, `x.a[1] += ...`), called a method on
/// (`list.push(h)`), passed first to a function (Rhai passes that one by reference) or captured by a closure.
fn written_variables(body: &rhai::Expr) -> std::collections::BTreeSet<String> {
    use rhai::{ASTNode, Expr, Stmt};
    fn root(expr: &Expr) -> Option<&str> {
        match expr {
            Expr::Variable(v, ..) => Some(v.1.as_str()),
            Expr::Dot(x, ..) | Expr::Index(x, ..) => root(&x.lhs),
            _ => None,
        }
    }
    let mut written = std::collections::BTreeSet::new();
    body.walk(&mut Vec::new(), &mut |path: &[ASTNode]| {
        let name = match path.last() {
            Some(ASTNode::Stmt(Stmt::Assignment(x))) => root(&x.1.lhs),
            Some(ASTNode::Stmt(Stmt::Share(x))) => {
                written.extend(x.iter().map(|(ident, _)| ident.name.to_string()));
                None
            }
            Some(ASTNode::Expr(Expr::Dot(x, ..))) if matches!(x.rhs, Expr::MethodCall(..) | Expr::Dot(..)) => {
                root(&x.lhs)
            }
            Some(ASTNode::Expr(Expr::FnCall(call, _))) if call.namespace.is_empty() => call.args.first().and_then(root),
            _ => None,
        };
        written.extend(name.map(str::to_string));
        true
    });
    written
}

/// Items that run together each evaluate their body in a copy of the scope. The variables a body may change
/// become shared first (as a closure's captured ones do), so what one item assigns to them is what every
/// item, and the rest of the script, sees, as in a plain loop. The rest stay plain copies: a handle the items
/// only call (`app.ps()`) would otherwise be locked by the item waiting in it, and refused to the others.
/// Handles (a compose project, a session, a target) are values no method changes, so they stay copies too.
fn share_written_variables(scope: &mut rhai::Scope, written: &std::collections::BTreeSet<String>) {
    let entries: Vec<(String, bool, Dynamic)> = scope_entries(scope)
        .into_iter()
        .map(|(name, constant, value)| {
            let share = !constant && written.contains(&name) && !crate::modules::is_handle(&value);
            let value = if share { value.into_shared() } else { value };
            (name, constant, value)
        })
        .collect();
    refill(scope, &entries);
}

/// What became of one item of a repeated step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemEnd {
    Ok,
    Failed,
    /// The run stopped in it (an interrupt, a script error, a stop).
    Stopped,
    NotStarted,
}

impl ItemEnd {
    fn word(self) -> &'static str {
        match self {
            ItemEnd::Ok => "ok",
            ItemEnd::Failed => "FAIL",
            ItemEnd::Stopped => "stopped",
            ItemEnd::NotStarted => "not started",
        }
    }
}

/// What became of each item of a repeated step, shown when the step ends (Ansible's recap, per item).
#[derive(Default)]
struct Summary {
    rows: Vec<(String, ItemEnd, String)>,
}

impl Summary {
    fn add(&mut self, label: &str, end: ItemEnd, detail: String) {
        self.rows.push((label.to_string(), end, detail));
    }

    fn not_started(&mut self, items: &[(String, Dynamic)]) {
        self.rows.extend(items.iter().map(|(label, _)| (label.clone(), ItemEnd::NotStarted, String::new())));
    }

    /// A plan shows none: it lists each item's step already.
    fn show(&self, keyword: &str, name: &str, controller: &dyn ScriptRun) {
        if self.rows.len() < 2 || controller.is_dry() {
            return;
        }
        let count = |end: ItemEnd| self.rows.iter().filter(|r| r.1 == end).count();
        let mut text = format!(
            "{keyword} \"{name}\" over {} items: {} ok, {} failed, {} stopped, {} not started",
            self.rows.len(),
            count(ItemEnd::Ok),
            count(ItemEnd::Failed),
            count(ItemEnd::Stopped),
            count(ItemEnd::NotStarted)
        );
        for (label, end, detail) in self.rows.iter().filter(|r| r.1 != ItemEnd::Ok) {
            let detail = if detail.is_empty() { String::new() } else { format!("  {detail}") };
            text.push_str(&format!("\n  {:<11}  {label}{detail}", end.word()));
        }
        let terminal = controller.terminal();
        match count(ItemEnd::Ok) == self.rows.len() {
            true => terminal.progress(&text),
            false => terminal.line(&text),
        }
    }
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
    match ItemKind::from_keyword(keyword) {
        None => {
            let options: PhaseOptions = decode_options(options, "phase", &name)?;
            let body = inputs.last().expect("phase has a block");
            controller.phase(&name, &options, pos, &mut || ctx.eval_expression_tree(body))
        }
        Some(kind) => {
            // A gate's options say what it weighs; every other step's say how it runs. An item `--only` left
            // out is skipped with its options unjudged.
            let (step_options, gate_options) = if !controller.selected(&name) {
                (StepOptions::default(), GateOptions::default())
            } else if kind == ItemKind::Gate {
                let gate_options = decode_options::<GateOptions>(options, keyword, &name)?;
                (StepOptions { section: gate_options.section.clone(), ..StepOptions::default() }, gate_options)
            } else {
                (decode_options::<StepOptions>(options, keyword, &name)?, GateOptions::default())
            };
            let spec = StepSpec { kind, name: name.clone(), options: step_options, pos, tolerate: false };
            match kind {
                ItemKind::Step => {
                    let body = inputs.last().expect("step has a block");
                    controller.step(&spec, &mut || Ok(StepOutput::value(ctx.eval_expression_tree(body)?)))
                }
                ItemKind::Check => {
                    let body = inputs.last().expect("check has a block");
                    controller.step(&spec, &mut || check(&name, ctx.eval_expression_tree(body), body.position()))
                }
                ItemKind::Manual => controller.step(&spec, &mut || {
                    // A person vouches for a manual item: --yes never answers it.
                    let answered = controller.ask(&name, &["yes", "no", "skip"], AskKind::Attest, pos)?;
                    let at = controller.now_stamp();
                    let actual = match &answered.note {
                        Some(note) => format!("{} by {} at {at}: {note}", answered.answer, answered.by),
                        None => format!("{} by {} at {at}", answered.answer, answered.by),
                    };
                    let check = CheckRecord::new(&name, answered.answer == "yes", actual, "done".into());
                    Ok(StepOutput { value: answered.answer.into(), check: Some(check), after: After::GoOn })
                }),
                // `from_keyword` never names the REPL's inputs.
                ItemKind::Gate | ItemKind::Repl => {
                    controller.step(&spec, &mut || gate(host, &name, &gate_options, pos))
                }
            }
        }
    }
}

fn decode_options<T: DeserializeOwned + Default + OptionValues>(
    options: Option<(Dynamic, Position)>,
    keyword: &str,
    name: &str,
) -> Result<T, Box<EvalAltResult>> {
    let Some((value, pos)) = options else { return Ok(T::default()) };
    if !value.is_map() {
        return Err(runtime(
            format!("`{keyword} \"{name}\" with` takes a map like #{{ timeout: \"10m\" }}, not {}", value.type_name()),
            pos,
        ));
    }
    let what = format!("{keyword} \"{name}\"");
    let options: T = crate::modules::exec::decode(value, &what, pos)?;
    match options.invalid() {
        Some((key, why)) => Err(runtime(format!("bad options for {what}: {key}: {why}"), pos)),
        None => Ok(options),
    }
}

/// Judges one option written as a literal, as the step will judge it: `golive check` calls this.
pub fn literal_option_problem(kind: &str, key: &str, value: Dynamic) -> Option<String> {
    let mut map = Map::new();
    map.insert(key.into(), value);
    let map = Dynamic::from_map(map);
    fn judge<T: DeserializeOwned + OptionValues>(map: &Dynamic) -> Option<String> {
        match rhai::serde::from_dynamic::<T>(map) {
            Err(e) => Some(crate::modules::exec::decode_error_text(&e)),
            Ok(options) => options.invalid().map(|(_, why)| why),
        }
    }
    match kind {
        "phase" => judge::<PhaseOptions>(&map),
        "gate" => judge::<GateOptions>(&map),
        _ => judge::<StepOptions>(&map),
    }
}

/// A check always gives one shape, `#{ ok, actual, target, ... }`: a `true`/`false` body becomes `#{ ok: b }`, a
/// map is kept as given (extra keys, like a measured `value`, stay for the script), and an error in the body is
/// a failed check with the error as evidence, `#{ ok: false, actual: <the error>, target: "" }`. Only script
/// mistakes and interrupts go further.
fn check(
    name: &str,
    result: Result<Dynamic, Box<EvalAltResult>>,
    pos: Position,
) -> Result<StepOutput, Box<EvalAltResult>> {
    let mut map = match result {
        Err(err) if !err.is_catchable() || crate::engine::diagnostics::is_script_mistake(&err) => return Err(err),
        Err(err) => {
            let mut evidence = Map::new();
            evidence.insert("ok".into(), false.into());
            evidence.insert("actual".into(), crate::diagnostic::one_line(&err).into());
            evidence.insert("target".into(), "".into());
            evidence
        }
        Ok(value) => {
            if let Some(ok) = value.clone().try_cast::<bool>() {
                let mut verdict = Map::new();
                verdict.insert("ok".into(), ok.into());
                verdict
            } else if let Some(map) = value.clone().try_cast::<Map>() {
                map
            } else {
                return Err(runtime(
                    format!(
                        "check \"{name}\" must give true/false or #{{ ok, actual, target }}, not {}",
                        value.type_name()
                    ),
                    pos,
                ));
            }
        }
    };
    let ok = map
        .get("ok")
        .and_then(|v| v.as_bool().ok())
        .ok_or_else(|| runtime(format!("check \"{name}\" gave a map without a true/false `ok`"), pos))?;
    for key in ["actual", "target"] {
        map.entry(key.into()).or_insert_with(|| "".into());
    }
    let text = |key: &str| map.get(key).map(|v| one_line(&v.to_string())).unwrap_or_default();
    let record = CheckRecord::new(name, ok, text("actual"), text("target"));
    Ok(StepOutput { value: Dynamic::from_map(map), check: Some(record), after: After::GoOn })
}

/// Evidence is shown in tables and one-line reports: whitespace runs become single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl OptionValues for GateOptions {
    fn invalid(&self) -> Option<(&'static str, String)> {
        None
    }
}

/// `gate "name" with #{ required: [...], include: ["friday"], nogo: #{ "trigger": bool }, on_nogo: "scripts/rollback_quick.rhai" }`.
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
    /// The way back after a NO-GO (a runbook to run next): printed when the NO-GO ends the run, and when
    /// resume refuses to walk past it.
    pub on_nogo: Option<String>,
    /// The runbook section its decision box fills in ("5.3"); default: its phase's.
    pub section: Option<String>,
}

/// Shows every check so far (and those of the runs it includes), the No-Go triggers and a recommendation,
/// asks the decider GO or NO-GO and who they are, and records the decision.
fn gate(host: &Rc<Host>, name: &str, options: &GateOptions, pos: Position) -> Result<StepOutput, Box<EvalAltResult>> {
    let controller = &host.controller;
    let mut checks = Vec::new();
    for script in &options.include {
        let earlier =
            controller.included_checks(script, &host.config, &host.run_target).map_err(|e| runtime(e, pos))?;
        checks.extend(earlier.into_iter().map(|mut c| {
            c.name = format!("{script}: {}", c.name);
            c
        }));
    }
    checks.extend(controller.checks());
    let board = super::gate_board::GateBoard::new(&checks, options.required.as_deref(), &options.nogo);
    if !controller.is_dry() {
        controller.terminal().block(&board.render(controller.terminal()));
    }
    let answered = controller.ask(name, &GateVerdict::ANSWERS, AskKind::Choice, pos)?;
    if answered.assumed {
        let why = format!(
            "gate \"{name}\" needs a decision the scenario does not give (recommended {})",
            board.recommendation()
        );
        let record = CheckRecord { unknown: true, ..CheckRecord::new(name, false, "no decision".into(), "GO".into()) };
        return Ok(StepOutput {
            value: "unknown".into(),
            check: Some(record),
            after: After::Unsettled(Failure::Unknown(why)),
        });
    }
    // A GO written before the board existed (answers file, --yes, a scenario) never saw why it says NO-GO:
    // only a person who read the board may decide against it.
    let Some(verdict) = GateVerdict::from_answer(&answered.answer) else {
        return Err(runtime(format!("gate \"{name}\": `{}` is neither GO nor NO-GO", answered.answer), pos));
    };
    if answered.prewritten && verdict == GateVerdict::Go && board.recommendation() == GateVerdict::NoGo {
        let why = format!(
            "gate \"{name}\" recommends NO-GO ({}), and the GO given by {} was written before this evidence: it is not applied\n  hint: a person who has read the board decides at a terminal: golive resume",
            board.against().join(", "),
            answered.by
        );
        let record = CheckRecord { unknown: true, ..CheckRecord::new(name, false, "not decided".into(), "GO".into()) };
        return Ok(StepOutput {
            value: "unknown".into(),
            check: Some(record),
            after: After::Unsettled(Failure::Runbook(why)),
        });
    }
    // At a terminal the decider names themselves and may leave notes (the runbook's box has both); an
    // answers file gives them as `by` and `note`.
    let at_terminal = answered.by == controller.identity() && controller.terminal().is_interactive();
    let (by, typed_note) = if at_terminal {
        let by =
            controller.ask(&format!("{name}: who takes this decision (name and role)?"), &[], AskKind::Text, pos)?;
        let notes = controller.ask(&format!("{name}: notes (empty for none)"), &[], AskKind::Text, pos)?;
        (by.answer, Some(notes.answer).filter(|n| !n.trim().is_empty()))
    } else {
        (answered.by, None)
    };
    let at = controller.now_stamp();
    let note = answered.note.or(typed_note).map(|n| format!(": {n}")).unwrap_or_default();
    let record = CheckRecord::new(
        name,
        verdict == GateVerdict::Go,
        format!("{verdict} by {by} at {at} (recommended {}){note}", board.recommendation()),
        "GO".into(),
    );
    controller.verdicts_weighed(name);
    let stops_run = verdict == GateVerdict::NoGo && !controller.step_uses_value(name);
    controller.decided(GateDecision {
        gate: name.into(),
        verdict,
        by: by.clone(),
        at: at.clone(),
        note: (!note.is_empty()).then(|| note.trim_start_matches(": ").to_string()),
        recommended: board.recommendation(),
        stops_run,
        on_nogo: options.on_nogo.clone(),
    })?;
    if !controller.is_dry() {
        let note = (!note.is_empty()).then(|| note.trim_start_matches(": "));
        controller.terminal().block(&super::gate_board::decision_box(name, verdict, &at, &by, note));
    }
    let after = match stops_run {
        false => After::GoOn,
        true => After::Stop(Failure::NoGo {
            gate: name.into(),
            message: no_go_message(name, verdict, &by, &at, options.on_nogo.as_deref()),
        }),
    };
    Ok(StepOutput { value: verdict.word().into(), check: Some(record), after })
}

/// What the operator reads when a NO-GO ends the run, and again when resume refuses to walk past it.
pub fn no_go_message(gate: &str, verdict: GateVerdict, by: &str, at: &str, on_nogo: Option<&str>) -> String {
    let mut text = format!("gate \"{gate}\" said {verdict} ({by}, at {at}): the run ends here");
    if let Some(way_back) = on_nogo {
        text.push_str(&format!("\n  the way back: golive {way_back}"));
    }
    text
}
