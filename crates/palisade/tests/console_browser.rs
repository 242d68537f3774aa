//! The web console in a real browser (issue 19): Debian's headless Chromium driven over
//! WebDriver (chromedriver, fantoccini). Alice logs in with her password and a TOTP
//! code computed here, makes an app password in the page and sends mail with it over
//! SMTP submission; the main pages are kept as screenshots (wide and at 360 px) under
//! `target/console-screenshots/`, CI's artifacts. A passkey is registered and used with
//! Chromium's virtual authenticator (WebDriver's WebAuthn extension).
#![allow(clippy::unwrap_used)]

mod common;

use common::console::{audited_dns, seed_tls_results};
use common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Mechanism;
use lettre::{AsyncTransport, Message};
use palisade_store::prelude::*;
use palisade_types::Address;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PW: &str = "correct horse battery staple 42";

/// chromedriver on a free loopback port, stopped by its PID when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    async fn start() -> Driver {
        let port = free_port();
        // Held in a Driver at once, so every path below stops it.
        let driver = Driver {
            child: Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver (Debian package chromium-driver) is installed"),
            port,
        };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("chromedriver did not listen on {port}");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// base64 of the SHA-256 of the certificate's public key: Chromium trusts exactly this
/// key for the test and nothing else it cannot verify.
fn spki_pin(cert_pem: &[u8]) -> String {
    use base64::Engine;
    use rustls_pki_types::pem::PemObject as _;
    let der = rustls_pki_types::CertificateDer::pem_slice_iter(cert_pem)
        .next()
        .unwrap()
        .unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.public_key().raw);
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

async fn browser(driver: &Driver, ts: &TestServer) -> Client {
    let args = [
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--window-size=1280,900".into(),
        format!("--host-resolver-rules=MAP {HOST} 127.0.0.1"),
        format!(
            "--ignore-certificate-errors-spki-list={}",
            spki_pin(&ts.cert_pem())
        ),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": "/usr/bin/chromium", "args": args }),
    );
    ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .unwrap()
}

/// Where the screenshots go: `target/console-screenshots/`.
fn shots() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        std::path::PathBuf::from,
    );
    let dir = target.join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// If the page scrolls sideways: the elements that reach past the viewport, outside a
/// table's own scroller (as tag.class); `[]` when it does not.
const TOO_WIDE: &str = "const d = document.documentElement; \
    if (d.scrollWidth <= d.clientWidth) return []; \
    return [...document.querySelectorAll('body *')] \
      .filter(e => e.getBoundingClientRect().right > d.clientWidth) \
      .map(e => e.tagName + '.' + e.className);";

/// Accessibility basics: ids that appear twice, and form controls without a label.
const UNLABELLED: &str = "const ids = [...document.querySelectorAll('[id]')].map(e => e.id); \
    const twice = ids.filter((x, i) => ids.indexOf(x) !== i); \
    const bare = [...document.querySelectorAll('input:not([type=hidden]), select')] \
      .filter(e => !e.id || !document.querySelector('label[for=\"' + e.id + '\"]')) \
      .map(e => e.name); \
    return twice.concat(bare);";

/// A screenshot of the page as it is, wide and at 360 px (a phone), where nothing but
/// a table's own scroller may be wider than the screen, every control has a label and
/// no id is used twice.
async fn screenshot(c: &Client, name: &str) {
    let bad = c.execute(UNLABELLED, vec![]).await.unwrap();
    assert_eq!(
        bad,
        serde_json::json!([]),
        "{name}: duplicate ids or unlabelled controls"
    );
    for (width, suffix) in [(1280, ""), (360, "-360px")] {
        c.set_window_size(width, 900).await.unwrap();
        let wide = c.execute(TOO_WIDE, vec![]).await.unwrap();
        assert_eq!(wide, serde_json::json!([]), "{name} at {width} px");
        let png = c.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(shots().join(format!("{name}{suffix}.png")), png).unwrap();
    }
    c.set_window_size(1280, 900).await.unwrap();
}

async fn fill(c: &Client, id: &str, text: &str) {
    let e = c.find(Locator::Id(id)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

async fn submit(c: &Client, form_action: &str) {
    let css = format!("form[action='{form_action}'] button[type=submit]");
    c.find(Locator::Css(&css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits (bounded) until the page shows `css` with `text` (any text for ""): a form's
/// answer has loaded.
async fn appears(c: &Client, css: &str, text: &str) {
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && e.text().await.is_ok_and(|t| text.is_empty() || t == text)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "no {css} {text:?}: {}",
        c.source().await.unwrap_or_default()
    );
}

/// Logs in with the password alone (two-factor off).
async fn sign_in(c: &Client, base: &str, user: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    fill(c, "address", user).await;
    fill(c, "password", PW).await;
    submit(c, "/login").await;
    appears(c, "h1", "Your account").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_with_totp_make_an_app_password_and_send_with_it() {
    // sender.test fails SPF from loopback and asks for quarantine (DMARC).
    let dns = palisade_testkit::DnsAuthority::start().await;
    dns.txt("sender.test", "v=spf1 ip4:192.0.2.0/24 -all")
        .txt("_dmarc.sender.test", "v=DMARC1; p=quarantine");
    let ts = start_with_dns("[web]\naddress = \"127.0.0.1:0\"\n", dns).await;
    ts.set_password("alice@local.test", PW).await;
    let alice = Address::parse("alice@local.test").unwrap();
    let seed = palisade_access::two_factor::new_seed();
    ts.store.put_totp(&alice, &seed, true, 0).await.unwrap();
    let totp = palisade_access::two_factor::totp(&seed, &alice).unwrap();
    let driver = Driver::start().await;
    let c = browser(&driver, &ts).await;
    let base = format!("https://{HOST}:{}", ts.addr("web").port());

    c.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/login");
    screenshot(&c, "login").await;
    fill(&c, "address", "alice@local.test").await;
    fill(&c, "password", PW).await;
    fill(&c, "code", &totp_code(&totp, 0)).await;
    submit(&c, "/login").await;
    appears(&c, "h1", "Your account").await;
    let page = c.source().await.unwrap();
    assert!(page.contains("alice@local.test"), "{page}");
    screenshot(&c, "account").await;

    // A new app password, re-authenticated with the password and the next code.
    c.goto(&format!("{base}/account/app-passwords"))
        .await
        .unwrap();
    fill(&c, "label", "laptop").await;
    fill(&c, "password", PW).await;
    fill(&c, "code", &totp_code(&totp, 30)).await;
    submit(&c, "/account/app-passwords").await;
    appears(&c, "h1", "App passwords").await;
    let Ok(shown) = c.find(Locator::Id("new-app-password")).await else {
        panic!("no app password shown: {}", c.source().await.unwrap());
    };
    let app = shown.text().await.unwrap();
    assert!(app.len() == 19 && app.matches('-').count() == 3, "{app}");
    screenshot(&c, "app-passwords").await;

    // Used by a mail program: SMTP submission takes it and the message is delivered.
    let m = Message::builder()
        .from("alice@local.test".parse::<Mailbox>().unwrap())
        .to("bob@local.test".parse::<Mailbox>().unwrap())
        .subject("sent with a console app password")
        .body("hello".to_string())
        .unwrap();
    submission_client(
        &ts,
        "submission",
        "alice@local.test",
        &app,
        Mechanism::Plain,
    )
    .send(m)
    .await
    .unwrap();
    let got = ts.wait_for_mail("bob", 1).await;
    assert!(String::from_utf8_lossy(&got[0]).contains("sent with a console app password"));

    // The list shows its use; the security events show the login.
    c.goto(&format!("{base}/account/events")).await.unwrap();
    let events = c.source().await.unwrap();
    assert!(
        events.contains("web.login") && events.contains("web.app_password_added"),
        "{events}"
    );
    screenshot(&c, "events").await;
    c.goto(&format!("{base}/account/two-factor")).await.unwrap();
    appears(&c, "h1", "Two-factor authentication").await;
    screenshot(&c, "two-factor").await;

    // A message DMARC held for Alice: released in the page, found in her Maildir.
    let mut smtp = connect(ts.addr("inbound")).await;
    smtp.expect("EHLO client.sender.test", "250").await;
    smtp.expect("MAIL FROM:<a@sender.test>", "250").await;
    smtp.expect("RCPT TO:<alice@local.test>", "250").await;
    smtp.expect("DATA", "354").await;
    smtp.send(b"From: a@sender.test\r\nSubject: held by dmarc\r\n\r\nHi.\r\n.\r\n")
        .await;
    assert!(smtp.reply().await.starts_with("250"));
    c.goto(&format!("{base}/account/quarantine")).await.unwrap();
    appears(&c, "h1", "Quarantine").await;
    assert!(c.source().await.unwrap().contains("held by dmarc"));
    screenshot(&c, "quarantine").await;
    submit(&c, "/account/quarantine/release").await;
    appears(&c, "p.notice.ok", "").await;
    let got = ts.wait_for_mail("alice", 1).await;
    assert!(String::from_utf8_lossy(&got[0]).contains("held by dmarc"));
    c.close().await.unwrap();
    ts.shutdown().await;
}

/// WebDriver's "Add Virtual Authenticator" (WebAuthn Level 2 §11.3): a CTAP2 platform
/// authenticator with resident keys that verifies its user.
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl fantoccini::wd::WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/webauthn/authenticator",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserVerified": true,
        });
        (http::Method::POST, Some(body.to_string()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_is_registered_then_logs_in_without_a_password() {
    let ts = start("[web]\naddress = \"127.0.0.1:0\"\n").await;
    ts.set_password("alice@local.test", PW).await;
    let driver = Driver::start().await;
    let c = browser(&driver, &ts).await;
    c.issue_cmd(AddVirtualAuthenticator).await.unwrap();
    let base = format!("https://{HOST}:{}", ts.addr("web").port());
    sign_in(&c, &base, "alice@local.test").await;

    // Registered after re-authentication, through the page's script.
    c.goto(&format!("{base}/account/passkeys")).await.unwrap();
    fill(&c, "label", "laptop key").await;
    fill(&c, "password", PW).await;
    submit(&c, "/account/passkeys/start").await;
    appears(&c, "td", "laptop key").await;
    screenshot(&c, "passkeys").await;

    // Signed out, then in again with the passkey alone.
    submit(&c, "/logout").await;
    appears(&c, "h1", "Log in").await;
    fill(&c, "address", "alice@local.test").await;
    c.find(Locator::Id("passkey-login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    appears(&c, "h1", "Your account").await;
    c.goto(&format!("{base}/account/events")).await.unwrap();
    let events = c.source().await.unwrap();
    assert!(events.contains("web.passkey_added"), "{events}");
    assert!(events.contains("(passkey)"), "a passkey login: {events}");
    let keys = ts
        .store
        .passkeys(&Address::parse("alice@local.test").unwrap())
        .await
        .unwrap();
    assert!(keys[0].last_used.is_some(), "its counter was kept");
    c.close().await.unwrap();
    ts.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_adds_a_domain_and_sees_its_records_checked() {
    let dns = palisade_testkit::DnsAuthority::start().await;
    dns.mx("new.test", 10, HOST)
        .a(HOST, std::net::Ipv4Addr::LOCALHOST);
    let ts = start_with_dns("[web]\naddress = \"127.0.0.1:0\"\n", dns).await;
    ts.set_password("carol@local.test", PW).await;
    cli(&ts, &["user", "admin", "carol@local.test"]);
    let driver = Driver::start().await;
    let c = browser(&driver, &ts).await;
    let base = format!("https://{HOST}:{}", ts.addr("web").port());
    sign_in(&c, &base, "carol@local.test").await;
    c.goto(&format!("{base}/admin/domains")).await.unwrap();
    fill(&c, "add-domain", "new.test").await;
    submit(&c, "/admin/domains/add").await;
    appears(&c, "p.notice.ok", "").await;
    c.find(Locator::LinkText("new.test"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    appears(&c, "h1", "Domain new.test").await;
    let page = c.source().await.unwrap();
    assert!(
        page.contains("state good") && page.contains("state wrong"),
        "{page}"
    );
    submit(&c, "/admin/dkim/generate").await;
    appears(&c, "p.notice.ok", "").await;
    let page = c.source().await.unwrap();
    assert!(page.contains("._domainkey.new.test"), "{page}");
    screenshot(&c, "domain-records").await;
    for (path, title, shot) in [
        ("/admin/security", "Security", "admin-security"),
        ("/admin/users", "Users", "admin-users"),
        ("/admin/queue", "Queue", "admin-queue"),
    ] {
        c.goto(&format!("{base}{path}")).await.unwrap();
        appears(&c, "h1", title).await;
        screenshot(&c, shot).await;
    }
    c.close().await.unwrap();
    ts.shutdown().await;
}

/// Two days of counts from two nodes, as their flushes leave them.
async fn seed_counts(ts: &TestServer) {
    use palisade_store::{DashboardStore, HourlyCount, Tally};
    let hour = palisade_queue::now_secs() / 3600;
    let mut rows = Vec::new();
    for h in 0..48 {
        let n = 20 + (h * 7) % 30;
        for (tally, key, count) in [
            (Tally::Received, "", n),
            (Tally::Sent, "", n / 4),
            (Tally::Delivered, "", n + n / 4),
            (Tally::Deferred, "", h % 3),
            (Tally::SenderVerdict, "accept", n - 2),
            (Tally::SenderVerdict, "quarantine", 2),
            (Tally::Rejected, "no_such_user", h % 5),
            (Tally::RejectedSender, "spam.test", h % 4),
        ] {
            let key = key.to_string();
            rows.push(HourlyCount {
                hour: hour - h,
                tally,
                key,
                count,
            });
        }
    }
    let (a, b) = rows.split_at(rows.len() / 2);
    ts.store.add_hourly_counts("mx1", a).await.unwrap();
    ts.store.add_hourly_counts("mx2", b).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_reads_the_dashboard_reports_and_an_audit() {
    let dns = audited_dns("v=spf1 mx -all").await;
    let ts = start_with_dns("[web]\naddress = \"127.0.0.1:0\"\n", dns).await;
    ts.set_password("carol@local.test", PW).await;
    cli(&ts, &["user", "admin", "carol@local.test"]);
    seed_counts(&ts).await;
    seed_tls_results(&ts, 40, 2).await;
    let driver = Driver::start().await;
    let c = browser(&driver, &ts).await;
    let base = format!("https://{HOST}:{}", ts.addr("web").port());
    sign_in(&c, &base, "carol@local.test").await;
    c.find(Locator::LinkText("Dashboard"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    appears(&c, "h1", "Dashboard").await;
    let svg = c.find(Locator::Css("figure.chart svg")).await.unwrap();
    let label = svg.attr("aria-label").await.unwrap().unwrap_or_default();
    assert!(label.starts_with("Messages accepted: received "), "{label}");
    screenshot(&c, "dashboard").await;
    c.find(Locator::LinkText("30 days"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    appears(&c, "strong[aria-current=page]", "30 days").await;
    c.goto(&format!("{base}/admin/reports")).await.unwrap();
    appears(&c, "h1", "Reports").await;
    screenshot(&c, "reports").await;
    fill(&c, "q", "audited.test").await;
    submit(&c, "/admin/reports/audit").await;
    appears(&c, "h1", "Domain audit").await;
    let page = c.source().await.unwrap();
    assert!(page.contains("v=spf1 mx -all"), "{page}");
    screenshot(&c, "audit").await;
    c.close().await.unwrap();
    ts.shutdown().await;
}
