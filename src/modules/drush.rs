//! `drush::*`: Drupal's CLI through `compose exec -T <drupal_service> drush ...` in the target's project_dir.
//! Each function is a pure command builder; `status` also checks what drush's exit code does not: a
//! failed bootstrap or database leaves keys out and still exits 0.

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, Module, NativeCallContext};

use super::core::TargetHandle;
use super::docker::{Compose, compose_base, exec_argv, in_project, project_dir};
use super::exec::stdout;
use super::exec::strings;
use super::{Registrar, Sig};
use crate::modules::Host;
use crate::script_error::runtime;

pub const DEFAULT_SERVICE: &str = "drupal";

/// What a plan assumes `drush status` prints when nothing answers it (the check on it is still UNKNOWN).
const PLAN_STATUS: &str = r#"{"drupal-version": "(assumed)", "bootstrap": "Successful", "db-status": "Connected"}"#;

/// The drush arguments for each operation, byte for byte.
pub fn args(op: &str, params: &[&str]) -> Vec<String> {
    let v = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match (op, params) {
        ("status", _) => v(&["status", "--format=json"]),
        ("maintenance", [on]) => v(&["state:set", "system.maintenance_mode", on, "--input-format=integer"]),
        ("maintenance_status", _) => v(&["state:get", "system.maintenance_mode"]),
        ("updb", _) => v(&["updatedb", "-y"]),
        ("cim", _) => v(&["config:import", "-y"]),
        ("cr", _) => v(&["cache:rebuild"]),
        ("cset", [name, key, value]) => v(&["config:set", name, key, value, "-y"]),
        ("cget", [name, key]) => v(&["config:get", name, key]),
        ("state_get", [key]) => v(&["state:get", key]),
        ("state_set", [key, value]) => v(&["state:set", key, value]),
        ("image_flush", _) => v(&["image:flush", "--all"]),
        ("search_index", _) => v(&["search-api:index"]),
        ("deploy", _) => v(&["deploy", "-y"]),
        ("sql_dump", [file]) => vec!["sql:dump".into(), format!("--result-file={file}"), "--gzip".into()],
        _ => unreachable!("drush::args is called with a known operation"),
    }
}

fn drush(
    host: &Host,
    ctx: &NativeCallContext,
    t: &TargetHandle,
    drush_args: Vec<String>,
    read: bool,
) -> Result<Map, Box<EvalAltResult>> {
    let (compose, argv) = drush_argv(host, ctx, t, drush_args)?;
    in_project(host, ctx, "drush", &compose, argv, read)
}

/// `compose exec -T <drupal_service> drush ARGS` in the target's project.
fn drush_argv(
    host: &Host,
    ctx: &NativeCallContext,
    t: &TargetHandle,
    drush_args: Vec<String>,
) -> Result<(Compose, Vec<String>), Box<EvalAltResult>> {
    let compose = Compose { target: t.clone() };
    project_dir(ctx, &compose)?;
    let service =
        host.config.target(&t.name).ok().and_then(|t| t.spec.drupal_service).unwrap_or_else(|| DEFAULT_SERVICE.into());
    let base = compose_base(host, ctx, &compose)?;
    let mut argv = vec!["drush".to_string()];
    argv.extend(drush_args);
    let argv = exec_argv(&base, &service, &argv);
    Ok((compose, argv))
}

/// A drush read with what a plan assumes it prints, stated here beside its parser.
fn drush_reading(
    host: &Host,
    ctx: &NativeCallContext,
    t: &TargetHandle,
    drush_args: Vec<String>,
    assumed: &str,
) -> Result<Map, Box<EvalAltResult>> {
    let (compose, argv) = drush_argv(host, ctx, t, drush_args)?;
    super::docker::in_project_assuming(host, ctx, "drush", &compose, argv, Some(assumed))
}

/// Checks `drush status --format=json`: both `bootstrap: Successful` and `db-status: Connected` must be there.
pub fn check_status(stdout: &str) -> Result<serde_json::Value, String> {
    let value: serde_json::Value = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("drush status gave output that is not JSON ({e}); is a logger writing to stdout?"))?;
    let field = |k: &str| value.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let mut missing = Vec::new();
    if field("bootstrap") != "Successful" {
        missing.push("Drupal did not bootstrap (no `bootstrap: Successful`)");
    }
    if field("db-status") != "Connected" {
        missing.push("the database is not connected (no `db-status: Connected`)");
    }
    if missing.is_empty() { Ok(value) } else { Err(format!("drush status: {}", missing.join("; "))) }
}

pub fn register(engine: &mut Engine, reg: &mut Registrar, host: &Rc<Host>) {
    let mut m = Module::new();
    type Op = (&'static str, &'static [&'static str], &'static str, bool);
    let no_param: [Op; 6] = [
        ("updb", &[], "drush updatedb -y: runs pending database updates.", false),
        ("cim", &[], "drush config:import -y.", false),
        ("cr", &[], "drush cache:rebuild.", false),
        ("image_flush", &[], "drush image:flush --all: derivatives are rebuilt on demand.", false),
        ("search_index", &[], "drush search-api:index: indexes items not yet indexed.", false),
        ("deploy", &[], "drush deploy -y: updatedb, config:import, cache:rebuild, deploy:hook.", false),
    ];
    for (op, _, doc, read) in no_param {
        let h = Rc::clone(host);
        reg.in_module(
            &mut m,
            "drush",
            Sig { name: op, params: &["target: Target"], returns: "map", doc, effectful: true },
            move |ctx: NativeCallContext, t: TargetHandle| drush(&h, &ctx, &t, args(op, &[]), read),
        );
    }
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "drush",
        Sig {
            name: "run",
            params: &["target: Target", "args: array"],
            returns: "map",
            doc: "drush ARGS... on the target; each argument arrives as is.",
            effectful: true,
        },
        move |ctx: NativeCallContext, t: TargetHandle, a: Array| drush(&h, &ctx, &t, strings(&ctx, a)?, false),
    );
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "drush",
        Sig {
            name: "status",
            params: &["target: Target"],
            returns: "map",
            doc: "drush status --format=json, parsed; fails unless Drupal bootstrapped and the database is connected.",
            effectful: true,
        },
        move |ctx: NativeCallContext, t: TargetHandle| -> Result<Dynamic, Box<EvalAltResult>> {
            let out = drush_reading(&h, &ctx, &t, args("status", &[]), PLAN_STATUS)?;
            let text = stdout(&out);
            let value = check_status(&text).map_err(|e| runtime(e, ctx.call_position()))?;
            rhai::serde::to_dynamic(value).map_err(|e| runtime(e.to_string(), ctx.call_position()))
        },
    );
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "drush",
        Sig {
            name: "maintenance",
            params: &["target: Target", "on: bool"],
            returns: "map",
            doc: "Turns maintenance mode on or off (state:set system.maintenance_mode 1|0).",
            effectful: true,
        },
        move |ctx: NativeCallContext, t: TargetHandle, on: bool| {
            drush(&h, &ctx, &t, args("maintenance", &[if on { "1" } else { "0" }]), false)
        },
    );
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "drush",
        Sig {
            name: "maintenance_status",
            params: &["target: Target"],
            returns: "bool",
            doc: "Is maintenance mode on? (state:get system.maintenance_mode)",
            effectful: true,
        },
        move |ctx: NativeCallContext, t: TargetHandle| -> Result<bool, Box<EvalAltResult>> {
            let out = drush(&h, &ctx, &t, args("maintenance_status", &[]), true)?;
            Ok(stdout(&out).trim() == "1")
        },
    );
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "drush",
        Sig {
            name: "cset",
            params: &["target: Target", "name: string", "key: string", "value: string"],
            returns: "map",
            doc: "drush config:set NAME KEY VALUE -y (active config; the next cim reverts it unless exported).",
            effectful: true,
        },
        move |ctx: NativeCallContext, t: TargetHandle, name: &str, key: &str, value: &str| {
            drush(&h, &ctx, &t, args("cset", &[name, key, value]), false)
        },
    );
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "drush",
        Sig {
            name: "cget",
            params: &["target: Target", "name: string", "key: string"],
            returns: "string",
            doc: "drush config:get NAME KEY: the value.",
            effectful: true,
        },
        move |ctx: NativeCallContext, t: TargetHandle, name: &str, key: &str| -> Result<String, Box<EvalAltResult>> {
            let out = drush(&h, &ctx, &t, args("cget", &[name, key]), true)?;
            let text = stdout(&out);
            Ok(text.trim().split_once(": ").map(|(_, v)| v.trim_matches('\'').to_string()).unwrap_or_default())
        },
    );
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "drush",
        Sig {
            name: "state_get",
            params: &["target: Target", "key: string"],
            returns: "string",
            doc: "drush state:get KEY.",
            effectful: true,
        },
        move |ctx: NativeCallContext, t: TargetHandle, key: &str| -> Result<String, Box<EvalAltResult>> {
            let out = drush(&h, &ctx, &t, args("state_get", &[key]), true)?;
            Ok(stdout(&out).trim().to_string())
        },
    );
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "drush",
        Sig {
            name: "state_set",
            params: &["target: Target", "key: string", "value: string"],
            returns: "map",
            doc: "drush state:set KEY VALUE.",
            effectful: true,
        },
        move |ctx: NativeCallContext, t: TargetHandle, key: &str, value: &str| {
            drush(&h, &ctx, &t, args("state_set", &[key, value]), false)
        },
    );
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "drush",
        Sig {
            name: "sql_dump",
            params: &["target: Target", "file: string"],
            returns: "map",
            doc: "drush sql:dump --result-file=FILE --gzip (FILE is inside the container).",
            effectful: true,
        },
        move |ctx: NativeCallContext, t: TargetHandle, file: &str| {
            drush(&h, &ctx, &t, args("sql_dump", &[file]), false)
        },
    );
    engine.register_static_module("drush", m.into());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::docker::{V1, exec_argv};

    fn full(op: &str, params: &[&str]) -> String {
        let mut argv = vec!["drush".to_string()];
        argv.extend(args(op, params));
        exec_argv(V1, "drupal", &argv).join(" ")
    }

    #[test]
    fn commands_match_the_runbook_to_the_byte() {
        assert_eq!(
            full("maintenance", &["1"]),
            "docker-compose exec -T drupal drush state:set system.maintenance_mode 1 --input-format=integer"
        );
        assert_eq!(full("updb", &[]), "docker-compose exec -T drupal drush updatedb -y");
        assert_eq!(full("cim", &[]), "docker-compose exec -T drupal drush config:import -y");
        assert_eq!(full("cr", &[]), "docker-compose exec -T drupal drush cache:rebuild");
        assert_eq!(full("status", &[]), "docker-compose exec -T drupal drush status --format=json");
        assert_eq!(full("image_flush", &[]), "docker-compose exec -T drupal drush image:flush --all");
        assert_eq!(
            full("cset", &["system.site", "name", "Jaraba Impact Platform"]),
            "docker-compose exec -T drupal drush config:set system.site name Jaraba Impact Platform -y"
        );
        assert_eq!(full("search_index", &[]), "docker-compose exec -T drupal drush search-api:index");
        assert_eq!(full("deploy", &[]), "docker-compose exec -T drupal drush deploy -y");
        assert_eq!(
            full("sql_dump", &["/tmp/db.sql"]),
            "docker-compose exec -T drupal drush sql:dump --result-file=/tmp/db.sql --gzip"
        );
        assert_eq!(args("cset", &["system.site", "name", "Jaraba Impact Platform"])[3], "Jaraba Impact Platform");
    }

    #[test]
    fn status_requires_bootstrap_and_database() {
        assert!(check_status(r#"{"bootstrap":"Successful","db-status":"Connected"}"#).is_ok());
        let err = check_status(r#"{"drupal-version":"11.1.5"}"#).unwrap_err();
        assert!(err.contains("did not bootstrap") && err.contains("not connected"), "{err}");
        assert!(check_status("[notice] hello\n{").unwrap_err().contains("not JSON"));
    }
}
