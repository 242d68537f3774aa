//! One connection: limits, optional implicit TLS, then the session loop, which hands
//! each protocol step to [`envelope`] (MAIL, RCPT) or [`data`] (the message).

mod checks;
mod data;
mod envelope;

use crate::{Shared, sender_auth, tls};
use data::Transaction;
use palisade_config::{BareLines, Config, ListenerKind};
use palisade_smtp::{
    AuthMode, BareLinePolicy, Session, SessionConfig, Step, TimeoutPhase, Timeouts,
};
use palisade_types::reply;
use palisade_types::{SessionId, TlsInfo};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

/// How a session loop ended.
enum Exit<S> {
    Closed,
    /// STARTTLS accepted: hand the plain stream to the TLS handshake.
    StartTls(S, Box<Session>),
}

/// Counts the session in the `palisade_sessions_active` gauge while alive.
struct ActiveGauge;

impl ActiveGauge {
    fn new() -> Self {
        metrics::gauge!("palisade_sessions_active").increment(1.0);
        ActiveGauge
    }
}

impl Drop for ActiveGauge {
    fn drop(&mut self) {
        metrics::gauge!("palisade_sessions_active").decrement(1.0);
    }
}

fn rejected(reason: &'static str) {
    metrics::counter!("palisade_messages_rejected_total", "reason" => reason).increment(1);
}

pub fn session_config(cfg: &Config, kind: ListenerKind, plaintext_auth: bool) -> SessionConfig {
    let submission = matches!(kind, ListenerKind::Submission | ListenerKind::Submissions);
    SessionConfig {
        auth: match (submission, plaintext_auth) {
            (false, _) => AuthMode::Off,
            (true, false) => AuthMode::TlsOnly,
            (true, true) => AuthMode::Plaintext,
        },
        require_auth: submission,
        hostname: cfg.hostname.to_string(),
        postmaster_domain: cfg.hostname.clone(),
        max_message_size: cfg.smtp.max_message_size,
        max_recipients: cfg.smtp.max_recipients,
        max_errors: cfg.smtp.max_errors,
        starttls: !kind.implicit_tls(),
        bare_line_policy: match cfg.smtp.bare_line_endings {
            BareLines::Reject => BareLinePolicy::Reject,
            BareLines::Normalise => BareLinePolicy::Normalise,
        },
        timeouts: Timeouts {
            idle: cfg.smtp.idle_timeout,
            command: cfg.smtp.command_timeout,
            data: cfg.smtp.data_timeout,
        },
    }
}

fn tls_info(conn: &rustls::ServerConnection) -> TlsInfo {
    TlsInfo {
        version: conn
            .protocol_version()
            .map(tls::version_name)
            .unwrap_or_default(),
        cipher: conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default(),
    }
}

/// The client behind a PROXY header, or the peer itself; `None`: close now.
async fn proxied_client(
    stream: &mut TcpStream,
    peer: SocketAddr,
    proxy_from: &[ipnet::IpNet],
    cfg: &Config,
) -> Option<SocketAddr> {
    if proxy_from.is_empty() {
        return Some(peer);
    }
    if !crate::proxy::trusted(proxy_from, peer.ip()) {
        rejected("proxy_untrusted");
        tracing::info!("connection refused: peer may not use this PROXY listener");
        return None;
    }
    let limit = cfg
        .smtp
        .command_timeout
        .min(std::time::Duration::from_secs(10));
    match crate::proxy::read_header(stream, limit)
        .await
        .and_then(|h| crate::proxy::parse(&h))
    {
        Ok(Some(client)) => Some(client),
        // PROXY LOCAL (the proxy's own health check) or UNKNOWN: the client is not
        // known. Never the proxy's address: that one may be trusted (relay) and a ban
        // on it would lock out everyone behind the proxy. The unspecified address is
        // never trusted, never banned (`never_banned`), and shares one rate bucket.
        Ok(None) => {
            tracing::info!("PROXY header names no client (LOCAL or UNKNOWN)");
            Some(SocketAddr::from(([0, 0, 0, 0], 0)))
        }
        Err(e) => {
            rejected("proxy_malformed");
            tracing::info!(error = %e, "connection closed: bad PROXY header");
            None
        }
    }
}

/// Entry point for an accepted connection.
pub async fn handle(
    mut stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<palisade_config::Listener>,
    shared: Arc<Shared>,
) {
    let kind = listener.kind;
    let id = SessionId::generate();
    let span = tracing::info_span!(
        "session",
        id = %id,
        peer = %peer,
        client = tracing::field::Empty,
        listener = %listener.name
    );
    async move {
        let cfg = shared.config();
        let Some(client) =
            proxied_client(&mut stream, peer, &listener.proxy_protocol_from, &cfg).await
        else {
            return;
        };
        if client != peer {
            tracing::Span::current().record("client", tracing::field::display(client));
        }
        // A listener on [::] sees IPv4 clients as ::ffff:a.b.c.d: use the plain IPv4
        // address, or IPv4 networks in never_ban, trusted_networks and bans never match.
        let peer = SocketAddr::new(client.ip().to_canonical(), client.port());
        // Bans and limits come before TLS or any allocation for the session; behind a
        // trusted proxy it is the client that is banned, never the proxy.
        if shared.bans.banned(peer.ip(), palisade_queue::now_secs()) {
            rejected("banned");
            tracing::info!("connection refused: address banned");
            let _ = stream.try_write(&reply::BANNED.to_wire());
            return;
        }
        if !cfg.policy.is_trusted(peer.ip()) && !shared.rates.connection(peer.ip()) {
            rejected("connection_rate");
            tracing::info!("connection refused: rate limit");
            let _ = stream.try_write(&reply::CONNECTION_RATE.to_wire());
            return;
        }
        let Some(_slot) = shared.limits.try_acquire(peer.ip()) else {
            rejected("too_many_connections");
            tracing::info!("connection refused: limit reached");
            let _ = stream.try_write(&reply::TOO_MANY_CONNECTIONS.to_wire());
            return;
        };
        let _gauge = ActiveGauge::new();
        let _ = stream.set_nodelay(true);
        let scfg = session_config(&cfg, kind, listener.allow_plaintext_auth);
        tracing::debug!("connected");
        if kind.implicit_tls() {
            if let Some((tls, info)) = handshake(stream, &shared, &cfg).await {
                let _ = drive(tls, Session::new_tls(scfg, peer.ip(), info), &shared, &cfg).await;
            }
            return;
        }
        let Exit::StartTls(stream, mut session) =
            drive(stream, Session::new(scfg, peer.ip()), &shared, &cfg).await
        else {
            return;
        };
        if let Some((tls, info)) = handshake(stream, &shared, &cfg).await {
            session.tls_established(info);
            let _ = drive(tls, *session, &shared, &cfg).await;
        }
    }
    .instrument(span)
    .await
}

async fn handshake(
    stream: TcpStream,
    shared: &Shared,
    cfg: &Config,
) -> Option<(tokio_rustls::server::TlsStream<TcpStream>, TlsInfo)> {
    let acceptor = TlsAcceptor::from(shared.tls.config());
    match tokio::time::timeout(cfg.smtp.command_timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => {
            let info = tls_info(tls.get_ref().1);
            tracing::debug!(version = %info.version, cipher = %info.cipher, "TLS established");
            Some((tls, info))
        }
        Ok(Err(e)) => {
            tracing::info!(error = &e as &dyn std::error::Error, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::info!("TLS handshake timed out");
            None
        }
    }
}

/// The deadline for the next read (RFC 5321 §4.5.3.2, with slow-loris bounds).
struct Deadlines {
    command_started: Option<Instant>,
    data_started: Option<Instant>,
}

impl Deadlines {
    fn next(&mut self, session: &Session, cfg: &Config) -> Instant {
        let now = Instant::now();
        let idle = now + cfg.smtp.idle_timeout;
        match session.timeout_phase() {
            TimeoutPhase::Data => {
                self.command_started = None;
                idle.min(*self.data_started.get_or_insert(now) + cfg.smtp.data_timeout)
            }
            TimeoutPhase::Command => {
                self.data_started = None;
                if session.has_partial_input() {
                    idle.min(*self.command_started.get_or_insert(now) + cfg.smtp.command_timeout)
                } else {
                    self.command_started = None;
                    idle
                }
            }
        }
    }
}

/// Writes the session's pending replies; false when the client is gone or has not
/// taken them within the idle timeout. A client that stops reading must not hold its
/// connection slot forever (60 of them once filled `max_connections`).
async fn flush<S: AsyncWrite + Unpin>(stream: &mut S, session: &mut Session, cfg: &Config) -> bool {
    if !session.has_output() {
        return true;
    }
    let out = session.take_output();
    // One write per batch of replies: no Nagle/delayed-ACK stalls (see shared/bench).
    let write = async { stream.write_all(&out).await.is_ok() && stream.flush().await.is_ok() };
    match tokio::time::timeout(cfg.smtp.idle_timeout, write).await {
        Ok(written) => written,
        Err(_) => {
            tracing::info!("write timeout: the client does not read its replies");
            false
        }
    }
}

/// What every step of one session's loop needs: the server, its configuration, and two
/// facts fixed for the session.
pub(crate) struct Ctx<'a> {
    shared: &'a Arc<Shared>,
    cfg: &'a Arc<Config>,
    /// Sender authentication applies to this client (inbound, not trusted).
    checks_on: bool,
    /// Forged Authentication-Results go even with the checks off (RFC 8601 §5), except
    /// from trusted networks, which are inside our trust boundary.
    strip_forged: bool,
}

/// The session loop over one stream: each step the protocol asks for, in turn.
async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    mut session: Session,
    shared: &Arc<Shared>,
    cfg: &Arc<Config>,
) -> Exit<S> {
    let checks_on = sender_auth::applies(cfg, session.client_ip());
    let ctx = Ctx {
        shared,
        cfg,
        checks_on,
        strip_forged: !checks_on && !cfg.policy.is_trusted(session.client_ip()),
    };
    let mut txn = Transaction::default();
    let mut input = Input::new(shared);
    loop {
        match session.next_step() {
            Step::NeedInput => {
                if !input.read(&mut stream, &mut session, cfg).await {
                    return Exit::Closed;
                }
            }
            Step::Authenticate {
                mechanism,
                responses,
            } => {
                let ip = session.client_ip();
                let r =
                    crate::submission::authenticate(shared, cfg, ip, mechanism, &responses).await;
                match r {
                    // Banned by this failure: say so and hang up.
                    Err(rep) if rep.code == 421 => session.abort(&rep),
                    r => session.auth_result(r),
                }
            }
            Step::CheckSender(from) => {
                envelope::check_sender(&ctx, &mut session, &mut txn, from).await;
            }
            Step::CheckRecipient(addr) => {
                envelope::check_rcpt(&ctx, &mut session, &mut txn, &addr).await;
            }
            Step::StartMessage(env) => txn.start(&ctx, &mut session, &env),
            Step::Body(bytes) => txn.append(&mut session, &bytes),
            Step::EndMessage => data::end_of_data(&ctx, &mut session, &mut txn).await,
            Step::AbortMessage => txn.abort(),
            Step::StartTls => {
                if !flush(&mut stream, &mut session, cfg).await {
                    return Exit::Closed;
                }
                return Exit::StartTls(stream, Box::new(session));
            }
            Step::Close => {
                if flush(&mut stream, &mut session, cfg).await {
                    // TLS close_notify is a write too: bounded like every other.
                    let _ = tokio::time::timeout(cfg.smtp.idle_timeout, stream.shutdown()).await;
                }
                return Exit::Closed;
            }
        }
    }
}

/// Reading the client: the buffer, the read deadlines, and the server's hard stop.
struct Input {
    buf: Vec<u8>,
    deadlines: Deadlines,
    hard_stop: tokio::sync::watch::Receiver<bool>,
}

impl Input {
    fn new(shared: &Shared) -> Self {
        Input {
            buf: vec![0u8; 16 * 1024],
            deadlines: Deadlines {
                command_started: None,
                data_started: None,
            },
            hard_stop: shared.hard_stop.clone(),
        }
    }

    /// Sends the pending replies, then feeds the session what the client sends next (or
    /// a timeout, or the shutdown); false when the connection is gone.
    async fn read<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        session: &mut Session,
        cfg: &Config,
    ) -> bool {
        if !flush(stream, session, cfg).await {
            return false;
        }
        let deadline = self.deadlines.next(session, cfg);
        let read = tokio::select! {
            r = tokio::time::timeout_at(deadline, stream.read(&mut self.buf)) => r,
            _ = self.hard_stop.wait_for(|stop| *stop) => {
                session.abort(&reply::SHUTTING_DOWN);
                return true;
            }
        };
        match read {
            Err(_) => {
                tracing::info!("timeout");
                session.abort(&reply::TIMEOUT);
            }
            Ok(Ok(0)) | Ok(Err(_)) => return false,
            Ok(Ok(n)) => session.feed(&self.buf[..n]),
        }
        true
    }
}
