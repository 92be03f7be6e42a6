//! `--answers FILE`: answers for a run that nobody watches, keyed by question text or step name.
//!
//! ```toml
//! "Support team notified" = "yes"
//! "Go/No-Go" = { answer = "NO-GO", by = "Ana Ruiz (Go-Live Lead)", note = "payments failing" }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Failure, Result, io_failure};

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Spec {
    Plain(String),
    Full(Full),
}

/// `{ answer, by, note }`: any other key is a mistake (a `notes` that would silently drop the note).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Full {
    answer: String,
    by: Option<String>,
    note: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Given {
    pub answer: String,
    pub by: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Default)]
pub struct Answers {
    pub path: PathBuf,
    map: BTreeMap<String, Spec>,
}

impl Answers {
    pub fn load(path: &Path) -> Result<Answers> {
        let text = std::fs::read_to_string(path).map_err(|e| io_failure("read answers", path, e))?;
        let bad = |why: String| {
            Failure::Usage(format!(
                "error: {} is not a valid answers file (question = \"answer\", or question = {{ answer, by, note }})\n{why}",
                path.display()
            ))
        };
        let table: toml::Table = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        // Entry by entry, so an error names the question whose answer is wrong.
        let mut map = BTreeMap::new();
        for (question, value) in table {
            let spec = match value {
                toml::Value::String(answer) => Spec::Plain(answer),
                toml::Value::Table(entry) => Spec::Full(
                    entry.try_into().map_err(|e: toml::de::Error| bad(format!("\"{question}\": {}", e.message())))?,
                ),
                other => {
                    return Err(bad(format!("\"{question}\": a {} is not an answer", other.type_str())));
                }
            };
            map.insert(question, spec);
        }
        Ok(Answers { path: path.to_path_buf(), map })
    }

    /// The answer under the first of `keys` the file has.
    pub fn first(&self, keys: &[&str]) -> Option<Given> {
        let spec = keys.iter().find_map(|k| self.map.get(*k))?;
        Some(match spec.clone() {
            Spec::Plain(answer) => Given { answer, by: None, note: None },
            Spec::Full(Full { answer, by, note }) => Given { answer, by, note },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_full_answers_by_question_or_step() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        std::fs::write(&path, "\"Team ready?\" = \"yes\"\n\"Go/No-Go\" = { answer = \"NO-GO\", by = \"Ana\" }\n")
            .unwrap();
        let a = Answers::load(&path).unwrap();
        assert_eq!(a.first(&["Team ready?", "x"]).unwrap().answer, "yes");
        let g = a.first(&["Go or not?", "Go/No-Go"]).unwrap();
        assert_eq!((g.answer.as_str(), g.by.as_deref()), ("NO-GO", Some("Ana")));
        assert!(a.first(&["other", "other"]).is_none());
        std::fs::write(&path, "\"q\" = 3\n").unwrap();
        let err = Answers::load(&path).unwrap_err();
        assert!(
            err.message().contains("not a valid answers file") && err.message().contains("\"q\": a integer"),
            "{}",
            err.message()
        );
        std::fs::write(&path, "\"Go/No-Go\" = { answer = \"GO\", notes = \"typo\" }\n").unwrap();
        let err = Answers::load(&path).unwrap_err();
        assert!(err.message().contains("\"Go/No-Go\": unknown field `notes`"), "{}", err.message());
    }
}
