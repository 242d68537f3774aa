//! `palisade reports dmarc send|list|import`.

use crate::cli::DmarcReportsCommand;
use crate::commands::Paths;
use crate::usage;
use palisade_checks::dmarc_received;
use palisade_dns::Dns;
use serde_json::json;
use std::io::Read;

fn list(summary: &dmarc_received::Summary, json: bool) {
    if json {
        let v: Vec<_> = summary
            .domains
            .iter()
            .map(|(d, s)| {
                let t = &s.tallies;
                json!({
                    "domain": d, "reports": s.reports,
                    "reporters": s.reporters, "sources": s.sources,
                    "messages": t.messages, "passed": t.passed,
                    "pass_rate": t.pass_rate(), "quarantined": t.quarantined,
                    "rejected": t.rejected,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return;
    }
    println!(
        "{:<28} {:>7} {:>8} {:>9} {:>9}  REPORTERS",
        "DOMAIN", "REPORTS", "SOURCES", "MESSAGES", "PASS"
    );
    for (d, s) in &summary.domains {
        println!(
            "{:<28} {:>7} {:>8} {:>9} {:>8.1}%  {}",
            d,
            s.reports,
            s.sources.len(),
            s.tallies.messages,
            s.tallies.pass_rate(),
            s.reporters.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
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
                store: &*store,
            };
            let sent = palisade_server::reports::send_dmarc_reports(
                &*store,
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
                &*store,
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
            list(&dmarc_received::summarise(&reports), json);
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
        store: &*store,
    };
    let sent = palisade_server::tlsrpt::send(
        &*store,
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
