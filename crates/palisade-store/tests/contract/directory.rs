//! The contract of the directory: tests that run on every backend (see `backend.rs`).

use super::*;
use palisade_store::{LookupCache, Sealing};

async fn srs_addresses_are_kept_thirty_days(b: Backend) {
    let (_dir, s) = open(b).await;
    let t = 1_800_000_000;
    let day = 86_400;
    assert_eq!(s.srs_address("a1").await.expect("read"), None);
    s.put_srs_address("a1", "SRS0=x=y=remote.test=alice@fwd.test", t)
        .await
        .expect("put");
    s.put_srs_address("b2", "old@remote.test", t - 31 * day)
        .await
        .expect("put");
    assert_eq!(
        s.srs_address("a1").await.expect("read"),
        Some(("SRS0=x=y=remote.test=alice@fwd.test".to_string(), t))
    );
    // The same id again replaces it.
    s.put_srs_address("a1", "new@remote.test", t + 1)
        .await
        .expect("put");
    assert_eq!(
        s.srs_address("a1").await.expect("read"),
        Some(("new@remote.test".to_string(), t + 1))
    );
    // Each put forgets those older than 30 days.
    assert_eq!(s.srs_address("b2").await.expect("read"), None);
    s.put_srs_address("c3", "later@remote.test", t + 30 * day + 2)
        .await
        .expect("put");
    assert_eq!(s.srs_address("a1").await.expect("read"), None);
    assert!(s.srs_address("c3").await.expect("read").is_some());
}

async fn resolve_exact_skips_the_catch_all(b: Backend) {
    let (_dir, s) = populated(b).await;
    s.add_alias(&source("info@example.org"), &addr("alice@example.org"))
        .await
        .expect("alias");
    s.add_alias(&source("*@example.org"), &addr("bob@example.org"))
        .await
        .expect("catch-all");
    let exact = |a: &'static str| {
        let s = &s;
        async move { s.resolve_exact(&addr(a)).await.expect("resolve") }
    };
    assert_eq!(
        exact("BOB@example.org").await,
        Some(addr("bob@example.org"))
    );
    assert_eq!(
        exact("Info@example.org").await,
        Some(addr("alice@example.org"))
    );
    assert_eq!(exact("anyone@example.org").await, None);
    assert_eq!(
        s.resolve_recipient(&addr("anyone@example.org"))
            .await
            .expect("resolve"),
        Some(addr("bob@example.org"))
    );
}

async fn forwards_are_listed_in_order_and_go_with_their_domain(b: Backend) {
    let (_dir, s) = populated(b).await;
    s.add_domain(&dom("lists.test")).await.expect("domain");
    for (from, to) in [
        ("team@lists.test", "zed@remote.test"),
        ("team@lists.test", "alice@example.org"),
        ("all@lists.test", "bob@example.org"),
    ] {
        s.add_forward(&addr(from), &addr(to))
            .await
            .expect("forward");
    }
    assert_eq!(
        s.list_forwards().await.expect("list"),
        vec![
            (addr("all@lists.test"), addr("bob@example.org")),
            (addr("team@lists.test"), addr("alice@example.org")),
            (addr("team@lists.test"), addr("zed@remote.test")),
        ]
    );
    assert_eq!(
        s.remove_forwards(&addr("nobody@lists.test"))
            .await
            .expect("none"),
        0
    );
    // Forwards alone do not hold a domain: they go with it.
    assert!(s.remove_domain(&dom("lists.test")).await.expect("remove"));
    assert!(s.list_forwards().await.expect("list").is_empty());
}

/// A change through the store is seen at once through a [`LookupCache`] (the
/// generation moves), not only when the cache's entries expire.
async fn changes_reach_the_lookup_cache_at_once(b: Backend) {
    let (_dir, store) = populated(b).await;
    let s: &dyn Store = &*store;
    let cache = LookupCache::new();
    let info = addr("info@example.org");
    let alice = addr("alice@example.org");
    let team = addr("team@example.org");
    let other = dom("other.test");

    assert!(!cache.is_local_domain(s, &other).await.expect("domain"));
    assert_eq!(cache.resolve_recipient(s, &info).await.expect("rcpt"), None);
    assert!(cache.forwards(s, &team).await.expect("fwd").is_empty());
    let sealed = |user, domain| Sealing { user, domain };
    assert_eq!(
        cache.sealing(s, &alice).await.expect("sealing"),
        sealed(false, false)
    );

    let before = s.generation();
    s.add_domain(&other).await.expect("domain");
    assert!(s.generation() > before);
    assert!(cache.is_local_domain(s, &other).await.expect("domain"));

    s.add_alias(&source("info@example.org"), &alice)
        .await
        .expect("alias");
    assert_eq!(
        cache.resolve_recipient(s, &info).await.expect("rcpt"),
        Some(alice.clone())
    );
    s.add_forward(&team, &addr("bob@example.org"))
        .await
        .expect("forward");
    assert_eq!(
        cache.forwards(s, &team).await.expect("fwd"),
        vec![addr("bob@example.org")]
    );
    s.set_encrypt_at_rest(&alice, true).await.expect("user");
    assert_eq!(
        cache.sealing(s, &alice).await.expect("sealing"),
        sealed(true, false)
    );
    s.set_domain_encrypt_at_rest(&dom("example.org"), true)
        .await
        .expect("domain");
    assert_eq!(
        cache.sealing(s, &alice).await.expect("sealing"),
        sealed(true, true)
    );

    s.remove_alias(&source("info@example.org"))
        .await
        .expect("rm");
    assert_eq!(cache.resolve_recipient(s, &info).await.expect("rcpt"), None);
    assert_eq!(
        cache.resolve_recipient(s, &alice).await.expect("rcpt"),
        Some(alice.clone())
    );
    assert!(s.remove_user(&alice).await.expect("rm"));
    assert_eq!(
        cache.resolve_recipient(s, &alice).await.expect("rcpt"),
        None
    );
}

contract!(
    srs_addresses_are_kept_thirty_days,
    resolve_exact_skips_the_catch_all,
    forwards_are_listed_in_order_and_go_with_their_domain,
    changes_reach_the_lookup_cache_at_once,
);
