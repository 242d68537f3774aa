//! Issue 16: the patterns of real legitimate mail that the engine held back, each as a
//! regression built from the pattern, next to the attack the same rule must still see.
#![allow(clippy::unwrap_used)]

use palisade_phish::{Analysis, Auth, Context, Engine, Settings};

fn engine() -> Engine {
    let s = |v: &[&str]| v.iter().map(|d| d.to_string()).collect::<Vec<_>>();
    Engine::new(&Settings {
        local_domains: s(&["example.net"]),
        protected_domains: s(&[
            "paypal.com",
            "live.com",
            "icloud.com",
            "gmail.com",
            "docusign.net",
        ]),
        people: s(&["Alice Martin"]),
        free_mail: s(&["gmail.com", "protonmail.com", "yahoo.com"]),
        shorteners: s(&["bit.ly"]),
        ..Settings::default()
    })
    .unwrap()
}

fn message(headers: &str, body: &str) -> Vec<u8> {
    format!(
        "{headers}To: bob@example.net\r\nSubject: s\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\
Message-ID: <1@x>\r\n\r\n{body}"
    )
    .into_bytes()
}

fn analyze(headers: &str, body: &str) -> Analysis {
    engine().analyze(&message(headers, body), &Context::new(Auth::NotEvaluated))
}

fn names(a: &Analysis) -> Vec<&'static str> {
    a.signals.iter().map(|s| s.name).collect()
}

/// Mailman's DMARC mitigation (RFC 7960 §4.1.3.1): the list writes itself into From
/// and the author, at a free-mail provider, into Reply-To.
#[test]
fn mailing_list_from_rewritten_reply_to_is_the_author() {
    let a = analyze(
        "From: Olo via USRP-users <usrp-users@lists.ettus.com>\r\n\
Reply-To: Olo <olo1618@protonmail.com>\r\nList-Id: <usrp-users.lists.ettus.com>\r\n\
List-Post: <mailto:usrp-users@lists.ettus.com>\r\n",
        "Has anyone seen this?\r\n",
    );
    assert!(a.signals.is_empty(), "{a:?}");
}

/// A Google Groups or groups.io post: Sender and Reply-To are the list (RFC 5322
/// §3.6.2), From is the member.
#[test]
fn mailing_list_sender_and_reply_to_are_the_list() {
    let a = analyze(
        "From: Dirk <dirk@laurenz.ws>\r\nSender: open-iscsi@googlegroups.com\r\n\
Reply-To: open-iscsi@googlegroups.com\r\nList-ID: <open-iscsi.googlegroups.com>\r\n",
        "A question about iSCSI.\r\n",
    );
    assert!(a.signals.is_empty(), "{a:?}");
}

/// Anyone can write list headers: they explain only fields that point at the list.
#[test]
fn forged_list_headers_do_not_excuse_a_diversion_elsewhere() {
    let a = analyze(
        "From: Billing <billing@vendor.example>\r\nSender: bulk@mailer.example\r\n\
Reply-To: payments.desk@gmail.com\r\nList-Id: <news.lists.other.example>\r\n",
        "Please pay the invoice.\r\n",
    );
    let n = names(&a);
    assert!(n.contains(&"reply_to_free_mail"), "{n:?}");
    assert!(n.contains(&"sender_other_org"), "{n:?}");
}
