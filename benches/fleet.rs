//! Fan-out over the test bed's fleet (`sudo tests/testbed/testbed.sh up` first; README "Performance"):
//! `cargo bench --bench fleet`. A hundred ssh hosts, 127.0.0.2 to 127.0.0.101 port 2202; 20 steps, each one
//! command (`true`) on every host, twenty hosts at a time:
//!
//! - golive: 20 steps of `ssh::run_each(all, "true")` (forks = 20), whole run, journaled and fsynced
//! - golive, per-host steps: 20 steps `step "sN" for host in hosts with #{ serial: 100 }`, each host's
//!   instance its own journaled checkpoint (2,000 steps), run together twenty at a time as strands
//! - a plain shell loop: one `ssh -M` master per host, then each step's 100 `ssh -o ControlPath=...` through
//!   `xargs -P 20` (masters opened in the same timing)
//! - pyinfra (`--parallel 20`, median of 3 runs) and Ansible (`forks = 20`, pipelining, the shell module, one
//!   run), each in a throwaway virtualenv at $GOLIVE_PYINFRA_VENV / $GOLIVE_ANSIBLE_VENV (default
//!   /tmp/golive-{pyinfra,ansible}-venv), skipped and said so when absent
//!
//! Targets: golive at least 2x faster than pyinfra and within 1.5x of the shell loop.
//!
//! The key exchange is the same for every tool: curve25519-sha256, what pyinfra's paramiko negotiates (it
//! has no post-quantum kex). OpenSSH's default, sntrup761x25519-sha512, costs its client about 65 ms of CPU
//! more per connection (a hundred connections: 6.5 s of CPU on the 2-core machine); golive with that default
//! is measured too, on its own line.
//!
//! The fleet's user `golive` has /bin/sh (dash) for login shell, where golive's shared remote shell starts
//! each command under `setsid`; the same hosts' user `golive-bash` has bash, where it runs each command in a
//! job-control subshell instead. golive and pyinfra are measured as both.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BED: &str = "/tmp/golive-testbed";
const HOSTS: u32 = 100;
const STEPS: usize = 20;
const FORKS: usize = 20;
/// The fleet's user, whose login shell is /bin/sh, and the same hosts' user whose login shell is bash.
const USER: &str = "golive";
const BASH_USER: &str = "golive-bash";
/// The key exchange paramiko (pyinfra) negotiates with OpenSSH: every tool here uses it.
const KEX: &str = "curve25519-sha256";

fn addresses() -> impl Iterator<Item = (String, String)> {
    (2..2 + HOSTS).map(|n| (format!("web{n:03}"), format!("127.0.0.{n}")))
}

fn timed(command: &mut Command) -> Duration {
    let started = Instant::now();
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed:\n{}{}",
        command,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64()
}

fn main() {
    let ssh = format!("{BED}/ssh");
    let dir = tempfile::tempdir().unwrap();
    let run_in = |program: &str| {
        let mut c = Command::new(program);
        c.current_dir(dir.path());
        c
    };

    // golive
    let kex_config = dir.path().join("kex_config");
    std::fs::write(&kex_config, format!("Host *\n  KexAlgorithms {KEX}\n")).unwrap();
    let golive_toml = |same_kex: bool, user: &str| {
        let mut config = format!("default_target = \"local\"\nforks = {FORKS}\n[targets.local]\nkind = \"local\"\n");
        let kex = if same_kex { format!("ssh_config = \"{}\"\n", kex_config.display()) } else { String::new() };
        for (name, address) in addresses() {
            config.push_str(&format!(
                "\n[targets.{name}]\nhost = \"{address}\"\nport = 2202\nuser = \"{user}\"\nidentity_file = \"{ssh}/client_ed25519\"\nknown_hosts = \"{ssh}/known_hosts_fleet\"\n{kex}"
            ));
        }
        std::fs::write(dir.path().join("golive.toml"), config).unwrap();
    };
    let names: Vec<String> = addresses().map(|(name, _)| format!("target(\"{name}\")")).collect();
    let steps: String = (0..STEPS).map(|i| format!("step \"s{i}\" {{ ssh::run_each(all, \"true\"); }}\n")).collect();
    std::fs::write(dir.path().join("fan.rhai"), format!("let all = [{}];\n{steps}", names.join(", "))).unwrap();
    golive_toml(false, USER);
    let golive_default_kex =
        median((0..3).map(|_| timed(run_in(env!("CARGO_BIN_EXE_golive")).args(["-q", "fan.rhai"]))).collect());
    golive_toml(true, BASH_USER);
    let golive_bash =
        median((0..3).map(|_| timed(run_in(env!("CARGO_BIN_EXE_golive")).args(["-q", "fan.rhai"]))).collect());
    golive_toml(true, USER);
    let golive = median((0..3).map(|_| timed(run_in(env!("CARGO_BIN_EXE_golive")).args(["-q", "fan.rhai"]))).collect());
    let quoted: Vec<String> = addresses().map(|(name, _)| format!("\"{name}\"")).collect();
    let per_host: String = (0..STEPS)
        .map(|i| {
            format!(
                "step \"s{i}\" for host in hosts with #{{ serial: {HOSTS} }} {{ ssh::run(target(host), \"true\"); }}\n"
            )
        })
        .collect();
    std::fs::write(dir.path().join("per_host.rhai"), format!("let hosts = [{}];\n{per_host}", quoted.join(", ")))
        .unwrap();
    let per_host =
        median((0..3).map(|_| timed(run_in(env!("CARGO_BIN_EXE_golive")).args(["-q", "per_host.rhai"]))).collect());

    // The shell loop over ssh masters.
    let sockets = dir.path().join("sockets");
    std::fs::create_dir_all(&sockets).unwrap();
    let options = format!(
        "-o BatchMode=yes -o IdentitiesOnly=yes -i {ssh}/client_ed25519 -o UserKnownHostsFile={ssh}/known_hosts_fleet \
         -o StrictHostKeyChecking=yes -o KexAlgorithms={KEX} -o ControlPath={}/%h -p 2202 -l {USER}",
        sockets.display()
    );
    let hosts: Vec<String> = addresses().map(|(_, address)| address).collect();
    std::fs::write(dir.path().join("hosts"), hosts.join("\n") + "\n").unwrap();
    let script = format!(
        "xargs -P {FORKS} -I @ ssh {options} -M -N -f @ < hosts\n\
         for step in $(seq {STEPS}); do xargs -P {FORKS} -I @ ssh {options} @ true < hosts || exit 1; done\n\
         xargs -P {FORKS} -I @ ssh {options} -O exit @ < hosts 2>/dev/null\n"
    );
    std::fs::write(dir.path().join("loop.sh"), script).unwrap();
    let shell = median((0..3).map(|_| timed(run_in("sh").arg("loop.sh"))).collect());

    println!(
        "fan-out over the fleet: {STEPS} steps x {HOSTS} hosts, {FORKS} at a time (median of 3 whole runs), kex {KEX}"
    );
    println!("  golive (journaled, fsynced)                 {golive:>7.2} s");
    println!("  golive with OpenSSH's default kex           {golive_default_kex:>7.2} s");
    println!("  golive, per-host steps (2,000 checkpoints)  {per_host:>7.2} s");
    println!(
        "  shell loop, ssh -o ControlPath over masters {shell:>7.2} s   golive/loop {:.2}x (target <= 1.5x)",
        golive / shell
    );

    let venv = std::env::var("GOLIVE_PYINFRA_VENV").unwrap_or_else(|_| "/tmp/golive-pyinfra-venv".into());
    let pyinfra_bin = Path::new(&venv).join("bin/pyinfra");
    if pyinfra_bin.exists() {
        let inventory = |user: &str| -> String {
            let hosts: String = addresses()
                .map(|(name, address)| {
                    format!(
                        "    (\"{name}\", {{\"ssh_hostname\": \"{address}\", \"ssh_port\": 2202, \"ssh_user\": \"{user}\", \
                         \"ssh_key\": \"{ssh}/client_ed25519\", \"ssh_known_hosts_file\": \"{ssh}/known_hosts_fleet\", \
                         \"ssh_strict_host_key_checking\": \"yes\"}}),\n"
                    )
                })
                .collect();
            format!("hosts = [\n{hosts}]\n")
        };
        std::fs::write(dir.path().join("inventory.py"), inventory(USER)).unwrap();
        std::fs::write(dir.path().join("inventory_bash.py"), inventory(BASH_USER)).unwrap();
        let operations: String =
            (0..STEPS).map(|i| format!("server.shell(name=\"s{i}\", commands=[\"true\"])\n")).collect();
        std::fs::write(dir.path().join("deploy.py"), format!("from pyinfra.operations import server\n{operations}"))
            .unwrap();
        let pyinfra_on = |inventory: &str| {
            median(
                (0..3)
                    .map(|_| {
                        timed(
                            Command::new(&pyinfra_bin)
                                .args(["-y", "--parallel", &FORKS.to_string(), inventory, "deploy.py"])
                                .current_dir(dir.path()),
                        )
                    })
                    .collect(),
            )
        };
        let pyinfra = pyinfra_on("inventory.py");
        let pyinfra_bash = pyinfra_on("inventory_bash.py");
        println!(
            "  pyinfra --parallel {FORKS}                       {pyinfra:>7.2} s   pyinfra/golive {:.2}x (target >= 2x)",
            pyinfra / golive
        );
        println!("  as {BASH_USER}, whose login shell is bash:");
        println!("    golive                                    {golive_bash:>7.2} s");
        println!(
            "    pyinfra --parallel {FORKS}                     {pyinfra_bash:>7.2} s   pyinfra/golive {:.2}x",
            pyinfra_bash / golive_bash
        );
    } else {
        println!(
            "  pyinfra: NOT MEASURED ({} absent: python3 -m venv {venv} && {venv}/bin/pip install pyinfra)",
            pyinfra_bin.display()
        );
    }

    let venv = std::env::var("GOLIVE_ANSIBLE_VENV").unwrap_or_else(|_| "/tmp/golive-ansible-venv".into());
    let playbook_bin = Path::new(&venv).join("bin/ansible-playbook");
    if playbook_bin.exists() {
        let inventory: String = addresses()
            .map(|(name, address)| {
                format!(
                    "{name} ansible_host={address} ansible_port=2202 ansible_user=golive ansible_ssh_private_key_file={ssh}/client_ed25519 \
                     ansible_ssh_common_args='-o UserKnownHostsFile={ssh}/known_hosts_fleet -o StrictHostKeyChecking=yes -o KexAlgorithms={KEX}' \
                     ansible_python_interpreter=/usr/bin/python3\n"
                )
            })
            .collect();
        std::fs::write(dir.path().join("inventory.ini"), format!("[fleet]\n{inventory}")).unwrap();
        std::fs::write(
            dir.path().join("ansible.cfg"),
            format!("[defaults]\nforks = {FORKS}\nhost_key_checking = True\n[ssh_connection]\npipelining = True\n"),
        )
        .unwrap();
        let tasks: String =
            (0..STEPS).map(|i| format!("    - name: s{i}\n      ansible.builtin.shell: \"true\"\n")).collect();
        std::fs::write(dir.path().join("fan.yml"), format!("- hosts: fleet\n  gather_facts: false\n  tasks:\n{tasks}"))
            .unwrap();
        let ansible = timed(
            Command::new(&playbook_bin)
                .args(["-i", "inventory.ini", "fan.yml"])
                .env("ANSIBLE_CONFIG", dir.path().join("ansible.cfg"))
                .current_dir(dir.path()),
        )
        .as_secs_f64();
        println!(
            "  ansible-playbook, forks {FORKS}, pipelining (one run) {ansible:>7.2} s   ansible/golive {:.1}x",
            ansible / golive
        );
    } else {
        println!(
            "  ansible: NOT MEASURED ({} absent: python3 -m venv {venv} && {venv}/bin/pip install ansible-core)",
            playbook_bin.display()
        );
    }
}
