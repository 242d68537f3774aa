//! Issue 15: what an outside attacker found, each a regression named after the attack,
//! over real sockets against the real server.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use lettre::AsyncTransport;
use lettre::address::Envelope;
use std::time::Duration;

/// High 2: a 2000x2000 PNG tiled with QR finder-pattern look-alikes pinned a core for
/// minutes. Its candidates are counted first; the message is accepted, tagged as
/// beyond the scan limit, and delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_finder_pattern_bomb_is_answered_as_a_scan_limit() {
    let ts = start("").await;
    let png = finder_pattern_bomb(2000, 4);
    let msg = with_image("x@sender.test", "alice@local.test", &png);
    let env = Envelope::new(
        Some("x@sender.test".parse().unwrap()),
        vec!["alice@local.test".parse().unwrap()],
    )
    .unwrap();
    let reply = inbound(&ts).send_raw(&env, msg.as_bytes()).await.unwrap();
    assert_eq!(reply.code().to_string(), "250");
    let got = ts.wait_for_mail("alice", 1).await;
    let h = header(&got[0]);
    assert!(h.contains("scan limit reached"), "{h}");
    ts.shutdown().await;
}

/// High 3: replies were written without a deadline, so clients that stop reading held
/// their slots for ever (60 of them filled `max_connections = 60`). Here one slot: a
/// client floods commands and never reads; once its replies stop moving for the idle
/// timeout it is dropped, and the next client gets its banner, not `421`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_that_stops_reading_loses_its_slot() {
    use tokio::io::AsyncWriteExt;
    let ts = start("[smtp]\nmax_connections = 1\nidle_timeout_secs = 2\n").await;
    let addr = ts.addr("inbound");
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut mute = socket.connect(addr).await.unwrap();
    // Writes until the server stops reading (its replies are stuck), then until it
    // hangs up; bounded by the number of commands.
    let flood = tokio::spawn(async move {
        let batch = b"NOOP\r\n".repeat(10_000);
        for _ in 0..200 {
            if mute.write_all(&batch).await.is_err() {
                return true;
            }
        }
        false
    });
    let mut banner = String::new();
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut c = Raw::new(tokio::net::TcpStream::connect(addr).await.unwrap());
        banner = c.reply().await;
        if banner.starts_with("220") {
            break;
        }
    }
    assert!(banner.starts_with("220"), "slot never freed: {banner}");
    assert!(flood.await.unwrap(), "the mute client was disconnected");
    ts.shutdown().await;
}

/// Medium 6: DKIM `h=` selection was quadratic (a 1 MB message, 10 s of CPU; 4.4 MB,
/// 65 s and a 451 that made the sender pay again). A real signature (dkimpy) over
/// 3,000 fields is now refused up front: accepted, and reported as `dkim=policy`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkim_h_tag_over_thousands_of_fields_is_a_policy_result_not_a_451() {
    let dns = palisade_testkit::DnsAuthority::start().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = dkim::Keys::generate(dir.path());
    dns.txt("rsa._domainkey.sender.test", &keys.rsa_record())
        .txt("sender.test", "v=spf1 ip4:127.0.0.1 -all");
    let ts = start_with_dns("", dns).await;
    let mut msg = String::from("From: a@sender.test\r\nTo: alice@local.test\r\n");
    for i in 0..3000 {
        msg.push_str(&format!("X-F{i}: {i}\r\n"));
    }
    msg.push_str("Subject: many fields\r\n\r\nbody\r\n");
    let signed = dkim::sign_all_headers(msg.as_bytes(), "sender.test", "rsa", &keys.rsa);
    let env = Envelope::new(
        Some("a@sender.test".parse().unwrap()),
        vec!["alice@local.test".parse().unwrap()],
    )
    .unwrap();
    let reply = inbound(&ts).send_raw(&env, &signed).await.unwrap();
    assert_eq!(reply.code().to_string(), "250");
    let got = ts.wait_for_mail("alice", 1).await;
    let h = header(&got[0]);
    assert!(
        h.contains("dkim=policy reason=\"the header section has 3004 fields"),
        "{}",
        &h[..h.len().min(2000)]
    );
    assert!(h.contains("header.d=sender.test header.s=rsa"));
    ts.shutdown().await;
}

/// A raw inbound dialog up to MAIL FROM; the reply to it.
async fn mail_from(ts: &TestServer, from: &str) -> (Raw<tokio::net::TcpStream>, String) {
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.example", "250").await;
    let r = c.cmd(&format!("MAIL FROM:<{from}>")).await;
    (c, r)
}

/// Medium 9: our own domain in MAIL FROM from outside was accepted (the SPF fail only
/// tagged), even with our SPF `-all` and DMARC `p=reject`. Now refused at MAIL FROM,
/// for the domain, its subdomains and our host name, whatever `spf_fail` says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_domain_in_mail_from_from_outside_is_refused() {
    let dns = palisade_testkit::DnsAuthority::start().await;
    dns.txt("local.test", "v=spf1 ip4:192.0.2.10 -all")
        .txt("_dmarc.local.test", "v=DMARC1; p=reject");
    let ts = start_with_dns("", dns).await;
    for from in [
        "ceo@local.test",
        "CEO@Local.Test.",
        "ceo@sub.local.test",
        "x@mx.local.test",
    ] {
        let (_, r) = mail_from(&ts, from).await;
        assert!(r.starts_with("550 5.7.1"), "{from}: {r}");
    }
    // Another domain is not ours: accepted at MAIL FROM as before.
    let (_, r) = mail_from(&ts, "someone@elsewhere.test").await;
    assert!(r.starts_with("250"), "{r}");
    ts.shutdown().await;
}

/// The hosts our SPF authorises (an invoicing service, a downstream host) still pass,
/// and their mail is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_domain_from_a_host_our_spf_authorises_is_accepted() {
    let dns = palisade_testkit::DnsAuthority::start().await;
    dns.txt("local.test", "v=spf1 ip4:127.0.0.1 -all")
        .txt("_dmarc.local.test", "v=DMARC1; p=reject");
    let ts = start_with_dns("", dns).await;
    let (mut c, r) = mail_from(&ts, "billing@local.test").await;
    assert!(r.starts_with("250"), "{r}");
    c.expect("RCPT TO:<alice@local.test>", "250").await;
    c.expect("DATA", "354").await;
    c.expect(
        "From: billing@local.test\r\nSubject: invoice\r\n\r\nDue.\r\n.",
        "250",
    )
    .await;
    assert_eq!(ts.wait_for_mail("alice", 1).await.len(), 1);
    ts.shutdown().await;
}

/// Medium 11: with no DMARC record, `From: ceo@mx.local.test` (our host name) from
/// outside was delivered while `From: ceo@local.test` was refused. A subdomain of ours
/// that does not authenticate as us is spoofing us.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subdomain_of_a_local_domain_in_from_is_spoofing() {
    let dns = palisade_testkit::DnsAuthority::start().await;
    dns.txt("sender.test", "v=spf1 ip4:127.0.0.1 -all");
    let ts = start_with_dns("", dns).await;
    for author in ["ceo@mx.local.test", "ceo@local.test", "ceo@hr.local.test"] {
        let (mut c, r) = mail_from(&ts, "bounce@sender.test").await;
        assert!(r.starts_with("250"), "{r}");
        c.expect("RCPT TO:<alice@local.test>", "250").await;
        c.expect("DATA", "354").await;
        let r = c
            .cmd(&format!("From: {author}\r\nSubject: wire\r\n\r\nPay.\r\n."))
            .await;
        assert!(r.starts_with("550 5.7.1"), "{author}: {r}");
    }
    ts.shutdown().await;
}
