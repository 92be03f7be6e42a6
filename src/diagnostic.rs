//! An error as golive reports it: file, line, column, message and the call chain -- below every layer that
//! reports one (the engine renders it with the source; modules and the run show it on one line).

use rhai::{EvalAltResult, Position};

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
        | EvalAltResult::ErrorDataRace(..)
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
        // Items of a repeated step running together share the variables their body changes; one item
        // waiting for an effect inside a method of such a value holds it.
        EvalAltResult::ErrorDataRace(..) => "this value is shared by items running together and another item is \
            waiting for an effect in a call on it: copy it in the body (`let v = v;`) or run the items one at a time \
            (serial: 1)"
            .into(),
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

pub(crate) fn clean(text: &str) -> String {
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
