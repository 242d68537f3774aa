//! DMARC (RFC 7489; the DMARCbis tags mail-auth reads): a record, a policy that makes
//! receivers act, on all of the mail (pct), for subdomains too, and reports that can
//! actually be sent (RFC 7489 §7.1: an outside report address must agree to receive).

use crate::finding::{Category, Finding, Status};
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::dmarc::{Alignment, Dmarc, Policy};
use palisade_checks::pct::{is_dmarc, pct_of};
use palisade_dns::Dns;

const CAT: Category = Category::Policy;

fn strength(p: &Policy) -> u8 {
    match p {
        Policy::None | Policy::Unspecified => 0,
        Policy::Quarantine => 1,
        Policy::Reject => 2,
    }
}

fn name(p: &Policy) -> &'static str {
    match p {
        Policy::None => "none",
        Policy::Quarantine => "quarantine",
        Policy::Reject => "reject",
        Policy::Unspecified => "unspecified",
    }
}

fn org(domain: &str) -> String {
    psl::domain_str(domain).unwrap_or(domain).to_string()
}

pub async fn check(dns: &Dns, domain: &str, out: &mut Vec<Finding>) {
    let mut at = domain.to_string();
    let mut records = lookup(dns, &at).await;
    if records.as_ref().is_ok_and(Vec::is_empty) && org(domain) != domain {
        // RFC 7489 §6.6.3: the organisational domain's record applies.
        at = org(domain);
        records = lookup(dns, &at).await;
        if records.as_ref().is_ok_and(|r| !r.is_empty()) {
            out.push(
                Finding::new("dmarc.inherited", CAT, Status::Info, 0)
                    .evidence(format!("no record at _dmarc.{domain}; _dmarc.{at} applies")),
            );
        }
    }
    let records = match records {
        Ok(r) => r,
        Err(e) => {
            out.push(
                Finding::new("dmarc.lookup", CAT, Status::Warn, 60)
                    .evidence(format!("TXT lookup failed: {e}"))
                    .advice("Make sure the domain's name servers answer TXT queries."),
            );
            return;
        }
    };
    let record = match records.as_slice() {
        [] => {
            out.push(
                Finding::new("dmarc.missing", CAT, Status::Fail, 60)
                    .evidence(format!("no v=DMARC1 TXT record at _dmarc.{domain}"))
                    .advice(format!(
                        "Publish \"v=DMARC1; p=reject; rua=mailto:dmarc@{domain}\" at _dmarc.{domain} \
                         (start with p=none while you check the reports)."
                    )),
            );
            return;
        }
        [one] => one.clone(),
        many => {
            out.push(
                Finding::new("dmarc.multiple", CAT, Status::Fail, 60)
                    .evidence(format!(
                        "{} records at _dmarc.{at} (RFC 7489 §6.6.3: then there is none)",
                        many.len()
                    ))
                    .advice("Keep exactly one record."),
            );
            return;
        }
    };
    let d = match Dmarc::parse(record.as_bytes()) {
        Ok(d) => d,
        Err(e) => {
            out.push(
                Finding::new("dmarc.syntax", CAT, Status::Fail, 60)
                    .evidence(format!("{record:?} does not parse: {e}"))
                    .advice("Fix the record's syntax (v=DMARC1 first, then tag=value pairs)."),
            );
            return;
        }
    };
    let quoted = format!("{record:?}");
    out.push(match d.p {
        Policy::Reject => {
            Finding::new("dmarc.policy", CAT, Status::Pass, 40).evidence(quoted.clone())
        }
        Policy::Quarantine => Finding::new("dmarc.policy", CAT, Status::Warn, 40)
            .evidence(format!("{quoted}: p=quarantine, failing mail goes to spam"))
            .advice("Move to p=reject once the reports show only your own mail passing."),
        _ => Finding::new("dmarc.policy", CAT, Status::Fail, 40)
            .evidence(format!(
                "{quoted}: p=none, receivers deliver spoofed mail as usual"
            ))
            .advice("Move to p=quarantine, then p=reject, as the reports allow."),
    });
    let pct = pct_of(&record);
    if pct < 100 {
        out.push(
            Finding::new("dmarc.pct", CAT, Status::Warn, 20)
                .evidence(format!(
                    "pct={pct}: the policy applies to {pct}% of failing mail"
                ))
                .advice("Raise pct to 100 (or remove it)."),
        );
    }
    if d.t {
        out.push(
            Finding::new("dmarc.testing", CAT, Status::Warn, 20)
                .evidence("t=y: receivers apply one step weaker than the policy")
                .advice("Remove t=y once the reports look right."),
        );
    }
    for (tag, sub, what) in [
        ("sp", &d.sp, "subdomains"),
        ("np", &d.np, "non-existent subdomains"),
    ] {
        if *sub != Policy::Unspecified && strength(sub) < strength(&d.p) {
            out.push(
                Finding::new(
                    if tag == "sp" { "dmarc.sp" } else { "dmarc.np" },
                    CAT,
                    Status::Warn,
                    10,
                )
                .evidence(format!(
                    "{tag}={} is weaker than p={} for {what}",
                    name(sub),
                    name(&d.p)
                ))
                .advice(format!("Set {tag} to {} or remove it.", name(&d.p))),
            );
        }
    }
    if d.rua.is_empty() {
        out.push(
            Finding::new("dmarc.rua", CAT, Status::Warn, 10)
                .evidence("no rua: nobody receives the aggregate reports")
                .advice(format!(
                    "Add rua=mailto:dmarc@{domain} (Palisade ingests them)."
                )),
        );
    }
    for uri in d.rua.iter().chain(d.ruf.iter()) {
        let Some(target) = uri
            .uri
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
        else {
            continue;
        };
        if org(&target) == org(&at) {
            continue;
        }
        // RFC 7489 §7.1: <domain>._report._dmarc.<target> must say v=DMARC1.
        let name = format!("{at}._report._dmarc.{target}");
        let agreed = dns
            .txt(&name)
            .await
            .is_ok_and(|t| t.iter().any(|r| is_dmarc(r)));
        out.push(if agreed {
            Finding::new("dmarc.external_report", CAT, Status::Pass, 10)
                .evidence(format!("{} accepts reports for {at} ({name})", uri.uri))
        } else {
            Finding::new("dmarc.external_report", CAT, Status::Fail, 10)
                .evidence(format!(
                    "reports go to {}, but {name} has no v=DMARC1 record: receivers will not send them",
                    uri.uri
                ))
                .advice(format!("Ask {target} to publish \"v=DMARC1\" at {name}, or report to your own domain."))
        });
    }
    let align = |a: &Alignment| match a {
        Alignment::Strict => "strict",
        Alignment::Relaxed => "relaxed",
    };
    out.push(
        Finding::new("dmarc.alignment", CAT, Status::Info, 0).evidence(format!(
            "DKIM alignment {}, SPF alignment {}",
            align(&d.adkim),
            align(&d.aspf)
        )),
    );
}

/// The DMARC records at `_dmarc.<domain>`.
async fn lookup(dns: &Dns, domain: &str) -> Result<Vec<String>, String> {
    Ok(dns
        .txt(&format!("_dmarc.{domain}"))
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|r| is_dmarc(r))
        .collect())
}
