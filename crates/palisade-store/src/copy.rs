//! `palisade store copy`: every table of one backend into the other, row for row, so a
//! single-node installation can move to PostgreSQL (and back) without losing anything.
//!
//! - Columns and their types are PostgreSQL's (`information_schema`), whichever way the
//!   copy goes; SQLite keeps booleans as integers. The tables are [`TABLES`], in an order
//!   that satisfies every foreign key; a test keeps that list equal to both schemas.
//! - Sealed values (DKIM keys, TOTP seeds, signing keys) are copied as they are: both
//!   stores are opened with the same secret key (`with_secret` checks it), and what a
//!   value is bound to names its row, never its backend.
//! - Queue rows carry their node on PostgreSQL only: rows from SQLite become `node`'s,
//!   and only `node`'s rows go back to SQLite.
//! - Every row is inserted "or ignored", so a copy run again adds nothing; at the end
//!   each table's count in the target must equal the source's
//!   ([`StoreError::CopyMismatch`] otherwise: the target held other rows).
//! - Rows stream from the source and go in `BATCH` rows per target transaction. A table
//!   without a key (the logs of failures and strikes) cannot be merged row by row: it is
//!   copied whole in one transaction into an empty target, and skipped when the target
//!   already has as many rows.

use futures_util::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row};

use crate::error::db;
use crate::{PgStore, SqliteStore, StoreError};

/// Every table a copy moves, parents before children. Left out: `_sqlx_migrations` (each
/// store's own), SQLite's legacy `schema_version`, and `nodes` and `leases` (what live
/// nodes say of themselves).
pub const TABLES: &[&str] = &[
    "domains",
    "users",
    "aliases",
    "forwards",
    "srs_addresses",
    "queue_status",
    "queue_delivered",
    "dsn_sent",
    "events",
    "dmarc_evaluations",
    "dmarc_reports",
    "tlsrpt_results",
    "mta_sts_policies",
    "send_as",
    "dkim_keys",
    "suspensions",
    "submission_counts",
    "submission_recipient_domains",
    "auth_failures",
    "lockouts",
    "bans",
    "abuse_strikes",
    "login_successes",
    "server_secrets",
    "totp",
    "recovery_codes",
    "app_passwords",
    "rate_counts",
    "correspondents",
    "user_keys",
    "signing_keys",
    "lessons",
    "learned_features",
    "web_sessions",
    "passkeys",
    "hourly_counts",
    "daily_counts",
    "quarantine",
];

/// Rows per target transaction (`None` in [`to_postgres`] and [`to_sqlite`]: the whole
/// table in one).
const BATCH: usize = 500;

/// The column PostgreSQL adds to queue rows (their node).
const NODE: &str = "node";

/// One table's rows, in the source and (after the copy) in the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    pub source: i64,
    pub target: i64,
}

/// Which way a copy goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SqliteToPostgres,
    PostgresToSqlite,
}

/// A column as PostgreSQL types it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int8,
    Bool,
    Float,
    Text,
    Bytes,
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: Kind,
    /// Filled from a sequence (`BIGSERIAL`), which must move past the copied values.
    serial: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

/// What is copied of one table: the columns both stores have, and whether the
/// PostgreSQL side has the node column SQLite lacks.
struct Plan {
    table: &'static str,
    columns: Vec<Column>,
    by_node: bool,
    /// The table has a primary key, so a row already copied is recognised.
    keyed: bool,
}

/// Copies every table of `sqlite` into `pg` or back (`direction`); `pg`'s node owns the
/// queue rows. Both stores must be open with the same secret key. The counts, table by table.
pub async fn copy(
    sqlite: &SqliteStore,
    pg: &PgStore,
    direction: Direction,
) -> Result<Vec<TableCount>, StoreError> {
    let mut counts = Vec::with_capacity(TABLES.len());
    for &table in TABLES {
        let plan = plan(sqlite, pg, table).await?;
        let before = count(sqlite, pg, &plan, direction).await?;
        let batch = match (plan.keyed, before.target) {
            (true, _) => Some(BATCH),
            (false, 0) => None,
            (false, _) => {
                counts.push(before);
                continue;
            }
        };
        match direction {
            Direction::SqliteToPostgres => to_postgres(sqlite, pg, &plan, batch).await?,
            Direction::PostgresToSqlite => to_sqlite(pg, sqlite, &plan, batch).await?,
        }
        counts.push(count(sqlite, pg, &plan, direction).await?);
    }
    let differ: Vec<String> = counts
        .iter()
        .filter(|c| c.source != c.target)
        .map(|c| {
            format!(
                "{} ({} in the source, {} in the target)",
                c.table, c.source, c.target
            )
        })
        .collect();
    if !differ.is_empty() {
        return Err(StoreError::CopyMismatch {
            tables: differ.join(", "),
        });
    }
    Ok(counts)
}

/// `plan`'s table counted in the source and the target.
async fn count(
    sqlite: &SqliteStore,
    pg: &PgStore,
    plan: &Plan,
    direction: Direction,
) -> Result<TableCount, StoreError> {
    let (s, p) = (sqlite_count(sqlite, plan).await?, pg_count(pg, plan).await?);
    let (source, target) = match direction {
        Direction::SqliteToPostgres => (s, p),
        Direction::PostgresToSqlite => (p, s),
    };
    Ok(TableCount {
        table: plan.table,
        source,
        target,
    })
}

/// `table`'s columns as PostgreSQL has them, checked against SQLite's.
async fn plan(sqlite: &SqliteStore, pg: &PgStore, table: &'static str) -> Result<Plan, StoreError> {
    const CONTEXT: &str = "reading the schema to copy";
    let pg_columns: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT column_name::TEXT, data_type::TEXT, column_default::TEXT \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&pg.pool)
    .await
    .map_err(db(CONTEXT))?;
    let sqlite_columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
        .bind(table)
        .fetch_all(&sqlite.pool)
        .await
        .map_err(db(CONTEXT))?;
    let mut columns = Vec::new();
    let mut by_node = false;
    for (name, data_type, default) in pg_columns {
        if !sqlite_columns.contains(&name) {
            if name == NODE {
                by_node = true;
                continue;
            }
            return Err(mismatch(table, &name));
        }
        let kind = kind(&data_type).ok_or_else(|| mismatch(table, &name))?;
        let serial = default.is_some_and(|d| d.starts_with("nextval("));
        columns.push(Column { name, kind, serial });
    }
    if columns.is_empty() || columns.len() + usize::from(by_node) < sqlite_columns.len() {
        return Err(mismatch(table, "(columns)"));
    }
    let keys: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.table_constraints \
         WHERE table_schema = current_schema() AND table_name = $1 \
         AND constraint_type = 'PRIMARY KEY'",
    )
    .bind(table)
    .fetch_one(&pg.pool)
    .await
    .map_err(db(CONTEXT))?;
    Ok(Plan {
        table,
        columns,
        by_node,
        keyed: keys > 0,
    })
}

fn mismatch(table: &str, column: &str) -> StoreError {
    StoreError::CopyMismatch {
        tables: format!("{table}.{column}: the two schemas differ (upgrade both first)"),
    }
}

fn kind(data_type: &str) -> Option<Kind> {
    Some(match data_type {
        "bigint" => Kind::Int8,
        "boolean" => Kind::Bool,
        "double precision" => Kind::Float,
        "text" => Kind::Text,
        "bytea" => Kind::Bytes,
        _ => return None,
    })
}

impl Plan {
    fn names(&self) -> String {
        let quoted: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("\"{}\"", c.name))
            .collect();
        quoted.join(", ")
    }

    fn select(&self, node_filter: bool) -> String {
        let filter = if node_filter { " WHERE node = $1" } else { "" };
        format!("SELECT {} FROM {}{filter}", self.names(), self.table)
    }

    /// `INSERT … ON CONFLICT DO NOTHING` of one row (and its node, into PostgreSQL).
    fn insert(&self, postgres: bool) -> String {
        let mut names = self.names();
        let mut n = self.columns.len();
        if postgres && self.by_node {
            names.push_str(", node");
            n += 1;
        }
        let marks: Vec<String> = (1..=n)
            .map(|i| {
                if postgres {
                    format!("${i}")
                } else {
                    "?".into()
                }
            })
            .collect();
        format!(
            "INSERT INTO {} ({names}) VALUES ({}) ON CONFLICT DO NOTHING",
            self.table,
            marks.join(", ")
        )
    }
}

async fn to_postgres(
    sqlite: &SqliteStore,
    pg: &PgStore,
    plan: &Plan,
    batch: Option<usize>,
) -> Result<(), StoreError> {
    const CONTEXT: &str = "copying rows into PostgreSQL";
    let select = plan.select(false);
    let insert = plan.insert(true);
    let mut rows = sqlx::query(AssertSqlSafe(select)).fetch(&sqlite.pool);
    let mut tx = pg.pool.begin().await.map_err(db(CONTEXT))?;
    let mut in_batch = 0;
    while let Some(row) = rows.try_next().await.map_err(db(CONTEXT))? {
        let mut q = sqlx::query(AssertSqlSafe(insert.clone()));
        for (i, c) in plan.columns.iter().enumerate() {
            q = bind_pg(
                q,
                sqlite_value(&row, i, c.kind).map_err(db(CONTEXT))?,
                c.kind,
            );
        }
        if plan.by_node {
            q = q.bind(pg.node.clone());
        }
        q.execute(&mut *tx).await.map_err(db(CONTEXT))?;
        in_batch += 1;
        if Some(in_batch) == batch {
            tx.commit().await.map_err(db(CONTEXT))?;
            tx = pg.pool.begin().await.map_err(db(CONTEXT))?;
            in_batch = 0;
        }
    }
    for c in plan.columns.iter().filter(|c| c.serial) {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{t}', '{c}'), \
             COALESCE((SELECT MAX(\"{c}\") FROM {t}), 0) + 1, false)",
            t = plan.table,
            c = c.name
        );
        sqlx::query(AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
    }
    tx.commit().await.map_err(db(CONTEXT))
}

async fn to_sqlite(
    pg: &PgStore,
    sqlite: &SqliteStore,
    plan: &Plan,
    batch: Option<usize>,
) -> Result<(), StoreError> {
    const CONTEXT: &str = "copying rows into SQLite";
    let select = plan.select(plan.by_node);
    let insert = plan.insert(false);
    let mut q = sqlx::query(AssertSqlSafe(select));
    if plan.by_node {
        q = q.bind(pg.node.clone());
    }
    let mut rows = q.fetch(&pg.pool);
    let mut tx = sqlite.pool.begin().await.map_err(db(CONTEXT))?;
    let mut in_batch = 0;
    while let Some(row) = rows.try_next().await.map_err(db(CONTEXT))? {
        let mut q = sqlx::query(AssertSqlSafe(insert.clone()));
        for (i, c) in plan.columns.iter().enumerate() {
            q = bind_sqlite(q, pg_value(&row, i, c.kind).map_err(db(CONTEXT))?);
        }
        q.execute(&mut *tx).await.map_err(db(CONTEXT))?;
        in_batch += 1;
        if Some(in_batch) == batch {
            tx.commit().await.map_err(db(CONTEXT))?;
            tx = sqlite.pool.begin().await.map_err(db(CONTEXT))?;
            in_batch = 0;
        }
    }
    tx.commit().await.map_err(db(CONTEXT))
}

async fn sqlite_count(sqlite: &SqliteStore, plan: &Plan) -> Result<i64, StoreError> {
    let sql = format!("SELECT COUNT(*) FROM {}", plan.table);
    sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_one(&sqlite.pool)
        .await
        .map_err(db("counting rows"))
}

async fn pg_count(pg: &PgStore, plan: &Plan) -> Result<i64, StoreError> {
    let filter = if plan.by_node { " WHERE node = $1" } else { "" };
    let sql = format!("SELECT COUNT(*) FROM {}{filter}", plan.table);
    let mut q = sqlx::query_scalar(AssertSqlSafe(sql));
    if plan.by_node {
        q = q.bind(pg.node.clone());
    }
    q.fetch_one(&pg.pool).await.map_err(db("counting rows"))
}

fn sqlite_value(row: &SqliteRow, i: usize, kind: Kind) -> Result<Value, sqlx::Error> {
    Ok(match kind {
        Kind::Int8 => row.try_get::<Option<i64>, _>(i)?.map(Value::Int),
        Kind::Bool => row
            .try_get::<Option<i64>, _>(i)?
            .map(|v| Value::Bool(v != 0)),
        Kind::Float => row.try_get::<Option<f64>, _>(i)?.map(Value::Float),
        Kind::Text => row.try_get::<Option<String>, _>(i)?.map(Value::Text),
        Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map(Value::Bytes),
    }
    .unwrap_or(Value::Null))
}

fn pg_value(row: &PgRow, i: usize, kind: Kind) -> Result<Value, sqlx::Error> {
    Ok(match kind {
        Kind::Int8 => row.try_get::<Option<i64>, _>(i)?.map(Value::Int),
        Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map(Value::Bool),
        Kind::Float => row.try_get::<Option<f64>, _>(i)?.map(Value::Float),
        Kind::Text => row.try_get::<Option<String>, _>(i)?.map(Value::Text),
        Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map(Value::Bytes),
    }
    .unwrap_or(Value::Null))
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;
type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// `v` bound as the type of its PostgreSQL column (`kind`): a NULL is typed too.
fn bind_pg(q: PgQuery<'_>, v: Value, kind: Kind) -> PgQuery<'_> {
    match (v, kind) {
        (Value::Int(n), _) => q.bind(n),
        (Value::Bool(b), _) => q.bind(b),
        (Value::Float(f), _) => q.bind(f),
        (Value::Text(s), _) => q.bind(s),
        (Value::Bytes(b), _) => q.bind(b),
        (Value::Null, Kind::Int8) => q.bind(None::<i64>),
        (Value::Null, Kind::Bool) => q.bind(None::<bool>),
        (Value::Null, Kind::Float) => q.bind(None::<f64>),
        (Value::Null, Kind::Text) => q.bind(None::<String>),
        (Value::Null, Kind::Bytes) => q.bind(None::<Vec<u8>>),
    }
}

fn bind_sqlite(q: SqliteQuery<'_>, v: Value) -> SqliteQuery<'_> {
    match v {
        Value::Int(n) => q.bind(n),
        Value::Bool(b) => q.bind(i64::from(b)),
        Value::Float(f) => q.bind(f),
        Value::Text(s) => q.bind(s),
        Value::Bytes(b) => q.bind(b),
        Value::Null => q.bind(None::<i64>),
    }
}
