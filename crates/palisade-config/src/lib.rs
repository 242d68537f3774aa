//! Palisade configuration in two layers (DESIGN §7.6).
//!
//! [`RawConfig`] mirrors `palisade.toml` exactly: serde with `deny_unknown_fields`, every
//! key optional. [`Config::from_raw`] validates it and fills in the defaults documented in
//! `docs/CONFIG.md` (kept in step by the `every_key_is_documented` test). Every error
//! names the full key at fault, e.g. `listener.inbound.address`.
//!
//! The defaults are the embedded, loopback-only setup that `palisade serve` runs with on a
//! fresh machine; [`production_toml`] is what `palisade init` writes.

mod acme;
mod clients;
mod dovecot;
mod phishing;
mod raw;
mod routes;
mod scanners;
mod sections;
mod smarthost;
mod store;
mod validate;

pub use acme::{
    AcmeChallenge, AcmeConfig, CertInForce, CertSource, LETS_ENCRYPT, LETS_ENCRYPT_STAGING,
    acme_files, self_signed_files,
};
pub use clients::{ClientServer, ClientServers};
pub use dovecot::{DovecotConfig, Endpoint};
pub use phishing::{OutboundAction, PhishingConfig};
pub use raw::{RawConfig, RawListener};
pub use routes::{NextHop, Route};
pub use scanners::{ClamavConfig, ClamdAddress, OnFailure, RspamdConfig, ScannersConfig};
pub use smarthost::Smarthost;
pub use store::{SECRET_KEY_ENV, SECRET_KEY_FILE, STORE_URL_ENV, StoreConfig};
pub use validate::{
    BareLines, Config, ConfigError, DeliveryConfig, DnsConfig, DomainTlsPolicy, EncryptionConfig,
    Listener, ListenerKind, LogFormat, MtaStsConfig, MtaStsMode, PolicyConfig, QueueConfig,
    ReportsConfig, SecurityConfig, SmtpLimits, SubmissionConfig, TlsFiles, nameserver,
};

/// Parses and validates a TOML document.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Toml {
        message: e.message().to_string(),
        span: e.span().map(|s| line_col(text, s.start)),
    })?;
    Config::from_raw(raw)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The config `palisade serve` writes on first run: loopback, unprivileged ports.
pub fn default_toml(hostname: &str) -> String {
    format!(
        r#"# Palisade configuration. Every key and its default: docs/CONFIG.md.
# This is the embedded development default: loopback addresses, unprivileged ports.
hostname = "{hostname}"

[listener.inbound]
address = "127.0.0.1:2525"
kind = "smtp"

[listener.submission]
address = "127.0.0.1:5870"
kind = "submission"

[listener.submissions]
address = "127.0.0.1:4650"
kind = "submissions"

[metrics]
address = "127.0.0.1:9025"

[policy]
# Development default: mail from this machine skips sender authentication (SPF, DKIM,
# DMARC), so the test message in the README is accepted without DNS. Remove this line
# to see the checks act on local mail too. `palisade init` does not write it.
trusted_networks = ["127.0.0.0/8", "::1/128"]
"#
    )
}

/// The config `palisade init` writes: public ports on all interfaces.
pub fn production_toml(hostname: &str) -> String {
    format!(
        r#"# Palisade production configuration. Every key and its default: docs/CONFIG.md.
hostname = "{hostname}"

# Certificates from Let's Encrypt, renewed automatically: once the A/AAAA records of
# {hostname} and mta-sts.DOMAIN point here, uncomment [web] and [acme]
# (docs/production.md). Or name PEM files in [tls] (e.g. from certbot). Until either is
# set, Palisade uses a self-signed certificate generated in the data directory.
# [web]
# address = "[::]:443"
# [acme]
# directory = "letsencrypt"
# contact = ["mailto:you@example.com"]
#
# [tls]
# cert = "/etc/letsencrypt/live/{hostname}/fullchain.pem"
# key = "/etc/letsencrypt/live/{hostname}/privkey.pem"

[listener.inbound]
address = "[::]:25"
kind = "smtp"

[listener.submission]
address = "[::]:587"
kind = "submission"

[listener.submissions]
address = "[::]:465"
kind = "submissions"

[metrics]
address = "127.0.0.1:9025"

# Mailboxes served by Dovecot over IMAP (docs/dovecot.md): local mail goes to its LMTP
# service, and its logins are checked here (`palisade auth checkpassword`).
# [dovecot]
# lmtp = "lmtp:///run/dovecot/lmtp-palisade"
# auth_socket = "/run/palisade/auth.sock"
"#
    )
}

#[cfg(test)]
mod tests;
