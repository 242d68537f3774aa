//! Issue 16: the patterns of real legitimate mail that the engine held back, each as a
//! regression built from the pattern, next to the attack the same rule must still see.
#![allow(clippy::unwrap_used)]

use palisade_phish::{Analysis, Auth, Context, Engine, Settings};

fn engine() -> Engine {
    let s = |v: &[&str]| v.iter().map(|d| d.to_string()).collect::<Vec<_>>();
    Engine::new(&Settings {
        local_domains: s(&["northwind.net"]),
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
        "{headers}To: bob@northwind.net\r\nSubject: s\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\
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

/// A newsletter link whose text shows a partner's domain but leads into the sender's
/// own organisation, or on through a bulk-mail click tracker or a gateway's link
/// protection: the sender deceives no one about where it leads.
#[test]
fn newsletter_links_into_the_sender_or_through_a_redirector() {
    let e = Engine::new(&Settings {
        click_trackers: vec!["sendgrid.net".into(), "urldefense.com".into()],
        ..Settings::default()
    })
    .unwrap();
    let html = "<a href=\"https://www.kitchenaid.com/pay\">www.affirm.com</a> \
<a href=\"https://u1.ct.sendgrid.net/ls/click?upn=x\">www.adapthealth.com</a> \
<a href=\"https://urldefense.com/v3/__https://github.com/x__;!!a\">github.com</a>";
    let m = format!(
        "From: KitchenAid <news@kitchenaid.com>\r\nTo: bob@northwind.net\r\nSubject: s\r\n\
Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@x>\r\nMIME-Version: 1.0\r\n\
Content-Type: text/html\r\n\r\n{html}\r\n"
    );
    let a = e.analyze(m.as_bytes(), &Context::new(Auth::NotEvaluated));
    assert!(a.signals.is_empty(), "{a:?}");
    // The same text on a link to a third party still counts.
    let m = m.replace(
        "https://www.kitchenaid.com/pay",
        "https://pay-here.example.org/",
    );
    let a = e.analyze(m.as_bytes(), &Context::new(Auth::NotEvaluated));
    assert_eq!(names(&a), ["link_text_mismatch"], "{a:?}");
}

/// A person's name is not a domain: an initial joined to the surname, or the mailbox's
/// own name written like a domain.
#[test]
fn personal_names_are_not_domains() {
    let a = analyze("From: John Q.Wang <john@example.org>\r\n", "Hi\r\n");
    assert!(a.signals.is_empty(), "{a:?}");
    let a = analyze(
        "From: \"guilin.wang\" <guilin.wang@gl-inet.com>\r\n",
        "Hi\r\n",
    );
    assert!(a.signals.is_empty(), "{a:?}");
    // A display name showing someone else's domain still counts.
    let a = analyze("From: \"billing.wang\" <x@example.org>\r\n", "Hi\r\n");
    assert_eq!(names(&a), ["display_name_domain"], "{a:?}");
}

/// Lookalike rules fire only where a reader could confuse the two: not for short names
/// a couple of letters apart (llvm.org is not live.com), not for a visibly different
/// letter (pcloud is not icloud).
#[test]
fn ordinary_domains_near_short_brands_are_not_lookalikes() {
    let body = "<a href=\"https://clang.llvm.org/docs\">docs</a> \
<a href=\"https://u.pcloud.link/publink/show?code=x\">file</a> \
<a href=\"https://musl.libc.org/\">musl</a>";
    let m = format!(
        "From: Dev <dev@example.org>\r\nTo: bob@northwind.net\r\nSubject: s\r\n\
Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@x>\r\nMIME-Version: 1.0\r\n\
Content-Type: text/html\r\n\r\n{body}\r\n"
    );
    let a = engine().analyze(m.as_bytes(), &Context::new(Auth::NotEvaluated));
    assert!(a.signals.is_empty(), "{a:?}");
    let m = m.replace("clang.llvm.org", "secure.paypa1.com");
    let a = engine().analyze(m.as_bytes(), &Context::new(Auth::NotEvaluated));
    assert!(names(&a).contains(&"lookalike_link"), "{a:?}");
}

/// A brand's own other domain is the brand (DocuSign mails from docusign.com too).
#[test]
fn a_brand_on_its_own_other_domain_is_not_impersonating_itself() {
    let e = Engine::new(&Settings {
        protected_domains: vec!["docusign.net".into(), "docusign.com".into()],
        ..Settings::default()
    })
    .unwrap();
    let m = message("From: DocuSign <dse@docusign.com>\r\n", "Please sign\r\n");
    let a = e.analyze(&m, &Context::new(Auth::NotEvaluated));
    assert!(a.signals.is_empty(), "{a:?}");
    let m = message(
        "From: DocuSign <dse@sign-docs.example>\r\n",
        "Please sign\r\n",
    );
    let a = e.analyze(&m, &Context::new(Auth::NotEvaluated));
    assert_eq!(names(&a), ["display_name_brand"], "{a:?}");
}

/// Links to one's own network are what people paste in technical discussions.
#[test]
fn links_to_private_addresses_are_not_phishing() {
    let a = analyze(
        "From: Dev <dev@example.org>\r\n",
        "Open http://192.168.10.2/ or http://10.35.18.121:8080 in a browser.\r\n",
    );
    assert!(a.signals.is_empty(), "{a:?}");
    let a = analyze(
        "From: Dev <dev@example.org>\r\n",
        "Log in at http://45.33.12.7/login now.\r\n",
    );
    assert!(names(&a).contains(&"link_ip"), "{a:?}");
}

/// Advance-fee wording: the scam strings its phrases together and is tagged; one such
/// phrase in ordinary mail ("Dear friend, ...") is not enough.
#[test]
fn an_advance_fee_letter_is_tagged_but_one_phrase_is_not() {
    let a = analyze(
        "From: Mrs Grace <grace@example.org>\r\n",
        "Dear Friend, I am the widow of a minister. As my next of kin you will receive the \
compensation payment of 8.5 million US dollars through an ATM card.\r\n",
    );
    assert!(names(&a).contains(&"scam_language"), "{a:?}");
    assert_ne!(a.action, palisade_phish::Action::Deliver, "{a:?}");
    let a = analyze(
        "From: Old Pal <pal@example.org>\r\n",
        "Dear friend, it was great to see you at the reunion.\r\n",
    );
    assert_eq!(a.action, palisade_phish::Action::Deliver, "{a:?}");
}
