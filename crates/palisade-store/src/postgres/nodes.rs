//! [`Nodes`] on PostgreSQL: a heartbeat counts the queue rows of the node this store
//! was opened as.

use super::*;
use crate::{NodeStatus, Nodes};

#[async_trait::async_trait]
impl Nodes for PgStore {
    async fn heartbeat(
        &self,
        node: &str,
        version: &str,
        started: i64,
        now: i64,
    ) -> Result<NodeStatus, StoreError> {
        let row: NodeRow = sqlx::query_as(
            "INSERT INTO nodes (node, version, started, heartbeat, retrying) \
             VALUES ($1, $2, $3, $4, \
               (SELECT COUNT(*) FROM queue_status WHERE node = $5 AND attempts > 0)) \
             ON CONFLICT (node) DO UPDATE SET version = EXCLUDED.version, \
               started = EXCLUDED.started, heartbeat = EXCLUDED.heartbeat, \
               retrying = EXCLUDED.retrying \
             RETURNING node, version, started, heartbeat, retrying",
        )
        .bind(node)
        .bind(version)
        .bind(started)
        .bind(now)
        .bind(&self.node)
        .fetch_one(&self.pool)
        .await
        .map_err(db("recording a heartbeat"))?;
        Ok(node_status(row))
    }

    async fn nodes(&self) -> Result<Vec<NodeStatus>, StoreError> {
        let rows: Vec<NodeRow> = sqlx::query_as(
            "SELECT node, version, started, heartbeat, retrying FROM nodes ORDER BY node",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing nodes"))?;
        Ok(rows.into_iter().map(node_status).collect())
    }
    async fn take_lease(
        &self,
        name: &str,
        node: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let held: Option<String> = sqlx::query_scalar(
            "INSERT INTO leases (name, node, until) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET node = EXCLUDED.node, until = EXCLUDED.until \
             WHERE leases.until <= $4 OR leases.node = EXCLUDED.node \
             RETURNING node",
        )
        .bind(name)
        .bind(node)
        .bind(until)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("taking a lease"))?;
        Ok(held.is_some())
    }
}
