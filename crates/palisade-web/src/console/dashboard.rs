//! Administration: the dashboard. Messages in and out, deliveries, verdicts and
//! refusals over the last two days (hourly), 30 or 365 days (daily), drawn from the
//! hourly counts every node adds to the store; the queue and the bans as they are now.

use super::chart::{self, Series};
use super::pages::{self, layout, page};
use super::session::Admin;
use crate::WebState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use palisade_store::dashboard::HOURS_KEPT;
use palisade_store::{HourlyCount, StoreError, Tally};
use palisade_types::calendar::civil_from_days;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The periods the dashboard shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum Range {
    #[default]
    #[serde(rename = "2d")]
    TwoDays,
    #[serde(rename = "30d")]
    Month,
    #[serde(rename = "365d")]
    Year,
}

impl Range {
    const ALL: [Range; 3] = [Range::TwoDays, Range::Month, Range::Year];

    fn param(self) -> &'static str {
        match self {
            Range::TwoDays => "2d",
            Range::Month => "30d",
            Range::Year => "365d",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Range::TwoDays => "Last 48 hours",
            Range::Month => "30 days",
            Range::Year => "365 days",
        }
    }

    /// (hours a bucket, buckets).
    fn buckets(self) -> (i64, i64) {
        match self {
            Range::TwoDays => (1, 48),
            Range::Month => (24, 30),
            Range::Year => (24, 365),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RangeQuery {
    #[serde(default)]
    range: Range,
}

/// The counts of one range, bucketed.
struct Window {
    /// The first hour of each bucket, oldest first.
    starts: Vec<i64>,
    bucket: i64,
    rows: Vec<HourlyCount>,
}

impl Window {
    /// The values of `tally` (and `key`, when given) per bucket.
    fn series(&self, tally: Tally, key: Option<&str>) -> Vec<u64> {
        let mut v = vec![0u64; self.starts.len()];
        let first = self.starts.first().copied().unwrap_or(0);
        for r in self.rows.iter().filter(|r| r.tally == tally) {
            if key.is_some_and(|k| k != r.key) {
                continue;
            }
            let i = (r.hour - first) / self.bucket;
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| v.get_mut(i)) {
                *slot += u64::try_from(r.count).unwrap_or(0);
            }
        }
        v
    }

    fn total(&self, tally: Tally) -> u64 {
        self.series(tally, None).iter().sum()
    }

    /// `tally`'s keys with their totals, largest first.
    fn by_key(&self, tally: Tally) -> Vec<(String, u64)> {
        let mut m: BTreeMap<&str, u64> = BTreeMap::new();
        for r in self.rows.iter().filter(|r| r.tally == tally) {
            *m.entry(&r.key).or_default() += u64::try_from(r.count).unwrap_or(0);
        }
        let mut v: Vec<(String, u64)> = m.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    fn labels(&self) -> Vec<String> {
        self.starts
            .iter()
            .map(|&h| {
                let (y, m, d) = civil_from_days(h.div_euclid(24));
                match self.bucket {
                    1 => format!("{m:02}-{d:02} {:02}h", h.rem_euclid(24)),
                    _ => format!("{y}-{m:02}-{d:02}"),
                }
            })
            .collect()
    }
}

/// The first hour of `range`'s first bucket, as of `now` (a day's first hour for the
/// daily ranges).
fn first_hour(range: Range, now: i64) -> i64 {
    let (bucket, n) = range.buckets();
    let last = now.div_euclid(3600).div_euclid(bucket) * bucket;
    last - (n - 1) * bucket
}

async fn window(state: &WebState, range: Range, now: i64) -> Result<Window, StoreError> {
    let (bucket, n) = range.buckets();
    let first = first_hour(range, now);
    let rows = state.store.hourly_counts(first, bucket).await?;
    let starts = (0..n).map(|i| first + i * bucket).collect();
    Ok(Window {
        starts,
        bucket,
        rows,
    })
}

/// The queue now: messages waiting, and those of them waiting for a retry.
async fn queue_now(state: &WebState) -> Result<(usize, usize), StoreError> {
    let dir = palisade_queue::Spool::active_dir(&state.queue_dir);
    let waiting = tokio::task::spawn_blocking(move || {
        std::fs::read_dir(dir).map_or(0, |d| d.filter(Result::is_ok).count())
    })
    .await
    .unwrap_or(0);
    let retrying = usize::try_from(state.store.queue_retrying().await?).unwrap_or(usize::MAX);
    Ok((waiting, retrying.min(waiting)))
}

fn cards(items: &[(&str, String)]) -> Markup {
    html! {
        div.cards { @for (label, n) in items { div { span.n { (n) } (label) } } }
    }
}

fn key_table(caption: &str, what: &str, rows: &[(String, u64)]) -> Markup {
    let total: u64 = rows.iter().map(|r| r.1).sum();
    html! {
        @if rows.is_empty() { p { (caption) ": none." } } @else {
            div.scroll { table {
                caption { (caption) }
                thead { tr { th { (what) } th { "Count" } th { "Share" } } }
                tbody { @for (k, n) in rows {
                    tr { td { (k) } td { (n) }
                        td { (format!("{:.1} %", 100.0 * *n as f64 / total.max(1) as f64)) } }
                } }
            } }
        }
    }
}

fn senders_caption(range: Range) -> &'static str {
    match range {
        Range::TwoDays => "Senders refused most",
        _ => "Senders refused most (the last two weeks at most)",
    }
}

fn range_links(current: Range) -> Markup {
    html! {
        nav.ranges aria-label="Period" {
            @for r in Range::ALL {
                @if r == current { strong aria-current="page" { (r.label()) } }
                @else { a href={ "/admin?range=" (r.param()) } { (r.label()) } }
                " "
            }
        }
    }
}

fn charts(w: &Window) -> Markup {
    let labels = w.labels();
    let messages = [
        Series {
            name: "received",
            values: w.series(Tally::Received, None),
        },
        Series {
            name: "sent",
            values: w.series(Tally::Sent, None),
        },
    ];
    let deliveries = [
        Series {
            name: "delivered",
            values: w.series(Tally::Delivered, None),
        },
        Series {
            name: "deferred",
            values: w.series(Tally::Deferred, None),
        },
        Series {
            name: "bounced",
            values: w.series(Tally::Bounced, None),
        },
    ];
    html! {
        (chart::stacked("Messages accepted", &labels, &messages))
        (chart::stacked("Delivery attempts", &labels, &deliveries))
    }
}

pub async fn show(
    State(state): State<Arc<WebState>>,
    Admin(who): Admin,
    Query(q): Query<RangeQuery>,
) -> Response {
    match render(&state, q.range, super::now()).await {
        Ok(body) => page(StatusCode::OK, layout("Dashboard", Some(&who), body)),
        Err(e) => pages::unavailable(e),
    }
}

/// The dashboard's content for `range` as of `now`.
pub async fn render(state: &WebState, range: Range, now: i64) -> Result<Markup, StoreError> {
    // Independent reads, asked at once (the store has several reading connections).
    let first = first_hour(range, now);
    // Sender domains are kept by the hour, for two weeks.
    let senders_since = first.max(now.div_euclid(3600) - HOURS_KEPT);
    let (w, queue, bans, senders) = tokio::join!(
        window(state, range, now),
        queue_now(state),
        state.store.list_bans(now),
        state
            .store
            .top_keys(Tally::RejectedSender, senders_since, 10),
    );
    let (w, (waiting, retrying), bans) = (w?, queue?, bans?.len());
    let senders: Vec<(String, u64)> = senders?
        .into_iter()
        .map(|(k, n)| (k, u64::try_from(n).unwrap_or(0)))
        .collect();
    let mut verdicts: Vec<(String, u64)> = w
        .by_key(Tally::SenderVerdict)
        .into_iter()
        .map(|(k, n)| (format!("sender authentication: {k}"), n))
        .collect();
    verdicts.extend(
        w.by_key(Tally::PhishVerdict)
            .into_iter()
            .map(|(k, n)| (format!("phishing engine: {k}"), n)),
    );
    Ok(html! {
        (range_links(range))
        (cards(&[
            ("in the queue", waiting.to_string()),
            ("waiting for a retry", retrying.to_string()),
            ("addresses banned now", bans.to_string()),
            ("received", w.total(Tally::Received).to_string()),
            ("sent", w.total(Tally::Sent).to_string()),
            ("quarantined", w.total(Tally::Quarantined).to_string()),
            ("refused", w.total(Tally::Rejected).to_string()),
            ("failed logins", w.total(Tally::LoginFailed).to_string()),
        ]))
        (charts(&w))
        h2 { "Verdicts" }
        (key_table("Verdicts on received mail", "Verdict", &verdicts))
        h2 { "Refusals" }
        (key_table("Refusals by reason", "Reason", &w.by_key(Tally::Rejected)))
        (key_table(senders_caption(range), "Sender domain", &senders))
    })
}
