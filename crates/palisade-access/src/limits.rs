//! Connection limits, checked before any per-connection work (DESIGN §3.1): the SMTP
//! listeners' (`smtp.max_connections`, `smtp.max_connections_per_ip`) and the HTTP
//! listeners' share per address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Counts connections in total and per client IP.
pub struct ConnectionLimits {
    max_total: AtomicUsize,
    max_per_ip: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    total: AtomicUsize,
}

/// A counted connection; dropping it releases the slot.
pub struct Slot {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
}

impl ConnectionLimits {
    pub fn new(max_total: usize, max_per_ip: usize) -> Self {
        ConnectionLimits {
            max_total: AtomicUsize::new(max_total),
            max_per_ip: AtomicUsize::new(max_per_ip),
            per_ip: Mutex::new(HashMap::new()),
            total: AtomicUsize::new(0),
        }
    }

    pub fn set_limits(&self, max_total: usize, max_per_ip: usize) {
        self.max_total.store(max_total, Ordering::Relaxed);
        self.max_per_ip.store(max_per_ip, Ordering::Relaxed);
    }

    pub fn active(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.per_ip.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a connection from `ip`, or `None` if a limit is reached.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut map = self.map();
        if self.total.load(Ordering::Relaxed) >= self.max_total.load(Ordering::Relaxed) {
            return None;
        }
        let n = map.entry(ip).or_insert(0);
        if *n >= self.max_per_ip.load(Ordering::Relaxed) {
            return None;
        }
        *n += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        Some(Slot {
            limits: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.limits.map();
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
        self.limits.total.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_and_total_limits() {
        let l = Arc::new(ConnectionLimits::new(3, 2));
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let s1 = l.try_acquire(a);
        let s2 = l.try_acquire(a);
        assert!(s1.is_some() && s2.is_some());
        assert!(l.try_acquire(a).is_none(), "per-IP limit");
        let s3 = l.try_acquire(b);
        assert!(s3.is_some());
        assert!(l.try_acquire(b).is_none(), "total limit");
        drop(s1);
        assert!(l.try_acquire(b).is_some());
        drop((s2, s3));
        assert_eq!(l.active(), 0);
    }
}
