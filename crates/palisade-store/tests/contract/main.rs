//! The `Store` contract: every test here runs unchanged through `dyn Store` on each
//! backend, each time on a fresh database (see `backend.rs`).

#[macro_use]
mod backend;

mod accounts;
mod console;
mod copy;
mod dashboard;
mod directory;
mod history;
mod keys;
mod nodes;
mod quarantine;
mod queue;
mod reports;
mod security;

use std::sync::Arc;

use backend::{Backend, Fresh};
use palisade_store::prelude::*;
use palisade_store::{
    AliasSource, DmarcEvaluation, Event, QueueStatus, ReceivedReport, StoreError, UserKey,
};
use palisade_types::{Address, Domain, QueueId};

fn addr(s: &str) -> Address {
    Address::parse(s).expect("test address")
}

fn dom(s: &str) -> Domain {
    Domain::parse(s).expect("test domain")
}

fn source(s: &str) -> AliasSource {
    AliasSource::parse(s).expect("test alias source")
}

async fn open(b: Backend) -> (Fresh, Arc<dyn Store>) {
    let fresh = b.open().await;
    let store = fresh.store();
    (fresh, store)
}

/// A store with example.org, and users alice and bob in it.
async fn populated(b: Backend) -> (Fresh, Arc<dyn Store>) {
    let (dir, store) = open(b).await;
    store.add_domain(&dom("example.org")).await.expect("domain");
    for user in ["alice@example.org", "bob@example.org"] {
        store.add_user(&addr(user), "$hash").await.expect("user");
    }
    (dir, store)
}

async fn domains_add_list_remove(b: Backend) {
    let (_dir, store) = open(b).await;
    let s: &dyn Store = &*store;
    assert!(s.list_domains().await.expect("list").is_empty());
    s.add_domain(&dom("b.example")).await.expect("add");
    s.add_domain(&dom("A.example")).await.expect("add");
    assert!(matches!(
        s.add_domain(&dom("a.EXAMPLE")).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert_eq!(
        s.list_domains().await.expect("list"),
        vec![dom("a.example"), dom("b.example")]
    );
    assert!(s.is_local_domain(&dom("a.example")).await.expect("lookup"));
    assert!(!s.is_local_domain(&dom("c.example")).await.expect("lookup"));

    assert!(s.remove_domain(&dom("a.example")).await.expect("remove"));
    assert!(!s.remove_domain(&dom("a.example")).await.expect("remove"));
    assert!(!s.is_local_domain(&dom("a.example")).await.expect("lookup"));
}

async fn domain_in_use_cannot_be_removed(b: Backend) {
    let (_dir, store) = populated(b).await;
    let err = store
        .remove_domain(&dom("example.org"))
        .await
        .expect_err("domain has users");
    assert!(matches!(err, StoreError::InUse { .. }), "{err}");

    for user in ["alice@example.org", "bob@example.org"] {
        assert!(store.remove_user(&addr(user)).await.expect("remove user"));
    }
    assert!(
        store
            .remove_domain(&dom("example.org"))
            .await
            .expect("remove")
    );
}

async fn users_add_list_remove(b: Backend) {
    let (_dir, store) = populated(b).await;
    store.add_domain(&dom("other.test")).await.expect("domain");
    store
        .add_user(&addr("Carol@Other.test"), "$c")
        .await
        .expect("user");

    assert!(matches!(
        store.add_user(&addr("ALICE@example.org"), "$x").await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let err = store
        .add_user(&addr("dave@nowhere.test"), "$d")
        .await
        .expect_err("unknown domain");
    assert!(
        matches!(&err, StoreError::UnknownDomain { domain } if domain.as_str() == "nowhere.test"),
        "{err}"
    );

    let all: Vec<String> = store
        .list_users(None)
        .await
        .expect("list")
        .into_iter()
        .map(|u| u.address.to_string())
        .collect();
    // Stored and returned by lookup key: the local part comes back lower-cased.
    assert_eq!(
        all,
        ["alice@example.org", "bob@example.org", "carol@other.test"]
    );
    let other = store
        .list_users(Some(&dom("other.test")))
        .await
        .expect("list");
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].address, addr("carol@other.test"));
    assert!(other[0].created > 1_600_000_000, "created is unix seconds");

    assert!(
        store
            .remove_user(&addr("CAROL@other.test"))
            .await
            .expect("rm")
    );
    assert!(
        !store
            .remove_user(&addr("carol@other.test"))
            .await
            .expect("rm")
    );
    assert!(
        store
            .list_users(Some(&dom("other.test")))
            .await
            .expect("list")
            .is_empty()
    );
}

async fn password_hash_round_trip(b: Backend) {
    let (_dir, store) = populated(b).await;
    assert_eq!(
        store
            .password_hash(&addr("Alice@example.org"))
            .await
            .expect("read")
            .as_deref(),
        Some("$hash")
    );
    assert!(
        store
            .set_password_hash(&addr("alice@example.org"), "$new")
            .await
            .expect("set")
    );
    assert_eq!(
        store
            .password_hash(&addr("alice@example.org"))
            .await
            .expect("read")
            .as_deref(),
        Some("$new")
    );
    assert!(
        !store
            .set_password_hash(&addr("nobody@example.org"), "$x")
            .await
            .expect("set")
    );
    assert_eq!(
        store
            .password_hash(&addr("nobody@example.org"))
            .await
            .expect("read"),
        None
    );
}

async fn aliases_add_list_remove_and_validation(b: Backend) {
    let (_dir, store) = populated(b).await;
    store
        .add_alias(
            &source("Postmaster@example.org"),
            &addr("alice@example.org"),
        )
        .await
        .expect("alias");
    store
        .add_alias(&source("*@example.org"), &addr("bob@example.org"))
        .await
        .expect("catch-all");

    assert!(matches!(
        store
            .add_alias(&source("postmaster@example.org"), &addr("bob@example.org"))
            .await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let err = store
        .add_alias(&source("info@example.org"), &addr("ghost@example.org"))
        .await
        .expect_err("unknown target");
    assert!(
        matches!(&err, StoreError::UnknownUser { address } if address.local() == "ghost"),
        "{err}"
    );
    assert!(matches!(
        store
            .add_alias(&source("info@elsewhere.test"), &addr("alice@example.org"))
            .await,
        Err(StoreError::UnknownDomain { .. })
    ));
    assert!(matches!(
        store
            .add_alias(&source("*@elsewhere.test"), &addr("alice@example.org"))
            .await,
        Err(StoreError::UnknownDomain { .. })
    ));
    // An alias and a user with the same address would shadow one another.
    assert!(matches!(
        store
            .add_alias(&source("Bob@example.org"), &addr("alice@example.org"))
            .await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(matches!(
        store.add_user(&addr("postmaster@example.org"), "$p").await,
        Err(StoreError::AlreadyExists { .. })
    ));

    assert_eq!(
        store.list_aliases().await.expect("list"),
        vec![
            (source("*@example.org"), addr("bob@example.org")),
            (source("postmaster@example.org"), addr("alice@example.org")),
        ]
    );

    assert!(
        store
            .remove_alias(&source("POSTMASTER@example.org"))
            .await
            .expect("rm")
    );
    assert!(
        !store
            .remove_alias(&source("postmaster@example.org"))
            .await
            .expect("rm")
    );
    assert_eq!(store.list_aliases().await.expect("list").len(), 1);
}

async fn removing_a_user_removes_aliases_to_it(b: Backend) {
    let (_dir, store) = populated(b).await;
    store
        .add_alias(&source("abuse@example.org"), &addr("alice@example.org"))
        .await
        .expect("alias");
    store
        .add_alias(&source("*@example.org"), &addr("alice@example.org"))
        .await
        .expect("catch-all");
    store
        .add_alias(&source("sales@example.org"), &addr("bob@example.org"))
        .await
        .expect("alias");

    assert!(
        store
            .remove_user(&addr("alice@example.org"))
            .await
            .expect("rm")
    );
    assert_eq!(
        store.list_aliases().await.expect("list"),
        vec![(source("sales@example.org"), addr("bob@example.org"))]
    );
    assert_eq!(
        store
            .resolve_recipient(&addr("abuse@example.org"))
            .await
            .expect("resolve"),
        None
    );
}

async fn resolution_order_user_alias_catch_all(b: Backend) {
    let (_dir, store) = populated(b).await;
    let resolve = |s: &'static str| {
        let store = &store;
        async move { store.resolve_recipient(&addr(s)).await.expect("resolve") }
    };

    // Without a catch-all, unknown local parts do not resolve.
    assert_eq!(resolve("nobody@example.org").await, None);

    store
        .add_alias(&source("info@example.org"), &addr("alice@example.org"))
        .await
        .expect("alias");
    store
        .add_alias(&source("*@example.org"), &addr("bob@example.org"))
        .await
        .expect("catch-all");

    assert_eq!(
        resolve("alice@example.org").await,
        Some(addr("alice@example.org"))
    );
    assert_eq!(
        resolve("info@example.org").await,
        Some(addr("alice@example.org"))
    );
    assert_eq!(
        resolve("anything@example.org").await,
        Some(addr("bob@example.org"))
    );
    // The catch-all never captures another domain, local or not.
    store.add_domain(&dom("other.test")).await.expect("domain");
    assert_eq!(resolve("anything@other.test").await, None);
    assert_eq!(resolve("alice@remote.test").await, None);
}

async fn resolution_is_case_insensitive_on_the_local_part(b: Backend) {
    let (_dir, store) = populated(b).await;
    store
        .add_alias(&source("Info@example.org"), &addr("Alice@example.org"))
        .await
        .expect("alias");
    for rcpt in ["ALICE@example.org", "aLiCe@EXAMPLE.ORG", "INFO@Example.Org"] {
        assert_eq!(
            store.resolve_recipient(&addr(rcpt)).await.expect("resolve"),
            Some(addr("alice@example.org")),
            "{rcpt}"
        );
    }
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

async fn queue_status_round_trip_upsert_and_remove(b: Backend) {
    let (_dir, store) = open(b).await;
    let a = QueueId::parse("0000000000000001").expect("id");
    let b = QueueId::parse("00000000000000ff").expect("id");
    assert_eq!(store.queue_status(a).await.expect("read"), None);

    let first = status(a, 0, 2_000, &[]);
    store.put_queue_status(&first).await.expect("put");
    assert_eq!(store.queue_status(a).await.expect("read"), Some(first));

    // Upsert replaces every field, including the delivered list and its order.
    let second = status(a, 3, 3_000, &["z@remote.test", "a@remote.test"]);
    store.put_queue_status(&second).await.expect("put");
    assert_eq!(
        store.queue_status(a).await.expect("read"),
        Some(second.clone())
    );
    let shorter = status(a, 4, 4_000, &["z@remote.test"]);
    store.put_queue_status(&shorter).await.expect("put");
    assert_eq!(
        store.queue_status(a).await.expect("read"),
        Some(shorter.clone())
    );

    let other = status(b, 1, 1_000, &["c@remote.test"]);
    store.put_queue_status(&other).await.expect("put");
    assert_eq!(
        store.list_queue_status().await.expect("list"),
        vec![other.clone(), shorter.clone()],
        "soonest next_attempt first"
    );

    store.remove_queue_status(a).await.expect("remove");
    store
        .remove_queue_status(a)
        .await
        .expect("removing twice is fine");
    assert_eq!(store.queue_status(a).await.expect("read"), None);
    assert_eq!(store.list_queue_status().await.expect("list"), vec![other]);
}

async fn events_newest_first_with_limit(b: Backend) {
    let (_dir, store) = open(b).await;
    assert!(store.recent_events(10).await.expect("read").is_empty());
    let event = |time: i64, kind: &str| Event {
        time,
        kind: kind.to_string(),
        subject: "alice@example.org".to_string(),
        detail: format!("detail {time}"),
    };
    for (time, kind) in [(10, "user.add"), (30, "auth.fail"), (20, "alias.add")] {
        store
            .record_event(&event(time, kind))
            .await
            .expect("record");
    }
    assert_eq!(
        store.recent_events(2).await.expect("read"),
        vec![event(30, "auth.fail"), event(20, "alias.add")]
    );
    assert_eq!(store.recent_events(100).await.expect("read").len(), 3);
    assert!(store.recent_events(0).await.expect("read").is_empty());
}

async fn concurrent_writers_do_not_fail(b: Backend) {
    let (_dir, store) = open(b).await;
    store.add_domain(&dom("example.org")).await.expect("domain");
    let mut tasks = Vec::new();
    for n in 0..16 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let user = addr(&format!("user{n}@example.org"));
            store.add_user(&user, "$h").await?;
            store
                .add_alias(&source(&format!("alias{n}@example.org")), &user)
                .await
        }));
    }
    for task in tasks {
        task.await.expect("join").expect("write");
    }
    assert_eq!(store.list_users(None).await.expect("list").len(), 16);
    assert_eq!(store.list_aliases().await.expect("list").len(), 16);
}

async fn dmarc_evaluations_and_reports(b: Backend) {
    let (_dir, store) = open(b).await;
    let batch: Vec<DmarcEvaluation> = ["a.test", "b.test", "a.test"]
        .iter()
        .enumerate()
        .map(|(i, d)| DmarcEvaluation {
            id: 0,
            time: i as i64,
            domain: d.to_string(),
            document: format!("{{\"n\":{i}}}"),
        })
        .collect();
    store
        .record_dmarc_evaluations(&batch)
        .await
        .expect("record");
    let pending = store.pending_dmarc_evaluations(10).await.expect("store");
    assert_eq!(pending.len(), 3);
    assert_eq!(pending[2].document, "{\"n\":2}");
    assert_eq!(
        store
            .pending_dmarc_evaluations(1)
            .await
            .expect("store")
            .len(),
        1
    );
    store
        .remove_dmarc_evaluations(&[pending[0].id, pending[2].id])
        .await
        .expect("remove");
    let left = store.pending_dmarc_evaluations(10).await.expect("store");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].domain, "b.test");

    let r = ReceivedReport {
        org_name: "google.com".into(),
        report_id: "123".into(),
        domain: "local.test".into(),
        received: 5,
        begin: 1,
        end: 2,
        document: "{}".into(),
    };
    store.add_dmarc_report(&r).await.expect("store");
    assert!(matches!(
        store.add_dmarc_report(&r).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert_eq!(
        store.list_dmarc_reports(None).await.expect("store"),
        vec![r.clone()]
    );
    assert_eq!(
        store
            .list_dmarc_reports(Some("local.test"))
            .await
            .expect("store")
            .len(),
        1
    );
    assert!(
        store
            .list_dmarc_reports(Some("other.test"))
            .await
            .expect("store")
            .is_empty()
    );
}

async fn submission_counts_by_bucket_and_new_recipient_domains(b: Backend) {
    let (_d, s) = open(b).await;
    let alice = addr("alice@example.org");
    let bob = addr("bob@example.org");
    let t = 1_800_000_000; // a bucket boundary (divisible by 600)
    let day = 86_400;
    // Thirty-one days ago alice wrote to old.test; a day ago to known.test.
    s.record_submission(&alice, t - 31 * day, &["old.test".into()], 1)
        .await
        .expect("record");
    s.record_submission(&alice, t - day, &["known.test".into()], 2)
        .await
        .expect("record");
    // Now: three messages, to known.test, to new.test, and to old.test again.
    for d in ["known.test", "new.test", "old.test"] {
        s.record_submission(&alice, t + 5, &[d.into()], 3)
            .await
            .expect("record");
    }
    s.record_submission(&bob, t + 5, &["x.test".into()], 1)
        .await
        .expect("record");
    assert_eq!(s.count_submissions(&alice, t).await.expect("count"), 3);
    assert_eq!(
        s.count_submissions(&alice, t - 2 * day)
            .await
            .expect("count"),
        4
    );
    assert_eq!(
        s.count_submissions(&alice, 0).await.expect("count"),
        4,
        "the message of 31 days ago was forgotten"
    );
    assert_eq!(s.count_submissions(&bob, t).await.expect("count"), 1);
    assert_eq!(
        s.count_submission_recipients(&alice, t)
            .await
            .expect("count"),
        9
    );
    assert_eq!(
        s.count_submission_recipients(&alice, t - 2 * day)
            .await
            .expect("count"),
        11
    );
    // new.test is new; old.test too (unused for more than 30 days); known.test is not.
    assert_eq!(s.count_new_domains(&alice, t).await.expect("count"), 2);
    assert_eq!(s.count_new_domains(&bob, t).await.expect("count"), 1);
}

async fn user_keys_and_encryption_at_rest(b: Backend) {
    let (_dir, s) = populated(b).await;
    let key = |fpr: &str| UserKey {
        kind: "openpgp".into(),
        fingerprint: fpr.into(),
        data: "-----BEGIN PGP PUBLIC KEY BLOCK-----".into(),
        user_ids: "Alice <alice@example.org>".into(),
        expires: Some(2_000_000_000),
        added: 1_700_000_000,
    };
    assert!(
        !s.add_user_key(&addr("nobody@example.org"), &key("AA"))
            .await
            .expect("add")
    );
    assert!(
        s.add_user_key(&addr("Alice@example.org"), &key("AA"))
            .await
            .expect("add")
    );
    assert!(
        s.add_user_key(&addr("alice@example.org"), &key("BB"))
            .await
            .expect("add")
    );
    // The same fingerprint again replaces, not duplicates.
    assert!(
        s.add_user_key(&addr("alice@example.org"), &key("AA"))
            .await
            .expect("add")
    );
    let keys = s.user_keys(&addr("alice@example.org")).await.expect("list");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], key("AA"));
    assert!(
        s.user_keys(&addr("bob@example.org"))
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        s.remove_user_key(&addr("alice@example.org"), "bb")
            .await
            .expect("rm")
    );
    assert!(
        !s.remove_user_key(&addr("alice@example.org"), "BB")
            .await
            .expect("rm")
    );

    assert!(
        !s.encrypt_at_rest(&addr("alice@example.org"))
            .await
            .expect("read")
    );
    assert!(
        s.set_encrypt_at_rest(&addr("ALICE@example.org"), true)
            .await
            .expect("set")
    );
    assert!(
        s.encrypt_at_rest(&addr("alice@example.org"))
            .await
            .expect("read")
    );
    assert!(
        !s.set_encrypt_at_rest(&addr("nobody@example.org"), true)
            .await
            .expect("set")
    );

    assert!(
        !s.domain_encrypt_at_rest(&dom("example.org"))
            .await
            .expect("read")
    );
    assert!(
        s.set_domain_encrypt_at_rest(&dom("example.org"), true)
            .await
            .expect("set")
    );
    assert!(
        s.domain_encrypt_at_rest(&dom("example.org"))
            .await
            .expect("read")
    );
    assert!(
        !s.set_domain_encrypt_at_rest(&dom("nowhere.example"), true)
            .await
            .expect("set")
    );

    // A removed user's keys go with it: a re-created address starts without them.
    assert!(
        s.remove_user(&addr("alice@example.org"))
            .await
            .expect("remove")
    );
    s.add_user(&addr("alice@example.org"), "$hash")
        .await
        .expect("user");
    assert!(
        s.user_keys(&addr("alice@example.org"))
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        !s.encrypt_at_rest(&addr("alice@example.org"))
            .await
            .expect("read")
    );
}

async fn site_model_decisions_count_once_and_can_change(b: Backend) {
    use palisade_store::Lesson;
    use palisade_types::MessageLabel;
    let (_dir, store) = open(b).await;
    let s: &dyn Store = &*store;
    let lesson = |digest: &str, label, who: &str, buckets: Vec<u32>| Lesson {
        digest: digest.into(),
        label,
        who: who.into(),
        weight: 1.0,
        time: 1000,
        buckets,
    };
    assert!(
        s.learn(&lesson("m1", MessageLabel::Phish, "admin", vec![1, 2]))
            .await
            .expect("store")
    );
    assert!(
        s.learn(&lesson("m2", MessageLabel::Ham, "admin", vec![2, 3]))
            .await
            .expect("store")
    );
    // The same decision again changes nothing.
    assert!(
        !s.learn(&lesson("m1", MessageLabel::Phish, "admin", vec![1, 2]))
            .await
            .expect("store")
    );
    let c = s.site_counts().await.expect("store");
    assert_eq!(c.totals, [1.0, 1.0, 0.0]);
    let mut counts = c.counts.clone();
    counts.sort_by_key(|(b, _)| *b);
    assert_eq!(
        counts,
        [
            (1, [0.0, 1.0, 0.0]),
            (2, [1.0, 1.0, 0.0]),
            (3, [1.0, 0.0, 0.0])
        ]
    );
    // m1 was spam after all: its phishing counts are taken back.
    assert!(
        s.learn(&lesson(
            "m1",
            MessageLabel::Spam,
            "alice@example.org",
            vec![1, 2]
        ))
        .await
        .expect("store")
    );
    let c = s.site_counts().await.expect("store");
    assert_eq!(c.totals, [1.0, 0.0, 1.0]);
    let mut counts = c.counts;
    counts.sort_by_key(|(b, _)| *b);
    assert_eq!(
        counts,
        [
            (1, [0.0, 0.0, 1.0]),
            (2, [1.0, 0.0, 1.0]),
            (3, [1.0, 0.0, 0.0])
        ]
    );
    assert_eq!(
        s.lessons_since("alice@example.org", 0)
            .await
            .expect("store"),
        1
    );
    assert_eq!(
        s.lessons_since("alice@example.org", 1001)
            .await
            .expect("store"),
        0
    );
    assert_eq!(s.lessons_since("admin", 0).await.expect("store"), 1);
    // A lighter decision (a user's) does not overturn a weightier one (an admin's).
    let heavy = Lesson {
        weight: 2.0,
        ..lesson("m2", MessageLabel::Phish, "admin", vec![2, 3])
    };
    assert!(s.learn(&heavy).await.expect("store"));
    assert!(
        !s.learn(&lesson(
            "m2",
            MessageLabel::Ham,
            "bob@example.org",
            vec![2, 3]
        ))
        .await
        .expect("store")
    );
    assert_eq!(
        s.site_counts().await.expect("store").totals,
        [0.0, 2.0, 1.0]
    );
}

async fn forwards_hold_groups_of_local_and_outside_targets(b: Backend) {
    let (_dir, store) = populated(b).await;
    let team = addr("Team@example.org");
    for t in ["alice@example.org", "someone@elsewhere.test"] {
        store.add_forward(&team, &addr(t)).await.expect("forward");
    }
    // One spelling: the lookup key.
    let got = store
        .forwards(&addr("team@EXAMPLE.org"))
        .await
        .expect("read");
    let got: Vec<String> = got.iter().map(|a| a.to_string()).collect();
    assert_eq!(got, ["alice@example.org", "someone@elsewhere.test"]);
    assert!(matches!(
        store.add_forward(&team, &addr("alice@example.org")).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    // A local target must be a user; the source must be in a local domain.
    assert!(matches!(
        store.add_forward(&team, &addr("ghost@example.org")).await,
        Err(StoreError::UnknownUser { .. })
    ));
    assert!(matches!(
        store
            .add_forward(&addr("x@elsewhere.test"), &addr("alice@example.org"))
            .await,
        Err(StoreError::UnknownDomain { .. })
    ));
    assert_eq!(store.list_forwards().await.expect("list").len(), 2);
    assert_eq!(store.remove_forwards(&team).await.expect("remove"), 2);
    assert!(store.forwards(&team).await.expect("read").is_empty());
}

contract!(
    domains_add_list_remove,
    domain_in_use_cannot_be_removed,
    users_add_list_remove,
    password_hash_round_trip,
    aliases_add_list_remove_and_validation,
    removing_a_user_removes_aliases_to_it,
    resolution_order_user_alias_catch_all,
    resolution_is_case_insensitive_on_the_local_part,
    queue_status_round_trip_upsert_and_remove,
    events_newest_first_with_limit,
    concurrent_writers_do_not_fail,
    dmarc_evaluations_and_reports,
    submission_counts_by_bucket_and_new_recipient_domains,
    user_keys_and_encryption_at_rest,
    site_model_decisions_count_once_and_can_change,
    forwards_hold_groups_of_local_and_outside_targets,
);
