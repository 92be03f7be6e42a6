//! One run per runbook and target: an OS file lock (flock) that dies with the process that holds it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fd_lock::RwLock;
use serde::{Deserialize, Serialize};

use crate::error::{Failure, Result, io_failure};

#[derive(Debug, Serialize, Deserialize)]
pub struct Holder {
    pub by: String,
    pub pid: u32,
    pub since: String,
    pub run_id: String,
}

/// Held for the life of the run; dropping it (or the process dying) releases the lock.
pub struct RunLock {
    _guard: fd_lock::RwLockWriteGuard<'static, File>,
}

pub fn lock_path(golive_dir: &Path, script: &Path, target: &str) -> PathBuf {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(script.to_string_lossy().as_bytes());
    let stem = script.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    golive_dir.join("locks").join(format!("{stem}-{target}-{:.8}.lock", hex(&digest)))
}

pub fn acquire(path: &Path, holder: &Holder, script: &Path, target: &str) -> Result<RunLock> {
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
    let mut guard = match lock.try_write() {
        Ok(guard) => guard,
        Err(_) => {
            let mut text = String::new();
            let mut reader = File::open(path).map_err(|e| io_failure("read lock", path, e))?;
            reader.read_to_string(&mut text).map_err(|e| io_failure("read lock", path, e))?;
            let who = match serde_json::from_str::<Holder>(&text) {
                Ok(h) => format!("{} (pid {}) since {}, run {}", h.by, h.pid, h.since, h.run_id),
                Err(_) => "another golive process (its details are not written yet)".into(),
            };
            return Err(Failure::Locked(format!(
                "error: {} is already running against target `{target}`: held by {who}\n  \
                 hint: wait for it, or ask its operator; the lock is released when that process ends",
                script.display()
            )));
        }
    };
    let json = serde_json::to_string(holder).expect("holder serialises");
    let file: &mut File = &mut guard;
    file.set_len(0)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(json.as_bytes()))
        .and_then(|_| file.flush())
        .map_err(|e| io_failure("write lock", path, e))?;
    Ok(RunLock { _guard: guard })
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
