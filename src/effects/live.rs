//! The live world: performs effects for real. Commands run on the local machine or on ssh targets (the
//! connectors are the only code that touches a host); sleeps and prompts happen here too.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::AsyncWriteExt;
use tokio::runtime::Handle;

use super::browser::BrowserConnector;
use super::http::HttpConnector;
use super::process_group::LocalGuard;
use super::ssh::{RemoteCommand, SshConnector};
use super::{Budget, Command, Effect, EffectError, Exec, ExecOutput, Outcome, Provenance, World, shell_quote};
use crate::config::{Config, LOCAL, Target};
use crate::terminal::Terminal;

pub struct LiveWorld {
    runtime: Handle,
    config: Arc<Config>,
    terminal: Arc<Terminal>,
    ssh: SshConnector,
    /// Stops the local commands still running if golive dies.
    local: LocalGuard,
    http: HttpConnector,
    browser: BrowserConnector,
}

impl LiveWorld {
    pub fn new(runtime: Handle, config: Arc<Config>, terminal: Arc<Terminal>) -> LiveWorld {
        LiveWorld {
            runtime,
            config,
            terminal,
            ssh: SshConnector::new(),
            local: LocalGuard::default(),
            http: HttpConnector::default(),
            browser: BrowserConnector::default(),
        }
    }

    fn target(&self, name: &str) -> Result<Target, EffectError> {
        self.config.target(name).map_err(EffectError::Failed)
    }

    async fn exec(&self, exec: &Exec, budget: &Budget<'_>) -> Result<Outcome, EffectError> {
        let target = self.target(&exec.target)?;
        let stdin = exec.stdin.as_ref().map(|s| s.as_bytes().to_vec());
        // A compose exec is marked, so a stop reaches its command inside the container too.
        let (command, marked) = super::container::mark(&exec.command);
        let exec = &Exec { command, ..exec.clone() };
        let inside = marked.map(|marked| {
            let stop_line = marked.stop_command().shell_line(exec.dir.as_deref());
            super::ssh::Inside { marked, stop_line }
        });
        let out = if target.kind() == LOCAL {
            run_local(&self.local, exec, stdin, budget, self.config.output_cap, inside.as_ref()).await?
        } else {
            let line = exec.command.shell_line(exec.dir.as_deref());
            let cap = self.config.output_cap;
            let command = RemoteCommand {
                line: &line,
                stdin,
                access: exec.access,
                inside: inside.as_ref(),
                // Streamed commands, and every command under `-v` (the controller then hands a `lines` hook).
                stream: budget.lines.is_some(),
            };
            self.ssh.run(&target, command, budget, cap).await?
        };
        Ok(Outcome::Exec(out))
    }

    async fn perform_async(&self, effect: &Effect, budget: &Budget<'_>) -> Result<Outcome, EffectError> {
        match effect {
            Effect::Exec(exec) => self.exec(exec, budget).await,
            Effect::Sleep { duration } => tokio::select! {
                _ = tokio::time::sleep(*duration) => Ok(Outcome::Slept),
                _ = budget.cancel.cancelled() => Err(EffectError::Cancelled),
            },
            Effect::Prompt(prompt) => Ok(Outcome::Answer(self.terminal.ask(prompt, &budget.cancel)?)),
            Effect::Upload { target, local, remote } => self.upload(target, local, remote, budget).await,
            Effect::Download { target, remote, local } => self.download(target, remote, local, budget).await,
            Effect::Http(request) => {
                let performing = self.http.perform(request, budget.timeout);
                cancellable(performing, budget).await.map(Outcome::Http)
            }
            Effect::Probe(probe) => {
                super::probe::run(probe, &budget.cancel).await.map(Outcome::Probe).map_err(EffectError::Failed)
            }
            Effect::Cert(request) => {
                let limit = budget.timeout.unwrap_or(std::time::Duration::from_secs(10));
                cancellable(super::tls::probe(request, limit), budget).await.map(Outcome::Cert)
            }
            Effect::Email(email) => {
                let limit = budget.timeout.unwrap_or(std::time::Duration::from_secs(30));
                cancellable(super::email::send(email, limit), budget).await.map(|()| Outcome::Sent)
            }
            Effect::Dns(query) => {
                let limit = budget.timeout.unwrap_or(std::time::Duration::from_secs(5));
                cancellable(super::dns::resolve(query, limit), budget).await.map(Outcome::Dns)
            }
            Effect::Browser(request) => {
                // Dropping the task closes its page: a timed-out or cancelled load stops in the browser.
                let limit = budget.timeout.unwrap_or(std::time::Duration::from_secs(120));
                tokio::select! {
                    r = self.browser.perform(request) => r.map(Outcome::Browser).map_err(EffectError::Failed),
                    _ = tokio::time::sleep(limit) => Err(EffectError::TimedOut(limit)),
                    _ = budget.cancel.cancelled() => Err(EffectError::Cancelled),
                }
            }
            Effect::Group(group) => self.group(group).await,
        }
    }

    /// Looks for, or stops, a process group a crashed run left (golive's own short command, not bounded by
    /// a step: resume asks it between steps).
    async fn group(&self, group: &super::Group) -> Result<Outcome, EffectError> {
        use super::process_group;
        let target = self.target(&group.target)?;
        let pgid = group.process_group;
        if target.kind() == LOCAL {
            return Ok(if group.stop {
                Outcome::Stopped(process_group::local_stop(pgid, &mut || {}).await)
            } else {
                Outcome::Members(process_group::local_members(pgid))
            });
        }
        let answer = if group.stop {
            self.ssh.stop(&target, pgid).await.map(Outcome::Stopped)
        } else {
            self.ssh.members(&target, pgid).await.map(Outcome::Members)
        };
        answer.map_err(EffectError::Failed)
    }

    async fn upload(
        &self,
        target: &str,
        local: &str,
        remote: &str,
        budget: &Budget<'_>,
    ) -> Result<Outcome, EffectError> {
        let bytes =
            tokio::fs::read(local).await.map_err(|e| EffectError::Failed(format!("cannot read {local}: {e}")))?;
        let size = bytes.len() as u64;
        // Written beside the destination, then renamed: the file is whole or absent, never half there.
        let partial = format!("{remote}.golive-partial");
        let line =
            format!("cat > {} && mv -f {} {}", shell_quote(&partial), shell_quote(&partial), shell_quote(remote));
        let exec = Exec {
            target: target.into(),
            command: Command::Shell(line),
            dir: None,
            access: super::Access::Write,
            assumed: None,
            stdin: None,
            stream: None,
        };
        let target = self.target(target)?;
        let out = if target.kind() == LOCAL {
            run_local(&self.local, &exec, Some(bytes), budget, self.config.output_cap, None).await?
        } else {
            let line = exec.command.shell_line(None);
            let command = RemoteCommand {
                line: &line,
                stdin: Some(bytes),
                access: super::Access::Write,
                inside: None,
                stream: false,
            };
            self.ssh.run(&target, command, budget, self.config.output_cap).await?
        };
        if out.code != 0 {
            return Err(EffectError::Failed(format!(
                "upload to {remote} failed (exit {}): {}",
                out.code,
                out.stderr.trim()
            )));
        }
        Ok(Outcome::Transferred { bytes: size })
    }

    async fn download(
        &self,
        target: &str,
        remote: &str,
        local: &str,
        budget: &Budget<'_>,
    ) -> Result<Outcome, EffectError> {
        let target = self.target(target)?;
        let line = format!("cat {}", shell_quote(remote));
        let (code, bytes, stderr) = if target.kind() == LOCAL {
            let exec = Exec {
                target: LOCAL.into(),
                command: Command::Shell(line),
                dir: None,
                access: super::Access::Read,
                assumed: None,
                stdin: None,
                stream: None,
            };
            // A download is the file itself: never capped.
            let out = run_local(&self.local, &exec, None, budget, usize::MAX, None).await?;
            (out.code, out.stdout.into_bytes(), out.stderr)
        } else {
            let out = self.ssh.run_raw(&target, &line, budget).await?;
            (out.code, out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
        };
        if code != 0 {
            return Err(EffectError::Failed(format!("download of {remote} failed (exit {code}): {}", stderr.trim())));
        }
        let partial = format!("{local}.golive-partial");
        tokio::fs::write(&partial, &bytes)
            .await
            .and(tokio::fs::rename(&partial, local).await)
            .map_err(|e| EffectError::Failed(format!("cannot write {local}: {e}")))?;
        Ok(Outcome::Transferred { bytes: bytes.len() as u64 })
    }
}

/// Network work stops at Ctrl-C; its own timeouts say what timed out.
async fn cancellable<T>(
    work: impl std::future::Future<Output = Result<T, String>>,
    budget: &Budget<'_>,
) -> Result<T, EffectError> {
    tokio::select! {
        r = work => r.map_err(EffectError::Failed),
        _ = budget.cancel.cancelled() => Err(EffectError::Cancelled),
    }
}

impl World for LiveWorld {
    fn perform(&self, effect: &Effect, budget: &Budget<'_>) -> Result<(Outcome, Provenance), EffectError> {
        // In a strand (an item of a repeated step run with others), the others go on while this one waits.
        crate::strand::wait(&self.runtime, self.perform_async(effect, budget)).map(|o| (o, Provenance::Performed))
    }

    fn perform_all(&self, effects: &[Effect], budget: &Budget<'_>) -> Vec<Result<(Outcome, Provenance), EffectError>> {
        // At most `forks` at once over all the fan-out's targets (each target also keeps to its own
        // max_sessions); results come back in the effects' order.
        use futures::StreamExt;
        let all = futures::stream::iter(effects.iter().map(|e| self.perform_async(e, budget)))
            .buffered(self.config.forks)
            .collect::<Vec<_>>();
        crate::strand::wait(&self.runtime, all).into_iter().map(|r| r.map(|o| (o, Provenance::Performed))).collect()
    }
}

impl Drop for LiveWorld {
    fn drop(&mut self) {
        self.runtime.block_on(self.ssh.close());
    }
}

async fn run_local(
    guard: &LocalGuard,
    exec: &Exec,
    stdin: Option<Vec<u8>>,
    budget: &Budget<'_>,
    cap: usize,
    inside: Option<&super::ssh::Inside>,
) -> Result<ExecOutput, EffectError> {
    let mut command = match &exec.command {
        Command::Shell(script) => {
            // By its path: no search of PATH's folders for each command.
            let mut c = tokio::process::Command::new("/bin/sh");
            c.arg("-c").arg(script);
            c
        }
        Command::Argv(argv) if argv.is_empty() => return Err(EffectError::Failed("empty command".into())),
        Command::Argv(argv) => {
            let mut c = tokio::process::Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
    };
    if let Some(dir) = &exec.dir {
        command.current_dir(dir);
    }
    // Its own process group: the terminal's Ctrl-C reaches golive only, and golive decides what to stop.
    command
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // If golive itself dies (even by SIGKILL), the guard stops the command and all it started: it must not
    // go on writing alone. No pre_exec hook, so the command is started by posix_spawn, not a fork of golive.
    let _watched = guard.watch(&mut command).map_err(EffectError::Failed)?;
    let started = Instant::now();
    let mut child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => EffectError::Failed(format!(
            "command not found: `{}` (exit 127); is it installed and on PATH?",
            exec.command.program()
        )),
        _ => EffectError::Failed(format!("cannot start `{}`: {e}", exec.command.program())),
    })?;
    let group = child.id();
    if let Some(pgid) = group
        && budget.tell_started(LOCAL, pgid).is_none()
    {
        // A local command is already running when its group is known (no go-ahead here): it is stopped at
        // once, and said to have possibly begun.
        // SAFETY: killpg only sends a signal to the group this child leads.
        unsafe { libc::killpg(pgid as libc::pid_t, libc::SIGKILL) };
        let _ = child.wait().await;
        return Err(EffectError::Failed(format!(
            "stopped at once (process group {pgid}, KILL) because the journal could not record where it runs; it may \
             have begun its work"
        )));
    }
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let input = child.stdin.take();
    let finished = async {
        let feed = async {
            if let (Some(mut input), Some(bytes)) = (input, stdin) {
                input.write_all(&bytes).await?;
                input.shutdown().await?;
            }
            Ok::<_, std::io::Error>(())
        };
        // A command that ends without reading all its stdin is its own business, not a failure to talk to it.
        let feed = async { feed.await.or_else(super::capture::unread_input) };
        // The controller hands a `lines` hook only for streamed commands, or every command under `-v`.
        let lines = budget.lines;
        let (fed, out, err, status) = tokio::join!(
            feed,
            super::capture::read_capped_lines(&mut stdout, cap, lines),
            super::capture::read_capped(&mut stderr, cap),
            child.wait()
        );
        let talk = |e: std::io::Error| EffectError::Failed(format!("cannot talk to the command: {e}"));
        fed.map_err(talk)?;
        let (out, err) = (out.map_err(talk)?, err.map_err(talk)?);
        let status = status.map_err(|e| EffectError::Failed(format!("cannot wait for the command: {e}")))?;
        Ok::<_, EffectError>((status, out, err))
    };
    let deadline = async {
        match budget.timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        r = finished => r,
        _ = budget.cancel.cancelled() => Err(EffectError::Cancelled),
        _ = deadline => Err(EffectError::TimedOut(budget.timeout.unwrap_or_default())),
    };
    let (status, out, err) = match (result, group) {
        (Ok(done), _) => done,
        // The shell's children too: a cancelled step must not leave work running behind the operator's back.
        (Err(ended @ (EffectError::Cancelled | EffectError::TimedOut(_))), Some(pgid)) => {
            let stopped = super::process_group::local_stop(pgid, &mut || {
                let _ = child.try_wait();
            })
            .await;
            let mut how = stopped.describe(LOCAL, pgid);
            if let Some(inside) = inside {
                let stop =
                    tokio::process::Command::new("sh").arg("-c").arg(&inside.stop_line).kill_on_drop(true).output();
                let there = match tokio::time::timeout(std::time::Duration::from_secs(15), stop).await {
                    Ok(Ok(out)) => inside.marked.describe(&String::from_utf8_lossy(&out.stdout)),
                    Ok(Err(e)) => format!("inside: NOT confirmed stopped: {e}"),
                    Err(_) => "inside: NOT confirmed stopped: no answer in 15s".to_string(),
                };
                how = format!("{how}; {there}");
            }
            return Err(EffectError::Stopped { cause: Box::new(ended), how });
        }
        (Err(e), _) => return Err(e),
    };
    use std::os::unix::process::ExitStatusExt;
    let code = status.code().map(i64::from).unwrap_or_else(|| 128 + i64::from(status.signal().unwrap_or(0)));
    Ok(ExecOutput {
        code,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        duration_ms: started.elapsed().as_millis() as u64,
    })
}
