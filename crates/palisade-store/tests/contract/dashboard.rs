//! The contract of dashboard: tests that run on every backend (see `backend.rs`).

use super::*;
use palisade_store::{HourlyCount, Tally, TlsResultRow};

fn row(hour: i64, tally: Tally, key: &str, count: i64) -> HourlyCount {
    HourlyCount {
        hour,
        tally,
        key: key.to_string(),
        count,
    }
}

/// `hourly_counts` in a fixed order (it promises none).
async fn sorted(s: &dyn Store, since_hour: i64, bucket: i64) -> Vec<HourlyCount> {
    let mut rows = s.hourly_counts(since_hour, bucket).await.expect("read");
    rows.sort_by(|a, b| (a.hour, a.tally, &a.key).cmp(&(b.hour, b.tally, &b.key)));
    rows
}

async fn hourly_counts_of_nodes_are_summed_into_buckets(b: Backend) {
    let (_dir, store) = open(b).await;
    let s: &dyn Store = &*store;
    s.add_hourly_counts("a", &[]).await.expect("nothing to add");
    // Rows with one hour, tally and key are summed, within a batch too.
    s.add_hourly_counts(
        "a",
        &[
            row(48, Tally::Received, "", 2),
            row(48, Tally::Rejected, "spam", 1),
            row(48, Tally::Received, "", 3),
        ],
    )
    .await
    .expect("add");
    s.add_hourly_counts("b", &[row(49, Tally::Received, "", 4)])
        .await
        .expect("add");
    s.add_hourly_counts(
        "b",
        &[
            row(50, Tally::RejectedSender, "spam.test", 7),
            row(50, Tally::RejectedSender, "other.test", 1),
            row(50, Tally::Rejected, "spam", 2),
        ],
    )
    .await
    .expect("add");
    assert_eq!(
        sorted(s, 0, 1).await,
        [
            row(48, Tally::Received, "", 5),
            row(48, Tally::Rejected, "spam", 1),
            row(49, Tally::Received, "", 4),
            row(50, Tally::Rejected, "spam", 2),
        ],
        "the senders are not among them"
    );
    assert_eq!(
        sorted(s, 49, 2).await,
        [
            row(48, Tally::Received, "", 4),
            row(50, Tally::Rejected, "spam", 2),
        ],
        "buckets start at multiples of their size"
    );
    let day = [
        row(48, Tally::Received, "", 9),
        row(48, Tally::Rejected, "spam", 3),
    ];
    assert_eq!(sorted(s, 0, 24).await, day);
    // Whole days from a day's start come from the daily counts: the same sums.
    assert_eq!(sorted(s, 24, 24).await, day);
    assert_eq!(sorted(s, 48, 48).await, day);

    let top = s.top_keys(Tally::RejectedSender, 0, 1).await.expect("top");
    assert_eq!(top, [("spam.test".to_string(), 7)]);
    let all = [("spam.test".to_string(), 7), ("other.test".to_string(), 1)];
    assert_eq!(
        s.top_keys(Tally::RejectedSender, 1, 5).await.expect("top"),
        all
    );
    assert_eq!(
        s.top_keys(Tally::RejectedSender, 24, 5).await.expect("top"),
        all
    );
    assert!(
        s.top_keys(Tally::RejectedSender, 51, 5)
            .await
            .expect("top")
            .is_empty()
    );
    assert_eq!(
        s.top_keys(Tally::Rejected, 24, 5).await.expect("top"),
        [("spam".to_string(), 3)]
    );
}

async fn top_keys_break_ties_by_key(b: Backend) {
    let (_dir, s) = open(b).await;
    let keys = ["b.test", "B.test", "a-b.test", "ab.test", "a.test"];
    let rows: Vec<HourlyCount> = keys
        .iter()
        .map(|k| row(5, Tally::RejectedSender, k, 1))
        .collect();
    s.add_hourly_counts("n", &rows).await.expect("add");
    s.add_hourly_counts("m", &[row(6, Tally::RejectedSender, "z.test", 2)])
        .await
        .expect("add");
    let top: Vec<String> = s
        .top_keys(Tally::RejectedSender, 0, 10)
        .await
        .expect("top")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    // Bytewise: capitals first, '-' before '.' before letters.
    assert_eq!(
        top,
        [
            "z.test", "B.test", "a-b.test", "a.test", "ab.test", "b.test"
        ]
    );
}

async fn prune_counts_forgets_hours_and_days_apart(b: Backend) {
    let (_dir, s) = open(b).await;
    for node in ["a", "b"] {
        s.add_hourly_counts(
            node,
            &[
                row(48, Tally::Delivered, "", 1),
                row(72, Tally::Delivered, "", 1),
                row(72, Tally::RejectedSender, "x.test", 1),
            ],
        )
        .await
        .expect("add");
    }
    // Hour 48 of both nodes.
    assert_eq!(s.prune_counts(49, 0).await.expect("prune"), 2);
    assert_eq!(
        s.hourly_counts(0, 1).await.expect("read"),
        [row(72, Tally::Delivered, "", 2)]
    );
    // The days are kept longer: day 2 is still there.
    assert_eq!(
        s.hourly_counts(0, 24).await.expect("read"),
        [
            row(48, Tally::Delivered, "", 2),
            row(72, Tally::Delivered, "", 2)
        ]
    );
    // Day 2 of both nodes (the senders are kept by the hour only).
    assert_eq!(s.prune_counts(0, 3).await.expect("prune"), 2);
    assert_eq!(
        s.hourly_counts(0, 24).await.expect("read"),
        [row(72, Tally::Delivered, "", 2)]
    );
    // Hour 72 (deliveries and senders) and day 3, of both nodes.
    assert_eq!(s.prune_counts(100, 100).await.expect("prune"), 6);
    assert!(s.hourly_counts(0, 1).await.expect("read").is_empty());
    assert!(
        s.top_keys(Tally::RejectedSender, 0, 5)
            .await
            .expect("top")
            .is_empty()
    );
}

async fn queue_retrying_counts_messages_attempted(b: Backend) {
    let (_dir, s) = open(b).await;
    assert_eq!(s.queue_retrying().await.expect("count"), 0);
    for (n, attempts) in [(1, 0), (2, 1), (3, 5)] {
        let status = QueueStatus {
            id: QueueId::parse(&format!("{n:016x}")).expect("id"),
            attempts,
            next_attempt: 0,
            last_error: None,
            delivered: Vec::new(),
            updated: 0,
        };
        s.put_queue_status(&status).await.expect("put");
    }
    assert_eq!(s.queue_retrying().await.expect("count"), 2);
    s.remove_queue_status(QueueId::parse("0000000000000003").expect("id"))
        .await
        .expect("remove");
    assert_eq!(s.queue_retrying().await.expect("count"), 1);
}

async fn tls_results_by_day_then_domain(b: Backend) {
    let (_dir, s) = open(b).await;
    let tls = |domain: &str, day: i64, mx: &str, count: i64| TlsResultRow {
        domain: domain.into(),
        day,
        policy_type: "no-policy-found".into(),
        mx: mx.into(),
        result: "success".into(),
        count,
    };
    s.record_tls_results(&[
        tls("a.test", 10, "mx2.a.test", 1),
        tls("b.test", 11, "mx.b.test", 2),
        tls("a.test", 11, "mx.a.test", 3),
        tls("a.test", 10, "mx1.a.test", 4),
        tls("c.test", 9, "mx.c.test", 5),
    ])
    .await
    .expect("record");
    assert_eq!(
        s.tls_results(10).await.expect("read"),
        [
            tls("a.test", 11, "mx.a.test", 3),
            tls("b.test", 11, "mx.b.test", 2),
            tls("a.test", 10, "mx1.a.test", 4),
            tls("a.test", 10, "mx2.a.test", 1),
        ]
    );
    assert_eq!(s.tls_results(9).await.expect("read").len(), 5);
    assert!(s.tls_results(12).await.expect("read").is_empty());
}

contract!(
    hourly_counts_of_nodes_are_summed_into_buckets,
    top_keys_break_ties_by_key,
    prune_counts_forgets_hours_and_days_apart,
    queue_retrying_counts_messages_attempted,
    tls_results_by_day_then_domain,
);
