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
