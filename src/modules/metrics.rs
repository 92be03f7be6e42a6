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

/// How long `metrics::host` samples, unless told: table 8.1's levels are about sustained load, so one
/// instant (another tenant's compile, a cron job) must not decide a verdict.
const DEFAULT_HOST_WINDOW: Duration = Duration::from_secs(30);

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HostOptions {
    /// How long to sample ("30s").
    window: Option<String>,
    /// Between samples (a tenth of the window, at least 1 s).
    every: Option<String>,
}

/// CPU and memory sampled every `every` over `window` from /proc, disk of / from df: one read-only command.
fn host_command(samples: u32, every: Duration) -> String {
    format!(
        "i=0; while :; do head -1 /proc/stat; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo; \
         [ $i -ge {samples} ] && break; i=$((i+1)); sleep {}; done; df -P / | tail -1",
        every.as_secs_f64()
    )
}

/// What the host reading measured: CPU and memory as means over its window (and CPU's busiest interval),
/// disk now.
#[derive(Debug, PartialEq)]
struct HostUsage {
    cpu: f64,
    cpu_max: f64,
    mem: f64,
    disk: f64,
    /// /proc/stat readings taken: one more than the intervals measured.
    samples: usize,
}

/// Reads `host_command`'s output (any number of /proc/stat and /proc/meminfo readings, then df).
fn host_usage(text: &str) -> Result<HostUsage, String> {
    let lines: Vec<&str> = text.lines().collect();
    let bad = || format!("unexpected output from the host reading: {}", super::http::excerpt(text));
    let cpu = |line: &&str| -> Option<(f64, f64)> {
        let n: Vec<f64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
        let idle = n.get(3)? + n.get(4).unwrap_or(&0.0);
        Some((n.iter().sum(), idle))
    };
    let readings: Vec<(f64, f64)> =
        lines.iter().filter(|l| l.starts_with("cpu ")).map(cpu).collect::<Option<_>>().ok_or_else(bad)?;
    if readings.len() < 2 {
        return Err(bad());
    }
    // Counters that did not move over the window measured nothing: not an idle host (a reading of zeros
    // would otherwise pass every threshold).
    let (first, last) = (readings[0], readings[readings.len() - 1]);
    if last.0 <= first.0 {
        return Err(format!("the CPU counters did not move over the window: not a reading ({})", bad()));
    }
    let busy = |(t0, i0): (f64, f64), (t1, i1): (f64, f64)| {
        if t1 > t0 { (100.0 * (1.0 - (i1 - i0) / (t1 - t0))).clamp(0.0, 100.0) } else { 0.0 }
    };
    // The mean over the window is the first reading against the last; the busiest interval is said too.
    let cpu_mean = busy(readings[0], readings[readings.len() - 1]);
    let cpu_max = readings.windows(2).map(|w| busy(w[0], w[1])).fold(0.0, f64::max);
    let kb = |name: &str| -> Vec<f64> {
        lines.iter().filter(|l| l.starts_with(name)).filter_map(|l| l.split_whitespace().nth(1)?.parse().ok()).collect()
    };
    let (total, available) = (kb("MemTotal:"), kb("MemAvailable:"));
    if total.is_empty() || total.len() != available.len() || total.iter().any(|t| *t <= 0.0) {
        return Err(bad());
    }
    let used: Vec<f64> = total.iter().zip(&available).map(|(t, a)| 100.0 * (1.0 - a / t)).collect();
    let mem = used.iter().sum::<f64>() / used.len() as f64;
    let disk = lines
        .last()
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|p| p.trim_end_matches('%').parse::<f64>().ok())
        .ok_or_else(bad)?;
    let round = |v: f64| (v * 10.0).round() / 10.0;
    Ok(HostUsage { cpu: round(cpu_mean), cpu_max: round(cpu_max), mem: round(mem), disk, samples: readings.len() })
}

/// What a plan assumes the host reading prints when nothing answers it: an idle host, sampled as asked.
fn assumed_host(samples: u32) -> String {
    let readings: String = (0..=samples)
        .map(|i| format!("cpu  0 0 0 {} 0 0 0 0 0 0\nMemTotal: 1000 kB\nMemAvailable: 1000 kB\n", 100 * (i + 1)))
        .collect();
    readings + "/dev/root 100 0 100 0% /\n"
}

fn host_reading(
    host: &Host,
    ctx: &NativeCallContext,
    target: &TargetHandle,
    options: Map,
) -> Result<Map, Box<EvalAltResult>> {
    let pos = ctx.call_position();
    let options: HostOptions = decode(Dynamic::from_map(options), "`metrics::host`", pos)?;
    let parse = |text: &Option<String>, what: &str| {
        text.as_deref()
            .map(crate::duration::parse)
            .transpose()
            .map_err(|e| runtime(format!("metrics::host `{what}`: {e}"), pos))
    };
    let window = parse(&options.window, "window")?.unwrap_or(DEFAULT_HOST_WINDOW);
    let every = parse(&options.every, "every")?.unwrap_or((window / 10).max(Duration::from_secs(1)));
    if every.is_zero() || every > window {
        return Err(runtime(
            format!(
                "metrics::host: `every` ({}) must be more than zero and at most the window ({})",
                crate::duration::short(every),
                crate::duration::short(window)
            ),
            pos,
        ));
    }
    let samples = (window.as_secs_f64() / every.as_secs_f64()).round().max(1.0) as u32;
    let exec = Exec {
        target: target.name.clone(),
        command: Command::Shell(host_command(samples, every)),
        dir: None,
        access: Access::Read,
        // A plan with no answer reads an idle host (0 % CPU, memory and disk); checks on it stay UNKNOWN.
        assumed: Some(assumed_host(samples)),
        stdin: None,
        stream: None,
    };
    let outcome = host.controller.perform(Effect::Exec(exec), "metrics::host", pos)?;
    let Outcome::Exec(out) = outcome else {
        return Err(runtime("metrics::host got no command output".to_string(), pos));
    };
    if out.code != 0 {
        return Err(runtime(
            format!("metrics::host on {}: exit {}: {}", target.name, out.code, out.stderr.trim()),
            pos,
        ));
    }
    let usage = host_usage(&out.stdout).map_err(|e| runtime(e, pos))?;
    let intervals = usage.samples - 1;
    let measured = format!(
        "CPU and memory means of {intervals} interval(s) of {} over {} (busiest CPU interval {}%), disk now",
        crate::duration::short(every),
        crate::duration::short(every * intervals as u32),
        usage.cpu_max
    );
    let mut map = Map::new();
    map.insert("cpu_pct".into(), usage.cpu.into());
    map.insert("cpu_max_pct".into(), usage.cpu_max.into());
    map.insert("mem_pct".into(), usage.mem.into());
    map.insert("disk_pct".into(), usage.disk.into());
    map.insert("measured".into(), measured.into());
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
    reg.in_module_with_options(&mut m, "metrics", Sig { name: "host", params: &["target: Target"], returns: "map",
        doc: "CPU and memory as means over a window, and disk of / now, in percent, read from /proc and df: #{ cpu_pct, cpu_max_pct (the busiest interval), mem_pct, disk_pct, measured (what was measured, in words) }. Options: window (\"30s\"), every (a tenth of the window, at least 1s).", effectful: true },
        move |ctx: NativeCallContext, target: TargetHandle, options: Map| host_reading(&h, &ctx, &target, options));
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
        let usage = HostUsage { cpu: 66.7, cpu_max: 66.7, mem: 75.0, disk: 43.0, samples: 2 };
        assert_eq!(host_usage(text).unwrap(), usage);
        assert!(host_usage("nonsense").is_err());
    }

    #[test]
    fn host_usage_is_the_mean_over_the_window_with_its_busiest_interval() {
        // Three intervals: a spike (100 % busy), then two idle ones; memory 50 %, then 70 %, 90 %, 90 %.
        let sample = |busy: u32, idle: u32, available: u32| {
            format!("cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\nMemTotal: 1000 kB\nMemAvailable: {available} kB\n")
        };
        let text = [sample(0, 0, 500), sample(100, 0, 300), sample(100, 100, 100), sample(100, 200, 100)].concat()
            + "/dev/sda1 100 43 57 43% /\n";
        let usage = host_usage(&text).unwrap();
        assert_eq!(usage, HostUsage { cpu: 33.3, cpu_max: 100.0, mem: 75.0, disk: 43.0, samples: 4 });
        // The plan's assumption reads as an idle host.
        let assumed = host_usage(&assumed_host(3)).unwrap();
        assert_eq!((assumed.cpu, assumed.samples), (0.0, 4));
        // A reading of zeros (counters that never moved, no memory) is no reading: an error, never a pass.
        let zeros = "cpu  0 0 0 0 0 0 0 0 0 0\nMemTotal: 0 kB\nMemAvailable: 0 kB\ncpu  0 0 0 0 0 0 0 0 0 0\nMemTotal: 0 kB\nMemAvailable: 0 kB\n/dev/sda1 0 0 0 0% /\n";
        assert!(host_usage(zeros).unwrap_err().contains("did not move"));
        let no_memory = text.replace("MemTotal: 1000 kB", "MemTotal: 0 kB");
        assert!(host_usage(&no_memory).is_err());
    }
}
