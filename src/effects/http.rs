//! HTTP requests as effects, and the live connector that performs them (reqwest over rustls).
//!
//! Timings follow curl's: `dns_ms`, `connect_ms` (TCP), `tls_ms` (handshake), `ttfb_ms` (request start to the
//! first response byte, curl's `time_starttransfer`) and `total_ms`. A reused connection has no dns, connect or
//! tls time, as in curl.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Access;
use super::tls::{self as tls_effect};

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Body {
    None,
    Form(Vec<(String, String)>),
    Json(serde_json::Value),
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    Basic { user: String, password: Option<String> },
    Bearer(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub query: Vec<(String, String)>,
    /// Never described or journaled: they carry keys.
    #[serde(skip)]
    pub headers: Vec<(String, String)>,
    #[serde(skip)]
    pub auth: Option<Auth>,
    pub body: Body,
    pub timeout: Option<Duration>,
    pub follow_redirects: bool,
    /// A PEM file of extra trusted roots (a test CA, a private CA).
    pub ca_file: Option<String>,
    /// The cookie jar this request shares with others of the same `http::session()`.
    pub session: Option<u64>,
    pub access: Access,
}

impl HttpRequest {
    pub fn new(method: &str, url: &str) -> HttpRequest {
        let access = if matches!(method, "GET" | "HEAD" | "OPTIONS") { Access::Read } else { Access::Write };
        HttpRequest {
            method: method.into(),
            url: url.into(),
            query: Vec::new(),
            headers: Vec::new(),
            auth: None,
            body: Body::None,
            timeout: None,
            follow_redirects: true,
            ca_file: None,
            session: None,
            access,
        }
    }

    /// The URL with its query string, as plans, journals and scenarios see it.
    pub fn full_url(&self) -> String {
        if self.query.is_empty() {
            return self.url.clone();
        }
        let pairs: Vec<String> = self.query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}{}", self.url, pairs.join("&"))
    }

    pub fn describe(&self) -> String {
        let body = match &self.body {
            Body::None => String::new(),
            Body::Form(pairs) => {
                let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
                format!(" (form: {})", keys.join(", "))
            }
            Body::Json(_) => " (json body)".into(),
            Body::Text(t) => format!(" ({} bytes)", t.len()),
        };
        format!("{} {}{body}", self.method, self.full_url())
    }
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timings {
    pub dns_ms: f64,
    pub connect_ms: f64,
    pub tls_ms: f64,
    pub ttfb_ms: f64,
    pub total_ms: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    /// Where the response came from, after redirects.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub timings: Timings,
    /// Made up by a plan with nothing to answer it: modules read it as "unknown", not as an answer.
    pub assumed: bool,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The live side: one cookie jar per `http::session()`, shared by a client per combination of the options a
/// client is built with (CA file, redirects), so each request of a session gets its own options; a fresh
/// client for every other request so each measures its own connection.
#[derive(Default)]
pub struct HttpConnector {
    sessions: Mutex<HashMap<u64, SessionClients>>,
}

#[derive(Default)]
struct SessionClients {
    jar: Arc<reqwest::cookie::Jar>,
    clients: HashMap<(Option<String>, bool), Timed>,
}

#[derive(Clone)]
struct Timed {
    client: reqwest::Client,
    clock: Arc<Clock>,
}

impl HttpConnector {
    pub async fn perform(&self, request: &HttpRequest, timeout: Option<Duration>) -> Result<HttpResponse, String> {
        let timed = match request.session {
            Some(id) => {
                let mut sessions = self.sessions.lock().expect("sessions lock");
                let session = sessions.entry(id).or_default();
                let key = (request.ca_file.clone(), request.follow_redirects);
                match session.clients.get(&key) {
                    Some(timed) => timed.clone(),
                    None => {
                        let jar = Arc::clone(&session.jar);
                        let timed = build(request.ca_file.as_deref(), request.follow_redirects, Some(jar))?;
                        session.clients.insert(key, timed.clone());
                        timed
                    }
                }
            }
            None => build(request.ca_file.as_deref(), request.follow_redirects, None)?,
        };
        timed.clock.reset();
        let mut builder = timed.client.request(
            request.method.parse().map_err(|_| format!("`{}` is not an HTTP method", request.method))?,
            &request.url,
        );
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        builder = match &request.auth {
            Some(Auth::Basic { user, password }) => builder.basic_auth(user, password.as_ref()),
            Some(Auth::Bearer(token)) => builder.bearer_auth(token),
            None => builder,
        };
        builder = match &request.body {
            Body::None => builder,
            Body::Form(pairs) => builder.form(pairs),
            Body::Json(value) => builder.json(value),
            Body::Text(text) => builder.body(text.clone()),
        };
        if let Some(limit) = shortest(request.timeout, timeout) {
            builder = builder.timeout(limit);
        }
        let started = Instant::now();
        let response = builder.send().await.map_err(|e| explain(&e, shortest(request.timeout, timeout)))?;
        let ttfb = started.elapsed();
        let status = response.status().as_u16();
        let url = response.url().to_string();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let bytes = response.bytes().await.map_err(|e| explain(&e, shortest(request.timeout, timeout)))?;
        let total = started.elapsed();
        let timings = timed.clock.timings(ttfb, total);
        let body = String::from_utf8_lossy(&bytes).into_owned();
        Ok(HttpResponse { status, url, headers, body, timings, assumed: false })
    }
}

fn shortest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn build(
    ca_file: Option<&str>,
    follow_redirects: bool,
    jar: Option<Arc<reqwest::cookie::Jar>>,
) -> Result<Timed, String> {
    let clock = Arc::new(Clock::default());
    let mut tls = tls_effect::client_config(ca_file)?;
    tls.resumption = rustls::client::Resumption::store(Arc::new(clock::HandshakeStart {
        inner: rustls::client::ClientSessionMemoryCache::new(64),
        clock: Arc::clone(&clock),
    }));
    let redirects =
        if follow_redirects { reqwest::redirect::Policy::limited(10) } else { reqwest::redirect::Policy::none() };
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .dns_resolver(Arc::new(clock::TimedResolver { clock: Arc::clone(&clock) }))
        .connector_layer(clock::ConnectLayer { clock: Arc::clone(&clock) })
        .redirect(redirects)
        .user_agent(concat!("golive/", env!("CARGO_PKG_VERSION")));
    if let Some(jar) = jar {
        builder = builder.cookie_provider(jar);
    }
    let client = builder.build().map_err(|e| format!("cannot build the HTTP client: {}", chain(&e)))?;
    Ok(Timed { client, clock })
}

/// What went wrong, in the words an operator needs: refused, timed out, certificate expired or untrusted.
fn explain(error: &reqwest::Error, timeout: Option<Duration>) -> String {
    let causes = chain(error);
    if error.is_timeout() || causes.contains("timed out") {
        let after = timeout.map(|t| format!(" after {}", crate::duration::short(t))).unwrap_or_default();
        return format!("no answer: timed out{after}");
    }
    if let Some(problem) = tls_effect::certificate_problem(&causes) {
        return format!("TLS: {problem}");
    }
    if causes.contains("Connection refused") {
        return "connection refused (nothing listens there)".into();
    }
    if error.is_connect() {
        return format!("cannot connect: {causes}");
    }
    causes
}

/// The error and its sources, each said once.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Moments of one request's connection, written by the resolver, the connector and the TLS session store.
#[derive(Default)]
struct Clock {
    marks: Mutex<Marks>,
}

#[derive(Default, Clone, Copy)]
struct Marks {
    dns: Option<(Instant, Instant)>,
    connect: Option<(Instant, Instant)>,
    tls_start: Option<Instant>,
}

impl Clock {
    fn reset(&self) {
        *self.marks.lock().expect("clock lock") = Marks::default();
    }

    fn with(&self, f: impl FnOnce(&mut Marks)) {
        f(&mut self.marks.lock().expect("clock lock"));
    }

    fn timings(&self, ttfb: Duration, total: Duration) -> Timings {
        let marks = *self.marks.lock().expect("clock lock");
        let ms = |d: Duration| (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
        let dns = marks.dns.map(|(a, b)| b - a).unwrap_or_default();
        let (connect, tls) = match marks.connect {
            None => (Duration::ZERO, Duration::ZERO),
            Some((begin, end)) => {
                let tcp_begin = marks.dns.map(|(_, b)| b).unwrap_or(begin).max(begin);
                match marks.tls_start {
                    Some(hello) if hello >= tcp_begin && hello <= end => (hello - tcp_begin, end - hello),
                    _ => (end.saturating_duration_since(tcp_begin), Duration::ZERO),
                }
            }
        };
        Timings { dns_ms: ms(dns), connect_ms: ms(connect), tls_ms: ms(tls), ttfb_ms: ms(ttfb), total_ms: ms(total) }
    }
}

mod clock {
    //! The three hooks that see a connection being made. reqwest exposes no per-phase timings, so golive
    //! observes them: name resolution through its resolver, the whole connect through a connector layer,
    //! and the TLS ClientHello through the session store rustls consults when it builds that hello (right
    //! after the TCP connection is up).

    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};
    use std::time::Instant;

    use rustls::client::ClientSessionStore;
    use rustls::pki_types::ServerName;

    use super::Clock;

    pub struct TimedResolver {
        pub clock: Arc<Clock>,
    }

    impl reqwest::dns::Resolve for TimedResolver {
        fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
            let clock = Arc::clone(&self.clock);
            let host = name.as_str().to_string();
            Box::pin(async move {
                let begin = Instant::now();
                let found = tokio::net::lookup_host((host.as_str(), 0)).await;
                clock.with(|m| m.dns = Some((begin, Instant::now())));
                let addrs: Vec<std::net::SocketAddr> = found?.collect();
                Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
            })
        }
    }

    #[derive(Clone)]
    pub struct ConnectLayer {
        pub clock: Arc<Clock>,
    }

    impl<S> tower::Layer<S> for ConnectLayer {
        type Service = TimedConnect<S>;
        fn layer(&self, inner: S) -> TimedConnect<S> {
            TimedConnect { inner, clock: Arc::clone(&self.clock) }
        }
    }

    #[derive(Clone)]
    pub struct TimedConnect<S> {
        inner: S,
        clock: Arc<Clock>,
    }

    impl<S, R> tower::Service<R> for TimedConnect<S>
    where
        S: tower::Service<R>,
        S::Future: Send + 'static,
    {
        type Response = S::Response;
        type Error = S::Error;
        type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, request: R) -> Self::Future {
            let clock = Arc::clone(&self.clock);
            let begin = Instant::now();
            let connecting = self.inner.call(request);
            Box::pin(async move {
                let result = connecting.await;
                clock.with(|m| m.connect = Some((begin, Instant::now())));
                result
            })
        }
    }

    #[derive(Debug)]
    pub struct HandshakeStart {
        pub inner: rustls::client::ClientSessionMemoryCache,
        pub clock: Arc<Clock>,
    }

    impl std::fmt::Debug for Clock {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Clock")
        }
    }

    impl ClientSessionStore for HandshakeStart {
        fn set_kx_hint(&self, server_name: ServerName<'static>, group: rustls::NamedGroup) {
            self.inner.set_kx_hint(server_name, group)
        }

        fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<rustls::NamedGroup> {
            self.clock.with(|m| {
                m.tls_start.get_or_insert_with(Instant::now);
            });
            self.inner.kx_hint(server_name)
        }

        fn set_tls12_session(&self, server_name: ServerName<'static>, value: rustls::client::Tls12ClientSessionValue) {
            self.inner.set_tls12_session(server_name, value)
        }

        fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<rustls::client::Tls12ClientSessionValue> {
            self.inner.tls12_session(server_name)
        }

        fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
            self.inner.remove_tls12_session(server_name)
        }

        fn insert_tls13_ticket(
            &self,
            server_name: ServerName<'static>,
            value: rustls::client::Tls13ClientSessionValue,
        ) {
            self.inner.insert_tls13_ticket(server_name, value)
        }

        fn take_tls13_ticket(
            &self,
            server_name: &ServerName<'static>,
        ) -> Option<rustls::client::Tls13ClientSessionValue> {
            self.inner.take_tls13_ticket(server_name)
        }
    }
}
