//! `local::run` and `local::exec`: commands on the machine golive runs on (target `local`).

use std::rc::Rc;

use rhai::{Array, Engine, EvalAltResult, ImmutableString, Map, Module, NativeCallContext};

use super::core::TargetHandle;
use super::exec::{command, strings};
use super::{Registrar, Sig};
use crate::effects::Command;
use crate::modules::Host;

pub fn register(engine: &mut Engine, reg: &mut Registrar, host: &Rc<Host>) {
    let mut module = Module::new();
    const RUN_DOC: &str = concat!(
        "Runs a shell string with `sh -c` on this machine; fails the step on a non-zero exit. ",
        super::exec::exec_options_doc!()
    );
    const EXEC_DOC: &str = "Runs a program with arguments (no shell: each argument arrives as is). \
        Options as for local::run.";
    let h = Rc::clone(host);
    reg.in_module_with_options(
        &mut module,
        "local",
        Sig { name: "run", params: &["cmd: string"], returns: "map", doc: RUN_DOC, effectful: true },
        move |ctx: NativeCallContext, cmd: ImmutableString, options: Map| {
            run(&h, &ctx, Command::Shell(cmd.into()), options)
        },
    );
    let h = Rc::clone(host);
    reg.in_module_with_options(
        &mut module,
        "local",
        Sig { name: "exec", params: &["argv: array"], returns: "map", doc: EXEC_DOC, effectful: true },
        move |ctx: NativeCallContext, argv: Array, options: Map| {
            run(&h, &ctx, Command::Argv(strings(&ctx, argv)?), options)
        },
    );
    engine.register_static_module("local", module.into());
}

/// Runs on this machine: the `local` target, whatever golive.toml says about other targets.
fn run(host: &Host, ctx: &NativeCallContext, cmd: Command, options: Map) -> Result<Map, Box<EvalAltResult>> {
    let local = TargetHandle::local();
    command(host, ctx, "local", &local, cmd, options)
}
