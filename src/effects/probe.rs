//! The latency probe behind `http::probe`: many requests, percentiles from an HdrHistogram.
//!
//! With a fixed `rate` the schedule is open-loop: request i is due at start + i/rate and its latency is
//! measured from that moment, so a server stall shows up in the percentiles instead of slowing the sender
//! (no coordinated omission). Without a rate, `concurrency` workers send back to back (closed loop, as wrk).
//!
//! Each worker owns one keep-alive connection (hyper's HTTP/1 client, reconnecting after an error), as wrk's
//! connections do: no pool to share, so the probe measures the server rather than itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Serialize)]
pub struct ProbeRequest {
    pub url: String,
    pub requests: usize,
    pub concurrency: usize,
    /// Requests per second, or none for as fast as the server answers.
    pub rate: Option<f64>,
    pub timeout: Duration,
    pub ca_file: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProbeReport {
    pub requests: usize,
    /// Requests answered below 400.
    pub succeeded: usize,
    /// Every request succeeded: a bool, as every other result's `ok`.
    pub ok: bool,
    /// Transport failures and answers of 400 or more.
    pub errors: usize,
    /// The first error's text, to say what went wrong.
    pub first_error: String,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    pub throughput_rps: f64,
    pub duration_ms: f64,
}

impl ProbeReport {
    /// Nothing measured (a plan's assumption, a fault): NaN fails every comparison of its times.
    pub fn unmeasured(requests: usize) -> ProbeReport {
        let nan = f64::NAN;
        ProbeReport {
            requests,
            p50_ms: nan,
            p90_ms: nan,
            p95_ms: nan,
            p99_ms: nan,
            max_ms: nan,
            mean_ms: nan,
            throughput_rps: nan,
            duration_ms: nan,
            ..ProbeReport::default()
        }
    }
}

const MAX_MICROS: u64 = 3_600_000_000;

pub async fn run(probe: &ProbeRequest, cancel: &CancellationToken) -> Result<ProbeReport, String> {
    if probe.requests == 0 || probe.concurrency == 0 {
        return Err("a probe needs at least one request and a concurrency of at least 1".into());
    }
    if probe.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err("rate must be a positive number of requests per second".into());
    }
    let target = Target::parse(&probe.url, probe.ca_file.as_deref())?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    // Workers stop sending at the timeout, on Ctrl-C, and when this future is dropped (a step's deadline).
    let stop = cancel.child_token();
    let _stop_when_dropped = stop.clone().drop_guard();
    let workers: Vec<_> = (0..probe.concurrency.min(probe.requests))
        .map(|_| {
            let target = target.clone();
            let next = Arc::clone(&next);
            let probe = probe.clone();
            let stop = stop.clone();
            tokio::spawn(async move { worker(&target, &probe, &next, started, &stop).await })
        })
        .collect();
    let joined = async {
        let mut total = new_histogram();
        let (mut errors, mut first_error) = (0, String::new());
        for w in workers {
            let part = w.await.map_err(|e| format!("probe worker failed: {e}"))?;
            total.add(&part.histogram).map_err(|e| format!("probe histogram: {e}"))?;
            errors += part.errors;
            if first_error.is_empty() {
                first_error = part.first_error;
            }
        }
        Ok::<_, String>((total, errors, first_error))
    };
    tokio::pin!(joined);
    tokio::select! {
        r = &mut joined => { let parts = r?; return Ok(report(probe, started, parts)) }
        _ = cancel.cancelled() => {
            stop.cancel();
            let _ = joined.await;
            return Err("cancelled by the operator (Ctrl-C)".into());
        }
        _ = tokio::time::sleep(probe.timeout) => {}
    }
    // At the timeout: no request is sent after this; what was measured until then is the report.
    stop.cancel();
    let (histogram, errors, _) = joined.await?;
    let answered = histogram.len() as usize + errors;
    let note = format!(
        "the probe did not finish within {}: {answered} of {} requests answered, the rest not sent",
        crate::duration::short(probe.timeout),
        probe.requests
    );
    let mut partial = report(probe, started, (histogram, errors, note));
    partial.ok = false;
    Ok(partial)
}

fn report(probe: &ProbeRequest, started: Instant, parts: (Histogram<u64>, usize, String)) -> ProbeReport {
    let (histogram, errors, first_error) = parts;
    let elapsed = started.elapsed();
    let ms = |micros: u64| (micros as f64 / 10.0).round() / 100.0;
    let succeeded = histogram.len() as usize;
    ProbeReport {
        requests: probe.requests,
        succeeded,
        ok: succeeded > 0 && errors == 0,
        errors,
        first_error,
        p50_ms: ms(histogram.value_at_quantile(0.50)),
        p90_ms: ms(histogram.value_at_quantile(0.90)),
        p95_ms: ms(histogram.value_at_quantile(0.95)),
        p99_ms: ms(histogram.value_at_quantile(0.99)),
        max_ms: ms(histogram.max()),
        mean_ms: (histogram.mean() / 10.0).round() / 100.0,
        throughput_rps: (((succeeded + errors) as f64 / elapsed.as_secs_f64()) * 10.0).round() / 10.0,
        duration_ms: (elapsed.as_secs_f64() * 1000.0).round(),
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("static histogram bounds are valid")
}

struct Part {
    histogram: Histogram<u64>,
    errors: usize,
    first_error: String,
}

/// Where the probe's requests go, parsed once.
#[derive(Clone)]
struct Target {
    address: String,
    host_header: String,
    path: String,
    tls: Option<(tokio_rustls::TlsConnector, rustls::pki_types::ServerName<'static>)>,
}

impl Target {
    fn parse(url: &str, ca_file: Option<&str>) -> Result<Target, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let host = parsed.host_str().ok_or_else(|| format!("`{url}` has no host"))?.to_string();
        let port = parsed.port_or_known_default().ok_or_else(|| format!("`{url}` has no port"))?;
        let tls = match parsed.scheme() {
            "http" => None,
            "https" => {
                let mut config = super::tls::client_config(ca_file)?;
                config.alpn_protocols = vec![b"http/1.1".to_vec()];
                let name = rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                    .map_err(|_| format!("`{host}` is not a host name"))?;
                Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
            }
            other => return Err(format!("the probe speaks http and https, not {other}")),
        };
        let path = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_string(),
        };
        let host_header = match parsed.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        Ok(Target { address: format!("{}:{port}", host.trim_matches(['[', ']'])), host_header, path, tls })
    }

    async fn connect(
        &self,
    ) -> Result<hyper::client::conn::http1::SendRequest<http_body_util::Empty<bytes::Bytes>>, String> {
        let tcp = tokio::net::TcpStream::connect(&self.address).await.map_err(|e| format!("{}: {e}", self.address))?;
        tcp.set_nodelay(true).ok();
        match &self.tls {
            None => handshake(hyper_util::rt::TokioIo::new(tcp)).await,
            Some((connector, name)) => {
                let stream = connector.connect(name.clone(), tcp).await.map_err(|e| format!("TLS: {e}"))?;
                handshake(hyper_util::rt::TokioIo::new(stream)).await
            }
        }
    }
}

async fn handshake<IO>(
    io: IO,
) -> Result<hyper::client::conn::http1::SendRequest<http_body_util::Empty<bytes::Bytes>>, String>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn worker(
    target: &Target,
    probe: &ProbeRequest,
    next: &AtomicUsize,
    started: Instant,
    stop: &CancellationToken,
) -> Part {
    use http_body_util::BodyExt;
    let mut part = Part { histogram: new_histogram(), errors: 0, first_error: String::new() };
    let mut connection = None;
    loop {
        if stop.is_cancelled() {
            return part;
        }
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= probe.requests {
            return part;
        }
        let sent = match probe.rate {
            Some(rate) => {
                let due = started + Duration::from_secs_f64(i as f64 / rate);
                tokio::select! {
                    _ = tokio::time::sleep_until(due.into()) => {}
                    _ = stop.cancelled() => return part,
                }
                due
            }
            None => Instant::now(),
        };
        let result = async {
            if connection.is_none() {
                connection = Some(target.connect().await?);
            }
            let sender = connection.as_mut().expect("connected above");
            sender.ready().await.map_err(|e| e.to_string())?;
            let request = hyper::Request::get(&target.path)
                .header(hyper::header::HOST, &target.host_header)
                .header(hyper::header::USER_AGENT, concat!("golive/", env!("CARGO_PKG_VERSION")))
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .map_err(|e| e.to_string())?;
            let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
            let status = response.status();
            response.into_body().collect().await.map_err(|e| e.to_string())?;
            if status.as_u16() >= 400 { Err(format!("answered {status}")) } else { Ok(()) }
        };
        let result = tokio::select! {
            r = result => r,
            _ = stop.cancelled() => return part,
        };
        match result {
            Ok(()) => {
                let micros = sent.elapsed().as_micros().clamp(1, MAX_MICROS as u128) as u64;
                part.histogram.saturating_record(micros);
            }
            Err(e) => {
                if !e.starts_with("answered") {
                    connection = None;
                }
                part.errors += 1;
                if part.first_error.is_empty() {
                    part.first_error = e;
                }
            }
        }
    }
}
