//! `stdlib/*.rhai`: script modules loaded at start-up as static modules (`verdict::below(...)`), so teams
//! fix vendor checks without a rebuild. Found in order: `--stdlib DIR`, `$GOLIVE_STDLIB`, `stdlib/` beside
//! golive.toml, then the copy built into the binary.

use std::path::{Path, PathBuf};

use crate::error::{Result, io_failure};

include!(concat!(env!("OUT_DIR"), "/builtin_stdlib.rs"));

pub struct StdlibModule {
    /// The namespace scripts call it by: the file stem.
    pub name: String,
    /// The name errors give it: its path, or `<builtin>/stdlib/NAME.rhai`.
    pub source_name: String,
    pub text: String,
}

pub struct Stdlib {
    pub origin: String,
    pub modules: Vec<StdlibModule>,
}

pub fn locate(explicit: Option<&Path>, root: &Path) -> Result<Stdlib> {
    let from_env = std::env::var_os("GOLIVE_STDLIB").map(PathBuf::from);
    let beside_config = root.join("stdlib");
    let dir = explicit.map(Path::to_path_buf).or(from_env).or_else(|| beside_config.is_dir().then_some(beside_config));
    match dir {
        Some(dir) => load_dir(&dir),
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

fn load_dir(dir: &Path) -> Result<Stdlib> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_failure("read stdlib folder", dir, e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
        .collect();
    paths.sort();
    let mut modules = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|e| io_failure("read", &path, e))?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        modules.push(StdlibModule { name, source_name: path.display().to_string(), text });
    }
    Ok(Stdlib { origin: dir.display().to_string(), modules })
}
