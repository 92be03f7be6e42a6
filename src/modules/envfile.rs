//! `envfile::*`: what the application on a target runs with, read from its env file (`.env`) without any
//! value leaving the target: the target prints a SHA-256 fingerprint of one value, compared here with the
//! fingerprint of the secret golive uses. Friday's vendor checks use golive's keys; this says whether the
//! application uses the same ones (a live key on golive's side and a test key in the application's `.env`
//! is the red Friday the checks would otherwise call green).

use std::rc::Rc;

use rhai::{Engine, EvalAltResult, Map, Module, NativeCallContext};

use super::core::TargetHandle;
use super::{Registrar, Sig};
use crate::effects::{Command, shell_quote};
use crate::modules::Host;
use crate::script_error::runtime;

/// The command that prints the fingerprint of `name`'s value in `file` (quotes around it dropped, as the
/// application's env loader drops them), or nothing when the file has no such line.
fn fingerprint_command(file: &str, name: &str) -> String {
    format!(
        "v=$(sed -n 's/^{name}=//p' {file} | head -n 1 | tr -d '\\r\\n') && [ -n \"$v\" ] && printf '%s' \"$v\" | sed -e 's/^\"\\(.*\\)\"$/\\1/' -e \"s/^'\\(.*\\)'\\$/\\1/\" | tr -d '\\n' | sha256sum | cut -c1-64",
        file = shell_quote(file)
    )
}

/// Verdict: `name` in the target's env file holds the same value as golive's secret `secret_name`.
fn same_secret(
    host: &Host,
    ctx: &NativeCallContext,
    target: &TargetHandle,
    file: &str,
    name: &str,
    secret_name: &str,
) -> Result<Map, Box<EvalAltResult>> {
    let pos = ctx.call_position();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(runtime(format!("`{name}` is not an environment variable's name"), pos));
    }
    let ours = host.secret(secret_name, pos)?;
    let mut options = Map::new();
    options.insert("read_only".into(), true.into());
    options.insert("allow_fail".into(), true.into());
    let answer =
        super::exec::command(host, ctx, "envfile", target, Command::Shell(fingerprint_command(file, name)), options)?;
    // In a plan without live reads `ours` is the secret's placeholder: a scenario states the target's
    // fingerprint against it (the SHA-256 of "<secret:NAME>"); an unanswered read is assumed, so unknown.
    let theirs = super::exec::stdout(&answer).trim().to_string();
    let matches = theirs.len() == 64 && theirs == crate::digest::sha256_hex(ours.as_bytes());
    let actual = match (theirs.len() == 64, matches) {
        (false, _) => format!("{file} on {} holds no {name}", target.name),
        (true, true) => format!("{name} in {file} is the key golive checks ({secret_name})"),
        (true, false) => format!("{name} in {file} differs from the key golive checks ({secret_name})"),
    };
    let mut verdict = Map::new();
    verdict.insert("ok".into(), matches.into());
    verdict.insert("actual".into(), actual.into());
    verdict.insert("target".into(), format!("the application runs with {secret_name}").into());
    Ok(verdict)
}

pub fn register(engine: &mut Engine, reg: &mut Registrar, host: &Rc<Host>) {
    let mut m = Module::new();
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "envfile",
        Sig {
            name: "same_secret",
            params: &["target: Target", "file: string", "name: string", "secret_name: string"],
            returns: "map",
            doc: "Verdict #{ ok, actual, target }: NAME in FILE (an env file on TARGET) holds the value of golive's secret SECRET_NAME. The target prints only a SHA-256 fingerprint of the value; no value leaves it. In a plan the secret is its placeholder: a scenario answers with the SHA-256 of \"<secret:NAME>\" to state they match.",
            effectful: true,
        },
        move |ctx: NativeCallContext, t: TargetHandle, file: &str, name: &str, secret_name: &str| {
            same_secret(&h, &ctx, &t, file, name, secret_name)
        },
    );
    engine.register_static_module("envfile", m.into());
}
