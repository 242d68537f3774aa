//! The decision over an [`AuthReport`]: one pure function, table-tested.

use crate::AuthReport;
use crate::results::{AuthResult, DmarcPolicy};
use palisade_types::reply::{self, Reply};

/// Operator policy (`[policy]` in the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPolicy {
    /// Apply the published DMARC policy (reject, quarantine). Off: tag only.
    pub dmarc_enforce: bool,
    /// Reject SPF `fail` when the domain publishes no DMARC policy (default: tag).
    pub spf_fail_reject: bool,
    /// ARC sealers (their `d=`) whose recorded `dmarc=pass` may override a DMARC failure
    /// (RFC 8617 §7.2: a local policy decision about trusted intermediaries).
    pub trusted_arc_sealers: Vec<String>,
    /// Reject unauthenticated mail whose From is one of our domains and fails alignment.
    pub reject_spoofed_local: bool,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        AuthPolicy {
            dmarc_enforce: true,
            spf_fail_reject: false,
            trusted_arc_sealers: Vec::new(),
            reject_spoofed_local: true,
        }
    }
}

/// Facts about the transaction that are not in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    /// The client authenticated (submission); sender checks are not how it is trusted.
    pub client_authenticated: bool,
    /// The From domain is one of our local domains.
    pub from_is_local: bool,
    /// This message fell inside the policy's `pct` sample (RFC 7489 §6.6.4).
    pub sampled: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Deliver. `note` explains an override or a failure that was only tagged.
    Accept {
        note: Option<Reason>,
    },
    Quarantine {
        reason: Reason,
    },
    Reject {
        reply: Reply,
        reason: Reason,
    },
    /// Temporary: the client should try again (never a permanent answer to a DNS fault).
    Defer {
        reply: Reply,
        reason: Reason,
    },
}

impl Verdict {
    fn accept() -> Verdict {
        Verdict::Accept { note: None }
    }

    fn note(r: Reason) -> Verdict {
        Verdict::Accept { note: Some(r) }
    }

    /// Why: the reason of a refusal, deferral or hold, or an acceptance's note.
    pub fn reason(&self) -> Option<&Reason> {
        match self {
            Verdict::Accept { note } => note.as_ref(),
            Verdict::Quarantine { reason }
            | Verdict::Reject { reason, .. }
            | Verdict::Defer { reason, .. } => Some(reason),
        }
    }

    /// A short word for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Accept { .. } => "accept",
            Verdict::Quarantine { .. } => "quarantine",
            Verdict::Reject { .. } => "reject",
            Verdict::Defer { .. } => "defer",
        }
    }
}

/// The override note when a trusted ARC sealer vouches for a DMARC pass (RFC 8617 §7.2).
pub fn arc_vouches(report: &AuthReport, policy: &AuthPolicy) -> Option<Reason> {
    let arc = &report.arc;
    let sealer = arc.sealer.as_deref()?;
    let trusted = policy
        .trusted_arc_sealers
        .iter()
        .any(|t| t.trim_end_matches('.').eq_ignore_ascii_case(sealer));
    (trusted && arc.result == AuthResult::Pass && arc.sealer_saw_dmarc_pass).then(|| {
        Reason::ArcVouches {
            sealer: sealer.to_string(),
        }
    })
}

/// The policy that applies after `pct` sampling (RFC 7489 §6.6.4: outside the sample,
/// the next less strict policy applies).
fn sampled_policy(policy: DmarcPolicy, sampled: bool) -> DmarcPolicy {
    match (policy, sampled) {
        (p, true) => p,
        (DmarcPolicy::Reject, false) => DmarcPolicy::Quarantine,
        _ => DmarcPolicy::None,
    }
}

/// The distinct domains of the From addresses, lower case.
fn author_domains(report: &AuthReport) -> Vec<String> {
    let mut d: Vec<String> = report
        .header_from
        .iter()
        .filter_map(|a| {
            a.rsplit_once('@')
                .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
        })
        .collect();
    d.sort();
    d.dedup();
    d
}

/// Without a DMARC record mail-auth computes no alignment; for our own domains we do:
/// a passing DKIM signature or SPF result whose domain shares the author's organisational
/// domain (RFC 7489 §3.1 relaxed alignment).
fn aligned_without_record(report: &AuthReport, author: &str) -> bool {
    let org = crate::dmarc_report::organizational_domain(author);
    let same = |d: &str| crate::dmarc_report::organizational_domain(d) == org;
    report
        .dkim
        .iter()
        .any(|s| s.result == AuthResult::Pass && same(&s.d))
        || (report.spf.result == AuthResult::Pass && same(&report.spf.domain))
}

/// Reply text carries the reason, kept well inside one reply line (RFC 5321 §4.5.3.1.5).
fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

/// Decides what happens to a message given its authentication report.
pub fn decide(report: &AuthReport, ctx: &Context, policy: &AuthPolicy) -> Verdict {
    if ctx.client_authenticated {
        return Verdict::accept();
    }
    let authors = author_domains(report);
    if authors.len() > 1 {
        // RFC 7489 §6.6.1: several author domains make DMARC ambiguous; mail-auth skips
        // such messages, so they would bypass every policy. Refuse them.
        return Verdict::Reject {
            reply: reply::DMARC_REJECT.with_text(
                "A message must have one author domain in From (RFC 7489 section 6.6.1)",
            ),
            reason: Reason::SeveralAuthors { domains: authors },
        };
    }
    let dmarc = &report.dmarc;
    if dmarc.result == AuthResult::Pass {
        return Verdict::accept();
    }
    let domain = &dmarc.domain;
    let why = short(if dmarc.reason.is_empty() {
        "not authenticated"
    } else {
        &dmarc.reason
    });
    if dmarc.result == AuthResult::TempError
        && (ctx.from_is_local || dmarc.policy.enforces() || !dmarc.record_found)
    {
        return Verdict::Defer {
            reply: reply::AUTH_TEMPFAIL,
            reason: Reason::DmarcTempError {
                domain: domain.clone(),
                why,
            },
        };
    }
    if ctx.from_is_local {
        if let Some(note) = arc_vouches(report, policy) {
            return Verdict::note(note);
        }
        if !dmarc.record_found
            && dmarc.result == AuthResult::None
            && authors
                .first()
                .is_some_and(|a| aligned_without_record(report, a))
        {
            return Verdict::accept();
        }
        if policy.reject_spoofed_local {
            return Verdict::Reject {
                reply: reply::SPOOFED_LOCAL_DOMAIN.with_text(format!(
                    "From domain {domain} is ours but the message is not authenticated as ours"
                )),
                reason: Reason::SpoofedLocal {
                    domain: domain.clone(),
                    why,
                },
            };
        }
    }
    if dmarc.result == AuthResult::Fail {
        if let Some(note) = arc_vouches(report, policy) {
            return Verdict::note(note);
        }
        let applied = sampled_policy(dmarc.policy, ctx.sampled);
        let reason = Reason::Dmarc {
            applied,
            domain: domain.clone(),
            why: why.clone(),
            enforced: policy.dmarc_enforce,
        };
        if !policy.dmarc_enforce {
            return Verdict::note(reason);
        }
        return match applied {
            DmarcPolicy::Reject => Verdict::Reject {
                reply: reply::DMARC_REJECT
                    .with_text(format!("Rejected by the DMARC policy of {domain}: {why}")),
                reason,
            },
            DmarcPolicy::Quarantine => Verdict::Quarantine { reason },
            DmarcPolicy::None => Verdict::note(reason),
        };
    }
    // No DMARC policy applies: SPF alone decides only when the operator asks for it.
    match report.spf.result {
        AuthResult::Fail if policy.spf_fail_reject => Verdict::Reject {
            reply: reply::SPF_REJECT.with_text(format!(
                "SPF validation failed for {}: the client is not a permitted sender",
                report.spf.domain
            )),
            reason: Reason::SpfFail {
                domain: report.spf.domain.clone(),
            },
        },
        AuthResult::TempError if policy.spf_fail_reject => Verdict::Defer {
            reply: reply::SPF_TEMPFAIL,
            reason: Reason::SpfTempError {
                domain: report.spf.domain.clone(),
            },
        },
        AuthResult::Fail | AuthResult::SoftFail => Verdict::note(Reason::SpfTagged {
            result: report.spf.result,
            domain: report.spf.domain.clone(),
        }),
        _ => Verdict::accept(),
    }
}

mod reason;
pub use reason::{ContentCategory, Fault, Reason, Step};

#[cfg(test)]
mod tests;
