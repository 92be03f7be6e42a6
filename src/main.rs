//! The `golive` command: parse, call the library, map failures to exit codes (DESIGN.md, run semantics 9).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use golive::error::Failure;
use golive::run::controller::InDoubtPolicy;
use golive::run::{self, Options, PlanRequest};
use golive::terminal::Verbosity;

#[derive(Parser)]
#[command(
    name = "golive",
    version,
    about = "Executable go-live runbooks",
    // Options may come before the command (`golive --yes run x.rhai`); a bare FILE is a run.
    subcommand_precedence_over_arg = true,
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The runbook to run (same as `golive run FILE`).
    file: Option<PathBuf>,
    /// For a bare FILE (and before `run`, `resume` or `repl`): the script's and the run's options.
    #[command(flatten)]
    script: ScriptArgs,
    #[command(flatten)]
    running: RunArgs,
    #[command(flatten)]
    global: Global,
}

/// What every command understands: where the project is and whether to colour.
#[derive(Args, Clone)]
struct Global {
    /// Use this golive.toml instead of the one found from the current folder upwards.
    #[arg(long = "config", global = true, value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Run as if golive was started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    directory: Option<PathBuf>,
    /// Colour: auto (a terminal, unless NO_COLOR is set; CLICOLOR_FORCE forces it), always or never.
    #[arg(long, global = true, value_enum, default_value_t = golive::terminal::ColorChoice::Auto)]
    color: golive::terminal::ColorChoice,
}

/// Reading a script: for which target, with which one-off values and stdlib.
#[derive(Args, Clone, Default)]
struct ScriptArgs {
    /// The target to act on (default: default_target in golive.toml).
    #[arg(long)]
    target: Option<String>,
    /// A one-off value for config("key"), above golive.toml's (`--var release=1.4.2`); repeatable.
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_var)]
    vars: Vec<String>,
    #[command(flatten)]
    stdlib: StdlibArg,
}

/// Running: who answers the questions, and how much is said.
#[derive(Args, Clone, Default)]
struct RunArgs {
    /// Accept plain confirmations without asking (never a gate, a choice, a manual or checklist item, or a
    /// `danger` confirmation: those need a person or --answers).
    #[arg(long)]
    yes: bool,
    /// Never wait for an answer: a question with no answer is an error that names it.
    #[arg(long)]
    non_interactive: bool,
    /// Answers for questions, gates included (TOML: "question or step" = "answer", or { answer, by, note }).
    #[arg(long, value_name = "FILE")]
    answers: Option<PathBuf>,
    /// Run although another run holds the target's lock (journaled; for when you know why).
    #[arg(long)]
    force: bool,
    /// Say only what went wrong (for cron: a run that went well prints nothing but the script's own output).
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,
    /// Also show each command before it runs, its output as it arrives, and how it ended.
    #[arg(short, long)]
    verbose: bool,
    /// Set by runbook::run: this run is a step of run ID, which holds the target's lock.
    #[arg(long, value_name = "ID", hide = true)]
    within_run: Option<String>,
}

/// `--target` alone: which target's runs a reading command means.
#[derive(Args, Clone, Default)]
struct TargetArg {
    /// The target whose runs are meant (default: any).
    #[arg(long)]
    target: Option<String>,
}

/// `--stdlib` alone.
#[derive(Args, Clone, Default)]
struct StdlibArg {
    /// Where stdlib modules come from (default: $GOLIVE_STDLIB, stdlib/ beside golive.toml, built in).
    #[arg(long, value_name = "DIR")]
    stdlib: Option<PathBuf>,
}

impl ScriptArgs {
    /// The options written before the command, joined with the command's own (the command's win).
    fn after(self, before: &ScriptArgs) -> ScriptArgs {
        ScriptArgs {
            target: self.target.or_else(|| before.target.clone()),
            vars: before.vars.iter().chain(&self.vars).cloned().collect(),
            stdlib: StdlibArg { stdlib: self.stdlib.stdlib.or_else(|| before.stdlib.stdlib.clone()) },
        }
    }

    /// The first of these options written, by name.
    fn given(&self) -> Option<&'static str> {
        [
            (self.target.is_some(), "--target"),
            (!self.vars.is_empty(), "--var"),
            (self.stdlib.stdlib.is_some(), "--stdlib"),
        ]
        .into_iter()
        .find_map(|(set, name)| set.then_some(name))
    }
}

impl RunArgs {
    fn after(self, before: &RunArgs) -> RunArgs {
        RunArgs {
            yes: self.yes || before.yes,
            non_interactive: self.non_interactive || before.non_interactive,
            answers: self.answers.or_else(|| before.answers.clone()),
            force: self.force || before.force,
            quiet: self.quiet || before.quiet,
            verbose: self.verbose || before.verbose,
            within_run: self.within_run.or_else(|| before.within_run.clone()),
        }
    }

    /// The first of these options written, by name.
    fn given(&self) -> Option<&'static str> {
        [
            (self.yes, "--yes"),
            (self.non_interactive, "--non-interactive"),
            (self.answers.is_some(), "--answers"),
            (self.force, "--force"),
            (self.quiet, "--quiet"),
            (self.verbose, "--verbose"),
            (self.within_run.is_some(), "--within-run"),
        ]
        .into_iter()
        .find_map(|(set, name)| set.then_some(name))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a runbook.
    Run {
        file: PathBuf,
        /// Run only these steps; the others yield their last stored value.
        #[arg(long, value_name = "STEP")]
        only: Vec<String>,
        /// A reviewed plan (`golive plan -o FILE`): refuse to start if the script, the stdlib, golive.toml or
        /// the target changed since it was made.
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
        #[command(flatten)]
        script: ScriptArgs,
        #[command(flatten)]
        running: RunArgs,
    },
    /// Show what a run would do, touching nothing.
    Plan {
        file: PathBuf,
        /// Answers for the plan's reads (a file under tests/scenarios/).
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Perform read-only effects for real.
        #[arg(long)]
        live_reads: bool,
        /// Answer questions and gates as a run with `--answers FILE` would (the same file), so the plan
        /// follows the path those answers take.
        #[arg(long, value_name = "FILE")]
        answers: Option<PathBuf>,
        /// Accept plain confirmations, as a run with `--yes` would.
        #[arg(long)]
        yes: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also save the plan, with hashes of what it was made from, for review and `golive run --plan`.
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        script: ScriptArgs,
    },
    /// Carry on a run that stopped: done steps are skipped and give their stored values, every verdict is
    /// restored, failed checks are evaluated again.
    Resume {
        /// A run id (or a unique prefix), or a script whose newest run on the target is meant (default: the
        /// newest whole run, on --target when given).
        run: Option<String>,
        /// What to do with a step that started, never finished, and may have changed things.
        #[arg(long, value_enum, default_value_t = InDoubtPolicy::Ask)]
        in_doubt: InDoubtPolicy,
        /// Decide this gate again, on purpose, after its NO-GO ended the run (journaled).
        #[arg(long, value_name = "GATE")]
        reopen_gate: Option<String>,
        #[command(flatten)]
        script: ScriptArgs,
        #[command(flatten)]
        running: RunArgs,
    },
    /// Compile and lint scripts and the stdlib, and check every config("key") they read resolves for the
    /// target (default: scripts/*.rhai and examples/*.rhai of the project golive.toml belongs to).
    Check {
        files: Vec<PathBuf>,
        /// Check the settings against every target in golive.toml, not only --target.
        #[arg(long)]
        all_targets: bool,
        #[command(flatten)]
        script: ScriptArgs,
    },
    /// List a runbook's phases and steps without running it.
    Steps {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        script: ScriptArgs,
    },
    /// A run's steps, their status and duration (a run id or prefix, or a script: its newest run; default:
    /// the newest whole run, on --target when given).
    Status {
        run: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Then print each new journal entry as the run writes it, from this or any machine sharing its
        /// state store, until the run ends (or its process is gone).
        #[arg(long, conflicts_with = "format")]
        follow: bool,
        #[command(flatten)]
        target: TargetArg,
    },
    /// The project's runs, newest first: script, target, operator, start, duration and outcome.
    Runs {
        /// Only this script's runs (its file name, with or without .rhai).
        #[arg(long)]
        script: Option<String>,
        /// Only runs that ended so: done, failed, NO-GO, interrupted, unfinished.
        #[arg(long, value_name = "OUTCOME")]
        outcome: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[command(flatten)]
        target: TargetArg,
    },
    /// Start a runbook repository here (or in DIR): golive.toml, a first runbook, a scenario and its
    /// snapshot, .gitignore and a CI script running `golive check` and `golive test`.
    Init { dir: Option<PathBuf> },
    /// The project's snapshot tests: each script's plan, with no scenario and under each
    /// tests/scenarios/<script>.<case>.toml, against tests/snapshots/plans__<case>.snap. Exit 1 on any
    /// difference.
    Test {
        /// Only these scripts (default: scripts/ and examples/).
        scripts: Vec<PathBuf>,
        /// Write the plans that differ (or have no snapshot yet) as the new snapshots.
        #[arg(long, conflicts_with = "review")]
        accept: bool,
        /// Show each difference on the terminal and ask whether to store it.
        #[arg(long)]
        review: bool,
        /// Also write a JUnit XML report here, for CI systems (with --faults: one testcase per check).
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Instead of the snapshots: answer each read of every passing check adversarially, one at a time,
        /// under each scenario, and report the checks that still pass (exit 1 on a vacuous check or a
        /// survivor its check does not explain with `survives: "..."`).
        #[arg(long, conflicts_with_all = ["accept", "review"])]
        faults: bool,
        #[command(flatten)]
        script: ScriptArgs,
    },
    /// How much of the runbook document the scripts carry out: each work item listed in `[report] coverage`
    /// weighed measured, partial, asked or missing from the scripts' plans under their scenarios and `golive
    /// test --faults` (Markdown on stdout: docs/coverage.md).
    Coverage {
        #[command(flatten)]
        script: ScriptArgs,
    },
    /// The runbook filled in from the journals: Markdown, self-contained HTML with the timeline, and PDF (by
    /// headless Chromium, where installed). Prints the files' paths.
    Report {
        /// Runs: ids or unique prefixes, or scripts (their newest run). Default: the newest whole run.
        runs: Vec<String>,
        /// Every run from the newest run of this script (or this run id) on: a whole launch, e.g. `friday`.
        #[arg(long, value_name = "SCRIPT|RUN", conflicts_with = "runs")]
        since: Option<String>,
        /// Which files, comma-separated (default: all three).
        #[arg(long, value_enum, value_delimiter = ',', default_values_t = [ReportFormat::Md, ReportFormat::Html, ReportFormat::Pdf])]
        format: Vec<ReportFormat>,
        /// Where to write them (default: .golive/reports/<first run id>/).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        #[command(flatten)]
        target: TargetArg,
    },
    /// A read-only web page of the launch (the report, updated live as the journals grow), for the people
    /// in the launch channel who do not run golive.
    Serve {
        /// Runs: ids or unique prefixes, or scripts. Default: the newest whole run, whichever it is now.
        runs: Vec<String>,
        /// Every run from the newest run of this script (or this run id) on, new ones included as they start.
        #[arg(long, value_name = "SCRIPT|RUN", conflicts_with = "runs")]
        since: Option<String>,
        /// Where to listen (port 0: a free one, printed).
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDRESS:PORT")]
        bind: std::net::SocketAddr,
        #[command(flatten)]
        target: TargetArg,
    },
    /// Shell completions for bash, zsh, fish, elvish or powershell, on stdout.
    Completions { shell: clap_complete::Shell },
    /// The man page (roff), on stdout: `golive man > golive.1`.
    Man,
    /// The functions scripts can call, with their documentation (`golive docs syntax`: golive's words).
    Docs {
        module: Option<String>,
        /// Write Rhai definition files (.d.rhai) of every function here, for editors and language servers.
        #[arg(long, value_name = "DIR")]
        definitions: Option<PathBuf>,
        #[command(flatten)]
        stdlib: StdlibArg,
    },
    /// The go-live team and the emergency contacts from golive.toml.
    Contacts,
    /// An incident console: run any call or a script's steps by hand, journaled.
    Repl {
        file: Option<PathBuf>,
        #[command(flatten)]
        script: ScriptArgs,
        #[command(flatten)]
        running: RunArgs,
    },
}

/// How golive ends, as `--help` and the man page say (src/error.rs gives each failure its code).
const EXIT_CODES: &str = "Exit codes:
  0    done (a plan: the run would complete)
  1    a step or check failed, a gate said NO-GO, or the outcome is unknown
  2    the script, golive.toml or the command line is wrong (nothing ran)
  3    another run holds the target's lock
  129  SIGHUP, 130 Ctrl-C, 143 SIGTERM: the run stopped its effect and closed its journal";

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum ReportFormat {
    Md,
    Html,
    Pdf,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// `--var key=value`, checked when the command line is read.
fn parse_var(text: &str) -> Result<String, String> {
    golive::config::parse_var(text).map(|_| text.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let global = cli.global.clone();
    if let Some(dir) = &global.directory
        && let Err(e) = std::env::set_current_dir(dir)
    {
        eprintln!("error: -C {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    if let Some(file) = &global.config_file {
        if !file.is_file() {
            eprintln!("error: --config {}: no such file", file.display());
            return ExitCode::from(2);
        }
        // SAFETY: set before any thread is started; every config lookup (child runs too) reads it.
        unsafe { std::env::set_var(golive::config::CONFIG_ENV, file) };
    }
    golive::terminal::set_color_choice(global.color);
    let (command, script, running) = match resolve(cli) {
        Ok(resolved) => resolved,
        Err(failure) => return fail(failure),
    };
    if !script.vars.is_empty() {
        // SAFETY: set before any thread is started; every config golive loads (child runs too) reads it.
        unsafe { std::env::set_var(golive::config::VARS_ENV, script.vars.join("\u{1f}")) };
    }
    if prints_only(&command) {
        // `golive docs | head` ends quietly, as any Unix tool does, instead of panicking on a closed pipe.
        // Runs keep Rust's default (SIGPIPE ignored): losing the reader of the output must not kill a step.
        // SAFETY: restores the default disposition of one signal before any thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let options = Options {
        target: script.target,
        yes: running.yes,
        non_interactive: running.non_interactive,
        in_doubt: InDoubtPolicy::Ask,
        stdlib: script.stdlib.stdlib,
        answers: running.answers,
        reopen_gate: None,
        force: running.force,
        within_run: running.within_run,
        verbosity: match (running.quiet, running.verbose) {
            (true, _) => Verbosity::Quiet,
            (_, true) => Verbosity::Verbose,
            _ => Verbosity::Normal,
        },
    };
    match dispatch(command, options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => fail(failure),
    }
}

fn fail(failure: Failure) -> ExitCode {
    let message = failure.message().trim_end();
    if !message.is_empty() {
        let prefix = if message.starts_with("error") || message.starts_with("Error") { "" } else { "error: " };
        let _ = writeln!(std::io::stderr(), "{prefix}{message}");
    }
    ExitCode::from(failure.exit_code() as u8)
}

/// The command to carry out (a bare FILE is `run FILE`) and its script and run options, those written
/// before the command joined to its own. Options before the command are a run's: another command refuses
/// them rather than ignore them.
fn resolve(cli: Cli) -> Result<(Command, ScriptArgs, RunArgs), Failure> {
    let Cli { command, file, script: before, running: before_run, .. } = cli;
    let command = match (command, file) {
        (Some(command), _) => command,
        (None, Some(file)) => {
            // `golive stauts` is a mistyped command, not a script: say so rather than "cannot read stauts".
            let word = file.to_string_lossy().into_owned();
            let bare = !word.contains(['/', '.']) && !file.exists();
            if bare {
                use clap::CommandFactory;
                let cli = Cli::command();
                let names: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
                if let Some(name) = golive::suggest::closest(&word, names.iter().copied()) {
                    return Err(Failure::Usage(format!(
                        "error: no command `{word}`; did you mean `golive {name}`? (a runbook is named by its file, \
                         e.g. scripts/{word}.rhai)"
                    )));
                }
            }
            let (script, running) = (ScriptArgs::default(), RunArgs::default());
            Command::Run { file, only: Vec::new(), plan: None, script, running }
        }
        (None, None) => {
            return Err(Failure::Usage(
                "error: name a runbook to run, e.g. `golive scripts/saturday.rhai`; `golive --help` lists commands"
                    .into(),
            ));
        }
    };
    let only = |script: ScriptArgs| (script, RunArgs::default(), false);
    let (script, running, a_run) = match &command {
        Command::Run { script, running, .. }
        | Command::Resume { script, running, .. }
        | Command::Repl { script, running, .. } => {
            (script.clone().after(&before), running.clone().after(&before_run), true)
        }
        Command::Plan { script, .. }
        | Command::Check { script, .. }
        | Command::Steps { script, .. }
        | Command::Test { script, .. }
        | Command::Coverage { script } => only(script.clone()),
        Command::Status { target, .. }
        | Command::Runs { target, .. }
        | Command::Report { target, .. }
        | Command::Serve { target, .. } => only(ScriptArgs { target: target.target.clone(), ..ScriptArgs::default() }),
        Command::Docs { stdlib, .. } => only(ScriptArgs { stdlib: stdlib.clone(), ..ScriptArgs::default() }),
        Command::Init { .. } | Command::Completions { .. } | Command::Man | Command::Contacts => {
            only(ScriptArgs::default())
        }
    };
    if !a_run && let Some(option) = before.given().or_else(|| before_run.given()) {
        return Err(Failure::Usage(format!(
            "error: {option} before the command is for a run (`golive {option} run FILE`, resume, repl); write the \
             command's own options after it (`golive help COMMAND` lists them)"
        )));
    }
    Ok((command, script, running))
}

/// Commands that only print what they read: they touch nothing, so a closed pipe may end them.
fn prints_only(command: &Command) -> bool {
    matches!(
        command,
        Command::Plan { .. }
            | Command::Steps { .. }
            | Command::Status { .. }
            | Command::Runs { .. }
            | Command::Report { .. }
            | Command::Test { .. }
            | Command::Coverage { .. }
            | Command::Docs { .. }
            | Command::Completions { .. }
            | Command::Man
            | Command::Contacts
            | Command::Check { .. }
    )
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Usage(format!("error: cannot start the async runtime: {e}")))
}

fn dispatch(command: Command, mut options: Options) -> Result<(), Failure> {
    match command {
        Command::Run { file, only, plan, .. } => {
            if let Some(reviewed) = &plan {
                run::reviewed::check(reviewed, &file, &options)?;
            }
            let rt = runtime()?;
            finish_run(run::run(&file, &only, &options, rt.handle()))
        }
        Command::Resume { run: id, in_doubt, reopen_gate, .. } => {
            options.in_doubt = in_doubt;
            options.reopen_gate = reopen_gate;
            let rt = runtime()?;
            let query = run::RunQuery { run_or_script: id, target: options.target.clone() };
            finish_run(run::resume(&query, &options, rt.handle()))
        }
        Command::Plan { file, scenario, live_reads, answers, yes, format, out, .. } => {
            options.answers = answers;
            options.yes = yes;
            let rt = runtime()?;
            let basis = out.as_ref().map(|_| run::reviewed::basis(&file, &options)).transpose()?;
            let plan = run::plan(
                &file,
                &options,
                &PlanRequest { scenario, live_reads, ..PlanRequest::default() },
                rt.handle(),
            )?;
            if let (Some(path), Some(basis)) = (&out, basis) {
                run::reviewed::save(path, basis, &plan)?;
            }
            match format {
                Format::Text => print!("{}", plan.render_text()),
                Format::Json => println!("{}", golive::terminal::printable_json(&plan.json())),
            }
            // The plan exits as the run it predicts would (the outcome line above says why).
            match plan.exit_code {
                0 => Ok(()),
                code => Err(Failure::Predicted(code)),
            }
        }
        Command::Steps { file, format, .. } => {
            let outline = run::steps(&file, &options)?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&outline).expect("outlines serialise")),
                Format::Text => {
                    let mut phase = None;
                    for step in &outline.steps {
                        if step.phase != phase {
                            phase = step.phase.clone();
                            if let Some(p) = &phase {
                                println!("phase \"{p}\"");
                            }
                        }
                        let indent = if step.phase.is_some() { "  " } else { "" };
                        let each = step.each.as_deref().map(|e| format!(" for {e}")).unwrap_or_default();
                        println!("{indent}{:<7}{:?}{each}  (line {})", step.kind, step.name, step.line);
                        for instance in &step.instances {
                            println!("{indent}    {instance:?}");
                        }
                    }
                }
            }
            Ok(())
        }
        Command::Check { files, all_targets, .. } => {
            let files = if files.is_empty() { default_scripts()? } else { files };
            let checked = run::check(&files, &options, all_targets);
            for f in checked.scripts.iter().chain(&checked.blanks) {
                eprintln!("{}", f.trim_end());
            }
            if checked.scripts.is_empty() && checked.blanks.is_empty() {
                println!("{} script(s) and the stdlib compile and pass the lints", files.len());
                Ok(())
            } else if checked.scripts.is_empty() {
                Err(Failure::Usage(format!(
                    "golive.toml still has {} template blank(s) or value(s) production cannot have",
                    checked.blanks.len()
                )))
            } else {
                Err(Failure::Usage(format!("{} of {} script(s) have errors", checked.scripts.len(), files.len())))
            }
        }
        Command::Status { run: id, format, follow, .. } => {
            let (store, id) = run::resolve_run(&run::RunQuery { run_or_script: id, target: options.target.clone() })?;
            let record = store.read(&id)?;
            // A journal keeps what targets printed byte for byte; the terminal gets it escaped.
            match format {
                Format::Text => {
                    let live = run::status::liveness(&store, &id, &record)?;
                    print!("{}", golive::terminal::printable(&run::status::render(&record, live.as_deref())?))
                }
                Format::Json => print!("{}", golive::terminal::printable_json(&run::status::json(&record)?)),
            }
            if follow {
                run::status::follow(&store, &id, record.entries.len(), &mut |line| {
                    use std::io::Write;
                    println!("{}", golive::terminal::printable(line));
                    let _ = std::io::stdout().flush();
                })?;
            }
            Ok(())
        }
        Command::Runs { script, outcome, format, .. } => {
            let config = golive::config::Config::discover(std::path::Path::new("."))?;
            let filter = run::history::Filter { script, target: options.target.clone(), outcome };
            let runs = run::history::list(&config, &filter)?;
            // Journals keep what targets printed (a message may hold it): the terminal gets it escaped.
            match format {
                Format::Text => print!("{}", golive::terminal::printable(&run::history::table(&runs))),
                Format::Json => print!("{}", golive::terminal::printable_json(&run::history::json(&runs))),
            }
            Ok(())
        }
        Command::Report { runs, since, format, out, .. } => {
            let config = golive::config::Config::discover(std::path::Path::new("."))?;
            let selection = run::launch::Selection { runs, since, target: options.target.clone() };
            let formats: Vec<run::launch::Format> = format
                .iter()
                .map(|f| match f {
                    ReportFormat::Md => run::launch::Format::Markdown,
                    ReportFormat::Html => run::launch::Format::Html,
                    ReportFormat::Pdf => run::launch::Format::Pdf,
                })
                .collect();
            let rt = runtime()?;
            let written = run::launch::write_report(&config, &selection, &formats, out.as_deref(), &rt)?;
            for warning in &written.warnings {
                eprintln!("{warning}");
            }
            for file in &written.files {
                println!("{}", file.display());
            }
            Ok(())
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "golive", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .map_err(|e| Failure::Usage(format!("error: cannot write the man page: {e}")))
        }
        Command::Init { dir } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from("."));
            let rt = runtime()?;
            for file in run::init::init(&dir, rt.handle())? {
                println!("wrote {}", file.display());
            }
            println!("next: cd {} && golive check && golive test && golive plan scripts/release.rhai", dir.display());
            Ok(())
        }
        Command::Test { scripts, faults: true, junit, .. } => {
            let config = golive::config::Config::discover(std::path::Path::new("."))?;
            // Only a case with a scenario has answers to turn (coverage observes the others too).
            let mut cases = run::snapshots::cases(&config, &scripts)?;
            cases.retain(|case| case.scenario.is_some());
            let rt = runtime()?;
            let results = run::faults::test(&cases, &options, rt.handle())?;
            print!("{}", run::faults::render(&results, &config.root));
            if let Some(path) = junit {
                std::fs::write(&path, run::faults::junit(&results, &config.root))
                    .map_err(|e| golive::error::io_failure("write", &path, e))?;
            }
            match run::faults::passed_all(&results) {
                true => Ok(()),
                false => Err(Failure::Runbook(
                    "checks that cannot fail, or faults they survive unexplained (`survives: \"why\"` on the check)"
                        .into(),
                )),
            }
        }
        Command::Coverage { .. } => {
            let config = golive::config::Config::discover(std::path::Path::new("."))?;
            let (path, map) = run::coverage::load(&config)?;
            let cases = run::snapshots::cases(&config, &[])?;
            let rt = runtime()?;
            let results = run::faults::test(&cases, &options, rt.handle())?;
            if let Some(failed) = results.iter().find(|r| r.error.is_some()) {
                return Err(Failure::Runbook(format!(
                    "error: the plan of {} failed, so its items cannot be weighed: {}",
                    failed.case.name,
                    failed.error.as_deref().unwrap_or_default()
                )));
            }
            let weighed = run::coverage::weigh(&map, &config.root.join("scripts"), &results, &options)?;
            let file = path.strip_prefix(&config.root).unwrap_or(&path).display().to_string();
            print!("{}", run::coverage::render(&weighed, &map, &file));
            Ok(())
        }
        Command::Test { scripts, accept, review, junit, .. } => {
            use std::io::IsTerminal;
            if review && !std::io::stdin().is_terminal() {
                return Err(Failure::Usage(
                    "error: --review asks on a terminal, and stdin is not one; use --accept to store every difference"
                        .into(),
                ));
            }
            let config = golive::config::Config::discover(std::path::Path::new("."))?;
            let cases = run::snapshots::cases(&config, &scripts)?;
            let update = match (accept, review) {
                (true, _) => run::snapshots::Update::All,
                (_, true) => run::snapshots::Update::Ask,
                _ => run::snapshots::Update::No,
            };
            let rt = runtime()?;
            let results = run::snapshots::test(&config, &cases, &options, update, rt.handle())?;
            print!("{}", run::snapshots::render(&results, &config));
            if let Some(path) = junit {
                std::fs::write(&path, run::snapshots::junit(&results))
                    .map_err(|e| golive::error::io_failure("write", &path, e))?;
            }
            match results.iter().filter(|r| !r.passed()).count() {
                0 => Ok(()),
                n => Err(Failure::Runbook(format!("{n} of {} cases failed", results.len()))),
            }
        }
        Command::Serve { runs, since, bind, .. } => {
            let config = golive::config::Config::discover(std::path::Path::new("."))?;
            let selection = run::launch::Selection { runs, since, target: options.target.clone() };
            let rt = runtime()?;
            golive::serve::serve(config, selection, bind, &rt)
        }
        Command::Repl { file, .. } => {
            let rt = runtime()?;
            golive::repl::repl(file.as_deref(), &options, rt.handle())
        }
        Command::Contacts => {
            let config = golive::config::Config::discover(std::path::Path::new("."))?;
            print!("{}", golive::run::report::contacts(&config));
            Ok(())
        }
        Command::Docs { module, definitions, .. } => {
            if module.as_deref() == Some("syntax") {
                print!("{SYNTAX_DOCS}");
                return Ok(());
            }
            if module.as_deref() == Some("types") {
                print!("{TYPES_DOCS}");
                return Ok(());
            }
            let mut docs = run::docs(&options)?;
            // Each module once, global functions first, registration order kept within a module.
            docs.sort_by(|a, b| a.module.cmp(&b.module));
            if let Some(dir) = &definitions {
                let written = run::definitions(&options, dir)?;
                println!("wrote {written} definition file(s) to {}", dir.display());
                return Ok(());
            }
            let mut modules: Vec<&str> = docs.iter().map(|d| d.module.as_str()).collect();
            modules.dedup();
            if module.is_none() {
                print!("{SYNTAX_DOCS}{TYPES_DOCS}");
            }
            if let Some(m) = &module
                && !docs.iter().any(|d| d.module == *m)
            {
                let hint = golive::suggest::did_you_mean(m, modules.iter().copied().filter(|m| !m.is_empty()));
                return Err(Failure::Usage(format!("error: no module `{m}`{hint}")));
            }
            let mut last = None;
            for doc in docs.iter().filter(|d| module.as_ref().is_none_or(|m| d.module == *m)) {
                if last != Some(&doc.module) {
                    let title = if doc.module.is_empty() { "global functions" } else { doc.module.as_str() };
                    println!("\n## {title}\n");
                    last = Some(&doc.module);
                }
                let effect = if doc.effectful { "  [effect: only inside a step]" } else { "" };
                println!("{}{effect}\n    {}\n", doc.signature(), doc.doc);
            }
            Ok(())
        }
    }
}

/// What scripts get back and what scenario files hold (`golive docs types`).
const TYPES_DOCS: &str = r#"
## types

Target (target(), target("web1")): .name, .kind ("local" or "ssh"), .host, .project_dir, .vars (the
    variables it sees: [vars], its own, --var)

Response (http::get and the other requests): .status (0: nothing answered), .ok (2xx), .url, .body,
    .excerpt (the body's start, for messages), .headers (map), .header(name), .json() (a map; empty when a
    plan assumed the read), .error (why nothing answered), .dns_ms, .connect_ms, .tls_ms, .ttfb_ms,
    .total_ms (NaN when not measured)

command result (local::run, ssh::run, ...): #{ code, stdout, stderr, duration_ms, ok }

check verdict (what a check gives): #{ ok, actual, target, ... } (extra keys stay: a measured `value`)

watch event (metrics::watch's on_warn / on_crit / on_ok / on_change |e|): #{ rule, from, to, value,
    unit, note, shown, advice, at }; levels are "ok", "warn", "crit", "nodata"; an action that returns
    "stop" ends the watch. The watch gives #{ evaluations, transitions, stopped, states }.

gate verdict (let v = gate "..."): "GO" or "NO-GO"

scenario file (tests/scenarios/<script>.<case>.toml; golive plan --scenario, golive test):
    description = "..."
    [test] exit_code = 0                         the exit code the plan must predict (golive test)
    [[exec]] match = "drush status", stdout = "...", stderr, code, target, times
    [[prompt]] match = "Go/No-Go", answer = "GO", times
    [[http]] match = "GET https://site/health", status = 200, body, headers, ttfb_ms, total_ms, error, times
    [[probe]] match = URL, p50_ms, p90_ms, p95_ms, p99_ms, max_ms, errors, throughput_rps, times
    [[tls]] match, days_left, trusted, problem, times       [[dns]] match, records, times
    [[browser]] match = "browser vitals of URL" | "browser flow: visit URL, ...", lcp_ms, cls, inp_ms,
        fcp_ms, ttfb_ms, status, ok, error, url, title, times
    [[include]] script = "friday", checks = { "name" = true }, run = { run_id, exit_code, seconds, days_ago }
        (neither checks nor run: that runbook never ran; a runbook not named: runbook::last_run is assumed)
    [[phase]] name = "Quick rollback", seconds = 171.0    how long a phase with a budget takes
    A rule answers the first effect whose line contains `match` (`times` limits how often); a rule no effect
    matched is reported by golive test.
"#;

/// golive's words and their options, first in `golive docs` (or alone with `golive docs syntax`).
const SYNTAX_DOCS: &str = r#"
## syntax

phase "name" [with #{ window: "06:00-12:00", owner: "DevOps", budget: "5m", section: "3" }] { ... }
    Groups steps; the run prints planned against actual time. A budget is a check of its own at the
    phase's end ("NAME: within its 5m budget"), counted from the phase's first start (resumes included).
    section names the runbook section `golive report` places it (and its steps) in.

step "name" [with #{ timeout, retries, retry_delay, idempotent, section }] { ... }
    The unit of work and checkpoint. timeout bounds its commands (else command_timeout, 10m);
    retries re-runs it after a failure; idempotent re-runs it without asking when it was in doubt.

step "name" for host in hosts [with #{ ..., canary: 1, max_fail: 0, serial: 1 }] { ... }
    The step once per item, each its own checkpoint "name [web2]". canary items run first and alone: a
    failure stops the rest; max_fail items may fail past the canary (failed verdicts at the end); serial
    items form a batch that runs together (at most golive.toml's forks at once), and failures are
    counted where a batch ends. The step ends with a summary line per item that did not succeed.
    (A step inside a Rhai for/while loop is refused: use this form.)

check "name" [with #{ timeout, retries, retry_delay, required, survives }] { true/false or #{ ok, actual, target } }
    Gives #{ ok, actual, target, ... } always. retries polls it until it passes; required: true stops
    the run when it fails, before anything else is written. Inside a check, a command's non-zero exit
    fails it unless the command has #{ allow_fail: true }.

manual "text";
    A person answers yes / no / skip (a terminal or --answers; never --yes): whole words, never prefixes;
    sí / si, omitir (and reintentar, abortar, no go elsewhere) are taken too.

gate "name" [with #{ required: [..], include: ["friday"], nogo: #{ "trigger": bool }, on_nogo: "scripts/x.rhai" }];
    Shows the verdicts, asks GO / NO-GO (never --yes). As a statement a NO-GO ends the run, and resume
    refuses to walk past it until `golive resume RUN --reopen-gate NAME`; on_nogo names the way back.
"#;

fn finish_run((summary, outcome): (Option<run::RunSummary>, Result<(), Failure>)) -> Result<(), Failure> {
    match (summary, outcome) {
        (Some(summary), Err(failure)) if !matches!(failure, Failure::Usage(_)) => {
            let hint = format!(
                "\n  journal: {}\n  status:  golive status {}\n  resume:  golive resume {}",
                summary.journal, summary.run_id, summary.run_id
            );
            Err(match failure {
                // A NO-GO is a decision: the way on is to decide again on purpose, never a plain resume.
                Failure::NoGo { gate, message } => {
                    let hint = format!(
                        "\n  journal: {}\n  status:  golive status {}\n  reopen:  golive resume {} --reopen-gate \"{gate}\" \
                         (asks the gate again with fresh evidence)",
                        summary.journal, summary.run_id, summary.run_id
                    );
                    Failure::NoGo { message: format!("{message}{hint}"), gate }
                }
                Failure::Runbook(m) => Failure::Runbook(format!("{m}{hint}")),
                Failure::Interrupted { code, message } => {
                    Failure::Interrupted { code, message: format!("{message}{hint}") }
                }
                other => other,
            })
        }
        (_, outcome) => outcome,
    }
}

/// scripts/*.rhai and examples/*.rhai beside the golive.toml that this folder belongs to.
fn default_scripts() -> Result<Vec<PathBuf>, Failure> {
    let config = golive::config::Config::discover(std::path::Path::new("."))?;
    let mut files = Vec::new();
    for dir in ["scripts", "examples"] {
        if let Ok(entries) = std::fs::read_dir(config.root.join(dir)) {
            files.extend(
                entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "rhai")),
            );
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Failure::Usage(format!(
            "error: no scripts under {0}/scripts or {0}/examples; name the files to check",
            config.root.display()
        )));
    }
    Ok(files)
}
