//! `prompt::*`: questions for the operator. Each answer is journaled with who gave it and when, so a
//! resumed run does not ask again; `--answers FILE` answers them in a run nobody watches, and `--yes`
//! accepts confirmations. Secrets typed at `secret_input` are never echoed, kept or reused.

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, Map, Module, NativeCallContext};
use serde::Deserialize;

use super::{Registrar, Sig};
use crate::engine::Host;
use crate::run::controller::{AskKind, runtime};
use crate::run::journal::CheckRecord;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputOptions {
    default: Option<String>,
}

pub fn register(engine: &mut Engine, reg: &mut Registrar, host: &Rc<Host>) {
    let mut m = Module::new();
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "prompt",
        Sig {
            name: "confirm",
            params: &["question: string"],
            returns: "bool",
            doc: "Asks yes or no; --yes answers yes.",
            effectful: true,
        },
        move |ctx: NativeCallContext, q: &str| -> Result<bool, Box<EvalAltResult>> {
            Ok(h.controller.ask(q, &["yes", "no"], AskKind::Confirm, ctx.call_position())?.0 == "yes")
        },
    );
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "prompt",
        Sig {
            name: "choose",
            params: &["question: string", "options: array"],
            returns: "string",
            doc: "Asks for one of the options (never answered by --yes).",
            effectful: true,
        },
        move |ctx: NativeCallContext, q: &str, options: Array| -> Result<String, Box<EvalAltResult>> {
            let options = super::exec::strings(&ctx, options)?;
            let refs: Vec<&str> = options.iter().map(String::as_str).collect();
            Ok(h.controller.ask(q, &refs, AskKind::Choice, ctx.call_position())?.0)
        },
    );
    for with_options in [false, true] {
        let h = Rc::clone(host);
        let params: &[&str] = if with_options { &["question: string", "options: map"] } else { &["question: string"] };
        let sig = Sig {
            name: "input",
            params,
            returns: "string",
            doc: "Asks for text. Options: \"default\" (quoted: a reserved word; given for an empty answer, and taken under --yes), validate (a function of the answer that returns true, or false / a message to refuse it).",
            effectful: true,
        };
        let body = move |ctx: &NativeCallContext, q: &str, mut options: Map| -> Result<String, Box<EvalAltResult>> {
            let validate = options
                .remove("validate")
                .map(|v| {
                    v.try_cast::<FnPtr>().ok_or_else(|| {
                        runtime("`validate` must be a function, like |a| a.len() > 0".into(), ctx.call_position())
                    })
                })
                .transpose()?;
            let options: InputOptions =
                super::exec::decode(Dynamic::from_map(options), "`prompt::input`", ctx.call_position())?;
            // --yes accepts confirmations and stated defaults alike: nobody is there to type.
            let kind = if options.default.is_some() { AskKind::Defaulted } else { AskKind::Text };
            let (answer, _) = h.controller.ask(q, &[], kind, ctx.call_position())?;
            let answer = match (answer.trim().is_empty(), options.default) {
                (true, Some(default)) => default,
                _ => answer,
            };
            if let Some(validate) = validate {
                let verdict: Dynamic = validate.call_within_context(ctx, (answer.clone(),))?;
                if let Ok(false) = verdict.as_bool() {
                    return Err(runtime(format!("\"{answer}\" is not a valid answer to \"{q}\""), ctx.call_position()));
                }
                if verdict.is_string() {
                    return Err(runtime(
                        format!("\"{answer}\" is not a valid answer to \"{q}\": {verdict}"),
                        ctx.call_position(),
                    ));
                }
            }
            Ok(answer)
        };
        if with_options {
            reg.in_module(&mut m, "prompt", sig, move |ctx: NativeCallContext, q: &str, o: Map| body(&ctx, q, o));
        } else {
            reg.in_module(&mut m, "prompt", sig, move |ctx: NativeCallContext, q: &str| body(&ctx, q, Map::new()));
        }
    }
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "prompt",
        Sig {
            name: "secret_input",
            params: &["question: string"],
            returns: "string",
            doc: "Asks for a secret: not echoed, masked in every output, never journaled (asked again on resume).",
            effectful: true,
        },
        move |ctx: NativeCallContext, q: &str| -> Result<String, Box<EvalAltResult>> {
            Ok(h.controller.ask(q, &[], AskKind::Secret, ctx.call_position())?.0)
        },
    );
    let h = Rc::clone(host);
    reg.in_module(&mut m, "prompt", Sig { name: "checklist", params: &["title: string", "items: array"], returns: "map",
            doc: "Asks yes / no / skip for each item (a skip asks why). Returns #{item: #{answer, note}}; each item counts as a check for gates.", effectful: true },
        move |ctx: NativeCallContext, title: &str, items: Array| -> Result<Map, Box<EvalAltResult>> {
            let items = super::exec::strings(&ctx, items)?;
            let mut out = Map::new();
            for item in items {
                let question = format!("{title}: {item}");
                let (answer, by) = h.controller.ask(&question, &["yes", "no", "skip"], AskKind::Confirm, ctx.call_position())?;
                let note = if answer == "skip" {
                    h.controller.ask(&format!("{question}: why skip it?"), &[], AskKind::Text, ctx.call_position())?.0
                } else {
                    String::new()
                };
                let actual = if note.is_empty() { format!("{answer} ({by})") } else { format!("{answer} ({by}): {note}") };
                h.controller.record_check(CheckRecord { name: question, ok: answer == "yes", actual, target: "yes".into() });
                let mut entry = Map::new();
                entry.insert("answer".into(), answer.into());
                entry.insert("note".into(), note.into());
                out.insert(item.as_str().into(), entry.into());
            }
            Ok(out)
        });
    engine.register_static_module("prompt", m.into());
}
