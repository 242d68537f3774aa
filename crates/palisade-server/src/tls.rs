//! TLS server configuration (rustls with aws-lc-rs only).
//!
//! Protocols: TLS 1.3 and 1.2. Cipher suites: only AEAD suites with ephemeral key
//! exchange (forward secrecy); rustls offers nothing else, and we list them explicitly
//! so that a change of defaults cannot widen the set. Certificates come from PEM files
//! (certbot's fullchain/privkey) or from a self-signed certificate generated once for the
//! hostname under `DATA/tls/`. [`TlsReloader`] re-reads the files when they change
//! (checked every few seconds) and on SIGHUP; new handshakes use the new certificate.

use crate::Shared;
use palisade_config::TlsFiles;
use rustls::ServerConfig;
use rustls::crypto::aws_lc_rs as provider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS certificate {path}: {problem}")]
    Certificate { path: PathBuf, problem: String },
    #[error("TLS key {path}: {problem}")]
    Key { path: PathBuf, problem: String },
    #[error("TLS configuration: {0}")]
    Config(String),
    #[error("generating self-signed certificate in {path}: {problem}")]
    SelfSigned { path: PathBuf, problem: String },
}

/// The files to load: `[tls]`'s, or the ACME certificate once issued; `None`: the
/// self-signed one (see [`palisade_config::Config::certificate`]).
/// An ACME pair that does not load (a key replaced, a file damaged) gives way to the
/// self-signed certificate, logged, so that the server starts and the ACME task
/// orders a new certificate for the key.
pub fn files_in_force(config: &palisade_config::Config, data_dir: &Path) -> Option<TlsFiles> {
    use palisade_config::CertSource;
    let c = config.certificate(data_dir);
    match c.source {
        CertSource::SelfSigned | CertSource::AwaitingAcme => None,
        CertSource::Operator => Some(c.files),
        CertSource::Acme => match server_config(&c.files) {
            Ok(_) => Some(c.files),
            Err(e) => {
                tracing::error!(
                    error = &e as &dyn std::error::Error,
                    "the ACME certificate does not load; serving the self-signed one until a new one is issued"
                );
                None
            }
        },
    }
}

/// How long a generated self-signed certificate is valid.
const SELF_SIGNED_DAYS: i64 = 365;
/// A self-signed certificate with less than this left is made anew at start.
const SELF_SIGNED_RENEW_DAYS: i64 = 30;

/// Creates the self-signed certificate for `hostname` unless a current one exists: one
/// for this host name with more than [`SELF_SIGNED_RENEW_DAYS`] left.
pub fn ensure_self_signed(data_dir: &Path, hostname: &str) -> Result<TlsFiles, TlsError> {
    let files = palisade_config::self_signed_files(data_dir);
    let now = palisade_queue::now_secs();
    if files.key.exists()
        && std::fs::read(&files.cert).is_ok_and(|pem| self_signed_is_current(&pem, hostname, now))
    {
        return Ok(files);
    }
    let err = |problem: String| TlsError::SelfSigned {
        path: files.cert.clone(),
        problem,
    };
    let ck = self_signed(hostname, now).map_err(|e| err(e.to_string()))?;
    if let Some(dir) = files.cert.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    write_private(&files.key, ck.signing_key.serialize_pem().as_bytes())
        .map_err(|e| err(e.to_string()))?;
    std::fs::write(&files.cert, ck.cert.pem()).map_err(|e| err(e.to_string()))?;
    tracing::info!(
        hostname,
        days = SELF_SIGNED_DAYS,
        "generated a self-signed certificate"
    );
    Ok(files)
}

/// A certificate named for the host (subject CN and the one SAN), valid from yesterday
/// (clock skew) for a year: not rcgen's default "rcgen self signed cert", 1975 to 4096.
fn self_signed(
    hostname: &str,
    now: i64,
) -> Result<rcgen::CertifiedKey<rcgen::KeyPair>, rcgen::Error> {
    let mut params = rcgen::CertificateParams::new(vec![hostname.to_string()])?;
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::CommonName, hostname);
    name.push(rcgen::DnType::OrganizationName, "Palisade self-signed");
    params.distinguished_name = name;
    let day = |offset: i64| {
        let (y, m, d) = crate::trace::civil_from_days(now / 86_400 + offset);
        rcgen::date_time_ymd(y as i32, m as u8, d as u8)
    };
    params.not_before = day(-1);
    params.not_after = day(SELF_SIGNED_DAYS);
    let signing_key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&signing_key)?;
    Ok(rcgen::CertifiedKey { cert, signing_key })
}

/// Whether the PEM certificate names `hostname` and is valid for more than the
/// renewal margin after `now`.
fn self_signed_is_current(pem: &[u8], hostname: &str, now: i64) -> bool {
    let Some(Ok(der)) = CertificateDer::pem_slice_iter(pem).next() else {
        return false;
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der.as_ref()) else {
        return false;
    };
    let named = cert
        .subject()
        .iter_common_name()
        .any(|cn| cn.as_str().is_ok_and(|n| n.eq_ignore_ascii_case(hostname)));
    let left = cert.validity().not_after.timestamp() - now;
    named && left > SELF_SIGNED_RENEW_DAYS * 86_400
}

/// Writes a file readable by its owner only.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Builds a rustls server configuration from PEM files.
pub fn server_config(files: &TlsFiles) -> Result<ServerConfig, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Certificate {
            path: files.cert.clone(),
            problem: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Certificate {
            path: files.cert.clone(),
            problem: "no certificate in file".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Key {
        path: files.key.clone(),
        problem: e.to_string(),
    })?;
    config_for(certs, key)
}

/// A server configuration for one certificate chain and key: TLS 1.3 and 1.2, the
/// suites below only. The key must match the chain's first certificate.
pub(crate) fn config_for(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, TlsError> {
    builder()?
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))
}

/// Like [`config_for`] for a certificate rustls cannot parse as an end entity: the ACME
/// validation certificate, whose critical acmeIdentifier extension (RFC 8737 §3) webpki
/// does not know. Nothing is checked of the pair; only our own making goes in here.
pub(crate) fn config_for_unchecked(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, TlsError> {
    let signing_key = provider::default_provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let certified = rustls::sign::CertifiedKey::new(vec![cert], signing_key);
    Ok(builder()?.with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified))))
}

fn builder()
-> Result<rustls::ConfigBuilder<ServerConfig, rustls::server::WantsServerCert>, TlsError> {
    let mut p = provider::default_provider();
    // Forward-secret AEAD suites only (all of these use ECDHE or TLS 1.3 key exchange).
    p.cipher_suites = vec![
        provider::cipher_suite::TLS13_AES_256_GCM_SHA384,
        provider::cipher_suite::TLS13_AES_128_GCM_SHA256,
        provider::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        provider::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    Ok(ServerConfig::builder_with_provider(Arc::new(p))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth())
}

fn mtimes(files: &TlsFiles) -> (Option<SystemTime>, Option<SystemTime>) {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (m(&files.cert), m(&files.key))
}

struct Current {
    files: TlsFiles,
    stamp: (Option<SystemTime>, Option<SystemTime>),
    config: Arc<ServerConfig>,
}

/// The TLS configuration in force, replaced when the files change.
pub struct TlsReloader {
    data_dir: PathBuf,
    hostname: String,
    current: RwLock<Current>,
}

impl TlsReloader {
    /// Loads the operator's files, or the self-signed ones (generated if missing).
    pub fn new(files: Option<TlsFiles>, data_dir: &Path, hostname: &str) -> Result<Self, TlsError> {
        let files = match files {
            Some(f) => f,
            None => ensure_self_signed(data_dir, hostname)?,
        };
        let config = Arc::new(server_config(&files)?);
        Ok(TlsReloader {
            data_dir: data_dir.to_path_buf(),
            hostname: hostname.to_string(),
            current: RwLock::new(Current {
                stamp: mtimes(&files),
                files,
                config,
            }),
        })
    }

    fn lock(&self) -> std::sync::RwLockWriteGuard<'_, Current> {
        self.current.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The configuration for a new handshake.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .config
            .clone()
    }

    /// Switches to other files (config reload); `None` means the self-signed ones.
    pub fn set_files(&self, files: Option<TlsFiles>) {
        let files = match files {
            Some(f) => f,
            None => match ensure_self_signed(&self.data_dir, &self.hostname) {
                Ok(f) => f,
                Err(e) => {
                    tracing::error!(
                        error = &e as &dyn std::error::Error,
                        "keeping the current certificate"
                    );
                    return;
                }
            },
        };
        let mut cur = self.lock();
        cur.files = files;
        cur.stamp = (None, None);
    }

    /// Re-reads the files if they changed. A broken new file keeps the old certificate
    /// in service (and is logged), so a half-finished renewal cannot take TLS down.
    pub fn reload(&self) {
        let (files, old_stamp) = {
            let cur = self.lock();
            (cur.files.clone(), cur.stamp)
        };
        let stamp = mtimes(&files);
        if stamp == old_stamp {
            return;
        }
        match server_config(&files) {
            Ok(c) => {
                let mut cur = self.lock();
                cur.config = Arc::new(c);
                cur.stamp = stamp;
                tracing::info!(cert = %files.cert.display(), "TLS certificate loaded");
            }
            Err(e) => {
                tracing::error!(
                    error = &e as &dyn std::error::Error,
                    "new TLS files rejected; keeping the current ones"
                )
            }
        }
    }
}

/// Polls the certificate files for changes.
pub async fn watch_files(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        shared.tls.reload();
    }
}

/// "TLSv1.3"-style name of a negotiated version.
pub fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Issue 15, Low: the generated certificate was "rcgen self signed cert", valid
    /// 1975-4096. Now it is named for the host, valid a year, and made anew at start
    /// when near expiry or for another host name.
    #[test]
    fn self_signed_certificate_is_named_for_the_host_and_valid_a_year() {
        let dir = tempfile::tempdir().unwrap();
        let now = palisade_queue::now_secs();
        let files = ensure_self_signed(dir.path(), "mx.example.test").unwrap();
        let pem = std::fs::read(&files.cert).unwrap();
        let der = CertificateDer::pem_slice_iter(&pem)
            .next()
            .unwrap()
            .unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).unwrap();
        assert_eq!(
            cert.subject()
                .iter_common_name()
                .next()
                .unwrap()
                .as_str()
                .unwrap(),
            "mx.example.test"
        );
        let days = |t: i64| (t - now) / 86_400;
        assert_eq!(days(cert.validity().not_before.timestamp()), -1);
        assert!((364..=365).contains(&days(cert.validity().not_after.timestamp())));
        assert!(self_signed_is_current(&pem, "mx.example.test", now));
        // Another host name, or 340 days on: renewed.
        assert!(!self_signed_is_current(&pem, "mx.other.test", now));
        assert!(!self_signed_is_current(
            &pem,
            "mx.example.test",
            now + 340 * 86_400
        ));
        ensure_self_signed(dir.path(), "mx.other.test").unwrap();
        let renewed = std::fs::read(&files.cert).unwrap();
        assert!(self_signed_is_current(&renewed, "mx.other.test", now));
        // A current one is kept as it is.
        ensure_self_signed(dir.path(), "mx.other.test").unwrap();
        assert_eq!(std::fs::read(&files.cert).unwrap(), renewed);
    }

    /// An ACME certificate that is not for the key on disk (a key replaced) must not
    /// stop the server: the self-signed one serves until a new one is issued.
    #[test]
    fn a_mismatched_acme_pair_gives_way_to_the_self_signed_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let config = palisade_config::parse(
            "[acme]\ndirectory = \"letsencrypt\"\nchallenge = \"http-01\"\nhttp_address = \"127.0.0.1:80\"\n",
        )
        .unwrap();
        let files = palisade_config::acme_files(dir.path());
        std::fs::create_dir_all(files.cert.parent().unwrap()).unwrap();
        let one = self_signed("mx.example.test", 0).unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        std::fs::write(&files.cert, one.cert.pem()).unwrap();
        std::fs::write(&files.key, one.signing_key.serialize_pem()).unwrap();
        assert_eq!(files_in_force(&config, dir.path()), Some(files.clone()));
        std::fs::write(&files.key, other.serialize_pem()).unwrap();
        assert_eq!(files_in_force(&config, dir.path()), None);
    }
}
