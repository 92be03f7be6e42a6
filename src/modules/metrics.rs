//! `metrics::*`: PromQL against the Prometheus named in golive.toml (`[vars.prometheus] url`), host usage
//! over ssh for hosts without Prometheus, and `metrics::watch` (src/modules/watch.rs).

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, Module, NativeCallContext, Position};
use serde_json::Value;

use super::core::TargetHandle;
use super::exec::decode;
use super::{Registrar, Sig};
use crate::effects::http::{HttpRequest, HttpResponse};
use crate::effects::{Access, Command, Effect, Exec, Outcome};
use crate::modules::Host;
use crate::script_error::runtime;

/// One series of a Prometheus answer: its labels and its (time, value) samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub metric: BTreeMap<String, String>,
    pub samples: Vec<(f64, f64)>,
}

/// Prometheus writes values as strings, "NaN" and "+Inf" included.
pub fn number(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

fn sample(pair: &Value) -> Option<(f64, f64)> {
    let t = pair.get(0)?.as_f64()?;
    let v = number(pair.get(1)?.as_str()?)?;
    Some((t, v))
}

/// The series of an API answer (vector, matrix or scalar), or Prometheus's own error text.
pub fn parse(status: u16, body: &str) -> Result<Vec<Series>, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| {
        format!("Prometheus answered {status} with a body that is not JSON ({e}): {}", super::http::excerpt(body))
    })?;
    if value["status"] != "success" {
        let kind = value["errorType"].as_str().unwrap_or("error");
        let text = value["error"].as_str().unwrap_or("no error text");
        return Err(format!("Prometheus answered {status}: {kind}: {text}"));
    }
    let data = &value["data"];
    let labels = |m: &Value| -> BTreeMap<String, String> {
        m.as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
            .unwrap_or_default()
    };
    match data["resultType"].as_str() {
        Some("vector") => Ok(data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| Series { metric: labels(&r["metric"]), samples: sample(&r["value"]).into_iter().collect() })
            .collect()),
        Some("matrix") => Ok(data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| Series {
                metric: labels(&r["metric"]),
                samples: r["values"].as_array().into_iter().flatten().filter_map(sample).collect(),
            })
            .collect()),
        Some("scalar") => {
            Ok(vec![Series { metric: BTreeMap::new(), samples: sample(&data["result"]).into_iter().collect() }])
        }
        other => Err(format!("Prometheus answered a result type golive does not read: {other:?}")),
    }
}

/// The Prometheus base URL from golive.toml.
pub fn base_url(host: &Host, pos: Position) -> Result<String, Box<EvalAltResult>> {
    Ok(host.require_text("prometheus.url", pos)?.trim_end_matches('/').to_string())
}

/// The GET of an instant query (`at`: unix seconds, or now).
pub fn instant_request(base: &str, promql: &str, at: Option<f64>, timeout: Duration) -> HttpRequest {
    let mut request = HttpRequest::new("GET", &format!("{base}/api/v1/query"));
    request.query.push(("query".into(), promql.into()));
    if let Some(at) = at {
        request.query.push(("time".into(), format!("{at}")));
    }
    request.timeout = Some(timeout);
    request
}

pub fn answer(outcome: Outcome) -> Result<Vec<Series>, String> {
    match outcome {
        Outcome::Http(HttpResponse { assumed: true, .. }) => Ok(Vec::new()),
        Outcome::Http(HttpResponse { status, body, .. }) => parse(status, &body),
        _ => Err("no HTTP answer from Prometheus".into()),
    }
}

fn series_map(series: Series, instant: bool) -> Map {
    let mut m = Map::new();
    let labels: Map = series.metric.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    m.insert("metric".into(), labels.into());
    if instant {
        let (t, v) = series.samples.first().copied().unwrap_or((0.0, f64::NAN));
        m.insert("value".into(), v.into());
        m.insert("at".into(), t.into());
    } else {
        let values: Array =
            series.samples.into_iter().map(|(t, v)| Dynamic::from_array(vec![t.into(), v.into()])).collect();
        m.insert("values".into(), values.into());
    }
    m
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryOptions {
    at: Option<f64>,
    timeout: Option<String>,
}

fn query(host: &Host, ctx: &NativeCallContext, promql: &str, options: Map) -> Result<Array, Box<EvalAltResult>> {
    let pos = ctx.call_position();
    let options: QueryOptions = decode(Dynamic::from_map(options), "`metrics::query`", pos)?;
    let timeout = options.timeout.map(|t| crate::duration::parse(&t)).transpose().map_err(|e| runtime(e, pos))?;
    let request =
        instant_request(&base_url(host, pos)?, promql, options.at, timeout.unwrap_or(Duration::from_secs(10)));
    let outcome = host.controller.perform(Effect::Http(request), "metrics::query", pos)?;
    let series = answer(outcome).map_err(|e| runtime(e, pos))?;
    Ok(series.into_iter().map(|s| Dynamic::from_map(series_map(s, true))).collect())
}

fn range(
    host: &Host,
    ctx: &NativeCallContext,
    promql: &str,
    start: f64,
    end: f64,
    step: &str,
) -> Result<Array, Box<EvalAltResult>> {
    let pos = ctx.call_position();
    let step = crate::duration::parse(step).map_err(|e| runtime(e, pos))?;
    let mut request = HttpRequest::new("GET", &format!("{}/api/v1/query_range", base_url(host, pos)?));
    request.query = vec![
        ("query".into(), promql.into()),
        ("start".into(), format!("{start}")),
        ("end".into(), format!("{end}")),
        ("step".into(), format!("{}s", step.as_secs_f64())),
    ];
    request.timeout = Some(Duration::from_secs(30));
    let outcome = host.controller.perform(Effect::Http(request), "metrics::range", pos)?;
    let series = answer(outcome).map_err(|e| runtime(e, pos))?;
    Ok(series.into_iter().map(|s| Dynamic::from_map(series_map(s, false))).collect())
}

/// CPU over one second from /proc/stat, memory from /proc/meminfo, disk of / from df: one read-only command.
const HOST_COMMAND: &str = "head -1 /proc/stat; sleep 1; head -1 /proc/stat; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo; df -P / | tail -1";

/// (cpu %, memory %, disk %) from HOST_COMMAND's output.
fn host_usage(text: &str) -> Result<(f64, f64, f64), String> {
    let lines: Vec<&str> = text.lines().collect();
    let bad = || format!("unexpected output from the host reading: {}", super::http::excerpt(text));
    let cpu = |line: &str| -> Option<(f64, f64)> {
        let n: Vec<f64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
        let idle = n.get(3)? + n.get(4).unwrap_or(&0.0);
        Some((n.iter().sum(), idle))
    };
    let (t0, i0) = cpu(lines.first().ok_or_else(bad)?).ok_or_else(bad)?;
    let (t1, i1) = cpu(lines.get(1).ok_or_else(bad)?).ok_or_else(bad)?;
    let busy = if t1 > t0 { 100.0 * (1.0 - (i1 - i0) / (t1 - t0)) } else { 0.0 };
    let kb = |name: &str| -> Option<f64> {
        lines.iter().find(|l| l.starts_with(name))?.split_whitespace().nth(1)?.parse().ok()
    };
    let (total, available) = (kb("MemTotal:").ok_or_else(bad)?, kb("MemAvailable:").ok_or_else(bad)?);
    let disk = lines
        .last()
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|p| p.trim_end_matches('%').parse::<f64>().ok())
        .ok_or_else(bad)?;
    let round = |v: f64| (v * 10.0).round() / 10.0;
    Ok((round(busy.clamp(0.0, 100.0)), round(100.0 * (1.0 - available / total)), disk))
}

/// What a plan assumes `HOST_COMMAND` prints when nothing answers it: an idle host.
const ASSUMED_HOST: &str = "cpu  0 0 0 100 0 0 0 0 0 0\ncpu  0 0 0 200 0 0 0 0 0 0\nMemTotal: 1000 kB\nMemAvailable: 1000 kB\n/dev/root 100 0 100 0% /\n";

fn host_reading(host: &Host, ctx: &NativeCallContext, target: &TargetHandle) -> Result<Map, Box<EvalAltResult>> {
    let pos = ctx.call_position();
    let exec = Exec {
        target: target.name.clone(),
        command: Command::Shell(HOST_COMMAND.into()),
        dir: None,
        access: Access::Read,
        // A plan with no answer reads an idle host (0 % CPU, memory and disk); checks on it stay UNKNOWN.
        assumed: Some(ASSUMED_HOST.into()),
        stdin: None,
        stream: None,
    };
    let outcome = host.controller.perform(Effect::Exec(exec), "metrics::host", pos)?;
    let Outcome::Exec(out) = outcome else {
        return Err(runtime("metrics::host got no command output".to_string(), pos));
    };
    let mut map = Map::new();
    if out.code != 0 {
        return Err(runtime(
            format!("metrics::host on {}: exit {}: {}", target.name, out.code, out.stderr.trim()),
            pos,
        ));
    }
    let (cpu, mem, disk) = host_usage(&out.stdout).map_err(|e| runtime(e, pos))?;
    map.insert("cpu_pct".into(), cpu.into());
    map.insert("mem_pct".into(), mem.into());
    map.insert("disk_pct".into(), disk.into());
    Ok(map)
}

pub fn register(engine: &mut Engine, reg: &mut Registrar, host: &Rc<Host>) {
    let mut m = Module::new();
    let h = Rc::clone(host);
    reg.in_module_with_options(
        &mut m,
        "metrics",
        Sig {
            name: "query",
            params: &["promql: string"],
            returns: "array",
            doc: "An instant PromQL query: [#{ metric, value, at }] (values may be NaN or infinite). Options: at (unix seconds; default now), timeout.",
            effectful: true,
        },
        move |ctx: NativeCallContext, promql: ImmutableString, options: Map| query(&h, &ctx, &promql, options),
    );
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "metrics",
        Sig {
            name: "range",
            params: &["promql: string", "start: float", "end: float", "step: string"],
            returns: "array",
            doc: "A range query: [#{ metric, values: [[t, v], ...] }].",
            effectful: true,
        },
        move |ctx: NativeCallContext, promql: &str, start: f64, end: f64, step: &str| {
            range(&h, &ctx, promql, start, end, step)
        },
    );
    let h = Rc::clone(host);
    reg.in_module(
        &mut m,
        "metrics",
        Sig {
            name: "range",
            params: &["promql: string", "start: int", "end: int", "step: string"],
            returns: "array",
            doc: "A range query between unix seconds.",
            effectful: true,
        },
        move |ctx: NativeCallContext, promql: &str, start: i64, end: i64, step: &str| {
            range(&h, &ctx, promql, start as f64, end as f64, step)
        },
    );
    let h = Rc::clone(host);
    reg.in_module(&mut m, "metrics", Sig { name: "host", params: &["target: Target"], returns: "map",
        doc: "CPU (over one second), memory and disk of / in percent, read over ssh from /proc and df: #{ cpu_pct, mem_pct, disk_pct }.", effectful: true },
        move |ctx: NativeCallContext, target: TargetHandle| host_reading(&h, &ctx, &target));
    super::watch::register(&mut m, reg, host);
    engine.register_static_module("metrics", m.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_values_include_nan_and_infinities() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"job":"a"},"value":[1.5,"NaN"]},{"metric":{"job":"b"},"value":[1.5,"+Inf"]},
            {"metric":{"job":"c"},"value":[1.5,"-Inf"]},{"metric":{"job":"d"},"value":[1.5,"0.25"]}]}}"#;
        let series = parse(200, body).unwrap();
        assert!(series[0].samples[0].1.is_nan());
        assert_eq!(series[1].samples[0].1, f64::INFINITY);
        assert_eq!(series[2].samples[0].1, f64::NEG_INFINITY);
        assert_eq!(series[3].samples[0], (1.5, 0.25));
        assert_eq!(series[3].metric["job"], "d");
        let error = parse(400, r#"{"status":"error","errorType":"bad_data","error":"1:9: parse error"}"#).unwrap_err();
        assert_eq!(error, "Prometheus answered 400: bad_data: 1:9: parse error");
    }

    #[test]
    fn host_usage_reads_proc_and_df() {
        let text = "cpu  100 0 100 800 0 0 0 0 0 0\ncpu  150 0 150 850 0 0 0 0 0 0\nMemTotal:       1000 kB\nMemAvailable:    250 kB\n/dev/sda1  100 43 57  43% /\n";
        assert_eq!(host_usage(text).unwrap(), (66.7, 75.0, 43.0));
        assert!(host_usage("nonsense").is_err());
    }
}
