//! [`DashboardStore`] on SQLite (tables `hourly_counts`, `tlsrpt_results`).

use super::SqliteStore;
use crate::dashboard::{DashboardStore, HourlyCount, Tally};
use crate::error::db;
use crate::{StoreError, TlsResultRow};

type CountRow = (i64, String, String, i64);

/// A stored row as a count; none for a metric this version does not know (written by
/// a newer node).
fn count((hour, metric, key, count): CountRow) -> Option<HourlyCount> {
    Some(HourlyCount {
        hour,
        tally: Tally::parse(&metric)?,
        key,
        count,
    })
}

#[async_trait::async_trait]
impl DashboardStore for SqliteStore {
    async fn add_hourly_counts(&self, node: &str, rows: &[HourlyCount]) -> Result<(), StoreError> {
        const CONTEXT: &str = "adding hourly counts";
        let mut tx = self.write_tx(CONTEXT).await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO hourly_counts (hour, metric, key, node, count) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (hour, metric, key, node) DO UPDATE SET count = count + excluded.count",
            )
            .bind(r.hour)
            .bind(r.tally.name())
            .bind(&r.key)
            .bind(node)
            .bind(r.count)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn hourly_counts(
        &self,
        since_hour: i64,
        bucket: i64,
    ) -> Result<Vec<HourlyCount>, StoreError> {
        let bucket = bucket.max(1);
        let rows: Vec<CountRow> = sqlx::query_as(
            "SELECT (hour / ?1) * ?1 AS b, metric, key, SUM(count) FROM hourly_counts \
             WHERE hour >= ?2 AND metric != ?3 GROUP BY b, metric, key ORDER BY b",
        )
        .bind(bucket)
        .bind(since_hour)
        .bind(Tally::RejectedSender.name())
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading hourly counts"))?;
        Ok(rows.into_iter().filter_map(count).collect())
    }

    async fn top_keys(
        &self,
        tally: Tally,
        since_hour: i64,
        limit: u32,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        sqlx::query_as(
            "SELECT key, SUM(count) AS n FROM hourly_counts WHERE hour >= ? AND metric = ? \
             GROUP BY key ORDER BY n DESC, key LIMIT ?",
        )
        .bind(since_hour)
        .bind(tally.name())
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading top keys"))
    }

    async fn prune_hourly_counts(&self, before_hour: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM hourly_counts WHERE hour < ?")
            .bind(before_hour)
            .execute(&self.pool)
            .await
            .map_err(db("pruning hourly counts"))?;
        Ok(done.rows_affected())
    }

    async fn queue_retrying(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM queue_status WHERE attempts > 0")
            .fetch_one(&self.pool)
            .await
            .map_err(db("counting the queue"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn tls_results(&self, since_day: i64) -> Result<Vec<TlsResultRow>, StoreError> {
        type Row = (String, i64, String, String, String, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT domain, day, policy_type, mx, result, count FROM tlsrpt_results \
             WHERE day >= ? ORDER BY day DESC, domain, mx",
        )
        .bind(since_day)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading TLS results"))?;
        Ok(rows.into_iter().map(super::tls_row).collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn row(hour: i64, tally: Tally, key: &str, count: i64) -> HourlyCount {
        HourlyCount {
            hour,
            tally,
            key: key.to_string(),
            count,
        }
    }

    #[tokio::test]
    async fn counts_of_nodes_are_summed_into_buckets() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = SqliteStore::open(&dir.path().join("s.db")).await?;
        store
            .add_hourly_counts("a", &[row(48, Tally::Received, "", 2)])
            .await?;
        store
            .add_hourly_counts("a", &[row(48, Tally::Received, "", 3)])
            .await?;
        store
            .add_hourly_counts("b", &[row(49, Tally::Received, "", 4)])
            .await?;
        let rs = |n| row(50, Tally::RejectedSender, "spam.test", n);
        store.add_hourly_counts("b", &[rs(7)]).await?;
        store
            .add_hourly_counts("b", &[row(50, Tally::RejectedSender, "other.test", 1)])
            .await?;
        let hourly = store.hourly_counts(0, 1).await?;
        assert_eq!(
            hourly,
            [
                row(48, Tally::Received, "", 5),
                row(49, Tally::Received, "", 4)
            ],
            "the senders are not among them"
        );
        assert_eq!(
            store.hourly_counts(0, 24).await?,
            [row(48, Tally::Received, "", 9)]
        );
        let top = store.top_keys(Tally::RejectedSender, 0, 1).await?;
        assert_eq!(top, [("spam.test".to_string(), 7)]);
        assert_eq!(store.prune_hourly_counts(49).await?, 1);
        assert_eq!(store.hourly_counts(0, 1).await?.len(), 1);
        Ok(())
    }

    #[tokio::test]
    async fn tls_results_stay_after_their_report() -> Result<(), Box<dyn std::error::Error>> {
        use crate::Store;
        let dir = tempfile::tempdir()?;
        let store = SqliteStore::open(&dir.path().join("s.db")).await?;
        let r = TlsResultRow {
            domain: "example.test".into(),
            day: 100,
            policy_type: "sts".into(),
            mx: "mx.example.test".into(),
            result: "success".into(),
            count: 3,
        };
        store.record_tls_results(std::slice::from_ref(&r)).await?;
        assert_eq!(store.take_tls_results(101).await?, std::slice::from_ref(&r));
        assert!(
            store.take_tls_results(101).await?.is_empty(),
            "reported once"
        );
        assert_eq!(store.tls_results(0).await?, [r]);
        Ok(())
    }
}
