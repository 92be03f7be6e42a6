//! The report as one self-contained HTML file: inline style, inline SVG, no script and nothing fetched.
//! Every text from a journal is escaped here, after the sanitizer made its control characters visible.

use std::fmt::Write;

use super::document::{Block, Row};
use super::{DecisionRecord, Launch};
use crate::lifecycle::GateVerdict;

/// Text made safe inside HTML (and SVG): control sequences shown escaped, markup characters as entities.
pub fn esc(text: &str) -> String {
    let safe = crate::terminal::printable(text);
    let mut out = String::with_capacity(safe.len());
    for c in safe.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; font-size: 13px; color: #1d1d1f;
       margin: 2em auto; max-width: 1100px; padding: 0 1em; }
h1 { font-size: 22px; margin-bottom: 0.2em; }
h2 { font-size: 18px; border-bottom: 2px solid #333; padding-bottom: 2px; margin-top: 1.6em; }
h3 { font-size: 15px; margin-top: 1.2em; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
tr.done td.box { color: #2c7a3f; } tr.failed td.box, tr.failed td.item { color: #c0392b; font-weight: bold; }
tr.doubt td.box, tr.skipped td.box { color: #d68910; } tr.running td.box { color: #2a6fbb; }
td.box { font-size: 16px; text-align: center; width: 1.5em; }
ul.details { margin: 2px 0 0 0; padding-left: 1.2em; font-family: monospace; font-size: 11px; color: #444; }
p.warning { background: #fdecea; border-left: 4px solid #c0392b; padding: 4px 8px; margin: 4px 0; }
div.decision { border: 2px solid #333; padding: 8px 16px; margin: 1em 0; max-width: 640px; }
div.decision p { margin: 6px 0; }
svg.timeline { display: block; margin: 0.5em 0 1em; max-width: 100%; height: auto; }
section.chapter { break-before: page; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; } }
"#;

/// The whole page.
pub fn page(launch: &Launch, blocks: &[Block], extra_head: &str) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"es\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style>{extra_head}</head>\n<body>\n",
        esc(&launch.title)
    );
    out.push_str("<main id=\"report\">\n");
    body(launch, blocks, &mut out);
    out.push_str("</main>\n</body></html>\n");
    out
}

/// The report's content (what `golive serve` replaces as the journals grow).
pub fn body(launch: &Launch, blocks: &[Block], out: &mut String) {
    let _ = writeln!(out, "<h1>{}</h1>", esc(&launch.title));
    let mut open_chapter = false;
    for block in blocks {
        match block {
            Block::Section { number, title, level } => {
                if *level == 1 {
                    if open_chapter {
                        out.push_str("</section>\n");
                    }
                    let _ = writeln!(out, "<section class=\"chapter\" data-section=\"{}\">", esc(number));
                    open_chapter = true;
                }
                let tag = if *level == 1 { "h2" } else { "h3" };
                let id = if number.is_empty() { String::new() } else { format!(" id=\"s{}\"", esc(number)) };
                let number = if number.is_empty() { String::new() } else { format!("{} ", esc(number)) };
                let _ = writeln!(out, "<{tag}{id} data-heading=\"{}\">{number}{}</{tag}>", esc(title), esc(title));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "<p>{}</p>", esc(text));
            }
            Block::Warning(text) => {
                let _ = writeln!(out, "<p class=\"warning\">{}</p>", esc(text));
            }
            Block::Svg(svg) => {
                out.push_str(svg);
                out.push('\n');
            }
            Block::Table { class, header, rows } => table(out, class, header, rows),
            Block::Decision(decision) => decision_box(out, decision),
        }
    }
    if open_chapter {
        out.push_str("</section>\n");
    }
}

fn table(out: &mut String, class: &str, header: &[&str], rows: &[Row]) {
    let _ = write!(out, "<table class=\"{class}\"><thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in rows {
        match &row.item {
            Some(item) => {
                let _ = write!(
                    out,
                    "<tr class=\"item {}\" data-run=\"{}\" data-item=\"{}\" data-state=\"{}\">",
                    item.state.css(),
                    esc(&item.run_id),
                    esc(&item.name),
                    item.state.word()
                );
            }
            None => out.push_str("<tr>"),
        }
        for (i, cell) in row.cells.iter().enumerate() {
            let class = match (i, row.item.is_some()) {
                (0, true) => " class=\"box\"",
                (1, true) => " class=\"item\"",
                _ => "",
            };
            let _ = write!(out, "<td{class}>{}", esc(cell));
            // The commands and checklist items go under the item's name.
            if i == 1 && !row.details.is_empty()
                || (i == row.cells.len() - 1 && row.item.is_none() && !row.details.is_empty())
            {
                out.push_str("<ul class=\"details\">");
                for line in &row.details {
                    let _ = write!(out, "<li>{}</li>", esc(line));
                }
                out.push_str("</ul>");
            }
            out.push_str("</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

fn decision_box(out: &mut String, d: &DecisionRecord) {
    let tick = |v: GateVerdict| if d.verdict == v { "☑" } else { "☐" };
    let _ = writeln!(
        out,
        "<div class=\"decision\" data-gate=\"{}\" data-verdict=\"{}\"><p><strong>{}: {} GO &nbsp; {} NO-GO</strong></p>\
         <p>Date/time: {}</p><p>Approved by: {}</p><p>Notes: {}</p><p>The board recommended: {} (run {})</p></div>",
        esc(&d.gate),
        d.verdict,
        esc(&d.gate),
        tick(GateVerdict::Go),
        tick(GateVerdict::NoGo),
        esc(&super::parse_time(&d.at).map(|t| t.format("%Y-%m-%d %H:%M:%S %:z").to_string()).unwrap_or(d.at.clone())),
        esc(&d.by),
        esc(d.note.as_deref().unwrap_or("")),
        d.recommended,
        esc(&d.run_id)
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_and_control_sequences_from_a_target_stay_text() {
        assert_eq!(super::esc("<script>alert('x')</script>"), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
        assert_eq!(super::esc("a\x1b[2Jb & \"c\""), "a\\x1b[2Jb &amp; &quot;c&quot;");
    }
}
