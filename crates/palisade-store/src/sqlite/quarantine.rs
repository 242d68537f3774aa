//! [`QuarantineStore`] on SQLite. A held message is written with `synchronous = FULL`
//! on its connection (the store's other writes use NORMAL): its node deletes its own
//! copy once this returns, so the commit must survive a power cut.

use super::*;
use crate::{HeldMessage, QuarantineStore};

#[async_trait::async_trait]
impl QuarantineStore for SqliteStore {
    async fn hold(&self, m: &HeldMessage, file: &[u8]) -> Result<(), StoreError> {
        const CONTEXT: &str = "holding a message";
        let mut conn = self.pool.acquire().await.map_err(db(CONTEXT))?;
        sqlx::query("PRAGMA synchronous = FULL")
            .execute(&mut *conn)
            .await
            .map_err(db(CONTEXT))?;
        let held = sqlx::query(
            "INSERT INTO quarantine (id, node, arrived, sender, recipients, subject, reason, \
             size, file) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
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
        .execute(&mut *conn)
        .await;
        // Back to the pool's setting whatever happened.
        let normal = sqlx::query("PRAGMA synchronous = NORMAL")
            .execute(&mut *conn)
            .await;
        held.map_err(db(CONTEXT))?;
        normal.map_err(db(CONTEXT))?;
        Ok(())
    }

    async fn list_held(&self, limit: u32) -> Result<Vec<HeldMessage>, StoreError> {
        let sql =
            format!("SELECT {HELD_COLUMNS} FROM quarantine ORDER BY arrived DESC, id DESC LIMIT ?");
        let rows: Vec<HeldRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing held messages"))?;
        rows.into_iter().map(held_message).collect()
    }

    async fn held(&self, id: QueueId) -> Result<Option<HeldMessage>, StoreError> {
        let sql = format!("SELECT {HELD_COLUMNS} FROM quarantine WHERE id = ?");
        let row: Option<HeldRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a held message"))?;
        row.map(held_message).transpose()
    }

    async fn held_file(&self, id: QueueId) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query_scalar("SELECT file FROM quarantine WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a held message"))
    }

    async fn remove_held(&self, id: QueueId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM quarantine WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("removing a held message"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn expire_held(&self, before: i64) -> Result<Vec<QueueId>, StoreError> {
        let ids: Vec<String> =
            sqlx::query_scalar("DELETE FROM quarantine WHERE arrived < ? RETURNING id")
                .bind(before)
                .fetch_all(&self.pool)
                .await
                .map_err(db("expiring held messages"))?;
        Ok(queue_ids(ids))
    }
}
