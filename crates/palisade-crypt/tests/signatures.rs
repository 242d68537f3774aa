//! Signed mail made by GnuPG (PGP/MIME) and OpenSSL (S/MIME) is checked: valid as
//! sent, invalid once a byte of the signed part changes, an unknown OpenPGP key
//! reported as such.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palisade_crypt::openpgp::OpenPgpKey;
use palisade_crypt::signed::{Kind, Known, Status, check};
use std::path::Path;
use std::process::Command;

fn run(cmd: &str, args: &[&std::ffi::OsStr]) -> Vec<u8> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .expect("gnupg and openssl are installed");
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
    args.iter().map(|a| a.into()).collect()
}

fn gpg(home: &Path, args: &[&str]) -> Vec<u8> {
    let mut all = os(&[
        "--homedir",
        home.to_str().unwrap(),
        "--batch",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
    ]);
    all.extend(os(args));
    let refs: Vec<&std::ffi::OsStr> = all.iter().map(|a| a.as_os_str()).collect();
    run("gpg", &refs)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

const ENTITY: &str = "Content-Type: text/plain; charset=utf-8\r\n\r\nPlease pay invoice 4471 to the usual account.\r\n";

fn tamper(message: &str) -> String {
    message.replace("invoice 4471", "invoice 4472")
}

#[test]
fn pgp_mime_signed_by_gnupg() {
    let home = tempfile::tempdir().unwrap();
    gpg(
        home.path(),
        &[
            "--quick-gen-key",
            "Alice <alice@example.test>",
            "future-default",
            "default",
            "never",
        ],
    );
    let public = String::from_utf8(gpg(
        home.path(),
        &["--armor", "--export", "alice@example.test"],
    ))
    .unwrap();
    let key = OpenPgpKey::stored(&public).unwrap();
    let entity = home.path().join("entity");
    std::fs::write(&entity, ENTITY).unwrap();
    let sig = String::from_utf8(gpg(
        home.path(),
        &[
            "--armor",
            "--detach-sign",
            "--digest-algo",
            "SHA256",
            "-o",
            "-",
            entity.to_str().unwrap(),
        ],
    ))
    .unwrap();
    let message = format!(
        "From: Alice <alice@example.test>\r\nTo: bob@example.net\r\nSubject: Invoice\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg=pgp-sha256;\r\n \
         protocol=\"application/pgp-signature\"; boundary=\"sig\"\r\n\r\n\
         --sig\r\n{ENTITY}\r\n--sig\r\nContent-Type: application/pgp-signature; name=\"signature.asc\"\r\n\r\n\
         {}\r\n--sig--\r\n",
        sig.replace('\n', "\r\n").trim_end()
    );
    let keys = [key];
    let known = Known {
        openpgp: &keys,
        smime: &[],
    };
    let c = check(
        message.as_bytes(),
        &known,
        Some("alice@example.test"),
        now(),
    )
    .unwrap();
    assert_eq!((c.kind, &c.status), (Kind::OpenPgp, &Status::Valid));
    assert!(c.known && c.matches_from);
    assert_eq!(c.addresses, ["alice@example.test"]);

    let c = check(
        tamper(&message).as_bytes(),
        &known,
        Some("alice@example.test"),
        now(),
    )
    .unwrap();
    assert!(matches!(c.status, Status::Invalid(_)), "{c:?}");

    let c = check(
        message.as_bytes(),
        &Known::default(),
        Some("alice@example.test"),
        now(),
    )
    .unwrap();
    assert_eq!(c.status, Status::UnknownKey);
    assert_eq!(
        c.signer.len(),
        40,
        "the issuer fingerprint is reported: {c:?}"
    );
    assert!(!c.known);
}

#[test]
fn smime_signed_by_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, entity, signed) = (
        dir.path().join("c.pem"),
        dir.path().join("k.pem"),
        dir.path().join("entity"),
        dir.path().join("signed"),
    );
    let mut args = os(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "30",
        "-subj",
        "/CN=Alice",
        "-keyout",
    ]);
    args.extend([key.clone().into(), "-out".into(), cert.clone().into()]);
    args.extend(os(&["-addext", "subjectAltName=email:alice@example.test"]));
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    run("openssl", &refs);
    std::fs::write(&entity, ENTITY).unwrap();
    let mut args = os(&[
        "cms", "-sign", "-binary", "-crlfeol", "-md", "sha256", "-in",
    ]);
    args.extend([
        entity.into(),
        "-signer".into(),
        cert.clone().into(),
        "-inkey".into(),
        key.into(),
    ]);
    args.extend(["-out".into(), signed.clone().into()]);
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    run("openssl", &refs);
    let message = format!(
        "From: Alice <alice@example.test>\r\nTo: bob@example.net\r\nSubject: Invoice\r\n{}",
        String::from_utf8(std::fs::read(&signed).unwrap()).unwrap()
    );
    assert!(message.contains("multipart/signed"), "{message}");

    let c = check(
        message.as_bytes(),
        &Known::default(),
        Some("alice@example.test"),
        now(),
    )
    .unwrap();
    assert_eq!((c.kind, &c.status), (Kind::Smime, &Status::Valid), "{c:?}");
    assert!(c.matches_from && !c.known);
    let c2 = check(
        message.as_bytes(),
        &Known {
            openpgp: &[],
            smime: std::slice::from_ref(&c.signer),
        },
        None,
        now(),
    )
    .unwrap();
    assert!(c2.known && !c2.matches_from);

    let c = check(tamper(&message).as_bytes(), &Known::default(), None, now()).unwrap();
    assert!(matches!(c.status, Status::Invalid(_)), "{c:?}");
    // After the certificate's 30 days, the signature is no longer taken.
    let c = check(
        message.as_bytes(),
        &Known::default(),
        None,
        now() + 31 * 86_400,
    )
    .unwrap();
    assert!(matches!(c.status, Status::Invalid(_)), "{c:?}");
}

/// S/MIME as other clients send it: opaque signed data (`-nodetach`, RFC 8551 §3.5.2)
/// as well as multipart/signed, and ECDSA P-256 keys as well as RSA.
#[test]
fn smime_opaque_and_ecdsa_signed_by_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let entity = dir.path().join("entity");
    std::fs::write(&entity, ENTITY).unwrap();
    for key in ["rsa:2048", "ec"] {
        let (cert, pkey) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        let mut args = os(&["req", "-x509", "-newkey", key]);
        if key == "ec" {
            args.extend(os(&["-pkeyopt", "ec_paramgen_curve:P-256"]));
        }
        args.extend(os(&[
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=Alice",
            "-keyout",
        ]));
        args.extend([pkey.clone().into(), "-out".into(), cert.clone().into()]);
        args.extend(os(&["-addext", "subjectAltName=email:alice@example.test"]));
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        run("openssl", &refs);
        // `-stream`: BER with indefinite lengths, which CMS allows (RFC 5652 §1;
        // issue 16: such a valid signature was reported as invalid).
        for (opaque, stream) in [(false, false), (true, false), (false, true), (true, true)] {
            let signed = dir.path().join("signed");
            let mut args = os(&["cms", "-sign", "-binary", "-crlfeol", "-md", "sha256"]);
            if opaque {
                args.extend(os(&["-nodetach"]));
            }
            if stream {
                args.extend(os(&["-stream"]));
            }
            args.extend([
                "-in".into(),
                entity.clone().into(),
                "-signer".into(),
                cert.clone().into(),
                "-inkey".into(),
                pkey.clone().into(),
                "-out".into(),
                signed.clone().into(),
            ]);
            let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
            run("openssl", &refs);
            let message = format!(
                "From: alice@example.test\r\nSubject: Invoice\r\n{}",
                String::from_utf8(std::fs::read(&signed).unwrap()).unwrap()
            );
            assert_eq!(
                message.contains("smime-type=signed-data"),
                opaque,
                "{message}"
            );
            let c = check(
                message.as_bytes(),
                &Known::default(),
                Some("alice@example.test"),
                now(),
            )
            .unwrap_or_else(|| panic!("{key} opaque={opaque}: recognised"));
            assert_eq!(
                (c.kind, &c.status),
                (Kind::Smime, &Status::Valid),
                "{key} opaque={opaque} stream={stream}: {c:?}"
            );
            assert!(c.matches_from);
            // Opaque content is inside the base64 DER: change it there.
            let broken = if opaque {
                use base64::Engine;
                let b64 = base64::engine::general_purpose::STANDARD;
                let (head, body) = message.split_once("\r\n\r\n").unwrap();
                let der = b64.decode(body.replace(['\r', '\n'], "")).unwrap();
                let at = der.windows(12).position(|w| w == b"invoice 4471").unwrap();
                let mut der = der;
                der[at + 11] = b'2';
                format!("{head}\r\n\r\n{}\r\n", b64.encode(der))
            } else {
                tamper(&message)
            };
            let c = check(broken.as_bytes(), &Known::default(), None, now()).unwrap();
            assert!(
                matches!(c.status, Status::Invalid(_)),
                "{key} opaque={opaque}: {c:?}"
            );
        }
    }
}
