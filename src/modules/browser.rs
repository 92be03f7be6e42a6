//! `browser::vitals` and `browser::flow`: what a real browser sees of a page (section 4.3's LCP, INP and
//! CLS, with FCP and TTFB) and the smoke tests a person would click through.

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, Module, NativeCallContext, Position};
use serde::Deserialize;

use super::exec::decode;
use super::{Registrar, Sig};
use crate::effects::browser::{Action, BrowserOutcome, BrowserRequest, Sample, Task};
use crate::effects::{Access, Effect, Outcome};
use crate::modules::Host;
use crate::script_error::runtime;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VitalsOptions {
    /// Done after each load, as a person would: `#{ click: "#menu" }`, `#{ fill: "#q", text: "empleo" }`.
    #[serde(default)]
    interactions: Array,
    runs: Option<i64>,
    ca_file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowOptions {
    ca_file: Option<String>,
    /// The flow changes nothing (a login): plans may run it with --live-reads, resume may repeat it.
    #[serde(default)]
    read_only: bool,
}

/// One action map: exactly one of visit, fill (with text), click, wait_for, screenshot.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionMap {
    /// `goto` is a reserved word in Rhai: `visit`, or `"goto"` quoted.
    #[serde(alias = "goto")]
    visit: Option<String>,
    fill: Option<String>,
    text: Option<String>,
    click: Option<String>,
    wait_for: Option<String>,
    /// How long `wait_for` waits (10 s unless given).
    within: Option<String>,
    screenshot: Option<String>,
}

fn actions(list: Array, what: &str, pos: Position) -> Result<Vec<Action>, Box<EvalAltResult>> {
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.into_iter().enumerate() {
        let at = format!("{what} {}", i + 1);
        let map: ActionMap = decode(item, &at, pos)?;
        let kinds = [&map.visit, &map.fill, &map.click, &map.wait_for, &map.screenshot];
        let misplaced = (map.text.is_some() && map.fill.is_none()) || (map.within.is_some() && map.wait_for.is_none());
        if kinds.iter().filter(|k| k.is_some()).count() != 1 || misplaced || (map.fill.is_some() && map.text.is_none())
        {
            return Err(runtime(
                format!(
                    "{at}: give one of #{{ visit: url }}, #{{ fill: selector, text: ... }}, #{{ click: selector }}, \
                     #{{ wait_for: selector, within: \"10s\" }}, #{{ screenshot: path }}"
                ),
                pos,
            ));
        }
        let action = if let Some(url) = map.visit {
            url::Url::parse(&url).map_err(|e| runtime(format!("{at}: `{url}` is not a URL: {e}"), pos))?;
            Action::Visit(url)
        } else if let (Some(selector), Some(text)) = (map.fill, map.text) {
            Action::Fill { selector, text }
        } else if let Some(selector) = map.click {
            Action::Click(selector)
        } else if let Some(selector) = map.wait_for {
            let wait = match map.within {
                Some(text) => crate::duration::parse(&text).map_err(|e| runtime(format!("{at}: {e}"), pos))?,
                None => crate::effects::browser::ELEMENT_WAIT,
            };
            Action::WaitFor(selector, wait)
        } else {
            Action::Screenshot(map.screenshot.unwrap_or_default())
        };
        out.push(action);
    }
    Ok(out)
}

fn number(value: Option<f64>) -> Dynamic {
    value.map(Dynamic::from_float).unwrap_or(Dynamic::UNIT)
}

fn sample_map(sample: &Sample) -> Map {
    let mut m = Map::new();
    m.insert("status".into(), sample.status.map(|s| Dynamic::from_int(s.into())).unwrap_or(Dynamic::UNIT));
    m.insert("lcp_ms".into(), number(sample.lcp_ms));
    m.insert("cls".into(), number(sample.cls));
    m.insert("inp_ms".into(), number(sample.inp_ms));
    m.insert("fid_ms".into(), number(sample.fid_ms));
    m.insert("fcp_ms".into(), number(sample.fcp_ms));
    m.insert("ttfb_ms".into(), number(sample.ttfb_ms));
    m.insert("load_ms".into(), number(sample.load_ms));
    m
}

fn vitals(host: &Host, ctx: &NativeCallContext, url: &str, options: Map) -> Result<Map, Box<EvalAltResult>> {
    let pos = ctx.call_position();
    let options: VitalsOptions = decode(Dynamic::from_map(options), "`browser::vitals`", pos)?;
    let parsed = url::Url::parse(url).map_err(|e| runtime(format!("`{url}` is not a URL: {e}"), pos))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(runtime(format!("`{url}` is not an http:// or https:// URL"), pos));
    }
    let runs = options.runs.unwrap_or(5);
    if !(1..=50).contains(&runs) {
        return Err(runtime(format!("runs must be between 1 and 50, not {runs}"), pos));
    }
    let interactions = actions(options.interactions, "interaction", pos)?;
    if let Some(goto) = interactions.iter().find(|a| matches!(a, Action::Visit(_) | Action::Screenshot(_))) {
        return Err(runtime(
            format!(
                "interactions click, fill or wait_for on the measured page; `{}` belongs in browser::flow",
                goto.describe()
            ),
            pos,
        ));
    }
    let request = BrowserRequest {
        task: Task::Vitals { url: url.to_string(), interactions, runs: runs as u32 },
        ca_file: options.ca_file.filter(|f| !f.is_empty()),
        access: Access::Read,
    };
    match host.controller.perform(Effect::Browser(request), "browser::vitals", pos)? {
        Outcome::Browser(BrowserOutcome::Vitals(report)) => {
            let mut m = sample_map(&report.median);
            m.insert("url".into(), report.url.into());
            m.insert("error".into(), report.error.into());
            m.insert("runs".into(), Dynamic::from_int(report.samples.len() as i64));
            let samples: Array = report.samples.iter().map(|s| Dynamic::from_map(sample_map(s))).collect();
            m.insert("samples".into(), samples.into());
            Ok(m)
        }
        _ => Err(runtime("browser::vitals got no measurement".to_string(), pos)),
    }
}

fn flow(host: &Host, ctx: &NativeCallContext, steps: Array, options: Map) -> Result<Map, Box<EvalAltResult>> {
    let pos = ctx.call_position();
    let options: FlowOptions = decode(Dynamic::from_map(options), "`browser::flow`", pos)?;
    let actions = actions(steps, "action", pos)?;
    if !matches!(actions.first(), Some(Action::Visit(_))) {
        return Err(runtime("a flow starts with #{ visit: url }".to_string(), pos));
    }
    let request = BrowserRequest {
        task: Task::Flow { actions },
        ca_file: options.ca_file.filter(|f| !f.is_empty()),
        access: if options.read_only { Access::Read } else { Access::Write },
    };
    match host.controller.perform(Effect::Browser(request), "browser::flow", pos)? {
        Outcome::Browser(BrowserOutcome::Flow(report)) => {
            let mut m = Map::new();
            m.insert("ok".into(), report.ok.into());
            m.insert("url".into(), report.url.into());
            m.insert("title".into(), report.title.into());
            m.insert("error".into(), report.error.into());
            let done: Array = report.done.into_iter().map(Dynamic::from).collect();
            m.insert("done".into(), done.into());
            let shots: Array = report.screenshots.into_iter().map(Dynamic::from).collect();
            m.insert("screenshots".into(), shots.into());
            Ok(m)
        }
        _ => Err(runtime("browser::flow got no result".to_string(), pos)),
    }
}

pub fn register(engine: &mut Engine, reg: &mut Registrar, host: &Rc<Host>) {
    let mut m = Module::new();
    const VITALS: &str = "A page's Core Web Vitals as headless Chromium measures them: loaded `runs` (5) times, \
        each in a fresh context with the cache off, doing the `interactions` after each load (#{ click: selector }, \
        #{ fill: selector, text }, #{ wait_for: selector }); ca_file trusts a CA besides the system's. Returns the \
        medians #{ lcp_ms, cls, inp_ms, fid_ms, fcp_ms, ttfb_ms, load_ms, status, runs, samples, error }; a vital no run observed is () \
        (INP needs an interaction); an interaction the page does not allow stops the runs and says why in error.";
    let h = Rc::clone(host);
    reg.in_module_with_options(
        &mut m,
        "browser",
        Sig { name: "vitals", params: &["url: string"], returns: "map", doc: VITALS, effectful: true },
        move |ctx: NativeCallContext, url: ImmutableString, options: Map| vitals(&h, &ctx, &url, options),
    );
    const FLOW: &str = "Walks one page through the actions, as a person would: #{ visit: url } first, then \
        #{ fill: selector, text } (never shown or journaled), #{ click: selector }, #{ wait_for: selector, within } (10 s unless within says), \
        #{ screenshot: path } (a PNG kept as evidence). Stops at the first action that fails, and at once on a page \
        the server answered 4xx/5xx. Options: ca_file, read_only. Returns #{ ok, url, title, error, done, screenshots }.";
    let h = Rc::clone(host);
    reg.in_module_with_options(
        &mut m,
        "browser",
        Sig { name: "flow", params: &["actions: array"], returns: "map", doc: FLOW, effectful: true },
        move |ctx: NativeCallContext, steps: Array, options: Map| flow(&h, &ctx, steps, options),
    );
    engine.register_static_module("browser", m.into());
}
