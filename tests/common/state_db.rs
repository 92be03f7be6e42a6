//! A database of its own on the test bed's PostgreSQL (127.0.0.1:15432, role golive) for one test's state
//! store, dropped when the test ends.

#![allow(dead_code)]

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const PASSWORD: &str = "state-rehearsal-pw";
const PORT: &str = "15432";

pub struct StateDb {
    pub name: String,
}

fn psql(database: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            PORT,
            "-U",
            "golive",
            "-d",
            database,
            "-X",
            "-A",
            "-t",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .env("PGPASSWORD", PASSWORD)
        .output()
        .expect("run psql");
    assert!(out.status.success(), "psql {database}: {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl StateDb {
    pub fn new() -> StateDb {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        super::testbed::up();
        let name = format!("golive_t_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        psql("golive", &format!("CREATE DATABASE {name}"));
        StateDb { name }
    }

    pub fn url(&self) -> String {
        format!("postgres://golive@127.0.0.1:{PORT}/{}", self.name)
    }

    /// One query's rows, `|`-separated, one per line.
    pub fn sql(&self, sql: &str) -> String {
        psql(&self.name, sql)
    }
}

impl Drop for StateDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", PORT, "-U", "golive", "-d", "golive", "-X", "-q", "-c"])
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .env("PGPASSWORD", PASSWORD)
            .output();
    }
}
