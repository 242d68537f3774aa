//! [`QuarantineStore`] on PostgreSQL: a commit is durable before it returns (the
//! server's default `synchronous_commit = on`), so a node may delete its own copy.

use super::*;
use crate::{HeldMessage, QuarantineStore};

#[async_trait::async_trait]
impl QuarantineStore for PgStore {
    async fn hold(&self, m: &HeldMessage, file: &[u8]) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO quarantine (id, node, arrived, sender, recipients, subject, reason, \
             size, file) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(m.id.to_string())
        .bind(&m.node)
        .bind(m.arrived)
        .bind(&m.sender)
        .bind(m.recipients.join("\n"))
        .bind(&m.subject)
        .bind(&m.reason)
        .bind(m.size)
        .bind(file)
        .execute(&self.pool)
        .await
        .map_err(db("holding a message"))?;
        Ok(())
    }

    async fn list_held(&self, limit: u32) -> Result<Vec<HeldMessage>, StoreError> {
        let sql = format!(
            "SELECT {HELD_COLUMNS} FROM quarantine ORDER BY arrived DESC, id DESC LIMIT $1"
        );
        let rows: Vec<HeldRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing held messages"))?;
        rows.into_iter().map(held_message).collect()
    }

    async fn held(&self, id: QueueId) -> Result<Option<HeldMessage>, StoreError> {
        let sql = format!("SELECT {HELD_COLUMNS} FROM quarantine WHERE id = $1");
        let row: Option<HeldRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a held message"))?;
        row.map(held_message).transpose()
    }

    async fn held_file(&self, id: QueueId) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar("SELECT file FROM quarantine WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a held message"))
    }

    async fn remove_held(&self, id: QueueId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM quarantine WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("removing a held message"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn expire_held(&self, before: i64) -> Result<Vec<QueueId>, StoreError> {
        let ids: Vec<String> =
            sqlx::query_scalar("DELETE FROM quarantine WHERE arrived < $1 RETURNING id")
                .bind(before)
                .fetch_all(&self.pool)
                .await
                .map_err(db("expiring held messages"))?;
        Ok(queue_ids(ids))
    }
}
