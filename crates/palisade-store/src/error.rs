//! [`StoreError`]: refused requests (with what was refused) and broken machinery.

use std::path::PathBuf;

use palisade_types::{Address, Domain};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The domain, user or alias to add is already there.
    #[error("{what} already exists")]
    AlreadyExists { what: String },

    /// The domain is not one of ours, so no user or alias can live in it.
    #[error("{domain} is not a local domain")]
    UnknownDomain { domain: Domain },

    /// An alias was pointed at a mailbox that does not exist.
    #[error("user {address} does not exist")]
    UnknownUser { address: Address },

    /// Removing `what` would leave dangling references (`reason` says which).
    #[error("{what} is still in use: {reason}")]
    InUse { what: String, reason: String },

    /// The database could not be opened or created at `path`.
    #[error("cannot open the store at {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },

    /// The shared database at `url` (its password left out) could not be reached.
    #[error("cannot connect to the store at {url}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },

    /// The database was written by a newer Palisade; refusing beats guessing.
    #[error("store schema version {found} is newer than the supported {supported}")]
    UnsupportedSchema { found: i64, supported: i64 },

    /// Applying the schema's steps failed (a step's SQL, or a step already applied
    /// whose text differs from this build's).
    #[error("store schema migration failed")]
    Migration {
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    /// A file beside the store could not be used while doing `context`.
    #[error("store error while {context}")]
    Io {
        context: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// A query failed while doing `context` (I/O, lock timeout, constraint).
    #[error("store error while {context}")]
    Database {
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },

    /// The store was opened without the secret key, and this value is sealed with it.
    #[error("the store was opened without the secret key that seals private keys")]
    NoSecret,

    /// The secret key given is not the one this store's private keys are sealed with.
    #[error(
        "this secret key is not the one the store's private keys were sealed with: give \
         every node the same key (the key file, or PALISADE_SECRET_KEY)"
    )]
    WrongSecret,

    /// A sealed value does not open with the store's key (damaged, or moved between rows).
    #[error("sealed {what} in the store does not open with the secret key")]
    Unsealable { what: &'static str },

    /// A copy between stores found tables that do not match (`store copy`).
    #[error("the copy does not match: {tables}")]
    CopyMismatch { tables: String },

    /// A stored value no longer parses (edited by hand, or a bug wrote it).
    #[error("corrupt {what} in the store: {value:?}")]
    Corrupt { what: &'static str, value: String },
}

impl StoreError {
    /// True when retrying later may succeed (the database was busy or unreachable),
    /// so the queue defers with a 4xx instead of bouncing.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Open { .. }
                | StoreError::Connect { .. }
                | StoreError::Database { .. }
                | StoreError::Io { .. }
        )
    }
}

/// Wraps a query error with what the store was doing, for `map_err`.
pub(crate) fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database { context, source }
}

/// True if `e` is a unique or primary-key violation, i.e. "already exists".
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// A migration failure as a store error: a step this build does not have means a
/// newer release wrote the schema ([`StoreError::UnsupportedSchema`]).
pub(crate) fn migrate_error(
    e: sqlx::migrate::MigrateError,
    migrator: &sqlx::migrate::Migrator,
) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::VersionMissing(found) => StoreError::UnsupportedSchema {
            found,
            supported: migrator.iter().map(|m| m.version).max().unwrap_or(0),
        },
        source => StoreError::Migration { source },
    }
}
