//! The SPF void-lookup limit (RFC 7208 §4.6.4), which mail-auth 0.13.3 does not enforce.
//!
//! "SPF implementations SHOULD limit 'void lookups' to two ... Exceeding the limit
//! produces a 'permerror' result." A void lookup is an answer with no records (NODATA or
//! NXDOMAIN). We do not re-implement SPF to count them: every lookup mail-auth makes asks
//! its cache first and inserts only what resolved to records, so wrapping the caches for
//! one evaluation counts lookups that came back empty. Evaluation stops at the first
//! match, so a third void lookup seen means the evaluation went past the limit.

use mail_auth::{RecordSet, ResolverCache, Txt};
use palisade_dns::TtlCache;
use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// The most void lookups one SPF evaluation may make (RFC 7208 §4.6.4).
pub const VOID_LOOKUP_LIMIT: u32 = 2;

/// Whether a cached answer holds no records.
pub trait Emptiness {
    fn is_void(&self) -> bool;
}

impl<T> Emptiness for RecordSet<T> {
    fn is_void(&self) -> bool {
        self.rrset.is_empty()
    }
}

impl Emptiness for Txt {
    fn is_void(&self) -> bool {
        false
    }
}

/// Cache misses and non-empty fills, shared by the wrappers of one evaluation.
#[derive(Default)]
pub struct Counter {
    misses: AtomicU32,
    filled: AtomicU32,
}

impl Counter {
    /// Lookups that went to DNS and came back with no records (or failed).
    pub fn voids(&self) -> u32 {
        self.misses
            .load(Ordering::Relaxed)
            .saturating_sub(self.filled.load(Ordering::Relaxed))
    }
}

/// A shared cache, seen through one evaluation's counter.
pub struct Counting<'a, K, V> {
    pub inner: &'a TtlCache<K, V>,
    pub counter: &'a Counter,
    /// Whether misses here are lookups the limit covers. TXT lookups are not: an
    /// `exp=` domain that does not exist must not count (RFC 7208 §4.6.4), and an
    /// include or redirect target without a record is a permerror on its own.
    pub counts: bool,
}

impl<K: Hash + Eq, V: Clone + Emptiness> ResolverCache<K, V> for Counting<'_, K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hit = self.inner.get(name);
        if hit.is_none() && self.counts {
            self.counter.misses.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.inner.remove(name)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        if self.counts && !value.is_void() {
            self.counter.filled.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.insert(key, value, valid_until);
    }
}
