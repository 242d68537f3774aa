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
