//! `palisade backup` and `restore` (issue 17), end to end: a backup taken while a real
//! server runs holds no secret in clear, and restored into a new data directory it
//! serves the same mailboxes: the mail already there, and new mail over SMTP.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use lettre::AsyncTransport;
use lettre::address::Envelope;
use palisade_store::prelude::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const PASSPHRASE: &str = "a backup passphrase, long enough";

async fn send_to_alice(addr: std::net::SocketAddr, subject: &str) {
    let client = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(
        addr.ip().to_string(),
    )
    .port(addr.port())
    .build();
    let env = Envelope::new(
        Some("friend@sender.test".parse().unwrap()),
        vec!["alice@local.test".parse().unwrap()],
    )
    .unwrap();
    let msg = format!(
        "From: friend@sender.test\r\nTo: alice@local.test\r\nSubject: {subject}\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@sender.test>\r\n\r\nHello.\r\n"
    );
    client.send_raw(&env, msg.as_bytes()).await.unwrap();
}

/// Every file under `dir`, read whole.
fn files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// `palisade serve` on `data`; the inbound address from its banner.
fn serve(data: &Path) -> (std::process::Child, std::net::SocketAddr) {
    let banner = data.with_extension("banner");
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(data)
        .arg("serve")
        .stdout(std::fs::File::create(&banner).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..400 {
        let text = std::fs::read_to_string(&banner).unwrap_or_default();
        if let Some(addr) = text.lines().find_map(|l| {
            l.trim()
                .strip_prefix("inbound")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|a| a.parse().ok())
        }) {
            return (child, addr);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("no banner from the restored server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_the_same_mailboxes() {
    let ts = start("[policy]\nsender_checks = false\n").await;
    let data = ts.dir.path();
    std::fs::write(data.join("palisade.toml"), &ts.toml).unwrap();
    let o = cli_with_stdin(
        data,
        &["user", "passwd", "alice@local.test"],
        "correct horse battery staple\n",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        cli_with_stdin(data, &["dkim", "keygen", "local.test"], "")
            .status
            .success()
    );
    send_to_alice(ts.addr("inbound"), "before").await;
    let before = ts.wait_for_mail("alice", 1).await;

    // While the server runs.
    let out = tempfile::tempdir().unwrap();
    let bk = out.path().join("bk");
    let o = cli_with_stdin(
        data,
        &["backup", bk.to_str().unwrap()],
        &format!("{PASSPHRASE}\n"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // No secret in clear: the store, TLS and DKIM private keys, the password hash.
    let keys = ts.store.list_dkim_keys(None).await.unwrap();
    let hash = ts
        .store
        .password_hash(&palisade_types::Address::parse("alice@local.test").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut secrets: Vec<Vec<u8>> = vec![
        b"SQLite format 3".to_vec(),
        b"PRIVATE KEY".to_vec(),
        hash.into_bytes(),
    ];
    secrets.extend(keys.iter().map(|k| k.private_key.as_bytes()[..40].to_vec()));
    let backed = files(&bk);
    for (path, bytes) in &backed {
        for s in &secrets {
            assert!(
                !contains(bytes, s),
                "{} holds a secret in clear",
                path.display()
            );
        }
    }
    // The mail itself is there as the data directory holds it.
    assert!(backed.iter().any(|(_, b)| *b == before[0]));

    // A wrong passphrase restores nothing.
    let restored = out.path().join("restored");
    let o = cli_with_stdin(
        &restored,
        &["restore", bk.to_str().unwrap()],
        "not the passphrase\n",
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("wrong passphrase"));
    assert!(!restored.exists());

    // Nothing in it can be swapped: a message, or the manifest that vouches for it.
    let restore = || {
        cli_with_stdin(
            &restored,
            &["restore", bk.to_str().unwrap()],
            &format!("{PASSPHRASE}\n"),
        )
    };
    let mail = files(&bk.join("data/mail")).remove(0).0;
    let original = std::fs::read(&mail).unwrap();
    std::fs::write(&mail, b"From: someone else\r\n\r\nPay here.\r\n").unwrap();
    let o = restore();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("damaged"),
        "{o:?}"
    );
    std::fs::write(&mail, &original).unwrap();
    let manifest = bk.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replacen("\"sealed\": true", "\"sealed\": false", 1),
    )
    .unwrap();
    let o = restore();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("altered"),
        "{o:?}"
    );
    std::fs::write(&manifest, &text).unwrap();
    assert!(!restored.exists());

    let o = restore();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let list =
        |d: &Path, args: &[&str]| String::from_utf8(cli_with_stdin(d, args, "").stdout).unwrap();
    for args in [&["user", "list"][..], &["dkim", "list"], &["alias", "list"]] {
        assert_eq!(list(data, args), list(&restored, args), "{args:?}");
    }
    assert_eq!(
        std::fs::read(data.join("tls/self-signed-key.pem")).unwrap(),
        std::fs::read(restored.join("tls/self-signed-key.pem")).unwrap()
    );
    ts.shutdown().await;

    // The restored directory serves: old mail in place, new mail delivered beside it.
    let (mut server, inbound) = serve(&restored);
    send_to_alice(inbound, "after").await;
    let new = restored.join("mail/local.test/alice/new");
    let mut count = 0;
    for _ in 0..400 {
        count = std::fs::read_dir(&new).map_or(0, |r| r.count());
        if count == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(count, 2, "{}", new.display());
}
