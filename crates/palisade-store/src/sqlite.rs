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
//! The schema is plain SQL embedded in the binary (`sqlite/schema_v*.sql`),
//! applied in order at open and recorded in `schema_version`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use palisade_types::{Address, AppScope, Domain, QueueId};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

mod console;
mod dashboard;
mod learning;

use crate::alias::catch_all_key;
use crate::error::{db, is_unique_violation};
use crate::{
    AliasSource, AppPassword, Block, DkimKey, DmarcEvaluation, Event, QueueStatus, ReceivedReport,
    Store, StoreError, StsPolicyRow, TlsResultRow, TotpState, User,
};
use crate::{SigningKey, UserKey};

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// SQLite has one writer at a time anyway; a few connections serve the readers.
const MAX_CONNECTIONS: u32 = 4;

/// Submissions are counted in buckets of this many seconds.
const SUBMISSION_BUCKET: i64 = 600;
/// Submission history kept (and the window a recipient domain counts as known), seconds.
const SUBMISSION_HISTORY: i64 = 30 * 86_400;

/// How long a queued DSN is remembered (longer than any `queue.max_age_secs`).
const DSN_MEMORY: i64 = 60 * 86_400;

/// Schema steps in order; each runs once, in the same transaction that records it.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("sqlite/schema_v1.sql")),
    (2, include_str!("sqlite/schema_v2.sql")),
    (3, include_str!("sqlite/schema_v3.sql")),
    (4, include_str!("sqlite/schema_v4.sql")),
    (5, include_str!("sqlite/schema_v5.sql")),
    (6, include_str!("sqlite/schema_v6.sql")),
    (7, include_str!("sqlite/schema_v7.sql")),
    (8, include_str!("sqlite/schema_v8.sql")),
    (9, include_str!("sqlite/schema_v9.sql")),
    (10, include_str!("sqlite/schema_v10.sql")),
    (11, include_str!("sqlite/schema_v11.sql")),
    (12, include_str!("sqlite/schema_v12.sql")),
    (13, include_str!("sqlite/schema_v13.sql")),
    (14, include_str!("sqlite/schema_v14.sql")),
    (15, include_str!("sqlite/schema_v15.sql")),
    (16, include_str!("sqlite/schema_v16.sql")),
    (17, include_str!("sqlite/schema_v17.sql")),
    (18, include_str!("sqlite/schema_v18.sql")),
    (19, include_str!("sqlite/schema_v19.sql")),
    (20, include_str!("sqlite/schema_v20.sql")),
];

type TlsRow = (String, i64, String, String, String, i64);

pub(crate) fn tls_row((domain, day, policy_type, mx, result, count): TlsRow) -> TlsResultRow {
    TlsResultRow {
        domain,
        day,
        policy_type,
        mx,
        result,
        count,
    }
}

/// An `events` row: time, kind, subject, detail.
pub(crate) type EventRow = (i64, String, String, String);

pub(crate) fn event((time, kind, subject, detail): EventRow) -> Event {
    Event {
        time,
        kind,
        subject,
        detail,
    }
}

/// The embedded store. Cheap to share: clone the `Arc` it is usually held in.
#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    generation: Arc<AtomicU64>,
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

/// A day in seconds: how long failed logins and abuse strikes are remembered.
const DAY: i64 = 86_400;

pub(crate) fn block_of(
    (key, since, until, strikes, reason): (String, i64, i64, i64, String),
) -> Block {
    Block {
        key,
        since,
        until,
        strikes: u32::try_from(strikes).unwrap_or(u32::MAX),
        reason,
    }
}

type AppPasswordRow = (
    i64,
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
    i64,
    Option<i64>,
    Option<String>,
);

fn app_password_of(r: AppPasswordRow) -> Result<AppPassword, StoreError> {
    let (id, user, label, hash, scope, expires, from_net, created, last_used, last_ip) = r;
    let scope = AppScope::parse(&scope).ok_or(StoreError::Corrupt {
        what: "app password scope",
        value: scope,
    })?;
    Ok(AppPassword {
        id,
        user,
        label,
        hash,
        scope,
        expires,
        from_net,
        created,
        last_used,
        last_ip,
    })
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
        migrate(&pool).await?;
        restrict_permissions(path);
        Ok(SqliteStore { pool, generation })
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

async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    const CONTEXT: &str = "migrating the schema";
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(db(CONTEXT))?;
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
    let current: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
    let supported = MIGRATIONS.last().map_or(0, |(v, _)| *v);
    if current > supported {
        return Err(StoreError::UnsupportedSchema {
            found: current,
            supported,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        sqlx::raw_sql(*sql)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        sqlx::query("INSERT INTO schema_version (version) VALUES (?)")
            .bind(*version)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
    }
    tx.commit().await.map_err(db(CONTEXT))
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

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn parse_address(value: String) -> Result<Address, StoreError> {
    Address::parse(&value).map_err(|_| StoreError::Corrupt {
        what: "address",
        value,
    })
}

fn parse_domain(value: String) -> Result<Domain, StoreError> {
    Domain::parse(&value).map_err(|_| StoreError::Corrupt {
        what: "domain",
        value,
    })
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

/// One `queue_status` row before its delivered list is attached.
type StatusRow = (String, i64, i64, Option<String>, i64);

fn status_from_row(row: StatusRow, delivered: Vec<String>) -> Result<QueueStatus, StoreError> {
    let (id, attempts, next_attempt, last_error, updated) = row;
    let attempts = u32::try_from(attempts).map_err(|_| StoreError::Corrupt {
        what: "queue attempt count",
        value: attempts.to_string(),
    })?;
    let id = QueueId::parse(&id).ok_or(StoreError::Corrupt {
        what: "queue id",
        value: id,
    })?;
    Ok(QueueStatus {
        id,
        attempts,
        next_attempt,
        last_error,
        delivered,
        updated,
    })
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    async fn add_domain(&self, d: &Domain) -> Result<(), StoreError> {
        let result = sqlx::query("INSERT INTO domains (name, created) VALUES (?, ?)")
            .bind(d.as_str().to_owned())
            .bind(now())
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
                what: format!("domain {d}"),
            }),
            Err(e) => Err(db("adding a domain")(e)),
        }
    }

    async fn remove_domain(&self, d: &Domain) -> Result<bool, StoreError> {
        const CONTEXT: &str = "removing a domain";
        let mut tx = self.write_tx(CONTEXT).await?;
        if !exists(&mut tx, DOMAIN_EXISTS, d.as_str(), CONTEXT).await? {
            return Ok(false);
        }
        let users = count(
            &mut tx,
            "SELECT COUNT(*) FROM users WHERE domain = ?",
            d.as_str(),
            CONTEXT,
        )
        .await?;
        let aliases = count(
            &mut tx,
            "SELECT COUNT(*) FROM aliases WHERE domain = ?",
            d.as_str(),
            CONTEXT,
        )
        .await?;
        if users > 0 || aliases > 0 {
            return Err(StoreError::InUse {
                what: format!("domain {d}"),
                reason: format!("{users} user(s) and {aliases} alias(es) still belong to it"),
            });
        }
        sqlx::query("DELETE FROM domains WHERE name = ?")
            .bind(d.as_str().to_owned())
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))?;
        Ok(true)
    }

    async fn list_domains(&self) -> Result<Vec<Domain>, StoreError> {
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM domains ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing domains"))?;
        names.into_iter().map(parse_domain).collect()
    }

    async fn is_local_domain(&self, d: &Domain) -> Result<bool, StoreError> {
        let row: Option<i64> = sqlx::query_scalar(DOMAIN_EXISTS)
            .bind(d.as_str().to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("looking up a domain"))?;
        Ok(row.is_some())
    }

    async fn add_user(&self, a: &Address, password_hash: &str) -> Result<(), StoreError> {
        const CONTEXT: &str = "adding a user";
        let key = a.lookup_key();
        let mut tx = self.write_tx(CONTEXT).await?;
        if !exists(&mut tx, DOMAIN_EXISTS, a.domain().as_str(), CONTEXT).await? {
            return Err(StoreError::UnknownDomain {
                domain: a.domain().clone(),
            });
        }
        // A user would shadow an exact alias of the same address for ever
        // (resolution prefers users), so the alias has to go first.
        if exists(&mut tx, ALIAS_EXISTS, &key, CONTEXT).await? {
            return Err(StoreError::AlreadyExists {
                what: format!("alias {key}"),
            });
        }
        let result = sqlx::query(
            "INSERT INTO users (address, domain, password_hash, created) VALUES (?, ?, ?, ?)",
        )
        .bind(key.clone())
        .bind(a.domain().as_str().to_owned())
        .bind(password_hash.to_owned())
        .bind(now())
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => tx.commit().await.map_err(db(CONTEXT)),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
                what: format!("user {key}"),
            }),
            Err(e) => Err(db(CONTEXT)(e)),
        }
    }

    async fn remove_user(&self, a: &Address) -> Result<bool, StoreError> {
        const CONTEXT: &str = "removing a user";
        let key = a.lookup_key();
        let mut tx = self.write_tx(CONTEXT).await?;
        // Credentials go with the user: a re-created address must not inherit them.
        for sql in [
            "DELETE FROM aliases WHERE target = ?",
            "DELETE FROM app_passwords WHERE user = ?",
            "DELETE FROM totp WHERE user = ?",
            "DELETE FROM recovery_codes WHERE user = ?",
            "DELETE FROM user_keys WHERE user = ?",
            "DELETE FROM web_sessions WHERE user = ?",
            "DELETE FROM passkeys WHERE user = ?",
        ] {
            sqlx::query(sql)
                .bind(key.clone())
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        }
        let removed = sqlx::query("DELETE FROM users WHERE address = ?")
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?
            .rows_affected();
        tx.commit().await.map_err(db(CONTEXT))?;
        Ok(removed > 0)
    }

    async fn set_password_hash(&self, a: &Address, hash: &str) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE users SET password_hash = ? WHERE address = ?")
            .bind(hash.to_owned())
            .bind(a.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("setting a password hash"))?
            .rows_affected();
        Ok(updated > 0)
    }

    async fn password_hash(&self, a: &Address) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT password_hash FROM users WHERE address = ?")
            .bind(a.lookup_key())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a password hash"))
    }

    async fn list_users(&self, domain: Option<&Domain>) -> Result<Vec<User>, StoreError> {
        let query = match domain {
            Some(d) => sqlx::query_as::<_, (String, i64, String)>(
                "SELECT address, created, name FROM users WHERE domain = ? ORDER BY address",
            )
            .bind(d.as_str().to_owned()),
            None => sqlx::query_as("SELECT address, created, name FROM users ORDER BY address"),
        };
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing users"))?;
        rows.into_iter()
            .map(|(address, created, name)| {
                Ok(User {
                    address: parse_address(address)?,
                    created,
                    name,
                })
            })
            .collect()
    }

    async fn add_alias(&self, source: &AliasSource, target: &Address) -> Result<(), StoreError> {
        const CONTEXT: &str = "adding an alias";
        let key = source.lookup_key();
        let mut tx = self.write_tx(CONTEXT).await?;
        if !exists(&mut tx, DOMAIN_EXISTS, source.domain().as_str(), CONTEXT).await? {
            return Err(StoreError::UnknownDomain {
                domain: source.domain().clone(),
            });
        }
        if !exists(&mut tx, USER_EXISTS, &target.lookup_key(), CONTEXT).await? {
            return Err(StoreError::UnknownUser {
                address: target.clone(),
            });
        }
        // An exact alias over an existing user would never be used (see add_user).
        if matches!(source, AliasSource::Address(_))
            && exists(&mut tx, USER_EXISTS, &key, CONTEXT).await?
        {
            return Err(StoreError::AlreadyExists {
                what: format!("user {key}"),
            });
        }
        let result = sqlx::query(
            "INSERT INTO aliases (source, domain, target, created) VALUES (?, ?, ?, ?)",
        )
        .bind(key.clone())
        .bind(source.domain().as_str().to_owned())
        .bind(target.lookup_key())
        .bind(now())
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => tx.commit().await.map_err(db(CONTEXT)),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
                what: format!("alias {key}"),
            }),
            Err(e) => Err(db(CONTEXT)(e)),
        }
    }

    async fn add_forward(&self, source: &Address, target: &Address) -> Result<(), StoreError> {
        const CONTEXT: &str = "adding a forward";
        let mut tx = self.write_tx(CONTEXT).await?;
        if !exists(&mut tx, DOMAIN_EXISTS, source.domain().as_str(), CONTEXT).await? {
            return Err(StoreError::UnknownDomain {
                domain: source.domain().clone(),
            });
        }
        // A target in a local domain must be a mailbox there (a typo would be lost mail).
        if exists(&mut tx, DOMAIN_EXISTS, target.domain().as_str(), CONTEXT).await?
            && !exists(&mut tx, USER_EXISTS, &target.lookup_key(), CONTEXT).await?
        {
            return Err(StoreError::UnknownUser {
                address: target.clone(),
            });
        }
        let result = sqlx::query(
            "INSERT INTO forwards (source, domain, target, created) VALUES (?, ?, ?, ?)",
        )
        .bind(source.lookup_key())
        .bind(source.domain().as_str().to_owned())
        .bind(target.lookup_key())
        .bind(now())
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => {
                tx.commit().await.map_err(db(CONTEXT))?;
                self.changed();
                Ok(())
            }
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
                what: format!("forward {} -> {}", source.lookup_key(), target.lookup_key()),
            }),
            Err(e) => Err(db(CONTEXT)(e)),
        }
    }

    async fn remove_forwards(&self, source: &Address) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM forwards WHERE source = ?")
            .bind(source.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("removing forwards"))?;
        self.changed();
        Ok(done.rows_affected())
    }

    async fn forwards(&self, source: &Address) -> Result<Vec<Address>, StoreError> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT target FROM forwards WHERE source = ? ORDER BY target")
                .bind(source.lookup_key())
                .fetch_all(&self.pool)
                .await
                .map_err(db("reading forwards"))?;
        rows.into_iter().map(parse_address).collect()
    }

    async fn list_forwards(&self) -> Result<Vec<(Address, Address)>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT source, target FROM forwards ORDER BY source, target")
                .fetch_all(&self.pool)
                .await
                .map_err(db("listing forwards"))?;
        rows.into_iter()
            .map(|(s, t)| Ok((parse_address(s)?, parse_address(t)?)))
            .collect()
    }

    async fn put_srs_address(&self, id: &str, original: &str, now: i64) -> Result<(), StoreError> {
        const CONTEXT: &str = "recording an SRS address";
        let mut tx = self.write_tx(CONTEXT).await?;
        sqlx::query("DELETE FROM srs_addresses WHERE created < ?")
            .bind(now - 30 * 86_400)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        sqlx::query(
            "INSERT OR REPLACE INTO srs_addresses (id, original, created) VALUES (?, ?, ?)",
        )
        .bind(id)
        .bind(original)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn srs_address(&self, id: &str) -> Result<Option<(String, i64)>, StoreError> {
        sqlx::query_as("SELECT original, created FROM srs_addresses WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading an SRS address"))
    }

    async fn remove_alias(&self, source: &AliasSource) -> Result<bool, StoreError> {
        let removed = sqlx::query("DELETE FROM aliases WHERE source = ?")
            .bind(source.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("removing an alias"))?
            .rows_affected();
        Ok(removed > 0)
    }

    async fn list_aliases(&self) -> Result<Vec<(AliasSource, Address)>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT source, target FROM aliases ORDER BY source")
                .fetch_all(&self.pool)
                .await
                .map_err(db("listing aliases"))?;
        rows.into_iter()
            .map(|(source, target)| {
                let source = AliasSource::parse(&source).map_err(|_| StoreError::Corrupt {
                    what: "alias source",
                    value: source,
                })?;
                Ok((source, parse_address(target)?))
            })
            .collect()
    }

    async fn resolve_recipient(&self, rcpt: &Address) -> Result<Option<Address>, StoreError> {
        let key = rcpt.lookup_key();
        // One statement, so the three lookups see the same snapshot; `rank`
        // encodes the precedence user > exact alias > catch-all.
        let mailbox: Option<String> = sqlx::query_scalar(
            "SELECT mailbox FROM (
                 SELECT address AS mailbox, 0 AS rank FROM users WHERE address = ?
                 UNION ALL SELECT target, 1 FROM aliases WHERE source = ?
                 UNION ALL SELECT target, 2 FROM aliases WHERE source = ?
             ) ORDER BY rank LIMIT 1",
        )
        .bind(key.clone())
        .bind(key)
        .bind(catch_all_key(rcpt.domain()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db("resolving a recipient"))?;
        mailbox.map(parse_address).transpose()
    }

    async fn resolve_exact(&self, rcpt: &Address) -> Result<Option<Address>, StoreError> {
        let key = rcpt.lookup_key();
        let mailbox: Option<String> = sqlx::query_scalar(
            "SELECT mailbox FROM (
                 SELECT address AS mailbox, 0 AS rank FROM users WHERE address = ?
                 UNION ALL SELECT target, 1 FROM aliases WHERE source = ?
             ) ORDER BY rank LIMIT 1",
        )
        .bind(key.clone())
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("resolving a recipient exactly"))?;
        mailbox.map(parse_address).transpose()
    }

    async fn queue_status(&self, id: QueueId) -> Result<Option<QueueStatus>, StoreError> {
        const CONTEXT: &str = "reading a queue status";
        let id = id.to_string();
        // A read transaction keeps the row and its delivered list consistent.
        let mut tx = self.pool.begin().await.map_err(db(CONTEXT))?;
        let row: Option<StatusRow> = sqlx::query_as(
            "SELECT id, attempts, next_attempt, last_error, updated FROM queue_status WHERE id = ?",
        )
        .bind(id.clone())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let delivered: Vec<String> = sqlx::query_scalar(
            "SELECT recipient FROM queue_delivered WHERE id = ? ORDER BY position",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))?;
        status_from_row(row, delivered).map(Some)
    }

    async fn put_queue_status(&self, s: &QueueStatus) -> Result<(), StoreError> {
        const CONTEXT: &str = "writing a queue status";
        let id = s.id.to_string();
        let mut tx = self.write_tx(CONTEXT).await?;
        // An upsert, not INSERT OR REPLACE: replacing would delete the row first
        // and cascade to its delivered list behind our back.
        sqlx::query(
            "INSERT INTO queue_status (id, attempts, next_attempt, last_error, updated)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET attempts = excluded.attempts,
                 next_attempt = excluded.next_attempt, last_error = excluded.last_error,
                 updated = excluded.updated",
        )
        .bind(id.clone())
        .bind(i64::from(s.attempts))
        .bind(s.next_attempt)
        .bind(s.last_error.clone())
        .bind(s.updated)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM queue_delivered WHERE id = ?")
            .bind(id.clone())
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        for (position, recipient) in (0_i64..).zip(&s.delivered) {
            sqlx::query("INSERT INTO queue_delivered (id, position, recipient) VALUES (?, ?, ?)")
                .bind(id.clone())
                .bind(position)
                .bind(recipient.clone())
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn remove_queue_status(&self, id: QueueId) -> Result<(), StoreError> {
        const CONTEXT: &str = "removing a queue status";
        let id = id.to_string();
        let mut tx = self.write_tx(CONTEXT).await?;
        for sql in [
            "DELETE FROM queue_delivered WHERE id = ?",
            "DELETE FROM queue_status WHERE id = ?",
        ] {
            sqlx::query(sql)
                .bind(id.clone())
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn list_queue_status(&self) -> Result<Vec<QueueStatus>, StoreError> {
        const CONTEXT: &str = "listing queue statuses";
        let mut tx = self.pool.begin().await.map_err(db(CONTEXT))?;
        let rows: Vec<StatusRow> = sqlx::query_as(
            "SELECT id, attempts, next_attempt, last_error, updated FROM queue_status
             ORDER BY next_attempt, id",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        // Two queries and a join in memory rather than one query per message.
        let delivered: Vec<(String, String)> =
            sqlx::query_as("SELECT id, recipient FROM queue_delivered ORDER BY id, position")
                .fetch_all(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))?;
        let mut by_id: HashMap<String, Vec<String>> = HashMap::new();
        for (id, recipient) in delivered {
            by_id.entry(id).or_default().push(recipient);
        }
        rows.into_iter()
            .map(|row| {
                let delivered = by_id.remove(&row.0).unwrap_or_default();
                status_from_row(row, delivered)
            })
            .collect()
    }

    async fn record_event(&self, e: &Event) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO events (time, kind, subject, detail) VALUES (?, ?, ?, ?)")
            .bind(e.time)
            .bind(e.kind.clone())
            .bind(e.subject.clone())
            .bind(e.detail.clone())
            .execute(&self.pool)
            .await
            .map_err(db("recording an event"))?;
        Ok(())
    }

    async fn recent_events(&self, limit: u32) -> Result<Vec<Event>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT time, kind, subject, detail FROM events ORDER BY time DESC, seq DESC LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading recent events"))?;
        Ok(rows.into_iter().map(event).collect())
    }

    async fn record_tls_results(&self, rows: &[TlsResultRow]) -> Result<(), StoreError> {
        const CONTEXT: &str = "recording TLS results";
        let mut tx = self.write_tx(CONTEXT).await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO tlsrpt_results (domain, day, policy_type, mx, result, count) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (domain, day, policy_type, mx, result) \
                 DO UPDATE SET count = count + excluded.count",
            )
            .bind(r.domain.clone())
            .bind(r.day)
            .bind(r.policy_type.clone())
            .bind(r.mx.clone())
            .bind(r.result.clone())
            .bind(r.count)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn record_auth_failure(
        &self,
        user: &str,
        ip: &str,
        fingerprint: &str,
        time: i64,
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "recording a failed login";
        let mut tx = self.write_tx(CONTEXT).await?;
        sqlx::query("INSERT INTO auth_failures (user, ip, fingerprint, time) VALUES (?, ?, ?, ?)")
            .bind(user)
            .bind(ip)
            .bind(fingerprint)
            .bind(time)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM auth_failures WHERE user = ? AND time < ?")
            .bind(user)
            .bind(time - DAY)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn count_user_failures(&self, user: &str, since: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT DISTINCT ip, fingerprint FROM auth_failures \
             WHERE user = ? AND time >= ?)",
        )
        .bind(user)
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting failed logins"))?;
        Ok(n.max(0) as u64)
    }

    async fn count_ip_failures(&self, ip: &str, since: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT DISTINCT user, fingerprint FROM auth_failures \
             WHERE ip = ? AND time >= ?)",
        )
        .bind(ip)
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting failed logins"))?;
        Ok(n.max(0) as u64)
    }

    async fn clear_user_failures(&self, user: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM auth_failures WHERE user = ?")
            .bind(user)
            .execute(&self.pool)
            .await
            .map_err(db("clearing failed logins"))?;
        Ok(())
    }

    async fn lockout(&self, user: &str) -> Result<Option<Block>, StoreError> {
        self.block("lockouts", "user", user).await
    }

    async fn put_lockout(&self, block: &Block) -> Result<(), StoreError> {
        self.put_block("lockouts", "user", block).await
    }

    async fn remove_lockout(&self, user: &str) -> Result<bool, StoreError> {
        self.remove_block("lockouts", "user", user).await
    }

    async fn ban(&self, ip: &str) -> Result<Option<Block>, StoreError> {
        self.block("bans", "ip", ip).await
    }

    async fn put_ban(&self, block: &Block) -> Result<(), StoreError> {
        self.put_block("bans", "ip", block).await
    }

    async fn list_bans(&self, now: i64) -> Result<Vec<Block>, StoreError> {
        let rows: Vec<(String, i64, i64, i64, String)> = sqlx::query_as(
            "SELECT ip, since, until, strikes, reason FROM bans WHERE until > ? ORDER BY since DESC",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing bans"))?;
        Ok(rows.into_iter().map(block_of).collect())
    }

    async fn remove_ban(&self, ip: &str) -> Result<bool, StoreError> {
        self.remove_block("bans", "ip", ip).await
    }

    async fn set_user_name(&self, a: &Address, name: &str) -> Result<bool, StoreError> {
        const CONTEXT: &str = "setting a user's name";
        let mut tx = self.write_tx(CONTEXT).await?;
        let done = sqlx::query("UPDATE users SET name = ? WHERE address = ?")
            .bind(name)
            .bind(a.lookup_key())
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?
            .rows_affected()
            > 0;
        tx.commit().await.map_err(db(CONTEXT))?;
        Ok(done)
    }

    async fn add_user_key(&self, a: &Address, key: &UserKey) -> Result<bool, StoreError> {
        const CONTEXT: &str = "adding a user's key";
        let user = a.lookup_key();
        let mut tx = self.write_tx(CONTEXT).await?;
        let exists: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM users WHERE address = ?")
            .bind(&user)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        if exists.is_none() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO user_keys (user, kind, fingerprint, data, user_ids, expires, added) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user, fingerprint) DO UPDATE SET \
             kind = excluded.kind, data = excluded.data, user_ids = excluded.user_ids, \
             expires = excluded.expires, added = excluded.added",
        )
        .bind(&user)
        .bind(&key.kind)
        .bind(&key.fingerprint)
        .bind(&key.data)
        .bind(&key.user_ids)
        .bind(key.expires)
        .bind(key.added)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))?;
        self.changed();
        Ok(true)
    }

    async fn user_keys(&self, a: &Address) -> Result<Vec<UserKey>, StoreError> {
        let rows: Vec<(String, String, String, String, Option<i64>, i64)> = sqlx::query_as(
            "SELECT kind, fingerprint, data, user_ids, expires, added FROM user_keys \
             WHERE user = ? ORDER BY added, fingerprint",
        )
        .bind(a.lookup_key())
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading a user's keys"))?;
        Ok(rows
            .into_iter()
            .map(
                |(kind, fingerprint, data, user_ids, expires, added)| UserKey {
                    kind,
                    fingerprint,
                    data,
                    user_ids,
                    expires,
                    added,
                },
            )
            .collect())
    }

    async fn remove_user_key(&self, a: &Address, fingerprint: &str) -> Result<bool, StoreError> {
        let removed = sqlx::query("DELETE FROM user_keys WHERE user = ? AND fingerprint = ?")
            .bind(a.lookup_key())
            .bind(fingerprint.to_ascii_uppercase())
            .execute(&self.pool)
            .await
            .map_err(db("removing a user's key"))?
            .rows_affected();
        self.changed();
        Ok(removed > 0)
    }

    async fn set_encrypt_at_rest(&self, a: &Address, on: bool) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE users SET encrypt_at_rest = ? WHERE address = ?")
            .bind(i64::from(on))
            .bind(a.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("setting encryption at rest"))?
            .rows_affected();
        Ok(updated > 0)
    }

    async fn set_domain_encrypt_at_rest(&self, d: &Domain, on: bool) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE domains SET encrypt_at_rest = ? WHERE name = ?")
            .bind(i64::from(on))
            .bind(d.as_str().to_owned())
            .execute(&self.pool)
            .await
            .map_err(db("setting a domain's encryption at rest"))?
            .rows_affected();
        Ok(updated > 0)
    }

    async fn domain_encrypt_at_rest(&self, d: &Domain) -> Result<bool, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT encrypt_at_rest FROM domains WHERE name = ?")
                .bind(d.as_str().to_owned())
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a domain's encryption at rest"))?;
        Ok(row.is_some_and(|(on,)| on != 0))
    }

    async fn encrypt_at_rest(&self, a: &Address) -> Result<bool, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT encrypt_at_rest FROM users WHERE address = ?")
                .bind(a.lookup_key())
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading encryption at rest"))?;
        Ok(row.is_some_and(|(on,)| on != 0))
    }

    async fn set_outbound_encryption(
        &self,
        a: &Address,
        policy: Option<&str>,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE users SET outbound_encryption = ? WHERE address = ?")
            .bind(policy)
            .bind(a.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("setting outbound encryption"))?
            .rows_affected();
        Ok(updated > 0)
    }

    async fn set_domain_outbound_encryption(
        &self,
        d: &Domain,
        policy: &str,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE domains SET outbound_encryption = ? WHERE name = ?")
            .bind(policy)
            .bind(d.as_str().to_owned())
            .execute(&self.pool)
            .await
            .map_err(db("setting a domain's outbound encryption"))?
            .rows_affected();
        Ok(updated > 0)
    }

    async fn outbound_encryption(&self, a: &Address) -> Result<Option<String>, StoreError> {
        // The user's own setting, else their domain's (a user of no domain row has none).
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT COALESCE( \
                 (SELECT outbound_encryption FROM users WHERE address = ?), \
                 (SELECT outbound_encryption FROM domains WHERE name = ?))",
        )
        .bind(a.lookup_key())
        .bind(a.domain().as_str().to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading outbound encryption"))?;
        Ok(row.and_then(|(p,)| p))
    }

    async fn put_signing_key(&self, a: &Address, key: &SigningKey) -> Result<bool, StoreError> {
        const CONTEXT: &str = "storing a signing key";
        let user = a.lookup_key();
        let mut tx = self.write_tx(CONTEXT).await?;
        let exists: Option<(String,)> =
            sqlx::query_as("SELECT address FROM users WHERE address = ?")
                .bind(&user)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        if exists.is_none() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO signing_keys (user, certificate, sealed_key, fingerprint, expires, added) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user) DO UPDATE SET \
             certificate = excluded.certificate, sealed_key = excluded.sealed_key, \
             fingerprint = excluded.fingerprint, expires = excluded.expires, added = excluded.added",
        )
        .bind(&user)
        .bind(&key.certificate)
        .bind(&key.sealed_key)
        .bind(&key.fingerprint)
        .bind(key.expires)
        .bind(key.added)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))?;
        Ok(true)
    }

    async fn signing_key(&self, a: &Address) -> Result<Option<SigningKey>, StoreError> {
        let row: Option<(String, Vec<u8>, String, i64, i64)> = sqlx::query_as(
            "SELECT certificate, sealed_key, fingerprint, expires, added FROM signing_keys \
             WHERE user = ?",
        )
        .bind(a.lookup_key())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a signing key"))?;
        Ok(row.map(
            |(certificate, sealed_key, fingerprint, expires, added)| SigningKey {
                certificate,
                sealed_key,
                fingerprint,
                expires,
                added,
            },
        ))
    }

    async fn remove_signing_key(&self, a: &Address) -> Result<bool, StoreError> {
        let removed = sqlx::query("DELETE FROM signing_keys WHERE user = ?")
            .bind(a.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("removing a signing key"))?
            .rows_affected();
        Ok(removed > 0)
    }

    async fn record_correspondents(
        &self,
        local: &str,
        senders: &[String],
        time: i64,
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "recording correspondents";
        if senders.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx(CONTEXT).await?;
        for sender in senders {
            sqlx::query(
                "INSERT INTO correspondents (local, sender, first_seen, last_seen, messages) \
                 VALUES (?, ?, ?, ?, 1) ON CONFLICT (local, sender) DO UPDATE SET \
                 last_seen = MAX(last_seen, excluded.last_seen), messages = messages + 1",
            )
            .bind(local)
            .bind(sender)
            .bind(time)
            .bind(time)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn correspondents(&self, local: &str, limit: u32) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT sender FROM correspondents WHERE local = ? \
             ORDER BY messages DESC, sender LIMIT ?",
        )
        .bind(local)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing correspondents"))
    }

    async fn learn(&self, lesson: &crate::Lesson) -> Result<bool, StoreError> {
        self.learn_lesson(lesson).await
    }

    async fn lessons_since(&self, who: &str, since: i64) -> Result<u64, StoreError> {
        self.count_lessons(who, since).await
    }

    async fn site_counts(&self) -> Result<crate::SiteCounts, StoreError> {
        self.read_site_counts().await
    }

    async fn is_correspondent(&self, local: &str, sender: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM correspondents WHERE local = ? AND sender = ?",
        )
        .bind(local)
        .bind(sender)
        .fetch_one(&self.pool)
        .await
        .map_err(db("reading correspondents"))?;
        Ok(n > 0)
    }

    async fn record_strike(&self, ip: &str, kind: &str, time: i64) -> Result<(), StoreError> {
        const CONTEXT: &str = "recording an abuse strike";
        let mut tx = self.write_tx(CONTEXT).await?;
        sqlx::query("INSERT INTO abuse_strikes (ip, kind, time) VALUES (?, ?, ?)")
            .bind(ip)
            .bind(kind)
            .bind(time)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM abuse_strikes WHERE ip = ? AND time < ?")
            .bind(ip)
            .bind(time - DAY)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn count_strikes(&self, ip: &str, kind: &str, since: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM abuse_strikes WHERE ip = ? AND kind = ? AND time >= ?",
        )
        .bind(ip)
        .bind(kind)
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting abuse strikes"))?;
        Ok(n.max(0) as u64)
    }

    async fn record_login(&self, user: &str, ip: &str, time: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO login_successes (user, ip, time) VALUES (?, ?, ?) \
             ON CONFLICT (user, ip) DO UPDATE SET time = excluded.time",
        )
        .bind(user)
        .bind(ip)
        .bind(time)
        .execute(&self.pool)
        .await
        .map_err(db("recording a login"))?;
        Ok(())
    }

    async fn last_login(&self, user: &str, ip: &str) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT time FROM login_successes WHERE user = ? AND ip = ?")
            .bind(user)
            .bind(ip)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading the last login"))
    }

    async fn last_login_any(&self, user: &str) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT MAX(time) FROM login_successes WHERE user = ?")
            .bind(user)
            .fetch_one(&self.pool)
            .await
            .map_err(db("reading the last login"))
    }

    async fn prune_security(&self, now: i64) -> Result<(), StoreError> {
        const CONTEXT: &str = "pruning security state";
        let mut tx = self.write_tx(CONTEXT).await?;
        for (sql, before) in [
            ("DELETE FROM auth_failures WHERE time < ?", now - DAY),
            ("DELETE FROM abuse_strikes WHERE time < ?", now - DAY),
            ("DELETE FROM lockouts WHERE until < ?", now - DAY),
            ("DELETE FROM bans WHERE until < ?", now - 7 * DAY),
        ] {
            sqlx::query(sql)
                .bind(before)
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn dsn_queued(&self, original: QueueId, recipients: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM dsn_sent WHERE original = ? AND recipients = ?",
        )
        .bind(original.to_string())
        .bind(recipients)
        .fetch_one(&self.pool)
        .await
        .map_err(db("reading sent DSNs"))?;
        Ok(n > 0)
    }

    async fn record_dsn(
        &self,
        original: QueueId,
        recipients: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT OR IGNORE INTO dsn_sent (original, recipients, sent) VALUES (?, ?, ?)")
            .bind(original.to_string())
            .bind(recipients)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db("recording a DSN"))?;
        // A message is retried for days, not months: older records can go.
        sqlx::query("DELETE FROM dsn_sent WHERE sent < ?")
            .bind(now - DSN_MEMORY)
            .execute(&self.pool)
            .await
            .map_err(db("forgetting old DSNs"))?;
        Ok(())
    }

    async fn server_secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError> {
        // Read first: every failed login asks, and only the first ever needs a write.
        let stored: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a server secret"))?;
        if let Some(v) = stored {
            return Ok(v);
        }
        sqlx::query("INSERT OR IGNORE INTO server_secrets (name, value) VALUES (?, ?)")
            .bind(name)
            .bind(fresh)
            .execute(&self.pool)
            .await
            .map_err(db("storing a server secret"))?;
        sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = ?")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(db("reading a server secret"))
    }

    async fn events_since(&self, since: i64, limit: u32) -> Result<Vec<Event>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT time, kind, subject, detail FROM events WHERE time >= ? \
             ORDER BY time DESC, seq DESC LIMIT ?",
        )
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading events"))?;
        Ok(rows.into_iter().map(event).collect())
    }

    async fn put_rate_counts(
        &self,
        kind: &str,
        window: i64,
        node: &str,
        counts: &[(String, u64)],
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "sharing rate counts";
        let mut tx = self.write_tx(CONTEXT).await?;
        for (ip, n) in counts {
            sqlx::query(
                "INSERT INTO rate_counts (kind, window, ip, node, count) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (kind, window, ip, node) DO UPDATE SET count = excluded.count",
            )
            .bind(kind)
            .bind(window)
            .bind(ip)
            .bind(node)
            .bind(i64::try_from(*n).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        }
        sqlx::query("DELETE FROM rate_counts WHERE kind = ? AND window < ?")
            .bind(kind)
            .bind(window)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn rate_exceeded(
        &self,
        kind: &str,
        window: i64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT ip FROM rate_counts WHERE kind = ? AND window = ? \
             GROUP BY ip HAVING SUM(count) >= ?",
        )
        .bind(kind)
        .bind(window)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading shared rate counts"))
    }

    async fn totp(&self, user: &Address) -> Result<Option<TotpState>, StoreError> {
        let row: Option<(String, i64, i64)> =
            sqlx::query_as("SELECT secret, enabled, last_step FROM totp WHERE user = ?")
                .bind(user.lookup_key())
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading two-factor state"))?;
        Ok(row.map(|(secret, enabled, last_step)| TotpState {
            secret,
            enabled: enabled != 0,
            last_step,
        }))
    }

    async fn put_totp(
        &self,
        user: &Address,
        secret: &str,
        enabled: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO totp (user, secret, enabled, created) VALUES (?, ?, ?, ?) \
             ON CONFLICT (user) DO UPDATE SET secret = excluded.secret, \
             enabled = excluded.enabled, created = excluded.created, \
             last_step = CASE WHEN totp.secret = excluded.secret THEN totp.last_step ELSE -1 END",
        )
        .bind(user.lookup_key())
        .bind(secret)
        .bind(i64::from(enabled))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db("writing two-factor state"))?;
        Ok(())
    }

    async fn advance_totp_step(&self, user: &Address, step: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE totp SET last_step = ? WHERE user = ? AND last_step < ?")
            .bind(step)
            .bind(user.lookup_key())
            .bind(step)
            .execute(&self.pool)
            .await
            .map_err(db("recording a TOTP step"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn remove_totp(&self, user: &Address) -> Result<bool, StoreError> {
        const CONTEXT: &str = "turning two-factor off";
        let mut tx = self.write_tx(CONTEXT).await?;
        let done = sqlx::query("DELETE FROM totp WHERE user = ?")
            .bind(user.lookup_key())
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM recovery_codes WHERE user = ?")
            .bind(user.lookup_key())
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_recovery_codes(
        &self,
        user: &Address,
        hashes: &[String],
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "storing recovery codes";
        let mut tx = self.write_tx(CONTEXT).await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user = ?")
            .bind(user.lookup_key())
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        for h in hashes {
            sqlx::query("INSERT OR IGNORE INTO recovery_codes (user, hash) VALUES (?, ?)")
                .bind(user.lookup_key())
                .bind(h)
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn use_recovery_code(&self, user: &Address, hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM recovery_codes WHERE user = ? AND hash = ?")
            .bind(user.lookup_key())
            .bind(hash)
            .execute(&self.pool)
            .await
            .map_err(db("using a recovery code"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_app_password(&self, p: &AppPassword) -> Result<i64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO app_passwords (user, label, hash, scope, expires, from_net, created) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&p.user)
        .bind(&p.label)
        .bind(&p.hash)
        .bind(p.scope.name())
        .bind(p.expires)
        .bind(&p.from_net)
        .bind(p.created)
        .execute(&self.pool)
        .await;
        match done {
            Ok(d) => Ok(d.last_insert_rowid()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
                what: format!("app password {:?} of {}", p.label, p.user),
            }),
            Err(e) => Err(db("adding an app password")(e)),
        }
    }

    async fn list_app_passwords(&self, user: &Address) -> Result<Vec<AppPassword>, StoreError> {
        let rows: Vec<AppPasswordRow> = sqlx::query_as(
            "SELECT id, user, label, hash, scope, expires, from_net, created, last_used, last_ip \
             FROM app_passwords WHERE user = ? ORDER BY created, id",
        )
        .bind(user.lookup_key())
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing app passwords"))?;
        rows.into_iter().map(app_password_of).collect()
    }

    async fn app_password(&self, hash: &str) -> Result<Option<AppPassword>, StoreError> {
        let row: Option<AppPasswordRow> = sqlx::query_as(
            "SELECT id, user, label, hash, scope, expires, from_net, created, last_used, last_ip \
             FROM app_passwords WHERE hash = ?",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading an app password"))?;
        row.map(app_password_of).transpose()
    }

    async fn revoke_app_password(&self, user: &Address, label: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM app_passwords WHERE user = ? AND label = ?")
            .bind(user.lookup_key())
            .bind(label)
            .execute(&self.pool)
            .await
            .map_err(db("revoking an app password"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn touch_app_password(&self, id: i64, time: i64, ip: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE app_passwords SET last_used = ?, last_ip = ? WHERE id = ?")
            .bind(time)
            .bind(ip)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db("recording app password use"))?;
        Ok(())
    }

    async fn mta_sts_policy(&self, domain: &str) -> Result<Option<StsPolicyRow>, StoreError> {
        let row: Option<(String, String, String, i64)> = sqlx::query_as(
            "SELECT domain, id, policy, expires FROM mta_sts_policies WHERE domain = ?",
        )
        .bind(domain)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading an MTA-STS policy"))?;
        Ok(row.map(|(domain, id, policy, expires)| StsPolicyRow {
            domain,
            id,
            policy,
            expires,
        }))
    }

    async fn put_mta_sts_policy(&self, row: &StsPolicyRow, now: i64) -> Result<(), StoreError> {
        const CONTEXT: &str = "caching an MTA-STS policy";
        let mut tx = self.write_tx(CONTEXT).await?;
        sqlx::query(
            "INSERT INTO mta_sts_policies (domain, id, policy, expires) VALUES (?, ?, ?, ?) \
             ON CONFLICT (domain) DO UPDATE SET id = excluded.id, policy = excluded.policy, \
             expires = excluded.expires",
        )
        .bind(&row.domain)
        .bind(&row.id)
        .bind(&row.policy)
        .bind(row.expires)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM mta_sts_policies WHERE expires < ?")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn take_tls_results(&self, before_day: i64) -> Result<Vec<TlsResultRow>, StoreError> {
        const CONTEXT: &str = "taking TLS results";
        let mut tx = self.write_tx(CONTEXT).await?;
        type Row = (String, i64, String, String, String, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT domain, day, policy_type, mx, result, count - reported FROM tlsrpt_results \
             WHERE day < ? AND count > reported ORDER BY domain, day",
        )
        .bind(before_day)
        .fetch_all(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        // Kept for the console as reported; forgotten after 90 days.
        sqlx::query("UPDATE tlsrpt_results SET reported = count WHERE day < ?")
            .bind(before_day)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM tlsrpt_results WHERE day < ?")
            .bind(before_day - 90)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))?;
        Ok(rows.into_iter().map(tls_row).collect())
    }

    async fn record_submission(
        &self,
        user: &Address,
        time: i64,
        domains: &[String],
        recipients: u64,
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "recording a submission";
        let key = user.lookup_key();
        let mut tx = self.write_tx(CONTEXT).await?;
        sqlx::query(
            "INSERT INTO submission_counts (user, bucket, count, recipients) VALUES (?, ?, 1, ?) \
             ON CONFLICT (user, bucket) DO UPDATE SET count = count + 1, \
             recipients = recipients + excluded.recipients",
        )
        .bind(key.clone())
        .bind(time.div_euclid(SUBMISSION_BUCKET))
        .bind(i64::try_from(recipients).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        for d in domains {
            // A domain unused for the whole history window is new again.
            sqlx::query(
                "INSERT INTO submission_recipient_domains (user, domain, first_seen, last_seen) \
                 VALUES (?, ?, ?, ?) ON CONFLICT (user, domain) DO UPDATE SET \
                 first_seen = CASE WHEN last_seen < excluded.last_seen - ? \
                   THEN excluded.first_seen ELSE first_seen END, \
                 last_seen = excluded.last_seen",
            )
            .bind(key.clone())
            .bind(d.clone())
            .bind(time)
            .bind(time)
            .bind(SUBMISSION_HISTORY)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        }
        let old = time - SUBMISSION_HISTORY;
        for (prune, before) in [
            (
                "DELETE FROM submission_counts WHERE user = ? AND bucket < ?",
                old.div_euclid(SUBMISSION_BUCKET),
            ),
            (
                "DELETE FROM submission_recipient_domains WHERE user = ? AND last_seen < ?",
                old,
            ),
        ] {
            sqlx::query(prune)
                .bind(key.clone())
                .bind(before)
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn count_submissions(&self, user: &Address, since: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(count), 0) FROM submission_counts WHERE user = ? AND bucket >= ?",
        )
        .bind(user.lookup_key())
        .bind(since.div_euclid(SUBMISSION_BUCKET))
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting submissions"))?;
        Ok(n.max(0) as u64)
    }

    async fn count_submission_recipients(
        &self,
        user: &Address,
        since: i64,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(recipients), 0) FROM submission_counts WHERE user = ? AND bucket >= ?",
        )
        .bind(user.lookup_key())
        .bind(since.div_euclid(SUBMISSION_BUCKET))
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting recipients"))?;
        Ok(n.max(0) as u64)
    }

    async fn count_new_domains(&self, user: &Address, since: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM submission_recipient_domains WHERE user = ? AND first_seen >= ?",
        )
        .bind(user.lookup_key())
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting new recipient domains"))?;
        Ok(n.max(0) as u64)
    }

    async fn suspend_user(
        &self,
        user: &Address,
        since: i64,
        reason: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT OR REPLACE INTO suspensions (user, since, reason) VALUES (?, ?, ?)")
            .bind(user.lookup_key())
            .bind(since)
            .bind(reason.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("suspending a user"))?;
        Ok(())
    }

    async fn resume_user(&self, user: &Address) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM suspensions WHERE user = ?")
            .bind(user.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("resuming a user"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn suspension(&self, user: &Address) -> Result<Option<(i64, String)>, StoreError> {
        sqlx::query_as("SELECT since, reason FROM suspensions WHERE user = ?")
            .bind(user.lookup_key())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a suspension"))
    }

    async fn add_dkim_key(&self, k: &DkimKey) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO dkim_keys \
             (domain, selector, algorithm, private_key, public_key, state, created) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(k.domain.to_string())
        .bind(k.selector.clone())
        .bind(k.algorithm.clone())
        .bind(k.private_key.clone())
        .bind(k.public_key.clone())
        .bind(k.state.clone())
        .bind(k.created)
        .execute(&self.pool)
        .await
        .map_err(db("adding a DKIM key"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::AlreadyExists {
                what: format!("DKIM selector {} for {}", k.selector, k.domain),
            });
        }
        Ok(())
    }

    async fn list_dkim_keys(&self, domain: Option<&Domain>) -> Result<Vec<DkimKey>, StoreError> {
        type Row = (String, String, String, String, String, String, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT domain, selector, algorithm, private_key, public_key, state, created \
             FROM dkim_keys WHERE (? IS NULL OR domain = ?) ORDER BY domain, created, selector",
        )
        .bind(domain.map(|d| d.to_string()))
        .bind(domain.map(|d| d.to_string()))
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing DKIM keys"))?;
        rows.into_iter()
            .map(
                |(d, selector, algorithm, private_key, public_key, state, created)| {
                    Ok(DkimKey {
                        domain: parse_domain(d)?,
                        selector,
                        algorithm,
                        private_key,
                        public_key,
                        state,
                        created,
                    })
                },
            )
            .collect()
    }

    async fn set_dkim_key_state(
        &self,
        domain: &Domain,
        selector: &str,
        state: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE dkim_keys SET state = ? WHERE domain = ? AND selector = ?")
            .bind(state.to_string())
            .bind(domain.to_string())
            .bind(selector.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("changing a DKIM key"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_send_as(&self, user: &Address, address: &str) -> Result<(), StoreError> {
        const CONTEXT: &str = "adding a send-as delegation";
        let user_key = user.lookup_key();
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE address = ?")
            .bind(user_key.clone())
            .fetch_optional(&self.pool)
            .await
            .map_err(db(CONTEXT))?;
        if exists.is_none() {
            return Err(StoreError::UnknownUser {
                address: user.clone(),
            });
        }
        let done =
            sqlx::query("INSERT OR IGNORE INTO send_as (user, address, created) VALUES (?, ?, ?)")
                .bind(user_key)
                .bind(address.to_string())
                .bind(now())
                .execute(&self.pool)
                .await
                .map_err(db(CONTEXT))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::AlreadyExists {
                what: format!("send-as {address} for {user}"),
            });
        }
        Ok(())
    }

    async fn remove_send_as(&self, user: &Address, address: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM send_as WHERE user = ? AND address = ?")
            .bind(user.lookup_key())
            .bind(address.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("removing a send-as delegation"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_send_as(&self, user: &Address) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT address FROM send_as WHERE user = ? ORDER BY address")
            .bind(user.lookup_key())
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing send-as delegations"))
    }

    async fn may_send_as(&self, user: &Address, address: &Address) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM send_as WHERE user = ? AND (address = ? OR address = ?)",
        )
        .bind(user.lookup_key())
        .bind(address.lookup_key())
        .bind(format!("*@{}", address.domain()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db("checking a send-as delegation"))?;
        Ok(found.is_some())
    }

    async fn record_dmarc_evaluations(&self, es: &[DmarcEvaluation]) -> Result<(), StoreError> {
        const CONTEXT: &str = "recording DMARC evaluations";
        let mut tx = self.write_tx(CONTEXT).await?;
        for e in es {
            sqlx::query("INSERT INTO dmarc_evaluations (time, domain, document) VALUES (?, ?, ?)")
                .bind(e.time)
                .bind(e.domain.clone())
                .bind(e.document.clone())
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn pending_dmarc_evaluations(
        &self,
        limit: u32,
    ) -> Result<Vec<DmarcEvaluation>, StoreError> {
        let rows: Vec<(i64, i64, String, String)> = sqlx::query_as(
            "SELECT id, time, domain, document FROM dmarc_evaluations ORDER BY id LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading DMARC evaluations"))?;
        Ok(rows
            .into_iter()
            .map(|(id, time, domain, document)| DmarcEvaluation {
                id,
                time,
                domain,
                document,
            })
            .collect())
    }

    async fn remove_dmarc_evaluations(&self, ids: &[i64]) -> Result<(), StoreError> {
        let mut tx = self.write_tx("removing reported DMARC evaluations").await?;
        for id in ids {
            sqlx::query("DELETE FROM dmarc_evaluations WHERE id = ?")
                .bind(*id)
                .execute(&mut *tx)
                .await
                .map_err(db("removing reported DMARC evaluations"))?;
        }
        tx.commit()
            .await
            .map_err(db("removing reported DMARC evaluations"))
    }

    async fn add_dmarc_report(&self, r: &ReceivedReport) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO dmarc_reports \
             (org_name, report_id, domain, received, date_begin, date_end, document) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(r.org_name.clone())
        .bind(r.report_id.clone())
        .bind(r.domain.clone())
        .bind(r.received)
        .bind(r.begin)
        .bind(r.end)
        .bind(r.document.clone())
        .execute(&self.pool)
        .await
        .map_err(db("storing a DMARC report"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::AlreadyExists {
                what: format!("DMARC report {} from {}", r.report_id, r.org_name),
            });
        }
        Ok(())
    }

    async fn list_dmarc_reports(
        &self,
        domain: Option<&str>,
    ) -> Result<Vec<ReceivedReport>, StoreError> {
        let rows: Vec<(String, String, String, i64, i64, i64, String)> = sqlx::query_as(
            "SELECT org_name, report_id, domain, received, date_begin, date_end, document \
             FROM dmarc_reports WHERE (? IS NULL OR domain = ?) ORDER BY domain, date_begin",
        )
        .bind(domain.map(str::to_string))
        .bind(domain.map(str::to_string))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading DMARC reports"))?;
        Ok(rows
            .into_iter()
            .map(
                |(org_name, report_id, domain, received, begin, end, document)| ReceivedReport {
                    org_name,
                    report_id,
                    domain,
                    received,
                    begin,
                    end,
                    document,
                },
            )
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn versions(store: &SqliteStore) -> Vec<i64> {
        sqlx::query_scalar("SELECT version FROM schema_version ORDER BY version")
            .fetch_all(&store.pool)
            .await
            .expect("read versions")
    }

    #[tokio::test]
    async fn schema_applied_once_and_newer_schema_refused() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("store.db");
        let store = SqliteStore::open(&path).await.expect("create");
        assert_eq!(versions(&store).await, (1..=20).collect::<Vec<i64>>());
        store.close().await;

        let store = SqliteStore::open(&path).await.expect("reopen");
        assert_eq!(
            versions(&store).await,
            (1..=20).collect::<Vec<i64>>(),
            "reopening re-ran a step"
        );
        sqlx::query("INSERT INTO schema_version (version) VALUES (999)")
            .execute(&store.pool)
            .await
            .expect("bump version");
        store.close().await;

        let err = SqliteStore::open(&path).await.expect_err("newer schema");
        assert!(
            matches!(
                err,
                StoreError::UnsupportedSchema {
                    found: 999,
                    supported: 20
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn schema_v7_carries_submission_history_over() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:")
            .await
            .expect("memory db");
        for (_, sql) in MIGRATIONS.iter().filter(|(v, _)| *v < 7) {
            sqlx::raw_sql(*sql)
                .execute(&pool)
                .await
                .expect("old schema");
        }
        sqlx::raw_sql(
            "INSERT INTO submissions (user, time) VALUES ('a', 600), ('a', 1199), ('a', 1200); \
             INSERT INTO submission_domains (user, time, domain) VALUES \
               ('a', 600, 'x.test'), ('a', 1200, 'x.test'), ('a', 1200, 'y.test');",
        )
        .execute(&pool)
        .await
        .expect("old rows");
        sqlx::raw_sql(MIGRATIONS[6].1)
            .execute(&pool)
            .await
            .expect("v7");
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
