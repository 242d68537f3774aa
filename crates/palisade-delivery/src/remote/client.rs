//! One SMTP client session to one server address (RFC 5321 §3, §4.1; RFC 3207).

use super::tls::{CertVerdict, TlsClient};
use palisade_queue::Outcome;
use palisade_types::Address;
use rustls::pki_types::ServerName;
use smtp_proto::{
    EXT_8BIT_MIME, EXT_PIPELINING, EXT_SIZE, EXT_SMTP_UTF8, EXT_START_TLS, EhloResponse,
};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A reply larger than this is hostile (RFC 5321 §4.5.3.1.5 allows 512-octet lines).
const MAX_REPLY: usize = 64 * 1024;

/// What to send where.
pub struct Job<'a> {
    pub addr: SocketAddr,
    /// The MX host name (TLS server name).
    pub mx_host: &'a str,
    pub helo: &'a str,
    /// The reverse-path, empty for `<>`.
    pub mail_from: &'a str,
    pub rcpts: &'a [Address],
    /// The message as it goes on the wire before dot-stuffing (CRLF lines).
    pub message: &'a [u8],
    pub eight_bit: bool,
    pub smtputf8: bool,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    pub tls: &'a TlsClient,
    pub requirement: &'a super::TlsRequirement,
    /// RFC 8689: the next hop must support REQUIRETLS and get it passed on.
    pub require_tls: bool,
    /// RFC 8314: TLS from the first byte (a smarthost on port 465), not STARTTLS.
    pub implicit_tls: bool,
    /// AUTH PLAIN after TLS (a smarthost account).
    pub auth: Option<&'a Login>,
}

/// The end of one attempt.
#[derive(Debug)]
pub enum HostResult {
    /// The server answered for the recipients: one outcome each, in order.
    Done(Vec<Outcome>),
    /// The server could not be used (unreachable, refused the session): try the next.
    TryNext(String),
    /// The server does not meet a TLS requirement (no STARTTLS, bad certificate, no
    /// REQUIRETLS): try the next; if none does, this is the message's fate.
    TlsRefused(String),
}

/// One complete reply: code and text (lines joined by spaces).
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub raw: Vec<u8>,
}

impl Reply {
    /// The reply's text lines without their codes, joined by spaces.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw)
            .lines()
            .map(|l| l.get(4..).unwrap_or_default().trim_end())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// For logs and DSNs: "550 5.1.1 no such user".
    pub fn describe(&self) -> String {
        format!("{} {}", self.code, self.text())
    }
}

/// Reads replies off a stream, bounded in size and time (also what `audit domain
/// --probe` talks through).
pub struct Conn<S> {
    pub stream: S,
    /// Bytes read past the last reply.
    pub buf: Vec<u8>,
    pub timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub fn new(stream: S, timeout: Duration) -> Conn<S> {
        Conn {
            stream,
            buf: Vec::new(),
            timeout,
        }
    }

    pub async fn reply(&mut self) -> Result<Reply, String> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            if let Some(end) = complete_reply(&self.buf) {
                let raw: Vec<u8> = self.buf.drain(..end).collect();
                let code = raw
                    .get(..3)
                    .and_then(|c| std::str::from_utf8(c).ok())
                    .and_then(|c| c.parse::<u16>().ok())
                    .filter(|c| (200..600).contains(c))
                    .ok_or_else(|| "malformed reply".to_string())?;
                return Ok(Reply { code, raw });
            }
            if self.buf.len() > MAX_REPLY {
                return Err("reply too long".into());
            }
            let mut chunk = [0u8; 4096];
            let n = match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) => return Err("timeout waiting for a reply".into()),
                Ok(Err(e)) => return Err(format!("read: {e}")),
                Ok(Ok(0)) => return Err("connection closed".into()),
                Ok(Ok(n)) => n,
            };
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        tokio::time::timeout(self.timeout, async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        })
        .await
        .map_err(|_| "timeout writing".to_string())?
        .map_err(|e| format!("write: {e}"))
    }

    pub async fn command(&mut self, line: &str) -> Result<Reply, String> {
        self.send(format!("{line}\r\n").as_bytes()).await?;
        self.reply().await
    }
}

/// The length of the first complete reply in `buf` (its last line is `NNN ` or `NNN\r\n`).
fn complete_reply(buf: &[u8]) -> Option<usize> {
    let mut start = 0;
    while let Some(pos) = buf[start..].windows(2).position(|w| w == b"\r\n") {
        let line = &buf[start..start + pos];
        let end = start + pos + 2;
        if line.len() < 4 || line[3] == b' ' {
            return Some(end);
        }
        start = end;
    }
    None
}

/// RFC 5321 §4.5.2: a line that starts with "." gets another; CRLF at the end.
pub(crate) fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// The byte stream under a session: plain TCP or TLS over it.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A greeted session, secured as the job's requirement demands, ready for MAIL. After a
/// transaction that ended cleanly it can carry the next message (connection reuse).
pub struct Session {
    conn: Conn<Box<dyn Stream>>,
    caps: EhloResponse<String>,
    /// The server is between transactions (nothing pending, nothing half-sent).
    clean: bool,
    /// The certificate check's verdict; `None` when the session is not encrypted.
    pub verdict: Option<CertVerdict>,
    /// Transactions completed on this session.
    pub transactions: u32,
}

impl Session {
    /// True when another MAIL may follow on this session.
    pub fn reusable(&self) -> bool {
        self.clean
    }

    /// One transaction: MAIL, RCPT for each recipient, DATA.
    pub async fn send(&mut self, job: &Job<'_>) -> HostResult {
        self.clean = false;
        let reused = self.transactions > 0;
        let (result, clean) = transaction(&mut self.conn, job, &self.caps, reused).await;
        self.clean = clean;
        self.transactions += 1;
        result
    }

    /// Asks whether `rcpt` would be accepted, without sending a message (a recipient
    /// callout): MAIL FROM:<>, RCPT, RSET. The reply to RCPT, or to MAIL if that was
    /// refused; `Err` when the server could not be asked.
    pub async fn probe(&mut self, rcpt: &Address) -> Result<Reply, String> {
        self.clean = false;
        let mail = self.conn.command("MAIL FROM:<>").await?;
        if mail.code != 250 {
            return Ok(mail);
        }
        let answer = self.conn.command(&format!("RCPT TO:<{rcpt}>")).await?;
        // RFC 5321 §4.1.1.5: RSET ends the transaction; the session could go on.
        self.clean = matches!(self.conn.command("RSET").await, Ok(r) if r.code == 250);
        Ok(answer)
    }

    /// Ends the session politely (bounded by the command timeout).
    pub async fn quit(mut self) {
        let _ = self.conn.command("QUIT").await;
    }
}

/// Connects to one address and sets the session up: TLS as the job requires (from the
/// first byte for implicit TLS, else through STARTTLS), then AUTH when it carries a
/// login.
pub async fn open(job: &Job<'_>) -> Result<Session, HostResult> {
    let tcp = match tokio::time::timeout(job.connect_timeout, TcpStream::connect(job.addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(HostResult::TryNext(format!("connect: {e}"))),
        Err(_) => return Err(HostResult::TryNext("connect: timeout".into())),
    };
    let _ = tcp.set_nodelay(true);
    let mut session = if job.implicit_tls {
        // RFC 8314 §3.3: TLS first, then the greeting inside it.
        let (tls, verdict) = handshake(job, tcp).await?;
        let mut conn = Conn::new(Box::new(tls) as Box<dyn Stream>, job.command_timeout);
        let caps = hello(&mut conn, job).await.map_err(HostResult::TryNext)?;
        Session::new(conn, caps, Some(verdict))
    } else {
        starttls(job, tcp).await?
    };
    if let Some(login) = job.auth {
        authenticate(&mut session, job, login).await?;
    }
    Ok(session)
}

impl Session {
    fn new(
        conn: Conn<Box<dyn Stream>>,
        caps: EhloResponse<String>,
        verdict: Option<CertVerdict>,
    ) -> Session {
        Session {
            conn,
            caps,
            clean: true,
            verdict,
            transactions: 0,
        }
    }
}

/// Greeting and EHLO in clear, then STARTTLS as the requirement says (RFC 3207).
async fn starttls(job: &Job<'_>, tcp: TcpStream) -> Result<Session, HostResult> {
    let mut conn: Conn<Box<dyn Stream>> = Conn::new(Box::new(tcp), job.command_timeout);
    let caps = hello(&mut conn, job).await.map_err(HostResult::TryNext)?;
    use super::TlsRequirement as Req;
    let required = !matches!(job.requirement, Req::Opportunistic | Req::Plaintext);
    if *job.requirement == Req::Plaintext {
        return Ok(Session::new(conn, caps, None));
    }
    if caps.capabilities & EXT_START_TLS == 0 {
        if required {
            // A man in the middle can strip STARTTLS; policy says never fall back.
            let _ = conn.command("QUIT").await;
            return Err(HostResult::TlsRefused(
                "STARTTLS not offered, but TLS is required".into(),
            ));
        }
        tracing::info!(
            host = job.mx_host,
            "no STARTTLS offered: delivering without TLS"
        );
        return Ok(Session::new(conn, caps, None));
    }
    match conn.command("STARTTLS").await {
        Ok(r) if r.code == 220 => {}
        Ok(r) if required => {
            return Err(HostResult::TlsRefused(format!(
                "STARTTLS refused ({}), but TLS is required",
                r.describe()
            )));
        }
        Ok(r) => {
            tracing::info!(host = job.mx_host, reply = %r.describe(), "STARTTLS refused");
            return Ok(Session::new(conn, caps, None));
        }
        Err(e) => return Err(HostResult::TryNext(e)),
    }
    if !conn.buf.is_empty() {
        // Bytes after the 220 would be injected into the TLS session (CVE-2011-0411).
        return Err(HostResult::TryNext("data after the STARTTLS reply".into()));
    }
    let (tls, verdict) = handshake(job, conn.stream).await?;
    let mut conn: Conn<Box<dyn Stream>> = Conn::new(Box::new(tls), job.command_timeout);
    // RFC 3207 §4.2: after TLS, forget what the server said and ask again.
    let caps = match conn.command(&format!("EHLO {}", job.helo)).await {
        Ok(r) if r.code == 250 => parse_ehlo(&r),
        Ok(r) => {
            return Err(HostResult::TryNext(format!(
                "EHLO after TLS: {}",
                r.describe()
            )));
        }
        Err(e) => return Err(HostResult::TryNext(e)),
    };
    Ok(Session::new(conn, caps, Some(verdict)))
}

type TlsStream = tokio_rustls::client::TlsStream<Box<dyn Stream>>;

/// The TLS handshake over `stream`, and the certificate checked against the job's
/// requirement (a valid chain for `Verify`, a TLSA match for DANE).
async fn handshake<S: Stream + 'static>(
    job: &Job<'_>,
    stream: S,
) -> Result<(TlsStream, CertVerdict), HostResult> {
    use super::TlsRequirement as Req;
    let (connector, verdict) = job
        .tls
        .connector()
        .map_err(|e| HostResult::TryNext(e.to_string()))?;
    let name = ServerName::try_from(job.mx_host.to_string())
        .map_err(|e| HostResult::TryNext(format!("TLS name {}: {e}", job.mx_host)))?;
    let boxed: Box<dyn Stream> = Box::new(stream);
    let tls = match tokio::time::timeout(job.command_timeout, connector.connect(name, boxed)).await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(HostResult::TryNext(format!("TLS handshake: {e}"))),
        Err(_) => return Err(HostResult::TryNext("TLS handshake: timeout".into())),
    };
    let verdict = verdict.lock().map(|v| v.clone()).unwrap_or_default();
    match job.requirement {
        Req::Verify if verdict != CertVerdict::Valid => {
            return Err(HostResult::TlsRefused(format!(
                "certificate not valid for {}: {verdict:?}",
                job.mx_host
            )));
        }
        Req::Dane(records) => {
            let chain = tls.get_ref().1.peer_certificates().unwrap_or_default();
            let matched = chain.split_first().is_some_and(|(ee, rest)| {
                let rest: Vec<&[u8]> = rest.iter().map(|c| c.as_ref()).collect();
                super::dane::verify(records, ee.as_ref(), &rest, job.mx_host)
            });
            if !matched {
                return Err(HostResult::TlsRefused(
                    "DANE: the certificate matches no TLSA record".into(),
                ));
            }
            tracing::info!(host = job.mx_host, "DANE: certificate matches TLSA");
        }
        _ => {}
    }
    log_tls(job.mx_host, &tls, &verdict);
    Ok((tls, verdict))
}

fn log_tls(host: &str, tls: &TlsStream, verdict: &CertVerdict) {
    let c = tls.get_ref().1;
    let version = c
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_default();
    let suite = c
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default();
    match verdict {
        CertVerdict::Valid => tracing::info!(host, %version, %suite, "TLS, certificate verified"),
        other => {
            tracing::info!(host, %version, %suite, certificate = ?other, "TLS, certificate not verified (opportunistic)")
        }
    }
}

/// An account on the next hop (a smarthost). The password never appears in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Login({:?}, password hidden)", self.user)
    }
}

/// AUTH PLAIN (RFC 4954, RFC 4616), only inside TLS. A refusal fails the whole job as
/// transient: a wrong password is the operator's to fix, the mail waits meanwhile.
async fn authenticate(
    session: &mut Session,
    job: &Job<'_>,
    login: &Login,
) -> Result<(), HostResult> {
    use base64::Engine;
    let all = |why: String| HostResult::Done(vec![Outcome::Transient(why); job.rcpts.len()]);
    // Only to a server whose certificate was verified (or matched its TLSA records):
    // never in clear, never to whoever answered an unverified handshake.
    let verified = matches!(session.verdict, Some(CertVerdict::Valid))
        || matches!(job.requirement, super::TlsRequirement::Dane(_)) && session.verdict.is_some();
    if !verified {
        return Err(HostResult::TlsRefused(
            "credentials go only over TLS with a verified certificate".into(),
        ));
    }
    if session.caps.auth_mechanisms & smtp_proto::AUTH_PLAIN == 0 {
        let _ = session.conn.command("QUIT").await;
        return Err(all(format!(
            "451 4.7.0 {} does not offer AUTH PLAIN",
            job.mx_host
        )));
    }
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("\0{}\0{}", login.user, login.password));
    match session.conn.command(&format!("AUTH PLAIN {token}")).await {
        Ok(r) if r.code == 235 => Ok(()),
        Ok(r) => {
            tracing::error!(host = job.mx_host, user = %login.user, reply = %r.describe(), "the relay refused our login");
            Err(all(format!(
                "451 4.7.0 {} refused the login: {}",
                job.mx_host,
                r.describe()
            )))
        }
        Err(e) => Err(HostResult::TryNext(format!("AUTH: {e}"))),
    }
}

/// Whether a message really needs SMTPUTF8 (RFC 6531): a non-ASCII envelope address or
/// 8-bit octets in its header section (RFC 6532 header fields).
pub(crate) fn needs_utf8(mail_from: &str, rcpts: &[Address], message: &[u8]) -> bool {
    let header_end = palisade_types::header_end(message).unwrap_or(message.len());
    !mail_from.is_ascii()
        || rcpts.iter().any(|r| !r.is_ascii())
        || message[..header_end].iter().any(|b| *b >= 0x80)
}

pub(crate) fn parse_ehlo(r: &Reply) -> EhloResponse<String> {
    EhloResponse::parse(&mut r.raw.iter()).unwrap_or_default()
}

/// Greeting and EHLO (HELO if EHLO is refused). Any failure here means: next host.
async fn hello<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    job: &Job<'_>,
) -> Result<EhloResponse<String>, String> {
    let greeting = conn.reply().await?;
    if greeting.code != 220 {
        // RFC 5321 §3.1: a 554 (or any non-220) greeting means this server will not talk.
        return Err(format!("greeting: {}", greeting.describe()));
    }
    let r = conn.command(&format!("EHLO {}", job.helo)).await?;
    if r.code == 250 {
        return Ok(parse_ehlo(&r));
    }
    let r = conn.command(&format!("HELO {}", job.helo)).await?;
    if r.code == 250 {
        return Ok(EhloResponse::default());
    }
    Err(format!("HELO: {}", r.describe()))
}

fn outcome(host: &str, r: &Reply) -> Outcome {
    let text = format!("{host} said: {}", r.describe());
    if r.code >= 500 {
        Outcome::Permanent(text)
    } else {
        Outcome::Transient(text)
    }
}

/// MAIL and RCPT one command at a time: each recipient's refusal, or MAIL's.
async fn envelope_stepwise<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    job: &Job<'_>,
    mail: &str,
) -> Result<Result<Vec<Option<Outcome>>, Reply>, String> {
    let r = conn.command(mail).await.map_err(|e| format!("MAIL: {e}"))?;
    if r.code != 250 {
        // RFC 5321 §4.1.1.2: a refused MAIL starts no transaction.
        return Ok(Err(r));
    }
    let mut outcomes = Vec::with_capacity(job.rcpts.len());
    for rcpt in job.rcpts {
        let r = conn
            .command(&format!("RCPT TO:<{rcpt}>"))
            .await
            .map_err(|e| format!("RCPT: {e}"))?;
        outcomes.push((r.code != 250 && r.code != 251).then(|| outcome(job.mx_host, &r)));
    }
    Ok(Ok(outcomes))
}

enum Pipelined {
    /// MAIL was refused (the other replies were read and dropped).
    Refused(Reply),
    /// Each recipient's refusal, and the reply to DATA.
    Answered(Vec<Option<Outcome>>, Reply),
}

/// RFC 2920: MAIL, every RCPT and DATA in one write, then their replies in order. No
/// message octet is sent before the reply to DATA, so a failure here sends nothing twice.
async fn envelope_pipelined<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    job: &Job<'_>,
    mail: &str,
) -> Result<Pipelined, String> {
    let mut batch = format!("{mail}\r\n");
    for rcpt in job.rcpts {
        batch.push_str(&format!("RCPT TO:<{rcpt}>\r\n"));
    }
    batch.push_str("DATA\r\n");
    conn.send(batch.as_bytes())
        .await
        .map_err(|e| format!("MAIL: {e}"))?;
    let mail_reply = conn.reply().await.map_err(|e| format!("MAIL: {e}"))?;
    let mut outcomes = Vec::with_capacity(job.rcpts.len());
    for _ in job.rcpts {
        let r = conn.reply().await.map_err(|e| format!("RCPT: {e}"))?;
        outcomes.push((r.code != 250 && r.code != 251).then(|| outcome(job.mx_host, &r)));
    }
    let data = conn.reply().await.map_err(|e| format!("DATA: {e}"))?;
    if mail_reply.code != 250 {
        if data.code == 354 {
            // Cannot happen with a correct server; end the empty message all the same.
            let _ = conn.command(".").await;
        }
        return Ok(Pipelined::Refused(mail_reply));
    }
    Ok(Pipelined::Answered(outcomes, data))
}

/// A refused MAIL (RFC 5321 §4.1.1.2: no transaction started). A 421 on a reused
/// session is most likely the server's goodbye to the idle session, left unread: that
/// says nothing about this message, so the caller gets a new connection.
fn mail_refused(
    host: &str,
    r: &Reply,
    reused: bool,
    all: impl Fn(Outcome) -> HostResult,
) -> (HostResult, bool) {
    if r.code == 421 && reused {
        return (
            HostResult::TryNext(format!("reused session closed: {}", r.describe())),
            false,
        );
    }
    (all(outcome(host, r)), r.code != 421)
}

/// MAIL, RCPT for each recipient, DATA; also whether the session is left clean (between
/// transactions, so another may follow).
async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    job: &Job<'_>,
    caps: &EhloResponse<String>,
    reused: bool,
) -> (HostResult, bool) {
    let host = job.mx_host;
    let all = |o: Outcome| HostResult::Done(vec![o; job.rcpts.len()]);
    // RFC 6531 §3.4: only a message that needs it is refused by a server without it; one
    // merely flagged by its sender goes without the parameter.
    let smtputf8 = job.smtputf8 && needs_utf8(job.mail_from, job.rcpts, job.message);
    if smtputf8 && caps.capabilities & EXT_SMTP_UTF8 == 0 {
        // RFC 6531 §3.7.5: an internationalised message cannot go to a server without it.
        return (
            all(Outcome::Permanent(format!(
                "553 5.6.7 {host} does not support SMTPUTF8, which this message needs"
            ))),
            true,
        );
    }
    if caps.capabilities & EXT_8BIT_MIME == 0 && job.message.iter().any(|b| *b >= 0x80) {
        // RFC 6152 §3: 8-bit data must not go to a server without 8BITMIME; we do not
        // down-convert (RFC 3463 5.6.3: conversion required but not supported). Decided
        // before MAIL, so nothing is sent and the session stays usable.
        return (
            all(Outcome::Permanent(format!(
                "554 5.6.3 {host} does not support 8BITMIME, which this message needs"
            ))),
            true,
        );
    }
    let mut mail = format!("MAIL FROM:<{}>", job.mail_from);
    if caps.capabilities & EXT_SIZE != 0 {
        mail.push_str(&format!(" SIZE={}", job.message.len()));
    }
    if job.eight_bit && caps.capabilities & EXT_8BIT_MIME != 0 {
        mail.push_str(" BODY=8BITMIME");
    }
    if smtputf8 {
        mail.push_str(" SMTPUTF8");
    }
    if job.require_tls {
        if caps.capabilities & smtp_proto::EXT_REQUIRE_TLS == 0 {
            // RFC 8689 §4.2.1: never hand such a message to a hop that drops the flag.
            return (
                HostResult::TlsRefused(format!("{host} does not support REQUIRETLS")),
                true,
            );
        }
        mail.push_str(" REQUIRETLS");
    }
    let finish = |outcomes: Vec<Option<Outcome>>, o: Outcome| {
        HostResult::Done(
            outcomes
                .into_iter()
                .map(|x| x.unwrap_or(o.clone()))
                .collect(),
        )
    };
    let (outcomes, data) = if caps.capabilities & EXT_PIPELINING != 0 {
        match envelope_pipelined(conn, job, &mail).await {
            Ok(Pipelined::Refused(r)) => return mail_refused(host, &r, reused, all),
            Ok(Pipelined::Answered(o, data)) => (o, Some(data)),
            Err(e) => return (HostResult::TryNext(e), false),
        }
    } else {
        match envelope_stepwise(conn, job, &mail).await {
            Ok(Ok(o)) => (o, None),
            Ok(Err(r)) => return mail_refused(host, &r, reused, all),
            Err(e) => return (HostResult::TryNext(e), false),
        }
    };
    if outcomes.iter().all(Option::is_some) {
        if data.as_ref().is_some_and(|d| d.code == 354) {
            // A server that said 354 with no recipient: end the (empty) message.
            let _ = conn.command(".").await;
        }
        // Every recipient refused: RSET ends the transaction (RFC 5321 §4.1.1.5).
        let reset = matches!(conn.command("RSET").await, Ok(r) if r.code == 250);
        return (finish(outcomes, Outcome::Delivered), reset);
    }
    let data = match data {
        Some(r) => Ok(r),
        None => conn.command("DATA").await,
    };
    match data {
        Ok(r) if r.code == 354 => {}
        Ok(r) => return (finish(outcomes, outcome(host, &r)), false),
        Err(e) => {
            return (
                finish(outcomes, Outcome::Transient(format!("{host}: DATA: {e}"))),
                false,
            );
        }
    }
    // RFC 5321 §4.5.3.2.6: allow the server 10 minutes for the final reply.
    let saved = conn.timeout;
    conn.timeout = saved.saturating_mul(2);
    let sent = conn.send(&dot_stuff(job.message)).await;
    let done = match sent {
        Ok(()) => conn.reply().await,
        Err(e) => Err(e),
    };
    conn.timeout = saved;
    // After the final reply the server is between transactions (RFC 5321 §4.1.1.4),
    // unless it is closing (421).
    let (result, clean) = match done {
        Ok(r) if r.code == 250 => (Outcome::Delivered, true),
        Ok(r) => (outcome(host, &r), r.code != 421),
        // The server may have the message; RFC 5321 §6.1 prefers a duplicate to a loss.
        Err(e) => (
            Outcome::Transient(format!("{host}: end of data: {e}")),
            false,
        ),
    };
    (finish(outcomes, result), clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6531_3_4_smtputf8_is_needed_only_for_non_ascii_addresses_or_headers() {
        let ascii = [Address::parse("bob@example.org").unwrap_or_else(|e| panic!("{e}"))];
        let utf8 = [Address::parse("θσερ@example.org").unwrap_or_else(|e| panic!("{e}"))];
        assert!(!needs_utf8(
            "a@example.net",
            &ascii,
            b"Subject: hi\r\n\r\n\xce\xb8 body\r\n"
        ));
        assert!(needs_utf8("a@example.net", &utf8, b"Subject: hi\r\n\r\n"));
        assert!(needs_utf8("θ@example.net", &ascii, b"Subject: hi\r\n\r\n"));
        assert!(needs_utf8(
            "a@example.net",
            &ascii,
            b"Subject: \xce\xb8\r\n\r\n"
        ));
    }

    #[test]
    fn rfc5321_4_5_2_dot_stuffing() {
        assert_eq!(
            dot_stuff(b".a\r\nb\r\n..c\r\n"),
            b"..a\r\nb\r\n...c\r\n.\r\n"
        );
        assert_eq!(dot_stuff(b"no final crlf"), b"no final crlf\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b"\r\n.\r\n");
    }

    #[test]
    fn multiline_replies_end_at_the_space_line() {
        assert_eq!(complete_reply(b"250-a\r\n250-b\r\n"), None);
        assert_eq!(complete_reply(b"250-a\r\n250 b\r\nnext"), Some(14));
        assert_eq!(complete_reply(b"250\r\n"), Some(5));
        assert_eq!(complete_reply(b"25"), None);
    }
}
