//! Scenario files: canned answers to a plan's reads, so tests drive every branch offline.
//!
//! ```toml
//! description = "the stack comes up unhealthy"
//! [[exec]]
//! match = "docker-compose ps"   # a substring of the command line
//! stdout = "drupal  Up (unhealthy)"
//! code = 0
//! [[prompt]]
//! match = "Go/No-Go"
//! answer = "NO-GO"
//! [[http]]
//! match = "GET https://api.stripe.com/v1/account"   # a substring of "METHOD URL?QUERY"
//! status = 200
//! body = '{"id": "acct_1", "charges_enabled": true}'
//! ttfb_ms = 120.0
//! [[probe]]
//! match = "/api/health"
//! p95_ms = 180.0
//! [[tls]]
//! match = "app.jarabaimpact.com"
//! days_left = 60
//! [[dns]]
//! match = "A app.jarabaimpact.com"
//! records = ["104.21.0.1"]
//! ```

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::http::{HttpResponse, Timings};
use super::probe::ProbeReport;
use super::tls::CertInfo;
use super::{Effect, ExecOutput, Outcome};
use crate::error::{Failure, Result, io_failure};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    #[serde(default)]
    description: String,
    #[serde(default)]
    exec: Vec<ExecRule>,
    #[serde(default)]
    prompt: Vec<PromptRule>,
    #[serde(default)]
    http: Vec<HttpRule>,
    #[serde(default)]
    probe: Vec<ProbeRule>,
    #[serde(default)]
    tls: Vec<TlsRule>,
    #[serde(default)]
    dns: Vec<DnsRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpRule {
    #[serde(rename = "match")]
    pattern: String,
    #[serde(default = "ok_status")]
    status: u16,
    #[serde(default)]
    body: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    ttfb_ms: f64,
    #[serde(default)]
    total_ms: f64,
    /// The request fails without an answer (refused, timed out) with this text.
    error: Option<String>,
    times: Option<usize>,
}

fn ok_status() -> u16 {
    200
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeRule {
    #[serde(rename = "match")]
    pattern: String,
    #[serde(default)]
    errors: usize,
    #[serde(default)]
    p50_ms: f64,
    #[serde(default)]
    p90_ms: f64,
    #[serde(default)]
    p95_ms: f64,
    #[serde(default)]
    p99_ms: f64,
    #[serde(default)]
    max_ms: f64,
    #[serde(default)]
    throughput_rps: f64,
    times: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsRule {
    #[serde(rename = "match")]
    pattern: String,
    days_left: i64,
    #[serde(default = "yes")]
    trusted: bool,
    #[serde(default)]
    problem: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    sans: Vec<String>,
    #[serde(default)]
    not_after: String,
    times: Option<usize>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DnsRule {
    #[serde(rename = "match")]
    pattern: String,
    #[serde(default)]
    records: Vec<String>,
    times: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecRule {
    #[serde(rename = "match")]
    pattern: String,
    target: Option<String>,
    #[serde(default)]
    code: i64,
    #[serde(default)]
    stdout: String,
    #[serde(default)]
    stderr: String,
    /// Answer only the first N matching effects (later ones fall through to the next rule).
    times: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromptRule {
    #[serde(rename = "match")]
    pattern: String,
    answer: String,
    times: Option<usize>,
}

#[derive(Debug)]
pub struct Scenario {
    pub path: PathBuf,
    pub description: String,
    exec: Vec<ExecRule>,
    prompt: Vec<PromptRule>,
    http: Vec<HttpRule>,
    probe: Vec<ProbeRule>,
    tls: Vec<TlsRule>,
    dns: Vec<DnsRule>,
    used: RefCell<Vec<usize>>,
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario> {
        let text = std::fs::read_to_string(path).map_err(|e| io_failure("read scenario", path, e))?;
        let file: ScenarioFile = toml::from_str(&text)
            .map_err(|e| Failure::Usage(format!("error: {} is not a valid scenario\n{e}", path.display())))?;
        let rules =
            file.exec.len() + file.prompt.len() + file.http.len() + file.probe.len() + file.tls.len() + file.dns.len();
        Ok(Scenario {
            path: path.to_path_buf(),
            description: file.description,
            exec: file.exec,
            prompt: file.prompt,
            http: file.http,
            probe: file.probe,
            tls: file.tls,
            dns: file.dns,
            used: RefCell::new(vec![0; rules]),
        })
    }

    /// The first fresh rule of a kind whose pattern is in `line`; `offset` is where the kind's counters start.
    fn pick<R>(
        &self,
        rules: &[R],
        offset: usize,
        line: &str,
        rule: impl Fn(&R) -> (&str, Option<usize>),
    ) -> Option<usize> {
        let mut used = self.used.borrow_mut();
        for (i, r) in rules.iter().enumerate() {
            let (pattern, times) = rule(r);
            if times.is_none_or(|n| used[offset + i] < n) && line.contains(pattern) {
                used[offset + i] += 1;
                return Some(i);
            }
        }
        None
    }

    /// The scenario's answer to an effect, and which rule gave it.
    pub fn answer(&self, effect: &Effect) -> Option<(Result<Outcome, String>, String)> {
        let mut used = self.used.borrow_mut();
        match effect {
            Effect::Exec(exec) => {
                let line = exec.command.display();
                for (i, rule) in self.exec.iter().enumerate() {
                    let target_ok = rule.target.as_ref().is_none_or(|t| *t == exec.target);
                    let fresh = rule.times.is_none_or(|n| used[i] < n);
                    if target_ok && fresh && line.contains(&rule.pattern) {
                        used[i] += 1;
                        let out = ExecOutput {
                            code: rule.code,
                            stdout: rule.stdout.clone(),
                            stderr: rule.stderr.clone(),
                            duration_ms: 0,
                        };
                        return Some((Ok(Outcome::Exec(out)), format!("exec rule {} \"{}\"", i + 1, rule.pattern)));
                    }
                }
                None
            }
            Effect::Prompt(prompt) => {
                let offset = self.exec.len();
                for (i, rule) in self.prompt.iter().enumerate() {
                    let fresh = rule.times.is_none_or(|n| used[offset + i] < n);
                    if fresh && prompt.question.contains(&rule.pattern) {
                        used[offset + i] += 1;
                        let source = format!("prompt rule {} \"{}\"", i + 1, rule.pattern);
                        return Some((Ok(Outcome::Answer(rule.answer.clone())), source));
                    }
                }
                None
            }
            Effect::Http(request) => {
                drop(used);
                let offset = self.exec.len() + self.prompt.len();
                let line = format!("{} {}", request.method, request.full_url());
                let i = self.pick(&self.http, offset, &line, |r| (&r.pattern, r.times))?;
                let rule = &self.http[i];
                let source = format!("http rule {} \"{}\"", i + 1, rule.pattern);
                if let Some(error) = &rule.error {
                    return Some((Err(error.clone()), source));
                }
                let response = HttpResponse {
                    status: rule.status,
                    url: request.full_url(),
                    headers: rule.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    body: rule.body.clone(),
                    timings: Timings {
                        ttfb_ms: rule.ttfb_ms,
                        total_ms: rule.total_ms.max(rule.ttfb_ms),
                        ..Timings::default()
                    },
                };
                Some((Ok(Outcome::Http(response)), source))
            }
            Effect::Probe(probe) => {
                drop(used);
                let offset = self.exec.len() + self.prompt.len() + self.http.len();
                let i = self.pick(&self.probe, offset, &probe.url, |r| (&r.pattern, r.times))?;
                let rule = &self.probe[i];
                let report = ProbeReport {
                    requests: probe.requests,
                    ok: probe.requests.saturating_sub(rule.errors),
                    errors: rule.errors,
                    first_error: if rule.errors > 0 {
                        "answered 503 Service Unavailable".into()
                    } else {
                        String::new()
                    },
                    p50_ms: rule.p50_ms,
                    p90_ms: rule.p90_ms,
                    p95_ms: rule.p95_ms,
                    p99_ms: rule.p99_ms,
                    max_ms: rule.max_ms.max(rule.p99_ms),
                    mean_ms: rule.p50_ms,
                    throughput_rps: rule.throughput_rps,
                    duration_ms: 0.0,
                };
                Some((Ok(Outcome::Probe(report)), format!("probe rule {} \"{}\"", i + 1, rule.pattern)))
            }
            Effect::Cert(request) => {
                drop(used);
                let offset = self.exec.len() + self.prompt.len() + self.http.len() + self.probe.len();
                let line = format!("{}:{} {}", request.host, request.port, request.server_name);
                let i = self.pick(&self.tls, offset, &line, |r| (&r.pattern, r.times))?;
                let rule = &self.tls[i];
                let info = CertInfo {
                    subject: rule.subject.clone(),
                    issuer: rule.issuer.clone(),
                    sans: rule.sans.clone(),
                    not_before: String::new(),
                    not_after: rule.not_after.clone(),
                    days_left: rule.days_left,
                    trusted: rule.trusted,
                    problem: rule.problem.clone(),
                };
                Some((Ok(Outcome::Cert(info)), format!("tls rule {} \"{}\"", i + 1, rule.pattern)))
            }
            Effect::Dns(query) => {
                drop(used);
                let offset = self.exec.len() + self.prompt.len() + self.http.len() + self.probe.len() + self.tls.len();
                let line = format!("{} {}", query.record_type.to_ascii_uppercase(), query.name);
                let i = self.pick(&self.dns, offset, &line, |r| (&r.pattern, r.times))?;
                let rule = &self.dns[i];
                Some((Ok(Outcome::Dns(rule.records.clone())), format!("dns rule {} \"{}\"", i + 1, rule.pattern)))
            }
            Effect::Sleep { .. } | Effect::Upload { .. } | Effect::Download { .. } | Effect::Email(_) => None,
        }
    }
}
