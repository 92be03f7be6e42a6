//! The helpers every script uses: `target`, `config`, `secret`, `sleep`, `now`, `timestamp`, `run_id`,
//! `run_started`.

use std::rc::Rc;

use rhai::{Dynamic, Engine, EvalAltResult, NativeCallContext};

use super::{Registrar, Sig};
use crate::effects::Effect;
use crate::modules::Host;
use crate::script_error::runtime;

/// A host to act on, from golive.toml. Scripts pass it to modules (`ssh::run(t, ...)`).
#[derive(Debug, Clone)]
pub struct TargetHandle {
    pub name: String,
    pub kind: String,
    pub host: String,
    pub project_dir: String,
    /// The target's variables as golive.toml gives them ([vars], its own, `--var`): `target("db1").vars`.
    pub vars: rhai::Map,
}

impl TargetHandle {
    /// This machine, for golive's own local commands (`local::run`, s3's and runbook's clients).
    pub fn local() -> TargetHandle {
        let local = crate::config::LOCAL;
        TargetHandle {
            name: local.into(),
            kind: local.into(),
            host: String::new(),
            project_dir: String::new(),
            vars: rhai::Map::new(),
        }
    }
}

use crate::clock::{PLAN_NOW, PLAN_TIMESTAMP};

pub fn register(engine: &mut Engine, reg: &mut Registrar, host: &Rc<Host>) {
    engine
        .register_type_with_name::<TargetHandle>("Target")
        .register_get("name", |t: &mut TargetHandle| t.name.clone())
        .register_get("kind", |t: &mut TargetHandle| t.kind.clone())
        .register_get("host", |t: &mut TargetHandle| t.host.clone())
        .register_get("project_dir", |t: &mut TargetHandle| t.project_dir.clone())
        .register_get("vars", |t: &mut TargetHandle| t.vars.clone())
        .register_fn("to_string", |t: &mut TargetHandle| format!("target {}", t.name))
        .register_fn("to_debug", |t: &mut TargetHandle| format!("target {} ({})", t.name, t.kind));

    let h = Rc::clone(host);
    reg.global(
        engine,
        Sig {
            name: "target",
            params: &[],
            returns: "Target",
            doc: "The run's target: --target, else default_target in golive.toml.",
            effectful: false,
        },
        move |ctx: NativeCallContext| target(&h, &ctx, &h.run_target.clone()),
    );
    let h = Rc::clone(host);
    reg.global(
        engine,
        Sig {
            name: "target",
            params: &["name: string"],
            returns: "Target",
            doc: "The target named NAME in golive.toml.",
            effectful: false,
        },
        move |ctx: NativeCallContext, name: &str| target(&h, &ctx, name),
    );
    let h = Rc::clone(host);
    reg.global(
        engine,
        Sig {
            name: "config",
            params: &["key: string"],
            returns: "any",
            doc: "A variable from golive.toml: [targets.RUN_TARGET.vars] first, then [vars]; dotted keys walk tables.",
            effectful: false,
        },
        move |ctx: NativeCallContext, key: &str| config(&h, &ctx, key, None),
    );
    let h = Rc::clone(host);
    reg.global(
        engine,
        Sig {
            name: "config",
            params: &["key: string", "default: any"],
            returns: "any",
            doc: "As config(key), with a default when the key is absent.",
            effectful: false,
        },
        move |ctx: NativeCallContext, key: &str, default: Dynamic| config(&h, &ctx, key, Some(default)),
    );
    let h = Rc::clone(host);
    reg.global(
        engine,
        Sig {
            name: "secret",
            params: &["name: string"],
            returns: "string",
            doc: "A secret from the environment or .env beside golive.toml. Its value is masked in every output; plans show <secret:NAME>.",
            effectful: false,
        },
        move |ctx: NativeCallContext, name: &str| h.secret(name, ctx.call_position()),
    );
    let h = Rc::clone(host);
    reg.global(
        engine,
        Sig {
            name: "sleep",
            params: &["duration: string"],
            returns: "",
            doc: "Waits, e.g. sleep(\"30s\"); Ctrl-C cancels the wait.",
            effectful: true,
        },
        move |ctx: NativeCallContext, text: &str| {
            let duration = crate::duration::parse(text).map_err(|e| runtime(e, ctx.call_position()))?;
            sleep(&h, &ctx, duration)
        },
    );
    let h = Rc::clone(host);
    reg.global(
        engine,
        Sig {
            name: "wait_until",
            params: &["options: map", "condition: Fn"],
            returns: "map",
            doc: "Polls a condition until it holds: wait_until(#{ every: \"5s\", timeout: \"2m\" }, || http::get(url).status == 200). \
                  The condition gives true/false or #{ ok, actual }; its reads are journaled, and so is each wait between \
                  polls. Gives #{ ok: true, actual, polls, waited_s }; past the timeout the step fails with the last \
                  evidence. Defaults: every 5s, timeout 5m.",
            effectful: true,
        },
        move |ctx: NativeCallContext, options: rhai::Map, condition: rhai::FnPtr| wait_until(&h, &ctx, options, condition),
    );
    let h = Rc::clone(host);
    reg.global(
        engine,
        Sig { name: "sleep", params: &["seconds: int"], returns: "", doc: "Waits this many seconds.", effectful: true },
        move |ctx: NativeCallContext, seconds: i64| {
            sleep(&h, &ctx, std::time::Duration::from_secs(seconds.max(0) as u64))
        },
    );
    let h = Rc::clone(host);
    reg.global(
        engine,
        Sig {
            name: "planning",
            params: &[],
            returns: "bool",
            doc: "True in `golive plan`: reads are answered by a scenario or assumed, so scripts may skip verdicts on assumed values.",
            effectful: false,
        },
        move || h.controller.is_dry(),
    );
    let h = Rc::clone(host);
    reg.global(
        engine,
        Sig {
            name: "now",
            params: &[],
            returns: "string",
            doc: "The local time, RFC 3339 (fixed in plans).",
            effectful: false,
        },
        move || -> String {
            if h.controller.is_dry() {
                PLAN_NOW.into()
            } else {
                chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
            }
        },
    );
    let h = Rc::clone(host);
    reg.global(
        engine,
        Sig {
            name: "unix_time",
            params: &[],
            returns: "int",
            doc: "Seconds since the Unix epoch, now (the plan's instant, 946684800, in plans). Rhai's own timestamp() \
                  is left as the Rhai book describes it (an instant, with .elapsed).",
            effectful: false,
        },
        move || -> i64 { if h.controller.is_dry() { PLAN_TIMESTAMP } else { chrono::Utc::now().timestamp() } },
    );
    reg.global(
        engine,
        Sig {
            name: "seconds",
            params: &["duration: string"],
            returns: "float",
            doc: "A duration as golive writes them (\"90s\", \"15m\", \"24h\", \"1h30m\") in seconds: compares a watch's \
                  length with the runbook's.",
            effectful: false,
        },
        |ctx: NativeCallContext, text: &str| -> Result<f64, Box<EvalAltResult>> {
            crate::duration::parse(text)
                .map(|d| d.as_secs_f64())
                .map_err(|e| runtime(format!("seconds(\"{text}\"): {e}"), ctx.call_position()))
        },
    );
    let h = Rc::clone(host);
    reg.global(
        engine,
        Sig {
            name: "run_id",
            params: &[],
            returns: "string",
            doc: "This run's id (the same across its resumes; \"plan\" in plans): names what the run leaves behind, e.g. its backup.",
            effectful: false,
        },
        move || -> String { if h.controller.is_dry() { "plan".into() } else { h.controller.run_id().unwrap_or_default() } },
    );
    let h = Rc::clone(host);
    reg.global(
        engine,
        Sig {
            name: "run_started",
            params: &[],
            returns: "int",
            doc: "When this run first started, in seconds since the epoch: the same across its resumes (unix_time() is now), so what the run made can be told from what was there before it.",
            effectful: false,
        },
        move || -> i64 { h.controller.run_started() },
    );
}

fn target(host: &Host, ctx: &NativeCallContext, name: &str) -> Result<TargetHandle, Box<EvalAltResult>> {
    let target = host.config.target(name).map_err(|e| runtime(e, ctx.call_position()))?;
    let vars = rhai::serde::to_dynamic(host.config.vars_for(&target.name))
        .ok()
        .and_then(|v| v.try_cast::<rhai::Map>())
        .unwrap_or_default();
    Ok(TargetHandle {
        vars,
        kind: target.kind().to_string(),
        host: target.spec.host.clone().unwrap_or_default(),
        project_dir: target.spec.project_dir.clone().unwrap_or_default(),
        name: target.name,
    })
}

fn config(
    host: &Host,
    ctx: &NativeCallContext,
    key: &str,
    default: Option<Dynamic>,
) -> Result<Dynamic, Box<EvalAltResult>> {
    match (host.var(key), default) {
        (Some(value), _) => {
            rhai::serde::to_dynamic(value).map_err(|e| runtime(format!("config `{key}`: {e}"), ctx.call_position()))
        }
        (None, Some(default)) => Ok(default),
        (None, None) => Err(host.missing_var(key, ctx.call_position())),
    }
}

/// `wait_until`: the condition, then a journaled wait, until it holds or the timeout (on the step's clock, so
/// a plan's polls end where the run's would) has passed.
fn wait_until(
    host: &Host,
    ctx: &NativeCallContext,
    options: rhai::Map,
    condition: rhai::FnPtr,
) -> Result<rhai::Map, Box<EvalAltResult>> {
    let pos = ctx.call_position();
    let duration_of = |key: &str, default: &str| -> Result<std::time::Duration, Box<EvalAltResult>> {
        let text = options.get(key).map(|v| v.to_string()).unwrap_or_else(|| default.to_string());
        crate::duration::parse(&text).map_err(|e| runtime(format!("wait_until: `{key}`: {e}"), pos))
    };
    if let Some(key) = options.keys().find(|k| !["every", "timeout"].contains(&k.as_str())) {
        return Err(runtime(format!("wait_until: unknown option `{key}`; it takes every and timeout"), pos));
    }
    let (every, timeout) = (duration_of("every", "5s")?, duration_of("timeout", "5m")?);
    let started = host.controller.step_clock();
    let mut polls = 0;
    loop {
        polls += 1;
        let value: Dynamic = condition.call_within_context(ctx, ())?;
        let (ok, actual) = match (value.as_bool(), value.clone().try_cast::<rhai::Map>()) {
            (Ok(ok), _) => (ok, String::new()),
            (_, Some(map)) => (
                map.get("ok").and_then(|v| v.as_bool().ok()).ok_or_else(|| {
                    runtime("wait_until: the condition gave a map without a true/false `ok`".into(), pos)
                })?,
                map.get("actual").map(|v| v.to_string()).unwrap_or_default(),
            ),
            _ => {
                return Err(runtime(
                    format!(
                        "wait_until: the condition must give true/false or #{{ ok, actual }}, not {}",
                        value.type_name()
                    ),
                    pos,
                ));
            }
        };
        let waited = host.controller.step_clock().saturating_sub(started);
        if ok {
            let mut done = rhai::Map::new();
            done.insert("ok".into(), true.into());
            done.insert("actual".into(), actual.into());
            done.insert("polls".into(), (polls as i64).into());
            done.insert("waited_s".into(), (waited.as_secs_f64()).into());
            return Ok(done);
        }
        if waited + every > timeout {
            let evidence =
                if actual.is_empty() { "the condition was false".to_string() } else { format!("last: {actual}") };
            return Err(runtime(
                format!("wait_until: not true after {} ({polls} polls); {evidence}", crate::duration::short(waited)),
                pos,
            ));
        }
        sleep(host, ctx, every)?;
    }
}

fn sleep(host: &Host, ctx: &NativeCallContext, duration: std::time::Duration) -> Result<(), Box<EvalAltResult>> {
    host.controller.perform(Effect::Sleep { duration }, "sleep", ctx.call_position()).map(|_| ())
}
