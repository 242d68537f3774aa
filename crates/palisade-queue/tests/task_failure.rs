//! Issue 15, High 1: acknowledged mail stuck until restart. A delivery task that dies
//! (a panic), hangs, or finds the store unreadable must never leave an acknowledged
//! message undelivered or deliver it twice. Each test runs the real scheduler on a real
//! spool and SQLite store with a target that misbehaves once, then works.
#![allow(clippy::unwrap_used)]

use palisade_queue::{Outcome, Scheduler, SchedulerConfig, Spool, SpooledMessage, Target};
use palisade_store::{QueueStatus, SqliteStore, Store};
use palisade_types::{Address, BodyType, Envelope, QueueId};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the first attempt misbehaves.
#[derive(Clone, Copy)]
enum FirstAttempt {
    Panic,
    Hang,
    Deliver,
}

/// Records every (message, recipient) it delivered.
struct Flaky {
    first: FirstAttempt,
    attempts: Mutex<u32>,
    delivered: Mutex<Vec<(QueueId, String)>>,
}

#[async_trait::async_trait]
impl Target for Flaky {
    async fn deliver(&self, msg: &SpooledMessage, rcpts: &[Address], _: bool) -> Vec<Outcome> {
        let n = {
            let mut a = self.attempts.lock().unwrap();
            *a += 1;
            *a
        };
        if n == 1 {
            match self.first {
                // The panic the attacker saw came from the tracing subscriber; any panic
                // inside a delivery must be survived the same way.
                FirstAttempt::Panic => panic!("delivery task dies"),
                FirstAttempt::Hang => std::future::pending::<()>().await,
                FirstAttempt::Deliver => {}
            }
        }
        let mut d = self.delivered.lock().unwrap();
        for r in rcpts {
            d.push((msg.id, r.to_string()));
        }
        vec![Outcome::Delivered; rcpts.len()]
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    db: PathBuf,
    store: Arc<dyn Store>,
    queue_dir: PathBuf,
    target: Arc<Flaky>,
}

impl Harness {
    async fn new(first: FirstAttempt) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).await.unwrap());
        let queue_dir = dir.path().join("queue");
        let target = Arc::new(Flaky {
            first,
            attempts: Mutex::new(0),
            delivered: Mutex::new(Vec::new()),
        });
        Harness {
            _dir: dir,
            db,
            store,
            queue_dir,
            target,
        }
    }

    fn scheduler(&self) -> Scheduler<Flaky> {
        Scheduler::new(
            SchedulerConfig {
                queue_dir: self.queue_dir.clone(),
                retry_initial: Duration::from_secs(1),
                retry_max: Duration::from_secs(1),
                max_age: Duration::from_secs(3600),
                concurrency: 4,
                attempt_timeout: Duration::from_secs(1),
            },
            self.store.clone(),
            self.target.clone(),
            None,
        )
    }

    /// Waits until the spool file is gone (every recipient done), up to 15 s.
    async fn wait_done(&self, id: QueueId) {
        let path = Spool::active_dir(&self.queue_dir).join(id.to_string());
        for _ in 0..750 {
            if !path.exists() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("message {id} still in queue/active");
    }

    fn delivered(&self) -> Vec<(QueueId, String)> {
        self.target.delivered.lock().unwrap().clone()
    }
}

async fn commit(spool: &Spool, rcpts: &[&str]) -> QueueId {
    let envelope = Envelope {
        mail_from: Some(Address::parse("alice@local.test").unwrap()),
        rcpt_to: rcpts.iter().map(|r| Address::parse(r).unwrap()).collect(),
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
    w.append(b"Subject: acknowledged\r\n\r\nx\r\n").unwrap();
    w.commit().await.unwrap().id()
}

/// Runs the scheduler on `h`, commits one message to `rcpts`, waits for it to finish.
async fn deliver_one(h: &Harness, rcpts: &[&str]) -> QueueId {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let spool = Spool::open(&h.queue_dir, tx).unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(h.scheduler().run(rx, stop_rx));
    let id = commit(&spool, rcpts).await;
    h.wait_done(id).await;
    let _ = stop.send(true);
    running.await.unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_task_panic_goes_back_to_the_retry_schedule() {
    let h = Harness::new(FirstAttempt::Panic).await;
    let id = deliver_one(&h, &["bob@remote.test"]).await;
    assert_eq!(h.delivered(), vec![(id, "bob@remote.test".to_string())]);
    assert_eq!(*h.target.attempts.lock().unwrap(), 2);
    assert!(h.store.queue_status(id).await.unwrap().is_none());
    assert!(Spool::list_active(&h.queue_dir).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_attempt_that_hangs_is_cancelled_and_retried() {
    let h = Harness::new(FirstAttempt::Hang).await;
    let id = deliver_one(&h, &["bob@remote.test"]).await;
    assert_eq!(h.delivered(), vec![(id, "bob@remote.test".to_string())]);
    assert_eq!(*h.target.attempts.lock().unwrap(), 2);
    assert!(Spool::list_active(&h.queue_dir).unwrap().is_empty());
}

/// A retry whose status row cannot be read delivers nothing (bob already has his copy):
/// "unknown" is not "nothing delivered yet". Once the store answers, only carol gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_read_error_defers_and_never_delivers_twice() {
    let h = Harness::new(FirstAttempt::Deliver).await;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let spool = Spool::open(&h.queue_dir, tx).unwrap();
    // Committed while no scheduler listens; its status says bob is done, carol is due.
    let id = commit(&spool, &["bob@remote.test", "carol@remote.test"]).await;
    h.store
        .put_queue_status(&QueueStatus {
            id,
            attempts: 1,
            next_attempt: 0,
            last_error: Some("carol@remote.test: 451 4.3.0 try later".into()),
            delivered: vec!["bob@remote.test".into()],
            updated: palisade_queue::now_secs(),
        })
        .await
        .unwrap();
    drop(rx);
    run_sql(
        &h.db,
        "ALTER TABLE queue_status RENAME TO queue_status_hidden",
    )
    .await;

    let (_tx2, rx2) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    // The id reaches the scheduler as a recovered one would (a row says it is due).
    let running = tokio::spawn(h.scheduler().run(rx2, stop_rx));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(h.delivered().is_empty(), "nothing delivered while unknown");
    run_sql(
        &h.db,
        "ALTER TABLE queue_status_hidden RENAME TO queue_status",
    )
    .await;
    h.wait_done(id).await;
    let _ = stop.send(true);
    running.await.unwrap();
    assert_eq!(h.delivered(), vec![(id, "carol@remote.test".to_string())]);
}

/// A message recovered at start after a crash is sent as "fresh": its recorded
/// deliveries must still be honoured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovered_message_keeps_its_delivered_recipients() {
    let h = Harness::new(FirstAttempt::Deliver).await;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let spool = Spool::open(&h.queue_dir, tx).unwrap();
    let id = commit(&spool, &["bob@remote.test", "carol@remote.test"]).await;
    h.store
        .put_queue_status(&QueueStatus {
            id,
            attempts: 1,
            next_attempt: i64::MAX,
            last_error: None,
            delivered: vec!["bob@remote.test".into()],
            updated: palisade_queue::now_secs(),
        })
        .await
        .unwrap();
    drop((spool, rx));
    // Restart: recovery sends the committed id on the new channel.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let id2 = deliver_recovered(&h).await;
    assert_eq!(id, id2);
    assert_eq!(h.delivered(), vec![(id, "carol@remote.test".to_string())]);
}

async fn deliver_recovered(h: &Harness) -> QueueId {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let _spool = Spool::open(&h.queue_dir, tx).unwrap();
    let id = Spool::list_active(&h.queue_dir).unwrap()[0];
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(h.scheduler().run(rx, stop_rx));
    h.wait_done(id).await;
    let _ = stop.send(true);
    running.await.unwrap();
    id
}

/// A committed message whose id never reached the scheduler and that has no status
/// row (its attempt died before anything was recorded) is found by the sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphaned_committed_message_is_swept_into_the_retry_schedule() {
    let h = Harness::new(FirstAttempt::Deliver).await;
    let (tx, _lost) = tokio::sync::mpsc::unbounded_channel();
    let spool = Spool::open(&h.queue_dir, tx).unwrap();
    let id = commit(&spool, &["bob@remote.test"]).await;
    let (_tx2, rx2) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(h.scheduler().run(rx2, stop_rx));
    h.wait_done(id).await;
    let _ = stop.send(true);
    running.await.unwrap();
    assert_eq!(h.delivered(), vec![(id, "bob@remote.test".to_string())]);
}

async fn run_sql(db: &Path, sql: &'static str) {
    use sqlx::ConnectOptions;
    use sqlx::sqlite::SqliteConnectOptions;
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .connect()
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut conn).await.unwrap();
}
