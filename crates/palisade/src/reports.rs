//! `palisade reports dmarc send|list|import`.

use crate::cli::DmarcReportsCommand;
use crate::commands::Paths;
use crate::usage;
use mail_auth::report::{ActionDisposition, DmarcResult, Report};
use palisade_dns::Dns;
use palisade_store::Store;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

/// Per reported domain: reports, sources, messages and how many passed DMARC.
#[derive(Default)]
struct Summary {
    reports: usize,
    reporters: BTreeSet<String>,
    sources: BTreeSet<String>,
    messages: u64,
    passed: u64,
    rejected: u64,
    quarantined: u64,
}

pub async fn run(paths: &Paths, c: DmarcReportsCommand) -> anyhow::Result<()> {
    let store = paths.store().await?;
    match c {
        DmarcReportsCommand::Send => {
            let cfg = paths.load_config_or_default()?;
            let dns = Dns::new(&palisade_server::dns_settings(&cfg))?;
            let queue_dir = palisade_server::queue_dir(&paths.data);
            let outbox = palisade_server::outbox::Outbox::Offline {
                queue_dir: &queue_dir,
                store: &store,
            };
            let sent = palisade_server::reports::send_dmarc_reports(
                &store,
                &dns,
                &cfg,
                &outbox,
                palisade_queue::now_secs(),
            )
            .await?;
            if sent.is_empty() {
                println!("no DMARC evaluations to report");
            }
            for s in sent {
                match (&s.queued, &s.skipped) {
                    (Some(id), _) => println!(
                        "{}: {} message(s) reported to {} (queued as {id})",
                        s.domain,
                        s.messages,
                        s.to.join(", "),
                    ),
                    (None, why) => println!(
                        "{}: {} message(s) not reported: {}",
                        s.domain,
                        s.messages,
                        why.as_deref().unwrap_or("-")
                    ),
                }
            }
        }
        DmarcReportsCommand::Import { file } => {
            let mut raw = Vec::new();
            let read = if file.as_os_str() == "-" {
                std::io::stdin().read_to_end(&mut raw).map(|_| ())
            } else {
                std::fs::File::open(&file).and_then(|mut f| f.read_to_end(&mut raw).map(|_| ()))
            };
            read.map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
            let r = palisade_server::reports::receive_dmarc_report(
                &store,
                &raw,
                palisade_queue::now_secs(),
            )
            .await
            .map_err(|e| usage(format!("{}: {e}", file.display())))?;
            println!(
                "stored report {} from {} about {}",
                r.report_id, r.org_name, r.domain
            );
        }
        DmarcReportsCommand::List { domain, json } => {
            let reports = store.list_dmarc_reports(domain.as_deref()).await?;
            let mut by_domain: BTreeMap<String, Summary> = BTreeMap::new();
            for r in &reports {
                let Ok(report) = serde_json::from_str::<Report>(&r.document) else {
                    continue;
                };
                let s = by_domain.entry(r.domain.clone()).or_default();
                s.reports += 1;
                s.reporters.insert(r.org_name.clone());
                for rec in report.records() {
                    let n = u64::from(rec.count());
                    s.messages += n;
                    if let Some(ip) = rec.source_ip() {
                        s.sources.insert(ip.to_string());
                    }
                    if rec.dmarc_dkim_result() == DmarcResult::Pass
                        || rec.dmarc_spf_result() == DmarcResult::Pass
                    {
                        s.passed += n;
                    }
                    match rec.action_disposition() {
                        ActionDisposition::Reject => s.rejected += n,
                        ActionDisposition::Quarantine => s.quarantined += n,
                        _ => {}
                    }
                }
            }
            let rate = |s: &Summary| {
                if s.messages == 0 {
                    0.0
                } else {
                    100.0 * s.passed as f64 / s.messages as f64
                }
            };
            if json {
                let v: Vec<_> = by_domain
                    .iter()
                    .map(|(d, s)| {
                        json!({
                            "domain": d, "reports": s.reports,
                            "reporters": s.reporters, "sources": s.sources,
                            "messages": s.messages, "passed": s.passed,
                            "pass_rate": rate(s), "quarantined": s.quarantined,
                            "rejected": s.rejected,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(v));
                return Ok(());
            }
            println!(
                "{:<28} {:>7} {:>8} {:>9} {:>9}  REPORTERS",
                "DOMAIN", "REPORTS", "SOURCES", "MESSAGES", "PASS"
            );
            for (d, s) in &by_domain {
                println!(
                    "{:<28} {:>7} {:>8} {:>9} {:>8.1}%  {}",
                    d,
                    s.reports,
                    s.sources.len(),
                    s.messages,
                    rate(s),
                    s.reporters.iter().cloned().collect::<Vec<_>>().join(", ")
                );
            }
        }
    }
    Ok(())
}

/// `palisade reports tls send`.
pub async fn send_tls(paths: &Paths) -> anyhow::Result<()> {
    let store = paths.store().await?;
    let cfg = paths.load_config_or_default()?;
    let dns = Dns::new(&palisade_server::dns_settings(&cfg))?;
    let queue_dir = palisade_server::queue_dir(&paths.data);
    let outbox = palisade_server::outbox::Outbox::Offline {
        queue_dir: &queue_dir,
        store: &store,
    };
    let sent = palisade_server::tlsrpt::send(
        &store,
        &dns,
        &cfg,
        &outbox,
        palisade_queue::now_secs(),
        true,
    )
    .await?;
    if sent.is_empty() {
        println!("no TLS results to report");
    }
    for (domain, to) in sent {
        if to.is_empty() {
            println!("{domain}: no destination took the report");
        } else {
            println!("{domain}: reported to {}", to.join(", "));
        }
    }
    Ok(())
}
