//! The delivery scheduler: first attempts, retries with backoff, expiry.

use crate::file::SpooledMessage;
use crate::spool::Spool;
use palisade_store::{Event, QueueStatus, Store};
use palisade_types::{Address, QueueId};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{Semaphore, mpsc, watch};

/// The result of delivering to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again later (e.g. disk full).
    Transient(String),
    /// Never going to work (e.g. the mailbox was removed).
    Permanent(String),
}

/// Where messages go: the Maildir target now, remote SMTP later.
#[async_trait::async_trait]
pub trait Target: Send + Sync + 'static {
    /// Delivers `msg` to `rcpts`, returning one outcome per recipient in order.
    /// `recovering` is set when an earlier attempt may have completed unrecorded (after
    /// a crash or a failed attempt), so the target must check for a previous copy.
    async fn deliver(
        &self,
        msg: &SpooledMessage,
        rcpts: &[Address],
        recovering: bool,
    ) -> Vec<Outcome>;
}

/// Tells senders about recipients that will never get their message (DSN, RFC 3464).
#[async_trait::async_trait]
pub trait Bouncer: Send + Sync + 'static {
    /// `failures` ended for good: permanently refused, or expired (`expired`). Called
    /// before the spool file goes; the implementation skips the null sender itself.
    async fn bounce(&self, msg: &SpooledMessage, failures: &[(Address, String)], expired: bool);
}

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    pub queue_dir: PathBuf,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub max_age: Duration,
    /// Messages delivered at once.
    pub concurrency: usize,
}

pub struct Scheduler<T: Target> {
    cfg: SchedulerConfig,
    store: Arc<dyn Store>,
    target: Arc<T>,
    bouncer: Option<Arc<dyn Bouncer>>,
    in_flight: Arc<Mutex<HashSet<QueueId>>>,
    /// Messages that arrived before this process started may have been delivered by it.
    started_at: i64,
}

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Delay before retry number `attempts` (1-based): initial × 2^(attempts-1), capped.
pub fn backoff(initial: Duration, max: Duration, attempts: u32) -> Duration {
    let factor = 1u32
        .checked_shl(attempts.saturating_sub(1))
        .unwrap_or(u32::MAX);
    initial.checked_mul(factor).unwrap_or(max).min(max)
}

impl<T: Target> Scheduler<T> {
    pub fn new(
        cfg: SchedulerConfig,
        store: Arc<dyn Store>,
        target: Arc<T>,
        bouncer: Option<Arc<dyn Bouncer>>,
    ) -> Self {
        Scheduler {
            cfg,
            store,
            target,
            bouncer,
            in_flight: Arc::new(Mutex::new(HashSet::new())),
            started_at: now_secs(),
        }
    }

    /// Runs until `shutdown` turns true and the deliveries in progress finish. Ids from
    /// `committed` are fresh messages (or recovered at start); retries come from the store.
    pub async fn run(
        self,
        mut committed: mpsc::UnboundedReceiver<QueueId>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let me = Arc::new(self);
        let permits = Arc::new(Semaphore::new(me.cfg.concurrency.max(1)));
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                id = committed.recv() => {
                    let Some(id) = id else { break };
                    metrics::gauge!("palisade_queue_depth").increment(1.0);
                    me.clone().spawn(id, true, permits.clone()).await;
                }
                _ = tick.tick() => me.clone().retry_due(permits.clone()).await,
                _ = shutdown.changed() => break,
            }
        }
        // Wait for deliveries in progress (they hold permits).
        let _ = permits.acquire_many(me.cfg.concurrency.max(1) as u32).await;
    }

    async fn spawn(self: Arc<Self>, id: QueueId, fresh: bool, permits: Arc<Semaphore>) {
        let Ok(permit) = permits.acquire_owned().await else {
            return;
        };
        if !self.lock_in_flight().insert(id) {
            return;
        }
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            if self.deliver(id, fresh).await && fresh {
                metrics::histogram!("palisade_delivery_latency_seconds")
                    .record(started.elapsed().as_secs_f64());
            }
            self.lock_in_flight().remove(&id);
            drop(permit);
        });
    }

    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<QueueId>> {
        // A panic while holding this lock cannot leave the set inconsistent.
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn retry_due(self: Arc<Self>, permits: Arc<Semaphore>) {
        let due = match self.store.list_queue_status().await {
            Ok(all) => all,
            Err(e) => {
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "cannot read queue status"
                );
                return;
            }
        };
        let now = now_secs();
        for s in due.into_iter().filter(|s| s.next_attempt <= now) {
            self.clone().spawn(s.id, false, permits.clone()).await;
        }
    }

    /// One delivery attempt; true when the message is done (delivered or failed for good).
    async fn deliver(&self, id: QueueId, fresh: bool) -> bool {
        let span = tracing::info_span!("delivery", queue_id = %id);
        let _guard = span.enter();
        let path = Spool::active_dir(&self.cfg.queue_dir).join(id.to_string());
        let msg = match SpooledMessage::open(&path, id) {
            Ok(m) => m,
            Err(crate::SpoolFileError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                // Deleted by `palisade queue delete` meanwhile.
                let _ = self.store.remove_queue_status(id).await;
                metrics::gauge!("palisade_queue_depth").decrement(1.0);
                return false;
            }
            Err(e) => {
                tracing::error!(
                    error = &e as &dyn std::error::Error,
                    "unreadable spool file; left in place"
                );
                return false;
            }
        };
        // A fresh id has no status row; skipping the read keeps the hot path off the store.
        let status = if fresh {
            None
        } else {
            self.store.queue_status(id).await.ok().flatten()
        };
        let mut status = status.unwrap_or(QueueStatus {
            id,
            attempts: 0,
            next_attempt: 0,
            last_error: None,
            delivered: Vec::new(),
            updated: now_secs(),
        });
        let pending: Vec<Address> = msg
            .envelope
            .rcpt_to
            .iter()
            .filter(|r| !status.delivered.contains(&r.to_string()))
            .cloned()
            .collect();
        // After a crash a fresh-looking id may already be delivered: recovered ids are
        // sent as "fresh" at start, so the target always checks when attempts > 0 or the
        // message is older than this process.
        let recovering = !fresh || status.attempts > 0 || msg.arrived <= self.started_at;
        let outcomes = self.target.deliver(&msg, &pending, recovering).await;
        let mut transient = Vec::new();
        let mut failed: Vec<(Address, String)> = Vec::new();
        for (rcpt, outcome) in pending.iter().zip(outcomes.iter()) {
            match outcome {
                Outcome::Delivered => {
                    status.delivered.push(rcpt.to_string());
                    metrics::counter!("palisade_deliveries_total", "outcome" => "delivered")
                        .increment(1);
                }
                Outcome::Permanent(why) => {
                    status.delivered.push(rcpt.to_string());
                    metrics::counter!("palisade_deliveries_total", "outcome" => "failed")
                        .increment(1);
                    tracing::warn!(rcpt = %rcpt, reason = %why, "delivery failed permanently");
                    self.event("delivery_failed", &msg, rcpt, why).await;
                    failed.push((rcpt.clone(), why.clone()));
                }
                Outcome::Transient(why) => transient.push((rcpt, why.clone())),
            }
        }
        if let (Some(b), false) = (&self.bouncer, failed.is_empty()) {
            b.bounce(&msg, &failed, false).await;
        }
        let age = now_secs().saturating_sub(msg.arrived);
        if transient.is_empty() || age as u64 >= self.cfg.max_age.as_secs() {
            for (rcpt, why) in &transient {
                self.event("delivery_expired", &msg, rcpt, why).await;
            }
            if let (Some(b), false) = (&self.bouncer, transient.is_empty()) {
                let expired: Vec<(Address, String)> = transient
                    .iter()
                    .map(|(r, w)| ((*r).clone(), w.clone()))
                    .collect();
                b.bounce(&msg, &expired, true).await;
            }
            if let Err(e) = std::fs::remove_file(&msg.path) {
                tracing::error!(
                    error = &e as &dyn std::error::Error,
                    "cannot remove delivered spool file"
                );
            }
            if !fresh || status.attempts > 0 {
                let _ = self.store.remove_queue_status(id).await;
            }
            metrics::gauge!("palisade_queue_depth").decrement(1.0);
            return true;
        }
        status.attempts += 1;
        // One line per recipient still pending: `palisade queue show` lists them.
        status.last_error = Some(
            transient
                .iter()
                .map(|(r, w)| format!("{r}: {}", w.replace('\n', " ")))
                .collect::<Vec<_>>()
                .join("\n"),
        )
        .filter(|e| !e.is_empty());
        status.next_attempt = now_secs()
            + backoff(self.cfg.retry_initial, self.cfg.retry_max, status.attempts).as_secs() as i64;
        status.updated = now_secs();
        tracing::info!(attempts = status.attempts, error = ?status.last_error, "delivery deferred");
        metrics::counter!("palisade_deliveries_total", "outcome" => "deferred").increment(1);
        if let Err(e) = self.store.put_queue_status(&status).await {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "cannot record queue status"
            );
        }
        false
    }

    async fn event(&self, kind: &str, msg: &SpooledMessage, rcpt: &Address, why: &str) {
        let e = Event {
            time: now_secs(),
            kind: kind.to_string(),
            subject: msg.id.to_string(),
            detail: format!("from {} to {rcpt}: {why}", msg.envelope.return_path()),
        };
        if let Err(err) = self.store.record_event(&e).await {
            tracing::error!(
                error = &err as &dyn std::error::Error,
                "cannot record event"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let (i, m) = (Duration::from_secs(60), Duration::from_secs(3600));
        assert_eq!(backoff(i, m, 1), Duration::from_secs(60));
        assert_eq!(backoff(i, m, 2), Duration::from_secs(120));
        assert_eq!(backoff(i, m, 6), Duration::from_secs(1920));
        assert_eq!(backoff(i, m, 7), Duration::from_secs(3600));
        assert_eq!(backoff(i, m, 100), Duration::from_secs(3600));
    }
}
