//! Script errors rendered like rustc and just: `file:line:col`, the source line, a caret, the message,
//! and a hint. Errors inside stdlib modules name the stdlib file.

use std::collections::HashMap;

use ariadne::{CharSet, Config, IndexType, Label, Report, ReportKind, Source};
use rhai::{ParseError, ParseErrorType, Position};

use super::outline::byte_offset;
use crate::diagnostic::clean;
pub use crate::diagnostic::{Diagnostic, from_eval_error, is_script_mistake, one_line};
use crate::modules::known::KnownFunctions;
use crate::suggest::did_you_mean;

/// The text of every script and stdlib module, by the name errors give them.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: HashMap<String, String>,
}

impl SourceMap {
    pub fn add(&mut self, name: &str, text: &str) {
        self.files.insert(name.to_string(), text.to_string());
    }

    /// The diagnostic laid out by golive (ariadne's colours are golive's own); its message and notes may
    /// quote what a target printed, so they are made printable first.
    pub fn render(&self, diagnostic: &Diagnostic, color: bool) -> String {
        let mut safe = diagnostic.clone();
        safe.message = crate::terminal::printable(&diagnostic.message).into_owned();
        safe.notes = diagnostic.notes.iter().map(|n| crate::terminal::printable(n).into_owned()).collect();
        let diagnostic = &safe;
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

/// golive's five words are keywords: `for step in steps` or `m.check` fails in Rhai's parser with
/// "Expecting a string" (it reads the word as the start of a step). Said plainly, naming the word.
pub fn keyword_misuse(diagnostic: Diagnostic, source: &str) -> Diagnostic {
    if !diagnostic.message.contains("Expecting a string") {
        return diagnostic;
    }
    let Some(line) = diagnostic.line.checked_sub(1).and_then(|n| source.lines().nth(n)) else { return diagnostic };
    for word in ["phase", "step", "check", "manual", "gate"] {
        let mut from = 0;
        while let Some(found) = line[from..].find(word) {
            let at = from + found;
            let end = at + word.len();
            let before = line[..at].chars().next_back();
            let after = line[end..].chars().next();
            let whole = !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                && !after.is_some_and(|c| c.is_alphanumeric() || c == '_');
            let before_char = line[..at].trim_end().chars().next_back();
            let before_word = line[..at].trim_end().rsplit(|c: char| !c.is_alphanumeric() && c != '_').next();
            let after_text = line[end..].trim_start();
            // Used as a name: after `for`/`let`/`const`, `.`, `(`, `,` or `|`, or before `in`, `=`, `.`, `)`...
            // (`step n { }` is a step whose name is not a literal: Rhai's own message says that).
            let as_name = before_char.is_some_and(|c| ".(,|[".contains(c))
                || before_word.is_some_and(|w| ["for", "let", "const", "fn"].contains(&w))
                || after_text.chars().next().is_some_and(|c| "=.),;]".contains(c))
                || after_text.starts_with("in ");
            if whole && as_name && !after_text.starts_with('"') {
                let message = format!(
                    "`{word}` is one of golive's words (phase, step, check, manual, gate), so it cannot name a \
                     variable, a parameter or a property here; call it something else (`s`, `item`, `{word}_`)"
                );
                return Diagnostic { message, ..diagnostic };
            }
            from = end;
        }
    }
    diagnostic
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
