//! [`QueueState`] on SQLite.

use super::*;
use crate::QueueState;

#[async_trait::async_trait]
impl QueueState for SqliteStore {
    async fn queue_status(&self, id: QueueId) -> Result<Option<QueueStatus>, StoreError> {
        const CONTEXT: &str = "reading a queue status";
        let id = id.to_string();
        // A read transaction keeps the row and its delivered list consistent.
        let mut tx = self.pool.begin().await.map_err(db(CONTEXT))?;
        let row: Option<StatusRow> = sqlx::query_as(
            "SELECT id, attempts, next_attempt, last_error, updated FROM queue_status WHERE id = ?",
        )
        .bind(id.clone())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let delivered: Vec<String> = sqlx::query_scalar(
            "SELECT recipient FROM queue_delivered WHERE id = ? ORDER BY position",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))?;
        status_from_row(row, delivered).map(Some)
    }

    async fn put_queue_status(&self, s: &QueueStatus) -> Result<(), StoreError> {
        const CONTEXT: &str = "writing a queue status";
        let id = s.id.to_string();
        let mut tx = self.write_tx(CONTEXT).await?;
        // An upsert, not INSERT OR REPLACE: replacing would delete the row first
        // and cascade to its delivered list behind our back.
        sqlx::query(
            "INSERT INTO queue_status (id, attempts, next_attempt, last_error, updated)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET attempts = excluded.attempts,
                 next_attempt = excluded.next_attempt, last_error = excluded.last_error,
                 updated = excluded.updated",
        )
        .bind(id.clone())
        .bind(i64::from(s.attempts))
        .bind(s.next_attempt)
        .bind(s.last_error.clone())
        .bind(s.updated)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM queue_delivered WHERE id = ?")
            .bind(id.clone())
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        for (position, recipient) in (0_i64..).zip(&s.delivered) {
            sqlx::query("INSERT INTO queue_delivered (id, position, recipient) VALUES (?, ?, ?)")
                .bind(id.clone())
                .bind(position)
                .bind(recipient.clone())
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn remove_queue_status(&self, id: QueueId) -> Result<(), StoreError> {
        const CONTEXT: &str = "removing a queue status";
        let id = id.to_string();
        let mut tx = self.write_tx(CONTEXT).await?;
        for sql in [
            "DELETE FROM queue_delivered WHERE id = ?",
            "DELETE FROM queue_status WHERE id = ?",
        ] {
            sqlx::query(sql)
                .bind(id.clone())
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn list_queue_status(&self) -> Result<Vec<QueueStatus>, StoreError> {
        const CONTEXT: &str = "listing queue statuses";
        let mut tx = self.pool.begin().await.map_err(db(CONTEXT))?;
        let rows: Vec<StatusRow> = sqlx::query_as(
            "SELECT id, attempts, next_attempt, last_error, updated FROM queue_status
             ORDER BY next_attempt, id",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        // Two queries and a join in memory rather than one query per message.
        let delivered: Vec<(String, String)> =
            sqlx::query_as("SELECT id, recipient FROM queue_delivered ORDER BY id, position")
                .fetch_all(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))?;
        let mut by_id: HashMap<String, Vec<String>> = HashMap::new();
        for (id, recipient) in delivered {
            by_id.entry(id).or_default().push(recipient);
        }
        rows.into_iter()
            .map(|row| {
                let delivered = by_id.remove(&row.0).unwrap_or_default();
                status_from_row(row, delivered)
            })
            .collect()
    }

    async fn dsn_queued(&self, original: QueueId, recipients: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM dsn_sent WHERE original = ? AND recipients = ?",
        )
        .bind(original.to_string())
        .bind(recipients)
        .fetch_one(&self.pool)
        .await
        .map_err(db("reading sent DSNs"))?;
        Ok(n > 0)
    }

    async fn record_dsn(
        &self,
        original: QueueId,
        recipients: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT OR IGNORE INTO dsn_sent (original, recipients, sent) VALUES (?, ?, ?)")
            .bind(original.to_string())
            .bind(recipients)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db("recording a DSN"))?;
        // A message is retried for days, not months: older records can go.
        sqlx::query("DELETE FROM dsn_sent WHERE sent < ?")
            .bind(now - DSN_MEMORY)
            .execute(&self.pool)
            .await
            .map_err(db("forgetting old DSNs"))?;
        Ok(())
    }
}
