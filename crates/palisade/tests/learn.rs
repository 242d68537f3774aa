//! The per-site model (issue 16, item 4): `palisade learn` records an administrator's
//! decisions in the store, and `serve` weighs new mail by them, with the words that
//! moved it in the reasons; never enough to decide alone.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use palisade_store::Store;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_palisade");

fn cli(ts: &TestServer, args: &[&str]) -> String {
    let o = Command::new(BIN)
        .arg("--data")
        .arg(ts.dir.path())
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

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
