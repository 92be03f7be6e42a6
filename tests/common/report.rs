//! Reading a report back: its HTML parsed (scraper), its PDF measured with poppler (pdfinfo, pdftotext,
//! pdftoppm), and both held against the journals they came from.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The seed runbook's numbered headings ("1. Resumen del Go-Live", "3.2 Backup Final"), as the report must
/// show them: (number, title).
pub fn seed_headings() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed/go-live-runbook.txt"))
            .or_else(|_| {
                std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/go-live-runbook.txt"))
            })
            .unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some((token, title)) = line.split_once(' ') else { continue };
        let chapter = token.strip_suffix('.').is_some_and(|n| n.parse::<u32>().is_ok());
        let part = token.split_once('.').is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok());
        if chapter || part {
            out.push((token.trim_end_matches('.').to_string(), title.trim().to_string()));
        }
    }
    out
}

/// Each step's state by (run id, step name), as its journal's last `step_finished` (or its absence) says,
/// in the report's words: done, FAILED (a failed check too), skipped, interrupted, in doubt.
pub fn journal_states(project_root: &Path) -> BTreeMap<(String, String), String> {
    let mut states = BTreeMap::new();
    let runs = project_root.join(".golive/runs");
    for dir in std::fs::read_dir(&runs).unwrap().flatten() {
        let text = std::fs::read_to_string(dir.path().join("journal.jsonl")).unwrap();
        let mut run_id = String::new();
        for line in text.lines() {
            let entry: serde_json::Value = serde_json::from_str(line).unwrap();
            let field = |k: &str| entry.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            match field("event").as_str() {
                "run_started" => run_id = field("run_id"),
                "step_started" => {
                    states.insert((run_id.clone(), field("step")), "in doubt".to_string());
                }
                "step_finished" => {
                    let failed_check = entry.pointer("/check/ok").and_then(|v| v.as_bool()) == Some(false);
                    let status = field("status");
                    let state = match (status.as_str(), failed_check) {
                        ("done", true) | ("failed", _) => "FAILED",
                        ("done", false) => "done",
                        (other, _) => other,
                    };
                    states.insert((run_id.clone(), field("step")), state.to_string());
                }
                _ => {}
            }
        }
    }
    states
}

/// What the HTML report shows: its section headings, and each item row's state by (run id, item).
pub struct Html {
    pub headings: Vec<String>,
    pub items: BTreeMap<(String, String), String>,
    /// Each item row's cells' text, by item name (the newest run's when several runs have it).
    pub cells: BTreeMap<String, Vec<String>>,
    pub decisions: Vec<(String, String)>,
    pub svgs: usize,
}

pub fn read_html(path: &Path) -> Html {
    let text = std::fs::read_to_string(path).unwrap();
    let document = scraper::Html::parse_document(&text);
    let select = |css: &str| scraper::Selector::parse(css).unwrap();
    let headings =
        document.select(&select("h2, h3")).map(|h| h.text().collect::<String>().trim().to_string()).collect();
    let mut items = BTreeMap::new();
    let mut cells = BTreeMap::new();
    let td = select("td");
    for row in document.select(&select("tr[data-item]")) {
        let attr = |k: &str| row.value().attr(k).unwrap_or_default().to_string();
        cells.insert(attr("data-item"), row.select(&td).map(|c| c.text().collect::<String>()).collect());
        let previous = items.insert((attr("data-run"), attr("data-item")), attr("data-state"));
        assert!(previous.is_none(), "item {} of run {} is in the report twice", attr("data-item"), attr("data-run"));
    }
    let decisions = document
        .select(&select("div.decision"))
        .map(|d| {
            let attr = |k: &str| d.value().attr(k).unwrap_or_default().to_string();
            (attr("data-gate"), attr("data-verdict"))
        })
        .collect();
    let svgs = document.select(&select("svg.timeline")).count();
    Html { headings, items, cells, decisions, svgs }
}

/// The PDF's pages, by pdfinfo.
pub fn pdf_pages(pdf: &Path) -> usize {
    let out = std::process::Command::new("pdfinfo").arg(pdf).output().expect("pdfinfo (poppler-utils) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| l.strip_prefix("Pages:")).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

/// Each page's text (pdftotext separates pages with form feeds).
pub fn pdf_text_pages(pdf: &Path) -> Vec<String> {
    let out = std::process::Command::new("pdftotext").args(["-layout"]).arg(pdf).arg("-").output().unwrap();
    String::from_utf8_lossy(&out.stdout).split('\u{c}').map(str::to_string).collect()
}

/// The first page rendered to PNG (kept as an artifact) and, from the same rendering, how much of it is ink:
/// the share of grey pixels darker than light grey.
pub fn first_page_ink(pdf: &Path, artifact: &Path) -> f64 {
    let prefix = artifact.with_extension("");
    let status = std::process::Command::new("pdftoppm")
        .args(["-f", "1", "-l", "1", "-r", "50", "-png", "-singlefile"])
        .arg(pdf)
        .arg(&prefix)
        .status()
        .unwrap();
    assert!(status.success() && prefix.with_extension("png").is_file(), "pdftoppm rendered no PNG");
    let grey = prefix.with_extension("gray");
    let status = std::process::Command::new("pdftoppm")
        .args(["-f", "1", "-l", "1", "-r", "50", "-gray", "-singlefile"])
        .arg(pdf)
        .arg(&grey)
        .status()
        .unwrap();
    assert!(status.success());
    let pgm: PathBuf = grey.with_extension("gray.pgm");
    let bytes = std::fs::read(&pgm).unwrap();
    // Binary PGM: "P5\n<w> <h>\n<max>\n" then one byte per pixel.
    let mut fields = 0;
    let mut at = 0;
    while fields < 4 {
        while bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        while !bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        fields += 1;
    }
    let pixels = &bytes[at + 1..];
    let _ = std::fs::remove_file(&pgm);
    pixels.iter().filter(|p| **p < 200).count() as f64 / pixels.len().max(1) as f64
}
