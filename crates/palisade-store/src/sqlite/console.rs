//! [`ConsoleStore`] on SQLite (tables `web_sessions`, `users.admin`).

use super::SqliteStore;
use crate::console::{ConsoleStore, WebSession};
use crate::error::db;
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

#[async_trait::async_trait]
impl ConsoleStore for SqliteStore {
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

    async fn is_admin(&self, user: &Address) -> Result<bool, StoreError> {
        let admin: Option<i64> = sqlx::query_scalar("SELECT admin FROM users WHERE address = ?")
            .bind(user.lookup_key())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading the administrator role"))?;
        Ok(admin == Some(1))
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
    use crate::Store;
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

        assert!(!store.is_admin(&alice).await?);
        assert!(
            store
                .set_admin(&Address::parse("alice@example.com")?, true)
                .await?
        );
        assert!(store.is_admin(&alice).await?);
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

        assert!(store.remove_user(&alice).await?);
        assert!(store.web_session("c").await?.is_none());
        Ok(())
    }
}
