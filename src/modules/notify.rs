//! `notify::*`: Slack incoming webhooks, any webhook, email over SMTP. A notification that cannot be
//! delivered is retried, then reported in its result and the output; it never fails the step, so an alert
//! that does not go out never stops a rollback.
//!
//! golive.toml: `[vars.smtp]` host, port (587), from, security (starttls | tls | none), user,
//! password_secret (the secret's name); `[vars.notify]` retry_ms (the first wait between attempts, 1000).

use std::rc::Rc;
use std::time::Duration;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, Module, NativeCallContext};

use super::{Registrar, Sig};
use crate::effects::email::{Email, Smtp};
use crate::effects::http::{Body, HttpRequest};
use crate::effects::{Effect, Outcome};
use crate::modules::Host;
use crate::script_error::runtime;

const ATTEMPTS: u32 = 3;

/// Sends `make()`'s effect up to three times; the result map says what happened.
fn deliver(
    host: &Host,
    ctx: &NativeCallContext,
    what: &str,
    make: impl Fn() -> Effect,
    accept: impl Fn(&Outcome) -> Result<(), String>,
) -> Result<Map, Box<EvalAltResult>> {
    let base = host.var_int("notify.retry_ms").map_or(1000, |v| v.max(0) as u64);
    let caller = format!("notify::{}", ctx.fn_name());
    let mut error = String::new();
    let mut attempts = 0;
    for attempt in 1..=ATTEMPTS {
        attempts = attempt;
        let result = host.controller.perform(make(), &caller, ctx.call_position());
        match result {
            Ok(outcome) => match accept(&outcome) {
                Ok(()) => {
                    error.clear();
                    break;
                }
                Err(e) => error = e,
            },
            Err(e) if matches!(*e, EvalAltResult::ErrorTerminated(..)) => return Err(e),
            Err(e) => error = crate::diagnostic::one_line(&e),
        }
        if attempt < ATTEMPTS {
            let wait = Duration::from_millis(base * 2u64.pow(attempt - 1));
            host.controller.perform(Effect::Sleep { duration: wait }, &caller, ctx.call_position())?;
        }
    }
    if !error.is_empty() {
        host.controller.output(&format!("notify: {what} was not delivered after {attempts} attempts: {error}"));
    } else if !host.controller.is_dry() {
        // The operator sees that the alert went out, not only when it did not.
        host.controller.terminal().line(&format!("        sent: {what}"));
    }
    let mut out = Map::new();
    out.insert("ok".into(), error.is_empty().into());
    out.insert("attempts".into(), (attempts as i64).into());
    out.insert("error".into(), error.into());
    Ok(out)
}

fn accept_2xx(outcome: &Outcome) -> Result<(), String> {
    match outcome {
        Outcome::Http(r) if (200..300).contains(&r.status) => Ok(()),
        Outcome::Http(r) => Err(format!("answered {}: {}", r.status, super::http::excerpt(&r.body))),
        _ => Err("no HTTP answer".into()),
    }
}

fn post_json(
    host: &Host,
    ctx: &NativeCallContext,
    what: &str,
    url: &str,
    json: serde_json::Value,
) -> Result<Map, Box<EvalAltResult>> {
    // A plan knows a secret URL only by its name (<secret:NAME>): it records the post all the same.
    if !host.controller.is_dry() {
        url::Url::parse(url).map_err(|e| runtime(format!("`{url}` is not a URL: {e}"), ctx.call_position()))?;
    }
    let make = || {
        let mut request = HttpRequest::new("POST", url);
        request.body = Body::Json(json.clone());
        request.timeout = Some(Duration::from_secs(10));
        Effect::Http(request)
    };
    deliver(host, ctx, what, make, accept_2xx)
}

fn smtp(host: &Host, ctx: &NativeCallContext) -> Result<Smtp, Box<EvalAltResult>> {
    let pos = ctx.call_position();
    // No user (a loopback relay, a sink): no login, and no password to read.
    let user = host.var_text("smtp.user").filter(|u| !u.is_empty());
    let password = match (&user, host.var_text("smtp.password_secret")) {
        (Some(_), Some(name)) => Some(host.secret(&name, pos)?),
        _ => None,
    };
    Ok(Smtp {
        host: host.require_text("smtp.host", pos)?,
        port: host.var_int("smtp.port").map_or(587, |p| p as u16),
        from: host.require_text("smtp.from", pos)?,
        security: host.var_text("smtp.security").unwrap_or_else(|| "starttls".into()),
        user,
        password,
    })
}

fn recipients(ctx: &NativeCallContext, to: Dynamic) -> Result<Vec<String>, Box<EvalAltResult>> {
    if let Some(one) = to.clone().try_cast::<rhai::ImmutableString>() {
        return Ok(vec![one.to_string()]);
    }
    let many = to
        .try_cast::<Array>()
        .ok_or_else(|| runtime("`to` is an address or an array of addresses".to_string(), ctx.call_position()))?;
    super::exec::strings(ctx, many)
}

pub fn register(engine: &mut Engine, reg: &mut Registrar, host: &Rc<Host>) {
    let mut m = Module::new();
    let h = Rc::clone(host);
    reg.in_module(&mut m, "notify", Sig { name: "slack", params: &["webhook_url: string", "text: string"], returns: "map",
        doc: "Posts to a Slack incoming webhook (#{ text }). Retried; never fails the step: #{ ok, attempts, error }.", effectful: true },
        move |ctx: NativeCallContext, url: &str, text: &str| post_json(&h, &ctx, "the Slack message", url, serde_json::json!({ "text": text })));
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "notify",
        Sig {
            name: "webhook",
            params: &["url: string", "json: any"],
            returns: "map",
            doc: "Posts JSON to any webhook. Retried; never fails the step: #{ ok, attempts, error }.",
            effectful: true,
        },
        move |ctx: NativeCallContext, url: &str, json: Dynamic| -> Result<Map, Box<EvalAltResult>> {
            let value: serde_json::Value = rhai::serde::from_dynamic(&json).map_err(|e| {
                runtime(format!("notify::webhook: the body is not JSON-able: {e}"), ctx.call_position())
            })?;
            post_json(&h, &ctx, "the webhook", url, value)
        },
    );
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "notify",
        Sig {
            name: "email",
            params: &["to: string|array", "subject: string", "body: string"],
            returns: "map",
            doc: "Sends an email through [vars.smtp]. Retried; never fails the step: #{ ok, attempts, error }.",
            effectful: true,
        },
        move |ctx: NativeCallContext, to: Dynamic, subject: &str, body: &str| -> Result<Map, Box<EvalAltResult>> {
            let email =
                Email { to: recipients(&ctx, to)?, subject: subject.into(), body: body.into(), smtp: smtp(&h, &ctx)? };
            let what = format!("the email \"{subject}\" to {}", email.to.join(", "));
            deliver(
                &h,
                &ctx,
                &what,
                || Effect::Email(email.clone()),
                |o| match o {
                    Outcome::Sent => Ok(()),
                    _ => Err("not sent".into()),
                },
            )
        },
    );
    engine.register_static_module("notify", m.into());
}
