//! The backends the contract runs on, each test on a database of its own.
//!
//! PostgreSQL is the server on 127.0.0.1:5432 (database `test`; `PALISADE_TEST_POSTGRES`
//! names another): each test gets a schema of its own, dropped when it ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use palisade_store::{PgStore, Secret, SqliteStore, Store, StoreError};
use sqlx::postgres::PgConnectOptions;
use tempfile::TempDir;

/// A backend to run one contract test on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    /// A new SQLite file in a temporary directory.
    Sqlite,
    /// A new schema in the test PostgreSQL database.
    Postgres,
}

/// What to remove when the test is over.
enum Guard {
    Dir(TempDir),
    Schema(Schema),
}

/// A schema of one test's own in the test database, dropped with this value.
pub struct Schema(String);

impl Schema {
    pub async fn create() -> Schema {
        let schema = schema_name();
        admin(format!("CREATE SCHEMA {schema}")).await;
        Schema(schema)
    }

    /// Connection options whose connections work in this schema.
    pub fn options(&self) -> PgConnectOptions {
        let options: PgConnectOptions = postgres_url().parse().expect("test URL");
        options.options([("search_path", self.0.as_str())])
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA {} CASCADE", self.0);
        // Drop cannot await: the schema goes on a runtime of its own.
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(admin(sql))
        })
        .join()
        .expect("dropping the test schema");
    }
}

/// A fresh, empty store; dropping it removes the database.
pub struct Fresh {
    store: Arc<dyn Store>,
    guard: Guard,
}

/// The key the contract's stores seal with (32 bytes of 7).
pub fn test_secret() -> Secret {
    Secret::from_base64(&format!("{}Bwc=", "BwcH".repeat(10)), "test").expect("test key")
}

/// A key other than [`test_secret`].
pub fn other_secret() -> Secret {
    Secret::from_base64(&format!("{}CAg=", "CAgI".repeat(10)), "test").expect("test key")
}

impl Fresh {
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }

    /// This test's database opened again, with `secret` (or none).
    pub async fn reopen(&self, secret: Option<Secret>) -> Result<Arc<dyn Store>, StoreError> {
        match &self.guard {
            Guard::Dir(dir) => {
                let store = SqliteStore::open(&dir.path().join("store.db")).await?;
                Ok(match secret {
                    Some(s) => Arc::new(store.with_secret(s).await?),
                    None => Arc::new(store),
                })
            }
            Guard::Schema(schema) => {
                let store = PgStore::connect_with(schema.options(), 2, "contract").await?;
                Ok(match secret {
                    Some(s) => Arc::new(store.with_secret(s).await?),
                    None => Arc::new(store),
                })
            }
        }
    }

    /// Every byte someone with the database alone has: the SQLite file and its log, or
    /// what `pg_dump` gives of the test's schema.
    pub fn dump(&self) -> Vec<u8> {
        match &self.guard {
            Guard::Dir(dir) => ["store.db", "store.db-wal"]
                .iter()
                .flat_map(|f| std::fs::read(dir.path().join(f)).unwrap_or_default())
                .collect(),
            Guard::Schema(schema) => {
                let out = std::process::Command::new("pg_dump")
                    .args(["--schema", &schema.0, "--dbname", &postgres_url()])
                    .output()
                    .expect("pg_dump runs");
                assert!(
                    out.status.success(),
                    "pg_dump: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                out.stdout
            }
        }
    }
}

pub fn postgres_url() -> String {
    std::env::var("PALISADE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema name no other test (of this run or another process) uses.
fn schema_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "contract_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

async fn admin(sql: String) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&postgres_url())
        .await
        .expect("the test PostgreSQL on 127.0.0.1:5432");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .expect("schema");
}

impl Backend {
    pub async fn open(self) -> Fresh {
        match self {
            Backend::Sqlite => {
                let dir = TempDir::new().expect("temp dir");
                let store = SqliteStore::open(&dir.path().join("store.db"))
                    .await
                    .expect("open store")
                    .with_secret(test_secret())
                    .await
                    .expect("the store's key");
                Fresh {
                    store: Arc::new(store),
                    guard: Guard::Dir(dir),
                }
            }
            Backend::Postgres => {
                let schema = Schema::create().await;
                let store = PgStore::connect_with(schema.options(), 4, "contract")
                    .await
                    .expect("open store")
                    .with_secret(test_secret())
                    .await
                    .expect("the store's key");
                Fresh {
                    store: Arc::new(store),
                    guard: Guard::Schema(schema),
                }
            }
        }
    }
}

/// One `#[tokio::test]` per backend for each contract test named: `sqlite::name` and
/// `postgres::name`. Each test is an `async fn name(b: Backend)` that opens its store
/// with `b`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await
                }
            )*
        }
    };
}
