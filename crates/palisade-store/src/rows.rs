//! Rows as the rest of Palisade sees them, whichever backend read them: conversions
//! from the columns every backend stores alike, and the retention rules they share.

use std::time::{SystemTime, UNIX_EPOCH};

use palisade_types::{Address, AppScope, Domain, QueueId};

use crate::seal::{Secret, context};
use crate::{
    AppPassword, Block, DkimKey, Event, HeldMessage, NodeStatus, QueueStatus, SigningKey,
    StoreError, TlsResultRow,
};

/// Submissions are counted in buckets of this many seconds.
pub(crate) const SUBMISSION_BUCKET: i64 = 600;
/// Submission history kept (and the window a recipient domain counts as known), seconds.
pub(crate) const SUBMISSION_HISTORY: i64 = 30 * 86_400;

/// How long a queued DSN is remembered (longer than any `queue.max_age_secs`).
pub(crate) const DSN_MEMORY: i64 = 60 * 86_400;

pub(crate) type TlsRow = (String, i64, String, String, String, i64);

pub(crate) fn tls_row((domain, day, policy_type, mx, result, count): TlsRow) -> TlsResultRow {
    TlsResultRow {
        domain,
        day,
        policy_type,
        mx,
        result,
        count,
    }
}

/// An `events` row: time, kind, subject, detail.
pub(crate) type EventRow = (i64, String, String, String);

pub(crate) fn event((time, kind, subject, detail): EventRow) -> Event {
    Event {
        time,
        kind,
        subject,
        detail,
    }
}

/// A day in seconds: how long failed logins and abuse strikes are remembered.
pub(crate) const DAY: i64 = 86_400;

pub(crate) fn block_of(
    (key, since, until, strikes, reason): (String, i64, i64, i64, String),
) -> Block {
    Block {
        key,
        since,
        until,
        strikes: u32::try_from(strikes).unwrap_or(u32::MAX),
        reason,
    }
}

pub(crate) type AppPasswordRow = (
    i64,
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
    i64,
    Option<i64>,
    Option<String>,
);

pub(crate) fn app_password_of(r: AppPasswordRow) -> Result<AppPassword, StoreError> {
    let (id, user, label, hash, scope, expires, from_net, created, last_used, last_ip) = r;
    let scope = AppScope::parse(&scope).ok_or(StoreError::Corrupt {
        what: "app password scope",
        value: scope,
    })?;
    Ok(AppPassword {
        id,
        user,
        label,
        hash,
        scope,
        expires,
        from_net,
        created,
        last_used,
        last_ip,
    })
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub(crate) fn parse_address(value: String) -> Result<Address, StoreError> {
    Address::parse(&value).map_err(|_| StoreError::Corrupt {
        what: "address",
        value,
    })
}

pub(crate) fn parse_domain(value: String) -> Result<Domain, StoreError> {
    Domain::parse(&value).map_err(|_| StoreError::Corrupt {
        what: "domain",
        value,
    })
}

/// One `queue_status` row before its delivered list is attached.
pub(crate) type StatusRow = (String, i64, i64, Option<String>, i64);

pub(crate) fn status_from_row(
    row: StatusRow,
    delivered: Vec<String>,
) -> Result<QueueStatus, StoreError> {
    let (id, attempts, next_attempt, last_error, updated) = row;
    let attempts = u32::try_from(attempts).map_err(|_| StoreError::Corrupt {
        what: "queue attempt count",
        value: attempts.to_string(),
    })?;
    let id = QueueId::parse(&id).ok_or(StoreError::Corrupt {
        what: "queue id",
        value: id,
    })?;
    Ok(QueueStatus {
        id,
        attempts,
        next_attempt,
        last_error,
        delivered,
        updated,
    })
}

/// A lesson's feature buckets as stored (`lessons.buckets`): little-endian `u32`s.
pub(crate) fn encode_buckets(buckets: &[u32]) -> Vec<u8> {
    buckets.iter().flat_map(|b| b.to_le_bytes()).collect()
}

/// The buckets [`encode_buckets`] stored (a trailing partial one is ignored).
pub(crate) fn decode_buckets(blob: &[u8]) -> Vec<u32> {
    blob.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// A `nodes` row: node, version, started, heartbeat, retrying.
pub(crate) type NodeRow = (String, String, i64, i64, i64);

pub(crate) fn node_status((node, version, started, heartbeat, retrying): NodeRow) -> NodeStatus {
    NodeStatus {
        node,
        version,
        started,
        heartbeat,
        retrying: u64::try_from(retrying).unwrap_or(0),
    }
}

/// A `dkim_keys` row: domain, selector, algorithm, sealed private key, public key,
/// state, created.
pub(crate) type DkimRow = (String, String, String, String, String, String, i64);

/// A `dkim_keys` row as a key, its private key opened.
pub(crate) fn dkim_key(
    secret: &Secret,
    (d, selector, algorithm, sealed, public_key, state, created): DkimRow,
) -> Result<DkimKey, StoreError> {
    let private_key = secret.open_text(&sealed, &context::dkim(&d, &selector), "DKIM key")?;
    Ok(DkimKey {
        domain: parse_domain(d)?,
        selector,
        algorithm,
        private_key,
        public_key,
        state,
        created,
    })
}

/// `k`'s private key as its row keeps it.
pub(crate) fn sealed_dkim_key(secret: &Secret, k: &DkimKey) -> String {
    secret.seal_text(
        &k.private_key,
        &context::dkim(k.domain.as_str(), &k.selector),
    )
}

/// A `signing_keys` row: certificate, sealed key, fingerprint, expires, added.
pub(crate) type SigningRow = (String, Vec<u8>, String, i64, i64);

/// `user`'s `signing_keys` row as their identity, its private key opened.
pub(crate) fn signing_key(
    secret: &Secret,
    user: &Address,
    (certificate, sealed, fingerprint, expires, added): SigningRow,
) -> Result<SigningKey, StoreError> {
    const WHAT: &str = "signing key";
    let plain = secret.open_bytes(&sealed, &context::signing(user), WHAT)?;
    let private_key =
        String::from_utf8(plain).map_err(|_| StoreError::Unsealable { what: WHAT })?;
    Ok(SigningKey {
        certificate,
        private_key,
        fingerprint,
        expires,
        added,
    })
}

/// `user`'s TOTP seed as its row keeps it, and back.
pub(crate) fn sealed_totp(secret: &Secret, user_key: &str, seed: &str) -> String {
    secret.seal_text(seed, &context::totp(user_key))
}

pub(crate) fn open_totp(
    secret: &Secret,
    user_key: &str,
    stored: &str,
) -> Result<String, StoreError> {
    secret.open_text(stored, &context::totp(user_key), "TOTP seed")
}

/// A `quarantine` row without its file: id, node, arrived, sender, recipients (one per
/// line), subject, reason, size.
pub(crate) type HeldRow = (String, String, i64, String, String, String, String, i64);

pub(crate) const HELD_COLUMNS: &str =
    "id, node, arrived, sender, recipients, subject, reason, size";

pub(crate) fn held_message(
    (id, node, arrived, sender, recipients, subject, reason, size): HeldRow,
) -> Result<HeldMessage, StoreError> {
    let id = QueueId::parse(&id).ok_or(StoreError::Corrupt {
        what: "held message id",
        value: id,
    })?;
    Ok(HeldMessage {
        id,
        node,
        arrived,
        sender,
        recipients: recipients.lines().map(str::to_string).collect(),
        subject,
        reason,
        size,
    })
}

pub(crate) fn queue_ids(ids: Vec<String>) -> Vec<QueueId> {
    ids.iter().filter_map(|id| QueueId::parse(id)).collect()
}
