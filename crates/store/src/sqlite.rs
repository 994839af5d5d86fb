//! The embedded store: one SQLite file, `switchboard.db` under the data directory.
//!
//! WAL journal so readers never block the writer and another process (the CLI) can write
//! while the server runs; a busy timeout so that process waits for the lock instead of
//! failing; write transactions start with `BEGIN IMMEDIATE` so they take the write lock
//! up front and never fail midway on a lock upgrade.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::error::Result;
use crate::sql::impl_store;
use crate::BackendKind;

/// How long a writer waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// WAL allows many readers beside one writer; more connections than cores buys nothing.
const MAX_CONNECTIONS: u32 = 4;

/// A [`Store`](crate::Store) in a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

impl SqliteStore {
    /// The database file's name inside the data directory.
    pub const FILE_NAME: &'static str = "switchboard.db";
    const KIND: BackendKind = BackendKind::Sqlite;

    /// Opens (creating if needed) `dir/switchboard.db`, creating `dir` too.
    pub async fn open_dir(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        Self::open(&dir.join(Self::FILE_NAME)).await
    }

    /// Opens (creating if needed) the database file at `path` and applies pending
    /// migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable in WAL mode except for the last commits on power loss,
            // which the registrar's bindings can afford (clients re-register).
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await?;
        crate::migrations::sqlite().await?.run(&pool).await?;
        Ok(SqliteStore {
            pool,
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl_store!(SqliteStore, sqlx::Sqlite, "BEGIN IMMEDIATE");
