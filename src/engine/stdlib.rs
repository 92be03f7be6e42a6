//! `stdlib/*.rhai`: script modules loaded at start-up as static modules (`verdict::below(...)`), so teams
//! fix vendor checks without a rebuild. Found in order: `--stdlib DIR`, `$GOLIVE_STDLIB`, `stdlib/` beside
//! golive.toml, then the copy built into the binary.

use std::path::{Path, PathBuf};

use super::words::after_whole_word;
use crate::error::{Result, io_failure};

include!(concat!(env!("OUT_DIR"), "/builtin_stdlib.rs"));

#[derive(Clone)]
pub struct StdlibModule {
    /// The namespace scripts call it by: the file stem.
    pub name: String,
    /// The name errors give it: its path, or `<builtin>/stdlib/NAME.rhai`.
    pub source_name: String,
    pub text: String,
}

#[derive(Clone)]
pub struct Stdlib {
    pub origin: String,
    pub modules: Vec<StdlibModule>,
}

pub fn locate(explicit: Option<&Path>, root: &Path) -> Result<Stdlib> {
    let from_env = std::env::var_os("GOLIVE_STDLIB").map(PathBuf::from);
    let beside_config = root.join("stdlib");
    let dir = explicit.map(Path::to_path_buf).or(from_env).or_else(|| beside_config.is_dir().then_some(beside_config));
    match dir {
        Some(dir) => load_dir(&dir, root),
        None => Ok(builtin()),
    }
}

pub fn builtin() -> Stdlib {
    Stdlib {
        origin: "built in".into(),
        modules: BUILTIN_STDLIB
            .iter()
            .map(|(name, text)| StdlibModule {
                name: name.to_string(),
                source_name: format!("<builtin>/stdlib/{name}.rhai"),
                text: text.to_string(),
            })
            .collect(),
    }
}

impl Stdlib {
    /// The modules `text` can reach: those it names (`name::`, inside strings and comments too, which only
    /// loads more) and those they name in turn. A script that may `eval` code can name any: it gets them
    /// all. A run compiles only these: the stdlib is most of what golive parses at start.
    pub fn reached_from(&self, text: &str) -> Stdlib {
        if after_whole_word(text, "eval").next().is_some() {
            return self.clone();
        }
        let mut reached = vec![false; self.modules.len()];
        let mut texts = vec![text];
        while let Some(text) = texts.pop() {
            for (module, reached) in self.modules.iter().zip(reached.iter_mut()) {
                if !*reached && names_module(text, &module.name) {
                    *reached = true;
                    texts.push(&module.text);
                }
            }
        }
        let modules = self.modules.iter().zip(reached).filter(|(_, r)| *r).map(|(m, _)| m.clone()).collect();
        Stdlib { origin: self.origin.clone(), modules }
    }
}

/// Whether `text` names `module` as a namespace: the word, then `::` (or `/`, where a comment may stand
/// between them).
fn names_module(text: &str, module: &str) -> bool {
    after_whole_word(text, module).any(|after| {
        let after = after.trim_start();
        after.starts_with("::") || after.starts_with('/')
    })
}

/// A module's source is named relative to golive.toml's folder when it lies inside it, as scripts are: a
/// plan's text (an error's place) is then the same in every checkout.
fn load_dir(dir: &Path, root: &Path) -> Result<Stdlib> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_failure("read stdlib folder", dir, e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
        .collect();
    paths.sort();
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let mut modules = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|e| io_failure("read", &path, e))?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let absolute = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        let source_name = absolute.strip_prefix(&root).unwrap_or(&path).display().to_string();
        modules.push(StdlibModule { name, source_name, text });
    }
    Ok(Stdlib { origin: dir.display().to_string(), modules })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdlib(modules: &[(&str, &str)]) -> Stdlib {
        Stdlib {
            origin: "test".into(),
            modules: modules
                .iter()
                .map(|(name, text)| StdlibModule {
                    name: name.to_string(),
                    source_name: format!("{name}.rhai"),
                    text: text.to_string(),
                })
                .collect(),
        }
    }

    fn names(stdlib: &Stdlib) -> Vec<&str> {
        stdlib.modules.iter().map(|m| m.name.as_str()).collect()
    }

    #[test]
    fn a_script_reaches_the_modules_it_names_and_those_they_name() {
        let lib = stdlib(&[
            ("site", "fn status(u) { verdict::below(1, 2) }"),
            ("verdict", "fn below(a, b) { a < b }"),
            ("sms", "fn send() { mail::x() }"),
            ("mail", "fn x() {}"),
            ("data", "fn y() {}"),
        ]);
        assert_eq!(names(&lib.reached_from("step \"s\" { site::status(\"u\"); }")), ["site", "verdict"]);
        assert_eq!(names(&lib.reached_from("let a = sms :: send();")), ["sms", "mail"]);
        assert_eq!(names(&lib.reached_from("data /* why */ ::y()")), ["data"]);
        assert!(lib.reached_from("let sitemap = 1; my_site::x(); // data is fine\n").modules.is_empty());
        assert_eq!(lib.reached_from("print(eval(\"1\"));").modules.len(), 5, "eval may name any module");
        assert!(lib.reached_from("let evaluated = 1;").modules.is_empty());
    }
}
