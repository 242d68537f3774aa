//! Users' OpenPGP keys (RFC 9580): what `palisade user key import` accepts, and
//! encryption to them with rPGP.
//!
//! A key is accepted when every self-signature and subkey binding verifies, it is not
//! revoked or expired, it has a key that may encrypt (a subkey flagged for
//! communications or storage, or such a primary key), and a User ID names one of the
//! user's addresses (RFC 9580 §5.11: by convention `Name <address>`).

use pgp::composed::{
    ArmorOptions, Deserializable, MessageBuilder, SignedPublicKey, SignedPublicSubKey,
};
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::{Signature, SignatureType};
use pgp::ser::Serialize;
use pgp::types::KeyDetails;

/// Why a key is refused (each message says what to fix).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("not an ASCII-armoured OpenPGP public key: {0}")]
    Parse(String),
    #[error("a secret key was given; import the public key (gpg --export --armor)")]
    Secret,
    #[error("a self-signature or subkey binding does not verify: {0}")]
    BadSignature(String),
    #[error("the key is revoked")]
    Revoked,
    #[error("the key expired at {0} (Unix time)")]
    Expired(i64),
    #[error("the key has no valid, unexpired subkey that may encrypt")]
    NoEncryptionKey,
    #[error("no User ID of the key names {wanted}; its User IDs: {found}")]
    NoMatchingUserId { wanted: String, found: String },
}

/// What an accepted key is, for the store and `palisade user key list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Upper-case hex, as gpg prints it.
    pub fingerprint: String,
    pub created: i64,
    /// When the primary key expires (Unix time), if it does.
    pub expires: Option<i64>,
    pub user_ids: Vec<String>,
}

/// A user's OpenPGP public key, checked.
#[derive(Debug, Clone)]
pub struct OpenPgpKey {
    key: SignedPublicKey,
}

/// The newest of some signatures (by creation time).
fn newest<'s>(sigs: impl Iterator<Item = &'s Signature>) -> Option<&'s Signature> {
    sigs.max_by_key(|s| s.created().map(|t| t.as_secs()).unwrap_or(0))
}

/// `created + the signature's key expiration time`, if it sets one (0 means never).
fn expiry(created: u32, sig: Option<&Signature>) -> Option<i64> {
    let d = sig?.key_expiration_time()?.as_secs();
    (d > 0).then(|| i64::from(created) + i64::from(d))
}

/// The address a User ID names: inside `<>` when there are brackets, else the whole.
fn address_of(user_id: &str) -> &str {
    match (user_id.rfind('<'), user_id.rfind('>')) {
        (Some(a), Some(b)) if a < b => &user_id[a + 1..b],
        _ => user_id.trim(),
    }
}

impl OpenPgpKey {
    /// Parses an armoured key and checks it for a user with `addresses`, at `now`.
    pub fn check(
        armored: &str,
        addresses: &[String],
        now: i64,
    ) -> Result<(Self, KeyInfo), KeyError> {
        if armored.contains("PRIVATE KEY BLOCK") {
            return Err(KeyError::Secret);
        }
        let (key, _) = SignedPublicKey::from_armor_single(armored.as_bytes())
            .map_err(|e| KeyError::Parse(e.to_string()))?;
        Self::check_parsed(key, addresses, now)
    }

    /// A key as a Web Key Directory serves it (binary, draft-koch-openpgp-webkey-service
    /// §3.1), checked as [`OpenPgpKey::check`] does for the address it was asked for.
    pub fn check_binary(
        bytes: &[u8],
        addresses: &[String],
        now: i64,
    ) -> Result<(Self, KeyInfo), KeyError> {
        let key = SignedPublicKey::from_bytes(bytes).map_err(|e| KeyError::Parse(e.to_string()))?;
        Self::check_parsed(key, addresses, now)
    }

    fn check_parsed(
        key: SignedPublicKey,
        addresses: &[String],
        now: i64,
    ) -> Result<(Self, KeyInfo), KeyError> {
        key.verify_bindings()
            .map_err(|e| KeyError::BadSignature(e.to_string()))?;
        if !key.details.revocation_signatures.is_empty() {
            return Err(KeyError::Revoked);
        }
        let created = key.primary_key.created_at().as_secs();
        let self_sigs = key
            .details
            .users
            .iter()
            .flat_map(|u| u.signatures.iter())
            .chain(key.details.direct_signatures.iter());
        let expires = expiry(created, newest(self_sigs));
        if let Some(at) = expires
            && at <= now
        {
            return Err(KeyError::Expired(at));
        }
        let user_ids: Vec<String> = key
            .details
            .users
            .iter()
            .map(|u| String::from_utf8_lossy(u.id.id()).into_owned())
            .collect();
        let matches = user_ids.iter().any(|id| {
            addresses
                .iter()
                .any(|a| address_of(id).eq_ignore_ascii_case(a))
        });
        if !matches {
            return Err(KeyError::NoMatchingUserId {
                wanted: addresses.join(", "),
                found: user_ids.join(", "),
            });
        }
        let checked = OpenPgpKey { key };
        if !checked.can_encrypt(now) {
            return Err(KeyError::NoEncryptionKey);
        }
        let info = KeyInfo {
            fingerprint: format!("{:X}", checked.key.fingerprint()),
            created: i64::from(created),
            expires,
            user_ids,
        };
        Ok((checked, info))
    }

    /// Parses a key that was checked before (as stored), without the User ID check.
    pub fn stored(armored: &str) -> Result<Self, KeyError> {
        let (key, _) = SignedPublicKey::from_armor_single(armored.as_bytes())
            .map_err(|e| KeyError::Parse(e.to_string()))?;
        Ok(OpenPgpKey { key })
    }

    /// The key as a Web Key Directory serves it for `address`: binary, with only the
    /// User IDs that name that address (the others are not anyone's business).
    pub fn for_wkd(&self, address: &str) -> Result<Vec<u8>, KeyError> {
        let mut key = self.key.clone();
        key.details.users.retain(|u| {
            address_of(&String::from_utf8_lossy(u.id.id())).eq_ignore_ascii_case(address)
        });
        if key.details.users.is_empty() {
            return Err(KeyError::NoMatchingUserId {
                wanted: address.to_string(),
                found: String::new(),
            });
        }
        key.to_bytes().map_err(|e| KeyError::Parse(e.to_string()))
    }

    pub(crate) fn inner(&self) -> &SignedPublicKey {
        &self.key
    }

    /// The addresses the key's User IDs name.
    pub fn addresses(&self) -> Vec<String> {
        self.key
            .details
            .users
            .iter()
            .map(|u| address_of(&String::from_utf8_lossy(u.id.id())).to_string())
            .collect()
    }

    /// The armoured public key, as gpg writes it.
    pub fn armored(&self) -> Result<String, KeyError> {
        self.key
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| KeyError::Parse(e.to_string()))
    }

    fn can_encrypt(&self, now: i64) -> bool {
        !self.encryption_keys(now).is_empty()
    }

    /// The primary key's newest self-signature (User ID binding or direct-key).
    fn self_signature(&self) -> Option<&Signature> {
        newest(
            self.key
                .details
                .users
                .iter()
                .flat_map(|u| u.signatures.iter())
                .chain(self.key.details.direct_signatures.iter()),
        )
    }

    /// The keys that may encrypt at `now`: subkeys flagged for it by their newest
    /// binding, not revoked, not expired; or the primary key, when its own
    /// self-signature flags it so (older RSA keys often have no subkey).
    fn encryption_keys(&self, now: i64) -> Vec<Target<'_>> {
        let may_encrypt = |s: Option<&Signature>| {
            s.map(|s| s.key_flags())
                .is_some_and(|f| f.encrypt_comms() || f.encrypt_storage())
        };
        let mut keys = Vec::new();
        for sub in &self.key.public_subkeys {
            let revoked = sub
                .signatures
                .iter()
                .any(|s| s.typ() == Some(SignatureType::SubkeyRevocation));
            let binding = newest(
                sub.signatures
                    .iter()
                    .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding)),
            );
            let expired =
                expiry(sub.key.created_at().as_secs(), binding).is_some_and(|at| at <= now);
            if may_encrypt(binding) && !revoked && !expired {
                keys.push(Target::Subkey(sub));
            }
        }
        let primary = self.self_signature();
        let expired = expiry(self.key.primary_key.created_at().as_secs(), primary)
            .is_some_and(|at| at <= now);
        if keys.is_empty() && may_encrypt(primary) && !expired {
            keys.push(Target::Primary(&self.key));
        }
        keys
    }

    /// `data` encrypted to every usable encryption key (SEIPD v1 with AES-256, which
    /// every OpenPGP implementation reads), ASCII-armoured.
    pub fn encrypt(&self, data: &[u8], now: i64) -> Result<String, KeyError> {
        let keys = self.encryption_keys(now);
        if keys.is_empty() {
            return Err(KeyError::NoEncryptionKey);
        }
        let mut rng = rand08::rngs::OsRng;
        let mut builder = MessageBuilder::from_bytes("", data.to_vec())
            .seipd_v1(&mut rng, SymmetricKeyAlgorithm::AES256);
        for k in keys {
            match k {
                Target::Subkey(k) => builder.encrypt_to_key(&mut rng, k),
                Target::Primary(k) => builder.encrypt_to_key(&mut rng, k),
            }
            .map_err(|e| KeyError::Parse(e.to_string()))?;
        }
        builder
            .to_armored_string(rng, ArmorOptions::default())
            .map_err(|e| KeyError::Parse(e.to_string()))
    }
}

/// A key a message is encrypted to.
enum Target<'k> {
    Subkey(&'k SignedPublicSubKey),
    Primary(&'k SignedPublicKey),
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn user_id_addresses() {
        assert_eq!(
            address_of("Alice <alice@example.test>"),
            "alice@example.test"
        );
        assert_eq!(address_of("alice@example.test"), "alice@example.test");
        assert_eq!(address_of("A <b> <c@d>"), "c@d");
    }

    #[test]
    fn garbage_and_secret_keys_are_refused() {
        assert!(matches!(
            OpenPgpKey::check("hello", &[], 0),
            Err(KeyError::Parse(_))
        ));
        assert_eq!(
            OpenPgpKey::check("-----BEGIN PGP PRIVATE KEY BLOCK-----", &[], 0).unwrap_err(),
            KeyError::Secret
        );
    }
}
