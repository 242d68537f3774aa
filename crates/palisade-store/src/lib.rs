//! Palisade's persistent state behind one trait.
//!
//! - [`Store`] is everything the rest of Palisade may ask of storage: local
//!   domains, users and their password hashes, aliases ([`AliasSource`] to user),
//!   recipient resolution, per-message queue bookkeeping ([`QueueStatus`]) and an
//!   audit trail of [`Event`]s. Policy crates take a `&dyn Store` (or an
//!   `Arc<dyn Store>`) and never name a backend; only the binary picks one.
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

mod alias;
pub mod cache;
pub mod console;
pub mod dashboard;
mod error;
mod sqlite;

pub use alias::AliasSource;
pub use cache::{LookupCache, Sealing};
pub use console::{AccountFlags, ConsoleStore, StoredPasskey, WebSession};
pub use dashboard::{DashboardStore, HourlyCount, Tally};
pub use error::StoreError;
pub use sqlite::SqliteStore;

use palisade_types::{Address, AppScope, Domain, MessageLabel, QueueId};

/// A person's decision about one message, for the per-site model.
#[derive(Debug, Clone, PartialEq)]
pub struct Lesson {
    /// Names the message (the SHA-256 of its body, hex): one decision per message.
    pub digest: String,
    pub label: MessageLabel,
    /// Who decided (`admin`, or a user's address).
    pub who: String,
    /// How much the decision counts (an administrator's more than a user's).
    pub weight: f64,
    pub time: i64,
    /// The message's content-model features.
    pub buckets: Vec<u32>,
}

/// The per-site model's counts: weighted decisions per label (in
/// [`MessageLabel::index`] order), and per feature bucket those of each label that
/// had it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteCounts {
    pub totals: [f64; 3],
    pub counts: Vec<(u32, [f64; 3])>,
}

/// A mailbox owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub address: Address,
    /// When the user was added, in seconds since the Unix epoch.
    pub created: i64,
    /// The user's display name ("" if not set); protected from impersonation.
    pub name: String,
}

/// The scheduler's bookkeeping for one spooled message; the message itself is
/// in the spool under the same [`QueueId`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStatus {
    pub id: QueueId,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// When to try next, in seconds since the Unix epoch.
    pub next_attempt: i64,
    /// The last transient failure, for `queue` listings and the eventual DSN.
    pub last_error: Option<String>,
    /// Recipients already delivered, so a retry never delivers twice.
    pub delivered: Vec<String>,
    /// When this record was last written, in seconds since the Unix epoch.
    pub updated: i64,
}

/// One line of the audit trail (admin changes, security events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Seconds since the Unix epoch.
    pub time: i64,
    /// A short machine-readable category, e.g. `user.add` or `auth.fail`.
    pub kind: String,
    /// Who or what the event is about, e.g. an address or a domain.
    pub subject: String,
    /// Free text for humans.
    pub detail: String,
}

/// A temporary block: an account that may not log in (`key` is the username as typed,
/// lower case, so unknown names lock the same way and reveal nothing), or an address
/// refused at connect (`key` is the IP). `strikes` counts blocks in a row: each lasts
/// twice as long as the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub key: String,
    pub since: i64,
    pub until: i64,
    pub strikes: u32,
    pub reason: String,
}

/// A user's S/MIME signing identity, as imported by `palisade user signing import`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// The certificate and any intermediates, PEM.
    pub certificate: String,
    /// The PKCS #8 private key, sealed with the server's secret.
    pub sealed_key: Vec<u8>,
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

/// A user's TOTP seed (base32) and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpState {
    pub secret: String,
    /// Confirmed with a code; until then SMTP AUTH still takes the account password.
    pub enabled: bool,
    /// The last time step accepted (-1: none).
    pub last_step: i64,
}

/// A password for one mail client, generated by Palisade and stored as SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPassword {
    pub id: i64,
    /// The owner's lookup key.
    pub user: String,
    pub label: String,
    pub hash: String,
    /// The one service it opens.
    pub scope: AppScope,
    pub expires: Option<i64>,
    /// Only from this network (CIDR), when set.
    pub from_net: Option<String>,
    pub created: i64,
    pub last_used: Option<i64>,
    pub last_ip: Option<String>,
}

/// A cached MTA-STS policy of another domain (RFC 8461 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsPolicyRow {
    pub domain: String,
    /// The `id` of the `_mta-sts` record the policy was fetched under.
    pub id: String,
    /// The policy file as fetched.
    pub policy: String,
    /// Seconds since the epoch when `max_age` runs out.
    pub expires: i64,
}

/// Outbound TLS results of one kind (RFC 8460): sessions to `mx` of `domain` on `day`
/// (days since 1970) under `policy_type` (`sts`, `tlsa`, `no-policy-found`) with
/// `result` (`success` or an RFC 8460 §4.3 failure type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsResultRow {
    pub domain: String,
    pub day: i64,
    pub policy_type: String,
    pub mx: String,
    pub result: String,
    pub count: i64,
}

/// A DKIM key of a local domain. `state`: `active` (signs), `pending` (published,
/// not yet signing: rotation), `retired`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimKey {
    pub domain: Domain,
    pub selector: String,
    /// `ed25519` or `rsa`.
    pub algorithm: String,
    /// Base64 PKCS#8.
    pub private_key: String,
    /// Base64, the DNS `p=` value.
    pub public_key: String,
    pub state: String,
    pub created: i64,
}

/// One DMARC evaluation kept for an aggregate report (RFC 7489 §7.2). `document` is
/// JSON owned by the reporting code; the store only keeps and returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcEvaluation {
    /// Assigned by the store; 0 when recording.
    pub id: i64,
    pub time: i64,
    /// The reporting domain (the author's organisational domain).
    pub domain: String,
    pub document: String,
}

/// An aggregate report another domain sent us; `document` is the parsed report as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedReport {
    pub org_name: String,
    pub report_id: String,
    /// The domain the report is about (ours).
    pub domain: String,
    pub received: i64,
    pub begin: i64,
    pub end: i64,
    pub document: String,
}

/// Storage as the rest of Palisade sees it. Every method is one atomic change or
/// one consistent read; refusals are [`StoreError`] variants naming the culprit.
#[async_trait::async_trait]
pub trait Store: ConsoleStore + DashboardStore + Send + Sync + 'static {
    /// A number that grows whenever a domain, user, alias, forward or key changes
    /// through this store, so that [`LookupCache`] entries read before the change are
    /// never served after it. Changes made by another process (the CLI) do not move it;
    /// the cache's [`LookupCache::TTL`] bounds how long those take to be seen.
    fn generation(&self) -> u64;

    /// Makes `d` a local domain. [`StoreError::AlreadyExists`] if it already is.
    async fn add_domain(&self, d: &Domain) -> Result<(), StoreError>;

    /// Removes a local domain; `false` if it was not one. Refused with
    /// [`StoreError::InUse`] while users or aliases still belong to it, so that
    /// removing a domain never silently deletes mailboxes.
    async fn remove_domain(&self, d: &Domain) -> Result<bool, StoreError>;

    /// All local domains, sorted.
    async fn list_domains(&self) -> Result<Vec<Domain>, StoreError>;

    async fn is_local_domain(&self, d: &Domain) -> Result<bool, StoreError>;

    /// Adds a user with an already-hashed password (see palisade-access).
    /// [`StoreError::UnknownDomain`] if the domain is not local;
    /// [`StoreError::AlreadyExists`] if the address is a user or an exact alias.
    async fn add_user(&self, a: &Address, password_hash: &str) -> Result<(), StoreError>;

    /// Removes a user and every alias pointing at it; `false` if there was no
    /// such user.
    async fn remove_user(&self, a: &Address) -> Result<bool, StoreError>;

    /// Replaces a user's password hash; `false` if there is no such user.
    async fn set_password_hash(&self, a: &Address, hash: &str) -> Result<bool, StoreError>;

    /// The user's stored PHC string, or `None` if there is no such user.
    async fn password_hash(&self, a: &Address) -> Result<Option<String>, StoreError>;

    /// Users sorted by address, all of them or only those of `domain`.
    async fn list_users(&self, domain: Option<&Domain>) -> Result<Vec<User>, StoreError>;

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

    /// Like [`Store::resolve_recipient`] without the catch-all: a user, or an exact
    /// alias (what a group address delivers to besides its members).
    async fn resolve_exact(&self, rcpt: &Address) -> Result<Option<Address>, StoreError>;

    async fn queue_status(&self, id: QueueId) -> Result<Option<QueueStatus>, StoreError>;

    /// Inserts or replaces the record for `s.id`, delivered list included.
    async fn put_queue_status(&self, s: &QueueStatus) -> Result<(), StoreError>;

    /// Forgets a message's record; removing an absent one is not an error.
    async fn remove_queue_status(&self, id: QueueId) -> Result<(), StoreError>;

    /// Every record, soonest `next_attempt` first.
    async fn list_queue_status(&self) -> Result<Vec<QueueStatus>, StoreError>;

    async fn record_event(&self, e: &Event) -> Result<(), StoreError>;

    /// The `limit` most recent events, newest first.
    async fn recent_events(&self, limit: u32) -> Result<Vec<Event>, StoreError>;
    /// Stores evaluations in one transaction (the server batches them).
    /// Adds counts (rows with the same key are summed).
    async fn record_tls_results(&self, rows: &[TlsResultRow]) -> Result<(), StoreError>;
    /// Returns every result of days before `before_day` not reported yet (the part of
    /// a count recorded since the last take), and marks it reported.
    async fn take_tls_results(&self, before_day: i64) -> Result<Vec<TlsResultRow>, StoreError>;
    /// A failed login of `user` (as typed, lower case) from `ip`; forgets those older
    /// than a day.
    async fn record_auth_failure(
        &self,
        user: &str,
        ip: &str,
        fingerprint: &str,
        time: i64,
    ) -> Result<(), StoreError>;
    /// Distinct (ip, fingerprint) failures of `user` since `since`.
    async fn count_user_failures(&self, user: &str, since: i64) -> Result<u64, StoreError>;
    /// Distinct (user, fingerprint) failures from `ip` since `since`.
    async fn count_ip_failures(&self, ip: &str, since: i64) -> Result<u64, StoreError>;
    /// Forgets `user`'s failures (after a successful login or an unlock).
    async fn clear_user_failures(&self, user: &str) -> Result<(), StoreError>;
    async fn lockout(&self, user: &str) -> Result<Option<Block>, StoreError>;
    async fn put_lockout(&self, block: &Block) -> Result<(), StoreError>;
    /// True if there was one.
    async fn remove_lockout(&self, user: &str) -> Result<bool, StoreError>;
    async fn ban(&self, ip: &str) -> Result<Option<Block>, StoreError>;
    async fn put_ban(&self, block: &Block) -> Result<(), StoreError>;
    /// Bans in force at `now`, newest first.
    async fn list_bans(&self, now: i64) -> Result<Vec<Block>, StoreError>;
    /// True if there was one.
    async fn remove_ban(&self, ip: &str) -> Result<bool, StoreError>;
    /// Sets a user's display name; false if there is no such user.
    async fn set_user_name(&self, a: &Address, name: &str) -> Result<bool, StoreError>;
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
    /// Notes that the organisation of local domain `local` exchanged a message with each
    /// of `senders` (organisational domains) at `time`.
    async fn record_correspondents(
        &self,
        local: &str,
        senders: &[String],
        time: i64,
    ) -> Result<(), StoreError>;
    /// The organisations `local` corresponds with most, at most `limit`.
    async fn correspondents(&self, local: &str, limit: u32) -> Result<Vec<String>, StoreError>;
    async fn is_correspondent(&self, local: &str, sender: &str) -> Result<bool, StoreError>;
    /// Records a decision for the per-site model, replacing an earlier one about the
    /// same message (taken back from the counts) unless that one weighed more; false if
    /// nothing changed.
    async fn learn(&self, lesson: &Lesson) -> Result<bool, StoreError>;
    /// Decisions `who` recorded since `since`.
    async fn lessons_since(&self, who: &str, since: i64) -> Result<u64, StoreError>;
    /// The per-site model's counts.
    async fn site_counts(&self) -> Result<SiteCounts, StoreError>;
    /// One SMTP-level abuse event (`kind`: `relay`, `unknown_rcpt`) from `ip`; forgets
    /// those older than a day.
    async fn record_strike(&self, ip: &str, kind: &str, time: i64) -> Result<(), StoreError>;
    async fn count_strikes(&self, ip: &str, kind: &str, since: i64) -> Result<u64, StoreError>;
    /// Notes a successful login of `user` from `ip`.
    async fn record_login(&self, user: &str, ip: &str, time: i64) -> Result<(), StoreError>;
    /// When `user` last logged in successfully from `ip`.
    async fn last_login(&self, user: &str, ip: &str) -> Result<Option<i64>, StoreError>;
    /// When `user` last logged in successfully from anywhere.
    async fn last_login_any(&self, user: &str) -> Result<Option<i64>, StoreError>;
    /// Forgets old security state: failures and strikes older than a day, lockouts
    /// ended more than a day ago, bans ended more than a week ago.
    async fn prune_security(&self, now: i64) -> Result<(), StoreError>;
    /// Whether a DSN reporting `recipients` (sorted, comma-separated) of the message
    /// `original` was queued already.
    async fn dsn_queued(&self, original: QueueId, recipients: &str) -> Result<bool, StoreError>;
    /// Records that such a DSN was queued (a second record is no error).
    async fn record_dsn(
        &self,
        original: QueueId,
        recipients: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// The secret of this installation called `name`: `fresh` (random bytes from the
    /// caller) the first time, the stored one ever after.
    async fn server_secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError>;
    /// Events at or after `since`, newest first, at most `limit`.
    async fn events_since(&self, since: i64, limit: u32) -> Result<Vec<Event>, StoreError>;
    /// Sets this `node`'s counts of `kind` events per address in `window` (replacing
    /// what it wrote before for that window) and forgets windows before `window`.
    async fn put_rate_counts(
        &self,
        kind: &str,
        window: i64,
        node: &str,
        counts: &[(String, u64)],
    ) -> Result<(), StoreError>;
    /// Addresses whose `kind` events in `window`, summed over all nodes, reach `limit`.
    async fn rate_exceeded(
        &self,
        kind: &str,
        window: i64,
        limit: u64,
    ) -> Result<Vec<String>, StoreError>;
    async fn totp(&self, user: &Address) -> Result<Option<TotpState>, StoreError>;
    /// Sets `user`'s seed (replacing any) with `enabled`.
    async fn put_totp(
        &self,
        user: &Address,
        secret: &str,
        enabled: bool,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Records `step` as used if it is newer than the last one; false means a replay.
    async fn advance_totp_step(&self, user: &Address, step: i64) -> Result<bool, StoreError>;
    /// Turns two-factor off: the seed and the recovery codes go. True if it was on.
    async fn remove_totp(&self, user: &Address) -> Result<bool, StoreError>;
    /// Replaces `user`'s recovery codes (SHA-256 hex).
    async fn set_recovery_codes(&self, user: &Address, hashes: &[String])
    -> Result<(), StoreError>;
    /// Uses up a recovery code; true if it was there.
    async fn use_recovery_code(&self, user: &Address, hash: &str) -> Result<bool, StoreError>;
    /// Fails with [`StoreError::AlreadyExists`] if the user has that label.
    async fn add_app_password(&self, p: &AppPassword) -> Result<i64, StoreError>;
    async fn list_app_passwords(&self, user: &Address) -> Result<Vec<AppPassword>, StoreError>;
    async fn app_password(&self, hash: &str) -> Result<Option<AppPassword>, StoreError>;
    /// True if there was one with that label.
    async fn revoke_app_password(&self, user: &Address, label: &str) -> Result<bool, StoreError>;
    async fn touch_app_password(&self, id: i64, time: i64, ip: &str) -> Result<(), StoreError>;
    /// The MTA-STS policy cached for `domain` (lower case), expired or not.
    async fn mta_sts_policy(&self, domain: &str) -> Result<Option<StsPolicyRow>, StoreError>;
    /// Caches a fetched policy (replacing the domain's previous one); forgets expired ones.
    async fn put_mta_sts_policy(&self, row: &StsPolicyRow, now: i64) -> Result<(), StoreError>;
    /// Notes a submitted message of `user` and its recipient domains; forgets what is
    /// older than 30 days.
    async fn record_submission(
        &self,
        user: &Address,
        time: i64,
        domains: &[String],
        recipients: u64,
    ) -> Result<(), StoreError>;
    /// Recipients of `user`'s messages submitted at or after `since` (10-minute
    /// buckets, like [`Store::count_submissions`]).
    async fn count_submission_recipients(
        &self,
        user: &Address,
        since: i64,
    ) -> Result<u64, StoreError>;
    /// Messages `user` submitted at or after `since`, counted in 10-minute buckets: the
    /// bucket holding `since` counts whole, so a window may include up to 10 minutes
    /// more (quotas err on the strict side), and each check reads a few rows.
    async fn count_submissions(&self, user: &Address, since: i64) -> Result<u64, StoreError>;
    /// Recipient domains `user` first wrote to at or after `since`, with no use in the
    /// 30 days before.
    async fn count_new_domains(&self, user: &Address, since: i64) -> Result<u64, StoreError>;
    async fn suspend_user(
        &self,
        user: &Address,
        since: i64,
        reason: &str,
    ) -> Result<(), StoreError>;
    /// `false` when the user was not suspended.
    async fn resume_user(&self, user: &Address) -> Result<bool, StoreError>;
    /// When and why the user's sending was suspended, if it is.
    async fn suspension(&self, user: &Address) -> Result<Option<(i64, String)>, StoreError>;
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
    /// Lets `user` send as `address` (a lookup key such as `boss@example.com`, or
    /// `*@domain`). [`StoreError::UnknownUser`] if `user` is not a user.
    async fn add_send_as(&self, user: &Address, address: &str) -> Result<(), StoreError>;
    async fn remove_send_as(&self, user: &Address, address: &str) -> Result<bool, StoreError>;
    async fn list_send_as(&self, user: &Address) -> Result<Vec<String>, StoreError>;
    /// Whether a delegation covers `address` for `user` (exactly or by its domain).
    async fn may_send_as(&self, user: &Address, address: &Address) -> Result<bool, StoreError>;
    async fn record_dmarc_evaluations(&self, es: &[DmarcEvaluation]) -> Result<(), StoreError>;
    /// Up to `limit` evaluations not yet reported, oldest first.
    async fn pending_dmarc_evaluations(
        &self,
        limit: u32,
    ) -> Result<Vec<DmarcEvaluation>, StoreError>;
    /// Forgets evaluations once their report is written.
    async fn remove_dmarc_evaluations(&self, ids: &[i64]) -> Result<(), StoreError>;
    /// Stores a received report; [`StoreError::AlreadyExists`] for the same
    /// organisation and report id (senders retry).
    async fn add_dmarc_report(&self, r: &ReceivedReport) -> Result<(), StoreError>;
    /// Received reports, all or about one domain, by domain then date.
    async fn list_dmarc_reports(
        &self,
        domain: Option<&str>,
    ) -> Result<Vec<ReceivedReport>, StoreError>;
}
