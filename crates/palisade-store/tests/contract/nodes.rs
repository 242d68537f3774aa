//! The contract of nodes: tests that run on every backend (see `backend.rs`).

use super::*;
use palisade_store::NodeStatus;

async fn heartbeats_name_each_node_with_its_retrying_count(b: Backend) {
    let (_fresh, store) = open(b).await;
    assert!(store.nodes().await.expect("none yet").is_empty());
    let waiting = QueueStatus {
        id: QueueId::generate(),
        attempts: 2,
        next_attempt: 500,
        last_error: None,
        delivered: Vec::new(),
        updated: 400,
    };
    store.put_queue_status(&waiting).await.expect("a retry");
    let beat = store
        .heartbeat("mx2", "0.1.0", 100, 200)
        .await
        .expect("beat");
    let mx2 = NodeStatus {
        node: "mx2".into(),
        version: "0.1.0".into(),
        started: 100,
        heartbeat: 200,
        retrying: 1,
    };
    assert_eq!(beat, mx2);
    store
        .heartbeat("mx1", "0.1.0", 150, 210)
        .await
        .expect("beat");
    store
        .remove_queue_status(waiting.id)
        .await
        .expect("delivered");
    store
        .heartbeat("mx2", "0.2.0", 300, 310)
        .await
        .expect("beat again");
    let nodes = store.nodes().await.expect("nodes");
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0].node, "mx1");
    assert_eq!(
        nodes[1],
        NodeStatus {
            version: "0.2.0".into(),
            started: 300,
            heartbeat: 310,
            retrying: 0,
            ..mx2
        }
    );
}

async fn a_lease_has_one_holder_until_it_ends(b: Backend) {
    let (_fresh, store) = open(b).await;
    assert!(
        store
            .take_lease("reports", "a", 100, 200)
            .await
            .expect("free")
    );
    assert!(
        !store
            .take_lease("reports", "b", 150, 250)
            .await
            .expect("a's")
    );
    assert!(
        store
            .take_lease("reports", "a", 190, 290)
            .await
            .expect("renewed")
    );
    assert!(
        !store
            .take_lease("reports", "b", 289, 389)
            .await
            .expect("still a's")
    );
    assert!(
        store
            .take_lease("doctor", "b", 289, 389)
            .await
            .expect("another lease")
    );
    assert!(
        store
            .take_lease("reports", "b", 290, 390)
            .await
            .expect("a's ended")
    );
    assert!(
        !store
            .take_lease("reports", "a", 300, 400)
            .await
            .expect("b's now")
    );
}

contract!(
    heartbeats_name_each_node_with_its_retrying_count,
    a_lease_has_one_holder_until_it_ends
);
