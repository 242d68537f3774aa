//! [`DashboardStore`] on PostgreSQL (tables `hourly_counts`, `daily_counts`,
//! `tlsrpt_results`).

use super::*;
use crate::DashboardStore;

type CountRow = (i64, String, String, i64);

/// Where counts of a span are kept (its table), and how many hours one of its units
/// is; the statements are spelt out per table.
#[derive(Clone, Copy)]
struct Span {
    hours: i64,
    insert: &'static str,
    select: &'static str,
    top: &'static str,
    prune: &'static str,
}

// Each node's rows of a batch are summed first: an upsert may not meet one key twice.
// `SUM` of BIGINT is NUMERIC here, hence the casts.
const HOURS: Span = Span {
    hours: 1,
    insert: "INSERT INTO hourly_counts AS c (metric, hour, key, node, count) \
             SELECT metric, unit, key, $1, SUM(n)::BIGINT \
             FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::bigint[]) \
                 AS r(metric, unit, key, n) \
             GROUP BY metric, unit, key \
             ON CONFLICT (metric, hour, key, node) DO UPDATE SET count = c.count + EXCLUDED.count",
    select: "SELECT (hour / $1) * $1 AS b, metric, key, SUM(count)::BIGINT FROM hourly_counts \
             WHERE metric = ANY($2) AND hour >= $3 GROUP BY metric, b, key",
    top: "SELECT key, SUM(count)::BIGINT AS n FROM hourly_counts WHERE metric = $1 AND hour >= $2 \
          GROUP BY key ORDER BY n DESC, key COLLATE \"C\" LIMIT $3",
    prune: "DELETE FROM hourly_counts WHERE hour < $1",
};

const DAYS: Span = Span {
    hours: 24,
    insert: "INSERT INTO daily_counts AS c (metric, day, key, node, count) \
             SELECT metric, unit, key, $1, SUM(n)::BIGINT \
             FROM UNNEST($2::text[], $3::bigint[], $4::text[], $5::bigint[]) \
                 AS r(metric, unit, key, n) \
             GROUP BY metric, unit, key \
             ON CONFLICT (metric, day, key, node) DO UPDATE SET count = c.count + EXCLUDED.count",
    select: "SELECT (day / $1) * $1 AS b, metric, key, SUM(count)::BIGINT FROM daily_counts \
             WHERE metric = ANY($2) AND day >= $3 GROUP BY metric, b, key",
    top: "SELECT key, SUM(count)::BIGINT AS n FROM daily_counts WHERE metric = $1 AND day >= $2 \
          GROUP BY key ORDER BY n DESC, key COLLATE \"C\" LIMIT $3",
    prune: "DELETE FROM daily_counts WHERE day < $1",
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

/// The tallies charted: every one but the senders (read with `top_keys` only).
fn charted() -> Vec<&'static str> {
    Tally::ALL
        .into_iter()
        .filter(|t| *t != Tally::RejectedSender)
        .map(Tally::name)
        .collect()
}

/// A stored row as a count; none for a metric this version does not know.
fn count((hour, metric, key, count): CountRow) -> Option<HourlyCount> {
    Some(HourlyCount {
        hour,
        tally: Tally::parse(&metric)?,
        key,
        count,
    })
}

/// A batch as the columns of `span`'s insert.
fn columns<'a>(
    span: Span,
    rows: &[&'a HourlyCount],
) -> (Vec<&'static str>, Vec<i64>, Vec<&'a str>, Vec<i64>) {
    let metrics = rows.iter().map(|r| r.tally.name()).collect();
    let units = rows.iter().map(|r| r.hour.div_euclid(span.hours)).collect();
    let keys = rows.iter().map(|r| r.key.as_str()).collect();
    let counts = rows.iter().map(|r| r.count).collect();
    (metrics, units, keys, counts)
}

#[async_trait::async_trait]
impl DashboardStore for PgStore {
    async fn add_hourly_counts(&self, node: &str, rows: &[HourlyCount]) -> Result<(), StoreError> {
        const CONTEXT: &str = "adding hourly counts";
        if rows.is_empty() {
            return Ok(());
        }
        let all: Vec<&HourlyCount> = rows.iter().collect();
        // Sender domains (from the network) are kept by the hour only: their number is
        // bounded per hour, and hours go after two weeks.
        let daily: Vec<&HourlyCount> = rows
            .iter()
            .filter(|r| r.tally != Tally::RejectedSender)
            .collect();
        let mut tx = self.tx(CONTEXT).await?;
        for (span, rows) in [(HOURS, all), (DAYS, daily)] {
            if rows.is_empty() {
                continue;
            }
            let (metrics, units, keys, counts) = columns(span, &rows);
            sqlx::query(span.insert)
                .bind(node)
                .bind(metrics)
                .bind(units)
                .bind(keys)
                .bind(counts)
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
        let span = span_for(since_hour, bucket);
        let units = bucket / span.hours;
        let rows: Vec<CountRow> = sqlx::query_as(span.select)
            .bind(units)
            .bind(charted())
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
            .bind(i64::from(limit))
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
        // Bytewise order (as SQLite's) whatever the database's collation.
        let rows: Vec<TlsRow> = sqlx::query_as(
            "SELECT domain, day, policy_type, mx, result, count FROM tlsrpt_results \
             WHERE day >= $1 ORDER BY day DESC, domain COLLATE \"C\", mx COLLATE \"C\"",
        )
        .bind(since_day)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading TLS results"))?;
        Ok(rows.into_iter().map(tls_row).collect())
    }
}
