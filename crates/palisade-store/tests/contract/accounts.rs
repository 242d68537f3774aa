//! The contract of accounts: tests that run on every backend (see `backend.rs`).

use super::*;
use palisade_store::{AppPassword, TotpState};
use palisade_types::AppScope;

async fn display_names(b: Backend) {
    let (_dir, s) = populated(b).await;
    assert!(
        s.set_user_name(&addr("ALICE@example.org"), "Alice Liddell")
            .await
            .expect("set")
    );
    assert!(
        !s.set_user_name(&addr("nobody@example.org"), "Nobody")
            .await
            .expect("set")
    );
    let names: Vec<(String, String)> = s
        .list_users(None)
        .await
        .expect("list")
        .into_iter()
        .map(|u| (u.address.to_string(), u.name))
        .collect();
    assert_eq!(
        names,
        [
            ("alice@example.org".to_string(), "Alice Liddell".to_string()),
            ("bob@example.org".to_string(), String::new()),
        ]
    );
}

async fn totp_steps_are_used_once_and_removal_takes_the_codes(b: Backend) {
    let (_dir, s) = populated(b).await;
    let alice = addr("alice@example.org");
    assert_eq!(s.totp(&alice).await.expect("read"), None);
    assert!(!s.advance_totp_step(&alice, 1).await.expect("no seed"));

    s.put_totp(&addr("Alice@example.org"), "SEED1", false, 100)
        .await
        .expect("put");
    let state = |secret: &str, enabled, last_step| {
        Some(TotpState {
            secret: secret.into(),
            enabled,
            last_step,
        })
    };
    assert_eq!(
        s.totp(&alice).await.expect("read"),
        state("SEED1", false, -1)
    );
    assert!(s.advance_totp_step(&alice, 5).await.expect("step"));
    assert!(!s.advance_totp_step(&alice, 5).await.expect("replay"));
    assert!(!s.advance_totp_step(&alice, 4).await.expect("older"));
    assert!(s.advance_totp_step(&alice, 6).await.expect("newer"));

    // Confirming the same seed keeps the last step; a new seed starts afresh.
    s.put_totp(&alice, "SEED1", true, 200).await.expect("put");
    assert_eq!(s.totp(&alice).await.expect("read"), state("SEED1", true, 6));
    s.put_totp(&alice, "SEED2", true, 300).await.expect("put");
    assert_eq!(
        s.totp(&alice).await.expect("read"),
        state("SEED2", true, -1)
    );

    s.set_recovery_codes(&alice, &["r1".into(), "r2".into()])
        .await
        .expect("codes");
    assert!(s.remove_totp(&alice).await.expect("remove"));
    assert!(!s.remove_totp(&alice).await.expect("remove again"));
    assert_eq!(s.totp(&alice).await.expect("read"), None);
    assert!(
        !s.use_recovery_code(&alice, "r1").await.expect("use"),
        "the codes went with the seed"
    );
}

async fn recovery_codes_are_replaced_and_used_once(b: Backend) {
    let (_dir, s) = populated(b).await;
    let alice = addr("alice@example.org");
    let bob = addr("bob@example.org");
    s.set_recovery_codes(&alice, &["a".into(), "b".into(), "a".into()])
        .await
        .expect("codes");
    assert!(!s.use_recovery_code(&bob, "a").await.expect("not Bob's"));
    assert!(
        s.use_recovery_code(&addr("ALICE@example.org"), "a")
            .await
            .expect("use")
    );
    assert!(!s.use_recovery_code(&alice, "a").await.expect("used up"));

    s.set_recovery_codes(&alice, &["c".into()])
        .await
        .expect("new codes");
    assert!(!s.use_recovery_code(&alice, "b").await.expect("replaced"));
    assert!(s.use_recovery_code(&alice, "c").await.expect("use"));
}

fn app_password(user: &str, label: &str, hash: &str, created: i64) -> AppPassword {
    AppPassword {
        id: 0,
        user: user.into(),
        label: label.into(),
        hash: hash.into(),
        scope: AppScope::Imap,
        expires: Some(2_000_000_000),
        from_net: Some("192.0.2.0/24".into()),
        created,
        last_used: None,
        last_ip: None,
    }
}

async fn app_passwords_add_list_use_and_revoke(b: Backend) {
    let (_dir, s) = populated(b).await;
    let alice = addr("alice@example.org");
    let phone = app_password("alice@example.org", "phone", "h1", 20);
    let mut laptop = app_password("alice@example.org", "laptop", "h2", 10);
    laptop.scope = AppScope::Submission;
    laptop.expires = None;
    laptop.from_net = None;
    let phone_id = s.add_app_password(&phone).await.expect("add");
    let laptop_id = s.add_app_password(&laptop).await.expect("add");
    assert_ne!(phone_id, laptop_id);

    // A label is the user's own; a hash is unique everywhere.
    assert!(matches!(
        s.add_app_password(&app_password("alice@example.org", "phone", "h3", 30))
            .await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(matches!(
        s.add_app_password(&app_password("bob@example.org", "other", "h1", 30))
            .await,
        Err(StoreError::AlreadyExists { .. })
    ));
    s.add_app_password(&app_password("bob@example.org", "phone", "h4", 30))
        .await
        .expect("another user's label");

    let listed = s.list_app_passwords(&alice).await.expect("list");
    let expect = |p: &AppPassword, id| AppPassword { id, ..p.clone() };
    assert_eq!(
        listed,
        vec![expect(&laptop, laptop_id), expect(&phone, phone_id)],
        "oldest first"
    );
    assert_eq!(
        s.app_password("h1").await.expect("lookup"),
        Some(expect(&phone, phone_id))
    );
    assert_eq!(s.app_password("nope").await.expect("lookup"), None);

    s.touch_app_password(phone_id, 500, "192.0.2.7")
        .await
        .expect("touch");
    let used = s.app_password("h1").await.expect("lookup").expect("there");
    assert_eq!(
        (used.last_used, used.last_ip.as_deref()),
        (Some(500), Some("192.0.2.7"))
    );

    assert!(
        s.revoke_app_password(&addr("Alice@example.org"), "phone")
            .await
            .expect("revoke")
    );
    assert!(!s.revoke_app_password(&alice, "phone").await.expect("again"));
    assert_eq!(s.app_password("h1").await.expect("lookup"), None);

    // A removed user's app passwords go with it.
    assert!(s.remove_user(&alice).await.expect("remove"));
    assert_eq!(s.app_password("h2").await.expect("lookup"), None);
    assert_eq!(s.list_app_passwords(&alice).await.expect("list"), vec![]);
}

async fn suspension_is_set_replaced_and_lifted(b: Backend) {
    let (_dir, s) = populated(b).await;
    let alice = addr("alice@example.org");
    assert_eq!(s.suspension(&alice).await.expect("read"), None);
    s.suspend_user(&addr("ALICE@example.org"), 100, "spam burst")
        .await
        .expect("suspend");
    assert_eq!(
        s.suspension(&alice).await.expect("read"),
        Some((100, "spam burst".to_string()))
    );
    s.suspend_user(&alice, 200, "again").await.expect("suspend");
    assert_eq!(
        s.suspension(&alice).await.expect("read"),
        Some((200, "again".to_string()))
    );
    assert_eq!(
        s.suspension(&addr("bob@example.org")).await.expect("read"),
        None
    );
    assert!(s.resume_user(&alice).await.expect("resume"));
    assert!(!s.resume_user(&alice).await.expect("resume again"));
    assert_eq!(s.suspension(&alice).await.expect("read"), None);
}

async fn send_as_exact_and_whole_domain(b: Backend) {
    let (_dir, s) = populated(b).await;
    let alice = addr("alice@example.org");
    let err = s
        .add_send_as(&addr("ghost@example.org"), "boss@example.org")
        .await
        .expect_err("not a user");
    assert!(matches!(err, StoreError::UnknownUser { .. }), "{err}");

    s.add_send_as(&addr("Alice@example.org"), "boss@example.org")
        .await
        .expect("exact");
    s.add_send_as(&alice, "*@other.test").await.expect("domain");
    assert!(matches!(
        s.add_send_as(&alice, "boss@example.org").await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert_eq!(
        s.list_send_as(&alice).await.expect("list"),
        ["*@other.test", "boss@example.org"]
    );

    let may = |user: &'static str, from: &'static str| {
        let s = &s;
        async move {
            s.may_send_as(&addr(user), &addr(from))
                .await
                .expect("check")
        }
    };
    assert!(may("alice@example.org", "Boss@example.org").await);
    assert!(may("alice@example.org", "anyone@other.test").await);
    assert!(!may("alice@example.org", "someone@example.org").await);
    assert!(!may("bob@example.org", "boss@example.org").await);

    assert!(
        s.remove_send_as(&alice, "boss@example.org")
            .await
            .expect("rm")
    );
    assert!(
        !s.remove_send_as(&alice, "boss@example.org")
            .await
            .expect("rm again")
    );
    assert!(!may("alice@example.org", "boss@example.org").await);
    assert_eq!(
        s.list_send_as(&alice).await.expect("list"),
        ["*@other.test"]
    );
}

contract!(
    display_names,
    totp_steps_are_used_once_and_removal_takes_the_codes,
    recovery_codes_are_replaced_and_used_once,
    app_passwords_add_list_use_and_revoke,
    suspension_is_set_replaced_and_lifted,
    send_as_exact_and_whole_domain,
);
