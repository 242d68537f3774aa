//! TLS-RPT (RFC 8460): outbound TLS results, counted per policy domain, MX, policy type
//! and result per day, and reported daily (JSON, gzip, with mail-auth's model and
//! writer) to the `rua` of `_smtp._tls.<domain>`: mailto destinations get a queued,
//! DKIM-signed message, https destinations a POST.

use mail_auth::report::tlsrpt::{
    DateRange, FailureDetails, Policy, PolicyDetails, PolicyType, ResultType, Summary, TlsReport,
};
use palisade_config::Config;
use palisade_delivery::remote::TlsOutcome;
use palisade_dns::Dns;
use palisade_store::{Store, StoreError, TlsResultRow};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

const DAY: i64 = 86_400;

/// Batches outcomes into the store (one writer task, like the DMARC recorder).
pub fn recorder(store: Arc<dyn Store>) -> palisade_delivery::remote::TlsObserver {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<TlsOutcome>(10_000);
    tokio::spawn(async move {
        let mut batch = Vec::new();
        while rx.recv_many(&mut batch, 512).await > 0 {
            let day = palisade_queue::now_secs() / DAY;
            let rows: Vec<TlsResultRow> = batch
                .drain(..)
                .map(|o| TlsResultRow {
                    domain: o.domain,
                    day,
                    policy_type: o.policy_type.to_string(),
                    mx: o.mx,
                    result: o.result.to_string(),
                    count: 1,
                })
                .collect();
            if let Err(e) = store.record_tls_results(&rows).await {
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "cannot record TLS results"
                );
            }
        }
    });
    Arc::new(move |o| {
        let _ = tx.try_send(o);
    })
}

fn result_type(s: &str) -> ResultType {
    match s {
        "starttls-not-supported" => ResultType::StartTlsNotSupported,
        "certificate-host-mismatch" => ResultType::CertificateHostMismatch,
        "certificate-expired" => ResultType::CertificateExpired,
        "certificate-not-trusted" => ResultType::CertificateNotTrusted,
        "tlsa-invalid" => ResultType::TlsaInvalid,
        "validation-failure" => ResultType::ValidationFailure,
        _ => ResultType::Other,
    }
}

fn policy_type(s: &str) -> PolicyType {
    match s {
        "sts" => PolicyType::Sts,
        "tlsa" => PolicyType::Tlsa,
        _ => PolicyType::NoPolicyFound,
    }
}

/// The report for one domain's rows.
pub fn build(domain: &str, rows: &[TlsResultRow], cfg: &Config, report_id: &str) -> TlsReport {
    let begin = rows.iter().map(|r| r.day).min().unwrap_or(0) * DAY;
    let end = (rows.iter().map(|r| r.day).max().unwrap_or(0) + 1) * DAY;
    let mut policies: BTreeMap<&str, Policy> = BTreeMap::new();
    for r in rows {
        let p = policies
            .entry(r.policy_type.as_str())
            .or_insert_with(|| Policy {
                policy: PolicyDetails::new(policy_type(&r.policy_type), domain),
                summary: Summary {
                    total_success: 0,
                    total_failure: 0,
                },
                failure_details: Vec::new(),
            });
        if !p.policy.mx_host.contains(&r.mx) {
            p.policy.mx_host.push(r.mx.clone());
        }
        let n = u32::try_from(r.count).unwrap_or(u32::MAX);
        if r.result == "success" {
            p.summary.total_success = p.summary.total_success.saturating_add(n);
        } else {
            p.summary.total_failure = p.summary.total_failure.saturating_add(n);
            let mut f = FailureDetails::new(result_type(&r.result))
                .with_receiving_mx_hostname(r.mx.clone());
            f.failed_session_count = n;
            p.failure_details.push(f);
        }
    }
    TlsReport {
        organization_name: Some(cfg.reports.org_name.clone()),
        date_range: DateRange::from_timestamps(begin, end),
        contact_info: Some(cfg.reports.dmarc_from.to_string()),
        report_id: report_id.to_string(),
        policies: policies.into_values().collect(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("queueing the TLS report for {domain}")]
    Queue {
        domain: String,
        source: palisade_queue::SpoolError,
    },
}

/// The rua URIs of `_smtp._tls.<domain>` (RFC 8460 §3), empty when none.
async fn rua(dns: &Dns, domain: &str) -> Vec<String> {
    let Ok(records) = dns.txt(&format!("_smtp._tls.{domain}")).await else {
        return Vec::new();
    };
    records
        .iter()
        .filter(|r| r.trim_start().starts_with("v=TLSRPTv1"))
        .flat_map(|r| {
            r.split(';')
                .filter_map(|t| t.trim().strip_prefix("rua="))
                .flat_map(|v| v.split(',').map(|u| u.trim().to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Reports every complete day recorded before `now` (and, with `include_today`, today).
pub async fn send(
    store: &dyn Store,
    dns: &Dns,
    cfg: &Config,
    outbox: &crate::outbox::Outbox<'_>,
    now: i64,
    include_today: bool,
) -> Result<Vec<(String, Vec<String>)>, TlsReportError> {
    let before = now / DAY + i64::from(include_today);
    let rows = store.take_tls_results(before).await?;
    let mut by_domain: BTreeMap<String, Vec<TlsResultRow>> = BTreeMap::new();
    for r in rows {
        by_domain.entry(r.domain.clone()).or_default().push(r);
    }
    let mut sent = Vec::new();
    for (domain, rows) in by_domain {
        let destinations = rua(dns, &domain).await;
        if destinations.is_empty() {
            continue;
        }
        let id = format!("{}.{}.{}", domain, now, palisade_types::QueueId::generate());
        let report = build(&domain, &rows, cfg, &id);
        let mut done = Vec::new();
        let mailto: Vec<&str> = destinations
            .iter()
            .filter_map(|d| d.strip_prefix("mailto:"))
            .collect();
        if !mailto.is_empty() {
            let from = cfg.reports.dmarc_from.to_string();
            match report.to_rfc5322(
                &domain,
                cfg.hostname.as_str(),
                from.as_str(),
                mailto.iter().copied(),
            ) {
                Ok(message) => {
                    // RFC 8460 §5.3: reports are delivered despite TLS failures (they
                    // are what tells the domain about them); RFC 8689 §5's
                    // `TLS-Required: No` asks our delivery to set the recipient's TLS
                    // policy aside for this one message.
                    let mut bytes = b"TLS-Required: No\r\n".to_vec();
                    bytes.extend_from_slice(message.as_bytes());
                    let envelope = crate::outbox::report_envelope(cfg, mailto.iter().copied());
                    outbox.send(&envelope, &bytes).await.map_err(|source| {
                        TlsReportError::Queue {
                            domain: domain.clone(),
                            source,
                        }
                    })?;
                    done.extend(mailto.iter().map(|m| format!("mailto:{m}")));
                }
                Err(e) => tracing::error!(error = %e, "building TLS report"),
            }
        }
        for url in destinations.iter().filter(|d| d.starts_with("https://")) {
            if post(url, &report).await {
                done.push(url.clone());
            }
        }
        sent.push((domain, done));
    }
    Ok(sent)
}

/// RFC 8460 §3: POST the gzip'd JSON as application/tlsrpt+gzip.
async fn post(url: &str, report: &TlsReport) -> bool {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    if gz.write_all(report.to_json().as_bytes()).is_err() {
        return false;
    }
    let Ok(body) = gz.finish() else { return false };
    let Ok(client) = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()
    else {
        return false;
    };
    match client
        .post(url)
        .header("Content-Type", "application/tlsrpt+gzip")
        .body(body)
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => true,
        Ok(r) => {
            tracing::warn!(url, status = %r.status(), "TLS report refused");
            false
        }
        Err(e) => {
            tracing::warn!(url, error = %e, "TLS report POST failed");
            false
        }
    }
}
