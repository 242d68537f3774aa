//! check_host() (RFC 7208 §4–§6) over Palisade's resolver, with the §4.6.4 limits:
//! ten terms that query DNS, two void lookups, ten MX and ten PTR names.

use super::macros::{MacroEnv, expand, fit_domain};
use super::record::{self, DualCidr, MacroString, Mechanism, Qualifier, Record};
use mail_auth::SpfResult;
use palisade_dns::{Dns, QueryName};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

/// Terms that cause DNS queries: include, a, mx, ptr, exists and redirect (§4.6.4).
pub const TERM_LIMIT: u32 = 10;
/// Lookups that find no record (NXDOMAIN or NODATA) (§4.6.4).
pub const VOID_LOOKUP_LIMIT: u32 = 2;
/// Exchanges of one `mx`, and names of one PTR answer, looked at (§4.6.4).
const NAME_LIMIT: usize = 10;

/// The result of check_host() and, for `fail`, the explanation (§6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub result: SpfResult,
    pub explanation: Option<String>,
}

impl Evaluation {
    fn of(result: SpfResult) -> Evaluation {
        Evaluation {
            result,
            explanation: None,
        }
    }
}

/// What ends an evaluation at once: a DNS failure or a rule broken.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Temp,
    Perm,
}

type Step<T> = Result<T, Stop>;

impl From<Stop> for Evaluation {
    fn from(stop: Stop) -> Evaluation {
        Evaluation::of(match stop {
            Stop::Temp => SpfResult::TempError,
            Stop::Perm => SpfResult::PermError,
        })
    }
}

/// check_host(<ip>, <domain>, <sender>) with the macro values in `env`.
pub async fn check_host(dns: &Dns, env: MacroEnv<'_>, domain: &str) -> Evaluation {
    let mut run = Run {
        dns,
        env,
        terms: 0,
        voids: 0,
        validated: None,
    };
    run.check_host(domain.to_string()).await
}

struct Run<'a> {
    dns: &'a Dns,
    env: MacroEnv<'a>,
    terms: u32,
    voids: u32,
    /// The client's validated names (§5.5), looked up once for `ptr` and `%{p}`.
    validated: Option<Vec<String>>,
}

impl Run<'_> {
    /// include and redirect evaluate another domain: a boxed future ends the recursion.
    fn check_host_boxed(
        &mut self,
        domain: String,
    ) -> Pin<Box<dyn Future<Output = Evaluation> + Send + '_>> {
        Box::pin(self.check_host(domain))
    }

    async fn check_host(&mut self, domain: String) -> Evaluation {
        // §4.3: a malformed or single-label domain is "none"; so is an address literal.
        let Some(name) = QueryName::from_text(&domain)
            .filter(|n| n.text().contains('.') && !domain.starts_with('['))
        else {
            return Evaluation::of(SpfResult::None);
        };
        let domain = name.text();
        let record = match self.record(&name, &domain).await {
            Ok(Some(record)) => record,
            Ok(None) => return Evaluation::of(SpfResult::None),
            Err(stop) => return stop.into(),
        };
        for directive in &record.directives {
            match self.matches(&directive.mechanism, &domain).await {
                Ok(true) => return self.matched(directive.qualifier, &record, &domain).await,
                Ok(false) => {}
                Err(stop) => return stop.into(),
            }
        }
        match &record.redirect {
            Some(target) => self.redirect(target, &domain).await,
            None => Evaluation::of(SpfResult::Neutral),
        }
    }

    /// The one SPF record of `name` (§4.5): none, one, or a permerror for several or for
    /// one with a syntax error (§4.6).
    async fn record(&self, name: &QueryName, domain: &str) -> Step<Option<Record>> {
        let texts = self.dns.txt_at(name).await.map_err(|_| Stop::Temp)?;
        let spf: Vec<&Vec<u8>> = texts
            .iter()
            .filter(|t| {
                t.len() >= 6
                    && t[..6].eq_ignore_ascii_case(b"v=spf1")
                    && (t.len() == 6 || t[6] == b' ')
            })
            .collect();
        let text = match spf.as_slice() {
            [] => return Ok(None),
            [one] => String::from_utf8_lossy(one),
            _ => {
                tracing::debug!(domain, "more than one SPF record");
                return Err(Stop::Perm);
            }
        };
        record::parse(&text).map(Some).map_err(|why| {
            tracing::debug!(domain, %why, "SPF syntax error");
            Stop::Perm
        })
    }

    async fn matched(&mut self, qualifier: Qualifier, record: &Record, domain: &str) -> Evaluation {
        let result = match qualifier {
            Qualifier::Pass => SpfResult::Pass,
            Qualifier::Fail => SpfResult::Fail,
            Qualifier::SoftFail => SpfResult::SoftFail,
            Qualifier::Neutral => SpfResult::Neutral,
        };
        let explanation = match (&record.exp, result) {
            (Some(exp), SpfResult::Fail) => self.explain(exp, domain).await,
            _ => None,
        };
        Evaluation {
            result,
            explanation,
        }
    }

    /// `redirect=` (§6.1): the target's result, permerror when it has no record.
    async fn redirect(&mut self, target: &MacroString, domain: &str) -> Evaluation {
        let target = match self.count_term() {
            Ok(()) => self.expand_domain(target, domain).await,
            Err(stop) => return stop.into(),
        };
        let inner = self.check_host_boxed(target).await;
        match inner.result {
            SpfResult::None => Evaluation::of(SpfResult::PermError),
            _ => inner,
        }
    }

    async fn matches(&mut self, mechanism: &Mechanism, domain: &str) -> Step<bool> {
        let ip = self.env.ip;
        match mechanism {
            Mechanism::All => Ok(true),
            Mechanism::Ip4(net, len) => Ok(in_network(ip, IpAddr::V4(*net), *len)),
            Mechanism::Ip6(net, len) => Ok(in_network(ip, IpAddr::V6(*net), *len)),
            Mechanism::Include(spec) => self.include(spec, domain).await,
            Mechanism::A(spec, cidr) => {
                let Some(name) = self.target(spec.as_ref(), domain).await? else {
                    return Ok(false);
                };
                self.address_matches(&name, *cidr, true).await
            }
            Mechanism::Mx(spec, cidr) => self.mx(spec.as_ref(), *cidr, domain).await,
            Mechanism::Ptr(spec) => {
                self.count_term()?;
                let target = match spec {
                    Some(spec) => self.expand_domain(spec, domain).await.to_ascii_lowercase(),
                    None => domain.to_string(),
                };
                let names = self.validated_names().await?;
                Ok(names.iter().any(|n| is_within(n, &target)))
            }
            Mechanism::Exists(spec) => {
                let Some(name) = self.target(Some(spec), domain).await? else {
                    return Ok(false);
                };
                // Always an A query, whatever the client's address family (§5.7).
                let found = self.dns.ipv4_at(&name).await.map_err(|_| Stop::Temp)?;
                self.void_if(found.is_empty())?;
                Ok(!found.is_empty())
            }
        }
    }

    /// `include:` (§5.2): pass matches; fail, softfail and neutral do not; temperror
    /// stays; permerror and none are permerror.
    async fn include(&mut self, spec: &MacroString, domain: &str) -> Step<bool> {
        self.count_term()?;
        let target = self.expand_domain(spec, domain).await;
        match self.check_host_boxed(target).await.result {
            SpfResult::Pass => Ok(true),
            SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => Ok(false),
            SpfResult::TempError => Err(Stop::Temp),
            SpfResult::PermError | SpfResult::None => Err(Stop::Perm),
        }
    }

    /// `mx` (§5.4): at most ten exchanges, each matched like `a`.
    async fn mx(&mut self, spec: Option<&MacroString>, cidr: DualCidr, domain: &str) -> Step<bool> {
        let Some(name) = self.target(spec, domain).await? else {
            return Ok(false);
        };
        let hosts = self.dns.mx_at(&name).await.map_err(|_| Stop::Temp)?;
        self.void_if(hosts.is_empty())?;
        if hosts.len() > NAME_LIMIT {
            return Err(Stop::Perm);
        }
        for host in &hosts {
            if self.address_matches(host, cidr, false).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Counts the term and expands its target; `None` when the expanded name cannot be
    /// queried (an empty or over-long label): the mechanism does not match.
    async fn target(
        &mut self,
        spec: Option<&MacroString>,
        domain: &str,
    ) -> Step<Option<QueryName>> {
        self.count_term()?;
        let target = match spec {
            Some(spec) => self.expand_domain(spec, domain).await,
            None => domain.to_string(),
        };
        Ok(QueryName::from_text(&target))
    }

    /// The client address is among the A (IPv4 client) or AAAA (IPv6 client) records
    /// of `name`, within the CIDR length.
    async fn address_matches(
        &mut self,
        name: &QueryName,
        cidr: DualCidr,
        void: bool,
    ) -> Step<bool> {
        let found = self.addresses_of(name).await.map_err(|_| Stop::Temp)?;
        if void {
            self.void_if(found.is_empty())?;
        }
        let len = if self.env.ip.is_ipv4() {
            cidr.v4
        } else {
            cidr.v6
        };
        Ok(found.into_iter().any(|a| in_network(self.env.ip, a, len)))
    }

    /// The A records of `name` for an IPv4 client, its AAAA records for an IPv6 one.
    async fn addresses_of(&self, name: &QueryName) -> Result<Vec<IpAddr>, palisade_dns::DnsError> {
        match self.env.ip {
            IpAddr::V4(_) => Ok(self
                .dns
                .ipv4_at(name)
                .await?
                .into_iter()
                .map(IpAddr::V4)
                .collect()),
            IpAddr::V6(_) => Ok(self
                .dns
                .ipv6_at(name)
                .await?
                .into_iter()
                .map(IpAddr::V6)
                .collect()),
        }
    }

    /// The client's validated domain names (§5.5): at most ten PTR names, each kept
    /// when one of its addresses is the client's. A PTR failure matches nothing.
    async fn validated_names(&mut self) -> Step<Vec<String>> {
        if let Some(names) = &self.validated {
            return Ok(names.clone());
        }
        let ptr = self.dns.ptr_of(self.env.ip).await.unwrap_or_default();
        self.void_if(ptr.is_empty())?;
        let mut names = Vec::new();
        for name in ptr.iter().take(NAME_LIMIT) {
            // A failed lookup skips the name (§5.5).
            let addresses = self.addresses_of(name).await.unwrap_or_default();
            if addresses.contains(&self.env.ip) {
                names.push(name.text());
            }
        }
        self.validated = Some(names.clone());
        Ok(names)
    }

    /// `%{p}` (§7.3): the validated name that is `domain`, else one within it, else any;
    /// "unknown" when there is none.
    async fn p_value(&mut self, domain: &str) -> String {
        let names = self.validated_names().await.unwrap_or_default();
        let pick = names
            .iter()
            .find(|n| *n == domain)
            .or_else(|| names.iter().find(|n| is_within(n, domain)))
            .or_else(|| names.first());
        pick.cloned().unwrap_or_else(|| "unknown".to_string())
    }

    /// `ms` expanded, `%{p}` looked up only when it is used.
    async fn expand(&mut self, ms: &MacroString, domain: &str) -> String {
        let p = if ms.uses('p') {
            self.p_value(domain).await
        } else {
            String::new()
        };
        expand(ms, &self.env, domain, &p)
    }

    async fn expand_domain(&mut self, spec: &MacroString, domain: &str) -> String {
        fit_domain(self.expand(spec, domain).await)
    }

    /// The explanation of a `fail` (§6.2): the one TXT record at the `exp=` name, its
    /// macros expanded; nothing when any step fails.
    async fn explain(&mut self, exp: &MacroString, domain: &str) -> Option<String> {
        let name = QueryName::from_text(&self.expand_domain(exp, domain).await)?;
        let texts = self.dns.txt_at(&name).await.ok()?;
        let [text] = texts.as_slice() else {
            return None;
        };
        let text = String::from_utf8(text.clone()).ok()?;
        let ms = record::macro_string(&text, true).ok()?;
        Some(self.expand(&ms, domain).await)
    }

    fn count_term(&mut self) -> Step<()> {
        self.terms += 1;
        if self.terms > TERM_LIMIT {
            tracing::debug!(terms = self.terms, "SPF DNS term limit");
            return Err(Stop::Perm);
        }
        Ok(())
    }

    fn void_if(&mut self, empty: bool) -> Step<()> {
        self.voids += u32::from(empty);
        if self.voids > VOID_LOOKUP_LIMIT {
            tracing::debug!(voids = self.voids, "SPF void lookup limit");
            return Err(Stop::Perm);
        }
        Ok(())
    }
}

/// `name` is `target` or a name within it, compared without case.
fn is_within(name: &str, target: &str) -> bool {
    let target = target.trim_end_matches('.');
    name.eq_ignore_ascii_case(target)
        || name.len() > target.len()
            && name.as_bytes()[name.len() - target.len() - 1] == b'.'
            && name[name.len() - target.len()..].eq_ignore_ascii_case(target)
}

/// `ip` is in `net/len`; addresses of different families never match (§5.6: an IPv4
/// client, IPv4-mapped or not, matches only ip4 and A).
fn in_network(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rfc7208_5_6_cidr_matching() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_network(ip("192.0.2.77"), ip("192.0.2.0"), 24));
        assert!(!in_network(ip("192.0.3.1"), ip("192.0.2.0"), 24));
        assert!(in_network(ip("203.0.113.9"), ip("0.0.0.0"), 0));
        assert!(in_network(ip("2001:db8::1"), ip("2001:db8::"), 32));
        assert!(in_network(ip("2001:db8::1"), ip("::"), 0));
        assert!(!in_network(ip("192.0.2.1"), ip("::"), 0));
        assert!(in_network(ip("192.0.2.1"), ip("192.0.2.1"), 32));
    }

    #[test]
    fn rfc7208_5_5_names_within_the_target() {
        assert!(is_within("mail.example.com", "example.com"));
        assert!(is_within("Example.COM", "example.com."));
        assert!(!is_within("badexample.com", "example.com"));
        assert!(!is_within("com", "example.com"));
    }
}
