//! Sender authentication on the real server: SPF, DKIM, ARC and DMARC against a DNS
//! authority on loopback, messages signed by dkimpy, over real SMTP sockets.
#![allow(clippy::unwrap_used)]

mod common;

use common::dkim::{Keys, arc_seal, sign};
use common::*;
use palisade_store::prelude::*;
use palisade_testkit::DnsAuthority;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_palisade");

/// Sends one message from `mail_from` to alice; returns the reply to the end of data.
async fn send(ts: &TestServer, mail_from: &str, message: &[u8]) -> String {
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.sender.test", "250").await;
    c.expect(&format!("MAIL FROM:<{mail_from}>"), "250").await;
    c.expect("RCPT TO:<alice@local.test>", "250").await;
    c.expect("DATA", "354").await;
    let mut data = message.to_vec();
    data.extend_from_slice(b".\r\n");
    c.send(&data).await;
    let r = c.reply().await;
    c.cmd("QUIT").await;
    r
}

fn message(from: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: alice@local.test\r\nSubject: {subject}\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@x>\r\n\r\nHello.\r\n"
    )
    .into_bytes()
}

/// sender.test: SPF allows only 192.0.2.0/24 (not us, 127.0.0.1), DKIM keys, DMARC as given.
fn sender_zone(dns: &DnsAuthority, keys: &Keys, dmarc: &str) {
    dns.txt("sender.test", "v=spf1 ip4:192.0.2.0/24 -all");
    keys_and_dmarc(dns, keys, dmarc);
}

fn keys_and_dmarc(dns: &DnsAuthority, keys: &Keys, dmarc: &str) {
    dns.txt("ed._domainkey.sender.test", &keys.ed_record())
        .txt("_dmarc.sender.test", dmarc);
}

fn quarantine_ids(ts: &TestServer) -> Vec<String> {
    let o = Command::new(BIN)
        .arg("--data")
        .arg(ts.dir.path())
        .args(["quarantine", "list"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.ends_with("message(s)"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8601_results_added_and_forged_ones_removed() {
    let dns = DnsAuthority::start().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::generate(dir.path());
    keys_and_dmarc(&dns, &keys, "v=DMARC1; p=reject");
    dns.txt("sender.test", "v=spf1 ip4:127.0.0.1 -all");
    let ts = start_with_dns("", dns).await;
    let mut msg = format!(
        "Authentication-Results: {HOST}; dmarc=pass header.from=paypal.test\r\n\
         Authentication-Results: other.example; spf=pass\r\n"
    )
    .into_bytes();
    msg.extend(message("Alice <alice@sender.test>", "signed"));
    let signed = sign(
        &msg,
        "sender.test",
        "ed",
        &keys.ed_seed,
        "ed25519",
        "relaxed/relaxed",
        false,
    );
    assert!(
        send(&ts, "bounce@sender.test", &signed)
            .await
            .starts_with("250 ")
    );
    let got = String::from_utf8(ts.wait_for_mail("alice", 1).await.remove(0)).unwrap();
    let ours: Vec<&str> = got
        .split("\r\n")
        .filter(|l| l.starts_with(&format!("Authentication-Results: {HOST}")))
        .collect();
    assert_eq!(ours.len(), 1, "exactly our own header: {got}");
    let ar = got
        .split(ours[0])
        .nth(1)
        .unwrap()
        .split("\r\nAuthentication-Results: other")
        .next()
        .unwrap();
    for want in [
        "spf=pass",
        "dkim=pass",
        "header.i=@sender.test",
        "dmarc=pass",
    ] {
        assert!(ar.contains(want), "{want} missing: {ours:?}{ar}");
    }
    assert!(
        !got.contains("paypal.test"),
        "the forged field is gone: {got}"
    );
    assert!(got.contains("Authentication-Results: other.example; spf=pass"));
    // Order: Return-Path, our Received, our Authentication-Results, then the message.
    let pos = |s: &str| got.find(s).unwrap();
    assert!(pos("Return-Path:") < pos("Received:"));
    assert!(pos("Received:") < pos(&format!("Authentication-Results: {HOST}")));
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc7489_p_reject_is_refused_with_the_reason() {
    let dns = DnsAuthority::start().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::generate(dir.path());
    sender_zone(&dns, &keys, "v=DMARC1; p=reject");
    let ts = start_with_dns("", dns).await;
    let r = send(
        &ts,
        "ceo@sender.test",
        &message("CEO <ceo@sender.test>", "wire"),
    )
    .await;
    assert!(r.starts_with("550 5.7.1 "), "{r}");
    assert!(r.contains("DMARC") && r.contains("sender.test"), "{r}");
    // A tampered signature does not help either.
    let signed = sign(
        &message("CEO <ceo@sender.test>", "wire2"),
        "sender.test",
        "ed",
        &keys.ed_seed,
        "ed25519",
        "relaxed/relaxed",
        false,
    );
    let tampered = String::from_utf8(signed)
        .unwrap()
        .replace("Hello.", "Pay now.");
    let r = send(&ts, "ceo@sender.test", tampered.as_bytes()).await;
    assert!(r.starts_with("550 5.7.1 "), "{r}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(ts.mail("alice").is_empty());
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc7489_p_quarantine_holds_until_released() {
    let dns = DnsAuthority::start().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::generate(dir.path());
    sender_zone(&dns, &keys, "v=DMARC1; p=quarantine");
    let ts = start_with_dns("", dns).await;
    let r = send(&ts, "a@sender.test", &message("a@sender.test", "held")).await;
    assert!(r.starts_with("250 "), "quarantined mail is accepted: {r}");
    let ids = quarantine_ids(&ts);
    assert_eq!(ids.len(), 1);
    let show = Command::new(BIN)
        .arg("--data")
        .arg(ts.dir.path())
        .args(["quarantine", "show", &ids[0]])
        .output()
        .unwrap();
    let show = String::from_utf8(show.stdout).unwrap();
    assert!(
        show.contains("reason: DMARC policy quarantine of sender.test"),
        "{show}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(ts.mail("alice").is_empty(), "not delivered while held");
    let o = Command::new(BIN)
        .arg("--data")
        .arg(ts.dir.path())
        .args(["quarantine", "release", &ids[0]])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A release is a decision: the per-site model learns the message as legitimate.
    assert!(String::from_utf8_lossy(&o.stdout).contains("the site model learns it as ham"));
    assert_eq!(
        ts.store.site_counts().await.unwrap().totals,
        [1.0, 0.0, 0.0]
    );
    let got = String::from_utf8(ts.wait_for_mail("alice", 1).await.remove(0)).unwrap();
    assert!(got.contains("X-Palisade-Quarantine: DMARC policy quarantine of sender.test"));
    assert!(quarantine_ids(&ts).is_empty());
    // A second one is deleted instead: gone, never delivered.
    let r = send(&ts, "a@sender.test", &message("a@sender.test", "junk")).await;
    assert!(r.starts_with("250 "), "{r}");
    let ids = quarantine_ids(&ts);
    assert_eq!(ids.len(), 1);
    let o = Command::new(BIN)
        .arg("--data")
        .arg(ts.dir.path())
        .args(["quarantine", "delete", "--spam", &ids[0]])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(quarantine_ids(&ts).is_empty());
    assert_eq!(
        ts.store.site_counts().await.unwrap().totals,
        [1.0, 0.0, 1.0]
    );
    let o = Command::new(BIN)
        .arg("--data")
        .arg(ts.dir.path())
        .args(["quarantine", "show", &ids[0]])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "a deleted id is a usage error");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(ts.mail("alice").len(), 1);
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc7489_6_6_4_pct_zero_applies_the_next_weaker_policy() {
    let dns = DnsAuthority::start().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::generate(dir.path());
    sender_zone(&dns, &keys, "v=DMARC1; p=reject; pct=0");
    let ts = start_with_dns("", dns).await;
    let r = send(&ts, "a@sender.test", &message("a@sender.test", "sampled")).await;
    assert!(r.starts_with("250 "), "{r}");
    assert_eq!(quarantine_ids(&ts).len(), 1);
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_domain_from_outside_is_rejected_whatever_is_published() {
    let ts = start("").await;
    let r = send(
        &ts,
        "someone@remote.test",
        &message("CEO <ceo@local.test>", "spoof"),
    )
    .await;
    assert!(r.starts_with("550 5.7.1 "), "{r}");
    assert!(r.contains("local.test"), "{r}");
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_failure_defers_never_rejects() {
    let dns = DnsAuthority::start().await;
    dns.silent("sender.test");
    let ts = start_with_dns("", dns).await;
    let r = send(&ts, "a@sender.test", &message("a@sender.test", "later")).await;
    assert!(r.starts_with("451 4.7."), "{r}");
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spf_fail_without_dmarc_is_tagged_or_rejected_by_config() {
    let dns = DnsAuthority::start().await;
    dns.txt("nodmarc.test", "v=spf1 ip4:192.0.2.1 -all");
    let ts = start_with_dns("", dns).await;
    let r = send(&ts, "a@nodmarc.test", &message("a@nodmarc.test", "tag")).await;
    assert!(r.starts_with("250 "), "{r}");
    let got = String::from_utf8(ts.wait_for_mail("alice", 1).await.remove(0)).unwrap();
    assert!(got.contains("spf=fail"), "{got}");
    ts.shutdown().await;

    let dns = DnsAuthority::start().await;
    dns.txt("nodmarc.test", "v=spf1 ip4:192.0.2.1 -all");
    let ts = start_with_dns("[policy]\nspf_fail = \"reject\"\n", dns).await;
    let r = send(&ts, "a@nodmarc.test", &message("a@nodmarc.test", "rej")).await;
    assert!(r.starts_with("550 5.7.23 "), "{r}");
    ts.shutdown().await;
}

/// A mailing list rewrote the subject (breaking the author's DKIM) and sealed what it saw.
fn list_message(keys: &Keys) -> Vec<u8> {
    let original = sign(
        &message("a@sender.test", "list"),
        "sender.test",
        "ed",
        &keys.ed_seed,
        "ed25519",
        "relaxed/relaxed",
        false,
    );
    let rewritten = String::from_utf8(original)
        .unwrap()
        .replace("Subject: list", "Subject: [list] list");
    let mut seen = b"Authentication-Results: lists.example; dkim=pass header.d=sender.test; dmarc=pass header.from=sender.test\r\n".to_vec();
    seen.extend_from_slice(rewritten.as_bytes());
    arc_seal(&seen, "lists.example", "arc", &keys.rsa, "lists.example")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8617_7_2_trusted_arc_sealer_overrides_dmarc_failure() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::generate(dir.path());
    let zone = |dns: &DnsAuthority| {
        sender_zone(dns, &keys, "v=DMARC1; p=reject");
        dns.txt("arc._domainkey.lists.example", &keys.rsa_record());
    };
    let dns = DnsAuthority::start().await;
    zone(&dns);
    let ts = start_with_dns("", dns).await;
    let r = send(&ts, "list-bounces@lists.example", &list_message(&keys)).await;
    assert!(r.starts_with("550 5.7.1 "), "untrusted sealer: {r}");
    ts.shutdown().await;

    let dns = DnsAuthority::start().await;
    zone(&dns);
    let ts = start_with_dns("[policy]\ntrusted_arc_sealers = [\"lists.example\"]\n", dns).await;
    let r = send(&ts, "list-bounces@lists.example", &list_message(&keys)).await;
    assert!(r.starts_with("250 "), "trusted sealer: {r}");
    let got = String::from_utf8(ts.wait_for_mail("alice", 1).await.remove(0)).unwrap();
    assert!(got.contains("arc=pass"), "{got}");
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_networks_skip_checks_and_disabled_checks_still_strip_forgeries() {
    let ts = start("[policy]\ntrusted_networks = [\"127.0.0.0/8\"]\n").await;
    let r = send(
        &ts,
        "a@remote.test",
        &message("CEO <ceo@local.test>", "internal"),
    )
    .await;
    assert!(r.starts_with("250 "), "{r}");
    ts.shutdown().await;

    let ts = start("[policy]\nsender_checks = false\n").await;
    let mut msg = format!("Authentication-Results: {HOST}; dmarc=pass\r\n").into_bytes();
    msg.extend(message("a@remote.test", "off"));
    assert!(send(&ts, "a@remote.test", &msg).await.starts_with("250 "));
    let got = String::from_utf8(ts.wait_for_mail("alice", 1).await.remove(0)).unwrap();
    assert!(!got.contains("Authentication-Results"), "{got}");
    ts.shutdown().await;
}

/// Issue 15, conformance (RFC 6376 §3.6.1, RFC 8601 §2.7.1): a key record's `h=`, `k=`
/// and `s=` restrict what its key may verify, and every signature gets a result in
/// Authentication-Results, refused ones too: an `l=` signature dkimpy makes and passes
/// is `policy` here, with the reason (content can be appended after the signed length).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc6376_3_6_1_key_record_restrictions_and_policy_results() {
    let dns = DnsAuthority::start().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::generate(dir.path());
    let p = keys.rsa_p.clone();
    dns.txt("sender.test", "v=spf1 -all")
        .txt(
            "ok._domainkey.sender.test",
            &format!("v=DKIM1; k=rsa; s=email; p={p}"),
        )
        .txt(
            "sha1._domainkey.sender.test",
            &format!("v=DKIM1; h=sha1; p={p}"),
        )
        .txt(
            "tls._domainkey.sender.test",
            &format!("v=DKIM1; s=tls; p={p}"),
        )
        .txt(
            "ed._domainkey.sender.test",
            &format!("v=DKIM1; k=ed25519; p={p}"),
        );
    let ts = start_with_dns("[policy]\ndmarc_enforce = false\n", dns).await;
    let cases = [
        ("ok", false, "dkim=pass"),
        (
            "sha1",
            false,
            "dkim=fail reason=\"the key record allows only h=sha1",
        ),
        (
            "tls",
            false,
            "dkim=fail reason=\"the key is for s=tls, not email",
        ),
        ("ed", false, "dkim=fail"),
        ("ok", true, "dkim=policy reason="),
    ];
    for (n, (selector, length, want)) in cases.iter().enumerate() {
        let msg = message("Alice <alice@sender.test>", &format!("case{n}"));
        let signed = sign(
            &msg,
            "sender.test",
            selector,
            &keys.rsa,
            "rsa",
            "relaxed/relaxed",
            *length,
        );
        let r = send(&ts, "bounce@sender.test", &signed).await;
        assert!(r.starts_with("250"), "{selector}: {r}");
        let got = ts.wait_for_mail("alice", n + 1).await;
        let text = got
            .iter()
            .map(|m| String::from_utf8_lossy(m).replace("\r\n\t", " "))
            .find(|m| m.contains(&format!("Subject: case{n}")))
            .unwrap();
        let ar = text
            .lines()
            .find(|l| l.starts_with(&format!("Authentication-Results: {HOST}")))
            .unwrap();
        assert!(ar.contains(want), "{selector} (l={length}): {ar}");
        assert!(ar.contains(&format!("header.s={selector}")), "{ar}");
    }
    ts.shutdown().await;
}

/// Issue 21: the quarantine is the cluster's. A message held on node A moves from A's
/// spool into the store by itself; node B (its own data directory, the same store)
/// releases it, and B queues and delivers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_held_on_one_node_is_released_from_another() {
    let dns = DnsAuthority::start().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::generate(dir.path());
    sender_zone(&dns, &keys, "v=DMARC1; p=quarantine");
    let a = start_with_dns("", dns).await;
    let dir_b = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn palisade_store::Store> = a.store.clone();
    let b = palisade_server::Server::start(
        palisade_config::parse(&a.toml).unwrap(),
        dir_b.path(),
        store.clone(),
        palisade::addons::all(),
    )
    .await
    .unwrap();
    let r = send(&a, "a@sender.test", &message("a@sender.test", "held-on-a")).await;
    assert!(r.starts_with("250 "), "{r}");

    // A's move: within a few seconds the store holds it and A's spool no longer does.
    let mut held = Vec::new();
    for _ in 0..100 {
        held = store.list_held(10).await.unwrap();
        if !held.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(held.len(), 1, "moved into the store");
    assert_eq!(held[0].subject, "held-on-a");
    let a_spool = palisade_queue::Spool::list_quarantine(&palisade_server::queue_dir(a.dir.path()));
    assert!(
        a_spool.unwrap().is_empty(),
        "A's copy is gone once the store holds it"
    );

    let queue_b = palisade_server::queue_dir(dir_b.path());
    let released = palisade_server::quarantine::release(&queue_b, &*store, held[0].id).await;
    assert!(released.unwrap().is_some());
    let maildir_b = dir_b.path().join("mail/local.test/alice/new");
    let mut delivered = 0;
    for _ in 0..200 {
        delivered = std::fs::read_dir(&maildir_b)
            .map(|d| d.count())
            .unwrap_or(0);
        if delivered > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(delivered, 1, "B delivered what it released");
    assert!(a.mail("alice").is_empty(), "A did not");
    assert!(store.list_held(10).await.unwrap().is_empty());
    let again = palisade_server::quarantine::release(&queue_b, &*store, held[0].id).await;
    assert!(again.unwrap().is_none(), "released once");
    b.shutdown(std::time::Duration::from_secs(1)).await;
    a.shutdown().await;
}
