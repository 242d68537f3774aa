//! Certificates from an ACME CA (RFC 8555), with instant-acme.
//!
//! One task orders one certificate for the host name and `mta-sts.DOMAIN` of every local
//! domain (when the HTTPS listener serves the policies). It checks every
//! `acme.check_interval`: an order is due when there is no certificate, when a name is
//! not covered (a domain was added), or when two thirds of the lifetime have passed. The
//! key (ECDSA P-256, `DATA/tls/acme-key.pem`) is made once and kept, so a TLSA `3 1 1`
//! record stays valid across renewals. The new chain is written beside the key and
//! loaded by the [`crate::tls::TlsReloader`]: new handshakes use it, no restart.
//!
//! A name the CA refuses (say `mta-sts.` of a domain whose DNS is not published yet) is
//! left out for an hour and the certificate is issued for the others; a refused host
//! name, or any other failure, is retried after the check interval, doubled after each
//! failure up to six hours.

use crate::Shared;
use crate::tls::{TlsError, config_for, config_for_unchecked, write_private};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, Order, OrderStatus, RetryPolicy,
};
use palisade_config::{AcmeChallenge, AcmeConfig, TlsFiles};
use palisade_web::acme::{ACME_TLS_ALPN, AcmeChallenges};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("ACME: {0}")]
    Protocol(#[from] instant_acme::Error),
    #[error("the CA refused {names:?}: {detail}")]
    Refused { names: Vec<String>, detail: String },
    #[error("the order did not become ready: {0}")]
    Order(String),
    #[error("the CA offers no {0} challenge for {1}")]
    NoChallenge(&'static str, String),
    #[error("certificate request: {0}")]
    Request(#[from] rcgen::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("{path}: {error}")]
    File {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Account { path: PathBuf, problem: String },
    #[error("store: {0}")]
    Store(#[from] palisade_store::StoreError),
    #[error("the CA's certificate chain cannot be read: {0}")]
    BadChain(String),
}

/// A refused name (not the host name) is left out of orders for this long.
const DEFER_SECS: i64 = 3600;
/// The longest wait after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// How long an order may take to become ready, and its certificate to be issued.
const ORDER_TIMEOUT: Duration = Duration::from_secs(120);

/// What we know of the certificate we hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub names: BTreeSet<String>,
    pub not_before: i64,
    pub not_after: i64,
}

impl Held {
    /// The DNS names and validity of the first certificate of a PEM chain.
    pub fn read(pem: &[u8]) -> Option<Held> {
        let der = CertificateDer::pem_slice_iter(pem).next()?.ok()?;
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
        let names = cert
            .subject_alternative_name()
            .ok()??
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                _ => None,
            })
            .collect();
        Some(Held {
            names,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
        })
    }

    /// When to renew: two thirds into the lifetime (30 days before the end of a 90-day
    /// certificate, as Let's Encrypt advises).
    pub fn renew_at(&self) -> i64 {
        self.not_before + (self.not_after - self.not_before) * 2 / 3
    }
}

/// Why an order is due now, if it is.
pub fn due(held: Option<&Held>, wanted: &BTreeSet<String>, now: i64) -> Option<&'static str> {
    match held {
        None => Some("no certificate yet"),
        Some(h) if !wanted.is_subset(&h.names) => Some("a name is not covered yet"),
        Some(h) if now >= h.renew_at() => Some("two thirds of its lifetime have passed"),
        Some(_) => None,
    }
}

/// The names the certificate must cover: the host name, and `mta-sts.DOMAIN` of every
/// local domain when the HTTPS listener serves the policies.
async fn wanted_names(shared: &Shared) -> Result<BTreeSet<String>, AcmeError> {
    let cfg = shared.config();
    let mut names = BTreeSet::from([cfg.hostname.to_string()]);
    if cfg.web.is_some() {
        for d in shared.store.list_domains().await? {
            names.insert(format!("mta-sts.{d}"));
        }
    }
    Ok(names)
}

/// What `config check` and `serve` check of `[acme]`: the CA root file holds a
/// certificate (an error); a host name a public CA cannot issue for (a warning).
pub fn preflight(
    acme: &AcmeConfig,
    config: &palisade_config::Config,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    if let Some(root) = &acme.ca_file {
        match CertificateDer::from_pem_file(root) {
            Ok(_) => {}
            Err(e) => return Err(format!("acme.ca_file {}: {e}", root.display())),
        }
    }
    if !config.hostname.as_str().contains('.') {
        warnings.push(format!(
            "acme: the host name {:?} is not a fully-qualified name; no CA will issue a certificate for it (set hostname)",
            config.hostname.as_str()
        ));
    }
    Ok(())
}

/// Runs for the server's life (does nothing while `[acme]` is absent).
pub async fn run(shared: Arc<Shared>, challenges: Arc<AcmeChallenges>) {
    let mut client = Client::default();
    loop {
        let wait = match shared.config().acme.clone() {
            Some(acme) => client.step(&shared, &acme, &challenges).await,
            None => Duration::from_secs(60),
        };
        tokio::time::sleep(wait).await;
    }
}

#[derive(Default)]
struct Client {
    /// The account, for the directory it is registered with.
    account: Option<(String, Account)>,
    /// Names left out until the given Unix time.
    deferred: HashMap<String, i64>,
    /// Failures in a row.
    failures: u32,
}

impl Client {
    /// One check (and order, when due); how long to wait before the next.
    async fn step(&mut self, shared: &Shared, acme: &AcmeConfig, ch: &AcmeChallenges) -> Duration {
        let now = palisade_queue::now_secs();
        let files = palisade_config::acme_files(&shared.data_dir);
        let held = std::fs::read(&files.cert).ok().and_then(|p| Held::read(&p));
        let wanted = match wanted_names(shared).await {
            Ok(w) => w,
            Err(e) => return self.failed(acme, &e),
        };
        self.deferred.retain(|_, until| *until > now);
        let wanted: BTreeSet<String> = wanted
            .into_iter()
            .filter(|n| !self.deferred.contains_key(n))
            .collect();
        let Some(reason) = due(held.as_ref(), &wanted, now) else {
            self.failures = 0;
            let renew_in = held.map_or(0, |h| h.renew_at() - now).max(1);
            return acme
                .check_interval
                .min(Duration::from_secs(renew_in as u64));
        };
        tracing::info!(reason, names = ?wanted, "ordering a certificate from the ACME CA");
        match self.obtain(shared, acme, ch, &wanted, &files).await {
            Ok(()) => {
                self.failures = 0;
                acme.check_interval
            }
            Err(AcmeError::Refused { names, detail })
                if !names.contains(&shared.config().hostname.to_string()) =>
            {
                tracing::warn!(
                    ?names,
                    detail,
                    "the CA refused these names; ordering without them for an hour"
                );
                for n in names {
                    self.deferred.insert(n, now + DEFER_SECS);
                }
                Duration::ZERO
            }
            Err(e) => self.failed(acme, &e),
        }
    }

    fn failed(&mut self, acme: &AcmeConfig, e: &AcmeError) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let wait = acme
            .check_interval
            .saturating_mul(1 << self.failures.min(16).saturating_sub(1))
            .min(MAX_BACKOFF);
        tracing::error!(
            error = e as &dyn std::error::Error,
            retry_in_secs = wait.as_secs(),
            "no certificate from the ACME CA"
        );
        wait
    }

    async fn obtain(
        &mut self,
        shared: &Shared,
        acme: &AcmeConfig,
        challenges: &AcmeChallenges,
        names: &BTreeSet<String>,
        files: &TlsFiles,
    ) -> Result<(), AcmeError> {
        let account = self.account(&shared.data_dir, acme).await?;
        let key = load_or_make_key(&files.key)?;
        let hostname = shared.config().hostname.to_string();
        let ordered: Vec<String> = std::iter::once(hostname.clone())
            .chain(names.iter().filter(|n| **n != hostname).cloned())
            .collect();
        let chain = order(&account, &ordered, &key, acme.challenge, challenges).await;
        challenges.clear();
        install(shared, files, &chain?)
    }

    /// The account registered with the configured directory: from memory, from
    /// `DATA/acme/account.json`, or created (and saved there, owner-only).
    async fn account(&mut self, data: &Path, acme: &AcmeConfig) -> Result<Account, AcmeError> {
        if let Some((dir, account)) = &self.account
            && *dir == acme.directory
        {
            return Ok(account.clone());
        }
        let path = data.join("acme/account.json");
        let builder = || match &acme.ca_file {
            Some(root) => Account::builder_with_root(root),
            None => Account::builder(),
        };
        let account = match read_saved(&path)? {
            Some(saved) if saved.directory == acme.directory => {
                builder()?.from_credentials(saved.credentials).await?
            }
            _ => {
                let contact: Vec<&str> = acme.contact.iter().map(String::as_str).collect();
                let new = NewAccount {
                    contact: &contact,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                };
                let (account, credentials) = builder()?
                    .create(&new, acme.directory.clone(), None)
                    .await?;
                save_account(&path, &acme.directory, credentials)?;
                tracing::info!(directory = acme.directory, "ACME account created");
                account
            }
        };
        self.account = Some((acme.directory.clone(), account.clone()));
        Ok(account)
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SavedAccount {
    directory: String,
    credentials: AccountCredentials,
}

fn read_saved(path: &Path) -> Result<Option<SavedAccount>, AcmeError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| AcmeError::Account {
                path: path.to_path_buf(),
                problem: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(AcmeError::File {
            path: path.to_path_buf(),
            error,
        }),
    }
}

fn save_account(
    path: &Path,
    directory: &str,
    credentials: AccountCredentials,
) -> Result<(), AcmeError> {
    let saved = SavedAccount {
        directory: directory.to_string(),
        credentials,
    };
    let json = serde_json::to_vec_pretty(&saved).map_err(|e| AcmeError::Account {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })?;
    let file_err = |error| AcmeError::File {
        path: path.to_path_buf(),
        error,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(file_err)?;
    }
    write_private(path, &json).map_err(file_err)
}

/// The certificate's key: the one on disk, or a new ECDSA P-256 key written owner-only.
fn load_or_make_key(path: &Path) -> Result<rcgen::KeyPair, AcmeError> {
    let file_err = |error| AcmeError::File {
        path: path.to_path_buf(),
        error,
    };
    match std::fs::read_to_string(path) {
        Ok(pem) => Ok(rcgen::KeyPair::from_pem(&pem)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = rcgen::KeyPair::generate()?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(file_err)?;
            }
            write_private(path, key.serialize_pem().as_bytes()).map_err(file_err)?;
            Ok(key)
        }
        Err(e) => Err(file_err(e)),
    }
}

/// One order: the challenges answered, the CSR for our key sent, the chain (PEM) back.
async fn order(
    account: &Account,
    names: &[String],
    key: &rcgen::KeyPair,
    kind: AcmeChallenge,
    challenges: &AcmeChallenges,
) -> Result<String, AcmeError> {
    let ids: Vec<Identifier> = names.iter().map(|n| Identifier::Dns(n.clone())).collect();
    let mut order = account.new_order(&NewOrder::new(&ids)).await?;
    answer(&mut order, kind, challenges).await?;
    let retry = RetryPolicy::new().timeout(ORDER_TIMEOUT);
    let ready = order.poll_ready(&retry).await;
    if !matches!(ready, Ok(OrderStatus::Ready)) {
        // The names the CA refused, if that is why; else what went wrong.
        return Err(match (refused(&mut order).await, ready) {
            (Some(refused), _) => refused,
            (None, Err(e)) => e.into(),
            (None, Ok(status)) => AcmeError::Order(format!("{status:?}")),
        });
    }
    order.finalize_csr(&request(names, key)?).await?;
    Ok(order.poll_certificate(&retry).await?)
}

/// Puts the answer to each pending authorization's challenge in place and tells the CA.
async fn answer(
    order: &mut Order,
    kind: AcmeChallenge,
    challenges: &AcmeChallenges,
) -> Result<(), AcmeError> {
    let (wanted, label) = match kind {
        AcmeChallenge::TlsAlpn01 => (ChallengeType::TlsAlpn01, "tls-alpn-01"),
        AcmeChallenge::Http01 => (ChallengeType::Http01, "http-01"),
    };
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz?;
        if authz.status == AuthorizationStatus::Valid {
            continue;
        }
        let name = authz.identifier().to_string();
        let mut challenge = authz
            .challenge(wanted.clone())
            .ok_or_else(|| AcmeError::NoChallenge(label, name.clone()))?;
        let key_authorization = challenge.key_authorization();
        match kind {
            AcmeChallenge::TlsAlpn01 => {
                let config = validation_config(&name, key_authorization.digest().as_ref())?;
                challenges.set_alpn(&name, Arc::new(config));
            }
            AcmeChallenge::Http01 => {
                challenges.set_http(&challenge.token, key_authorization.as_str())
            }
        }
        challenge.set_ready().await?;
    }
    Ok(())
}

/// The names whose authorization failed, and the CA's reasons; `None` if none did.
async fn refused(order: &mut Order) -> Option<AcmeError> {
    let (mut names, mut details) = (Vec::new(), Vec::new());
    let mut authorizations = order.authorizations();
    while let Some(Ok(authz)) = authorizations.next().await {
        if authz.status != AuthorizationStatus::Invalid {
            continue;
        }
        let name = authz.identifier().to_string();
        let why = authz
            .challenges
            .iter()
            .filter_map(|c| c.error.as_ref()?.detail.clone())
            .next()
            .unwrap_or_else(|| "no reason given".into());
        details.push(format!("{name}: {why}"));
        names.push(name);
    }
    (!names.is_empty()).then(|| AcmeError::Refused {
        names,
        detail: details.join("; "),
    })
}

/// RFC 8737 §3: a self-signed certificate for `name` alone with the critical
/// acmeIdentifier extension holding SHA-256 of the key authorization; served only with
/// ALPN `acme-tls/1`.
fn validation_config(name: &str, digest: &[u8]) -> Result<rustls::ServerConfig, AcmeError> {
    let (cert, key) = validation_cert(name, digest)?;
    let mut config = config_for_unchecked(cert, key)?;
    config.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
    Ok(config)
}

fn validation_cert(
    name: &str,
    digest: &[u8],
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), rcgen::Error> {
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()])?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let cert = params.self_signed(&key)?;
    Ok((
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    ))
}

/// The CSR (DER) for `names` with our key. RFC 8555 §7.4: the CA takes the names from
/// the subjectAltName extension; the subject is left empty.
fn request(names: &[String], key: &rcgen::KeyPair) -> Result<Vec<u8>, rcgen::Error> {
    let mut params = rcgen::CertificateParams::new(names.to_vec())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    Ok(params.serialize_request(key)?.der().to_vec())
}

/// Checks the chain against our key, writes it (a new file renamed over the old one)
/// and has new handshakes use it.
fn install(shared: &Shared, files: &TlsFiles, chain: &str) -> Result<(), AcmeError> {
    let certs = CertificateDer::pem_slice_iter(chain.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AcmeError::BadChain(e.to_string()))?;
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(|e| AcmeError::BadChain(e.to_string()))?;
    config_for(certs, key)?;
    let tmp = files.cert.with_extension("pem.new");
    let file_err = |error| AcmeError::File {
        path: files.cert.clone(),
        error,
    };
    write_private(&tmp, chain.as_bytes()).map_err(file_err)?;
    std::fs::rename(&tmp, &files.cert).map_err(file_err)?;
    let held = Held::read(chain.as_bytes());
    tracing::info!(
        names = ?held.as_ref().map(|h| &h.names),
        renew_in_secs = held.as_ref().map(|h| h.renew_at() - palisade_queue::now_secs()),
        "ACME certificate installed"
    );
    shared.tls.set_files(Some(files.clone()));
    shared.tls.reload();
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use x509_parser::prelude::FromDer;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn an_order_is_due_without_a_certificate_for_a_new_name_and_at_two_thirds() {
        let held = Held {
            names: set(&["mx.example.test", "mta-sts.example.test"]),
            not_before: 0,
            not_after: 90 * 86_400,
        };
        assert_eq!(held.renew_at(), 60 * 86_400);
        let wanted = set(&["mx.example.test", "mta-sts.example.test"]);
        assert!(due(None, &wanted, 0).is_some());
        assert_eq!(due(Some(&held), &wanted, 59 * 86_400), None);
        assert!(due(Some(&held), &wanted, 60 * 86_400).is_some());
        // A domain added: its name is not covered.
        let more = set(&[
            "mx.example.test",
            "mta-sts.example.test",
            "mta-sts.new.test",
        ]);
        assert!(due(Some(&held), &more, 0).is_some());
        // A domain removed: the certificate still serves.
        assert_eq!(due(Some(&held), &set(&["mx.example.test"]), 0), None);
    }

    /// RFC 8737 §3: the validation certificate names the one identifier and carries the
    /// key authorization's digest in a critical acmeIdentifier extension.
    #[test]
    fn the_validation_certificate_carries_the_digest() {
        let digest = [7u8; 32];
        let config = validation_config("mx.example.test", &digest).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"acme-tls/1".to_vec()]);
        let (der, _) = validation_cert("mx.example.test", &digest).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap().value;
        assert_eq!(san.general_names.len(), 1);
        let ext = cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
            .unwrap();
        assert!(ext.critical);
        // An OCTET STRING of 32 octets: 04 20 then the digest.
        assert_eq!(&ext.value[..2], &[0x04, 0x20]);
        assert_eq!(&ext.value[2..], &digest);
    }

    #[test]
    fn the_request_names_every_name_and_no_subject() {
        let key = rcgen::KeyPair::generate().unwrap();
        let der = request(
            &["mx.example.test".into(), "mta-sts.example.test".into()],
            &key,
        )
        .unwrap();
        let (_, csr) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&der).unwrap();
        assert_eq!(csr.certification_request_info.subject.iter().count(), 0);
        let names: Vec<String> = csr
            .requested_extensions()
            .into_iter()
            .flatten()
            .filter_map(|e| match e {
                x509_parser::extensions::ParsedExtension::SubjectAlternativeName(san) => Some(san),
                _ => None,
            })
            .flat_map(|san| san.general_names.iter().map(|n| n.to_string()))
            .collect();
        assert_eq!(
            names,
            vec!["DNSName(mx.example.test)", "DNSName(mta-sts.example.test)"]
        );
    }

    #[test]
    fn the_key_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tls/acme-key.pem");
        let first = load_or_make_key(&path).unwrap().serialize_pem();
        let again = load_or_make_key(&path).unwrap().serialize_pem();
        assert_eq!(first, again);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
