//! THE boundary: every effect is a value, and a World performs it.
//!
//! Modules build effects and parse outcomes; they never do I/O. The live world performs effects,
//! the plan world records them and answers from a scenario or with stated assumptions.

pub mod browser;
pub mod capture;
pub mod container;
pub mod dns;
pub mod email;
pub mod fault;
pub mod http;
pub mod live;
pub mod plan;
pub mod probe;
pub mod process_group;
pub mod remote_shell;
pub mod scenario;
pub mod ssh;
pub mod tls;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// Does the effect change the world? Plans record writes and answer reads; resume re-runs an in-doubt step
/// by itself only if it made no writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Read,
    Write,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Command {
    /// A shell string, run by `sh -c` (logged verbatim).
    Shell(String),
    /// A program and its arguments, passed without a shell.
    Argv(Vec<String>),
}

impl Command {
    pub fn display(&self) -> String {
        match self {
            Command::Shell(s) => s.clone(),
            Command::Argv(argv) => argv.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" "),
        }
    }

    /// The command as one POSIX shell string, run in `dir` when given: what a remote login shell receives.
    pub fn shell_line(&self, dir: Option<&str>) -> String {
        match dir {
            Some(dir) => format!("cd {} && {}", shell_quote(dir), self.display()),
            None => self.display(),
        }
    }

    pub fn program(&self) -> &str {
        match self {
            Command::Shell(s) => s.split_whitespace().next().unwrap_or(""),
            Command::Argv(argv) => argv.first().map(String::as_str).unwrap_or(""),
        }
    }
}

/// A token no other command carries and no command's output can guess: 128 bits keyed by this process's
/// random state (SipHash under keys the OS drew), and a counter.
pub fn fresh_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let half = |part: u64| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(n);
        hasher.write_u64(part);
        hasher.finish()
    };
    format!("{:016x}{:016x}", half(0), half(1))
}

/// Quotes a word for a POSIX shell: plain words stay as they are, anything else is single-quoted, so the
/// shell sees data, never code (quotes, `;`, `$(...)`, backticks, newlines, globs, unicode).
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_=/,.+:@%".contains(c));
    if plain { word.to_string() } else { format!("'{}'", word.replace('\'', "'\\''")) }
}

#[derive(Debug, Clone, Serialize)]
pub struct Exec {
    pub target: String,
    pub command: Command,
    pub dir: Option<String>,
    pub access: Access,
    /// What a plan takes this read to print when nothing answers it, stated beside the read's parser
    /// (still an assumption: a check that uses it is UNKNOWN). None: no output.
    #[serde(skip)]
    pub assumed: Option<String>,
    /// Fed to the command; never described, journaled or planned (it may be a password).
    #[serde(skip)]
    pub stdin: Option<String>,
    /// Its stdout goes to the operator line by line as it arrives, lines matching these patterns flagged
    /// (None: the output is shown when the command ends, if at all).
    #[serde(skip)]
    pub stream: Option<Vec<(String, regex::Regex)>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Prompt {
    /// The question as the operator reads it; also the key answers are looked up by.
    pub question: String,
    /// The answers accepted; empty means free text.
    pub choices: Vec<String>,
    /// Not echoed, and never kept anywhere.
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Effect {
    Exec(Exec),
    Sleep {
        #[serde(with = "millis")]
        duration: Duration,
    },
    Prompt(Prompt),
    /// Copies a local file to the target.
    Upload {
        target: String,
        local: String,
        remote: String,
    },
    /// Copies a file from the target to this machine (written whole or not at all).
    Download {
        target: String,
        remote: String,
        local: String,
    },
    Http(http::HttpRequest),
    /// Many GETs of one URL, for latency percentiles.
    Probe(probe::ProbeRequest),
    /// A TLS handshake to read the server's certificate.
    Cert(tls::CertRequest),
    Dns(dns::DnsQuery),
    Email(email::Email),
    /// A headless browser measures a page's vitals or walks a scripted flow.
    Browser(browser::BrowserRequest),
    /// Looks for, or stops, a process group an earlier run started (resume after a crash).
    Group(Group),
}

/// A command's process group where it ran, as the journal recorded it (`Started`). A crashed golive's
/// command may still be running there: resume looks (`stop: false`, a read) before it offers to run the step
/// again, and may stop it (`stop: true`, a write).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Group {
    pub target: String,
    pub process_group: u32,
    pub stop: bool,
}

impl Effect {
    pub fn kind(&self) -> &'static str {
        match self {
            Effect::Exec(_) => "exec",
            Effect::Sleep { .. } => "sleep",
            Effect::Prompt(_) => "prompt",
            Effect::Upload { .. } => "upload",
            Effect::Download { .. } => "download",
            Effect::Http(_) => "http",
            Effect::Probe(_) => "probe",
            Effect::Cert(_) => "tls",
            Effect::Dns(_) => "dns",
            Effect::Email(_) => "email",
            Effect::Browser(_) => "browser",
            Effect::Group(_) => "group",
        }
    }

    /// The target this effect writes to, whose lock a run must hold first (a command or an upload).
    pub fn written_target(&self) -> Option<&str> {
        match self {
            Effect::Exec(exec) if exec.access == Access::Write => Some(&exec.target),
            Effect::Upload { target, .. } => Some(target),
            _ => None,
        }
    }

    pub fn access(&self) -> Access {
        match self {
            Effect::Exec(exec) => exec.access,
            Effect::Upload { .. } | Effect::Email(_) => Access::Write,
            Effect::Group(group) => {
                if group.stop {
                    Access::Write
                } else {
                    Access::Read
                }
            }
            Effect::Http(request) => request.access,
            Effect::Browser(request) => request.access,
            Effect::Sleep { .. }
            | Effect::Prompt(_)
            | Effect::Download { .. }
            | Effect::Probe(_)
            | Effect::Cert(_)
            | Effect::Dns(_) => Access::Read,
        }
    }

    /// One line for progress, journal and plan (not yet redacted).
    pub fn describe(&self) -> String {
        match self {
            Effect::Exec(exec) => {
                let dir = exec.dir.as_deref().map(|d| format!(" (in {d})")).unwrap_or_default();
                let stdin = if exec.stdin.is_some() { " (with stdin)" } else { "" };
                let stream = if exec.stream.is_some() { " (streamed)" } else { "" };
                format!("{}$ {}{dir}{stdin}{stream}", exec.target, exec.command.display())
            }
            Effect::Sleep { duration } => format!("sleep {}", crate::duration::short(*duration)),
            Effect::Prompt(p) if p.choices.is_empty() => format!("ask: {}", p.question),
            Effect::Prompt(p) => format!("ask: {} [{}]", p.question, p.choices.join("/")),
            Effect::Upload { target, local, remote } => format!("upload {local} -> {target}:{remote}"),
            Effect::Download { target, remote, local } => format!("download {target}:{remote} -> {local}"),
            Effect::Http(request) => request.describe(),
            Effect::Probe(p) => {
                let rate = p.rate.map(|r| format!(" at {r}/s")).unwrap_or_default();
                format!("probe GET {} x{} (concurrency {}{rate})", p.url, p.requests, p.concurrency)
            }
            Effect::Cert(c) if c.server_name == c.host => format!("tls certificate of {}:{}", c.host, c.port),
            Effect::Cert(c) => format!("tls certificate of {}:{} (name {})", c.host, c.port, c.server_name),
            Effect::Dns(q) => {
                let at = q.nameserver.as_deref().map(|n| format!(" @{n}")).unwrap_or_default();
                format!("dns {} {}{at}", q.record_type.to_ascii_uppercase(), q.name)
            }
            Effect::Email(email) => email.describe(),
            Effect::Browser(request) => request.describe(),
            Effect::Group(g) if g.stop => format!("stop process group {} on {}", g.process_group, g.target),
            Effect::Group(g) => format!("look for process group {} on {}", g.process_group, g.target),
        }
    }

    /// How long the effect may take when its step sets no timeout; `command` is the per-command default
    /// (golive.toml's `command_timeout`, 10 minutes unless set).
    pub fn default_timeout(&self, command: Duration) -> Option<Duration> {
        match self {
            Effect::Exec(_) | Effect::Upload { .. } | Effect::Download { .. } => Some(command),
            Effect::Http(request) => Some(request.timeout.unwrap_or(Duration::from_secs(30))),
            Effect::Probe(p) => Some(p.timeout),
            Effect::Cert(_) => Some(Duration::from_secs(10)),
            Effect::Dns(_) => Some(Duration::from_secs(5)),
            Effect::Email(_) => Some(Duration::from_secs(30)),
            // Starting the browser, then each load with its interactions.
            Effect::Browser(request) => Some(match &request.task {
                browser::Task::Vitals { runs, .. } => Duration::from_secs(30 + 20 * u64::from(*runs)),
                browser::Task::Flow { actions } => Duration::from_secs(30 + 15 * actions.len() as u64),
            }),
            Effect::Group(_) => Some(Duration::from_secs(30)),
            Effect::Sleep { .. } | Effect::Prompt(_) => None,
        }
    }

    /// A limit the script set on the effect itself (an HTTP `timeout`, a probe's): it holds inside a step's
    /// timeout too, where every default gives way to the step's.
    pub fn own_timeout(&self) -> Option<Duration> {
        match self {
            Effect::Http(request) => request.timeout,
            Effect::Probe(p) => Some(p.timeout),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExecOutput {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Exec(ExecOutput),
    Slept,
    Answer(String),
    Transferred {
        bytes: u64,
    },
    Http(http::HttpResponse),
    Probe(probe::ProbeReport),
    Cert(tls::CertInfo),
    Dns(Vec<String>),
    Sent,
    Browser(browser::BrowserOutcome),
    /// The group's live processes (`PID ARGS`); empty when it is gone.
    Members(Vec<String>),
    /// How a stop ended.
    Stopped(process_group::Stopped),
}

/// Where an outcome came from: plans say which values were assumed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provenance {
    Performed,
    Recorded,
    Scenario(String),
    Assumed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum EffectError {
    Cancelled,
    TimedOut(Duration),
    /// The effect was cancelled or timed out, and its process was stopped where it ran: how.
    Stopped {
        cause: Box<EffectError>,
        how: String,
    },
    /// Nobody can answer this prompt (no terminal, no answer given).
    Unanswered(String),
    Failed(String),
}

impl EffectError {
    /// Why the effect ended, whether or not its process had to be stopped.
    pub fn cause(&self) -> &EffectError {
        match self {
            EffectError::Stopped { cause, .. } => cause.cause(),
            other => other,
        }
    }
}

impl std::fmt::Display for EffectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EffectError::Cancelled => f.write_str("cancelled by the operator (Ctrl-C)"),
            EffectError::TimedOut(d) => write!(f, "timed out after {}", crate::duration::short(*d)),
            EffectError::Stopped { cause, how } => write!(f, "{cause}; {how}"),
            EffectError::Unanswered(q) => {
                write!(f, "no answer for \"{q}\": nobody at the terminal answered it; answer it in an --answers file")
            }
            EffectError::Failed(m) => f.write_str(m),
        }
    }
}

/// Where a command started: told the moment its process group is known, so the journal has it before the
/// command can write (a resume after a crash asks the target whether it still runs).
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    pub target: String,
    pub process_group: u32,
}

/// Where commands start, as the journal keeps it: each line is appended the moment its process group is
/// known, and a write's go-ahead waits until its line is durable. The commands of a fan-out report their
/// groups together, and one sync makes all their lines durable (a hundred hosts: not a hundred syncs).
pub struct StartedLog<'a> {
    /// Appends where a command started, not yet durable: the journal's number for that line, None when it
    /// could not be kept (the journal cannot be written).
    pub record: &'a dyn Fn(Started) -> Option<u64>,
    /// Makes the journal durable up to that line (with all before it); false when it could not.
    pub sync_upto: &'a dyn Fn(u64) -> bool,
}

/// The time and the cancellation an effect runs under, and who is told where its commands start.
#[derive(Clone)]
pub struct Budget<'a> {
    pub timeout: Option<Duration>,
    pub cancel: CancellationToken,
    /// None in a plan: nothing runs.
    pub started: Option<&'a StartedLog<'a>>,
    /// Where a streamed command's stdout lines go as they arrive (the operator's terminal).
    pub lines: Option<&'a dyn Fn(&str)>,
    /// The item (step, check) the effect is performed for: a plan's faults turn only its reads.
    pub item: Option<&'a str>,
}

impl Budget<'_> {
    pub fn new(timeout: Option<Duration>, cancel: CancellationToken) -> Budget<'static> {
        Budget { timeout, cancel, started: None, lines: None, item: None }
    }

    /// Tells where a command started: its line's number (0 when nothing is kept), None when that could
    /// not be kept.
    pub(crate) fn tell_started(&self, target: &str, process_group: u32) -> Option<u64> {
        match self.started {
            Some(log) => (log.record)(Started { target: target.to_string(), process_group }),
            None => Some(0),
        }
    }

    /// Waits until the journal's lines up to `line` (from `tell_started`) are durable; false when they
    /// cannot be made so.
    pub(crate) async fn durable(&self, line: u64) -> bool {
        let Some(log) = self.started else { return true };
        // Commands that report their groups in this same turn append their lines first: one sync then
        // covers them all, and theirs finds nothing left to do.
        tokio::task::yield_now().await;
        (log.sync_upto)(line)
    }
}

pub trait World {
    fn perform(&self, effect: &Effect, budget: &Budget<'_>) -> Result<(Outcome, Provenance), EffectError>;

    /// Several effects at once (fan-out). Worlds that can overlap them do; the default runs them in turn.
    fn perform_all(&self, effects: &[Effect], budget: &Budget<'_>) -> Vec<Result<(Outcome, Provenance), EffectError>> {
        effects.iter().map(|e| self.perform(e, budget)).collect()
    }

    /// True when effects are only recorded (plan): the controller then keeps no journal.
    /// In a plan: the checks (name, passed) a scenario gives for an earlier runbook's newest run, which a
    /// gate's `include` weighs. A live run reads its journals instead.
    fn included_checks(&self, _script: &str) -> Option<Vec<(String, bool)>> {
        None
    }

    /// In a plan: the newest run of `script` a scenario states (`runbook::last_run`), `Some(None)` when it
    /// states there is none, None when it says nothing (the read is then assumed). A live run reads its
    /// journals instead.
    fn planned_last_run(&self, _script: &str) -> Option<Option<crate::verdict::LastRun>> {
        None
    }

    /// In a plan: how long the scenario says a phase with a budget takes (None: unknown).
    fn planned_phase_seconds(&self, _phase: &str) -> Option<f64> {
        None
    }

    /// In a plan under `golive test --faults`: the fault that turns the read `what` (a journal's, a phase's
    /// time: reads the controller answers rather than an effect) made for `item`.
    fn fault_for(&self, _what: &str, _item: Option<&str>) -> Option<fault::Operator> {
        None
    }

    fn is_dry(&self) -> bool {
        false
    }

    /// Whether reads reach the real world (a run, a plan with `--live-reads`): they then need the real
    /// secrets, which the redactor masks in every output as in a run.
    fn performs_reads(&self) -> bool {
        true
    }
}

mod millis {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_display_quotes_what_a_shell_would_split() {
        let c = Command::Argv(vec!["printf".into(), "%s\n".into(), "it's".into(), "a;b".into(), "plain-1".into()]);
        assert_eq!(c.display(), "printf '%s\n' 'it'\\''s' 'a;b' plain-1");
    }
}
