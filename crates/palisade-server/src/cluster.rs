//! This node's heartbeat in the store, which `palisade cluster status` reads.

use std::sync::Arc;
use std::time::Duration;

/// How often a node says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// Records a heartbeat now and every [`HEARTBEAT`] after, until aborted.
pub async fn heartbeat_loop(shared: Arc<crate::Shared>) {
    let started = palisade_queue::now_secs();
    loop {
        let node = shared.config().node_id.clone();
        let beat = shared.store.heartbeat(
            &node,
            env!("CARGO_PKG_VERSION"),
            started,
            palisade_queue::now_secs(),
        );
        if let Err(e) = beat.await {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "recording the heartbeat"
            );
        }
        tokio::time::sleep(HEARTBEAT).await;
    }
}

/// Whether this node does `work` this round, among the nodes sharing the store: it
/// holds the lease for two rounds of `every` and renews it each round, so another node
/// takes over only once the holder has missed a round. A store error counts as not
/// holding it: the round is skipped, so the work waits rather than runs twice.
pub async fn lead(shared: &crate::Shared, work: &str, every: Duration) -> bool {
    let now = palisade_queue::now_secs();
    let span = i64::try_from(every.as_secs().saturating_mul(2)).unwrap_or(i64::MAX);
    let node = shared.config().node_id.clone();
    match shared
        .store
        .take_lease(work, &node, now, now.saturating_add(span))
        .await
    {
        Ok(held) => held,
        Err(e) => {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                work,
                "taking the lease"
            );
            false
        }
    }
}
