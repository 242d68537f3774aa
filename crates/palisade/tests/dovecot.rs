//! Mailboxes through Dovecot (issue 18): Palisade hands local mail to Dovecot's LMTP
//! service (RFC 2033), and Dovecot checks IMAP passwords with `palisade auth
//! checkpassword`, so IMAP logins obey Palisade's passwords, app-password scopes,
//! lockouts and bans. Debian's real dovecot-imapd and dovecot-lmtpd, started here.
#![allow(clippy::unwrap_used)]

mod common;

use common::dovecot::{Dovecot, share_auth_socket};
use common::*;
use lettre::AsyncTransport;
use palisade_store::prelude::*;
use std::path::PathBuf;
use std::time::Duration;

const PW: &str = "violet ferry granite spoon";

/// A Palisade whose local mail goes to `lmtp` and which answers on an auth socket in a
/// directory Dovecot's user can reach.
async fn palisade_for_dovecot(sockets: &tempfile::TempDir, lmtp: &std::path::Path) -> TestServer {
    let extra = format!(
        "[dovecot]\nlmtp = \"lmtp://{}\"\nauth_socket = \"{}\"\n\
         [security]\nmax_login_failures = 3\n",
        lmtp.display(),
        sockets.path().join("auth.sock").display()
    );
    start(&extra).await
}

fn auth_socket_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        d.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    d
}

/// `user app-password add USER --label LABEL --scope SCOPE`: the password printed.
fn app_password(ts: &TestServer, user: &str, label: &str, scope: &str) -> String {
    let out = cli(
        ts,
        &[
            "user",
            "app-password",
            "add",
            user,
            "--label",
            label,
            "--scope",
            scope,
        ],
    );
    out.lines()
        .map(str::trim)
        .find(|l| l.len() == 19 && l.matches('-').count() == 3)
        .unwrap()
        .to_string()
}

async fn send(ts: &TestServer, to: &str, subject: &str) {
    let msg = lettre::Message::builder()
        .from("someone@example.net".parse().unwrap())
        .to(to.parse().unwrap())
        .subject(subject)
        .body(String::from("Hello through LMTP.\r\n"))
        .unwrap();
    inbound(ts).send(msg).await.unwrap();
}

async fn wait_for_inbox(dovecot: &Dovecot, user: &str, n: usize) -> Vec<Vec<u8>> {
    for _ in 0..400 {
        let got = dovecot.inbox(user);
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{user}: no mail at Dovecot; its log:\n{}", dovecot.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc2033_local_mail_goes_to_dovecot_and_is_read_over_imaps_with_an_app_password() {
    let sockets = auth_socket_dir();
    let lmtp_path: PathBuf;
    let dovecot = {
        // Dovecot needs the socket path, Palisade the LMTP path: the socket path is fixed
        // before either starts.
        let d = Dovecot::start(&sockets.path().join("auth.sock")).await;
        lmtp_path = d.lmtp.clone();
        d
    };
    let ts = palisade_for_dovecot(&sockets, &lmtp_path).await;
    share_auth_socket(&sockets.path().join("auth.sock"));
    ts.set_password("alice@local.test", PW).await;
    let imap_pw = app_password(&ts, "alice@local.test", "laptop-mail", "imap");
    let smtp_pw = app_password(&ts, "alice@local.test", "laptop-send", "submission");

    send(&ts, "alice@local.test", "through lmtp").await;
    let stored = wait_for_inbox(&dovecot, "alice@local.test", 1).await;
    let text = String::from_utf8_lossy(&stored[0]).into_owned();
    assert!(text.contains("Subject: through lmtp"), "{text}");
    // Dovecot, the delivering agent, wrote Return-Path (RFC 5321 §4.4); once only.
    assert_eq!(
        text.matches("Return-Path: <someone@example.net>").count(),
        1,
        "{text}"
    );
    assert!(text.contains("Authentication-Results:"), "{text}");
    // Nothing went to Palisade's own Maildir.
    assert!(ts.mail("alice").is_empty());

    // IMAPS with the imap app password, the user name in another case: one mailbox.
    let mut imap = dovecot.imap().await;
    assert!(
        imap.login("Alice@Local.TEST", &imap_pw).await,
        "{}",
        dovecot.log()
    );
    let select = imap.cmd("SELECT INBOX").await;
    assert!(select.contains("* 1 EXISTS"), "{select}");
    let fetched = imap.cmd("FETCH 1 BODY.PEEK[]").await;
    assert!(fetched.contains("Hello through LMTP."), "{fetched}");
    imap.cmd("LOGOUT").await;

    // Scopes hold both ways: the submission password does not open IMAP, the imap
    // password does not send mail.
    let mut imap = dovecot.imap().await;
    assert!(!imap.login("alice@local.test", &smtp_pw).await);
    let r = auth_once(&ts, "submissions", "alice@local.test", &imap_pw)
        .await
        .unwrap();
    assert!(r.starts_with("535"), "{r}");
    let r = auth_once(&ts, "submissions", "alice@local.test", &smtp_pw)
        .await
        .unwrap();
    assert!(r.starts_with("235"), "{r}");
    // The account password works over IMAP too (no two-factor here).
    assert!(imap.login("alice@local.test", PW).await);
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_imap_passwords_lock_the_account_for_smtp_too() {
    let sockets = auth_socket_dir();
    let dovecot = Dovecot::start(&sockets.path().join("auth.sock")).await;
    let ts = palisade_for_dovecot(&sockets, &dovecot.lmtp).await;
    share_auth_socket(&sockets.path().join("auth.sock"));
    ts.set_password("bob@local.test", PW).await;
    let lock = || async { ts.store.lockout("bob@local.test").await.unwrap() };
    // max_login_failures = 3 distinct wrong passwords, over IMAP.
    for guess in ["guess one", "guess two", "guess three"] {
        assert!(lock().await.is_none());
        let mut imap = dovecot.imap().await;
        assert!(!imap.login("bob@local.test", guess).await);
    }
    let block = lock().await.expect("locked by the IMAP failures");
    assert!(block.until > palisade_queue::now_secs());
    // The failures are the server's security events, saying which service.
    let events = cli(&ts, &["security", "events", "--user", "bob@local.test"]);
    assert!(events.contains("auth.fail"), "{events}");
    assert!(events.contains("(imap)"), "{events}");
    // Locked for SMTP AUTH as well: this address never logged in, so even the right
    // password is refused (`454`-class locked reply, not 235).
    let r = auth_once(&ts, "submissions", "bob@local.test", PW)
        .await
        .unwrap();
    assert!(!r.starts_with("235"), "{r}");
    // And for IMAP.
    let mut imap = dovecot.imap().await;
    assert!(!imap.login("bob@local.test", PW).await);
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpassword_without_a_server_is_a_temporary_failure_not_a_refusal() {
    // Run as Dovecot would, but with nothing listening: exit 111, never 1.
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("none.sock");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "printf 'alice@local.test\\0pw\\0\\0' | {BIN} auth checkpassword --socket {} 3<&0",
            sock.display()
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(111), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("none.sock"));
}
