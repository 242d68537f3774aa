//! [`Nodes`] on SQLite (one file is one node's, but `cluster status` reads the same).

use super::*;
use crate::{NodeStatus, Nodes};

#[async_trait::async_trait]
impl Nodes for SqliteStore {
    async fn heartbeat(
        &self,
        node: &str,
        version: &str,
        started: i64,
        now: i64,
    ) -> Result<NodeStatus, StoreError> {
        let row: NodeRow = sqlx::query_as(
            "INSERT INTO nodes (node, version, started, heartbeat, retrying) \
             VALUES (?, ?, ?, ?, (SELECT COUNT(*) FROM queue_status WHERE attempts > 0)) \
             ON CONFLICT (node) DO UPDATE SET version = excluded.version, \
               started = excluded.started, heartbeat = excluded.heartbeat, \
               retrying = excluded.retrying \
             RETURNING node, version, started, heartbeat, retrying",
        )
        .bind(node)
        .bind(version)
        .bind(started)
        .bind(now)
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
            "INSERT INTO leases (name, node, until) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET node = excluded.node, until = excluded.until \
             WHERE leases.until <= ? OR leases.node = excluded.node \
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
