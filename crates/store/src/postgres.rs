//! The shared store: a PostgreSQL database, for sites that run roles on several hosts.
//! Plain TCP to the server (no TLS in this build: run it on loopback or a private network).

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::error::Result;
use crate::sql::impl_store;
use crate::BackendKind;

/// Pool size when the caller gives none.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;
/// How long a query waits for a free connection before the store reports an error, so a
/// dead database becomes an error answer rather than a stuck task.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`Store`](crate::Store) in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    const KIND: BackendKind = BackendKind::Postgres;

    /// Connects to `url` (`postgres://user@host:port/db`) and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let options: PgConnectOptions = url.parse()?;
        Self::connect_with(options, DEFAULT_MAX_CONNECTIONS).await
    }

    /// Connects with explicit options and pool size, and applies pending migrations
    /// (concurrent starters serialize on the migrator's advisory lock).
    pub async fn connect_with(options: PgConnectOptions, max_connections: u32) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        crate::migrations::postgres().await?.run(&pool).await?;
        Ok(PgStore { pool })
    }
}

impl_store!(PgStore, sqlx::Postgres, "BEGIN");
