//! Authenticated submission (RFC 6409, RFC 4954, RFC 8314) on the real server, with
//! lettre and a raw client.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Mechanism;
use lettre::{AsyncTransport, Message};
use palisade_store::prelude::*;
use palisade_types::Address;
use std::time::Duration;

const PW: &str = "correct horse battery staple";

fn b64(s: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn message(from: &str, to: &str, subject: &str) -> Message {
    Message::builder()
        .from(from.parse::<Mailbox>().unwrap())
        .to(to.parse::<Mailbox>().unwrap())
        .subject(subject)
        .body("hello".to_string())
        .unwrap()
}

/// A raw client logged in as alice on the submission port (STARTTLS, AUTH PLAIN).
async fn logged_in(ts: &TestServer) -> Raw<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let mut c = connect(ts.addr("submission")).await;
    c.expect("EHLO client.test", "250").await;
    let mut c = starttls(c, ts).await;
    c.expect("EHLO client.test", "250").await;
    c.expect(
        &format!(
            "AUTH PLAIN {}",
            b64(format!("\0alice@local.test\0{PW}").as_bytes())
        ),
        "235 2.7.0",
    )
    .await;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4954_plain_and_login_over_starttls_and_implicit_tls() {
    let ts = start("").await;
    ts.set_password("alice@local.test", PW).await;
    for (listener, mech) in [
        ("submission", Mechanism::Plain),
        ("submissions", Mechanism::Login),
    ] {
        submission_client(&ts, listener, "alice@local.test", PW, mech)
            .send(message("alice@local.test", "bob@local.test", listener))
            .await
            .unwrap();
    }
    let mail = ts.wait_for_mail("bob", 2).await;
    for m in &mail {
        let text = String::from_utf8_lossy(m);
        assert!(
            text.contains("with ESMTPSA id"),
            "RFC 3848 with authentication: {text}"
        );
        assert!(
            !text.contains("Authentication-Results"),
            "no sender checks on submission"
        );
    }
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8314_no_auth_before_tls_and_no_mail_without_auth() {
    let ts = start("").await;
    ts.set_password("alice@local.test", PW).await;
    let mut c = connect(ts.addr("submission")).await;
    let ehlo = c.cmd("EHLO client.test").await;
    assert!(
        !ehlo.contains("AUTH"),
        "AUTH not offered before TLS: {ehlo}"
    );
    c.expect(
        &format!(
            "AUTH PLAIN {}",
            b64(format!("\0alice@local.test\0{PW}").as_bytes())
        ),
        "530 5.7.0",
    )
    .await;
    c.expect("MAIL FROM:<alice@local.test>", "530 5.7.0").await;
    let mut c = starttls(c, &ts).await;
    let ehlo = c.cmd("EHLO client.test").await;
    assert!(ehlo.contains("AUTH PLAIN LOGIN"), "{ehlo}");
    c.expect(
        "MAIL FROM:<alice@local.test>",
        "530 5.7.0 Authentication required",
    )
    .await;
    // The inbound port never offers AUTH.
    let mut m = connect(ts.addr("inbound")).await;
    assert!(!m.cmd("EHLO client.test").await.contains("AUTH"));
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_user_get_the_same_535() {
    let ts = start("").await;
    ts.set_password("alice@local.test", PW).await;
    let mut c = connect(ts.addr("submission")).await;
    c.expect("EHLO client.test", "250").await;
    let mut c = starttls(c, &ts).await;
    c.expect("EHLO client.test", "250").await;
    let wrong = c
        .cmd(&format!("AUTH PLAIN {}", b64(b"\0alice@local.test\0nope")))
        .await;
    let unknown = c
        .cmd(&format!("AUTH PLAIN {}", b64(b"\0nobody@local.test\0nope")))
        .await;
    assert!(wrong.starts_with("535 5.7.8"), "{wrong}");
    assert_eq!(wrong, unknown, "no user enumeration by reply text");
    // Acting for another user (authzid != authcid) is refused.
    c.expect(
        &format!(
            "AUTH PLAIN {}",
            b64(format!("bob@local.test\0alice@local.test\0{PW}").as_bytes())
        ),
        "535 5.7.8",
    )
    .await;
    c.expect("AUTH PLAIN !!notbase64!!", "501 5.5.2").await;
    c.expect("AUTH CRAM-MD5", "504 5.5.4").await;
    // LOGIN by rounds, cancelled with "*".
    c.expect("AUTH LOGIN", "334 VXNlcm5hbWU6").await;
    c.expect("*", "501 5.0.0").await;
    c.expect("AUTH LOGIN", "334 VXNlcm5hbWU6").await;
    c.expect(&b64(b"alice@local.test"), "334 UGFzc3dvcmQ6")
        .await;
    c.expect(&b64(PW.as_bytes()), "235 2.7.0").await;
    c.expect(&format!("AUTH PLAIN {}", b64(b"\0a\0b")), "503 5.5.1")
        .await;
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_binding_mail_from_and_headers() {
    let ts = start("").await;
    ts.set_password("alice@local.test", PW).await;
    ts.alias("sales@local.test", "alice@local.test").await;
    let mut c = logged_in(&ts).await;
    // MAIL FROM must be owned: another user's address is refused at MAIL.
    c.expect("MAIL FROM:<bob@local.test>", "553 5.7.1").await;
    c.expect("MAIL FROM:<ceo@local.test>", "553 5.7.1").await;
    // An alias routed to alice is hers.
    c.expect("MAIL FROM:<sales@local.test>", "250").await;
    c.expect("RCPT TO:<bob@local.test>", "250").await;
    c.expect("DATA", "354").await;
    // ... but the From header names bob: refused after DATA.
    c.send(b"From: bob@local.test\r\nSubject: spoof\r\n\r\nx\r\n.\r\n")
        .await;
    assert!(c.reply().await.starts_with("550 5.7.1"));
    // Sender header too.
    c.expect("MAIL FROM:<alice@local.test>", "250").await;
    c.expect("RCPT TO:<bob@local.test>", "250").await;
    c.expect("DATA", "354").await;
    c.send(b"From: alice@local.test\r\nSender: carol@local.test\r\nSubject: s\r\n\r\nx\r\n.\r\n")
        .await;
    assert!(c.reply().await.starts_with("550 5.7.1"));
    // An explicit delegation allows it.
    ts.store
        .add_send_as(
            &Address::parse("alice@local.test").unwrap(),
            "ceo@local.test",
        )
        .await
        .unwrap();
    c.expect("MAIL FROM:<ceo@local.test>", "250").await;
    c.expect("RCPT TO:<bob@local.test>", "250").await;
    // Authenticated users may relay to other domains.
    c.expect("RCPT TO:<someone@elsewhere.test>", "250").await;
    c.expect("DATA", "354").await;
    c.send(b"From: CEO <ceo@local.test>\r\nSubject: delegated\r\n\r\nx\r\n.\r\n")
        .await;
    assert!(c.reply().await.starts_with("250 "));
    let got = String::from_utf8(ts.wait_for_mail("bob", 1).await.remove(0)).unwrap();
    assert!(got.contains("Subject: delegated"));
    // RFC 6409 §8: Date and Message-ID added when missing.
    assert!(got.contains("\r\nDate: "), "{got}");
    assert!(got.contains("\r\nMessage-ID: <"), "{got}");
    ts.shutdown().await;
}

/// One message from alice to `to` over an already logged-in session; the DATA reply.
async fn send_one<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    c: &mut Raw<S>,
    to: &str,
) -> String {
    let r = c.cmd("MAIL FROM:<alice@local.test>").await;
    if !r.starts_with("250") {
        return r;
    }
    c.expect(&format!("RCPT TO:<{to}>"), "250").await;
    c.expect("DATA", "354").await;
    c.send(b"From: alice@local.test\r\nSubject: n\r\n\r\nx\r\n.\r\n")
        .await;
    c.reply().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_refuses_past_the_hourly_limit() {
    let ts = start("[submission]\nmax_messages_per_hour = 2\n").await;
    ts.set_password("alice@local.test", PW).await;
    let mut c = logged_in(&ts).await;
    for _ in 0..2 {
        assert!(send_one(&mut c, "bob@local.test").await.starts_with("250 "));
    }
    // Counting happens after commit, in the background: wait until both are counted.
    let alice = Address::parse("alice@local.test").unwrap();
    for _ in 0..100 {
        if ts.store.count_submissions(&alice, 0).await.unwrap() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = send_one(&mut c, "bob@local.test").await;
    assert!(r.starts_with("550 5.7.1 Submission quota exceeded"), "{r}");
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_new_recipient_domains_suspend_the_account_until_resumed() {
    let ts = start("[submission]\nmax_new_domains_per_hour = 2\nhide_client_ip = true\n").await;
    ts.set_password("alice@local.test", PW).await;
    ts.alias("postmaster@local.test", "carol@local.test").await;
    let mut c = logged_in(&ts).await;
    assert!(send_one(&mut c, "bob@local.test").await.starts_with("250 "));
    for d in ["one.test", "two.test", "three.test"] {
        assert!(
            send_one(&mut c, &format!("x@{d}"))
                .await
                .starts_with("250 ")
        );
    }
    let alice = Address::parse("alice@local.test").unwrap();
    for _ in 0..100 {
        if ts.store.suspension(&alice).await.unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, why) = ts
        .store
        .suspension(&alice)
        .await
        .unwrap()
        .expect("suspended");
    assert!(why.contains("new recipient domains"), "{why}");
    let r = send_one(&mut c, "bob@local.test").await;
    assert!(r.starts_with("550 5.7.1 Sending is suspended"), "{r}");
    // The postmaster is told, and the event is recorded.
    let notices = ts.wait_for_mail("carol", 1).await;
    let notice = String::from_utf8_lossy(&notices[0]);
    assert!(
        notice.contains("Sending suspended for alice@local.test"),
        "{notice}"
    );
    assert!(notice.contains("palisade user resume alice@local.test"));
    let events = ts.store.recent_events(20).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "security.sending_suspended")
    );
    // The first message's Received header hides the submitter's address.
    let bob = String::from_utf8(ts.wait_for_mail("bob", 1).await.remove(0)).unwrap();
    assert!(bob.contains("Received: by mx.local.test"), "{bob}");
    assert!(!bob.contains("[127.0.0.1]"), "{bob}");
    // `palisade user resume` lifts it.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("--data")
        .arg(ts.dir.path())
        .args(["user", "resume", "alice@local.test"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(ts.store.suspension(&alice).await.unwrap().is_none());
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_far_above_the_usual_rate_suspends() {
    let ts = start("[submission]\nburst_factor = 2\n").await;
    ts.set_password("alice@local.test", PW).await;
    let mut c = logged_in(&ts).await;
    let alice = Address::parse("alice@local.test").unwrap();
    // No history: the limit is the floor of 30 messages in 10 minutes.
    let mut refused = None;
    for i in 0..40 {
        let r = send_one(&mut c, "bob@local.test").await;
        if !r.starts_with("250 ") {
            refused = Some((i, r));
            break;
        }
        if ts.store.suspension(&alice).await.unwrap().is_some() {
            // Wait for the suspension to be recorded, then the next one is refused.
            continue;
        }
    }
    let (i, r) = refused.expect("suspended within 40 messages");
    assert!(i > 30, "not before the floor: refused at {i}");
    assert!(r.starts_with("550 5.7.1 Sending is suspended"), "{r}");
    let (_, why) = ts.store.suspension(&alice).await.unwrap().unwrap();
    assert!(why.contains("messages in 10 minutes"), "{why}");
    ts.shutdown().await;
}

/// Issue 15, Medium 10: a From made only of RFC 2047 text that displays as another
/// user's address, a display name showing another address in front of the user's
/// own, a From of a name alone or an empty group, and no From at all were accepted
/// and delivered. Each is refused now; the user's own address in the name is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_from_check_gaps_are_closed() {
    let ts = start("").await;
    ts.set_password("alice@local.test", PW).await;
    let mut c = logged_in(&ts).await;
    for (headers, want) in [
        ("From: =?utf-8?q?bob=40local.test?=\r\n", "550 5.6.0"),
        (
            "From: =?utf-8?q?bob=40local.test?= <alice@local.test>\r\n",
            "550 5.7.1",
        ),
        (
            "From: \"ceo@local.test\" <alice@local.test>\r\n",
            "550 5.7.1",
        ),
        ("From: Alice\r\n", "550 5.6.0"),
        ("From: undisclosed:;\r\n", "550 5.6.0"),
        ("To: bob@local.test\r\n", "550 5.6.0"),
        (
            "From: \"Alice (alice@local.test)\" <alice@local.test>\r\n",
            "250 ",
        ),
    ] {
        c.expect("MAIL FROM:<alice@local.test>", "250").await;
        c.expect("RCPT TO:<bob@local.test>", "250").await;
        c.expect("DATA", "354").await;
        c.send(format!("{headers}Subject: s\r\n\r\nx\r\n.\r\n").as_bytes())
            .await;
        let r = c.reply().await;
        assert!(r.starts_with(want), "{headers:?}: {r}");
    }
    assert_eq!(ts.wait_for_mail("bob", 1).await.len(), 1);
    ts.shutdown().await;
}
