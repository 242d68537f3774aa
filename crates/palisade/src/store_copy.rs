//! `palisade store copy`: an installation's store moved from SQLite to PostgreSQL (or
//! back), every table row for row ([`palisade_store::copy`]).

use crate::commands::Paths;
use crate::usage;
use palisade_store::copy::{Direction, copy};
use palisade_store::{PgStore, SqliteStore};
use std::path::PathBuf;

/// Connections the copy opens to PostgreSQL.
const CONNECTIONS: u32 = 4;

enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

/// `sqlite:PATH` or a `postgres://` URL, given as `flag`.
fn location(flag: &str, s: &str) -> anyhow::Result<Location> {
    if let Some(path) = s.strip_prefix("sqlite:") {
        if path.is_empty() {
            return Err(usage(format!("{flag}: sqlite: needs a path")));
        }
        return Ok(Location::Sqlite(PathBuf::from(path)));
    }
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        return Ok(Location::Postgres(s.to_string()));
    }
    Err(usage(format!(
        "{flag}: {:?} is neither sqlite:PATH nor a postgres:// URL",
        shown(s)
    )))
}

/// A location as it may be printed: a URL without its password.
fn shown(s: &str) -> String {
    if s.starts_with("sqlite:") {
        s.to_string()
    } else {
        palisade_store::redacted(s)
    }
}

pub async fn run(paths: &Paths, from: &str, to: &str) -> anyhow::Result<()> {
    let config = paths.load_config_or_default()?;
    let (path, url, direction) = match (location("--from", from)?, location("--to", to)?) {
        (Location::Sqlite(p), Location::Postgres(u)) => (p, u, Direction::SqliteToPostgres),
        (Location::Postgres(u), Location::Sqlite(p)) => (p, u, Direction::PostgresToSqlite),
        _ => {
            return Err(usage(
                "one side must be sqlite:PATH and the other a postgres:// URL",
            ));
        }
    };
    if direction == Direction::SqliteToPostgres && !path.is_file() {
        return Err(usage(format!("--from: no store at {}", path.display())));
    }
    let sqlite = SqliteStore::open(&path)
        .await?
        .with_secret(paths.secret_key(&config)?)
        .await?;
    let pg = PgStore::connect(&url, CONNECTIONS, &config.node_id)
        .await?
        .with_secret(paths.secret_key(&config)?)
        .await?;
    let counts = copy(&sqlite, &pg, direction).await?;
    sqlite.close().await;
    pg.close().await;
    for c in &counts {
        println!("{:<30} {:>9}", c.table, c.target);
    }
    let rows: i64 = counts.iter().map(|c| c.target).sum();
    println!(
        "copied {} tables, {rows} rows; every table has as many rows in {} as in {}",
        counts.len(),
        shown(to),
        shown(from)
    );
    Ok(())
}
