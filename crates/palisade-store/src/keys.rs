//! Keys and when to use them: DKIM keys of local domains, users' OpenPGP keys
//! and S/MIME signing identities, encryption policies (at rest and outbound), and the
//! installation's own secrets.

use palisade_types::{Address, Domain};

use crate::StoreError;

/// A user's S/MIME signing identity, as imported by `palisade user signing import`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// The certificate and any intermediates, PEM.
    pub certificate: String,
    /// The PKCS #8 private key, PEM (sealed with the secret key in the store).
    pub private_key: String,
    /// SHA-256 of the certificate, upper-case hex.
    pub fingerprint: String,
    /// When the certificate expires (Unix time).
    pub expires: i64,
    pub added: i64,
}

/// A user's public key, as imported (checked) by `palisade user key import`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserKey {
    /// `openpgp` (S/MIME certificates will be `smime`).
    pub kind: String,
    /// Upper-case hex.
    pub fingerprint: String,
    /// The key, ASCII-armoured.
    pub data: String,
    /// The key's User IDs, one per line.
    pub user_ids: String,
    /// When it expires (Unix time), if it does.
    pub expires: Option<i64>,
    pub added: i64,
}

/// A DKIM key of a local domain. `state`: `active` (signs), `pending` (published,
/// not yet signing: rotation), `retired`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimKey {
    pub domain: Domain,
    pub selector: String,
    /// `ed25519` or `rsa`.
    pub algorithm: String,
    /// Base64 PKCS#8 (sealed with the secret key in the store).
    pub private_key: String,
    /// Base64, the DNS `p=` value.
    pub public_key: String,
    pub state: String,
    pub created: i64,
}

#[async_trait::async_trait]
pub trait Keys: Send + Sync {
    /// Adds (or replaces, by fingerprint) a public key of a user; false if there is no
    /// such user. The key was checked by the caller.
    async fn add_user_key(&self, a: &Address, key: &UserKey) -> Result<bool, StoreError>;

    /// A user's keys, oldest first.
    async fn user_keys(&self, a: &Address) -> Result<Vec<UserKey>, StoreError>;

    /// True if there was one.
    async fn remove_user_key(&self, a: &Address, fingerprint: &str) -> Result<bool, StoreError>;

    /// Turns encryption at rest on or off for a user; false if there is no such user.
    async fn set_encrypt_at_rest(&self, a: &Address, on: bool) -> Result<bool, StoreError>;

    /// Whether a user's mail is encrypted before it is stored.
    async fn encrypt_at_rest(&self, a: &Address) -> Result<bool, StoreError>;

    /// Turns a domain's default on or off: its users' mail is encrypted to their key
    /// when they have one. False if there is no such domain.
    async fn set_domain_encrypt_at_rest(&self, d: &Domain, on: bool) -> Result<bool, StoreError>;

    /// A domain's default for encryption at rest.
    async fn domain_encrypt_at_rest(&self, d: &Domain) -> Result<bool, StoreError>;

    /// Sets a user's outbound encryption policy (`None`: their domain's); false if
    /// there is no such user.
    async fn set_outbound_encryption(
        &self,
        a: &Address,
        policy: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Sets a domain's outbound encryption policy; false if there is no such domain.
    async fn set_domain_outbound_encryption(
        &self,
        d: &Domain,
        policy: &str,
    ) -> Result<bool, StoreError>;

    /// The outbound encryption policy for mail `a` submits: theirs, else their domain's.
    async fn outbound_encryption(&self, a: &Address) -> Result<Option<String>, StoreError>;

    /// Sets (or replaces) a user's S/MIME signing identity; false if there is no such
    /// user.
    async fn put_signing_key(&self, a: &Address, key: &SigningKey) -> Result<bool, StoreError>;

    async fn signing_key(&self, a: &Address) -> Result<Option<SigningKey>, StoreError>;

    /// True if there was one.
    async fn remove_signing_key(&self, a: &Address) -> Result<bool, StoreError>;

    /// The secret of this installation called `name`: `fresh` (random bytes from the
    /// caller) the first time, the stored one ever after.
    async fn server_secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError>;

    /// [`StoreError::AlreadyExists`] for an existing (domain, selector).
    async fn add_dkim_key(&self, k: &DkimKey) -> Result<(), StoreError>;

    /// Keys of one domain or all, oldest first.
    async fn list_dkim_keys(&self, domain: Option<&Domain>) -> Result<Vec<DkimKey>, StoreError>;

    async fn set_dkim_key_state(
        &self,
        domain: &Domain,
        selector: &str,
        state: &str,
    ) -> Result<bool, StoreError>;
}
