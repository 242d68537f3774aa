//! [`History`] on PostgreSQL, the per-site model's decisions and counts included
//! (tables `lessons`, `learned_features`).

use palisade_types::MessageLabel;

use super::*;
use crate::History;

/// Adds `weight` (negative: takes back) to each of `buckets`' counts of `label`, in one
/// statement: a bucket listed twice counts twice, as the SQLite backend's row-by-row
/// upsert does (an upsert may not meet one key twice, hence the grouping).
async fn count(
    tx: &mut sqlx::PgConnection,
    buckets: &[u32],
    label: MessageLabel,
    weight: f64,
) -> Result<(), sqlx::Error> {
    let mut by_label = [0.0; 3];
    by_label[label.index()] = weight;
    let buckets: Vec<i64> = buckets.iter().map(|b| i64::from(*b)).collect();
    sqlx::query(
        "INSERT INTO learned_features AS f (bucket, ham, phish, spam) \
         SELECT b, $2 * COUNT(*), $3 * COUNT(*), $4 * COUNT(*) \
         FROM UNNEST($1::bigint[]) AS t(b) GROUP BY b \
         ON CONFLICT (bucket) DO UPDATE SET ham = f.ham + EXCLUDED.ham, \
         phish = f.phish + EXCLUDED.phish, spam = f.spam + EXCLUDED.spam",
    )
    .bind(buckets)
    .bind(by_label[0])
    .bind(by_label[1])
    .bind(by_label[2])
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl History for PgStore {
    async fn record_event(&self, e: &Event) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO events (time, kind, subject, detail) VALUES ($1, $2, $3, $4)")
            .bind(e.time)
            .bind(&e.kind)
            .bind(&e.subject)
            .bind(&e.detail)
            .execute(&self.pool)
            .await
            .map_err(db("recording an event"))?;
        Ok(())
    }

    async fn recent_events(&self, limit: u32) -> Result<Vec<Event>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT time, kind, subject, detail FROM events ORDER BY time DESC, seq DESC LIMIT $1",
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
        let mut tx = self.tx(CONTEXT).await?;
        // One statement for the batch: a sender listed twice counts twice, as it would
        // row by row.
        sqlx::query(
            "INSERT INTO correspondents AS c (local, sender, first_seen, last_seen, messages) \
             SELECT $1, sender, $2::BIGINT, $2::BIGINT, COUNT(*) \
             FROM UNNEST($3::text[]) AS t(sender) GROUP BY sender \
             ON CONFLICT (local, sender) DO UPDATE SET \
             last_seen = GREATEST(c.last_seen, EXCLUDED.last_seen), \
             messages = c.messages + EXCLUDED.messages",
        )
        .bind(local)
        .bind(time)
        .bind(senders)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn correspondents(&self, local: &str, limit: u32) -> Result<Vec<String>, StoreError> {
        // Bytewise order (as SQLite's) whatever the database's collation.
        sqlx::query_scalar(
            "SELECT sender FROM correspondents WHERE local = $1 \
             ORDER BY messages DESC, sender COLLATE \"C\" LIMIT $2",
        )
        .bind(local)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing correspondents"))
    }

    async fn is_correspondent(&self, local: &str, sender: &str) -> Result<bool, StoreError> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM correspondents WHERE local = $1 AND sender = $2)",
        )
        .bind(local)
        .bind(sender)
        .fetch_one(&self.pool)
        .await
        .map_err(db("reading correspondents"))
    }

    async fn learn(&self, l: &Lesson) -> Result<bool, StoreError> {
        const CONTEXT: &str = "recording a decision for the site model";
        let mut tx = self.write_tx(CONTEXT).await?;
        let old: Option<(String, f64, Vec<u8>)> =
            sqlx::query_as("SELECT label, weight, buckets FROM lessons WHERE digest = $1")
                .bind(&l.digest)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        if let Some((label, weight, buckets)) = old {
            let Some(label) = MessageLabel::parse(&label) else {
                return Err(StoreError::Corrupt {
                    what: "lesson label",
                    value: label,
                });
            };
            // Nothing new, or a lighter decision (a user's) about a message a weightier
            // one (an administrator's) settled.
            if (label == l.label && weight == l.weight) || weight > l.weight {
                return Ok(false);
            }
            count(&mut tx, &decode_buckets(&buckets), label, -weight)
                .await
                .map_err(db(CONTEXT))?;
        }
        sqlx::query(
            "INSERT INTO lessons (digest, label, who, weight, time, buckets) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (digest) DO UPDATE SET \
             label = EXCLUDED.label, who = EXCLUDED.who, weight = EXCLUDED.weight, \
             time = EXCLUDED.time, buckets = EXCLUDED.buckets",
        )
        .bind(&l.digest)
        .bind(l.label.name())
        .bind(&l.who)
        .bind(l.weight)
        .bind(l.time)
        .bind(encode_buckets(&l.buckets))
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        count(&mut tx, &l.buckets, l.label, l.weight)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))?;
        Ok(true)
    }

    async fn lessons_since(&self, who: &str, since: i64) -> Result<u64, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM lessons WHERE who = $1 AND time >= $2")
                .bind(who)
                .bind(since)
                .fetch_one(&self.pool)
                .await
                .map_err(db("counting decisions"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn site_counts(&self) -> Result<SiteCounts, StoreError> {
        const CONTEXT: &str = "reading the site model";
        let mut out = SiteCounts::default();
        let totals: Vec<(String, f64)> =
            sqlx::query_as("SELECT label, SUM(weight) FROM lessons GROUP BY label")
                .fetch_all(&self.pool)
                .await
                .map_err(db(CONTEXT))?;
        for (label, weight) in totals {
            if let Some(l) = MessageLabel::parse(&label) {
                out.totals[l.index()] = weight;
            }
        }
        let rows: Vec<(i64, f64, f64, f64)> = sqlx::query_as(
            "SELECT bucket, ham, phish, spam FROM learned_features \
             WHERE ham > 0 OR phish > 0 OR spam > 0",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db(CONTEXT))?;
        out.counts = rows
            .into_iter()
            .map(|(bucket, ham, phish, spam)| {
                let bucket = u32::try_from(bucket).map_err(|_| StoreError::Corrupt {
                    what: "feature bucket",
                    value: bucket.to_string(),
                })?;
                Ok((bucket, [ham, phish, spam]))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(out)
    }

    async fn events_since(&self, since: i64, limit: u32) -> Result<Vec<Event>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT time, kind, subject, detail FROM events WHERE time >= $1 \
             ORDER BY time DESC, seq DESC LIMIT $2",
        )
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading events"))?;
        Ok(rows.into_iter().map(event).collect())
    }
}
