//! HAProxy PROXY protocol v1/v2 in front of a listener, over real sockets.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use palisade_store::prelude::*;
use palisade_testkit::DnsAuthority;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LB: &str =
    "[listener.lb]\naddress = \"127.0.0.1:0\"\nproxy_protocol_from = [\"127.0.0.1/32\"]\n";

/// Connects to the PROXY listener, sends `header`, returns the client after the greeting.
async fn via_proxy(ts: &TestServer, header: &[u8]) -> Raw<TcpStream> {
    let mut s = TcpStream::connect(ts.addr("lb")).await.unwrap();
    s.write_all(header).await.unwrap();
    let mut c = Raw::new(s);
    let g = c.reply().await;
    assert!(g.starts_with("220 "), "greeting: {g:?}");
    c
}

async fn closed_without_greeting(ts: &TestServer, listener: &str, first: &[u8]) {
    let mut s = TcpStream::connect(ts.addr(listener)).await.unwrap();
    let _ = s.write_all(first).await;
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("closed promptly")
        .unwrap_or(0);
    assert_eq!(
        n,
        0,
        "expected close, got {:?}",
        String::from_utf8_lossy(&buf[..n])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxied_address_is_the_client_for_spf_and_trace() {
    let dns = DnsAuthority::start().await;
    dns.txt("sender.test", "v=spf1 ip4:198.51.100.7 -all")
        .txt("_dmarc.sender.test", "v=DMARC1; p=reject");
    let ts = start_with_dns(LB, dns).await;
    for header in [
        b"PROXY TCP4 198.51.100.7 127.0.0.1 40000 25\r\n".to_vec(),
        ppp::v2::Builder::with_addresses(
            ppp::v2::Version::Two | ppp::v2::Command::Proxy,
            ppp::v2::Protocol::Stream,
            (
                "198.51.100.7:40001"
                    .parse::<std::net::SocketAddr>()
                    .unwrap(),
                "127.0.0.1:25".parse::<std::net::SocketAddr>().unwrap(),
            ),
        )
        .build()
        .unwrap(),
    ] {
        let mut c = via_proxy(&ts, &header).await;
        c.expect("EHLO relay.sender.test", "250").await;
        c.expect("MAIL FROM:<a@sender.test>", "250").await;
        c.expect("RCPT TO:<alice@local.test>", "250").await;
        c.expect("DATA", "354").await;
        c.send(b"From: a@sender.test\r\nSubject: via lb\r\n\r\nhi\r\n.\r\n")
            .await;
        let r = c.reply().await;
        assert!(
            r.starts_with("250 "),
            "SPF passes for the proxied client: {r}"
        );
    }
    let mail = ts.wait_for_mail("alice", 2).await;
    let m = String::from_utf8(mail[0].clone()).unwrap();
    assert!(
        m.contains("198.51.100.7"),
        "Received names the real client: {m}"
    );
    assert!(m.contains("spf=pass"), "{m}");
    // The same message straight from 127.0.0.1 fails SPF and DMARC p=reject.
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO relay.sender.test", "250").await;
    c.expect("MAIL FROM:<a@sender.test>", "250").await;
    c.expect("RCPT TO:<alice@local.test>", "250").await;
    c.expect("DATA", "354").await;
    c.send(b"From: a@sender.test\r\nSubject: direct\r\n\r\nhi\r\n.\r\n")
        .await;
    assert!(c.reply().await.starts_with("550 5.7.1"));
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_malformed_header_closes_the_connection() {
    let ts = start(LB).await;
    closed_without_greeting(&ts, "lb", b"EHLO no.header.test\r\n").await;
    closed_without_greeting(&ts, "lb", b"PROXY TCP4 1.2.3 127.0.0.1 1 25\r\n").await;
    closed_without_greeting(&ts, "lb", &[b'X'; 300]).await;
    // The ordinary listener treats a PROXY line as an unknown command.
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("PROXY TCP4 198.51.100.7 127.0.0.1 1 25", "500 5.5.")
        .await;
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_peers_may_not_use_a_proxy_listener() {
    let ts = start(
        "[listener.lb]\naddress = \"127.0.0.1:0\"\nproxy_protocol_from = [\"192.0.2.1/32\"]\n",
    )
    .await;
    closed_without_greeting(&ts, "lb", b"PROXY TCP4 198.51.100.7 127.0.0.1 1 25\r\n").await;
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_ip_limits_count_the_proxied_client() {
    let ts = start(&format!("{LB}[smtp]\nmax_connections_per_ip = 1\n")).await;
    let _a = via_proxy(&ts, b"PROXY TCP4 198.51.100.1 127.0.0.1 1 25\r\n").await;
    let _b = via_proxy(&ts, b"PROXY TCP4 198.51.100.2 127.0.0.1 1 25\r\n").await;
    let mut s = TcpStream::connect(ts.addr("lb")).await.unwrap();
    s.write_all(b"PROXY TCP4 198.51.100.1 127.0.0.1 2 25\r\n")
        .await
        .unwrap();
    let mut c = Raw::new(s);
    assert!(c.reply().await.starts_with("421 4.7.0"));
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_behind_the_proxy_is_banned_never_the_proxy() {
    let ts = start(&format!(
        "{LB}[security]\nnever_ban = []\nmax_unknown_recipients = 2\n"
    ))
    .await;
    // 198.51.100.9, behind the load balancer, guesses mailboxes until banned.
    let mut c = via_proxy(&ts, b"PROXY TCP4 198.51.100.9 127.0.0.1 40000 25\r\n").await;
    c.expect("EHLO harvester.test", "250").await;
    c.expect("MAIL FROM:<x@harvester.test>", "250").await;
    c.expect("RCPT TO:<nosuch1@local.test>", "550").await;
    c.expect("RCPT TO:<nosuch2@local.test>", "550").await;
    assert!(c.reply().await.starts_with("421 4.7.0"));
    // That client is refused right after the PROXY header ...
    let mut s = TcpStream::connect(ts.addr("lb")).await.unwrap();
    s.write_all(b"PROXY TCP4 198.51.100.9 127.0.0.1 40002 25\r\n")
        .await
        .unwrap();
    let line = Raw::new(s).reply().await;
    assert!(line.starts_with("421 4.7.0"), "{line}");
    // ... but other clients of the same proxy, and the proxy's own address, are not.
    via_proxy(&ts, b"PROXY TCP4 198.51.100.10 127.0.0.1 40003 25\r\n").await;
    connect(ts.addr("inbound")).await;
    let bans = ts.store.list_bans(0).await.unwrap();
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0].key, "198.51.100.9");
    ts.shutdown().await;
}

/// Issue 15, Low (an earlier note): a PROXY header naming no client (v1 UNKNOWN, v2
/// LOCAL) fell back to the proxy's own address, which may be trusted (relay for
/// anyone behind it) and whose ban would lock out every client of the proxy. Such a
/// client is now the unspecified address: never trusted, never banned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_header_without_a_client_is_never_the_proxy() {
    let ts = start(&format!(
        "{LB}[policy]\ntrusted_networks = [\"127.0.0.0/8\"]\n\
         [security]\nnever_ban = []\nmax_unknown_recipients = 2\nmax_relay_attempts = 2\n"
    ))
    .await;
    // v2: signature, version 2 / LOCAL, family unspecified, no addresses.
    let mut v2_local = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    v2_local.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
    for header in [b"PROXY UNKNOWN\r\n".to_vec(), v2_local] {
        let mut c = via_proxy(&ts, &header).await;
        c.expect("EHLO somewhere.test", "250").await;
        c.expect("MAIL FROM:<x@outside.test>", "250").await;
        // Not trusted as the proxy is: no relay.
        c.expect("RCPT TO:<someone@elsewhere.test>", "554 5.7.1")
            .await;
        // Strikes past every limit ban nobody.
        for i in 0..4 {
            c.expect(&format!("RCPT TO:<nosuch{i}@local.test>"), "550")
                .await;
        }
        c.expect("RCPT TO:<elsewhere@other.test>", "554 5.7.1")
            .await;
        c.expect("QUIT", "221").await;
    }
    assert!(ts.store.list_bans(0).await.unwrap().is_empty());
    // The proxy itself and its named clients are still served.
    via_proxy(&ts, b"PROXY TCP4 198.51.100.10 127.0.0.1 40003 25\r\n").await;
    connect(ts.addr("inbound")).await;
    ts.shutdown().await;
}
