//! Builds a copy of `stdlib/*.rhai` into the binary, so an installed golive works anywhere.

use std::fmt::Write;

fn main() {
    println!("cargo:rerun-if-changed=stdlib");
    let mut files: Vec<_> = std::fs::read_dir("stdlib")
        .map(|dir| dir.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "rhai"));
    files.sort();
    let mut code = String::from("pub const BUILTIN_STDLIB: &[(&str, &str)] = &[\n");
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let absolute = std::fs::canonicalize(&path).unwrap();
        writeln!(code, "    ({name:?}, include_str!({:?})),", absolute.display().to_string()).unwrap();
        println!("cargo:rerun-if-changed={}", path.display());
    }
    code.push_str("];\n");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("builtin_stdlib.rs");
    std::fs::write(out, code).unwrap();
}
