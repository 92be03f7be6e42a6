//! `ssh::*`: commands and files on a target. A shell string is logged verbatim and run by the target's
//! login shell; an argv has each argument quoted, so hostile strings arrive as data, never as code.

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, Module, NativeCallContext};

use super::core::TargetHandle;
use super::exec::{ExecOptions, command, result_map, strings};
use super::{Registrar, Sig};
use crate::effects::{Command, Effect, Exec, Outcome};
use crate::modules::Host;
use crate::script_error::runtime;

const RUN_DOC: &str = concat!(
    "Runs a shell string on the target (logged verbatim); fails the step on a non-zero exit. ",
    super::exec::exec_options_doc!()
);
const EXEC_DOC: &str = "Runs a program with arguments on the target; each argument is quoted, so it arrives byte \
    for byte. Options as for ssh::run.";
const EACH_DOC: &str = "Runs a shell string on several targets at once (at most max_sessions per target). \
    Returns #{TARGET: result}; fails after all finish if any failed, naming each.";

pub fn register(engine: &mut Engine, reg: &mut Registrar, host: &Rc<Host>) {
    let mut m = Module::new();
    let h = Rc::clone(host);
    reg.in_module_with_options(
        &mut m,
        "ssh",
        Sig { name: "run", params: &["target: Target", "cmd: string"], returns: "map", doc: RUN_DOC, effectful: true },
        move |ctx: NativeCallContext, t: TargetHandle, cmd: ImmutableString, o: Map| {
            command(&h, &ctx, "ssh", &t, Command::Shell(cmd.into()), o)
        },
    );
    let h = Rc::clone(host);
    reg.in_module_with_options(
        &mut m,
        "ssh",
        Sig {
            name: "exec",
            params: &["target: Target", "argv: array"],
            returns: "map",
            doc: EXEC_DOC,
            effectful: true,
        },
        move |ctx: NativeCallContext, t: TargetHandle, argv: Array, o: Map| {
            let argv = strings(&ctx, argv)?;
            command(&h, &ctx, "ssh", &t, Command::Argv(argv), o)
        },
    );
    let h = Rc::clone(host);
    reg.in_module(&mut m, "ssh", Sig { name: "upload", params: &["target: Target", "local: string", "remote: string"], returns: "int",
            doc: "Copies a local file to the target; the remote file appears whole or not at all. Returns the bytes sent.", effectful: true },
        move |ctx: NativeCallContext, t: TargetHandle, local: &str, remote: &str| {
            let effect = Effect::Upload { target: t.name.clone(), local: local.into(), remote: remote.into() };
            transferred(h.controller.perform(effect, "ssh::upload", ctx.call_position())?)
        });
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "ssh",
        Sig {
            name: "download",
            params: &["target: Target", "remote: string", "local: string"],
            returns: "int",
            doc: "Copies a file from the target to this machine; the local file appears whole or not at all.",
            effectful: true,
        },
        move |ctx: NativeCallContext, t: TargetHandle, remote: &str, local: &str| {
            let effect = Effect::Download { target: t.name.clone(), remote: remote.into(), local: local.into() };
            transferred(h.controller.perform(effect, "ssh::download", ctx.call_position())?)
        },
    );
    let h = Rc::clone(host);
    reg.in_module_with_options(
        &mut m,
        "ssh",
        Sig {
            name: "rsync",
            params: &["target: Target", "src: string", "dst: string"],
            returns: "map",
            doc: "Runs rsync ON the target (-a --stats; options: delete, compress, dry_run, excludes). Returns #{files, bytes, code, stdout, ...}.",
            effectful: true,
        },
        move |ctx: NativeCallContext, t: TargetHandle, src: ImmutableString, dst: ImmutableString, o: Map| {
            rsync(&h, &ctx, &t, &src, &dst, o)
        },
    );
    let h = Rc::clone(host);
    reg.in_module_with_options(
        &mut m,
        "ssh",
        Sig {
            name: "run_each",
            params: &["targets: array", "cmd: string"],
            returns: "map",
            doc: EACH_DOC,
            effectful: true,
        },
        move |ctx: NativeCallContext, ts: Array, cmd: ImmutableString, o: Map| run_each(&h, &ctx, ts, &cmd, o),
    );
    engine.register_static_module("ssh", m.into());
}

fn transferred(outcome: Outcome) -> Result<i64, Box<EvalAltResult>> {
    match outcome {
        Outcome::Transferred { bytes } => Ok(bytes as i64),
        _ => Ok(0),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RsyncOptions {
    #[serde(default)]
    delete: bool,
    #[serde(default)]
    compress: bool,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    excludes: Vec<String>,
}

/// `rsync -a --stats [...] SRC DST`, exactly as run on the target.
pub fn rsync_argv(
    src: &str,
    dst: &str,
    delete: bool,
    compress: bool,
    dry_run: bool,
    excludes: &[String],
) -> Vec<String> {
    let mut argv: Vec<String> = vec!["rsync".into(), "-a".into(), "--stats".into()];
    if compress {
        argv.push("-z".into());
    }
    if delete {
        argv.push("--delete".into());
    }
    if dry_run {
        argv.push("--dry-run".into());
    }
    argv.extend(excludes.iter().map(|e| format!("--exclude={e}")));
    argv.push(src.into());
    argv.push(dst.into());
    argv
}

fn rsync(
    host: &Host,
    ctx: &NativeCallContext,
    target: &TargetHandle,
    src: &str,
    dst: &str,
    options: Map,
) -> Result<Map, Box<EvalAltResult>> {
    let o: RsyncOptions = super::exec::decode(Dynamic::from_map(options), "`ssh::rsync`", ctx.call_position())?;
    let argv = rsync_argv(src, dst, o.delete, o.compress, o.dry_run, &o.excludes);
    let mut result = command(host, ctx, "ssh", target, Command::Argv(argv), Map::new())?;
    let (files, bytes) = parse_rsync_stats(&super::exec::stdout(&result));
    result.insert("files".into(), files.into());
    result.insert("bytes".into(), bytes.into());
    Ok(result)
}

/// From `--stats`: regular files transferred and total transferred file size.
pub fn parse_rsync_stats(stdout: &str) -> (i64, i64) {
    let number = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .map(|n| n.replace([',', '.'], "").parse::<i64>().unwrap_or(0))
            .unwrap_or(0)
    };
    let files = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Number of regular files transferred:"))
        .map(|n| n.trim().replace([',', '.'], "").parse::<i64>().unwrap_or(0))
        .unwrap_or(0);
    (files, number("Total transferred file size:"))
}

fn run_each(
    host: &Host,
    ctx: &NativeCallContext,
    targets: Array,
    cmd: &str,
    options: Map,
) -> Result<Map, Box<EvalAltResult>> {
    let options = ExecOptions::from_map(ctx, options)?;
    if options.stream(ctx.call_position())?.is_some() {
        return Err(runtime(
            "ssh::run_each runs on many targets at once: stream one command at a time (ssh::run)".into(),
            ctx.call_position(),
        ));
    }
    let targets: Vec<TargetHandle> = targets
        .into_iter()
        .map(|t| {
            t.try_cast::<TargetHandle>()
                .ok_or_else(|| runtime("ssh::run_each takes an array of targets".into(), ctx.call_position()))
        })
        .collect::<Result<_, _>>()?;
    let effects: Vec<Effect> = targets
        .iter()
        .map(|t| {
            Effect::Exec(Exec {
                target: t.name.clone(),
                command: Command::Shell(cmd.into()),
                dir: options.dir.clone(),
                access: options.access(),
                assumed: options.assume.clone(),
                stdin: options.stdin.clone(),
                stream: None,
            })
        })
        .collect();
    let whats: Vec<String> =
        effects.iter().map(|e| host.controller.terminal().redactor().redact(&e.describe()).into_owned()).collect();
    let results = host.controller.perform_all(effects, "ssh::run_each", ctx.call_position())?;
    let mut all = Map::new();
    let mut failures = Vec::new();
    for ((target, what), result) in targets.iter().zip(whats).zip(results) {
        let program = cmd.split_whitespace().next().unwrap_or("");
        match result.and_then(|outcome| {
            result_map(ctx, outcome, &what, program, options.allow_fail, host.controller.in_check())
        }) {
            Ok(map) => {
                all.insert(target.name.as_str().into(), map.into());
            }
            Err(err) => {
                if !err.is_catchable() {
                    return Err(err);
                }
                let message = crate::diagnostic::one_line(&err);
                failures.push(format!("{}: {message}", target.name));
                let mut map = Map::new();
                map.insert("ok".into(), false.into());
                map.insert("error".into(), message.into());
                all.insert(target.name.as_str().into(), map.into());
            }
        }
    }
    if !failures.is_empty() && !options.allow_fail {
        return Err(runtime(
            format!("{} of {} targets failed:\n    {}", failures.len(), targets.len(), failures.join("\n    ")),
            ctx.call_position(),
        ));
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsync_argv_is_exact() {
        assert_eq!(
            rsync_argv("staging:/var/www/files/", "/var/www/files/", true, true, false, &["*.tmp".into()]),
            [
                "rsync",
                "-a",
                "--stats",
                "-z",
                "--delete",
                "--exclude=*.tmp",
                "staging:/var/www/files/",
                "/var/www/files/"
            ]
        );
    }

    #[test]
    fn rsync_stats_are_parsed() {
        let out = "\nNumber of files: 4 (reg: 3, dir: 1)\nNumber of regular files transferred: 3\nTotal file size: 1,234 bytes\nTotal transferred file size: 1,234 bytes\n";
        assert_eq!(parse_rsync_stats(out), (3, 1234));
    }
}
