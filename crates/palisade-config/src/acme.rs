//! `[acme]`: certificates from an ACME CA (RFC 8555), and which certificate is in force.
//!
//! One certificate covers the host name and `mta-sts.DOMAIN` of every local domain (when
//! the HTTPS listener serves the policies). The CA proves control of each name with
//! TLS-ALPN-01 (RFC 8737) on the HTTPS listener, or HTTP-01 on `acme.http_address`.

use crate::validate::{ConfigError, TlsFiles, invalid};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAcme {
    pub directory: Option<String>,
    pub contact: Option<Vec<String>>,
    pub challenge: Option<String>,
    pub http_address: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub check_interval_secs: Option<u64>,
}

/// Let's Encrypt's production directory (what `directory = "letsencrypt"` means).
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging directory (`directory = "letsencrypt-staging"`).
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// How the CA checks that we control a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcmeChallenge {
    /// RFC 8737: a TLS handshake with ALPN `acme-tls/1` on port 443 (the HTTPS listener).
    TlsAlpn01,
    /// RFC 8555 §8.3: `http://NAME/.well-known/acme-challenge/TOKEN` on port 80.
    Http01,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeConfig {
    /// The CA's directory URL (https).
    pub directory: String,
    /// `mailto:` URLs for the account (RFC 8555 §7.3).
    pub contact: Vec<String>,
    pub challenge: AcmeChallenge,
    /// The plain-HTTP listener that answers HTTP-01 (port 80); required for HTTP-01.
    pub http_address: Option<SocketAddr>,
    /// A root certificate (PEM) for the CA's own HTTPS, for a private CA; `None`: the
    /// system's roots.
    pub ca_file: Option<PathBuf>,
    /// How often the names and the renewal time are checked (a domain added is covered
    /// within this).
    pub check_interval: Duration,
}

pub(crate) fn acme_config(
    raw: Option<RawAcme>,
    web: Option<SocketAddr>,
) -> Result<Option<AcmeConfig>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let directory = match raw.directory.as_deref() {
        None => return Err(invalid("acme.directory", "is required in [acme]")),
        Some("letsencrypt") => LETS_ENCRYPT.to_string(),
        Some("letsencrypt-staging") => LETS_ENCRYPT_STAGING.to_string(),
        Some(url) if url.starts_with("https://") && url.len() > "https://".len() => url.into(),
        Some(other) => {
            return Err(invalid(
                "acme.directory",
                format!("{other:?}: an https:// URL, \"letsencrypt\" or \"letsencrypt-staging\""),
            ));
        }
    };
    let contact = raw.contact.unwrap_or_default();
    for c in &contact {
        let address = c.strip_prefix("mailto:").unwrap_or_default();
        if palisade_types::Address::parse(address).is_err() {
            return Err(invalid(
                "acme.contact",
                format!("{c:?} is not a mailto: URL with a mail address"),
            ));
        }
    }
    let challenge = match raw.challenge.as_deref().unwrap_or("tls-alpn-01") {
        "tls-alpn-01" => AcmeChallenge::TlsAlpn01,
        "http-01" => AcmeChallenge::Http01,
        other => {
            return Err(invalid(
                "acme.challenge",
                format!("{other:?}: \"tls-alpn-01\" or \"http-01\""),
            ));
        }
    };
    let http_address = match raw.http_address {
        Some(a) => Some(
            a.parse::<SocketAddr>()
                .map_err(|_| invalid("acme.http_address", format!("{a:?} is not IP:port")))?,
        ),
        None => None,
    };
    match challenge {
        AcmeChallenge::TlsAlpn01 if web.is_none() => {
            return Err(invalid(
                "acme.challenge",
                "tls-alpn-01 is answered on the HTTPS listener: set web.address (port 443), or use http-01",
            ));
        }
        AcmeChallenge::Http01 if http_address.is_none() => {
            return Err(invalid(
                "acme.http_address",
                "is required for http-01 (the port 80 listener, e.g. \"[::]:80\")",
            ));
        }
        _ => {}
    }
    let check = raw.check_interval_secs.unwrap_or(60);
    if !(1..=86_400).contains(&check) {
        return Err(invalid(
            "acme.check_interval_secs",
            format!("must be between 1 and 86400 seconds, got {check}"),
        ));
    }
    Ok(Some(AcmeConfig {
        directory,
        contact,
        challenge,
        http_address,
        ca_file: raw.ca_file,
        check_interval: Duration::from_secs(check),
    }))
}

/// Where the server's certificate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertSource {
    /// `[tls]` files (certbot or another tool renews them).
    Operator,
    /// Issued by `[acme]`; its key is kept across renewals.
    Acme,
    /// Generated for the host name (none of the above).
    SelfSigned,
    /// The generated one, served until `[acme]` has its first certificate: its key is
    /// about to be replaced, so no TLSA record is to be made of it.
    AwaitingAcme,
}

/// The certificate and key the server uses, and where they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInForce {
    pub files: TlsFiles,
    pub source: CertSource,
}

/// The files of the generated self-signed certificate.
pub fn self_signed_files(data: &Path) -> TlsFiles {
    TlsFiles {
        cert: data.join("tls/self-signed-cert.pem"),
        key: data.join("tls/self-signed-key.pem"),
    }
}

/// The files `[acme]` writes: the chain, and the key kept across renewals.
pub fn acme_files(data: &Path) -> TlsFiles {
    TlsFiles {
        cert: data.join("tls/acme-cert.pem"),
        key: data.join("tls/acme-key.pem"),
    }
}

impl crate::Config {
    /// The certificate in force: `[tls]` files; else the ACME certificate once issued
    /// (the self-signed one while it is awaited); else the self-signed one. The one rule
    /// the server, `dns records` and `doctor` use.
    pub fn certificate(&self, data: &Path) -> CertInForce {
        if let Some(files) = &self.tls {
            return CertInForce {
                files: files.clone(),
                source: CertSource::Operator,
            };
        }
        let acme = acme_files(data);
        let source = match &self.acme {
            Some(_) if acme.cert.exists() && acme.key.exists() => {
                return CertInForce {
                    files: acme,
                    source: CertSource::Acme,
                };
            }
            Some(_) => CertSource::AwaitingAcme,
            None => CertSource::SelfSigned,
        };
        CertInForce {
            files: self_signed_files(data),
            source,
        }
    }
}
