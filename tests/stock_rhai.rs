//! Stock Rhai stays stock: Rhai's own example scripts print through golive what they print through the
//! `rhai-run` binary of the same Rhai version. golive's rules (README, "The language": strict variables, a
//! missing map property is an error) make none of them end otherwise.

use crate::common::{Project, stock_rhai};

/// What differs from one run to the next: the run times the scripts print.
fn normalized(text: &str) -> String {
    let times = regex::Regex::new(r"(?i)(time = )[0-9.e-]+").unwrap();
    times.replace_all(text, "${1}<seconds>").into_owned()
}

#[test]
fn rhai_own_scripts_print_the_same_through_golive_as_through_rhai_run() {
    let rhai_run = stock_rhai::rhai_run();
    let scripts = stock_rhai::scripts();
    let project = Project::new();
    let mut names: Vec<String> = std::fs::read_dir(&scripts)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rhai"))
        .collect();
    names.sort();
    assert!(names.len() >= 25, "Rhai's scripts: {names:?}");
    let mut differences = Vec::new();
    for name in &names {
        // module.rhai imports "loop": each script runs beside the others, under both.
        std::fs::copy(scripts.join(name), project.file(name)).unwrap();
    }
    for name in &names {
        let stock = std::process::Command::new(&rhai_run).arg(name).current_dir(&scripts).output().unwrap();
        let expected =
            format!("{}exit {}\n", String::from_utf8_lossy(&stock.stdout), stock.status.code().unwrap_or(-1));
        let run = project.golive(&["-q", name]);
        let actual = format!("{}exit {}\n", run.stdout, run.code);
        let (expected, actual) = (normalized(&expected), normalized(&actual));
        if expected != actual {
            differences.push(format!(
                "{name}:\n{}\n(golive's stderr: {})",
                similar::TextDiff::from_lines(&expected, &actual).unified_diff().header("rhai-run", "golive"),
                run.stderr
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
