//! [`Keys`] on PostgreSQL. Text is sorted `COLLATE "C"`: byte order, as SQLite sorts it.

use super::directory::{USER_EXISTS, exists};
use super::*;
use crate::Keys;

#[async_trait::async_trait]
impl Keys for PgStore {
    async fn add_user_key(&self, a: &Address, key: &UserKey) -> Result<bool, StoreError> {
        const CONTEXT: &str = "adding a user's key";
        let user = a.lookup_key();
        let mut tx = self.write_tx(CONTEXT).await?;
        if !exists(&mut tx, USER_EXISTS, &user, CONTEXT).await? {
            return Ok(false);
        }
        sqlx::query(
            r#"INSERT INTO user_keys ("user", kind, fingerprint, data, user_ids, expires, added)
               VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT ("user", fingerprint) DO UPDATE
               SET kind = EXCLUDED.kind, data = EXCLUDED.data, user_ids = EXCLUDED.user_ids,
               expires = EXCLUDED.expires, added = EXCLUDED.added"#,
        )
        .bind(&user)
        .bind(&key.kind)
        .bind(&key.fingerprint)
        .bind(&key.data)
        .bind(&key.user_ids)
        .bind(key.expires)
        .bind(key.added)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))?;
        self.changed();
        Ok(true)
    }

    async fn user_keys(&self, a: &Address) -> Result<Vec<UserKey>, StoreError> {
        let rows: Vec<(String, String, String, String, Option<i64>, i64)> = sqlx::query_as(
            r#"SELECT kind, fingerprint, data, user_ids, expires, added FROM user_keys
               WHERE "user" = $1 ORDER BY added, fingerprint COLLATE "C""#,
        )
        .bind(a.lookup_key())
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading a user's keys"))?;
        Ok(rows
            .into_iter()
            .map(
                |(kind, fingerprint, data, user_ids, expires, added)| UserKey {
                    kind,
                    fingerprint,
                    data,
                    user_ids,
                    expires,
                    added,
                },
            )
            .collect())
    }

    async fn remove_user_key(&self, a: &Address, fingerprint: &str) -> Result<bool, StoreError> {
        let removed =
            sqlx::query(r#"DELETE FROM user_keys WHERE "user" = $1 AND fingerprint = $2"#)
                .bind(a.lookup_key())
                .bind(fingerprint.to_ascii_uppercase())
                .execute(&self.pool)
                .await
                .map_err(db("removing a user's key"))?
                .rows_affected();
        self.changed();
        Ok(removed > 0)
    }

    async fn set_encrypt_at_rest(&self, a: &Address, on: bool) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE users SET encrypt_at_rest = $1 WHERE address = $2")
            .bind(on)
            .bind(a.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("setting encryption at rest"))?
            .rows_affected();
        // The lookup cache holds this switch (SQLite's update hook sees the change).
        if updated > 0 {
            self.changed();
        }
        Ok(updated > 0)
    }

    async fn encrypt_at_rest(&self, a: &Address) -> Result<bool, StoreError> {
        let on: Option<bool> =
            sqlx::query_scalar("SELECT encrypt_at_rest FROM users WHERE address = $1")
                .bind(a.lookup_key())
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading encryption at rest"))?;
        Ok(on.unwrap_or(false))
    }

    async fn set_domain_encrypt_at_rest(&self, d: &Domain, on: bool) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE domains SET encrypt_at_rest = $1 WHERE name = $2")
            .bind(on)
            .bind(d.as_str())
            .execute(&self.pool)
            .await
            .map_err(db("setting a domain's encryption at rest"))?
            .rows_affected();
        // As for a user's switch: the lookup cache holds it.
        if updated > 0 {
            self.changed();
        }
        Ok(updated > 0)
    }

    async fn domain_encrypt_at_rest(&self, d: &Domain) -> Result<bool, StoreError> {
        let on: Option<bool> =
            sqlx::query_scalar("SELECT encrypt_at_rest FROM domains WHERE name = $1")
                .bind(d.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a domain's encryption at rest"))?;
        Ok(on.unwrap_or(false))
    }

    async fn set_outbound_encryption(
        &self,
        a: &Address,
        policy: Option<&str>,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE users SET outbound_encryption = $1 WHERE address = $2")
            .bind(policy)
            .bind(a.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("setting outbound encryption"))?
            .rows_affected();
        if updated > 0 {
            self.changed();
        }
        Ok(updated > 0)
    }

    async fn set_domain_outbound_encryption(
        &self,
        d: &Domain,
        policy: &str,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE domains SET outbound_encryption = $1 WHERE name = $2")
            .bind(policy)
            .bind(d.as_str())
            .execute(&self.pool)
            .await
            .map_err(db("setting a domain's outbound encryption"))?
            .rows_affected();
        if updated > 0 {
            self.changed();
        }
        Ok(updated > 0)
    }

    async fn outbound_encryption(&self, a: &Address) -> Result<Option<String>, StoreError> {
        // The user's own setting, else their domain's (a user of no domain row has none).
        sqlx::query_scalar(
            "SELECT COALESCE(
                 (SELECT outbound_encryption FROM users WHERE address = $1),
                 (SELECT outbound_encryption FROM domains WHERE name = $2))",
        )
        .bind(a.lookup_key())
        .bind(a.domain().as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(db("reading outbound encryption"))
    }

    async fn put_signing_key(&self, a: &Address, key: &SigningKey) -> Result<bool, StoreError> {
        const CONTEXT: &str = "storing a signing key";
        let secret = seal::required(&self.secret)?;
        let user = a.lookup_key();
        let mut tx = self.write_tx(CONTEXT).await?;
        if !exists(&mut tx, USER_EXISTS, &user, CONTEXT).await? {
            return Ok(false);
        }
        sqlx::query(
            r#"INSERT INTO signing_keys ("user", certificate, sealed_key, fingerprint, expires,
               added) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT ("user") DO UPDATE SET
               certificate = EXCLUDED.certificate, sealed_key = EXCLUDED.sealed_key,
               fingerprint = EXCLUDED.fingerprint, expires = EXCLUDED.expires,
               added = EXCLUDED.added"#,
        )
        .bind(&user)
        .bind(&key.certificate)
        .bind(secret.seal(key.private_key.as_bytes(), &context::signing(a)))
        .bind(&key.fingerprint)
        .bind(key.expires)
        .bind(key.added)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))?;
        Ok(true)
    }

    async fn signing_key(&self, a: &Address) -> Result<Option<SigningKey>, StoreError> {
        let secret = seal::required(&self.secret)?;
        let row: Option<SigningRow> = sqlx::query_as(
            r#"SELECT certificate, sealed_key, fingerprint, expires, added FROM signing_keys
               WHERE "user" = $1"#,
        )
        .bind(a.lookup_key())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a signing key"))?;
        row.map(|row| signing_key(secret, a, row)).transpose()
    }

    async fn remove_signing_key(&self, a: &Address) -> Result<bool, StoreError> {
        let removed = sqlx::query(r#"DELETE FROM signing_keys WHERE "user" = $1"#)
            .bind(a.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("removing a signing key"))?
            .rows_affected();
        Ok(removed > 0)
    }

    async fn server_secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError> {
        // Read first: every failed login asks, and only the first ever needs a write.
        let stored: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a server secret"))?;
        if let Some(v) = stored {
            return Ok(v);
        }
        sqlx::query(
            "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(fresh)
        .execute(&self.pool)
        .await
        .map_err(db("storing a server secret"))?;
        sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(db("reading a server secret"))
    }

    async fn add_dkim_key(&self, k: &DkimKey) -> Result<(), StoreError> {
        let secret = seal::required(&self.secret)?;
        let done = sqlx::query(
            "INSERT INTO dkim_keys \
             (domain, selector, algorithm, private_key, public_key, state, created) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(k.domain.as_str())
        .bind(&k.selector)
        .bind(&k.algorithm)
        .bind(sealed_dkim_key(secret, k))
        .bind(&k.public_key)
        .bind(&k.state)
        .bind(k.created)
        .execute(&self.pool)
        .await
        .map_err(db("adding a DKIM key"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::AlreadyExists {
                what: format!("DKIM selector {} for {}", k.selector, k.domain),
            });
        }
        Ok(())
    }

    async fn list_dkim_keys(&self, domain: Option<&Domain>) -> Result<Vec<DkimKey>, StoreError> {
        let secret = seal::required(&self.secret)?;
        let rows: Vec<DkimRow> = sqlx::query_as(
            r#"SELECT domain, selector, algorithm, private_key, public_key, state, created
               FROM dkim_keys WHERE $1::TEXT IS NULL OR domain = $1
               ORDER BY domain COLLATE "C", created, selector COLLATE "C""#,
        )
        .bind(domain.map(Domain::as_str))
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing DKIM keys"))?;
        rows.into_iter().map(|r| dkim_key(secret, r)).collect()
    }

    async fn set_dkim_key_state(
        &self,
        domain: &Domain,
        selector: &str,
        state: &str,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE dkim_keys SET state = $1 WHERE domain = $2 AND selector = $3")
                .bind(state)
                .bind(domain.as_str())
                .bind(selector)
                .execute(&self.pool)
                .await
                .map_err(db("changing a DKIM key"))?;
        Ok(done.rows_affected() > 0)
    }
}
