//! The timeline picture, plain SVG (no script needed to read it): each phase's planned window against its
//! actual start and end, then each run's steps as bars within their phases, with the gate decisions and
//! the watch's alerts as marks.

use std::fmt::Write;

use super::html::esc;
use super::{Launch, RunRecord, State, Time};
use crate::lifecycle::GateVerdict;
use crate::run::schedule::Window;

const WIDTH: f64 = 900.0;
const LABEL: f64 = 230.0;
const ROW: f64 = 26.0;

/// A horizontal time scale from `from` to `to` over the chart's width.
struct Scale {
    from: Time,
    seconds: f64,
}

impl Scale {
    fn new(from: Time, to: Time) -> Scale {
        let seconds = ((to - from).num_milliseconds() as f64 / 1000.0).max(1.0);
        Scale { from, seconds }
    }

    fn x(&self, at: Time) -> f64 {
        let s = (at - self.from).num_milliseconds() as f64 / 1000.0;
        LABEL + (s / self.seconds).clamp(0.0, 1.0) * (WIDTH - LABEL - 10.0)
    }

    fn ticks(&self) -> Vec<(f64, String)> {
        let step = [60.0, 300.0, 900.0, 3600.0, 3.0 * 3600.0, 6.0 * 3600.0, 24.0 * 3600.0, 1.0, 5.0, 15.0]
            .into_iter()
            .filter(|s| self.seconds / s <= 8.0)
            .fold(f64::MAX, f64::min);
        let step = if step == f64::MAX { self.seconds / 4.0 } else { step };
        let format = if step < 60.0 { "%H:%M:%S" } else { "%H:%M" };
        (0..=8)
            .map(|i| i as f64 * step)
            .take_while(|s| *s <= self.seconds)
            .map(|s| {
                let at = self.from + chrono::Duration::milliseconds((s * 1000.0) as i64);
                (self.x(at), at.format(format).to_string())
            })
            .collect()
    }
}

fn header(out: &mut String, height: f64, title: &str) {
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="11"><title>{}</title>"##,
        esc(title)
    );
}

fn axis(out: &mut String, scale: &Scale, top: f64, bottom: f64) {
    for (x, label) in scale.ticks() {
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle" fill="#555">{label}</text>"##,
            bottom + 12.0
        );
    }
}

fn label(out: &mut String, y: f64, text: &str, bold: bool) {
    let weight = if bold { r#" font-weight="bold""# } else { "" };
    let text: String = text.chars().take(36).collect();
    let _ = write!(out, r##"<text x="4" y="{:.1}"{weight}>{}</text>"##, y + ROW / 2.0 + 4.0, esc(&text));
}

/// Planned windows against actual times, one row per phase that has a window or a budget.
pub fn schedule(launch: &Launch) -> Option<String> {
    struct Row<'a> {
        name: String,
        planned: Option<(Time, Time)>,
        actual: (Time, Option<Time>),
        late: bool,
        run: &'a RunRecord,
    }
    let mut rows = Vec::new();
    for run in &launch.runs {
        for phase in &run.phases {
            let Some(started) = phase.started else { continue };
            let window = phase.window.as_deref().and_then(|w| Window::parse(w).ok());
            let planned = window.as_ref().map(|w| w.planned_around(&started));
            let elapsed = std::time::Duration::from_millis(phase.duration_ms.unwrap_or_default());
            let late =
                window.as_ref().is_some_and(|w| w.judge(crate::run::schedule::minute_of_day(&started), elapsed).1);
            rows.push(Row { name: phase.name.clone(), planned, actual: (started, phase.ended), late, run });
        }
    }
    if rows.is_empty() {
        return None;
    }
    let times = rows.iter().flat_map(|r| {
        [Some(r.actual.0), r.actual.1, r.planned.map(|p| p.0), r.planned.map(|p| p.1)].into_iter().flatten()
    });
    let (from, to) = times.fold((None::<Time>, None::<Time>), |(lo, hi), t| {
        (Some(lo.map_or(t, |l| l.min(t))), Some(hi.map_or(t, |h| h.max(t))))
    });
    let (from, to) = (from?, to?);
    let scale = Scale::new(from, to);
    let height = rows.len() as f64 * ROW + 50.0;
    let mut out = String::new();
    header(&mut out, height, "Schedule: planned windows (light) against actual phases (dark)");
    axis(&mut out, &scale, 10.0, height - 30.0);
    for (i, row) in rows.iter().enumerate() {
        let y = 10.0 + i as f64 * ROW;
        let script = std::path::Path::new(&row.run.summary.script)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        label(&mut out, y, &format!("{script}: {}", row.name), false);
        if let Some((a, b)) = row.planned {
            let _ = write!(
                out,
                r##"<rect class="planned" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#cfe0f5"><title>planned {}-{}</title></rect>"##,
                scale.x(a),
                y + 3.0,
                (scale.x(b) - scale.x(a)).max(1.0),
                ROW - 6.0,
                a.format("%H:%M"),
                b.format("%H:%M")
            );
        }
        let end = row.actual.1.unwrap_or(row.actual.0);
        let colour = if row.late { "#c0392b" } else { "#2c7a3f" };
        let _ = write!(
            out,
            r##"<rect class="actual" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>actual {}-{}</title></rect>"##,
            scale.x(row.actual.0),
            y + 8.0,
            (scale.x(end) - scale.x(row.actual.0)).max(2.0),
            ROW - 16.0,
            row.actual.0.format("%H:%M:%S"),
            end.format("%H:%M:%S")
        );
    }
    out.push_str("</svg>");
    Some(out)
}

/// One run's phases with their steps as bars, and its gate decisions and alerts as marks.
pub fn steps(run: &RunRecord) -> Option<String> {
    let starts = run.steps.iter().filter_map(|s| s.started);
    let ends = run.steps.iter().filter_map(|s| s.ended.or(s.started));
    let from = starts.min()?;
    let to = ends.max()?.max(from + chrono::Duration::seconds(1));
    let scale = Scale::new(from, to);
    let mut lanes: Vec<Option<String>> = Vec::new();
    for step in &run.steps {
        if !lanes.contains(&step.phase) {
            lanes.push(step.phase.clone());
        }
    }
    let height = lanes.len() as f64 * ROW + 64.0;
    let mut out = String::new();
    header(&mut out, height, &format!("Steps of run {}", run.summary.run_id));
    axis(&mut out, &scale, 10.0, height - 44.0);
    for (i, lane) in lanes.iter().enumerate() {
        let y = 10.0 + i as f64 * ROW;
        label(&mut out, y, lane.as_deref().unwrap_or("(no phase)"), true);
        for step in run.steps.iter().filter(|s| s.phase == *lane) {
            let Some(start) = step.started else { continue };
            let end = step.ended.unwrap_or(start);
            let colour = match step.verdict_state() {
                State::Done => "#2c7a3f",
                State::Failed => "#c0392b",
                State::Running => "#2a6fbb",
                _ => "#d68910",
            };
            let _ = write!(
                out,
                r##"<rect class="step" data-state="{}" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}" stroke="#fff" stroke-width="0.5"><title>{} {}: {} ({})</title></rect>"##,
                step.verdict_state().css(),
                scale.x(start),
                y + 5.0,
                (scale.x(end) - scale.x(start)).max(2.0),
                ROW - 10.0,
                step.kind,
                esc(&step.name),
                step.verdict_state().word(),
                crate::duration::short(std::time::Duration::from_millis(step.duration_ms))
            );
        }
    }
    let marks_y = 10.0 + lanes.len() as f64 * ROW + 4.0;
    for decision in &run.decisions {
        let Some(at) = super::parse_time(&decision.at) else { continue };
        let x = scale.x(at);
        let colour = if decision.verdict == GateVerdict::Go { "#2c7a3f" } else { "#c0392b" };
        let _ = write!(
            out,
            r##"<g class="decision"><line x1="{x:.1}" y1="10" x2="{x:.1}" y2="{marks_y:.1}" stroke="{colour}" stroke-dasharray="3,2"/><path d="M{x:.1} {marks_y:.1} l5 5 l-5 5 l-5 -5 z" fill="{colour}"/><text x="{:.1}" y="{:.1}" fill="{colour}">{} {}</text></g>"##,
            x + 7.0,
            marks_y + 9.0,
            esc(&decision.gate),
            decision.verdict
        );
    }
    for (at, text, recovery) in alerts(run) {
        let Some(at) = super::parse_time(&at).or_else(|| local_time(&at, from)) else { continue };
        let x = scale.x(at);
        let colour = if recovery { "#2c7a3f" } else { "#c0392b" };
        let _ = write!(
            out,
            r##"<path class="alert" d="M{x:.1} {:.1} l5 9 l-10 0 z" fill="{colour}"><title>{}</title></path>"##,
            marks_y + 12.0,
            esc(&text)
        );
    }
    out.push_str("</svg>");
    Some(out)
}

/// The watch's transitions of a run: (when, what, is it a recovery).
pub fn alerts(run: &RunRecord) -> Vec<(String, String, bool)> {
    run.steps.iter().flat_map(|s| transitions(&s.value)).collect()
}

/// A `metrics::watch` result's transitions (ok -> warn -> crit -> ok), as a step's value keeps them.
pub fn transitions(value: &serde_json::Value) -> Vec<(String, String, bool)> {
    let Some(list) = value.get("transitions").and_then(|t| t.as_array()) else { return Vec::new() };
    list.iter()
        .map(|t| {
            let field = |k: &str| t.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let to = field("to");
            (field("at"), format!("{}: {} -> {} ({})", field("rule"), field("from"), to, field("shown")), to == "ok")
        })
        .collect()
}

/// A watch writes its transitions' times as "HH:MM:SS" of the day the run ran.
fn local_time(at: &str, day_of: Time) -> Option<Time> {
    let time = chrono::NaiveTime::parse_from_str(at, "%H:%M:%S").ok()?;
    day_of.date_naive().and_time(time).and_local_timezone(*day_of.offset()).single()
}
