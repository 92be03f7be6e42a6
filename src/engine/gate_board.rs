//! What a gate shows the decider: every criterion with Required / Status / Evidence, failed required ones
//! first, the No-Go triggers, and a recommendation.

use std::collections::BTreeMap;

use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use crate::lifecycle::GateVerdict;
use crate::terminal::{Terminal, Tone, printable};
use crate::verdict::CheckRecord;

/// What a gate shows the decider: each criterion with Required / Status / Evidence, failed required ones
/// first, then the No-Go triggers, then a recommendation.
pub struct GateBoard {
    rows: Vec<(CheckRecord, bool)>,
    triggers: Vec<(String, bool)>,
}

/// Whether the verdict named `name` is one that the required name `required` asks for: itself, an included
/// runbook's ("friday: name"), or an item of a repeated check required by its name ("disk [web1]" for "disk").
fn meets(name: &str, required: &str) -> bool {
    let own = name.rsplit_once(": ").filter(|_| !required.contains(": ")).map_or(name, |(_, own)| own);
    [name, own].into_iter().any(|n| {
        n == required || n.strip_prefix(required).is_some_and(|rest| rest.starts_with(" [") && rest.ends_with(']'))
    })
}

impl GateBoard {
    pub fn new(checks: &[CheckRecord], required: Option<&[String]>, nogo: &BTreeMap<String, bool>) -> GateBoard {
        let is_required = |name: &str| required.is_none_or(|r| r.iter().any(|q| meets(name, q)));
        let mut rows: Vec<(CheckRecord, bool)> = checks.iter().map(|c| (c.clone(), is_required(&c.name))).collect();
        if let Some(required) = required {
            for name in required {
                if !rows.iter().any(|(c, _)| meets(&c.name, name)) {
                    let missing = CheckRecord::new(name, false, "not checked".into(), String::new());
                    rows.push((missing, true));
                }
            }
        }
        // Failed required criteria first: they are what the decider must look at.
        rows.sort_by_key(|(c, required)| (!*required || c.ok, !*required));
        GateBoard { rows, triggers: nogo.iter().map(|(k, v)| (k.clone(), *v)).collect() }
    }

    /// Why the board recommends NO-GO: the failed required criteria and the triggers that fired, by name.
    pub fn against(&self) -> Vec<String> {
        // A criterion resting on an assumed read (a plan) is unknown, not failed: the reason says which.
        let failed = self
            .rows
            .iter()
            .filter(|(c, required)| *required && !c.ok)
            .map(|(c, _)| format!("\"{}\" {}", c.name, if c.unknown { "unknown" } else { "failed" }));
        let fired = self.triggers.iter().filter(|(_, fired)| *fired).map(|(name, _)| format!("\"{name}\" fired"));
        failed.chain(fired).collect()
    }

    pub fn recommendation(&self) -> GateVerdict {
        let failed = self.rows.iter().any(|(c, required)| *required && !c.ok);
        let fired = self.triggers.iter().any(|(_, fired)| *fired);
        if failed || fired { GateVerdict::NoGo } else { GateVerdict::Go }
    }

    /// The board as golive lays it out: evidence and names (target text) are made printable cell by cell,
    /// and colour is comfy-table's own styling (so it never counts toward a column's width). Written with
    /// `Terminal::block`.
    pub fn render(&self, terminal: &Terminal) -> String {
        let color = terminal.is_color();
        let styled = |text: &str, tone: Tone| {
            let cell = Cell::new(text);
            match (color, tone) {
                (false, _) | (_, Tone::Plain) => cell,
                (true, Tone::Good) => cell.fg(Color::Green),
                (true, Tone::Bad) => cell.fg(Color::Red).add_attribute(Attribute::Bold),
                (true, Tone::Dim) => cell.add_attribute(Attribute::Dim),
                (true, Tone::Heading) => cell.add_attribute(Attribute::Bold),
            }
        };
        let style = |table: &mut Table| {
            if color {
                table.enforce_styling();
            } else {
                table.force_no_tty();
            }
        };
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
        style(&mut table);
        table.set_header(vec!["Criterion", "Required", "Status", "Evidence"]);
        for (check, required) in &self.rows {
            let status = match (check.ok, required) {
                _ if check.unknown => styled("UNKNOWN (assumed)", Tone::Bad),
                (true, _) => styled("pass", Tone::Good),
                (false, true) => styled("FAIL", Tone::Bad),
                (false, false) => styled("fail", Tone::Dim),
            };
            let evidence = match (check.actual.is_empty(), check.target.is_empty()) {
                (false, false) => format!("{} (target {})", check.actual, check.target),
                (false, true) => check.actual.clone(),
                (true, false) => format!("target {}", check.target),
                (true, true) => String::new(),
            };
            table.add_row(vec![
                Cell::new(printable(&check.name)),
                Cell::new(if *required { "yes" } else { "no" }),
                status,
                Cell::new(printable(&evidence)),
            ]);
        }
        let mut out = table.to_string();
        if !self.triggers.is_empty() {
            let mut triggers = Table::new();
            triggers.load_preset(UTF8_FULL_CONDENSED);
            style(&mut triggers);
            triggers.set_header(vec!["No-Go trigger", "Fired"]);
            for (name, fired) in &self.triggers {
                let mark = if *fired { styled("FIRED", Tone::Bad) } else { styled("no", Tone::Good) };
                triggers.add_row(vec![Cell::new(printable(name)), mark]);
            }
            out.push('\n');
            out.push_str(&triggers.to_string());
        }
        out.push_str(&format!("\nrecommendation: {}", self.recommendation()));
        out
    }
}

/// The runbook's decision box (5.3) filled in: the verdict ticked, when, who approved it, and the notes.
pub fn decision_box(gate: &str, verdict: GateVerdict, at: &str, by: &str, note: Option<&str>) -> String {
    let tick = |v: GateVerdict| if v == verdict { "☒" } else { "☐" };
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic).set_width(100);
    table.set_header(vec![Cell::new(printable(&format!(
        "DECISIÓN {gate}:  {} GO    {} NO-GO",
        tick(GateVerdict::Go),
        tick(GateVerdict::NoGo)
    )))]);
    table.add_row(vec![format!("Fecha/Hora: {}", printable(at))]);
    table.add_row(vec![format!("Aprobado por: {}", printable(by))]);
    table.add_row(vec![format!("Notas: {}", note.map(printable).unwrap_or_else(|| "(none)".into()))]);
    table.to_string()
}
