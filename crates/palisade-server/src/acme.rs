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
//! A name the CA refuses (say `mta-sts.` of a domain whose DNS is not published yet, or
//! one it rejects outright) is left out for an hour, then two, four, up to a day, and
//! the certificate is issued for the others. A refused host name, or any other failure,
//! is retried after fifteen minutes, doubled after each failure up to six hours: Let's
//! Encrypt allows five failed validations per name per hour. An order has ten minutes.

use crate::Shared;
use crate::tls::{TlsError, config_for, config_for_unchecked, write_private};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, Order, OrderStatus, RetryPolicy,
};
use palisade_config::{AcmeChallenge, AcmeConfig, TlsFiles};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The ALPN protocol of TLS-ALPN-01 (RFC 8737 §6.2).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// The answers to the CA's challenges while an order is open: TLS-ALPN-01 (RFC 8737)
/// on the HTTPS listener, HTTP-01 (RFC 8555 §8.3) on the port 80 listener, which serve
/// them (the binary connects them to the web console's listeners).
#[derive(Default)]
pub struct AcmeChallenges {
    /// TLS-ALPN-01: the validation certificate's configuration, by lower-case DNS name.
    alpn: RwLock<HashMap<String, Arc<rustls::ServerConfig>>>,
    /// HTTP-01: the key authorization, by token.
    http: RwLock<HashMap<String, String>>,
}

impl AcmeChallenges {
    /// Answers TLS-ALPN-01 for `name` with `config` (its one certificate is the
    /// validation certificate; its one ALPN protocol `acme-tls/1`).
    pub fn set_alpn(&self, name: &str, config: Arc<rustls::ServerConfig>) {
        self.alpn
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_ascii_lowercase(), config);
    }

    /// Answers HTTP-01 for `token` with `key_authorization`.
    pub fn set_http(&self, token: &str, key_authorization: &str) {
        self.http
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_string(), key_authorization.to_string());
    }

    /// Forgets every answer (the order ended).
    pub fn clear(&self) {
        self.alpn.write().unwrap_or_else(|e| e.into_inner()).clear();
        self.http.write().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The TLS-ALPN-01 answer for `name` (lower case).
    pub fn alpn(&self, name: &str) -> Option<Arc<rustls::ServerConfig>> {
        let answers = self.alpn.read().unwrap_or_else(|e| e.into_inner());
        answers.get(name).cloned()
    }

    /// The HTTP-01 answer for `token`.
    pub fn http(&self, token: &str) -> Option<String> {
        let answers = self.http.read().unwrap_or_else(|e| e.into_inner());
        answers.get(token).cloned()
    }
}

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
    #[error("the certificate key {path}: {problem}")]
    Key { path: PathBuf, problem: String },
    #[error("store: {0}")]
    Store(#[from] palisade_store::StoreError),
    #[error("the CA's certificate chain cannot be read: {0}")]
    BadChain(String),
}

/// A refused name (not the host name) is first left out of orders for this long.
const DEFER_SECS: i64 = 3600;
/// The longest wait after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// How long an order may take to become ready, and its certificate to be issued.
const ORDER_TIMEOUT: Duration = Duration::from_secs(120);

/// What we know of the certificate we hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub names: BTreeSet<String>,
    /// The SubjectPublicKeyInfo (DER): it must be our key's.
    pub spki: Vec<u8>,
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
            spki: cert.tbs_certificate.subject_pki.raw.to_vec(),
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

/// Why an order is due now, if it is. `key` is our key's SubjectPublicKeyInfo, when
/// the key exists.
pub fn due(
    held: Option<&Held>,
    key: Option<&[u8]>,
    wanted: &BTreeSet<String>,
    now: i64,
) -> Option<&'static str> {
    match held {
        None => Some("no certificate yet"),
        Some(h) if key != Some(h.spki.as_slice()) => Some("the certificate is not for our key"),
        Some(h) if !wanted.is_subset(&h.names) => Some("a name is not covered yet"),
        Some(h) if now >= h.renew_at() => Some("two thirds of its lifetime have passed"),
        Some(_) => None,
    }
}

/// The most names one order carries (Let's Encrypt's limit).
const MAX_NAMES: usize = 100;

/// The names the certificate must cover: the host name, `mta-sts.DOMAIN` of every local
/// domain when the HTTPS listener serves the policies, and `autoconfig.DOMAIN` and
/// `autodiscover.DOMAIN` with `web.autoconfig`. Only names a CA takes: ASCII (an
/// internationalised domain is left out, and logged), at most [`MAX_NAMES`].
async fn wanted_names(
    cfg: &palisade_config::Config,
    store: &dyn palisade_store::Store,
) -> Result<BTreeSet<String>, AcmeError> {
    let mut names = BTreeSet::from([cfg.hostname.to_string()]);
    if cfg.web.is_none() {
        return Ok(names);
    }
    let labels: &[&str] = if cfg.autoconfig {
        &["mta-sts", "autoconfig", "autodiscover"]
    } else {
        &["mta-sts"]
    };
    for d in store.list_domains().await? {
        for label in labels {
            let name = format!("{label}.{d}");
            if !name.is_ascii() {
                tracing::warn!(name, "left out of the ACME certificate: not an ASCII name");
            } else if names.len() >= MAX_NAMES {
                tracing::warn!(
                    name,
                    "left out of the ACME certificate: {MAX_NAMES} names already"
                );
            } else {
                names.insert(name);
            }
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
        let cfg = shared.config();
        let wait = match &cfg.acme {
            Some(acme) => client.step(&shared, &cfg, acme, &challenges).await,
            None => Duration::from_secs(60),
        };
        tokio::time::sleep(wait).await;
    }
}

/// The first wait after a failed order (Let's Encrypt allows five failed validations
/// per name per hour), doubled after each further failure up to [`MAX_BACKOFF`].
const RETRY_FLOOR: Duration = Duration::from_secs(15 * 60);
/// The longest an order may take, CA connections included.
const OBTAIN_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Default)]
struct Client {
    /// The account, for the directory it is registered with.
    account: Option<(String, Account)>,
    /// Names the CA refused: left out until the given Unix time; how often refused.
    deferred: HashMap<String, (i64, u32)>,
    /// Failures in a row.
    failures: u32,
}

impl Client {
    /// One check (and order, when due); how long to wait before the next.
    async fn step(
        &mut self,
        shared: &Shared,
        cfg: &palisade_config::Config,
        acme: &AcmeConfig,
        ch: &AcmeChallenges,
    ) -> Duration {
        let now = palisade_queue::now_secs();
        let files = palisade_config::acme_files(&shared.data_dir);
        let held = std::fs::read(&files.cert).ok().and_then(|p| Held::read(&p));
        let key = std::fs::read_to_string(&files.key)
            .ok()
            .and_then(|pem| rcgen::KeyPair::from_pem(&pem).ok())
            .map(|k| rcgen::PublicKeyData::subject_public_key_info(&k));
        let wanted = match wanted_names(cfg, shared.store.as_ref()).await {
            Ok(w) => self.not_deferred(w, now),
            Err(e) => return self.failed(&e),
        };
        let Some(reason) = due(held.as_ref(), key.as_deref(), &wanted, now) else {
            self.failures = 0;
            let renew_in = held.map_or(0, |h| h.renew_at() - now).max(1);
            return acme
                .check_interval
                .min(Duration::from_secs(renew_in as u64));
        };
        tracing::info!(reason, names = ?wanted, "ordering a certificate from the ACME CA");
        let host = cfg.hostname.to_string();
        let obtained = tokio::time::timeout(
            OBTAIN_TIMEOUT,
            self.obtain(shared, acme, ch, &host, &wanted, &files),
        )
        .await
        .unwrap_or(Err(AcmeError::Order("no answer within ten minutes".into())));
        ch.clear();
        match obtained {
            Ok(()) => {
                self.failures = 0;
                self.deferred.retain(|n, _| !wanted.contains(n));
                acme.check_interval
            }
            Err(AcmeError::Refused { names, detail }) if !names.contains(&host) => {
                self.defer(names, &detail, now);
                // The other names' authorizations are valid now: order them at once.
                Duration::from_secs(1)
            }
            Err(e) => self.failed(&e),
        }
    }

    /// `wanted` without the names whose deferral has not run out.
    fn not_deferred(&self, wanted: BTreeSet<String>, now: i64) -> BTreeSet<String> {
        wanted
            .into_iter()
            .filter(|n| self.deferred.get(n).is_none_or(|(until, _)| *until <= now))
            .collect()
    }

    /// Leaves refused names out for an hour, doubled at each refusal up to a day.
    fn defer(&mut self, names: Vec<String>, detail: &str, now: i64) {
        for n in names {
            let refusals = self.deferred.get(&n).map_or(0, |(_, r)| *r) + 1;
            let secs = (DEFER_SECS << (refusals - 1).min(5)).min(86_400);
            tracing::warn!(
                name = n,
                detail,
                retry_in_secs = secs,
                "the CA refused this name; the certificate is ordered without it"
            );
            self.deferred.insert(n, (now + secs, refusals));
        }
    }

    fn failed(&mut self, e: &AcmeError) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let doublings = self.failures.min(16) - 1;
        let wait = RETRY_FLOOR
            .saturating_mul(2u32.saturating_pow(doublings))
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
        host: &str,
        names: &BTreeSet<String>,
        files: &TlsFiles,
    ) -> Result<(), AcmeError> {
        let account = self.account(&shared.data_dir, acme).await?;
        let key = load_or_make_key(&files.key)?;
        let ordered: Vec<String> = std::iter::once(host.to_string())
            .chain(names.iter().filter(|n| *n != host).cloned())
            .collect();
        let chain = order(&account, &ordered, &key, acme.challenge, challenges).await?;
        install(shared, files, &chain)
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
    replace_file(path, &json)
}

/// The certificate's key: the one on disk, or a new ECDSA P-256 key written owner-only.
fn load_or_make_key(path: &Path) -> Result<rcgen::KeyPair, AcmeError> {
    let key_err = |problem: String| AcmeError::Key {
        path: path.to_path_buf(),
        problem,
    };
    match std::fs::read_to_string(path) {
        Ok(pem) => rcgen::KeyPair::from_pem(&pem).map_err(|e| key_err(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = rcgen::KeyPair::generate()?;
            replace_file(path, key.serialize_pem().as_bytes())?;
            Ok(key)
        }
        Err(e) => Err(key_err(e.to_string())),
    }
}

/// Writes `bytes` (owner-only) to a new file beside `path`, then renames it over
/// `path` and syncs the directory: a crash leaves the old file or the new one.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), AcmeError> {
    let file_err = |error| AcmeError::File {
        path: path.to_path_buf(),
        error,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(file_err)?;
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, bytes).map_err(file_err)?;
    std::fs::rename(&tmp, path).map_err(file_err)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(file_err)
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
    let mut order = account
        .new_order(&NewOrder::new(&ids))
        .await
        .map_err(rejected_at_order)?;
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

/// RFC 8555 §6.7.1: a CA may refuse names when the order is made (`rejectedIdentifier`),
/// listing them as subproblems; those become [`AcmeError::Refused`].
fn rejected_at_order(e: instant_acme::Error) -> AcmeError {
    let names: Vec<String> = match &e {
        instant_acme::Error::Api(problem) => problem
            .subproblems
            .iter()
            .filter_map(|sub| match &sub.identifier {
                Some(Identifier::Dns(name)) => Some(name.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    if names.is_empty() {
        return e.into();
    }
    AcmeError::Refused {
        names,
        detail: e.to_string(),
    }
}

/// How long the CA may take to finish validating the other names after one failed.
const SETTLE_POLLS: u32 = 60;

/// The names whose authorization failed, and the CA's reasons; `None` if none did.
/// First waits (bounded) until no authorization is pending, so that the answers are not
/// withdrawn while the CA is still checking names that would pass.
async fn refused(order: &mut Order) -> Option<AcmeError> {
    for _ in 0..SETTLE_POLLS {
        let mut pending = false;
        let mut authorizations = order.authorizations();
        while let Some(Ok(authz)) = authorizations.next().await {
            pending |= authz.status == AuthorizationStatus::Pending;
        }
        if !pending {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
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
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| AcmeError::Key {
        path: files.key.clone(),
        problem: e.to_string(),
    })?;
    config_for(certs, key)?;
    replace_file(&files.cert, chain.as_bytes())?;
    let held = Held::read(chain.as_bytes());
    tracing::info!(
        names = ?held.as_ref().map(|h| &h.names),
        renew_in_secs = held.as_ref().map(|h| h.renew_at() - palisade_queue::now_secs()),
        "ACME certificate installed"
    );
    // What is in force now: a reload may have switched to `[tls]` meanwhile.
    let cfg = shared.config();
    shared
        .tls
        .set_files(crate::tls::files_in_force(&cfg, &shared.data_dir));
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
        let key: &[u8] = b"our key";
        let held = Held {
            names: set(&["mx.example.test", "mta-sts.example.test"]),
            spki: key.to_vec(),
            not_before: 0,
            not_after: 90 * 86_400,
        };
        assert_eq!(held.renew_at(), 60 * 86_400);
        let wanted = set(&["mx.example.test", "mta-sts.example.test"]);
        let due = |held: Option<&Held>, wanted: &BTreeSet<String>, now: i64| {
            due(held, Some(key), wanted, now)
        };
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
        // The key lost or replaced: the certificate is not for it.
        assert!(super::due(Some(&held), None, &wanted, 0).is_some());
        assert!(super::due(Some(&held), Some(b"another key"), &wanted, 0).is_some());
    }

    /// Refused names wait an hour, then two, four... at most a day; an issued
    /// certificate forgets them.
    #[test]
    fn refused_names_wait_longer_each_time() {
        let mut c = Client::default();
        let wanted = set(&["mx.example.test", "mta-sts.a.test"]);
        c.defer(vec!["mta-sts.a.test".into()], "no DNS", 0);
        assert_eq!(
            c.not_deferred(wanted.clone(), 3599),
            set(&["mx.example.test"])
        );
        assert_eq!(c.not_deferred(wanted.clone(), 3600), wanted);
        c.defer(vec!["mta-sts.a.test".into()], "no DNS", 3600);
        assert_eq!(c.deferred["mta-sts.a.test"], (3600 + 7200, 2));
        for _ in 0..10 {
            c.defer(vec!["mta-sts.a.test".into()], "no DNS", 0);
        }
        assert_eq!(c.deferred["mta-sts.a.test"].0, 86_400);
    }

    /// The first retry after a failure waits at least fifteen minutes, then doubles up
    /// to six hours.
    #[test]
    fn failures_back_off_from_fifteen_minutes_to_six_hours() {
        let mut c = Client::default();
        let e = AcmeError::Order("test".into());
        let waits: Vec<u64> = (0..8).map(|_| c.failed(&e).as_secs() / 60).collect();
        assert_eq!(waits, vec![15, 30, 60, 120, 240, 360, 360, 360]);
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
