//! [`Reports`] on SQLite.

use super::*;
use crate::Reports;

#[async_trait::async_trait]
impl Reports for SqliteStore {
    async fn record_tls_results(&self, rows: &[TlsResultRow]) -> Result<(), StoreError> {
        const CONTEXT: &str = "recording TLS results";
        let mut tx = self.write_tx(CONTEXT).await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO tlsrpt_results (domain, day, policy_type, mx, result, count) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (domain, day, policy_type, mx, result) \
                 DO UPDATE SET count = count + excluded.count",
            )
            .bind(r.domain.clone())
            .bind(r.day)
            .bind(r.policy_type.clone())
            .bind(r.mx.clone())
            .bind(r.result.clone())
            .bind(r.count)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn mta_sts_policy(&self, domain: &str) -> Result<Option<StsPolicyRow>, StoreError> {
        let row: Option<(String, String, String, i64)> = sqlx::query_as(
            "SELECT domain, id, policy, expires FROM mta_sts_policies WHERE domain = ?",
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
        let mut tx = self.write_tx(CONTEXT).await?;
        sqlx::query(
            "INSERT INTO mta_sts_policies (domain, id, policy, expires) VALUES (?, ?, ?, ?) \
             ON CONFLICT (domain) DO UPDATE SET id = excluded.id, policy = excluded.policy, \
             expires = excluded.expires",
        )
        .bind(&row.domain)
        .bind(&row.id)
        .bind(&row.policy)
        .bind(row.expires)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM mta_sts_policies WHERE expires < ?")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn take_tls_results(&self, before_day: i64) -> Result<Vec<TlsResultRow>, StoreError> {
        const CONTEXT: &str = "taking TLS results";
        let mut tx = self.write_tx(CONTEXT).await?;
        type Row = (String, i64, String, String, String, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT domain, day, policy_type, mx, result, count - reported FROM tlsrpt_results \
             WHERE day < ? AND count > reported ORDER BY domain, day",
        )
        .bind(before_day)
        .fetch_all(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        // Kept for the console as reported; forgotten after 90 days.
        sqlx::query("UPDATE tlsrpt_results SET reported = count WHERE day < ?")
            .bind(before_day)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM tlsrpt_results WHERE day < ?")
            .bind(before_day - 90)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))?;
        Ok(rows.into_iter().map(tls_row).collect())
    }

    async fn record_dmarc_evaluations(&self, es: &[DmarcEvaluation]) -> Result<(), StoreError> {
        const CONTEXT: &str = "recording DMARC evaluations";
        let mut tx = self.write_tx(CONTEXT).await?;
        for e in es {
            sqlx::query("INSERT INTO dmarc_evaluations (time, domain, document) VALUES (?, ?, ?)")
                .bind(e.time)
                .bind(e.domain.clone())
                .bind(e.document.clone())
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn pending_dmarc_evaluations(
        &self,
        limit: u32,
    ) -> Result<Vec<DmarcEvaluation>, StoreError> {
        let rows: Vec<(i64, i64, String, String)> = sqlx::query_as(
            "SELECT id, time, domain, document FROM dmarc_evaluations ORDER BY id LIMIT ?",
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
        let mut tx = self.write_tx("removing reported DMARC evaluations").await?;
        for id in ids {
            sqlx::query("DELETE FROM dmarc_evaluations WHERE id = ?")
                .bind(*id)
                .execute(&mut *tx)
                .await
                .map_err(db("removing reported DMARC evaluations"))?;
        }
        tx.commit()
            .await
            .map_err(db("removing reported DMARC evaluations"))
    }

    async fn add_dmarc_report(&self, r: &ReceivedReport) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO dmarc_reports \
             (org_name, report_id, domain, received, date_begin, date_end, document) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(r.org_name.clone())
        .bind(r.report_id.clone())
        .bind(r.domain.clone())
        .bind(r.received)
        .bind(r.begin)
        .bind(r.end)
        .bind(r.document.clone())
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
        let rows: Vec<(String, String, String, i64, i64, i64, String)> = sqlx::query_as(
            "SELECT org_name, report_id, domain, received, date_begin, date_end, document \
             FROM dmarc_reports WHERE (? IS NULL OR domain = ?) ORDER BY domain, date_begin",
        )
        .bind(domain.map(str::to_string))
        .bind(domain.map(str::to_string))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading DMARC reports"))?;
        Ok(rows
            .into_iter()
            .map(
                |(org_name, report_id, domain, received, begin, end, document)| ReceivedReport {
                    org_name,
                    report_id,
                    domain,
                    received,
                    begin,
                    end,
                    document,
                },
            )
            .collect())
    }
}
