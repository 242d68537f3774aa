//! The contract of security: tests that run on every backend (see `backend.rs`).

use super::*;
use palisade_store::Block;

const DAY: i64 = 86_400;
const NOW: i64 = 1_800_000_000;

fn block(key: &str, since: i64, until: i64, strikes: u32) -> Block {
    Block {
        key: key.into(),
        since,
        until,
        strikes,
        reason: format!("strike {strikes}"),
    }
}

async fn auth_failures_count_distinct_clients_and_clear(b: Backend) {
    let (_dir, s) = open(b).await;
    let fail = |user: &'static str, ip: &'static str, fp: &'static str, time: i64| {
        let s = &s;
        async move {
            s.record_auth_failure(user, ip, fp, time)
                .await
                .expect("record")
        }
    };
    // A mail app retrying one stale password counts once.
    fail("alice", "192.0.2.1", "fp-a", NOW).await;
    fail("alice", "192.0.2.1", "fp-a", NOW + 1).await;
    fail("alice", "192.0.2.1", "fp-b", NOW + 2).await;
    fail("alice", "192.0.2.2", "fp-a", NOW + 3).await;
    fail("bob", "192.0.2.1", "fp-a", NOW + 4).await;
    assert_eq!(s.count_user_failures("alice", 0).await.expect("count"), 3);
    assert_eq!(
        s.count_user_failures("alice", NOW + 2)
            .await
            .expect("count"),
        2
    );
    assert_eq!(s.count_user_failures("carol", 0).await.expect("count"), 0);
    // From one address: alice's two passwords and bob's.
    assert_eq!(s.count_ip_failures("192.0.2.1", 0).await.expect("count"), 3);
    assert_eq!(s.count_ip_failures("192.0.2.2", 0).await.expect("count"), 1);

    // A day later the old failures are forgotten as a new one is recorded.
    fail("alice", "192.0.2.9", "fp-c", NOW + DAY + 10).await;
    assert_eq!(s.count_user_failures("alice", 0).await.expect("count"), 1);
    assert_eq!(
        s.count_ip_failures("192.0.2.1", 0).await.expect("count"),
        1,
        "bob's failure stays"
    );

    s.clear_user_failures("alice").await.expect("clear");
    assert_eq!(s.count_user_failures("alice", 0).await.expect("count"), 0);
    assert_eq!(s.count_user_failures("bob", 0).await.expect("count"), 1);
}

async fn lockouts_put_get_replace_remove(b: Backend) {
    let (_dir, s) = open(b).await;
    assert_eq!(s.lockout("alice").await.expect("read"), None);
    let first = block("alice", NOW, NOW + 60, 1);
    s.put_lockout(&first).await.expect("put");
    assert_eq!(s.lockout("alice").await.expect("read"), Some(first));
    let second = block("alice", NOW + 100, NOW + 220, 2);
    s.put_lockout(&second).await.expect("put");
    assert_eq!(s.lockout("alice").await.expect("read"), Some(second));
    assert_eq!(s.lockout("bob").await.expect("read"), None);
    assert_eq!(
        s.ban("alice").await.expect("read"),
        None,
        "lockouts are not bans"
    );
    assert!(s.remove_lockout("alice").await.expect("remove"));
    assert!(!s.remove_lockout("alice").await.expect("remove"));
    assert_eq!(s.lockout("alice").await.expect("read"), None);
}

async fn bans_in_force_are_listed_newest_first(b: Backend) {
    let (_dir, s) = open(b).await;
    let old = block("192.0.2.1", NOW - 100, NOW - 1, 1);
    let early = block("192.0.2.2", NOW - 50, NOW + 100, 1);
    let late = block("192.0.2.3", NOW - 10, NOW + 50, 3);
    for ban in [&old, &late, &early] {
        s.put_ban(ban).await.expect("put");
    }
    assert_eq!(
        s.list_bans(NOW).await.expect("list"),
        vec![late.clone(), early.clone()],
        "in force, newest first"
    );
    assert_eq!(s.ban("192.0.2.1").await.expect("read"), Some(old));
    let longer = block("192.0.2.2", NOW, NOW + 400, 2);
    s.put_ban(&longer).await.expect("replace");
    assert_eq!(
        s.list_bans(NOW + 60).await.expect("list"),
        vec![longer.clone()]
    );
    assert!(s.remove_ban("192.0.2.2").await.expect("remove"));
    assert!(!s.remove_ban("192.0.2.2").await.expect("remove"));
    assert_eq!(s.list_bans(NOW).await.expect("list"), vec![late]);
    assert_eq!(s.lockout("192.0.2.3").await.expect("read"), None);
}

async fn abuse_strikes_by_kind_and_forgotten_after_a_day(b: Backend) {
    let (_dir, s) = open(b).await;
    for (ip, kind, time) in [
        ("192.0.2.1", "relay", NOW),
        ("192.0.2.1", "relay", NOW + 10),
        ("192.0.2.1", "unknown_rcpt", NOW + 20),
        ("192.0.2.2", "relay", NOW + 30),
    ] {
        s.record_strike(ip, kind, time).await.expect("record");
    }
    let strikes = |ip: &'static str, kind: &'static str, since: i64| {
        let s = &s;
        async move { s.count_strikes(ip, kind, since).await.expect("count") }
    };
    assert_eq!(strikes("192.0.2.1", "relay", 0).await, 2);
    assert_eq!(strikes("192.0.2.1", "relay", NOW + 5).await, 1);
    assert_eq!(strikes("192.0.2.1", "unknown_rcpt", 0).await, 1);
    assert_eq!(strikes("192.0.2.2", "relay", 0).await, 1);
    assert_eq!(strikes("192.0.2.3", "relay", 0).await, 0);
    // A strike a day later forgets that address's older ones, of every kind.
    s.record_strike("192.0.2.1", "relay", NOW + DAY + 25)
        .await
        .expect("record");
    assert_eq!(strikes("192.0.2.1", "relay", 0).await, 1);
    assert_eq!(strikes("192.0.2.1", "unknown_rcpt", 0).await, 0);
    assert_eq!(strikes("192.0.2.2", "relay", 0).await, 1);
}

async fn logins_keep_the_last_time_per_address(b: Backend) {
    let (_dir, s) = open(b).await;
    assert_eq!(
        s.last_login("alice", "192.0.2.1").await.expect("read"),
        None
    );
    assert_eq!(s.last_login_any("alice").await.expect("read"), None);
    s.record_login("alice", "192.0.2.1", 100)
        .await
        .expect("login");
    s.record_login("alice", "192.0.2.2", 300)
        .await
        .expect("login");
    s.record_login("alice", "192.0.2.1", 200)
        .await
        .expect("login");
    s.record_login("bob", "192.0.2.1", 900)
        .await
        .expect("login");
    assert_eq!(
        s.last_login("alice", "192.0.2.1").await.expect("read"),
        Some(200)
    );
    assert_eq!(
        s.last_login("alice", "192.0.2.2").await.expect("read"),
        Some(300)
    );
    assert_eq!(
        s.last_login("alice", "192.0.2.3").await.expect("read"),
        None
    );
    assert_eq!(s.last_login_any("alice").await.expect("read"), Some(300));
    assert_eq!(s.last_login_any("bob").await.expect("read"), Some(900));
}

async fn prune_security_forgets_old_state(b: Backend) {
    let (_dir, s) = open(b).await;
    s.record_auth_failure("old", "192.0.2.1", "fp", NOW - DAY - 1)
        .await
        .expect("record");
    s.record_auth_failure("new", "192.0.2.1", "fp", NOW - DAY + 1)
        .await
        .expect("record");
    s.record_strike("192.0.2.1", "relay", NOW - DAY - 1)
        .await
        .expect("strike");
    s.record_strike("192.0.2.2", "relay", NOW)
        .await
        .expect("strike");
    s.put_lockout(&block("ended", 0, NOW - DAY - 1, 1))
        .await
        .expect("lockout");
    s.put_lockout(&block("recent", 0, NOW - DAY + 1, 1))
        .await
        .expect("lockout");
    s.put_ban(&block("192.0.2.1", 0, NOW - 7 * DAY - 1, 1))
        .await
        .expect("ban");
    s.put_ban(&block("192.0.2.2", 0, NOW - 6 * DAY, 1))
        .await
        .expect("ban");
    s.prune_security(NOW).await.expect("prune");

    assert_eq!(s.count_user_failures("old", 0).await.expect("count"), 0);
    assert_eq!(s.count_user_failures("new", 0).await.expect("count"), 1);
    assert_eq!(
        s.count_strikes("192.0.2.1", "relay", 0).await.expect("n"),
        0
    );
    assert_eq!(
        s.count_strikes("192.0.2.2", "relay", 0).await.expect("n"),
        1
    );
    assert_eq!(s.lockout("ended").await.expect("read"), None);
    assert!(s.lockout("recent").await.expect("read").is_some());
    assert_eq!(s.ban("192.0.2.1").await.expect("read"), None);
    assert!(s.ban("192.0.2.2").await.expect("read").is_some());
}

async fn rate_counts_are_summed_over_nodes(b: Backend) {
    let (_dir, s) = open(b).await;
    let put = |kind: &'static str, window: i64, node: &'static str, counts: &[(&str, u64)]| {
        let s = &s;
        let counts: Vec<(String, u64)> =
            counts.iter().map(|(ip, n)| (ip.to_string(), *n)).collect();
        async move {
            s.put_rate_counts(kind, window, node, &counts)
                .await
                .expect("put")
        }
    };
    let exceeded = |kind: &'static str, window: i64, limit: u64| {
        let s = &s;
        async move { s.rate_exceeded(kind, window, limit).await.expect("read") }
    };
    put("conn", 10, "n1", &[("192.0.2.1", 3), ("192.0.2.2", 1)]).await;
    put("conn", 10, "n2", &[("192.0.2.1", 2), ("192.0.2.3", 4)]).await;
    put("auth", 10, "n1", &[("192.0.2.1", 9)]).await;
    assert_eq!(exceeded("conn", 10, 5).await, ["192.0.2.1"]);
    assert_eq!(exceeded("conn", 10, 4).await, ["192.0.2.1", "192.0.2.3"]);
    assert_eq!(
        exceeded("conn", 10, 1).await,
        ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    );
    assert!(exceeded("conn", 11, 1).await.is_empty());

    // A node's new count for the window replaces its old one.
    put("conn", 10, "n1", &[("192.0.2.1", 1)]).await;
    assert!(exceeded("conn", 10, 5).await.is_empty());
    assert_eq!(exceeded("conn", 10, 3).await, ["192.0.2.1", "192.0.2.3"]);

    // A later window forgets the earlier ones of that kind only.
    put("conn", 11, "n2", &[("192.0.2.4", 1)]).await;
    assert!(exceeded("conn", 10, 1).await.is_empty());
    assert_eq!(exceeded("conn", 11, 1).await, ["192.0.2.4"]);
    assert_eq!(exceeded("auth", 10, 9).await, ["192.0.2.1"]);
    assert!(exceeded("auth", 10, 10).await.is_empty());
}

async fn submission_recipients_sum_per_bucket(b: Backend) {
    let (_dir, s) = open(b).await;
    let alice = addr("Alice@example.org");
    let t = 1_800_000_000; // a bucket boundary (divisible by 600)
    // One message to two recipients at one domain, listed twice.
    s.record_submission(&alice, t + 1, &["a.test".into(), "a.test".into()], 2)
        .await
        .expect("record");
    s.record_submission(&alice, t + 599, &[], 5)
        .await
        .expect("record");
    s.record_submission(&alice, t + 600, &["b.test".into()], 1)
        .await
        .expect("record");
    let same = addr("alice@example.org");
    assert_eq!(s.count_submissions(&same, t).await.expect("count"), 3);
    assert_eq!(
        s.count_submission_recipients(&same, t)
            .await
            .expect("count"),
        8
    );
    // The bucket holding `since` counts whole.
    assert_eq!(
        s.count_submission_recipients(&same, t + 300)
            .await
            .expect("count"),
        8
    );
    assert_eq!(
        s.count_submission_recipients(&same, t + 600)
            .await
            .expect("count"),
        1
    );
    assert_eq!(s.count_new_domains(&same, t).await.expect("count"), 2);
    assert_eq!(s.count_new_domains(&same, t + 600).await.expect("count"), 1);
    let bob = addr("bob@example.org");
    assert_eq!(s.count_submission_recipients(&bob, 0).await.expect("n"), 0);
    assert_eq!(s.count_submissions(&bob, 0).await.expect("n"), 0);
}

contract!(
    auth_failures_count_distinct_clients_and_clear,
    lockouts_put_get_replace_remove,
    bans_in_force_are_listed_newest_first,
    abuse_strikes_by_kind_and_forgotten_after_a_day,
    logins_keep_the_last_time_per_address,
    prune_security_forgets_old_state,
    rate_counts_are_summed_over_nodes,
    submission_recipients_sum_per_bucket,
);
