//! Expiry (RFC 5321 §4.5.4.1: give up after a few days, then tell the sender): a
//! message whose recipient keeps failing transiently is retried with backoff until
//! `max_age`, then bounced as expired, and its spool file and status go. The target
//! here is a destination that is always down; the spool and store are the real ones.
#![allow(clippy::unwrap_used)]

use palisade_queue::{Bouncer, Outcome, Scheduler, SchedulerConfig, Spool, SpooledMessage, Target};
use palisade_store::{SqliteStore, Store};
use palisade_types::{Address, BodyType, Envelope};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct AlwaysDown {
    attempts: Mutex<u32>,
}

#[async_trait::async_trait]
impl Target for AlwaysDown {
    async fn deliver(&self, _: &SpooledMessage, rcpts: &[Address], _: bool) -> Vec<Outcome> {
        *self.attempts.lock().unwrap() += 1;
        vec![Outcome::Transient("421 4.3.2 down for maintenance".into()); rcpts.len()]
    }
}

/// One bounce: the failed recipients with their reasons, and whether they expired.
type Bounce = (Vec<(Address, String)>, bool);

#[derive(Default)]
struct Recorded(Mutex<Vec<Bounce>>);

#[async_trait::async_trait]
impl Bouncer for Recorded {
    async fn bounce(&self, _: &SpooledMessage, failures: &[(Address, String)], expired: bool) {
        self.0.lock().unwrap().push((failures.to_vec(), expired));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_until_max_age_expire_with_a_bounce() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db")).await.unwrap());
    let queue_dir = dir.path().join("queue");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let spool = Spool::open(&queue_dir, tx).unwrap();
    let target = Arc::new(AlwaysDown {
        attempts: Mutex::new(0),
    });
    let bounces = Arc::new(Recorded::default());
    let scheduler = Scheduler::new(
        SchedulerConfig {
            queue_dir: queue_dir.clone(),
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(1),
            max_age: Duration::from_secs(3),
            concurrency: 4,
            attempt_timeout: Duration::from_secs(60),
        },
        store.clone(),
        target.clone(),
        Some(bounces.clone() as Arc<dyn Bouncer>),
    );
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(scheduler.run(rx, stop_rx));

    let rcpt = Address::parse("bob@down.test").unwrap();
    let envelope = Envelope {
        mail_from: Some(Address::parse("alice@local.test").unwrap()),
        rcpt_to: vec![rcpt.clone()],
        body: BodyType::SevenBit,
        smtputf8: false,
        declared_size: None,
        helo: "client.test".into(),
        client_ip: "127.0.0.1".parse().unwrap(),
        tls: None,
        auth: None,
        require_tls: false,
    };
    let mut w = spool
        .create(&envelope, palisade_queue::now_secs(), |_| Vec::new())
        .unwrap();
    w.append(b"Subject: never\r\n\r\nx\r\n").unwrap();
    let id = w.commit().await.unwrap().id();

    // Deferred first, with the reason recorded for `palisade queue`.
    let mut deferred = None;
    for _ in 0..100 {
        deferred = store.queue_status(id).await.unwrap();
        if deferred.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deferred = deferred.expect("a deferral recorded");
    assert!(
        deferred
            .last_error
            .unwrap_or_default()
            .contains("421 4.3.2")
    );
    assert!(bounces.0.lock().unwrap().is_empty(), "not expired yet");

    // Then, past max_age, one expiry bounce naming the recipient and the last reason.
    for _ in 0..300 {
        if !bounces.0.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recorded = bounces.0.lock().unwrap().clone();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    let (failures, expired) = &recorded[0];
    assert!(expired);
    assert_eq!(failures[0].0, rcpt);
    assert!(failures[0].1.contains("421 4.3.2"));
    assert!(
        *target.attempts.lock().unwrap() >= 2,
        "retried before giving up"
    );
    // Nothing left behind.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(store.queue_status(id).await.unwrap().is_none());
    assert!(!Spool::active_dir(&queue_dir).join(id.to_string()).exists());
    let _ = stop.send(true);
    running.await.unwrap();
}
