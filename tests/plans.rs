//! Snapshot tests: the plan of every `scripts/*.rhai` and `examples/*.rhai`, with no scenario and under each
//! scenario `tests/scenarios/<script>.<name>.toml`. A new script or scenario adds its snapshots by itself.

use std::path::{Path, PathBuf};

use golive::run::{Options, PlanRequest};

fn rhai_files(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
        .collect();
    files.sort();
    files
}

fn scenarios_for(stem: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with(&format!("{stem}.")) && name.ends_with(".toml")
        })
        .collect();
    found.sort();
    found
}

#[test]
fn every_script_plans_deterministically_under_every_scenario() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let scripts: Vec<PathBuf> = rhai_files("scripts").into_iter().chain(rhai_files("examples")).collect();
    assert!(!scripts.is_empty(), "no scripts to plan");
    let mut planned = 0;
    for script in scripts {
        let stem = script.file_stem().unwrap().to_string_lossy().into_owned();
        let cases = std::iter::once(None).chain(scenarios_for(&stem).into_iter().map(Some));
        for scenario in cases {
            let name = match &scenario {
                None => stem.clone(),
                Some(s) => s.file_stem().unwrap().to_string_lossy().into_owned(),
            };
            let request = PlanRequest { scenario: scenario.clone(), live_reads: false };
            let plan = golive::run::plan(&script, &Options::default(), &request, runtime.handle())
                .unwrap_or_else(|f| panic!("{name}: {}", f.message()));
            let text = plan.render_text();
            let again = golive::run::plan(&script, &Options::default(), &request, runtime.handle()).unwrap();
            assert_eq!(text, again.render_text(), "{name}: the plan is not deterministic");
            insta::assert_snapshot!(name, text);
            planned += 1;
        }
    }
    assert!(planned >= 3, "expected the example under its two scenarios at least, planned {planned}");
}
