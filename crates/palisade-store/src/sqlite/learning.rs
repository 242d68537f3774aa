//! The per-site model's decisions and counts (tables `lessons`, `learned_features`).

use super::SqliteStore;
use crate::error::db;
use crate::rows::{decode_buckets, encode_buckets};
use crate::{Lesson, SiteCounts, StoreError};
use palisade_types::MessageLabel;
use sqlx::Row;

/// Adds to one bucket's count of a label (a fixed statement per label).
fn add_sql(label: MessageLabel) -> &'static str {
    match label {
        MessageLabel::Ham => {
            "INSERT INTO learned_features (bucket, ham) VALUES (?, ?) \
             ON CONFLICT (bucket) DO UPDATE SET ham = ham + excluded.ham"
        }
        MessageLabel::Phish => {
            "INSERT INTO learned_features (bucket, phish) VALUES (?, ?) \
             ON CONFLICT (bucket) DO UPDATE SET phish = phish + excluded.phish"
        }
        MessageLabel::Spam => {
            "INSERT INTO learned_features (bucket, spam) VALUES (?, ?) \
             ON CONFLICT (bucket) DO UPDATE SET spam = spam + excluded.spam"
        }
    }
}

/// Adds `weight` (negative: takes back) to each bucket's count of `label`.
async fn count(
    tx: &mut sqlx::SqliteConnection,
    buckets: &[u32],
    label: MessageLabel,
    weight: f64,
) -> Result<(), sqlx::Error> {
    for b in buckets {
        sqlx::query(add_sql(label))
            .bind(i64::from(*b))
            .bind(weight)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

impl SqliteStore {
    pub(super) async fn learn_lesson(&self, l: &Lesson) -> Result<bool, StoreError> {
        const CONTEXT: &str = "recording a decision for the site model";
        let mut tx = self.write_tx(CONTEXT).await?;
        let old = sqlx::query("SELECT label, weight, buckets FROM lessons WHERE digest = ?")
            .bind(&l.digest)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        if let Some(row) = old {
            let label: String = row.get("label");
            let weight: f64 = row.get("weight");
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
            let buckets = decode_buckets(row.get::<&[u8], _>("buckets"));
            count(&mut tx, &buckets, label, -weight)
                .await
                .map_err(db(CONTEXT))?;
        }
        sqlx::query(
            "INSERT OR REPLACE INTO lessons (digest, label, who, weight, time, buckets) \
             VALUES (?, ?, ?, ?, ?, ?)",
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

    pub(super) async fn count_lessons(&self, who: &str, since: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM lessons WHERE who = ? AND time >= ?")
            .bind(who)
            .bind(since)
            .fetch_one(&self.pool)
            .await
            .map_err(db("counting decisions"))?;
        Ok(n.max(0) as u64)
    }

    pub(super) async fn read_site_counts(&self) -> Result<SiteCounts, StoreError> {
        const CONTEXT: &str = "reading the site model";
        let mut out = SiteCounts::default();
        let totals = sqlx::query("SELECT label, SUM(weight) AS w FROM lessons GROUP BY label")
            .fetch_all(&self.pool)
            .await
            .map_err(db(CONTEXT))?;
        for row in totals {
            if let Some(l) = MessageLabel::parse(row.get::<&str, _>("label")) {
                out.totals[l.index()] = row.get::<f64, _>("w");
            }
        }
        let rows = sqlx::query(
            "SELECT bucket, ham, phish, spam FROM learned_features \
             WHERE ham > 0 OR phish > 0 OR spam > 0",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db(CONTEXT))?;
        out.counts = rows
            .iter()
            .map(|r| {
                let bucket: i64 = r.get("bucket");
                (bucket as u32, [r.get("ham"), r.get("phish"), r.get("spam")])
            })
            .collect();
        Ok(out)
    }
}
