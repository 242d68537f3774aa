//! DMARC aggregate reports (RFC 7489 §7): evaluations recorded by the real server, reports
//! built by `palisade reports dmarc send`, received reports parsed and listed.
#![allow(clippy::unwrap_used)]

mod common;

use common::dkim::{Keys, sign};
use common::*;
use palisade_store::prelude::*;
use palisade_testkit::DnsAuthority;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_palisade");

fn cli(data: &Path, dns: &DnsAuthority, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(["--dns", &dns.addr().to_string(), "--dns-timeout", "1"])
        .args(args)
        .output()
        .unwrap()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

async fn send(ts: &TestServer, from: &str, rcpt: &str, body: &[u8]) -> String {
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.test", "250").await;
    c.expect(&format!("MAIL FROM:<{from}>"), "250").await;
    c.expect(&format!("RCPT TO:<{rcpt}>"), "250").await;
    c.expect("DATA", "354").await;
    let mut data = body.to_vec();
    data.extend_from_slice(b".\r\n");
    c.send(&data).await;
    c.reply().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc7489_7_2_aggregate_report_is_built_and_can_be_received() {
    let dns = DnsAuthority::start().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::generate(dir.path());
    dns.txt("sender.test", "v=spf1 ip4:127.0.0.1 -all")
        .txt(
            "_dmarc.sender.test",
            "v=DMARC1; p=none; rua=mailto:dmarc@sender.test,mailto:agg@thirdparty.test,mailto:x@unauthorised.test",
        )
        // RFC 7489 §7.1: thirdparty.test accepts reports about sender.test.
        .txt("sender.test._report._dmarc.thirdparty.test", "v=DMARC1")
        .txt("reporter.test", "v=spf1 -all")
        .txt("_dmarc.reporter.test", "v=DMARC1; p=reject")
        .txt("ed._domainkey.reporter.test", &keys.ed_record());
    let ts = start_with_dns(
        "[reports]\ndmarc_address = \"bob@local.test\"\ndmarc_interval_secs = 0\n",
        dns,
    )
    .await;
    // The third party's mailbox is here, so the queued report is delivered for real.
    ts.add_mailbox("agg@thirdparty.test").await;
    // Two messages whose SPF passes and aligns, one from a foreign envelope domain.
    for (from, subject) in [
        ("a@sender.test", "one"),
        ("b@sender.test", "two"),
        ("c@other.test", "three"),
    ] {
        let msg = format!("From: a@sender.test\r\nSubject: {subject}\r\n\r\nhi\r\n");
        assert!(
            send(&ts, from, "alice@local.test", msg.as_bytes())
                .await
                .starts_with("250 ")
        );
    }
    // Evaluations are written in batches after the 250: wait (bounded) until they are in.
    for _ in 0..100 {
        if ts.store.pending_dmarc_evaluations(10).await.unwrap().len() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let out = ok(cli(ts.dir.path(), &ts.dns, &["reports", "dmarc", "send"]));
    assert!(
        out.contains(
            "sender.test: 3 message(s) reported to dmarc@sender.test, agg@thirdparty.test"
        ),
        "{out}"
    );
    // Queued, then delivered by the scheduler into agg@thirdparty.test's Maildir.
    let report_mail = ts.wait_for_mail("agg@thirdparty.test", 1).await.remove(0);
    let text = String::from_utf8_lossy(&report_mail).to_string();
    assert!(
        text.contains("dmarc@sender.test") && text.contains("agg@thirdparty.test"),
        "both authorised destinations are addressed: {text}"
    );
    assert!(text.contains("Report Domain: sender.test"), "{text}");
    assert!(
        !text.contains("unauthorised.test"),
        "unverified destinations get nothing"
    );
    // Nothing left to report.
    assert!(
        ok(cli(ts.dir.path(), &ts.dns, &["reports", "dmarc", "send"]))
            .contains("no DMARC evaluations")
    );

    // The report arrives at our report address from reporter.test, DKIM-signed: stored,
    // because it is about a domain of ours (reports about other domains are ignored).
    ts.store
        .add_domain(&palisade_types::Domain::parse("sender.test").unwrap())
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // lookup cache TTL
    let mut inbound = String::from_utf8(report_mail)
        .unwrap()
        .replace("noreply-dmarc@localhost", "noreply-dmarc@reporter.test")
        .into_bytes();
    if !inbound.ends_with(b"\r\n") {
        inbound.extend_from_slice(b"\r\n");
    }
    let signed = sign(
        &inbound,
        "reporter.test",
        "ed",
        &keys.ed_seed,
        "ed25519",
        "relaxed/relaxed",
        false,
    );
    let r = send(
        &ts,
        "noreply-dmarc@reporter.test",
        "bob@local.test",
        &signed,
    )
    .await;
    assert!(r.starts_with("250 "), "{r}");
    let mut listed = serde_json::Value::Null;
    for _ in 0..100 {
        listed = serde_json::from_str(&ok(cli(
            ts.dir.path(),
            &ts.dns,
            &["reports", "dmarc", "list", "--json"],
        )))
        .unwrap();
        if listed.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let d = &listed[0];
    assert_eq!(d["domain"], "sender.test", "{listed}");
    assert_eq!(d["messages"], 3);
    assert_eq!(d["passed"], 2, "two aligned SPF passes: {listed}");
    assert_eq!(d["sources"][0], "127.0.0.1");
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_reports_are_not_stored_and_import_checks_input() {
    let dns = DnsAuthority::start().await;
    let ts = start_with_dns("[reports]\ndmarc_address = \"bob@local.test\"\n", dns).await;
    let r = send(
        &ts,
        "x@forger.test",
        "bob@local.test",
        b"From: x@forger.test\r\nSubject: Report Domain: local.test\r\n\r\nnot a report\r\n",
    )
    .await;
    assert!(r.starts_with("250 "), "{r}");
    let listed = ok(cli(
        ts.dir.path(),
        &ts.dns,
        &["reports", "dmarc", "list", "--json"],
    ));
    assert_eq!(listed.trim(), "[]");
    let f = ts.dir.path().join("junk.eml");
    std::fs::write(&f, "Subject: hi\r\n\r\nno report here\r\n").unwrap();
    let o = cli(
        ts.dir.path(),
        &ts.dns,
        &["reports", "dmarc", "import", f.to_str().unwrap()],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    ts.shutdown().await;
}
