//! A short-lived cache of the lookups every message makes: "is this domain local?" at
//! RCPT, "which mailbox does this recipient deliver to?" and "which addresses does it
//! forward to?" at RCPT and delivery.
//!
//! Without it each message costs three database round trips on the hot path. Entries
//! live for [`LookupCache::TTL`]; a change made through the CLI (another process) is
//! therefore seen within that time. Negative answers are cached too, so a flood of
//! unknown recipients cannot hammer the database either. The map is bounded: when it
//! reaches [`LookupCache::MAX_ENTRIES`] it is cleared.

use crate::{Store, StoreError};
use palisade_types::{Address, Domain};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct LookupCache {
    domains: Mutex<HashMap<Domain, (Instant, bool)>>,
    recipients: Mutex<HashMap<String, (Instant, Option<Address>)>>,
    forwards: Mutex<HashMap<String, (Instant, Vec<Address>)>>,
}

fn get<K: std::hash::Hash + Eq, V: Clone>(
    map: &Mutex<HashMap<K, (Instant, V)>>,
    k: &K,
) -> Option<V> {
    let m = map.lock().unwrap_or_else(|e| e.into_inner());
    m.get(k)
        .filter(|(t, _)| t.elapsed() < LookupCache::TTL)
        .map(|(_, v)| v.clone())
}

fn put<K: std::hash::Hash + Eq, V>(map: &Mutex<HashMap<K, (Instant, V)>>, k: K, v: V) {
    let mut m = map.lock().unwrap_or_else(|e| e.into_inner());
    if m.len() >= LookupCache::MAX_ENTRIES {
        m.clear();
    }
    m.insert(k, (Instant::now(), v));
}

impl LookupCache {
    pub const TTL: Duration = Duration::from_secs(1);
    pub const MAX_ENTRIES: usize = 100_000;

    pub fn new() -> Self {
        Self::default()
    }

    pub async fn is_local_domain(&self, store: &dyn Store, d: &Domain) -> Result<bool, StoreError> {
        if let Some(v) = get(&self.domains, d) {
            return Ok(v);
        }
        let v = store.is_local_domain(d).await?;
        put(&self.domains, d.clone(), v);
        Ok(v)
    }

    pub async fn resolve_recipient(
        &self,
        store: &dyn Store,
        rcpt: &Address,
    ) -> Result<Option<Address>, StoreError> {
        let key = rcpt.lookup_key();
        if let Some(v) = get(&self.recipients, &key) {
            return Ok(v);
        }
        let v = store.resolve_recipient(rcpt).await?;
        put(&self.recipients, key, v.clone());
        Ok(v)
    }

    /// The group members and forward targets of `rcpt` (empty for most addresses).
    pub async fn forwards(
        &self,
        store: &dyn Store,
        rcpt: &Address,
    ) -> Result<Vec<Address>, StoreError> {
        let key = rcpt.lookup_key();
        if let Some(v) = get(&self.forwards, &key) {
            return Ok(v);
        }
        let v = store.forwards(rcpt).await?;
        put(&self.forwards, key, v.clone());
        Ok(v)
    }
}
