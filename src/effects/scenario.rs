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
//! ```

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use serde::Deserialize;

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
    used: RefCell<Vec<usize>>,
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario> {
        let text = std::fs::read_to_string(path).map_err(|e| io_failure("read scenario", path, e))?;
        let file: ScenarioFile = toml::from_str(&text)
            .map_err(|e| Failure::Usage(format!("error: {} is not a valid scenario\n{e}", path.display())))?;
        let rules = file.exec.len() + file.prompt.len();
        Ok(Scenario {
            path: path.to_path_buf(),
            description: file.description,
            exec: file.exec,
            prompt: file.prompt,
            used: RefCell::new(vec![0; rules]),
        })
    }

    /// The scenario's answer to an effect, and which rule gave it.
    pub fn answer(&self, effect: &Effect) -> Option<(Outcome, String)> {
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
                        return Some((Outcome::Exec(out), format!("exec rule {} \"{}\"", i + 1, rule.pattern)));
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
                        return Some((Outcome::Answer(rule.answer.clone()), source));
                    }
                }
                None
            }
            Effect::Sleep { .. } | Effect::Upload { .. } | Effect::Download { .. } => None,
        }
    }
}
