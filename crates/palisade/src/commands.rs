//! Every subcommand but `serve`: config, init, domain, user, alias, queue.

use crate::cli::{
    AliasCommand, Args, Command, ConfigCommand, DomainCommand, QueueCommand, UserCommand,
};
use crate::usage;
use anyhow::Context;
use palisade_config::Config;
use palisade_config::StoreConfig;
use palisade_queue::view;
use palisade_store::prelude::*;
use palisade_store::{AliasSource, PgStore, Secret, SqliteStore};
use palisade_types::{Address, Domain, QueueId};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;

pub async fn run(args: Args) -> anyhow::Result<()> {
    let mut paths = Paths::new(args.data, args.config);
    paths.dns = args.dns;
    paths.dns_timeout = args.dns_timeout;
    match args.command {
        Command::Serve => crate::serve::serve(&paths).await,
        Command::Init {
            domain,
            hostname,
            force,
        } => init(&paths, &domain, &hostname, force).await,
        Command::Config(ConfigCommand::Check) => config_check(&paths),
        Command::Store(crate::cli::StoreCommand::Migrate) => store_migrate(&paths).await,
        Command::Store(crate::cli::StoreCommand::Copy { from, to }) => {
            crate::store_copy::run(&paths, &from, &to).await
        }
        Command::Cluster(crate::cli::ClusterCommand::Status { json }) => {
            crate::cluster::status(&paths, json).await
        }
        Command::Domain(c) => domain(&paths, c).await,
        Command::User(c) => user(&paths, c).await,
        Command::Alias(c) => alias(&paths, c).await,
        Command::Queue(c) => queue(&paths, c).await,
        Command::Quarantine(c) => crate::quarantine::run(&paths, c).await,
        Command::Audit(c) => crate::audit::run(&paths, c).await,
        Command::Reports(crate::cli::ReportsCommand::Dmarc(c)) => {
            crate::reports::run(&paths, c).await
        }
        Command::Reports(crate::cli::ReportsCommand::Tls(crate::cli::TlsReportsCommand::Send)) => {
            crate::reports::send_tls(&paths).await
        }
        Command::Dkim(c) => crate::dkim::run(&paths, c).await,
        Command::Security(c) => crate::security::run(&paths, c).await,
        Command::Dns(crate::cli::DnsCommand::Records { domain }) => {
            crate::dkim::dns_records(&paths, &domain).await
        }
        Command::Doctor { json } => crate::audit::doctor(&paths, json).await,
        Command::Learn {
            label,
            paths: files,
        } => crate::learn::run(&*paths.store().await?, &label, &files).await,
        Command::Auth(crate::cli::AuthCommand::Checkpassword { socket, reply: _ }) => {
            crate::checkpassword::run(&socket).await
        }
        Command::Completions { shell } => {
            let mut cmd = <Args as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "palisade", &mut out);
            print!("{}", String::from_utf8_lossy(&out));
            Ok(())
        }
        Command::Man { dir } => man(dir.as_deref()),
        Command::Backup {
            dir,
            passphrase_file,
        } => {
            let p = read_passphrase(passphrase_file.as_deref(), true)?;
            crate::backup::backup(&paths, &dir, &p).await
        }
        Command::Restore {
            dir,
            passphrase_file,
        } => {
            let p = read_passphrase(passphrase_file.as_deref(), false)?;
            crate::backup::restore(&paths, &dir, &p)
        }
    }
}

/// Where everything lives.
pub struct Paths {
    pub data: PathBuf,
    pub config: PathBuf,
    /// True when the config path was given explicitly (then it must exist).
    pub config_explicit: bool,
    /// `--dns` and `--dns-timeout`: they override `[dns]` for every command.
    pub dns: Vec<String>,
    pub dns_timeout: Option<u64>,
}

impl Paths {
    fn new(data: PathBuf, config: Option<PathBuf>) -> Paths {
        let config_explicit = config.is_some();
        let config = config.unwrap_or_else(|| data.join("palisade.toml"));
        Paths {
            data,
            config,
            config_explicit,
            dns: Vec::new(),
            dns_timeout: None,
        }
    }

    pub fn load_config(&self) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(&self.config)
            .map_err(|e| usage(format!("cannot read config {}: {e}", self.config.display())))?;
        let cfg = palisade_config::parse(&text)
            .with_context(|| format!("in {}", self.config.display()))?;
        self.with_dns_overrides(cfg)
    }

    /// The config if there is one, else the built-in defaults (for tools such as `audit`
    /// that work without a server set up).
    pub fn load_config_or_default(&self) -> anyhow::Result<Config> {
        if self.config_explicit || self.config.exists() {
            self.load_config()
        } else {
            self.with_dns_overrides(palisade_config::parse("")?)
        }
    }

    fn with_dns_overrides(&self, mut cfg: Config) -> anyhow::Result<Config> {
        if !self.dns.is_empty() {
            cfg.dns.nameservers = self
                .dns
                .iter()
                .map(|d| palisade_config::nameserver("--dns", d))
                .collect::<Result<_, _>>()?;
        }
        if let Some(t) = self.dns_timeout {
            if !(1..=60).contains(&t) {
                return Err(usage("--dns-timeout: must be 1 to 60 seconds"));
            }
            cfg.dns.timeout = std::time::Duration::from_secs(t);
        }
        Ok(cfg)
    }

    pub fn store_path(&self) -> PathBuf {
        self.data.join("palisade.db")
    }

    /// The store the configuration names (`[store]`, or PALISADE_STORE_URL), behind its
    /// traits, its schema brought up to date, opened as this node (`node_id`) with the
    /// secret key that seals private keys ([`Paths::secret_key`]).
    pub async fn store(&self) -> anyhow::Result<Arc<dyn Store>> {
        let config = self.load_config_or_default()?;
        let secret = self.secret_key(&config)?;
        match with_store_url_override(config.store)? {
            StoreConfig::Embedded => Ok(Arc::new(
                self.sqlite_store().await?.with_secret(secret).await?,
            )),
            StoreConfig::Postgres {
                url,
                max_connections,
            } => Ok(Arc::new(
                PgStore::connect(&url, max_connections, &config.node_id)
                    .await?
                    .with_secret(secret)
                    .await?,
            )),
        }
    }

    /// The key that seals private keys and TOTP seeds in the store: PALISADE_SECRET_KEY
    /// when set, else the key file (`store.secret_key_file`, else `secret.key` in the
    /// data directory, made on first use; an older release's `signing-keys.secret`
    /// becomes that file).
    pub fn secret_key(&self, config: &Config) -> anyhow::Result<Secret> {
        if let Ok(text) = std::env::var(palisade_config::SECRET_KEY_ENV) {
            return Ok(Secret::from_base64(&text, palisade_config::SECRET_KEY_ENV)?);
        }
        let path = match &config.secret_key_file {
            Some(path) => return Ok(Secret::load(path)?),
            None => self.data.join(palisade_config::SECRET_KEY_FILE),
        };
        std::fs::create_dir_all(&self.data)
            .with_context(|| format!("creating data directory {}", self.data.display()))?;
        let legacy = self.data.join(LEGACY_SECRET_FILE);
        if !path.exists() && legacy.exists() {
            std::fs::rename(&legacy, &path)
                .with_context(|| format!("renaming {} to {}", legacy.display(), path.display()))?;
        }
        Ok(Secret::load_or_create(&path)?)
    }

    /// `[store]` of the config (the defaults without one), with PALISADE_STORE_URL put
    /// in place of its `url` when set.
    pub fn store_config(&self) -> anyhow::Result<StoreConfig> {
        with_store_url_override(self.load_config_or_default()?.store)
    }

    /// The embedded store file itself, for what only SQLite has (a file to back up).
    pub async fn sqlite_store(&self) -> anyhow::Result<SqliteStore> {
        std::fs::create_dir_all(&self.data)
            .with_context(|| format!("creating data directory {}", self.data.display()))?;
        Ok(SqliteStore::open(&self.store_path()).await?)
    }
}

/// Where releases before the store sealed DKIM keys kept the (same) key, for signing keys.
const LEGACY_SECRET_FILE: &str = "signing-keys.secret";

fn with_store_url_override(configured: StoreConfig) -> anyhow::Result<StoreConfig> {
    match std::env::var(palisade_config::STORE_URL_ENV) {
        Ok(url) => Ok(configured.with_url(palisade_config::STORE_URL_ENV, &url)?),
        Err(_) => Ok(configured),
    }
}

pub fn parse_domain(s: &str) -> anyhow::Result<Domain> {
    Domain::parse(s).map_err(|e| usage(format!("{s:?}: {e}")))
}

/// A name this server is to be or serve (`init --domain/--hostname`, `domain add`):
/// a fully-qualified domain name (RFC 1123 §2.1: the top label of a host name is never
/// all digits, so `192.0.2.1` is an address, not a name; one label alone, `mx`, is not
/// fully qualified and would publish `MX 10 mx.`).
pub fn parse_new_domain(s: &str) -> anyhow::Result<Domain> {
    palisade_access::forms::new_domain(s).map_err(|e| usage(format!("{s:?} {e}")))
}

pub(crate) fn parse_address(s: &str) -> anyhow::Result<Address> {
    Address::parse(s).map_err(|e| usage(format!("{s:?}: {e}")))
}

/// An address for a mailbox or alias being created: also a name a mailbox can have.
fn parse_new_mailbox(s: &str) -> anyhow::Result<Address> {
    palisade_access::forms::new_mailbox(s).map_err(|e| usage(format!("{s:?}: {e}")))
}

pub fn parse_queue_id(s: &str) -> anyhow::Result<QueueId> {
    QueueId::parse(s).ok_or_else(|| usage(format!("{s:?} is not a queue id (16 hex digits)")))
}

/// Store answers that are the user's mistake become usage errors (exit 2).
pub fn store_result<T>(r: Result<T, palisade_store::StoreError>) -> anyhow::Result<T> {
    use palisade_store::StoreError as E;
    r.map_err(|e| match e {
        E::AlreadyExists { .. }
        | E::UnknownDomain { .. }
        | E::UnknownUser { .. }
        | E::InUse { .. } => usage(e.to_string()),
        other => other.into(),
    })
}

async fn init(paths: &Paths, domain: &str, hostname: &str, force: bool) -> anyhow::Result<()> {
    let domain = parse_new_domain(domain)?;
    let host = parse_new_domain(hostname)?;
    if paths.config.exists() && !force {
        return Err(usage(format!(
            "{} exists; use --force to overwrite",
            paths.config.display()
        )));
    }
    std::fs::create_dir_all(&paths.data)
        .with_context(|| format!("creating {}", paths.data.display()))?;
    let text = palisade_config::production_toml(host.as_str());
    let cfg = palisade_config::parse(&text)?;
    std::fs::write(&paths.config, text)
        .with_context(|| format!("writing {}", paths.config.display()))?;
    let store = paths.store().await?;
    if !store.is_local_domain(&domain).await? {
        store.add_domain(&domain).await?;
    }
    println!("Wrote {}.", paths.config.display());
    println!("Added local domain {domain}. Add mailboxes with: palisade user add you@{domain}");
    println!(
        "postmaster@{domain} (RFC 5321 section 4.5.1) will deliver to the first user you add.\n"
    );
    println!("Publish these DNS records (palisade dns records {domain} prints them again):\n");
    crate::dkim::print_records(paths, &cfg, &*store, &domain).await
}

async fn domain(paths: &Paths, c: DomainCommand) -> anyhow::Result<()> {
    let store = paths.store().await?;
    match c {
        DomainCommand::Add { domain } => {
            let d = parse_new_domain(&domain)?;
            store_result(store.add_domain(&d).await)?;
            println!("added domain {d}");
            let postmaster = paths.load_config_or_default()?.postmaster;
            match postmaster {
                Some(p) => ensure_postmaster(&*store, &d, &p).await?,
                None => println!(
                    "postmaster@{d} (RFC 5321 section 4.5.1) will deliver to the first user added \
                     to {d}; set postmaster in the config to choose another"
                ),
            }
        }
        DomainCommand::List => {
            for d in store.list_domains().await? {
                println!("{d}");
            }
        }
        DomainCommand::Remove { domain } => {
            let d = parse_domain(&domain)?;
            if !store_result(store.remove_domain(&d).await)? {
                return Err(usage(format!("no domain {d}")));
            }
            println!("removed domain {d}");
        }
        DomainCommand::EncryptAtRest { domain, state } => {
            let d = parse_domain(&domain)?;
            if !store.set_domain_encrypt_at_rest(&d, state == "on").await? {
                return Err(usage(format!("no domain {d}")));
            }
            crate::keys::until_running_server_sees_it().await;
            if state == "on" {
                println!("mail for users of {d} with a key is now encrypted before it is stored");
            } else {
                println!("{d}'s default is now to store mail as it arrives");
            }
        }
        DomainCommand::EncryptOutbound { domain, policy } => {
            let d = parse_domain(&domain)?;
            if !store.set_domain_outbound_encryption(&d, &policy).await? {
                return Err(usage(format!("no domain {d}")));
            }
            println!("outbound encryption for users of {d}: {policy}");
        }
    }
    Ok(())
}

/// A backup's passphrase: the first line of `file`, else from the terminal without echo
/// (twice when `new`), else one line of stdin.
fn read_passphrase(file: Option<&std::path::Path>, new: bool) -> anyhow::Result<String> {
    let line = |text: &str| text.lines().next().unwrap_or_default().to_string();
    if let Some(f) = file {
        let text =
            std::fs::read_to_string(f).map_err(|e| usage(format!("{}: {e}", f.display())))?;
        return Ok(line(&text));
    }
    if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password("Backup passphrase: ")?;
        if new && rpassword::prompt_password("Repeat it: ")? != a {
            return Err(usage("the passphrases differ"));
        }
        return Ok(a);
    }
    let mut text = String::new();
    std::io::stdin().lock().read_line(&mut text)?;
    Ok(line(&text))
}

/// Reads a new password: from the terminal twice without echo, or one line of stdin.
fn read_new_password(address: &Address) -> anyhow::Result<String> {
    let pw = if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password(format!("New password for {address}: "))?;
        let b = rpassword::prompt_password("Repeat it: ")?;
        if a != b {
            return Err(usage("the passwords differ"));
        }
        a
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    check_password(&pw, address)?;
    Ok(pw)
}

/// The manual pages, generated from the command line's own help (clap_mangen).
fn man(dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    let cmd = <Args as clap::CommandFactory>::command();
    match dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| usage(format!("{}: {e}", d.display())))?;
            clap_mangen::generate_to(cmd, d).map_err(|e| usage(format!("{}: {e}", d.display())))?;
            println!("manual pages written to {}", d.display());
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            print!("{}", String::from_utf8_lossy(&out));
        }
    }
    Ok(())
}

/// Every check `serve` makes before it binds ([`palisade_server::preflight`]); its
/// warnings on standard error, the configuration's outline on standard output. Exit
/// code 0 ok, 1 warnings, 2 a configuration `serve` refuses (as `doctor`).
fn config_check(paths: &Paths) -> anyhow::Result<()> {
    let cfg = paths.load_config()?;
    let warnings = palisade_server::preflight(&cfg).map_err(|e| {
        usage(format!(
            "{}: {:#}",
            paths.config.display(),
            anyhow::Error::new(e)
        ))
    })?;
    for w in &warnings {
        eprintln!("palisade: warning: {w}");
    }
    println!(
        "{}: OK (hostname {}, {} listeners{})",
        paths.config.display(),
        cfg.hostname,
        cfg.listeners.len(),
        if warnings.is_empty() {
            ""
        } else {
            ", with warnings"
        }
    );
    if warnings.is_empty() {
        Ok(())
    } else {
        Err(crate::ExitWith(1).into())
    }
}

/// The password policy (palisade_access::strength): length, not the address, not a
/// commonly breached password, zxcvbn score 3 or more. A refusal says why and what helps.
fn check_password(pw: &str, address: &Address) -> anyhow::Result<()> {
    palisade_access::strength::check(pw, address, None)
        .map_err(|refusal| usage(format!("password refused: {refusal}")))
}

/// RFC 5321 §4.5.1: see [`palisade_access::forms::ensure_postmaster`].
async fn ensure_postmaster(
    store: &dyn Store,
    domain: &Domain,
    target: &Address,
) -> anyhow::Result<()> {
    match palisade_access::forms::ensure_postmaster(store, domain, target).await {
        Ok(Some(postmaster)) => {
            println!("{postmaster} now delivers to {target} (RFC 5321 section 4.5.1)")
        }
        Ok(None) => {}
        Err(e) => println!(
            "postmaster@{domain} is not set up ({e}): palisade alias add postmaster@{domain} USER"
        ),
    }
    Ok(())
}

async fn user(paths: &Paths, c: UserCommand) -> anyhow::Result<()> {
    let store = paths.store().await?;
    match c {
        UserCommand::Add { address, name } => {
            let a = parse_new_mailbox(&address)?;
            if !store.is_local_domain(a.domain()).await? {
                return Err(usage(format!(
                    "{} is not a local domain; add it with: palisade domain add {}",
                    a.domain(),
                    a.domain()
                )));
            }
            let pw = read_new_password(&a)?;
            let hash =
                tokio::task::spawn_blocking(move || palisade_access::hash_password(&pw)).await??;
            store_result(store.add_user(&a, &hash).await)?;
            if let Some(n) = name.as_deref().map(display_name).transpose()? {
                store.set_user_name(&a, &n).await?;
            }
            println!(
                "added user {a}; mail lands in {}",
                palisade_server::mail_dir(&paths.data)
                    .join(a.domain().as_str())
                    .join(a.local().to_ascii_lowercase())
                    .display()
            );
            ensure_postmaster(&*store, a.domain(), &a).await?;
        }
        UserCommand::List { domain } => {
            let d = domain.as_deref().map(parse_domain).transpose()?;
            for u in store.list_users(d.as_ref()).await? {
                if u.name.is_empty() {
                    println!("{}", u.address);
                } else {
                    println!("{}  ({})", u.address, u.name);
                }
            }
        }
        UserCommand::Name { address, name } => {
            let a = parse_address(&address)?;
            let n = display_name(&name)?;
            if !store.set_user_name(&a, &n).await? {
                return Err(usage(format!("no user {a}")));
            }
            println!("{a} is now called {n:?}");
        }
        UserCommand::Remove { address } => {
            let a = parse_address(&address)?;
            if !store_result(store.remove_user(&a).await)? {
                return Err(usage(format!("no user {a}")));
            }
            println!("removed user {a} (the Maildir is kept)");
        }
        UserCommand::Passwd { address } => {
            let a = parse_address(&address)?;
            if store.password_hash(&a).await?.is_none() {
                return Err(usage(format!("no user {a}")));
            }
            let pw = read_new_password(&a)?;
            let hash =
                tokio::task::spawn_blocking(move || palisade_access::hash_password(&pw)).await??;
            store.set_password_hash(&a, &hash).await?;
            // Signed-in browsers go with the old password.
            store.remove_web_sessions(&a).await?;
            println!("password changed for {a}");
        }
        UserCommand::SendAs(c) => send_as(&*store, c).await?,
        UserCommand::TwoFactor(c) => crate::two_factor::run(&*store, c).await?,
        UserCommand::AppPassword(c) => crate::two_factor::app_passwords(&*store, c).await?,
        UserCommand::Key(c) => crate::keys::run(&*store, c).await?,
        UserCommand::Signing(c) => crate::keys::signing(&*store, c).await?,
        UserCommand::EncryptAtRest { address, state } => {
            crate::keys::encrypt_at_rest(&*store, &address, state == "on").await?
        }
        UserCommand::EncryptOutbound { address, policy } => {
            let a = parse_address(&address)?;
            let own = (policy != "domain").then_some(policy.as_str());
            if !store.set_outbound_encryption(&a, own).await? {
                return Err(usage(format!("no user {a}")));
            }
            let now = store
                .outbound_encryption(&a)
                .await?
                .unwrap_or_else(|| "never".into());
            match own {
                Some(_) => println!("outbound encryption for {a}: {now}"),
                None => println!("outbound encryption for {a}: {now} (the domain's)"),
            }
        }
        UserCommand::Admin { address, revoke } => {
            let a = parse_address(&address)?;
            if !store.set_admin(&a, !revoke).await? {
                return Err(usage(format!("no user {a}")));
            }
            let (kind, said) = match revoke {
                false => ("security.admin_granted", "is an administrator"),
                true => ("security.admin_revoked", "is no longer an administrator"),
            };
            store
                .record_event(&palisade_store::Event {
                    time: palisade_queue::now_secs(),
                    kind: kind.into(),
                    subject: a.identity(),
                    detail: "by palisade user admin".into(),
                })
                .await?;
            println!("{a} {said} of the web console");
        }
        UserCommand::Resume { address } => {
            let a = parse_address(&address)?;
            if !store.resume_user(&a).await? {
                return Err(usage(format!("{a} is not suspended")));
            }
            store
                .record_event(&palisade_store::Event {
                    time: palisade_queue::now_secs(),
                    kind: "security.sending_resumed".into(),
                    subject: a.to_string(),
                    detail: "by palisade user resume".into(),
                })
                .await?;
            println!("{a} may send again");
        }
    }
    Ok(())
}

/// A send-as target: an address (stored by its lookup key) or `*@domain`.
fn send_as_target(s: &str) -> anyhow::Result<String> {
    palisade_access::aliases::send_as_target(s).map_err(|e| usage(format!("{s:?}: {e}")))
}

async fn send_as(store: &dyn Store, c: crate::cli::SendAsCommand) -> anyhow::Result<()> {
    use crate::cli::SendAsCommand;
    let audit = |kind: &str, user: &Address, target: &str| palisade_store::Event {
        time: palisade_queue::now_secs(),
        kind: kind.to_string(),
        subject: user.to_string(),
        detail: format!("send-as {target}"),
    };
    match c {
        SendAsCommand::Add { user, address } => {
            let u = parse_address(&user)?;
            let t = send_as_target(&address)?;
            store_result(store.add_send_as(&u, &t).await)?;
            store
                .record_event(&audit("user.send_as_add", &u, &t))
                .await?;
            println!("{u} may now send as {t}");
        }
        SendAsCommand::Remove { user, address } => {
            let u = parse_address(&user)?;
            let t = send_as_target(&address)?;
            if !store.remove_send_as(&u, &t).await? {
                return Err(usage(format!("{u} has no send-as {t}")));
            }
            store
                .record_event(&audit("user.send_as_remove", &u, &t))
                .await?;
            println!("{u} may no longer send as {t}");
        }
        SendAsCommand::List { user } => {
            let u = parse_address(&user)?;
            for t in store.list_send_as(&u).await? {
                println!("{t}");
            }
        }
    }
    Ok(())
}

async fn alias(paths: &Paths, c: AliasCommand) -> anyhow::Result<()> {
    use palisade_access::aliases;
    let store = paths.store().await?;
    match c {
        AliasCommand::Add { source, targets } => {
            let s = aliases::source(&source).map_err(|e| usage(format!("{source:?}: {e}")))?;
            let targets = targets
                .iter()
                .map(|t| parse_address(t))
                .collect::<anyhow::Result<Vec<_>>>()?;
            match aliases::add(&*store, &s, &targets).await {
                Ok(added) => {
                    for (s, t) in added {
                        println!("{s} -> {t}");
                    }
                }
                Err(aliases::AliasRefused::Store(e)) => store_result(Err(e))?,
                Err(e) => return Err(usage(e.to_string())),
            }
        }
        AliasCommand::Remove { source } => {
            let s = AliasSource::parse(&source).map_err(|e| usage(format!("{source:?}: {e}")))?;
            if !aliases::remove(&*store, &s).await? {
                return Err(usage(format!("no alias or group {s}")));
            }
            println!("removed {s}");
        }
        AliasCommand::List => {
            for (s, targets) in aliases::list(&*store).await? {
                println!("{s} -> {}", targets.join(", "));
            }
        }
    }
    Ok(())
}

/// One recipient's state in words, as `queue show` prints it.
fn rcpt_line(state: &view::RcptState) -> String {
    match state {
        view::RcptState::Done => "done".to_string(),
        view::RcptState::Delivering => "delivering".to_string(),
        view::RcptState::Pending {
            next_attempt,
            error,
        } => format!(
            "pending, next attempt in {}s, last error: {error}",
            (next_attempt - palisade_queue::now_secs()).max(0)
        ),
    }
}

/// A message's status in one line, as `queue list` prints it: the first waiting
/// recipient's last error.
fn status_line(q: &view::Queued) -> String {
    let first = q.recipients.iter().find_map(|(r, s)| match s {
        view::RcptState::Pending { error, .. } => Some(format!("{r}: {error}")),
        _ => None,
    });
    match (q.next_attempt, first) {
        (Some(next), first) => {
            let more = match q.pending() {
                0 | 1 => String::new(),
                n => format!(" (+{} more)", n - 1),
            };
            format!(
                "retry in {}s: {}{more}",
                (next - palisade_queue::now_secs()).max(0),
                first.as_deref().unwrap_or("-")
            )
        }
        (None, _) => "delivering".to_string(),
    }
}

fn queue_list(queued: &[view::Queued], total: usize) {
    println!(
        "{:<16}  {:>9}  {:>5}  {:<30}  STATUS",
        "ID", "SIZE", "TRIES", "FROM"
    );
    for q in queued {
        let m = &q.message;
        println!(
            "{:<16}  {:>9}  {:>5}  {:<30}  {}",
            m.id,
            m.size,
            q.attempts,
            m.envelope.return_path(),
            status_line(q)
        );
    }
    println!("{total} message(s)");
}

fn queue_show(q: &view::Queued, head: &[u8]) {
    let m = &q.message;
    println!(
        "id: {}\narrived: {}\nfrom: {}\nclient: {} ({})",
        m.id,
        crate::security::when(m.arrived),
        m.envelope.return_path(),
        m.envelope.client_ip,
        m.envelope.helo
    );
    if q.next_attempt.is_some() {
        println!("attempts: {}", q.attempts);
    }
    for (r, state) in &q.recipients {
        println!("rcpt: {r}: {}", rcpt_line(state));
    }
    println!("\n{}", String::from_utf8_lossy(head));
}

async fn queue(paths: &Paths, c: QueueCommand) -> anyhow::Result<()> {
    let store = paths.store().await?;
    let qdir = palisade_server::queue_dir(&paths.data);
    let missing = |id: QueueId| usage(format!("no message {id} in the queue"));
    match c {
        QueueCommand::List => {
            let (queued, total) = view::list(&qdir, &*store, usize::MAX).await?;
            queue_list(&queued, total);
        }
        QueueCommand::Show { id } => {
            let id = parse_queue_id(&id)?;
            let (q, head) = view::show(&qdir, &*store, id)
                .await?
                .ok_or_else(|| missing(id))?;
            queue_show(&q, &head);
        }
        QueueCommand::Retry { id } => {
            let id = parse_queue_id(&id)?;
            if !view::retry(&qdir, &*store, id).await? {
                return Err(missing(id));
            }
            println!("{id} will be retried within a second by the running server");
        }
        QueueCommand::Delete { id } => {
            let id = parse_queue_id(&id)?;
            if !view::delete(&qdir, &*store, id).await? {
                return Err(missing(id));
            }
            println!("deleted {id}");
        }
    }
    Ok(())
}

/// A display name as given on the command line: one line, printable, at most 100
/// characters.
fn display_name(name: &str) -> anyhow::Result<String> {
    palisade_access::forms::display_name(name).map_err(|e| usage(e.to_string()))
}

/// `palisade store migrate`: opening the store applies what is missing.
async fn store_migrate(paths: &Paths) -> anyhow::Result<()> {
    let store = paths.store().await?;
    println!(
        "the store's schema is at version {}",
        store.schema_version().await?
    );
    Ok(())
}
