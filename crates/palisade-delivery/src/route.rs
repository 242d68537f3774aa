//! Routed domains (`[route]`, the gateway role): delivery to the domain's own server
//! instead of its MX, and recipient callouts before our `250` to RCPT.
//!
//! An SMTP next hop is reached on the configured host and port (its name taken from the
//! configuration, so a DANE lookup counts it as validated), with the route's TLS policy;
//! a REQUIRETLS message still needs a verified certificate (RFC 8689 §4.2.1). An LMTP
//! next hop goes through [`crate::lmtp`].
//!
//! A callout asks the next hop about one recipient (`MAIL FROM:<>`, `RCPT`, `RSET`) and
//! caches the answer: a recipient that exists for a day, one that does not for an hour
//! (so a new mailbox works soon), a server that cannot be asked for a minute. At most
//! [`CALLOUTS_AT_ONCE`] run at once (a RCPT waits at most 10 s for a slot), and the
//! cache holds at most [`CACHE_ENTRIES`] (past that, unknown answers go first).

use crate::lmtp::{Lmtp, Transaction};
use crate::remote::client::{self, HostResult, Login, Reply};
use crate::remote::{RemoteDelivery, TlsRequirement, mx};
use palisade_config::{DomainTlsPolicy, Endpoint, NextHop, Route};
use palisade_queue::{Outcome, SpooledMessage};
use palisade_types::Address;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

pub const CALLOUTS_AT_ONCE: usize = 16;
pub const CACHE_ENTRIES: usize = 50_000;
const EXISTS_FOR: Duration = Duration::from_secs(24 * 3600);
const UNKNOWN_FOR: Duration = Duration::from_secs(3600);
/// A server that could not be asked is not asked again for this long: a slow or dead
/// downstream must not hold every RCPT up for its timeouts.
const UNAVAILABLE_FOR: Duration = Duration::from_secs(60);
/// The longest a RCPT waits for a callout slot.
const SLOT_WAIT: Duration = Duration::from_secs(10);

/// What the next hop said about a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    Exists,
    /// Refused with a 5xx: the reply, for the log.
    Unknown(String),
    /// Answered 4xx for this recipient: try again later.
    Unavailable(String),
    /// The next hop could not be asked at all (down, refused, too busy here).
    Unreachable(String),
}

/// Callout answers by recipient, with their expiry.
pub struct Callouts {
    cache: Mutex<HashMap<String, (Verified, Instant)>>,
    at_once: Semaphore,
}

impl Default for Callouts {
    fn default() -> Self {
        Callouts {
            cache: Mutex::new(HashMap::new()),
            at_once: Semaphore::new(CALLOUTS_AT_ONCE),
        }
    }
}

impl Callouts {
    fn cached(&self, key: &str, now: Instant) -> Option<Verified> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(v, _)| v.clone())
    }

    fn remember(&self, key: String, v: &Verified, now: Instant) {
        let life = match v {
            Verified::Exists => EXISTS_FOR,
            Verified::Unknown(_) => UNKNOWN_FOR,
            Verified::Unavailable(_) | Verified::Unreachable(_) => UNAVAILABLE_FOR,
        };
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_ENTRIES {
            cache.retain(|_, (_, until)| *until > now);
        }
        if cache.len() >= CACHE_ENTRIES {
            // Still full of live answers (a flood of new addresses): make room by
            // dropping the unknown ones first, then the soonest to expire.
            cache.retain(|_, (v, _)| !matches!(v, Verified::Unknown(_)));
            if cache.len() >= CACHE_ENTRIES {
                let mut by_expiry: Vec<Instant> = cache.values().map(|(_, t)| *t).collect();
                by_expiry.sort_unstable();
                let cut = by_expiry.get(CACHE_ENTRIES / 10).copied().unwrap_or(now);
                cache.retain(|_, (_, until)| *until > cut);
            }
        }
        cache.insert(key, (v.clone(), now + life));
    }

    /// Whether `rcpt` exists at `route`'s next hop (cached).
    pub async fn verify(&self, remote: &RemoteDelivery, route: &Route, rcpt: &Address) -> Verified {
        let key = format!("{}|{}", route.to, rcpt.lookup_key());
        // A next hop that could not be asked a moment ago is not asked again (whoever
        // the recipient): its answers are kept under the hop alone.
        let hop = format!("{}|", route.to);
        for k in [&key, &hop] {
            if let Some(v) = self.cached(k, Instant::now()) {
                return v;
            }
        }
        let _permit = match tokio::time::timeout(SLOT_WAIT, self.at_once.acquire()).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Verified::Unreachable("shutting down".into()),
            Err(_) => return Verified::Unavailable("too many recipient checks at once".into()),
        };
        let v = match &route.to {
            NextHop::Smtp { host, port } => probe_smtp(remote, host, *port, route.tls, rcpt).await,
            NextHop::Lmtp(e) => probe_lmtp(&lmtp_for(remote, e), rcpt).await,
        };
        let key = if matches!(v, Verified::Unreachable(_)) {
            hop
        } else {
            key
        };
        self.remember(key, &v, Instant::now());
        v
    }
}

fn verdict_of(r: Result<Reply, String>) -> Verified {
    match r {
        Ok(r) if (200..300).contains(&r.code) => Verified::Exists,
        Ok(r) if r.code >= 500 => Verified::Unknown(r.describe()),
        Ok(r) => Verified::Unavailable(r.describe()),
        Err(e) => Verified::Unreachable(e),
    }
}

/// The LMTP client for a route, with the remote side's name and timeouts.
fn lmtp_for(remote: &RemoteDelivery, e: &Endpoint) -> Lmtp {
    Lmtp {
        endpoint: e.clone(),
        hostname: remote.hostname.clone(),
        connect_timeout: remote.connect_timeout,
        command_timeout: remote.command_timeout,
    }
}

async fn probe_lmtp(lmtp: &Lmtp, rcpt: &Address) -> Verified {
    verdict_of(lmtp.probe(rcpt).await)
}

/// The addresses of a configured host: an IP literal as is, a name through DNS.
async fn host_addresses(remote: &RemoteDelivery, host: &str) -> Result<Vec<IpAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    match mx::addresses(&(remote.dns)(), host).await {
        Ok(a) if !a.is_empty() => Ok(a),
        Ok(_) => Err(format!("{host}: no address")),
        Err(e) => Err(format!("{host}: {e}")),
    }
}

/// The TLS the route asks of `host` (DANE where TLSA records are published).
async fn requirement_of(
    remote: &RemoteDelivery,
    host: &str,
    port: u16,
    policy: DomainTlsPolicy,
    require_tls: bool,
) -> Result<TlsRequirement, String> {
    let dns = (remote.dns)();
    let r = remote.requirement(&dns, policy, (host, port), true).await?;
    Ok(match r {
        // RFC 8689 §4.2.1: REQUIRETLS needs a validated certificate on every hop.
        TlsRequirement::Opportunistic | TlsRequirement::Encrypt | TlsRequirement::Plaintext
            if require_tls =>
        {
            TlsRequirement::Verify
        }
        other => other,
    })
}

async fn probe_smtp(
    remote: &RemoteDelivery,
    host: &str,
    port: u16,
    policy: DomainTlsPolicy,
    rcpt: &Address,
) -> Verified {
    let tls = match requirement_of(remote, host, port, policy, false).await {
        Ok(t) => t,
        Err(e) => return Verified::Unreachable(e),
    };
    let addrs = match host_addresses(remote, host).await {
        Ok(a) => a,
        Err(e) => return Verified::Unreachable(e),
    };
    let rcpts = std::slice::from_ref(rcpt);
    let mut last = String::from("no address answered");
    for ip in addrs {
        let job = job(
            remote,
            SocketAddr::new(ip, port),
            host,
            "",
            rcpts,
            b"",
            &tls,
        );
        match client::open(&job).await {
            Ok(mut session) => {
                let answer = session.probe(rcpt).await;
                session.quit().await;
                return verdict_of(answer);
            }
            Err(HostResult::TryNext(why) | HostResult::TlsRefused(why)) => last = why,
            Err(HostResult::Done(_)) => {}
        }
    }
    Verified::Unreachable(format!("{host}: {last}"))
}

fn job<'a>(
    remote: &'a RemoteDelivery,
    addr: SocketAddr,
    host: &'a str,
    mail_from: &'a str,
    rcpts: &'a [Address],
    message: &'a [u8],
    tls: &'a TlsRequirement,
) -> client::Job<'a> {
    client::Job {
        addr,
        mx_host: host,
        helo: &remote.hostname,
        mail_from,
        rcpts,
        message,
        eight_bit: false,
        smtputf8: false,
        connect_timeout: remote.connect_timeout,
        command_timeout: remote.command_timeout,
        tls: &remote.tls,
        requirement: tls,
        require_tls: false,
        implicit_tls: false,
        auth: None,
    }
}

/// A fixed next hop over SMTP: a routed domain's server, or the smarthost.
pub struct Hop<'a> {
    pub host: &'a str,
    pub port: u16,
    pub policy: DomainTlsPolicy,
    /// RFC 8314 implicit TLS (port 465) instead of STARTTLS.
    pub implicit_tls: bool,
    pub auth: Option<&'a Login>,
}

/// Delivers one message's recipients of a routed domain: one outcome each, in order.
pub async fn deliver(
    remote: &RemoteDelivery,
    route: &Route,
    msg: &SpooledMessage,
    message: &[u8],
    rcpts: &[Address],
) -> Vec<Outcome> {
    if palisade_types::received_count(message) > palisade_types::MAX_HOPS {
        // RFC 5321 §6.3: two gateways routing a domain to each other.
        let looped = Outcome::Permanent("554 5.4.6 routing loop detected: too many hops".into());
        return vec![looped; rcpts.len()];
    }
    let mail_from = msg.envelope.reverse_path();
    match &route.to {
        NextHop::Lmtp(e) => {
            let t = Transaction {
                mail_from: &mail_from,
                rcpts,
                message,
                smtputf8: msg.envelope.smtputf8,
            };
            lmtp_for(remote, e).deliver(&t).await
        }
        NextHop::Smtp { host, port } => {
            let hop = Hop {
                host,
                port: *port,
                policy: route.tls,
                implicit_tls: false,
                auth: None,
            };
            smtp(remote, &hop, msg, &mail_from, message, rcpts).await
        }
    }
}

/// Delivers to `hop` (each of its addresses in turn): one outcome per recipient.
pub async fn smtp(
    remote: &RemoteDelivery,
    hop: &Hop<'_>,
    msg: &SpooledMessage,
    mail_from: &str,
    message: &[u8],
    rcpts: &[Address],
) -> Vec<Outcome> {
    let (host, port) = (hop.host, hop.port);
    let all = |o: Outcome| vec![o; rcpts.len()];
    let require_tls = msg.envelope.require_tls;
    let transient = |why: String| all(Outcome::Transient(format!("451 4.4.1 {host}: {why}")));
    let tls = match requirement_of(remote, host, port, hop.policy, require_tls).await {
        Ok(t) => t,
        Err(e) => return transient(e),
    };
    let addrs = match host_addresses(remote, host).await {
        Ok(a) => a,
        Err(e) => return transient(e),
    };
    let mut last = String::from("no address answered");
    let mut tls_refused = false;
    for ip in addrs {
        let mut job = job(
            remote,
            SocketAddr::new(ip, port),
            host,
            mail_from,
            rcpts,
            message,
            &tls,
        );
        job.eight_bit = msg.envelope.body == palisade_types::BodyType::EightBitMime;
        job.smtputf8 = msg.envelope.smtputf8;
        job.require_tls = require_tls;
        job.implicit_tls = hop.implicit_tls;
        job.auth = hop.auth;
        match remote.attempt(&job).await.0 {
            HostResult::Done(outcomes) => return outcomes,
            HostResult::TryNext(why) => (last, tls_refused) = (why, false),
            HostResult::TlsRefused(why) => (last, tls_refused) = (why, true),
        }
    }
    if require_tls && tls_refused {
        // RFC 8689 §4.2.1: returned, not retried in the hope of a weaker path.
        return all(Outcome::Permanent(format!(
            "550 5.7.30 REQUIRETLS support required: {host}: {last}"
        )));
    }
    transient(last)
}
