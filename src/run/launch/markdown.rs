//! The report as Markdown (for a ticket, a wiki or an e-mail): the same blocks as the HTML, the timeline
//! left to the HTML. Journal text is made printable and its table-breaking characters escaped.

use std::fmt::Write;

use super::Launch;
use super::document::Block;
use crate::lifecycle::GateVerdict;

fn cell(text: &str) -> String {
    crate::terminal::printable(text).replace('|', "\\|").replace('\n', " ")
}

pub fn render(launch: &Launch, blocks: &[Block]) -> String {
    let mut out = format!("# {}\n\n", cell(&launch.title));
    for block in blocks {
        match block {
            Block::Section { number, title, level } => {
                let hashes = "#".repeat(level + 1);
                let number = if number.is_empty() { String::new() } else { format!("{number} ") };
                let _ = write!(out, "{hashes} {number}{}\n\n", cell(title));
            }
            Block::Para(text) => {
                let _ = write!(out, "{}\n\n", cell(text));
            }
            Block::Warning(text) => {
                let _ = writeln!(out, "> **!** {}", cell(text));
                out.push('\n');
            }
            Block::Svg(_) => out.push_str("_(timeline: see the HTML report)_\n\n"),
            Block::Table { header, rows, .. } => {
                let _ = writeln!(out, "| {} |", header.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | "));
                let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
                for row in rows {
                    let mut cells: Vec<String> = row.cells.iter().map(|c| cell(c)).collect();
                    if !row.details.is_empty() {
                        let at = if row.item.is_some() { 1 } else { cells.len() - 1 };
                        let lines: Vec<String> =
                            row.details.iter().map(|d| format!("`{}`", cell(d).replace('`', "'"))).collect();
                        cells[at] = format!("{}<br>{}", cells[at], lines.join("<br>"));
                    }
                    let _ = writeln!(out, "| {} |", cells.join(" | "));
                }
                out.push('\n');
            }
            Block::Decision(d) => {
                let tick = |v: GateVerdict| if d.verdict == v { "[x]" } else { "[ ]" };
                let _ = write!(
                    out,
                    "**{}**: {} GO {} NO-GO  \nDate/time: {}  \nApproved by: {}  \nNotes: {}  \nThe board recommended: {} (run {})\n\n",
                    cell(&d.gate),
                    tick(GateVerdict::Go),
                    tick(GateVerdict::NoGo),
                    cell(&d.at),
                    cell(&d.by),
                    cell(d.note.as_deref().unwrap_or("")),
                    cell(d.recommended.word()),
                    cell(&d.run_id)
                );
            }
        }
    }
    out
}
