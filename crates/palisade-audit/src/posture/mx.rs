//! Where the domain's mail goes: MX records (RFC 5321 §5.1), a null MX (RFC 7505), each
//! host's addresses and forward-confirmed reverse DNS; and whether the zones are signed
//! (DNSSEC, judged by the AD bit of the configured trusted resolver).

use crate::finding::{Category, Finding, Status};
use hickory_resolver::proto::rr::{RData, RecordType};
use palisade_delivery::remote::mx::addresses;
use palisade_dns::Dns;
use std::net::IpAddr;

const CAT: Category = Category::Hygiene;

/// The mail hosts found, for the transport checks.
pub struct MailHosts {
    /// MX host names, best preference first (or the domain itself for an implicit MX).
    pub hosts: Vec<String>,
    /// RFC 7505: the domain accepts no mail.
    pub null_mx: bool,
    /// Whether the MX answer was DNSSEC-validated.
    pub validated: bool,
}

/// Forward-confirmed reverse DNS: a PTR name of `ip` that resolves back to it.
async fn fcrdns(dns: &Dns, ip: IpAddr) -> Option<String> {
    let names = dns.resolver().reverse_lookup(ip).await.ok()?;
    for name in names.answers().iter().filter_map(|r| match &r.data {
        RData::PTR(p) => Some(p.0.to_string()),
        _ => None,
    }) {
        if addresses(dns, &name).await.is_ok_and(|a| a.contains(&ip)) {
            return Some(name.trim_end_matches('.').to_string());
        }
    }
    None
}

pub async fn check(dns: &Dns, domain: &str, out: &mut Vec<Finding>) -> MailHosts {
    let answer = dns.lookup_validated(domain, RecordType::MX).await;
    let (mut mx, validated): (Vec<(u16, String)>, bool) = match answer {
        Ok(a) => (
            a.records
                .iter()
                .filter_map(|r| match r {
                    RData::MX(m) => Some((
                        m.preference,
                        m.exchange
                            .to_string()
                            .trim_end_matches('.')
                            .to_ascii_lowercase(),
                    )),
                    _ => None,
                })
                .collect(),
            a.validated,
        ),
        Err(e) => {
            out.push(
                Finding::new("mx.lookup", CAT, Status::Fail, 40)
                    .evidence(format!("MX lookup failed: {e}"))
                    .advice("Make sure the domain's name servers answer."),
            );
            return MailHosts {
                hosts: Vec::new(),
                null_mx: false,
                validated: false,
            };
        }
    };
    mx.sort();
    if let [(0, host)] = mx.as_slice()
        && host.is_empty()
    {
        out.push(
            Finding::new("mx.null", CAT, Status::Info, 0).evidence(format!(
                "{domain} publishes a null MX (RFC 7505): it accepts no mail"
            )),
        );
        return MailHosts {
            hosts: Vec::new(),
            null_mx: true,
            validated,
        };
    }
    let hosts: Vec<String> = if mx.is_empty() {
        let implicit = addresses(dns, domain).await.unwrap_or_default();
        if implicit.is_empty() {
            out.push(
                Finding::new("mx.none", CAT, Status::Fail, 40)
                    .evidence(format!("{domain} has no MX and no address: it cannot receive mail"))
                    .advice(format!(
                        "Publish an MX record, or a null MX (\"{domain}. MX 0 .\") if it takes no mail."
                    )),
            );
            return MailHosts {
                hosts: Vec::new(),
                null_mx: false,
                validated,
            };
        }
        out.push(
            Finding::new("mx.implicit", CAT, Status::Warn, 10)
                .evidence(format!(
                    "no MX: mail goes to {domain}'s own address (RFC 5321 §5.1)"
                ))
                .advice("Publish an MX record naming the mail host."),
        );
        vec![domain.to_string()]
    } else {
        out.push(
            Finding::new("mx.present", CAT, Status::Pass, 40).evidence(
                mx.iter()
                    .map(|(p, h)| format!("{p} {h}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        );
        mx.into_iter().map(|(_, h)| h).collect()
    };
    for host in &hosts {
        let addrs = addresses(dns, host).await.unwrap_or_default();
        if addrs.is_empty() {
            out.push(
                Finding::new("mx.no_address", CAT, Status::Fail, 30)
                    .evidence(format!("MX host {host} has no A or AAAA record"))
                    .advice(format!(
                        "Publish {host}'s address, or remove it from the MX records."
                    )),
            );
            continue;
        }
        for ip in addrs {
            out.push(match fcrdns(dns, ip).await {
                Some(name) => Finding::new("mx.fcrdns", CAT, Status::Pass, 10)
                    .evidence(format!("{host} {ip}: PTR {name}, which resolves back")),
                None => Finding::new("mx.fcrdns", CAT, Status::Warn, 10)
                    .evidence(format!("{host} {ip}: no PTR name that resolves back to it"))
                    .advice(format!(
                        "Ask the address's owner for a PTR record naming {host} (many receivers check it)."
                    )),
            });
        }
    }
    MailHosts {
        hosts,
        null_mx: false,
        validated,
    }
}

/// DNSSEC of the domain (its MX or SOA answer) and of each MX host's zone (its address
/// records).
pub async fn dnssec(dns: &Dns, domain: &str, hosts: &MailHosts, out: &mut Vec<Finding>) {
    if !dns.dnssec_trusted() {
        out.push(
            Finding::new("dnssec.unknown", CAT, Status::Info, 0).evidence(
                "the resolver is not marked as validating (dns.dnssec_trusted), so DNSSEC is not judged",
            ),
        );
        return;
    }
    // The MX answer (or, with none, the SOA) came with AD from the trusted resolver.
    let signed = hosts.validated
        || dns
            .lookup_validated(domain, RecordType::SOA)
            .await
            .is_ok_and(|a| a.validated);
    out.push(if signed {
        Finding::new("dnssec.domain", CAT, Status::Pass, 20)
            .evidence(format!("{domain} validates (AD from the trusted resolver)"))
    } else {
        Finding::new("dnssec.domain", CAT, Status::Warn, 20)
            .evidence(format!("{domain} does not validate"))
            .advice(
                "Sign the zone (DNSSEC) and publish the DS record at the parent; DANE needs it.",
            )
    });
    for host in &hosts.hosts {
        let ok = dns
            .lookup_validated(host, RecordType::A)
            .await
            .is_ok_and(|a| a.validated);
        if !ok && host != domain {
            out.push(
                Finding::new("dnssec.mx", CAT, Status::Info, 0).evidence(format!(
                    "the zone of MX host {host} does not validate: no DANE for it"
                )),
            );
        }
    }
}
