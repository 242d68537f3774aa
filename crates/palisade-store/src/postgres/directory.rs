//! [`Directory`] on PostgreSQL.
//!
//! Lists are sorted with `COLLATE "C"`, byte order as SQLite sorts them, whatever
//! the database's own collation.

use super::*;
use crate::Directory;
use crate::alias::catch_all_key;

// `SELECT 1` is an INT4 here, which sqlx will not decode as an `i64`: ask for a bool.
pub(super) const DOMAIN_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM domains WHERE name = $1)";
pub(super) const USER_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM users WHERE address = $1)";
pub(super) const ALIAS_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM aliases WHERE source = $1)";

/// Whether `sql` (one of the `*_EXISTS` above) finds `key`, inside `tx`.
pub(super) async fn exists(
    tx: &mut Transaction<'static, Postgres>,
    sql: &'static str,
    key: &str,
    context: &'static str,
) -> Result<bool, StoreError> {
    sqlx::query_scalar(sql)
        .bind(key)
        .fetch_one(&mut **tx)
        .await
        .map_err(db(context))
}

async fn count(
    tx: &mut Transaction<'static, Postgres>,
    sql: &'static str,
    key: &str,
    context: &'static str,
) -> Result<i64, StoreError> {
    sqlx::query_scalar(sql)
        .bind(key)
        .fetch_one(&mut **tx)
        .await
        .map_err(db(context))
}

#[async_trait::async_trait]
impl Directory for PgStore {
    async fn add_domain(&self, d: &Domain) -> Result<(), StoreError> {
        let result = sqlx::query("INSERT INTO domains (name, created) VALUES ($1, $2)")
            .bind(d.as_str())
            .bind(now())
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => {
                self.changed();
                Ok(())
            }
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists {
                what: format!("domain {d}"),
            }),
            Err(e) => Err(db("adding a domain")(e)),
        }
    }

    async fn remove_domain(&self, d: &Domain) -> Result<bool, StoreError> {
        const CONTEXT: &str = "removing a domain";
        let mut tx = self.write_tx(CONTEXT).await?;
        if !exists(&mut tx, DOMAIN_EXISTS, d.as_str(), CONTEXT).await? {
            return Ok(false);
        }
        let users = count(
            &mut tx,
            "SELECT COUNT(*) FROM users WHERE domain = $1",
            d.as_str(),
            CONTEXT,
        )
        .await?;
        let aliases = count(
            &mut tx,
            "SELECT COUNT(*) FROM aliases WHERE domain = $1",
            d.as_str(),
            CONTEXT,
        )
        .await?;
        if users > 0 || aliases > 0 {
            return Err(StoreError::InUse {
                what: format!("domain {d}"),
                reason: format!("{users} user(s) and {aliases} alias(es) still belong to it"),
            });
        }
        sqlx::query("DELETE FROM domains WHERE name = $1")
            .bind(d.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))?;
        self.changed();
        Ok(true)
    }

    async fn list_domains(&self) -> Result<Vec<Domain>, StoreError> {
        let names: Vec<String> =
            sqlx::query_scalar(r#"SELECT name FROM domains ORDER BY name COLLATE "C""#)
                .fetch_all(&self.pool)
                .await
                .map_err(db("listing domains"))?;
        names.into_iter().map(parse_domain).collect()
    }

    async fn is_local_domain(&self, d: &Domain) -> Result<bool, StoreError> {
        sqlx::query_scalar(DOMAIN_EXISTS)
            .bind(d.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(db("looking up a domain"))
    }

    async fn add_alias(&self, source: &AliasSource, target: &Address) -> Result<(), StoreError> {
        const CONTEXT: &str = "adding an alias";
        let key = source.lookup_key();
        let mut tx = self.write_tx(CONTEXT).await?;
        if !exists(&mut tx, DOMAIN_EXISTS, source.domain().as_str(), CONTEXT).await? {
            return Err(StoreError::UnknownDomain {
                domain: source.domain().clone(),
            });
        }
        if !exists(&mut tx, USER_EXISTS, &target.lookup_key(), CONTEXT).await? {
            return Err(StoreError::UnknownUser {
                address: target.clone(),
            });
        }
        // An exact alias over an existing user would never be used (see add_user).
        if matches!(source, AliasSource::Address(_))
            && exists(&mut tx, USER_EXISTS, &key, CONTEXT).await?
        {
            return Err(StoreError::AlreadyExists {
                what: format!("user {key}"),
            });
        }
        let result = sqlx::query(
            "INSERT INTO aliases (source, domain, target, created) VALUES ($1, $2, $3, $4)",
        )
        .bind(&key)
        .bind(source.domain().as_str())
        .bind(target.lookup_key())
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
                what: format!("alias {key}"),
            }),
            Err(e) => Err(db(CONTEXT)(e)),
        }
    }

    async fn add_forward(&self, source: &Address, target: &Address) -> Result<(), StoreError> {
        const CONTEXT: &str = "adding a forward";
        let mut tx = self.write_tx(CONTEXT).await?;
        if !exists(&mut tx, DOMAIN_EXISTS, source.domain().as_str(), CONTEXT).await? {
            return Err(StoreError::UnknownDomain {
                domain: source.domain().clone(),
            });
        }
        // A target in a local domain must be a mailbox there (a typo would be lost mail).
        if exists(&mut tx, DOMAIN_EXISTS, target.domain().as_str(), CONTEXT).await?
            && !exists(&mut tx, USER_EXISTS, &target.lookup_key(), CONTEXT).await?
        {
            return Err(StoreError::UnknownUser {
                address: target.clone(),
            });
        }
        let result = sqlx::query(
            "INSERT INTO forwards (source, domain, target, created) VALUES ($1, $2, $3, $4)",
        )
        .bind(source.lookup_key())
        .bind(source.domain().as_str())
        .bind(target.lookup_key())
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
                what: format!("forward {} -> {}", source.lookup_key(), target.lookup_key()),
            }),
            Err(e) => Err(db(CONTEXT)(e)),
        }
    }

    async fn remove_forwards(&self, source: &Address) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM forwards WHERE source = $1")
            .bind(source.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("removing forwards"))?;
        self.changed();
        Ok(done.rows_affected())
    }

    async fn forwards(&self, source: &Address) -> Result<Vec<Address>, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar(
            r#"SELECT target FROM forwards WHERE source = $1 ORDER BY target COLLATE "C""#,
        )
        .bind(source.lookup_key())
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading forwards"))?;
        rows.into_iter().map(parse_address).collect()
    }

    async fn list_forwards(&self) -> Result<Vec<(Address, Address)>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            r#"SELECT source, target FROM forwards
               ORDER BY source COLLATE "C", target COLLATE "C""#,
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing forwards"))?;
        rows.into_iter()
            .map(|(s, t)| Ok((parse_address(s)?, parse_address(t)?)))
            .collect()
    }

    async fn put_srs_address(&self, id: &str, original: &str, now: i64) -> Result<(), StoreError> {
        const CONTEXT: &str = "recording an SRS address";
        let mut tx = self.write_tx(CONTEXT).await?;
        sqlx::query("DELETE FROM srs_addresses WHERE created < $1")
            .bind(now - 30 * DAY)
            .execute(&mut *tx)
            .await
            .map_err(db(CONTEXT))?;
        sqlx::query(
            "INSERT INTO srs_addresses (id, original, created) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET original = EXCLUDED.original, \
             created = EXCLUDED.created",
        )
        .bind(id)
        .bind(original)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db(CONTEXT))?;
        tx.commit().await.map_err(db(CONTEXT))
    }

    async fn srs_address(&self, id: &str) -> Result<Option<(String, i64)>, StoreError> {
        sqlx::query_as("SELECT original, created FROM srs_addresses WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading an SRS address"))
    }

    async fn remove_alias(&self, source: &AliasSource) -> Result<bool, StoreError> {
        let removed = sqlx::query("DELETE FROM aliases WHERE source = $1")
            .bind(source.lookup_key())
            .execute(&self.pool)
            .await
            .map_err(db("removing an alias"))?
            .rows_affected();
        if removed > 0 {
            self.changed();
        }
        Ok(removed > 0)
    }

    async fn list_aliases(&self) -> Result<Vec<(AliasSource, Address)>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as(r#"SELECT source, target FROM aliases ORDER BY source COLLATE "C""#)
                .fetch_all(&self.pool)
                .await
                .map_err(db("listing aliases"))?;
        rows.into_iter()
            .map(|(source, target)| {
                let source = AliasSource::parse(&source).map_err(|_| StoreError::Corrupt {
                    what: "alias source",
                    value: source,
                })?;
                Ok((source, parse_address(target)?))
            })
            .collect()
    }

    async fn resolve_recipient(&self, rcpt: &Address) -> Result<Option<Address>, StoreError> {
        let key = rcpt.lookup_key();
        // One statement, so the three lookups see the same snapshot; `rank`
        // encodes the precedence user > exact alias > catch-all.
        let mailbox: Option<String> = sqlx::query_scalar(
            "SELECT mailbox FROM (
                 SELECT address AS mailbox, 0 AS rank FROM users WHERE address = $1
                 UNION ALL SELECT target, 1 FROM aliases WHERE source = $1
                 UNION ALL SELECT target, 2 FROM aliases WHERE source = $2
             ) AS found ORDER BY rank LIMIT 1",
        )
        .bind(key)
        .bind(catch_all_key(rcpt.domain()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db("resolving a recipient"))?;
        mailbox.map(parse_address).transpose()
    }

    async fn resolve_exact(&self, rcpt: &Address) -> Result<Option<Address>, StoreError> {
        let mailbox: Option<String> = sqlx::query_scalar(
            "SELECT mailbox FROM (
                 SELECT address AS mailbox, 0 AS rank FROM users WHERE address = $1
                 UNION ALL SELECT target, 1 FROM aliases WHERE source = $1
             ) AS found ORDER BY rank LIMIT 1",
        )
        .bind(rcpt.lookup_key())
        .fetch_optional(&self.pool)
        .await
        .map_err(db("resolving a recipient exactly"))?;
        mailbox.map(parse_address).transpose()
    }
}
