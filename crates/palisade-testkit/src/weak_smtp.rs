//! A deliberately weak SMTP server for the audit probes: it offers AUTH before TLS,
//! answers VRFY and EXPN, relays for anyone, and has the STARTTLS command-injection bug
//! (CVE-2011-0411: commands pipelined after STARTTLS in clear are executed after the
//! handshake, inside TLS), and "accepts" TLS 1.0/1.1 and RSA key exchange (it answers
//! such a ClientHello with a ServerHello, then hangs up: the probes stop there). Its
//! certificate is self-signed for `mx.weak.test`. In clear, a bare LF before and after
//! the dot also ends DATA (SMTP smuggling).

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct WeakSmtp {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for WeakSmtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The next CRLF-terminated line from `buf` or the stream (at most 8 KiB pending).
async fn next_line<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = buf.drain(..p + 2).collect();
            return Some(String::from_utf8_lossy(&line[..p]).into_owned());
        }
        if buf.len() > 8192 {
            return None;
        }
        let mut chunk = [0u8; 1024];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// DATA the weak way: a bare LF before and after the dot ends it too (so what follows
/// in the body is read as commands: SMTP smuggling).
async fn data<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> bool {
    if s.write_all(b"354 go ahead\r\n").await.is_err() {
        return false;
    }
    loop {
        let end = [&b"\r\n.\r\n"[..], b"\n.\n"]
            .iter()
            .filter_map(|t| {
                buf.windows(t.len())
                    .position(|w| w == *t)
                    .map(|p| p + t.len())
            })
            .min();
        if let Some(end) = end {
            buf.drain(..end);
            return s.write_all(b"250 queued\r\n").await.is_ok();
        }
        if buf.len() > 1 << 20 {
            return false;
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Answers one command; `false` when the session ends.
async fn answer<S: AsyncWrite + Unpin>(s: &mut S, line: &str) -> bool {
    let verb = line
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let reply: &[u8] = match verb.as_str() {
        "EHLO" => b"250-mx.weak.test\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
        "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 ok\r\n",
        "VRFY" | "EXPN" => b"250 <postmaster@weak.test>\r\n",
        "QUIT" => {
            let _ = s.write_all(b"221 bye\r\n").await;
            return false;
        }
        _ => b"500 unknown\r\n",
    };
    s.write_all(reply).await.is_ok()
}

async fn session(mut tcp: TcpStream, acceptor: tokio_rustls::TlsAcceptor) {
    if tcp.write_all(b"220 mx.weak.test ESMTP\r\n").await.is_err() {
        return;
    }
    let mut buf = Vec::new();
    loop {
        let Some(line) = next_line(&mut tcp, &mut buf).await else {
            return;
        };
        if line.eq_ignore_ascii_case("STARTTLS") {
            if tcp.write_all(b"220 go ahead\r\n").await.is_err() {
                return;
            }
            break;
        }
        if line.eq_ignore_ascii_case("DATA") {
            if !data(&mut tcp, &mut buf).await {
                return;
            }
            continue;
        }
        if !answer(&mut tcp, &line).await {
            return;
        }
    }
    // An old-style hello (TLS 1.0/1.1, or 1.2 without TLS 1.3's supported_versions) is
    // answered with a ServerHello choosing its version and first suite: this server
    // "accepts" TLS 1.0 and RSA key exchange. rustls's own hellos go to rustls.
    if let Some((version, suite)) = legacy_hello(&tcp).await {
        let _ = tcp.write_all(&server_hello(version, suite)).await;
        return;
    }
    let Ok(mut tls) = acceptor.accept(tcp).await else {
        return;
    };
    // The bug: `buf` still holds what was pipelined in clear, and is served now.
    while let Some(line) = next_line(&mut tls, &mut buf).await {
        if !answer(&mut tls, &line).await {
            return;
        }
    }
}

/// Peeks at the ClientHello: `Some((version, first suite))` when it has no
/// supported_versions extension (0x002b), the mark of a TLS 1.3 client.
async fn legacy_hello(tcp: &TcpStream) -> Option<(u16, u16)> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut n = 0;
    for _ in 0..50 {
        n = tcp.peek(&mut buf).await.ok()?;
        if n >= 5 && n >= 5 + usize::from(u16::from_be_bytes([buf[3], buf[4]])) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let hs = buf.get(5..n)?;
    if *hs.first()? != 1 {
        return None;
    }
    let version = u16::from_be_bytes([*hs.get(4)?, *hs.get(5)?]);
    let mut at = 39 + usize::from(*hs.get(38)?);
    let suites = usize::from(u16::from_be_bytes([*hs.get(at)?, *hs.get(at + 1)?]));
    let first = u16::from_be_bytes([*hs.get(at + 2)?, *hs.get(at + 3)?]);
    at += 2 + suites;
    at += 1 + usize::from(*hs.get(at)?);
    let end = at + 2 + usize::from(u16::from_be_bytes([*hs.get(at)?, *hs.get(at + 1)?]));
    let mut e = at + 2;
    while e + 4 <= end.min(hs.len()) {
        if u16::from_be_bytes([hs[e], hs[e + 1]]) == 0x002b {
            return None;
        }
        e += 4 + usize::from(u16::from_be_bytes([hs[e + 2], hs[e + 3]]));
    }
    Some((version, first))
}

/// A ServerHello record choosing `version` and `suite`.
fn server_hello(version: u16, suite: u16) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    body.extend_from_slice(&[7u8; 32]);
    body.push(0);
    body.extend_from_slice(&suite.to_be_bytes());
    body.push(0);
    let len = body.len();
    let mut rec = vec![0x16, 0x03, 0x01, 0, (len + 4) as u8, 2, 0, 0, len as u8];
    rec.extend_from_slice(&body);
    rec
}

impl WeakSmtp {
    pub async fn start() -> WeakSmtp {
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("key: {e}"));
        let cert = rcgen::CertificateParams::new(vec!["mx.weak.test".to_string()])
            .and_then(|p| p.self_signed(&key))
            .unwrap_or_else(|e| panic!("certificate: {e}"));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(session(tcp, acceptor.clone()));
            }
        });
        WeakSmtp { addr, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}
