//! Secrets the store must not hold in clear: DKIM private keys, users' S/MIME signing
//! keys and TOTP seeds are sealed (AES-256-GCM through aws-lc-rs) under the
//! installation's 32-byte secret key, which lives outside the store: a file (mode 0600)
//! or `PALISADE_SECRET_KEY`. A dump of the database, or a copy of the SQLite file, then
//! yields no usable key without it; every node of a cluster is given the same key.
//!
//! Sealed form: a version byte (1), a 96-bit random nonce, the ciphertext and the tag.
//! The associated data names what was sealed and for whom ([`context`]), so a sealed
//! value moved to another user's or domain's row does not open. In a text column the
//! sealed bytes are written as [`TEXT_PREFIX`] and base64; a value without the prefix is
//! one an older release stored in clear, which opening the store seals ([`check_key`]
//! and the backends' `with_secret`).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::io::Write;
use std::path::Path;

use crate::{Keys, StoreError};

const VERSION: u8 = 1;
const KEY_LEN: usize = 32;

/// The installation's secret key. Its `Debug` form never shows the key.
pub struct Secret(LessSafeKey);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{0}: not a 32-byte secret")]
    Malformed(String),
    #[error("{0}: not 32 bytes in base64 (make one with `openssl rand -base64 32`)")]
    Encoding(&'static str),
    #[error(
        "the sealed value does not open with this server's secret (another server's, or damaged)"
    )]
    Open,
}

impl Secret {
    /// The key `bytes` are, if they are 32 bytes.
    fn from_key(bytes: &[u8]) -> Option<Secret> {
        if bytes.len() != KEY_LEN {
            return None;
        }
        let key = UnboundKey::new(&AES_256_GCM, bytes).ok()?;
        Some(Secret(LessSafeKey::new(key)))
    }

    fn from_bytes(bytes: &[u8], path: &Path) -> Result<Secret, SecretError> {
        Self::from_key(bytes).ok_or_else(|| SecretError::Malformed(path.display().to_string()))
    }

    /// A key given as text (`PALISADE_SECRET_KEY`, named by `from`): 32 bytes in base64.
    pub fn from_base64(text: &str, from: &'static str) -> Result<Secret, SecretError> {
        let bytes = BASE64.decode(text.trim()).unwrap_or_default();
        Self::from_key(&bytes).ok_or(SecretError::Encoding(from))
    }

    /// Reads the secret at `path`.
    pub fn load(path: &Path) -> Result<Secret, SecretError> {
        let io = |error| SecretError::Io {
            path: path.display().to_string(),
            error,
        };
        let bytes = std::fs::read(path).map_err(io)?;
        Self::from_bytes(&bytes, path)
    }

    /// Reads the secret at `path`, making it first if there is none (owner-only, synced).
    pub fn load_or_create(path: &Path) -> Result<Secret, SecretError> {
        use std::os::unix::fs::OpenOptionsExt;
        let io = |error| SecretError::Io {
            path: path.display().to_string(),
            error,
        };
        let mut bytes = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| io(std::io::Error::other("no randomness")))?;
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        match created {
            Ok(mut f) => {
                f.write_all(&bytes)
                    .and_then(|()| f.sync_all())
                    .map_err(io)?;
                Self::from_bytes(&bytes, path)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load(path),
            Err(e) => Err(io(e)),
        }
    }

    /// `plain` sealed, bound to `context` (say `signing-key:alice@example.org`).
    pub fn seal(&self, plain: &[u8], context: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        // The system generator does not fail on Linux; a zero nonce would still be
        // unique per sealed value in practice, but is never used: fail loudly instead.
        SystemRandom::new()
            .fill(&mut nonce)
            .unwrap_or_else(|_| panic!("the system random generator failed"));
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plain.len() + 16);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        let mut body = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut body,
            )
            .unwrap_or_else(|_| panic!("AES-GCM sealing of {} bytes failed", plain.len()));
        out.extend_from_slice(&body);
        out
    }

    /// What [`Secret::seal`] sealed with the same `context`.
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, SecretError> {
        let [VERSION, rest @ ..] = sealed else {
            return Err(SecretError::Open);
        };
        if rest.len() < NONCE_LEN {
            return Err(SecretError::Open);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretError::Open)?;
        let mut body = body.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut body)
            .map_err(|_| SecretError::Open)?;
        Ok(plain.to_vec())
    }
}

/// What marks a sealed value in a text column.
pub(crate) const TEXT_PREFIX: &str = "sealed1:";

impl Secret {
    /// `plain` sealed for a text column.
    pub(crate) fn seal_text(&self, plain: &str, context: &str) -> String {
        format!(
            "{TEXT_PREFIX}{}",
            BASE64.encode(self.seal(plain.as_bytes(), context))
        )
    }

    /// What [`Secret::seal_text`] sealed; `what` names the column for the error.
    pub(crate) fn open_text(
        &self,
        stored: &str,
        context: &str,
        what: &'static str,
    ) -> Result<String, StoreError> {
        let unsealable = || StoreError::Unsealable { what };
        let sealed = stored
            .strip_prefix(TEXT_PREFIX)
            .and_then(|b64| BASE64.decode(b64).ok())
            .ok_or_else(unsealable)?;
        let plain = self.open(&sealed, context).map_err(|_| unsealable())?;
        String::from_utf8(plain).map_err(|_| unsealable())
    }

    /// What [`Secret::seal`] sealed, for a store error naming `what`.
    pub(crate) fn open_bytes(
        &self,
        sealed: &[u8],
        context: &str,
        what: &'static str,
    ) -> Result<Vec<u8>, StoreError> {
        self.open(sealed, context)
            .map_err(|_| StoreError::Unsealable { what })
    }
}

/// True if `stored` (a text column) was sealed, not stored in clear by an older release.
pub(crate) fn is_sealed_text(stored: &str) -> bool {
    stored.starts_with(TEXT_PREFIX)
}

/// The key a store seals with, or the refusal when it was opened without one.
pub(crate) fn required(secret: &Option<std::sync::Arc<Secret>>) -> Result<&Secret, StoreError> {
    secret.as_deref().ok_or(StoreError::NoSecret)
}

/// What each kind of sealed value is bound to: its kind and its row's key.
pub(crate) mod context {
    use palisade_types::Address;

    pub(crate) fn dkim(domain: &str, selector: &str) -> String {
        format!("palisade dkim key {selector}._domainkey.{domain}")
    }

    pub(crate) fn totp(user_key: &str) -> String {
        format!("palisade totp seed for {user_key}")
    }

    /// The form S/MIME signing keys were sealed with before the store sealed them.
    pub(crate) fn signing(user: &Address) -> String {
        format!("palisade signing key for {}", user.lookup_key())
    }
}

/// The name of the key check in `server_secrets`: a constant sealed with the key the
/// store's values are sealed with.
const KEY_CHECK: &str = "secret-key-check";
const KEY_CHECK_PLAIN: &[u8] = b"palisade secret key check";

/// Makes sure `secret` is the key this store's values are sealed with: the first key a
/// store is opened with is recorded (as a sealed constant) and any other is refused
/// ([`StoreError::WrongSecret`]), so a node given another key stops at start rather
/// than fail on every DKIM signature.
pub(crate) async fn check_key(store: &dyn Keys, secret: &Secret) -> Result<(), StoreError> {
    let fresh = secret.seal(KEY_CHECK_PLAIN, KEY_CHECK);
    let recorded = store.server_secret(KEY_CHECK, &fresh).await?;
    match secret.open(&recorded, KEY_CHECK) {
        Ok(plain) if plain == KEY_CHECK_PLAIN => Ok(()),
        _ => Err(StoreError::WrongSecret),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_secret_and_context() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("secret");
        let s = Secret::load_or_create(&path).expect("created");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let sealed = s.seal(b"private key", "signing-key:a@example.org");
        assert!(!sealed.windows(11).any(|w| w == b"private key"));
        // The same file again (a restart): the same secret.
        let again = Secret::load_or_create(&path).expect("loaded");
        assert_eq!(
            again
                .open(&sealed, "signing-key:a@example.org")
                .expect("opens"),
            b"private key"
        );
        assert!(again.open(&sealed, "signing-key:b@example.org").is_err());
        let other = Secret::load_or_create(&dir.path().join("other")).expect("other");
        assert!(other.open(&sealed, "signing-key:a@example.org").is_err());
        let mut damaged = sealed.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert!(s.open(&damaged, "signing-key:a@example.org").is_err());
        assert!(s.open(&[], "x").is_err());
        std::fs::write(&path, b"short").expect("write");
        assert!(matches!(
            Secret::load(&path),
            Err(SecretError::Malformed(_))
        ));
    }
}
