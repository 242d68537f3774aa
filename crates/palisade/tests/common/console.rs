//! The web console's test client: a server with the console on, and a browser of our
//! own that keeps its cookies by hand so the tests see every `Set-Cookie`.

use super::*;
use palisade_store::prelude::*;
use palisade_types::Address;
use reqwest::StatusCode;
use std::collections::BTreeMap;

pub const PW: &str = "correct horse battery staple 42";
pub const LIMITS: &str = "[security]\nnever_ban = []\nmax_login_failures = 3\nmax_ip_failures = 6\n\
                      lockout_secs = 3600\nban_secs = 3600\n";

pub struct Setup {
    pub ts: TestServer,
    pub client: reqwest::Client,
    pub base: String,
}

/// A server with the console on (its self-signed certificate, trusted by the client).
pub async fn setup(extra: &str) -> Setup {
    setup_with_dns(extra, palisade_testkit::DnsAuthority::start().await).await
}

pub async fn setup_with_dns(extra: &str, dns: palisade_testkit::DnsAuthority) -> Setup {
    let ts = start_with_dns(&format!("[web]\naddress = \"127.0.0.1:0\"\n{extra}"), dns).await;
    let web = ts.addr("web");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ts.cert_pem()).unwrap())
        .resolve(HOST, web)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Setup {
        ts,
        client,
        base: format!("https://{HOST}:{}", web.port()),
    }
}

/// One browser: its cookies, kept by hand so the tests see every `Set-Cookie`.
pub struct Browser<'a> {
    pub s: &'a Setup,
    pub cookies: BTreeMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of the hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").unwrap() + 19;
        self.body[at..at + 64].to_string()
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }
}

impl<'a> Browser<'a> {
    pub fn new(s: &'a Setup) -> Self {
        Browser {
            s,
            cookies: BTreeMap::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        pairs.join("; ")
    }

    pub async fn send(&mut self, r: reqwest::RequestBuilder) -> Page {
        let r = r
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        let page = Page {
            status: r.status(),
            headers: r.headers().clone(),
            body: String::new(),
        };
        for c in page.set_cookies() {
            let pair = c.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if c.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
        Page {
            body: r.text().await.unwrap(),
            ..page
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let url = format!("{}{path}", self.s.base);
        self.send(self.s.client.get(url)).await
    }

    /// A POST as a browser on our page sends it: same-origin metadata and `form`.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let url = format!("{}{path}", self.s.base);
        let r = self
            .s
            .client
            .post(url)
            .header("origin", &self.s.base)
            .header("sec-fetch-site", "same-origin");
        let r = form_body(r, form);
        self.send(r).await
    }

    pub async fn login(&mut self, user: &str, pw: &str, code: &str) -> Page {
        let form = self.get("/login").await;
        let csrf = form.csrf();
        let fields = [
            ("csrf", csrf.as_str()),
            ("address", user),
            ("password", pw),
            ("code", code),
        ];
        self.post("/login", &fields).await
    }
}

/// `form`, URL-encoded, as the request's body.
pub fn form_body(r: reqwest::RequestBuilder, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
    r.header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap())
}

/// Turns two-factor on for `user` with a fresh seed; its TOTP generator.
pub async fn enable_totp(ts: &TestServer, user: &str) -> totp_rs::Totp {
    let a = Address::parse(user).unwrap();
    let seed = palisade_access::two_factor::new_seed();
    ts.store.put_totp(&a, &seed, true, 0).await.unwrap();
    palisade_access::two_factor::totp(&seed, &a).unwrap()
}

/// carol@local.test made an administrator and signed in.
pub async fn admin_carol(s: &Setup) -> Browser<'_> {
    s.ts.set_password("carol@local.test", PW).await;
    cli(&s.ts, &["user", "admin", "carol@local.test"]);
    let mut carol = Browser::new(s);
    carol.login("carol@local.test", PW, "").await;
    carol
}

/// alice@local.test (no role) signed in.
pub async fn user_alice(s: &Setup) -> Browser<'_> {
    s.ts.set_password("alice@local.test", PW).await;
    let mut alice = Browser::new(s);
    alice.login("alice@local.test", PW, "").await;
    alice
}

/// A DNS authority where audited.test has an MX at us and the SPF record `spf`.
pub async fn audited_dns(spf: &str) -> palisade_testkit::DnsAuthority {
    let dns = palisade_testkit::DnsAuthority::start().await;
    dns.mx("audited.test", 10, HOST)
        .a(HOST, std::net::Ipv4Addr::LOCALHOST)
        .txt("audited.test", spf);
    dns
}

/// Yesterday's TLS results of delivery to peer.test: `ok` sessions that succeeded and
/// `expired` that met an expired certificate.
pub async fn seed_tls_results(ts: &TestServer, ok: i64, expired: i64) {
    let tls = |result: &str, count| palisade_store::TlsResultRow {
        domain: "peer.test".into(),
        day: palisade_queue::now_secs() / 86_400 - 1,
        policy_type: "sts".into(),
        mx: "mx.peer.test".into(),
        result: result.into(),
        count,
    };
    let rows = [tls("success", ok), tls("certificate-expired", expired)];
    ts.store.record_tls_results(&rows).await.unwrap();
}
