//! The process group a command runs in, here or on a target: how golive looks for it and how it stops it.
//! Every command golive starts leads a group of its own (locally `setpgid`, remotely the session sshd
//! makes), so everything the command started can be found and stopped together.
//!
//! On a target the two facts are POSIX sh scripts (dash, busybox: `ps -e -o pgid= -o stat=`, else `kill
//! -0`) with their parsers beside them; here they read /proc. A zombie left for init to reap is gone: it
//! runs nothing, though `kill -0` would count it.

use std::time::{Duration, Instant};

/// How long a group has between TERM and KILL.
pub const GRACE: Duration = Duration::from_secs(2);

/// How a stop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It left after TERM.
    Term,
    /// It needed KILL.
    Kill,
    /// Still there after KILL (a process in uninterruptible sleep, say).
    StillRunning,
}

impl Stopped {
    /// The journal's words for it, e.g. "stopped on `web1` (process group 812: TERM, gone)".
    pub fn describe(self, target: &str, pgid: u32) -> String {
        match self {
            Stopped::Term => format!("stopped on `{target}` (process group {pgid}: TERM, gone)"),
            Stopped::Kill => format!("stopped on `{target}` (process group {pgid}: TERM, then KILL, gone)"),
            Stopped::StillRunning => {
                format!("NOT confirmed stopped on `{target}` (process group {pgid}): still running after KILL")
            }
        }
    }
}

// ----- on a target -----

/// Prints one line per live process of the group: `PID ARGS` (or `? ...` where `ps` cannot list them).
pub fn remote_members_script(pgid: u32) -> String {
    format!(
        "if ps -e -o pgid= -o stat= -o pid= -o args= >/dev/null 2>&1; then \
         ps -e -o pgid= -o stat= -o pid= -o args= | awk -v g={pgid} '$1 == g && $2 !~ /^Z/ {{ $1 = \"\"; $2 = \"\"; sub(/^ +/, \"\"); print }}'; \
         elif kill -0 -{pgid} 2>/dev/null; then echo '? (ps cannot list it)'; fi"
    )
}

/// The live processes `remote_members_script` printed.
pub fn parse_members(stdout: &str) -> Vec<String> {
    stdout.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

/// TERM to the group, up to `GRACE` for it to go, then KILL; prints `gone-term`, `gone-kill` or `still-running`.
pub fn remote_stop_script(pgid: u32) -> String {
    let alive = format!(
        "if ps -e -o pgid= -o stat= >/dev/null 2>&1; then \
         ps -e -o pgid= -o stat= | awk -v g={pgid} '$1 == g && $2 !~ /^Z/ {{ f = 1 }} END {{ exit !f }}'; \
         else kill -0 -{pgid} 2>/dev/null; fi"
    );
    stop_script(&alive, &format!("kill -TERM -{pgid} 2>/dev/null"), &format!("kill -KILL -{pgid} 2>/dev/null"))
}

/// The one stop sequence of every remote stop (POSIX sh): `alive` says whether anything is left, `term` and
/// `kill` send the signals; TERM, up to `GRACE` for it to go, then KILL; prints `gone-term`, `gone-kill` or
/// `still-running`.
pub fn stop_script(alive: &str, term: &str, kill: &str) -> String {
    let polls = GRACE.as_millis() / 50;
    format!(
        "alive() {{ {alive}; }}; \
         waitgone() {{ i=0; while alive && [ $i -lt {polls} ]; do sleep 0.05; i=$((i+1)); done; }}; \
         {term}; waitgone; \
         if alive; then {kill}; waitgone; if alive; then echo still-running; else echo gone-kill; fi; \
         else echo gone-term; fi"
    )
}

/// How `remote_stop_script` ended; None for an answer it never gives.
pub fn parse_stop(stdout: &str) -> Option<Stopped> {
    match stdout.trim() {
        "gone-term" => Some(Stopped::Term),
        "gone-kill" => Some(Stopped::Kill),
        "still-running" => Some(Stopped::StillRunning),
        _ => None,
    }
}

// ----- on this machine -----

/// Stops the local commands still running when golive dies, even by SIGKILL: no command goes on writing
/// alone after golive. Each command's environment carries a mark (`GOLIVE_LOCAL=<token>:<n>`) that
/// everything it starts inherits; a guard process (POSIX sh, started with the first command, in its own
/// process group and deaf to the terminal's signals) waits on a pipe only golive holds. golive keeps the
/// numbers of the commands running in a memory file the guard shares (rewritten in place before each
/// command starts and after it ends, so the guard is not woken for each); when the pipe closes with numbers
/// in it, golive died: the guard sends TERM, then after `GRACE` KILL, to every process that carries one of
/// their marks. What a command left running on purpose after it ended (a daemon) is not touched.
///
/// This replaces PR_SET_PDEATHSIG for commands: that needed a `pre_exec` hook, which forces a full fork of
/// golive for each command (posix_spawn cannot run one), and it reached only the command's first process.
pub struct LocalGuard {
    token: String,
    next: std::sync::atomic::AtomicU64,
    state: std::sync::Mutex<GuardState>,
}

#[derive(Default)]
struct GuardState {
    /// The guard process and the pipe it waits on; None until the first command.
    process: Option<(std::process::Child, std::process::ChildStdin)>,
    /// The memory file the guard reads once the pipe closes: the running numbers on one line.
    running_file: Option<std::fs::File>,
    running: std::collections::BTreeSet<u64>,
}

/// The environment variable that marks a local command and everything it starts.
pub const LOCAL_MARK: &str = "GOLIVE_LOCAL";

// The running numbers come on the guard's stdout, which is the memory file opened for reading and writing
// (a file descriptor std can hand a child without a `pre_exec` hook).
const GUARD_SCRIPT: &str = "trap '' INT HUP TERM QUIT PIPE\n\
while read -r _; do :; done\n\
read -r live <&1 || :\n\
exec >/dev/null\n\
[ -z \"$live\" ] && exit 0\n\
for sig in TERM KILL; do\n\
  for id in $live; do\n\
    for e in $(grep -lsxz \"GOLIVE_LOCAL=$1:$id\" /proc/[0-9]*/environ); do p=${e#/proc/}; kill -$sig \"${p%/environ}\" 2>/dev/null; done\n\
  done\n\
  [ $sig = TERM ] && sleep $2\n\
done\n";

impl Default for LocalGuard {
    fn default() -> LocalGuard {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        LocalGuard {
            token: format!("{}-{nanos:x}", std::process::id()),
            next: std::sync::atomic::AtomicU64::new(1),
            state: std::sync::Mutex::new(GuardState::default()),
        }
    }
}

impl LocalGuard {
    /// Marks `command` and records (starting the guard the first time) that it is about to run; the
    /// returned value records that it ended when dropped.
    pub fn watch(&self, command: &mut tokio::process::Command) -> Result<Watched<'_>, String> {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        command.env(LOCAL_MARK, format!("{}:{id}", self.token));
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.process.is_none() {
            self.start(&mut state)?;
        }
        state.running.insert(id);
        state.record()?;
        Ok(Watched { guard: self, id })
    }

    fn start(&self, state: &mut GuardState) -> Result<(), String> {
        use std::os::fd::FromRawFd;
        use std::os::unix::process::CommandExt;
        // SAFETY: memfd_create takes a NUL-terminated name and returns a new descriptor golive then owns.
        let fd = unsafe { libc::memfd_create(c"golive-local-guard".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(format!("cannot start the guard of local commands: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: `fd` was just created and nothing else holds it.
        let file = unsafe { std::fs::File::from_raw_fd(fd) };
        let for_guard = file.try_clone().map_err(|e| format!("cannot start the guard of local commands: {e}"))?;
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", GUARD_SCRIPT, "golive-local-guard", &self.token, &GRACE.as_secs().to_string()])
            .env_remove(LOCAL_MARK)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::from(for_guard))
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start the guard of local commands (/bin/sh): {e}"))?;
        let stdin = child.stdin.take().expect("the guard's stdin is piped");
        state.process = Some((child, stdin));
        state.running_file = Some(file);
        Ok(())
    }
}

impl GuardState {
    /// Rewrites the running numbers in one write at the file's start, so a golive killed at any moment
    /// leaves either the line before or the line after. The guard reads the first line only: what a longer
    /// line left after the newline is never read.
    fn record(&self) -> Result<(), String> {
        use std::os::unix::fs::FileExt;
        let Some(file) = &self.running_file else { return Ok(()) };
        let mut line = self.running.iter().map(u64::to_string).collect::<Vec<_>>().join(" ");
        line.push('\n');
        file.write_all_at(line.as_bytes(), 0).map_err(|e| format!("cannot tell the guard of local commands: {e}"))
    }
}

impl Drop for LocalGuard {
    /// golive ends with no command running: the guard finds no number, leaves, and touches nothing.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some((mut child, stdin)) = state.process.take() {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

/// A local command the guard knows is running.
pub struct Watched<'g> {
    guard: &'g LocalGuard,
    id: u64,
}

impl Drop for Watched<'_> {
    fn drop(&mut self) {
        let mut state = self.guard.state.lock().unwrap_or_else(|p| p.into_inner());
        state.running.remove(&self.id);
        // Its end not recorded (the write failed): the guard would only look for a command that is gone.
        let _ = state.record();
    }
}

/// The kernel kills a child golive starts here when golive dies, even by SIGKILL (PR_SET_PDEATHSIG): no
/// browser goes on alone after golive. (Commands have the `LocalGuard`, which also reaches what they start.)
pub fn dies_with_golive(command: &mut tokio::process::Command) {
    // SAFETY: prctl is async-signal-safe and touches only the child being set up.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The live processes of a group on this machine, as `PID ARGS`.
pub fn local_members(pgid: u32) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut members = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so read after the last ')'.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else { continue };
        let fields: Vec<&str> = after.split_whitespace().collect();
        let (Some(state), Some(group)) = (fields.first(), fields.get(2)) else { continue };
        if *state == "Z" || group.parse::<u32>().ok() != Some(pgid) {
            continue;
        }
        let args = std::fs::read(entry.path().join("cmdline"))
            .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " ").trim().to_string())
            .unwrap_or_default();
        members.push(format!("{pid} {args}"));
    }
    members
}

/// TERM to a group on this machine, up to `GRACE` for it to go, then KILL. `reap` collects golive's own
/// child (the group's leader), so it does not linger as a zombie while golive waits.
pub async fn local_stop(pgid: u32, reap: &mut dyn FnMut()) -> Stopped {
    let signal = |sig| {
        // SAFETY: killpg only sends a signal to the group golive started.
        unsafe { libc::killpg(pgid as libc::pid_t, sig) };
    };
    signal(libc::SIGTERM);
    if local_gone(pgid, reap).await {
        return Stopped::Term;
    }
    signal(libc::SIGKILL);
    if local_gone(pgid, reap).await { Stopped::Kill } else { Stopped::StillRunning }
}

/// Waits up to `GRACE` for a local group to have no live process.
async fn local_gone(pgid: u32, reap: &mut dyn FnMut()) -> bool {
    let until = Instant::now() + GRACE;
    loop {
        reap();
        if local_members(pgid).is_empty() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_one_per_line_without_blanks() {
        assert_eq!(parse_members("  812 sh -c sleep 30\n\n813 sleep 30\n"), ["812 sh -c sleep 30", "813 sleep 30"]);
        assert!(parse_members("").is_empty());
    }

    /// What the guard reads (its first line) after each rewrite: a shorter line leaves no number behind.
    #[test]
    fn the_running_line_is_rewritten_whole_and_a_shorter_one_covers_the_longer() {
        use std::io::{BufRead, Seek};
        let mut file = tempfile::tempfile().expect("a temporary file");
        let mut state = GuardState { running_file: Some(file.try_clone().unwrap()), ..GuardState::default() };
        let mut read = |state: &GuardState| {
            state.record().expect("recorded");
            file.rewind().unwrap();
            let mut line = String::new();
            std::io::BufReader::new(&file).read_line(&mut line).unwrap();
            line.split_whitespace().map(str::to_string).collect::<Vec<_>>()
        };
        state.running.extend([9, 10, 11]);
        assert_eq!(read(&state), ["9", "10", "11"]);
        state.running.remove(&10);
        assert_eq!(read(&state), ["9", "11"]);
        state.running.clear();
        assert!(read(&state).is_empty());
        state.running.insert(12);
        assert_eq!(read(&state), ["12"]);
    }

    #[test]
    fn stop_answers_are_read_and_anything_else_is_none() {
        assert_eq!(parse_stop("gone-term\n"), Some(Stopped::Term));
        assert_eq!(parse_stop("gone-kill"), Some(Stopped::Kill));
        assert_eq!(parse_stop("still-running"), Some(Stopped::StillRunning));
        assert_eq!(parse_stop("sh: ps: not found"), None);
    }

    #[tokio::test]
    async fn a_local_group_is_listed_then_stopped_with_term() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .process_group(0)
            .spawn()
            .expect("sh starts");
        let pgid = child.id();
        let until = Instant::now() + Duration::from_secs(5);
        while local_members(pgid).len() < 2 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        let members = local_members(pgid);
        assert!(members.iter().any(|m| m.contains("sleep 30")), "{members:?}");
        let stopped = local_stop(pgid, &mut || {
            let _ = child.try_wait();
        })
        .await;
        assert_eq!(stopped, Stopped::Term);
        assert!(local_members(pgid).is_empty());
    }
}
