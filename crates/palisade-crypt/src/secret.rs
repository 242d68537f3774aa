//! The server's secret for what the store must not hold in clear (users' S/MIME
//! signing keys): 32 random bytes in a file of the data directory (mode 0600), used as
//! an AES-256-GCM key through aws-lc-rs. A copy of the store (a backup, a dump of a
//! remote database) then reveals no private key without that file.
//!
//! Sealed form: a version byte (1), a 96-bit random nonce, the ciphertext and the tag.
//! The associated data names what was sealed and for whom, so a sealed value moved to
//! another user's row does not open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use std::io::Write;
use std::path::Path;

const VERSION: u8 = 1;
const KEY_LEN: usize = 32;

pub struct Secret(LessSafeKey);

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{0}: not a 32-byte secret")]
    Malformed(String),
    #[error(
        "the sealed value does not open with this server's secret (another server's, or damaged)"
    )]
    Open,
}

impl Secret {
    fn from_bytes(bytes: &[u8], path: &Path) -> Result<Secret, SecretError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| SecretError::Malformed(path.display().to_string()))?;
        Ok(Secret(LessSafeKey::new(key)))
    }

    /// Reads the secret at `path`.
    pub fn load(path: &Path) -> Result<Secret, SecretError> {
        let io = |error| SecretError::Io {
            path: path.display().to_string(),
            error,
        };
        let bytes = std::fs::read(path).map_err(io)?;
        if bytes.len() != KEY_LEN {
            return Err(SecretError::Malformed(path.display().to_string()));
        }
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
