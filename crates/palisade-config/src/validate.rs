//! The validated layer: defaults applied, every value checked, errors name the key.

use crate::raw::RawConfig;
use ipnet::IpNet;
use palisade_types::Domain;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{key}: {problem}")]
    Invalid { key: String, problem: String },
    #[error("TOML syntax{}: {message}", span.map(|(l, c)| format!(" at line {l}, column {c}")).unwrap_or_default())]
    Toml {
        message: String,
        span: Option<(usize, usize)>,
    },
}

pub(crate) fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

/// What a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// Inbound MTA-to-MTA SMTP (port 25), STARTTLS offered.
    Smtp,
    /// Message submission (RFC 6409, port 587), STARTTLS offered.
    Submission,
    /// Submission over implicit TLS (RFC 8314, port 465).
    Submissions,
}

impl ListenerKind {
    pub fn implicit_tls(self) -> bool {
        self == ListenerKind::Submissions
    }
}

#[derive(Debug, Clone)]
pub struct Listener {
    pub name: String,
    pub address: SocketAddr,
    pub kind: ListenerKind,
    /// Peers allowed to send a PROXY protocol header; empty: PROXY is off here.
    pub proxy_protocol_from: Vec<IpNet>,
    /// AUTH without TLS (submission listeners on loopback only).
    pub allow_plaintext_auth: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BareLines {
    Reject,
    Normalise,
}

#[derive(Debug, Clone)]
pub struct SmtpLimits {
    pub max_message_size: u64,
    pub max_recipients: usize,
    pub max_errors: u32,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub bare_line_endings: BareLines,
    pub idle_timeout: Duration,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone)]
pub struct QueueConfig {
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// A message still undeliverable after this long bounces.
    pub max_age: Duration,
    /// One delivery attempt running longer is cancelled and retried later.
    pub attempt_timeout: Duration,
}

/// `[dns]`: the one resolver everything shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Empty: the system resolver (`/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
    pub timeout: Duration,
    pub attempts: usize,
    /// The resolver validates DNSSEC; its AD bit is believed.
    pub dnssec_trusted: bool,
}

/// `[policy]`: what sender authentication enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfig {
    pub sender_checks: bool,
    /// Clients from these networks skip sender checks (like Postfix's mynetworks).
    pub trusted_networks: Vec<IpNet>,
    pub dmarc_enforce: bool,
    pub spf_fail_reject: bool,
    pub reject_spoofed_local: bool,
    pub trusted_arc_sealers: Vec<Domain>,
}

impl PolicyConfig {
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted_networks.iter().any(|n| n.contains(&ip))
    }
}

/// `[submission]`: authenticated sending: privacy and compromised-account containment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionConfig {
    /// Leave the submitting client's address out of the Received header.
    pub hide_client_ip: bool,
    /// Messages a user may submit per hour and per day; more are refused (550 5.7.1).
    pub max_messages_per_hour: u64,
    pub max_messages_per_day: u64,
    /// Suspend a user whose last 10 minutes exceed this many times their usual
    /// 10-minute rate (over 7 days; at least 30 messages); 0 turns it off.
    pub burst_factor: u64,
    /// Suspend a user who writes to more new recipient domains than this in an hour;
    /// 0 turns it off.
    pub max_new_domains_per_hour: u64,
    /// Recipients a user may write to per day (counted over the last 24 hours); past
    /// it RCPT gets 451 4.7.1.
    pub max_recipients_per_day: u64,
}

/// `[reports]`: DMARC aggregate reports, sent and received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportsConfig {
    /// Where other domains send us aggregate reports (our `rua`); parsed and stored.
    pub dmarc_address: Option<palisade_types::Address>,
    /// The From of the reports we send.
    pub dmarc_from: palisade_types::Address,
    /// `org_name` in the reports we send.
    pub org_name: String,
    /// How often `serve` sends reports; zero: only `palisade reports dmarc send`.
    pub dmarc_interval: Duration,
}

impl ReportsConfig {
    /// Where `domain`'s DMARC aggregate reports go (its `rua`): `dmarc_address` when
    /// set (Palisade ingests what arrives there), else `postmaster@domain`, which every
    /// local domain has (RFC 5321 §4.5.1). What `dns records` prints, `init` prints and
    /// `doctor` checks.
    pub fn dmarc_rua(&self, domain: &Domain) -> String {
        match &self.dmarc_address {
            Some(a) => a.to_string(),
            None => format!("postmaster@{domain}"),
        }
    }

    /// Where `domain`'s TLS reports (RFC 8460) go: `postmaster@domain`, for a person
    /// to read.
    pub fn tls_rua(&self, domain: &Domain) -> String {
        format!("postmaster@{domain}")
    }
}

/// A manual outbound TLS policy for one destination domain (`[delivery] tls_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainTlsPolicy {
    /// Never STARTTLS (broken peers).
    None,
    /// Opportunistic: TLS when offered, certificate not required (the default).
    May,
    /// TLS required, any certificate.
    Encrypt,
    /// TLS required with a certificate valid for the MX host name (WebPKI).
    Verify,
    /// DANE required: validated TLSA records that the certificate matches.
    Dane,
}

/// A route whose SMTP next hop is one of our own listeners would hand each message
/// back to us for ever.
fn refuse_routing_loops(
    routes: &std::collections::BTreeMap<String, crate::routes::Route>,
    hostname: &Domain,
    listeners: &[Listener],
) -> Result<(), ConfigError> {
    for (domain, r) in routes {
        let crate::routes::NextHop::Smtp { host, port } = &r.to else {
            continue;
        };
        let ours = host == hostname.as_str()
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified());
        if ours && listeners.iter().any(|l| l.address.port() == *port) {
            return Err(invalid(
                format!("route.{domain}"),
                format!("smtp://{host}:{port} is this server: the mail would loop"),
            ));
        }
    }
    Ok(())
}

/// `none`, `may`, `encrypt`, `verify` or `dane` (the value of `key`).
pub(crate) fn tls_policy_of(key: &str, value: &str) -> Result<DomainTlsPolicy, ConfigError> {
    Ok(match value {
        "none" => DomainTlsPolicy::None,
        "may" => DomainTlsPolicy::May,
        "encrypt" => DomainTlsPolicy::Encrypt,
        "verify" => DomainTlsPolicy::Verify,
        "dane" => DomainTlsPolicy::Dane,
        other => {
            return Err(invalid(
                key,
                format!("{other:?} is not none, may, encrypt, verify or dane"),
            ));
        }
    })
}

/// `[delivery]`: sending to other mail servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// The port MX hosts are contacted on (25; other values are for tests).
    pub remote_port: u16,
    /// PEM CA certificates trusted in addition to the WebPKI roots (tests, private PKI).
    pub extra_ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// Per-reply timeout (RFC 5321 §4.5.3.2 gives 5 minutes for most commands).
    pub command_timeout: Duration,
    /// Manual TLS policies by destination domain (lower case).
    pub tls_policy: std::collections::BTreeMap<String, DomainTlsPolicy>,
    /// HTTPS port of `mta-sts.<domain>` (443; other values are for tests).
    pub mta_sts_port: u16,
    /// HTTPS port of Web Key Directories (443; other values are for tests).
    pub wkd_port: u16,
    /// Outbound connections at once to one destination domain.
    pub max_connections_per_domain: usize,
    /// How long a session that finished a message waits for the next one to the same
    /// server (connection reuse); zero closes every session after its message.
    pub connection_idle: Duration,
    /// Messages one outbound session carries before it is closed.
    pub max_messages_per_connection: u32,
    /// Every message for another domain goes through this relay (not the MX).
    pub smarthost: Option<crate::smarthost::Smarthost>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Validated host name (lower-cased).
    pub hostname: Domain,
    /// The file holding the key that seals private keys in the store
    /// (`store.secret_key_file`; absent, [`crate::SECRET_KEY_FILE`] in the data directory).
    pub secret_key_file: Option<PathBuf>,
    /// This node's name among the nodes sharing a store (`node_id`, default the
    /// machine's host name): its queue rows, counts and heartbeat carry it.
    pub node_id: String,
    /// Where `postmaster@` of each added domain points (RFC 5321 §4.5.1); `None`: the
    /// domain's first user.
    pub postmaster: Option<palisade_types::Address>,
    pub listeners: Vec<Listener>,
    /// Operator-supplied certificate; `None`: the ACME one or the generated self-signed one.
    pub tls: Option<TlsFiles>,
    pub smtp: SmtpLimits,
    pub queue: QueueConfig,
    pub metrics: Option<SocketAddr>,
    pub dns: DnsConfig,
    pub policy: PolicyConfig,
    pub reports: ReportsConfig,
    pub delivery: DeliveryConfig,
    pub submission: SubmissionConfig,
    /// The HTTPS listener (MTA-STS policy); none unless configured.
    pub web: Option<SocketAddr>,
    /// Mail client autoconfiguration on the HTTPS listener (Thunderbird's autoconfig,
    /// Microsoft's autodiscover) for `autoconfig.DOMAIN` and `autodiscover.DOMAIN`.
    pub autoconfig: bool,
    /// How often this node adds its counts to the store for the console's dashboard.
    pub dashboard_flush: Duration,
    pub mta_sts: MtaStsConfig,
    pub security: SecurityConfig,
    pub phishing: crate::phishing::PhishingConfig,
    /// External content scanners (rspamd, ClamAV); none unless configured.
    pub scanners: crate::scanners::ScannersConfig,
    pub encryption: EncryptionConfig,
    /// How often `serve` runs `palisade doctor` on its domains (zero: never).
    pub doctor_interval: Duration,
    /// How `serve` writes its log lines on standard error.
    pub log_format: LogFormat,
    /// Certificates from an ACME CA; none unless configured (never with `[tls]`).
    pub acme: Option<crate::acme::AcmeConfig>,
    /// Mailboxes served by Dovecot (LMTP delivery, the auth socket); off by default.
    pub dovecot: crate::dovecot::DovecotConfig,
    /// Domains whose mail goes on to another server (the gateway role), by domain.
    pub routes: std::collections::BTreeMap<String, crate::routes::Route>,
    /// Where the state lives: the embedded file, or PostgreSQL shared by several nodes.
    pub store: crate::store::StoreConfig,
}

/// `log.format`: lines for people (colour only at a terminal), or one JSON object per
/// line for log shippers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

fn log_format(raw: Option<crate::raw::RawLog>) -> Result<LogFormat, ConfigError> {
    match raw.and_then(|l| l.format).as_deref() {
        None | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(invalid(
            "log.format",
            format!("{other:?}: \"text\" or \"json\""),
        )),
    }
}

/// Encryption at rest (for users who turned it on and imported a key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionConfig {
    /// Move the Subject inside the encrypted part (protected headers) and store `...`
    /// outside. Default true.
    pub protect_subject: bool,
}

/// Brute-force defences: account lockouts and IP bans (see palisade-access's guard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityConfig {
    /// Distinct failed logins of one account within `login_failure_window` that lock it.
    pub max_login_failures: u64,
    pub login_failure_window: Duration,
    /// The first lockout; each one in a row lasts twice as long (at most a day).
    pub lockout: Duration,
    /// Distinct failed logins from one address within `ip_failure_window` that ban it.
    pub max_ip_failures: u64,
    pub ip_failure_window: Duration,
    /// The first ban; each one in a row lasts twice as long (at most a week).
    pub ban: Duration,
    /// Networks never banned (office, monitoring); loopback by default.
    pub never_ban: Vec<IpNet>,
    /// Relay attempts (RCPT to a foreign domain without AUTH) within `abuse_window`
    /// that ban an address; 0: never.
    pub max_relay_attempts: u64,
    /// Unknown local recipients within `abuse_window` (directory harvesting) that ban
    /// an address; 0: never.
    pub max_unknown_recipients: u64,
    pub abuse_window: Duration,
    /// A locked account still accepts the right credentials from an address it logged
    /// in from successfully within this many days.
    pub known_ip_days: u64,
    /// New connections one address may open per minute (token bucket; 0: no limit).
    /// Trusted networks are exempt.
    pub connections_per_ip_per_minute: u64,
    /// Messages one address may send per hour without AUTH (token bucket; 0: no
    /// limit). Trusted networks are exempt.
    pub messages_per_ip_per_hour: u64,
}

impl SecurityConfig {
    /// Exempt from bans: the `never_ban` networks, and the unspecified address that
    /// stands for a client a PROXY header did not name (banning it would ban every
    /// such client at once).
    pub fn never_banned(&self, ip: std::net::IpAddr) -> bool {
        ip.is_unspecified() || self.never_ban.iter().any(|n| n.contains(&ip))
    }
}

/// Our MTA-STS policy (RFC 8461 §3.2), served for every local domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtaStsConfig {
    /// `enforce`, `testing` or `none`.
    pub mode: MtaStsMode,
    pub max_age_secs: u64,
    /// MX host names (patterns, `*.example.com` allowed) senders may use.
    pub mx: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtaStsMode {
    Enforce,
    Testing,
    None,
}

impl MtaStsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MtaStsMode::Enforce => "enforce",
            MtaStsMode::Testing => "testing",
            MtaStsMode::None => "none",
        }
    }
}

pub const DEFAULT_HOSTNAME: &str = "localhost";
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 25 * 1024 * 1024;

pub(crate) fn secs(
    key: &str,
    v: Option<u64>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<Duration, ConfigError> {
    let v = v.unwrap_or(default);
    if !(min..=max).contains(&v) {
        return Err(invalid(
            key,
            format!("must be between {min} and {max} seconds, got {v}"),
        ));
    }
    Ok(Duration::from_secs(v))
}

pub(crate) fn count(
    key: &str,
    v: Option<u64>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let v = v.unwrap_or(default);
    if !(min..=max).contains(&v) {
        return Err(invalid(
            key,
            format!("must be between {min} and {max}, got {v}"),
        ));
    }
    Ok(v)
}

pub(crate) fn socket_addr(key: &str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.parse()
        .map_err(|_| invalid(key, format!("{v:?} is not an IP:port socket address")))
}

impl Config {
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigError> {
        use crate::sections::*;
        let hostname = hostname_of(raw.hostname)?;
        let listeners = listeners_config(raw.listener)?;
        let tls = tls_files(raw.tls)?;
        let queue = queue_config(raw.queue.unwrap_or_default())?;
        if queue.retry_max < queue.retry_initial {
            return Err(invalid(
                "queue.retry_max_secs",
                "must not be below queue.retry_initial_secs",
            ));
        }
        let metrics = match raw.metrics.and_then(|m| m.address) {
            Some(a) => Some(socket_addr("metrics.address", &a)?),
            None => None,
        };
        let web = web_config(raw.web.unwrap_or_default())?;
        if web.autoconfig && web.address.is_none() {
            return Err(invalid(
                "web.autoconfig",
                "is served on the HTTPS listener: set web.address",
            ));
        }
        let acme = crate::acme::acme_config(raw.acme, web.address)?;
        if acme.is_some() && tls.is_some() {
            return Err(invalid(
                "acme",
                "and [tls] both name a certificate: keep one (remove [tls] to let ACME manage it)",
            ));
        }
        let certified = tls.is_some() || acme.is_some();
        let routes = crate::routes::routes_config(raw.route.unwrap_or_default())?;
        refuse_routing_loops(&routes, &hostname, &listeners)?;
        Ok(Config {
            secret_key_file: raw.store.as_ref().and_then(|s| s.secret_key_file.clone()),
            store: crate::store::store_config(raw.store)?,
            node_id: crate::store::node_id(raw.node_id)?,
            routes,
            autoconfig: web.autoconfig,
            dashboard_flush: web.dashboard_flush,
            acme,
            dovecot: crate::dovecot::dovecot_config(raw.dovecot, hostname.as_str())?,
            log_format: log_format(raw.log)?,
            mta_sts: mta_sts_config(raw.mta_sts.unwrap_or_default(), &hostname, certified)?,
            reports: reports_config(raw.reports.unwrap_or_default(), &hostname)?,
            hostname,
            postmaster: postmaster_of(raw.postmaster)?,
            listeners,
            tls,
            smtp: smtp_limits(raw.smtp.unwrap_or_default())?,
            queue,
            metrics,
            dns: dns_config(raw.dns.unwrap_or_default())?,
            policy: policy_config(raw.policy.unwrap_or_default())?,
            delivery: delivery_config(raw.delivery.unwrap_or_default())?,
            submission: submission_config(raw.submission.unwrap_or_default())?,
            web: web.address,
            security: security_config(raw.security.unwrap_or_default())?,
            phishing: crate::phishing::phishing_config(raw.phishing)?,
            scanners: crate::scanners::scanners_config(raw.scanners)?,
            encryption: EncryptionConfig {
                protect_subject: raw
                    .encryption
                    .and_then(|e| e.protect_subject)
                    .unwrap_or(true),
            },
            doctor_interval: secs(
                "doctor.interval_secs",
                raw.doctor.and_then(|d| d.interval_secs),
                86_400,
                0,
                31 * 86_400,
            )?,
        })
    }
}

/// CIDR networks; a bare address is a host route (/32 or /128).
pub(crate) fn networks(key: &str, v: Option<Vec<String>>) -> Result<Vec<IpNet>, ConfigError> {
    v.unwrap_or_default()
        .iter()
        .map(|n| {
            n.parse::<IpNet>()
                .or_else(|_| n.parse::<IpAddr>().map(IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| invalid(key, format!("{n:?} is not an address or CIDR network")))
        })
        .collect()
}

/// `host:port`, or a bare address meaning port 53.
pub fn nameserver(key: &str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.parse::<SocketAddr>()
        .or_else(|_| v.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| invalid(key, format!("{v:?} is not an IP address or IP:port")))
}

fn dns_config(d: crate::raw::RawDns) -> Result<DnsConfig, ConfigError> {
    let nameservers = d
        .nameservers
        .unwrap_or_default()
        .iter()
        .map(|n| nameserver("dns.nameservers", n))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DnsConfig {
        nameservers,
        timeout: secs("dns.timeout_secs", d.timeout_secs, 5, 1, 60)?,
        attempts: count("dns.attempts", d.attempts, 2, 1, 10)? as usize,
        dnssec_trusted: d.dnssec_trusted.unwrap_or(false),
    })
}

fn policy_config(p: crate::raw::RawPolicy) -> Result<PolicyConfig, ConfigError> {
    let spf_fail_reject = match p.spf_fail.as_deref() {
        None | Some("tag") => false,
        Some("reject") => true,
        Some(other) => {
            return Err(invalid(
                "policy.spf_fail",
                format!("{other:?} is not \"tag\" or \"reject\""),
            ));
        }
    };
    let trusted_arc_sealers = p
        .trusted_arc_sealers
        .unwrap_or_default()
        .iter()
        .map(|d| {
            Domain::parse(d).map_err(|_| {
                invalid(
                    "policy.trusted_arc_sealers",
                    format!("{d:?} is not a domain"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PolicyConfig {
        sender_checks: p.sender_checks.unwrap_or(true),
        trusted_networks: networks("policy.trusted_networks", p.trusted_networks)?,
        dmarc_enforce: p.dmarc_enforce.unwrap_or(true),
        spf_fail_reject,
        reject_spoofed_local: p.reject_spoofed_local.unwrap_or(true),
        trusted_arc_sealers,
    })
}

fn address(key: &str, v: &str) -> Result<palisade_types::Address, ConfigError> {
    palisade_types::Address::parse(v).map_err(|_| invalid(key, format!("{v:?} is not an address")))
}

fn reports_config(
    r: crate::raw::RawReports,
    hostname: &Domain,
) -> Result<ReportsConfig, ConfigError> {
    Ok(ReportsConfig {
        dmarc_address: r
            .dmarc_address
            .map(|a| address("reports.dmarc_address", &a))
            .transpose()?,
        dmarc_from: address(
            "reports.dmarc_from",
            &r.dmarc_from
                .unwrap_or_else(|| format!("noreply-dmarc@{hostname}")),
        )?,
        org_name: r.org_name.unwrap_or_else(|| hostname.to_string()),
        dmarc_interval: secs(
            "reports.dmarc_interval_secs",
            r.dmarc_interval_secs,
            86_400,
            0,
            7 * 86_400,
        )?,
    })
}
