//! Where runs live: their journals and the targets' locks. Files under `.golive/` by default (one machine);
//! PostgreSQL when golive.toml's `[state] url` (or GOLIVE_STATE_URL) names one, so that a team on several
//! machines sees, follows and resumes the same runs. Everything above this module asks a `Store` by run id and
//! never knows which one it has.

pub mod postgres;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::STATE_DIR;
use super::journal::{self, Journal, Record};
use super::lock::{self, Holder, RunLock};
use crate::config::Config;
use crate::error::{Failure, Result, io_failure};
use crate::secrets::Redactor;

/// Overrides `[state] url` for one shell or machine.
pub const URL_ENV: &str = "GOLIVE_STATE_URL";
/// The secret holding the store's password when `[state] password_secret` names none.
pub const DEFAULT_PASSWORD_SECRET: &str = "GOLIVE_STATE_PASSWORD";

pub enum Store {
    Files { state_dir: PathBuf },
    Postgres(Arc<postgres::PgStore>),
}

/// One store per project and process: a PostgreSQL connection holds this process's locks, so every part of
/// golive must use the same one.
static OPEN: Mutex<BTreeMap<PathBuf, Arc<Store>>> = Mutex::new(BTreeMap::new());

/// The store golive.toml (or GOLIVE_STATE_URL) names for this project, opened once per process.
pub fn of(config: &Config) -> Result<Arc<Store>> {
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(store) = open.get(&config.path) {
        return Ok(Arc::clone(store));
    }
    let url = std::env::var(URL_ENV).ok().filter(|u| !u.is_empty()).or_else(|| config.state.url.clone());
    let store = match url {
        None => Store::Files { state_dir: config.root.join(STATE_DIR) },
        Some(url) => {
            let secrets = crate::secrets::Secrets::load(&config.root, None, Redactor::new())?;
            let name = config.state.password_secret.as_deref().unwrap_or(DEFAULT_PASSWORD_SECRET);
            let password = match secrets.get(name) {
                Ok(password) => Some(password),
                Err(_) if config.state.password_secret.is_none() => None,
                Err(why) => return Err(Failure::Usage(format!("error: the state store's password: {why}"))),
            };
            let store = postgres::PgStore::connect(&url, password).map_err(|why| {
                Failure::Runbook(format!(
                    "error: {why}\n  hint: golive.toml's [state] url (or {URL_ENV}) names the shared state store; \
                     nothing was run"
                ))
            })?;
            Store::Postgres(Arc::new(store))
        }
    };
    let store = Arc::new(store);
    open.insert(config.path.clone(), Arc::clone(&store));
    Ok(store)
}

impl Store {
    /// Every run with a journal, oldest first (run ids start with their start time).
    pub fn run_ids(&self) -> Result<Vec<String>> {
        match self {
            Store::Files { state_dir } => {
                let runs = state_dir.join("runs");
                let mut dirs: Vec<PathBuf> = std::fs::read_dir(&runs)
                    .map(|d| {
                        d.filter_map(|e| e.ok().map(|e| e.path()))
                            .filter(|p| p.join(journal::FILE_NAME).is_file())
                            .collect()
                    })
                    .unwrap_or_default();
                dirs.sort_by_key(|d| {
                    (std::fs::metadata(d.join(journal::FILE_NAME)).and_then(|m| m.created()).ok(), d.clone())
                });
                Ok(dirs.iter().map(|d| d.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect())
            }
            Store::Postgres(pg) => pg.run_ids().map_err(Failure::Runbook),
        }
    }

    /// A run's journal as read back.
    pub fn read(&self, run_id: &str) -> Result<Record> {
        match self {
            Store::Files { .. } => journal::read(&self.journal_path(run_id)),
            Store::Postgres(pg) => {
                let lines = pg.entries(run_id).map_err(Failure::Runbook)?;
                journal::parse_lines(&lines, &format!("{} run {run_id}", pg.shown))
            }
        }
    }

    /// A new run id for a run of `script` on `target`, claimed so that no other run takes it.
    pub fn reserve(&self, script: &Path, target: &str) -> Result<String> {
        let stem = script.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let base = format!("{}-{stem}-{target}", chrono::Local::now().format("%Y%m%d-%H%M%S"));
        let runs = self.runs_dir();
        if let Store::Files { .. } = self {
            std::fs::create_dir_all(&runs).map_err(|e| io_failure("create", &runs, e))?;
        }
        for n in 1.. {
            let id = if n == 1 { base.clone() } else { format!("{base}-{n}") };
            let claimed = match self {
                Store::Files { .. } => match std::fs::create_dir(runs.join(&id)) {
                    Ok(()) => true,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
                    Err(e) => return Err(io_failure("create", &runs.join(&id), e)),
                },
                Store::Postgres(pg) => pg.reserve(&id).map_err(Failure::Runbook)?,
            };
            if claimed {
                return Ok(id);
            }
        }
        unreachable!("an unbounded counter always finds a free run id")
    }

    /// Forgets a reserved run that never started (its lock was refused).
    pub fn discard(&self, run_id: &str) {
        match self {
            Store::Files { .. } => {
                let _ = std::fs::remove_dir_all(self.runs_dir().join(run_id));
            }
            Store::Postgres(pg) => {
                let _ = pg.discard(run_id);
            }
        }
    }

    /// Starts a reserved run's journal with its first entry.
    pub fn create_journal(&self, run_id: &str, redactor: Arc<Redactor>, first: &journal::Entry) -> Result<Journal> {
        match self {
            Store::Files { .. } => Journal::create(&self.journal_path(run_id), redactor, first),
            Store::Postgres(pg) => {
                let sink = pg.journal(run_id).map_err(Failure::Runbook)?;
                let mut journal = Journal::on_postgres(sink, run_id, redactor);
                journal.append(first, true)?;
                Ok(journal)
            }
        }
    }

    /// Opens a run's journal to append to it (resume).
    pub fn reopen_journal(&self, run_id: &str, redactor: Arc<Redactor>) -> Result<Journal> {
        match self {
            Store::Files { .. } => Journal::reopen(&self.journal_path(run_id), redactor),
            Store::Postgres(pg) => {
                Ok(Journal::on_postgres(pg.journal(run_id).map_err(Failure::Runbook)?, run_id, redactor))
            }
        }
    }

    /// Takes the target's lock for this run, or says who holds it (exit 3).
    pub fn lock(&self, target: &str, holder: &Holder) -> Result<RunLock> {
        match self {
            Store::Files { state_dir } => lock::acquire(&lock::lock_path(state_dir, target), holder, target),
            Store::Postgres(pg) => {
                let json = serde_json::to_string(holder).expect("holder serialises");
                // A holder on this machine whose process is gone leaves the lock held until the server sees its
                // connection end, an instant later: wait that instant out, never a live holder.
                let deadline = std::time::Instant::now() + Duration::from_secs(3);
                loop {
                    if let Some(held) = pg.lock(target, json.clone()).map_err(Failure::Runbook)? {
                        return Ok(RunLock::Postgres(held));
                    }
                    let current = self.holder(target)?;
                    let gone_here = current.as_ref().is_some_and(|h| {
                        h.by.rsplit_once('@').is_some_and(|(_, host)| host == super::identity::hostname())
                            && !Path::new(&format!("/proc/{}", h.pid)).exists()
                    });
                    if !gone_here || std::time::Instant::now() > deadline {
                        return Err(lock::in_use(target, current.as_ref()));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }

    /// Who holds the target's lock now, if anyone does. A store that cannot be asked is an error, never
    /// "nobody": status would otherwise call a live run dead.
    pub fn holder(&self, target: &str) -> Result<Option<Holder>> {
        match self {
            Store::Files { state_dir } => Ok(lock::holder(&lock::lock_path(state_dir, target))),
            Store::Postgres(pg) => match pg.holder(target).map_err(Failure::Runbook)? {
                None => Ok(None),
                Some(json) => serde_json::from_str(&json).map(Some).map_err(|e| {
                    Failure::Runbook(format!(
                        "error: the holder of target `{target}` in {} is unreadable: {e}",
                        pg.shown
                    ))
                }),
            },
        }
    }

    /// Where a run's journal is, for the lines that tell the operator.
    pub fn location(&self, run_id: &str) -> String {
        match self {
            Store::Files { .. } => self.journal_path(run_id).display().to_string(),
            Store::Postgres(pg) => format!("{} (run {run_id})", pg.shown),
        }
    }

    /// Where the runs are, for "no runs ... yet" messages.
    pub fn describe(&self) -> String {
        match self {
            Store::Files { .. } => format!("under {}", self.runs_dir().display()),
            Store::Postgres(pg) => format!("in {}", pg.shown),
        }
    }

    /// Waits until a journal may have grown, or `limit` passed: a notification from PostgreSQL (LISTEN),
    /// or for files a look at the journals every 200 ms. Callers read again either way.
    pub fn wait_for_change(&self, limit: Duration) -> Result<()> {
        match self {
            Store::Files { .. } => {
                let before = self.fingerprint();
                let deadline = std::time::Instant::now() + limit;
                while std::time::Instant::now() < deadline && self.fingerprint() == before {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Ok(())
            }
            Store::Postgres(pg) => pg.wait_for_entry(limit).map(|_| ()).map_err(Failure::Runbook),
        }
    }

    /// What changes when any journal grows: for files their sizes and times, on PostgreSQL the entries'
    /// count and newest time. Compared, never shown.
    pub fn fingerprint(&self) -> String {
        match self {
            Store::Files { .. } => {
                let mut text = String::new();
                for id in self.run_ids().unwrap_or_default() {
                    let meta = std::fs::metadata(self.journal_path(&id)).ok();
                    let size = meta.as_ref().map(|m| m.len()).unwrap_or_default();
                    text.push_str(&format!("{id} {size} {:?}\n", meta.and_then(|m| m.modified().ok())));
                }
                text
            }
            Store::Postgres(pg) => pg.fingerprint().unwrap_or_else(|why| why),
        }
    }

    fn runs_dir(&self) -> PathBuf {
        match self {
            Store::Files { state_dir } => state_dir.join("runs"),
            Store::Postgres(_) => PathBuf::new(),
        }
    }

    fn journal_path(&self, run_id: &str) -> PathBuf {
        self.runs_dir().join(run_id).join(journal::FILE_NAME)
    }
}

/// The holder this process writes when it takes a target's lock.
pub fn holder_now(by: &str, since: &str, run_id: &str, script: &str) -> Holder {
    Holder {
        by: by.to_string(),
        pid: std::process::id(),
        since: since.to_string(),
        run_id: run_id.to_string(),
        script: script.to_string(),
    }
}
