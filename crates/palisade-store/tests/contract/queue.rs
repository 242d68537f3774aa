//! The contract of queue: tests that run on every backend (see `backend.rs`).

use super::*;

fn id(s: &str) -> QueueId {
    QueueId::parse(s).expect("queue id")
}

async fn dsns_are_recorded_once_and_forgotten_after_sixty_days(b: Backend) {
    let (_dir, s) = open(b).await;
    let (first, second) = (id("0000000000000001"), id("0000000000000002"));
    let now = 1_800_000_000;
    assert!(
        !s.dsn_queued(first, "a@x.test,b@x.test")
            .await
            .expect("read")
    );
    s.record_dsn(first, "a@x.test,b@x.test", now)
        .await
        .expect("record");
    s.record_dsn(first, "a@x.test,b@x.test", now + 1)
        .await
        .expect("a second record is no error");
    assert!(
        s.dsn_queued(first, "a@x.test,b@x.test")
            .await
            .expect("read")
    );
    assert!(!s.dsn_queued(first, "a@x.test").await.expect("read"));
    assert!(
        !s.dsn_queued(second, "a@x.test,b@x.test")
            .await
            .expect("read")
    );

    // Sixty days on, recording another forgets it.
    s.record_dsn(second, "c@x.test", now + 60 * 86_400 + 1)
        .await
        .expect("record");
    assert!(
        !s.dsn_queued(first, "a@x.test,b@x.test")
            .await
            .expect("read")
    );
    assert!(s.dsn_queued(second, "c@x.test").await.expect("read"));
}

async fn queue_statuses_keep_their_own_delivered_lists(b: Backend) {
    let (_dir, s) = open(b).await;
    let status = |n: &str, attempts: u32, next_attempt: i64, delivered: &[&str]| QueueStatus {
        id: id(n),
        attempts,
        next_attempt,
        last_error: None,
        delivered: delivered.iter().map(|d| d.to_string()).collect(),
        updated: 7,
    };
    // Two due at once: listed by id.
    let c = status(
        "00000000000000cc",
        2,
        500,
        &["3@x.test", "1@x.test", "2@x.test"],
    );
    let a = status("00000000000000aa", 0, 500, &[]);
    let b = status("00000000000000bb", 1, 100, &["b@x.test"]);
    for st in [&c, &a, &b] {
        s.put_queue_status(st).await.expect("put");
    }
    assert_eq!(
        s.list_queue_status().await.expect("list"),
        vec![b.clone(), a.clone(), c.clone()]
    );
    assert_eq!(s.queue_status(c.id).await.expect("read"), Some(c.clone()));
    // Emptying one list leaves the others.
    let b_done = status("00000000000000bb", 2, 900, &[]);
    s.put_queue_status(&b_done).await.expect("put");
    assert_eq!(
        s.queue_status(b.id).await.expect("read"),
        Some(b_done.clone())
    );
    assert_eq!(s.queue_status(c.id).await.expect("read"), Some(c.clone()));
    s.remove_queue_status(c.id).await.expect("remove");
    assert_eq!(s.list_queue_status().await.expect("list"), vec![a, b_done]);
    // A record put again after removal starts from what it is given.
    let c_again = status("00000000000000cc", 0, 1, &["9@x.test"]);
    s.put_queue_status(&c_again).await.expect("put");
    assert_eq!(s.queue_status(c.id).await.expect("read"), Some(c_again));
}

contract!(
    dsns_are_recorded_once_and_forgotten_after_sixty_days,
    queue_statuses_keep_their_own_delivered_lists,
);
