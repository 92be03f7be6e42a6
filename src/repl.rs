//! `golive repl [SCRIPT]`: an incident console. Any Rhai expression with every module loaded, variables
//! kept between lines, the script's setup already run (its steps are skipped), and `:run STEP` to re-run
//! steps through the script in only-mode. Every input is journaled as an ad-hoc step of a REPL run.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use rhai::{AST, Dynamic, Scope};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper};

use crate::effects::live::LiveWorld;
use crate::error::{Failure, Result};
use crate::run::controller::{Mode, Stop};
use crate::run::interrupt::Interrupts;
use crate::run::journal::{self, Entry};
use crate::run::{self, Options, PlanRequest, STATE_DIR, ScriptFile, identity};
use crate::secrets::Redactor;
use crate::terminal::Terminal;

const HELP: &str = "\
any Rhai expression or statement; an unfinished block continues on the next line
:steps            the script's phases and steps
:run STEP...      re-run these steps of the script (only-mode, journaled as a run of its own)
:plan STEP        what STEP would do, touching nothing
:status           the newest run's steps
:load FILE        run a file of inputs as one input (functions and variables it defines stay)
:reload           rebuild the engine and the stdlib, and run the script's setup again
:help [MODULE]    this text, or a module's functions
:quit             leave (Ctrl-D too); Ctrl-C cancels a running effect and returns here";

pub fn repl(script: Option<&Path>, options: &Options, runtime: &tokio::runtime::Handle) -> Result<()> {
    let history = {
        let file = match script {
            Some(s) => ScriptFile::read(s)?,
            None => ScriptFile::inline("<repl>")?,
        };
        file.config.root.join(STATE_DIR).join("repl_history")
    };
    let mut editor: Editor<ReplHelper, rustyline::history::DefaultHistory> =
        Editor::new().map_err(|e| Failure::Usage(format!("error: cannot start the line editor: {e}")))?;
    let _ = editor.load_history(&history);
    eprintln!("golive repl: :help for commands, :quit to leave");
    loop {
        match console(script, options, runtime, &mut editor, &history)? {
            Next::Reload => eprintln!("reloaded: engine, stdlib and the script's setup (REPL variables are gone)"),
            Next::Quit => {
                use std::io::IsTerminal;
                let failed = FAILED_INPUTS.load(std::sync::atomic::Ordering::Relaxed);
                // Piped inputs are a script: one that failed makes the REPL fail, as a script would.
                if failed > 0 && !std::io::stdin().is_terminal() {
                    return Err(Failure::Runbook(format!("{failed} input(s) failed")));
                }
                return Ok(());
            }
        }
    }
}

enum Next {
    Reload,
    Quit,
}

fn console(
    script: Option<&Path>,
    options: &Options,
    runtime: &tokio::runtime::Handle,
    editor: &mut Editor<ReplHelper, rustyline::history::DefaultHistory>,
    history: &Path,
) -> Result<Next> {
    let file = match script {
        Some(s) => ScriptFile::read(s)?,
        None => ScriptFile::inline("<repl>")?,
    };
    let config = Arc::clone(&file.config);
    let target = run::run_target(&config, options)?;
    let interrupts = Interrupts::new();
    let _listening = interrupts.listen(runtime, |why, _| eprintln!("\naborting on {why}"));
    let terminal = Arc::new(Terminal::new(Redactor::new(), false));
    // The script's setup runs with its steps skipped: nothing worth a line, so it runs quietly.
    terminal.set_verbosity(crate::terminal::Verbosity::Quiet);
    let world = LiveWorld::new(runtime.clone(), Arc::clone(&config), Arc::clone(&terminal));
    // Every stdlib module: the operator may call any of them from the prompt.
    let session = run::open_session(
        file,
        Box::new(world),
        terminal,
        options,
        &target,
        Arc::clone(&interrupts),
        run::Modules::All,
    )?;
    let controller = &session.controller;
    let store = run::store::of(&config)?;
    let run_id = store.reserve(Path::new("repl"), &target)?;
    let by = controller.settings().identity.clone();
    let journal = store.create_journal(
        &run_id,
        Arc::clone(controller.terminal().redactor()),
        &Entry::RunStarted {
            schema: journal::SCHEMA,
            run_id: run_id.clone(),
            script: session.file.path.clone(),
            script_in_project: None,
            script_sha256: String::new(),
            target: target.clone(),
            mode: "repl".into(),
            by,
            pid: std::process::id(),
            at: identity::now_stamp(),
            version: env!("CARGO_PKG_VERSION").into(),
            vars: config.overrides(),
        },
    )?;
    // The script's setup runs (targets, variables, functions); its steps are skipped.
    let prior = run::latest_prior(&config, &session.file.path, &target).unwrap_or_default();
    for name in &session.script.outline.secret_names {
        let _ = session.host.secrets.get(name);
    }
    controller.begin(Mode::Only(Default::default()), Some(journal), prior, session.script.outline.clone());
    let mut scope = Scope::new();
    if let Err(e) = session.loaded.engine.run_ast_with_scope(&mut scope, &session.script.ast) {
        controller.take_stop();
        eprintln!("{}", session.loaded.sources.render(&session.loaded.explain(&e, &session.file.name), session.color));
    }
    controller.terminal().set_verbosity(options.verbosity);
    eprintln!(
        "run {run_id} on target `{target}`{}",
        script.map(|s| format!(", script {}", s.display())).unwrap_or_default()
    );
    editor.set_helper(Some(ReplHelper::new(&session)));
    let mut functions = session.script.ast.clone_functions_only();
    let mut count = 0;
    let next = loop {
        let line = match editor.readline("golive> ") {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break Next::Quit,
            Err(e) => {
                eprintln!("error: {e}");
                break Next::Quit;
            }
        };
        let input = line.trim();
        if input.is_empty() {
            continue;
        }
        // Kept after it ran, masked with every secret known by then: the history never holds one.
        let remember = |editor: &mut Editor<ReplHelper, rustyline::history::DefaultHistory>| {
            let _ = editor.add_history_entry(controller.terminal().redactor().redact(input).into_owned());
        };
        if let Some(path) = input.strip_prefix(":load ") {
            remember(editor);
            match std::fs::read_to_string(path.trim()) {
                Ok(text) => {
                    count += 1;
                    evaluate(&session, &mut scope, &mut functions, &text, count);
                }
                Err(e) => {
                    eprintln!("error: cannot read {}: {e}", path.trim());
                    FAILED_INPUTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            continue;
        }
        if let Some(command) = input.strip_prefix(':') {
            remember(editor);
            match meta(command, &session, script, options, runtime) {
                Some(next) => break next,
                None => continue,
            }
        }
        count += 1;
        evaluate(&session, &mut scope, &mut functions, input, count);
        remember(editor);
    };
    let _ = std::fs::create_dir_all(history.parent().unwrap_or(Path::new(".")));
    let _ = editor.save_history(history);
    controller.finish(0, "repl closed");
    Ok(next)
}

/// Inputs that failed: piped into a REPL (a script of inputs), any failure makes it exit 1.
static FAILED_INPUTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One input: compiled against the scope (so strict variables know what exists), run as an ad-hoc step.
fn evaluate(session: &run::Session, scope: &mut Scope, functions: &mut AST, input: &str, count: usize) {
    let engine = &session.loaded.engine;
    let controller = &session.controller;
    let ast = match engine.compile_with_scope(scope, input) {
        Ok(ast) => ast,
        Err(e) => {
            let diagnostic = crate::engine::diagnostics::from_parse_error(&e, "<repl>", &session.loaded.known);
            eprintln!("error: {} (line {}, column {})", diagnostic.message, diagnostic.line, diagnostic.col);
            FAILED_INPUTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
    };
    *functions += ast.clone_functions_only();
    let mut program = functions.clone();
    program += ast;
    // Each input takes the target's lock while it runs, like any run: the REPL never acts beside a
    // runbook that holds the target, and holds nothing while it waits at the prompt.
    let _lock = match run::lock_target_for_repl(session, controller.run_id().unwrap_or_default()) {
        Ok(lock) => lock,
        Err(failure) => {
            controller.terminal().line(failure.message());
            return;
        }
    };
    // The budget for code outside steps counts from this input, not from when the session began.
    controller.script_begins();
    let is_step = ["step ", "check ", "manual ", "gate ", "phase "].iter().any(|k| input.starts_with(k));
    let result = if is_step {
        engine.eval_ast_with_scope::<Dynamic>(scope, &program)
    } else {
        let excerpt: String = input.chars().take(60).collect();
        let name = format!("repl {count}: {excerpt}");
        controller.adhoc(&name, &mut || engine.eval_ast_with_scope::<Dynamic>(scope, &program))
    };
    let cancelled = controller.interrupts().fired();
    controller.interrupts().settle();
    match result {
        Ok(value) if value.is_unit() => {}
        Ok(value) => controller.output(&format!("= {value:?}")),
        Err(e) => {
            let why = match controller.take_stop() {
                Some(Stop::Failure(f)) => f.message().to_string(),
                Some(Stop::ScriptError(e)) => crate::diagnostic::one_line(&e),
                None => crate::diagnostic::one_line(&e),
            };
            let why = if cancelled { "cancelled (Ctrl-C)".to_string() } else { why };
            controller.terminal().line(&format!("error: {why}"));
            FAILED_INPUTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// A `:command`. Returns what the console does next, or None to keep reading.
fn meta(
    command: &str,
    session: &run::Session,
    script: Option<&Path>,
    options: &Options,
    runtime: &tokio::runtime::Handle,
) -> Option<Next> {
    let (name, rest) = command.split_once(' ').unwrap_or((command, ""));
    let rest = rest.trim();
    let needs_script = || {
        if script.is_none() {
            eprintln!("no script: start the REPL as `golive repl SCRIPT` to use :{name}");
        }
        script
    };
    match name {
        "quit" | "q" | "exit" => return Some(Next::Quit),
        "reload" => return Some(Next::Reload),
        "help" | "h" if rest.is_empty() => eprintln!("{HELP}"),
        "help" | "h" => {
            let docs: Vec<_> = session.loaded.docs.iter().filter(|d| d.module == rest).collect();
            if docs.is_empty() {
                eprintln!("no module `{rest}`");
            }
            for doc in docs {
                eprintln!("{}\n    {}", doc.signature(), doc.doc);
            }
        }
        "steps" => {
            for step in &session.script.outline.steps {
                eprintln!("{:<7}{:?}  (line {})", step.kind, step.name, step.line);
            }
        }
        "status" => match run::resolve_run(&run::RunQuery::default()).and_then(|(store, id)| {
            let record = store.read(&id)?;
            run::status::render(&record, run::status::liveness(&store, &id, &record)?.as_deref())
        }) {
            Ok(text) => eprint!("{text}"),
            Err(e) => eprintln!("{}", e.message()),
        },
        "run" => {
            let script = needs_script()?;
            let steps = step_names(rest);
            if steps.is_empty() {
                eprintln!("usage: :run STEP...  (quote names with spaces: :run \"maintenance on\")");
                return None;
            }
            let (_, outcome) = run::run(script, &steps, options, runtime);
            if let Err(f) = outcome {
                eprintln!("{}", f.message());
            }
        }
        "plan" => {
            let script = needs_script()?;
            let wanted = step_names(rest);
            match run::plan(script, options, &PlanRequest::default(), runtime) {
                Ok(plan) => {
                    let mut plan = plan;
                    plan.items.retain(|item| match item {
                        run::plan::PlanItem::Step { name, .. } => wanted.is_empty() || wanted.contains(name),
                        _ => false,
                    });
                    eprint!("{}", plan.render_text());
                }
                Err(e) => eprintln!("{}", e.message()),
            }
        }
        other => eprintln!("unknown command :{other}; :help lists them"),
    }
    None
}

/// `"maintenance on" backup` -> ["maintenance on", "backup"]
fn step_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            names.push(quoted[..end].to_string());
            rest = quoted.get(end + 1..).unwrap_or("").trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            names.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
        }
    }
    names
}

struct ReplHelper {
    words: Vec<String>,
}

impl ReplHelper {
    fn new(session: &run::Session) -> ReplHelper {
        let mut words: Vec<String> = session
            .loaded
            .docs
            .iter()
            .map(|d| if d.module.is_empty() { d.name.clone() } else { format!("{}::{}", d.module, d.name) })
            .collect();
        words.extend(session.host.config.target_names().into_iter().map(|t| format!("\"{t}\"")));
        words.extend(session.script.outline.steps.iter().map(|s| format!("\"{}\"", s.name)));
        words.extend([":steps", ":run", ":plan", ":status", ":load", ":reload", ":help", ":quit"].map(String::from));
        words.sort();
        words.dedup();
        ReplHelper { words }
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '_' | ':' | '"')))
            .map(|(i, c)| i + c.len_utf8())
            .unwrap_or(0);
        let word = &before[start..];
        let candidates = self
            .words
            .iter()
            .filter(|w| w.starts_with(word) && !word.is_empty())
            .map(|w| Pair { display: w.clone(), replacement: w.clone() })
            .collect();
        Ok((start, candidates))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _: usize) -> Cow<'l, str> {
        Cow::Borrowed(line)
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if unfinished(ctx.input()) { ValidationResult::Incomplete } else { ValidationResult::Valid(None) })
    }
}

impl Helper for ReplHelper {}

/// An open bracket, brace, parenthesis, string or a trailing backslash: the input goes on.
fn unfinished(input: &str) -> bool {
    if input.trim_end().ends_with('\\') {
        return true;
    }
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in input.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '`' | '\'' => quote = Some(c),
                '{' | '[' | '(' => depth += 1,
                '}' | ']' | ')' => depth -= 1,
                _ => {}
            },
        }
    }
    depth > 0 || quote.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_blocks_strings_and_continuations() {
        assert!(unfinished("fn f() {"));
        assert!(unfinished("let a = [1,"));
        assert!(unfinished("let s = `multi"));
        assert!(unfinished("let x = 1 + \\"));
        assert!(!unfinished("let x = ;"));
        assert!(!unfinished("step \"a\" { print(\"}\"); }"));
    }

    #[test]
    fn step_names_take_quotes() {
        assert_eq!(step_names("\"maintenance on\" backup"), ["maintenance on", "backup"]);
    }
}
