//! [`Security`] on SQLite.

use super::*;
use crate::Security;

#[async_trait::async_trait]
impl Security for SqliteStore {
    async fn record_auth_failure(
        &self,
        user: &str,
        ip: &str,
        fingerprint: &str,
        time: i64,
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "recording a failed login";
        let mut tx = self.write_tx(CONTEXT).await?;
        sqlx::query("INSERT INTO auth_failures (user, ip, fingerprint, time) VALUES (?, ?, ?, ?)")
            .bind(user)
            .bind(ip)
            .bind(fingerprint)
            .bind(time)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM auth_failures WHERE user = ? AND time < ?")
            .bind(user)
            .bind(time - DAY)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn count_user_failures(&self, user: &str, since: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT DISTINCT ip, fingerprint FROM auth_failures \
             WHERE user = ? AND time >= ?)",
        )
        .bind(user)
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting failed logins"))?;
        Ok(n.max(0) as u64)
    }

    async fn count_ip_failures(&self, ip: &str, since: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT DISTINCT user, fingerprint FROM auth_failures \
             WHERE ip = ? AND time >= ?)",
        )
        .bind(ip)
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting failed logins"))?;
        Ok(n.max(0) as u64)
    }

    async fn clear_user_failures(&self, user: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM auth_failures WHERE user = ?")
            .bind(user)
            .execute(&self.pool)
            .await
            .map_err(db("clearing failed logins"))?;
        Ok(())
    }

    async fn lockout(&self, user: &str) -> Result<Option<Block>, StoreError> {
        self.block("lockouts", "user", user).await
    }

    async fn put_lockout(&self, block: &Block) -> Result<(), StoreError> {
        self.put_block("lockouts", "user", block).await
    }

    async fn remove_lockout(&self, user: &str) -> Result<bool, StoreError> {
        self.remove_block("lockouts", "user", user).await
    }

    async fn ban(&self, ip: &str) -> Result<Option<Block>, StoreError> {
        self.block("bans", "ip", ip).await
    }

    async fn put_ban(&self, block: &Block) -> Result<(), StoreError> {
        self.put_block("bans", "ip", block).await
    }

    async fn list_bans(&self, now: i64) -> Result<Vec<Block>, StoreError> {
        let rows: Vec<(String, i64, i64, i64, String)> = sqlx::query_as(
            "SELECT ip, since, until, strikes, reason FROM bans WHERE until > ? ORDER BY since DESC",
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
        let mut tx = self.write_tx(CONTEXT).await?;
        sqlx::query("INSERT INTO abuse_strikes (ip, kind, time) VALUES (?, ?, ?)")
            .bind(ip)
            .bind(kind)
            .bind(time)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM abuse_strikes WHERE ip = ? AND time < ?")
            .bind(ip)
            .bind(time - DAY)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn count_strikes(&self, ip: &str, kind: &str, since: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM abuse_strikes WHERE ip = ? AND kind = ? AND time >= ?",
        )
        .bind(ip)
        .bind(kind)
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting abuse strikes"))?;
        Ok(n.max(0) as u64)
    }

    async fn record_login(&self, user: &str, ip: &str, time: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO login_successes (user, ip, time) VALUES (?, ?, ?) \
             ON CONFLICT (user, ip) DO UPDATE SET time = excluded.time",
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
        sqlx::query_scalar("SELECT time FROM login_successes WHERE user = ? AND ip = ?")
            .bind(user)
            .bind(ip)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading the last login"))
    }

    async fn last_login_any(&self, user: &str) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT MAX(time) FROM login_successes WHERE user = ?")
            .bind(user)
            .fetch_one(&self.pool)
            .await
            .map_err(db("reading the last login"))
    }

    async fn prune_security(&self, now: i64) -> Result<(), StoreError> {
        const CONTEXT: &str = "pruning security state";
        let mut tx = self.write_tx(CONTEXT).await?;
        for (sql, before) in [
            ("DELETE FROM auth_failures WHERE time < ?", now - DAY),
            ("DELETE FROM abuse_strikes WHERE time < ?", now - DAY),
            ("DELETE FROM lockouts WHERE until < ?", now - DAY),
            ("DELETE FROM bans WHERE until < ?", now - 7 * DAY),
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
        let mut tx = self.write_tx(CONTEXT).await?;
        for (ip, n) in counts {
            sqlx::query(
                "INSERT INTO rate_counts (kind, window, ip, node, count) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (kind, window, ip, node) DO UPDATE SET count = excluded.count",
            )
            .bind(kind)
            .bind(window)
            .bind(ip)
            .bind(node)
            .bind(i64::try_from(*n).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        }
        sqlx::query("DELETE FROM rate_counts WHERE kind = ? AND window < ?")
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
            "SELECT ip FROM rate_counts WHERE kind = ? AND window = ? \
             GROUP BY ip HAVING SUM(count) >= ?",
        )
        .bind(kind)
        .bind(window)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
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
        let mut tx = self.write_tx(CONTEXT).await?;
        sqlx::query(
            "INSERT INTO submission_counts (user, bucket, count, recipients) VALUES (?, ?, 1, ?) \
             ON CONFLICT (user, bucket) DO UPDATE SET count = count + 1, \
             recipients = recipients + excluded.recipients",
        )
        .bind(key.clone())
        .bind(time.div_euclid(SUBMISSION_BUCKET))
        .bind(i64::try_from(recipients).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        for d in domains {
            // A domain unused for the whole history window is new again.
            sqlx::query(
                "INSERT INTO submission_recipient_domains (user, domain, first_seen, last_seen) \
                 VALUES (?, ?, ?, ?) ON CONFLICT (user, domain) DO UPDATE SET \
                 first_seen = CASE WHEN last_seen < excluded.last_seen - ? \
                   THEN excluded.first_seen ELSE first_seen END, \
                 last_seen = excluded.last_seen",
            )
            .bind(key.clone())
            .bind(d.clone())
            .bind(time)
            .bind(time)
            .bind(SUBMISSION_HISTORY)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        }
        let old = time - SUBMISSION_HISTORY;
        for (prune, before) in [
            (
                "DELETE FROM submission_counts WHERE user = ? AND bucket < ?",
                old.div_euclid(SUBMISSION_BUCKET),
            ),
            (
                "DELETE FROM submission_recipient_domains WHERE user = ? AND last_seen < ?",
                old,
            ),
        ] {
            sqlx::query(prune)
                .bind(key.clone())
                .bind(before)
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn count_submissions(&self, user: &Address, since: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(count), 0) FROM submission_counts WHERE user = ? AND bucket >= ?",
        )
        .bind(user.lookup_key())
        .bind(since.div_euclid(SUBMISSION_BUCKET))
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting submissions"))?;
        Ok(n.max(0) as u64)
    }

    async fn count_submission_recipients(
        &self,
        user: &Address,
        since: i64,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(recipients), 0) FROM submission_counts WHERE user = ? AND bucket >= ?",
        )
        .bind(user.lookup_key())
        .bind(since.div_euclid(SUBMISSION_BUCKET))
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting recipients"))?;
        Ok(n.max(0) as u64)
    }

    async fn count_new_domains(&self, user: &Address, since: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM submission_recipient_domains WHERE user = ? AND first_seen >= ?",
        )
        .bind(user.lookup_key())
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db("counting new recipient domains"))?;
        Ok(n.max(0) as u64)
    }
}
