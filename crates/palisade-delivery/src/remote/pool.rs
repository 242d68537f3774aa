//! Connection reuse: a session whose transaction ended cleanly waits, briefly, for the
//! next message to the same server. The key is everything that made the session what
//! it is (address, MX name for the certificate check, the TLS requirement it was set
//! up to meet), so a reused session never carries a message under a weaker check than
//! a new one would.

use super::client::{Job, Session};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Idle sessions kept per key and in all (beyond them a session is closed).
const MAX_IDLE_PER_KEY: usize = 16;
const MAX_IDLE: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    addr: SocketAddr,
    mx_host: String,
    requirement: String,
    implicit_tls: bool,
    /// The account a session logged in with: never reused for another, or for none.
    login: Option<String>,
}

impl Key {
    pub fn of(job: &Job<'_>) -> Key {
        Key {
            addr: job.addr,
            mx_host: job.mx_host.to_ascii_lowercase(),
            requirement: format!("{:?}", job.requirement),
            implicit_tls: job.implicit_tls,
            login: job.auth.map(|l| l.user.clone()),
        }
    }
}

struct Idle {
    id: u64,
    session: Session,
}

pub struct SessionPool {
    idle_for: Duration,
    max_transactions: u32,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    total: usize,
    idle: HashMap<Key, Vec<Idle>>,
}

impl SessionPool {
    pub fn new(idle_for: Duration, max_transactions: u32) -> Arc<SessionPool> {
        Arc::new(SessionPool {
            idle_for,
            max_transactions: max_transactions.max(1),
            state: Mutex::new(State::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most recently used idle session for `key`, if any.
    pub fn take(&self, key: &Key) -> Option<Session> {
        let mut st = self.lock();
        let list = st.idle.get_mut(key)?;
        let idle = list.pop()?;
        if list.is_empty() {
            st.idle.remove(key);
        }
        st.total -= 1;
        Some(idle.session)
    }

    /// Keeps `session` for the next message, or closes it (QUIT in the background).
    pub fn put(self: &Arc<Self>, key: Key, session: Session) {
        let keep = !self.idle_for.is_zero()
            && session.reusable()
            && session.transactions < self.max_transactions;
        let id = {
            let mut st = self.lock();
            let room =
                st.total < MAX_IDLE && st.idle.get(&key).is_none_or(|l| l.len() < MAX_IDLE_PER_KEY);
            if keep && room {
                st.next_id += 1;
                let id = st.next_id;
                st.total += 1;
                st.idle
                    .entry(key.clone())
                    .or_default()
                    .push(Idle { id, session });
                Some(id)
            } else {
                drop(st);
                tokio::spawn(session.quit());
                None
            }
        };
        let Some(id) = id else { return };
        // After the idle time, close it if nobody took it.
        let pool = Arc::downgrade(self);
        let wait = self.idle_for;
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let Some(pool) = pool.upgrade() else { return };
            let expired = {
                let mut st = pool.lock();
                let found = st.idle.get_mut(&key).and_then(|list| {
                    let i = list.iter().position(|x| x.id == id)?;
                    Some(list.remove(i))
                });
                if st.idle.get(&key).is_some_and(Vec::is_empty) {
                    st.idle.remove(&key);
                }
                if found.is_some() {
                    st.total -= 1;
                }
                found
            };
            if let Some(idle) = expired {
                idle.session.quit().await;
            }
        });
    }
}
