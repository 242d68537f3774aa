//! What happened: the audit trail, the organisations each local domain
//! corresponds with, and the decisions the per-site model learns from.

use palisade_types::MessageLabel;

use crate::StoreError;

/// One line of the audit trail (admin changes, security events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Seconds since the Unix epoch.
    pub time: i64,
    /// A short machine-readable category, e.g. `user.add` or `auth.fail`.
    pub kind: String,
    /// Who or what the event is about, e.g. an address or a domain.
    pub subject: String,
    /// Free text for humans.
    pub detail: String,
}

/// A person's decision about one message, for the per-site model.
#[derive(Debug, Clone, PartialEq)]
pub struct Lesson {
    /// Names the message (the SHA-256 of its body, hex): one decision per message.
    pub digest: String,
    pub label: MessageLabel,
    /// Who decided (`admin`, or a user's address).
    pub who: String,
    /// How much the decision counts (an administrator's more than a user's).
    pub weight: f64,
    pub time: i64,
    /// The message's content-model features.
    pub buckets: Vec<u32>,
}

/// The per-site model's counts: weighted decisions per label (in
/// [`MessageLabel::index`] order), and per feature bucket those of each label that
/// had it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteCounts {
    pub totals: [f64; 3],
    pub counts: Vec<(u32, [f64; 3])>,
}

#[async_trait::async_trait]
pub trait History: Send + Sync {
    async fn record_event(&self, e: &Event) -> Result<(), StoreError>;

    /// The `limit` most recent events, newest first.
    async fn recent_events(&self, limit: u32) -> Result<Vec<Event>, StoreError>;

    /// Notes that the organisation of local domain `local` exchanged a message with each
    /// of `senders` (organisational domains) at `time`.
    async fn record_correspondents(
        &self,
        local: &str,
        senders: &[String],
        time: i64,
    ) -> Result<(), StoreError>;

    /// The organisations `local` corresponds with most, at most `limit`.
    async fn correspondents(&self, local: &str, limit: u32) -> Result<Vec<String>, StoreError>;

    async fn is_correspondent(&self, local: &str, sender: &str) -> Result<bool, StoreError>;

    /// Records a decision for the per-site model, replacing an earlier one about the
    /// same message (taken back from the counts) unless that one weighed more; false if
    /// nothing changed.
    async fn learn(&self, lesson: &Lesson) -> Result<bool, StoreError>;

    /// Decisions `who` recorded since `since`.
    async fn lessons_since(&self, who: &str, since: i64) -> Result<u64, StoreError>;

    /// The per-site model's counts.
    async fn site_counts(&self) -> Result<SiteCounts, StoreError>;

    /// Events at or after `since`, newest first, at most `limit`.
    async fn events_since(&self, since: i64, limit: u32) -> Result<Vec<Event>, StoreError>;
}
