//! The project's own network servers, started once per test process on free loopback ports:
//! tests/servers/doubles.py (a Drupal-like site over HTTP and HTTPS, the Stripe double, the vendor doubles)
//! with certificates from a CA generated here, and dnsmasq for DNS. They exit when this process does
//! (their stdin closes).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

pub struct Doubles {
    pub site_http: u16,
    /// HTTPS with a certificate from the test CA, valid for 90 days.
    pub site_https: u16,
    /// ...valid for 10 more days only.
    pub expiring_https: u16,
    /// ...expired in 2021.
    pub expired_https: u16,
    /// ...self-signed, from no CA anyone trusts.
    pub untrusted_https: u16,
    pub stripe: u16,
    pub vendors: u16,
    /// 127.0.0.1:PORT of a dnsmasq answering for golive.test.
    pub dns: String,
    pub ca_file: PathBuf,
    _children: Vec<Child>,
    _dir: tempfile::TempDir,
}

impl Doubles {
    pub fn site(&self) -> String {
        format!("http://127.0.0.1:{}", self.site_http)
    }

    pub fn https(&self) -> String {
        format!("https://localhost:{}", self.site_https)
    }

    pub fn stripe_api(&self) -> String {
        format!("http://127.0.0.1:{}", self.stripe)
    }

    pub fn vendors_api(&self) -> String {
        format!("http://127.0.0.1:{}", self.vendors)
    }

    /// Replaces the Stripe double's state (JSON: keys, livemode, rate_limit_next, objects).
    pub fn stripe_state(&self, json: &str) {
        post_json(self.stripe, "/_golive/state", json);
    }

    pub fn stripe_requests(&self) -> serde_json::Value {
        get_json(self.stripe, "/_golive/requests")
    }

    pub fn vendor_state(&self, json: &str) {
        post_json(self.vendors, "/_golive/state", json);
    }
}

fn post_json(port: u16, path: &str, json: &str) {
    let out = Command::new("curl")
        .args(["-fsS", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", json])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("curl runs");
    assert!(out.status.success(), "POST {path}: {}", String::from_utf8_lossy(&out.stderr));
}

fn get_json(port: u16, path: &str) -> serde_json::Value {
    let out = Command::new("curl").arg("-fsS").arg(format!("http://127.0.0.1:{port}{path}")).output().unwrap();
    serde_json::from_slice(&out.stdout).expect("the double answers JSON")
}

/// Serialises tests that change a double's state.
pub fn lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn doubles() -> &'static Doubles {
    static DOUBLES: OnceLock<Doubles> = OnceLock::new();
    DOUBLES.get_or_init(start)
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/doubles.py")
}

fn spawn(args: &[&str]) -> (Child, serde_json::Value) {
    let mut child = Command::new("python3")
        .arg(script())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs tests/servers/doubles.py");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let ports = serde_json::from_str(&line).unwrap_or_else(|e| panic!("doubles.py said {line:?}: {e}"));
    (child, ports)
}

fn port(ports: &serde_json::Value, name: &str) -> u16 {
    ports[name].as_u64().unwrap_or_else(|| panic!("no {name} port in {ports}")) as u16
}

fn leaf(days: (i64, i64), issuer: Option<&Issuer<'_, KeyPair>>, dir: &Path, name: &str) -> [String; 2] {
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "localhost");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::days(days.0);
    params.not_after = now + time::Duration::days(days.1);
    let key = KeyPair::generate().unwrap();
    let cert = match issuer {
        Some(issuer) => params.signed_by(&key, issuer).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    let cert_file = dir.join(format!("{name}.crt"));
    let key_file = dir.join(format!("{name}.key"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    [cert_file.display().to_string(), key_file.display().to_string()]
}

fn start() -> Doubles {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "golive test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);

    let valid = leaf((-1, 90), Some(&issuer), dir.path(), "valid");
    let expiring = leaf((-80, 10), Some(&issuer), dir.path(), "expiring");
    let expired = leaf((-2000, -1800), Some(&issuer), dir.path(), "expired");
    let untrusted = leaf((-1, 90), None, dir.path(), "untrusted");

    let mut children = Vec::new();
    let (child, main) = spawn(&[
        "--site-http",
        "0",
        "--site-https",
        "0",
        "--cert",
        &valid[0],
        "--key",
        &valid[1],
        "--stripe",
        "0",
        "--vendors",
        "0",
    ]);
    children.push(child);
    let mut https = |files: &[String; 2]| {
        let (child, ports) = spawn(&["--site-https", "0", "--cert", &files[0], "--key", &files[1]]);
        children.push(child);
        port(&ports, "site_https")
    };
    let expiring_https = https(&expiring);
    let expired_https = https(&expired);
    let untrusted_https = https(&untrusted);
    let (dns, dnsmasq) = start_dnsmasq();
    children.push(dnsmasq);
    Doubles {
        site_http: port(&main, "site_http"),
        site_https: port(&main, "site_https"),
        expiring_https,
        expired_https,
        untrusted_https,
        stripe: port(&main, "stripe"),
        vendors: port(&main, "vendors"),
        dns,
        ca_file,
        _children: children,
        _dir: dir,
    }
}

/// dnsmasq (Debian's dnsmasq-base) on a free loopback port, authoritative for a few golive.test names.
fn start_dnsmasq() -> (String, Child) {
    let port = {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap().port()
    };
    let args = [
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        "--user=root",
        "--pid-file=",
        "--local=/golive.test/",
        "--address=/app.golive.test/127.0.0.1",
        "--host-record=api.golive.test,127.0.0.2",
        "--txt-record=golive.test,v=spf1 -all",
        "--mx-host=golive.test,mail.golive.test,10",
        "--cname=www.golive.test,app.golive.test",
    ];
    let line = format!("dnsmasq --port={port} '{}'", args.join("' '"));
    // dnsmasq ignores its stdin, so a shell watches it: the server stops when this process ends (or after 4 h).
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("timeout 14400 {line} & p=$!; cat >/dev/null; kill $p"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("sh runs");
    let address = format!("127.0.0.1:{port}");
    // Ready when it answers; dig may be absent, so ask with a raw UDP query.
    for _ in 0..100 {
        if dns_answers(&address) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    (address, child)
}

fn dns_answers(address: &str) -> bool {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(std::time::Duration::from_millis(200))).unwrap();
    // A query for golive.test TXT.
    let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["golive", "test"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 16, 0, 1]);
    socket.send_to(&q, address).is_ok() && socket.recv(&mut [0u8; 512]).is_ok()
}
