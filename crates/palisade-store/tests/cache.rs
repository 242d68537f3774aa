//! The hot-path lookup cache against the real SQLite store: a change made through the
//! store is seen by the very next lookup (the store moves its generation), a change by
//! another process (the CLI's own connection to the file) within `LookupCache::TTL`,
//! and the per-message writes (queue state, events) do not empty the cache.

#![allow(clippy::unwrap_used)]

use palisade_store::prelude::*;
use palisade_store::{LookupCache, QueueStatus, Sealing, SqliteStore};
use palisade_types::{Address, Domain, QueueId};
use tempfile::TempDir;

fn addr(s: &str) -> Address {
    Address::parse(s).expect("test address")
}

fn dom(s: &str) -> Domain {
    Domain::parse(s).expect("test domain")
}

async fn populated() -> (TempDir, SqliteStore) {
    let dir = TempDir::new().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("store.db"))
        .await
        .expect("open store");
    store.add_domain(&dom("example.org")).await.expect("domain");
    store
        .add_user(&addr("alice@example.org"), "$hash")
        .await
        .expect("user");
    (dir, store)
}

const CLEAR: Sealing = Sealing {
    user: false,
    domain: false,
};

#[tokio::test]
async fn a_change_through_the_store_is_seen_by_the_next_lookup() {
    let (_dir, store) = populated().await;
    let cache = LookupCache::new();
    let alice = addr("alice@example.org");
    let carol = addr("carol@example.org");
    assert_eq!(cache.sealing(&store, &alice).await.unwrap(), CLEAR);
    assert_eq!(cache.resolve_recipient(&store, &carol).await.unwrap(), None);
    assert!(
        !cache
            .is_local_domain(&store, &dom("example.net"))
            .await
            .unwrap()
    );

    store.set_encrypt_at_rest(&alice, true).await.unwrap();
    let sealing = cache.sealing(&store, &alice).await.unwrap();
    assert!(sealing.user, "the user's switch is seen at once");
    store
        .set_domain_encrypt_at_rest(&dom("example.org"), true)
        .await
        .unwrap();
    assert!(cache.sealing(&store, &alice).await.unwrap().domain);

    store.add_user(&carol, "$hash").await.unwrap();
    assert_eq!(
        cache.resolve_recipient(&store, &carol).await.unwrap(),
        Some(carol.clone()),
        "a new user receives mail at once (the negative answer is not served)"
    );
    store.add_domain(&dom("example.net")).await.unwrap();
    assert!(
        cache
            .is_local_domain(&store, &dom("example.net"))
            .await
            .unwrap()
    );

    // Groups and forwards live in a WITHOUT ROWID table, which SQLite's update hook
    // never reports: the store moves the generation itself.
    let team = addr("team@example.org");
    let outside = addr("partner@example.com");
    assert!(cache.forwards(&store, &team).await.unwrap().is_empty());
    store.add_forward(&team, &outside).await.unwrap();
    assert_eq!(
        cache.forwards(&store, &team).await.unwrap(),
        vec![outside.clone()],
        "a new forward is seen at once"
    );
    store.remove_forwards(&team).await.unwrap();
    assert!(
        cache.forwards(&store, &team).await.unwrap().is_empty(),
        "a removed forward is gone at once"
    );
}

#[tokio::test]
async fn another_process_s_change_is_seen_within_the_time_to_live() {
    let (dir, store) = populated().await;
    let cache = LookupCache::new();
    let alice = addr("alice@example.org");
    assert_eq!(cache.sealing(&store, &alice).await.unwrap(), CLEAR);

    // The CLI is another process with its own connections to the same file.
    let cli = SqliteStore::open(&dir.path().join("store.db"))
        .await
        .expect("second store");
    cli.set_encrypt_at_rest(&alice, true).await.unwrap();
    assert_eq!(
        cache.sealing(&store, &alice).await.unwrap(),
        CLEAR,
        "within the time to live the cached answer is served without a query"
    );
    tokio::time::sleep(LookupCache::TTL).await;
    assert!(cache.sealing(&store, &alice).await.unwrap().user);
}

#[tokio::test]
async fn per_message_writes_leave_the_generation_alone() {
    let (_dir, store) = populated().await;
    let before = store.generation();
    let id = QueueId::generate();
    store
        .put_queue_status(&QueueStatus {
            id,
            attempts: 1,
            next_attempt: 0,
            last_error: Some("451 4.4.1 try later".into()),
            delivered: Vec::new(),
            updated: 0,
        })
        .await
        .unwrap();
    store.remove_queue_status(id).await.unwrap();
    assert_eq!(
        store.generation(),
        before,
        "queue state is not a cached table"
    );

    store
        .add_user(&addr("bob@example.org"), "$hash")
        .await
        .unwrap();
    assert!(store.generation() > before, "a new user moves it");
}
