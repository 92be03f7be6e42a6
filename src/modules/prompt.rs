//! `prompt::*`: questions for the operator. Each answer is journaled with who gave it and when, so a
//! resumed run does not ask again; `--answers FILE` answers them in a run nobody watches, and `--yes`
//! accepts plain confirmations only (never manual items, checklists, choices or `danger` confirmations). Secrets typed at `secret_input` are never echoed, kept or reused.

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, ImmutableString, Map, Module, NativeCallContext};
use serde::Deserialize;

use super::{Registrar, Sig};
use crate::modules::Host;
use crate::modules::run_api::AskKind;
use crate::script_error::runtime;
use crate::verdict::CheckRecord;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmOptions {
    #[serde(default)]
    danger: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputOptions {
    default: Option<String>,
}

pub fn register(engine: &mut Engine, reg: &mut Registrar, host: &Rc<Host>) {
    let mut m = Module::new();
    let h = Rc::clone(host);
    reg.in_module_with_options(
        &mut m,
        "prompt",
        Sig {
            name: "confirm",
            params: &["question: string"],
            returns: "bool",
            doc: "Asks yes or no; --yes answers yes. Options: danger (true for rollbacks and destructive writes: a person or an answers file must answer it, never --yes).",
            effectful: true,
        },
        move |ctx: NativeCallContext, q: ImmutableString, options: Map| confirm(&h, &ctx, &q, options),
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
            Ok(h.controller.ask(q, &refs, AskKind::Choice, ctx.call_position())?.answer)
        },
    );
    let h = Rc::clone(host);
    reg.in_module_with_options(
        &mut m,
        "prompt",
        Sig {
            name: "input",
            params: &["question: string"],
            returns: "string",
            doc: "Asks for text. Options: \"default\" (quoted: a reserved word; given for an empty answer, and taken under --yes), validate (a function of the answer that returns true, or false / a message to refuse it).",
            effectful: true,
        },
        move |ctx: NativeCallContext, q: ImmutableString, options: Map| input(&h, &ctx, &q, options),
    );
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
            Ok(h.controller.ask(q, &[], AskKind::Secret, ctx.call_position())?.answer)
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
                // A person vouches for each item: --yes never answers them.
                let answered = h.controller.ask(&question, &["yes", "no", "skip"], AskKind::Attest, ctx.call_position())?;
                let (answer, by) = (answered.answer, answered.by);
                let note = match (answer.as_str(), answered.note) {
                    (_, Some(note)) => note,
                    ("skip", None) => h.controller.ask(&format!("{question}: why skip it?"), &[], AskKind::Text, ctx.call_position())?.answer,
                    _ => String::new(),
                };
                let actual = if note.is_empty() { format!("{answer} ({by})") } else { format!("{answer} ({by}): {note}") };
                h.controller.record_verdict(CheckRecord::new(&question, answer == "yes", actual, "yes".into()))?;
                let mut entry = Map::new();
                entry.insert("answer".into(), answer.into());
                entry.insert("note".into(), note.into());
                out.insert(item.as_str().into(), entry.into());
            }
            Ok(out)
        });
    engine.register_static_module("prompt", m.into());
}

/// `prompt::confirm`: a plain confirmation, or with `danger` one only a person (or an answers file) gives.
fn confirm(host: &Host, ctx: &NativeCallContext, q: &str, options: Map) -> Result<bool, Box<EvalAltResult>> {
    let options: ConfirmOptions =
        super::exec::decode(Dynamic::from_map(options), "`prompt::confirm`", ctx.call_position())?;
    let kind = if options.danger { AskKind::Attest } else { AskKind::Confirm };
    Ok(host.controller.ask(q, &["yes", "no"], kind, ctx.call_position())?.answer == "yes")
}

/// `prompt::input`: text, its default for an empty answer (and for --yes), checked by `validate`.
fn input(host: &Host, ctx: &NativeCallContext, q: &str, mut options: Map) -> Result<String, Box<EvalAltResult>> {
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
    let answer = host.controller.ask(q, &[], kind, ctx.call_position())?.answer;
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
}
