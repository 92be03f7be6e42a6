//! Tables for the operator: the checks a gate weighs, and a run's steps.

use comfy_table::{Cell, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use super::journal::CheckRecord;
use crate::terminal::{Terminal, Tone};

/// Failed checks first: they are what the decider must look at.
pub fn checks_table(checks: &[CheckRecord], terminal: &Terminal) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    table.set_header(vec!["Check", "Status", "Actual", "Target"]);
    let mut ordered: Vec<&CheckRecord> = checks.iter().collect();
    ordered.sort_by_key(|c| c.ok);
    for check in ordered {
        let status = if check.ok { terminal.paint("pass", Tone::Good) } else { terminal.paint("FAIL", Tone::Bad) };
        table.add_row(vec![
            Cell::new(&check.name),
            Cell::new(status),
            Cell::new(&check.actual),
            Cell::new(&check.target),
        ]);
    }
    if checks.is_empty() {
        return "no checks were recorded in this run".into();
    }
    table.to_string()
}
