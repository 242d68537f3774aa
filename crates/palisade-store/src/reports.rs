//! DMARC and TLS reporting (RFC 7489 §7, RFC 8460): evaluations kept for aggregate
//! reports, reports received, outbound TLS results, and the MTA-STS policies they
//! report on.

use crate::StoreError;

/// A cached MTA-STS policy of another domain (RFC 8461 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsPolicyRow {
    pub domain: String,
    /// The `id` of the `_mta-sts` record the policy was fetched under.
    pub id: String,
    /// The policy file as fetched.
    pub policy: String,
    /// Seconds since the epoch when `max_age` runs out.
    pub expires: i64,
}

/// Outbound TLS results of one kind (RFC 8460): sessions to `mx` of `domain` on `day`
/// (days since 1970) under `policy_type` (`sts`, `tlsa`, `no-policy-found`) with
/// `result` (`success` or an RFC 8460 §4.3 failure type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsResultRow {
    pub domain: String,
    pub day: i64,
    pub policy_type: String,
    pub mx: String,
    pub result: String,
    pub count: i64,
}

/// One DMARC evaluation kept for an aggregate report (RFC 7489 §7.2). `document` is
/// JSON owned by the reporting code; the store only keeps and returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcEvaluation {
    /// Assigned by the store; 0 when recording.
    pub id: i64,
    pub time: i64,
    /// The reporting domain (the author's organisational domain).
    pub domain: String,
    pub document: String,
}

/// An aggregate report another domain sent us; `document` is the parsed report as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedReport {
    pub org_name: String,
    pub report_id: String,
    /// The domain the report is about (ours).
    pub domain: String,
    pub received: i64,
    pub begin: i64,
    pub end: i64,
    pub document: String,
}

#[async_trait::async_trait]
pub trait Reports: Send + Sync {
    /// Stores evaluations in one transaction (the server batches them).
    /// Adds counts (rows with the same key are summed).
    async fn record_tls_results(&self, rows: &[TlsResultRow]) -> Result<(), StoreError>;

    /// Returns every result of days before `before_day` not reported yet (the part of
    /// a count recorded since the last take), and marks it reported.
    async fn take_tls_results(&self, before_day: i64) -> Result<Vec<TlsResultRow>, StoreError>;

    /// The MTA-STS policy cached for `domain` (lower case), expired or not.
    async fn mta_sts_policy(&self, domain: &str) -> Result<Option<StsPolicyRow>, StoreError>;

    /// Caches a fetched policy (replacing the domain's previous one); forgets expired ones.
    async fn put_mta_sts_policy(&self, row: &StsPolicyRow, now: i64) -> Result<(), StoreError>;

    async fn record_dmarc_evaluations(&self, es: &[DmarcEvaluation]) -> Result<(), StoreError>;

    /// Up to `limit` evaluations not yet reported, oldest first.
    async fn pending_dmarc_evaluations(
        &self,
        limit: u32,
    ) -> Result<Vec<DmarcEvaluation>, StoreError>;

    /// Forgets evaluations once their report is written.
    async fn remove_dmarc_evaluations(&self, ids: &[i64]) -> Result<(), StoreError>;

    /// Stores a received report; [`StoreError::AlreadyExists`] for the same
    /// organisation and report id (senders retry).
    async fn add_dmarc_report(&self, r: &ReceivedReport) -> Result<(), StoreError>;

    /// Received reports, all or about one domain, by domain then date.
    async fn list_dmarc_reports(
        &self,
        domain: Option<&str>,
    ) -> Result<Vec<ReceivedReport>, StoreError>;
}
