//! What the web console keeps: its sessions (server-side, shared by every node) and
//! the administrator role. A concern of its own, as a sub-trait of [`crate::Store`].

use crate::{Event, StoreError};
use palisade_types::Address;

/// One signed-in browser. The cookie carries a random 256-bit id; only its SHA-256
/// ([`WebSession::id_hash`]) is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    pub id_hash: String,
    /// The user's [`Address::lookup_key`].
    pub user: String,
    /// The token every state-changing form of this session must carry.
    pub csrf: String,
    pub created: i64,
    pub last_seen: i64,
    /// The address the session was opened from.
    pub ip: String,
}

/// A user's passkey (WebAuthn credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// The credential id, base64url.
    pub credential_id: String,
    /// The user's [`Address::lookup_key`].
    pub user: String,
    pub label: String,
    /// The verifier's record of it (JSON): public key, counter, backup state.
    pub passkey: String,
    pub created: i64,
    pub last_used: Option<i64>,
}

/// What the console needs to know of an account on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountFlags {
    /// The administrator role.
    pub admin: bool,
    /// An administrator requires two-factor of this user.
    pub require_2fa: bool,
}

#[async_trait::async_trait]
pub trait ConsoleStore: Send + Sync {
    /// Fails with [`StoreError::AlreadyExists`] if the credential is registered.
    async fn add_passkey(&self, p: &StoredPasskey) -> Result<(), StoreError>;
    async fn passkeys(&self, user: &Address) -> Result<Vec<StoredPasskey>, StoreError>;
    /// After a login with it: the verifier's updated record and the time.
    async fn touch_passkey(
        &self,
        credential_id: &str,
        passkey: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    async fn remove_passkey(&self, user: &Address, credential_id: &str)
    -> Result<bool, StoreError>;
    async fn put_web_session(&self, s: &WebSession) -> Result<(), StoreError>;
    async fn web_session(&self, id_hash: &str) -> Result<Option<WebSession>, StoreError>;
    async fn touch_web_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError>;
    /// Ends one session; false if there was none.
    async fn remove_web_session(&self, id_hash: &str) -> Result<bool, StoreError>;
    /// Ends every session of `user` ("log out everywhere", a password change).
    async fn remove_web_sessions(&self, user: &Address) -> Result<u64, StoreError>;
    /// Drops sessions idle since before `idle_before` or opened before `opened_before`.
    async fn prune_web_sessions(
        &self,
        idle_before: i64,
        opened_before: i64,
    ) -> Result<u64, StoreError>;
    /// Gives or takes the administrator role; false if there is no such user.
    async fn set_admin(&self, user: &Address, admin: bool) -> Result<bool, StoreError>;
    /// Requires (or stops requiring) two-factor of `user`; false if there is no such user.
    async fn set_require_2fa(&self, user: &Address, on: bool) -> Result<bool, StoreError>;
    /// The user's role and duties; `None` if there is no such user.
    async fn account_flags(&self, user: &Address) -> Result<Option<AccountFlags>, StoreError>;
    /// Accounts locked at `now`, the newest lock first.
    async fn list_lockouts(&self, now: i64) -> Result<Vec<crate::Block>, StoreError>;
    /// The newest `limit` security events about `user`.
    async fn events_about(&self, user: &Address, limit: u32) -> Result<Vec<Event>, StoreError>;
}
