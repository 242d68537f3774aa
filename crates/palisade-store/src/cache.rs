//! A cache of the lookups every message makes: "is this domain local?" at RCPT, "which
//! mailbox does this recipient deliver to?" and "which addresses does it forward to?"
//! at RCPT and delivery, and "is this mailbox's copy sealed?" at delivery.
//!
//! Without it each message costs several database round trips on the hot path, each a
//! hand-off to SQLite's worker thread and back. An entry is served while the store's
//! [`Store::generation`] is the one it was read under (a change through this process's
//! store, say the web console, is seen by the next lookup) and for at most
//! [`LookupCache::TTL`] (a change made by another process, the CLI, is seen within that
//! time). Negative answers are cached too, so a flood of unknown recipients cannot hammer
//! the database either. Each map is bounded: when it reaches
//! [`LookupCache::MAX_ENTRIES`] it is cleared.

use crate::{Store, StoreError};
use palisade_types::{Address, Domain};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One cached answer: when and under which store generation it was read.
type Entry<V> = (Instant, u64, V);
type Map<K, V> = Mutex<HashMap<K, Entry<V>>>;

#[derive(Default)]
pub struct LookupCache {
    domains: Map<Domain, bool>,
    recipients: Map<String, Option<Address>>,
    forwards: Map<String, Vec<Address>>,
    sealing: Map<String, Sealing>,
}

/// Whether a mailbox's copies are sealed at rest: its user's own switch and its
/// domain's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sealing {
    pub user: bool,
    pub domain: bool,
}

fn get<K: std::hash::Hash + Eq, V: Clone>(map: &Map<K, V>, k: &K, generation: u64) -> Option<V> {
    let m = map.lock().unwrap_or_else(|e| e.into_inner());
    m.get(k)
        .filter(|(t, g, _)| *g == generation && t.elapsed() < LookupCache::TTL)
        .map(|(_, _, v)| v.clone())
}

fn put<K: std::hash::Hash + Eq, V>(map: &Map<K, V>, k: K, generation: u64, v: V) {
    let mut m = map.lock().unwrap_or_else(|e| e.into_inner());
    if m.len() >= LookupCache::MAX_ENTRIES {
        m.clear();
    }
    m.insert(k, (Instant::now(), generation, v));
}

/// The cached answer for `k`, or `read`'s, remembered under the generation current
/// before it ran (a change while it runs makes the entry stale at once).
async fn cached<K, V, F>(store: &dyn Store, map: &Map<K, V>, k: K, read: F) -> Result<V, StoreError>
where
    K: std::hash::Hash + Eq,
    V: Clone,
    F: std::future::Future<Output = Result<V, StoreError>>,
{
    let generation = store.generation();
    if let Some(v) = get(map, &k, generation) {
        return Ok(v);
    }
    let v = read.await?;
    put(map, k, generation, v.clone());
    Ok(v)
}

impl LookupCache {
    pub const TTL: Duration = Duration::from_secs(1);
    pub const MAX_ENTRIES: usize = 100_000;

    pub fn new() -> Self {
        Self::default()
    }

    pub async fn is_local_domain(&self, store: &dyn Store, d: &Domain) -> Result<bool, StoreError> {
        cached(store, &self.domains, d.clone(), store.is_local_domain(d)).await
    }

    pub async fn resolve_recipient(
        &self,
        store: &dyn Store,
        rcpt: &Address,
    ) -> Result<Option<Address>, StoreError> {
        let read = store.resolve_recipient(rcpt);
        cached(store, &self.recipients, rcpt.lookup_key(), read).await
    }

    /// The group members and forward targets of `rcpt` (empty for most addresses).
    pub async fn forwards(
        &self,
        store: &dyn Store,
        rcpt: &Address,
    ) -> Result<Vec<Address>, StoreError> {
        cached(
            store,
            &self.forwards,
            rcpt.lookup_key(),
            store.forwards(rcpt),
        )
        .await
    }

    /// Whether `mailbox`'s copies are sealed at rest (both switches, one cache entry).
    pub async fn sealing(
        &self,
        store: &dyn Store,
        mailbox: &Address,
    ) -> Result<Sealing, StoreError> {
        let read = async {
            Ok(Sealing {
                user: store.encrypt_at_rest(mailbox).await?,
                domain: store.domain_encrypt_at_rest(mailbox.domain()).await?,
            })
        };
        cached(store, &self.sealing, mailbox.lookup_key(), read).await
    }
}
