//! Time to render the console's dashboard from a busy installation's store: a year of
//! counts from two nodes flushed hourly (every tally, reasons and verdicts, 50 refused
//! sender domains an hour; two weeks kept by the hour and the rest by the day, as the
//! server prunes them), 100,000 security events, 100,000 queue records of which 10,000
//! are messages waiting in the spool, and 10,000 users. Each range (48 hours, 30 days,
//! 365 days) is rendered to HTML 50 times; the median and the slowest are printed.
//!
//! `cargo bench -p palisade-web --bench dashboard`. Bounded: fixed sizes and runs.

#![allow(clippy::unwrap_used)]

use palisade_access::login::Refused;
use palisade_store::prelude::*;
use palisade_store::{Event, HourlyCount, QueueStatus, SqliteStore, Tally};
use palisade_types::{Address, Domain, QueueId};
use palisade_web::console::dashboard::{Range, render};
use palisade_web::console::{
    Doctor, DomainAudit, Held, Logins, Quarantine, QuarantineUnavailable, RecordCheck, WebAttempt,
};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUNS: usize = 50;
const HOURS: i64 = 365 * 24;
const NODES: [&str; 2] = ["mx1", "mx2"];
const EVENTS: usize = 100_000;
const QUEUE_RECORDS: usize = 100_000;
const SPOOLED: usize = 10_000;
const USERS: usize = 10_000;

/// The server's parts the dashboard never asks.
struct Unused;

#[async_trait::async_trait]
impl Logins for Unused {
    async fn login(&self, _: WebAttempt<'_>) -> Result<Address, Refused> {
        Err(Refused::Unavailable)
    }
    fn banned(&self, _: IpAddr) -> bool {
        false
    }
}

#[async_trait::async_trait]
impl Quarantine for Unused {
    async fn held(&self) -> Result<Vec<Held>, QuarantineUnavailable> {
        Err(QuarantineUnavailable)
    }
    async fn release(
        &self,
        _: QueueId,
        _: &Address,
        _: bool,
    ) -> Result<bool, QuarantineUnavailable> {
        Err(QuarantineUnavailable)
    }
    async fn delete(&self, _: QueueId) -> Result<bool, QuarantineUnavailable> {
        Err(QuarantineUnavailable)
    }
}

#[async_trait::async_trait]
impl Doctor for Unused {
    async fn check(&self, _: &Domain) -> Result<Vec<RecordCheck>, QuarantineUnavailable> {
        Err(QuarantineUnavailable)
    }
    async fn audit(&self, _: &Domain) -> Result<DomainAudit, QuarantineUnavailable> {
        Err(QuarantineUnavailable)
    }
}

/// One node's counts of one hour.
fn hour_rows(hour: i64) -> Vec<HourlyCount> {
    let n = 200 + (hour * 37) % 300;
    let row = |tally, key: &str, count| HourlyCount {
        hour,
        tally,
        key: key.to_string(),
        count,
    };
    let mut rows = vec![
        row(Tally::Received, "", n),
        row(Tally::Sent, "", n / 5),
        row(Tally::Delivered, "", n + n / 5),
        row(Tally::Deferred, "", n / 50),
        row(Tally::Bounced, "", n / 100),
        row(Tally::Quarantined, "", n / 40),
        row(Tally::SenderVerdict, "accept", n - 10),
        row(Tally::SenderVerdict, "quarantine", 6),
        row(Tally::SenderVerdict, "reject", 4),
        row(Tally::PhishVerdict, "quarantine", 3),
        row(Tally::Rejected, "no_such_user", 12),
        row(Tally::Rejected, "banned", 5),
        row(Tally::LoginFailed, "", 3),
    ];
    for d in 0..50 {
        rows.push(row(
            Tally::RejectedSender,
            &format!("spam{d}.test"),
            1 + d % 7,
        ));
    }
    rows
}

async fn seed(store: &SqliteStore, queue: &Path, now: i64) {
    let last = now / 3600;
    for node in NODES {
        for h in 0..HOURS {
            store
                .add_hourly_counts(node, &hour_rows(last - h))
                .await
                .unwrap();
        }
    }
    // What the server keeps: hours for two weeks, days for 400 days.
    store
        .prune_counts(last - 14 * 24, last / 24 - 400)
        .await
        .unwrap();
    for i in 0..EVENTS {
        let e = Event {
            time: now - i as i64,
            kind: "auth.fail".into(),
            subject: format!("user{}@example.test", i % USERS),
            detail: "from 192.0.2.1".into(),
        };
        store.record_event(&e).await.unwrap();
    }
    let domain = Domain::parse("example.test").unwrap();
    store.add_domain(&domain).await.unwrap();
    for i in 0..USERS {
        let a = Address::parse(&format!("user{i}@example.test")).unwrap();
        store
            .add_user(&a, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
            .await
            .unwrap();
    }
    let active = palisade_queue::Spool::active_dir(queue);
    std::fs::create_dir_all(&active).unwrap();
    for i in 0..QUEUE_RECORDS {
        let id = QueueId::generate();
        let s = QueueStatus {
            id,
            attempts: 1 + (i % 3) as u32,
            next_attempt: now + 600,
            last_error: Some("bob@example.net: 451 4.3.0 try later".into()),
            delivered: Vec::new(),
            updated: now,
        };
        store.put_queue_status(&s).await.unwrap();
        if i < SPOOLED {
            std::fs::write(active.join(id.to_string()), b"").unwrap();
        }
    }
}

fn state(store: Arc<SqliteStore>, queue: &Path) -> palisade_web::WebState {
    let config = Arc::new(palisade_config::parse("hostname = \"mx.example.test\"\n").unwrap());
    palisade_web::WebState {
        config: Arc::new(move || config.clone()),
        store,
        logins: Arc::new(Unused),
        quarantine: Arc::new(Unused),
        doctor: Arc::new(Unused),
        queue_dir: queue.to_path_buf(),
        ceremonies: Default::default(),
    }
}

/// Milliseconds `f` takes, the median of [`RUNS`].
async fn median_ms<F, Fut>(f: F) -> f64
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        f().await;
        times.push(t.elapsed());
    }
    times.sort();
    times[RUNS / 2].as_secs_f64() * 1000.0
}

/// Where a render's time goes: each read the dashboard makes, alone.
async fn parts(store: &SqliteStore, queue: &Path, now: i64) {
    let hour = now / 3600;
    let year = (hour / 24 - 364) * 24;
    let active = palisade_queue::Spool::active_dir(queue);
    let reads = [
        (
            "hours of 2 days",
            median_ms(|| async { store.hourly_counts(hour - 47, 1).await.map(drop).unwrap() })
                .await,
        ),
        (
            "days of a year",
            median_ms(|| async { store.hourly_counts(year, 24).await.map(drop).unwrap() }).await,
        ),
        (
            "top senders, 2 days",
            median_ms(|| async {
                store
                    .top_keys(Tally::RejectedSender, hour - 47, 10)
                    .await
                    .map(drop)
                    .unwrap()
            })
            .await,
        ),
        (
            "top senders, two weeks (a year's view)",
            median_ms(|| async {
                store
                    .top_keys(Tally::RejectedSender, year, 10)
                    .await
                    .map(drop)
                    .unwrap()
            })
            .await,
        ),
        (
            "queue records retrying",
            median_ms(|| async { store.queue_retrying().await.map(drop).unwrap() }).await,
        ),
        (
            "spool files",
            median_ms(|| async {
                assert!(std::fs::read_dir(&active).unwrap().count() > 0);
            })
            .await,
        ),
        (
            "bans",
            median_ms(|| async { store.list_bans(now).await.map(drop).unwrap() }).await,
        ),
    ];
    for (what, ms) in reads {
        println!("  {what}: median {ms:.1} ms");
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteStore::open(&dir.path().join("store.db"))
                .await
                .unwrap(),
        );
        let queue = dir.path().join("queue");
        let now = palisade_queue::now_secs();
        let t = Instant::now();
        seed(&store, &queue, now).await;
        println!("seeded in {:.1} s", t.elapsed().as_secs_f64());
        parts(&store, &queue, now).await;
        let state = state(store, &queue);
        for range in [Range::TwoDays, Range::Month, Range::Year] {
            let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
            let mut size = 0;
            for _ in 0..RUNS {
                let t = Instant::now();
                let html = render(&state, range, now).await.unwrap().into_string();
                times.push(t.elapsed());
                size = html.len();
            }
            times.sort();
            println!(
                "{range:?}: median {:.1} ms, slowest {:.1} ms ({} KiB of HTML)",
                times[RUNS / 2].as_secs_f64() * 1000.0,
                times[RUNS - 1].as_secs_f64() * 1000.0,
                size / 1024
            );
        }
    });
}
