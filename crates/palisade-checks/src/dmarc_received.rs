//! DMARC aggregate reports others sent about our domains (RFC 7489 §7.2), summed for
//! people: per domain, per reporting organisation and source address, and per day.
//! The CLI's `palisade reports dmarc list` and the web console read them through here.

use mail_auth::report::{ActionDisposition, DmarcResult, Report};
use palisade_store::ReceivedReport;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Messages and how they fared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tallies {
    pub messages: u64,
    /// Passed DMARC (an aligned DKIM or SPF pass).
    pub passed: u64,
    pub quarantined: u64,
    pub rejected: u64,
}

impl Tallies {
    pub fn failed(&self) -> u64 {
        self.messages - self.passed.min(self.messages)
    }

    /// The share that passed, in percent (0 without messages).
    pub fn pass_rate(&self) -> f64 {
        if self.messages == 0 {
            0.0
        } else {
            100.0 * self.passed as f64 / self.messages as f64
        }
    }

    fn add(&mut self, n: u64, passed: bool, disposition: ActionDisposition) {
        self.messages += n;
        if passed {
            self.passed += n;
        }
        match disposition {
            ActionDisposition::Reject => self.rejected += n,
            ActionDisposition::Quarantine => self.quarantined += n,
            _ => {}
        }
    }
}

/// One domain's reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DomainSummary {
    pub reports: usize,
    pub reporters: BTreeSet<String>,
    pub sources: BTreeSet<String>,
    pub tallies: Tallies,
}

/// Everything the reports say, summed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub domains: BTreeMap<String, DomainSummary>,
    /// By (reporting organisation, source address).
    pub sources: BTreeMap<(String, String), Tallies>,
    /// By day (Unix days of the report period's start).
    pub days: BTreeMap<i64, Tallies>,
}

/// Sums `reports`; a stored document that does not parse is left out.
pub fn summarise(reports: &[ReceivedReport]) -> Summary {
    summarise_source(reports, None)
}

/// [`summarise`], of the records from source address `source` alone when given.
pub fn summarise_source(reports: &[ReceivedReport], source: Option<IpAddr>) -> Summary {
    let mut s = Summary::default();
    for r in reports {
        let Ok(report) = serde_json::from_str::<Report>(&r.document) else {
            continue;
        };
        let records: Vec<_> = report
            .records()
            .iter()
            .filter(|rec| source.is_none_or(|s| rec.source_ip() == Some(s)))
            .collect();
        if records.is_empty() && source.is_some() {
            continue;
        }
        let d = s.domains.entry(r.domain.clone()).or_default();
        d.reports += 1;
        d.reporters.insert(r.org_name.clone());
        let day = r.begin.div_euclid(86_400);
        for rec in records {
            let n = u64::from(rec.count());
            let passed = rec.dmarc_dkim_result() == DmarcResult::Pass
                || rec.dmarc_spf_result() == DmarcResult::Pass;
            let ip = rec
                .source_ip()
                .map_or_else(|| "-".to_string(), |ip| ip.to_string());
            if rec.source_ip().is_some() {
                d.sources.insert(ip.clone());
            }
            let disposition = rec.action_disposition();
            d.tallies.add(n, passed, disposition);
            let key = (r.org_name.clone(), ip);
            s.sources
                .entry(key)
                .or_default()
                .add(n, passed, disposition);
            s.days.entry(day).or_default().add(n, passed, disposition);
        }
    }
    s
}
