//! The delivery scheduler: first attempts, retries with backoff, expiry.

use crate::file::SpooledMessage;
use crate::spool::{Committed, Spool};
use palisade_store::{Event, QueueStatus, Store};
use palisade_types::{Address, QueueId};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::AbortHandle;
use tracing::Instrument;

/// How an attempt came about: a message just committed (its first attempt, maybe with
/// the message still in memory), or a retry or recovery (read from its file).
enum Fresh {
    Yes(Option<Box<SpooledMessage>>),
    No,
}

/// How one attempt ended, as far as the watcher needs to know.
enum Attempt {
    /// Every recipient finished (delivered, failed for good, or expired).
    Done,
    /// Some recipients wait for a retry; the schedule is in the store.
    Deferred,
    /// Nothing was attempted (file gone or unreadable, status unknown).
    Skipped,
}

fn new_status(id: QueueId) -> QueueStatus {
    QueueStatus {
        id,
        attempts: 0,
        next_attempt: 0,
        last_error: None,
        delivered: Vec::new(),
        updated: now_secs(),
    }
}

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
    /// The longest one delivery attempt may take. An attempt still running then is
    /// cancelled and its message goes back to the retry schedule.
    pub attempt_timeout: Duration,
}

/// A delivery in progress: since when, and how to cancel it.
struct InFlight {
    since: Instant,
    abort: Option<AbortHandle>,
}

pub struct Scheduler<T: Target> {
    cfg: SchedulerConfig,
    store: Arc<dyn Store>,
    target: Arc<T>,
    bouncer: Option<Arc<dyn Bouncer>>,
    in_flight: Mutex<HashMap<QueueId, InFlight>>,
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

/// How often the sweep looks for stuck deliveries and orphaned spool files.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

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
            in_flight: Mutex::new(HashMap::new()),
            started_at: now_secs(),
        }
    }

    /// Runs until `shutdown` turns true and the deliveries in progress finish. Ids from
    /// `committed` are fresh messages (or recovered at start); retries come from the store.
    pub async fn run(
        self,
        mut committed: mpsc::UnboundedReceiver<Committed>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let me = Arc::new(self);
        let permits = Arc::new(Semaphore::new(me.cfg.concurrency.max(1)));
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut sweep = tokio::time::interval(me.sweep_every());
        loop {
            tokio::select! {
                c = committed.recv() => {
                    let Some(c) = c else { break };
                    metrics::gauge!("palisade_queue_depth").increment(1.0);
                    me.clone().spawn(c.id, Fresh::Yes(c.held.map(Box::new)), permits.clone()).await;
                }
                _ = tick.tick() => me.clone().retry_due(permits.clone()).await,
                // Only with nothing waiting in `committed`: an id there is not orphaned.
                _ = sweep.tick() => me.sweep(committed.is_empty()).await,
                _ = shutdown.changed() => break,
            }
        }
        // Wait for deliveries in progress (they hold permits).
        let _ = permits.acquire_many(me.cfg.concurrency.max(1) as u32).await;
    }

    /// Starts one delivery attempt in its own task, watched by a second one: whatever
    /// way the attempt ends (done, deferred, timed out, panicked, cancelled), the message
    /// is either finished or back on the retry schedule, and its slot is released.
    async fn spawn(self: Arc<Self>, id: QueueId, fresh: Fresh, permits: Arc<Semaphore>) {
        let Ok(permit) = permits.acquire_owned().await else {
            return;
        };
        if !self.claim(id) {
            return;
        }
        let me = self.clone();
        let limit = self.cfg.attempt_timeout;
        // `instrument`, never `span.enter()`: a guard held across `.await` moves between
        // worker threads and corrupts the subscriber's span stack (it panicked there).
        let span = tracing::info_span!("delivery", queue_id = %id);
        let first = matches!(fresh, Fresh::Yes(_));
        let attempt = tokio::spawn(
            async move { tokio::time::timeout(limit, me.deliver(id, fresh)).await }
                .instrument(span.clone()),
        );
        self.set_abort(id, attempt.abort_handle());
        tokio::spawn(
            async move {
                let started = Instant::now();
                match attempt.await {
                    Ok(Ok(Attempt::Done)) if first => {
                        metrics::histogram!("palisade_delivery_latency_seconds")
                            .record(started.elapsed().as_secs_f64());
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(_)) => self.requeue(id, "delivery attempt timed out").await,
                    Err(e) => {
                        let why = if e.is_panic() {
                            "panicked"
                        } else {
                            "was cancelled"
                        };
                        tracing::error!("delivery attempt {why}; retrying later");
                        self.requeue(id, &format!("delivery attempt {why}")).await;
                    }
                }
                self.release(id);
                drop(permit);
            }
            .instrument(span),
        );
    }

    fn sweep_every(&self) -> Duration {
        SWEEP_EVERY.min(self.cfg.attempt_timeout)
    }

    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<QueueId, InFlight>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks `id` as being delivered; false when it already is.
    fn claim(&self, id: QueueId) -> bool {
        let mut map = self.lock_in_flight();
        if map.contains_key(&id) {
            return false;
        }
        let since = Instant::now();
        map.insert(id, InFlight { since, abort: None });
        true
    }

    fn set_abort(&self, id: QueueId, abort: AbortHandle) {
        if let Some(f) = self.lock_in_flight().get_mut(&id) {
            f.abort = Some(abort);
        }
    }

    fn release(&self, id: QueueId) {
        self.lock_in_flight().remove(&id);
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
            self.clone().spawn(s.id, Fresh::No, permits.clone()).await;
        }
    }

    /// Puts a message whose attempt ended without an outcome back on the retry
    /// schedule, keeping what was delivered already. Unreadable status is left alone:
    /// writing a fresh one would forget delivered recipients (the sweep tries again).
    async fn requeue(&self, id: QueueId, why: &str) {
        let status = match self.store.queue_status(id).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(
                    error = &e as &dyn std::error::Error,
                    "cannot read queue status to requeue"
                );
                return;
            }
        };
        let mut status = status.unwrap_or_else(|| new_status(id));
        self.schedule_retry(&mut status, Some(why.to_string()))
            .await;
    }

    /// The safety net: cancels attempts running well past their deadline (the watcher
    /// then requeues them) and schedules committed messages that nothing delivers, no
    /// delivery running and no status row, such as an id whose attempt died before
    /// anything was recorded. `channel_empty`: no committed id is waiting to start.
    async fn sweep(&self, channel_empty: bool) {
        let overdue = self.cfg.attempt_timeout + self.sweep_every();
        for (id, f) in self.lock_in_flight().iter() {
            if f.since.elapsed() > overdue {
                tracing::error!(queue_id = %id, "delivery stuck past its deadline; cancelling");
                if let Some(a) = &f.abort {
                    a.abort();
                }
            }
        }
        if !channel_empty {
            return;
        }
        let active = Spool::active_dir(&self.cfg.queue_dir);
        let Ok(ids) = Spool::list_active(&self.cfg.queue_dir) else {
            return;
        };
        for id in ids {
            let path = active.join(id.to_string());
            let old = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > overdue));
            if !old || self.lock_in_flight().contains_key(&id) {
                continue;
            }
            if let Ok(None) = self.store.queue_status(id).await {
                tracing::warn!(queue_id = %id, "committed message had no delivery scheduled");
                let mut status = new_status(id);
                status.next_attempt = now_secs();
                self.put_status(&status).await;
            }
        }
    }

    /// One delivery attempt.
    async fn deliver(&self, id: QueueId, fresh: Fresh) -> Attempt {
        let path = Spool::active_dir(&self.cfg.queue_dir).join(id.to_string());
        let (fresh, held) = match fresh {
            Fresh::Yes(held) => (true, held),
            Fresh::No => (false, None),
        };
        // Kept in memory by the committer: only whether the file is still there (not
        // deleted by `palisade queue delete` meanwhile) is asked of the disk.
        let opened =
            match held {
                Some(m) => std::fs::metadata(&path).map(|_| *m).map_err(|source| {
                    crate::SpoolFileError::Io {
                        path: path.clone(),
                        source,
                    }
                }),
                None => SpooledMessage::open(&path, id),
            };
        let msg = match opened {
            Ok(m) => m,
            Err(crate::SpoolFileError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                // Deleted by `palisade queue delete` meanwhile.
                let _ = self.store.remove_queue_status(id).await;
                metrics::gauge!("palisade_queue_depth").decrement(1.0);
                return Attempt::Skipped;
            }
            Err(e) => {
                tracing::error!(
                    error = &e as &dyn std::error::Error,
                    "unreadable spool file; left in place"
                );
                return Attempt::Skipped;
            }
        };
        // A message committed by this process has no status row until its first
        // deferral: skipping the read keeps the hot path off the store. Anything else
        // (a retry, or recovered at start) may have delivered recipients recorded.
        let status = if fresh && msg.arrived > self.started_at {
            None
        } else {
            match self.store.queue_status(id).await {
                Ok(s) => s,
                // Unknown is not "nothing delivered yet": deliver nothing, try later.
                Err(e) => {
                    tracing::warn!(
                        error = &e as &dyn std::error::Error,
                        "cannot read queue status; delivery deferred"
                    );
                    return Attempt::Skipped;
                }
            }
        };
        let had_row = status.is_some();
        let mut status = status.unwrap_or_else(|| new_status(id));
        // After a crash a fresh-looking id may already be delivered: recovered ids are
        // sent as "fresh" at start, so the target always checks when attempts > 0 or the
        // message is older than this process.
        let recovering = !fresh || status.attempts > 0 || msg.arrived <= self.started_at;
        let pending: Vec<Address> = msg
            .envelope
            .rcpt_to
            .iter()
            .filter(|r| !status.delivered.contains(&r.to_string()))
            .cloned()
            .collect();
        let outcomes = self.target.deliver(&msg, &pending, recovering).await;
        let transient = self.record(&msg, &pending, &outcomes, &mut status).await;
        let age = now_secs().saturating_sub(msg.arrived);
        if transient.is_empty() || age as u64 >= self.cfg.max_age.as_secs() {
            self.finish(&msg, &transient, had_row).await;
            return Attempt::Done;
        }
        // One line per recipient still pending: `palisade queue show` lists them.
        let why = transient
            .iter()
            .map(|(r, w)| format!("{r}: {}", w.replace('\n', " ")))
            .collect::<Vec<_>>()
            .join("\n");
        self.schedule_retry(&mut status, Some(why).filter(|e| !e.is_empty()))
            .await;
        Attempt::Deferred
    }

    /// Records each recipient's outcome in `status`, bounces permanent failures, and
    /// returns the recipients that failed transiently.
    async fn record(
        &self,
        msg: &SpooledMessage,
        pending: &[Address],
        outcomes: &[Outcome],
        status: &mut QueueStatus,
    ) -> Vec<(Address, String)> {
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
                    self.event("delivery_failed", msg, rcpt, why).await;
                    failed.push((rcpt.clone(), why.clone()));
                }
                Outcome::Transient(why) => transient.push((rcpt.clone(), why.clone())),
            }
        }
        // A target that answered for fewer recipients than asked left the rest unknown.
        for rcpt in pending.iter().skip(outcomes.len()) {
            transient.push((rcpt.clone(), "no outcome from the delivery target".into()));
        }
        if let (Some(b), false) = (&self.bouncer, failed.is_empty()) {
            b.bounce(msg, &failed, false).await;
        }
        transient
    }

    /// Every recipient is done (or the rest expired): bounce the expired ones, then
    /// remove the spool file and the status row.
    async fn finish(&self, msg: &SpooledMessage, expired: &[(Address, String)], had_row: bool) {
        for (rcpt, why) in expired {
            self.event("delivery_expired", msg, rcpt, why).await;
        }
        if let (Some(b), false) = (&self.bouncer, expired.is_empty()) {
            b.bounce(msg, expired, true).await;
        }
        if let Err(e) = std::fs::remove_file(&msg.path) {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "cannot remove delivered spool file"
            );
        }
        if had_row {
            let _ = self.store.remove_queue_status(msg.id).await;
        }
        metrics::gauge!("palisade_queue_depth").decrement(1.0);
    }

    /// Counts one more attempt and schedules the next after the backoff.
    async fn schedule_retry(&self, status: &mut QueueStatus, why: Option<String>) {
        status.attempts += 1;
        status.last_error = why;
        status.next_attempt = now_secs()
            + backoff(self.cfg.retry_initial, self.cfg.retry_max, status.attempts).as_secs() as i64;
        status.updated = now_secs();
        tracing::info!(attempts = status.attempts, error = ?status.last_error, "delivery deferred");
        metrics::counter!("palisade_deliveries_total", "outcome" => "deferred").increment(1);
        self.put_status(status).await;
    }

    async fn put_status(&self, status: &QueueStatus) {
        if let Err(e) = self.store.put_queue_status(status).await {
            tracing::error!(
                error = &e as &dyn std::error::Error,
                "cannot record queue status"
            );
        }
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
