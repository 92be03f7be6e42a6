//! One run per target at a time, whatever the runbook: two runbooks that write to the same target (Saturday's
//! deploy and the quick rollback) never run at once. On the file store an OS file lock (flock); on PostgreSQL
//! an advisory lock (store/postgres.rs). Either dies with its process.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fd_lock::RwLock;
use serde::{Deserialize, Serialize};

use crate::error::{Failure, Result, io_failure};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Holder {
    pub by: String,
    pub pid: u32,
    pub since: String,
    pub run_id: String,
    /// The runbook it runs (as golive.toml's folder names it), or "repl".
    #[serde(default)]
    pub script: String,
}

/// Held for the life of the run; dropping it (or the process dying) releases the lock.
pub enum RunLock {
    File(#[allow(dead_code)] fd_lock::RwLockWriteGuard<'static, File>),
    Postgres(#[allow(dead_code)] crate::run::store::postgres::PgLock),
}

/// "target `web` is in use: ..." (exit 3), naming the holder when it is known.
pub fn in_use(target: &str, holder: Option<&Holder>) -> Failure {
    let who = match holder {
        Some(h) => format!("{} runs {} (pid {}) since {}, run {}", h.by, h.script, h.pid, h.since, h.run_id),
        None => "another golive process (its details are not written yet)".into(),
    };
    Failure::Locked(format!(
        "error: target `{target}` is in use: {who}\n  \
         hint: wait for it, or ask its operator; the lock is released when that process ends \
         (`--force` runs beside it anyway, and the journal says so)"
    ))
}

pub fn lock_path(golive_dir: &Path, target: &str) -> PathBuf {
    golive_dir.join("locks").join(format!("target-{target}.lock"))
}

/// Who holds the lock at `path` now, as its holder wrote it; None once that process is gone (the file keeps
/// the last holder's details after the lock is released).
pub fn holder(path: &Path) -> Option<Holder> {
    let holder: Holder = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    Path::new(&format!("/proc/{}", holder.pid)).exists().then_some(holder)
}

/// Whether the lock file names a holder process that no longer exists.
fn holder_is_gone(path: &Path) -> bool {
    let Some(holder) = std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str::<Holder>(&t).ok()) else {
        return false;
    };
    // SAFETY: kill with signal 0 only asks whether the process exists.
    let answer = unsafe { libc::kill(holder.pid as libc::pid_t, 0) };
    answer == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// Takes the target's lock, or says who holds it (exit 3).
pub fn acquire(path: &Path, holder: &Holder, target: &str) -> Result<RunLock> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_failure("create", dir, e))?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| io_failure("open lock", path, e))?;
    // The lock must outlive this function and is released by the OS when the process ends.
    let lock: &'static mut RwLock<File> = Box::leak(Box::new(RwLock::new(file)));
    // A holder that is gone may leave the lock held for an instant by a child it was forking (the open lock
    // file is shared until the child execs and closes it): wait that instant out, never a live holder.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while lock.try_write().is_err() && holder_is_gone(path) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut guard = match lock.try_write() {
        Ok(guard) => guard,
        Err(_) => {
            let mut text = String::new();
            let mut reader = File::open(path).map_err(|e| io_failure("read lock", path, e))?;
            reader.read_to_string(&mut text).map_err(|e| io_failure("read lock", path, e))?;
            return Err(in_use(target, serde_json::from_str::<Holder>(&text).ok().as_ref()));
        }
    };
    let json = serde_json::to_string(holder).expect("holder serialises");
    let file: &mut File = &mut guard;
    file.set_len(0)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(json.as_bytes()))
        .and_then(|_| file.flush())
        .map_err(|e| io_failure("write lock", path, e))?;
    Ok(RunLock::File(guard))
}
