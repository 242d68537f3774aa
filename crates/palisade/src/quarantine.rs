//! `palisade quarantine list|show|release|delete`: messages held by DMARC `p=quarantine`,
//! by the phishing engine, or submitted by an account that looks compromised. The reason
//! is the message's `X-Palisade-Quarantine` field; `[phishing] quarantine_retention_days`
//! deletes old ones. Release delivers without scanning again.
//!
//! Held messages live in the store (any node sharing it lists and releases them): a
//! server commits one to its spool's `queue/quarantine/` and moves it into the store
//! within a second, and these commands move what a stopped server left there first.
//! Release queues the message on this node (`palisade_server::quarantine::release`); a
//! running server's scheduler picks it up within a second, a stopped one at its next
//! start.

use crate::cli::QuarantineCommand;
use crate::commands::{Paths, parse_queue_id};
use crate::usage;
use palisade_server::quarantine::{envelope_field, message_of, move_to_store};
use palisade_store::{HeldMessage, Store};
use palisade_types::{MessageLabel, QueueId};

/// Held messages `list` shows at most (the newest).
const MAX_LISTED: u32 = 10_000;

/// The administrator's decision about a held message, for the per-site model.
async fn learn(store: &dyn Store, raw: &[u8], label: MessageLabel) -> anyhow::Result<()> {
    let lesson = crate::learn::lesson(&palisade_server::learning::reader(), raw, label);
    store.learn(&lesson).await?;
    println!("the site model learns it as {}", label.name());
    Ok(())
}

async fn held(store: &dyn Store, id: &str) -> anyhow::Result<(QueueId, HeldMessage)> {
    let id = parse_queue_id(id)?;
    let m = store.held(id).await?;
    let m = m.ok_or_else(|| usage(format!("no message {id} in the quarantine")))?;
    Ok((id, m))
}

/// The header section of a held spool file's message.
fn header_section(file: &[u8]) -> String {
    let msg = message_of(file);
    let end = palisade_types::header_end(msg).unwrap_or(msg.len());
    String::from_utf8_lossy(&msg[..end]).into_owned()
}

pub async fn run(paths: &Paths, c: QuarantineCommand) -> anyhow::Result<()> {
    let qdir = palisade_server::queue_dir(&paths.data);
    let store = paths.store().await?;
    let node = paths.load_config_or_default()?.node_id;
    move_to_store(&qdir, &*store, &node).await?;
    match c {
        QuarantineCommand::List => {
            let all = store.list_held(MAX_LISTED).await?;
            println!("{:<16}  {:>9}  {:<30}  REASON", "ID", "SIZE", "FROM");
            for m in all.iter().rev() {
                println!(
                    "{:<16}  {:>9}  {:<30}  {}",
                    m.id, m.size, m.sender, m.reason
                );
            }
            println!("{} message(s)", all.len());
        }
        QuarantineCommand::Show { id } => {
            let (id, m) = held(&*store, &id).await?;
            let file = store.held_file(id).await?.unwrap_or_default();
            let head = header_section(&file);
            println!(
                "id: {id}\narrived: {}\nnode: {}\nfrom: {}\nclient: {} ({})\nreason: {}",
                crate::security::when(m.arrived),
                m.node,
                m.sender,
                envelope_field(&file, "ip").unwrap_or("-"),
                envelope_field(&file, "helo").unwrap_or("-"),
                m.reason
            );
            for r in &m.recipients {
                println!("rcpt: {r}");
            }
            println!("\n{head}");
        }
        QuarantineCommand::Release { id } => {
            let id = parse_queue_id(&id)?;
            let Some(raw) = palisade_server::quarantine::release(&qdir, &*store, id).await? else {
                return Err(usage(format!("no message {id} in the quarantine")));
            };
            println!("{id} released for delivery");
            // Only a release that happened is a decision.
            learn(&*store, &raw, MessageLabel::Ham).await?;
        }
        QuarantineCommand::Delete { id, phish, spam } => {
            let (id, _) = held(&*store, &id).await?;
            let label = match (phish, spam) {
                (true, _) => Some(MessageLabel::Phish),
                (_, true) => Some(MessageLabel::Spam),
                _ => None,
            };
            if let Some(label) = label {
                let file = store.held_file(id).await?.unwrap_or_default();
                learn(&*store, message_of(&file), label).await?;
            }
            store.remove_held(id).await?;
            println!("deleted {id}");
        }
    }
    Ok(())
}
