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

/// Where counts of a span are kept (its table), and how many hours one of its units
/// is. The statements are spelt out per table: SQL is never built from strings. They
/// group in the key's order (metric, time, key, node), so the nodes' rows are summed as
/// they are read, without a sort.
#[derive(Clone, Copy)]
struct Span {
    hours: i64,
    insert: &'static str,
    select: &'static str,
    top: &'static str,
    prune: &'static str,
}

/// The tallies charted (every one but `rejected_sender`), as the statements name them;
/// a test holds it to [`Tally`].
macro_rules! charted {
    () => {
        "('received', 'sent', 'rejected', 'quarantined', 'delivered', 'deferred', \
         'bounced', 'sender_verdict', 'phish_verdict', 'banned', 'login_failed')"
    };
}

const HOURS: Span = Span {
    hours: 1,
    insert: "INSERT INTO hourly_counts (metric, hour, key, node, count) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (metric, hour, key, node) DO UPDATE SET count = count + excluded.count",
    select: concat!(
        "SELECT (hour / ?) * ? AS b, metric, key, SUM(count) FROM hourly_counts \
         WHERE metric IN ",
        charted!(),
        " AND hour >= ? GROUP BY metric, b, key"
    ),
    top: "SELECT key, SUM(count) AS n FROM hourly_counts WHERE metric = ? AND hour >= ? \
          GROUP BY key ORDER BY n DESC, key LIMIT ?",
    prune: "DELETE FROM hourly_counts WHERE hour < ?",
};

const DAYS: Span = Span {
    hours: 24,
    insert: "INSERT INTO daily_counts (metric, day, key, node, count) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (metric, day, key, node) DO UPDATE SET count = count + excluded.count",
    select: concat!(
        "SELECT (day / ?) * ? AS b, metric, key, SUM(count) FROM daily_counts \
         WHERE metric IN ",
        charted!(),
        " AND day >= ? GROUP BY metric, b, key"
    ),
    top: "SELECT key, SUM(count) AS n FROM daily_counts WHERE metric = ? AND day >= ? \
          GROUP BY key ORDER BY n DESC, key LIMIT ?",
    prune: "DELETE FROM daily_counts WHERE day < ?",
};

/// Whole days from a day's first hour are read from the days (the same sums, far fewer
/// rows); anything else from the hours.
fn span_for(since_hour: i64, bucket: i64) -> Span {
    if since_hour.rem_euclid(24) == 0 && bucket % 24 == 0 {
        DAYS
    } else {
        HOURS
    }
}

#[async_trait::async_trait]
impl DashboardStore for SqliteStore {
    async fn add_hourly_counts(&self, node: &str, rows: &[HourlyCount]) -> Result<(), StoreError> {
        const CONTEXT: &str = "adding hourly counts";
        let mut tx = self.write_tx(CONTEXT).await?;
        for r in rows {
            // Sender domains (from the network) are kept by the hour only: their
            // number is bounded per hour, and hours go after two weeks.
            let spans: &[Span] = match r.tally {
                Tally::RejectedSender => &[HOURS],
                _ => &[HOURS, DAYS],
            };
            for &span in spans {
                sqlx::query(span.insert)
                    .bind(r.tally.name())
                    .bind(r.hour.div_euclid(span.hours))
                    .bind(&r.key)
                    .bind(node)
                    .bind(r.count)
                    .execute(&mut *tx)
                    .await
                    .map_err(db(CONTEXT))?;
            }
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn hourly_counts(
        &self,
        since_hour: i64,
        bucket: i64,
    ) -> Result<Vec<HourlyCount>, StoreError> {
        let bucket = bucket.max(1);
        let span = span_for(since_hour, bucket);
        let units = bucket / span.hours;
        let rows: Vec<CountRow> = sqlx::query_as(span.select)
            .bind(units)
            .bind(units)
            .bind(since_hour.div_euclid(span.hours))
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading hourly counts"))?;
        Ok(rows
            .into_iter()
            .filter_map(|(b, m, k, n)| count((b * span.hours, m, k, n)))
            .collect())
    }

    async fn top_keys(
        &self,
        tally: Tally,
        since_hour: i64,
        limit: u32,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let span = match tally {
            Tally::RejectedSender => HOURS,
            _ => span_for(since_hour, 24),
        };
        sqlx::query_as(span.top)
            .bind(tally.name())
            .bind(since_hour.div_euclid(span.hours))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(db("reading top keys"))
    }

    async fn prune_counts(&self, before_hour: i64, before_day: i64) -> Result<u64, StoreError> {
        let mut gone = 0;
        for (span, before) in [(HOURS, before_hour), (DAYS, before_day)] {
            let done = sqlx::query(span.prune)
                .bind(before)
                .execute(&self.pool)
                .await
                .map_err(db("pruning dashboard counts"))?;
            gone += done.rows_affected();
        }
        Ok(gone)
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
        let top_all = store.top_keys(Tally::RejectedSender, 1, 5).await?;
        assert_eq!(top_all.len(), 2, "{top_all:?}");
        // Whole days come from the days, the same sums.
        assert_eq!(
            store.hourly_counts(24, 24).await?,
            [row(48, Tally::Received, "", 9)]
        );
        assert_eq!(store.top_keys(Tally::RejectedSender, 24, 5).await?, top_all);
        assert_eq!(store.prune_counts(49, 0).await?, 1, "the hour 48 of node a");
        assert_eq!(store.hourly_counts(0, 1).await?.len(), 1);
        assert_eq!(
            store.prune_counts(0, 3).await?,
            2,
            "the day 2 of both nodes (senders are kept by the hour only)"
        );
        assert!(store.hourly_counts(0, 24).await?.is_empty());
        Ok(())
    }

    #[test]
    fn the_statements_chart_every_tally_but_the_senders() {
        let named: Vec<String> = Tally::ALL
            .iter()
            .filter(|t| **t != Tally::RejectedSender)
            .map(|t| format!("'{}'", t.name()))
            .collect();
        let list = charted!().replace(['(', ')'], "");
        let listed: Vec<&str> = list.split(", ").map(str::trim).collect();
        assert_eq!(listed, named);
    }

    #[tokio::test]
    async fn tls_results_stay_after_their_report() -> Result<(), Box<dyn std::error::Error>> {
        use crate::prelude::*;
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
        // Sessions of a day already reported (a manual send includes today) go out
        // with the next report, and only they.
        let later = TlsResultRow {
            count: 2,
            ..r.clone()
        };
        store
            .record_tls_results(std::slice::from_ref(&later))
            .await?;
        assert_eq!(store.take_tls_results(101).await?, [later]);
        let all = TlsResultRow { count: 5, ..r };
        assert_eq!(store.tls_results(0).await?, [all]);
        Ok(())
    }
}
