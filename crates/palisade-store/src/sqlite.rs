//! [`SqliteStore`]: the embedded [`Store`] backend, one SQLite file via sqlx.
//!
//! Settings and why:
//! - WAL journal: readers (RCPT lookups) never wait for a writer (admin CLI).
//! - `synchronous=NORMAL`: in WAL mode a power cut can lose the last commits but
//!   never corrupts the file. Message data is in the spool, not here; the worst
//!   loss is a queue record falling back a step (a retry comes early, or a
//!   recipient delivered just before the cut is delivered again).
//! - `busy_timeout` 5 s: the CLI and the server may share the file, and a write
//!   waiting for the lock must wait, not fail.
//! - Every read-check-write runs in `BEGIN IMMEDIATE`, which takes the write lock
//!   up front: a deferred transaction that upgrades from read to write can fail
//!   with `SQLITE_BUSY` regardless of the timeout.
//!
//! The schema is plain SQL embedded in the binary (`migrations/sqlite`, one numbered
//! step per file), applied at open by sqlx's migrator, which records each step with its
//! checksum in `_sqlx_migrations`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use palisade_types::{Address, Domain, QueueId};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use crate::rows::*;
use crate::seal::{self, Secret, context};

mod accounts;
mod console;
mod dashboard;
mod directory;
mod history;
mod keys;
mod learning;
mod nodes;
mod quarantine;
mod queue;
mod reports;
mod security;

use crate::alias::catch_all_key;
use crate::error::{db, is_unique_violation, migrate_error};
use crate::{
    AliasSource, AppPassword, Block, DkimKey, DmarcEvaluation, Event, QueueStatus, ReceivedReport,
    Store, StoreError, StsPolicyRow, TlsResultRow, TotpState, User,
};
use crate::{SigningKey, UserKey};

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// SQLite has one writer at a time anyway; a few connections serve the readers.
const MAX_CONNECTIONS: u32 = 4;

/// The schema, one numbered step per file of `migrations/sqlite` (never edited once
/// released: sqlx checks each applied step's checksum), embedded in the binary.
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// What stores made before sqlx's migrator kept their version in: `schema_version`.
/// Such a store had applied steps 1 to that version, which sqlx is told of, not re-run.
/// The table stays, holding [`LEGACY_FENCE`] from then on.
const LEGACY_TABLE: &str =
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'";

/// Written into `schema_version` once sqlx's migrator owns the schema: a release from
/// before then reads it as a newer schema and refuses the file rather than use it.
const LEGACY_FENCE: i64 = 1_000_000;

/// The embedded store. Cheap to share: clone the `Arc` it is usually held in.
#[derive(Debug)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    generation: Arc<AtomicU64>,
    /// The key private keys and TOTP seeds are sealed with ([`SqliteStore::with_secret`]).
    secret: Option<Arc<Secret>>,
}

/// The tables that [`crate::LookupCache`] answers from and SQLite's update hook reports:
/// a row changed in any of them through this store's connections moves
/// [`Store::generation`]. `forwards` and `user_keys` are `WITHOUT ROWID` tables, which the
/// hook never reports: their writers move the generation themselves, after the commit
/// ([`SqliteStore::changed`]).
const CACHED_TABLES: &[&str] = &["domains", "users", "aliases"];

/// Moves `generation` whenever a statement on `conn` changes a row of [`CACHED_TABLES`]
/// (SQLite's update hook runs inside the statement, before its commit; a read that
/// races the commit is bounded by the cache's time to live).
async fn watch_cached_tables(
    conn: &mut sqlx::SqliteConnection,
    generation: Arc<AtomicU64>,
) -> Result<(), sqlx::Error> {
    conn.lock_handle().await?.set_update_hook(move |row| {
        if CACHED_TABLES.contains(&row.table) {
            generation.fetch_add(1, Ordering::AcqRel);
        }
    });
    Ok(())
}

impl SqliteStore {
    // Lockouts and bans share a shape; `table` and `key` are fixed names from this file.
    async fn block(
        &self,
        table: &str,
        key: &str,
        value: &str,
    ) -> Result<Option<Block>, StoreError> {
        let sql =
            format!("SELECT {key}, since, until, strikes, reason FROM {table} WHERE {key} = ?");
        let row: Option<(String, i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a block"))?;
        Ok(row.map(block_of))
    }

    async fn put_block(&self, table: &str, key: &str, b: &Block) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO {table} ({key}, since, until, strikes, reason) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT ({key}) DO UPDATE SET since = excluded.since, until = excluded.until, \
             strikes = excluded.strikes, reason = excluded.reason"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&b.key)
            .bind(b.since)
            .bind(b.until)
            .bind(i64::from(b.strikes))
            .bind(&b.reason)
            .execute(&self.pool)
            .await
            .map_err(db("writing a block"))?;
        Ok(())
    }

    async fn remove_block(&self, table: &str, key: &str, value: &str) -> Result<bool, StoreError> {
        let sql = format!("DELETE FROM {table} WHERE {key} = ?");
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(value)
            .execute(&self.pool)
            .await
            .map_err(db("removing a block"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Opens the database at `path`, creating the file if missing, and brings its
    /// schema up to date. Refuses a file written by a newer schema.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let generation = Arc::new(AtomicU64::new(0));
        let watched = generation.clone();
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .after_connect(move |conn, _| Box::pin(watch_cached_tables(conn, watched.clone())))
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        migrate(&pool, path).await?;
        restrict_permissions(path);
        Ok(SqliteStore {
            pool,
            generation,
            secret: None,
        })
    }

    /// This store, sealing private keys and TOTP seeds with `secret`: refused if the
    /// store was first opened with another key. What an older release stored in clear
    /// is sealed now, and the file rewritten so no clear copy stays in its free pages
    /// or its write-ahead log.
    pub async fn with_secret(mut self, secret: Secret) -> Result<SqliteStore, StoreError> {
        seal::check_key(&self, &secret).await?;
        let secret = self.secret.insert(Arc::new(secret)).clone();
        if self.seal_clear_values(&secret).await? > 0 {
            for step in ["VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"] {
                sqlx::query(step)
                    .execute(&self.pool)
                    .await
                    .map_err(db("rewriting the store after sealing its keys"))?;
            }
        }
        Ok(self)
    }

    /// A consistent copy of the whole database at `to` (a new file), taken while
    /// others read and write (`VACUUM INTO`: one read transaction, WAL included).
    pub async fn snapshot(&self, to: &Path) -> Result<(), StoreError> {
        let to = to.to_str().ok_or_else(|| StoreError::Corrupt {
            what: "snapshot path",
            value: to.display().to_string(),
        })?;
        sqlx::query("VACUUM INTO ?")
            .bind(to)
            .execute(&self.pool)
            .await
            .map_err(db("taking a snapshot"))?;
        Ok(())
    }

    /// Waits for in-flight queries and closes every connection, so the WAL is
    /// checkpointed and the file can be copied or reopened cleanly.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A write to a cached table the update hook cannot see has committed.
    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    async fn write_tx(
        &self,
        context: &'static str,
    ) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db(context))
    }
}

/// Brings the schema up to date with [`MIGRATOR`]; refuses a store with a step this
/// build does not know (written by a newer release). Two processes opening one new
/// file at once (the server and the CLI) take turns on a lock file beside it.
async fn migrate(pool: &SqlitePool, path: &Path) -> Result<(), StoreError> {
    let _turn = migration_lock(path)?;
    adopt_legacy_schema(pool).await?;
    MIGRATOR
        .run(pool)
        .await
        .map_err(|e| migrate_error(e, &MIGRATOR))
}

/// Holds an exclusive lock on `<path>.migrate` until dropped.
fn migration_lock(path: &Path) -> Result<std::fs::File, StoreError> {
    let mut lock = path.as_os_str().to_owned();
    lock.push(".migrate");
    let open = || {
        let f = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)?;
        f.lock()?;
        Ok(f)
    };
    open().map_err(|source| StoreError::Io {
        context: "locking the schema for migration",
        source,
    })
}

/// A store from before sqlx's migrator: records its steps in sqlx's table (without
/// running them again) and fences the old table off.
async fn adopt_legacy_schema(pool: &SqlitePool) -> Result<(), StoreError> {
    const CONTEXT: &str = "adopting the schema version";
    let legacy: Option<i64> = sqlx::query_scalar(LEGACY_TABLE)
        .fetch_optional(pool)
        .await
        .map_err(db(CONTEXT))?;
    if legacy.is_none() {
        return Ok(());
    }
    let version: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(pool)
        .await
        .map_err(db(CONTEXT))?;
    if version >= LEGACY_FENCE {
        return Ok(());
    }
    let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    if version > known {
        return Err(StoreError::UnsupportedSchema {
            found: version,
            supported: known,
        });
    }
    MIGRATOR
        .skip(pool, Some(version))
        .await
        .map_err(|e| migrate_error(e, &MIGRATOR))?;
    sqlx::query("INSERT INTO schema_version (version) VALUES (?)")
        .bind(LEGACY_FENCE)
        .execute(pool)
        .await
        .map_err(db(CONTEXT))?;
    Ok(())
}

/// The database holds password hashes and DKIM private keys: owner-only access
/// (mode 0600) for the file and its WAL companions.
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = std::path::PathBuf::from(p);
        if p.exists()
            && let Err(e) = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
        {
            tracing_free_warn(&p, &e);
        }
    }
}

/// The store has no logging dependency; a failure here is printed once to stderr.
fn tracing_free_warn(p: &Path, e: &std::io::Error) {
    eprintln!(
        "palisade-store: cannot restrict permissions of {}: {e}",
        p.display()
    );
}

/// True if a row with `key` exists in `sql` (a `SELECT 1 ... WHERE col = ?`).
async fn exists(
    tx: &mut Transaction<'static, Sqlite>,
    sql: &'static str,
    key: &str,
    context: &'static str,
) -> Result<bool, StoreError> {
    let row: Option<i64> = sqlx::query_scalar(sql)
        .bind(key.to_owned())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db(context))?;
    Ok(row.is_some())
}

async fn count(
    tx: &mut Transaction<'static, Sqlite>,
    sql: &'static str,
    key: &str,
    context: &'static str,
) -> Result<i64, StoreError> {
    sqlx::query_scalar(sql)
        .bind(key.to_owned())
        .fetch_one(&mut **tx)
        .await
        .map_err(db(context))
}

const DOMAIN_EXISTS: &str = "SELECT 1 FROM domains WHERE name = ?";
const USER_EXISTS: &str = "SELECT 1 FROM users WHERE address = ?";
const ALIAS_EXISTS: &str = "SELECT 1 FROM aliases WHERE source = ?";

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
    async fn schema_version(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await
            .map_err(db("reading the schema version"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    async fn versions(store: &SqliteStore) -> Vec<i64> {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&store.pool)
            .await
            .expect("read versions")
    }

    fn known() -> Vec<i64> {
        MIGRATOR.iter().map(|m| m.version).collect()
    }

    #[tokio::test]
    async fn schema_applied_once_and_newer_schema_refused() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("store.db");
        let store = SqliteStore::open(&path).await.expect("create");
        assert_eq!(versions(&store).await, known());
        assert_eq!(known(), (1..=22).collect::<Vec<i64>>());
        store.close().await;

        let store = SqliteStore::open(&path).await.expect("reopen");
        assert_eq!(versions(&store).await, known(), "reopening re-ran a step");
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (999, 'from the future', TRUE, x'00', 0)",
        )
        .execute(&store.pool)
        .await
        .expect("a newer step");
        store.close().await;

        let err = SqliteStore::open(&path).await.expect_err("newer schema");
        assert!(
            matches!(
                err,
                StoreError::UnsupportedSchema {
                    found: 999,
                    supported: 22
                }
            ),
            "{err}"
        );
    }

    /// A file made by the runner before sqlx's (steps 1 to 12 recorded in
    /// `schema_version`) opens: its steps are recorded, not re-run, the rest are
    /// applied, and the old table now turns away the releases that read it.
    #[tokio::test]
    async fn a_store_from_before_sqlx_migrations_is_adopted() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("store.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let pool = SqlitePool::connect(&url).await.expect("old file");
        for m in MIGRATOR.iter().filter(|m| m.version <= 12) {
            sqlx::raw_sql(m.sql.clone())
                .execute(&pool)
                .await
                .expect("old step");
        }
        sqlx::raw_sql(
            "CREATE TABLE schema_version (version INTEGER NOT NULL); \
             INSERT INTO schema_version (version) VALUES (1),(2),(3),(4),(5),(6),(7),(8),\
             (9),(10),(11),(12); INSERT INTO domains (name, created) VALUES ('kept.test', 1);",
        )
        .execute(&pool)
        .await
        .expect("old version table");
        pool.close().await;

        let store = SqliteStore::open(&path).await.expect("adopted");
        assert_eq!(versions(&store).await, known());
        assert_eq!(
            store.list_domains().await.expect("domains"),
            vec![Domain::parse("kept.test").expect("domain")]
        );
        let fence: i64 = sqlx::query_scalar("SELECT MAX(version) FROM schema_version")
            .fetch_one(&store.pool)
            .await
            .expect("fence");
        assert_eq!(fence, LEGACY_FENCE);
        store.close().await;
        SqliteStore::open(&path)
            .await
            .expect("reopened after adoption");
    }

    #[tokio::test]
    async fn schema_v7_carries_submission_history_over() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:")
            .await
            .expect("memory db");
        MIGRATOR.run_to(6, &pool).await.expect("old schema");
        sqlx::raw_sql(
            "INSERT INTO submissions (user, time) VALUES ('a', 600), ('a', 1199), ('a', 1200); \
             INSERT INTO submission_domains (user, time, domain) VALUES \
               ('a', 600, 'x.test'), ('a', 1200, 'x.test'), ('a', 1200, 'y.test');",
        )
        .execute(&pool)
        .await
        .expect("old rows");
        MIGRATOR.run_to(7, &pool).await.expect("v7");
        let buckets: Vec<(i64, i64)> =
            sqlx::query_as("SELECT bucket, count FROM submission_counts ORDER BY bucket")
                .fetch_all(&pool)
                .await
                .expect("counts");
        assert_eq!(buckets, vec![(1, 2), (2, 1)]);
        let domains: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT domain, first_seen, last_seen FROM submission_recipient_domains ORDER BY domain",
        )
        .fetch_all(&pool)
        .await
        .expect("domains");
        assert_eq!(
            domains,
            vec![("x.test".into(), 600, 1200), ("y.test".into(), 1200, 1200)]
        );
    }

    #[tokio::test]
    async fn journal_is_wal() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("store.db"))
            .await
            .expect("create");
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .expect("pragma");
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn unopenable_path_names_the_path() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("missing-dir").join("store.db");
        let err = SqliteStore::open(&path).await.expect_err("no parent dir");
        assert!(matches!(&err, StoreError::Open { path: p, .. } if *p == path));
        assert!(err.is_transient());
    }
}
