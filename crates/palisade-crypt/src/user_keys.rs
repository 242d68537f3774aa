//! A user's public keys as the CLI and the web console both manage them: an imported
//! OpenPGP key or S/MIME certificate is checked against the addresses it may name and
//! kept as checked; the last key cannot go while mail is sealed to it, and sealing
//! cannot start without one.

use crate::openpgp::OpenPgpKey;
use crate::smime::SmimeCert;
use palisade_store::{Store, StoreError, UserKey};
use palisade_types::Address;

/// The largest key text taken (1 MiB).
pub const MAX_KEY_TEXT: usize = 1 << 20;

/// Why an imported key was refused, in words for its owner.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyRefused(pub String);

/// The addresses a key may name for `user`: the user's own and the aliases that deliver
/// to it (a catch-all names no one).
pub async fn addresses_of(store: &dyn Store, user: &Address) -> Result<Vec<String>, StoreError> {
    let mut out = vec![user.to_string()];
    for (source, target) in store.list_aliases().await? {
        let source = source.to_string();
        if target.lookup_key() == user.lookup_key() && !source.starts_with("*@") {
            out.push(source);
        }
    }
    Ok(out)
}

/// `text` (an ASCII-armoured OpenPGP key or a PEM certificate) checked for a user
/// known by `addresses`, as the row to store.
pub fn check(text: &str, addresses: &[String], now: i64) -> Result<UserKey, KeyRefused> {
    let refused = |e: &dyn std::fmt::Display| KeyRefused(e.to_string());
    if text.len() > MAX_KEY_TEXT {
        return Err(KeyRefused("the key is larger than 1 MiB".into()));
    }
    if text.contains("-----BEGIN CERTIFICATE-----") {
        let (cert, info) = SmimeCert::check(text, addresses, now).map_err(|e| refused(&e))?;
        return Ok(UserKey {
            kind: "smime".into(),
            fingerprint: info.fingerprint,
            data: cert.pem().map_err(|e| refused(&e))?,
            user_ids: info.addresses.join("\n"),
            expires: Some(info.expires),
            added: now,
        });
    }
    let (key, info) = OpenPgpKey::check(text, addresses, now).map_err(|e| refused(&e))?;
    Ok(UserKey {
        kind: "openpgp".into(),
        fingerprint: info.fingerprint,
        // Stored as rPGP writes it back: what is kept is what was checked.
        data: key.armored().map_err(|e| refused(&e))?,
        user_ids: info.user_ids.join("\n"),
        expires: info.expires,
        added: now,
    })
}

/// How a removal went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Removed,
    NoSuchKey,
    /// The user's only key while their mail is sealed at rest: kept.
    LastKeySealing,
}

pub async fn remove(
    store: &dyn Store,
    user: &Address,
    fingerprint: &str,
) -> Result<Removal, StoreError> {
    let keys = store.user_keys(user).await?;
    let last = keys.len() == 1 && keys[0].fingerprint.eq_ignore_ascii_case(fingerprint);
    if last && store.encrypt_at_rest(user).await? {
        return Ok(Removal::LastKeySealing);
    }
    Ok(if store.remove_user_key(user, fingerprint).await? {
        Removal::Removed
    } else {
        Removal::NoSuchKey
    })
}

/// How turning encryption at rest on or off went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtRest {
    Done,
    NoKey,
    NoUser,
}

pub async fn set_encrypt_at_rest(
    store: &dyn Store,
    user: &Address,
    on: bool,
) -> Result<AtRest, StoreError> {
    if on && store.user_keys(user).await?.is_empty() {
        return Ok(AtRest::NoKey);
    }
    Ok(if store.set_encrypt_at_rest(user, on).await? {
        AtRest::Done
    } else {
        AtRest::NoUser
    })
}
