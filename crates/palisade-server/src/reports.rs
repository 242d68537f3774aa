//! DMARC aggregate reports (RFC 7489 §7.2): recording our evaluations, sending reports
//! built from them, and storing the reports other domains send us.
//!
//! Sending: evaluations are grouped per reporting domain; each group becomes one report
//! (mail-auth's model and XML/gzip/RFC 5322 writer) to the `rua` mailto: addresses that
//! pass the external-destination check (RFC 7489 §7.1) and whose size limit (`!10m`)
//! the report fits. Each report message is DKIM-signed and queued for delivery like
//! any other mail ([`Outbox`]); once it is on disk its evaluations are forgotten.

use crate::outbox::Outbox;
use palisade_checks::dmarc_report::{self, DmarcRow};
use palisade_config::Config;
use palisade_dns::Dns;
use palisade_store::{DmarcEvaluation, ReceivedReport, Store, StoreError};
use palisade_types::QueueId;

/// Evaluations read per report run (older ones wait for the next run).
const MAX_EVALUATIONS: u32 = 200_000;
/// Largest received report message we parse.
pub const MAX_RECEIVED_REPORT: usize = 10 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("building the report for {domain}")]
    Build {
        domain: String,
        source: std::io::Error,
    },
    #[error("queueing the report for {domain}")]
    Queue {
        domain: String,
        source: palisade_queue::SpoolError,
    },
    #[error("not a DMARC aggregate report: {0}")]
    NotAReport(String),
}

/// One report written.
#[derive(Debug, Clone)]
pub struct Sent {
    pub domain: String,
    /// The queued report message.
    pub queued: Option<QueueId>,
    pub messages: u64,
    pub to: Vec<String>,
    /// Why nothing was queued, when `queued` is `None`.
    pub skipped: Option<String>,
    /// Nothing was sent and the evaluations are kept for the next run.
    pub retry: bool,
}

/// Queues evaluations for the store: written in batches by [`recorder`], so the end of
/// a message never waits on a database transaction. Evaluations still queued when the
/// process dies are lost; a report then undercounts, which RFC 7489 reports tolerate.
#[derive(Clone)]
pub struct Recorder(tokio::sync::mpsc::Sender<DmarcEvaluation>);

/// Evaluations waiting to be written; past this, new ones are dropped (and logged).
const RECORDER_QUEUE: usize = 10_000;

impl Recorder {
    pub fn record(&self, row: &DmarcRow, time: i64) {
        let Some(document) = serde_json_string(row) else {
            return;
        };
        let e = DmarcEvaluation {
            id: 0,
            time,
            domain: row.domain.clone(),
            document,
        };
        if self.0.try_send(e).is_err() {
            tracing::warn!("DMARC evaluation queue full; evaluation not recorded");
        }
    }
}

/// Starts the batch writer.
pub fn recorder(store: std::sync::Arc<dyn Store>) -> Recorder {
    let (tx, mut rx) = tokio::sync::mpsc::channel(RECORDER_QUEUE);
    tokio::spawn(async move {
        let mut batch = Vec::new();
        while rx.recv_many(&mut batch, 512).await > 0 {
            if let Err(e) = store.record_dmarc_evaluations(&batch).await {
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    count = batch.len(),
                    "cannot record DMARC evaluations"
                );
            }
            batch.clear();
        }
    });
    Recorder(tx)
}

fn serde_json_string<T: serde::Serialize>(v: &T) -> Option<String> {
    serde_json::to_string(v)
        .map_err(|e| tracing::error!(error = %e, "serialising a DMARC document"))
        .ok()
}

/// Builds and queues every pending report. `now` is seconds since the epoch.
pub async fn send_dmarc_reports(
    store: &dyn Store,
    dns: &Dns,
    cfg: &Config,
    outbox: &Outbox<'_>,
    now: i64,
) -> Result<Vec<Sent>, ReportError> {
    let pending = store.pending_dmarc_evaluations(MAX_EVALUATIONS).await?;
    let mut by_domain: std::collections::BTreeMap<String, Vec<DmarcEvaluation>> =
        Default::default();
    for e in pending {
        by_domain.entry(e.domain.clone()).or_default().push(e);
    }
    let mut sent = Vec::new();
    for (domain, evaluations) in by_domain {
        // One report per published destination set: a subdomain with its own record and
        // rua gets its own report (RFC 7489 §7.2).
        let mut by_rua: std::collections::BTreeMap<String, (Vec<i64>, i64, Vec<DmarcRow>)> =
            Default::default();
        let mut unreadable = Vec::new();
        for e in &evaluations {
            match serde_json::from_str::<DmarcRow>(&e.document) {
                Ok(row) => {
                    let key = format!("{:?}", row.rua);
                    let entry = by_rua
                        .entry(key)
                        .or_insert((Vec::new(), e.time, Vec::new()));
                    entry.0.push(e.id);
                    entry.1 = entry.1.min(e.time);
                    entry.2.push(row);
                }
                Err(_) => unreadable.push(e.id),
            }
        }
        if !unreadable.is_empty() {
            store.remove_dmarc_evaluations(&unreadable).await?;
        }
        for (_, (ids, begin, rows)) in by_rua {
            match send_one(dns, cfg, outbox, &domain, &rows, begin, now).await {
                Ok(outcome) => {
                    if outcome.retry {
                        // A DNS failure checking destinations: keep the rows for next time.
                        sent.push(outcome);
                        continue;
                    }
                    store.remove_dmarc_evaluations(&ids).await?;
                    sent.push(outcome);
                }
                Err(e) => {
                    tracing::error!(domain = %domain, error = &e as &dyn std::error::Error, "DMARC report");
                    sent.push(Sent {
                        domain: domain.clone(),
                        queued: None,
                        messages: rows.len() as u64,
                        to: Vec::new(),
                        skipped: Some(e.to_string()),
                        retry: true,
                    });
                }
            }
        }
    }
    Ok(sent)
}

async fn send_one(
    dns: &Dns,
    cfg: &Config,
    outbox: &Outbox<'_>,
    domain: &str,
    rows: &[DmarcRow],
    begin: i64,
    end: i64,
) -> Result<Sent, ReportError> {
    let messages = rows
        .iter()
        .map(|r| u64::from(r.record.row.count.max(1)))
        .sum();
    let mut out = Sent {
        domain: domain.to_string(),
        queued: None,
        messages,
        to: Vec::new(),
        skipped: None,
        retry: false,
    };
    let Some(latest) = rows.last() else {
        out.skipped = Some("no readable evaluations".into());
        return Ok(out);
    };
    // mailto: only (RFC 7489 §6.2); mail-auth keeps the address without the scheme.
    let candidates: Vec<(String, usize)> = latest
        .rua
        .iter()
        .filter_map(|(uri, max)| {
            let addr = uri.strip_prefix("mailto:").unwrap_or(uri);
            (addr.contains('@') && !addr.contains(':')).then(|| (addr.to_string(), *max))
        })
        .collect();
    let addresses: Vec<String> = candidates.iter().map(|(a, _)| a.clone()).collect();
    let authorised: Vec<String> = match dns
        .authenticator()
        .verify_dmarc_report_address(domain, &addresses, Some(dns.caches().txt))
        .await
    {
        Some(ok) => ok.into_iter().cloned().collect(),
        None => {
            // A DNS failure: RFC 7489 §7.1 says never send unverified; try again later.
            out.skipped =
                Some("DNS failure verifying the report destinations; kept for the next run".into());
            out.retry = true;
            return Ok(out);
        }
    };
    let report_id = format!("{}.{}.{}", domain, end, palisade_types::QueueId::generate());
    let Some(report) = dmarc_report::aggregate(
        rows,
        &cfg.reports.org_name,
        &cfg.reports.dmarc_from.to_string(),
        &report_id,
        u64::try_from(begin).unwrap_or(0),
        u64::try_from(end).unwrap_or(0),
    ) else {
        out.skipped = Some("no records".into());
        return Ok(out);
    };
    let build = |to: &[String]| {
        report
            .to_rfc5322(
                cfg.hostname.as_str(),
                cfg.reports.dmarc_from.to_string().as_str(),
                to.iter().map(String::as_str),
            )
            .map_err(|source| ReportError::Build {
                domain: domain.to_string(),
                source,
            })
    };
    // RFC 7489 §7.2.1.1: never exceed a destination's size limit.
    let size = build(&authorised)?.len();
    let to: Vec<String> = candidates
        .iter()
        .filter(|(a, max)| authorised.contains(a) && (*max == 0 || size <= *max))
        .map(|(a, _)| a.clone())
        .collect();
    if to.is_empty() {
        out.skipped = Some(if authorised.is_empty() {
            "no rua destination is authorised (RFC 7489 §7.1)".into()
        } else {
            format!("report of {size} octets exceeds every destination's limit")
        });
        return Ok(out);
    }
    let message = build(&to)?;
    let envelope = crate::outbox::report_envelope(cfg, to.iter().map(String::as_str));
    let id = outbox
        .send(&envelope, message.as_bytes())
        .await
        .map_err(|e| ReportError::Queue {
            domain: domain.to_string(),
            source: e,
        })?;
    out.queued = Some(id);
    out.to = to;
    Ok(out)
}

/// Reports parsed at once (gunzip and XML parsing are CPU work, on the blocking pool).
static RECEIVING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Parses and stores, in the background, a report that arrived at our report address.
pub fn receive_in_background(
    shared: std::sync::Arc<crate::Shared>,
    message: std::sync::Arc<Vec<u8>>,
) {
    tokio::spawn(async move {
        let Ok(_permit) = RECEIVING.acquire().await else {
            return;
        };
        let parsed = tokio::task::spawn_blocking(move || {
            mail_auth::report::Report::parse_rfc5322(&message, MAX_RECEIVED_REPORT)
        })
        .await;
        let report = match parsed {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::info!(error = ?e, "message to the DMARC report address is not a report");
                return;
            }
            Err(_) => return,
        };
        // Only reports about our own domains are of interest (anyone can send one).
        let about = report.domain().trim_end_matches('.').to_ascii_lowercase();
        let ours = match palisade_types::Domain::parse(&about) {
            Ok(d) => shared
                .lookups
                .is_local_domain(shared.store.as_ref(), &d)
                .await
                .unwrap_or(false),
            Err(_) => false,
        };
        if !ours {
            tracing::info!(domain = %about, "DMARC report about a domain that is not ours: ignored");
            return;
        }
        match store_report(shared.store.as_ref(), &report, palisade_queue::now_secs()).await {
            Ok(r) => tracing::info!(org = %r.org_name, domain = %r.domain, "DMARC report stored"),
            Err(e) => tracing::warn!(error = %e, "cannot store DMARC report"),
        }
    });
}

/// Parses and stores a report another domain sent us. Duplicates are not an error.
pub async fn receive_dmarc_report(
    store: &dyn Store,
    message: &[u8],
    now: i64,
) -> Result<ReceivedReport, ReportError> {
    let report = mail_auth::report::Report::parse_rfc5322(message, MAX_RECEIVED_REPORT)
        .map_err(|e| ReportError::NotAReport(format!("{e:?}")))?;
    store_report(store, &report, now).await
}

async fn store_report(
    store: &dyn Store,
    report: &mail_auth::report::Report,
    now: i64,
) -> Result<ReceivedReport, ReportError> {
    let r = ReceivedReport {
        org_name: report.org_name().to_string(),
        report_id: report.report_id().to_string(),
        domain: report.domain().to_ascii_lowercase(),
        received: now,
        begin: i64::try_from(report.date_range_begin()).unwrap_or(0),
        end: i64::try_from(report.date_range_end()).unwrap_or(0),
        document: serde_json::to_string(report)
            .map_err(|e| ReportError::NotAReport(e.to_string()))?,
    };
    match store.add_dmarc_report(&r).await {
        Ok(()) | Err(StoreError::AlreadyExists { .. }) => Ok(r),
        Err(e) => Err(e.into()),
    }
}
