//! `http::*`: requests, sessions with cookies, `expect`, concurrent requests and the latency probe.
//!
//! ```rhai
//! let r = http::get(site, #{ follow_redirects: false });
//! print(`${r.status} in ${r.ttfb_ms} ms`);
//! let s = http::session();
//! s.post(`${site}/user/login`, #{ form: #{ name: "admin", pass: secret("ADMIN_PASS") } });
//! http::expect(`${site}/dashboard`, 200);
//! ```

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, Module, NativeCallContext, Position};
use serde::Deserialize;

use super::exec::decode;
use super::{Registrar, Sig};
use crate::effects::http::{Auth, Body, HttpRequest, HttpResponse};
use crate::effects::probe::ProbeRequest;
use crate::effects::{Access, Effect, Outcome};
use crate::modules::Host;
use crate::script_error::runtime;

/// A response as scripts see it.
#[derive(Debug, Clone)]
pub struct Response {
    pub inner: HttpResponse,
    pub method: String,
    /// Why nothing answered (only from `http::all`, whose requests never throw); empty otherwise.
    pub error: String,
}

impl Response {
    fn json(&self, pos: Position) -> Result<Dynamic, Box<EvalAltResult>> {
        // A plan's assumed answer has no body: its JSON is an empty map, not an error.
        if self.inner.assumed {
            return Ok(Dynamic::from_map(Map::new()));
        }
        let value: serde_json::Value = serde_json::from_str(&self.inner.body).map_err(|e| {
            runtime(
                format!(
                    "{} {} answered {} with a body that is not JSON ({e}): {}",
                    self.method,
                    self.inner.url,
                    self.inner.status,
                    excerpt(&self.inner.body)
                ),
                pos,
            )
        })?;
        rhai::serde::to_dynamic(value).map_err(|e| runtime(format!("JSON from {}: {e}", self.inner.url), pos))
    }

    fn headers(&self) -> Map {
        self.inner.headers.iter().map(|(k, v)| (k.to_ascii_lowercase().into(), v.clone().into())).collect()
    }
}

/// A cookie jar shared by the requests made through it (log in, then load the dashboard).
#[derive(Debug, Clone)]
pub struct Session {
    id: u64,
    defaults: Map,
}

/// The first 300 characters of a body, on one line.
pub fn excerpt(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return "(empty body)".into();
    }
    let cut: String = flat.chars().take(300).collect();
    if cut.len() < flat.len() { format!("{cut}...") } else { cut }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    query: BTreeMap<String, serde_json::Value>,
    form: Option<BTreeMap<String, serde_json::Value>>,
    json: Option<serde_json::Value>,
    body: Option<String>,
    timeout: Option<String>,
    follow_redirects: Option<bool>,
    basic: Option<BasicAuth>,
    bearer: Option<String>,
    ca_file: Option<String>,
    /// A POST that only reads (a search API): plans may send it with --live-reads, resume may repeat it.
    #[serde(default)]
    read_only: bool,
    /// Only in `http::all`: which method each request uses.
    method: Option<String>,
    /// Only in `http::all`: the request's URL.
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BasicAuth {
    user: String,
    password: Option<String>,
}

fn scalar(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Merges `extra` over `base` (a session's defaults under a request's options).
fn merged(base: &Map, extra: Map) -> Map {
    let mut all = base.clone();
    for (k, v) in extra {
        all.insert(k, v);
    }
    all
}

fn build(method: &str, url: &str, options: Options, pos: Position) -> Result<HttpRequest, Box<EvalAltResult>> {
    let method = method.to_ascii_uppercase();
    // A plan knows a secret URL (a webhook's) only by its placeholder: it records the request all the same,
    // and a scenario can answer it by that name.
    let placeholder = url.starts_with("<secret:") && url.ends_with('>');
    if !placeholder {
        let parsed = url::Url::parse(url).map_err(|e| runtime(format!("`{url}` is not a URL: {e}"), pos))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(runtime(format!("`{url}` is not an http:// or https:// URL"), pos));
        }
    }
    let mut request = HttpRequest::new(&method, url);
    if options.read_only {
        request.access = Access::Read;
    }
    request.headers = options.headers.into_iter().collect();
    request.query = options.query.iter().map(|(k, v)| (k.clone(), scalar(v))).collect();
    request.body = match (options.form, options.json, options.body) {
        (None, None, None) => Body::None,
        (Some(form), None, None) => Body::Form(form.iter().map(|(k, v)| (k.clone(), scalar(v))).collect()),
        (None, Some(json), None) => Body::Json(json),
        (None, None, Some(text)) => Body::Text(text),
        _ => return Err(runtime("give one of `form`, `json` or `body`, not several".to_string(), pos)),
    };
    request.auth = match (options.basic, options.bearer) {
        (Some(b), None) => Some(Auth::Basic { user: b.user, password: b.password }),
        (None, Some(token)) => Some(Auth::Bearer(token)),
        (None, None) => None,
        _ => return Err(runtime("give `basic` or `bearer`, not both".to_string(), pos)),
    };
    if let Some(text) = options.timeout {
        request.timeout = Some(crate::duration::parse(&text).map_err(|e| runtime(e, pos))?);
    }
    request.follow_redirects = options.follow_redirects.unwrap_or(true);
    request.ca_file = options.ca_file;
    Ok(request)
}

fn options(ctx: &NativeCallContext, map: Map) -> Result<Options, Box<EvalAltResult>> {
    decode(Dynamic::from_map(map), &format!("`http::{}`", ctx.fn_name()), ctx.call_position())
}

/// The Base64 golive's basic auth header carries for a secret password is masked as that secret.
fn mask_basic_auth(host: &Host, request: &HttpRequest) {
    if let Some(Auth::Basic { user, password: Some(password) }) = &request.auth {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        host.controller.terminal().redactor().add_derived(password, &encoded);
    }
}

fn send(host: &Host, ctx: &NativeCallContext, request: HttpRequest) -> Result<Response, Box<EvalAltResult>> {
    mask_basic_auth(host, &request);
    let method = request.method.clone();
    let caller = format!("http::{}", ctx.fn_name());
    match host.controller.perform(Effect::Http(request), &caller, ctx.call_position())? {
        Outcome::Http(inner) => Ok(Response { inner, method, error: String::new() }),
        _ => Err(runtime(format!("`{caller}` got no HTTP response"), ctx.call_position())),
    }
}

fn call(
    host: &Host,
    ctx: &NativeCallContext,
    method: &str,
    url: &str,
    opts: Map,
    session: Option<&Session>,
) -> Result<Response, Box<EvalAltResult>> {
    let opts = match session {
        Some(s) => merged(&s.defaults, opts),
        None => opts,
    };
    let mut request = build(method, url, options(ctx, opts)?, ctx.call_position())?;
    request.session = session.map(|s| s.id);
    send(host, ctx, request)
}

fn expect(
    host: &Host,
    ctx: &NativeCallContext,
    url: &str,
    status: i64,
    mut opts: Map,
) -> Result<Response, Box<EvalAltResult>> {
    let page = match opts.remove("page") {
        None => None,
        Some(page) => Some(page.into_immutable_string().map_err(|t| {
            runtime(format!("http::expect: `page` is the text the answer must contain, not a {t}"), ctx.call_position())
        })?),
    };
    let response = call(host, ctx, "GET", url, opts, None)?;
    if response.inner.assumed {
        return Ok(response);
    }
    if i64::from(response.inner.status) != status {
        return Err(runtime(
            format!(
                "GET {url} answered {}, expected {status}: {}",
                response.inner.status,
                excerpt(&response.inner.body)
            ),
            ctx.call_position(),
        ));
    }
    // The status alone is any server's: a proxy's error page, or an empty answer, is not the site's page.
    if let Some(page) = page.filter(|page| !response.inner.body.contains(page.as_str())) {
        return Err(runtime(
            format!(
                "GET {url} answered {status} but not with the site's page (no \"{page}\"): {}",
                excerpt(&response.inner.body)
            ),
            ctx.call_position(),
        ));
    }
    Ok(response)
}

/// `http::all([...])`: every request at once; a request that gets no answer gives status 0 and its `error`.
fn all(host: &Host, ctx: &NativeCallContext, requests: Array) -> Result<Array, Box<EvalAltResult>> {
    let pos = ctx.call_position();
    let mut built = Vec::with_capacity(requests.len());
    for (i, item) in requests.into_iter().enumerate() {
        let map = item.try_cast::<Map>().ok_or_else(|| {
            runtime(format!("http::all: request {i} is not a map like #{{ url: \"...\", method: \"GET\" }}"), pos)
        })?;
        let opts: Options = decode(Dynamic::from_map(map), &format!("http::all request {i}"), pos)?;
        let url = opts.url.clone().ok_or_else(|| runtime(format!("http::all: request {i} has no `url`"), pos))?;
        let method = opts.method.clone().unwrap_or_else(|| "GET".into());
        let request = build(&method, &url, opts, pos)?;
        mask_basic_auth(host, &request);
        built.push(request);
    }
    let methods: Vec<(String, String)> = built.iter().map(|r| (r.method.clone(), r.full_url())).collect();
    let effects = built.into_iter().map(Effect::Http).collect();
    let results = host.controller.perform_all(effects, "http::all", pos)?;
    let mut out = Array::new();
    for ((method, url), result) in methods.into_iter().zip(results) {
        let response = match result {
            Ok(Outcome::Http(inner)) => Response { inner, method, error: String::new() },
            Ok(_) => return Err(runtime("http::all got no HTTP response".to_string(), pos)),
            Err(e) if matches!(*e, EvalAltResult::ErrorTerminated(..)) => return Err(e),
            Err(e) => Response {
                inner: HttpResponse {
                    status: 0,
                    url,
                    headers: Vec::new(),
                    body: String::new(),
                    timings: Default::default(),
                    assumed: false,
                },
                method,
                error: e.to_string(),
            },
        };
        out.push(Dynamic::from(response));
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeOptions {
    #[serde(default = "default_requests")]
    requests: usize,
    #[serde(default = "default_concurrency")]
    concurrency: usize,
    rate: Option<f64>,
    timeout: Option<String>,
    ca_file: Option<String>,
}

fn default_requests() -> usize {
    100
}

fn default_concurrency() -> usize {
    4
}

fn probe(host: &Host, ctx: &NativeCallContext, url: &str, opts: Map) -> Result<Map, Box<EvalAltResult>> {
    let pos = ctx.call_position();
    let opts: ProbeOptions = decode(Dynamic::from_map(opts), "`http::probe`", pos)?;
    url::Url::parse(url).map_err(|e| runtime(format!("`{url}` is not a URL: {e}"), pos))?;
    let timeout = match opts.timeout {
        Some(t) => crate::duration::parse(&t).map_err(|e| runtime(e, pos))?,
        None => Duration::from_secs(300),
    };
    let request = ProbeRequest {
        url: url.into(),
        requests: opts.requests,
        concurrency: opts.concurrency,
        rate: opts.rate,
        timeout,
        ca_file: opts.ca_file,
    };
    match host.controller.perform(Effect::Probe(request), "http::probe", pos)? {
        Outcome::Probe(report) => rhai::serde::to_dynamic(&report)
            .map(|d| d.cast::<Map>())
            .map_err(|e| runtime(format!("probe report: {e}"), pos)),
        _ => Err(runtime("http::probe got no report".to_string(), pos)),
    }
}

pub fn register(engine: &mut Engine, reg: &mut Registrar, host: &Rc<Host>) {
    engine
        .register_type_with_name::<Response>("Response")
        .register_get("status", |r: &mut Response| i64::from(r.inner.status))
        .register_get("ok", |r: &mut Response| (200..300).contains(&r.inner.status))
        .register_get("url", |r: &mut Response| r.inner.url.clone())
        .register_get("body", |r: &mut Response| r.inner.body.clone())
        .register_get("excerpt", |r: &mut Response| excerpt(&r.inner.body))
        .register_get("headers", |r: &mut Response| r.headers())
        .register_get("error", |r: &mut Response| r.error.clone())
        .register_get("dns_ms", |r: &mut Response| r.inner.timings.dns_ms)
        .register_get("connect_ms", |r: &mut Response| r.inner.timings.connect_ms)
        .register_get("tls_ms", |r: &mut Response| r.inner.timings.tls_ms)
        .register_get("ttfb_ms", |r: &mut Response| r.inner.timings.ttfb_ms)
        .register_get("total_ms", |r: &mut Response| r.inner.timings.total_ms)
        .register_fn("header", |r: &mut Response, name: &str| r.inner.header(name).unwrap_or_default().to_string())
        .register_fn("json", |ctx: NativeCallContext, r: &mut Response| r.json(ctx.call_position()))
        .register_fn("to_string", |r: &mut Response| format!("{} {} -> {}", r.method, r.inner.url, r.inner.status))
        .register_fn("to_debug", |r: &mut Response| format!("{} {} -> {}", r.method, r.inner.url, r.inner.status))
        .register_type_with_name::<Session>("Session");

    let mut module = Module::new();
    for method in ["get", "head", "delete", "post", "put"] {
        let h = Rc::clone(host);
        let verb = method.to_ascii_uppercase();
        reg.in_module_with_options(
            &mut module,
            "http",
            Sig {
                name: method,
                params: &["url: string"],
                returns: "Response",
                doc: "Sends the request; any status is a response (use http::expect to insist on one). No answer fails the step. \
                      Options: headers, query, form | json | body, timeout, follow_redirects (true), basic #{user, password} | bearer, ca_file, read_only.",
                effectful: true,
            },
            move |ctx: NativeCallContext, url: ImmutableString, opts: Map| call(&h, &ctx, &verb, &url, opts, None),
        );
        let h = Rc::clone(host);
        let verb = method.to_ascii_uppercase();
        reg.global_with_options(
            engine,
            Sig {
                name: method,
                params: &["session: Session", "url: string"],
                returns: "Response",
                doc: "The request, with the session's cookies and defaults; options over the session's defaults.",
                effectful: true,
            },
            move |ctx: NativeCallContext, s: Session, url: ImmutableString, opts: Map| {
                call(&h, &ctx, &verb, &url, opts, Some(&s))
            },
        );
    }
    let h = Rc::clone(host);
    reg.in_module_with_options(
        &mut module,
        "http",
        Sig {
            name: "expect",
            params: &["url: string", "status: int"],
            returns: "Response",
            doc: "GETs url and fails the step with the status, URL and a body excerpt unless it answers `status`, and with `page: \"text\"`, unless its body contains that text (the site's own page, not any server's answer). Options: those of http::get, and `page`.",
            effectful: true,
        },
        move |ctx: NativeCallContext, url: ImmutableString, status: i64, opts: Map| expect(&h, &ctx, &url, status, opts),
    );
    let h = Rc::clone(host);
    reg.in_module(
        &mut module,
        "http",
        Sig {
            name: "all",
            params: &["requests: array"],
            returns: "array",
            doc: "Sends every request (#{ url, method, ...options }) at once; each gives a Response, status 0 and `error` when nothing answered.",
            effectful: true,
        },
        move |ctx: NativeCallContext, requests: Array| all(&h, &ctx, requests),
    );
    let h = Rc::clone(host);
    reg.in_module(
        &mut module,
        "http",
        Sig {
            name: "probe",
            params: &["url: string", "options: map"],
            returns: "map",
            doc: "Latency percentiles of many GETs: #{ requests (100), concurrency (4), rate (per second: open loop, no coordinated omission), timeout, ca_file } -> #{ ok (every request succeeded), succeeded, errors, first_error, p50_ms, p90_ms, p95_ms, p99_ms, max_ms, mean_ms, throughput_rps }.",
            effectful: true,
        },
        move |ctx: NativeCallContext, url: &str, opts: Map| probe(&h, &ctx, url, opts),
    );
    static SESSIONS: AtomicU64 = AtomicU64::new(1);
    reg.in_module(
        &mut module,
        "http",
        Sig {
            name: "session",
            params: &[],
            returns: "Session",
            doc: "A cookie jar: s.get(url), s.post(url, #{ form: ... }) share cookies, for flows like log in then load the dashboard.",
            effectful: false,
        },
        || Session { id: SESSIONS.fetch_add(1, Ordering::Relaxed), defaults: Map::new() },
    );
    reg.in_module(
        &mut module,
        "http",
        Sig {
            name: "session",
            params: &["defaults: map"],
            returns: "Session",
            doc: "A cookie jar whose requests all start from these options (ca_file, headers, follow_redirects...).",
            effectful: false,
        },
        |defaults: Map| Session { id: SESSIONS.fetch_add(1, Ordering::Relaxed), defaults },
    );
    engine.register_static_module("http", module.into());
}
