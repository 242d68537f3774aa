//! [`Keys`] on SQLite.

use super::*;
use crate::Keys;

#[async_trait::async_trait]
impl Keys for SqliteStore {
    async fn add_user_key(&self, a: &Address, key: &UserKey) -> Result<bool, StoreError> {
        const CONTEXT: &str = "adding a user's key";
        let user = a.lookup_key();
        let mut tx = self.write_tx(CONTEXT).await?;
        let exists: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM users WHERE address = ?")
            .bind(&user)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        if exists.is_none() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO user_keys (user, kind, fingerprint, data, user_ids, expires, added) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user, fingerprint) DO UPDATE SET \
             kind = excluded.kind, data = excluded.data, user_ids = excluded.user_ids, \
             expires = excluded.expires, added = excluded.added",
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
            "SELECT kind, fingerprint, data, user_ids, expires, added FROM user_keys \
             WHERE user = ? ORDER BY added, fingerprint",
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
        let removed = sqlx::query("DELETE FROM user_keys WHERE user = ? AND fingerprint = ?")
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
        let updated = sqlx::query("UPDATE users SET encrypt_at_rest = ? WHERE address = ?")
            .bind(i64::from(on))
            .bind(a.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("setting encryption at rest"))?
            .rows_affected();
        Ok(updated > 0)
    }

    async fn set_domain_encrypt_at_rest(&self, d: &Domain, on: bool) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE domains SET encrypt_at_rest = ? WHERE name = ?")
            .bind(i64::from(on))
            .bind(d.as_str().to_owned())
            .execute(&self.pool)
            .await
            .map_err(db("setting a domain's encryption at rest"))?
            .rows_affected();
        Ok(updated > 0)
    }

    async fn domain_encrypt_at_rest(&self, d: &Domain) -> Result<bool, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT encrypt_at_rest FROM domains WHERE name = ?")
                .bind(d.as_str().to_owned())
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a domain's encryption at rest"))?;
        Ok(row.is_some_and(|(on,)| on != 0))
    }

    async fn encrypt_at_rest(&self, a: &Address) -> Result<bool, StoreError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT encrypt_at_rest FROM users WHERE address = ?")
                .bind(a.lookup_key())
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading encryption at rest"))?;
        Ok(row.is_some_and(|(on,)| on != 0))
    }

    async fn set_outbound_encryption(
        &self,
        a: &Address,
        policy: Option<&str>,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE users SET outbound_encryption = ? WHERE address = ?")
            .bind(policy)
            .bind(a.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("setting outbound encryption"))?
            .rows_affected();
        Ok(updated > 0)
    }

    async fn set_domain_outbound_encryption(
        &self,
        d: &Domain,
        policy: &str,
    ) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE domains SET outbound_encryption = ? WHERE name = ?")
            .bind(policy)
            .bind(d.as_str().to_owned())
            .execute(&self.pool)
            .await
            .map_err(db("setting a domain's outbound encryption"))?
            .rows_affected();
        Ok(updated > 0)
    }

    async fn outbound_encryption(&self, a: &Address) -> Result<Option<String>, StoreError> {
        // The user's own setting, else their domain's (a user of no domain row has none).
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT COALESCE( \
                 (SELECT outbound_encryption FROM users WHERE address = ?), \
                 (SELECT outbound_encryption FROM domains WHERE name = ?))",
        )
        .bind(a.lookup_key())
        .bind(a.domain().as_str().to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading outbound encryption"))?;
        Ok(row.and_then(|(p,)| p))
    }

    async fn put_signing_key(&self, a: &Address, key: &SigningKey) -> Result<bool, StoreError> {
        const CONTEXT: &str = "storing a signing key";
        let secret = seal::required(&self.secret)?;
        let user = a.lookup_key();
        let mut tx = self.write_tx(CONTEXT).await?;
        let exists: Option<(String,)> =
            sqlx::query_as("SELECT address FROM users WHERE address = ?")
                .bind(&user)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        if exists.is_none() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO signing_keys (user, certificate, sealed_key, fingerprint, expires, added) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user) DO UPDATE SET \
             certificate = excluded.certificate, sealed_key = excluded.sealed_key, \
             fingerprint = excluded.fingerprint, expires = excluded.expires, added = excluded.added",
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
            "SELECT certificate, sealed_key, fingerprint, expires, added FROM signing_keys \
             WHERE user = ?",
        )
        .bind(a.lookup_key())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a signing key"))?;
        row.map(|row| signing_key(secret, a, row)).transpose()
    }

    async fn remove_signing_key(&self, a: &Address) -> Result<bool, StoreError> {
        let removed = sqlx::query("DELETE FROM signing_keys WHERE user = ?")
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
            sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading a server secret"))?;
        if let Some(v) = stored {
            return Ok(v);
        }
        sqlx::query("INSERT OR IGNORE INTO server_secrets (name, value) VALUES (?, ?)")
            .bind(name)
            .bind(fresh)
            .execute(&self.pool)
            .await
            .map_err(db("storing a server secret"))?;
        sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = ?")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(db("reading a server secret"))
    }

    async fn add_dkim_key(&self, k: &DkimKey) -> Result<(), StoreError> {
        let secret = seal::required(&self.secret)?;
        let done = sqlx::query(
            "INSERT OR IGNORE INTO dkim_keys \
             (domain, selector, algorithm, private_key, public_key, state, created) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(k.domain.to_string())
        .bind(k.selector.clone())
        .bind(k.algorithm.clone())
        .bind(sealed_dkim_key(secret, k))
        .bind(k.public_key.clone())
        .bind(k.state.clone())
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
            "SELECT domain, selector, algorithm, private_key, public_key, state, created \
             FROM dkim_keys WHERE (? IS NULL OR domain = ?) ORDER BY domain, created, selector",
        )
        .bind(domain.map(|d| d.to_string()))
        .bind(domain.map(|d| d.to_string()))
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
        let done = sqlx::query("UPDATE dkim_keys SET state = ? WHERE domain = ? AND selector = ?")
            .bind(state.to_string())
            .bind(domain.to_string())
            .bind(selector.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("changing a DKIM key"))?;
        Ok(done.rows_affected() > 0)
    }
}

impl SqliteStore {
    /// Seals the DKIM keys and TOTP seeds an older release stored in clear, in one
    /// transaction; how many there were.
    pub(super) async fn seal_clear_values(&self, secret: &Secret) -> Result<u64, StoreError> {
        const CONTEXT: &str = "sealing keys stored in clear";
        let mut tx = self.write_tx(CONTEXT).await?;
        let dkim: Vec<(String, String, String)> =
            sqlx::query_as("SELECT domain, selector, private_key FROM dkim_keys")
                .fetch_all(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        let totp: Vec<(String, String)> = sqlx::query_as("SELECT user, secret FROM totp")
            .fetch_all(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        let mut sealed = 0;
        for (domain, selector, key) in dkim.into_iter().filter(|r| !seal::is_sealed_text(&r.2)) {
            let value = secret.seal_text(&key, &context::dkim(&domain, &selector));
            sqlx::query("UPDATE dkim_keys SET private_key = ? WHERE domain = ? AND selector = ?")
                .bind(value)
                .bind(&domain)
                .bind(&selector)
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
            sealed += 1;
        }
        for (user, seed) in totp.into_iter().filter(|r| !seal::is_sealed_text(&r.1)) {
            sqlx::query("UPDATE totp SET secret = ? WHERE user = ?")
                .bind(sealed_totp(secret, &user, &seed))
                .bind(&user)
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
            sealed += 1;
        }
        tx.commit().await.map_err(db(CONTEXT))?;
        Ok(sealed)
    }
}
