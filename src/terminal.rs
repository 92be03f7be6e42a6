//! The operator's terminal: progress lines (a spinner with elapsed time on a terminal, plain lines
//! otherwise), prompts, and script output. Everything written passes the redaction filter, then the one
//! sanitizer (`printable`): no byte a target sent can move the cursor, set the clipboard or restyle golive's
//! lines. golive's own colours are marks only this process can write (`paint`), turned into escape codes
//! after sanitizing.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::effects::{EffectError, Prompt};
use crate::secrets::Redactor;

pub struct Terminal {
    redactor: Arc<Redactor>,
    interactive: bool,
    fancy: bool,
    color: bool,
    verbosity: std::sync::atomic::AtomicU8,
    spinner: Mutex<Option<ProgressBar>>,
    /// Without a terminal: the heartbeat of the step running now, stopped when the step ends.
    heartbeat: Mutex<Option<Heartbeat>>,
    /// A question is on the screen: heartbeats wait, so they never break its line.
    asking: Arc<std::sync::atomic::AtomicBool>,
    stdin_lines: OnceLock<Mutex<Receiver<String>>>,
}

/// How much a run says: `-q` only what went wrong (cron stays quiet on success), `-v` also each command and
/// its output as it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Verbosity {
    Quiet = 0,
    #[default]
    Normal = 1,
    Verbose = 2,
}

/// Without a terminal there is no spinner: a step's start is a line, and a long step says it is still
/// running every `HEARTBEAT` (as Terraform's "Still modifying..."), so a CI log or a `| tee` never goes
/// silent while work goes on.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

struct Heartbeat {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

#[derive(Clone, Copy)]
pub enum Tone {
    Plain,
    Good,
    Bad,
    Dim,
    Heading,
}

impl Terminal {
    pub fn new(redactor: Arc<Redactor>, non_interactive: bool) -> Terminal {
        let stderr_tty = std::io::stderr().is_terminal();
        Terminal {
            redactor,
            interactive: !non_interactive && std::io::stdin().is_terminal(),
            fancy: stderr_tty,
            color: use_color(stderr_tty),
            verbosity: std::sync::atomic::AtomicU8::new(Verbosity::Normal as u8),
            spinner: Mutex::new(None),
            heartbeat: Mutex::new(None),
            asking: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            stdin_lines: OnceLock::new(),
        }
    }

    pub fn with_verbosity(self, verbosity: Verbosity) -> Terminal {
        self.set_verbosity(verbosity);
        self
    }

    /// The REPL is quiet while the script's setup runs (its steps skipped), then says what it does.
    pub fn set_verbosity(&self, verbosity: Verbosity) {
        self.verbosity.store(verbosity as u8, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn verbosity(&self) -> Verbosity {
        match self.verbosity.load(std::sync::atomic::Ordering::Relaxed) {
            0 => Verbosity::Quiet,
            1 => Verbosity::Normal,
            _ => Verbosity::Verbose,
        }
    }

    /// A line that only tells how things go (a step started or passed, a phase's heading): `-q` drops it.
    pub fn progress(&self, text: &str) {
        if self.verbosity() > Verbosity::Quiet {
            self.line(text);
        }
    }

    /// Can golive ask the operator a question and wait for the answer?
    pub fn is_interactive(&self) -> bool {
        self.interactive
    }

    pub fn redactor(&self) -> &Arc<Redactor> {
        &self.redactor
    }

    /// `text` in a tone: marked with this process's style marks, which become colour codes when written
    /// (and nothing without colour).
    pub fn paint(&self, text: &str, tone: Tone) -> String {
        let code = match tone {
            Tone::Plain => return text.to_string(),
            Tone::Good => "32",
            Tone::Bad => "1;31",
            Tone::Dim => "2",
            Tone::Heading => "1",
        };
        let mark = style_mark();
        format!("{mark}{code}{mark}{text}{mark}0{mark}")
    }

    /// Masks secrets, escapes control sequences, then turns golive's own style marks into colour codes.
    fn finish(&self, text: &str) -> String {
        let masked = self.redactor.redact(text);
        let safe = printable(&masked);
        let mark = style_mark();
        if !safe.contains(mark.as_str()) {
            return safe.into_owned();
        }
        let mut out = String::with_capacity(safe.len());
        for (i, part) in safe.split(mark.as_str()).enumerate() {
            match (i % 2, self.color) {
                (0, _) => out.push_str(part),
                (_, true) => out.push_str(&format!("\x1b[{part}m")),
                (_, false) => {}
            }
        }
        out
    }

    /// A block golive laid out itself (a table whose cells were made `printable`), with its styling: only
    /// masked, never escaped.
    pub fn block(&self, text: &str) {
        let text = self.redactor.redact(text).into_owned();
        self.suspend(|| {
            let _ = writeln!(std::io::stderr(), "{text}");
        });
    }

    /// Does golive colour its output (a terminal, and NO_COLOR unset)?
    pub fn is_color(&self) -> bool {
        self.color
    }

    /// A progress or report line on stderr.
    pub fn line(&self, text: &str) {
        let text = self.finish(text);
        // A closed stderr (a pipe whose reader left) must not stop a run in the middle of a step.
        self.suspend(|| {
            let _ = writeln!(std::io::stderr(), "{text}");
        });
    }

    /// Can golive redraw lines in place (stderr is a terminal)?
    pub fn is_fancy(&self) -> bool {
        self.fancy
    }

    /// Replaces the block of lines the previous call drew (a live status table); `lines` is how many it
    /// drew before, returned for the next call.
    pub fn redraw(&self, text: &str, lines: usize) -> usize {
        let text = self.finish(text);
        let up = if lines > 0 { format!("\x1b[{lines}F\x1b[J") } else { String::new() };
        self.suspend(|| {
            let _ = writeln!(std::io::stderr(), "{up}{text}");
        });
        text.lines().count()
    }

    /// Script output (`print`) on stdout.
    pub fn out(&self, text: &str) {
        let text = self.finish(text);
        self.suspend(|| {
            let mut stdout = std::io::stdout();
            let _ = writeln!(stdout, "{text}").and_then(|_| stdout.flush());
        });
    }

    /// A step starts: a spinner with its elapsed time on a terminal; otherwise a line now and a heartbeat
    /// line every `HEARTBEAT` until `stop_spinner`.
    pub fn start_spinner(&self, message: &str) {
        // Steps running together (strands) each get their start line; one spinner or heartbeat cannot
        // stand for several of them.
        if crate::strand::current().is_some() {
            if self.verbosity() != Verbosity::Quiet {
                self.line(&format!("  {}  {message}", self.paint("... ", Tone::Dim)));
            }
            return;
        }
        if !self.fancy {
            if self.verbosity() == Verbosity::Quiet {
                return;
            }
            self.line(&format!("  {}  {message}", self.paint("... ", Tone::Dim)));
            let (stop, stopped) = std::sync::mpsc::channel::<()>();
            let line = self.finish(&format!("  {}  still running {message}", self.paint("... ", Tone::Dim)));
            let started = std::time::Instant::now();
            let asking = Arc::clone(&self.asking);
            let thread = std::thread::spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(HEARTBEAT) {
                    if !asking.load(std::sync::atomic::Ordering::Relaxed) {
                        let _ = writeln!(std::io::stderr(), "{line}, {}", whole_seconds(started.elapsed()));
                    }
                }
            });
            *self.heartbeat.lock().unwrap_or_else(|p| p.into_inner()) = Some(Heartbeat { stop, thread });
            return;
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {msg} {elapsed:.dim}").expect("static template is valid"),
        );
        bar.set_message(self.finish(message));
        bar.enable_steady_tick(Duration::from_millis(120));
        *self.spinner.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
    }

    pub fn stop_spinner(&self) {
        if crate::strand::current().is_some() {
            return;
        }
        if let Some(Heartbeat { stop, thread }) = self.heartbeat.lock().unwrap_or_else(|p| p.into_inner()).take() {
            drop(stop);
            let _ = thread.join();
        }
        if let Some(bar) = self.spinner.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }

    fn suspend(&self, f: impl FnOnce()) {
        let guard = self.spinner.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Asks on the terminal until the answer is one of the choices; Ctrl-C cancels the question.
    pub fn ask(&self, prompt: &Prompt, cancel: &CancellationToken) -> Result<String, EffectError> {
        if !self.interactive {
            return Err(EffectError::Unanswered(self.redactor.redact(&prompt.question).into_owned()));
        }
        let lines = self.stdin_lines.get_or_init(|| Mutex::new(spawn_stdin_reader()));
        let lines = lines.lock().unwrap_or_else(|p| p.into_inner());
        let _asking = Asking::new(&self.asking);
        let _echo_off = prompt.secret.then(EchoOff::new);
        loop {
            let choices =
                if prompt.choices.is_empty() { String::new() } else { format!(" [{}]", prompt.choices.join("/")) };
            let question = self.finish(&prompt.question);
            let choices = printable(&choices).into_owned();
            self.suspend(|| {
                eprint!("? {question}{choices} ");
                let _ = std::io::stderr().flush();
            });
            let answer = loop {
                match lines.recv_timeout(Duration::from_millis(50)) {
                    Ok(line) => break line,
                    Err(RecvTimeoutError::Timeout) if cancel.is_cancelled() => {
                        eprintln!();
                        return Err(EffectError::Cancelled);
                    }
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err(EffectError::Unanswered(question));
                    }
                }
            };
            if prompt.choices.is_empty() {
                return Ok(answer);
            }
            if let Some(choice) = match_choice(&answer, &prompt.choices) {
                return Ok(choice);
            }
            self.line(&format!("  please answer one of: {}", prompt.choices.join(", ")));
        }
    }
}

/// `--color`: auto follows the terminal, NO_COLOR and CLICOLOR_FORCE; always and never say it outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

static COLOR_CHOICE: OnceLock<ColorChoice> = OnceLock::new();

/// Set once, by main, from `--color`.
pub fn set_color_choice(choice: ColorChoice) {
    let _ = COLOR_CHOICE.set(choice);
}

/// One rule for colour: --color always/never first; then CLICOLOR_FORCE (set, not "0") forces it, NO_COLOR
/// (set, not empty) turns it off, and otherwise colour goes to a terminal only.
fn use_color(stderr_tty: bool) -> bool {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    match COLOR_CHOICE.get().copied().unwrap_or_default() {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") => true,
        ColorChoice::Auto if set("NO_COLOR").is_some() => false,
        ColorChoice::Auto => stderr_tty,
    }
}

/// Heartbeats hold off while a question waits for its answer.
struct Asking<'a>(&'a std::sync::atomic::AtomicBool);

impl<'a> Asking<'a> {
    fn new(flag: &'a std::sync::atomic::AtomicBool) -> Asking<'a> {
        flag.store(true, std::sync::atomic::Ordering::Relaxed);
        Asking(flag)
    }
}

impl Drop for Asking<'_> {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// "2m30s", "45s": a heartbeat's elapsed time in whole seconds.
fn whole_seconds(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    if secs < 60 { format!("{secs}s") } else { crate::duration::short(Duration::from_secs(secs)) }
}

/// Turns the terminal's echo off while a secret is typed, and back on when dropped.
struct EchoOff {
    saved: Option<libc::termios>,
}

impl EchoOff {
    fn new() -> EchoOff {
        // SAFETY: tcgetattr/tcsetattr read and write a termios struct for stdin, which is a terminal here.
        unsafe {
            let mut term: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut term) != 0 {
                return EchoOff { saved: None };
            }
            let saved = term;
            term.c_lflag &= !libc::ECHO;
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &term);
            EchoOff { saved: Some(saved) }
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: restores the attributes read in `new`.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
            }
            eprintln!();
        }
    }
}

/// Whole words a person may answer with in place of a choice, in the languages the team speaks (the seed's
/// team answers in Spanish): each stands for one choice, and only where that choice is offered.
const SYNONYMS: &[(&str, &str)] = &[
    ("sí", "yes"),
    ("si", "yes"),
    ("omitir", "skip"),
    ("reintentar", "retry"),
    ("abortar", "abort"),
    ("nogo", "NO-GO"),
    ("no go", "NO-GO"),
];

/// Accepts a choice by its whole text, or a whole word that stands for it (`sí` for yes), ignoring case.
/// Never a prefix: an answer changes a verdict, and "s" is "sí" to one operator and "skip" to another.
pub fn match_choice(answer: &str, choices: &[String]) -> Option<String> {
    let answer = answer.trim().to_lowercase();
    if answer.is_empty() {
        return None;
    }
    let offered = |word: &str| choices.iter().find(|c| c.to_lowercase() == word.to_lowercase()).cloned();
    offered(&answer)
        .or_else(|| SYNONYMS.iter().find(|(synonym, _)| *synonym == answer).and_then(|(_, choice)| offered(choice)))
}

/// One reader for the whole process, so an abandoned question never swallows the next answer.
fn spawn_stdin_reader() -> Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// golive's own style mark: private-use characters around this process's random number, which no target can
/// guess, so text a target sent can never be mistaken for golive's colours.
fn style_mark() -> &'static String {
    static MARK: OnceLock<String> = OnceLock::new();
    MARK.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let nonce = std::collections::hash_map::RandomState::new().build_hasher().finish();
        format!("\u{f8ff}{nonce:016x}\u{f8ff}")
    })
}

/// Text from a target made safe to print: control characters other than newline and tab (so every
/// ESC/CSI/OSC/DCS sequence, which would move the cursor, recolour, retitle or set the clipboard), C1
/// controls and bidirectional overrides are shown escaped (`\x1b[2J`, `\u{202e}`) instead of acting on the
/// operator's terminal.
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// The same for JSON golive prints: those characters can only stand inside its strings, so they are
/// written as JSON's own `\uXXXX` escapes, which keep the JSON valid and the value the same.
pub fn printable_json(json: &str) -> String {
    json.chars().map(|c| if unsafe_char(c) { format!("\\u{:04x}", c as u32) } else { c.to_string() }).collect()
}

pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !unsafe_char(c) => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::match_choice;

    #[test]
    fn choices_match_whole_words_in_either_language_never_prefixes() {
        let choices: Vec<String> = ["retry", "skip", "abort"].map(String::from).to_vec();
        assert_eq!(match_choice(" Abort ", &choices).as_deref(), Some("abort"));
        assert_eq!(match_choice("R", &choices), None);
        assert_eq!(match_choice("x", &choices), None);
        assert_eq!(match_choice("reintentar", &choices).as_deref(), Some("retry"));
        let manual: Vec<String> = ["yes", "no", "skip"].map(String::from).to_vec();
        assert_eq!(match_choice("s", &manual), None);
        assert_eq!(match_choice("Sí", &manual).as_deref(), Some("yes"));
        assert_eq!(match_choice("si", &manual).as_deref(), Some("yes"));
        assert_eq!(match_choice("no", &manual).as_deref(), Some("no"));
        assert_eq!(match_choice("omitir", &manual).as_deref(), Some("skip"));
        let go: Vec<String> = ["GO", "NO-GO"].map(String::from).to_vec();
        assert_eq!(match_choice("go", &go).as_deref(), Some("GO"));
        assert_eq!(match_choice("no", &go), None);
        assert_eq!(match_choice("no go", &go).as_deref(), Some("NO-GO"));
        // A word stands only for a choice that is offered.
        assert_eq!(match_choice("sí", &go), None);
    }

    #[test]
    fn printable_shows_escape_sequences_instead_of_acting_on_them() {
        assert_eq!(super::printable("plain\ttext\n"), "plain\ttext\n");
        assert_eq!(super::printable("\x1b]52;c;aGk=\x07"), "\\x1b]52;c;aGk=\\x07");
        assert_eq!(super::printable("a\u{202e}b\u{9b}\x1b[2J"), "a\\u{202e}b\\x9b\\x1b[2J");
    }
}
