//! The contract of the quarantine: tests that run on every backend (see `backend.rs`).

use super::*;
use palisade_store::HeldMessage;

fn held(id: &str, arrived: i64) -> HeldMessage {
    HeldMessage {
        id: QueueId::parse(id).expect("id"),
        node: "mx-a".into(),
        arrived,
        sender: "<>".into(),
        recipients: vec!["alice@example.org".into(), "bob@example.org".into()],
        subject: format!("held at {arrived}"),
        reason: "DMARC policy quarantine".into(),
        size: 4,
    }
}

async fn held_messages_are_kept_whole_listed_and_removed(b: Backend) {
    let (_dir, s) = open(b).await;
    let (first, second) = (held("00000000000000a1", 100), held("00000000000000a2", 200));
    let file = [0u8, 1, 13, 10, 255];
    s.hold(&first, &file).await.expect("hold");
    s.hold(&second, b"spool").await.expect("hold");
    // Moved again after a crash: what is held stays as it was.
    s.hold(&first, b"other").await.expect("hold again");
    assert_eq!(
        s.list_held(10).await.expect("list"),
        [second.clone(), first.clone()]
    );
    assert_eq!(
        s.list_held(1).await.expect("list"),
        std::slice::from_ref(&second)
    );
    assert_eq!(s.held(first.id).await.expect("read"), Some(first.clone()));
    assert_eq!(
        s.held_file(first.id).await.expect("file"),
        Some(file.to_vec())
    );
    let absent = QueueId::parse("00000000000000ff").expect("id");
    assert_eq!(s.held(absent).await.expect("read"), None);
    assert_eq!(s.held_file(absent).await.expect("file"), None);

    assert!(s.remove_held(second.id).await.expect("remove"));
    assert!(!s.remove_held(second.id).await.expect("remove again"));
    s.hold(&second, b"spool").await.expect("hold");
    assert_eq!(s.expire_held(150).await.expect("expire"), [first.id]);
    assert_eq!(s.list_held(10).await.expect("list"), [second]);
}

contract!(held_messages_are_kept_whole_listed_and_removed);
