//! One connection: limits, optional implicit TLS, then the session loop.

use crate::sender_auth::{self, AbortOnDrop, Checked};
use crate::{Shared, tls, trace};
use palisade_checks::{SpfCheck, Verdict};
use palisade_config::{BareLines, Config, ListenerKind};
use palisade_queue::{Destination, Edit, SpoolWriter};
use palisade_smtp::{
    AuthMode, BareLinePolicy, RecipientDecision, SenderDecision, Session, SessionConfig, Step,
    TimeoutPhase, Timeouts,
};
use palisade_types::reply::{self, Reply};
use palisade_types::{Address, SessionId, TlsInfo};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;
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

/// The decision for one RCPT. An authenticated user's accepted recipient is reserved
/// against `submission.max_recipients_per_day` together with the check (see
/// [`crate::quota`]), so concurrent sessions cannot overshoot it; store errors count
/// nothing recorded (the hourly and daily message quotas still hold).
async fn recipient_decision(
    shared: &Shared,
    cfg: &Config,
    session: &Session,
    addr: &Address,
    reserved: &mut Option<crate::quota::Reserved>,
) -> RecipientDecision {
    let relay_ok = session.authenticated().is_some() || cfg.policy.is_trusted(session.client_ip());
    let d = check_recipient(shared, cfg, relay_ok, addr).await;
    let (Some(user), RecipientDecision::Accept) = (session.authenticated(), &d) else {
        return d;
    };
    let since = palisade_queue::now_secs() - 86_400;
    let recorded = match Address::parse(user) {
        Ok(u) => shared
            .store
            .count_submission_recipients(&u, since)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "cannot count recipients"
                );
                0
            }),
        Err(_) => 0,
    };
    let max = cfg.submission.max_recipients_per_day;
    if shared
        .recipient_reservations
        .try_add(reserved, user, recorded, max)
    {
        d
    } else {
        rejected("recipient_quota");
        RecipientDecision::Reject(reply::RECIPIENT_QUOTA)
    }
}

/// Counts an SMTP-level abuse event; true when it got the address banned.
async fn abuse_strike(shared: &Shared, cfg: &Config, ip: std::net::IpAddr, kind: &str) -> bool {
    match palisade_access::guard::strike(
        shared.store.as_ref(),
        &cfg.security,
        ip,
        kind,
        palisade_queue::now_secs(),
    )
    .await
    {
        Ok(Some(block)) => {
            crate::bans::made(shared, ip, &block, "abuse");
            true
        }
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "cannot record an abuse strike"
            );
            false
        }
    }
}

/// Decides a RCPT: local domains deliver to existing mailboxes, routed domains to the
/// recipients their server knows; other domains are relayed only for authenticated users
/// and clients in `policy.trusted_networks` (like Postfix's `permit_sasl_authenticated,
/// permit_mynetworks`).
async fn check_recipient(
    shared: &Shared,
    cfg: &Config,
    relay_ok: bool,
    rcpt: &Address,
) -> RecipientDecision {
    let store = &shared.store;
    let mut rcpt = rcpt.clone();
    match shared
        .lookups
        .is_local_domain(store.as_ref(), rcpt.domain())
        .await
    {
        Ok(true) => {}
        Ok(false) if cfg.routes.contains_key(rcpt.domain().as_str()) => {
            return routed_recipient(shared, &rcpt).await;
        }
        Ok(false)
            if rcpt.local().eq_ignore_ascii_case("postmaster")
                && *rcpt.domain() == cfg.hostname =>
        {
            // `RCPT TO:<postmaster>` (RFC 5321 §4.5.1) goes to the first local domain's postmaster.
            match store
                .list_domains()
                .await
                .ok()
                .and_then(|d| d.into_iter().next())
            {
                Some(d) => match Address::parse(&format!("postmaster@{d}")) {
                    Ok(a) => rcpt = a,
                    Err(_) => return RecipientDecision::Reject(reply::NO_SUCH_USER),
                },
                None => return RecipientDecision::Reject(reply::NO_SUCH_USER),
            }
        }
        Ok(false) if relay_ok => {
            metrics::counter!("palisade_relay_accepted_total").increment(1);
            return RecipientDecision::Accept;
        }
        Ok(false) => {
            rejected("relay_denied");
            return RecipientDecision::Reject(reply::NO_RELAY);
        }
        Err(e) => {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "store error checking domain"
            );
            return RecipientDecision::Reject(reply::LOCAL_ERROR);
        }
    }
    match shared
        .lookups
        .resolve_recipient(store.as_ref(), &rcpt)
        .await
    {
        Ok(Some(_)) => RecipientDecision::Accept,
        Ok(None) => group_or_bounce(shared, &rcpt).await,
        Err(e) => {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "store error resolving recipient"
            );
            RecipientDecision::Reject(reply::LOCAL_ERROR)
        }
    }
}

/// An address with no mailbox of its own: a group or a forward (`palisade alias add
/// SOURCE TARGET...`), or one of our SRS addresses that a bounce comes back to.
async fn group_or_bounce(shared: &Shared, rcpt: &Address) -> RecipientDecision {
    use palisade_delivery::Forwarder;
    match shared.lookups.forwards(shared.store.as_ref(), rcpt).await {
        Ok(targets) if !targets.is_empty() => return RecipientDecision::Accept,
        Ok(_) => {}
        Err(e) => {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "store error reading forwards"
            );
            return RecipientDecision::Reject(reply::LOCAL_ERROR);
        }
    }
    if shared.forwarding.reverse(rcpt).await.is_some() {
        return RecipientDecision::Accept;
    }
    rejected("no_such_user");
    RecipientDecision::Reject(reply::NO_SUCH_USER)
}

/// A routed domain (`[route]`) takes mail from anyone, for the recipients its own
/// server says exist (a cached callout; not asked when the route says so).
async fn routed_recipient(shared: &Shared, rcpt: &Address) -> RecipientDecision {
    use palisade_delivery::route::Verified;
    match shared.router.verify_routed(rcpt).await {
        None | Some(Verified::Exists) => RecipientDecision::Accept,
        Some(Verified::Unknown(said)) => {
            tracing::info!(%rcpt, %said, "routed recipient refused by its server");
            rejected("no_such_user");
            RecipientDecision::Reject(reply::NO_SUCH_USER)
        }
        Some(Verified::Unavailable(why) | Verified::Unreachable(why)) => {
            tracing::warn!(%rcpt, %why, "cannot verify a routed recipient");
            RecipientDecision::Reject(reply::RECIPIENT_UNVERIFIED)
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

/// The session loop over one stream.
async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    mut session: Session,
    shared: &Arc<Shared>,
    cfg: &Config,
) -> Exit<S> {
    let checks_on = sender_auth::applies(cfg, session.client_ip());
    // Forged Authentication-Results go even with the checks off (RFC 8601 §5), except
    // from trusted networks, which are inside our trust boundary.
    let strip_forged = !checks_on && !cfg.policy.is_trusted(session.client_ip());
    let mut spf: Option<AbortOnDrop<SpfCheck>> = None;
    let mut rcpts: Vec<Address> = Vec::new();
    let mut mail_from: Option<Address> = None;
    let mut buf = vec![0u8; 16 * 1024];
    let mut writer: Option<SpoolWriter> = None;
    let mut data_budget: Option<tokio::sync::OwnedSemaphorePermit> = None;
    let mut reserved: Option<crate::quota::Reserved> = None;
    let mut deadlines = Deadlines {
        command_started: None,
        data_started: None,
    };
    let mut hard_stop = shared.hard_stop.clone();
    loop {
        match session.next_step() {
            Step::NeedInput => {
                if !flush(&mut stream, &mut session, cfg).await {
                    return Exit::Closed;
                }
                let deadline = deadlines.next(&session, cfg);
                let read = tokio::select! {
                    r = tokio::time::timeout_at(deadline, stream.read(&mut buf)) => r,
                    _ = hard_stop.wait_for(|stop| *stop) => {
                        session.abort(&reply::SHUTTING_DOWN);
                        continue;
                    }
                };
                match read {
                    Err(_) => {
                        tracing::info!("timeout");
                        session.abort(&reply::TIMEOUT);
                    }
                    Ok(Ok(0)) | Ok(Err(_)) => return Exit::Closed,
                    Ok(Ok(n)) => session.feed(&buf[..n]),
                }
            }
            Step::Authenticate {
                mechanism,
                responses,
            } => {
                let r = crate::submission::authenticate(
                    shared,
                    cfg,
                    session.client_ip(),
                    mechanism,
                    &responses,
                )
                .await;
                match r {
                    // Banned by this failure: say so and hang up.
                    Err(rep) if rep.code == 421 => session.abort(&rep),
                    r => session.auth_result(r),
                }
            }
            Step::CheckSender(from) => {
                // A new transaction: the last one's recipients were recorded or dropped.
                reserved = None;
                mail_from = from.clone();
                if let Some(user) = session.authenticated().map(str::to_string) {
                    let d =
                        crate::submission::check_sender(shared, cfg, &user, from.as_ref()).await;
                    session.sender_decision(d);
                    continue;
                }
                let ip = session.client_ip();
                if !cfg.policy.is_trusted(ip) && !shared.rates.message(ip) {
                    rejected("message_rate");
                    tracing::info!("MAIL refused: message rate limit");
                    session.sender_decision(SenderDecision::Reject(reply::MESSAGE_RATE));
                    continue;
                }
                if checks_on {
                    let helo = session.helo().unwrap_or_default().to_string();
                    // Replacing an earlier transaction's check aborts it (AbortOnDrop).
                    spf = None;
                    let ip = session.client_ip();
                    match sender_auth::check_sender(shared, cfg, ip, &helo, from.as_ref()).await {
                        Ok(check) => spf = Some(check),
                        Err(r) => {
                            rejected("own_domain_sender");
                            crate::rollup::rejected_sender(from.as_ref(), ip);
                            session.sender_decision(SenderDecision::Reject(r));
                            continue;
                        }
                    }
                }
                session.sender_decision(SenderDecision::Accept);
            }
            Step::CheckRecipient(addr) => {
                let d = recipient_decision(shared, cfg, &session, &addr, &mut reserved).await;
                tracing::info!(rcpt = %addr, accepted = matches!(d, RecipientDecision::Accept), "RCPT");
                let strike = match &d {
                    RecipientDecision::Reject(r) if *r == reply::NO_RELAY => Some("relay"),
                    RecipientDecision::Reject(r) if *r == reply::NO_SUCH_USER => {
                        Some("unknown_rcpt")
                    }
                    _ => None,
                };
                if matches!(&d, RecipientDecision::Reject(r) if !r.is_transient()) {
                    crate::rollup::rejected_sender(mail_from.as_ref(), session.client_ip());
                }
                session.recipient_decision(d);
                if let Some(kind) = strike
                    && abuse_strike(shared, cfg, session.client_ip(), kind).await
                {
                    session.abort(&reply::BANNED);
                }
            }
            Step::StartMessage(env) => {
                let hide_client = env.auth.is_some() && cfg.submission.hide_client_ip;
                rcpts = env.rcpt_to.clone();
                mail_from = env.mail_from.clone();
                let now = SystemTime::now();
                let arrived = now
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0);
                let hostname = cfg.hostname.to_string();
                let created = shared.spool.create(&env, arrived, |id| {
                    trace::received(&env, &hostname, id, now, hide_client)
                });
                match created {
                    Ok(mut w) => {
                        // The buffer of a transfer in progress is budgeted memory too.
                        data_budget = shared.data_buffer_budget();
                        if data_budget.is_none() {
                            w.set_write_threshold(palisade_queue::SMALL_WRITE_THRESHOLD);
                        }
                        writer = Some(w);
                    }
                    Err(e) => {
                        tracing::error!(
                            error = &e as &dyn std::error::Error,
                            "cannot create spool file"
                        );
                        session.message_start_failed(reply::LOCAL_ERROR);
                    }
                }
            }
            Step::Body(bytes) => {
                if let Some(w) = writer.as_mut()
                    && let Err(e) = w.append(&bytes)
                {
                    tracing::error!(
                        error = &e as &dyn std::error::Error,
                        "cannot write spool file"
                    );
                    writer = None;
                    session.message_start_failed(reply::LOCAL_ERROR);
                }
            }
            Step::EndMessage => {
                // Given back before the checks' share is taken: waiting for that while
                // holding this could deadlock sessions against each other.
                drop(data_budget.take());
                // Memory for the checks is budgeted by message size, held until commit.
                let user = session.authenticated().map(str::to_string);
                let _budget = match writer.as_ref() {
                    // The phishing scan holds about four more copies of the message
                    // (parsed parts, the cleaned and the bannered message).
                    Some(w) => {
                        let copies = if cfg.phishing.enabled { 5 } else { 1 };
                        Some(
                            shared
                                .check_budget(w.message_len().saturating_mul(copies))
                                .await,
                        )
                    }
                    None => None,
                };
                let checked = match (user.as_deref(), spf.take(), writer.as_mut()) {
                    (Some(user), _, Some(w)) => Some(submitted(shared, cfg, user, w).await),
                    (None, Some(spf), Some(w)) => Some(run_checks(shared, cfg, spf, w).await),
                    (None, None, Some(w)) if strip_forged => Some(sender_auth::strip_only(cfg, w)),
                    _ => None,
                };
                // Hygiene and the phishing engine, for every message.
                let checked = match writer.as_mut() {
                    Some(w) => Some(
                        crate::phishing::screen_session(
                            shared,
                            cfg,
                            checked.unwrap_or_else(Checked::trusted),
                            w,
                            crate::phishing::SessionEnvelope {
                                mail_from: mail_from.as_ref(),
                                rcpts: &rcpts,
                                client_ip: session.client_ip(),
                                helo: session.helo(),
                            },
                            user.as_deref(),
                            cfg.policy.is_trusted(session.client_ip()),
                        )
                        .await,
                    ),
                    None => checked,
                };
                let submitter = session.authenticated().map(str::to_string);
                let reply = end_message(
                    shared,
                    cfg,
                    checked,
                    writer.take(),
                    (&rcpts, submitter.as_deref()),
                )
                .await;
                if let (Ok(_), Some(user)) =
                    (&reply, submitter.and_then(|u| Address::parse(&u).ok()))
                {
                    let mut domains: Vec<String> =
                        rcpts.iter().map(|r| r.domain().to_string()).collect();
                    domains.sort();
                    domains.dedup();
                    crate::containment::after_submission(
                        shared.clone(),
                        shared.config(),
                        user,
                        domains,
                        rcpts.len() as u64,
                        reserved.take(),
                    );
                }
                match reply {
                    Ok(id) => {
                        let direction = if user.is_some() {
                            "outbound"
                        } else {
                            "inbound"
                        };
                        metrics::counter!("palisade_messages_accepted_total", "direction" => direction)
                            .increment(1);
                        tracing::info!(queue_id = %id, "message queued");
                        session.message_queued(id);
                    }
                    Err(r) => {
                        // A temporary refusal comes back with every retry: counted by
                        // reason, not by sender.
                        if !r.is_transient() {
                            crate::rollup::rejected_sender(mail_from.as_ref(), session.client_ip());
                        }
                        rejected(if r == reply::LOCAL_ERROR {
                            "local_error"
                        } else if r.text.starts_with(crate::phishing::REFUSED) {
                            "phishing"
                        } else if r.is_transient() {
                            "sender_authentication_deferred"
                        } else {
                            "sender_authentication"
                        });
                        session.message_failed(r);
                    }
                }
            }
            Step::AbortMessage => {
                drop(data_budget.take());
                if writer.take().is_some() {
                    rejected("message_refused");
                }
            }
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

/// Commits (or refuses) the message as the checks decided. A message for our DMARC
/// report address that authenticated is also parsed as a report, after the commit.
async fn end_message(
    shared: &Arc<Shared>,
    cfg: &Config,
    checked: Option<Checked>,
    mut writer: Option<SpoolWriter>,
    (rcpts, submitter): (&[Address], Option<&str>),
) -> Result<palisade_types::QueueId, Reply> {
    let checked = checked.unwrap_or_else(Checked::trusted);
    let dest = match checked.verdict {
        Verdict::Accept { .. } => Destination::Active,
        Verdict::Quarantine { .. } => {
            metrics::counter!("palisade_messages_quarantined_total").increment(1);
            Destination::Quarantine
        }
        Verdict::Reject { reply, .. } | Verdict::Defer { reply, .. } => return Err(reply),
    };
    let report = match &cfg.reports.dmarc_address {
        Some(a) if dest == Destination::Active && checked.authenticated && rcpts.contains(a) => {
            match (&checked.message, writer.as_mut()) {
                (Some(m), _) => Some(m.clone()),
                (None, Some(w)) => w.read_message().ok().map(Arc::new),
                (None, None) => None,
            }
        }
        _ => None,
    };
    // A phishing report from one of our users (never anyone else's mail to the address).
    let phishing_report = match (&cfg.phishing.report_address, submitter) {
        (Some(a), Some(user)) if dest == Destination::Active && rcpts.contains(a) => {
            match (&checked.message, writer.as_mut()) {
                (Some(m), _) => Some((user.to_string(), m.clone())),
                (None, Some(w)) => w
                    .read_message()
                    .ok()
                    .map(|m| (user.to_string(), Arc::new(m))),
                (None, None) => None,
            }
        }
        _ => None,
    };
    let id = commit(writer, checked.edit, dest).await?;
    if let Some((user, message)) = phishing_report {
        crate::learning::receive_report_in_background(shared.clone(), user, message);
    }
    if let Some(row) = &checked.dmarc_row {
        shared
            .dmarc_recorder
            .record(row, palisade_queue::now_secs());
    }
    if let Some(message) = report {
        crate::reports::receive_in_background(shared.clone(), message);
    }
    Ok(id)
}

/// End of data for an authenticated session (no sender checks: the user is known).
async fn submitted(
    shared: &Arc<Shared>,
    cfg: &Config,
    user: &str,
    writer: &mut SpoolWriter,
) -> Checked {
    match sender_auth::read_message(writer) {
        Ok(m) => crate::submission::check_message(shared, cfg, user, m).await,
        Err(e) => {
            tracing::error!(error = &e as &dyn std::error::Error, "reading spool file");
            Checked::deferred("cannot read the spooled message")
        }
    }
}

/// Waits for SPF, reads the message back and runs the end-of-data checks.
async fn run_checks(
    shared: &Arc<Shared>,
    cfg: &Config,
    mut spf: AbortOnDrop<SpfCheck>,
    writer: &mut SpoolWriter,
) -> Checked {
    let spf = match tokio::time::timeout(sender_auth::SPF_DEADLINE, &mut spf.0).await {
        Ok(Ok(spf)) => spf,
        Ok(Err(_)) => return Checked::deferred("SPF check task failed"),
        Err(_) => {
            return Checked {
                verdict: Verdict::Defer {
                    reply: reply::SPF_TEMPFAIL,
                    reason: "SPF evaluation took too long".into(),
                },
                ..Checked::deferred("SPF evaluation timed out")
            };
        }
    };
    let message = match sender_auth::read_message(writer) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = &e as &dyn std::error::Error, "reading spool file");
            return Checked::deferred("cannot read the spooled message");
        }
    };
    sender_auth::check_message(shared, cfg, spf, message).await
}

async fn commit(
    writer: Option<SpoolWriter>,
    edit: Edit,
    dest: Destination,
) -> Result<palisade_types::QueueId, Reply> {
    let Some(w) = writer else {
        return Err(reply::LOCAL_ERROR);
    };
    match w.commit_to(edit, dest).await {
        Ok(durable) => Ok(durable.id()),
        Err(e) => {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "commit failed; message not accepted"
            );
            Err(reply::LOCAL_ERROR)
        }
    }
}
