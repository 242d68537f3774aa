//! The nodes sharing this store, each with the last time it said it was alive.

use crate::StoreError;

/// One node as it last reported itself (`palisade cluster status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// Its `node_id`.
    pub node: String,
    /// The Palisade version it runs.
    pub version: String,
    /// When it started, in seconds since the Unix epoch.
    pub started: i64,
    /// Its last heartbeat, in seconds since the Unix epoch.
    pub heartbeat: i64,
    /// Messages of its queue waiting for a retry, at that heartbeat.
    pub retrying: u64,
}

#[async_trait::async_trait]
pub trait Nodes: Send + Sync {
    /// Records that `node` (running `version` since `started`, the node this store was
    /// opened as) is alive at `now`, with the count of its messages waiting for a retry;
    /// returns what was recorded.
    async fn heartbeat(
        &self,
        node: &str,
        version: &str,
        started: i64,
        now: i64,
    ) -> Result<NodeStatus, StoreError>;

    /// Every node that ever reported, by name.
    async fn nodes(&self) -> Result<Vec<NodeStatus>, StoreError>;

    /// Takes the lease `name` for `node` until `until` when it is free (no holder, or
    /// one whose lease ended by `now`) or already `node`'s (a renewal); true if `node`
    /// holds it now. One statement, so two nodes asking at once cannot both win.
    async fn take_lease(
        &self,
        name: &str,
        node: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError>;
}
