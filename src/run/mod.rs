//! Runs: one execution of a runbook with its id, journal, lock and report; and the plan, its dry twin.

pub mod answers;
pub mod controller;
pub mod coverage;
pub mod faults;
pub mod history;
pub mod identity;
pub mod init;
pub mod interrupt;
pub mod journal;
pub mod launch;
pub mod lock;
pub mod plan;
pub mod prior;
pub mod report;
pub mod reviewed;
pub mod schedule;
pub mod snapshots;
pub mod status;
pub mod store;
pub mod verdicts;

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use rhai::{EvalAltResult, Scope};

use self::controller::{Controller, InDoubtPolicy, Mode, Settings, Stop};
use self::interrupt::Interrupts;
use self::journal::Entry;
use self::plan::Plan;
use self::prior::Prior;
use crate::config::Config;
use crate::effects::World;
use crate::effects::live::LiveWorld;
use crate::effects::plan::PlanWorld;
use crate::effects::scenario::Scenario;
use crate::engine::outline::Outline;
use crate::engine::{self, Loaded, Script};
use crate::error::{Failure, Result, io_failure};
use crate::modules::Host;
use crate::secrets::{Redactor, Secrets};
use crate::terminal::Terminal;

pub const STATE_DIR: &str = ".golive";

/// What the operator asked for on the command line, common to every kind of run.
#[derive(Debug, Clone)]
pub struct Options {
    pub target: Option<String>,
    pub yes: bool,
    pub non_interactive: bool,
    pub in_doubt: InDoubtPolicy,
    pub stdlib: Option<PathBuf>,
    /// `--answers FILE`: answers for questions, by question text or step name.
    pub answers: Option<PathBuf>,
    /// `golive resume --reopen-gate NAME`: decide that gate again, on purpose.
    pub reopen_gate: Option<String>,
    /// `--force`: run although another run holds the target (journaled).
    pub force: bool,
    /// `--within-run ID` (set by `runbook::run`): this run is a step of run ID, which holds the target.
    pub within_run: Option<String>,
    /// `-q` / `-v`: how much a run says.
    pub verbosity: crate::terminal::Verbosity,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            target: None,
            yes: false,
            non_interactive: false,
            in_doubt: InDoubtPolicy::Ask,
            stdlib: None,
            answers: None,
            reopen_gate: None,
            force: false,
            within_run: None,
            verbosity: Default::default(),
        }
    }
}

#[derive(Default)]
pub struct PlanRequest {
    pub scenario: Option<PathBuf>,
    pub live_reads: bool,
    /// `golive test --faults`: reads to answer adversarially, by what they read (see `PlanWorld::faults`).
    pub faults: std::collections::BTreeMap<String, crate::effects::fault::Operator>,
    /// Only this item's reads are turned by `faults` (see `PlanWorld::fault_item`).
    pub fault_item: Option<String>,
}

/// A script on disk, read and placed relative to its golive.toml.
pub(crate) struct ScriptFile {
    pub(crate) config: Arc<Config>,
    pub(crate) path: PathBuf,
    /// As errors and plans name it: relative to golive.toml's folder when inside it.
    pub(crate) name: String,
    pub(crate) text: String,
}

impl ScriptFile {
    /// A script that is not a file (the REPL without one), under the golive.toml found from here.
    pub(crate) fn inline(name: &str) -> Result<ScriptFile> {
        ScriptFile::inline_with(name, Config::discover)
    }

    fn inline_with(name: &str, config: fn(&Path) -> Result<Config>) -> Result<ScriptFile> {
        let config = Arc::new(config(Path::new("."))?);
        Ok(ScriptFile { path: config.root.join(name), config, name: name.into(), text: String::new() })
    }

    pub(crate) fn read(path: &Path) -> Result<ScriptFile> {
        ScriptFile::read_with(path, Config::discover)
    }

    /// For reading only (steps, check, docs): outside a project, a stand-in config with the local target.
    pub(crate) fn read_outside_a_project(path: &Path) -> Result<ScriptFile> {
        ScriptFile::read_with(path, Config::discover_or_standalone)
    }

    fn read_with(path: &Path, config: fn(&Path) -> Result<Config>) -> Result<ScriptFile> {
        let bytes = std::fs::read(path).map_err(|e| io_failure("read script", path, e))?;
        let text = script_text(path, bytes)?;
        let config = Arc::new(config(path)?);
        let canonical = std::fs::canonicalize(path).map_err(|e| io_failure("read script", path, e))?;
        let name = canonical
            .strip_prefix(&config.root)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| path.display().to_string());
        Ok(ScriptFile { config, path: canonical, name, text })
    }

    fn sha256(&self) -> String {
        crate::digest::sha256_hex(self.text.as_bytes())
    }

    /// The target the script says it is for: `//! target: NAME` among its first comment lines, with its line.
    fn bound_target(&self) -> Option<(String, usize)> {
        for (at, line) in self.text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if !line.starts_with("//") {
                break;
            }
            if let Some(name) = line.strip_prefix("//!").map(str::trim).and_then(|l| l.strip_prefix("target:")) {
                return Some((name.trim().trim_matches('"').to_string(), at + 1));
            }
        }
        None
    }
}

/// The target a script acts on: `--target`, else the one the script says it is for (`//! target: db1`),
/// else golive.toml's `default_target`. A run, its plan, `check` and `test` agree on it.
pub(crate) fn script_target(file: &ScriptFile, options: &Options) -> Result<String> {
    if options.target.is_some() {
        return run_target(&file.config, options);
    }
    match file.bound_target() {
        Some((name, line)) => file
            .config
            .target(&name)
            .map(|t| t.name)
            .map_err(|e| Failure::Usage(format!("error: {}:{line}: `//! target: {name}`: {e}", file.name))),
        None => run_target(&file.config, options),
    }
}

/// A script's text: UTF-8, with a byte-order mark (as some editors save) dropped; other bytes are an error
/// at their line and column.
fn script_text(path: &Path, bytes: Vec<u8>) -> Result<String> {
    let bytes = match bytes.strip_prefix("\u{feff}".as_bytes()) {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|b| **b == b'\n').count() + 1;
        let start = good.iter().rposition(|b| *b == b'\n').map(|i| i + 1).unwrap_or(0);
        let col = String::from_utf8_lossy(&good[start..]).chars().count() + 1;
        let byte = e.as_bytes()[good.len()];
        Failure::Usage(format!(
            "error: {}:{line}:{col}: byte 0x{byte:02x} is not UTF-8; save the script as UTF-8",
            path.display()
        ))
    })
}

/// The engine, its host and the compiled script, for one run or plan.
pub(crate) struct Session {
    /// The run's controller; the engine and the modules reach it as `host.controller`, through the
    /// interface the engine defines.
    pub(crate) controller: Rc<Controller>,
    pub(crate) host: Rc<Host>,
    pub(crate) loaded: Loaded,
    pub(crate) script: Script,
    pub(crate) file: ScriptFile,
    pub(crate) color: bool,
}

/// Which stdlib modules a session compiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Modules {
    /// Every one: the REPL may call any, the docs describe all, and `check` reports a broken one.
    All,
    /// Those the script reaches (`Stdlib::reached_from`): a run and its plan compile no more.
    ReachedByScript,
}

pub(crate) fn open_session(
    file: ScriptFile,
    world: Box<dyn World>,
    terminal: Arc<Terminal>,
    options: &Options,
    run_target: &str,
    interrupts: Arc<Interrupts>,
    modules: Modules,
) -> Result<Session> {
    let redactor = Arc::clone(terminal.redactor());
    let color = std::env::var_os("NO_COLOR").is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let env_file = file.config.target(run_target).ok().and_then(|t| t.spec.env_file);
    let secrets = Secrets::load(&file.config.root, env_file.as_deref().map(Path::new), redactor)?;
    let answers = options.answers.as_deref().map(answers::Answers::load).transpose()?.map(Arc::new);
    let team = file.config.team.clone();
    let settings = Settings {
        yes: options.yes,
        in_doubt: options.in_doubt,
        identity: identity::operator(),
        answers,
        team,
        command_timeout: file.config.command_timeout,
        script_budget: file.config.script_budget,
    };
    let controller = Rc::new(Controller::new(world, terminal, interrupts, settings));
    let host = Rc::new(Host {
        controller: Rc::clone(&controller) as Rc<dyn crate::modules::run_api::ScriptRun>,
        config: Arc::clone(&file.config),
        secrets,
        run_target: run_target.to_string(),
        compose_versions: Default::default(),
    });
    let stdlib = engine::stdlib::locate(options.stdlib.as_deref(), &file.config.root)?;
    let partial = match modules {
        Modules::All => None,
        Modules::ReachedByScript => {
            Some(stdlib.reached_from(&file.text)).filter(|r| r.modules.len() < stdlib.modules.len())
        }
    };
    let mut loaded = engine::build(&host, partial.as_ref().unwrap_or(&stdlib), color)?;
    let script = match engine::compile(&mut loaded, &file.name, &file.text, color) {
        Ok(script) => script,
        // A script that does not compile is explained with every module loaded: a misspelt module or
        // function is then matched against all of them. Should a module the script never names not
        // compile, the script's own error is the one to give.
        Err(first) if partial.is_some() => {
            loaded = engine::build(&host, &stdlib, color).map_err(|_| first)?;
            engine::compile(&mut loaded, &file.name, &file.text, color)?
        }
        Err(e) => return Err(e),
    };
    let mut reads = loaded.config_reads.clone();
    reads.extend(&script.outline.config_reads);
    let unread = file.config.unread_overrides(&reads.keys, reads.computed);
    if !unread.is_empty() {
        return Err(Failure::Usage(unread.join("\n")));
    }
    Ok(Session { controller, host, loaded, script, file, color })
}

pub(crate) fn run_target(config: &Config, options: &Options) -> Result<String> {
    let name = options.target.clone().unwrap_or_else(|| config.default_target().to_string());
    config.target(&name).map_err(|e| Failure::Usage(format!("error: --target: {e}"))).map(|t| t.name)
}

fn world_for_plan(config: &Arc<Config>, request: &PlanRequest, runtime: &tokio::runtime::Handle) -> Result<PlanWorld> {
    let scenario = request.scenario.as_deref().map(Scenario::load).transpose()?.map(std::rc::Rc::new);
    // Live reads never prompt: a plan asks nobody anything.
    let live_reads = request
        .live_reads
        .then(|| LiveWorld::new(runtime.clone(), Arc::clone(config), Arc::new(Terminal::new(Redactor::new(), true))));
    Ok(PlanWorld { scenario, live_reads, faults: request.faults.clone(), fault_item: request.fault_item.clone() })
}

/// Evaluates the script and turns how it ended into golive's outcome, by the same rules for a run and its
/// plan: a stop is its failure; an end with failed verdicts no gate weighed is exit 1.
fn evaluate(session: &Session) -> Result<()> {
    let mut scope = Scope::new();
    let result = session.loaded.engine.run_ast_with_scope(&mut scope, &session.script.ast);
    let Err(err) = result else { return session.controller.verdict_at_end() };
    let render = |e: &EvalAltResult| {
        session.loaded.sources.render(&session.loaded.explain(e, &session.file.name), session.color)
    };
    let failure = match session.controller.take_stop() {
        Some(Stop::Failure(failure)) => failure,
        Some(Stop::ScriptError(mut e)) => {
            // A stop raised between operations (a script over its budget) knows its place only from the
            // error that unwound the script.
            if e.position().is_none() {
                e.set_position(err.position());
            }
            Failure::Usage(render(&e))
        }
        None if session.controller.interrupts().fired() => {
            let code = session.controller.interrupts().aborting().unwrap_or(130);
            Failure::Interrupted { code, message: "interrupted by the operator".into() }
        }
        // A plan's script that stops on a line reading a value resting on assumed reads (`if !c.ok { throw
        // ... }` after an UNKNOWN check) tells nothing of the run: its outcome is unknown, naming the value.
        None => match session.controller.line_rests_on_assumed_value(&err, &session.file.text, &session.script.ast) {
            Some((value, origin)) => Failure::Unknown(format!(
                "the script stops at line {}: {}; the line reads `{value}`, which rests on {origin}'s assumed reads",
                err.position().line().unwrap_or(0),
                crate::diagnostic::one_line(&err)
            )),
            None => Failure::Usage(render(&err)),
        },
    };
    // The one exit for failure text: it is printed by main, so it is masked here.
    let redactor = session.controller.terminal().redactor();
    Err(failure.map_message(|m| redactor.redact(m).into_owned()))
}

pub fn plan(script: &Path, options: &Options, request: &PlanRequest, runtime: &tokio::runtime::Handle) -> Result<Plan> {
    let file = ScriptFile::read(script)?;
    let world = world_for_plan(&file.config, request, runtime)?;
    // A scenario may name the target its case is for; --target still wins.
    let target = match world.scenario.as_ref().and_then(|s| s.target()).filter(|_| options.target.is_none()) {
        Some(name) => file.config.target(name).map(|t| t.name).map_err(|e| {
            Failure::Usage(format!(
                "error: {}: [test] target: {e}",
                request.scenario.as_deref().unwrap_or(Path::new("")).display()
            ))
        })?,
        None => script_target(&file, options)?,
    };
    let scenario = world.scenario.clone();
    let terminal = Arc::new(Terminal::new(Redactor::new(), true));
    let session =
        open_session(file, Box::new(world), terminal, options, &target, Interrupts::new(), Modules::ReachedByScript)?;
    let outline = session.script.outline.clone();
    // A plan that stops at the first missing setting would hide what follows it: all are named up front.
    let missing = missing_config(&session.file.config, &outline, &session.file.name, &target);
    if !missing.is_empty() {
        return Err(Failure::Usage(missing.join("\n")));
    }
    session.controller.begin(Mode::Plan, None, Prior::default(), outline);
    let outcome = evaluate(&session);
    let mut plan = session.controller.take_plan();
    plan.script = session.file.name.clone();
    plan.target = target;
    plan.scenario = request.scenario.as_ref().map(|p| relative(p, &session.file.config.root));
    plan.unused_rules = scenario.as_ref().map(|s| s.unused()).unwrap_or_default();
    plan.expected_exit = scenario.as_ref().and_then(|s| s.expected_exit());
    let redactor = Arc::clone(session.controller.terminal().redactor());
    (plan.exit_code, plan.outcome) = match (outcome, session.controller.plan_condition()) {
        (Err(Failure::Usage(message)), None) => return Err(Failure::Usage(message)),
        (outcome, Some((condition, why))) => {
            let then = match outcome {
                Ok(()) => "the run would complete".to_string(),
                // Past an unknown, the script works on values no read gave (a failed step's is unit): an error
                // there says the plan cannot see further, not that the script is wrong.
                Err(Failure::Usage(message)) => {
                    format!("the plan could not go further: {}", first_error(&message))
                }
                Err(failure) => format!("the run would stop (exit {}): {}", failure.exit_code(), failure.message()),
            };
            (
                1,
                format!(
                    "unknown: {why}; the plan went on as if {condition}, and if so {then}; answer its reads with --scenario FILE or --live-reads"
                ),
            )
        }
        (Ok(()), None) => (0, "the run would complete (exit 0)".into()),
        (Err(Failure::Unknown(why)), None) => {
            (1, format!("unknown: {why}; answer its reads with --scenario FILE or --live-reads"))
        }
        (Err(failure), None) => {
            (failure.exit_code(), format!("the run would stop (exit {}): {}", failure.exit_code(), failure.message()))
        }
    };
    plan.mask(&redactor);
    Ok(plan)
}

/// A rendered diagnostic's message and place on one line: "Unknown property 'x' (saturday.rhai:329:52)".
fn first_error(rendered: &str) -> String {
    let mut lines = rendered.lines();
    let message = lines.next().unwrap_or_default().trim_start_matches("Error: ").trim_start_matches("error: ");
    let place = lines.next().and_then(|l| l.split_once("[ ")).and_then(|(_, rest)| rest.split_once(" ]")).map(|p| p.0);
    match place {
        Some(place) => format!("{message} ({place})"),
        None => message.to_string(),
    }
}

/// `golive steps`: the static list, without running anything.
pub fn steps(script: &Path, options: &Options) -> Result<Outline> {
    steps_with(script, options, Modules::ReachedByScript)
}

fn steps_with(script: &Path, options: &Options, modules: Modules) -> Result<Outline> {
    let file = ScriptFile::read_outside_a_project(script)?;
    let target = script_target(&file, options)?;
    let world = PlanWorld::default();
    let terminal = Arc::new(Terminal::new(Redactor::new(), true));
    let session = open_session(file, Box::new(world), terminal, options, &target, Interrupts::new(), modules)?;
    let mut outline = session.script.outline;
    // A repeated step over a list known before the run: each item's step, by name, for the target.
    for step in &mut outline.steps {
        let items: Vec<String> = match &step.items {
            Some(crate::engine::outline::Items::Listed(items)) => items.clone(),
            Some(crate::engine::outline::Items::Config(key)) => match session.file.config.var(&target, key) {
                Some(toml::Value::Array(values)) => values
                    .iter()
                    .map(|v| match v {
                        toml::Value::String(s) => s.clone(),
                        toml::Value::Table(t) => t
                            .get("name")
                            .map(|n| n.as_str().unwrap_or_default().to_string())
                            .unwrap_or_else(|| v.to_string()),
                        other => other.to_string(),
                    })
                    .collect(),
                _ => Vec::new(),
            },
            None => Vec::new(),
        };
        step.instances = items.iter().map(|item| format!("{} [{item}]", step.name)).collect();
    }
    Ok(outline)
}

/// `golive check`: compiles and lints each script (and the stdlib with it), and checks that every
/// `config("key")` it reads without a default resolves for the run's target, or for every target with
/// `all_targets`. Returns the failures, rendered.
/// What `golive check` found: each failing script's errors, and golive.toml's template blanks.
pub struct Checked {
    pub scripts: Vec<String>,
    pub blanks: Vec<String>,
}

pub fn check(scripts: &[PathBuf], options: &Options, all_targets: bool) -> Checked {
    let mut failures = Vec::new();
    // Template blanks are golive.toml's, not a script's: each is said once, whatever the number of scripts.
    let mut blanks = std::collections::BTreeSet::new();
    for script in scripts {
        let checked = (|| {
            // Every stdlib module: a broken one is reported even where this script does not call it.
            let outline = steps_with(script, options, Modules::All)?;
            let file = ScriptFile::read_outside_a_project(script)?;
            // Outside a project there is no golive.toml to hold the settings against.
            if file.config.standalone {
                return Ok(());
            }
            let targets = if all_targets { file.config.target_names() } else { vec![script_target(&file, options)?] };
            for target in &targets {
                for blank in file.config.placeholders(target) {
                    blanks.insert(format!(
                        "error: {}: {blank}\n  hint: fill it in before running on target `{target}` (a target with \
                         `rehearsal = true` allows template blanks)",
                        file.config.path.display()
                    ));
                }
            }
            let mut missing: Vec<String> =
                targets.iter().flat_map(|t| missing_config(&file.config, &outline, &file.name, t)).collect();
            for target in &targets {
                let (script_reads, config_names) = missing_secrets(&file.config, &outline, target)?;
                missing.extend(
                    script_reads
                        .into_iter()
                        .map(|why| format!("error: {}: {why}\n  hint: a run on target `{target}` needs it", file.name)),
                );
                // golive.toml's are said once, as its blanks are.
                blanks.extend(config_names.into_iter().map(|why| {
                    format!(
                        "error: {}: {why}\n  hint: golive.toml names it for target `{target}`",
                        file.config.path.display()
                    )
                }));
            }
            if missing.is_empty() { Ok(()) } else { Err(Failure::Usage(missing.join("\n"))) }
        })();
        if let Err(f) = checked {
            failures.push(f.message().to_string());
        }
    }
    Checked { scripts: failures, blanks: blanks.into_iter().collect() }
}

/// Each `config("key")` the script reads without a default that golive.toml does not give `target`.
fn missing_config(config: &Config, outline: &Outline, script: &str, target: &str) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    outline
        .config_keys
        .iter()
        .filter(|use_| config.var(target, &use_.key).is_none() && seen.insert(use_.key.clone()))
        .map(|use_| {
            format!(
                "error: {script}:{}:{}: config(\"{}\") has no value for target `{target}`\n  hint: set it in [vars] or \
                 [targets.{target}.vars] of {}, or give config() a default",
                use_.line,
                use_.col,
                use_.key,
                config.path.display()
            )
        })
        .collect()
}

/// The secrets a run on `target` needs and cannot resolve (env, then .env and the target's env_file), named,
/// never printed: those the script reads by name (`secret("ADMIN_PASSWORD")`), then those golive.toml names
/// (`*_secret` variables). A rehearsal target is left alone (its doubles need none of production's).
fn missing_secrets(config: &Config, outline: &Outline, target: &str) -> Result<(Vec<String>, Vec<String>)> {
    let spec = config.target(target).map_err(Failure::Usage)?.spec;
    if spec.rehearsal {
        return Ok((Vec::new(), Vec::new()));
    }
    fn named(table: &toml::Table, names: &mut std::collections::BTreeSet<String>) {
        for (key, value) in table {
            match value {
                toml::Value::String(name) if key.ends_with("_secret") && !name.is_empty() => {
                    names.insert(name.clone());
                }
                toml::Value::Table(inner) => named(inner, names),
                _ => {}
            }
        }
    }
    let mut named_in_config = std::collections::BTreeSet::new();
    named(&config.vars_for(target), &mut named_in_config);
    let env_file = spec.env_file.as_deref().map(Path::new);
    let secrets = crate::secrets::Secrets::load(&config.root, env_file, Redactor::new())?;
    let unresolved = |names: &std::collections::BTreeSet<String>| -> Vec<String> {
        names.iter().filter_map(|name| secrets.get(name).err()).collect()
    };
    let read_by_script = outline.secret_names.difference(&named_in_config).cloned().collect();
    Ok((unresolved(&read_by_script), unresolved(&named_in_config)))
}

pub fn docs(options: &Options) -> Result<Vec<crate::modules::FnDoc>> {
    // The docs are what an engine for an empty script registers: the same session a plan gets.
    let file = ScriptFile::inline_with("<docs>", Config::discover_or_standalone)?;
    let target = run_target(&file.config, options)?;
    let world = PlanWorld::default();
    let terminal = Arc::new(Terminal::new(Redactor::new(), true));
    Ok(open_session(file, Box::new(world), terminal, options, &target, Interrupts::new(), Modules::All)?.loaded.docs)
}

/// `golive docs --definitions DIR`: Rhai definition files (`.d.rhai`) of every function golive and its stdlib
/// register, written from the engine's own metadata, for editors and language servers. Returns how many.
pub fn definitions(options: &Options, dir: &Path) -> Result<usize> {
    let file = ScriptFile::inline_with("<docs>", Config::discover_or_standalone)?;
    let target = run_target(&file.config, options)?;
    let world = PlanWorld::default();
    let terminal = Arc::new(Terminal::new(Redactor::new(), true));
    let session = open_session(file, Box::new(world), terminal, options, &target, Interrupts::new(), Modules::All)?;
    std::fs::create_dir_all(dir).map_err(|e| io_failure("create", dir, e))?;
    session.loaded.engine.definitions().write_to_dir(dir).map_err(|e| io_failure("write definitions to", dir, e))?;
    let count = std::fs::read_dir(dir)
        .map_err(|e| io_failure("read", dir, e))?
        .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".d.rhai")))
        .count();
    Ok(count)
}

/// What a finished (or stopped) run reports.
pub struct RunSummary {
    pub run_id: String,
    /// Where its journal is: a file, or the state store and the run id.
    pub journal: String,
}

/// `golive run` and `golive run --only`.
pub fn run(
    script: &Path,
    only: &[String],
    options: &Options,
    runtime: &tokio::runtime::Handle,
) -> (Option<RunSummary>, Result<()>) {
    let file = match ScriptFile::read(script) {
        Ok(f) => f,
        Err(e) => return (None, Err(e)),
    };
    let target = match script_target(&file, options) {
        Ok(t) => t,
        Err(e) => return (None, Err(e)),
    };
    let mode = if only.is_empty() { Mode::Run } else { Mode::Only(only.iter().cloned().collect()) };
    live(file, target, mode, None, options, runtime)
}

/// The target's lock for one REPL input, with the REPL session as the holder.
pub(crate) fn lock_target_for_repl(session: &Session, run_id: String) -> Result<lock::RunLock> {
    let holder = store::holder_now(&session.controller.settings().identity, &identity::now_stamp(), &run_id, "repl");
    store::of(&session.file.config)?.lock(&session.host.run_target, &holder)
}

/// Which run `golive resume` and `golive status` mean.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    /// A run id (or a unique prefix of one), or a script path whose newest run is meant.
    pub run_or_script: Option<String>,
    /// Only runs on this target.
    pub target: Option<String>,
}

/// `golive resume [RUN | SCRIPT] [--target T]`: carries on a run that stopped.
pub fn resume(
    query: &RunQuery,
    options: &Options,
    runtime: &tokio::runtime::Handle,
) -> (Option<RunSummary>, Result<()>) {
    let found = (|| {
        let config = Config::discover(Path::new("."))?;
        let store = store::of(&config)?;
        let id = find_run(&config, &store, query)?;
        let record = store.read(&id)?;
        Ok::<_, Failure>((config, store, id, record))
    })();
    let (config, store, id, record) = match found {
        Ok(found) => found,
        Err(e) => return (None, Err(e)),
    };
    if let Some(warning) = &record.torn_tail {
        eprintln!("{warning}");
    }
    let Some(Entry::RunStarted { target, script_sha256, mode, vars, .. }) = record.entries.first().cloned() else {
        return (
            None,
            Err(Failure::Usage(format!("error: {} does not start with a run_started entry", store.location(&id)))),
        );
    };
    let script = recorded_script(&config, &record.entries[0]);
    if mode != "run" {
        return (
            None,
            Err(Failure::Usage(format!(
                "error: run {id} is a `{mode}` run, not a whole run; only whole runs resume (re-run a step with \
                 `golive run SCRIPT --only STEP`)"
            ))),
        );
    }
    let prior = Prior::from_entries(&record.entries);
    if let Some(code) = prior.finished.filter(|c| *c == 0) {
        return (
            None,
            Err(Failure::Usage(format!("error: run {id} already finished (exit {code}); there is nothing to resume"))),
        );
    }
    if let Some(gate) = &options.reopen_gate
        && prior.decision.as_ref().is_none_or(|d| d.gate != *gate)
    {
        return (
            None,
            Err(Failure::Usage(format!(
                "error: --reopen-gate \"{gate}\": run {id} has no NO-GO from a gate by that name"
            ))),
        );
    }
    if let Some(decision) = &prior.decision
        && options.reopen_gate.as_deref() != Some(decision.gate.as_str())
    {
        let mut message = crate::engine::syntax::no_go_message(
            &decision.gate,
            decision.verdict,
            &decision.by,
            &decision.at,
            decision.on_nogo.as_deref(),
        );
        if let Some(note) = &decision.note {
            message.push_str(&format!("\n  notes: {note}"));
        }
        message = format!(
            "error: run {id} ended with a decision; resume does not walk past it\n  {message}\n  \
             to decide again with fresh evidence: golive resume {id} --reopen-gate \"{}\"",
            decision.gate
        );
        return (None, Err(Failure::NoGo { gate: decision.gate.clone(), message }));
    }
    let mut file = match ScriptFile::read(&script) {
        Ok(f) => f,
        Err(e) => return (None, Err(e)),
    };
    // A resumed run is the run that started: the same `--var` values, or it would not be one run.
    let given = file.config.overrides();
    if given.is_empty() {
        Arc::make_mut(&mut file.config).set_overrides(&vars);
    } else if given != vars {
        let started = vars.iter().map(|(k, v)| format!("--var {k}={v}")).collect::<Vec<_>>().join(" ");
        return (
            None,
            Err(Failure::Usage(format!(
                "error: run {id} started with {}; a resume goes on with the values the run started with\n  hint: \
                 golive resume without --var",
                if started.is_empty() { "no --var".to_string() } else { started }
            ))),
        );
    }
    if file.sha256() != script_sha256 {
        eprintln!(
            "warning: {} changed since the run started; completed steps whose source changed are flagged",
            file.name
        );
    }
    live(file, target, Mode::Resume, Some((id, prior)), options, runtime)
}

/// The script a run ran, as this checkout has it: relative to golive.toml's folder when the journal says
/// where it was in the project (another machine's checkout sits elsewhere), else as recorded.
pub(crate) fn recorded_script(config: &Config, started: &Entry) -> PathBuf {
    match started {
        Entry::RunStarted { script_in_project: Some(relative), .. } => config.root.join(relative),
        Entry::RunStarted { script, .. } => script.clone(),
        _ => PathBuf::new(),
    }
}

fn live(
    file: ScriptFile,
    target: String,
    mode: Mode,
    resuming: Option<(String, Prior)>,
    options: &Options,
    runtime: &tokio::runtime::Handle,
) -> (Option<RunSummary>, Result<()>) {
    let interrupts = Interrupts::new();
    let _listening = interrupts.listen(runtime, |why, code| {
        eprintln!("\naborting on {why} (exit {code}): stopping the running effect; `golive resume` carries on")
    });
    let config = Arc::clone(&file.config);
    let terminal = Arc::new(Terminal::new(Redactor::new(), options.non_interactive).with_verbosity(options.verbosity));
    let world = LiveWorld::new(runtime.clone(), Arc::clone(&config), Arc::clone(&terminal));
    let session = match open_session(
        file,
        Box::new(world),
        terminal,
        options,
        &target,
        Arc::clone(&interrupts),
        Modules::ReachedByScript,
    ) {
        Ok(s) => s,
        Err(e) => return (None, Err(e)),
    };
    let identity = session.controller.settings().identity.clone();
    let started_at = identity::now_stamp();
    let prepared = (|| {
        let store = store::of(&config)?;
        let (run_id, prior, resumed) = match resuming {
            Some((id, prior)) => {
                // The in-doubt state belongs to a step of the script: a renamed or removed one cannot be
                // settled by guessing, so resume says which and stops before touching anything.
                if let Some(doubt) = prior.in_doubt.iter().find(|d| session.script.outline.step(&d.step).is_none()) {
                    return Err(Failure::Runbook(format!(
                        "error: step \"{}\" was in doubt when the run died, and {} has no step by that name now \
                         (renamed or removed?)\n  hint: give the step its old name back to settle it, then rename it \
                         after the run",
                        doubt.step, session.file.name
                    )));
                }
                (id, prior, true)
            }
            None => {
                let prior = match &mode {
                    Mode::Only(_) => latest_prior(&config, &session.file.path, &target).unwrap_or_default(),
                    _ => Prior::default(),
                };
                // This run starts now, whatever earlier run `--only` takes its done steps from.
                let prior = Prior { started: Some(started_at.clone()), ..prior };
                (store.reserve(&session.file.path, &target)?, prior, false)
            }
        };
        let holder = store::holder_now(&identity, &started_at, &run_id, &session.file.name);
        let (lock, forced) = match store.lock(&target, &holder) {
            Ok(lock) => (Some(lock), None),
            // A runbook that runbook::run started from the run holding the target acts under its lock.
            Err(Failure::Locked(_))
                if options.within_run.is_some()
                    && store.holder(&target)?.is_some_and(|h| Some(&h.run_id) == options.within_run.as_ref()) =>
            {
                let parent = options.within_run.clone().unwrap_or_default();
                (None, Some(format!("run {parent}, which started this one (runbook::run) and holds the target")))
            }
            Err(Failure::Locked(why)) if options.force => {
                eprintln!("warning: --force: running beside the holder of target `{target}`\n{why}");
                (None, Some(why))
            }
            Err(e) => {
                if !resumed {
                    store.discard(&run_id);
                }
                return Err(e);
            }
        };
        // Every other target this run writes to is locked before its first write there, by the same rules.
        let take: controller::TakeLock = {
            let (store, holder) = (Arc::clone(&store), holder.clone());
            let (force, within) = (options.force, options.within_run.clone());
            Box::new(move |other: &str| match store.lock(other, &holder) {
                Ok(lock) => Ok(Some(lock)),
                Err(Failure::Locked(_))
                    if within.is_some() && store.holder(other)?.is_some_and(|h| Some(&h.run_id) == within.as_ref()) =>
                {
                    Ok(None)
                }
                Err(Failure::Locked(why)) if force => {
                    eprintln!("warning: --force: writing to target `{other}` beside its holder\n{why}");
                    Ok(None)
                }
                Err(e) => Err(e),
            })
        };
        session.controller.lock_targets_as_written(&target, take);
        let redactor = Arc::clone(session.controller.terminal().redactor());
        let journal = if resumed {
            let mut j = store.reopen_journal(&run_id, redactor)?;
            j.append(
                &Entry::RunResumed { by: identity.clone(), pid: std::process::id(), at: started_at.clone() },
                true,
            )?;
            j
        } else {
            let mode_name = match &mode {
                Mode::Only(_) => "only",
                _ => "run",
            };
            store.create_journal(
                &run_id,
                redactor,
                &Entry::RunStarted {
                    schema: journal::SCHEMA,
                    run_id: run_id.clone(),
                    script: session.file.path.clone(),
                    script_in_project: session.file.path.strip_prefix(&config.root).ok().map(Path::to_path_buf),
                    script_sha256: session.file.sha256(),
                    target: target.clone(),
                    mode: mode_name.into(),
                    by: identity.clone(),
                    pid: std::process::id(),
                    at: started_at.clone(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    vars: config.overrides(),
                },
            )?
        };
        let mut journal = journal;
        if let Some(holder) = forced {
            let entry = Entry::LockForced { by: identity.clone(), holder, at: started_at.clone() };
            journal.append(&entry, true)?;
        }
        if let Some(gate) = &options.reopen_gate {
            journal.append(
                &Entry::GateReopened { gate: gate.clone(), by: identity.clone(), at: started_at.clone() },
                true,
            )?;
        }
        let prior = match &options.reopen_gate {
            Some(gate) => {
                let mut prior = prior;
                prior.reopen(gate);
                prior
            }
            None => prior,
        };
        let location = store.location(&run_id);
        Ok::<_, Failure>((run_id, location, journal, prior, lock))
    })();
    let (run_id, location, journal, prior, _lock) = match prepared {
        Ok(p) => p,
        Err(e) => return (None, Err(e)),
    };
    let summary = RunSummary { run_id: run_id.clone(), journal: location };
    // Every secret the script names is masked from the start, resume included: one read only inside an
    // already-done step is masked all the same, and a done step's value that holds it can be replayed.
    for name in &session.script.outline.secret_names {
        let _ = session.host.secrets.get(name);
    }
    let terminal = Arc::clone(session.controller.terminal());
    let verb = if matches!(mode, Mode::Resume) { "resuming" } else { "running" };
    terminal.progress(&format!("{verb} {} on target `{target}` as run {run_id}", session.file.name));
    // A blanket choice for steps in doubt names every step it will settle before it settles any.
    let policy = session.controller.settings().in_doubt;
    if let Some(choice) = policy.choice()
        && !prior.in_doubt.is_empty()
    {
        let steps: Vec<String> = prior.in_doubt.iter().map(|d| format!("step \"{}\"", d.step)).collect();
        terminal.line(&format!("--in-doubt {} applies to every step in doubt: {}", choice.flag(), steps.join(", ")));
    }
    session.controller.begin(mode, Some(journal), prior, session.script.outline.clone());
    let started = Instant::now();
    let outcome = evaluate(&session);
    let (code, message) = match &outcome {
        Ok(()) => (0, "done".to_string()),
        Err(f) => (f.exit_code(), f.message().to_string()),
    };
    session.controller.finish(code, &message);
    if outcome.is_ok() {
        terminal.progress(&format!("\nrun {run_id} done in {}", crate::duration::short(started.elapsed())));
    }
    (Some(summary), outcome)
}

/// The run a query means: a run id or unique prefix; else the newest run of the named script (and target);
/// else the newest whole run (REPL sessions and single-step runs are never picked by a bare query). A newer
/// journal that cannot be read is an error naming it, never skipped for an older run.
fn find_run(config: &Config, store: &store::Store, query: &RunQuery) -> Result<String> {
    let ids = store.run_ids()?;
    let script = query.run_or_script.as_deref().filter(|q| q.ends_with(".rhai") || Path::new(q).is_file());
    if let Some(id) = query.run_or_script.as_deref().filter(|_| script.is_none()) {
        let matches: Vec<&String> = ids.iter().filter(|run| run.starts_with(id)).collect();
        return match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Failure::Usage(format!("error: no run `{id}` {}; `golive runs` lists them", store.describe()))),
            many => Err(Failure::Usage(format!(
                "error: `{id}` names {} runs; give more of the id: {}",
                many.len(),
                many.iter().map(|id| id.as_str()).collect::<Vec<_>>().join(", ")
            ))),
        };
    }
    let script =
        script.map(|s| std::fs::canonicalize(s).map_err(|e| io_failure("read script", Path::new(s), e))).transpose()?;
    for id in ids.iter().rev() {
        let record = store.read(id)?;
        let Some(first @ Entry::RunStarted { target: t, mode, .. }) = record.entries.first() else {
            return Err(Failure::Usage(format!(
                "error: {} has no run_started line (emptied or torn?); name the run you mean, or move that folder away",
                store.location(id)
            )));
        };
        if mode != "run" || query.target.as_ref().is_some_and(|want| want != t) {
            continue;
        }
        if script.as_ref().is_some_and(|want| *want != recorded_script(config, first)) {
            continue;
        }
        return Ok(id.clone());
    }
    let what = match (&script, &query.target) {
        (Some(s), Some(t)) => format!(" of {} on target `{t}`", s.display()),
        (Some(s), None) => format!(" of {}", s.display()),
        (None, Some(t)) => format!(" on target `{t}`"),
        (None, None) => String::new(),
    };
    Err(Failure::Usage(format!("error: no runs{what} {} yet", store.describe())))
}

/// Every run's journal, newest first, with its id; a journal that cannot be read is an error.
pub(crate) fn newest_first(config: &Config) -> Result<Vec<(String, journal::Record)>> {
    let store = store::of(config)?;
    let mut runs = Vec::new();
    for id in store.run_ids()?.into_iter().rev() {
        let record = store.read(&id)?;
        runs.push((id, record));
    }
    Ok(runs)
}

/// The newest journal of this script and target: what `--only` yields for the steps it skips.
pub(crate) fn latest_prior(config: &Config, script: &Path, target: &str) -> Option<Prior> {
    let store = store::of(config).ok()?;
    store.run_ids().ok()?.into_iter().rev().find_map(|id| {
        let record = store.read(&id).ok()?;
        match record.entries.first() {
            Some(first @ Entry::RunStarted { target: t, .. })
                if recorded_script(config, first) == script && t == target =>
            {
                Some(Prior::from_entries(&record.entries))
            }
            _ => None,
        }
    })
}

/// The store and the id of the run a query means.
pub fn resolve_run(query: &RunQuery) -> Result<(Arc<store::Store>, String)> {
    let config = Config::discover(Path::new("."))?;
    let store = store::of(&config)?;
    let id = find_run(&config, &store, query)?;
    Ok((store, id))
}

fn relative(path: &Path, root: &Path) -> String {
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    canonical.strip_prefix(root).map(|p| p.display().to_string()).unwrap_or_else(|_| path.display().to_string())
}

/// The newest run of `script` on `target`, finished or not, from the journals (an unreadable journal is
/// skipped only if it is not that script's: it cannot be told apart, so it is not).
pub fn latest_run(config: &Config, script: &str, target: &str) -> Result<Option<crate::verdict::LastRun>, String> {
    let parse = |run_id: &str, at: &str| {
        chrono::DateTime::parse_from_rfc3339(at)
            .map_err(|_| format!("the journal of run {run_id} has a time golive cannot read: {at}"))
    };
    let store = store::of(config).map_err(|e| e.message().to_string())?;
    for id in store.run_ids().map_err(|e| e.message().to_string())?.into_iter().rev() {
        let Ok(record) = store.read(&id) else { continue };
        let Some(Entry::RunStarted { script: path, target: t, run_id, at: started, mode, .. }) = record.entries.first()
        else {
            continue;
        };
        if t != target || path.file_stem().is_none_or(|s| s != script) {
            continue;
        }
        let started = parse(run_id, started)?;
        let now = chrono::Utc::now().fixed_offset();
        let days = |since: chrono::DateTime<chrono::FixedOffset>| (now - since).num_seconds() as f64 / 86400.0;
        let prior = Prior::from_entries(&record.entries);
        let decisions = prior
            .decisions
            .into_iter()
            .map(|(gate, d)| (gate, crate::verdict::GateDecided { verdict: d.verdict, by: d.by, at: d.at }))
            .collect();
        let watches = prior.checks.iter().filter_map(|c| c.watch.clone()).collect();
        let (exit_code, seconds, days_ago) = match record.entries.last() {
            Some(Entry::RunFinished { exit_code, at, .. }) => {
                let finished = parse(run_id, at)?;
                (Some(*exit_code), Some((finished - started).num_milliseconds() as f64 / 1000.0), days(finished))
            }
            _ => (None, None, days(started)),
        };
        return Ok(Some(crate::verdict::LastRun {
            run_id: run_id.clone(),
            exit_code,
            seconds,
            days_ago,
            decisions,
            watches,
            checks: prior.checks,
            whole: mode != "only",
        }));
    }
    Ok(None)
}

/// The checks of the newest run of `script` (a file stem, like "friday") on `target`: what a gate includes.
/// No such run is one failed criterion, "its newest run", on the board: what was never run never passed.
pub fn latest_checks(config: &Config, script: &str, target: &str) -> Result<Vec<journal::CheckRecord>, String> {
    let store = store::of(config).map_err(|e| e.message().to_string())?;
    for id in store.run_ids().map_err(|e| e.message().to_string())?.into_iter().rev() {
        let Ok(record) = store.read(&id) else { continue };
        if let Some(Entry::RunStarted { script: path, target: t, .. }) = record.entries.first()
            && t == target
            && path.file_stem().is_some_and(|s| s == script)
        {
            return Ok(Prior::from_entries(&record.entries).checks);
        }
    }
    Ok(vec![journal::CheckRecord::new(
        "its newest run",
        false,
        format!("no run of `{script}` on target `{target}` {}", store.describe()),
        format!("a run of `{script}` on `{target}`"),
    )])
}
