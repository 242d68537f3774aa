//! The web console (issue 19) over the real HTTPS listener: logins with password and
//! TOTP, sessions and their cookies, CSRF and origin checks, the security headers,
//! self-service app passwords used over SMTP submission, the administrator role, and a
//! web brute force locking and banning exactly like one over SMTP.
#![allow(clippy::unwrap_used)]

mod common;

use common::console::*;
use common::*;
use palisade_store::prelude::*;
use palisade_types::Address;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_and_totp_open_a_host_only_secure_session() {
    let s = setup("").await;
    s.ts.set_password("alice@local.test", PW).await;
    let totp = enable_totp(&s.ts, "alice@local.test").await;
    let mut b = Browser::new(&s);

    let login = b.get("/login").await;
    assert_eq!(login.status, StatusCode::OK);
    let h = &login.headers;
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    assert!(
        login.body.contains("<label for=\"password\">"),
        "labelled fields"
    );
    let pre = login.set_cookies().join("\n");
    assert!(pre.starts_with("__Host-palisade-login="), "{pre}");
    assert!(pre.contains("Secure; HttpOnly; SameSite=Strict"), "{pre}");

    // The password alone does not open an account with two-factor on.
    let r = b.login("alice@local.test", PW, "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("address, password or code is wrong"));
    // A wrong password with a right code neither.
    let r = b
        .login("alice@local.test", "not it", &totp_code(&totp, 0))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Password and code: a session, in a __Host- cookie with every attribute.
    let r = b.login("Alice@LOCAL.test", PW, &totp_code(&totp, 0)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.headers["location"], "/account");
    let cookie = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-palisade="))
        .unwrap();
    let (value, attributes) = cookie["__Host-palisade=".len()..].split_once(';').unwrap();
    assert_eq!(value.len(), 64, "256 random bits, hex");
    assert_eq!(
        attributes, " Path=/; Secure; HttpOnly; SameSite=Strict",
        "no Domain, so the cookie stays on this host"
    );
    // The store keeps the id's hash, never the id.
    let stored = s.ts.store.web_session(value).await.unwrap();
    assert!(stored.is_none());

    let account = b.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(
        account.body.contains("alice@local.test"),
        "{}",
        account.body
    );
    assert!(account.body.contains("Two-factor authentication"));
    // The same code does not open a second session (RFC 6238 §5.2).
    let mut other = Browser::new(&s);
    let used = totp_code(&totp, 0);
    let r = other.login("alice@local.test", PW, &used).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // The user's security events show the failures and the login, with the address.
    let events = b.get("/account/events").await;
    assert!(events.body.contains("web.login"), "{}", events.body);
    assert!(events.body.contains("auth.fail"), "{}", events.body);
    assert!(events.body.contains("127.0.0.1 (web)"), "{}", events.body);

    // Logging out ends the session server-side: the old cookie opens nothing.
    let old = b.cookies.clone();
    let token = account.csrf();
    let r = b.post("/logout", &[("csrf", &token)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    b.cookies = old;
    let r = b.get("/account").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers["location"], "/login");
    s.ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_password_made_in_the_console_opens_submission_and_only_submission() {
    let s = setup("").await;
    s.ts.set_password("alice@local.test", PW).await;
    let mut b = Browser::new(&s);
    let r = b.login("alice@local.test", PW, "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = b.get("/account/app-passwords").await;
    let token = page.csrf();

    // Validated with the CLI's rules, and re-authenticated.
    let mut form = vec![
        ("csrf", token.as_str()),
        ("label", "phone"),
        ("scope", "submission"),
        ("expires", "90"),
        ("network", ""),
        ("password", PW),
    ];
    let r = b.post("/account/app-passwords", &form).await;
    assert!(r.body.contains("Expires: needs a unit"), "{}", r.body);
    form[3] = ("expires", "90d");
    form[5] = ("password", "wrong");
    let r = b.post("/account/app-passwords", &form).await;
    assert!(r.body.contains("current password or code is wrong"));
    form[5] = ("password", PW);
    let r = b.post("/account/app-passwords", &form).await;
    assert!(r.body.contains("It is shown once"), "{}", r.body);
    let marker = "id=\"new-app-password\">";
    let at = r.body.find(marker).unwrap() + marker.len();
    let app = r.body[at..].split('<').next().unwrap().to_string();
    assert!(app.len() == 19 && app.matches('-').count() == 3, "{app}");

    // The console's app password is a real one: SMTP AUTH takes it.
    let reply = auth_once(&s.ts, "submission", "alice@local.test", &app)
        .await
        .unwrap();
    assert!(reply.starts_with("235"), "{reply}");
    // It never opens the console.
    let mut other = Browser::new(&s);
    let r = other.login("alice@local.test", &app, "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Listed with its use; revoked, SMTP refuses it.
    let list = b.get("/account/app-passwords").await;
    assert!(list.body.contains("phone") && list.body.contains("from 127.0.0.1"));
    let r = b
        .post(
            "/account/app-passwords/revoke",
            &[("csrf", &token), ("label", "phone")],
        )
        .await;
    assert!(r.body.contains("revoked"), "{}", r.body);
    let reply = auth_once(&s.ts, "submission", "alice@local.test", &app)
        .await
        .unwrap();
    assert!(reply.starts_with("535"), "{reply}");
    s.ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_cross_site_posts_are_refused() {
    let s = setup("").await;
    s.ts.set_password("alice@local.test", PW).await;
    let mut b = Browser::new(&s);
    // A login form posted without the page's cookie (login CSRF) is refused.
    let r = b
        .post(
            "/login",
            &[
                ("csrf", &"0".repeat(64)),
                ("address", "alice@local.test"),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = b.login("alice@local.test", PW, "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let token = b.get("/account").await.csrf();
    let change = |t: &str| {
        vec![
            ("csrf".to_string(), t.to_string()),
            ("password".into(), PW.into()),
            ("new".into(), "an entirely new passphrase 9".into()),
            ("confirm".into(), "an entirely new passphrase 9".into()),
        ]
    };
    // No token, a wrong token: 403, nothing changed.
    for t in ["", &"f".repeat(64)] {
        let form = change(t);
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (&**k, &**v)).collect();
        let r = b.post("/account/password", &pairs).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "token {t:?}");
    }
    // The right token from another site's page: 403 by its origin.
    let url = format!("{}/logout", s.base);
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let r = b
            .send(form_body(
                s.client.post(&url).header(name, value),
                &[("csrf", &token)],
            ))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{name}");
    }
    assert_eq!(b.get("/account").await.status, StatusCode::OK, "still in");
    // The console is not served on the MTA-STS host name.
    let r = s
        .client
        .get(format!("{}/login", s.base))
        .header("host", "mta-sts.local.test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    s.ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_follows_the_policy_and_ends_every_other_session() {
    let s = setup("").await;
    s.ts.set_password("alice@local.test", PW).await;
    let (mut here, mut there) = (Browser::new(&s), Browser::new(&s));
    assert_eq!(
        here.login("alice@local.test", PW, "").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        there.login("alice@local.test", PW, "").await.status,
        StatusCode::SEE_OTHER
    );
    let token = here.get("/account/password").await.csrf();
    let post = |new: &'static str| {
        [
            ("csrf", token.clone()),
            ("password", PW.to_string()),
            ("new", new.to_string()),
            ("confirm", new.to_string()),
        ]
    };
    let weak = post("password1");
    let pairs: Vec<(&str, &str)> = weak.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = here.post("/account/password", &pairs).await;
    assert!(r.body.contains("Password refused"), "{}", r.body);
    let good = post("a long and unusual passphrase 77");
    let pairs: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = here.post("/account/password", &pairs).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // This browser goes on with a new session; the other is signed out.
    assert_eq!(here.get("/account").await.status, StatusCode::OK);
    assert_eq!(there.get("/account").await.status, StatusCode::SEE_OTHER);
    let reply = auth_once(
        &s.ts,
        "submission",
        "alice@local.test",
        "a long and unusual passphrase 77",
    )
    .await
    .unwrap();
    assert!(reply.starts_with("235"), "{reply}");
    s.ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administration_is_a_role_and_a_user_without_it_gets_403() {
    let s = setup(LIMITS).await;
    for u in ["alice", "bob"] {
        s.ts.set_password(&format!("{u}@local.test"), PW).await;
    }
    let mut alice = Browser::new(&s);
    alice.login("alice@local.test", PW, "").await;
    let token = alice.get("/account").await.csrf();
    assert_eq!(
        alice.get("/admin/users").await.status,
        StatusCode::FORBIDDEN
    );
    let r = alice
        .post(
            "/admin/users/unlock",
            &[("csrf", &token), ("address", "bob@local.test")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Bob locked by three failures over SMTP; an administrator unlocks him in the page.
    for guess in ["one", "two", "three"] {
        auth_once(&s.ts, "submission", "bob@local.test", guess).await;
    }
    let reply = auth_once(&s.ts, "submission", "bob@local.test", PW)
        .await
        .unwrap();
    assert!(reply.starts_with("454"), "locked: {reply}");
    cli(&s.ts, &["user", "admin", "carol@local.test"]);
    s.ts.set_password("carol@local.test", PW).await;
    let mut carol = Browser::new(&s);
    carol.login("carol@local.test", PW, "").await;
    let users = carol.get("/admin/users?q=bob").await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(users.body.contains("bob@local.test") && !users.body.contains("alice@local.test"));
    let r = carol
        .post(
            "/admin/users/unlock",
            &[("csrf", &users.csrf()), ("address", "Bob@Local.Test")],
        )
        .await;
    assert!(r.body.contains("bob@local.test is unlocked"), "{}", r.body);
    let reply = auth_once(&s.ts, "submission", "bob@local.test", PW)
        .await
        .unwrap();
    assert!(reply.starts_with("235"), "{reply}");
    let (ok, events) = (
        true,
        cli(&s.ts, &["security", "events", "--user", "bob@local.test"]),
    );
    assert!(
        ok && events.contains("web.admin.unlocked") && events.contains("by carol@local.test"),
        "{events}"
    );
    s.ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_brute_force_locks_and_bans_like_one_over_smtp() {
    let s = setup(LIMITS).await;
    s.ts.set_password("alice@local.test", PW).await;
    let mut b = Browser::new(&s);
    for guess in ["one", "two", "three"] {
        let r = b.login("alice@local.test", guess, "").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Locked: the right password is refused on the web and over SMTP.
    let r = b.login("alice@local.test", PW, "").await;
    assert!(r.body.contains("locked"), "{}", r.body);
    let reply = auth_once(&s.ts, "submission", "alice@local.test", PW)
        .await
        .unwrap();
    assert!(reply.starts_with("454 4.7.0"), "{reply}");
    // Three more distinct failures from this address make six: banned everywhere.
    let mut banned = false;
    for i in 0..4 {
        let r = b.login(&format!("user{i}@local.test"), "x", "").await;
        if r.status == StatusCode::FORBIDDEN {
            banned = true;
            break;
        }
    }
    assert!(banned, "banned by web failures");
    let reply = auth_once(&s.ts, "submission", "bob@local.test", "x").await;
    assert!(
        reply.as_deref().is_none_or(|r| r.starts_with("421 4.7.0")),
        "{reply:?}"
    );
    s.ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_is_set_up_in_the_page_with_recovery_codes_shown_once() {
    let s = setup("").await;
    s.ts.set_password("alice@local.test", PW).await;
    let mut b = Browser::new(&s);
    b.login("alice@local.test", PW, "").await;
    let token = b.get("/account/two-factor").await.csrf();
    // Setting up asks for the password (a stolen session cannot take the second factor).
    let r = b
        .post(
            "/account/two-factor/start",
            &[("csrf", &token), ("password", "wrong")],
        )
        .await;
    assert!(r.body.contains("current password or code is wrong"));
    let r = b
        .post(
            "/account/two-factor/start",
            &[("csrf", &token), ("password", PW)],
        )
        .await;
    assert!(
        r.body.contains("src=\"data:image/svg+xml;base64,"),
        "{}",
        r.body
    );
    let marker = "id=\"totp-secret\">";
    let at = r.body.find(marker).unwrap() + marker.len();
    let seed = r.body[at..].split('<').next().unwrap().to_string();
    let alice = Address::parse("alice@local.test").unwrap();
    let totp = palisade_access::two_factor::totp(&seed, &alice).unwrap();
    // Not on until confirmed: the password alone still logs in meanwhile.
    assert_eq!(
        Browser::new(&s)
            .login("alice@local.test", PW, "")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let r = b
        .post(
            "/account/two-factor/confirm",
            &[("csrf", &token), ("code", "000000")],
        )
        .await;
    assert!(r.body.contains("does not match"), "{}", r.body);
    let r = b
        .post(
            "/account/two-factor/confirm",
            &[("csrf", &token), ("code", &totp_code(&totp, 0))],
        )
        .await;
    let codes: Vec<String> = r
        .body
        .split("<li><code>")
        .skip(1)
        .map(|c| c.split('<').next().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10, "{}", r.body);
    assert!(
        b.get("/account/two-factor")
            .await
            .body
            .contains("<strong>on</strong>")
    );

    // Now the password alone is refused; a recovery code opens the account, once.
    let mut other = Browser::new(&s);
    let r = other.login("alice@local.test", PW, "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = other.login("alice@local.test", PW, &codes[3]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = Browser::new(&s)
        .login("alice@local.test", PW, &codes[3])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "used up");
    // SMTP AUTH takes app passwords only now.
    let reply = auth_once(&s.ts, "submission", "alice@local.test", PW)
        .await
        .unwrap();
    assert!(reply.starts_with("535"), "{reply}");

    // Turned off with the password and a code.
    let r = b
        .post(
            "/account/two-factor/remove",
            &[("csrf", &token), ("password", PW), ("code", &codes[0])],
        )
        .await;
    assert!(
        r.body.contains("Two-factor authentication is off."),
        "{}",
        r.body
    );
    let events = b.get("/account/events").await.body;
    assert!(events.contains("web.2fa_enabled") && events.contains("web.2fa_disabled"));
    s.ts.shutdown().await;
}

/// A DNS authority where sender.test fails SPF from loopback and asks for quarantine.
async fn quarantining_dns() -> palisade_testkit::DnsAuthority {
    let dns = palisade_testkit::DnsAuthority::start().await;
    dns.txt("sender.test", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt("_dmarc.sender.test", "v=DMARC1; p=quarantine");
    dns
}

/// Sends a message from sender.test to `rcpts` over port 25; DMARC holds it.
async fn held_for(ts: &TestServer, rcpts: &[&str], subject: &str) {
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.sender.test", "250").await;
    c.expect("MAIL FROM:<a@sender.test>", "250").await;
    for r in rcpts {
        c.expect(&format!("RCPT TO:<{r}>"), "250").await;
    }
    c.expect("DATA", "354").await;
    let m = format!(
        "From: a@sender.test\r\nTo: {}\r\nSubject: {subject}\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@x>\r\n\r\nHello.\r\n.\r\n",
        rcpts.join(", ")
    );
    c.send(m.as_bytes()).await;
    assert!(c.reply().await.starts_with("250"));
    c.cmd("QUIT").await;
}

/// The id in the first release form of `page` whose row mentions `subject`.
fn held_id(page: &str, subject: &str) -> String {
    let row = page
        .split("<tr>")
        .find(|r| r.contains(subject))
        .unwrap_or_else(|| panic!("{subject} not listed: {page}"));
    let at = row.find("name=\"id\" value=\"").unwrap() + 17;
    row[at..at + 16].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_releases_only_their_own_held_mail_and_an_administrator_any() {
    let s = setup_with_dns("", quarantining_dns().await).await;
    for u in ["alice", "bob", "carol"] {
        s.ts.set_password(&format!("{u}@local.test"), PW).await;
    }
    held_for(&s.ts, &["alice@local.test"], "for-alice-alone").await;
    held_for(&s.ts, &["alice@local.test", "bob@local.test"], "for-both").await;

    let mut alice = Browser::new(&s);
    alice.login("alice@local.test", PW, "").await;
    let page = alice.get("/account/quarantine").await;
    assert!(page.body.contains("for-alice-alone"), "{}", page.body);
    assert!(page.body.contains("DMARC policy quarantine of sender.test"));
    assert!(
        !page.body.contains("for-both"),
        "shared: the administrator's"
    );
    assert!(page.body.contains("1 more held for you and others"));
    let mine = held_id(&page.body, "for-alice-alone");

    // Bob cannot release Alice's message, though he knows its id.
    let mut bob = Browser::new(&s);
    bob.login("bob@local.test", PW, "").await;
    let token = bob.get("/account/quarantine").await.csrf();
    let r = bob
        .post(
            "/account/quarantine/release",
            &[("csrf", &token), ("id", &mine)],
        )
        .await;
    assert!(r.body.contains("is no longer held"), "{}", r.body);
    assert_eq!(
        alice.get("/admin/quarantine").await.status,
        StatusCode::FORBIDDEN
    );

    // Alice releases hers: delivered, and the site model learns it as legitimate.
    let r = alice
        .post(
            "/account/quarantine/release",
            &[("csrf", &page.csrf()), ("id", &mine)],
        )
        .await;
    assert!(r.body.contains("released for delivery"), "{}", r.body);
    let got = s.ts.wait_for_mail("alice", 1).await;
    assert!(String::from_utf8_lossy(&got[0]).contains("for-alice-alone"));
    let counts = s.ts.store.site_counts().await.unwrap();
    assert!(counts.totals[0] > 0.0, "learnt as ham: {:?}", counts.totals);

    // The shared one: an administrator finds it by recipient and deletes it.
    cli(&s.ts, &["user", "admin", "carol@local.test"]);
    let mut carol = Browser::new(&s);
    carol.login("carol@local.test", PW, "").await;
    let all = carol.get("/admin/quarantine?q=bob%40local").await;
    assert!(
        all.body.contains("for-both") && all.body.contains("1 of 1 held"),
        "{}",
        all.body
    );
    // And by the day it arrived.
    let today = palisade_access::forms::when(palisade_queue::now_secs())[..10].to_string();
    let by_day = carol.get(&format!("/admin/quarantine?q={today}")).await;
    assert!(by_day.body.contains("for-both"), "{}", by_day.body);
    let before = carol.get("/admin/quarantine?q=1999-01-01").await;
    assert!(before.body.contains("0 of 1 held"), "{}", before.body);
    let both = held_id(&all.body, "for-both");
    let r = carol
        .post(
            "/admin/quarantine/delete",
            &[("csrf", &all.csrf()), ("id", &both)],
        )
        .await;
    assert!(r.body.contains("deleted"), "{}", r.body);
    assert!(
        carol
            .get("/admin/quarantine")
            .await
            .body
            .contains("Nothing is held.")
    );
    let events = cli(&s.ts, &["security", "events", "--user", "carol@local.test"]);
    assert!(events.contains("web.quarantine_deleted"), "{events}");
    s.ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_requests_need_their_tokens_a_password_and_a_live_ceremony() {
    let s = setup("").await;
    s.ts.set_password("alice@local.test", PW).await;
    let mut b = Browser::new(&s);
    // Without the login form's cookie: refused as cross-site.
    let r = b
        .post(
            "/login/passkey/start",
            &[("csrf", &"0".repeat(64)), ("address", "alice@local.test")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let token = b.get("/login").await.csrf();
    let r = b
        .post(
            "/login/passkey/start",
            &[("csrf", &token), ("address", "alice@local.test")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = b
        .post(
            "/login/passkey/finish",
            &[
                ("csrf", &token),
                ("ceremony", &"a".repeat(64)),
                ("credential", "{}"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "no such ceremony");

    // Registration asks for the password first.
    b.login("alice@local.test", PW, "").await;
    let token = b.get("/account/passkeys").await.csrf();
    let r = b
        .post(
            "/account/passkeys/start",
            &[("csrf", &token), ("label", "key"), ("password", "wrong")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = b
        .post(
            "/account/passkeys/start",
            &[("csrf", &token), ("label", "key"), ("password", PW)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let options: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let pk = &options["options"]["publicKey"];
    assert_eq!(pk["rp"]["id"], HOST, "{pk}");
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    s.ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_sees_bans_locks_and_events_and_lifts_them() {
    let s = setup(LIMITS).await;
    for u in ["bob", "carol"] {
        s.ts.set_password(&format!("{u}@local.test"), PW).await;
    }
    for guess in ["one", "two", "three"] {
        auth_once(&s.ts, "submission", "bob@local.test", guess).await;
    }
    let ban = palisade_store::Block {
        key: "192.0.2.7".into(),
        since: 1,
        until: i64::MAX / 2,
        strikes: 1,
        reason: "failed logins".into(),
    };
    s.ts.store.put_ban(&ban).await.unwrap();
    cli(&s.ts, &["user", "admin", "carol@local.test"]);
    let mut carol = Browser::new(&s);
    carol.login("carol@local.test", PW, "").await;
    let page = carol.get("/admin/security").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("192.0.2.7") && page.body.contains("bob@local.test"));
    let found = carol.get("/admin/security?q=auth.fail").await;
    assert!(
        found.body.contains("127.0.0.1 (submission)"),
        "{}",
        found.body
    );
    assert!(!found.body.contains("<td>web.login</td>"), "filtered");

    let r = carol
        .post(
            "/admin/security/lift",
            &[("csrf", &page.csrf()), ("ip", "192.0.2.7")],
        )
        .await;
    assert!(
        r.body.contains("192.0.2.7 is no longer banned"),
        "{}",
        r.body
    );
    assert!(s.ts.store.ban("192.0.2.7").await.unwrap().is_none());
    let r = carol
        .post(
            "/admin/security/unlock",
            &[("csrf", &page.csrf()), ("address", "BOB@local.test")],
        )
        .await;
    assert!(r.body.contains("bob@local.test is unlocked"), "{}", r.body);
    let reply = auth_once(&s.ts, "submission", "bob@local.test", PW)
        .await
        .unwrap();
    assert!(reply.starts_with("235"), "{reply}");
    // Bob, no administrator, gets 403 for the page and its actions.
    let mut bob = Browser::new(&s);
    bob.login("bob@local.test", PW, "").await;
    assert_eq!(
        bob.get("/admin/security").await.status,
        StatusCode::FORBIDDEN
    );
    let token = bob.get("/account").await.csrf();
    let r = bob
        .post(
            "/admin/security/lift",
            &[("csrf", &token), ("ip", "127.0.0.1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    s.ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_adds_resets_requires_two_factor_of_and_removes_a_user() {
    let s = setup("").await;
    for u in ["alice", "carol"] {
        s.ts.set_password(&format!("{u}@local.test"), PW).await;
    }
    cli(&s.ts, &["user", "admin", "carol@local.test"]);
    let mut carol = Browser::new(&s);
    carol.login("carol@local.test", PW, "").await;
    let token = carol.get("/admin/users").await.csrf();
    let add = |pw: &'static str| {
        [
            ("csrf", token.clone()),
            ("address", "Dave@local.test".to_string()),
            ("name", "Dave Example".to_string()),
            ("password", pw.to_string()),
            ("confirm", pw.to_string()),
        ]
    };
    let pairs = |f: &[(&'static str, String)]| -> Vec<(&'static str, String)> { f.to_vec() };
    let weak = pairs(&add("password1"));
    let weak: Vec<(&str, &str)> = weak.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = carol.post("/admin/users/add", &weak).await;
    assert!(r.body.contains("Password refused"), "{}", r.body);
    let good = pairs(&add("a sturdy passphrase for him 5"));
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = carol.post("/admin/users/add", &good).await;
    assert!(r.body.contains("Dave@local.test is added"), "{}", r.body);
    let mut dave = Browser::new(&s);
    let r = dave
        .login("dave@local.test", "a sturdy passphrase for him 5", "")
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    // Two-factor required: every page but its setup sends Dave there.
    let r = carol
        .post(
            "/admin/users/require-2fa",
            &[
                ("csrf", &token),
                ("address", "dave@local.test"),
                ("on", "yes"),
            ],
        )
        .await;
    assert!(r.body.contains("must set up two-factor"), "{}", r.body);
    let r = dave.get("/account/app-passwords").await;
    assert_eq!(r.headers["location"], "/account/two-factor");
    let r = dave.get("/account/two-factor").await;
    assert!(r.body.contains("Your administrator requires two-factor"));

    // A new password set by the administrator signs Dave out everywhere.
    let r = carol
        .post(
            "/admin/users/password",
            &[
                ("csrf", &token),
                ("address", "dave@local.test"),
                ("password", "another sturdy passphrase 6"),
                ("confirm", "another sturdy passphrase 6"),
            ],
        )
        .await;
    assert!(r.body.contains("has a new password"), "{}", r.body);
    assert_eq!(
        dave.get("/account/two-factor").await.status,
        StatusCode::SEE_OTHER
    );

    // Removal asks for the address twice; a user without the role gets 403.
    let mut alice = Browser::new(&s);
    alice.login("alice@local.test", PW, "").await;
    let t = alice.get("/account").await.csrf();
    let r = alice
        .post(
            "/admin/users/remove",
            &[
                ("csrf", &t),
                ("address", "dave@local.test"),
                ("again", "dave@local.test"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = carol
        .post(
            "/admin/users/remove",
            &[
                ("csrf", &token),
                ("address", "dave@local.test"),
                ("again", "dav@local.test"),
            ],
        )
        .await;
    assert!(r.body.contains("is kept"), "{}", r.body);
    let r = carol
        .post(
            "/admin/users/remove",
            &[
                ("csrf", &token),
                ("address", "dave@local.test"),
                ("again", "DAVE@local.test"),
            ],
        )
        .await;
    assert!(r.body.contains("dave@local.test is removed"), "{}", r.body);
    let r = Browser::new(&s)
        .login("dave@local.test", "another sturdy passphrase 6", "")
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let events = cli(&s.ts, &["security", "events", "--user", "dave@local.test"]);
    for kind in [
        "web.admin.user_added",
        "web.admin.password_set",
        "web.admin.user_removed",
    ] {
        assert!(events.contains(kind), "{kind}: {events}");
    }
    s.ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_adds_a_domain_and_sees_each_record_checked_live() {
    let dns = palisade_testkit::DnsAuthority::start().await;
    // new.test publishes its MX at us and nothing else yet.
    dns.mx("new.test", 10, HOST)
        .a(HOST, std::net::Ipv4Addr::LOCALHOST);
    let s = setup_with_dns("", dns).await;
    s.ts.set_password("carol@local.test", PW).await;
    cli(&s.ts, &["user", "admin", "carol@local.test"]);
    let mut carol = Browser::new(&s);
    carol.login("carol@local.test", PW, "").await;
    let token = carol.get("/admin/domains").await.csrf();
    let r = carol
        .post(
            "/admin/domains/add",
            &[("csrf", &token), ("domain", "192.0.2.1")],
        )
        .await;
    assert!(r.body.contains("is an IP address"), "{}", r.body);
    let r = carol
        .post(
            "/admin/domains/add",
            &[("csrf", &token), ("domain", "New.Test")],
        )
        .await;
    assert!(r.body.contains("new.test is added"), "{}", r.body);
    assert!(r.body.contains("href=\"/admin/domains/new.test\""));

    let page = carol.get("/admin/domains/new.test").await;
    assert_eq!(page.status, StatusCode::OK);
    let row = |id: &str| {
        page.body
            .split("<tr>")
            .find(|r| r.starts_with(&format!("<td>{id}</td>")))
            .unwrap_or_else(|| panic!("no {id} row: {}", page.body))
            .to_string()
    };
    assert!(row("mx").contains("state good"), "{}", row("mx"));
    let spf = row("spf");
    assert!(
        spf.contains("state wrong") && spf.contains("SPF record"),
        "{spf}"
    );
    // Not one of ours: 404; a user without the role: 403.
    assert_eq!(
        carol.get("/admin/domains/other.test").await.status,
        StatusCode::NOT_FOUND
    );
    s.ts.set_password("alice@local.test", PW).await;
    let mut alice = Browser::new(&s);
    alice.login("alice@local.test", PW, "").await;
    assert_eq!(
        alice.get("/admin/domains/new.test").await.status,
        StatusCode::FORBIDDEN
    );
    // A domain with users stays.
    let r = carol
        .post(
            "/admin/domains/remove",
            &[("csrf", &token), ("domain", "local.test")],
        )
        .await;
    assert!(r.body.contains("still has users"), "{}", r.body);
    s.ts.shutdown().await;
}

/// A fresh OpenPGP key for `uid` made by GnuPG, ASCII-armoured.
fn gpg_public_key(uid: &str) -> String {
    let home = tempfile::tempdir().unwrap();
    let gpg = |args: &[&str]| {
        let o = std::process::Command::new("gpg")
            .arg("--homedir")
            .arg(home.path())
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .expect("gpg is installed (.ci/run installs gnupg)");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    gpg(&["--quick-gen-key", uid, "future-default", "default", "1y"]);
    gpg(&["--armor", "--export"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_imports_their_key_and_turns_encryption_on_by_the_clis_rules() {
    let s = setup("").await;
    s.ts.set_password("alice@local.test", PW).await;
    let mut b = Browser::new(&s);
    b.login("alice@local.test", PW, "").await;
    let page = b.get("/account/keys").await;
    assert!(page.body.contains("You have no keys."));
    let token = page.csrf();
    let settings = |at_rest: &'static str| {
        [
            ("csrf", token.clone()),
            ("at_rest", at_rest.to_string()),
            ("outbound", "opportunistic".to_string()),
            ("password", PW.to_string()),
        ]
    };
    let on = settings("on");
    let on: Vec<(&str, &str)> = on.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = b.post("/account/keys/settings", &on).await;
    assert!(r.body.contains("Import a key first"), "{}", r.body);

    let bobs = gpg_public_key("Bob <bob@local.test>");
    let r = b
        .post(
            "/account/keys/import",
            &[("csrf", &token), ("key", &bobs), ("password", PW)],
        )
        .await;
    assert!(
        r.body.contains("The key is refused"),
        "names someone else: {}",
        r.body
    );
    let alices = gpg_public_key("Alice <alice@local.test>");
    let r = b
        .post(
            "/account/keys/import",
            &[("csrf", &token), ("key", &alices), ("password", "wrong")],
        )
        .await;
    assert!(r.body.contains("current password or code is wrong"));
    let r = b
        .post(
            "/account/keys/import",
            &[("csrf", &token), ("key", &alices), ("password", PW)],
        )
        .await;
    assert!(r.body.contains("imported"), "{}", r.body);
    let r = b.post("/account/keys/settings", &on).await;
    assert!(r.body.contains("Saved."), "{}", r.body);
    let alice = Address::parse("alice@local.test").unwrap();
    assert!(s.ts.store.encrypt_at_rest(&alice).await.unwrap());
    assert_eq!(
        s.ts.store
            .outbound_encryption(&alice)
            .await
            .unwrap()
            .as_deref(),
        Some("opportunistic")
    );
    // The only key while mail is sealed to it stays.
    let fingerprint = s.ts.store.user_keys(&alice).await.unwrap()[0]
        .fingerprint
        .clone();
    let r = b
        .post(
            "/account/keys/remove",
            &[
                ("csrf", &token),
                ("fingerprint", &fingerprint),
                ("password", PW),
            ],
        )
        .await;
    assert!(r.body.contains("turn that off first"), "{}", r.body);
    s.ts.shutdown().await;
}

/// RCPT TO `rcpt` over port 25 then the message: the reply to RCPT (the message is
/// sent only if it was taken).
async fn mail_to(ts: &TestServer, rcpt: &str, subject: &str) -> String {
    let mut c = connect(ts.addr("inbound")).await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<>", "250").await;
    let r = c.cmd(&format!("RCPT TO:<{rcpt}>")).await;
    if r.starts_with("250") {
        c.expect("DATA", "354").await;
        let m = format!("Subject: {subject}\r\n\r\nHi.\r\n.\r\n");
        c.send(m.as_bytes()).await;
        assert!(c.reply().await.starts_with("250"));
    }
    c.cmd("QUIT").await;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_manages_aliases_groups_and_send_as() {
    let s = setup("").await;
    for u in ["alice", "carol"] {
        s.ts.set_password(&format!("{u}@local.test"), PW).await;
    }
    cli(&s.ts, &["user", "admin", "carol@local.test"]);
    let mut carol = Browser::new(&s);
    carol.login("carol@local.test", PW, "").await;
    let token = carol.get("/admin/aliases").await.csrf();
    let add = |source: &'static str, targets: &'static str| {
        [
            ("csrf", token.clone()),
            ("source", source.into()),
            ("targets", targets.into()),
        ]
    };
    for (source, targets, said) in [
        (
            "Sales@local.test",
            "alice@local.test",
            "Added: Sales@local.test -&gt; alice@local.test",
        ),
        (
            "team@local.test",
            "alice@local.test, bob@local.test",
            "team@local.test -&gt; bob@local.test",
        ),
        (
            "*@local.test",
            "alice@local.test bob@local.test",
            "a catch-all routes to one local user",
        ),
        ("x@local.test", "not an address", "&quot;not&quot;"),
    ] {
        let f = add(source, targets);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = carol.post("/admin/aliases/add", &f).await;
        assert!(r.body.contains(said), "{source}: {}", r.body);
    }
    assert!(
        mail_to(&s.ts, "sales@local.test", "to-sales")
            .await
            .starts_with("250")
    );
    assert!(
        mail_to(&s.ts, "team@local.test", "to-team")
            .await
            .starts_with("250")
    );
    s.ts.wait_for_mail("alice", 2).await;
    s.ts.wait_for_mail("bob", 1).await;
    let r = carol
        .post(
            "/admin/aliases/remove",
            &[("csrf", &token), ("source", "sales@local.test")],
        )
        .await;
    assert!(r.body.contains("sales@local.test is removed"), "{}", r.body);
    // Recipient lookups are cached, but a change through the server's own store (the
    // console) moves the store's generation: the next RCPT sees it, with no wait.
    assert!(
        mail_to(&s.ts, "sales@local.test", "late")
            .await
            .starts_with("550")
    );

    let r = carol
        .post(
            "/admin/aliases/send-as",
            &[
                ("csrf", &token),
                ("user", "alice@local.test"),
                ("address", "ceo@local.test"),
                ("action", "add"),
            ],
        )
        .await;
    assert!(
        r.body.contains("may now send as ceo@local.test"),
        "{}",
        r.body
    );
    let r = carol
        .get("/admin/aliases/send-as?q=alice%40local.test")
        .await;
    assert!(
        r.body.contains("may also send as ceo@local.test"),
        "{}",
        r.body
    );
    let alice_key = Address::parse("alice@local.test").unwrap();
    assert_eq!(
        s.ts.store.list_send_as(&alice_key).await.unwrap(),
        ["ceo@local.test"]
    );

    let mut alice = Browser::new(&s);
    alice.login("alice@local.test", PW, "").await;
    assert_eq!(
        alice.get("/admin/aliases").await.status,
        StatusCode::FORBIDDEN
    );
    let t = alice.get("/account").await.csrf();
    let r = alice
        .post(
            "/admin/aliases/add",
            &[
                ("csrf", &t),
                ("source", "me@local.test"),
                ("targets", "alice@local.test"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    s.ts.shutdown().await;
}
