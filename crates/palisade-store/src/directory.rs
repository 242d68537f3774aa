//! Local domains, aliases, groups and forwards, recipient resolution and SRS
//! addresses: what a recipient address means here.

use palisade_types::{Address, Domain};

use crate::AliasSource;

use crate::StoreError;

#[async_trait::async_trait]
pub trait Directory: Send + Sync {
    /// Makes `d` a local domain. [`StoreError::AlreadyExists`] if it already is.
    async fn add_domain(&self, d: &Domain) -> Result<(), StoreError>;

    /// Removes a local domain; `false` if it was not one. Refused with
    /// [`StoreError::InUse`] while users or aliases still belong to it, so that
    /// removing a domain never silently deletes mailboxes.
    async fn remove_domain(&self, d: &Domain) -> Result<bool, StoreError>;

    /// All local domains, sorted.
    async fn list_domains(&self) -> Result<Vec<Domain>, StoreError>;

    async fn is_local_domain(&self, d: &Domain) -> Result<bool, StoreError>;

    /// Points `source` at the user `target`.
    /// [`StoreError::UnknownDomain`] if the source's domain is not local,
    /// [`StoreError::UnknownUser`] if `target` is not a user,
    /// [`StoreError::AlreadyExists`] if the source is already an alias or a user.
    async fn add_alias(&self, source: &AliasSource, target: &Address) -> Result<(), StoreError>;

    /// Adds `target` to the addresses `source` (in a local domain) delivers to: a group
    /// member or a forward elsewhere. [`StoreError::UnknownDomain`] if the source's
    /// domain is not local, [`StoreError::UnknownUser`] if the target is in a local
    /// domain but no user there, [`StoreError::AlreadyExists`] for a pair already there.
    async fn add_forward(&self, source: &Address, target: &Address) -> Result<(), StoreError>;

    /// Removes every target of `source`; how many there were.
    async fn remove_forwards(&self, source: &Address) -> Result<u64, StoreError>;

    /// The targets of `source` (by [`Address::lookup_key`]), sorted; empty if none.
    async fn forwards(&self, source: &Address) -> Result<Vec<Address>, StoreError>;

    /// Every (source, target) pair, sorted.
    async fn list_forwards(&self) -> Result<Vec<(Address, Address)>, StoreError>;

    /// Remembers the original reverse-path behind a short SRS address `id` (and forgets
    /// those older than 30 days).
    async fn put_srs_address(&self, id: &str, original: &str, now: i64) -> Result<(), StoreError>;

    /// The original reverse-path behind `id` and when it was made, if known.
    async fn srs_address(&self, id: &str) -> Result<Option<(String, i64)>, StoreError>;

    /// Removes an alias; `false` if there was none.
    async fn remove_alias(&self, source: &AliasSource) -> Result<bool, StoreError>;

    /// All aliases with their targets, sorted by source.
    async fn list_aliases(&self) -> Result<Vec<(AliasSource, Address)>, StoreError>;

    /// The user mailbox a recipient delivers to: an exact user, else an exact
    /// alias, else the domain's catch-all, else None. Case-insensitive on the
    /// local part (it compares [`Address::lookup_key`]s).
    async fn resolve_recipient(&self, rcpt: &Address) -> Result<Option<Address>, StoreError>;

    /// Like [`Directory::resolve_recipient`] without the catch-all: a user, or an exact
    /// alias (what a group address delivers to besides its members).
    async fn resolve_exact(&self, rcpt: &Address) -> Result<Option<Address>, StoreError>;
}
