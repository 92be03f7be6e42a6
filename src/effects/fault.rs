//! Fault operators for `golive test --faults`: a read's answer turned adversarial, one at a time, so that a
//! check that passes whatever its read says is found before a launch relies on it. Each operator is what a
//! broken world plausibly answers: nothing, an error, zeros, a page that only echoes the request.

use super::browser::{BrowserOutcome, FlowReport, VitalsReport};
use super::http::HttpResponse;
use super::{Access, Effect, ExecOutput, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operator {
    /// The read answers nothing: an empty output, an empty page, no records, nothing measured.
    Nothing,
    /// The command failed with no output.
    Failed,
    /// Every number in the answer is 0.
    Zeros,
    /// HTTP 500.
    ServerError,
    /// A 200 page whose body only echoes the request's path and query (a "no results for X" page).
    Echo,
    /// A 200 JSON body without any of the expected keys.
    EmptyJson,
    /// The certificate expires tomorrow.
    ExpiresTomorrow,
    /// The certificate names another host.
    WrongName,
    /// The certificate is not trusted.
    Untrusted,
    /// The name resolves to another address.
    OtherAddress,
    /// A journal's newest run is a year old.
    Old,
    /// A journal's newest run ran only some items (`--only`).
    OnlySome,
    /// A phase took twice as long as the scenario says.
    Doubled,
    /// The journal cannot be read: a journal's "nothing" (no run is an answer of its own).
    Unreadable,
}

impl Operator {
    pub fn describe(self) -> &'static str {
        match self {
            Operator::Nothing => "nothing (empty)",
            Operator::Failed => "exit 1, no output",
            Operator::Zeros => "every number 0",
            Operator::ServerError => "HTTP 500",
            Operator::Echo => "a 200 page echoing the request",
            Operator::EmptyJson => "200 with JSON {}",
            Operator::ExpiresTomorrow => "expires tomorrow",
            Operator::WrongName => "names another host",
            Operator::Untrusted => "untrusted",
            Operator::OtherAddress => "another address",
            Operator::Old => "a year old",
            Operator::OnlySome => "a run of only some items (--only)",
            Operator::Doubled => "twice as long",
            Operator::Unreadable => "unreadable (an error)",
        }
    }

    /// What a read of this kind answers when the world says nothing at all (the vacuity test): for a
    /// journal, an error, since "no run" is a statement a check may rightly pass on.
    pub fn silence(kind: &str) -> Operator {
        match kind {
            "journal" => Operator::Unreadable,
            _ => Operator::Nothing,
        }
    }

    /// The operators for a read of this kind (as `kind` names it).
    pub fn for_kind(kind: &str) -> &'static [Operator] {
        match kind {
            "exec" => &[Operator::Nothing, Operator::Failed, Operator::Zeros],
            "http" => &[Operator::Nothing, Operator::ServerError, Operator::Echo, Operator::EmptyJson],
            "cert" => &[Operator::ExpiresTomorrow, Operator::WrongName, Operator::Untrusted],
            "dns" => &[Operator::Nothing, Operator::OtherAddress],
            "probe" => &[Operator::Nothing],
            // A browser measures nothing, or the page answers 500 (an error page loads fast, and looks fine).
            "browser" => &[Operator::Nothing, Operator::ServerError],
            // A journal read (`runbook::last_run`): no run, a failed one, an old one, a partial one.
            "journal" => &[Operator::Nothing, Operator::Failed, Operator::Old, Operator::OnlySome],
            // How long a phase took (a budget's read of the clock).
            "phase" => &[Operator::Nothing, Operator::Doubled],
            _ => &[],
        }
    }
}

/// The kind of read a fault can answer, or None for an effect that is not a read of the world.
pub fn kind(effect: &Effect) -> Option<&'static str> {
    match effect {
        Effect::Exec(exec) if exec.access == Access::Read => Some("exec"),
        // A write's answer too: a verdict that rests on it (a test message delivered) can be turned.
        Effect::Http(_) => Some("http"),
        Effect::Probe(_) => Some("probe"),
        Effect::Cert(_) => Some("cert"),
        Effect::Dns(_) => Some("dns"),
        Effect::Browser(_) => Some("browser"),
        _ => None,
    }
}

/// A journal's newest run (`runbook::last_run`) turned by `operator`: none; failed just now (exit 1, every
/// verdict failed, no decision standing, its watches' alerts left open, after every other run: what a
/// check for "no rollback since" must see); a year older; or a run of only some items.
pub fn last_run(
    operator: Operator,
    run: Option<crate::verdict::LastRun>,
) -> Result<Option<crate::verdict::LastRun>, String> {
    if operator == Operator::Unreadable {
        return Err("the journals cannot be read (a fault of golive test --faults)".into());
    }
    let Some(mut run) = run else { return Ok(None) };
    match operator {
        Operator::Nothing => return Ok(None),
        Operator::Failed => {
            run.days_ago = 0.0;
            run.run_id = format!("99991231-235959{}", run.run_id.get(15..).unwrap_or_default());
            run.exit_code = Some(1);
            run.decisions.clear();
            run.checks.iter_mut().for_each(|c| c.ok = false);
            for watch in &mut run.watches {
                watch.unresolved = vec!["every rule (a fault)".into()];
            }
        }
        // A year older, and so is its id (ids begin with their start, YYYYMMDD-HHMMSS, and sort by it).
        Operator::Old => {
            run.days_ago += 365.0;
            if let Some(year) = run.run_id.get(..4).and_then(|y| y.parse::<u32>().ok()) {
                run.run_id = format!("{}{}", year.saturating_sub(1), &run.run_id[4..]);
            }
        }
        Operator::OnlySome => run.whole = false,
        _ => {}
    }
    Ok(Some(run))
}

/// How long a phase took, as the scenario says, turned by `operator`: unknown, or twice as long.
pub fn phase_seconds(operator: Operator, seconds: f64) -> Option<f64> {
    match operator {
        Operator::Nothing => None,
        Operator::Doubled => Some(seconds * 2.0),
        _ => Some(seconds),
    }
}

/// `answered` (what the scenario said) turned by `operator`.
pub fn apply(operator: Operator, effect: &Effect, answered: Outcome) -> Outcome {
    match (answered, effect) {
        (Outcome::Exec(out), _) => Outcome::Exec(match operator {
            Operator::Failed => ExecOutput { code: 1, stdout: String::new(), stderr: String::new(), ..out },
            Operator::Zeros => ExecOutput { stdout: zeros(&out.stdout), ..out },
            _ => ExecOutput { code: 0, stdout: String::new(), stderr: String::new(), ..out },
        }),
        (Outcome::Http(response), Effect::Http(request)) => {
            let (status, body) = match operator {
                Operator::ServerError => (500, "Internal Server Error".to_string()),
                Operator::Echo => {
                    let mut echoed = vec![request.url.clone()];
                    echoed.extend(request.query.iter().map(|(k, v)| format!("{k}={v} {v}")));
                    (200, format!("<html><body>No results for {}</body></html>", echoed.join(" ")))
                }
                Operator::EmptyJson => (200, "{}".to_string()),
                Operator::Zeros => (response.status, zeros(&response.body)),
                _ => (200, String::new()),
            };
            Outcome::Http(HttpResponse { status, body, ..response })
        }
        (Outcome::Probe(report), _) => Outcome::Probe(super::probe::ProbeReport {
            errors: report.requests,
            first_error: "no answer".into(),
            ..super::probe::ProbeReport::unmeasured(report.requests)
        }),
        (Outcome::Cert(info), _) => Outcome::Cert(match operator {
            Operator::ExpiresTomorrow => super::tls::CertInfo { days_left: 1, ..info },
            Operator::WrongName => super::tls::CertInfo {
                subject: "CN=other.invalid".into(),
                sans: vec!["other.invalid".into()],
                problem: "the certificate is not valid for the name asked".into(),
                ..info
            },
            _ => super::tls::CertInfo { trusted: false, problem: "self-signed certificate".into(), ..info },
        }),
        (Outcome::Dns(_), _) => {
            Outcome::Dns(if operator == Operator::OtherAddress { vec!["192.0.2.1".into()] } else { Vec::new() })
        }
        (Outcome::Browser(BrowserOutcome::Vitals(report)), _) if operator == Operator::ServerError => {
            let error_page = |s: super::browser::Sample| super::browser::Sample { status: Some(500), ..s };
            let samples = report.samples.into_iter().map(error_page).collect();
            Outcome::Browser(BrowserOutcome::Vitals(VitalsReport {
                median: error_page(report.median),
                samples,
                ..report
            }))
        }
        (Outcome::Browser(BrowserOutcome::Vitals(report)), _) => {
            Outcome::Browser(BrowserOutcome::Vitals(VitalsReport { url: report.url, ..VitalsReport::default() }))
        }
        (Outcome::Browser(BrowserOutcome::Flow(report)), _) => Outcome::Browser(BrowserOutcome::Flow(FlowReport {
            ok: false,
            url: report.url,
            error: "the page answered 500".into(),
            ..FlowReport::default()
        })),
        (other, _) => other,
    }
}

/// Every run of digits replaced by one 0 ("12 files, 3.5 GB" -> "0 files, 0.0 GB").
fn zeros(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_number = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('0');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_keeps_the_shape_of_the_text() {
        assert_eq!(zeros("12 files, 3.5 GB, 100%"), "0 files, 0.0 GB, 0%");
        assert_eq!(zeros("no numbers"), "no numbers");
    }

    #[test]
    fn every_read_kind_has_operators_and_nothing_comes_first() {
        for kind in ["exec", "http", "dns", "probe", "browser"] {
            assert_eq!(Operator::for_kind(kind).first(), Some(&Operator::Nothing), "{kind}");
        }
        assert!(!Operator::for_kind("cert").is_empty());
    }
}
