//! The live world: performs effects for real. Today: commands on the local machine, sleeps and prompts.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::AsyncReadExt;
use tokio::runtime::Handle;

use super::{Budget, Command, Effect, EffectError, Exec, ExecOutput, Outcome, Provenance, World};
use crate::config::{Config, LOCAL};
use crate::terminal::Terminal;

pub struct LiveWorld {
    runtime: Handle,
    config: Arc<Config>,
    terminal: Arc<Terminal>,
}

impl LiveWorld {
    pub fn new(runtime: Handle, config: Arc<Config>, terminal: Arc<Terminal>) -> LiveWorld {
        LiveWorld { runtime, config, terminal }
    }

    fn exec(&self, exec: &Exec, budget: &Budget) -> Result<Outcome, EffectError> {
        let target = self.config.target(&exec.target).map_err(EffectError::Failed)?;
        if target.kind() != LOCAL {
            return Err(EffectError::Failed(format!(
                "target `{}` is an {} target, and this golive runs commands on local targets only",
                target.name,
                target.kind()
            )));
        }
        self.runtime.block_on(run_local(exec, budget)).map(Outcome::Exec)
    }
}

impl World for LiveWorld {
    fn perform(&self, effect: &Effect, budget: &Budget) -> Result<(Outcome, Provenance), EffectError> {
        let outcome = match effect {
            Effect::Exec(exec) => self.exec(exec, budget)?,
            Effect::Sleep { duration } => self.runtime.block_on(async {
                tokio::select! {
                    _ = tokio::time::sleep(*duration) => Ok(Outcome::Slept),
                    _ = budget.cancel.cancelled() => Err(EffectError::Cancelled),
                }
            })?,
            Effect::Prompt(prompt) => Outcome::Answer(self.terminal.ask(prompt, &budget.cancel)?),
        };
        Ok((outcome, Provenance::Performed))
    }
}

async fn run_local(exec: &Exec, budget: &Budget) -> Result<ExecOutput, EffectError> {
    let mut command = match &exec.command {
        Command::Shell(script) => {
            let mut c = tokio::process::Command::new("sh");
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
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0).kill_on_drop(true);
    let started = Instant::now();
    let mut child =
        command.spawn().map_err(|e| EffectError::Failed(format!("cannot start `{}`: {e}", exec.command.program())))?;
    let group = child.id().map(|pid| pid as libc::pid_t);
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let finished = async {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (r1, r2, status) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err), child.wait());
        r1.and(r2).map_err(|e| EffectError::Failed(format!("cannot read the command's output: {e}")))?;
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
    if result.is_err()
        && let Some(pgid) = group
    {
        // The shell's children too: a cancelled step must not leave work running behind the operator's back.
        // SAFETY: killpg only sends a signal; pgid is the group this child leads.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }
    let (status, out, err) = result?;
    use std::os::unix::process::ExitStatusExt;
    let code = status.code().map(i64::from).unwrap_or_else(|| 128 + i64::from(status.signal().unwrap_or(0)));
    Ok(ExecOutput {
        code,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        duration_ms: started.elapsed().as_millis() as u64,
    })
}
