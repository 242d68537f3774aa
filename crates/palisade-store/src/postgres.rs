//! [`PgStore`]: the [`Store`] backend several nodes share, on PostgreSQL via sqlx.
//!
//! - The schema is `migrations/postgres` (sqlx's migrator, which takes an advisory lock,
//!   so nodes starting together apply each step once); a store with a step this build
//!   does not know is refused.
//! - Statements use `$n` placeholders and PostgreSQL's own forms (`ON CONFLICT`,
//!   `RETURNING`); `"user"` and `"window"` are quoted (reserved words here).
//! - A read-check-write that SQLite runs in `BEGIN IMMEDIATE` runs here in
//!   [`PgStore::write_tx`]: a transaction that first takes one advisory lock, so such
//!   changes are serialised across every node as they are on one SQLite file.
//! - [`Store::generation`] moves when this process changes a cached table and when any
//!   node does: triggers `NOTIFY palisade_directory` at commit, and a listener here
//!   counts what it hears (and counts a reconnection too, since what was said while the
//!   connection was down is lost).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use palisade_types::{Address, Domain, QueueId};

use crate::console::{AccountFlags, StoredPasskey, WebSession};
use crate::dashboard::{HourlyCount, Tally};
use crate::error::{db, is_unique_violation, migrate_error};
use crate::rows::*;
use crate::seal::{self, Secret, context};
use crate::{
    AliasSource, AppPassword, Block, DkimKey, DmarcEvaluation, Event, Lesson, QueueStatus,
    ReceivedReport, SigningKey, SiteCounts, Store, StoreError, StsPolicyRow, TlsResultRow,
    TotpState, User, UserKey,
};

mod accounts;
mod console;
mod dashboard;
mod directory;
mod history;
mod keys;
mod nodes;
mod quarantine;
mod queue;
mod reports;
mod security;

/// The schema, one numbered step per file of `migrations/postgres` (never edited once
/// released), embedded in the binary.
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The advisory lock key [`PgStore::write_tx`] takes ("palisade" in ASCII, truncated).
const WRITE_LOCK: i64 = 0x7061_6c69_7361_6465;

/// The channel the schema's triggers notify on a change to a cached table.
const CHANNEL: &str = "palisade_directory";

/// How long to wait for a connection from the pool before the request fails (and the
/// mail it was for gets a 4xx).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The shared store. Cheap to share: clone the `Arc` it is usually held in.
#[derive(Debug)]
pub struct PgStore {
    pub(crate) pool: PgPool,
    /// This node's name: its queue rows carry it.
    pub(crate) node: String,
    generation: Arc<AtomicU64>,
    /// Moves when another node changes the bans ([`Store::bans_generation`]).
    bans: Arc<AtomicU64>,
    /// The key private keys and TOTP seeds are sealed with ([`PgStore::with_secret`]).
    secret: Option<Arc<Secret>>,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://…`) as the node `node` with at most
    /// `max_connections`, brings the schema up to date, and starts listening for other
    /// nodes' changes. Must run inside a Tokio runtime.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        node: &str,
    ) -> Result<PgStore, StoreError> {
        let options: PgConnectOptions = url.parse().map_err(|source| StoreError::Connect {
            url: redacted(url),
            source,
        })?;
        PgStore::connect_with(options, max_connections, node).await
    }

    /// [`PgStore::connect`] with options built by the caller (a test's own schema).
    pub async fn connect_with(
        options: PgConnectOptions,
        max_connections: u32,
        node: &str,
    ) -> Result<PgStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(2))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Connect {
                url: "postgres".into(),
                source,
            })?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| migrate_error(e, &MIGRATOR))?;
        let generation = Arc::new(AtomicU64::new(0));
        let bans = Arc::new(AtomicU64::new(0));
        let heard = Heard {
            directory: generation.clone(),
            bans: bans.clone(),
        };
        let listener = tokio::spawn(listen(pool.clone(), heard));
        Ok(PgStore {
            pool,
            node: node.to_string(),
            generation,
            bans,
            listener,
            secret: None,
        })
    }

    /// This store, sealing private keys and TOTP seeds with `secret`: refused if the
    /// store was first opened with another key (every node must be given the same).
    pub async fn with_secret(mut self, secret: Secret) -> Result<PgStore, StoreError> {
        seal::check_key(&self, &secret).await?;
        self.secret = Some(Arc::new(secret));
        Ok(self)
    }

    /// Waits for in-flight queries and closes every connection.
    pub async fn close(&self) {
        self.listener.abort();
        self.pool.close().await;
    }

    /// A write to a cached table has committed (the trigger tells the other nodes; this
    /// one need not wait for its own notification).
    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// A transaction without the write lock, for changes that check nothing first
    /// (upserts, counts, pruning): concurrent ones on other nodes need not wait.
    async fn tx(
        &self,
        context: &'static str,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(db(context))
    }

    /// A transaction holding the store's one write lock until it ends, for a read that
    /// decides a write (what `BEGIN IMMEDIATE` gives on SQLite).
    async fn write_tx(
        &self,
        context: &'static str,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db(context))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db(context))?;
        Ok(tx)
    }
}

/// What the listener moves: the lookup cache's generation, or the bans' (a notification
/// names its table).
struct Heard {
    directory: Arc<AtomicU64>,
    bans: Arc<AtomicU64>,
}

impl Heard {
    fn table(&self, table: &str) {
        let counter = if table == "bans" {
            &self.bans
        } else {
            &self.directory
        };
        counter.fetch_add(1, Ordering::AcqRel);
    }

    /// Something may have gone unheard: both move.
    fn all(&self) {
        self.directory.fetch_add(1, Ordering::AcqRel);
        self.bans.fetch_add(1, Ordering::AcqRel);
    }
}

/// Counts every notification on [`CHANNEL`] (and every reconnection) into `heard`, until
/// the store is dropped. A failed `LISTEN` is retried after a pause: until it succeeds,
/// the lookup cache's time to live (and the bans' periodic refresh) bound how stale a
/// node gets.
async fn listen(pool: PgPool, heard: Heard) {
    loop {
        if let Ok(mut listener) = PgListener::connect_with(&pool).await
            && listener.listen(CHANNEL).await.is_ok()
        {
            heard.all();
            // `try_recv` gives `Ok(None)` when the connection was lost (and is remade
            // at the next call): a change may have gone unheard, so that counts too.
            while let Ok(notification) = listener.try_recv().await {
                match notification {
                    Some(n) => heard.table(n.payload()),
                    None => heard.all(),
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// `url` without its password (nor its parameters, which may hold one), for errors.
pub fn redacted(url: &str) -> String {
    let url = url.split_once('?').map_or(url, |(base, _)| base);
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".into();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_owned(),
    }
}

#[async_trait::async_trait]
impl Store for PgStore {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
    fn bans_generation(&self) -> u64 {
        self.bans.load(Ordering::Acquire)
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
    use super::redacted;

    #[test]
    fn a_url_loses_its_password_and_parameters() {
        assert_eq!(
            redacted("postgres://mail:s3cret@db.example:5432/palisade?password=x"),
            "postgres://mail@db.example:5432/palisade"
        );
        assert_eq!(redacted("postgres://db/x"), "postgres://db/x");
        assert_eq!(redacted("nonsense"), "(not a URL)");
    }
}
