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
//! [[browser]]                  # vitals and flows, by a substring of the effect's line
//! match = "browser vitals of https://app.jarabaimpact.com/"
//! lcp_ms = 1200.0
//! cls = 0.02
//! inp_ms = 120.0
//! fid_ms = 4.0
//! [[include]]                  # what `gate ... with #{ include: ["friday"] }` sees of friday's newest run
//! script = "friday"
//! checks = { "TLS valid" = true, "WAF on" = false }
//! [[phase]]                    # how long a phase with a `budget` takes, from its first start to its end
//! name = "Quick rollback"
//! seconds = 171.0
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::browser::{BrowserOutcome, FlowReport, Sample, Task, VitalsReport};
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
    #[serde(default)]
    browser: Vec<BrowserRule>,
    /// What a gate's `include` sees of an earlier runbook's newest run: plans never read local journals.
    #[serde(default)]
    include: Vec<IncludeRule>,
    /// How long a phase with a `budget` takes: a plan cannot know how long commands take.
    #[serde(default)]
    phase: Vec<PhaseRule>,
    /// `[test]`: what `golive test` expects of this case.
    #[serde(default)]
    test: Option<TestExpectation>,
}

/// `[test] exit_code = 1`: the exit code the plan must predict; `target = "db1"`: the target it plans on.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestExpectation {
    exit_code: Option<i32>,
    target: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhaseRule {
    name: String,
    seconds: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IncludeRule {
    script: String,
    /// Each check of that run, by name: passed or not.
    #[serde(default)]
    checks: std::collections::BTreeMap<String, bool>,
    /// What `runbook::last_run` sees of it: `run = { run_id, exit_code, seconds, days_ago }`.
    run: Option<crate::verdict::LastRun>,
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

/// A browser effect's answer: the vitals' medians (absent ones unknown) for `browser::vitals`, or how a
/// `browser::flow` ended (`ok`, `error`, `url`, `title`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BrowserRule {
    #[serde(rename = "match")]
    pattern: String,
    status: Option<u16>,
    lcp_ms: Option<f64>,
    cls: Option<f64>,
    inp_ms: Option<f64>,
    fid_ms: Option<f64>,
    fcp_ms: Option<f64>,
    ttfb_ms: Option<f64>,
    load_ms: Option<f64>,
    #[serde(default = "yes")]
    ok: bool,
    #[serde(default)]
    error: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    title: String,
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
    browser: Vec<BrowserRule>,
    include: Vec<IncludeRule>,
    phase: Vec<PhaseRule>,
    expected_exit: Option<i32>,
    target: Option<String>,
    /// How often each rule answered, by (kind, index): `times` limits it.
    used: RefCell<HashMap<(&'static str, usize), usize>>,
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario> {
        let text = std::fs::read_to_string(path).map_err(|e| io_failure("read scenario", path, e))?;
        let file: ScenarioFile = toml::from_str(&text)
            .map_err(|e| Failure::Usage(format!("error: {} is not a valid scenario\n{e}", path.display())))?;
        Ok(Scenario {
            path: path.to_path_buf(),
            description: file.description,
            exec: file.exec,
            prompt: file.prompt,
            http: file.http,
            probe: file.probe,
            tls: file.tls,
            dns: file.dns,
            browser: file.browser,
            include: file.include,
            phase: file.phase,
            expected_exit: file.test.as_ref().and_then(|t| t.exit_code),
            target: file.test.and_then(|t| t.target),
            used: RefCell::new(HashMap::new()),
        })
    }

    /// `[test] target`: the target this case is planned on, unless `--target` names one.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// How long the scenario says phase `name` takes, in seconds (None: it does not say).
    pub fn phase_seconds(&self, name: &str) -> Option<f64> {
        self.phase.iter().find(|r| r.name == name).map(|r| r.seconds)
    }

    /// `[test] exit_code`: the exit code `golive test` holds the plan to.
    pub fn expected_exit(&self) -> Option<i32> {
        self.expected_exit
    }

    /// The rules no effect ever matched ("exec rule 3 \"drush status\""): a scenario that answers what the
    /// script never asks is out of date.
    pub fn unused(&self) -> Vec<String> {
        let used = self.used.borrow();
        let mut out = Vec::new();
        let mut note = |kind: &'static str, patterns: Vec<&str>| {
            for (i, pattern) in patterns.into_iter().enumerate() {
                if !used.contains_key(&(kind, i)) {
                    out.push(format!("[[{kind}]] rule {} \"{pattern}\"", i + 1));
                }
            }
        };
        note("exec", self.exec.iter().map(|r| r.pattern.as_str()).collect());
        note("prompt", self.prompt.iter().map(|r| r.pattern.as_str()).collect());
        note("http", self.http.iter().map(|r| r.pattern.as_str()).collect());
        note("probe", self.probe.iter().map(|r| r.pattern.as_str()).collect());
        note("tls", self.tls.iter().map(|r| r.pattern.as_str()).collect());
        note("dns", self.dns.iter().map(|r| r.pattern.as_str()).collect());
        note("browser", self.browser.iter().map(|r| r.pattern.as_str()).collect());
        out
    }

    /// The first fresh rule of `kind` that applies and whose pattern is in `line`; counts its use.
    fn pick<R>(
        &self,
        kind: &'static str,
        rules: &[R],
        line: &str,
        rule: impl Fn(&R) -> (&str, Option<usize>, bool),
    ) -> Option<usize> {
        let mut used = self.used.borrow_mut();
        let i = rules.iter().enumerate().position(|(i, r)| {
            let (pattern, times, applies) = rule(r);
            applies && times.is_none_or(|n| used.get(&(kind, i)).copied().unwrap_or(0) < n) && line.contains(pattern)
        })?;
        *used.entry((kind, i)).or_default() += 1;
        Some(i)
    }

    /// The checks (name, passed) of `script`'s newest run, as the scenario states them.
    pub fn included(&self, script: &str) -> Option<Vec<(String, bool)>> {
        let rule = self.include.iter().find(|r| r.script == script)?;
        Some(rule.checks.iter().map(|(name, ok)| (name.clone(), *ok)).collect())
    }

    /// The newest run of `script` as the scenario states it: `Some(None)` when it states there is none (an
    /// `[[include]]` with neither `run` nor `checks`), None when it says nothing. Its checks are the rule's
    /// `checks` unless `run` lists its own.
    pub fn last_run(&self, script: &str) -> Option<Option<crate::verdict::LastRun>> {
        let rule = self.include.iter().find(|r| r.script == script)?;
        if rule.run.is_none() && !rule.checks.is_empty() {
            return None;
        }
        Some(rule.run.clone().map(|mut run| {
            if run.checks.is_empty() {
                run.checks = rule
                    .checks
                    .iter()
                    .map(|(name, ok)| crate::verdict::CheckRecord::new(name, *ok, String::new(), String::new()))
                    .collect();
            }
            run
        }))
    }

    /// The scenario's answer to an effect, and which rule gave it.
    pub fn answer(&self, effect: &Effect) -> Option<(Result<Outcome, String>, String)> {
        let source = |kind: &str, i: usize, pattern: &str| format!("{kind} rule {} \"{pattern}\"", i + 1);
        match effect {
            Effect::Exec(exec) => {
                let i = self.pick("exec", &self.exec, &exec.command.display(), |r| {
                    (&r.pattern, r.times, r.target.as_ref().is_none_or(|t| *t == exec.target))
                })?;
                let rule = &self.exec[i];
                let out = ExecOutput {
                    code: rule.code,
                    stdout: rule.stdout.clone(),
                    stderr: rule.stderr.clone(),
                    duration_ms: 0,
                };
                Some((Ok(Outcome::Exec(out)), source("exec", i, &rule.pattern)))
            }
            Effect::Prompt(prompt) => {
                let i = self.pick("prompt", &self.prompt, &prompt.question, |r| (&r.pattern, r.times, true))?;
                let rule = &self.prompt[i];
                Some((Ok(Outcome::Answer(rule.answer.clone())), source("prompt", i, &rule.pattern)))
            }
            Effect::Http(request) => {
                let line = format!("{} {}", request.method, request.full_url());
                let i = self.pick("http", &self.http, &line, |r| (&r.pattern, r.times, true))?;
                let rule = &self.http[i];
                let source = source("http", i, &rule.pattern);
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
                    assumed: false,
                };
                Some((Ok(Outcome::Http(response)), source))
            }
            Effect::Probe(probe) => {
                let i = self.pick("probe", &self.probe, &probe.url, |r| (&r.pattern, r.times, true))?;
                let rule = &self.probe[i];
                let report = ProbeReport {
                    requests: probe.requests,
                    succeeded: probe.requests.saturating_sub(rule.errors),
                    ok: rule.errors == 0 && probe.requests > 0,
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
                Some((Ok(Outcome::Probe(report)), source("probe", i, &rule.pattern)))
            }
            Effect::Cert(request) => {
                let line = format!("{}:{} {}", request.host, request.port, request.server_name);
                let i = self.pick("tls", &self.tls, &line, |r| (&r.pattern, r.times, true))?;
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
                Some((Ok(Outcome::Cert(info)), source("tls", i, &rule.pattern)))
            }
            Effect::Dns(query) => {
                let line = format!("{} {}", query.record_type.to_ascii_uppercase(), query.name);
                let i = self.pick("dns", &self.dns, &line, |r| (&r.pattern, r.times, true))?;
                let rule = &self.dns[i];
                Some((Ok(Outcome::Dns(rule.records.clone())), source("dns", i, &rule.pattern)))
            }
            Effect::Browser(request) => {
                let i = self.pick("browser", &self.browser, &request.describe(), |r| (&r.pattern, r.times, true))?;
                let rule = &self.browser[i];
                let outcome = match &request.task {
                    Task::Vitals { url, runs, .. } => {
                        let median = Sample {
                            status: rule.status.or(Some(200)),
                            lcp_ms: rule.lcp_ms,
                            cls: rule.cls,
                            inp_ms: rule.inp_ms,
                            fid_ms: rule.fid_ms,
                            fcp_ms: rule.fcp_ms,
                            ttfb_ms: rule.ttfb_ms,
                            load_ms: rule.load_ms,
                        };
                        let samples = vec![median.clone(); *runs as usize];
                        BrowserOutcome::Vitals(VitalsReport { url: url.clone(), median, samples, error: String::new() })
                    }
                    Task::Flow { actions } => BrowserOutcome::Flow(FlowReport {
                        ok: rule.ok,
                        url: rule.url.clone(),
                        title: rule.title.clone(),
                        done: if rule.ok { actions.iter().map(|a| a.describe()).collect() } else { Vec::new() },
                        error: rule.error.clone(),
                        screenshots: Vec::new(),
                    }),
                };
                Some((Ok(Outcome::Browser(outcome)), source("browser", i, &rule.pattern)))
            }
            Effect::Sleep { .. }
            | Effect::Upload { .. }
            | Effect::Download { .. }
            | Effect::Email(_)
            | Effect::Group(_) => None,
        }
    }
}
