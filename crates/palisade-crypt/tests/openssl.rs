//! Interop with OpenSSL (Debian's openssl): certificates it makes are accepted or
//! refused as they should be, and what Palisade seals, `openssl cms -decrypt` opens,
//! byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palisade_crypt::at_rest::{Options, Recipient, Sealed, seal};
use palisade_crypt::sign::{SignError, SigningIdentity};
use palisade_crypt::signed::{Kind, Known, Status, check};
use palisade_crypt::smime::{CertError, SmimeCert};
use std::path::{Path, PathBuf};
use std::process::Command;

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A self-signed certificate and its key, as files in `dir`.
fn cert(dir: &Path, name: &str, key: &str, ext: &[&str]) -> (PathBuf, PathBuf) {
    let (c, k) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let mut args = vec!["req", "-x509", "-newkey", key];
    if key == "ec" {
        args.extend(["-pkeyopt", "ec_paramgen_curve:P-256"]);
    }
    args.extend([
        "-nodes",
        "-days",
        "30",
        "-subj",
        "/CN=Test",
        "-keyout",
        k.to_str().unwrap(),
        "-out",
        c.to_str().unwrap(),
    ]);
    for e in ext {
        args.extend(["-addext", e]);
    }
    openssl(&args);
    (c, k)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

const GOOD: &[&str] = &[
    "subjectAltName=email:alice@example.test",
    "keyUsage=digitalSignature,keyEncipherment",
    "extendedKeyUsage=emailProtection",
];

#[test]
fn openssl_certificates_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let alice = ["alice@example.test".to_string()];
    let (c, _) = cert(dir.path(), "good", "rsa:2048", GOOD);
    let pem = std::fs::read_to_string(&c).unwrap();
    let (_, info) = SmimeCert::check(&pem, &["ALICE@example.test".into()], now()).unwrap();
    assert_eq!(info.addresses, ["alice@example.test"]);
    assert_eq!(info.fingerprint.len(), 64);
    assert!(matches!(
        SmimeCert::check(&pem, &["bob@example.test".into()], now()),
        Err(CertError::NoMatchingAddress { .. })
    ));
    assert!(matches!(
        SmimeCert::check(&pem, &alice, now() + 31 * 86_400),
        Err(CertError::Expired(_))
    ));

    let refused = |name: &str, key: &str, ext: &[&str]| {
        let (c, _) = cert(dir.path(), name, key, ext);
        SmimeCert::check(&std::fs::read_to_string(c).unwrap(), &alice, now()).unwrap_err()
    };
    assert_eq!(
        refused(
            "server",
            "rsa:2048",
            &[
                "subjectAltName=email:alice@example.test",
                "extendedKeyUsage=serverAuth"
            ]
        ),
        CertError::ExtendedKeyUsage
    );
    assert_eq!(
        refused(
            "signonly",
            "rsa:2048",
            &[
                "subjectAltName=email:alice@example.test",
                "keyUsage=digitalSignature"
            ]
        ),
        CertError::KeyUsage("key encipherment")
    );
    assert!(matches!(
        refused("nosan", "rsa:2048", &["keyUsage=keyEncipherment"]),
        CertError::NoMatchingAddress { .. }
    ));
    assert_eq!(refused("ec", "ec", GOOD), CertError::NotRsa);
}

#[test]
fn what_palisade_seals_openssl_opens_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (c, k) = cert(dir.path(), "alice", "rsa:2048", GOOD);
    let pem = std::fs::read_to_string(&c).unwrap();
    let (checked, _) = SmimeCert::check(&pem, &["alice@example.test".into()], now()).unwrap();
    let body = "Gr\u{fc}\u{df}e,\r\n\r\nthe contract is attached.\r\n";
    let message = format!(
        "Return-Path: <bob@example.net>\r\nFrom: Bob <bob@example.net>\r\n\
         To: alice@example.test\r\nSubject: Contract\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\
         Message-ID: <c@example.net>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}"
    );
    let opts = Options {
        protect_subject: true,
    };
    let Sealed::Encrypted(sealed) = seal(
        message.as_bytes(),
        &Recipient::Smime(checked.clone()),
        opts,
        now(),
    )
    .unwrap() else {
        panic!("plain mail is sealed")
    };
    let text = String::from_utf8(sealed.clone()).unwrap();
    let (outer, _) = text.split_once("\r\n\r\n").unwrap();
    assert!(outer.contains("Content-Type: application/pkcs7-mime; smime-type=enveloped-data"));
    assert!(outer.contains("Subject: ...\r\n") && outer.contains("From: Bob <bob@example.net>"));
    assert!(!text.contains("Contract") && !text.contains("contract is attached"));

    // OpenSSL reads the whole message, as a mail reader would hand it over.
    let file = dir.path().join("sealed.eml");
    std::fs::write(&file, &sealed).unwrap();
    let clear = openssl(&[
        "cms",
        "-decrypt",
        "-in",
        file.to_str().unwrap(),
        "-recip",
        c.to_str().unwrap(),
        "-inkey",
        k.to_str().unwrap(),
        "-binary",
    ]);
    let clear = String::from_utf8(clear).unwrap();
    let (inner, inner_body) = clear.split_once("\r\n\r\n").unwrap();
    assert_eq!(inner_body, body, "the body comes back byte for byte");
    assert!(inner.contains("Subject: Contract\r\n"));
    assert!(inner.contains("Content-Transfer-Encoding: 8bit"), "{inner}");

    assert!(matches!(
        seal(&sealed, &Recipient::Smime(checked), opts, now()).unwrap(),
        Sealed::AlreadyEncrypted
    ));
}

/// `openssl cms -verify` of a signed message file against `ca`, in S/MIME's text mode
/// (what a mail client does: `-binary` would read the CRLFs of the multipart as
/// content); its output (the signed content) on success, `None` when it does not verify.
fn openssl_verifies(dir: &Path, message: &[u8], ca: &Path) -> Option<Vec<u8>> {
    let (file, out) = (dir.join("signed.eml"), dir.join("content"));
    std::fs::write(&file, message).unwrap();
    let status = Command::new("openssl")
        .args(["cms", "-verify", "-purpose", "any", "-in"])
        .arg(&file)
        .arg("-CAfile")
        .arg(ca)
        .arg("-out")
        .arg(&out)
        .output()
        .unwrap();
    status
        .status
        .success()
        .then(|| std::fs::read(&out).unwrap())
}

#[test]
fn what_palisade_signs_openssl_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let alice = ["alice@example.test".to_string()];
    let body = "Bob,\r\n\r\nthe contract is attached in spirit.\r\n";
    let message = format!(
        "From: Alice <alice@example.test>\r\nTo: bob@example.net\r\nSubject: Contract\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    );
    for (name, kind) in [("rsa", "rsa:2048"), ("ec", "ec")] {
        let (c, k) = cert(dir.path(), name, kind, GOOD);
        let cert_pem = std::fs::read_to_string(&c).unwrap();
        let key_pem = std::fs::read_to_string(&k).unwrap();
        let (id, info) = SigningIdentity::check(&cert_pem, &key_pem, &alice, now()).unwrap();
        assert_eq!(info.addresses, alice);
        let signed = id.sign(message.as_bytes()).unwrap().expect("signed");
        let text = String::from_utf8(signed.clone()).unwrap();
        assert!(
            text.contains("Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256;"),
            "{text}"
        );
        assert!(text.starts_with("From: Alice <alice@example.test>\r\n"));
        let content = openssl_verifies(dir.path(), &signed, &c)
            .unwrap_or_else(|| panic!("{name}: openssl verifies:\n{text}"));
        let content = String::from_utf8(content).unwrap();
        let (inner, inner_body) = content.split_once("\r\n\r\n").unwrap();
        assert_eq!(inner_body, body, "{name}: the body, byte for byte");
        assert!(
            inner.contains("Subject: Contract\r\n"),
            "protected: {inner}"
        );

        // A changed word in the signed part, and the signature no longer verifies.
        let tampered = text.replacen("in spirit", "in blood!", 1);
        assert!(openssl_verifies(dir.path(), tampered.as_bytes(), &c).is_none());

        // Signed or encrypted already: left as it is.
        assert!(id.sign(&signed).unwrap().is_none());
        if name == "rsa" {
            // Palisade's own inbound check agrees (it verifies RSA signatures).
            let v = check(
                &signed,
                &Known::default(),
                Some("alice@example.test"),
                now(),
            )
            .unwrap();
            assert_eq!((v.kind, &v.status), (Kind::Smime, &Status::Valid), "{v:?}");
            assert!(v.matches_from);
            let v = check(tampered.as_bytes(), &Known::default(), None, now()).unwrap();
            assert!(matches!(v.status, Status::Invalid(_)), "{v:?}");
            let Sealed::Encrypted(sealed) = seal(
                message.as_bytes(),
                &Recipient::Smime(SmimeCert::stored(&cert_pem).unwrap()),
                Options {
                    protect_subject: false,
                },
                now(),
            )
            .unwrap() else {
                panic!("sealed")
            };
            assert!(id.sign(&sealed).unwrap().is_none());
            // Signed, then encrypted (what outbound encryption does with signed mail):
            // OpenSSL decrypts, then verifies what it decrypted.
            let Sealed::Encrypted(both) = seal(
                &signed,
                &Recipient::Smime(SmimeCert::stored(&cert_pem).unwrap()),
                Options {
                    protect_subject: true,
                },
                now(),
            )
            .unwrap() else {
                panic!("signed mail is sealed")
            };
            let file = dir.path().join("both.eml");
            std::fs::write(&file, &both).unwrap();
            let opened = openssl(&[
                "cms",
                "-decrypt",
                "-binary",
                "-in",
                file.to_str().unwrap(),
                "-recip",
                c.to_str().unwrap(),
                "-inkey",
                k.to_str().unwrap(),
            ]);
            let content = openssl_verifies(dir.path(), &opened, &c).expect("verifies");
            assert!(String::from_utf8(content).unwrap().ends_with(body));
        }
    }

    // Refusals: another certificate's key, an encrypted key, a certificate that may not
    // sign, none for this user.
    let (c, _) = cert(dir.path(), "a", "rsa:2048", GOOD);
    let (_, other_key) = cert(dir.path(), "b", "rsa:2048", GOOD);
    let pem = |p: &Path| std::fs::read_to_string(p).unwrap();
    assert!(matches!(
        SigningIdentity::check(&pem(&c), &pem(&other_key), &alice, now()),
        Err(SignError::KeyMismatch)
    ));
    let locked = dir.path().join("locked.key");
    openssl(&[
        "pkey",
        "-in",
        other_key.to_str().unwrap(),
        "-aes256",
        "-passout",
        "pass:x",
        "-out",
        locked.to_str().unwrap(),
    ]);
    assert!(matches!(
        SigningIdentity::check(&pem(&c), &pem(&locked), &alice, now()),
        Err(SignError::KeyEncrypted)
    ));
    let (c, k) = cert(
        dir.path(),
        "enc-only",
        "rsa:2048",
        &[
            "subjectAltName=email:alice@example.test",
            "keyUsage=keyEncipherment",
        ],
    );
    assert!(matches!(
        SigningIdentity::check(&pem(&c), &pem(&k), &alice, now()),
        Err(SignError::Cert(CertError::KeyUsage("digital signatures")))
    ));
    let (c, k) = cert(dir.path(), "alice2", "rsa:2048", GOOD);
    assert!(matches!(
        SigningIdentity::check(&pem(&c), &pem(&k), &["carol@example.test".into()], now()),
        Err(SignError::Cert(CertError::NoMatchingAddress { .. }))
    ));
    assert!(matches!(
        SigningIdentity::check(&pem(&c), "no key here", &alice, now()),
        Err(SignError::NoKey)
    ));
}
