//! Time to seal a 100 KiB message at rest (PGP/MIME to the user's key), on one core:
//! a text part and a base64 attachment, to a Curve25519 subkey and to an RSA-3072
//! primary key that encrypts (made by GnuPG), and as S/MIME to an RSA-2048 certificate
//! (made by OpenSSL); then the time to sign it with S/MIME (RSA-2048 and ECDSA P-256
//! keys OpenSSL made). Both tools must be installed.
//!
//! `cargo bench -p palisade-crypt --bench seal` prints median and p99 per key type.
//! Bounded: a fixed number of iterations.

use palisade_crypt::at_rest::{Options, Recipient, Sealed, seal};
use palisade_crypt::openpgp::OpenPgpKey;
use palisade_crypt::sign::SigningIdentity;
use palisade_crypt::smime::SmimeCert;
use std::process::Command;
use std::time::{Duration, Instant};

const ITERATIONS: usize = 1000;

fn gpg_key(algo: &str) -> String {
    let home =
        std::env::temp_dir().join(format!("palisade-seal-bench-{algo}-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap_or_else(|e| panic!("{e}"));
    let run = |args: &[&str]| {
        let o = Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("gpg: {e}"));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    let uid = format!("Bench <bench-{algo}@example.test>");
    // RSA as many older keys are: one primary key that signs and encrypts.
    let usage = if algo.starts_with("rsa") {
        "sign,encr"
    } else {
        "default"
    };
    run(&["--quick-gen-key", &uid, algo, usage, "never"]);
    let public = run(&["--armor", "--export", &uid]);
    let _ = std::fs::remove_dir_all(&home);
    String::from_utf8(public).unwrap_or_else(|e| panic!("{e}"))
}

/// About 100 KiB: headers, a text part and a base64 attachment.
fn message() -> Vec<u8> {
    let mut m = String::from(
        "Return-Path: <bob@example.net>\r\nReceived: from mx.example.net by mx.example.test\r\n\
         From: Bob <bob@example.net>\r\nTo: Bench <bench@example.test>\r\nSubject: Report\r\n\
         Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <r@example.net>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
    );
    for i in 0..200 {
        m.push_str(&format!(
            "Line {i} of the report, with figures and some words.\r\n"
        ));
    }
    m.push_str("--b\r\nContent-Type: application/pdf; name=r.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    let mut n: u32 = 1;
    while m.len() < 100 * 1024 {
        let line: String = (0..76)
            .map(|_| {
                n = n.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                    [(n >> 16) as usize % 64] as char
            })
            .collect();
        m.push_str(&line);
        m.push_str("\r\n");
    }
    m.push_str("--b--\r\n");
    m.into_bytes()
}

/// A self-signed S/MIME certificate made by OpenSSL for `newkey` (`rsa:2048`, `ec`):
/// the certificate and its private key, PEM.
fn openssl_cert(newkey: &str) -> (String, String) {
    let dir =
        std::env::temp_dir().join(format!("palisade-seal-bench-smime-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let (c, k) = (dir.join("c.pem"), dir.join("k.pem"));
    let mut cmd = Command::new("openssl");
    cmd.args(["req", "-x509", "-newkey", newkey]);
    if newkey == "ec" {
        cmd.args(["-pkeyopt", "ec_paramgen_curve:P-256"]);
    }
    let o = cmd
        .args(["-nodes", "-days", "30", "-subj", "/CN=B", "-keyout"])
        .arg(&k)
        .arg("-out")
        .arg(&c)
        .args(["-addext", "subjectAltName=email:bench@example.test"])
        .output()
        .unwrap_or_else(|e| panic!("openssl: {e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{e}"));
    let pair = (read(&c), read(&k));
    let _ = std::fs::remove_dir_all(&dir);
    pair
}

/// Median and p99 of `ITERATIONS` runs of `f`.
fn time(mut f: impl FnMut()) -> (f64, f64) {
    let mut times: Vec<Duration> = (0..ITERATIONS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(times[ITERATIONS / 2]), ms(times[ITERATIONS * 99 / 100]))
}

fn main() {
    let msg = message();
    let recipients = [
        ("OpenPGP, Curve25519 (gpg future-default)", "future-default"),
        ("OpenPGP, RSA-3072", "rsa3072"),
        ("S/MIME, RSA-2048 (openssl)", "smime"),
    ];
    for (name, algo) in recipients {
        let to = if algo == "smime" {
            let (cert, _) = openssl_cert("rsa:2048");
            Recipient::Smime(SmimeCert::stored(&cert).unwrap_or_else(|e| panic!("{e}")))
        } else {
            Recipient::OpenPgp(OpenPgpKey::stored(&gpg_key(algo)).unwrap_or_else(|e| panic!("{e}")))
        };
        let opts = Options {
            protect_subject: true,
        };
        let now = 1_800_000_000;
        let sealed = seal(&msg, &to, opts, now).unwrap_or_else(|e| panic!("{e}"));
        let Sealed::Encrypted(out) = sealed else {
            panic!("plain mail is sealed")
        };
        let (median, p99) = time(|| {
            std::hint::black_box(seal(std::hint::black_box(&msg), &to, opts, now).ok());
        });
        println!(
            "{name:<42} {:.1} KiB -> {:.1} KiB  median {median:.3} ms  p99 {p99:.3} ms",
            msg.len() as f64 / 1024.0,
            out.len() as f64 / 1024.0,
        );
    }
    // S/MIME signing of the same message (multipart/signed, SHA-256, aws-lc-rs).
    for (name, newkey) in [
        ("S/MIME signing, RSA-2048", "rsa:2048"),
        ("S/MIME signing, ECDSA P-256", "ec"),
    ] {
        let (cert, key) = openssl_cert(newkey);
        let id = SigningIdentity::stored(&cert, &key).unwrap_or_else(|e| panic!("{e}"));
        let out = id
            .sign(&msg)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("signed"));
        let (median, p99) = time(|| {
            std::hint::black_box(id.sign(std::hint::black_box(&msg)).ok());
        });
        println!(
            "{name:<42} {:.1} KiB -> {:.1} KiB  median {median:.3} ms  p99 {p99:.3} ms",
            msg.len() as f64 / 1024.0,
            out.len() as f64 / 1024.0,
        );
    }
}
