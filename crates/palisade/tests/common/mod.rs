//! Test harness: a real server on loopback ports, a raw SMTP client, TLS helpers.
#![allow(dead_code, clippy::unwrap_used)]

pub mod console;
pub mod dkim;
pub mod dovecot;
pub mod postfix;

use palisade_server::Server;
use palisade_store::prelude::*;
use palisade_store::{SqliteStore, Store};
use palisade_testkit::DnsAuthority;
use palisade_types::{Address, Domain};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub const HOST: &str = "mx.local.test";

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_palisade");

/// `palisade --data DIR ARGS...` against the test server's data, which must succeed;
/// its standard output.
pub fn cli(ts: &TestServer, args: &[&str]) -> String {
    let o = std::process::Command::new(BIN)
        .arg("--data")
        .arg(ts.dir.path())
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// `palisade --data DATA ARGS...` with `stdin` as its input; its output, whatever
/// the exit code.
pub fn cli_with_stdin(data: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut child = std::process::Command::new(BIN)
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `AUTH PLAIN` with `user` and `pw` (RFC 4616).
pub fn plain(user: &str, pw: &str) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{pw}"));
    format!("AUTH PLAIN {b}")
}

/// One AUTH over the submission port (STARTTLS) or the submissions port (implicit TLS):
/// the reply, or `None` when the connection was refused or closed.
pub async fn auth_once(ts: &TestServer, listener: &str, user: &str, pw: &str) -> Option<String> {
    let tcp = tokio::net::TcpStream::connect(ts.addr(listener))
        .await
        .unwrap();
    if listener == "submissions" {
        let tls = ts
            .tls_connector()
            .connect(rustls_pki_types::ServerName::try_from(HOST).unwrap(), tcp)
            .await
            .ok()?;
        let mut c = Raw::new(tls);
        if !c.reply().await.starts_with("220") {
            return None;
        }
        c.expect("EHLO client.test", "250").await;
        return Some(c.cmd(&plain(user, pw)).await);
    }
    let mut c = Raw::new(tcp);
    if !c.reply().await.starts_with("220") {
        return None;
    }
    c.expect("EHLO client.test", "250").await;
    let mut c = starttls(c, ts).await;
    c.expect("EHLO client.test", "250").await;
    Some(c.cmd(&plain(user, pw)).await)
}

/// A lettre client logged in as `user` on the submission port (`listener`
/// "submission", STARTTLS required) or the submissions port (implicit TLS), trusting
/// the server's certificate.
pub fn submission_client(
    ts: &TestServer,
    listener: &str,
    user: &str,
    pw: &str,
    mech: lettre::transport::smtp::authentication::Mechanism,
) -> lettre::AsyncSmtpTransport<lettre::Tokio1Executor> {
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let addr = ts.addr(listener);
    let params = TlsParameters::builder(HOST.to_string())
        .add_root_certificate(Certificate::from_pem(&ts.cert_pem()).unwrap())
        .build_rustls()
        .unwrap();
    let tls = if listener == "submissions" {
        Tls::Wrapper(params)
    } else {
        Tls::Required(params)
    };
    lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .tls(tls)
        .credentials(Credentials::new(user.into(), pw.into()))
        .authentication(vec![mech])
        .timeout(Some(Duration::from_secs(30)))
        .build()
}

/// The code `t` shows `offset` seconds from now.
pub fn totp_code(t: &totp_rs::Totp, offset: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    t.generate(now + offset).to_string()
}

/// A TLS client that trusts only the certificates in `pem`.
pub fn connector_trusting(pem: &[u8]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// The uid and gid of a system user (`id -u`, `id -g`).
pub fn system_ids(user: &str) -> (u32, u32) {
    let id = |flag: &str| {
        let o = std::process::Command::new("id")
            .args([flag, user])
            .output()
            .unwrap();
        String::from_utf8(o.stdout).unwrap().trim().parse().unwrap()
    };
    (id("-u"), id("-g"))
}

/// A free loopback port (bound, then released), below the ephemeral range.
pub use palisade_testkit::free_port;

/// A lettre client for the inbound listener (plain SMTP, no AUTH).
pub fn inbound(ts: &TestServer) -> lettre::AsyncSmtpTransport<lettre::Tokio1Executor> {
    let addr = ts.addr("inbound");
    lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .timeout(Some(Duration::from_secs(60)))
        .build()
}

/// The header section of a message, unfolded (RFC 5322 §2.2.3).
pub fn header(message: &[u8]) -> String {
    let s = String::from_utf8_lossy(message);
    s[..s.find("\r\n\r\n").unwrap_or(s.len())].replace("\r\n ", " ")
}

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub server: Option<Server>,
    pub store: Arc<SqliteStore>,
    /// The loopback DNS authority the server resolves with (empty zones: NXDOMAIN).
    pub dns: DnsAuthority,
    /// The configuration it runs with (for [`TestServer::restart`]).
    pub toml: String,
}

/// Starts a server with `extra` TOML appended (e.g. `[smtp]` limits), domain
/// `local.test` and users alice, bob, carol.
pub async fn start(extra: &str) -> TestServer {
    let dns = DnsAuthority::start().await;
    start_with_dns(extra, dns).await
}

/// The `[dns]` section pointing at `dns`.
pub fn dns_toml(dns: &DnsAuthority) -> String {
    format!(
        "[dns]\nnameservers = [\"{}\"]\ntimeout_secs = 1\nattempts = 1\ndnssec_trusted = true\n",
        dns.addr()
    )
}

/// Like [`start`], resolving with a DNS authority the test has filled with zones.
pub async fn start_with_dns(extra: &str, dns: DnsAuthority) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "hostname = \"{HOST}\"\n[listener.inbound]\naddress = \"127.0.0.1:0\"\nkind = \"smtp\"\n\
         [listener.submission]\naddress = \"127.0.0.1:0\"\nkind = \"submission\"\n\
         [listener.submissions]\naddress = \"127.0.0.1:0\"\nkind = \"submissions\"\n{}{extra}",
        dns_toml(&dns)
    );
    let config = palisade_config::parse(&toml).unwrap();
    // The key file the CLI finds in the same data directory.
    let secret = palisade_store::Secret::load_or_create(&dir.path().join("secret.key")).unwrap();
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("palisade.db"))
            .await
            .unwrap()
            .with_secret(secret)
            .await
            .unwrap(),
    );
    store
        .add_domain(&Domain::parse("local.test").unwrap())
        .await
        .unwrap();
    for u in ["alice", "bob", "carol"] {
        store
            .add_user(&Address::parse(&format!("{u}@local.test")).unwrap(), "!")
            .await
            .unwrap();
    }
    let dyn_store: Arc<dyn Store> = store.clone();
    let server = Server::start(config, dir.path(), dyn_store, palisade::addons::all())
        .await
        .unwrap();
    TestServer {
        dir,
        server: Some(server),
        store,
        dns,
        toml,
    }
}

impl TestServer {
    pub fn addr(&self, listener: &str) -> SocketAddr {
        self.server.as_ref().unwrap().address(listener).unwrap()
    }

    /// The `new/` folder of `user` (a local part of local.test, or a whole address).
    pub fn maildir(&self, user: &str) -> PathBuf {
        let (local, domain) = user.split_once('@').unwrap_or((user, "local.test"));
        self.dir
            .path()
            .join("mail")
            .join(domain)
            .join(local)
            .join("new")
    }

    /// Waits (bounded) until `user` has `n` messages, returns their contents.
    pub async fn wait_for_mail(&self, user: &str, n: usize) -> Vec<Vec<u8>> {
        for _ in 0..200 {
            let msgs = self.mail(user);
            if msgs.len() >= n {
                return msgs;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "{user} did not get {n} messages; has {}",
            self.mail(user).len()
        );
    }

    pub fn mail(&self, user: &str) -> Vec<Vec<u8>> {
        match std::fs::read_dir(self.maildir(user)) {
            Ok(rd) => {
                let mut v: Vec<_> = rd
                    .map(|e| std::fs::read(e.unwrap().path()).unwrap())
                    .collect();
                v.sort();
                v
            }
            Err(_) => Vec::new(),
        }
    }

    /// Adds a user (locked password) and, if missing, its domain.
    pub async fn add_mailbox(&self, address: &str) {
        let a = Address::parse(address).unwrap();
        match self.store.add_domain(a.domain()).await {
            Ok(()) | Err(palisade_store::StoreError::AlreadyExists { .. }) => {}
            Err(e) => panic!("{e}"),
        }
        self.store.add_user(&a, "!").await.unwrap();
    }

    /// Gives `user` a real password (Argon2id), for AUTH tests.
    pub async fn set_password(&self, user: &str, password: &str) {
        let pw = password.to_string();
        let hash = tokio::task::spawn_blocking(move || palisade_access::hash_password(&pw))
            .await
            .unwrap()
            .unwrap();
        assert!(
            self.store
                .set_password_hash(&Address::parse(user).unwrap(), &hash)
                .await
                .unwrap()
        );
    }

    /// Routes `source` (an address or `*@domain`) to the user `target`.
    pub async fn alias(&self, source: &str, target: &str) {
        self.store
            .add_alias(
                &palisade_store::AliasSource::parse(source).unwrap(),
                &Address::parse(target).unwrap(),
            )
            .await
            .unwrap();
    }

    pub fn cert_pem(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("tls/self-signed-cert.pem")).unwrap()
    }

    pub fn tls_connector(&self) -> tokio_rustls::TlsConnector {
        connector_trusting(&self.cert_pem())
    }

    /// Stops the server and starts it again on the same data directory and store (the
    /// listeners get new ports).
    pub async fn restart(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown(Duration::from_secs(1)).await;
        }
        let config = palisade_config::parse(&self.toml).unwrap();
        let store: Arc<dyn Store> = self.store.clone();
        self.server = Some(
            Server::start(config, self.dir.path(), store, palisade::addons::all())
                .await
                .unwrap(),
        );
    }

    pub async fn shutdown(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown(Duration::from_secs(1)).await;
        }
    }
}

/// A raw SMTP client: exact bytes out, whole replies in.
pub struct Raw<S> {
    pub stream: S,
    buf: Vec<u8>,
}

pub async fn connect(addr: SocketAddr) -> Raw<TcpStream> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut r = Raw {
        stream,
        buf: Vec::new(),
    };
    let g = r.reply().await;
    assert!(g.starts_with("220 "), "greeting: {g}");
    r
}

impl<S: AsyncRead + AsyncWrite + Unpin> Raw<S> {
    pub fn new(stream: S) -> Self {
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads one complete (possibly multi-line) reply; "" on EOF. Bounded by a timeout.
    pub async fn reply(&mut self) -> String {
        let mut out = String::new();
        loop {
            while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line).to_string();
                let last = line.as_bytes().get(3) == Some(&b' ');
                out.push_str(&line);
                if last {
                    return out;
                }
            }
            let mut chunk = [0u8; 4096];
            let n =
                match tokio::time::timeout(Duration::from_secs(30), self.stream.read(&mut chunk))
                    .await
                {
                    Ok(Ok(n)) => n,
                    Ok(Err(_)) => 0,
                    Err(_) => panic!("no reply within 30 s; have {out:?}"),
                };
            if n == 0 {
                return out;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// Sends `line` and asserts the reply starts with `expect`.
    pub async fn expect(&mut self, line: &str, expect: &str) -> String {
        let r = self.cmd(line).await;
        assert!(
            r.starts_with(expect),
            "{line:?}: expected {expect:?}, got {r:?}"
        );
        r
    }

    /// True when the server closed the connection.
    pub async fn closed(&mut self) -> bool {
        let mut b = [0u8; 64];
        matches!(
            tokio::time::timeout(Duration::from_secs(30), self.stream.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

/// STARTTLS on a raw connection (after EHLO), returning the TLS client.
pub async fn starttls(
    mut raw: Raw<TcpStream>,
    ts: &TestServer,
) -> Raw<tokio_rustls::client::TlsStream<TcpStream>> {
    raw.expect("STARTTLS", "220 2.0.0").await;
    let tls = ts
        .tls_connector()
        .connect(ServerName::try_from(HOST).unwrap(), raw.stream)
        .await
        .unwrap();
    Raw::new(tls)
}

/// A test CA and certificates it issues, as PEM files in `dir`.
pub struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    dir: std::path::PathBuf,
}

impl TestCa {
    pub fn new(dir: &std::path::Path) -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Palisade test CA");
        let issuer =
            rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        std::fs::write(dir.join("ca.pem"), issuer.pem()).unwrap();
        TestCa {
            issuer,
            dir: dir.to_path_buf(),
        }
    }

    pub fn ca_file(&self) -> std::path::PathBuf {
        self.dir.join("ca.pem")
    }

    /// Issues a certificate for `names`; returns (cert path, key path).
    pub fn issue(&self, file: &str, names: &[&str]) -> (std::path::PathBuf, std::path::PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let (c, k) = (
            self.dir.join(format!("{file}.pem")),
            self.dir.join(format!("{file}.key")),
        );
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }
}

/// Issue 15's QR bomb: a `side` x `side` PNG of a few KB tiled with QR finder-pattern
/// look-alikes (`module` pixels per module, one module apart), which kept the QR
/// decoder busy for minutes.
pub fn finder_pattern_bomb(side: u32, module: u32) -> Vec<u8> {
    let cell = 8 * module;
    let img = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = ((x % cell) / module, (y % cell) / module);
        let ring = mx < 7 && my < 7 && (mx == 0 || mx == 6 || my == 0 || my == 6);
        let stone = (2..5).contains(&mx) && (2..5).contains(&my);
        image::Luma([if ring || stone { 0 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A message from `from` to `to` carrying `png` as an attachment.
pub fn with_image(from: &str, to: &str, png: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(png);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: scan this\r\nMessage-ID: <qr@x>\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
         See the picture.\r\n--b\r\nContent-Type: image/png; name=code.png\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        lines.join("\r\n")
    )
}
