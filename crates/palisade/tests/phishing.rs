//! The phishing engine inside `serve`, over real SMTP (lettre): verdict headers and
//! trust-header hygiene, tag (banner, subject prefix), quarantine with its reasons,
//! reject with `550 5.7.1`, the scan limit, users' names, first contact, and submitted
//! phishing from a compromised account.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Mechanism;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use palisade_store::prelude::*;
use palisade_testkit::DnsAuthority;
use palisade_types::Address;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_palisade");
const PW: &str = "correct horse battery staple";

/// Sends `message` from `from` to `to`; the server's reply (or its error) as text.
async fn send(
    client: &AsyncSmtpTransport<Tokio1Executor>,
    from: &str,
    to: &str,
    message: &str,
) -> Result<String, String> {
    let env = Envelope::new(Some(from.parse().unwrap()), vec![to.parse().unwrap()]).unwrap();
    client
        .send_raw(&env, message.as_bytes())
        .await
        .map(|r| format!("{} {}", r.code(), r.message().collect::<Vec<_>>().join(" ")))
        .map_err(|e| e.to_string())
}

fn mail(from: &str, subject: &str, extra: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: alice@local.test\r\nSubject: {subject}\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{}@x>\r\n{extra}\r\n{body}",
        subject.replace(' ', ".")
    )
}

/// sender.test publishes SPF for loopback and DMARC p=none: its mail aligns.
fn sender_zone(dns: &DnsAuthority) {
    dns.txt("sender.test", "v=spf1 ip4:127.0.0.1 -all")
        .txt("_dmarc.sender.test", "v=DMARC1; p=none");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_over_smtp() {
    let dns = DnsAuthority::start().await;
    sender_zone(&dns);
    let ts = start_with_dns(
        "[phishing]\nsubject_prefix = \"[SUSPICIOUS]\"\nmax_parts = 200\n",
        dns,
    )
    .await;
    ts.store
        .set_user_name(&Address::parse("alice@local.test").unwrap(), "Alice Martin")
        .await
        .unwrap();
    let c = inbound(&ts);

    // Clean and authenticated, but pre-labelled by the sender: its labels go, ours come.
    let clean = mail(
        "Friend <friend@sender.test>",
        "lunch",
        "X-Spam-Status: No, score=-99.0\r\nX-Palisade-Verdict: deliver; score=-99\r\n\
         Authentication-Results: mx.local.test; dmarc=pass\r\n",
        "Lunch on Friday?\r\n",
    );
    assert!(
        send(&c, "friend@sender.test", "alice@local.test", &clean)
            .await
            .unwrap()
            .starts_with("250")
    );
    let got = ts.wait_for_mail("alice", 1).await;
    let h = header(&got[0]);
    assert!(!h.contains("-99"), "the sender's labels are gone: {h}");
    assert_eq!(h.matches("X-Palisade-Verdict:").count(), 1, "{h}");
    assert!(
        h.contains("X-Palisade-Verdict: deliver; score=0.0; spam=no; spam-score=0.0\r\n"),
        "{h}"
    );
    assert!(h.contains("X-Spam-Flag: NO\r\n"), "{h}");
    assert_eq!(
        h.matches("dmarc=pass").count(),
        1,
        "only our own result: {h}"
    );

    // A brand in the display name of unauthenticated mail: tagged, with a banner.
    let tagged = mail(
        "PayPal Service <billing@mailer.test>",
        "Receipt",
        "",
        "Your receipt is attached.\r\n",
    );
    assert!(
        send(&c, "billing@mailer.test", "alice@local.test", &tagged)
            .await
            .unwrap()
            .starts_with("250")
    );
    let got = ts.wait_for_mail("alice", 2).await;
    let t = got
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .find(|m| m.contains("X-Palisade-Verdict: tag"))
        .map(|m| m.replace("\r\n ", " "))
        .expect("a tagged message");
    assert!(t.contains("Subject: [SUSPICIOUS] Receipt\r\n"), "{t}");
    assert!(
        t.contains("X-Spam-Flag: NO\r\n"),
        "phishing is not spam: {t}"
    );
    assert!(t.contains(
        "X-Palisade-Reasons: the sender's name says paypal (paypal.com) but the mail comes from mailer.test"
    ), "{t}");
    let parsed = mail_parser::MessageParser::new()
        .parse(t.as_bytes())
        .unwrap();
    let body = parsed.body_text(0).unwrap();
    assert!(body.starts_with("----"), "{body}");
    assert!(
        body.contains("CAUTION: this message may be phishing"),
        "{body}"
    );
    assert!(
        body.trim_end().ends_with("Your receipt is attached."),
        "{body}"
    );

    // GTUBE: refused as spam at the end of data, whatever else the message is.
    let gtube = mail(
        "Friend <friend@sender.test>",
        "test",
        "",
        &format!("{}\r\n", palisade_phish::spam::GTUBE),
    );
    let refused = send(&c, "friend@sender.test", "alice@local.test", &gtube)
        .await
        .expect_err("GTUBE is refused");
    assert!(refused.contains("5.7.1"), "{refused}");
    assert!(refused.contains("Message refused as spam"), "{refused}");

    // Styled subject: spam-flagged for the junk folder, no phishing banner.
    let styled = mail(
        "Deals <deals@sender.test>",
        // "𝗟𝗮𝘀𝘁 chance: 50% OFF" (mathematical sans-serif bold letters).
        "=?UTF-8?B?8J2Xn/Cdl67wnZiA8J2YgSBjaGFuY2U6IDUwJSBPRkY=?=",
        "",
        "Our sale ends today.\r\n",
    );
    assert!(
        send(&c, "deals@sender.test", "alice@local.test", &styled)
            .await
            .unwrap()
            .starts_with("250")
    );
    let got = ts.wait_for_mail("alice", 3).await;
    let flagged = got
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .find(|m| m.contains("Our sale ends today"))
        .expect("the styled message");
    assert!(flagged.contains("X-Spam-Flag: YES\r\n"), "{flagged}");
    assert!(flagged.contains("tests=styled_text"), "{flagged}");
    assert!(!flagged.contains("CAUTION"), "{flagged}");

    // A lookalike of a brand: quarantined, with the reasons on record.
    let lookalike = mail(
        "PayPal <service@paypa1.com>",
        "Account limited",
        "",
        "Please sign in to restore access.\r\n",
    );
    assert!(
        send(&c, "service@paypa1.com", "alice@local.test", &lookalike)
            .await
            .unwrap()
            .starts_with("250")
    );
    let list = cli(&ts, &["quarantine", "list"]);
    assert!(list.contains("phishing score"), "{list}");
    assert!(
        list.contains("sender domain paypa1.com imitates paypal.com"),
        "{list}"
    );
    let id = list
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let show = cli(&ts, &["quarantine", "show", &id]);
    assert!(show.contains("reason: phishing score"), "{show}");
    // When it arrived: an RFC 3339 date (issue 17, item 8), not a Unix time.
    let arrived = show
        .lines()
        .find_map(|l| l.strip_prefix("arrived: "))
        .unwrap();
    assert!(
        arrived.len() == 20 && arrived.as_bytes()[10] == b'T' && arrived.ends_with('Z'),
        "{show}"
    );

    // Lookalike, program attachment with a double extension: refused at the end of data.
    let reject = mail(
        "PayPal <service@paypa1.com>",
        "Invoice",
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n",
        "--b\r\nContent-Type: text/plain\r\n\r\nSee the invoice.\r\n--b\r\n\
         Content-Type: application/octet-stream; name=invoice.pdf.exe\r\n\
         Content-Disposition: attachment; filename=invoice.pdf.exe\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAA\r\n--b--\r\n",
    );
    let e = send(&c, "service@paypa1.com", "alice@local.test", &reject)
        .await
        .unwrap_err();
    assert!(e.contains("550") && e.contains("5.7.1"), "{e}");
    assert!(e.contains("likely phishing"), "{e}");

    // Impersonating a local user's name from outside.
    let ceo = mail(
        "Alice Martin <alice.martin.ceo@mailer.test>",
        "Quick favour",
        "",
        "Are you at your desk?\r\n",
    );
    assert!(
        send(&c, "alice.martin.ceo@mailer.test", "bob@local.test", &ceo)
            .await
            .unwrap()
            .starts_with("250")
    );
    let got = ts.wait_for_mail("bob", 1).await;
    let h = header(&got[0]);
    assert!(h.contains("the sender's name imitates Alice Martin"), "{h}");

    // Thousands of parts: the scan stops at its limit and tags, never passes.
    let mut parts = String::new();
    for i in 0..2000 {
        parts.push_str(&format!(
            "--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"
        ));
    }
    parts.push_str("--b--\r\n");
    let bomb = mail(
        "Friend <friend@sender.test>",
        "many parts",
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n",
        &parts,
    );
    assert!(
        send(&c, "friend@sender.test", "carol@local.test", &bomb)
            .await
            .unwrap()
            .starts_with("250")
    );
    let got = ts.wait_for_mail("carol", 1).await;
    let h = header(&got[0]);
    assert!(h.contains("X-Palisade-Verdict: tag"), "{h}");
    assert!(h.contains("scan limit reached"), "{h}");
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_contact_and_external_notes() {
    let dns = DnsAuthority::start().await;
    sender_zone(&dns);
    let ts = start_with_dns(
        "[phishing]\nexternal_banner = true\nfirst_contact_note = true\n",
        dns,
    )
    .await;
    let c = inbound(&ts);
    for i in 0..2 {
        let m = mail(
            "Friend <friend@sender.test>",
            &format!("hello {i}"),
            "",
            "Hi.\r\n",
        );
        assert!(
            send(&c, "friend@sender.test", "alice@local.test", &m)
                .await
                .unwrap()
                .starts_with("250")
        );
        ts.wait_for_mail("alice", i + 1).await;
    }
    let texts: Vec<String> = ts
        .mail("alice")
        .iter()
        .map(|m| {
            let p = mail_parser::MessageParser::new().parse(m).unwrap();
            format!("{}\n{}", p.subject().unwrap(), p.body_text(0).unwrap())
        })
        .collect();
    let first = texts.iter().find(|t| t.starts_with("hello 0")).unwrap();
    let second = texts.iter().find(|t| t.starts_with("hello 1")).unwrap();
    assert!(
        first.contains("comes from outside your organisation (sender.test)"),
        "{first}"
    );
    assert!(
        first.contains("first message your organisation receives from sender.test"),
        "{first}"
    );
    assert!(second.contains("comes from outside"), "{second}");
    assert!(!second.contains("first message"), "{second}");
    let store = ts.store.clone();
    ts.shutdown().await;
    // The history reached the store (at the latest at shutdown).
    assert!(
        store
            .is_correspondent("local.test", "sender.test")
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compromised_account_sending_phishing_is_held() {
    let ts = start("").await;
    ts.set_password("alice@local.test", PW).await;
    let c = submission_client(&ts, "submission", "alice@local.test", PW, Mechanism::Plain);
    let phish = "From: alice@local.test\r\nTo: victim@elsewhere.test\r\nSubject: Password expiry\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <p1@x>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n\
         <p>Your password will expire. <a href=\"http://198.51.100.7/login\">https://www.microsoft.com/</a></p>\
         <form action=\"http://198.51.100.7/c\"><input type=password name=p></form>\r\n";
    let r = send(&c, "alice@local.test", "victim@elsewhere.test", phish)
        .await
        .unwrap();
    assert!(r.starts_with("250"), "{r}");
    let list = cli(&ts, &["quarantine", "list"]);
    assert!(list.contains("submitted mail scored"), "{list}");
    let events = ts.store.recent_events(20).await.unwrap();
    let e = events
        .iter()
        .find(|e| e.kind == "phishing.outbound")
        .expect("a security event");
    assert_eq!(e.subject, "alice@local.test");
    assert!(
        e.detail.contains("a form that asks for a password"),
        "{}",
        e.detail
    );
    // Ordinary mail from the same user still goes.
    let ok =
        "From: alice@local.test\r\nTo: friend@elsewhere.test\r\nSubject: hi\r\n\r\nSee you.\r\n";
    assert!(
        send(&c, "alice@local.test", "friend@elsewhere.test", ok)
            .await
            .unwrap()
            .starts_with("250")
    );
    assert_eq!(
        cli(&ts, &["quarantine", "list"])
            .matches("submitted mail scored")
            .count(),
        1
    );
    ts.shutdown().await;
}

#[test]
fn a_weight_for_an_unknown_signal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("palisade.toml");
    // `config check` on a configuration with one weight for `signal`.
    let check = |signal: &str| {
        std::fs::write(
            &file,
            format!(
                "hostname = \"mx.local.test\"\n[listener.in]\naddress = \"127.0.0.1:0\"\n\
                 kind = \"smtp\"\n[phishing.weights]\n{signal} = 3\n"
            ),
        )
        .unwrap();
        Command::new(BIN)
            .arg("--config")
            .arg(&file)
            .args(["config", "check"])
            .output()
            .unwrap()
    };
    let o = check("lookalike_frm");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("unknown signal \"lookalike_frm\""), "{err}");
    let o = check("lookalike_from");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_from_a_trusted_client_to_local_users_is_screened_too() {
    let ts = start("[policy]\ntrusted_networks = [\"127.0.0.0/8\"]\n").await;
    let c = inbound(&ts);
    let m = mail(
        "PayPal <service@paypa1.com>",
        "Account limited",
        "X-Palisade-Verdict: deliver; score=-1\r\n",
        "Please sign in.\r\n",
    );
    assert!(
        send(&c, "app@local.test", "alice@local.test", &m)
            .await
            .unwrap()
            .starts_with("250")
    );
    let list = cli(&ts, &["quarantine", "list"]);
    assert!(
        list.contains("sender domain paypa1.com imitates paypal.com"),
        "{list}"
    );
    ts.shutdown().await;
}
