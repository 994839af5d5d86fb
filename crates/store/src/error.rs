//! Errors of the store, sorted by who is at fault: the caller's data (`Invalid`,
//! `Conflict`, `NotFound`, `InUse`) or the database (`Backend`, `Migration`, `Corrupt`).

/// Result type of every store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What went wrong in a store operation.
///
/// The data errors name the field they are about, so a CLI or an importer can print them
/// as they are ("number +14255550100 is already taken").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique value is already held by another row: a user's SIP address, a domain, or a
    /// number that belongs to another user.
    #[error("{field} {value} is already taken")]
    Conflict {
        /// The field, as a user would name it ("number", "sip address", "domain").
        field: &'static str,
        /// The value that clashed.
        value: String,
    },
    /// A row the operation needs does not exist.
    #[error("{entity} {key} not found")]
    NotFound {
        /// What was looked for ("user", "domain", "number").
        entity: &'static str,
        /// The key that was looked up.
        key: String,
    },
    /// A value fails validation; `reason` says how.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field, as a user would name it.
        field: &'static str,
        /// Why the value is refused.
        reason: String,
    },
    /// A row cannot be removed because others still refer to it (a domain with users).
    #[error("{entity} {key} is still in use: {reason}")]
    InUse {
        /// What was to be removed.
        entity: &'static str,
        /// Its key.
        key: String,
        /// What still refers to it.
        reason: String,
    },
    /// One change of a batch failed; nothing of the batch was applied.
    #[error("change {index}: {source}")]
    Batch {
        /// Zero-based position of the failing change in the batch.
        index: usize,
        /// Why it failed.
        #[source]
        source: Box<StoreError>,
    },
    /// A stored row no longer parses (edited by hand, or written by a newer version).
    #[error("stored {field} is unreadable: {reason}")]
    Corrupt {
        /// The column.
        field: &'static str,
        /// Why it does not parse.
        reason: String,
    },
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Backend(#[from] sqlx::Error),
    /// The schema migrations could not be applied at open.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        StoreError::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// Whether the caller's data is at fault (a CLI exits with a usage error and the HTTP
    /// API answers 4xx), as opposed to the database.
    pub fn is_caller_fault(&self) -> bool {
        matches!(
            self.root(),
            StoreError::Conflict { .. }
                | StoreError::NotFound { .. }
                | StoreError::Invalid { .. }
                | StoreError::InUse { .. }
        )
    }

    /// The error itself, or for a [`StoreError::Batch`] the error of the failing change.
    pub fn root(&self) -> &StoreError {
        match self {
            StoreError::Batch { source, .. } => source.root(),
            other => other,
        }
    }
}
