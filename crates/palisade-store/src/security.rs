//! Security state: failed logins, lockouts, bans, abuse strikes, successful
//! logins, rate-limit counts and submission quotas.

use palisade_types::Address;

use crate::StoreError;

/// A temporary block: an account that may not log in (`key` is the username as typed,
/// lower case, so unknown names lock the same way and reveal nothing), or an address
/// refused at connect (`key` is the IP). `strikes` counts blocks in a row: each lasts
/// twice as long as the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub key: String,
    pub since: i64,
    pub until: i64,
    pub strikes: u32,
    pub reason: String,
}

#[async_trait::async_trait]
pub trait Security: Send + Sync {
    /// A failed login of `user` (as typed, lower case) from `ip`; forgets those older
    /// than a day.
    async fn record_auth_failure(
        &self,
        user: &str,
        ip: &str,
        fingerprint: &str,
        time: i64,
    ) -> Result<(), StoreError>;

    /// Distinct (ip, fingerprint) failures of `user` since `since`.
    async fn count_user_failures(&self, user: &str, since: i64) -> Result<u64, StoreError>;

    /// Distinct (user, fingerprint) failures from `ip` since `since`.
    async fn count_ip_failures(&self, ip: &str, since: i64) -> Result<u64, StoreError>;

    /// Forgets `user`'s failures (after a successful login or an unlock).
    async fn clear_user_failures(&self, user: &str) -> Result<(), StoreError>;

    async fn lockout(&self, user: &str) -> Result<Option<Block>, StoreError>;

    async fn put_lockout(&self, block: &Block) -> Result<(), StoreError>;

    /// True if there was one.
    async fn remove_lockout(&self, user: &str) -> Result<bool, StoreError>;

    async fn ban(&self, ip: &str) -> Result<Option<Block>, StoreError>;

    async fn put_ban(&self, block: &Block) -> Result<(), StoreError>;

    /// Bans in force at `now`, newest first.
    async fn list_bans(&self, now: i64) -> Result<Vec<Block>, StoreError>;

    /// True if there was one.
    async fn remove_ban(&self, ip: &str) -> Result<bool, StoreError>;

    /// One SMTP-level abuse event (`kind`: `relay`, `unknown_rcpt`) from `ip`; forgets
    /// those older than a day.
    async fn record_strike(&self, ip: &str, kind: &str, time: i64) -> Result<(), StoreError>;

    async fn count_strikes(&self, ip: &str, kind: &str, since: i64) -> Result<u64, StoreError>;

    /// Notes a successful login of `user` from `ip`.
    async fn record_login(&self, user: &str, ip: &str, time: i64) -> Result<(), StoreError>;

    /// When `user` last logged in successfully from `ip`.
    async fn last_login(&self, user: &str, ip: &str) -> Result<Option<i64>, StoreError>;

    /// When `user` last logged in successfully from anywhere.
    async fn last_login_any(&self, user: &str) -> Result<Option<i64>, StoreError>;

    /// Forgets old security state: failures and strikes older than a day, lockouts
    /// ended more than a day ago, bans ended more than a week ago.
    async fn prune_security(&self, now: i64) -> Result<(), StoreError>;

    /// Sets this `node`'s counts of `kind` events per address in `window` (replacing
    /// what it wrote before for that window) and forgets windows before `window`.
    async fn put_rate_counts(
        &self,
        kind: &str,
        window: i64,
        node: &str,
        counts: &[(String, u64)],
    ) -> Result<(), StoreError>;

    /// Addresses whose `kind` events in `window`, summed over all nodes, reach `limit`.
    async fn rate_exceeded(
        &self,
        kind: &str,
        window: i64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError>;

    /// Notes a submitted message of `user` and its recipient domains; forgets what is
    /// older than 30 days.
    async fn record_submission(
        &self,
        user: &Address,
        time: i64,
        domains: &[String],
        recipients: u64,
    ) -> Result<(), StoreError>;

    /// Recipients of `user`'s messages submitted at or after `since` (10-minute
    /// buckets, like [`Security::count_submissions`]).
    async fn count_submission_recipients(
        &self,
        user: &Address,
        since: i64,
    ) -> Result<u64, StoreError>;

    /// Messages `user` submitted at or after `since`, counted in 10-minute buckets: the
    /// bucket holding `since` counts whole, so a window may include up to 10 minutes
    /// more (quotas err on the strict side), and each check reads a few rows.
    async fn count_submissions(&self, user: &Address, since: i64) -> Result<u64, StoreError>;

    /// Recipient domains `user` first wrote to at or after `since`, with no use in the
    /// 30 days before.
    async fn count_new_domains(&self, user: &Address, since: i64) -> Result<u64, StoreError>;
}
