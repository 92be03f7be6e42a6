//! `runbook::run`: another runbook as one effect (a watch's critical action runs the quick rollback);
//! `runbook::last_run`: what the journals say of an earlier runbook's newest run.

use std::rc::Rc;

use rhai::{Dynamic, Engine, EvalAltResult, Map, Module, NativeCallContext};

use super::core::TargetHandle;
use super::{Registrar, Sig};
use crate::effects::Command;
use crate::modules::Host;
use crate::script_error::runtime;

fn run(host: &Host, ctx: &NativeCallContext, script: &str) -> Result<Map, Box<EvalAltResult>> {
    // Plans name the program, not where this machine keeps it, so they read the same everywhere.
    let dry = host.controller.is_dry();
    let exe = if dry {
        "golive".into()
    } else {
        std::env::current_exe()
            .map_err(|e| runtime(format!("cannot find the golive binary: {e}"), ctx.call_position()))?
    };
    // The nested run answers confirmations (the operator confirmed before this call) but never a gate. It
    // runs inside this run, which holds the target's lock: `--within-run` lets it act under that lock.
    let mut argv = vec![
        exe.display().to_string(),
        "run".into(),
        script.into(),
        "--target".into(),
        host.run_target.clone(),
        "--yes".into(),
        "--non-interactive".into(),
    ];
    if let Some(run_id) = host.controller.run_id() {
        argv.extend(["--within-run".into(), run_id]);
    }
    let here = TargetHandle::local();
    let mut options = Map::new();
    if !dry {
        options.insert("dir".into(), host.config.root.display().to_string().into());
    }
    let result = super::exec::command(host, ctx, "runbook", &here, Command::Argv(argv), options)?;
    host.controller.output(&super::exec::stdout(&result));
    Ok(result)
}

fn last_run(host: &Host, ctx: &NativeCallContext, script: &str, target: &str) -> Result<Dynamic, Box<EvalAltResult>> {
    let found = host.controller.last_run(script, &host.config, target).map_err(|e| runtime(e, ctx.call_position()))?;
    Ok(match found {
        None => Dynamic::UNIT,
        Some(run) => {
            let mut m = Map::new();
            m.insert("run".into(), run.run_id.clone().into());
            let exit_code = run.exit_code.map_or(Dynamic::UNIT, |c| Dynamic::from_int(i64::from(c)));
            let minutes = run.seconds.map_or(Dynamic::UNIT, |s| Dynamic::from_float((s / 60.0 * 10.0).round() / 10.0));
            m.insert("finished".into(), run.exit_code.is_some().into());
            m.insert("exit_code".into(), exit_code);
            m.insert("minutes".into(), minutes);
            m.insert("days_ago".into(), Dynamic::from_float((run.days_ago * 10.0).round() / 10.0));
            let evidence = |value: Result<Dynamic, Box<EvalAltResult>>| {
                value.map_err(|e| runtime(format!("the journal of run {}: {e}", run.run_id), ctx.call_position()))
            };
            m.insert("decisions".into(), evidence(rhai::serde::to_dynamic(&run.decisions))?);
            m.insert("watches".into(), evidence(rhai::serde::to_dynamic(&run.watches))?);
            // A check as a later runbook weighs it: no watch evidence (that is `watches`).
            let checks: Vec<Dynamic> = run
                .checks
                .iter()
                .map(|c| {
                    let mut check = Map::new();
                    check.insert("name".into(), c.name.clone().into());
                    check.insert("ok".into(), (c.ok && !c.unknown).into());
                    check.insert("unknown".into(), c.unknown.into());
                    check.insert("actual".into(), c.actual.clone().into());
                    check.insert("target".into(), c.target.clone().into());
                    Dynamic::from_map(check)
                })
                .collect();
            m.insert("checks".into(), checks.into());
            m.insert("whole".into(), run.whole.into());
            Dynamic::from_map(m)
        }
    })
}

pub fn register(engine: &mut Engine, reg: &mut Registrar, host: &Rc<Host>) {
    let mut m = Module::new();
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "runbook",
        Sig {
            name: "last_run",
            params: &["script: string", "target: string"],
            returns: "map",
            doc: "The newest run of SCRIPT (its file name without .rhai) on TARGET, from this project's journals (a plan's from its scenario's [[include]] run): #{ run, finished, whole, exit_code, minutes, days_ago, decisions, watches, checks } (whole: false for a run of only some items (--only); exit_code and minutes () when it never finished; days_ago since it finished, or started; decisions: each gate's standing decision by gate name, #{ verdict, by, at }; watches: what each metrics::watch saw, #{ name (the step's), planned, planned_s, watched_s, complete, stopped, evaluations, alerts: [#{ rule, level, at, shown }], unresolved: [rule] }; checks: the newest verdict of each check, manual item and gate, #{ name, ok, unknown, actual, target }), or () when there is none.",
            effectful: false,
        },
        move |ctx: NativeCallContext, script: &str, target: &str| last_run(&h, &ctx, script, target),
    );
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "runbook",
        Sig {
            name: "run",
            params: &["script: string"],
            returns: "map",
            doc: "Runs another runbook on this run's target with --yes (a gate still needs an answer); fails the step if it fails.",
            effectful: true,
        },
        move |ctx: NativeCallContext, script: &str| run(&h, &ctx, script),
    );
    engine.register_static_module("runbook", m.into());
}
