//! The store: provisioning data (domains, users, digest credentials, numbers), registrar
//! bindings, and presence rows (manual states, access rules, contact lists, calendars,
//! and the live publications, subscriptions and in-call flags; see [`presence`]), in an
//! embedded SQLite file or a shared PostgreSQL database.
//!
//! The server, the CLI and the importer all talk to a [`Store`] (a trait object, so the
//! backend is picked at start from configuration). Both backends run the same SQL and
//! pass the same test suite; each applies its own migrations when opened.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sb_store::StoreError> {
//! use sb_store::{Domain, DomainName, SipAddress, Store, User};
//!
//! let store = sb_store::open_data_dir("./switchboard-data".as_ref()).await?;
//! store.add_domain(&Domain { name: DomainName::parse("example.com")? }).await?;
//! store.add_user(&User::new(SipAddress::parse("sip:alice@example.com")?)).await?;
//! let seen = store.generation().await?; // poll this to notice changes by other processes
//! # let _ = seen; Ok(()) }
//! ```
//!
//! What it never does: parse SIP, read the clock (times are inputs, in Unix seconds), or
//! keep a password (credentials hold HA1 hashes only).

mod error;
mod migrations;
mod model;
mod postgres;
pub mod presence;
mod rows;
mod sql;
mod sql_presence;
mod sqlite;
mod store;
pub mod validate;

use std::path::Path;
use std::sync::Arc;

pub use error::{Result, StoreError};
pub use model::{
    Binding, CallRecord, Change, Credential, DigestAlgorithm, Domain, DomainName, LineUri, Number,
    Outcome, Page, Policies, SipAddress, User, DISPLAY_NAME_MAX, E164, URI_MAX,
};
pub use postgres::{PgStore, DEFAULT_MAX_CONNECTIONS};
pub use presence::{
    AccessRule, CalendarSource, InCallFlag, ManualPresence, PresenceRow, Publication, Subscription,
    Watcher,
};
pub use sqlite::SqliteStore;
pub use store::{BackendKind, PresenceStore, Store};

/// Opens the embedded store in a data directory (`DIR/switchboard.db`), creating both.
pub async fn open_data_dir(dir: &Path) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(SqliteStore::open_dir(dir).await?))
}

/// Opens a store by URL: `postgres://...` or `postgresql://...` for PostgreSQL,
/// `sqlite:PATH` (or a bare path) for a SQLite file.
pub async fn open_url(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PgStore::connect(url).await?));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() {
        return Err(StoreError::Invalid {
            field: "store url",
            reason: format!("{url:?} names no file"),
        });
    }
    Ok(Arc::new(SqliteStore::open(Path::new(path)).await?))
}
