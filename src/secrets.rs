//! `secret("NAME")` and the one redaction filter every output path passes through.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::error::{Failure, Result};

/// Masks every secret value handed out so far. Shared by the terminal, the journal, the plan and the report.
///
/// Each secret is masked in the forms golive itself writes it in: as it is, JSON-escaped, POSIX-shell-quoted,
/// percent-encoded (form and strict), and, for HTTP basic auth, the Base64 of `user:password`. Lower-case,
/// split or otherwise re-encoded forms a script makes itself are out of reach: documented in the README.
#[derive(Debug, Default)]
pub struct Redactor {
    /// (name, form, whole tokens only), longest form first.
    forms: RwLock<Vec<(String, String, bool)>>,
    /// name -> value, to resolve a journaled reference on resume.
    values: RwLock<BTreeMap<String, String>>,
}

/// Secrets at least this long are masked wherever they appear; shorter ones (a PIN) only where they stand
/// alone as a whole value or token, so `4096` never rewrites `14096`.
pub const STRONG_SECRET_LEN: usize = 8;

impl Redactor {
    pub fn new() -> Arc<Redactor> {
        Arc::new(Redactor::default())
    }

    /// Registers a secret and the forms golive encodes it in. Returns false for a short secret (masked as a
    /// whole token only), which the caller warns about.
    pub fn add(&self, name: &str, value: &str) -> bool {
        if value.is_empty() {
            return true;
        }
        let strong = value.chars().count() >= STRONG_SECRET_LEN;
        self.values
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name.to_string())
            .or_insert_with(|| value.to_string());
        for form in encodings(value) {
            self.add_form(name, &form, !strong);
        }
        strong
    }

    /// One more form of a known secret golive produced (the Base64 of basic auth).
    pub fn add_form(&self, name: &str, form: &str, whole_only: bool) {
        if form.is_empty() {
            return;
        }
        let mut forms = self.forms.write().unwrap_or_else(|p| p.into_inner());
        if !forms.iter().any(|(_, f, _)| f == form) {
            forms.push((name.to_string(), form.to_string(), whole_only));
            // Longest first, so a secret containing another is masked whole.
            forms.sort_by_key(|(_, f, _)| std::cmp::Reverse(f.len()));
        }
    }

    /// When `value` is a known secret, `derived` (a form golive made of it) is masked as that secret too.
    pub fn add_derived(&self, value: &str, derived: &str) {
        let name = {
            let values = self.values.read().unwrap_or_else(|p| p.into_inner());
            values.iter().find(|(_, v)| v.as_str() == value).map(|(n, _)| n.clone())
        };
        if let Some(name) = name {
            self.add_form(&name, derived, false);
        }
    }

    /// Masks secrets in free text (terminal lines, messages).
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let forms = self.forms.read().unwrap_or_else(|p| p.into_inner());
        let mut out = Cow::Borrowed(text);
        for (name, form, whole_only) in forms.iter() {
            if !out.contains(form.as_str()) {
                continue;
            }
            let replaced = if *whole_only {
                replace_tokens(&out, form, &mask(name))
            } else {
                out.replace(form.as_str(), &mask(name))
            };
            if replaced != *out {
                out = Cow::Owned(replaced);
            }
        }
        out
    }

    /// Masks secrets inside a structure before it is serialized: strings are masked as text, a number that is
    /// a secret becomes its mask; keys, and the fields golive writes itself (`STRUCTURAL`), are never
    /// rewritten, so masking can never break the format or the journal's meaning.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(text) => {
                if let Cow::Owned(masked) = self.redact(text) {
                    *text = masked;
                }
            }
            Value::Number(n) => {
                let text = n.to_string();
                if let Cow::Owned(masked) = self.redact(&text) {
                    *value = Value::String(masked);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            Value::Object(fields) => {
                for (key, field) in fields.iter_mut() {
                    if !STRUCTURAL.contains(&key.as_str()) {
                        self.redact_json(field);
                    }
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
    }

    /// Puts secrets back where masks of known secrets stand (a step value replayed on resume); the name of
    /// the first mask whose secret is unknown otherwise.
    pub fn unmask(&self, text: &str) -> Result<String, String> {
        let values = self.values.read().unwrap_or_else(|p| p.into_inner());
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find("<secret:") {
            out.push_str(&rest[..at]);
            let after = &rest[at + "<secret:".len()..];
            let Some(end) = after.find('>') else { break };
            let name = &after[..end];
            match values.get(name) {
                Some(value) => out.push_str(value),
                None => return Err(name.to_string()),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Is any secret known yet? (Nothing to mask otherwise.)
    pub fn is_empty(&self) -> bool {
        self.forms.read().unwrap_or_else(|p| p.into_inner()).is_empty()
    }
}

/// Fields of golive's own records that never hold a secret: masking them would change what the record
/// means (a secret `done` must not rewrite `"status":"done"`).
const STRUCTURAL: &[&str] = &[
    "event",
    "status",
    "kind",
    "access",
    "at",
    "mode",
    "version",
    "script_sha256",
    "source_sha256",
    "run_id",
    "pid",
    "attempt",
    "duration_ms",
    "exit_code",
    "ok",
    "stops_run",
    "required",
    "schema",
    // Names from the script that resume matches by: a masked step name would make a done step run again.
    "step",
    "phase",
    "gate",
    "name",
    "verdict",
    "recommended",
];

/// The forms golive writes a value in: raw, JSON-escaped, shell-quoted, percent-encoded (form and strict).
fn encodings(value: &str) -> Vec<String> {
    let json = serde_json::to_string(value).expect("a string serialises");
    let json = json[1..json.len() - 1].to_string();
    let form: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let strict: String = value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let mut forms = vec![value.to_string(), json, crate::effects::shell_quote(value), form, strict];
    // The inside of a single-quoted word: `it'\''s` when the value has a quote.
    if value.contains('\'') {
        forms.push(value.replace('\'', "'\\''"));
    }
    forms.dedup();
    forms
}

/// Replaces `form` where it stands alone: at the ends or next to a character that is not a letter or digit.
fn replace_tokens(text: &str, form: &str, mask: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut before: Option<char> = None;
    while let Some(at) = rest.find(form) {
        let prev = rest[..at].chars().next_back().or(before);
        let next = rest[at + form.len()..].chars().next();
        let alone = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
        out.push_str(&rest[..at]);
        if alone(prev) && alone(next) {
            out.push_str(mask);
        } else {
            out.push_str(form);
        }
        before = form.chars().next_back();
        rest = &rest[at + form.len()..];
    }
    out.push_str(rest);
    out
}

pub fn mask(name: &str) -> String {
    format!("<secret:{name}>")
}

/// Secret values from the environment, then from `.env` beside golive.toml.
#[derive(Debug)]
pub struct Secrets {
    dotenv: BTreeMap<String, String>,
    redactor: Arc<Redactor>,
    /// The target's env_file when golive.toml names one that is not there (yet): said when a secret is missing.
    missing_env_file: Option<PathBuf>,
    /// Short secrets already warned about.
    warned: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl Secrets {
    /// `.env` beside golive.toml, then the run target's `env_file` (its values win), when they exist.
    pub fn load(root: &Path, target_env_file: Option<&Path>, redactor: Arc<Redactor>) -> Result<Secrets> {
        let mut dotenv = BTreeMap::new();
        read_env_file(&root.join(".env"), &mut dotenv)?;
        let mut missing_env_file = None;
        if let Some(file) = target_env_file {
            let path = root.join(file);
            if path.is_file() {
                read_env_file(&path, &mut dotenv)?;
            } else {
                missing_env_file = Some(path);
            }
        }
        Ok(Secrets { dotenv, redactor, missing_env_file, warned: Default::default() })
    }

    pub fn get(&self, name: &str) -> Result<String, String> {
        let value = std::env::var(name).ok().or_else(|| self.dotenv.get(name).cloned());
        match value {
            Some(v) if v.is_empty() => Err(format!("secret `{name}` is set but empty")),
            Some(v) => {
                if !self.redactor.add(name, &v)
                    && self.warned.lock().unwrap_or_else(|p| p.into_inner()).insert(name.to_string())
                {
                    eprintln!(
                        "warning: secret `{name}` is shorter than {STRONG_SECRET_LEN} characters: golive masks it only where it stands alone"
                    );
                }
                Ok(v)
            }
            None => {
                let env_file = match &self.missing_env_file {
                    Some(path) => format!(" (the target's env_file {} does not exist)", path.display()),
                    None => String::new(),
                };
                Err(format!(
                    "secret `{name}` is not set; export {name}=... or add it to .env beside golive.toml{env_file}"
                ))
            }
        }
    }

    pub fn redactor(&self) -> &Arc<Redactor> {
        &self.redactor
    }
}

fn read_env_file(path: &Path, dotenv: &mut BTreeMap<String, String>) -> Result<()> {
    if path.is_file() {
        let entries = dotenvy::from_path_iter(path)
            .map_err(|e| Failure::Usage(format!("error: cannot read {}: {e}", path.display())))?;
        for entry in entries {
            // dotenvy's error text quotes the offending line, which may hold a secret: name the file only.
            let (key, value) = entry.map_err(|e| {
                let at = match &e {
                    dotenvy::Error::LineParse(_, index) => format!(" near character {index}"),
                    _ => String::new(),
                };
                Failure::Usage(format!("error: {} has a line golive cannot parse{at}", path.display()))
            })?;
            dotenv.insert(key, value);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_longest_first() {
        let r = Redactor::new();
        r.add("SHORT", "abcd1234");
        r.add("LONG", "abcd1234-efgh");
        assert_eq!(r.redact("x abcd1234-efgh y abcd1234"), "x <secret:LONG> y <secret:SHORT>");
        assert!(matches!(r.redact("clean"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_short_secret_is_masked_only_where_it_stands_alone() {
        let r = Redactor::new();
        assert!(!r.add("PIN", "4096"));
        assert_eq!(r.redact("pin 4096, not 14096 or 40961"), "pin <secret:PIN>, not 14096 or 40961");
        let mut value = serde_json::json!({ "event": "step_finished", "status": "done", "value": 14096, "pin": 4096 });
        r.redact_json(&mut value);
        assert_eq!(
            value,
            serde_json::json!({ "event": "step_finished", "status": "done", "value": 14096, "pin": "<secret:PIN>" })
        );
        r.add("WORD", "done");
        let mut value = serde_json::json!({ "status": "done", "step": "mark done", "value": "done" });
        r.redact_json(&mut value);
        assert_eq!(value, serde_json::json!({ "status": "done", "step": "mark done", "value": "<secret:WORD>" }));
    }

    #[test]
    fn the_encodings_golive_writes_are_masked_too() {
        let r = Redactor::new();
        let canary = "ca\"na\\ry' /+= x";
        r.add("CANARY", canary);
        for form in [
            "ca\\\"na\\\\ry' /+= x",
            "'ca\"na\\ry'\\'' /+= x'",
            "ca%22na%5Cry%27+%2F%2B%3D+x",
            "ca%22na%5Cry%27%20%2F%2B%3D%20x",
        ] {
            assert_eq!(r.redact(&format!("[{form}]")), "[<secret:CANARY>]", "{form}");
        }
    }

    #[test]
    fn masks_resolve_back_to_known_secrets_only() {
        let r = Redactor::new();
        r.add("TOKEN", "hunter2-secret");
        assert_eq!(r.unmask("Bearer <secret:TOKEN>!").unwrap(), "Bearer hunter2-secret!");
        assert_eq!(r.unmask("<secret:OTHER>"), Err("OTHER".to_string()));
    }
}
