//! The SMTP server over real sockets, with real clients (lettre, rustls).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use lettre::message::Mailbox;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

fn message(to: &str, body: &str) -> Message {
    Message::builder()
        .from("Sender <sender@remote.test>".parse::<Mailbox>().unwrap())
        .to(to.parse::<Mailbox>().unwrap())
        .subject("test")
        .body(body.to_string())
        .unwrap()
}

fn lettre_client(
    ts: &TestServer,
    listener: &str,
    tls: bool,
    wrapper: bool,
) -> AsyncSmtpTransport<Tokio1Executor> {
    let addr = ts.addr(listener);
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port());
    if tls {
        let params = TlsParameters::builder(HOST.to_string())
            .add_root_certificate(Certificate::from_pem(&ts.cert_pem()).unwrap())
            .build_rustls()
            .unwrap();
        b = b.tls(if wrapper {
            Tls::Wrapper(params)
        } else {
            Tls::Required(params)
        });
    }
    b.timeout(Some(Duration::from_secs(30))).build()
}

#[tokio::test]
async fn lettre_plain_delivers_to_maildir_with_trace_headers() {
    let ts = start("").await;
    let r = lettre_client(&ts, "inbound", false, false)
        .send(message("alice@local.test", "plain hello"))
        .await
        .unwrap();
    assert_eq!(r.code().to_string(), "250");
    let mail = ts.wait_for_mail("alice", 1).await;
    let text = String::from_utf8_lossy(&mail[0]);
    assert!(
        text.starts_with("Return-Path: <sender@remote.test>\r\nReceived: from "),
        "{text}"
    );
    assert!(
        text.contains("by mx.local.test (Palisade) with ESMTP id "),
        "{text}"
    );
    assert!(text.contains("plain hello"));
    ts.shutdown().await;
}

#[tokio::test]
async fn lettre_starttls_records_tls_in_received() {
    let ts = start("").await;
    lettre_client(&ts, "inbound", true, false)
        .send(message("bob@local.test", "over starttls"))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&ts.wait_for_mail("bob", 1).await[0]).to_string();
    assert!(text.contains("with ESMTPS id"), "{text}");
    assert!(text.contains("(using TLSv1.3 with cipher TLS13_"), "{text}");
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lettre_implicit_tls_on_submissions() {
    let ts = start("").await;
    ts.set_password("alice@local.test", "correct horse battery staple")
        .await;
    let addr = ts.addr("submissions");
    let params = TlsParameters::builder(HOST.to_string())
        .add_root_certificate(Certificate::from_pem(&ts.cert_pem()).unwrap())
        .build_rustls()
        .unwrap();
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .tls(Tls::Wrapper(params))
        .credentials(lettre::transport::smtp::authentication::Credentials::new(
            "alice@local.test".into(),
            "correct horse battery staple".into(),
        ))
        .build()
        .send(
            Message::builder()
                .from("alice@local.test".parse::<Mailbox>().unwrap())
                .to("carol@local.test".parse::<Mailbox>().unwrap())
                .subject("implicit tls")
                .body("x".to_string())
                .unwrap(),
        )
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&ts.wait_for_mail("carol", 1).await[0]).to_string();
    assert!(text.contains("(using TLSv1.3"), "{text}");
    ts.shutdown().await;
}

#[tokio::test]
async fn tls12_only_client_gets_forward_secret_aead() {
    let ts = start("").await;
    let mut roots = rustls::RootCertStore::empty();
    use rustls_pki_types::pem::PemObject;
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(&ts.cert_pem()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(ts.addr("submissions"))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
        .connect(rustls_pki_types::ServerName::try_from(HOST).unwrap(), tcp)
        .await
        .unwrap();
    let suite = format!(
        "{:?}",
        tls.get_ref().1.negotiated_cipher_suite().unwrap().suite()
    );
    assert!(
        suite.starts_with("TLS_ECDHE_") && (suite.contains("GCM") || suite.contains("CHACHA20")),
        "{suite}"
    );
    let mut raw = Raw::new(tls);
    assert!(raw.reply().await.starts_with("220 "));
    ts.shutdown().await;
}

#[tokio::test]
async fn pipelining_replies_in_order() {
    let ts = start("").await;
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.test", "250-").await;
    c.send(b"MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@local.test>\r\nRCPT TO:<nobody@local.test>\r\nRCPT TO:<bob@local.test>\r\nDATA\r\n").await;
    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(c.reply().await[..3].to_string());
    }
    assert_eq!(codes, ["250", "250", "550", "250", "354"]);
    c.send(b"Subject: p\r\n\r\npipelined\r\n.\r\nQUIT\r\n")
        .await;
    assert!(c.reply().await.starts_with("250 2.0.0 Message queued as "));
    assert!(c.reply().await.starts_with("221"));
    ts.wait_for_mail("alice", 1).await;
    ts.wait_for_mail("bob", 1).await;
    ts.shutdown().await;
}

#[tokio::test]
async fn bdat_chunking() {
    let ts = start("").await;
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.test", "250-").await;
    c.expect("MAIL FROM:<a@remote.test>", "250").await;
    c.expect("RCPT TO:<alice@local.test>", "250").await;
    c.send(b"BDAT 14\r\nSubject: b\r\n\r\n").await;
    assert!(c.reply().await.starts_with("250 2.0.0 14 octets"));
    c.send(b"BDAT 7 LAST\r\nchunk\r\n").await;
    assert!(c.reply().await.starts_with("250 2.0.0 Message queued"));
    let m = ts.wait_for_mail("alice", 1).await;
    assert!(m[0].ends_with(b"Subject: b\r\n\r\nchunk\r\n"));
    ts.shutdown().await;
}

#[tokio::test]
async fn eight_bit_and_smtputf8_messages() {
    let ts = start("").await;
    ts.alias("ἀλίκη@local.test", "alice@local.test").await;
    let mut c = connect(ts.addr("inbound")).await;
    let ehlo = c.cmd("EHLO client.test").await;
    assert!(ehlo.contains("250-8BITMIME") && ehlo.contains("250-SMTPUTF8"));
    c.expect("MAIL FROM:<θσερ@remote.test> BODY=8BITMIME SMTPUTF8", "250")
        .await;
    c.expect("RCPT TO:<ἀλίκη@local.test>", "250").await;
    c.expect("DATA", "354").await;
    c.send("Subject: καλημέρα\r\n\r\nγειά σου κόσμε\r\n.\r\n".as_bytes())
        .await;
    assert!(c.reply().await.starts_with("250"));
    let m = String::from_utf8(ts.wait_for_mail("alice", 1).await.remove(0)).unwrap();
    assert!(m.contains("with UTF8SMTP id"), "{m}");
    assert!(m.contains("γειά σου κόσμε"));
    ts.shutdown().await;
}

#[tokio::test]
async fn large_message_arrives_intact() {
    let ts = start("").await;
    let body: String = (0..60_000)
        .map(|i| format!("line {i:08} of a large message\r\n"))
        .collect();
    lettre_client(&ts, "inbound", false, false)
        .send(message("alice@local.test", &body))
        .await
        .unwrap();
    let m = ts.wait_for_mail("alice", 1).await;
    assert!(m[0].len() > body.len());
    let text = String::from_utf8_lossy(&m[0]);
    assert!(
        text.contains("line 00000000 of a large message")
            && text.contains("line 00059999 of a large message")
    );
    ts.shutdown().await;
}

#[tokio::test]
async fn size_limit_is_announced_and_enforced() {
    let ts = start("[smtp]\nmax_message_size = 100000\n").await;
    let mut c = connect(ts.addr("inbound")).await;
    assert!(c.cmd("EHLO client.test").await.contains("250-SIZE 100000"));
    c.expect("MAIL FROM:<a@remote.test> SIZE=200000", "552 5.3.4")
        .await;
    c.expect("MAIL FROM:<a@remote.test>", "250").await;
    c.expect("RCPT TO:<alice@local.test>", "250").await;
    c.expect("DATA", "354").await;
    let line = format!("{}\r\n", "x".repeat(998));
    for _ in 0..150 {
        c.send(line.as_bytes()).await;
    }
    c.send(b".\r\n").await;
    assert!(c.reply().await.starts_with("552 5.3.4"));
    c.expect("NOOP", "250").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(ts.mail("alice").is_empty());
    ts.shutdown().await;
}

#[tokio::test]
async fn recipient_limit() {
    let ts = start("[smtp]\nmax_recipients = 2\n").await;
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<a@remote.test>", "250").await;
    c.expect("RCPT TO:<alice@local.test>", "250").await;
    c.expect("RCPT TO:<bob@local.test>", "250").await;
    c.expect("RCPT TO:<carol@local.test>", "452 4.5.3").await;
    ts.shutdown().await;
}

#[tokio::test]
async fn error_limit_closes_the_session() {
    let ts = start("[smtp]\nmax_errors = 3\n").await;
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("FOO", "500 5.5.1").await;
    c.expect("BAR", "500 5.5.1").await;
    c.expect("BAZ", "500 5.5.1").await;
    let r = c.reply().await;
    assert!(r.starts_with("421 4.7.0"), "{r}");
    assert!(c.closed().await);
    ts.shutdown().await;
}

#[tokio::test]
async fn command_line_limit() {
    let ts = start("").await;
    let mut c = connect(ts.addr("inbound")).await;
    c.expect(&format!("EHLO {}", "a".repeat(600)), "500 5.5.2")
        .await;
    c.expect("NOOP", "250").await;
    ts.shutdown().await;
}

#[tokio::test]
async fn connections_per_ip_limit() {
    let ts = start("[smtp]\nmax_connections_per_ip = 2\n").await;
    let _a = connect(ts.addr("inbound")).await;
    let _b = connect(ts.addr("inbound")).await;
    let mut third = Raw::new(
        tokio::net::TcpStream::connect(ts.addr("inbound"))
            .await
            .unwrap(),
    );
    let r = third.reply().await;
    assert!(r.starts_with("421 4.7.0"), "{r}");
    assert!(third.closed().await);
    drop(_a);
    tokio::time::sleep(Duration::from_millis(100)).await;
    connect(ts.addr("inbound")).await;
    ts.shutdown().await;
}

#[tokio::test]
async fn total_connection_limit() {
    let ts = start("[smtp]\nmax_connections = 1\n").await;
    let _a = connect(ts.addr("inbound")).await;
    let mut second = Raw::new(
        tokio::net::TcpStream::connect(ts.addr("submission"))
            .await
            .unwrap(),
    );
    assert!(second.reply().await.starts_with("421 4.7.0"));
    ts.shutdown().await;
}

#[tokio::test]
async fn idle_timeout_closes_with_421() {
    let ts = start("[smtp]\nidle_timeout_secs = 1\n").await;
    let mut c = connect(ts.addr("inbound")).await;
    let r = c.reply().await;
    assert!(r.starts_with("421 4.4.2"), "{r}");
    assert!(c.closed().await);
    ts.shutdown().await;
}

#[tokio::test]
async fn slow_loris_command_is_cut_off() {
    // Each byte arrives well within the idle timeout, but the line never completes.
    let ts = start("[smtp]\nidle_timeout_secs = 5\ncommand_timeout_secs = 1\n").await;
    let mut c = connect(ts.addr("inbound")).await;
    let mut got = String::new();
    // Bounded: 25 bytes at 100 ms is 2.5 s, past the 1 s command deadline.
    for b in b"EHLO slowly-slowly-slowly".iter() {
        if c.stream.write_all(&[*b]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    got.push_str(&c.reply().await);
    assert!(got.starts_with("421 4.4.2"), "{got}");
    ts.shutdown().await;
}

#[tokio::test]
async fn relay_attempts_are_refused() {
    let ts = start("").await;
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<a@remote.test>", "250").await;
    c.expect("RCPT TO:<victim@elsewhere.test>", "554 5.7.1")
        .await;
    c.expect("RCPT TO:<victim%elsewhere.test@local.test>", "550 5.7.1")
        .await;
    c.expect("RCPT TO:<elsewhere.test!victim@local.test>", "550 5.7.1")
        .await;
    c.expect(
        "RCPT TO:<\"victim@elsewhere.test\"@local.test>",
        "550 5.7.1",
    )
    .await;
    c.expect("RCPT TO:<@local.test:victim@elsewhere.test>", "554 5.7.1")
        .await;
    c.expect("RCPT TO:<nobody@local.test>", "550 5.1.1").await;
    c.expect("DATA", "554 5.5.1").await;
    ts.shutdown().await;
}

#[tokio::test]
async fn cve_2023_51764_smuggling_over_the_wire() {
    let ts = start("").await;
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<a@remote.test>", "250").await;
    c.expect("RCPT TO:<alice@local.test>", "250").await;
    c.expect("DATA", "354").await;
    c.send(b"Subject: outer\r\n\r\nhi\n.\nMAIL FROM:<ceo@local.test>\r\nRCPT TO:<bob@local.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n").await;
    let r = c.reply().await;
    assert!(r.starts_with("550 5.5.2"), "{r}");
    // The session is still in sync: the next command is answered normally.
    c.expect("NOOP", "250").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(ts.mail("alice").is_empty() && ts.mail("bob").is_empty());
    ts.shutdown().await;
}

#[tokio::test]
async fn normalise_mode_delivers_one_message_not_two() {
    let ts = start("[smtp]\nbare_line_endings = \"normalise\"\n").await;
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<a@remote.test>", "250").await;
    c.expect("RCPT TO:<alice@local.test>", "250").await;
    c.expect("DATA", "354").await;
    c.send(b"Subject: outer\r\n\r\nhi\n.\nRCPT TO:<bob@local.test>\r\n.\r\n")
        .await;
    assert!(c.reply().await.starts_with("250"));
    let m = ts.wait_for_mail("alice", 1).await;
    assert!(String::from_utf8_lossy(&m[0]).contains("hi\r\n.\r\nRCPT TO:<bob@local.test>\r\n"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(ts.mail("bob").is_empty());
    ts.shutdown().await;
}

#[tokio::test]
async fn cve_2011_0411_starttls_injection_is_not_executed() {
    let ts = start("").await;
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.test", "250").await;
    // The injected MAIL travels in the same packet as STARTTLS.
    c.send(b"STARTTLS\r\nMAIL FROM:<evil@remote.test>\r\n")
        .await;
    assert!(c.reply().await.starts_with("220 2.0.0"));
    let connected = ts
        .tls_connector()
        .connect(
            rustls_pki_types::ServerName::try_from(HOST).unwrap(),
            c.stream,
        )
        .await;
    // Either the handshake fails (the injected bytes reached the TLS layer) or, inside
    // TLS, the session starts over without the injected command. Both are safe.
    if let Ok(tls) = connected {
        let mut t = Raw::new(tls);
        t.expect("EHLO client.test", "250").await;
        t.expect("RCPT TO:<alice@local.test>", "503 5.5.1").await;
    }
    ts.shutdown().await;
}

#[tokio::test]
async fn starttls_resets_and_is_not_offered_twice() {
    let ts = start("").await;
    let mut c = connect(ts.addr("inbound")).await;
    assert!(c.cmd("EHLO client.test").await.contains("250-STARTTLS"));
    c.expect("MAIL FROM:<a@remote.test>", "250").await;
    let mut t = starttls(c, &ts).await;
    t.expect("MAIL FROM:<a@remote.test>", "503 5.5.1").await;
    let ehlo = t.cmd("EHLO client.test").await;
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    t.expect("STARTTLS", "503 5.5.1").await;
    ts.shutdown().await;
}

#[tokio::test]
async fn vrfy_and_help() {
    let ts = start("").await;
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("VRFY alice", "252 2.5.0").await;
    c.expect("VRFY nobody", "252 2.5.0").await;
    c.expect("HELP", "214").await;
    c.expect("QUIT", "221").await;
    assert!(c.closed().await);
    ts.shutdown().await;
}

#[tokio::test]
async fn catch_all_alias() {
    let ts = start("").await;
    ts.alias("*@local.test", "carol@local.test").await;
    lettre_client(&ts, "inbound", false, false)
        .send(message("anything@local.test", "catch-all"))
        .await
        .unwrap();
    ts.wait_for_mail("carol", 1).await;
    ts.shutdown().await;
}

#[tokio::test]
async fn shutdown_mid_session_says_421() {
    let ts = start("[smtp]\nshutdown_grace_secs = 0\n").await;
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.test", "250").await;
    let addr = ts.addr("inbound");
    let TestServer {
        dir: _dir, server, ..
    } = ts;
    let stop = tokio::spawn(server.unwrap().shutdown(Duration::from_millis(100)));
    let r = c.reply().await;
    assert!(r.starts_with("421 4.3.2"), "{r}");
    stop.await.unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
}

/// The certificate the server presents to a new implicit-TLS connection.
async fn presented_cert(ts: &TestServer, roots_pem: &[u8]) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(roots_pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(ts.addr("submissions"))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
        .connect(rustls_pki_types::ServerName::try_from(HOST).unwrap(), tcp)
        .await
        .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test]
async fn changed_certificate_files_are_picked_up_without_restart() {
    let certs = tempfile::tempdir().unwrap();
    let a = palisade_server::tls::ensure_self_signed(&certs.path().join("a"), HOST).unwrap();
    let b = palisade_server::tls::ensure_self_signed(&certs.path().join("b"), HOST).unwrap();
    let live_cert = certs.path().join("live-cert.pem");
    let live_key = certs.path().join("live-key.pem");
    std::fs::copy(&a.cert, &live_cert).unwrap();
    std::fs::copy(&a.key, &live_key).unwrap();
    let ts = start(&format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        live_cert.display(),
        live_key.display()
    ))
    .await;
    let pem_a = std::fs::read(&a.cert).unwrap();
    let pem_b = std::fs::read(&b.cert).unwrap();
    let both = [pem_a.clone(), pem_b.clone()].concat();
    let first = presented_cert(&ts, &both).await;
    // A renewal (certbot replaces the files): new handshakes use the new certificate.
    std::fs::copy(&b.key, &live_key).unwrap();
    std::fs::copy(&b.cert, &live_cert).unwrap();
    let mut changed = false;
    for _ in 0..100 {
        if presented_cert(&ts, &both).await != first {
            changed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(changed, "certificate not reloaded within the poll interval");
    assert!(
        presented_cert(&ts, &pem_b).await.len() > 100,
        "the new certificate verifies on its own"
    );
    ts.shutdown().await;
}

#[tokio::test]
async fn reload_applies_new_limits_to_new_sessions() {
    let ts = start("[smtp]\nmax_recipients = 5\n").await;
    let mut before = connect(ts.addr("inbound")).await;
    let toml = format!(
        "hostname = \"{HOST}\"\n[listener.inbound]\naddress = \"127.0.0.1:0\"\n\
         [listener.submission]\naddress = \"127.0.0.1:0\"\nkind = \"submission\"\n\
         [listener.submissions]\naddress = \"127.0.0.1:0\"\nkind = \"submissions\"\n[smtp]\nmax_recipients = 1\n{}",
        dns_toml(&ts.dns)
    );
    ts.server
        .as_ref()
        .unwrap()
        .reload(palisade_config::parse(&toml).unwrap());
    let mut after = connect(ts.addr("inbound")).await;
    for c in [&mut before, &mut after] {
        c.expect("EHLO client.test", "250").await;
        c.expect("MAIL FROM:<a@remote.test>", "250").await;
        c.expect("RCPT TO:<alice@local.test>", "250").await;
    }
    before.expect("RCPT TO:<bob@local.test>", "250").await;
    after.expect("RCPT TO:<bob@local.test>", "452 4.5.3").await;
    ts.shutdown().await;
}

#[tokio::test]
async fn a_second_server_cannot_share_the_data_directory() {
    let ts = start("").await;
    let config = palisade_config::parse("[listener.x]\naddress = \"127.0.0.1:0\"\n").unwrap();
    let store: std::sync::Arc<dyn palisade_store::Store> = ts.store.clone();
    let second =
        palisade_server::Server::start(config, ts.dir.path(), store, palisade::addons::all()).await;
    assert!(matches!(
        second,
        Err(palisade_server::ServerError::DataDirInUse(_))
    ));
    ts.shutdown().await;
}
