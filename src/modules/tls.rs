//! `tls::cert`: the certificate a server presents, with its names, dates and whether it is trusted.

use std::rc::Rc;

use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, Map, Module, NativeCallContext};

use super::exec::decode;
use super::{Registrar, Sig};
use crate::effects::tls::CertRequest;
use crate::effects::{Effect, Outcome};
use crate::modules::Host;
use crate::script_error::runtime;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    server_name: Option<String>,
    ca_file: Option<String>,
}

/// `host`, `host:port` or `[v6]:port`; the port defaults to 443.
pub fn split_host_port(text: &str) -> Result<(String, u16), String> {
    let bad = || format!("`{text}` is not host or host:port");
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => 443,
            None => return Err(bad()),
        };
        return Ok((host.to_string(), port));
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Ok((host.to_string(), port.parse().map_err(|_| bad())?)),
        _ if text.is_empty() || text.contains('/') => Err(bad()),
        _ => Ok((text.to_string(), 443)),
    }
}

fn cert(host: &Host, ctx: &NativeCallContext, target: &str, options: Map) -> Result<Map, Box<EvalAltResult>> {
    let pos = ctx.call_position();
    let options: Options = decode(Dynamic::from_map(options), "`tls::cert`", pos)?;
    let (name, port) = split_host_port(target).map_err(|e| runtime(e, pos))?;
    let request = CertRequest {
        server_name: options.server_name.unwrap_or_else(|| name.clone()),
        host: name,
        port,
        ca_file: options.ca_file,
    };
    match host.controller.perform(Effect::Cert(request), "tls::cert", pos)? {
        Outcome::Cert(info) => rhai::serde::to_dynamic(&info)
            .map(|d| d.cast::<Map>())
            .map_err(|e| runtime(format!("certificate: {e}"), pos)),
        _ => Err(runtime("tls::cert got no certificate".to_string(), pos)),
    }
}

pub fn register(engine: &mut Engine, reg: &mut Registrar, host: &Rc<Host>) {
    let mut m = Module::new();
    let h = Rc::clone(host);
    reg.in_module_with_options(
        &mut m,
        "tls",
        Sig {
            name: "cert",
            params: &["host_port: string"],
            returns: "map",
            doc: "The server's certificate: #{ subject, issuer, sans, not_before, not_after, days_left, trusted, problem }; an expired or untrusted certificate is reported in `problem`, not as a connect error. \
                  Options: server_name (SNI, to check an origin by IP), ca_file.",
            effectful: true,
        },
        move |ctx: NativeCallContext, target: ImmutableString, options: Map| cert(&h, &ctx, &target, options),
    );
    engine.register_static_module("tls", m.into());
}

#[cfg(test)]
mod tests {
    use super::split_host_port;

    #[test]
    fn host_and_port_forms() {
        assert_eq!(split_host_port("app.example.com").unwrap(), ("app.example.com".into(), 443));
        assert_eq!(split_host_port("127.0.0.1:8443").unwrap(), ("127.0.0.1".into(), 8443));
        assert_eq!(split_host_port("[::1]:9443").unwrap(), ("::1".into(), 9443));
        assert!(split_host_port("https://x").is_err());
        assert!(split_host_port("host:port").is_err());
    }
}
