//! `palisade learn ham|phish|spam PATH...`: an administrator's decisions about mail, in
//! bulk (files, or directories of them such as a Maildir folder), for the per-site model
//! (`palisade_phish::site`) every node reads from the store. The quarantine teaches it
//! too: `release` says legitimate, `delete --phish` / `--spam` say what it was.
//!
//! One decision per message (by the SHA-256 of its Message-ID and body, so our own
//! header fields do not make a copy a new message): learning a message again under
//! another label takes the old decision back.

use crate::audit_corpus::{MAX_FILE, buckets, messages, reader};
use crate::usage;
use palisade_phish::Engine;
use palisade_phish::site::ADMIN_WEIGHT;
use palisade_store::{Lesson, Store};
use palisade_types::MessageLabel;
use std::path::PathBuf;

/// Who an administrator's decisions are recorded as.
pub const ADMIN: &str = "admin";

/// What names a message for the site model: its Message-ID and its body, neither of
/// which our own header fields change (SHA-256, hex).
fn digest(raw: &[u8]) -> String {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n");
    let body = split.map_or(raw, |i| &raw[i + 4..]);
    let id = mail_parser::MessageParser::new()
        .parse_headers(raw)
        .and_then(|m| m.message_id().map(str::to_string))
        .unwrap_or_default();
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(id.as_bytes());
    ctx.update(&[0]);
    ctx.update(body);
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The decision about `raw`, as an administrator's.
pub fn lesson(reader: &Engine, raw: &[u8], label: MessageLabel) -> Lesson {
    Lesson {
        digest: digest(raw),
        label,
        who: ADMIN.into(),
        weight: ADMIN_WEIGHT,
        time: palisade_queue::now_secs(),
        buckets: buckets(reader, raw),
    }
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
        let raw = if std::fs::metadata(&file)?.len() > MAX_FILE {
            None
        } else {
            Some(crate::audit::read_message(&file)?).filter(|r| palisade_checks::is_message(r))
        };
        let Some(raw) = raw else {
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
