//! Why a verdict was reached, as a type: the reply, the metric label, the log, the
//! `X-Palisade-Quarantine` field and `audit message` all read the same value, and a
//! misspelt reason does not compile. `Display` gives it in plain words.

use crate::results::{AuthResult, DmarcPolicy};
use serde::Serialize;
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// RFC 7489 §6.6.1: From names more than one author domain.
    SeveralAuthors { domains: Vec<String> },
    /// DMARC could not be evaluated (a DNS failure): the client tries again.
    DmarcTempError { domain: String, why: String },
    /// One of our own domains in From, not authenticated as ours.
    SpoofedLocal { domain: String, why: String },
    /// The author domain's DMARC policy as applied after `pct` sampling (RFC 7489
    /// §6.6.4); `enforced` false: only noted, by local policy.
    Dmarc {
        applied: DmarcPolicy,
        domain: String,
        why: String,
        enforced: bool,
    },
    /// A DMARC failure overridden: a trusted ARC sealer saw `dmarc=pass` (RFC 8617 §7.2).
    ArcVouches { sealer: String },
    /// SPF fail with no DMARC policy, refused by configuration.
    SpfFail { domain: String },
    /// SPF temperror with no DMARC policy, deferred by configuration.
    SpfTempError { domain: String },
    /// SPF fail or softfail with no policy to apply: tagged only.
    SpfTagged { result: AuthResult, domain: String },
    /// A step that did not end in time.
    TimedOut { step: Step },
    /// The content engine's score over a threshold, with the signals that fired.
    Content {
        category: ContentCategory,
        score: f64,
        signals: Vec<String>,
    },
    /// The same, for mail one of our users submitted.
    SubmittedContent {
        category: ContentCategory,
        score: f64,
        signals: Vec<String>,
    },
    /// Submitted mail without a From field (RFC 5322 §3.6).
    NoFrom,
    /// Submitted mail with a From or Sender field that holds no address.
    SenderWithoutAddress,
    /// A submitted message's From or Sender the user does not own.
    NotOwned { address: String, user: String },
    /// The user's S/MIME signing certificate has expired.
    SigningCertificateExpired { user: String },
    /// An external content scanner could not be asked.
    ScannerUnavailable { why: String },
    /// A fault on our side: nothing was decided about the message.
    Local { fault: Fault },
}

/// The steps [`Reason::TimedOut`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "step", content = "after", rename_all = "snake_case")]
pub enum Step {
    Spf,
    SenderChecks,
    /// All of the end-of-data checks, after this long.
    Checks(Duration),
}

/// What the content engine scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentCategory {
    Phishing,
    Spam,
}

/// A fault on our side at the end of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    SpoolUnreadable,
    SpfTaskFailed,
    ChecksFailed,
    IdentityNotAnAddress,
    Store,
    DkimSigning,
    SmimeSigning,
    SigningKeyUnusable,
    /// The message could not be made durable.
    Commit,
}

impl Reason {
    /// The `reason` label of `palisade_messages_rejected_total` for a refusal or a
    /// deferral with this reason.
    pub fn label(&self, deferred: bool) -> &'static str {
        match self {
            Reason::Local { .. } => "local_error",
            Reason::Content {
                category: ContentCategory::Phishing,
                ..
            } => "phishing",
            Reason::Content {
                category: ContentCategory::Spam,
                ..
            } => "spam",
            Reason::SubmittedContent { .. } => "outbound_content",
            Reason::NoFrom
            | Reason::SenderWithoutAddress
            | Reason::NotOwned { .. }
            | Reason::SigningCertificateExpired { .. } => "submission",
            Reason::ScannerUnavailable { .. } => "scanner_unavailable",
            _ if deferred => "sender_authentication_deferred",
            _ => "sender_authentication",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::SeveralAuthors { domains } => {
                write!(f, "several author domains in From: {}", domains.join(", "))
            }
            Reason::DmarcTempError { domain, why } => write!(f, "DMARC for {domain}: {why}"),
            Reason::SpoofedLocal { domain, why } => write!(
                f,
                "From domain {domain} is local but fails DMARC alignment ({why})"
            ),
            Reason::Dmarc {
                applied,
                domain,
                why,
                enforced,
            } => {
                write!(f, "DMARC policy {applied} of {domain}: {why}")?;
                if !enforced {
                    f.write_str(" (not enforced by local policy)")?;
                }
                Ok(())
            }
            Reason::ArcVouches { sealer } => write!(
                f,
                "DMARC failure overridden: trusted ARC sealer {sealer} saw dmarc=pass (RFC 8617 §7.2)"
            ),
            Reason::SpfFail { domain } => write!(f, "SPF fail for {domain} and no DMARC policy"),
            Reason::SpfTempError { domain } => write!(f, "SPF temperror for {domain}"),
            Reason::SpfTagged { result, domain } => {
                write!(f, "SPF {result} for {domain} (tagged only)")
            }
            Reason::TimedOut { step } => step.fmt(f),
            Reason::Content {
                category,
                score,
                signals,
            } => write!(f, "{category} score {score:.1}: {}", signals.join("; ")),
            Reason::SubmittedContent {
                category,
                score,
                signals,
            } => write!(
                f,
                "submitted mail scored {score:.1} as {category}: {}",
                signals.join("; ")
            ),
            Reason::NoFrom => f.write_str("no From field"),
            Reason::SenderWithoutAddress => {
                f.write_str("a From or Sender field without an address")
            }
            Reason::NotOwned { address, user } => write!(f, "{address} is not owned by {user}"),
            Reason::SigningCertificateExpired { user } => {
                write!(f, "signing certificate of {user} expired")
            }
            Reason::ScannerUnavailable { why } => f.write_str(why),
            Reason::Local { fault } => fault.fmt(f),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Spf => f.write_str("SPF evaluation took too long"),
            Step::SenderChecks => f.write_str("sender checks timed out"),
            Step::Checks(after) => write!(f, "no verdict within {after:?}"),
        }
    }
}

impl fmt::Display for ContentCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContentCategory::Phishing => "phishing",
            ContentCategory::Spam => "spam",
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::SpoolUnreadable => "cannot read the spooled message",
            Fault::SpfTaskFailed => "SPF check task failed",
            Fault::ChecksFailed => "message checks failed",
            Fault::IdentityNotAnAddress => "authenticated identity is not an address",
            Fault::Store => "store error",
            Fault::DkimSigning => "DKIM signing failed",
            Fault::SmimeSigning => "S/MIME signing failed",
            Fault::SigningKeyUnusable => "stored signing identity unusable",
            Fault::Commit => "commit failed; message not accepted",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_in_plain_words_and_serialise_by_kind() {
        let r = Reason::Dmarc {
            applied: DmarcPolicy::Quarantine,
            domain: "example.com".into(),
            why: "SPF: fail".into(),
            enforced: false,
        };
        assert_eq!(
            r.to_string(),
            "DMARC policy quarantine of example.com: SPF: fail (not enforced by local policy)"
        );
        let json = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(json["kind"], "dmarc");
        assert_eq!(json["applied"], "quarantine");
        let c = Reason::Content {
            category: ContentCategory::Spam,
            score: 7.26,
            signals: vec!["a".into(), "b".into()],
        };
        assert_eq!(c.to_string(), "spam score 7.3: a; b");
        assert_eq!(c.label(false), "spam");
        let t = Reason::TimedOut {
            step: Step::Checks(Duration::from_secs(2)),
        };
        assert_eq!(t.to_string(), "no verdict within 2s");
        assert_eq!(t.label(true), "sender_authentication_deferred");
        assert_eq!(
            Reason::Local {
                fault: Fault::SpoolUnreadable
            }
            .label(true),
            "local_error"
        );
    }
}
