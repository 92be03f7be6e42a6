//! A long-lived shell per ssh session that runs a target's commands one after another: opening an ssh
//! session costs the master, sshd and golive more than the command itself (`true` on a hundred hosts spent
//! three quarters of the machine's time in ssh and sshd), so a plain command (no stdin, no streamed lines)
//! goes to a shell already running on the target instead.
//!
//! The shell reads each command as a frame on its stdin and runs it as a session of its own would, in the
//! login shell: `setsid` (or, in bash, job control) gives it its own process group, whose id it reports first
//! on stderr, and a write waits for golive's go-ahead before its line runs. When it ends, the shell writes an
//! end mark with its exit status on stdout and on stderr. Marks and frames carry a random token that only
//! golive and the shell know, so nothing a command prints can end its output early or change its status.
//!
//! A shell is used again only when its command left nothing behind. If its process group still has members
//! (a background job that may still write), the shell ends after the marks and golive reads both streams to
//! their end, as it would a session's: what the job writes is the command's output, and the step waits for
//! it as it always did.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use openssh::{Child, ChildStderr, ChildStdin, ChildStdout, Session};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};

use super::ssh::{GO_AHEAD, Heard, RawOutput, Reporting, go_ahead_wait, stderr_telling_group};

/// Longer command lines take a session of their own: the shell reads a frame a byte at a time.
pub const LONGEST_LINE: usize = 8 * 1024;

/// The shell, in POSIX sh (dash, busybox) with builtins only: no process of its own per command besides the
/// command's. Its first stdin line is the token. Frames: `<token> r|w`, the command's lines, `<token>`; the
/// shell puts before them what a session's command starts with (the process group's report, a write's
/// wait for its go-ahead), so a frame carries only the command (it reads frames a byte at a time).
/// Each command runs in the user's login shell (`$SHELL`, which sshd sets), as in a session of its own, in a
/// process group of its own:
/// - the login shell is bash: in a subshell that job control puts in a group of its own (no program started
///   per command; `$$` is then the loop's);
/// - bash is on the target (and the login shell is another): the loop runs in bash, and each command's
///   job-control subshell execs `"$SHELL" -c` (one program a command; the environment is the login shell's:
///   SHLVL as it was, and `exec` sets no `_`);
/// - otherwise (busybox, no bash): `setsid "$SHELL" -c` (two programs a command).
///
/// Its variables are golive_*, never exported, and unset before a command runs in the loop's own shell.
fn shell_script() -> String {
    // Inside the loop's single quotes, itself inside the outer script's.
    let report = r#"printf '\036golive-pgid %s\n' ${BASHPID:-$$} >&2; "#.replace('\'', r"'\''");
    let wait = go_ahead_wait(true);
    debug_assert!(!wait.contains('\''));
    let restore_shlvl = r#"if [ -n "$golive_vs" ]; then SHLVL=$golive_v; else unset SHLVL; fi; "#;
    let unset = "unset golive_loop golive_t golive_c golive_j golive_e golive_v golive_vs golive_h golive_w golive_x golive_p \
                 golive_r golive_s";
    let job = |stdin: &str| {
        format!(
            r#"if [ -n "$golive_e" ]; then ( {restore_shlvl}exec "$golive_c" -c "$golive_l" ) {stdin} 3<&- &
    elif [ -n "$golive_j" ]; then ( set +m; {unset}; eval "$golive_l" ) {stdin} 3<&- &
    else setsid "$golive_c" -c "$golive_l" {stdin} 3<&- &
    fi"#
        )
    };
    let (write_job, read_job) = (job("<&3"), job("</dev/null"));
    let looped = format!(
        r#"exec 3<&0
IFS= read -r golive_t || exit 0
golive_c=${{SHELL:-/bin/sh}}
golive_j=
golive_e=
[ "${{1-}}" = exec ] && golive_e=1
golive_v=${{2-}}
golive_vs=${{3-}}
if [ -n "${{BASH_VERSION-}}" ] && set -m 2>/dev/null; then case $- in *m*) golive_j=1 ;; esac; fi
[ -n "$golive_j" ] || golive_e=
[ -n "$golive_j" ] || command -v setsid >/dev/null 2>&1 || {{ printf '\036%s no-setsid\n' "$golive_t"; exit 0; }}
printf '\036%s ready\n' "$golive_t"
while IFS= read -r golive_h; do
  case "$golive_h" in
    "$golive_t r") golive_w= ; golive_l='{report}exec </dev/null; ' ;;
    "$golive_t w") golive_w=1; golive_l='{report}{wait}exec </dev/null; ' ;;
    *) exit 0 ;;
  esac
  while IFS= read -r golive_x; do [ "$golive_x" = "$golive_t" ] && break; golive_l="$golive_l$golive_x
"; done
  if [ -n "$golive_w" ]; then
    {write_job}
  else
    {read_job}
  fi
  golive_p=$!
  # bash with job control would tell of a job a signal ended on stderr, the command's stream.
  wait $golive_p 2>/dev/null
  golive_r=$?
  kill -0 -$golive_p 2>/dev/null && golive_s=1 || golive_s=0
  printf '\036%s %s %s\n' "$golive_t" $golive_r $golive_s
  printf '\036%s %s %s\n' "$golive_t" $golive_r $golive_s >&2
  [ $golive_s = 0 ] || exit 0
done"#
    );
    // The loop runs in bash when the login shell is not bash and bash is there: one program a command
    // instead of two.
    format!(
        r#"golive_loop='{}'
if [ -z "${{BASH_VERSION-}}" ] && command -v bash >/dev/null 2>&1; then exec bash -c "$golive_loop" golive-shell exec "${{SHLVL-}}" "${{SHLVL+set}}"; fi
eval "$golive_loop""#,
        looped.replace('\'', r"'\''")
    )
}

/// No session or nothing after the frame was heard: nothing ran.
#[derive(Debug)]
pub enum Failure {
    /// The shell's channel ended before the command reported its process group: it did not run.
    NotStarted(std::io::Error),
    /// It ended after: the command may have run.
    Lost(std::io::Error),
}

/// A command's end as the shell reported it.
pub struct Ran {
    /// None when a write never got its go-ahead (the journal could not keep where it runs).
    pub output: Option<RawOutput>,
    /// Whether the shell may run another command.
    pub reusable: bool,
}

pub struct RemoteShell {
    session: Arc<Session>,
    token: String,
    child: Child<Arc<Session>>,
    stdin: ChildStdin,
    stdout: ChildStdout,
    stderr: ChildStderr,
}

impl RemoteShell {
    /// Starts the shell in a new session on the master. None when it cannot give each command a process group
    /// (no `setsid`, and the login shell is not bash).
    pub async fn start(session: &Arc<Session>) -> Result<Option<RemoteShell>, openssh::Error> {
        let token = super::fresh_token();
        let mut command = Session::arc_raw_command(Arc::clone(session), shell_script());
        command.stdin(openssh::Stdio::piped());
        command.stdout(openssh::Stdio::piped());
        command.stderr(openssh::Stdio::piped());
        let mut child = command.spawn().await?;
        let mut stdin = child.stdin().take().expect("stdin is piped");
        let mut stdout = child.stdout().take().expect("stdout is piped");
        let stderr = child.stderr().take().expect("stderr is piped");
        let greeting = async {
            stdin.write_all(format!("{token}\n").as_bytes()).await?;
            stdin.flush().await?;
            let mark = end_mark(&token);
            let mut until = UntilMark::new(&mut stdout, &mark);
            // What a login shell's rc files print before the greeting is not any command's.
            tokio::io::copy(&mut until, &mut tokio::io::sink()).await?;
            Ok::<_, std::io::Error>(until.trailer().map(|(words, _)| words.to_vec()).unwrap_or_default())
        };
        let answer = match greeting.await {
            Ok(answer) => answer,
            // The shell's stderr says why it ended (a login refused by the account's shell).
            Err(_) => return Err(openssh::Error::Disconnected),
        };
        if answer != b"ready" {
            return Ok(None);
        }
        Ok(Some(RemoteShell { session: Arc::clone(session), token, child, stdin, stdout, stderr }))
    }

    /// Whether this shell runs on that master.
    pub fn on(&self, session: &Arc<Session>) -> bool {
        Arc::ptr_eq(&self.session, session)
    }

    /// Runs `line` as `ssh::run_on` would in a session of its own: the process group told first, a write's
    /// line only once the journal durably keeps it, each output stream capped at `cap` bytes.
    pub(super) async fn run(
        &mut self,
        line: &str,
        go_ahead: bool,
        reporting: Reporting<'_>,
        cap: usize,
    ) -> Result<Ran, Failure> {
        let token = &self.token;
        let frame = format!("{token} {}\n{line}\n{token}\n", if go_ahead { "w" } else { "r" });
        let mark = end_mark(token);
        let (stdin, stdout, stderr) = (&mut self.stdin, &mut self.stdout, &mut self.stderr);
        let sent = async {
            stdin.write_all(frame.as_bytes()).await?;
            stdin.flush().await
        };
        sent.await.map_err(Failure::NotStarted)?;
        let (told, heard) = tokio::sync::oneshot::channel::<Heard>();
        let told = std::sync::Mutex::new(Some(told));
        let feed = async {
            if !go_ahead {
                return Ok::<_, std::io::Error>(true);
            }
            match heard.await.unwrap_or(Heard::NoMark) {
                Heard::Kept(line) if reporting.budget.durable(line).await => {
                    stdin.write_all(GO_AHEAD).await?;
                    stdin.flush().await?;
                    Ok(true)
                }
                // Anything but the go-ahead makes the waiting command end (status 125) without running.
                Heard::Kept(_) | Heard::NotKept => {
                    stdin.write_all(b"no\n").await?;
                    stdin.flush().await?;
                    Ok(false)
                }
                Heard::NoMark => Ok(true),
            }
        };
        let mut out_until = UntilMark::new(stdout, &mark);
        let read_out = super::capture::read_capped(&mut out_until, cap);
        let mut err_until = UntilMark::new(stderr, &mark);
        // Whether the command was heard of: an error after that may have cut it short, before it not.
        let heard_mark = std::cell::Cell::new(false);
        let tell = |pgid: u32| {
            heard_mark.set(true);
            (reporting.tell_group)(pgid)
        };
        let read_err = stderr_telling_group(&mut err_until, cap, &tell, &told);
        let joined = tokio::try_join!(feed, read_out, read_err);
        let (went, out, err) =
            joined.map_err(|e| if heard_mark.get() { Failure::Lost(e) } else { Failure::NotStarted(e) })?;
        let lost = || Failure::Lost(std::io::ErrorKind::UnexpectedEof.into());
        let (words, out_after) = out_until.trailer().map(|(w, a)| (w.to_vec(), a.to_vec())).ok_or_else(lost)?;
        let err_after = err_until.trailer().map(|(_, a)| a.to_vec()).ok_or_else(lost)?;
        let words = String::from_utf8_lossy(&words).into_owned();
        let mut words = words.split(' ');
        let code = words.next().and_then(|c| c.parse::<i64>().ok()).unwrap_or(255);
        let survivors = words.next() != Some("0");
        let (mut out, mut err) = (out, err);
        out.extend(out_after.iter().take(cap.saturating_sub(out.len())));
        err.extend(err_after.iter().take(cap.saturating_sub(err.len())));
        if survivors {
            // The shell has ended: the streams end when the group's last writer closes them.
            let more = tokio::try_join!(
                super::capture::read_capped(&mut self.stdout, cap.saturating_sub(out.len())),
                super::capture::read_capped(&mut self.stderr, cap.saturating_sub(err.len())),
            );
            let (more_out, more_err) = more.map_err(Failure::Lost)?;
            out.extend(more_out);
            err.extend(more_err);
        }
        // Output after the marks from outside the group: the shell is not trusted with another command.
        let reusable = !survivors && out_after.is_empty() && err_after.is_empty();
        if !went {
            return Ok(Ran { output: None, reusable });
        }
        Ok(Ran { output: Some(RawOutput { code, stdout: out, stderr: err, duration_ms: 0 }), reusable })
    }

    /// Ends the shell: it reads end-of-file and exits.
    pub async fn close(self) {
        drop(self.stdin);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), self.child.wait()).await;
    }
}

fn end_mark(token: &str) -> Vec<u8> {
    format!("\u{1e}{token} ").into_bytes()
}

/// A stream read up to an end mark: what comes before the mark, then end-of-file. The words after the mark,
/// up to its line break, are its trailer. End-of-file before the mark is an error.
pub struct UntilMark<'a, R> {
    inner: &'a mut R,
    mark: &'a [u8],
    held: Vec<u8>,
    trailer: Option<Vec<u8>>,
    ended: bool,
}

impl<'a, R> UntilMark<'a, R> {
    pub fn new(inner: &'a mut R, mark: &'a [u8]) -> UntilMark<'a, R> {
        UntilMark { inner, mark, held: Vec::new(), trailer: None, ended: false }
    }

    /// The words after the mark, and what followed their line; None before the mark's line ended.
    pub fn trailer(&self) -> Option<(&[u8], &[u8])> {
        if !self.ended {
            return None;
        }
        let trailer = self.trailer.as_deref()?;
        let end = trailer.iter().position(|b| *b == b'\n')?;
        Some((&trailer[..end], &trailer[end + 1..]))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(at) = haystack[from..].iter().position(|b| *b == first) {
        let at = from + at;
        if haystack[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Where the bytes that may begin the mark start (held until more arrive); the end when none may.
fn mark_may_begin(held: &[u8], mark: &[u8]) -> usize {
    let from = held.len().saturating_sub(mark.len() - 1);
    (from..held.len()).find(|at| mark.starts_with(&held[*at..])).unwrap_or(held.len())
}

/// Reads what `inner` has into `into`: the count, 0 at its end.
fn poll_more<R: AsyncRead + Unpin>(
    inner: &mut R,
    cx: &mut Context<'_>,
    into: &mut Vec<u8>,
) -> Poll<std::io::Result<usize>> {
    let mut chunk = [0u8; 8 * 1024];
    let mut buf = ReadBuf::new(&mut chunk);
    ready!(Pin::new(inner).poll_read(cx, &mut buf))?;
    into.extend_from_slice(buf.filled());
    Poll::Ready(Ok(buf.filled().len()))
}

impl<R: AsyncRead + Unpin> AsyncRead for UntilMark<'_, R> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let eof =
            || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the remote shell ended before its end mark");
        loop {
            if this.ended || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if let Some(trailer) = &mut this.trailer {
                if trailer.contains(&b'\n') {
                    this.ended = true;
                    continue;
                }
                if ready!(poll_more(this.inner, cx, trailer))? == 0 {
                    return Poll::Ready(Err(eof()));
                }
                continue;
            }
            let found = find(&this.held, this.mark);
            let safe = found.unwrap_or_else(|| mark_may_begin(&this.held, this.mark));
            if safe > 0 {
                let n = safe.min(buf.remaining());
                buf.put_slice(&this.held[..n]);
                this.held.drain(..n);
                return Poll::Ready(Ok(()));
            }
            if found.is_some() {
                this.trailer = Some(this.held.split_off(this.mark.len()));
                this.held.clear();
                continue;
            }
            if ready!(poll_more(this.inner, cx, &mut this.held))? == 0 {
                return Poll::Ready(Err(eof()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn until(stream: &[u8], mark: &[u8]) -> (std::io::Result<Vec<u8>>, Option<(Vec<u8>, Vec<u8>)>) {
        let mut inner = stream;
        let mut until = UntilMark::new(&mut inner, mark);
        let mut out = Vec::new();
        let read = until.read_to_end(&mut out).await.map(|_| out);
        let trailer = until.trailer().map(|(w, a)| (w.to_vec(), a.to_vec()));
        (read, trailer)
    }

    #[tokio::test]
    async fn output_ends_at_the_mark_and_its_trailer_is_kept() {
        let (out, trailer) = until(b"hello\nno newline\x1etok 3 0\n", b"\x1etok ").await;
        assert_eq!(out.unwrap(), b"hello\nno newline");
        assert_eq!(trailer, Some((b"3 0".to_vec(), Vec::new())));
    }

    #[tokio::test]
    async fn a_near_mark_is_output_and_what_follows_the_trailer_is_said() {
        let (out, trailer) = until(b"\x1eto\x1etox\x1etok 0 0\nlate", b"\x1etok ").await;
        assert_eq!(out.unwrap(), b"\x1eto\x1etox");
        assert_eq!(trailer, Some((b"0 0".to_vec(), b"late".to_vec())));
    }

    #[test]
    fn only_bytes_that_may_begin_the_mark_are_held_back() {
        assert_eq!(mark_may_begin(b"\x1egolive-pgid 12\n", b"\x1etok "), 16);
        assert_eq!(mark_may_begin(b"out\x1eto", b"\x1etok "), 3);
        assert_eq!(mark_may_begin(b"", b"\x1etok "), 0);
    }

    #[tokio::test]
    async fn the_end_of_the_stream_before_the_mark_is_an_error() {
        let (out, trailer) = until(b"partial output \x1eto", b"\x1etok ").await;
        assert_eq!(out.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
        assert_eq!(trailer, None);
        let (out, _) = until(b"x\x1etok 0 0", b"\x1etok ").await;
        assert!(out.is_err(), "a trailer without its line break is not an end");
    }
}
