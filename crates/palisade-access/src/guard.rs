//! Brute-force defences: account lockouts and IP bans, kept in the store so they
//! survive restarts and hold on every node sharing it.
//!
//! - Every failed login is recorded with a short keyed fingerprint of the password
//!   tried: the same wrong password from the same address counts once, so a mail app
//!   retrying a stale password is not taken for an attack.
//! - `max_login_failures` distinct failures of one account (the name as typed, lower
//!   case: unknown names lock the same way, so a lock reveals nothing) within the
//!   window lock it for `lockout`, doubling for each lock within a day of the last.
//! - `max_ip_failures` distinct failures from one address ban it for `ban`, doubling
//!   for each ban within a week of the last; `never_ban` networks are exempt.
//! - SMTP-level abuse (relay attempts, unknown recipients) bans the same way.
//! - During a lockout, the right credentials still work from an address the account
//!   logged in from within `known_ip_days`: the owner's devices at home keep working
//!   while an attacker elsewhere is stopped. Lockouts are temporary, so an attacker can
//!   delay the owner at worst, never lock them out for good.

use palisade_config::SecurityConfig;
use palisade_store::{Block, Event, Store, StoreError};
use std::net::IpAddr;

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the system random source failed")]
    Random,
}

/// Longest lockout and longest ban, however many in a row.
const MAX_LOCKOUT: i64 = 86_400;
const MAX_BAN: i64 = 7 * 86_400;
/// Name of the fingerprint key in the store's secrets.
const FINGERPRINT_KEY: &str = "auth-failure-fingerprint";

/// What to do with a login attempt before checking its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Open,
    /// Locked: only the right credentials from a known address get in.
    Locked(Block),
}

/// The key an address is counted, banned and rate-limited under: IPv4 addresses as they
/// are, IPv6 addresses by their /64 (one subscriber usually holds a whole /64 and can
/// rotate through it at will; privacy extensions also change a device's address).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// The key accounts are counted under: the identity of the name typed (one for every
/// spelling of a mailbox: case, trailing dot, quoting, IDNA), so a lock holds whatever
/// spelling the next attempt uses.
pub fn account_key(username: &str) -> String {
    palisade_types::identity(username)
}

/// Lifts the ban on `ip` (an IPv6 address by its /64): the key that was banned, or
/// `None` if it was not. A running server lets the address in within 5 s.
pub async fn lift_ban(store: &dyn Store, ip: IpAddr) -> Result<Option<String>, StoreError> {
    let key = address_key(ip).to_string();
    Ok(store.remove_ban(&key).await?.then_some(key))
}

/// Lifts `account`'s lock (an [`account_key`]) and forgets its failures: the lock
/// that was lifted, or `None` if there was none. The CLI and the console both call it.
pub async fn unlock(store: &dyn Store, account: &str) -> Result<Option<Block>, StoreError> {
    let Some(lock) = store.lockout(account).await? else {
        return Ok(None);
    };
    store.remove_lockout(account).await?;
    store.clear_user_failures(account).await?;
    Ok(Some(lock))
}

/// 32 bits of HMAC-SHA256 over the account and the password tried: enough to tell a
/// repeated password from a new one, too little to help anyone who reads the store.
pub fn fingerprint(secret: &[u8], account: &str, password: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let mut ctx = aws_lc_rs::hmac::Context::with_key(&key);
    ctx.update(account.as_bytes());
    ctx.update(&[0]);
    ctx.update(password.as_bytes());
    let tag = ctx.sign();
    tag.as_ref()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The installation's fingerprint key (made on first use).
pub async fn fingerprint_secret(store: &dyn Store) -> Result<Vec<u8>, GuardError> {
    let mut fresh = [0u8; 32];
    aws_lc_rs::rand::fill(&mut fresh).map_err(|_| GuardError::Random)?;
    Ok(store.server_secret(FINGERPRINT_KEY, &fresh).await?)
}

/// `base` doubled for each earlier block in the series, capped.
fn duration(base: i64, strikes: u32, cap: i64) -> i64 {
    let factor = 1i64
        .checked_shl(strikes.saturating_sub(1).min(20))
        .unwrap_or(i64::MAX);
    base.saturating_mul(factor).min(cap)
}

/// The next block of a series: `(base, series, cap)` are the first block's length, how
/// soon after the last one ended a new one counts as a repeat (and doubles), and the
/// longest block.
fn next_block(
    previous: Option<&Block>,
    key: &str,
    now: i64,
    (base, series, cap): (std::time::Duration, i64, i64),
    reason: String,
) -> Block {
    let strikes = match previous {
        Some(b) if now - b.until < series => b.strikes + 1,
        _ => 1,
    };
    let base = i64::try_from(base.as_secs()).unwrap_or(cap);
    Block {
        key: key.to_string(),
        since: now,
        until: now + duration(base, strikes, cap),
        strikes,
        reason,
    }
}

/// Whether an account with the lockout record `lock` may try to log in at `now`.
pub fn admission(lock: Option<&Block>, now: i64) -> Admission {
    match lock {
        Some(b) if b.until > now => Admission::Locked(b.clone()),
        _ => Admission::Open,
    }
}

/// Whether `ip` logged in to `account` successfully recently enough to pass a lockout.
pub async fn known_address(
    store: &dyn Store,
    cfg: &SecurityConfig,
    account: &str,
    ip: IpAddr,
    now: i64,
) -> Result<bool, StoreError> {
    let recent = now - i64::try_from(cfg.known_ip_days).unwrap_or(0) * 86_400;
    Ok(store
        .last_login(account, &address_key(ip).to_string())
        .await?
        .is_some_and(|t| t >= recent))
}

/// A successful login: remembered for lockouts (the account's failures before it no
/// longer count towards a lock; they still count towards the address's ban).
pub async fn succeeded(
    store: &dyn Store,
    account: &str,
    ip: IpAddr,
    now: i64,
) -> Result<(), StoreError> {
    store
        .record_login(account, &address_key(ip).to_string(), now)
        .await
}
/// What a failure led to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consequences {
    pub locked: Option<Block>,
    pub banned: Option<Block>,
}

/// Records a failed login and locks or bans when a limit is reached. `previous` is the
/// account's lockout record as read before the attempt (current or expired).
pub async fn failed(
    store: &dyn Store,
    cfg: &SecurityConfig,
    account: &str,
    password: &str,
    ip: IpAddr,
    previous: Option<&Block>,
    now: i64,
) -> Result<Consequences, GuardError> {
    let secret = fingerprint_secret(store).await?;
    let ip_text = address_key(ip).to_string();
    store
        .record_auth_failure(
            account,
            &ip_text,
            &fingerprint(&secret, account, password),
            now,
        )
        .await?;
    let mut out = Consequences::default();
    let window = i64::try_from(cfg.login_failure_window.as_secs()).unwrap_or(i64::MAX);
    // An account's failures count from the window's start, or from its last lock's end
    // or last successful login if later. Rows are never deleted here: the address's
    // ban count needs them (deleting them let an attacker lock account after account
    // without ever being banned).
    let mut since = now - window;
    if let Some(b) = previous {
        since = since.max(b.until);
    }
    if let Some(t) = store.last_login_any(account).await? {
        since = since.max(t + 1);
    }
    let failures = store.count_user_failures(account, since).await?;
    if failures >= cfg.max_login_failures && previous.is_none_or(|b| b.until <= now) {
        let block = next_block(
            previous,
            account,
            now,
            (cfg.lockout, 86_400, MAX_LOCKOUT),
            format!("{failures} failed logins within {} minutes", window / 60),
        );
        store.put_lockout(&block).await?;
        event(store, now, "security.locked", account, &block).await;
        out.locked = Some(block);
    }
    let window = i64::try_from(cfg.ip_failure_window.as_secs()).unwrap_or(i64::MAX);
    let failures = store.count_ip_failures(&ip_text, now - window).await?;
    if failures >= cfg.max_ip_failures {
        out.banned = ban(
            store,
            cfg,
            ip,
            now,
            format!("{failures} failed logins within {} minutes", window / 60),
        )
        .await?;
    }
    Ok(out)
}

/// SMTP-level abuse from `ip` (`kind`: `relay` or `unknown_rcpt`); bans past the limit.
pub async fn strike(
    store: &dyn Store,
    cfg: &SecurityConfig,
    ip: IpAddr,
    kind: &str,
    now: i64,
) -> Result<Option<Block>, StoreError> {
    let limit = match kind {
        "relay" => cfg.max_relay_attempts,
        _ => cfg.max_unknown_recipients,
    };
    if limit == 0 || cfg.never_banned(ip) {
        return Ok(None);
    }
    let ip_text = address_key(ip).to_string();
    store.record_strike(&ip_text, kind, now).await?;
    let window = i64::try_from(cfg.abuse_window.as_secs()).unwrap_or(i64::MAX);
    let n = store.count_strikes(&ip_text, kind, now - window).await?;
    if n < limit {
        return Ok(None);
    }
    let what = if kind == "relay" {
        "relay attempts"
    } else {
        "unknown recipients"
    };
    ban(
        store,
        cfg,
        ip,
        now,
        format!("{n} {what} within {} minutes", window / 60),
    )
    .await
}

/// Bans `ip` unless it is exempt or already banned.
async fn ban(
    store: &dyn Store,
    cfg: &SecurityConfig,
    ip: IpAddr,
    now: i64,
    reason: String,
) -> Result<Option<Block>, StoreError> {
    if cfg.never_banned(ip) {
        return Ok(None);
    }
    let ip_text = address_key(ip).to_string();
    let previous = store.ban(&ip_text).await?;
    if previous.as_ref().is_some_and(|b| b.until > now) {
        return Ok(None);
    }
    let block = next_block(
        previous.as_ref(),
        &ip_text,
        now,
        (cfg.ban, 7 * 86_400, MAX_BAN),
        reason,
    );
    store.put_ban(&block).await?;
    event(store, now, "security.banned", &ip_text, &block).await;
    Ok(Some(block))
}

async fn event(store: &dyn Store, now: i64, kind: &str, subject: &str, b: &Block) {
    let detail = format!(
        "{} (for {} s, block {} in a row)",
        b.reason,
        b.until - b.since,
        b.strikes
    );
    let _ = store
        .record_event(&Event {
            time: now,
            kind: kind.into(),
            subject: subject.into(),
            detail,
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_double_and_are_capped() {
        assert_eq!(duration(900, 1, MAX_LOCKOUT), 900);
        assert_eq!(duration(900, 2, MAX_LOCKOUT), 1800);
        assert_eq!(duration(900, 3, MAX_LOCKOUT), 3600);
        assert_eq!(duration(900, 40, MAX_LOCKOUT), MAX_LOCKOUT);
        assert_eq!(duration(3600, u32::MAX, MAX_BAN), MAX_BAN);
    }

    #[test]
    fn fingerprints_tell_passwords_apart_and_need_the_key() {
        let a = fingerprint(b"k1", "alice@x", "hunter2");
        assert_eq!(a.len(), 8);
        assert_eq!(a, fingerprint(b"k1", "alice@x", "hunter2"));
        assert_ne!(a, fingerprint(b"k1", "alice@x", "hunter3"));
        assert_ne!(a, fingerprint(b"k1", "bob@x", "hunter2"));
        assert_ne!(a, fingerprint(b"k2", "alice@x", "hunter2"));
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let b: IpAddr = "2001:db8:1:2:bbbb::9"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        assert_eq!(address_key(a).to_string(), "2001:db8:1:2::");
        let v4: IpAddr = "192.0.2.7".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(address_key(v4), v4);
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(address_key(mapped), v4);
    }

    #[test]
    fn account_keys_are_lower_case_and_bounded() {
        assert_eq!(account_key(" Alice@Example.ORG "), "alice@example.org");
        assert_eq!(account_key(&"x".repeat(5000)).len(), 320);
    }
}
