//! The daily recipient quota across concurrent sessions.
//!
//! A submitted message's recipients are recorded in the store after its `250`, so two
//! sessions of one user that both counted below `submission.max_recipients_per_day`
//! could each accept a full message: the quota was overshot by sessions × recipients.
//! Each accepted `RCPT` now reserves its place here first (atomically with the check),
//! and the reservation is held until the message is recorded or the transaction ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Recipients accepted but not yet recorded, per user.
#[derive(Default)]
pub struct Reservations {
    held: Mutex<HashMap<String, u64>>,
}

/// One transaction's reserved recipients; given back when dropped.
pub struct Reserved {
    owner: Arc<Reservations>,
    user: String,
    n: u64,
}

impl Reservations {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves one more recipient for `user` into `mine`, if `recorded` (the store's
    /// count for the last day) plus every reservation stays within `max`.
    pub fn try_add(
        self: &Arc<Self>,
        mine: &mut Option<Reserved>,
        user: &str,
        recorded: u64,
        max: u64,
    ) -> bool {
        let mut held = self.lock();
        let now = held.get(user).copied().unwrap_or(0);
        if recorded.saturating_add(now) >= max {
            return false;
        }
        held.insert(user.to_string(), now + 1);
        drop(held);
        match mine {
            Some(r) if r.user == user => r.n += 1,
            _ => {
                *mine = Some(Reserved {
                    owner: self.clone(),
                    user: user.to_string(),
                    n: 1,
                })
            }
        }
        true
    }

    fn release(&self, user: &str, n: u64) {
        let mut held = self.lock();
        if let Some(count) = held.get_mut(user) {
            *count = count.saturating_sub(n);
            if *count == 0 {
                held.remove(user);
            }
        }
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.owner.release(&self.user, self.n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_of_concurrent_transactions_add_up_and_are_given_back() {
        let r = Arc::new(Reservations::default());
        let (mut a, mut b) = (None, None);
        // Five recorded, limit eight: three more in all, whichever session asks.
        assert!(r.try_add(&mut a, "alice@x", 5, 8));
        assert!(r.try_add(&mut b, "alice@x", 5, 8));
        assert!(r.try_add(&mut a, "alice@x", 5, 8));
        assert!(!r.try_add(&mut b, "alice@x", 5, 8));
        // Another user is not affected.
        let mut c = None;
        assert!(r.try_add(&mut c, "bob@x", 0, 1));
        drop(a);
        assert!(r.try_add(&mut b, "alice@x", 5, 8));
        assert!(r.try_add(&mut b, "alice@x", 5, 8));
        assert!(!r.try_add(&mut b, "alice@x", 5, 8));
        drop(b);
        assert!(r.lock().get("alice@x").is_none());
    }
}
