//! Provisioning: the store the server and the CLI share, the declarative site file, and
//! the `switchboard user ...` commands (with the CSV importer).
//!
//! Everything here talks to an [`sb_store::Store`] and never to SIP: the server sees what
//! these write by polling [`sb_store::Store::generation`], so the commands work the same
//! whether or not a server runs on the same data.

pub mod site;

use serde::Deserialize;

pub use site::SiteConfig;

/// Which database holds provisioning data and bindings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// An embedded SQLite file, `DATA/switchboard.db`.
    #[default]
    Sqlite,
    /// A PostgreSQL server shared by several hosts, at `[store] url`.
    Postgres,
}

/// `[store]`: where provisioning data and registrar bindings live.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `"sqlite"` (default) or `"postgres"`.
    pub backend: Backend,
    /// For PostgreSQL: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`. Unused for
    /// SQLite, whose file is always `DATA/switchboard.db`.
    pub url: Option<String>,
}

impl StoreConfig {
    /// Checks that the section can be used, naming the field when not.
    pub fn check(&self) -> anyhow::Result<()> {
        match (self.backend, &self.url) {
            (Backend::Postgres, None) => {
                anyhow::bail!("store.url is required when store.backend is \"postgres\"")
            }
            (Backend::Postgres, Some(url))
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) =>
            {
                anyhow::bail!("store.url must start with postgres:// or postgresql://")
            }
            (Backend::Sqlite, Some(_)) => anyhow::bail!(
                "store.url is only for store.backend = \"postgres\"; \
                 the SQLite file is always DATA/switchboard.db"
            ),
            _ => Ok(()),
        }
    }
}
