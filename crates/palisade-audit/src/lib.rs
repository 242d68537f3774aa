//! `palisade audit domain`: how secure a domain's email is, from what it publishes.
//!
//! Every check is a [`Finding`] with a status, the evidence (records as published) and
//! the fix in one sentence; [`finding::score`] turns them into a transparent 0-100 per
//! category and overall, where every lost point names the finding that cost it.
//! Everything here reads DNS through Palisade's resolver and fetches HTTPS like a
//! sending server would; nothing connects to the domain's mail servers (the live probes
//! come with `--probe`, later).

pub mod doctor;
pub mod finding;
pub mod message;
pub mod posture;
pub mod render;

pub use finding::{Category, Finding, Score, Status};
use palisade_dns::Dns;
use posture::transport::Https;
use serde::Serialize;

/// What to look at besides the defaults.
pub struct Settings {
    /// DKIM selectors to try first (a list of common ones follows).
    pub selectors: Vec<String>,
    pub https: Https,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub domain: String,
    pub score: Score,
    pub findings: Vec<Finding>,
}

/// Audits `domain`'s published mail security.
pub async fn audit_domain(dns: &Dns, domain: &str, settings: &Settings) -> Report {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let mut findings = Vec::new();
    let hosts = posture::mx::check(dns, &domain, &mut findings).await;
    posture::spf::check(dns, &domain, hosts.null_mx, &mut findings).await;
    posture::dmarc::check(dns, &domain, &mut findings).await;
    if !hosts.null_mx {
        posture::dkim::check(dns, &domain, &settings.selectors, &mut findings).await;
    }
    posture::transport::check_mta_sts(dns, &domain, &hosts, &settings.https, &mut findings).await;
    if !hosts.null_mx {
        posture::transport::check_tls_rpt(dns, &domain, &mut findings).await;
    }
    posture::mx::dnssec(dns, &domain, &hosts, &mut findings).await;
    posture::transport::check_dane(dns, &hosts, &mut findings).await;
    Report {
        domain,
        score: finding::score(&findings),
        findings,
    }
}
