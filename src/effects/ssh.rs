//! Commands on ssh targets: one multiplexed master per target (openssh, native-mux), opened lazily on the
//! first command, reused by every command of the run, closed when the run ends. Each target's control socket
//! lives in a folder of its own inside a per-process folder (so opening one target's master never cleans
//! another's socket), and masters to different targets open in parallel.
//!
//! Masters run detached (`ssh -f`), so nothing the kernel does for golive's own children reaches them. A
//! small guard process, started with the first master, waits for golive's end on a pipe only golive holds:
//! when golive exits in any way (SIGKILL included) the pipe closes, and the guard closes every master still
//! open, stops by name any ssh still connecting into the folder (its master would come up after), and
//! removes the folder.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder};
use tokio::sync::Semaphore;

use super::remote_shell::{self, RemoteShell};
use super::{Access, Budget, EffectError, ExecOutput, process_group};

use crate::config::Target;

/// Concurrent commands per target unless golive.toml says otherwise: with `CONTROL_SESSIONS`, within sshd's
/// default MaxSessions (10 per connection).
pub const DEFAULT_MAX_SESSIONS: usize = 8;

/// Sessions per target kept for golive's own commands (stopping a timed-out command, asking whether one
/// runs): a fan-out that times out on every session can still stop each one, one or two at a time.
pub const CONTROL_SESSIONS: usize = 2;

/// One target's master, once opened; its lock is held while it connects.
type MasterSlot = Arc<tokio::sync::Mutex<Option<Arc<Session>>>>;

pub struct SshConnector {
    control_dir: PathBuf,
    /// Per target: its folder's number and its master, behind a lock of its own (connects to different
    /// targets do not wait for each other).
    sessions: Mutex<HashMap<String, (usize, MasterSlot)>>,
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Per target: the sessions kept for golive's own commands.
    control: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// The guard that cleans up after golive, once a master was opened.
    guard: Mutex<Option<std::process::Child>>,
    /// Per target: shells left running between commands (each holds one of its sessions).
    shells: Mutex<HashMap<String, Vec<RemoteShell>>>,
    /// Targets where a shell cannot run commands in process groups of their own (no `setsid` and not bash)
    /// or cannot start at all: every command takes a session.
    no_shell: Mutex<HashSet<String>>,
}

impl Default for SshConnector {
    fn default() -> Self {
        SshConnector::new()
    }
}

impl SshConnector {
    pub fn new() -> SshConnector {
        // Short, per connector: unix socket paths are limited to about 100 bytes. One process may hold several
        // connectors at once (the REPL's, and a `:run`'s): closing one must not close the others' masters.
        static CONNECTORS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = CONNECTORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let control_dir = std::env::temp_dir().join(format!("golive-ssh-{}-{n}", std::process::id()));
        SshConnector {
            control_dir,
            sessions: Mutex::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
            control: Mutex::new(HashMap::new()),
            guard: Mutex::new(None),
            shells: Mutex::new(HashMap::new()),
            no_shell: Mutex::new(HashSet::new()),
        }
    }

    /// Starts the guard (once): it reads its stdin until golive's end closes it, then closes every master
    /// left in the control folder and removes the folder. Its own process group and ignored signals keep a
    /// Ctrl-C or a closed terminal from ending it before golive.
    fn guard(&self) -> Result<(), EffectError> {
        let mut guard = self.guard.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_some() {
            return Ok(());
        }
        use std::os::unix::process::CommandExt;
        // A master still connecting when golive died has no socket to ask yet, and comes up later: its ssh
        // names the folder in its arguments (`-S DIR/tN/...`), so it is stopped by name, twice, a second
        // apart (a connect under way may fork its master in between). The guard's own arguments hold the
        // folder without `/t`.
        let script = "trap '' INT HUP TERM QUIT; cat >/dev/null; \
            for s in \"$1\"/t*/.ssh-connection*/master; do \
              [ -S \"$s\" ] && ssh -o ControlPath=\"$s\" -O exit golive-guard >/dev/null 2>&1; \
            done; \
            pkill -f -- \"$1/t\" 2>/dev/null; sleep 1; pkill -f -- \"$1/t\" 2>/dev/null; \
            rm -rf \"$1\"";
        let child = std::process::Command::new("sh")
            .args(["-c", script, "golive-guard"])
            .arg(&self.control_dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| EffectError::Failed(format!("cannot start the ssh guard (sh): {e}")))?;
        *guard = Some(child);
        Ok(())
    }

    /// Runs one shell line on the target, with its stdin fed to it when given; each output stream keeps at
    /// most `cap` bytes (head and tail). A write waits for golive's go-ahead, given once the journal holds
    /// where it runs.
    pub async fn run(
        &self,
        target: &Target,
        command: RemoteCommand<'_>,
        budget: &Budget<'_>,
        cap: usize,
    ) -> Result<ExecOutput, EffectError> {
        let raw = self.run_capped(target, command, budget, cap).await?;
        Ok(ExecOutput {
            code: raw.code,
            stdout: String::from_utf8_lossy(&raw.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&raw.stderr).into_owned(),
            duration_ms: raw.duration_ms,
        })
    }

    /// As `run`, a read with stdout and stderr as bytes and no cap (downloads: the output is the file).
    pub async fn run_raw(&self, target: &Target, line: &str, budget: &Budget<'_>) -> Result<RawOutput, EffectError> {
        let command = RemoteCommand { line, stdin: None, access: Access::Read, inside: None, stream: false };
        self.run_capped(target, command, budget, usize::MAX).await
    }

    async fn run_capped(
        &self,
        target: &Target,
        command: RemoteCommand<'_>,
        budget: &Budget<'_>,
        cap: usize,
    ) -> Result<RawOutput, EffectError> {
        let RemoteCommand { line, stdin, access, inside, stream } = command;
        let lines = if stream { budget.lines } else { None };
        // sshd hands the line to the remote shell as one argument: past the kernel's limit for one
        // argument (128 KiB on Linux) it fails with a bare "Broken pipe"; say what to do instead.
        const MAX_LINE: usize = 100 * 1024;
        if line.len() > MAX_LINE {
            return Err(EffectError::Failed(format!(
                "the command line for `{}` is {} bytes, more than ssh can carry as one command ({} bytes); \
                 send large data as a file (ssh::upload) or on stdin",
                target.name,
                line.len(),
                MAX_LINE
            )));
        }
        // The step's time runs while the command waits for a session, too.
        let deadline = async {
            match budget.timeout {
                Some(t) => tokio::time::sleep(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        let slots = self.slots(target);
        let _slot = tokio::select! {
            slot = slots.acquire() => slot.map_err(|_| EffectError::Failed("the session pool was closed".into()))?,
            _ = budget.cancel.cancelled() => return Err(not_started(EffectError::Cancelled)),
            _ = &mut deadline => return Err(not_started(EffectError::TimedOut(budget.timeout.unwrap_or_default()))),
        };
        // The remote command's process group, as soon as its shell reports it.
        let group = Mutex::new(None);
        // Once golive has given up on the command (cancel, timeout), a write that reports its group later
        // gets no go-ahead: reported as not started, it must not start.
        let given_up = std::sync::atomic::AtomicBool::new(false);
        let work = async {
            let session = self.session(target).await?;
            let started = Instant::now();
            let tell = |pgid: u32| {
                *group.lock().unwrap_or_else(|p| p.into_inner()) = Some(pgid);
                if given_up.load(std::sync::atomic::Ordering::SeqCst) {
                    return None;
                }
                budget.tell_started(&target.name, pgid)
            };
            let write = access == Access::Write;
            let plain = stdin.is_none() && !stream && line.len() <= remote_shell::LONGEST_LINE;
            let reporting = Reporting { tell_group: &tell, budget };
            let in_shell =
                if plain { self.run_in_shell(target, &session, line, write, reporting, cap).await } else { None };
            let result = match in_shell {
                Some(result) => result,
                None => {
                    // Its session takes the place of a shell left waiting, within the target's sessions.
                    drop(self.idle_shell(target, None));
                    refused_again(|| run_on(&session, line, stdin.clone(), write, reporting, cap, lines)).await
                }
            };
            match result {
                Ok(None) => Err(EffectError::Failed(format!(
                    "not started on `{}`: the journal could not record where it runs",
                    target.name
                ))),
                Ok(Some(out)) => Ok(RawOutput { duration_ms: started.elapsed().as_millis() as u64, ..out }),
                Err(e) => {
                    // A broken master is dropped so the next command (the next step's) reconnects.
                    if matches!(
                        e,
                        openssh::Error::Disconnected
                            | openssh::Error::RemoteProcessTerminated
                            | openssh::Error::SshMux(_)
                    ) {
                        *self.master(target).1.lock().await = None;
                    }
                    Err(EffectError::Failed(explain(target, &e, "running a command").await))
                }
            }
        };
        tokio::pin!(work);
        let ended = tokio::select! {
            result = &mut work => return result,
            _ = budget.cancel.cancelled() => EffectError::Cancelled,
            _ = &mut deadline => EffectError::TimedOut(budget.timeout.unwrap_or_default()),
        };
        given_up.store(true, std::sync::atomic::Ordering::SeqCst);
        // Cancel means stop: the command's process group is stopped on the target before golive reports.
        let pgid = *group.lock().unwrap_or_else(|p| p.into_inner());
        let how = match (pgid, inside) {
            (Some(pgid), None) => self.stop_group(target, pgid).await,
            // A compose exec's command runs in the container, outside the group: stopped there too.
            (Some(pgid), Some(inside)) => {
                let host = self.stop_group(target, pgid).await;
                let there = match self.control_command(target, inside.stop_line.clone()).await {
                    Ok(out) => inside.marked.describe(&out),
                    Err(e) => format!("inside: NOT confirmed stopped: {e}"),
                };
                format!("{host}; {there}")
            }
            (None, _) => NOT_STARTED.to_string(),
        };
        // Its session ends with it: the slot is given back only once sshd has closed it, so the next
        // command never finds every session still taken.
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut work).await;
        Err(EffectError::Stopped { cause: Box::new(ended), how })
    }

    /// Runs a plain command in one of the target's shells (`remote_shell`), started when none waits. None
    /// when the target cannot have one: the command then takes a session of its own.
    async fn run_in_shell(
        &self,
        target: &Target,
        session: &Arc<Session>,
        line: &str,
        write: bool,
        reporting: Reporting<'_>,
        cap: usize,
    ) -> Option<Result<Option<RawOutput>, openssh::Error>> {
        let mut retried = false;
        loop {
            let (mut shell, waited) = match self.idle_shell(target, Some(session)) {
                Some(shell) => (shell, true),
                None if self.no_shell.lock().unwrap_or_else(|p| p.into_inner()).contains(&target.name) => return None,
                None => match refused_again(|| RemoteShell::start(session)).await {
                    Ok(Some(shell)) => (shell, false),
                    // No setsid, or a shell that ended before its greeting (a login shell that is not POSIX,
                    // a forced command): nothing ran, and a session of its own says what is wrong, if anything.
                    Ok(None) | Err(_) => {
                        self.no_shell.lock().unwrap_or_else(|p| p.into_inner()).insert(target.name.clone());
                        return None;
                    }
                },
            };
            let lost = match shell.run(line, write, reporting, cap).await {
                Ok(ran) => {
                    if ran.reusable {
                        self.shells
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .entry(target.name.clone())
                            .or_default()
                            .push(shell);
                    }
                    return Some(Ok(ran.output));
                }
                // A shell that waited may have ended meanwhile; its command was never heard of, so it did
                // not run (a write never got its go-ahead, a read never started): once more, in a new one.
                Err(remote_shell::Failure::NotStarted(_)) if waited && !retried => {
                    retried = true;
                    continue;
                }
                Err(remote_shell::Failure::NotStarted(e) | remote_shell::Failure::Lost(e)) => e,
            };
            return Some(Err(match lost.kind() {
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::BrokenPipe => openssh::Error::Disconnected,
                _ => openssh::Error::ChildIo(lost),
            }));
        }
    }

    /// One of the target's waiting shells (on that master, when given); shells of a master no longer used
    /// are dropped.
    fn idle_shell(&self, target: &Target, on: Option<&Arc<Session>>) -> Option<RemoteShell> {
        let mut shells = self.shells.lock().unwrap_or_else(|p| p.into_inner());
        let waiting = shells.get_mut(&target.name)?;
        if let Some(session) = on {
            waiting.retain(|shell| shell.on(session));
        }
        waiting.pop()
    }

    /// Sends TERM to the remote process group, KILL after a grace period, and confirms it is gone: the
    /// journal's words for how it ended.
    async fn stop_group(&self, target: &Target, pgid: u32) -> String {
        match self.stop(target, pgid).await {
            Ok(stopped) => stopped.describe(&target.name, pgid),
            Err(e) => format!("NOT confirmed stopped on `{}` (process group {pgid}): {e}", target.name),
        }
    }

    /// Stops a process group on the target: TERM, KILL after a grace period, then confirms it is gone.
    pub async fn stop(&self, target: &Target, pgid: u32) -> Result<process_group::Stopped, String> {
        let out = self.control_command(target, process_group::remote_stop_script(pgid)).await?;
        process_group::parse_stop(&out).ok_or_else(|| format!("unexpected answer: {}", out.trim()))
    }

    /// The live processes of a process group on the target (`PID ARGS`); empty when it is gone.
    pub async fn members(&self, target: &Target, pgid: u32) -> Result<Vec<String>, String> {
        let out = self.control_command(target, process_group::remote_members_script(pgid)).await?;
        Ok(process_group::parse_members(&out))
    }

    /// A short command of golive's own (looking for or stopping a group), outside any step's budget: it
    /// must work after a timeout or a Ctrl-C, so it gets its own limit.
    async fn control_command(&self, target: &Target, script: String) -> Result<String, String> {
        let control = {
            let mut control = self.control.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(control.entry(target.name.clone()).or_insert_with(|| Arc::new(Semaphore::new(CONTROL_SESSIONS))))
        };
        let _slot = control.acquire().await.map_err(|_| "the session pool was closed".to_string())?;
        let session = self.session(target).await.map_err(|e| e.to_string())?;
        let limit = process_group::GRACE * 2 + Duration::from_secs(10);
        let answer = tokio::time::timeout(limit, async {
            Session::arc_raw_command(Arc::clone(&session), script).output().await
        })
        .await;
        match answer {
            Ok(Ok(out)) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
            Ok(Ok(out)) => Err(format!(
                "exit {}: {}",
                out.status.code().unwrap_or(255),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Ok(Err(e)) => Err(explain(target, &e, "asking about a process group").await),
            Err(_) => Err(format!("no answer from `{}` in {}", target.name, crate::duration::short(limit))),
        }
    }

    fn slots(&self, target: &Target) -> Arc<Semaphore> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let limit = target.spec.max_sessions.unwrap_or(DEFAULT_MAX_SESSIONS).max(1);
        Arc::clone(slots.entry(target.name.clone()).or_insert_with(|| Arc::new(Semaphore::new(limit))))
    }

    /// The target's folder number and master slot, created on first use.
    fn master(&self, target: &Target) -> (usize, MasterSlot) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let next = sessions.len();
        let (n, slot) = sessions.entry(target.name.clone()).or_insert_with(|| (next, Arc::default()));
        (*n, Arc::clone(slot))
    }

    async fn session(&self, target: &Target) -> Result<Arc<Session>, EffectError> {
        let (n, slot) = self.master(target);
        let mut master = slot.lock().await;
        if let Some(session) = master.as_ref() {
            return Ok(Arc::clone(session));
        }
        self.guard()?;
        // Short names: unix socket paths are limited to about 100 bytes.
        let control_dir = self.control_dir.join(format!("t{n}"));
        std::fs::create_dir_all(&control_dir)
            .map_err(|e| EffectError::Failed(format!("cannot create {}: {e}", control_dir.display())))?;
        let spec = &target.spec;
        let mut builder = SessionBuilder::default();
        builder
            .known_hosts_check(KnownHosts::Strict)
            .control_directory(&control_dir)
            .clean_history_control_directory(true)
            .control_persist(ControlPersist::IdleFor(NonZeroUsize::new(60).expect("60 is not zero")))
            .connect_timeout(Duration::from_secs(spec.connect_timeout.unwrap_or(10)));
        if let Some(user) = &spec.user {
            builder.user(user.clone());
        }
        if let Some(port) = spec.port {
            builder.port(port);
        }
        if let Some(key) = &spec.identity_file {
            builder.keyfile(key);
        }
        if let Some(known_hosts) = &spec.known_hosts {
            builder.user_known_hosts_file(known_hosts);
        }
        if let Some(config) = &spec.ssh_config {
            builder.config_file(config);
        }
        let host = spec.host.clone().unwrap_or_default();
        if let Some(key) = &spec.identity_file {
            check_key(target, key)?;
        }
        let session = match builder.connect_mux(&host).await {
            Ok(session) => session,
            Err(e) => return Err(EffectError::Failed(explain(target, &e, "connecting").await)),
        };
        let session = Arc::new(session);
        *master = Some(Arc::clone(&session));
        Ok(session)
    }

    /// Closes every master (the end of a run).
    pub async fn close(&self) {
        let shells: Vec<_> =
            self.shells.lock().unwrap_or_else(|p| p.into_inner()).drain().flat_map(|(_, shells)| shells).collect();
        futures::future::join_all(shells.into_iter().map(RemoteShell::close)).await;
        let slots: Vec<_> =
            self.sessions.lock().unwrap_or_else(|p| p.into_inner()).drain().map(|(_, (_, slot))| slot).collect();
        for slot in slots {
            if let Some(session) = slot.lock().await.take()
                && let Ok(session) = Arc::try_unwrap(session)
            {
                let _ = session.close().await;
            }
        }
        let _ = std::fs::remove_dir_all(&self.control_dir);
        // Its pipe closes: the guard finds nothing left to do and ends.
        if let Some(mut guard) = self.guard.lock().unwrap_or_else(|p| p.into_inner()).take() {
            drop(guard.stdin.take());
            let _ = guard.wait();
        }
    }
}

pub struct RawOutput {
    pub code: i64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub duration_ms: u64,
}

/// What the remote shell writes first on stderr: its pid, which is its process group (sshd starts each
/// session's command in a session of its own), so golive can stop everything the command started.
pub(super) const GROUP_MARK: &str = "\u{1e}golive-pgid ";

const NOT_STARTED: &str = "it had not started on the target";

/// One command for a target: its shell line, what it reads on stdin, whether it writes (a write waits for
/// the go-ahead), and how to stop it inside a container when it is a compose exec.
pub struct RemoteCommand<'a> {
    pub line: &'a str,
    pub stdin: Option<Vec<u8>>,
    pub access: Access,
    pub inside: Option<&'a Inside>,
    /// Its stdout lines go to the budget's `lines` as they arrive.
    pub stream: bool,
}

/// A compose exec's command, marked, and the shell line that stops it inside its container.
pub struct Inside {
    pub marked: super::container::Inside,
    pub stop_line: String,
}

/// An effect that ended while waiting for a session: nothing ran.
fn not_started(cause: EffectError) -> EffectError {
    EffectError::Stopped { cause: Box::new(cause), how: NOT_STARTED.into() }
}

/// What a write's shell reads before it runs its line: golive sends it once the journal holds where the
/// command runs, so a golive killed before that leaves nothing running (the shell reads end-of-file and exits).
pub(super) const GO_AHEAD: &[u8] = b"go\n";

/// What a write's shell runs before its line: it waits for the go-ahead, and ends with 125 on anything else.
/// `read` takes one line byte by byte from a pipe (POSIX), so what follows is the command's own stdin.
pub(super) fn go_ahead_wait(go_ahead: bool) -> &'static str {
    if go_ahead { "read -r golive_go && [ \"$golive_go\" = go ] || exit 125; " } else { "" }
}

/// Tells where a remote command runs, the moment its process group is reported: the journal's number for
/// that line, None when it was not kept (a write then does not start).
pub(super) type TellGroup<'a> = &'a dyn Fn(u32) -> Option<u64>;

/// How a remote command's whereabouts are kept: told to the journal the moment its group is reported, and
/// a write's go-ahead given once that line is durable (`Budget::durable`).
#[derive(Clone, Copy)]
pub(super) struct Reporting<'a> {
    pub tell_group: TellGroup<'a>,
    pub budget: &'a Budget<'a>,
}

/// A remote command's stderr, capped at `cap`: its process-group mark is told to `tell_group` and what was
/// heard sent on `told`; the lines before the mark (a login shell's rc files may print) stay part of stderr.
pub(super) async fn stderr_telling_group(
    stderr: impl tokio::io::AsyncRead + Unpin,
    cap: usize,
    tell_group: TellGroup<'_>,
    told: &Mutex<Option<tokio::sync::oneshot::Sender<Heard>>>,
) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncBufReadExt;
    let mut reader = tokio::io::BufReader::new(stderr);
    let mut before = Vec::new();
    let heard = loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            break Heard::NoMark;
        }
        let text = String::from_utf8_lossy(&line);
        if let Some(id) = text.strip_prefix(GROUP_MARK).and_then(|rest| rest.trim().parse::<u32>().ok()) {
            break match tell_group(id) {
                Some(line) => Heard::Kept(line),
                None => Heard::NotKept,
            };
        }
        if before.len() < cap {
            before.extend_from_slice(&line);
        }
    };
    if let Some(told) = told.lock().unwrap_or_else(|p| p.into_inner()).take() {
        let _ = told.send(heard);
    }
    let rest = super::capture::read_capped(&mut reader, cap.saturating_sub(before.len())).await?;
    before.extend(rest);
    Ok(before)
}

/// What the first stderr lines of a remote shell said about its process group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Heard {
    /// The group was reported and the journal keeps it, on that line (durable once synced).
    Kept(u64),
    /// Reported, but the journal could not keep it.
    NotKept,
    /// The shell ended without reporting it.
    NoMark,
}

/// Runs `line` through the remote user's shell, telling the shell's process group as soon as it starts.
/// With `go_ahead` (writes), the line runs only once the journal durably keeps where it runs and golive
/// said so on stdin; None when it never did. POSIX sh only (dash, busybox): a builtin printf before the line, no extra process.
async fn run_on(
    session: &Arc<Session>,
    line: &str,
    stdin: Option<Vec<u8>>,
    go_ahead: bool,
    reporting: Reporting<'_>,
    cap: usize,
    lines: Option<&dyn Fn(&str)>,
) -> Result<Option<RawOutput>, openssh::Error> {
    use tokio::io::AsyncWriteExt;
    let wrapped = format!("printf '\\036golive-pgid %s\\n' $$ >&2; {}{line}", go_ahead_wait(go_ahead));
    let mut command = Session::arc_raw_command(Arc::clone(session), wrapped);
    let piped = stdin.is_some() || go_ahead;
    command.stdin(if piped { openssh::Stdio::piped() } else { openssh::Stdio::null() });
    command.stdout(openssh::Stdio::piped());
    command.stderr(openssh::Stdio::piped());
    let mut child = command.spawn().await?;
    let input = child.stdin().take();
    let (told, heard) = tokio::sync::oneshot::channel::<Heard>();
    let told = Mutex::new(Some(told));
    let feed = async {
        let Some(mut input) = input else { return Ok::<_, std::io::Error>(true) };
        if go_ahead {
            // No go-ahead without the journal's record of where it runs: the shell then reads end-of-file.
            match heard.await.unwrap_or(Heard::NoMark) {
                Heard::Kept(line) if reporting.budget.durable(line).await => input.write_all(GO_AHEAD).await?,
                Heard::Kept(_) | Heard::NotKept => {
                    drop(input);
                    return Ok(false);
                }
                // The shell ended before the mark (a login refused by the account's shell): its output says why.
                Heard::NoMark => return Ok(true),
            }
        }
        // A command that ends without reading all its stdin is its own business, not a transport error.
        let fed = async {
            if let Some(bytes) = stdin {
                input.write_all(&bytes).await?;
            }
            input.shutdown().await
        };
        fed.await.or_else(super::capture::unread_input)?;
        Ok(true)
    };
    let mut stdout = child.stdout().take().expect("stdout is piped");
    let stderr = child.stderr().take().expect("stderr is piped");
    let read_out = super::capture::read_capped_lines(&mut stdout, cap, lines);
    let read_err = stderr_telling_group(stderr, cap, reporting.tell_group, &told);
    let (went, out, err) = tokio::try_join!(feed, read_out, read_err).map_err(openssh::Error::ChildIo)?;
    let status = child.wait().await;
    if !went {
        return Ok(None);
    }
    match status {
        Ok(status) => Ok(Some(RawOutput {
            code: status.code().map(i64::from).unwrap_or(255),
            stdout: out,
            stderr: err,
            duration_ms: 0,
        })),
        // The crate turns a remote exit 127 into an error: it is a command result.
        Err(openssh::Error::Remote(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(Some(RawOutput { code: 127, stdout: out, stderr: err, duration_ms: 0 }))
        }
        Err(e) => Err(e),
    }
}

/// sshd counts a session until it has closed it, a moment after its command ended: a new one right then may
/// be refused. A refused session ran nothing, so golive asks again briefly (bounded by the step's timeout,
/// which races the whole command).
async fn refused_again<T, F, Fut>(mut open: F) -> Result<T, openssh::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, openssh::Error>>,
{
    let mut refusals = 0;
    loop {
        match open().await {
            Err(e) if refusals < 200 && with_source(&e).contains("Session open refused") => {
                refusals += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => return other,
        }
    }
}

/// An error's text with its cause's (the crate keeps sshd's words in the source).
fn with_source(err: &openssh::Error) -> String {
    format!("{err} {}", std::error::Error::source(err).map(|s| s.to_string()).unwrap_or_default())
}

/// A key ssh would skip (missing, unreadable, readable by others) is named before ssh turns it into a
/// misleading "Permission denied".
fn check_key(target: &Target, key: &str) -> Result<(), EffectError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let path = match (key.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(key),
    };
    let name = &target.name;
    let unreadable = |why: String| {
        EffectError::Failed(format!(
            "target `{name}`: cannot read identity_file {key}: {why}; check `identity_file` for [targets.{name}] in golive.toml"
        ))
    };
    let meta = std::fs::metadata(&path).map_err(|e| unreadable(e.to_string()))?;
    if meta.is_dir() {
        return Err(unreadable("it is a folder".into()));
    }
    // SAFETY: getuid has no preconditions.
    let me = unsafe { libc::getuid() };
    let mode = meta.permissions().mode() & 0o777;
    std::fs::File::open(&path).map_err(|e| {
        // Whose the key is says what to do: another user's private key is theirs to share, not a typo.
        unreadable(format!("{e}; it belongs to uid {} (mode {mode:o}) and golive runs as uid {me}", meta.uid()))
    })?;
    if meta.uid() == me && mode & 0o077 != 0 {
        return Err(EffectError::Failed(format!(
            "target `{name}`: identity_file {key} is readable by others (mode {mode:o}), and ssh refuses to use such a \
             key; make it private: chmod 600 {key}"
        )));
    }
    Ok(())
}

/// What ssh really uses for a target: golive.toml's settings over ssh_config's, as `ssh -G` resolves them.
#[derive(Debug, Clone, PartialEq)]
struct Resolved {
    host: String,
    port: u16,
    user: Option<String>,
    known_hosts: String,
    host_key_alias: Option<String>,
    proxy_jump: Option<String>,
}

impl Resolved {
    /// golive.toml's values and ssh's defaults, when `ssh -G` cannot say.
    fn from_spec(target: &Target) -> Resolved {
        let spec = &target.spec;
        Resolved {
            host: spec.host.clone().unwrap_or_else(|| "?".into()),
            port: spec.port.unwrap_or(22),
            user: spec.user.clone(),
            known_hosts: spec.known_hosts.clone().unwrap_or_else(|| "~/.ssh/known_hosts".into()),
            host_key_alias: None,
            proxy_jump: None,
        }
    }

    /// Reads `ssh -G` output (`key value` lines) over the spec's values.
    fn parse(target: &Target, text: &str) -> Resolved {
        let mut resolved = Resolved::from_spec(target);
        for line in text.lines() {
            let Some((key, value)) = line.split_once(' ') else { continue };
            let value = value.trim();
            match key {
                "hostname" => resolved.host = value.to_string(),
                "port" => resolved.port = value.parse().unwrap_or(resolved.port),
                "user" => resolved.user = Some(value.to_string()),
                "userknownhostsfile" => {
                    resolved.known_hosts = value.split_whitespace().next().unwrap_or(value).to_string()
                }
                "hostkeyalias" => resolved.host_key_alias = Some(value.to_string()),
                "proxyjump" if value != "none" => resolved.proxy_jump = Some(value.to_string()),
                _ => {}
            }
        }
        resolved
    }

    /// How known_hosts names this host: bare on port 22, `[host]:port` otherwise, or its HostKeyAlias.
    fn known_hosts_name(&self) -> String {
        match (&self.host_key_alias, self.port) {
            (Some(alias), _) => alias.clone(),
            (None, 22) => self.host.clone(),
            (None, port) => format!("[{}]:{port}", self.host),
        }
    }
}

/// Asks ssh how it resolves the target (no connection is made): only on the error path.
async fn resolve(target: &Target) -> Resolved {
    let spec = &target.spec;
    let mut command = tokio::process::Command::new("ssh");
    command.arg("-G");
    if let Some(config) = &spec.ssh_config {
        command.arg("-F").arg(config);
    }
    if let Some(port) = spec.port {
        command.arg("-p").arg(port.to_string());
    }
    if let Some(user) = &spec.user {
        command.arg("-l").arg(user);
    }
    if let Some(known_hosts) = &spec.known_hosts {
        command.arg("-o").arg(format!("UserKnownHostsFile={known_hosts}"));
    }
    command.arg(spec.host.as_deref().unwrap_or_default());
    command.stdin(std::process::Stdio::null()).kill_on_drop(true);
    match tokio::time::timeout(Duration::from_secs(5), command.output()).await {
        Ok(Ok(out)) if out.status.success() => Resolved::parse(target, &String::from_utf8_lossy(&out.stdout)),
        _ => Resolved::from_spec(target),
    }
}

async fn explain(target: &Target, err: &openssh::Error, doing: &str) -> String {
    transport_error(target, &resolve(target).await, err, doing)
}

/// What went wrong between golive and the target, in words that say what to do.
fn transport_error(target: &Target, resolved: &Resolved, err: &openssh::Error, doing: &str) -> String {
    let spec = &target.spec;
    let (host, port) = (&resolved.host, resolved.port);
    let mut at = format!("{host}:{port}");
    let written = spec.host.as_deref().unwrap_or_default();
    if written != host || resolved.proxy_jump.is_some() {
        let through = resolved.proxy_jump.as_deref().map(|j| format!(", through ProxyJump {j}")).unwrap_or_default();
        at.push_str(&format!(" (`{written}` in ssh_config{through})"));
    }
    let known_hosts = &resolved.known_hosts;
    let text = with_source(err);
    let name = &target.name;
    if text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || text.contains("Host key for") && text.contains("has changed")
    {
        format!(
            "target `{name}`: the host key of {at} has CHANGED since it was recorded in {known_hosts}. This may be an \
             attack, or the host was rebuilt. Verify the new key with the host's owner, then replace the old line: \
             ssh-keygen -R '{}' -f {known_hosts}",
            resolved.known_hosts_name()
        )
    } else if text.contains("host key is known") || text.contains("Host key verification failed") {
        format!(
            "target `{name}`: the host key of {at} is not in {known_hosts}, and golive checks host keys strictly. \
             Verify the host's fingerprint with its owner, then add it: {}",
            match &resolved.host_key_alias {
                None => format!("ssh-keyscan -p {port} {host} >> {known_hosts}"),
                // Recorded under its HostKeyAlias, which ssh-keyscan does not know.
                Some(alias) => format!("ssh-keyscan -p {port} {host} | sed 's/^[^ ]*/{alias}/' >> {known_hosts}"),
            }
        )
    } else if text.contains("Permission denied") {
        format!(
            "target `{name}`: {at} refused to log in user `{}` with {}; check `user` and `identity_file` for \
             [targets.{name}] in golive.toml{}",
            resolved.user.as_deref().unwrap_or("(ssh default)"),
            spec.identity_file
                .as_deref()
                .map(|k| format!("key {k}"))
                .unwrap_or("ssh's keys (ssh_config, agent)".into()),
            if spec.ssh_config.is_some() { " (or User and IdentityFile in its ssh_config)" } else { "" }
        )
    } else if text.contains("Connection refused") {
        format!(
            "target `{name}`: {at} refused the connection; is sshd running there, and is `port` right in golive.toml?"
        )
    } else if text.contains("timed out") || text.contains("Connection timed out") {
        format!("target `{name}`: no answer from {at} within the connect timeout; is the host up and reachable?")
    } else if matches!(err, openssh::Error::Disconnected | openssh::Error::RemoteProcessTerminated) {
        format!("target `{name}`: the connection to {at} was lost while {doing}; the next step reconnects")
    } else {
        format!("target `{name}`: ssh failed while {doing}: {}", text.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TargetSpec;

    fn target(host: &str) -> Target {
        Target { name: "web".into(), spec: TargetSpec { host: Some(host.into()), ..TargetSpec::default() } }
    }

    #[test]
    fn ssh_g_output_overrides_the_spec_and_names_the_first_known_hosts_file() {
        let text = "host bedalias\nhostname 10.0.0.5\nport 2222\nuser deploy\n\
                    userknownhostsfile ~/.ssh/known_hosts ~/.ssh/known_hosts2\nproxyjump bastion\n";
        let r = Resolved::parse(&target("bedalias"), text);
        assert_eq!((r.host.as_str(), r.port, r.user.as_deref()), ("10.0.0.5", 2222, Some("deploy")));
        assert_eq!(r.known_hosts, "~/.ssh/known_hosts");
        assert_eq!(r.proxy_jump.as_deref(), Some("bastion"));
        assert_eq!(r.known_hosts_name(), "[10.0.0.5]:2222");
    }

    #[test]
    fn known_hosts_names_port_22_bare_and_prefers_the_host_key_alias() {
        let r = Resolved::parse(&target("db"), "hostname db.internal\nport 22\nproxyjump none\n");
        assert_eq!(r.known_hosts_name(), "db.internal");
        assert_eq!(r.proxy_jump, None);
        let r = Resolved::parse(&target("db"), "hostname db.internal\nport 22\nhostkeyalias db-primary\n");
        assert_eq!(r.known_hosts_name(), "db-primary");
    }
}
