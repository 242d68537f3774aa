//! [`History`] on SQLite.

use super::*;
use crate::History;

#[async_trait::async_trait]
impl History for SqliteStore {
    async fn record_event(&self, e: &Event) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO events (time, kind, subject, detail) VALUES (?, ?, ?, ?)")
            .bind(e.time)
            .bind(e.kind.clone())
            .bind(e.subject.clone())
            .bind(e.detail.clone())
            .execute(&self.pool)
            .await
            .map_err(db("recording an event"))?;
        Ok(())
    }

    async fn recent_events(&self, limit: u32) -> Result<Vec<Event>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT time, kind, subject, detail FROM events ORDER BY time DESC, seq DESC LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading recent events"))?;
        Ok(rows.into_iter().map(event).collect())
    }

    async fn record_correspondents(
        &self,
        local: &str,
        senders: &[String],
        time: i64,
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "recording correspondents";
        if senders.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx(CONTEXT).await?;
        for sender in senders {
            sqlx::query(
                "INSERT INTO correspondents (local, sender, first_seen, last_seen, messages) \
                 VALUES (?, ?, ?, ?, 1) ON CONFLICT (local, sender) DO UPDATE SET \
                 last_seen = MAX(last_seen, excluded.last_seen), messages = messages + 1",
            )
            .bind(local)
            .bind(sender)
            .bind(time)
            .bind(time)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn correspondents(&self, local: &str, limit: u32) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT sender FROM correspondents WHERE local = ? \
             ORDER BY messages DESC, sender LIMIT ?",
        )
        .bind(local)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing correspondents"))
    }

    async fn learn(&self, lesson: &crate::Lesson) -> Result<bool, StoreError> {
        self.learn_lesson(lesson).await
    }

    async fn lessons_since(&self, who: &str, since: i64) -> Result<u64, StoreError> {
        self.count_lessons(who, since).await
    }

    async fn site_counts(&self) -> Result<crate::SiteCounts, StoreError> {
        self.read_site_counts().await
    }

    async fn is_correspondent(&self, local: &str, sender: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM correspondents WHERE local = ? AND sender = ?",
        )
        .bind(local)
        .bind(sender)
        .fetch_one(&self.pool)
        .await
        .map_err(db("reading correspondents"))?;
        Ok(n > 0)
    }

    async fn events_since(&self, since: i64, limit: u32) -> Result<Vec<Event>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT time, kind, subject, detail FROM events WHERE time >= ? \
             ORDER BY time DESC, seq DESC LIMIT ?",
        )
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading events"))?;
        Ok(rows.into_iter().map(event).collect())
    }
}
