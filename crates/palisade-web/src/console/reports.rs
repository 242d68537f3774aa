//! Administration: reports. DMARC aggregate reports others sent about our domains
//! (pass and fail per day, a chart, and per reporting organisation and source
//! address); the TLS results of our own outbound delivery (TLS-RPT, RFC 8460) of the
//! last 30 days; and the `audit domain` report of any domain, rendered in the page.

use super::chart::{self, Series};
use super::domains::checks;
use super::pages::{self, layout, notice, page};
use super::session::Admin;
use crate::WebState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use palisade_checks::dmarc_received::{self, Summary, Tallies};
use palisade_store::TlsResultRow;
use palisade_types::Domain;
use palisade_types::calendar::civil_from_days;
use serde::Deserialize;
use std::sync::Arc;

/// Source rows shown at once (the most messages first).
const SOURCES_SHOWN: usize = 200;
/// Days of TLS results shown.
const TLS_DAYS: i64 = 30;
/// Days the DMARC chart covers at most.
const CHART_DAYS: i64 = 365;

fn day_label(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y}-{m:02}-{d:02}")
}

fn rate(t: &Tallies) -> String {
    format!("{:.1} %", t.pass_rate())
}

/// Reporting organisations shown by name at most; the rest are counted.
const REPORTERS_SHOWN: usize = 10;
/// TLS result rows shown at most (the newest days first).
const TLS_SHOWN: usize = 500;

fn reporters(all: &std::collections::BTreeSet<String>) -> String {
    let mut names: Vec<&str> = all
        .iter()
        .take(REPORTERS_SHOWN)
        .map(String::as_str)
        .collect();
    let more = all.len().saturating_sub(REPORTERS_SHOWN);
    let tail = format!("and {more} more");
    if more > 0 {
        names.push(&tail);
    }
    names.join(", ")
}

fn domains_table(s: &Summary) -> Markup {
    html! { div.scroll { table {
        caption { "Reported domains" }
        thead { tr { th { "Domain" } th { "Reports" } th { "Reporters" } th { "Messages" }
            th { "Passed" } th { "Quarantined" } th { "Rejected" } } }
        tbody { @for (d, x) in &s.domains { tr {
            td { a href={ "/admin/reports?domain=" (d) } { (d) } } td { (x.reports) }
            td { (reporters(&x.reporters)) }
            td { (x.tallies.messages) } td { (rate(&x.tallies)) }
            td { (x.tallies.quarantined) } td { (x.tallies.rejected) }
        } } }
    } } }
}

fn sources_table(s: &Summary) -> Markup {
    let mut rows: Vec<_> = s.sources.iter().collect();
    rows.sort_by(|a, b| b.1.messages.cmp(&a.1.messages).then_with(|| a.0.cmp(b.0)));
    html! { div.scroll { table {
        caption { "By reporting organisation and source address" }
        thead { tr { th { "Organisation" } th { "Source" } th { "Messages" } th { "Passed" }
            th { "Failed" } th { "Pass rate" } } }
        tbody { @for ((org, ip), t) in rows.into_iter().take(SOURCES_SHOWN) { tr {
            td { (org) } td { a href={ "/admin/reports?source=" (ip) } { (ip) } } td { (t.messages) } td { (t.passed) }
            td { (t.failed()) } td { (rate(t)) }
        } } }
    } } }
}

/// The days the chart shows: those reported, within the last [`CHART_DAYS`] up to
/// `today` (a report's dates are the sender's word: one dated in the year 3000 or
/// 1970 must not make the chart millions of days wide).
fn chart_days(s: &Summary, today: i64) -> Vec<i64> {
    let (Some(&first), Some(&last)) = (s.days.keys().next(), s.days.keys().next_back()) else {
        return Vec::new();
    };
    let last = last.min(today);
    let first = first.max(last - (CHART_DAYS - 1));
    (first..=last).collect()
}

fn dmarc(s: &Summary, today: i64) -> Markup {
    let days = chart_days(s, today);
    let values = |f: fn(&Tallies) -> u64| -> Vec<u64> {
        days.iter().map(|d| s.days.get(d).map_or(0, f)).collect()
    };
    let series = [
        Series {
            name: "passed DMARC",
            values: values(|t| t.passed),
        },
        Series {
            name: "failed DMARC",
            values: values(Tallies::failed),
        },
    ];
    let labels: Vec<String> = days.iter().map(|&d| day_label(d)).collect();
    html! {
        @if s.domains.is_empty() {
            p { "No DMARC reports received yet. Receivers send them to the address of the \
                 rua= tag of each domain's _dmarc record." }
        } @else {
            (domains_table(s))
            (chart::stacked("Messages reported per day", &labels, &series))
            (sources_table(s))
        }
    }
}

fn tls(rows: &[TlsResultRow]) -> Markup {
    html! {
        @if rows.is_empty() { p { "No outbound TLS results in the last " (TLS_DAYS) " days." } }
        @else { div.scroll { table {
            caption { "Our outbound TLS, per receiving domain and host (what we report to them)" }
            thead { tr { th { "Day" } th { "Domain" } th { "Policy" } th { "Host" }
                th { "Result" } th { "Sessions" } } }
            tbody { @for r in rows.iter().take(TLS_SHOWN) {
                @let class = if r.result == "success" { "good" } else { "wrong" };
                tr { td { (day_label(r.day)) } td { (r.domain) } td { (r.policy_type) }
                    td { (r.mx) } td { span class={ "state " (class) } { (r.result) } }
                    td { (r.count) } }
            } }
        } } }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    domain: String,
    /// One source address: its pass and fail over time.
    #[serde(default)]
    source: String,
}

pub async fn show(
    State(state): State<Arc<WebState>>,
    Admin(who): Admin,
    Query(q): Query<ReportQuery>,
) -> Response {
    let domain = Some(q.domain.trim()).filter(|d| !d.is_empty());
    let source: Option<std::net::IpAddr> = q.source.trim().parse().ok();
    let reports = match state.store.list_dmarc_reports(domain).await {
        Ok(r) => r,
        Err(e) => return pages::unavailable(e),
    };
    // Parsing every stored report is CPU work: off the runtime's threads.
    let summary =
        tokio::task::spawn_blocking(move || dmarc_received::summarise_source(&reports, source))
            .await
            .unwrap_or_default();
    let today = super::now().div_euclid(86_400);
    let since = today - TLS_DAYS;
    let tls_rows = match state.store.tls_results(since).await {
        Ok(r) => r,
        Err(e) => return pages::unavailable(e),
    };
    let body = html! {
        h2 { "DMARC aggregate reports" @if let Some(d) = domain { " about " (d) }
            @if let Some(s) = source { " from " (s) } }
        @if domain.is_some() || source.is_some() { p { a href="/admin/reports" { "All reports" } } }
        (dmarc(&summary, today))
        h2 { "TLS results (TLS-RPT)" }
        (tls(&tls_rows))
        h2 { "Audit a domain" }
        (pages::search("/admin/reports/audit", "Domain to audit", ""))
    };
    page(StatusCode::OK, layout("Reports", Some(&who), body))
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    q: String,
}

pub async fn audit(
    State(state): State<Arc<WebState>>,
    Admin(who): Admin,
    Query(q): Query<AuditQuery>,
) -> Response {
    let form = pages::search("/admin/reports/audit", "Domain to audit", &q.q);
    let body = match Domain::parse(q.q.trim()) {
        Err(_) => html! { (notice(false, "That is not a domain name.")) (form) },
        Ok(d) => match state.doctor.audit(&d).await {
            Ok(a) => html! {
                (form)
                p.score { "Score " strong { (a.score) " / 100" } " (grade " (a.grade) ")" }
                ul { @for (c, n) in &a.categories { li { (c) ": " (n) } } }
                (checks(&a.findings))
            },
            Err(_) => html! { (notice(false, "The audit could not run now.")) (form) },
        },
    };
    page(StatusCode::OK, layout("Domain audit", Some(&who), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(days: &[i64]) -> Summary {
        let mut s = Summary::default();
        for &d in days {
            s.days.insert(d, Tallies::default());
        }
        s
    }

    #[test]
    fn the_chart_spans_the_reported_days() {
        assert_eq!(chart_days(&summary(&[10, 12]), 100), [10, 11, 12]);
        assert!(chart_days(&summary(&[]), 100).is_empty());
    }

    /// Report dates come from the network: a far past or future one bounds nothing.
    #[test]
    fn hostile_report_dates_keep_the_chart_small() {
        let s = summary(&[0, 20_000, i64::MAX / 86_400]);
        let days = chart_days(&s, 20_000);
        assert_eq!(days.len(), CHART_DAYS as usize);
        assert_eq!(days.last(), Some(&20_000));
        let future = summary(&[i64::MAX / 86_400]);
        assert!(
            chart_days(&future, 20_000).is_empty(),
            "nothing reported up to today"
        );
    }
}
