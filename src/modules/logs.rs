//! `logs::scan`: counts the lines of a log that match error patterns (5xx answers in an access log, PHP
//! fatal errors, the team's own patterns from golive.toml), keeping the first few as evidence. Pure: the
//! text comes from a read the script already made (`ssh::run`, `stack.logs`).

use std::rc::Rc;

use regex::Regex;
use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, Module, NativeCallContext};

use super::{Registrar, Sig};
use crate::modules::Host;
use crate::script_error::runtime;

/// What every scan looks for, by name. The 5xx pattern reads the status after the quoted request line of
/// nginx's and Apache's common/combined formats; 503 counts too (outside maintenance it is an outage).
pub const DEFAULT_PATTERNS: &[(&str, &str)] = &[
    ("HTTP 5xx", r#"" 5\d\d \d"#),
    ("PHP fatal error", r"PHP (Fatal|Parse) error"),
    ("Uncaught exception", r"Uncaught (Error|Exception|TypeError)"),
    // nginx's error log (and drush's own messages) mark their level in brackets.
    ("Error-level line", r"\[(error|crit|alert|emerg)\]"),
];

/// How many matching lines a scan keeps as evidence.
const FIRST_LINES: usize = 5;
/// How much of one evidence line is kept.
const LINE_CHARS: usize = 240;

pub struct Scan {
    pub lines: usize,
    pub matched: usize,
    pub counts: Vec<(String, usize)>,
    pub first: Vec<String>,
}

/// Scans `text` line by line: a line counts once in `matched` however many patterns it matches, and once
/// under each pattern it matches.
pub fn scan(text: &str, patterns: &[(String, Regex)]) -> Scan {
    let mut counts: Vec<(String, usize)> = patterns.iter().map(|(name, _)| (name.clone(), 0)).collect();
    let (mut lines, mut matched, mut first) = (0, 0, Vec::new());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        lines += 1;
        let mut hit = false;
        for (i, (_, re)) in patterns.iter().enumerate() {
            if re.is_match(line) {
                counts[i].1 += 1;
                hit = true;
            }
        }
        if hit {
            matched += 1;
            if first.len() < FIRST_LINES {
                first.push(line.chars().take(LINE_CHARS).collect());
            }
        }
    }
    Scan { lines, matched, counts, first }
}

/// The default patterns plus the script's (name -> regular expression); a bad expression names itself.
fn patterns(extra: &Map) -> Result<Vec<(String, Regex)>, String> {
    let mut named = Vec::new();
    for (name, pattern) in extra {
        let pattern = pattern
            .clone()
            .into_immutable_string()
            .map_err(|t| format!("logs::scan: pattern \"{name}\" is a {t}, not a string"))?;
        named.push((name.to_string(), pattern.to_string()));
    }
    compile("logs::scan", &named)
}

/// The default patterns plus `extra` (a name given again replaces the default), compiled; `who` names the
/// caller in the error for a bad expression. Shared by logs::scan and a streamed command's flags.
pub fn compile(who: &str, extra: &[(String, String)]) -> Result<Vec<(String, Regex)>, String> {
    let mut all: Vec<(String, String)> = DEFAULT_PATTERNS.iter().map(|(n, p)| (n.to_string(), p.to_string())).collect();
    for (name, pattern) in extra {
        all.retain(|(n, _)| n != name);
        all.push((name.clone(), pattern.clone()));
    }
    all.into_iter()
        .map(|(name, pattern)| {
            Regex::new(&pattern)
                .map(|re| (name.clone(), re))
                .map_err(|e| format!("{who}: pattern \"{name}\" (`{pattern}`) is not a regular expression: {e}"))
        })
        .collect()
}

fn to_map(scan: Scan) -> Map {
    let mut counts = Map::new();
    for (name, n) in scan.counts {
        counts.insert(name.into(), Dynamic::from_int(n as i64));
    }
    let first: Array = scan.first.into_iter().map(Dynamic::from).collect();
    let mut m = Map::new();
    m.insert("lines".into(), Dynamic::from_int(scan.lines as i64));
    m.insert("matched".into(), Dynamic::from_int(scan.matched as i64));
    m.insert("counts".into(), Dynamic::from_map(counts));
    m.insert("first".into(), Dynamic::from_array(first));
    m
}

pub fn register(engine: &mut Engine, reg: &mut Registrar, _host: &Rc<Host>) {
    let mut m = Module::new();
    let doc = "Scans log text for HTTP 5xx answers, PHP fatal errors and uncaught exceptions (plus `patterns`, \
               name -> regular expression, which may replace a default by name): #{ lines, matched, counts: \
               #{ name: n }, first: [the first 5 matching lines] }.";
    reg.in_module(
        &mut m,
        "logs",
        Sig { name: "scan", params: &["text: string"], returns: "map", doc, effectful: false },
        move |ctx: NativeCallContext, text: &str| -> Result<Map, Box<EvalAltResult>> {
            let patterns = patterns(&Map::new()).map_err(|e| runtime(e, ctx.call_position()))?;
            Ok(to_map(scan(text, &patterns)))
        },
    );
    reg.in_module(
        &mut m,
        "logs",
        Sig { name: "scan", params: &["text: string", "patterns: map"], returns: "map", doc, effectful: false },
        move |ctx: NativeCallContext, text: &str, extra: Map| -> Result<Map, Box<EvalAltResult>> {
            let patterns = patterns(&extra).map_err(|e| runtime(e, ctx.call_position()))?;
            Ok(to_map(scan(text, &patterns)))
        },
    );
    engine.register_static_module("logs", m.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<(String, Regex)> {
        patterns(&Map::new()).unwrap()
    }

    #[test]
    fn counts_each_line_once_and_under_every_pattern_it_matches() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/logs/broken-release.log"))
                .unwrap();
        let s = scan(&text, &defaults());
        assert_eq!((s.lines, s.matched), (9, 6));
        assert_eq!(
            s.counts,
            vec![
                ("HTTP 5xx".into(), 3),
                ("PHP fatal error".into(), 2),
                ("Uncaught exception".into(), 2),
                ("Error-level line".into(), 1)
            ]
        );
        assert!(s.first[0].contains("\"GET /precios HTTP/1.1\" 500 "), "{:?}", s.first);
    }

    #[test]
    fn a_clean_log_matches_nothing_and_a_status_in_a_path_is_not_a_5xx() {
        let text = "127.0.0.1 - - [29/Nov/2026:03:56:09 +0000] \"GET /status/500 HTTP/1.1\" 200 65 \"-\" \"curl\"\n";
        let s = scan(text, &defaults());
        assert_eq!((s.lines, s.matched), (1, 0));
    }

    #[test]
    fn a_bad_pattern_is_named() {
        let mut extra = Map::new();
        extra.insert("redis".into(), Dynamic::from("Connection (refused".to_string()));
        let err = patterns(&extra).unwrap_err();
        assert!(
            err.starts_with("logs::scan: pattern \"redis\" (`Connection (refused`) is not a regular expression"),
            "{err}"
        );
    }
}
