//! Where a domain's mail goes (RFC 5321 §5.1, RFC 7505).

use hickory_resolver::proto::rr::RData;
use palisade_dns::Dns;
use palisade_queue::Outcome;
use rand::seq::SliceRandom;
use std::net::IpAddr;

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// RFC 7505: the domain accepts no mail.
    #[error("{0} publishes a null MX: it accepts no mail")]
    NullMx(String),
    #[error("{0} does not exist")]
    NoDomain(String),
    #[error("{0} has no MX and no address")]
    NoHost(String),
    #[error("DNS lookup for {domain} failed: {message}")]
    Temporary { domain: String, message: String },
}

impl RouteError {
    pub fn outcome(&self) -> Outcome {
        match self {
            // RFC 7505 §4.2 / RFC 7504: 556 5.1.10.
            RouteError::NullMx(_) => Outcome::Permanent(format!("556 5.1.10 {self}")),
            RouteError::NoDomain(_) | RouteError::NoHost(_) => {
                Outcome::Permanent(format!("550 5.1.2 {self}"))
            }
            RouteError::Temporary { .. } => Outcome::Transient(format!("451 4.4.3 {self}")),
        }
    }
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

/// The hosts to try, best first: MX preference order, shuffled among equal preferences
/// (RFC 5321 §5.1); the domain itself when it has no MX but an address (implicit MX).
pub async fn route(dns: &Dns, domain: &str) -> Result<Vec<String>, RouteError> {
    route_validated(dns, domain).await.map(|(h, _)| h)
}

/// [`route`], and whether the MX answer was DNSSEC-validated (for DANE, RFC 7672 §2.2.1).
pub async fn route_validated(dns: &Dns, domain: &str) -> Result<(Vec<String>, bool), RouteError> {
    let temp = |e: &dyn std::fmt::Display| RouteError::Temporary {
        domain: domain.to_string(),
        message: e.to_string(),
    };
    let mut validated = false;
    let mut mx: Vec<(u16, String)> = match dns.resolver().mx_lookup(fqdn(domain)).await {
        Ok(l) => {
            validated = dns.dnssec_trusted() && l.message().metadata.authentic_data;
            l.answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(m) => Some((m.preference, m.exchange.to_ascii())),
                    _ => None,
                })
                .collect()
        }
        Err(e) if e.is_nx_domain() => return Err(RouteError::NoDomain(domain.to_string())),
        Err(e) if e.is_no_records_found() => Vec::new(),
        Err(e) => return Err(temp(&e)),
    };
    // RFC 7505 §3: a single MX with an empty exchange ("."), preference 0.
    if mx.len() == 1 && mx[0].1.trim_end_matches('.').is_empty() {
        return Err(RouteError::NullMx(domain.to_string()));
    }
    mx.retain(|(_, host)| !host.trim_end_matches('.').is_empty());
    if mx.is_empty() {
        // RFC 5321 §5.1: no MX, so the domain is its own mail host, if it has an address.
        return match addresses(dns, domain).await {
            Ok(a) if !a.is_empty() => Ok((vec![domain.to_string()], validated)),
            Ok(_) => Err(RouteError::NoHost(domain.to_string())),
            Err(e) => Err(e),
        };
    }
    let mut rng = rand::rng();
    mx.shuffle(&mut rng);
    mx.sort_by_key(|(pref, _)| *pref);
    Ok((
        mx.into_iter()
            .map(|(_, h)| h.trim_end_matches('.').to_string())
            .collect(),
        validated,
    ))
}

/// A host's addresses, IPv6 and IPv4.
pub async fn addresses(dns: &Dns, host: &str) -> Result<Vec<IpAddr>, RouteError> {
    match dns.resolver().lookup_ip(fqdn(host)).await {
        Ok(l) => Ok(l.iter().collect()),
        Err(e) if e.is_nx_domain() || e.is_no_records_found() => Ok(Vec::new()),
        Err(e) => Err(RouteError::Temporary {
            domain: host.to_string(),
            message: e.to_string(),
        }),
    }
}
