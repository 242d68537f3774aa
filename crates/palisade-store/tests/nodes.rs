//! Nodes sharing one PostgreSQL store: each keeps its own queue rows (its messages are
//! on its own disk), and sees the others' changes to what is shared.

#[path = "contract/backend.rs"]
#[macro_use]
#[allow(unused_macros, dead_code)]
mod backend;

use std::time::Duration;

use backend::Schema;
use palisade_store::prelude::*;
use palisade_store::{PgStore, QueueStatus};
use palisade_types::{Address, Domain, QueueId};

fn status(id: QueueId, attempts: u32, delivered: &[&str]) -> QueueStatus {
    QueueStatus {
        id,
        attempts,
        next_attempt: 100,
        last_error: Some("later".into()),
        delivered: delivered.iter().map(|s| s.to_string()).collect(),
        updated: 50,
    }
}

/// Nodes `a` and `b` on one schema.
async fn two_nodes(schema: &Schema) -> (PgStore, PgStore) {
    let a = PgStore::connect_with(schema.options(), 4, "a").await;
    let b = PgStore::connect_with(schema.options(), 4, "b").await;
    (a.expect("node a"), b.expect("node b"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_node_sees_and_changes_only_its_own_queue_rows() {
    let schema = Schema::create().await;
    let (a, b) = two_nodes(&schema).await;
    let (one, two) = (QueueId::generate(), QueueId::generate());
    a.put_queue_status(&status(one, 1, &["x@r.test"]))
        .await
        .expect("a's");
    b.put_queue_status(&status(two, 2, &[])).await.expect("b's");
    // The same id on both nodes (two spools) is two rows.
    b.put_queue_status(&status(one, 3, &[]))
        .await
        .expect("b's own copy");

    assert_eq!(
        a.list_queue_status().await.expect("a lists"),
        vec![status(one, 1, &["x@r.test"])]
    );
    let b_rows: Vec<QueueId> = b
        .list_queue_status()
        .await
        .expect("b lists")
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(b_rows.len(), 2);
    assert!(b_rows.contains(&one) && b_rows.contains(&two));
    assert_eq!(
        a.queue_status(two).await.expect("read"),
        None,
        "b's row is not a's"
    );

    a.remove_queue_status(one).await.expect("a removes its own");
    assert!(a.list_queue_status().await.expect("a lists").is_empty());
    assert_eq!(
        b.queue_status(one).await.expect("read").map(|s| s.attempts),
        Some(3),
        "b's row with the same id is untouched"
    );
    a.close().await;
    b.close().await;
}

/// A change committed through one node moves the other's generation (LISTEN/NOTIFY)
/// well within the 2 seconds a ban or a new user may take to reach every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_node_reaches_the_other_s_cache_within_two_seconds() {
    let schema = Schema::create().await;
    let (a, b) = two_nodes(&schema).await;
    // The listener is up once it has counted its first LISTEN.
    for _ in 0..200 {
        if b.generation() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = b.generation();
    assert!(before > 0, "b listens");
    let domain = Domain::parse("shared.test").expect("domain");
    a.add_domain(&domain).await.expect("added on a");
    a.add_user(&Address::parse("u@shared.test").expect("address"), "$h")
        .await
        .expect("user on a");
    let started = std::time::Instant::now();
    while b.generation() == before && started.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(b.generation() > before, "b heard a's change");
    assert!(b.is_local_domain(&domain).await.expect("read on b"));
    a.close().await;
    b.close().await;
}
