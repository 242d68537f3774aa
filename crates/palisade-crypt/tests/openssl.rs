//! Interop with OpenSSL (Debian's openssl): certificates it makes are accepted or
//! refused as they should be, and what Palisade seals, `openssl cms -decrypt` opens,
//! byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palisade_crypt::at_rest::{Options, Recipient, Sealed, seal};
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
        CertError::KeyUsage
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
