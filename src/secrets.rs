//! `secret("NAME")` and the one redaction filter every output path passes through.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::error::{Failure, Result};

/// Masks every secret value handed out so far. Shared by the terminal, the journal, the plan and the report.
#[derive(Debug, Default)]
pub struct Redactor {
    secrets: RwLock<Vec<(String, String)>>,
}

/// Values this short would mask ordinary words; `secret()` refuses them instead.
pub const MIN_SECRET_LEN: usize = 4;

impl Redactor {
    pub fn new() -> Arc<Redactor> {
        Arc::new(Redactor::default())
    }

    pub fn add(&self, name: &str, value: &str) {
        let mut secrets = self.secrets.write().unwrap_or_else(|p| p.into_inner());
        if !secrets.iter().any(|(_, v)| v == value) {
            secrets.push((name.to_string(), value.to_string()));
            // Longest first, so a secret containing another is masked whole.
            secrets.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        }
    }

    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let secrets = self.secrets.read().unwrap_or_else(|p| p.into_inner());
        let mut out = Cow::Borrowed(text);
        for (name, value) in secrets.iter() {
            if out.contains(value.as_str()) {
                out = Cow::Owned(out.replace(value.as_str(), &mask(name)));
            }
        }
        out
    }
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
        Ok(Secrets { dotenv, redactor, missing_env_file })
    }

    pub fn get(&self, name: &str) -> Result<String, String> {
        let value = std::env::var(name).ok().or_else(|| self.dotenv.get(name).cloned());
        match value {
            Some(v) if v.len() >= MIN_SECRET_LEN => {
                self.redactor.add(name, &v);
                Ok(v)
            }
            Some(_) => Err(format!(
                "secret `{name}` is shorter than {MIN_SECRET_LEN} characters; golive cannot mask it safely"
            )),
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
        r.add("SHORT", "abcd");
        r.add("LONG", "abcd-efgh");
        assert_eq!(r.redact("x abcd-efgh y abcd"), "x <secret:LONG> y <secret:SHORT>");
        assert!(matches!(r.redact("clean"), Cow::Borrowed(_)));
    }
}
