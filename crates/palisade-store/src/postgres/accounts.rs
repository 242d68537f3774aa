//! [`Accounts`] on PostgreSQL. Lists are sorted `COLLATE "C"`: byte order, as SQLite
//! sorts them, whatever the database's own collation.

use super::directory::{ALIAS_EXISTS, DOMAIN_EXISTS, USER_EXISTS, exists};
use super::*;
use crate::Accounts;

#[async_trait::async_trait]
impl Accounts for PgStore {
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
            "INSERT INTO users (address, domain, password_hash, created) VALUES ($1, $2, $3, $4)",
        )
        .bind(&key)
        .bind(a.domain().as_str())
        .bind(password_hash)
        .bind(now())
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => {
                tx.commit().await.map_err(db(CONTEXT))?;
                self.changed();
                Ok(())
            }
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
            "DELETE FROM aliases WHERE target = $1",
            r#"DELETE FROM app_passwords WHERE "user" = $1"#,
            r#"DELETE FROM totp WHERE "user" = $1"#,
            r#"DELETE FROM recovery_codes WHERE "user" = $1"#,
            r#"DELETE FROM user_keys WHERE "user" = $1"#,
            r#"DELETE FROM web_sessions WHERE "user" = $1"#,
            r#"DELETE FROM passkeys WHERE "user" = $1"#,
        ] {
            sqlx::query(sql)
                .bind(&key)
                .execute(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        }
        let removed = sqlx::query("DELETE FROM users WHERE address = $1")
            .bind(&key)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?
            .rows_affected();
        tx.commit().await.map_err(db(CONTEXT))?;
        self.changed();
        Ok(removed > 0)
    }

    async fn set_password_hash(&self, a: &Address, hash: &str) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE users SET password_hash = $1 WHERE address = $2")
            .bind(hash)
            .bind(a.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("setting a password hash"))?
            .rows_affected();
        if updated > 0 {
            self.changed();
        }
        Ok(updated > 0)
    }

    async fn password_hash(&self, a: &Address) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT password_hash FROM users WHERE address = $1")
            .bind(a.lookup_key())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a password hash"))
    }

    async fn list_users(&self, domain: Option<&Domain>) -> Result<Vec<User>, StoreError> {
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            r#"SELECT address, created, name FROM users
               WHERE $1::TEXT IS NULL OR domain = $1 ORDER BY address COLLATE "C""#,
        )
        .bind(domain.map(Domain::as_str))
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
        let done = sqlx::query("UPDATE users SET name = $1 WHERE address = $2")
            .bind(name)
            .bind(a.lookup_key())
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?
            .rows_affected()
            > 0;
        tx.commit().await.map_err(db(CONTEXT))?;
        if done {
            self.changed();
        }
        Ok(done)
    }

    async fn totp(&self, user: &Address) -> Result<Option<TotpState>, StoreError> {
        let secret = seal::required(&self.secret)?;
        let user = user.lookup_key();
        let row: Option<(String, bool, i64)> =
            sqlx::query_as(r#"SELECT secret, enabled, last_step FROM totp WHERE "user" = $1"#)
                .bind(&user)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading two-factor state"))?;
        row.map(|(sealed, enabled, last_step)| {
            Ok(TotpState {
                secret: open_totp(secret, &user, &sealed)?,
                enabled,
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
        let stored: Option<String> =
            sqlx::query_scalar(r#"SELECT secret FROM totp WHERE "user" = $1"#)
                .bind(&user)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db(CONTEXT))?;
        // The same seed again (confirming a setup) keeps the last step used.
        let same = stored.is_some_and(|s| open_totp(secret, &user, &s).is_ok_and(|s| s == seed));
        sqlx::query(
            r#"INSERT INTO totp ("user", secret, enabled, created) VALUES ($1, $2, $3, $4)
               ON CONFLICT ("user") DO UPDATE SET secret = EXCLUDED.secret,
               enabled = EXCLUDED.enabled, created = EXCLUDED.created,
               last_step = CASE WHEN $5 THEN totp.last_step ELSE -1 END"#,
        )
        .bind(&user)
        .bind(sealed_totp(secret, &user, seed))
        .bind(enabled)
        .bind(now)
        .bind(same)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn advance_totp_step(&self, user: &Address, step: i64) -> Result<bool, StoreError> {
        let done =
            sqlx::query(r#"UPDATE totp SET last_step = $1 WHERE "user" = $2 AND last_step < $1"#)
                .bind(step)
                .bind(user.lookup_key())
                .execute(&self.pool)
                .await
                .map_err(db("recording a TOTP step"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn remove_totp(&self, user: &Address) -> Result<bool, StoreError> {
        const CONTEXT: &str = "turning two-factor off";
        let mut tx = self.write_tx(CONTEXT).await?;
        let done = sqlx::query(r#"DELETE FROM totp WHERE "user" = $1"#)
            .bind(user.lookup_key())
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        sqlx::query(r#"DELETE FROM recovery_codes WHERE "user" = $1"#)
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
        sqlx::query(r#"DELETE FROM recovery_codes WHERE "user" = $1"#)
            .bind(user.lookup_key())
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        for h in hashes {
            sqlx::query(
                r#"INSERT INTO recovery_codes ("user", hash) VALUES ($1, $2)
                   ON CONFLICT DO NOTHING"#,
            )
            .bind(user.lookup_key())
            .bind(h)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        }
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn use_recovery_code(&self, user: &Address, hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(r#"DELETE FROM recovery_codes WHERE "user" = $1 AND hash = $2"#)
            .bind(user.lookup_key())
            .bind(hash)
            .execute(&self.pool)
            .await
            .map_err(db("using a recovery code"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_app_password(&self, p: &AppPassword) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar(
            r#"INSERT INTO app_passwords ("user", label, hash, scope, expires, from_net, created)
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"#,
        )
        .bind(&p.user)
        .bind(&p.label)
        .bind(&p.hash)
        .bind(p.scope.name())
        .bind(p.expires)
        .bind(&p.from_net)
        .bind(p.created)
        .fetch_one(&self.pool)
        .await;
        match id {
            Ok(id) => Ok(id),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
                what: format!("app password {:?} of {}", p.label, p.user),
            }),
            Err(e) => Err(db("adding an app password")(e)),
        }
    }

    async fn list_app_passwords(&self, user: &Address) -> Result<Vec<AppPassword>, StoreError> {
        let rows: Vec<AppPasswordRow> = sqlx::query_as(
            r#"SELECT id, "user", label, hash, scope, expires, from_net, created, last_used,
               last_ip FROM app_passwords WHERE "user" = $1 ORDER BY created, id"#,
        )
        .bind(user.lookup_key())
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing app passwords"))?;
        rows.into_iter().map(app_password_of).collect()
    }

    async fn app_password(&self, hash: &str) -> Result<Option<AppPassword>, StoreError> {
        let row: Option<AppPasswordRow> = sqlx::query_as(
            r#"SELECT id, "user", label, hash, scope, expires, from_net, created, last_used,
               last_ip FROM app_passwords WHERE hash = $1"#,
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading an app password"))?;
        row.map(app_password_of).transpose()
    }

    async fn revoke_app_password(&self, user: &Address, label: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(r#"DELETE FROM app_passwords WHERE "user" = $1 AND label = $2"#)
            .bind(user.lookup_key())
            .bind(label)
            .execute(&self.pool)
            .await
            .map_err(db("revoking an app password"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn touch_app_password(&self, id: i64, time: i64, ip: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE app_passwords SET last_used = $1, last_ip = $2 WHERE id = $3")
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
        sqlx::query(
            r#"INSERT INTO suspensions ("user", since, reason) VALUES ($1, $2, $3)
               ON CONFLICT ("user") DO UPDATE SET since = EXCLUDED.since,
               reason = EXCLUDED.reason"#,
        )
        .bind(user.lookup_key())
        .bind(since)
        .bind(reason)
        .execute(&self.pool)
        .await
        .map_err(db("suspending a user"))?;
        Ok(())
    }

    async fn resume_user(&self, user: &Address) -> Result<bool, StoreError> {
        let done = sqlx::query(r#"DELETE FROM suspensions WHERE "user" = $1"#)
            .bind(user.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("resuming a user"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn suspension(&self, user: &Address) -> Result<Option<(i64, String)>, StoreError> {
        sqlx::query_as(r#"SELECT since, reason FROM suspensions WHERE "user" = $1"#)
            .bind(user.lookup_key())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a suspension"))
    }

    async fn add_send_as(&self, user: &Address, address: &str) -> Result<(), StoreError> {
        const CONTEXT: &str = "adding a send-as delegation";
        let user_key = user.lookup_key();
        let known: bool = sqlx::query_scalar(USER_EXISTS)
            .bind(&user_key)
            .fetch_one(&self.pool)
            .await
            .map_err(db(CONTEXT))?;
        if !known {
            return Err(StoreError::UnknownUser {
                address: user.clone(),
            });
        }
        let done = sqlx::query(
            r#"INSERT INTO send_as ("user", address, created) VALUES ($1, $2, $3)
               ON CONFLICT DO NOTHING"#,
        )
        .bind(user_key)
        .bind(address)
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
        let done = sqlx::query(r#"DELETE FROM send_as WHERE "user" = $1 AND address = $2"#)
            .bind(user.lookup_key())
            .bind(address)
            .execute(&self.pool)
            .await
            .map_err(db("removing a send-as delegation"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_send_as(&self, user: &Address) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            r#"SELECT address FROM send_as WHERE "user" = $1 ORDER BY address COLLATE "C""#,
        )
        .bind(user.lookup_key())
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing send-as delegations"))
    }

    async fn may_send_as(&self, user: &Address, address: &Address) -> Result<bool, StoreError> {
        sqlx::query_scalar(
            r#"SELECT EXISTS (SELECT 1 FROM send_as
               WHERE "user" = $1 AND (address = $2 OR address = $3))"#,
        )
        .bind(user.lookup_key())
        .bind(address.lookup_key())
        .bind(format!("*@{}", address.domain()))
        .fetch_one(&self.pool)
        .await
        .map_err(db("checking a send-as delegation"))
    }
}
