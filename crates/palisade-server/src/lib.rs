//! The tokio driver around the sans-IO session.
//!
//! [`Server::start`] opens the spool (recovering what a crash left), starts the delivery
//! scheduler, builds the TLS configuration ([`tls`]) and binds every listener. Each
//! accepted connection passes the connection limits ([`limits`]) before anything is
//! allocated for it, then [`conn`] drives a `palisade_smtp::Session` over it: reading
//! with idle/command/data timeouts, writing replies in one write per batch, upgrading
//! to TLS on STARTTLS, checking recipients against the store, streaming message content
//! into the spool and replying `250` only with a `Durable` proof in hand.
//!
//! Shutdown ([`Server::shutdown`]): listeners close, sessions get a grace period, then
//! `421 4.3.2`; the scheduler finishes deliveries in progress. Nothing acknowledged is
//! lost: it is in `queue/active/` and delivered at the next start.

pub mod acme;
pub mod auth_socket;
pub mod bans;
pub mod bounce;
pub mod cluster;
pub mod conn;
pub mod containment;
pub mod cpu;
pub mod dkim_keys;
pub mod forward;
pub mod learning;
pub mod logins;
pub use palisade_access::limits;
pub mod outbox;
pub mod phishing;
pub mod proxy;
pub mod quarantine;
pub mod quota;
pub mod rates;
pub mod reports;
pub mod rollup;
pub mod scanners;
pub mod sender_auth;
pub mod signatures;
pub mod smime_signing;
pub mod submission;
pub mod tls;
pub mod tlsrpt;
pub mod trace;

use palisade_config::{Config, Listener};
use palisade_delivery::LocalDelivery;
use palisade_delivery::lmtp::Lmtp;
use palisade_delivery::remote::RemoteDelivery;
use palisade_delivery::router::Router;
use palisade_dns::{Dns, DnsSettings};
use palisade_queue::{Scheduler, SchedulerConfig, Spool};
use palisade_store::{LookupCache, Store};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A task the server runs, built by an [`Addons`].
pub type Task = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// What the binary adds to a server. palisade-server serves SMTP and delivers; the web
/// console (with ACME's HTTP-01 answers) and the periodic doctor come from crates it
/// does not depend on (palisade-web, palisade-audit), through this.
pub trait Addons: Send + Sync {
    /// Serves the web console on `socket` (`web` in the configuration) until `stop`
    /// turns true; with `acme`, its TLS listener also answers TLS-ALPN-01.
    fn web(
        &self,
        shared: Arc<Shared>,
        socket: TcpListener,
        acme: Option<Arc<acme::AcmeChallenges>>,
        stop: watch::Receiver<bool>,
    ) -> Task;
    /// Serves HTTP-01 answers on `socket` (`acme.http_address`) until `stop` turns true.
    fn acme_http(
        &self,
        socket: TcpListener,
        acme: Arc<acme::AcmeChallenges>,
        stop: watch::Receiver<bool>,
    ) -> Task;
    /// Runs the doctor every `doctor.interval_secs`, for as long as the server runs.
    fn doctor(&self, shared: Arc<Shared>) -> Task;
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {address} (listener.{name})")]
    Bind {
        name: String,
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Spool(#[from] palisade_queue::SpoolError),
    #[error("{path}: {error}")]
    Storage {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("another palisade is already serving the data directory {0}")]
    DataDirInUse(PathBuf),
    #[error("DNS resolver")]
    Dns(#[from] palisade_dns::DnsError),
    #[error("reading the bans from the store")]
    Store(#[from] palisade_store::StoreError),
    #[error("outbound TLS (delivery.extra_ca_file)")]
    OutboundTls(#[source] palisade_delivery::remote::tls::TlsSetupError),
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    AuthSocket(#[from] auth_socket::AuthSocketError),
}

/// The resolver settings of a config.
pub fn dns_settings(cfg: &Config) -> DnsSettings {
    DnsSettings {
        nameservers: cfg.dns.nameservers.clone(),
        timeout: cfg.dns.timeout,
        attempts: cfg.dns.attempts,
        dnssec_trusted: cfg.dns.dnssec_trusted,
    }
}

/// What `serve` checks of a configuration before it binds a socket, without side
/// effects (`palisade config check` runs exactly this): the phishing weights, the
/// resolver, the outbound CA file, and the certificate and key when files are named
/// (none: a self-signed one is made at start), and the ACME CA's root file. `Ok` holds warnings about what would
/// start but do nothing useful.
pub fn preflight(config: &Config) -> Result<Vec<String>, ServerError> {
    phishing::check_config(config).map_err(ServerError::Config)?;
    Dns::new(&dns_settings(config))?;
    palisade_delivery::remote::tls::TlsClient::new(config.delivery.extra_ca_file.as_deref())
        .and_then(|c| c.https_config())
        .map_err(ServerError::OutboundTls)?;
    if let Some(files) = &config.tls {
        tls::server_config(files)?;
    }
    let mut warnings = Vec::new();
    if let Some(acme) = &config.acme {
        acme::preflight(acme, config, &mut warnings).map_err(ServerError::Config)?;
    }
    smarthost(config, &mut warnings).map_err(ServerError::Config)?;
    if config.listeners.is_empty() {
        warnings.push(
            "no listener: the server would accept no mail (add [listener.NAME] with address and kind)"
                .to_string(),
        );
    }
    Ok(warnings)
}

/// The smarthost with its password read from `delivery.smarthost_password_file` (its
/// first line): an unreadable or empty file is an error naming the key; a file others
/// may read, a warning.
pub fn smarthost(
    config: &Config,
    warnings: &mut Vec<String>,
) -> Result<Option<palisade_delivery::remote::Smarthost>, String> {
    use std::os::unix::fs::PermissionsExt;
    let Some(s) = &config.delivery.smarthost else {
        return Ok(None);
    };
    let login = match &s.login {
        None => None,
        Some((user, file)) => {
            let key = "delivery.smarthost_password_file";
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("{key} {}: {e}", file.display()))?;
            let password = text.lines().next().unwrap_or_default().to_string();
            if password.is_empty() {
                return Err(format!("{key} {}: the first line is empty", file.display()));
            }
            if std::fs::metadata(file).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
                warnings.push(format!(
                    "{key} {} can be read by others: chmod 600 it",
                    file.display()
                ));
            }
            Some(palisade_delivery::remote::client::Login {
                user: user.clone(),
                password,
            })
        }
    };
    Ok(Some(palisade_delivery::remote::Smarthost {
        host: s.host.clone(),
        port: s.port,
        implicit_tls: s.implicit_tls,
        login,
    }))
}

/// The key SRS addresses are signed with: made once, kept in the store, shared by every
/// node using it.
async fn srs_secret(store: &dyn Store) -> Result<Vec<u8>, ServerError> {
    let mut fresh = [0u8; 32];
    aws_lc_rs::rand::fill(&mut fresh)
        .map_err(|_| ServerError::Config("the system random source failed".into()))?;
    Ok(store.server_secret("srs", &fresh).await?)
}

/// Memory the end-of-data checks may hold at once, in KiB (each holds its message).
const CHECK_BUDGET_KIB: u32 = 128 * 1024;

/// Everything a connection needs, shared by all sessions.
pub struct Shared {
    pub config: Arc<RwLock<Arc<Config>>>,
    /// Delivery, also asked at RCPT for routed domains' recipients (callouts).
    pub router: Arc<Router>,
    /// Forwarding and SRS (asked at RCPT whether a bounce address is ours).
    pub forwarding: Arc<forward::Forwarding>,
    pub store: Arc<dyn Store>,
    /// Domain and recipient lookups, shared with local delivery.
    pub lookups: Arc<LookupCache>,
    pub spool: Spool,
    pub tls: tls::TlsReloader,
    pub limits: Arc<limits::ConnectionLimits>,
    /// Turns true when sessions must end now (after the shutdown grace period).
    pub hard_stop: watch::Receiver<bool>,
    /// The one resolver (replaced when `[dns]` changes on reload).
    pub dns: Arc<RwLock<Arc<Dns>>>,
    /// KiB of message the end-of-data checks may hold at once (see [`Shared::check_budget`]).
    pub check_memory: Arc<tokio::sync::Semaphore>,
    pub data_dir: PathBuf,
    pub dmarc_recorder: reports::Recorder,
    /// Addresses refused at connect (a copy of the store's bans).
    pub bans: bans::BanList,
    /// Recipients of submitted mail accepted but not yet recorded.
    pub recipient_reservations: Arc<quota::Reservations>,
    /// Per-address rate limits (rebuilt on reload when they change).
    pub rates: rates::Rates,
    /// Parsed DKIM keys of our domains, for signing.
    pub dkim_keys: Arc<dkim_keys::DkimKeyCache>,
    /// The phishing engine and the correspondence history.
    pub phishing: phishing::PhishState,
    /// Clients of the external content scanners.
    pub scanners: scanners::ScannerState,
}

impl Shared {
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Memory for one DATA transfer's buffer, if the budget has it now (never waits: a
    /// session without it writes to its spool file in small steps instead).
    pub fn data_buffer_budget(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let kib = (palisade_queue::WRITE_THRESHOLD / 1024) as u32;
        self.check_memory.clone().try_acquire_many_owned(kib).ok()
    }

    /// Waits until a message of `len` octets may be held in memory for the checks.
    pub async fn check_budget(&self, len: u64) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let kib = u32::try_from(len / 1024)
            .unwrap_or(u32::MAX)
            .clamp(1, CHECK_BUDGET_KIB);
        self.check_memory.clone().acquire_many_owned(kib).await.ok()
    }

    pub fn dns(&self) -> Arc<Dns> {
        self.dns.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A running server.
pub struct Server {
    shared: Arc<Shared>,
    /// The address each listener is bound to (port 0 in tests gets a real port here).
    pub bound: Vec<(String, SocketAddr)>,
    accept_stop: watch::Sender<bool>,
    hard_stop: watch::Sender<bool>,
    scheduler_stop: watch::Sender<bool>,
    accept_tasks: Vec<JoinHandle<()>>,
    scheduler: JoinHandle<()>,
    tls_watch: JoinHandle<()>,
    /// Orders and renews the certificate when `[acme]` is configured.
    acme_task: Option<JoinHandle<()>>,
    reports_task: JoinHandle<()>,
    doctor_task: JoinHandle<()>,
    bans_task: JoinHandle<()>,
    quarantine_task: JoinHandle<()>,
    rates_task: JoinHandle<()>,
    history_task: JoinHandle<()>,
    rollup_task: JoinHandle<()>,
    heartbeat_task: JoinHandle<()>,
    /// Held for the server's life: an exclusive lock on `DATA/palisade.lock`.
    _lock: std::fs::File,
}

fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File, ServerError> {
    let path = data_dir.join("palisade.lock");
    let storage = |error| ServerError::Storage {
        path: path.clone(),
        error,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(storage)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            Err(ServerError::DataDirInUse(data_dir.to_path_buf()))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(storage(e)),
    }
}

/// Binds the listener `name` and records the address it got.
async fn bind(
    name: &str,
    address: SocketAddr,
    bound: &mut Vec<(String, SocketAddr)>,
) -> Result<TcpListener, ServerError> {
    let bind_error = |source| ServerError::Bind {
        name: name.to_string(),
        address,
        source,
    };
    let socket = TcpListener::bind(address).await.map_err(bind_error)?;
    bound.push((name.to_string(), socket.local_addr().map_err(bind_error)?));
    Ok(socket)
}

/// Directories under the data directory.
pub fn queue_dir(data: &Path) -> PathBuf {
    data.join("queue")
}

pub fn mail_dir(data: &Path) -> PathBuf {
    data.join("mail")
}

/// What the delivery router shares with the rest of the server.
struct RouterParts {
    lookups: Arc<LookupCache>,
    forwarding: Arc<forward::Forwarding>,
    dkim_keys: Arc<dkim_keys::DkimKeyCache>,
    dns: palisade_delivery::remote::DnsSource,
    config: Arc<RwLock<Arc<Config>>>,
}

/// Local, remote and end-to-end encrypted delivery, behind one router.
fn router(
    config: &Config,
    data_dir: &Path,
    store: &Arc<dyn Store>,
    parts: RouterParts,
) -> Result<Router, ServerError> {
    let outbound_tls =
        palisade_delivery::remote::tls::TlsClient::new(config.delivery.extra_ca_file.as_deref())
            .map_err(ServerError::OutboundTls)?;
    let https_tls = outbound_tls
        .https_config()
        .map_err(ServerError::OutboundTls)?;
    Ok(Router {
        local: LocalDelivery {
            store: store.clone(),
            lookups: parts.lookups,
            root: mail_dir(data_dir),
            hostname: config.hostname.to_string(),
            protect_subject: config.encryption.protect_subject,
            forwarder: Some(parts.forwarding),
            lmtp: config.dovecot.lmtp.clone().map(|endpoint| Lmtp {
                endpoint,
                hostname: config.hostname.to_string(),
                connect_timeout: config.delivery.connect_timeout,
                command_timeout: config.delivery.command_timeout,
            }),
        },
        remote: RemoteDelivery {
            smarthost: smarthost(config, &mut Vec::new()).map_err(ServerError::Config)?,
            dns: parts.dns,
            hostname: config.hostname.to_string(),
            port: config.delivery.remote_port,
            connect_timeout: config.delivery.connect_timeout,
            command_timeout: config.delivery.command_timeout,
            tls: outbound_tls,
            tls_policy: config.delivery.tls_policy.clone(),
            tls_observer: Some(tlsrpt::recorder(store.clone())),
            sessions: palisade_delivery::remote::pool::SessionPool::new(
                config.delivery.connection_idle,
                config.delivery.max_messages_per_connection,
            ),
            per_domain: palisade_delivery::remote::PerDomainLimit::new(
                config.delivery.max_connections_per_domain,
            ),
            mta_sts: palisade_delivery::remote::mta_sts::MtaSts::new(
                https_tls.clone(),
                config.delivery.mta_sts_port,
                Some(store.clone()),
            ),
        },
        end_to_end: Some(palisade_delivery::end_to_end::EndToEnd {
            store: store.clone(),
            wkd: palisade_delivery::wkd::WkdClient::new(https_tls, config.delivery.wkd_port),
            resign: Arc::new(dkim_keys::Resigner {
                store: store.clone(),
                keys: parts.dkim_keys,
            }),
            protect_subject: config.encryption.protect_subject,
        }),
        config: {
            let c = parts.config;
            Arc::new(move || c.read().unwrap_or_else(|e| e.into_inner()).clone())
        },
        callouts: palisade_delivery::route::Callouts::default(),
    })
}

/// The delivery scheduler over the spool, bouncing failures with DSNs.
fn scheduler(
    config: &Config,
    data_dir: &Path,
    store: &Arc<dyn Store>,
    router: Arc<Router>,
    spool: &Spool,
    dkim_keys: &Arc<dkim_keys::DkimKeyCache>,
) -> Scheduler<Router> {
    Scheduler::new(
        SchedulerConfig {
            queue_dir: queue_dir(data_dir),
            retry_initial: config.queue.retry_initial,
            retry_max: config.queue.retry_max,
            max_age: config.queue.max_age,
            concurrency: 32,
            attempt_timeout: config.queue.attempt_timeout,
        },
        store.clone(),
        router.clone(),
        Some(Arc::new(bounce::DsnBouncer {
            spool: spool.clone(),
            store: store.clone(),
            keys: dkim_keys.clone(),
            hostname: config.hostname.to_string(),
        })),
    )
}

/// Binds every listener of the configuration (SMTP, ACME's HTTP challenges, the web
/// console, Dovecot's auth socket) and starts their accept loops.
async fn serve_listeners(
    shared: &Arc<Shared>,
    addons: &dyn Addons,
    accept_rx: &watch::Receiver<bool>,
    bound: &mut Vec<(String, SocketAddr)>,
) -> Result<
    (
        Vec<tokio::task::JoinHandle<()>>,
        Option<Arc<acme::AcmeChallenges>>,
    ),
    ServerError,
> {
    let listeners = shared.config().listeners.clone();
    let mut accept_tasks = Vec::new();
    for l in listeners {
        let socket = bind(&l.name, l.address, bound).await?;
        accept_tasks.push(tokio::spawn(accept_loop(
            socket,
            l,
            shared.clone(),
            accept_rx.clone(),
        )));
    }
    let acme = shared
        .config()
        .acme
        .is_some()
        .then(|| Arc::new(acme::AcmeChallenges::default()));
    if let Some(address) = shared.config().acme.as_ref().and_then(|a| a.http_address) {
        let socket = bind("acme-http", address, bound).await?;
        if let Some(challenges) = &acme {
            let serve = addons.acme_http(socket, challenges.clone(), accept_rx.clone());
            accept_tasks.push(tokio::spawn(serve));
        }
    }
    if let Some(address) = shared.config().web {
        let socket = bind("web", address, bound).await?;
        let serve = addons.web(shared.clone(), socket, acme.clone(), accept_rx.clone());
        accept_tasks.push(tokio::spawn(serve));
    }
    if let Some(path) = shared.config().dovecot.auth_socket.clone() {
        let socket = auth_socket::bind(&path).await?;
        accept_tasks.push(tokio::spawn(auth_socket::serve(
            socket,
            path,
            shared.clone(),
            accept_rx.clone(),
        )));
    }
    Ok((accept_tasks, acme))
}

impl Server {
    pub async fn start(
        config: Config,
        data_dir: &Path,
        store: Arc<dyn Store>,
        addons: Arc<dyn Addons>,
    ) -> Result<Server, ServerError> {
        // What `config check` checks; its warnings are logged.
        for warning in preflight(&config)? {
            tracing::warn!("{warning}");
        }
        // Two servers on one spool would delete each other's messages in recovery.
        let lock = lock_data_dir(data_dir)?;
        let dns = Arc::new(RwLock::new(Arc::new(Dns::new(&dns_settings(&config))?)));
        let dns_source: palisade_delivery::remote::DnsSource = {
            let dns = dns.clone();
            Arc::new(move || dns.read().unwrap_or_else(|e| e.into_inner()).clone())
        };
        let tls = tls::TlsReloader::new(
            tls::files_in_force(&config, data_dir),
            data_dir,
            config.hostname.as_str(),
        )?;
        let (committed_tx, committed_rx) = tokio::sync::mpsc::unbounded_channel();
        let spool = Spool::open(&queue_dir(data_dir), committed_tx)?;
        let (scheduler_stop, scheduler_rx) = watch::channel(false);
        let lookups = Arc::new(LookupCache::new());
        let dkim_keys = Arc::new(dkim_keys::DkimKeyCache::default());
        let config_cell = Arc::new(RwLock::new(Arc::new(config.clone())));
        let forwarding = Arc::new(forward::Forwarding {
            spool: spool.clone(),
            srs: palisade_delivery::srs::Srs::new(&srs_secret(store.as_ref()).await?),
            hostname: config.hostname.to_string(),
            store: store.clone(),
            dns: dns_source.clone(),
        });
        let router = Arc::new(router(
            &config,
            data_dir,
            &store,
            RouterParts {
                lookups: lookups.clone(),
                forwarding: forwarding.clone(),
                dkim_keys: dkim_keys.clone(),
                dns: dns_source,
                config: config_cell.clone(),
            },
        )?);
        let scheduler = scheduler(
            &config,
            data_dir,
            &store,
            router.clone(),
            &spool,
            &dkim_keys,
        );
        let scheduler = tokio::spawn(scheduler.run(committed_rx, scheduler_rx));
        let (hard_stop, hard_rx) = watch::channel(false);
        let (accept_stop, accept_rx) = watch::channel(false);
        let limits = Arc::new(limits::ConnectionLimits::new(
            config.smtp.max_connections,
            config.smtp.max_connections_per_ip,
        ));
        let dmarc_recorder = reports::recorder(store.clone());
        let rates = rates::Rates::new(&config.security);
        let shared = Arc::new(Shared {
            config: config_cell,
            router: router.clone(),
            forwarding,
            store,
            lookups,
            spool,
            tls,
            limits,
            hard_stop: hard_rx,
            dns,
            check_memory: Arc::new(tokio::sync::Semaphore::new(CHECK_BUDGET_KIB as usize)),
            data_dir: data_dir.to_path_buf(),
            dmarc_recorder,
            dkim_keys,
            bans: bans::BanList::default(),
            recipient_reservations: Arc::default(),
            rates,
            phishing: phishing::PhishState::default(),
            scanners: scanners::ScannerState::default(),
        });
        // Bans apply from the first connection on, restarts included.
        shared
            .bans
            .replace(&shared.store.list_bans(palisade_queue::now_secs()).await?);
        let mut bound = Vec::new();
        let (accept_tasks, acme) =
            serve_listeners(&shared, addons.as_ref(), &accept_rx, &mut bound).await?;
        let tls_watch = tokio::spawn(tls::watch_files(shared.clone()));
        let acme_task = acme.map(|c| tokio::spawn(acme::run(shared.clone(), c)));
        let bans_task = tokio::spawn(bans::refresh_loop(shared.clone()));
        let quarantine_task = tokio::spawn(quarantine::move_loop(shared.clone()));
        let rates_task = tokio::spawn(rates::sync_loop(shared.clone()));
        let history_task = tokio::spawn(phishing::history_loop(shared.clone()));
        let reports_task = tokio::spawn(reports_loop(shared.clone()));
        let doctor_task = tokio::spawn(addons.doctor(shared.clone()));
        let rollup_task = tokio::spawn(rollup::flush_loop(shared.clone()));
        let heartbeat_task = tokio::spawn(cluster::heartbeat_loop(shared.clone()));
        Ok(Server {
            shared,
            bound,
            accept_stop,
            hard_stop,
            scheduler_stop,
            accept_tasks,
            scheduler,
            tls_watch,
            acme_task,
            reports_task,
            doctor_task,
            bans_task,
            quarantine_task,
            rates_task,
            history_task,
            rollup_task,
            heartbeat_task,
            _lock: lock,
        })
    }

    pub fn address(&self, listener: &str) -> Option<SocketAddr> {
        self.bound
            .iter()
            .find(|(n, _)| n == listener)
            .map(|(_, a)| *a)
    }

    /// SIGHUP: new limits, timeouts and certificates take effect for new sessions.
    /// Listener addresses need a restart (logged when they differ).
    pub fn reload(&self, config: Config) {
        if let Err(e) = phishing::check_config(&config) {
            tracing::error!(error = %e, "new configuration refused; keeping the old one");
            return;
        }
        let old = self.shared.config();
        if old
            .listeners
            .iter()
            .map(|l| l.address)
            .ne(config.listeners.iter().map(|l| l.address))
        {
            tracing::warn!("listener changes take effect at the next restart");
        }
        if old.acme.as_ref().map(|a| (a.challenge, a.http_address))
            != config.acme.as_ref().map(|a| (a.challenge, a.http_address))
        {
            tracing::warn!(
                "[acme] added, removed, or its challenge changed: this takes effect at the next restart"
            );
        }
        if old.dovecot != config.dovecot {
            tracing::warn!("[dovecot] changes take effect at the next restart");
        }
        if old.delivery.smarthost != config.delivery.smarthost {
            tracing::warn!("delivery.smarthost changes take effect at the next restart");
        }
        if old.dns != config.dns {
            match Dns::new(&dns_settings(&config)) {
                Ok(dns) => {
                    *self.shared.dns.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(dns)
                }
                Err(e) => tracing::error!(
                    error = &e as &dyn std::error::Error,
                    "new [dns] settings unusable; keeping the old resolver"
                ),
            }
        }
        self.shared
            .tls
            .set_files(tls::files_in_force(&config, &self.shared.data_dir));
        self.shared.limits.set_limits(
            config.smtp.max_connections,
            config.smtp.max_connections_per_ip,
        );
        self.shared.rates.reconfigure(&config.security);
        *self
            .shared
            .config
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        self.shared.tls.reload();
        tracing::info!("configuration reloaded");
    }

    /// Graceful stop: no new connections; sessions get `grace`, then `421 4.3.2`;
    /// deliveries in progress finish.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.accept_stop.send(true);
        for t in self.accept_tasks {
            let _ = t.await;
        }
        let deadline = tokio::time::Instant::now() + grace;
        while self.shared.limits.active() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.hard_stop.send(true);
        let stop_wait = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.shared.limits.active() > 0 && tokio::time::Instant::now() < stop_wait {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = self.scheduler_stop.send(true);
        let _ = self.scheduler.await;
        self.tls_watch.abort();
        if let Some(t) = &self.acme_task {
            t.abort();
        }
        self.reports_task.abort();
        self.doctor_task.abort();
        self.bans_task.abort();
        self.quarantine_task.abort();
        self.rates_task.abort();
        self.history_task.abort();
        self.rollup_task.abort();
        self.heartbeat_task.abort();
        let node = self.shared.config().node_id.clone();
        rollup::flush(
            self.shared.store.as_ref(),
            &node,
            palisade_queue::now_secs(),
        )
        .await;
        // What the history loop had not written yet.
        self.shared.phishing.flush(self.shared.store.as_ref()).await;
    }
}

/// Sends DMARC aggregate reports every `reports.dmarc_interval_secs` (read anew each
/// round, so SIGHUP changes apply); zero pauses it.
async fn reports_loop(shared: Arc<Shared>) {
    loop {
        let interval = shared.config().reports.dmarc_interval;
        if interval.is_zero() {
            tokio::time::sleep(Duration::from_secs(60)).await;
            continue;
        }
        tokio::time::sleep(interval).await;
        // One node of those sharing the store sends them.
        if !cluster::lead(&shared, "reports", interval).await {
            continue;
        }
        let cfg = shared.config();
        let now = palisade_queue::now_secs();
        let outbox = outbox::Outbox::Spool {
            spool: &shared.spool,
            store: shared.store.as_ref(),
            keys: &shared.dkim_keys,
        };
        match reports::send_dmarc_reports(shared.store.as_ref(), &shared.dns(), &cfg, &outbox, now)
            .await
        {
            Ok(sent) => {
                for s in sent {
                    tracing::info!(domain = %s.domain, messages = s.messages, to = ?s.to, skipped = ?s.skipped, "DMARC aggregate report");
                }
            }
            Err(e) => tracing::error!(error = &e as &dyn std::error::Error, "DMARC reports"),
        }
        // TLS-RPT: the days that are complete (RFC 8460 §4: daily reports).
        match tlsrpt::send(
            shared.store.as_ref(),
            &shared.dns(),
            &cfg,
            &outbox,
            now,
            false,
        )
        .await
        {
            Ok(sent) => {
                for (domain, to) in sent {
                    tracing::info!(%domain, ?to, "TLS report");
                }
            }
            Err(e) => tracing::error!(error = &e as &dyn std::error::Error, "TLS reports"),
        }
    }
}

async fn accept_loop(
    socket: TcpListener,
    listener: Listener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let listener = Arc::new(listener);
    loop {
        let accepted = tokio::select! {
            a = socket.accept() => a,
            _ = stop.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = &e as &dyn std::error::Error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        metrics::counter!("palisade_connections_total", "listener" => listener.name.clone())
            .increment(1);
        tokio::spawn(conn::handle(stream, peer, listener.clone(), shared.clone()));
    }
}
