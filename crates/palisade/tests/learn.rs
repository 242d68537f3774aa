//! The per-site model (issue 16, item 4): `palisade learn` records an administrator's
//! decisions in the store, and `serve` weighs new mail by them, with the words that
//! moved it in the reasons; never enough to decide alone.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use palisade_store::prelude::*;
use std::process::Command;
use std::time::Duration;

fn message(i: usize, subject: &str, body: &str) -> String {
    format!(
        "From: Someone <s{i}@example.net>\r\nTo: alice@local.test\r\nSubject: {subject}\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{i}.{}@example.net>\r\n\r\n{body} {i}\r\n",
        subject.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learnt_decisions_weigh_new_mail() {
    let ts = start("").await;
    let dir = tempfile::tempdir().unwrap();
    let (phish, ham) = (dir.path().join("phish"), dir.path().join("ham"));
    std::fs::create_dir_all(&phish).unwrap();
    std::fs::create_dir_all(&ham).unwrap();
    for i in 0..25 {
        std::fs::write(
            phish.join(format!("{i}.eml")),
            message(
                i,
                "Parcel on hold",
                "Your parcel is held at the depot: settle the customs duty",
            ),
        )
        .unwrap();
        std::fs::write(
            ham.join(format!("{i}.eml")),
            message(
                i,
                "Board test run",
                "The nightly board test run passed on every target",
            ),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("junk.txt"), "not a message").unwrap();
    let out = cli(&ts, &["learn", "phish", phish.to_str().unwrap()]);
    assert!(out.contains("learned 25 message(s) as phish"), "{out}");
    let out = cli(
        &ts,
        &[
            "learn",
            "ham",
            ham.to_str().unwrap(),
            dir.path().join("junk.txt").to_str().unwrap(),
        ],
    );
    assert!(
        out.contains("learned 25 message(s) as ham (0 already learnt so, 1 not messages)"),
        "{out}"
    );
    // Again: nothing new.
    let out = cli(&ts, &["learn", "ham", ham.to_str().unwrap()]);
    assert!(
        out.contains("learned 0 message(s) as ham (25 already"),
        "{out}"
    );
    assert_eq!(
        ts.store.site_counts().await.unwrap().totals,
        [25.0, 25.0, 0.0]
    );

    let addr = ts.addr("inbound");
    let c = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .timeout(Some(Duration::from_secs(30)))
        .build();
    let env = Envelope::new(
        Some("x@example.net".parse().unwrap()),
        vec!["alice@local.test".parse().unwrap()],
    )
    .unwrap();
    let new = message(
        99,
        "Depot notice",
        "A parcel is held: the customs duty is unpaid",
    );
    c.send_raw(&env, new.as_bytes()).await.unwrap();
    let got = String::from_utf8(ts.wait_for_mail("alice", 1).await.remove(0))
        .unwrap()
        .replace("\r\n ", " ");
    assert!(
        got.contains("mail this site marked as phishing reads like this"),
        "{got}"
    );
    assert!(got.contains("\"customs\""), "{got}");
    // At most 4.5 points: alone it never tags (5); with one more signal (nothing
    // authenticates this sender: 1.5) it does.
    assert!(got.contains("X-Palisade-Verdict: tag; score=6.0;"), "{got}");

    let bad = Command::new(BIN)
        .arg("--data")
        .arg(ts.dir.path())
        .args(["learn", "scam", "x"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected ham, phish or spam"));
    ts.shutdown().await;
}

/// A report forwarding `n` phishing messages as attachments.
fn report(n: usize) -> String {
    let mut parts = String::new();
    for i in 0..n {
        parts.push_str(&format!(
            "--r\r\nContent-Type: message/rfc822\r\n\r\n{}\r\n",
            message(100 + i, "Parcel on hold", "Pay the customs duty now")
        ));
    }
    format!(
        "From: bob@local.test\r\nTo: report-phish@local.test\r\nSubject: phishing\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <report@local.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=r\r\n\r\n\
         --r\r\nContent-Type: text/plain\r\n\r\nThese look like phishing.\r\n{parts}--r--\r\n"
    )
}

/// Polls (bounded) until the site model holds `phish` weighted phishing decisions.
async fn wait_for_phish(ts: &TestServer, phish: f64) {
    for _ in 0..200 {
        if ts.store.site_counts().await.unwrap().totals[1] == phish {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "the site model has {:?}, not {phish} phishing",
        ts.store.site_counts().await.unwrap().totals
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phishing_reports_from_users_teach_within_a_daily_limit() {
    use lettre::transport::smtp::authentication::{Credentials, Mechanism};
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let ts =
        start("[phishing]\nreport_address = \"report-phish@local.test\"\nreports_per_day = 2\n")
            .await;
    cli(
        &ts,
        &[
            "alias",
            "add",
            "report-phish@local.test",
            "carol@local.test",
        ],
    );
    let pw = "correct horse battery staple";
    ts.set_password("bob@local.test", pw).await;
    let addr = ts.addr("submission");
    let tls = TlsParameters::builder(HOST.to_string())
        .add_root_certificate(Certificate::from_pem(&ts.cert_pem()).unwrap())
        .build_rustls()
        .unwrap();
    let bob = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .tls(Tls::Required(tls))
        .credentials(Credentials::new("bob@local.test".into(), pw.into()))
        .authentication(vec![Mechanism::Plain])
        .timeout(Some(Duration::from_secs(30)))
        .build();
    let env = |from: &str| {
        Envelope::new(
            Some(from.parse().unwrap()),
            vec!["report-phish@local.test".parse().unwrap()],
        )
        .unwrap()
    };
    // Three reported, two learnt (the daily limit), each with a user's weight.
    bob.send_raw(&env("bob@local.test"), report(3).as_bytes())
        .await
        .unwrap();
    ts.wait_for_mail("carol", 1).await;
    wait_for_phish(&ts, 0.5).await;
    assert_eq!(
        ts.store.lessons_since("bob@local.test", 0).await.unwrap(),
        2
    );

    // The same from outside, unauthenticated: delivered, never learnt.
    let inbound = ts.addr("inbound");
    let outside = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(inbound.ip().to_string())
        .port(inbound.port())
        .timeout(Some(Duration::from_secs(30)))
        .build();
    outside
        .send_raw(
            &env("mallory@example.net"),
            report(1)
                .replace("From: bob@local.test", "From: mallory@example.net")
                .replace("Message-ID: <100.", "Message-ID: <200.")
                .as_bytes(),
        )
        .await
        .unwrap();
    ts.wait_for_mail("carol", 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        ts.store.site_counts().await.unwrap().totals,
        [0.0, 0.5, 0.0]
    );
    ts.shutdown().await;
}
