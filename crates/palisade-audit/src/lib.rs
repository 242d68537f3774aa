//! `palisade audit domain`: how secure a domain's email is, from what it publishes.
//!
//! Every check is a [`Finding`] with a status, the evidence (records as published) and
//! the fix in one sentence; [`finding::score`] turns them into a transparent 0-100 per
//! category and overall, where every lost point names the finding that cost it.
//! Everything here reads DNS through Palisade's resolver and fetches HTTPS like a
//! sending server would; only with `--probe` does it connect to the domain's mail
//! servers ([`probe`]).

pub mod doctor;
pub mod finding;
pub mod legacy_tls;
pub mod message;
pub mod posture;
pub mod probe;
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
    /// Probe the MX hosts over SMTP (`--probe`).
    pub probe: Option<probe::ProbeSettings>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub domain: String,
    pub score: Score,
    pub findings: Vec<Finding>,
}

/// Audits `domain`'s published mail security.
pub async fn audit_domain(dns: &Dns, domain: &str, settings: &Settings) -> Report {
    audit_domain_with(dns, domain, settings, &settings.selectors).await
}

/// [`audit_domain`], trying `selectors` first for DKIM (a local domain's own).
pub async fn audit_domain_with(
    dns: &Dns,
    domain: &str,
    settings: &Settings,
    selectors: &[String],
) -> Report {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let d = domain.as_str();
    let mut findings = Vec::new();
    let hosts = posture::mx::check(dns, d, &mut findings).await;
    // The rest is independent: asked at once (one resolver, one cache), reported in a
    // fixed order.
    let null_mx = hosts.null_mx;
    let (mut spf, mut dmarc, mut dkim, mut sts) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut rpt, mut sec, mut dane, mut probed) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    tokio::join!(
        posture::spf::check(dns, d, null_mx, &mut spf),
        posture::dmarc::check(dns, d, &mut dmarc),
        async {
            if !null_mx {
                posture::dkim::check(dns, d, selectors, &mut dkim).await;
            }
        },
        posture::transport::check_mta_sts(dns, d, &hosts, &settings.https, &mut sts),
        async {
            if !null_mx {
                posture::transport::check_tls_rpt(dns, d, &mut rpt).await;
            }
        },
        posture::mx::dnssec(dns, d, &hosts, &mut sec),
        posture::transport::check_dane(dns, &hosts, &mut dane),
        async {
            if let Some(p) = &settings.probe {
                probed = probe::probe(dns, &hosts.hosts, p).await;
            }
        },
    );
    for part in [spf, dmarc, dkim, sts, rpt, sec, dane, probed] {
        findings.extend(part);
    }
    Report {
        domain,
        score: finding::score(&findings),
        findings,
    }
}
