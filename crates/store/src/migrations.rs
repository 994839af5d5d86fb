//! Schema migrations, embedded in the binary and applied at open. Each backend has its
//! own directory (`migrations/sqlite`, `migrations/postgres`) because the column types
//! differ; both directories must gain a file with the same version for every change.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

type MigrationList = Result<Vec<Migration>, BoxDynError>;

/// (version, description, SQL).
type Embedded = &'static [(i64, &'static str, &'static str)];

const SQLITE: Embedded = &[
    (
        1,
        "initial",
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "presence",
        include_str!("../migrations/sqlite/0002_presence.sql"),
    ),
];

const POSTGRES: Embedded = &[
    (
        1,
        "initial",
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "presence",
        include_str!("../migrations/postgres/0002_presence.sql"),
    ),
];

/// A migration source over files compiled in with `include_str!`, so the binary needs no
/// migration directory at run time and no proc-macro at build time.
#[derive(Debug)]
struct EmbeddedSource(Embedded);

impl<'s> MigrationSource<'s> for EmbeddedSource {
    fn resolve(self) -> Pin<Box<dyn Future<Output = MigrationList> + Send + 's>> {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

/// The SQLite migrator.
pub(crate) async fn sqlite() -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(EmbeddedSource(SQLITE)).await
}

/// The PostgreSQL migrator.
pub(crate) async fn postgres() -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(EmbeddedSource(POSTGRES)).await
}
