//! [`Security`] on PostgreSQL.

use std::collections::HashMap;

use super::*;
use crate::Security;

/// A count read back as unsigned (counts are never negative).
fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

// Lockouts and bans share a shape; `table` and `key` are fixed names from this file
// (`"user"` quoted: a reserved word here).
impl PgStore {
    async fn block(
        &self,
        table: &str,
        key: &str,
        value: &str,
    ) -> Result<Option<Block>, StoreError> {
        let sql =
            format!("SELECT {key}, since, until, strikes, reason FROM {table} WHERE {key} = $1");
        let row: Option<(String, i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a block"))?;
        Ok(row.map(block_of))
    }

    async fn put_block(&self, table: &str, key: &str, b: &Block) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO {table} ({key}, since, until, strikes, reason) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT ({key}) DO UPDATE SET \
             since = EXCLUDED.since, until = EXCLUDED.until, \
             strikes = EXCLUDED.strikes, reason = EXCLUDED.reason"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&b.key)
            .bind(b.since)
            .bind(b.until)
            .bind(i64::from(b.strikes))
            .bind(&b.reason)
            .execute(&self.pool)
            .await
            .map_err(db("writing a block"))?;
        Ok(())
    }

    async fn remove_block(&self, table: &str, key: &str, value: &str) -> Result<bool, StoreError> {
        let sql = format!("DELETE FROM {table} WHERE {key} = $1");
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(value)
            .execute(&self.pool)
            .await
            .map_err(db("removing a block"))?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait::async_trait]
impl Security for PgStore {
    async fn record_auth_failure(
        &self,
        user: &str,
        ip: &str,
        fingerprint: &str,
        time: i64,
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "recording a failed login";
        let mut tx = self.tx(CONTEXT).await?;
        sqlx::query(
            "INSERT INTO auth_failures (\"user\", ip, fingerprint, time) VALUES ($1, $2, $3, $4)",
        )
        .bind(user)
        .bind(ip)
        .bind(fingerprint)
        .bind(time)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM auth_failures WHERE \"user\" = $1 AND time < $2")
            .bind(user)
            .bind(time - DAY)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn count_user_failures(&self, user: &str, since: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT (ip, fingerprint)) FROM auth_failures \
             WHERE \"user\" = $1 AND time >= $2",
        )
        .bind(user)
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting failed logins"))?;
        Ok(unsigned(n))
    }

    async fn count_ip_failures(&self, ip: &str, since: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT (\"user\", fingerprint)) FROM auth_failures \
             WHERE ip = $1 AND time >= $2",
        )
        .bind(ip)
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting failed logins"))?;
        Ok(unsigned(n))
    }

    async fn clear_user_failures(&self, user: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM auth_failures WHERE \"user\" = $1")
            .bind(user)
            .execute(&self.pool)
            .await
            .map_err(db("clearing failed logins"))?;
        Ok(())
    }

    async fn lockout(&self, user: &str) -> Result<Option<Block>, StoreError> {
        self.block("lockouts", "\"user\"", user).await
    }

    async fn put_lockout(&self, block: &Block) -> Result<(), StoreError> {
        self.put_block("lockouts", "\"user\"", block).await
    }

    async fn remove_lockout(&self, user: &str) -> Result<bool, StoreError> {
        self.remove_block("lockouts", "\"user\"", user).await
    }

    async fn ban(&self, ip: &str) -> Result<Option<Block>, StoreError> {
        self.block("bans", "ip", ip).await
    }

    async fn put_ban(&self, block: &Block) -> Result<(), StoreError> {
        self.put_block("bans", "ip", block).await
    }

    async fn list_bans(&self, now: i64) -> Result<Vec<Block>, StoreError> {
        let rows: Vec<(String, i64, i64, i64, String)> = sqlx::query_as(
            "SELECT ip, since, until, strikes, reason FROM bans WHERE until > $1 \
             ORDER BY since DESC",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing bans"))?;
        Ok(rows.into_iter().map(block_of).collect())
    }

    async fn remove_ban(&self, ip: &str) -> Result<bool, StoreError> {
        self.remove_block("bans", "ip", ip).await
    }

    async fn record_strike(&self, ip: &str, kind: &str, time: i64) -> Result<(), StoreError> {
        const CONTEXT: &str = "recording an abuse strike";
        let mut tx = self.tx(CONTEXT).await?;
        sqlx::query("INSERT INTO abuse_strikes (ip, kind, time) VALUES ($1, $2, $3)")
            .bind(ip)
            .bind(kind)
            .bind(time)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM abuse_strikes WHERE ip = $1 AND time < $2")
            .bind(ip)
            .bind(time - DAY)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn count_strikes(&self, ip: &str, kind: &str, since: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM abuse_strikes WHERE ip = $1 AND kind = $2 AND time >= $3",
        )
        .bind(ip)
        .bind(kind)
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting abuse strikes"))?;
        Ok(unsigned(n))
    }

    async fn record_login(&self, user: &str, ip: &str, time: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO login_successes (\"user\", ip, time) VALUES ($1, $2, $3) \
             ON CONFLICT (\"user\", ip) DO UPDATE SET time = EXCLUDED.time",
        )
        .bind(user)
        .bind(ip)
        .bind(time)
        .execute(&self.pool)
        .await
        .map_err(db("recording a login"))?;
        Ok(())
    }

    async fn last_login(&self, user: &str, ip: &str) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT time FROM login_successes WHERE \"user\" = $1 AND ip = $2")
            .bind(user)
            .bind(ip)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading the last login"))
    }

    async fn last_login_any(&self, user: &str) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT MAX(time) FROM login_successes WHERE \"user\" = $1")
            .bind(user)
            .fetch_one(&self.pool)
            .await
            .map_err(db("reading the last login"))
    }

    async fn prune_security(&self, now: i64) -> Result<(), StoreError> {
        const CONTEXT: &str = "pruning security state";
        let mut tx = self.tx(CONTEXT).await?;
        for (sql, before) in [
            ("DELETE FROM auth_failures WHERE time < $1", now - DAY),
            ("DELETE FROM abuse_strikes WHERE time < $1", now - DAY),
            ("DELETE FROM lockouts WHERE until < $1", now - DAY),
            ("DELETE FROM bans WHERE until < $1", now - 7 * DAY),
        ] {
            sqlx::query(sql)
                .bind(before)
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn put_rate_counts(
        &self,
        kind: &str,
        window: i64,
        node: &str,
        counts: &[(String, u64)],
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "sharing rate counts";
        // One statement for the batch. An upsert may not meet one key twice here: an
        // address listed twice keeps its last count, as a row-by-row upsert would.
        let last: HashMap<&str, i64> = counts
            .iter()
            .map(|(ip, n)| (ip.as_str(), signed(*n)))
            .collect();
        let (ips, ns): (Vec<&str>, Vec<i64>) = last.into_iter().unzip();
        let mut tx = self.tx(CONTEXT).await?;
        sqlx::query(
            "INSERT INTO rate_counts AS r (kind, \"window\", ip, node, count) \
             SELECT $1, $2, ip, $3, n FROM UNNEST($4::text[], $5::bigint[]) AS t(ip, n) \
             ON CONFLICT (kind, \"window\", ip, node) DO UPDATE SET count = EXCLUDED.count",
        )
        .bind(kind)
        .bind(window)
        .bind(node)
        .bind(ips)
        .bind(ns)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM rate_counts WHERE kind = $1 AND \"window\" < $2")
            .bind(kind)
            .bind(window)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn rate_exceeded(
        &self,
        kind: &str,
        window: i64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT ip FROM rate_counts WHERE kind = $1 AND \"window\" = $2 \
             GROUP BY ip HAVING SUM(count) >= $3 ORDER BY ip",
        )
        .bind(kind)
        .bind(window)
        .bind(signed(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading shared rate counts"))
    }

    async fn record_submission(
        &self,
        user: &Address,
        time: i64,
        domains: &[String],
        recipients: u64,
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "recording a submission";
        let key = user.lookup_key();
        let mut tx = self.tx(CONTEXT).await?;
        sqlx::query(
            "INSERT INTO submission_counts AS s (\"user\", bucket, count, recipients) \
             VALUES ($1, $2, 1, $3) ON CONFLICT (\"user\", bucket) DO UPDATE SET \
             count = s.count + 1, recipients = s.recipients + EXCLUDED.recipients",
        )
        .bind(&key)
        .bind(time.div_euclid(SUBMISSION_BUCKET))
        .bind(signed(recipients))
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        // A domain unused for the whole history window is new again. DISTINCT: one
        // statement's upsert may not meet a key twice.
        sqlx::query(
            "INSERT INTO submission_recipient_domains AS d (\"user\", domain, first_seen, last_seen) \
             SELECT DISTINCT $1, domain, $2::BIGINT, $2::BIGINT FROM UNNEST($3::text[]) AS t(domain) \
             ON CONFLICT (\"user\", domain) DO UPDATE SET \
             first_seen = CASE WHEN d.last_seen < EXCLUDED.last_seen - $4 \
               THEN EXCLUDED.first_seen ELSE d.first_seen END, \
             last_seen = EXCLUDED.last_seen",
        )
        .bind(&key)
        .bind(time)
        .bind(domains)
        .bind(SUBMISSION_HISTORY)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        let old = time - SUBMISSION_HISTORY;
        for (prune, before) in [
            (
                "DELETE FROM submission_counts WHERE \"user\" = $1 AND bucket < $2",
                old.div_euclid(SUBMISSION_BUCKET),
            ),
            (
                "DELETE FROM submission_recipient_domains WHERE \"user\" = $1 AND last_seen < $2",
                old,
            ),
        ] {
            sqlx::query(prune)
                .bind(&key)
                .bind(before)
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn count_submissions(&self, user: &Address, since: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(count), 0)::BIGINT FROM submission_counts \
             WHERE \"user\" = $1 AND bucket >= $2",
        )
        .bind(user.lookup_key())
        .bind(since.div_euclid(SUBMISSION_BUCKET))
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting submissions"))?;
        Ok(unsigned(n))
    }

    async fn count_submission_recipients(
        &self,
        user: &Address,
        since: i64,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(recipients), 0)::BIGINT FROM submission_counts \
             WHERE \"user\" = $1 AND bucket >= $2",
        )
        .bind(user.lookup_key())
        .bind(since.div_euclid(SUBMISSION_BUCKET))
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting recipients"))?;
        Ok(unsigned(n))
    }

    async fn count_new_domains(&self, user: &Address, since: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM submission_recipient_domains \
             WHERE \"user\" = $1 AND first_seen >= $2",
        )
        .bind(user.lookup_key())
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting new recipient domains"))?;
        Ok(unsigned(n))
    }
}
