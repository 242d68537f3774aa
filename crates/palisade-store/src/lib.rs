//! Palisade's persistent state, one trait per concern.
//!
//! - [`Store`] is everything the rest of Palisade may ask of storage, as one trait per
//!   concern, each in its own file: [`Accounts`] (users and their credentials),
//!   [`Directory`] (domains, aliases, recipient resolution), [`Keys`] (DKIM, OpenPGP,
//!   S/MIME, encryption policies, secrets), [`Security`] (failures, lockouts, bans,
//!   rate counts, quotas), [`QueueState`] (the scheduler's bookkeeping), [`Reports`]
//!   (DMARC and TLS-RPT), [`History`] (audit trail, correspondents, learning),
//!   [`Nodes`] (the nodes sharing the store), [`ConsoleStore`] (the web console) and
//!   [`DashboardStore`] (its counters). Policy
//!   crates take a `&dyn Store` (or an `Arc<dyn Store>`, or one concern's trait) and
//!   never name a backend; only the binary picks one. `use palisade_store::prelude::*`
//!   brings every concern's methods into scope.
//! - [`SqliteStore`] is the embedded backend: one SQLite file in WAL mode, its
//!   schema created or upgraded at [`SqliteStore::open`]. A PostgreSQL backend
//!   for multi-node setups will implement the same trait.
//! - [`StoreError`] separates refused requests (already exists, unknown domain or
//!   user, in use) from broken machinery (database, corrupt data).
//!
//! Message bodies never live here (the spool holds them), which is why the
//! SQLite backend can trade the last transactions before a power cut for speed.
//!
//! Addresses are stored by [`Address::lookup_key`] (local part lower-cased) and
//! handed back re-parsed, so every lookup is case-insensitive and every address
//! returned is in that canonical form.

mod accounts;
mod alias;
pub mod cache;
pub mod console;
pub mod copy;
pub mod dashboard;
mod directory;
mod error;
mod history;
mod keys;
mod nodes;
mod postgres;
mod quarantine;
mod queue;
mod reports;
mod rows;
mod seal;
mod security;
mod sqlite;

pub use accounts::{Accounts, AppPassword, TotpState, User};
pub use directory::Directory;
pub use history::{Event, History, Lesson, SiteCounts};
pub use keys::{DkimKey, Keys, SigningKey, UserKey};
pub use nodes::{NodeStatus, Nodes};
pub use quarantine::{HeldMessage, QuarantineStore};
pub use queue::{QueueState, QueueStatus};
pub use reports::{DmarcEvaluation, ReceivedReport, Reports, StsPolicyRow, TlsResultRow};
pub use security::{Block, Security};

pub use alias::AliasSource;
pub use cache::{LookupCache, Sealing};
pub use console::{AccountFlags, ConsoleStore, StoredPasskey, WebSession};
pub use dashboard::{DashboardStore, HourlyCount, Tally};
pub use error::StoreError;
pub use postgres::{PgStore, redacted};
pub use seal::{Secret, SecretError};
pub use sqlite::SqliteStore;

/// Every concern's trait, so that their methods can be called on a `dyn Store`.
pub mod prelude {
    pub use crate::{
        Accounts, ConsoleStore, DashboardStore, Directory, History, Keys, Nodes, QuarantineStore,
        QueueState, Reports, Security, Store,
    };
}

/// Storage as the rest of Palisade sees it: every concern's trait, on one backend.
/// Every method is one atomic change or one consistent read; refusals are
/// [`StoreError`] variants naming the culprit.
#[async_trait::async_trait]
pub trait Store:
    Accounts
    + Directory
    + Keys
    + Security
    + QueueState
    + QuarantineStore
    + Reports
    + History
    + Nodes
    + ConsoleStore
    + DashboardStore
    + Send
    + Sync
    + 'static
{
    /// A number that grows whenever a domain, user, alias, forward or key changes
    /// through this store, so that [`LookupCache`] entries read before the change are
    /// never served after it. Changes made by another process (the CLI) do not move it;
    /// the cache's [`LookupCache::TTL`] bounds how long those take to be seen.
    fn generation(&self) -> u64;

    /// A number that grows when another node may have changed the bans (PostgreSQL:
    /// its notifications), so a node reloads its copy at once rather than at its next
    /// periodic refresh. The embedded store has no other nodes: it never moves.
    fn bans_generation(&self) -> u64 {
        0
    }

    /// The last schema step applied (the highest version in `_sqlx_migrations`).
    async fn schema_version(&self) -> Result<i64, StoreError>;
}
