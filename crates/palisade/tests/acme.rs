//! Issue 17: certificates from an ACME CA, end to end against Pebble (Debian's `pebble`,
//! Let's Encrypt's test CA) on loopback. Pebble resolves our names with the test DNS
//! authority and validates over real sockets: TLS-ALPN-01 (RFC 8737) on our HTTPS
//! listener, HTTP-01 (RFC 8555 §8.3) on our port 80 listener.
#![allow(clippy::unwrap_used)]

mod common;

use common::{HOST, TestCa, TestServer, connect, free_port, start_with_dns};
use palisade_store::prelude::*;
use palisade_testkit::DnsAuthority;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// A Pebble process on loopback, stopped (by its own handle) when dropped.
struct Pebble {
    child: Child,
    dir: tempfile::TempDir,
    acme: u16,
    management: u16,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Pebble {
    /// Validates on `tls_port` (TLS-ALPN-01) and `http_port` (HTTP-01), resolving with
    /// `dns`; issues certificates valid for `validity_secs`.
    fn start(dns: &DnsAuthority, tls_port: u16, http_port: u16, validity_secs: u64) -> Pebble {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new(dir.path());
        let (cert, key) = ca.issue("pebble", &["127.0.0.1", "localhost"]);
        let (acme, management) = (free_port(), free_port());
        let config = format!(
            r#"{{"pebble": {{"listenAddress": "127.0.0.1:{acme}", "managementListenAddress": "127.0.0.1:{management}",
            "certificate": "{}", "privateKey": "{}", "httpPort": {http_port}, "tlsPort": {tls_port},
            "ocspResponderURL": "", "externalAccountBindingRequired": false,
            "certificateValidityPeriod": {validity_secs}}}}}"#,
            cert.display(),
            key.display()
        );
        std::fs::write(dir.path().join("pebble.json"), config).unwrap();
        let child = Command::new("pebble")
            .arg("-config")
            .arg(dir.path().join("pebble.json"))
            .arg("-dnsserver")
            .arg(dns.addr().to_string())
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble (Debian package pebble) is installed");
        let pebble = Pebble {
            child,
            dir,
            acme,
            management,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect((LOOPBACK, pebble.acme)).is_ok()
                && std::net::TcpStream::connect((LOOPBACK, pebble.management)).is_ok()
            {
                return pebble;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("pebble did not start");
    }

    fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The `[acme]` section for this Pebble.
    fn acme_toml(&self, challenge: &str) -> String {
        format!(
            "[acme]\ndirectory = \"https://127.0.0.1:{}/dir\"\ncontact = [\"mailto:admin@local.test\"]\n\
             challenge = \"{challenge}\"\nca_file = \"{}\"\ncheck_interval_secs = 1\n",
            self.acme,
            self.ca_file().display()
        )
    }

    /// The root Pebble issues under (made anew at each start; its management API).
    async fn root(&self) -> rustls::RootCertStore {
        let ca = std::fs::read(self.ca_file()).unwrap();
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .build()
            .unwrap();
        let pem = client
            .get(format!("https://127.0.0.1:{}/roots/0", self.management))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&pem) {
            roots.add(c.unwrap()).unwrap();
        }
        assert_eq!(roots.len(), 1);
        roots
    }
}

/// What a verified handshake showed of the leaf certificate.
#[derive(Debug, Clone, PartialEq)]
struct Leaf {
    serial: Vec<u8>,
    names: Vec<String>,
    spki: Vec<u8>,
}

fn leaf(der: &CertificateDer<'_>) -> Leaf {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).unwrap();
    let mut names: Vec<String> = cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .map(|n| match n {
            x509_parser::extensions::GeneralName::DNSName(d) => d.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    names.sort();
    Leaf {
        serial: cert.raw_serial().to_vec(),
        names,
        spki: cert.tbs_certificate.subject_pki.raw.to_vec(),
    }
}

fn connector(roots: &rustls::RootCertStore) -> tokio_rustls::TlsConnector {
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots.clone())
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// The leaf served at `addr` for `name`, verified against Pebble's root; `None` while
/// the server still serves a certificate that does not verify (the self-signed one).
async fn served(addr: SocketAddr, name: &str, roots: &rustls::RootCertStore) -> Option<Leaf> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let server_name = ServerName::try_from(name.to_string()).unwrap();
    let tls = connector(roots).connect(server_name, tcp).await.ok()?;
    let certs = tls.get_ref().1.peer_certificates()?;
    Some(leaf(&certs[0]))
}

/// Polls (bounded) until `check` holds for the leaf served at `addr` for `name`.
async fn wait_for(
    addr: SocketAddr,
    name: &str,
    roots: &rustls::RootCertStore,
    what: &str,
    check: impl Fn(&Leaf) -> bool,
) -> Leaf {
    for _ in 0..600 {
        if let Some(l) = served(addr, name, roots).await
            && check(&l)
        {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn dns_for(names: &[&str]) -> DnsAuthority {
    let dns = DnsAuthority::start().await;
    for n in names {
        dns.a(n, LOOPBACK);
    }
    dns
}

/// TLS-ALPN-01 on the HTTPS listener: the certificate covers the host name and
/// `mta-sts.` of the local domain, reaches SMTP STARTTLS and HTTPS without a restart,
/// is renewed at two thirds of its (here 30-second) lifetime with the same key, and is
/// re-issued when a domain is added; a name the CA cannot validate is left out rather
/// than holding the others back.
#[tokio::test]
async fn tls_alpn_01_issues_renews_and_follows_the_domains() {
    let dns = dns_for(&[HOST, "mta-sts.local.test", "mta-sts.added.test"]).await;
    let web = free_port();
    let pebble = Pebble::start(&dns, web, free_port(), 30);
    let extra = format!(
        "[web]\naddress = \"127.0.0.1:{web}\"\n{}",
        pebble.acme_toml("tls-alpn-01")
    );
    let ts = start_with_dns(&extra, dns).await;
    let roots = pebble.root().await;
    let https = ts.addr("web");

    let first = wait_for(https, HOST, &roots, "the first certificate", |_| true).await;
    assert_eq!(first.names, vec!["mta-sts.local.test", HOST]);
    // The same certificate on SMTP (STARTTLS), and the MTA-STS host name verifies.
    assert_eq!(smtp_served(&ts, &roots).await, Some(first.clone()));
    assert_eq!(
        served(https, "mta-sts.local.test", &roots).await,
        Some(first.clone())
    );
    let key = std::fs::read(ts.dir.path().join("tls/acme-key.pem")).unwrap();
    assert!(std::fs::read(ts.dir.path().join("acme/account.json")).is_ok());
    // `dns records` prints the TLSA record of this key and says it outlives renewals.
    std::fs::write(ts.dir.path().join("palisade.toml"), &ts.toml).unwrap();
    let records = common::cli(&ts, &["dns", "records", "local.test"]);
    let spki_hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &first.spki);
    assert!(
        records.contains(&format!("TLSA 3 1 1 {}", hex::encode(spki_hash))),
        "{records}"
    );
    assert!(records.contains("kept across renewals"), "{records}");

    // Renewal at two thirds of 30 seconds: a new certificate, the same key (the TLSA
    // 3 1 1 record stays valid), served by the same running server.
    let renewed = wait_for(https, HOST, &roots, "the renewal", |l| {
        l.serial != first.serial
    })
    .await;
    assert_eq!(renewed.names, first.names);
    assert_eq!(renewed.spki, first.spki);
    assert_eq!(
        std::fs::read(ts.dir.path().join("tls/acme-key.pem")).unwrap(),
        key
    );

    // Two domains added: one with its mta-sts name in the DNS, one without.
    ts.store
        .add_domain(&palisade_types::Domain::parse("nodns.test").unwrap())
        .await
        .unwrap();
    ts.store
        .add_domain(&palisade_types::Domain::parse("added.test").unwrap())
        .await
        .unwrap();
    let grown = wait_for(https, HOST, &roots, "the added domain", |l| {
        l.names.contains(&"mta-sts.added.test".to_string())
    })
    .await;
    assert_eq!(
        grown.names,
        vec!["mta-sts.added.test", "mta-sts.local.test", HOST]
    );
    assert_eq!(grown.spki, first.spki);
    ts.shutdown().await;
}

/// The leaf the inbound SMTP listener presents after STARTTLS, verified for HOST;
/// `None` while it presents one that does not verify (the self-signed one).
async fn smtp_served(ts: &TestServer, roots: &rustls::RootCertStore) -> Option<Leaf> {
    let mut raw = connect(ts.addr("inbound")).await;
    raw.cmd("EHLO client.test").await;
    raw.expect("STARTTLS", "220 2.0.0").await;
    let tls = connector(roots)
        .connect(ServerName::try_from(HOST).unwrap(), raw.stream)
        .await
        .ok()?;
    Some(leaf(&tls.get_ref().1.peer_certificates()?[0]))
}

/// HTTP-01 on the port 80 listener (here another port, as Pebble is told): no HTTPS
/// listener, so the certificate names the host alone; SMTP serves it.
#[tokio::test]
async fn http_01_issues_for_the_host_name() {
    let dns = dns_for(&[HOST]).await;
    let http = free_port();
    let pebble = Pebble::start(&dns, free_port(), http, 3600);
    let extra = format!(
        "{}http_address = \"127.0.0.1:{http}\"\n",
        pebble.acme_toml("http-01")
    );
    let ts = start_with_dns(&extra, dns).await;
    let roots = pebble.root().await;
    let mut issued = None;
    for _ in 0..300 {
        issued = smtp_served(&ts, &roots).await;
        if issued.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        issued.expect("the ACME certificate on SMTP").names,
        vec![HOST]
    );
    // The port 80 listener answers nothing but open challenges.
    let body = reqwest::get(format!(
        "http://127.0.0.1:{http}/.well-known/acme-challenge/x"
    ))
    .await
    .unwrap();
    assert_eq!(body.status(), 404);
    ts.shutdown().await;
}
