//! The shared test bed (tests/testbed/testbed.sh): a real sshd on 127.0.0.1:2201 and the stand-in Drupal
//! stack on the real Docker engine. Tests that use it hold `lock()` and start from `reset()`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::Project;

pub const ROOT: &str = "/tmp/golive-testbed";
pub const SITE: &str = "http://127.0.0.1:18080/";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testbed/testbed.sh")
}

fn testbed(action: &str) {
    let out = std::process::Command::new(script()).args(action.split(' ')).output().expect("run testbed.sh");
    assert!(
        out.status.success(),
        "testbed.sh {action} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Brings the test bed up once per process (tests that only read a service, like PostgreSQL, need no lock).
pub fn up() {
    static UP: OnceLock<()> = OnceLock::new();
    UP.get_or_init(|| testbed("up"));
}

/// Serialises the tests that change the shared stack, and brings the test bed up once per process.
pub fn lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    up();
    guard
}

/// Stack running release "new", maintenance off, empty call logs, tags as before a deploy.
pub fn reset() {
    testbed("reset");
}

/// Breaks production in one named way (`testbed.sh fault NAME`); `reset` puts it right.
pub fn fault(name: &str) {
    testbed(&format!("fault {name}"));
}

/// Tags the stand-in image of `release` (new, backup or broken) as the one the next deploy starts.
pub fn next_release(release: &str) {
    testbed(&format!("release {release}"));
}

/// One value from the rehearsal database (the test bed's real MariaDB), e.g. `SELECT COUNT(*) FROM users`.
pub fn sql(query: &str) -> String {
    let socket = format!("{ROOT}/mariadb/mysqld.sock");
    let out = std::process::Command::new("mariadb")
        .args(["--no-defaults", "--socket", &socket, "-uroot", "-N", "-B", "jaraba", "-e", query])
        .output()
        .expect("run the mariadb client");
    assert!(out.status.success(), "{query}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The backups under the project's backups/ folder, by label, oldest first (labels carry the run id).
pub fn backups() -> Vec<String> {
    let mut labels: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("project/backups"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("db.sql").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    labels.sort();
    labels
}

pub fn state(file: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join("project/state").join(file)).unwrap_or_default()
}

pub fn set_fault(file: &str) {
    std::fs::write(Path::new(ROOT).join("project/state").join(file), "").unwrap();
}

/// Changes what the vendor doubles answer (reset puts them back), e.g. `{"waf_enabled": false}`.
pub fn set_vendor_state(json: &str) {
    let out = std::process::Command::new("curl")
        .args(["-fsS", "-X", "POST", "--data-binary", json, "http://127.0.0.1:18090/_golive/state"])
        .output()
        .unwrap();
    assert!(out.status.success(), "the vendor doubles refused {json}: {}", String::from_utf8_lossy(&out.stderr));
}

pub fn image_id(image: &str) -> String {
    let out = std::process::Command::new("docker").args(["image", "inspect", "-f", "{{.Id}}", image]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn http_status(url: &str) -> String {
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A project with the repository's golive.toml, scripts and stdlib, plus targets for failure cases.
pub fn project() -> Project {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = std::fs::read_to_string(repo.join("golive.toml")).unwrap();
    let ssh = format!("{ROOT}/ssh");
    for (name, extra) in [
        ("unknown_key", format!("known_hosts = \"{ssh}/known_hosts_empty\"")),
        ("changed_key", format!("known_hosts = \"{ssh}/known_hosts_wrong\"")),
        ("wrong_user", format!("known_hosts = \"{ssh}/known_hosts\"\nuser = \"no-such-user\"")),
        // The same host as `rehearsal`, reached as a user whose login shell is bash, not /bin/sh.
        ("bash_login", format!("known_hosts = \"{ssh}/known_hosts\"\nuser = \"golive-bash\"")),
        // As a user of a host without bash: busybox's sh and applets alone.
        ("busybox_login", format!("known_hosts = \"{ssh}/known_hosts\"\nuser = \"golive-ash\"")),
    ] {
        let user =
            if matches!(name, "wrong_user" | "bash_login" | "busybox_login") { "" } else { "user = \"golive\"\n" };
        config.push_str(&format!(
            "\n[targets.{name}]\nrehearsal = true\nhost = \"127.0.0.1\"\nport = 2201\n{user}identity_file = \"{ssh}/client_ed25519\"\n{extra}\nproject_dir = \"{ROOT}/project\"\ncompose = \"v1\"\n"
        ));
    }
    config.push_str(&format!(
        "\n[targets.refused]\nrehearsal = true\nhost = \"127.0.0.1\"\nport = 2299\nuser = \"golive\"\nidentity_file = \"{ssh}/client_ed25519\"\nknown_hosts = \"{ssh}/known_hosts\"\n"
    ));
    let project = Project::with_config(&config);
    for dir in ["scripts", "stdlib", "docs"] {
        for entry in std::fs::read_dir(repo.join(dir)).unwrap().flatten() {
            let name = format!("{dir}/{}", entry.file_name().to_string_lossy());
            project.write(&name, &std::fs::read_to_string(entry.path()).unwrap());
        }
    }
    project
}

/// The quick rollback (7.1) rehearsed for real on the test bed, then the bed reset: Saturday's "Rollback
/// probado" reads this run from the journals (none is a failed Go criterion).
pub fn rehearse_quick_rollback(project: &Project) {
    project.golive(&["scripts/rollback_quick.rhai", "--yes"]).assert_code(0);
    reset();
}

/// `project()` whose journals hold one green Friday and one quick rollback rehearsed on `rehearsal` (the
/// first call of a process resets the bed after them: set the bed up for a test after this call):
/// Saturday deploys only onto a green Friday (its first check reads Friday's newest run), and its Go/No-Go
/// wants the rollback rehearsed. Both run for real once per process, on the test bed just reset (hold
/// `lock()`); each project gets a copy of those runs' folders.
pub fn project_after_friday() -> Project {
    static FRIDAY: OnceLock<Vec<(PathBuf, Vec<u8>)>> = OnceLock::new();
    let files = FRIDAY.get_or_init(|| {
        let once = project();
        let answers = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/answers/friday.toml");
        let run = once.golive(&["scripts/friday.rhai", "--yes", "--answers", &answers.display().to_string()]);
        run.assert_code(0);
        rehearse_quick_rollback(&once);
        let runs = once.file(".golive/runs");
        let mut files = Vec::new();
        let mut stack = vec![runs.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    files.push((path.strip_prefix(&runs).unwrap().to_path_buf(), std::fs::read(&path).unwrap()));
                }
            }
        }
        assert!(!files.is_empty(), "friday and the rollback left no journal");
        files
    });
    let project = project();
    for (relative, bytes) in files {
        let path = project.file(".golive/runs").join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    project
}
