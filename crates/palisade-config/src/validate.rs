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

fn secs(
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

fn count(key: &str, v: Option<u64>, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
    let v = v.unwrap_or(default);
    if !(min..=max).contains(&v) {
        return Err(invalid(
            key,
            format!("must be between {min} and {max}, got {v}"),
        ));
    }
    Ok(v)
}

fn socket_addr(key: &str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.parse()
        .map_err(|_| invalid(key, format!("{v:?} is not an IP:port socket address")))
}

impl Config {
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigError> {
        let name = raw.hostname.unwrap_or_else(|| DEFAULT_HOSTNAME.to_string());
        let hostname = match Domain::parse(&name) {
            Ok(d) if !name.starts_with('[') => d,
            _ => {
                return Err(invalid(
                    "hostname",
                    format!("{name:?} is not a valid host name"),
                ));
            }
        };
        let mut listeners = Vec::new();
        for (name, l) in raw.listener {
            let key = format!("listener.{name}");
            let address = l
                .address
                .ok_or_else(|| invalid(format!("{key}.address"), "is required"))?;
            let address = socket_addr(&format!("{key}.address"), &address)?;
            let kind = match l.kind.as_deref() {
                Some("smtp") | None => ListenerKind::Smtp,
                Some("submission") => ListenerKind::Submission,
                Some("submissions") => ListenerKind::Submissions,
                Some(other) => {
                    return Err(invalid(
                        format!("{key}.kind"),
                        format!(
                            "{other:?} is not one of \"smtp\", \"submission\", \"submissions\""
                        ),
                    ));
                }
            };
            if address.port() != 0 && listeners.iter().any(|x: &Listener| x.address == address) {
                return Err(invalid(
                    format!("{key}.address"),
                    format!("{address} is used by another listener"),
                ));
            }
            let proxy_protocol_from =
                networks(&format!("{key}.proxy_protocol_from"), l.proxy_protocol_from)?;
            let allow_plaintext_auth = l.allow_plaintext_auth.unwrap_or(false);
            if allow_plaintext_auth && !address.ip().is_loopback() {
                return Err(invalid(
                    format!("{key}.allow_plaintext_auth"),
                    "is only allowed on a loopback address (passwords would cross the network in clear)",
                ));
            }
            listeners.push(Listener {
                name,
                address,
                kind,
                proxy_protocol_from,
                allow_plaintext_auth,
            });
        }
        let tls = match raw.tls {
            None => None,
            Some(t) => match (t.cert, t.key) {
                (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
                (None, None) => None,
                (Some(_), None) => {
                    return Err(invalid("tls.key", "is required when tls.cert is set"));
                }
                (None, Some(_)) => {
                    return Err(invalid("tls.cert", "is required when tls.key is set"));
                }
            },
        };
        let s = raw.smtp.unwrap_or_default();
        let bare_line_endings = match s.bare_line_endings.as_deref() {
            None | Some("reject") => BareLines::Reject,
            Some("normalise") | Some("normalize") => BareLines::Normalise,
            Some(other) => {
                return Err(invalid(
                    "smtp.bare_line_endings",
                    format!("{other:?} is not \"reject\" or \"normalise\""),
                ));
            }
        };
        let smtp = SmtpLimits {
            max_message_size: count(
                "smtp.max_message_size",
                s.max_message_size,
                DEFAULT_MAX_MESSAGE_SIZE,
                1024,
                1 << 32,
            )?,
            max_recipients: count("smtp.max_recipients", s.max_recipients, 100, 1, 100_000)?
                as usize,
            max_errors: count("smtp.max_errors", s.max_errors, 10, 1, 1000)? as u32,
            max_connections: count(
                "smtp.max_connections",
                s.max_connections,
                5000,
                1,
                1_000_000,
            )? as usize,
            max_connections_per_ip: count(
                "smtp.max_connections_per_ip",
                s.max_connections_per_ip,
                50,
                1,
                1_000_000,
            )? as usize,
            bare_line_endings,
            idle_timeout: secs("smtp.idle_timeout_secs", s.idle_timeout_secs, 60, 1, 3600)?,
            command_timeout: secs(
                "smtp.command_timeout_secs",
                s.command_timeout_secs,
                120,
                1,
                3600,
            )?,
            data_timeout: secs("smtp.data_timeout_secs", s.data_timeout_secs, 600, 1, 7200)?,
            shutdown_grace: secs(
                "smtp.shutdown_grace_secs",
                s.shutdown_grace_secs,
                10,
                0,
                600,
            )?,
        };
        let q = raw.queue.unwrap_or_default();
        let queue = QueueConfig {
            retry_initial: secs(
                "queue.retry_initial_secs",
                q.retry_initial_secs,
                60,
                1,
                86_400,
            )?,
            retry_max: secs("queue.retry_max_secs", q.retry_max_secs, 3600, 1, 86_400)?,
            max_age: secs(
                "queue.max_age_secs",
                q.max_age_secs,
                5 * 86_400,
                60,
                30 * 86_400,
            )?,
            attempt_timeout: secs(
                "queue.attempt_timeout_secs",
                q.attempt_timeout_secs,
                600,
                5,
                7200,
            )?,
        };
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
        let reports = reports_config(raw.reports.unwrap_or_default(), &hostname)?;
        let sec = raw.security.unwrap_or_default();
        let security = SecurityConfig {
            max_login_failures: count(
                "security.max_login_failures",
                sec.max_login_failures,
                10,
                1,
                10_000,
            )?,
            login_failure_window: secs(
                "security.login_failure_window_secs",
                sec.login_failure_window_secs,
                900,
                1,
                86_400,
            )?,
            lockout: secs("security.lockout_secs", sec.lockout_secs, 900, 1, 86_400)?,
            max_ip_failures: count(
                "security.max_ip_failures",
                sec.max_ip_failures,
                20,
                1,
                100_000,
            )?,
            ip_failure_window: secs(
                "security.ip_failure_window_secs",
                sec.ip_failure_window_secs,
                600,
                1,
                86_400,
            )?,
            ban: secs("security.ban_secs", sec.ban_secs, 3600, 1, 7 * 86_400)?,
            never_ban: match sec.never_ban {
                Some(v) => networks("security.never_ban", Some(v))?,
                None => vec![
                    "127.0.0.0/8"
                        .parse()
                        .map_err(|_| invalid("security.never_ban", "default"))?,
                    "::1/128"
                        .parse()
                        .map_err(|_| invalid("security.never_ban", "default"))?,
                ],
            },
            max_relay_attempts: count(
                "security.max_relay_attempts",
                sec.max_relay_attempts,
                20,
                0,
                100_000,
            )?,
            max_unknown_recipients: count(
                "security.max_unknown_recipients",
                sec.max_unknown_recipients,
                50,
                0,
                100_000,
            )?,
            abuse_window: secs(
                "security.abuse_window_secs",
                sec.abuse_window_secs,
                600,
                1,
                86_400,
            )?,
            known_ip_days: count("security.known_ip_days", sec.known_ip_days, 30, 0, 365)?,
            connections_per_ip_per_minute: count(
                "security.connections_per_ip_per_minute",
                sec.connections_per_ip_per_minute,
                120,
                0,
                1_000_000,
            )?,
            messages_per_ip_per_hour: count(
                "security.messages_per_ip_per_hour",
                sec.messages_per_ip_per_hour,
                3600,
                0,
                100_000_000,
            )?,
        };
        let raw_web = raw.web.unwrap_or_default();
        let web = match raw_web.address {
            Some(a) => Some(socket_addr("web.address", &a)?),
            None => None,
        };
        let autoconfig = raw_web.autoconfig.unwrap_or(false);
        let dashboard_flush = secs(
            "web.dashboard_flush_secs",
            raw_web.dashboard_flush_secs,
            60,
            1,
            3600,
        )?;
        if autoconfig && web.is_none() {
            return Err(invalid(
                "web.autoconfig",
                "is served on the HTTPS listener: set web.address",
            ));
        }
        let acme = crate::acme::acme_config(raw.acme, web)?;
        if acme.is_some() && tls.is_some() {
            return Err(invalid(
                "acme",
                "and [tls] both name a certificate: keep one (remove [tls] to let ACME manage it)",
            ));
        }
        let sts = raw.mta_sts.unwrap_or_default();
        let mta_sts = MtaStsConfig {
            // `auto`: enforce once an operator certificate is configured; with the
            // generated self-signed one, senders could not validate us, so testing.
            mode: match sts.mode.as_deref().unwrap_or("auto") {
                "auto" if tls.is_some() || acme.is_some() => MtaStsMode::Enforce,
                "auto" | "testing" => MtaStsMode::Testing,
                "enforce" => MtaStsMode::Enforce,
                "none" => MtaStsMode::None,
                other => {
                    return Err(invalid(
                        "mta_sts.mode",
                        format!("{other:?} is not auto, enforce, testing or none"),
                    ));
                }
            },
            // RFC 8461 §3.2: at most 31557600 (one year).
            max_age_secs: count(
                "mta_sts.max_age_secs",
                sts.max_age_secs,
                604_800,
                86_400,
                31_557_600,
            )?,
            mx: match sts.mx {
                Some(list) if !list.is_empty() => list
                    .into_iter()
                    .map(|m| {
                        let name = m.strip_prefix("*.").unwrap_or(&m);
                        Domain::parse(name)
                            .map(|_| m.to_ascii_lowercase())
                            .map_err(|_| invalid("mta_sts.mx", format!("{m:?} is not a host name")))
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(invalid("mta_sts.mx", "must list at least one MX host")),
                None => vec![hostname.to_string()],
            },
        };
        let sub = raw.submission.unwrap_or_default();
        let submission = SubmissionConfig {
            hide_client_ip: sub.hide_client_ip.unwrap_or(false),
            max_messages_per_hour: count(
                "submission.max_messages_per_hour",
                sub.max_messages_per_hour,
                300,
                1,
                1_000_000,
            )?,
            max_messages_per_day: count(
                "submission.max_messages_per_day",
                sub.max_messages_per_day,
                2000,
                1,
                10_000_000,
            )?,
            burst_factor: count("submission.burst_factor", sub.burst_factor, 10, 0, 1000)?,
            max_new_domains_per_hour: count(
                "submission.max_new_domains_per_hour",
                sub.max_new_domains_per_hour,
                30,
                0,
                100_000,
            )?,
            max_recipients_per_day: count(
                "submission.max_recipients_per_day",
                sub.max_recipients_per_day,
                5000,
                1,
                100_000_000,
            )?,
        };
        let d = raw.delivery.unwrap_or_default();
        let mut tls_policy = std::collections::BTreeMap::new();
        for (domain, p) in d.tls_policy.unwrap_or_default() {
            let key = format!("delivery.tls_policy.{domain}");
            let parsed = Domain::parse(&domain)
                .map_err(|_| invalid(&key, format!("{domain:?} is not a domain")))?;
            tls_policy.insert(parsed.to_string(), tls_policy_of(&key, &p)?);
        }
        let delivery = DeliveryConfig {
            smarthost: crate::smarthost::smarthost_config(
                d.smarthost,
                d.smarthost_user,
                d.smarthost_password_file,
            )?,
            tls_policy,
            mta_sts_port: count("delivery.mta_sts_port", d.mta_sts_port, 443, 1, 65_535)? as u16,
            wkd_port: count("delivery.wkd_port", d.wkd_port, 443, 1, 65_535)? as u16,
            max_connections_per_domain: count(
                "delivery.max_connections_per_domain",
                d.max_connections_per_domain,
                8,
                1,
                1000,
            )? as usize,
            connection_idle: secs(
                "delivery.connection_idle_secs",
                d.connection_idle_secs,
                5,
                0,
                300,
            )?,
            max_messages_per_connection: count(
                "delivery.max_messages_per_connection",
                d.max_messages_per_connection,
                100,
                1,
                10_000,
            )? as u32,
            remote_port: count("delivery.remote_port", d.remote_port, 25, 1, 65_535)? as u16,
            extra_ca_file: d.extra_ca_file,
            connect_timeout: secs(
                "delivery.connect_timeout_secs",
                d.connect_timeout_secs,
                30,
                1,
                600,
            )?,
            command_timeout: secs(
                "delivery.command_timeout_secs",
                d.command_timeout_secs,
                300,
                1,
                3600,
            )?,
        };
        let postmaster = match raw.postmaster {
            Some(p) => Some(
                palisade_types::Address::parse(&p)
                    .map_err(|e| invalid("postmaster", format!("{p:?}: {e}")))?,
            ),
            None => None,
        };
        let routes = crate::routes::routes_config(raw.route.unwrap_or_default())?;
        refuse_routing_loops(&routes, &hostname, &listeners)?;
        Ok(Config {
            routes,
            autoconfig,
            dashboard_flush,
            acme,
            dovecot: crate::dovecot::dovecot_config(raw.dovecot, hostname.as_str())?,
            log_format: log_format(raw.log)?,
            hostname,
            postmaster,
            listeners,
            tls,
            smtp,
            queue,
            metrics,
            dns: dns_config(raw.dns.unwrap_or_default())?,
            policy: policy_config(raw.policy.unwrap_or_default())?,
            reports,
            delivery,
            submission,
            web,
            mta_sts,
            security,
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
fn networks(key: &str, v: Option<Vec<String>>) -> Result<Vec<IpNet>, ConfigError> {
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
