//! [`QueueState`] on PostgreSQL: each node sees and changes its own rows only
//! (`queue_status.node`), since its messages are in its own spool.

use super::*;
use crate::QueueState;

/// A `queue_status` row with its delivered list, read in one statement (so one
/// snapshot: a read transaction at PostgreSQL's default isolation would take one per
/// statement).
type FullRow = (String, i64, i64, Option<String>, i64, Vec<String>);

macro_rules! select_status {
    () => {
        "SELECT id, attempts, next_attempt, last_error, updated, \
         ARRAY(SELECT recipient FROM queue_delivered d \
               WHERE d.node = q.node AND d.id = q.id ORDER BY position) \
         FROM queue_status q"
    };
}

fn status(
    (id, attempts, next, error, updated, delivered): FullRow,
) -> Result<QueueStatus, StoreError> {
    status_from_row((id, attempts, next, error, updated), delivered)
}

#[async_trait::async_trait]
impl QueueState for PgStore {
    async fn queue_status(&self, id: QueueId) -> Result<Option<QueueStatus>, StoreError> {
        let row: Option<FullRow> =
            sqlx::query_as(concat!(select_status!(), " WHERE node = $1 AND id = $2"))
                .bind(&self.node)
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a queue status"))?;
        row.map(status).transpose()
    }

    async fn put_queue_status(&self, s: &QueueStatus) -> Result<(), StoreError> {
        const CONTEXT: &str = "writing a queue status";
        let id = s.id.to_string();
        let mut tx = self.tx(CONTEXT).await?;
        // An upsert, not a delete and insert: that would cascade to the delivered list.
        sqlx::query(
            "INSERT INTO queue_status (node, id, attempts, next_attempt, last_error, updated) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (node, id) DO UPDATE SET attempts = EXCLUDED.attempts, \
                 next_attempt = EXCLUDED.next_attempt, last_error = EXCLUDED.last_error, \
                 updated = EXCLUDED.updated",
        )
        .bind(&self.node)
        .bind(&id)
        .bind(i64::from(s.attempts))
        .bind(s.next_attempt)
        .bind(s.last_error.as_deref())
        .bind(s.updated)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM queue_delivered WHERE node = $1 AND id = $2")
            .bind(&self.node)
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        if !s.delivered.is_empty() {
            sqlx::query(
                "INSERT INTO queue_delivered (node, id, position, recipient) \
                 SELECT $1, $2, position - 1, recipient \
                 FROM UNNEST($3::text[]) WITH ORDINALITY AS t(recipient, position)",
            )
            .bind(&self.node)
            .bind(&id)
            .bind(&s.delivered)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn remove_queue_status(&self, id: QueueId) -> Result<(), StoreError> {
        // One statement: the delivered list goes with the row (ON DELETE CASCADE).
        sqlx::query("DELETE FROM queue_status WHERE node = $1 AND id = $2")
            .bind(&self.node)
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("removing a queue status"))?;
        Ok(())
    }

    async fn list_queue_status(&self) -> Result<Vec<QueueStatus>, StoreError> {
        let rows: Vec<FullRow> = sqlx::query_as(concat!(
            select_status!(),
            " WHERE node = $1 ORDER BY next_attempt, id"
        ))
        .bind(&self.node)
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing queue statuses"))?;
        rows.into_iter().map(status).collect()
    }

    async fn dsn_queued(&self, original: QueueId, recipients: &str) -> Result<bool, StoreError> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM dsn_sent WHERE original = $1 AND recipients = $2)",
        )
        .bind(original.to_string())
        .bind(recipients)
        .fetch_one(&self.pool)
        .await
        .map_err(db("reading sent DSNs"))
    }

    async fn record_dsn(
        &self,
        original: QueueId,
        recipients: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO dsn_sent (original, recipients, sent) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(original.to_string())
        .bind(recipients)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db("recording a DSN"))?;
        // A message is retried for days, not months: older records can go.
        sqlx::query("DELETE FROM dsn_sent WHERE sent < $1")
            .bind(now - DSN_MEMORY)
            .execute(&self.pool)
            .await
            .map_err(db("forgetting old DSNs"))?;
        Ok(())
    }
}
