//! The contract of history: tests that run on every backend (see `backend.rs`).

use super::*;

async fn correspondents_are_ranked_by_messages_then_name(b: Backend) {
    let (_dir, s) = open(b).await;
    let record = |local: &'static str, senders: &[&str], time: i64| {
        let s = &s;
        let senders: Vec<String> = senders.iter().map(|d| d.to_string()).collect();
        async move {
            s.record_correspondents(local, &senders, time)
                .await
                .expect("record")
        }
    };
    record("example.org", &[], 10).await;
    assert!(
        s.correspondents("example.org", 10)
            .await
            .expect("read")
            .is_empty()
    );
    record("example.org", &["b.test", "a.test"], 100).await;
    record("example.org", &["b.test"], 50).await;
    record("example.org", &["c.test"], 200).await;
    // One exchange with a domain listed twice counts twice.
    record("example.org", &["d.test", "d.test"], 300).await;
    record("other.test", &["z.test"], 300).await;
    assert_eq!(
        s.correspondents("example.org", 10).await.expect("read"),
        ["b.test", "d.test", "a.test", "c.test"]
    );
    assert_eq!(
        s.correspondents("example.org", 1).await.expect("read"),
        ["b.test"]
    );
    assert_eq!(
        s.correspondents("other.test", 10).await.expect("read"),
        ["z.test"]
    );
    assert!(
        s.is_correspondent("example.org", "a.test")
            .await
            .expect("read")
    );
    assert!(
        !s.is_correspondent("example.org", "z.test")
            .await
            .expect("read")
    );
    assert!(
        !s.is_correspondent("other.test", "a.test")
            .await
            .expect("read")
    );
}

async fn events_since_a_time_newest_first(b: Backend) {
    let (_dir, s) = open(b).await;
    let event = |time: i64, detail: &str| Event {
        time,
        kind: "auth.fail".into(),
        subject: "alice@example.org".into(),
        detail: detail.into(),
    };
    for (time, detail) in [(10, "a"), (30, "b"), (20, "c"), (20, "d")] {
        s.record_event(&event(time, detail)).await.expect("record");
    }
    // Of two at one time, the one recorded last comes first.
    assert_eq!(
        s.events_since(20, 10).await.expect("read"),
        [event(30, "b"), event(20, "d"), event(20, "c")]
    );
    assert_eq!(s.events_since(20, 2).await.expect("read").len(), 2);
    assert_eq!(s.events_since(0, 10).await.expect("read").len(), 4);
    assert!(s.events_since(31, 10).await.expect("read").is_empty());
    assert!(s.events_since(0, 0).await.expect("read").is_empty());
}

async fn site_model_buckets_listed_twice_count_twice(b: Backend) {
    use palisade_store::Lesson;
    use palisade_types::MessageLabel;
    let (_dir, s) = open(b).await;
    let lesson = |label, weight: f64, buckets: Vec<u32>| Lesson {
        digest: "m1".into(),
        label,
        who: "admin".into(),
        weight,
        time: 5,
        buckets,
    };
    assert_eq!(s.site_counts().await.expect("read"), Default::default());
    assert!(
        s.learn(&lesson(MessageLabel::Spam, 1.5, vec![7, 7, u32::MAX]))
            .await
            .expect("learn")
    );
    let mut c = s.site_counts().await.expect("read");
    c.counts.sort_by_key(|(b, _)| *b);
    assert_eq!(c.totals, [0.0, 0.0, 1.5]);
    assert_eq!(
        c.counts,
        [(7, [0.0, 0.0, 3.0]), (u32::MAX, [0.0, 0.0, 1.5])]
    );
    // Taken back whole when the decision changes.
    assert!(
        s.learn(&lesson(MessageLabel::Ham, 2.0, vec![7]))
            .await
            .expect("learn")
    );
    let c = s.site_counts().await.expect("read");
    assert_eq!(c.totals, [2.0, 0.0, 0.0]);
    assert_eq!(c.counts, [(7, [2.0, 0.0, 0.0])]);
    assert_eq!(s.lessons_since("admin", 5).await.expect("count"), 1);
    assert_eq!(s.lessons_since("admin", 6).await.expect("count"), 0);
}

contract!(
    correspondents_are_ranked_by_messages_then_name,
    events_since_a_time_newest_first,
    site_model_buckets_listed_twice_count_twice,
);
