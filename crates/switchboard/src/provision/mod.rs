//! Provisioning: the store the server and the CLI share, the declarative site file, and
//! the `switchboard user ...` commands (with the CSV importer).
//!
//! Everything here talks to an [`sb_store::Store`] and never to SIP. The server notices
//! what these write by polling [`sb_store::Store::generation`], so the commands work the
//! same whether or not a server runs on the same data: both open the same SQLite file
//! (WAL mode lets one write while the other reads) or the same PostgreSQL database.
//!
//! Passwords never reach the store: [`spec::credentials`] turns one into an HA1 per digest
//! algorithm (MD5 and SHA-256, RFC 8760 §3) for the realm of the user's domain.

pub mod import;
pub mod presence_site;
pub mod rules;
pub mod site;
pub mod spec;
pub mod user_cmd;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use sb_store::{SqliteStore, Store};
use serde::Deserialize;

pub use site::{apply_site_routed, SiteConfig, Summary};

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

    /// Where the data lives, for people: the SQLite file, or the PostgreSQL URL without
    /// its password.
    pub fn describe(&self, data_dir: &Path) -> String {
        match (self.backend, &self.url) {
            (Backend::Postgres, Some(url)) => format!("PostgreSQL at {}", redact_url(url)),
            _ => format!(
                "SQLite file {}",
                absolute(data_dir).join(SqliteStore::FILE_NAME).display()
            ),
        }
    }
}

/// Opens the store the configuration names: `DATA/switchboard.db` (created with the
/// directory if missing) by default, or PostgreSQL for `backend = "postgres"`. Migrations
/// are applied on open. The server and every `switchboard user` command open it this way.
pub async fn open_store(data_dir: &Path, config: &StoreConfig) -> anyhow::Result<Arc<dyn Store>> {
    config.check()?;
    match (config.backend, &config.url) {
        (Backend::Postgres, Some(url)) => sb_store::open_url(url)
            .await
            .with_context(|| format!("cannot open the store: {}", config.describe(data_dir))),
        _ => {
            let store = SqliteStore::open_dir(data_dir)
                .await
                .with_context(|| format!("cannot open the store: {}", config.describe(data_dir)))?;
            Ok(Arc::new(store))
        }
    }
}

/// What `serve` prints when it starts with no users: where the data lives and how to add
/// the first user, so a newcomer can register a softphone next.
pub fn first_start_hint(data_dir: &Path, config: &StoreConfig) -> String {
    let data = absolute(data_dir);
    let data_flag = match config.backend {
        Backend::Sqlite => format!(" --data {}", shell_word(&data.display().to_string())),
        Backend::Postgres => " --config FILE".to_owned(),
    };
    format!(
        "No users yet. Data lives in {where_}.\n\
         Add the first user (in another terminal; the running server sees it within a second):\n\
         \n    printf '%s\\n' 'choose-a-password' | switchboard user add sip:alice@example.com \
         --name \"Alice\" --password-stdin{data_flag}\n\
         \n\
         Use your SIP domain instead of example.com. Then sign a softphone in as user \
         \"alice\", domain example.com, with that password, registering to this server.\n\
         Or list users in the [site] section of the config file (docs/config.md), or import \
         a CSV file with `switchboard user import` (docs/provisioning.md).",
        where_ = config.describe(data_dir),
    )
}

/// `postgres://user:secret@host/db` without the secret, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_owned(),
    }
}

fn absolute(p: &Path) -> std::path::PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_section_checks_name_the_field() {
        let pg = StoreConfig {
            backend: Backend::Postgres,
            url: None,
        };
        assert!(pg.check().unwrap_err().to_string().contains("store.url"));
        let wrong = StoreConfig {
            backend: Backend::Postgres,
            url: Some("mysql://x".into()),
        };
        assert!(wrong
            .check()
            .unwrap_err()
            .to_string()
            .contains("postgres://"));
        assert!(StoreConfig::default().check().is_ok());
    }

    #[test]
    fn url_password_is_redacted() {
        assert_eq!(
            redact_url("postgres://sb:secret@db:5432/sb"),
            "postgres://sb:***@db:5432/sb"
        );
        assert_eq!(redact_url("postgres://sb@db/sb"), "postgres://sb@db/sb");
    }

    #[test]
    fn hint_names_the_data_file_and_the_command() {
        let hint = first_start_hint(Path::new("/srv/sb data"), &StoreConfig::default());
        assert!(hint.contains("/srv/sb data/switchboard.db"), "{hint}");
        assert!(hint.contains("switchboard user add sip:"), "{hint}");
        assert!(hint.contains("--data '/srv/sb data'"), "{hint}");
    }
}
