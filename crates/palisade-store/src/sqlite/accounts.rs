//! [`Accounts`] on SQLite.

use super::*;
use crate::Accounts;

#[async_trait::async_trait]
impl Accounts for SqliteStore {
    async fn add_user(&self, a: &Address, password_hash: &str) -> Result<(), StoreError> {
        const CONTEXT: &str = "adding a user";
        let key = a.lookup_key();
        let mut tx = self.write_tx(CONTEXT).await?;
        if !exists(&mut tx, DOMAIN_EXISTS, a.domain().as_str(), CONTEXT).await? {
            return Err(StoreError::UnknownDomain {
                domain: a.domain().clone(),
            });
        }
        // A user would shadow an exact alias of the same address for ever
        // (resolution prefers users), so the alias has to go first.
        if exists(&mut tx, ALIAS_EXISTS, &key, CONTEXT).await? {
            return Err(StoreError::AlreadyExists {
                what: format!("alias {key}"),
            });
        }
        let result = sqlx::query(
            "INSERT INTO users (address, domain, password_hash, created) VALUES (?, ?, ?, ?)",
        )
        .bind(key.clone())
        .bind(a.domain().as_str().to_owned())
        .bind(password_hash.to_owned())
        .bind(now())
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => tx.commit().await.map_err(db(CONTEXT)),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
                what: format!("user {key}"),
            }),
            Err(e) => Err(db(CONTEXT)(e)),
        }
    }

    async fn remove_user(&self, a: &Address) -> Result<bool, StoreError> {
        const CONTEXT: &str = "removing a user";
        let key = a.lookup_key();
        let mut tx = self.write_tx(CONTEXT).await?;
        // Credentials go with the user: a re-created address must not inherit them.
        for sql in [
            "DELETE FROM aliases WHERE target = ?",
            "DELETE FROM app_passwords WHERE user = ?",
            "DELETE FROM totp WHERE user = ?",
            "DELETE FROM recovery_codes WHERE user = ?",
            "DELETE FROM user_keys WHERE user = ?",
            "DELETE FROM web_sessions WHERE user = ?",
            "DELETE FROM passkeys WHERE user = ?",
        ] {
            sqlx::query(sql)
                .bind(key.clone())
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        }
        let removed = sqlx::query("DELETE FROM users WHERE address = ?")
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?
            .rows_affected();
        tx.commit().await.map_err(db(CONTEXT))?;
        Ok(removed > 0)
    }

    async fn set_password_hash(&self, a: &Address, hash: &str) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE users SET password_hash = ? WHERE address = ?")
            .bind(hash.to_owned())
            .bind(a.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("setting a password hash"))?
            .rows_affected();
        Ok(updated > 0)
    }

    async fn password_hash(&self, a: &Address) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT password_hash FROM users WHERE address = ?")
            .bind(a.lookup_key())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a password hash"))
    }

    async fn list_users(&self, domain: Option<&Domain>) -> Result<Vec<User>, StoreError> {
        let query = match domain {
            Some(d) => sqlx::query_as::<_, (String, i64, String)>(
                "SELECT address, created, name FROM users WHERE domain = ? ORDER BY address",
            )
            .bind(d.as_str().to_owned()),
            None => sqlx::query_as("SELECT address, created, name FROM users ORDER BY address"),
        };
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing users"))?;
        rows.into_iter()
            .map(|(address, created, name)| {
                Ok(User {
                    address: parse_address(address)?,
                    created,
                    name,
                })
            })
            .collect()
    }

    async fn set_user_name(&self, a: &Address, name: &str) -> Result<bool, StoreError> {
        const CONTEXT: &str = "setting a user's name";
        let mut tx = self.write_tx(CONTEXT).await?;
        let done = sqlx::query("UPDATE users SET name = ? WHERE address = ?")
            .bind(name)
            .bind(a.lookup_key())
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?
            .rows_affected()
            > 0;
        tx.commit().await.map_err(db(CONTEXT))?;
        Ok(done)
    }

    async fn totp(&self, user: &Address) -> Result<Option<TotpState>, StoreError> {
        let secret = seal::required(&self.secret)?;
        let user = user.lookup_key();
        let row: Option<(String, i64, i64)> =
            sqlx::query_as("SELECT secret, enabled, last_step FROM totp WHERE user = ?")
                .bind(&user)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading two-factor state"))?;
        row.map(|(sealed, enabled, last_step)| {
            Ok(TotpState {
                secret: open_totp(secret, &user, &sealed)?,
                enabled: enabled != 0,
                last_step,
            })
        })
        .transpose()
    }

    async fn put_totp(
        &self,
        user: &Address,
        seed: &str,
        enabled: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "writing two-factor state";
        let secret = seal::required(&self.secret)?;
        let user = user.lookup_key();
        let mut tx = self.write_tx(CONTEXT).await?;
        let stored: Option<String> = sqlx::query_scalar("SELECT secret FROM totp WHERE user = ?")
            .bind(&user)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        // The same seed again (confirming a setup) keeps the last step used.
        let same = stored.is_some_and(|s| open_totp(secret, &user, &s).is_ok_and(|s| s == seed));
        sqlx::query(
            "INSERT INTO totp (user, secret, enabled, created) VALUES (?, ?, ?, ?) \
             ON CONFLICT (user) DO UPDATE SET secret = excluded.secret, \
             enabled = excluded.enabled, created = excluded.created, \
             last_step = CASE WHEN ? THEN totp.last_step ELSE -1 END",
        )
        .bind(&user)
        .bind(sealed_totp(secret, &user, seed))
        .bind(i64::from(enabled))
        .bind(now)
        .bind(same)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn advance_totp_step(&self, user: &Address, step: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE totp SET last_step = ? WHERE user = ? AND last_step < ?")
            .bind(step)
            .bind(user.lookup_key())
            .bind(step)
            .execute(&self.pool)
            .await
            .map_err(db("recording a TOTP step"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn remove_totp(&self, user: &Address) -> Result<bool, StoreError> {
        const CONTEXT: &str = "turning two-factor off";
        let mut tx = self.write_tx(CONTEXT).await?;
        let done = sqlx::query("DELETE FROM totp WHERE user = ?")
            .bind(user.lookup_key())
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        sqlx::query("DELETE FROM recovery_codes WHERE user = ?")
            .bind(user.lookup_key())
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_recovery_codes(
        &self,
        user: &Address,
        hashes: &[String],
    ) -> Result<(), StoreError> {
        const CONTEXT: &str = "storing recovery codes";
        let mut tx = self.write_tx(CONTEXT).await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user = ?")
            .bind(user.lookup_key())
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        for h in hashes {
            sqlx::query("INSERT OR IGNORE INTO recovery_codes (user, hash) VALUES (?, ?)")
                .bind(user.lookup_key())
                .bind(h)
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn use_recovery_code(&self, user: &Address, hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM recovery_codes WHERE user = ? AND hash = ?")
            .bind(user.lookup_key())
            .bind(hash)
            .execute(&self.pool)
            .await
            .map_err(db("using a recovery code"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_app_password(&self, p: &AppPassword) -> Result<i64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO app_passwords (user, label, hash, scope, expires, from_net, created) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&p.user)
        .bind(&p.label)
        .bind(&p.hash)
        .bind(p.scope.name())
        .bind(p.expires)
        .bind(&p.from_net)
        .bind(p.created)
        .execute(&self.pool)
        .await;
        match done {
            Ok(d) => Ok(d.last_insert_rowid()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
                what: format!("app password {:?} of {}", p.label, p.user),
            }),
            Err(e) => Err(db("adding an app password")(e)),
        }
    }

    async fn list_app_passwords(&self, user: &Address) -> Result<Vec<AppPassword>, StoreError> {
        let rows: Vec<AppPasswordRow> = sqlx::query_as(
            "SELECT id, user, label, hash, scope, expires, from_net, created, last_used, last_ip \
             FROM app_passwords WHERE user = ? ORDER BY created, id",
        )
        .bind(user.lookup_key())
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing app passwords"))?;
        rows.into_iter().map(app_password_of).collect()
    }

    async fn app_password(&self, hash: &str) -> Result<Option<AppPassword>, StoreError> {
        let row: Option<AppPasswordRow> = sqlx::query_as(
            "SELECT id, user, label, hash, scope, expires, from_net, created, last_used, last_ip \
             FROM app_passwords WHERE hash = ?",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading an app password"))?;
        row.map(app_password_of).transpose()
    }

    async fn revoke_app_password(&self, user: &Address, label: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM app_passwords WHERE user = ? AND label = ?")
            .bind(user.lookup_key())
            .bind(label)
            .execute(&self.pool)
            .await
            .map_err(db("revoking an app password"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn touch_app_password(&self, id: i64, time: i64, ip: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE app_passwords SET last_used = ?, last_ip = ? WHERE id = ?")
            .bind(time)
            .bind(ip)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db("recording app password use"))?;
        Ok(())
    }

    async fn suspend_user(
        &self,
        user: &Address,
        since: i64,
        reason: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT OR REPLACE INTO suspensions (user, since, reason) VALUES (?, ?, ?)")
            .bind(user.lookup_key())
            .bind(since)
            .bind(reason.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("suspending a user"))?;
        Ok(())
    }

    async fn resume_user(&self, user: &Address) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM suspensions WHERE user = ?")
            .bind(user.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("resuming a user"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn suspension(&self, user: &Address) -> Result<Option<(i64, String)>, StoreError> {
        sqlx::query_as("SELECT since, reason FROM suspensions WHERE user = ?")
            .bind(user.lookup_key())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a suspension"))
    }

    async fn add_send_as(&self, user: &Address, address: &str) -> Result<(), StoreError> {
        const CONTEXT: &str = "adding a send-as delegation";
        let user_key = user.lookup_key();
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE address = ?")
            .bind(user_key.clone())
            .fetch_optional(&self.pool)
            .await
            .map_err(db(CONTEXT))?;
        if exists.is_none() {
            return Err(StoreError::UnknownUser {
                address: user.clone(),
            });
        }
        let done =
            sqlx::query("INSERT OR IGNORE INTO send_as (user, address, created) VALUES (?, ?, ?)")
                .bind(user_key)
                .bind(address.to_string())
                .bind(now())
                .execute(&self.pool)
                .await
                .map_err(db(CONTEXT))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::AlreadyExists {
                what: format!("send-as {address} for {user}"),
            });
        }
        Ok(())
    }

    async fn remove_send_as(&self, user: &Address, address: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM send_as WHERE user = ? AND address = ?")
            .bind(user.lookup_key())
            .bind(address.to_string())
            .execute(&self.pool)
            .await
            .map_err(db("removing a send-as delegation"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_send_as(&self, user: &Address) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT address FROM send_as WHERE user = ? ORDER BY address")
            .bind(user.lookup_key())
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing send-as delegations"))
    }

    async fn may_send_as(&self, user: &Address, address: &Address) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM send_as WHERE user = ? AND (address = ? OR address = ?)",
        )
        .bind(user.lookup_key())
        .bind(address.lookup_key())
        .bind(format!("*@{}", address.domain()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db("checking a send-as delegation"))?;
        Ok(found.is_some())
    }
}
