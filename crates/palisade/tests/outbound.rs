//! Outbound delivery between two real servers on loopback: MX lookup through a DNS
//! authority, SMTP with STARTTLS, permanent failures answered with a DSN (RFC 3464).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use palisade_store::prelude::*;
use palisade_testkit::DnsAuthority;
use palisade_types::Domain;
use std::net::Ipv4Addr;

const PW: &str = "violet ferry granite spoon";

/// The receiving server (domain receiver.test, user bob) and the sending one, which
/// relays for loopback and delivers to the receiver's port.
async fn pair(extra_sender: &str) -> (TestServer, TestServer) {
    pair_with("", "", extra_sender).await
}

/// `delivery_lines` go into the sender's `[delivery]` table, `extra_sender` after it.
async fn pair_with(
    extra_receiver: &str,
    delivery_lines: &str,
    extra_sender: &str,
) -> (TestServer, TestServer) {
    pair_with_receiver(extra_receiver, |_| delivery_lines.to_string(), extra_sender).await
}

/// [`pair_with`], the sender's `[delivery]` lines made once the receiver runs.
async fn pair_with_receiver(
    extra_receiver: &str,
    delivery_lines: impl FnOnce(&TestServer) -> String,
    extra_sender: &str,
) -> (TestServer, TestServer) {
    let dns = DnsAuthority::start().await;
    dns.mx("receiver.test", 10, "mx.receiver.test")
        .a("mx.receiver.test", Ipv4Addr::LOCALHOST)
        .mx("nullmx.test", 0, ".")
        // Both servers have local.test: the receiver takes it from outside only from a
        // host its SPF authorises (issue 15, Medium 9).
        .txt("local.test", "v=spf1 ip4:127.0.0.1 -all");
    let receiver = start_with_dns(extra_receiver, dns).await;
    receiver.add_mailbox("bob@receiver.test").await;
    let port = receiver.addr("inbound").port();
    let dns2 = DnsAuthority::start().await;
    dns2.mx("receiver.test", 10, "mx.receiver.test")
        .a("mx.receiver.test", Ipv4Addr::LOCALHOST)
        .mx("nullmx.test", 0, ".")
        // The best MX of backup.test is down (nothing listens on 127.0.0.2).
        .mx("backup.test", 10, "down.backup.test")
        .a("down.backup.test", Ipv4Addr::new(127, 0, 0, 2))
        .mx("backup.test", 20, "mx.receiver.test")
        // No MX at all: the domain's own address is the mail host (implicit MX).
        .a("implicit.test", Ipv4Addr::LOCALHOST);
    receiver.add_mailbox("dave@implicit.test").await;
    receiver.add_mailbox("carol@backup.test").await;
    let delivery_lines = delivery_lines(&receiver);
    let sender = start_with_dns(
        &format!(
            "[policy]\ntrusted_networks = [\"127.0.0.0/8\"]\n\
             [delivery]\nremote_port = {port}\nconnect_timeout_secs = 5\ncommand_timeout_secs = 10\n{delivery_lines}\
             [queue]\nretry_initial_secs = 1\n{extra_sender}"
        ),
        dns2,
    )
    .await;
    (sender, receiver)
}

async fn submit(ts: &TestServer, from: &str, to: &str, body: &str) {
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.test", "250").await;
    c.expect(&format!("MAIL FROM:<{from}>"), "250").await;
    c.expect(&format!("RCPT TO:<{to}>"), "250").await;
    c.expect("DATA", "354").await;
    c.send(format!("{body}.\r\n").as_bytes()).await;
    let r = c.reply().await;
    assert!(r.starts_with("250 "), "{r}");
    c.cmd("QUIT").await;
}

/// Mail of `user` (user@domain) on the receiving server.
async fn wait_for_remote_mail(ts: &TestServer, user: &str) -> String {
    let (local, domain) = user.split_once('@').unwrap_or((user, "receiver.test"));
    let dir = ts
        .dir
        .path()
        .join("mail")
        .join(domain)
        .join(local)
        .join("new");
    for _ in 0..400 {
        if let Ok(mut rd) = std::fs::read_dir(&dir)
            && let Some(Ok(e)) = rd.next()
        {
            return String::from_utf8(std::fs::read(e.path()).unwrap()).unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no mail for {user}@receiver.test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc5321_5_relayed_to_the_mx_over_starttls() {
    let (sender, receiver) = pair("").await;
    submit(
        &sender,
        "someone@outside.test",
        "bob@receiver.test",
        "From: someone@outside.test\r\nTo: bob@receiver.test\r\nSubject: relayed\r\n\r\nhello bob\r\n",
    )
    .await;
    let got = wait_for_remote_mail(&receiver, "bob").await;
    assert!(got.contains("Subject: relayed"), "{got}");
    assert!(got.contains("hello bob"));
    // Two Received headers: the sender's (from the client) and the receiver's, with TLS.
    assert_eq!(got.matches("Received: ").count(), 2, "{got}");
    let first = got.find("Received: ").unwrap();
    let receiver_trace = &got[first
        ..got[first..]
            .find("\r\n\r\n")
            .map_or(got.len(), |e| first + e)];
    assert!(
        receiver_trace.contains("using TLSv1"),
        "hop encrypted: {receiver_trace}"
    );
    assert!(got.contains("Return-Path: <someone@outside.test>"));
    sender.shutdown().await;
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc3464_permanent_failure_returns_a_dsn() {
    let (sender, receiver) = pair("").await;
    submit(
        &sender,
        "alice@local.test",
        "nobody@receiver.test",
        "From: alice@local.test\r\nSubject: to nobody\r\n\r\nhi\r\n",
    )
    .await;
    let dsn = String::from_utf8(sender.wait_for_mail("alice", 1).await.remove(0)).unwrap();
    for want in [
        "Return-Path: <>",
        "multipart/report",
        "report-type=\"delivery-status\"",
        "Final-Recipient: rfc822; nobody@receiver.test",
        "Action: failed",
        "Status: 5.1.1",
        "Subject: to nobody",
    ] {
        assert!(dsn.contains(want), "{want} missing in DSN:\n{dsn}");
    }
    sender.shutdown().await;
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc7505_null_mx_fails_at_once_and_null_sender_gets_no_dsn() {
    let (sender, receiver) = pair("").await;
    submit(
        &sender,
        "alice@local.test",
        "x@nullmx.test",
        "From: alice@local.test\r\nSubject: nowhere\r\n\r\nhi\r\n",
    )
    .await;
    let dsn = String::from_utf8(sender.wait_for_mail("alice", 1).await.remove(0)).unwrap();
    assert!(dsn.contains("Status: 5.1.10"), "{dsn}");
    assert!(dsn.contains("null MX"), "{dsn}");
    // A bounce of a bounce must not happen: <> to a null MX gets no DSN at all.
    submit(&sender, "", "y@nullmx.test", "Subject: bounce\r\n\r\nx\r\n").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sender.mail("alice").len(), 1);
    sender.shutdown().await;
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_is_refused_to_untrusted_clients() {
    let dns = DnsAuthority::start().await;
    let ts = start_with_dns("", dns).await;
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<a@outside.test>", "250").await;
    c.expect("RCPT TO:<bob@receiver.test>", "554 5.7.1").await;
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc5321_5_1_unreachable_mx_falls_back_and_implicit_mx() {
    let (sender, receiver) = pair("").await;
    submit(
        &sender,
        "someone@outside.test",
        "carol@backup.test",
        "From: someone@outside.test\r\nSubject: via backup\r\n\r\nhi\r\n",
    )
    .await;
    let got = wait_for_remote_mail(&receiver, "carol@backup.test").await;
    assert!(got.contains("Subject: via backup"), "{got}");
    submit(
        &sender,
        "someone@outside.test",
        "dave@implicit.test",
        "From: someone@outside.test\r\nSubject: implicit\r\n\r\nhi\r\n",
    )
    .await;
    let got = wait_for_remote_mail(&receiver, "dave@implicit.test").await;
    assert!(got.contains("Subject: implicit"), "{got}");
    sender.shutdown().await;
    receiver.shutdown().await;
}

fn b64(s: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8463_dual_signed_submission_verifies_at_the_receiver_and_in_dkimpy() {
    use palisade_checks::signing::{self, KeyAlgorithm};
    let (sender, receiver) = pair("").await;
    for (alg, selector) in [(KeyAlgorithm::Ed25519, "ed1"), (KeyAlgorithm::Rsa, "rsa1")] {
        let k = signing::generate(alg).unwrap();
        receiver.dns.txt(
            &format!("{selector}._domainkey.local.test"),
            &signing::dns_record(alg, &k.public),
        );
        sender
            .store
            .add_dkim_key(&palisade_store::DkimKey {
                domain: Domain::parse("local.test").unwrap(),
                selector: selector.into(),
                algorithm: alg.name().into(),
                private_key: k.private_pkcs8,
                public_key: k.public,
                state: "active".into(),
                created: 0,
            })
            .await
            .unwrap();
    }
    sender
        .set_password("alice@local.test", "correct horse battery staple")
        .await;
    let mut c = connect(sender.addr("submission")).await;
    c.expect("EHLO client.test", "250").await;
    let mut c = starttls(c, &sender).await;
    c.expect("EHLO client.test", "250").await;
    c.expect(
        &format!(
            "AUTH PLAIN {}",
            b64(b"\0alice@local.test\0correct horse battery staple")
        ),
        "235",
    )
    .await;
    c.expect("MAIL FROM:<alice@local.test>", "250").await;
    c.expect("RCPT TO:<bob@receiver.test>", "250").await;
    c.expect("DATA", "354").await;
    c.send(b"From: Alice <alice@local.test>\r\nTo: bob@receiver.test\r\nSubject: signed\r\n\r\nHello Bob.\r\n  \r\n.\r\n").await;
    assert!(c.reply().await.starts_with("250 "));
    let got = wait_for_remote_mail(&receiver, "bob").await;
    let ar = got
        .split("\r\n")
        .skip_while(|l| !l.starts_with("Authentication-Results: "))
        .take_while(|l| l.starts_with("Authentication-Results: ") || l.starts_with('\t'))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        ar.matches("dkim=pass").count(),
        2,
        "both signatures verify: {ar}"
    );
    assert!(
        ar.contains("header.s=ed1") && ar.contains("header.s=rsa1"),
        "{ar}"
    );
    assert!(
        common::dkim::dkimpy_verifies(got.as_bytes(), receiver.dns.addr()),
        "an independent verifier (dkimpy) agrees:\n{got}"
    );
    sender.shutdown().await;
    receiver.shutdown().await;
}

/// Waits (bounded) until the sender's queue records a deferral; returns its error.
async fn deferral(ts: &TestServer) -> String {
    for _ in 0..200 {
        let st = ts.store.list_queue_status().await.unwrap();
        if let Some(e) = st.iter().find_map(|s| s.last_error.clone()) {
            return e;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no deferral recorded");
}

fn spki_sha256(cert_pem: &[u8]) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::pem_slice_iter(cert_pem)
        .next()
        .unwrap()
        .unwrap();
    let (_, c) = x509_parser::parse_x509_certificate(der.as_ref()).unwrap();
    aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        c.tbs_certificate.subject_pki.raw,
    )
    .as_ref()
    .to_vec()
}

fn tlsa(data: Vec<u8>) -> hickory_proto::rr::RData {
    use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector, TLSA};
    hickory_proto::rr::RData::TLSA(TLSA::new(
        CertUsage::DaneEe,
        Selector::Spki,
        Matching::Sha256,
        data,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc7672_dane_match_delivers_and_mismatch_defers() {
    let (sender, receiver) = pair("").await;
    let port = receiver.addr("inbound").port();
    // The resolver marks answers validated (AD) and the sender trusts it.
    sender.dns.set_authentic(true);
    sender.dns.record(
        &format!("_{port}._tcp.mx.receiver.test"),
        tlsa(spki_sha256(&receiver.cert_pem())),
    );
    submit(
        &sender,
        "a@outside.test",
        "bob@receiver.test",
        "Subject: dane ok\r\n\r\nx\r\n",
    )
    .await;
    let got = wait_for_remote_mail(&receiver, "bob").await;
    assert!(got.contains("Subject: dane ok"));
    sender.shutdown().await;
    receiver.shutdown().await;

    let (sender, receiver) = pair("").await;
    let port = receiver.addr("inbound").port();
    sender.dns.set_authentic(true);
    sender
        .dns
        .record(&format!("_{port}._tcp.mx.receiver.test"), tlsa(vec![7; 32]));
    submit(
        &sender,
        "a@outside.test",
        "bob@receiver.test",
        "Subject: dane bad\r\n\r\nx\r\n",
    )
    .await;
    let why = deferral(&sender).await;
    assert!(why.contains("DANE"), "{why}");
    assert_eq!(remote_count(&receiver, "bob@receiver.test"), 0);
    sender.shutdown().await;
    receiver.shutdown().await;
}

/// A man in the middle on 127.0.0.3:`port` that forwards to 127.0.0.1:`port` and hides
/// STARTTLS from the server's EHLO reply (the downgrade attack).
async fn stripping_proxy(port: u16) -> tokio::task::JoinHandle<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(("127.0.0.3", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut cr, &mut sw).await;
                });
                let mut buf = vec![0u8; 8192];
                while let Ok(n) = sr.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let text = String::from_utf8_lossy(&buf[..n]).replace("STARTTLS", "XXXXXXXX");
                    if cw.write_all(text.as_bytes()).await.is_err() {
                        break;
                    }
                }
                up.abort();
            });
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_stripping_defers_when_tls_is_required() {
    let (sender, receiver) = pair("[delivery.tls_policy]\n\"strip.test\" = \"encrypt\"\n").await;
    let port = receiver.addr("inbound").port();
    let proxy = stripping_proxy(port).await;
    sender
        .dns
        .mx("strip.test", 10, "mx.strip.test")
        .a("mx.strip.test", Ipv4Addr::new(127, 0, 0, 3))
        .mx("weak.test", 10, "mx.strip.test");
    for d in ["strip.test", "weak.test"] {
        receiver.add_mailbox(&format!("eve@{d}")).await;
    }
    // Opportunistic TLS (no policy): the attack works, the message goes in clear.
    submit(
        &sender,
        "a@outside.test",
        "eve@weak.test",
        "Subject: weak\r\n\r\nx\r\n",
    )
    .await;
    let got = wait_for_remote_mail(&receiver, "eve@weak.test").await;
    assert!(!got.contains("using TLS"), "stripped: {got}");
    // With `encrypt`, Palisade refuses to fall back to plaintext and defers.
    submit(
        &sender,
        "a@outside.test",
        "eve@strip.test",
        "Subject: secret\r\n\r\nx\r\n",
    )
    .await;
    let why = deferral(&sender).await;
    assert!(why.contains("STARTTLS not offered"), "{why}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        remote_count(&receiver, "eve@strip.test"),
        0,
        "never sent in clear"
    );
    proxy.abort();
    sender.shutdown().await;
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_policy_defers_on_a_self_signed_certificate() {
    let (sender, receiver) = pair("[delivery.tls_policy]\n\"receiver.test\" = \"verify\"\n").await;
    submit(
        &sender,
        "a@outside.test",
        "bob@receiver.test",
        "Subject: v\r\n\r\nx\r\n",
    )
    .await;
    let why = deferral(&sender).await;
    assert!(why.contains("certificate not valid"), "{why}");
    assert_eq!(remote_count(&receiver, "bob@receiver.test"), 0);
    sender.shutdown().await;
    receiver.shutdown().await;
}

/// Messages in user@domain's Maildir on `ts`.
fn remote_count(ts: &TestServer, user: &str) -> usize {
    ts.mail(user).len()
}

async fn submit_requiretls(ts: &TestServer, from: &str, to: &str) {
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.test", "250").await;
    let mut c = starttls(c, ts).await;
    let ehlo = c.cmd("EHLO client.test").await;
    assert!(ehlo.contains("REQUIRETLS"), "{ehlo}");
    c.expect(&format!("MAIL FROM:<{from}> REQUIRETLS"), "250")
        .await;
    c.expect(&format!("RCPT TO:<{to}>"), "250").await;
    c.expect("DATA", "354").await;
    c.send(b"Subject: requiretls\r\n\r\nsecret\r\n.\r\n").await;
    assert!(c.reply().await.starts_with("250 "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8689_requiretls_bounces_without_a_validated_hop_and_passes_with_dane() {
    // The receiver's certificate is self-signed and there is no DANE: no hop qualifies.
    let (sender, receiver) = pair("").await;
    submit_requiretls(&sender, "alice@local.test", "bob@receiver.test").await;
    let dsn = String::from_utf8(sender.wait_for_mail("alice", 1).await.remove(0)).unwrap();
    assert!(dsn.contains("Status: 5.7.30"), "{dsn}");
    assert_eq!(remote_count(&receiver, "bob@receiver.test"), 0);
    sender.shutdown().await;
    receiver.shutdown().await;

    // With a validated TLSA record the hop is authenticated: delivered, and the flag is
    // passed on (the receiver accepted MAIL ... REQUIRETLS).
    let (sender, receiver) = pair("").await;
    let port = receiver.addr("inbound").port();
    sender.dns.set_authentic(true);
    sender.dns.record(
        &format!("_{port}._tcp.mx.receiver.test"),
        tlsa(spki_sha256(&receiver.cert_pem())),
    );
    submit_requiretls(&sender, "alice@local.test", "bob@receiver.test").await;
    let got = wait_for_remote_mail(&receiver, "bob").await;
    assert!(got.contains("Subject: requiretls"), "{got}");
    sender.shutdown().await;
    receiver.shutdown().await;
}

/// An HTTPS server on 127.0.0.4:`port` serving `policies` (by Host) at the MTA-STS path.
async fn sts_server(
    cert: &std::path::Path,
    key: &std::path::Path,
    policies: std::collections::HashMap<String, String>,
) -> (u16, tokio::task::JoinHandle<()>) {
    use rustls_pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_file(key).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.4:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let policies = policies.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 16 * 1024 {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&req).to_ascii_lowercase();
                let host = text
                    .lines()
                    .find_map(|l| l.strip_prefix("host: "))
                    .map(|h| h.split(':').next().unwrap_or_default().trim().to_string())
                    .unwrap_or_default();
                let body = policies.get(&host).cloned().unwrap_or_default();
                let status = if body.is_empty() {
                    "404 Not Found"
                } else {
                    "200 OK"
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8461_mta_sts_enforce_good_certificate_wrong_name_and_unlisted_mx() {
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new(certs.path());
    let (mx_cert, mx_key) = ca.issue("mx", &["mx.sts.test"]);
    let (web_cert, web_key) = ca.issue(
        "web",
        &[
            "mta-sts.sts.test",
            "mta-sts.bad.test",
            "mta-sts.odd.test",
            "mta-sts.lax.test",
        ],
    );
    let policy =
        |mx: &str| format!("version: STSv1\r\nmode: enforce\r\nmx: {mx}\r\nmax_age: 86400\r\n");
    let policies = std::collections::HashMap::from([
        ("mta-sts.sts.test".to_string(), policy("mx.sts.test")),
        ("mta-sts.bad.test".to_string(), policy("mx.bad.test")),
        ("mta-sts.odd.test".to_string(), policy("listed.odd.test")),
        (
            "mta-sts.lax.test".to_string(),
            policy("mx.lax.test").replace("enforce", "testing"),
        ),
    ]);
    let (https_port, https) = sts_server(&web_cert, &web_key, policies).await;
    let (sender, receiver) = pair_with(
        &format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            mx_cert.display(),
            mx_key.display()
        ),
        &format!(
            "extra_ca_file = \"{}\"\nmta_sts_port = {https_port}\n",
            ca.ca_file().display()
        ),
        "",
    )
    .await;
    let lo = Ipv4Addr::LOCALHOST;
    for d in ["sts.test", "bad.test", "odd.test", "lax.test"] {
        sender
            .dns
            .txt(&format!("_mta-sts.{d}"), "v=STSv1; id=20261201")
            .a(&format!("mta-sts.{d}"), Ipv4Addr::new(127, 0, 0, 4));
        receiver.add_mailbox(&format!("bob@{d}")).await;
    }
    sender
        .dns
        .mx("sts.test", 10, "mx.sts.test")
        .a("mx.sts.test", lo)
        // bad.test's MX is listed in its policy, but the certificate there names mx.sts.test.
        .mx("bad.test", 10, "mx.bad.test")
        .a("mx.bad.test", lo)
        // odd.test's MX is not in its policy at all.
        .mx("odd.test", 10, "mx.odd.test")
        .a("mx.odd.test", lo);
    submit(
        &sender,
        "a@outside.test",
        "bob@sts.test",
        "Subject: sts ok\r\n\r\nx\r\n",
    )
    .await;
    let got = wait_for_remote_mail(&receiver, "bob@sts.test").await;
    assert!(got.contains("Subject: sts ok"), "{got}");
    assert!(got.contains("using TLSv1"), "{got}");

    submit(
        &sender,
        "a@outside.test",
        "bob@bad.test",
        "Subject: wrong name\r\n\r\nx\r\n",
    )
    .await;
    submit(
        &sender,
        "a@outside.test",
        "bob@odd.test",
        "Subject: unlisted\r\n\r\nx\r\n",
    )
    .await;
    let mut errors = Vec::new();
    for _ in 0..200 {
        errors = sender
            .store
            .list_queue_status()
            .await
            .unwrap()
            .into_iter()
            .filter_map(|s| s.last_error)
            .collect::<Vec<_>>();
        if errors.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        errors
            .iter()
            .any(|e| e.contains("bob@bad.test") && e.contains("certificate not valid")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("bob@odd.test") && e.contains("MTA-STS")),
        "{errors:?}"
    );
    assert_eq!(
        remote_count(&receiver, "bob@bad.test") + remote_count(&receiver, "bob@odd.test"),
        0
    );
    // lax.test publishes the same wrong-name certificate under a testing policy: the
    // message goes (RFC 8461 §5), and TLS-RPT hears what enforce would have refused.
    sender
        .dns
        .mx("lax.test", 10, "mx.lax.test")
        .a("mx.lax.test", lo);
    submit(
        &sender,
        "a@outside.test",
        "bob@lax.test",
        "Subject: testing mode\r\n\r\nx\r\n",
    )
    .await;
    wait_for_remote_mail(&receiver, "bob@lax.test").await;
    let mut rows = Vec::new();
    for _ in 0..200 {
        rows.extend(sender.store.take_tls_results(i64::MAX).await.unwrap());
        if rows.iter().any(|r| r.domain == "lax.test") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        rows.iter().any(|r| r.domain == "lax.test"
            && r.policy_type == "sts"
            && r.result == "certificate-host-mismatch"),
        "{rows:?}"
    );
    // Fetched policies are kept in the store, so a restart does not forget them.
    let kept = sender
        .store
        .mta_sts_policy("sts.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.id, "20261201");
    assert!(kept.policy.contains("mx: mx.sts.test"), "{}", kept.policy);
    https.abort();
    sender.shutdown().await;
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8460_tls_reports_count_successes_and_failures() {
    let (sender, receiver) = pair("").await;
    let port = receiver.addr("inbound").port();
    sender.dns.set_authentic(true);
    // receiver.test: DANE matches (success); backup.test's first MX fails DANE.
    sender.dns.record(
        &format!("_{port}._tcp.mx.receiver.test"),
        tlsa(spki_sha256(&receiver.cert_pem())),
    );
    sender.dns.txt(
        "_smtp._tls.receiver.test",
        "v=TLSRPTv1; rua=mailto:tlsrpt@receiver.test",
    );
    submit(
        &sender,
        "a@outside.test",
        "bob@receiver.test",
        "Subject: ok\r\n\r\nx\r\n",
    )
    .await;
    wait_for_remote_mail(&receiver, "bob").await;
    // tlsfail.test: its MX presents a certificate its TLSA record does not match.
    sender
        .dns
        .mx("tlsfail.test", 10, "mx.tlsfail.test")
        .a("mx.tlsfail.test", Ipv4Addr::LOCALHOST)
        .record(&format!("_{port}._tcp.mx.tlsfail.test"), tlsa(vec![9; 32]))
        .txt(
            "_smtp._tls.tlsfail.test",
            "v=TLSRPTv1; rua=mailto:tlsrpt@tlsfail.test",
        );
    submit(
        &sender,
        "a@outside.test",
        "x@tlsfail.test",
        "Subject: bad\r\n\r\nx\r\n",
    )
    .await;
    deferral(&sender).await;
    // Both report addresses are mailboxes on the receiver, so the queued reports are
    // delivered for real; tlsfail.test's despite its failing TLSA record (RFC 8460 §5.3).
    receiver.add_mailbox("tlsrpt@receiver.test").await;
    receiver.add_mailbox("tlsrpt@tlsfail.test").await;
    // Results are written in batches after the attempt: wait until the CLI finds both.
    let mut out = String::new();
    for _ in 0..100 {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
            .arg("--data")
            .arg(sender.dir.path())
            .args([
                "--dns",
                &sender.dns.addr().to_string(),
                "reports",
                "tls",
                "send",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        out.push_str(&String::from_utf8_lossy(&o.stdout));
        if out.contains("receiver.test: reported") && out.contains("tlsfail.test: reported") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        out.contains("tlsfail.test: reported to mailto:tlsrpt@tlsfail.test"),
        "{out}"
    );
    let files = [
        wait_for_remote_mail(&receiver, "tlsrpt@receiver.test").await,
        wait_for_remote_mail(&receiver, "tlsrpt@tlsfail.test").await,
    ];
    assert!(
        files.iter().all(|f| f.contains("TLS-Required: No")),
        "reports ask to be delivered whatever the TLS policy"
    );
    // The JSON is gzip'd inside; decode the attachment and check the counts.
    let jsons: Vec<String> = files.iter().map(|f| gunzip_attachment(f)).collect();
    let ok = jsons
        .iter()
        .find(|j| j.contains("\"receiver.test\""))
        .unwrap();
    assert!(
        ok.contains("\"policy-type\":\"tlsa\"")
            && ok.contains("\"total-successful-session-count\":1"),
        "{ok}"
    );
    let bad = jsons
        .iter()
        .find(|j| j.contains("\"tlsfail.test\""))
        .unwrap();
    assert!(bad.contains("\"result-type\":\"tlsa-invalid\""), "{bad}");
    sender.shutdown().await;
    receiver.shutdown().await;
}

/// The gzip'd report attached to a TLS-RPT message, as text.
fn gunzip_attachment(message: &str) -> String {
    use std::io::Read;
    let parsed = mail_parser::MessageParser::new()
        .parse(message.as_bytes())
        .unwrap();
    let part = parsed.attachments().next().expect("a report attachment");
    let bytes = part.contents().to_vec();
    let mut out = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut out)
        .unwrap();
    out
}

/// A relay on 127.0.0.4:`port` to 127.0.0.1:`port` that counts the connections it
/// forwards. While `up` is false it plays a server that is down for maintenance: a
/// `421` greeting, then close.
struct FlakyRelay {
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    forwarded: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

async fn flaky_relay(port: u16) -> FlakyRelay {
    use std::sync::atomic::Ordering;
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind(("127.0.0.4", port))
        .await
        .unwrap();
    let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let forwarded = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (up2, fwd2) = (up.clone(), forwarded.clone());
    let task = tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            if !up2.load(Ordering::SeqCst) {
                let _ = client
                    .write_all(b"421 4.3.2 down for maintenance\r\n")
                    .await;
                continue;
            }
            fwd2.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    FlakyRelay {
        up,
        forwarded,
        task,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc5321_4_5_4_retry_reaches_a_host_that_comes_back_and_sessions_are_reused() {
    use std::sync::atomic::Ordering;
    let (sender, receiver) = pair_with("", "connection_idle_secs = 60\n", "").await;
    let relay = flaky_relay(receiver.addr("inbound").port()).await;
    sender
        .dns
        .mx("later.test", 10, "mx.later.test")
        .a("mx.later.test", Ipv4Addr::new(127, 0, 0, 4));
    receiver.add_mailbox("bob@later.test").await;
    submit(
        &sender,
        "a@outside.test",
        "bob@later.test",
        "Subject: first\r\n\r\nx\r\n",
    )
    .await;
    // The host is down: a transient failure, recorded, the message kept.
    let why = deferral(&sender).await;
    assert!(why.contains("421 4.3.2"), "{why}");
    assert_eq!(remote_count(&receiver, "bob@later.test"), 0);
    // It comes back: the next retry (backoff starts at 1 s here) delivers.
    relay.up.store(true, Ordering::SeqCst);
    wait_for_remote_mail(&receiver, "bob@later.test").await;
    // Two more messages, one after the other, ride the same session (connection reuse).
    for (n, subject) in [(2, "second"), (3, "third")] {
        submit(
            &sender,
            "a@outside.test",
            "bob@later.test",
            &format!("Subject: {subject}\r\n\r\nx\r\n"),
        )
        .await;
        receiver.wait_for_mail("bob@later.test", n).await;
    }
    assert_eq!(
        relay.forwarded.load(Ordering::SeqCst),
        1,
        "three messages, one connection"
    );
    // The queue is empty: every message was delivered exactly once.
    assert!(sender.store.list_queue_status().await.unwrap().is_empty());
    assert_eq!(receiver.mail("bob@later.test").len(), 3);
    relay.task.abort();
    sender.shutdown().await;
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8461_3_our_policy_is_served_over_https_and_a_sender_enforces_it() {
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new(certs.path());
    let (cert, key) = ca.issue("mx", &["mx.receiver.test", "mta-sts.receiver.test"]);
    let (sender, receiver) = pair_with_receiver(
        &format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n[web]\naddress = \"127.0.0.1:0\"\n\
             [mta_sts]\nmx = [\"mx.receiver.test\"]\n",
            cert.display(),
            key.display()
        ),
        |r| {
            format!(
                "extra_ca_file = \"{}\"\nmta_sts_port = {}\n",
                ca.ca_file().display(),
                r.addr("web").port()
            )
        },
        "",
    )
    .await;
    let web = receiver.addr("web");
    // Fetched as any sender would: HTTPS, the certificate checked for mta-sts.<domain>.
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(ca.ca_file()).unwrap()).unwrap(),
        )
        .resolve("mta-sts.receiver.test", web)
        .build()
        .unwrap();
    let url = format!(
        "https://mta-sts.receiver.test:{}/.well-known/mta-sts.txt",
        web.port()
    );
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain");
    let policy = r.text().await.unwrap();
    // An operator certificate is configured, so `auto` means enforce.
    assert_eq!(
        policy,
        "version: STSv1\r\nmode: enforce\r\nmx: mx.receiver.test\r\nmax_age: 604800\r\n"
    );
    // Only local domains have a policy.
    let r = client
        .get(&url)
        .header("Host", "mta-sts.elsewhere.test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // A sending Palisade finds the policy through DNS, fetches it from the receiver and
    // delivers under it (a valid certificate for an MX the policy lists).
    sender
        .dns
        .txt("_mta-sts.receiver.test", "v=STSv1; id=1")
        .a("mta-sts.receiver.test", Ipv4Addr::LOCALHOST);
    submit(
        &sender,
        "a@outside.test",
        "bob@receiver.test",
        "Subject: under our own policy\r\n\r\nx\r\n",
    )
    .await;
    let got = wait_for_remote_mail(&receiver, "bob").await;
    assert!(got.contains("under our own policy"), "{got}");
    // The session was counted under the MTA-STS policy (TLS-RPT policy type `sts`).
    let mut rows = Vec::new();
    for _ in 0..200 {
        rows.extend(sender.store.take_tls_results(i64::MAX).await.unwrap());
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        rows.iter().any(|r| r.domain == "receiver.test"
            && r.policy_type == "sts"
            && r.result == "success"),
        "{rows:?}"
    );
    sender.shutdown().await;
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc7672_3_1_2_dane_ta_anchor_in_the_presented_chain() {
    use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector, TLSA};
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new(certs.path());
    let (leaf, key) = ca.issue("mx", &["mx.receiver.test"]);
    // The server presents its certificate and the CA's (RFC 7672 §3.1.2 asks for it).
    let chain = certs.path().join("chain.pem");
    let ca_pem = std::fs::read(ca.ca_file()).unwrap();
    let mut both = std::fs::read(&leaf).unwrap();
    both.extend_from_slice(&ca_pem);
    std::fs::write(&chain, both).unwrap();
    let (sender, receiver) = pair_with(
        &format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            chain.display(),
            key.display()
        ),
        "",
        "",
    )
    .await;
    let port = receiver.addr("inbound").port();
    sender.dns.set_authentic(true);
    sender.dns.record(
        &format!("_{port}._tcp.mx.receiver.test"),
        hickory_proto::rr::RData::TLSA(TLSA::new(
            CertUsage::DaneTa,
            Selector::Spki,
            Matching::Sha256,
            spki_sha256(&ca_pem),
        )),
    );
    submit(
        &sender,
        "a@outside.test",
        "bob@receiver.test",
        "Subject: dane-ta\r\n\r\nx\r\n",
    )
    .await;
    let got = wait_for_remote_mail(&receiver, "bob").await;
    assert!(got.contains("Subject: dane-ta"), "{got}");
    sender.shutdown().await;
    receiver.shutdown().await;
}

/// A minimal SMTP server on 127.0.0.5:`port` without 8BITMIME (and without STARTTLS)
/// that accepts everything and records, per read, what the client sent.
async fn plain_sink(
    port: u16,
) -> (
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    tokio::task::JoinHandle<()>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(("127.0.0.5", port))
        .await
        .unwrap();
    let reads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = reads.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let _ = s.write_all(b"220 sink.test ESMTP\r\n").await;
                let mut in_data = false;
                let mut pending = Vec::new();
                let mut buf = vec![0u8; 65536];
                loop {
                    let n = match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    log.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                    pending.extend_from_slice(&buf[..n]);
                    let mut out = String::new();
                    loop {
                        if in_data {
                            // An empty message is a lone ".\r\n" right after the 354.
                            let end = if pending.starts_with(b".\r\n") {
                                Some(3)
                            } else {
                                pending
                                    .windows(5)
                                    .position(|w| w == b"\r\n.\r\n")
                                    .map(|p| p + 5)
                            };
                            let Some(end) = end else {
                                break;
                            };
                            pending.drain(..end);
                            in_data = false;
                            out.push_str("250 2.0.0 queued\r\n");
                            continue;
                        }
                        let Some(end) = pending.windows(2).position(|w| w == b"\r\n") else {
                            break;
                        };
                        let line: Vec<u8> = pending.drain(..end + 2).collect();
                        let verb = String::from_utf8_lossy(&line).to_ascii_uppercase();
                        out.push_str(if verb.starts_with("EHLO") {
                            "250-sink.test\r\n250-PIPELINING\r\n250 SIZE 10000000\r\n"
                        } else if verb.starts_with("DATA") {
                            in_data = true;
                            "354 go ahead\r\n"
                        } else if verb.starts_with("QUIT") {
                            "221 bye\r\n"
                        } else {
                            "250 ok\r\n"
                        });
                    }
                    if !out.is_empty() && s.write_all(out.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (reads, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc2920_pipelined_envelope_and_rfc6152_8bit_only_to_8bitmime_servers() {
    let (sender, receiver) = pair("").await;
    let (reads, sink) = plain_sink(receiver.addr("inbound").port()).await;
    sender
        .dns
        .mx("sink.test", 10, "mx.sink.test")
        .a("mx.sink.test", Ipv4Addr::new(127, 0, 0, 5));
    submit(
        &sender,
        "alice@local.test",
        "bob@sink.test",
        "From: alice@local.test\r\nSubject: ascii\r\n\r\nplain text\r\n",
    )
    .await;
    // Delivered: MAIL, RCPT and DATA went in one write (RFC 2920), the body after 354.
    let mut seen = Vec::new();
    for _ in 0..200 {
        seen = reads.lock().unwrap().clone();
        if seen.iter().any(|r| r.contains("plain text")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        seen.iter()
            .any(|r| r.starts_with("MAIL FROM:<alice@local.test>")
                && r.contains("\r\nRCPT TO:<bob@sink.test>\r\nDATA\r\n")),
        "{seen:?}"
    );
    // An 8-bit body to a server without 8BITMIME: refused for good, with a DSN (we do
    // not down-convert), and no byte of it sent.
    let mut c = connect(sender.addr("inbound")).await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<alice@local.test> BODY=8BITMIME", "250")
        .await;
    c.expect("RCPT TO:<bob@sink.test>", "250").await;
    c.expect("DATA", "354").await;
    c.send(
        "From: alice@local.test\r\nSubject: 8bit\r\n\r\ncaf\u{e9} cr\u{e8}me\r\n.\r\n".as_bytes(),
    )
    .await;
    assert!(c.reply().await.starts_with("250 "));
    let dsn =
        String::from_utf8_lossy(&sender.wait_for_mail("alice", 1).await.remove(0)).into_owned();
    assert!(dsn.contains("Status: 5.6.3"), "{dsn}");
    assert!(dsn.contains("does not support 8BITMIME"), "{dsn}");
    assert!(
        !reads
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.contains("cr\u{e8}me")),
        "the 8-bit body never reached the sink"
    );
    sink.abort();
    sender.shutdown().await;
    receiver.shutdown().await;
}

/// A receiver whose submissions port takes carol@local.test (password `pw`, allowed to
/// send as anyone at outside.test), and a sender relaying everything through it.
async fn smarthost_pair(
    password_on_sender: &str,
    implicit_tls: bool,
) -> (TestServer, TestServer, tempfile::TempDir) {
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new(certs.path());
    let (cert, key) = ca.issue("relay", &["mx.receiver.test"]);
    let pass = certs.path().join("relay.pass");
    std::fs::write(&pass, format!("{password_on_sender}\n")).unwrap();
    std::fs::set_permissions(&pass, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let (sender, receiver) = pair_with_receiver(
        &format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            cert.display(),
            key.display()
        ),
        |r| {
            format!(
                "extra_ca_file = \"{}\"\nsmarthost = \"{}://mx.receiver.test:{}\"\n\
                 smarthost_user = \"carol@local.test\"\nsmarthost_password_file = \"{}\"\n",
                ca.ca_file().display(),
                if implicit_tls { "smtps" } else { "smtp" },
                r.addr(if implicit_tls {
                    "submissions"
                } else {
                    "submission"
                })
                .port(),
                pass.display()
            )
        },
        "",
    )
    .await;
    receiver.set_password("carol@local.test", PW).await;
    cli(
        &receiver,
        &[
            "user",
            "send-as",
            "add",
            "carol@local.test",
            "*@outside.test",
        ],
    );
    (sender, receiver, certs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc8314_a_smarthost_takes_everything_over_implicit_tls_with_auth() {
    for implicit_tls in [true, false] {
        smarthost_delivers(implicit_tls).await;
    }
}

/// Over implicit TLS (port 465) or STARTTLS (port 587, RFC 3207).
async fn smarthost_delivers(implicit_tls: bool) {
    let (sender, receiver, _certs) = smarthost_pair(PW, implicit_tls).await;
    submit(
        &sender,
        "someone@outside.test",
        "bob@receiver.test",
        "From: someone@outside.test\r\nTo: bob@receiver.test\r\nSubject: via the relay\r\n\r\nhello\r\n",
    )
    .await;
    let got = wait_for_remote_mail(&receiver, "bob").await;
    assert!(got.contains("Subject: via the relay"), "{got}");
    // The relay's trace: authenticated (ESMTPSA, RFC 3848) over TLS on its
    // submissions port, as carol.
    let trace = header(got.as_bytes());
    assert!(trace.contains("ESMTPSA"), "{trace}");
    sender.shutdown().await;
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_smarthost_refusing_our_login_defers_and_says_why() {
    let (sender, receiver, _certs) = smarthost_pair("not the password", true).await;
    submit(
        &sender,
        "someone@outside.test",
        "bob@receiver.test",
        "From: someone@outside.test\r\nTo: bob@receiver.test\r\nSubject: x\r\n\r\nx\r\n",
    )
    .await;
    let why = deferral(&sender).await;
    assert!(
        why.contains("refused the login") && why.contains("535"),
        "{why}"
    );
    sender.shutdown().await;
    receiver.shutdown().await;
}

/// RCPT replies from `ts`'s inbound listener for `rcpt`.
async fn rcpt_reply(ts: &TestServer, rcpt: &str) -> String {
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<>", "250").await;
    let r = c.cmd(&format!("RCPT TO:<{rcpt}>")).await;
    c.cmd("QUIT").await;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_delivers_to_its_members_here_and_forwards_with_srs_so_spf_passes_there() {
    let (sender, receiver) = pair("").await;
    // The forwarding domain's DKIM keys, published where the receiver resolves: the
    // ARC seal is signed with them.
    cli(&sender, &["dkim", "keygen", "local.test"]);
    for k in sender.store.list_dkim_keys(None).await.unwrap() {
        let alg = palisade_checks::signing::KeyAlgorithm::parse(&k.algorithm).unwrap();
        receiver.dns.txt(
            &format!("{}._domainkey.local.test", k.selector),
            &palisade_checks::signing::dns_record(alg, &k.public_key),
        );
    }
    cli(
        &sender,
        &[
            "alias",
            "add",
            "team@local.test",
            "alice@local.test",
            "bob@local.test",
            "carol@local.test",
            "bob@receiver.test",
        ],
    );
    let list = cli(&sender, &["alias", "list"]);
    assert!(list.contains("team@local.test -> alice@local.test, bob@local.test, bob@receiver.test, carol@local.test"), "{list}");
    submit(
        &sender,
        "someone@origin.test",
        "team@local.test",
        "From: someone@origin.test\r\nTo: team@local.test\r\nSubject: to the team\r\n\r\nhello team\r\n",
    )
    .await;
    for member in ["alice", "bob", "carol"] {
        let got = sender.wait_for_mail(member, 1).await;
        assert!(String::from_utf8_lossy(&got[0]).contains("Subject: to the team"));
    }
    // The outside member's copy left with an SRS reverse-path in local.test, whose SPF
    // record names the sender: SPF passes at the receiver (RFC 7208 §2.4).
    let got = wait_for_remote_mail(&receiver, "bob").await;
    assert!(got.contains("Subject: to the team"), "{got}");
    let return_path = got
        .lines()
        .find(|l| l.starts_with("Return-Path: "))
        .unwrap_or_default()
        .to_string();
    assert!(return_path.contains("<SRS0="), "{return_path}");
    assert!(
        return_path.contains("=origin.test=someone@local.test>"),
        "{return_path}"
    );
    let results = header(got.as_bytes());
    assert!(
        results.contains("spf=pass") && results.contains("smtp.mailfrom=\"SRS0="),
        "{results}"
    );
    // RFC 8617: our ARC set validates at the receiver (its own check) and in dkimpy.
    assert!(got.contains("ARC-Seal: i=1; a=rsa-sha256"), "{got}");
    assert!(results.contains("arc=pass"), "{results}");
    let (ok, verdict) = common::dkim::dkimpy_arc(got.as_bytes(), receiver.dns.addr());
    assert!(ok, "dkimpy: {verdict}");
    // A bounce to that address comes back (RCPT accepted); a forged one does not.
    let srs = return_path
        .trim_start_matches("Return-Path: <")
        .trim_end_matches('>')
        .to_string();
    assert!(rcpt_reply(&sender, &srs).await.starts_with("250"));
    let forged = srs.replace("=someone@", "=mallory@");
    assert!(rcpt_reply(&sender, &forged).await.starts_with("550 5.1.1"));

    // A mailing list's VERP bounce address is too long to rewrite in place (RFC 5321
    // §4.5.3.1.1): the short stored form goes out, and it comes back too.
    let verp = "bounces+1234567-abcd-team=local.test@em1234.lists.example.net";
    submit(
        &sender,
        verp,
        "team@local.test",
        "From: list@lists.example.net\r\nTo: team@local.test\r\nSubject: list post\r\n\r\nx\r\n",
    )
    .await;
    let mut second = String::new();
    for _ in 0..400 {
        let all = receiver.mail("bob@receiver.test");
        if let Some(m) = all
            .iter()
            .find(|m| String::from_utf8_lossy(m).contains("Subject: list post"))
        {
            second = String::from_utf8_lossy(m).into_owned();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let rp = second
        .lines()
        .find(|l| l.starts_with("Return-Path: "))
        .unwrap_or_default()
        .trim_start_matches("Return-Path: <")
        .trim_end_matches('>')
        .to_string();
    assert!(rp.starts_with("SRSX=") && rp.len() < 100, "{rp}");
    assert!(rcpt_reply(&sender, &rp).await.starts_with("250"));
    sender.shutdown().await;
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc5321_6_3_a_forwarding_loop_bounces_with_5_4_6() {
    let (sender, receiver) = pair("").await;
    cli(
        &sender,
        &["alias", "add", "loop@local.test", "bob@receiver.test"],
    );
    // A message that has been round the loop a hundred times already.
    let hops: String = (0..101)
        .map(|i| format!("Received: from hop{i}.example by hop{i}.example; Mon, 7 Dec 2026 05:00:00 +0000\r\n"))
        .collect();
    submit(
        &sender,
        "carol@local.test",
        "loop@local.test",
        &format!("{hops}From: carol@local.test\r\nTo: loop@local.test\r\nSubject: round and round\r\n\r\nx\r\n"),
    )
    .await;
    // The sender hears of it (a DSN with the RFC 3463 code); nothing went on.
    let dsn = String::from_utf8(sender.wait_for_mail("carol", 1).await.remove(0)).unwrap();
    assert!(dsn.contains("5.4.6"), "{dsn}");
    assert!(receiver.mail("bob@receiver.test").is_empty());
    sender.shutdown().await;
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_member_failing_for_now_is_retried_alone_and_the_others_get_one_copy() {
    let (sender, receiver) = pair("").await;
    cli(
        &sender,
        &[
            "alias",
            "add",
            "pair@local.test",
            "alice@local.test",
            "bob@local.test",
        ],
    );
    // Bob asked for encryption at rest but has no key: his copy waits (451 4.7.0).
    let bob = palisade_types::Address::parse("bob@local.test").unwrap();
    assert!(sender.store.set_encrypt_at_rest(&bob, true).await.unwrap());
    submit(
        &sender,
        "someone@origin.test",
        "pair@local.test",
        "From: someone@origin.test\r\nTo: pair@local.test\r\nSubject: for the pair\r\n\r\nx\r\n",
    )
    .await;
    sender.wait_for_mail("alice", 1).await;
    // Bob's copy is a message of its own now, retrying for him only (retries here come
    // after a second): alice keeps her one copy.
    let mut pending = Vec::new();
    for _ in 0..200 {
        pending = sender.store.list_queue_status().await.unwrap();
        if pending
            .iter()
            .any(|s| s.last_error.as_deref().is_some_and(|e| e.contains("4.7.0")))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(pending.len(), 1, "{pending:?}");
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(sender.mail("alice").len(), 1);
    assert!(sender.mail("bob").is_empty());
    sender.shutdown().await;
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_all_gets_no_copy_of_a_group_message() {
    let (sender, receiver) = pair("").await;
    cli(
        &sender,
        &["alias", "add", "*@local.test", "carol@local.test"],
    );
    cli(
        &sender,
        &[
            "alias",
            "add",
            "crew@local.test",
            "alice@local.test",
            "bob@local.test",
        ],
    );
    submit(
        &sender,
        "someone@origin.test",
        "crew@local.test",
        "From: someone@origin.test\r\nTo: crew@local.test\r\nSubject: crew\r\n\r\nx\r\n",
    )
    .await;
    sender.wait_for_mail("alice", 1).await;
    sender.wait_for_mail("bob", 1).await;
    assert!(sender.mail("carol").is_empty());
    sender.shutdown().await;
    receiver.shutdown().await;
}
