//! The daily recipient quota across concurrent sessions.
//!
//! A submitted message's recipients are recorded in the store after its `250`, so two
//! sessions of one user that both counted below `submission.max_recipients_per_day`
//! could each accept a full message: the quota was overshot by sessions × recipients.
//! Each accepted `RCPT` now reserves its place here first (atomically with the check),
//! and the reservation is held until the message is recorded or the transaction ends.
//!
//! The store's count is asked once per user and [`RECOUNT`], not at every `RCPT`: the
//! recipients this process records are added to the remembered count as their
//! reservation is given back ([`Reserved::settle`]), so it never counts fewer than the
//! store does. A count can only fall as the day slides on, so a remembered one errs on
//! the side of refusing, for at most [`RECOUNT`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a user's recorded count is used before the store is asked again.
pub const RECOUNT: Duration = Duration::from_secs(60);

/// Recipients accepted but not yet recorded, per user, and the recorded counts.
#[derive(Default)]
pub struct Reservations {
    held: Mutex<HashMap<String, u64>>,
    /// Each user's recipients of the last day, as last read plus those settled since.
    recorded: Mutex<HashMap<String, (u64, Instant)>>,
    /// Moves at every settle: a count read while one happened may miss it.
    settled: AtomicU64,
}

/// A ticket for remembering a count read from the store ([`Reservations::remember`]).
#[derive(Debug, Clone, Copy)]
pub struct Epoch(u64);

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

    /// The remembered count of `user`'s recipients of the last day, if read within
    /// [`RECOUNT`]; otherwise `None` and the [`Epoch`] to remember a fresh one under.
    pub fn recorded(&self, user: &str) -> Result<u64, Epoch> {
        let epoch = Epoch(self.settled.load(Ordering::Acquire));
        let counts = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
        match counts.get(user) {
            Some((n, read)) if read.elapsed() < RECOUNT => Ok(*n),
            _ => Err(epoch),
        }
    }

    /// Remembers `count`, read from the store after [`Reservations::recorded`] gave
    /// `epoch`, unless a submission was settled meanwhile (the read may have missed it).
    pub fn remember(&self, user: &str, count: u64, epoch: Epoch) {
        let mut counts = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
        if self.settled.load(Ordering::Acquire) != epoch.0 {
            return;
        }
        if counts.len() >= MAX_USERS {
            counts.retain(|_, (_, read)| read.elapsed() < RECOUNT);
        }
        if counts.len() < MAX_USERS {
            counts.insert(user.to_string(), (count, Instant::now()));
        }
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

/// Users whose counts are remembered at most (the rest are asked at every `RCPT`).
const MAX_USERS: usize = 100_000;

impl Reserved {
    /// The reservation's recipients are in the store now (`recorded`) or were lost: a
    /// remembered count takes them over before the reservation is given back, so there
    /// is no moment when neither counts them.
    pub fn settle(self, recorded: bool) {
        if recorded {
            let mut counts = self
                .owner
                .recorded
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some((n, _)) = counts.get_mut(&self.user) {
                *n = n.saturating_add(self.n);
            }
        }
        self.owner.settled.fetch_add(1, Ordering::AcqRel);
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

    #[test]
    fn a_remembered_count_takes_over_settled_recipients_and_a_racing_read_is_not_kept() {
        let r = Arc::new(Reservations::default());
        let Err(epoch) = r.recorded("alice@x") else {
            panic!("nothing remembered yet");
        };
        r.remember("alice@x", 5, epoch);
        assert_eq!(r.recorded("alice@x").ok(), Some(5));
        // Two recipients recorded: the count has them before the reservation goes.
        let mut mine = None;
        assert!(r.try_add(&mut mine, "alice@x", 5, 8));
        assert!(r.try_add(&mut mine, "alice@x", 5, 8));
        if let Some(m) = mine.take() {
            m.settle(true);
        }
        assert_eq!(r.recorded("alice@x").ok(), Some(7));
        assert!(
            r.lock().get("alice@x").is_none(),
            "the reservation is given back"
        );
        // A count read while a submission settles may miss it: not remembered.
        let Err(epoch) = r.recorded("bob@x") else {
            panic!("nothing remembered for bob");
        };
        let mut bobs = None;
        assert!(r.try_add(&mut bobs, "bob@x", 0, 8));
        if let Some(b) = bobs.take() {
            b.settle(true);
        }
        r.remember("bob@x", 0, epoch);
        assert!(r.recorded("bob@x").is_err(), "asked again next time");
    }
}
