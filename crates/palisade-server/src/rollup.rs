//! The dashboard's hourly counts. [`Recorder`] receives every `metrics` counter the
//! server increments (beside the Prometheus exporter, through a fan-out) and keeps the
//! ones the dashboard shows in memory; [`flush_loop`] adds them to the store once a
//! minute under this node's name, so a cluster has one dashboard. Refusals are also
//! counted by sender domain ([`rejected_sender`]), within a bound.

use palisade_store::dashboard::{DAYS_KEPT, HOURS_KEPT};
use palisade_store::{HourlyCount, Store, Tally};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock};

/// Distinct sender domains counted in an hour (they come from the network); more are
/// counted as one.
const MAX_SENDERS: usize = 100;
/// The key of the senders beyond [`MAX_SENDERS`].
const OTHER_SENDERS: &str = "(others)";

type Slot = (Tally, String);

/// The counts since the last flush.
#[derive(Default)]
pub struct Rollup {
    slots: RwLock<HashMap<Slot, Arc<AtomicU64>>>,
    senders: Mutex<Senders>,
}

/// Refusals by sender domain: the counts since the last flush, and the domains given a
/// row of their own this hour (at most [`MAX_SENDERS`]).
#[derive(Default)]
struct Senders {
    hour: i64,
    named: HashSet<String>,
    counts: HashMap<String, u64>,
}

static ROLLUP: LazyLock<Rollup> = LazyLock::new(Rollup::default);

/// Which tally a counter feeds, if any (`labels` as the counter carries them).
fn tally_of(name: &str, label: impl Fn(&str) -> Option<String>) -> Option<Slot> {
    let plain = |t: Tally| Some((t, String::new()));
    match name {
        "palisade_messages_accepted_total" => match label("direction").as_deref() {
            Some("outbound") => plain(Tally::Sent),
            _ => plain(Tally::Received),
        },
        "palisade_messages_rejected_total" => Some((Tally::Rejected, label("reason")?)),
        "palisade_messages_quarantined_total" => plain(Tally::Quarantined),
        "palisade_deliveries_total" => match label("outcome")?.as_str() {
            "delivered" => plain(Tally::Delivered),
            "failed" => plain(Tally::Bounced),
            "deferred" => plain(Tally::Deferred),
            _ => None,
        },
        "palisade_sender_verdicts_total" => Some((Tally::SenderVerdict, label("verdict")?)),
        "palisade_phishing_verdicts_total" if label("direction").as_deref() == Some("inbound") => {
            Some((Tally::PhishVerdict, label("action")?))
        }
        "palisade_bans_total" => plain(Tally::Banned),
        "palisade_auth_total" if label("result").as_deref() == Some("failed") => {
            plain(Tally::LoginFailed)
        }
        _ => None,
    }
}

impl Rollup {
    fn slot(&self, s: Slot) -> Arc<AtomicU64> {
        let read = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(a) = read.get(&s) {
            return a.clone();
        }
        drop(read);
        let mut write = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        write.entry(s).or_default().clone()
    }

    fn rejected_sender(&self, key: String, hour: i64) {
        let mut s = self.senders.lock().unwrap_or_else(PoisonError::into_inner);
        if s.hour != hour {
            s.hour = hour;
            s.named.clear();
        }
        let key = if s.named.contains(&key) || s.named.len() < MAX_SENDERS {
            s.named.insert(key.clone());
            key
        } else {
            OTHER_SENDERS.to_string()
        };
        *s.counts.entry(key).or_default() += 1;
    }

    /// Takes the counts so far, as rows of `hour`.
    fn drain(&self, hour: i64) -> Vec<HourlyCount> {
        let row = |(tally, key): Slot, count: u64| HourlyCount {
            hour,
            tally,
            key,
            count: i64::try_from(count).unwrap_or(i64::MAX),
        };
        let mut rows: Vec<HourlyCount> = {
            let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
            slots
                .iter()
                .map(|(s, n)| (s.clone(), n.swap(0, Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .map(|(s, n)| row(s, n))
                .collect()
        };
        let senders = std::mem::take(
            &mut self
                .senders
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .counts,
        );
        rows.extend(
            senders
                .into_iter()
                .map(|(k, n)| row((Tally::RejectedSender, k), n)),
        );
        rows
    }

    /// Gives back counts a flush could not store (they go with the next one).
    fn restore(&self, rows: Vec<HourlyCount>) {
        for r in rows {
            let n = u64::try_from(r.count).unwrap_or(0);
            match r.tally {
                Tally::RejectedSender => {
                    let mut s = self.senders.lock().unwrap_or_else(PoisonError::into_inner);
                    *s.counts.entry(r.key).or_default() += n;
                }
                t => {
                    self.slot((t, r.key)).fetch_add(n, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Counts a refused message by its sender's domain (`<>` for the null reverse-path,
/// with the client's address).
pub fn rejected_sender(mail_from: Option<&palisade_types::Address>, client: IpAddr) {
    let key = match mail_from {
        Some(a) => a.domain().to_string(),
        None => format!("<> from {client}"),
    };
    ROLLUP.rejected_sender(key, palisade_queue::now_secs().div_euclid(3600));
}

/// The `metrics` recorder that feeds the rollup: counters only.
pub struct Recorder;

impl metrics::Recorder for Recorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        let label = |name: &str| {
            key.labels()
                .find(|l| l.key() == name)
                .map(|l| l.value().to_string())
        };
        match tally_of(key.name(), label) {
            Some(slot) => metrics::Counter::from_arc(ROLLUP.slot(slot)),
            None => metrics::Counter::noop(),
        }
    }

    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }

    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

/// Adds the counts so far to the store under `node`; on failure they are kept for the
/// next flush.
pub async fn flush(store: &dyn Store, node: &str, now: i64) {
    let rows = ROLLUP.drain(now.div_euclid(3600));
    if rows.is_empty() {
        return;
    }
    if let Err(e) = store.add_hourly_counts(node, &rows).await {
        tracing::warn!(
            error = &e as &dyn std::error::Error,
            "dashboard counts kept for later"
        );
        ROLLUP.restore(rows);
    }
}

/// Flushes every `web.dashboard_flush_secs` (read anew each round), and forgets counts
/// older than [`HOURS_KEPT`] and [`DAYS_KEPT`] once an hour.
pub async fn flush_loop(shared: Arc<crate::Shared>) {
    let mut last_prune = 0;
    loop {
        tokio::time::sleep(shared.config().dashboard_flush).await;
        let now = palisade_queue::now_secs();
        let node = shared.config().node_id.clone();
        flush(shared.store.as_ref(), &node, now).await;
        let hour = now.div_euclid(3600);
        if hour != last_prune {
            last_prune = hour;
            let day = hour.div_euclid(24);
            let pruned = shared
                .store
                .prune_counts(hour - HOURS_KEPT, day - DAYS_KEPT);
            if let Err(e) = pruned.await {
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "pruning dashboard counts"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels<'a>(l: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |n| l.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())
    }

    #[test]
    fn counters_map_to_tallies() {
        let t = |name, l: &[(&str, &str)]| tally_of(name, labels(l));
        let accepted = "palisade_messages_accepted_total";
        assert_eq!(t(accepted, &[]), Some((Tally::Received, String::new())));
        let out = t(accepted, &[("direction", "outbound")]);
        assert_eq!(out, Some((Tally::Sent, String::new())));
        let deferred = t("palisade_deliveries_total", &[("outcome", "deferred")]);
        assert_eq!(deferred, Some((Tally::Deferred, String::new())));
        let phish = "palisade_phishing_verdicts_total";
        assert_eq!(
            t(phish, &[("direction", "outbound"), ("action", "reject")]),
            None
        );
        let reason = t("palisade_messages_rejected_total", &[("reason", "banned")]);
        assert_eq!(reason, Some((Tally::Rejected, "banned".to_string())));
        assert_eq!(t("palisade_connections_total", &[]), None);
    }

    #[test]
    fn drained_counts_restart_from_zero_and_senders_are_bounded() {
        let r = Rollup::default();
        r.slot((Tally::Received, String::new()))
            .fetch_add(3, Ordering::Relaxed);
        for i in 0..MAX_SENDERS + 10 {
            r.rejected_sender(format!("d{i}.test"), 7);
        }
        let rows = r.drain(7);
        let received = rows.iter().find(|x| x.tally == Tally::Received);
        assert_eq!(received.map(|x| (x.hour, x.count)), Some((7, 3)));
        let senders = rows.iter().filter(|x| x.tally == Tally::RejectedSender);
        assert_eq!(senders.clone().count(), MAX_SENDERS + 1);
        let others = senders.clone().find(|x| x.key == OTHER_SENDERS);
        assert_eq!(others.map(|x| x.count), Some(10));
        r.restore(rows);
        assert_eq!(
            r.drain(8).len(),
            MAX_SENDERS + 2,
            "restored for the next flush"
        );
        assert!(r.drain(9).is_empty());
    }
}
