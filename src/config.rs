//! `golive.toml`: targets and variables, found by walking up from the script.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Failure, Result, io_failure};
use crate::suggest::did_you_mean;

pub const FILE_NAME: &str = "golive.toml";
pub const LOCAL: &str = "local";
/// Effects of one fan-out in flight together unless golive.toml's `forks` says otherwise (Ansible's own
/// default is 5; a hundred hosts at 20 at a time keep a laptop's file descriptors and sshd's MaxStartups
/// well within bounds).
pub const DEFAULT_FORKS: usize = 20;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    default_target: Option<Spanned<String>>,
    #[serde(default)]
    vars: toml::Table,
    #[serde(default)]
    targets: BTreeMap<String, TargetSpec>,
    /// The go-live team (runbook 1.2).
    #[serde(default)]
    team: Vec<TeamMember>,
    /// Emergency contacts (runbook 10).
    #[serde(default)]
    contacts: Vec<Contact>,
    /// How long one command may take in a step that sets no timeout ("10m" unless set).
    command_timeout: Option<Spanned<String>>,
    /// How long script code may run outside any step, and a whole plan ("60s" unless set).
    script_budget: Option<Spanned<String>>,
    /// Bytes of each command's stdout and stderr kept (head and tail); 8 MiB unless set.
    output_cap: Option<usize>,
    /// How many effects of one fan-out run at once, over all its targets (20 unless set).
    forks: Option<usize>,
    /// How `golive report` fills in the runbook document.
    #[serde(default)]
    report: ReportSettings,
    /// Where runs live: files under `.golive/` unless a PostgreSQL url is given.
    #[serde(default)]
    state: StateSettings,
}

/// `[state]`: the shared state store (journals and locks) for a team on several machines.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StateSettings {
    /// `postgres://user@host:port/database`; its password comes from a secret, never from this file.
    pub url: Option<String>,
    /// The secret (environment or .env) holding the password; GOLIVE_STATE_PASSWORD unless named.
    pub password_secret: Option<String>,
}

/// `[report]`: the runbook document the report fills in, and where golive's own tables go in it.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportSettings {
    /// The runbook as the team wrote it (plain text, relative to golive.toml): its numbered headings ("3.2
    /// Backup Final") give the report's sections, their order and their titles.
    pub runbook: Option<String>,
    /// The section that holds the schedule and the timeline ("1.1"); default: before the first section.
    pub schedule_section: Option<String>,
    /// The section that lists the team (golive.toml [[team]]), e.g. "1.2".
    pub team_section: Option<String>,
    /// The section that lists the emergency contacts ([[contacts]]), e.g. "10".
    pub contacts_section: Option<String>,
    /// The document's work items and the script items that carry each out (TOML, relative to golive.toml):
    /// what `golive coverage` weighs.
    pub coverage: Option<String>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TeamMember {
    pub role: String,
    pub name: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub duty: String,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub service: String,
    pub contact: String,
    #[serde(default)]
    pub sla: String,
    #[serde(default)]
    pub escalation: String,
}

/// A host to act on, as `[targets.NAME]` describes it.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// `local` (this machine) or `ssh`; inferred from `host` when absent.
    pub kind: Option<String>,
    pub host: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// Private key for ssh (default: ssh's own choice).
    pub identity_file: Option<String>,
    /// known_hosts file for ssh; host keys are always checked strictly.
    pub known_hosts: Option<String>,
    /// An ssh_config file whose `Host` entries apply (passed as `ssh -F`).
    pub ssh_config: Option<String>,
    /// Seconds to wait for an ssh connection (default 10).
    pub connect_timeout: Option<u64>,
    /// Concurrent commands on this target (default 8; sshd's MaxSessions default is 10 per connection).
    pub max_sessions: Option<usize>,
    /// Where the project lives on the target (the compose project, drush's working directory).
    pub project_dir: Option<String>,
    /// `v1` (docker-compose) or `v2` (docker compose); detected once per target when absent.
    pub compose: Option<String>,
    /// The compose service that runs Drupal and drush (default "drupal").
    pub drupal_service: Option<String>,
    /// Variables that override `[vars]` when this target is the run's target.
    #[serde(default)]
    pub vars: toml::Table,
    /// A dotenv file of secrets for runs on this target, read after `.env` (relative to golive.toml).
    pub env_file: Option<String>,
    /// A rehearsal (or a developer's machine): template blanks in [[team]], [[contacts]] and vars are
    /// allowed; `golive check` flags them for every other target (a launch needs real phone numbers).
    #[serde(default)]
    pub rehearsal: bool,
}

#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub spec: TargetSpec,
}

impl Target {
    pub fn kind(&self) -> &str {
        match (&self.spec.kind, &self.spec.host) {
            (Some(kind), _) => kind,
            (None, Some(_)) => "ssh",
            (None, None) => LOCAL,
        }
    }
}

/// How long script code may run outside any step, and a whole plan: far beyond any real runbook's own
/// computing, short of an operator's patience with a plan that never ends.
pub const DEFAULT_SCRIPT_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    /// The folder holding golive.toml: `.golive/`, `.env` and `stdlib/` live beside it.
    pub root: PathBuf,
    vars: toml::Table,
    targets: BTreeMap<String, TargetSpec>,
    default_target: Option<String>,
    pub team: Vec<TeamMember>,
    pub contacts: Vec<Contact>,
    pub report: ReportSettings,
    pub state: StateSettings,
    /// `--var key=value`: one-off values, above golive.toml's for every target.
    overrides: BTreeMap<String, toml::Value>,
    /// No golive.toml was found: a stand-in with only the `local` target, for reading scripts and docs
    /// outside a project (never for running them).
    pub standalone: bool,
    /// `command_timeout`: the per-command default for steps without a timeout of their own.
    pub command_timeout: std::time::Duration,
    /// `script_budget`: how long script code may run outside any step in a run, and a whole plan, before
    /// golive stops it as a loop that never ends.
    pub script_budget: std::time::Duration,
    /// `output_cap`: bytes of each command's stdout and stderr kept (the head and the tail).
    pub output_cap: usize,
    /// `forks`: effects of one fan-out (`ssh::run_each`, several hosts at once) in flight together.
    pub forks: usize,
}

impl Config {
    /// Finds golive.toml in `start` or the nearest parent folder (or takes the file `--config` named).
    pub fn discover(start: &Path) -> Result<Config> {
        if let Some(file) = std::env::var_os(CONFIG_ENV).filter(|f| !f.is_empty()) {
            let path = std::fs::canonicalize(&file).map_err(|e| io_failure("read", Path::new(&file), e))?;
            return Config::load(&path);
        }
        let start = std::fs::canonicalize(start).map_err(|e| io_failure("read", start, e))?;
        let mut dir = if start.is_dir() { start.as_path() } else { start.parent().unwrap_or(&start) };
        loop {
            let candidate = dir.join(FILE_NAME);
            if candidate.is_file() {
                return Config::load(&candidate);
            }
            // A golive.toml that is not a file (a folder) must not send golive to a parent's config.
            if candidate.exists() {
                return Err(Failure::Usage(format!(
                    "error: {} is not a file; golive.toml must be a file (golive does not look further up past it)",
                    candidate.display()
                )));
            }
            match dir.parent() {
                Some(parent) => dir = parent,
                None => {
                    return Err(Failure::Usage(format!(
                        "error: no {FILE_NAME} in {} or any folder above it\n  hint: create one beside your scripts; \
                         `default_target = \"local\"` is enough to start (see README.md)",
                        start.display()
                    )));
                }
            }
        }
    }

    /// golive.toml found from `start`, or, when there is none in any folder above, a stand-in with only the
    /// `local` target rooted at `start`'s folder: `golive docs`, `steps` and `check FILE` read scripts
    /// without a project.
    pub fn discover_or_standalone(start: &Path) -> Result<Config> {
        let found = Config::discover(start);
        if let Err(e) = &found
            && e.message().contains("no golive.toml in")
        {
            let dir = if start.is_dir() { start.to_path_buf() } else { start.parent().unwrap_or(start).to_path_buf() };
            let dir = std::fs::canonicalize(if dir.as_os_str().is_empty() { Path::new(".") } else { &dir })
                .map_err(|e| io_failure("read", &dir, e))?;
            let mut config =
                Config::parse(&dir.join(FILE_NAME), "default_target = \"local\"\n[targets.local]\nkind = \"local\"\n")?;
            config.standalone = true;
            return Ok(config);
        }
        found
    }

    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| io_failure("read", path, e))?;
        Config::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config> {
        let file: ConfigFile = toml::from_str(text)
            .map_err(|e| Failure::Usage(format!("error: {} is not a valid golive config\n{e}", path.display())))?;
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut config = Config {
            path: path.to_path_buf(),
            root,
            vars: file.vars,
            targets: file.targets,
            default_target: None,
            team: file.team,
            contacts: file.contacts,
            report: file.report,
            state: file.state,
            overrides: overrides_from_environment(),
            standalone: false,
            command_timeout: std::time::Duration::from_secs(10 * 60),
            script_budget: DEFAULT_SCRIPT_BUDGET,
            output_cap: file.output_cap.unwrap_or(crate::effects::capture::DEFAULT_OUTPUT_CAP).max(1024),
            forks: file.forks.unwrap_or(DEFAULT_FORKS).max(1),
        };
        if let Some(url) = &config.state.url {
            let line = text.find("[state]").map(|at| line_of(text, at)).unwrap_or(0);
            let parsed = url::Url::parse(url).map_err(|e| {
                Failure::Usage(format!("error: {}:{line}: key `state.url`: not a url: {e}", path.display()))
            })?;
            if !matches!(parsed.scheme(), "postgres" | "postgresql") {
                return Err(Failure::Usage(format!(
                    "error: {}:{line}: key `state.url`: `{}` is not a PostgreSQL url (postgres://user@host:port/db)",
                    path.display(),
                    parsed.scheme()
                )));
            }
            if parsed.password().is_some() {
                return Err(Failure::Usage(format!(
                    "error: {}:{line}: key `state.url` holds a password; golive.toml is shared, so put it in a \
                     secret (GOLIVE_STATE_PASSWORD in .env or the environment, or the one `password_secret` names)",
                    path.display()
                )));
            }
        }
        if let Some(limit) = file.command_timeout {
            let line = line_of(text, limit.span().start);
            config.command_timeout = crate::duration::parse(limit.get_ref())
                .map_err(|e| Failure::Usage(format!("error: {}:{line}: key `command_timeout`: {e}", path.display())))?;
        }
        if let Some(limit) = file.script_budget {
            let line = line_of(text, limit.span().start);
            config.script_budget = crate::duration::parse(limit.get_ref())
                .map_err(|e| Failure::Usage(format!("error: {}:{line}: key `script_budget`: {e}", path.display())))?;
        }
        if let Some(default) = file.default_target {
            let line = line_of(text, default.span().start);
            config
                .target(default.get_ref())
                .map_err(|e| Failure::Usage(format!("error: {}:{line}: key `default_target`: {e}", path.display())))?;
            config.default_target = Some(default.into_inner());
        }
        for (name, spec) in &config.targets {
            let line = text.find(&format!("[targets.{name}]")).map(|at| line_of(text, at)).unwrap_or(0);
            let bad = |key: &str, why: String| {
                Failure::Usage(format!("error: {}:{line}: key `targets.{name}.{key}`: {why}", path.display()))
            };
            if let Some(kind) = &spec.kind
                && kind != LOCAL
                && kind != "ssh"
            {
                return Err(bad("kind", format!("`{kind}` is not a target kind; use \"local\" or \"ssh\"")));
            }
            if let Some(compose) = &spec.compose
                && compose != "v1"
                && compose != "v2"
            {
                return Err(bad("compose", format!("`{compose}` is not a compose version; use \"v1\" or \"v2\"")));
            }
            if spec.kind.as_deref() == Some("ssh") && spec.host.is_none() {
                return Err(bad("host", "an ssh target needs a host".into()));
            }
        }
        Ok(config)
    }

    /// The target a run acts on when the command line names none.
    pub fn default_target(&self) -> &str {
        self.default_target.as_deref().unwrap_or(LOCAL)
    }

    pub fn target_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.targets.keys().cloned().collect();
        if !self.targets.contains_key(LOCAL) {
            names.push(LOCAL.into());
        }
        names.sort();
        names
    }

    pub fn target(&self, name: &str) -> Result<Target, String> {
        if let Some(spec) = self.targets.get(name) {
            return Ok(Target { name: name.into(), spec: spec.clone() });
        }
        if name == LOCAL {
            return Ok(Target {
                name: LOCAL.into(),
                spec: TargetSpec { kind: Some(LOCAL.into()), ..Default::default() },
            });
        }
        let names = self.target_names();
        Err(format!(
            "unknown target `{name}`; {} defines: {}{}",
            self.path.display(),
            names.join(", "),
            did_you_mean(name, names.iter().map(String::as_str))
        ))
    }

    /// `--var key=value` as given, each value as TOML writes it: journaled with the run, bound by a reviewed plan.
    pub fn overrides(&self) -> BTreeMap<String, String> {
        self.overrides.iter().map(|(k, v)| (k.clone(), v.to_string())).collect()
    }

    /// A resumed run goes on with the `--var` values it started with (as `overrides` gave them).
    pub fn set_overrides(&mut self, vars: &BTreeMap<String, String>) {
        self.overrides = vars.iter().filter_map(|(k, v)| parse_var(&format!("{k}={v}")).ok()).collect();
    }

    /// Every variable golive.toml defines, in [vars] or any target's vars.
    pub fn defined_var_names(&self) -> std::collections::BTreeSet<String> {
        let targets = self.targets.values().flat_map(|t| t.vars.keys());
        self.vars.keys().chain(targets).cloned().collect()
    }

    /// `--var` keys nothing reads: not in golive.toml, not read by the script (`reads`) or its stdlib. An
    /// error naming each, with the nearest key that is read. Where a key is computed, any key may be read.
    pub fn unread_overrides(&self, reads: &std::collections::BTreeSet<String>, computed: bool) -> Vec<String> {
        if computed {
            return Vec::new();
        }
        let defined = self.defined_var_names();
        self.overrides
            .keys()
            .filter(|key| !reads.contains(*key) && !defined.contains(*key))
            .map(|key| {
                format!(
                    "error: --var {key}: no script or stdlib module reads `{key}` and golive.toml does not define it{}",
                    did_you_mean(key, reads.iter().chain(defined.iter()).map(String::as_str))
                )
            })
            .collect()
    }

    /// A variable for `run_target`: `[targets.T.vars]` first, then `[vars]`. Dotted keys walk into tables.
    pub fn var(&self, run_target: &str, key: &str) -> Option<&toml::Value> {
        if let Some(value) = self.overrides.get(key) {
            return Some(value);
        }
        let scoped = self.targets.get(run_target).and_then(|t| lookup(&t.vars, key));
        scoped.or_else(|| lookup(&self.vars, key))
    }

    /// Template blanks (`[NOMBRE]`, `[TELÉFONO]`, `XXX`) still in what a run on `target` would use (the
    /// team, the emergency contacts, the target's host and variables), and values that fill a blank but
    /// cannot be production's (documentation addresses, numbers of zeros, ids Stripe never issues). Empty
    /// for a rehearsal target.
    pub fn placeholders(&self, target: &str) -> Vec<String> {
        if self.targets.get(target).is_some_and(|t| t.rehearsal) {
            return Vec::new();
        }
        let mut found = Vec::new();
        for member in &self.team {
            for (field, value) in [("name", &member.name), ("phone", &member.phone)] {
                if let Some(blank) = placeholder(value) {
                    found.push(format!("[[team]] \"{}\": {field} is still a placeholder ({blank})", member.role));
                } else if let Some(why) = stand_in(value) {
                    found.push(format!("[[team]] \"{}\": {field} `{value}` {why}", member.role));
                }
            }
        }
        for contact in &self.contacts {
            if let Some(blank) = placeholder(&contact.contact) {
                found.push(format!("[[contacts]] \"{}\": contact is still a placeholder ({blank})", contact.service));
            } else if let Some(why) = stand_in(&contact.contact) {
                found.push(format!("[[contacts]] \"{}\": contact `{}` {why}", contact.service, contact.contact));
            }
        }
        for name in self.var_names(target) {
            if let Some(value) = self.var(target, &name) {
                blank_vars(&name, value, &mut found);
            }
        }
        if let Some(host) = self.targets.get(target).and_then(|t| t.host.as_deref())
            && let Some(why) = stand_in(host)
        {
            found.push(format!("[targets.{target}] host `{host}` {why}"));
        }
        found
    }

    /// Every variable `run_target` sees, by name: [vars], then its own vars, then `--var` (Ansible's host vars).
    pub fn vars_for(&self, run_target: &str) -> toml::Table {
        let mut all = self.vars.clone();
        if let Some(t) = self.targets.get(run_target) {
            all.extend(t.vars.clone());
        }
        all.extend(self.overrides.clone());
        all
    }

    pub fn var_names(&self, run_target: &str) -> Vec<String> {
        let mut names: Vec<String> = self.vars.keys().cloned().collect();
        if let Some(t) = self.targets.get(run_target) {
            names.extend(t.vars.keys().cloned());
        }
        names.sort();
        names.dedup();
        names
    }
}

/// Who to call for a phase owned by `owner`: the team members whose role names one of the owners
/// ("DevOps" finds the "DevOps Lead"; "QA + Product" names two).
pub fn members_for<'a>(team: &'a [TeamMember], owner: &str) -> Vec<&'a TeamMember> {
    let wanted: Vec<String> =
        owner.split(['+', ',', '/']).map(|o| o.trim().to_lowercase()).filter(|o| !o.is_empty()).collect();
    team.iter().filter(|m| wanted.iter().any(|w| m.role.to_lowercase().contains(w.as_str()))).collect()
}

fn lookup<'a>(table: &'a toml::Table, key: &str) -> Option<&'a toml::Value> {
    let mut parts = key.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].matches('\n').count() + 1
}

/// The template blank in `value`, if it has one: a bracketed upper-case word (`[NOMBRE]`) or `XXX`.
fn placeholder(value: &str) -> Option<String> {
    if let Some(at) = value.find("XXX") {
        return Some(value[at..].split_whitespace().next().unwrap_or("XXX").to_string());
    }
    let mut rest = value;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        let word = &after[..close];
        if !word.is_empty()
            && word.chars().any(char::is_alphabetic)
            && word.chars().all(|c| c.is_uppercase() || c == ' ' || c == '_')
        {
            return Some(format!("[{word}]"));
        }
        rest = &after[close + 1..];
    }
    None
}

/// Why a value cannot be production's though it fills its blank: a documentation address (RFC 5737, RFC
/// 3849), a number or id of six zeros in a row (`+34600000000`, a Twilio SID of zeros).
fn stand_in(value: &str) -> Option<String> {
    let documentation = |ip: std::net::IpAddr| match ip {
        std::net::IpAddr::V4(v4) => matches!(v4.octets(), [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _]),
        std::net::IpAddr::V6(v6) => v6.segments()[..2] == [0x2001, 0x0db8],
    };
    let tokens = value.split(|c: char| !(c.is_ascii_hexdigit() || c == '.' || c == ':'));
    // An IPv4 address may carry a port (`198.51.100.7:22`).
    let candidates =
        tokens.flat_map(|t| [t, t.rsplit_once(':').filter(|(ip, _)| ip.contains('.')).map_or("", |(ip, _)| ip)]);
    for token in candidates {
        if let Ok(ip) = token.parse::<std::net::IpAddr>()
            && documentation(ip)
        {
            return Some(format!("is a documentation address ({ip}, RFC 5737/3849): never a real host"));
        }
    }
    let digits_or_id = value.starts_with('+') || value.starts_with("AC") || value.chars().all(|c| c.is_ascii_digit());
    if digits_or_id && value.contains("000000") {
        return Some("is a placeholder number (six zeros in a row)".into());
    }
    None
}

/// An id under `stripe.` that Stripe cannot have issued: its objects' ids are a prefix and letters and digits
/// (`price_1PgafmB7WZ01zgkW6dKueIc5`, `acct_1PgafTB7WZ01zgkW`), never words joined by `_`.
fn not_a_stripe_id(value: &str) -> Option<String> {
    const PREFIXES: [&str; 8] = ["price_", "prod_", "acct_", "sub_", "cus_", "pi_", "ch_", "we_"];
    let prefix = PREFIXES.iter().find(|p| value.starts_with(**p))?;
    let rest = &value[prefix.len()..];
    let looks_issued = rest.len() >= 8 && rest.chars().all(|c| c.is_ascii_alphanumeric());
    (!looks_issued)
        .then(|| format!("cannot be a Stripe id (Stripe's are `{prefix}` then 8 or more letters and digits, no `_`)"))
}

/// Placeholders in a variable's strings, at any depth (`stripe.key_secret`), and values that cannot be
/// production's.
fn blank_vars(path: &str, value: &toml::Value, found: &mut Vec<String>) {
    match value {
        toml::Value::String(text) => {
            if let Some(blank) = placeholder(text) {
                found.push(format!("var `{path}` is still a placeholder ({blank})"));
            } else if let Some(why) = stand_in(text) {
                found.push(format!("var `{path}` = `{text}` {why}"));
            } else if let Some(why) = path.starts_with("stripe.").then(|| not_a_stripe_id(text)).flatten() {
                found.push(format!("var `{path}` = `{text}` {why}"));
            }
        }
        toml::Value::Table(table) => {
            for (key, inner) in table {
                blank_vars(&format!("{path}.{key}"), inner, found);
            }
        }
        toml::Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                blank_vars(&format!("{path}[{i}]"), inner, found);
            }
        }
        _ => {}
    }
}

/// `--var key=value` reaches every config golive loads through this process's environment
/// (GOLIVE_VARS, set by main): a value is read as TOML (`3`, `true`, `["a", "b"]`), else kept as text.
pub const VARS_ENV: &str = "GOLIVE_VARS";

/// `--config FILE` reaches every lookup (child runs too) the same way: this golive.toml, not the nearest.
pub const CONFIG_ENV: &str = "GOLIVE_CONFIG";

/// Parses `key=value` as `--var` takes it.
pub fn parse_var(text: &str) -> std::result::Result<(String, toml::Value), String> {
    let (key, value) = text.split_once('=').ok_or_else(|| format!("`{text}` is not key=value"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("`{text}` has no key before ="));
    }
    let value = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    Ok((key.to_string(), value))
}

fn overrides_from_environment() -> BTreeMap<String, toml::Value> {
    let Ok(text) = std::env::var(VARS_ENV) else { return BTreeMap::new() };
    text.split('\u{1f}').filter(|v| !v.is_empty()).filter_map(|v| parse_var(v).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_production_cannot_have_are_named_and_real_ones_pass() {
        for (value, stand_in) in [
            ("203.0.113.10", true),
            ("198.51.100.7:22", true),
            ("192.0.2.1", true),
            ("2001:db8::10", true),
            ("85.214.1.10", false),
            ("2a01:4f8::1", false),
            ("+34600000000", true),
            ("+34 600 000 000", false),
            ("+34611223344", false),
            ("AC00000000000000000000000000000000", true),
            ("ACa1b2c3d4e5f60718293a4b5c6d7e8f90", false),
            ("app.jarabaimpact.com", false),
        ] {
            assert_eq!(super::stand_in(value).is_some(), stand_in, "{value}");
        }
        for (value, issued) in [
            ("price_starter_monthly", false),
            ("acct_agroconecta_productor", false),
            ("price_1PgafmB7WZ01zgkW6dKueIc5", true),
            ("acct_1PgafTB7WZ01zgkW", true),
            ("prod_QXg1hqf4jFNsqG", true),
            ("https://app.jarabaimpact.com/stripe/webhook", true),
        ] {
            assert_eq!(super::not_a_stripe_id(value).is_none(), issued, "{value}");
        }
    }

    fn parse(text: &str) -> Result<Config> {
        Config::parse(Path::new("/x/golive.toml"), text)
    }

    #[test]
    fn target_vars_override_global_vars() {
        let c = parse(
            "default_target = \"rehearsal\"\n[vars]\nsite = \"https://prod\"\nport = 1\n\
             [targets.rehearsal]\nkind = \"local\"\n[targets.rehearsal.vars]\nsite = \"http://127.0.0.1:8080\"\n",
        )
        .unwrap();
        assert_eq!(c.default_target(), "rehearsal");
        assert_eq!(c.var("rehearsal", "site").unwrap().as_str(), Some("http://127.0.0.1:8080"));
        assert_eq!(c.var("prod", "site").unwrap().as_str(), Some("https://prod"));
        assert_eq!(c.var("rehearsal", "port").unwrap().as_integer(), Some(1));
        assert!(c.var("rehearsal", "nope").is_none());
    }

    #[test]
    fn unknown_default_target_names_file_line_and_key() {
        let err = parse("\n\ndefault_target = \"prd\"\n[targets.prod]\nhost = \"h\"\n").unwrap_err();
        let m = err.message();
        assert!(m.contains("/x/golive.toml:3: key `default_target`"), "{m}");
        assert!(m.contains("did you mean `prod`"), "{m}");
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let err = parse("[targets.prod]\nhots = \"h\"\n").unwrap_err();
        let m = err.message();
        assert!(m.contains("/x/golive.toml"), "{m}");
        assert!(m.contains("line 2"), "{m}");
        assert!(m.contains("hots"), "{m}");
    }

    #[test]
    fn malformed_toml_is_an_error_with_position() {
        let err = parse("[vars\nx = 1\n").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.message().contains("line 1"), "{}", err.message());
    }

    #[test]
    fn a_phase_owner_finds_the_team_members_to_call() {
        let c = parse(
            "[[team]]\nrole = \"DevOps Lead\"\nname = \"Luis\"\nphone = \"+34 600\"\n\
             [[team]]\nrole = \"QA Lead\"\nname = \"Eva\"\n[[team]]\nrole = \"Product Owner\"\nname = \"Sol\"\n",
        )
        .unwrap();
        let names = |owner: &str| members_for(&c.team, owner).iter().map(|m| m.name.clone()).collect::<Vec<_>>();
        assert_eq!(names("DevOps"), ["Luis"]);
        assert_eq!(names("QA + Product"), ["Eva", "Sol"]);
        assert!(names("Marketing").is_empty());
    }

    #[test]
    fn kind_is_inferred_and_checked() {
        let c = parse("[targets.prod]\nhost = \"h\"\n").unwrap();
        assert_eq!(c.target("prod").unwrap().kind(), "ssh");
        assert_eq!(c.target("local").unwrap().kind(), "local");
        let err = parse("[targets.prod]\nkind = \"telnet\"\n").unwrap_err();
        assert!(err.message().contains(":1: key `targets.prod.kind`"), "{}", err.message());
    }

    #[test]
    fn template_blanks_are_bracketed_capitals_or_xxx() {
        assert_eq!(super::placeholder("[NOMBRE]").as_deref(), Some("[NOMBRE]"));
        assert_eq!(super::placeholder("call [TELÉFONO] now").as_deref(), Some("[TELÉFONO]"));
        assert_eq!(super::placeholder("+49 721 XXX XXXX").as_deref(), Some("XXX"));
        assert_eq!(super::placeholder("Dashboard > Help"), None);
        assert_eq!(super::placeholder("[1, 2]"), None);
        assert_eq!(super::placeholder("see [docs] here"), None);
    }
}
