//! The quarantine: messages held back, kept whole in the store so that any node can
//! list, show, release or delete them. A node's server first commits a held message to
//! its own spool (for the `250`), then moves it here within a second.

use palisade_types::QueueId;

use crate::StoreError;

/// A held message as listings show it; its spool file is apart ([`QuarantineStore::held_file`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldMessage {
    pub id: QueueId,
    /// The node that received it.
    pub node: String,
    /// When it arrived (seconds since the Unix epoch).
    pub arrived: i64,
    /// The reverse-path, `<>` for none.
    pub sender: String,
    /// The recipients as the sender gave them.
    pub recipients: Vec<String>,
    pub subject: String,
    /// Why it is held, in words (its `X-Palisade-Quarantine` field).
    pub reason: String,
    /// Octets of the spool file (its envelope header and the message).
    pub size: i64,
}

#[async_trait::async_trait]
pub trait QuarantineStore: Send + Sync {
    /// Keeps `m` and its spool file `file`, durably before it returns (the node deletes
    /// its own copy after). A message already held (a move done again after a crash) is
    /// left as it is.
    async fn hold(&self, m: &HeldMessage, file: &[u8]) -> Result<(), StoreError>;

    /// The newest `limit` held messages, newest first.
    async fn list_held(&self, limit: u32) -> Result<Vec<HeldMessage>, StoreError>;

    async fn held(&self, id: QueueId) -> Result<Option<HeldMessage>, StoreError>;

    /// The spool file of a held message.
    async fn held_file(&self, id: QueueId) -> Result<Option<Vec<u8>>, StoreError>;

    /// True if it was held.
    async fn remove_held(&self, id: QueueId) -> Result<bool, StoreError>;

    /// Deletes the messages that arrived before `before`; their ids.
    async fn expire_held(&self, before: i64) -> Result<Vec<QueueId>, StoreError>;
}
