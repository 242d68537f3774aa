//! [`ConsoleStore`] on SQLite (tables `web_sessions`, `users.admin`).

use super::SqliteStore;
use crate::console::{AccountFlags, ConsoleStore, StoredPasskey, WebSession};
use crate::error::{db, is_unique_violation};
use crate::{Event, StoreError};
use palisade_types::Address;

type SessionRow = (String, String, String, i64, i64, String);

fn session(r: SessionRow) -> WebSession {
    let (id_hash, user, csrf, created, last_seen, ip) = r;
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

fn passkey(r: PasskeyRow) -> StoredPasskey {
    let (credential_id, user, label, passkey, created, last_used) = r;
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
impl ConsoleStore for SqliteStore {
    async fn add_passkey(&self, p: &StoredPasskey) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO passkeys (credential_id, user, label, passkey, created, last_used) \
             VALUES (?, ?, ?, ?, ?, ?)",
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
            "SELECT credential_id, user, label, passkey, created, last_used FROM passkeys \
             WHERE user = ? ORDER BY created",
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
        sqlx::query("UPDATE passkeys SET passkey = ?, last_used = ? WHERE credential_id = ?")
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
        let done = sqlx::query("DELETE FROM passkeys WHERE user = ? AND credential_id = ?")
            .bind(user.lookup_key())
            .bind(credential_id)
            .execute(&self.pool)
            .await
            .map_err(db("removing a passkey"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn put_web_session(&self, s: &WebSession) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO web_sessions (id_hash, user, csrf, created, last_seen, ip) \
             VALUES (?, ?, ?, ?, ?, ?)",
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
            "SELECT id_hash, user, csrf, created, last_seen, ip FROM web_sessions \
             WHERE id_hash = ?",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a web session"))?;
        Ok(row.map(session))
    }

    async fn touch_web_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE web_sessions SET last_seen = ? WHERE id_hash = ?")
            .bind(now)
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(db("touching a web session"))?;
        Ok(())
    }

    async fn remove_web_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM web_sessions WHERE id_hash = ?")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(db("ending a web session"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn remove_web_sessions(&self, user: &Address) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM web_sessions WHERE user = ?")
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
        let done = sqlx::query("DELETE FROM web_sessions WHERE last_seen < ? OR created < ?")
            .bind(idle_before)
            .bind(opened_before)
            .execute(&self.pool)
            .await
            .map_err(db("pruning web sessions"))?;
        Ok(done.rows_affected())
    }

    async fn set_admin(&self, user: &Address, admin: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET admin = ? WHERE address = ?")
            .bind(i64::from(admin))
            .bind(user.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("setting the administrator role"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_require_2fa(&self, user: &Address, on: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET require_2fa = ? WHERE address = ?")
            .bind(i64::from(on))
            .bind(user.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("requiring two-factor"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn account_flags(&self, user: &Address) -> Result<Option<AccountFlags>, StoreError> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT admin, require_2fa FROM users WHERE address = ?")
                .bind(user.lookup_key())
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading an account's flags"))?;
        Ok(row.map(|(admin, require_2fa)| AccountFlags {
            admin: admin == 1,
            require_2fa: require_2fa == 1,
        }))
    }

    async fn list_lockouts(&self, now: i64) -> Result<Vec<crate::Block>, StoreError> {
        let rows: Vec<(String, i64, i64, i64, String)> = sqlx::query_as(
            "SELECT user, since, until, strikes, reason FROM lockouts WHERE until > ? \
             ORDER BY since DESC",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing lockouts"))?;
        Ok(rows.into_iter().map(super::block_of).collect())
    }

    async fn events_about(&self, user: &Address, limit: u32) -> Result<Vec<Event>, StoreError> {
        let rows: Vec<super::EventRow> = sqlx::query_as(
            "SELECT time, kind, subject, detail FROM events WHERE subject = ? \
             ORDER BY time DESC, seq DESC LIMIT ?",
        )
        .bind(user.identity())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading a user's events"))?;
        Ok(rows.into_iter().map(super::event).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;
    use palisade_types::Domain;

    #[tokio::test]
    async fn sessions_roles_and_a_users_events() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::TempDir::new()?;
        let store = SqliteStore::open(&dir.path().join("s.db")).await?;
        store.add_domain(&Domain::parse("example.com")?).await?;
        let alice = Address::parse("Alice@example.com")?;
        store.add_user(&alice, "!").await?;
        let s = |id: &str, created| WebSession {
            id_hash: id.into(),
            user: alice.lookup_key(),
            csrf: "t".into(),
            created,
            last_seen: created,
            ip: "192.0.2.1".into(),
        };
        store.put_web_session(&s("a", 100)).await?;
        store.put_web_session(&s("b", 200)).await?;
        assert_eq!(store.web_session("a").await?, Some(s("a", 100)));
        store.touch_web_session("a", 150).await?;
        assert_eq!(store.prune_web_sessions(120, 0).await?, 0, "a was touched");
        assert_eq!(store.prune_web_sessions(0, 150).await?, 1, "a is too old");
        assert!(store.web_session("a").await?.is_none());
        assert_eq!(store.remove_web_sessions(&alice).await?, 1);
        // Removing a user ends their sessions.
        store.put_web_session(&s("c", 300)).await?;

        let flags = |admin, require_2fa| Some(AccountFlags { admin, require_2fa });
        assert_eq!(store.account_flags(&alice).await?, flags(false, false));
        let spelled = Address::parse("alice@example.com")?;
        assert!(store.set_admin(&spelled, true).await?);
        assert!(store.set_require_2fa(&alice, true).await?);
        assert_eq!(store.account_flags(&alice).await?, flags(true, true));
        assert!(
            !store
                .set_admin(&Address::parse("bob@example.com")?, true)
                .await?
        );

        for (time, subject) in [
            (1, "alice@example.com"),
            (2, "bob@example.com"),
            (3, "alice@example.com"),
        ] {
            let e = Event {
                time,
                kind: "web.login".into(),
                subject: subject.into(),
                detail: String::new(),
            };
            store.record_event(&e).await?;
        }
        let times: Vec<i64> = store
            .events_about(&alice, 10)
            .await?
            .iter()
            .map(|e| e.time)
            .collect();
        assert_eq!(times, [3, 1]);

        let key = StoredPasskey {
            credential_id: "cred".into(),
            user: alice.lookup_key(),
            label: "laptop".into(),
            passkey: "{}".into(),
            created: 5,
            last_used: None,
        };
        store.add_passkey(&key).await?;
        assert!(matches!(
            store.add_passkey(&key).await,
            Err(StoreError::AlreadyExists { .. })
        ));
        store.touch_passkey("cred", "{\"n\":1}", 9).await?;
        let keys = store.passkeys(&alice).await?;
        assert_eq!((keys.len(), keys[0].last_used), (1, Some(9)));
        let bob = Address::parse("bob@example.com")?;
        assert!(!store.remove_passkey(&bob, "cred").await?, "not Bob's");

        assert!(store.remove_user(&alice).await?);
        assert!(store.web_session("c").await?.is_none());
        assert!(store.passkeys(&alice).await?.is_empty());
        Ok(())
    }
}
