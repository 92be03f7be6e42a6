//! `docker::*`: a compose project on a target, images and tags. Pure command builders and parsers; the
//! commands run through the controller like any other. Works with compose v1 (`docker-compose`) and v2
//! (`docker compose`, or a v2 binary installed as `docker-compose`): which command is detected once per
//! target or set with `compose = "v1" | "v2"` in golive.toml, and the containers are read the same way for
//! both (ids from `ps -a -q`, state and health from `docker inspect`), never from a version's table.

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, Module, NativeCallContext};

use super::core::TargetHandle;
use super::exec::stdout;
use super::exec::{command, strings};
use super::{Registrar, Sig};
use crate::effects::{Command, Effect, shell_quote};
use crate::modules::Host;
use crate::script_error::runtime;

/// `docker::compose(t)`: the compose project in the target's `project_dir`.
#[derive(Debug, Clone)]
pub struct Compose {
    pub target: TargetHandle,
}

/// One container as `ps` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub service: String,
    pub name: String,
    /// running, exited, restarting, paused, created...
    pub state: String,
    /// healthy, unhealthy, starting, or none (no healthcheck).
    pub health: String,
}

impl Container {
    fn to_map(&self) -> Map {
        let mut m = Map::new();
        m.insert("service".into(), self.service.clone().into());
        m.insert("name".into(), self.name.clone().into());
        m.insert("state".into(), self.state.clone().into());
        m.insert("health".into(), self.health.clone().into());
        m
    }

    pub fn is_ready(&self) -> bool {
        self.state == "running" && (self.health == "healthy" || self.health == "none")
    }
}

pub const V1: &[&str] = &["docker-compose"];
pub const V2: &[&str] = &["docker", "compose"];

pub fn compose_argv(base: &[&str], args: &[&str]) -> Vec<String> {
    base.iter().chain(args).map(|s| s.to_string()).collect()
}

/// `compose exec -T SERVICE ARGV...`: always -T, because there is no terminal over ssh or in CI.
pub fn exec_argv(base: &[&str], service: &str, argv: &[String]) -> Vec<String> {
    let mut out = compose_argv(base, &["exec", "-T", service]);
    out.extend(argv.iter().cloned());
    out
}

/// One read of the project's containers, the same in v1 and v2 (and whatever table a `docker-compose`
/// binary of either version prints): compose lists their ids, stopped ones included, and the engine
/// describes them as JSON (`[]` when there are none). A failed `ps` fails the read.
pub fn ps_script(base: &[&str]) -> String {
    let ps: Vec<String> = compose_argv(base, &["ps", "-a", "-q"]).iter().map(|w| shell_quote(w)).collect();
    format!(
        "ids=$({}) && if [ -z \"$ids\" ]; then echo '[]'; else docker inspect --type container $ids; fi",
        ps.join(" ")
    )
}

/// Parses `docker inspect` of a compose project's containers: service from compose's label, state and
/// health from the engine ("none" without a healthcheck).
pub fn parse_inspect(output: &str) -> Result<Vec<Container>, String> {
    let trimmed = output.trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<serde_json::Value> =
        serde_json::from_str(trimmed).map_err(|e| format!("cannot parse `docker inspect` JSON: {e}"))?;
    values
        .iter()
        .map(|v| {
            let text = |pointer: &str| v.pointer(pointer).and_then(|x| x.as_str()).map(str::to_string);
            let name = text("/Name").ok_or("`docker inspect` gave a container without a Name")?;
            let service = v
                .pointer("/Config/Labels")
                .and_then(|l| l.get("com.docker.compose.service"))
                .and_then(|s| s.as_str())
                .ok_or_else(|| format!("container {name} has no com.docker.compose.service label"))?;
            Ok(Container {
                service: service.to_string(),
                name: name.trim_start_matches('/').to_string(),
                state: text("/State/Status").unwrap_or_else(|| "unknown".into()),
                health: text("/State/Health/Status").unwrap_or_else(|| "none".into()),
            })
        })
        .collect()
}

pub fn register(engine: &mut Engine, reg: &mut Registrar, host: &Rc<Host>) {
    engine.register_type_with_name::<Compose>("Compose");
    let mut m = Module::new();
    reg.in_module(&mut m, "docker", Sig { name: "compose", params: &["target: Target"], returns: "Compose",
            doc: "The compose project in the target's project_dir. Methods: pull, up, down, ps, exec, logs, wait_healthy.", effectful: false },
        |t: TargetHandle| Compose { target: t });
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "docker",
        Sig {
            name: "tag",
            params: &["target: Target", "src: string", "dst: string"],
            returns: "map",
            doc: "docker tag SRC DST on the target.",
            effectful: true,
        },
        move |ctx: NativeCallContext, t: TargetHandle, src: &str, dst: &str| {
            command(&h, &ctx, "docker", &t, Command::Argv(compose_argv(&["docker"], &["tag", src, dst])), Map::new())
        },
    );
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "docker",
        Sig {
            name: "images",
            params: &["target: Target"],
            returns: "array",
            doc: "The target's images: [#{image: \"repo:tag\", id}].",
            effectful: true,
        },
        move |ctx: NativeCallContext, t: TargetHandle| -> Result<Array, Box<EvalAltResult>> {
            let argv = compose_argv(&["docker"], &["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
            let out = command(&h, &ctx, "docker", &t, Command::Argv(argv), read_only())?;
            Ok(stdout(&out)
                .lines()
                .filter_map(|l| l.split_once(' '))
                .map(|(image, id)| {
                    let mut m = Map::new();
                    m.insert("image".into(), image.into());
                    m.insert("id".into(), id.trim().into());
                    Dynamic::from_map(m)
                })
                .collect())
        },
    );
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "docker",
        Sig {
            name: "inspect",
            params: &["target: Target", "name: string"],
            returns: "map",
            doc: "docker inspect NAME (a container or image), parsed.",
            effectful: true,
        },
        move |ctx: NativeCallContext, t: TargetHandle, name: &str| -> Result<Dynamic, Box<EvalAltResult>> {
            // A plan with no answer assumes an object with nothing known about it.
            let mut options = read_only();
            options.insert("assume".into(), "[{}]".into());
            let argv = compose_argv(&["docker"], &["inspect", name]);
            let out = command(&h, &ctx, "docker", &t, Command::Argv(argv), options)?;
            let text = stdout(&out);
            let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                runtime(format!("docker inspect {name} gave output golive cannot parse: {e}"), ctx.call_position())
            })?;
            let first = value.get(0).cloned().unwrap_or(serde_json::Value::Null);
            rhai::serde::to_dynamic(first).map_err(|e| runtime(e.to_string(), ctx.call_position()))
        },
    );
    engine.register_static_module("docker", m.into());

    let simple: [(&str, &[&str], &str); 3] = [
        ("pull", &["pull"], "Pulls the project's images (contacts the registry)."),
        ("up", &["up", "-d"], "Starts the project detached (up -d)."),
        ("down", &["down"], "Stops and removes the project's containers."),
    ];
    for (name, args, doc) in simple {
        let h = Rc::clone(host);
        reg.global(
            engine,
            Sig { name, params: &["compose: Compose"], returns: "map", doc, effectful: true },
            move |ctx: NativeCallContext, c: &mut Compose| {
                let base = compose_base(&h, &ctx, c)?;
                in_project(&h, &ctx, "docker", c, compose_argv(&base, args), false)
            },
        );
    }
    let h = Rc::clone(host);
    reg.global(engine, Sig { name: "ps", params: &["compose: Compose"], returns: "array",
            doc: "The project's containers: [#{service, name, state, health}] (health: healthy, unhealthy, starting, none).", effectful: true },
        move |ctx: NativeCallContext, c: &mut Compose| -> Result<Array, Box<EvalAltResult>> {
            Ok(ps(&h, &ctx, c)?.iter().map(|c| Dynamic::from_map(c.to_map())).collect())
        });
    let h = Rc::clone(host);
    reg.global_with_options(
        engine,
        Sig {
            name: "exec",
            params: &["compose: Compose", "service: string", "argv: array"],
            returns: "map",
            doc: "compose exec -T SERVICE ARGV...: each argument arrives as is.",
            effectful: true,
        },
        move |ctx: NativeCallContext, c: Compose, service: ImmutableString, argv: Array, mut options: Map| {
            let argv = strings(&ctx, argv)?;
            let base = compose_base(&h, &ctx, &c)?;
            options.insert("dir".into(), project_dir(&ctx, &c)?.into());
            command(&h, &ctx, "docker", &c.target, Command::Argv(exec_argv(&base, &service, &argv)), options)
        },
    );
    let h = Rc::clone(host);
    reg.global(
        engine,
        Sig {
            name: "logs",
            params: &["compose: Compose", "service: string", "tail: int"],
            returns: "string",
            doc: "The last TAIL lines of a service's logs.",
            effectful: true,
        },
        move |ctx: NativeCallContext,
              c: &mut Compose,
              service: &str,
              tail: i64|
              -> Result<String, Box<EvalAltResult>> {
            let base = compose_base(&h, &ctx, c)?;
            let argv = compose_argv(&base, &["logs", "--no-color", &format!("--tail={tail}"), service]);
            let out = in_project(&h, &ctx, "docker", c, argv, true)?;
            Ok(format!("{}{}", stdout(&out), out.get("stderr").map(|s| s.to_string()).unwrap_or_default()))
        },
    );
    let h = Rc::clone(host);
    reg.global(engine, Sig { name: "wait_healthy", params: &["compose: Compose", "timeout: string"], returns: "array",
            doc: "Polls ps every second until every container runs and is healthy (or has no healthcheck); fails at the timeout naming each laggard.", effectful: true },
        move |ctx: NativeCallContext, c: &mut Compose, timeout: &str| -> Result<Array, Box<EvalAltResult>> {
            let timeout = crate::duration::parse(timeout).map_err(|e| runtime(e, ctx.call_position()))?;
            // A deadline, not a count of polls: each `ps` takes time too (a plan keeps its own clock).
            let started = h.controller.step_clock();
            let mut last;
            loop {
                last = ps(&h, &ctx, c)?;
                if !last.is_empty() && last.iter().all(Container::is_ready) {
                    return Ok(last.iter().map(|c| Dynamic::from_map(c.to_map())).collect());
                }
                let left = timeout.saturating_sub(h.controller.step_clock().saturating_sub(started));
                if left.is_zero() {
                    break;
                }
                let pause = left.min(std::time::Duration::from_secs(1));
                h.controller.perform(Effect::Sleep { duration: pause }, "wait_healthy", ctx.call_position())?;
            }
            let laggards: Vec<String> = last.iter().filter(|c| !c.is_ready()).map(|c| format!("{} is {} ({})", c.service, c.state, c.health)).collect();
            let what = if last.is_empty() { "no containers are running".to_string() } else { laggards.join(", ") };
            Err(runtime(
                format!("the stack on `{}` was not healthy after {}: {what}; see `docker-compose logs` for the failing service", c.target.name, crate::duration::short(timeout)),
                ctx.call_position(),
            ))
        });
}

fn read_only() -> Map {
    let mut m = Map::new();
    m.insert("read_only".into(), true.into());
    m
}

pub(crate) fn project_dir(ctx: &NativeCallContext, c: &Compose) -> Result<String, Box<EvalAltResult>> {
    if c.target.project_dir.is_empty() {
        return Err(runtime(
            format!(
                "target `{}` has no project_dir in golive.toml; docker and drush run in that folder",
                c.target.name
            ),
            ctx.call_position(),
        ));
    }
    Ok(c.target.project_dir.clone())
}

/// A compose command in the project folder (docker's and drush's).
pub(crate) fn in_project(
    host: &Host,
    ctx: &NativeCallContext,
    module: &str,
    c: &Compose,
    argv: Vec<String>,
    read: bool,
) -> Result<Map, Box<EvalAltResult>> {
    let mut options = if read { read_only() } else { Map::new() };
    options.insert("dir".into(), project_dir(ctx, c)?.into());
    command(host, ctx, module, &c.target, Command::Argv(argv), options)
}

/// A read in the project folder with what a plan assumes it prints when nothing answers it.
pub(crate) fn in_project_assuming(
    host: &Host,
    ctx: &NativeCallContext,
    module: &str,
    c: &Compose,
    argv: Vec<String>,
    assumed: Option<&str>,
) -> Result<Map, Box<EvalAltResult>> {
    let mut options = read_only();
    options.insert("dir".into(), project_dir(ctx, c)?.into());
    if let Some(text) = assumed {
        options.insert("assume".into(), text.into());
    }
    command(host, ctx, module, &c.target, Command::Argv(argv), options)
}

/// The project's containers: ids from compose, details from the engine (one read). Reading compose's `ps`
/// table instead gave nothing when a v2 binary answered to the name `docker-compose` (its table differs).
fn ps(host: &Host, ctx: &NativeCallContext, c: &Compose) -> Result<Vec<Container>, Box<EvalAltResult>> {
    let base = compose_base(host, ctx, c)?;
    let mut options = read_only();
    options.insert("dir".into(), project_dir(ctx, c)?.into());
    let out = command(host, ctx, "docker", &c.target, Command::Shell(ps_script(&base)), options)?;
    parse_inspect(&stdout(&out)).map_err(|e| runtime(e, ctx.call_position()))
}

/// `docker-compose` or `docker compose` for this target: golive.toml's `compose`, else detected once.
pub fn compose_base(
    host: &Host,
    ctx: &NativeCallContext,
    c: &Compose,
) -> Result<Vec<&'static str>, Box<EvalAltResult>> {
    let configured = host.config.target(&c.target.name).ok().and_then(|t| t.spec.compose);
    let known = configured.or_else(|| host.compose_versions.borrow().get(&c.target.name).cloned());
    let version = match known {
        Some(v) => v,
        None => {
            let mut probe = read_only();
            probe.insert("allow_fail".into(), true.into());
            let v1 = command(
                host,
                ctx,
                "docker",
                &c.target,
                Command::Argv(compose_argv(V1, &["version", "--short"])),
                probe.clone(),
            )?;
            let version = if v1.get("code").and_then(|c| c.as_int().ok()) == Some(0) {
                "v1"
            } else {
                let v2 = command(
                    host,
                    ctx,
                    "docker",
                    &c.target,
                    Command::Argv(compose_argv(V2, &["version", "--short"])),
                    probe,
                )?;
                if v2.get("code").and_then(|c| c.as_int().ok()) != Some(0) {
                    return Err(runtime(
                        format!(
                            "neither `docker-compose` nor `docker compose` works on target `{}`; install one, or set compose = \"v1\" or \"v2\" for it in golive.toml",
                            c.target.name
                        ),
                        ctx.call_position(),
                    ));
                }
                "v2"
            };
            host.compose_versions.borrow_mut().insert(c.target.name.clone(), version.to_string());
            version.to_string()
        }
    };
    Ok(if version == "v2" { V2.to_vec() } else { V1.to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_always_passes_dash_t() {
        let argv = exec_argv(V1, "drupal", &["drush".into(), "cr".into()]);
        assert_eq!(argv, ["docker-compose", "exec", "-T", "drupal", "drush", "cr"]);
        let argv = exec_argv(V2, "mariadb", &["mysql".into()]);
        assert_eq!(argv, ["docker", "compose", "exec", "-T", "mariadb", "mysql"]);
        assert_eq!(
            ps_script(V2),
            "ids=$(docker compose ps -a -q) && if [ -z \"$ids\" ]; then echo '[]'; else docker inspect --type container $ids; fi"
        );
    }

    #[test]
    fn parses_the_engines_description_of_a_compose_project() {
        let json = include_str!("../../tests/fixtures/docker/inspect-v1-project.json");
        let ps = parse_inspect(json).unwrap();
        let summary: Vec<(&str, &str, &str, &str)> =
            ps.iter().map(|c| (c.service.as_str(), c.name.as_str(), c.state.as_str(), c.health.as_str())).collect();
        assert_eq!(
            summary,
            [
                ("drupal", "golivebed_drupal_1", "running", "healthy"),
                ("mariadb", "golivebed_mariadb_1", "running", "none")
            ]
        );
        assert!(ps[0].is_ready() && ps[1].is_ready());
        let exited = json.replace("\"Status\": \"running\"", "\"Status\": \"exited\"");
        assert!(parse_inspect(&exited).unwrap().iter().all(|c| c.state == "exited" && !c.is_ready()));
        assert!(parse_inspect("[{not json").unwrap_err().contains("cannot parse"));
        assert!(parse_inspect("").unwrap().is_empty());
        let unlabelled = r#"[{"Name": "/stray", "State": {"Status": "running"}, "Config": {"Labels": {}}}]"#;
        assert!(parse_inspect(unlabelled).unwrap_err().contains("stray has no com.docker.compose.service label"));
    }
}
