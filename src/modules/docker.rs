//! `docker::*`: a compose project on a target, images and tags. Pure command builders and parsers; the
//! commands run through the controller like any other. Works with compose v1 (`docker-compose`, table
//! output) and v2 (`docker compose`, JSON array before 2.21, one object per line after), detected once per
//! target or set with `compose = "v1" | "v2"` in golive.toml.

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, Module, NativeCallContext};

use super::core::TargetHandle;
use super::exec::stdout;
use super::exec::{command, strings};
use super::{Registrar, Sig};
use crate::effects::{Command, Effect};
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

pub fn ps_args(base: &[&str]) -> Vec<String> {
    if base == V1 { compose_argv(base, &["ps"]) } else { compose_argv(base, &["ps", "--all", "--format", "json"]) }
}

/// Parses `ps` of either version: the v1 table, a v2 JSON array, or v2 JSON lines.
pub fn parse_ps(output: &str) -> Result<Vec<Container>, String> {
    let trimmed = output.trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let values: Vec<serde_json::Value> = if trimmed.starts_with('[') {
            serde_json::from_str(trimmed).map_err(|e| format!("cannot parse compose ps JSON: {e}"))?
        } else {
            trimmed
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).map_err(|e| format!("cannot parse compose ps JSON line `{l}`: {e}")))
                .collect::<Result<_, _>>()?
        };
        return Ok(values
            .iter()
            .map(|v| {
                let text = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
                let health = text("Health");
                Container {
                    service: text("Service"),
                    name: text("Name"),
                    state: text("State"),
                    health: if health.is_empty() { "none".into() } else { health },
                }
            })
            .collect());
    }
    let mut containers = Vec::new();
    for line in trimmed.lines().skip_while(|l| !l.starts_with("---")).skip(1) {
        let columns: Vec<&str> = line.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
        if columns.len() < 3 {
            continue;
        }
        let name = columns[0].to_string();
        let (state, health) = v1_state(columns[2]);
        // v1 names containers PROJECT_SERVICE_N.
        let service = name
            .rsplit_once('_')
            .and_then(|(rest, _)| rest.split_once('_').map(|(_, s)| s.to_string()))
            .unwrap_or_else(|| name.clone());
        containers.push(Container { service, name, state, health });
    }
    Ok(containers)
}

/// v1's State column: "Up (healthy)", "Up (health: starting)", "Up", "Exit 1", "Restarting".
fn v1_state(state: &str) -> (String, String) {
    let running = state.starts_with("Up");
    let health = if state.contains("(healthy)") {
        "healthy"
    } else if state.contains("(unhealthy)") {
        "unhealthy"
    } else if state.contains("health: starting") {
        "starting"
    } else {
        "none"
    };
    let state = if running {
        "running".to_string()
    } else if state.starts_with("Exit") {
        "exited".to_string()
    } else {
        state.to_lowercase()
    };
    (state, health.to_string())
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
    for with_options in [false, true] {
        let h = Rc::clone(host);
        let params: &[&str] = if with_options {
            &["compose: Compose", "service: string", "argv: array", "options: map"]
        } else {
            &["compose: Compose", "service: string", "argv: array"]
        };
        let sig = Sig {
            name: "exec",
            params,
            returns: "map",
            doc: "compose exec -T SERVICE ARGV...: each argument arrives as is.",
            effectful: true,
        };
        let body = move |ctx: &NativeCallContext, c: &mut Compose, service: &str, argv: Array, options: Map| {
            let argv = strings(ctx, argv)?;
            let base = compose_base(&h, ctx, c)?;
            let mut options = options;
            options.insert("dir".into(), project_dir(ctx, c)?.into());
            command(&h, ctx, "docker", &c.target, Command::Argv(exec_argv(&base, service, &argv)), options)
        };
        if with_options {
            reg.global(engine, sig, move |ctx: NativeCallContext, c: &mut Compose, s: &str, a: Array, o: Map| {
                body(&ctx, c, s, a, o)
            });
        } else {
            reg.global(engine, sig, move |ctx: NativeCallContext, c: &mut Compose, s: &str, a: Array| {
                body(&ctx, c, s, a, Map::new())
            });
        }
    }
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

fn ps(host: &Host, ctx: &NativeCallContext, c: &Compose) -> Result<Vec<Container>, Box<EvalAltResult>> {
    let base = compose_base(host, ctx, c)?;
    let out = in_project(host, ctx, "docker", c, ps_args(&base), true)?;
    parse_ps(&stdout(&out)).map_err(|e| runtime(e, ctx.call_position()))
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
        assert_eq!(ps_args(V2), ["docker", "compose", "ps", "--all", "--format", "json"]);
    }

    #[test]
    fn parses_the_v1_table() {
        let table = "       Name                      Command                  State                Ports         \n\
---------------------------------------------------------------------------------------------\n\
golivebed_drupal_1    /bin/httpd -f -p 80 -h /va ...   Up (healthy)   127.0.0.1:18080->80/tcp\n\
golivebed_mariadb_1   /bin/sleep 2147483647            Up             80/tcp                 \n\
golivebed_cron_1      /bin/true                        Exit 0                                \n\
golivebed_web_1       /bin/httpd                       Up (health: starting)   80/tcp\n";
        let ps = parse_ps(table).unwrap();
        let summary: Vec<(&str, &str, &str)> =
            ps.iter().map(|c| (c.service.as_str(), c.state.as_str(), c.health.as_str())).collect();
        assert_eq!(
            summary,
            [
                ("drupal", "running", "healthy"),
                ("mariadb", "running", "none"),
                ("cron", "exited", "none"),
                ("web", "running", "starting")
            ]
        );
        assert!(ps[0].is_ready() && ps[1].is_ready() && !ps[2].is_ready() && !ps[3].is_ready());
    }

    #[test]
    fn parses_v2_json_array_and_json_lines() {
        let array = r#"[{"Name":"p-drupal-1","Service":"drupal","State":"running","Health":"unhealthy"},{"Name":"p-db-1","Service":"db","State":"running","Health":""}]"#;
        let lines = "{\"Name\":\"p-drupal-1\",\"Service\":\"drupal\",\"State\":\"running\",\"Health\":\"unhealthy\"}\n{\"Name\":\"p-db-1\",\"Service\":\"db\",\"State\":\"running\",\"Health\":\"\"}\n";
        for output in [array, lines] {
            let ps = parse_ps(output).unwrap();
            assert_eq!(
                ps[0],
                Container {
                    service: "drupal".into(),
                    name: "p-drupal-1".into(),
                    state: "running".into(),
                    health: "unhealthy".into()
                }
            );
            assert_eq!(ps[1].health, "none");
        }
        assert!(parse_ps("{not json").unwrap_err().contains("cannot parse"));
        assert!(parse_ps("").unwrap().is_empty());
    }
}
