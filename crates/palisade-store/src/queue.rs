//! The scheduler's bookkeeping for spooled messages, and the DSNs already queued.

use palisade_types::QueueId;

use crate::StoreError;

/// The scheduler's bookkeeping for one spooled message; the message itself is
/// in the spool under the same [`QueueId`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStatus {
    pub id: QueueId,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// When to try next, in seconds since the Unix epoch.
    pub next_attempt: i64,
    /// The last transient failure, for `queue` listings and the eventual DSN.
    pub last_error: Option<String>,
    /// Recipients already delivered, so a retry never delivers twice.
    pub delivered: Vec<String>,
    /// When this record was last written, in seconds since the Unix epoch.
    pub updated: i64,
}

#[async_trait::async_trait]
pub trait QueueState: Send + Sync {
    async fn queue_status(&self, id: QueueId) -> Result<Option<QueueStatus>, StoreError>;

    /// Inserts or replaces the record for `s.id`, delivered list included.
    async fn put_queue_status(&self, s: &QueueStatus) -> Result<(), StoreError>;

    /// Forgets a message's record; removing an absent one is not an error.
    async fn remove_queue_status(&self, id: QueueId) -> Result<(), StoreError>;

    /// Every record, soonest `next_attempt` first.
    async fn list_queue_status(&self) -> Result<Vec<QueueStatus>, StoreError>;

    /// Whether a DSN reporting `recipients` (sorted, comma-separated) of the message
    /// `original` was queued already.
    async fn dsn_queued(&self, original: QueueId, recipients: &str) -> Result<bool, StoreError>;

    /// Records that such a DSN was queued (a second record is no error).
    async fn record_dsn(
        &self,
        original: QueueId,
        recipients: &str,
        now: i64,
    ) -> Result<(), StoreError>;
}
