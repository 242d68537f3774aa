//! `palisade-bench`: an SMTP load generator.
//!
//! `--connections` workers share `--messages`; each worker opens a connection, optionally
//! upgrades it with STARTTLS (verifying the server against `--cafile`), sends
//! `--per-conn` messages of `--size` payload octets and quits. Latency is measured per
//! message, from the connect (for a connection's first message) or from MAIL to the
//! `250` after the data. `--idle N --hold S` instead opens N connections that only read
//! the greeting and wait S seconds (for memory measurements). Every loop is bounded by
//! the message count and `--max-seconds`. The last line is machine-readable:
//! `RESULT messages=.. errors=.. seconds=.. msg_per_s=.. p50_ms=.. p99_ms=..`.

use anyhow::{Context, bail};
use clap::Parser;
use rustls_pki_types::ServerName;
use rustls_pki_types::pem::PemObject;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug, Parser, Clone)]
#[command(about = "SMTP load generator")]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 2525)]
    port: u16,
    #[arg(short = 'c', long, default_value_t = 10)]
    connections: usize,
    #[arg(short = 'm', long, default_value_t = 20_000)]
    messages: usize,
    /// Payload octets per message.
    #[arg(short = 's', long, default_value_t = 10_240)]
    size: usize,
    /// Send this message (e.g. a DKIM-signed one) instead of a generated payload.
    #[arg(long)]
    message: Option<std::path::PathBuf>,
    /// Messages per connection (1 = a new connection per message).
    #[arg(long, default_value_t = 1)]
    per_conn: usize,
    #[arg(long)]
    starttls: bool,
    /// PEM certificate to trust for STARTTLS.
    #[arg(long)]
    cafile: Option<std::path::PathBuf>,
    /// Name to verify in the server certificate.
    #[arg(long, default_value = "localhost")]
    sni: String,
    /// Send MAIL, RCPT and DATA in one write (RFC 2920).
    #[arg(long)]
    pipelining: bool,
    #[arg(long, default_value = "bench@remote.test")]
    from: String,
    #[arg(long, default_value = "postmaster@localhost")]
    to: String,
    /// Hard bound on the run.
    #[arg(long, default_value_t = 600)]
    max_seconds: u64,
    /// Open this many idle connections instead of sending.
    #[arg(long)]
    idle: Option<usize>,
    /// Seconds to hold idle connections.
    #[arg(long, default_value_t = 10)]
    hold: u64,
    /// TLS from the first byte (RFC 8314, port 465) instead of STARTTLS.
    #[arg(long)]
    implicit_tls: bool,
    /// AUTH PLAIN with USER:PASS after EHLO (inside TLS).
    #[arg(long)]
    auth: Option<String>,
    /// Count AUTH attempts instead of messages: each unit is one AUTH expecting
    /// `--auth-expect` (235 for success, 535 for a flood of wrong passwords); the
    /// connection is reopened when the server closes it.
    #[arg(long)]
    auth_only: bool,
    #[arg(long, default_value_t = 235)]
    auth_expect: u16,
}

/// A worker stops after this many failures in a row (a misconfigured run ends quickly).
const MAX_CONSECUTIVE_ERRORS: usize = 20;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Conn {
    io: BufReader<Box<dyn Io>>,
    line: String,
}

impl Conn {
    async fn reply(&mut self) -> anyhow::Result<u16> {
        loop {
            self.line.clear();
            if self.io.read_line(&mut self.line).await? == 0 {
                bail!("connection closed");
            }
            if self.line.as_bytes().get(3) != Some(&b'-') {
                return self
                    .line
                    .get(..3)
                    .and_then(|c| c.parse().ok())
                    .context("bad reply");
            }
        }
    }

    async fn expect(&mut self, code: u16) -> anyhow::Result<()> {
        let got = self.reply().await?;
        if got != code {
            bail!("expected {code}, got {}", self.line.trim_end());
        }
        Ok(())
    }

    async fn send(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.io.get_mut().write_all(bytes).await?;
        Ok(())
    }
}

fn tls_connector(args: &Args) -> anyhow::Result<tokio_rustls::TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    let path = args
        .cafile
        .as_ref()
        .context("--starttls and --implicit-tls need --cafile")?;
    for c in rustls_pki_types::CertificateDer::pem_file_iter(path)? {
        roots.add(c?)?;
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
}

/// `AUTH PLAIN` for USER:PASS.
fn auth_line(user_pass: &str) -> String {
    let (u, p) = user_pass.split_once(':').unwrap_or((user_pass, ""));
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{u}\0{p}"));
    format!("AUTH PLAIN {token}\r\n")
}

async fn open(args: &Args, tls: Option<&tokio_rustls::TlsConnector>) -> anyhow::Result<Conn> {
    let tcp = TcpStream::connect((args.host.as_str(), args.port)).await?;
    tcp.set_nodelay(true)?;
    let stream: Box<dyn Io> = match (args.implicit_tls, tls) {
        (true, Some(tls)) => Box::new(
            tls.connect(ServerName::try_from(args.sni.clone())?, tcp)
                .await?,
        ),
        _ => Box::new(tcp),
    };
    let mut c = Conn {
        io: BufReader::new(stream),
        line: String::new(),
    };
    c.expect(220).await?;
    c.send(b"EHLO bench.test\r\n").await?;
    c.expect(250).await?;
    if let (Some(tls), false) = (tls, args.implicit_tls) {
        c.send(b"STARTTLS\r\n").await?;
        c.expect(220).await?;
        // No bytes may be buffered past the 220: take the raw stream back out.
        let Conn { io, .. } = c;
        let stream = io.into_inner();
        let name = ServerName::try_from(args.sni.clone())?;
        let tls_stream = tls.connect(name, stream).await?;
        c = Conn {
            io: BufReader::new(Box::new(tls_stream) as Box<dyn Io>),
            line: String::new(),
        };
        c.send(b"EHLO bench.test\r\n").await?;
        c.expect(250).await?;
    }
    if let (Some(up), false) = (&args.auth, args.auth_only) {
        c.send(auth_line(up).as_bytes()).await?;
        c.expect(235).await?;
    }
    Ok(c)
}

/// `--auth-only`: AUTH attempts, each timed; reconnects when the server hangs up.
async fn auth_worker(
    args: Arc<Args>,
    tls: Option<tokio_rustls::TlsConnector>,
    next: Arc<AtomicUsize>,
    deadline: Instant,
) -> (Vec<Duration>, usize) {
    let line = auth_line(args.auth.as_deref().unwrap_or("nobody:nothing"));
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut conn: Option<Conn> = None;
    while Instant::now() < deadline && next.fetch_add(1, Ordering::Relaxed) < args.messages {
        let t0 = Instant::now();
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match open(&args, tls.as_ref()).await {
                Ok(c) => conn.insert(c),
                Err(_) => {
                    errors += 1;
                    continue;
                }
            },
        };
        let ok = async {
            c.send(line.as_bytes()).await?;
            c.reply().await
        }
        .await;
        match ok {
            Ok(code) if code == args.auth_expect => {
                latencies.push(t0.elapsed());
                // A successful AUTH ends the session's usefulness: start a new one.
                if code == 235 {
                    conn = None;
                }
            }
            _ => {
                errors += 1;
                conn = None;
            }
        }
    }
    (latencies, errors)
}

/// A message file as DATA: CRLF line ends, dot-stuffed (RFC 5321 §4.5.2), `.` at the end.
fn payload_from_file(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let raw = std::fs::read(path)?;
    let text = String::from_utf8_lossy(&raw).replace("\r\n", "\n");
    let mut p = Vec::with_capacity(raw.len() + 64);
    for line in text.trim_end_matches('\n').split('\n') {
        if line.starts_with('.') {
            p.push(b'.');
        }
        p.extend_from_slice(line.as_bytes());
        p.extend_from_slice(b"\r\n");
    }
    p.extend_from_slice(b".\r\n");
    Ok(p)
}

fn payload(size: usize) -> Vec<u8> {
    let mut p =
        b"From: bench@remote.test\r\nTo: postmaster@localhost\r\nSubject: benchmark\r\n\r\n"
            .to_vec();
    let line = format!("{}\r\n", "x".repeat(76));
    while p.len() + line.len() <= size {
        p.extend_from_slice(line.as_bytes());
    }
    p.extend_from_slice(b".\r\n");
    p
}

async fn worker(
    args: Arc<Args>,
    tls: Option<tokio_rustls::TlsConnector>,
    next: Arc<AtomicUsize>,
    body: Arc<Vec<u8>>,
    deadline: Instant,
) -> (Vec<Duration>, usize) {
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut consecutive_errors = 0;
    let envelope = format!(
        "MAIL FROM:<{}>\r\nRCPT TO:<{}>\r\nDATA\r\n",
        args.from, args.to
    );
    'conns: while Instant::now() < deadline && next.load(Ordering::Relaxed) < args.messages {
        if consecutive_errors >= MAX_CONSECUTIVE_ERRORS {
            eprintln!("giving up after {consecutive_errors} consecutive errors");
            break;
        }
        let start = Instant::now();
        let mut conn = match open(&args, tls.as_ref()).await {
            Ok(c) => c,
            Err(e) => {
                if errors == 0 {
                    eprintln!("error: {e:#}");
                }
                errors += 1;
                consecutive_errors += 1;
                continue;
            }
        };
        for i in 0..args.per_conn.max(1) {
            if next.fetch_add(1, Ordering::Relaxed) >= args.messages {
                break;
            }
            let t0 = if i == 0 { start } else { Instant::now() };
            let sent: anyhow::Result<()> = async {
                if args.pipelining {
                    conn.send(envelope.as_bytes()).await?;
                    conn.expect(250).await?;
                    conn.expect(250).await?;
                    conn.expect(354).await?;
                } else {
                    let mut parts = envelope.split_inclusive("\r\n");
                    for code in [250, 250, 354] {
                        conn.send(parts.next().unwrap_or_default().as_bytes())
                            .await?;
                        conn.expect(code).await?;
                    }
                }
                conn.send(&body).await?;
                conn.expect(250).await
            }
            .await;
            match sent {
                Ok(()) => {
                    latencies.push(t0.elapsed());
                    consecutive_errors = 0;
                }
                Err(e) => {
                    if errors == 0 {
                        eprintln!("error: {e:#}");
                    }
                    errors += 1;
                    consecutive_errors += 1;
                    continue 'conns;
                }
            }
        }
        let _ = conn.send(b"QUIT\r\n").await;
        let _ = conn.reply().await;
    }
    (latencies, errors)
}

async fn idle(args: &Args, n: usize) -> anyhow::Result<()> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = TcpStream::connect((args.host.as_str(), args.port)).await?;
        let mut buf = [0u8; 256];
        let got = tokio::io::AsyncReadExt::read(&mut s, &mut buf).await?;
        if !buf[..got].starts_with(b"220") {
            bail!(
                "connection {} refused: {}",
                conns.len(),
                String::from_utf8_lossy(&buf[..got])
            );
        }
        conns.push(s);
    }
    println!(
        "RESULT idle_connections={} hold_seconds={}",
        conns.len(),
        args.hold
    );
    tokio::time::sleep(Duration::from_secs(args.hold)).await;
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn run(args: Args) -> anyhow::Result<()> {
    if let Some(n) = args.idle {
        return idle(&args, n).await;
    }
    let tls = if args.starttls || args.implicit_tls {
        Some(tls_connector(&args)?)
    } else {
        None
    };
    let args = Arc::new(args);
    let body = Arc::new(match &args.message {
        Some(path) => payload_from_file(path)?,
        None => payload(args.size),
    });
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        if args.auth_only {
            tasks.push(tokio::spawn(auth_worker(
                args.clone(),
                tls.clone(),
                next.clone(),
                deadline,
            )));
            continue;
        }
        tasks.push(tokio::spawn(worker(
            args.clone(),
            tls.clone(),
            next.clone(),
            body.clone(),
            deadline,
        )));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        latencies.extend(l);
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    latencies.sort();
    println!(
        "RESULT messages={} errors={} seconds={:.2} msg_per_s={:.0} p50_ms={:.2} p99_ms={:.2}",
        latencies.len(),
        errors,
        secs,
        latencies.len() as f64 / secs,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99)
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // One thread, like the neutral Python generator: the generator shares the 2 cores
    // with the server under test and should take as little of them as it can.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}
