//! `palisade learn ham|phish|spam PATH...`: an administrator's decisions about mail, in
//! bulk (files, or directories of them such as a Maildir folder), for the per-site model
//! (`palisade_phish::site`) every node reads from the store. The quarantine teaches it
//! too: `release` says legitimate, `delete --phish` / `--spam` say what it was.
//!
//! One decision per message (by the SHA-256 of its Message-ID and body, so our own
//! header fields do not make a copy a new message): learning a message again under
//! another label takes the old decision back.

use crate::audit_corpus::{messages, read_if_message};
use crate::usage;
use palisade_phish::Engine;
use palisade_phish::site::ADMIN_WEIGHT;
use palisade_server::learning::reader;
use palisade_store::{Lesson, Store};
use palisade_types::MessageLabel;
use std::path::PathBuf;

/// Who an administrator's decisions are recorded as.
pub const ADMIN: &str = "admin";

/// The decision about `raw`, as an administrator's.
pub fn lesson(reader: &Engine, raw: &[u8], label: MessageLabel) -> Lesson {
    palisade_server::learning::lesson(reader, raw, label, ADMIN, ADMIN_WEIGHT)
}

/// Every file under `paths` (directories walked, like `audit corpus`).
fn files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            out.extend(messages(p)?.into_iter().map(|(_, f)| f));
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(usage(format!("{}: no such file or directory", p.display())));
        }
    }
    Ok(out)
}

pub async fn run(store: &dyn Store, label: &str, paths: &[PathBuf]) -> anyhow::Result<()> {
    let label = MessageLabel::parse(label)
        .ok_or_else(|| usage(format!("{label:?}: expected ham, phish or spam")))?;
    let reader = reader();
    let (mut learned, mut known, mut skipped) = (0, 0, 0);
    for file in files(paths)? {
        let Some(raw) = read_if_message(&file)? else {
            skipped += 1;
            continue;
        };
        if store.learn(&lesson(&reader, &raw, label)).await? {
            learned += 1;
        } else {
            known += 1;
        }
    }
    println!(
        "learned {learned} message(s) as {} ({known} already learnt so, {skipped} not messages)",
        label.name()
    );
    Ok(())
}
