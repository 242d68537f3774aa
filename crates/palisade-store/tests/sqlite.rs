//! What only the SQLite backend promises: its file outlives the process. The contract
//! every backend keeps is in `tests/contract`.

use palisade_store::prelude::*;
use palisade_store::{AliasSource, QueueStatus, SqliteStore};
use palisade_types::{Address, Domain, QueueId};
use tempfile::TempDir;

fn addr(s: &str) -> Address {
    Address::parse(s).expect("test address")
}

fn dom(s: &str) -> Domain {
    Domain::parse(s).expect("test domain")
}

fn source(s: &str) -> AliasSource {
    AliasSource::parse(s).expect("test alias source")
}

fn status(id: QueueId, attempts: u32, next_attempt: i64, delivered: &[&str]) -> QueueStatus {
    QueueStatus {
        id,
        attempts,
        next_attempt,
        last_error: (attempts > 0).then(|| "451 4.4.1 try later".to_string()),
        delivered: delivered.iter().map(|s| s.to_string()).collect(),
        updated: 1_700_000_000 + i64::from(attempts),
    }
}

#[tokio::test]
async fn reopened_file_keeps_its_data() {
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("nested-name.db");
    let id = QueueId::parse("00000000deadbeef").expect("id");
    {
        let store = SqliteStore::open(&path).await.expect("create");
        store.add_domain(&dom("example.org")).await.expect("domain");
        store
            .add_user(&addr("alice@example.org"), "$hash")
            .await
            .expect("user");
        store
            .add_alias(&source("*@example.org"), &addr("alice@example.org"))
            .await
            .expect("alias");
        store
            .put_queue_status(&status(id, 2, 5_000, &["x@remote.test"]))
            .await
            .expect("queue");
        store.close().await;
    }
    assert!(path.exists(), "the file was created");

    let store = SqliteStore::open(&path).await.expect("reopen");
    assert_eq!(
        store.list_domains().await.expect("list"),
        vec![dom("example.org")]
    );
    assert_eq!(
        store
            .password_hash(&addr("alice@example.org"))
            .await
            .expect("read")
            .as_deref(),
        Some("$hash")
    );
    assert_eq!(
        store
            .resolve_recipient(&addr("whoever@example.org"))
            .await
            .expect("resolve"),
        Some(addr("alice@example.org"))
    );
    assert_eq!(
        store.queue_status(id).await.expect("read"),
        Some(status(id, 2, 5_000, &["x@remote.test"]))
    );
}

/// Issue 21: a store from before sealing has its DKIM keys and TOTP seeds in clear; the
/// first open with the secret key seals them, and no clear copy is left in the file.
#[tokio::test]
async fn keys_stored_in_clear_are_sealed_in_place() {
    use palisade_store::Secret;
    let dir = TempDir::new().expect("temp dir");
    let path = dir.path().join("palisade.db");
    let dkim_plain = "MC4CAQAwBQYDK2VwBCIEIOLDRELEASEDKIMKEYINCLEAR0000000";
    let seed_plain = "OLDRELEASETOTPSEEDINCLEAR234567A";
    {
        let store = SqliteStore::open(&path).await.expect("create");
        store.add_domain(&dom("example.org")).await.expect("domain");
        let alice = addr("alice@example.org");
        store.add_user(&alice, "$hash").await.expect("user");
        // What an older release wrote: the values in clear.
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
            "sqlite://{}",
            path.display()
        ))
        .await
        .expect("raw connection");
        let rows = [
            "INSERT INTO dkim_keys (domain, selector, algorithm, private_key, public_key, \
             state, created) VALUES ('example.org', 's1', 'ed25519', ?, 'pub', 'active', 1)",
            "INSERT INTO totp (user, secret, enabled, created) \
             VALUES ('alice@example.org', ?, 1, 1)",
        ];
        for (sql, value) in rows.into_iter().zip([dkim_plain, seed_plain]) {
            sqlx::query(sql)
                .bind(value)
                .execute(&mut conn)
                .await
                .expect("legacy row");
        }
        store.close().await;
    }
    let key = || Secret::from_base64(&format!("{}Bwc=", "BwcH".repeat(10)), "test");
    let store = SqliteStore::open(&path)
        .await
        .expect("reopen")
        .with_secret(key().expect("key"))
        .await
        .expect("sealed in place");
    let keys = store.list_dkim_keys(None).await.expect("dkim");
    assert_eq!(keys[0].private_key, dkim_plain);
    let totp = store.totp(&addr("alice@example.org")).await.expect("totp");
    assert_eq!(totp.expect("seed").secret, seed_plain);
    store.close().await;

    let mut bytes = std::fs::read(&path).expect("file");
    bytes.extend(std::fs::read(dir.path().join("palisade.db-wal")).unwrap_or_default());
    for plain in [dkim_plain, seed_plain] {
        let found = bytes.windows(plain.len()).any(|w| w == plain.as_bytes());
        assert!(!found, "{plain} is still in the file in clear");
    }
    // And the next open finds nothing left to seal, with the same key only.
    let again = SqliteStore::open(&path).await.expect("reopen");
    let other = Secret::from_base64(&format!("{}CAg=", "CAgI".repeat(10)), "test");
    let refused = again.with_secret(other.expect("key")).await;
    assert!(matches!(
        refused,
        Err(palisade_store::StoreError::WrongSecret)
    ));
}
