//! Issue 15: what an outside attacker found, each a regression named after the attack,
//! over real sockets against the real server.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

fn inbound(ts: &TestServer) -> AsyncSmtpTransport<Tokio1Executor> {
    let addr = ts.addr("inbound");
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .timeout(Some(Duration::from_secs(60)))
        .build()
}

fn header(message: &[u8]) -> String {
    let s = String::from_utf8_lossy(message);
    s[..s.find("\r\n\r\n").unwrap_or(s.len())].replace("\r\n ", " ")
}

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
