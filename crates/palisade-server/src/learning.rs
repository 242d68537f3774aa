//! What people decide about their mail, for the per-site model (issue 16, item 4):
//! a decision as the store records it ([`lesson`]), and the phishing report address
//! (`[phishing] report_address`): a local user who forwards phishing there, as an
//! attachment (`message/rfc822`), teaches the model with a user's weight, at most
//! `reports_per_day` messages a day. Only mail submitted by an authenticated user
//! counts; anyone else's mail to the address is delivered, never learnt.

use crate::Shared;
use palisade_phish::Engine;
use palisade_phish::engine::Limits;
use palisade_phish::site::USER_WEIGHT;
use palisade_store::Lesson;
use palisade_types::MessageLabel;
use std::sync::Arc;
use std::time::Duration;

/// Messages read from one report, at most.
const MAX_PER_REPORT: usize = 10;

/// An engine that reads messages for the models: default settings, a generous time
/// limit (the same reading for every machine).
pub fn reader() -> Engine {
    Engine::new(&palisade_phish::Settings {
        limits: Limits {
            max_time: Duration::from_secs(3600),
            ..Limits::default()
        },
        ..palisade_phish::Settings::default()
    })
    .unwrap_or_else(|e| unreachable!("default settings: {e}"))
}

/// The content-model feature buckets of one message.
pub fn buckets(reader: &Engine, raw: &[u8]) -> Vec<u32> {
    palisade_phish::classifier::features(&reader.content(raw))
        .into_iter()
        .map(|(b, _)| b)
        .collect()
}

/// What names a message for the site model: its Message-ID and its body, neither of
/// which our own header fields change (SHA-256, hex).
pub fn digest(raw: &[u8]) -> String {
    let body = palisade_types::header_end(raw).map_or(raw, |i| &raw[i + 4..]);
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

/// `who`'s decision that `raw` is `label`, weighing `weight`.
pub fn lesson(reader: &Engine, raw: &[u8], label: MessageLabel, who: &str, weight: f64) -> Lesson {
    Lesson {
        digest: digest(raw),
        label,
        who: who.to_string(),
        weight,
        time: palisade_queue::now_secs(),
        buckets: buckets(reader, raw),
    }
}

/// The messages attached to a report (`message/rfc822` parts), at most
/// [`MAX_PER_REPORT`].
pub fn attached(report: &[u8]) -> Vec<Vec<u8>> {
    let Some(m) = mail_parser::MessageParser::new().parse(report) else {
        return Vec::new();
    };
    m.parts
        .iter()
        .filter_map(|p| match &p.body {
            mail_parser::PartType::Message(inner) => Some(inner.raw_message().to_vec()),
            _ => None,
        })
        .take(MAX_PER_REPORT)
        .collect()
}

/// Learns what `user` reported, off the message path (the report itself is delivered
/// to the address like any mail).
pub fn receive_report_in_background(shared: Arc<Shared>, user: String, report: Arc<Vec<u8>>) {
    tokio::spawn(async move {
        let limit = u64::from(shared.config().phishing.reports_per_day);
        let who = user.clone();
        let lessons = tokio::task::spawn_blocking(move || {
            let reader = reader();
            attached(&report)
                .iter()
                .map(|m| lesson(&reader, m, MessageLabel::Phish, &who, USER_WEIGHT))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        if lessons.is_empty() {
            tracing::info!(
                user,
                "phishing report without an attached message: nothing learnt"
            );
        }
        let since = palisade_queue::now_secs() - 86_400;
        for l in lessons {
            match shared.store.lessons_since(&user, since).await {
                Ok(n) if n >= limit => {
                    tracing::warn!(
                        user,
                        limit,
                        "daily limit of phishing reports reached: the rest is not learnt"
                    );
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot count phishing reports");
                    return;
                }
            }
            match shared.store.learn(&l).await {
                Ok(true) => tracing::info!(user, "reported phishing learnt"),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot record a phishing report"),
            }
        }
    });
}
