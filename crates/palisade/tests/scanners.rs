//! External scanners inside `serve` (issue 16, item 6), against the real daemons from
//! Debian's packages: clamd with an EICAR signature made here, rspamd with its stock
//! rules. Their findings join the verdict and its reasons; a scanner that cannot be
//! asked gives its fallback (`451 4.3.0`, or delivery with a reason), never a silent
//! pass.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine as _;
use common::*;
use lettre::AsyncTransport;
use lettre::address::Envelope;
use palisade_testkit::{Daemon, EICAR, EICAR_SIGNATURE};

/// Sends `message` to alice; the reply, or the error text of a refusal.
async fn send(ts: &TestServer, message: &str) -> Result<String, String> {
    let env = Envelope::new(
        Some("friend@sender.test".parse().unwrap()),
        vec!["alice@local.test".parse().unwrap()],
    )
    .unwrap();
    inbound(ts)
        .send_raw(&env, message.as_bytes())
        .await
        .map(|r| format!("{} {}", r.code(), r.message().collect::<Vec<_>>().join(" ")))
        .map_err(|e| e.to_string())
}

fn mail(subject: &str, body: &str) -> String {
    format!(
        "From: Friend <friend@sender.test>\r\nTo: alice@local.test\r\nSubject: {subject}\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{}@sender.test>\r\n\
         MIME-Version: 1.0\r\n{body}",
        subject.replace(' ', ".")
    )
}

/// A message with the EICAR test file attached (base64, as mail carries it).
fn eicar_mail() -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(EICAR);
    mail(
        "the file",
        &format!(
            "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
             Content-Type: text/plain\r\n\r\nHere it is.\r\n--b\r\n\
             Content-Type: application/octet-stream; name=\"eicar.com\"\r\n\
             Content-Disposition: attachment; filename=\"eicar.com\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b--\r\n"
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamav_and_rspamd_join_the_verdict() {
    let clamd = tokio::task::spawn_blocking(Daemon::clamd).await.unwrap();
    let rspamd = tokio::task::spawn_blocking(Daemon::rspamd).await.unwrap();
    let ts = start(&format!(
        "[phishing]\nspam_quarantine_score = 10\nspam_reject_score = 0\n\
         [scanners.rspamd]\nurl = \"http://{}\"\n[scanners.clamav]\naddress = \"{}\"\n",
        rspamd.addr, clamd.addr
    ))
    .await;

    // Clean: delivered, both asked.
    let clean = mail(
        "lunch",
        "Content-Type: text/plain\r\n\r\nLunch on Friday?\r\n",
    );
    assert!(send(&ts, &clean).await.unwrap().starts_with("250"));
    let got = ts.wait_for_mail("alice", 1).await;
    let h = header(&got[0]);
    assert!(h.contains("X-Palisade-Verdict: deliver"), "{h}");

    // Malware: refused, ClamAV's finding is the reason.
    let refused = send(&ts, &eicar_mail())
        .await
        .expect_err("malware is refused");
    assert!(refused.contains("5.7.1"), "{refused}");
    assert!(
        refused.contains(&format!("ClamAV found malware: {EICAR_SIGNATURE}")),
        "{refused}"
    );

    // GTUBE: rspamd says reject; with our spam reject off it is held, and the
    // quarantine shows rspamd's verdict beside ours.
    let gtube = mail(
        "test",
        &format!(
            "Content-Type: text/plain\r\n\r\n{}\r\n",
            palisade_phish::spam::GTUBE
        ),
    );
    assert!(send(&ts, &gtube).await.unwrap().starts_with("250"));
    let list = cli(&ts, &["quarantine", "list"]).replace('\n', " ");
    assert!(list.contains("spam score"), "{list}");
    assert!(list.contains("rspamd scored 15.0 (reject)"), "{list}");
    assert!(list.contains("GTUBE"), "{list}");

    // clamd gone: the default fallback is to make the sender wait.
    drop(clamd);
    let deferred = send(&ts, &clean).await.expect_err("deferred");
    assert!(deferred.contains("4.3.0"), "{deferred}");
    ts.shutdown().await;
    drop(rspamd);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanner_that_cannot_be_asked_delivers_with_a_reason_when_told_to() {
    // Nothing listens there.
    let dead = format!("127.0.0.1:{}", free_port());
    let ts = start(&format!(
        "[scanners.clamav]\naddress = \"{dead}\"\non_failure = \"deliver\"\ntimeout_secs = 5\n"
    ))
    .await;
    let clean = mail("hello", "Content-Type: text/plain\r\n\r\nHi.\r\n");
    assert!(send(&ts, &clean).await.unwrap().starts_with("250"));
    let got = ts.wait_for_mail("alice", 1).await;
    let h = header(&got[0]);
    assert!(
        h.contains("ClamAV could not scan the message"),
        "the reader is told: {h}"
    );
    ts.shutdown().await;
}
