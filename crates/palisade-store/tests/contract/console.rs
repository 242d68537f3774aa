//! The contract of the console's store: tests that run on every backend (see
//! `backend.rs`).

use super::*;
use palisade_store::{AccountFlags, Block, StoredPasskey, WebSession};

fn session(id: &str, user: &str, created: i64) -> WebSession {
    WebSession {
        id_hash: id.into(),
        user: user.into(),
        csrf: format!("csrf-{id}"),
        created,
        last_seen: created,
        ip: "192.0.2.1".into(),
    }
}

async fn web_sessions_open_touch_end_and_prune(b: Backend) {
    let (_dir, s) = populated(b).await;
    let alice = addr("alice@example.org");
    assert_eq!(s.web_session("a").await.expect("read"), None);
    for (id, user, created) in [
        ("a", "alice@example.org", 100),
        ("b", "alice@example.org", 200),
        ("c", "bob@example.org", 300),
        ("d", "alice@example.org", 400),
    ] {
        s.put_web_session(&session(id, user, created))
            .await
            .expect("put");
    }
    assert_eq!(
        s.web_session("a").await.expect("read"),
        Some(session("a", "alice@example.org", 100))
    );
    s.touch_web_session("a", 350).await.expect("touch");
    let a = s.web_session("a").await.expect("read").expect("there");
    assert_eq!((a.created, a.last_seen), (100, 350));

    // Idle since before 320 (b; a was touched), or opened before 50 (none).
    assert_eq!(s.prune_web_sessions(320, 50).await.expect("prune"), 2);
    assert_eq!(s.web_session("b").await.expect("read"), None);
    assert_eq!(s.web_session("c").await.expect("read"), None);
    // Opened before 150 (a), however fresh.
    assert_eq!(s.prune_web_sessions(0, 150).await.expect("prune"), 1);
    assert_eq!(s.web_session("a").await.expect("read"), None);

    assert!(s.remove_web_session("d").await.expect("end"));
    assert!(!s.remove_web_session("d").await.expect("end again"));

    s.put_web_session(&session("e", "alice@example.org", 500))
        .await
        .expect("put");
    s.put_web_session(&session("f", "alice@example.org", 500))
        .await
        .expect("put");
    s.put_web_session(&session("g", "bob@example.org", 500))
        .await
        .expect("put");
    assert_eq!(
        s.remove_web_sessions(&addr("Alice@example.org"))
            .await
            .expect("everywhere"),
        2
    );
    assert!(s.web_session("g").await.expect("read").is_some());
    assert_eq!(s.remove_web_sessions(&alice).await.expect("none left"), 0);

    // A removed user's sessions end.
    assert!(s.remove_user(&addr("bob@example.org")).await.expect("rm"));
    assert_eq!(s.web_session("g").await.expect("read"), None);
}

fn passkey(id: &str, user: &str, created: i64) -> StoredPasskey {
    StoredPasskey {
        credential_id: id.into(),
        user: user.into(),
        label: format!("key {id}"),
        passkey: "{}".into(),
        created,
        last_used: None,
    }
}

async fn passkeys_register_use_and_remove(b: Backend) {
    let (_dir, s) = populated(b).await;
    let alice = addr("alice@example.org");
    let bob = addr("bob@example.org");
    s.add_passkey(&passkey("k2", "alice@example.org", 20))
        .await
        .expect("add");
    s.add_passkey(&passkey("k1", "alice@example.org", 10))
        .await
        .expect("add");
    s.add_passkey(&passkey("k3", "bob@example.org", 5))
        .await
        .expect("add");
    assert!(matches!(
        s.add_passkey(&passkey("k1", "bob@example.org", 30)).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert_eq!(
        s.passkeys(&addr("ALICE@example.org")).await.expect("list"),
        vec![
            passkey("k1", "alice@example.org", 10),
            passkey("k2", "alice@example.org", 20)
        ],
        "oldest first"
    );

    s.touch_passkey("k2", r#"{"counter":7}"#, 99)
        .await
        .expect("touch");
    let keys = s.passkeys(&alice).await.expect("list");
    assert_eq!(keys[1].passkey, r#"{"counter":7}"#);
    assert_eq!(keys[1].last_used, Some(99));
    assert_eq!(keys[0].last_used, None);

    assert!(!s.remove_passkey(&bob, "k1").await.expect("not Bob's"));
    assert!(s.remove_passkey(&alice, "k1").await.expect("remove"));
    assert!(!s.remove_passkey(&alice, "k1").await.expect("again"));
    assert_eq!(s.passkeys(&alice).await.expect("list").len(), 1);
    assert_eq!(s.passkeys(&bob).await.expect("list").len(), 1);
}

async fn admin_and_two_factor_flags(b: Backend) {
    let (_dir, s) = populated(b).await;
    let alice = addr("alice@example.org");
    let bob = addr("bob@example.org");
    let nobody = addr("nobody@example.org");
    let flags = |admin, require_2fa| Some(AccountFlags { admin, require_2fa });
    assert_eq!(
        s.account_flags(&alice).await.expect("read"),
        flags(false, false)
    );
    assert_eq!(s.account_flags(&nobody).await.expect("read"), None);

    assert!(
        s.set_admin(&addr("ALICE@example.org"), true)
            .await
            .expect("admin")
    );
    assert!(s.set_require_2fa(&bob, true).await.expect("2fa"));
    assert_eq!(
        s.account_flags(&alice).await.expect("read"),
        flags(true, false)
    );
    assert_eq!(
        s.account_flags(&bob).await.expect("read"),
        flags(false, true)
    );

    assert!(s.set_admin(&alice, false).await.expect("admin"));
    assert!(s.set_require_2fa(&bob, false).await.expect("2fa"));
    assert_eq!(
        s.account_flags(&alice).await.expect("read"),
        flags(false, false)
    );
    assert_eq!(
        s.account_flags(&bob).await.expect("read"),
        flags(false, false)
    );

    assert!(!s.set_admin(&nobody, true).await.expect("admin"));
    assert!(!s.set_require_2fa(&nobody, true).await.expect("2fa"));
}

async fn lockouts_in_force_newest_first(b: Backend) {
    let (_dir, s) = open(b).await;
    let lock = |user: &str, since, until| Block {
        key: user.into(),
        since,
        until,
        strikes: 3,
        reason: "failed logins".into(),
    };
    for b in [
        lock("a@example.org", 100, 1_000),
        lock("b@example.org", 300, 1_000),
        lock("c@example.org", 200, 400),
        lock("d@example.org", 50, 2_000),
    ] {
        s.put_lockout(&b).await.expect("lock");
    }
    assert_eq!(
        s.list_lockouts(500).await.expect("list"),
        vec![
            lock("b@example.org", 300, 1_000),
            lock("a@example.org", 100, 1_000),
            lock("d@example.org", 50, 2_000),
        ]
    );
    assert_eq!(
        s.list_lockouts(1_000).await.expect("list"),
        vec![lock("d@example.org", 50, 2_000)],
        "a lock ends at its until"
    );
}

async fn events_about_one_user_newest_first(b: Backend) {
    let (_dir, s) = open(b).await;
    let alice = addr("Alice@example.org");
    for (time, subject, kind) in [
        (1, "alice@example.org", "web.login"),
        (2, "bob@example.org", "web.login"),
        (3, "alice@example.org", "auth.fail"),
        (3, "alice@example.org", "auth.lock"),
        (4, "alice@example.org", "web.logout"),
    ] {
        let e = Event {
            time,
            kind: kind.into(),
            subject: subject.into(),
            detail: format!("{kind} at {time}"),
        };
        s.record_event(&e).await.expect("record");
    }
    let kinds =
        |events: Vec<Event>| -> Vec<String> { events.into_iter().map(|e| e.kind).collect() };
    // The same time: the later recorded first.
    assert_eq!(
        kinds(s.events_about(&alice, 10).await.expect("read")),
        ["web.logout", "auth.lock", "auth.fail", "web.login"]
    );
    assert_eq!(
        kinds(s.events_about(&alice, 2).await.expect("read")),
        ["web.logout", "auth.lock"]
    );
    assert!(
        s.events_about(&addr("carol@example.org"), 10)
            .await
            .expect("read")
            .is_empty()
    );
}

contract!(
    web_sessions_open_touch_end_and_prune,
    passkeys_register_use_and_remove,
    admin_and_two_factor_flags,
    lockouts_in_force_newest_first,
    events_about_one_user_newest_first,
);
