//! Queueing from outside the server (the CLI's `inject` and `activate`) commits the way
//! the server's committer does: link, then unlink, never a `rename` over a file of the
//! same id. An acknowledged message can therefore never be replaced by a release or a
//! hand-queued report that happens to carry its id.
#![allow(clippy::unwrap_used)]

use palisade_queue::{Spool, SpooledMessage, activate, inject};
use palisade_store::SqliteStore;
use palisade_store::prelude::*;
use palisade_types::{Address, BodyType, Envelope};

fn envelope() -> Envelope {
    Envelope {
        mail_from: Some(Address::parse("a@remote.test").unwrap()),
        rcpt_to: vec![Address::parse("b@local.test").unwrap()],
        body: BodyType::SevenBit,
        smtputf8: false,
        declared_size: None,
        helo: "client.test".into(),
        client_ip: "192.0.2.1".parse().unwrap(),
        tls: None,
        auth: None,
        require_tls: false,
    }
}

#[tokio::test]
async fn activate_never_replaces_a_committed_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db")).await.unwrap();
    let queue = dir.path().join("queue");
    let first = b"Subject: acknowledged\r\n\r\nkept\r\n";
    let id = inject(&queue, &store, &envelope(), 1, first).await.unwrap();
    let committed = Spool::active_dir(&queue).join(id.to_string());
    assert!(committed.exists(), "inject commits into active/");
    assert!(
        std::fs::read_dir(Spool::incoming_dir(&queue))
            .unwrap()
            .next()
            .is_none(),
        "nothing is left in incoming/"
    );

    // Part of it delivered already: a refused activate must not forget that.
    let mut status = store.queue_status(id).await.unwrap().unwrap();
    status.attempts = 2;
    status.delivered = vec!["b@local.test".into()];
    store.put_queue_status(&status).await.unwrap();

    // Another file of the same id (a release from quarantine, say) must not land on it.
    let other = dir.path().join("other");
    std::fs::write(&other, b"replacement").unwrap();
    let err = activate(&queue, &store, id, &other).await;
    assert!(err.is_err(), "activating onto an existing id is refused");
    assert!(other.exists(), "the refused file stays where it was");
    let kept = SpooledMessage::open(&committed, id).unwrap();
    assert_eq!(kept.read_message().unwrap(), first);
    let kept_status = store.queue_status(id).await.unwrap().unwrap();
    assert_eq!(kept_status.attempts, 2, "its status is untouched");
    assert_eq!(kept_status.delivered, vec!["b@local.test".to_string()]);
}
