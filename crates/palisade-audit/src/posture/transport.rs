//! TLS between servers as the DNS promises it: MTA-STS (RFC 8461: the `_mta-sts` id and
//! the policy fetched over HTTPS with its certificate checked), TLS-RPT (RFC 8460) and
//! DANE (RFC 7672: TLSA records for each MX, DNSSEC-validated, sane and ready to roll).

use super::mx::MailHosts;
use crate::finding::{Category, Finding, Status};
use hickory_resolver::proto::rr::RecordType;
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::mta_sts::{ReportUri, TlsRpt};
use palisade_delivery::https::{self, Fetched, Limits};
use palisade_delivery::remote::dane::Tlsa;
use palisade_delivery::remote::mta_sts::{self, Mode};
use palisade_dns::Dns;
use std::sync::Arc;
use std::time::Duration;

const CAT: Category = Category::Transport;

/// How HTTPS is fetched (MTA-STS policies).
pub struct Https {
    pub tls: Arc<rustls::ClientConfig>,
    /// 443; tests use another port.
    pub port: u16,
    pub timeout: Duration,
}

pub async fn check_mta_sts(
    dns: &Dns,
    domain: &str,
    mx: &MailHosts,
    web: &Https,
    out: &mut Vec<Finding>,
) {
    if mx.null_mx {
        return;
    }
    let txt = dns
        .txt(&format!("_mta-sts.{domain}"))
        .await
        .unwrap_or_default();
    let ids: Vec<&String> = txt.iter().filter(|r| r.starts_with("v=STSv1")).collect();
    match ids.as_slice() {
        [] => {
            out.push(
                Finding::new("mta_sts.missing", CAT, Status::Warn, 30)
                    .evidence(format!("no v=STSv1 TXT record at _mta-sts.{domain}"))
                    .advice("Publish an MTA-STS policy so senders refuse downgraded or intercepted TLS (palisade serves one: [mta_sts])."),
            );
            return;
        }
        [one] if mail_auth::mta_sts::MtaSts::parse(one.as_bytes()).is_err() => {
            out.push(
                Finding::new("mta_sts.record", CAT, Status::Fail, 30)
                    .evidence(format!("{one:?} does not parse (RFC 8461 §3.1)"))
                    .advice("Publish \"v=STSv1; id=YYYYMMDDNN\"."),
            );
            return;
        }
        [_] => {}
        _ => {
            out.push(
                Finding::new("mta_sts.record", CAT, Status::Fail, 30)
                    .evidence(format!(
                        "{} records at _mta-sts.{domain} (RFC 8461 §3.1: then there is no policy)",
                        ids.len()
                    ))
                    .advice("Keep exactly one record."),
            );
            return;
        }
    }
    let host = format!("mta-sts.{domain}");
    let limits = Limits {
        timeout: web.timeout,
        max_body: 64 * 1024,
    };
    let path = "/.well-known/mta-sts.txt";
    let text = match https::get(&web.tls, dns, &host, web.port, path, limits).await {
        Ok(Fetched::Body(b)) => String::from_utf8_lossy(&b).into_owned(),
        Ok(Fetched::NotFound) => {
            return out.push(fetch_failed(&host, "HTTP 404"));
        }
        Err(e) => return out.push(fetch_failed(&host, &e.to_string())),
    };
    let policy = match mta_sts::parse(&text) {
        Ok(p) => p,
        Err(e) => {
            out.push(
                Finding::new("mta_sts.policy", CAT, Status::Fail, 30)
                    .evidence(format!("https://{host}{path}: {e}"))
                    .advice("Serve version, mode, mx and max_age lines (RFC 8461 §3.2)."),
            );
            return;
        }
    };
    out.push(match policy.mode {
        Mode::Enforce => Finding::new("mta_sts.mode", CAT, Status::Pass, 30)
            .evidence(format!("mode enforce, mx {}", policy.mx.join(", "))),
        Mode::Testing => Finding::new("mta_sts.mode", CAT, Status::Warn, 30)
            .evidence("mode testing: senders report failures but deliver anyway")
            .advice("Move to mode: enforce once TLS-RPT reports are clean."),
        Mode::None => Finding::new("mta_sts.mode", CAT, Status::Fail, 30)
            .evidence("mode none: the policy is withdrawn")
            .advice("Serve mode: enforce (or testing)."),
    });
    if policy.mode != Mode::None && policy.max_age < 86_400 {
        out.push(
            Finding::new("mta_sts.max_age", CAT, Status::Warn, 10)
                .evidence(format!(
                    "max_age {} s: senders forget the policy within a day",
                    policy.max_age
                ))
                .advice("Use a max_age of weeks, e.g. 604800 (RFC 8461 §3.2)."),
        );
    }
    if policy.mode != Mode::None {
        for h in &mx.hosts {
            if !policy.mx.iter().any(|p| mta_sts::mx_matches(p, h)) {
                out.push(
                    Finding::new("mta_sts.mx_mismatch", CAT, Status::Fail, 30)
                        .evidence(format!(
                            "MX host {h} matches no mx line of the policy ({})",
                            policy.mx.join(", ")
                        ))
                        .advice(format!("Add \"mx: {h}\" to the policy, or senders that enforce it will not deliver there.")),
                );
            }
        }
    }
}

fn fetch_failed(host: &str, why: &str) -> Finding {
    Finding::new("mta_sts.fetch", CAT, Status::Fail, 30)
        .evidence(format!(
            "the policy at https://{host}/.well-known/mta-sts.txt: {why}"
        ))
        .advice(format!(
            "Serve the policy over HTTPS at {host} with a certificate valid for that name."
        ))
}

pub async fn check_tls_rpt(dns: &Dns, domain: &str, out: &mut Vec<Finding>) {
    let name = format!("_smtp._tls.{domain}");
    let txt = dns.txt(&name).await.unwrap_or_default();
    let records: Vec<&String> = txt.iter().filter(|r| r.starts_with("v=TLSRPTv1")).collect();
    out.push(match records.as_slice() {
        [] => Finding::new("tlsrpt.missing", CAT, Status::Warn, 10)
            .evidence(format!("no v=TLSRPTv1 TXT record at {name}"))
            .advice(format!(
                "Publish \"v=TLSRPTv1; rua=mailto:tlsrpt@{domain}\" to learn of failed TLS to you."
            )),
        [one] => match TlsRpt::parse(one.as_bytes()) {
            Ok(r) if !r.rua.is_empty() => Finding::new("tlsrpt.record", CAT, Status::Pass, 10)
                .evidence(format!(
                    "reports to {}",
                    r.rua
                        .iter()
                        .map(|u| match u {
                            ReportUri::Mail(m) => format!("mailto:{m}"),
                            ReportUri::Http(h) => h.clone(),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            _ => Finding::new("tlsrpt.record", CAT, Status::Fail, 10)
                .evidence(format!(
                    "{one:?} does not parse or has no rua (RFC 8460 §3)"
                ))
                .advice("Publish \"v=TLSRPTv1; rua=mailto:ADDRESS\"."),
        },
        _ => Finding::new("tlsrpt.record", CAT, Status::Fail, 10)
            .evidence(format!("{} records at {name}", records.len()))
            .advice("Keep exactly one record."),
    });
}

pub async fn check_dane(dns: &Dns, mx: &MailHosts, out: &mut Vec<Finding>) {
    for host in &mx.hosts {
        let name = format!("_25._tcp.{host}");
        let Ok(answer) = dns.lookup_validated(&name, RecordType::TLSA).await else {
            continue;
        };
        let records = Tlsa::from_answers(&answer.records);
        if records.is_empty() {
            let zone_signed = dns
                .lookup_validated(host, RecordType::A)
                .await
                .is_ok_and(|a| a.validated);
            out.push(if zone_signed && mx.validated {
                Finding::new("dane.missing", CAT, Status::Warn, 20)
                    .evidence(format!("{host} is in a signed zone but has no TLSA record at {name}"))
                    .advice("Publish \"3 1 1\" TLSA records for the host's key (palisade dns records prints them).")
            } else {
                Finding::new("dane.unavailable", CAT, Status::Info, 0)
                    .evidence(format!("{host}: no DANE (its zone or the MX answer is not DNSSEC-signed)"))
            });
            continue;
        }
        if !answer.validated {
            out.push(
                Finding::new("dane.unvalidated", CAT, Status::Fail, 30)
                    .evidence(format!(
                        "{name} has TLSA records but they do not validate: senders ignore them (RFC 7672 §2.2)"
                    ))
                    .advice("Sign the zone with DNSSEC, or remove the records."),
            );
            continue;
        }
        let described = records
            .iter()
            .map(|t| format!("{} {} {}", t.usage, t.selector, t.matching))
            .collect::<Vec<_>>()
            .join(", ");
        let usable: Vec<&Tlsa> = records.iter().filter(|t| t.usable()).collect();
        if records.iter().any(|t| t.usage <= 1) {
            out.push(
                Finding::new("dane.pkix_usage", CAT, Status::Warn, 10)
                    .evidence(format!(
                        "{name}: {described}; usages 0 and 1 are not for SMTP (RFC 7672 §3.1.3)"
                    ))
                    .advice("Use usage 3 (the server's key) or 2 (your CA)."),
            );
        }
        if usable.is_empty() {
            out.push(
                Finding::new("dane.params", CAT, Status::Fail, 30)
                    .evidence(format!("{name}: {described}: no usable record"))
                    .advice("Publish \"3 1 1\" (SHA-256 of the server's public key)."),
            );
            continue;
        }
        let ready = usable.len() >= 2 || usable.iter().any(|t| t.usage == 2);
        out.push(if ready {
            Finding::new("dane.tlsa", CAT, Status::Pass, 30)
                .evidence(format!("{name}: {described}, validated, ready for a key rollover"))
        } else {
            Finding::new("dane.rollover", CAT, Status::Warn, 10)
                .evidence(format!("{name}: {described}: one record, so a new key breaks delivery until DNS catches up"))
                .advice("Publish the next key's record beside the current one (or a usage-2 record for your CA) before changing keys.")
        });
    }
}
