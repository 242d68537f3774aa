//! The contract of keys: tests that run on every backend (see `backend.rs`).

use super::*;
use palisade_store::{DkimKey, SigningKey};

fn dkim(domain: &str, selector: &str, created: i64) -> DkimKey {
    DkimKey {
        domain: dom(domain),
        selector: selector.into(),
        algorithm: "ed25519".into(),
        private_key: format!("private-{selector}"),
        public_key: format!("public-{selector}"),
        state: "active".into(),
        created,
    }
}

async fn dkim_keys_add_list_and_change_state(b: Backend) {
    let (_dir, s) = open(b).await;
    assert!(s.list_dkim_keys(None).await.expect("list").is_empty());
    for k in [
        dkim("b.test", "s2", 10),
        dkim("a.test", "new", 20),
        dkim("a.test", "old", 10),
        dkim("a.test", "also", 20),
    ] {
        s.add_dkim_key(&k).await.expect("add");
    }
    assert!(matches!(
        s.add_dkim_key(&dkim("a.test", "old", 99)).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let names = |keys: Vec<DkimKey>| -> Vec<String> {
        keys.into_iter()
            .map(|k| format!("{}/{}", k.domain, k.selector))
            .collect()
    };
    // By domain, then oldest first, then by selector.
    assert_eq!(
        names(s.list_dkim_keys(None).await.expect("list")),
        ["a.test/old", "a.test/also", "a.test/new", "b.test/s2"]
    );
    let b_keys = s.list_dkim_keys(Some(&dom("b.test"))).await.expect("list");
    assert_eq!(b_keys, vec![dkim("b.test", "s2", 10)]);

    assert!(
        s.set_dkim_key_state(&dom("a.test"), "old", "retired")
            .await
            .expect("state")
    );
    assert!(
        !s.set_dkim_key_state(&dom("a.test"), "missing", "retired")
            .await
            .expect("state")
    );
    let a_keys = s.list_dkim_keys(Some(&dom("a.test"))).await.expect("list");
    let states: Vec<&str> = a_keys.iter().map(|k| k.state.as_str()).collect();
    assert_eq!(states, ["retired", "active", "active"]);
}

fn signing(fingerprint: &str, private_key: &str) -> SigningKey {
    SigningKey {
        certificate: "-----BEGIN CERTIFICATE-----".into(),
        private_key: private_key.into(),
        fingerprint: fingerprint.into(),
        expires: 2_000_000_000,
        added: 1_700_000_000,
    }
}

async fn signing_keys_put_replace_and_remove(b: Backend) {
    let (_dir, s) = populated(b).await;
    let alice = addr("alice@example.org");
    assert_eq!(s.signing_key(&alice).await.expect("read"), None);
    assert!(
        !s.put_signing_key(&addr("nobody@example.org"), &signing("AA", "one"))
            .await
            .expect("no such user")
    );
    // Any bytes survive the round trip.
    let first = signing("AA", "-----BEGIN PRIVATE KEY-----\nAAEC\n");
    assert!(
        s.put_signing_key(&addr("Alice@example.org"), &first)
            .await
            .expect("put")
    );
    assert_eq!(s.signing_key(&alice).await.expect("read"), Some(first));
    let second = signing("BB", &"9".repeat(64));
    assert!(s.put_signing_key(&alice, &second).await.expect("replace"));
    assert_eq!(s.signing_key(&alice).await.expect("read"), Some(second));
    assert_eq!(
        s.signing_key(&addr("bob@example.org")).await.expect("read"),
        None
    );
    assert!(s.remove_signing_key(&alice).await.expect("remove"));
    assert!(!s.remove_signing_key(&alice).await.expect("remove again"));
    assert_eq!(s.signing_key(&alice).await.expect("read"), None);
}

async fn outbound_encryption_user_then_domain(b: Backend) {
    let (_dir, s) = populated(b).await;
    let alice = addr("alice@example.org");
    let policy = |a: &'static str| {
        let s = &s;
        async move { s.outbound_encryption(&addr(a)).await.expect("read") }
    };
    // A domain's policy defaults to `never`; a user's to their domain's.
    assert_eq!(policy("alice@example.org").await.as_deref(), Some("never"));
    assert!(
        s.set_domain_outbound_encryption(&dom("example.org"), "opportunistic")
            .await
            .expect("domain")
    );
    assert_eq!(
        policy("alice@example.org").await.as_deref(),
        Some("opportunistic")
    );
    assert!(
        s.set_outbound_encryption(&addr("ALICE@example.org"), Some("required"))
            .await
            .expect("user")
    );
    assert_eq!(
        policy("alice@example.org").await.as_deref(),
        Some("required")
    );
    assert_eq!(
        policy("bob@example.org").await.as_deref(),
        Some("opportunistic")
    );
    assert!(s.set_outbound_encryption(&alice, None).await.expect("user"));
    assert_eq!(
        policy("alice@example.org").await.as_deref(),
        Some("opportunistic")
    );

    assert!(
        !s.set_outbound_encryption(&addr("nobody@example.org"), Some("required"))
            .await
            .expect("no such user")
    );
    assert!(
        !s.set_domain_outbound_encryption(&dom("nowhere.test"), "required")
            .await
            .expect("no such domain")
    );
    assert_eq!(policy("someone@nowhere.test").await, None);
}

async fn server_secret_keeps_the_first_value(b: Backend) {
    let (_dir, s) = open(b).await;
    let first = s
        .server_secret("login", &[0, 1, 2, 255])
        .await
        .expect("first");
    assert_eq!(first, [0, 1, 2, 255]);
    let again = s.server_secret("login", &[9, 9, 9]).await.expect("again");
    assert_eq!(again, first, "a later fresh value is ignored");
    let other = s.server_secret("seal", &[7; 32]).await.expect("other");
    assert_eq!(other, [7; 32]);
}

/// Issue 21: a dump of the database alone yields no private key or TOTP seed.
async fn private_keys_and_seeds_are_sealed_at_rest(b: Backend) {
    let (fresh, s) = populated(b).await;
    let alice = addr("alice@example.org");
    let key = DkimKey {
        private_key: "MC4CAQAwBQYDK2VwBCIEIDKIMPRIVATEKEYDKIMPRIVATEKEY0000".into(),
        ..dkim("example.org", "s1", 10)
    };
    s.add_dkim_key(&key).await.expect("dkim");
    let seed = "JBSWY3DPEHPK3PXPTOTPSEEDSECRET22";
    s.put_totp(&alice, seed, true, 100).await.expect("totp");
    let signing_key = signing("AA", "-----BEGIN PRIVATE KEY-----\nSIGNINGKEYSECRET\n");
    assert!(
        s.put_signing_key(&alice, &signing_key)
            .await
            .expect("signing")
    );

    let dump = fresh.dump();
    for plain in [key.private_key.as_str(), seed, "SIGNINGKEYSECRET"] {
        let found = dump.windows(plain.len()).any(|w| w == plain.as_bytes());
        assert!(!found, "{plain} is in the dump in clear");
    }

    // With the same key, another connection reads them back.
    let again = fresh
        .reopen(Some(backend::test_secret()))
        .await
        .expect("same key");
    assert_eq!(again.list_dkim_keys(None).await.expect("dkim"), vec![key]);
    assert_eq!(
        again
            .totp(&alice)
            .await
            .expect("totp")
            .expect("seed")
            .secret,
        seed
    );
    assert_eq!(
        again.signing_key(&alice).await.expect("signing"),
        Some(signing_key)
    );
    // Another key is refused at once; no key at all, when a sealed value is asked for.
    let other = fresh.reopen(Some(backend::other_secret())).await;
    assert!(
        matches!(other, Err(StoreError::WrongSecret)),
        "{:?}",
        other.err()
    );
    let keyless = fresh.reopen(None).await.expect("opens");
    assert!(matches!(
        keyless.list_dkim_keys(None).await,
        Err(StoreError::NoSecret)
    ));
    assert!(matches!(
        keyless.totp(&alice).await,
        Err(StoreError::NoSecret)
    ));
}

contract!(
    private_keys_and_seeds_are_sealed_at_rest,
    dkim_keys_add_list_and_change_state,
    signing_keys_put_replace_and_remove,
    outbound_encryption_user_then_domain,
    server_secret_keeps_the_first_value,
);
