//! The shared state store on PostgreSQL (`[state] url` or GOLIVE_STATE_URL): journals as rows, the run lock
//! as a session-level advisory lock held by this process's one connection. The lock dies with the process or
//! its connection, and so does every write: a journal whose connection is gone refuses to append, so the run
//! stops (fencing) rather than record what the store did not keep.
//!
//! tokio-postgres runs on a runtime of its own (one worker thread): the store is called from the run's thread,
//! from effects' async tasks and from the REPL alike, and blocks only the caller.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio_postgres::{AsyncMessage, Client, NoTls, Statement};

/// The first key of golive's advisory locks ("gl" in ASCII); the second is hashtext(target).
const LOCK_CLASS: i32 = 0x676c;
/// How long one statement may take before the store counts as lost.
const STATEMENT_LIMIT: Duration = Duration::from_secs(30);

/// Versioned migrations, applied in order, each once (golive_migrations records them).
const MIGRATIONS: &[(i32, &str)] = &[(1, include_str!("migrations/0001_runs.sql"))];

pub struct PgStore {
    client: Arc<Client>,
    runtime: tokio::runtime::Runtime,
    /// Why the connection ended, once it has.
    lost: Arc<Mutex<Option<String>>>,
    /// Notifications of new journal entries (after `listen`).
    written: Mutex<std::sync::mpsc::Receiver<String>>,
    /// Whether this connection LISTENs on golive_journal yet (the first wait starts it).
    listening: std::sync::atomic::AtomicBool,
    /// Targets this process holds: a second lock from the same process is refused, as a file lock is
    /// (PostgreSQL's session locks would grant it again).
    held: Mutex<BTreeSet<String>>,
    /// The url without its password, for messages.
    pub shown: String,
}

/// The run lock is a lease on the connection that holds it: after a silent network cut (no FIN, no RST)
/// both ends must notice within a minute or two, not after the kernel's two hours, so that the other
/// operator is not locked out and this run stops writing (fencing). The server probes the idle session
/// (its tcp_keepalives_* for this session) and gives up on unacknowledged data (tcp_user_timeout); so does
/// this end.
fn lease(config: &mut tokio_postgres::Config) {
    const IDLE: Duration = Duration::from_secs(20);
    const INTERVAL: Duration = Duration::from_secs(10);
    const PROBES: u32 = 4;
    const UNACKNOWLEDGED: Duration = Duration::from_secs(60);
    config
        .keepalives(true)
        .keepalives_idle(IDLE)
        .keepalives_interval(INTERVAL)
        .keepalives_retries(PROBES)
        .tcp_user_timeout(UNACKNOWLEDGED);
    let server = format!(
        "-c tcp_keepalives_idle={} -c tcp_keepalives_interval={} -c tcp_keepalives_count={PROBES} -c tcp_user_timeout={}",
        IDLE.as_secs(),
        INTERVAL.as_secs(),
        UNACKNOWLEDGED.as_millis()
    );
    let options = config.get_options().map(|o| format!("{o} {server}")).unwrap_or(server);
    config.options(options);
}

impl PgStore {
    pub fn connect(url: &str, password: Option<String>) -> Result<PgStore, String> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| format!("`[state] url` is not a PostgreSQL url: {e}"))?;
        let shown = shown(&config);
        if let Some(password) = password {
            config.password(password);
        }
        config.application_name("golive").connect_timeout(Duration::from_secs(10));
        lease(&mut config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("golive-state")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the state store's runtime: {e}"))?;
        let (client, mut connection) = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(15), config.connect(NoTls)).await })
            .map_err(|_| format!("cannot reach the state store {shown}: no answer within 15s"))?
            .map_err(|e| format!("cannot reach the state store {shown}: {}", describe(&e)))?;
        let lost = Arc::new(Mutex::new(None));
        let (tx, rx) = std::sync::mpsc::channel();
        let lost_by_driver = Arc::clone(&lost);
        runtime.spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            let why = loop {
                match messages.next().await {
                    Some(Ok(AsyncMessage::Notification(n))) => {
                        let _ = tx.send(n.payload().to_string());
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break describe(&e),
                    None => break "the server closed the connection".to_string(),
                }
            };
            *lost_by_driver.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        });
        let store = PgStore {
            client: Arc::new(client),
            runtime,
            lost,
            written: Mutex::new(rx),
            listening: std::sync::atomic::AtomicBool::new(false),
            held: Mutex::new(BTreeSet::new()),
            shown,
        };
        store.migrate()?;
        Ok(store)
    }

    /// Runs one piece of work on the store's runtime and waits for it, from any thread.
    fn call<T, F>(&self, work: impl FnOnce(Arc<Client>) -> F) -> Result<T, String>
    where
        F: Future<Output = Result<T, tokio_postgres::Error>> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(why) = self.lost() {
            return Err(format!("lost the state store {}: {why}", self.shown));
        }
        let work = work(Arc::clone(&self.client));
        let task = self.runtime.spawn(async move { tokio::time::timeout(STATEMENT_LIMIT, work).await });
        match futures::executor::block_on(task) {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(e))) => match self.lost() {
                Some(why) => Err(format!("lost the state store {}: {why}", self.shown)),
                None => Err(format!("the state store {} refused: {}", self.shown, describe(&e))),
            },
            Ok(Err(_)) => {
                Err(format!("the state store {} gave no answer within {}s", self.shown, STATEMENT_LIMIT.as_secs()))
            }
            Err(e) => Err(format!("the state store's task failed: {e}")),
        }
    }

    fn lost(&self) -> Option<String> {
        self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Brings the schema to this golive's version, one migration per transaction, under a lock so that two
    /// golive processes starting on a new database do not both apply it.
    fn migrate(&self) -> Result<(), String> {
        let known = MIGRATIONS.iter().map(|(v, _)| *v).max().unwrap_or(0);
        let applied = self.call(move |client| async move {
            client
                .batch_execute(&format!(
                    "BEGIN; SELECT pg_advisory_xact_lock({LOCK_CLASS}, 0);
                     CREATE TABLE IF NOT EXISTS golive_migrations (
                         version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now());"
                ))
                .await?;
            let rows = client.query("SELECT version FROM golive_migrations", &[]).await?;
            let applied: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
            for (version, sql) in MIGRATIONS {
                if applied.contains(version) {
                    continue;
                }
                client.batch_execute(sql).await?;
                client.execute("INSERT INTO golive_migrations (version) VALUES ($1)", &[version]).await?;
            }
            client.batch_execute("COMMIT").await?;
            Ok(applied)
        })?;
        match applied.iter().max() {
            Some(newest) if *newest > known => Err(format!(
                "the state store {} holds schema version {newest}, newer than this golive knows ({known}); \
                 upgrade golive on this machine",
                self.shown
            )),
            _ => Ok(()),
        }
    }

    /// Every run that has a journal, oldest first.
    pub fn run_ids(&self) -> Result<Vec<String>, String> {
        self.call(|client| async move {
            let rows = client
                .query(
                    "SELECT id FROM golive_runs r WHERE EXISTS (SELECT 1 FROM golive_entries e WHERE e.run_id = r.id)
                     ORDER BY created, id",
                    &[],
                )
                .await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    /// A run's entries as JSON text, in order.
    pub fn entries(&self, run_id: &str) -> Result<Vec<String>, String> {
        let id = run_id.to_string();
        self.call(move |client| async move {
            let rows =
                client.query("SELECT entry::text FROM golive_entries WHERE run_id = $1 ORDER BY seq", &[&id]).await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    /// Claims a run id; false when another run has it.
    pub fn reserve(&self, run_id: &str) -> Result<bool, String> {
        let id = run_id.to_string();
        self.call(move |client| async move {
            Ok(client.execute("INSERT INTO golive_runs (id) VALUES ($1) ON CONFLICT DO NOTHING", &[&id]).await? == 1)
        })
    }

    pub fn discard(&self, run_id: &str) -> Result<(), String> {
        let id = run_id.to_string();
        self.call(move |client| async move {
            client.execute("DELETE FROM golive_runs WHERE id = $1", &[&id]).await?;
            Ok(())
        })
    }

    /// A writer for a run's journal, appending after its last entry.
    pub fn journal(self: &Arc<Self>, run_id: &str) -> Result<PgJournal, String> {
        let id = run_id.to_string();
        let (insert, next) = self.call(move |client| async move {
            let insert = client
                .prepare("INSERT INTO golive_entries (run_id, seq, entry) VALUES ($1, $2, $3::text::json)")
                .await?;
            let row = client
                .query_one("SELECT coalesce(max(seq) + 1, 0) FROM golive_entries WHERE run_id = $1", &[&id])
                .await?;
            Ok((insert, row.get::<_, i32>(0)))
        })?;
        Ok(PgJournal { store: Arc::clone(self), run_id: run_id.to_string(), next, insert, failed: None })
    }

    /// Takes the target's advisory lock for this process and writes who holds it; None when it is held.
    pub fn lock(self: &Arc<Self>, target: &str, holder_json: String) -> Result<Option<PgLock>, String> {
        if self.held.lock().unwrap_or_else(|p| p.into_inner()).contains(target) {
            return Ok(None);
        }
        let name = target.to_string();
        let taken = self.call(move |client| async move {
            let row = client.query_one(&format!("SELECT pg_try_advisory_lock({LOCK_CLASS}, hashtext($1))"), &[&name]).await?;
            let taken: bool = row.get(0);
            if taken {
                client
                    .execute(
                        "INSERT INTO golive_locks (target, holder, backend_pid) VALUES ($1, $2::text::json, pg_backend_pid())
                         ON CONFLICT (target) DO UPDATE SET holder = EXCLUDED.holder, backend_pid = EXCLUDED.backend_pid",
                        &[&name, &holder_json],
                    )
                    .await?;
            }
            Ok(taken)
        })?;
        if !taken {
            return Ok(None);
        }
        self.held.lock().unwrap_or_else(|p| p.into_inner()).insert(target.to_string());
        Ok(Some(PgLock { store: Arc::clone(self), target: target.to_string() }))
    }

    /// Who holds the target now: the holder row, believed only while its backend holds the advisory lock.
    pub fn holder(&self, target: &str) -> Result<Option<String>, String> {
        let name = target.to_string();
        self.call(move |client| async move {
            let row = client
                .query_opt(
                    &format!(
                        "SELECT l.holder::text FROM golive_locks l WHERE l.target = $1 AND EXISTS (
                             SELECT 1 FROM pg_locks p WHERE p.locktype = 'advisory' AND p.granted
                             AND p.classid = {LOCK_CLASS} AND p.objid::bigint = (hashtext($1)::bigint & 4294967295)
                             AND p.objsubid = 2 AND p.pid = l.backend_pid)"
                    ),
                    &[&name],
                )
                .await?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    /// The entries' count and newest write time: what changes when any journal grows.
    pub fn fingerprint(&self) -> Result<String, String> {
        self.call(|client| async move {
            let row = client
                .query_one("SELECT count(*)::text || ' ' || coalesce(max(written)::text, '') FROM golive_entries", &[])
                .await?;
            Ok(row.get(0))
        })
    }

    /// Waits up to `limit` for a new journal entry anywhere; true when one came. The first call starts
    /// listening, so a caller reads once more after it (an entry written before then is not announced).
    pub fn wait_for_entry(&self, limit: Duration) -> Result<bool, String> {
        if !self.listening.swap(true, std::sync::atomic::Ordering::Relaxed) {
            self.call(|client| async move { client.batch_execute("LISTEN golive_journal").await })?;
            return Ok(true);
        }
        if let Some(why) = self.lost() {
            return Err(format!("lost the state store {}: {why}", self.shown));
        }
        let written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        match written.recv_timeout(limit) {
            Ok(_) => {
                while written.try_recv().is_ok() {}
                Ok(true)
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Ok(false),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                Err(format!("lost the state store {}: {}", self.shown, self.lost().unwrap_or_default()))
            }
        }
    }
}

/// One run's journal on the store. After a failed append it refuses every other: a run that lost its store
/// performs no further write.
pub struct PgJournal {
    store: Arc<PgStore>,
    run_id: String,
    next: i32,
    insert: Statement,
    failed: Option<String>,
}

impl PgJournal {
    pub fn append(&mut self, line: String) -> Result<(), String> {
        if let Some(why) = &self.failed {
            return Err(why.clone());
        }
        let (insert, id, seq) = (self.insert.clone(), self.run_id.clone(), self.next);
        let done = self.store.call(move |client| async move { client.execute(&insert, &[&id, &seq, &line]).await });
        match done {
            Ok(_) => {
                self.next += 1;
                Ok(())
            }
            Err(why) => {
                self.failed = Some(why.clone());
                Err(why)
            }
        }
    }

    pub fn location(&self) -> String {
        format!("{} (run {})", self.store.shown, self.run_id)
    }
}

/// The target's lock, released when dropped (or when the process or its connection ends).
pub struct PgLock {
    store: Arc<PgStore>,
    target: String,
}

impl Drop for PgLock {
    fn drop(&mut self) {
        let name = self.target.clone();
        let _ = self.store.call(move |client| async move {
            client
                .execute("DELETE FROM golive_locks WHERE target = $1 AND backend_pid = pg_backend_pid()", &[&name])
                .await?;
            client.query_one(&format!("SELECT pg_advisory_unlock({LOCK_CLASS}, hashtext($1))"), &[&name]).await?;
            Ok(())
        });
        self.store.held.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.target);
    }
}

/// The url as messages show it: user, host, port and database, never a password.
fn shown(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_default();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or_default(),
        config.get_dbname().unwrap_or_default()
    )
}

/// An error's whole chain: tokio-postgres keeps the reason ("password authentication failed") in its source.
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::lease;

    #[test]
    fn the_lock_is_a_lease_both_ends_give_up_on_a_silent_peer_within_two_minutes() {
        let mut config: tokio_postgres::Config =
            "postgres://golive@127.0.0.1/state?options=-c%20search_path%3Dgolive".parse().unwrap();
        lease(&mut config);
        let options = config.get_options().unwrap();
        // The server's side of the session, and the url's own options kept.
        assert!(options.starts_with("-c search_path=golive "), "{options}");
        for setting in
            ["tcp_keepalives_idle=20", "tcp_keepalives_interval=10", "tcp_keepalives_count=4", "tcp_user_timeout=60000"]
        {
            assert!(options.contains(setting), "{setting} in {options}");
        }
        // This end: idle 20 s + 4 probes x 10 s = 60 s to notice an idle peer gone, 60 s for unacknowledged data.
        assert!(config.get_keepalives());
        let notice = config.get_keepalives_idle()
            + config.get_keepalives_interval().unwrap() * config.get_keepalives_retries().unwrap();
        assert!(notice <= std::time::Duration::from_secs(120), "{notice:?}");
    }
}
