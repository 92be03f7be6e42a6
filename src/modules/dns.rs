//! `dns::resolve`: the records a name has (checks that the site resolves where it should).

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, Module, NativeCallContext};

use super::exec::decode;
use super::{Registrar, Sig};
use crate::effects::dns::{DnsQuery, record_type};
use crate::effects::{Effect, Outcome};
use crate::modules::Host;
use crate::script_error::runtime;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// `ip:port` of the server to ask; empty or absent means the system's resolvers.
    nameserver: Option<String>,
}

fn resolve(
    host: &Host,
    ctx: &NativeCallContext,
    name: &str,
    kind: &str,
    options: Map,
) -> Result<Array, Box<EvalAltResult>> {
    let pos = ctx.call_position();
    let options: Options = decode(Dynamic::from_map(options), "`dns::resolve`", pos)?;
    record_type(kind).map_err(|e| runtime(e, pos))?;
    let query = DnsQuery {
        name: name.into(),
        record_type: kind.to_ascii_uppercase(),
        nameserver: options.nameserver.filter(|n| !n.is_empty()),
    };
    match host.controller.perform(Effect::Dns(query), "dns::resolve", pos)? {
        Outcome::Dns(records) => Ok(records.into_iter().map(Dynamic::from).collect()),
        _ => Err(runtime("dns::resolve got no records".to_string(), pos)),
    }
}

pub fn register(engine: &mut Engine, reg: &mut Registrar, host: &Rc<Host>) {
    let mut m = Module::new();
    let h = Rc::clone(host);
    reg.in_module_with_options(
        &mut m,
        "dns",
        Sig {
            name: "resolve",
            params: &["name: string", "type: string"],
            returns: "array",
            doc: "The records of NAME of TYPE (A, AAAA, CNAME, MX, TXT, NS, CAA) as strings; empty when there are none. \
                  Options: #{ nameserver: \"ip:port\" } asks that server.",
            effectful: true,
        },
        move |ctx: NativeCallContext, name: ImmutableString, kind: ImmutableString, options: Map| {
            resolve(&h, &ctx, &name, &kind, options)
        },
    );
    engine.register_static_module("dns", m.into());
}
