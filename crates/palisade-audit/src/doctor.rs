//! `palisade doctor`: each local domain's published records compared with what this
//! server expects of them (the records `palisade dns records` prints), on top of the
//! domain audit. A published DKIM key that is not the active one, an MX that is not us,
//! an SPF that does not authorise our address, an MTA-STS policy that is not ours, TLSA
//! records that do not match our certificate, DMARC reports that never reach us: each
//! is a finding with its fix.

use crate::finding::{Category, Finding, Status};
use crate::posture::transport::Https;
use crate::{Report, Settings, audit_domain_with, finding};
use palisade_delivery::https::{self, Fetched, Limits};
use palisade_delivery::remote::dane::Tlsa;
use palisade_dns::Dns;
use palisade_store::Store;
use std::path::Path;

/// What this server expects a local domain to publish.
#[derive(Debug, Clone)]
pub struct Expected {
    pub domain: String,
    /// Our host name: the MX target, the TLSA owner.
    pub hostname: String,
    /// Active and pending DKIM keys: (selector, the `p=` value).
    pub dkim: Vec<(String, String)>,
    /// The MTA-STS policy we serve (id, text), when `[web]` serves it.
    pub mta_sts: Option<(String, String)>,
    /// SHA-256 of our certificate's public key (TLSA 3 1 1) and when it expires.
    pub tlsa: Option<(Vec<u8>, i64)>,
    /// The key survives renewals (ACME keeps it), so the TLSA record does too.
    pub key_kept: bool,
    /// Where DMARC aggregate reports should go for Palisade to ingest them.
    pub dmarc_address: Option<String>,
}

/// SHA-256 of the first certificate's SubjectPublicKeyInfo (TLSA 3 1 1, RFC 7671 §5.1)
/// and its expiry (Unix time).
pub fn tlsa_3_1_1(cert_pem: &[u8]) -> Option<(Vec<u8>, i64)> {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::pem_slice_iter(cert_pem)
        .next()?
        .ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        cert.tbs_certificate.subject_pki.raw,
    );
    Some((
        digest.as_ref().to_vec(),
        cert.validity().not_after.timestamp(),
    ))
}

/// What `domain` should publish, from the configuration, the store and our certificate.
pub async fn expected(
    cfg: &palisade_config::Config,
    store: &dyn Store,
    data: &Path,
    domain: &palisade_types::Domain,
) -> Result<Expected, palisade_store::StoreError> {
    let dkim = store
        .list_dkim_keys(Some(domain))
        .await?
        .into_iter()
        .filter(|k| k.state == "active")
        .map(|k| (k.selector, k.public_key))
        .collect();
    let mta_sts = cfg.web.map(|_| {
        let policy = palisade_web::mta_sts::policy(&cfg.mta_sts);
        (palisade_web::mta_sts::policy_id(&policy), policy)
    });
    let in_force = cfg.certificate(data);
    // Before the first ACME certificate, the self-signed key is not the one to publish.
    let cert = (in_force.source != palisade_config::CertSource::AwaitingAcme)
        .then(|| std::fs::read(&in_force.files.cert).ok())
        .flatten();
    Ok(Expected {
        domain: domain.to_string(),
        hostname: cfg.hostname.to_string(),
        dkim,
        mta_sts,
        tlsa: cert.as_deref().and_then(tlsa_3_1_1),
        key_kept: in_force.source == palisade_config::CertSource::Acme,
        dmarc_address: cfg.reports.dmarc_address.as_ref().map(|a| a.to_string()),
    })
}

/// The `p=` value of a DKIM key record, whitespace removed.
fn p_of(record: &str) -> Option<String> {
    record
        .split(';')
        .filter_map(|t| t.split_once('='))
        .find(|(k, _)| k.trim() == "p")
        .map(|(_, v)| v.chars().filter(|c| !c.is_whitespace()).collect())
}

/// The published records of one domain against `e`.
pub async fn compare(dns: &Dns, e: &Expected, web: &Https) -> Vec<Finding> {
    let mut out = Vec::new();
    let d = &e.domain;
    let host = &e.hostname;

    // MX: mail for the domain must come to us.
    let mx = dns.resolver().mx_lookup(format!("{d}.")).await;
    let hosts: Vec<String> = mx
        .map(|l| {
            l.answers()
                .iter()
                .filter_map(|r| match &r.data {
                    hickory_resolver::proto::rr::RData::MX(m) => Some(
                        m.exchange
                            .to_string()
                            .trim_end_matches('.')
                            .to_ascii_lowercase(),
                    ),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    out.push(if hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        Finding::new("doctor.mx", Category::Hygiene, Status::Pass, 40)
            .evidence(format!("MX {} includes {host}", hosts.join(", ")))
    } else {
        Finding::new("doctor.mx", Category::Hygiene, Status::Fail, 40)
            .evidence(format!(
                "MX of {d}: {}; not {host}",
                if hosts.is_empty() {
                    "none".to_string()
                } else {
                    hosts.join(", ")
                }
            ))
            .advice(format!("Publish \"{d}. MX 10 {host}.\""))
    });

    // SPF: our own addresses must pass for the domain.
    let ours = palisade_delivery::remote::mx::addresses(dns, host)
        .await
        .unwrap_or_default();
    if ours.is_empty() {
        out.push(
            Finding::new("doctor.spf", Category::Authentication, Status::Warn, 30)
                .evidence(format!(
                    "{host} has no address in DNS, so SPF cannot be checked for it"
                ))
                .advice(format!("Publish {host}'s A/AAAA records.")),
        );
    }
    for ip in ours {
        let spf =
            palisade_checks::check_spf(dns, ip, host, Some(&format!("postmaster@{d}")), host).await;
        let result = spf.auth_result();
        out.push(if result == palisade_checks::AuthResult::Pass {
            Finding::new("doctor.spf", Category::Authentication, Status::Pass, 30)
                .evidence(format!("SPF of {d} passes our address {ip}"))
        } else {
            Finding::new("doctor.spf", Category::Authentication, Status::Fail, 30)
                .evidence(format!("SPF of {d} gives {result} for our address {ip}"))
                .advice(format!(
                    "Add ip{}:{ip} (or mx) to {d}'s SPF record.",
                    if ip.is_ipv4() { 4 } else { 6 }
                ))
        });
    }

    // DKIM: every active key published as it is.
    for (selector, public) in &e.dkim {
        let name = format!("{selector}._domainkey.{d}");
        let published: Vec<String> = dns
            .txt(&name)
            .await
            .unwrap_or_default()
            .iter()
            .filter_map(|r| p_of(r))
            .collect();
        out.push(if published.iter().any(|p| p == public) {
            Finding::new("doctor.dkim", Category::Authentication, Status::Pass, 40)
                .evidence(format!("{name} publishes the active key"))
        } else if published.is_empty() {
            Finding::new("doctor.dkim", Category::Authentication, Status::Fail, 40)
                .evidence(format!(
                    "{name} has no key, but Palisade signs with selector {selector}"
                ))
                .advice(format!("Publish the record from palisade dns records {d}."))
        } else {
            Finding::new("doctor.dkim", Category::Authentication, Status::Fail, 40)
                .evidence(format!(
                    "{name} publishes another key than the active one: our signatures fail"
                ))
                .advice(format!("Publish the record from palisade dns records {d}."))
        });
    }
    if e.dkim.is_empty() {
        out.push(
            Finding::new("doctor.dkim", Category::Authentication, Status::Warn, 40)
                .evidence(format!(
                    "Palisade has no active DKIM key for {d}: its mail goes out unsigned"
                ))
                .advice(format!(
                    "palisade dkim keygen {d}, then publish the record."
                )),
        );
    }

    // MTA-STS: the published id and policy are the ones we serve.
    if let Some((id, policy)) = &e.mta_sts {
        let txt = dns.txt(&format!("_mta-sts.{d}")).await.unwrap_or_default();
        let published_id = txt
            .iter()
            .filter(|r| r.starts_with("v=STSv1"))
            .flat_map(|r| r.split(';'))
            .find_map(|t| t.trim().strip_prefix("id=").map(str::to_string));
        let host_sts = format!("mta-sts.{d}");
        let limits = Limits {
            timeout: web.timeout,
            max_body: 64 * 1024,
        };
        let served = https::get(
            &web.tls,
            dns,
            &host_sts,
            web.port,
            "/.well-known/mta-sts.txt",
            limits,
        )
        .await;
        let cat = Category::Transport;
        out.push(match (&published_id, served) {
            (None, _) => Finding::new("doctor.mta_sts", cat, Status::Warn, 30)
                .evidence(format!("Palisade serves an MTA-STS policy for {d} but _mta-sts.{d} has no record"))
                .advice(format!("Publish \"_mta-sts.{d}. TXT \\\"v=STSv1; id={id}\\\"\".")),
            (Some(_), Ok(Fetched::Body(b))) if String::from_utf8_lossy(&b) != policy.as_str() => {
                Finding::new("doctor.mta_sts", cat, Status::Fail, 30)
                    .evidence(format!("https://{host_sts}/.well-known/mta-sts.txt is not the policy Palisade serves (another server answers)"))
                    .advice(format!("Point mta-sts.{d} at this server ({host})."))
            }
            (Some(p), Ok(Fetched::Body(_))) if p != id => Finding::new("doctor.mta_sts", cat, Status::Warn, 30)
                .evidence(format!("_mta-sts.{d} says id={p}, the served policy's id is {id}: senders keep an older policy cached"))
                .advice(format!("Publish id={id}.")),
            (Some(_), Ok(Fetched::Body(_))) => Finding::new("doctor.mta_sts", cat, Status::Pass, 30)
                .evidence(format!("_mta-sts.{d} and https://{host_sts} carry the policy Palisade serves")),
            (Some(_), Ok(Fetched::NotFound)) => Finding::new("doctor.mta_sts", cat, Status::Fail, 30)
                .evidence(format!("https://{host_sts}/.well-known/mta-sts.txt: HTTP 404"))
                .advice(format!("Point mta-sts.{d} at this server ({host}).")),
            (Some(_), Err(err)) => Finding::new("doctor.mta_sts", cat, Status::Fail, 30)
                .evidence(format!("https://{host_sts}/.well-known/mta-sts.txt: {err}"))
                .advice(format!("Point mta-sts.{d} at this server ({host}) with a certificate naming {host_sts}.")),
        });
    }

    // TLSA: our certificate matches the published records, and will after a renewal.
    if let Some((hash, expires)) = &e.tlsa {
        let name = format!("_25._tcp.{host}");
        let records = dns
            .lookup_validated(&name, hickory_resolver::proto::rr::RecordType::TLSA)
            .await
            .map(|a| Tlsa::from_answers(&a.records))
            .unwrap_or_default();
        let cat = Category::Transport;
        let matching = records
            .iter()
            .any(|t| t.usage == 3 && t.selector == 1 && t.matching == 1 && t.data == *hash);
        let soon = *expires - palisade_queue::now_secs() < 30 * 86_400;
        let others = records.len() > 1 || records.iter().any(|t| t.usage == 2);
        if records.is_empty() {
            out.push(
                Finding::new("doctor.tlsa", cat, Status::Info, 0)
                    .evidence(format!("no TLSA records at {name}")),
            );
        } else if !matching {
            out.push(
                Finding::new("doctor.tlsa", cat, Status::Fail, 30)
                    .evidence(format!("no TLSA record at {name} matches our certificate's key: DANE senders will not deliver"))
                    .advice(format!("Publish the TLSA record from palisade dns records {d}.")),
            );
        } else if soon && !others && !e.key_kept {
            out.push(
                Finding::new("doctor.tlsa", cat, Status::Warn, 30)
                    .evidence(format!("{name} matches only the current key, and the certificate expires within 30 days"))
                    .advice("If the renewal brings a new key, publish its TLSA record now, beside the current one."),
            );
        } else {
            out.push(
                Finding::new("doctor.tlsa", cat, Status::Pass, 30).evidence(if e.key_kept {
                    format!("{name} matches our certificate's key, which ACME renewals keep: the record stays valid")
                } else {
                    format!("{name} matches our certificate's key")
                }),
            );
        }
    }

    // DMARC: aggregate reports should reach the address Palisade ingests.
    if let Some(addr) = &e.dmarc_address {
        let txt = dns.txt(&format!("_dmarc.{d}")).await.unwrap_or_default();
        let reaches = txt.iter().any(|r| {
            r.to_ascii_lowercase()
                .contains(&format!("mailto:{}", addr.to_ascii_lowercase()))
        });
        out.push(if reaches {
            Finding::new("doctor.dmarc_rua", Category::Policy, Status::Pass, 10)
                .evidence(format!("_dmarc.{d} sends aggregate reports to {addr}"))
        } else {
            Finding::new("doctor.dmarc_rua", Category::Policy, Status::Warn, 10)
                .evidence(format!(
                    "_dmarc.{d} does not send reports to {addr}, the address Palisade ingests"
                ))
                .advice(format!("Add mailto:{addr} to the record's rua."))
        });
    }
    out
}

/// The audit's MTA-STS findings that `doctor.mta_sts` restates (the record is there, the
/// policy file is served); the policy's content (mode, max_age, MX list) stays.
const RESTATED_BY_MTA_STS: &[&str] = &["mta_sts.missing", "mta_sts.record", "mta_sts.fetch"];

/// The audit of every local domain with the comparison added.
pub async fn run(
    cfg: &palisade_config::Config,
    store: &dyn Store,
    data: &Path,
    dns: &Dns,
    settings: &Settings,
) -> Result<Vec<Report>, palisade_store::StoreError> {
    let mut reports = Vec::new();
    for domain in store.list_domains().await? {
        let e = expected(cfg, store, data, &domain).await?;
        // Our own selectors first: the audit finds the keys Palisade signs with.
        let selectors: Vec<String> = e
            .dkim
            .iter()
            .map(|(s, _)| s.clone())
            .chain(settings.selectors.iter().cloned())
            .collect();
        let mut report = audit_domain_with(dns, domain.as_str(), settings, &selectors).await;
        let ours = compare(dns, &e, &settings.https).await;
        if ours.iter().any(|f| f.id == "doctor.mta_sts") {
            // The comparison says the same of the record and the policy file, more
            // precisely: counted once.
            report
                .findings
                .retain(|f| !RESTATED_BY_MTA_STS.contains(&f.id));
        }
        report.findings.extend(ours);
        report.score = finding::score(&report.findings);
        reports.push(report);
    }
    Ok(reports)
}

/// 0: all well; 1: warnings; 2: failures (for cron and monitoring).
pub fn exit_code(reports: &[Report]) -> u8 {
    let all = reports.iter().flat_map(|r| r.findings.iter());
    let mut code = 0;
    for f in all {
        match f.status {
            Status::Fail => return 2,
            Status::Warn => code = 1,
            _ => {}
        }
    }
    code
}
