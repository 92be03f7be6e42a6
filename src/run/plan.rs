//! The plan: what a run would do, in order, deterministic (no times, no ids) so it can be snapshot-tested.

use serde::Serialize;

use crate::effects::{Access, Provenance};

#[derive(Debug, Default, Serialize)]
pub struct Plan {
    pub script: String,
    pub target: String,
    pub scenario: Option<String>,
    pub items: Vec<PlanItem>,
    pub outcome: String,
    /// The predicted run's exit code: 0 done, 1 it would fail or its outcome is unknown, 130, 3...
    pub exit_code: i32,
    /// The scenario's rules no effect matched (`golive test` reports them).
    #[serde(skip)]
    pub unused_rules: Vec<String>,
    /// The scenario's `[test] exit_code` (`golive test` holds `exit_code` to it).
    #[serde(skip)]
    pub expected_exit: Option<i32>,
}

impl Plan {
    /// Masks every secret in the plan's text: the one pass over it before anyone sees it (live reads send
    /// the real secrets, and what they answer can carry them into a verdict's evidence).
    pub fn mask(&mut self, redactor: &crate::secrets::Redactor) {
        let mask = |text: &mut String| {
            if let std::borrow::Cow::Owned(masked) = redactor.redact(text) {
                *text = masked;
            }
        };
        mask(&mut self.outcome);
        for item in &mut self.items {
            match item {
                PlanItem::Phase { name, window, owner } => {
                    mask(name);
                    window.iter_mut().chain(owner.iter_mut()).for_each(mask);
                }
                PlanItem::Step { name, effects, result, .. } => {
                    mask(name);
                    mask(result);
                    effects.iter_mut().for_each(|e| mask(&mut e.what));
                }
                PlanItem::Output { text } => mask(text),
            }
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "item", rename_all = "snake_case")]
pub enum PlanItem {
    Phase {
        name: String,
        window: Option<String>,
        owner: Option<String>,
    },
    Step {
        kind: crate::lifecycle::ItemKind,
        name: String,
        effects: Vec<PlannedEffect>,
        result: String,
        /// What a run could stop at before this step and the plan cannot tell (an unknown required check,
        /// an undecided gate): the step happens only if that passes ("known after the run").
        #[serde(skip_serializing_if = "Option::is_none")]
        conditional_on: Option<String>,
        /// Where the script says it, and why a fault may leave it passing (`golive test --faults`).
        #[serde(skip)]
        line: usize,
        #[serde(skip)]
        survives: Option<String>,
        /// A verdict recorded beside the item's own (a watch's) did not pass: the item did not pass whole.
        #[serde(skip)]
        verdict_failed: bool,
    },
    Output {
        text: String,
    },
}

#[derive(Debug, Serialize)]
pub struct PlannedEffect {
    pub access: Access,
    pub what: String,
    pub answer: Provenance,
    /// A read a fault can answer (`fault::kind`): which kind.
    #[serde(skip)]
    pub fault_kind: Option<&'static str>,
}

impl Plan {
    /// The plan as JSON, with the schema version journals carry.
    pub fn json(&self) -> String {
        #[derive(Serialize)]
        struct Versioned<'a> {
            schema: u32,
            #[serde(flatten)]
            plan: &'a Plan,
        }
        serde_json::to_string_pretty(&Versioned { schema: super::journal::SCHEMA, plan: self })
            .expect("plans serialise")
    }
    pub fn assumed(&self) -> usize {
        self.items
            .iter()
            .map(|item| match item {
                PlanItem::Step { effects, .. } => {
                    effects.iter().filter(|e| matches!(e.answer, Provenance::Assumed(_))).count()
                }
                _ => 0,
            })
            .sum()
    }

    pub fn render_text(&self) -> String {
        let mut out = format!("plan for {} on target `{}`", self.script, self.target);
        match &self.scenario {
            Some(s) => out.push_str(&format!(" (scenario {s})\n")),
            None => out.push('\n'),
        }
        for item in &self.items {
            match item {
                PlanItem::Phase { name, window, owner } => {
                    out.push_str(&format!("\nphase \"{name}\""));
                    if let Some(w) = window {
                        out.push_str(&format!("  {w}"));
                    }
                    if let Some(o) = owner {
                        out.push_str(&format!("  owner {o}"));
                    }
                    out.push('\n');
                }
                PlanItem::Step { kind, name, effects, result, conditional_on, .. } => {
                    match conditional_on {
                        Some(condition) => out.push_str(&format!("  {kind} \"{name}\"  (only if {condition})\n")),
                        None => out.push_str(&format!("  {kind} \"{name}\"\n")),
                    }
                    // Polls repeat the same effects: show a run of identical lines once, with its count.
                    let mut lines: Vec<(String, usize)> = Vec::new();
                    for effect in effects {
                        let access = match effect.access {
                            Access::Read => "read ",
                            Access::Write => "write",
                        };
                        let answer = match &effect.answer {
                            Provenance::Performed => "  (read live)".to_string(),
                            Provenance::Recorded => String::new(),
                            Provenance::Scenario(rule) => format!("  <- scenario {rule}"),
                            Provenance::Assumed(value) => format!("  <- assumed {value}"),
                        };
                        let line = format!("    {access}  {}{answer}", effect.what);
                        match lines.iter().rposition(|(l, _)| *l == line) {
                            Some(at) if lines.len() - at <= 2 => lines[at].1 += 1,
                            _ => lines.push((line, 1)),
                        }
                    }
                    for (line, count) in lines {
                        let times = if count > 1 { format!("  (x{count})") } else { String::new() };
                        out.push_str(&format!("{line}{times}\n"));
                    }
                    out.push_str(&format!("    = {result}\n"));
                }
                PlanItem::Output { text } => {
                    for line in text.lines() {
                        out.push_str(&format!("  | {line}\n"));
                    }
                }
            }
        }
        let assumed = self.assumed();
        if assumed > 0 {
            out.push_str(&format!(
                "\n{assumed} value(s) were assumed; answer them with --scenario FILE or --live-reads\n"
            ));
        }
        out.push_str(&format!("\noutcome: {}\n", self.outcome));
        out
    }
}
