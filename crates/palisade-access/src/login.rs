//! Checking a login: Argon2id on the blocking pool, a bounded number at once, and the
//! same work for unknown users as for known ones (no enumeration by timing).

use crate::{hash_password, verify_password};
use palisade_store::Store;
use palisade_types::Address;
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

/// Argon2id runs at once (each takes ~19 MiB and tens of milliseconds): a flood of AUTH
/// attempts queues here instead of starving the server.
const CONCURRENT_HASHES: usize = 4;

fn permits() -> &'static Semaphore {
    static P: OnceLock<Semaphore> = OnceLock::new();
    P.get_or_init(|| Semaphore::new(CONCURRENT_HASHES))
}

/// A hash of a random password, verified against for unknown users.
fn dummy_hash() -> &'static str {
    static D: OnceLock<String> = OnceLock::new();
    D.get_or_init(|| hash_password("palisade-dummy-password-for-unknown-users").unwrap_or_default())
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("account store")]
    Store(#[from] palisade_store::StoreError),
    #[error("password check task failed")]
    Task,
}

/// The user, if `password` is theirs. Unknown users, locked accounts (hash `!`) and
/// wrong passwords all give `Ok(None)` after the same Argon2id work.
pub async fn check(
    store: &Arc<dyn Store>,
    username: &str,
    password: &str,
) -> Result<Option<Address>, LoginError> {
    let user = Address::parse(username).ok();
    let stored = match &user {
        Some(u) => store.password_hash(u).await?,
        None => None,
    };
    let (hash, known) = match stored {
        Some(h) if h.starts_with("$argon2") => (h, true),
        _ => (dummy_hash().to_string(), false),
    };
    let _permit = permits().acquire().await.map_err(|_| LoginError::Task)?;
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
        .await
        .map_err(|_| LoginError::Task)?;
    Ok(if ok && known { user } else { None })
}
