//! Sender authentication in a session: SPF starts at MAIL (in the background, so a
//! pipelined transaction does not stall on DNS), DKIM/ARC/DMARC run at the end of the
//! message on the blocking pool (RSA and Ed25519 verification is CPU work that must not
//! hold an I/O thread), and the verdict decides what the end of data replies.

use crate::Shared;
use palisade_checks::dmarc_report::{Applied, OverrideReason};
use palisade_checks::verdict::{Fault, Reason, Step};
use palisade_checks::{AuthPolicy, AuthReport, AuthResult, Context, SpfCheck, Verdict};
use palisade_config::Config;
use palisade_queue::Edit;
use palisade_types::Address;
use palisade_types::reply;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// What the end of a message needs from the checks.
pub struct Checked {
    pub verdict: Verdict,
    /// Header fields to add and forged ones to remove.
    pub edit: Edit,
    /// The message as received, when it was read for the checks.
    pub message: Option<Arc<Vec<u8>>>,
    /// The author domain authenticated (DMARC pass), or the client is trusted.
    pub authenticated: bool,
    /// The evaluation for the aggregate report, recorded only once the message is
    /// committed (a deferred or failed commit comes back and would count twice).
    pub dmarc_row: Option<palisade_checks::dmarc_report::DmarcRow>,
    /// What the phishing engine weighs signals by.
    pub auth: palisade_phish::Auth,
}

impl Checked {
    /// A local failure: the client tries again later; nothing was decided.
    /// `451 4.3.0`: a content scanner could not be asked and its fallback is to wait.
    pub fn scanner_deferred(why: String) -> Checked {
        tracing::warn!("{why}; message deferred");
        Checked::deferred_for(
            reply::Reply::new(
                451,
                (4, 3, 0),
                "Content scanner unavailable, try again later",
            ),
            Reason::ScannerUnavailable { why },
        )
    }

    /// A fault on our side: `451 4.3.0`, nothing decided.
    pub fn deferred(fault: Fault) -> Checked {
        tracing::error!("{fault}; message deferred");
        Checked::deferred_for(reply::LOCAL_ERROR, Reason::Local { fault })
    }

    /// A deferral with its own reply and reason.
    pub fn deferred_for(reply: reply::Reply, reason: Reason) -> Checked {
        Checked {
            verdict: Verdict::Defer { reply, reason },
            edit: Edit::default(),
            message: None,
            authenticated: false,
            dmarc_row: None,
            auth: palisade_phish::Auth::None,
        }
    }

    /// No checks ran (trusted client): commit as received.
    pub fn trusted() -> Checked {
        Checked {
            verdict: Verdict::Accept { note: None },
            edit: Edit::default(),
            message: None,
            authenticated: true,
            dmarc_row: None,
            auth: palisade_phish::Auth::Local,
        }
    }
}

/// Longest the SPF evaluation may take before the message is deferred.
pub const SPF_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);
/// Longest the end-of-data checks may take (a message can carry many signatures whose
/// key lookups time out one after another).
pub const CHECK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);
/// Signatures verified per message (RFC 6376 §8.4 lets verifiers limit them).
const MAX_SIGNATURES: usize = 10;

/// A spawned task that is aborted when its handle is dropped (a session that ends or
/// moves on must not leave SPF lookups running).
pub struct AbortOnDrop<T>(pub JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Whether sender checks apply to this client at all.
pub fn applies(cfg: &Config, client: IpAddr) -> bool {
    cfg.policy.sender_checks && !cfg.policy.is_trusted(client)
}

/// Starts the SPF check for a transaction (RFC 7208 §2.4: HELO identity for `<>`).
pub fn start_spf(
    shared: &Arc<Shared>,
    cfg: &Config,
    ip: IpAddr,
    helo: &str,
    mail_from: Option<&Address>,
) -> AbortOnDrop<SpfCheck> {
    let dns = shared.dns();
    let helo = helo.to_string();
    let from = mail_from.map(|a| a.to_string());
    let hostname = cfg.hostname.to_string();
    AbortOnDrop(tokio::spawn(async move {
        palisade_checks::check_spf(&dns, ip, &helo, from.as_deref(), &hostname).await
    }))
}

/// The sender check at MAIL FROM for a client sender checks apply to. One of our own
/// domains (or a subdomain, or our host name) is a claim only our users (through
/// submission), trusted networks and the hosts our SPF authorises may make: its SPF is
/// evaluated now and anything but `pass` is refused here, whatever `spf_fail` says
/// (`451` for a DNS failure). Any other sender's SPF runs in the background.
pub async fn check_sender(
    shared: &Arc<Shared>,
    cfg: &Config,
    ip: IpAddr,
    helo: &str,
    mail_from: Option<&Address>,
) -> Result<AbortOnDrop<SpfCheck>, reply::Reply> {
    let Some(from) = mail_from else {
        return Ok(start_spf(shared, cfg, ip, helo, mail_from));
    };
    if !domain_is_ours(shared, cfg, from.domain().as_str()).await {
        return Ok(start_spf(shared, cfg, ip, helo, mail_from));
    }
    let dns = shared.dns();
    let hostname = cfg.hostname.to_string();
    let from_text = from.to_string();
    let check = palisade_checks::check_spf(&dns, ip, helo, Some(&from_text), &hostname);
    match tokio::time::timeout(SPF_DEADLINE, check).await {
        Ok(spf) if spf.auth_result() == AuthResult::Pass => {
            Ok(AbortOnDrop(tokio::spawn(std::future::ready(spf))))
        }
        Ok(spf) if spf.auth_result() == AuthResult::TempError => Err(reply::SPF_TEMPFAIL),
        Err(_) => Err(reply::SPF_TEMPFAIL),
        Ok(spf) => {
            tracing::info!(from = %from, spf = %spf.auth_result(), "MAIL refused: our domain, not authorised");
            Err(reply::SPOOFED_LOCAL_SENDER)
        }
    }
}

/// Whether `domain` is ours: one of our local domains or a subdomain of one (up to its
/// organisational domain, RFC 7489 §3.2), our host name, or a name under it.
pub async fn domain_is_ours(shared: &Shared, cfg: &Config, domain: &str) -> bool {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    let host = cfg.hostname.as_str();
    if d == host || d.ends_with(&format!(".{host}")) {
        return true;
    }
    let org = palisade_checks::dmarc_report::organizational_domain(&d);
    let mut name = d.as_str();
    loop {
        if let Ok(domain) = palisade_types::Domain::parse(name)
            && let Ok(true) = shared
                .lookups
                .is_local_domain(shared.store.as_ref(), &domain)
                .await
        {
            return true;
        }
        match name.split_once('.') {
            Some((_, parent)) if name != org && parent.len() >= org.len() => name = parent,
            _ => return false,
        }
    }
}

/// The `[policy]` section as the verdict reads it.
pub fn policy(cfg: &Config) -> AuthPolicy {
    AuthPolicy {
        dmarc_enforce: cfg.policy.dmarc_enforce,
        spf_fail_reject: cfg.policy.spf_fail_reject,
        trusted_arc_sealers: cfg
            .policy
            .trusted_arc_sealers
            .iter()
            .map(|d| d.to_string())
            .collect(),
        reject_spoofed_local: cfg.policy.reject_spoofed_local,
    }
}

/// Runs the message checks and decides. `message` is what the client sent; `parsed`,
/// a whole parse of it the other checks share, when there is one.
pub async fn check_message<'x>(
    shared: &Arc<Shared>,
    cfg: &Config,
    spf: &SpfCheck,
    message: &'x [u8],
    parsed: Option<&mail_parser::Message<'x>>,
) -> Checked {
    let hostname = cfg.hostname.to_string();
    let dns = shared.dns();
    // Past the first signatures, a copy without the rest is verified (parsed anew).
    let limited = limit_signatures(message, MAX_SIGNATURES);
    let authenticate = match &limited {
        Some(m) => palisade_checks::authenticate_parsed(&dns, m, None, spf, &hostname),
        None => palisade_checks::authenticate_parsed(&dns, message, parsed, spf, &hostname),
    };
    let Ok(report) = tokio::time::timeout(CHECK_DEADLINE, authenticate).await else {
        tracing::warn!("sender checks timed out; message deferred");
        return Checked::deferred_for(
            reply::AUTH_TEMPFAIL.with_text("Sender checks took too long; try again later"),
            Reason::TimedOut {
                step: Step::SenderChecks,
            },
        );
    };
    let from_is_local = author_is_local(shared, cfg, &report).await;
    let sampled = if report.dmarc.result == AuthResult::Fail && report.dmarc.policy.enforces() {
        let pct = palisade_checks::dmarc_pct(&shared.dns(), &report.dmarc.domain).await;
        pct >= 100 || rand::random_range(0..100u8) < pct
    } else {
        true
    };
    let ctx = Context {
        client_authenticated: false,
        from_is_local,
        sampled,
    };
    let policy = policy(cfg);
    let verdict = palisade_checks::decide(&report, &ctx, &policy);
    record(&report, &verdict);
    let dmarc_row = match (
        report.dmarc_row.clone(),
        applied(&report, &verdict, &ctx, &policy),
    ) {
        (Some(mut row), Some(applied)) => {
            row.applied(applied);
            Some(row)
        }
        _ => None,
    };
    let mut prepend = format!(
        "Authentication-Results: {}\r\n",
        report.authentication_results
    );
    if let Verdict::Quarantine { reason } = &verdict {
        prepend.push_str(&format!(
            "X-Palisade-Quarantine: {}\r\n",
            header_safe(&reason.to_string(), 900)
        ));
    }
    Checked {
        verdict,
        edit: Edit {
            prepend: prepend.into_bytes(),
            remove: palisade_checks::forged::forged_auth_results(message, &hostname),
            replace: None,
        },
        authenticated: report.dmarc.result == AuthResult::Pass,
        message: None,
        dmarc_row,
        auth: crate::phishing::auth_of(&report, &policy),
    }
}

/// The message with DKIM-Signature fields past the first `max` removed, for verification
/// only (what is stored is the message as received); `None` when there are not that many.
fn limit_signatures(message: &[u8], max: usize) -> Option<Vec<u8>> {
    let fields = palisade_checks::forged::header_fields(message);
    let sigs: Vec<_> = fields
        .iter()
        .filter(|r| {
            message[r.start..r.end]
                .get(..15)
                .is_some_and(|n| n.eq_ignore_ascii_case(b"dkim-signature:"))
        })
        .skip(max)
        .cloned()
        .collect();
    if sigs.is_empty() {
        return None;
    }
    tracing::info!(
        dropped = sigs.len(),
        "verifying only the first {max} DKIM signatures"
    );
    let mut out = Vec::with_capacity(message.len());
    let mut pos = 0;
    for r in sigs {
        out.extend_from_slice(&message[pos..r.start]);
        pos = r.end;
    }
    out.extend_from_slice(&message[pos..]);
    Some(out)
}

/// What the DMARC report says we did; `None` for a deferral (the message comes again).
fn applied(
    report: &AuthReport,
    verdict: &Verdict,
    ctx: &Context,
    policy: &AuthPolicy,
) -> Option<Applied> {
    let failed = report.dmarc.result == AuthResult::Fail && report.dmarc.policy.enforces();
    Some(match verdict {
        Verdict::Defer { .. } => return None,
        Verdict::Reject { .. } => Applied::Rejected,
        Verdict::Quarantine { .. } => Applied::Quarantined,
        Verdict::Accept { .. } if !failed => Applied::Delivered,
        Verdict::Accept { .. } => Applied::Overridden(
            if palisade_checks::verdict::arc_vouches(report, policy).is_some() {
                OverrideReason::TrustedForwarder
            } else if !ctx.sampled {
                OverrideReason::SampledOut
            } else {
                OverrideReason::LocalPolicy
            },
        ),
    })
}

/// With sender checks off: no verdict, but forged `Authentication-Results` still go.
pub fn strip_only(cfg: &Config, message: &[u8]) -> Checked {
    Checked {
        verdict: Verdict::Accept { note: None },
        edit: Edit {
            prepend: Vec::new(),
            remove: palisade_checks::forged::forged_auth_results(message, cfg.hostname.as_str()),
            replace: None,
        },
        message: None,
        // Checks are off: nothing vouches for the author (reports are not accepted).
        authenticated: false,
        dmarc_row: None,
        // Nothing was checked: neither for nor against the sender.
        auth: palisade_phish::Auth::Unaligned,
    }
}

async fn author_is_local(shared: &Shared, cfg: &Config, report: &AuthReport) -> bool {
    let mut domains: Vec<String> = report
        .header_from
        .iter()
        .filter_map(|a| a.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()))
        .collect();
    if !report.dmarc.domain.is_empty() {
        domains.push(report.dmarc.domain.to_ascii_lowercase());
    }
    domains.sort();
    domains.dedup();
    // A message with many author domains is refused by decide(); a few lookups suffice.
    for d in domains.iter().take(8) {
        // A subdomain of ours, our host name included, is us too.
        if domain_is_ours(shared, cfg, d).await {
            return true;
        }
    }
    false
}

/// One line per message with every result, and counters per check and result.
fn record(report: &AuthReport, verdict: &Verdict) {
    let dkim: Vec<String> = report
        .dkim
        .iter()
        .map(|d| format!("{}:{}={}", d.d, d.s, d.result))
        .collect();
    tracing::info!(
        spf = report.spf.result.as_str(),
        dkim = %dkim.join(","),
        arc = report.arc.result.as_str(),
        dmarc = report.dmarc.result.as_str(),
        from_domain = %report.dmarc.domain,
        verdict = verdict.name(),
        detail = ?verdict,
        "sender authentication"
    );
    metrics::counter!("palisade_sender_auth_total", "check" => "spf", "result" => report.spf.result.as_str())
        .increment(1);
    metrics::counter!("palisade_sender_auth_total", "check" => "dmarc", "result" => report.dmarc.result.as_str())
        .increment(1);
    metrics::counter!("palisade_sender_verdicts_total", "verdict" => verdict.name()).increment(1);
}

/// A header field value on one line, printable ASCII only, at most `max` octets.
pub(crate) fn header_safe(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(max)
        .collect()
}
