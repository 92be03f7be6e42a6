//! `golive coverage`: how much of the runbook document the scripts carry out, computed rather than written.
//! The team lists the document's work items once (`[report] coverage`, a TOML file: each item's section,
//! words and the script items that carry it out); golive weighs each from what the scripts' plans do and
//! what `golive test --faults` found:
//! - **measured**: a machine observes it, and every fault of every read its verdict rests on is caught (a
//!   step that only writes is judged by its exit status);
//! - **partial**: observed, but weaker: a fault survives, a read no fault can answer, a verdict never
//!   planned to pass, a phase's schedule only shown, or what the file says (`partial = "why"`: a stand-in's
//!   contract, a value printed, a threshold not the document's);
//! - **asked**: a person answers;
//! - **missing**: nothing carries it out.
//!
//! The file can only lower an item's standing: a `partial` reason demotes, nothing promotes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::faults::CaseFaults;
use crate::config::Config;
use crate::error::{Failure, Result};
use crate::lifecycle::ItemKind;

/// The file `[report] coverage` names.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedMap {
    /// One per checklist box, table row or command of the document.
    #[serde(default)]
    pub item: Vec<SeedItem>,
    /// Reference data the document holds (the team, contacts): listed, not counted.
    #[serde(default)]
    pub reference: Vec<Reference>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedItem {
    pub section: String,
    pub item: String,
    /// How golive carries it out, in words (shown in the table).
    pub how: String,
    /// The script items that carry it out: `"saturday: backup verified"`, a checklist's entry or a gate's
    /// trigger as `"comms: comunicaciones internas / Email a todo el equipo"`, a phase as `"friday: phase
    /// NAME"`. Empty: missing.
    #[serde(default)]
    pub by: Vec<String>,
    /// Why it is weaker than the document asks though the verdicts pass their faults.
    pub partial: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub section: String,
    pub item: String,
    pub how: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Standing {
    Measured,
    Partial,
    Asked,
    Missing,
}

impl Standing {
    pub fn word(self) -> &'static str {
        match self {
            Standing::Measured => "measured",
            Standing::Partial => "partial",
            Standing::Asked => "asked",
            Standing::Missing => "missing",
        }
    }
}

/// One document item, weighed.
#[derive(Debug)]
pub struct Weighed<'a> {
    pub item: &'a SeedItem,
    pub standing: Standing,
    /// Why it is partial (empty otherwise).
    pub reasons: Vec<String>,
}

/// What one `by` entry amounts to.
enum RefStanding {
    Measured,
    Partial(String),
    Asked,
    /// A gate or its trigger: computed from verdicts the item names beside it.
    Computed,
}

/// The map named by `[report] coverage`.
pub fn load(config: &Config) -> Result<(PathBuf, SeedMap)> {
    let Some(file) = &config.report.coverage else {
        return Err(Failure::Usage(
            "error: golive.toml: [report] coverage names no file: list the runbook's work items there (see `golive docs`)"
                .into(),
        ));
    };
    let path = config.root.join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| crate::error::io_failure("read", &path, e))?;
    let map: SeedMap = toml::from_str(&text).map_err(|e| {
        Failure::Usage(format!("error: {}: {}", path.display(), e.to_string().trim_end().replace('\n', "\n  ")))
    })?;
    Ok((path, map))
}

/// Everything the plans and faults say of one script item, over every case of its script.
#[derive(Default)]
struct Evidence {
    kinds: BTreeSet<ItemKind>,
    asks: bool,
    reads: bool,
    writes: bool,
    passed: bool,
    said: String,
    /// Fault-tested in some case: survivors (read kind and operator), vacuous, the reason.
    tested: bool,
    survivors: BTreeSet<String>,
    vacuous: bool,
    survives: Option<String>,
}

/// Weighs every item of `map` against the scripts in `scripts_dir` and the fault results.
pub fn weigh<'a>(
    map: &'a SeedMap,
    scripts_dir: &Path,
    results: &[CaseFaults],
    options: &super::Options,
) -> Result<Vec<Weighed<'a>>> {
    let mut evidence: BTreeMap<(String, String), Evidence> = BTreeMap::new();
    for case in results {
        let stem = stem(&case.case.script);
        for seen in &case.observed {
            let e = evidence.entry((stem.clone(), seen.name.clone())).or_default();
            e.kinds.insert(seen.kind);
            e.asks |= seen.asks;
            e.reads |= seen.reads > 0;
            e.writes |= seen.writes;
            e.passed |= seen.passed;
            e.said.push_str(&seen.said);
            e.said.push('\n');
        }
        for check in &case.checks {
            let e = evidence.entry((stem.clone(), check.name.clone())).or_default();
            e.tested = true;
            e.vacuous |= check.vacuous;
            e.survives = e.survives.take().or_else(|| check.survives.clone());
            for s in &check.survivors {
                e.survivors.insert(format!("{} {}", s.read.kind, s.operator.describe()));
            }
        }
    }
    let mut outlines: BTreeMap<String, (crate::engine::outline::Outline, String)> = BTreeMap::new();
    let mut weighed = Vec::new();
    for item in &map.item {
        let mut refs = Vec::new();
        for by in &item.by {
            let Some((script, name)) = by.split_once(": ") else {
                return Err(bad_ref(item, by, "write it \"SCRIPT: ITEM\""));
            };
            if !outlines.contains_key(script) {
                let path = scripts_dir.join(format!("{script}.rhai"));
                if !path.is_file() {
                    return Err(bad_ref(item, by, &format!("no script {}", path.display())));
                }
                let source = std::fs::read_to_string(&path).map_err(|e| crate::error::io_failure("read", &path, e))?;
                outlines.insert(script.to_string(), (super::steps(&path, options)?, source));
            }
            let (outline, source) = &outlines[script];
            if let Some(phase) = name.strip_prefix("phase ") {
                if !outline.phases.iter().any(|p| p == phase) {
                    return Err(bad_ref(item, by, &format!("{script}.rhai has no phase \"{phase}\"")));
                }
                refs.push(RefStanding::Partial(format!("phase \"{phase}\": its schedule is shown, not judged")));
                continue;
            }
            let (name, entry) = match name.split_once(" / ") {
                Some((name, entry)) => (name, Some(entry)),
                None => (name, None),
            };
            let key = (script.to_string(), name.to_string());
            let declared = outline.steps.iter().find(|s| s.name == name);
            let Some(e) = evidence.get(&key) else {
                // Declared, but no scenario's plan reaches it (an item for a case the scenarios leave out).
                match declared.map(|s| ItemKind::from_keyword(&s.kind)) {
                    Some(Some(ItemKind::Manual)) => refs.push(RefStanding::Asked),
                    Some(_) => refs.push(RefStanding::Partial(format!("\"{name}\" is in no scenario's plan"))),
                    None => return Err(bad_ref(item, by, &format!("{script}.rhai has no item \"{name}\""))),
                }
                continue;
            };
            // A checklist's entry shows in the plan's questions; a computed map's key in the script.
            if let Some(entry) =
                entry.filter(|entry| !e.said.contains(entry) && !source.contains(&format!("\"{entry}\"")))
            {
                return Err(bad_ref(
                    item,
                    by,
                    &format!("neither the plans of \"{name}\" nor its script show \"{entry}\""),
                ));
            }
            refs.push(standing(name, entry, e));
        }
        weighed.push(weigh_item(item, refs));
    }
    Ok(weighed)
}

fn stem(script: &Path) -> String {
    script.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

fn bad_ref(item: &SeedItem, by: &str, why: &str) -> Failure {
    Failure::Usage(format!("error: coverage item {} \"{}\": by \"{by}\": {why}", item.section, item.item))
}

fn standing(name: &str, entry: Option<&str>, e: &Evidence) -> RefStanding {
    // A gate, or an entry of a value computed from verdicts (a No-Go trigger in a step's map).
    if e.kinds.contains(&ItemKind::Gate) || (entry.is_some() && !e.asks) {
        return RefStanding::Computed;
    }
    if e.kinds.contains(&ItemKind::Manual) || (e.asks && (entry.is_some() || !e.reads)) {
        return RefStanding::Asked;
    }
    let word = if e.kinds.contains(&ItemKind::Check) { "check" } else { "step" };
    if e.vacuous {
        return RefStanding::Partial(format!("{word} \"{name}\" passes when its reads answer nothing"));
    }
    if e.tested && !e.survivors.is_empty() {
        let survived: Vec<&str> = e.survivors.iter().map(String::as_str).collect();
        let why = e.survives.as_deref().map(|w| format!(" ({w})")).unwrap_or_default();
        return RefStanding::Partial(format!("{word} \"{name}\" survives {}{why}", survived.join(", ")));
    }
    if e.tested {
        return RefStanding::Measured;
    }
    match (e.reads, e.passed) {
        // A write judged by its exit status: nothing a fault could turn.
        (false, _) if e.writes => RefStanding::Measured,
        (false, _) => {
            RefStanding::Partial(format!("{word} \"{name}\" rests on reads no fault answers (journals, clock)"))
        }
        (true, false) => {
            RefStanding::Partial(format!("{word} \"{name}\" passes in no scenario's plan: not fault-tested"))
        }
        (true, true) => {
            RefStanding::Partial(format!("{word} \"{name}\" passes only on reads its scenarios leave assumed"))
        }
    }
}

fn weigh_item(item: &SeedItem, refs: Vec<RefStanding>) -> Weighed<'_> {
    let mut reasons = Vec::new();
    let (mut machine, mut asked, mut computed) = (0, 0, 0);
    for r in refs {
        match r {
            RefStanding::Measured => machine += 1,
            RefStanding::Partial(why) => {
                machine += 1;
                reasons.push(why);
            }
            RefStanding::Asked => asked += 1,
            RefStanding::Computed => computed += 1,
        }
    }
    let standing = match (machine, asked, computed) {
        (0, 0, 0) => Standing::Missing,
        (0, _, _) if asked > 0 => Standing::Asked,
        (0, _, _) => {
            reasons.push("computed from verdicts the item does not name".into());
            Standing::Partial
        }
        _ => {
            reasons.extend(item.partial.clone());
            match reasons.is_empty() {
                true => Standing::Measured,
                false => Standing::Partial,
            }
        }
    };
    if standing != Standing::Partial {
        reasons.clear();
    }
    Weighed { item, standing, reasons }
}

/// The table, as docs/coverage.md holds it.
pub fn render(weighed: &[Weighed], map: &SeedMap, map_file: &str) -> String {
    let count = |s: Standing| weighed.iter().filter(|w| w.standing == s).count();
    let mut out = String::new();
    let _ = writeln!(out, "# Coverage of the runbook document\n");
    let _ = writeln!(
        out,
        "Written by `golive coverage` from {map_file} (the document's work items and the script items that carry \
         each out), the scripts' plans under their scenarios and `golive test --faults`. Do not edit: run \
         `golive coverage > docs/coverage.md`; a test fails when they differ.\n"
    );
    out.push_str(
        "- **measured**: a machine observes it, and every fault of every read its verdict rests on is caught (a \
         step that only writes is judged by its exit status);\n\
         - **partial**: observed, but weaker: the reason is given (a fault that survives, a read no fault answers, \
         a schedule shown and not judged, a stand-in's contract);\n\
         - **asked**: a person answers (manual item, checklist), journaled with who and when;\n\
         - **missing**: nothing carries it out.\n\n",
    );
    let _ = writeln!(
        out,
        "**Totals: {} measured, {} partial, {} asked, {} missing (of {}).**\n",
        count(Standing::Measured),
        count(Standing::Partial),
        count(Standing::Asked),
        count(Standing::Missing),
        weighed.len()
    );
    out.push_str("| § | Item | Standing | How | By |\n|---|------|----------|-----|----|\n");
    for w in weighed {
        let standing = match w.reasons.is_empty() {
            true => w.standing.word().to_string(),
            false => format!("{}: {}", w.standing.word(), w.reasons.join("; ")),
        };
        let by = match w.item.by.is_empty() {
            true => "-".to_string(),
            false => w.item.by.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", "),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(&w.item.section),
            cell(&w.item.item),
            cell(&standing),
            cell(&w.item.how),
            cell(&by)
        );
    }
    if !map.reference.is_empty() {
        out.push_str("\n## Reference data\n\n| § | Item | How |\n|---|------|-----|\n");
        for r in &map.reference {
            let _ = writeln!(out, "| {} | {} | {} |", cell(&r.section), cell(&r.item), cell(&r.how));
        }
    }
    out
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(partial: Option<&str>) -> SeedItem {
        SeedItem {
            section: "3.2".into(),
            item: "backup".into(),
            how: "-".into(),
            by: vec!["saturday: backup".into()],
            partial: partial.map(str::to_string),
        }
    }

    #[test]
    fn a_file_can_lower_an_item_never_raise_it() {
        let (plain, demoted) = (item(None), item(Some("stand-in")));
        let measured = weigh_item(&plain, vec![RefStanding::Measured]);
        assert_eq!(measured.standing, Standing::Measured);
        let lowered = weigh_item(&demoted, vec![RefStanding::Measured]);
        assert_eq!((lowered.standing, lowered.reasons), (Standing::Partial, vec!["stand-in".to_string()]));
        let asked = weigh_item(&plain, vec![RefStanding::Asked, RefStanding::Computed]);
        assert_eq!(asked.standing, Standing::Asked);
        let none = weigh_item(&plain, vec![]);
        assert_eq!(none.standing, Standing::Missing);
        let computed = weigh_item(&plain, vec![RefStanding::Computed]);
        assert_eq!(computed.standing, Standing::Partial);
    }

    #[test]
    fn one_weak_verdict_makes_the_item_partial() {
        let plain = item(None);
        let w = weigh_item(&plain, vec![RefStanding::Measured, RefStanding::Partial("survives".into())]);
        assert_eq!((w.standing, w.reasons), (Standing::Partial, vec!["survives".to_string()]));
    }

    #[test]
    fn a_survivor_lowers_a_check_and_a_write_alone_is_measured() {
        let mut e = Evidence { tested: true, reads: true, passed: true, ..Evidence::default() };
        e.kinds.insert(ItemKind::Check);
        assert!(matches!(standing("c", None, &e), RefStanding::Measured));
        e.survivors.insert("exec 0s".into());
        assert!(matches!(standing("c", None, &e), RefStanding::Partial(_)));
        let mut write = Evidence { writes: true, ..Evidence::default() };
        write.kinds.insert(ItemKind::Step);
        assert!(matches!(standing("w", None, &write), RefStanding::Measured));
        let mut untested = Evidence { reads: true, passed: false, ..Evidence::default() };
        untested.kinds.insert(ItemKind::Check);
        assert!(matches!(standing("u", None, &untested), RefStanding::Partial(_)));
    }
}
