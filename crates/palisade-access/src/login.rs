//! Checking a login: Argon2id on the blocking pool, a bounded number at once, and the
//! same work for unknown users as for known ones (no enumeration by timing); lockouts
//! and bans through [`crate::guard`]; app passwords, and only they once two-factor is on
//! ([`crate::two_factor`]); the stored hash upgraded when the parameters were raised
//! since it was made.

use crate::guard::{self, Admission, Consequences};
use crate::{hash_password, needs_rehash, verify_password};
use palisade_config::SecurityConfig;
use palisade_store::{Block, Store};
use palisade_types::{Address, AppScope};
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

/// Argon2id runs at once (each takes ~19 MiB and tens of milliseconds of one core): half
/// the cores, at least one, so a flood of AUTH attempts queues here and leaves the other
/// half to everything else.
fn concurrent_hashes() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

fn permits() -> &'static Semaphore {
    static P: OnceLock<Semaphore> = OnceLock::new();
    P.get_or_init(|| Semaphore::new(concurrent_hashes()))
}

/// A hash of a random password, verified against for unknown users.
fn dummy_hash() -> &'static str {
    static D: OnceLock<String> = OnceLock::new();
    D.get_or_init(|| hash_password("palisade-dummy-password-for-unknown-users").unwrap_or_default())
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("account store")]
    Store(#[from] palisade_store::StoreError),
    #[error(transparent)]
    Guard(#[from] guard::GuardError),
    #[error(transparent)]
    TwoFactor(#[from] crate::two_factor::TwoFactorError),
    #[error("password check task failed")]
    Task,
}

/// How a login attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    Accepted(Address),
    /// Wrong name or password (never said which), and what the failure led to.
    Refused(Consequences),
    /// The account is locked (by this failure or an earlier one), and what this attempt
    /// led to (a failure during a lock still counts towards the address's ban).
    Locked(Block, Consequences),
}

/// Runs Argon2id for `password` against `hash` with a permit, on the blocking pool.
async fn verify(hash: String, password: &str) -> Result<bool, LoginError> {
    let _permit = permits().acquire().await.map_err(|_| LoginError::Task)?;
    let password = password.to_string();
    tokio::task::spawn_blocking(move || verify_password(&hash, &password))
        .await
        .map_err(|_| LoginError::Task)
}

/// The user, if `password` is theirs. Unknown users, locked accounts (hash `!`) and
/// wrong passwords all cost the same Argon2id work.
pub async fn check(
    store: &Arc<dyn Store>,
    username: &str,
    password: &str,
) -> Result<Option<Address>, LoginError> {
    let user = Address::parse(username).ok();
    let stored = match &user {
        Some(u) => store.password_hash(u).await?,
        None => None,
    };
    let (hash, known) = match stored {
        Some(h) if h.starts_with("$argon2") => (h, true),
        _ => (dummy_hash().to_string(), false),
    };
    let ok = verify(hash.clone(), password).await?;
    let Some(user) = user.filter(|_| ok && known) else {
        return Ok(None);
    };
    if needs_rehash(&hash) {
        rehash(store, &user, password).await;
    }
    Ok(Some(user))
}

/// The Argon2id hash of a new password, made on the blocking pool under the same
/// permits as logins (a burst of password changes cannot starve them).
pub async fn hash_new(password: &str) -> Result<String, LoginError> {
    let _permit = permits().acquire().await.map_err(|_| LoginError::Task)?;
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|_| LoginError::Task)?
        .map_err(|_| LoginError::Task)
}

/// Replaces a hash made with weaker parameters while the password is at hand.
async fn rehash(store: &Arc<dyn Store>, user: &Address, password: &str) {
    let Ok(_permit) = permits().acquire().await else {
        return;
    };
    let password = password.to_string();
    let Ok(Ok(new)) = tokio::task::spawn_blocking(move || hash_password(&password)).await else {
        return;
    };
    match store.set_password_hash(user, &new).await {
        Ok(_) => tracing::info!(user = %user, "password hash upgraded to the current parameters"),
        Err(e) => {
            tracing::warn!(user = %user, error = &e as &dyn std::error::Error, "cannot upgrade the password hash")
        }
    }
}

/// Which door a login comes through, and so which credentials open it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door<'a> {
    /// A mail service: the account password (while two-factor is off) or an app
    /// password of this scope.
    Mail(AppScope),
    /// The web console: the account password and, with two-factor on, a current TOTP
    /// code or an unused recovery code. Never an app password: those are for programs.
    Web { code: &'a str },
}

impl Door<'_> {
    /// The service's name in logs, metrics and events.
    pub fn name(&self) -> &'static str {
        match self {
            Door::Mail(scope) => scope.name(),
            Door::Web { .. } => "web",
        }
    }
}

/// Why a login was refused, as the services tell their clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Wrong name, password or code (never said which).
    Wrong,
    /// The account is locked.
    Locked,
    /// The client's address is banned (by this attempt or earlier).
    Banned,
    /// The check could not be made (the store failed): try again later.
    Unavailable,
}

/// What one login attempt is: who claims to be whom, from where, through which door.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub ip: IpAddr,
    pub door: Door<'a>,
    pub now: i64,
}

/// Argon2id always runs; with two-factor on, only an app password of `scope` is taken.
async fn mail_credentials(
    store: &Arc<dyn Store>,
    username: &str,
    password: &str,
    scope: AppScope,
    ip: IpAddr,
    now: i64,
) -> Result<Option<Address>, LoginError> {
    if let Some(u) = check(store, username, password).await?
        && !crate::two_factor::enabled(store.as_ref(), &u).await?
    {
        return Ok(Some(u));
    }
    let Ok(u) = Address::parse(username) else {
        return Ok(None);
    };
    let ok =
        crate::two_factor::app_password_login(store.as_ref(), &u, password, scope, ip, now).await?;
    Ok(ok.then_some(u))
}

/// The account password, then (with two-factor on) the code: a TOTP code not used
/// before (RFC 6238 §5.2) or one of the recovery codes, which is used up. The code is
/// looked at only after the right password, so a guesser learns nothing from it.
async fn web_credentials(
    store: &Arc<dyn Store>,
    username: &str,
    password: &str,
    code: &str,
    now: i64,
) -> Result<Option<Address>, LoginError> {
    let Some(u) = check(store, username, password).await? else {
        return Ok(None);
    };
    if !crate::two_factor::enabled(store.as_ref(), &u).await? {
        return Ok(Some(u));
    }
    let code = code.trim();
    if code.is_empty() {
        return Ok(None);
    }
    let s = store.as_ref();
    let ok = crate::two_factor::verify_code(s, &u, code, now).await?
        || s.use_recovery_code(&u, &crate::two_factor::secret_hash(code))
            .await?;
    Ok(ok.then_some(u))
}

/// A login attempt with lockouts and bans: the check of [`check`], then the guard's
/// bookkeeping. Every service shares one account lock and one address ban: a guess over
/// IMAP counts exactly like one over SMTP. During a lockout the right password works
/// only from an address the account logged in from recently (see [`guard`]).
pub async fn attempt(
    store: &Arc<dyn Store>,
    cfg: &SecurityConfig,
    a: Attempt<'_>,
) -> Result<Login, LoginError> {
    let Attempt {
        username,
        password,
        ip,
        door,
        now,
    } = a;
    let account = guard::account_key(username);
    // Read once: it decides admission and, on failure, the next lock's length.
    let lock = store.lockout(&account).await?;
    let admission = guard::admission(lock.as_ref(), now);
    // The credentials are checked even when locked: the same work, whatever the state.
    let user = match door {
        Door::Mail(scope) => mail_credentials(store, username, password, scope, ip, now).await?,
        Door::Web { code } => web_credentials(store, username, password, code, now).await?,
    };
    // Whatever spelling logged in, the session carries the mailbox's own: rate limits,
    // quotas and the sender binding are keyed on it.
    let user = user.and_then(|u| Address::parse(&u.lookup_key()).ok());
    match (user, admission) {
        (Some(user), Admission::Open) => {
            guard::succeeded(store.as_ref(), &account, ip, now).await?;
            Ok(Login::Accepted(user))
        }
        (Some(user), Admission::Locked(block)) => {
            if guard::known_address(store.as_ref(), cfg, &account, ip, now).await? {
                guard::succeeded(store.as_ref(), &account, ip, now).await?;
                Ok(Login::Accepted(user))
            } else {
                Ok(Login::Locked(block, Consequences::default()))
            }
        }
        (None, admission) => {
            let c = guard::failed(
                store.as_ref(),
                cfg,
                &account,
                password,
                ip,
                lock.as_ref(),
                now,
            )
            .await?;
            Ok(match admission {
                Admission::Locked(block) => Login::Locked(block, c),
                Admission::Open => Login::Refused(c),
            })
        }
    }
}
