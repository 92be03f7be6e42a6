//! `report::table`: a table in the run's output (and in plans), like the runbook's own tables
//! (4.3's Metric / Target / Actual / Status).

use std::rc::Rc;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use rhai::{Array, Dynamic, Engine, EvalAltResult, Module, NativeCallContext};

use super::{Registrar, Sig};
use crate::modules::Host;
use crate::script_error::runtime;

fn cells(row: Dynamic, what: &str, ctx: &NativeCallContext) -> Result<Vec<String>, Box<EvalAltResult>> {
    let items = row
        .try_cast::<Array>()
        .ok_or_else(|| runtime(format!("report::table: {what} is not an array of cells"), ctx.call_position()))?;
    Ok(items.into_iter().map(|c| if c.is_unit() { String::new() } else { c.to_string() }).collect())
}

/// The table as text: a title line, then the grid.
fn render(title: &str, headers: &[String], rows: &[Vec<String>]) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(headers);
    for row in rows {
        table.add_row(row);
    }
    format!("{title}\n{table}")
}

pub fn register(engine: &mut Engine, reg: &mut Registrar, host: &Rc<Host>) {
    let mut m = Module::new();
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "report",
        Sig {
            name: "table",
            params: &["title: string", "headers: array", "rows: array"],
            returns: "string",
            doc: "Prints a table (rows are arrays of cells) to the run's output and the plan; returns its text.",
            effectful: false,
        },
        move |ctx: NativeCallContext, title: &str, headers: Array, rows: Array| -> Result<String, Box<EvalAltResult>> {
            let headers = cells(Dynamic::from_array(headers), "the header", &ctx)?;
            let rows = rows
                .into_iter()
                .enumerate()
                .map(|(i, row)| cells(row, &format!("row {i}"), &ctx))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some((i, row)) = rows.iter().enumerate().find(|(_, r)| r.len() != headers.len()) {
                return Err(runtime(
                    format!("report::table: row {i} has {} cells, the header {}", row.len(), headers.len()),
                    ctx.call_position(),
                ));
            }
            let text = render(title, &headers, &rows);
            h.controller.output(&text);
            Ok(text)
        },
    );
    engine.register_static_module("report", m.into());
}
