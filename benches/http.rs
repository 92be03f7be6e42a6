//! http figures: `cargo bench --bench http` (needs nginx and wrk from Debian's packages, python3).
//!
//! - `http::probe` against a local nginx, 10,000 requests at concurrency 32, against `wrk` with the same
//!   connections for the same duration, in the same run: throughput ratio (target >= 0.7x) and p95 ratio
//!   (target within 20 %). Both count a request's latency from send to the end of its answer.
//! - ten smoke requests sent at once through the World (`http::all`): wall time against the slowest of
//!   them sent alone (target < 1.5x).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use golive::config::Config;
use golive::effects::http::HttpRequest;
use golive::effects::live::LiveWorld;
use golive::effects::probe::ProbeRequest;
use golive::effects::{Budget, Effect, Outcome, World};
use golive::secrets::Redactor;
use golive::terminal::Terminal;

const REQUESTS: usize = 10_000;
const CONCURRENCY: usize = 32;
const RUNS: usize = 5;

struct Stop(Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_nginx(dir: &Path, port: u16) -> Stop {
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("www/index.html"), "<html><title>Jaraba Impact Platform</title><h1>ok</h1></html>\n")
        .unwrap();
    let d = dir.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\nerror_log {d}/error.log;\npid {d}/nginx.pid;\nevents {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  keepalive_requests 100000;\n  \
         server {{ listen 127.0.0.1:{port}; root {d}/www; location / {{ }} }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new("nginx")
        .args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf")])
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nginx runs (apt-get install nginx-light)");
    wait_for(port);
    Stop(child)
}

fn wait_for(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}

/// wrk's totals for `seconds` at CONCURRENCY connections: (requests per second, p95 ms).
fn wrk(url: &str, seconds: u64, dir: &Path) -> (f64, f64) {
    let script = dir.join("p95.lua");
    std::fs::write(
        &script,
        "done = function(summary, latency, requests)\n  io.write(string.format(\"GOLIVE %d %d %d\\n\", summary.requests, summary.duration, latency:percentile(95)))\nend\n",
    )
    .unwrap();
    let out = Command::new("wrk")
        .args([
            &format!("-t{}", std::env::var("GOLIVE_BENCH_WRK_THREADS").unwrap_or_else(|_| "2".into())),
            &format!("-c{CONCURRENCY}"),
            &format!("-d{seconds}s"),
            "-s",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("GOLIVE ")).unwrap_or_else(|| panic!("wrk said:\n{text}"));
    let n: Vec<f64> = line.split_whitespace().skip(1).map(|v| v.parse().unwrap()).collect();
    (n[0] / (n[1] / 1e6), n[2] / 1000.0)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = Arc::new(Config::load(&repo.join("golive.toml")).unwrap());
    let workers = std::env::var("GOLIVE_BENCH_WORKERS").ok().and_then(|w| w.parse().ok()).unwrap_or(2);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build().unwrap();
    let terminal = Arc::new(Terminal::new(Redactor::new(), true));
    let world = LiveWorld::new(runtime.handle().clone(), config, terminal);
    let budget = Budget::new(Some(Duration::from_secs(600)), Default::default());

    let port = free_port();
    let _nginx = start_nginx(dir.path(), port);
    let url = format!("http://127.0.0.1:{port}/");
    println!("http::probe vs wrk: {REQUESTS} requests, {CONCURRENCY} connections, nginx on 127.0.0.1 ({RUNS} runs)");
    println!(
        "{:>4} {:>12} {:>12} {:>7} {:>10} {:>10} {:>7}",
        "run", "probe req/s", "wrk req/s", "ratio", "probe p95", "wrk p95", "ratio"
    );
    let (mut through, mut tails) = (Vec::new(), Vec::new());
    // Both tools start warm: nginx has answered, the CPU caches hold it.
    wrk(&url, 1, dir.path());
    for run in 1..=RUNS {
        let probe = Effect::Probe(ProbeRequest {
            url: url.clone(),
            requests: REQUESTS,
            concurrency: CONCURRENCY,
            rate: None,
            timeout: Duration::from_secs(300),
            ca_file: None,
        });
        let Ok((Outcome::Probe(report), _)) = world.perform(&probe, &budget) else { panic!("the probe failed") };
        assert_eq!(report.errors, 0, "{}", report.first_error);
        let seconds = (report.duration_ms / 1000.0).ceil().max(1.0) as u64;
        let (wrk_rps, wrk_p95) = wrk(&url, seconds, dir.path());
        let (t, p) = (report.throughput_rps / wrk_rps, report.p95_ms / wrk_p95);
        through.push(t);
        tails.push(p);
        println!(
            "{run:>4} {:>12.0} {:>12.0} {:>6.2}x {:>8.2}ms {:>8.2}ms {:>6.2}x",
            report.throughput_rps, wrk_rps, t, report.p95_ms, wrk_p95, p
        );
    }
    through.sort_by(f64::total_cmp);
    tails.sort_by(f64::total_cmp);
    println!(
        "median: throughput {:.2}x of wrk (target >= 0.70x), p95 {:.2}x of wrk (target 0.80x-1.20x)\n",
        through[RUNS / 2],
        tails[RUNS / 2]
    );

    // Ten smoke requests: each alone, then all at once.
    let mut doubles = Command::new("python3")
        .arg(repo.join("tests/servers/doubles.py"))
        .args(["--site-http", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    let stdout = doubles.stdout.take().unwrap();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).ok();
    let _site = Stop(doubles);
    let site: serde_json::Value = serde_json::from_str(&line).unwrap();
    let base = format!("http://127.0.0.1:{}", site["site_http"]);
    let delays = [50, 80, 120, 150, 200, 220, 250, 280, 300, 400];
    let requests: Vec<Effect> =
        delays.iter().map(|ms| Effect::Http(HttpRequest::new("GET", &format!("{base}/slow?ms={ms}")))).collect();
    let mut slowest = Duration::ZERO;
    for request in &requests {
        let started = Instant::now();
        world.perform(request, &budget).unwrap();
        slowest = slowest.max(started.elapsed());
    }
    let mut walls = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let results = world.perform_all(&requests, &budget);
        walls.push(started.elapsed());
        assert!(results.iter().all(|r| r.is_ok()));
    }
    walls.sort();
    let wall = walls[2];
    println!(
        "ten smoke requests at once (http::all): {:.0} ms wall, slowest alone {:.0} ms: {:.2}x (target < 1.5x)",
        wall.as_secs_f64() * 1000.0,
        slowest.as_secs_f64() * 1000.0,
        wall.as_secs_f64() / slowest.as_secs_f64()
    );
}
