//! Time to seal a 100 KiB message at rest (PGP/MIME to the user's key), on one core:
//! a text part and a base64 attachment, to a Curve25519 subkey and to an RSA-3072
//! primary key that encrypts (made by GnuPG), and as S/MIME to an RSA-2048 certificate
//! (made by OpenSSL); both tools must be installed.
//!
//! `cargo bench -p palisade-crypt --bench seal` prints median and p99 per key type.
//! Bounded: a fixed number of iterations.

use palisade_crypt::at_rest::{Options, Recipient, Sealed, seal};
use palisade_crypt::openpgp::OpenPgpKey;
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

/// A self-signed RSA-2048 S/MIME certificate made by OpenSSL.
fn openssl_cert() -> String {
    let dir =
        std::env::temp_dir().join(format!("palisade-seal-bench-smime-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let (c, k) = (dir.join("c.pem"), dir.join("k.pem"));
    let o = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=B",
        ])
        .arg("-keyout")
        .arg(&k)
        .arg("-out")
        .arg(&c)
        .args(["-addext", "subjectAltName=email:bench@example.test"])
        .output()
        .unwrap_or_else(|e| panic!("openssl: {e}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pem = std::fs::read_to_string(&c).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_dir_all(&dir);
    pem
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
            Recipient::Smime(SmimeCert::stored(&openssl_cert()).unwrap_or_else(|e| panic!("{e}")))
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
        let mut times: Vec<Duration> = (0..ITERATIONS)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(seal(std::hint::black_box(&msg), &to, opts, now).ok());
                t.elapsed()
            })
            .collect();
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{name:<42} {:.1} KiB -> {:.1} KiB  median {:.3} ms  p99 {:.3} ms",
            msg.len() as f64 / 1024.0,
            out.len() as f64 / 1024.0,
            ms(times[ITERATIONS / 2]),
            ms(times[ITERATIONS * 99 / 100]),
        );
    }
}
