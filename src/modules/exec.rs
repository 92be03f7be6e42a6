//! What every command-running module shares: its options and how an outcome becomes a script value.

use rhai::{Array, Dynamic, EvalAltResult, Map, NativeCallContext};
use serde::Deserialize;

use super::core::TargetHandle;
use crate::effects::{Access, Command, Effect, Exec, ExecOutput, Outcome};
use crate::modules::Host;
use crate::script_error::runtime;

/// What `golive docs` says of `ExecOptions`, in one place for every module that takes them (a macro, so
/// `concat!` can build each function's doc from it).
macro_rules! exec_options_doc {
    () => {
        "Options: read_only, allow_fail, dir, assume (what a plan takes a read to print), stdin (fed to the \
         command; never shown or journaled), stream (true, or #{ name: regex }: stdout shown line by line as \
         it arrives, lines matching the log patterns flagged). Returns #{code, stdout, stderr, duration_ms, ok}."
    };
}
pub(crate) use exec_options_doc;

/// The options map of `local::run(cmd, #{ ... })` and friends.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecOptions {
    /// The command only reads: plans may run it for real with `--live-reads`, and resume re-runs a step
    /// that made only reads.
    #[serde(default)]
    pub read_only: bool,
    /// A non-zero exit gives the result instead of failing the step.
    #[serde(default)]
    pub allow_fail: bool,
    pub dir: Option<String>,
    /// What a plan takes this read to print when no scenario answers it (the read's own default, beside
    /// the code that parses it); a check that uses it is still UNKNOWN in the plan.
    pub assume: Option<String>,
    /// Fed to the command on stdin, never shown or journaled: how a password reaches a client without
    /// appearing in any process list (`IFS= read -r PGPASSWORD; export PGPASSWORD; ...`).
    pub stdin: Option<String>,
    /// Show stdout line by line as it arrives (`docker-compose logs -f`), flagging lines that match the
    /// log patterns (logs::scan's defaults, plus these).
    pub stream: Option<Stream>,
}

/// `stream: true`, or `stream: #{ name: regex }` to flag the team's patterns too.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Stream {
    On(bool),
    Flagging(std::collections::BTreeMap<String, String>),
}

impl ExecOptions {
    /// The compiled flag patterns when the output is streamed; a bad expression is an error at `pos`.
    pub fn stream(&self, pos: rhai::Position) -> Result<Option<Vec<(String, regex::Regex)>>, Box<EvalAltResult>> {
        let extra: Vec<(String, String)> = match &self.stream {
            None | Some(Stream::On(false)) => return Ok(None),
            Some(Stream::On(true)) => Vec::new(),
            Some(Stream::Flagging(named)) => named.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        super::logs::compile("stream", &extra).map(Some).map_err(|e| runtime(e, pos))
    }
}

impl ExecOptions {
    pub fn from_map(ctx: &NativeCallContext, map: Map) -> Result<ExecOptions, Box<EvalAltResult>> {
        decode(Dynamic::from_map(map), &format!("`{}`", ctx.fn_name()), ctx.call_position())
    }

    pub fn access(&self) -> Access {
        if self.read_only { Access::Read } else { Access::Write }
    }
}

/// An argv array from a script: every element must be a string.
pub fn strings(ctx: &NativeCallContext, argv: Array) -> Result<Vec<String>, Box<EvalAltResult>> {
    argv.into_iter()
        .enumerate()
        .map(|(i, a)| {
            a.into_string().map_err(|t| runtime(format!("argument {i} is a {t}, not a string"), ctx.call_position()))
        })
        .collect()
}

/// Runs `command` on `target` through the controller and turns the outcome into the script's result map;
/// shared by local, ssh, docker and drush. `module` names the caller in errors (`ssh::run`).
pub fn command(
    host: &Host,
    ctx: &NativeCallContext,
    module: &str,
    target: &TargetHandle,
    command: Command,
    options: Map,
) -> Result<Map, Box<EvalAltResult>> {
    let options = ExecOptions::from_map(ctx, options)?;
    let program = command.program().to_string();
    let exec = Exec {
        target: target.name.clone(),
        command,
        dir: options.dir.clone(),
        access: options.access(),
        assumed: options.assume.clone(),
        stdin: options.stdin.clone(),
        stream: options.stream(ctx.call_position())?,
    };
    let effect = Effect::Exec(exec);
    let what = host.controller.terminal().redactor().redact(&effect.describe()).into_owned();
    let caller = format!("{module}::{}", ctx.fn_name());
    let outcome = host.controller.perform(effect, &caller, ctx.call_position())?;
    result_map(ctx, outcome, &what, &program, options.allow_fail, host.controller.in_check())
}

/// An options map as a typed struct. serde's errors carry no position and cannot be caught by scripts,
/// so they become ordinary errors at `pos` that name what the options were for.
pub fn decode<T: serde::de::DeserializeOwned>(
    value: Dynamic,
    what: &str,
    pos: rhai::Position,
) -> Result<T, Box<EvalAltResult>> {
    rhai::serde::from_dynamic(&value)
        .map_err(|e| runtime(format!("bad options for {what}: {}", decode_error_text(&e)), pos))
}

/// serde's error for an options map, without Rhai's prefix and position (there is none to give).
pub fn decode_error_text(err: &EvalAltResult) -> String {
    let text = err.to_string();
    text.split(" (line").next().unwrap_or(&text).trim_start_matches("Syntax error: ").to_string()
}

/// The `stdout` of a command's result map.
pub fn stdout(result: &Map) -> String {
    result.get("stdout").map(|s| s.to_string()).unwrap_or_default()
}

/// `#{ code, stdout, stderr, duration_ms, ok }`, or the step's failure when the command failed.
pub fn result_map(
    ctx: &NativeCallContext,
    outcome: Outcome,
    what: &str,
    program: &str,
    allow_fail: bool,
    in_check: bool,
) -> Result<Map, Box<EvalAltResult>> {
    let Outcome::Exec(out) = outcome else {
        return Err(runtime(format!("`{what}` got no command result"), ctx.call_position()));
    };
    if !allow_fail {
        check_exit(&out, what, program).map_err(|mut m| {
            // A check whose verdict is the exit code (`... .code != 0`) fails here before its body can judge.
            if in_check && out.code != 127 {
                m.push_str(
                    "\n  hint: inside a check, pass #{ allow_fail: true } to judge the exit code in the check's body",
                );
            }
            runtime(m, ctx.call_position())
        })?;
    }
    let mut map = Map::new();
    map.insert("ok".into(), (out.code == 0).into());
    map.insert("code".into(), out.code.into());
    map.insert("stdout".into(), out.stdout.into());
    map.insert("stderr".into(), out.stderr.into());
    map.insert("duration_ms".into(), (out.duration_ms as i64).into());
    Ok(map)
}

fn check_exit(out: &ExecOutput, what: &str, program: &str) -> Result<(), String> {
    match out.code {
        0 => Ok(()),
        127 => Err(format!("command not found: `{program}` (exit 127) in `{what}`; is it installed and on PATH?")),
        code => {
            let stream = if out.stderr.trim().is_empty() { &out.stdout } else { &out.stderr };
            let tail: Vec<&str> = stream.trim_end().lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            let detail = if tail.is_empty() { String::new() } else { format!(":\n    {}", tail.join("\n    ")) };
            Err(format!("`{what}` exited with {code}{detail}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(code: i64, stderr: &str) -> ExecOutput {
        ExecOutput { code, stdout: String::new(), stderr: stderr.into(), duration_ms: 1 }
    }

    #[test]
    fn exit_127_names_the_missing_command() {
        let err = check_exit(&out(127, "sh: drush: not found"), "local$ drush st", "drush").unwrap_err();
        assert!(err.starts_with("command not found: `drush`"), "{err}");
    }

    #[test]
    fn failure_shows_the_last_lines_of_stderr() {
        let err = check_exit(&out(1, "a\nb\nc\nd\ne\nf\n"), "x", "x").unwrap_err();
        assert_eq!(err, "`x` exited with 1:\n    b\n    c\n    d\n    e\n    f");
        assert!(check_exit(&out(0, ""), "x", "x").is_ok());
    }
}
