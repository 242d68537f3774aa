//! SPF at MAIL time (RFC 7208).

use crate::void_lookups::{Counter, Counting, VOID_LOOKUP_LIMIT};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{Parameters, SpfOutput, SpfResult};
use palisade_dns::Dns;
use std::net::IpAddr;

/// Which identity was checked (RFC 7208 §2.3, §2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpfIdentity {
    MailFrom(String),
    /// The null reverse-path: `postmaster@<HELO>` stands in for MAIL FROM.
    Helo(String),
}

/// The SPF outcome for one transaction, kept from MAIL until the end of the message.
#[derive(Debug, Clone)]
pub struct SpfCheck {
    pub output: SpfOutput,
    pub identity: SpfIdentity,
    pub ip: IpAddr,
    pub helo: String,
}

impl SpfCheck {
    pub fn result(&self) -> SpfResult {
        self.output.result()
    }

    /// The RFC 7208 §2.6 result name, lower case (`pass`, `softfail`, `temperror`, ...).
    pub fn result_name(&self) -> &'static str {
        result_name(self.output.result())
    }

    /// The domain whose policy was evaluated.
    pub fn domain(&self) -> &str {
        self.output.domain()
    }

    /// The MAIL FROM domain for DMARC (RFC 7489 §3.1.2: the HELO domain when null).
    pub fn mail_from_domain(&self) -> &str {
        match &self.identity {
            SpfIdentity::MailFrom(a) => a.rsplit_once('@').map_or(a.as_str(), |(_, d)| d),
            SpfIdentity::Helo(h) => h,
        }
    }

    pub fn mail_from(&self) -> &str {
        match &self.identity {
            SpfIdentity::MailFrom(a) => a,
            SpfIdentity::Helo(_) => "",
        }
    }
}

pub fn result_name(r: SpfResult) -> &'static str {
    match r {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}

/// Evaluates SPF for the MAIL FROM identity, or for the HELO identity when the reverse-path
/// is null. `hostname` is ours (the `%{r}` macro, RFC 7208 §7.3).
pub async fn check_spf(
    dns: &Dns,
    ip: IpAddr,
    helo: &str,
    mail_from: Option<&str>,
    hostname: &str,
) -> SpfCheck {
    let helo_domain = helo.trim_end_matches('.');
    let (identity, output) = match mail_from.filter(|m| !m.is_empty()) {
        Some(sender)
            if !is_checkable_domain(sender.rsplit_once('@').map_or(sender, |(_, d)| d)) =>
        {
            // RFC 7208 §4.3: a malformed or single-label domain gives "none" at once.
            let domain = sender.rsplit_once('@').map_or(sender, |(_, d)| d);
            (
                SpfIdentity::MailFrom(sender.to_string()),
                SpfOutput::new(domain.to_string()),
            )
        }
        Some(sender) => {
            let params = SpfParameters::verify_mail_from(ip, helo_domain, hostname, sender);
            let domain = sender.rsplit_once('@').map_or(sender, |(_, d)| d);
            let out = check_host(dns, params, domain).await;
            (SpfIdentity::MailFrom(sender.to_string()), out)
        }
        None if helo_domain.starts_with('[') || helo_domain.is_empty() => {
            // An address literal is no domain to check (RFC 7208 §2.3, §4.3): "none".
            (
                SpfIdentity::Helo(helo_domain.to_string()),
                SpfOutput::new(helo_domain.to_string()),
            )
        }
        None => {
            let params = SpfParameters::verify_ehlo(ip, helo_domain, hostname);
            let out = check_host(dns, params, helo_domain).await;
            (SpfIdentity::Helo(helo_domain.to_string()), out)
        }
    };
    SpfCheck {
        output,
        identity,
        ip,
        helo: helo.to_string(),
    }
}

/// RFC 7208 §4.3: "If the <domain> is malformed (e.g., label longer than 63 characters,
/// zero-length label not at the end, etc.) or is not a multi-label domain name, ...
/// check_host() immediately returns the result "none"". Address literals are not domains.
fn is_checkable_domain(domain: &str) -> bool {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    !d.starts_with('[') && d.contains('.') && d.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

/// The domain's own record breaks a rule mail-auth does not apply, so the result is
/// permerror: more than one SPF record (RFC 7208 §4.5; mail-auth takes the first), or a
/// syntax error anywhere in it (§4.6, checked by the §12 grammar, see `spf_grammar`),
/// whatever a mechanism before it matched. Records reached through include and
/// redirect are still mail-auth's reading.
async fn own_record_is_broken(dns: &Dns, domain: &str) -> bool {
    let Ok(records) = dns.txt(domain).await else {
        return false;
    };
    let spf: Vec<&String> = records
        .iter()
        .filter(|r| {
            let r = r.trim_start().to_ascii_lowercase();
            r == "v=spf1" || r.starts_with("v=spf1 ")
        })
        .collect();
    spf.len() > 1
        || spf
            .iter()
            .any(|r| match crate::spf_grammar::check_record(r) {
                Ok(()) => false,
                Err(why) => {
                    tracing::debug!(domain, %why, "SPF syntax error");
                    true
                }
            })
}

/// mail-auth's check_host() with the void-lookup limit applied (see `void_lookups`).
async fn check_host(dns: &Dns, params: SpfParameters<'_>, domain: &str) -> SpfOutput {
    let counter = Counter::default();
    let caches = dns.caches();
    let (txt, mx, ipv4, ipv6, ptr) = (
        Counting {
            inner: caches.txt,
            counter: &counter,
            counts: false,
        },
        Counting {
            inner: caches.mx,
            counter: &counter,
            counts: true,
        },
        Counting {
            inner: caches.ipv4,
            counter: &counter,
            counts: true,
        },
        Counting {
            inner: caches.ipv6,
            counter: &counter,
            counts: true,
        },
        Counting {
            inner: caches.ptr,
            counter: &counter,
            counts: true,
        },
    );
    let params = Parameters::new(params)
        .with_txt_cache(&txt)
        .with_mx_cache(&mx)
        .with_ipv4_cache(&ipv4)
        .with_ipv6_cache(&ipv6)
        .with_ptr_cache(&ptr);
    let out = dns.authenticator().check_host(params).await;
    if matches!(out.result(), SpfResult::TempError) {
        return out;
    }
    if own_record_is_broken(dns, domain).await {
        return out.with_result(SpfResult::PermError);
    }
    match out.result() {
        SpfResult::TempError | SpfResult::PermError | SpfResult::None => out,
        _ if counter.voids() > VOID_LOOKUP_LIMIT => {
            tracing::debug!(
                domain = out.domain(),
                voids = counter.voids(),
                "SPF void lookup limit"
            );
            out.with_result(SpfResult::PermError)
        }
        _ => out,
    }
}
