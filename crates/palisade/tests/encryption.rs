//! OpenPGP and S/MIME inside `serve`, over real SMTP (lettre), with GnuPG and OpenSSL:
//! encryption at rest (a user imports a key or certificate, turns encryption at rest on,
//! and the mail that lands in the Maildir opens with `gpg --decrypt` or `openssl cms
//! -decrypt` to the body that was sent, byte for byte), WKD, and signed inbound mail
//! checked into Authentication-Results and the verdict.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_palisade");

fn cli(ts: &TestServer, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data")
        .arg(ts.dir.path())
        .args(args)
        .output()
        .unwrap()
}

fn gpg(home: &Path, args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new("gpg")
        .arg("--homedir")
        .arg(home)
        .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gpg is installed (.ci/run installs gnupg)");
    if let Some(i) = input {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(i).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "gpg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A self-signed RSA certificate for `address` made by OpenSSL, with `extensions`
/// besides the subject alternative name: (certificate, key) files in `dir`.
fn smime_cert(dir: &Path, address: &str, extensions: &[&str]) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{address}.pem")),
        dir.join(format!("{address}.key")),
    );
    let mut cmd = Command::new("openssl");
    cmd.args([
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
    ])
    .args(["-subj", "/CN=Test", "-keyout"])
    .arg(&key)
    .arg("-out")
    .arg(&cert)
    .args(["-addext", &format!("subjectAltName=email:{address}")]);
    for e in extensions {
        cmd.args(["-addext", e]);
    }
    let o = cmd.output().expect("openssl is installed");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (cert, key)
}

async fn send(ts: &TestServer, to: &str, message: &str) {
    let addr = ts.addr("inbound");
    let client = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .timeout(Some(Duration::from_secs(30)))
        .build();
    let env = Envelope::new(
        Some("bob@sender.test".parse().unwrap()),
        vec![to.parse().unwrap()],
    )
    .unwrap();
    let r = client.send_raw(&env, message.as_bytes()).await.unwrap();
    assert_eq!(r.code().to_string(), "250");
}

#[tokio::test]
async fn mail_for_a_user_with_a_key_is_stored_encrypted_and_gpg_opens_it() {
    let ts = start("").await;
    let home = tempfile::tempdir().unwrap();
    gpg(
        home.path(),
        &[
            "--quick-gen-key",
            "Alice <alice@local.test>",
            "future-default",
            "default",
            "1y",
        ],
        None,
    );
    let public = gpg(
        home.path(),
        &["--armor", "--export", "alice@local.test"],
        None,
    );
    let key_file = home.path().join("alice.asc");
    std::fs::write(&key_file, &public).unwrap();
    let key = key_file.to_str().unwrap();

    // Refusals, each with exit code 2 and the reason.
    let o = cli(&ts, &["user", "key", "import", "bob@local.test", key]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no User ID of the key names"));
    let o = cli(&ts, &["user", "encrypt-at-rest", "alice@local.test", "on"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no key"));

    let o = cli(&ts, &["user", "key", "import", "alice@local.test", key]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let listed =
        String::from_utf8(cli(&ts, &["user", "key", "list", "alice@local.test"]).stdout).unwrap();
    assert!(listed.starts_with("openpgp ") && listed.contains("Alice <alice@local.test>"));
    let fingerprint = listed.split_whitespace().nth(1).unwrap().to_string();
    assert!(
        cli(&ts, &["user", "encrypt-at-rest", "alice@local.test", "on"])
            .status
            .success()
    );
    let o = cli(
        &ts,
        &["user", "key", "remove", "alice@local.test", &fingerprint],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "the only key of a user with encryption on stays"
    );

    let body = "Dear Alice,\r\n\r\nthe payroll figures for November: 42,000.\r\n\r\n-- \r\nBob\r\n";
    let message = format!(
        "From: Bob <bob@sender.test>\r\nTo: Alice <alice@local.test>\r\nSubject: Payroll\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <payroll@sender.test>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    );
    send(&ts, "alice@local.test", &message).await;
    let stored = ts.wait_for_mail("alice", 1).await.remove(0);
    let stored = String::from_utf8(stored).unwrap();
    let (outer, _) = stored.split_once("\r\n\r\n").unwrap();
    for readable in [
        "Return-Path: <bob@sender.test>",
        "From: Bob <bob@sender.test>",
        "To: Alice <alice@local.test>",
        "Message-ID: <payroll@sender.test>",
        "Date: Tue, 01 Dec 2026 10:00:00 +0000",
        "Subject: ...",
        "X-Palisade-Verdict:",
        "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"",
    ] {
        assert!(outer.contains(readable), "{readable} in\n{outer}");
    }
    assert!(!stored.contains("Payroll") && !stored.contains("42,000"));

    let start = stored.find("-----BEGIN PGP MESSAGE-----").unwrap();
    let end = stored.find("-----END PGP MESSAGE-----").unwrap() + 25;
    let clear = gpg(
        home.path(),
        &["--decrypt"],
        Some(&stored.as_bytes()[start..end]),
    );
    let clear = String::from_utf8(clear).unwrap();
    let (inner, inner_body) = clear.split_once("\r\n\r\n").unwrap();
    // lettre ends DATA with CRLF "." CRLF after the message's own last CRLF, so what
    // arrives is the body and one empty line: that is what comes back, byte for byte.
    assert_eq!(
        inner_body,
        format!("{body}\r\n"),
        "the body as received, byte for byte"
    );
    assert!(inner.contains("Subject: Payroll\r\n"));
    assert!(
        inner.contains("Content-Type: text/plain; charset=utf-8;\r\n protected-headers=\"v1\"")
    );

    // What is not sealed is private to the server's user: the queue (bodies in clear
    // between 250 and delivery, and the quarantine) and every mailbox.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for d in [
        "queue",
        "queue/incoming",
        "queue/active",
        "queue/quarantine",
    ] {
        assert_eq!(mode(&ts.dir.path().join(d)), 0o700, "{d}");
    }
    assert_eq!(mode(&ts.maildir("alice")), 0o700);
    assert_eq!(mode(ts.maildir("alice").parent().unwrap()), 0o700);

    // Bob has no key: his mail is stored as it arrives, with the same body.
    send(&ts, "bob@local.test", &message.replace("alice@", "bob@")).await;
    let bobs = String::from_utf8(ts.wait_for_mail("bob", 1).await.remove(0)).unwrap();
    assert_eq!(bobs.split_once("\r\n\r\n").unwrap().1, inner_body);

    // Off again: stored as it arrives.
    assert!(
        cli(&ts, &["user", "encrypt-at-rest", "alice@local.test", "off"])
            .status
            .success()
    );
    // The CLI is another process: it returns once the running server's lookup cache
    // has let go of the old answer, so the next message is stored the new way.
    send(
        &ts,
        "alice@local.test",
        &message.replace("payroll@", "second@"),
    )
    .await;
    let both = ts.wait_for_mail("alice", 2).await;
    assert!(
        both.iter()
            .any(|m| String::from_utf8_lossy(m).contains("42,000"))
    );

    // The domain's default: alice (who has a key) is sealed again, bob (who has none)
    // still gets his mail as it arrives, not deferred.
    let o = cli(&ts, &["domain", "encrypt-at-rest", "local.test", "on"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    send(
        &ts,
        "alice@local.test",
        &message.replace("payroll@", "third@"),
    )
    .await;
    send(&ts, "bob@local.test", &message.replace("payroll@", "bobs@")).await;
    let three = ts.wait_for_mail("alice", 3).await;
    let third = three
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .find(|m| m.contains("<third@sender.test>"))
        .unwrap();
    assert!(third.contains("multipart/encrypted") && !third.contains("42,000"));
    let bobs = ts.wait_for_mail("bob", 2).await;
    assert!(
        bobs.iter()
            .all(|m| String::from_utf8_lossy(m).contains("42,000"))
    );
    ts.shutdown().await;
}

/// WKD, both methods, as a client finds keys: over HTTPS with the certificate checked
/// for the WKD host names. (gpg's own `--locate-keys` resolves the domain through the
/// system resolver and cannot be pointed at a loopback server here; the key it would
/// receive is checked by importing it into GnuPG instead.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wkd_serves_a_users_key_with_only_its_own_user_id() {
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new(certs.path());
    let (cert, key) = ca.issue("web", &["openpgpkey.local.test", "local.test"]);
    let ts = start(&format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n[web]\naddress = \"127.0.0.1:0\"\n",
        cert.display(),
        key.display()
    ))
    .await;
    let home = tempfile::tempdir().unwrap();
    gpg(
        home.path(),
        &[
            "--quick-gen-key",
            "Alice <alice@local.test>",
            "future-default",
            "default",
            "never",
        ],
        None,
    );
    // A second identity the directory must not reveal.
    let fpr = String::from_utf8(gpg(
        home.path(),
        &["--with-colons", "--list-keys", "alice@local.test"],
        None,
    ))
    .unwrap()
    .lines()
    .find_map(|l| {
        l.strip_prefix("fpr:")
            .map(|r| r.trim_matches(':').to_string())
    })
    .unwrap();
    gpg(
        home.path(),
        &[
            "--quick-add-uid",
            &fpr,
            "Alice at home <alice@home.example>",
        ],
        None,
    );
    let key_file = home.path().join("alice.asc");
    std::fs::write(
        &key_file,
        gpg(home.path(), &["--armor", "--export", &fpr], None),
    )
    .unwrap();
    let o = cli(
        &ts,
        &[
            "user",
            "key",
            "import",
            "alice@local.test",
            key_file.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let web = ts.addr("web");
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(ca.ca_file()).unwrap()).unwrap(),
        )
        .resolve("openpgpkey.local.test", web)
        .resolve("local.test", web)
        .build()
        .unwrap();
    let hash = "kei1q4tipxxu1yj79k9kfukdhfy631xe"; // z-base-32(SHA-1("alice"))
    let advanced = format!(
        "https://openpgpkey.local.test:{}/.well-known/openpgpkey/local.test/hu/{hash}?l=alice",
        web.port()
    );
    let direct = format!(
        "https://local.test:{}/.well-known/openpgpkey/hu/{hash}?l=alice",
        web.port()
    );
    for url in [&advanced, &direct] {
        let r = client.get(url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        assert_eq!(r.headers()["content-type"], "application/octet-stream");
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        let body = r.bytes().await.unwrap();
        // GnuPG takes what the directory serves.
        let fresh = tempfile::tempdir().unwrap();
        gpg(fresh.path(), &["--import"], Some(&body));
        let listed =
            String::from_utf8(gpg(fresh.path(), &["--with-colons", "--list-keys"], None)).unwrap();
        assert!(listed.contains(&fpr), "{listed}");
        assert!(listed.contains("alice@local.test"));
        assert!(
            !listed.contains("home.example"),
            "only the asked address's User ID"
        );
    }
    for (url, status) in [
        (
            format!(
                "https://local.test:{}/.well-known/openpgpkey/policy",
                web.port()
            ),
            200,
        ),
        (
            format!(
                "https://openpgpkey.local.test:{}/.well-known/openpgpkey/local.test/policy",
                web.port()
            ),
            200,
        ),
        // bob (jycb...: z-base-32 of SHA-1("bob")) has no key; nobody has the second hash.
        (
            format!(
                "https://local.test:{}/.well-known/openpgpkey/hu/{}",
                web.port(),
                "jycbiujnsxs47xrkethgtj69xuunurok"
            ),
            404,
        ),
        (
            format!(
                "https://local.test:{}/.well-known/openpgpkey/hu/{}",
                web.port(),
                "y".repeat(32)
            ),
            404,
        ),
        (
            format!(
                "https://local.test:{}/.well-known/openpgpkey/hu/../../palisade.db",
                web.port()
            ),
            404,
        ),
    ] {
        let r = client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), status, "{url}");
    }
    // Another host's domain is not ours to serve.
    let r = client
        .get(&direct)
        .header("Host", "elsewhere.test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    ts.shutdown().await;
}

/// The same with an S/MIME certificate OpenSSL made: the stored message opens with
/// `openssl cms -decrypt` and the user's private key.
#[tokio::test]
async fn mail_for_a_user_with_a_certificate_opens_with_openssl() {
    let ts = start("").await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = smime_cert(
        dir.path(),
        "carol@local.test",
        &[
            "keyUsage=digitalSignature,keyEncipherment",
            "extendedKeyUsage=emailProtection",
        ],
    );
    let o = cli(
        &ts,
        &[
            "user",
            "key",
            "import",
            "carol@local.test",
            cert.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("S/MIME certificate"));
    assert!(
        cli(&ts, &["user", "encrypt-at-rest", "carol@local.test", "on"])
            .status
            .success()
    );

    let body = "Carol,\r\n\r\nthe lawyers' draft is below.\r\n";
    let message = format!(
        "From: Bob <bob@sender.test>\r\nTo: carol@local.test\r\nSubject: Draft\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <draft@sender.test>\r\n\r\n{body}"
    );
    send(&ts, "carol@local.test", &message).await;
    let stored = ts.wait_for_mail("carol", 1).await.remove(0);
    let text = String::from_utf8_lossy(&stored);
    assert!(text.contains("application/pkcs7-mime; smime-type=enveloped-data"));
    assert!(!text.contains("lawyers") && text.contains("Subject: ...\r\n"));
    let file = dir.path().join("stored.eml");
    std::fs::write(&file, &stored).unwrap();
    let o = Command::new("openssl")
        .args(["cms", "-decrypt", "-binary", "-in"])
        .arg(&file)
        .arg("-recip")
        .arg(&cert)
        .arg("-inkey")
        .arg(&key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let clear = String::from_utf8(o.stdout).unwrap();
    let (inner, inner_body) = clear.split_once("\r\n\r\n").unwrap();
    // The body as received (lettre's DATA adds one empty line; see the OpenPGP test).
    assert_eq!(inner_body, format!("{body}\r\n"));
    assert!(inner.contains("Subject: Draft"));
    ts.shutdown().await;
}

/// Signed inbound mail: an S/MIME signature OpenSSL made, as sent and tampered with, and a
/// PGP/MIME signature by a key the server does not have.
#[tokio::test]
async fn signed_mail_is_checked_into_authentication_results_and_the_verdict() {
    let ts = start("").await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = smime_cert(dir.path(), "bob@sender.test", &[]);
    let entity = dir.path().join("entity");
    std::fs::write(
        &entity,
        "Content-Type: text/plain\r\n\r\nOur bank details are unchanged.\r\n",
    )
    .unwrap();
    let o = Command::new("openssl")
        .args([
            "cms", "-sign", "-binary", "-crlfeol", "-md", "sha256", "-in",
        ])
        .arg(&entity)
        .arg("-signer")
        .arg(&cert)
        .arg("-inkey")
        .arg(&key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let signed = format!(
        "From: Bob <bob@sender.test>\r\nTo: alice@local.test\r\nSubject: Details\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <details@sender.test>\r\n{}",
        // openssl ends some lines of its own with a bare LF: CRLF for SMTP (the signed
        // part is CRLF already, so it is unchanged).
        String::from_utf8(o.stdout)
            .unwrap()
            .replace("\r\n", "\n")
            .replace('\n', "\r\n")
    );
    send(&ts, "alice@local.test", &signed).await;
    send(
        &ts,
        "bob@local.test",
        &signed.replace("unchanged", "changed"),
    )
    .await;
    let good = String::from_utf8(ts.wait_for_mail("alice", 1).await.remove(0)).unwrap();
    assert!(
        good.contains("Authentication-Results: mx.local.test;\r\n\tsmime=pass (signature verifies; signer is the From address"),
        "{good}"
    );
    // Tampered with, from a sender nothing authenticates: held in the quarantine, the
    // failed signature among the reasons, and in the held copy's Authentication-Results.
    let list = String::from_utf8(cli(&ts, &["quarantine", "list"]).stdout).unwrap();
    assert!(list.contains("signature does not verify"), "{list}");
    let id = list
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let show = String::from_utf8(cli(&ts, &["quarantine", "show", &id]).stdout).unwrap();
    assert!(show.contains("\tsmime=fail ("), "{show}");

    // audit message shows the same.
    let file = dir.path().join("signed.eml");
    std::fs::write(&file, &signed).unwrap();
    let o = cli(&ts, &["audit", "message", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("signature: smime=pass"));

    // PGP/MIME from outside, by a key the server does not have: reported, not failed
    // (a user's own key is checked in palisade-crypt's tests).
    let home = tempfile::tempdir().unwrap();
    gpg(
        home.path(),
        &[
            "--quick-gen-key",
            "Carol <carol@sender.test>",
            "future-default",
            "default",
            "never",
        ],
        None,
    );
    let content = "Content-Type: text/plain\r\n\r\nLunch at noon?\r\n";
    let sig = String::from_utf8(gpg(
        home.path(),
        &["--armor", "--detach-sign", "--digest-algo", "SHA256"],
        Some(content.as_bytes()),
    ))
    .unwrap();
    let pgp = format!(
        "From: Carol <carol@sender.test>\r\nTo: alice@local.test\r\nSubject: Lunch\r\n\
         Date: Tue, 01 Dec 2026 11:00:00 +0000\r\nMessage-ID: <lunch@sender.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg=pgp-sha256;\r\n \
         protocol=\"application/pgp-signature\"; boundary=\"s\"\r\n\r\n--s\r\n{content}\r\n\
         --s\r\nContent-Type: application/pgp-signature\r\n\r\n{}\r\n--s--\r\n",
        sig.replace('\n', "\r\n").trim_end()
    );
    send(&ts, "alice@local.test", &pgp).await;
    let mail = ts.wait_for_mail("alice", 2).await;
    let lunch = mail
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .find(|m| m.contains("Lunch"))
        .unwrap();
    assert!(
        lunch.contains("\tx-pgp=neutral (signed by a key this server does not have; signer "),
        "{lunch}"
    );
    ts.shutdown().await;
}

/// Generates a Curve25519 key for `uid` in a fresh GnuPG home; the home and the
/// ASCII-armoured public key file.
fn gpg_key(uid: &str) -> (tempfile::TempDir, PathBuf) {
    let home = tempfile::tempdir().unwrap();
    gpg(
        home.path(),
        &["--quick-gen-key", uid, "future-default", "default", "1y"],
        None,
    );
    let file = home.path().join("public.asc");
    std::fs::write(&file, gpg(home.path(), &["--armor", "--export"], None)).unwrap();
    (home, file)
}

/// Outbound encryption over two real servers: alice (local.test) submits to bob and
/// carol at receiver.test, another Palisade that publishes bob's key in its Web Key
/// Directory. Under `required`, bob's copy is found by WKD over HTTPS, encrypted to
/// him alone, DKIM-signed again (it verifies at the receiver) and opens with gpg to the
/// body alice wrote; carol has no key, so she is not sent it and alice gets a DSN that
/// says why. Under `opportunistic`, carol gets it as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submitted_mail_is_encrypted_to_keys_found_by_wkd_as_the_policy_says() {
    use palisade_checks::signing::{self, KeyAlgorithm};
    use palisade_store::prelude::*;
    use palisade_testkit::DnsAuthority;
    use std::net::Ipv4Addr;

    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new(certs.path());
    let (cert, key) = ca.issue(
        "receiver",
        &["mx.receiver.test", "openpgpkey.receiver.test"],
    );
    let receiver = start(&format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n[web]\naddress = \"127.0.0.1:0\"\n",
        cert.display(),
        key.display()
    ))
    .await;
    receiver.add_mailbox("bob@receiver.test").await;
    receiver.add_mailbox("carol@receiver.test").await;
    let (bob_home, bob_key) = gpg_key("Bob <bob@receiver.test>");
    let o = cli(
        &receiver,
        &[
            "user",
            "key",
            "import",
            "bob@receiver.test",
            bob_key.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let dns = DnsAuthority::start().await;
    dns.mx("receiver.test", 10, "mx.receiver.test")
        .a("mx.receiver.test", Ipv4Addr::LOCALHOST)
        .a("openpgpkey.receiver.test", Ipv4Addr::LOCALHOST);
    let sender = start_with_dns(
        &format!(
            "[delivery]\nremote_port = {}\nextra_ca_file = \"{}\"\nwkd_port = {}\n\
             [queue]\nretry_initial_secs = 1\n",
            receiver.addr("inbound").port(),
            ca.ca_file().display(),
            receiver.addr("web").port()
        ),
        dns,
    )
    .await;
    let k = signing::generate(KeyAlgorithm::Ed25519).unwrap();
    receiver.dns.txt(
        "ed1._domainkey.local.test",
        &signing::dns_record(KeyAlgorithm::Ed25519, &k.public),
    );
    // Both servers have local.test: the receiver takes it from outside only from a
    // host its SPF authorises (issue 15, Medium 9).
    receiver.dns.txt("local.test", "v=spf1 ip4:127.0.0.1 -all");
    sender
        .store
        .add_dkim_key(&palisade_store::DkimKey {
            domain: palisade_types::Domain::parse("local.test").unwrap(),
            selector: "ed1".into(),
            algorithm: KeyAlgorithm::Ed25519.name().into(),
            private_key: k.private_pkcs8,
            public_key: k.public,
            state: "active".into(),
            created: 0,
        })
        .await
        .unwrap();
    let pw = "correct horse battery staple";
    sender.set_password("alice@local.test", pw).await;
    let o = cli(
        &sender,
        &["user", "encrypt-outbound", "alice@local.test", "required"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "outbound encryption for alice@local.test: required"
    );

    let body = "Bob, Carol,\r\n\r\nthe merger closes on Friday.\r\n";
    let message = format!(
        "From: Alice <alice@local.test>\r\nTo: bob@receiver.test, carol@receiver.test\r\n\
         Subject: Merger\r\nMessage-ID: <merger@local.test>\r\n\r\n{body}"
    );
    // carol@local.test, a user here without a key, is held to the same policy.
    submit(
        &sender,
        pw,
        &[
            "bob@receiver.test",
            "carol@receiver.test",
            "carol@local.test",
        ],
        &message,
    )
    .await;

    let bobs = String::from_utf8(
        receiver
            .wait_for_mail("bob@receiver.test", 1)
            .await
            .remove(0),
    )
    .unwrap();
    let (outer, _) = bobs.split_once("\r\n\r\n").unwrap();
    assert!(outer.contains("multipart/encrypted"), "{outer}");
    assert!(outer.contains("Subject: ...") && !bobs.contains("merger closes"));
    assert!(
        outer.contains("dkim=pass") && outer.contains("header.d=local.test"),
        "signed again after encryption, and it verifies: {outer}"
    );
    let start = bobs.find("-----BEGIN PGP MESSAGE-----").unwrap();
    let end = bobs.find("-----END PGP MESSAGE-----").unwrap() + 25;
    let clear = gpg(
        bob_home.path(),
        &["--decrypt"],
        Some(&bobs.as_bytes()[start..end]),
    );
    let clear = String::from_utf8(clear).unwrap();
    let (inner, inner_body) = clear.split_once("\r\n\r\n").unwrap();
    assert_eq!(inner_body, format!("{body}\r\n"), "what alice wrote");
    assert!(inner.contains("Subject: Merger\r\n"), "{inner}");

    // Carol: no key anywhere, so no copy, and a DSN to alice that says why.
    let dsn = String::from_utf8(sender.wait_for_mail("alice", 1).await.remove(0)).unwrap();
    assert!(dsn.contains("carol@receiver.test"), "{dsn}");
    assert!(
        dsn.contains("5.7.5") && dsn.contains("requires encryption"),
        "{dsn}"
    );
    assert!(
        dsn.contains("Final-Recipient: rfc822; carol@local.test"),
        "{dsn}"
    );
    assert_eq!(
        dsn.matches("Final-Recipient:").count(),
        2,
        "bob's was delivered: {dsn}"
    );
    assert!(receiver.mail("carol@receiver.test").is_empty());
    assert!(sender.mail("carol").is_empty());

    // Opportunistic (the domain's policy, which alice now follows): carol gets it as
    // written.
    for args in [
        &["domain", "encrypt-outbound", "local.test", "opportunistic"][..],
        &["user", "encrypt-outbound", "alice@local.test", "domain"][..],
    ] {
        let o = cli(&sender, args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(
        sender
            .store
            .outbound_encryption(&palisade_types::Address::parse("alice@local.test").unwrap())
            .await
            .unwrap()
            .as_deref(),
        Some("opportunistic")
    );
    submit(
        &sender,
        pw,
        &["carol@receiver.test"],
        &message.replace("<merger@", "<m2@"),
    )
    .await;
    let carols = String::from_utf8(
        receiver
            .wait_for_mail("carol@receiver.test", 1)
            .await
            .remove(0),
    )
    .unwrap();
    assert!(carols.contains("merger closes") && !carols.contains("multipart/encrypted"));
    sender.shutdown().await;
    receiver.shutdown().await;
}

/// Submits `message` as alice over the submission port (STARTTLS, AUTH PLAIN).
async fn submit(ts: &TestServer, password: &str, to: &[&str], message: &str) {
    use lettre::transport::smtp::authentication::{Credentials, Mechanism};
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let addr = ts.addr("submission");
    let tls = TlsParameters::builder(HOST.to_string())
        .add_root_certificate(Certificate::from_pem(&ts.cert_pem()).unwrap())
        .build_rustls()
        .unwrap();
    let client = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .tls(Tls::Required(tls))
        .credentials(Credentials::new("alice@local.test".into(), password.into()))
        .authentication(vec![Mechanism::Plain])
        .timeout(Some(Duration::from_secs(30)))
        .build();
    let envelope = Envelope::new(
        Some("alice@local.test".parse().unwrap()),
        to.iter().map(|t| t.parse().unwrap()).collect(),
    )
    .unwrap();
    client
        .send_raw(&envelope, message.as_bytes())
        .await
        .unwrap();
}

/// S/MIME signing of submitted mail: alice imports a certificate and key made by
/// OpenSSL; what she submits arrives multipart/signed and `openssl cms -verify` checks
/// it to the body she wrote. The key is not in the store in clear, a key that is not
/// the certificate's is refused, and after `remove` her mail goes unsigned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submitted_mail_is_signed_with_the_users_certificate() {
    let ts = start("").await;
    let pw = "correct horse battery staple";
    ts.set_password("alice@local.test", pw).await;
    let dir = tempfile::tempdir().unwrap();
    let ext = [
        "keyUsage=digitalSignature",
        "extendedKeyUsage=emailProtection",
    ];
    let (cert, key) = smime_cert(dir.path(), "alice@local.test", &ext);
    let (_, other_key) = smime_cert(dir.path(), "other@local.test", &ext);
    let o = cli(
        &ts,
        &[
            "user",
            "signing",
            "import",
            "alice@local.test",
            cert.to_str().unwrap(),
            other_key.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not belong to the certificate"));
    let o = cli(
        &ts,
        &[
            "user",
            "signing",
            "import",
            "alice@local.test",
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shown =
        String::from_utf8(cli(&ts, &["user", "signing", "show", "alice@local.test"]).stdout)
            .unwrap();
    assert!(shown.starts_with("smime "), "{shown}");

    // The private key is sealed: neither its PEM body nor its DER is in the database.
    let key_pem = std::fs::read_to_string(&key).unwrap();
    let key_line = key_pem.lines().nth(1).unwrap();
    let db = std::fs::read(ts.dir.path().join("palisade.db")).unwrap();
    assert!(!db.windows(key_line.len()).any(|w| w == key_line.as_bytes()));
    use std::os::unix::fs::PermissionsExt;
    let secret = ts.dir.path().join("secret.key");
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let body = "Bob,\r\n\r\nplease approve the budget.\r\n";
    let message = format!(
        "From: Alice <alice@local.test>\r\nTo: bob@local.test\r\nSubject: Budget\r\n\r\n{body}"
    );
    submit(&ts, pw, &["bob@local.test"], &message).await;
    let got = String::from_utf8(ts.wait_for_mail("bob", 1).await.remove(0)).unwrap();
    assert!(
        got.contains("Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\""),
        "{got}"
    );
    let file = dir.path().join("got.eml");
    std::fs::write(&file, &got).unwrap();
    let out = Command::new("openssl")
        .args(["cms", "-verify", "-purpose", "any", "-CAfile"])
        .arg(&cert)
        .arg("-in")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{got}",
        String::from_utf8_lossy(&out.stderr)
    );
    let content = String::from_utf8(out.stdout).unwrap();
    let (inner, inner_body) = content.split_once("\r\n\r\n").unwrap();
    assert_eq!(inner_body, format!("{body}\r\n"), "what alice wrote");
    assert!(
        inner.contains("Subject: Budget\r\n") && inner.contains("Date: "),
        "{inner}"
    );

    assert!(
        cli(&ts, &["user", "signing", "remove", "alice@local.test"])
            .status
            .success()
    );
    submit(&ts, pw, &["bob@local.test"], &message).await;
    let both = ts.wait_for_mail("bob", 2).await;
    assert!(
        both.iter()
            .any(|m| !String::from_utf8_lossy(m).contains("multipart/signed")),
        "unsigned after remove"
    );
    ts.shutdown().await;
}
