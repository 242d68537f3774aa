//! One function per section of the configuration file, each turning its raw TOML
//! into the validated part of [`crate::Config`] (the checks that span sections stay
//! in `Config::from_raw`).

use crate::raw::{
    RawDelivery, RawListener, RawMtaSts, RawQueue, RawSecurity, RawSmtp, RawSubmission, RawTls,
    RawWeb,
};
use crate::validate::{
    DEFAULT_HOSTNAME, DEFAULT_MAX_MESSAGE_SIZE, count, invalid, networks, secs, socket_addr,
    tls_policy_of,
};
use crate::{
    BareLines, ConfigError, DeliveryConfig, Listener, ListenerKind, MtaStsConfig, MtaStsMode,
    QueueConfig, SecurityConfig, SmtpLimits, SubmissionConfig, TlsFiles,
};
use palisade_types::Domain;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// The `[web]` settings that `Config` keeps as fields of its own.
pub(crate) struct WebParts {
    pub address: Option<SocketAddr>,
    pub autoconfig: bool,
    pub dashboard_flush: Duration,
}

/// `hostname`: a host name, never an address literal.
pub(crate) fn hostname_of(hostname: Option<String>) -> Result<Domain, ConfigError> {
    let name = hostname.unwrap_or_else(|| DEFAULT_HOSTNAME.to_string());
    let hostname = match Domain::parse(&name) {
        Ok(d) if !name.starts_with('[') => d,
        _ => {
            return Err(invalid(
                "hostname",
                format!("{name:?} is not a valid host name"),
            ));
        }
    };
    Ok(hostname)
}

/// `[listener.NAME]`: each address used once, plaintext AUTH on loopback only.
pub(crate) fn listeners_config(
    raw: BTreeMap<String, RawListener>,
) -> Result<Vec<Listener>, ConfigError> {
    let mut listeners = Vec::new();
    for (name, l) in raw {
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
                    format!("{other:?} is not one of \"smtp\", \"submission\", \"submissions\""),
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
    Ok(listeners)
}

/// `[tls]`: both files or neither.
pub(crate) fn tls_files(raw: Option<RawTls>) -> Result<Option<TlsFiles>, ConfigError> {
    let tls = match raw {
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
    Ok(tls)
}

/// `[smtp]`: the session's limits and timeouts.
pub(crate) fn smtp_limits(s: RawSmtp) -> Result<SmtpLimits, ConfigError> {
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
        max_recipients: count("smtp.max_recipients", s.max_recipients, 100, 1, 100_000)? as usize,
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
    Ok(smtp)
}

/// `[queue]`: retries and their bounds.
pub(crate) fn queue_config(q: RawQueue) -> Result<QueueConfig, ConfigError> {
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
    Ok(queue)
}

/// `[security]`: lockouts, bans and per-address rates.
pub(crate) fn security_config(sec: RawSecurity) -> Result<SecurityConfig, ConfigError> {
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
    Ok(security)
}

/// `[web]`: the HTTPS listener and what it serves.
pub(crate) fn web_config(raw_web: RawWeb) -> Result<WebParts, ConfigError> {
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
    Ok(WebParts {
        address: web,
        autoconfig,
        dashboard_flush,
    })
}

/// `[mta_sts]`: `auto` enforces only with a certificate senders can validate
/// (`certified`: an operator's or ACME's).
pub(crate) fn mta_sts_config(
    sts: RawMtaSts,
    hostname: &Domain,
    certified: bool,
) -> Result<MtaStsConfig, ConfigError> {
    let mta_sts = MtaStsConfig {
        // `auto`: enforce once an operator certificate is configured; with the
        // generated self-signed one, senders could not validate us, so testing.
        mode: match sts.mode.as_deref().unwrap_or("auto") {
            "auto" if certified => MtaStsMode::Enforce,
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
    Ok(mta_sts)
}

/// `[submission]`: what one user may send.
pub(crate) fn submission_config(sub: RawSubmission) -> Result<SubmissionConfig, ConfigError> {
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
    Ok(submission)
}

/// `[delivery]`: outbound connections, TLS policies and the smarthost.
pub(crate) fn delivery_config(d: RawDelivery) -> Result<DeliveryConfig, ConfigError> {
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
    Ok(delivery)
}

/// `postmaster`: an address, when set.
pub(crate) fn postmaster_of(
    postmaster: Option<String>,
) -> Result<Option<palisade_types::Address>, ConfigError> {
    let postmaster = match postmaster {
        Some(p) => Some(
            palisade_types::Address::parse(&p)
                .map_err(|e| invalid("postmaster", format!("{p:?}: {e}")))?,
        ),
        None => None,
    };
    Ok(postmaster)
}
