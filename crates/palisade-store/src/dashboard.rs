//! What the administrators' dashboard is drawn from: each node's counts per hour
//! (messages in and out, verdicts, deliveries, rejections), summed over the nodes on
//! reading, so a cluster has one dashboard; and the TLS results of outbound delivery
//! (TLS-RPT), kept after their report went out so the console can show them.

use crate::{StoreError, TlsResultRow};

/// Hours the nodes keep their hourly counts (the longer charts read daily ones); the
/// senders refused most are known for this long.
pub const HOURS_KEPT: i64 = 14 * 24;
/// Days the nodes keep their daily counts.
pub const DAYS_KEPT: i64 = 400;

/// What is counted per hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tally {
    /// Messages accepted from other servers.
    Received,
    /// Messages accepted from signed-in users (submission).
    Sent,
    /// Messages or recipients refused; the key is the reason.
    Rejected,
    /// Messages held in quarantine.
    Quarantined,
    /// Recipients delivered (locally or to another server).
    Delivered,
    /// Delivery attempts deferred for a retry.
    Deferred,
    /// Recipients that failed for good (a bounce went out).
    Bounced,
    /// Sender authentication's verdict; the key is the verdict.
    SenderVerdict,
    /// The phishing engine's action; the key is the action.
    PhishVerdict,
    /// Refusals by sender domain; the key is the domain (read with
    /// [`DashboardStore::top_keys`], never with the rest, and kept by the hour only).
    RejectedSender,
    /// Addresses banned.
    Banned,
    /// Failed logins.
    LoginFailed,
}

impl Tally {
    pub const ALL: [Tally; 12] = [
        Tally::Received,
        Tally::Sent,
        Tally::Rejected,
        Tally::Quarantined,
        Tally::Delivered,
        Tally::Deferred,
        Tally::Bounced,
        Tally::SenderVerdict,
        Tally::PhishVerdict,
        Tally::RejectedSender,
        Tally::Banned,
        Tally::LoginFailed,
    ];

    /// The name stored (stable: rows outlive versions).
    pub fn name(self) -> &'static str {
        match self {
            Tally::Received => "received",
            Tally::Sent => "sent",
            Tally::Rejected => "rejected",
            Tally::Quarantined => "quarantined",
            Tally::Delivered => "delivered",
            Tally::Deferred => "deferred",
            Tally::Bounced => "bounced",
            Tally::SenderVerdict => "sender_verdict",
            Tally::PhishVerdict => "phish_verdict",
            Tally::RejectedSender => "rejected_sender",
            Tally::Banned => "banned",
            Tally::LoginFailed => "login_failed",
        }
    }

    pub fn parse(s: &str) -> Option<Tally> {
        Tally::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// A count for one hour (Unix time / 3600), or for a bucket of hours starting there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyCount {
    pub hour: i64,
    pub tally: Tally,
    /// What the count is of within the tally (a reason, a verdict); empty for none.
    pub key: String,
    pub count: i64,
}

#[async_trait::async_trait]
pub trait DashboardStore: Send + Sync {
    /// Adds `node`'s counts (rows with the same hour, tally and key are summed).
    async fn add_hourly_counts(&self, node: &str, rows: &[HourlyCount]) -> Result<(), StoreError>;
    /// Counts from `since_hour` on, summed over nodes into buckets of `bucket` hours
    /// (each row's `hour` is its bucket's first hour), [`Tally::RejectedSender`] left
    /// out, in no particular order. Whole days from a day's start come from the daily
    /// counts; hourly counts are kept for a shorter time than daily ones.
    async fn hourly_counts(
        &self,
        since_hour: i64,
        bucket: i64,
    ) -> Result<Vec<HourlyCount>, StoreError>;
    /// The `limit` keys of `tally` with the highest counts since `since_hour`.
    async fn top_keys(
        &self,
        tally: Tally,
        since_hour: i64,
        limit: u32,
    ) -> Result<Vec<(String, i64)>, StoreError>;
    /// Forgets hourly counts before `before_hour` and daily ones before `before_day`
    /// (whole days are kept longer: the long charts read them).
    async fn prune_counts(&self, before_hour: i64, before_day: i64) -> Result<u64, StoreError>;
    /// Messages of the queue waiting for a retry (attempted at least once).
    async fn queue_retrying(&self) -> Result<u64, StoreError>;
    /// TLS results of days from `since_day` on, reported or not, by day then domain.
    async fn tls_results(&self, since_day: i64) -> Result<Vec<TlsResultRow>, StoreError>;
}
