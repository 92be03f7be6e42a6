//! ssh figures against the test bed (`tests/testbed/testbed.sh up` first): `cargo bench --bench ssh`.
//!
//! - 100 sequential `true` on one target: golive's per-command median against a raw
//!   `ssh -o ControlPath=... host true` loop over an existing master, in the same run (target <= 1.5x)
//! - 20 commands in parallel on one target against one (target < 5x)
//! - the same 100-step run as golive script and as an Ansible playbook (ansible-core in a throwaway
//!   virtualenv at $GOLIVE_ANSIBLE_VENV, default /tmp/golive-ansible-venv; skipped when absent)
//! - fan-out: 20 steps over 10 targets (ten names for the test bed's sshd), as a golive script and as a
//!   pyinfra deploy (pyinfra in a throwaway virtualenv at $GOLIVE_PYINFRA_VENV, default
//!   /tmp/golive-pyinfra-venv; skipped when absent)

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use golive::config::Config;
use golive::effects::live::LiveWorld;
use golive::effects::{Access, Budget, Command as Cmd, Effect, Exec, World};
use golive::secrets::Redactor;
use golive::terminal::Terminal;

const BED: &str = "/tmp/golive-testbed";
const N: usize = 100;

fn median(times: &mut [Duration]) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    assert!(
        Path::new(&format!("{BED}/ssh/ssh_config")).exists(),
        "start the test bed first: tests/testbed/testbed.sh up"
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = Arc::new(Config::load(&repo.join("golive.toml")).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let terminal = Arc::new(Terminal::new(Redactor::new(), true));
    let world = LiveWorld::new(runtime.handle().clone(), config, terminal);
    let true_on = || {
        Effect::Exec(Exec {
            target: "rehearsal".into(),
            command: Cmd::Shell("true".into()),
            dir: None,
            access: Access::Write,
            assumed: None,
            stdin: None,
            stream: None,
        })
    };
    let budget = Budget::new(Some(Duration::from_secs(30)), Default::default());

    world.perform(&true_on(), &budget).unwrap(); // opens the master
    let mut golive = Vec::new();
    for _ in 0..N {
        let started = Instant::now();
        world.perform(&true_on(), &budget).unwrap();
        golive.push(started.elapsed());
    }

    // The same command as a read: no go-ahead round trip (a write waits for it), measured side by side.
    let read_on = || match true_on() {
        Effect::Exec(exec) => Effect::Exec(Exec { access: Access::Read, ..exec }),
        other => other,
    };
    let mut reads = Vec::new();
    for _ in 0..N {
        let started = Instant::now();
        world.perform(&read_on(), &budget).unwrap();
        reads.push(started.elapsed());
    }

    let sock = format!("{BED}/bench-mux.sock");
    let cfg = format!("{BED}/ssh/ssh_config");
    let _ = std::fs::remove_file(&sock);
    let master = Command::new("ssh")
        .args([
            "-F",
            &cfg,
            "-o",
            "ControlMaster=yes",
            "-o",
            &format!("ControlPath={sock}"),
            "-o",
            "ControlPersist=60",
            "-N",
            "-f",
            "golive-testbed",
        ])
        .status()
        .unwrap();
    assert!(master.success());
    let mut raw = Vec::new();
    for _ in 0..N {
        let started = Instant::now();
        let ok = Command::new("ssh")
            .args(["-F", &cfg, "-o", &format!("ControlPath={sock}"), "golive-testbed", "true"])
            .status()
            .unwrap();
        raw.push(started.elapsed());
        assert!(ok.success());
    }
    let _ = Command::new("ssh")
        .args(["-F", &cfg, "-o", &format!("ControlPath={sock}"), "-O", "exit", "golive-testbed"])
        .output();

    let mut one = Vec::new();
    let mut twenty = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        world.perform(&true_on(), &budget).unwrap();
        one.push(started.elapsed());
        let effects: Vec<Effect> = (0..20).map(|_| true_on()).collect();
        let started = Instant::now();
        let results = world.perform_all(&effects, &budget);
        twenty.push(started.elapsed());
        for r in &results {
            if let Err(e) = r {
                panic!("a command of the 20 failed: {e}");
            }
        }
    }
    drop(world);

    let (g, r) = (median(&mut golive), median(&mut raw));
    let (o, t) = (median(&mut one), median(&mut twenty));
    println!("golive ssh benchmark (test bed sshd on 127.0.0.1:2201, {N} commands each)");
    println!("  golive per command (native-mux), median   {g:>7.2} ms (a write: waits for the go-ahead)");
    println!("  the same as a read (no go-ahead), median  {:>7.2} ms", median(&mut reads));
    println!("  raw ssh -o ControlPath over a master      {r:>7.2} ms   ratio {:.2}x (target <= 1.5x)", g / r);
    println!("  one command {o:.2} ms; 20 in parallel {t:.2} ms   ratio {:.2}x (target < 5x)", t / o);

    ansible(repo);
    fan_out(repo);
}

/// 20 steps, each one command on 10 targets at once: golive's whole run against pyinfra's.
fn fan_out(repo: &Path) {
    const TARGETS: usize = 10;
    const STEPS: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let mut config = std::fs::read_to_string(repo.join("golive.toml")).unwrap();
    for i in 1..=TARGETS {
        config.push_str(&format!(
            "\n[targets.web{i}]\nhost = \"127.0.0.1\"\nport = 2201\nuser = \"golive\"\nidentity_file = \"{BED}/ssh/client_ed25519\"\nknown_hosts = \"{BED}/ssh/known_hosts\"\n"
        ));
    }
    std::fs::write(dir.path().join("golive.toml"), config).unwrap();
    let names: Vec<String> = (1..=TARGETS).map(|i| format!("target(\"web{i}\")")).collect();
    let steps: String = (0..STEPS).map(|i| format!("step \"s{i}\" {{ ssh::run_each(all, \"true\"); }}\n")).collect();
    std::fs::write(dir.path().join("fan.rhai"), format!("let all = [{}];\n{steps}", names.join(", "))).unwrap();
    let mut golive_times = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_golive")).arg("fan.rhai").current_dir(dir.path()).output().unwrap();
        golive_times.push(started.elapsed());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let golive = median(&mut golive_times) / 1000.0;

    let venv = std::env::var("GOLIVE_PYINFRA_VENV").unwrap_or_else(|_| "/tmp/golive-pyinfra-venv".into());
    let pyinfra_bin = Path::new(&venv).join("bin/pyinfra");
    if !pyinfra_bin.exists() {
        println!(
            "  fan-out {STEPS} steps x {TARGETS} targets: golive {golive:.2} s; pyinfra skipped ({} not found; python3 -m venv {venv} && {venv}/bin/pip install pyinfra)",
            pyinfra_bin.display()
        );
        return;
    }
    std::fs::write(
        dir.path().join("inventory.py"),
        format!(
            "hosts = [(f\"web{{i}}\", {{\"ssh_hostname\": \"127.0.0.1\", \"ssh_port\": 2201, \"ssh_user\": \"golive\", \
             \"ssh_key\": \"{BED}/ssh/client_ed25519\", \"ssh_known_hosts_file\": \"{BED}/ssh/known_hosts\", \
             \"ssh_strict_host_key_checking\": \"yes\"}}) for i in range(1, {})]\n",
            TARGETS + 1
        ),
    )
    .unwrap();
    let operations: String =
        (0..STEPS).map(|i| format!("server.shell(name=\"s{i}\", commands=[\"true\"])\n")).collect();
    std::fs::write(dir.path().join("deploy.py"), format!("from pyinfra.operations import server\n{operations}"))
        .unwrap();
    let mut pyinfra_times = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let out = Command::new(&pyinfra_bin)
            .args(["-y", "inventory.py", "deploy.py"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        pyinfra_times.push(started.elapsed());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    }
    let pyinfra = median(&mut pyinfra_times) / 1000.0;
    println!(
        "  fan-out {STEPS} steps x {TARGETS} targets (median of 3 whole runs): golive {golive:.2} s (journaled, fsynced), \
         pyinfra {pyinfra:.2} s   pyinfra/golive {:.1}x",
        pyinfra / golive
    );
}

/// The same 100 steps as a golive script and as an Ansible playbook, wall time of each whole run.
fn ansible(repo: &Path) {
    let venv = std::env::var("GOLIVE_ANSIBLE_VENV").unwrap_or_else(|_| "/tmp/golive-ansible-venv".into());
    let playbook_bin = Path::new(&venv).join("bin/ansible-playbook");
    if !playbook_bin.exists() {
        println!(
            "  ansible: skipped ({} not found; python3 -m venv {venv} && {venv}/bin/pip install ansible-core)",
            playbook_bin.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(repo.join("golive.toml"), dir.path().join("golive.toml")).unwrap();
    let steps: String = (0..N).map(|i| format!("step \"s{i}\" {{ ssh::run(t, \"true\"); }}\n")).collect();
    std::fs::write(dir.path().join("hundred.rhai"), format!("let t = target(\"rehearsal\");\n{steps}")).unwrap();
    let tasks: String = (0..N).map(|i| format!("    - name: s{i}\n      ansible.builtin.raw: \"true\"\n")).collect();
    std::fs::write(dir.path().join("hundred.yml"), format!("- hosts: bed\n  gather_facts: false\n  tasks:\n{tasks}"))
        .unwrap();
    std::fs::write(
        dir.path().join("inventory.ini"),
        format!(
            "bed ansible_host=127.0.0.1 ansible_port=2201 ansible_user=golive ansible_ssh_private_key_file={BED}/ssh/client_ed25519 \
             ansible_ssh_common_args='-o UserKnownHostsFile={BED}/ssh/known_hosts -o StrictHostKeyChecking=yes'\n"
        ),
    )
    .unwrap();
    let started = Instant::now();
    let golive =
        Command::new(env!("CARGO_BIN_EXE_golive")).arg("hundred.rhai").current_dir(dir.path()).output().unwrap();
    let golive_time = started.elapsed();
    assert!(golive.status.success(), "{}", String::from_utf8_lossy(&golive.stderr));
    let started = Instant::now();
    let out = Command::new(&playbook_bin)
        .args(["-i", "inventory.ini", "hundred.yml"])
        .current_dir(dir.path())
        .env("ANSIBLE_HOST_KEY_CHECKING", "True")
        .output()
        .unwrap();
    let ansible_time = started.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    println!(
        "  100-step run: golive {:.2} s (journaled, fsynced), ansible-playbook {:.2} s   ansible/golive {:.1}x",
        golive_time.as_secs_f64(),
        ansible_time.as_secs_f64(),
        ansible_time.as_secs_f64() / golive_time.as_secs_f64()
    );
}
