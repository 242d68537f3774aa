//! [`Reports`] on PostgreSQL.
//!
//! Text sort keys are compared `COLLATE "C"` (bytewise, as SQLite does) whatever the
//! database's collation, so both backends list in one order.

use super::*;
use crate::Reports;

type ReportRow = (String, String, String, i64, i64, i64, String);

fn report(
    (org_name, report_id, domain, received, begin, end, document): ReportRow,
) -> ReceivedReport {
    ReceivedReport {
        org_name,
        report_id,
        domain,
        received,
        begin,
        end,
        document,
    }
}

#[async_trait::async_trait]
impl Reports for PgStore {
    async fn record_tls_results(&self, rows: &[TlsResultRow]) -> Result<(), StoreError> {
        const CONTEXT: &str = "recording TLS results";
        if rows.is_empty() {
            return Ok(());
        }
        let column = |f: fn(&TlsResultRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
        let days: Vec<i64> = rows.iter().map(|r| r.day).collect();
        let counts: Vec<i64> = rows.iter().map(|r| r.count).collect();
        let mut tx = self.tx(CONTEXT).await?;
        // One statement for the batch; rows with the same key are summed before the
        // upsert, which may not meet one key twice.
        sqlx::query(
            "INSERT INTO tlsrpt_results AS t (domain, day, policy_type, mx, result, count) \
             SELECT domain, day, policy_type, mx, result, SUM(count)::BIGINT \
             FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
                 $6::bigint[]) AS r(domain, day, policy_type, mx, result, count) \
             GROUP BY domain, day, policy_type, mx, result \
             ON CONFLICT (domain, day, policy_type, mx, result) \
             DO UPDATE SET count = t.count + EXCLUDED.count",
        )
        .bind(column(|r| &r.domain))
        .bind(days)
        .bind(column(|r| &r.policy_type))
        .bind(column(|r| &r.mx))
        .bind(column(|r| &r.result))
        .bind(counts)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn take_tls_results(&self, before_day: i64) -> Result<Vec<TlsResultRow>, StoreError> {
        const CONTEXT: &str = "taking TLS results";
        let mut tx = self.write_tx(CONTEXT).await?;
        let rows: Vec<TlsRow> = sqlx::query_as(
            "SELECT domain, day, policy_type, mx, result, count - reported FROM tlsrpt_results \
             WHERE day < $1 AND count > reported \
             ORDER BY domain COLLATE \"C\", day, policy_type COLLATE \"C\", mx COLLATE \"C\", \
             result COLLATE \"C\"",
        )
        .bind(before_day)
        .fetch_all(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        // Kept for the console as reported; forgotten after 90 days.
        sqlx::query("UPDATE tlsrpt_results SET reported = count WHERE day < $1")
            .bind(before_day)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM tlsrpt_results WHERE day < $1")
            .bind(before_day - 90)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))?;
        Ok(rows.into_iter().map(tls_row).collect())
    }

    async fn mta_sts_policy(&self, domain: &str) -> Result<Option<StsPolicyRow>, StoreError> {
        let row: Option<(String, String, String, i64)> = sqlx::query_as(
            "SELECT domain, id, policy, expires FROM mta_sts_policies WHERE domain = $1",
        )
        .bind(domain)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading an MTA-STS policy"))?;
        Ok(row.map(|(domain, id, policy, expires)| StsPolicyRow {
            domain,
            id,
            policy,
            expires,
        }))
    }

    async fn put_mta_sts_policy(&self, row: &StsPolicyRow, now: i64) -> Result<(), StoreError> {
        const CONTEXT: &str = "caching an MTA-STS policy";
        let mut tx = self.tx(CONTEXT).await?;
        sqlx::query(
            "INSERT INTO mta_sts_policies (domain, id, policy, expires) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (domain) DO UPDATE SET id = EXCLUDED.id, policy = EXCLUDED.policy, \
             expires = EXCLUDED.expires",
        )
        .bind(&row.domain)
        .bind(&row.id)
        .bind(&row.policy)
        .bind(row.expires)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM mta_sts_policies WHERE expires < $1")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn record_dmarc_evaluations(&self, es: &[DmarcEvaluation]) -> Result<(), StoreError> {
        if es.is_empty() {
            return Ok(());
        }
        let times: Vec<i64> = es.iter().map(|e| e.time).collect();
        let domains: Vec<&str> = es.iter().map(|e| e.domain.as_str()).collect();
        let documents: Vec<&str> = es.iter().map(|e| e.document.as_str()).collect();
        // One statement (atomic by itself); ids are assigned in the batch's order.
        sqlx::query(
            "INSERT INTO dmarc_evaluations (time, domain, document) \
             SELECT time, domain, document \
             FROM UNNEST($1::bigint[], $2::text[], $3::text[]) WITH ORDINALITY \
                 AS e(time, domain, document, n) \
             ORDER BY n",
        )
        .bind(times)
        .bind(domains)
        .bind(documents)
        .execute(&self.pool)
        .await
        .map_err(db("recording DMARC evaluations"))?;
        Ok(())
    }

    async fn pending_dmarc_evaluations(
        &self,
        limit: u32,
    ) -> Result<Vec<DmarcEvaluation>, StoreError> {
        let rows: Vec<(i64, i64, String, String)> = sqlx::query_as(
            "SELECT id, time, domain, document FROM dmarc_evaluations ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading DMARC evaluations"))?;
        Ok(rows
            .into_iter()
            .map(|(id, time, domain, document)| DmarcEvaluation {
                id,
                time,
                domain,
                document,
            })
            .collect())
    }

    async fn remove_dmarc_evaluations(&self, ids: &[i64]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM dmarc_evaluations WHERE id = ANY($1)")
            .bind(ids)
            .execute(&self.pool)
            .await
            .map_err(db("removing reported DMARC evaluations"))?;
        Ok(())
    }

    async fn add_dmarc_report(&self, r: &ReceivedReport) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO dmarc_reports \
             (org_name, report_id, domain, received, date_begin, date_end, document) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(&r.org_name)
        .bind(&r.report_id)
        .bind(&r.domain)
        .bind(r.received)
        .bind(r.begin)
        .bind(r.end)
        .bind(&r.document)
        .execute(&self.pool)
        .await
        .map_err(db("storing a DMARC report"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::AlreadyExists {
                what: format!("DMARC report {} from {}", r.report_id, r.org_name),
            });
        }
        Ok(())
    }

    async fn list_dmarc_reports(
        &self,
        domain: Option<&str>,
    ) -> Result<Vec<ReceivedReport>, StoreError> {
        let rows: Vec<ReportRow> = sqlx::query_as(
            "SELECT org_name, report_id, domain, received, date_begin, date_end, document \
             FROM dmarc_reports WHERE ($1::text IS NULL OR domain = $1) \
             ORDER BY domain COLLATE \"C\", date_begin",
        )
        .bind(domain)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading DMARC reports"))?;
        Ok(rows.into_iter().map(report).collect())
    }
}
