//! Delivery to other mail servers (RFC 5321 §5: MX, then SMTP over opportunistic TLS).
//!
//! Recipients are grouped by domain. Each domain's hosts come from [`mx::route`]
//! (preference order, shuffled among equals, implicit MX, null MX); each host's
//! addresses are tried in turn until one completes a transaction ([`client`]). A host that
//! cannot be reached, or refuses the session as a whole, passes the turn to the next; a
//! reply to a recipient or to the message is that recipient's outcome.
//!
//! TLS (RFC 3207) is used whenever the server offers STARTTLS. What the certificate must
//! prove is a [`TlsRequirement`], strongest first: DANE (validated TLSA records), then an
//! enforced MTA-STS policy or REQUIRETLS (a PKIX-valid certificate for the MX name), then
//! the domain's manual policy, else opportunistic TLS (RFC 7435: the certificate is
//! checked and logged, a failure does not stop delivery).

pub mod client;
pub mod dane;
pub mod mta_sts;
pub mod mx;
pub mod pool;
pub mod tls;

use palisade_config::DomainTlsPolicy;
use palisade_dns::Dns;
use palisade_queue::{Outcome, SpooledMessage};
use palisade_types::Address;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Hands out the current resolver (it is replaced when `[dns]` changes).
pub type DnsSource = Arc<dyn Fn() -> Arc<Dns> + Send + Sync>;

/// How to reach other servers.
pub struct RemoteDelivery {
    pub dns: DnsSource,
    /// Our name in EHLO.
    pub hostname: String,
    pub port: u16,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    pub tls: tls::TlsClient,
    /// Manual TLS policies by destination domain.
    pub tls_policy: std::collections::BTreeMap<String, DomainTlsPolicy>,
    pub mta_sts: mta_sts::MtaSts,
    /// Connections at once per destination domain (a per-destination limit, so one
    /// slow or throttling domain cannot take every delivery slot).
    pub per_domain: PerDomainLimit,
    /// Told about every TLS outcome, for TLS-RPT (RFC 8460).
    pub tls_observer: Option<TlsObserver>,
    /// Idle sessions for connection reuse.
    pub sessions: Arc<pool::SessionPool>,
    /// Every message for another domain goes here instead of the MX (`delivery.smarthost`).
    pub smarthost: Option<Smarthost>,
}

/// The relay all outbound mail goes through, with its account.
#[derive(Debug, Clone)]
pub struct Smarthost {
    pub host: String,
    pub port: u16,
    pub implicit_tls: bool,
    pub login: Option<client::Login>,
}

/// One outbound TLS outcome for TLS-RPT (RFC 8460 §4.3 names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOutcome {
    pub domain: String,
    /// `sts`, `tlsa` or `no-policy-found`.
    pub policy_type: &'static str,
    pub mx: String,
    /// `success`, or the failure type.
    pub result: &'static str,
}

pub type TlsObserver = Arc<dyn Fn(TlsOutcome) + Send + Sync>;

/// The RFC 8460 §4.3 result type for a TLS requirement failure.
/// `why` is our refusal text, which quotes rustls's error (its Display, or Debug names
/// such as `NotValidForName`), so both spellings are matched.
fn failure_type(why: &str) -> &'static str {
    let w = why.to_ascii_lowercase();
    if w.contains("starttls") {
        "starttls-not-supported"
    } else if w.contains("dane") {
        "tlsa-invalid"
    } else if w.contains("notvalidforname") || w.contains("not valid for name") {
        "certificate-host-mismatch"
    } else if w.contains("expired") {
        "certificate-expired"
    } else if w.contains("unknownissuer") || w.contains("unknown issuer") {
        "certificate-not-trusted"
    } else {
        "validation-failure"
    }
}

/// What an enforced MTA-STS policy would have said of a session that went ahead under a
/// testing one: its certificate verdict (`None`: no TLS) and whether the MX is listed.
fn testing_result(verdict: Option<&tls::CertVerdict>, listed: bool) -> &'static str {
    match verdict {
        None => "starttls-not-supported",
        Some(tls::CertVerdict::Invalid(why)) => failure_type(why),
        Some(tls::CertVerdict::NotChecked) => "validation-failure",
        Some(tls::CertVerdict::Valid) if !listed => "validation-failure",
        Some(tls::CertVerdict::Valid) => "success",
    }
}

/// Whether the header section has `TLS-Required: No` (RFC 8689 §5), folded or not.
fn tls_required_no(message: &[u8]) -> bool {
    palisade_checks::forged::header_fields(message)
        .into_iter()
        .any(|r| {
            String::from_utf8_lossy(&message[r])
                .split_once(':')
                .is_some_and(|(name, value)| {
                    name.trim().eq_ignore_ascii_case("TLS-Required")
                        && value.trim().eq_ignore_ascii_case("no")
                })
        })
}

/// Semaphores by destination domain, created on first use.
pub struct PerDomainLimit {
    limit: usize,
    slots: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

impl PerDomainLimit {
    pub fn new(limit: usize) -> PerDomainLimit {
        PerDomainLimit {
            limit: limit.max(1),
            slots: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    async fn acquire(&self, domain: &str) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let sem = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            // Idle domains are forgotten so the map stays small.
            if slots.len() > 10_000 {
                slots.retain(|_, s| s.available_permits() < self.limit);
            }
            slots
                .entry(domain.to_ascii_lowercase())
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.limit)))
                .clone()
        };
        sem.acquire_owned().await.ok()
    }

    /// Free slots for `domain` now.
    pub fn available(&self, domain: &str) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&domain.to_ascii_lowercase())
            .map_or(self.limit, |s| s.available_permits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8460_4_3_failure_types_from_rustls_errors() {
        assert_eq!(
            failure_type(
                "invalid peer certificate: certificate not valid for name \"a\"; certificate names \"b\""
            ),
            "certificate-host-mismatch"
        );
        assert_eq!(
            failure_type("certificate not valid for mx: Invalid(\"NotValidForName\")"),
            "certificate-host-mismatch"
        );
        assert_eq!(
            failure_type("invalid peer certificate: UnknownIssuer"),
            "certificate-not-trusted"
        );
        assert_eq!(
            failure_type(
                "invalid peer certificate: certificate expired: verification time 2, but certificate is not valid after 1"
            ),
            "certificate-expired"
        );
        assert_eq!(
            failure_type("STARTTLS not offered, but TLS is required"),
            "starttls-not-supported"
        );
        assert_eq!(
            failure_type("DANE: the certificate matches no TLSA record"),
            "tlsa-invalid"
        );
        assert_eq!(failure_type("something else"), "validation-failure");
    }

    #[test]
    fn rfc8689_5_tls_required_no_is_found_in_the_header_only() {
        assert!(tls_required_no(
            b"From: a@b\r\nTLS-Required: No\r\n\r\nbody"
        ));
        assert!(tls_required_no(b"tls-required:\r\n  no\r\nX: y\r\n\r\n"));
        assert!(!tls_required_no(b"TLS-Required: Yes\r\n\r\n"));
        assert!(!tls_required_no(b"From: a@b\r\n\r\nTLS-Required: No\r\n"));
        assert!(!tls_required_no(b"X-TLS-Required: No\r\n\r\n"));
    }

    #[tokio::test]
    async fn per_domain_limits_are_independent() {
        let limit = PerDomainLimit::new(2);
        let a1 = limit.acquire("a.test").await;
        let a2 = limit.acquire("A.test").await;
        assert!(a1.is_some() && a2.is_some());
        assert_eq!(
            limit.available("a.test"),
            0,
            "a third delivery to a.test waits"
        );
        assert_eq!(
            limit.available("b.test"),
            2,
            "other domains are not held up"
        );
        drop(a1);
        assert_eq!(limit.available("a.test"), 1);
    }
}

/// What TLS a connection needs, strongest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsRequirement {
    /// Validated TLSA records (RFC 7672): TLS, and the certificate must match.
    Dane(Vec<dane::Tlsa>),
    /// TLS with a WebPKI-valid certificate for the MX host.
    Verify,
    /// TLS, any certificate.
    Encrypt,
    /// TLS when offered (RFC 7435).
    Opportunistic,
    /// No STARTTLS at all.
    Plaintext,
}

impl RemoteDelivery {
    /// Delivers to recipients of one domain; one outcome per recipient, in order.
    pub async fn deliver_domain(
        &self,
        msg: &SpooledMessage,
        message: &[u8],
        domain: &str,
        rcpts: &[Address],
    ) -> Vec<Outcome> {
        if let Some(relay) = &self.smarthost {
            return self.via_smarthost(relay, msg, message, rcpts).await;
        }
        let all = |o: Outcome| vec![o; rcpts.len()];
        let _slot = self.per_domain.acquire(domain).await;
        let dns = (self.dns)();
        // RFC 8689 §5: `TLS-Required: No` sets the recipient's published TLS policies
        // (DANE, MTA-STS) aside; TLS is still used when offered, REQUIRETLS on the
        // envelope wins over it, and the operator's own per-domain policy still holds
        // (a sender's header must not weaken what the operator configured).
        let policy_waived = !msg.envelope.require_tls && tls_required_no(message);
        let policy = self
            .tls_policy
            .get(&domain.to_ascii_lowercase())
            .copied()
            .unwrap_or(DomainTlsPolicy::May);
        let (mut hosts, mx_validated) = match mx::route_validated(&dns, domain).await {
            Ok(h) => h,
            Err(e) => {
                tracing::info!(domain, error = %e, "no route");
                return all(e.outcome());
            }
        };
        // RFC 8461 §4: an enforced MTA-STS policy names the MX hosts that may be used and
        // requires a valid certificate from each; a testing one (§5) changes nothing but
        // what TLS-RPT hears.
        let sts = if policy == DomainTlsPolicy::None || policy_waived {
            None
        } else {
            self.mta_sts
                .policy(&dns, domain)
                .await
                .filter(|p| p.mode != mta_sts::Mode::None)
        };
        let sts_enforced = sts
            .as_ref()
            .is_some_and(|p| p.mode == mta_sts::Mode::Enforce);
        let listed = |host: &str| {
            sts.as_ref()
                .is_some_and(|p| p.mx.iter().any(|pat| mta_sts::mx_matches(pat, host)))
        };
        if sts_enforced {
            hosts.retain(|h| listed(h));
            if hosts.is_empty() {
                return all(Outcome::Transient(format!(
                    "451 4.7.5 no MX host of {domain} matches its MTA-STS policy"
                )));
            }
        }
        let mail_from = msg.envelope.reverse_path();
        let mut last_error = String::from("no mail server answered");
        let mut tls_refused = false;
        for host in hosts {
            let required = if policy_waived && policy == DomainTlsPolicy::May {
                Ok(TlsRequirement::Opportunistic)
            } else {
                self.requirement(&dns, policy, (&host, self.port), mx_validated)
                    .await
            };
            let tls = match required {
                // RFC 8689 §4.2.1 (REQUIRETLS) and RFC 8461 §4.2 (MTA-STS enforce): a
                // certificate validated by DANE or by PKIX for the MX name.
                Ok(
                    TlsRequirement::Opportunistic
                    | TlsRequirement::Encrypt
                    | TlsRequirement::Plaintext,
                ) if msg.envelope.require_tls || sts_enforced => TlsRequirement::Verify,
                Ok(t) => t,
                Err(e) => {
                    last_error = format!("{host}: {e}");
                    continue;
                }
            };
            let addrs = match mx::addresses(&dns, &host).await {
                Ok(a) if !a.is_empty() => a,
                Ok(_) => {
                    last_error = format!("{host}: no address");
                    continue;
                }
                Err(e) => {
                    last_error = format!("{host}: {e}");
                    continue;
                }
            };
            for ip in addrs {
                let addr = SocketAddr::new(ip, self.port);
                let job = client::Job {
                    addr,
                    mx_host: &host,
                    helo: &self.hostname,
                    mail_from: &mail_from,
                    rcpts,
                    message,
                    eight_bit: msg.envelope.body == palisade_types::BodyType::EightBitMime,
                    smtputf8: msg.envelope.smtputf8,
                    connect_timeout: self.connect_timeout,
                    command_timeout: self.command_timeout,
                    tls: &self.tls,
                    requirement: &tls,
                    require_tls: msg.envelope.require_tls,
                    implicit_tls: false,
                    auth: None,
                };
                let policy_type = match (&tls, &sts) {
                    (TlsRequirement::Dane(_), _) => "tlsa",
                    (_, Some(_)) => "sts",
                    _ => "no-policy-found",
                };
                let observe = |result: &'static str| {
                    // RFC 8460 §5.3: a session that carried a report despite the
                    // policy is not itself reported.
                    if let Some(o) = &self.tls_observer
                        && tls != TlsRequirement::Plaintext
                        && !policy_waived
                    {
                        o(TlsOutcome {
                            domain: domain.to_ascii_lowercase(),
                            policy_type,
                            mx: host.clone(),
                            result,
                        });
                    }
                };
                let (result, opened) = self.attempt(&job).await;
                match result {
                    client::HostResult::Done(outcomes) => {
                        // RFC 8460 counts sessions: a reused one was counted when opened.
                        // Under a testing policy the message went anyway; what enforce
                        // would have refused is reported (RFC 8461 §5).
                        if let Some(verdict) = opened {
                            observe(if policy_type == "sts" && !sts_enforced {
                                testing_result(verdict.as_ref(), listed(&host))
                            } else {
                                "success"
                            });
                        }
                        return outcomes;
                    }
                    client::HostResult::TryNext(why) => {
                        tracing::info!(host = %host, %addr, reason = %why, "trying the next host");
                        last_error = format!("{host} [{ip}]: {why}");
                        tls_refused = false;
                    }
                    client::HostResult::TlsRefused(why) => {
                        observe(failure_type(&why));
                        tracing::info!(host = %host, %addr, reason = %why, "TLS requirement not met");
                        last_error = format!("{host} [{ip}]: {why}");
                        tls_refused = true;
                    }
                }
            }
        }
        if msg.envelope.require_tls && tls_refused {
            // RFC 8689 §4.2.1: a REQUIRETLS message that no hop can take securely is
            // returned (5.7.30), not retried in the hope of a weaker path.
            return all(Outcome::Permanent(format!(
                "550 5.7.30 REQUIRETLS support required: {last_error}"
            )));
        }
        all(Outcome::Transient(last_error))
    }

    /// Through the smarthost: TLS always, its certificate verified (DANE where its name
    /// has TLSA records), whatever the recipient domain publishes; it is the relay's
    /// job to honour those on its hop.
    async fn via_smarthost(
        &self,
        relay: &Smarthost,
        msg: &SpooledMessage,
        message: &[u8],
        rcpts: &[Address],
    ) -> Vec<Outcome> {
        let _slot = self.per_domain.acquire(&relay.host).await;
        let hop = crate::route::Hop {
            host: &relay.host,
            port: relay.port,
            policy: DomainTlsPolicy::Verify,
            implicit_tls: relay.implicit_tls,
            auth: relay.login.as_ref(),
        };
        let mail_from = msg.envelope.reverse_path();
        crate::route::smtp(self, &hop, msg, &mail_from, message, rcpts).await
    }

    /// One transaction to one address: on an idle session to the same server when
    /// there is one, else on a new one; also whether a new session was opened. A reused
    /// session that fails before DATA (the server closed it meanwhile) is replaced by a
    /// new one, so nothing is sent twice.
    pub(crate) async fn attempt(
        &self,
        job: &client::Job<'_>,
    ) -> (client::HostResult, Option<Option<tls::CertVerdict>>) {
        let key = pool::Key::of(job);
        if let Some(mut session) = self.sessions.take(&key) {
            match session.send(job).await {
                client::HostResult::TryNext(why) => {
                    tracing::debug!(host = job.mx_host, reason = %why, "reused session failed; reconnecting");
                }
                other => {
                    metrics::counter!("palisade_outbound_sessions_reused_total").increment(1);
                    self.sessions.put(key, session);
                    return (other, None);
                }
            }
        }
        match client::open(job).await {
            Ok(mut session) => {
                let result = session.send(job).await;
                let verdict = session.verdict.clone();
                self.sessions.put(key, session);
                (result, Some(verdict))
            }
            Err(e) => (e, None),
        }
    }

    /// The TLS a host needs: DANE wherever validated TLSA records exist (RFC 7672),
    /// else the domain's manual policy.
    pub(crate) async fn requirement(
        &self,
        dns: &Dns,
        policy: DomainTlsPolicy,
        (host, port): (&str, u16),
        mx_validated: bool,
    ) -> Result<TlsRequirement, String> {
        if policy == DomainTlsPolicy::None {
            return Ok(TlsRequirement::Plaintext);
        }
        match dane::lookup(dns, host, port, mx_validated).await? {
            dane::DaneState::Required(records) => Ok(TlsRequirement::Dane(records)),
            dane::DaneState::NotApplicable => Ok(match policy {
                DomainTlsPolicy::Dane => {
                    return Err(
                        "DANE required by policy, but no DNSSEC-validated TLSA records".into(),
                    );
                }
                DomainTlsPolicy::Verify => TlsRequirement::Verify,
                DomainTlsPolicy::Encrypt => TlsRequirement::Encrypt,
                DomainTlsPolicy::May | DomainTlsPolicy::None => TlsRequirement::Opportunistic,
            }),
        }
    }
}
