//! The addresses refused at connect: a copy of the store's bans in memory, so the
//! accept path never waits on the store. Bans made here go in at once; bans made by
//! other nodes sharing a PostgreSQL store are reloaded within [`WATCH`] of the store
//! hearing of them ([`palisade_store::Store::bans_generation`]); anything else (a ban
//! removed with `palisade security bans remove` on the embedded store) arrives with the
//! next refresh, every [`REFRESH`].

use crate::Shared;
use palisade_store::Block;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub const REFRESH: Duration = Duration::from_secs(5);
/// How often the store is asked whether other nodes changed the bans (no query: a
/// counter its listener moves).
pub const WATCH: Duration = Duration::from_millis(200);

#[derive(Default)]
pub struct BanList {
    until: RwLock<HashMap<IpAddr, i64>>,
}

impl BanList {
    /// True if `ip` is banned at `now` (seconds since the epoch).
    pub fn banned(&self, ip: IpAddr, now: i64) -> bool {
        self.until
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&palisade_access::guard::address_key(ip))
            .is_some_and(|until| *until > now)
    }

    pub fn insert(&self, block: &Block) {
        if let Ok(ip) = block.key.parse::<IpAddr>() {
            self.until
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(ip, block.until);
        }
    }

    pub fn replace(&self, blocks: &[Block]) {
        let fresh: HashMap<IpAddr, i64> = blocks
            .iter()
            .filter_map(|b| Some((b.key.parse().ok()?, b.until)))
            .collect();
        *self.until.write().unwrap_or_else(|e| e.into_inner()) = fresh;
    }
}

/// A ban this node just made (`why`: `auth` or `abuse`): logged, counted, and in force
/// here at once (other nodes learn it at their next refresh).
pub fn made(shared: &Shared, ip: IpAddr, block: &Block, why: &'static str) {
    tracing::warn!(%ip, reason = %block.reason, "address banned");
    metrics::counter!("palisade_bans_total", "why" => why).increment(1);
    shared.bans.insert(block);
}

/// Forgets old failures and strikes (the web console prunes its own sessions).
async fn prune(shared: &Shared) {
    let now = palisade_queue::now_secs();
    if let Err(e) = shared.store.prune_security(now).await {
        tracing::warn!(
            error = &e as &dyn std::error::Error,
            "cannot prune security state"
        );
    }
}

/// Keeps the list in step with the store (the server loads it once before accepting):
/// at once when the store says the bans changed, else every [`REFRESH`].
pub async fn refresh_loop(shared: Arc<Shared>) {
    let mut round = 0u32;
    let mut seen = shared.store.bans_generation();
    let mut last = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(WATCH).await;
        let now_seen = shared.store.bans_generation();
        if now_seen == seen && last.elapsed() < REFRESH {
            continue;
        }
        if last.elapsed() >= REFRESH {
            // The rate buckets' memory is bounded here too, once a minute.
            round = round.wrapping_add(1);
            if round.is_multiple_of(12) {
                shared.rates.prune();
                prune(&shared).await;
            }
            last = tokio::time::Instant::now();
        }
        seen = now_seen;
        reload(&shared).await;
    }
}

async fn reload(shared: &Shared) {
    match shared.store.list_bans(palisade_queue::now_secs()).await {
        Ok(bans) => shared.bans.replace(&bans),
        Err(e) => tracing::warn!(error = &e as &dyn std::error::Error, "cannot read bans"),
    }
}
