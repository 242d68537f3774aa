//! Sender authentication in a session: SPF starts at MAIL (in the background, so a
//! pipelined transaction does not stall on DNS), DKIM/ARC/DMARC run at the end of the
//! message on the blocking pool (RSA and Ed25519 verification is CPU work that must not
//! hold an I/O thread), and the verdict decides what the end of data replies.

use crate::Shared;
use palisade_checks::dmarc_report::{Applied, OverrideReason};
use palisade_checks::{AuthPolicy, AuthReport, Context, SpfCheck, Verdict};
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
    /// The author domain authenticated (DMARC pass), or checks did not apply.
    pub authenticated: bool,
}

impl Checked {
    /// A local failure: the client tries again later; nothing was decided.
    pub fn deferred(why: &str) -> Checked {
        tracing::error!("{why}; message deferred");
        Checked {
            verdict: Verdict::Defer {
                reply: reply::LOCAL_ERROR,
                reason: why.to_string(),
            },
            edit: Edit::default(),
            message: None,
            authenticated: false,
        }
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
) -> JoinHandle<SpfCheck> {
    let dns = shared.dns();
    let helo = helo.to_string();
    let from = mail_from.map(|a| a.to_string());
    let hostname = cfg.hostname.to_string();
    tokio::spawn(async move {
        palisade_checks::check_spf(&dns, ip, &helo, from.as_deref(), &hostname).await
    })
}

fn policy(cfg: &Config) -> AuthPolicy {
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

/// Runs the message checks and decides. `message` is what the client sent.
pub async fn check_message(
    shared: &Arc<Shared>,
    cfg: &Config,
    spf: SpfCheck,
    message: Vec<u8>,
) -> Checked {
    let hostname = cfg.hostname.to_string();
    let report = {
        // Bounded: each check holds a message in memory.
        let _permit = shared.check_permits.acquire().await;
        let dns = shared.dns();
        let handle = tokio::runtime::Handle::current();
        let host = hostname.clone();
        let msg = Arc::new(message);
        let msg2 = msg.clone();
        let run = tokio::task::spawn_blocking(move || {
            handle.block_on(
                async move { palisade_checks::authenticate(&dns, &msg2, &spf, &host).await },
            )
        });
        match run.await {
            Ok(r) => (r, msg),
            Err(e) => {
                tracing::error!(error = %e, "sender checks task failed");
                return Checked::deferred("sender checks failed");
            }
        }
    };
    let (report, message) = report;
    let from_is_local = author_is_local(shared, &report).await;
    let sampled = if report.dmarc.result == "fail" && report.dmarc.policy != "none" {
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
    if let Some(mut row) = report.dmarc_row.clone()
        && let Some(applied) = applied(&report, &verdict, &ctx, &policy)
    {
        row.applied(applied);
        shared.dmarc_recorder.record(&row, now());
    }
    let mut prepend = format!(
        "Authentication-Results: {}\r\n",
        report.authentication_results
    );
    if let Verdict::Quarantine { reason } = &verdict {
        prepend.push_str(&format!(
            "X-Palisade-Quarantine: {}\r\n",
            header_safe(reason)
        ));
    }
    Checked {
        verdict,
        edit: Edit {
            prepend: prepend.into_bytes(),
            remove: palisade_checks::forged::forged_auth_results(&message, &hostname),
        },
        authenticated: report.dmarc.result == "pass",
        message: Some(message),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// What the DMARC report says we did; `None` for a deferral (the message comes again).
fn applied(
    report: &AuthReport,
    verdict: &Verdict,
    ctx: &Context,
    policy: &AuthPolicy,
) -> Option<Applied> {
    let failed = report.dmarc.result == "fail" && report.dmarc.policy != "none";
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
pub fn strip_only(cfg: &Config, writer: &mut palisade_queue::SpoolWriter) -> Checked {
    let message = match writer.read_message() {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = &e as &dyn std::error::Error, "reading spool file");
            return Checked::deferred("cannot read the spooled message");
        }
    };
    Checked {
        verdict: Verdict::Accept { note: None },
        edit: Edit {
            prepend: Vec::new(),
            remove: palisade_checks::forged::forged_auth_results(&message, cfg.hostname.as_str()),
        },
        message: Some(Arc::new(message)),
        authenticated: true,
    }
}

async fn author_is_local(shared: &Shared, report: &AuthReport) -> bool {
    let mut domains: Vec<&str> = report
        .header_from
        .iter()
        .filter_map(|a| a.rsplit_once('@').map(|(_, d)| d))
        .collect();
    if !report.dmarc.domain.is_empty() {
        domains.push(&report.dmarc.domain);
    }
    for d in domains {
        let Ok(domain) = palisade_types::Domain::parse(d) else {
            continue;
        };
        if let Ok(true) = shared
            .lookups
            .is_local_domain(shared.store.as_ref(), &domain)
            .await
        {
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
        spf = report.spf.result,
        dkim = %dkim.join(","),
        arc = report.arc.result,
        dmarc = report.dmarc.result,
        from_domain = %report.dmarc.domain,
        verdict = verdict.name(),
        detail = ?verdict,
        "sender authentication"
    );
    metrics::counter!("palisade_sender_auth_total", "check" => "spf", "result" => report.spf.result)
        .increment(1);
    metrics::counter!("palisade_sender_auth_total", "check" => "dmarc", "result" => report.dmarc.result)
        .increment(1);
    metrics::counter!("palisade_sender_verdicts_total", "verdict" => verdict.name()).increment(1);
}

/// A header field value on one line, printable ASCII only, at most 900 octets.
fn header_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(900)
        .collect()
}
