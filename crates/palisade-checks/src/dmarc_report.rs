//! DMARC aggregate reports (RFC 7489 §7.2) from our evaluations, with mail-auth's report
//! model and writer: one [`DmarcRow`] per evaluated message, merged into one report per
//! reporting domain and period.

use crate::spf::{SpfCheck, SpfIdentity};
use mail_auth::report::{
    ActionDisposition, PolicyOverride, PolicyOverrideReason, PolicyPublished, Record, Report,
    SPFDomainScope,
};
use mail_auth::{DkimOutput, DmarcOutput};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One message's line in a future report, with where and how to send that report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcRow {
    /// The reporting domain: the author domain's organisational domain (public suffix
    /// list, RFC 7489 §3.2).
    pub domain: String,
    /// `rua` URIs with their size limits (0: none), as published.
    pub rua: Vec<(String, usize)>,
    pub policy: PolicyPublished,
    pub record: Record,
}

/// The organisational domain of `domain` by the public suffix list.
pub fn organizational_domain(domain: &str) -> String {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    psl::domain_str(&d).map_or(d.clone(), str::to_string)
}

/// The row for one evaluation, when the domain publishes a policy that asks for reports.
pub(crate) fn row(
    dkim: &[DkimOutput<'_>],
    spf: &SpfCheck,
    dmarc: &DmarcOutput,
) -> Option<DmarcRow> {
    let published = dmarc.dmarc_record()?;
    if published.rua.is_empty() {
        return None;
    }
    let scope = match spf.identity {
        SpfIdentity::MailFrom(_) => SPFDomainScope::MailFrom,
        SpfIdentity::Helo(_) => SPFDomainScope::Helo,
    };
    let domain = organizational_domain(dmarc.domain());
    let record = Record::new()
        .with_dkim_output(dkim)
        .with_spf_output(&spf.output, scope)
        .with_dmarc_output(dmarc)
        .with_source_ip(spf.ip)
        .with_count(1)
        .with_envelope_from(spf.mail_from_domain())
        .with_header_from(dmarc.domain());
    Some(DmarcRow {
        policy: PolicyPublished::from_record(domain.clone(), published),
        rua: published
            .rua
            .iter()
            .map(|u| (u.uri().to_string(), u.max_size()))
            .collect(),
        domain,
        record,
    })
}

/// What we did with the message, for the report (RFC 7489 §7.2 `policy_evaluated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Delivered,
    Quarantined,
    Rejected,
    /// Delivered despite a failing policy, and why.
    Overridden(OverrideReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideReason {
    TrustedForwarder,
    SampledOut,
    LocalPolicy,
}

impl DmarcRow {
    /// Records our disposition (and any override reason) in the row.
    pub fn applied(&mut self, applied: Applied) {
        let pe = &mut self.record.row.policy_evaluated;
        let passed = pe.disposition == ActionDisposition::Pass;
        pe.disposition = match applied {
            Applied::Quarantined => ActionDisposition::Quarantine,
            Applied::Rejected => ActionDisposition::Reject,
            Applied::Delivered if passed => ActionDisposition::Pass,
            Applied::Delivered | Applied::Overridden(_) => ActionDisposition::None,
        };
        if let Applied::Overridden(why) = applied {
            let (kind, comment) = match why {
                OverrideReason::TrustedForwarder => {
                    (PolicyOverride::TrustedForwarder, "trusted ARC sealer")
                }
                OverrideReason::SampledOut => (PolicyOverride::Other, "sampled out (pct)"),
                OverrideReason::LocalPolicy => (PolicyOverride::LocalPolicy, "not enforced"),
            };
            pe.reason
                .push(PolicyOverrideReason::new(kind).with_comment(comment));
        }
    }
}

/// Merges rows of one reporting domain into one report: identical records become one
/// with the sum of their counts. The newest published policy is the one reported.
pub fn aggregate(
    rows: &[DmarcRow],
    org_name: &str,
    email: &str,
    report_id: &str,
    begin: u64,
    end: u64,
) -> Option<Report> {
    let last = rows.last()?;
    let mut counts: HashMap<Record, u32> = HashMap::new();
    let mut order: Vec<Record> = Vec::new();
    for r in rows {
        let mut key = r.record.clone();
        let n = key.row.count.max(1);
        key.row.count = 0;
        match counts.get_mut(&key) {
            Some(c) => *c = c.saturating_add(n),
            None => {
                counts.insert(key.clone(), n);
                order.push(key);
            }
        }
    }
    let mut report = Report::new()
        .with_version(1.0)
        .with_org_name(org_name)
        .with_email(email)
        .with_report_id(report_id)
        .with_date_range_begin(begin)
        .with_date_range_end(end)
        .with_policy_published(last.policy.clone());
    for key in order {
        let n = counts.get(&key).copied().unwrap_or(1);
        report.add_record(key.with_count(n));
    }
    Some(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ip: &str, disposition: Applied) -> DmarcRow {
        let mut r = DmarcRow {
            domain: "sender.test".into(),
            rua: vec![("dmarc@sender.test".into(), 0)],
            policy: PolicyPublished::default(),
            record: Record::new()
                .with_source_ip(ip.parse().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])))
                .with_count(1)
                .with_header_from("sender.test"),
        };
        r.applied(disposition);
        r
    }

    #[test]
    fn rfc7489_7_2_identical_rows_merge_with_counts() {
        let rows = [
            row("192.0.2.1", Applied::Delivered),
            row("192.0.2.1", Applied::Delivered),
            row("192.0.2.2", Applied::Rejected),
            row("192.0.2.1", Applied::Delivered),
        ];
        let r = aggregate(
            &rows,
            "mx.local.test",
            "noreply@mx.local.test",
            "id1",
            10,
            20,
        );
        let Some(r) = r else {
            panic!("a report");
        };
        let counts: Vec<(String, u32)> = r
            .records()
            .iter()
            .map(|x| {
                (
                    x.source_ip().map(|i| i.to_string()).unwrap_or_default(),
                    x.count(),
                )
            })
            .collect();
        assert_eq!(
            counts,
            [("192.0.2.1".to_string(), 3), ("192.0.2.2".to_string(), 1)]
        );
        assert_eq!(r.date_range_begin(), 10);
        assert!(r.to_xml().contains("<report_id>id1</report_id>"));
        assert!(aggregate(&[], "o", "e", "i", 0, 0).is_none());
    }

    #[test]
    fn overrides_are_recorded() {
        let r = row(
            "192.0.2.1",
            Applied::Overridden(OverrideReason::TrustedForwarder),
        );
        let pe = &r.record.row.policy_evaluated;
        assert_eq!(pe.disposition, ActionDisposition::None);
        assert_eq!(pe.reason[0].type_, PolicyOverride::TrustedForwarder);
    }

    #[test]
    fn organizational_domain_uses_the_public_suffix_list() {
        assert_eq!(organizational_domain("mail.example.co.uk"), "example.co.uk");
        assert_eq!(organizational_domain("Sub.Example.COM."), "example.com");
    }
}
