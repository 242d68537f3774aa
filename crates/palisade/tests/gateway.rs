//! Palisade as a gateway (issue 18): a routed domain's mail goes on to its own server
//! over SMTP (a real Postfix) or LMTP (a real Dovecot), after every inbound check, and
//! recipients that server does not know are refused at our RCPT through a cached
//! callout.
#![allow(clippy::unwrap_used)]

mod common;

use common::dovecot::Dovecot;
use common::postfix::Postfix;
use common::*;
use lettre::AsyncTransport;

async fn send(ts: &TestServer, to: &str, subject: &str) {
    let msg = lettre::Message::builder()
        .from("someone@example.net".parse().unwrap())
        .to(to.parse().unwrap())
        .subject(subject)
        .body(String::from("Through the gateway.\r\n"))
        .unwrap();
    inbound(ts).send(msg).await.unwrap();
}

/// RCPT replies for `rcpts` in one inbound session.
async fn rcpt_replies(ts: &TestServer, rcpts: &[&str]) -> Vec<String> {
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.example.net", "250").await;
    c.expect("MAIL FROM:<someone@example.net>", "250").await;
    let mut out = Vec::new();
    for r in rcpts {
        out.push(c.cmd(&format!("RCPT TO:<{r}>")).await);
    }
    c.cmd("QUIT").await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_routed_over_smtp_reaches_postfix_and_unknown_recipients_are_refused_at_rcpt() {
    let mut postfix = Postfix::start("corp.test", &["dave", "erin"]).await;
    let ts = start(&format!(
        "[route]\n\"corp.test\" = \"smtp://127.0.0.1:{}\"\n",
        postfix.addr.port()
    ))
    .await;

    send(&ts, "dave@corp.test", "to the downstream").await;
    let got = postfix.wait_for_mail("dave", 1).await;
    let text = String::from_utf8_lossy(&got[0]).into_owned();
    assert!(text.contains("Subject: to the downstream"), "{text}");
    // Our checks ran and their results travel with the message.
    assert!(text.contains("Authentication-Results:"), "{text}");
    assert!(text.contains(&format!("by {HOST}")), "{text}");

    // RFC 5321 §3.3: the refusal comes at RCPT, from the downstream's own answer.
    let r = rcpt_replies(
        &ts,
        &["nobody@corp.test", "nobody@corp.test", "DAVE@corp.test"],
    )
    .await;
    assert!(r[0].starts_with("550 5.1.1"), "{r:?}");
    assert!(r[1].starts_with("550 5.1.1"), "{r:?}");
    assert!(r[2].starts_with("250"), "{r:?}");
    // The second refusal came from the cache: Postfix was asked once (its log is
    // written by postlogd, a moment later).
    let asked = || postfix.log().matches("reject: RCPT").count();
    for _ in 0..100 {
        if asked() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(asked(), 1, "{}", postfix.log());

    // Downstream gone: an unverified recipient is deferred (451 4.4.3), never accepted.
    postfix.stop();
    let r = rcpt_replies(&ts, &["erin@corp.test"]).await;
    assert!(r[0].starts_with("451 4.4.3"), "{r:?}");
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_routed_over_lmtp_reaches_dovecot() {
    let dovecot = Dovecot::with_users(&["dave@lab.test"]).await;
    let ts = start(&format!(
        "[route]\n\"lab.test\" = \"lmtp://{}\"\n",
        dovecot.lmtp.display()
    ))
    .await;
    let r = rcpt_replies(&ts, &["nobody@lab.test", "dave@lab.test"]).await;
    assert!(r[0].starts_with("550 5.1.1"), "{r:?}");
    assert!(r[1].starts_with("250"), "{r:?}");
    send(&ts, "dave@lab.test", "over lmtp").await;
    let mut got = Vec::new();
    for _ in 0..400 {
        got = dovecot.inbox("dave@lab.test");
        if !got.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let text = String::from_utf8_lossy(got.first().unwrap()).into_owned();
    assert!(
        text.contains("Subject: over lmtp"),
        "{text}\n{}",
        dovecot.log()
    );
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_without_verification_accepts_every_recipient() {
    let postfix = Postfix::start("open.test", &["dave"]).await;
    let ts = start(&format!(
        "[route.\"open.test\"]\nto = \"smtp://127.0.0.1:{}\"\nverify_recipients = false\n",
        postfix.addr.port()
    ))
    .await;
    let r = rcpt_replies(&ts, &["anyone@open.test"]).await;
    assert!(r[0].starts_with("250"), "{r:?}");
    assert!(!postfix.log().contains("anyone@open.test"));
    ts.shutdown().await;
}
