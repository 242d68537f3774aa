//! Palisade's one DNS resolver.
//!
//! [`Dns`] wraps a hickory `TokioResolver` inside mail-auth's `MessageAuthenticator`, so
//! SPF, DKIM, DMARC and ARC (and later MX, MTA-STS and DANE) share one resolver, one
//! hickory answer cache and [`TtlCache`]s of parsed records. [`DnsSettings`] picks the
//! name servers (default: the system's `resolv.conf`), the timeout and the attempts.
//!
//! DNSSEC follows the Postfix model: Palisade does not validate itself. An answer counts
//! as validated ([`Dns::lookup_validated`]) only when the operator has marked the
//! configured resolver as trusted (a local validating resolver such as unbound) and that
//! resolver set the AD bit (RFC 4035 §3.2.3, RFC 6840 §5.8).

mod by_name;
mod cache;

pub use by_name::QueryName;

pub use cache::TtlCache;
pub use mail_auth;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::proto::rr::{Name, RecordType};
use mail_auth::{MX, MessageAuthenticator, Parameters, RecordSet, Txt};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Where and how to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSettings {
    /// Empty: the system resolver configuration (`/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
    pub timeout: Duration,
    pub attempts: usize,
    /// The resolver validates DNSSEC and its AD bit may be believed.
    pub dnssec_trusted: bool,
}

impl Default for DnsSettings {
    fn default() -> Self {
        DnsSettings {
            nameservers: Vec::new(),
            timeout: Duration::from_secs(5),
            attempts: 2,
            dnssec_trusted: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("reading the system resolver configuration")]
    SystemConf(#[source] hickory_resolver::net::NetError),
    #[error("building the resolver")]
    Build(#[source] hickory_resolver::net::NetError),
    #[error("DNS lookup of {name} {rtype}: {message}")]
    Lookup {
        name: String,
        rtype: RecordType,
        message: String,
    },
    #[error("invalid DNS name {0:?}")]
    Name(String),
}

/// The parameter type mail-auth's verifiers take, with Palisade's caches.
pub type Params<'a, P> = Parameters<
    'a,
    P,
    TtlCache<Box<str>, Txt>,
    TtlCache<Box<str>, RecordSet<MX>>,
    TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    TtlCache<IpAddr, RecordSet<Box<str>>>,
>;

/// Entries per parsed-record cache; a full cache drops expired entries, then everything.
const CACHE_ENTRIES: usize = 16 * 1024;

/// The shared resolver. Cheap to share behind an `Arc`.
pub struct Dns {
    auth: MessageAuthenticator,
    dnssec_trusted: bool,
    txt: TtlCache<Box<str>, Txt>,
    mx: TtlCache<Box<str>, RecordSet<MX>>,
    ipv4: TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    ipv6: TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    ptr: TtlCache<IpAddr, RecordSet<Box<str>>>,
}

/// Borrowed caches of a [`Dns`].
pub struct Caches<'a> {
    pub txt: &'a TtlCache<Box<str>, Txt>,
    pub mx: &'a TtlCache<Box<str>, RecordSet<MX>>,
    pub ipv4: &'a TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    pub ipv6: &'a TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    pub ptr: &'a TtlCache<IpAddr, RecordSet<Box<str>>>,
}

/// An answer and whether it counts as DNSSEC-validated under the trust policy.
#[derive(Debug, Clone)]
pub struct Validated<T> {
    pub records: Vec<T>,
    pub validated: bool,
}

impl Dns {
    pub fn new(settings: &DnsSettings) -> Result<Dns, DnsError> {
        let (config, mut opts) = if settings.nameservers.is_empty() {
            hickory_resolver::system_conf::read_system_conf().map_err(DnsError::SystemConf)?
        } else {
            let servers = settings
                .nameservers
                .iter()
                .map(|addr| {
                    let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                    for c in &mut ns.connections {
                        c.port = addr.port();
                    }
                    ns
                })
                .collect();
            (
                ResolverConfig::from_name_servers(servers),
                ResolverOpts::default(),
            )
        };
        opts.timeout = settings.timeout;
        opts.attempts = settings.attempts.max(1);
        // Names are always absolute here: never append a search domain to a mail domain.
        opts.ndots = 0;
        let auth = MessageAuthenticator::new(config, opts).map_err(DnsError::Build)?;
        Ok(Dns {
            auth,
            dnssec_trusted: settings.dnssec_trusted,
            txt: TtlCache::new(CACHE_ENTRIES),
            mx: TtlCache::new(CACHE_ENTRIES),
            ipv4: TtlCache::new(CACHE_ENTRIES),
            ipv6: TtlCache::new(CACHE_ENTRIES),
            ptr: TtlCache::new(CACHE_ENTRIES),
        })
    }

    /// The operator marked the resolver as validating DNSSEC.
    pub fn dnssec_trusted(&self) -> bool {
        self.dnssec_trusted
    }

    pub fn authenticator(&self) -> &MessageAuthenticator {
        &self.auth
    }

    pub fn resolver(&self) -> &TokioResolver {
        self.auth.resolver()
    }

    /// mail-auth parameters with Palisade's caches attached.
    pub fn params<P>(&self, params: P) -> Params<'_, P> {
        Parameters::new(params)
            .with_txt_cache(&self.txt)
            .with_mx_cache(&self.mx)
            .with_ipv4_cache(&self.ipv4)
            .with_ipv6_cache(&self.ipv6)
            .with_ptr_cache(&self.ptr)
    }

    /// The parsed-record caches, for callers that wrap them (e.g. to count lookups).
    pub fn caches(&self) -> Caches<'_> {
        Caches {
            txt: &self.txt,
            mx: &self.mx,
            ipv4: &self.ipv4,
            ipv6: &self.ipv6,
            ptr: &self.ptr,
        }
    }

    /// The TXT strings of `name`, each record's strings joined (RFC 7208 §3.3).
    /// NXDOMAIN and NODATA are an empty list; anything else that fails is an error.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        Ok(self
            .lookup_validated(name, RecordType::TXT)
            .await?
            .records
            .into_iter()
            .filter_map(|r| match r {
                hickory_resolver::proto::rr::RData::TXT(t) => Some(
                    t.txt_data
                        .iter()
                        .map(|s| String::from_utf8_lossy(s))
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect())
    }

    /// Any record type, with the DNSSEC trust decision (needed by DANE, RFC 7672 §2.2).
    pub async fn lookup_validated(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> Result<Validated<hickory_resolver::proto::rr::RData>, DnsError> {
        let fqdn = if name.ends_with('.') {
            name.to_string()
        } else {
            format!("{name}.")
        };
        let qname = Name::from_str_relaxed(&fqdn).map_err(|_| DnsError::Name(name.to_string()))?;
        self.answers(qname, || name.to_string(), rtype).await
    }

    /// The answers of type `rtype` at `qname` (named by `shown` in errors), with the
    /// DNSSEC trust decision. NXDOMAIN and NODATA are an empty list; anything else that
    /// fails is an error.
    async fn answers(
        &self,
        qname: Name,
        shown: impl FnOnce() -> String,
        rtype: RecordType,
    ) -> Result<Validated<hickory_resolver::proto::rr::RData>, DnsError> {
        match self.resolver().lookup(qname, rtype).await {
            Ok(lookup) => Ok(Validated {
                validated: self.dnssec_trusted && lookup.message().metadata.authentic_data,
                records: lookup
                    .answers()
                    .iter()
                    .filter(|r| r.record_type() == rtype)
                    .map(|r| r.data.clone())
                    .collect(),
            }),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Validated {
                records: Vec::new(),
                validated: false,
            }),
            Err(e) => Err(DnsError::Lookup {
                name: shown(),
                rtype,
                message: e.to_string(),
            }),
        }
    }
}
