//! A real Prometheus (Debian's package) on a free loopback port, over deterministic data backfilled with
//! `promtool tsdb create-blocks-from openmetrics`, and an SMTP sink (aiosmtpd, Debian's python3-aiosmtpd).
//! Both stop when this test process ends.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

pub struct Prometheus {
    pub url: String,
    /// The first backfilled sample's time (unix seconds); samples every 60 s for 41 minutes.
    pub t0: i64,
    _child: Child,
    _dir: tempfile::TempDir,
}

/// The error-rate series, percent, one value a minute: ok for 10 minutes, warn for 10, crit for 10, ok again.
pub fn error_ratio(minute: i64) -> f64 {
    match minute {
        0..=9 => 0.5,
        10..=19 => 2.0,
        20..=29 => 7.0,
        _ => 0.3,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs `line` under sh so that it stops when our stdin pipe closes (the test process ended) or after 4 h.
pub fn watched(line: &str) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!("timeout 14400 {line} & p=$!; cat >/dev/null; kill $p"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh runs")
}

pub fn prometheus() -> &'static Prometheus {
    static PROM: OnceLock<Prometheus> = OnceLock::new();
    PROM.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let now = chrono::Utc::now().timestamp();
        let t0 = now - 3600 - now % 60;
        let mut om = String::from("# HELP golive_error_ratio test error rate in percent\n# TYPE golive_error_ratio gauge\n");
        for minute in 0..=40 {
            om.push_str(&format!("golive_error_ratio{{service=\"drupal\"}} {} {}\n", error_ratio(minute), t0 + minute * 60));
        }
        om.push_str("# HELP golive_special values Prometheus writes as words\n# TYPE golive_special gauge\n");
        for minute in 0..=40 {
            let t = t0 + minute * 60;
            om.push_str(&format!("golive_special{{kind=\"nan\"}} NaN {t}\ngolive_special{{kind=\"inf\"}} +Inf {t}\n"));
        }
        om.push_str("# EOF\n");
        let data = dir.path().join("data");
        std::fs::write(dir.path().join("backfill.om"), om).unwrap();
        let out = Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(dir.path().join("backfill.om"))
            .arg(&data)
            .output()
            .expect("promtool runs (apt-get install prometheus)");
        assert!(out.status.success(), "promtool: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::write(dir.path().join("prometheus.yml"), "global:\n  scrape_interval: 1m\n").unwrap();
        let port = free_port();
        let child = watched(&format!(
            "prometheus --config.file={} --storage.tsdb.path={} --storage.tsdb.retention.time=30d --web.listen-address=127.0.0.1:{port} --log.level=warn",
            dir.path().join("prometheus.yml").display(),
            data.display()
        ));
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..400 {
            let ready = Command::new("curl").args(["-fsS", &format!("{url}/-/ready")]).output().map(|o| o.status.success());
            if ready.unwrap_or(false) {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Prometheus { url, t0, _child: child, _dir: dir }
    })
}

pub struct SmtpSink {
    pub port: u16,
    pub maildir: PathBuf,
    _child: Child,
    _dir: tempfile::TempDir,
}

impl SmtpSink {
    /// The messages received so far, as raw text.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.maildir.join("new"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        // Maildir names are `SECONDS.M<micros>P<pid>Q<n>.host`, micros not zero-padded: sort by the numbers.
        let when = |f: &PathBuf| {
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let seconds: u64 = name.split('.').next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let micros: u64 = name
                .split(".M")
                .nth(1)
                .and_then(|rest| rest.split('P').next())
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            (seconds, micros)
        };
        files.sort_by_key(when);
        files.iter().map(|f| std::fs::read_to_string(f).unwrap_or_default()).collect()
    }
}

pub fn smtp_sink() -> SmtpSink {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("Maildir");
    let port = free_port();
    let child = watched(&format!(
        "/usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:{port} -c aiosmtpd.handlers.Mailbox {}",
        maildir.display()
    ));
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    SmtpSink { port, maildir, _child: child, _dir: dir }
}
