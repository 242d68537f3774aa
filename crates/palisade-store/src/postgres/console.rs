//! [`ConsoleStore`] on PostgreSQL (tables `web_sessions`, `passkeys`, `users.admin`).

use super::*;
use crate::ConsoleStore;

type SessionRow = (String, String, String, i64, i64, String);

fn session((id_hash, user, csrf, created, last_seen, ip): SessionRow) -> WebSession {
    WebSession {
        id_hash,
        user,
        csrf,
        created,
        last_seen,
        ip,
    }
}

type PasskeyRow = (String, String, String, String, i64, Option<i64>);

fn passkey((credential_id, user, label, passkey, created, last_used): PasskeyRow) -> StoredPasskey {
    StoredPasskey {
        credential_id,
        user,
        label,
        passkey,
        created,
        last_used,
    }
}

#[async_trait::async_trait]
impl ConsoleStore for PgStore {
    async fn add_passkey(&self, p: &StoredPasskey) -> Result<(), StoreError> {
        let done = sqlx::query(
            r#"INSERT INTO passkeys (credential_id, "user", label, passkey, created, last_used)
               VALUES ($1, $2, $3, $4, $5, $6)"#,
        )
        .bind(&p.credential_id)
        .bind(&p.user)
        .bind(&p.label)
        .bind(&p.passkey)
        .bind(p.created)
        .bind(p.last_used)
        .execute(&self.pool)
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
                what: format!("passkey {}", p.credential_id),
            }),
            Err(e) => Err(db("adding a passkey")(e)),
        }
    }

    async fn passkeys(&self, user: &Address) -> Result<Vec<StoredPasskey>, StoreError> {
        let rows: Vec<PasskeyRow> = sqlx::query_as(
            r#"SELECT credential_id, "user", label, passkey, created, last_used FROM passkeys
               WHERE "user" = $1 ORDER BY created"#,
        )
        .bind(user.lookup_key())
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading passkeys"))?;
        Ok(rows.into_iter().map(passkey).collect())
    }

    async fn touch_passkey(
        &self,
        credential_id: &str,
        passkey: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE passkeys SET passkey = $1, last_used = $2 WHERE credential_id = $3")
            .bind(passkey)
            .bind(now)
            .bind(credential_id)
            .execute(&self.pool)
            .await
            .map_err(db("updating a passkey"))?;
        Ok(())
    }

    async fn remove_passkey(
        &self,
        user: &Address,
        credential_id: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(r#"DELETE FROM passkeys WHERE "user" = $1 AND credential_id = $2"#)
            .bind(user.lookup_key())
            .bind(credential_id)
            .execute(&self.pool)
            .await
            .map_err(db("removing a passkey"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn put_web_session(&self, s: &WebSession) -> Result<(), StoreError> {
        sqlx::query(
            r#"INSERT INTO web_sessions (id_hash, "user", csrf, created, last_seen, ip)
               VALUES ($1, $2, $3, $4, $5, $6)"#,
        )
        .bind(&s.id_hash)
        .bind(&s.user)
        .bind(&s.csrf)
        .bind(s.created)
        .bind(s.last_seen)
        .bind(&s.ip)
        .execute(&self.pool)
        .await
        .map_err(db("opening a web session"))?;
        Ok(())
    }

    async fn web_session(&self, id_hash: &str) -> Result<Option<WebSession>, StoreError> {
        let row: Option<SessionRow> = sqlx::query_as(
            r#"SELECT id_hash, "user", csrf, created, last_seen, ip FROM web_sessions
               WHERE id_hash = $1"#,
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a web session"))?;
        Ok(row.map(session))
    }

    async fn touch_web_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE web_sessions SET last_seen = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(db("touching a web session"))?;
        Ok(())
    }

    async fn remove_web_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(db("ending a web session"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn remove_web_sessions(&self, user: &Address) -> Result<u64, StoreError> {
        let done = sqlx::query(r#"DELETE FROM web_sessions WHERE "user" = $1"#)
            .bind(user.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("ending a user's web sessions"))?;
        Ok(done.rows_affected())
    }

    async fn prune_web_sessions(
        &self,
        idle_before: i64,
        opened_before: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM web_sessions WHERE last_seen < $1 OR created < $2")
            .bind(idle_before)
            .bind(opened_before)
            .execute(&self.pool)
            .await
            .map_err(db("pruning web sessions"))?;
        Ok(done.rows_affected())
    }

    async fn set_admin(&self, user: &Address, admin: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET admin = $1 WHERE address = $2")
            .bind(admin)
            .bind(user.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("setting the administrator role"))?;
        if done.rows_affected() > 0 {
            self.changed();
        }
        Ok(done.rows_affected() > 0)
    }

    async fn set_require_2fa(&self, user: &Address, on: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET require_2fa = $1 WHERE address = $2")
            .bind(on)
            .bind(user.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("requiring two-factor"))?;
        if done.rows_affected() > 0 {
            self.changed();
        }
        Ok(done.rows_affected() > 0)
    }

    async fn account_flags(&self, user: &Address) -> Result<Option<AccountFlags>, StoreError> {
        let row: Option<(bool, bool)> =
            sqlx::query_as("SELECT admin, require_2fa FROM users WHERE address = $1")
                .bind(user.lookup_key())
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading an account's flags"))?;
        Ok(row.map(|(admin, require_2fa)| AccountFlags { admin, require_2fa }))
    }

    async fn list_lockouts(&self, now: i64) -> Result<Vec<Block>, StoreError> {
        let rows: Vec<(String, i64, i64, i64, String)> = sqlx::query_as(
            r#"SELECT "user", since, until, strikes, reason FROM lockouts WHERE until > $1
               ORDER BY since DESC"#,
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing lockouts"))?;
        Ok(rows.into_iter().map(block_of).collect())
    }

    async fn events_about(&self, user: &Address, limit: u32) -> Result<Vec<Event>, StoreError> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT time, kind, subject, detail FROM events WHERE subject = $1 \
             ORDER BY time DESC, seq DESC LIMIT $2",
        )
        .bind(user.identity())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading a user's events"))?;
        Ok(rows.into_iter().map(event).collect())
    }
}
