//! Interop with GnuPG (Debian's gnupg): keys gpg makes are accepted or refused as they
//! should be, and what Palisade seals, `gpg --decrypt` opens, byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palisade_crypt::at_rest::{Options, Recipient, Sealed, seal};
use palisade_crypt::openpgp::{KeyError, OpenPgpKey};
use std::path::Path;
use std::process::{Command, Stdio};

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

/// A GnuPG home with a key for `uid` (Ed25519 primary, Cv25519 encryption subkey
/// unless `with_subkey` is false), and its armoured public key.
fn key(uid: &str, with_subkey: bool, expire: &str) -> (tempfile::TempDir, String) {
    let home = tempfile::tempdir().unwrap();
    let algo = if with_subkey {
        "future-default"
    } else {
        "ed25519"
    };
    let usage = if with_subkey { "default" } else { "sign" };
    gpg(
        home.path(),
        &["--quick-gen-key", uid, algo, usage, expire],
        None,
    );
    let public = gpg(home.path(), &["--armor", "--export", uid], None);
    (home, String::from_utf8(public).unwrap())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn gpg_keys_are_checked() {
    let (_home, public) = key("Alice Example <alice@example.test>", true, "1y");
    let (_, info) = OpenPgpKey::check(&public, &["ALICE@example.test".into()], now()).unwrap();
    assert_eq!(info.user_ids, ["Alice Example <alice@example.test>"]);
    assert_eq!(info.fingerprint.len(), 40);
    assert!(info.expires.is_some_and(|e| e > now()));

    assert!(matches!(
        OpenPgpKey::check(&public, &["bob@example.test".into()], now()),
        Err(KeyError::NoMatchingUserId { .. })
    ));
    // A year and a day later the key has expired.
    assert!(matches!(
        OpenPgpKey::check(
            &public,
            &["alice@example.test".into()],
            now() + 367 * 86_400
        ),
        Err(KeyError::Expired(_))
    ));

    // An RSA primary key that encrypts itself (no subkey), as older keys are.
    let rsa_home = tempfile::tempdir().unwrap();
    gpg(
        rsa_home.path(),
        &[
            "--quick-gen-key",
            "Dave <dave@example.test>",
            "rsa3072",
            "sign,encr",
            "never",
        ],
        None,
    );
    let rsa = String::from_utf8(gpg(
        rsa_home.path(),
        &["--armor", "--export", "dave@example.test"],
        None,
    ))
    .unwrap();
    let (rsa_key, _) = OpenPgpKey::check(&rsa, &["dave@example.test".into()], now()).unwrap();
    let sealed = rsa_key.encrypt(b"to the primary key", now()).unwrap();
    assert_eq!(
        gpg(rsa_home.path(), &["--decrypt"], Some(sealed.as_bytes())),
        b"to the primary key"
    );

    let (_h, signing_only) = key("Carol <carol@example.test>", false, "never");
    assert_eq!(
        OpenPgpKey::check(&signing_only, &["carol@example.test".into()], now()).unwrap_err(),
        KeyError::NoEncryptionKey
    );

    // One byte changed inside the key material: a signature no longer verifies (or
    // the packet no longer parses).
    let mut lines: Vec<String> = public.lines().map(str::to_string).collect();
    let mid = lines.len() / 2;
    let flipped: String = lines[mid]
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 10 {
                if c == 'A' { 'B' } else { 'A' }
            } else {
                c
            }
        })
        .collect();
    lines[mid] = flipped;
    let tampered = lines.join("\n");
    assert!(matches!(
        OpenPgpKey::check(&tampered, &["alice@example.test".into()], now()),
        Err(KeyError::BadSignature(_) | KeyError::Parse(_))
    ));
}

#[test]
fn what_palisade_seals_gpg_opens_byte_for_byte() {
    let (home, public) = key("Alice <alice@example.test>", true, "never");
    let (checked, _) = OpenPgpKey::check(&public, &["alice@example.test".into()], now()).unwrap();
    let to = Recipient::OpenPgp(checked);
    let body = "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGr\u{fc}\u{df}e, the \
                figures are attached.\r\n--b1\r\nContent-Type: application/pdf; name=a.pdf\r\n\
                Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n";
    let message = format!(
        "Return-Path: <bob@example.net>\r\nReceived: from mx.example.net by mx.example.test\r\n\
         From: Bob <bob@example.net>\r\nTo: alice@example.test\r\nSubject: Quarterly\r\n \
         figures\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <q4@example.net>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n boundary=\"b1\"\r\n\r\n{body}"
    );
    let Sealed::Encrypted(sealed) = seal(
        message.as_bytes(),
        &to,
        Options {
            protect_subject: true,
        },
        now(),
    )
    .unwrap() else {
        panic!("plain mail is sealed")
    };
    let text = String::from_utf8(sealed.clone()).unwrap();
    let (outer, rest) = text.split_once("\r\n\r\n").unwrap();
    assert!(outer.contains("From: Bob <bob@example.net>\r\n"));
    assert!(outer.contains("To: alice@example.test\r\n"));
    assert!(outer.contains("Message-ID: <q4@example.net>\r\n"));
    assert!(outer.contains("Subject: ...\r\n"));
    assert!(outer.contains("Received: from mx.example.net"));
    assert!(outer.contains("multipart/encrypted; protocol=\"application/pgp-encrypted\""));
    assert!(!text.contains("Quarterly") && !text.contains("figures are attached"));
    assert!(!text.contains("JVBERi0xLjQK"));
    assert!(rest.contains("-----BEGIN PGP MESSAGE-----"));

    // gpg reads the armoured part as any mail reader would hand it over.
    let start = text.find("-----BEGIN PGP MESSAGE-----").unwrap();
    let end = text.find("-----END PGP MESSAGE-----").unwrap() + 25;
    let clear = gpg(
        home.path(),
        &["--decrypt"],
        Some(&text.as_bytes()[start..end]),
    );
    let clear = String::from_utf8(clear).unwrap();
    let (inner, inner_body) = clear.split_once("\r\n\r\n").unwrap();
    assert_eq!(inner_body, body, "the body comes back byte for byte");
    assert!(inner.contains("Subject: Quarterly\r\n figures\r\n"));
    assert!(inner.contains("From: Bob <bob@example.net>\r\n"));
    assert!(inner.contains(
        "Content-Type: multipart/mixed;\r\n boundary=\"b1\";\r\n protected-headers=\"v1\""
    ));
    assert!(!inner.contains("Received:"));

    // Mail that arrives encrypted is stored as it is.
    assert!(matches!(
        seal(
            &sealed,
            &to,
            Options {
                protect_subject: true
            },
            now()
        )
        .unwrap(),
        Sealed::AlreadyEncrypted
    ));
}
