//! Per-address rate limits: new connections per minute and messages without AUTH per
//! hour. Two layers:
//! - a token bucket per address in memory (governor's GCRA): smooth, and nothing to
//!   wait for on the accept path;
//! - fixed-window counts shared through the store: every [`SYNC`] each node writes its
//!   counts for the current window and reads which addresses all nodes together have
//!   taken past the limit, so nodes sharing a store enforce one limit. The accept path
//!   reads only the result in memory; the store sees one batch per sync, not a write
//!   per connection.

use crate::Shared;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use palisade_config::SecurityConfig;
use palisade_store::Store;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

pub const SYNC: Duration = Duration::from_secs(2);

/// Per address: events in the window, and whether the count changed since the last sync.
type WindowCounts = HashMap<IpAddr, (u64, bool)>;

struct Limit {
    kind: &'static str,
    bucket: DefaultKeyedRateLimiter<IpAddr>,
    limit: u64,
    window_secs: i64,
    /// This node's counts in the current window, and whether each changed since the
    /// last sync (only those are written).
    counts: Mutex<(i64, WindowCounts)>,
    /// Addresses over the limit in a window, across all nodes (from the last sync).
    over: RwLock<(i64, HashSet<IpAddr>)>,
}

impl Limit {
    fn new(
        kind: &'static str,
        per: fn(NonZeroU32) -> Quota,
        n: u64,
        window_secs: i64,
    ) -> Option<Limit> {
        let q = NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX))?;
        Some(Limit {
            kind,
            bucket: RateLimiter::keyed(per(q)),
            limit: n,
            window_secs,
            counts: Mutex::new((0, HashMap::new())),
            over: RwLock::new((0, HashSet::new())),
        })
    }

    /// Counts an event from `ip` at `now`; false: over the limit (here or overall).
    fn take(&self, ip: IpAddr, now: i64) -> bool {
        // IPv6 counts by /64, like bans (see palisade_access::guard::address_key).
        let ip = palisade_access::guard::address_key(ip);
        let window = now.div_euclid(self.window_secs);
        {
            let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            if c.0 != window {
                *c = (window, HashMap::new());
            }
            let entry = c.1.entry(ip).or_default();
            entry.0 += 1;
            entry.1 = true;
        }
        let shared_over = {
            let o = self.over.read().unwrap_or_else(|e| e.into_inner());
            o.0 == window && o.1.contains(&ip)
        };
        !shared_over && self.bucket.check_key(&ip).is_ok()
    }

    async fn sync(&self, store: &dyn Store, node: &str, now: i64) {
        let (window, counts) = {
            let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            let window = now.div_euclid(self.window_secs);
            let mut changed = Vec::new();
            if c.0 == window {
                for (ip, (n, dirty)) in c.1.iter_mut() {
                    if std::mem::take(dirty) {
                        changed.push((ip.to_string(), *n));
                    }
                }
            }
            (window, changed)
        };
        if let Err(e) = store
            .put_rate_counts(self.kind, window, node, &counts)
            .await
        {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "cannot share rate counts"
            );
            return;
        }
        match store.rate_exceeded(self.kind, window, self.limit).await {
            Ok(ips) => {
                let set = ips.iter().filter_map(|ip| ip.parse().ok()).collect();
                *self.over.write().unwrap_or_else(|e| e.into_inner()) = (window, set);
            }
            Err(e) => tracing::warn!(
                error = &e as &dyn std::error::Error,
                "cannot read shared rate counts"
            ),
        }
    }
}

/// The limits of one configuration.
struct Limits {
    connections: Option<Limit>,
    messages: Option<Limit>,
}

impl Limits {
    fn new(cfg: &SecurityConfig) -> Limits {
        let (c, m) = (
            cfg.connections_per_ip_per_minute,
            cfg.messages_per_ip_per_hour,
        );
        Limits {
            connections: Limit::new("connections", Quota::per_minute, c, 60),
            messages: Limit::new("messages", Quota::per_hour, m, 3600),
        }
    }

    /// The configured numbers (0: no limit).
    fn settings(&self) -> (u64, u64) {
        let n = |l: &Option<Limit>| l.as_ref().map_or(0, |l| l.limit);
        (n(&self.connections), n(&self.messages))
    }

    fn all(&self) -> impl Iterator<Item = &Limit> {
        [&self.connections, &self.messages].into_iter().flatten()
    }
}

pub struct Rates {
    limits: RwLock<Arc<Limits>>,
    /// This node's name in the shared counts.
    node: String,
}

impl Rates {
    pub fn new(cfg: &SecurityConfig) -> Rates {
        Rates {
            limits: RwLock::new(Arc::new(Limits::new(cfg))),
            node: palisade_types::QueueId::generate().to_string(),
        }
    }

    fn current(&self) -> Arc<Limits> {
        self.limits
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// On reload: changed limits start with full buckets; unchanged ones keep theirs.
    pub fn reconfigure(&self, cfg: &SecurityConfig) {
        let settings = (
            cfg.connections_per_ip_per_minute,
            cfg.messages_per_ip_per_hour,
        );
        if self.current().settings() != settings {
            *self.limits.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Limits::new(cfg));
        }
    }

    /// Takes a token for a new connection from `ip`; false: over the limit.
    pub fn connection(&self, ip: IpAddr) -> bool {
        let now = palisade_queue::now_secs();
        self.current()
            .connections
            .as_ref()
            .is_none_or(|l| l.take(ip, now))
    }

    /// Takes a token for a message from `ip`; false: over the limit.
    pub fn message(&self, ip: IpAddr) -> bool {
        let now = palisade_queue::now_secs();
        self.current()
            .messages
            .as_ref()
            .is_none_or(|l| l.take(ip, now))
    }

    /// Forgets addresses whose buckets are full again (bounds the memory).
    pub fn prune(&self) {
        for l in self.current().all() {
            l.bucket.retain_recent();
            l.bucket.shrink_to_fit();
        }
    }
}

/// Shares this node's counts and learns the other nodes' verdicts, every [`SYNC`].
pub async fn sync_loop(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(SYNC).await;
        let now = palisade_queue::now_secs();
        let limits = shared.rates.current();
        for l in limits.all() {
            l.sync(shared.store.as_ref(), &shared.rates.node, now).await;
        }
    }
}
