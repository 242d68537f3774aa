//! Per-address rate limits (token buckets, governor's GCRA): new connections per minute
//! and messages without AUTH per hour. Each node keeps its own buckets in memory: a
//! bucket is touched on every connection and message, too often for the store; the
//! per-user limits of submission, which must hold across nodes, are counted in the
//! store instead (see `containment`).

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use palisade_config::SecurityConfig;
use std::net::IpAddr;
use std::num::NonZeroU32;

pub struct Rates {
    connections: Option<DefaultKeyedRateLimiter<IpAddr>>,
    messages: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

fn limiter(per: fn(NonZeroU32) -> Quota, n: u64) -> Option<DefaultKeyedRateLimiter<IpAddr>> {
    let n = NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX))?;
    Some(RateLimiter::keyed(per(n)))
}

impl Rates {
    pub fn new(cfg: &SecurityConfig) -> Rates {
        Rates {
            connections: limiter(Quota::per_minute, cfg.connections_per_ip_per_minute),
            messages: limiter(Quota::per_hour, cfg.messages_per_ip_per_hour),
        }
    }

    /// Takes a token for a new connection from `ip`; false: over the limit.
    pub fn connection(&self, ip: IpAddr) -> bool {
        self.connections
            .as_ref()
            .is_none_or(|l| l.check_key(&ip).is_ok())
    }

    /// Takes a token for a message from `ip`; false: over the limit.
    pub fn message(&self, ip: IpAddr) -> bool {
        self.messages
            .as_ref()
            .is_none_or(|l| l.check_key(&ip).is_ok())
    }

    /// Forgets addresses whose buckets are full again (bounds the memory).
    pub fn prune(&self) {
        for l in [&self.connections, &self.messages].into_iter().flatten() {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}
