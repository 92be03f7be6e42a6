//! Script errors rendered like rustc and just: `file:line:col`, the source line, a caret, the message,
//! and a hint. Errors inside stdlib modules name the stdlib file.

use std::collections::HashMap;

use ariadne::{CharSet, Config, IndexType, Label, Report, ReportKind, Source};
use rhai::{EvalAltResult, ParseError, ParseErrorType, Position};

use super::outline::{KnownFunctions, byte_offset};
use crate::suggest::did_you_mean;

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn at(file: &str, pos: Position, message: String) -> Diagnostic {
        Diagnostic {
            file: file.to_string(),
            line: pos.line().unwrap_or(0),
            col: pos.position().unwrap_or(0),
            message,
            notes: Vec::new(),
        }
    }

    pub fn location(&self) -> String {
        match (self.line, self.col) {
            (0, _) => self.file.clone(),
            (line, 0) => format!("{}:{line}", self.file),
            (line, col) => format!("{}:{line}:{col}", self.file),
        }
    }
}

/// The text of every script and stdlib module, by the name errors give them.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: HashMap<String, String>,
}

impl SourceMap {
    pub fn add(&mut self, name: &str, text: &str) {
        self.files.insert(name.to_string(), text.to_string());
    }

    pub fn render(&self, diagnostic: &Diagnostic, color: bool) -> String {
        let Some(text) = self.files.get(&diagnostic.file).filter(|_| diagnostic.line > 0) else {
            let mut out = format!("error: {}\n  --> {}\n", diagnostic.message, diagnostic.location());
            for note in &diagnostic.notes {
                out.push_str(&format!("  = {note}\n"));
            }
            return out;
        };
        let pos = Position::new(diagnostic.line as u16, diagnostic.col.max(1) as u16);
        let start = byte_offset(text, pos).unwrap_or(0).min(text.len());
        let end = start + token_len(&text[start..]);
        let id = diagnostic.file.clone();
        let mut report = Report::build(ReportKind::Error, (id.clone(), start..end))
            .with_config(
                Config::default().with_color(color).with_char_set(CharSet::Ascii).with_index_type(IndexType::Byte),
            )
            .with_message(&diagnostic.message)
            .with_label(Label::new((id.clone(), start..end)).with_message("here"));
        for note in &diagnostic.notes {
            report = report.with_note(note);
        }
        let mut out = Vec::new();
        let written = report.finish().write((id.clone(), Source::from(text.as_str())), &mut out);
        match written {
            Ok(()) => String::from_utf8_lossy(&out).into_owned(),
            Err(_) => format!("error: {}\n  --> {id}\n", diagnostic.message),
        }
    }
}

/// How many bytes of the token at the start of `rest` to underline.
fn token_len(rest: &str) -> usize {
    let word: usize = rest
        .char_indices()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == ':')
        .map(|(_, c)| c.len_utf8())
        .sum();
    if word > 0 { word } else { rest.chars().next().map_or(0, char::len_utf8) }
}

pub fn from_parse_error(err: &ParseError, file: &str, known: &KnownFunctions) -> Diagnostic {
    let message = match err.err_type() {
        ParseErrorType::ModuleUndefined(module) => {
            let hint = did_you_mean(module, known.modules.iter().map(String::as_str));
            format!("no module `{module}` exists{hint}")
        }
        other => clean(&other.to_string()),
    };
    Diagnostic::at(file, err.position(), message)
}

/// Unwraps nested call errors to the innermost one, which names the file it happened in.
pub fn from_eval_error(err: &EvalAltResult, file: &str) -> Diagnostic {
    let mut notes = Vec::new();
    let mut current = err;
    let mut source = file.to_string();
    loop {
        match current {
            EvalAltResult::ErrorInFunctionCall(name, fn_source, inner, pos) => {
                notes.push(format!("in call to `{name}` at {source}:{}", pos_text(*pos)));
                if !fn_source.is_empty() {
                    source = fn_source.to_string();
                }
                current = inner;
            }
            EvalAltResult::ErrorInModule(module, inner, pos) => {
                notes.push(format!("in module `{module}` at {source}:{}", pos_text(*pos)));
                current = inner;
            }
            _ => break,
        }
    }
    notes.reverse();
    let mut diagnostic = Diagnostic::at(&source, current.position(), message_of(current));
    diagnostic.notes = notes;
    diagnostic
}

/// The message alone, for step failures in progress lines and the journal.
pub fn one_line(err: &EvalAltResult) -> String {
    let d = from_eval_error(err, "");
    if d.line == 0 {
        d.message
    } else if d.file.is_empty() {
        format!("{} (line {}:{})", d.message, d.line, d.col)
    } else {
        format!("{} ({})", d.message, d.location())
    }
}

/// Errors that mean the script is wrong, not that the world said no: they stop the run with exit 2.
pub fn is_script_mistake(err: &EvalAltResult) -> bool {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) | EvalAltResult::ErrorInModule(_, inner, _) => {
            is_script_mistake(inner)
        }
        EvalAltResult::ErrorFunctionNotFound(..)
        | EvalAltResult::ErrorVariableNotFound(..)
        | EvalAltResult::ErrorPropertyNotFound(..)
        | EvalAltResult::ErrorMismatchDataType(..)
        | EvalAltResult::ErrorMismatchOutputType(..)
        | EvalAltResult::ErrorIndexingType(..)
        | EvalAltResult::ErrorDotExpr(..)
        | EvalAltResult::ErrorModuleNotFound(..)
        | EvalAltResult::ErrorParsing(..) => true,
        _ => false,
    }
}

fn message_of(err: &EvalAltResult) -> String {
    match err {
        EvalAltResult::ErrorRuntime(value, _) => match value.clone().try_cast::<rhai::Map>() {
            Some(map) => map.get("msg").map(|m| m.to_string()).unwrap_or_else(|| value.to_string()),
            None => value.to_string(),
        },
        EvalAltResult::ErrorFunctionNotFound(signature, _) => {
            let signature = clean(signature);
            let name = signature.split(" (").next().unwrap_or(&signature);
            format!("no function `{name}` takes these arguments: `{signature}`; see `golive docs` for its signatures")
        }
        other => {
            let text = other.to_string();
            let text = match text.rfind(" (line ") {
                Some(at) if text.ends_with(')') => &text[..at],
                _ => &text,
            };
            clean(text)
        }
    }
}

fn clean(text: &str) -> String {
    text.trim_start_matches("Runtime error: ")
        .trim_start_matches("Syntax error: ")
        .replace("&str | ImmutableString | String", "string")
        .replace("ImmutableString", "string")
        .replace("i64", "int")
        .replace("f64", "float")
}

fn pos_text(pos: Position) -> String {
    match (pos.line(), pos.position()) {
        (Some(l), Some(c)) => format!("{l}:{c}"),
        (Some(l), None) => l.to_string(),
        _ => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_col_source_and_caret() {
        let mut sources = SourceMap::default();
        sources.add("run.rhai", "let a = 1;\nlocal::rnu(\"x\");\n");
        let d = Diagnostic::at("run.rhai", Position::new(2, 1), "no function `local::rnu` exists".into());
        let text = sources.render(&d, false);
        assert!(text.contains("run.rhai:2:1"), "{text}");
        assert!(text.contains("local::rnu(\"x\");"), "{text}");
        assert!(text.contains("^"), "{text}");
        assert!(text.contains("no function `local::rnu` exists"), "{text}");
    }
}
