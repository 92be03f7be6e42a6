//! `metrics::watch`: rules like the runbook's table 8.1 evaluated every interval, each with a warning and a
//! critical level and actions. A transition (ok -> warn -> crit -> ok) is acted on once, not every interval.
//!
//! ```rhai
//! metrics::watch(#{ every: "15s", "for": "24h", rules: [   // `for` is a keyword: quote it
//!     #{ name: "Error rate", query: "100 * sum(rate(http_5xx[5m])) / sum(rate(http_all[5m]))", unit: "%",
//!        warn: 1.0, crit: 5.0, on_warn: |e| notify::slack(hook, `${e.rule} ${e.value}`), on_crit: |e| rollback(e) },
//!     #{ name: "CPU", value: || metrics::host(prod).cpu_pct, unit: "%", warn: 70.0, crit: 90.0 },
//! ]});
//! ```
//! A rule reads a PromQL `query` (queries run at once) or calls its `value` function. No answer within the
//! rule's `timeout`, an empty result or NaN is "nodata": reported, and the watch goes on. An action that
//! returns "stop" ends the watch; so does Ctrl-C (cleanly, as the step's result). A resumed watch keeps its
//! first end time.

use std::rc::Rc;
use std::time::{Duration, Instant};

use rhai::{Array, Dynamic, EvalAltResult, FnPtr, Map, Module, NativeCallContext, Position};

use super::metrics::{answer, base_url, instant_request};
use super::{Registrar, Sig};
use crate::effects::Effect;
use crate::modules::Host;
use crate::script_error::{is_interrupt, runtime};
use crate::verdict::{Alert, CheckRecord, WatchRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Crit,
    NoData,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Crit => "crit",
            Level::NoData => "nodata",
        }
    }

    pub fn of(value: f64, warn: f64, crit: f64) -> Level {
        if value.is_nan() {
            Level::NoData
        } else if value > crit {
            Level::Crit
        } else if value > warn {
            Level::Warn
        } else {
            Level::Ok
        }
    }
}

enum Source {
    Query(String),
    Function(FnPtr),
}

struct Rule {
    name: String,
    source: Source,
    warn: f64,
    crit: f64,
    unit: String,
    /// What to do about it, in the runbook's words (8.1's "Acción"), passed on in events.
    advice: String,
    timeout: Duration,
    actions: Map,
    level: Level,
    value: f64,
    note: String,
    /// Since when (seconds on the watch's clock) it has had no data, and whether that silence alerted.
    silent_since: Option<f64>,
    silence_alerted: bool,
}

struct Settings {
    every: Duration,
    length: Duration,
    /// The length as written ("24h"), for the watch's record.
    length_text: String,
    /// How long a rule may have no data before that silence is an alert.
    nodata_alert: Duration,
    replay: Option<(f64, f64, f64)>,
    on_change: Option<FnPtr>,
}

fn number(value: &Dynamic) -> Option<f64> {
    value.as_float().ok().or_else(|| value.as_int().ok().map(|i| i as f64))
}

fn duration(map: &Map, key: &str, default: Option<Duration>, pos: Position) -> Result<Duration, Box<EvalAltResult>> {
    match map.get(key) {
        Some(v) => {
            crate::duration::parse(&v.to_string()).map_err(|e| runtime(format!("metrics::watch `{key}`: {e}"), pos))
        }
        None => default.ok_or_else(|| runtime(format!("metrics::watch needs `{key}`, like \"15s\""), pos)),
    }
}

fn settings(options: &Map, pos: Position) -> Result<Settings, Box<EvalAltResult>> {
    const KNOWN: [&str; 7] = ["every", "for", "rules", "timeout", "replay", "on_change", "nodata_alert"];
    if let Some(bad) = options.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        let hint = crate::suggest::did_you_mean(bad, KNOWN);
        return Err(runtime(format!("metrics::watch takes {}, not `{bad}`{hint}", KNOWN.join(", ")), pos));
    }
    let replay = match options.get("replay").and_then(|r| r.clone().try_cast::<Map>()) {
        None => None,
        Some(r) => {
            let from = r
                .get("from")
                .and_then(number)
                .ok_or_else(|| runtime("replay needs `from` (unix seconds)".to_string(), pos))?;
            let to = r
                .get("to")
                .and_then(number)
                .ok_or_else(|| runtime("replay needs `to` (unix seconds)".to_string(), pos))?;
            let step = duration(&r, "step", None, pos)?.as_secs_f64();
            Some((from, to, step))
        }
    };
    Ok(Settings {
        every: duration(options, "every", None, pos)?,
        length: duration(options, "for", None, pos)?,
        length_text: options.get("for").map(|v| v.to_string()).unwrap_or_default(),
        nodata_alert: duration(options, "nodata_alert", Some(DEFAULT_NODATA_ALERT), pos)?,
        replay,
        on_change: options.get("on_change").and_then(|f| f.clone().try_cast::<FnPtr>()),
    })
}

/// A rule silent this long is an alert (a metric that stopped reporting hides everything it measured).
const DEFAULT_NODATA_ALERT: Duration = Duration::from_secs(300);

const RULE_KEYS: [&str; 12] =
    ["name", "query", "value", "warn", "crit", "unit", "advice", "timeout", "on_ok", "on_warn", "on_crit", "on_nodata"];

fn rules(options: &Map, pos: Position) -> Result<Vec<Rule>, Box<EvalAltResult>> {
    let default_timeout = duration(options, "timeout", Some(Duration::from_secs(5)), pos)?;
    let list = options.get("rules").and_then(|r| r.clone().try_cast::<Array>()).ok_or_else(|| {
        runtime("metrics::watch needs `rules`: an array of #{ name, query | value, warn, crit }".to_string(), pos)
    })?;
    let mut out = Vec::new();
    for (i, item) in list.into_iter().enumerate() {
        let map = item.try_cast::<Map>().ok_or_else(|| runtime(format!("rule {i} is not a map"), pos))?;
        let name =
            map.get("name").map(|n| n.to_string()).ok_or_else(|| runtime(format!("rule {i} has no `name`"), pos))?;
        // Rules hold functions, which serde cannot carry, so their keys are checked here: a typo such as
        // `on_crti` would otherwise mean the critical action never fires.
        if let Some(bad) = map.keys().find(|k| !RULE_KEYS.contains(&k.as_str())) {
            let hint = crate::suggest::did_you_mean(bad, RULE_KEYS);
            return Err(runtime(
                format!("rule \"{name}\": `{bad}` is not a rule option{hint} (options: {})", RULE_KEYS.join(", ")),
                pos,
            ));
        }
        let source = match (map.get("query"), map.get("value").and_then(|v| v.clone().try_cast::<FnPtr>())) {
            (Some(q), None) => Source::Query(q.to_string()),
            (None, Some(f)) => Source::Function(f),
            _ => {
                return Err(runtime(
                    format!("rule \"{name}\" needs a `query` (PromQL) or a `value` function, one of them"),
                    pos,
                ));
            }
        };
        let level = |key: &str| {
            map.get(key).and_then(number).ok_or_else(|| runtime(format!("rule \"{name}\" needs a number `{key}`"), pos))
        };
        let (warn, crit) = (level("warn")?, level("crit")?);
        if warn > crit {
            return Err(runtime(format!("rule \"{name}\": warn ({warn}) is above crit ({crit})"), pos));
        }
        let actions = ["on_ok", "on_warn", "on_crit", "on_nodata"]
            .into_iter()
            .filter_map(|k| map.get(k).map(|f| (k.into(), f.clone())))
            .collect();
        out.push(Rule {
            unit: map.get("unit").map(|u| u.to_string()).unwrap_or_default(),
            advice: map.get("advice").map(|u| u.to_string()).unwrap_or_default(),
            timeout: duration(&map, "timeout", Some(default_timeout), pos)?,
            name,
            source,
            warn,
            crit,
            actions,
            level: Level::Ok,
            value: f64::NAN,
            note: String::new(),
            silent_since: None,
            silence_alerted: false,
        });
    }
    Ok(out)
}

/// One round: queries at once, then value functions in turn. Returns false when the operator interrupted.
fn evaluate(
    host: &Host,
    ctx: &NativeCallContext,
    rules: &mut [Rule],
    at: Option<f64>,
) -> Result<bool, Box<EvalAltResult>> {
    let pos = ctx.call_position();
    let queries: Vec<usize> =
        rules.iter().enumerate().filter(|(_, r)| matches!(r.source, Source::Query(_))).map(|(i, _)| i).collect();
    if !queries.is_empty() {
        let base = base_url(host, pos)?;
        let effects = queries
            .iter()
            .map(|&i| match &rules[i].source {
                Source::Query(q) => Effect::Http(instant_request(&base, q, at, rules[i].timeout)),
                Source::Function(_) => unreachable!("only query rules are listed"),
            })
            .collect();
        let results = host.controller.perform_all(effects, "metrics::watch", pos)?;
        for (&i, result) in queries.iter().zip(results) {
            let reading = match result {
                Err(e) if is_interrupt(&e) => return Ok(false),
                Err(e) => Err(crate::diagnostic::one_line(&e)),
                Ok(outcome) => answer(outcome).and_then(|series| {
                    series
                        .first()
                        .and_then(|s| s.samples.first())
                        .map(|(_, v)| *v)
                        .ok_or_else(|| "no data (empty result)".to_string())
                }),
            };
            (rules[i].value, rules[i].note) = match reading {
                Ok(v) => (v, String::new()),
                Err(e) => (f64::NAN, e),
            };
        }
    }
    for rule in rules.iter_mut() {
        let Source::Function(f) = &rule.source else { continue };
        let reading = match f.call_within_context::<Dynamic>(ctx, ()) {
            Err(e) if is_interrupt(&e) => return Ok(false),
            Err(e) if wrong_arity(&e, f) => {
                return Err(runtime(
                    format!(
                        "metrics::watch: rule \"{}\": `value` is called with no argument: write it as || {{ ... }}",
                        rule.name
                    ),
                    ctx.call_position(),
                ));
            }
            Err(e) => Err(crate::diagnostic::one_line(&e)),
            Ok(v) => number(&v).ok_or_else(|| format!("the value function gave {}, not a number", v.type_name())),
        };
        (rule.value, rule.note) = match reading {
            Ok(v) => (v, String::new()),
            Err(e) => (f64::NAN, e),
        };
    }
    Ok(true)
}

fn shown(value: f64, unit: &str) -> String {
    if value.is_nan() {
        "no data".into()
    } else {
        format!("{:.2}{}{unit}", value, if unit.is_empty() || unit == "%" { "" } else { " " })
    }
}

fn table(rules: &[Rule], evaluation: u64, left: Duration) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED).set_header(["Rule", "Value", "Warn", "Crit", "Status"]);
    for r in rules {
        t.add_row([
            r.name.clone(),
            shown(r.value, &r.unit),
            shown(r.warn, &r.unit),
            shown(r.crit, &r.unit),
            r.level.name().to_uppercase(),
        ]);
    }
    format!("watch: evaluation {evaluation}, {} left (Ctrl-C stops it)\n{t}", crate::duration::short(left))
}

fn watch(host: &Host, ctx: &NativeCallContext, options: Map) -> Result<Map, Box<EvalAltResult>> {
    let pos = ctx.call_position();
    let settings = settings(&options, pos)?;
    let mut rules = rules(&options, pos)?;
    let controller = &host.controller;
    let dry = controller.is_dry();
    // The end is fixed when the watch first starts: a resumed watch runs to the same end.
    let now = chrono::Utc::now().timestamp_millis();
    let this_attempt = Instant::now();
    let end_ms: i64 = controller
        .remembered("metrics::watch ends at (unix ms)", &|| (now + settings.length.as_millis() as i64).to_string())?
        .parse()
        .unwrap_or(now);
    let terminal = controller.terminal();
    let (mut drawn, mut evaluations, mut transitions) = (0usize, 0u64, Array::new());
    let mut alerts = Vec::new();
    let mut stopped = "time".to_string();
    loop {
        let replay_at = settings.replay.map(|(from, _, step)| from + step * evaluations as f64);
        if replay_at.is_some_and(|t| settings.replay.is_some_and(|(_, to, _)| t > to)) {
            stopped = "replay done".into();
            break;
        }
        let left_ms = end_ms - chrono::Utc::now().timestamp_millis();
        if left_ms <= 0 && !dry {
            if evaluations > 0 {
                break;
            }
            // Resumed after its end: every rule is still evaluated once, so its verdicts drive the script's
            // branches as in a first run, instead of "ok" after no evaluation at all.
            controller.output("watch: its end passed before this resume; every rule is evaluated once");
            stopped = "time (its end had passed: evaluated once)".into();
        }
        let tick = Instant::now();
        if !evaluate(host, ctx, &mut rules, replay_at)? {
            stopped = "operator".into();
            break;
        }
        evaluations += 1;
        let at = match replay_at {
            Some(t) => chrono::DateTime::from_timestamp(t as i64, 0).map(|d| d.to_rfc3339()).unwrap_or_default(),
            None => controller.now_stamp(),
        };
        let mut stop_by_action = false;
        let clock_s = replay_at.unwrap_or_else(|| chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
        for rule in rules.iter_mut() {
            let level = Level::of(rule.value, rule.warn, rule.crit);
            let detail = if rule.note.is_empty() { shown(rule.value, &rule.unit) } else { rule.note.clone() };
            if level != rule.level {
                let from = rule.level;
                rule.level = level;
                let line = format!("watch: {} {} -> {} ({detail}) at {at}", rule.name, from.name(), level.name());
                if terminal.is_fancy() && !dry {
                    terminal.line(&line);
                    drawn = 0;
                } else {
                    controller.output(&line);
                }
                let event = event(rule, from, &detail, &at);
                transitions.push(Dynamic::from_map(event.clone()));
                if level == Level::Crit {
                    alerts.push(Alert {
                        rule: rule.name.clone(),
                        level: "crit".into(),
                        at: at.clone(),
                        shown: detail.clone(),
                    });
                }
                // A silence is acted on once it has lasted `nodata_alert` (below), not at its first evaluation.
                if level != Level::NoData {
                    let action = [format!("on_{}", level.name())];
                    stop_by_action |= act(ctx, rule, &settings, &action, event, &mut stopped)?;
                }
            }
            if level != Level::NoData {
                (rule.silent_since, rule.silence_alerted) = (None, false);
                continue;
            }
            let since = *rule.silent_since.get_or_insert(clock_s);
            // A plan's one evaluation stands for the whole watch: a silence the scenario gives is a silence
            // throughout (one the plan assumed for want of an answer is no evidence of anything).
            let alerting = match dry {
                true => !controller.rests_on_assumed_reads(),
                false => clock_s - since >= settings.nodata_alert.as_secs_f64(),
            };
            if rule.silence_alerted || !alerting {
                continue;
            }
            rule.silence_alerted = true;
            let silent = match dry {
                true => "the whole watch".to_string(),
                false => crate::duration::short(Duration::from_secs_f64((clock_s - since).max(0.0))),
            };
            let detail = format!("no data for {silent} ({detail})");
            controller.output(&format!("watch: {} has had no data for {silent}: an alert", rule.name));
            alerts.push(Alert {
                rule: rule.name.clone(),
                level: "nodata".into(),
                at: at.clone(),
                shown: detail.clone(),
            });
            let event = event(rule, Level::NoData, &detail, &at);
            // No data is an alert that is sent: the rule's on_nodata, else what it does when critical.
            let action = ["on_nodata".to_string(), "on_crit".to_string()];
            stop_by_action |= act(ctx, rule, &settings, &action, event, &mut stopped)?;
        }
        if terminal.is_fancy() && !dry {
            let left = Duration::from_millis((end_ms - chrono::Utc::now().timestamp_millis()).max(0) as u64);
            drawn = terminal.redraw(&table(&rules, evaluations, left), drawn);
        }
        if stop_by_action {
            if stopped == "time" {
                stopped = "action".into();
            }
            break;
        }
        let left = Duration::from_millis((end_ms - chrono::Utc::now().timestamp_millis()).max(0) as u64);
        let wait = settings.every.saturating_sub(tick.elapsed()).min(left);
        if dry {
            controller.perform(Effect::Sleep { duration: settings.every }, "metrics::watch", pos)?;
            stopped = "plan: one evaluation shown".into();
            break;
        }
        if wait > Duration::ZERO {
            match controller.perform(Effect::Sleep { duration: wait }, "metrics::watch", pos) {
                Ok(_) => {}
                Err(e) if is_interrupt(&e) => {
                    stopped = "operator".into();
                    break;
                }
                Err(e) => return Err(e),
            }
        }
    }
    if stopped == "operator" {
        controller.interrupt_handled();
        controller.output(&format!("watch: stopped by the operator (Ctrl-C) after {evaluations} evaluations"));
    }
    let record = WatchRecord {
        name: controller.step_name().unwrap_or_default(),
        planned: settings.length_text.clone(),
        planned_s: settings.length.as_secs_f64(),
        watched_s: if dry { settings.length.as_secs_f64() } else { this_attempt.elapsed().as_secs_f64() },
        complete: !matches!(stopped.as_str(), "operator" | "action") && !stopped.contains("its end had passed"),
        stopped: stopped.clone(),
        evaluations,
        alerts,
        unresolved: rules
            .iter()
            .filter(|r| r.level == Level::Crit || r.silence_alerted)
            .map(|r| r.name.clone())
            .collect(),
    };
    let check = verdict(&rules, record, controller.rests_on_assumed_reads());
    if check.watch.as_ref().is_some_and(|w| !w.unresolved.is_empty()) {
        controller.output(&format!("watch: alerts left open at the end: {}", check.actual));
    }
    controller.record_verdict(check)?;
    let mut summary = Map::new();
    summary.insert("evaluations".into(), (evaluations as i64).into());
    summary.insert("transitions".into(), transitions.into());
    summary.insert("stopped".into(), stopped.into());
    let states: Map = rules.iter().map(|r| (r.name.clone().into(), r.level.name().into())).collect();
    summary.insert("states".into(), states.into());
    Ok(summary)
}

/// What an action is called with: the rule's change, as the script sees it.
fn event(rule: &Rule, from: Level, shown: &str, at: &str) -> Map {
    let mut event = Map::new();
    event.insert("rule".into(), rule.name.clone().into());
    event.insert("from".into(), from.name().into());
    event.insert("to".into(), rule.level.name().into());
    event.insert("value".into(), rule.value.into());
    event.insert("unit".into(), rule.unit.clone().into());
    event.insert("note".into(), rule.note.clone().into());
    event.insert("shown".into(), shown.into());
    event.insert("advice".into(), rule.advice.clone().into());
    event.insert("at".into(), at.into());
    event
}

/// Calls the first of the rule's `keys` it has, else the watch's `on_change`. True when the action asked the
/// watch to stop (it returned "stop", or the operator pressed Ctrl-C in it).
fn act(
    ctx: &NativeCallContext,
    rule: &Rule,
    settings: &Settings,
    keys: &[String],
    event: Map,
    stopped: &mut String,
) -> Result<bool, Box<EvalAltResult>> {
    let chosen = keys.iter().find_map(|k| rule.actions.get(k.as_str()).map(|f| (k.as_str(), f.clone())));
    let (key, action) = match chosen {
        Some((key, f)) => (key, f.try_cast::<FnPtr>()),
        None => ("on_change", settings.on_change.clone()),
    };
    let Some(action) = action else { return Ok(false) };
    match action.call_within_context::<Dynamic>(ctx, (Dynamic::from_map(event),)) {
        Err(e) if wrong_arity(&e, &action) => Err(runtime(
            format!(
                "metrics::watch: rule \"{}\": `{key}` is called with one argument, the event: write it as |e| {{ ... }} \
                 (e.rule, e.from, e.to, e.value, e.shown, e.at)",
                rule.name
            ),
            ctx.call_position(),
        )),
        Ok(v) => Ok(v.clone().into_string().ok().as_deref() == Some("stop")),
        Err(e) if is_interrupt(&e) => {
            *stopped = "operator".into();
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// The watch's verdict: red when a rule ended critical, or silent past `nodata_alert`; its record is the
/// evidence later runbooks read.
fn verdict(rules: &[Rule], record: WatchRecord, unknown: bool) -> CheckRecord {
    let open: Vec<String> = rules
        .iter()
        .filter(|r| r.level == Level::Crit || r.silence_alerted)
        .map(|r| match r.level {
            Level::Crit => format!("{}: crit ({}) at the end", r.name, shown(r.value, &r.unit)),
            _ => format!("{}: no data for longer than its nodata_alert at the end", r.name),
        })
        .collect();
    let actual = match (open.is_empty(), record.alerts.len()) {
        (true, 0) => format!("no alert in {} evaluations", record.evaluations),
        (true, n) => format!("{n} alert(s), every one resolved by the end"),
        (false, _) => open.join("; "),
    };
    let name = format!("{}: no alert left open", record.name);
    let target = "every rule below critical, and reporting, at the end".to_string();
    // Unknown is not a pass: like a check on assumed reads, it counts as not passed until a read answers it.
    CheckRecord { unknown, watch: Some(record), ..CheckRecord::new(&name, open.is_empty() && !unknown, actual, target) }
}

pub fn register(module: &mut Module, reg: &mut Registrar, host: &Rc<Host>) {
    let h = Rc::clone(host);
    reg.in_module(
        module,
        "metrics",
        Sig {
            name: "watch",
            params: &["options: map"],
            returns: "map",
            doc: "Evaluates rules every interval: #{ every, for, rules: [#{ name, query | value, warn, crit, unit, advice, timeout, on_warn, on_crit, on_ok, on_nodata }], on_change, timeout, replay: #{ from, to, step } }. Acts once per transition; an action returning \"stop\" or Ctrl-C ends it. Gives #{ evaluations, transitions, stopped, states }.",
            effectful: true,
        },
        move |ctx: NativeCallContext, options: Map| watch(&h, &ctx, options),
    );
}

/// The script's closure was called with another number of arguments than it takes: Rhai names only its
/// internal `anon$...` function, so the rule and the option are named instead.
fn wrong_arity(err: &EvalAltResult, f: &FnPtr) -> bool {
    matches!(err, EvalAltResult::ErrorFunctionNotFound(signature, _) if signature.starts_with(f.fn_name()))
}

#[cfg(test)]
mod tests {
    use super::Level;

    #[test]
    fn levels_follow_the_runbooks_thresholds() {
        assert_eq!(Level::of(0.5, 1.0, 5.0), Level::Ok);
        assert_eq!(Level::of(1.0, 1.0, 5.0), Level::Ok);
        assert_eq!(Level::of(1.5, 1.0, 5.0), Level::Warn);
        assert_eq!(Level::of(7.0, 1.0, 5.0), Level::Crit);
        assert_eq!(Level::of(f64::NAN, 1.0, 5.0), Level::NoData);
        assert_eq!(Level::of(f64::INFINITY, 1.0, 5.0), Level::Crit);
    }
}
