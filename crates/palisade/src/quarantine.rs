//! `palisade quarantine list|show|release|delete`: messages held by DMARC `p=quarantine`,
//! by the phishing engine, or submitted by an account that looks compromised. The reason
//! is the message's `X-Palisade-Quarantine` field; `[phishing] quarantine_retention_days`
//! deletes old ones. Release delivers without scanning again.
//!
//! Quarantined messages are ordinary spool files in `queue/quarantine/`, committed with
//! the same fsync discipline as the queue. Release moves one into `queue/active/` (then
//! fsyncs the directory) and marks it due now; a running server's scheduler picks it
//! up within a second, a stopped one at its next start.

use crate::cli::QuarantineCommand;
use crate::commands::{Paths, parse_queue_id};
use crate::usage;
use palisade_queue::{Spool, SpooledMessage};
use palisade_store::Store;
use palisade_types::{MessageLabel, QueueId};
use std::path::PathBuf;

fn path(paths: &Paths, id: QueueId) -> PathBuf {
    Spool::quarantine_dir(&palisade_server::queue_dir(&paths.data)).join(id.to_string())
}

fn open(paths: &Paths, id: &str) -> anyhow::Result<(QueueId, SpooledMessage)> {
    let id = parse_queue_id(id)?;
    let m = SpooledMessage::open(&path(paths, id), id)
        .map_err(|_| usage(format!("no message {id} in the quarantine")))?;
    Ok((id, m))
}

/// The quarantine reason recorded in the message's `X-Palisade-Quarantine` field.
fn reason(head: &str) -> String {
    head.lines()
        .find_map(|l| l.strip_prefix("X-Palisade-Quarantine: "))
        .unwrap_or("-")
        .to_string()
}

fn header_section(m: &SpooledMessage) -> anyhow::Result<String> {
    let msg = m.read_message()?;
    let end = palisade_types::header_end(&msg).unwrap_or(msg.len());
    Ok(String::from_utf8_lossy(&msg[..end]).into_owned())
}

/// The administrator's decision about a held message, for the per-site model.
async fn learn(store: &dyn Store, raw: &[u8], label: MessageLabel) -> anyhow::Result<()> {
    let lesson = crate::learn::lesson(&palisade_server::learning::reader(), raw, label);
    store.learn(&lesson).await?;
    println!("the site model learns it as {}", label.name());
    Ok(())
}

pub async fn run(paths: &Paths, c: QuarantineCommand) -> anyhow::Result<()> {
    let qdir = palisade_server::queue_dir(&paths.data);
    match c {
        QuarantineCommand::List => {
            let ids = Spool::list_quarantine(&qdir)?;
            println!("{:<16}  {:>9}  {:<30}  REASON", "ID", "SIZE", "FROM");
            for id in &ids {
                let Ok(m) = SpooledMessage::open(&path(paths, *id), *id) else {
                    continue;
                };
                let why = header_section(&m).map(|h| reason(&h)).unwrap_or_default();
                println!(
                    "{:<16}  {:>9}  {:<30}  {}",
                    id,
                    m.size,
                    m.envelope.return_path(),
                    why
                );
            }
            println!("{} message(s)", ids.len());
        }
        QuarantineCommand::Show { id } => {
            let (id, m) = open(paths, &id)?;
            let head = header_section(&m)?;
            println!(
                "id: {id}\narrived: {}\nfrom: {}\nclient: {} ({})\nreason: {}",
                crate::security::when(m.arrived),
                m.envelope.return_path(),
                m.envelope.client_ip,
                m.envelope.helo,
                reason(&head)
            );
            for r in &m.envelope.rcpt_to {
                println!("rcpt: {r}");
            }
            println!("\n{head}");
        }
        QuarantineCommand::Release { id } => {
            let (id, m) = open(paths, &id)?;
            // Read before it moves: the running server may deliver it at once.
            let raw = m.read_message()?;
            let store = paths.store().await?;
            let qdir = palisade_server::queue_dir(&paths.data);
            palisade_queue::activate(&qdir, &*store, id, &path(paths, id)).await?;
            println!("{id} released for delivery");
            // Only a release that happened is a decision.
            learn(&*store, &raw, MessageLabel::Ham).await?;
        }
        QuarantineCommand::Delete { id, phish, spam } => {
            let (id, m) = open(paths, &id)?;
            let label = match (phish, spam) {
                (true, _) => Some(MessageLabel::Phish),
                (_, true) => Some(MessageLabel::Spam),
                _ => None,
            };
            if let Some(label) = label {
                learn(&*paths.store().await?, &m.read_message()?, label).await?;
            }
            std::fs::remove_file(path(paths, id))?;
            println!("deleted {id}");
        }
    }
    Ok(())
}
